//! The rows of the shared pull-request tables, as every source that reads pull requests
//! (GitHub, Azure Repos) writes them: repositories, pull requests, their commits, reviews
//! and comments, and a batch of them gathered for one load.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::domain::pr_flow::is_bot_login;
use crate::sources::people::accounts::AccountRow;
use crate::store::load_batches::LoadRows;
use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(Default))]
pub struct RepositoryRow {
    pub external_id: String,
    pub owner: String,
    pub name: String,
    pub full_name: String,
    pub description: Option<String>,
    pub default_branch: Option<String>,
    pub language: Option<String>,
    pub private: bool,
    pub archived: bool,
    pub repo_created_at: Option<DateTime<Utc>>,
    pub repo_updated_at: Option<DateTime<Utc>>,
    pub pushed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(Default))]
pub struct PullRow {
    pub external_id: String,
    pub repository_full_name: String,
    pub number: i64,
    pub title: Option<String>,
    pub body: Option<String>,
    pub state: String,
    pub is_draft: bool,
    pub author_login: Option<String>,
    pub author_id: Option<i64>,
    pub assignee_login: Option<String>,
    pub assignee_id: Option<i64>,
    pub base_branch: Option<String>,
    pub head_branch: Option<String>,
    pub base_sha: Option<String>,
    pub head_sha: Option<String>,
    pub additions: Option<i64>,
    pub deletions: Option<i64>,
    pub changed_files: Option<i64>,
    pub commits_count: Option<i64>,
    pub comments_count: Option<i64>,
    pub review_comments_count: Option<i64>,
    pub pr_created_at: Option<DateTime<Utc>>,
    pub pr_updated_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub merged_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(Default))]
pub struct CommitRow {
    /// `<pull request id>:<sha>`: a commit can belong to several pull requests.
    pub external_id: String,
    pub pr_external_id: String,
    pub sha: String,
    pub message: Option<String>,
    pub author_name: Option<String>,
    pub author_email: Option<String>,
    pub author_login: Option<String>,
    pub committer_name: Option<String>,
    pub committer_login: Option<String>,
    pub authored_date: Option<DateTime<Utc>>,
    pub committed_date: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(Default))]
pub struct ReviewRow {
    pub external_id: String,
    pub pr_external_id: String,
    pub author_login: Option<String>,
    pub author_type: Option<String>,
    pub state: String,
    pub body: Option<String>,
    pub commit_id: Option<String>,
    pub submitted_at: Option<DateTime<Utc>>,
}

/// Which comment list a comment came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(test, derive(Default))]
pub enum CommentType {
    /// `/issues/comments`: the conversation tab.
    #[cfg_attr(test, default)]
    Issue,
    /// `/pulls/comments`: comments on the diff.
    Review,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(Default))]
pub struct CommentRow {
    pub external_id: String,
    pub comment_type: CommentType,
    pub repository_full_name: String,
    pub pr_number: i64,
    pub author_login: Option<String>,
    pub author_type: Option<String>,
    pub body: Option<String>,
    pub path: Option<String>,
    pub line: Option<i64>,
    pub in_reply_to_id: Option<String>,
    pub comment_created_at: Option<DateTime<Utc>>,
    pub comment_updated_at: Option<DateTime<Utc>>,
}

/// A pull request with everything transformed from it, as rows.
#[derive(Debug)]
pub struct PullRows {
    pub pull: PullRow,
    pub reviews: Vec<ReviewRow>,
    pub commits: Vec<CommitRow>,
    pub comments: Vec<CommentRow>,
    /// Its repository, where the answer carries it whole (REST's `base.repo`).
    pub repository: Option<RepositoryRow>,
}

/// Rows of many pull requests gathered for one load.
#[derive(Debug, Default)]
pub struct PullBatch {
    repositories: Vec<RepositoryRow>,
    pulls: Vec<PullRow>,
    reviews: Vec<ReviewRow>,
    commits: Vec<CommitRow>,
    comments: Vec<CommentRow>,
}

impl PullBatch {
    pub fn push(&mut self, parts: PullRows) {
        self.repositories.extend(parts.repository);
        self.pulls.push(parts.pull);
        self.reviews.extend(parts.reviews);
        self.commits.extend(parts.commits);
        self.comments.extend(parts.comments);
    }

    /// The accounts the rows name: authors and assignees of pull requests, reviewers, and
    /// commit authors with the name and e-mail the commit carries (a commit names a login
    /// only when the source linked its e-mail to that login). Bots are nobody.
    fn accounts(&self) -> Vec<AccountRow> {
        let logins = self
            .pulls
            .iter()
            .flat_map(|p| [&p.author_login, &p.assignee_login])
            .chain(self.reviews.iter().map(|r| &r.author_login))
            .filter_map(|login| AccountRow::new(login.as_deref(), None, None));
        let person = |row: &AccountRow| !is_bot_login(&row.account_key);
        let authors = self.commits.iter().filter_map(|c| {
            AccountRow::new(
                c.author_login.as_deref(),
                c.author_email.as_deref(),
                c.author_name.as_deref(),
            )
        });
        logins.chain(authors).filter(person).collect()
    }

    /// Adds every row to `load`; returns how many pull requests there were.
    pub fn add_to(self, load: &mut LoadRows) -> Result<u64, StoreError> {
        load.add(&self.accounts())?;
        load.add(&self.repositories)?;
        load.add(&self.pulls)?;
        load.add(&self.reviews)?;
        load.add(&self.commits)?;
        load.add(&self.comments)?;
        Ok(self.pulls.len() as u64)
    }
}
