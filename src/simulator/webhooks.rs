//! Webhook deliveries of the simulated sources: targets set with `POST /_sim/webhooks`
//! (per source its receiver URL and secret), and every issue or pull request that changes
//! (`/_sim/mutate`) or is deleted (`/_sim/delete`) delivered as the real source delivers
//! it — signed with HMAC-SHA256 of the body, with a delivery id — before the control call
//! answers. Knobs for what receivers must survive: every delivery sent twice, newest first,
//! held back a random while, every n-th one dropped or signed with a wrong secret. `GET /_sim/webhooks` counts them.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::jira::issues::Population as JiraPopulation;
use super::jira::render::{issue_id, issue_key};
use crate::security::sign_webhook;

/// Where one source's deliveries go.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub url: String,
    pub secret: String,
}

/// The targets and knobs.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    pub jira: Option<Target>,
    pub github: Option<Target>,
    /// Send every delivery twice, with the same delivery id.
    #[serde(default)]
    pub duplicate: bool,
    /// Send a batch newest first.
    #[serde(default)]
    pub reverse: bool,
    /// Never send every n-th delivery (0: send all).
    #[serde(default)]
    pub drop_every: u64,
    /// Sign every n-th delivery with a wrong secret (0: none).
    #[serde(default)]
    pub bad_signature_every: u64,
    /// Hold each delivery back a random 0 to `delay_ms` milliseconds (which also reorders
    /// them); the control call still answers once all are sent.
    #[serde(default)]
    pub delay_ms: u64,
    /// Answer hook registrations 403, as for a token without the right.
    #[serde(default)]
    pub deny_registration: bool,
}

/// One event to deliver.
pub struct Event {
    pub jira: bool,
    /// The repository (`owner/name`) a GitHub event is about.
    pub repository: Option<String>,
    /// GitHub's event name (Jira names it in the body).
    pub name: &'static str,
    pub body: Value,
}

#[derive(Default)]
struct Counts {
    sent: AtomicU64,
    accepted: AtomicU64,
    refused: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
}

/// Hooks registered through the sources' APIs, by id: the repository (none for Jira's).
type Registered = BTreeMap<u64, (Option<String>, Target)>;

#[derive(Default)]
pub struct Webhooks {
    settings: Mutex<WebhookSettings>,
    registered: Mutex<Registered>,
    counts: Counts,
    /// Deliveries numbered as they are sent (for `drop_every`, `bad_signature_every`).
    sequence: AtomicU64,
    /// The last hook id given out.
    hook_ids: AtomicU64,
    client: reqwest::Client,
}

/// Deliveries in flight at once.
const PARALLEL: usize = 16;

impl Webhooks {
    fn registered(&self) -> std::sync::MutexGuard<'_, Registered> {
        self.registered
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Where `event` goes: the control's target for its source, else a hook registered for
    /// its source (and repository).
    fn target(&self, settings: &WebhookSettings, event: &Event) -> Option<Target> {
        let set = if event.jira {
            &settings.jira
        } else {
            &settings.github
        };
        set.clone().or_else(|| {
            self.registered()
                .values()
                .find(|(repository, _)| match (event.jira, repository) {
                    (true, None) => true,
                    (false, Some(repository)) => Some(repository) == event.repository.as_ref(),
                    _ => false,
                })
                .map(|(_, target)| target.clone())
        })
    }

