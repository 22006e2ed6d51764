//! Azure Repos answers to the pull-request rows GitHub fills: repositories, and one stored
//! pull request (`{pullRequest, threads}`) to its row, its reviewers' votes as reviews
//! (from the system's vote threads, which say when), its people's comments (system threads
//! left out) and its commits; and the work items it names, by work item reference or by an
//! `AB#123` mention, Azure Boards' convention.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::sources::fields::clean;
use crate::sources::pull_requests::rows::{
    CommentRow, CommentType, CommitRow, PullRow, PullRows, RepositoryRow, ReviewRow,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PullRequestError {
    #[error("pull request has no {0}")]
    Missing(&'static str),
    #[error("pull request {id}: {field} is not a valid timestamp: {value}")]
    BadTime {
        id: String,
        field: &'static str,
        value: String,
    },
}

/// Work item ids named in `text` the way Azure Boards links them: `AB#` (any case) and the
/// id, neither inside a word.
fn mentions(text: &str) -> Vec<String> {
    let lower = text.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let in_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    lower
        .match_indices("ab#")
        .filter_map(|(at, _)| {
            if at > 0 && in_word(bytes[at - 1]) {
                return None;
            }
            let rest = &lower[at + 3..];
            let end = rest
                .find(|c: char| !c.is_ascii_digit())
                .unwrap_or(rest.len());
            let id = &rest[..end];
            let ends_word = rest[end..].bytes().next().is_none_or(|b| !in_word(b));
            let valid = !id.is_empty() && !id.starts_with('0') && id.len() <= 10;
            (valid && ends_word).then(|| id.to_owned())
        })
        .collect()
}

fn text(value: &Value, key: &str) -> Option<String> {
    value.get(key).and_then(Value::as_str).map(clean)
}

/// A branch's name without `refs/heads/`.
fn branch(value: &Value, key: &str) -> Option<String> {
    text(value, key).map(|name| name.trim_start_matches("refs/heads/").to_owned())
}

/// `project/repository`: how a repository is named across the organization.
fn full_name(repository: &Value) -> Option<String> {
    let project = text(&repository["project"], "name")?;
    let name = text(repository, "name")?;
    Some(format!("{project}/{name}"))
}

/// A repository of `git/repositories` or of a pull request's answer.
pub fn repository(repository: &Value) -> Option<RepositoryRow> {
    let name = text(repository, "name")?;
    Some(RepositoryRow {
        external_id: text(repository, "id")?,
        owner: text(&repository["project"], "name")?,
        full_name: full_name(repository)?,
        name,
        description: None,
        default_branch: branch(repository, "defaultBranch"),
        language: None,
        private: repository["project"]["visibility"].as_str() != Some("public"),
        archived: repository["isDisabled"].as_bool().unwrap_or(false),
        repo_created_at: None,
        repo_updated_at: None,
        pushed_at: None,
    })
}

/// A pull request's identity for errors and child rows.
struct Context<'a> {
    id: &'a str,
}

impl Context<'_> {
    /// An optional timestamp: absent is None, unreadable fails the pull request.
    fn time(
        &self,
        value: &Value,
        field: &'static str,
    ) -> Result<Option<DateTime<Utc>>, PullRequestError> {
        match value.get(field).and_then(Value::as_str) {
            None => Ok(None),
            Some(text) => DateTime::parse_from_rfc3339(text)
                .map(|t| Some(t.with_timezone(&Utc)))
                .map_err(|_| PullRequestError::BadTime {
                    id: self.id.to_owned(),
                    field,
                    value: text.chars().take(64).collect(),
                }),
        }
    }
}

/// A vote as the review state it stands for; a reset vote (0) is no review.
fn vote_state(vote: i64) -> Option<&'static str> {
    match vote {
        10 => Some("APPROVED"),
        5 => Some("APPROVED_WITH_SUGGESTIONS"),
        -5 => Some("WAITING_FOR_AUTHOR"),
        -10 => Some("REJECTED"),
        _ => None,
    }
}

