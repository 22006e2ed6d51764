//! The four DORA keys of a tenant per repository or week, over a window:
//! - deployment frequency: successful production deployments finished in the window, per
//!   week;
//! - lead time for changes: median time from a pull request's first authored commit to the
//!   production deployment that first shipped it (and from its merge), over pull requests
//!   shipped in the window;
//! - change failure rate: the share of those deployments that failed. A deployment failed
//!   when the next production deployment of its repository went back to an older commit (a
//!   rollback), or when an incident of its repositories was opened after it (it being the
//!   latest production deployment before the incident) within the incident rule's window;
//! - failed deployment recovery time: median time from an incident's opening to its
//!   resolution, over incidents resolved in the window.
//!
//! Incidents are work items matching their integration's rule (issue type or label, or the
//! issues its JQL found at the last sync). An incident's repositories are those of the pull
//! requests linked to it; an incident linked to none belongs to every repository whose pull
//! requests are linked to its project's work items.
//!
//! Everything is computed at query time from indexed rows: deployments, which deployment
//! shipped each pull request (kept up to date as deployments and pull requests load) and
//! work items. New deployments and incidents change the keys as soon as they are loaded.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use sqlx::PgPool;
use utoipa::ToSchema;

use crate::domain::delivery::{self, Band, DeliveryRules};
use crate::domain::{IntegrationId, TenantId};
use crate::sources::people::teams;
use crate::store::stats::week_of;
use crate::store::StoreError;

/// How the keys are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DoraGrouping {
    /// One group for the whole tenant.
    #[default]
    Tenant,
    Repository,
    Week,
    /// Per team: the changes its members authored, the deployments that shipped one of
    /// them, and the incidents assigned to its members.
    Team,
}

/// The four keys of one group, with their bands (None where there is nothing to measure).
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DoraGroup {
    /// `all`, a repository `owner/name`, the Monday of a week (`YYYY-MM-DD`) or a team's
    /// name.
    pub group: String,
    /// Successful production deployments finished in the window.
    pub deployments: i64,
    pub deployments_per_week: f64,
    pub deployment_frequency_band: Band,
    /// Pull requests shipped to production in the window.
    pub changes: i64,
    /// Median first authored commit → shipped, in seconds.
    pub lead_time_seconds_p50: Option<f64>,
    /// Median merge → shipped, in seconds.
    pub merge_to_deploy_seconds_p50: Option<f64>,
    pub lead_time_band: Option<Band>,
    pub failed_deployments: i64,
    pub change_failure_rate: Option<f64>,
    pub change_failure_band: Option<Band>,
    /// Incidents resolved in the window.
    pub incidents: i64,
    /// Median incident opened → resolved, in seconds.
    pub time_to_restore_seconds_p50: Option<f64>,
    pub time_to_restore_band: Option<Band>,
}

/// The keys over a window, for the tenant and per group.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DoraReport {
    pub group_by: DoraGrouping,
    /// The window's start (default: the first production deployment).
    pub since: Option<DateTime<Utc>>,
    /// The window's end (default: now).
    pub until: DateTime<Utc>,
    pub groups: Vec<DoraGroup>,
}

#[derive(sqlx::FromRow)]
struct GroupCounts {
    group: String,
    deployments: i64,
    failed_deployments: i64,
    changes: i64,
    lead_time_seconds_p50: Option<f64>,
    merge_to_deploy_seconds_p50: Option<f64>,
    incidents: i64,
    time_to_restore_seconds_p50: Option<f64>,
}

/// The incident rule of one integration, as the query reads it.
#[derive(Serialize)]
struct IncidentRule {
    integration_id: IntegrationId,
    types: Vec<String>,
    labels: Vec<String>,
    window_hours: u32,
    /// Incidents are the issues the integration's JQL found (`jql_incidents`).
    by_jql: bool,
}

pub(super) fn incident_rules(integrations: &IntegrationRules) -> serde_json::Value {
    let lower = |names: &[String]| names.iter().map(|n| n.to_lowercase()).collect();
    let rules: Vec<IncidentRule> = integrations
        .iter()
        .map(|(id, rules)| IncidentRule {
            integration_id: *id,
            types: lower(&rules.incident_types),
            labels: lower(&rules.incident_labels),
            window_hours: rules.incident_window_hours,
            by_jql: rules.incident_jql.is_some(),
        })
        .collect();
    json!(rules)
}

