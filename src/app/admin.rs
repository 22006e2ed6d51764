//! Admin commands: tenants, integrations and users, through the service layer.

use std::io::BufRead;
use std::time::Duration;

use anyhow::{bail, Context};
use sqlx::PgPool;

use super::output::{Output, Tabular};
use crate::cli::{
    IntegrationCommand, IntegrationCreateArgs, TenantCommand, TokenCommand, UserCommand,
    WebhooksCommand,
};
use crate::config::Config;
use crate::domain::input::SourceScope;
use crate::service::integrations::{self, IntegrationInput};
use crate::service::tenants::{self, NewTenant};
use crate::service::users::{self, NewUser};
use crate::service::webhooks::WebhookStatus;
use crate::service::{api_tokens, webhooks};
use crate::store;
use crate::store::api_tokens::{ApiTokenSummary, TokenCreator};
use crate::store::integrations::IntegrationSummary;
use crate::store::tenants::Tenant;

impl Tabular for Tenant {
    const HEADERS: &'static [&'static str] = &["id", "name", "tier", "active", "created"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.name.clone(),
            self.tier.to_string(),
            self.active.to_string(),
            self.created_at.format("%Y-%m-%d %H:%M").to_string(),
        ]
    }
}

impl Tabular for WebhookStatus {
    const HEADERS: &'static [&'static str] = &[
        "installed",
        "secret set",
        "last delivery",
        "deliveries (1 h)",
        "failures (1 h)",
        "pending",
        "polling",
        "last gap",
    ];

    fn cells(&self) -> Vec<String> {
        let installed: Vec<&str> = self.installed.iter().map(|r| r.target.as_str()).collect();
        let counts = &self.deliveries;
        vec![
            if installed.is_empty() {
                "no".into()
            } else {
                installed.join(",")
            },
            counts.secret_set.to_string(),
            counts.last_delivery_at.map_or_else(
                || "never".into(),
                |at| at.format("%Y-%m-%d %H:%M:%S").to_string(),
            ),
            counts.deliveries_last_hour.to_string(),
            counts.failures_last_hour.to_string(),
            counts.pending.to_string(),
            if counts.live { "reconcile" } else { "normal" }.into(),
            match (counts.last_gap_at, counts.last_gap_records) {
                (Some(at), Some(records)) => {
                    format!("{} ({records} records)", at.format("%Y-%m-%d %H:%M"))
                }
                _ => "none".into(),
            },
        ]
    }
}

impl Tabular for IntegrationSummary {
    const HEADERS: &'static [&'static str] =
        &["id", "provider", "base url", "username", "scope", "active"];

    fn cells(&self) -> Vec<String> {
        let scope = self.settings.scope();
        vec![
            self.id.to_string(),
            self.provider.to_string(),
            self.base_url.clone(),
            self.username.clone().unwrap_or_default(),
            if scope.is_empty() {
                "(all)".into()
            } else {
                scope.join(",")
            },
            self.active.to_string(),
        ]
    }
}

pub async fn tenant(pool: &PgPool, output: Output, command: TenantCommand) -> anyhow::Result<()> {
    match command {
        TenantCommand::Create { name, tier } => {
            output.created(tenants::create(pool, NewTenant { name, tier }).await?)
        }
        TenantCommand::List => output.list(&tenants::list(pool).await?),
    }
}

