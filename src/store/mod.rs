//! Provider-free SQL: connecting (server or private cluster), migrations, raw rows, bulk
//! upserts, load batches, jobs, tenants, integrations and users. Each source keeps the SQL of
//! its own tables in its folder under `sources/`.

pub mod access_changes;
pub mod api_tokens;
pub mod bulk;
mod connect;
pub mod dead_letters;
mod embedded_postgres;
mod error;
pub mod integrations;
pub mod job_controls;
pub mod job_events;
pub mod jobs;
pub mod load_batches;
pub mod notifications;
pub mod raw;
pub mod raw_browse;
pub mod raw_prune;
pub mod sign_in_attempts;
pub mod stats;
pub mod tenants;
pub mod users;
pub mod vectors;
pub mod webhooks;

pub use connect::{ConnectError, Database};
pub use embedded_postgres::{EmbeddedError, EmbeddedPostgres};
pub use error::{is_unique_violation, StoreError};

use sqlx::migrate::{MigrateError, Migrator};
use sqlx::PgPool;

/// The schema, embedded at build time from `migrations/`.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// Applies pending migrations; already-applied ones are skipped, so a second run is a no-op.
/// Returns how many were applied now.
pub async fn migrate(pool: &PgPool) -> Result<usize, MigrateError> {
    let applied_before: i64 = applied_migrations(pool).await;
    MIGRATOR.run(pool).await?;
    let applied_after = applied_migrations(pool).await;
    Ok(usize::try_from(applied_after - applied_before).unwrap_or(0))
}

async fn applied_migrations(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM _sqlx_migrations WHERE success")
        .fetch_one(pool)
        .await
        .unwrap_or(0)
}

/// Refreshes what the loads plan with while a sync fills `tables`: row counts and the
/// statistics of every indexed column (what statements find rows by: tenant, integration,
/// external ids, parent ids), of the tables and of the raw rows. With statistics from when
/// a table was empty the planner scans it whole for every batch, so a first large sync slows
/// down as it goes. Indexed columns alone cost a small part of a whole `ANALYZE`, which also
/// sorts wide text and evaluates index expressions (the search index) over its sample; the
/// other columns' statistics, which the API's filters plan with, are autovacuum's to refresh.
pub async fn analyze_indexed(pool: &PgPool, tables: &[&str]) -> Result<(), StoreError> {
    let mut names = tables.to_vec();
    names.push("raw_extraction_data");
    let targets: Vec<String> = sqlx::query_scalar(
        "SELECT format('%I (%s)', c.relname, string_agg(DISTINCT quote_ident(a.attname), ', '))
         FROM pg_index i
         JOIN pg_class c ON c.oid = i.indrelid
         JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
         WHERE c.relname = ANY ($1) AND c.relnamespace = 'public'::regnamespace
         GROUP BY c.relname",
    )
    .bind(&names)
    .fetch_all(pool)
    .await?;
    if !targets.is_empty() {
        sqlx::query(&format!("ANALYZE {}", targets.join(", ")))
            .execute(pool)
            .await?;
    }
    Ok(())
}
