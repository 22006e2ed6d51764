//! Lazy generation of one GitHub pull request from its index: author, dates, state, size,
//! and its commits, reviews, review comments and issue comments (bots included).

use crate::simulator::jira::issues::{EPOCH_END_MS, SPAN_MS};
use crate::simulator::rng::Stream;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;

/// Human accounts; bots follow.
pub const HUMANS: u64 = 30;
pub const BOTS: &[&str] = &["dependabot[bot]", "github-actions[bot]", "codecov[bot]"];

/// Somebody on GitHub: a human `gh-userNNN` or one of [`BOTS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Human(u64),
    Bot(usize),
}

impl Actor {
    pub fn login(self) -> String {
        match self {
            Actor::Human(n) => format!("gh-user{:03}", n + 1),
            Actor::Bot(b) => BOTS[b].to_owned(),
        }
    }

    pub fn id(self) -> u64 {
        match self {
            Actor::Human(n) => 1_000_000 + n,
            Actor::Bot(b) => 49_699_333 + b as u64,
        }
    }

    pub fn is_bot(self) -> bool {
        matches!(self, Actor::Bot(_))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    pub sha: String,
    pub author: Actor,
    pub authored_ms: i64,
    pub committed_ms: i64,
    pub message: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    pub id: u64,
    pub author: Actor,
    pub state: &'static str,
    pub body: String,
    pub submitted_ms: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    pub id: u64,
    pub author: Actor,
    pub body: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// For review comments: the review it belongs to, the file and line.
    pub review: Option<(u64, String, u64)>,
}

#[derive(Debug, Clone)]
pub struct Pull {
    pub index: u32,
    pub repo: usize,
    pub number: u64,
    pub author: Actor,
    pub title: String,
    pub body: Option<String>,
    pub created_ms: i64,
    pub closed_ms: Option<i64>,
    pub merged_ms: Option<i64>,
    pub draft: bool,
    pub additions: u64,
    pub deletions: u64,
    pub changed_files: u64,
    pub head_ref: String,
    pub labels: Vec<&'static str>,
    pub commits: Vec<Commit>,
    pub reviews: Vec<Review>,
    pub review_comments: Vec<Comment>,
    pub issue_comments: Vec<Comment>,
}

impl Pull {
    pub fn id(&self) -> u64 {
        PULL_ID_BASE + u64::from(self.index)
    }

    pub fn state(&self) -> &'static str {
        if self.closed_ms.is_some() {
            "closed"
        } else {
            "open"
        }
    }

    /// The latest event on the pull request.
    pub fn updated_ms(&self) -> i64 {
        let events = self
            .commits
            .iter()
            .map(|c| c.committed_ms)
            .chain(self.reviews.iter().map(|r| r.submitted_ms))
            .chain(self.review_comments.iter().map(|c| c.updated_ms))
            .chain(self.issue_comments.iter().map(|c| c.updated_ms))
            .chain(self.closed_ms);
        events.fold(self.created_ms, i64::max)
    }

    pub fn head_sha(&self) -> String {
        self.commits
            .last()
            .map_or_else(|| sha(self.index, 0, 0), |c| c.sha.clone())
    }

    /// Ids of reviews and comments stay unique: [`EVENT_SLOTS`] per pull request.
    fn event_id(&self, base: u64, slot: usize) -> u64 {
        base + u64::from(self.index) * EVENT_SLOTS + slot as u64
    }
}

/// A 40-hex-digit SHA derived from the pull request, round and position.
pub fn sha(index: u32, round: u64, position: u64) -> String {
    let mut stream = Stream::new(0x5ead, &[u64::from(index), round, position]);
    format!(
        "{:016x}{:016x}{:08x}",
        stream.next_u64(),
        stream.next_u64(),
        stream.next_u64() as u32
    )
}

/// Pull request ids are this plus the pull request's index.
pub const PULL_ID_BASE: u64 = 500_000_000;
const REVIEW_ID_BASE: u64 = 900_000_000;
const REVIEW_COMMENT_ID_BASE: u64 = 700_000_000;
const ISSUE_COMMENT_ID_BASE: u64 = 800_000_000;
/// Review and comment ids per pull request.
const EVENT_SLOTS: u64 = 64;

