//! The `pulse-etl` executable: parse the command line, start logging, run the role.

use std::process::ExitCode;

use clap::Parser;
use pulse_etl::cli::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    pulse_etl::telemetry::init(cli.log_format);
    match pulse_etl::app::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
