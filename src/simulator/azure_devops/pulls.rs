//! The simulated Azure Repos: the generated pull request population seen through Azure's
//! rules. Repository `r` lives in project `r mod 2`; pull request `i` has id `i + 1`. A
//! merged pull request is completed, a closed one abandoned, an open one active, except
//! that one opened more than [`STALE_MS`] before the epoch end was abandoned by the
//! team's stale policy. Nothing happens on a pull request after it closed (Azure gives
//! pull requests no last-changed time, so a reader re-reads the active ones). Reviews that
//! approve or ask for changes are reviewer votes; work items linked to a pull request are
//! named by its work item references (even work item indexes) or by an `AB#id` mention in
//! its title (odd ones).

use std::collections::BTreeSet;

use super::site::{work_item_id, PROJECTS};
use crate::simulator::activity::Round;
use crate::simulator::github::pulls::{Population, Pull, Review, PULL_ID_BASE};
use crate::simulator::github::site::{GithubSite, Sort, StateFilter};
use crate::simulator::jira::issues::{Population as ItemPopulation, EPOCH_END_MS};
use crate::simulator::links::issues_of_pull;

/// Repositories of the organization.
pub const REPOSITORIES: usize = 3;
/// An open pull request opened this long before the epoch end counts as abandoned.
pub const STALE_MS: i64 = 60 * 24 * 3_600_000;

pub fn repository_name(repo: usize) -> String {
    format!("repo-{repo}")
}

pub fn repository_id(repo: usize) -> String {
    format!("2f3d6a1e-0000-4000-8000-{repo:012x}")
}

pub fn project_of_repository(repo: usize) -> usize {
    repo % PROJECTS.len()
}

/// A pull request's Azure status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Active,
    Completed,
    Abandoned,
}

impl Status {
    pub fn name(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Completed => "completed",
            Status::Abandoned => "abandoned",
        }
    }
}

/// A pull request as Azure Repos serves it.
#[derive(Debug, Clone)]
pub struct AzurePull {
    pub pull: Pull,
    pub status: Status,
    /// Work item ids in its work item references.
    pub refs: Vec<u64>,
}

impl AzurePull {
    pub fn id(&self) -> u64 {
        u64::from(self.pull.index) + 1
    }

    /// Reviews that cast a vote, with the vote.
    pub fn votes(&self) -> impl Iterator<Item = (&Review, i64)> {
        self.pull
            .reviews
            .iter()
            .filter_map(|review| vote_of(review).map(|vote| (review, vote)))
    }
}

/// A review's vote: approved (10, 5 with suggestions when it says something), changes asked
/// (−10 rejected, −5 waiting for the author, alternately); a plain comment casts none.
pub fn vote_of(review: &Review) -> Option<i64> {
    match review.state {
        "APPROVED" if review.body.is_empty() => Some(10),
        "APPROVED" => Some(5),
        "CHANGES_REQUESTED" if review.id % 2 == 0 => Some(-10),
        "CHANGES_REQUESTED" => Some(-5),
        _ => None,
    }
}

/// Ground truth over the pull requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PullTruth {
    pub prs: u64,
    pub reviews: u64,
    pub comments: u64,
    pub commits: u64,
    /// (work item, pull request) pairs.
    pub links: u64,
}

pub struct AzurePulls {
    site: GithubSite,
    work_items: ItemPopulation,
}

impl AzurePulls {
    pub fn new(population: Population, work_items: ItemPopulation) -> Self {
        // The pull requests name work items Azure's way, not by Jira keys.
        let no_keys = ItemPopulation {
            issues: 0,
            ..work_items
        };
        AzurePulls {
            site: GithubSite::new(population, no_keys),
            work_items,
        }
    }

    /// Indexes of the work items linked to pull request `index`.
    fn linked(&self, index: u32) -> Vec<u32> {
        issues_of_pull(&self.work_items, index, self.site.population.pulls)
    }

    fn view(&self, mut pull: Pull) -> AzurePull {
        let status = match (pull.merged_ms, pull.closed_ms) {
            (Some(_), _) => Status::Completed,
            (None, Some(_)) => Status::Abandoned,
            (None, None) if pull.created_ms < EPOCH_END_MS - STALE_MS => {
                pull.closed_ms = Some(EPOCH_END_MS - 1);
                Status::Abandoned
            }
            (None, None) => Status::Active,
        };
        if let Some(end) = pull.closed_ms {
            pull.reviews.retain(|r| r.submitted_ms <= end);
            pull.review_comments.retain(|c| c.updated_ms <= end);
            pull.issue_comments.retain(|c| c.updated_ms <= end);
            pull.commits.retain(|c| c.committed_ms <= end);
        }
        let (mut refs, mut mentions) = (Vec::new(), Vec::new());
        for item in self.linked(pull.index) {
            let id = work_item_id(item);
            if item % 2 == 0 {
                refs.push(id);
            } else {
                mentions.push(format!("AB#{id}"));
            }
        }
        if !mentions.is_empty() {
            pull.title = format!("{} {}", mentions.join(" "), pull.title);
        }
        AzurePull { pull, status, refs }
    }

