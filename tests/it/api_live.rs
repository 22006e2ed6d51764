//! The API while jobs run: a job triggered through the API streams its status over the
//! WebSocket until FINISHED (the scheduler runs it in another process); another tenant's client
//! is refused and hears nothing; stopping the server closes sockets with "going away".

use std::time::Duration;

use futures_util::StreamExt;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

use crate::api_access::small_simulator;
use crate::common::api::{self, TestApi};
use crate::common::queues::terminate;
use crate::common::source::jira_tenant;
use crate::common::{spawn_cli, ScratchDb, API_ENV, TEST_SECRET_KEY};
use pulse_etl::domain::UserRole;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens the job's WebSocket as `token`; the handshake's refusal status otherwise.
async fn connect(api: &TestApi, path: &str, token: &str) -> Result<Socket, StatusCode> {
    let url = format!("{}{path}", api.base.replacen("http", "ws", 1));
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(StatusCode::from_u16(response.status().as_u16()).unwrap())
        }
        Err(other) => panic!("WebSocket failed: {other}"),
    }
}

/// The next JSON message within `wait`, or None.
async fn next_update(socket: &mut Socket, wait: Duration) -> Option<Value> {
    loop {
        match tokio::time::timeout(wait, socket.next()).await {
            Err(_) => return None,
            Ok(Some(Ok(Message::Text(text)))) => return Some(serde_json::from_str(&text).unwrap()),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(other) => panic!("unexpected WebSocket event {other:?}"),
        }
    }
}

/// The tenant's only job id, through the API.
async fn job_of(api: &TestApi, token: &str) -> i64 {
    let jobs = api.get("/api/v1/jobs", token).await;
    jobs["items"][0]["id"].as_i64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_triggered_through_the_api_streams_every_step_until_finished() {
    let db = ScratchDb::migrated().await;
    let sim = small_simulator(2).await;
    let tenant_a = jira_tenant(&db, &sim, "sim-token").await;
    let tenant_b = jira_tenant(&db, &sim, "sim-token").await;
    let api = TestApi::start(&db.pool).await;
    let (admin_a, _) = api::user(&db.pool, &tenant_a, UserRole::Admin).await;
    let (admin_b, _) = api::user(&db.pool, &tenant_b, UserRole::Admin).await;
    let (admin_a, admin_b) = (api.login(&admin_a).await, api.login(&admin_b).await);
    let (job_a, job_b) = (job_of(&api, &admin_a).await, job_of(&api, &admin_b).await);
    // B's job waits, so anything B hears would be A's.
    let (status, _) = api
        .call(
            Method::POST,
            &format!("/api/v1/jobs/{job_b}/pause"),
            Some(&admin_b),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let path_a = format!("/ws/job/extraction/{tenant_a}/{job_a}");
    assert_eq!(
        connect(&api, &path_a, &admin_b).await.err(),
        Some(StatusCode::NOT_FOUND),
        "another tenant's path is refused"
    );
    assert_eq!(
        connect(&api, &path_a, "forged").await.err(),
        Some(StatusCode::UNAUTHORIZED)
    );
    let mut socket_a = connect(&api, &path_a, &admin_a).await.unwrap();
    let mut socket_b = connect(
        &api,
        &format!("/ws/job/extraction/{tenant_b}/{job_b}"),
        &admin_b,
    )
    .await
    .unwrap();
    let first = next_update(&mut socket_a, Duration::from_secs(5))
        .await
        .expect("the current status first");
    assert_eq!(first["type"], "job_status_update");
    assert_eq!(first["job_id"], job_a);
    assert_eq!(first["tenant_id"], tenant_a.parse::<i64>().unwrap());
    assert_eq!(first["status"]["overall"], "NOT_STARTED");
    assert!(
        next_update(&mut socket_b, Duration::from_secs(5))
            .await
            .is_some(),
        "B's own current status"
    );

    let (status, body) = api
        .call(
            Method::POST,
            &format!("/api/v1/jobs/{job_a}/trigger"),
            Some(&admin_a),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let dir = tempfile::tempdir().unwrap();
    // The scheduler runs the job in another process (`all`: in-process queues).
    let mut env = vec![
        ("DATABASE_URL", db.url.as_str()),
        ("PULSE_SECRET_KEY", TEST_SECRET_KEY),
        ("PULSE_SCHEDULER__POLL_SECS", "1"),
    ];
    env.extend(API_ENV);
    let scheduler = spawn_cli(dir.path(), &env, &["all", "--interval-secs", "3600"]);

    let steps: Vec<String> = first["status"]["steps"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(steps.len(), 4, "{first}");
    let mut seen_running = std::collections::BTreeSet::new();
    let mut updates = 0;
    let last = loop {
        let update = next_update(&mut socket_a, Duration::from_secs(60))
            .await
            .expect("updates until FINISHED");
        updates += 1;
        for step in &steps {
            if update["status"]["steps"][step]["extraction"] == "running" {
                seen_running.insert(step.clone());
            }
        }
        if update["status"]["overall"] == "FINISHED" {
            break update;
        }
        assert_ne!(update["status"]["overall"], "FAILED", "{update}");
    };
    assert!(terminate(scheduler).success());
    assert_eq!(
        seen_running.len(),
        steps.len(),
        "every step's extraction was streamed running: {seen_running:?}"
    );
    for step in &steps {
        assert_eq!(
            last["status"]["steps"][step]["extraction"], "finished",
            "{last}"
        );
    }
    assert!(updates >= 2 * steps.len(), "{updates} updates");
    assert!(
        next_update(&mut socket_b, Duration::from_millis(500))
            .await
            .is_none(),
        "tenant B heard nothing of A's job"
    );

    // Stopping the server closes the sockets cleanly (after any update already sent: the
    // last stage change and the end of the run may both be read as FINISHED).
    api.stop().await;
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match socket_a.next().await {
                Some(Ok(Message::Text(text))) => {
                    let update: Value = serde_json::from_str(&text).unwrap();
                    assert_eq!(update["status"]["overall"], "FINISHED", "{update}");
                }
                other => return other,
            }
        }
    })
    .await
    .unwrap();
    match closed {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::Away),
        other => panic!("expected a close frame, got {other:?}"),
    }
    socket_b.close(None).await.ok();
}

