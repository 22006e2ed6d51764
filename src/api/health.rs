//! `/healthz` (the process answers) and `/readyz` (the database, the vector store and, where
//! configured, the broker are reachable), for orchestrators; neither needs credentials.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

use super::state::ApiState;

pub async fn alive() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

pub async fn ready(State(state): State<ApiState>) -> (StatusCode, Json<Value>) {
    let database = sqlx::query("SELECT 1").execute(&state.pool).await.is_ok();
    let broker = state.broker.as_ref().map(|broker| broker.is_connected());
    let vectors = state.embedding.store.ping().await.is_ok();
    let ready = database && vectors && broker.unwrap_or(true);
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(
            json!({"status": if ready { "ready" } else { "not ready" }, "database": database, "vectors": vectors, "broker": broker}),
        ),
    )
}