pub async fn integration(
    pool: &PgPool,
    config: &Config,
    output: Output,
    command: IntegrationCommand,
) -> anyhow::Result<()> {
    match command {
        IntegrationCommand::Create(args) => {
            let reach = super::reach(config, &config.secret_key()?);
            let id = integrations::create(pool, &reach, integration_input(args)).await?;
            output.created(id)
        }
        IntegrationCommand::List { tenant } => {
            output.list(&integrations::list(pool, tenant).await?)
        }
        IntegrationCommand::Disable { id } => {
            let tenant = store::integrations::tenant_of(pool, id).await?;
            integrations::disable(pool, tenant, id).await?;
            output.done(&format!("integration {id} disabled"))
        }
        IntegrationCommand::WebhookSecret { id, rotate } => {
            let tenant = store::integrations::tenant_of(pool, id).await?;
            let integration = crate::domain::IntegrationRef::new(tenant, id);
            if !rotate && store::webhooks::has_secret(pool, integration).await? {
                bail!("integration {id} has a webhook secret already (it was shown when it was made); --rotate makes a new one");
            }
            let key = config.secret_key()?;
            let cipher = crate::security::CredentialCipher::new(&key);
            let made = webhooks::rotate_secret(pool, &cipher, tenant, id).await?;
            if output.json {
                println!("{}", serde_json::to_string_pretty(&made)?);
            } else {
                println!("{}", made.secret);
                eprintln!(
                    "webhook secret for integration {id}; deliveries go to {} under the API's public address; it is shown only now",
                    made.path
                );
            }
            Ok(())
        }
        IntegrationCommand::Webhooks(WebhooksCommand::Install { id, public_url }) => {
            let tenant = store::integrations::tenant_of(pool, id).await?;
            let reach = super::reach(config, &config.secret_key()?);
            let done = webhooks::install(pool, &reach, (tenant, id), &public_url).await?;
            if output.json {
                println!("{}", serde_json::to_string_pretty(&done)?);
                return Ok(());
            }
            for target in &done.installed.registered {
                println!("registered: {target} → {}", done.url);
            }
            for line in &done.installed.manual {
                println!("set up by hand (the token may not): {line}");
            }
            Ok(())
        }
        IntegrationCommand::Webhooks(WebhooksCommand::Uninstall { id }) => {
            let tenant = store::integrations::tenant_of(pool, id).await?;
            let reach = super::reach(config, &config.secret_key()?);
            let removed = webhooks::uninstall(pool, &reach, (tenant, id)).await?;
            output.done(&format!(
                "removed {} hook(s): {}",
                removed.len(),
                removed.join(", ")
            ))
        }
        IntegrationCommand::Webhooks(WebhooksCommand::Status { id }) => {
            let tenant = store::integrations::tenant_of(pool, id).await?;
            let live_within = Duration::from_secs(config.scheduler.interval_secs);
            let counts = webhooks::status(pool, tenant, id, live_within).await?;
            output.list(&[counts])
        }
    }
}

fn integration_input(args: IntegrationCreateArgs) -> IntegrationInput {
    IntegrationInput {
        tenant_id: args.tenant,
        provider: args.provider,
        base_url: args.base_url,
        tokens: args.token,
        scope: SourceScope {
            username: args.username,
            projects: args.projects,
            repos: args.repos,
            dev_status: args.dev_status,
            api: args.api,
        },
        requests_per_second: args.requests_per_second,
        concurrency: args.concurrency.map(usize::from),
    }
}

pub async fn user(pool: &PgPool, output: Output, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Create {
            tenant,
            email,
            password_stdin: _,
            role,
        } => {
            let password =
                read_password_line().context("reading the password from standard input")?;
            let new = NewUser {
                tenant_id: tenant,
                email,
                password,
                role,
            };
            output.created(users::create(pool, new).await?)
        }
    }
}

impl Tabular for ApiTokenSummary {
    const HEADERS: &'static [&'static str] =
        &["id", "name", "role", "created", "last used", "revoked"];

    fn cells(&self) -> Vec<String> {
        let time = |at: Option<chrono::DateTime<chrono::Utc>>| {
            at.map(|at| at.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default()
        };
        vec![
            self.id.to_string(),
            self.name.clone(),
            self.role.to_string(),
            time(Some(self.created_at)),
            time(self.last_used_at),
            time(self.revoked_at),
        ]
    }
}

pub async fn token(pool: &PgPool, output: Output, command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create { tenant, name, role } => {
            let created =
                api_tokens::create(pool, tenant, (&name, role), TokenCreator::default()).await?;
            output.secret(created.id, &created.token)
        }
        TokenCommand::List { tenant } => output.list(&api_tokens::list(pool, tenant).await?),
        TokenCommand::Revoke { tenant, id } => {
            api_tokens::revoke(pool, tenant, None, id).await?;
            output.done(&format!("token {id} revoked"))
        }
    }
}

/// The first line of standard input, without its line ending.
fn read_password_line() -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        bail!("no password on standard input (pipe it in, e.g. `printf '%s' \"$PASSWORD\" | pulse-etl user create ...`)");
    }
    Ok(password)
}
