//! `pulse-etl custom-fields sync|list|map`.

use sqlx::PgPool;

use super::output::{Output, Tabular};
use crate::cli::{CustomFieldsCommand, MapArgs};
use crate::config::Config;
use crate::service::custom_fields;
use crate::sources::work_items::custom_fields::{FieldListing, Target};

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

pub async fn run(
    pool: &PgPool,
    config: &Config,
    output: Output,
    command: CustomFieldsCommand,
) -> anyhow::Result<()> {
    let listing = match command {
        CustomFieldsCommand::Sync { integration } => {
            let reach = super::reach(config, &config.secret_key()?);
            let tenant = custom_fields::owner(pool, integration).await?;
            custom_fields::sync(pool, &reach, tenant, integration).await?
        }
        CustomFieldsCommand::List { integration } => {
            let tenant = custom_fields::owner(pool, integration).await?;
            custom_fields::list(pool, tenant, integration).await?
        }
        CustomFieldsCommand::Map(args) => {
            let tenant = custom_fields::owner(pool, args.integration).await?;
            custom_fields::map(pool, tenant, args.integration, &targets(&args)).await?
        }
    };
    output.list(&listing)
}

fn targets(args: &MapArgs) -> Vec<(Target, String)> {
    let mut targets = Vec::new();
    if let (Some(slot), Some(field)) = (args.slot, &args.field) {
        targets.push((Target::Slot(usize::from(slot)), field.clone()));
    }
    for (target, field) in [
        (Target::Team, &args.team),
        (Target::StoryPoints, &args.story_points),
        (Target::CodeChanged, &args.code_changed),
    ] {
        if let Some(field) = field {
            targets.push((target, field.clone()));
        }
    }
    targets
}
