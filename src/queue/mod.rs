//! Work passed between stages: the message model and the Publisher/Consumer
//! abstraction stage code is written against, with two backends: in-process (`memory`) and
//! RabbitMQ (`rabbitmq`, names and retry schedule in `topology`).

pub mod memory;
mod message;
pub mod rabbitmq;
pub mod topology;

use std::future::Future;

pub use message::{DecodeError, EmbedOperation, StageMessage, Work, MESSAGE_VERSION, SYNC_JOB};
pub use rabbitmq::Rejected;

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("the queue is closed")]
    Closed,
    #[error("{0}")]
    Broker(String),
}

/// Sends messages to the next stage.
pub trait Publisher {
    fn publish(&self, message: StageMessage)
        -> impl Future<Output = Result<(), QueueError>> + Send;
}

/// Receives messages; `None` once every publisher is gone and the queue is drained (in
/// process) or the broker connection is lost (consume again after reconnecting).
pub trait Consumer {
    fn next(&mut self) -> impl Future<Output = Option<Delivery>> + Send;
}

/// A received message, acknowledged only after its work is committed.
#[derive(Debug)]
pub struct Delivery {
    pub message: StageMessage,
    /// Which delivery of the message this is (1: the first).
    pub attempt: u32,
    /// The sender's W3C trace context, when it was traced.
    pub traceparent: Option<String>,
    acknowledgement: Acknowledgement,
}

#[derive(Debug)]
enum Acknowledgement {
    /// In-process: nothing to tell a broker.
    InProcess,
    Broker(Box<rabbitmq::BrokerDelivery>),
}

impl Delivery {
    /// The work is committed: the message is done.
    pub async fn ack(self) -> Result<(), QueueError> {
        match self.acknowledgement {
            Acknowledgement::InProcess => Ok(()),
            Acknowledgement::Broker(delivery) => Ok(delivery.ack().await?),
        }
    }

    /// The work failed with `error`: deliver the message again later (`retry`) while it has
    /// attempts left, else dead-letter it with the error. In-process messages have no
    /// second delivery: the caller owns the failure.
    pub async fn reject(self, error: &str, retry: bool) -> Result<Rejected, QueueError> {
        match self.acknowledgement {
            Acknowledgement::InProcess => Ok(Rejected::DeadLettered),
            Acknowledgement::Broker(delivery) => Ok(delivery.reject(error, retry).await?),
        }
    }

    /// Whether a rejection now would dead-letter it (in-process work has no retries).
    pub fn out_of_attempts(&self) -> bool {
        match &self.acknowledgement {
            Acknowledgement::InProcess => true,
            Acknowledgement::Broker(delivery) => delivery.out_of_attempts(),
        }
    }

    /// Not processed (shutting down): give it back to be delivered again at once.
    pub async fn release(self) -> Result<(), QueueError> {
        match self.acknowledgement {
            Acknowledgement::InProcess => Ok(()),
            Acknowledgement::Broker(delivery) => Ok(delivery.release().await?),
        }
    }
}
