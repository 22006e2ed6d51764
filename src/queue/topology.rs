//! RabbitMQ names and retry schedule: `{stage}_queue_{tier}` work queues (fixed names other
//! tools rely on), one
//! delay queue per retry level that dead-letters back to its work queue after its TTL, and
//! `etl.dlx` → `etl.failed` for messages out of attempts. A prefix keeps tests (or several
//! deployments on one broker) apart.

use std::time::Duration;

use crate::domain::Tier;

/// The stages work queues exist for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum QueueStage {
    Extraction,
    Transform,
    Load,
    Embedding,
}

impl QueueStage {
    pub const ALL: [QueueStage; 4] = [
        QueueStage::Extraction,
        QueueStage::Transform,
        QueueStage::Load,
        QueueStage::Embedding,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            QueueStage::Extraction => "extraction",
            QueueStage::Transform => "transform",
            QueueStage::Load => "load",
            QueueStage::Embedding => "embedding",
        }
    }
}

/// Queue names and the retry schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    prefix: String,
    /// Deliveries per message, the first included, before it is dead-lettered.
    pub max_attempts: u32,
    /// Delay before the first retry; each further retry waits twice as long.
    pub retry_base: Duration,
}

impl Topology {
    pub fn new(prefix: &str, max_attempts: u32, retry_base: Duration) -> Self {
        Topology {
            prefix: prefix.to_owned(),
            max_attempts: max_attempts.max(1),
            retry_base,
        }
    }

    /// `transform_queue_premium` and the like.
    pub fn work_queue(&self, stage: QueueStage, tier: Tier) -> String {
        format!("{}{}_queue_{}", self.prefix, stage.as_str(), tier.as_str())
    }

    /// The delay queue a message waits in before delivery number `attempt` (2 and up).
    pub fn retry_queue(&self, work_queue: &str, attempt: u32) -> String {
        format!("{work_queue}.retry.{attempt}")
    }

    /// How long a message waits before delivery number `attempt` (2 and up).
    pub fn retry_delay(&self, attempt: u32) -> Duration {
        self.retry_base
            .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(2)))
    }

    /// Delivery numbers that are retries: 2 ..= max_attempts.
    pub fn retry_attempts(&self) -> impl Iterator<Item = u32> {
        2..=self.max_attempts
    }

    pub fn dead_letter_exchange(&self) -> String {
        format!("{}etl.dlx", self.prefix)
    }

    pub fn failed_queue(&self) -> String {
        format!("{}etl.failed", self.prefix)
    }

    /// The work queues of `stage` for `tiers`.
    pub fn work_queues(&self, stage: QueueStage, tiers: &[Tier]) -> Vec<String> {
        tiers
            .iter()
            .map(|tier| self.work_queue(stage, *tier))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_design() {
        let topology = Topology::new("", 4, Duration::from_secs(5));
        assert_eq!(
            topology.work_queue(QueueStage::Transform, Tier::Premium),
            "transform_queue_premium"
        );
        assert_eq!(
            topology.work_queue(QueueStage::Extraction, Tier::Free),
            "extraction_queue_free"
        );
        assert_eq!(
            topology.work_queue(QueueStage::Embedding, Tier::Enterprise),
            "embedding_queue_enterprise"
        );
        assert_eq!(topology.dead_letter_exchange(), "etl.dlx");
        assert_eq!(topology.failed_queue(), "etl.failed");
        assert_eq!(
            topology.retry_queue("load_queue_basic", 3),
            "load_queue_basic.retry.3"
        );
        let test = Topology::new("t1_", 4, Duration::from_secs(5));
        assert_eq!(test.failed_queue(), "t1_etl.failed");
        assert_eq!(
            test.work_queue(QueueStage::Load, Tier::Basic),
            "t1_load_queue_basic"
        );
    }

    #[test]
    fn retries_back_off_exponentially() {
        let topology = Topology::new("", 4, Duration::from_secs(5));
        assert_eq!(topology.retry_attempts().collect::<Vec<_>>(), vec![2, 3, 4]);
        assert_eq!(topology.retry_delay(2), Duration::from_secs(5));
        assert_eq!(topology.retry_delay(3), Duration::from_secs(10));
        assert_eq!(topology.retry_delay(4), Duration::from_secs(20));
        let once = Topology::new("", 0, Duration::from_secs(5));
        assert_eq!(once.max_attempts, 1);
        assert_eq!(once.retry_attempts().count(), 0);
    }
}
