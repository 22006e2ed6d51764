//! Test harness: a fresh, migrated database per test on the real PostgreSQL server
//! ([`ScratchDb`]), and a way to run the real `pulse-etl` binary against it.

pub mod api;
pub mod fake_source;
pub mod qdrant;
pub mod queues;
pub mod scratch_db;
pub mod source;

use std::path::Path;
use std::process::{Command, Output, Stdio};

pub use scratch_db::ScratchDb;

/// Base64 of bytes 0..32; any test may use it as PULSE_SECRET_KEY.
pub const TEST_SECRET_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// The simulator and the test services listen on loopback, which the outbound rule
/// refuses unless allowed: every test process allows it (tests of the rule override it).
pub const ALLOW_LOOPBACK: (&str, &str) = ("PULSE_SOURCES__ALLOW_NETWORKS", "127.0.0.1/32");

/// What `all` needs for its API in a test: a signing secret and a port of its own.
pub const API_ENV: [(&str, &str); 2] = [
    ("PULSE_JWT_SECRET", api::TEST_JWT_SECRET),
    ("PULSE_HTTP_ADDR", "127.0.0.1:0"),
];

impl ScratchDb {
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

/// The `pulse-etl` command with exactly `env` (plus PATH, loopback allowed and
/// `RUST_LOG=warn` unless `env` says otherwise) in `dir`.
fn command(dir: &Path, env: &[(&str, &str)], args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_pulse-etl"));
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(ALLOW_LOOPBACK.0, ALLOW_LOOPBACK.1)
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
