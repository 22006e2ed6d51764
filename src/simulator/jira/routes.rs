//! Jira REST v3 endpoints over a [`JiraSite`], with Jira's envelopes and error shapes.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};

use super::catalog::{CUSTOM_FIELDS, ISSUE_TYPES, STATUSES};
use super::issues::Issue;
use super::jql;
use super::render::{self, FieldSelection};
use super::site::{Cursor, JiraSite};
use crate::simulator::params::Params;
use crate::simulator::rng::mix;

const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 100;

pub struct JiraState {
    pub site: JiraSite,
    /// The account's time zone: JQL dates are read in it, `/myself` reports it.
    pub timezone: chrono_tz::Tz,
    pub user: String,
    /// The simulated GitHub, which dev-status details point into.
    pub github: crate::simulator::github::pulls::Population,
    pub base_url: String,
    /// Share of issues served with an unreadable `created` date (poison records).
    pub malformed_rate: f64,
}

impl JiraState {
    /// An issue as served: rendered, and garbled when it is one of the poison records.
    fn serve(&self, issue: &Issue, wanted: &FieldSelection, with_changelog: bool) -> Value {
        let population = &self.site.population;
        let mut value = render::issue(&self.base_url, population, issue, wanted, with_changelog);
        let draw = mix(population.seed ^ 0x6d61_6c66 ^ u64::from(issue.index));
        if (draw as f64 / u64::MAX as f64) < self.malformed_rate {
            value["fields"]["created"] = Value::from("not a date");
        }
        value
    }
}

type Shared = State<Arc<JiraState>>;

pub fn router(state: Arc<JiraState>) -> Router {
    Router::new()
        .route("/rest/api/3/search/jql", get(search_get).post(search_post))
        .route(
            "/rest/api/3/search",
            get(removed_search).post(removed_search),
        )
        .route("/rest/api/3/issue/{id_or_key}", get(issue))
        .route("/rest/api/3/issue/{id_or_key}/changelog", get(changelog))
        .route("/rest/api/3/project/search", get(projects))
        .route("/rest/api/3/status", get(statuses))
        .route("/rest/api/3/myself", get(myself))
        .route("/rest/api/3/issuetype", get(issue_types))
        .route("/rest/api/3/field", get(fields))
        .route(
            "/rest/api/3/issue/createmeta/{project}/issuetypes",
            get(createmeta_types),
        )
        .route(
            "/rest/api/3/issue/createmeta/{project}/issuetypes/{type_id}",
            get(createmeta_fields),
        )
        .route("/rest/dev-status/latest/issue/detail", get(dev_status))
        .route(
            "/rest/api/3/changelog/bulkfetch",
            axum::routing::post(super::bulk_changelog::bulkfetch),
        )
        .with_state(state)
}

/// Jira's error body: `{"errorMessages": [...], "errors": {}}`.
pub fn jira_error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"errorMessages": [message.into()], "errors": {}})),
    )
        .into_response()
}

/// A page window from `startAt` and `maxResults`, or Jira's 400.
fn window(params: &Params, default: usize, max: usize) -> Result<(usize, usize), BadParam> {
    let start = params.number("startAt").map_err(BadParam)?.unwrap_or(0);
    let limit = params
        .number("maxResults")
        .map_err(BadParam)?
        .unwrap_or(default)
        .clamp(1, max);
    Ok((start, limit))
}

/// A query parameter Jira would refuse with 400.
struct BadParam(String);

impl IntoResponse for BadParam {
    fn into_response(self) -> Response {
        jira_error(StatusCode::BAD_REQUEST, self.0)
    }
}

/// The body of `POST /search/jql`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SearchBody {
    #[serde(default)]
    jql: String,
    next_page_token: Option<String>,
    max_results: Option<usize>,
    fields: Option<Vec<String>>,
    expand: Option<StringOrList>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum StringOrList {
    One(String),
    Many(Vec<String>),
}

impl StringOrList {
    fn contains(&self, wanted: &str) -> bool {
        match self {
            StringOrList::One(text) => text.split(',').any(|p| p.trim() == wanted),
            StringOrList::Many(items) => items.iter().any(|p| p.trim() == wanted),
        }
    }
}

async fn search_get(State(state): Shared, RawQuery(raw): RawQuery) -> Response {
    let params = Params::parse(raw.as_deref());
    let max_results = match params.number("maxResults") {
        Ok(n) => n,
        Err(message) => return BadParam(message).into_response(),
    };
    let body = SearchBody {
        jql: params.one("jql").unwrap_or_default().to_owned(),
        next_page_token: params.one("nextPageToken").map(str::to_owned),
        max_results,
        fields: params.list("fields"),
        expand: params
            .one("expand")
            .map(|e| StringOrList::One(e.to_owned())),
    };
    search(&state, body)
}

async fn search_post(State(state): Shared, body: Option<Json<SearchBody>>) -> Response {
    match body {
        Some(Json(body)) => search(&state, body),
        None => jira_error(
            StatusCode::BAD_REQUEST,
            "The request body is not valid JSON.",
        ),
    }
}

