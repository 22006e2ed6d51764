//! GitHub entities to rows: repositories, pull requests, their commits and reviews, and
//! review and issue comments (tied to their pull request by repository and number).

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::sources::fields::clean;
use crate::sources::pull_requests::rows::{
    CommentRow, CommentType, CommitRow, PullRow, RepositoryRow, ReviewRow,
};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GithubError {
    #[error("{entity} has no {field}")]
    Missing {
        entity: &'static str,
        field: &'static str,
    },
    #[error("{entity} {id}: {field} is not a valid timestamp: {value}")]
    BadTime {
        entity: &'static str,
        id: String,
        field: &'static str,
        value: String,
    },
}

pub(super) fn text(value: &Value, path: &[&str]) -> Option<String> {
    path.iter()
        .try_fold(value, |node, key| node.get(key))
        .and_then(Value::as_str)
        .map(clean)
}

pub(super) fn number(value: &Value, path: &[&str]) -> Option<i64> {
    path.iter()
        .try_fold(value, |node, key| node.get(key))
        .and_then(Value::as_i64)
}

/// An id as text, whether GitHub sent a number or a string.
pub(super) fn id(value: &Value, entity: &'static str) -> Result<String, GithubError> {
    match value.get("id") {
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(Value::String(s)) if !s.is_empty() => Ok(s.clone()),
        _ => Err(GithubError::Missing {
            entity,
            field: "id",
        }),
    }
}

