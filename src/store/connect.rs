//! Finds PostgreSQL as configured (URL, local server, or private cluster) and opens the pool.

use secrecy::ExposeSecret;
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, PgConnection, PgPool};

use super::embedded_postgres::{EmbeddedError, EmbeddedPostgres};
use super::error::{has_sqlstate, sqlstate};
use crate::config::{DatabaseConfig, DatabaseMode};

/// The database pulse-etl uses on a server it finds by itself or on its private cluster.
pub const DEFAULT_DATABASE: &str = "pulse_etl";
/// Where `auto` mode looks for a running server.
const DEFAULT_SERVER: (&str, u16) = ("127.0.0.1", 5432);

#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    #[error(transparent)]
    Embedded(#[from] EmbeddedError),
    #[error("cannot connect to PostgreSQL ({target})")]
    Connect { target: String, source: sqlx::Error },
    #[error("invalid database URL: {0}")]
    Url(sqlx::Error),
    #[error("applying migrations failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// An open pool, plus the private cluster behind it when there is one.
pub struct Database {
    pub pool: PgPool,
    target: String,
    embedded: Option<EmbeddedPostgres>,
}

impl Database {
    /// Connects as `config` says; in `auto` mode with no URL, prefers a server on
    /// 127.0.0.1:5432 and falls back to a private cluster under `data_dir`.
    pub async fn open(config: &DatabaseConfig, data_dir: &Path) -> Result<Self, ConnectError> {
        let use_embedded = match config.mode {
            _ if !config.url.expose_secret().is_empty() => false,
            DatabaseMode::Embedded => true,
            DatabaseMode::Server => false,
            DatabaseMode::Auto => !default_server_answers().await,
        };
        let url = config.url.expose_secret();
        let (options, embedded) = if !url.is_empty() {
            let options = PgConnectOptions::from_str(url).map_err(ConnectError::Url)?;
            (options, None)
        } else if use_embedded {
            let cluster = EmbeddedPostgres::start(data_dir).await?;
            let options = cluster.connect_options(DEFAULT_DATABASE);
            ensure_database(&options).await?;
            (options, Some(cluster))
        } else {
            let user = std::env::var("PGUSER").unwrap_or_else(|_| "postgres".into());
            let options = PgConnectOptions::new()
                .host(DEFAULT_SERVER.0)
                .port(DEFAULT_SERVER.1)
                .username(&user)
                .database(DEFAULT_DATABASE);
            ensure_database(&options).await?;
            (options, None)
        };
        let target = describe(&options, embedded.as_ref());
        // One direct connection first: it fails at once with the real reason, where the
        // pool would retry until its acquire timeout and report only the timeout.
        let probe = PgConnection::connect_with(&options)
            .await
            .map_err(|source| ConnectError::Connect {
                target: target.clone(),
                source,
            })?;
        probe.close().await.ok();
        let pool = PgPoolOptions::new()
            .max_connections(config.max_connections)
            .acquire_timeout(Duration::from_secs(config.acquire_timeout_secs))
            .connect_with(options)
            .await
            .map_err(|source| ConnectError::Connect {
                target: target.clone(),
                source,
            })?;
        tracing::debug!(%target, "connected to PostgreSQL");
        let database = Database {
            pool,
            target,
            embedded,
        };
        if config.auto_migrate {
            database.migrate().await?;
        }
        Ok(database)
    }

    /// Applies pending migrations; returns how many ran.
    pub async fn migrate(&self) -> Result<usize, ConnectError> {
        Ok(super::migrate(&self.pool).await?)
    }

    /// Where the data lives, for humans (no password).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Closes the pool and stops the private cluster if this process started it.
    pub async fn close(self) -> Result<(), ConnectError> {
        self.pool.close().await;
        if let Some(cluster) = self.embedded {
            cluster.stop().await?;
        }
        Ok(())
    }
}

async fn default_server_answers() -> bool {
    let probe = tokio::net::TcpStream::connect(DEFAULT_SERVER);
    matches!(
        tokio::time::timeout(Duration::from_millis(500), probe).await,
        Ok(Ok(_))
    )
}

/// Creates the target database when it does not exist yet (first run against a bare server).
async fn ensure_database(options: &PgConnectOptions) -> Result<(), ConnectError> {
    let name = options
        .get_database()
        .unwrap_or(DEFAULT_DATABASE)
        .to_owned();
    let maintenance = options.clone().database("postgres");
    let target = describe(&maintenance, None);
    let connect_error = |source| ConnectError::Connect {
        target: target.clone(),
        source,
    };
    let mut connection = PgConnection::connect_with(&maintenance)
        .await
        .map_err(connect_error)?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(&name)
            .fetch_one(&mut connection)
            .await
            .map_err(connect_error)?;
    if !exists {
        tracing::info!(database = %name, "creating database");
        let created = sqlx::query(&format!(
            "CREATE DATABASE \"{}\"",
            name.replace('"', "\"\"")
        ))
        .execute(&mut connection)
        .await;
        // Another process may have created it between the check and here.
        if let Err(error) = created {
            if !has_sqlstate(&error, sqlstate::DUPLICATE_DATABASE) {
                return Err(connect_error(error));
            }
        }
    }
    connection.close().await.map_err(connect_error)?;
    Ok(())
}

fn describe(options: &PgConnectOptions, embedded: Option<&EmbeddedPostgres>) -> String {
    let database = options.get_database().unwrap_or("?");
    match embedded {
        Some(cluster) => format!("{}, database {database}", cluster.describe()),
        None => {
            let mut url = options.to_url_lossy();
            let _ = url.set_password(None);
            url.set_query(None);
            url.to_string()
        }
    }
}
