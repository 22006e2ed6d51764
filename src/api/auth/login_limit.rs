//! Sign-in attempts limited per (client address, account) and per client address in fixed
//! windows, counted in PostgreSQL so that every `serve` replica shares the limits. An attempt
//! is counted before its password is checked, so a burst sent at once meets the limit like
//! one sent in turn; a success takes its own attempt back and forgets the pair's failures.
//! Past a limit, sign-in answers 429 with the seconds left in the window, whatever the
//! password. Nothing is counted per account alone: a stranger's failures from elsewhere never
//! lock an account out.

use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::PgPool;

use crate::store::sign_in_attempts::{self, Limit};
use crate::store::StoreError;

/// Attempts allowed per (client address, account) in one window.
pub const PER_ACCOUNT: i32 = 5;
/// Attempts allowed per client address in one window, across accounts (several people may
/// share one address).
pub const PER_CLIENT: i32 = 20;
/// The window both limits count over.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);

/// An attempt counted against both limits; [`Attempt::succeeded`] takes it back.
#[must_use]
pub struct Attempt {
    pair: [u8; 32],
    client: [u8; 32],
}

/// Counts an attempt by `client` at `email`: the attempt, or the seconds to wait when a limit
/// is reached (nothing is counted then).
pub async fn begin(
    pool: &PgPool,
    email: &str,
    client: &str,
) -> Result<Result<Attempt, u64>, StoreError> {
    let attempt = Attempt {
        pair: key(&["pair", client, &email.trim().to_lowercase()]),
        client: key(&["client", client]),
    };
    let limits = [
        Limit {
            key: attempt.pair,
            allowed: PER_ACCOUNT,
        },
        Limit {
            key: attempt.client,
            allowed: PER_CLIENT,
        },
    ];
    Ok(sign_in_attempts::begin(pool, &limits, WINDOW)
        .await?
        .map(|()| attempt))
}

impl Attempt {
    /// The password was right: the pair's failures are forgotten and the client's count
    /// gives this attempt back.
    pub async fn succeeded(self, pool: &PgPool) -> Result<(), StoreError> {
        sign_in_attempts::succeeded(pool, &self.pair, &self.client).await
    }
}

/// The stored key of a limit: a digest, so no address or e-mail is kept.
fn key(parts: &[&str]) -> [u8; 32] {
    let mut digest = Sha256::new();
    for part in parts {
        digest.update(part.as_bytes());
        digest.update([0]);
    }
    digest.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_tell_pairs_clients_and_cases_apart() {
        assert_ne!(
            key(&["pair", "10.0.0.1", "a@x.io"]),
            key(&["pair", "10.0.0.2", "a@x.io"])
        );
        assert_ne!(
            key(&["pair", "10.0.0.1", "a@x.io"]),
            key(&["pair", "10.0.0.1", "b@x.io"])
        );
        assert_ne!(key(&["client", "10.0.0.1"]), key(&["pair", "10.0.0.1", ""]));
        // Parts are separated, so shifting text between them changes the key.
        assert_ne!(key(&["pair", "1", "2a"]), key(&["pair", "12", "a"]));
    }
}
