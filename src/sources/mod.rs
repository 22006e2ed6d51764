//! The sources, one folder each: its API client, extraction steps, transform, row types and
//! the SQL of its own tables, reprocess. This file is the one registry: the only place that
//! matches on [`Provider`].

mod access;
pub mod azure_devops;
pub mod delivery;
pub mod fields;
pub mod flow;
pub mod github;
pub mod jira;
pub mod links;
pub mod people;
pub mod pull_requests;
pub mod quality;
pub mod work_items;

use crate::domain::Provider;
use crate::pipeline::source::{Catalog, Source};

/// Every source this build has.
pub static CATALOG: Catalog = Catalog {
    of: source,
    all: &[&jira::JIRA, &github::GITHUB, &azure_devops::AZURE_DEVOPS],
};

/// The source of `provider`.
fn source(provider: Provider) -> &'static dyn Source {
    match provider {
        Provider::Jira => &jira::JIRA,
        Provider::Github => &github::GITHUB,
        Provider::AzureDevops => &azure_devops::AZURE_DEVOPS,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_provider_is_listed_once_under_its_own_name() {
        assert_eq!(CATALOG.all.len(), Provider::ALL.len());
        for provider in Provider::ALL {
            assert_eq!(CATALOG.source(*provider).provider(), *provider);
            let listed = CATALOG.all.iter().filter(|s| s.provider() == *provider);
            assert_eq!(listed.count(), 1, "{provider}");
        }
    }

    #[test]
    fn raw_kinds_belong_to_one_source_each_and_load_tables_have_one_definition() {
        let mut kinds: Vec<&str> = CATALOG
            .all
            .iter()
            .flat_map(|s| s.transforms().iter().map(|t| t.kind))
            .collect();
        let mut tables: Vec<&str> = CATALOG.load_tables().iter().map(|t| t.name()).collect();
        let (kind_count, table_count) = (kinds.len(), tables.len());
        kinds.sort_unstable();
        kinds.dedup();
        tables.sort_unstable();
        tables.dedup();
        assert_eq!(kinds.len(), kind_count);
        assert_eq!(tables.len(), table_count);
    }

    #[test]
    fn every_embedded_table_follows_a_step_of_the_source_registering_it() {
        for source in CATALOG.all {
            for table in source.embed_tables() {
                assert!(
                    source.steps().iter().any(|step| step.name == table.step),
                    "{}: {} follows {}, not one of its steps",
                    source.provider(),
                    table.table,
                    table.step
                );
            }
        }
        let names: Vec<&str> = CATALOG.embed_tables().map(|t| t.table).collect();
        assert_eq!(
            names,
            ["work_items", "prs"],
            "each embedded table listed once"
        );
    }

    #[test]
    fn every_load_table_reads_the_columns_it_writes() {
        for table in CATALOG.load_tables() {
            let upsert = &table.upsert;
            let fields: Vec<&str> = upsert.record.iter().map(|(name, _)| *name).collect();
            for copied in upsert.copied {
                assert!(
                    fields.contains(copied),
                    "{}: {copied} is not a record field",
                    table.name()
                );
            }
            let columns: Vec<&str> = upsert
                .copied
                .iter()
                .copied()
                .chain(upsert.computed.iter().map(|c| c.name))
                .collect();
            for key in upsert.conflict_key {
                assert!(
                    columns.contains(key),
                    "{}: key {key} is never written",
                    table.name()
                );
            }
        }
    }
}
