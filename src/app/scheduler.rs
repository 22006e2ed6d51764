//! The scheduler: claims due jobs (`FOR UPDATE SKIP LOCKED`, so several schedulers never
//! start the same job; a RUNNING job without progress for `scheduler.stuck_after_secs` is
//! taken over), runs their extraction and hands transform work on, reschedules them, and
//! gives the jobs it holds back on shutdown. `pulse-etl scheduler` runs it alone, with
//! transform work going to RabbitMQ workers; `all` runs it with the other roles. Beside the
//! jobs it processes stored webhook deliveries and prunes raw history.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use sqlx::PgPool;
use tracing::Instrument;

use super::ops::{Ops, OpsSetup};
use crate::cli::SchedulerArgs;
use crate::config::Config;
use crate::domain::{JobId, Scope, TenantId, Tier};
use crate::pipeline::embed_stage::Embedding;
use crate::pipeline::handoff::Handoff;
use crate::pipeline::raw_retention::{self, Retention};
use crate::pipeline::source::Reach;
use crate::pipeline::stage_message;
use crate::pipeline::sync::{run_one_job, JobRun};
use crate::pipeline::webhooks::Processor;
use crate::queue::rabbitmq::Broker;
use crate::queue::topology::QueueStage;
use crate::queue::{Publisher, StageMessage, Work, SYNC_JOB};
use crate::sources::CATALOG;
use crate::store::jobs::{self, JobRun as Job};
use crate::store::{tenants, webhooks};
use crate::telemetry::{metrics, trace_export};

/// Jobs claimed per look.
const CLAIM_BATCH: i64 = 4;

/// The raw pruner's pause after each batch, leaving the database to the syncs.
const PRUNE_PAUSE: Duration = Duration::from_millis(200);

/// `pulse-etl scheduler [--dispatch]`: transform work goes to RabbitMQ workers; with
/// `--dispatch` whole jobs go to extract workers.
pub async fn run(pool: &PgPool, config: &Config, args: SchedulerArgs) -> anyhow::Result<()> {
    let reach = super::reach(config, &config.secret_key()?);
    let embedding = super::vectors::embedding(config, Some(reach.cipher.clone()))?;
    let broker = super::broker::connect(config, super::broker::Patience::Role).await?;
    broker.declare(QueueStage::Transform, Tier::ALL).await?;
    broker.declare(QueueStage::Extraction, Tier::ALL).await?;
    broker.declare(QueueStage::Embedding, Tier::ALL).await?;
    let setup = OpsSetup {
        role: "scheduler",
        addr: args.metrics_addr.or(config.metrics.addr),
        uses_broker: true,
        vectors: Some(embedding.store.clone()),
    };
    let ops = Ops::start(pool, config, setup).await?;
    let roles = Roles {
        reach: &reach,
        embedding: &embedding,
        timing: Timing::from_config(config, None),
        broker: Some(&broker),
        dispatch: args.dispatch,
    };
    let outcome = serve(pool, roles, std::future::pending()).await;
    broker.close().await.ok();
    ops.stop().await;
    outcome
}

