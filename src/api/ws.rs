//! `/ws/job/{stage}/{tenant_id}/{job_id}`: live job status. The first message is the
//! current status, then a `job_status_update` with the whole status JSON whenever a step ×
//! stage of that stage (or the job as a whole) changes, from whichever process runs the
//! job. Another tenant's path answers 404 before any upgrade, and a cookie-signed upgrade
//! from another site's page 403; the credential is checked again every
//! [`RECHECK_AFTER`] and a socket whose user was disabled or whose token was revoked or
//! expired is closed with 1008 (policy); a client that cannot keep up is dropped; shutdown
//! closes every socket with "going away".

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::auth::{SocketCaller, RECHECK_AFTER};
use super::error::{ApiError, ApiResult};
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
    // Subscribe before reading, so no change between the read and the stream is missed.
    let events = state.job_events.subscribe();
    let first = jobs::get(&state.pool, tenant_id, job_id).await?.status;
    Ok(upgrade
        .max_message_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| {
            let watched = Watched {
                caller: socket_caller,
                stage,
                tenant_id,
                job_id,
            };
            stream(socket, state, events, watched, first)
        }))
}

fn update(tenant_id: TenantId, job_id: JobId, status: serde_json::Value) -> Message {
    Message::Text(
        json!({"type": "job_status_update", "tenant_id": tenant_id, "job_id": job_id, "status": status})
            .to_string()
            .into(),
    )
}

/// Who watches which job's stage.
struct Watched {
    caller: SocketCaller,
    stage: Stage,
    tenant_id: TenantId,
    job_id: JobId,
}

async fn stream(
    mut socket: WebSocket,
    state: ApiState,
    mut events: tokio::sync::broadcast::Receiver<crate::store::job_events::JobEvent>,
    watched: Watched,
    first: serde_json::Value,
) {
    let Watched {
        caller,
        stage,
        tenant_id,
        job_id,
    } = watched;
    let mut stopping = state.stopping.clone();
    if !send(&mut socket, update(tenant_id, job_id, first)).await {
        return;
    }
    let mut recheck = tokio::time::interval(RECHECK_AFTER);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    recheck.tick().await;
    let mut close = CloseFrame {
        code: axum::extract::ws::close_code::AWAY,
        reason: "server stopping".into(),
    };
    loop {
        // None: time to check the credential again.
        let changed = tokio::select! {
            event = events.recv() => match event {
                Ok(event) => Some(event.tenant_id == tenant_id && event.job_id == job_id
                    && event.stage.as_deref().is_none_or(|s| s == stage.as_str())),
                // Missed events: the status read next is the whole truth anyway.
                Err(RecvError::Lagged(_)) => Some(true),
                Err(RecvError::Closed) => break,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => Some(false),
            },
            _ = stopping.wait_for(|stop| *stop) => break,
            _ = recheck.tick() => None,
        };
        let Some(changed) = changed else {
            if state.auth.still_valid(&state.pool, &caller).await {
                continue;
            }
            close = CloseFrame {
                code: axum::extract::ws::close_code::POLICY,
                reason: "the credential is no longer valid".into(),
            };
            break;
        };
        if !changed {
            continue;
        }
        let status = match jobs::get(&state.pool, tenant_id, job_id).await {
            Ok(job) => job.status,
            Err(error) => {
                tracing::warn!(tenant_id = tenant_id.get(), job_id = job_id.get(), %error, "job status unreadable; closing the socket");
                break;
            }
        };
        if !send(&mut socket, update(tenant_id, job_id, status)).await {
            return;
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
