//! Jira metadata to rows: statuses, projects, issue types (deduplicated per integration)
//! and which project uses which issue type.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::sources::fields::clean;
use crate::sources::work_items::rows::{
    CustomFieldRow, PrLinkRow, ProjectRow, ProjectWit, StatusRow, WitRow,
};

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(clean)
}

/// Statuses from `/status`; entries without an id or name are skipped.
pub fn statuses(raw: &Value) -> Vec<StatusRow> {
    raw.as_array()
        .into_iter()
        .flatten()
        .filter_map(|status| {
            let category = status.get("statusCategory");
            Some(StatusRow {
                external_id: text(status, "id")?,
                name: text(status, "name")?,
                description: text(status, "description").filter(|d| !d.is_empty()),
                category: category
                    .and_then(|c| text(c, "key"))
                    .filter(|k| matches!(k.as_str(), "new" | "indeterminate" | "done"))
                    .unwrap_or_else(|| "undefined".into()),
                category_name: category.and_then(|c| text(c, "name")),
            })
        })
        .collect()
}

fn wit(issue_type: &Value) -> Option<WitRow> {
    Some(WitRow {
        external_id: text(issue_type, "id")?,
        name: text(issue_type, "untranslatedName").or_else(|| text(issue_type, "name"))?,
        description: text(issue_type, "description").filter(|d| !d.is_empty()),
        hierarchy_level: issue_type.get("hierarchyLevel").and_then(Value::as_i64),
        subtask: issue_type
            .get("subtask")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

/// Issue types from `/issuetype` (an array).
pub fn issue_types(raw: &Value) -> Vec<WitRow> {
    raw.as_array()
        .into_iter()
        .flatten()
        .filter_map(wit)
        .collect()
}

/// Projects from a `/project/search` page, with their issue types deduplicated across
/// projects (one row per type, however many projects use it) and the links between them.
pub fn projects(page: &Value) -> (Vec<ProjectRow>, Vec<WitRow>, Vec<ProjectWit>) {
    let mut projects = Vec::new();
    let mut wits = BTreeMap::new();
    let mut links = Vec::new();
    for project in page
        .get("values")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let (Some(external_id), Some(key)) = (text(project, "id"), text(project, "key")) else {
            continue;
        };
        for issue_type in project
            .get("issueTypes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(row) = wit(issue_type) {
                links.push(ProjectWit {
                    project_external_id: external_id.clone(),
                    wit_external_id: row.external_id.clone(),
                });
                wits.entry(row.external_id.clone()).or_insert(row);
            }
        }
        projects.push(ProjectRow {
            name: text(project, "name").unwrap_or_else(|| key.clone()),
            project_type: text(project, "projectTypeKey"),
            external_id,
            key,
        });
    }
    links.sort();
    links.dedup();
    (projects, wits.into_values().collect(), links)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn issue_types_are_deduplicated_across_projects() {
        let story = json!({"id": "1", "name": "故事", "untranslatedName": "Story", "subtask": false, "hierarchyLevel": 0});
        let bug = json!({"id": "2", "name": "Bug", "subtask": false});
        let page = json!({"values": [
            {"id": "10", "key": "A", "name": "Alpha", "projectTypeKey": "software", "issueTypes": [story, bug]},
            {"id": "11", "key": "B", "name": "Beta", "issueTypes": [story]},
            {"key": "NOID"}
        ]});
        let (projects, wits, links) = projects(&page);
        assert_eq!(projects.len(), 2);
        assert_eq!(wits.len(), 2);
        assert_eq!(
            wits[0].name, "Story",
            "the untranslated name is the stable one"
        );
        assert_eq!(links.len(), 3);
    }

    #[test]
    fn statuses_keep_their_names_and_categories() {
        let raw = json!([
            {"id": "10068", "name": "已完成", "statusCategory": {"key": "new", "name": "新建"}},
            {"id": "3", "name": "In Progress", "statusCategory": {"key": "indeterminate"}},
            {"id": "9", "name": "Odd", "statusCategory": {"key": "weird"}},
            {"name": "no id"}
        ]);
        let rows = statuses(&raw);
        assert_eq!(rows.len(), 3);
        assert_eq!(
            (rows[0].name.as_str(), rows[0].category.as_str()),
            ("已完成", "new")
        );
        assert_eq!(rows[2].category, "undefined");
    }
}

/// The pull requests of one issue's development details.
pub fn pr_links(issue_id: &str, detail: &Value) -> Vec<PrLinkRow> {
    detail
        .get("detail")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .flat_map(|instance| {
            instance
                .get("pullRequests")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
        })
        .filter_map(|pull| {
            let url = text(pull, "url")?;
            let number = text(pull, "id")
                .and_then(|id| id.trim_start_matches('#').parse().ok())
                .or_else(|| url.rsplit('/').next().and_then(|n| n.parse().ok()));
            Some(PrLinkRow {
                external_id: format!("{issue_id}:{url}"),
                work_item_external_id: issue_id.to_owned(),
                repository_full_name: text(pull, "repositoryName"),
                pr_number: number,
                pr_status: text(pull, "status"),
                last_update: text(pull, "lastUpdate")
                    .and_then(|t| crate::sources::fields::jira_time(&t)),
                pr_url: url,
            })
        })
        .collect()
}

#[cfg(test)]
mod pr_link_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pull_requests_of_the_development_panel() {
        let detail = json!({"errors": [], "detail": [{"pullRequests": [
            {"id": "#12", "url": "https://github.com/o/r/pull/12", "status": "MERGED", "repositoryName": "o/r", "lastUpdate": "2025-01-01T00:00:00.000+0000"},
            {"url": "https://github.com/o/r/pull/13"},
            {"id": "#14"}
        ]}]});
        let links = pr_links("10001", &detail);
        assert_eq!(links.len(), 2);
        assert_eq!(
            (links[0].pr_number, links[0].repository_full_name.as_deref()),
            (Some(12), Some("o/r"))
        );
        assert_eq!(links[1].pr_number, Some(13), "number from the URL");
        assert!(pr_links("1", &json!({"errors": []})).is_empty());
    }
}