    /// A live pull request by its id.
    pub fn by_id(&self, id: u64) -> Option<AzurePull> {
        let pull = self.site.pull_by_id(PULL_ID_BASE + id.checked_sub(1)?)?;
        Some(self.view(pull))
    }

    /// A project's pull requests, newest first (as Azure lists them).
    pub fn of_project(&self, project: usize) -> Vec<AzurePull> {
        let mut pulls: Vec<AzurePull> = (0..REPOSITORIES)
            .filter(|repo| project_of_repository(*repo) == project)
            .flat_map(|repo| self.site.list(repo, StateFilter::All, Sort::Created, false))
            .map(|pull| self.view(pull))
            .collect();
        pulls.sort_by_key(|pull| std::cmp::Reverse(pull.id()));
        pulls
    }

    /// Activity on a `fraction` of pull requests and a few new ones (what lands after a
    /// pull request closed is not shown); an organization without pull requests gets none.
    pub fn mutate(&self, fraction: f64, now_ms: i64) -> Round {
        if self.site.population.pulls == 0 {
            return Round::default();
        }
        self.site.mutate(fraction, now_ms)
    }

    /// `live_items`: the indexes of the work items that exist (deleted ones link nothing).
    pub fn truth(&self, live_items: &BTreeSet<u32>) -> PullTruth {
        let all: Vec<AzurePull> = (0..PROJECTS.len())
            .flat_map(|p| self.of_project(p))
            .collect();
        all.iter()
            .fold(PullTruth::default(), |truth, pr| PullTruth {
                prs: truth.prs + 1,
                reviews: truth.reviews + pr.votes().count() as u64,
                comments: truth.comments
                    + (pr.pull.review_comments.len() + pr.pull.issue_comments.len()) as u64,
                commits: truth.commits + pr.pull.commits.len() as u64,
                links: truth.links
                    + self
                        .linked(pr.pull.index)
                        .iter()
                        .filter(|item| live_items.contains(item))
                        .count() as u64,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pulls() -> AzurePulls {
        AzurePulls::new(
            Population {
                seed: 5,
                repos: REPOSITORIES,
                pulls: 300,
            },
            ItemPopulation {
                seed: 6,
                issues: 200,
                projects: PROJECTS.len(),
            },
        )
    }

    #[test]
    fn nothing_happens_after_a_pull_request_closed_and_few_stay_active() {
        let pulls = pulls();
        let all: Vec<AzurePull> = (0..PROJECTS.len())
            .flat_map(|p| pulls.of_project(p))
            .collect();
        assert_eq!(all.len(), 300);
        let active = all.iter().filter(|p| p.status == Status::Active).count();
        assert!(active > 0 && active < 30, "{active} active of 300");
        for pr in all.iter().filter(|p| p.status != Status::Active) {
            let end = pr.pull.closed_ms.unwrap();
            assert!(pr.pull.reviews.iter().all(|r| r.submitted_ms <= end));
            assert!(pr.pull.issue_comments.iter().all(|c| c.updated_ms <= end));
        }
        // A mutation round adds nothing visible to a closed pull request.
        let closed: Vec<(u64, usize)> = all
            .iter()
            .filter(|p| p.status != Status::Active)
            .map(|p| (p.id(), p.pull.reviews.len() + p.pull.issue_comments.len()))
            .collect();
        pulls.mutate(1.0, EPOCH_END_MS + 86_400_000);
        for (id, events) in closed {
            let now = pulls.by_id(id).unwrap();
            if now.status != Status::Completed || now.pull.merged_ms < Some(EPOCH_END_MS) {
                assert_eq!(
                    now.pull.reviews.len() + now.pull.issue_comments.len(),
                    events
                );
            }
        }
    }

    #[test]
    fn linked_work_items_are_named_by_reference_or_mention() {
        let pulls = pulls();
        let truth = pulls.truth(&(0..200).collect());
        let (mut refs, mut mentions) = (0, 0);
        for project in 0..PROJECTS.len() {
            for pr in pulls.of_project(project) {
                refs += pr.refs.len();
                mentions += pr.pull.title.matches("AB#").count();
            }
        }
        assert!(refs > 0 && mentions > 0);
        assert_eq!((refs + mentions) as u64, truth.links);
    }
}