fn jql_fingerprint(jql: &str) -> u64 {
    jql.bytes()
        .fold(0x5151_5151, |state, byte| mix(state ^ u64::from(byte)))
}

fn encode_token(jql: &str, cursor: Cursor) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
        "{:x}:{}:{}",
        jql_fingerprint(jql),
        cursor.updated_ms,
        cursor.index
    ))
}

fn decode_token(jql: &str, token: &str) -> Option<Cursor> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let mut parts = text.split(':');
    let fingerprint = u64::from_str_radix(parts.next()?, 16).ok()?;
    let updated_ms = parts.next()?.parse().ok()?;
    let index = parts.next()?.parse().ok()?;
    (fingerprint == jql_fingerprint(jql) && parts.next().is_none())
        .then_some(Cursor { updated_ms, index })
}

fn search(state: &JiraState, body: SearchBody) -> Response {
    let query = match jql::parse(&body.jql, state.timezone) {
        Ok(query) => query,
        Err(error) => return jira_error(StatusCode::BAD_REQUEST, error.to_string()),
    };
    let after = match body.next_page_token.as_deref().filter(|t| !t.is_empty()) {
        None => None,
        Some(token) => match decode_token(&body.jql, token) {
            Some(cursor) => Some(cursor),
            None => {
                return jira_error(
                    StatusCode::BAD_REQUEST,
                    "The provided next page token is invalid or expired.",
                )
            }
        },
    };
    let limit = body.max_results.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let (found, cursor, more) = match state.site.search(&query, after, limit) {
        Ok(page) => page,
        Err(error) => return jira_error(StatusCode::BAD_REQUEST, error.to_string()),
    };
    let wanted = FieldSelection::parse(body.fields.as_deref());
    let with_changelog = body
        .expand
        .as_ref()
        .is_some_and(|e| e.contains("changelog"));
    let issues: Vec<Value> = found
        .iter()
        .map(|issue| state.serve(issue, &wanted, with_changelog))
        .collect();
    let mut page = json!({"issues": issues, "isLast": !more});
    if let (true, Some(cursor)) = (more, cursor) {
        page["nextPageToken"] = Value::from(encode_token(&body.jql, cursor));
    }
    Json(page).into_response()
}

async fn removed_search() -> Response {
    jira_error(
        StatusCode::GONE,
        "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. \
         A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046",
    )
}

fn not_found_issue() -> Response {
    jira_error(
        StatusCode::NOT_FOUND,
        "Issue does not exist or you do not have permission to see it.",
    )
}

async fn issue(
    State(state): Shared,
    Path(id_or_key): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let Some(issue) = state.site.find(&id_or_key) else {
        return not_found_issue();
    };
    let params = Params::parse(raw.as_deref());
    let wanted = FieldSelection::parse(params.list("fields").as_deref());
    let with_changelog = params
        .list("expand")
        .is_some_and(|e| e.iter().any(|x| x == "changelog"));
    Json(state.serve(&issue, &wanted, with_changelog)).into_response()
}

async fn changelog(
    State(state): Shared,
    Path(id_or_key): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let Some(issue) = state.site.find(&id_or_key) else {
        return not_found_issue();
    };
    let params = Params::parse(raw.as_deref());
    let (start, limit) = match window(&params, MAX_PAGE, MAX_PAGE) {
        Ok(window) => window,
        Err(bad) => return bad.into_response(),
    };
    let index = issue.index;
    let total = issue.histories.len();
    let values: Vec<Value> = issue
        .histories
        .iter()
        .skip(start)
        .take(limit)
        .map(|h| render::history(&state.base_url, h))
        .collect();
    let is_last = start + values.len() >= total;
    let self_url = format!(
        "{}/rest/api/3/issue/{}/changelog?maxResults={limit}&startAt={start}",
        state.base_url,
        render::issue_id(index)
    );
    let mut page = json!({"self": self_url, "maxResults": limit, "startAt": start, "total": total, "isLast": is_last, "values": values});
    if !is_last {
        page["nextPage"] = Value::from(format!(
            "{}/rest/api/3/issue/{}/changelog?maxResults={limit}&startAt={}",
            state.base_url,
            render::issue_id(index),
            start + limit
        ));
    }
    Json(page).into_response()
}

async fn projects(State(state): Shared, RawQuery(raw): RawQuery) -> Response {
    let params = Params::parse(raw.as_deref());
    let (start, limit) = match window(&params, 50, MAX_PAGE) {
        Ok(window) => window,
        Err(bad) => return bad.into_response(),
    };
    let keys = params.list("keys");
    let all: Vec<usize> = (0..state.site.population.projects)
        .filter(|p| {
            keys.as_ref().is_none_or(|k| {
                k.iter()
                    .any(|key| key.eq_ignore_ascii_case(&render::project_key(*p)))
            })
        })
        .collect();
    let values: Vec<Value> = all
        .iter()
        .skip(start)
        .take(limit)
        .map(|p| render::project(&state.base_url, *p))
        .collect();
    let is_last = start + values.len() >= all.len();
    Json(json!({
        "self": format!("{}/rest/api/3/project/search?maxResults={limit}&startAt={start}", state.base_url),
        "maxResults": limit, "startAt": start, "total": all.len(), "isLast": is_last, "values": values,
    }))
    .into_response()
}

