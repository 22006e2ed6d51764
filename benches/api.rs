//! The HTTP API under load: `pulse-etl serve` (release build, its own process) over a
//! tenant with 100,000 generated work items, hit by 32 concurrent clients from this
//! process. Prints requests/s and p50/p99 latency for the first page of work items and a
//! filtered page (project + status + updated_since), the latency of flow metrics over all
//! items (by project, type, week and team), and — side by side in the same run — the same
//! page queries sent straight to PostgreSQL (the ceiling the API's HTTP, auth and JSON work
//! is measured against), the DORA keys (also by team), pull request metrics and data-quality
//! checks over 100,000 merged pull requests (50 authors in 5 teams) and 10,000
//! deployments (PULSE_BENCH_PRS, PULSE_BENCH_DEPLOYMENTS) with the time to match every pull
//! request to its deployment, and the web UI's weight and speed in Chromium
//! (`assets/ui/e2e/bench.mjs`).
//! Asserts nothing. Run with `cargo bench --bench api` (PULSE_BENCH_WORK_ITEMS=100000).
#![allow(clippy::expect_used, clippy::unwrap_used)] // a benchmark: a failed set-up should stop it loudly

mod common;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{free_port, pulse, ScratchDb};
use sqlx::PgPool;

const CLIENTS: usize = 32;
const RUN: Duration = Duration::from_secs(10);
const JWT_SECRET: &str = "benchmark-jwt-secret-that-is-long-enough-0123";

/// Projects, statuses and types, then `count` work items spread over them and over a year.
async fn generate(pool: &PgPool, tenant: i64, integration: i64, count: u32) {
    let statements = [
        "INSERT INTO projects (tenant_id, integration_id, external_id, key, name)
         SELECT $1, $2, n::text, 'P' || n, 'Project ' || n FROM generate_series(0, 4) n",
        "INSERT INTO statuses (tenant_id, integration_id, external_id, name, category)
         SELECT $1, $2, n::text, (ARRAY['Backlog','To Do','In Progress','Code Review','Done','Closed'])[n + 1],
                (ARRAY['new','new','indeterminate','indeterminate','done','done'])[n + 1]
         FROM generate_series(0, 5) n",
        "INSERT INTO wits (tenant_id, integration_id, external_id, name)
         SELECT $1, $2, n::text, (ARRAY['Story','Bug','Task','Epic'])[n + 1] FROM generate_series(0, 3) n",
    ];
    for sql in statements {
        sqlx::query(sql)
            .bind(tenant)
            .bind(integration)
            .execute(pool)
            .await
            .unwrap();
    }
    sqlx::query(
        "INSERT INTO work_items (tenant_id, integration_id, external_id, key, project_id, wit_id, status_id,
                                 summary, description, priority, assignee, created, updated,
                                 work_first_started_at, work_last_completed_at, total_work_starts,
                                 total_completions, total_cycle_time_seconds, total_lead_time_seconds,
                                 rework_indicator)
         SELECT $1, $2, n::text, 'P' || (n % 5) || '-' || n,
                (SELECT id FROM projects WHERE tenant_id = $1 AND external_id = (n % 5)::text),
                (SELECT id FROM wits WHERE tenant_id = $1 AND external_id = (n % 4)::text),
                (SELECT id FROM statuses WHERE tenant_id = $1 AND external_id = ((n / 7) % 6)::text),
                (ARRAY['Fix','Improve','Document','Refactor'])[n % 4 + 1] || ' ' ||
                (ARRAY['cache layer','login page','CSV import','billing export','search index'])[n % 5 + 1] || ' #' || n,
                'Details of item ' || n || ': steps, expected and actual results.',
                (ARRAY['Low','Medium','High'])[n % 3 + 1], 'User ' || (n % 40),
                now() - interval '400 days' + (n % 360) * interval '1 day',
                now() - interval '365 days' + (n % 365) * interval '1 day' + (n % 1440) * interval '1 minute',
                CASE WHEN n % 5 < 3 THEN now() - interval '300 days' + (n % 290) * interval '1 day' END,
                CASE WHEN n % 5 < 3 THEN now() - interval '300 days' + (n % 290) * interval '1 day' + (1 + n % 20) * interval '1 day' END,
                (n % 5 < 3)::int + (n % 11 = 0)::int, (n % 5 < 3)::int,
                CASE WHEN n % 5 < 3 THEN (1 + n % 20) * 86400.0 ELSE 0 END,
                CASE WHEN n % 5 < 3 THEN (3 + n % 30) * 86400.0 ELSE 0 END,
                n % 11 = 0
         FROM generate_series(1, $3) n",
    )
    .bind(tenant)
    .bind(integration)
    .bind(i64::from(count))
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("ANALYZE").execute(pool).await.unwrap();
}

