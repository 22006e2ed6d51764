//! The admin commands, run as the real binary against a fresh database.

use crate::common;
use crate::common::{assert_clear_failure, stdout, ScratchDb};
use pulse_etl::domain::{IntegrationId, TenantId};
use pulse_etl::security::{CredentialCipher, SecretKey};
use pulse_etl::store::integrations;

fn created_id(output: &std::process::Output) -> i64 {
    assert!(
        output.status.success(),
        "failed: {}",
        common::stderr(output)
    );
    stdout(output)
        .trim()
        .parse()
        .expect("create prints the new id")
}

#[tokio::test]
async fn tenant_integration_and_user_round_trip() {
    let db = ScratchDb::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();

    let tenant = created_id(&db.cli(
        dir,
        &["tenant", "create", "--name", "Acme", "--tier", "premium"],
        None,
    ));
    let tenants: serde_json::Value =
        serde_json::from_str(&stdout(&db.cli(dir, &["--json", "tenant", "list"], None))).unwrap();
    assert_eq!(tenants[0]["id"], tenant);
    assert_eq!(tenants[0]["name"], "Acme");
    assert_eq!(tenants[0]["tier"], "premium");

    let tenant_arg = tenant.to_string();
    let token = "plain-token-7f3a9c";
    let jira = created_id(&db.cli(
        dir,
        &[
            "integration",
            "create",
            "--tenant",
            &tenant_arg,
            "--provider",
            "jira",
            "--base-url",
            "https://acme.atlassian.net/",
            "--username",
            "bot@acme.io",
            "--token",
            token,
            "--projects",
            "core,WEB",
        ],
        None,
    ));
    let github = created_id(&db.cli(
        dir,
        &[
            "integration",
            "create",
            "--tenant",
            &tenant_arg,
            "--provider",
            "github",
            "--base-url",
            "https://api.github.com",
            "--token",
            "gh-token-1",
            "--token",
            "gh-token-2",
            "--repos",
            "acme/api,acme/web",
        ],
        None,
    ));

    let listed = db.cli(
        dir,
        &["--json", "integration", "list", "--tenant", &tenant_arg],
        None,
    );
    let text = stdout(&listed);
    assert!(
        !text.contains(token) && !text.contains("gh-token"),
        "list shows a token: {text}"
    );
    assert!(
        !text.contains("credentials"),
        "list shows a credential field: {text}"
    );
    let list: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(list[0]["id"], jira);
    assert_eq!(list[0]["provider"], "jira");
    assert_eq!(list[0]["base_url"], "https://acme.atlassian.net");
    assert_eq!(list[0]["username"], "bot@acme.io");
    assert_eq!(
        list[0]["settings"]["projects"],
        serde_json::json!(["CORE", "WEB"])
    );
    assert_eq!(list[1]["id"], github);
    assert_eq!(
        list[1]["settings"]["repos"],
        serde_json::json!(["acme/api", "acme/web"])
    );
    let table = stdout(&db.cli(dir, &["integration", "list", "--tenant", &tenant_arg], None));
    assert!(
        table.contains("CORE,WEB") && !table.contains(token),
        "{table}"
    );

    // The column holds ciphertext; the store opens it with the key and the right tenant only.
    let sealed: Vec<u8> =
        sqlx::query_scalar("SELECT credentials_encrypted FROM integrations WHERE id = $1")
            .bind(jira)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert!(!sealed.windows(token.len()).any(|w| w == token.as_bytes()));
    let cipher = CredentialCipher::new(&SecretKey::parse(common::TEST_SECRET_KEY).unwrap());
    let credentials =
        integrations::credentials(&db.pool, &cipher, TenantId(tenant), IntegrationId(jira))
            .await
            .unwrap();
    assert_eq!(credentials.tokens, vec![token.to_owned()]);
    let credentials =
        integrations::credentials(&db.pool, &cipher, TenantId(tenant), IntegrationId(github))
            .await
            .unwrap();
    assert_eq!(
        credentials.tokens,
        vec!["gh-token-1".to_owned(), "gh-token-2".to_owned()]
    );
    let other_tenant = created_id(&db.cli(
        dir,
        &["tenant", "create", "--name", "Other", "--tier", "free"],
        None,
    ));
    assert!(integrations::credentials(
        &db.pool,
        &cipher,
        TenantId(other_tenant),
        IntegrationId(jira)
    )
    .await
    .is_err());
    sqlx::query("UPDATE integrations SET tenant_id = $1 WHERE id = $2")
        .bind(other_tenant)
        .bind(github)
        .execute(&db.pool)
        .await
        .expect_err("an integration cannot move tenants while its job points at the old one");

    // Each integration got its sync job, with every step idle.
    let jobs: Vec<(String, String, serde_json::Value)> = sqlx::query_as(
        "SELECT job_type, state, status FROM etl_jobs WHERE tenant_id = $1 ORDER BY integration_id",
    )
    .bind(tenant)
    .fetch_all(&db.pool)
    .await
    .unwrap();
    assert_eq!(jobs.len(), 2);
    assert_eq!(
        (jobs[0].0.as_str(), jobs[0].1.as_str()),
        ("jira", "NOT_STARTED")
    );
    assert_eq!(jobs[0].2["steps"]["jira_dev_status"]["extraction"], "idle");
    assert_eq!(jobs[1].2["steps"].as_object().unwrap().len(), 3);

    let disabled = db.cli(dir, &["integration", "disable", &jira.to_string()], None);
    assert!(disabled.status.success());
    let list: serde_json::Value = serde_json::from_str(&stdout(&db.cli(
        dir,
        &["--json", "integration", "list", "--tenant", &tenant_arg],
        None,
    )))
    .unwrap();
    assert_eq!(list[0]["active"], false);
    assert_eq!(list[1]["active"], true);

    let user = created_id(&db.cli(
        dir,
        &[
            "user",
            "create",
            "--tenant",
            &tenant_arg,
            "--email",
            "Ann@Acme.io",
            "--password-stdin",
            "--role",
            "admin",
        ],
        Some("correct horse battery\n"),
    ));
    let (email, hash, role): (String, String, String) =
        sqlx::query_as("SELECT email, password_hash, role FROM users WHERE id = $1")
            .bind(user)
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((email.as_str(), role.as_str()), ("ann@acme.io", "admin"));
    assert!(pulse_etl::security::verify_password(
        "correct horse battery",
        &hash
    ));
    assert!(!hash.contains("correct horse"));
}