/// An optional RFC 3339 timestamp; present but unreadable is an error.
pub(super) fn time(
    value: &Value,
    path: &[&'static str],
    (entity, id): (&'static str, &str),
) -> Result<Option<DateTime<Utc>>, GithubError> {
    let node = path.iter().try_fold(value, |node, key| node.get(key));
    match node {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => DateTime::parse_from_rfc3339(text)
            .map(|at| Some(at.with_timezone(&Utc)))
            .map_err(|_| GithubError::BadTime {
                entity,
                id: id.to_owned(),
                field: path.last().copied().unwrap_or_default(),
                value: text.clone(),
            }),
        Some(other) => Err(GithubError::BadTime {
            entity,
            id: id.to_owned(),
            field: path.last().copied().unwrap_or_default(),
            value: other.to_string(),
        }),
    }
}

pub fn repository(repo: &Value) -> Result<RepositoryRow, GithubError> {
    const ENTITY: &str = "repository";
    let external_id = id(repo, ENTITY)?;
    let full_name = text(repo, &["full_name"]).ok_or(GithubError::Missing {
        entity: ENTITY,
        field: "full_name",
    })?;
    let (owner_part, name_part) = full_name.split_once('/').unwrap_or(("", &full_name));
    let at = |field| time(repo, &[field], (ENTITY, &external_id));
    Ok(RepositoryRow {
        owner: text(repo, &["owner", "login"]).unwrap_or_else(|| owner_part.to_owned()),
        name: text(repo, &["name"]).unwrap_or_else(|| name_part.to_owned()),
        description: text(repo, &["description"]),
        default_branch: text(repo, &["default_branch"]),
        language: text(repo, &["language"]),
        private: repo["private"].as_bool().unwrap_or(false),
        archived: repo["archived"].as_bool().unwrap_or(false),
        repo_created_at: at("created_at")?,
        repo_updated_at: at("updated_at")?,
        pushed_at: at("pushed_at")?,
        full_name,
        external_id,
    })
}

/// `owner/name` and number from an API URL ending in `/repos/{owner}/{name}/{pulls|issues}/{n}`.
pub fn repository_and_number(url: &str) -> Option<(String, i64)> {
    let (_, path) = url.split_once("/repos/")?;
    let mut parts = path.split('/');
    let (owner, name, _kind, number) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    Some((format!("{owner}/{name}"), number.parse().ok()?))
}

/// A pull request, from `/pulls/{n}` (with size fields) or a `/pulls` listing (without).
pub fn pull(pr: &Value) -> Result<PullRow, GithubError> {
    const ENTITY: &str = "pull request";
    let external_id = id(pr, ENTITY)?;
    let repository_full_name = text(pr, &["base", "repo", "full_name"])
        .or_else(|| {
            text(pr, &["url"])
                .and_then(|u| repository_and_number(&u))
                .map(|(r, _)| r)
        })
        .ok_or(GithubError::Missing {
            entity: ENTITY,
            field: "base.repo.full_name",
        })?;
    let at = |field| time(pr, &[field], (ENTITY, &external_id));
    Ok(PullRow {
        number: number(pr, &["number"]).ok_or(GithubError::Missing {
            entity: ENTITY,
            field: "number",
        })?,
        title: text(pr, &["title"]),
        // GitHub answers an empty body as null or "": both are no body.
        body: text(pr, &["body"]).filter(|b| !b.is_empty()),
        state: text(pr, &["state"]).ok_or(GithubError::Missing {
            entity: ENTITY,
            field: "state",
        })?,
        is_draft: pr["draft"].as_bool().unwrap_or(false),
        author_login: text(pr, &["user", "login"]),
        author_id: number(pr, &["user", "id"]),
        assignee_login: text(pr, &["assignee", "login"]),
        assignee_id: number(pr, &["assignee", "id"]),
        base_branch: text(pr, &["base", "ref"]),
        head_branch: text(pr, &["head", "ref"]),
        base_sha: text(pr, &["base", "sha"]),
        head_sha: text(pr, &["head", "sha"]),
        additions: number(pr, &["additions"]),
        deletions: number(pr, &["deletions"]),
        changed_files: number(pr, &["changed_files"]),
        commits_count: number(pr, &["commits"]),
        comments_count: number(pr, &["comments"]),
        review_comments_count: number(pr, &["review_comments"]),
        pr_created_at: at("created_at")?,
        pr_updated_at: at("updated_at")?,
        closed_at: at("closed_at")?,
        merged_at: at("merged_at")?,
        repository_full_name,
        external_id,
    })
}

/// One entry of `/pulls/{n}/commits`.
pub fn commit(pr_external_id: &str, commit: &Value) -> Result<CommitRow, GithubError> {
    const ENTITY: &str = "commit";
    let sha = text(commit, &["sha"]).ok_or(GithubError::Missing {
        entity: ENTITY,
        field: "sha",
    })?;
    let at = |who| time(commit, &["commit", who, "date"], (ENTITY, &sha));
    Ok(CommitRow {
        external_id: format!("{pr_external_id}:{sha}"),
        pr_external_id: pr_external_id.to_owned(),
        message: text(commit, &["commit", "message"]),
        author_name: text(commit, &["commit", "author", "name"]),
        author_email: text(commit, &["commit", "author", "email"]),
        author_login: text(commit, &["author", "login"]),
        committer_name: text(commit, &["commit", "committer", "name"]),
        committer_login: text(commit, &["committer", "login"]),
        authored_date: at("author")?,
        committed_date: at("committer")?,
        sha,
    })
}

/// One entry of `/pulls/{n}/reviews`.
pub fn review(pr_external_id: &str, review: &Value) -> Result<ReviewRow, GithubError> {
    const ENTITY: &str = "review";
    let external_id = id(review, ENTITY)?;
    Ok(ReviewRow {
        pr_external_id: pr_external_id.to_owned(),
        author_login: text(review, &["user", "login"]),
        author_type: text(review, &["user", "type"]),
        state: text(review, &["state"]).ok_or(GithubError::Missing {
            entity: ENTITY,
            field: "state",
        })?,
        body: text(review, &["body"]).filter(|b| !b.is_empty()),
        commit_id: text(review, &["commit_id"]),
        submitted_at: time(review, &["submitted_at"], (ENTITY, &external_id))?,
        external_id,
    })
}

/// One entry of `/pulls/comments` (review) or `/issues/comments` (issue). Comments on
/// plain issues look the same as those on pull requests; loading keeps only comments whose
/// pull request is known.
pub fn comment(kind: CommentType, comment: &Value) -> Result<CommentRow, GithubError> {
    const ENTITY: &str = "comment";
    let external_id = id(comment, ENTITY)?;
    let url_field = match kind {
        CommentType::Review => "pull_request_url",
        CommentType::Issue => "issue_url",
    };
    let (repository_full_name, pr_number) = text(comment, &[url_field])
        .and_then(|url| repository_and_number(&url))
        .ok_or(GithubError::Missing {
            entity: ENTITY,
            field: url_field,
        })?;
    let at = |field| time(comment, &[field], (ENTITY, &external_id));
    Ok(CommentRow {
        comment_type: kind,
        repository_full_name,
        pr_number,
        author_login: text(comment, &["user", "login"]),
        author_type: text(comment, &["user", "type"]),
        body: text(comment, &["body"]),
        path: text(comment, &["path"]),
        line: number(comment, &["line"]).or_else(|| number(comment, &["original_line"])),
        in_reply_to_id: comment
            .get("in_reply_to_id")
            .and_then(|v| v.as_i64().map(|n| n.to_string())),
        comment_created_at: at("created_at")?,
        comment_updated_at: at("updated_at")?,
        external_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn repository_and_number_come_from_api_urls() {
        assert_eq!(
            repository_and_number("https://api.github.com/repos/o/r/pulls/12"),
            Some(("o/r".to_owned(), 12))
        );
        assert_eq!(
            repository_and_number("http://127.0.0.1:9/repos/sim-org/repo-1/issues/7"),
            Some(("sim-org/repo-1".to_owned(), 7))
        );
        assert_eq!(repository_and_number("https://api.github.com/user"), None);
    }

    #[test]
    fn a_listed_pull_request_has_no_size_fields_and_a_detailed_one_has() {
        let listed = json!({
            "id": 5, "number": 3, "state": "closed", "title": "T", "body": null, "draft": false,
            "user": {"login": "ana", "id": 9}, "assignee": null,
            "base": {"ref": "main", "sha": "b", "repo": {"full_name": "o/r"}},
            "head": {"ref": "topic", "sha": "h"},
            "created_at": "2024-01-02T03:04:05Z", "updated_at": "2024-01-03T03:04:05Z",
            "closed_at": "2024-01-03T03:04:05Z", "merged_at": null,
        });
        let row = pull(&listed).unwrap();
        assert_eq!(row.external_id, "5");
        assert_eq!(row.repository_full_name, "o/r");
        assert_eq!(
            (row.additions, row.deletions, row.changed_files),
            (None, None, None)
        );
        assert_eq!(row.merged_at, None);
        assert_eq!(row.author_id, Some(9));
        let mut detailed = listed.clone();
        detailed["additions"] = json!(10);
        detailed["deletions"] = json!(2);
        detailed["changed_files"] = json!(1);
        let row = pull(&detailed).unwrap();
        assert_eq!(
            (row.additions, row.deletions, row.changed_files),
            (Some(10), Some(2), Some(1))
        );
    }

    #[test]
    fn malformed_entities_fail_with_the_reason() {
        assert_eq!(
            pull(&json!({"number": 1})).unwrap_err(),
            GithubError::Missing {
                entity: "pull request",
                field: "id"
            }
        );
        let bad_time = json!({"id": 1, "number": 1, "state": "open",
            "base": {"repo": {"full_name": "o/r"}}, "created_at": "yesterday"});
        assert!(matches!(
            pull(&bad_time),
            Err(GithubError::BadTime {
                field: "created_at",
                ..
            })
        ));
        assert!(comment(CommentType::Issue, &json!({"id": 4})).is_err());
    }

    #[test]
    fn comments_point_at_their_pull_request() {
        let review_comment = json!({
            "id": 77, "pull_request_url": "https://api.github.com/repos/o/r/pulls/3",
            "user": {"login": "bot[bot]", "type": "Bot"}, "body": "nit", "path": "a.rs",
            "line": null, "original_line": 4, "in_reply_to_id": 70,
            "created_at": "2024-01-02T03:04:05Z", "updated_at": "2024-01-02T03:04:05Z",
        });
        let row = comment(CommentType::Review, &review_comment).unwrap();
        assert_eq!(
            (row.repository_full_name.as_str(), row.pr_number),
            ("o/r", 3)
        );
        assert_eq!(row.line, Some(4));
        assert_eq!(row.in_reply_to_id.as_deref(), Some("70"));
        assert_eq!(row.author_type.as_deref(), Some("Bot"));
    }
}
