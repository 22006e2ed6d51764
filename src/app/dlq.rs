//! `pulse-etl dlq list|requeue|purge [--stage S]`: the operator's view of `etl.failed`;
//! requeuing also makes the jobs of the requeued work due again, purging drops the saved
//! load batches of the purged load messages.

use sqlx::PgPool;

use super::broker;
use super::output::{Output, Tabular};
use crate::cli::DlqCommand;
use crate::config::Config;
use crate::queue::rabbitmq::FailedMessage;
use crate::service::dead_letters;

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
    let outcome = async {
        match command {
            DlqCommand::List { stage, limit } => {
                let stage = stage.map(broker::queue_stage);
                output.list(&dead_letters::list(&broker, stage, limit).await?)
            }
            DlqCommand::Requeue { stage } => {
                let stage = stage.map(broker::queue_stage);
                let requeued = dead_letters::requeue(pool, &broker, stage).await?;
                output.count("requeued", requeued.len() as u64)
            }
            DlqCommand::Purge { stage } => {
                let stage = stage.map(broker::queue_stage);
                let purged = dead_letters::purge(pool, &broker, stage).await?;
                output.count("purged", purged.len() as u64)
            }
        }
    }
    .await;
    broker.close().await.ok();
    outcome
}
