//! What a source (Jira, GitHub, …) gives the provider-free pipeline: its sync, its
//! transform of queued raw rows, its reprocess from stored raw data, and the raw kinds and
//! tables it owns. The sources register themselves in one [`Catalog`] that the roles hand
//! to the stages.

use futures_util::future::BoxFuture;
use sqlx::PgPool;

use super::sync::{StepRecorder, SyncContext, Synced};
use super::transform_stage::TransformError;
use super::webhooks::{HookTarget, Installed, Refreshed};
use super::StepReport;
use crate::connectors::outbound::Outbound;
use crate::domain::input::{InvalidInput, SourceScope};
use crate::domain::{IntegrationRef, JobStep, Provider};
use crate::queue::StageMessage;
use crate::security::CredentialCipher;
use crate::store::bulk::Upsert;
use crate::store::load_batches::{LoadRows, LoadTable};
use crate::store::raw::RawRecord;
use crate::store::vectors::EmbedTable;
use crate::store::StoreError;

/// What opening a source's client takes: the key that unseals the integration's
/// credentials and the outbound rule its requests obey.
#[derive(Clone)]
pub struct Reach {
    pub cipher: CredentialCipher,
    pub outbound: Outbound,
}

/// How a source is named and connected, for people: what the UI's integration form asks.
#[derive(Debug, Clone, Copy, serde::Serialize, utoipa::ToSchema)]
pub struct SourceForm {
    /// The source's name as people write it ("Azure DevOps").
    pub label: &'static str,
    /// An example base URL.
    pub base_url_example: &'static str,
    /// The label of the account field where the source signs in with one (null: the token
    /// alone signs in).
    pub username_label: Option<&'static str>,
    /// The lists an integration is narrowed by, in the order the form asks for them.
    #[schema(value_type = Vec<ScopeField>)]
    pub scopes: &'static [ScopeField],
    /// Whether it has custom fields to discover and map to work-item columns.
    pub custom_fields: bool,
}

/// Transforms a transform message's raw rows into load work (malformed rows are marked
/// failed and counted); `in_hand`: those of the rows this process holds as stored (the rest
/// are read from the database).
pub type TransformFn = for<'a> fn(
    &'a PgPool,
    &'a StageMessage,
    Vec<RawRecord>,
) -> BoxFuture<'a, Result<(LoadRows, StepReport), TransformError>>;

/// A raw row kind a source's transform messages carry, and its transform.
pub struct KindTransform {
    pub kind: &'static str,
    pub transform: TransformFn,
}

/// A list an integration is narrowed by (empty: everything the token sees).
#[derive(Debug, Clone, Copy, serde::Serialize, utoipa::ToSchema)]
pub struct ScopeField {
    /// The integration setting it fills: `projects` or `repos`.
    pub field: &'static str,
    /// How the list is described to people.
    pub label: &'static str,
}

/// One source's component: everything the stages need to know about it.
pub trait Source: Send + Sync {
    fn provider(&self) -> Provider;

    /// How people name and connect it.
    fn form(&self) -> &'static SourceForm;

    /// The steps of its job, in run order: the job's status lists exactly these.
    fn steps(&self) -> &'static [JobStep];

    /// The raw row kinds its transform messages carry, each with its transform, in the
    /// order recovery replays them (a comment is loaded only onto a known pull request, so
    /// pull requests come first).
    fn transforms(&self) -> &'static [KindTransform];

