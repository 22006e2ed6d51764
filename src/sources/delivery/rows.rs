//! The `deployments` row and its upsert: deployments and releases alike, each with the
//! commit it deployed and whether the integration's rule counts it as production.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::store::bulk::{Column, Upsert};
use crate::store::load_batches::{LoadRow, LoadTable};

/// What a deployment row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DeploymentKind {
    Deployment,
    Release,
    WorkflowRun,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeploymentRow {
    /// `deployment:<id>`, `release:<id>` or `workflow_run:<id>`.
    pub external_id: String,
    pub repository_full_name: String,
    pub kind: DeploymentKind,
    pub environment: Option<String>,
    /// `success`, `failure` or `error`; None while it runs.
    pub outcome: Option<String>,
    pub description: Option<String>,
    pub ref_name: Option<String>,
    pub commit_sha: Option<String>,
    pub commit_committed_at: Option<DateTime<Utc>>,
    pub deployment_created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub deployment_updated_at: Option<DateTime<Utc>>,
    pub is_production: bool,
}

pub static DEPLOYMENTS: LoadTable = LoadTable {
    after_load: None,
    // After the repositories they belong to.
    order: 1,
    upsert: Upsert {
        table: "deployments",
        record: &[
            ("external_id", "text"),
            ("repository_full_name", "text"),
            ("kind", "text"),
            ("environment", "text"),
            ("outcome", "text"),
            ("description", "text"),
            ("ref_name", "text"),
            ("commit_sha", "text"),
            ("commit_committed_at", "timestamptz"),
            ("deployment_created_at", "timestamptz"),
            ("finished_at", "timestamptz"),
            ("deployment_updated_at", "timestamptz"),
            ("is_production", "boolean"),
        ],
        copied: &[
            "external_id",
            "kind",
            "environment",
            "outcome",
            "description",
            "ref_name",
            "commit_sha",
            "commit_committed_at",
            "deployment_created_at",
            "finished_at",
            "deployment_updated_at",
            "is_production",
        ],
        computed: &[Column {
            name: "repository_id",
            value: "rp.id",
        }],
        joins: "JOIN repositories rp ON rp.tenant_id = $1 AND rp.integration_id = $2 AND rp.full_name = r.repository_full_name",
        conflict_key: &["external_id"],
        // An older copy never overwrites a newer one; a rule change (reprocess) rewrites
        // `is_production` on equal copies.
        guard: Some("excluded.deployment_updated_at IS NULL OR deployments.deployment_updated_at IS NULL OR excluded.deployment_updated_at >= deployments.deployment_updated_at"),
    },
};

impl LoadRow for DeploymentRow {
    const TABLE: &'static LoadTable = &DEPLOYMENTS;

    fn dedup_key(&self) -> &str {
        &self.external_id
    }
}
