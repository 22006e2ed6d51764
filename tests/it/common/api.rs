//! The API server in-process on port 0 over a scratch database, the tenants and users the
//! API tests sign in as, and a small JSON client.

use std::sync::Arc;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use sqlx::PgPool;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::TEST_SECRET_KEY;
use pulse_etl::api::auth::jwt::SessionKeys;
use pulse_etl::api::auth::Auth;
use pulse_etl::api::ServerParts;
use pulse_etl::connectors::outbound::Outbound;
use pulse_etl::domain::{TenantId, UserRole};
use pulse_etl::embedding::settings::Embedders;
use pulse_etl::pipeline::embed_stage::Embedding;
use pulse_etl::pipeline::source::Reach;
use pulse_etl::security::{CredentialCipher, SecretKey};
use pulse_etl::service::users::{self, NewUser};

/// The session-signing secret of test servers.
pub const TEST_JWT_SECRET: &str = "test-jwt-secret-that-is-long-enough-0123456789";
/// The password of every test user.
pub const PASSWORD: &str = "correct horse battery";

/// The outbound rule of in-process test servers: public addresses and loopback, where the
/// simulator listens.
pub fn loopback_allowed() -> Outbound {
    let loopback = super::ALLOW_LOOPBACK.1.parse().unwrap();
    Outbound::new(
        vec![loopback],
        pulse_etl::connectors::outbound::DEFAULT_MAX_RESPONSE_BYTES,
    )
}

/// A running API server: in this process, or the real `serve` role in its own.
pub struct TestApi {
    pub base: String,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    process: Option<std::process::Child>,
    _dir: Option<tempfile::TempDir>,
}

impl TestApi {
    /// `pulse-etl serve` over `db` with `env` on top of what it needs (later wins), once it
    /// answers `/healthz`.
    pub async fn serve(db: &super::ScratchDb, env: &[(&str, &str)]) -> Self {
        let address = format!("127.0.0.1:{}", super::qdrant::free_port());
        let dir = tempfile::tempdir().unwrap();
        let mut all_env = vec![
            ("DATABASE_URL", db.url.as_str()),
            ("PULSE_SECRET_KEY", TEST_SECRET_KEY),
            ("PULSE_JWT_SECRET", TEST_JWT_SECRET),
            ("PULSE_HTTP_ADDR", address.as_str()),
        ];
        all_env.extend_from_slice(env);
        let process = super::spawn_cli(dir.path(), &all_env, &["serve"]);
        let base = format!("http://{address}");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while reqwest::get(format!("{base}/healthz")).await.is_err() {
            assert!(std::time::Instant::now() < deadline, "serve never answered");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        TestApi {
            base,
            stop: None,
            task: None,
            process: Some(process),
            _dir: Some(dir),
        }
    }

    pub async fn start(pool: &PgPool) -> Self {
        Self::start_with(pool, Duration::from_secs(30)).await
    }

    pub async fn start_with(pool: &PgPool, request_timeout: Duration) -> Self {
        let vectors =
            std::env::temp_dir().join(format!("pulse-test-{}", uuid::Uuid::new_v4().simple()));
        let embedding = Embedding {
            store: pulse_etl::vectors::open("", &vectors).unwrap(),
            embedders: Embedders::new(vectors.join("no-model"), None, loopback_allowed()),
        };
        Self::start_full(pool, request_timeout, Arc::new(embedding)).await
    }

    /// A server whose search uses `embedding`.
    pub async fn start_full(
        pool: &PgPool,
        request_timeout: Duration,
        embedding: Arc<Embedding>,
    ) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let key = SecretKey::parse(TEST_SECRET_KEY).unwrap();
        let parts = ServerParts {
            pool: pool.clone(),
            reach: Reach {
                cipher: CredentialCipher::new(&key),
                outbound: loopback_allowed(),
            },
            auth: Auth::new(
                SessionKeys::new(TEST_JWT_SECRET.as_bytes(), Duration::from_secs(3600)),
                false,
                Vec::new(),
            ),
            broker: None,
            embedding,
            request_timeout,
            body_limit_bytes: 1 << 20,
            webhooks_live_within: Duration::from_secs(900),
            mcp_allowed_hosts: vec!["127.0.0.1".into(), "localhost".into()],
            metrics: pulse_etl::api::health::MetricsAccess::Open,
        };
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(pulse_etl::api::serve(listener, parts, async move {
            let _ = stopped.await;
        }));
        TestApi {
            base,
            stop: Some(stop),
            task: Some(task),
            process: None,
            _dir: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops the server and waits for it to drain.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(15), task)
                .await
                .expect("the server drains")
                .unwrap()
                .unwrap();
        }
    }

    /// Signs in; returns the session token.
    pub async fn login(&self, email: &str) -> String {
        let (status, body) = self
            .call(
                Method::POST,
                "/api/v1/auth/login",
                None,
                Some(serde_json::json!({"email": email, "password": PASSWORD})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// One request with an optional bearer token and JSON body; the status and JSON body
    /// (null when empty).
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = reqwest::Client::new().request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, body)
    }

    /// GET as `token`, expecting 200; the body.
    pub async fn get(&self, path: &str, token: &str) -> Value {
        let (status, body) = self.call(Method::GET, path, Some(token), None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }
}

impl Drop for TestApi {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some(mut process) = self.process.take() {
            process.kill().ok();
            process.wait().ok();
        }
    }
}

/// Creates a user of `tenant` with [`PASSWORD`]; returns its e-mail and id.
pub async fn user(pool: &PgPool, tenant: &str, role: UserRole) -> (String, i64) {
    let email = format!("{role}-{}@example.com", uuid::Uuid::new_v4().simple());
    let id = users::create(
        pool,
        NewUser {
            tenant_id: TenantId(tenant.parse().unwrap()),
            email: email.clone(),
            password: PASSWORD.into(),
            role,
        },
    )
    .await
    .unwrap();
    (email, id)
}
