//! `pulse-etl all [--demo] [--queue rabbitmq]`: the roles of this version in one process —
//! the scheduler claiming due Jira and GitHub jobs and running them, their transform work
//! in-process (or over RabbitMQ, with this process also a transform worker for every tier)
//! — and, with `--demo`, the source simulator and a demo tenant wired to it. Stops on
//! Ctrl-C or SIGTERM.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use anyhow::Context;

use super::run_job::JobRun;
use crate::pipeline::handoff::Handoff;
use crate::queue::rabbitmq::Broker;
use crate::queue::topology::QueueStage;
use sqlx::PgPool;

use crate::cli::{AllArgs, QueueBackend};
use crate::config::Config;
use crate::domain::{Provider, Tier};
use crate::security::{CredentialCipher, SecretKey};
use crate::simulator::{RunningSimulator, SimulatorConfig};
use crate::store::integrations::{self, Credentials, IntegrationSettings, NewIntegration};
use crate::store::{jobs, tenants};

const DEMO_TENANT: &str = "Demo";
/// Jobs claimed per look.
const CLAIM_BATCH: i64 = 4;

pub async fn run(pool: &PgPool, config: &Config, args: AllArgs) -> anyhow::Result<()> {
    let broker = match args.queue {
        QueueBackend::Memory => None,
        QueueBackend::Rabbitmq => {
            let broker = super::broker::connect(config, super::broker::Patience::Role).await?;
            broker.declare(QueueStage::Transform, Tier::ALL).await?;
            Some(broker)
        }
    };
    let key = if args.demo && config.security.secret_key.is_empty() {
        demo_key(&config.data_dir())?
    } else {
        config.secret_key()?
    };
    let cipher = CredentialCipher::new(&key);
    let simulator = match args.demo {
        true => Some(start_demo(pool, &cipher).await?),
        false => None,
    };
    let interval = Duration::from_secs(args.interval_secs.unwrap_or(if args.demo {
        30
    } else {
        config.scheduler.interval_secs
    }));
    let timing = Timing {
        interval,
        poll: Duration::from_secs(config.scheduler.poll_secs),
        stuck_after: Duration::from_secs(config.scheduler.stuck_after_secs),
    };
    tracing::info!(
        interval_secs = interval.as_secs(),
        poll_secs = timing.poll.as_secs(),
        "scheduler running; Ctrl-C stops"
    );
    let claimed = Mutex::new(Vec::new());
    let roles = Roles {
        cipher: &cipher,
        timing,
        simulator: simulator.as_ref(),
        broker: broker.as_ref(),
    };
    // With RabbitMQ, this process also runs a transform worker for every tier.
    let worker = async {
        match &broker {
            Some(_) => {
                super::worker::transform_worker(pool, config, Tier::ALL, std::future::pending())
                    .await
            }
            None => std::future::pending().await,
        }
    };
    let outcome = tokio::select! {
        outcome = schedule(pool, roles, &claimed) => outcome,
        outcome = worker => outcome,
        _ = super::signals::shutdown() => {
            tracing::info!("shutting down");
            Ok(())
        }
    };
    let interrupted = std::mem::take(
        &mut *claimed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()),
    );
    for (tenant_id, job_id) in interrupted {
        jobs::release(pool, tenant_id, job_id, "interrupted by shutdown").await?;
        tracing::info!(
            tenant_id,
            job_id,
            "interrupted job released for the next start"
        );
    }
    if let Some(simulator) = simulator {
        simulator.stop().await.context("stopping the simulator")?;
    }
    if let Some(broker) = broker {
        broker.close().await.ok();
    }
    outcome
}

/// What the scheduler works with.
#[derive(Clone, Copy)]
struct Roles<'a> {
    cipher: &'a CredentialCipher,
    timing: Timing,
    simulator: Option<&'a RunningSimulator>,
    /// Transform work goes over RabbitMQ when set, else stays in process.
    broker: Option<&'a Broker>,
}

/// How often the scheduler looks, reschedules and recovers.
#[derive(Debug, Clone, Copy)]
struct Timing {
    interval: Duration,
    poll: Duration,
    stuck_after: Duration,
}

