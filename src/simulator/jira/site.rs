//! The simulated Jira site: the generated population, its activity since start-up, and
//! JQL search over a compact index (8 bytes per issue for `updated`, one ordered set), so
//! 100,000 issues stay small.

use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::catalog::ISSUE_TYPES;
use super::issues::{purpose, Issue, Population};
use super::jql::{JqlError, Order, Query};
use super::render;
use crate::simulator::activity::{Activity, Round};

/// Where a page ended: the sort key of the last issue returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub updated_ms: i64,
    pub index: u32,
}

/// Ground truth over the live issues.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JiraTruth {
    pub issues: u64,
    pub histories: u64,
    pub status_transitions: u64,
}

pub struct JiraSite {
    pub population: Population,
    activity: RwLock<Activity>,
}

fn one_bucket(_: u32, _: usize) -> usize {
    0
}

impl JiraSite {
    pub fn new(population: Population) -> Self {
        let updated: Vec<i64> = (0..population.issues)
            .map(|index| population.issue(index, &[]).updated_ms())
            .collect();
        JiraSite {
            population,
            activity: RwLock::new(Activity::new(updated, 1, one_bucket)),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Activity> {
        self.activity
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Activity> {
        self.activity
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn generate(population: &Population, activity: &Activity, index: u32) -> Issue {
        let rounds = activity.rounds_of(index);
        match activity.added_created_ms(index) {
            None => population.issue(index, &rounds),
            Some(created) => population.issue_created_at(index, created, &rounds),
        }
    }

    /// A live issue by numeric id (`10042`) or key (`CORE-15`).
    pub fn find(&self, id_or_key: &str) -> Option<Issue> {
        let index = if let Ok(id) = id_or_key.parse::<u64>() {
            u64::from(render::issue_index(id)?)
        } else {
            let (key, number) = id_or_key.rsplit_once('-')?;
            let project = (0..self.population.projects)
                .find(|p| render::project_key(*p).eq_ignore_ascii_case(key))?;
            let number: u64 = number.parse().ok()?;
            (number.checked_sub(1)?) * self.population.projects as u64 + project as u64
        };
        let index = u32::try_from(index).ok()?;
        let activity = self.read();
        activity
            .is_live(index)
            .then(|| Self::generate(&self.population, &activity, index))
    }

    /// A live issue by index.
    pub fn by_index(&self, index: u32) -> Option<Issue> {
        let activity = self.read();
        activity
            .is_live(index)
            .then(|| Self::generate(&self.population, &activity, index))
    }

    /// Every live issue's index and `updated` time, in index order.
    pub fn live_updated(&self) -> Vec<(u32, i64)> {
        let activity = self.read();
        activity
            .live()
            .map(|index| (index, activity.updated_ms(index)))
            .collect()
    }

    /// Project indexes for the query's keys (left out: those it excludes); an unknown key
    /// is Jira's 400.
    fn project_filter(&self, query: &Query) -> Result<Option<Vec<usize>>, JqlError> {
        let indexes = |keys: &[String]| {
            keys.iter()
                .map(|key| {
                    (0..self.population.projects)
                        .find(|p| render::project_key(*p) == *key)
                        .ok_or_else(|| {
                            JqlError(format!(
                                "The value '{key}' does not exist for the field 'project'."
                            ))
                        })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        let excluded = indexes(&query.excluded_projects)?;
        let included = match &query.projects {
            Some(keys) => Some(indexes(keys)?),
            None if excluded.is_empty() => None,
            None => Some((0..self.population.projects).collect()),
        };
        Ok(included.map(|mut projects| {
            projects.retain(|p| !excluded.contains(p));
            projects
        }))
    }

    /// One page of matching live issues after `after`, the cursor of its last issue, and
    /// whether more follow.
    pub fn search(
        &self,
        query: &Query,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<(Vec<Issue>, Option<Cursor>, bool), JqlError> {
        let projects = self.project_filter(query)?;
        let activity = self.read();
        // Issues asked for by id: each must exist, and only they are walked.
        let by_id: Option<std::collections::BTreeSet<(i64, u32)>> = match &query.ids {
            None => None,
            Some(ids) => Some(
                ids.iter()
                    .map(|id| {
                        render::issue_index(*id)
                            .filter(|index| activity.is_live(*index))
                            .map(|index| (activity.updated_ms(index), index))
                            .ok_or_else(|| {
                                JqlError(format!(
                                    "An issue with key '{id}' does not exist for field 'id'."
                                ))
                            })
                    })
                    .collect::<Result<_, _>>()?,
            ),
        };
        let updated_from = query.updated_from_ms.unwrap_or(i64::MIN);
        let created_ms = |index: u32| {
            activity
                .added_created_ms(index)
                .unwrap_or_else(|| self.population.created_ms(index))
        };
        let matches = |index: u32| {
            activity.is_live(index)
                && activity.updated_ms(index) >= updated_from
                && projects
                    .as_ref()
                    .is_none_or(|p| p.contains(&self.population.project_of(index)))
                && query
                    .created_from_ms
                    .is_none_or(|from| created_ms(index) >= from)
                && by_id
                    .as_ref()
                    .is_none_or(|ids| ids.contains(&(activity.updated_ms(index), index)))
                && (query.labels.is_none() && query.types.is_none() || {
                    let issue = Self::generate(&self.population, &activity, index);
                    let type_name = ISSUE_TYPES[issue.issue_type].name.to_lowercase();
                    query.labels.as_ref().is_none_or(|labels| {
                        issue
                            .labels
                            .iter()
                            .any(|l| labels.contains(&l.to_lowercase()))
                    }) && query
                        .types
                        .as_ref()
                        .is_none_or(|types| types.contains(&type_name))
                })
        };
        let take = limit + 1;
        let ordered = by_id.as_ref().unwrap_or_else(|| activity.by_updated(0));
        let mut found: Vec<u32> = match query.order {
            Order::UpdatedAsc => {
                let start = after.map_or((updated_from, 0), |c| (c.updated_ms, c.index));
                let skip = after.map(|c| (c.updated_ms, c.index));
                ordered
                    .range(start..)
                    .filter(|key| Some(**key) != skip)
                    .map(|(_, index)| *index)
                    .filter(|i| matches(*i))
                    .take(take)
                    .collect()
            }
            Order::UpdatedDesc => {
                let end = after.map_or((i64::MAX, u32::MAX), |c| (c.updated_ms, c.index));
                ordered
                    .range(..end)
                    .rev()
                    .map(|(_, index)| *index)
                    .filter(|i| matches(*i))
                    .take(take)
                    .collect()
            }
            Order::CreatedAsc => {
                let start = after.map_or(0, |c| c.index + 1);
                (start..activity.count())
                    .filter(|i| matches(*i))
                    .take(take)
                    .collect()
            }
            Order::CreatedDesc => {
                let end = after.map_or(activity.count(), |c| c.index);
                (0..end).rev().filter(|i| matches(*i)).take(take).collect()
            }
        };
        let more = found.len() > limit;
        found.truncate(limit);
        let cursor = found.last().map(|index| Cursor {
            updated_ms: activity.updated_ms(*index),
            index: *index,
        });
        let issues = found
            .iter()
            .map(|index| Self::generate(&self.population, &activity, *index))
            .collect();
        Ok((issues, cursor, more))
    }

    /// Moves a `fraction` of live issues forward at `now_ms` (new transitions, `updated`
    /// bumped) and adds a few new issues.
    pub fn mutate(&self, fraction: f64, now_ms: i64) -> Round {
        let population = self.population;
        self.write().round(
            population.seed,
            purpose::PICK,
            fraction,
            now_ms,
            |activity, index| Self::generate(&population, activity, index).updated_ms(),
        )
    }

    /// Deletes a `fraction` of live issues (at least one when any is live); returns their
    /// indexes.
    pub fn delete(&self, fraction: f64) -> Vec<u32> {
        self.write()
            .delete(self.population.seed, purpose::PICK, fraction)
    }

    /// Counts over the live issues, for `/_sim/stats`.
    pub fn truth(&self) -> JiraTruth {
        let activity = self.read();
        activity.live().fold(JiraTruth::default(), |truth, index| {
            let issue = Self::generate(&self.population, &activity, index);
            JiraTruth {
                issues: truth.issues + 1,
                histories: truth.histories + issue.histories.len() as u64,
                status_transitions: truth.status_transitions + issue.status_transitions() as u64,
            }
        })
    }
}
