//! GitHub REST v3 JSON for generated entities, with the keys and value types of real
//! responses (see `shared/fixtures/real/github`).

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::pulls::{Actor, Comment, Commit, Pull, Review};
use super::site::{repo_full_name, repo_name, ORG};
use crate::simulator::people;

pub fn github_time(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A global node id as GitHub's legacy ids look: base64 of `<kind><database id>`.
pub fn node_id(kind: &str, id: u64) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(format!("{kind}{id}"))
}

/// The database id inside a node id made by [`node_id`] with this `kind`.
pub fn node_id_of(kind: &str, node_id: &str) -> Option<u64> {
    use base64::Engine;
    let text = base64::engine::general_purpose::STANDARD
        .decode(node_id)
        .ok()?;
    String::from_utf8(text)
        .ok()?
        .strip_prefix(kind)?
        .parse()
        .ok()
}

pub fn user(base: &str, actor: Actor) -> Value {
    let login = actor.login();
    let api = format!("{base}/users/{login}");
    json!({
        "login": login,
        "id": actor.id(),
        "node_id": node_id("04:User", actor.id()),
        "avatar_url": "https://avatars.example.com/u/0",
        "gravatar_id": "",
        "url": api,
        "html_url": format!("https://github.com/{login}"),
        "followers_url": format!("{api}/followers"),
        "following_url": format!("{api}/following{{/other_user}}"),
        "gists_url": format!("{api}/gists{{/gist_id}}"),
        "starred_url": format!("{api}/starred{{/owner}}{{/repo}}"),
        "subscriptions_url": format!("{api}/subscriptions"),
        "organizations_url": format!("{api}/orgs"),
        "repos_url": format!("{api}/repos"),
        "events_url": format!("{api}/events{{/privacy}}"),
        "received_events_url": format!("{api}/received_events"),
        "type": if actor.is_bot() { "Bot" } else { "User" },
        "site_admin": false,
    })
}

fn organisation(base: &str) -> Value {
    let mut owner = user(base, Actor::Human(0));
    let api = format!("{base}/users/{ORG}");
    owner["login"] = Value::from(ORG);
    owner["id"] = Value::from(9_000_000);
    owner["url"] = Value::from(api.clone());
    owner["html_url"] = Value::from(format!("https://github.com/{ORG}"));
    owner["type"] = Value::from("Organization");
    owner
}

pub fn repo_id(repo: usize) -> u64 {
    134_000_000 + repo as u64
}

