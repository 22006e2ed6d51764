//! Data-quality checks over the shared tables, per integration: where the data a tenant's
//! metrics stand on is weak. Each check counts the offending rows among a population (with
//! the newest ten as examples) for the whole integration and per week of creation over the
//! last eight weeks that have rows, so a trend shows whether new data is better than old.

use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::domain::{IntegrationId, TenantId};
use crate::store::stats::week_of;
use crate::store::StoreError;

/// In-progress work items unchanged this long are stale.
pub const STALE_DAYS: i64 = 14;
/// Weeks of creation a check's trend covers.
const TREND_WEEKS: usize = 8;
/// Offending rows named per check.
const EXAMPLES: i64 = 10;

/// One check: its population (rows with `bad`, `at` and the example's fields, for `$1`
/// tenant and `$2` integration, `$3` the staleness limit).
struct Check {
    id: &'static str,
    label: &'static str,
    population: &'static str,
}

/// Work items of the integration, with their status.
const WORK_ITEMS: &str = "FROM work_items w LEFT JOIN statuses s ON s.id = w.status_id
     WHERE w.tenant_id = $1 AND w.integration_id = $2 AND w.deleted_at IS NULL";

const CHECKS: &[Check] = &[
    Check {
        id: "unmapped_status",
        label: "Work items whose status maps to no workflow step",
        population: "SELECT NOT EXISTS (SELECT 1 FROM status_mappings m
                         WHERE m.tenant_id = $1 AND m.status_id = w.status_id) AS bad,
                     w.created AS at, w.key AS label, w.key AS work_item_key, NULL::bigint AS pr_id
             {WORK_ITEMS}",
    },
    Check {
        id: "direct_completion",
        label: "Done work items that were never started (completed directly)",
        population: "SELECT w.direct_completion AS bad, w.created AS at, w.key AS label,
                     w.key AS work_item_key, NULL::bigint AS pr_id
             {WORK_ITEMS} AND s.category = 'done'",
    },
    Check {
        id: "no_estimate",
        label: "Work items without an estimate (story points)",
        population: "SELECT w.story_points IS NULL AS bad, w.created AS at, w.key AS label,
                     w.key AS work_item_key, NULL::bigint AS pr_id
             {WORK_ITEMS}",
    },
    Check {
        id: "no_assignee",
        label: "Work items without an assignee",
        population: "SELECT w.assignee IS NULL AS bad, w.created AS at, w.key AS label,
                     w.key AS work_item_key, NULL::bigint AS pr_id
             {WORK_ITEMS}",
    },
    Check {
        id: "done_code_without_merged_pr",
        label: "Done work items with linked code but no merged pull request",
        population: "SELECT NOT EXISTS (SELECT 1 FROM work_item_prs wp JOIN prs p ON p.id = wp.pr_id
                         WHERE wp.tenant_id = $1 AND wp.work_item_id = w.id
                           AND p.merged_at IS NOT NULL) AS bad,
                     w.created AS at, w.key AS label, w.key AS work_item_key, NULL::bigint AS pr_id
             {WORK_ITEMS} AND s.category = 'done'
               AND EXISTS (SELECT 1 FROM work_item_pr_links l
                           WHERE l.tenant_id = $1 AND l.work_item_id = w.id)",
    },
    Check {
        id: "stale_in_progress",
        label: "In-progress work items unchanged for 14 days",
        population: "SELECT w.updated < now() - make_interval(days => $3) AS bad, w.created AS at,
                     w.key AS label, w.key AS work_item_key, NULL::bigint AS pr_id
             {WORK_ITEMS} AND s.category = 'indeterminate'",
    },
    Check {
        id: "pr_without_work_item",
        label: "Merged pull requests linked to no work item",
        population: "SELECT NOT EXISTS (SELECT 1 FROM work_item_pr_links l
                         WHERE l.tenant_id = $1 AND l.repository_full_name = rp.full_name
                           AND l.pr_number = p.number) AS bad,
                     p.pr_created_at AS at, rp.full_name || '#' || p.number AS label,
                     NULL::text AS work_item_key, p.id AS pr_id
             FROM prs p JOIN repositories rp ON rp.id = p.repository_id
             WHERE p.tenant_id = $1 AND p.integration_id = $2 AND p.merged_at IS NOT NULL",
    },
    Check {
        id: "unmapped_custom_fields",
        label: "Custom fields discovered but not mapped to a column",
        population: "SELECT NOT EXISTS (SELECT 1 FROM custom_fields_mapping m
                         WHERE m.tenant_id = $1 AND m.integration_id = $2
                           AND f.id IN (m.team_field_id, m.code_changed_field_id,
                               m.story_points_field_id, m.custom_field_01_id, m.custom_field_02_id,
                               m.custom_field_03_id, m.custom_field_04_id, m.custom_field_05_id,
                               m.custom_field_06_id, m.custom_field_07_id, m.custom_field_08_id,
                               m.custom_field_09_id, m.custom_field_10_id, m.custom_field_11_id,
                               m.custom_field_12_id, m.custom_field_13_id, m.custom_field_14_id,
                               m.custom_field_15_id, m.custom_field_16_id, m.custom_field_17_id,
                               m.custom_field_18_id, m.custom_field_19_id, m.custom_field_20_id)) AS bad,
                     f.created_at AS at, f.name AS label, NULL::text AS work_item_key,
                     NULL::bigint AS pr_id
             FROM custom_fields f
             WHERE f.tenant_id = $1 AND f.integration_id = $2 AND f.active",
    },
];

