//! `pulse-etl reprocess`: transform and load again from stored raw data, no API call.

use anyhow::bail;
use sqlx::PgPool;

use super::output::Output;
use crate::cli::ReprocessArgs;
use crate::pipeline::sync::StepLine;
use crate::service::reprocess;

pub async fn run(pool: &PgPool, output: Output, args: ReprocessArgs) -> anyhow::Result<()> {
    let reports = reprocess::run(pool, args.tenant, Some(args.integration)).await?;
    let failed: u64 = reports.iter().map(|r| r.report.failed).sum();
    let lines: Vec<StepLine> = reports
        .into_iter()
        .map(|r| StepLine::new(None, r.step, r.report))
        .collect();
    output.list(&lines)?;
    if failed > 0 {
        bail!("{failed} item(s) failed to transform (see raw_extraction_data.error)");
    }
    Ok(())
}
