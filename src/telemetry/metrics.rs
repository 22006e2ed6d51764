//! Prometheus metrics: every series' name and help text, the process-wide recorder, and the
//! typed helpers the stages call to record into it. Names follow Prometheus conventions
//! (`pulse_…_total` counters, base units); high-rate series carry the tier, never a tenant
//! id, so their label sets stay bounded.

use std::sync::OnceLock;
use std::time::Duration;

pub use ::metrics::SharedString;
use ::metrics::Unit;
use ::metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Items (projects, issues, repositories, pull requests, …) per source × job step × stage
/// (extraction, load, embedding) × outcome (ok, failed: failed to transform or load), as
/// the runs that moved them count them.
pub const ITEMS: &str = "pulse_items_total";
/// Seconds a worker spent on one message of a stage (a dispatched job, for extraction).
pub const STAGE_DURATION: &str = "pulse_stage_duration_seconds";
/// Queue messages settled by workers per stage × tier × outcome (ack, retry, dead_letter).
pub const MESSAGES: &str = "pulse_messages_total";
/// Messages a worker process holds and is working on, per stage.
pub const MESSAGES_IN_FLIGHT: &str = "pulse_messages_in_flight";
/// Messages ready in a RabbitMQ queue (its passive declare), per queue.
pub const QUEUE_DEPTH: &str = "pulse_queue_depth";
/// Messages in the dead-letter queue (`etl.failed`).
pub const DEAD_LETTERS: &str = "pulse_dead_letter_messages";
/// Requests sent to a source per provider × endpoint class × status.
pub const SOURCE_REQUESTS: &str = "pulse_source_requests_total";
/// Requests asked again per provider × reason.
pub const SOURCE_RETRIES: &str = "pulse_source_retries_total";
/// Pauses a source's limits imposed (429, 403 secondary limits, GraphQL `RATE_LIMITED`, a
/// spent budget) and their seconds, per provider × reason: `_count` waits, `_sum` seconds.
pub const RATE_LIMIT_WAIT: &str = "pulse_source_rate_limit_wait_seconds";
/// A token's remaining budget as the source last reported it, per provider × resource ×
/// token (a fingerprint, never the token).
pub const BUDGET_REMAINING: &str = "pulse_source_budget_remaining";
/// Sync job runs per provider × outcome (finished, failed).
pub const JOB_RUNS: &str = "pulse_job_runs_total";
/// Seconds a sync job run took, per provider × outcome.
pub const JOB_RUN_DURATION: &str = "pulse_job_run_duration_seconds";
/// Now minus the oldest `next_run` of an active job still waiting to be claimed.
pub const SCHEDULER_LAG: &str = "pulse_scheduler_lag_seconds";
/// The process's database pool: connections per state (idle, in_use).
pub const DB_POOL_CONNECTIONS: &str = "pulse_db_pool_connections";
/// The pool's configured maximum.
pub const DB_POOL_MAX: &str = "pulse_db_pool_max_connections";
/// Records per embedding call.
pub const EMBED_BATCH_SIZE: &str = "pulse_embed_batch_size";
/// Seconds per embedding call.
pub const EMBED_BATCH_DURATION: &str = "pulse_embed_batch_duration_seconds";
/// Webhook deliveries received per source × outcome (stored, duplicate, refused,
/// too_large, malformed); refused ones are counted here and stored nowhere.
pub const WEBHOOK_DELIVERIES: &str = "pulse_webhook_deliveries_total";
/// Reconcile runs that found changes the webhooks had not delivered, per source.
pub const WEBHOOK_GAPS: &str = "pulse_webhook_gaps_total";
/// Raw rows the retention pruner deleted (older versions past the retention window,
/// processed webhook deliveries).
pub const RAW_PRUNED_ROWS: &str = "pulse_raw_pruned_rows_total";
/// Bytes of raw JSON (as stored) in the rows the pruner deleted.
pub const RAW_PRUNED_BYTES: &str = "pulse_raw_pruned_bytes_total";
/// Always 1, labelled with the running version and role.
pub const BUILD_INFO: &str = "pulse_build_info";

