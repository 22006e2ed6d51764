//! An OpenAI-compatible `POST /v1/embeddings`, backed by the local model, for testing the
//! `openai` provider: bearer key checked (unless none is set, as a local Ollama needs none), every `throttle_every`-th request answered 429
//! with `Retry-After: 1`, and `POST /_sim/embeddings {"failing": true}` makes every request
//! fail with 500 until turned off.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use tokio::sync::OnceCell;

use crate::embedding::local::LocalModel;

/// The endpoint's state.
pub struct EmbeddingsState {
    model_dir: PathBuf,
    api_key: String,
    throttle_every: u64,
    model: OnceCell<Arc<LocalModel>>,
    requests: AtomicU64,
    texts: AtomicU64,
    failing: AtomicBool,
}

impl EmbeddingsState {
    pub fn new(model_dir: PathBuf, api_key: String, throttle_every: u64) -> Self {
        EmbeddingsState {
            model_dir,
            api_key,
            throttle_every,
            model: OnceCell::new(),
            requests: AtomicU64::new(0),
            texts: AtomicU64::new(0),
            failing: AtomicBool::new(false),
        }
    }

    /// Requests answered and texts embedded so far.
    pub fn counts(&self) -> serde_json::Value {
        json!({
            "requests": self.requests.load(Ordering::Relaxed),
            "texts": self.texts.load(Ordering::Relaxed),
            "failing": self.failing.load(Ordering::Relaxed),
        })
    }

    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::Relaxed);
    }
}

/// `input` as OpenAI takes it: one string or several.
#[derive(Deserialize)]
#[serde(untagged)]
enum Input {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize)]
pub struct EmbeddingsRequest {
    model: String,
    input: Input,
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({"error": {"message": message, "type": "simulated"}})),
    )
        .into_response()
}

pub async fn embeddings(
    State(state): State<Arc<EmbeddingsState>>,
    headers: HeaderMap,
    Json(request): Json<EmbeddingsRequest>,
) -> Response {
    let number = state.requests.fetch_add(1, Ordering::Relaxed) + 1;
    let expected = format!("Bearer {}", state.api_key);
    let authorized = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value == expected);
    if !state.api_key.is_empty() && !authorized {
        return error(StatusCode::UNAUTHORIZED, "missing or wrong API key");
    }
    if state.failing.load(Ordering::Relaxed) {
        return error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the simulated provider is failing",
        );
    }
    if state.throttle_every > 0 && number % state.throttle_every == 0 {
        let mut response = error(StatusCode::TOO_MANY_REQUESTS, "rate limited");
        response
            .headers_mut()
            .insert("retry-after", axum::http::HeaderValue::from_static("1"));
        return response;
    }
    let texts = match request.input {
        Input::One(text) => vec![text],
        Input::Many(texts) => texts,
    };
    let dir = state.model_dir.clone();
    let model = state
        .model
        .get_or_try_init(|| async move {
            tokio::task::spawn_blocking(move || LocalModel::load(&dir))
                .await
                .map_err(|e| e.to_string())?
                .map(Arc::new)
                .map_err(|e| e.to_string())
        })
        .await;
    let model = match model {
        Ok(model) => Arc::clone(model),
        Err(message) => return error(StatusCode::INTERNAL_SERVER_ERROR, &message),
    };
    let count = texts.len();
    let vectors = tokio::task::spawn_blocking(move || model.embed_blocking(&texts)).await;
    let vectors = match vectors {
        Ok(Ok(vectors)) => vectors,
        Ok(Err(failed)) => return error(StatusCode::INTERNAL_SERVER_ERROR, &failed.to_string()),
        Err(failed) => return error(StatusCode::INTERNAL_SERVER_ERROR, &failed.to_string()),
    };
    state.texts.fetch_add(count as u64, Ordering::Relaxed);
    let data: Vec<_> = vectors
        .into_iter()
        .enumerate()
        .map(|(index, embedding)| json!({"object": "embedding", "index": index, "embedding": embedding}))
        .collect();
    Json(json!({
        "object": "list",
        "data": data,
        "model": request.model,
        "usage": {"prompt_tokens": 0, "total_tokens": 0},
    }))
    .into_response()
}

#[derive(Deserialize)]
pub struct FailingBody {
    failing: bool,
}

/// `GET /_sim/embeddings`: counts; `POST /_sim/embeddings {"failing": bool}`.
pub async fn control_get(State(state): State<Arc<EmbeddingsState>>) -> Response {
    Json(state.counts()).into_response()
}

pub async fn control_set(
    State(state): State<Arc<EmbeddingsState>>,
    Json(body): Json<FailingBody>,
) -> Response {
    state.set_failing(body.failing);
    Json(state.counts()).into_response()
}
