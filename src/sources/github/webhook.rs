//! GitHub webhook deliveries: which pull requests an event names — a pull request, its
//! reviews, review comments and threads, comments on it, a push to its open head branch —
//! read again one query each (GraphQL, as the sync reads them; REST: detail, reviews and
//! commits) through the usual pull-request path; a renamed or transferred repository is read
//! again and its pull requests take its new name. The deployments and releases of the day
//! (and workflow runs, when they are the production rule) are read again for every
//! repository a `deployment`, `deployment_status`, `release` or `workflow_run` event names, and for every repository whose pull requests were read (a merge is
//! usually deployed soon after). `ping`, other `repository` actions (deleted, archived: the
//! next poll sees them) and events on repositories the integration does not read are
//! ignored.

use std::collections::BTreeSet;

use super::sync::GithubRun;
use crate::domain::SourceApi;
use crate::pipeline::sync::SyncContext;
use crate::pipeline::webhooks::Refreshed;
use crate::sources::pull_requests::tables as github;
use crate::store::raw::RawRecord;

/// A pull request as `(owner/name, number)`.
pub type PullRef = (String, u64);

/// What a batch of deliveries asks for.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub pulls: BTreeSet<PullRef>,
    /// Branches pushed to, as `(owner/name, branch)`.
    pub pushed: BTreeSet<(String, String)>,
    /// Repositories renamed or transferred, as `(new owner/name, old owner/name)`.
    pub renamed: BTreeSet<(String, String)>,
    /// Repositories whose deployments or releases changed.
    pub deployed: BTreeSet<String>,
    pub ignored: u64,
}

/// What the deliveries ask for.
pub fn plan(deliveries: &[RawRecord]) -> Plan {
    let mut plan = Plan::default();
    for delivery in deliveries {
        let event = delivery.extraction_metadata["event"]
            .as_str()
            .unwrap_or_default();
        let body = &delivery.raw_data;
        let repository = body["repository"]["full_name"].as_str().map(str::to_owned);
        let named = match (event, repository) {
            (
                "pull_request"
                | "pull_request_review"
                | "pull_request_review_comment"
                | "pull_request_review_thread",
                Some(repository),
            ) => body["pull_request"]["number"]
                .as_u64()
                .map(|number| plan.pulls.insert((repository, number))),
            ("issue_comment", Some(repository)) if body["issue"]["pull_request"].is_object() => {
                body["issue"]["number"]
                    .as_u64()
                    .map(|number| plan.pulls.insert((repository, number)))
            }
            ("deployment" | "deployment_status" | "release" | "workflow_run", Some(repository)) => {
                Some(plan.deployed.insert(repository))
            }
            ("push", Some(repository)) => body["ref"]
                .as_str()
                .and_then(|name| name.strip_prefix("refs/heads/"))
                .map(|branch| plan.pushed.insert((repository, branch.to_owned()))),
            ("repository", Some(repository))
                if matches!(body["action"].as_str(), Some("renamed" | "transferred")) =>
            {
                let old = match body["changes"]["repository"]["name"]["from"].as_str() {
                    Some(name) => match repository.split_once('/') {
                        Some((owner, _)) => format!("{owner}/{name}"),
                        None => name.to_owned(),
                    },
                    None => repository.clone(),
                };
                Some(plan.renamed.insert((repository, old)))
            }
            _ => None,
        };
        if named.is_none() {
            plan.ignored += 1;
        }
    }
    plan
}

/// Whether the integration reads `repository` (all when none are configured).
fn reads(configured: &[String], repository: &str) -> bool {
    configured.is_empty()
        || configured
            .iter()
            .any(|name| name.eq_ignore_ascii_case(repository))
}

