//! `ETag` on every successful GitHub answer and `304 Not Modified` for a matching
//! `If-None-Match`, as GitHub's conditional requests work.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use crate::simulator::rng::mix;

const MAX_BODY: usize = 64 * 1024 * 1024;

pub async fn conditional(request: Request, next: Next) -> Response {
    let presented = request.headers().get(header::IF_NONE_MATCH).cloned();
    let response = next.run(request).await;
    if response.status() != StatusCode::OK {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let hash = bytes
        .iter()
        .fold(0xe7a9_u64, |state, byte| mix(state ^ u64::from(*byte)));
    let etag = format!("W/\"{hash:016x}\"");
    let Ok(etag) = HeaderValue::from_str(&etag) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    if presented.as_ref() == Some(&etag) {
        let mut not_modified = Response::new(Body::empty());
        *not_modified.status_mut() = StatusCode::NOT_MODIFIED;
        not_modified.headers_mut().insert(header::ETAG, etag);
        return not_modified;
    }
    parts.headers.insert(header::ETAG, etag);
    Response::from_parts(parts, Body::from(bytes))
}
