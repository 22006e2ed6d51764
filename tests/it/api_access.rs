//! Who may call what, for every route of the OpenAPI document (read from the running
//! server, so a new route is covered the day it is added): another tenant's admin gets 404
//! for this tenant's resources, a viewer's write gets 403, no token and forged tokens get
//! 401. Lists never show another tenant's rows.

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::api::{self, TestApi, TEST_JWT_SECRET};
use crate::common::source::{cli, connect_github, jira_tenant, strings};
use crate::common::ScratchDb;
use pulse_etl::api::auth::jwt::{Claims, SessionKeys};
use pulse_etl::domain::{TenantId, UserRole};
use pulse_etl::simulator::{RunningSimulator, SimulatorConfig};

/// A small simulated Jira site (with `projects` projects) and GitHub organisation.
pub async fn small_simulator(projects: usize) -> RunningSimulator {
    let config = SimulatorConfig {
        seed: 5,
        jira_projects: projects,
        jira_issues: 40,
        github_repos: 2,
        github_prs: 12,
        slow_response: Duration::from_millis(1),
        ..SimulatorConfig::default()
    };
    RunningSimulator::start(config, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap()
}

/// A tenant with Jira and GitHub integrations synced from `sim`; returns its id.
pub async fn synced_tenant(db: &ScratchDb, sim: &RunningSimulator) -> String {
    let tenant = jira_tenant(db, sim, "sim-token").await;
    connect_github(db, sim, &tenant, &["sim-gh-token"], &[]).await;
    for provider in ["jira", "github"] {
        let ran = cli(db, strings(&["run-job", provider, "--tenant", &tenant])).await;
        assert!(ran.status.success(), "{}", crate::common::stderr(&ran));
    }
    tenant
}

/// The ids of one tenant's resources that paths and bodies name.
struct Ids {
    integration: i64,
    job: i64,
    key: String,
    pr: i64,
    raw: i64,
    status: i64,
    workflow: i64,
    user: i64,
    token: i64,
    person: i64,
    other_person: i64,
    team: i64,
}

/// `tenant`'s ids; its work item is one whose key `other` does not have (tenants synced
/// from similar sites share keys, and a key is all the path names).
async fn ids_of(db: &ScratchDb, tenant: &str, other: &str) -> Ids {
    let other_id: i64 = other.parse().unwrap();
    let tenant_id: i64 = tenant.parse().unwrap();
    let one = |sql: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(sql)
                .bind(tenant_id)
                .fetch_one(&pool)
                .await
                .unwrap_or_else(|error| panic!("{sql}: {error}"))
        }
    };
    let (_, user) = api::user(&db.pool, tenant, UserRole::Viewer).await;
    let token = pulse_etl::service::api_tokens::create(
        &db.pool,
        TenantId(tenant_id),
        ("probe", UserRole::Viewer),
        Default::default(),
    )
    .await
    .unwrap()
    .id;
    Ids {
        integration: one("SELECT id FROM integrations WHERE tenant_id = $1 AND provider = 'jira'").await,
        job: one("SELECT id FROM etl_jobs WHERE tenant_id = $1 ORDER BY id LIMIT 1").await,
        key: sqlx::query_scalar(
            "SELECT key FROM work_items WHERE tenant_id = $1
             AND key NOT IN (SELECT key FROM work_items WHERE tenant_id = $2) ORDER BY id LIMIT 1",
        )
        .bind(tenant_id)
        .bind(other_id)
            .fetch_one(&db.pool)
            .await
            .unwrap(),
        pr: one("SELECT id FROM prs WHERE tenant_id = $1 ORDER BY id LIMIT 1").await,
        raw: one("SELECT id FROM raw_extraction_data WHERE tenant_id = $1 ORDER BY id LIMIT 1").await,
        status: one("SELECT id FROM statuses WHERE tenant_id = $1 ORDER BY id LIMIT 1").await,
        workflow: one(
            "SELECT w.id FROM workflows w JOIN statuses s ON s.integration_id = w.integration_id
             WHERE w.tenant_id = $1 AND s.id = (SELECT min(id) FROM statuses WHERE tenant_id = $1) LIMIT 1",
        )
        .await,
        user,
        token,
        person: one("SELECT id FROM people WHERE tenant_id = $1 ORDER BY id LIMIT 1").await,
        other_person: one("SELECT id FROM people WHERE tenant_id = $1 ORDER BY id OFFSET 1 LIMIT 1")
            .await,
        team: one("INSERT INTO teams (tenant_id, name) VALUES ($1, 'probe') RETURNING id").await,
    }
}

