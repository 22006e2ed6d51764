//! `pulse-etl metrics dora --tenant ID [--group-by tenant|repository|week] [--since] [--until]`.

use sqlx::PgPool;

use super::output::{Output, Tabular};
use crate::cli::{DoraArgs, DoraGroupBy, MetricsCommand};
use crate::domain::delivery::Band;
use crate::service::flow;
use crate::sources::delivery::dora::{DoraGroup, DoraGrouping};

fn band(band: Option<Band>) -> String {
    band.map(|band| format!("{band:?}").to_lowercase())
        .unwrap_or_else(|| "-".into())
}

/// Seconds as hours with one decimal, or `-`.
fn hours(seconds: Option<f64>) -> String {
    seconds.map_or_else(|| "-".into(), |s| format!("{:.1} h", s / 3_600.0))
}

impl Tabular for DoraGroup {
    const HEADERS: &'static [&'static str] = &[
        "group",
        "deployments",
        "per week",
        "band",
        "changes",
        "lead time p50",
        "band",
        "failure rate",
        "band",
        "incidents",
        "restore p50",
        "band",
    ];

    fn cells(&self) -> Vec<String> {
        vec![
            self.group.clone(),
            self.deployments.to_string(),
            format!("{:.2}", self.deployments_per_week),
            band(Some(self.deployment_frequency_band)),
            self.changes.to_string(),
            hours(self.lead_time_seconds_p50),
            band(self.lead_time_band),
            self.change_failure_rate
                .map_or_else(|| "-".into(), |rate| format!("{:.1} %", rate * 100.0)),
            band(self.change_failure_band),
            self.incidents.to_string(),
            hours(self.time_to_restore_seconds_p50),
            band(self.time_to_restore_band),
        ]
    }
}

pub async fn run(pool: &PgPool, output: Output, command: MetricsCommand) -> anyhow::Result<()> {
    match command {
        MetricsCommand::Dora(args) => dora(pool, output, args).await,
    }
}

async fn dora(pool: &PgPool, output: Output, args: DoraArgs) -> anyhow::Result<()> {
    let group_by = match args.group_by {
        DoraGroupBy::Tenant => DoraGrouping::Tenant,
        DoraGroupBy::Repository => DoraGrouping::Repository,
        DoraGroupBy::Week => DoraGrouping::Week,
        DoraGroupBy::Team => DoraGrouping::Team,
    };
    let report = flow::dora(pool, args.tenant, group_by, args.since, args.until).await?;
    if output.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
        return Ok(());
    }
    match report.since {
        Some(since) => eprintln!(
            "window: {} to {}",
            since.to_rfc3339(),
            report.until.to_rfc3339()
        ),
        None => eprintln!("no production deployments yet"),
    }
    output.list(&report.groups)
}
