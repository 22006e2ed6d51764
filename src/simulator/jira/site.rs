//! The simulated Jira site's state: the generated population, what activity and deletions
//! happened since start-up, and a compact search index (8 bytes per issue for `updated`,
//! one ordered set), so 100,000 issues stay small.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use super::issues::{purpose, Issue, Population};
use super::jql::{JqlError, Order, Query};
use super::render;
use crate::simulator::rng::Stream;

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
    state: RwLock<Activity>,
}

/// Everything that changed since start-up.
struct Activity {
    /// Issues ever created (initial population plus added ones, deleted included).
    count: u32,
    /// Creation times of issues added after start-up, by `index - population.issues`.
    added_created_ms: Vec<i64>,
    /// When each mutation round happened.
    rounds_ms: Vec<i64>,
    /// The rounds each touched issue took part in.
    touched: HashMap<u32, Vec<usize>>,
    deleted: HashSet<u32>,
    updated_ms: Vec<i64>,
    by_updated: BTreeSet<(i64, u32)>,
}

impl JiraSite {
    pub fn new(population: Population) -> Self {
        let updated_ms: Vec<i64> = (0..population.issues)
            .map(|index| population.issue(index, &[]).updated_ms())
            .collect();
        let by_updated = updated_ms
            .iter()
            .enumerate()
            .map(|(index, ms)| (*ms, index as u32))
            .collect();
        JiraSite {
            population,
            state: RwLock::new(Activity {
                count: population.issues,
                added_created_ms: Vec::new(),
                rounds_ms: Vec::new(),
                touched: HashMap::new(),
                deleted: HashSet::new(),
                updated_ms,
                by_updated,
            }),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Activity> {
        self.state
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Activity> {
        self.state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn generate(&self, activity: &Activity, index: u32) -> Issue {
        let rounds: Vec<i64> = activity
            .touched
            .get(&index)
            .map(|rounds| rounds.iter().map(|r| activity.rounds_ms[*r]).collect())
            .unwrap_or_default();
        match index.checked_sub(self.population.issues) {
            None => self.population.issue(index, &rounds),
            Some(added) => self.population.issue_created_at(
                index,
                activity.added_created_ms[added as usize],
                &rounds,
            ),
        }
    }

    /// A live issue by numeric id (`10042`) or key (`CORE-15`).
    pub fn find(&self, id_or_key: &str) -> Option<Issue> {
        let activity = self.read();
        let index = if let Ok(id) = id_or_key.parse::<u64>() {
            id.checked_sub(10_000)?
        } else {
            let (key, number) = id_or_key.rsplit_once('-')?;
            let project = (0..self.population.projects)
                .find(|p| render::project_key(*p).eq_ignore_ascii_case(key))?;
            let number: u64 = number.parse().ok()?;
            (number.checked_sub(1)?) * self.population.projects as u64 + project as u64
        };
        let index = u32::try_from(index)
            .ok()
            .filter(|i| *i < activity.count && !activity.deleted.contains(i))?;
        Some(self.generate(&activity, index))
    }

    /// Project indexes for the query's keys; an unknown key is Jira's 400.
    fn project_filter(&self, query: &Query) -> Result<Option<Vec<usize>>, JqlError> {
        let Some(keys) = &query.projects else {
            return Ok(None);
        };
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
            .map(Some)
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
        let updated_from = query.updated_from_ms.unwrap_or(i64::MIN);
        let created_from = query.created_from_ms.unwrap_or(i64::MIN);
        let created_ms = |index: u32| match index.checked_sub(self.population.issues) {
            None => self.population.created_ms(index),
            Some(added) => activity.added_created_ms[added as usize],
        };
        let matches = |index: u32| {
            !activity.deleted.contains(&index)
                && activity.updated_ms[index as usize] >= updated_from
                && projects
                    .as_ref()
                    .is_none_or(|p| p.contains(&self.population.project_of(index)))
                && (created_from == i64::MIN || created_ms(index) >= created_from)
        };
        let take = limit + 1;
        let mut found: Vec<u32> = match query.order {
            Order::UpdatedAsc => {
                let start = after.map_or((updated_from, 0), |c| (c.updated_ms, c.index));
                let skip = after.map(|c| (c.updated_ms, c.index));
                activity
                    .by_updated
                    .range(start..)
                    .filter(|key| Some(**key) != skip)
                    .map(|(_, index)| *index)
                    .filter(|i| matches(*i))
                    .take(take)
                    .collect()
            }
            Order::UpdatedDesc => {
                let end = after.map_or((i64::MAX, u32::MAX), |c| (c.updated_ms, c.index));
                activity
                    .by_updated
                    .range(..end)
                    .rev()
                    .map(|(_, index)| *index)
                    .filter(|i| matches(*i))
                    .take(take)
                    .collect()
            }
            Order::CreatedAsc => {
                let start = after.map_or(0, |c| c.index + 1);
                (start..activity.count)
                    .filter(|i| matches(*i))
                    .take(take)
                    .collect()
            }
            Order::CreatedDesc => {
                let end = after.map_or(activity.count, |c| c.index);
                (0..end).rev().filter(|i| matches(*i)).take(take).collect()
            }
        };
        let more = found.len() > limit;
        found.truncate(limit);
        let cursor = found.last().map(|index| Cursor {
            updated_ms: activity.updated_ms[*index as usize],
            index: *index,
        });
        let issues = found
            .iter()
            .map(|index| self.generate(&activity, *index))
            .collect();
        Ok((issues, cursor, more))
    }

    /// Moves a `fraction` of live issues forward at `now_ms` (new transitions, `updated`
    /// bumped) and adds a few new issues; returns (changed, added).
    pub fn mutate(&self, fraction: f64, now_ms: i64) -> (u64, u64) {
        let mut activity = self.write();
        let round = activity.rounds_ms.len();
        let at = activity
            .rounds_ms
            .last()
            .map_or(now_ms, |last| now_ms.max(last + 1_000));
        activity.rounds_ms.push(at);
        let mut changed = 0;
        for index in 0..activity.count {
            if activity.deleted.contains(&index) {
                continue;
            }
            let mut pick = Stream::new(
                self.population.seed,
                &[purpose::PICK, round as u64, u64::from(index)],
            );
            if !pick.chance(fraction) {
                continue;
            }
            activity.touched.entry(index).or_default().push(round);
            let updated = self.generate(&activity, index).updated_ms();
            let previous = std::mem::replace(&mut activity.updated_ms[index as usize], updated);
            activity.by_updated.remove(&(previous, index));
            activity.by_updated.insert((updated, index));
            changed += 1;
        }
        let live = u64::from(activity.count) - activity.deleted.len() as u64;
        let added = if fraction > 0.0 {
            ((live as f64 * fraction / 10.0).round() as u64).max(1)
        } else {
            0
        };
        for _ in 0..added {
            let index = activity.count;
            activity.count += 1;
            activity.added_created_ms.push(at);
            activity.updated_ms.push(at);
            activity.by_updated.insert((at, index));
        }
        (changed, added)
    }

    /// Deletes a `fraction` of live issues (at least one when any is live); returns how many.
    pub fn delete(&self, fraction: f64) -> u64 {
        let mut activity = self.write();
        let round = activity.rounds_ms.len() as u64 + activity.deleted.len() as u64;
        let live: Vec<u32> = (0..activity.count)
            .filter(|i| !activity.deleted.contains(i))
            .collect();
        let wanted = ((live.len() as f64 * fraction).round() as usize)
            .max(usize::from(!live.is_empty()))
            .min(live.len());
        let mut pick = Stream::new(self.population.seed, &[purpose::PICK, u64::MAX, round]);
        let mut removed = 0;
        while removed < wanted {
            let index = live[pick.below(live.len() as u64) as usize];
            if activity.deleted.insert(index) {
                let updated = activity.updated_ms[index as usize];
                activity.by_updated.remove(&(updated, index));
                removed += 1;
            }
        }
        removed as u64
    }

    /// Counts over the live issues, for `/_sim/stats`.
    pub fn truth(&self) -> JiraTruth {
        let activity = self.read();
        (0..activity.count)
            .filter(|i| !activity.deleted.contains(i))
            .fold(JiraTruth::default(), |truth, index| {
                let issue = self.generate(&activity, index);
                JiraTruth {
                    issues: truth.issues + 1,
                    histories: truth.histories + issue.histories.len() as u64,
                    status_transitions: truth.status_transitions
                        + issue.status_transitions() as u64,
                }
            })
    }
}
