//! What a tenant's work waits on, read-only: its backlog in the database and, with
//! RabbitMQ, the depth of its tier's work queues and its dead letters (counted from their
//! records, never by reading the failed queue every tenant shares).

use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;

use super::{ServiceError, ServiceResult};
use crate::domain::TenantId;
use crate::queue::rabbitmq::Broker;
use crate::queue::topology::QueueStage;
use crate::store::raw_browse::{self, Backlog};
use crate::store::{dead_letters, tenants};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueueDepth {
    pub queue: String,
    pub stage: String,
    /// Messages ready; null when the queue does not exist yet.
    pub messages: Option<u32>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct QueueReport {
    /// `memory` (one process) or `rabbitmq`.
    pub mode: String,
    pub backlog: Backlog,
    /// The work queues of the tenant's tier (shared by every tenant of that tier).
    pub queues: Vec<QueueDepth>,
    /// Dead-lettered messages of this tenant (null with in-process queues).
    pub dead_letters: Option<u64>,
}

pub async fn report(
    pool: &PgPool,
    broker: Option<&Broker>,
    tenant_id: TenantId,
) -> ServiceResult<QueueReport> {
    let backlog = raw_browse::backlog(pool, tenant_id).await?;
    let Some(broker) = broker else {
        return Ok(QueueReport {
            mode: "memory".into(),
            backlog,
            queues: Vec::new(),
            dead_letters: None,
        });
    };
    let broker_error = |error| ServiceError::internal(error, "reading queue depths");
    let tier = tenants::tier(pool, tenant_id).await?;
    let mut queues = Vec::new();
    for stage in [QueueStage::Transform, QueueStage::Load] {
        let queue = broker.topology.work_queue(stage, tier);
        let messages = broker.depth(&queue).await.map_err(broker_error)?;
        queues.push(QueueDepth {
            queue,
            stage: stage.as_str().into(),
            messages,
        });
    }
    let dead_letters = dead_letters::count(pool, tenant_id).await?;
    Ok(QueueReport {
        mode: "rabbitmq".into(),
        backlog,
        queues,
        dead_letters: Some(dead_letters),
    })
}