/// Transforms what an earlier process left pending, then schedules (with `alongside`
/// running too) until Ctrl-C or SIGTERM, or until either fails. A stop lets the job in
/// hand finish within the grace period and claims nothing more; then the jobs still
/// claimed are given back, READY and due at once.
pub(super) async fn serve(
    pool: &PgPool,
    roles: Roles<'_>,
    alongside: impl Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<()> {
    tracing::info!(
        interval_secs = roles.timing.interval.as_secs(),
        poll_secs = roles.timing.poll.as_secs(),
        "scheduler running; Ctrl-C stops"
    );
    let stop = super::signals::shutdown();
    tokio::pin!(stop);
    // In process, everything pending was this deployment's own; over RabbitMQ, a live
    // job's pending rows are queued for workers. A stop request ends recovery too (what it
    // did not reach stays pending for the next start).
    let live_within = roles.broker.map(|_| roles.timing.stuck_after);
    let recovery = crate::pipeline::recovery::transform_pending(pool, CATALOG, live_within);
    let recovered = tokio::select! {
        recovered = recovery => recovered?,
        () = &mut stop => {
            tracing::info!("shutting down during start-up recovery");
            return Ok(());
        }
    };
    if recovered.extracted > 0 {
        tracing::info!(
            rows = recovered.extracted,
            loaded = recovered.loaded,
            failed = recovered.failed,
            "raw rows left untransformed by an earlier process transformed now"
        );
    }
    let claimed = Mutex::new(Vec::new());
    let stopping = AtomicBool::new(false);
    // Webhook deliveries are processed beside the jobs, never behind a long one; so is the
    // pruning of raw history.
    let deliveries = Processor {
        pool,
        reach: roles.reach,
        sources: CATALOG,
        embedding: roles.embedding,
        broker: roles.broker,
    };
    let scheduling = async {
        tokio::select! {
            outcome = schedule(pool, roles, &claimed, &stopping) => outcome,
            () = deliveries.run(roles.timing.poll) => Ok(()),
            () = raw_retention::run(pool, roles.timing.retention, roles.timing.prune_every) => Ok(()),
        }
    };
    tokio::pin!(scheduling);
    let outcome = tokio::select! {
        outcome = &mut scheduling => outcome,
        outcome = alongside => outcome,
        () = &mut stop => {
            let grace = roles.timing.grace;
            tracing::info!(grace_secs = grace.as_secs(), "shutting down: letting the job in hand finish");
            stopping.store(true, Ordering::Relaxed);
            match tokio::time::timeout(grace, &mut scheduling).await {
                Ok(outcome) => outcome,
                Err(_) => {
                    tracing::warn!("grace period over: the job in hand is given back");
                    Ok(())
                }
            }
        }
    };
    give_back(pool, &claimed, "interrupted by shutdown").await;
    outcome
}

/// Releases the jobs still in `claimed` (READY, due at once) for another run; one the
/// database will not release now stays listed for the next try.
async fn give_back(pool: &PgPool, claimed: &Mutex<Vec<(TenantId, JobId)>>, reason: &str) {
    let held = std::mem::take(
        &mut *claimed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()),
    );
    for (tenant_id, job_id) in held {
        let (tenant, job) = (tenant_id.get(), job_id.get());
        match jobs::release(pool, tenant_id, job_id, reason).await {
            Ok(()) => tracing::info!(
                tenant_id = tenant,
                job_id = job,
                reason,
                "job released for the next run"
            ),
            Err(error) => {
                tracing::warn!(tenant_id = tenant, job_id = job, %error, "could not release the job yet");
                claimed
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push((tenant_id, job_id));
            }
        }
    }
}

/// What the scheduler works with.
#[derive(Clone, Copy)]
pub(super) struct Roles<'a> {
    pub reach: &'a Reach,
    /// Where vectors are kept (and made, when work stays in process).
    pub embedding: &'a Embedding,
    pub timing: Timing,
    /// Transform work goes over RabbitMQ when set, else stays in process.
    pub broker: Option<&'a Broker>,
    /// Due jobs go to extract workers over RabbitMQ instead of running here.
    pub dispatch: bool,
}

/// How often the scheduler looks, reschedules and recovers.
#[derive(Debug, Clone, Copy)]
pub(super) struct Timing {
    /// From the end of a job's run until it is due again.
    pub interval: Duration,
    /// The same while the integration's webhooks are live.
    pub reconcile: Duration,
    /// While they are live, how old the last full run may get before the next is full.
    pub full_reconcile: Duration,
    pub poll: Duration,
    pub stuck_after: Duration,
    /// How long a stop waits for the job in hand.
    pub grace: Duration,
    /// What the raw pruner keeps, and how often it runs.
    pub retention: Retention,
    pub prune_every: Duration,
}

