//! One run of a sync job, whoever started it (`run-job`, the scheduler, an extract worker):
//! RUNNING, the source's steps with their progress and summary lines, then FINISHED with
//! the cursor advanced or FAILED with what went wrong, set-up included.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::bail;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use tokio::sync::watch;

use super::embed_follow;
use super::embed_run::{self, EmbedCounts, EmbedHandoff};
use super::embed_stage::Embedding;
use super::handoff::Handoff;
use super::progress::StepProgress;
use super::source::{Catalog, Reach};
use super::{PipelineError, StepReport, INCREMENTAL_OVERLAP};
use crate::connectors::http::RequestCounts;
use crate::domain::{JobId, Provider, Scope, Stage, TenantId};
use crate::store::jobs::{self, JobRun as Job};
use crate::store::vectors::EmbedTable;
use crate::store::{raw, vectors};
use crate::telemetry::metrics;

/// One line of a run's summary: a step's counts and stage times.
#[derive(Debug, Serialize)]
pub struct StepLine {
    pub job_id: Option<JobId>,
    pub step: &'static str,
    #[serde(flatten)]
    pub report: StepReport,
}

impl StepLine {
    pub fn new(job_id: Option<JobId>, step: &'static str, report: StepReport) -> Self {
        StepLine {
            job_id,
            step,
            report,
        }
    }
}

/// One run of a job: which, how, where its transform work goes, and where vectors are
/// kept (its embed work goes where its transform work goes).
#[derive(Clone, Copy)]
pub struct JobRun<'a> {
    pub job: &'a Job,
    pub full: bool,
    pub handoff: Handoff<'a>,
    pub embedding: &'a Embedding,
}

/// What a source's sync works with.
pub struct SyncContext<'a> {
    pub pool: &'a PgPool,
    pub reach: &'a Reach,
    pub scope: Scope,
    /// Only what changed since (None: everything).
    pub since: Option<DateTime<Utc>>,
    /// A full run: re-read everything and mark what the source no longer has as deleted.
    pub full: bool,
    pub handoff: Handoff<'a>,
}

/// How a source's sync ended: its requests, and the steps' outcome.
pub struct Synced {
    pub requests: RequestCounts,
    pub outcome: Result<(), PipelineError>,
}

