//! Optional trace export: with `tracing.otlp_endpoint` set, the spans (job runs, queue
//! messages, API requests) go to an OpenTelemetry collector over OTLP/HTTP, and the W3C
//! trace context travels with the work: an API request that makes a job due leaves its
//! `traceparent` on the job, the run joins it, and queue messages carry it in a header, so
//! API request, job run and the messages workers handle for it are one trace.

use std::collections::HashMap;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider};
use opentelemetry_sdk::Resource;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The header (and W3C field) a message's trace context travels in.
pub const TRACEPARENT: &str = "traceparent";

/// The exporter, when one is configured; flush it with [`TraceExport::shutdown`] before
/// the process exits.
pub struct TraceExport(Option<SdkTracerProvider>);

impl TraceExport {
    /// Sends what is still buffered and stops the exporter.
    pub fn shutdown(self) {
        if let Some(provider) = self.0 {
            if let Err(error) = provider.shutdown() {
                eprintln!("warning: traces not all exported: {error}");
            }
        }
    }
}

/// The collector's base URL from the configuration (`tracing.otlp_endpoint`,
/// `PULSE_TRACING__OTLP_ENDPOINT`); an unreadable configuration is reported when the
/// command loads it, not here.
fn configured_endpoint() -> Option<String> {
    let figment = crate::config::Config::figment().ok()?;
    let endpoint: String = figment.extract_inner("tracing.otlp_endpoint").ok()?;
    let endpoint = endpoint.trim().trim_end_matches('/');
    (!endpoint.is_empty()).then(|| endpoint.to_owned())
}

/// The tracer spans are exported through, and the handle that flushes it; none without an
/// endpoint.
pub(super) fn tracer() -> (Option<SdkTracer>, TraceExport) {
    let Some(endpoint) = configured_endpoint() else {
        return (None, TraceExport(None));
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("{endpoint}/v1/traces"))
        .build();
    match exporter {
        Ok(exporter) => {
            let provider = SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(Resource::builder().with_service_name("pulse-etl").build())
                .build();
            (
                Some(provider.tracer("pulse-etl")),
                TraceExport(Some(provider)),
            )
        }
        Err(error) => {
            eprintln!("warning: no trace export to {endpoint}: {error}");
            (None, TraceExport(None))
        }
    }
}

/// The current span's trace context as a `traceparent` value (none when nothing is traced).
pub fn traceparent() -> Option<String> {
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(&tracing::Span::current().context(), &mut carrier);
    carrier.remove(TRACEPARENT)
}

/// The span a received queue message is handled in: a child of the trace `traceparent`
/// names (the message's sender), or a trace of its own.
pub fn message_span(stage: &'static str, traceparent: Option<&str>) -> tracing::Span {
    // At error level, like the job and message spans, so that any log filter keeps it.
    joined(tracing::error_span!("queue_message", stage), traceparent)
}

/// The span a claimed job is run (or dispatched) in: a child of the trace of the request
/// that made it due, when one was recorded.
pub fn job_span(traceparent: Option<&str>) -> tracing::Span {
    joined(tracing::error_span!("claimed_job"), traceparent)
}

/// `span` as a child of `traceparent`'s trace. (A parent can only be set before a span is
/// first entered; without an exporter there is no trace to join.)
fn joined(span: tracing::Span, traceparent: Option<&str>) -> tracing::Span {
    if let Some(traceparent) = traceparent {
        let carrier = HashMap::from([(TRACEPARENT.to_owned(), traceparent.to_owned())]);
        let parent = TraceContextPropagator::new().extract(&carrier);
        let _ = span.set_parent(parent);
    }
    span
}
