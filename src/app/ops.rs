//! What every long-running role shares for operators: the metrics recorder, a watch on
//! RabbitMQ's queue depths (which also tells readiness whether the broker is reachable),
//! and, on `--metrics-addr` / `metrics.addr`, a small HTTP server with `/healthz`,
//! `/readyz` and `/metrics`.

use secrecy::ExposeSecret;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::api::health::{self, BrokerUp, Readiness};
use crate::config::Config;
use crate::domain::Tier;
use crate::queue::rabbitmq::Broker;
use crate::queue::topology::QueueStage;
use crate::telemetry::metrics;
use crate::vectors::VectorStore;

/// How often queue depths are read.
const QUEUE_SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// The metrics recorder, the queue watch and the ops server of one role.
pub(super) struct Ops {
    broker_up: Option<Arc<AtomicBool>>,
    watch: Option<JoinHandle<()>>,
    server: Option<(oneshot::Sender<()>, JoinHandle<()>)>,
}

/// What a role's readiness covers besides the database.
pub(super) struct OpsSetup {
    pub role: &'static str,
    /// The ops server's address (none: only the recorder and the queue watch).
    pub addr: Option<SocketAddr>,
    /// The role talks through RabbitMQ: watch its queues (and tell readiness whether the
    /// broker is reachable).
    pub uses_broker: bool,
    /// The vector store the role writes or reads, checked by readiness.
    pub vectors: Option<Arc<dyn VectorStore>>,
}

impl OpsSetup {
    /// A role with an API (`serve`, `all`): it answers health on the API port, metrics on
    /// `addr` when one is given.
    pub fn on_the_api(role: &'static str, uses_broker: bool, addr: Option<SocketAddr>) -> Self {
        OpsSetup {
            role,
            addr,
            uses_broker,
            vectors: None,
        }
    }
}

impl Ops {
    /// Installs the recorder; when the role uses RabbitMQ, starts watching queue depths;
    /// with an address, serves the ops endpoints there.
    pub async fn start(pool: &PgPool, config: &Config, setup: OpsSetup) -> anyhow::Result<Ops> {
        metrics::install(setup.role);
        let (broker_up, watch) = match setup.uses_broker {
            false => (None, None),
            true => {
                let up = Arc::new(AtomicBool::new(false));
                let watch = tokio::spawn(watch_queues(config.clone(), up.clone()));
                (Some(up), Some(watch))
            }
        };
        let mut ops = Ops {
            broker_up,
            watch,
            server: None,
        };
        if let Some(addr) = setup.addr {
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("listening on {addr} (--metrics-addr, metrics.addr)"))?;
            tracing::info!(address = %listener.local_addr()?, "/metrics, /healthz and /readyz served");
            let readiness = Arc::new(Readiness {
                pool: pool.clone(),
                broker: ops.broker_up(),
                vectors: setup.vectors,
            });
            let (stop, stopped) = oneshot::channel::<()>();
            let server = tokio::spawn(async move {
                let routes = health::routes(readiness, health::MetricsAccess::Open);
                let served = axum::serve(listener, routes)
                    .with_graceful_shutdown(async move {
                        let _ = stopped.await;
                    })
                    .await;
                if let Err(error) = served {
                    tracing::warn!(%error, "the ops server stopped");
                }
            });
            ops.server = Some((stop, server));
        }
        Ok(ops)
    }

    /// Whether the queue watch's broker connection is up (none without RabbitMQ).
    fn broker_up(&self) -> Option<BrokerUp> {
        let up = self.broker_up.clone()?;
        Some(Arc::new(move || up.load(Ordering::Relaxed)))
    }

    /// Stops the watch and the server.
    pub async fn stop(self) {
        if let Some(watch) = self.watch {
            watch.abort();
        }
        if let Some((stop, server)) = self.server {
            let _ = stop.send(());
            let _ = server.await;
        }
    }
}

/// Declares every work queue, then reads their depths and the dead-letter queue's every few
/// seconds, over a connection of its own (reconnecting when it drops); `up` says whether
/// it is connected.
async fn watch_queues(config: Config, up: Arc<AtomicBool>) {
    let topology = config.topology();
    let mut queues = Vec::new();
    for stage in QueueStage::ALL {
        queues.extend(topology.work_queues(stage, Tier::ALL));
    }
    let failed = topology.failed_queue();
    loop {
        let broker = match Broker::connect(
            config.queue.rabbitmq_url.expose_secret(),
            topology.clone(),
        )
        .await
        {
            Ok(broker) => broker,
            Err(error) => {
                up.store(false, Ordering::Relaxed);
                tracing::debug!(%error, "queue watch: RabbitMQ unreachable");
                tokio::time::sleep(QUEUE_SAMPLE_EVERY).await;
                continue;
            }
        };
        // Declared (idempotently) so that reading a depth never asks for a missing queue,
        // which RabbitMQ answers by closing the channel (and lapin logs as an error).
        for stage in QueueStage::ALL {
            if let Err(error) = broker.declare(stage, Tier::ALL).await {
                tracing::debug!(%error, "queue watch: declaring the queues failed");
            }
        }
        up.store(true, Ordering::Relaxed);
        while broker.is_connected() {
            if sample(&broker, &queues, &failed).await.is_err() {
                break;
            }
            tokio::time::sleep(QUEUE_SAMPLE_EVERY).await;
        }
        up.store(false, Ordering::Relaxed);
        broker.close().await.ok();
    }
}

/// One reading of every queue (a queue not declared yet is left out).
async fn sample(
    broker: &Broker,
    queues: &[String],
    failed: &str,
) -> Result<(), crate::queue::rabbitmq::BrokerError> {
    for queue in queues {
        if let Some(messages) = broker.depth(queue).await? {
            metrics::queue_depth(queue.clone(), messages);
        }
    }
    if let Some(messages) = broker.depth(failed).await? {
        metrics::dead_letters(messages);
    }
    Ok(())
}
