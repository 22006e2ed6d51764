//! Where vectors live: the [`VectorStore`] trait, one collection per tenant and model, each
//! point holding a record's dense vector (its meaning) and its sparse lexical vector (its
//! words, see [`crate::search::terms`]), with two backends — the Qdrant engine embedded in this process ([`edge`], under the data
//! directory) and a Qdrant server over gRPC ([`server`]).

pub mod edge;
pub mod server;

use std::path::Path;
use std::sync::Arc;

use futures_util::future::BoxFuture;
use uuid::Uuid;

use crate::domain::TenantId;
use crate::search::terms::SparseTerms;

/// Why the vector store failed.
#[derive(Debug, thiserror::Error)]
pub enum VectorError {
    #[error("vector store: {0}")]
    Store(String),
    #[error("collection {name} holds vectors of {existing} dimensions, not {wanted}")]
    Dimensions {
        name: String,
        existing: usize,
        wanted: usize,
    },
    #[error(
        "collection {0} has no lexical vector: rebuild it (`pulse-etl vectors rebuild --all`)"
    )]
    NoLexical(String),
}

/// Fixed namespace of point ids (UUID v5 of tenant, table and record).
const POINT_NAMESPACE: Uuid = Uuid::from_u128(0x6d1c_2f0e_8b4a_4f7e_9c3d_5a1b_2e8f_7c40);

/// The point id of a record: the same record always gets the same id, so writing it again
/// overwrites, never duplicates.
pub fn point_id(tenant: TenantId, table: &str, record_id: i64) -> Uuid {
    Uuid::new_v5(
        &POINT_NAMESPACE,
        format!("{}:{table}:{record_id}", tenant.get()).as_bytes(),
    )
}

/// The name of the sparse lexical vector in every collection (the dense one is unnamed).
pub const LEXICAL_VECTOR: &str = "lexical";

/// The collection of a tenant's vectors made by `model`: `pulse_h_t{tenant}_{model slug}`
/// (`h`: hybrid, a dense and a lexical vector per point; collections named before the
/// lexical vector, `pulse_t…`, are rebuilt under the new name by a migration).
pub fn collection_name(tenant: TenantId, model: &str) -> String {
    let slug: String = model
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("pulse_h_t{}_{slug}", tenant.get())
}

/// Whether `collection` was made with the lexical vector (named `pulse_h_…`; an older
/// collection is searched by meaning only until its rebuild completes).
pub fn has_lexical(collection: &str) -> bool {
    collection.starts_with("pulse_h_")
}

/// What a point carries besides its vector: whose it is and what search filters on.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    pub tenant_id: i64,
    /// The record's provider, upper case (`JIRA`, `GITHUB`, `AZURE_DEVOPS`).
    pub source_type: String,
    pub table_name: &'static str,
    pub record_id: i64,
    /// Project key (Jira) or repository full name (GitHub), under `project` or
    /// `repository` as `source_type` says.
    pub scope: Option<String>,
    pub kind: Option<String>,
    pub status: Option<String>,
    /// `new`, `indeterminate` or `done`.
    pub status_category: Option<String>,
    pub assignee: Option<String>,
    /// When the item last changed at its source.
    pub updated: Option<chrono::DateTime<chrono::Utc>>,
}

impl Payload {
    /// The payload key the scope is stored under.
    pub fn scope_key(&self) -> &'static str {
        if self.source_type == "GITHUB" {
            "repository"
        } else {
            "project"
        }
    }

    /// As a JSON object.
    pub fn to_json(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut map = serde_json::Map::new();
        map.insert("tenant_id".into(), self.tenant_id.into());
        map.insert("source_type".into(), self.source_type.clone().into());
        map.insert("table_name".into(), self.table_name.into());
        map.insert("record_id".into(), self.record_id.into());
        let optional = [
            (self.scope_key(), &self.scope),
            ("type", &self.kind),
            ("status", &self.status),
            ("status_category", &self.status_category),
            ("assignee", &self.assignee),
        ];
        for (key, value) in optional {
            if let Some(value) = value {
                map.insert(key.into(), value.clone().into());
            }
        }
        if let Some(updated) = self.updated {
            map.insert("updated".into(), updated.to_rfc3339().into());
            map.insert(UPDATED_SECONDS.into(), updated.timestamp().into());
        }
        map
    }
}

/// The payload key of `updated` as Unix seconds, for range filters.
pub const UPDATED_SECONDS: &str = "updated_s";

