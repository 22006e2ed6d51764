//! `pulse-etl run-job`: one in-process sync of a tenant's integrations, with progress
//! lines, a summary, and an exit code that says whether it worked.

use std::time::Instant;

use anyhow::bail;
use chrono::Utc;
use chrono_tz::Tz;
use serde::Serialize;
use sqlx::PgPool;

use super::output::{Output, Tabular};
use super::progress::StepProgress;
use crate::cli::RunJobArgs;
use crate::config::Config;
use crate::connectors::jira::JiraClient;
use crate::domain::Provider;
use crate::pipeline::jira::{steps, JiraRun, INCREMENTAL_OVERLAP};
use crate::pipeline::StepReport;
use crate::security::CredentialCipher;
use crate::store::jobs::{self, JobRun};
use crate::store::raw::Scope;

/// One line of the summary: a step's counts and stage times.
#[derive(Debug, Serialize)]
pub(super) struct StepLine {
    pub job_id: Option<i64>,
    pub step: &'static str,
    #[serde(flatten)]
    pub report: StepReport,
}

impl StepLine {
    pub fn new(job_id: Option<i64>, step: &'static str, report: StepReport) -> Self {
        StepLine {
            job_id,
            step,
            report,
        }
    }
}

impl Tabular for StepLine {
    const HEADERS: &'static [&'static str] = &[
        "job",
        "step",
        "extracted",
        "transformed",
        "loaded",
        "failed",
        "extract s",
        "transform s",
        "load s",
    ];

    fn cells(&self) -> Vec<String> {
        let report = &self.report;
        vec![
            self.job_id.map(|id| id.to_string()).unwrap_or_default(),
            self.step.to_owned(),
            report.extracted.to_string(),
            report.transformed.to_string(),
            report.loaded.to_string(),
            report.failed.to_string(),
            format!("{:.2}", report.extract_seconds),
            format!("{:.2}", report.transform_seconds),
            format!("{:.2}", report.load_seconds),
        ]
    }
}

pub async fn run(
    pool: &PgPool,
    config: &Config,
    output: Output,
    args: RunJobArgs,
) -> anyhow::Result<()> {
    if args.provider == Provider::Github {
        bail!("`run-job github` is not available in this version yet");
    }
    let cipher = CredentialCipher::new(&config.secret_key()?);
    let jobs = jobs::for_run(pool, args.tenant, args.provider, args.integration).await?;
    if jobs.is_empty() {
        bail!(
            "tenant {} has no {} integration{}",
            args.tenant,
            args.provider,
            args.integration
                .map(|i| format!(" {i}"))
                .unwrap_or_default()
        );
    }
    let mut lines = Vec::new();
    let mut failures = Vec::new();
    for job in jobs {
        if !job.active {
            tracing::warn!(
                tenant_id = args.tenant,
                job_id = job.id,
                "skipped: the job or its integration is inactive"
            );
            continue;
        }
        match run_jira_job(pool, &cipher, args.tenant, &job, args.full, &mut lines).await {
            Ok(()) => {}
            Err(error) => failures.push(format!("job {}: {error:#}", job.id)),
        }
    }
    output.list(&lines)?;
    if !failures.is_empty() {
        bail!("{}", failures.join("; "));
    }
    Ok(())
}

/// Runs one Jira job: RUNNING, the steps, then FINISHED (cursor advanced) or FAILED —
/// whatever went wrong, set-up included, is recorded on the job.
pub(super) async fn run_jira_job(
    pool: &PgPool,
    cipher: &CredentialCipher,
    tenant_id: i64,
    job: &JobRun,
    full: bool,
    lines: &mut Vec<StepLine>,
) -> anyhow::Result<()> {
    let started_at = Utc::now();
    jobs::start_run(pool, tenant_id, job.id, Provider::Jira).await?;
    let result = sync(pool, cipher, tenant_id, job, full, lines).await;
    match &result {
        Ok(()) => jobs::finish_run(pool, tenant_id, job.id, Ok(started_at)).await?,
        Err(error) => jobs::finish_run(pool, tenant_id, job.id, Err(&format!("{error:#}"))).await?,
    }
    result
}