#[tokio::test]
async fn bad_input_fails_with_one_clear_line() {
    let db = ScratchDb::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let tenant = created_id(&db.cli(
        dir,
        &["tenant", "create", "--name", "Acme", "--tier", "basic"],
        None,
    ))
    .to_string();

    let cases: Vec<(Vec<&str>, Option<&str>, &str)> = vec![
        (
            vec!["tenant", "create", "--name", "X", "--tier", "gold"],
            None,
            "gold",
        ),
        (
            vec!["tenant", "create", "--name", "ACME", "--tier", "free"],
            None,
            "already exists",
        ),
        (
            vec!["tenant", "create", "--name", "  ", "--tier", "free"],
            None,
            "--name",
        ),
        (
            vec![
                "integration",
                "create",
                "--tenant",
                "999",
                "--provider",
                "jira",
                "--base-url",
                "https://a.b",
                "--username",
                "u@a.b",
                "--token",
                "t",
            ],
            None,
            "tenant 999 does not exist",
        ),
        (
            vec![
                "integration",
                "create",
                "--tenant",
                &tenant,
                "--provider",
                "jira",
                "--base-url",
                "acme.atlassian.net",
                "--username",
                "u@a.b",
                "--token",
                "t",
            ],
            None,
            "--base-url",
        ),
        (
            vec![
                "integration",
                "create",
                "--tenant",
                &tenant,
                "--provider",
                "gitlab",
                "--base-url",
                "https://a.b",
                "--token",
                "t",
            ],
            None,
            "gitlab",
        ),
        (
            vec![
                "integration",
                "create",
                "--tenant",
                &tenant,
                "--provider",
                "jira",
                "--base-url",
                "https://a.b",
                "--token",
                "t",
            ],
            None,
            "--username",
        ),
        (
            vec![
                "integration",
                "create",
                "--tenant",
                &tenant,
                "--provider",
                "jira",
                "--base-url",
                "https://a.b",
                "--username",
                "u@a.b",
                "--token",
                "t",
                "--repos",
                "a/b",
            ],
            None,
            "--repos",
        ),
        (
            vec![
                "integration",
                "create",
                "--tenant",
                &tenant,
                "--provider",
                "jira",
                "--base-url",
                "https://a.b",
                "--username",
                "u@a.b",
                "--token",
                "t",
                "--api",
                "rest",
            ],
            None,
            "--api",
        ),
        (
            vec![
                "integration",
                "create",
                "--tenant",
                &tenant,
                "--provider",
                "github",
                "--base-url",
                "https://api.github.com",
                "--token",
                "t",
                "--repos",
                "not-a-repo",
            ],
            None,
            "not-a-repo",
        ),
        (
            vec![
                "integration",
                "create",
                "--tenant",
                &tenant,
                "--provider",
                "jira",
                "--base-url",
                "https://a.b",
                "--username",
                "u@a.b",
                "--token",
                "t",
                "--projects",
                "9X",
            ],
            None,
            "9X",
        ),
        (
            vec!["integration", "list", "--tenant", "424242"],
            None,
            "tenant 424242 does not exist",
        ),
        (
            vec!["integration", "disable", "31337"],
            None,
            "integration 31337 does not exist",
        ),
        (vec!["integration", "list", "--tenant", "abc"], None, "abc"),
        (
            vec![
                "user",
                "create",
                "--tenant",
                &tenant,
                "--email",
                "nope",
                "--password-stdin",
                "--role",
                "admin",
            ],
            Some("long enough password\n"),
            "--email",
        ),
        (
            vec![
                "user",
                "create",
                "--tenant",
                &tenant,
                "--email",
                "a@b.io",
                "--password-stdin",
                "--role",
                "owner",
            ],
            Some("long enough password\n"),
            "owner",
        ),
        (
            vec![
                "user",
                "create",
                "--tenant",
                &tenant,
                "--email",
                "a@b.io",
                "--password-stdin",
                "--role",
                "viewer",
            ],
            Some("short\n"),
            "at least 8",
        ),
        (
            vec![
                "user",
                "create",
                "--tenant",
                &tenant,
                "--email",
                "a@b.io",
                "--password-stdin",
                "--role",
                "viewer",
            ],
            Some(""),
            "no password",
        ),
        (
            vec![
                "user",
                "create",
                "--tenant",
                "777",
                "--email",
                "a@b.io",
                "--password-stdin",
                "--role",
                "viewer",
            ],
            Some("long enough password\n"),
            "tenant 777 does not exist",
        ),
    ];
    for (args, stdin, needle) in cases {
        let output = db.cli(dir, &args, stdin);
        assert_clear_failure(&output, needle);
    }

    // A duplicate e-mail is refused whatever its case.
    let create_user = |email: &'static str| {
        db.cli(
            dir,
            &[
                "user",
                "create",
                "--tenant",
                &tenant,
                "--email",
                email,
                "--password-stdin",
                "--role",
                "viewer",
            ],
            Some("long enough password\n"),
        )
    };
    assert!(create_user("dup@acme.io").status.success());
    assert_clear_failure(&create_user("DUP@acme.io"), "already exists");

    // Nothing was half-written by the failures.
    let integrations: i64 = sqlx::query_scalar("SELECT count(*) FROM integrations")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let jobs: i64 = sqlx::query_scalar("SELECT count(*) FROM etl_jobs")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    assert_eq!((integrations, jobs), (0, 0));
}

