//! A rate-limit storm on demand: for the seconds `POST /_sim/storm {"seconds", "retry_after"}`
//! asks, every API request is answered 429 with `Retry-After`, as a source under a
//! tenant-wide limit does.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

/// The storm in force, if any: until when, and the pause each answer asks for.
#[derive(Default)]
pub struct Storm(Mutex<Option<(Instant, u64)>>);

impl Storm {
    fn current(&self) -> Option<u64> {
        let mut storm = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match *storm {
            Some((until, retry_after)) if Instant::now() < until => Some(retry_after),
            _ => {
                *storm = None;
                None
            }
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct StormBody {
    seconds: u64,
    retry_after: u64,
}

/// `POST /_sim/storm`: starts (or, with `seconds: 0`, ends) a storm.
pub async fn start(State(storm): State<Arc<Storm>>, Json(body): Json<StormBody>) -> Response {
    let until = Instant::now() + Duration::from_secs(body.seconds);
    *storm
        .0
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some((until, body.retry_after));
    Json(json!({"seconds": body.seconds, "retry_after": body.retry_after})).into_response()
}

/// Answers 429 while a storm lasts; passes the request on otherwise.
pub async fn inject(State(storm): State<Arc<Storm>>, request: Request, next: Next) -> Response {
    match storm.current() {
        Some(retry_after) => (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, retry_after.to_string())],
            Json(json!({"message": "rate limit storm"})),
        )
            .into_response(),
        None => next.run(request).await,
    }
}
