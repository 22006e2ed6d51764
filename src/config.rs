//! Configuration: embedded defaults < `config/<profile>.toml` < environment, validated at start-up.

use std::net::SocketAddr;
use std::path::PathBuf;

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::{Deserialize, Deserializer};

use ipnet::IpNet;
use secrecy::{ExposeSecret, SecretString};

use crate::connectors::outbound::Outbound;
use crate::security::SecretKey;

/// The embedded defaults; every key is documented there.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// Environment names other tools and deployments rely on (never renamed), and the keys they
/// set.
const FIXED_ENV_KEYS: &[(&str, &str)] = &[
    ("DATABASE_URL", "database.url"),
    ("RABBITMQ_URL", "queue.rabbitmq_url"),
    ("QDRANT_URL", "vectors.qdrant_url"),
    ("PULSE_HTTP_ADDR", "http.addr"),
    ("PULSE_JWT_SECRET", "auth.jwt_secret"),
    ("PULSE_SECRET_KEY", "security.secret_key"),
    ("PULSE_DATA_DIR", "data_dir"),
];

/// Selects `config/<profile>.toml`.
pub const PROFILE_ENV: &str = "PULSE_PROFILE";
/// Where profile files are looked up (default `config`).
pub const CONFIG_DIR_ENV: &str = "PULSE_CONFIG_DIR";

/// Why the configuration could not be used; each variant names the offending key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("profile '{profile}' (from {PROFILE_ENV}) has no file at {}", path.display())]
    MissingProfile { profile: String, path: PathBuf },
    #[error("invalid configuration: {0}")]
    Parse(String),
    #[error("invalid configuration: {key}: {message}")]
    Invalid { key: &'static str, message: String },
}

impl From<figment::Error> for ConfigError {
    /// One line per problem: the key, what is wrong, and where the value came from.
    fn from(error: figment::Error) -> Self {
        let problems: Vec<String> = error
            .into_iter()
            .map(|problem| {
                let key = problem.path.join(".").to_lowercase();
                let origin = match &problem.metadata {
                    Some(metadata) if metadata.name.contains("environment") => {
                        format!(" (environment variable {})", env_name(&key))
                    }
                    Some(metadata) => match &metadata.source {
                        Some(source) => format!(" (in {source})"),
                        None => format!(" (in {})", metadata.name),
                    },
                    None => String::new(),
                };
                if key.is_empty() {
                    format!("{}{origin}", problem.kind)
                } else {
                    format!("{key}: {}{origin}", problem.kind)
                }
            })
            .collect();
        ConfigError::Parse(problems.join("; "))
    }
}

/// Reads an address, or none from an empty string.
fn optional_addr<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<SocketAddr>, D::Error> {
    let text = String::deserialize(deserializer)?;
    match text.trim() {
        "" => Ok(None),
        addr => addr.parse().map(Some).map_err(serde::de::Error::custom),
    }
}

/// Reads a list of names, as a list or as one comma-separated string (empty entries left
/// out).
fn names<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Listed {
        Many(Vec<String>),
        One(String),
    }
    let texts = match Listed::deserialize(deserializer)? {
        Listed::Many(texts) => texts,
        Listed::One(text) => text.split(',').map(str::to_owned).collect(),
    };
    Ok(texts
        .iter()
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty())
        .collect())
}

/// Reads a list of networks (CIDRs, or single addresses), as a list or as one
/// comma-separated string.
fn networks<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<IpNet>, D::Error> {
    names(deserializer)?
        .iter()
        .map(|text| {
            text.parse::<IpNet>()
                .or_else(|_| text.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| serde::de::Error::custom(format!("'{text}' is not a network (CIDR)")))
        })
        .collect()
}

