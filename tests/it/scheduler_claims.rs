//! Due-job claims: concurrent schedulers never take the same job; stuck runs are recovered.

use std::collections::HashSet;
use std::time::Duration;

use crate::common;
use crate::common::ScratchDb;
use pulse_etl::domain::{IntegrationId, JobId, Provider, TenantId, Tier};
use pulse_etl::security::{CredentialCipher, SecretKey};
use pulse_etl::store::integrations::{self, Credentials, IntegrationSettings, NewIntegration};
use pulse_etl::store::{jobs, tenants};

async fn jira_jobs(db: &ScratchDb, count: usize) {
    let cipher = CredentialCipher::new(&SecretKey::parse(common::TEST_SECRET_KEY).unwrap());
    for n in 0..count {
        let tenant = tenants::create(&db.pool, &format!("T{n}"), Tier::Free)
            .await
            .unwrap();
        integrations::create(
            &db.pool,
            &cipher,
            NewIntegration {
                tenant_id: tenant,
                provider: Provider::Jira,
                steps: pulse_etl::sources::CATALOG.steps(Provider::Jira),
                base_url: "http://127.0.0.1:9",
                username: Some("a@b.c"),
                credentials: &Credentials {
                    tokens: vec!["t".into()],
                },
                settings: &IntegrationSettings::default(),
            },
        )
        .await
        .unwrap();
    }
}

const STUCK: Duration = Duration::from_secs(600);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_claims_never_share_a_job() {
    let db = ScratchDb::migrated().await;
    jira_jobs(&db, 60).await;
    let claimers: Vec<_> = (0..6)
        .map(|_| {
            let pool = db.pool.clone();
            tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let claimed = jobs::claim_due(&pool, 3, STUCK).await.unwrap();
                    if claimed.is_empty() {
                        return mine;
                    }
                    mine.extend(claimed.into_iter().map(|(_, job)| job.id));
                }
            })
        })
        .collect();
    let mut all = Vec::new();
    for claimer in claimers {
        all.extend(claimer.await.unwrap());
    }
    let unique: HashSet<JobId> = all.iter().copied().collect();
    assert_eq!(all.len(), 60, "every due job claimed once");
    assert_eq!(unique.len(), 60, "no job claimed twice");
    assert!(
        jobs::claim_due(&db.pool, 10, STUCK)
            .await
            .unwrap()
            .is_empty(),
        "running jobs are not due"
    );
}

