//! The message body every stage exchanges, with the seed field names (`seeds/004`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::Provider;

/// Bumped when the body changes incompatibly.
pub const MESSAGE_VERSION: u32 = 1;

/// The `type` of extraction work: run the sync job `job_id`.
pub const SYNC_JOB: &str = "sync_job";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageMessage {
    pub version: u32,
    pub tenant_id: i64,
    pub integration_id: i64,
    pub job_id: Option<i64>,
    /// What the work is about, e.g. the raw row kind `jira_issue`.
    #[serde(rename = "type")]
    pub kind: String,
    pub provider: Provider,
    pub last_sync_date: Option<DateTime<Utc>>,
    pub first_item: bool,
    pub last_item: bool,
    pub last_job_item: bool,
    /// Transform work: the raw rows to read (one API page's entities), never the payloads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub raw_data_ids: Vec<i64>,
    /// Load work: the saved batch of transformed rows (`load_batches`) to load; the
    /// message keeps the `raw_data_ids` it was transformed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_batch_id: Option<i64>,
    /// Extraction work: when the scheduler claimed the job, so that only one extract worker
    /// runs it even if the message is delivered twice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_uses_the_seed_field_names() {
        let message = StageMessage {
            version: MESSAGE_VERSION,
            tenant_id: 1,
            integration_id: 2,
            job_id: Some(3),
            kind: "jira_issue".into(),
            provider: Provider::Jira,
            last_sync_date: None,
            first_item: true,
            last_item: false,
            last_job_item: false,
            raw_data_ids: vec![7, 8],
            load_batch_id: Some(9),
            claimed_at: Some(Utc::now()),
        };
        let json = serde_json::to_value(&message).unwrap();
        for key in [
            "version",
            "tenant_id",
            "integration_id",
            "job_id",
            "type",
            "provider",
            "last_sync_date",
            "first_item",
            "last_item",
            "last_job_item",
            "raw_data_ids",
            "load_batch_id",
            "claimed_at",
        ] {
            assert!(json.get(key).is_some(), "{key}");
        }
        assert_eq!(json["provider"], "jira");
        let back: StageMessage = serde_json::from_value(json).unwrap();
        assert_eq!(back, message);
    }
}
