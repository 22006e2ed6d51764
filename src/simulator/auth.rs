//! Source authentication as the real APIs do it: Jira Basic (e-mail:token), GitHub
//! `Authorization: Bearer|token`; wrong or missing credentials answer 401 in each API's shape.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;

use super::github::routes::github_error;
use super::jira::routes::jira_error;
use super::quota::github_token;
use super::SimulatorConfig;

pub struct Credentials {
    jira_basic: String,
    github_tokens: Vec<String>,
}

impl Credentials {
    pub fn new(config: &SimulatorConfig) -> Self {
        Credentials {
            jira_basic: base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", config.jira_user, config.jira_token)),
            github_tokens: config.github_tokens.clone(),
        }
    }
}

pub async fn jira(
    State(credentials): State<Arc<Credentials>>,
    request: Request,
    next: Next,
) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .map(str::trim);
    if presented == Some(credentials.jira_basic.as_str()) {
        return next.run(request).await;
    }
    let mut response = jira_error(
        StatusCode::UNAUTHORIZED,
        "You are not authenticated. Authentication required to perform this operation.",
    );
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"protected-area\""),
    );
    response
}

pub async fn github(
    State(credentials): State<Arc<Credentials>>,
    request: Request,
    next: Next,
) -> Response {
    match github_token(request.headers()) {
        Some(token) if credentials.github_tokens.iter().any(|t| t == token) => {
            next.run(request).await
        }
        Some(_) => github_error(StatusCode::UNAUTHORIZED, "Bad credentials"),
        None => github_error(StatusCode::UNAUTHORIZED, "Requires authentication"),
    }
}
