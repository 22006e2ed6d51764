//! `POST /rest/api/3/changelog/bulkfetch`: the changelogs of up to 1,000 issues per call,
//! at most `maxResults` histories per answer, continued with `nextPageToken`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};

use super::render;
use super::routes::{jira_error, JiraState};

/// Issues one call may name.
pub const MAX_ISSUES: usize = 1_000;
/// Histories one answer holds at most (and by default).
const MAX_HISTORIES: usize = 1_000;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BulkRequest {
    issue_ids_or_keys: Vec<String>,
    max_results: Option<usize>,
    next_page_token: Option<String>,
}

/// Where an answer resumes: the position in the request's issue list and the history
/// offset within that issue.
fn parse_token(token: &str) -> Option<(usize, usize)> {
    let (issue, history) = token.strip_prefix("bf:")?.split_once('.')?;
    Some((issue.parse().ok()?, history.parse().ok()?))
}

pub async fn bulkfetch(
    State(state): State<Arc<JiraState>>,
    Json(request): Json<BulkRequest>,
) -> Response {
    if request.issue_ids_or_keys.is_empty() || request.issue_ids_or_keys.len() > MAX_ISSUES {
        return jira_error(
            StatusCode::BAD_REQUEST,
            format!("issueIdsOrKeys must name between 1 and {MAX_ISSUES} issues."),
        );
    }
    let budget = request
        .max_results
        .unwrap_or(MAX_HISTORIES)
        .clamp(1, MAX_HISTORIES);
    let (mut position, mut offset) = match request.next_page_token.as_deref().map(parse_token) {
        None => (0, 0),
        Some(Some(start)) => start,
        Some(None) => return jira_error(StatusCode::BAD_REQUEST, "nextPageToken is not valid."),
    };
    let mut left = budget;
    let mut logs = Vec::new();
    let mut next = None;
    let ids = &request.issue_ids_or_keys;
    while position < ids.len() {
        // Unknown or deleted issues are left out, as Jira does; a repeated one is served once.
        let issue = state
            .site
            .find(&ids[position])
            .filter(|_| !ids[..position].contains(&ids[position]));
        let Some(issue) = issue else {
            position += 1;
            offset = 0;
            continue;
        };
        let taken: Vec<Value> = issue
            .histories
            .iter()
            .skip(offset)
            .take(left)
            .map(|h| render::history(&state.base_url, h))
            .collect();
        left -= taken.len();
        let done = offset + taken.len() >= issue.histories.len();
        if !taken.is_empty() {
            logs.push(json!({"issueId": render::issue_id(issue.index), "changeHistories": taken}));
        }
        if done {
            position += 1;
            offset = 0;
        } else {
            offset += taken.len();
        }
        if left == 0 && position < ids.len() {
            next = Some(format!("bf:{position}.{offset}"));
            break;
        }
    }
    let mut answer = json!({"issueChangeLogs": logs});
    if let Some(token) = next {
        answer["nextPageToken"] = Value::from(token);
    }
    Json(answer).into_response()
}