async fn sync(
    pool: &PgPool,
    cipher: &CredentialCipher,
    tenant_id: i64,
    job: &JobRun,
    full: bool,
    lines: &mut Vec<StepLine>,
) -> anyhow::Result<()> {
    let (integration, client) =
        super::sources::jira_client(pool, cipher, tenant_id, job.integration_id).await?;
    let since = if full {
        None
    } else {
        job.last_sync_date.map(|at| at - INCREMENTAL_OVERLAP)
    };
    let timezone = account_timezone(&client).await?;
    let run = JiraRun {
        pool,
        client: client.clone(),
        scope: Scope {
            tenant_id,
            integration_id: job.integration_id,
            job_id: Some(job.id),
        },
        projects: integration.settings.projects.clone(),
        since,
        timezone,
        full,
    };
    let clock = Instant::now();
    tracing::info!(tenant_id, job_id = job.id, full, since = ?since, "jira sync started");
    let outcome = run_steps(&run, job.id, lines).await;
    let stats = &client.http().stats;
    let load =
        |counter: &std::sync::atomic::AtomicU64| counter.load(std::sync::atomic::Ordering::Relaxed);
    let failed_items: u64 = lines
        .iter()
        .filter(|l| l.job_id == Some(job.id))
        .map(|l| l.report.failed)
        .sum();
    tracing::info!(
        tenant_id,
        job_id = job.id,
        requests = load(&stats.requests),
        retries = load(&stats.retries),
        failed_requests = load(&stats.failures),
        seconds = clock.elapsed().as_secs_f64(),
        ok = outcome.is_ok() && failed_items == 0,
        "jira sync ended"
    );
    outcome?;
    if failed_items > 0 {
        bail!("{failed_items} item(s) failed to transform (see raw_extraction_data.error)");
    }
    Ok(())
}

/// The Jira account's time zone (`/myself`), which JQL dates are read in; UTC when the
/// site names one this build does not know.
async fn account_timezone(client: &JiraClient) -> anyhow::Result<Tz> {
    let me = client.myself().await?.body;
    let name = me["timeZone"].as_str().unwrap_or("UTC");
    Ok(name.parse().unwrap_or_else(|_| {
        tracing::warn!(
            time_zone = name,
            "unknown account time zone; writing JQL dates in UTC"
        );
        Tz::UTC
    }))
}

async fn run_steps(
    run: &JiraRun<'_>,
    job_id: i64,
    lines: &mut Vec<StepLine>,
) -> Result<(), crate::pipeline::jira::PipelineError> {
    let tenant_id = run.scope.tenant_id;
    let mut record = |step: &'static str, progress: StepProgress, report: StepReport| {
        progress.finish(&report);
        tracing::info!(
            tenant_id,
            job_id,
            step,
            extracted = report.extracted,
            loaded = report.loaded,
            failed = report.failed,
            "step done"
        );
        lines.push(StepLine::new(Some(job_id), step, report));
    };
    let progress = StepProgress::start(steps::PROJECTS);
    record(
        steps::PROJECTS,
        progress,
        run.projects_and_issue_types().await?,
    );
    let progress = StepProgress::start(steps::STATUSES);
    record(steps::STATUSES, progress, run.statuses().await?);
    let progress = StepProgress::start(steps::ISSUES);
    let on_page = |report: &StepReport| {
        progress.update(report);
        if !progress.is_live() {
            tracing::info!(
                tenant_id,
                job_id,
                step = steps::ISSUES,
                extracted = report.extracted,
                loaded = report.loaded,
                "progress"
            );
        }
    };
    let issues = run.issues(&on_page).await?;
    record(steps::ISSUES, progress, issues.report);
    let progress = StepProgress::start(steps::DEV_STATUS);
    record(
        steps::DEV_STATUS,
        progress,
        run.dev_status(&issues.with_code).await?,
    );
    Ok(())
}
