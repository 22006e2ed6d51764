//! Every registered load table's upsert, in both forms (records bound directly, records read
//! from a saved load batch), and every upsert a source runs directly, is prepared by
//! PostgreSQL against the migrated schema: a column or type typo fails here in milliseconds
//! instead of in an end-to-end sync.

use sqlx::Executor;

use crate::common::ScratchDb;
use pulse_etl::sources::CATALOG;

#[tokio::test]
async fn every_registered_upsert_prepares_against_the_schema() {
    let db = ScratchDb::migrated().await;
    let tables = CATALOG.load_tables();
    assert!(!tables.is_empty());
    for table in tables {
        for (form, sql) in [
            ("direct", table.upsert.sql()),
            ("saved batch", table.upsert.saved_sql()),
        ] {
            if let Err(error) = (&db.pool).prepare(sql.as_str()).await {
                panic!("{} ({form}) does not prepare: {error}\n{sql}", table.name());
            }
        }
    }
    let direct: Vec<_> = CATALOG.direct_upserts().collect();
    assert_eq!(
        direct.len(),
        5,
        "statuses, projects, wits, custom fields, PR links"
    );
    for upsert in direct {
        let sql = upsert.sql();
        if let Err(error) = (&db.pool).prepare(sql.as_str()).await {
            panic!("{} does not prepare: {error}\n{sql}", upsert.table);
        }
    }
}
