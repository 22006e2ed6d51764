//! The schema: every table other tools rely on by name is created, and migrating again
//! changes nothing.

use crate::common;
use crate::common::{stdout, ScratchDb};

const FIXED_TABLES: &[&str] = &[
    "tenants",
    "users",
    "integrations",
    "etl_jobs",
    "raw_extraction_data",
    "projects",
    "wits",
    "projects_wits",
    "statuses",
    "workflows",
    "status_mappings",
    "custom_fields",
    "custom_fields_mapping",
    "work_items",
    "changelogs",
    "repositories",
    "prs",
    "pr_commits",
    "pr_reviews",
    "pr_comments",
    "qdrant_vectors",
    "work_item_pr_links",
];

/// Tables, columns, constraints and indexes, as text, for before/after comparison.
async fn schema_fingerprint(pool: &sqlx::PgPool) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT table_name || '.' || column_name || ':' || data_type || ':' || is_nullable
           FROM information_schema.columns WHERE table_schema = 'public'
         UNION ALL
         SELECT conrelid::regclass || ' ' || conname || ' ' || pg_get_constraintdef(oid)
           FROM pg_constraint WHERE connamespace = 'public'::regnamespace
         UNION ALL
         SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'
         ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn migrate_creates_every_design_table_and_is_idempotent() {
    let db = ScratchDb::empty().await;
    let dir = tempfile::tempdir().unwrap();

    let first = db.cli(dir.path(), &["migrate"], None);
    assert!(first.status.success(), "{}", common::stderr(&first));
    let all = pulse_etl::store::MIGRATOR.iter().count();
    assert!(all >= 5);
    assert!(
        stdout(&first).starts_with(&format!("{all} migration(s) applied")),
        "{}",
        stdout(&first)
    );

    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    for table in FIXED_TABLES {
        assert!(tables.iter().any(|t| t == table), "missing table {table}");
    }
    let before = schema_fingerprint(&db.pool).await;

    let second = db.cli(dir.path(), &["migrate"], None);
    assert!(second.status.success(), "{}", common::stderr(&second));
    assert!(
        stdout(&second).starts_with("0 migration(s) applied"),
        "{}",
        stdout(&second)
    );
    assert_eq!(before, schema_fingerprint(&db.pool).await);
}

#[tokio::test]
async fn every_source_table_has_its_idempotency_key() {
    let db = ScratchDb::migrated().await;
    let keyed = [
        "projects",
        "wits",
        "statuses",
        "custom_fields",
        "work_items",
        "changelogs",
        "repositories",
        "prs",
        "pr_commits",
        "pr_reviews",
    ];
    for table in keyed {
        let definitions: Vec<String> = sqlx::query_scalar(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint
             WHERE conrelid = $1::regclass AND contype = 'u'",
        )
        .bind(table)
        .fetch_all(&db.pool)
        .await
        .unwrap();
        assert!(
            definitions
                .iter()
                .any(|d| d == "UNIQUE (tenant_id, integration_id, external_id)"),
            "{table}: {definitions:?}"
        );
    }
}

#[tokio::test]
async fn every_business_table_carries_tenant_id() {
    let db = ScratchDb::migrated().await;
    for table in FIXED_TABLES.iter().filter(|t| **t != "tenants") {
        let has: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM information_schema.columns
             WHERE table_schema = 'public' AND table_name = $1 AND column_name = 'tenant_id')",
        )
        .bind(table)
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert!(has, "{table} has no tenant_id");
    }
}