/// Payload fields indexed for filtering, with whether they hold integers.
pub const INDEXED_FIELDS: [(&str, bool); 10] = [
    ("tenant_id", true),
    ("source_type", false),
    ("table_name", false),
    ("project", false),
    ("repository", false),
    ("type", false),
    ("status", false),
    ("status_category", false),
    ("assignee", false),
    (UPDATED_SECONDS, true),
];

/// A point to write.
#[derive(Debug, Clone)]
pub struct Point {
    pub id: Uuid,
    pub vector: Vec<f32>,
    pub terms: SparseTerms,
    pub payload: Payload,
}

/// What a search looks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Probe {
    /// Points nearest this dense vector (cosine).
    Meaning(Vec<f32>),
    /// Points sharing these terms, weighted by how rare each is (BM25-style).
    Words(SparseTerms),
}

/// What a search is limited to; the tenant always.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchFilter {
    pub tenant_id: TenantId,
    /// A provider, upper case (`JIRA`, `GITHUB`, `AZURE_DEVOPS`).
    pub source_type: Option<String>,
    /// A project key or repository full name.
    pub scope: Option<String>,
    /// Issue type (`Bug`) or `Pull request`.
    pub kind: Option<String>,
    pub status: Option<String>,
    /// `new`, `indeterminate` or `done`.
    pub status_category: Option<String>,
    pub assignee: Option<String>,
    /// Changed at its source at or after this time (Unix seconds).
    pub updated_from: Option<i64>,
    /// Changed at its source at or before this time (Unix seconds).
    pub updated_to: Option<i64>,
}

impl SearchFilter {
    /// Only the tenant.
    pub fn tenant(tenant_id: TenantId) -> Self {
        SearchFilter {
            tenant_id,
            source_type: None,
            scope: None,
            kind: None,
            status: None,
            status_category: None,
            assignee: None,
            updated_from: None,
            updated_to: None,
        }
    }

    /// The conditions every point found must meet, for a backend to translate.
    pub fn conditions(&self) -> Conditions {
        let mut must = vec![Condition::Equals(
            "tenant_id",
            Value::Integer(self.tenant_id.get()),
        )];
        let keywords = [
            ("source_type", self.source_type.clone()),
            ("type", self.kind.clone()),
            ("status", self.status.clone()),
            ("status_category", self.status_category.clone()),
            ("assignee", self.assignee.clone()),
        ];
        for (field, value) in keywords {
            if let Some(value) = value {
                must.push(Condition::Equals(field, Value::Keyword(value)));
            }
        }
        if self.updated_from.is_some() || self.updated_to.is_some() {
            must.push(Condition::Between(
                UPDATED_SECONDS,
                self.updated_from,
                self.updated_to,
            ));
        }
        // A scope is a project key or a repository name, whichever the point has.
        let any_of = match &self.scope {
            Some(scope) => ["project", "repository"]
                .into_iter()
                .map(|field| Condition::Equals(field, Value::Keyword(scope.clone())))
                .collect(),
            None => Vec::new(),
        };
        Conditions { must, any_of }
    }
}

/// A payload value a condition compares with.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Integer(i64),
    Keyword(String),
}

/// One condition on a payload field.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    Equals(&'static str, Value),
    /// An integer field within bounds, both inclusive, either open.
    Between(&'static str, Option<i64>, Option<i64>),
}

/// A search's conditions: all of `must`, and one of `any_of` when it is not empty.
#[derive(Debug, Clone, PartialEq)]
pub struct Conditions {
    pub must: Vec<Condition>,
    pub any_of: Vec<Condition>,
}

/// One search result: the record a point stands for, and its score.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub table_name: String,
    pub record_id: i64,
    pub score: f32,
}

impl Hit {
    /// The hit a found point's payload names (None: not one of ours).
    pub fn from_payload(
        payload: &serde_json::Map<String, serde_json::Value>,
        score: f32,
    ) -> Option<Hit> {
        Some(Hit {
            table_name: payload.get("table_name")?.as_str()?.to_owned(),
            record_id: payload.get("record_id")?.as_i64()?,
            score,
        })
    }
}

