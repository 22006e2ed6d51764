//! The message body every stage exchanges: who and what it is about, with the field names
//! the earlier system used (`tenant_id`, `integration_id`, `job_id`, `type`, `provider`,
//! `last_sync_date`, `first_item`, `last_item`, `last_job_item`), and the work it asks for
//! as a tagged enum (`"work": "sync_job" | "transform" | "load" | "embed"`). Bodies carry a
//! `version`; an older body is read into today's shape, an unknown one refused by name.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{IntegrationId, JobId, LoadBatchId, Provider, RawId, Scope, TenantId};

/// The body version this build writes.
pub const MESSAGE_VERSION: u32 = 2;

/// The `type` of extraction work: run the sync job `job_id`.
pub const SYNC_JOB: &str = "sync_job";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageMessage {
    pub version: u32,
    pub tenant_id: TenantId,
    pub integration_id: IntegrationId,
    pub job_id: Option<JobId>,
    /// What the work is about, e.g. the raw row kind `jira_issue`, or `sync_job`.
    #[serde(rename = "type")]
    pub kind: String,
    pub provider: Provider,
    pub last_sync_date: Option<DateTime<Utc>>,
    pub first_item: bool,
    pub last_item: bool,
    pub last_job_item: bool,
    #[serde(flatten)]
    pub work: Work,
}

/// The work a message asks of the stage that receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "work", rename_all = "snake_case")]
pub enum Work {
    /// Extraction: run the sync job `job_id`. `claimed_at`: when the scheduler claimed it,
    /// so that only one extract worker runs it even if the message is delivered twice.
    SyncJob {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        claimed_at: Option<DateTime<Utc>>,
    },
    /// Transform the raw rows of one API page's entities (ids, never the payloads); none in
    /// a step's end marker.
    Transform { raw_data_ids: Vec<RawId> },
    /// Load the saved batch of transformed rows, made from `raw_data_ids`.
    Load {
        load_batch_id: LoadBatchId,
        raw_data_ids: Vec<RawId>,
    },
    /// Embed (or remove the vectors of) records of `table_name` by id; the worker reads
    /// them from PostgreSQL, never from the message.
    Embed {
        table_name: String,
        record_ids: Vec<i64>,
        operation: EmbedOperation,
    },
}

/// What an embed message asks for its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EmbedOperation {
    /// Embed the records whose text changed and store their vectors.
    Upsert,
    /// Remove the vectors of records that are gone.
    Delete,
}

impl StageMessage {
    /// Whose work it is, and for which job.
    pub fn scope(&self) -> Scope {
        Scope {
            tenant_id: self.tenant_id,
            integration_id: self.integration_id,
            job_id: self.job_id,
        }
    }

    /// The raw rows the work is about (none for a sync job).
    pub fn raw_data_ids(&self) -> &[RawId] {
        match &self.work {
            Work::SyncJob { .. } | Work::Embed { .. } => &[],
            Work::Transform { raw_data_ids } | Work::Load { raw_data_ids, .. } => raw_data_ids,
        }
    }

    /// SHA-256 of the message as this build writes it: the same work has the same digest
    /// whichever version its body was (the dead-letter records' key).
    pub fn digest(&self) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        let body = serde_json::to_vec(self).unwrap_or_default();
        Sha256::digest(&body).into()
    }

    /// Reads a body of this version or an older one.
    pub fn decode(body: &[u8]) -> Result<StageMessage, DecodeError> {
        #[derive(Deserialize)]
        struct Versioned {
            version: u32,
        }
        let Versioned { version } = serde_json::from_slice(body)?;
        match version {
            MESSAGE_VERSION => Ok(serde_json::from_slice(body)?),
            1 => Ok(serde_json::from_slice::<MessageV1>(body)?.into()),
            other => Err(DecodeError::Version(other)),
        }
    }
}

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    #[error("message version {0} is not one this build reads (1 to {MESSAGE_VERSION}); a newer pulse-etl wrote it")]
    Version(u32),
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

/// Version 1: one flat body, the work told apart by which optional fields were set.
#[derive(Deserialize)]
struct MessageV1 {
    tenant_id: TenantId,
    integration_id: IntegrationId,
    job_id: Option<JobId>,
    #[serde(rename = "type")]
    kind: String,
    provider: Provider,
    last_sync_date: Option<DateTime<Utc>>,
    first_item: bool,
    last_item: bool,
    last_job_item: bool,
    #[serde(default)]
    raw_data_ids: Vec<RawId>,
    #[serde(default)]
    load_batch_id: Option<LoadBatchId>,
    #[serde(default)]
    claimed_at: Option<DateTime<Utc>>,
}

