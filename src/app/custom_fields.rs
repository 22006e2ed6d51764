//! `pulse-etl custom-fields sync|list|map`.

use anyhow::bail;
use sqlx::PgPool;

use super::output::{Output, Tabular};
use crate::cli::{CustomFieldsCommand, MapArgs};
use crate::config::Config;
use crate::domain::Provider;
use crate::security::CredentialCipher;
use crate::sources::jira::custom_field_tables::{self as custom_fields, FieldListing, Target};
use crate::sources::jira::{self, custom_fields::sync as sync_custom_fields};
use crate::store::integrations;
use crate::store::raw::Scope;

impl Tabular for FieldListing {
    const HEADERS: &'static [&'static str] = &["field", "name", "type", "mapped to"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.external_id.clone(),
            self.name.clone(),
            self.field_type.clone(),
            self.mapped_to.clone().unwrap_or_default(),
        ]
    }
}

/// The tenant of a Jira integration, or a clear error.
async fn jira_tenant(pool: &PgPool, integration_id: i64) -> anyhow::Result<i64> {
    let tenant = integrations::tenant_of(pool, integration_id).await?;
    let integration = integrations::get(pool, tenant, integration_id).await?;
    if integration.provider != Provider::Jira {
        bail!(
            "integration {integration_id} is {}, custom fields are a Jira feature",
            integration.provider
        );
    }
    Ok(tenant)
}

pub async fn run(
    pool: &PgPool,
    config: &Config,
    output: Output,
    command: CustomFieldsCommand,
) -> anyhow::Result<()> {
    match command {
        CustomFieldsCommand::Sync { integration } => {
            let tenant = jira_tenant(pool, integration).await?;
            let cipher = CredentialCipher::new(&config.secret_key()?);
            let (settings, client) = jira::client(pool, &cipher, tenant, integration).await?;
            let scope = Scope {
                tenant_id: tenant,
                integration_id: integration,
                job_id: None,
            };
            let found =
                sync_custom_fields(pool, &client, scope, &settings.settings.projects).await?;
            tracing::info!(
                tenant_id = tenant,
                integration_id = integration,
                fields = found,
                "custom fields discovered"
            );
            output.list(&custom_fields::list(pool, tenant, integration).await?)
        }
        CustomFieldsCommand::List { integration } => {
            let tenant = jira_tenant(pool, integration).await?;
            output.list(&custom_fields::list(pool, tenant, integration).await?)
        }
        CustomFieldsCommand::Map(args) => {
            let tenant = jira_tenant(pool, args.integration).await?;
            for (target, field) in targets(&args) {
                custom_fields::map(pool, tenant, args.integration, target, field).await?;
                tracing::info!(tenant_id = tenant, integration_id = args.integration, target = %target.label(), field, "mapped");
            }
            output.list(&custom_fields::list(pool, tenant, args.integration).await?)
        }
    }
}

fn targets(args: &MapArgs) -> Vec<(Target, &str)> {
    let mut targets = Vec::new();
    if let (Some(slot), Some(field)) = (args.slot, args.field.as_deref()) {
        targets.push((Target::Slot(usize::from(slot)), field));
    }
    for (target, field) in [
        (Target::Team, &args.team),
        (Target::StoryPoints, &args.story_points),
        (Target::CodeChanged, &args.code_changed),
    ] {
        if let Some(field) = field.as_deref() {
            targets.push((target, field));
        }
    }
    targets
}
