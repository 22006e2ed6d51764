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
    let traces = pulse_etl::telemetry::init(cli.log_format);
    let outcome = pulse_etl::app::run(cli).await;
    traces.shutdown();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            let (line, code) = pulse_etl::app::failure(&error);
            eprintln!("error: {line}");
            ExitCode::from(code)
        }
    }
}
