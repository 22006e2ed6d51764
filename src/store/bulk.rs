//! Set-based idempotent upserts: a whole batch travels as one JSON array (one bind
//! parameter however many rows), is expanded with `json_to_recordset` (a saved batch, already
//! jsonb on the server, with `jsonb_to_recordset`), joined to resolve external ids, and
//! merged with `INSERT ... ON CONFLICT DO UPDATE`. A row is rewritten only when a value
//! differs, so replaying a batch leaves the table byte-for-byte unchanged. Sent batches are
//! read as `json`, not `jsonb`: expanded once, they need no sorted binary copy first.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::value::RawValue;
use sqlx::PgPool;

use super::StoreError;
use crate::domain::{IntegrationRef, LoadBatchId};

/// The records sent as `$3`, JSON text.
const SENT_RECORDS: &str = "json_to_recordset($3::json)";

/// The records of part `$4` of saved batch `$3`, read on the server.
const SAVED_RECORDS: &str = "jsonb_to_recordset((SELECT parts -> $4 FROM load_batches \
     WHERE id = $3 AND tenant_id = $1 AND integration_id = $2))";

/// One target column: its name and the SELECT expression that fills it.
pub struct Column {
    pub name: &'static str,
    pub value: &'static str,
}

/// An upsert into a table keyed by `(tenant_id, integration_id, <key columns>)`.
pub struct Upsert {
    pub table: &'static str,
    /// Fields of each JSON record with their SQL types, e.g. `("key", "text")`.
    pub record: &'static [(&'static str, &'static str)],
    /// Record fields stored under the column of the same name.
    pub copied: &'static [&'static str],
    /// Columns filled by an expression (ids resolved through `joins`, defaults).
    pub computed: &'static [Column],
    /// Extra FROM clause after the record set, e.g. LEFT JOINs resolving external ids.
    pub joins: &'static str,
    pub conflict_key: &'static [&'static str],
    /// Extra condition for updating an existing row, e.g. never older over newer.
    pub guard: Option<&'static str>,
}

impl Upsert {
    /// The statement: `$1` tenant id, `$2` integration id, `$3` the JSON array of records.
    pub fn sql(&self) -> String {
        self.sql_reading(SENT_RECORDS)
    }

    /// The statement reading its records from a saved load batch: `$1` tenant id, `$2`
    /// integration id, `$3` the batch id, `$4` the batch part.
    pub fn saved_sql(&self) -> String {
        self.sql_reading(SAVED_RECORDS)
    }

    /// The statement reading its records from `records`, a set-returning expression of
    /// `$1` (tenant id), `$2` (integration id) and `$3`.
    fn sql_reading(&self, records: &str) -> String {
        let copied: Vec<String> = self.copied.iter().map(|name| format!("r.{name}")).collect();
        let names: Vec<&str> = self
            .copied
            .iter()
            .copied()
            .chain(self.computed.iter().map(|c| c.name))
            .collect();
        let values: Vec<&str> = copied
            .iter()
            .map(String::as_str)
            .chain(self.computed.iter().map(|c| c.value))
            .collect();
        let record: Vec<String> = self
            .record
            .iter()
            .map(|(name, kind)| format!("{name} {kind}"))
            .collect();
        let updated: Vec<&str> = names
            .iter()
            .copied()
            .filter(|n| !self.conflict_key.contains(n))
            .collect();
        let set: Vec<String> = updated
            .iter()
            .map(|n| format!("{n} = excluded.{n}"))
            .collect();
        let old: Vec<String> = updated
            .iter()
            .map(|n| format!("{}.{n}", self.table))
            .collect();
        let new: Vec<String> = updated.iter().map(|n| format!("excluded.{n}")).collect();
        let guard = self
            .guard
            .map(|g| format!(" AND ({g})"))
            .unwrap_or_default();
        format!(
            "INSERT INTO {table} (tenant_id, integration_id, {names}) \
             SELECT $1, $2, {values} FROM {records} AS r({record}) {joins} \
             ON CONFLICT (tenant_id, integration_id, {key}) DO UPDATE SET {set}, updated_at = now() \
             WHERE ({old}) IS DISTINCT FROM ({new}){guard}",
            table = self.table,
            names = names.join(", "),
            values = values.join(", "),
            record = record.join(", "),
            joins = self.joins,
            key = self.conflict_key.join(", "),
            set = set.join(", "),
            old = old.join(", "),
            new = new.join(", "),
        )
    }

