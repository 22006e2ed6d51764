//! The simulated Azure DevOps organization: the generated issue population seen as work
//! items (id = index + 1), each issue's changelog as numbered revisions, the reporting
//! stream's order over every revision, its pull requests, and ground truth.

use std::sync::{Arc, RwLock};

use super::pulls::{AzurePulls, PullTruth};
use crate::simulator::github::pulls::Population as PullPopulation;
use crate::simulator::jira::catalog::{Category, StatusRef, ISSUE_TYPES, STATUSES};
use crate::simulator::jira::issues::{Issue, Item, Population};
use crate::simulator::jira::site::JiraSite;

/// The organization's projects, in the population's project order (one name has a space,
/// as real ones often do).
pub const PROJECTS: &[&str] = &["Fabrikam Fiber", "Tailspin"];

/// The organization's one custom field; every work item of the second project carries it.
pub const CUSTOM_FIELD: (&str, &str) = ("Custom.Severity", "Severity");

/// A work item's state name: the status's untranslated name (Azure states have one name).
pub fn state_name(status: StatusRef) -> &'static str {
    STATUSES[status].untranslated_name
}

/// The Azure state category of a status.
pub fn state_category(status: StatusRef) -> &'static str {
    match STATUSES[status].category {
        Category::New => "Proposed",
        Category::Indeterminate => "InProgress",
        Category::Done => "Completed",
    }
}

/// Every state, once per name, in catalog order.
pub fn states() -> Vec<StatusRef> {
    let mut seen = Vec::new();
    (0..STATUSES.len())
        .filter(|status| {
            let fresh = !seen.contains(&state_name(*status));
            seen.push(state_name(*status));
            fresh
        })
        .collect()
}

pub fn type_name(issue_type: usize) -> &'static str {
    ISSUE_TYPES[issue_type].name
}

pub fn work_item_id(index: u32) -> u64 {
    u64::from(index) + 1
}

pub fn index_of(id: u64) -> Option<u32> {
    u32::try_from(id.checked_sub(1)?).ok()
}

/// One revision: its number, when, by whom (a user index) and the state after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Revision {
    pub rev: u64,
    pub changed_ms: i64,
    pub by: u64,
    pub state: StatusRef,
}

/// An issue's revisions: the first at creation in the state it began in, then one per
/// changelog entry.
pub fn revisions(issue: &Issue) -> Vec<Revision> {
    let initial = issue
        .histories
        .iter()
        .flat_map(|h| &h.items)
        .find_map(|item| match item {
            Item::Status { from, .. } => Some(*from),
            _ => None,
        })
        .unwrap_or(issue.status);
    let mut state = initial;
    let mut out = vec![Revision {
        rev: 1,
        changed_ms: issue.created_ms,
        by: issue.reporter,
        state,
    }];
    for (n, history) in issue.histories.iter().enumerate() {
        for item in &history.items {
            if let Item::Status { to, .. } = item {
                state = *to;
            }
        }
        out.push(Revision {
            rev: n as u64 + 2,
            changed_ms: history.created_ms,
            by: history.author,
            state,
        });
    }
    out
}

/// Revisions whose state name differs from the one before: the transitions a reader sees.
pub fn state_transitions(revisions: &[Revision]) -> u64 {
    revisions
        .windows(2)
        .filter(|pair| state_name(pair[0].state) != state_name(pair[1].state))
        .count() as u64
}

/// A position in the reporting stream: (changed, work item id, revision).
pub type StreamKey = (i64, u64, u64);

/// Ground truth over the live work items.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AzureTruth {
    pub work_items: u64,
    pub revisions: u64,
    pub state_transitions: u64,
    pub pulls: PullTruth,
}

/// The stream's order over every revision, with the live items' `updated` times it was
/// built from.
type StreamIndex = (Vec<(u32, i64)>, Arc<Vec<StreamKey>>);

pub struct AzureSite {
    pub items: JiraSite,
    pub pulls: AzurePulls,
    /// Rebuilt when the live items' `updated` times change.
    stream: RwLock<Option<StreamIndex>>,
}

impl AzureSite {
    pub fn new(population: Population, pulls: PullPopulation) -> Self {
        AzureSite {
            items: JiraSite::new(population),
            pulls: AzurePulls::new(pulls, population),
            stream: RwLock::new(None),
        }
    }

    pub fn project_of(&self, index: u32) -> usize {
        self.items.population.project_of(index) % PROJECTS.len()
    }

    /// Every revision of every live work item in stream order.
    pub fn stream(&self) -> Arc<Vec<StreamKey>> {
        let live = self.items.live_updated();
        if let Some((built_from, keys)) = self
            .stream
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
        {
            if *built_from == live {
                return keys.clone();
            }
        }
        let mut keys: Vec<StreamKey> = live
            .iter()
            .filter_map(|(index, _)| self.items.by_index(*index))
            .flat_map(|issue| {
                let id = work_item_id(issue.index);
                revisions(&issue)
                    .into_iter()
                    .map(move |r| (r.changed_ms, id, r.rev))
            })
            .collect();
        keys.sort_unstable();
        let keys = Arc::new(keys);
        *self.stream.write().unwrap_or_else(|p| p.into_inner()) = Some((live, keys.clone()));
        keys
    }

    pub fn truth(&self) -> AzureTruth {
        let live = self.items.live_updated();
        let items = live
            .iter()
            .filter_map(|(index, _)| self.items.by_index(*index))
            .fold(AzureTruth::default(), |truth, issue| {
                let revisions = revisions(&issue);
                AzureTruth {
                    work_items: truth.work_items + 1,
                    revisions: truth.revisions + revisions.len() as u64,
                    state_transitions: truth.state_transitions + state_transitions(&revisions),
                    pulls: PullTruth::default(),
                }
            });
        AzureTruth {
            pulls: self
                .pulls
                .truth(&live.iter().map(|(index, _)| *index).collect()),
            ..items
        }
    }
}
