//! Lazy generation of one Jira issue from its index: type, project, people, dates and a
//! changelog that walks its workflow with rework, backlog returns and reopenings.

use super::catalog::{
    Category, StatusRef, Workflow, BUG, EPIC, ISSUE_TYPES, PRIORITIES, STATUSES, SUBTASK,
    USER_COUNT,
};
use super::text;
use crate::simulator::rng::Stream;

/// Generated data ends here (2026-01-01T00:00:00Z), so the same seed gives the same bytes.
pub const EPOCH_END_MS: i64 = 1_767_225_600_000;
/// Issues are created over the two years before the epoch end.
pub const SPAN_MS: i64 = 2 * 365 * 24 * 3_600_000;

const HOUR_MS: i64 = 3_600_000;

/// Purposes that key independent random streams.
pub mod purpose {
    pub const TYPE: u64 = 1;
    pub const BODY: u64 = 2;
    pub const HISTORY: u64 = 3;
    pub const FIELDS: u64 = 4;
    pub const MUTATION: u64 = 5;
    pub const PICK: u64 = 6;
    /// The specific detail that ends a summary (a stream of its own, so adding it changed
    /// no other generated value).
    pub const DETAIL: u64 = 7;
    /// The words of a summary in Chinese or Japanese.
    pub const LANGUAGE: u64 = 8;
    /// The description's sentences.
    pub const DESCRIPTION: u64 = 9;
    /// Whether a bug is a production incident.
    pub const INCIDENT: u64 = 10;
}

/// The label production incidents carry (a share of bugs).
pub const INCIDENT_LABEL: &str = "incident";
/// Share of bugs that are production incidents.
const INCIDENT_RATE: f64 = 0.3;

/// One changelog entry.
#[derive(Debug, Clone, PartialEq)]
pub struct History {
    pub id: u64,
    pub created_ms: i64,
    pub author: u64,
    pub items: Vec<Item>,
}

/// One changed field inside a history.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    Status {
        from: StatusRef,
        to: StatusRef,
    },
    Assignee {
        from: Option<u64>,
        to: Option<u64>,
    },
    Priority {
        from: usize,
        to: usize,
    },
    StoryPoints {
        from: Option<f64>,
        to: f64,
    },
    Resolution {
        done: bool,
    },
    Labels {
        from: Vec<&'static str>,
        to: Vec<&'static str>,
    },
}

/// Everything about an issue except how it is rendered.
#[derive(Debug, Clone)]
pub struct Issue {
    pub index: u32,
    pub project: usize,
    pub number_in_project: u64,
    pub issue_type: usize,
    pub parent: Option<u32>,
    pub epic: Option<u32>,
    pub created_ms: i64,
    pub reporter: u64,
    pub assignee: Option<u64>,
    pub priority: usize,
    pub status: StatusRef,
    pub story_points: Option<f64>,
    pub labels: Vec<&'static str>,
    pub summary: String,
    /// What the description says beyond the summary.
    pub description: String,
    pub resolved_ms: Option<i64>,
    pub has_code: bool,
    /// Oldest first.
    pub histories: Vec<History>,
}

impl Issue {
    /// The last change, or creation.
    pub fn updated_ms(&self) -> i64 {
        self.histories
            .last()
            .map_or(self.created_ms, |h| h.created_ms)
    }

    pub fn status_transitions(&self) -> usize {
        self.histories
            .iter()
            .flat_map(|h| &h.items)
            .filter(|item| matches!(item, Item::Status { .. }))
            .count()
    }
}

/// The shape of the generated population.
#[derive(Debug, Clone, Copy)]
pub struct Population {
    pub seed: u64,
    pub issues: u32,
    pub projects: usize,
}

const LABELS: &[&str] = &[
    "backend",
    "frontend",
    "tech-debt",
    "customer",
    "security",
    "performance",
    "ux",
];
impl Population {
    pub fn issue_type(&self, index: u32) -> usize {
        let weights: Vec<u32> = ISSUE_TYPES.iter().map(|t| t.weight).collect();
        Stream::new(self.seed, &[purpose::TYPE, u64::from(index)]).weighted(&weights)
    }

    pub fn project_of(&self, index: u32) -> usize {
        index as usize % self.projects.max(1)
    }

    /// The nearest earlier issue of the same project whose type satisfies `wanted`.
    fn earlier_in_project(&self, index: u32, wanted: impl Fn(usize) -> bool) -> Option<u32> {
        let step = self.projects.max(1) as u32;
        (1..=40u32)
            .filter_map(|k| index.checked_sub(k * step))
            .find(|candidate| wanted(self.issue_type(*candidate)))
    }

    /// Creation time: increasing with the index, so `ORDER BY created` is index order.
    pub fn created_ms(&self, index: u32) -> i64 {
        let slot = SPAN_MS / i64::from(self.issues.max(1));
        let mut stream = Stream::new(self.seed, &[purpose::BODY, u64::from(index), 0]);
        EPOCH_END_MS - SPAN_MS + i64::from(index) * slot + stream.below(slot.max(1) as u64) as i64
    }

