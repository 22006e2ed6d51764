//! `pulse-etl raw prune [--tenant ID] [--dry-run]`: one raw retention pass, now.

use std::time::Duration;

use sqlx::PgPool;

use super::output::{Output, Tabular};
use crate::cli::RawCommand;
use crate::config::Config;
use crate::pipeline::raw_retention::{self, PruneTotals, Retention};

impl Tabular for PruneTotals {
    const HEADERS: &'static [&'static str] = &["integrations", "scanned", "pruned", "bytes"];

    fn cells(&self) -> Vec<String> {
        [self.integrations, self.scanned, self.pruned, self.bytes]
            .iter()
            .map(u64::to_string)
            .collect()
    }
}

pub async fn run(
    pool: &PgPool,
    config: &Config,
    output: Output,
    command: RawCommand,
) -> anyhow::Result<()> {
    match command {
        RawCommand::Prune { tenant, dry_run } => {
            let retention = Retention::days(config.raw.retain_days, Duration::ZERO);
            let totals = raw_retention::prune(pool, tenant, retention, dry_run).await?;
            output.list(&[totals])
        }
    }
}
