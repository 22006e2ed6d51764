//! `pulse-etl serve`, and the API inside `all`: binds `http.addr` (PULSE_HTTP_ADDR), builds
//! the server from configuration and stops it gracefully.

use secrecy::ExposeSecret;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::ops::{Ops, OpsSetup};
use crate::api::auth::jwt::SessionKeys;
use crate::api::auth::Auth;
use crate::api::health::MetricsAccess;
use crate::api::{ServerParts, DOCS_PATH};
use crate::config::Config;
use crate::pipeline::embed_stage::Embedding;
use crate::pipeline::source::Reach;

/// How the API is being started.
pub(super) struct ApiSetup<'a> {
    /// The credential cipher and the outbound rule connection tests obey.
    pub reach: Reach,
    /// The secret that signs sessions (PULSE_JWT_SECRET, or the demo's own).
    pub jwt_secret: &'a str,
    /// Report RabbitMQ queue depths (the roles talk through it).
    pub with_broker: bool,
    /// The vector store and embedders search uses.
    pub embedding: Arc<Embedding>,
}

/// An API serving in the background.
pub(super) struct RunningApi {
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
    /// Longest wait for requests in flight and WebSockets after a stop
    /// (`shutdown.grace_secs`).
    grace: Duration,
}

impl RunningApi {
    /// Binds and serves until [`RunningApi::stop`].
    pub async fn start(
        pool: &PgPool,
        config: &Config,
        setup: ApiSetup<'_>,
    ) -> anyhow::Result<Self> {
        let addr: SocketAddr = config.http.addr;
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening on {addr} (http.addr, PULSE_HTTP_ADDR)"))?;
        let broker = match setup.with_broker {
            true => Some(super::broker::connect(config, super::broker::Patience::Role).await?),
            false => None,
        };
        let keys = SessionKeys::new(
            setup.jwt_secret.as_bytes(),
            Duration::from_secs(config.auth.session_secs),
        );
        let parts = ServerParts {
            pool: pool.clone(),
            reach: setup.reach,
            auth: Auth::new(
                keys,
                config.http.secure_cookie,
                config.http.trusted_proxies.clone(),
            ),
            broker,
            embedding: setup.embedding,
            request_timeout: Duration::from_secs(config.http.request_timeout_secs),
            body_limit_bytes: config.http.body_limit_bytes,
            webhooks_live_within: Duration::from_secs(config.scheduler.interval_secs),
            mcp_allowed_hosts: config.http.mcp_allowed_hosts.clone(),
            metrics: MetricsAccess::on_the_api(
                config.metrics.addr.is_some(),
                config.metrics.token.expose_secret(),
            ),
        };
        let local = listener.local_addr()?;
        tracing::info!(
            ui = format!("http://{local}/"),
            docs = format!("http://{local}{DOCS_PATH}"),
            "web UI and API docs"
        );
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(crate::api::serve(listener, parts, async move {
            let _ = stopped.await;
        }));
        Ok(RunningApi {
            stop,
            task,
            grace: Duration::from_secs(config.shutdown.grace_secs),
        })
    }

    /// Stops accepting, lets requests in flight finish and closes WebSockets (within the
    /// grace period).
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        match tokio::time::timeout(self.grace, self.task).await {
            Ok(joined) => joined
                .context("the API task failed")?
                .context("serving the API"),
            Err(_) => {
                tracing::warn!("API did not drain in time; stopped");
                Ok(())
            }
        }
    }
}

/// `pulse-etl serve`: the API alone, until Ctrl-C or SIGTERM.
pub async fn run(pool: &PgPool, config: &Config) -> anyhow::Result<()> {
    let key = config.secret_key()?;
    let secret = config.jwt_secret()?;
    let reach = super::reach(config, &key);
    let embedding = super::vectors::embedding(config, Some(reach.cipher.clone()))?;
    let setup = ApiSetup {
        reach,
        jwt_secret: secret,
        with_broker: !config.queue.rabbitmq_url.expose_secret().is_empty(),
        embedding: Arc::new(embedding),
    };
    let stop = super::signals::shutdown();
    let ops = Ops::start(
        pool,
        config,
        OpsSetup::on_the_api("serve", setup.with_broker, config.metrics.addr),
    )
    .await?;
    let api = RunningApi::start(pool, config, setup).await?;
    stop.await;
    tracing::info!("shutting down");
    let stopped = api.stop().await;
    ops.stop().await;
    stopped
}
