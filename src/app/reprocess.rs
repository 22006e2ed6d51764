//! `pulse-etl reprocess`: transform and load again from stored raw data, no API call.

use anyhow::bail;
use sqlx::PgPool;

use super::output::Output;
use crate::cli::ReprocessArgs;
use crate::domain::IntegrationRef;
use crate::pipeline::sync::StepLine;
use crate::sources::CATALOG;
use crate::store::integrations;

pub async fn run(pool: &PgPool, output: Output, args: ReprocessArgs) -> anyhow::Result<()> {
    let integration = integrations::get(pool, args.tenant, args.integration).await?;
    let reports = CATALOG
        .source(integration.provider)
        .reprocess(pool, IntegrationRef::new(args.tenant, args.integration))
        .await?;
    tracing::info!(
        tenant_id = args.tenant.get(),
        integration_id = args.integration.get(),
        "reprocessed from raw data"
    );
    let failed: u64 = reports.iter().map(|(_, r)| r.failed).sum();
    let lines: Vec<StepLine> = reports
        .into_iter()
        .map(|(step, report)| StepLine::new(None, step, report))
        .collect();
    output.list(&lines)?;
    if failed > 0 {
        bail!("{failed} item(s) failed to transform (see raw_extraction_data.error)");
    }
    Ok(())
}