#[tokio::test]
async fn credentials_need_the_secret_key() {
    let db = ScratchDb::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let tenant = created_id(&db.cli(
        dir.path(),
        &["tenant", "create", "--name", "Acme", "--tier", "free"],
        None,
    ));
    let output = common::run_cli(
        dir.path(),
        &[("DATABASE_URL", &db.url)],
        &[
            "integration",
            "create",
            "--tenant",
            &tenant.to_string(),
            "--provider",
            "github",
            "--base-url",
            "https://api.github.com",
            "--token",
            "t",
        ],
        None,
    );
    assert_clear_failure(&output, "PULSE_SECRET_KEY");
}

#[tokio::test]
async fn json_log_format_writes_one_json_object_per_line() {
    let db = ScratchDb::migrated().await;
    let dir = tempfile::tempdir().unwrap();
    let output = common::run_cli(
        dir.path(),
        &[("DATABASE_URL", &db.url), ("RUST_LOG", "info")],
        &[
            "--log-format",
            "json",
            "tenant",
            "create",
            "--name",
            "Logged",
            "--tier",
            "free",
        ],
        None,
    );
    assert!(output.status.success(), "{}", common::stderr(&output));
    let lines: Vec<serde_json::Value> = common::stderr(&output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let created = lines
        .iter()
        .find(|line| line["message"] == "tenant created")
        .expect("a 'tenant created' event");
    assert_eq!(created["level"], "INFO");
    assert!(created["tenant_id"].is_i64());
}