/// Runs one job: RUNNING, its source's steps, then FINISHED (cursor advanced) or FAILED —
/// whatever went wrong, set-up included, is recorded on the job. Summary lines go to
/// `lines`.
// The span is at error level so that its tenant and job stay on every event, whatever
// level the log filter lets through.
#[tracing::instrument(name = "job_run", level = "error", skip_all, fields(tenant_id = tenant_id.get(), job_id = run.job.id.get(), provider = %run.job.provider))]
pub async fn run_one_job(
    pool: &PgPool,
    reach: &Reach,
    sources: Catalog,
    tenant_id: TenantId,
    run: JobRun<'_>,
    lines: &mut Vec<StepLine>,
) -> anyhow::Result<()> {
    let JobRun {
        job,
        full,
        handoff,
        embedding,
    } = run;
    let full = full || job.full_sync_requested;
    // A first run reads everything too.
    let read_everything = full || job.last_sync_date.is_none();
    let started_at = Utc::now();
    let steps = sources.steps(job.provider);
    jobs::start_run(pool, tenant_id, job.id, steps).await?;
    let since = if full {
        None
    } else {
        job.last_sync_date.map(|at| at - INCREMENTAL_OVERLAP)
    };
    let context = SyncContext {
        pool,
        reach,
        scope: Scope {
            tenant_id,
            integration_id: job.integration_id,
            job_id: Some(job.id),
        },
        since,
        full,
        handoff,
    };
    let clock = Instant::now();
    tracing::info!(full, since = ?since, "sync started");
    let result = async {
        let mut recorder = StepRecorder::new(job.id, lines);
        let source = sources.source(job.provider);
        let (sync_done, following) = watch::channel(false);
        let sync = async {
            let synced = source.sync(&context, &mut recorder).await;
            let _ = sync_done.send(true);
            synced
        };
        let follow = follow(&context, (sources, job.provider), embedding, following);
        let (synced, followed) = tokio::join!(sync, follow);
        let synced = synced?;
        let embed_failed = match synced.outcome {
            Ok(()) => embed(&context, (sources, job.provider), embedding, lines, followed).await?,
            Err(_) => 0,
        };
        conclude(&context, started_at, clock, synced, lines).await?;
        if let (true, Some(job_id)) = (embed_failed > 0, context.scope.job_id) {
            let errors = vectors::first_failures(pool, tenant_id, job_id, 3).await?;
            bail!(
                "{embed_failed} record(s) failed to embed; the rest is loaded; first errors: {} (all in embedding_failures)",
                errors.join(" | ")
            );
        }
        Ok(())
    }
    .await;
    let counts: BTreeMap<&str, jobs::StepCounts> = lines
        .iter()
        .filter(|line| line.job_id == Some(job.id))
        .map(|line| {
            let report = &line.report;
            let counts = jobs::StepCounts {
                extracted: report.extracted,
                loaded: report.loaded,
                failed: report.failed,
                embedded: report.embedded,
            };
            (line.step, counts)
        })
        .collect();
    jobs::set_step_counts(pool, tenant_id, job.id, &counts).await?;
    count_items(job.provider, &counts);
    let outcome = if result.is_ok() { "finished" } else { "failed" };
    metrics::job_run(job.provider.as_str(), outcome, clock.elapsed());
    match &result {
        Ok(()) => {
            jobs::finish_run(pool, (tenant_id, job.id), read_everything, Ok(started_at)).await?
        }
        Err(error) => {
            let error = format!("{error:#}");
            jobs::finish_run(pool, (tenant_id, job.id), read_everything, Err(&error)).await?
        }
    }
    result
}

/// Adds a run's step counts to the items metric: extracted, loaded (or failed to transform
/// or load) and embedded.
fn count_items(provider: Provider, steps: &BTreeMap<&'static str, jobs::StepCounts>) {
    let source = provider.as_str();
    for (&step, counts) in steps {
        let items = |stage: Stage, outcome, count| {
            metrics::items((source, step), (stage.as_str(), outcome), count)
        };
        items(Stage::Extraction, "ok", counts.extracted);
        items(Stage::Load, "ok", counts.loaded);
        items(Stage::Load, "failed", counts.failed);
        items(Stage::Embedding, "ok", counts.embedded);
    }
}

/// With in-process queues, embeds what the run loads while its sync goes on (see
/// [`embed_follow`]); a failure there is logged and left to the closing pass.
async fn follow(
    context: &SyncContext<'_>,
    (sources, provider): (Catalog, crate::domain::Provider),
    embedding: &Embedding,
    sync_done: watch::Receiver<bool>,
) -> Vec<(&'static EmbedTable, EmbedCounts)> {
    if !matches!(context.handoff, Handoff::InProcess { .. }) {
        return Vec::new();
    }
    let tables = sources.source(provider).embed_tables();
    embed_follow::follow_loads(
        context.pool,
        (sources, embedding),
        (context.scope, provider),
        tables,
        sync_done,
    )
    .await
    .unwrap_or_else(|error| {
        tracing::warn!(%error, "embedding beside the sync stopped; the closing pass embeds the rest");
        Vec::new()
    })
}

