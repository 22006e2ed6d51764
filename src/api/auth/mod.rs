//! Who is calling: a session JWT or a long-lived API token, sent as `Authorization: Bearer`
//! or (the browser) the `pulse_session` cookie. The tenant always comes from the credential.
//! Accounts and tokens are re-checked against the database at most every
//! [`RECHECK_AFTER`]; a user disabled or given another role, or a token revoked, is also
//! announced to every API process ([`follow_access_changes`]), which forgets that tenant's
//! checked credentials at once. What is remembered is a bounded cache (O(1) a request,
//! whatever is sent).

pub mod jwt;
pub mod login_limit;

use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, Method};
use sqlx::PgPool;
use tokio::sync::Semaphore;

use super::error::ApiError;
use super::state::ApiState;
use crate::domain::{TenantId, UserRole};
use crate::security::{api_token_digest, is_api_token_shaped, API_TOKEN_PREFIX};
use crate::store::{access_changes, api_tokens, notifications, users, StoreError};
use jwt::SessionKeys;

/// The browser's session cookie.
pub const SESSION_COOKIE: &str = "pulse_session";
/// Writes authenticated by the cookie must carry this header (value `1`): a page of another
/// site cannot set it, so it cannot make a signed-in browser write.
pub const CSRF_HEADER: &str = "x-pulse-csrf";
/// How long a checked account or token is trusted before it is looked up again.
pub const RECHECK_AFTER: Duration = Duration::from_secs(15);
/// Credentials remembered at most (the least used are forgotten first).
const REMEMBERED: usize = 10_000;

/// The signed-in caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub tenant_id: TenantId,
    /// The user (none for an API token).
    pub user_id: Option<i64>,
    /// The API token (none for a user's session).
    pub token_id: Option<i64>,
    pub role: UserRole,
}

/// A caller with the `admin` role: the extractor every write handler takes.
#[derive(Debug, Clone, Copy)]
pub struct Admin(pub Caller);

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Checked {
    User(TenantId, i64),
    Token([u8; 32]),
}

/// Authentication state shared by every request.
pub struct Auth {
    pub keys: SessionKeys,
    /// Password checks (argon2, deliberately slow) run on the blocking pool, this many at
    /// once, so a flood of sign-ins cannot starve the rest of the API.
    pub password_checks: Semaphore,
    /// Mark the session cookie `Secure` (serve over HTTPS).
    pub secure_cookie: bool,
    /// Proxies whose `X-Forwarded-For` hops name the client (`http.trusted_proxies`).
    pub trusted_proxies: Vec<ipnet::IpNet>,
    recent: quick_cache::sync::Cache<Checked, (Option<Caller>, Instant)>,
}

impl Auth {
    pub fn new(keys: SessionKeys, secure_cookie: bool, trusted_proxies: Vec<ipnet::IpNet>) -> Self {
        let parallel = std::thread::available_parallelism().map_or(1, |n| n.get());
        Auth {
            keys,
            password_checks: Semaphore::new(parallel.div_ceil(2)),
            secure_cookie,
            trusted_proxies,
            recent: quick_cache::sync::Cache::new(REMEMBERED),
        }
    }

    /// The caller a bearer value stands for, if it is valid now.
    async fn resolve(&self, pool: &PgPool, credential: &str) -> Result<Option<Caller>, StoreError> {
        let key = match credential.starts_with(API_TOKEN_PREFIX) {
            true if is_api_token_shaped(credential) => Checked::Token(api_token_digest(credential)),
            true => return Ok(None),
            false => match self.keys.verify(credential) {
                Some((user_id, claims)) => Checked::User(claims.tenant_id, user_id),
                None => return Ok(None),
            },
        };
        if let Some(caller) = self.remembered(&key) {
            return Ok(caller);
        }
        let caller =
            match &key {
                Checked::User(tenant_id, user_id) => users::active_role(pool, *tenant_id, *user_id)
                    .await?
                    .map(|role| Caller {
                        tenant_id: *tenant_id,
                        user_id: Some(*user_id),
                        token_id: None,
                        role,
                    }),
                Checked::Token(digest) => api_tokens::authenticate(pool, digest).await?.map(
                    |(token_id, tenant_id, role)| Caller {
                        tenant_id,
                        user_id: None,
                        token_id: Some(token_id),
                        role,
                    },
                ),
            };
        self.recent.insert(key, (caller, Instant::now()));
        Ok(caller)
    }

    fn remembered(&self, key: &Checked) -> Option<Option<Caller>> {
        let (caller, at) = self.recent.get(key)?;
        (at.elapsed() < RECHECK_AFTER).then_some(caller)
    }

    /// Forgets every checked credential of `tenant`, so that a user disabled, a role changed
    /// or a token revoked takes effect on this process's next request.
    pub fn forget_tenant(&self, tenant: TenantId) {
        self.recent
            .retain(|_, (caller, _)| caller.is_none_or(|caller| caller.tenant_id != tenant));
    }
}

