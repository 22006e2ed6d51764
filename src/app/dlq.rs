//! `pulse-etl dlq list|requeue|purge [--stage S]`: the operator's view of `etl.failed`;
//! requeuing also makes the jobs of the requeued work due again, purging drops the saved
//! load batches of the purged load messages.

use std::collections::BTreeSet;

use sqlx::PgPool;

use super::broker;
use super::output::{Output, Tabular};
use crate::cli::DlqCommand;
use crate::config::Config;
use crate::queue::rabbitmq::FailedMessage;
use crate::store::job_controls::{self, Control};
use crate::store::load_batches;

/// Characters of a message body shown in the table.
const BODY_PREVIEW: usize = 120;

impl Tabular for FailedMessage {
    const HEADERS: &'static [&'static str] = &["queue", "attempts", "error", "message"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.queue.clone().unwrap_or_default(),
            self.attempts.to_string(),
            self.error.clone().unwrap_or_default(),
            self.body.chars().take(BODY_PREVIEW).collect(),
        ]
    }
}

pub async fn run(
    pool: &PgPool,
    config: &Config,
    output: Output,
    command: DlqCommand,
) -> anyhow::Result<()> {
    let broker = broker::connect(config, broker::Patience::Command).await?;
    let outcome = match command {
        DlqCommand::List { stage, limit } => {
            let stage = stage.map(broker::queue_stage);
            let messages: Vec<FailedMessage> = broker
                .failed_messages(limit)
                .await?
                .into_iter()
                .filter(|m| stage.is_none_or(|s| m.stage() == Some(s)))
                .collect();
            output.list(&messages)
        }
        DlqCommand::Requeue { stage } => {
            let requeued = broker
                .requeue_failed(stage.map(broker::queue_stage))
                .await?;
            trigger_jobs_of(pool, &requeued).await?;
            output.count("requeued", requeued.len() as u64)
        }
        DlqCommand::Purge { stage } => {
            let purged = broker.purge_failed(stage.map(broker::queue_stage)).await?;
            drop_batches_of(pool, &purged).await?;
            output.count("purged", purged.len() as u64)
        }
    };
    broker.close().await.ok();
    outcome
}

/// Deletes the saved load batches purged load messages named: no message will load them.
async fn drop_batches_of(pool: &PgPool, purged: &[FailedMessage]) -> anyhow::Result<()> {
    for message in purged.iter().filter_map(FailedMessage::message) {
        if let Some(batch) = message.load_batch_id {
            load_batches::delete(pool, message.tenant_id, batch).await?;
        }
    }
    Ok(())
}

/// Makes the jobs whose work was requeued due now: their failed run left the cursor where
/// it was, so the next run re-reads what that run had, and ends FINISHED once the requeued
/// work is loaded. A paused job stays paused.
async fn trigger_jobs_of(pool: &PgPool, requeued: &[FailedMessage]) -> anyhow::Result<()> {
    let jobs: BTreeSet<(i64, i64)> = requeued
        .iter()
        .filter_map(FailedMessage::message)
        .filter_map(|m| Some((m.tenant_id, m.job_id?)))
        .collect();
    for (tenant_id, job_id) in jobs {
        match job_controls::apply(pool, tenant_id, job_id, Control::Trigger).await {
            Ok(()) => tracing::info!(tenant_id, job_id, "job due again after requeue"),
            Err(error) => tracing::warn!(tenant_id, job_id, %error, "job not triggered"),
        }
    }
    Ok(())
}
