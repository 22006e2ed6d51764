//! The simulated GitHub organisation: generated pull requests, their activity since
//! start-up, and per-repository ordering by `updated_at` for `sort=updated` listings.

use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard};

use super::deployments::{self, Delivery};
use super::pulls::{Population, Pull};
use crate::simulator::activity::{Activity, Round};
use crate::simulator::jira::issues::Population as JiraPopulation;
use crate::simulator::links::keys_of_pull;

pub const ORG: &str = "sim-org";

/// Keys the random picks of activity rounds.
const ACTIVITY_SALT: u64 = 0x6175;

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
    /// The Jira site whose issue keys pull requests carry.
    jira: JiraPopulation,
    activity: RwLock<Activity>,
    /// Each repository's deployments and releases, as of an activity version.
    delivery: Mutex<Option<(ActivityVersion, Arc<Vec<Delivery>>)>>,
}

type ActivityVersion = (usize, usize, u32);

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

/// Pull request `index` lives in repository `index mod repos`.
fn repo_bucket(index: u32, repos: usize) -> usize {
    index as usize % repos
}

impl GithubSite {
    pub fn new(population: Population, jira: JiraPopulation) -> Self {
        let updated: Vec<i64> = (0..population.pulls)
            .map(|index| population.pull(index, &[]).updated_ms())
            .collect();
        GithubSite {
            population,
            jira,
            activity: RwLock::new(Activity::new(updated, population.repos, repo_bucket)),
            delivery: Mutex::new(None),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Activity> {
        self.activity
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Pull request `index` as it is now, naming the keys of the Jira issues linked to it
    /// in its title and branch.
    fn generate(&self, activity: &Activity, index: u32) -> Pull {
        let rounds = activity.rounds_of(index);
        let mut pull = match activity.added_created_ms(index) {
            None => self.population.pull(index, &rounds),
            Some(created) => self.population.pull_created_at(index, created, &rounds),
        };
        let keys = keys_of_pull(&self.jira, index, self.population.pulls);
        if let Some(first) = keys.first() {
            pull.title = format!("{} {}", keys.join(" "), pull.title);
            pull.head_ref = format!("feature/{first}");
        }
        pull
    }

    /// The repository index for `owner/name`.
    pub fn repo(&self, owner: &str, name: &str) -> Option<usize> {
        (owner == ORG)
            .then(|| (0..self.population.repos).find(|r| repo_name(*r) == name))
            .flatten()
    }

    pub fn pull(&self, repo: usize, number: u64) -> Option<Pull> {
        let activity = self.read();
        let index = self.population.index_of(repo, number, activity.count())?;
        Some(self.generate(&activity, index))
    }

    /// A repository's pull requests in listing order, filtered by state.
    pub fn list(&self, repo: usize, state: StateFilter, sort: Sort, descending: bool) -> Vec<Pull> {
        let activity = self.read();
        let mut indexes: Vec<u32> = match sort {
            Sort::Updated => activity
                .by_updated(repo)
                .iter()
                .map(|(_, index)| *index)
                .collect(),
            Sort::Created => activity
                .live()
                .filter(|i| self.population.repo_of(*i) == repo)
                .collect(),
        };
        if descending {
            indexes.reverse();
        }
        indexes
            .into_iter()
            .map(|index| self.generate(&activity, index))
            .filter(|pull| match state {
                StateFilter::All => true,
                StateFilter::Open => pull.closed_ms.is_none(),
                StateFilter::Closed => pull.closed_ms.is_some(),
            })
            .collect()
    }

    /// A slice of a repository's pull requests ordered by `updated_at` (newest first when
    /// `descending`), generating only the slice; with the repository's count.
    pub fn page_by_updated(
        &self,
        repo: usize,
        skip: usize,
        take: usize,
        descending: bool,
    ) -> (Vec<Pull>, usize) {
        let activity = self.read();
        let ordered = activity.by_updated(repo);
        let in_order: Box<dyn Iterator<Item = &(i64, u32)>> = if descending {
            Box::new(ordered.iter().rev())
        } else {
            Box::new(ordered.iter())
        };
        let page = in_order
            .skip(skip)
            .take(take)
            .map(|(_, index)| self.generate(&activity, *index))
            .collect();
        (page, ordered.len())
    }

    /// A live pull request by its id (`Pull::id`).
    pub fn pull_by_id(&self, id: u64) -> Option<Pull> {
        let activity = self.read();
        let index = u32::try_from(id.checked_sub(super::pulls::PULL_ID_BASE)?).ok()?;
        activity
            .is_live(index)
            .then(|| self.generate(&activity, index))
    }

    /// A repository's pull requests with any activity at or after `since_ms`.
    pub fn touched_since(&self, repo: usize, since_ms: Option<i64>) -> Vec<Pull> {
        let activity = self.read();
        activity
            .by_updated(repo)
            .range((since_ms.unwrap_or(i64::MIN), 0)..)
            .map(|(_, index)| self.generate(&activity, *index))
            .collect()
    }

    /// Adds reviews or comments (and some merges) to a `fraction` of pull requests at
    /// `now_ms`, and opens a few new ones.
    pub fn mutate(&self, fraction: f64, now_ms: i64) -> Round {
        let population = self.population;
        let mut activity = self
            .activity
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        activity.round(
            population.seed,
            ACTIVITY_SALT,
            fraction,
            now_ms,
            |activity, index| self.generate(activity, index).updated_ms(),
        )
    }

    /// Every repository's deployments and releases as the pull requests stand now (derived
    /// once per activity version).
    pub fn delivery(&self) -> Arc<Vec<Delivery>> {
        let activity = self.read();
        let mut cached = self
            .delivery
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((version, delivery)) = cached.as_ref() {
            if *version == activity.version() {
                return delivery.clone();
            }
        }
        let mut by_repo: Vec<Vec<Pull>> = vec![Vec::new(); self.population.repos.max(1)];
        for index in activity.live() {
            let pull = self.generate(&activity, index);
            if pull.merged_ms.is_some() {
                by_repo[pull.repo].push(pull);
            }
        }
        let delivery: Arc<Vec<Delivery>> = Arc::new(
            by_repo
                .iter()
                .enumerate()
                .map(|(repo, pulls)| deployments::of_repository(self.population.seed, repo, pulls))
                .collect(),
        );
        *cached = Some((activity.version(), delivery.clone()));
        delivery
    }

    pub fn truth(&self) -> GithubTruth {
        let activity = self.read();
        activity
            .live()
            .fold(GithubTruth::default(), |truth, index| {
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
