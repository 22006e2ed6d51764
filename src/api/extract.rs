//! Request extractors whose refusals use the API's error shape: JSON bodies, query strings
//! and path parameters that cannot be read answer 400/422 naming what was wrong. Text with
//! a NUL character, which PostgreSQL cannot store or compare, is refused here for every
//! body, query string and path (400).

use axum::body::Bytes;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use chrono::{DateTime, Datelike, Utc};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::error::ApiError;

const NUL_REFUSED: &str = "text may not contain the NUL character";

/// A JSON body.
pub struct Json<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Json<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(request.headers()) {
            return Err(ApiError::rejected(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "Expected request with `Content-Type: application/json`",
            ));
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| ApiError::rejected(rejection.status(), rejection.body_text()))?;
        // JSON can spell NUL only as this escape (a raw 0x00 byte is not JSON).
        if bytes.windows(6).any(|window| window == b"\\u0000") {
            return Err(ApiError::bad_request(NUL_REFUSED));
        }
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(JsonRejection::JsonDataError(error)) => Err(data_error(&error.body_text())),
            Err(other) => Err(ApiError::rejected(other.status(), other.body_text())),
        }
    }
}

/// `application/json` or an `application/*+json` type, as axum's own `Json` accepts.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let media = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

/// A query string.
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // A query string can spell NUL only as `%00`.
        if parts.uri.query().is_some_and(|query| query.contains("%00")) {
            return Err(ApiError::bad_request(NUL_REFUSED));
        }
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(error)) => {
                Err(data_error(&error.body_text()))
            }
            Err(other) => Err(ApiError::bad_request(other.body_text())),
        }
    }
}

/// Path parameters.
pub struct Path<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        // A path can spell NUL only as `%00`.
        if parts.uri.path().contains("%00") {
            return Err(ApiError::bad_request(NUL_REFUSED));
        }
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Path(value))
            .map_err(|rejection| ApiError::bad_request(rejection.body_text()))
    }
}

/// An optional RFC 3339 time in the years 1 to 9999, the range every database query can
/// compare with (PostgreSQL's own ends near 4713 BC), for `#[serde(deserialize_with)]`.
pub fn timestamp<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<DateTime<Utc>>, D::Error> {
    let Some(at) = Option::<DateTime<Utc>>::deserialize(deserializer)? else {
        return Ok(None);
    };
    if !(1..=9999).contains(&at.year()) {
        return Err(serde::de::Error::custom(
            "must be a time in the years 0001 to 9999",
        ));
    }
    Ok(Some(at))
}

/// A 422 naming the field serde pointed at: `path: problem`, or `missing field `x``.
fn data_error(text: &str) -> ApiError {
    // Drop axum's "Failed to deserialize ...: " prefix.
    let detail = text.split_once(": ").map_or(text, |(_, detail)| detail);
    if let Some((_, rest)) = detail.split_once("missing field `") {
        if let Some((field, _)) = rest.split_once('`') {
            return ApiError::invalid(field, detail);
        }
    }
    match detail.split_once(": ") {
        Some((path, problem)) if !path.contains(' ') => ApiError::invalid(path, problem),
        _ => ApiError::invalid("body", detail),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use axum::response::IntoResponse;

    use super::*;

    async fn body(error: ApiError) -> serde_json::Value {
        let response = error.into_response();
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let bytes = axum::body::to_bytes(response.into_body(), 10_000)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn serde_errors_name_the_field() {
        let missing = body(data_error(
            "Failed to deserialize the JSON body into the target type: missing field `email` at line 1 column 2",
        ))
        .await;
        assert_eq!(missing["error"]["field"], "email");
        let wrong = body(data_error(
            "Failed to deserialize the JSON body into the target type: role: unknown variant `boss`, expected `admin` or `viewer` at line 1 column 15",
        ))
        .await;
        assert_eq!(wrong["error"]["field"], "role");
        assert_eq!(wrong["error"]["code"], "invalid_input");
    }
}