    /// Runs the upsert for `rows`; returns how many rows were inserted or changed.
    pub async fn run<R: Serialize>(
        &self,
        pool: &PgPool,
        ids: IntegrationRef,
        rows: &[R],
        key: impl Fn(&R) -> &str,
    ) -> Result<u64, StoreError> {
        if rows.is_empty() {
            return Ok(0);
        }
        self.run_records(pool, ids, &records(rows, key, |_, _| true)?)
            .await
    }

    /// Runs the upsert for records made by [`records`].
    pub async fn run_records(
        &self,
        pool: &PgPool,
        IntegrationRef {
            tenant: tenant_id,
            integration: integration_id,
        }: IntegrationRef,
        records: &RawValue,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(&self.sql())
            .bind(tenant_id)
            .bind(integration_id)
            .bind(records.get())
            .execute(pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// Runs the upsert for the records saved in load batch `batch_id` under `part` (none
    /// there: nothing happens); the records never leave the server.
    pub async fn run_saved(
        &self,
        pool: &PgPool,
        IntegrationRef {
            tenant: tenant_id,
            integration: integration_id,
        }: IntegrationRef,
        batch_id: LoadBatchId,
        part: &str,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(&self.saved_sql())
            .bind(tenant_id)
            .bind(integration_id)
            .bind(batch_id)
            .bind(part)
            .execute(pool)
            .await?;
        Ok(done.rows_affected())
    }
}

/// The JSON array of records an upsert reads. PostgreSQL refuses to update one row twice in
/// a statement, so of rows with the same `key` one is kept: a row replaces an earlier one
/// when `supersedes(row, earlier)`.
pub fn records<R: Serialize>(
    rows: &[R],
    key: impl Fn(&R) -> &str,
    supersedes: impl Fn(&R, &R) -> bool,
) -> Result<Box<RawValue>, StoreError> {
    let mut kept: HashMap<&str, usize> = HashMap::with_capacity(rows.len());
    for (position, row) in rows.iter().enumerate() {
        kept.entry(key(row))
            .and_modify(|earlier| {
                if supersedes(row, &rows[*earlier]) {
                    *earlier = position;
                }
            })
            .or_insert(position);
    }
    let mut positions: Vec<usize> = kept.into_values().collect();
    positions.sort_unstable();
    let unique: Vec<&R> = positions.into_iter().map(|p| &rows[p]).collect();
    Ok(serde_json::value::to_raw_value(&unique)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statement_updates_only_changed_rows() {
        let upsert = Upsert {
            table: "things",
            record: &[("external_id", "text"), ("name", "text")],
            copied: &["external_id", "name"],
            computed: &[Column {
                name: "seen_at",
                value: "now()",
            }],
            joins: "",
            conflict_key: &["external_id"],
            guard: Some("excluded.name <> ''"),
        };
        let sql = upsert.sql();
        assert!(
            sql.starts_with(
                "INSERT INTO things (tenant_id, integration_id, external_id, name, seen_at)"
            ),
            "{sql}"
        );
        assert!(sql.contains("SELECT $1, $2, r.external_id, r.name, now() FROM json_to_recordset($3::json) AS r(external_id text, name text)"), "{sql}");
        assert!(sql.contains("ON CONFLICT (tenant_id, integration_id, external_id) DO UPDATE SET name = excluded.name, seen_at = excluded.seen_at, updated_at = now()"), "{sql}");
        assert!(
            sql.ends_with(
                "WHERE (things.name, things.seen_at) IS DISTINCT FROM (excluded.name, excluded.seen_at) AND (excluded.name <> '')"
            ),
            "{sql}"
        );
    }
}