/// The index of the pull request a review comment id belongs to.
pub fn pull_of_review_comment(id: u64) -> Option<u32> {
    let offset = id.checked_sub(REVIEW_COMMENT_ID_BASE)?;
    (offset < ISSUE_COMMENT_ID_BASE - REVIEW_COMMENT_ID_BASE)
        .then(|| u32::try_from(offset / EVENT_SLOTS).ok())
        .flatten()
}
const MAX_EVENTS: usize = 60;

const TOPICS: &[&str] = &[
    "pool",
    "scheduler",
    "metrics",
    "docs",
    "tests",
    "ci",
    "api",
    "retry",
    "timeouts",
    "logging",
];
const LABELS: &[&str] = &[
    "bug",
    "enhancement",
    "documentation",
    "dependencies",
    "performance",
];
const FILES: &[&str] = &[
    "src/pool.go",
    "src/worker.go",
    "README.md",
    "src/options.go",
    "src/metrics/export.go",
];

mod purpose {
    pub const PULL: u64 = 11;
    pub const MUTATION: u64 = 12;
}

/// The shape of the generated pull requests.
#[derive(Debug, Clone, Copy)]
pub struct Population {
    pub seed: u64,
    pub repos: usize,
    pub pulls: u32,
}

impl Population {
    pub fn repo_of(&self, index: u32) -> usize {
        index as usize % self.repos.max(1)
    }

    pub fn number_of(&self, index: u32) -> u64 {
        u64::from(index) / self.repos.max(1) as u64 + 1
    }

    /// The pull request with `number` in `repo`, if it exists among `count` created ones.
    pub fn index_of(&self, repo: usize, number: u64, count: u32) -> Option<u32> {
        let index = number.checked_sub(1)? * self.repos.max(1) as u64 + repo as u64;
        u32::try_from(index).ok().filter(|i| *i < count)
    }

    pub fn created_ms(&self, index: u32) -> i64 {
        let slot = SPAN_MS / i64::from(self.pulls.max(1));
        let mut stream = Stream::new(self.seed, &[purpose::PULL, u64::from(index), 0]);
        EPOCH_END_MS - SPAN_MS + i64::from(index) * slot + stream.below(slot.max(1) as u64) as i64
    }

    pub fn pull(&self, index: u32, mutation_times_ms: &[i64]) -> Pull {
        self.pull_created_at(index, self.created_ms(index), mutation_times_ms)
    }

