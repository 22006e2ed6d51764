//! The web UI: the single-page app built from `assets/ui` into `assets/ui/dist` and embedded
//! in the binary at build time. Hashed files under `assets/` are cached for a year,
//! `index.html` is never cached, and any other path that is not the API's answers
//! `index.html`, so the app's own URLs can be bookmarked; a missing file under `assets/` is
//! a 404. A binary built without the bundle says how to build it.

use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

use super::error::ApiError;

#[derive(rust_embed::Embed)]
#[folder = "assets/ui/dist"]
#[allow_missing = true]
struct Bundle;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const NO_CACHE: &str = "no-cache";

/// Answers every path no route claims.
pub async fn serve(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    if path == "api" || path.starts_with("api/") || path.starts_with("ws/") {
        return ApiError::not_found("no such path").into_response();
    }
    if !path.is_empty() {
        if let Some(file) = Bundle::get(path) {
            let cache = if path.starts_with("assets/") {
                IMMUTABLE
            } else {
                NO_CACHE
            };
            return answer(file, cache);
        }
        if path.starts_with("assets/") {
            return ApiError::not_found("no such file").into_response();
        }
    }
    match Bundle::get("index.html") {
        Some(index) => answer(index, NO_CACHE),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CACHE_CONTROL, HeaderValue::from_static(NO_CACHE))],
            "The web UI is not in this build: run `scripts/build-ui` (needs Node.js and npm), then build pulse-etl again.",
        )
            .into_response(),
    }
}

fn answer(file: rust_embed::EmbeddedFile, cache: &'static str) -> Response {
    let mime = file.metadata.mimetype().to_owned();
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_str(&mime)
                    .unwrap_or(HeaderValue::from_static("application/octet-stream")),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        file.data,
    )
        .into_response()
}
