//! Jira Cloud webhook deliveries: which issues an event names — created or updated: read
//! again; deleted: marked deleted; an issue link made or removed: both ends read again;
//! anything else (comments, projects, versions) is not kept here and is ignored — and the
//! read itself, a search of up to a hundred issues by id, through the usual issues step.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde_json::Value;

use super::sync::{ordered_jql, project_clause, JiraRun};
use crate::connectors::http::ConnectorError;
use crate::pipeline::sync::SyncContext;
use crate::pipeline::webhooks::Refreshed;
use crate::pipeline::{PipelineError, INCREMENTAL_OVERLAP};
use crate::sources::work_items::tables as jira;
use crate::store::raw::RawRecord;

/// Issues one search reads.
const ISSUES_PER_SEARCH: usize = 100;

/// What a batch of deliveries asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Issue ids to read again.
    pub refresh: BTreeSet<String>,
    /// Issue ids the source deleted.
    pub deleted: BTreeSet<String>,
    pub ignored: u64,
    /// When the oldest delivery arrived.
    pub oldest: Option<DateTime<Utc>>,
}

/// A numeric issue id (Jira sends ids as text; anything else is not an id).
fn issue_id(value: &Value) -> Option<String> {
    let text = match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        _ => return None,
    };
    (!text.is_empty() && text.len() <= 20 && text.bytes().all(|b| b.is_ascii_digit()))
        .then_some(text)
}

/// What the deliveries ask for (a deletion wins over reads of the same issue).
pub fn plan(deliveries: &[RawRecord]) -> Plan {
    let mut plan = Plan::default();
    for delivery in deliveries {
        let received = delivery.extraction_metadata["received_at"]
            .as_str()
            .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
            .map(|at| at.with_timezone(&Utc));
        plan.oldest = match (plan.oldest, received) {
            (Some(oldest), Some(at)) => Some(oldest.min(at)),
            (oldest, at) => oldest.or(at),
        };
        let event = &delivery.raw_data;
        let named: Vec<String> = match event["webhookEvent"].as_str().unwrap_or_default() {
            "jira:issue_created" | "jira:issue_updated" => {
                issue_id(&event["issue"]["id"]).into_iter().collect()
            }
            "jira:issue_deleted" => {
                if let Some(id) = issue_id(&event["issue"]["id"]) {
                    plan.deleted.insert(id);
                    continue;
                }
                Vec::new()
            }
            "issuelink_created" | "issuelink_deleted" => {
                let link = &event["issueLink"];
                [&link["sourceIssueId"], &link["destinationIssueId"]]
                    .into_iter()
                    .filter_map(issue_id)
                    .collect()
            }
            _ => Vec::new(),
        };
        if named.is_empty() {
            plan.ignored += 1;
        }
        plan.refresh.extend(named);
    }
    plan.refresh.retain(|id| !plan.deleted.contains(id));
    plan
}

/// Whether Jira refused the search itself (400: an issue it names does not exist).
fn is_refused_search(error: &PipelineError) -> bool {
    matches!(error, PipelineError::Source(ConnectorError::Status { status, .. })
        if *status == reqwest::StatusCode::BAD_REQUEST)
}

/// The search for issues by id, within the integration's projects.
fn issues_by_id_jql(projects: &[String], ids: &[String]) -> String {
    let by_id = format!("id in ({})", ids.join(", "));
    ordered_jql(project_clause(projects).into_iter().chain([by_id]))
}

