//! The `pulse-etl` executable: parse the command line, start logging, run the role.

use std::process::ExitCode;

use clap::Parser;
use pulse_etl::cli::Cli;

/// JSON-heavy stages (and the simulator) allocate many small objects; mimalloc spends
/// markedly less time on that than glibc's allocator (see benches/simulator.rs).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    pulse_etl::telemetry::init(cli.log_format);
    match pulse_etl::app::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", error_line(&error));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, skipping a cause that only repeats what the
/// line already says (some libraries put their source into their own message).
fn error_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}
