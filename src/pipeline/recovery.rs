//! Start-up recovery: raw rows stored but never transformed (a process died between storing
//! a page and loading it) go through the transform stage, so a crash loses no work. When
//! workers share the work, rows of a job still making progress are theirs and left alone.

use std::time::Duration;

use sqlx::PgPool;

use super::transform_stage::TransformStage;
use super::{github, jira, stage_message, PipelineError, StepReport};
use crate::domain::Provider;
use crate::store::raw::{self, Scope};

/// The raw row kinds transform messages carry, pull requests before their comments (a
/// comment is loaded only onto a known pull request).
const TRANSFORM_KINDS: [(Provider, &str); 4] = [
    (Provider::Jira, jira::kinds::ISSUE),
    (Provider::Github, github::kinds::PULL),
    (Provider::Github, github::kinds::REVIEW_COMMENT),
    (Provider::Github, github::kinds::ISSUE_COMMENT),
];

/// Rows per message, as an extraction page would carry them.
const BATCH: i64 = 100;

/// Transforms and loads pending raw rows here — all of them, or with `live_within` those
/// of jobs not RUNNING with progress within that time (over RabbitMQ, a live job's pending
/// rows are queued for workers); returns what that did.
pub async fn transform_pending(
    pool: &PgPool,
    live_within: Option<Duration>,
) -> Result<StepReport, PipelineError> {
    let stage = TransformStage::new(pool);
    let mut all = StepReport::default();
    for (provider, kind) in TRANSFORM_KINDS {
        for (tenant_id, integration_id, ids) in
            raw::pending_batches(pool, kind, BATCH, live_within).await?
        {
            let scope = Scope {
                tenant_id,
                integration_id,
                job_id: None,
            };
            let message = stage_message(scope, (provider, kind), None, ids);
            all += stage.handle(&message).await?;
        }
    }
    Ok(all)
}
