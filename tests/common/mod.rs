//! Test harness: a fresh, migrated database per test on the real PostgreSQL server, and a
//! way to run the real `pulse-etl` binary against it.
#![allow(dead_code)] // each test binary uses its own subset of these helpers

pub mod queues;
pub mod source;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};

/// Base64 of bytes 0..32; any test may use it as PULSE_SECRET_KEY.
pub const TEST_SECRET_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// The server the tests create their databases on.
pub fn admin_url() -> String {
    std::env::var("PULSE_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres:postgres@127.0.0.1:5432/postgres".into())
}

/// A database that exists for one test and is dropped with it.
pub struct TestDb {
    pub name: String,
    pub url: String,
    pub pool: PgPool,
}

impl TestDb {
    /// A new database with every migration applied.
    pub async fn migrated() -> Self {
        let db = Self::empty().await;
        pulse_etl::store::migrate(&db.pool)
            .await
            .expect("migrations apply");
        db
    }

    /// A new database with nothing in it.
    pub async fn empty() -> Self {
        let admin = admin_url();
        let name = format!("pulse_test_{}", uuid::Uuid::new_v4().simple());
        let mut connection = PgConnection::connect(&admin)
            .await
            .unwrap_or_else(|error| panic!("test PostgreSQL at {admin} is unreachable: {error}"));
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut connection)
            .await
            .expect("create test database");
        connection.close().await.ok();
        let mut url = url::Url::parse(&admin).expect("admin url");
        url.set_path(&name);
        let url = url.to_string();
        let pool = PgPoolOptions::new()
            .max_connections(4)
            .connect(&url)
            .await
            .expect("connect to test database");
        TestDb { name, url, pool }
    }

    /// Runs the real binary with a clean environment: only PATH, this database and the
    /// test secret key, in `dir` (so no stray config/ or .pulse/ is picked up).
    pub fn cli(&self, dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
        run_cli(
            dir,
            &[
                ("DATABASE_URL", &self.url),
                ("PULSE_SECRET_KEY", TEST_SECRET_KEY),
            ],
            args,
            stdin,
        )
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let admin = admin_url();
        let name = self.name.clone();
        // Drop runs outside any async context we can rely on: use a thread with its own runtime.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(async {
                let mut connection = PgConnection::connect(&admin).await.ok()?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut connection)
                    .await
                    .ok()
            })
        })
        .join();
        if !matches!(dropped, Ok(Some(_))) {
            eprintln!("warning: test database {} was not dropped", self.name);
        }
    }
}

/// The `pulse-etl` command with exactly `env` (plus PATH, and `RUST_LOG=warn` unless
/// `env` says otherwise) in `dir`.
fn command(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pulse-etl"));
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", "warn");
    for (key, value) in env {
        command.env(key, value);
    }
    command
}

/// Runs `pulse-etl` with exactly `env` (plus PATH) in `dir`.
pub fn run_cli(dir: &Path, env: &[(&str, &str)], args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = command(dir, env, args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn pulse-etl");
    if let Some(text) = stdin {
        use std::io::Write;
        let mut pipe = child.stdin.take().expect("stdin");
        pipe.write_all(text.as_bytes()).expect("write stdin");
    }
    child.wait_with_output().expect("pulse-etl runs")
}

/// Starts `pulse-etl` in the background with exactly `env` (plus PATH) in `dir`; its
/// output goes to this process's stderr.
pub fn spawn_cli(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> std::process::Child {
    command(dir, env, args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn pulse-etl")
}

pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts a failed run that explains itself in one `error:` line mentioning `needle`,
/// without a panic or backtrace.
pub fn assert_clear_failure(output: &Output, needle: &str) {
    let err = stderr(output);
    assert!(
        !output.status.success(),
        "expected failure, got success; stderr: {err}"
    );
    assert!(!err.contains("panicked"), "panic in: {err}");
    assert!(!err.contains("RUST_BACKTRACE"), "backtrace hint in: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(
        err.contains(needle),
        "stderr does not mention {needle:?}: {err}"
    );
    assert!(
        lines.iter().filter(|l| l.starts_with("error:")).count() == 1,
        "expected exactly one error line: {err}"
    );
}
