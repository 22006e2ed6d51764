//! Azure DevOps Services REST (api-version 7.1) over the simulated organization `/sim-org`:
//! projects, work item types with states, fields, a WIQL subset, the work items batch, the
//! reporting revisions stream with continuation tokens and a work item's revisions (Repos
//! routes are merged in); a personal access token it does not know gets the sign-in page
//! with 203, as Azure answers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Map, Value};

use super::site::{
    index_of, revisions, state_category, state_name, states, type_name, work_item_id, AzureSite,
    Revision, StreamKey, CUSTOM_FIELD, PROJECTS,
};
use crate::simulator::jira::catalog::{ISSUE_TYPES, PRIORITIES};
use crate::simulator::jira::issues::Issue;
use crate::simulator::rng::mix;

/// The simulated organization's path.
pub const ORGANIZATION: &str = "/sim-org";
/// The most results a WIQL query may have unless `$top` caps it.
const WIQL_CAP: usize = 20_000;
const BATCH_CAP: usize = 200;
const STREAM_PAGE_DEFAULT: usize = 200;
const STREAM_PAGE_CAP: usize = 1_000;

pub struct AzureState {
    pub site: AzureSite,
    pub base_url: String,
    /// The personal access token accepted (Basic, any user name).
    pub token: String,
    /// Share of work items served with an unreadable `System.CreatedDate` (poison records).
    pub malformed_rate: f64,
    /// Answer every n-th request 429 with throttling headers (0: never).
    pub throttle_every: u64,
    pub requests: AtomicU64,
}

type Shared = State<Arc<AzureState>>;

pub fn router(state: Arc<AzureState>) -> Router {
    let org = |path: &str| format!("{ORGANIZATION}{path}");
    Router::new()
        .route(&org("/_apis/projects"), get(projects))
        .route(
            &org("/{project}/_apis/wit/workitemtypes"),
            get(work_item_types),
        )
        .route(&org("/_apis/wit/fields"), get(fields))
        .route(&org("/_apis/wit/wiql"), post(wiql))
        .route(&org("/{project}/_apis/wit/wiql"), post(wiql_in_project))
        .route(&org("/_apis/wit/workitemsbatch"), post(batch))
        .route(&org("/_apis/wit/reporting/workitemrevisions"), get(stream))
        .route(
            &org("/{project}/_apis/wit/reporting/workitemrevisions"),
            get(stream_in_project),
        )
        .route(
            &org("/_apis/wit/workItems/{id}/revisions"),
            get(item_revisions),
        )
        .merge(super::repos_routes::routes(org))
        .layer(axum::middleware::from_fn_with_state(state.clone(), gate))
        .with_state(state)
}

/// Azure's error shape.
pub(super) fn azure_error(status: StatusCode, type_key: &str, message: &str) -> Response {
    let body = json!({"$id": "1", "innerException": null, "message": message,
                      "typeName": format!("Microsoft.VisualStudio.Services.WebApi.{type_key}"),
                      "typeKey": type_key, "errorCode": 0, "eventId": 3000});
    (status, Json(body)).into_response()
}

