//! RabbitMQ backend of the queue traits (lapin): durable queues declared idempotently,
//! persistent messages published with confirms, manual acks after the work is committed,
//! retries through TTL delay queues that dead-letter back, and `etl.dlx` → `etl.failed`
//! with the error and attempt count in headers once a message is out of attempts. The
//! operator's view of the failed queue is in `dead_letters`.

mod dead_letters;

pub use dead_letters::FailedMessage;

use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{self, SelectAll, StreamExt};
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, BasicNackOptions, BasicPublishOptions, BasicQosOptions,
    ConfirmSelectOptions, ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions,
    QueueDeleteOptions,
};
use lapin::publisher_confirm::Confirmation;
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};

use super::topology::{QueueStage, Topology};
use super::{Acknowledgement, Consumer, Delivery, Publisher, QueueError, StageMessage};
use crate::domain::Tier;
use crate::telemetry::trace_export;

const ATTEMPT_HEADER: &str = "x-attempt";
const ERROR_HEADER: &str = "x-error";
const ORIGIN_HEADER: &str = "x-original-queue";

#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    #[error("RabbitMQ: {0}")]
    Amqp(#[from] lapin::Error),
    #[error("RabbitMQ did not take the message for {queue}: {reason}")]
    NotConfirmed { queue: String, reason: &'static str },
}

impl From<BrokerError> for QueueError {
    fn from(error: BrokerError) -> Self {
        QueueError::Broker(error.to_string())
    }
}

/// Publish attempts (with back-off, reconnecting in between) before a publish fails:
/// about half a minute, enough for a broker restart.
const PUBLISH_ATTEMPTS: u32 = 8;

/// A connection to RabbitMQ and the topology it serves.
pub struct Broker {
    url: String,
    connection: Connection,
    /// Declarations, publishing (in confirm mode) and the failed queue.
    channel: Channel,
    pub topology: Topology,
}

fn persistent(headers: FieldTable) -> BasicProperties {
    BasicProperties::default()
        .with_delivery_mode(2)
        .with_content_type(ShortString::from("application/json"))
        .with_headers(headers)
}

fn durable() -> QueueDeclareOptions {
    QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    }
}

fn header_text(headers: &FieldTable, name: &str) -> Option<String> {
    match headers.inner().get(name)? {
        AMQPValue::LongString(text) => Some(text.to_string()),
        AMQPValue::ShortString(text) => Some(text.to_string()),
        _ => None,
    }
}

fn header_number(headers: &FieldTable, name: &str) -> Option<u32> {
    match headers.inner().get(name)? {
        AMQPValue::LongUInt(n) => Some(*n),
        AMQPValue::LongInt(n) => u32::try_from(*n).ok(),
        AMQPValue::LongLongInt(n) => u32::try_from(*n).ok(),
        AMQPValue::ShortUInt(n) => Some(u32::from(*n)),
        _ => None,
    }
}

/// Publishes `body` to `queue` through the default exchange, persistent, and waits for
/// the broker's confirm (an unroutable message, e.g. to a queue never declared, fails).
async fn publish_confirmed(
    channel: &Channel,
    queue: &str,
    body: &[u8],
    headers: FieldTable,
) -> Result<(), BrokerError> {
    let options = BasicPublishOptions {
        mandatory: true,
        ..BasicPublishOptions::default()
    };
    let confirm = channel
        .basic_publish("", queue, options, body, persistent(headers))
        .await?
        .await?;
    let reason = match confirm {
        Confirmation::Ack(None) | Confirmation::NotRequested => return Ok(()),
        Confirmation::Ack(Some(_)) => "no such queue",
        Confirmation::Nack(_) => "refused",
    };
    Err(BrokerError::NotConfirmed {
        queue: queue.to_owned(),
        reason,
    })
}

impl Broker {
    pub async fn connect(url: &str, topology: Topology) -> Result<Self, BrokerError> {
        let Link {
            connection,
            channel,
        } = Link::open(url).await?;
        Ok(Broker {
            url: url.to_owned(),
            connection,
            channel,
            topology,
        })
    }