/// The signed-in account, with the time zone JQL dates are read in.
async fn myself(State(state): Shared) -> Response {
    Json(json!({
        "self": format!("{}/rest/api/3/user?accountId=sim-acc-service", state.base_url),
        "accountId": "sim-acc-service",
        "accountType": "atlassian",
        "emailAddress": state.user,
        "displayName": "Simulated Service Account",
        "active": true,
        "timeZone": state.timezone.name(),
        "locale": "en_US",
    }))
    .into_response()
}

async fn statuses(State(state): Shared) -> Response {
    Json(
        STATUSES
            .iter()
            .map(|s| render::status(&state.base_url, s))
            .collect::<Vec<_>>(),
    )
    .into_response()
}

async fn issue_types(State(state): Shared) -> Response {
    Json(
        (0..ISSUE_TYPES.len())
            .map(|t| render::issue_type(&state.base_url, t))
            .collect::<Vec<_>>(),
    )
    .into_response()
}

async fn fields() -> Response {
    Json(render::field_list()).into_response()
}

fn project_exists(state: &JiraState, key_or_id: &str) -> bool {
    (0..state.site.population.projects).any(|p| {
        render::project_key(p).eq_ignore_ascii_case(key_or_id) || render::project_id(p) == key_or_id
    })
}

async fn createmeta_types(State(state): Shared, Path(project): Path<String>) -> Response {
    if !project_exists(&state, &project) {
        return jira_error(
            StatusCode::NOT_FOUND,
            format!("No project could be found with key '{project}'."),
        );
    }
    let types: Vec<Value> = (0..ISSUE_TYPES.len())
        .map(|t| render::issue_type(&state.base_url, t))
        .collect();
    Json(json!({"maxResults": 50, "startAt": 0, "total": types.len(), "issueTypes": types}))
        .into_response()
}

async fn createmeta_fields(
    State(state): Shared,
    Path((project, type_id)): Path<(String, String)>,
) -> Response {
    if !project_exists(&state, &project) || !ISSUE_TYPES.iter().any(|t| t.id == type_id) {
        return jira_error(
            StatusCode::NOT_FOUND,
            "Issue type with given id does not exist or you do not have permission to see it.",
        );
    }
    let fields: Vec<Value> = CUSTOM_FIELDS
        .iter()
        .map(|f| render::createmeta_field(&state.base_url, f))
        .collect();
    Json(json!({"maxResults": 50, "startAt": 0, "total": fields.len(), "fields": fields}))
        .into_response()
}

async fn dev_status(State(state): Shared, RawQuery(raw): RawQuery) -> Response {
    let params = Params::parse(raw.as_deref());
    let Some(issue) = params.one("issueId").and_then(|id| state.site.find(id)) else {
        return jira_error(
            StatusCode::BAD_REQUEST,
            "issueId is required and must name an existing issue.",
        );
    };
    let index = issue.index;
    let github = &state.github;
    let pull_requests: Vec<Value> = if issue.has_code && github.pulls > 0 {
        // The linked pull request exists in the simulated GitHub.
        let pull = crate::simulator::links::pull_of_issue(index, github.pulls);
        let number = github.number_of(pull);
        let repository = crate::simulator::github::site::repo_full_name(github.repo_of(pull));
        vec![json!({
            "author": {"name": format!("User {:03}", issue.reporter + 1), "avatar": "https://avatar.example.com/48x48"},
            "id": format!("#{number}"),
            "name": format!("{} {}", render::issue_key(&state.site.population, index), issue.summary),
            "commentCount": 0,
            "source": {"branch": format!("feature/{}", render::issue_key(&state.site.population, index)), "url": ""},
            "destination": {"branch": "main", "url": ""},
            "reviewers": [],
            "status": if issue.resolved_ms.is_some() { "MERGED" } else { "OPEN" },
            "url": format!("https://github.com/{repository}/pull/{number}"),
            "lastUpdate": render::jira_time(issue.updated_ms()),
            "repositoryId": repository,
            "repositoryName": repository,
            "repositoryUrl": format!("https://github.com/{repository}"),
        })]
    } else {
        Vec::new()
    };
    Json(json!({
        "errors": [],
        "detail": [{
            "pullRequests": pull_requests,
            "branches": [],
            "repositories": [],
            "_instance": {"singleInstance": true, "baseUrl": "https://github.com", "name": "GitHub", "typeName": "GitHub", "id": "github", "type": "github"},
        }],
    }))
    .into_response()
}
