//! `/users` and `/tokens` (admins): the tenant's people (created with a password, given a
//! role, disabled) and long-lived API tokens (created — the token shown once — and revoked).

use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::auth::Admin;
use super::error::{ApiResult, ErrorBody};
use super::extract::{Json, Path};
use super::pagination::Page;
use super::state::ApiState;
use crate::domain::UserRole;
use crate::service::api_tokens::{self, CreatedToken};
use crate::service::users::{self, NewUser};
use crate::store::api_tokens::{ApiTokenSummary, TokenCreator};
use crate::store::users::UserSummary;

pub fn router() -> OpenApiRouter<ApiState> {
    OpenApiRouter::new()
        .routes(routes!(list, create))
        .routes(routes!(get, update))
        .routes(routes!(tokens, create_token))
        .routes(routes!(revoke_token))
}

/// The tenant's users.
#[utoipa::path(get, path = "/users", operation_id = "list_users", tag = "users", responses((status = 200, body = Page<UserSummary>), (status = 403, body = ErrorBody)))]
async fn list(
    State(state): State<ApiState>,
    Admin(caller): Admin,
) -> ApiResult<axum::Json<Page<UserSummary>>> {
    Ok(axum::Json(Page::complete(
        users::list(&state.pool, caller.tenant_id).await?,
    )))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUserBody {
    pub email: String,
    /// At least 8 characters; stored only as an argon2 hash.
    pub password: String,
    pub role: UserRole,
}

/// Creates a user of the tenant.
#[utoipa::path(post, path = "/users", operation_id = "create_user", tag = "users", request_body = NewUserBody,
    responses((status = 201, body = UserSummary), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Json(body): Json<NewUserBody>,
) -> ApiResult<(StatusCode, axum::Json<UserSummary>)> {
    let new = NewUser {
        tenant_id: caller.tenant_id,
        email: body.email,
        password: body.password,
        role: body.role,
    };
    let id = users::create(&state.pool, new).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(users::get(&state.pool, caller.tenant_id, id).await?),
    ))
}

/// One user.
#[utoipa::path(get, path = "/users/{id}", operation_id = "get_user", tag = "users", params(("id" = i64, Path, description = "User id")),
    responses((status = 200, body = UserSummary), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn get(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id): Path<i64>,
) -> ApiResult<axum::Json<UserSummary>> {
    Ok(axum::Json(
        users::get(&state.pool, caller.tenant_id, id).await?,
    ))
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    pub role: Option<UserRole>,
    /// False disables the user: their sessions stop working within 30 seconds.
    pub active: Option<bool>,
}

/// Changes a user's role or disables them.
#[utoipa::path(patch, path = "/users/{id}", operation_id = "update_user", tag = "users", request_body = UserPatch, params(("id" = i64, Path, description = "User id")),
    responses((status = 200, body = UserSummary), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn update(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id): Path<i64>,
    Json(body): Json<UserPatch>,
) -> ApiResult<axum::Json<UserSummary>> {
    let user = users::update(
        &state.pool,
        caller.tenant_id,
        caller.user_id,
        id,
        body.role,
        body.active,
    )
    .await?;
    state.auth.forget_tenant(caller.tenant_id);
    Ok(axum::Json(user))
}

/// The tenant's API tokens (never their values).
#[utoipa::path(get, path = "/tokens", tag = "users", responses((status = 200, body = Page<ApiTokenSummary>), (status = 403, body = ErrorBody)))]
async fn tokens(
    State(state): State<ApiState>,
    Admin(caller): Admin,
) -> ApiResult<axum::Json<Page<ApiTokenSummary>>> {
    Ok(axum::Json(Page::complete(
        api_tokens::list(&state.pool, caller.tenant_id).await?,
    )))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTokenBody {
    /// What the token is for (unique among the tenant's live tokens).
    pub name: String,
    pub role: UserRole,
}

/// Creates an API token; the answer is the only time the token is shown.
#[utoipa::path(post, path = "/tokens", tag = "users", request_body = NewTokenBody,
    responses((status = 201, body = CreatedToken), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
async fn create_token(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Json(body): Json<NewTokenBody>,
) -> ApiResult<(StatusCode, axum::Json<CreatedToken>)> {
    let creator = TokenCreator {
        user: caller.user_id,
        token: caller.token_id,
    };
    let created = api_tokens::create(
        &state.pool,
        caller.tenant_id,
        (&body.name, body.role),
        creator,
    )
    .await?;
    Ok((StatusCode::CREATED, axum::Json(created)))
}

/// Revokes an API token: it stops working within 30 seconds.
#[utoipa::path(delete, path = "/tokens/{id}", tag = "users", params(("id" = i64, Path, description = "Token id")),
    responses((status = 204, description = "Revoked"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, description = "The token making the request", body = ErrorBody)))]
async fn revoke_token(
    State(state): State<ApiState>,
    Admin(caller): Admin,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    api_tokens::revoke(&state.pool, caller.tenant_id, caller.token_id, id).await?;
    state.auth.forget_tenant(caller.tenant_id);
    Ok(StatusCode::NO_CONTENT)
}
