//! What the end-to-end benchmarks share: the release binary run as separate processes (the
//! simulator, admin commands, run-job), the tests' scratch database, and the simulator's
//! counts.
#![allow(dead_code)] // each benchmark uses its own subset

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

// The tests' scratch database: one type for both.
#[path = "../../tests/it/common/scratch_db.rs"]
mod scratch_db;
pub use scratch_db::ScratchDb;

pub const SECRET_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// The simulator listens on loopback, which the outbound rule refuses unless allowed.
pub const ALLOW_LOOPBACK: (&str, &str) = ("PULSE_SOURCES__ALLOW_NETWORKS", "127.0.0.1/32");

/// The `pulse-etl` the benchmarks run: this build, or the one `PULSE_BENCH_BINARY` names
/// (an earlier build, to compare two side by side on the same machine state).
pub fn binary() -> &'static str {
    static BINARY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BINARY.get_or_init(|| {
        std::env::var("PULSE_BENCH_BINARY")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_pulse-etl").to_owned())
    })
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Sizes from a comma-separated environment variable, else `default`.
pub fn sizes(variable: &str, default: &str) -> Vec<u32> {
    std::env::var(variable)
        .unwrap_or_else(|_| default.into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect()
}

/// Runs `pulse-etl` against `database`; returns its stdout and how long it took.
pub fn pulse(database: &str, args: &[&str]) -> (String, Duration) {
    pulse_with(database, args, &[])
}

/// As [`pulse`], with more environment variables.
pub fn pulse_with(database: &str, args: &[&str], env: &[(&str, &str)]) -> (String, Duration) {
    let started = Instant::now();
    let output = Command::new(binary())
        .args(args)
        .env("DATABASE_URL", database)
        .env("PULSE_SECRET_KEY", SECRET_KEY)
        .env(ALLOW_LOOPBACK.0, ALLOW_LOOPBACK.1)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(output.status.success(), "pulse-etl {args:?} failed");
    (String::from_utf8(output.stdout).unwrap(), started.elapsed())
}

/// A Jira integration of `tenant` on the simulator at `port` (its rate limit out of the
/// way), synced once.
pub fn synced_jira_tenant(database: &str, tenant: &str, port: u16) {
    let base = format!("http://127.0.0.1:{port}");
    pulse(
        database,
        &[
            "integration",
            "create",
            "--tenant",
            tenant,
            "--provider",
            "jira",
            "--base-url",
            &base,
            "--username",
            "sim@example.com",
            "--token",
            "sim-token",
            "--requests-per-second",
            "2000",
        ],
    );
    pulse(database, &["run-job", "jira", "--tenant", tenant]);
}

/// As [`pulse`], also returning the process's peak resident memory in MiB (its `VmHWM`,
/// read until it exits).
pub fn pulse_measured(database: &str, args: &[&str]) -> (String, Duration, f64) {
    pulse_measured_with(database, args, &[])
}

/// As [`pulse_measured`], with more environment variables.
pub fn pulse_measured_with(
    database: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> (String, Duration, f64) {
    let started = Instant::now();
    let mut child = Command::new(binary())
        .args(args)
        .env("DATABASE_URL", database)
        .env("PULSE_SECRET_KEY", SECRET_KEY)
        .env(ALLOW_LOOPBACK.0, ALLOW_LOOPBACK.1)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut stdout, &mut text).unwrap();
        text
    });
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0_u64;
    let status = loop {
        if let Ok(status) = std::fs::read_to_string(&status_file) {
            let hwm = status
                .lines()
                .find_map(|line| line.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok());
            peak_kib = peak_kib.max(hwm.unwrap_or(0));
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "pulse-etl {args:?} failed");
    let text = reader.join().unwrap();
    (text, started.elapsed(), peak_kib as f64 / 1024.0)
}

/// `pulse-etl simulate` on `port` with `args`, once it accepts connections.
pub fn simulator(port: u16, args: &[&str]) -> Child {
    let mut child = Command::new(binary())
        .args(["simulate", "--port", &port.to_string(), "--seed", "7"])
        .args(args)
        .env("RUST_LOG", "warn")
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return child;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().ok();
    child.wait().ok();
    panic!("simulator did not start");
}

impl ScratchDb {
    /// A new tenant's id.
    pub fn tenant(&self) -> String {
        let (tenant, _) = pulse(
            &self.url,
            &[
                "tenant",
                "create",
                "--name",
                "Bench",
                "--tier",
                "enterprise",
            ],
        );
        tenant.trim().to_owned()
    }

    /// The id of the only integration.
    pub async fn integration_id(&self) -> String {
        let id: i64 = sqlx::query_scalar("SELECT id FROM integrations")
            .fetch_one(&self.pool)
            .await
            .unwrap();
        id.to_string()
    }
}

/// `/_sim/stats` of the simulator at `base`.
pub async fn sim_stats(base: &str) -> Value {
    reqwest::get(format!("{base}/_sim/stats"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// All requests the simulator answered, and those answered `304`.
pub fn request_counts(stats: &Value) -> (u64, u64) {
    let all = stats["requests"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    (all, stats["responses"]["304"].as_u64().unwrap_or(0))
}

/// The summed `key` (a stage time) over run-job's JSON summary.
pub fn stage_seconds(steps: &[Value], key: &str) -> f64 {
    steps.iter().map(|s| s[key].as_f64().unwrap_or(0.0)).sum()
}