/// A route of the document.
struct Route {
    method: Method,
    template: String,
    public: bool,
    has_body: bool,
}

async fn routes(api: &TestApi) -> Vec<Route> {
    let document: Value = reqwest::get(api.url(pulse_etl::api::OPENAPI_PATH))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let mut routes = Vec::new();
    for (path, operations) in document["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let public = operation["security"].as_array().is_some_and(|list| {
                list.iter()
                    .any(|s| s.as_object().is_some_and(|o| o.is_empty()))
            });
            routes.push(Route {
                method: method.to_uppercase().parse().unwrap(),
                template: path.clone(),
                public,
                has_body: operation.get("requestBody").is_some(),
            });
        }
    }
    assert!(routes.len() >= 40, "{} routes", routes.len());
    routes
}

/// The route's path with `ids` filled in (and its required query), or a panic naming a
/// route this test does not know how to address yet.
fn concrete(route: &Route, ids: &Ids) -> String {
    let t = route.template.as_str();
    let id = if t.starts_with("/api/v1/integrations/{id}") {
        ids.integration
    } else if t.starts_with("/api/v1/jobs/{id}") {
        ids.job
    } else if t.starts_with("/api/v1/prs/{id}") {
        ids.pr
    } else if t.starts_with("/api/v1/raw-data/{id}") {
        ids.raw
    } else if t.starts_with("/api/v1/users/{id}") {
        ids.user
    } else if t.starts_with("/api/v1/tokens/{id}") {
        ids.token
    } else if t.starts_with("/api/v1/workflows/{id}") {
        ids.workflow
    } else if t.starts_with("/api/v1/people/{id}") {
        ids.person
    } else if t.starts_with("/api/v1/teams/{id}") {
        ids.team
    } else {
        0
    };
    let path = t
        .replace("{id}", &id.to_string())
        .replace("{integration_id}", &ids.integration.to_string())
        .replace("{key}", &ids.key)
        .replace("{status_id}", &ids.status.to_string());
    assert!(
        !path.contains('{'),
        "route {t} has a path parameter this test does not know: add it"
    );
    if route.method == Method::GET && t.starts_with("/api/v1/custom-fields") {
        return format!("{path}?integration_id={}", ids.integration);
    }
    path
}

/// A valid body for a write, naming `ids` where the route takes them.
fn body_for(route: &Route, ids: &Ids) -> Option<Value> {
    if !route.has_body {
        return None;
    }
    let unique = uuid::Uuid::new_v4().simple().to_string();
    Some(match (route.method.as_str(), route.template.as_str()) {
        ("POST", "/api/v1/integrations") => {
            json!({"provider": "github", "base_url": "http://127.0.0.1:9", "tokens": ["t"]})
        }
        ("PATCH", "/api/v1/integrations/{id}") => json!({"active": true}),
        ("PUT", "/api/v1/jobs/{id}/status") => json!({"status": "READY"}),
        ("PUT", "/api/v1/status-mappings/{status_id}") => json!({"workflow_id": ids.workflow}),
        ("POST", "/api/v1/workflows") => {
            json!({"integration_id": ids.integration, "step_name": format!("Step {unique}"), "step_category": "done"})
        }
        ("PATCH", "/api/v1/workflows/{id}") => json!({"is_commitment_point": false}),
        ("POST", "/api/v1/reprocess") => json!({"integration_id": ids.integration}),
        ("PUT", "/api/v1/custom-fields/mapping") => {
            json!({"integration_id": ids.integration, "mapping": {}})
        }
        ("POST", "/api/v1/custom-fields/sync") => json!({"integration_id": ids.integration}),
        ("POST", "/api/v1/users") => {
            json!({"email": format!("{unique}@example.com"), "password": "long enough password", "role": "viewer"})
        }
        ("PATCH", "/api/v1/users/{id}") => json!({"active": true}),
        ("POST", "/api/v1/tokens") => json!({"name": unique, "role": "viewer"}),
        ("PUT", "/api/v1/embedding") => json!({"provider": "local"}),
        ("PUT", "/api/v1/integrations/{id}/webhooks") => {
            json!({"public_url": "https://pulse.example.com"})
        }
        ("POST", "/api/v1/people/{id}/merge" | "/api/v1/people/{id}/keep-apart") => {
            json!({"person_id": ids.other_person})
        }
        ("POST", "/api/v1/people/{id}/split") => {
            json!({"integration_id": ids.integration, "account_key": "nobody"})
        }
        ("POST", "/api/v1/teams") => json!({"name": unique}),
        ("PATCH", "/api/v1/teams/{id}") => json!({"name": unique}),
        ("POST", "/api/v1/auth/login") => {
            json!({"email": "nobody@example.com", "password": "wrong password"})
        }
        (method, path) => panic!("{method} {path} takes a body this test does not know: add one"),
    })
}

