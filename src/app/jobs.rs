//! `pulse-etl jobs list|trigger|pause|resume|reset|watch --tenant ID [JOB]`.

use sqlx::PgPool;

use super::output::{Output, Tabular};
use crate::cli::JobsCommand;
use crate::domain::TenantId;
use crate::service::jobs;
use crate::store::job_controls::{Control, JobSummary};
use crate::store::job_events::{self, JobEvent};

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
            return output.list(&jobs::list(pool, tenant).await?);
        }
        JobsCommand::Watch { tenant } => return watch(pool, output, tenant).await,
        JobsCommand::Trigger(job) => (job, Control::Trigger, "due now"),
        JobsCommand::Pause(job) => (job, Control::Pause, "paused"),
        JobsCommand::Resume(job) => (job, Control::Resume, "resumed and due now"),
        JobsCommand::Reset(job) => (job, Control::Reset, "reset: the next run is a full sync"),
    };
    jobs::control(pool, job.tenant, job.job, control).await?;
    output.done(&format!("job {} {done}", job.job))
}

/// Prints the tenant's job events until Ctrl-C or SIGTERM: one JSON object per line with
/// `--json`, else one readable line each.
async fn watch(pool: &PgPool, output: Output, tenant_id: TenantId) -> anyhow::Result<()> {
    jobs::ensure_tenant(pool, tenant_id).await?;
    let mut events = job_events::listen(pool).await?;
    let stop = super::signals::shutdown();
    tokio::pin!(stop);
    loop {
        let event = tokio::select! {
            event = events.next() => event?,
            () = &mut stop => return Ok(()),
        };
        if event.tenant_id != tenant_id {
            continue;
        }
        if output.json {
            println!("{}", serde_json::to_string(&event)?);
        } else {
            println!("{}", describe(&event));
        }
    }
}

fn describe(event: &JobEvent) -> String {
    match (&event.step, &event.stage) {
        (Some(step), Some(stage)) => {
            format!("job {}: {step} {stage} {}", event.job_id, event.state)
        }
        _ => format!("job {}: {}", event.job_id, event.state),
    }
}
