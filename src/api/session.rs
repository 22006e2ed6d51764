//! Signing in and out: `POST /auth/login` checks the password (on the blocking pool, a few
//! at a time; attempts counted before the check, per client address and account and per
//! client address) and answers a session token, also set as an HttpOnly, SameSite=Strict
//! cookie; `POST /auth/logout` clears the cookie; `GET /me` says who the caller is.

use std::net::SocketAddr;
use std::sync::LazyLock;
use std::time::Duration;

use axum::extract::{ConnectInfo, State};
use axum::http::header::SET_COOKIE;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use cookie::{Cookie, SameSite};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{login_limit, Caller, SESSION_COOKIE};
use super::client_addr::client_address;
use super::error::{ApiError, ApiResult, ErrorBody};
use super::extract::Json;
use super::state::ApiState;
use crate::domain::{TenantId, UserRole};
use crate::security::{hash_password, verify_password};
use crate::store::users;

/// How long a sign-in waits for a free password checker before answering 503.
const CHECKER_WAIT: Duration = Duration::from_secs(10);

/// Checked when the address is unknown, so that an unknown address takes as long to refuse
/// as a wrong password (no timing hint of which addresses exist).
static DECOY_HASH: LazyLock<String> =
    LazyLock::new(|| hash_password("decoy password, never used").unwrap_or_default());

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub email: String,
    pub password: String,
    /// Needed only when the same e-mail and password open accounts in several tenants.
    #[serde(default)]
    pub tenant_id: Option<TenantId>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: u64,
}

/// Sign in with e-mail and password.
#[utoipa::path(post, path = "/auth/login", tag = "session", security(()),
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in; the session cookie is set too", body = LoginResponse),
        (status = 401, description = "Wrong e-mail or password", body = ErrorBody),
        (status = 422, description = "Unreadable input", body = ErrorBody),
        (status = 429, description = "Too many failed sign-ins; see Retry-After", body = ErrorBody),
    ))]
async fn login(
    State(state): State<ApiState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    Json(request): Json<LoginRequest>,
) -> ApiResult<Response> {
    let auth = &state.auth;
    let client = client_address(peer.ip(), &headers, &auth.trusted_proxies).to_string();
    let attempt = login_limit::begin(&state.pool, &request.email, &client)
        .await?
        .map_err(|wait| {
            ApiError::retry_later(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_attempts",
                "too many failed sign-ins; try again later",
                wait,
            )
        })?;
    let records = users::for_login(&state.pool, request.email.trim(), request.tenant_id).await?;
    let permit = tokio::time::timeout(CHECKER_WAIT, auth.password_checks.acquire())
        .await
        .ok()
        .and_then(Result::ok)
        .ok_or_else(|| {
            ApiError::retry_later(
                StatusCode::SERVICE_UNAVAILABLE,
                "busy",
                "too many sign-ins at once; try again shortly",
                1,
            )
        })?;
    let hashes: Vec<String> = match records.is_empty() {
        true => vec![DECOY_HASH.clone()],
        false => records.iter().map(|r| r.password_hash.clone()).collect(),
    };
    let password = request.password;
    let matching = tokio::task::spawn_blocking(move || {
        hashes
            .iter()
            .map(|hash| verify_password(&password, hash))
            .collect::<Vec<bool>>()
    })
    .await
    .map_err(|error| ApiError::internal(&error.into()))?;
    drop(permit);
    let mut opened = records
        .into_iter()
        .zip(matching)
        .filter(|(user, matches)| *matches && user.active)
        .map(|(user, _)| user);
    let user = match (opened.next(), opened.next()) {
        (Some(user), None) => user,
        (Some(_), Some(_)) => {
            attempt.succeeded(&state.pool).await?;
            return Err(ApiError::invalid(
                "tenant_id",
                "this e-mail and password open accounts in several tenants: name the tenant",
            ));
        }
        (None, _) => {
            tracing::info!(client, "sign-in refused");
            return Err(ApiError::unauthorized("wrong e-mail or password"));
        }
    };
    attempt.succeeded(&state.pool).await?;
    let token = auth
        .keys
        .issue(user.id, user.tenant_id, user.role)
        .map_err(|error| ApiError::internal(&error.into()))?;
    let lifetime = auth.keys.lifetime;
    let cookie = Cookie::build((SESSION_COOKIE, token.clone()))
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(auth.secure_cookie)
        .path("/")
        .max_age(time_span(lifetime))
        .build();
    tracing::info!(
        tenant_id = user.tenant_id.get(),
        user_id = user.id,
        "signed in"
    );
    let body = LoginResponse {
        access_token: token,
        token_type: "Bearer".into(),
        expires_in: lifetime.as_secs(),
    };
    Ok(([(SET_COOKIE, cookie.to_string())], axum::Json(body)).into_response())
}

fn time_span(duration: Duration) -> cookie::time::Duration {
    cookie::time::Duration::seconds(i64::try_from(duration.as_secs()).unwrap_or(i64::MAX))
}

/// Sign out: the session cookie is cleared (a bearer token stays valid until it expires).
#[utoipa::path(post, path = "/auth/logout", tag = "session", security(()),
    responses((status = 204, description = "Signed out")))]
async fn logout() -> impl IntoResponse {
    let cleared = Cookie::build((SESSION_COOKIE, ""))
        .http_only(true)
        .same_site(SameSite::Strict)
        .path("/")
        .max_age(time_span(Duration::ZERO))
        .build();
    (StatusCode::NO_CONTENT, [(SET_COOKIE, cleared.to_string())])
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// None for an API token.
    pub user_id: Option<i64>,
    pub tenant_id: TenantId,
    /// None for an API token.
    pub email: Option<String>,
    pub role: UserRole,
}

/// Who the caller is.
#[utoipa::path(get, path = "/me", tag = "session",
    responses((status = 200, body = Me), (status = 401, body = ErrorBody)))]
async fn me(State(state): State<ApiState>, caller: Caller) -> ApiResult<axum::Json<Me>> {
    let email = match caller.user_id {
        Some(user_id) => Some(
            users::get(&state.pool, caller.tenant_id, user_id)
                .await?
                .email,
        ),
        None => None,
    };
    Ok(axum::Json(Me {
        user_id: caller.user_id,
        tenant_id: caller.tenant_id,
        email,
        role: caller.role,
    }))
}
