//! One PostgreSQL listener per server feeding job events to every WebSocket: a broadcast
//! channel of bounded size, so a slow subscriber misses events (and re-reads the status)
//! instead of growing memory.

use sqlx::PgPool;
use tokio::sync::broadcast;

use crate::store::job_events::{self, JobEvent};
use crate::store::notifications;

/// Events buffered for the slowest subscriber before it lags.
pub const BUFFERED_EVENTS: usize = 1024;

/// Forwards every job event to `sender` until the process ends, reconnecting after a lost
/// connection.
pub async fn forward(pool: PgPool, sender: broadcast::Sender<JobEvent>) {
    let each = |event| {
        // No subscriber is fine: nobody is watching.
        let _ = sender.send(event);
    };
    notifications::follow(&pool, job_events::CHANNEL, each, || {}).await
}
