//! Logging (tracing-subscriber to stderr, human or JSON, filtered by `RUST_LOG`) and
//! Prometheus metrics.

pub mod metrics;

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// Without `RUST_LOG`: our own info lines, and only warnings from sqlx (it logs every
/// server notice, such as "relation already exists, skipping", at info).
const DEFAULT_FILTER: &str = "info,sqlx=warn";

/// Installs the global subscriber; call once at start-up.
pub fn init(format: LogFormat) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Human => builder
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
    if let Err(error) = installed {
        eprintln!("warning: logging was already initialised: {error}");
    }
}
