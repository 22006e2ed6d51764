//! `pulse-etl all --demo`: the simulator, a demo tenant and the scheduler in one process.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use crate::common;
use crate::common::ScratchDb;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Starts `all --demo` serving its API on `api_addr`.
fn start_demo(db: &ScratchDb, dir: &std::path::Path, api_addr: &str) -> std::process::Child {
    common::spawn_cli(
        dir,
        &[
            ("DATABASE_URL", &db.url),
            ("PULSE_DATA_DIR", "data"),
            ("PULSE_SCHEDULER__POLL_SECS", "1"),
            ("PULSE_HTTP_ADDR", api_addr),
        ],
        &["all", "--demo", "--interval-secs", "1"],
    )
}

/// A local address no one listens on now.
fn free_address() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// Sends SIGTERM and waits up to 30 s for a clean exit.
async fn stop(mut child: std::process::Child) {
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).unwrap();
    let status = tokio::task::spawn_blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() > deadline {
                child.kill().ok();
                child.wait().ok();
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await
    .unwrap()
    .expect("all --demo stops within 30 s of SIGTERM");
    assert!(status.success(), "exit status {status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_syncs_the_simulator_and_stops_cleanly_on_sigterm() {
    let db = ScratchDb::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let api_addr = free_address();
    let child = start_demo(&db, dir.path(), &api_addr);

    // The first scheduled runs load the whole simulated sites (Jira, GitHub, Azure DevOps); the scheduler then runs the
    // job again (each run stores the status list once).
    let started = Instant::now();
    let mut progress = (String::new(), 0, 0, 0);
    while started.elapsed() < Duration::from_secs(90) {
        progress = sqlx::query_as(
            "SELECT coalesce((SELECT string_agg(j.job_type || '=' || j.state, ',' ORDER BY j.job_type)
                              FROM etl_jobs j JOIN tenants t ON t.id = j.tenant_id WHERE t.name = 'Demo'), ''),
                    (SELECT count(*) FROM work_items),
                    (SELECT count(*) FROM prs),
                    (SELECT count(*) FROM raw_extraction_data WHERE type = 'jira_statuses')",
        )
        .fetch_one(&db.pool)
        .await
        .unwrap();
        let done = progress.0 == "azure_devops=FINISHED,github=FINISHED,jira=FINISHED";
        if done && progress.1 >= 2_300 && progress.2 >= 500 && progress.3 >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (states, items, prs, runs): (String, i64, i64, i64) = progress;
    assert_eq!(
        states,
        "azure_devops=FINISHED,github=FINISHED,jira=FINISHED"
    );
    assert!(
        items >= 2_300,
        "{items} work items (Jira issues and Azure work items)"
    );
    assert!(prs >= 500, "{prs} pull requests");
    assert!(runs >= 2, "the scheduler ran the job again ({runs} runs)");
    let key = dir.path().join("data/demo-secret.key");
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // The demo serves the API: its admin signs in and reads the synced work items.
    let base = format!("http://{api_addr}/api/v1");
    let client = reqwest::Client::new();
    let login: serde_json::Value = client
        .post(format!("{base}/auth/login"))
        .json(&serde_json::json!({"email": "admin@demo.pulse", "password": "pulse-demo"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["access_token"]
        .as_str()
        .expect("the demo admin signs in");
    let page: serde_json::Value = client
        .get(format!("{base}/work-items?limit=5"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"].as_array().unwrap().len(), 5, "{page}");
    assert!(page["next_cursor"].is_string());
    assert!(dir.path().join("data/demo-jwt.secret").is_file());

    stop(child).await;

    // Started again from another directory (another demo key, another simulator port):
    // the demo integration is re-pointed and re-sealed, and syncs again at once.
    let before: i64 =
        sqlx::query_scalar("SELECT count(*) FROM raw_extraction_data WHERE type = 'jira_statuses'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    let other = tempfile::tempdir().unwrap();
    let child = start_demo(&db, other.path(), "127.0.0.1:0");
    let started = Instant::now();
    let mut state = (String::new(), before);
    while started.elapsed() < Duration::from_secs(60) {
        state = sqlx::query_as("SELECT state, (SELECT count(*) FROM raw_extraction_data WHERE type = 'jira_statuses') FROM etl_jobs WHERE job_type = 'jira'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
        if state.0 == "FINISHED" && state.1 > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        state.0, "FINISHED",
        "the restarted demo syncs with its own key"
    );
    assert!(state.1 > before);
    stop(child).await;
    let linked: i64 = sqlx::query_scalar("SELECT count(*) FROM work_item_prs")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert!(
        linked > 0,
        "Jira development links meet loaded pull requests"
    );
}
