//! Processing stored webhook deliveries, after the receivers answered: per integration (one
//! processor at a time, under an advisory lock), a short wait so a burst's events gather,
//! then the pending deliveries in batches — the source reads the entities they name again
//! (events arrive late and out of order; the entity as it is now is what counts) through the
//! usual raw → transform → load path, and what changed is embedded. A delivery stays pending
//! until that is done, so a process killed midway leaves it for the next one. Also the
//! registration loop the sources' webhook install and uninstall share.

use std::time::Duration;

use sqlx::PgPool;

use super::embed_stage::Embedding;
use super::handoff::Handoff;
use super::source::{Catalog, Reach};
use super::sync::{embed, SyncContext};
use crate::domain::{IntegrationRef, Provider, Scope};
use crate::queue::rabbitmq::Broker;
use crate::store::{raw, tenants, webhooks};

/// How long after the first of a burst of events the processor starts reading: events of
/// the same entity within it cost one read.
pub const COALESCE_WINDOW: Duration = Duration::from_secs(1);

/// Deliveries handled per round (Jira reads up to a hundred issues per search).
const BATCH: i64 = 500;

/// What a source's refresh did for a batch of deliveries.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Refreshed {
    /// Entities read again from the source.
    pub refreshed: u64,
    /// Entities the deliveries said were deleted, marked so.
    pub deleted: u64,
    /// Deliveries naming nothing this integration keeps (other events, other projects).
    pub ignored: u64,
    /// Requests sent to the source.
    pub requests: u64,
}

/// Where a source is asked to deliver: the receiver's public URL and the secret to sign with.
pub struct HookTarget {
    pub url: String,
    pub secret: String,
}

/// What registering webhooks at a source did.
#[derive(Debug, Default, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct Installed {
    /// Targets (repositories, or `site`) with a hook registered now.
    pub registered: Vec<String>,
    /// Where the token may not register hooks: what to set up by hand in the source's
    /// settings, one line each (the secret included: it is shown this once).
    pub manual: Vec<String>,
}

/// Whether the source refused to register a hook for lack of rights (401, 403, or GitHub's
/// 404 for a repository the token may not administer).
pub fn lacks_rights(error: &crate::connectors::http::ConnectorError) -> bool {
    use crate::connectors::http::ConnectorError;
    matches!(error, ConnectorError::Status { status, .. }
        if [401, 403, 404].contains(&status.as_u16()))
}

/// Registers a hook per target with `register` (a target's earlier hook removed first with
/// `remove`), recording each; a target the token may not register is described by `manual`.
pub async fn install_each<R, D>(
    pool: &PgPool,
    integration: IntegrationRef,
    (targets, hook): (Vec<String>, &HookTarget),
    register: impl Fn(String) -> R,
    remove: impl Fn(String, String) -> D,
    manual: impl Fn(&str) -> String,
) -> anyhow::Result<Installed>
where
    R: std::future::Future<Output = Result<String, crate::connectors::http::ConnectorError>>,
    D: std::future::Future<Output = Result<(), crate::connectors::http::ConnectorError>>,
{
    let before = webhooks::registrations(pool, integration).await?;
    let mut installed = Installed::default();
    for target in targets {
        if let Some(old) = before.iter().find(|r| r.target == target) {
            match remove(target.clone(), old.hook_id.clone()).await {
                Err(error) if !lacks_rights(&error) => return Err(error.into()),
                _ => webhooks::forget_registration(pool, integration, &target).await?,
            }
        }
        match register(target.clone()).await {
            Ok(hook_id) => {
                webhooks::record_registration(pool, integration, (&target, &hook_id, &hook.url))
                    .await?;
                installed.registered.push(target);
            }
            Err(error) if lacks_rights(&error) => installed.manual.push(manual(&target)),
            Err(error) => return Err(error.into()),
        }
    }
    Ok(installed)
}

/// Removes every registered hook with `remove` (one the source no longer has, or will not
/// let the token remove, is forgotten all the same, and named in the log); returns the
/// targets removed.
pub async fn uninstall_each<D>(
    pool: &PgPool,
    integration: IntegrationRef,
    remove: impl Fn(String, String) -> D,
) -> anyhow::Result<Vec<String>>
where
    D: std::future::Future<Output = Result<(), crate::connectors::http::ConnectorError>>,
{
    let mut removed = Vec::new();
    for registration in webhooks::registrations(pool, integration).await? {
        match remove(registration.target.clone(), registration.hook_id.clone()).await {
            Ok(()) => {}
            Err(error) if lacks_rights(&error) => tracing::warn!(
                target = registration.target,
                %error,
                "hook not removed at the source (gone, or the token may not): forgotten here"
            ),
            Err(error) => return Err(error.into()),
        }
        webhooks::forget_registration(pool, integration, &registration.target).await?;
        removed.push(registration.target);
    }
    Ok(removed)
}

/// What processing deliveries works with.
#[derive(Clone, Copy)]
pub struct Processor<'a> {
    pub pool: &'a PgPool,
    pub reach: &'a Reach,
    pub sources: Catalog,
    pub embedding: &'a Embedding,
    /// Transform work goes over RabbitMQ (to the tenant's tier) when set, else stays here.
    pub broker: Option<&'a Broker>,
}