/// Embeds what the run loaded (see [`embed_run`]) and what embedding beside the sync did
/// not, adding each table's count (with `followed`'s) to its step's line, then lets search
/// switch to a newly built collection; returns how many records failed to embed.
pub(crate) async fn embed(
    context: &SyncContext<'_>,
    (sources, provider): (Catalog, crate::domain::Provider),
    embedding: &Embedding,
    lines: &mut Vec<StepLine>,
    followed: Vec<(&'static EmbedTable, EmbedCounts)>,
) -> anyhow::Result<u64> {
    let handoff = match context.handoff {
        Handoff::InProcess { .. } => EmbedHandoff::InProcess(embedding),
        Handoff::Broker { broker, tier } => EmbedHandoff::Broker { broker, tier },
    };
    let tables = sources.source(provider).embed_tables();
    let done = embed_run::embed_integration(
        context.pool,
        sources,
        (context.scope, provider),
        tables,
        handoff,
    )
    .await?;
    let mut failed = 0;
    for (table, counts) in done.into_iter().chain(followed) {
        failed += counts.failed;
        let line = lines
            .iter_mut()
            .find(|line| line.job_id == context.scope.job_id && line.step == table.step);
        match line {
            Some(line) => line.report.embedded += counts.report.embedded,
            None => lines.push(StepLine::new(
                context.scope.job_id,
                table.step,
                StepReport {
                    embedded: counts.report.embedded,
                    ..StepReport::default()
                },
            )),
        }
    }
    embed_run::activate_when_complete(
        context.pool,
        sources,
        embedding.store.as_ref(),
        context.scope.tenant_id,
    )
    .await?;
    Ok(failed)
}

/// Logs the end of the sync with its request counts; an error, or any item that failed to
/// transform, fails the job.
async fn conclude(
    context: &SyncContext<'_>,
    started_at: DateTime<Utc>,
    clock: Instant,
    synced: Synced,
    lines: &[StepLine],
) -> anyhow::Result<()> {
    let Synced { requests, outcome } = synced;
    let job_id = context.scope.job_id;
    let failed_items: u64 = lines
        .iter()
        .filter(|l| l.job_id == job_id)
        .map(|l| l.report.failed)
        .sum();
    tracing::info!(
        requests = requests.requests,
        not_modified = requests.not_modified,
        retries = requests.retries,
        failed_requests = requests.failures,
        budget_waits = requests.budget_waits,
        graphql_points = requests.points,
        seconds = clock.elapsed().as_secs_f64(),
        ok = outcome.is_ok() && failed_items == 0,
        "sync ended"
    );
    outcome?;
    if let (true, Some(job_id)) = (failed_items > 0, job_id) {
        let errors =
            raw::first_errors(context.pool, context.scope.tenant_id, job_id, started_at, 3).await?;
        bail!(
            "{failed_items} item(s) failed to transform or load; first errors: {} (all in raw_extraction_data.error)",
            errors.join(" | ")
        );
    }
    Ok(())
}

/// Shows each step's progress and records its summary line (log lines carry the tenant
/// and job from the run's span).
pub struct StepRecorder<'a> {
    job_id: JobId,
    lines: &'a mut Vec<StepLine>,
}

impl<'a> StepRecorder<'a> {
    fn new(job_id: JobId, lines: &'a mut Vec<StepLine>) -> Self {
        StepRecorder { job_id, lines }
    }

    pub fn start(&self, step: &'static str) -> StepProgress {
        StepProgress::start(step)
    }

    /// A progress callback for long steps: the live bar on a terminal, else log lines.
    pub fn on_page<'p>(
        &self,
        step: &'static str,
        progress: &'p StepProgress,
    ) -> impl Fn(&StepReport) + Sync + 'p {
        move |report: &StepReport| {
            progress.update(report);
            if !progress.is_live() {
                tracing::info!(
                    step,
                    extracted = report.extracted,
                    loaded = report.loaded,
                    "progress"
                );
            }
        }
    }

    pub fn record(&mut self, step: &'static str, progress: StepProgress, report: StepReport) {
        progress.finish(&report);
        tracing::info!(
            step,
            extracted = report.extracted,
            loaded = report.loaded,
            failed = report.failed,
            "step done"
        );
        self.lines
            .push(StepLine::new(Some(self.job_id), step, report));
    }
}
