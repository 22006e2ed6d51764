//! `sign_in_attempts`: sign-in attempts counted in PostgreSQL, so that every `serve`
//! replica counts against the same limits. An attempt is counted against all of its keys or
//! none, under row locks taken in key order: a burst spread over replicas meets the limits as
//! one sent in turn to one.

use std::time::Duration;

use sqlx::PgPool;

use super::error::StoreError;

/// One limit an attempt counts against.
#[derive(Debug, Clone, Copy)]
pub struct Limit {
    pub key: [u8; 32],
    /// Attempts allowed in one window.
    pub allowed: i32,
}

/// Counts an attempt against every limit, unless one is reached: then nothing is counted and
/// the answer is the seconds left in that limit's window.
pub async fn begin(
    pool: &PgPool,
    limits: &[Limit],
    window: Duration,
) -> Result<Result<(), u64>, StoreError> {
    let mut limits = limits.to_vec();
    limits.sort_by_key(|limit| limit.key);
    let window_secs = window.as_secs_f64();
    let mut tx = pool.begin().await?;
    let mut wait = None;
    for limit in &limits {
        // The key's row, locked; its window started anew when the last one ended.
        let (attempts, left_secs): (i32, f64) = sqlx::query_as(
            "INSERT INTO sign_in_attempts (key_sha256, attempts, window_started)
             VALUES ($1, 0, now())
             ON CONFLICT (key_sha256) DO UPDATE SET
                 attempts = CASE WHEN sign_in_attempts.window_started
                                      <= now() - make_interval(secs => $2)
                                 THEN 0 ELSE sign_in_attempts.attempts END,
                 window_started = CASE WHEN sign_in_attempts.window_started
                                            <= now() - make_interval(secs => $2)
                                       THEN now() ELSE sign_in_attempts.window_started END
             RETURNING attempts,
                 extract(epoch FROM window_started + make_interval(secs => $2) - now())::float8",
        )
        .bind(&limit.key[..])
        .bind(window_secs)
        .fetch_one(&mut *tx)
        .await?;
        if attempts >= limit.allowed {
            let left = left_secs.max(0.0) as u64 + 1;
            wait = wait.max(Some(left));
        }
    }
    if wait.is_none() {
        let keys: Vec<&[u8]> = limits.iter().map(|limit| &limit.key[..]).collect();
        sqlx::query(
            "UPDATE sign_in_attempts SET attempts = attempts + 1 WHERE key_sha256 = ANY($1)",
        )
        .bind(&keys)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    if fastrand::u8(..) == 0 {
        forget_ended(pool, window).await?;
    }
    Ok(wait.map_or(Ok(()), Err))
}

/// A successful sign-in: `forget`'s window is cleared and `give_back` returns this attempt.
pub async fn succeeded(
    pool: &PgPool,
    forget: &[u8; 32],
    give_back: &[u8; 32],
) -> Result<(), StoreError> {
    sqlx::query(
        "WITH forgotten AS (DELETE FROM sign_in_attempts WHERE key_sha256 = $1)
         UPDATE sign_in_attempts SET attempts = greatest(attempts - 1, 0) WHERE key_sha256 = $2",
    )
    .bind(&forget[..])
    .bind(&give_back[..])
    .execute(pool)
    .await?;
    Ok(())
}

/// Deletes the rows whose window ended (a new attempt starts them again).
async fn forget_ended(pool: &PgPool, window: Duration) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM sign_in_attempts WHERE window_started <= now() - make_interval(secs => $1)",
    )
    .bind(window.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(())
}
