//! Azure Repos REST (api-version 7.1) over the simulated organization: a project's
//! repositories, its pull requests of every status (`$top`/`$skip`, newest first, each
//! description cut to 400 characters as Azure lists them), one pull request with its
//! commits (`$top`, 100 unless asked) and work item references, and a pull request's
//! threads: vote and status threads written by the system, comment threads on files and
//! on the whole change.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::pulls::{
    project_of_repository, repository_id, repository_name, AzurePull, Status, REPOSITORIES,
};
use super::routes::{azure_error, iso, person, project_index, unknown_project, AzureState};
use super::site::PROJECTS;
use crate::simulator::github::pulls::{Actor, Comment};
use crate::simulator::rng::mix;

type Shared = State<Arc<AzureState>>;

/// How much of a description a listing carries.
const LISTED_DESCRIPTION: usize = 400;
const PAGE_DEFAULT: usize = 100;
/// Commits a pull request's answer carries unless `$top` asks otherwise.
const COMMITS_DEFAULT: usize = 100;
/// Thread ids of status threads: this plus the pull request's id.
const STATUS_THREAD_BASE: u64 = 600_000_000;

pub fn routes(org: impl Fn(&str) -> String) -> Router<Arc<AzureState>> {
    Router::new()
        .route(&org("/{project}/_apis/git/repositories"), get(repositories))
        .route(
            &org("/{project}/_apis/git/pullrequests"),
            get(pull_requests),
        )
        .route(
            &org("/{project}/_apis/git/repositories/{repository}/pullrequests/{id}"),
            get(pull_request),
        )
        .route(
            &org("/{project}/_apis/git/repositories/{repository}/pullrequests/{id}/threads"),
            get(threads),
        )
}

/// An identity: humans are the organization's users, bots their build service accounts.
fn identity(actor: Actor) -> Value {
    match actor {
        Actor::Human(n) => person(n),
        Actor::Bot(_) => {
            let name = actor.login().replace("[bot]", "");
            json!({"displayName": format!("{name} (bot)"), "uniqueName": format!("{name}@bots.sim.example"),
                   "id": format!("00000000-0000-0000-0001-{:012}", actor.id())})
        }
    }
}

