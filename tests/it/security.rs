//! Hosting many tenants: what a tenant's admin types must not make pulse-etl reach inside the
//! operator's network (the outbound rule, redirects, pagination links, answer sizes, what
//! error texts echo), stored credentials never follow an integration elsewhere, and the
//! real `serve` holds its sign-in limits, headers and input checks.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::api::{self, TestApi, PASSWORD};
use crate::common::fake_source::{answer, FakeSource};
use crate::common::ScratchDb;
use pulse_etl::domain::UserRole;

/// What an internal service answers: it must never reach a tenant.
const INTERNAL: &str = "INTERNAL-ONLY redis_version:7.0 secret=hunter2";

/// The public-only rule, as a deployment without `sources.allow_networks` has it.
const PUBLIC_ONLY: (&str, &str) = ("PULSE_SOURCES__ALLOW_NETWORKS", "");

/// A tenant with an admin; the tenant id and the admin's session token.
async fn admin(db: &ScratchDb, api: &TestApi) -> (String, String) {
    let tenant = crate::common::source::tenant(db).await;
    let (email, _) = api::user(&db.pool, &tenant, UserRole::Admin).await;
    (tenant, api.login(&email).await)
}

fn jira_body(base_url: &str) -> Value {
    json!({"provider": "jira", "base_url": base_url, "username": "bot@example.com",
           "tokens": ["jira-token"]})
}

