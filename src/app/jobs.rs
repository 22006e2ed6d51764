//! `pulse-etl jobs list|trigger|pause|resume|reset --tenant ID [JOB]`.

use sqlx::PgPool;

use super::output::{Output, Tabular};
use crate::cli::JobsCommand;
use crate::store::job_controls::{self, Control, JobSummary};

impl Tabular for JobSummary {
    const HEADERS: &'static [&'static str] = &[
        "id",
        "integration",
        "type",
        "state",
        "active",
        "next run",
        "cursor",
        "full next",
        "note",
    ];

    fn cells(&self) -> Vec<String> {
        let time = |at: &Option<chrono::DateTime<chrono::Utc>>| {
            at.map(|at| at.format("%Y-%m-%d %H:%M:%S").to_string())
                .unwrap_or_default()
        };
        vec![
            self.id.to_string(),
            self.integration_id.to_string(),
            self.job_type.clone(),
            self.state.clone(),
            self.active.to_string(),
            time(&self.next_run),
            time(&self.last_sync_date),
            self.full_sync_requested.to_string(),
            self.skip_reason
                .clone()
                .or_else(|| self.error_message.clone())
                .unwrap_or_default(),
        ]
    }
}

pub async fn run(pool: &PgPool, output: Output, command: JobsCommand) -> anyhow::Result<()> {
    let (job, control, done) = match command {
        JobsCommand::List { tenant } => {
            return output.list(&job_controls::list(pool, tenant).await?);
        }
        JobsCommand::Trigger(job) => (job, Control::Trigger, "due now"),
        JobsCommand::Pause(job) => (job, Control::Pause, "paused"),
        JobsCommand::Resume(job) => (job, Control::Resume, "resumed and due now"),
        JobsCommand::Reset(job) => (job, Control::Reset, "reset: the next run is a full sync"),
    };
    job_controls::apply(pool, job.tenant, job.job, control).await?;
    tracing::info!(
        tenant_id = job.tenant,
        job_id = job.job,
        ?control,
        "job updated"
    );
    output.done(&format!("job {} {done}", job.job))
}