/// Sign-in and throttling: no credentials is 401; a token it does not know is the sign-in
/// page with 203; every n-th request is 429 with `Retry-After` and the `X-RateLimit-*`
/// headers; answers carry the remaining-usage headers.
async fn gate(State(state): Shared, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .and_then(|encoded| {
            base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .ok()
        })
        .and_then(|decoded| String::from_utf8(decoded).ok());
    let Some(presented) = presented else {
        return azure_error(
            StatusCode::UNAUTHORIZED,
            "UnauthorizedRequestException",
            "TF400813: The user is not authorized to access this resource.",
        );
    };
    let token_ok = presented
        .split_once(':')
        .is_some_and(|(_, token)| token == state.token);
    if !token_ok {
        let page = "<!DOCTYPE html><html><head><title>Azure DevOps Services | Sign In</title></head><body>Sign in</body></html>";
        let mut response = (StatusCode::NON_AUTHORITATIVE_INFORMATION, page).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        return response;
    }
    let n = state.requests.fetch_add(1, Ordering::Relaxed) + 1;
    if state.throttle_every > 0 && n % state.throttle_every == 0 {
        let mut response = azure_error(
            StatusCode::TOO_MANY_REQUESTS,
            "RequestBlockedException",
            "TF400733: The request has been blocked: usage exceeded.",
        );
        let headers = response.headers_mut();
        headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        headers.insert("x-ratelimit-resource", HeaderValue::from_static("Core"));
        headers.insert("x-ratelimit-delay", HeaderValue::from_static("1.0"));
        headers.insert("x-ratelimit-limit", HeaderValue::from_static("200"));
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        headers.insert(
            "x-ratelimit-reset",
            HeaderValue::from(Utc::now().timestamp() + 1),
        );
        return response;
    }
    next.run(request).await
}