fn unique_name(actor: Actor) -> String {
    identity(actor)["uniqueName"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn repository(state: &AzureState, repo: usize) -> Value {
    let project = project_of_repository(repo);
    let (id, name) = (repository_id(repo), repository_name(repo));
    json!({"id": id, "name": name,
           "url": format!("{}/sim-org/{}/_apis/git/repositories/{id}", state.base_url, project_id(project)),
           "project": {"id": project_id(project), "name": PROJECTS[project], "state": "wellFormed", "visibility": "private"},
           "defaultBranch": "refs/heads/main", "size": 1024 * (repo + 1), "isDisabled": false,
           "remoteUrl": format!("{}/sim-org/{}/_git/{name}", state.base_url, PROJECTS[project].replace(' ', "%20"))})
}

fn project_id(project: usize) -> String {
    format!("6ce954b1-ce1f-45d1-b94d-e6bf2464ba2{project}")
}

/// The repository (by index) named `name` or with id `name` in `project`.
fn repository_index(project: usize, name: &str) -> Option<usize> {
    (0..REPOSITORIES).find(|repo| {
        project_of_repository(*repo) == project
            && (repository_name(*repo).eq_ignore_ascii_case(name)
                || repository_id(*repo).eq_ignore_ascii_case(name))
    })
}

async fn repositories(State(state): Shared, Path(project): Path<String>) -> Response {
    let Some(index) = project_index(&project) else {
        return unknown_project(&project);
    };
    let value: Vec<Value> = (0..REPOSITORIES)
        .filter(|repo| project_of_repository(*repo) == index)
        .map(|repo| repository(&state, repo))
        .collect();
    Json(json!({"count": value.len(), "value": value})).into_response()
}

impl AzureState {
    /// A pull request as listings give it; `whole`: as the pull request's own answer
    /// gives it (whole description, commits and work item references).
    fn pull_request(&self, pr: &AzurePull, whole: bool) -> Value {
        let pull = &pr.pull;
        let id = pr.id();
        let repo = &repository(self, pull.repo);
        let body = pull.body.clone().unwrap_or_default();
        let description = if whole {
            body
        } else {
            body.chars().take(LISTED_DESCRIPTION).collect()
        };
        let created = if whole && self.pull_poisoned(pull.index) {
            Value::from("not a date")
        } else {
            Value::from(iso(pull.created_ms))
        };
        let mut latest: BTreeMap<String, (i64, Value)> = BTreeMap::new();
        for (review, vote) in pr.votes() {
            let mut reviewer = identity(review.author);
            reviewer["vote"] = json!(vote);
            reviewer["hasDeclined"] = json!(false);
            reviewer["isFlagged"] = json!(false);
            latest.insert(unique_name(review.author), (review.submitted_ms, reviewer));
        }
        let reviewers: Vec<Value> = latest.into_values().map(|(_, r)| r).collect();
        let url = format!(
            "{}/sim-org/{}/_apis/git/repositories/{}/pullRequests/{id}",
            self.base_url,
            project_id(project_of_repository(pull.repo)),
            repository_id(pull.repo)
        );
        let mut answer = json!({
            "repository": repo, "pullRequestId": id, "codeReviewId": id, "status": pr.status.name(),
            "createdBy": identity(pull.author), "creationDate": created, "title": pull.title,
            "description": description, "sourceRefName": format!("refs/heads/{}", pull.head_ref),
            "targetRefName": "refs/heads/main", "mergeStatus": "succeeded", "isDraft": pull.draft,
            "mergeId": format!("{:08x}-0000-4000-8000-{:012x}", id, mix(id) & 0xffff_ffff_ffff),
            "lastMergeSourceCommit": {"commitId": pull.head_sha()},
            "lastMergeTargetCommit": {"commitId": format!("{:040x}", mix(id ^ 0x7a7a))},
            "reviewers": reviewers, "url": url, "supportsIterations": true,
        });
        if let Some(closed) = pull.closed_ms {
            answer["closedDate"] = json!(iso(closed));
        }
        if pr.status == Status::Completed {
            answer["lastMergeCommit"] = json!({"commitId": format!("{:040x}", mix(id ^ 0x3e3e))});
        }
        if whole {
            answer["commits"] = pull
                .commits
                .iter()
                .map(|commit| {
                    let who = identity(commit.author);
                    json!({"commitId": commit.sha, "comment": commit.message,
                           "author": {"name": who["displayName"], "email": who["uniqueName"], "date": iso(commit.authored_ms)},
                           "committer": {"name": who["displayName"], "email": who["uniqueName"], "date": iso(commit.committed_ms)},
                           "url": format!("{url}/commits/{}", commit.sha)})
                })
                .collect();
            answer["workItemRefs"] = pr
                .refs
                .iter()
                .map(|item| json!({"id": item.to_string(), "url": format!("{}/sim-org/_apis/wit/workItems/{item}", self.base_url)}))
                .collect();
        }
        answer
    }

    fn pull_poisoned(&self, index: u32) -> bool {
        let draw = mix(self.site.items.population.seed ^ 0x7265_706f ^ u64::from(index));
        (draw as f64 / u64::MAX as f64) < self.malformed_rate
    }

    /// The pull request with `id` in `project`'s repository `repository`, else Azure's
    /// answer saying what is missing.
    fn find(&self, project: &str, repository: &str, id: u64) -> Result<AzurePull, Box<Response>> {
        let Some(project_at) = project_index(project) else {
            return Err(Box::new(unknown_project(project)));
        };
        let Some(repo) = repository_index(project_at, repository) else {
            return Err(Box::new(azure_error(
                StatusCode::NOT_FOUND,
                "GitRepositoryNotFoundException",
                &format!("TF401019: The Git repository with name or identifier {repository} does not exist or you do not have permissions for the operation you are attempting."),
            )));
        };
        match self.site.pulls.by_id(id) {
            Some(pr) if pr.pull.repo == repo => Ok(pr),
            _ => Err(Box::new(azure_error(
                StatusCode::NOT_FOUND,
                "GitPullRequestNotFoundException",
                &format!("TF401180: The requested pull request was not found: {id}."),
            ))),
        }
    }
}

async fn pull_requests(
    State(state): Shared,
    Path(project): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let Some(index) = project_index(&project) else {
        return unknown_project(&project);
    };
    let wanted = params
        .get("searchCriteria.status")
        .map_or("active", String::as_str)
        .to_ascii_lowercase();
    let number = |key: &str, default: usize| {
        params
            .get(key)
            .map_or(Ok(default), |text| text.parse::<usize>())
    };
    let (Ok(top), Ok(skip)) = (number("$top", PAGE_DEFAULT), number("$skip", 0)) else {
        return azure_error(
            StatusCode::BAD_REQUEST,
            "InvalidArgumentValueException",
            "$top and $skip must be whole numbers.",
        );
    };
    let value: Vec<Value> = state
        .site
        .pulls
        .of_project(index)
        .iter()
        .filter(|pr| wanted == "all" || pr.status.name() == wanted)
        .skip(skip)
        .take(top)
        .map(|pr| state.pull_request(pr, false))
        .collect();
    Json(json!({"count": value.len(), "value": value})).into_response()
}

async fn pull_request(
    State(state): Shared,
    Path((project, repository, id)): Path<(String, String, u64)>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    match state.find(&project, &repository, id) {
        Ok(pr) => {
            let mut answer = state.pull_request(&pr, true);
            let asked = |key: &str| params.get(key).is_some_and(|v| v == "true");
            if let Some(object) = answer.as_object_mut() {
                if !asked("includeCommits") {
                    object.remove("commits");
                }
                // Azure sends `$top` commits, 100 unless asked.
                let top = params.get("$top").and_then(|t| t.parse().ok());
                if let Some(Value::Array(commits)) = object.get_mut("commits") {
                    commits.truncate(top.unwrap_or(COMMITS_DEFAULT));
                }
                if !asked("includeWorkItemRefs") {
                    object.remove("workItemRefs");
                }
            }
            Json(answer).into_response()
        }
        Err(response) => *response,
    }
}

fn property(value: impl ToString) -> Value {
    json!({"$type": "System.String", "$value": value.to_string()})
}

fn comment_thread(comment: &Comment, file: Option<(&str, u64)>) -> Value {
    let mut thread = json!({
        "id": comment.id, "publishedDate": iso(comment.created_ms), "lastUpdatedDate": iso(comment.updated_ms),
        "status": "active", "isDeleted": false, "properties": {},
        "comments": [{"id": 1, "parentCommentId": 0, "author": identity(comment.author), "content": comment.body,
                      "publishedDate": iso(comment.created_ms), "lastUpdatedDate": iso(comment.updated_ms),
                      "lastContentUpdatedDate": iso(comment.updated_ms), "commentType": "text"}],
    });
    if let Some((path, line)) = file {
        thread["threadContext"] = json!({"filePath": format!("/{path}"),
            "rightFileStart": {"line": line, "offset": 1}, "rightFileEnd": {"line": line, "offset": 8}});
    }
    thread
}

async fn threads(
    State(state): Shared,
    Path((project, repository, id)): Path<(String, String, u64)>,
) -> Response {
    let pr = match state.find(&project, &repository, id) {
        Ok(pr) => pr,
        Err(response) => return *response,
    };
    let pull = &pr.pull;
    let mut value: Vec<Value> = pr
        .votes()
        .map(|(review, vote)| {
            let voter = identity(review.author);
            let at = iso(review.submitted_ms);
            json!({"id": review.id, "publishedDate": at, "lastUpdatedDate": at, "isDeleted": false,
                   "properties": {"CodeReviewThreadType": property("VoteUpdate"), "CodeReviewVoteResult": property(vote),
                                  "CodeReviewVotedByIdentity": property(voter["id"].as_str().unwrap_or_default())},
                   "comments": [{"id": 1, "parentCommentId": 0, "author": voter,
                                 "content": format!("{} voted {vote}", voter["displayName"].as_str().unwrap_or_default()),
                                 "publishedDate": at, "lastUpdatedDate": at, "commentType": "system"}]})
        })
        .collect();
    value.extend(pull.review_comments.iter().map(|comment| {
        let file = comment
            .review
            .as_ref()
            .map(|(_, path, line)| (path.as_str(), *line));
        comment_thread(comment, file)
    }));
    value.extend(
        pull.issue_comments
            .iter()
            .map(|comment| comment_thread(comment, None)),
    );
    if let (Some(closed), Status::Completed | Status::Abandoned) = (pull.closed_ms, pr.status) {
        let at = iso(closed);
        let verb = pr.status.name();
        value.push(json!({"id": STATUS_THREAD_BASE + id, "publishedDate": at, "lastUpdatedDate": at, "isDeleted": false,
            "properties": {"CodeReviewThreadType": property("StatusUpdate"), "CodeReviewStatus": property(verb)},
            "comments": [{"id": 1, "parentCommentId": 0, "author": identity(pull.author),
                          "content": format!("The pull request was {verb}"), "publishedDate": at,
                          "lastUpdatedDate": at, "commentType": "system"}]}));
    }
    Json(json!({"count": value.len(), "value": value})).into_response()
}
