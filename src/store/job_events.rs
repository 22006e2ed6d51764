//! Job progress events: every step × stage state change and every job state change is
//! announced with PostgreSQL `NOTIFY` on one channel — delivered at commit, to every
//! process listening, so an API (or `jobs watch`) streams progress from any role on any
//! machine. [`JobEvents`] is the listening side.

use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use super::error::StoreError;
use super::notifications::Notifications;
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
pub type JobEvents = Notifications<JobEvent>;

/// Subscribes to every job's events.
pub async fn listen(pool: &PgPool) -> Result<JobEvents, StoreError> {
    Notifications::listen(pool, CHANNEL).await
}