/// True when the request names one of the tenant's own resources (a path id, or an
/// integration id in the body or query).
fn names_a_resource(route: &Route) -> bool {
    route.template.contains('{')
        || route.template.starts_with("/api/v1/custom-fields")
        || matches!(
            route.template.as_str(),
            "/api/v1/workflows" | "/api/v1/reprocess"
        ) && route.method != Method::GET
}

/// Every `id` of a list answer's items.
fn item_ids(body: &Value) -> BTreeSet<i64> {
    body["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item["id"].as_i64())
                .collect()
        })
        .unwrap_or_default()
}

fn forged_tokens() -> Vec<(&'static str, String)> {
    let now = chrono::Utc::now().timestamp();
    let claims = |exp: i64, aud: &str| Claims {
        sub: "1".into(),
        tenant_id: TenantId(1),
        role: UserRole::Admin,
        iss: "pulse-etl".into(),
        aud: aud.into(),
        iat: now,
        exp,
    };
    let key = EncodingKey::from_secret(TEST_JWT_SECRET.as_bytes());
    let sign = |claims: &Claims| {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &key).unwrap()
    };
    let other_secret = SessionKeys::new(
        b"another secret that is long enough for HS256",
        Duration::from_secs(60),
    )
    .issue(1, TenantId(1), UserRole::Admin)
    .unwrap();
    let none = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(now + 600, "pulse-etl-api")).unwrap())
    );
    vec![
        ("wrong secret", other_secret),
        ("alg none", none),
        ("expired", sign(&claims(now - 600, "pulse-etl-api"))),
        ("other audience", sign(&claims(now + 600, "another-api"))),
        ("not a token", "pulse_not-a-real-token".into()),
    ]
}

#[tokio::test]
async fn every_route_answers_strangers_viewers_and_other_tenants_as_it_must() {
    let db = ScratchDb::migrated().await;
    let tenant_a = synced_tenant(&db, &small_simulator(2).await).await;
    let tenant_b = synced_tenant(&db, &small_simulator(1).await).await;
    let ids_a = ids_of(&db, &tenant_a, &tenant_b).await;
    let api = TestApi::start(&db.pool).await;
    let (admin_a, _) = api::user(&db.pool, &tenant_a, UserRole::Admin).await;
    let (viewer_a, _) = api::user(&db.pool, &tenant_a, UserRole::Viewer).await;
    let (admin_b, _) = api::user(&db.pool, &tenant_b, UserRole::Admin).await;
    let admin_a = api.login(&admin_a).await;
    let viewer_a = api.login(&viewer_a).await;
    let admin_b = api.login(&admin_b).await;
    let forged = forged_tokens();

    for route in routes(&api).await {
        let path = concrete(&route, &ids_a);
        let what = format!("{} {path}", route.method);
        if route.public {
            continue;
        }
        let (status, body) = api
            .call(route.method.clone(), &path, None, body_for(&route, &ids_a))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "no token: {what}: {body}");
        assert_eq!(body["error"]["code"], "unauthorized", "{what}");
        for (kind, token) in &forged {
            let (status, _) = api
                .call(
                    route.method.clone(),
                    &path,
                    Some(token),
                    body_for(&route, &ids_a),
                )
                .await;
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{kind} token: {what}");
        }
        if route.method != Method::GET {
            let (status, body) = api
                .call(
                    route.method.clone(),
                    &path,
                    Some(&viewer_a),
                    body_for(&route, &ids_a),
                )
                .await;
            assert_eq!(
                status,
                StatusCode::FORBIDDEN,
                "viewer write: {what}: {body}"
            );
        }
        if names_a_resource(&route) {
            let (status, body) = api
                .call(
                    route.method.clone(),
                    &path,
                    Some(&admin_b),
                    body_for(&route, &ids_a),
                )
                .await;
            assert_eq!(
                status,
                StatusCode::NOT_FOUND,
                "other tenant's admin: {what}: {body}"
            );
            assert_eq!(body["error"]["code"], "not_found", "{what}");
        } else if route.method == Method::GET {
            let (_, theirs) = api.call(Method::GET, &path, Some(&admin_b), None).await;
            let (_, ours) = api.call(Method::GET, &path, Some(&admin_a), None).await;
            let (theirs, ours) = (item_ids(&theirs), item_ids(&ours));
            assert!(
                theirs.is_disjoint(&ours),
                "{what}: tenant B sees tenant A's rows {:?}",
                theirs.intersection(&ours).collect::<Vec<_>>()
            );
        }
    }
    // The tenant's own admin reaches its resources (so the 404s above were isolation).
    let (status, body) = api
        .call(
            Method::GET,
            &format!("/api/v1/work-items/{}", ids_a.key),
            Some(&admin_a),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["key"], ids_a.key.as_str());
    let (status, body) = api
        .call(
            Method::GET,
            &format!("/api/v1/people/{}", ids_a.person),
            Some(&admin_a),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    api.stop().await;
}

