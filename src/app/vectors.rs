//! `pulse-etl embedding set|show`, `vectors status|rebuild`, `search`: a tenant's embedding
//! settings, how far its embedding is, rebuilding it here and now, and semantic search from
//! the command line. Also builds the vector store and embedders every role uses.

use std::io::Read;

use anyhow::{bail, Context};
use sqlx::PgPool;

use super::output::{Output, Tabular};
use crate::cli::{EmbeddingCommand, EmbeddingProvider, SearchArgs, VectorsCommand};
use crate::config::Config;
use crate::domain::{Scope, TenantId};
use crate::embedding::settings::{Embedders, LOCAL, OPENAI};
use crate::pipeline::embed_run::{self, EmbedHandoff};
use crate::pipeline::embed_stage::Embedding;
use crate::search::fusion::Fusion;
use crate::security::CredentialCipher;
use crate::service::search::{self, SearchHit, SearchQuery};
use crate::service::vectors::{self as service, CollectionView, EmbeddingInput, TableStatus};
use crate::sources::CATALOG;
use crate::store::{integrations, vectors};

/// The configured vector store (the Qdrant server at QDRANT_URL, else the embedded engine
/// under the data directory) and embedders (the local model from `embedding.model_dir`,
/// API keys unsealed with `cipher`, endpoints reached under the outbound rule).
pub fn embedding(config: &Config, cipher: Option<CredentialCipher>) -> anyhow::Result<Embedding> {
    let store = crate::vectors::open(&config.vectors.qdrant_url, &config.data_dir())
        .context("opening the vector store")?;
    Ok(Embedding {
        store,
        embedders: Embedders::new(config.model_dir(), cipher, config.outbound()),
    })
}

/// The credentials cipher when a secret key is configured (API keys need it; the local
/// model does not).
pub(super) fn optional_cipher(config: &Config) -> Option<CredentialCipher> {
    config
        .secret_key()
        .ok()
        .map(|key| CredentialCipher::new(&key))
}

impl Tabular for CollectionView {
    const HEADERS: &'static [&'static str] = &[
        "collection",
        "state",
        "provider",
        "model",
        "endpoint",
        "api key",
    ];

    fn cells(&self) -> Vec<String> {
        vec![
            self.collection.clone(),
            self.state.clone(),
            self.provider.clone(),
            self.model.clone(),
            self.base_url.clone().unwrap_or_default(),
            if self.has_api_key { "set" } else { "" }.to_owned(),
        ]
    }
}

impl Tabular for TableStatus {
    const HEADERS: &'static [&'static str] = &["table", "records", "embedded", "pending", "failed"];

    fn cells(&self) -> Vec<String> {
        let c = &self.counts;
        vec![
            self.table.clone(),
            c.records.to_string(),
            c.embedded.to_string(),
            c.pending.to_string(),
            c.failed.to_string(),
        ]
    }
}

impl Tabular for SearchHit {
    const HEADERS: &'static [&'static str] = &["score", "matched", "key", "title", "status", "url"];

    fn cells(&self) -> Vec<String> {
        vec![
            format!("{:.3}", self.score),
            self.matched.as_str().to_owned(),
            self.key.clone(),
            self.title.clone().unwrap_or_default(),
            self.status.clone().unwrap_or_default(),
            self.url.clone().unwrap_or_default(),
        ]
    }
}

pub async fn embedding_command(
    pool: &PgPool,
    config: &Config,
    output: Output,
    command: EmbeddingCommand,
) -> anyhow::Result<()> {
    match command {
        EmbeddingCommand::Set(args) => {
            let api_key = if args.api_key_stdin {
                let mut key = String::new();
                std::io::stdin()
                    .read_to_string(&mut key)
                    .context("reading the API key from standard input")?;
                Some(key.trim().to_owned())
            } else {
                None
            };
            let cipher = optional_cipher(config);
            let input = EmbeddingInput {
                provider: match args.provider {
                    EmbeddingProvider::Local => LOCAL,
                    EmbeddingProvider::Openai => OPENAI,
                }
                .to_owned(),
                model: args.model,
                base_url: args.base_url,
                api_key,
            };
            let collections = service::configure(
                pool,
                (cipher.as_ref(), &config.outbound()),
                args.tenant,
                input,
            )
            .await?;
            output.list(&collections)
        }
        EmbeddingCommand::Show { tenant } => {
            let collections = service::collections(pool, tenant).await?;
            output.list(&collections)
        }
    }
}

pub async fn vectors_command(
    pool: &PgPool,
    config: &Config,
    output: Output,
    command: VectorsCommand,
) -> anyhow::Result<()> {
    let embedding = embedding(config, optional_cipher(config))?;
    match command {
        VectorsCommand::Status { tenant } => {
            let status = service::status(pool, CATALOG, &embedding, tenant).await?;
            if output.json {
                println!("{}", serde_json::to_string_pretty(&status)?);
                return Ok(());
            }
            match &status.collection {
                Some(collection) => println!("collection {collection}: {} points", status.points),
                None => println!("no embedding settings: see `pulse-etl embedding set`"),
            }
            output.list(&status.tables)
        }
        VectorsCommand::Rebuild { tenant, all } => {
            rebuild(pool, &embedding, tenant, all).await?;
            let status = service::status(pool, CATALOG, &embedding, tenant).await?;
            output.list(&status.tables)
        }
    }
}

/// Embeds here whatever the tenant's target collection lacks (with `all`, everything
/// again), integration by integration, then switches search to it when complete.
async fn rebuild(
    pool: &PgPool,
    embedding: &Embedding,
    tenant: TenantId,
    all: bool,
) -> anyhow::Result<()> {
    let Some(target) = vectors::target(pool, tenant).await? else {
        bail!("tenant {tenant} has no embedding settings: see `pulse-etl embedding set`");
    };
    if all {
        vectors::reset_collection(pool, tenant, &target.collection).await?;
    }
    let mut failed = 0;
    for integration in integrations::list(pool, tenant).await? {
        let scope = Scope::of(crate::domain::IntegrationRef::new(tenant, integration.id));
        let tables = CATALOG.source(integration.provider).embed_tables();
        let done = embed_run::embed_integration(
            pool,
            CATALOG,
            (scope, integration.provider),
            tables,
            EmbedHandoff::InProcess(embedding),
        )
        .await?;
        failed += done.iter().map(|(_, counts)| counts.failed).sum::<u64>();
    }
    let switched =
        embed_run::activate_when_complete(pool, CATALOG, embedding.store.as_ref(), tenant).await?;
    if switched {
        eprintln!("search now reads {}", target.collection);
    }
    if failed > 0 {
        bail!("{failed} record(s) failed to embed (see `pulse-etl vectors status`)");
    }
    Ok(())
}

pub async fn search(
    pool: &PgPool,
    config: &Config,
    output: Output,
    args: SearchArgs,
) -> anyhow::Result<()> {
    let embedding = embedding(config, optional_cipher(config))?;
    let query = SearchQuery {
        text: args.text,
        mode: args.mode,
        source: args.source,
        project: args.project,
        kind: args.kind,
        status: args.status,
        status_category: args.status_category,
        assignee: args.assignee,
        updated_from: args.updated_from,
        updated_to: args.updated_to,
        limit: usize::from(args.limit),
        fusion: Fusion::default(),
    };
    let hits = search::search(pool, CATALOG, &embedding, args.tenant, &query).await?;
    output.list(&hits)
}
