//! The simulated GitHub organisation's state: generated pull requests, activity since
//! start-up, and per-repository ordering by `updated_at` for `sort=updated` listings.

use std::collections::{BTreeSet, HashMap};
use std::sync::{RwLock, RwLockReadGuard};

use super::pulls::{Population, Pull};
use crate::simulator::rng::Stream;

pub const ORG: &str = "sim-org";

pub fn repo_name(repo: usize) -> String {
    format!("repo-{repo}")
}

pub fn repo_full_name(repo: usize) -> String {
    format!("{ORG}/{}", repo_name(repo))
}

/// Ground truth over all pull requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GithubTruth {
    pub prs: u64,
    pub reviews: u64,
    pub commits: u64,
    pub comments: u64,
}

pub struct GithubSite {
    pub population: Population,
    state: RwLock<Activity>,
}

struct Activity {
    count: u32,
    added_created_ms: Vec<i64>,
    rounds_ms: Vec<i64>,
    touched: HashMap<u32, Vec<usize>>,
    updated_ms: Vec<i64>,
    /// Per repository: (updated, index).
    by_updated: Vec<BTreeSet<(i64, u32)>>,
}

/// Which pull requests a listing wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateFilter {
    Open,
    Closed,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sort {
    Created,
    Updated,
}

impl GithubSite {
    pub fn new(population: Population) -> Self {
        let repos = population.repos.max(1);
        let mut by_updated = vec![BTreeSet::new(); repos];
        let updated_ms: Vec<i64> = (0..population.pulls)
            .map(|index| {
                let updated = population.pull(index, &[]).updated_ms();
                by_updated[population.repo_of(index)].insert((updated, index));
                updated
            })
            .collect();
        GithubSite {
            population,
            state: RwLock::new(Activity {
                count: population.pulls,
                added_created_ms: Vec::new(),
                rounds_ms: Vec::new(),
                touched: HashMap::new(),
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

    fn generate(&self, activity: &Activity, index: u32) -> Pull {
        let rounds: Vec<i64> = activity
            .touched
            .get(&index)
            .map(|rounds| rounds.iter().map(|r| activity.rounds_ms[*r]).collect())
            .unwrap_or_default();
        match index.checked_sub(self.population.pulls) {
            None => self.population.pull(index, &rounds),
            Some(added) => self.population.pull_created_at(
                index,
                activity.added_created_ms[added as usize],
                &rounds,
            ),
        }
    }

    /// The repository index for `owner/name`.
    pub fn repo(&self, owner: &str, name: &str) -> Option<usize> {
        (owner == ORG)
            .then(|| (0..self.population.repos).find(|r| repo_name(*r) == name))
            .flatten()
    }

    pub fn pull(&self, repo: usize, number: u64) -> Option<Pull> {
        let activity = self.read();
        let index = self.population.index_of(repo, number, activity.count)?;
        Some(self.generate(&activity, index))
    }

    /// A repository's pull requests in listing order, filtered by state.
    pub fn list(&self, repo: usize, state: StateFilter, sort: Sort, descending: bool) -> Vec<Pull> {
        let activity = self.read();
        let indexes: Vec<u32> = match sort {
            Sort::Updated => activity.by_updated[repo]
                .iter()
                .map(|(_, index)| *index)
                .collect(),
            Sort::Created => (0..activity.count)
                .filter(|i| self.population.repo_of(*i) == repo)
                .collect(),
        };
        let ordered: Box<dyn Iterator<Item = &u32>> = if descending {
            Box::new(indexes.iter().rev())
        } else {
            Box::new(indexes.iter())
        };
        ordered
            .map(|index| self.generate(&activity, *index))
            .filter(|pull| match state {
                StateFilter::All => true,
                StateFilter::Open => pull.closed_ms.is_none(),
                StateFilter::Closed => pull.closed_ms.is_some(),
            })
            .collect()
    }

    /// A repository's pull requests with any activity at or after `since_ms`.
    pub fn touched_since(&self, repo: usize, since_ms: Option<i64>) -> Vec<Pull> {
        let activity = self.read();
        activity.by_updated[repo]
            .range((since_ms.unwrap_or(i64::MIN), 0)..)
            .map(|(_, index)| self.generate(&activity, *index))
            .collect()
    }

    /// Adds reviews or comments (and some merges) to a `fraction` of pull requests at
    /// `now_ms`, and opens a few new ones; returns (changed, added).
    pub fn mutate(&self, fraction: f64, now_ms: i64) -> (u64, u64) {
        let mut activity = self
            .state
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let round = activity.rounds_ms.len();
        let at = activity
            .rounds_ms
            .last()
            .map_or(now_ms, |last| now_ms.max(last + 1_000));
        activity.rounds_ms.push(at);
        let mut changed = 0;
        for index in 0..activity.count {
            let mut pick = Stream::new(
                self.population.seed,
                &[0x6175, round as u64, u64::from(index)],
            );
            if !pick.chance(fraction) {
                continue;
            }
            activity.touched.entry(index).or_default().push(round);
            let updated = self.generate(&activity, index).updated_ms();
            let previous = std::mem::replace(&mut activity.updated_ms[index as usize], updated);
            let repo = self.population.repo_of(index);
            activity.by_updated[repo].remove(&(previous, index));
            activity.by_updated[repo].insert((updated, index));
            changed += 1;
        }
        let added = if fraction > 0.0 {
            ((f64::from(activity.count) * fraction / 10.0).round() as u64).max(1)
        } else {
            0
        };
        for _ in 0..added {
            let index = activity.count;
            activity.count += 1;
            activity.added_created_ms.push(at);
            let updated = self.generate(&activity, index).updated_ms();
            activity.updated_ms.push(updated);
            activity.by_updated[self.population.repo_of(index)].insert((updated, index));
        }
        (changed, added)
    }

    pub fn truth(&self) -> GithubTruth {
        let activity = self.read();
        (0..activity.count).fold(GithubTruth::default(), |truth, index| {
            let pull = self.generate(&activity, index);
            GithubTruth {
                prs: truth.prs + 1,
                reviews: truth.reviews + pull.reviews.len() as u64,
                commits: truth.commits + pull.commits.len() as u64,
                comments: truth.comments
                    + (pull.review_comments.len() + pull.issue_comments.len()) as u64,
            }
        })
    }
}