/// Reads again what the deliveries name and marks deleted issues deleted.
pub async fn refresh(
    context: &SyncContext<'_>,
    deliveries: &[RawRecord],
) -> anyhow::Result<Refreshed> {
    let plan = plan(deliveries);
    let scope = context.scope;
    let integration = scope.integration();
    let mut done = Refreshed {
        ignored: plan.ignored,
        ..Refreshed::default()
    };
    if !plan.deleted.is_empty() {
        let deleted: Vec<String> = plan.deleted.into_iter().collect();
        done.deleted = jira::mark_deleted(context.pool, integration, &deleted).await?;
    }
    if plan.refresh.is_empty() {
        return Ok(done);
    }
    let (settings, client) = super::client(
        context.pool,
        context.reach,
        scope.tenant_id,
        scope.integration_id,
    )
    .await?;
    let run = JiraRun {
        pool: context.pool,
        handoff: context.handoff,
        client: client.clone(),
        scope,
        projects: settings.settings.projects.clone(),
        // Links of the issues read now: those updated since the oldest delivery came.
        since: plan.oldest.map(|at| at - INCREMENTAL_OVERLAP),
        timezone: Tz::UTC,
        full: false,
        dev_status: settings.settings.dev_status,
        incident_jql: settings.settings.delivery.incident_jql.clone(),
    };
    let ids: Vec<String> = plan.refresh.into_iter().collect();
    let mut with_code = Vec::new();
    let run = &run;
    for chunk in ids.chunks(ISSUES_PER_SEARCH) {
        let read = |ids: &[String]| {
            let jql = issues_by_id_jql(&run.projects, ids);
            async move {
                run.issues_matching(std::slice::from_ref(&jql), &|_| {})
                    .await
            }
        };
        let found = match read(chunk).await {
            // Jira refuses a search naming an issue that is gone (deleted since, its delete
            // event still on the way): read them one by one, the gone ones left out.
            Err(error) if is_refused_search(&error) => {
                let mut found = Vec::new();
                for id in chunk {
                    match read(std::slice::from_ref(id)).await {
                        Err(error) if is_refused_search(&error) => done.ignored += 1,
                        other => found.push(other?),
                    }
                }
                found
            }
            other => vec![other?],
        };
        for issues in found {
            done.refreshed += issues.report.extracted;
            with_code.extend(issues.with_code);
        }
    }
    run.dev_status(&with_code).await?;
    // An issue read now may have started or stopped matching the incident rule.
    if let (Some(rule), true) = (&run.incident_jql, done.refreshed > 0) {
        run.incidents(rule).await?;
    }
    done.requests = client.http().stats.snapshot().requests;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RawId;
    use serde_json::json;

    fn delivery(body: Value) -> RawRecord {
        RawRecord {
            id: RawId(1),
            kind: "jira_webhook".into(),
            external_id: Some("d".into()),
            raw_data: body,
            extraction_metadata: json!({"received_at": "2026-01-02T03:04:05Z"}),
        }
    }

    #[test]
    fn events_name_issues_to_read_delete_or_ignore() {
        let plan = plan(&[
            delivery(json!({"webhookEvent": "jira:issue_updated", "issue": {"id": "10001"}})),
            delivery(json!({"webhookEvent": "jira:issue_created", "issue": {"id": "10002"}})),
            delivery(json!({"webhookEvent": "jira:issue_updated", "issue": {"id": "10001"}})),
            delivery(json!({"webhookEvent": "jira:issue_updated", "issue": {"id": "10003"}})),
            delivery(json!({"webhookEvent": "jira:issue_deleted", "issue": {"id": "10003"}})),
            delivery(json!({"webhookEvent": "issuelink_created",
                "issueLink": {"sourceIssueId": 10004, "destinationIssueId": 10005}})),
            delivery(json!({"webhookEvent": "comment_created", "issue": {"id": "10006"}})),
            delivery(json!({"webhookEvent": "jira:issue_updated", "issue": {"id": "1) OR (x"}})),
        ]);
        let ids = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(plan.refresh, ids(&["10001", "10002", "10004", "10005"]));
        assert_eq!(plan.deleted, ids(&["10003"]));
        assert_eq!(plan.ignored, 2);
        assert_eq!(plan.oldest, Some("2026-01-02T03:04:05Z".parse().unwrap()));
    }

    #[test]
    fn the_search_keeps_the_integrations_projects() {
        let ids = ["1".to_string(), "2".to_string()];
        assert_eq!(
            issues_by_id_jql(&[], &ids),
            "id in (1, 2) ORDER BY updated ASC"
        );
        assert_eq!(
            issues_by_id_jql(&["CORE".into()], &ids),
            "project in (\"CORE\") AND id in (1, 2) ORDER BY updated ASC"
        );
    }
}
