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

/// Deleting a tenant still takes every row of it along (the data tables reach `tenants`
/// through their integration, not directly) and leaves other tenants' rows alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_tenant_removes_every_row_it_owns_and_no_other() {
    use crate::common::source::{cli, connect_github, jira_tenant, strings};
    use pulse_etl::simulator::{RunningSimulator, SimulatorConfig};

    let config = SimulatorConfig {
        jira_issues: 40,
        github_repos: 1,
        github_prs: 20,
        ..SimulatorConfig::default()
    };
    let sim = RunningSimulator::start(config, std::net::SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap();
    let db = ScratchDb::migrated().await;
    let mut tenants = Vec::new();
    for _ in 0..2 {
        let tenant = jira_tenant(&db, &sim, "sim-token").await;
        connect_github(&db, &sim, &tenant, &["sim-gh-token"], &[]).await;
        for provider in ["jira", "github"] {
            let run = cli(&db, strings(&["run-job", provider, "--tenant", &tenant])).await;
            assert!(run.status.success(), "{}", common::stderr(&run));
        }
        tenants.push(tenant.parse::<i64>().unwrap());
    }
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT c.table_name::text FROM information_schema.columns c
         JOIN information_schema.tables t USING (table_schema, table_name)
         WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id'
           AND t.table_type = 'BASE TABLE'
         ORDER BY 1",
    )
    .fetch_all(&db.pool)
    .await
    .unwrap();
    let rows_of = async |tenant: i64| {
        let mut counts = Vec::new();
        for table in &tables {
            let rows: i64 = sqlx::query_scalar(&format!(
                "SELECT count(*) FROM {table} WHERE tenant_id = $1"
            ))
            .bind(tenant)
            .fetch_one(&db.pool)
            .await
            .unwrap();
            counts.push((table.clone(), rows));
        }
        counts
    };
    let kept_before = rows_of(tenants[1]).await;
    for table in [
        "raw_extraction_data",
        "work_items",
        "changelogs",
        "prs",
        "pr_commits",
    ] {
        let rows = kept_before
            .iter()
            .find(|(t, _)| t == table)
            .map(|(_, n)| *n);
        assert!(rows > Some(0), "the sync left {table} empty");
    }
    sqlx::query("DELETE FROM tenants WHERE id = $1")
        .bind(tenants[0])
        .execute(&db.pool)
        .await
        .unwrap();
    let left: Vec<_> = rows_of(tenants[0])
        .await
        .into_iter()
        .filter(|(_, rows)| *rows > 0)
        .collect();
    assert!(left.is_empty(), "rows outlived their tenant: {left:?}");
    assert_eq!(rows_of(tenants[1]).await, kept_before);
}
