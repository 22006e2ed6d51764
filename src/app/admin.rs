//! Admin commands: tenants, integrations and users, validated before they reach the store.

use std::io::BufRead;

use anyhow::{bail, Context};
use sqlx::PgPool;

use super::output::{Output, Tabular};
use crate::cli::{IntegrationCommand, IntegrationCreateArgs, TenantCommand, UserCommand};
use crate::config::Config;
use crate::domain::{input, Provider};
use crate::security::{hash_password, CredentialCipher};
use crate::store::integrations::{
    Credentials, IntegrationSettings, IntegrationSummary, NewIntegration,
};
use crate::store::tenants::Tenant;
use crate::store::{integrations, tenants, users};

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

impl Tabular for IntegrationSummary {
    const HEADERS: &'static [&'static str] =
        &["id", "provider", "base url", "username", "scope", "active"];

    fn cells(&self) -> Vec<String> {
        let scope = match self.provider {
            Provider::Jira => &self.settings.projects,
            Provider::Github => &self.settings.repos,
        };
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
            let name = input::name("--name", &name)?;
            let id = tenants::create(pool, &name, tier).await?;
            tracing::info!(tenant_id = id, %tier, "tenant created");
            output.created(id)
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
            let (settings, username) = validate_integration(&args)?;
            let tokens: Vec<String> = args.token.iter().map(|t| t.trim().to_owned()).collect();
            if tokens.iter().any(String::is_empty) {
                bail!("--token: must not be empty");
            }
            let base_url = input::base_url(&args.base_url)?;
            let cipher = CredentialCipher::new(&config.secret_key()?);
            let id = integrations::create(
                pool,
                &cipher,
                NewIntegration {
                    tenant_id: args.tenant,
                    provider: args.provider,
                    base_url: &base_url,
                    username: username.as_deref(),
                    credentials: &Credentials { tokens },
                    settings: &settings,
                },
            )
            .await?;
            tracing::info!(tenant_id = args.tenant, integration_id = id, provider = %args.provider, "integration created");
            output.created(id)
        }
        IntegrationCommand::List { tenant } => {
            output.list(&integrations::list(pool, tenant).await?)
        }
        IntegrationCommand::Disable { id } => {
            integrations::disable(pool, id).await?;
            output.done(&format!("integration {id} disabled"))
        }
    }
}

/// Provider-specific checks: which scope flag fits, and who signs in.
fn validate_integration(
    args: &IntegrationCreateArgs,
) -> anyhow::Result<(IntegrationSettings, Option<String>)> {
    let username = args
        .username
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty());
    let (projects, repos) = match args.provider {
        Provider::Jira => {
            if !args.repos.is_empty() {
                bail!(
                    "--repos: only GitHub integrations have repositories (use --projects for Jira)"
                );
            }
            if username.is_none() {
                bail!("--username: Jira needs the account e-mail for Basic auth");
            }
            let projects = args.projects.iter().map(|p| input::project_key(p));
            (projects.collect::<Result<_, _>>()?, Vec::new())
        }
        Provider::Github => {
            if !args.projects.is_empty() {
                bail!("--projects: only Jira integrations have projects (use --repos for GitHub)");
            }
            let repos = args.repos.iter().map(|r| input::repository(r));
            (Vec::new(), repos.collect::<Result<_, _>>()?)
        }
    };
    let settings = IntegrationSettings {
        projects,
        repos,
        requests_per_second: args.requests_per_second,
        concurrency: args.concurrency.map(usize::from),
    };
    Ok((settings, username.map(str::to_owned)))
}

pub async fn user(pool: &PgPool, output: Output, command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Create {
            tenant,
            email,
            password_stdin: _,
            role,
        } => {
            let email = input::email(&email)?;
            let password =
                read_password_line().context("reading the password from standard input")?;
            let hash = hash_password(&password)?;
            let id = users::create(pool, tenant, &email, &hash, role).await?;
            tracing::info!(tenant_id = tenant, user_id = id, %role, "user created");
            output.created(id)
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
