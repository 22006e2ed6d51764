//! Azure Boards answers to rows: projects, work item types and their states (the states'
//! categories become status categories), custom fields, and one work item with its
//! revisions to a work-item row, its state transitions and workflow metrics.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::domain::workflow::StatusClass;
use crate::sources::fields::{as_number, as_text, clean, flatten, jira_time};
use crate::sources::flow::{status_history, StatusChange};
use crate::sources::people::accounts::AccountRow;
use crate::sources::work_items::rows::{
    ChangelogRow, CustomFieldValues, FieldMapping, WorkItemRow, CUSTOM_FIELD_SLOTS,
};
use crate::sources::work_items::rows::{CustomFieldRow, ProjectRow, ProjectWit, StatusRow, WitRow};

/// The field Azure Boards keeps story points in, used unless the tenant mapped another.
const STORY_POINTS: &str = "Microsoft.VSTS.Scheduling.StoryPoints";
/// Fields the tenant's organization added: mapped to columns like Jira's custom fields.
const CUSTOM_PREFIX: &str = "Custom.";
/// Where the card sits on the team's board: kept with the overflow fields.
const BOARD_COLUMN: &str = "System.BoardColumn";

/// A stored work item: the work items batch's entry and every revision read so far.
pub struct StoredWorkItem<'a> {
    pub work_item: &'a Value,
    pub revisions: &'a [Value],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkItemError {
    #[error("work item has no {0}")]
    Missing(&'static str),
    #[error("work item {id}: {field} is not a valid timestamp: {value}")]
    BadTime {
        id: String,
        field: &'static str,
        value: String,
    },
}

/// Azure's state category as the status category the workflows start from: Proposed is
/// to do, InProgress and Resolved in progress, Completed and Removed done.
pub fn status_category(azure: &str) -> &'static str {
    match azure {
        "Completed" | "Removed" => "done",
        "InProgress" | "Resolved" => "indeterminate",
        _ => "new",
    }
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(clean)
}

/// Projects from `_apis/projects`; a project is known by its name, which is how work items
/// name theirs.
pub fn projects(answer: &Value) -> Vec<ProjectRow> {
    answer["value"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|project| {
            let name = text(project, "name")?;
            Some(ProjectRow {
                external_id: name.clone(),
                key: name.clone(),
                name,
                project_type: None,
            })
        })
        .collect()
}

/// What the work item types of the projects give: the types (one row per name), which
/// project uses which, and their states (one row per state name; the first category seen
/// wins).
pub fn work_item_types<'a>(
    answers: impl IntoIterator<Item = (&'a str, &'a Value)>,
) -> (Vec<WitRow>, Vec<ProjectWit>, Vec<StatusRow>) {
    let mut wits = BTreeMap::new();
    let mut links = Vec::new();
    let mut statuses = BTreeMap::new();
    for (project, answer) in answers {
        for kind in answer["value"].as_array().into_iter().flatten() {
            let Some(name) = text(kind, "name") else {
                continue;
            };
            links.push(ProjectWit {
                project_external_id: project.to_owned(),
                wit_external_id: name.clone(),
            });
            for state in kind["states"].as_array().into_iter().flatten() {
                let Some(state_name) = text(state, "name") else {
                    continue;
                };
                let category = text(state, "category");
                statuses
                    .entry(state_name.clone())
                    .or_insert_with(|| StatusRow {
                        external_id: state_name.clone(),
                        name: state_name,
                        description: None,
                        category: status_category(category.as_deref().unwrap_or_default())
                            .to_owned(),
                        category_name: category,
                    });
            }
            wits.entry(name.clone()).or_insert_with(|| WitRow {
                external_id: name.clone(),
                name,
                description: text(kind, "description").filter(|d| !d.is_empty()),
                hierarchy_level: None,
                subtask: false,
            });
        }
    }
    (
        wits.into_values().collect(),
        links,
        statuses.into_values().collect(),
    )
}

/// The organization's custom fields (`Custom.*`) from `_apis/wit/fields`.
pub fn custom_fields(answer: &Value) -> Vec<CustomFieldRow> {
    answer["value"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|field| {
            let id = text(field, "referenceName").filter(|id| id.starts_with(CUSTOM_PREFIX))?;
            Some(CustomFieldRow {
                name: text(field, "name").unwrap_or_else(|| id.clone()),
                field_type: text(field, "type").unwrap_or_else(|| "string".into()),
                field_schema: Value::Object(Map::new()),
                operations: Value::Array(Vec::new()),
                external_id: id,
            })
        })
        .collect()
}