pub fn repository(base: &str, repo: usize) -> Value {
    let full = repo_full_name(repo);
    let api = format!("{base}/repos/{full}");
    json!({
        "id": repo_id(repo), "node_id": node_id("010:Repository", repo_id(repo)),
        "name": repo_name(repo), "full_name": full, "private": false, "owner": organisation(base),
        "html_url": format!("https://github.com/{full}"), "description": format!("Simulated repository {repo}."),
        "fork": false, "url": api,
        "forks_url": format!("{api}/forks"), "keys_url": format!("{api}/keys{{/key_id}}"),
        "collaborators_url": format!("{api}/collaborators{{/collaborator}}"), "teams_url": format!("{api}/teams"),
        "hooks_url": format!("{api}/hooks"), "issue_events_url": format!("{api}/issues/events{{/number}}"),
        "events_url": format!("{api}/events"), "assignees_url": format!("{api}/assignees{{/user}}"),
        "branches_url": format!("{api}/branches{{/branch}}"), "tags_url": format!("{api}/tags"),
        "blobs_url": format!("{api}/git/blobs{{/sha}}"), "git_tags_url": format!("{api}/git/tags{{/sha}}"),
        "git_refs_url": format!("{api}/git/refs{{/sha}}"), "trees_url": format!("{api}/git/trees{{/sha}}"),
        "statuses_url": format!("{api}/statuses/{{sha}}"), "languages_url": format!("{api}/languages"),
        "stargazers_url": format!("{api}/stargazers"), "contributors_url": format!("{api}/contributors"),
        "subscribers_url": format!("{api}/subscribers"), "subscription_url": format!("{api}/subscription"),
        "commits_url": format!("{api}/commits{{/sha}}"), "git_commits_url": format!("{api}/git/commits{{/sha}}"),
        "comments_url": format!("{api}/comments{{/number}}"), "issue_comment_url": format!("{api}/issues/comments{{/number}}"),
        "contents_url": format!("{api}/contents/{{+path}}"), "compare_url": format!("{api}/compare/{{base}}...{{head}}"),
        "merges_url": format!("{api}/merges"), "archive_url": format!("{api}/{{archive_format}}{{/ref}}"),
        "downloads_url": format!("{api}/downloads"), "issues_url": format!("{api}/issues{{/number}}"),
        "pulls_url": format!("{api}/pulls{{/number}}"), "milestones_url": format!("{api}/milestones{{/number}}"),
        "notifications_url": format!("{api}/notifications{{?since,all,participating}}"),
        "labels_url": format!("{api}/labels{{/name}}"), "releases_url": format!("{api}/releases{{/id}}"),
        "deployments_url": format!("{api}/deployments"),
        "created_at": "2018-05-19T01:13:38Z", "updated_at": "2025-12-30T15:27:54Z", "pushed_at": "2025-12-31T01:54:29Z",
        "git_url": format!("git://github.com/{full}.git"), "ssh_url": format!("git@github.com:{full}.git"),
        "clone_url": format!("https://github.com/{full}.git"), "svn_url": format!("https://github.com/{full}"),
        "homepage": "https://example.com", "size": 1821, "stargazers_count": 120, "watchers_count": 120,
        "language": "Go", "has_issues": true, "has_projects": true, "has_downloads": true, "has_wiki": true,
        "has_pages": false, "forks_count": 12, "mirror_url": null, "archived": false, "disabled": false,
        "open_issues_count": 5,
        "license": {"key": "mit", "name": "MIT License", "spdx_id": "MIT", "url": format!("{base}/licenses/mit"), "node_id": "MDc6TGljZW5zZTEz"},
        "allow_forking": true, "is_template": false, "topics": ["simulation"], "visibility": "public",
        "forks": 12, "open_issues": 5, "watchers": 120, "default_branch": "main",
    })
}

fn label(base: &str, repo: usize, name: &str) -> Value {
    let id = 937_861_000 + name.len() as u64;
    json!({
        "id": id, "node_id": node_id("05:Label", id),
        "url": format!("{base}/repos/{}/labels/{name}", repo_full_name(repo)),
        "name": name, "color": "3eede7", "default": name == "bug" || name == "enhancement",
        "description": format!("{name} label"),
    })
}

fn association(pull: &Pull, actor: Actor) -> &'static str {
    if actor.is_bot() {
        "NONE"
    } else if actor == pull.author {
        "CONTRIBUTOR"
    } else {
        "MEMBER"
    }
}