/// Custom fields from the `/field` list, with the operations createmeta reports (the first
/// occurrence across projects and issue types wins; fields only createmeta knows are kept).
pub fn custom_fields(field_list: &Value, createmeta_pages: &[Value]) -> Vec<CustomFieldRow> {
    let mut found: BTreeMap<String, CustomFieldRow> = BTreeMap::new();
    let mut remember = |field: &Value, id: Option<String>, operations: Option<&Value>| {
        let Some(id) = id.filter(|id| id.starts_with("customfield_")) else {
            return;
        };
        let entry = found.entry(id.clone()).or_insert_with(|| CustomFieldRow {
            name: text(field, "name").unwrap_or_else(|| id.clone()),
            field_type: field["schema"]
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("string")
                .to_owned(),
            field_schema: field.get("schema").cloned().unwrap_or(Value::Null),
            operations: Value::Array(Vec::new()),
            external_id: id,
        });
        if let Some(operations) = operations.filter(|o| o.as_array().is_some_and(|a| !a.is_empty()))
        {
            if entry.operations.as_array().is_some_and(Vec::is_empty) {
                entry.operations = operations.clone();
            }
        }
    };
    for field in field_list.as_array().into_iter().flatten() {
        remember(field, text(field, "id"), None);
    }
    for page in createmeta_pages {
        for field in page
            .get("fields")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            remember(
                field,
                text(field, "fieldId").or_else(|| text(field, "key")),
                field.get("operations"),
            );
        }
    }
    found.into_values().collect()
}

#[cfg(test)]
mod custom_field_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fields_merge_with_createmeta_operations() {
        let list = json!([
            {"id": "summary", "name": "Summary", "custom": false, "schema": {"type": "string"}},
            {"id": "customfield_1", "name": "Team", "custom": true, "schema": {"type": "option", "customId": 1}}
        ]);
        let meta = json!({"fields": [
            {"fieldId": "customfield_1", "name": "Team", "operations": ["set"], "schema": {"type": "option"}},
            {"fieldId": "customfield_2", "name": "Points", "operations": ["set"], "schema": {"type": "number"}}
        ]});
        let rows = custom_fields(&list, &[meta]);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (rows[0].name.as_str(), rows[0].field_type.as_str()),
            ("Team", "option")
        );
        assert_eq!(rows[0].operations, json!(["set"]));
        assert_eq!(rows[1].external_id, "customfield_2");
    }
}
