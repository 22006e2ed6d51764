//! Schemathesis (property-based requests generated from the OpenAPI document) against a
//! server holding a synced tenant, as an admin and as a viewer: no answer may be a 5xx,
//! and every answer must match its documented status, content type and schema. Needs the
//! `st` command: `scripts/test` installs it and runs this test (`cargo test` alone lists
//! it as ignored).

use std::time::Duration;

use crate::api_access::{small_simulator, synced_tenant};
use crate::common::api::TestApi;
use crate::common::ScratchDb;
use pulse_etl::domain::{TenantId, UserRole};
use pulse_etl::service::api_tokens;

/// Seconds of generated requests per role.
const BUDGET_SECS: &str = "40";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs schemathesis (`st`); scripts/test installs it and runs this"]
async fn the_api_keeps_to_its_openapi_document_under_schemathesis() {
    let st = std::env::var("PULSE_SCHEMATHESIS").unwrap_or_else(|_| "st".into());
    let db = ScratchDb::migrated().await;
    let sim = small_simulator(2).await;
    let tenant = synced_tenant(&db, &sim).await;
    let tenant_id = TenantId(tenant.parse().unwrap());
    let api = TestApi::start_with(&db.pool, Duration::from_secs(10)).await;
    // Schemathesis keeps a cache where it runs: not in the checkout.
    let workdir = tempfile::tempdir().unwrap();
    for role in [UserRole::Admin, UserRole::Viewer] {
        let name = format!("schemathesis {role}");
        let token = api_tokens::create(&db.pool, tenant_id, (&name, role), Default::default())
            .await
            .unwrap()
            .token;
        let output = tokio::process::Command::new(&st)
            .current_dir(workdir.path())
            .args([
                "run",
                &api.url(pulse_etl::api::OPENAPI_PATH),
                "--header",
                &format!("Authorization: Bearer {token}"),
                "--checks",
                "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance",
                "--max-time",
                BUDGET_SECS,
                "--request-timeout",
                "20",
                "--seed",
                "20261201",
            ])
            .env("NO_COLOR", "1")
            .output()
            .await
            .unwrap_or_else(|error| panic!("{st} does not run ({error}); `pip install schemathesis` or set PULSE_SCHEMATHESIS"));
        let report = String::from_utf8_lossy(&output.stdout);
        let tail: Vec<&str> = report.lines().rev().take(150).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        assert!(
            output.status.success(),
            "schemathesis as {role} found problems:\n{}\n{}",
            tail.join("\n"),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    api.stop().await;
}