/// Ten repositories, `prs` merged pull requests over a year and `deployments` successful
/// production deployments spread evenly among them; every hundredth work item (of the other integration) an incident
/// resolved a few hours after it opened. Returns the seconds the pull requests took to be
/// matched to their deployments.
async fn generate_delivery(
    pool: &PgPool,
    tenant: i64,
    integration: i64,
    (prs, deployments): (u32, u32),
) -> f64 {
    let statements = [
        (None, "INSERT INTO repositories (tenant_id, integration_id, external_id, owner, name, full_name)
         SELECT $1, $2, n::text, 'acme', 'repo-' || n, 'acme/repo-' || n FROM generate_series(0, 9) n"),
        (Some(prs), "INSERT INTO prs (tenant_id, integration_id, external_id, repository_id, number, title, state,
                          author_login, first_commit_at, merged_at)
         SELECT $1, $2, n::text,
                (SELECT id FROM repositories WHERE tenant_id = $1 AND external_id = (n % 10)::text),
                n, 'Change ' || n, 'closed', 'dev-' || (n % 50),
                now() - interval '366 days' + n * (interval '365 days' / $3::bigint) - (1 + n % 72) * interval '1 hour',
                now() - interval '366 days' + n * (interval '365 days' / $3::bigint)
         FROM generate_series(1, $3::bigint) n"),
        (Some(deployments), "INSERT INTO deployments (tenant_id, integration_id, external_id, repository_id, kind, environment,
                                  outcome, commit_committed_at, deployment_created_at, finished_at,
                                  deployment_updated_at, is_production)
         SELECT $1, $2, 'deployment:' || n,
                (SELECT id FROM repositories WHERE tenant_id = $1 AND external_id = (n % 10)::text),
                'deployment', 'production', 'success',
                now() - interval '366 days' + n * (interval '365 days' / $3::bigint),
                now() - interval '366 days' + n * (interval '365 days' / $3::bigint) + interval '30 minutes',
                now() - interval '366 days' + n * (interval '365 days' / $3::bigint) + interval '40 minutes',
                now() - interval '366 days' + n * (interval '365 days' / $3::bigint) + interval '40 minutes', TRUE
         FROM generate_series(1, $3::bigint) n"),
        (None, "UPDATE work_items SET labels = ARRAY['incident'],
                created = now() - (id % 360) * interval '1 day',
                resolved = now() - (id % 360) * interval '1 day' + (1 + id % 30) * interval '1 hour'
         WHERE tenant_id = $1 AND integration_id <> $2 AND id % 100 = 0"),
        // 50 people, each with an account in every integration, in 5 teams of 10; every
        // work item assigned to one of them.
        (None, "UPDATE work_items SET assignee_account = 'dev-' || (id % 50)
         WHERE tenant_id = $1 AND integration_id <> $2"),
        (None, "INSERT INTO people (tenant_id, display_name)
         SELECT $1, 'Dev ' || n FROM generate_series(0, 49) n WHERE $2::bigint > 0"),
        (None, "INSERT INTO source_accounts (tenant_id, integration_id, account_key, display_name)
         SELECT $1, i.id, 'dev-' || n, 'Dev ' || n
         FROM integrations i, generate_series(0, 49) n WHERE i.tenant_id = $1 AND $2::bigint > 0"),
        (None, "INSERT INTO person_accounts (tenant_id, integration_id, account_key, person_id, decided_by)
         SELECT $1, a.integration_id, a.account_key, p.id, 'own'
         FROM source_accounts a JOIN people p ON p.tenant_id = $1 AND p.display_name = a.display_name
         WHERE a.tenant_id = $1 AND $2::bigint > 0"),
        (None, "INSERT INTO teams (tenant_id, name)
         SELECT $1, 'team-' || n FROM generate_series(0, 4) n WHERE $2::bigint > 0"),
        (None, "INSERT INTO team_members (tenant_id, team_id, person_id)
         SELECT $1, t.id, p.id FROM people p
         JOIN teams t ON t.tenant_id = $1 AND t.name = 'team-' || (substring(p.display_name FROM 5)::int % 5)
         WHERE p.tenant_id = $1 AND $2::bigint > 0"),
    ];
    for (size, sql) in statements {
        let mut query = sqlx::query(sql).bind(tenant).bind(integration);
        if let Some(size) = size {
            query = query.bind(i64::from(size));
        }
        query.execute(pool).await.unwrap();
    }
    let ids = pulse_etl::domain::IntegrationRef {
        tenant: pulse_etl::domain::TenantId(tenant),
        integration: pulse_etl::domain::IntegrationId(integration),
    };
    let started = Instant::now();
    pulse_etl::sources::delivery::shipping::ship(pool, ids, &[])
        .await
        .unwrap();
    let seconds = started.elapsed().as_secs_f64();
    sqlx::query("ANALYZE").execute(pool).await.unwrap();
    seconds
}

/// Latencies of `CLIENTS` concurrent loops of `request` for `RUN`.
async fn hammer<F, Fut>(request: F) -> (usize, Duration, Vec<Duration>)
where
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let request = Arc::new(request);
    let started = Instant::now();
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        let request = request.clone();
        clients.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while started.elapsed() < RUN {
                let sent = Instant::now();
                request().await;
                latencies.push(sent.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for client in clients {
        latencies.extend(client.await.unwrap());
    }
    latencies.sort();
    (latencies.len(), started.elapsed(), latencies)
}

fn percentile(sorted: &[Duration], fraction: f64) -> f64 {
    let index = ((sorted.len() as f64 * fraction).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1000.0
}

fn report(label: &str, (count, elapsed, latencies): &(usize, Duration, Vec<Duration>)) -> f64 {
    let rate = *count as f64 / elapsed.as_secs_f64();
    println!(
        "  {label:<44} {rate:>8.0} req/s   p50 {:>6.1} ms   p99 {:>6.1} ms",
        percentile(latencies, 0.50),
        percentile(latencies, 0.99)
    );
    rate
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let count: u32 = common::sizes("PULSE_BENCH_WORK_ITEMS", "100000")[0];
    let prs: u32 = common::sizes("PULSE_BENCH_PRS", "100000")[0];
    let deployments: u32 = common::sizes("PULSE_BENCH_DEPLOYMENTS", "10000")[0];
    let db = runtime.block_on(ScratchDb::migrated());
    let tenant = db.tenant();
    let (integration, _) = pulse(
        &db.url,
        &[
            "integration",
            "create",
            "--tenant",
            &tenant,
            "--provider",
            "jira",
            "--base-url",
            "http://127.0.0.1:9",
            "--username",
            "bench@example.com",
            "--token",
            "unused",
        ],
    );
    let started = Instant::now();
    runtime.block_on(generate(
        &db.pool,
        tenant.parse().unwrap(),
        integration.trim().parse().unwrap(),
        count,
    ));
    println!("api benchmark: {count} work items generated in {:.1} s; {CLIENTS} clients for {} s per case (2 cores shared by server, clients and PostgreSQL)", started.elapsed().as_secs_f64(), RUN.as_secs());
    let (github, _) = pulse(
        &db.url,
        &[
            "integration",
            "create",
            "--tenant",
            &tenant,
            "--provider",
            "github",
            "--base-url",
            "http://127.0.0.1:9",
            "--token",
            "unused",
        ],
    );
    let shipping = runtime.block_on(generate_delivery(
        &db.pool,
        tenant.parse().unwrap(),
        github.trim().parse().unwrap(),
        (prs, deployments),
    ));
    println!("delivery: {prs} merged pull requests and {deployments} deployments over 10 repositories; every pull request matched to its deployment in {shipping:.2} s");
    let (token, _) = pulse(
        &db.url,
        &[
            "token", "create", "--tenant", &tenant, "--name", "bench", "--role", "viewer",
        ],
    );
    let token = token.trim().to_owned();

    let port = free_port();
    let mut server = Command::new(common::binary())
        .arg("serve")
        .env("DATABASE_URL", &db.url)
        .env("PULSE_SECRET_KEY", common::SECRET_KEY)
        .env("PULSE_JWT_SECRET", JWT_SECRET)
        .env("PULSE_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env("PULSE_DATABASE__MAX_CONNECTIONS", "16")
        .env("RUST_LOG", "warn")
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}/api/v1");
    runtime.block_on(async {
        for _ in 0..100 {
            if reqwest::get(format!("http://127.0.0.1:{port}/healthz"))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let since = (chrono::Utc::now() - chrono::Duration::days(180))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let client = reqwest::Client::new();
    let get = |url: String| {
        let (client, token) = (client.clone(), token.clone());
        move || {
            let (client, token, url) = (client.clone(), token.clone(), url.clone());
            async move {
                let response = client.get(&url).bearer_auth(&token).send().await.unwrap();
                assert!(
                    response.status().is_success(),
                    "{url}: {}",
                    response.status()
                );
                response.bytes().await.unwrap();
            }
        }
    };
    let first = format!("{base}/work-items?limit=100");
    let filtered = format!(
        "{base}/work-items?limit=100&project=P1&status=In%20Progress&updated_since={}",
        since.replace('+', "%2B")
    );
    runtime.block_on(async {
        // Warm-up: plans cached, the token check remembered.
        for url in [&first, &filtered] {
            get(url.clone())().await;
        }
        println!("through the API (HTTP, auth, JSON):");
        let api_first = report("GET /work-items?limit=100", &hammer(get(first.clone())).await);
        let api_filtered = report("GET /work-items?project&status&updated_since", &hammer(get(filtered.clone())).await);

        println!("flow metrics over every item (one client, 20 requests each):");
        for grouping in ["project", "type", "week", "team"] {
            let mut latencies = Vec::new();
            for _ in 0..20 {
                let sent = Instant::now();
                get(format!("{base}/metrics/flow?group_by={grouping}"))().await;
                latencies.push(sent.elapsed());
            }
            latencies.sort();
            println!("  GET /metrics/flow?group_by={grouping:<8}            p50 {:>6.1} ms   max {:>6.1} ms", percentile(&latencies, 0.5), percentile(&latencies, 1.0));
        }

        println!("DORA keys, pull request metrics and data quality over {prs} pull requests and {deployments} deployments (one client, 10 requests each):");
        for path in [
            "metrics/dora",
            "metrics/dora?group_by=repository",
            "metrics/dora?group_by=week",
            "metrics/dora?group_by=team",
            "metrics/prs?group_by=repository",
            "metrics/prs?group_by=team",
            "data-quality",
        ] {
            let mut latencies = Vec::new();
            for _ in 0..10 {
                let sent = Instant::now();
                get(format!("{base}/{path}"))().await;
                latencies.push(sent.elapsed());
            }
            latencies.sort();
            println!("  GET /{path:<40} p50 {:>7.1} ms   max {:>7.1} ms", percentile(&latencies, 0.5), percentile(&latencies, 1.0));
        }

        println!("the same page queries straight to PostgreSQL (16 connections, {CLIENTS} clients):");
        let pool = sqlx::postgres::PgPoolOptions::new().max_connections(16).connect(&db.url).await.unwrap();
        let tenant_id: i64 = tenant.parse().unwrap();
        let sql_first = {
            let pool = pool.clone();
            move || {
                let pool = pool.clone();
                async move {
                    let filter = pulse_etl::sources::jira::read::WorkItemFilter::default();
                    pulse_etl::sources::jira::read::work_items(&pool, pulse_etl::domain::TenantId(tenant_id), &filter, None, 101).await.unwrap();
                }
            }
        };
        let since_at = chrono::DateTime::parse_from_rfc3339(&since).unwrap().with_timezone(&chrono::Utc);
        let sql_filtered = {
            let pool = pool.clone();
            move || {
                let pool = pool.clone();
                async move {
                    let filter = pulse_etl::sources::jira::read::WorkItemFilter {
                        project: Some("P1".into()),
                        status: Some("In Progress".into()),
                        updated_since: Some(since_at),
                        ..Default::default()
                    };
                    pulse_etl::sources::jira::read::work_items(&pool, pulse_etl::domain::TenantId(tenant_id), &filter, None, 101).await.unwrap();
                }
            }
        };
        let db_first = report("first page (sqlx, rows decoded)", &hammer(sql_first).await);
        let db_filtered = report("filtered page (sqlx, rows decoded)", &hammer(sql_filtered).await);
        println!("API / direct SQL throughput: first page {:.2}, filtered page {:.2}", api_first / db_first, api_filtered / db_filtered);
    });
    ui_figures(&db.url, &tenant, port);
    server.kill().ok();
    server.wait().ok();
}

/// The web UI's weight and speed against the same server (needs the built bundle, Node.js
/// and Chromium: skipped, saying so, without them).
fn ui_figures(database: &str, tenant: &str, port: u16) {
    let ui = concat!(env!("CARGO_MANIFEST_DIR"), "/assets/ui");
    let ready = std::path::Path::new(&format!("{ui}/dist/index.html")).is_file()
        && std::path::Path::new(&format!("{ui}/node_modules/playwright-core")).is_dir()
        && std::path::Path::new("/usr/bin/chromium").is_file();
    if !ready {
        println!("web UI: skipped (build it with scripts/build-ui and install chromium)");
        return;
    }
    let email = "bench@example.com";
    let password = "bench password";
    let mut create = Command::new(common::binary())
        .args([
            "user",
            "create",
            "--tenant",
            tenant,
            "--email",
            email,
            "--password-stdin",
            "--role",
            "viewer",
        ])
        .env("DATABASE_URL", database)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(&mut create.stdin.take().unwrap(), password.as_bytes()).unwrap();
    assert!(create.wait().unwrap().success());
    println!("web UI (Chromium on the same machine):");
    let status = Command::new("node")
        .arg("e2e/bench.mjs")
        .current_dir(ui)
        .env("PULSE_UI_BASE", format!("http://127.0.0.1:{port}"))
        .env("PULSE_UI_EMAIL", email)
        .env("PULSE_UI_PASSWORD", password)
        .status()
        .unwrap();
    if !status.success() {
        println!("  the UI benchmark failed (see above)");
    }
}
