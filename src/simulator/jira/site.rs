//! The simulated Jira site's state: the generated population plus a compact search index
//! (8 bytes per issue for `updated`, one ordered set), so 100,000 issues stay small.

use std::collections::BTreeSet;

use super::issues::{Issue, Population};
use super::jql::{JqlError, Order, Query};
use super::render;

/// Where a page ended: the sort key of the last issue returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub updated_ms: i64,
    pub index: u32,
}

pub struct JiraSite {
    pub population: Population,
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
            updated_ms,
            by_updated,
        }
    }

    pub fn issue_count(&self) -> u32 {
        self.population.issues
    }

    pub fn issue(&self, index: u32) -> Issue {
        self.population.issue(index, &[])
    }

    /// An issue by numeric id (`10042`) or key (`CORE-15`).
    pub fn find(&self, id_or_key: &str) -> Option<u32> {
        let index = if let Ok(id) = id_or_key.parse::<u64>() {
            id.checked_sub(10_000)?
        } else {
            let (key, number) = id_or_key.rsplit_once('-')?;
            let project = (0..self.population.projects)
                .find(|p| render::project_key(*p).eq_ignore_ascii_case(key))?;
            let number: u64 = number.parse().ok()?;
            (number.checked_sub(1)?) * self.population.projects as u64 + project as u64
        };
        u32::try_from(index)
            .ok()
            .filter(|i| *i < self.population.issues)
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

    /// One page of matching issue indexes after `after`, and whether more follow.
    pub fn search(
        &self,
        query: &Query,
        after: Option<Cursor>,
        limit: usize,
    ) -> Result<(Vec<u32>, bool), JqlError> {
        let projects = self.project_filter(query)?;
        let updated_from = query.updated_from_ms.unwrap_or(i64::MIN);
        let created_from = query.created_from_ms.unwrap_or(i64::MIN);
        let matches = |index: u32| {
            self.updated_ms[index as usize] >= updated_from
                && projects
                    .as_ref()
                    .is_none_or(|p| p.contains(&self.population.project_of(index)))
                && (created_from == i64::MIN || self.population.created_ms(index) >= created_from)
        };
        let take = limit + 1;
        let mut found: Vec<u32> = match query.order {
            Order::UpdatedAsc => {
                let start = after.map_or((updated_from, 0), |c| (c.updated_ms, c.index));
                self.by_updated
                    .range(start..)
                    .filter(|key| Some(**key) != after.map(|c| (c.updated_ms, c.index)))
                    .map(|(_, index)| *index)
                    .filter(|i| matches(*i))
                    .take(take)
                    .collect()
            }
            Order::UpdatedDesc => {
                let end = after.map_or((i64::MAX, u32::MAX), |c| (c.updated_ms, c.index));
                self.by_updated
                    .range(..end)
                    .rev()
                    .map(|(_, index)| *index)
                    .filter(|i| matches(*i))
                    .take(take)
                    .collect()
            }
            Order::CreatedAsc => {
                let start = after.map_or(0, |c| c.index + 1);
                (start..self.population.issues)
                    .filter(|i| matches(*i))
                    .take(take)
                    .collect()
            }
            Order::CreatedDesc => {
                let end = after.map_or(self.population.issues, |c| c.index);
                (0..end).rev().filter(|i| matches(*i)).take(take).collect()
            }
        };
        let more = found.len() > limit;
        found.truncate(limit);
        Ok((found, more))
    }

    pub fn cursor_of(&self, index: u32) -> Cursor {
        Cursor {
            updated_ms: self.updated_ms[index as usize],
            index,
        }
    }

    /// Histories and status transitions over every issue, for `/_sim/stats`.
    pub fn truth(&self) -> (u64, u64) {
        (0..self.population.issues).fold((0, 0), |(histories, transitions), index| {
            let issue = self.issue(index);
            (
                histories + issue.histories.len() as u64,
                transitions + issue.status_transitions() as u64,
            )
        })
    }
}