/// What kind of series a name is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// Every series this process can export, with its kind and help text: the deploy files'
/// dashboard and alerts may only use these.
pub const ALL: &[(&str, Kind, &str)] = &[
    (
        ITEMS,
        Kind::Counter,
        "Items per source, job step, stage and outcome",
    ),
    (
        STAGE_DURATION,
        Kind::Histogram,
        "Seconds one unit of a stage's work took",
    ),
    (
        MESSAGES,
        Kind::Counter,
        "Queue messages settled per stage, tier and outcome",
    ),
    (
        MESSAGES_IN_FLIGHT,
        Kind::Gauge,
        "Messages this worker holds and is working on",
    ),
    (
        QUEUE_DEPTH,
        Kind::Gauge,
        "Messages ready in a RabbitMQ queue",
    ),
    (
        DEAD_LETTERS,
        Kind::Gauge,
        "Messages in the dead-letter queue",
    ),
    (SOURCE_REQUESTS, Kind::Counter, "Requests sent to a source"),
    (SOURCE_RETRIES, Kind::Counter, "Source requests asked again"),
    (
        RATE_LIMIT_WAIT,
        Kind::Histogram,
        "Seconds a source's rate limit made a request wait",
    ),
    (
        BUDGET_REMAINING,
        Kind::Gauge,
        "A token's remaining request budget or GraphQL points",
    ),
    (JOB_RUNS, Kind::Counter, "Sync job runs per outcome"),
    (
        JOB_RUN_DURATION,
        Kind::Histogram,
        "Seconds a sync job run took",
    ),
    (
        SCHEDULER_LAG,
        Kind::Gauge,
        "Seconds the oldest due job has waited to be claimed",
    ),
    (
        DB_POOL_CONNECTIONS,
        Kind::Gauge,
        "Database pool connections per state",
    ),
    (DB_POOL_MAX, Kind::Gauge, "The database pool's maximum size"),
    (
        EMBED_BATCH_SIZE,
        Kind::Histogram,
        "Records per embedding call",
    ),
    (
        EMBED_BATCH_DURATION,
        Kind::Histogram,
        "Seconds per embedding call",
    ),
    (
        WEBHOOK_DELIVERIES,
        Kind::Counter,
        "Webhook deliveries received per source and outcome",
    ),
    (
        WEBHOOK_GAPS,
        Kind::Counter,
        "Reconcile runs that found changes the webhooks had missed",
    ),
    (
        RAW_PRUNED_ROWS,
        Kind::Counter,
        "Raw rows the retention pruner deleted",
    ),
    (
        RAW_PRUNED_BYTES,
        Kind::Counter,
        "Bytes of raw JSON in the rows the pruner deleted",
    ),
    (BUILD_INFO, Kind::Gauge, "The running version and role"),
];

/// Bucket bounds (seconds) for every `_seconds` histogram: from a fast message to a long
/// job run.
const SECONDS_BUCKETS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0,
];
/// Bucket bounds for embedding batch sizes (records).
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide recorder once (later calls are no-ops) and marks the process
/// with its `role`. Without it, recording calls cost nothing and record nothing.
pub fn install(role: &'static str) {
    let handle = HANDLE.get_or_init(|| {
        let built = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
            .and_then(|builder| {
                builder
                    .set_buckets_for_metric(Matcher::Full(EMBED_BATCH_SIZE.into()), BATCH_BUCKETS)
            })
            .and_then(PrometheusBuilder::install_recorder);
        match built {
            Ok(handle) => Some(handle),
            Err(error) => {
                tracing::warn!(%error, "metrics recorder not installed; /metrics stays empty");
                None
            }
        }
    });
    if handle.is_some() {
        describe();
        gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION"), "role" => role).set(1.0);
    }
}

/// The exposition text of everything recorded so far (empty before [`install`]).
pub fn render() -> String {
    match HANDLE.get() {
        Some(Some(handle)) => {
            handle.run_upkeep();
            handle.render()
        }
        _ => String::new(),
    }
}

fn describe() {
    for &(name, kind, help) in ALL {
        let (name, help) = (SharedString::const_str(name), SharedString::const_str(help));
        match kind {
            Kind::Counter => describe_counter!(name, help),
            Kind::Gauge => describe_gauge!(name, help),
            Kind::Histogram if name.ends_with("_seconds") => {
                describe_histogram!(name, Unit::Seconds, help)
            }
            Kind::Histogram => describe_histogram!(name, help),
        }
    }
}

/// `count` items of `source`'s `step` went through `stage` with `outcome`.
pub fn items(
    (source, step): (&'static str, &'static str),
    (stage, outcome): (&'static str, &'static str),
    count: u64,
) {
    if count > 0 {
        counter!(ITEMS, "source" => source, "step" => step, "stage" => stage, "outcome" => outcome)
            .increment(count);
    }
}

/// One unit of `stage`'s work took `elapsed`.
pub fn stage_duration(stage: &'static str, elapsed: Duration) {
    histogram!(STAGE_DURATION, "stage" => stage).record(elapsed.as_secs_f64());
}

/// A worker settled a message of `stage` from a `tier` queue with `outcome`.
pub fn message_settled(stage: &'static str, tier: &'static str, outcome: &'static str) {
    counter!(MESSAGES, "stage" => stage, "tier" => tier, "outcome" => outcome).increment(1);
}