/// A thread property's value (`{"$type", "$value"}`).
fn property<'a>(thread: &'a Value, name: &str) -> Option<&'a str> {
    thread["properties"][name]["$value"].as_str()
}

fn login(identity: &Value) -> Option<String> {
    text(identity, "uniqueName")
}

/// Every row of one stored pull request.
pub fn pull_rows(stored: &Value) -> Result<PullRows, PullRequestError> {
    let pr = &stored["pullRequest"];
    let number = pr["pullRequestId"]
        .as_i64()
        .ok_or(PullRequestError::Missing("pullRequestId"))?;
    let id = number.to_string();
    let at = Context { id: &id };
    let repository_full_name =
        full_name(&pr["repository"]).ok_or(PullRequestError::Missing("repository"))?;
    let created = at
        .time(pr, "creationDate")?
        .ok_or(PullRequestError::Missing("creationDate"))?;
    let closed = at.time(pr, "closedDate")?;
    let status = pr["status"].as_str().unwrap_or("active");
    let empty = Vec::new();
    let threads = stored["threads"].as_array().unwrap_or(&empty);
    let commits_answer = pr["commits"].as_array().unwrap_or(&empty);

    let mut reviews = Vec::new();
    let mut comments = Vec::new();
    let mut latest = Some(created).into_iter().chain(closed).max();
    for thread in threads.iter().filter(|t| t["isDeleted"] != true) {
        let thread_id = thread["id"]
            .as_i64()
            .ok_or(PullRequestError::Missing("thread id"))?;
        latest = latest.max(at.time(thread, "lastUpdatedDate")?);
        let first = &thread["comments"][0];
        if property(thread, "CodeReviewThreadType") == Some("VoteUpdate") {
            let vote = property(thread, "CodeReviewVoteResult").and_then(|v| v.parse().ok());
            if let Some(state) = vote.and_then(vote_state) {
                reviews.push(ReviewRow {
                    external_id: format!("{id}:{thread_id}"),
                    pr_external_id: id.clone(),
                    author_login: login(&first["author"]),
                    author_type: None,
                    state: state.to_owned(),
                    body: None,
                    commit_id: None,
                    submitted_at: at.time(thread, "publishedDate")?,
                });
            }
            continue;
        }
        let context = &thread["threadContext"];
        let on_file = context.is_object();
        for comment in thread["comments"].as_array().unwrap_or(&empty) {
            if comment["commentType"] != "text" || comment["isDeleted"] == true {
                continue;
            }
            let comment_id = comment["id"]
                .as_i64()
                .ok_or(PullRequestError::Missing("comment id"))?;
            let parent = comment["parentCommentId"].as_i64().unwrap_or(0);
            comments.push(CommentRow {
                external_id: format!("{id}:{thread_id}:{comment_id}"),
                comment_type: if on_file {
                    CommentType::Review
                } else {
                    CommentType::Issue
                },
                repository_full_name: repository_full_name.clone(),
                pr_number: number,
                author_login: login(&comment["author"]),
                author_type: None,
                body: text(comment, "content"),
                path: text(context, "filePath").map(|p| p.trim_start_matches('/').to_owned()),
                line: context["rightFileStart"]["line"].as_i64(),
                in_reply_to_id: (parent != 0).then(|| format!("{id}:{thread_id}:{parent}")),
                comment_created_at: at.time(comment, "publishedDate")?,
                comment_updated_at: at.time(comment, "lastUpdatedDate")?,
            });
        }
    }
    let mut commits = Vec::with_capacity(commits_answer.len());
    for commit in commits_answer {
        let sha = text(commit, "commitId").ok_or(PullRequestError::Missing("commitId"))?;
        let committed = at.time(&commit["committer"], "date")?;
        latest = latest.max(committed);
        commits.push(CommitRow {
            external_id: format!("{id}:{sha}"),
            pr_external_id: id.clone(),
            message: text(commit, "comment"),
            author_name: text(&commit["author"], "name"),
            author_email: text(&commit["author"], "email"),
            author_login: text(&commit["author"], "email"),
            committer_name: text(&commit["committer"], "name"),
            committer_login: text(&commit["committer"], "email"),
            authored_date: at.time(&commit["author"], "date")?,
            committed_date: committed,
            sha,
        });
    }
    let review_comments = comments
        .iter()
        .filter(|c| c.comment_type == CommentType::Review)
        .count();
    let pull = PullRow {
        external_id: id.clone(),
        repository_full_name,
        number,
        title: text(pr, "title"),
        body: text(pr, "description"),
        state: if status == "active" { "open" } else { "closed" }.to_owned(),
        is_draft: pr["isDraft"].as_bool().unwrap_or(false),
        author_login: login(&pr["createdBy"]),
        author_id: None,
        assignee_login: None,
        assignee_id: None,
        base_branch: branch(pr, "targetRefName"),
        head_branch: branch(pr, "sourceRefName"),
        base_sha: text(&pr["lastMergeTargetCommit"], "commitId"),
        head_sha: text(&pr["lastMergeSourceCommit"], "commitId"),
        additions: None,
        deletions: None,
        changed_files: None,
        commits_count: Some(commits.len() as i64),
        comments_count: Some((comments.len() - review_comments) as i64),
        review_comments_count: Some(review_comments as i64),
        pr_created_at: Some(created),
        pr_updated_at: latest,
        closed_at: closed.filter(|_| status != "active"),
        merged_at: closed.filter(|_| status == "completed"),
    };
    Ok(PullRows {
        repository: repository(&pr["repository"]),
        pull,
        reviews,
        commits,
        comments,
    })
}

