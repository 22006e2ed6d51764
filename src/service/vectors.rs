//! A tenant's embedding settings and how far its embedding is — shared by the CLI and the
//! API (search itself is [`super::search`]).

use serde::{Deserialize, Serialize};
use sqlx::PgPool;

use super::integrations::reachable_base_url;
use super::{ServiceError, ServiceResult};
use crate::connectors::outbound::Outbound;
use crate::domain::TenantId;
use crate::embedding::settings::{api_key_context, LOCAL, OPENAI};
use crate::embedding::{local, EmbedError};
use crate::pipeline::embed_stage::Embedding;
use crate::pipeline::source::Catalog;
use crate::security::CredentialCipher;
use crate::store::tenants;
use crate::store::vectors::{self, CollectionSettings, TableCounts};
use crate::vectors::collection_name;

/// A provider that fails is a source failure (502); a local model that cannot load is ours.
pub(super) fn provider_error(error: EmbedError) -> ServiceError {
    match error {
        EmbedError::Provider { .. }
        | EmbedError::Unreachable { .. }
        | EmbedError::Refused { .. } => ServiceError::Source(error.to_string()),
        other => ServiceError::internal(other, "embedding the query"),
    }
}

/// New embedding settings for a tenant.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
pub struct EmbeddingInput {
    /// `local` or `openai`.
    pub provider: String,
    /// The endpoint's model (openai only).
    #[serde(default)]
    pub model: Option<String>,
    /// The endpoint's base URL (openai only).
    #[serde(default)]
    pub base_url: Option<String>,
    /// The endpoint's API key (openai only); stored encrypted, never shown.
    #[serde(default)]
    pub api_key: Option<String>,
}

/// One of a tenant's collections, as shown (never the key).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CollectionView {
    pub collection: String,
    pub provider: String,
    pub model: String,
    pub base_url: Option<String>,
    pub has_api_key: bool,
    /// `active` (searched) or `building` (filled for a model change).
    pub state: String,
}

impl From<CollectionSettings> for CollectionView {
    fn from(settings: CollectionSettings) -> Self {
        CollectionView {
            collection: settings.collection,
            provider: settings.provider,
            model: settings.model,
            base_url: settings.base_url,
            has_api_key: settings.api_key_encrypted.is_some(),
            state: settings.state,
        }
    }
}

/// Sets the tenant's embedding provider and model; returns its collections. An endpoint's
/// base URL is checked like an integration's (no credentials or query; an address literal
/// only where the outbound rule permits).
pub async fn configure(
    pool: &PgPool,
    (cipher, outbound): (Option<&CredentialCipher>, &Outbound),
    tenant: TenantId,
    input: EmbeddingInput,
) -> ServiceResult<Vec<CollectionView>> {
    tenants::ensure_exists(pool, tenant).await?;
    let invalid = |field, message: &str| ServiceError::Invalid {
        field,
        message: message.into(),
    };
    let settings = match input.provider.as_str() {
        LOCAL => {
            if input.base_url.is_some() || input.api_key.is_some() {
                return Err(invalid(
                    "base_url",
                    "the local provider takes no endpoint or key",
                ));
            }
            CollectionSettings {
                tenant_id: tenant,
                collection: collection_name(tenant, local::MODEL_NAME),
                provider: LOCAL.into(),
                model: local::MODEL_NAME.into(),
                base_url: None,
                api_key_encrypted: None,
                state: String::new(),
            }
        }
        OPENAI => {
            let model = input
                .model
                .as_deref()
                .map(str::trim)
                .filter(|m| !m.is_empty())
                .ok_or_else(|| invalid("model", "the openai provider needs a model"))?;
            let base_url = input
                .base_url
                .as_deref()
                .map(str::trim)
                .filter(|u| !u.is_empty())
                .ok_or_else(|| invalid("base_url", "the openai provider needs a base URL"))?;
            let base_url = reachable_base_url(outbound, base_url)?;
            let api_key_encrypted = match input.api_key.as_deref().map(str::trim) {
                Some(key) if !key.is_empty() => {
                    let cipher = cipher.ok_or_else(|| {
                        invalid(
                            "api_key",
                            "storing an API key needs security.secret_key (PULSE_SECRET_KEY)",
                        )
                    })?;
                    Some(
                        cipher
                            .seal(key.as_bytes(), &api_key_context(tenant))
                            .map_err(|error| {
                                ServiceError::internal(error, "sealing the API key")
                            })?,
                    )
                }
                _ => None,
            };
            CollectionSettings {
                tenant_id: tenant,
                collection: collection_name(tenant, model),
                provider: OPENAI.into(),
                model: model.to_owned(),
                base_url: Some(base_url),
                api_key_encrypted,
                state: String::new(),
            }
        }
        _ => return Err(invalid("provider", "must be local or openai")),
    };
    vectors::set(pool, &settings).await?;
    collections(pool, tenant).await
}

/// The tenant's collections.
pub async fn collections(pool: &PgPool, tenant: TenantId) -> ServiceResult<Vec<CollectionView>> {
    Ok(vectors::collections(pool, tenant)
        .await?
        .into_iter()
        .map(CollectionView::from)
        .collect())
}

/// One table's embedding counts.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TableStatus {
    /// `work_items` or `prs`.
    pub table: String,
    #[serde(flatten)]
    pub counts: TableCounts,
}

/// How far the tenant's embedding is.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct VectorsStatus {
    pub collections: Vec<CollectionView>,
    /// The collection being filled (being built, else the active one).
    pub collection: Option<String>,
    /// Points the vector store holds for the tenant in that collection.
    pub points: u64,
    pub tables: Vec<TableStatus>,
}

/// Counts per table for the collection being filled.
pub async fn status(
    pool: &PgPool,
    sources: Catalog,
    embedding: &Embedding,
    tenant: TenantId,
) -> ServiceResult<VectorsStatus> {
    tenants::ensure_exists(pool, tenant).await?;
    let collections = collections(pool, tenant).await?;
    let Some(target) = vectors::target(pool, tenant).await? else {
        return Ok(VectorsStatus {
            collections,
            collection: None,
            points: 0,
            tables: Vec::new(),
        });
    };
    let mut tables = Vec::new();
    for table in sources.embed_tables() {
        let counts = vectors::counts(pool, table, tenant, &target.collection, None).await?;
        tables.push(TableStatus {
            table: table.table.to_owned(),
            counts,
        });
    }
    let points = embedding
        .store
        .count(&target.collection, tenant)
        .await
        .map_err(|error| ServiceError::internal(error, "counting points"))?;
    Ok(VectorsStatus {
        collections,
        collection: Some(target.collection),
        points,
        tables,
    })
}
