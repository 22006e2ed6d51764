//! `pulse-etl mcp`: builds the vector store and embedders from the configuration and serves
//! the tenant's tools over stdio.

use std::sync::Arc;

use sqlx::PgPool;

use super::vectors::{embedding, optional_cipher};
use crate::cli::McpArgs;
use crate::config::Config;

pub async fn run(pool: &PgPool, config: &Config, args: McpArgs) -> anyhow::Result<()> {
    let embedding = Arc::new(embedding(config, optional_cipher(config))?);
    crate::mcp::stdio::serve(pool.clone(), embedding, args.tenant, &args.token).await?;
    Ok(())
}