/// A store of per-tenant collections of points.
pub trait VectorStore: Send + Sync {
    /// Creates `collection` for dense vectors of `dimensions` (cosine distance) and the
    /// lexical sparse vector (inverse document frequency applied) with the payload indexes,
    /// unless it exists; an existing one of another dimension is an error.
    fn ensure_collection<'a>(
        &'a self,
        collection: &'a str,
        dimensions: usize,
    ) -> BoxFuture<'a, Result<(), VectorError>>;

    /// Writes points, replacing those with the same ids; durable when it returns.
    fn upsert<'a>(
        &'a self,
        collection: &'a str,
        points: Vec<Point>,
    ) -> BoxFuture<'a, Result<(), VectorError>>;

    /// Removes points (missing ones are no error).
    fn delete<'a>(
        &'a self,
        collection: &'a str,
        ids: Vec<Uuid>,
    ) -> BoxFuture<'a, Result<(), VectorError>>;

    /// Replaces the payloads of existing points (a record whose text, hence vectors, did not
    /// change but whose filtered fields did); missing points are no error.
    fn set_payloads<'a>(
        &'a self,
        collection: &'a str,
        payloads: Vec<(Uuid, Payload)>,
    ) -> BoxFuture<'a, Result<(), VectorError>>;

    /// The `limit` best points for `probe` that pass `filter`, best first.
    fn search<'a>(
        &'a self,
        collection: &'a str,
        probe: Probe,
        filter: &'a SearchFilter,
        limit: usize,
    ) -> BoxFuture<'a, Result<Vec<Hit>, VectorError>>;

    /// The tenant's points in `collection` (0 when it does not exist).
    fn count<'a>(
        &'a self,
        collection: &'a str,
        tenant: TenantId,
    ) -> BoxFuture<'a, Result<u64, VectorError>>;

    /// Removes a whole collection (missing: no error).
    fn drop_collection<'a>(&'a self, collection: &'a str)
        -> BoxFuture<'a, Result<(), VectorError>>;

    /// Whether the store answers (for readiness).
    fn ping(&self) -> BoxFuture<'_, Result<(), VectorError>>;
}

/// The configured store: the Qdrant server at `qdrant_url`, or the embedded engine under
/// `data_dir` when the URL is empty.
pub fn open(qdrant_url: &str, data_dir: &Path) -> Result<Arc<dyn VectorStore>, VectorError> {
    if qdrant_url.trim().is_empty() {
        Ok(Arc::new(edge::EdgeStore::new(&data_dir.join("vectors"))))
    } else {
        Ok(Arc::new(server::ServerStore::connect(qdrant_url)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_ids_are_stable_and_distinct() {
        let a = point_id(TenantId(1), "work_items", 7);
        assert_eq!(a, point_id(TenantId(1), "work_items", 7));
        assert_ne!(a, point_id(TenantId(2), "work_items", 7));
        assert_ne!(a, point_id(TenantId(1), "prs", 7));
        assert_eq!(a.get_version_num(), 5);
    }

    #[test]
    fn collection_names_carry_tenant_and_model_slug() {
        assert_eq!(
            collection_name(TenantId(3), "all-MiniLM-L6-v2"),
            "pulse_h_t3_all_minilm_l6_v2"
        );
        assert_eq!(
            collection_name(TenantId(3), "text-embedding-3-small"),
            "pulse_h_t3_text_embedding_3_small"
        );
    }

    #[test]
    fn payload_puts_scope_under_project_or_repository() {
        let jira = Payload {
            tenant_id: 1,
            source_type: "JIRA".into(),
            table_name: "work_items",
            record_id: 2,
            scope: Some("CORE".into()),
            kind: None,
            status: Some("Done".into()),
            status_category: Some("done".into()),
            assignee: None,
            updated: chrono::DateTime::from_timestamp(1_700_000_000, 0),
        };
        let json = jira.to_json();
        assert_eq!(json["project"], "CORE");
        assert_eq!(json["status"], "Done");
        assert_eq!(json["status_category"], "done");
        assert_eq!(json[UPDATED_SECONDS], 1_700_000_000);
        assert_eq!(json["updated"], "2023-11-14T22:13:20+00:00");
        assert!(!json.contains_key("type"));
        assert!(!json.contains_key("assignee"));
        let github = Payload {
            source_type: "GITHUB".into(),
            ..jira
        };
        assert_eq!(github.to_json()["repository"], "CORE");
    }

    #[test]
    fn filters_always_hold_the_tenant_and_each_limit_given() {
        let bare = SearchFilter::tenant(TenantId(4)).conditions();
        assert_eq!(
            bare.must,
            [Condition::Equals("tenant_id", Value::Integer(4))]
        );
        assert!(bare.any_of.is_empty());
        let full = SearchFilter {
            source_type: Some("JIRA".into()),
            scope: Some("CORE".into()),
            status_category: Some("done".into()),
            updated_to: Some(10),
            ..SearchFilter::tenant(TenantId(4))
        }
        .conditions();
        assert_eq!(full.must.len(), 4);
        assert!(full
            .must
            .contains(&Condition::Between(UPDATED_SECONDS, None, Some(10))));
        assert_eq!(full.any_of.len(), 2);
    }
}
