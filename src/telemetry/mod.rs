//! Logging (tracing-subscriber to stderr, human or JSON, filtered by `RUST_LOG`), optional
//! trace export over OTLP, and Prometheus metrics.

pub mod metrics;
pub mod trace_export;

use std::io::IsTerminal;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

pub use trace_export::TraceExport;

use crate::cli::LogFormat;

/// Without `RUST_LOG`: our own info lines, and only warnings from sqlx (it logs every
/// server notice, such as "relation already exists, skipping", at info).
const DEFAULT_FILTER: &str = "info,sqlx=warn";

/// Always added: the embedded Qdrant engine warns at every start that process-wide
/// settings only Qdrant's own server start-up sets ("Feature flags not initialized!",
/// "MULTI_MMAP_SUPPORT_CHECK_RESULT should be initialized…") were left at their defaults,
/// which is what an embedded engine wants; the crate offers no way to set them.
const QUIETED: [&str; 2] = [
    "qdrant_edge::common::flags=error",
    "qdrant_edge::common::mmap::ops=error",
];

/// Installs the global subscriber (and the trace exporter, when `tracing.otlp_endpoint` is
/// set); call once at start-up, and [`TraceExport::shutdown`] before exiting.
pub fn init(format: LogFormat) -> TraceExport {
    let filter = QUIETED.iter().fold(
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER)),
        |filter, directive| match directive.parse() {
            Ok(directive) => filter.add_directive(directive),
            Err(_) => filter,
        },
    );
    let (tracer, export) = trace_export::tracer();
    let traces = tracer.map(|tracer| tracing_opentelemetry::layer().with_tracer(tracer));
    let registry = tracing_subscriber::registry().with(filter).with(traces);
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Human => registry
            .with(
                logs.with_ansi(std::io::stderr().is_terminal())
                    .with_target(false),
            )
            .try_init(),
        LogFormat::Json => registry.with(logs.json().flatten_event(true)).try_init(),
    };
    if let Err(error) = installed {
        eprintln!("warning: logging was already initialised: {error}");
    }
    export
}
