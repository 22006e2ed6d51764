//! Pull-request flow metrics from a PR's commits, reviews and comments: coding time (first
//! commit authored → PR created), pickup time (PR created → first review or comment by
//! someone other than the author, bots excluded), review time (first such review → merged)
//! and cycle time (first commit → merged). Pure: no I/O.

use chrono::{DateTime, Utc};

/// Whether a GitHub login is a bot's (`dependabot[bot]`; GraphQL's bot logins are given
/// the suffix as they are read).
pub fn is_bot_login(login: &str) -> bool {
    login.ends_with("[bot]")
}

/// A review or comment: who and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    pub login: Option<String>,
    /// GitHub's user `type` ("User", "Bot", ...).
    pub user_type: Option<String>,
    pub at: DateTime<Utc>,
}

impl Response {
    /// Bots by their account type or GitHub's `[bot]` login suffix.
    fn is_bot(&self) -> bool {
        self.user_type.as_deref() == Some("Bot") || self.login.as_deref().is_some_and(is_bot_login)
    }

    /// A response that counts as someone picking the PR up: a person other than its author.
    fn picks_up(&self, author: Option<&str>) -> bool {
        !self.is_bot() && (author.is_none() || self.login.as_deref() != author)
    }
}

/// What the metrics are computed from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PullActivity {
    pub author: Option<String>,
    pub created_at: Option<DateTime<Utc>>,
    pub merged_at: Option<DateTime<Utc>>,
    /// Authored dates of the PR's commits.
    pub commits: Vec<DateTime<Utc>>,
    /// Submitted reviews.
    pub reviews: Vec<Response>,
    /// Issue and review comments.
    pub comments: Vec<Response>,
}

#[derive(
    Debug, Clone, Copy, Default, PartialEq, serde::Serialize, sqlx::FromRow, utoipa::ToSchema,
)]
pub struct FlowMetrics {
    pub first_commit_at: Option<DateTime<Utc>>,
    /// The first review by someone other than the author (bots excluded).
    pub first_review_at: Option<DateTime<Utc>>,
    pub coding_time_seconds: Option<f64>,
    pub pickup_time_seconds: Option<f64>,
    pub review_time_seconds: Option<f64>,
    pub cycle_time_seconds: Option<f64>,
}

/// Seconds from `from` to `to`, never negative (a commit authored after the PR opened
/// means coding went on in the PR: no coding time before it).
fn span(from: Option<DateTime<Utc>>, to: Option<DateTime<Utc>>) -> Option<f64> {
    let (from, to) = (from?, to?);
    Some(((to - from).num_milliseconds().max(0)) as f64 / 1_000.0)
}

pub fn flow_metrics(pull: &PullActivity) -> FlowMetrics {
    let author = pull.author.as_deref();
    let first_commit_at = pull.commits.iter().min().copied();
    let first_review_at = pull
        .reviews
        .iter()
        .filter(|r| r.picks_up(author))
        .map(|r| r.at)
        .min();
    let first_pickup = pull
        .reviews
        .iter()
        .chain(&pull.comments)
        .filter(|r| r.picks_up(author))
        .map(|r| r.at)
        .min();
    FlowMetrics {
        first_commit_at,
        first_review_at,
        coding_time_seconds: span(first_commit_at, pull.created_at),
        pickup_time_seconds: span(pull.created_at, first_pickup),
        review_time_seconds: span(first_review_at, pull.merged_at),
        cycle_time_seconds: span(first_commit_at, pull.merged_at),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(hour: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000 + hour * 3_600, 0).unwrap()
    }

    fn by(login: &str, user_type: &str, hour: i64) -> Response {
        Response {
            login: Some(login.into()),
            user_type: Some(user_type.into()),
            at: at(hour),
        }
    }

    fn pull() -> PullActivity {
        PullActivity {
            author: Some("ana".into()),
            created_at: Some(at(10)),
            merged_at: Some(at(40)),
            commits: vec![at(4), at(2), at(12)],
            reviews: vec![by("ben", "User", 20), by("cy", "User", 30)],
            comments: vec![by("ben", "User", 15)],
        }
    }

    #[test]
    fn a_reviewed_merged_pull_request_has_every_metric() {
        let metrics = flow_metrics(&pull());
        assert_eq!(metrics.first_commit_at, Some(at(2)));
        assert_eq!(metrics.first_review_at, Some(at(20)));
        assert_eq!(metrics.coding_time_seconds, Some(8.0 * 3_600.0));
        assert_eq!(metrics.pickup_time_seconds, Some(5.0 * 3_600.0));
        assert_eq!(metrics.review_time_seconds, Some(20.0 * 3_600.0));
        assert_eq!(metrics.cycle_time_seconds, Some(38.0 * 3_600.0));
    }

    #[test]
    fn without_commits_there_is_no_coding_or_cycle_time() {
        let metrics = flow_metrics(&PullActivity {
            commits: Vec::new(),
            ..pull()
        });
        assert_eq!(metrics.first_commit_at, None);
        assert_eq!(metrics.coding_time_seconds, None);
        assert_eq!(metrics.cycle_time_seconds, None);
        assert_eq!(metrics.pickup_time_seconds, Some(5.0 * 3_600.0));
    }

    #[test]
    fn self_reviews_and_own_comments_are_no_pickup() {
        let metrics = flow_metrics(&PullActivity {
            reviews: vec![by("ana", "User", 11)],
            comments: vec![by("ana", "User", 12)],
            ..pull()
        });
        assert_eq!(metrics.first_review_at, None);
        assert_eq!(metrics.pickup_time_seconds, None);
        assert_eq!(metrics.review_time_seconds, None);
        assert_eq!(metrics.cycle_time_seconds, Some(38.0 * 3_600.0));
    }

    #[test]
    fn bot_comments_and_reviews_are_no_pickup() {
        let metrics = flow_metrics(&PullActivity {
            reviews: vec![by("lint", "Bot", 11), by("cy", "User", 30)],
            comments: vec![by("dependabot[bot]", "User", 12), by("ben", "User", 25)],
            ..pull()
        });
        assert_eq!(metrics.first_review_at, Some(at(30)));
        assert_eq!(metrics.pickup_time_seconds, Some(15.0 * 3_600.0));
    }

    #[test]
    fn a_pull_request_never_merged_has_no_review_or_cycle_time() {
        let metrics = flow_metrics(&PullActivity {
            merged_at: None,
            ..pull()
        });
        assert_eq!(metrics.review_time_seconds, None);
        assert_eq!(metrics.cycle_time_seconds, None);
        assert_eq!(metrics.coding_time_seconds, Some(8.0 * 3_600.0));
        assert_eq!(metrics.pickup_time_seconds, Some(5.0 * 3_600.0));
    }

    #[test]
    fn commits_authored_after_opening_give_zero_coding_time() {
        let metrics = flow_metrics(&PullActivity {
            commits: vec![at(11), at(12)],
            ..pull()
        });
        assert_eq!(metrics.coding_time_seconds, Some(0.0));
        assert_eq!(metrics.cycle_time_seconds, Some(29.0 * 3_600.0));
    }

    #[test]
    fn nothing_known_gives_nothing() {
        assert_eq!(
            flow_metrics(&PullActivity::default()),
            FlowMetrics::default()
        );
    }
}