impl Timing {
    pub fn from_config(config: &Config, interval: Option<Duration>) -> Self {
        Timing {
            interval: interval.unwrap_or(Duration::from_secs(config.scheduler.interval_secs)),
            reconcile: Duration::from_secs(config.scheduler.reconcile_interval_secs),
            full_reconcile: Duration::from_secs(config.scheduler.full_reconcile_secs),
            poll: Duration::from_secs(config.scheduler.poll_secs),
            stuck_after: Duration::from_secs(config.scheduler.stuck_after_secs),
            grace: Duration::from_secs(config.shutdown.grace_secs),
            retention: Retention::days(config.raw.retain_days, PRUNE_PAUSE),
            prune_every: Duration::from_secs(config.raw.prune_interval_secs),
        }
    }
}

/// Claims due jobs and runs them (or hands them to extract workers) until `stopping`.
/// `claimed` lists the (tenant, job) pairs claimed and not yet finished, so a shutdown can
/// give them back. A failure of the database or the broker does not stop the scheduler:
/// the jobs it interrupted are given back, and it looks again after the poll interval.
async fn schedule(
    pool: &PgPool,
    roles: Roles<'_>,
    claimed: &Mutex<Vec<(TenantId, JobId)>>,
    stopping: &AtomicBool,
) -> anyhow::Result<()> {
    let mut interruption = String::new();
    while !stopping.load(Ordering::Relaxed) {
        if let Err(error) = schedule_once(pool, roles, claimed, stopping).await {
            tracing::warn!(error = %format!("{error:#}"), "scheduling failed; looking again after the poll interval");
            interruption = format!("interrupted: {error:#}");
        }
        // What a failure left claimed (until the database takes the release).
        give_back(pool, claimed, &interruption).await;
        tokio::time::sleep(roles.timing.poll).await;
    }
    Ok(())
}

/// One look: claims due jobs and runs (or dispatches) them.
async fn schedule_once(
    pool: &PgPool,
    roles: Roles<'_>,
    claimed: &Mutex<Vec<(TenantId, JobId)>>,
    stopping: &AtomicBool,
) -> anyhow::Result<()> {
    let Roles {
        reach,
        embedding,
        timing,
        broker,
        dispatch,
    } = roles;
    let lock = || {
        claimed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    };
    let due = jobs::claim_due(pool, CLAIM_BATCH, timing.stuck_after).await?;
    lock().extend(due.iter().map(|(tenant_id, job)| (*tenant_id, job.id)));
    metrics::scheduler_lag(jobs::oldest_due_wait(pool, timing.stuck_after).await?);
    for (tenant_id, job) in &due {
        if stopping.load(Ordering::Relaxed) {
            break;
        }
        let span = trace_export::job_span(job.traceparent.as_deref());
        match (dispatch, broker) {
            (true, Some(broker)) => {
                dispatch_job(pool, broker, *tenant_id, job)
                    .instrument(span)
                    .await?
            }
            _ => {
                let with = (reach, embedding, broker);
                run_claimed(pool, with, (*tenant_id, job), timing)
                    .instrument(span)
                    .await?
            }
        }
        lock().retain(|(_, id)| *id != job.id);
    }
    Ok(())
}

/// Runs a claimed job here (transform work in process, or over RabbitMQ when `broker` is
/// set), then makes it due again after `interval`.
pub(super) async fn run_claimed(
    pool: &PgPool,
    (reach, embedding, broker): (&Reach, &Embedding, Option<&Broker>),
    (tenant_id, job): (TenantId, &Job),
    timing: Timing,
) -> anyhow::Result<()> {
    let handoff = match broker {
        None => Handoff::InProcess { sources: CATALOG },
        Some(broker) => Handoff::Broker {
            broker,
            tier: tenants::tier(pool, tenant_id).await?,
        },
    };
    let run = JobRun {
        job,
        full: false,
        handoff,
        embedding,
    };
    let mut lines = Vec::new();
    let started = chrono::Utc::now();
    let integration = crate::domain::IntegrationRef::new(tenant_id, job.integration_id);
    let live = webhooks::is_live(pool, integration, timing.interval).await?;
    match run_one_job(pool, reach, CATALOG, tenant_id, run, &mut lines).await {
        Ok(()) => {
            let loaded: u64 = lines.iter().map(|l| l.report.loaded).sum();
            tracing::info!(
                tenant_id = tenant_id.get(),
                job_id = job.id.get(),
                loaded,
                "job finished"
            );
        }
        Err(error) => {
            tracing::warn!(tenant_id = tenant_id.get(), job_id = job.id.get(), error = %format!("{error:#}"), "job failed")
        }
    }
    let gap = match live {
        true => reconcile_gap(pool, (integration, job.provider), started).await?,
        false => 0,
    };
    let interval = next_interval((tenant_id, job), (live, gap), timing);
    if live && jobs::request_full_when_older(pool, tenant_id, job.id, timing.full_reconcile).await?
    {
        tracing::info!(
            tenant_id = tenant_id.get(),
            job_id = job.id.get(),
            "the next reconcile run reads everything (the last full run is older than scheduler.full_reconcile_secs)"
        );
    }
    jobs::schedule_next(pool, tenant_id, job.id, interval).await?;
    Ok(())
}