/// A pull request as `/pulls` lists it; `detailed` adds the single-PR fields
/// (`merged`, `commits`, `additions`, `deletions`, `changed_files`, ...).
pub fn pull(base: &str, pull: &Pull, detailed: bool) -> Value {
    let full = repo_full_name(pull.repo);
    let api = format!("{base}/repos/{full}");
    let url = format!("{api}/pulls/{}", pull.number);
    let html = format!("https://github.com/{full}/pull/{}", pull.number);
    let branch = |reference: &str, sha: String| {
        json!({
            "label": format!("{ORG}:{reference}"), "ref": reference, "sha": sha,
            "user": organisation(base), "repo": repository(base, pull.repo),
        })
    };
    let mut value = json!({
        "url": url, "id": pull.id(), "node_id": node_id("011:PullRequest", pull.id()),
        "html_url": html, "diff_url": format!("{html}.diff"), "patch_url": format!("{html}.patch"),
        "issue_url": format!("{api}/issues/{}", pull.number), "number": pull.number,
        "state": pull.state(), "locked": false, "title": pull.title, "user": user(base, pull.author),
        "body": pull.body, "created_at": github_time(pull.created_ms), "updated_at": github_time(pull.updated_ms()),
        "closed_at": pull.closed_ms.map(github_time), "merged_at": pull.merged_ms.map(github_time),
        "merge_commit_sha": pull.merged_ms.map(|_| super::pulls::sha(pull.index, 99, 0)),
        "assignee": null, "assignees": [], "requested_reviewers": [], "requested_teams": [],
        "labels": pull.labels.iter().map(|l| label(base, pull.repo, l)).collect::<Vec<_>>(),
        "milestone": null, "draft": pull.draft,
        "commits_url": format!("{url}/commits"), "review_comments_url": format!("{url}/comments"),
        "review_comment_url": format!("{api}/pulls/comments{{/number}}"),
        "comments_url": format!("{api}/issues/{}/comments", pull.number),
        "statuses_url": format!("{api}/statuses/{}", pull.head_sha()),
        "head": branch(&pull.head_ref, pull.head_sha()),
        "base": branch("main", super::pulls::sha(pull.index, 98, 0)),
        "_links": {
            "self": {"href": url}, "html": {"href": html},
            "issue": {"href": format!("{api}/issues/{}", pull.number)},
            "comments": {"href": format!("{api}/issues/{}/comments", pull.number)},
            "review_comments": {"href": format!("{url}/comments")},
            "review_comment": {"href": format!("{api}/pulls/comments{{/number}}")},
            "commits": {"href": format!("{url}/commits")},
            "statuses": {"href": format!("{api}/statuses/{}", pull.head_sha())},
        },
        "author_association": association(pull, pull.author), "auto_merge": null, "active_lock_reason": null,
    });
    if detailed {
        let extra = json!({
            "merged": pull.merged_ms.is_some(), "mergeable": pull.closed_ms.is_none().then_some(true),
            "rebaseable": pull.closed_ms.is_none().then_some(true),
            "mergeable_state": if pull.closed_ms.is_none() { "clean" } else { "unknown" },
            "merged_by": pull.merged_ms.map(|_| user(base, Actor::Human(0))),
            "comments": pull.issue_comments.len(), "review_comments": pull.review_comments.len(),
            "maintainer_can_modify": false, "commits": pull.commits.len(),
            "additions": pull.additions, "deletions": pull.deletions, "changed_files": pull.changed_files,
        });
        if let (Some(target), Some(extra)) = (value.as_object_mut(), extra.as_object()) {
            target.extend(extra.clone());
        }
    }
    value
}

pub fn review(base: &str, pull: &Pull, review: &Review) -> Value {
    let full = repo_full_name(pull.repo);
    let html = format!(
        "https://github.com/{full}/pull/{}#pullrequestreview-{}",
        pull.number, review.id
    );
    let pull_url = format!("{base}/repos/{full}/pulls/{}", pull.number);
    json!({
        "id": review.id, "node_id": node_id("017:PullRequestReview", review.id),
        "user": user(base, review.author), "body": review.body, "state": review.state,
        "html_url": html, "pull_request_url": pull_url,
        "author_association": association(pull, review.author),
        "_links": {"html": {"href": html}, "pull_request": {"href": pull_url}},
        "submitted_at": github_time(review.submitted_ms), "commit_id": pull.head_sha(),
    })
}

/// The e-mail a commit of `actor` carries: a human's work e-mail, a bot's no-reply one.
pub fn email(actor: Actor) -> String {
    match actor {
        Actor::Human(n) => people::email(n),
        Actor::Bot(_) => format!("{}@users.noreply.example.com", actor.login()),
    }
}

