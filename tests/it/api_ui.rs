//! The web UI as `serve` hands it out: `index.html` never cached, hashed assets cached for a
//! year, the app's own paths answered with `index.html`, the API's unknown paths still
//! JSON. Needs the built bundle (`scripts/build-ui`; `scripts/test` builds it and runs this).

use reqwest::StatusCode;

use crate::common::api::TestApi;
use crate::common::queues::terminate;
use crate::common::{spawn_cli, ScratchDb, API_ENV, TEST_SECRET_KEY};
use pulse_etl::domain::UserRole;

#[tokio::test]
#[ignore = "needs the UI bundle: scripts/build-ui (scripts/test builds it and runs this)"]
async fn the_single_page_app_is_served_with_cache_rules_and_fallback() {
    let db = ScratchDb::migrated().await;
    let api = TestApi::start(&db.pool).await;
    let index = reqwest::get(api.url("/")).await.unwrap();
    assert_eq!(index.status(), StatusCode::OK);
    assert_eq!(index.headers()["cache-control"], "no-cache");
    assert!(index.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = index.text().await.unwrap();
    assert!(html.contains("<div id=\"root\">"), "{html}");
    assert!(
        !html.contains("https://"),
        "nothing is loaded from elsewhere: {html}"
    );

    let script = html
        .split('"')
        .find(|part| part.starts_with("/assets/") && part.ends_with(".js"))
        .expect("the bundle's script");
    let asset = reqwest::get(api.url(script)).await.unwrap();
    assert_eq!(asset.status(), StatusCode::OK);
    assert_eq!(
        asset.headers()["cache-control"],
        "public, max-age=31536000, immutable"
    );
    assert!(asset.headers()["content-type"]
        .to_str()
        .unwrap()
        .contains("javascript"));

    // A bookmarked page of the app is the app.
    let deep = reqwest::get(api.url("/work-items/CORE-12?status=Done"))
        .await
        .unwrap();
    assert_eq!(deep.status(), StatusCode::OK);
    assert_eq!(deep.text().await.unwrap(), html);
    // The API's unknown paths stay JSON errors.
    let missing = reqwest::get(api.url("/api/v1/nothing-here")).await.unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let body: serde_json::Value = missing.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    api.stop().await;
}

/// Where the browser test writes its screenshots (every page at 1280×800).
fn screenshots() -> String {
    let target = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| format!("{}/target", env!("CARGO_MANIFEST_DIR")));
    format!("{target}/ui-screenshots")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs the UI bundle, Node.js and Chromium: scripts/test provides them and runs this"]
async fn the_app_works_in_a_real_browser() {
    let Some(model) = crate::common::qdrant::model_dir() else {
        return;
    };
    let db = ScratchDb::migrated().await;
    let sim = crate::api_access::small_simulator(2).await;
    let tenant = crate::api_access::synced_tenant(&db, &sim).await;
    // Indexed for search, which the server answers from the same store.
    let vectors = tempfile::tempdir().unwrap();
    let env = crate::embedding::env(&model, vectors.path());
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    for args in [
        vec![
            "embedding",
            "set",
            "--tenant",
            &tenant,
            "--provider",
            "local",
        ],
        vec!["vectors", "rebuild", "--tenant", &tenant],
    ] {
        let ran =
            crate::common::source::cli_with(&db, crate::common::source::strings(&args), &env).await;
        assert!(ran.status.success(), "{}", crate::common::stderr(&ran));
    }
    let (admin, _) = crate::common::api::user(&db.pool, &tenant, UserRole::Admin).await;
    let (viewer, _) = crate::common::api::user(&db.pool, &tenant, UserRole::Viewer).await;
    // A source's answer is hostile input: a "pull request URL" that is script.
    sqlx::query(
        "INSERT INTO work_item_pr_links (tenant_id, integration_id, external_id, work_item_id,
                                         repository_full_name, pr_number, pr_url)
         SELECT tenant_id, integration_id, 'hostile', id, 'evil/repo', 1, 'javascript:alert(1)'
         FROM work_items WHERE key = 'CORE-20'",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let embedding = pulse_etl::pipeline::embed_stage::Embedding {
        store: pulse_etl::vectors::open("", vectors.path()).unwrap(),
        embedders: pulse_etl::embedding::settings::Embedders::new(
            model.clone(),
            None,
            crate::common::api::loopback_allowed(),
        ),
    };
    let api = TestApi::start_full(
        &db.pool,
        std::time::Duration::from_secs(30),
        std::sync::Arc::new(embedding),
    )
    .await;
    // A scheduler in another process runs what the browser asks for (embedding into a
    // store of its own: an embedded store belongs to one process).
    let dir = tempfile::tempdir().unwrap();
    let model_dir = model.display().to_string();
    let mut env = vec![
        ("PULSE_EMBEDDING__MODEL_DIR", model_dir.as_str()),
        ("DATABASE_URL", db.url.as_str()),
        ("PULSE_SECRET_KEY", TEST_SECRET_KEY),
        ("PULSE_SCHEDULER__POLL_SECS", "1"),
    ];
    env.extend(API_ENV);
    let scheduler = spawn_cli(dir.path(), &env, &["all", "--interval-secs", "3600"]);
    let shots = screenshots();
    let output = tokio::process::Command::new("node")
        .arg("e2e/app.mjs")
        .current_dir(format!("{}/assets/ui", env!("CARGO_MANIFEST_DIR")))
        .env("PULSE_UI_BASE", &api.base)
        .env("PULSE_UI_ADMIN", &admin)
        .env("PULSE_UI_VIEWER", &viewer)
        .env("PULSE_UI_PASSWORD", crate::common::api::PASSWORD)
        .env("PULSE_UI_SOURCE", sim.base_url())
        .env("PULSE_UI_SCREENSHOTS", &shots)
        .output()
        .await
        .expect("node runs (install Node.js 20+)");
    assert!(tokio::task::spawn_blocking(move || terminate(scheduler))
        .await
        .unwrap()
        .success());
    assert!(
        output.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(std::path::Path::new(&format!("{shots}/dashboard.png")).is_file());
    api.stop().await;
}
