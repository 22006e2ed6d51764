//! The failed queue (`etl.failed`) as operators see it: dead-lettered messages with their
//! origin, attempts and error, listed in place, sent back to their work queue, or dropped.

use lapin::options::{BasicAckOptions, BasicGetOptions, ConfirmSelectOptions};
use lapin::types::FieldTable;

use super::{
    header_number, header_text, publish_confirmed, Broker, BrokerError, ATTEMPT_HEADER,
    ERROR_HEADER, ORIGIN_HEADER,
};
use crate::queue::topology::QueueStage;
use crate::queue::StageMessage;

impl Broker {
    /// Messages in the failed queue (up to `limit`), left in place.
    pub async fn failed_messages(&self, limit: usize) -> Result<Vec<FailedMessage>, BrokerError> {
        let channel = self.connection.create_channel().await?;
        let mut found = Vec::new();
        while found.len() < limit {
            let Some(message) = channel
                .basic_get(&self.topology.failed_queue(), BasicGetOptions::default())
                .await?
            else {
                break;
            };
            found.push(FailedMessage::from_delivery(&message.delivery));
        }
        // Closing the channel gives every fetched (unacknowledged) message back, in order.
        channel.close(200, "listed").await?;
        Ok(found)
    }

    /// Sends failed messages of `stage` (all when None) back to their work queue with a
    /// fresh attempt count; returns them.
    pub async fn requeue_failed(
        &self,
        stage: Option<QueueStage>,
    ) -> Result<Vec<FailedMessage>, BrokerError> {
        self.drain_failed(stage, true).await
    }

    /// Drops failed messages of `stage` (all when None); returns them.
    pub async fn purge_failed(
        &self,
        stage: Option<QueueStage>,
    ) -> Result<Vec<FailedMessage>, BrokerError> {
        self.drain_failed(stage, false).await
    }

    /// Takes the failed messages of `stage` off the failed queue (back to their work queue
    /// when `requeue`); returns them.
    async fn drain_failed(
        &self,
        stage: Option<QueueStage>,
        requeue: bool,
    ) -> Result<Vec<FailedMessage>, BrokerError> {
        let channel = self.connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        let mut handled = Vec::new();
        while let Some(message) = channel
            .basic_get(&self.topology.failed_queue(), BasicGetOptions::default())
            .await?
        {
            let failed = FailedMessage::from_delivery(&message.delivery);
            let wanted = stage.is_none_or(|s| failed.stage() == Some(s));
            if wanted {
                if requeue {
                    let Some(origin) = &failed.queue else {
                        continue;
                    };
                    publish_confirmed(
                        &channel,
                        origin,
                        &message.delivery.data,
                        FieldTable::default(),
                    )
                    .await?;
                }
                message
                    .delivery
                    .acker
                    .ack(BasicAckOptions::default())
                    .await?;
                handled.push(failed);
            }
        }
        // Closing the channel gives the messages left alone back to the failed queue.
        channel.close(200, "done").await?;
        Ok(handled)
    }
}

/// A dead-lettered message as operators see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FailedMessage {
    /// The work queue it came from.
    pub queue: Option<String>,
    pub attempts: u32,
    pub error: Option<String>,
    pub body: String,
}

impl FailedMessage {
    fn from_delivery(delivery: &lapin::message::Delivery) -> Self {
        let empty = FieldTable::default();
        let headers = delivery.properties.headers().as_ref().unwrap_or(&empty);
        FailedMessage {
            queue: header_text(headers, ORIGIN_HEADER),
            attempts: header_number(headers, ATTEMPT_HEADER).unwrap_or(1),
            error: header_text(headers, ERROR_HEADER),
            body: String::from_utf8_lossy(&delivery.data).into_owned(),
        }
    }

    /// Its body as a stage message (None when unreadable, which is why some are here).
    pub fn message(&self) -> Option<StageMessage> {
        StageMessage::decode(self.body.as_bytes()).ok()
    }

    /// The stage of the work queue it came from.
    pub fn stage(&self) -> Option<QueueStage> {
        let queue = self.queue.as_deref()?;
        QueueStage::ALL
            .into_iter()
            .find(|stage| queue.contains(&format!("{}_queue_", stage.as_str())))
    }
}
