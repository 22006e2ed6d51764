//! GitHub REST v3 endpoints over a [`GithubSite`]: `Link` pagination, `since` filters and
//! GitHub's error shapes. Auth, quota and ETags are layered on in [`super::limits`].

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::pulls::{Comment, Pull};
use super::render;
use super::site::{GithubSite, Sort, StateFilter, ORG};
use crate::simulator::params::Params;
use crate::simulator::rng::mix;

const DEFAULT_PER_PAGE: usize = 30;
const MAX_PER_PAGE: usize = 100;

pub struct GithubState {
    pub site: GithubSite,
    pub base_url: String,
    /// Share of pull requests whose detail is served with an unreadable `created_at`
    /// (poison records).
    pub malformed_rate: f64,
}

impl GithubState {
    /// Whether `pull` is one of the poison pull requests, served with an unreadable
    /// creation date (the same ones over REST and GraphQL).
    pub fn serves_malformed(&self, pull: &Pull) -> bool {
        let draw = mix(self.site.population.seed ^ 0x6d61_6c66 ^ u64::from(pull.index));
        (draw as f64 / u64::MAX as f64) < self.malformed_rate
    }
}

pub(super) type Shared = State<Arc<GithubState>>;

pub fn router(state: Arc<GithubState>) -> Router {
    Router::new()
        .route("/orgs/{org}/repos", get(org_repos))
        .route("/user/repos", get(user_repos))
        .route("/repos/{owner}/{repo}", get(repository))
        .route("/repos/{owner}/{repo}/pulls", get(pulls))
        .route("/repos/{owner}/{repo}/pulls/comments", get(review_comments))
        .route("/repos/{owner}/{repo}/pulls/{number}", get(pull))
        .route("/repos/{owner}/{repo}/pulls/{number}/reviews", get(reviews))
        .route(
            "/repos/{owner}/{repo}/pulls/{number}/commits",
            get(pull_commits),
        )
        .route("/repos/{owner}/{repo}/issues/comments", get(issue_comments))
        .route("/repos/{owner}/{repo}/commits", get(repo_commits))
        .route(
            "/repos/{owner}/{repo}/actions/runs",
            get(super::actions::workflow_runs),
        )
        .with_state(state)
}

/// GitHub's error body.
pub fn github_error(status: StatusCode, message: &str) -> Response {
    let body = json!({
        "message": message,
        "documentation_url": "https://docs.github.com/rest",
        "status": status.as_u16().to_string(),
    });
    (status, Json(body)).into_response()
}