/// Claims due jobs and runs them, forever. With the demo simulator, each round of runs is
/// followed by a little source activity so the next incremental sync has something to do.
/// `claimed` lists the (tenant, job) pairs claimed and not yet finished, so a shutdown can
/// give them back.
async fn schedule(
    pool: &PgPool,
    roles: Roles<'_>,
    claimed: &Mutex<Vec<(i64, i64)>>,
) -> anyhow::Result<()> {
    let Roles {
        cipher,
        timing,
        simulator,
        broker,
    } = roles;
    let lock = || {
        claimed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    };
    loop {
        let due = jobs::claim_due(pool, CLAIM_BATCH, timing.stuck_after).await?;
        lock().extend(due.iter().map(|(tenant_id, job)| (*tenant_id, job.id)));
        for (tenant_id, job) in &due {
            let mut lines = Vec::new();
            let handoff = match broker {
                None => Handoff::InProcess,
                Some(broker) => Handoff::Broker {
                    broker,
                    tier: tenants::tier(pool, *tenant_id).await?,
                },
            };
            let run = JobRun {
                job,
                full: false,
                handoff,
            };
            match super::run_job::run_one_job(pool, cipher, *tenant_id, run, &mut lines).await {
                Ok(()) => {
                    let loaded: u64 = lines.iter().map(|l| l.report.loaded).sum();
                    tracing::info!(tenant_id, job_id = job.id, loaded, "job finished");
                }
                Err(error) => {
                    tracing::warn!(tenant_id, job_id = job.id, error = %format!("{error:#}"), "job failed")
                }
            }
            jobs::schedule_next(pool, *tenant_id, job.id, timing.interval).await?;
            lock().retain(|(_, id)| *id != job.id);
        }
        if let (false, Some(simulator)) = (due.is_empty(), simulator) {
            let url = format!("{}/_sim/mutate", simulator.base_url());
            if let Err(error) = reqwest::Client::new()
                .post(url)
                .json(&serde_json::json!({"fraction": 0.01}))
                .send()
                .await
            {
                tracing::warn!(%error, "could not ask the simulator for activity");
            }
        }
        tokio::time::sleep(timing.poll).await;
    }
}

/// The demo's credential key: kept in the data directory so restarts can read what
/// earlier runs stored (set PULSE_SECRET_KEY for anything but a demo).
fn demo_key(data_dir: &Path) -> anyhow::Result<SecretKey> {
    let path = data_dir.join("demo-secret.key");
    if let Ok(text) = std::fs::read_to_string(&path) {
        return SecretKey::parse(&text)
            .with_context(|| format!("{} is not a valid key", path.display()));
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let (key, text) = SecretKey::generate();
    std::fs::write(&path, &text).with_context(|| format!("writing {}", path.display()))?;
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    tracing::warn!(path = %path.display(), "PULSE_SECRET_KEY is not set: the demo keeps its own key there");
    Ok(key)
}

/// Starts the simulator and makes sure the demo tenant's Jira and GitHub integrations point
/// at it.
async fn start_demo(pool: &PgPool, cipher: &CredentialCipher) -> anyhow::Result<RunningSimulator> {
    let defaults = SimulatorConfig::default();
    let simulator =
        RunningSimulator::start(defaults.clone(), SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .context("starting the demo simulator")?;
    let base_url = simulator.base_url();
    let tenant = match tenants::find_by_name(pool, DEMO_TENANT).await? {
        Some(id) => id,
        None => tenants::create(pool, DEMO_TENANT, Tier::Free).await?,
    };
    let github_token = defaults.github_tokens.first().cloned().unwrap_or_default();
    let sources = [
        (
            Provider::Jira,
            defaults.jira_token.clone(),
            Some(defaults.jira_user.as_str()),
        ),
        (Provider::Github, github_token, None),
    ];
    for (provider, token, username) in sources {
        let demo = DemoSource {
            tenant,
            provider,
            base_url: &base_url,
            token,
            username,
        };
        wire_demo_source(pool, cipher, demo).await?;
    }
    tracing::info!(tenant_id = tenant, simulator = %base_url, "demo tenant wired to the simulator");
    Ok(simulator)
}

/// One of the demo tenant's sources.
struct DemoSource<'a> {
    tenant: i64,
    provider: Provider,
    base_url: &'a str,
    token: String,
    username: Option<&'a str>,
}

/// Creates the demo tenant's integration of a provider, or points the existing one at this
/// start's simulator (new port, and maybe another demo key than the one that sealed the
/// stored credentials) with its job due at once.
async fn wire_demo_source(
    pool: &PgPool,
    cipher: &CredentialCipher,
    demo: DemoSource<'_>,
) -> anyhow::Result<()> {
    let credentials = Credentials {
        tokens: vec![demo.token],
    };
    let existing = integrations::list(pool, demo.tenant)
        .await?
        .into_iter()
        .find(|i| i.provider == demo.provider);
    match existing {
        Some(integration) => {
            integrations::reconnect(
                pool,
                cipher,
                (demo.tenant, integration.id),
                demo.base_url,
                &credentials,
            )
            .await?;
            for job in jobs::for_run(pool, demo.tenant, demo.provider, Some(integration.id)).await?
            {
                jobs::schedule_next(pool, demo.tenant, job.id, Duration::ZERO).await?;
            }
        }
        None => {
            let settings = IntegrationSettings {
                requests_per_second: Some(500.0),
                concurrency: Some(16),
                ..IntegrationSettings::default()
            };
            let new = NewIntegration {
                tenant_id: demo.tenant,
                provider: demo.provider,
                base_url: demo.base_url,
                username: demo.username,
                credentials: &credentials,
                settings: &settings,
            };
            integrations::create(pool, cipher, new).await?;
        }
    }
    Ok(())
}
