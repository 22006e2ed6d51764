//! From a tenant's collection settings to a working [`Embedder`]: the local model is loaded
//! once per process and shared; an OpenAI-compatible endpoint gets its key unsealed.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::OnceCell;

use super::local::{LocalEmbedder, LocalModel};
use super::openai::OpenAiEmbedder;
use super::{EmbedError, Embedder};
use crate::connectors::outbound::Outbound;
use crate::domain::TenantId;
use crate::security::CredentialCipher;
use crate::store::vectors::CollectionSettings;

/// The provider names settings use.
pub const LOCAL: &str = "local";
pub const OPENAI: &str = "openai";

/// What seals an embedding API key to its tenant.
pub fn api_key_context(tenant: TenantId) -> Vec<u8> {
    format!("embedding-api-key:{}", tenant.get()).into_bytes()
}

/// Builds embedders for collection settings.
pub struct Embedders {
    model_dir: PathBuf,
    cipher: Option<CredentialCipher>,
    outbound: Outbound,
    local: OnceCell<Arc<LocalModel>>,
}

impl Embedders {
    /// Embedders using the local model in `model_dir`, unsealing API keys with `cipher`,
    /// reaching endpoints where `outbound` permits.
    pub fn new(model_dir: PathBuf, cipher: Option<CredentialCipher>, outbound: Outbound) -> Self {
        Embedders {
            model_dir,
            cipher,
            outbound,
            local: OnceCell::new(),
        }
    }

    /// The embedder a collection's settings name.
    pub async fn for_collection(
        &self,
        settings: &CollectionSettings,
    ) -> Result<Arc<dyn Embedder>, EmbedError> {
        if settings.provider == OPENAI {
            let api_key = match (&settings.api_key_encrypted, &self.cipher) {
                (None, _) => None,
                (Some(sealed), Some(cipher)) => {
                    let plain = cipher
                        .open(sealed, &api_key_context(settings.tenant_id))
                        .map_err(|error| {
                            EmbedError::Model(format!("the API key cannot be unsealed: {error}"))
                        })?;
                    Some(String::from_utf8_lossy(&plain).into_owned())
                }
                (Some(_), None) => {
                    return Err(EmbedError::Model(
                        "the API key is sealed but no security.secret_key is configured".into(),
                    ))
                }
            };
            let base_url = settings.base_url.as_deref().unwrap_or_default();
            return Ok(Arc::new(OpenAiEmbedder::new(
                base_url,
                &settings.model,
                api_key,
                &self.outbound,
            )));
        }
        let dir = self.model_dir.clone();
        let model = self
            .local
            .get_or_try_init(|| async move {
                tokio::task::spawn_blocking(move || LocalModel::load(&dir))
                    .await
                    .map_err(|error| EmbedError::Model(error.to_string()))?
                    .map(Arc::new)
            })
            .await?;
        Ok(Arc::new(LocalEmbedder::new(Arc::clone(model))))
    }
}