#[tokio::test]
async fn inactive_scheduled_and_stuck_jobs() {
    let db = ScratchDb::migrated().await;
    jira_jobs(&db, 3).await;
    let ids: Vec<JobId> = sqlx::query_scalar("SELECT id FROM etl_jobs ORDER BY id")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    let (tenant, integration): (TenantId, IntegrationId) =
        sqlx::query_as("SELECT tenant_id, integration_id FROM etl_jobs WHERE id = $1")
            .bind(ids[0])
            .fetch_one(&db.pool)
            .await
            .unwrap();
    integrations::disable(&db.pool, tenant, integration)
        .await
        .unwrap();
    let reason: Option<String> =
        sqlx::query_scalar("SELECT skip_reason FROM etl_jobs WHERE id = $1")
            .bind(ids[0])
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(reason.as_deref(), Some("integration disabled"));
    let tenant: TenantId = sqlx::query_scalar("SELECT tenant_id FROM etl_jobs WHERE id = $1")
        .bind(ids[1])
        .fetch_one(&db.pool)
        .await
        .unwrap();
    jobs::schedule_next(&db.pool, tenant, ids[1], Duration::from_secs(3_600))
        .await
        .unwrap();
    let claimed: Vec<JobId> = jobs::claim_due(&db.pool, 10, STUCK)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, j)| j.id)
        .collect();
    assert_eq!(
        claimed,
        vec![ids[2]],
        "inactive integration and not-yet-due job are skipped"
    );

    // A run whose process died stops making progress: after `stuck_after` it is claimed again.
    assert!(jobs::claim_due(&db.pool, 10, STUCK)
        .await
        .unwrap()
        .is_empty());
    sqlx::query(
        "UPDATE etl_jobs SET last_progress_at = now() - interval '11 minutes' WHERE id = $1",
    )
    .bind(ids[2])
    .execute(&db.pool)
    .await
    .unwrap();
    let recovered: Vec<JobId> = jobs::claim_due(&db.pool, 10, STUCK)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, j)| j.id)
        .collect();
    assert_eq!(recovered, vec![ids[2]]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn operators_list_trigger_pause_resume_and_reset_jobs() {
    use common::source::{cli, strings};
    use serde_json::Value;

    let db = ScratchDb::migrated().await;
    jira_jobs(&db, 2).await;
    let run = |args: &[&str]| cli(&db, strings(args));
    let job_of = |tenant: &str| {
        let db = &db;
        let tenant = tenant.to_owned();
        async move {
            let listed = cli(
                db,
                strings(&["--json", "jobs", "list", "--tenant", &tenant]),
            )
            .await;
            assert!(listed.status.success(), "{}", common::stderr(&listed));
            let jobs: Value = serde_json::from_str(&common::stdout(&listed)).unwrap();
            assert_eq!(jobs.as_array().unwrap().len(), 1);
            jobs[0].clone()
        }
    };
    let job = job_of("1").await;
    assert_eq!(job["state"], "NOT_STARTED");
    assert_eq!(job["active"], true);
    let id = job["id"].to_string();

    // Tenant isolation: tenant 2 cannot touch tenant 1's job.
    common::assert_clear_failure(
        &run(&["jobs", "pause", "--tenant", "2", &id]).await,
        &format!("job {id} does not exist"),
    );
    assert!(run(&["jobs", "pause", "--tenant", "1", &id])
        .await
        .status
        .success());
    let paused = job_of("1").await;
    assert_eq!(paused["active"], false);
    assert_eq!(paused["skip_reason"], "paused by an operator");
    common::assert_clear_failure(
        &run(&["jobs", "trigger", "--tenant", "1", &id]).await,
        "is paused",
    );
    // A paused job is not claimed.
    assert!(jobs::claim_due(&db.pool, 10, STUCK)
        .await
        .unwrap()
        .iter()
        .all(|(tenant, _)| *tenant != TenantId(1)));

    assert!(run(&["jobs", "resume", "--tenant", "1", &id])
        .await
        .status
        .success());
    let resumed = job_of("1").await;
    assert_eq!(resumed["active"], true);
    assert_eq!(resumed["skip_reason"], Value::Null);
    assert!(run(&["jobs", "trigger", "--tenant", "1", &id])
        .await
        .status
        .success());

    sqlx::query(
        "UPDATE etl_jobs SET state = 'RUNNING', last_sync_date = now() WHERE tenant_id = 1",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    common::assert_clear_failure(
        &run(&["jobs", "reset", "--tenant", "1", &id]).await,
        "is running",
    );
    sqlx::query("UPDATE etl_jobs SET state = 'FINISHED' WHERE tenant_id = 1")
        .execute(&db.pool)
        .await
        .unwrap();
    assert!(run(&["jobs", "reset", "--tenant", "1", &id])
        .await
        .status
        .success());
    let reset = job_of("1").await;
    assert_eq!(reset["state"], "NOT_STARTED");
    assert_eq!(reset["last_sync_date"], Value::Null);
    assert_eq!(reset["full_sync_requested"], true);
    let claimed = jobs::claim_due(&db.pool, 10, STUCK).await.unwrap();
    let (_, claimed_job) = claimed
        .iter()
        .find(|(tenant, _)| *tenant == TenantId(1))
        .unwrap();
    assert!(
        claimed_job.full_sync_requested,
        "the next run is a full one"
    );

    common::assert_clear_failure(
        &run(&["jobs", "trigger", "--tenant", "1", "999"]).await,
        "job 999 does not exist",
    );
    common::assert_clear_failure(
        &run(&["jobs", "list", "--tenant", "77"]).await,
        "tenant 77 does not exist",
    );
}
