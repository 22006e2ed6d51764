//! Embedding and vector search, side by side on this machine in one run:
//! - the local embedder (candle) on 1,000 real work-item texts vs sentence-transformers
//!   (PyTorch, CPU) on the same model and texts (needs a Python with sentence-transformers:
//!   PULSE_BENCH_PYTHON, default /var/tmp/st-venv/bin/python; skipped without it);
//! - the end-to-end embed stage (`vectors rebuild` of a synced tenant: read, embed, write,
//!   record) in items/s, with the process's peak RSS;
//! - vector upserts/s and search p50/p99 at 100k points (PULSE_BENCH_POINTS) for the
//!   embedded store and the Qdrant server (../shared/bin/qdrant; skipped without it).
//!
//! Run with `cargo bench --bench embedding`. Asserts nothing.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a benchmark: a failed set-up should stop it loudly

mod common;

#[path = "../tests/it/common/qdrant.rs"]
#[allow(dead_code)] // the tests' helper; the benchmark uses part of it
mod qdrant;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{free_port, ScratchDb};
use pulse_etl::domain::TenantId;
use pulse_etl::embedding::local::LocalModel;
use pulse_etl::search::terms::SparseTerms;
use pulse_etl::sources::CATALOG;
use pulse_etl::store::vectors;
use pulse_etl::vectors::{point_id, Payload, Point, Probe, SearchFilter, VectorStore};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Deterministic pseudo-random unit vectors.
fn vectors(count: usize, seed: u64) -> Vec<Vec<f32>> {
    let mut state = seed;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % 2_000_001) as f32 / 1_000_000.0 - 1.0
    };
    (0..count)
        .map(|_| {
            let mut v: Vec<f32> = (0..384).map(|_| next()).collect();
            pulse_etl::embedding::normalize(&mut v);
            v
        })
        .collect()
}

