//! Who owns data and where it comes from: tenant tiers, source providers, user roles.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Defines a closed, lower-case string enum usable from clap, serde and SQL text columns.
macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum,
            utoipa::ToSchema,
        )]
        #[serde(rename_all = "lowercase")]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and displayed spelling.
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl TryFrom<String> for $name {
            type Error = UnknownValue;

            fn try_from(text: String) -> Result<Self, Self::Error> {
                text.parse()
            }
        }

        impl FromStr for $name {
            type Err = UnknownValue;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                match text {
                    $($text => Ok($name::$variant),)+
                    other => Err(UnknownValue {
                        kind: stringify!($name),
                        value: other.to_owned(),
                        expected: &[$($text),+],
                    }),
                }
            }
        }
    };
}

/// A text value that names no known variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} '{value}' (expected one of: {})", expected.join(", "))]
pub struct UnknownValue {
    kind: &'static str,
    value: String,
    expected: &'static [&'static str],
}

text_enum! {
    /// A tenant's service tier; it picks the queues the tenant's work runs on.
    Tier {
        Free => "free",
        Basic => "basic",
        Premium => "premium",
        Enterprise => "enterprise",
    }
}

text_enum! {
    /// A source system that an integration extracts from.
    Provider {
        Jira => "jira",
        Github => "github",
        /// Azure DevOps Services: Boards work items and Repos pull requests.
        #[serde(rename = "azure_devops")]
        #[value(name = "azure_devops")]
        AzureDevops => "azure_devops",
    }
}

text_enum! {
    /// Which of a source's APIs an integration reads.
    SourceApi {
        /// GitHub's GraphQL API: pull requests with their reviews, commits and comments a
        /// hundred at a time (the default).
        Graphql => "graphql",
        /// GitHub's REST API: three requests per pull request, for tokens without GraphQL
        /// access.
        Rest => "rest",
    }
}

text_enum! {
    /// What a user may do through the API.
    UserRole {
        /// Manages integrations, mappings and jobs.
        Admin => "admin",
        /// Reads data and job status.
        Viewer => "viewer",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_for_every_variant() {
        for tier in Tier::ALL {
            assert_eq!(tier.as_str().parse::<Tier>(), Ok(*tier));
        }
        for provider in Provider::ALL {
            assert_eq!(provider.to_string().parse::<Provider>(), Ok(*provider));
        }
        for role in UserRole::ALL {
            assert_eq!(role.as_str().parse::<UserRole>(), Ok(*role));
        }
    }

    #[test]
    fn unknown_text_names_the_choices() {
        let error = "gold".parse::<Tier>().unwrap_err();
        assert_eq!(
            error.to_string(),
            "unknown Tier 'gold' (expected one of: free, basic, premium, enterprise)"
        );
    }
}
