//! GitHub deployments and releases (GraphQL nodes) and workflow runs (REST) to deployment
//! rows. A deployment's
//! outcome is its first final status (success, failure or error), taken from its statuses:
//! GitHub marks a successful deployment `INACTIVE` once a later one to the same environment
//! succeeds, so its latest status does not tell. A row's version (`deployment_updated_at`)
//! is when it reached its outcome (or was created): later statuses such as `INACTIVE` change
//! nothing it records, so a copy read before them equals one read after.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::transform::{id, text, time, GithubError};
use crate::domain::delivery::{DeliveryRules, Deployed, ProductionPatterns};
use crate::sources::delivery::rows::{DeploymentKind, DeploymentRow};

/// A node's database id as text.
fn database_id(node: &Value, entity: &'static str) -> Result<String, GithubError> {
    node["databaseId"]
        .as_i64()
        .map(|id| id.to_string())
        .ok_or(GithubError::Missing {
            entity,
            field: "databaseId",
        })
}

fn required(
    value: Option<DateTime<Utc>>,
    entity: &'static str,
    field: &'static str,
) -> Result<DateTime<Utc>, GithubError> {
    value.ok_or(GithubError::Missing { entity, field })
}

/// The first final status of a deployment: (outcome, when).
fn outcome(node: &Value, id: &str) -> Result<Option<(String, DateTime<Utc>)>, GithubError> {
    let statuses = node["statuses"]["nodes"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut first: Option<(String, DateTime<Utc>)> = None;
    for status in statuses {
        let state = status["state"].as_str().unwrap_or_default();
        if !matches!(state, "SUCCESS" | "FAILURE" | "ERROR") {
            continue;
        }
        let at = time(status, &["createdAt"], ("deployment status", id))?;
        let at = required(at, "deployment status", "createdAt")?;
        if first.as_ref().is_none_or(|(_, earliest)| at < *earliest) {
            first = Some((state.to_ascii_lowercase(), at));
        }
    }
    Ok(first)
}

/// A deployment of `repository` (`owner/name`).
pub fn deployment(
    repository: &str,
    node: &Value,
    rules: &DeliveryRules,
    patterns: Option<&ProductionPatterns>,
) -> Result<DeploymentRow, GithubError> {
    const ENTITY: &str = "deployment";
    let id = database_id(node, ENTITY)?;
    let environment = text(node, &["environment"]);
    let created = time(node, &["createdAt"], (ENTITY, &id))?;
    let outcome = outcome(node, &id)?;
    Ok(DeploymentRow {
        external_id: format!("deployment:{id}"),
        repository_full_name: repository.to_owned(),
        kind: DeploymentKind::Deployment,
        is_production: rules.is_production(
            Deployed::Environment(environment.as_deref().unwrap_or("")),
            patterns,
        ),
        environment,
        description: text(node, &["description"]),
        ref_name: None,
        commit_sha: text(node, &["commitOid"]),
        commit_committed_at: time(node, &["commit", "committedDate"], (ENTITY, &id))?,
        deployment_created_at: required(created, ENTITY, "createdAt")?,
        deployment_updated_at: outcome.as_ref().map(|(_, at)| *at).or(created),
        finished_at: outcome.as_ref().map(|(_, at)| *at),
        outcome: outcome.map(|(state, _)| state),
    })
}

/// A release of `repository`: a production deployment when published (not a draft nor a
/// pre-release) and the rule counts releases.
pub fn release(
    repository: &str,
    node: &Value,
    rules: &DeliveryRules,
) -> Result<DeploymentRow, GithubError> {
    const ENTITY: &str = "release";
    let id = database_id(node, ENTITY)?;
    let created = time(node, &["createdAt"], (ENTITY, &id))?;
    let published = time(node, &["publishedAt"], (ENTITY, &id))?;
    let draft = node["isDraft"].as_bool().unwrap_or(false);
    let prerelease = node["isPrerelease"].as_bool().unwrap_or(false);
    let published = published.filter(|_| !draft);
    Ok(DeploymentRow {
        external_id: format!("release:{id}"),
        repository_full_name: repository.to_owned(),
        kind: DeploymentKind::Release,
        environment: None,
        outcome: published.map(|_| "success".to_owned()),
        description: text(node, &["name"]),
        ref_name: text(node, &["tagName"]),
        commit_sha: text(node, &["tagCommit", "oid"]),
        commit_committed_at: time(node, &["tagCommit", "committedDate"], (ENTITY, &id))?,
        deployment_created_at: required(created, ENTITY, "createdAt")?,
        finished_at: published,
        deployment_updated_at: published.or(created),
        is_production: published.is_some()
            && !prerelease
            && rules.is_production(Deployed::Release, None),
    })
}

/// A completed workflow run of `repository` (REST): a production deployment when it
/// succeeded and the rule counts its workflow's runs.
pub fn workflow_run(
    repository: &str,
    run: &Value,
    rules: &DeliveryRules,
    patterns: Option<&ProductionPatterns>,
) -> Result<DeploymentRow, GithubError> {
    const ENTITY: &str = "workflow run";
    let id = id(run, ENTITY)?;
    let name = text(run, &["name"]);
    let created = time(run, &["run_started_at"], (ENTITY, &id))?.or(time(
        run,
        &["created_at"],
        (ENTITY, &id),
    )?);
    let completed = run["status"].as_str() == Some("completed");
    let finished = if completed {
        time(run, &["updated_at"], (ENTITY, &id))?
    } else {
        None
    };
    let outcome = finished.and(match run["conclusion"].as_str() {
        Some("success") => Some("success".to_owned()),
        Some("failure" | "timed_out" | "startup_failure") => Some("failure".to_owned()),
        _ => None,
    });
    let succeeded = outcome.as_deref() == Some("success");
    Ok(DeploymentRow {
        external_id: format!("workflow_run:{id}"),
        repository_full_name: repository.to_owned(),
        kind: DeploymentKind::WorkflowRun,
        is_production: succeeded
            && rules.is_production(
                Deployed::WorkflowRun(name.as_deref().unwrap_or("")),
                patterns,
            ),
        environment: name,
        description: text(run, &["display_title"]),
        ref_name: text(run, &["head_branch"]),
        commit_sha: text(run, &["head_sha"]),
        commit_committed_at: time(run, &["head_commit", "timestamp"], (ENTITY, &id))?,
        deployment_created_at: required(created, ENTITY, "created_at")?,
        deployment_updated_at: finished.or(created),
        finished_at: finished,
        outcome,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn node(statuses: Value) -> Value {
        json!({
            "databaseId": 7, "environment": "production", "description": "Deploy",
            "createdAt": "2025-03-03T10:00:00Z", "updatedAt": "2025-03-04T10:00:00Z",
            "commitOid": "abc", "commit": {"committedDate": "2025-03-03T09:00:00Z"},
            "statuses": {"nodes": statuses}
        })
    }

    #[test]
    fn the_first_final_status_decides_however_the_list_is_ordered() {
        let rules = DeliveryRules::default();
        let pattern = rules.check().ok();
        let statuses = json!([
            {"state": "INACTIVE", "createdAt": "2025-03-04T10:00:00Z"},
            {"state": "SUCCESS", "createdAt": "2025-03-03T10:12:00Z"},
            {"state": "IN_PROGRESS", "createdAt": "2025-03-03T10:01:00Z"}
        ]);
        let row = deployment("o/r", &node(statuses), &rules, pattern.as_ref()).unwrap();
        assert_eq!(row.external_id, "deployment:7");
        let run = json!({
            "id": 31, "name": "Deploy", "display_title": "Ship #7", "status": "completed",
            "conclusion": "success", "head_branch": "main", "head_sha": "abc",
            "head_commit": {"timestamp": "2025-03-03T09:00:00Z"},
            "created_at": "2025-03-03T10:00:00Z", "run_started_at": "2025-03-03T10:00:05Z",
            "updated_at": "2025-03-03T10:09:00Z"
        });
        let workflows = DeliveryRules {
            production: crate::domain::delivery::ProductionSignal::Workflow,
            ..DeliveryRules::default()
        };
        let shipped = workflow_run("o/r", &run, &workflows, pattern.as_ref()).unwrap();
        assert!(shipped.is_production);
        assert_eq!(
            shipped.finished_at.unwrap().to_rfc3339(),
            "2025-03-03T10:09:00+00:00"
        );
        let mut failed = run.clone();
        failed["conclusion"] = json!("failure");
        let failed = workflow_run("o/r", &failed, &workflows, pattern.as_ref()).unwrap();
        assert_eq!(
            (failed.outcome.as_deref(), failed.is_production),
            (Some("failure"), false)
        );
        assert!(
            !workflow_run("o/r", &run, &rules, pattern.as_ref())
                .unwrap()
                .is_production
        );
        assert_eq!(row.outcome.as_deref(), Some("success"));
        assert_eq!(
            row.finished_at.unwrap().to_rfc3339(),
            "2025-03-03T10:12:00+00:00"
        );
        assert!(row.is_production);
        let running = deployment("o/r", &node(json!([])), &rules, pattern.as_ref()).unwrap();
        assert_eq!((running.outcome, running.finished_at), (None, None));
    }

    #[test]
    fn unreadable_answers_fail_the_entity() {
        let rules = DeliveryRules::default();
        let mut bad = node(json!([{"state": "FAILURE", "createdAt": "yesterday"}]));
        assert!(deployment("o/r", &bad, &rules, None).is_err());
        bad = node(json!([]));
        bad["databaseId"] = Value::Null;
        assert!(deployment("o/r", &bad, &rules, None).is_err());
    }

    #[test]
    fn releases_count_as_production_only_by_rule_and_when_published() {
        let release_node = json!({
            "databaseId": 9, "tagName": "v1.0.0", "name": "One", "isDraft": false,
            "isPrerelease": false, "createdAt": "2025-03-03T10:00:00Z",
            "publishedAt": "2025-03-03T11:00:00Z", "updatedAt": "2025-03-03T11:00:00Z",
            "tagCommit": {"oid": "abc", "committedDate": "2025-03-03T09:00:00Z"}
        });
        let default_rules = DeliveryRules::default();
        assert!(
            !release("o/r", &release_node, &default_rules)
                .unwrap()
                .is_production
        );
        let releases = DeliveryRules {
            production: crate::domain::delivery::ProductionSignal::Releases,
            ..DeliveryRules::default()
        };
        let row = release("o/r", &release_node, &releases).unwrap();
        assert!(row.is_production);
        assert_eq!(row.ref_name.as_deref(), Some("v1.0.0"));
        let mut draft = release_node.clone();
        draft["isDraft"] = json!(true);
        assert!(!release("o/r", &draft, &releases).unwrap().is_production);
    }
}