    /// Connects, retrying with exponential back-off (up to 30 s apart) `attempts` times.
    pub async fn connect_with_retry(
        url: &str,
        topology: Topology,
        attempts: u32,
    ) -> Result<Self, BrokerError> {
        let mut wait = Duration::from_millis(250);
        let mut tries = 1;
        loop {
            match Broker::connect(url, topology.clone()).await {
                Ok(broker) => return Ok(broker),
                Err(error) if tries >= attempts => return Err(error),
                Err(error) => {
                    tracing::warn!(%error, retry_in_ms = wait.as_millis() as u64, "RabbitMQ unreachable; retrying");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(30));
                    tries += 1;
                }
            }
        }
    }

    /// True while the connection to the broker is up.
    pub fn is_connected(&self) -> bool {
        self.connection.status().connected()
    }

    /// Messages ready in `queue` (a passive declare, on a channel of its own: asking for a
    /// queue that does not exist closes the channel it was asked on).
    pub async fn depth(&self, queue: &str) -> Result<Option<u32>, BrokerError> {
        let channel = self.connection.create_channel().await?;
        let options = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        match channel
            .queue_declare(queue, options, FieldTable::default())
            .await
        {
            Ok(declared) => {
                channel.close(200, "measured").await.ok();
                Ok(Some(declared.message_count()))
            }
            Err(_) => Ok(None),
        }
    }

    /// Declares (idempotently) the work queues of `stage` for `tiers`, their delay queues,
    /// and the dead-letter exchange and failed queue.
    pub async fn declare(&self, stage: QueueStage, tiers: &[Tier]) -> Result<(), BrokerError> {
        let topology = &self.topology;
        let dlx = topology.dead_letter_exchange();
        let failed = topology.failed_queue();
        let exchange = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        self.channel
            .exchange_declare(&dlx, ExchangeKind::Fanout, exchange, FieldTable::default())
            .await?;
        self.channel
            .queue_declare(&failed, durable(), FieldTable::default())
            .await?;
        self.channel
            .queue_bind(
                &failed,
                &dlx,
                "",
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        for queue in topology.work_queues(stage, tiers) {
            self.channel
                .queue_declare(&queue, durable(), FieldTable::default())
                .await?;
            for attempt in topology.retry_attempts() {
                let mut arguments = FieldTable::default();
                let ttl = topology.retry_delay(attempt).as_millis();
                arguments.insert(
                    ShortString::from("x-message-ttl"),
                    AMQPValue::LongLongInt(i64::try_from(ttl).unwrap_or(i64::MAX)),
                );
                arguments.insert(
                    ShortString::from("x-dead-letter-exchange"),
                    AMQPValue::LongString(LongString::from("")),
                );
                arguments.insert(
                    ShortString::from("x-dead-letter-routing-key"),
                    AMQPValue::LongString(LongString::from(queue.as_str())),
                );
                self.channel
                    .queue_declare(&topology.retry_queue(&queue, attempt), durable(), arguments)
                    .await?;
            }
        }
        Ok(())
    }

    /// Removes what [`Broker::declare`] made for `stage` and `tiers` (tests clean up with it).
    pub async fn delete(&self, stage: QueueStage, tiers: &[Tier]) -> Result<(), BrokerError> {
        for queue in self.topology.work_queues(stage, tiers) {
            for attempt in self.topology.retry_attempts() {
                let retry = self.topology.retry_queue(&queue, attempt);
                self.channel
                    .queue_delete(&retry, QueueDeleteOptions::default())
                    .await?;
            }
            self.channel
                .queue_delete(&queue, QueueDeleteOptions::default())
                .await?;
        }
        self.channel
            .queue_delete(&self.topology.failed_queue(), QueueDeleteOptions::default())
            .await?;
        self.channel
            .exchange_delete(
                &self.topology.dead_letter_exchange(),
                lapin::options::ExchangeDeleteOptions::default(),
            )
            .await?;
        Ok(())
    }

    /// A publisher to one work queue (it reconnects on its own if the broker goes away).
    pub fn publisher(&self, stage: QueueStage, tier: Tier) -> RabbitPublisher {
        RabbitPublisher {
            url: self.url.clone(),
            channel: Arc::new(tokio::sync::Mutex::new(self.channel.clone())),
            own_link: Arc::new(tokio::sync::Mutex::new(None)),
            queue: self.topology.work_queue(stage, tier),
        }
    }

    /// A consumer of the work queues of `stage` for `tiers`, with at most `prefetch`
    /// unacknowledged messages in hand.
    pub async fn consumer(
        &self,
        stage: QueueStage,
        tiers: &[Tier],
        prefetch: u16,
    ) -> Result<RabbitConsumer, BrokerError> {
        let channel = self.connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        channel
            .basic_qos(prefetch.max(1), BasicQosOptions::default())
            .await?;
        let mut streams = stream::select_all(Vec::new());
        for queue in self.topology.work_queues(stage, tiers) {
            let tag = format!("pulse-etl-{}-{queue}", std::process::id());
            let consumer = channel
                .basic_consume(
                    &queue,
                    &tag,
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            streams.push(consumer);
        }
        Ok(RabbitConsumer {
            channel,
            streams,
            topology: self.topology.clone(),
        })
    }

    pub async fn close(self) -> Result<(), BrokerError> {
        self.connection.close(200, "bye").await?;
        Ok(())
    }
}

/// A connection with a channel in confirm mode.
struct Link {
    connection: Connection,
    channel: Channel,
}

impl Link {
    async fn open(url: &str) -> Result<Self, BrokerError> {
        let properties = ConnectionProperties::default()
            .with_executor(tokio_executor_trait::Tokio::current())
            .with_reactor(tokio_reactor_trait::Tokio);
        let connection = Connection::connect(url, properties).await?;
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Link {
            connection,
            channel,
        })
    }
}

