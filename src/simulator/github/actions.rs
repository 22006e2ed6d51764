//! GitHub Actions workflow runs (`GET /repos/{owner}/{repo}/actions/runs`): each deployment
//! of the release train is a completed run on `main` — production ones of the "Deploy"
//! workflow, staging ones of "Staging checks" — newest first, filtered by `status`,
//! `branch` and `created` (`>=YYYY-MM-DD`), paged with `Link` headers.

use axum::extract::{Path, RawQuery, State};
use chrono::NaiveDate;
use serde_json::{json, Value};

use super::deployments::{Deployment, Outcome, PRODUCTION};
use super::render::github_time;
use super::routes::{paged_in, repo_index, Answer, GithubError, Shared};
use crate::simulator::params::Params;

/// Run ids: this plus the deployment's id.
const RUN_ID_BASE: u64 = 7_000_000_000;

fn run(deployment: &Deployment) -> Value {
    let name = if deployment.environment == PRODUCTION {
        "Deploy"
    } else {
        "Staging checks"
    };
    json!({
        "id": RUN_ID_BASE + deployment.id,
        "name": name,
        "display_title": deployment.description,
        "head_branch": "main",
        "head_sha": deployment.commit.sha,
        "head_commit": {"id": deployment.commit.sha, "timestamp": github_time(deployment.commit.committed_ms)},
        "event": "push",
        "status": "completed",
        "conclusion": match deployment.outcome {
            Outcome::Success => "success",
            Outcome::Failure => "failure",
        },
        "created_at": github_time(deployment.created_ms),
        "run_started_at": github_time(deployment.created_ms),
        "updated_at": github_time(deployment.finished_ms),
    })
}

pub async fn workflow_runs(
    State(state): Shared,
    Path((owner, repo)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let index = repo_index(&state, &owner, &repo)?;
    let params = Params::parse(raw.as_deref());
    let created_from = match params.one("created") {
        None => None,
        Some(text) => Some(
            text.strip_prefix(">=")
                .and_then(|day| NaiveDate::parse_from_str(day, "%Y-%m-%d").ok())
                .and_then(|day| day.and_hms_opt(0, 0, 0))
                .map(|at| at.and_utc().timestamp_millis())
                .ok_or(GithubError::Invalid(
                    "Validation Failed: created must be >=YYYY-MM-DD",
                ))?,
        ),
    };
    let wanted = |field: &str, value: &str| params.one(field).is_none_or(|asked| asked == value);
    let delivery = state.site.delivery();
    let runs: Vec<Value> = delivery[index]
        .deployments
        .iter()
        .rev()
        .filter(|d| created_from.is_none_or(|from| d.created_ms >= from))
        .filter(|_| wanted("status", "completed") && wanted("branch", "main"))
        .map(run)
        .collect();
    Ok(paged_in(
        &state.base_url,
        &format!("/repos/{owner}/{repo}/actions/runs"),
        &raw,
        runs,
        Some("workflow_runs"),
    ))
}
