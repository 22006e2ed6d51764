//! `pulse-etl run-job`: one in-process sync of a tenant's integrations, with progress
//! lines, a summary, and an exit code that says whether it worked.

use std::time::Instant;

use anyhow::bail;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use sqlx::PgPool;

use super::output::{Output, Tabular};
use super::progress::StepProgress;
use crate::cli::{QueueBackend, RunJobArgs};
use crate::config::Config;
use crate::connectors::http::RequestCounts;
use crate::connectors::jira::JiraClient;
use crate::domain::Provider;
use crate::pipeline::github::{self, GithubRun};
use crate::pipeline::handoff::Handoff;
use crate::pipeline::jira::{self, JiraRun};
use crate::pipeline::{PipelineError, StepReport, INCREMENTAL_OVERLAP};
use crate::queue::topology::QueueStage;
use crate::security::CredentialCipher;
use crate::store::jobs::{self, JobRun as Job};
use crate::store::raw::Scope;
use crate::store::{raw, tenants};

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
    let cipher = CredentialCipher::new(&config.secret_key()?);
    let tier = tenants::tier(pool, args.tenant).await?;
    let broker = match args.queue {
        QueueBackend::Memory => None,
        QueueBackend::Rabbitmq => {
            let broker = super::broker::connect(config, super::broker::Patience::Role).await?;
            broker.declare(QueueStage::Transform, &[tier]).await?;
            Some(broker)
        }
    };
    let handoff = match &broker {
        None => Handoff::InProcess,
        Some(broker) => Handoff::Broker { broker, tier },
    };
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
        let run = JobRun {
            job: &job,
            full: args.full,
            handoff,
        };
        match run_one_job(pool, &cipher, args.tenant, run, &mut lines).await {
            Ok(()) => {}
            Err(error) => failures.push(format!("job {}: {error:#}", job.id)),
        }
    }
    if let Some(broker) = broker {
        broker.close().await.ok();
    }
    output.list(&lines)?;
    if !failures.is_empty() {
        bail!("{}", failures.join("; "));
    }
    Ok(())
}

/// One run of a job: which, how, and where its transform work goes.
#[derive(Clone, Copy)]
pub(super) struct JobRun<'a> {
    pub job: &'a Job,
    pub full: bool,
    pub handoff: Handoff<'a>,
}

/// Runs one job: RUNNING, its provider's steps, then FINISHED (cursor advanced) or FAILED —
/// whatever went wrong, set-up included, is recorded on the job.
pub(super) async fn run_one_job(
    pool: &PgPool,
    cipher: &CredentialCipher,
    tenant_id: i64,
    run: JobRun<'_>,
    lines: &mut Vec<StepLine>,
) -> anyhow::Result<()> {
    let JobRun { job, full, handoff } = run;
    let full = full || job.full_sync_requested;
    let started_at = Utc::now();
    jobs::start_run(pool, tenant_id, job.id, job.provider).await?;
    let since = if full {
        None
    } else {
        job.last_sync_date.map(|at| at - INCREMENTAL_OVERLAP)
    };
    let sync = JobSync {
        pool,
        cipher,
        tenant_id,
        job,
        since,
        full,
        handoff,
        started_at,
    };
    let result = match job.provider {
        Provider::Jira => sync.jira(lines).await,
        Provider::Github => sync.github(lines).await,
    };
    match &result {
        Ok(()) => jobs::finish_run(pool, tenant_id, job.id, Ok(started_at)).await?,
        Err(error) => jobs::finish_run(pool, tenant_id, job.id, Err(&format!("{error:#}"))).await?,
    }
    result
}

/// One run of one job.
struct JobSync<'a> {
    pool: &'a PgPool,
    cipher: &'a CredentialCipher,
    tenant_id: i64,
    job: &'a Job,
    since: Option<DateTime<Utc>>,
    full: bool,
    handoff: Handoff<'a>,
    started_at: DateTime<Utc>,
}

