//! Due-job claims: concurrent schedulers never take the same job; stuck runs are recovered.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::TestDb;
use pulse_etl::domain::{Provider, Tier};
use pulse_etl::security::{CredentialCipher, SecretKey};
use pulse_etl::store::integrations::{self, Credentials, IntegrationSettings, NewIntegration};
use pulse_etl::store::{jobs, tenants};

async fn jira_jobs(db: &TestDb, count: usize) {
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
    let db = TestDb::migrated().await;
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
    let unique: HashSet<i64> = all.iter().copied().collect();
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
    let db = TestDb::migrated().await;
    jira_jobs(&db, 3).await;
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM etl_jobs ORDER BY id")
        .fetch_all(&db.pool)
        .await
        .unwrap();
    sqlx::query("UPDATE integrations SET active = FALSE WHERE id = (SELECT integration_id FROM etl_jobs WHERE id = $1)")
        .bind(ids[0])
        .execute(&db.pool)
        .await
        .unwrap();
    let tenant: i64 = sqlx::query_scalar("SELECT tenant_id FROM etl_jobs WHERE id = $1")
        .bind(ids[1])
        .fetch_one(&db.pool)
        .await
        .unwrap();
    jobs::schedule_next(&db.pool, tenant, ids[1], Duration::from_secs(3_600))
        .await
        .unwrap();
    let claimed: Vec<i64> = jobs::claim_due(&db.pool, 10, STUCK)
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
    let recovered: Vec<i64> = jobs::claim_due(&db.pool, 10, STUCK)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, j)| j.id)
        .collect();
    assert_eq!(recovered, vec![ids[2]]);
}