    /// The tables its load work fills.
    fn load_tables(&self) -> &'static [&'static LoadTable];

    /// Upserts it runs directly rather than as load work (metadata it loads as it reads), so
    /// the schema check prepares them too.
    fn direct_upserts(&self) -> &'static [&'static Upsert] {
        &[]
    }

    /// The tables whose records are embedded for search.
    fn embed_tables(&self) -> &'static [&'static EmbedTable];

    /// Checks and normalises what a new integration of this source reads and who signs in.
    fn check_scope(&self, scope: SourceScope) -> Result<SourceScope, InvalidInput>;

    /// Runs a job's steps in order, each recorded on `recorder`; returns the source's
    /// request counts with the steps' outcome (set-up failures are the outer error).
    fn sync<'a>(
        &'a self,
        context: &'a SyncContext<'a>,
        recorder: &'a mut StepRecorder<'_>,
    ) -> BoxFuture<'a, anyhow::Result<Synced>>;

    /// Discovers the integration's custom fields (stored raw, merged into its known fields);
    /// returns how many it knows. Only sources whose form says they have custom fields.
    fn discover_fields<'a>(
        &'a self,
        pool: &'a PgPool,
        reach: &'a Reach,
        integration: IntegrationRef,
    ) -> BoxFuture<'a, anyhow::Result<usize>>;

    /// Signs in to the source with the integration's stored credentials and reads what the
    /// integration is set to read; returns what was reached, or why it failed.
    fn test_connection<'a>(
        &'a self,
        pool: &'a PgPool,
        reach: &'a Reach,
        integration: IntegrationRef,
    ) -> BoxFuture<'a, anyhow::Result<String>>;

    /// Reads again, through the usual raw → transform → load path, the entities that webhook
    /// deliveries name (as they are now: events arrive late and out of order), and marks
    /// those the deliveries say were deleted; a delivery naming nothing the integration keeps
    /// is counted as ignored. A source error fails the whole batch, which stays pending.
    fn refresh<'a>(
        &'a self,
        context: &'a SyncContext<'a>,
        deliveries: &'a [RawRecord],
    ) -> BoxFuture<'a, anyhow::Result<Refreshed>>;

    /// Registers the integration's webhooks at the source, delivering to `hook` (replacing
    /// hooks registered before); where the token may not, says what to set up by hand.
    fn install_webhooks<'a>(
        &'a self,
        pool: &'a PgPool,
        reach: &'a Reach,
        integration: IntegrationRef,
        hook: &'a HookTarget,
    ) -> BoxFuture<'a, anyhow::Result<Installed>>;

    /// Removes the integration's registered webhooks from the source (one already gone
    /// counts as removed); returns the targets removed.
    fn uninstall_webhooks<'a>(
        &'a self,
        pool: &'a PgPool,
        reach: &'a Reach,
        integration: IntegrationRef,
    ) -> BoxFuture<'a, anyhow::Result<Vec<String>>>;

    /// Transforms and loads the newest stored raw copy of everything the integration has,
    /// with no API call; returns a report per step.
    fn reprocess<'a>(
        &'a self,
        pool: &'a PgPool,
        integration: IntegrationRef,
    ) -> BoxFuture<'a, Result<Vec<(&'static str, StepReport)>, StoreError>>;
}

/// Every registered source: found by provider (an exhaustive match, so a provider without
/// a source does not compile) or walked in order.
#[derive(Clone, Copy)]
pub struct Catalog {
    pub of: fn(Provider) -> &'static dyn Source,
    pub all: &'static [&'static dyn Source],
}

impl Catalog {
    pub fn source(&self, provider: Provider) -> &'static dyn Source {
        (self.of)(provider)
    }

    /// The steps of `provider`'s job, in run order.
    pub fn steps(&self, provider: Provider) -> &'static [JobStep] {
        self.source(provider).steps()
    }

    /// Every load table of every source, once each (sources may fill the same table).
    pub fn load_tables(&self) -> Vec<&'static LoadTable> {
        let mut tables: Vec<&'static LoadTable> = Vec::new();
        for table in self.all.iter().flat_map(|source| source.load_tables()) {
            if !tables.iter().any(|known| std::ptr::eq(*known, *table)) {
                tables.push(table);
            }
        }
        tables
    }

    /// Every upsert a source runs directly (see [`Source::direct_upserts`]).
    pub fn direct_upserts(&self) -> impl Iterator<Item = &'static Upsert> + '_ {
        self.all
            .iter()
            .flat_map(|source| source.direct_upserts().iter().copied())
    }

    /// Every embedded table, once (sources sharing a table register it each with their own
    /// step; the first registration stands for the table).
    pub fn embed_tables(&self) -> impl Iterator<Item = &'static EmbedTable> + '_ {
        let mut seen = Vec::new();
        self.all
            .iter()
            .flat_map(|source| source.embed_tables().iter().copied())
            .filter(move |table| {
                let fresh = !seen.contains(&table.table);
                seen.push(table.table);
                fresh
            })
    }

    /// The embedded table named `name`.
    pub fn embed_table(&self, name: &str) -> Option<&'static EmbedTable> {
        self.embed_tables().find(|table| table.table == name)
    }
}