/// An offending row: a work item (by key), a pull request (by id) or a custom field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Example {
    pub label: String,
    pub work_item_key: Option<String>,
    pub pr_id: Option<i64>,
}

/// A check's counts among rows created in one week.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct WeekCount {
    /// The Monday of the week (`YYYY-MM-DD`).
    pub week: String,
    pub offending: i64,
    pub total: i64,
}

/// One check of one integration.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct CheckResult {
    pub check: String,
    pub label: String,
    pub offending: i64,
    /// Rows the check looked at.
    pub total: i64,
    /// `offending / total`.
    pub share: f64,
    /// The newest offending rows (ten at most).
    pub examples: Vec<Example>,
    /// Per week of creation, the last eight weeks that have rows, oldest first.
    pub weeks: Vec<WeekCount>,
}

/// The checks of one integration that had rows to look at.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct IntegrationQuality {
    pub integration_id: IntegrationId,
    pub provider: String,
    pub checks: Vec<CheckResult>,
}

#[derive(sqlx::FromRow)]
struct Counted {
    week: Option<String>,
    offending: i64,
    total: i64,
    examples: Option<Vec<Json<Example>>>,
}

fn statement(check: &Check) -> String {
    let population = check.population.replace("{WORK_ITEMS}", WORK_ITEMS);
    let week = week_of("p.at");
    format!(
        "SELECT CASE WHEN grouping({week}) = 0 THEN {week} END AS week,
                count(*) FILTER (WHERE p.bad) AS offending, count(*) AS total,
                CASE WHEN grouping({week}) = 1 THEN
                    (array_agg(jsonb_build_object('label', p.label, 'work_item_key', p.work_item_key,
                                                  'pr_id', p.pr_id)
                               ORDER BY p.at DESC NULLS LAST) FILTER (WHERE p.bad))[1:{EXAMPLES}]
                END AS examples
         FROM ({population}) p
         GROUP BY GROUPING SETS ((), ({week}))"
    )
}

/// Runs one check for one integration; None when it had nothing to look at.
async fn run(
    pool: &PgPool,
    tenant_id: TenantId,
    integration_id: IntegrationId,
    check: &Check,
) -> Result<Option<CheckResult>, StoreError> {
    let rows: Vec<Counted> = sqlx::query_as(&statement(check))
        .bind(tenant_id)
        .bind(integration_id)
        .bind(STALE_DAYS as i32)
        .fetch_all(pool)
        .await?;
    let Some(whole) = rows.iter().find(|row| row.week.is_none()) else {
        return Ok(None);
    };
    if whole.total == 0 {
        return Ok(None);
    }
    let mut weeks: Vec<WeekCount> = rows
        .iter()
        .filter_map(|row| {
            Some(WeekCount {
                week: row.week.clone()?,
                offending: row.offending,
                total: row.total,
            })
        })
        .collect();
    weeks.sort_by(|a, b| a.week.cmp(&b.week));
    let weeks = weeks.split_off(weeks.len().saturating_sub(TREND_WEEKS));
    Ok(Some(CheckResult {
        check: check.id.to_owned(),
        label: check.label.to_owned(),
        offending: whole.offending,
        total: whole.total,
        share: whole.offending as f64 / whole.total as f64,
        examples: whole
            .examples
            .iter()
            .flatten()
            .map(|example| example.0.clone())
            .collect(),
        weeks,
    }))
}

/// Every check of every integration of the tenant (`integrations`: id and provider).
pub async fn report(
    pool: &PgPool,
    tenant_id: TenantId,
    integrations: &[(IntegrationId, String)],
) -> Result<Vec<IntegrationQuality>, StoreError> {
    let mut report = Vec::with_capacity(integrations.len());
    for (integration_id, provider) in integrations {
        // Side by side: each check is a query of its own.
        let checks = futures_util::future::try_join_all(
            CHECKS
                .iter()
                .map(|check| run(pool, tenant_id, *integration_id, check)),
        )
        .await?
        .into_iter()
        .flatten()
        .collect();
        report.push(IntegrationQuality {
            integration_id: *integration_id,
            provider: provider.clone(),
            checks,
        });
    }
    Ok(report)
}
