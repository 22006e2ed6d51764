//! `pulse-etl run-job`: one in-process sync of a tenant's integrations, with progress
//! lines, a summary, and an exit code that says whether it worked.

use anyhow::bail;
use sqlx::PgPool;

use super::output::{Output, Tabular};
use crate::cli::{QueueBackend, RunJobArgs};
use crate::config::Config;
use crate::pipeline::handoff::Handoff;
use crate::pipeline::sync::{run_one_job, JobRun, StepLine};
use crate::queue::topology::QueueStage;
use crate::sources::CATALOG;
use crate::store::{jobs, tenants};

impl Tabular for StepLine {
    const HEADERS: &'static [&'static str] = &[
        "job",
        "step",
        "extracted",
        "transformed",
        "loaded",
        "failed",
        "embedded",
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
            report.embedded.to_string(),
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
    let reach = super::reach(config, &config.secret_key()?);
    let embedding = super::vectors::embedding(config, Some(reach.cipher.clone()))?;
    let tier = tenants::tier(pool, args.tenant).await?;
    let broker = match args.queue {
        QueueBackend::Memory => None,
        QueueBackend::Rabbitmq => {
            let broker = super::broker::connect(config, super::broker::Patience::Role).await?;
            broker.declare(QueueStage::Transform, &[tier]).await?;
            broker.declare(QueueStage::Embedding, &[tier]).await?;
            Some(broker)
        }
    };
    let handoff = match &broker {
        None => Handoff::InProcess { sources: CATALOG },
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
                tenant_id = args.tenant.get(),
                job_id = job.id.get(),
                "skipped: the job or its integration is inactive"
            );
            continue;
        }
        let run = JobRun {
            job: &job,
            full: args.full,
            handoff,
            embedding: &embedding,
        };
        match run_one_job(pool, &reach, CATALOG, args.tenant, run, &mut lines).await {
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
