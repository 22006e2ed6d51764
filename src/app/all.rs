//! `pulse-etl all [--demo] [--queue rabbitmq]`: the roles of this version in one process —
//! the HTTP API, the scheduler claiming due Jira and GitHub jobs and running them, their transform work
//! in-process (or over RabbitMQ, with this process also a transform and a load worker for
//! every tier)
//! — and, with `--demo`, the source simulator and a demo tenant wired to it. Stops on
//! Ctrl-C or SIGTERM.

use secrecy::ExposeSecret;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;

use super::ops::{Ops, OpsSetup};
use super::scheduler::{Roles, Timing};
use super::serve::{ApiSetup, RunningApi};
use crate::cli::{AllArgs, QueueBackend};
use crate::config::Config;
use crate::domain::Tier;
use crate::queue::topology::QueueStage;

/// From the end of a demo job's run until it is due again, unless told otherwise.
const DEMO_INTERVAL: Duration = Duration::from_secs(30);

pub async fn run(pool: &PgPool, config: &Config, args: AllArgs) -> anyhow::Result<()> {
    let broker = match args.queue {
        QueueBackend::Memory => None,
        QueueBackend::Rabbitmq => {
            let broker = super::broker::connect(config, super::broker::Patience::Role).await?;
            broker.declare(QueueStage::Transform, Tier::ALL).await?;
            broker.declare(QueueStage::Load, Tier::ALL).await?;
            broker.declare(QueueStage::Embedding, Tier::ALL).await?;
            Some(broker)
        }
    };
    let key = if args.demo && config.security.secret_key.expose_secret().is_empty() {
        super::demo::demo_key(&config.data_dir())?
    } else {
        config.secret_key()?
    };
    let mut reach = super::reach(config, &key);
    if args.demo {
        // The demo's sources are its own simulator on loopback.
        reach.outbound = reach.outbound.also_allowing(super::demo::SIMULATOR_NETWORK);
    }
    let embedding = Arc::new(super::vectors::embedding(
        config,
        Some(reach.cipher.clone()),
    )?);
    let simulator = match args.demo {
        true => Some(super::demo::start_demo(pool, &reach.cipher, &config.model_dir()).await?),
        false => None,
    };
    let jwt_secret = match args.demo && config.auth.jwt_secret.expose_secret().is_empty() {
        true => super::demo::demo_jwt_secret(&config.data_dir())?,
        false => config.jwt_secret()?.to_owned(),
    };
    let setup = ApiSetup {
        reach: reach.clone(),
        jwt_secret: &jwt_secret,
        with_broker: broker.is_some(),
        embedding: Arc::clone(&embedding),
    };
    let ops = Ops::start(
        pool,
        config,
        OpsSetup::on_the_api("all", broker.is_some(), config.metrics.addr),
    )
    .await?;
    let api = RunningApi::start(pool, config, setup).await?;
    let interval = args
        .interval_secs
        .map(Duration::from_secs)
        .or(args.demo.then_some(DEMO_INTERVAL));
    let roles = Roles {
        reach: &reach,
        embedding: &embedding,
        timing: Timing::from_config(config, interval),
        broker: broker.as_ref(),
        dispatch: false,
    };
    // With RabbitMQ, this process also runs transform, load and embed workers for every tier.
    let workers = async {
        match &broker {
            Some(_) => {
                let never = std::future::pending;
                tokio::try_join!(
                    super::worker::transform_worker(pool, config, Tier::ALL, never()),
                    super::worker::load_worker(pool, config, Tier::ALL, never()),
                    super::worker::embed_worker(pool, (config, &embedding), Tier::ALL, never()),
                )?;
                Ok(())
            }
            None => std::future::pending().await,
        }
    };
    // The demo's sources change a little between runs, so incremental syncs have work.
    let activity = async {
        match &simulator {
            Some(simulator) => super::demo::source_activity(simulator, roles.timing.interval).await,
            None => std::future::pending().await,
        }
    };
    let alongside = async {
        tokio::try_join!(workers, activity)?;
        Ok(())
    };
    let outcome = super::scheduler::serve(pool, roles, alongside).await;
    let api_stopped = api.stop().await;
    if let Some(simulator) = simulator {
        simulator.stop().await.context("stopping the simulator")?;
    }
    if let Some(broker) = broker {
        broker.close().await.ok();
    }
    ops.stop().await;
    outcome.and(api_stopped)
}
