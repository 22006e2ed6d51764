//! `/mcp` on the API port: the tools over MCP's streamable HTTP transport, stateless (every
//! POST stands alone, so any API process can answer it) with JSON answers. The caller signs
//! in exactly as for the REST API (a Bearer API token or session); the tenant comes from the
//! credential. Requests naming a `Host` outside `http.mcp_allowed_hosts` are refused.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::Router;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use super::auth::Caller;
use super::state::ApiState;
use crate::mcp::tools::{McpCaller, PulseTools, TenantOf};

/// Where the MCP endpoint is mounted.
pub const MCP_PATH: &str = "/mcp";

/// The `/mcp` route, behind sign-in.
pub fn routes(state: &ApiState) -> Router<ApiState> {
    let pool = state.pool.clone();
    let embedding = Arc::clone(&state.embedding);
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_allowed_hosts(state.mcp_allowed_hosts.clone());
    let service = StreamableHttpService::new(
        move || {
            Ok(PulseTools::new(
                pool.clone(),
                Arc::clone(&embedding),
                TenantOf::Request,
            ))
        },
        Arc::new(NeverSessionManager::default()),
        config,
    );
    Router::new()
        .nest_service(MCP_PATH, service)
        .layer(middleware::from_fn_with_state(state.clone(), signed_in))
}

/// Lets only signed-in callers through, telling the tools whose tenant they answer for.
async fn signed_in(
    State(_): State<ApiState>,
    caller: Caller,
    mut request: Request,
    next: Next,
) -> Response {
    request.extensions_mut().insert(McpCaller(caller.tenant_id));
    next.run(request).await
}