/// What every DORA statement starts from (`$1` tenant, `$4` the incident rules): the
/// incidents and their repositories, the successful production deployments with the commit
/// of the next one (`next_committed_at`: a rollback goes back to an older one), and the
/// deployments incidents are laid at (`blamed`).
pub(super) const PRELUDE: &str = "WITH rules AS (
             SELECT * FROM jsonb_to_recordset($4)
                 AS r(integration_id bigint, types text[], labels text[], window_hours int,
                      by_jql boolean)
         ), incidents AS (
             SELECT w.id, w.key, w.summary, w.project_id, w.created AS opened_at,
                    w.resolved AS resolved_at, r.window_hours, w.integration_id,
                    w.assignee_account
             FROM work_items w
             JOIN rules r ON r.integration_id = w.integration_id
             LEFT JOIN wits t ON t.id = w.wit_id
             WHERE w.tenant_id = $1 AND w.created IS NOT NULL
               AND CASE WHEN r.by_jql THEN EXISTS (
                        SELECT 1 FROM jql_incidents j
                        WHERE j.tenant_id = $1 AND j.integration_id = w.integration_id
                          AND j.external_id = w.external_id)
                   ELSE lower(t.name) = ANY (r.types)
                        OR EXISTS (SELECT 1 FROM unnest(w.labels) l WHERE lower(l) = ANY (r.labels))
                   END
         ), linked_repositories AS (
             SELECT DISTINCT l.work_item_id AS incident_id, rp.id AS repository_id
             FROM work_item_pr_links l
             JOIN repositories rp ON rp.tenant_id = $1 AND rp.full_name = l.repository_full_name
             WHERE l.tenant_id = $1 AND l.work_item_id IN (SELECT id FROM incidents)
         ), project_repositories AS (
             SELECT DISTINCT w.project_id, rp.id AS repository_id
             FROM work_item_pr_links l
             JOIN work_items w ON w.id = l.work_item_id
             JOIN repositories rp ON rp.tenant_id = $1 AND rp.full_name = l.repository_full_name
             WHERE l.tenant_id = $1 AND w.project_id IS NOT NULL
         ), incident_repositories AS (
             SELECT incident_id, repository_id FROM linked_repositories
             UNION
             SELECT i.id, p.repository_id
             FROM incidents i JOIN project_repositories p ON p.project_id = i.project_id
             WHERE NOT EXISTS (SELECT 1 FROM linked_repositories k WHERE k.incident_id = i.id)
         ), production AS (
             SELECT d.id, d.repository_id, d.finished_at, d.commit_committed_at,
                    lead(d.commit_committed_at) OVER (
                        PARTITION BY d.repository_id ORDER BY d.finished_at, d.id
                    ) AS next_committed_at
             FROM deployments d
             WHERE d.tenant_id = $1 AND d.is_production AND d.outcome = 'success'
               AND d.finished_at IS NOT NULL
         ), blamed AS (
             SELECT DISTINCT last.id, i.id AS incident_id
             FROM incidents i
             JOIN incident_repositories ir ON ir.incident_id = i.id
             CROSS JOIN LATERAL (
                 SELECT d.id, d.finished_at FROM deployments d
                 WHERE d.tenant_id = $1 AND d.repository_id = ir.repository_id
                   AND d.is_production AND d.outcome = 'success'
                   AND d.finished_at <= i.opened_at
                 ORDER BY d.finished_at DESC, d.id DESC
                 LIMIT 1
             ) last
             WHERE i.opened_at - last.finished_at <= make_interval(hours => i.window_hours)
         )";

/// How one measured set is grouped: the group expression and the joins it needs.
struct SetGrouping {
    group: String,
    joins: String,
}

impl SetGrouping {
    fn by(group: impl Into<String>, joins: impl Into<String>) -> Self {
        SetGrouping {
            group: group.into(),
            joins: joins.into(),
        }
    }
}

