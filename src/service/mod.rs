//! Business operations shared by the CLI and the HTTP API: plain input structs, the checks
//! and rules, and one error type each front end maps to its own words (an `error:` line and
//! exit code; an HTTP status and JSON body).

pub mod api_tokens;
pub mod custom_fields;
pub mod data_quality;
pub mod dead_letters;
pub mod flow;
pub mod integrations;
pub mod jobs;
pub mod people;
pub mod prs;
pub mod queues;
pub mod raw_data;
pub mod reprocess;
pub mod search;
pub mod tenants;
pub mod users;
pub mod vectors;
pub mod webhooks;
pub mod work_items;
pub mod workflows;

use crate::domain::input::InvalidInput;
use crate::store::StoreError;

/// Why an operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The input cannot be accepted; `field` is named as in the API's JSON.
    #[error("{field}: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    /// No such thing — or it belongs to another tenant, which looks exactly the same.
    #[error("{entity} {id} does not exist")]
    NotFound { entity: &'static str, id: i64 },
    /// The same, for things named rather than numbered (a work item key).
    #[error("{entity} '{name}' does not exist")]
    NotFoundNamed { entity: &'static str, name: String },
    /// The request clashes with the current state (a duplicate name, a running job).
    #[error("{0}")]
    Conflict(String),
    /// The source (Jira, GitHub) could not be reached or refused; the text says how.
    #[error("the source failed: {0}")]
    Source(String),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// Something broke on our side; the cause is for logs, not for the caller.
    #[error(transparent)]
    Internal(anyhow::Error),
}

impl ServiceError {
    /// An internal failure with what was being done.
    pub fn internal(error: impl Into<anyhow::Error>, doing: &'static str) -> Self {
        ServiceError::Internal(error.into().context(doing))
    }
}

impl From<InvalidInput> for ServiceError {
    fn from(error: InvalidInput) -> Self {
        ServiceError::Invalid {
            field: error.field,
            message: error.message,
        }
    }
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::NotFound { entity, id } => ServiceError::NotFound { entity, id },
            StoreError::Conflict(message) => ServiceError::Conflict(message),
            other => ServiceError::Internal(other.into()),
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;