    /// Generates pull request `index` opened at `created_ms` after the given rounds of activity.
    pub fn pull_created_at(&self, index: u32, created_ms: i64, mutation_times_ms: &[i64]) -> Pull {
        let mut s = Stream::new(self.seed, &[purpose::PULL, u64::from(index), 1]);
        let author = if s.chance(0.08) {
            Actor::Bot(0)
        } else {
            Actor::Human(s.below(HUMANS))
        };
        let topic = *s.pick(TOPICS);
        let mut pull = Pull {
            index,
            repo: self.repo_of(index),
            number: self.number_of(index),
            author,
            title: if author.is_bot() {
                format!("Bump {topic} from 1.{} to 1.{}", s.below(9), 9 + s.below(9))
            } else {
                format!("Improve {topic} handling")
            },
            body: if s.chance(0.2) {
                None
            } else {
                Some(format!(
                    "This change improves {topic}.\n\n{}",
                    "Details follow. ".repeat(1 + s.below(40) as usize)
                ))
            },
            created_ms,
            closed_ms: None,
            merged_ms: None,
            draft: false,
            additions: 1 + s.below(800),
            deletions: s.below(400),
            changed_files: 1 + s.below(25),
            head_ref: format!("feature/{topic}-{index}"),
            labels: if s.chance(0.5) {
                vec![*s.pick(LABELS)]
            } else {
                Vec::new()
            },
            commits: Vec::new(),
            reviews: Vec::new(),
            review_comments: Vec::new(),
            issue_comments: Vec::new(),
        };
        // Commits: the first usually before the PR was opened (coding time).
        let commit_count = 1 + s.below(8);
        let mut clock = created_ms - s.between(10 * MINUTE_MS, 5 * DAY_MS);
        for position in 0..commit_count {
            let committed = clock + s.between(0, 30 * MINUTE_MS);
            pull.commits.push(Commit {
                sha: sha(index, 0, position),
                author: if s.chance(0.9) {
                    author
                } else {
                    Actor::Human(s.below(HUMANS))
                },
                authored_ms: clock,
                committed_ms: committed,
                message: format!(
                    "{} {topic} (part {})",
                    if position == 0 { "Start" } else { "Update" },
                    position + 1
                ),
            });
            clock = committed.max(created_ms) + s.between(20 * MINUTE_MS, DAY_MS);
        }
        // Reviews and comments after opening.
        let mut clock = created_ms + s.between(15 * MINUTE_MS, 3 * DAY_MS);
        for _ in 0..s.below(5) {
            add_review(&mut pull, &mut s, clock);
            clock += s.between(30 * MINUTE_MS, 2 * DAY_MS);
        }
        for _ in 0..s.below(5) {
            let at = created_ms + s.between(5 * MINUTE_MS, 4 * DAY_MS);
            add_issue_comment(&mut pull, &mut s, at);
        }
        // How it ended.
        let last_event = pull.updated_ms();
        match s.weighted(&[62, 13, 20, 5]) {
            0 => {
                let merged = last_event + s.between(10 * MINUTE_MS, 2 * DAY_MS);
                pull.merged_ms = Some(merged);
                pull.closed_ms = Some(merged);
            }
            1 => pull.closed_ms = Some(last_event + s.between(HOUR_MS, 10 * DAY_MS)),
            2 => {}
            _ => pull.draft = true,
        }
        // Nothing has happened yet after the epoch end, or after the opening of a pull
        // request added by activity.
        clamp_to(
            &mut pull,
            if created_ms >= EPOCH_END_MS {
                created_ms + 1
            } else {
                EPOCH_END_MS
            },
        );
        for (round, time) in mutation_times_ms.iter().enumerate() {
            let mut m = Stream::new(
                self.seed,
                &[purpose::MUTATION, u64::from(index), round as u64],
            );
            let at = (*time).max(pull.updated_ms() + 1_000);
            if m.chance(0.5) {
                add_review(&mut pull, &mut m, at);
            } else {
                add_issue_comment(&mut pull, &mut m, at);
            }
            if pull.closed_ms.is_none() && !pull.draft && m.chance(0.4) {
                pull.merged_ms = Some(at + 1_000);
                pull.closed_ms = Some(at + 1_000);
            }
        }
        pull
    }
}

/// Drops generated events at or after `end`.
fn clamp_to(pull: &mut Pull, end: i64) {
    pull.reviews.retain(|r| r.submitted_ms < end);
    let kept: Vec<u64> = pull.reviews.iter().map(|r| r.id).collect();
    pull.review_comments.retain(|c| {
        c.updated_ms < end
            && c.review
                .as_ref()
                .is_some_and(|(id, _, _)| kept.contains(id))
    });
    pull.issue_comments.retain(|c| c.updated_ms < end);
    pull.commits.retain(|c| c.committed_ms < end);
    if pull.closed_ms.is_some_and(|at| at >= end) {
        pull.closed_ms = None;
        pull.merged_ms = None;
    }
}

fn events(pull: &Pull) -> usize {
    pull.reviews.len() + pull.review_comments.len() + pull.issue_comments.len()
}