/// Whether `name` is an environment variable the configuration reads: a fixed name, or
/// `PULSE_<SECTION>__<KEY>` for a key the defaults define.
pub fn is_config_env(name: &str) -> bool {
    if FIXED_ENV_KEYS.iter().any(|(env, _)| *env == name)
        || name == PROFILE_ENV
        || name == CONFIG_DIR_ENV
    {
        return true;
    }
    let Some(path) = name.strip_prefix("PULSE_") else {
        return false;
    };
    let key = path.to_lowercase().replace("__", ".");
    Figment::from(Toml::string(DEFAULT_TOML))
        .find_value(&key)
        .is_ok_and(|value| value.as_dict().is_none())
}

/// The environment variable that sets `key`.
fn env_name(key: &str) -> String {
    FIXED_ENV_KEYS
        .iter()
        .find(|(_, fixed)| *fixed == key)
        .map(|(env, _)| (*env).to_owned())
        .unwrap_or_else(|| format!("PULSE_{}", key.replace('.', "__").to_uppercase()))
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database: DatabaseConfig,
    pub queue: QueueConfig,
    pub vectors: VectorsConfig,
    pub embedding: EmbeddingConfig,
    pub http: HttpConfig,
    pub auth: AuthConfig,
    pub security: SecurityConfig,
    pub scheduler: SchedulerConfig,
    pub metrics: MetricsConfig,
    pub shutdown: ShutdownConfig,
    pub tracing: TracingConfig,
    pub sources: SourcesConfig,
    pub raw: RawConfig,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    /// Days older raw versions of an entity are kept; 0: only the newest.
    pub retain_days: u32,
    /// Seconds between the scheduler's pruning passes.
    pub prune_interval_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourcesConfig {
    /// Networks outbound requests may reach besides public addresses (CIDRs).
    #[serde(deserialize_with = "networks")]
    pub allow_networks: Vec<IpNet>,
    /// The largest answer body read from a source or an embedding endpoint.
    pub max_response_bytes: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TracingConfig {
    /// The OpenTelemetry collector spans are exported to (OTLP/HTTP); empty: none.
    pub otlp_endpoint: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Where a role serves `/metrics`, `/healthz` and `/readyz` (`serve` and `all` answer
    /// health on `http.addr` too); empty: not served.
    #[serde(deserialize_with = "optional_addr")]
    pub addr: Option<SocketAddr>,
    /// The bearer token that reads `/metrics` on the API port when `addr` is empty; empty:
    /// the API port serves no metrics.
    #[serde(deserialize_with = "secret")]
    pub token: SecretString,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShutdownConfig {
    /// Seconds a stopping role gives the work in hand to finish before it lets go of it
    /// (messages go back to their queue, jobs are released).
    pub grace_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SchedulerConfig {
    pub poll_secs: u64,
    pub interval_secs: u64,
    pub stuck_after_secs: u64,
    /// The interval while an integration's webhooks are live (a delivery within
    /// `interval_secs`): polling only reconciles what deliveries missed.
    pub reconcile_interval_secs: u64,
    /// While webhooks are live, a reconcile run reads everything (deletions included) when
    /// the last full run is older than this.
    pub full_reconcile_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatabaseMode {
    Auto,
    Server,
    Embedded,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// May carry a password: never printed.
    #[serde(deserialize_with = "secret")]
    pub url: SecretString,
    pub mode: DatabaseMode,
    pub max_connections: u32,
    pub acquire_timeout_secs: u64,
    pub auto_migrate: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// May carry a password: never printed.
    #[serde(deserialize_with = "secret")]
    pub rabbitmq_url: SecretString,
    /// Put before every queue and exchange name (keeps deployments or tests apart).
    pub name_prefix: String,
    /// Unacknowledged messages a consumer holds at once.
    pub prefetch: u16,
    /// Deliveries per message, the first included, before it is dead-lettered.
    pub max_attempts: u32,
    /// Delay before the first retry; each further retry waits twice as long.
    pub retry_base_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VectorsConfig {
    pub qdrant_url: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingConfig {
    /// The local model's directory; empty: `<data_dir>/models/all-MiniLM-L6-v2`.
    pub model_dir: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    pub addr: SocketAddr,
    /// Mark the session cookie `Secure` (only sent over HTTPS).
    pub secure_cookie: bool,
    /// Seconds a request may take before it is answered 503.
    pub request_timeout_secs: u64,
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
    /// Proxies (CIDRs) whose `X-Forwarded-For` hops name the client address sign-in limits
    /// count by.
    #[serde(deserialize_with = "networks")]
    pub trusted_proxies: Vec<IpNet>,
    /// Host names (or `host:port`) the MCP endpoint answers to; others are refused.
    #[serde(deserialize_with = "names")]
    pub mcp_allowed_hosts: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    #[serde(deserialize_with = "secret")]
    pub jwt_secret: SecretString,
    /// Seconds a sign-in (its token and cookie) stays valid.
    pub session_secs: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityConfig {
    #[serde(deserialize_with = "secret")]
    pub secret_key: SecretString,
}

impl Config {
    /// Loads from the real process environment and the working directory.
    pub fn load() -> Result<Self, ConfigError> {
        Self::from_figment(Self::figment()?)
    }

    /// The layered sources, without extraction: defaults, then the profile file, then env.
    pub fn figment() -> Result<Figment, ConfigError> {
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(profile) = std::env::var(PROFILE_ENV).ok().filter(|p| !p.is_empty()) {
            let dir = std::env::var_os(CONFIG_DIR_ENV)
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("config"));
            let path = dir.join(format!("{profile}.toml"));
            if !path.is_file() {
                return Err(ConfigError::MissingProfile { profile, path });
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        let fixed = Env::raw()
            .only(
                &FIXED_ENV_KEYS
                    .iter()
                    .map(|(env, _)| *env)
                    .collect::<Vec<_>>(),
            )
            .map(|name| {
                FIXED_ENV_KEYS
                    .iter()
                    .find(|(env, _)| name == *env)
                    .map(|(_, key)| (*key).into())
                    .unwrap_or_else(|| name.into())
            });
        let sectioned = Env::prefixed("PULSE_")
            .filter(|name| name.as_str().contains("__"))
            .split("__");
        Ok(figment.merge(fixed).merge(sectioned))
    }

    /// Extracts and validates.
    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let config: Config = figment.extract()?;
        config.validate()?;
        Ok(config)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        check_url(
            "database.url",
            self.database.url.expose_secret(),
            &["postgres", "postgresql"],
        )?;
        check_url(
            "queue.rabbitmq_url",
            self.queue.rabbitmq_url.expose_secret(),
            &["amqp", "amqps"],
        )?;
        check_url(
            "vectors.qdrant_url",
            &self.vectors.qdrant_url,
            &["http", "https"],
        )?;
        check_url(
            "tracing.otlp_endpoint",
            &self.tracing.otlp_endpoint,
            &["http"],
        )?;
        if self.database.mode == DatabaseMode::Server
            && self.database.url.expose_secret().is_empty()
        {
            return Err(ConfigError::Invalid {
                key: "database.url",
                message: "database.mode is 'server' but no URL is set (DATABASE_URL)".into(),
            });
        }
        if [
            self.scheduler.poll_secs,
            self.scheduler.interval_secs,
            self.scheduler.stuck_after_secs,
            self.scheduler.reconcile_interval_secs,
            self.scheduler.full_reconcile_secs,
        ]
        .contains(&0)
        {
            return Err(ConfigError::Invalid {
                key: "scheduler",
                message: "poll_secs, interval_secs, stuck_after_secs, reconcile_interval_secs and full_reconcile_secs must be at least 1".into(),
            });
        }
        if self.raw.prune_interval_secs == 0 {
            return Err(ConfigError::Invalid {
                key: "raw.prune_interval_secs",
                message: "must be at least 1".into(),
            });
        }
        if self.queue.prefetch == 0 || self.queue.max_attempts == 0 {
            return Err(ConfigError::Invalid {
                key: "queue",
                message: "prefetch and max_attempts must be at least 1".into(),
            });
        }
        if self.auth.session_secs == 0
            || self.http.request_timeout_secs == 0
            || self.http.body_limit_bytes == 0
        {
            return Err(ConfigError::Invalid {
                key: "http",
                message: "auth.session_secs, http.request_timeout_secs and http.body_limit_bytes must be at least 1".into(),
            });
        }
        if self.sources.max_response_bytes == 0 {
            return Err(ConfigError::Invalid {
                key: "sources.max_response_bytes",
                message: "must be at least 1".into(),
            });
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError::Invalid {
                key: "database.max_connections",
                message: "must be at least 1".into(),
            });
        }
        let secret_key = self.security.secret_key.expose_secret();
        if !secret_key.is_empty() {
            SecretKey::parse(secret_key).map_err(|error| ConfigError::Invalid {
                key: "security.secret_key",
                message: format!("{error} (env PULSE_SECRET_KEY)"),
            })?;
        }
        let jwt_secret = self.auth.jwt_secret.expose_secret();
        if !jwt_secret.is_empty() && jwt_secret.len() < 32 {
            return Err(ConfigError::Invalid {
                key: "auth.jwt_secret",
                message: "must be at least 32 characters (env PULSE_JWT_SECRET)".into(),
            });
        }
        Ok(())
    }

    /// The key that seals integration credentials; an error names the missing setting.
    pub fn secret_key(&self) -> Result<SecretKey, ConfigError> {
        let secret_key = self.security.secret_key.expose_secret();
        if secret_key.is_empty() {
            return Err(ConfigError::Invalid {
                key: "security.secret_key",
                message: "not set: PULSE_SECRET_KEY is needed to encrypt and decrypt integration \
                          credentials (generate one with `openssl rand -base64 32`)"
                    .into(),
            });
        }
        SecretKey::parse(secret_key).map_err(|error| ConfigError::Invalid {
            key: "security.secret_key",
            message: error.to_string(),
        })
    }

    /// The secret that signs session tokens; an error names the missing setting.
    pub fn jwt_secret(&self) -> Result<&str, ConfigError> {
        match self.auth.jwt_secret.expose_secret() {
            "" => Err(ConfigError::Invalid {
                key: "auth.jwt_secret",
                message: "not set: PULSE_JWT_SECRET (at least 32 characters) is needed to sign \
                          API sessions (generate one with `openssl rand -base64 48`)"
                    .into(),
            }),
            secret => Ok(secret),
        }
    }

    /// The RabbitMQ URL; an error names the missing setting.
    pub fn rabbitmq_url(&self) -> Result<&str, ConfigError> {
        match self.queue.rabbitmq_url.expose_secret() {
            "" => Err(ConfigError::Invalid {
                key: "queue.rabbitmq_url",
                message: "not set: RABBITMQ_URL is needed to use RabbitMQ (e.g. \
                          amqp://guest:guest@127.0.0.1:5672/%2f)"
                    .into(),
            }),
            url => Ok(url),
        }
    }

    /// Queue names and retry schedule.
    pub fn topology(&self) -> crate::queue::topology::Topology {
        crate::queue::topology::Topology::new(
            &self.queue.name_prefix,
            self.queue.max_attempts,
            std::time::Duration::from_secs(self.queue.retry_base_secs),
        )
    }

    /// Where outbound requests may go: public addresses and `sources.allow_networks`.
    pub fn outbound(&self) -> Outbound {
        Outbound::new(
            self.sources.allow_networks.clone(),
            self.sources.max_response_bytes,
        )
    }

    /// The data directory made absolute against the working directory.
    pub fn data_dir(&self) -> PathBuf {
        std::path::absolute(&self.data_dir).unwrap_or_else(|_| self.data_dir.clone())
    }

    /// The local embedding model's directory.
    pub fn model_dir(&self) -> PathBuf {
        match self.embedding.model_dir.trim() {
            "" => self.data_dir().join("models").join("all-MiniLM-L6-v2"),
            dir => std::path::absolute(dir).unwrap_or_else(|_| PathBuf::from(dir)),
        }
    }
}

fn check_url(key: &'static str, value: &str, schemes: &[&str]) -> Result<(), ConfigError> {
    if value.is_empty() {
        return Ok(());
    }
    let url = url::Url::parse(value).map_err(|error| ConfigError::Invalid {
        key,
        message: format!("not a URL ({error})"),
    })?;
    if !schemes.contains(&url.scheme()) {
        return Err(ConfigError::Invalid {
            key,
            message: format!(
                "scheme '{}' is not one of {}",
                url.scheme(),
                schemes.join(", ")
            ),
        });
    }
    Ok(())
}

/// A secret: read like any text, then kept where no `Debug`, log line or panic prints it.
fn secret<'de, D: Deserializer<'de>>(deserializer: D) -> Result<SecretString, D::Error> {
    text(deserializer).map(SecretString::from)
}

/// Accepts any scalar as text: the environment provider types `123` as a number and
/// `true` as a boolean, but secrets are always strings.
fn text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Scalar {
        Text(String),
        Unsigned(u64),
        Signed(i64),
        Float(f64),
        Bool(bool),
    }
    Ok(match Scalar::deserialize(deserializer)? {
        Scalar::Text(text) => text,
        Scalar::Unsigned(n) => n.to_string(),
        Scalar::Signed(n) => n.to_string(),
        Scalar::Float(n) => n.to_string(),
        Scalar::Bool(b) => b.to_string(),
    })
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment's Jail closures return figment::Error
mod tests {
    use super::*;
    use figment::Jail;

    fn load() -> Result<Config, ConfigError> {
        Config::from_figment(Config::figment()?)
    }

    #[test]
    fn defaults_load_and_validate() {
        Jail::expect_with(|_jail| {
            let config = load().unwrap();
            assert_eq!(config.database.mode, DatabaseMode::Auto);
            assert_eq!(config.http.addr.port(), 8080);
            assert!(config.database.url.expose_secret().is_empty());
            Ok(())
        });
    }

    #[test]
    fn profile_file_overrides_defaults_and_env_overrides_both() {
        Jail::expect_with(|jail| {
            jail.create_dir("config")?;
            jail.create_file(
                "config/staging.toml",
                "[database]\nmax_connections = 3\nurl = \"postgres://file/db\"\n[http]\naddr = \"0.0.0.0:9000\"\n",
            )?;
            jail.set_env(PROFILE_ENV, "staging");
            let config = load().unwrap();
            assert_eq!(config.database.max_connections, 3);
            assert_eq!(config.database.url.expose_secret(), "postgres://file/db");
            assert_eq!(config.http.addr.port(), 9000);

            jail.set_env("DATABASE_URL", "postgres://env/db");
            jail.set_env("PULSE_DATABASE__MAX_CONNECTIONS", "7");
            let config = load().unwrap();
            assert_eq!(config.database.url.expose_secret(), "postgres://env/db");
            assert_eq!(config.database.max_connections, 7);
            assert_eq!(
                config.http.addr.port(),
                9000,
                "untouched keys keep the file value"
            );
            Ok(())
        });
    }

    #[test]
    fn fixed_env_names_set_their_keys() {
        Jail::expect_with(|jail| {
            jail.set_env("PULSE_HTTP_ADDR", "127.0.0.1:9999");
            jail.set_env("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/%2f");
            jail.set_env("QDRANT_URL", "http://127.0.0.1:6334");
            jail.set_env("PULSE_DATA_DIR", "/tmp/somewhere");
            jail.set_env("PULSE_JWT_SECRET", "0123456789abcdef0123456789abcdef");
            let config = load().unwrap();
            assert_eq!(config.http.addr.port(), 9999);
            assert_eq!(
                config.queue.rabbitmq_url.expose_secret(),
                "amqp://guest:guest@127.0.0.1:5672/%2f"
            );
            assert_eq!(config.vectors.qdrant_url, "http://127.0.0.1:6334");
            assert_eq!(config.data_dir, PathBuf::from("/tmp/somewhere"));
            assert_eq!(config.auth.jwt_secret.expose_secret().len(), 32);
            Ok(())
        });
    }

    #[test]
    fn errors_name_the_key() {
        Jail::expect_with(|jail| {
            jail.set_env("PULSE_HTTP_ADDR", "not-an-address");
            let error = load().unwrap_err().to_string();
            assert!(error.contains("http.addr"), "{error}");
            assert!(error.contains("PULSE_HTTP_ADDR"), "{error}");
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.set_env("DATABASE_URL", "mysql://x/y");
            let error = load().unwrap_err().to_string();
            assert!(error.contains("database.url"), "{error}");
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.set_env("PULSE_SECRET_KEY", "too-short");
            let error = load().unwrap_err().to_string();
            assert!(error.contains("security.secret_key"), "{error}");
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.set_env("PULSE_DATABASE__MAX_CONECTIONS", "3");
            let error = load().unwrap_err().to_string();
            assert!(error.contains("max_conections"), "{error}");
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.create_dir("config")?;
            jail.create_file(
                "config/bad.toml",
                "[database]\nmax_connections = \"many\"\n",
            )?;
            jail.set_env(PROFILE_ENV, "bad");
            let error = load().unwrap_err().to_string();
            assert!(error.contains("database.max_connections"), "{error}");
            assert!(error.contains("bad.toml"), "{error}");
            Ok(())
        });
        Jail::expect_with(|jail| {
            jail.set_env(PROFILE_ENV, "nowhere");
            let error = load().unwrap_err().to_string();
            assert!(error.contains("nowhere.toml"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn printing_the_configuration_shows_no_secret() {
        Jail::expect_with(|jail| {
            jail.set_env("DATABASE_URL", "postgres://pulse:db-password-1@db/pulse");
            jail.set_env("RABBITMQ_URL", "amqp://pulse:mq-password-2@mq:5672/%2f");
            jail.set_env(
                "PULSE_JWT_SECRET",
                "jwt-secret-3-that-is-long-enough-to-use",
            );
            jail.set_env(
                "PULSE_SECRET_KEY",
                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            );
            jail.set_env("PULSE_METRICS__TOKEN", "scrape-token-4");
            let printed = format!("{:?}", load().unwrap());
            for secret in [
                "db-password-1",
                "mq-password-2",
                "jwt-secret-3",
                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
                "scrape-token-4",
            ] {
                assert!(!printed.contains(secret), "{secret} printed: {printed}");
            }
            Ok(())
        });
    }

    #[test]
    fn allowed_networks_come_from_the_environment_and_bad_ones_are_named() {
        Jail::expect_with(|jail| {
            assert!(load().unwrap().sources.allow_networks.is_empty());
            jail.set_env(
                "PULSE_SOURCES__ALLOW_NETWORKS",
                r#"["10.20.0.0/16", "127.0.0.1/32"]"#,
            );
            let config = load().unwrap();
            assert!(config.outbound().check_url("http://10.20.1.1/").is_ok());
            assert!(config.outbound().check_url("http://127.0.0.2/").is_err());
            jail.set_env("PULSE_SOURCES__ALLOW_NETWORKS", "127.0.0.1, ::1");
            assert_eq!(load().unwrap().sources.allow_networks.len(), 2);
            jail.set_env("PULSE_SOURCES__ALLOW_NETWORKS", r#"["10.0.0.0/33"]"#);
            let error = load().unwrap_err().to_string();
            assert!(error.contains("sources.allow_networks"), "{error}");
            assert!(error.contains("PULSE_SOURCES__ALLOW_NETWORKS"), "{error}");
            Ok(())
        });
    }

    #[test]
    fn secret_key_is_required_only_when_asked_for() {
        Jail::expect_with(|jail| {
            let config = load().unwrap();
            let error = config.secret_key().unwrap_err().to_string();
            assert!(error.contains("PULSE_SECRET_KEY"), "{error}");
            jail.set_env(
                "PULSE_SECRET_KEY",
                "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",
            );
            assert!(load().unwrap().secret_key().is_ok());
            Ok(())
        });
    }
}
