//! GitHub GraphQL pull request nodes to the same rows the REST transform makes: a stored
//! node is first completed with the continuations of its nested lists, then read field by
//! field under GraphQL's names (`fullDatabaseId`, `MERGED`, bots named without `[bot]`).

use serde_json::Value;

use super::graphql::{database_id, Nested};
use super::transform::{number, text, time, GithubError};
use crate::sources::pull_requests::rows::{
    CommentRow, CommentType, CommitRow, PullRow, PullRows, ReviewRow,
};
use crate::store::raw::RawRecord;

/// The nodes of a connection.
fn nodes(connection: &Value) -> &[Value] {
    connection["nodes"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
}

fn append(connection: &mut Value, more: &Value) {
    let more = nodes(more).to_vec();
    match connection["nodes"].as_array_mut() {
        Some(list) => list.extend(more),
        None => connection["nodes"] = Value::Array(more),
    }
}

/// The pull request node with the entries its continuations read appended (continuations
/// in the order they were fetched, so a thread is there before its comments).
pub fn complete(mut node: Value, continuations: &[RawRecord]) -> Value {
    for record in continuations {
        let metadata = &record.extraction_metadata;
        let Ok(nested) = serde_json::from_value::<Nested>(metadata["nested"].clone()) else {
            continue;
        };
        if nested == Nested::ThreadComments {
            let thread_id = metadata["node"].as_str().unwrap_or_default();
            if let Some(threads) = node["reviewThreads"]["nodes"].as_array_mut() {
                if let Some(thread) = threads.iter_mut().find(|t| t["id"] == thread_id) {
                    append(&mut thread["comments"], &record.raw_data);
                }
            }
        } else {
            append(&mut node[nested.field()], &record.raw_data);
        }
    }
    node
}

/// An actor's login as REST spells it (GraphQL names bots without `[bot]`) and its type.
fn actor(actor: &Value) -> (Option<String>, Option<String>) {
    let kind = text(actor, &["__typename"]);
    let login = text(actor, &["login"]).map(|login| match kind.as_deref() {
        Some("Bot") if !login.ends_with("[bot]") => format!("{login}[bot]"),
        _ => login,
    });
    (login, kind)
}

fn required(
    value: Option<String>,
    entity: &'static str,
    field: &'static str,
) -> Result<String, GithubError> {
    value.ok_or(GithubError::Missing { entity, field })
}

/// A completed pull request node as rows.
pub fn pull_rows(node: &Value) -> Result<PullRows, GithubError> {
    const ENTITY: &str = "pull request";
    let external_id = required(database_id(node), ENTITY, "fullDatabaseId")?;
    let repository_full_name = required(
        text(node, &["repository", "nameWithOwner"]),
        ENTITY,
        "repository.nameWithOwner",
    )?;
    let at = |field| time(node, &[field], (ENTITY, &external_id));
    let (author_login, _) = actor(&node["author"]);
    let assignee = nodes(&node["assignees"])
        .first()
        .cloned()
        .unwrap_or_default();
    let state = match node["state"].as_str() {
        Some("OPEN") => "open",
        Some("CLOSED" | "MERGED") => "closed",
        _ => {
            return Err(GithubError::Missing {
                entity: ENTITY,
                field: "state",
            })
        }
    };
    let pr_number = number(node, &["number"]).ok_or(GithubError::Missing {
        entity: ENTITY,
        field: "number",
    })?;
    let review_comments: Vec<&Value> = nodes(&node["reviewThreads"])
        .iter()
        .flat_map(|thread| nodes(&thread["comments"]))
        .collect();
    let pull = PullRow {
        number: pr_number,
        title: text(node, &["title"]),
        // An empty body is no body (GraphQL sends "", REST null or "").
        body: text(node, &["body"]).filter(|b| !b.is_empty()),
        state: state.to_owned(),
        is_draft: node["isDraft"].as_bool().unwrap_or(false),
        author_id: number(node, &["author", "databaseId"]),
        author_login,
        assignee_login: text(&assignee, &["login"]),
        assignee_id: number(&assignee, &["databaseId"]),
        base_branch: text(node, &["baseRefName"]),
        head_branch: text(node, &["headRefName"]),
        base_sha: text(node, &["baseRefOid"]),
        head_sha: text(node, &["headRefOid"]),
        additions: number(node, &["additions"]),
        deletions: number(node, &["deletions"]),
        changed_files: number(node, &["changedFiles"]),
        commits_count: number(node, &["commits", "totalCount"]),
        comments_count: number(node, &["comments", "totalCount"]),
        review_comments_count: Some(review_comments.len() as i64),
        pr_created_at: at("createdAt")?,
        pr_updated_at: at("updatedAt")?,
        closed_at: at("closedAt")?,
        merged_at: at("mergedAt")?,
        repository_full_name: repository_full_name.clone(),
        external_id: external_id.clone(),
    };
    let reviews = nodes(&node["reviews"])
        .iter()
        .map(|r| review(&external_id, r))
        .collect::<Result<_, _>>()?;
    let commits = nodes(&node["commits"])
        .iter()
        .map(|c| commit(&external_id, &c["commit"]))
        .collect::<Result<_, _>>()?;
    let place = (repository_full_name.as_str(), pr_number);
    let comments = nodes(&node["comments"])
        .iter()
        .map(|c| comment(CommentType::Issue, place, c))
        .chain(
            review_comments
                .into_iter()
                .map(|c| comment(CommentType::Review, place, c)),
        )
        .collect::<Result<_, _>>()?;
    Ok(PullRows {
        pull,
        reviews,
        commits,
        comments,
        repository: None,
    })
}

fn review(pr_external_id: &str, review: &Value) -> Result<ReviewRow, GithubError> {
    const ENTITY: &str = "review";
    let external_id = required(database_id(review), ENTITY, "fullDatabaseId")?;
    let (author_login, author_type) = actor(&review["author"]);
    Ok(ReviewRow {
        pr_external_id: pr_external_id.to_owned(),
        author_login,
        author_type,
        state: required(text(review, &["state"]), ENTITY, "state")?,
        body: text(review, &["body"]).filter(|b| !b.is_empty()),
        commit_id: text(review, &["commit", "oid"]),
        submitted_at: time(review, &["submittedAt"], (ENTITY, &external_id))?,
        external_id,
    })
}

fn commit(pr_external_id: &str, commit: &Value) -> Result<CommitRow, GithubError> {
    const ENTITY: &str = "commit";
    let sha = required(text(commit, &["oid"]), ENTITY, "oid")?;
    let at = |field| time(commit, &[field], (ENTITY, &sha));
    Ok(CommitRow {
        external_id: format!("{pr_external_id}:{sha}"),
        pr_external_id: pr_external_id.to_owned(),
        message: text(commit, &["message"]),
        author_name: text(commit, &["author", "name"]),
        author_email: text(commit, &["author", "email"]),
        author_login: text(commit, &["author", "user", "login"]),
        committer_name: text(commit, &["committer", "name"]),
        committer_login: text(commit, &["committer", "user", "login"]),
        authored_date: at("authoredDate")?,
        committed_date: at("committedDate")?,
        sha,
    })
}

fn comment(
    kind: CommentType,
    (repository, pr_number): (&str, i64),
    comment: &Value,
) -> Result<CommentRow, GithubError> {
    const ENTITY: &str = "comment";
    let external_id = required(database_id(comment), ENTITY, "fullDatabaseId")?;
    let (author_login, author_type) = actor(&comment["author"]);
    let at = |field| time(comment, &[field], (ENTITY, &external_id));
    Ok(CommentRow {
        comment_type: kind,
        repository_full_name: repository.to_owned(),
        pr_number,
        author_login,
        author_type,
        body: text(comment, &["body"]),
        path: text(comment, &["path"]),
        line: number(comment, &["line"]).or_else(|| number(comment, &["originalLine"])),
        in_reply_to_id: database_id(&comment["replyTo"]),
        comment_created_at: at("createdAt")?,
        comment_updated_at: at("updatedAt")?,
        external_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RawId;
    use serde_json::json;

    fn continuation(nested: &str, node: &str, data: Value) -> RawRecord {
        RawRecord {
            id: "1".parse::<RawId>().unwrap(),
            kind: "github_graphql_continuation".into(),
            external_id: Some("77".into()),
            raw_data: data,
            extraction_metadata: json!({"nested": nested, "node": node}),
        }
    }

    fn pull_node() -> Value {
        json!({
            "id": "PR_1", "fullDatabaseId": "77", "number": 5, "title": "T", "body": "",
            "state": "MERGED", "isDraft": false, "createdAt": "2024-01-02T03:04:05Z",
            "updatedAt": "2024-01-03T03:04:05Z", "closedAt": "2024-01-03T03:04:05Z",
            "mergedAt": "2024-01-03T03:04:05Z", "additions": 3, "deletions": 1, "changedFiles": 1,
            "baseRefName": "main", "headRefName": "feature/X-1", "baseRefOid": "b", "headRefOid": "h",
            "repository": {"nameWithOwner": "o/r"},
            "author": {"__typename": "Bot", "login": "dependabot", "databaseId": 49699333},
            "assignees": {"nodes": [{"login": "ana", "databaseId": 9}]},
            "commits": {"totalCount": 1, "nodes": [{"commit": {"oid": "abc", "message": "m",
                "authoredDate": "2024-01-01T00:00:00Z", "committedDate": "2024-01-01T00:01:00Z",
                "author": {"name": "Ana", "email": "a@x", "user": {"login": "ana"}},
                "committer": {"name": "Ana", "email": "a@x", "user": null}}}]},
            "reviews": {"nodes": [{"fullDatabaseId": "900", "state": "APPROVED", "body": "",
                "submittedAt": "2024-01-02T05:00:00Z", "commit": {"oid": "h"},
                "author": {"__typename": "User", "login": "bo", "databaseId": 2}}]},
            "comments": {"totalCount": 0, "nodes": []},
            "reviewThreads": {"nodes": [{"id": "T_1", "comments": {"nodes": [
                {"fullDatabaseId": "700", "body": "nit", "path": "a.rs", "line": null, "originalLine": 4,
                 "replyTo": null, "createdAt": "2024-01-02T04:00:00Z", "updatedAt": "2024-01-02T04:00:00Z",
                 "author": {"__typename": "User", "login": "bo", "databaseId": 2}}]}}]},
        })
    }

    #[test]
    fn a_node_becomes_the_rows_rest_would_give() {
        let PullRows {
            pull,
            reviews,
            commits,
            comments,
            ..
        } = pull_rows(&pull_node()).unwrap();
        assert_eq!(pull.external_id, "77");
        assert_eq!(pull.state, "closed");
        assert_eq!(pull.body, None);
        assert_eq!(pull.author_login.as_deref(), Some("dependabot[bot]"));
        assert_eq!(
            (pull.assignee_login.as_deref(), pull.assignee_id),
            (Some("ana"), Some(9))
        );
        assert_eq!(
            (pull.commits_count, pull.review_comments_count),
            (Some(1), Some(1))
        );
        assert_eq!(reviews[0].body, None);
        assert_eq!(reviews[0].author_type.as_deref(), Some("User"));
        assert_eq!(commits[0].external_id, "77:abc");
        assert_eq!(commits[0].committer_login, None);
        assert_eq!(comments[0].comment_type, CommentType::Review);
        assert_eq!(
            (
                comments[0].repository_full_name.as_str(),
                comments[0].pr_number
            ),
            ("o/r", 5)
        );
        assert_eq!(comments[0].line, Some(4));
    }

    #[test]
    fn continuations_complete_lists_and_threads() {
        let more_threads =
            continuation("review_threads", "PR_1", json!({"nodes": [{"id": "T_2"}]}));
        let thread_comment = json!({"fullDatabaseId": "701", "body": "b", "path": "b.rs", "line": 1,
            "replyTo": {"fullDatabaseId": "700"}, "createdAt": "2024-01-02T04:00:00Z",
            "updatedAt": "2024-01-02T04:00:00Z", "author": null});
        let more_comments =
            continuation("thread_comments", "T_2", json!({"nodes": [thread_comment]}));
        let more_commits = continuation(
            "commits",
            "PR_1",
            json!({"nodes": [{"commit": {"oid": "def",
            "authoredDate": "2024-01-01T00:00:00Z", "committedDate": "2024-01-01T00:00:00Z"}}]}),
        );
        let node = complete(pull_node(), &[more_threads, more_comments, more_commits]);
        let PullRows {
            pull,
            commits,
            comments,
            ..
        } = pull_rows(&node).unwrap();
        assert_eq!(commits.len(), 2);
        assert_eq!(comments.len(), 2);
        assert_eq!(comments[1].in_reply_to_id.as_deref(), Some("700"));
        assert_eq!(pull.review_comments_count, Some(2));
    }

    #[test]
    fn an_unreadable_date_fails_the_pull_request() {
        let mut node = pull_node();
        node["createdAt"] = json!("not a date");
        assert!(matches!(
            pull_rows(&node),
            Err(GithubError::BadTime {
                field: "createdAt",
                ..
            })
        ));
    }
}