/// Records of the integration that a run with live webhooks changed (inserted, or found
/// different): what deliveries missed. Said in the log, counted, and kept for the status.
async fn reconcile_gap(
    pool: &PgPool,
    (integration, provider): (crate::domain::IntegrationRef, crate::domain::Provider),
    since: chrono::DateTime<chrono::Utc>,
) -> anyhow::Result<i64> {
    let tables: Vec<&str> = CATALOG
        .source(provider)
        .embed_tables()
        .iter()
        .map(|table| table.table)
        .collect();
    let changed = webhooks::records_changed_since(pool, integration, &tables, since).await?;
    if changed > 0 {
        tracing::warn!(
            tenant_id = integration.tenant.get(),
            integration_id = integration.integration.get(),
            records = changed,
            "webhook gap: the reconcile run found changes no delivery had brought; polling at the normal interval"
        );
        webhooks::record_gap(pool, integration, changed).await?;
        metrics::webhook_gap(provider.as_str());
    }
    Ok(changed)
}

/// Until a job is due again: the reconcile interval while its integration's webhooks are
/// live (a delivery within the normal interval) and the run found no gap, else the normal
/// one — said in the log either way.
fn next_interval(
    (tenant_id, job): (TenantId, &Job),
    (live, gap): (bool, i64),
    timing: Timing,
) -> Duration {
    let (interval, mode) = match (live, gap) {
        (true, 0) => (
            timing.reconcile.max(timing.interval),
            "reconcile: webhooks are live",
        ),
        (true, _) => (timing.interval, "polling: the webhooks missed changes"),
        (false, _) => (
            timing.interval,
            "polling: no webhook delivery within the interval",
        ),
    };
    tracing::info!(
        tenant_id = tenant_id.get(),
        job_id = job.id.get(),
        next_run_secs = interval.as_secs(),
        mode,
        "next run scheduled"
    );
    interval
}

/// Hands a claimed job to the extract workers of its tenant's tier; if RabbitMQ will not
/// take it, the job is given back (READY, due at once).
async fn dispatch_job(
    pool: &PgPool,
    broker: &Broker,
    tenant_id: TenantId,
    job: &Job,
) -> anyhow::Result<()> {
    let tier = tenants::tier(pool, tenant_id).await?;
    let scope = Scope {
        tenant_id,
        integration_id: job.integration_id,
        job_id: Some(job.id),
    };
    let message = StageMessage {
        work: Work::SyncJob {
            claimed_at: job.last_run_started_at,
        },
        ..stage_message(scope, (job.provider, SYNC_JOB), None, Vec::new())
    };
    match broker
        .publisher(QueueStage::Extraction, tier)
        .publish(message)
        .await
    {
        Ok(()) => tracing::info!(
            tenant_id = tenant_id.get(),
            job_id = job.id.get(),
            tier = tier.as_str(),
            "job handed to the extract workers"
        ),
        Err(error) => {
            tracing::warn!(tenant_id = tenant_id.get(), job_id = job.id.get(), %error, "could not hand the job on; giving it back");
            jobs::release(
                pool,
                tenant_id,
                job.id,
                &format!("dispatch failed: {error}"),
            )
            .await?;
        }
    }
    Ok(())
}
