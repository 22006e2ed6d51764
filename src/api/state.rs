//! What every request handler shares: the database, what reaching a source takes (the
//! credential cipher and the outbound rule), authentication,
//! the broker (when the queues are RabbitMQ's), the vector store and embedders, live job
//! events and the shutdown signal.

use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::{broadcast, watch};

use super::auth::Auth;
use super::events::JobUpdate;
use crate::pipeline::embed_stage::Embedding;
use crate::pipeline::source::Reach;
use crate::queue::rabbitmq::Broker;

pub struct ApiContext {
    pub pool: PgPool,
    pub reach: Reach,
    pub auth: Auth,
    /// RabbitMQ, for queue depths and dead-letter counts; none with in-process queues.
    pub broker: Option<Broker>,
    /// The vector store and embedders search uses.
    pub embedding: Arc<Embedding>,
    /// Every job event of this deployment with the job's status (see `events`).
    pub job_updates: broadcast::Sender<Arc<JobUpdate>>,
    /// Becomes true when the server stops: WebSocket streams close cleanly.
    pub stopping: watch::Receiver<bool>,
    /// An integration whose last webhook delivery is this recent is live (the scheduler's
    /// interval).
    pub webhooks_live_within: std::time::Duration,
    /// Host names the MCP endpoint answers to.
    pub mcp_allowed_hosts: Vec<String>,
}

pub type ApiState = Arc<ApiContext>;