fn add_review(pull: &mut Pull, s: &mut Stream, at: i64) {
    if events(pull) + 4 > MAX_EVENTS {
        return;
    }
    let reviewer = match s.below(10) {
        0 => pull.author,   // the author answering in a review
        1 => Actor::Bot(1), // a bot review
        _ => Actor::Human(
            (match pull.author {
                Actor::Human(n) => n,
                Actor::Bot(_) => 0,
            } + 1
                + s.below(HUMANS - 1))
                % HUMANS,
        ),
    };
    let state = if reviewer == pull.author || reviewer.is_bot() {
        "COMMENTED"
    } else {
        ["APPROVED", "CHANGES_REQUESTED", "COMMENTED"][s.weighted(&[5, 2, 3])]
    };
    let id = pull.event_id(REVIEW_ID_BASE, pull.reviews.len());
    pull.reviews.push(Review {
        id,
        author: reviewer,
        state,
        body: if state == "APPROVED" && s.chance(0.5) {
            String::new()
        } else {
            format!("Review {} on #{}", pull.reviews.len() + 1, pull.number)
        },
        submitted_ms: at,
    });
    for _ in 0..s.below(3) {
        let slot = pull.review_comments.len();
        let created = at - s.between(0, 5 * MINUTE_MS);
        pull.review_comments.push(Comment {
            id: pull.event_id(REVIEW_COMMENT_ID_BASE, slot),
            author: reviewer,
            body: format!("Consider handling the error here ({slot})."),
            created_ms: created,
            updated_ms: created
                + if s.chance(0.2) {
                    s.between(MINUTE_MS, HOUR_MS)
                } else {
                    0
                },
            review: Some((id, (*s.pick(FILES)).to_owned(), 1 + s.below(300))),
        });
    }
}

fn add_issue_comment(pull: &mut Pull, s: &mut Stream, at: i64) {
    if events(pull) + 1 > MAX_EVENTS {
        return;
    }
    let author = if s.chance(0.25) {
        Actor::Bot(2)
    } else {
        Actor::Human(s.below(HUMANS))
    };
    let slot = pull.issue_comments.len();
    pull.issue_comments.push(Comment {
        id: pull.event_id(ISSUE_COMMENT_ID_BASE, slot),
        author,
        body: if author.is_bot() {
            "## Codecov Report\nCoverage unchanged.".into()
        } else {
            format!("Thanks! Comment {}.", slot + 1)
        },
        created_ms: at,
        updated_ms: at,
        review: None,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn population() -> Population {
        Population {
            seed: 3,
            repos: 3,
            pulls: 600,
        }
    }

    #[test]
    fn generation_is_deterministic_and_coherent() {
        let population = population();
        for index in 0..population.pulls {
            let pull = population.pull(index, &[]);
            let again = population.pull(index, &[]);
            assert_eq!(pull.reviews, again.reviews);
            assert!(pull.updated_ms() >= pull.created_ms);
            assert!(pull.updated_ms() < EPOCH_END_MS);
            if let Some(merged) = pull.merged_ms {
                assert_eq!(Some(merged), pull.closed_ms);
            }
            assert!(!(pull.draft && pull.closed_ms.is_some()));
            assert_eq!(
                population.index_of(pull.repo, pull.number, population.pulls),
                Some(index)
            );
        }
    }

    #[test]
    fn the_population_has_the_cases_metrics_must_handle() {
        let population = population();
        let pulls: Vec<Pull> = (0..population.pulls)
            .map(|i| population.pull(i, &[]))
            .collect();
        let count = |pred: &dyn Fn(&Pull) -> bool| pulls.iter().filter(|p| pred(p)).count();
        assert!(count(&|p| p.merged_ms.is_some()) > 200);
        assert!(count(&|p| p.closed_ms.is_some() && p.merged_ms.is_none()) > 20);
        assert!(count(&|p| p.draft) > 5);
        assert!(count(&|p| p.reviews.is_empty()) > 20);
        assert!(count(&|p| p.reviews.iter().any(|r| r.author == p.author)) > 10);
        assert!(count(&|p| p.issue_comments.iter().any(|c| c.author.is_bot())) > 20);
        for state in ["APPROVED", "CHANGES_REQUESTED", "COMMENTED"] {
            assert!(
                count(&|p| p.reviews.iter().any(|r| r.state == state)) > 10,
                "{state}"
            );
        }
    }

    #[test]
    fn a_mutation_round_adds_activity_later() {
        let population = population();
        let at = EPOCH_END_MS + DAY_MS;
        let before = population.pull(7, &[]);
        let after = population.pull(7, &[at]);
        assert!(
            after.updated_ms() >= at
                || before.reviews.len() + before.issue_comments.len() + 4 > MAX_EVENTS
        );
    }
}
