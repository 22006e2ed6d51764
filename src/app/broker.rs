//! RabbitMQ as the roles use it: connected from the configuration, with the CLI's stage and
//! tier choices turned into queue terms.

use anyhow::Context;

use crate::cli::{Stage, TierSelection};
use crate::config::Config;
use crate::domain::Tier;
use crate::queue::rabbitmq::Broker;
use crate::queue::topology::QueueStage;

/// How patient a connection is.
#[derive(Debug, Clone, Copy)]
pub enum Patience {
    /// A role starting (or reconnecting) while the broker may be starting too: about half
    /// a minute of back-off.
    Role,
    /// An operator's command: say at once that the broker is unreachable.
    Command,
}

/// Connects to `queue.rabbitmq_url`.
pub async fn connect(config: &Config, patience: Patience) -> anyhow::Result<Broker> {
    let url = config.rabbitmq_url()?;
    let attempts = match patience {
        Patience::Role => 8,
        Patience::Command => 1,
    };
    Broker::connect_with_retry(url, config.topology(), attempts)
        .await
        .with_context(|| format!("connecting to RabbitMQ at {}", redacted(url)))
}

/// The URL without its password, for messages.
fn redacted(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

pub fn queue_stage(stage: Stage) -> QueueStage {
    match stage {
        Stage::Extract => QueueStage::Extraction,
        Stage::Transform => QueueStage::Transform,
        Stage::Load => QueueStage::Load,
        Stage::Embed => QueueStage::Embedding,
    }
}

/// The tiers a selection names (`all`: every tier), each once.
pub fn tiers(selection: &[TierSelection]) -> Vec<Tier> {
    let mut tiers: Vec<Tier> = Vec::new();
    for choice in selection {
        let chosen: &[Tier] = match choice {
            TierSelection::Free => &[Tier::Free],
            TierSelection::Basic => &[Tier::Basic],
            TierSelection::Premium => &[Tier::Premium],
            TierSelection::Enterprise => &[Tier::Enterprise],
            TierSelection::All => Tier::ALL,
        };
        for tier in chosen {
            if !tiers.contains(tier) {
                tiers.push(*tier);
            }
        }
    }
    tiers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tier_selections_expand_without_repeats() {
        assert_eq!(
            tiers(&[
                TierSelection::Premium,
                TierSelection::Free,
                TierSelection::Premium
            ]),
            vec![Tier::Premium, Tier::Free]
        );
        assert_eq!(tiers(&[TierSelection::All]), Tier::ALL.to_vec());
    }

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            redacted("amqp://guest:secret@mq:5672/%2f"),
            "amqp://guest:***@mq:5672/%2f"
        );
        assert_eq!(redacted("amqp://mq:5672"), "amqp://mq:5672");
    }
}