/// Why a GitHub request is refused; answers in GitHub's shape.
pub enum GithubError {
    NotFound,
    Invalid(&'static str),
}

impl IntoResponse for GithubError {
    fn into_response(self) -> Response {
        match self {
            GithubError::NotFound => github_error(StatusCode::NOT_FOUND, "Not Found"),
            GithubError::Invalid(message) => {
                github_error(StatusCode::UNPROCESSABLE_ENTITY, message)
            }
        }
    }
}

pub(super) type Answer = Result<Response, GithubError>;

/// `since` as epoch ms; malformed is GitHub's 422.
fn since(params: &Params) -> Result<Option<i64>, GithubError> {
    params
        .one("since")
        .map(|text| {
            chrono::DateTime::parse_from_rfc3339(text)
                .map(|at| at.timestamp_millis())
                .map_err(|_| {
                    GithubError::Invalid("Validation Failed: since must be an ISO 8601 timestamp")
                })
        })
        .transpose()
}

/// (page, per_page) with GitHub's defaults and cap.
fn page(params: &Params) -> (usize, usize) {
    let page = params
        .one("page")
        .and_then(|p| p.parse().ok())
        .filter(|p| *p >= 1)
        .unwrap_or(1);
    let per_page = params
        .one("per_page")
        .and_then(|p| p.parse().ok())
        .unwrap_or(DEFAULT_PER_PAGE)
        .clamp(1, MAX_PER_PAGE);
    (page, per_page)
}

/// One page of `items` with GitHub's `Link` header (`next`, `last`, `first`, `prev`).
fn paged(base: &str, path: &str, raw: &Option<String>, items: Vec<Value>) -> Response {
    paged_in(base, path, raw, items, None)
}

/// As [`paged`], the page's entries under `field` beside `total_count` when one is named
/// (as GitHub answers workflow runs).
pub(super) fn paged_in(
    base: &str,
    path: &str,
    raw: &Option<String>,
    items: Vec<Value>,
    field: Option<&str>,
) -> Response {
    let total = items.len();
    let params = Params::parse(raw.as_deref());
    let (page, per_page) = page(&params);
    let total_pages = items.len().div_ceil(per_page).max(1);
    let body: Vec<Value> = items
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .collect();
    let link_to = |target: usize| {
        let mut query: Vec<(String, String)> = params
            .0
            .iter()
            .filter(|(k, _)| k != "page")
            .cloned()
            .collect();
        query.push(("page".into(), target.to_string()));
        let encoded = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(query)
            .finish();
        format!("<{base}{path}?{encoded}>")
    };
    let mut links = Vec::new();
    if page < total_pages {
        links.push(format!("{}; rel=\"next\"", link_to(page + 1)));
        links.push(format!("{}; rel=\"last\"", link_to(total_pages)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"first\"", link_to(1)));
        links.push(format!("{}; rel=\"prev\"", link_to(page - 1)));
    }
    let mut response = match field {
        Some(field) => Json(json!({"total_count": total, field: body})).into_response(),
        None => Json(body).into_response(),
    };
    if let Ok(value) = HeaderValue::from_str(&links.join(", ")) {
        if !links.is_empty() {
            response.headers_mut().insert(header::LINK, value);
        }
    }
    response
}

pub(super) fn repo_index(
    state: &GithubState,
    owner: &str,
    repo: &str,
) -> Result<usize, GithubError> {
    state.site.repo(owner, repo).ok_or(GithubError::NotFound)
}

/// Every repository of the simulated organisation, listed under `path`.
fn all_repos(state: &GithubState, path: &str, raw: &Option<String>) -> Response {
    let repos = (0..state.site.population.repos)
        .map(|r| render::repository(&state.base_url, r))
        .collect();
    paged(&state.base_url, path, raw, repos)
}

async fn org_repos(
    State(state): Shared,
    Path(org): Path<String>,
    RawQuery(raw): RawQuery,
) -> Answer {
    if org != ORG {
        return Err(GithubError::NotFound);
    }
    Ok(all_repos(&state, &format!("/orgs/{org}/repos"), &raw))
}

/// The repositories the token can see: all of the organisation's.
async fn user_repos(State(state): Shared, RawQuery(raw): RawQuery) -> Answer {
    Ok(all_repos(&state, "/user/repos", &raw))
}

async fn repository(State(state): Shared, Path((owner, repo)): Path<(String, String)>) -> Answer {
    let index = repo_index(&state, &owner, &repo)?;
    Ok(Json(render::repository(&state.base_url, index)).into_response())
}

async fn pulls(
    State(state): Shared,
    Path((owner, repo)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let index = repo_index(&state, &owner, &repo)?;
    let params = Params::parse(raw.as_deref());
    let filter = match params.one("state").unwrap_or("open") {
        "open" => StateFilter::Open,
        "closed" => StateFilter::Closed,
        "all" => StateFilter::All,
        _ => {
            return Err(GithubError::Invalid(
                "Validation Failed: state must be open, closed or all",
            ))
        }
    };
    let sort = match params.one("sort").unwrap_or("created") {
        "created" => Sort::Created,
        "updated" => Sort::Updated,
        _ => {
            return Err(GithubError::Invalid(
                "Validation Failed: sort must be created or updated",
            ))
        }
    };
    let descending = params.one("direction").is_none_or(|d| d == "desc");
    let items = state
        .site
        .list(index, filter, sort, descending)
        .iter()
        .map(|p| render::pull(&state.base_url, p, false))
        .collect();
    Ok(paged(
        &state.base_url,
        &format!("/repos/{owner}/{repo}/pulls"),
        &raw,
        items,
    ))
}

fn find_pull(
    state: &GithubState,
    owner: &str,
    repo: &str,
    number: &str,
) -> Result<Pull, GithubError> {
    let index = repo_index(state, owner, repo)?;
    let number: u64 = number.parse().map_err(|_| GithubError::NotFound)?;
    state.site.pull(index, number).ok_or(GithubError::NotFound)
}

async fn pull(
    State(state): Shared,
    Path((owner, repo, number)): Path<(String, String, String)>,
) -> Answer {
    let pull = find_pull(&state, &owner, &repo, &number)?;
    let mut detail = render::pull(&state.base_url, &pull, true);
    if state.serves_malformed(&pull) {
        detail["created_at"] = Value::from("not a date");
    }
    Ok(Json(detail).into_response())
}

async fn reviews(
    State(state): Shared,
    Path((owner, repo, number)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let pull = find_pull(&state, &owner, &repo, &number)?;
    let items = pull
        .reviews
        .iter()
        .map(|r| render::review(&state.base_url, &pull, r))
        .collect();
    Ok(paged(
        &state.base_url,
        &format!("/repos/{owner}/{repo}/pulls/{number}/reviews"),
        &raw,
        items,
    ))
}

async fn pull_commits(
    State(state): Shared,
    Path((owner, repo, number)): Path<(String, String, String)>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let pull = find_pull(&state, &owner, &repo, &number)?;
    let items = pull
        .commits
        .iter()
        .map(|c| render::commit(&state.base_url, &pull, c))
        .collect();
    Ok(paged(
        &state.base_url,
        &format!("/repos/{owner}/{repo}/pulls/{number}/commits"),
        &raw,
        items,
    ))
}

/// Repository-wide comments (review or issue) updated at or after `since`, oldest first.
fn comments(
    state: &GithubState,
    (owner, repo): (&str, &str),
    raw: &Option<String>,
    path: &str,
    pick: fn(&Pull) -> &Vec<Comment>,
    render: fn(&str, &Pull, &Comment) -> Value,
) -> Answer {
    let index = repo_index(state, owner, repo)?;
    let since = since(&Params::parse(raw.as_deref()))?;
    let pulls = state.site.touched_since(index, since);
    let base = state.base_url.as_str();
    let mut found: Vec<(i64, u64, Value)> = pulls
        .iter()
        .flat_map(|pull| {
            pick(pull)
                .iter()
                .filter(|c| since.is_none_or(|s| c.updated_ms >= s))
                .map(move |c| (c.created_ms, c.id, render(base, pull, c)))
        })
        .collect();
    found.sort_by_key(|(created, id, _)| (*created, *id));
    let items = found.into_iter().map(|(_, _, v)| v).collect();
    Ok(paged(
        base,
        &format!("/repos/{owner}/{repo}/{path}"),
        raw,
        items,
    ))
}

async fn review_comments(
    State(state): Shared,
    Path((owner, repo)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Answer {
    comments(
        &state,
        (&owner, &repo),
        &raw,
        "pulls/comments",
        |p| &p.review_comments,
        render::review_comment,
    )
}

async fn issue_comments(
    State(state): Shared,
    Path((owner, repo)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Answer {
    comments(
        &state,
        (&owner, &repo),
        &raw,
        "issues/comments",
        |p| &p.issue_comments,
        render::issue_comment,
    )
}

async fn repo_commits(
    State(state): Shared,
    Path((owner, repo)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let index = repo_index(&state, &owner, &repo)?;
    let since = since(&Params::parse(raw.as_deref()))?;
    let pulls = state.site.touched_since(index, since);
    let base = state.base_url.as_str();
    let mut found: Vec<(i64, &str, Value)> = pulls
        .iter()
        .flat_map(|pull| {
            pull.commits
                .iter()
                .filter(|c| since.is_none_or(|s| c.committed_ms >= s))
                .map(move |c| {
                    (
                        c.committed_ms,
                        c.sha.as_str(),
                        render::commit(base, pull, c),
                    )
                })
        })
        .collect();
    // Newest first, as GitHub lists commits.
    found.sort_by(|a, b| (b.0, b.1).cmp(&(a.0, a.1)));
    let items = found.into_iter().map(|(_, _, v)| v).collect();
    Ok(paged(
        base,
        &format!("/repos/{owner}/{repo}/commits"),
        &raw,
        items,
    ))
}