pub(super) fn iso(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(super) fn person(index: u64) -> Value {
    json!({"displayName": format!("User {:03}", index + 1),
           "uniqueName": format!("user{:03}@sim.example", index + 1),
           "id": format!("00000000-0000-0000-0000-{:012}", index + 1)})
}

fn person_text(index: u64) -> String {
    format!("User {:03} <user{:03}@sim.example>", index + 1, index + 1)
}

pub(super) fn project_index(name: &str) -> Option<usize> {
    PROJECTS.iter().position(|p| p.eq_ignore_ascii_case(name))
}

pub(super) fn unknown_project(name: &str) -> Response {
    azure_error(
        StatusCode::NOT_FOUND,
        "ProjectDoesNotExistWithNameException",
        &format!("TF200016: The following project does not exist: {name}."),
    )
}

async fn projects(State(state): Shared) -> Response {
    let value: Vec<Value> = PROJECTS
        .iter()
        .enumerate()
        .map(|(index, name)| {
            json!({"id": format!("6ce954b1-ce1f-45d1-b94d-e6bf2464ba2{index}"), "name": name,
                   "description": format!("The {name} project"),
                   "url": format!("{}{ORGANIZATION}/_apis/projects/{index}", state.base_url),
                   "state": "wellFormed", "revision": 11, "visibility": "private",
                   "lastUpdateTime": "2025-01-01T00:00:00Z"})
        })
        .collect();
    Json(json!({"count": value.len(), "value": value})).into_response()
}

async fn work_item_types(Path(project): Path<String>) -> Response {
    if project_index(&project).is_none() {
        return unknown_project(&project);
    }
    let states: Vec<Value> = states()
        .into_iter()
        .map(|s| json!({"name": state_name(s), "color": "b2b2b2", "category": state_category(s)}))
        .collect();
    let value: Vec<Value> = ISSUE_TYPES
        .iter()
        .map(|t| {
            json!({"name": t.name, "referenceName": format!("Microsoft.VSTS.WorkItemTypes.{}", t.name.replace(['-', ' '], "")),
                   "description": t.description, "color": "009CCC", "isDisabled": false, "states": states})
        })
        .collect();
    Json(json!({"count": value.len(), "value": value})).into_response()
}

async fn fields() -> Response {
    let field = |name: &str, reference: &str, kind: &str| json!({"name": name, "referenceName": reference, "type": kind, "usage": "workItem", "readOnly": false});
    let value = vec![
        field("ID", "System.Id", "integer"),
        field("Title", "System.Title", "string"),
        field("State", "System.State", "string"),
        field(
            "Story Points",
            "Microsoft.VSTS.Scheduling.StoryPoints",
            "double",
        ),
        field(CUSTOM_FIELD.1, CUSTOM_FIELD.0, "string"),
    ];
    Json(json!({"count": value.len(), "value": value})).into_response()
}

/// What a WIQL query of the supported subset asks.
#[derive(Debug, Default, PartialEq)]
struct Wiql {
    after_id: u64,
    projects: Option<Vec<usize>>,
    changed_from_ms: Option<i64>,
}

/// Parses `SELECT [System.Id] FROM WorkItems WHERE <clauses joined by AND> ORDER BY
/// [System.Id] [ASC]` with clauses `[System.Id] > n`, `[System.TeamProject] = 'p'` or
/// `IN ('p', …)` and `[System.ChangedDate] >= 'time'`.
fn parse_wiql(query: &str) -> Result<Wiql, String> {
    let lower = query.to_ascii_lowercase();
    let start = lower
        .find(" where ")
        .ok_or("the query needs a WHERE clause")?
        + 7;
    let end = lower.find(" order by ").unwrap_or(query.len());
    if end < start {
        return Err("ORDER BY before WHERE".into());
    }
    let mut wiql = Wiql::default();
    for clause in query[start..end].split(" AND ") {
        let clause = clause.trim();
        let quoted = |text: &str| -> Vec<String> {
            text.split(',')
                .map(|p| p.trim().trim_matches('\'').replace("''", "'"))
                .collect()
        };
        if let Some(rest) = clause.strip_prefix("[System.Id] >") {
            wiql.after_id = rest
                .trim()
                .parse()
                .map_err(|_| format!("bad id in {clause}"))?;
        } else if let Some(rest) = clause.strip_prefix("[System.TeamProject] IN") {
            let names = rest.trim().trim_start_matches('(').trim_end_matches(')');
            let found = quoted(names)
                .iter()
                .map(|name| {
                    project_index(name).ok_or_else(|| {
                        format!("TF51011: The specified project '{name}' does not exist.")
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            wiql.projects = Some(found);
        } else if let Some(rest) = clause.strip_prefix("[System.TeamProject] =") {
            let name = quoted(rest).remove(0);
            let found = project_index(&name).ok_or_else(|| {
                format!("TF51011: The specified project '{name}' does not exist.")
            })?;
            wiql.projects = Some(vec![found]);
        } else if let Some(rest) = clause.strip_prefix("[System.ChangedDate] >=") {
            let text = quoted(rest).remove(0);
            let at = DateTime::parse_from_rfc3339(&text).map_err(|_| {
                format!("TF51005: The query references a field value that is not a date: {text}")
            })?;
            wiql.changed_from_ms = Some(at.timestamp_millis());
        } else {
            return Err(format!(
                "TF51006: The query clause is not supported here: {clause}"
            ));
        }
    }
    Ok(wiql)
}

async fn wiql_in_project(
    state: Shared,
    Path(project): Path<String>,
    query: Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    match project_index(&project) {
        Some(index) => run_wiql(state, Some(index), query, body),
        None => unknown_project(&project),
    }
}

async fn wiql(state: Shared, query: Query<HashMap<String, String>>, body: Bytes) -> Response {
    run_wiql(state, None, query, body)
}

fn run_wiql(
    State(state): Shared,
    project: Option<usize>,
    Query(params): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let bad = |message: &str| azure_error(StatusCode::BAD_REQUEST, "QueryException", message);
    let Some(text) = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|body| body["query"].as_str().map(str::to_owned))
    else {
        return bad("The request body must be {\"query\": \"<WIQL>\"}.");
    };
    let wiql = match parse_wiql(&text) {
        Ok(wiql) => wiql,
        Err(message) => return bad(&message),
    };
    let top: Option<usize> = params.get("$top").and_then(|t| t.parse().ok());
    let site = &state.site;
    let ids: Vec<u64> = site
        .items
        .live_updated()
        .into_iter()
        .filter(|(index, updated)| {
            let project_of = site.project_of(*index);
            work_item_id(*index) > wiql.after_id
                && project.is_none_or(|p| p == project_of)
                && wiql
                    .projects
                    .as_ref()
                    .is_none_or(|ps| ps.contains(&project_of))
                && wiql.changed_from_ms.is_none_or(|from| *updated >= from)
        })
        .map(|(index, _)| work_item_id(index))
        .collect();
    if top.is_none_or(|top| top > WIQL_CAP) && ids.len() > WIQL_CAP {
        return bad("VS402337: The number of work items returned exceeds the size limit of 20000. Change the query to return fewer items.");
    }
    let items: Vec<Value> = ids
        .iter()
        .take(top.unwrap_or(usize::MAX))
        .map(|id| json!({"id": id, "url": format!("{}{ORGANIZATION}/_apis/wit/workItems/{id}", state.base_url)}))
        .collect();
    Json(json!({"queryType": "flat", "queryResultType": "workItem", "asOf": iso(Utc::now().timestamp_millis()),
                "columns": [{"referenceName": "System.Id", "name": "ID"}], "workItems": items}))
    .into_response()
}

impl AzureState {
    /// A work item as the batch read serves it, only `wanted` fields when named; garbled
    /// when it is one of the poison records.
    fn work_item(&self, issue: &Issue, wanted: Option<&[String]>) -> Value {
        let id = work_item_id(issue.index);
        let project = PROJECTS[self.site.project_of(issue.index)];
        let all = revisions(issue);
        let rev = all.len() as u64;
        let created = if self.poisoned(issue.index) {
            Value::from("not a date")
        } else {
            Value::from(iso(issue.created_ms))
        };
        let mut fields: Map<String, Value> = Map::new();
        let mut put = |name: &str, value: Value| {
            if !value.is_null() {
                fields.insert(name.to_owned(), value);
            }
        };
        put("System.Id", json!(id));
        put("System.Rev", json!(rev));
        put("System.AreaPath", json!(project));
        put("System.TeamProject", json!(project));
        put("System.IterationPath", json!(project));
        put("System.WorkItemType", json!(type_name(issue.issue_type)));
        put("System.State", json!(state_name(issue.status)));
        put("System.BoardColumn", json!(state_name(issue.status)));
        put("System.Reason", json!("Moved to state"));
        put(
            "System.AssignedTo",
            issue.assignee.map(person).unwrap_or(Value::Null),
        );
        put("System.CreatedBy", person(issue.reporter));
        put(
            "System.ChangedBy",
            person(all.last().map_or(issue.reporter, |r| r.by)),
        );
        put("System.CreatedDate", created);
        put("System.ChangedDate", json!(iso(issue.updated_ms())));
        put("System.Title", json!(issue.summary));
        put(
            "System.Description",
            json!(format!("<div>{}</div>", issue.description)),
        );
        put(
            "System.Tags",
            if issue.labels.is_empty() {
                Value::Null
            } else {
                json!(issue.labels.join("; "))
            },
        );
        put(
            "System.Parent",
            issue
                .parent
                .map(|p| json!(work_item_id(p)))
                .unwrap_or(Value::Null),
        );
        put(
            "Microsoft.VSTS.Common.Priority",
            json!(PRIORITIES[issue.priority].0.parse::<u64>().unwrap_or(2)),
        );
        put(
            "Microsoft.VSTS.Common.ClosedDate",
            issue
                .resolved_ms
                .map(|ms| json!(iso(ms)))
                .unwrap_or(Value::Null),
        );
        put(
            "Microsoft.VSTS.Scheduling.StoryPoints",
            issue.story_points.map(Value::from).unwrap_or(Value::Null),
        );
        if self.site.project_of(issue.index) == 1 {
            put(
                CUSTOM_FIELD.0,
                json!(["Low", "Medium", "High"][issue.index as usize % 3]),
            );
        }
        if let Some(wanted) = wanted {
            fields.retain(|name, _| wanted.iter().any(|w| w.eq_ignore_ascii_case(name)));
        }
        json!({"id": id, "rev": rev, "fields": fields,
               "url": format!("{}{ORGANIZATION}/_apis/wit/workItems/{id}", self.base_url)})
    }

    fn poisoned(&self, index: u32) -> bool {
        let draw = mix(self.site.items.population.seed ^ 0x617a_7572 ^ u64::from(index));
        (draw as f64 / u64::MAX as f64) < self.malformed_rate
    }

    fn revision(&self, issue: &Issue, revision: &Revision) -> Value {
        let id = work_item_id(issue.index);
        json!({"id": id, "rev": revision.rev, "fields": {
            "System.Id": id, "System.Rev": revision.rev,
            "System.TeamProject": PROJECTS[self.site.project_of(issue.index)],
            "System.WorkItemType": type_name(issue.issue_type),
            "System.State": state_name(revision.state), "System.BoardColumn": state_name(revision.state),
            "System.ChangedDate": iso(revision.changed_ms), "System.ChangedBy": person_text(revision.by)}})
    }
}

async fn batch(State(state): Shared, body: Bytes) -> Response {
    let bad = |message: &str| azure_error(StatusCode::BAD_REQUEST, "ArgumentException", message);
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return bad("The request body is not JSON.");
    };
    let Some(ids) = body["ids"].as_array() else {
        return bad("ids: a list of work item ids is required.");
    };
    if ids.len() > BATCH_CAP {
        return bad("VS403474: The maximum number of work items in a batch is 200.");
    }
    let wanted: Option<Vec<String>> = body["fields"].as_array().map(|fields| {
        fields
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect()
    });
    let omit = body["errorPolicy"]
        .as_str()
        .is_some_and(|p| p.eq_ignore_ascii_case("omit"));
    let mut value = Vec::with_capacity(ids.len());
    for id in ids {
        let found = id
            .as_u64()
            .and_then(index_of)
            .and_then(|index| state.site.items.by_index(index));
        match found {
            Some(issue) => value.push(state.work_item(&issue, wanted.as_deref())),
            None if omit => value.push(Value::Null),
            None => {
                return azure_error(StatusCode::NOT_FOUND, "WorkItemUnauthorizedAccessException",
                    &format!("TF401232: Work item {id} does not exist, or you do not have permissions to read it."))
            }
        }
    }
    Json(json!({"count": value.len(), "value": value})).into_response()
}

async fn stream_in_project(
    state: Shared,
    Path(project): Path<String>,
    query: Query<HashMap<String, String>>,
) -> Response {
    match project_index(&project) {
        Some(index) => run_stream(state, Some(index), query),
        None => unknown_project(&project),
    }
}

async fn stream(state: Shared, query: Query<HashMap<String, String>>) -> Response {
    run_stream(state, None, query)
}

fn token(key: &StreamKey) -> String {
    format!("{}_{}_{}", key.0, key.1, key.2)
}

fn parse_token(text: &str) -> Option<StreamKey> {
    let mut parts = text.splitn(3, '_');
    Some((
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
    ))
}

/// A page of the reporting stream: revisions after the continuation token (or changed at
/// or after `startDateTime`), oldest first.
fn run_stream(
    State(state): Shared,
    project: Option<usize>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let bad = |message: &str| azure_error(StatusCode::BAD_REQUEST, "ArgumentException", message);
    let keys = state.site.stream();
    let start = match (params.get("continuationToken"), params.get("startDateTime")) {
        (Some(_), Some(_)) => return bad("startDateTime cannot be used with continuationToken."),
        (Some(text), None) => match parse_token(text) {
            Some(after) => keys.partition_point(|key| *key <= after),
            None => return bad("The continuation token is not valid."),
        },
        (None, Some(text)) => match DateTime::parse_from_rfc3339(text) {
            Ok(from) => keys.partition_point(|key| key.0 < from.timestamp_millis()),
            Err(_) => return bad("startDateTime is not a date."),
        },
        (None, None) => 0,
    };
    let size = params
        .get("$maxPageSize")
        .and_then(|s| s.parse().ok())
        .unwrap_or(STREAM_PAGE_DEFAULT)
        .clamp(1, STREAM_PAGE_CAP);
    let in_scope = |key: &&StreamKey| {
        project
            .is_none_or(|p| index_of(key.1).is_some_and(|index| state.site.project_of(index) == p))
    };
    let page: Vec<&StreamKey> = keys[start..].iter().filter(in_scope).take(size).collect();
    let last = page
        .last()
        .map(|key| **key)
        .or_else(|| start.checked_sub(1).map(|i| keys[i]));
    let is_last = match page.last() {
        Some(key) => !keys[keys.partition_point(|k| k <= key)..]
            .iter()
            .any(|k| in_scope(&k)),
        None => true,
    };
    let mut issues: HashMap<u64, (Issue, Vec<Revision>)> = HashMap::new();
    let mut values = Vec::with_capacity(page.len());
    for key in page {
        if let std::collections::hash_map::Entry::Vacant(slot) = issues.entry(key.1) {
            let Some(issue) = index_of(key.1).and_then(|index| state.site.items.by_index(index))
            else {
                continue;
            };
            let all = revisions(&issue);
            slot.insert((issue, all));
        }
        let (issue, all) = &issues[&key.1];
        if let Some(revision) = all.iter().find(|r| r.rev == key.2) {
            values.push(state.revision(issue, revision));
        }
    }
    let continuation = last
        .map(|key| token(&key))
        .unwrap_or_else(|| "0_0_0".into());
    let scope = project.map_or(String::new(), |p| {
        format!("/{}", PROJECTS[p].replace(' ', "%20"))
    });
    Json(json!({
        "values": values,
        "nextLink": format!("{}{ORGANIZATION}{scope}/_apis/wit/reporting/workitemrevisions?continuationToken={continuation}&api-version=7.1-preview.2", state.base_url),
        "continuationToken": continuation,
        "isLastBatch": is_last,
    }))
    .into_response()
}

async fn item_revisions(State(state): Shared, Path(id): Path<u64>) -> Response {
    let Some(issue) = index_of(id).and_then(|index| state.site.items.by_index(index)) else {
        return azure_error(StatusCode::NOT_FOUND, "WorkItemUnauthorizedAccessException",
            &format!("TF401232: Work item {id} does not exist, or you do not have permissions to read it."));
    };
    let value: Vec<Value> = revisions(&issue)
        .iter()
        .map(|revision| state.revision(&issue, revision))
        .collect();
    Json(json!({"count": value.len(), "value": value})).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wiql_subset_parses_what_the_client_writes() {
        let since = "2025-03-04T05:06:07Z";
        let query = format!(
            "SELECT [System.Id] FROM WorkItems WHERE [System.Id] > 20000 AND \
             [System.TeamProject] IN ('Fabrikam Fiber', 'Tailspin') AND \
             [System.ChangedDate] >= '{since}' ORDER BY [System.Id] ASC"
        );
        let parsed = parse_wiql(&query).unwrap();
        assert_eq!(parsed.after_id, 20_000);
        assert_eq!(parsed.projects, Some(vec![0, 1]));
        assert_eq!(
            parsed.changed_from_ms,
            Some(
                DateTime::parse_from_rfc3339(since)
                    .unwrap()
                    .timestamp_millis()
            )
        );
        assert!(
            parse_wiql("SELECT [System.Id] FROM WorkItems WHERE [System.Title] = 'x'").is_err()
        );
        assert!(parse_wiql(
            "SELECT [System.Id] FROM WorkItems WHERE [System.TeamProject] = 'Nope'"
        )
        .is_err());
        assert_eq!(parse_token(&token(&(5, 6, 7))), Some((5, 6, 7)));
    }
}
