//! The simulated repositories' deployments and releases, derived from their merged pull
//! requests as a release train: merges are deployed together at the end of their six-hour
//! slot (merges after the generated history, each round's together a minute later), first
//! to `staging`, then to `production`. Some production deployments fail, some successful
//! ones are rolled back to the previous production commit within the hour, and every fifth
//! train is also published as a release. The deployed commit is the merge commit of the
//! train's last pull request, so a deployment holds every pull request of its repository
//! merged no later than that commit.

use super::pulls::{sha, Pull};
use crate::simulator::jira::issues::EPOCH_END_MS;
use crate::simulator::rng::Stream;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
/// Merges of one slot are deployed together at its end.
const SLOT_MS: i64 = 6 * HOUR_MS;

pub const PRODUCTION: &str = "production";
pub const STAGING: &str = "staging";

/// Keys the random outcomes of a train.
const PURPOSE: u64 = 0xde71;
/// Share of production deployments that fail.
const FAILURE_RATE: f64 = 0.08;
/// Share of successful production deployments rolled back.
const ROLLBACK_RATE: f64 = 0.06;
/// Deployment database ids: this plus a million per repository plus the ordinal.
const DEPLOYMENT_ID_BASE: u64 = 40_000_000;
const RELEASE_ID_BASE: u64 = 90_000_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failure,
}

impl Outcome {
    /// GitHub's `DeploymentStatusState`.
    pub fn state(self) -> &'static str {
        match self {
            Outcome::Success => "SUCCESS",
            Outcome::Failure => "FAILURE",
        }
    }
}

/// A deployed commit: the merge commit of a pull request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployed {
    /// The pull request (index) whose merge commit it is.
    pub pull: u32,
    pub sha: String,
    pub committed_ms: i64,
    pub author: super::pulls::Actor,
    pub number: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployment {
    pub id: u64,
    pub repo: usize,
    pub environment: &'static str,
    pub description: String,
    pub created_ms: i64,
    /// When its final status was set.
    pub finished_ms: i64,
    pub outcome: Outcome,
    /// A redeploy of an earlier production commit.
    pub rollback: bool,
    pub commit: Deployed,
    /// The pull requests (indexes) this deployment brought to production first (empty for
    /// staging, failures and rollbacks).
    pub ships: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub id: u64,
    pub tag: String,
    pub published_ms: i64,
    pub commit: Deployed,
}

/// One repository's deployments (oldest first) and releases.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Delivery {
    pub deployments: Vec<Deployment>,
    pub releases: Vec<Release>,
}

/// The merge commit of a merged pull request.
pub fn merge_commit(pull: &Pull) -> Option<Deployed> {
    Some(Deployed {
        pull: pull.index,
        sha: sha(pull.index, 97, 0),
        committed_ms: pull.merged_ms?,
        author: pull.author,
        number: pull.number,
    })
}

/// When the train carrying a merge at `merged_ms` is deployed.
fn train_time(merged_ms: i64) -> i64 {
    if merged_ms < EPOCH_END_MS {
        (merged_ms / SLOT_MS + 1) * SLOT_MS
    } else {
        merged_ms + MINUTE_MS
    }
}

/// Appends `deployment` with the next id, created no earlier than the one before it (trains
/// of activity rounds a few seconds apart overlap), so ids and creation order agree.
fn push(deployments: &mut Vec<Deployment>, mut deployment: Deployment) {
    if let Some(last) = deployments.last() {
        let shift = (last.created_ms + 1_000 - deployment.created_ms).max(0);
        deployment.created_ms += shift;
        deployment.finished_ms += shift;
    }
    deployment.id =
        DEPLOYMENT_ID_BASE + deployment.repo as u64 * 1_000_000 + deployments.len() as u64;
    deployments.push(deployment);
}