/// Forgets a tenant's checked credentials whenever any process announces an access change
/// for it, until the process ends; after a lost connection (changes may have been missed) it
/// forgets every credential and listens again.
pub async fn follow_access_changes(pool: PgPool, state: ApiState) {
    let forget = |tenant| state.auth.forget_tenant(tenant);
    let forget_all = || state.auth.recent.clear();
    notifications::follow(&pool, access_changes::CHANNEL, forget, forget_all).await
}

/// The token of an `Authorization: Bearer <token>` header (the scheme in any case).
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The credential of a request and whether it came from the cookie.
fn credential(parts: &Parts) -> Option<(String, bool)> {
    if let Some(token) = bearer(&parts.headers) {
        return Some((token.to_owned(), false));
    }
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|cookie| cookie.name() == SESSION_COOKIE)
        .map(|cookie| (cookie.value().to_owned(), true))
}

/// The signed-in caller, the credential presented and whether it came from the cookie.
async fn authenticate(parts: &Parts, state: &ApiState) -> Result<(Caller, String, bool), ApiError> {
    let Some((token, via_cookie)) = credential(parts) else {
        return Err(ApiError::unauthorized(
            "sign in: send `Authorization: Bearer <token>` or the session cookie",
        ));
    };
    let caller = state
        .auth
        .resolve(&state.pool, &token)
        .await?
        .ok_or_else(|| ApiError::unauthorized("the token is invalid, expired or revoked"))?;
    let span = tracing::Span::current();
    span.record("tenant_id", caller.tenant_id.get());
    if let Some(user_id) = caller.user_id {
        span.record("user_id", user_id);
    }
    Ok((caller, token, via_cookie))
}

impl FromRequestParts<ApiState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let (caller, _, via_cookie) = authenticate(parts, state).await?;
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if via_cookie && !safe && parts.headers.get(CSRF_HEADER).is_none_or(|v| v != "1") {
            return Err(ApiError::forbidden(format!(
                "writes signed in with the session cookie need the header {CSRF_HEADER}: 1"
            )));
        }
        Ok(caller)
    }
}

/// A WebSocket's caller with the credential it presented, so that the socket can check it
/// again while it lives. A cookie-signed upgrade must come from this server's own pages
/// (its `Origin`, when sent, names the host the request was sent to).
pub struct SocketCaller {
    pub caller: Caller,
    credential: String,
}

impl FromRequestParts<ApiState> for SocketCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let (caller, credential, via_cookie) = authenticate(parts, state).await?;
        if via_cookie && !same_origin(parts) {
            return Err(ApiError::forbidden(
                "a WebSocket signed in with the session cookie must be opened from this site",
            ));
        }
        Ok(SocketCaller { caller, credential })
    }
}

/// Whether the request's `Origin`, if any, is the host it was sent to.
fn same_origin(parts: &Parts) -> bool {
    let Some(origin) = parts.headers.get(header::ORIGIN) else {
        return true;
    };
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|origin| url::Url::parse(origin).ok())
        .and_then(|url| {
            let host = url.host_str()?.to_owned();
            Some(match url.port() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            })
        });
    matches!((origin_host, host), (Some(origin), Some(host)) if origin.eq_ignore_ascii_case(host))
}

impl Auth {
    /// Whether the socket's credential still stands for its caller (checked like any
    /// request: at most [`RECHECK_AFTER`] old). A database error keeps the socket open.
    pub async fn still_valid(&self, pool: &PgPool, socket: &SocketCaller) -> bool {
        match self.resolve(pool, &socket.credential).await {
            Ok(Some(now)) => {
                let before = socket.caller;
                (now.tenant_id, now.user_id, now.token_id)
                    == (before.tenant_id, before.user_id, before.token_id)
            }
            Ok(None) => false,
            Err(error) => {
                tracing::warn!(%error, "credential re-check failed; the socket stays open");
                true
            }
        }
    }
}

impl FromRequestParts<ApiState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &ApiState) -> Result<Self, ApiError> {
        let caller = Caller::from_request_parts(parts, state).await?;
        match caller.role {
            UserRole::Admin => Ok(Admin(caller)),
            UserRole::Viewer => Err(ApiError::forbidden("this needs the admin role")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn strings_shaped_unlike_a_token_never_reach_the_database() {
        // A pool that cannot connect: any lookup is an error.
        let pool = sqlx::postgres::PgPoolOptions::new()
            .acquire_timeout(Duration::from_millis(200))
            .connect_lazy("postgres://nobody@127.0.0.1:1/none")
            .unwrap();
        let keys = SessionKeys::new(b"0123456789abcdef0123456789abcdef", RECHECK_AFTER);
        let auth = Auth::new(keys, false, Vec::new());
        let long = format!("{API_TOKEN_PREFIX}{}", "a".repeat(500));
        for flood in ["pulse_", "pulse_x", long.as_str()] {
            assert_eq!(auth.resolve(&pool, flood).await.unwrap(), None, "{flood}");
        }
        let (token, _) = crate::security::new_api_token();
        assert!(
            auth.resolve(&pool, &token).await.is_err(),
            "a token-shaped string is looked up"
        );
    }
}
