//! The OpenAPI 3.1 document, generated from the handlers' annotations: every route under
//! `/api/v1` is registered here through its resource's router, so a route cannot exist
//! without being documented.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use super::error::ErrorBody;
use super::state::ApiState;
use super::{
    custom_fields, integrations, jobs, metrics, people, prs, queues, raw_data, search, session,
    sources, users, webhooks, work_items, workflow,
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

/// The error answers any operation of a kind can give, added where a handler did not list
/// them: 401 wherever credentials are needed, 403 on every write (the role, or a cookie
/// without the CSRF header), 400/422 wherever input is read, 413/415 for bodies, 404 for paths
/// naming a resource, 503 when a request outlives the time limit.
struct StandardErrors;

impl Modify for StandardErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{HttpMethod, RefOr, ResponseBuilder};
        let error = || -> RefOr<utoipa::openapi::Response> {
            ResponseBuilder::new()
                .description("An error in the API's error shape")
                .content(
                    "application/json",
                    utoipa::openapi::ContentBuilder::new()
                        .schema(Some(utoipa::openapi::Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
                .into()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [
                (HttpMethod::Get, item.get.as_mut()),
                (HttpMethod::Post, item.post.as_mut()),
                (HttpMethod::Put, item.put.as_mut()),
                (HttpMethod::Patch, item.patch.as_mut()),
                (HttpMethod::Delete, item.delete.as_mut()),
            ];
            for (method, operation) in operations {
                let Some(operation) = operation else { continue };
                let public = operation
                    .security
                    .as_ref()
                    .is_some_and(|list| list.iter().any(|s| s == &Default::default()));
                let reads_input = operation.request_body.is_some()
                    || operation.parameters.as_ref().is_some_and(|p| !p.is_empty());
                let mut codes = vec!["503"];
                if !public {
                    codes.push("401");
                }
                if !public && method != HttpMethod::Get {
                    codes.push("403");
                }
                if reads_input {
                    codes.extend(["400", "422"]);
                }
                if operation.request_body.is_some() {
                    codes.extend(["413", "415"]);
                }
                if path.contains('{') {
                    codes.push("404");
                }
                for code in codes {
                    operation
                        .responses
                        .responses
                        .entry(code.to_owned())
                        .or_insert_with(error);
                }
            }
        }
    }
}

/// Every documented route under `/api/v1`, and the document describing them.
pub fn api() -> (axum::Router<ApiState>, utoipa::openapi::OpenApi) {
    let (router, mut document) = api_router().split_for_parts();
    StandardErrors.modify(&mut document);
    (router, document)
}

fn api_router() -> OpenApiRouter<ApiState> {
    let resources = OpenApiRouter::new()
        .merge(session::router())
        .merge(integrations::router())
        .merge(sources::router())
        .merge(jobs::router())
        .merge(work_items::router())
        .merge(prs::router())
        .merge(metrics::router())
        .merge(people::router())
        .merge(workflow::router())
        .merge(custom_fields::router())
        .merge(raw_data::router())
        .merge(queues::router())
        .merge(search::router())
        .merge(users::router())
        .merge(webhooks::router());
    OpenApiRouter::with_openapi(ApiDoc::openapi()).nest("/api/v1", resources)
}

#[cfg(test)]
mod tests {
    /// Every `$ref` names a schema the document defines (generators refuse a dangling one).
    #[test]
    fn every_reference_resolves() {
        let (_, document) = super::api();
        let document = serde_json::to_value(&document).unwrap();
        let defined = document["components"]["schemas"].as_object().unwrap();
        let mut pending = vec![&document];
        while let Some(node) = pending.pop() {
            match node {
                serde_json::Value::Object(map) => {
                    if let Some(reference) = map.get("$ref").and_then(|r| r.as_str()) {
                        let name = reference.trim_start_matches("#/components/schemas/");
                        assert!(defined.contains_key(name), "{reference} is not defined");
                    }
                    pending.extend(map.values());
                }
                serde_json::Value::Array(items) => pending.extend(items),
                _ => {}
            }
        }
    }

    /// Operation ids are unique (generated clients name their functions and types by them).
    #[test]
    fn operation_ids_are_unique() {
        let (_, document) = super::api();
        let mut seen = std::collections::BTreeSet::new();
        for (path, item) in &document.paths.paths {
            let operations = [&item.get, &item.put, &item.post, &item.delete, &item.patch];
            for operation in operations.into_iter().flatten() {
                let id = operation.operation_id.clone().unwrap_or_default();
                assert!(
                    seen.insert(id.clone()),
                    "{path}: operation id {id} is used twice"
                );
            }
        }
    }

    /// The web UI's types and client are generated from `assets/ui/openapi.json`, so it must
    /// be this build's document (`PULSE_WRITE_OPENAPI=1` writes it).
    #[test]
    fn the_ui_is_generated_from_this_builds_openapi_document() {
        let (_, document) = super::api();
        let current = document.to_pretty_json().unwrap() + "\n";
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/ui/openapi.json");
        if std::env::var_os("PULSE_WRITE_OPENAPI").is_some() {
            std::fs::write(path, &current).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == current,
            "assets/ui/openapi.json is not this build's API document: run \
             `PULSE_WRITE_OPENAPI=1 cargo test --lib openapi_document`, then rebuild the UI"
        );
    }
}