/// CORE-20 of the small simulated site, checked by hand: Backlog → To Do (2025-12-15
/// 00:46:32.701) → In Progress (12-18 18:41:09.045) → Code Review (12-22 19:09:14.289),
/// and still in review. With Code Review an `in progress` step it has two work starts and
/// no completion; mapped to the Done step, entering review completes it: one start, one
/// completion, cycle time 4 d 0:28:05.244 = 347,285.244 s (review entered − work started),
/// lead time 7 d 18:22:41.588 = 670,961.588 s (review entered − committed at To Do).
#[tokio::test]
async fn a_status_mapped_to_another_step_changes_the_metrics_after_reprocess() {
    let db = ScratchDb::migrated().await;
    let tenant = crate::api_access::synced_tenant(&db, &small_simulator(2).await).await;
    let api = TestApi::start(&db.pool).await;
    let (admin, _) = api::user(&db.pool, &tenant, UserRole::Admin).await;
    let admin = api.login(&admin).await;

    let before = api.get("/api/v1/work-items/CORE-20", &admin).await;
    let metrics = &before["metrics"];
    assert_eq!(before["status"], "Code Review");
    assert_eq!(metrics["total_work_starts"], 2);
    assert_eq!(metrics["total_completions"], 0);
    assert_eq!(metrics["rework_indicator"], true);
    assert_eq!(metrics["total_cycle_time_seconds"], 0.0);
    assert_eq!(metrics["total_work_time_seconds"], 347_285.244);
    let flow_before = api
        .get("/api/v1/metrics/flow?group_by=project&project=CORE", &admin)
        .await;

    let integration = before["integration_id"].as_i64().unwrap();
    let mapping = api
        .get(
            &format!("/api/v1/custom-fields/mapping?integration_id={integration}"),
            &admin,
        )
        .await;
    let targets: Vec<&str> = mapping["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["target"].as_str().unwrap())
        .collect();
    assert_eq!(targets.len(), 23, "{mapping}");
    assert_eq!(
        &targets[..4],
        ["team", "story_points", "code_changed", "custom_field_01"]
    );
    assert_eq!(targets[22], "custom_field_20");
    let statuses = api.get("/api/v1/statuses", &admin).await;
    let review = statuses["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["status"] == "Code Review" && s["integration_id"] == integration)
        .unwrap()["status_id"]
        .as_i64()
        .unwrap();
    let steps = api.get("/api/v1/workflows", &admin).await;
    let done = steps["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step_name"] == "Done" && s["integration_id"] == integration)
        .unwrap();
    assert_eq!(done["step_category"], "done");
    let (status, body) = api
        .call(
            Method::PUT,
            &format!("/api/v1/status-mappings/{review}"),
            Some(&admin),
            Some(serde_json::json!({"workflow_id": done["id"]})),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let mapped = api.get("/api/v1/status-mappings", &admin).await;
    let mapping = mapped["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["status_id"] == review)
        .unwrap();
    assert_eq!(
        (
            mapping["step_name"].as_str(),
            mapping["tenant_override"].as_bool()
        ),
        (Some("Done"), Some(true))
    );

    // Nothing changes until the data is reprocessed.
    let unchanged = api.get("/api/v1/work-items/CORE-20", &admin).await;
    assert_eq!(unchanged["metrics"], before["metrics"]);
    let (status, report) = api
        .call(
            Method::POST,
            "/api/v1/reprocess",
            Some(&admin),
            Some(serde_json::json!({"integration_id": integration})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert!(!report["items"].as_array().unwrap().is_empty());

    let after = api.get("/api/v1/work-items/CORE-20", &admin).await;
    let metrics = &after["metrics"];
    assert_eq!(metrics["total_work_starts"], 1);
    assert_eq!(metrics["total_completions"], 1);
    assert_eq!(metrics["rework_indicator"], false);
    assert_eq!(metrics["direct_completion"], false);
    assert_eq!(metrics["work_first_started_at"], "2025-12-18T18:41:09.045Z");
    assert_eq!(
        metrics["work_last_completed_at"],
        "2025-12-22T19:09:14.289Z"
    );
    assert_eq!(metrics["total_cycle_time_seconds"], 347_285.244);
    assert_eq!(metrics["total_lead_time_seconds"], 670_961.588);
    assert_eq!(metrics["workflow_complexity_score"], 2);
    let flow_after = api
        .get("/api/v1/metrics/flow?group_by=project&project=CORE", &admin)
        .await;
    let throughput = |flow: &Value| flow["items"][0]["throughput"].as_i64().unwrap_or(0);
    assert!(
        throughput(&flow_after) > throughput(&flow_before),
        "items that ended in review now count as completed: {flow_before} -> {flow_after}"
    );
    api.stop().await;
}

/// One socket for a dashboard: `/ws/jobs/{tenant}` sends the current status of every job of
/// the tenant, then every job's updates until each run ends; another tenant's socket hears
/// nothing and another tenant's path is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_socket_streams_every_job_of_the_tenant() {
    let db = ScratchDb::migrated().await;
    let sim = small_simulator(2).await;
    let tenant_a = jira_tenant(&db, &sim, "sim-token").await;
    crate::common::source::connect_github(&db, &sim, &tenant_a, &["sim-gh-token"], &[]).await;
    let tenant_b = jira_tenant(&db, &sim, "sim-token").await;
    let api = TestApi::start(&db.pool).await;
    let (viewer_a, _) = api::user(&db.pool, &tenant_a, UserRole::Viewer).await;
    let (admin_b, _) = api::user(&db.pool, &tenant_b, UserRole::Admin).await;
    let (viewer_a, admin_b) = (api.login(&viewer_a).await, api.login(&admin_b).await);
    let job_b = job_of(&api, &admin_b).await;
    let (status, _) = api
        .call(
            Method::POST,
            &format!("/api/v1/jobs/{job_b}/pause"),
            Some(&admin_b),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let path_a = format!("/ws/jobs/{tenant_a}");
    assert_eq!(
        connect(&api, &path_a, &admin_b).await.err(),
        Some(StatusCode::NOT_FOUND),
        "another tenant's path is refused"
    );
    let mut socket_a = connect(&api, &path_a, &viewer_a).await.unwrap();
    let mut socket_b = connect(&api, &format!("/ws/jobs/{tenant_b}"), &admin_b)
        .await
        .unwrap();
    let mut jobs = std::collections::BTreeMap::new();
    for _ in 0..2 {
        let first = next_update(&mut socket_a, Duration::from_secs(5))
            .await
            .expect("each job's current status first");
        assert_eq!(first["tenant_id"], tenant_a.parse::<i64>().unwrap());
        jobs.insert(
            first["job_id"].as_i64().unwrap(),
            first["status"]["overall"].clone(),
        );
    }
    assert_eq!(jobs.len(), 2, "both jobs: {jobs:?}");
    assert!(next_update(&mut socket_b, Duration::from_secs(5))
        .await
        .is_some());

    // Both jobs are due at creation: the scheduler runs them.
    let dir = tempfile::tempdir().unwrap();
    let mut env = vec![
        ("DATABASE_URL", db.url.as_str()),
        ("PULSE_SECRET_KEY", TEST_SECRET_KEY),
        ("PULSE_SCHEDULER__POLL_SECS", "1"),
    ];
    env.extend(API_ENV);
    let scheduler = spawn_cli(dir.path(), &env, &["all", "--interval-secs", "3600"]);
    let mut finished = std::collections::BTreeSet::new();
    while finished.len() < 2 {
        let update = next_update(&mut socket_a, Duration::from_secs(90))
            .await
            .expect("updates until both jobs finish");
        let job = update["job_id"].as_i64().unwrap();
        assert!(jobs.contains_key(&job), "{update}");
        assert_ne!(update["status"]["overall"], "FAILED", "{update}");
        if update["status"]["overall"] == "FINISHED" {
            finished.insert(job);
        }
    }
    assert!(terminate(scheduler).success());
    assert!(
        next_update(&mut socket_b, Duration::from_millis(500))
            .await
            .is_none(),
        "tenant B heard nothing of A's jobs"
    );
    socket_a.close(None).await.ok();
    socket_b.close(None).await.ok();
}
