//! The 15 workflow metrics of a work item (first and last commitment, start and completion,
//! their counts, work, review, cycle and lead time, complexity, rework, direct completion),
//! computed from its status transitions.
//! Pure: the caller supplies the transitions and how each status is classified.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// A workflow step category, mapped from Jira's `new | indeterminate | done`
/// unless the tenant remapped the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum StepCategory {
    #[serde(rename = "to do")]
    ToDo,
    #[serde(rename = "in progress")]
    InProgress,
    #[serde(rename = "done")]
    Done,
}

impl StepCategory {
    /// The default for a Jira status category key.
    pub fn from_jira_category(key: &str) -> Self {
        match key {
            "done" => StepCategory::Done,
            "indeterminate" => StepCategory::InProgress,
            _ => StepCategory::ToDo,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StepCategory::ToDo => "to do",
            StepCategory::InProgress => "in progress",
            StepCategory::Done => "done",
        }
    }
}

/// How one status counts: its category and whether entering it commits to the work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusClass {
    pub category: StepCategory,
    pub commitment: bool,
}

impl StatusClass {
    /// The default class of a Jira status: category from Jira's, commitment for "To Do".
    pub fn default_for(name: &str, jira_category: &str) -> Self {
        StatusClass {
            category: StepCategory::from_jira_category(jira_category),
            commitment: name.eq_ignore_ascii_case("To Do"),
        }
    }
}

/// One status change of a work item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition<S> {
    /// Orders transitions with equal timestamps (the changelog history id).
    pub sequence: i64,
    pub at: DateTime<Utc>,
    pub to: S,
}

/// The fifteen workflow metrics of a work item, computed from its status changes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct WorkflowMetrics {
    pub work_first_committed_at: Option<DateTime<Utc>>,
    pub work_first_started_at: Option<DateTime<Utc>>,
    pub work_last_started_at: Option<DateTime<Utc>>,
    pub work_first_completed_at: Option<DateTime<Utc>>,
    pub work_last_completed_at: Option<DateTime<Utc>>,
    pub total_work_starts: i32,
    pub total_completions: i32,
    pub total_backlog_returns: i32,
    pub total_work_time_seconds: f64,
    pub total_review_time_seconds: f64,
    pub total_cycle_time_seconds: f64,
    pub total_lead_time_seconds: f64,
    pub workflow_complexity_score: i32,
    pub rework_indicator: bool,
    pub direct_completion: bool,
}

fn seconds_between(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_milliseconds() as f64 / 1000.0
}

/// Computes the metrics. `transitions` may come in any order: they are sorted by time, then
/// by sequence. `classify` returns None for a status it does not know (it then counts as
/// nothing). `initial` is the status before the first transition, used to tell whether the
/// last completion came straight from a `to do` status.
pub fn workflow_metrics<S>(
    transitions: &[Transition<S>],
    initial: Option<&S>,
    classify: impl Fn(&S) -> Option<StatusClass>,
) -> WorkflowMetrics {
    let mut ordered: Vec<&Transition<S>> = transitions.iter().collect();
    ordered.sort_by_key(|t| (t.at, t.sequence));
    let mut metrics = WorkflowMetrics::default();
    let mut last_completion_from_to_do = false;
    let mut previous_class = initial.and_then(&classify);
    for (position, transition) in ordered.iter().enumerate() {
        let class = classify(&transition.to);
        if let Some(class) = class {
            if class.commitment {
                metrics.work_first_committed_at.get_or_insert(transition.at);
                metrics.total_backlog_returns += 1;
            }
            match class.category {
                StepCategory::InProgress => {
                    metrics.work_first_started_at.get_or_insert(transition.at);
                    metrics.work_last_started_at = Some(transition.at);
                    metrics.total_work_starts += 1;
                }
                StepCategory::Done => {
                    metrics.work_first_completed_at.get_or_insert(transition.at);
                    metrics.work_last_completed_at = Some(transition.at);
                    metrics.total_completions += 1;
                    last_completion_from_to_do =
                        previous_class.is_some_and(|p| p.category == StepCategory::ToDo);
                }
                StepCategory::ToDo => {}
            }
            // Time in this status until the next transition; the open segment is not counted.
            if let Some(next) = ordered.get(position + 1) {
                let spent = seconds_between(transition.at, next.at);
                match class.category {
                    StepCategory::InProgress => metrics.total_work_time_seconds += spent,
                    StepCategory::ToDo => metrics.total_review_time_seconds += spent,
                    StepCategory::Done => {}
                }
            }
        }
        previous_class = class;
    }
    if let (Some(started), Some(completed)) = (
        metrics.work_first_started_at,
        metrics.work_last_completed_at,
    ) {
        metrics.total_cycle_time_seconds = seconds_between(started, completed);
    }
    if let (Some(committed), Some(completed)) = (
        metrics.work_first_committed_at,
        metrics.work_last_completed_at,
    ) {
        metrics.total_lead_time_seconds = seconds_between(committed, completed);
    }
    metrics.workflow_complexity_score =
        metrics.total_backlog_returns * 2 + (metrics.total_completions - 1).max(0);
    metrics.rework_indicator = metrics.total_work_starts > 1;
    metrics.direct_completion = metrics.total_completions > 0
        && (metrics.total_work_starts == 0
            || (last_completion_from_to_do
                && metrics.work_last_completed_at > metrics.work_last_started_at));
    metrics
}