    /// Generates issue `index` of the initial population after the given rounds of
    /// simulated activity; each round in `mutation_times_ms` adds histories at that time.
    pub fn issue(&self, index: u32, mutation_times_ms: &[i64]) -> Issue {
        self.issue_created_at(index, self.created_ms(index), mutation_times_ms)
    }

    /// Generates issue `index` created at `created_ms` (issues added after start-up are
    /// created when they are added).
    pub fn issue_created_at(
        &self,
        index: u32,
        created_ms: i64,
        mutation_times_ms: &[i64],
    ) -> Issue {
        let issue_type = self.issue_type(index);
        let project = self.project_of(index);
        let mut body = Stream::new(self.seed, &[purpose::BODY, u64::from(index), 1]);
        let parent = if issue_type == SUBTASK {
            self.earlier_in_project(index, |t| t != SUBTASK && t != EPIC)
        } else {
            None
        };
        let epic = if issue_type != EPIC && issue_type != SUBTASK && body.chance(0.6) {
            self.earlier_in_project(index, |t| t == EPIC)
        } else {
            None
        };
        let reporter = body.below(USER_COUNT);
        let summary = text::summary(self.seed, index, &mut body);
        let has_code = issue_type != EPIC && body.chance(0.45);
        let mut issue = Issue {
            index,
            project,
            number_in_project: u64::from(index) / self.projects.max(1) as u64 + 1,
            issue_type,
            parent,
            epic,
            created_ms,
            reporter,
            assignee: body.chance(0.8).then(|| body.below(USER_COUNT)),
            priority: body.weighted(&[1, 3, 8, 3, 1]),
            status: ISSUE_TYPES[issue_type].workflow.steps[0],
            story_points: None,
            labels: (0..body.below(3)).map(|_| *body.pick(LABELS)).collect(),
            summary,
            description: text::description(self.seed, index),
            resolved_ms: None,
            has_code,
            histories: Vec::new(),
        };
        if issue_type == BUG
            && Stream::new(self.seed, &[purpose::INCIDENT, u64::from(index)]).chance(INCIDENT_RATE)
        {
            issue.labels.push(INCIDENT_LABEL);
        }
        let mut history = Stream::new(self.seed, &[purpose::HISTORY, u64::from(index)]);
        // A few long-lived issues collect more histories than `expand=changelog` embeds.
        let long_lived = index % 997 == 13;
        let count = if long_lived {
            101 + history.below(150) as usize
        } else {
            2 + history.below(17) as usize
        };
        let mut clock = issue.created_ms;
        for _ in 0..count {
            clock += history.between(
                HOUR_MS / 2,
                if long_lived {
                    24 * HOUR_MS
                } else {
                    4 * 24 * HOUR_MS
                },
            );
            if clock >= EPOCH_END_MS {
                break;
            }
            if !advance(&mut issue, &mut history, clock, !long_lived) {
                break;
            }
        }
        for (round, time) in mutation_times_ms.iter().enumerate() {
            let mut stream = Stream::new(
                self.seed,
                &[purpose::MUTATION, u64::from(index), round as u64],
            );
            let steps = 1 + stream.below(3);
            for step in 0..steps {
                let at = (*time + step as i64 * 1_000).max(issue.updated_ms() + 1);
                if is_final(&issue) {
                    reopen(&mut issue, &mut stream, at);
                } else {
                    advance(&mut issue, &mut stream, at, false);
                }
            }
        }
        issue
    }
}

fn is_final(issue: &Issue) -> bool {
    STATUSES[issue.status].category == Category::Done
        || *ISSUE_TYPES[issue.issue_type]
            .workflow
            .steps
            .last()
            .unwrap_or(&issue.status)
            == issue.status
}

fn push(issue: &mut Issue, stream: &mut Stream, at: i64, items: Vec<Item>) {
    let id = 100_000 + u64::from(issue.index) * 4_096 + issue.histories.len() as u64;
    let author = if stream.chance(0.7) {
        issue.assignee.unwrap_or(issue.reporter)
    } else {
        stream.below(USER_COUNT)
    };
    issue.histories.push(History {
        id,
        created_ms: at,
        author,
        items,
    });
}

fn move_to(issue: &mut Issue, stream: &mut Stream, at: i64, to: StatusRef) {
    let from = issue.status;
    let mut items = vec![Item::Status { from, to }];
    let was_done = STATUSES[from].category == Category::Done;
    let now_done = STATUSES[to].category == Category::Done;
    if now_done && !was_done {
        items.push(Item::Resolution { done: true });
        issue.resolved_ms = Some(at);
    } else if was_done && !now_done {
        items.push(Item::Resolution { done: false });
        issue.resolved_ms = None;
    }
    issue.status = to;
    push(issue, stream, at, items);
}

fn reopen(issue: &mut Issue, stream: &mut Stream, at: i64) {
    let workflow = ISSUE_TYPES[issue.issue_type].workflow;
    move_to(issue, stream, at, workflow.reopen);
}

