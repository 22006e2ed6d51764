//! Composition root: loads configuration, builds the concrete backends and runs the chosen role.

mod admin;
mod all;
mod broker;
mod custom_fields;
mod demo;
mod dlq;
mod failure;
mod jobs;
mod mcp;
mod metrics;
mod ops;
mod output;
mod raw;
mod reprocess;
mod run_job;
mod scheduler;
mod serve;
mod signals;
mod simulate;
mod vectors;
mod worker;

use anyhow::Context;

use crate::cli::{Cli, Command};
use crate::config::Config;
use crate::pipeline::source::Reach;
use crate::security::{CredentialCipher, SecretKey};
use crate::store::Database;
pub use failure::failure;
use output::Output;

/// What reaching a source takes: the credential cipher under `key` and the configured
/// outbound rule.
fn reach(config: &Config, key: &SecretKey) -> Reach {
    Reach {
        cipher: CredentialCipher::new(key),
        outbound: config.outbound(),
    }
}

/// Runs the parsed command line to completion.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = Config::load()?;
    let output = Output { json: cli.json };
    match cli.command {
        Command::Migrate => {
            let mut config = config;
            config.database.auto_migrate = false;
            with_database(&config, async |database| {
                let applied = database.migrate().await?;
                output.done(&format!(
                    "{applied} migration(s) applied; schema is current ({})",
                    database.target()
                ))
            })
            .await
        }
        Command::Tenant(command) => {
            with_database(&config, async |database| {
                admin::tenant(&database.pool, output, command).await
            })
            .await
        }
        Command::Integration(command) => {
            with_database(&config, async |database| {
                admin::integration(&database.pool, &config, output, command).await
            })
            .await
        }
        Command::User(command) => {
            with_database(&config, async |database| {
                admin::user(&database.pool, output, command).await
            })
            .await
        }
        Command::Token(command) => {
            with_database(&config, async |database| {
                admin::token(&database.pool, output, command).await
            })
            .await
        }
        Command::Simulate(args) => simulate::run(args).await,
        Command::CustomFields(command) => {
            with_database(&config, async |database| {
                custom_fields::run(&database.pool, &config, output, command).await
            })
            .await
        }
        Command::Jobs(command) => {
            with_database(&config, async |database| {
                jobs::run(&database.pool, output, command).await
            })
            .await
        }
        Command::Metrics(command) => {
            with_database(&config, async |database| {
                metrics::run(&database.pool, output, command).await
            })
            .await
        }
        Command::Reprocess(args) => {
            with_database(&config, async |database| {
                reprocess::run(&database.pool, output, args).await
            })
            .await
        }
        Command::Raw(command) => {
            with_database(&config, async |database| {
                raw::run(&database.pool, &config, output, command).await
            })
            .await
        }
        Command::RunJob(args) => {
            with_database(&config, async |database| {
                run_job::run(&database.pool, &config, output, args).await
            })
            .await
        }
        Command::All(args) => {
            with_database(&config, async |database| {
                all::run(&database.pool, &config, args).await
            })
            .await
        }
        Command::Worker(args) => {
            with_database(&config, async |database| {
                worker::run(&database.pool, &config, args).await
            })
            .await
        }
        Command::Dlq(command) => {
            with_database(&config, async |database| {
                dlq::run(&database.pool, &config, output, command).await
            })
            .await
        }
        Command::Scheduler(args) => {
            with_database(&config, async |database| {
                scheduler::run(&database.pool, &config, args).await
            })
            .await
        }
        Command::Embedding(command) => {
            with_database(&config, async |database| {
                vectors::embedding_command(&database.pool, &config, output, command).await
            })
            .await
        }
        Command::Vectors(command) => {
            with_database(&config, async |database| {
                vectors::vectors_command(&database.pool, &config, output, command).await
            })
            .await
        }
        Command::Search(args) => {
            with_database(&config, async |database| {
                vectors::search(&database.pool, &config, output, args).await
            })
            .await
        }
        Command::Mcp(args) => {
            with_database(&config, async |database| {
                mcp::run(&database.pool, &config, args).await
            })
            .await
        }
        Command::Serve => {
            with_database(&config, async |database| {
                serve::run(&database.pool, &config).await
            })
            .await
        }
    }
}

/// Opens the database, runs `work`, and always closes it afterwards (stopping a private
/// cluster this process started), whether or not `work` succeeded.
async fn with_database(
    config: &Config,
    work: impl AsyncFnOnce(&Database) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let database = Database::open(&config.database, &config.data_dir())
        .await
        .context("opening the database")?;
    let result = work(&database).await;
    let closed = database.close().await.context("closing the database");
    result.and(closed)
}
