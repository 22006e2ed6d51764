//! Retrieval quality of search, per mode, on labelled queries built from the simulator
//! (`pulse_etl::simulator::jira::queries`): each issue's own title by script (English,
//! Chinese, Japanese, mixed), words of its description its title lacks, its title
//! paraphrased and its title misspelled. Each query names one issue; for each set and mode
//! the benchmark prints recall@10 (the issue is among the first ten), MRR (the mean of
//! 1/rank, 0 past ten) and first@1 (it is first, or the first hit has exactly its title).
//! Hybrid is measured with both fusions: the default (normalised scores, `hybrid`) and
//! reciprocal rank fusion (`hybrid-rrf`).
//!
//! `PULSE_BENCH_ISSUES` issues (default 1000) are synced from the simulator and embedded
//! with the local model. Run with `cargo bench --bench search_quality`. Asserts nothing.
#![allow(clippy::expect_used, clippy::unwrap_used)] // a benchmark: a failed set-up should stop it loudly

mod common;

#[path = "../tests/it/common/qdrant.rs"]
#[allow(dead_code)] // the tests' helper; the benchmark uses part of it
mod qdrant;

use std::time::Instant;

use common::{free_port, pulse_with, ScratchDb};
use pulse_etl::domain::TenantId;
use pulse_etl::embedding::settings::Embedders;
use pulse_etl::pipeline::embed_stage::Embedding;
use pulse_etl::search::fusion::Fusion;
use pulse_etl::search::SearchMode;
use pulse_etl::service::search::{search, SearchQuery};
use pulse_etl::simulator::jira::issues::Population;
use pulse_etl::simulator::jira::queries::query_sets;
use pulse_etl::simulator::jira::render::issue_key;
use pulse_etl::sources::CATALOG;

/// The simulator's seed (the benchmarks' helper starts it with this one) and projects.
const SEED: u64 = 7;
const PROJECTS: usize = 3;

#[derive(Default)]
struct Figures {
    queries: usize,
    found: usize,
    reciprocal: f64,
    first: usize,
}

fn main() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Some(model) = qdrant::model_dir() else {
        return;
    };
    let issues: u32 = std::env::var("PULSE_BENCH_ISSUES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000);
    println!("search quality benchmark: {issues} simulated issues, local model, embedded store");

    let port = free_port();
    let mut sim = common::simulator(
        port,
        &[
            "--jira-issues",
            &issues.to_string(),
            "--jira-projects",
            &PROJECTS.to_string(),
        ],
    );
    let db = runtime.block_on(ScratchDb::migrated());
    let tenant = db.tenant();
    common::synced_jira_tenant(&db.url, &tenant, port);
    sim.kill().ok();
    sim.wait().ok();
    let data = tempfile::tempdir().unwrap();
    let model_env = model.display().to_string();
    let data_env = data.path().display().to_string();
    let env = [
        ("PULSE_EMBEDDING__MODEL_DIR", model_env.as_str()),
        ("PULSE_DATA_DIR", data_env.as_str()),
    ];
    pulse_with(
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
    let (_, took) = pulse_with(&db.url, &["vectors", "rebuild", "--tenant", &tenant], &env);
    println!("  indexed in {:.1} s", took.as_secs_f64());

    let embedding = Embedding {
        store: pulse_etl::vectors::open("", data.path()).unwrap(),
        embedders: Embedders::new(
            model.clone(),
            None,
            pulse_etl::connectors::outbound::Outbound::default(),
        ),
    };
    let population = Population {
        seed: SEED,
        issues,
        projects: PROJECTS,
    };
    let tenant: TenantId = tenant.parse().unwrap();
    println!(
        "  {:<22} {:>5}  {:<10} {:>9} {:>6} {:>8}",
        "set", "items", "mode", "recall@10", "MRR", "first@1"
    );
    let started = Instant::now();
    let mut searches = 0;
    for set in query_sets(&population, issues) {
        let modes = [
            ("hybrid", SearchMode::Hybrid, Fusion::Convex),
            ("hybrid-rrf", SearchMode::Hybrid, Fusion::Rrf),
            ("semantic", SearchMode::Semantic, Fusion::Convex),
            ("lexical", SearchMode::Lexical, Fusion::Convex),
        ];
        for (label, mode, fusion) in modes {
            let mut figures = Figures::default();
            for labelled in &set.queries {
                let wanted = issue_key(&population, labelled.issue);
                let query = SearchQuery {
                    text: labelled.text.clone(),
                    mode,
                    fusion,
                    limit: 10,
                    ..SearchQuery::default()
                };
                let hits = runtime
                    .block_on(search(&db.pool, CATALOG, &embedding, tenant, &query))
                    .unwrap();
                searches += 1;
                figures.queries += 1;
                if let Some(rank) = hits.iter().position(|hit| hit.key == wanted) {
                    figures.found += 1;
                    figures.reciprocal += 1.0 / (rank as f64 + 1.0);
                }
                let title_first = hits.first().is_some_and(|hit| {
                    hit.key == wanted || hit.title.as_deref() == Some(labelled.text.as_str())
                });
                figures.first += usize::from(title_first);
            }
            let n = figures.queries.max(1) as f64;
            println!(
                "  {:<22} {:>5}  {:<10} {:>9.3} {:>6.3} {:>8.3}",
                set.name,
                figures.queries,
                label,
                figures.found as f64 / n,
                figures.reciprocal / n,
                figures.first as f64 / n,
            );
        }
    }
    println!(
        "  {searches} searches in {:.1} s ({:.1} ms each, query embedding included)",
        started.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64() * 1e3 / f64::from(searches.max(1))
    );
}