    fn settings(&self) -> WebhookSettings {
        self.settings
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Delivers `events` to their source's target (none set: nothing is sent); returns how
    /// many deliveries were attempted.
    pub async fn deliver(&self, mut events: Vec<Event>) -> u64 {
        let settings = self.settings();
        if settings.reverse {
            events.reverse();
        }
        let mut sends = Vec::new();
        for event in events {
            let Some(target) = self.target(&settings, &event) else {
                continue;
            };
            let n = self.sequence.fetch_add(1, Ordering::Relaxed) + 1;
            if settings.drop_every > 0 && n % settings.drop_every == 0 {
                self.counts.dropped.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            let bad = settings.bad_signature_every > 0 && n % settings.bad_signature_every == 0;
            let secret = if bad {
                "not-the-secret"
            } else {
                &target.secret
            };
            let body = serde_json::to_vec(&event.body).unwrap_or_default();
            let signature = sign_webhook(secret.as_bytes(), &body);
            let delivery = uuid::Uuid::new_v4().to_string();
            let copies = if settings.duplicate { 2 } else { 1 };
            for _ in 0..copies {
                let mut request = self
                    .client
                    .post(&target.url)
                    .header("content-type", "application/json")
                    .body(body.clone());
                request = match event.jira {
                    true => request
                        .header("x-hub-signature", &signature)
                        .header("x-atlassian-webhook-identifier", &delivery),
                    false => request
                        .header("x-hub-signature-256", &signature)
                        .header("x-github-delivery", &delivery)
                        .header("x-github-event", event.name),
                };
                sends.push(request);
            }
        }
        let attempted = sends.len() as u64;
        let delay_ms = settings.delay_ms;
        // In order within the parallel window, as a source's queue sends them (unless held
        // back).
        let parallel = if delay_ms > 0 {
            sends.len().max(1)
        } else {
            PARALLEL
        };
        futures_util::stream::iter(sends)
            .for_each_concurrent(parallel, |request| async move {
                if delay_ms > 0 {
                    let held = fastrand::u64(0..=delay_ms);
                    tokio::time::sleep(std::time::Duration::from_millis(held)).await;
                }
                self.counts.sent.fetch_add(1, Ordering::Relaxed);
                let counter = match request.send().await {
                    Ok(answer) if answer.status().is_success() => &self.counts.accepted,
                    Ok(_) => &self.counts.refused,
                    Err(_) => &self.counts.failed,
                };
                counter.fetch_add(1, Ordering::Relaxed);
            })
            .await;
        attempted
    }

    fn counts(&self) -> Value {
        let c = &self.counts;
        json!({
            "sent": c.sent.load(Ordering::Relaxed),
            "accepted": c.accepted.load(Ordering::Relaxed),
            "refused": c.refused.load(Ordering::Relaxed),
            "dropped": c.dropped.load(Ordering::Relaxed),
            "failed": c.failed.load(Ordering::Relaxed),
        })
    }
}

/// `GET /_sim/webhooks`: the settings (secrets included: this is a test tool) and counts.
pub async fn control_get(State(webhooks): State<Arc<Webhooks>>) -> Response {
    Json(json!({"settings": webhooks.settings(), "counts": webhooks.counts()})).into_response()
}

/// `POST /_sim/webhooks`: replaces the settings.
pub async fn control_set(
    State(webhooks): State<Arc<Webhooks>>,
    Json(settings): Json<WebhookSettings>,
) -> Response {
    *webhooks
        .settings
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner()) = settings;
    Json(json!({"settings": webhooks.settings()})).into_response()
}

/// Jira's delivery for an issue: `jira:issue_created|updated|deleted`.
pub fn jira_issue_event(
    event: &str,
    base_url: &str,
    (population, index): (&JiraPopulation, u32),
    now_ms: i64,
) -> Event {
    let (id, key) = (issue_id(index), issue_key(population, index));
    Event {
        jira: true,
        repository: None,
        name: "jira",
        body: json!({
            "timestamp": now_ms,
            "webhookEvent": event,
            "issue_event_type_name": event.trim_start_matches("jira:"),
            "issue": {"id": id, "self": format!("{base_url}/rest/api/3/issue/{id}"), "key": key},
        }),
    }
}

/// GitHub's `pull_request` delivery (`opened` or `synchronize`).
pub fn github_pull_event(
    action: &str,
    (repository, id, number): (String, u64, u64),
    updated_ms: i64,
) -> Event {
    let updated = chrono::DateTime::from_timestamp_millis(updated_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    Event {
        jira: false,
        repository: Some(repository.clone()),
        name: "pull_request",
        body: json!({
            "action": action,
            "number": number,
            "pull_request": {"id": id, "number": number, "updated_at": updated},
            "repository": {"full_name": repository},
        }),
    }
}

/// Registers a hook as the source's API does (403 with `deny_registration`); `repository`
/// for GitHub's per-repository hooks.
fn register(
    webhooks: &Webhooks,
    repository: Option<String>,
    target: Option<Target>,
) -> Result<u64, (StatusCode, Json<Value>)> {
    if webhooks.settings().deny_registration {
        let refusal = json!({"message": "Resource not accessible by integration"});
        return Err((StatusCode::FORBIDDEN, Json(refusal)));
    }
    let Some(target) = target else {
        let refusal = json!({"message": "url and secret are required"});
        return Err((StatusCode::UNPROCESSABLE_ENTITY, Json(refusal)));
    };
    let id = webhooks.hook_ids.fetch_add(1, Ordering::Relaxed) + 1;
    webhooks.registered().insert(id, (repository, target));
    Ok(id)
}

fn unregister(webhooks: &Webhooks, id: u64) -> Response {
    match webhooks.registered().remove(&id) {
        Some(_) => StatusCode::NO_CONTENT.into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({"message": "Not Found"}))).into_response(),
    }
}

