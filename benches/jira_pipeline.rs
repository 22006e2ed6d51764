//! End-to-end Jira sync: `pulse-etl run-job jira` (release build) against `pulse-etl
//! simulate` in another process, into a fresh database on the real PostgreSQL server.
//! Prints issues/s, time per stage, API requests, peak RSS, and the time PostgreSQL alone
//! takes to COPY the same raw JSON (the physical ceiling). Asserts nothing.
//! Run with `cargo bench --bench jira_pipeline` (sizes: PULSE_BENCH_ISSUES=10000,100000).
#![allow(clippy::expect_used, clippy::unwrap_used)] // a benchmark: a failed set-up should stop it loudly

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sqlx::{Connection, PgConnection};

const SECRET_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_pulse-etl")
}

fn admin_url() -> String {
    std::env::var("PULSE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".into())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn pulse(database: &str, args: &[&str]) -> (String, Duration) {
    let started = Instant::now();
    let output = Command::new(binary())
        .args(args)
        .env("DATABASE_URL", database)
        .env("PULSE_SECRET_KEY", SECRET_KEY)
        .env("RUST_LOG", "warn")
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    assert!(output.status.success(), "pulse-etl {args:?} failed");
    (String::from_utf8(output.stdout).unwrap(), started.elapsed())
}

fn simulator(issues: u32, port: u16) -> Child {
    let mut child = Command::new(binary())
        .args([
            "simulate",
            "--port",
            &port.to_string(),
            "--seed",
            "7",
            "--jira-issues",
            &issues.to_string(),
        ])
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

/// Peak resident memory of the largest child waited for so far, in MiB.
fn children_peak_rss_mib() -> f64 {
    let usage =
        nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).unwrap();
    usage.max_rss() as f64 / 1024.0
}

/// COPY of the stored raw issue JSON into a scratch table: PostgreSQL's own ceiling.
async fn copy_ceiling(database: &str) -> (usize, Duration) {
    let mut connection = PgConnection::connect(database).await.unwrap();
    let rows: Vec<String> = sqlx::query_scalar(
        "SELECT raw_data::text FROM raw_extraction_data WHERE type = 'jira_issue'",
    )
    .fetch_all(&mut connection)
    .await
    .unwrap();
    let mut data = String::with_capacity(rows.iter().map(|r| r.len() + 1).sum());
    for row in &rows {
        data.push_str(&row.replace('\\', "\\\\"));
        data.push('\n');
    }
    sqlx::query("CREATE TEMP TABLE copy_ceiling (raw jsonb)")
        .execute(&mut connection)
        .await
        .unwrap();
    let started = Instant::now();
    let mut copy = connection
        .copy_in_raw("COPY copy_ceiling (raw) FROM STDIN")
        .await
        .unwrap();
    copy.send(data.as_bytes()).await.unwrap();
    copy.finish().await.unwrap();
    (rows.len(), started.elapsed())
}

fn main() {
    let sizes: Vec<u32> = std::env::var("PULSE_BENCH_ISSUES")
        .unwrap_or_else(|_| "10000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    println!(
        "jira pipeline benchmark (run-job and simulator as separate processes, 2 cores shared)"
    );
    for issues in sizes {
        let port = free_port();
        let mut sim = simulator(issues, port);
        let name = format!("pulse_bench_{}", std::process::id());
        let admin = admin_url();
        let database = runtime.block_on(async {
            let mut connection = PgConnection::connect(&admin).await.unwrap();
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name}"))
                .execute(&mut connection)
                .await
                .unwrap();
            sqlx::query(&format!("CREATE DATABASE {name}"))
                .execute(&mut connection)
                .await
                .unwrap();
            let mut url = url::Url::parse(&admin).unwrap();
            url.set_path(&name);
            url.to_string()
        });
        pulse(&database, &["migrate"]);
        let (tenant, _) = pulse(
            &database,
            &[
                "tenant",
                "create",
                "--name",
                "Bench",
                "--tier",
                "enterprise",
            ],
        );
        let base = format!("http://127.0.0.1:{port}");
        pulse(
            &database,
            &[
                "integration",
                "create",
                "--tenant",
                tenant.trim(),
                "--provider",
                "jira",
                "--base-url",
                &base,
                "--username",
                "sim@example.com",
                "--token",
                "sim-token",
                "--requests-per-second",
                "100000",
                "--concurrency",
                "32",
            ],
        );
        let (summary, elapsed) = pulse(
            &database,
            &["--json", "run-job", "jira", "--tenant", tenant.trim()],
        );
        let peak = children_peak_rss_mib();
        let stats: Value = runtime.block_on(async {
            reqwest::get(format!("{base}/_sim/stats"))
                .await
                .unwrap()
                .json()
                .await
                .unwrap()
        });
        let requests: u64 = stats["requests"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_u64().unwrap())
            .sum();
        let steps: Vec<Value> = serde_json::from_str(&summary).unwrap();
        let issues_step = steps
            .iter()
            .find(|s| s["step"] == "jira_issues_with_changelogs")
            .unwrap();
        let seconds = |key: &str| {
            steps
                .iter()
                .map(|s| s[key].as_f64().unwrap_or(0.0))
                .sum::<f64>()
        };
        let (copied, copy_time) = runtime.block_on(copy_ceiling(&database));
        let load = issues_step["load_seconds"].as_f64().unwrap();
        println!(
            "  {issues:>7} issues: {:.1} s end to end = {:.0} issues/s | stages: extract {:.1} s, transform {:.1} s, load {:.1} s \
             | {requests} API requests | run-job peak RSS {peak:.0} MiB | COPY of the same {copied} raw issues {:.2} s \
             ({:.0}/s); load stage {:.0} issues/s = {:.0} % of COPY",
            elapsed.as_secs_f64(),
            issues as f64 / elapsed.as_secs_f64(),
            seconds("extract_seconds"),
            seconds("transform_seconds"),
            seconds("load_seconds"),
            copy_time.as_secs_f64(),
            copied as f64 / copy_time.as_secs_f64(),
            issues as f64 / load,
            100.0 * copy_time.as_secs_f64() / load,
        );
        sim.kill().ok();
        sim.wait().ok();
        runtime.block_on(async {
            let mut connection = PgConnection::connect(&admin).await.unwrap();
            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut connection)
                .await
                .unwrap();
        });
    }
}
