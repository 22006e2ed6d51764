//! The OpenAPI 3.1 document, generated from the handlers' annotations: every route under
//! `/api/v1` is registered here through its resource's router, so a route cannot exist
//! without being documented.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use super::error::ErrorBody;
use super::state::ApiState;
use super::{
    custom_fields, integrations, jobs, metrics, prs, queues, raw_data, session, users, work_items,
    workflow,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "pulse-etl API",
        description = "A tenant's Jira and GitHub data: integrations, sync jobs, work items with \
                       workflow metrics, pull requests, flow reports and workflow configuration. \
                       Sign in with `POST /api/v1/auth/login`, then send `Authorization: Bearer \
                       <token>` (or, from a browser, the session cookie plus `X-Pulse-CSRF: 1` on \
                       writes). Errors are `{\"error\": {\"code\", \"message\", \"field\"?}}`."
    ),
    modifiers(&SecuritySchemes),
    security(("bearer" = []), ("session_cookie" = [])),
    components(schemas(ErrorBody))
)]
struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("session JWT or pulse_ API token")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "session_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                super::auth::SESSION_COOKIE,
            ))),
        );
    }
}

/// Every documented route, under `/api/v1`.
pub fn api_router() -> OpenApiRouter<ApiState> {
    let resources = OpenApiRouter::new()
        .merge(session::router())
        .merge(integrations::router())
        .merge(jobs::router())
        .merge(work_items::router())
        .merge(prs::router())
        .merge(metrics::router())
        .merge(workflow::router())
        .merge(custom_fields::router())
        .merge(raw_data::router())
        .merge(queues::router())
        .merge(users::router());
    OpenApiRouter::with_openapi(ApiDoc::openapi()).nest("/api/v1", resources)
}
