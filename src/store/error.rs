//! The errors every store function returns, worded for the person who gave the input.

use crate::security::CryptoError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{entity} {id} does not exist")]
    NotFound { entity: &'static str, id: i64 },
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("stored credentials are unreadable: {0}")]
    CorruptCredentials(String),
    #[error("rows could not be written as JSON: {0}")]
    Encode(#[from] serde_json::Error),
    #[error("a saved load batch has rows for table '{0}', which no source registers")]
    UnknownLoadTable(String),
    #[error("database error")]
    Database(#[from] sqlx::Error),
}

/// SQLSTATE codes this crate reacts to.
pub(crate) mod sqlstate {
    pub const UNIQUE_VIOLATION: &str = "23505";
    pub const DUPLICATE_DATABASE: &str = "42P04";
}

/// True when `error` came from the server with SQLSTATE `code`.
pub(crate) fn has_sqlstate(error: &sqlx::Error, code: &str) -> bool {
    error
        .as_database_error()
        .and_then(|db| db.code())
        .is_some_and(|actual| actual == code)
}

/// True when `error` is a unique-key violation (the caller words the clash).
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    has_sqlstate(error, sqlstate::UNIQUE_VIOLATION)
}