#[tokio::test]
async fn cookie_sessions_need_the_csrf_header_to_write_and_logout_clears_them() {
    let db = ScratchDb::migrated().await;
    let tenant = crate::common::source::tenant(&db).await;
    let (email, _) = api::user(&db.pool, &tenant, UserRole::Admin).await;
    let api = TestApi::start(&db.pool).await;
    let client = reqwest::Client::new();
    let login = client
        .post(api.url("/api/v1/auth/login"))
        .json(&json!({"email": email, "password": api::PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attribute in ["pulse_session=", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let session = cookie.split(';').next().unwrap().to_owned();
    let me = client
        .get(api.url("/api/v1/me"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    let token = json!({"name": "from the browser", "role": "viewer"});
    let without = client
        .post(api.url("/api/v1/tokens"))
        .header("cookie", &session)
        .json(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(without.status(), StatusCode::FORBIDDEN);
    let with = client
        .post(api.url("/api/v1/tokens"))
        .header("cookie", &session)
        .header("x-pulse-csrf", "1")
        .json(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(with.status(), StatusCode::CREATED);
    let logout = client
        .post(api.url("/api/v1/auth/logout"))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert!(logout.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    api.stop().await;
}

#[tokio::test]
async fn failed_sign_ins_are_limited_and_disabled_users_are_refused() {
    let db = ScratchDb::migrated().await;
    let tenant = crate::common::source::tenant(&db).await;
    let (admin, _) = api::user(&db.pool, &tenant, UserRole::Admin).await;
    let (viewer, viewer_id) = api::user(&db.pool, &tenant, UserRole::Viewer).await;
    let api = TestApi::start(&db.pool).await;
    let admin_token = api.login(&admin).await;
    let viewer_token = api.login(&viewer).await;

    // A wrong password five times, then even the right one waits.
    let wrong = json!({"email": viewer, "password": "not the password"});
    for _ in 0..5 {
        let (status, _) = api
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(wrong.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let response = reqwest::Client::new()
        .post(api.url("/api/v1/auth/login"))
        .json(&json!({"email": viewer, "password": api::PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(wait > 0, "{wait}");

    // Disabled: the viewer's existing token stops working within the recheck time.
    let (status, body) = api
        .call(
            Method::PATCH,
            &format!("/api/v1/users/{viewer_id}"),
            Some(&admin_token),
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, _) = api
            .call(Method::GET, "/api/v1/me", Some(&viewer_token), None)
            .await;
        if status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "a disabled user still signed in after 30 s"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    api.stop().await;
}

#[tokio::test]
async fn unreadable_and_oversized_bodies_answer_in_the_error_shape() {
    let db = ScratchDb::migrated().await;
    let tenant = crate::common::source::tenant(&db).await;
    let (email, _) = api::user(&db.pool, &tenant, UserRole::Admin).await;
    let api = TestApi::start(&db.pool).await;
    let token = api.login(&email).await;
    let client = reqwest::Client::new();
    let send = |body: String, content_type: &'static str| {
        client
            .post(api.url("/api/v1/tokens"))
            .bearer_auth(&token)
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let cases = [
        (
            send("{not json".into(), "application/json").await.unwrap(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            send("{}".into(), "text/plain").await.unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            send(
                format!(
                    "{{\"name\": \"{}\", \"role\": \"viewer\"}}",
                    "x".repeat(2 << 20)
                ),
                "application/json",
            )
            .await
            .unwrap(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
        (
            send(
                r#"{"name": "n", "role": "boss"}"#.into(),
                "application/json",
            )
            .await
            .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_input",
        ),
        // NUL, which PostgreSQL cannot hold, in a body or a query string.
        (
            send(
                r#"{"name": "a\u0000b", "role": "viewer"}"#.into(),
                "application/json",
            )
            .await
            .unwrap(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            client
                .get(api.url("/api/v1/prs?author=a%00b"))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
    ];
    for (response, status, code) in cases {
        assert_eq!(response.status(), status);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], code, "{body}");
    }
    api.stop().await;
}

#[tokio::test]
async fn tokens_made_with_the_cli_work_until_revoked_and_serve_needs_a_secret() {
    let db = ScratchDb::migrated().await;
    let tenant = crate::common::source::tenant(&db).await;
    let created = cli(
        &db,
        strings(&[
            "--json", "token", "create", "--tenant", &tenant, "--name", "bi tool", "--role",
            "viewer",
        ]),
    )
    .await;
    assert!(
        created.status.success(),
        "{}",
        crate::common::stderr(&created)
    );
    let created: Value = serde_json::from_str(&crate::common::stdout(&created)).unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("pulse_"));
    let stored: Vec<u8> = sqlx::query_scalar("SELECT token_sha256 FROM api_tokens")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_ne!(stored, token.as_bytes(), "only a digest is stored");

    let api = TestApi::start(&db.pool).await;
    let (status, me) = api
        .call(Method::GET, "/api/v1/me", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(
        (me["role"].as_str(), me["user_id"].is_null()),
        (Some("viewer"), true)
    );
    let listed = cli(
        &db,
        strings(&["--json", "token", "list", "--tenant", &tenant]),
    )
    .await;
    assert!(crate::common::stdout(&listed).contains("bi tool"));
    assert!(
        !crate::common::stdout(&listed).contains(&token),
        "a listing never shows the token"
    );
    let id = created["id"].to_string();
    let revoked = cli(&db, strings(&["token", "revoke", "--tenant", &tenant, &id])).await;
    assert!(
        revoked.status.success(),
        "{}",
        crate::common::stderr(&revoked)
    );
    // A new server has no remembered check, so the revocation shows at once.
    api.stop().await;
    let api = TestApi::start(&db.pool).await;
    let (status, _) = api
        .call(Method::GET, "/api/v1/me", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    api.stop().await;

    let refused = cli(&db, strings(&["serve"])).await;
    assert!(!refused.status.success());
    assert!(
        crate::common::stderr(&refused).contains("PULSE_JWT_SECRET"),
        "{}",
        crate::common::stderr(&refused)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_serve_role_answers_health_checks_and_stops_on_sigterm() {
    let db = ScratchDb::migrated().await;
    let address = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .to_string();
    let dir = tempfile::tempdir().unwrap();
    let serve = crate::common::spawn_cli(
        dir.path(),
        &[
            ("DATABASE_URL", db.url.as_str()),
            ("PULSE_SECRET_KEY", crate::common::TEST_SECRET_KEY),
            ("PULSE_JWT_SECRET", TEST_JWT_SECRET),
            ("PULSE_HTTP_ADDR", address.as_str()),
        ],
        &["serve"],
    );
    let base = format!("http://{address}");
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    let alive = loop {
        match reqwest::get(format!("{base}/healthz")).await {
            Ok(response) => break response,
            Err(_) if std::time::Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(error) => panic!("serve never answered: {error}"),
        }
    };
    assert_eq!(alive.status(), StatusCode::OK);
    let ready: Value = reqwest::get(format!("{base}/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ready["database"], true, "{ready}");
    let docs = reqwest::get(format!("{base}{}/", pulse_etl::api::DOCS_PATH))
        .await
        .unwrap();
    assert_eq!(docs.status(), StatusCode::OK);
    let status = tokio::task::spawn_blocking(move || crate::common::queues::terminate(serve))
        .await
        .unwrap();
    assert!(status.success(), "{status:?}");
}