/// Reads again the pull requests the deliveries name.
pub async fn refresh(
    context: &SyncContext<'_>,
    deliveries: &[RawRecord],
) -> anyhow::Result<Refreshed> {
    let mut plan = plan(deliveries);
    let scope = context.scope;
    let (integration, client) = super::client(
        context.pool,
        context.reach,
        scope.tenant_id,
        scope.integration_id,
    )
    .await?;
    let configured = &integration.settings.repos;
    for (repository, branch) in &plan.pushed {
        let numbers =
            github::open_pulls_on_branch(context.pool, scope.integration(), (repository, branch))
                .await?;
        for number in numbers {
            plan.pulls.insert((
                repository.clone(),
                u64::try_from(number).unwrap_or_default(),
            ));
        }
    }
    let before = plan.pulls.len() + plan.renamed.len() + plan.deployed.len();
    plan.pulls
        .retain(|(repository, _)| reads(configured, repository));
    plan.renamed
        .retain(|(new, old)| reads(configured, new) || reads(configured, old));
    plan.deployed
        .retain(|repository| reads(configured, repository));
    let after = plan.pulls.len() + plan.renamed.len() + plan.deployed.len();
    plan.deployed
        .extend(plan.pulls.iter().map(|(repository, _)| repository.clone()));
    let mut done = Refreshed {
        ignored: plan.ignored + (before - after) as u64,
        ..Refreshed::default()
    };
    if plan.pulls.is_empty() && plan.renamed.is_empty() && plan.deployed.is_empty() {
        return Ok(done);
    }
    let run = GithubRun {
        pool: context.pool,
        handoff: context.handoff,
        client: client.clone(),
        scope,
        repositories: configured.clone(),
        api: integration.settings.api.unwrap_or(SourceApi::Graphql),
        since: None,
        full: false,
    };
    let renamed: Vec<String> = plan.renamed.into_iter().map(|(new, _)| new).collect();
    done.refreshed += run.refresh_repositories(&renamed).await?;
    let wanted: Vec<PullRef> = plan.pulls.into_iter().collect();
    if !wanted.is_empty() {
        done.refreshed += run.refresh_pulls(&wanted).await?.report.extracted;
    }
    let deployed: Vec<String> = plan.deployed.into_iter().collect();
    if !deployed.is_empty() {
        let today = chrono::Utc::now();
        let read = run
            .read_deployments(&deployed, &integration.settings.delivery, Some(today))
            .await?;
        done.refreshed += read.extracted;
    }
    done.requests = client.http().stats.snapshot().requests;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::RawId;
    use serde_json::{json, Value};

    fn fixture(name: &str) -> RawRecord {
        let path = format!(
            "{}/../shared/fixtures/webhooks/github/{name}.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let event = name.split('.').next().unwrap_or_default();
        let body: Value = std::fs::read(&path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_else(|| json!({}));
        RawRecord {
            id: RawId(1),
            kind: "github_webhook".into(),
            external_id: Some(name.into()),
            raw_data: body,
            extraction_metadata: json!({"event": event}),
        }
    }

    #[test]
    fn githubs_example_deliveries_name_their_pull_requests() {
        let names = [
            "pull_request.opened",
            "pull_request.synchronize",
            "pull_request_review.submitted",
            "pull_request_review_comment.created",
            "pull_request_review_thread.resolved",
            "issue_comment.created",
            "push",
            "ping",
            "repository.renamed",
        ];
        let deliveries: Vec<RawRecord> = names.iter().map(|n| fixture(n)).collect();
        if deliveries.iter().any(|d| d.raw_data == json!({})) {
            // The shared fixtures are not next to this checkout (a packaged build).
            return;
        }
        let plan = plan(&deliveries);
        assert!(plan
            .pulls
            .iter()
            .all(|(repository, _)| repository == "Codertocat/Hello-World"));
        assert!(!plan.pulls.is_empty());
        // The example push is to a tag: no branch; the issue comment is on an issue.
        assert!(plan.pushed.is_empty());
        assert_eq!(plan.ignored, 3, "push to a tag, ping, issue comment");
        assert_eq!(
            plan.renamed,
            BTreeSet::from([(
                "Octocoders/Hello-World".to_string(),
                "Octocoders/Hello-World".to_string()
            )])
        );
    }

    #[test]
    fn a_push_to_a_branch_and_a_comment_on_a_pull_request_count() {
        let delivery = |event: &str, body: Value| RawRecord {
            extraction_metadata: json!({"event": event}),
            raw_data: body,
            ..fixture("none")
        };
        let repository = json!({"full_name": "org/api"});
        let plan = plan(&[
            delivery(
                "push",
                json!({"ref": "refs/heads/feature/x", "repository": repository}),
            ),
            delivery(
                "issue_comment",
                json!({"issue": {"number": 7, "pull_request": {}}, "repository": repository}),
            ),
        ]);
        assert_eq!(
            plan.pushed,
            BTreeSet::from([("org/api".into(), "feature/x".into())])
        );
        assert_eq!(plan.pulls, BTreeSet::from([("org/api".into(), 7)]));
        let deployed = super::plan(&[
            delivery(
                "deployment_status",
                json!({"deployment_status": {"state": "success"}, "repository": repository}),
            ),
            delivery(
                "release",
                json!({"action": "published", "repository": {"full_name": "org/web"}}),
            ),
            delivery("deployment_status", json!({})),
        ]);
        assert_eq!(
            deployed.deployed,
            BTreeSet::from(["org/api".into(), "org/web".into()])
        );
        assert_eq!(deployed.ignored, 1, "an event naming no repository");
        assert!(reads(&[], "org/api"));
        assert!(reads(&["ORG/api".into()], "org/api"));
        assert!(!reads(&["org/web".into()], "org/api"));
    }
}
