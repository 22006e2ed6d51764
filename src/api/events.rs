//! One PostgreSQL listener per server feeding job events to every WebSocket: a broadcast
//! channel of bounded size, so a slow subscriber misses events (and re-reads the status)
//! instead of growing memory.

use std::time::Duration;

use sqlx::PgPool;
use tokio::sync::broadcast;

use crate::store::job_events::{JobEvent, JobEvents};

/// Events buffered for the slowest subscriber before it lags.
pub const BUFFERED_EVENTS: usize = 1024;

/// Forwards every job event to `sender` until the process ends, reconnecting after a lost
/// connection.
pub async fn forward(pool: PgPool, sender: broadcast::Sender<JobEvent>) {
    loop {
        match JobEvents::listen(&pool).await {
            Ok(mut events) => loop {
                match events.next().await {
                    Ok(event) => {
                        // No subscriber is fine: nobody is watching.
                        let _ = sender.send(event);
                    }
                    Err(error) => {
                        tracing::warn!(%error, "job event listener lost; reconnecting");
                        break;
                    }
                }
            },
            Err(error) => tracing::warn!(%error, "job event listener failed; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