async fn store_figures(name: &str, store: &dyn VectorStore, points: usize) {
    let collection = format!("bench_{}", uuid::Uuid::new_v4().simple());
    store.ensure_collection(&collection, 384).await.unwrap();
    let all = vectors(points, 7);
    let started = Instant::now();
    for (chunk_index, chunk) in all.chunks(256).enumerate() {
        let batch = chunk
            .iter()
            .enumerate()
            .map(|(i, vector)| {
                let record = (chunk_index * 256 + i) as i64;
                let tenant = 1 + record % 4;
                Point {
                    id: point_id(TenantId(tenant), "work_items", record),
                    vector: vector.clone(),
                    terms: SparseTerms::default(),
                    payload: Payload {
                        tenant_id: tenant,
                        source_type: "JIRA".into(),
                        table_name: "work_items",
                        record_id: record,
                        scope: Some(format!("P{}", record % 10)),
                        kind: Some("Story".into()),
                        status: Some("Done".into()),
                        status_category: Some("done".into()),
                        assignee: None,
                        updated: None,
                    },
                }
            })
            .collect();
        store.upsert(&collection, batch).await.unwrap();
    }
    let upsert = started.elapsed();
    let queries = vectors(200, 99);
    let filter = SearchFilter {
        source_type: Some("JIRA".into()),
        ..SearchFilter::tenant(TenantId(2))
    };
    let mut times = Vec::new();
    for query in queries {
        let started = Instant::now();
        let hits = store
            .search(&collection, Probe::Meaning(query), &filter, 10)
            .await
            .unwrap();
        times.push(started.elapsed());
        assert_eq!(hits.len(), 10);
    }
    times.sort();
    println!(
        "  {name:<14} {points} points: {:>7.0} upserts/s; search (tenant filter, top 10) p50 {:>6.1} ms, p99 {:>6.1} ms",
        points as f64 / upsert.as_secs_f64(),
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
    );
    store.drop_collection(&collection).await.unwrap();
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(model) = qdrant::model_dir() else {
        return;
    };
    println!("embedding benchmark (2 cores shared)");

    // A synced tenant: 1,000 work items from the simulator, not yet embedded.
    let port = free_port();
    let mut sim = common::simulator(port, &["--jira-issues", "1000"]);
    let db = runtime.block_on(ScratchDb::migrated());
    let tenant = db.tenant();
    common::synced_jira_tenant(&db.url, &tenant, port);
    sim.kill().ok();
    sim.wait().ok();

    // The texts the embed stage builds, embedded by each implementation.
    let texts: Vec<String> = runtime.block_on(async {
        let table = CATALOG.embed_table("work_items").unwrap();
        let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM work_items ORDER BY id")
            .fetch_all(&db.pool)
            .await
            .unwrap();
        let tenant: TenantId = tenant.parse().unwrap();
        vectors::documents(&db.pool, table, tenant, &ids)
            .await
            .unwrap()
            .iter()
            .map(|d| d.text())
            .collect()
    });
    let local = LocalModel::load(&model).unwrap();
    local.embed_blocking(&texts[..32]).unwrap(); // warm-up
    let started = Instant::now();
    local.embed_blocking(&texts).unwrap();
    let ours = texts.len() as f64 / started.elapsed().as_secs_f64();
    println!(
        "  local embedder (candle):          {ours:>7.1} texts/s on {} work-item texts",
        texts.len()
    );
    let python = std::env::var("PULSE_BENCH_PYTHON")
        .unwrap_or_else(|_| "/var/tmp/st-venv/bin/python".into());
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), serde_json::to_vec(&texts).unwrap()).unwrap();
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scripts/bench-sentence-transformers.py"
    );
    match std::process::Command::new(&python)
        .args([script, &model.display().to_string(), &file.path().display().to_string()])
        .env("HF_HUB_OFFLINE", "1")
        .stderr(std::process::Stdio::null())
        .output()
    {
        Ok(output) if output.status.success() => {
            let figures: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
            let theirs = figures["texts"].as_f64().unwrap() / figures["seconds"].as_f64().unwrap();
            println!("  sentence-transformers (PyTorch):  {theirs:>7.1} texts/s on the same texts; ratio {:.2}x", ours / theirs);
        }
        _ => println!("  sentence-transformers: skipped ({python} with sentence-transformers not found; set PULSE_BENCH_PYTHON)"),
    }
    drop(local);

    // The whole stage: read the records, embed, write points, record them.
    let data = tempfile::tempdir().unwrap();
    let model_env = model.display().to_string();
    let data_env = data.path().display().to_string();
    let env = [
        ("PULSE_EMBEDDING__MODEL_DIR", model_env.as_str()),
        ("PULSE_DATA_DIR", data_env.as_str()),
    ];
    common::pulse_with(
        &db.url,
        &[
            "embedding",
            "set",
            "--tenant",
            &tenant,
            "--provider",
            "local",
        ],
        &env,
    );
    let (_, took, rss) =
        common::pulse_measured_with(&db.url, &["vectors", "rebuild", "--tenant", &tenant], &env);
    println!(
        "  embed stage end to end (vectors rebuild, embedded store): {:>7.1} items/s ({} items in {:.1} s, model load included), peak RSS {rss:.0} MiB",
        texts.len() as f64 / took.as_secs_f64(),
        texts.len(),
        took.as_secs_f64()
    );

    // Vector stores at scale.
    let points: usize = std::env::var("PULSE_BENCH_POINTS")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(100_000);
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let edge: Arc<dyn VectorStore> = pulse_etl::vectors::open("", dir.path()).unwrap();
        store_figures("embedded", edge.as_ref(), points).await;
        match qdrant::QdrantServer::start().await {
            Some(server) => {
                let store = pulse_etl::vectors::open(&server.url, dir.path()).unwrap();
                store_figures("qdrant server", store.as_ref(), points).await;
            }
            None => println!("  qdrant server: skipped (no binary)"),
        }
    });
}
