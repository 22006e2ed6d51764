//! `pulse-etl dlq list|requeue|purge [--stage S]`: the operator's view of `etl.failed`.

use super::broker;
use super::output::{Output, Tabular};
use crate::cli::DlqCommand;
use crate::config::Config;
use crate::queue::rabbitmq::FailedMessage;

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

pub async fn run(config: &Config, output: Output, command: DlqCommand) -> anyhow::Result<()> {
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
            let count = broker
                .requeue_failed(stage.map(broker::queue_stage))
                .await?;
            output.count("requeued", count)
        }
        DlqCommand::Purge { stage } => {
            let count = broker.purge_failed(stage.map(broker::queue_stage)).await?;
            output.count("purged", count)
        }
    };
    broker.close().await.ok();
    outcome
}
