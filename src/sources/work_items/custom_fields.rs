//! `custom_fields` (what a Jira site has) and `custom_fields_mapping` (which field feeds
//! which work-item column), per integration.

use serde::Serialize;
use sqlx::PgPool;

use super::rows::{CustomFieldRow, CUSTOM_FIELD_SLOTS};
use crate::domain::{IntegrationId, IntegrationRef, TenantId};
use crate::store::bulk::{Column, Upsert};
use crate::store::StoreError;

pub const CUSTOM_FIELDS: Upsert = Upsert {
    table: "custom_fields",
    record: &[
        ("external_id", "text"),
        ("name", "text"),
        ("field_type", "text"),
        ("field_schema", "jsonb"),
        ("operations", "jsonb"),
    ],
    copied: &["external_id", "name", "field_type"],
    computed: &[
        Column {
            name: "field_schema",
            value: "coalesce(r.field_schema, '{}')",
        },
        Column {
            name: "operations",
            value: "coalesce(r.operations, '[]')",
        },
    ],
    joins: "",
    conflict_key: &["external_id"],
    guard: None,
};

pub async fn upsert(
    pool: &PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
    rows: &[CustomFieldRow],
) -> Result<u64, StoreError> {
    CUSTOM_FIELDS
        .run(
            pool,
            IntegrationRef::new(tenant_id, integration_id),
            rows,
            |r| &r.external_id,
        )
        .await
}

/// A mapping column: a numbered slot or one of the special fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Slot(usize),
    Team,
    StoryPoints,
    CodeChanged,
}

impl Target {
    /// Every mapping column: the three special fields, then the numbered slots.
    pub fn all() -> impl Iterator<Item = Target> {
        [Target::Team, Target::StoryPoints, Target::CodeChanged]
            .into_iter()
            .chain((1..=CUSTOM_FIELD_SLOTS).map(Target::Slot))
    }

    fn column(self) -> Result<String, StoreError> {
        Ok(match self {
            Target::Slot(n) if (1..=CUSTOM_FIELD_SLOTS).contains(&n) => {
                format!("custom_field_{n:02}_id")
            }
            Target::Slot(n) => {
                return Err(StoreError::Conflict(format!(
                    "slot {n} is not between 1 and {CUSTOM_FIELD_SLOTS}"
                )))
            }
            Target::Team => "team_field_id".into(),
            Target::StoryPoints => "story_points_field_id".into(),
            Target::CodeChanged => "code_changed_field_id".into(),
        })
    }

    pub fn label(self) -> String {
        match self {
            Target::Slot(n) => format!("custom_field_{n:02}"),
            Target::Team => "team".into(),
            Target::StoryPoints => "story_points".into(),
            Target::CodeChanged => "code_changed".into(),
        }
    }

    /// The target a [`Target::label`] names.
    pub fn from_label(label: &str) -> Option<Target> {
        Target::all().find(|target| target.label() == label)
    }
}

/// `(VALUES ('team', m.team_field_id), ...)`: every mapping column of the
/// `custom_fields_mapping` row aliased `m`, as (label, field id) rows for a LATERAL join.
pub(super) fn mapping_targets_sql() -> String {
    let rows: Vec<String> = Target::all()
        .filter_map(|target| {
            target
                .column()
                .ok()
                .map(|column| format!("('{}', m.{column})", target.label()))
        })
        .collect();
    format!("(VALUES {})", rows.join(", "))
}

/// Points `target` at the integration's field `field` (e.g. `customfield_10021`).
pub async fn map(
    pool: &PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
    target: Target,
    field: &str,
) -> Result<(), StoreError> {
    let column = target.column()?;
    let field_id: Option<i64> = sqlx::query_scalar("SELECT id FROM custom_fields WHERE tenant_id = $1 AND integration_id = $2 AND external_id = $3")
        .bind(tenant_id)
        .bind(integration_id)
        .bind(field)
        .fetch_optional(pool)
        .await?;
    let field_id = field_id.ok_or_else(|| {
        StoreError::Conflict(format!("field '{field}' is not known for integration {integration_id}: run `pulse-etl custom-fields sync` first"))
    })?;
    sqlx::query(&format!(
        "INSERT INTO custom_fields_mapping (tenant_id, integration_id, {column}) VALUES ($1, $2, $3)
         ON CONFLICT (tenant_id, integration_id) DO UPDATE SET {column} = excluded.{column}, updated_at = now()"
    ))
    .bind(tenant_id)
    .bind(integration_id)
    .bind(field_id)
    .execute(pool)
    .await?;
    Ok(())
}

/// A discovered field and the column it is mapped to, if any.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct FieldListing {
    pub external_id: String,
    pub name: String,
    pub field_type: String,
    pub mapped_to: Option<String>,
}

pub async fn list(
    pool: &PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
) -> Result<Vec<FieldListing>, StoreError> {
    let targets = mapping_targets_sql();
    Ok(sqlx::query_as(&format!(
        "SELECT f.external_id, f.name, f.field_type, string_agg(v.target, ', ') AS mapped_to
         FROM custom_fields f
         LEFT JOIN custom_fields_mapping m ON m.tenant_id = f.tenant_id AND m.integration_id = f.integration_id
         LEFT JOIN LATERAL {targets} AS v(target, field_id)
                ON v.field_id = f.id
         WHERE f.tenant_id = $1 AND f.integration_id = $2
         GROUP BY f.id ORDER BY f.external_id"
    ))
    .bind(tenant_id)
    .bind(integration_id)
    .fetch_all(pool)
    .await?)
}

/// A mapping column and the field it holds, if any.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TargetMapping {
    /// `team`, `story_points`, `code_changed`, then `custom_field_01` .. `custom_field_20`.
    pub target: String,
    pub field: Option<String>,
    pub field_name: Option<String>,
}

/// Every mapping column of the integration, special fields first, with what it holds.
pub async fn mapping(
    pool: &PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
) -> Result<Vec<TargetMapping>, StoreError> {
    let targets = mapping_targets_sql();
    Ok(sqlx::query_as(&format!(
        "SELECT v.target, f.external_id AS field, f.name AS field_name
         FROM (SELECT $1::bigint AS tenant_id, $2::bigint AS integration_id) i
         LEFT JOIN custom_fields_mapping m ON m.tenant_id = i.tenant_id AND m.integration_id = i.integration_id
         CROSS JOIN LATERAL {targets} AS v(target, field_id)
         LEFT JOIN custom_fields f ON f.id = v.field_id AND f.tenant_id = i.tenant_id
         ORDER BY CASE v.target WHEN 'team' THEN 0 WHEN 'story_points' THEN 1
                                WHEN 'code_changed' THEN 2 ELSE 3 END, v.target"
    ))
    .bind(tenant_id)
    .bind(integration_id)
    .fetch_all(pool)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_round_trip_and_the_values_list_names_every_column() {
        for target in Target::all() {
            assert_eq!(Target::from_label(&target.label()), Some(target));
        }
        let sql = mapping_targets_sql();
        assert!(
            sql.starts_with(
                "(VALUES ('team', m.team_field_id), ('story_points', m.story_points_field_id)"
            ),
            "{sql}"
        );
        assert!(
            sql.ends_with("('custom_field_20', m.custom_field_20_id))"),
            "{sql}"
        );
        assert_eq!(Target::all().count(), 3 + CUSTOM_FIELD_SLOTS);
    }
}
