//! The endpoints orchestrators and Prometheus call, on `serve` and on every other role's
//! `--metrics-addr`: `/healthz` (the process answers), `/readyz` (the database and, where
//! the role uses them, the broker and the vector store are reachable) and `/metrics`
//! (Prometheus text). None needs credentials.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::telemetry::metrics;
use crate::vectors::VectorStore;

/// Whether the broker connection is up, asked at each readiness check.
pub type BrokerUp = Arc<dyn Fn() -> bool + Send + Sync>;

/// What a role needs reachable to do its work.
pub struct Readiness {
    pub pool: PgPool,
    /// Checked when the role talks through RabbitMQ.
    pub broker: Option<BrokerUp>,
    /// Checked when the role reads or writes vectors.
    pub vectors: Option<Arc<dyn VectorStore>>,
}

/// `/healthz`, `/readyz` and `/metrics` over `readiness`.
pub fn routes<S>(readiness: Arc<Readiness>) -> Router<S> {
    Router::new()
        .route("/healthz", get(alive))
        .route("/readyz", get(ready))
        .route("/metrics", get(scrape))
        .with_state(readiness)
}

async fn alive() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn ready(State(readiness): State<Arc<Readiness>>) -> (StatusCode, Json<Value>) {
    let database = sqlx::query("SELECT 1")
        .execute(&readiness.pool)
        .await
        .is_ok();
    let broker = readiness.broker.as_ref().map(|up| up());
    let vectors = match &readiness.vectors {
        Some(store) => Some(store.ping().await.is_ok()),
        None => None,
    };
    let ready = database && broker.unwrap_or(true) && vectors.unwrap_or(true);
    let status = match ready {
        true => StatusCode::OK,
        false => StatusCode::SERVICE_UNAVAILABLE,
    };
    let body = json!({
        "status": if ready { "ready" } else { "not ready" },
        "database": database,
        "broker": broker,
        "vectors": vectors,
    });
    (status, Json(body))
}

/// Prometheus' text format, the pool's gauges read now.
async fn scrape(State(readiness): State<Arc<Readiness>>) -> impl IntoResponse {
    metrics::db_pool(&readiness.pool);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        metrics::render(),
    )
}
