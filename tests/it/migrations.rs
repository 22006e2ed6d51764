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

/// Collections made before hybrid search are rebuilt under the new name: an active one gets
/// a successor being built (search keeps reading it meanwhile), one being built is renamed
/// and starts again from nothing.
#[tokio::test]
async fn pre_hybrid_collections_get_successors_under_the_new_name() {
    let db = ScratchDb::empty().await;
    let before_hybrid = sqlx::migrate::Migrator {
        migrations: std::borrow::Cow::Owned(
            pulse_etl::store::MIGRATOR
                .migrations
                .iter()
                .filter(|m| m.version < 18)
                .cloned()
                .collect(),
        ),
        ..sqlx::migrate::Migrator::DEFAULT
    };
    before_hybrid.run(&db.pool).await.unwrap();
    let setup = [
        "INSERT INTO tenants (id, name, tier) VALUES (1, 'a', 'basic'), (2, 'b', 'basic')",
        "INSERT INTO embedding_settings (tenant_id, collection, provider, model, state) VALUES
            (1, 'pulse_t1_all_minilm_l6_v2', 'local', 'all-MiniLM-L6-v2', 'active'),
            (2, 'pulse_t2_all_minilm_l6_v2', 'local', 'all-MiniLM-L6-v2', 'active'),
            (2, 'pulse_t2_text_embedding_3_small', 'openai', 'text-embedding-3-small', 'building')",
        "INSERT INTO qdrant_vectors (tenant_id, table_name, record_id, collection, point_id) VALUES
            (1, 'work_items', 1, 'pulse_t1_all_minilm_l6_v2', gen_random_uuid()),
            (2, 'work_items', 1, 'pulse_t2_text_embedding_3_small', gen_random_uuid())",
    ];
    for statement in setup {
        sqlx::query(statement).execute(&db.pool).await.unwrap();
    }
    pulse_etl::store::MIGRATOR.run(&db.pool).await.unwrap();
    let settings: Vec<(i64, String, String)> = sqlx::query_as(
        "SELECT tenant_id, collection, state FROM embedding_settings ORDER BY tenant_id, state, collection",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let expected = [
        (1, "pulse_t1_all_minilm_l6_v2", "active"),
        (1, "pulse_h_t1_all_minilm_l6_v2", "building"),
        (2, "pulse_t2_all_minilm_l6_v2", "active"),
        (2, "pulse_h_t2_text_embedding_3_small", "building"),
    ];
    let got: Vec<(i64, &str, &str)> = settings
        .iter()
        .map(|(t, c, s)| (*t, c.as_str(), s.as_str()))
        .collect();
    assert_eq!(got, expected);
    // The active collection keeps its bridge rows (search reads it); the renamed one lost
    // its own (its points lack the lexical vector).
    let bridged: Vec<String> =
        sqlx::query_scalar("SELECT collection FROM qdrant_vectors ORDER BY collection")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    assert_eq!(bridged, ["pulse_t1_all_minilm_l6_v2"]);
}
