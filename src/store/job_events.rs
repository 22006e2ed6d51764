//! Job progress events: every step × stage state change and every job state change is
//! announced with PostgreSQL `NOTIFY` on one channel — delivered at commit, to every
//! process listening, so an API (or `jobs watch`) streams progress from any role on any
//! machine. [`JobEvents`] is the listening side.

use serde::{Deserialize, Serialize};
use sqlx::postgres::PgListener;
use sqlx::PgPool;

use super::error::StoreError;
use crate::domain::{JobId, TenantId};

pub const CHANNEL: &str = "pulse_job_progress";

/// One state change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobEvent {
    pub tenant_id: TenantId,
    pub job_id: JobId,
    /// The step and stage that changed; none for a change of the whole job.
    pub step: Option<String>,
    pub stage: Option<String>,
    pub state: String,
}

/// `update` (an `UPDATE etl_jobs ... RETURNING tenant_id, id`) followed, for each row it
/// changed, by an event built from the SQL expressions `step`, `stage` and `state`.
pub(super) fn announcing(update: &str, step: &str, stage: &str, state: &str) -> String {
    format!(
        "WITH changed AS ({update})
         SELECT pg_notify('{CHANNEL}', json_build_object('tenant_id', tenant_id, 'job_id', id,
                'step', {step}, 'stage', {stage}, 'state', {state})::text)
         FROM changed"
    )
}

/// A subscription to every job's events.
pub struct JobEvents {
    listener: PgListener,
}

impl JobEvents {
    pub async fn listen(pool: &PgPool) -> Result<Self, StoreError> {
        let mut listener = PgListener::connect_with(pool).await?;
        listener.listen(CHANNEL).await?;
        Ok(JobEvents { listener })
    }

    /// The next event (unreadable payloads, which this build does not send, are skipped).
    pub async fn next(&mut self) -> Result<JobEvent, StoreError> {
        loop {
            let notification = self.listener.recv().await?;
            match serde_json::from_str(notification.payload()) {
                Ok(event) => return Ok(event),
                Err(error) => tracing::warn!(%error, "unreadable job event skipped"),
            }
        }
    }
}