/// The name a commit of `actor` carries: a human's full name, a bot's login.
pub fn author_name(actor: Actor) -> String {
    match actor {
        Actor::Human(n) => people::name(n),
        Actor::Bot(_) => actor.login(),
    }
}

pub fn commit(base: &str, pull: &Pull, commit: &Commit) -> Value {
    let full = repo_full_name(pull.repo);
    let api = format!("{base}/repos/{full}");
    let signature = |ms: i64| json!({"name": author_name(commit.author), "email": email(commit.author), "date": github_time(ms)});
    json!({
        "sha": commit.sha, "node_id": node_id("06:Commit", commit.authored_ms as u64),
        "commit": {
            "author": signature(commit.authored_ms), "committer": signature(commit.committed_ms),
            "message": commit.message,
            "tree": {"sha": super::pulls::sha(pull.index, 97, commit.authored_ms as u64), "url": format!("{api}/git/trees/{}", commit.sha)},
            "url": format!("{api}/git/commits/{}", commit.sha), "comment_count": 0,
            "verification": {"verified": false, "reason": "unsigned", "signature": null, "payload": null},
        },
        "url": format!("{api}/commits/{}", commit.sha),
        "html_url": format!("https://github.com/{full}/commit/{}", commit.sha),
        "comments_url": format!("{api}/commits/{}/comments", commit.sha),
        "author": user(base, commit.author), "committer": user(base, commit.author),
        "parents": [{"sha": super::pulls::sha(pull.index, 96, 0), "url": format!("{api}/commits/parent"), "html_url": format!("https://github.com/{full}/commit/parent")}],
    })
}

fn reactions(url: &str) -> Value {
    json!({"url": format!("{url}/reactions"), "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0, "confused": 0, "heart": 0, "rocket": 0, "eyes": 0})
}

pub fn review_comment(base: &str, pull: &Pull, comment: &Comment) -> Value {
    let full = repo_full_name(pull.repo);
    let url = format!("{base}/repos/{full}/pulls/comments/{}", comment.id);
    let html = format!(
        "https://github.com/{full}/pull/{}#discussion_r{}",
        pull.number, comment.id
    );
    let pull_url = format!("{base}/repos/{full}/pulls/{}", pull.number);
    let (review_id, path, line) = comment.review.clone().unwrap_or((0, String::new(), 1));
    json!({
        "url": url, "pull_request_review_id": review_id, "id": comment.id,
        "node_id": node_id("024:PullRequestReviewComment", comment.id),
        "diff_hunk": format!("@@ -{line},6 +{line},8 @@"), "path": path, "position": line,
        "original_position": line, "commit_id": pull.head_sha(), "original_commit_id": pull.head_sha(),
        "user": user(base, comment.author), "body": comment.body,
        "created_at": github_time(comment.created_ms), "updated_at": github_time(comment.updated_ms),
        "html_url": html, "pull_request_url": pull_url, "author_association": association(pull, comment.author),
        "_links": {"self": {"href": url}, "html": {"href": html}, "pull_request": {"href": pull_url}},
        "reactions": reactions(&url), "start_line": null, "original_start_line": null, "start_side": null,
        "line": line, "original_line": line, "side": "RIGHT",
    })
}

pub fn issue_comment(base: &str, pull: &Pull, comment: &Comment) -> Value {
    let full = repo_full_name(pull.repo);
    let url = format!("{base}/repos/{full}/issues/comments/{}", comment.id);
    json!({
        "url": url,
        "html_url": format!("https://github.com/{full}/pull/{}#issuecomment-{}", pull.number, comment.id),
        "issue_url": format!("{base}/repos/{full}/issues/{}", pull.number),
        "id": comment.id, "node_id": node_id("012:IssueComment", comment.id),
        "user": user(base, comment.author),
        "created_at": github_time(comment.created_ms), "updated_at": github_time(comment.updated_ms),
        "author_association": association(pull, comment.author), "body": comment.body,
        "reactions": reactions(&url), "performed_via_github_app": null,
    })
}