#[cfg(test)]
mod tests {
    use super::*;

    const BACKLOG: &str = "Backlog";
    const TODO: &str = "To Do";
    const DOING: &str = "In Progress";
    const REVIEW: &str = "Review";
    const DONE: &str = "Done";

    fn classify(status: &&str) -> Option<StatusClass> {
        let (category, jira) = match *status {
            BACKLOG | TODO => (StepCategory::ToDo, "new"),
            DOING | REVIEW => (StepCategory::InProgress, "indeterminate"),
            DONE => (StepCategory::Done, "done"),
            _ => return None,
        };
        let class = StatusClass::default_for(status, jira);
        assert_eq!(class.category, category);
        Some(class)
    }

    fn at(hour: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_700_000_000 + hour * 3600, 0).unwrap()
    }

    /// Transitions at the given hours into the given statuses, sequence = position.
    fn walk(steps: &[(i64, &'static str)]) -> Vec<Transition<&'static str>> {
        steps
            .iter()
            .enumerate()
            .map(|(i, (hour, to))| Transition {
                sequence: i as i64,
                at: at(*hour),
                to: *to,
            })
            .collect()
    }

    fn metrics(steps: &[(i64, &'static str)]) -> WorkflowMetrics {
        workflow_metrics(&walk(steps), Some(&BACKLOG), classify)
    }

    #[test]
    fn straight_through_flow() {
        let m = metrics(&[(1, TODO), (3, DOING), (7, REVIEW), (8, DONE)]);
        assert_eq!(m.work_first_committed_at, Some(at(1)));
        assert_eq!(m.total_backlog_returns, 1);
        assert_eq!(
            (
                m.work_first_started_at,
                m.work_last_started_at,
                m.total_work_starts
            ),
            (Some(at(3)), Some(at(7)), 2)
        );
        assert_eq!(
            (
                m.work_first_completed_at,
                m.work_last_completed_at,
                m.total_completions
            ),
            (Some(at(8)), Some(at(8)), 1)
        );
        assert_eq!(m.total_work_time_seconds, 5.0 * 3600.0);
        assert_eq!(m.total_review_time_seconds, 2.0 * 3600.0);
        assert_eq!(m.total_cycle_time_seconds, 5.0 * 3600.0);
        assert_eq!(m.total_lead_time_seconds, 7.0 * 3600.0);
        assert_eq!(m.workflow_complexity_score, 2);
        assert!(
            m.rework_indicator,
            "two in-progress statuses are two starts"
        );
        assert!(!m.direct_completion);
    }

    #[test]
    fn rework_and_backlog_return() {
        let m = metrics(&[(0, TODO), (1, DOING), (2, TODO), (4, DOING), (6, DONE)]);
        assert_eq!(m.total_backlog_returns, 2);
        assert_eq!(m.total_work_starts, 2);
        assert!(m.rework_indicator);
        assert_eq!(m.workflow_complexity_score, 2 * 2);
        assert_eq!(m.total_work_time_seconds, 3.0 * 3600.0);
        assert_eq!(m.total_review_time_seconds, 3.0 * 3600.0);
        assert_eq!(m.work_first_committed_at, Some(at(0)));
        assert_eq!(m.total_lead_time_seconds, 6.0 * 3600.0);
        assert_eq!(m.total_cycle_time_seconds, 5.0 * 3600.0);
    }

    #[test]
    fn direct_completion_without_start() {
        let m = metrics(&[(1, TODO), (2, DONE)]);
        assert!(m.direct_completion);
        assert_eq!(m.total_work_starts, 0);
        assert_eq!(m.total_cycle_time_seconds, 0.0, "no start, no cycle time");
        assert_eq!(m.total_lead_time_seconds, 3600.0);
    }

    #[test]
    fn direct_completion_after_abandoned_start() {
        // Started, given up back to To Do, then closed straight from To Do.
        let m = metrics(&[(1, DOING), (2, TODO), (5, DONE)]);
        assert!(m.direct_completion);
        // Finished from In Progress: not direct.
        let m = metrics(&[(1, TODO), (2, DOING), (5, DONE)]);
        assert!(!m.direct_completion);
    }

    #[test]
    fn reopen_after_done() {
        let m = metrics(&[(1, DOING), (2, DONE), (3, TODO), (4, DOING), (6, DONE)]);
        assert_eq!(m.total_completions, 2);
        assert_eq!(m.work_first_completed_at, Some(at(2)));
        assert_eq!(m.work_last_completed_at, Some(at(6)));
        assert_eq!(
            m.total_cycle_time_seconds,
            5.0 * 3600.0,
            "first start to last completion"
        );
        assert_eq!(
            m.workflow_complexity_score,
            2 + 1,
            "one commitment, one extra completion"
        );
        assert_eq!(m.total_work_time_seconds, 3.0 * 3600.0);
        assert_eq!(m.total_review_time_seconds, 3600.0);
        assert!(!m.direct_completion);
    }

    #[test]
    fn equal_timestamps_follow_the_changelog_order() {
        // Given out of order: the sequence decides which came first.
        let transitions = vec![
            Transition {
                sequence: 11,
                at: at(2),
                to: DONE,
            },
            Transition {
                sequence: 10,
                at: at(2),
                to: DOING,
            },
            Transition {
                sequence: 9,
                at: at(1),
                to: TODO,
            },
        ];
        let m = workflow_metrics(&transitions, Some(&BACKLOG), classify);
        assert_eq!(m.work_last_started_at, Some(at(2)));
        assert_eq!(m.work_last_completed_at, Some(at(2)));
        assert_eq!(m.total_work_time_seconds, 0.0);
        assert_eq!(m.total_review_time_seconds, 3600.0);
        assert!(!m.direct_completion, "the completion came from In Progress");
    }

    #[test]
    fn no_transitions_means_empty_metrics() {
        let m = metrics(&[]);
        assert_eq!(m, WorkflowMetrics::default());
        assert_eq!(m.workflow_complexity_score, 0);
    }

    #[test]
    fn unknown_statuses_count_for_nothing() {
        let m = metrics(&[(1, "Mystery"), (2, DOING), (3, "Mystery"), (5, DONE)]);
        assert_eq!(m.total_work_starts, 1);
        assert_eq!(m.total_work_time_seconds, 3600.0);
        assert_eq!(m.total_completions, 1);
        assert!(!m.direct_completion);
    }

    #[test]
    fn the_open_segment_is_not_counted() {
        let m = metrics(&[(1, TODO), (2, DOING)]);
        assert_eq!(m.total_work_time_seconds, 0.0);
        assert_eq!(m.total_review_time_seconds, 3600.0);
        assert_eq!(m.total_cycle_time_seconds, 0.0);
        assert!(!m.rework_indicator);
    }

    #[test]
    fn default_classes_follow_jira_categories() {
        assert_eq!(
            StatusClass::default_for("To Do", "new"),
            StatusClass {
                category: StepCategory::ToDo,
                commitment: true
            }
        );
        assert_eq!(
            StatusClass::default_for("已完成", "new"),
            StatusClass {
                category: StepCategory::ToDo,
                commitment: false
            }
        );
        assert_eq!(
            StatusClass::default_for("QA", "indeterminate").category,
            StepCategory::InProgress
        );
        assert_eq!(
            StatusClass::default_for("Closed", "done").category,
            StepCategory::Done
        );
    }
}
