//! GitHub's GraphQL API (`POST /graphql`) for the part of the schema the connector reads:
//! queries are parsed and validated against GitHub's type and field names
//! (`schema.graphql`), held to GitHub's pagination and node limits, charged in points to
//! the token's GraphQL budget (`RATE_LIMITED` once it is spent) and run by resolvers over
//! the generated site.

pub mod cost;
mod resolve;

use std::sync::Arc;

use apollo_compiler::request::coerce_variable_values;
use apollo_compiler::resolvers::Execution;
use apollo_compiler::response::JsonMap;
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use super::routes::{github_error, GithubState};
use crate::simulator::quota::{github_token, now_ms, rate_headers, GithubQuota};
use crate::simulator::stats::Stats;
use resolve::{RateLimitAnswer, Resolver, World};

/// The schema the simulator serves, in GitHub's names.
pub const SCHEMA_SDL: &str = include_str!("schema.graphql");

/// The served schema, parsed and validated.
pub fn schema() -> Result<Valid<Schema>, String> {
    Schema::parse_and_validate(SCHEMA_SDL, "schema.graphql").map_err(|e| e.errors.to_string())
}

pub struct GraphqlState {
    pub github: Arc<GithubState>,
    pub quota: Arc<GithubQuota>,
    pub stats: Arc<Stats>,
    pub schema: Valid<Schema>,
}

pub fn router(state: Arc<GraphqlState>) -> Router {
    Router::new()
        .route("/graphql", post(graphql))
        .with_state(state)
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GraphqlRequest {
    query: String,
    #[serde(default)]
    variables: Option<serde_json::Map<String, Value>>,
    #[serde(default)]
    operation_name: Option<String>,
}

/// An answer that carries only errors, each with GitHub's `type` where it names one.
fn errors(errors: Vec<(Option<&str>, String)>) -> Value {
    let errors: Vec<Value> = errors
        .into_iter()
        .map(|(kind, message)| match kind {
            Some(kind) => json!({"type": kind, "message": message}),
            None => json!({"message": message}),
        })
        .collect();
    json!({ "errors": errors })
}

async fn graphql(
    State(state): State<Arc<GraphqlState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(request) = serde_json::from_slice::<GraphqlRequest>(&body) else {
        return github_error(StatusCode::BAD_REQUEST, "Problems parsing JSON");
    };
    let token = github_token(&headers).unwrap_or_default().to_owned();
    // Parsing, validation and resolving are CPU work: off the async workers.
    let answer = tokio::task::spawn_blocking(move || answer(&state, &token, request)).await;
    let Ok((body, rate)) = answer else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut response = Json(body).into_response();
    if let Some((limit, used, reset)) = rate {
        rate_headers(response.headers_mut(), limit, used, reset, "graphql");
    }
    response
}

/// The answer's body and, once the query was charged, its budget (limit, used, reset).
fn answer(
    state: &GraphqlState,
    token: &str,
    request: GraphqlRequest,
) -> (Value, Option<(u64, u64, i64)>) {
    let schema = &state.schema;
    let document =
        match ExecutableDocument::parse_and_validate(schema, request.query, "query.graphql") {
            Ok(document) => document,
            Err(invalid) => {
                let messages = invalid.errors.iter().map(|e| (None, e.error.to_string()));
                return (errors(messages.collect()), None);
            }
        };
    let operation = match document.operations.get(request.operation_name.as_deref()) {
        Ok(operation) => operation,
        Err(error) => return (errors(vec![(None, error.message().to_string())]), None),
    };
    let raw: JsonMap = serde_json::from_value(Value::Object(request.variables.unwrap_or_default()))
        .unwrap_or_default();
    let variables = match coerce_variable_values(schema, operation, &raw) {
        Ok(variables) => variables,
        Err(error) => return (errors(vec![(None, error.message().to_string())]), None),
    };
    let cost = match cost::cost(&document, &operation.selection_set, &variables) {
        Ok(cost) => cost,
        Err(message) => {
            return (
                errors(vec![(Some("MAX_NODE_LIMIT_EXCEEDED"), message)]),
                None,
            )
        }
    };
    let quota = &state.quota;
    let points = cost.points();
    let (allowed, used, reset) = quota.charge(&format!("graphql:{token}"), points, now_ms());
    let rate = Some((quota.budget, used, reset));
    if !allowed {
        let message = "API rate limit already exceeded for this token.".to_owned();
        return (errors(vec![(Some("RATE_LIMITED"), message)]), rate);
    }
    state.stats.add_graphql_points(points);
    let world = World {
        github: &state.github,
        rate: RateLimitAnswer {
            cost: points,
            limit: quota.budget,
            node_count: cost.nodes,
            remaining: quota.budget.saturating_sub(used),
            reset_at_secs: reset,
            used,
        },
    };
    let executed = Execution::new(schema, &document)
        .operation(operation)
        .coerced_variable_values(&variables)
        .execute_sync(&Resolver::query(&world));
    let body = match executed {
        Ok(response) => serde_json::to_value(response).unwrap_or(Value::Null),
        Err(error) => errors(vec![(None, error.message().to_string())]),
    };
    (body, rate)
}