/// The groupings of the deployments, the shipped pull requests and the incidents.
fn set_groupings(group_by: DoraGrouping) -> [SetGrouping; 3] {
    let by_repository = "JOIN repositories rp ON rp.id = d.repository_id";
    let pull_repository = "JOIN repositories rp ON rp.id = p.repository_id";
    match group_by {
        DoraGrouping::Tenant => [
            SetGrouping::by("'all'", ""),
            SetGrouping::by("'all'", ""),
            SetGrouping::by("'all'", ""),
        ],
        DoraGrouping::Repository => [
            SetGrouping::by("rp.full_name", by_repository),
            SetGrouping::by("rp.full_name", pull_repository),
            // Incidents counted per repository only where grouping by repository.
            SetGrouping::by(
                "rp.full_name",
                "JOIN incident_repositories ir ON ir.incident_id = i.id
                 JOIN repositories rp ON rp.id = ir.repository_id",
            ),
        ],
        DoraGrouping::Week => [
            SetGrouping::by(week_of("d.finished_at"), ""),
            SetGrouping::by(week_of("pd.deployed_at"), ""),
            SetGrouping::by(week_of("i.resolved_at"), ""),
        ],
        DoraGrouping::Team => {
            let author = teams::team_of(
                "author",
                "p.tenant_id",
                "p.integration_id",
                "p.author_login",
            );
            [
                SetGrouping::by(
                    "team.name",
                    format!(
                        "JOIN (
                             SELECT DISTINCT sd.deployment_id, author.name FROM pr_deployments sd
                             JOIN prs p ON p.id = sd.pr_id {author}
                             WHERE sd.tenant_id = $1
                         ) team ON team.deployment_id = d.id"
                    ),
                ),
                SetGrouping::by("author.name", author.clone()),
                SetGrouping::by(
                    "team.name",
                    teams::team_of("team", "$1", "i.integration_id", "i.assignee_account"),
                ),
            ]
        }
    }
}

/// The statement: `$1` tenant, `$2` since, `$3` until, `$4` the incident rules; each of the
/// three measured sets grouped by its own expression of the grouping.
fn statement(group_by: DoraGrouping) -> String {
    let [deployed, shipped, restored] = set_groupings(group_by);
    let (deployment_group, deployment_joins) = (deployed.group, deployed.joins);
    let (pull_group, pull_joins) = (shipped.group, shipped.joins);
    let (incident_group, incident_joins) = (restored.group, restored.joins);
    format!(
        "{PRELUDE}
         , deployed AS (
             SELECT {deployment_group} AS grp, count(*) AS deployments,
                    count(*) FILTER (
                        WHERE d.next_committed_at < d.commit_committed_at
                           OR d.id IN (SELECT id FROM blamed)
                    ) AS failed_deployments
             FROM production d {deployment_joins}
             WHERE d.finished_at >= $2 AND d.finished_at < $3
             GROUP BY 1
         ), shipped AS (
             SELECT {pull_group} AS grp, count(*) AS changes,
                    percentile_cont(0.5) WITHIN GROUP (ORDER BY
                        extract(epoch FROM pd.deployed_at - p.first_commit_at)::float8)
                        FILTER (WHERE p.first_commit_at IS NOT NULL) AS lead_time_seconds_p50,
                    percentile_cont(0.5) WITHIN GROUP (ORDER BY
                        extract(epoch FROM pd.deployed_at - p.merged_at)::float8)
                        AS merge_to_deploy_seconds_p50
             FROM pr_deployments pd
             JOIN prs p ON p.id = pd.pr_id {pull_joins}
             WHERE pd.tenant_id = $1 AND pd.deployed_at >= $2 AND pd.deployed_at < $3
             GROUP BY 1
         ), restored AS (
             SELECT {incident_group} AS grp, count(*) AS incidents,
                    percentile_cont(0.5) WITHIN GROUP (ORDER BY
                        extract(epoch FROM i.resolved_at - i.opened_at)::float8)
                        AS time_to_restore_seconds_p50
             FROM incidents i {incident_joins}
             WHERE i.resolved_at >= $2 AND i.resolved_at < $3
             GROUP BY 1
         )
         SELECT coalesce(d.grp, s.grp, r.grp) AS \"group\",
                coalesce(d.deployments, 0) AS deployments,
                coalesce(d.failed_deployments, 0) AS failed_deployments,
                coalesce(s.changes, 0) AS changes,
                s.lead_time_seconds_p50, s.merge_to_deploy_seconds_p50,
                coalesce(r.incidents, 0) AS incidents, r.time_to_restore_seconds_p50
         FROM deployed d
         FULL JOIN shipped s ON s.grp = d.grp
         FULL JOIN restored r ON r.grp = coalesce(d.grp, s.grp)
         ORDER BY 1"
    )
}

