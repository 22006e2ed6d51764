//! One raw Jira issue (with its full changelog) to a work-item row and its status
//! transitions, custom fields placed by the tenant's mapping and workflow metrics computed.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::domain::workflow::StatusClass;
use crate::sources::fields::{
    as_flag, as_number, as_text, clean, document_text, flatten, jira_time,
};
use crate::sources::flow::{status_history, StatusChange};
use crate::sources::people::accounts::AccountRow;
use crate::sources::work_items::rows::{
    ChangelogRow, CustomFieldValues, FieldMapping, WorkItemRow, CUSTOM_FIELD_SLOTS,
};

/// What the transform needs to know about the integration.
pub struct IssueContext<'a> {
    /// Status external id → how it counts in workflow metrics.
    pub statuses: &'a HashMap<String, StatusClass>,
    pub mapping: &'a FieldMapping,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssueError {
    #[error("issue has no {0}")]
    Missing(&'static str),
    #[error("issue {key}: {field} is not a valid timestamp: {value}")]
    BadTime {
        key: String,
        field: &'static str,
        value: String,
    },
}

fn text_at(value: &Value, path: &[&str]) -> Option<String> {
    path.iter()
        .try_fold(value, |node, key| node.get(key))
        .and_then(Value::as_str)
        .map(clean)
}

fn time_at(
    issue: &Value,
    key: &str,
    field: &'static str,
) -> Result<Option<DateTime<Utc>>, IssueError> {
    match issue["fields"].get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => jira_time(text)
            .map(Some)
            .ok_or_else(|| IssueError::BadTime {
                key: key.to_owned(),
                field,
                value: text.clone(),
            }),
        Some(other) => Err(IssueError::BadTime {
            key: key.to_owned(),
            field,
            value: other.to_string(),
        }),
    }
}

/// The status changes in a list of histories, oldest first by (time, history id).
fn status_changes(histories: &[Value]) -> Vec<StatusChange> {
    let mut changes: Vec<StatusChange> = histories
        .iter()
        .filter_map(|history| {
            let at = history
                .get("created")
                .and_then(Value::as_str)
                .and_then(jira_time)?;
            let id = history.get("id").and_then(Value::as_str)?.to_owned();
            let item = history
                .get("items")
                .and_then(Value::as_array)?
                .iter()
                .find(|item| item.get("field").and_then(Value::as_str) == Some("status"))?;
            Some(StatusChange {
                sequence: id.parse().unwrap_or(i64::MAX),
                id,
                at,
                from: item.get("from").and_then(Value::as_str).map(str::to_owned),
                to: item.get("to").and_then(Value::as_str).map(str::to_owned),
                author: text_at(history, &["author", "displayName"]),
            })
        })
        .collect();
    changes.sort_by_key(|c| (c.at, c.sequence));
    changes
}

/// Transforms one issue. `histories` is its full changelog when it was paged separately;
/// otherwise the embedded `changelog.histories` is used.
/// A Jira user's account: its accountId (Cloud), or its name (Server and Data Center).
fn account_key(user: &Value) -> Option<&str> {
    user["accountId"].as_str().or_else(|| user["name"].as_str())
}

/// The accounts an issue names (assignee and reporter), with the e-mail Jira gives when the
/// user's privacy settings allow it.
pub fn issue_accounts(issue: &Value) -> Vec<AccountRow> {
    ["assignee", "reporter"]
        .iter()
        .filter_map(|role| {
            let user = &issue["fields"][role];
            AccountRow::new(
                account_key(user),
                user["emailAddress"].as_str(),
                user["displayName"].as_str(),
            )
        })
        .collect()
}