impl JobSync<'_> {
    fn scope(&self) -> Scope {
        Scope {
            tenant_id: self.tenant_id,
            integration_id: self.job.integration_id,
            job_id: Some(self.job.id),
        }
    }

    async fn jira(&self, lines: &mut Vec<StepLine>) -> anyhow::Result<()> {
        let (integration, client) = super::sources::jira_client(
            self.pool,
            self.cipher,
            self.tenant_id,
            self.job.integration_id,
        )
        .await?;
        let timezone = account_timezone(&client).await?;
        let run = JiraRun {
            pool: self.pool,
            handoff: self.handoff,
            client: client.clone(),
            scope: self.scope(),
            projects: integration.settings.projects.clone(),
            since: self.since,
            timezone,
            full: self.full,
        };
        let clock = Instant::now();
        tracing::info!(tenant_id = self.tenant_id, job_id = self.job.id, full = self.full, since = ?self.since, "jira sync started");
        let mut recorder = StepRecorder::new(self.tenant_id, self.job.id, lines);
        let outcome = jira_steps(&run, &mut recorder).await;
        self.conclude(client.http().stats.snapshot(), clock, outcome, lines)
            .await
    }

    async fn github(&self, lines: &mut Vec<StepLine>) -> anyhow::Result<()> {
        let (integration, client) = super::sources::github_client(
            self.pool,
            self.cipher,
            self.tenant_id,
            self.job.integration_id,
        )
        .await?;
        let run = GithubRun {
            pool: self.pool,
            handoff: self.handoff,
            client: client.clone(),
            scope: self.scope(),
            repositories: integration.settings.repos.clone(),
            since: self.since,
            full: self.full,
        };
        let clock = Instant::now();
        tracing::info!(tenant_id = self.tenant_id, job_id = self.job.id, full = self.full, since = ?self.since, "github sync started");
        let mut recorder = StepRecorder::new(self.tenant_id, self.job.id, lines);
        let outcome = github_steps(&run, &mut recorder).await;
        self.conclude(client.http().stats.snapshot(), clock, outcome, lines)
            .await
    }

    /// Logs the end of the sync with its request counts; an error, or any item that failed
    /// to transform, fails the job.
    async fn conclude(
        &self,
        requests: RequestCounts,
        clock: Instant,
        outcome: Result<(), PipelineError>,
        lines: &[StepLine],
    ) -> anyhow::Result<()> {
        let failed_items: u64 = lines
            .iter()
            .filter(|l| l.job_id == Some(self.job.id))
            .map(|l| l.report.failed)
            .sum();
        tracing::info!(
            tenant_id = self.tenant_id,
            job_id = self.job.id,
            provider = %self.job.provider,
            requests = requests.requests,
            not_modified = requests.not_modified,
            retries = requests.retries,
            failed_requests = requests.failures,
            budget_waits = requests.budget_waits,
            seconds = clock.elapsed().as_secs_f64(),
            ok = outcome.is_ok() && failed_items == 0,
            "sync ended"
        );
        outcome?;
        if failed_items > 0 {
            let errors =
                raw::first_errors(self.pool, self.tenant_id, self.job.id, self.started_at, 3)
                    .await?;
            bail!(
                "{failed_items} item(s) failed to transform or load; first errors: {} (all in raw_extraction_data.error)",
                errors.join(" | ")
            );
        }
        Ok(())
    }
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

/// Shows each step's progress and records its summary line.
struct StepRecorder<'a> {
    tenant_id: i64,
    job_id: i64,
    lines: &'a mut Vec<StepLine>,
}

impl<'a> StepRecorder<'a> {
    fn new(tenant_id: i64, job_id: i64, lines: &'a mut Vec<StepLine>) -> Self {
        StepRecorder {
            tenant_id,
            job_id,
            lines,
        }
    }

    fn start(&self, step: &'static str) -> StepProgress {
        StepProgress::start(step)
    }

    /// A progress callback for long steps: the live bar on a terminal, else log lines.
    fn on_page<'p>(
        &self,
        step: &'static str,
        progress: &'p StepProgress,
    ) -> impl Fn(&StepReport) + Sync + 'p {
        let (tenant_id, job_id) = (self.tenant_id, self.job_id);
        move |report: &StepReport| {
            progress.update(report);
            if !progress.is_live() {
                tracing::info!(
                    tenant_id,
                    job_id,
                    step,
                    extracted = report.extracted,
                    loaded = report.loaded,
                    "progress"
                );
            }
        }
    }

    fn record(&mut self, step: &'static str, progress: StepProgress, report: StepReport) {
        progress.finish(&report);
        tracing::info!(
            tenant_id = self.tenant_id,
            job_id = self.job_id,
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

async fn jira_steps(
    run: &JiraRun<'_>,
    recorder: &mut StepRecorder<'_>,
) -> Result<(), PipelineError> {
    let progress = recorder.start(jira::steps::PROJECTS);
    let report = run.projects_and_issue_types().await?;
    recorder.record(jira::steps::PROJECTS, progress, report);
    let progress = recorder.start(jira::steps::STATUSES);
    let report = run.statuses().await?;
    recorder.record(jira::steps::STATUSES, progress, report);
    let progress = recorder.start(jira::steps::ISSUES);
    let issues = run
        .issues(&recorder.on_page(jira::steps::ISSUES, &progress))
        .await?;
    recorder.record(jira::steps::ISSUES, progress, issues.report);
    let progress = recorder.start(jira::steps::DEV_STATUS);
    let report = run.dev_status(&issues.with_code).await?;
    recorder.record(jira::steps::DEV_STATUS, progress, report);
    Ok(())
}

async fn github_steps(
    run: &GithubRun<'_>,
    recorder: &mut StepRecorder<'_>,
) -> Result<(), PipelineError> {
    let progress = recorder.start(github::steps::REPOSITORIES);
    let (report, repositories) = run.repositories().await?;
    recorder.record(github::steps::REPOSITORIES, progress, report);
    let progress = recorder.start(github::steps::PULL_REQUESTS);
    let pulls = run
        .pull_requests(
            &repositories,
            &recorder.on_page(github::steps::PULL_REQUESTS, &progress),
        )
        .await?;
    tracing::info!(
        tenant_id = recorder.tenant_id,
        job_id = recorder.job_id,
        comments = pulls.comments,
        metrics_changed = pulls.metrics_changed,
        "pull request comments and flow metrics loaded"
    );
    recorder.record(github::steps::PULL_REQUESTS, progress, pulls.report);
    Ok(())
}