/// Repository `repo`'s deployments and releases from its pull requests (any order; those
/// not merged are left out).
pub fn of_repository(seed: u64, repo: usize, pulls: &[Pull]) -> Delivery {
    let mut merged: Vec<Deployed> = pulls.iter().filter_map(merge_commit).collect();
    merged.sort_by_key(|commit| (commit.committed_ms, commit.pull));
    let mut delivery = Delivery::default();
    let mut waiting: Vec<u32> = Vec::new();
    let mut in_production: Option<Deployed> = None;
    let mut trains = 0u64;
    let mut position = 0;
    while position < merged.len() {
        let at = train_time(merged[position].committed_ms);
        let end = position
            + merged[position..]
                .iter()
                .take_while(|commit| train_time(commit.committed_ms) == at)
                .count();
        waiting.extend(merged[position..end].iter().map(|commit| commit.pull));
        let commit = merged[end - 1].clone();
        position = end;
        let mut stream = Stream::new(seed, &[PURPOSE, repo as u64, at as u64]);
        let deployments = &mut delivery.deployments;
        push(
            deployments,
            Deployment {
                id: 0,
                repo,
                environment: STAGING,
                description: format!("Deploy #{} to staging", commit.number),
                created_ms: at - 20 * MINUTE_MS,
                finished_ms: at - 20 * MINUTE_MS + stream.between(2 * MINUTE_MS, 8 * MINUTE_MS),
                outcome: Outcome::Success,
                rollback: false,
                commit: commit.clone(),
                ships: Vec::new(),
            },
        );
        let failed = stream.chance(FAILURE_RATE);
        let finished_ms = at + stream.between(4 * MINUTE_MS, 20 * MINUTE_MS);
        push(
            deployments,
            Deployment {
                id: 0,
                repo,
                environment: PRODUCTION,
                description: format!("Deploy #{} to production", commit.number),
                created_ms: at,
                finished_ms,
                outcome: if failed {
                    Outcome::Failure
                } else {
                    Outcome::Success
                },
                rollback: false,
                commit: commit.clone(),
                ships: if failed {
                    Vec::new()
                } else {
                    std::mem::take(&mut waiting)
                },
            },
        );
        if failed {
            continue;
        }
        let finished_ms = deployments.last().map_or(finished_ms, |d| d.finished_ms);
        let previous = in_production.replace(commit.clone());
        if let Some(previous) = previous.filter(|_| stream.chance(ROLLBACK_RATE)) {
            let rolled_back_at = finished_ms + stream.between(15 * MINUTE_MS, 45 * MINUTE_MS);
            push(
                deployments,
                Deployment {
                    id: 0,
                    repo,
                    environment: PRODUCTION,
                    description: format!("Rollback to #{}", previous.number),
                    created_ms: rolled_back_at,
                    finished_ms: rolled_back_at + stream.between(2 * MINUTE_MS, 6 * MINUTE_MS),
                    outcome: Outcome::Success,
                    rollback: true,
                    commit: previous.clone(),
                    ships: Vec::new(),
                },
            );
            in_production = Some(previous);
        }
        if trains % 5 == 0 {
            delivery.releases.push(Release {
                id: RELEASE_ID_BASE + repo as u64 * 1_000_000 + delivery.releases.len() as u64,
                tag: format!("v1.{}.0", delivery.releases.len()),
                published_ms: finished_ms,
                commit,
            });
        }
        trains += 1;
    }
    delivery
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::github::pulls::Population;

    fn population() -> Population {
        Population {
            seed: 11,
            repos: 2,
            pulls: 400,
        }
    }

    fn delivery(repo: usize) -> (Vec<Pull>, Delivery) {
        let population = population();
        let pulls: Vec<Pull> = (0..population.pulls)
            .filter(|index| population.repo_of(*index) == repo)
            .map(|index| population.pull(index, &[]))
            .collect();
        let delivery = of_repository(population.seed, repo, &pulls);
        (pulls, delivery)
    }

    #[test]
    fn every_merged_pull_request_ships_once_after_its_merge_in_a_commit_that_holds_it() {
        let (pulls, delivery) = delivery(1);
        let merged: Vec<&Pull> = pulls.iter().filter(|p| p.merged_ms.is_some()).collect();
        let mut shipped = Vec::new();
        for deployment in &delivery.deployments {
            for index in &deployment.ships {
                let pull = merged.iter().find(|p| p.index == *index).unwrap();
                let merged_ms = pull.merged_ms.unwrap();
                assert!(deployment.created_ms >= merged_ms);
                assert!(deployment.commit.committed_ms >= merged_ms);
                assert_eq!(deployment.environment, PRODUCTION);
                assert_eq!(deployment.outcome, Outcome::Success);
                shipped.push(*index);
            }
        }
        shipped.sort_unstable();
        let before = shipped.len();
        shipped.dedup();
        assert_eq!(before, shipped.len(), "a pull request shipped twice");
        // Only a failed last train leaves merged pull requests unshipped.
        assert!(shipped.len() + 10 >= merged.len() && shipped.len() <= merged.len());
    }

    #[test]
    fn trains_have_failures_rollbacks_to_the_previous_commit_and_releases() {
        let (_, delivery) = delivery(0);
        let production: Vec<&Deployment> = delivery
            .deployments
            .iter()
            .filter(|d| d.environment == PRODUCTION)
            .collect();
        assert!(production.iter().any(|d| d.outcome == Outcome::Failure));
        let rollbacks: Vec<usize> = (0..production.len())
            .filter(|i| production[*i].rollback)
            .collect();
        assert!(!rollbacks.is_empty());
        for i in rollbacks {
            // A rollback deploys an older commit than the deployment it follows.
            assert!(production[i].commit.committed_ms < production[i - 1].commit.committed_ms);
        }
        assert!(!delivery.releases.is_empty());
        let ids: std::collections::BTreeSet<u64> =
            delivery.deployments.iter().map(|d| d.id).collect();
        assert_eq!(ids.len(), delivery.deployments.len());
        assert!(delivery
            .deployments
            .windows(2)
            .all(|pair| pair[0].created_ms <= pair[1].created_ms));
    }
}