impl From<MessageV1> for StageMessage {
    fn from(old: MessageV1) -> Self {
        let work = match (old.kind == SYNC_JOB, old.load_batch_id) {
            (true, _) => Work::SyncJob {
                claimed_at: old.claimed_at,
            },
            (false, Some(load_batch_id)) => Work::Load {
                load_batch_id,
                raw_data_ids: old.raw_data_ids,
            },
            (false, None) => Work::Transform {
                raw_data_ids: old.raw_data_ids,
            },
        };
        StageMessage {
            version: MESSAGE_VERSION,
            tenant_id: old.tenant_id,
            integration_id: old.integration_id,
            job_id: old.job_id,
            kind: old.kind,
            provider: old.provider,
            last_sync_date: old.last_sync_date,
            first_item: old.first_item,
            last_item: old.last_item,
            last_job_item: old.last_job_item,
            work,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn transform() -> StageMessage {
        StageMessage {
            version: MESSAGE_VERSION,
            tenant_id: TenantId(1),
            integration_id: IntegrationId(2),
            job_id: Some(JobId(3)),
            kind: "jira_issue".into(),
            provider: Provider::Jira,
            last_sync_date: None,
            first_item: true,
            last_item: false,
            last_job_item: false,
            work: Work::Transform {
                raw_data_ids: vec![RawId(7), RawId(8)],
            },
        }
    }

    #[test]
    fn body_uses_the_seed_field_names_and_tags_its_work() {
        let load = StageMessage {
            work: Work::Load {
                load_batch_id: LoadBatchId(9),
                raw_data_ids: vec![RawId(7), RawId(8)],
            },
            ..transform()
        };
        let json = serde_json::to_value(&load).unwrap();
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
        ] {
            assert!(json.get(key).is_some(), "{key}");
        }
        assert_eq!(json["work"], "load");
        assert_eq!(json["provider"], "jira");
        let body = serde_json::to_vec(&load).unwrap();
        assert_eq!(StageMessage::decode(&body).unwrap(), load);
        assert_eq!(load.raw_data_ids(), &[RawId(7), RawId(8)]);
    }

    #[test]
    fn version_1_bodies_are_read_into_todays_work() {
        let old = |extra: serde_json::Value| {
            let mut body = json!({
                "version": 1, "tenant_id": 1, "integration_id": 2, "job_id": 3,
                "type": "jira_issue", "provider": "jira", "last_sync_date": null,
                "first_item": true, "last_item": false, "last_job_item": false,
            });
            for (key, value) in extra.as_object().unwrap() {
                body[key] = value.clone();
            }
            StageMessage::decode(&serde_json::to_vec(&body).unwrap()).unwrap()
        };
        assert_eq!(old(json!({"raw_data_ids": [7, 8]})), transform());
        assert_eq!(
            old(json!({"raw_data_ids": [7], "load_batch_id": 9})).work,
            Work::Load {
                load_batch_id: LoadBatchId(9),
                raw_data_ids: vec![RawId(7)]
            }
        );
        let at = "2026-01-02T03:04:05Z";
        assert_eq!(
            old(json!({"type": "sync_job", "claimed_at": at})).work,
            Work::SyncJob {
                claimed_at: Some(at.parse().unwrap())
            }
        );
    }

    #[test]
    fn embed_work_names_table_ids_and_operation() {
        let embed = StageMessage {
            kind: "work_items".into(),
            work: Work::Embed {
                table_name: "work_items".into(),
                record_ids: vec![4, 5],
                operation: EmbedOperation::Delete,
            },
            ..transform()
        };
        let json = serde_json::to_value(&embed).unwrap();
        assert_eq!(json["work"], "embed");
        assert_eq!(json["table_name"], "work_items");
        assert_eq!(json["record_ids"], json!([4, 5]));
        assert_eq!(json["operation"], "delete");
        let body = serde_json::to_vec(&embed).unwrap();
        assert_eq!(StageMessage::decode(&body).unwrap(), embed);
        assert!(embed.raw_data_ids().is_empty());
    }

    #[test]
    fn an_unknown_version_is_refused_by_name() {
        let body = serde_json::to_vec(&json!({"version": 9, "tenant_id": 1})).unwrap();
        let error = StageMessage::decode(&body).unwrap_err();
        assert!(error.to_string().contains("version 9"), "{error}");
    }
}
