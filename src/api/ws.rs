//! `/ws/job/{stage}/{tenant_id}/{job_id}`: live job status. The first message is the
//! current status, then a `job_status_update` with the whole status JSON whenever a step ×
//! stage of that stage (or the job as a whole) changes, from whichever process runs the
//! job. Another tenant's path answers 404 before any upgrade; a client that cannot keep up
//! is dropped; shutdown closes every socket with "going away".

use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use super::auth::Caller;
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
    caller: Caller,
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
    if tenant_id != caller.tenant_id {
        return Err(ApiError::not_found(format!("job {job_id} does not exist")));
    }
    // Subscribe before reading, so no change between the read and the stream is missed.
    let events = state.job_events.subscribe();
    let first = jobs::get(&state.pool, tenant_id, job_id).await?.status;
    Ok(upgrade
        .max_message_size(MAX_CLIENT_MESSAGE)
        .on_upgrade(move |socket| stream(socket, state, events, stage, tenant_id, job_id, first)))
}

fn update(tenant_id: TenantId, job_id: JobId, status: serde_json::Value) -> Message {
    Message::Text(
        json!({"type": "job_status_update", "tenant_id": tenant_id, "job_id": job_id, "status": status})
            .to_string()
            .into(),
    )
}

async fn stream(
    mut socket: WebSocket,
    state: ApiState,
    mut events: tokio::sync::broadcast::Receiver<crate::store::job_events::JobEvent>,
    stage: Stage,
    tenant_id: TenantId,
    job_id: JobId,
    first: serde_json::Value,
) {
    let mut stopping = state.stopping.clone();
    if !send(&mut socket, update(tenant_id, job_id, first)).await {
        return;
    }
    loop {
        let changed = tokio::select! {
            event = events.recv() => match event {
                Ok(event) => event.tenant_id == tenant_id && event.job_id == job_id
                    && event.stage.as_deref().is_none_or(|s| s == stage.as_str()),
                // Missed events: the status read next is the whole truth anyway.
                Err(RecvError::Lagged(_)) => true,
                Err(RecvError::Closed) => break,
            },
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => false,
            },
            _ = stopping.wait_for(|stop| *stop) => break,
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
    let close = CloseFrame {
        code: axum::extract::ws::close_code::AWAY,
        reason: "server stopping".into(),
    };
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