/// GitHub's `POST /repos/{owner}/{repo}/hooks` and `DELETE …/hooks/{id}`.
pub fn github_router(webhooks: Arc<Webhooks>) -> Router {
    async fn create(
        State(webhooks): State<Arc<Webhooks>>,
        Path((owner, repo)): Path<(String, String)>,
        Json(body): Json<Value>,
    ) -> Response {
        let config = &body["config"];
        let target = match (config["url"].as_str(), config["secret"].as_str()) {
            (Some(url), Some(secret)) => Some(Target {
                url: url.to_owned(),
                secret: secret.to_owned(),
            }),
            _ => None,
        };
        match register(&webhooks, Some(format!("{owner}/{repo}")), target) {
            Ok(id) => {
                let hook = json!({"id": id, "name": "web", "active": true, "events": body["events"],
                    "config": {"url": config["url"], "content_type": "json", "insecure_ssl": "0"}});
                (StatusCode::CREATED, Json(hook)).into_response()
            }
            Err(refusal) => refusal.into_response(),
        }
    }
    async fn remove(
        State(webhooks): State<Arc<Webhooks>>,
        Path((_, _, id)): Path<(String, String, u64)>,
    ) -> Response {
        unregister(&webhooks, id)
    }
    Router::new()
        .route("/repos/{owner}/{repo}/hooks", post(create))
        .route("/repos/{owner}/{repo}/hooks/{id}", delete(remove))
        .with_state(webhooks)
}

/// Jira's `POST /rest/webhooks/1.0/webhook` and `DELETE …/webhook/{id}`.
pub fn jira_router(webhooks: Arc<Webhooks>, base_url: String) -> Router {
    let create = move |State(webhooks): State<Arc<Webhooks>>, Json(body): Json<Value>| async move {
        let target = match (body["url"].as_str(), body["secret"].as_str()) {
            (Some(url), Some(secret)) => Some(Target {
                url: url.to_owned(),
                secret: secret.to_owned(),
            }),
            _ => None,
        };
        match register(&webhooks, None, target) {
            Ok(id) => {
                let hook = json!({"self": format!("{base_url}/rest/webhooks/1.0/webhook/{id}"),
                    "name": body["name"], "url": body["url"], "events": body["events"],
                    "filters": body["filters"], "enabled": true});
                (StatusCode::CREATED, Json(hook)).into_response()
            }
            Err(refusal) => refusal.into_response(),
        }
    };
    async fn remove(State(webhooks): State<Arc<Webhooks>>, Path(id): Path<u64>) -> Response {
        unregister(&webhooks, id)
    }
    Router::new()
        .route("/rest/webhooks/1.0/webhook", post(create))
        .route("/rest/webhooks/1.0/webhook/{id}", delete(remove))
        .with_state(webhooks)
}