/// Ids of the work items a stored pull request names: its work item references, and `AB#`
/// mentions in its title, description and commit messages.
pub fn work_item_keys(stored: &Value) -> Vec<String> {
    let pr = &stored["pullRequest"];
    let mut keys: BTreeSet<String> = pr["workItemRefs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|reference| match &reference["id"] {
            Value::String(id) => Some(id.clone()),
            Value::Number(id) => Some(id.to_string()),
            _ => None,
        })
        .filter(|id| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
        .collect();
    let messages = pr["commits"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|commit| commit["comment"].as_str());
    for text in [pr["title"].as_str(), pr["description"].as_str()]
        .into_iter()
        .flatten()
        .chain(messages)
    {
        keys.extend(mentions(text));
    }
    keys.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stored() -> Value {
        let person = |n: u32| json!({"displayName": format!("User {n}"), "uniqueName": format!("user{n}@example.com")});
        let property = |v: &str| json!({"$type": "System.String", "$value": v});
        json!({
            "pullRequest": {
                "pullRequestId": 42, "status": "completed", "title": "AB#7 Faster pool",
                "description": "Also fixes ab#9, not AB#0, xAB#5 or AB#6x.", "isDraft": false,
                "creationDate": "2025-03-01T10:00:00Z", "closedDate": "2025-03-03T10:00:00Z",
                "createdBy": person(1), "sourceRefName": "refs/heads/feature/pool", "targetRefName": "refs/heads/main",
                "lastMergeSourceCommit": {"commitId": "aaa"},
                "repository": {"id": "r-1", "name": "web", "project": {"name": "Fabrikam Fiber", "visibility": "private"}},
                "commits": [{"commitId": "c1", "comment": "Start AB#11",
                             "author": {"name": "User 1", "email": "user1@example.com", "date": "2025-02-28T09:00:00Z"},
                             "committer": {"name": "User 1", "email": "user1@example.com", "date": "2025-02-28T09:05:00Z"}}],
                "workItemRefs": [{"id": "7"}, {"id": "12"}],
            },
            "threads": [
                {"id": 5, "publishedDate": "2025-03-02T08:00:00Z", "lastUpdatedDate": "2025-03-02T08:00:00Z",
                 "properties": {"CodeReviewThreadType": property("VoteUpdate"), "CodeReviewVoteResult": property("-5")},
                 "comments": [{"id": 1, "commentType": "system", "author": person(2)}]},
                {"id": 6, "publishedDate": "2025-03-02T09:00:00Z", "lastUpdatedDate": "2025-03-02T11:00:00Z",
                 "threadContext": {"filePath": "/src/pool.rs", "rightFileStart": {"line": 12}},
                 "comments": [{"id": 1, "parentCommentId": 0, "commentType": "text", "content": "Why?", "author": person(2),
                               "publishedDate": "2025-03-02T09:00:00Z", "lastUpdatedDate": "2025-03-02T09:00:00Z"},
                              {"id": 2, "parentCommentId": 1, "commentType": "text", "content": "Speed.", "author": person(1),
                               "publishedDate": "2025-03-02T11:00:00Z", "lastUpdatedDate": "2025-03-02T11:00:00Z"}]},
                {"id": 7, "publishedDate": "2025-03-03T10:00:00Z", "lastUpdatedDate": "2025-03-03T10:00:00Z",
                 "properties": {"CodeReviewThreadType": property("StatusUpdate")},
                 "comments": [{"id": 1, "commentType": "system", "content": "completed", "author": person(1)}]},
                {"id": 8, "isDeleted": true, "comments": [{"id": 1, "commentType": "text", "content": "gone"}]},
            ],
        })
    }

    #[test]
    fn votes_become_reviews_people_comments_and_system_threads_are_left_out() {
        let rows = pull_rows(&stored()).unwrap();
        let pull = &rows.pull;
        assert_eq!((pull.external_id.as_str(), pull.number), ("42", 42));
        assert_eq!(pull.repository_full_name, "Fabrikam Fiber/web");
        assert_eq!(pull.state, "closed");
        assert_eq!(pull.merged_at, pull.closed_at);
        assert!(pull.merged_at.is_some());
        assert_eq!(pull.head_branch.as_deref(), Some("feature/pool"));
        assert_eq!(pull.author_login.as_deref(), Some("user1@example.com"));
        assert_eq!(pull.pr_updated_at, pull.closed_at, "the latest event");
        assert_eq!(rows.reviews.len(), 1);
        assert_eq!(rows.reviews[0].state, "WAITING_FOR_AUTHOR");
        assert_eq!(rows.reviews[0].external_id, "42:5");
        let ids: Vec<&str> = rows
            .comments
            .iter()
            .map(|c| c.external_id.as_str())
            .collect();
        assert_eq!(ids, ["42:6:1", "42:6:2"]);
        assert_eq!(rows.comments[1].in_reply_to_id.as_deref(), Some("42:6:1"));
        assert_eq!(rows.comments[0].path.as_deref(), Some("src/pool.rs"));
        assert_eq!(rows.comments[0].comment_type, CommentType::Review);
        assert_eq!(
            (pull.comments_count, pull.review_comments_count),
            (Some(0), Some(2))
        );
        assert_eq!(rows.commits[0].external_id, "42:c1");
        assert_eq!(rows.repository.unwrap().owner, "Fabrikam Fiber");
    }

    #[test]
    fn work_items_come_from_references_and_mentions() {
        assert_eq!(work_item_keys(&stored()), ["11", "12", "7", "9"]);
    }

    #[test]
    fn an_unreadable_date_fails_the_pull_request() {
        let mut bad = stored();
        bad["pullRequest"]["creationDate"] = json!("not a date");
        assert!(matches!(
            pull_rows(&bad),
            Err(PullRequestError::BadTime {
                field: "creationDate",
                ..
            })
        ));
    }
}