pub fn transform_issue(
    issue: &Value,
    histories: Option<&[Value]>,
    context: &IssueContext<'_>,
) -> Result<(WorkItemRow, Vec<ChangelogRow>), IssueError> {
    let external_id = text_at(issue, &["id"]).ok_or(IssueError::Missing("id"))?;
    let key = text_at(issue, &["key"]).ok_or(IssueError::Missing("key"))?;
    let fields = issue
        .get("fields")
        .and_then(Value::as_object)
        .ok_or(IssueError::Missing("fields"))?;
    let created = time_at(issue, &key, "created")?;
    let embedded: Vec<Value> = issue["changelog"]["histories"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let histories = histories.unwrap_or(&embedded);

    let mapping = context.mapping;
    let field = |id: &Option<String>| {
        id.as_ref()
            .and_then(|id| fields.get(id))
            .filter(|v| !v.is_null())
    };
    let mut custom_fields: [Option<String>; CUSTOM_FIELD_SLOTS] = Default::default();
    for (slot, id) in custom_fields.iter_mut().zip(&mapping.slots) {
        *slot = field(id).and_then(flatten).map(|v| as_text(&v));
    }
    let custom_fields_overflow: Map<String, Value> = fields
        .iter()
        .filter(|(id, _)| id.starts_with("customfield_") && !mapping.is_mapped(id))
        .filter_map(|(id, value)| flatten(value).map(|v| (id.clone(), v)))
        .collect();

    let changes = status_changes(histories);
    let (rows, metrics) = status_history(&external_id, created, &changes, context.statuses);

    let row = WorkItemRow {
        external_id,
        key: key.clone(),
        project_external_id: text_at(issue, &["fields", "project", "id"]),
        wit_external_id: text_at(issue, &["fields", "issuetype", "id"]),
        status_external_id: text_at(issue, &["fields", "status", "id"]),
        summary: text_at(issue, &["fields", "summary"]),
        description: fields
            .get("description")
            .map(document_text)
            .filter(|d| !d.is_empty()),
        priority: text_at(issue, &["fields", "priority", "name"]),
        parent_external_id: text_at(issue, &["fields", "parent", "id"]),
        assignee: text_at(issue, &["fields", "assignee", "displayName"]),
        assignee_account: account_key(&issue["fields"]["assignee"]).map(str::to_owned),
        reporter: text_at(issue, &["fields", "reporter", "displayName"]),
        labels: fields
            .get("labels")
            .and_then(Value::as_array)
            .map(|labels| {
                labels
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        created,
        updated: time_at(issue, &key, "updated")?,
        resolved: time_at(issue, &key, "resolutiondate")?,
        story_points: field(&mapping.story_points).and_then(as_number),
        team: field(&mapping.team).and_then(flatten).map(|v| as_text(&v)),
        code_changed: field(&mapping.code_changed)
            .and_then(|v| flatten(v).as_ref().and_then(as_flag)),
        custom_fields: CustomFieldValues(custom_fields),
        custom_fields_overflow,
        metrics,
    };
    Ok((row, rows))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::workflow::StepCategory;
    use serde_json::json;

    fn statuses() -> HashMap<String, StatusClass> {
        HashMap::from([
            ("1".to_owned(), StatusClass::default_for("To Do", "new")),
            (
                "3".to_owned(),
                StatusClass::default_for("In Progress", "indeterminate"),
            ),
            ("5".to_owned(), StatusClass::default_for("Done", "done")),
        ])
    }

    fn history(id: &str, at: &str, from: &str, to: &str) -> Value {
        json!({"id": id, "created": at, "author": {"displayName": "Ann"},
               "items": [{"field": "status", "from": from, "to": to, "fromString": "x", "toString": "y"}]})
    }

    fn issue() -> Value {
        json!({
            "id": "10001", "key": "CORE-1",
            "fields": {
                "summary": "Fix it", "created": "2025-01-01T10:00:00.000+0000", "updated": "2025-01-03T10:00:00.000+0000",
                "resolutiondate": "2025-01-03T10:00:00.000+0000",
                "status": {"id": "5"}, "project": {"id": "10000"}, "issuetype": {"id": "10002"},
                "priority": {"name": "High"}, "assignee": {"displayName": "Ann"}, "reporter": {"displayName": "Bob"},
                "labels": ["a", "b"], "parent": {"id": "10000"},
                "description": {"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Body"}]}]},
                "customfield_10010": "3", "customfield_10012": {"value": "Platform"},
                "customfield_10040": {"value": "Yes"}, "customfield_10099": [{"value": "x"}], "customfield_10098": null
            },
            "changelog": {"total": 3, "histories": [
                // Newest first, as Jira embeds them; one history changes another field only.
                history("103", "2025-01-03T10:00:00.000+0000", "3", "5"),
                {"id": "102", "created": "2025-01-02T09:00:00.000+0000", "items": [{"field": "assignee", "from": null, "to": "a"}]},
                history("101", "2025-01-02T10:00:00.000+0000", "1", "3"),
            ]}
        })
    }

    #[test]
    fn an_issue_becomes_a_row_with_transitions_and_metrics() {
        let mapping = FieldMapping {
            story_points: Some("customfield_10010".into()),
            team: Some("customfield_10012".into()),
            code_changed: Some("customfield_10040".into()),
            slots: std::array::from_fn(|i| (i == 0).then(|| "customfield_10099".to_owned())),
        };
        let statuses = statuses();
        let context = IssueContext {
            statuses: &statuses,
            mapping: &mapping,
        };
        let (row, changelogs) = transform_issue(&issue(), None, &context).unwrap();
        assert_eq!(row.key, "CORE-1");
        assert_eq!(row.story_points, Some(3.0), "a string becomes a number");
        assert_eq!(row.team.as_deref(), Some("Platform"));
        assert_eq!(row.code_changed, Some(true));
        assert_eq!(row.custom_fields.0[0].as_deref(), Some("[\"x\"]"));
        let record = serde_json::to_value(&row).unwrap();
        assert_eq!(record["custom_field_01"], json!("[\"x\"]"));
        assert_eq!(record["custom_field_20"], Value::Null);
        assert_eq!(record["total_work_starts"], json!(1));
        assert!(
            row.custom_fields_overflow.is_empty(),
            "mapped fields and nulls are not overflow"
        );
        assert_eq!(row.description.as_deref(), Some("Body"));
        assert_eq!(row.labels, vec!["a", "b"]);
        assert_eq!(changelogs.len(), 2);
        assert_eq!(changelogs[0].external_id, "101");
        assert_eq!(
            changelogs[0].time_in_status_seconds,
            24.0 * 3600.0,
            "since creation"
        );
        assert_eq!(changelogs[1].time_in_status_seconds, 24.0 * 3600.0);
        assert_eq!(changelogs[1].from_status_external_id.as_deref(), Some("3"));
        assert_eq!(row.metrics.total_work_starts, 1);
        assert_eq!(row.metrics.total_completions, 1);
        assert_eq!(row.metrics.total_cycle_time_seconds, 24.0 * 3600.0);
        assert_eq!(statuses["1"].category, StepCategory::ToDo);
    }

    #[test]
    fn unmapped_custom_fields_go_to_overflow_and_paged_histories_win() {
        let mapping = FieldMapping::default();
        let statuses = statuses();
        let context = IssueContext {
            statuses: &statuses,
            mapping: &mapping,
        };
        let paged = vec![history("101", "2025-01-02T10:00:00.000+0000", "1", "3")];
        let (row, changelogs) = transform_issue(&issue(), Some(&paged), &context).unwrap();
        assert_eq!(changelogs.len(), 1);
        assert_eq!(row.story_points, None);
        assert_eq!(row.custom_fields_overflow["customfield_10010"], json!("3"));
        assert_eq!(
            row.custom_fields_overflow["customfield_10012"],
            json!("Platform")
        );
        assert!(!row.custom_fields_overflow.contains_key("customfield_10098"));
    }

    #[test]
    fn malformed_issues_are_errors_not_panics() {
        let mapping = FieldMapping::default();
        let statuses = statuses();
        let context = IssueContext {
            statuses: &statuses,
            mapping: &mapping,
        };
        assert_eq!(
            transform_issue(&json!({"key": "A-1"}), None, &context).unwrap_err(),
            IssueError::Missing("id")
        );
        assert_eq!(
            transform_issue(&json!({"id": "1", "key": "A-1"}), None, &context).unwrap_err(),
            IssueError::Missing("fields")
        );
        let bad_time = json!({"id": "1", "key": "A-1", "fields": {"created": 5}});
        assert!(matches!(
            transform_issue(&bad_time, None, &context),
            Err(IssueError::BadTime {
                field: "created",
                ..
            })
        ));
    }
}