/// An identity field's account: its uniqueName (the e-mail of an Entra ID or Microsoft
/// account) with its display name (answers carry `{displayName, uniqueName}` or, without
/// identity references, `"Name <account>"`).
fn identity(value: Option<&Value>) -> Option<AccountRow> {
    let (key, name) = match value? {
        Value::Object(identity) => (
            identity.get("uniqueName").and_then(Value::as_str),
            identity.get("displayName").and_then(Value::as_str),
        ),
        Value::String(text) => match text.split_once(" <") {
            Some((name, rest)) => (rest.strip_suffix('>'), Some(name)),
            None => (None, Some(text.as_str())),
        },
        _ => (None, None),
    };
    AccountRow::new(key, key, name.map(clean).as_deref())
}

/// The accounts a work item names (assignee and creator).
pub fn work_item_accounts(work_item: &Value) -> Vec<AccountRow> {
    let fields = &work_item["fields"];
    ["System.AssignedTo", "System.CreatedBy"]
        .iter()
        .filter_map(|field| identity(fields.get(field)))
        .collect()
}

/// An identity field's display name (answers carry `{displayName, uniqueName}` or, without
/// identity references, `"Name <account>"`).
fn person(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Object(identity) => identity
            .get("displayName")
            .and_then(Value::as_str)
            .map(clean),
        Value::String(text) => Some(clean(
            text.split_once(" <")
                .map_or(text.as_str(), |(name, _)| name),
        )),
        _ => None,
    }
}

fn time(
    fields: &Map<String, Value>,
    id: &str,
    field: &'static str,
) -> Result<Option<DateTime<Utc>>, WorkItemError> {
    match fields.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => {
            jira_time(text)
                .map(Some)
                .ok_or_else(|| WorkItemError::BadTime {
                    id: id.to_owned(),
                    field,
                    value: text.clone(),
                })
        }
        Some(other) => Err(WorkItemError::BadTime {
            id: id.to_owned(),
            field,
            value: other.to_string(),
        }),
    }
}

/// A number or text field as text (`Microsoft.VSTS.Common.Priority` is a number).
fn scalar_text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(text) => Some(clean(text)),
        other => Some(other.to_string()),
    }
}

