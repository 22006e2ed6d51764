//! Work passed between stages (DESIGN §4): the message model and the Publisher/Consumer
//! abstraction stage code is written against. Backend here: in-process (`memory`); the
//! RabbitMQ backend implements the same traits.

pub mod memory;
mod message;

use std::future::Future;

pub use message::{StageMessage, MESSAGE_VERSION};

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("the queue is closed")]
    Closed,
}

/// Sends messages to the next stage.
pub trait Publisher {
    fn publish(&self, message: StageMessage)
        -> impl Future<Output = Result<(), QueueError>> + Send;
}

/// Receives messages; `None` once every publisher is gone and the queue is drained.
pub trait Consumer {
    fn next(&mut self) -> impl Future<Output = Option<Delivery>> + Send;
}

/// A received message, acknowledged only after its work is committed.
#[derive(Debug)]
pub struct Delivery {
    pub message: StageMessage,
    acknowledgement: Acknowledgement,
}

#[derive(Debug)]
enum Acknowledgement {
    /// In-process: nothing to tell a broker.
    InProcess,
}

impl Delivery {
    pub async fn ack(self) -> Result<(), QueueError> {
        match self.acknowledgement {
            Acknowledgement::InProcess => Ok(()),
        }
    }
}
