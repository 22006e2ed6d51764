//! The demo of `all --demo`: the source simulator, a demo tenant with Jira and GitHub
//! integrations wired to it, and the key that seals their credentials.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;

use crate::connectors::outbound::Outbound;
use crate::domain::{IntegrationRef, Provider, TenantId, Tier, UserRole};
use crate::security::{CredentialCipher, SecretKey};
use crate::service::users::NewUser;
use crate::simulator::{RunningSimulator, SimulatorConfig};
use crate::sources::CATALOG;
use crate::store::integrations::{self, Credentials, IntegrationSettings, NewIntegration};
use crate::store::{jobs, tenants, users};

const DEMO_TENANT: &str = "Demo";

/// Where the demo's simulator listens: the one network the demo lets its sources reach
/// besides what the outbound rule allows.
pub(super) const SIMULATOR_NETWORK: ipnet::IpNet =
    ipnet::IpNet::V4(ipnet::Ipv4Net::new_assert(Ipv4Addr::LOCALHOST, 32));

/// The demo's credential key: kept in the data directory so restarts can read what
/// earlier runs stored (set PULSE_SECRET_KEY for anything but a demo).
pub(super) fn demo_key(data_dir: &Path) -> anyhow::Result<SecretKey> {
    let path = data_dir.join("demo-secret.key");
    let text = kept_secret(&path, || SecretKey::generate().1, "PULSE_SECRET_KEY")?;
    SecretKey::parse(&text).with_context(|| format!("{} is not a valid key", path.display()))
}

/// The demo's session-signing secret, kept like its key (set PULSE_JWT_SECRET for anything
/// but a demo).
pub(super) fn demo_jwt_secret(data_dir: &Path) -> anyhow::Result<String> {
    let path = data_dir.join("demo-jwt.secret");
    kept_secret(&path, || SecretKey::generate().1, "PULSE_JWT_SECRET")
}

/// The secret in `path`, created there (owner-only) by `generate` on first use.
fn kept_secret(
    path: &Path,
    generate: impl FnOnce() -> String,
    setting: &str,
) -> anyhow::Result<String> {
    if let Ok(text) = std::fs::read_to_string(path) {
        return Ok(text.trim().to_owned());
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let text = generate();
    std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?;
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    tracing::warn!(path = %path.display(), "{setting} is not set: the demo keeps its own there");
    Ok(text)
}

/// The demo tenant's admin, who signs in to the API and web UI.
pub const DEMO_ADMIN_EMAIL: &str = "admin@demo.pulse";
/// The demo admin's password: the demo listens on localhost and holds simulated data only.
pub const DEMO_ADMIN_PASSWORD: &str = "pulse-demo";

/// Creates the demo admin unless it exists.
async fn ensure_demo_admin(pool: &PgPool, tenant: TenantId) -> anyhow::Result<()> {
    if !users::for_login(pool, DEMO_ADMIN_EMAIL, Some(tenant))
        .await?
        .is_empty()
    {
        return Ok(());
    }
    let new = NewUser {
        tenant_id: tenant,
        email: DEMO_ADMIN_EMAIL.into(),
        password: DEMO_ADMIN_PASSWORD.into(),
        role: UserRole::Admin,
    };
    crate::service::users::create(pool, new).await?;
    Ok(())
}

/// Starts the simulator and makes sure the demo tenant's Jira and GitHub integrations point
/// at it.
pub(super) async fn start_demo(
    pool: &PgPool,
    cipher: &CredentialCipher,
    model_dir: &Path,
) -> anyhow::Result<RunningSimulator> {
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
    for provider in Provider::ALL.iter().copied() {
        let (token, username) = defaults.sign_in(provider);
        let source_url = simulator.base_url_for(provider);
        let demo = DemoSource {
            tenant,
            provider,
            base_url: &source_url,
            token,
            username: username.as_deref(),
        };
        wire_demo_source(pool, cipher, demo).await?;
    }
    ensure_demo_admin(pool, tenant).await?;
    enable_demo_search(pool, tenant, model_dir).await?;
    tracing::info!(tenant_id = tenant.get(), simulator = %base_url, email = DEMO_ADMIN_EMAIL,
        password = DEMO_ADMIN_PASSWORD, "demo tenant wired to the simulator; sign in to the web UI and the API as its admin");
    Ok(simulator)
}

/// Embeds the demo tenant's records with the local model for search, when the model is
/// there (`scripts/demo` fetches it) and the tenant has no embedding settings yet.
async fn enable_demo_search(
    pool: &PgPool,
    tenant: TenantId,
    model_dir: &Path,
) -> anyhow::Result<()> {
    if !crate::store::vectors::collections(pool, tenant)
        .await?
        .is_empty()
    {
        return Ok(());
    }
    if !model_dir.join("model.safetensors").exists() {
        tracing::warn!(model_dir = %model_dir.display(),
            "no local embedding model there: the demo runs without semantic search (scripts/demo fetches the model)");
        return Ok(());
    }
    let input = crate::service::vectors::EmbeddingInput {
        provider: crate::embedding::settings::LOCAL.into(),
        model: None,
        base_url: None,
        api_key: None,
    };
    crate::service::vectors::configure(pool, (None, &Outbound::default()), tenant, input).await?;
    Ok(())
}

/// One of the demo tenant's sources.
struct DemoSource<'a> {
    tenant: TenantId,
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
                IntegrationRef::new(demo.tenant, integration.id),
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
                steps: CATALOG.steps(demo.provider),
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

/// Share of the demo's issues and pull requests changed in each round of source activity.
const ACTIVITY_FRACTION: f64 = 0.01;

/// Asks the simulator for a little activity every `interval`, forever, so that each demo
/// run finds something new; a failed request is logged and the next round tried.
pub(super) async fn source_activity(
    simulator: &RunningSimulator,
    interval: Duration,
) -> anyhow::Result<()> {
    let url = format!("{}/_sim/mutate", simulator.base_url());
    let client = reqwest::Client::new();
    loop {
        tokio::time::sleep(interval).await;
        let asked = client
            .post(&url)
            .json(&serde_json::json!({ "fraction": ACTIVITY_FRACTION }))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status);
        if let Err(error) = asked {
            tracing::warn!(%error, "could not ask the simulator for activity");
        }
    }
}