/// Publishes to one work queue with confirms; when the broker goes away it reconnects and
/// publishes again (a message may then arrive twice: consumers are idempotent).
#[derive(Clone)]
pub struct RabbitPublisher {
    url: String,
    channel: Arc<tokio::sync::Mutex<Channel>>,
    /// The connection opened after the broker's own was lost.
    own_link: Arc<tokio::sync::Mutex<Option<Connection>>>,
    queue: String,
}

impl RabbitPublisher {
    async fn reconnect(&self) {
        match Link::open(&self.url).await {
            Ok(link) => {
                *self.channel.lock().await = link.channel;
                if let Some(old) = self.own_link.lock().await.replace(link.connection) {
                    old.close(200, "replaced").await.ok();
                }
                tracing::info!(queue = %self.queue, "publisher reconnected to RabbitMQ");
            }
            Err(error) => tracing::warn!(%error, "RabbitMQ still unreachable"),
        }
    }
}

impl Publisher for RabbitPublisher {
    async fn publish(&self, message: StageMessage) -> Result<(), QueueError> {
        let body = serde_json::to_vec(&message).map_err(|e| QueueError::Broker(e.to_string()))?;
        // The sender's trace goes with the message (when traces are exported).
        let mut headers = FieldTable::default();
        if let Some(traceparent) = trace_export::traceparent() {
            headers.insert(
                ShortString::from(trace_export::TRACEPARENT),
                AMQPValue::LongString(LongString::from(traceparent)),
            );
        }
        let mut wait = Duration::from_millis(250);
        let mut attempt = 1;
        loop {
            let channel = self.channel.lock().await.clone();
            match publish_confirmed(&channel, &self.queue, &body, headers.clone()).await {
                Ok(()) => return Ok(()),
                // The broker answered: retrying will not make the queue exist.
                Err(error @ BrokerError::NotConfirmed { .. }) => return Err(error.into()),
                Err(error) if attempt >= PUBLISH_ATTEMPTS => return Err(error.into()),
                Err(error) => {
                    tracing::warn!(%error, attempt, retry_in_ms = wait.as_millis() as u64, "publish failed; reconnecting");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(10));
                    attempt += 1;
                    self.reconnect().await;
                }
            }
        }
    }
}

/// Consumes work queues; `None` once the connection is gone (reconnect and consume again:
/// whatever was not acknowledged is delivered again).
pub struct RabbitConsumer {
    channel: Channel,
    streams: SelectAll<lapin::Consumer>,
    topology: Topology,
}

/// What a broker delivery needs to be acknowledged, retried or dead-lettered.
#[derive(Debug)]
pub(super) struct BrokerDelivery {
    acker: lapin::acker::Acker,
    channel: Channel,
    topology: Topology,
    queue: String,
    attempt: u32,
    body: Vec<u8>,
    /// The sender's trace context, kept on retries.
    traceparent: Option<String>,
}

/// Where a rejected message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    /// It will be delivered again (as delivery number `attempt`) after a delay.
    Retried { attempt: u32 },
    /// Out of attempts (or not worth retrying): in the failed queue.
    DeadLettered,
}

impl BrokerDelivery {
    pub(super) async fn ack(self) -> Result<(), BrokerError> {
        self.acker.ack(BasicAckOptions::default()).await?;
        self.settled("ack");
        Ok(())
    }

