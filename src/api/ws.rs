//! Live job status over WebSockets. `/ws/job/{stage}/{tenant_id}/{job_id}` watches one job:
//! the first message is its current status, then a `job_status_update` with the whole status
//! JSON whenever a step × stage of that stage (or the job as a whole) changes.
//! `/ws/jobs/{tenant_id}` watches every job of the tenant (one socket for a dashboard): the
//! current status of each job first, then an update whenever any stage of any of them
//! changes. Updates come from whichever process runs the job, each status read once per
//! server (see `events`). Another tenant's path answers 404 before any upgrade, and a
//! cookie-signed upgrade from another site's page 403; the credential is checked again
//! every [`RECHECK_AFTER`] and a socket whose user was disabled or whose token was revoked
//! or expired is closed with 1008 (policy); a client that cannot keep up is dropped;
//! shutdown closes every socket with "going away".

use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use serde_json::json;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use super::auth::{SocketCaller, RECHECK_AFTER};
use super::error::{ApiError, ApiResult};
use super::events::JobUpdate;
use super::extract::Path;
use super::state::ApiState;
use crate::domain::{JobId, Stage, TenantId};
use crate::service::jobs;

/// A client that has not taken a message within this long is dropped.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest message accepted from a client (clients only need to send pings and close).
const MAX_CLIENT_MESSAGE: usize = 4 * 1024;

const STAGES: [Stage; 4] = [
    Stage::Extraction,
    Stage::Transform,
    Stage::Load,
    Stage::Embedding,
];

pub async fn job_status(
    State(state): State<ApiState>,
    socket_caller: SocketCaller,
    Path((stage, tenant_id, job_id)): Path<(String, i64, i64)>,
    upgrade: WebSocketUpgrade,
) -> ApiResult<Response> {
    let stage = STAGES
        .into_iter()
        .find(|s| s.as_str() == stage)
        .ok_or_else(|| {
            ApiError::not_found("no such stage (extraction, transform, load, embedding)")
        })?;
    let (tenant_id, job_id) = (TenantId(tenant_id), JobId(job_id));
    if tenant_id != socket_caller.caller.tenant_id {
        return Err(ApiError::not_found(format!("job {job_id} does not exist")));
    }
    let watched = Watched {
        caller: socket_caller,
        tenant_id,
        job: Some((job_id, stage)),
    };
    open(state, upgrade, watched).await
}

pub async fn tenant_jobs(
    State(state): State<ApiState>,
    socket_caller: SocketCaller,
    Path(tenant_id): Path<i64>,
    upgrade: WebSocketUpgrade,
) -> ApiResult<Response> {
    let tenant_id = TenantId(tenant_id);
    if tenant_id != socket_caller.caller.tenant_id {
        return Err(ApiError::not_found(format!(
            "tenant {tenant_id} does not exist"
        )));
    }
    let watched = Watched {
        caller: socket_caller,
        tenant_id,
        job: None,
    };
    open(state, upgrade, watched).await
}

/// Subscribes, reads the current statuses, then upgrades.
async fn open(state: ApiState, upgrade: WebSocketUpgrade, watched: Watched) -> ApiResult<Response> {
    // Subscribe before reading, so no change between the read and the stream is missed.
    let updates = state.job_updates.subscribe();
    let first = watched.current(&state).await?;
    Ok(upgrade
        .max_message_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| stream(socket, state, updates, watched, first)))
}

fn update(tenant_id: TenantId, job_id: JobId, status: &serde_json::Value) -> Message {
    Message::Text(
        json!({"type": "job_status_update", "tenant_id": tenant_id, "job_id": job_id, "status": status})
            .to_string()
            .into(),
    )
}

/// Who watches which jobs: one job's stage, or every job of the tenant.
struct Watched {
    caller: SocketCaller,
    tenant_id: TenantId,
    job: Option<(JobId, Stage)>,
}

impl Watched {
    /// Whether an update concerns the socket.
    fn wants(&self, update: &JobUpdate) -> bool {
        let event = &update.event;
        event.tenant_id == self.tenant_id
            && self.job.is_none_or(|(job_id, stage)| {
                event.job_id == job_id && event.stage.as_deref().is_none_or(|s| s == stage.as_str())
            })
    }

    /// The watched jobs' statuses as they are now.
    async fn current(
        &self,
        state: &ApiState,
    ) -> Result<Vec<Message>, crate::service::ServiceError> {
        Ok(match self.job {
            Some((job_id, _)) => {
                let job = jobs::get(&state.pool, self.tenant_id, job_id).await?;
                vec![update(self.tenant_id, job_id, &job.status)]
            }
            None => jobs::list(&state.pool, self.tenant_id)
                .await?
                .iter()
                .map(|job| update(self.tenant_id, job.id, &job.status))
                .collect(),
        })
    }
}

enum Woken {
    Update(Arc<JobUpdate>),
    Lagged,
    Recheck,
}

async fn stream(
    mut socket: WebSocket,
    state: ApiState,
    mut updates: broadcast::Receiver<Arc<JobUpdate>>,
    watched: Watched,
    first: Vec<Message>,
) {
    let mut stopping = state.stopping.clone();
    for message in first {
        if !send(&mut socket, message).await {
            return;
        }
    }
    let mut recheck = tokio::time::interval(RECHECK_AFTER);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    recheck.tick().await;
    let mut close = CloseFrame {
        code: axum::extract::ws::close_code::AWAY,
        reason: "server stopping".into(),
    };
    loop {
        // What woke the socket (nothing is awaited inside `select!`, where the stop
        // signal's guard is held).
        let woken = tokio::select! {
            received = updates.recv() => match received {
                Ok(job) if watched.wants(&job) => Woken::Update(job),
                Ok(_) => continue,
                // Missed updates: the statuses read now are the whole truth anyway.
                Err(RecvError::Lagged(_)) => Woken::Lagged,
                Err(RecvError::Closed) => break,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => continue,
            },
            _ = stopping.wait_for(|stop| *stop) => break,
            _ = recheck.tick() => Woken::Recheck,
        };
        let messages = match woken {
            Woken::Update(job) => vec![update(job.event.tenant_id, job.event.job_id, &job.status)],
            Woken::Lagged => match watched.current(&state).await {
                Ok(messages) => messages,
                Err(error) => {
                    tracing::warn!(tenant_id = watched.tenant_id.get(), %error, "job status unreadable; closing the socket");
                    break;
                }
            },
            Woken::Recheck => {
                if state.auth.still_valid(&state.pool, &watched.caller).await {
                    continue;
                }
                close = CloseFrame {
                    code: axum::extract::ws::close_code::POLICY,
                    reason: "the credential is no longer valid".into(),
                };
                break;
            }
        };
        for message in messages {
            if !send(&mut socket, message).await {
                return;
            }
        }
    }
    let _ = tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Close(Some(close)))).await;
}

/// Sends, or gives up on a client that does not take it in time.
async fn send(socket: &mut WebSocket, message: Message) -> bool {
    match tokio::time::timeout(SEND_TIMEOUT, socket.send(message)).await {
        Ok(Ok(())) => true,
        Ok(Err(_)) => false,
        Err(_) => {
            tracing::info!("WebSocket client too slow; dropped");
            false
        }
    }
}