/// HTML rich text as plain text: tags dropped, the common entities decoded, blank runs
/// folded.
fn html_text(html: &str) -> String {
    let mut text = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => {
                in_tag = true;
                text.push(' ');
            }
            '>' => in_tag = false,
            c if !in_tag => text.push(c),
            _ => {}
        }
    }
    let decoded = text
        .replace("&nbsp;", " ")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    clean(&decoded.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// The state changes among a work item's revisions, oldest first: a revision whose state
/// differs from the revision before it is one change (the first revision sets the state
/// the item was created in).
fn state_changes(id: &str, revisions: &[Value]) -> Vec<StatusChange> {
    let mut ordered: Vec<(i64, &Map<String, Value>)> = revisions
        .iter()
        .filter_map(|revision| {
            let fields = revision.get("fields")?.as_object()?;
            let rev = revision
                .get("rev")
                .or_else(|| fields.get("System.Rev"))
                .and_then(Value::as_i64)?;
            Some((rev, fields))
        })
        .collect();
    ordered.sort_by_key(|(rev, _)| *rev);
    ordered.dedup_by_key(|(rev, _)| *rev);
    let mut changes = Vec::new();
    let mut state: Option<String> = None;
    for (rev, fields) in ordered {
        let Some(now) = text_field(fields, "System.State") else {
            continue;
        };
        let at = fields
            .get("System.ChangedDate")
            .and_then(Value::as_str)
            .and_then(jira_time);
        match (&state, at) {
            (Some(before), Some(at)) if *before != now => changes.push(StatusChange {
                id: format!("{id}.{rev}"),
                sequence: rev,
                at,
                from: Some(before.clone()),
                to: Some(now.clone()),
                author: person(fields.get("System.ChangedBy")),
            }),
            _ => {}
        }
        state = Some(now);
    }
    changes
}

fn text_field(fields: &Map<String, Value>, name: &str) -> Option<String> {
    fields.get(name).and_then(Value::as_str).map(clean)
}

/// Transforms one work item with its revisions.
pub fn transform_work_item(
    stored: &StoredWorkItem<'_>,
    statuses: &HashMap<String, StatusClass>,
    mapping: &FieldMapping,
) -> Result<(WorkItemRow, Vec<ChangelogRow>), WorkItemError> {
    let id = stored.work_item["id"]
        .as_u64()
        .ok_or(WorkItemError::Missing("id"))?
        .to_string();
    let fields = stored.work_item["fields"]
        .as_object()
        .ok_or(WorkItemError::Missing("fields"))?;
    let created = time(fields, &id, "System.CreatedDate")?;
    let changes = state_changes(&id, stored.revisions);
    let (changelogs, metrics) = status_history(&id, created, &changes, statuses);

    let field = |name: &Option<String>| {
        name.as_ref()
            .and_then(|name| fields.get(name))
            .filter(|v| !v.is_null())
    };
    let mut custom_fields: [Option<String>; CUSTOM_FIELD_SLOTS] = Default::default();
    for (slot, name) in custom_fields.iter_mut().zip(&mapping.slots) {
        *slot = field(name).and_then(flatten).map(|v| as_text(&v));
    }
    let custom_fields_overflow: Map<String, Value> = fields
        .iter()
        .filter(|(name, _)| name.starts_with(CUSTOM_PREFIX) || name.as_str() == BOARD_COLUMN)
        .filter(|(name, _)| !mapping.is_mapped(name))
        .filter_map(|(name, value)| flatten(value).map(|v| (name.clone(), v)))
        .collect();
    let story_points = match &mapping.story_points {
        Some(_) => field(&mapping.story_points),
        None => fields.get(STORY_POINTS),
    };

    let row = WorkItemRow {
        key: id.clone(),
        project_external_id: text_field(fields, "System.TeamProject"),
        wit_external_id: text_field(fields, "System.WorkItemType"),
        status_external_id: text_field(fields, "System.State"),
        summary: text_field(fields, "System.Title"),
        description: fields
            .get("System.Description")
            .and_then(Value::as_str)
            .map(html_text)
            .filter(|d| !d.is_empty()),
        priority: scalar_text(fields.get("Microsoft.VSTS.Common.Priority")),
        parent_external_id: scalar_text(fields.get("System.Parent")),
        assignee: person(fields.get("System.AssignedTo")),
        assignee_account: identity(fields.get("System.AssignedTo")).map(|a| a.account_key),
        reporter: person(fields.get("System.CreatedBy")),
        labels: text_field(fields, "System.Tags")
            .map(|tags| {
                tags.split(';')
                    .map(str::trim)
                    .filter(|t| !t.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
        created,
        updated: time(fields, &id, "System.ChangedDate")?,
        resolved: time(fields, &id, "Microsoft.VSTS.Common.ClosedDate")?,
        story_points: story_points.and_then(as_number),
        team: field(&mapping.team).and_then(flatten).map(|v| as_text(&v)),
        code_changed: field(&mapping.code_changed).and_then(|v| {
            flatten(v)
                .as_ref()
                .and_then(crate::sources::fields::as_flag)
        }),
        custom_fields: CustomFieldValues(custom_fields),
        custom_fields_overflow,
        metrics,
        external_id: id,
    };
    Ok((row, changelogs))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::workflow::StepCategory;
    use serde_json::json;

    fn revision(rev: i64, at: &str, state: &str) -> Value {
        json!({"id": 7, "rev": rev, "fields": {"System.Id": 7, "System.Rev": rev,
            "System.State": state, "System.ChangedDate": at, "System.ChangedBy": "Ann Lee <ann@example.com>"}})
    }

    fn statuses() -> HashMap<String, StatusClass> {
        HashMap::from([
            ("New".into(), StatusClass::default_for("New", "new")),
            (
                "Active".into(),
                StatusClass::default_for("Active", "indeterminate"),
            ),
            ("Closed".into(), StatusClass::default_for("Closed", "done")),
        ])
    }

    #[test]
    fn a_work_item_and_its_revisions_become_a_row_with_transitions() {
        let item = json!({"id": 7, "rev": 5, "fields": {
            "System.TeamProject": "Fabrikam", "System.WorkItemType": "Bug", "System.State": "Closed",
            "System.Title": "Crash on save", "System.Description": "<div>Saving <b>fails</b> &amp; crashes</div>",
            "System.CreatedDate": "2025-01-01T10:00:00Z", "System.ChangedDate": "2025-01-04T10:00:00.5Z",
            "Microsoft.VSTS.Common.ClosedDate": "2025-01-04T10:00:00.5Z",
            "System.AssignedTo": {"displayName": "Ann Lee", "uniqueName": "ann@example.com"},
            "System.CreatedBy": {"displayName": "Bob"}, "System.Tags": "ui; crash",
            "Microsoft.VSTS.Common.Priority": 2, "System.Parent": 3,
            "Microsoft.VSTS.Scheduling.StoryPoints": 5.0, "System.BoardColumn": "Done",
            "Custom.Severity": "High"
        }});
        // Out of order, one revision twice, one revision changing no state.
        let revisions = vec![
            revision(3, "2025-01-03T10:00:00Z", "Active"),
            revision(1, "2025-01-01T10:00:00Z", "New"),
            revision(2, "2025-01-02T10:00:00Z", "Active"),
            revision(4, "2025-01-04T10:00:00.5Z", "Closed"),
            revision(2, "2025-01-02T10:00:00Z", "Active"),
        ];
        let stored = StoredWorkItem {
            work_item: &item,
            revisions: &revisions,
        };
        let (row, changelogs) =
            transform_work_item(&stored, &statuses(), &FieldMapping::default()).unwrap();
        assert_eq!(row.external_id, "7");
        assert_eq!(row.project_external_id.as_deref(), Some("Fabrikam"));
        assert_eq!(row.description.as_deref(), Some("Saving fails & crashes"));
        assert_eq!(row.assignee.as_deref(), Some("Ann Lee"));
        assert_eq!(row.priority.as_deref(), Some("2"));
        assert_eq!(row.parent_external_id.as_deref(), Some("3"));
        assert_eq!(row.labels, vec!["ui", "crash"]);
        assert_eq!(row.story_points, Some(5.0));
        assert_eq!(row.custom_fields_overflow["Custom.Severity"], json!("High"));
        assert_eq!(
            row.custom_fields_overflow["System.BoardColumn"],
            json!("Done")
        );
        let ids: Vec<&str> = changelogs.iter().map(|c| c.external_id.as_str()).collect();
        assert_eq!(ids, ["7.2", "7.4"]);
        assert_eq!(
            changelogs[0].from_status_external_id.as_deref(),
            Some("New")
        );
        assert_eq!(changelogs[0].time_in_status_seconds, 24.0 * 3600.0);
        assert_eq!(
            changelogs[1].time_in_status_seconds,
            2.0 * 24.0 * 3600.0 + 0.5
        );
        assert_eq!(changelogs[1].author.as_deref(), Some("Ann Lee"));
        assert_eq!(row.metrics.total_work_starts, 1);
        assert_eq!(row.metrics.total_completions, 1);
    }

    #[test]
    fn custom_fields_map_to_columns_and_a_mapping_replaces_the_default_story_points() {
        let item = json!({"id": 8, "fields": {"System.CreatedDate": "2025-01-01T10:00:00Z",
            "Custom.Team": "Platform", "Custom.Effort": "8", "Microsoft.VSTS.Scheduling.StoryPoints": 3}});
        let mapping = FieldMapping {
            team: Some("Custom.Team".into()),
            story_points: Some("Custom.Effort".into()),
            ..FieldMapping::default()
        };
        let stored = StoredWorkItem {
            work_item: &item,
            revisions: &[],
        };
        let (row, changelogs) = transform_work_item(&stored, &statuses(), &mapping).unwrap();
        assert_eq!(row.team.as_deref(), Some("Platform"));
        assert_eq!(row.story_points, Some(8.0));
        assert!(row.custom_fields_overflow.is_empty());
        assert!(changelogs.is_empty());
    }

    #[test]
    fn types_give_statuses_with_categories_and_malformed_items_are_errors() {
        let answer = json!({"value": [
            {"name": "Bug", "states": [{"name": "New", "category": "Proposed"}, {"name": "Active", "category": "InProgress"},
                                       {"name": "Resolved", "category": "Resolved"}, {"name": "Closed", "category": "Completed"}]},
            {"name": "Task", "states": [{"name": "New", "category": "Proposed"}, {"name": "Removed", "category": "Removed"}]}
        ]});
        let (wits, links, statuses) = work_item_types([("Fabrikam", &answer)]);
        assert_eq!(wits.len(), 2);
        assert_eq!(links.len(), 2);
        let category: HashMap<&str, &str> = statuses
            .iter()
            .map(|s| (s.name.as_str(), s.category.as_str()))
            .collect();
        assert_eq!(
            category,
            HashMap::from([
                ("New", "new"),
                ("Active", "indeterminate"),
                ("Resolved", "indeterminate"),
                ("Closed", "done"),
                ("Removed", "done")
            ])
        );
        assert_eq!(
            StepCategory::from_jira_category(category["Resolved"]),
            StepCategory::InProgress
        );
        let bad = json!({"id": 9, "fields": {"System.CreatedDate": "not a date"}});
        let stored = StoredWorkItem {
            work_item: &bad,
            revisions: &[],
        };
        let error =
            transform_work_item(&stored, &HashMap::new(), &FieldMapping::default()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "work item 9: System.CreatedDate is not a valid timestamp: not a date"
        );
        let no_id = StoredWorkItem {
            work_item: &json!({"fields": {}}),
            revisions: &[],
        };
        assert_eq!(
            transform_work_item(&no_id, &HashMap::new(), &FieldMapping::default()),
            Err(WorkItemError::Missing("id"))
        );
    }
}
