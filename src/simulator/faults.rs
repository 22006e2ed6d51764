//! Seeded faults: server errors, dropped connections, slow answers and truncated JSON, at a
//! configured rate, reproducible for the same seed and request order.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::rng::Stream;

pub struct Faults {
    pub rate: f64,
    pub seed: u64,
    pub slow: Duration,
    sequence: AtomicU64,
}

impl Faults {
    pub fn new(rate: f64, seed: u64, slow: Duration) -> Self {
        Faults {
            rate,
            seed,
            slow,
            sequence: AtomicU64::new(0),
        }
    }
}

/// The largest body the truncation fault buffers.
const MAX_BODY: usize = 64 * 1024 * 1024;

pub async fn inject(State(faults): State<Arc<Faults>>, request: Request, next: Next) -> Response {
    let sequence = faults.sequence.fetch_add(1, Ordering::SeqCst);
    let mut stream = Stream::new(faults.seed, &[0xfa17, sequence]);
    if faults.rate <= 0.0 || !stream.chance(faults.rate) {
        return next.run(request).await;
    }
    match stream.below(6) {
        0 => (
            StatusCode::INTERNAL_SERVER_ERROR,
            "{\"errorMessages\":[\"Internal server error\"],\"errors\":{}}",
        )
            .into_response(),
        1 => (
            StatusCode::BAD_GATEWAY,
            "<html><body><h1>502 Bad Gateway</h1></body></html>",
        )
            .into_response(),
        2 => {
            let mut response =
                (StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable").into_response();
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            response
        }
        3 => {
            // The body fails right after the headers: the connection is dropped mid-answer.
            let failing = futures_util::stream::once(async {
                Err::<Bytes, std::io::Error>(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "simulated reset",
                ))
            });
            Response::new(Body::from_stream(failing))
        }
        4 => {
            tokio::time::sleep(faults.slow).await;
            next.run(request).await
        }
        _ => {
            let response = next.run(request).await;
            let (mut parts, body) = response.into_parts();
            let bytes = axum::body::to_bytes(body, MAX_BODY)
                .await
                .unwrap_or_default();
            let cut = bytes.slice(..bytes.len() / 2);
            parts.headers.remove(header::CONTENT_LENGTH);
            parts.headers.remove(header::ETAG);
            Response::from_parts(parts, Body::from(cut))
        }
    }
}
