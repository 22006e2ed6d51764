//! A work item's status history, whatever the source: its status changes become changelog
//! rows (time in each status) and the fifteen workflow metrics.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::work_items::rows::ChangelogRow;
use crate::domain::workflow::{workflow_metrics, StatusClass, Transition, WorkflowMetrics};

/// One status change of a work item, as the source recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusChange {
    /// The change's id at the source (the changelog row's external id).
    pub id: String,
    /// Orders changes with equal times.
    pub sequence: i64,
    pub at: DateTime<Utc>,
    /// Status external ids.
    pub from: Option<String>,
    pub to: Option<String>,
    pub author: Option<String>,
}

/// The changelog rows of `changes` (oldest first; the first status was entered at
/// `created`) and the workflow metrics they give, statuses classed by `statuses`.
pub fn status_history(
    work_item_external_id: &str,
    created: Option<DateTime<Utc>>,
    changes: &[StatusChange],
    statuses: &HashMap<String, StatusClass>,
) -> (Vec<ChangelogRow>, WorkflowMetrics) {
    let mut rows = Vec::with_capacity(changes.len());
    let mut entered = created.or_else(|| changes.first().map(|c| c.at));
    for change in changes {
        let start = entered.unwrap_or(change.at);
        rows.push(ChangelogRow {
            external_id: change.id.clone(),
            work_item_external_id: work_item_external_id.to_owned(),
            from_status_external_id: change.from.clone(),
            to_status_external_id: change.to.clone(),
            transition_start_date: start,
            transition_change_date: change.at,
            time_in_status_seconds: (change.at - start).num_milliseconds() as f64 / 1000.0,
            author: change.author.clone(),
        });
        entered = Some(change.at);
    }
    let transitions: Vec<Transition<String>> = changes
        .iter()
        .filter_map(|c| {
            c.to.clone().map(|to| Transition {
                sequence: c.sequence,
                at: c.at,
                to,
            })
        })
        .collect();
    let initial = changes.first().and_then(|c| c.from.clone());
    let metrics = workflow_metrics(&transitions, initial.as_ref(), |status| {
        statuses.get(status).copied()
    });
    (rows, metrics)
}