/// Integrations processed side by side by one processor.
const SIDE_BY_SIDE: usize = 8;

/// Lock key space of the delivery processors (the second key is the integration id).
const LOCK_SPACE: i32 = 0x5745_4248; // "WEBH"

impl Processor<'_> {
    /// Processes every pending delivery of `integration`; nothing when another processor
    /// holds the integration (it reads pending deliveries until none are left, these
    /// included).
    #[tracing::instrument(name = "webhooks", level = "error", skip_all, fields(tenant_id = integration.tenant.get(), integration_id = integration.integration.get()))]
    pub async fn process(
        &self,
        integration: IntegrationRef,
        provider: Provider,
    ) -> anyhow::Result<()> {
        let mut lock = self.pool.acquire().await?;
        let held: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, $2::int)")
            .bind(LOCK_SPACE)
            .bind(integration.integration.get() as i32)
            .fetch_one(&mut *lock)
            .await?;
        if !held {
            return Ok(());
        }
        let outcome = self.process_held(integration, provider).await;
        let unlocked = sqlx::query("SELECT pg_advisory_unlock($1, $2::int)")
            .bind(LOCK_SPACE)
            .bind(integration.integration.get() as i32)
            .execute(&mut *lock)
            .await;
        if unlocked.is_err() {
            // A connection whose lock state is unknown is not given back to the pool.
            lock.detach();
        }
        outcome
    }

    async fn process_held(
        &self,
        integration: IntegrationRef,
        provider: Provider,
    ) -> anyhow::Result<()> {
        tokio::time::sleep(COALESCE_WINDOW).await;
        let source = self.sources.source(provider);
        let handoff = match self.broker {
            None => Handoff::InProcess {
                sources: self.sources,
            },
            Some(broker) => Handoff::Broker {
                broker,
                tier: tenants::tier(self.pool, integration.tenant).await?,
            },
        };
        let context = SyncContext {
            pool: self.pool,
            reach: self.reach,
            scope: Scope::of(integration),
            since: None,
            full: false,
            handoff,
        };
        loop {
            let deliveries = webhooks::pending(self.pool, integration, BATCH).await?;
            if deliveries.is_empty() {
                break;
            }
            let done = source.refresh(&context, &deliveries).await?;
            let mut lines = Vec::new();
            let failed_embeds = embed(
                &context,
                (self.sources, provider),
                self.embedding,
                &mut lines,
                Vec::new(),
            )
            .await?;
            if failed_embeds > 0 {
                tracing::warn!(
                    failed = failed_embeds,
                    "records of webhook deliveries failed to embed (all in embedding_failures)"
                );
            }
            let ids: Vec<_> = deliveries.iter().map(|d| d.id).collect();
            raw::mark_processed(self.pool, integration.tenant, &ids).await?;
            tracing::info!(
                deliveries = ids.len(),
                refreshed = done.refreshed,
                deleted = done.deleted,
                ignored = done.ignored,
                requests = done.requests,
                "webhook deliveries processed"
            );
        }
        Ok(())
    }

    /// Processes deliveries as the receivers announce them, and at every `poll` whatever an
    /// announcement missed (a lost listener, a process killed midway), until the process
    /// ends.
    pub async fn run(&self, poll: Duration) {
        use futures_util::stream::{FuturesUnordered, StreamExt};
        let wake = tokio::sync::Notify::new();
        let follow = crate::store::notifications::follow(
            self.pool,
            webhooks::DELIVERIES_CHANNEL,
            |_: serde_json::Value| wake.notify_one(),
            || wake.notify_one(),
        );
        // Each integration is processed on its own as soon as it has deliveries, never
        // behind another integration's batch.
        let work = async {
            let mut running = FuturesUnordered::new();
            let mut busy = std::collections::HashSet::new();
            loop {
                match webhooks::with_pending(self.pool).await {
                    Ok(waiting) => {
                        for (tenant, integration, provider) in waiting {
                            if busy.len() >= SIDE_BY_SIDE || !busy.insert(integration) {
                                continue;
                            }
                            let target = IntegrationRef::new(tenant, integration);
                            running.push(async move {
                                if let Err(error) = self.process(target, provider).await {
                                    tracing::warn!(
                                        tenant_id = tenant.get(),
                                        integration_id = integration.get(),
                                        error = %format!("{error:#}"),
                                        "webhook deliveries not processed; trying again at the next look"
                                    );
                                }
                                integration
                            });
                        }
                    }
                    Err(error) => {
                        tracing::warn!(error = %format!("{error:#}"), "webhook deliveries could not be read; looking again after the poll interval");
                    }
                }
                tokio::select! {
                    () = wake.notified() => {}
                    () = tokio::time::sleep(poll) => {}
                    Some(done) = running.next(), if !running.is_empty() => {
                        busy.remove(&done);
                    }
                }
            }
        };
        tokio::join!(follow, work);
    }
}
