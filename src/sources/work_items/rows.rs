//! The rows of the shared work-item tables, as every source that reads work items (Jira,
//! Azure Boards) writes them: work items with their custom-field columns, status
//! transitions, statuses, projects, work item types, custom fields and development links.

use chrono::{DateTime, Utc};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

use crate::domain::workflow::WorkflowMetrics;

/// Number of dedicated custom-field columns on `work_items`.
pub const CUSTOM_FIELD_SLOTS: usize = 20;

/// Which source field feeds which column, per integration (`custom_fields_mapping`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldMapping {
    /// `custom_field_01 .. custom_field_20`: the Jira field id placed in each.
    pub slots: [Option<String>; CUSTOM_FIELD_SLOTS],
    pub team: Option<String>,
    pub story_points: Option<String>,
    pub code_changed: Option<String>,
}

impl FieldMapping {
    /// Whether `field` feeds a column (a slot or a special field).
    pub fn is_mapped(&self, field: &str) -> bool {
        let special = [&self.team, &self.story_points, &self.code_changed];
        self.slots
            .iter()
            .chain(special)
            .any(|slot| slot.as_deref() == Some(field))
    }
}

/// The values of `custom_field_01 .. custom_field_20`, serialized under those names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomFieldValues(pub [Option<String>; CUSTOM_FIELD_SLOTS]);

impl Serialize for CustomFieldValues {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(CUSTOM_FIELD_SLOTS))?;
        for (slot, value) in self.0.iter().enumerate() {
            map.serialize_entry(&format!("custom_field_{:02}", slot + 1), value)?;
        }
        map.end()
    }
}

/// A `work_items` row, keyed by external ids; the load stage resolves them to row ids.
/// Serialized field names are the column names.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(Default))]
pub struct WorkItemRow {
    pub external_id: String,
    pub key: String,
    pub project_external_id: Option<String>,
    pub wit_external_id: Option<String>,
    pub status_external_id: Option<String>,
    pub summary: Option<String>,
    pub description: Option<String>,
    pub priority: Option<String>,
    pub parent_external_id: Option<String>,
    pub assignee: Option<String>,
    /// The assignee's account (Jira accountId, Azure DevOps uniqueName).
    pub assignee_account: Option<String>,
    pub reporter: Option<String>,
    pub labels: Vec<String>,
    pub created: Option<DateTime<Utc>>,
    pub updated: Option<DateTime<Utc>>,
    pub resolved: Option<DateTime<Utc>>,
    pub story_points: Option<f64>,
    pub team: Option<String>,
    pub code_changed: Option<bool>,
    #[serde(flatten)]
    pub custom_fields: CustomFieldValues,
    pub custom_fields_overflow: Map<String, Value>,
    #[serde(flatten)]
    pub metrics: WorkflowMetrics,
}

/// A `changelogs` row: one status transition.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(Default))]
pub struct ChangelogRow {
    pub external_id: String,
    pub work_item_external_id: String,
    pub from_status_external_id: Option<String>,
    pub to_status_external_id: Option<String>,
    pub transition_start_date: DateTime<Utc>,
    pub transition_change_date: DateTime<Utc>,
    pub time_in_status_seconds: f64,
    pub author: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(Default))]
pub struct StatusRow {
    pub external_id: String,
    pub name: String,
    pub description: Option<String>,
    /// Jira's statusCategory.key: new | indeterminate | done.
    pub category: String,
    pub category_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(Default))]
pub struct ProjectRow {
    pub external_id: String,
    pub key: String,
    pub name: String,
    pub project_type: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(Default))]
pub struct WitRow {
    pub external_id: String,
    pub name: String,
    pub description: Option<String>,
    pub hierarchy_level: Option<i64>,
    pub subtask: bool,
}

/// A project's use of an issue type, by external ids.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct ProjectWit {
    pub project_external_id: String,
    pub wit_external_id: String,
}

/// A pull request linked to a work item (from `/rest/dev-status/.../detail`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(Default))]
pub struct PrLinkRow {
    pub external_id: String,
    pub work_item_external_id: String,
    pub repository_full_name: Option<String>,
    pub pr_number: Option<i64>,
    pub pr_url: String,
    pub pr_status: Option<String>,
    pub last_update: Option<chrono::DateTime<chrono::Utc>>,
}

/// A custom field as discovered from `/field` and createmeta.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(test, derive(Default))]
pub struct CustomFieldRow {
    pub external_id: String,
    pub name: String,
    /// schema.type: string, number, option, array, user, date, ...
    pub field_type: String,
    pub field_schema: Value,
    pub operations: Value,
}
