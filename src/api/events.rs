//! One PostgreSQL listener per server feeding job updates to every WebSocket: each job event
//! is read into the job's whole status once, here, whoever watches (not once per socket),
//! and broadcast on a channel of bounded size, so a slow subscriber misses updates (and
//! reads the statuses itself) instead of growing memory.

use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use crate::service::jobs;
use crate::store::job_events::{self, JobEvent};
use crate::store::notifications;

/// Events buffered for the slowest subscriber before it lags.
pub const BUFFERED_EVENTS: usize = 1024;

/// A job event with the job's status as it was read after it.
#[derive(Debug)]
pub struct JobUpdate {
    pub event: JobEvent,
    pub status: serde_json::Value,
}

/// Forwards every job event, with the job's status read once, to `updates` until the
/// process ends, reconnecting after a lost connection.
pub async fn forward(pool: PgPool, updates: broadcast::Sender<Arc<JobUpdate>>) {
    let (events, received) = broadcast::channel(BUFFERED_EVENTS);
    let reader = tokio::spawn(read_statuses(pool.clone(), received, updates));
    let each = |event| {
        let _ = events.send(event);
    };
    notifications::follow(&pool, job_events::CHANNEL, each, || {}).await;
    reader.abort();
}

/// Reads each event's job status, unless no socket is listening.
async fn read_statuses(
    pool: PgPool,
    mut events: broadcast::Receiver<JobEvent>,
    updates: broadcast::Sender<Arc<JobUpdate>>,
) {
    loop {
        let event = match events.recv().await {
            Ok(event) => event,
            Err(RecvError::Lagged(missed)) => {
                tracing::warn!(
                    missed,
                    "job events came faster than their statuses were read"
                );
                continue;
            }
            Err(RecvError::Closed) => return,
        };
        if updates.receiver_count() == 0 {
            continue;
        }
        match jobs::get(&pool, event.tenant_id, event.job_id).await {
            Ok(job) => {
                let _ = updates.send(Arc::new(JobUpdate {
                    event,
                    status: job.status,
                }));
            }
            Err(error) => tracing::warn!(
                tenant_id = event.tenant_id.get(),
                job_id = event.job_id.get(),
                %error,
                "job status unreadable after an event"
            ),
        }
    }
}
