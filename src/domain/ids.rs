//! Typed ids: a tenant id cannot be passed where an integration id is expected. Each is an
//! `i64` in the database (`BIGINT`), in JSON and on the command line.

use std::fmt;
use std::num::ParseIntError;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

macro_rules! typed_id {
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, sqlx::Type,
            utoipa::ToSchema,
        )]
        #[serde(transparent)]
        #[sqlx(transparent)]
        pub struct $name(pub i64);

        impl $name {
            /// The bare number (for messages and SQL text).
            pub fn get(self) -> i64 {
                self.0
            }
        }

        /// The bare number, as log lines and error texts show it.
        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = ParseIntError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                text.parse().map($name)
            }
        }
    };
}

typed_id!(
    /// A tenant: the organisation whose data it is.
    TenantId
);
typed_id!(
    /// A tenant's connection to one source.
    IntegrationId
);
typed_id!(
    /// A sync job (`etl_jobs`).
    JobId
);
typed_id!(
    /// A stored source answer (`raw_extraction_data`).
    RawId
);
typed_id!(
    /// A saved batch of transformed rows (`load_batches`).
    LoadBatchId
);

/// One integration of one tenant: every query about an integration's data filters by both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IntegrationRef {
    pub tenant: TenantId,
    pub integration: IntegrationId,
}

impl IntegrationRef {
    pub fn new(tenant: TenantId, integration: IntegrationId) -> Self {
        IntegrationRef {
            tenant,
            integration,
        }
    }
}

/// Who extracted a batch: the scope every raw row carries.
#[derive(Debug, Clone, Copy)]
pub struct Scope {
    pub tenant_id: TenantId,
    pub integration_id: IntegrationId,
    pub job_id: Option<JobId>,
}

impl Scope {
    /// The work of no job (reprocess, recovery) on one integration.
    pub fn of(integration: IntegrationRef) -> Self {
        Scope {
            tenant_id: integration.tenant,
            integration_id: integration.integration,
            job_id: None,
        }
    }

    /// The tenant and integration.
    pub fn integration(&self) -> IntegrationRef {
        IntegrationRef::new(self.tenant_id, self.integration_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_bare_numbers_in_json_text_and_logs() {
        assert_eq!(serde_json::to_string(&TenantId(7)).unwrap(), "7");
        assert_eq!(
            serde_json::from_str::<Option<JobId>>("9").unwrap(),
            Some(JobId(9))
        );
        assert_eq!("42".parse::<IntegrationId>().unwrap(), IntegrationId(42));
        assert!("4x".parse::<RawId>().is_err());
        assert_eq!(
            format!("{} {:?}", LoadBatchId(3), Some(RawId(5))),
            "3 Some(5)"
        );
    }
}