/// Each integration of a tenant with its delivery rules: what the keys are computed under.
pub type IntegrationRules = [(IntegrationId, DeliveryRules)];

/// A window of the keys: its start by default the tenant's first production deployment
/// (None when there is none) and its end now.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub since: Option<DateTime<Utc>>,
    pub until: DateTime<Utc>,
}

impl Window {
    /// The start of a window that holds any time: None without a start, or when the start
    /// is not before the end (nothing to measure).
    pub fn start(&self) -> Option<DateTime<Utc>> {
        self.since.filter(|since| *since < self.until)
    }
}

/// The window as asked for, with its defaults.
pub async fn window(
    pool: &PgPool,
    tenant_id: TenantId,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> Result<Window, StoreError> {
    let until = until.unwrap_or_else(Utc::now);
    let since = match since {
        Some(since) => Some(since),
        None => {
            sqlx::query_scalar(
                "SELECT min(finished_at) FROM deployments
                 WHERE tenant_id = $1 AND is_production AND outcome = 'success'",
            )
            .bind(tenant_id)
            .fetch_one(pool)
            .await?
        }
    };
    Ok(Window { since, until })
}

/// Reads a tenant's four keys over `[since, until)` (since None: from its first production
/// deployment; until None: now), with the incident rules of its integrations.
pub async fn report(
    pool: &PgPool,
    tenant_id: TenantId,
    group_by: DoraGrouping,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    integrations: &IntegrationRules,
) -> Result<DoraReport, StoreError> {
    let window = window(pool, tenant_id, since, until).await?;
    let Window { since, until } = window;
    let Some(start) = window.start() else {
        return Ok(DoraReport {
            group_by,
            since,
            until,
            groups: Vec::new(),
        });
    };
    let counts: Vec<GroupCounts> = sqlx::query_as(&statement(group_by))
        .bind(tenant_id)
        .bind(start)
        .bind(until)
        .bind(incident_rules(integrations))
        .fetch_all(pool)
        .await?;
    let window_weeks =
        (until - start).num_seconds() as f64 / Duration::weeks(1).num_seconds() as f64;
    let groups = counts
        .into_iter()
        .map(|counts| {
            let weeks = match group_by {
                DoraGrouping::Week => 1.0,
                _ => window_weeks,
            };
            keys(counts, weeks)
        })
        .collect();
    Ok(DoraReport {
        group_by,
        since,
        until,
        groups,
    })
}

/// A group's keys and bands from its counts over `weeks`.
fn keys(counts: GroupCounts, weeks: f64) -> DoraGroup {
    let deployments_per_week = if weeks > 0.0 {
        counts.deployments as f64 / weeks
    } else {
        0.0
    };
    let change_failure_rate = (counts.deployments > 0)
        .then(|| counts.failed_deployments as f64 / counts.deployments as f64);
    DoraGroup {
        group: counts.group,
        deployments: counts.deployments,
        deployments_per_week,
        deployment_frequency_band: delivery::deployment_frequency_band(deployments_per_week),
        changes: counts.changes,
        lead_time_seconds_p50: counts.lead_time_seconds_p50,
        merge_to_deploy_seconds_p50: counts.merge_to_deploy_seconds_p50,
        lead_time_band: counts.lead_time_seconds_p50.map(delivery::lead_time_band),
        failed_deployments: counts.failed_deployments,
        change_failure_rate,
        change_failure_band: change_failure_rate.map(delivery::change_failure_band),
        incidents: counts.incidents,
        time_to_restore_seconds_p50: counts.time_to_restore_seconds_p50,
        time_to_restore_band: counts
            .time_to_restore_seconds_p50
            .map(delivery::recovery_band),
    }
}