/// Creates a Jira integration at `base_url`; its id.
async fn integration(api: &TestApi, token: &str, base_url: &str) -> i64 {
    let (status, body) = api
        .call(
            Method::POST,
            "/api/v1/integrations",
            Some(token),
            Some(jira_body(base_url)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["id"].as_i64().unwrap()
}

/// `POST /tokens` as `credential`: the status and the answer.
async fn make_token(
    api: &TestApi,
    credential: &str,
    name: &str,
    role: &str,
) -> (StatusCode, Value) {
    let body = json!({"name": name, "role": role});
    api.call(Method::POST, "/api/v1/tokens", Some(credential), Some(body))
        .await
}

/// `POST /integrations/{id}/test`: its `ok` and `message`.
async fn connection_test(api: &TestApi, token: &str, id: i64) -> (bool, String) {
    let path = format!("/api/v1/integrations/{id}/test");
    let (status, body) = api.call(Method::POST, &path, Some(token), None).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    (
        body["ok"].as_bool().unwrap(),
        body["message"].as_str().unwrap().to_owned(),
    )
}

fn internal_service() -> Arc<dyn Fn(&str) -> axum::response::Response + Send + Sync> {
    Arc::new(|_| answer(200, "text/plain", INTERNAL))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_addresses_are_refused_in_every_spelling_and_nothing_internal_comes_back() {
    let db = ScratchDb::migrated().await;
    let api = TestApi::serve(&db, &[PUBLIC_ONLY]).await;
    let (_, token) = admin(&db, &api).await;
    let internal = FakeSource::start(internal_service()).await;
    let port = internal.port();
    for base_url in [
        format!("http://127.0.0.1:{port}"),
        format!("http://2130706433:{port}"),
        format!("http://0x7f.0.0.1:{port}"),
        format!("http://[::1]:{port}/metrics"),
        format!("http://[::ffff:127.0.0.1]:{port}"),
        "http://169.254.169.254/latest/meta-data".to_owned(),
        "http://10.0.0.1:6379".to_owned(),
    ] {
        let (status, body) = api
            .call(
                Method::POST,
                "/api/v1/integrations",
                Some(&token),
                Some(jira_body(&base_url)),
            )
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{base_url}: {body}"
        );
        assert_eq!(body["error"]["field"], "base_url", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("outbound rule"), "{message}");
    }
    // A name is judged by what it resolves to, each time it is used.
    let named = integration(&api, &token, &format!("http://localhost:{port}")).await;
    let (ok, message) = connection_test(&api, &token, named).await;
    assert!(!ok);
    assert!(message.contains("outbound rule"), "{message}");
    assert!(message.contains("loopback"), "{message}");
    assert!(!message.contains("INTERNAL-ONLY"), "{message}");
    // The embedding endpoint meets the same rule, and keeps no query string.
    for (base_url, field) in [
        (format!("http://127.0.0.1:{port}"), "base_url"),
        ("https://api.openai.com/?key=1".to_owned(), "base_url"),
        ("https://user:pw@api.openai.com".to_owned(), "base_url"),
    ] {
        let body = json!({"provider": "openai", "model": "m", "base_url": base_url});
        let (status, answer) = api
            .call(Method::PUT, "/api/v1/embedding", Some(&token), Some(body))
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{base_url}: {answer}"
        );
        assert_eq!(answer["error"]["field"], field, "{answer}");
    }
    assert_eq!(internal.hits(), 0, "the internal service was reached");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_network_is_reached_but_only_the_sources_own_reason_is_shown() {
    let db = ScratchDb::migrated().await;
    // The harness allows 127.0.0.1/32, as an operator would an on-premises Jira.
    let api = TestApi::serve(&db, &[]).await;
    let (_, token) = admin(&db, &api).await;

    let html = FakeSource::start(Arc::new(|_| {
        answer(401, "text/html", format!("<html>{INTERNAL}</html>"))
    }))
    .await;
    let id = integration(&api, &token, &html.base).await;
    let (ok, message) = connection_test(&api, &token, id).await;
    assert!(!ok);
    assert!(message.contains("401"), "{message}");
    assert!(!message.contains("INTERNAL-ONLY"), "{message}");
    assert_eq!(html.hits(), 1, "an allowed network is reached");

    let jira = FakeSource::start(Arc::new(|_| {
        answer(
            401,
            "application/json",
            r#"{"errorMessages":["Client must be authenticated to access this resource."]}"#,
        )
    }))
    .await;
    let id = integration(&api, &token, &jira.base).await;
    let (_, message) = connection_test(&api, &token, id).await;
    assert!(
        message.contains("Client must be authenticated"),
        "the source's own reason is kept: {message}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_to_another_host_are_not_followed() {
    let db = ScratchDb::migrated().await;
    let api = TestApi::serve(&db, &[("PULSE_SOURCES__ALLOW_NETWORKS", "127.0.0.0/8")]).await;
    let (_, token) = admin(&db, &api).await;
    let elsewhere = FakeSource::start_on(IpAddr::from([127, 0, 0, 2]), internal_service()).await;
    let target = format!("{}/latest/meta-data", elsewhere.base);
    let redirecting = FakeSource::start(Arc::new(move |_| {
        axum::response::Response::builder()
            .status(302)
            .header("location", target.as_str())
            .body(axum::body::Body::empty())
            .unwrap()
    }))
    .await;
    let id = integration(&api, &token, &redirecting.base).await;
    let (ok, message) = connection_test(&api, &token, id).await;
    assert!(!ok);
    assert!(message.contains("redirect"), "{message}");
    assert!(!message.contains("INTERNAL-ONLY"), "{message}");
    assert_eq!(elsewhere.hits(), 0, "the redirect was followed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_over_the_size_limit_is_cut_off_and_said_so() {
    let db = ScratchDb::migrated().await;
    let limit = "1048576";
    let api = TestApi::serve(&db, &[("PULSE_SOURCES__MAX_RESPONSE_BYTES", limit)]).await;
    let (_, token) = admin(&db, &api).await;
    // 300 MiB, streamed without a length: the reader must stop by itself.
    let huge = FakeSource::start(Arc::new(|_| {
        let chunk = axum::body::Bytes::from(vec![b'x'; 1 << 20]);
        let stream = futures_util::stream::iter(
            (0..300).map(move |_| Ok::<_, std::io::Error>(chunk.clone())),
        );
        answer(
            200,
            "application/json",
            axum::body::Body::from_stream(stream),
        )
    }))
    .await;
    let id = integration(&api, &token, &huge.base).await;
    let (ok, message) = connection_test(&api, &token, id).await;
    assert!(!ok);
    assert!(message.contains("larger than 1048576 bytes"), "{message}");
    assert!(message.contains("sources.max_response_bytes"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_next_page_link_to_another_host_is_refused_and_the_token_stays_home() {
    use pulse_etl::connectors::http::{Auth, ClientPolicy, ConnectorError, HttpClient};
    use pulse_etl::sources::github::client::GithubClient;
    let thief = FakeSource::start_on(IpAddr::from([127, 0, 0, 3]), internal_service()).await;
    let home = FakeSource::start(Arc::new(|_| answer(200, "application/json", "[]"))).await;
    let http = HttpClient::new(
        Auth::Bearer {
            tokens: vec!["ghp_secret".into()],
        },
        ClientPolicy::default(),
        &api::loopback_allowed().also_allowing("127.0.0.0/8".parse().unwrap()),
    )
    .unwrap();
    let client = GithubClient::new(http, &home.base);
    let stolen = client
        .next_page(&format!("{}/repos/o/r/pulls?page=2", thief.base))
        .await
        .unwrap_err();
    assert!(
        matches!(stolen, ConnectorError::ForeignLink { .. }),
        "{stolen}"
    );
    assert!(
        stolen.to_string().contains(&thief.base),
        "names the link: {stolen}"
    );
    assert_eq!(thief.hits(), 0);
    // The same origin is followed, token and all.
    client
        .next_page(&format!("{}/repos/o/r/pulls?page=2", home.base))
        .await
        .unwrap();
    assert_eq!(home.authorizations(), vec!["Bearer ghp_secret".to_owned()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_base_url_needs_the_credentials_again() {
    let db = ScratchDb::migrated().await;
    let api = TestApi::serve(&db, &[]).await;
    let (_, token) = admin(&db, &api).await;
    let home = FakeSource::start(Arc::new(|_| answer(401, "application/json", "{}"))).await;
    let attacker = FakeSource::start(Arc::new(|_| answer(401, "application/json", "{}"))).await;
    let id = integration(&api, &token, &home.base).await;
    let path = format!("/api/v1/integrations/{id}");
    let (status, body) = api
        .call(
            Method::PATCH,
            &path,
            Some(&token),
            Some(json!({"base_url": attacker.base})),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "tokens", "{body}");
    connection_test(&api, &token, id).await;
    assert_eq!(attacker.hits(), 0, "the stored token went to the new host");
    assert_eq!(home.hits(), 1);
    // With the credentials given again the move is made, and they go there.
    let moved = json!({"base_url": attacker.base, "tokens": ["new-token"]});
    let (status, body) = api
        .call(Method::PATCH, &path, Some(&token), Some(moved))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    connection_test(&api, &token, id).await;
    assert_eq!(attacker.hits(), 1);
    let sent = attacker.authorizations();
    assert!(!sent.is_empty() && !sent[0].is_empty());
    // Credentials written into the URL are refused, not stored.
    let (status, body) = api
        .call(
            Method::POST,
            "/api/v1/integrations",
            Some(&token),
            Some(jira_body("http://bot:pw@127.0.0.1:9")),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "base_url", "{body}");
}

/// Where a sign-in comes from: the local address it is sent from, and the client a proxy
/// in front would name in `X-Forwarded-For`.
#[derive(Clone, Copy)]
struct Origin<'a> {
    address: IpAddr,
    forwarded_for: Option<&'a str>,
}

/// Straight from `address`.
fn from(address: [u8; 4]) -> Origin<'static> {
    Origin {
        address: IpAddr::from(address),
        forwarded_for: None,
    }
}

/// Through a proxy on 127.0.0.1 that says the client is `client`.
fn forwarded(client: &str) -> Origin<'_> {
    Origin {
        address: IpAddr::from([127, 0, 0, 1]),
        forwarded_for: Some(client),
    }
}

/// Signs in as `email` from `origin`; the status.
async fn sign_in(api: &TestApi, origin: Origin<'_>, email: &str, password: &str) -> StatusCode {
    let client = reqwest::Client::builder()
        .local_address(origin.address)
        .build()
        .unwrap();
    let mut request = client.post(api.url("/api/v1/auth/login"));
    if let Some(client) = origin.forwarded_for {
        request = request.header("x-forwarded-for", client);
    }
    request
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
        .status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_wrong_passwords_meets_the_limit_across_replicas_and_cannot_lock_others_out() {
    let db = ScratchDb::migrated().await;
    let api = TestApi::serve(&db, &[]).await;
    let replica = TestApi::serve(&db, &[]).await;
    let tenant = crate::common::source::tenant(&db).await;
    let (email, _) = api::user(&db.pool, &tenant, UserRole::Viewer).await;
    let attacker = from([127, 0, 0, 1]);
    // Sent at once, every other one to the second replica.
    let burst = (0..41).map(|n| {
        let password = if n == 40 { PASSWORD } else { "wrong password" };
        let server = if n % 2 == 0 { &api } else { &replica };
        sign_in(server, attacker, &email, password)
    });
    let statuses = futures_util::future::join_all(burst).await;
    let count = |status| statuses.iter().filter(|s| **s == status).count();
    let checked = count(StatusCode::UNAUTHORIZED) + count(StatusCode::OK);
    assert!(
        checked <= 5,
        "{checked} passwords checked in a burst from one address over two replicas: {statuses:?}"
    );
    assert_eq!(count(StatusCode::TOO_MANY_REQUESTS), 41 - checked);
    // The account's owner, from another address, is not locked out by the stranger.
    let owner = from([127, 0, 0, 5]);
    assert_eq!(sign_in(&api, owner, &email, PASSWORD).await, StatusCode::OK);
    // From the attacker's address the limit holds on both replicas. (Had the right password
    // been among the first five of the burst, its success cleared the failures before it:
    // wrong ones fill the window again within five.)
    let mut wrong = 0;
    while sign_in(&replica, attacker, &email, "wrong password").await
        != StatusCode::TOO_MANY_REQUESTS
    {
        wrong += 1;
        assert!(
            wrong <= 5,
            "more than five wrong passwords checked in a window"
        );
    }
    for server in [&api, &replica] {
        let status = sign_in(server, attacker, &email, PASSWORD).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn e_mails_are_unique_per_tenant_and_reveal_nothing_of_other_tenants() {
    let db = ScratchDb::migrated().await;
    let api = TestApi::serve(&db, &[]).await;
    let (tenant_a, _) = admin(&db, &api).await;
    let (tenant_b, admin_b) = admin(&db, &api).await;
    let (email, _) = api::user(&db.pool, &tenant_a, UserRole::Viewer).await;
    let new = json!({"email": email, "password": "another long password", "role": "viewer"});
    let (status, body) = api
        .call(
            Method::POST,
            "/api/v1/users",
            Some(&admin_b),
            Some(new.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = api
        .call(Method::POST, "/api/v1/users", Some(&admin_b), Some(new))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "unique within the tenant");
    for (password, tenant) in [(PASSWORD, &tenant_a), ("another long password", &tenant_b)] {
        let (status, body) = api
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(json!({"email": email, "password": password})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let me = api
            .get("/api/v1/me", body["access_token"].as_str().unwrap())
            .await;
        assert_eq!(me["tenant_id"].to_string(), *tenant);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_admin_and_the_tokens_they_made_stop_at_once() {
    let db = ScratchDb::migrated().await;
    let api = TestApi::serve(&db, &[]).await;
    let tenant = crate::common::source::tenant(&db).await;
    let (first, first_id) = api::user(&db.pool, &tenant, UserRole::Admin).await;
    let (second, _) = api::user(&db.pool, &tenant, UserRole::Admin).await;
    let (first, second) = (api.login(&first).await, api.login(&second).await);
    let (status, made) = make_token(&api, &first, "script", "admin").await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let script = made["token"].as_str().unwrap().to_owned();
    // A token made with that token is the admin's too.
    let (status, made) = make_token(&api, &script, "nested", "viewer").await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let nested = made["token"].as_str().unwrap().to_owned();
    // Another replica has checked the first admin's session just now (and trusts it for 15 s).
    let replica = TestApi::serve(&db, &[]).await;
    for credential in [&first, &script, &nested] {
        api.get("/api/v1/me", credential).await;
        replica.get("/api/v1/me", credential).await;
    }
    let listed = api.get("/api/v1/tokens", &second).await;
    assert_eq!(listed["items"][0]["created_by_user"], first_id);
    let (status, body) = api
        .call(
            Method::PATCH,
            &format!("/api/v1/users/{first_id}"),
            Some(&second),
            Some(json!({"active": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // No wait: the process that disabled them forgets what it had checked.
    for credential in [&first, &script, &nested] {
        let (status, _) = api
            .call(Method::GET, "/api/v1/me", Some(credential), None)
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    // The other replica was told: it forgets the tenant's checked credentials long before
    // its 15 s re-check would have come round.
    let told = std::time::Instant::now();
    for credential in [&first, &script, &nested] {
        loop {
            let (status, _) = replica
                .call(Method::GET, "/api/v1/me", Some(credential), None)
                .await;
            if status == StatusCode::UNAUTHORIZED {
                break;
            }
            assert!(
                told.elapsed() < Duration::from_secs(5),
                "the replica still trusts it"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // Whatever a process still trusts, the database makes no token for a disabled user.
    let late = pulse_etl::store::api_tokens::create(
        &db.pool,
        pulse_etl::domain::TenantId(tenant.parse().unwrap()),
        "late",
        UserRole::Admin,
        &[7; 32],
        pulse_etl::store::api_tokens::TokenCreator {
            user: Some(first_id),
            token: None,
        },
    )
    .await;
    assert!(
        matches!(late, Err(pulse_etl::store::StoreError::Conflict(_))),
        "{late:?}"
    );
    let listed = api.get("/api/v1/tokens", &second).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2, "{listed}");
    let revoked = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|token| !token["revoked_at"].is_null())
        .count();
    assert_eq!(revoked, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_paths_and_times_are_refused_not_failed() {
    let db = ScratchDb::migrated().await;
    let api = TestApi::serve(&db, &[]).await;
    let (_, token) = admin(&db, &api).await;
    let (status, body) = api
        .call(Method::GET, "/api/v1/work-items/%00", Some(&token), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    for path in [
        "/api/v1/work-items?updated_since=-4714-11-23T00:00:00Z",
        "/api/v1/prs?updated_since=-4714-11-23T00:00:00Z",
        "/api/v1/metrics/flow?since=-4714-11-23T00:00:00Z",
        "/api/v1/metrics/prs?until=+20000-01-01T00:00:00Z",
    ] {
        let (status, body) = api.call(Method::GET, path, Some(&token), None).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {body}");
        assert!(body["error"]["field"].is_string(), "{path}: {body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_the_security_headers() {
    let db = ScratchDb::migrated().await;
    let plain = TestApi::serve(&db, &[]).await;
    let https = TestApi::serve(&db, &[("PULSE_HTTP__SECURE_COOKIE", "true")]).await;
    for (api, hsts) in [(&plain, false), (&https, true)] {
        for path in ["/", "/work-items", "/api/v1/me", "/healthz", "/api/docs/"] {
            let response = reqwest::get(api.url(path)).await.unwrap();
            let headers = response.headers();
            let csp = headers["content-security-policy"].to_str().unwrap();
            assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
            assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
            assert!(csp.contains("script-src 'self';"), "{path}: {csp}");
            // Only the docs page (Swagger UI) may apply inline styles; never inline scripts.
            let inline_styles = csp.contains("style-src 'self' 'unsafe-inline'");
            assert_eq!(
                inline_styles,
                path.starts_with("/api/docs"),
                "{path}: {csp}"
            );
            assert_eq!(
                csp.matches("unsafe-inline").count(),
                usize::from(inline_styles)
            );
            assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
            assert_eq!(headers["x-frame-options"], "DENY", "{path}");
            assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
            assert_eq!(
                headers.contains_key("strict-transport-security"),
                hsts,
                "{path}"
            );
        }
    }
    let missing = reqwest::get(plain.url("/assets/missing-3f9a.js"))
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert!(missing.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_closes_when_its_token_is_revoked_and_foreign_pages_cannot_open_one() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    use tokio_tungstenite::tungstenite::Message;
    let db = ScratchDb::migrated().await;
    let api = TestApi::serve(&db, &[]).await;
    let (tenant, admin_token) = admin(&db, &api).await;
    let home = FakeSource::start(Arc::new(|_| answer(401, "application/json", "{}"))).await;
    integration(&api, &admin_token, &home.base).await;
    let jobs = api.get("/api/v1/jobs", &admin_token).await;
    let job = jobs["items"][0]["id"].as_i64().unwrap();
    let (_, made) = make_token(&api, &admin_token, "dashboard", "viewer").await;
    let (token, token_id) = (
        made["token"].as_str().unwrap(),
        made["id"].as_i64().unwrap(),
    );
    let ws = api
        .url(&format!("/ws/job/extraction/{tenant}/{job}"))
        .replace("http://", "ws://");

    // A page of another site cannot use the browser's cookie.
    let mut foreign = ws.as_str().into_client_request().unwrap();
    let cookie = format!("pulse_session={admin_token}");
    foreign
        .headers_mut()
        .insert("cookie", cookie.parse().unwrap());
    foreign
        .headers_mut()
        .insert("origin", "https://evil.example".parse().unwrap());
    match tokio_tungstenite::connect_async(foreign).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::FORBIDDEN)
        }
        other => panic!("a cross-site cookie upgrade was not refused: {other:?}"),
    }

    let mut request = ws.as_str().into_client_request().unwrap();
    let bearer = format!("Bearer {token}");
    request
        .headers_mut()
        .insert("authorization", bearer.parse().unwrap());
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let first = socket.next().await.unwrap().unwrap();
    assert!(first.is_text());
    let (status, _) = api
        .call(
            Method::DELETE,
            &format!("/api/v1/tokens/{token_id}"),
            Some(&admin_token),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let closed = tokio::time::timeout(Duration::from_secs(40), async {
        while let Some(message) = socket.next().await {
            if let Ok(Message::Close(frame)) = message {
                return frame;
            }
        }
        None
    })
    .await
    .expect("the socket of a revoked token stayed open");
    let frame = closed.expect("closed with a reason");
    assert_eq!(u16::from(frame.code), 1008, "{frame:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_not_served_to_tenants_on_the_api_port() {
    let db = ScratchDb::migrated().await;
    let status = |url: String| async move { reqwest::get(url).await.unwrap().status() };
    let unset = TestApi::serve(&db, &[]).await;
    assert_eq!(status(unset.url("/metrics")).await, StatusCode::NOT_FOUND);
    assert_eq!(status(unset.url("/healthz")).await, StatusCode::OK);
    let ops = format!("127.0.0.1:{}", crate::common::qdrant::free_port());
    let split = TestApi::serve(
        &db,
        &[
            ("PULSE_METRICS__ADDR", ops.as_str()),
            ("PULSE_METRICS__TOKEN", "even-with-a-token"),
        ],
    )
    .await;
    assert_eq!(status(split.url("/metrics")).await, StatusCode::NOT_FOUND);
    let scrape = reqwest::get(format!("http://{ops}/metrics")).await.unwrap();
    assert_eq!(scrape.status(), StatusCode::OK);
    assert!(scrape.text().await.unwrap().contains("pulse_build_info"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_sign_in_limits_count_each_client_and_forged_hops_change_nothing() {
    let db = ScratchDb::migrated().await;
    let tenant = crate::common::source::tenant(&db).await;
    let (email, _) = api::user(&db.pool, &tenant, UserRole::Viewer).await;
    let proxied = TestApi::serve(&db, &[("PULSE_HTTP__TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    for _ in 0..5 {
        let status = sign_in(
            &proxied,
            forwarded("198.51.100.1"),
            &email,
            "wrong password",
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let limited = sign_in(&proxied, forwarded("198.51.100.1"), &email, PASSWORD).await;
    assert_eq!(limited, StatusCode::TOO_MANY_REQUESTS);
    // Another user behind the same proxy is not the first one's neighbour.
    let other = sign_in(&proxied, forwarded("198.51.100.2"), &email, PASSWORD).await;
    assert_eq!(other, StatusCode::OK);

    // Not behind a trusted proxy: a client naming itself anew each time is still one client.
    let direct = TestApi::serve(&db, &[]).await;
    for n in 0..5 {
        let forged = format!("203.0.113.{n}");
        let status = sign_in(&direct, forwarded(&forged), &email, "wrong password").await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let status = sign_in(&direct, forwarded("203.0.113.99"), &email, PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
}
