//! In-process queue: a bounded tokio channel (a full queue makes the publisher wait).

use tokio::sync::mpsc;

use super::{Acknowledgement, Consumer, Delivery, Publisher, QueueError, StageMessage};

#[derive(Clone)]
pub struct MemoryPublisher {
    sender: mpsc::Sender<StageMessage>,
}

pub struct MemoryConsumer {
    receiver: mpsc::Receiver<StageMessage>,
}

/// A queue holding at most `capacity` messages.
pub fn queue(capacity: usize) -> (MemoryPublisher, MemoryConsumer) {
    let (sender, receiver) = mpsc::channel(capacity.max(1));
    (MemoryPublisher { sender }, MemoryConsumer { receiver })
}

impl Publisher for MemoryPublisher {
    async fn publish(&self, message: StageMessage) -> Result<(), QueueError> {
        self.sender
            .send(message)
            .await
            .map_err(|_| QueueError::Closed)
    }
}

impl Consumer for MemoryConsumer {
    async fn next(&mut self) -> Option<Delivery> {
        self.receiver.recv().await.map(|message| Delivery {
            message,
            attempt: 1,
            traceparent: None,
            acknowledgement: Acknowledgement::InProcess,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{IntegrationId, Provider, RawId, TenantId};
    use crate::queue::{Work, MESSAGE_VERSION};

    fn message(id: i64) -> StageMessage {
        StageMessage {
            version: MESSAGE_VERSION,
            tenant_id: TenantId(1),
            integration_id: IntegrationId(1),
            job_id: None,
            kind: "jira_issue".into(),
            provider: Provider::Jira,
            last_sync_date: None,
            first_item: false,
            last_item: false,
            last_job_item: false,
            work: Work::Transform {
                raw_data_ids: vec![RawId(id)],
            },
        }
    }

    #[tokio::test]
    async fn messages_arrive_in_order_and_the_queue_ends_with_its_publishers() {
        let (publisher, mut consumer) = queue(2);
        let producer = tokio::spawn(async move {
            for id in 0..5 {
                publisher.publish(message(id)).await.unwrap();
            }
        });
        let mut seen = Vec::new();
        while let Some(delivery) = consumer.next().await {
            seen.push(delivery.message.raw_data_ids()[0]);
            delivery.ack().await.unwrap();
        }
        producer.await.unwrap();
        assert_eq!(seen, (0..5).map(RawId).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn publishing_to_a_dropped_consumer_fails() {
        let (publisher, consumer) = queue(1);
        drop(consumer);
        assert!(matches!(
            publisher.publish(message(1)).await,
            Err(QueueError::Closed)
        ));
    }
}