    /// Counts the message settled with `outcome`, by its queue's stage and tier.
    fn settled(&self, outcome: &'static str) {
        let (head, tier) = self
            .queue
            .rsplit_once("_queue_")
            .unwrap_or((&self.queue, ""));
        let stage = QueueStage::ALL
            .into_iter()
            .find(|stage| head.ends_with(stage.as_str()))
            .map_or("unknown", QueueStage::as_str);
        let tier = Tier::ALL
            .iter()
            .find(|known| known.as_str() == tier)
            .map_or("unknown", |known| known.as_str());
        crate::telemetry::metrics::message_settled(stage, tier, outcome);
    }

    /// Publishes the message to its next delay queue, or to the dead-letter exchange with
    /// the error when it is out of attempts (`retry: false`: at once), then acknowledges it.
    pub(super) async fn reject(self, error: &str, retry: bool) -> Result<Rejected, BrokerError> {
        let next = self.attempt + 1;
        let mut headers = FieldTable::default();
        headers.insert(
            ShortString::from(ERROR_HEADER),
            AMQPValue::LongString(LongString::from(
                error.chars().take(2_000).collect::<String>(),
            )),
        );
        headers.insert(
            ShortString::from(ORIGIN_HEADER),
            AMQPValue::LongString(LongString::from(self.queue.as_str())),
        );
        if let Some(traceparent) = &self.traceparent {
            headers.insert(
                ShortString::from(trace_export::TRACEPARENT),
                AMQPValue::LongString(LongString::from(traceparent.as_str())),
            );
        }
        let outcome = if retry && next <= self.topology.max_attempts {
            headers.insert(ShortString::from(ATTEMPT_HEADER), AMQPValue::LongUInt(next));
            let delay_queue = self.topology.retry_queue(&self.queue, next);
            publish_confirmed(&self.channel, &delay_queue, &self.body, headers).await?;
            Rejected::Retried { attempt: next }
        } else {
            headers.insert(
                ShortString::from(ATTEMPT_HEADER),
                AMQPValue::LongUInt(self.attempt),
            );
            let options = BasicPublishOptions::default();
            let confirm = self
                .channel
                .basic_publish(
                    &self.topology.dead_letter_exchange(),
                    &self.queue,
                    options,
                    &self.body,
                    persistent(headers),
                )
                .await?
                .await?;
            if let Confirmation::Nack(_) = confirm {
                return Err(BrokerError::NotConfirmed {
                    queue: self.topology.failed_queue(),
                    reason: "refused",
                });
            }
            Rejected::DeadLettered
        };
        self.acker.ack(BasicAckOptions::default()).await?;
        self.settled(match outcome {
            Rejected::Retried { .. } => "retry",
            Rejected::DeadLettered => "dead_letter",
        });
        Ok(outcome)
    }

    pub(super) fn out_of_attempts(&self) -> bool {
        self.attempt >= self.topology.max_attempts
    }

    /// Gives the message back to its queue untouched (e.g. on shutdown).
    pub(super) async fn release(self) -> Result<(), BrokerError> {
        let options = BasicNackOptions {
            requeue: true,
            ..BasicNackOptions::default()
        };
        self.acker.nack(options).await?;
        Ok(())
    }
}

impl Consumer for RabbitConsumer {
    async fn next(&mut self) -> Option<Delivery> {
        loop {
            let delivery = match self.streams.next().await? {
                Ok(delivery) => delivery,
                Err(error) => {
                    tracing::warn!(%error, "RabbitMQ consumer stopped");
                    return None;
                }
            };
            let empty = FieldTable::default();
            let headers = delivery.properties.headers().as_ref().unwrap_or(&empty);
            let attempt = header_number(headers, ATTEMPT_HEADER).unwrap_or(1);
            let traceparent = header_text(headers, trace_export::TRACEPARENT);
            let queue = delivery.routing_key.to_string();
            let parsed = StageMessage::decode(&delivery.data);
            let broker = BrokerDelivery {
                acker: delivery.acker,
                channel: self.channel.clone(),
                topology: self.topology.clone(),
                queue,
                attempt,
                body: delivery.data,
                traceparent: traceparent.clone(),
            };
            match parsed {
                Ok(message) => {
                    return Some(Delivery {
                        message,
                        attempt,
                        traceparent,
                        acknowledgement: Acknowledgement::Broker(Box::new(broker)),
                    })
                }
                // Unreadable: no retry can help. Dead-letter it and go on.
                Err(error) => {
                    let reason = format!("unreadable message: {error}");
                    tracing::warn!(%reason, queue = %broker.queue, "dead-lettering");
                    if let Err(error) = broker.reject(&reason, false).await {
                        tracing::warn!(%error, "could not dead-letter an unreadable message");
                        return None;
                    }
                }
            }
        }
    }
}