/// Counts a message of `stage` in flight while the guard lives.
pub fn in_flight(stage: &'static str) -> InFlight {
    gauge!(MESSAGES_IN_FLIGHT, "stage" => stage).increment(1.0);
    InFlight(stage)
}

/// See [`in_flight`].
pub struct InFlight(&'static str);

impl Drop for InFlight {
    fn drop(&mut self) {
        gauge!(MESSAGES_IN_FLIGHT, "stage" => self.0).decrement(1.0);
    }
}

/// `queue` holds `messages` ready messages.
pub fn queue_depth(queue: String, messages: u32) {
    gauge!(QUEUE_DEPTH, "queue" => queue).set(f64::from(messages));
}

/// The dead-letter queue holds `messages`.
pub fn dead_letters(messages: u32) {
    gauge!(DEAD_LETTERS).set(f64::from(messages));
}

/// A request to `provider`'s `endpoint` class answered `status` ("error": no answer).
pub fn source_request(provider: &'static str, endpoint: &'static str, status: SharedString) {
    counter!(SOURCE_REQUESTS, "provider" => provider, "endpoint" => endpoint, "status" => status)
        .increment(1);
}

/// A request to `provider` is asked again for `reason`.
pub fn source_retry(provider: &'static str, reason: &'static str) {
    counter!(SOURCE_RETRIES, "provider" => provider, "reason" => reason).increment(1);
}

/// `provider`'s rate limit (`reason`) made a request wait `wait`.
pub fn rate_limit_wait(provider: &'static str, reason: &'static str, wait: Duration) {
    histogram!(RATE_LIMIT_WAIT, "provider" => provider, "reason" => reason)
        .record(wait.as_secs_f64());
}

/// `provider` reported `remaining` of `token`'s `resource` budget.
pub fn budget_remaining(
    provider: &'static str,
    resource: String,
    token: SharedString,
    remaining: i64,
) {
    gauge!(BUDGET_REMAINING, "provider" => provider, "resource" => resource, "token" => token)
        .set(remaining as f64);
}

/// A sync job of `provider` ended with `outcome` after `elapsed`.
pub fn job_run(provider: &'static str, outcome: &'static str, elapsed: Duration) {
    counter!(JOB_RUNS, "provider" => provider, "outcome" => outcome).increment(1);
    histogram!(JOB_RUN_DURATION, "provider" => provider, "outcome" => outcome)
        .record(elapsed.as_secs_f64());
}

/// The oldest due job has waited `seconds` (0 when none waits).
pub fn scheduler_lag(seconds: f64) {
    gauge!(SCHEDULER_LAG).set(seconds.max(0.0));
}

/// The database pool's size now.
pub fn db_pool(pool: &sqlx::PgPool) {
    let idle = pool.num_idle() as f64;
    let open = f64::from(pool.size());
    gauge!(DB_POOL_CONNECTIONS, "state" => "idle").set(idle);
    gauge!(DB_POOL_CONNECTIONS, "state" => "in_use").set((open - idle).max(0.0));
    gauge!(DB_POOL_MAX).set(f64::from(pool.options().get_max_connections()));
}

/// One embedding call of `records` took `elapsed`.
pub fn embed_batch(records: usize, elapsed: Duration) {
    histogram!(EMBED_BATCH_SIZE).record(records as f64);
    histogram!(EMBED_BATCH_DURATION).record(elapsed.as_secs_f64());
}

/// A webhook delivery from `source` was received with `outcome`.
pub fn webhook_delivery(source: &'static str, outcome: &'static str) {
    counter!(WEBHOOK_DELIVERIES, "source" => source, "outcome" => outcome).increment(1);
}

/// A reconcile run of `source` found changes the webhooks had missed.
/// The retention pruner deleted `rows` raw rows holding `bytes` of JSON.
pub fn raw_pruned(rows: u64, bytes: u64) {
    counter!(RAW_PRUNED_ROWS).increment(rows);
    counter!(RAW_PRUNED_BYTES).increment(bytes);
}

pub fn webhook_gap(source: &'static str) {
    counter!(WEBHOOK_GAPS, "source" => source).increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus_conventions() {
        for &(name, kind, help) in ALL {
            assert!(name.starts_with("pulse_"), "{name}");
            assert!(
                name.chars().all(|c| c.is_ascii_lowercase() || c == '_'),
                "{name}"
            );
            assert!(!help.is_empty());
            // Counters, and only counters, end in _total.
            assert_eq!(name.ends_with("_total"), kind == Kind::Counter, "{name}");
        }
    }
}