/// One step of activity; false when the issue has settled (only when `may_settle`) and
/// nothing more happens.
fn advance(issue: &mut Issue, stream: &mut Stream, at: i64, may_settle: bool) -> bool {
    let workflow: Workflow = ISSUE_TYPES[issue.issue_type].workflow;
    let settled = is_final(issue);
    if settled {
        if may_settle && stream.chance(0.75) {
            return false;
        }
        if stream.chance(0.3) {
            reopen(issue, stream, at);
            return true;
        }
    }
    if !settled && stream.chance(0.65) {
        let position = workflow
            .steps
            .iter()
            .position(|s| *s == issue.status)
            .unwrap_or(0);
        let roll = stream.below(100);
        let target = if roll < 8 && position > 1 {
            workflow.steps[position - 1]
        } else if roll < 13 && position > 1 {
            workflow.backlog
        } else if roll < 18 && position + 2 < workflow.steps.len() {
            // Straight to done, skipping the middle.
            *workflow.steps.last().unwrap_or(&issue.status)
        } else if position + 1 < workflow.steps.len() {
            workflow.steps[position + 1]
        } else {
            workflow.reopen
        };
        if target != issue.status {
            move_to(issue, stream, at, target);
        }
        return true;
    }
    let item = match stream.below(4) {
        0 => {
            let to = Some(stream.below(USER_COUNT));
            let from = std::mem::replace(&mut issue.assignee, to);
            Item::Assignee { from, to }
        }
        1 => {
            let to = stream.below(PRIORITIES.len() as u64) as usize;
            let from = std::mem::replace(&mut issue.priority, to);
            Item::Priority { from, to }
        }
        2 => {
            let to = *stream.pick(&[1.0, 2.0, 3.0, 5.0, 8.0, 13.0]);
            let from = issue.story_points.replace(to);
            Item::StoryPoints { from, to }
        }
        _ => {
            let from = issue.labels.clone();
            issue.labels.push(*stream.pick(LABELS));
            Item::Labels {
                from,
                to: issue.labels.clone(),
            }
        }
    };
    push(issue, stream, at, vec![item]);
    true
}

/// Custom field values are drawn from their own stream, so they are stable per issue.
pub fn field_stream(seed: u64, index: u32, field_number: u32) -> Stream {
    Stream::new(
        seed,
        &[purpose::FIELDS, u64::from(index), u64::from(field_number)],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn population() -> Population {
        Population {
            seed: 7,
            issues: 2_000,
            projects: 3,
        }
    }

    #[test]
    fn same_index_same_issue() {
        let a = population().issue(42, &[]);
        let b = population().issue(42, &[]);
        assert_eq!(a.histories, b.histories);
        assert_eq!(a.summary, b.summary);
    }

    #[test]
    fn created_increases_with_index_and_histories_are_ordered() {
        let population = population();
        let mut last = i64::MIN;
        for index in 0..population.issues {
            let issue = population.issue(index, &[]);
            assert!(issue.created_ms > last);
            last = issue.created_ms;
            let mut previous = issue.created_ms;
            for history in &issue.histories {
                assert!(history.created_ms > previous);
                assert!(history.created_ms < EPOCH_END_MS);
                previous = history.created_ms;
            }
        }
    }

    #[test]
    fn the_population_has_what_the_pipeline_must_survive() {
        let population = population();
        let issues: Vec<Issue> = (0..population.issues)
            .map(|i| population.issue(i, &[]))
            .collect();
        let walks = |pred: &dyn Fn(&Issue) -> bool| issues.iter().filter(|i| pred(i)).count();
        assert!(
            walks(&|i| i.histories.len() > 100) >= 2,
            "issues needing changelog paging"
        );
        assert!(
            walks(&|i| i.status_transitions() == 0) > 0,
            "issues never moved"
        );
        assert!(walks(&|i| i.resolved_ms.is_some()) > 200, "finished issues");
        assert!(
            walks(&|i| i.parent.is_some()) > 20,
            "sub-tasks with parents"
        );
        let backlog_returns = issues.iter().filter(|issue| {
            issue.histories.iter().flat_map(|h| &h.items).any(|item| {
                matches!(item, Item::Status { from, to } if STATUSES[*from].category != Category::New && STATUSES[*to].category == Category::New)
            })
        });
        assert!(
            backlog_returns.count() > 20,
            "backlog returns and reopenings"
        );
        let mean =
            issues.iter().map(|i| i.histories.len()).sum::<usize>() as f64 / issues.len() as f64;
        assert!((5.0..=20.0).contains(&mean), "mean histories {mean}");
    }

    #[test]
    fn a_mutation_round_moves_the_issue_forward_in_time() {
        let population = population();
        let before = population.issue(5, &[]);
        let later = EPOCH_END_MS + 1_000_000;
        let after = population.issue(5, &[later]);
        assert!(after.histories.len() > before.histories.len());
        assert!(after.updated_ms() >= later);
        assert_eq!(
            &after.histories[..before.histories.len()],
            &before.histories[..]
        );
    }
}
