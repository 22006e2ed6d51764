//! `pulse-etl mcp`: the tools for one tenant over stdin and stdout, for an assistant that
//! starts this process itself. The API token given must be a live token of that tenant;
//! logs go to stderr, stdout carries only the protocol.

use std::sync::Arc;

use rmcp::ServiceExt;
use sqlx::PgPool;

use super::tools::{PulseTools, TenantOf};
use crate::domain::TenantId;
use crate::pipeline::embed_stage::Embedding;
use crate::security::{api_token_digest, is_api_token_shaped};
use crate::store::{api_tokens, StoreError};

/// Why the stdio server did not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum StdioError {
    #[error("the API token is not a live token of tenant {0}")]
    Refused(TenantId),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("MCP over stdio: {0}")]
    Protocol(String),
}

/// Serves the tools for `tenant` on stdin/stdout until the client closes them.
pub async fn serve(
    pool: PgPool,
    embedding: Arc<Embedding>,
    tenant: TenantId,
    token: &str,
) -> Result<(), StdioError> {
    let owner = match is_api_token_shaped(token) {
        true => api_tokens::authenticate(&pool, &api_token_digest(token)).await?,
        false => None,
    };
    if owner.is_none_or(|(_, token_tenant, _)| token_tenant != tenant) {
        return Err(StdioError::Refused(tenant));
    }
    let tools = PulseTools::new(pool, embedding, TenantOf::Fixed(tenant));
    let running = tools
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|error| StdioError::Protocol(error.to_string()))?;
    running
        .waiting()
        .await
        .map_err(|error| StdioError::Protocol(error.to_string()))?;
    Ok(())
}
