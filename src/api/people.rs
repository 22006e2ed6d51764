//! `/people` (admins: personal data) and `/teams`: one person across tools — each with the
//! accounts that are them, suggestions of people who may be one, merge, split and
//! keep-apart — and teams, the named sets of people metrics group by.

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::{Admin, Caller};
use super::error::{ApiResult, ErrorBody};
use super::extract::{Json, Path, Query};
use super::pagination::Page;
use super::state::ApiState;
use crate::domain::IntegrationId;
use crate::service::people;
use crate::sources::people::directory::{Person, Suggestion};
use crate::sources::people::teams::Team;

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(get))
        .routes(routes!(suggestions))
        .routes(routes!(merge))
        .routes(routes!(split))
        .routes(routes!(keep_apart))
        .routes(routes!(teams, create_team))
        .routes(routes!(update_team, delete_team))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PeopleQuery {
    /// Only people whose name, an account or an e-mail contains this.
    pub q: Option<String>,
}

/// The tenant's people, by name, each with its accounts and teams.
#[utoipa::path(get, path = "/people", operation_id = "list_people", tag = "people", params(PeopleQuery),
    responses((status = 200, body = Page<Person>), (status = 403, body = ErrorBody)))]
async fn list(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Query(query): Query<PeopleQuery>,
) -> ApiResult<axum::Json<Page<Person>>> {
    Ok(axum::Json(Page::complete(
        people::list(&state.pool, caller.tenant_id, query.q.as_deref()).await?,
    )))
}

/// One person.
#[utoipa::path(get, path = "/people/{id}", operation_id = "get_person", tag = "people", params(("id" = i64, Path, description = "Person id")),
    responses((status = 200, body = Person), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<Person>> {
    Ok(axum::Json(
        people::get(&state.pool, caller.tenant_id, id).await?,
    ))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SuggestionsQuery {
    /// Pairs, 1 to 500 (default 100).
    pub limit: Option<i64>,
}

/// Pairs of people who may be one: they share a name once normalised (lower case, letters
/// and digits only; a GitHub login counts as a name). Only an admin merges them.
#[utoipa::path(get, path = "/people/suggestions", tag = "people", params(SuggestionsQuery),
    responses((status = 200, body = Page<Suggestion>), (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn suggestions(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Query(query): Query<SuggestionsQuery>,
) -> ApiResult<axum::Json<Page<Suggestion>>> {
    Ok(axum::Json(Page::complete(
        people::suggestions(&state.pool, caller.tenant_id, query.limit).await?,
    )))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OtherPerson {
    /// The other person.
    pub person_id: i64,
}

/// Merges another person into this one: its accounts and team memberships move over and it
/// is deleted. Metrics follow at once.
#[utoipa::path(post, path = "/people/{id}/merge", operation_id = "merge_people", tag = "people", request_body = OtherPerson,
    params(("id" = i64, Path, description = "The person merged into")),
    responses((status = 200, body = Person), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn merge(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id): Path<i64>,
    Json(body): Json<OtherPerson>,
) -> ApiResult<axum::Json<Person>> {
    Ok(axum::Json(
        people::merge(&state.pool, caller.tenant_id, id, body.person_id).await?,
    ))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountRef {
    pub integration_id: IntegrationId,
    pub account_key: String,
}

/// Splits an account off this person into a new person of its own (in no team), undoing
/// the merge that joined it; later syncs keep it apart. Answers the new person.
#[utoipa::path(post, path = "/people/{id}/split", operation_id = "split_person", tag = "people", request_body = AccountRef,
    params(("id" = i64, Path, description = "Person id")),
    responses((status = 201, body = Person), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn split(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id): Path<i64>,
    Json(body): Json<AccountRef>,
) -> ApiResult<(StatusCode, axum::Json<Person>)> {
    let person = people::split(
        &state.pool,
        caller.tenant_id,
        id,
        body.integration_id,
        &body.account_key,
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(person)))
}

/// Records that this person and another are different people: the pair is no longer
/// suggested.
#[utoipa::path(post, path = "/people/{id}/keep-apart", tag = "people", request_body = OtherPerson,
    params(("id" = i64, Path, description = "Person id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn keep_apart(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id): Path<i64>,
    Json(body): Json<OtherPerson>,
) -> ApiResult<StatusCode> {
    people::keep_apart(&state.pool, caller.tenant_id, id, body.person_id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The tenant's teams, by name, with their members.
#[utoipa::path(get, path = "/teams", operation_id = "list_teams", tag = "people",
    responses((status = 200, body = Page<Team>), (status = 401, body = ErrorBody)))]
async fn teams(State(state): State<ApiState>, caller: Caller) -> ApiResult<axum::Json<Page<Team>>> {
    Ok(axum::Json(Page::complete(
        people::teams(&state.pool, caller.tenant_id).await?,
    )))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTeam {
    /// 1 to 100 characters, unique in the tenant.
    pub name: String,
    /// Its members.
    #[serde(default)]
    pub person_ids: Vec<i64>,
}

/// Creates a team.
#[utoipa::path(post, path = "/teams", operation_id = "create_team", tag = "people", request_body = NewTeam,
    responses((status = 201, body = Team), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_team(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Json(body): Json<NewTeam>,
) -> ApiResult<(StatusCode, axum::Json<Team>)> {
    let team =
        people::create_team(&state.pool, caller.tenant_id, &body.name, &body.person_ids).await?;
    Ok((StatusCode::CREATED, axum::Json(team)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamPatch {
    pub name: Option<String>,
    /// The members, replacing the current ones.
    pub person_ids: Option<Vec<i64>>,
}

/// Renames a team or replaces its members.
#[utoipa::path(patch, path = "/teams/{id}", operation_id = "update_team", tag = "people", request_body = TeamPatch,
    params(("id" = i64, Path, description = "Team id")),
    responses((status = 200, body = Team), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn update_team(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id): Path<i64>,
    Json(body): Json<TeamPatch>,
) -> ApiResult<axum::Json<Team>> {
    Ok(axum::Json(
        people::update_team(
            &state.pool,
            caller.tenant_id,
            id,
            body.name.as_deref(),
            body.person_ids.as_deref(),
        )
        .await?,
    ))
}

/// Deletes a team (its people stay).
#[utoipa::path(delete, path = "/teams/{id}", operation_id = "delete_team", tag = "people",
    params(("id" = i64, Path, description = "Team id")),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_team(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    people::delete_team(&state.pool, caller.tenant_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
