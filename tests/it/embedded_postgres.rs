//! The private PostgreSQL cluster: started on demand under the data directory, stopped on exit.

use crate::common;
use crate::common::{run_cli, stdout};
use pulse_etl::store::EmbeddedPostgres;
use sqlx::Connection;

fn binaries_or_skip() -> bool {
    if EmbeddedPostgres::find_binaries().is_none() {
        eprintln!("SKIPPED: no PostgreSQL server binaries (initdb, pg_ctl) on this machine");
        return false;
    }
    true
}

#[tokio::test]
async fn library_starts_serves_and_stops_the_cluster() {
    if !binaries_or_skip() {
        return;
    }
    let data_dir = tempfile::tempdir().unwrap();
    let cluster = EmbeddedPostgres::start(data_dir.path()).await.unwrap();
    assert!(cluster.is_running().await.unwrap());
    let mut connection = sqlx::PgConnection::connect_with(&cluster.connect_options("postgres"))
        .await
        .unwrap();
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    assert_eq!(one, 1);
    connection.close().await.unwrap();

    // A second handle on a running cluster does not own it: stopping it leaves the cluster up.
    let second = EmbeddedPostgres::start(data_dir.path()).await.unwrap();
    second.stop().await.unwrap();
    assert!(cluster.is_running().await.unwrap());

    let cluster_dir = cluster.cluster_dir().to_path_buf();
    cluster.stop().await.unwrap();
    assert!(!cluster_dir.join("postmaster.pid").exists());
}

#[tokio::test]
async fn cli_uses_a_private_cluster_and_stops_it_on_exit() {
    if !binaries_or_skip() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("PULSE_DATABASE__MODE", "embedded"),
        ("PULSE_DATA_DIR", "data"),
    ];

    let created = run_cli(
        dir.path(),
        &env,
        &["tenant", "create", "--name", "Local", "--tier", "free"],
        None,
    );
    assert!(created.status.success(), "{}", common::stderr(&created));
    let cluster_dir = dir.path().join("data/postgres");
    assert!(cluster_dir.join("PG_VERSION").is_file());
    assert!(
        !cluster_dir.join("postmaster.pid").exists(),
        "cluster left running"
    );

    // Data survives the restart of the cluster.
    let listed = run_cli(dir.path(), &env, &["--json", "tenant", "list"], None);
    let tenants: serde_json::Value = serde_json::from_str(&stdout(&listed)).unwrap();
    assert_eq!(tenants[0]["name"], "Local");
    assert!(
        !cluster_dir.join("postmaster.pid").exists(),
        "cluster left running"
    );
}
