//! The same Jira sync with its transform and load stages in-process and over RabbitMQ (one,
//! then two `worker --stage transform` and `worker --stage load` processes each):
//! end-to-end issues/s and transform messages/s for each, and RabbitMQ mode as a share of
//! in-process. Release build; simulator, run-job and
//! workers as separate processes on this machine; a fresh database per mode. Asserts
//! nothing. Run with `cargo bench --bench queue_modes` (size: PULSE_BENCH_ISSUES=10000).
#![allow(clippy::expect_used, clippy::unwrap_used)] // a benchmark: a failed set-up should stop it loudly

mod common;

use std::process::{Child, Command, Stdio};

use common::{binary, free_port, pulse_with, ScratchDb, SECRET_KEY};

fn rabbitmq_url() -> String {
    std::env::var("PULSE_TEST_RABBITMQ_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into())
}

fn worker(database: &str, env: &[(&str, &str)], stage: &str) -> Child {
    Command::new(binary())
        .args(["worker", "--stage", stage, "--tier", "all"])
        .env("DATABASE_URL", database)
        .env("PULSE_SECRET_KEY", SECRET_KEY)
        .env(common::ALLOW_LOOPBACK.0, common::ALLOW_LOOPBACK.1)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .spawn()
        .unwrap()
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let prefix = format!("bench_{}_", std::process::id());
    let url = rabbitmq_url();
    let env = [
        ("RABBITMQ_URL", url.as_str()),
        ("PULSE_QUEUE__NAME_PREFIX", prefix.as_str()),
    ];
    println!("transform and load in-process vs over RabbitMQ (2 cores shared by every process)");
    for issues in common::sizes("PULSE_BENCH_ISSUES", "10000") {
        let port = free_port();
        let mut sim = common::simulator(port, &["--jira-issues", &issues.to_string()]);
        let base = format!("http://127.0.0.1:{port}");
        let mut in_process_rate = None;
        for (label, workers) in [
            ("in-process", 0),
            ("RabbitMQ, 1 per stage", 1),
            ("RabbitMQ, 2 per stage", 2),
        ] {
            let db = runtime.block_on(ScratchDb::migrated());
            let tenant = db.tenant();
            pulse_with(
                &db.url,
                &[
                    "integration",
                    "create",
                    "--tenant",
                    &tenant,
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
                &env,
            );
            let children: Vec<Child> = (0..workers)
                .flat_map(|_| ["transform", "load"])
                .map(|stage| worker(&db.url, &env, stage))
                .collect();
            let queue = if workers == 0 { "memory" } else { "rabbitmq" };
            let (_, elapsed) = pulse_with(
                &db.url,
                &["run-job", "jira", "--tenant", &tenant, "--queue", queue],
                &env,
            );
            for mut child in children {
                child.kill().ok();
                child.wait().ok();
            }
            let rate = f64::from(issues) / elapsed.as_secs_f64();
            let pages = (f64::from(issues) / 100.0).ceil();
            let share = in_process_rate
                .map(|base: f64| format!(" = {:.0} % of in-process", 100.0 * rate / base))
                .unwrap_or_default();
            println!(
                "  {issues:>7} issues, {label:<20}: {:.1} s = {rate:.0} issues/s, {:.1} transform messages/s{share}",
                elapsed.as_secs_f64(),
                pages / elapsed.as_secs_f64(),
            );
            in_process_rate.get_or_insert(rate);
            drop(db);
        }
        sim.kill().ok();
        sim.wait().ok();
    }
}
