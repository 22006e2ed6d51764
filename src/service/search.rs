//! Search over a tenant's work items and pull requests, shared by the CLI, the API and the
//! MCP tools. `hybrid` (the default) fuses two rankings of the tenant's active collection
//! (see [`crate::search::fusion`]): the lexical one (the query's words and character pairs,
//! BM25-style) and the semantic one (the query embedded with the collection's model).
//! `semantic` and `lexical` use one ranking. In every mode a key in the query (`CORE-12`,
//! `org/repo#45`) puts its record first, then records whose title is the whole query
//! (compared without case, spaces or invisible characters), then records holding every
//! quoted phrase; the tenant and the filters apply to all of them. Hits are joined to their records in
//! PostgreSQL (a record deleted since it was indexed is left out).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

use super::vectors::provider_error;
use super::{ServiceError, ServiceResult};
use crate::domain::{Provider, TenantId};
use crate::embedding::text::Document;
use crate::pipeline::embed_stage::Embedding;
use crate::pipeline::source::Catalog;
use crate::search::fusion::{fuse, Fused, Fusion, MatchedBy};
use crate::search::query::{self, ParsedQuery};
use crate::search::terms::query_vector;
use crate::search::SearchMode;
use crate::store::vectors::{self, CollectionSettings, EmbedTable};
use crate::vectors::{has_lexical, Hit, Probe, SearchFilter};

/// Most results one search returns.
pub const MAX_RESULTS: usize = 100;

/// Status categories a filter may name.
pub const STATUS_CATEGORIES: [&str; 3] = ["new", "indeterminate", "done"];

/// A search: words, a mode, and limits on what may be found.
#[derive(Debug, Clone, Default)]
pub struct SearchQuery {
    pub text: String,
    pub mode: SearchMode,
    pub source: Option<Provider>,
    /// A Jira project key or GitHub repository (owner/name).
    pub project: Option<String>,
    /// Issue type, or `Pull request`.
    pub kind: Option<String>,
    pub status: Option<String>,
    /// `new`, `indeterminate` or `done`.
    pub status_category: Option<String>,
    pub assignee: Option<String>,
    pub updated_from: Option<DateTime<Utc>>,
    pub updated_to: Option<DateTime<Utc>>,
    pub limit: usize,
    /// How hybrid mode fuses its rankings (the callers keep the default; the quality
    /// benchmark compares both).
    pub fusion: Fusion,
}

/// A record found, best first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SearchHit {
    /// `jira` or `github`.
    pub source: String,
    /// `work_items` or `prs`.
    pub table: String,
    pub record_id: i64,
    /// `CORE-12` or `org/repo#34`.
    pub key: String,
    pub title: Option<String>,
    pub status: Option<String>,
    /// Project key or repository full name.
    pub project: Option<String>,
    pub url: Option<String>,
    /// How well it matched, in the mode's own measure: hybrid, the fused score (0 to 1);
    /// semantic, the cosine similarity; lexical, the BM25-style score. A record
    /// whose key the query names scores 0 when no ranking found it.
    pub score: f64,
    /// Why it was found.
    pub matched: MatchedBy,
}

/// A record as the rankings name it.
type RecordRef = (String, i64);

/// Searches the tenant's active collection.
pub async fn search(
    pool: &PgPool,
    sources: Catalog,
    embedding: &Embedding,
    tenant: TenantId,
    query: &SearchQuery,
) -> ServiceResult<Vec<SearchHit>> {
    let filter = validate(tenant, query)?;
    let parsed = query::parse(&query.text);
    let Some(active) = vectors::active(pool, tenant).await? else {
        return Err(ServiceError::Conflict(
            "this tenant has no complete vector index yet: set one with `pulse-etl embedding set`, then sync (or run `pulse-etl vectors rebuild`)".into(),
        ));
    };
    // Enough candidates from each ranking that fusion and the phrase rule have room.
    let depth = (query.limit * 3).clamp(30, 3 * MAX_RESULTS);
    let lexical = match query.mode {
        SearchMode::Semantic => Vec::new(),
        _ if !has_lexical(&active.collection) => {
            if query.mode == SearchMode::Lexical {
                return Err(ServiceError::Conflict(
                    "this tenant's index predates lexical search and is being rebuilt: use mode=semantic until `pulse-etl vectors rebuild` completes".into(),
                ));
            }
            Vec::new()
        }
        _ => words(embedding, &active, &parsed, &filter, depth).await?,
    };
    let semantic = match query.mode {
        SearchMode::Lexical => Vec::new(),
        _ => meaning(embedding, &active, &parsed, &filter, depth).await?,
    };
    let ranked = match query.mode {
        SearchMode::Hybrid => fuse(query.fusion, &scored(&lexical), &scored(&semantic)),
        SearchMode::Semantic => as_ranked(semantic, MatchedBy::Semantic),
        SearchMode::Lexical => as_ranked(lexical, MatchedBy::Lexical),
    };
    let keyed = keyed_records(pool, sources, tenant, &filter, &parsed).await?;
    let documents = documents(pool, sources, tenant, ranked.iter().map(|r| &r.record)).await?;
    let mut hits: Vec<(u8, Fused<RecordRef>)> = Vec::new();
    for (table, document) in &keyed {
        let record = (table.table.to_owned(), document.record_id);
        let score = ranked
            .iter()
            .find(|r| r.record == record)
            .map_or(0.0, |r| r.score);
        if hits.iter().all(|(_, hit)| hit.record != record) {
            hits.push((
                0,
                Fused {
                    record,
                    score,
                    matched: MatchedBy::Key,
                },
            ));
        }
    }
    let whole = query::comparable(&parsed.text);
    for fused in ranked {
        if hits.iter().any(|(_, hit)| hit.record == fused.record) {
            continue;
        }
        let Some((_, document)) = documents.get(&fused.record) else {
            continue;
        };
        let group = if document
            .title
            .as_deref()
            .is_some_and(|title| query::comparable(title) == whole)
        {
            1
        } else if holds_phrases(document, &parsed.phrases) {
            2
        } else {
            3
        };
        hits.push((group, fused));
    }
    // Keys, then exact titles, then phrase matches, then the rest, each group in ranking
    // order (a stable sort).
    hits.sort_by_key(|(group, _)| *group);
    let all: HashMap<RecordRef, (&'static EmbedTable, Document)> = documents
        .into_iter()
        .chain(
            keyed
                .into_iter()
                .map(|(table, d)| ((table.table.to_owned(), d.record_id), (table, d))),
        )
        .collect();
    Ok(hits
        .into_iter()
        .filter_map(|(_, fused)| {
            let (table, document) = all.get(&fused.record)?;
            Some(SearchHit {
                source: document.source_type.to_lowercase(),
                table: table.table.to_owned(),
                record_id: document.record_id,
                key: document.key.clone(),
                title: document.title.clone(),
                status: document.status.clone(),
                project: document.scope.clone(),
                url: document.url.clone(),
                score: fused.score,
                matched: fused.matched,
            })
        })
        .take(query.limit)
        .collect())
}

/// Where a person reads record `id` of `table` (None: no such live record).
pub async fn record_url(
    pool: &PgPool,
    sources: Catalog,
    tenant: TenantId,
    (table, id): (&str, i64),
) -> ServiceResult<Option<String>> {
    let Some(table) = sources.embed_table(table) else {
        return Ok(None);
    };
    Ok(vectors::documents(pool, table, tenant, &[id])
        .await?
        .pop()
        .and_then(|document| document.url))
}

/// Checks the query and turns its limits into the vector store's filter.
fn validate(tenant: TenantId, query: &SearchQuery) -> ServiceResult<SearchFilter> {
    let invalid = |field, message: String| ServiceError::Invalid { field, message };
    if query.text.trim().is_empty() {
        return Err(invalid("q", "say what to look for".into()));
    }
    if query.limit == 0 || query.limit > MAX_RESULTS {
        return Err(invalid("limit", format!("must be 1 to {MAX_RESULTS}")));
    }
    if let Some(category) = &query.status_category {
        if !STATUS_CATEGORIES.contains(&category.as_str()) {
            return Err(invalid(
                "status_category",
                format!("must be one of {}", STATUS_CATEGORIES.join(", ")),
            ));
        }
    }
    if let (Some(from), Some(to)) = (query.updated_from, query.updated_to) {
        if from > to {
            return Err(invalid(
                "updated_from",
                "must not be after updated_to".into(),
            ));
        }
    }
    let given = |value: &Option<String>| value.clone().filter(|v| !v.trim().is_empty());
    Ok(SearchFilter {
        tenant_id: tenant,
        source_type: query.source.map(|p| p.as_str().to_uppercase()),
        scope: given(&query.project),
        kind: given(&query.kind),
        status: given(&query.status),
        status_category: given(&query.status_category),
        assignee: given(&query.assignee),
        updated_from: query.updated_from.map(|at| at.timestamp()),
        updated_to: query.updated_to.map(|at| at.timestamp()),
    })
}

/// The lexical ranking (empty when the query has no terms).
async fn words(
    embedding: &Embedding,
    active: &CollectionSettings,
    parsed: &ParsedQuery,
    filter: &SearchFilter,
    depth: usize,
) -> ServiceResult<Vec<Hit>> {
    let terms = query_vector(&parsed.text);
    if terms.is_empty() {
        return Ok(Vec::new());
    }
    embedding
        .store
        .search(&active.collection, Probe::Words(terms), filter, depth)
        .await
        .map_err(|error| ServiceError::internal(error, "searching the vector store"))
}

/// The semantic ranking: the query embedded with the collection's model.
async fn meaning(
    embedding: &Embedding,
    active: &CollectionSettings,
    parsed: &ParsedQuery,
    filter: &SearchFilter,
    depth: usize,
) -> ServiceResult<Vec<Hit>> {
    let embedder = embedding
        .embedders
        .for_collection(active)
        .await
        .map_err(provider_error)?;
    let vector = embedder
        .embed(std::slice::from_ref(&parsed.text))
        .await
        .map_err(provider_error)?
        .pop()
        .unwrap_or_default();
    embedding
        .store
        .search(&active.collection, Probe::Meaning(vector), filter, depth)
        .await
        .map_err(|error| ServiceError::internal(error, "searching the vector store"))
}

fn scored(hits: &[Hit]) -> Vec<(RecordRef, f64)> {
    hits.iter()
        .map(|hit| {
            (
                (hit.table_name.clone(), hit.record_id),
                f64::from(hit.score),
            )
        })
        .collect()
}

/// One ranking as it is, with its own scores.
fn as_ranked(hits: Vec<Hit>, matched: MatchedBy) -> Vec<Fused<RecordRef>> {
    hits.into_iter()
        .map(|hit| Fused {
            record: (hit.table_name, hit.record_id),
            score: f64::from(hit.score),
            matched,
        })
        .collect()
}

/// The live records whose keys the query names and that pass the filter.
async fn keyed_records(
    pool: &PgPool,
    sources: Catalog,
    tenant: TenantId,
    filter: &SearchFilter,
    parsed: &ParsedQuery,
) -> ServiceResult<Vec<(&'static EmbedTable, Document)>> {
    let mut found = Vec::new();
    for key in &parsed.keys {
        for table in sources.embed_tables() {
            let ids = vectors::find_key(pool, table, tenant, key).await?;
            if ids.is_empty() {
                continue;
            }
            for document in vectors::documents(pool, table, tenant, &ids).await? {
                if admits(filter, &document) {
                    found.push((table, document));
                }
            }
        }
    }
    Ok(found)
}

/// Whether a record found by key passes the filter's other limits (the rankings apply them
/// in the vector store).
fn admits(filter: &SearchFilter, document: &Document) -> bool {
    let equal = |wanted: &Option<String>, has: &Option<String>| {
        wanted.as_ref().is_none_or(|w| has.as_ref() == Some(w))
    };
    let updated = document.updated.map(|at| at.timestamp());
    let source = Some(document.source_type.clone());
    equal(&filter.source_type, &source)
        && equal(&filter.scope, &document.scope)
        && equal(&filter.kind, &document.kind)
        && equal(&filter.status, &document.status)
        && equal(&filter.status_category, &document.status_category)
        && equal(&filter.assignee, &document.assignee)
        && filter
            .updated_from
            .is_none_or(|from| updated.is_some_and(|u| u >= from))
        && filter
            .updated_to
            .is_none_or(|to| updated.is_some_and(|u| u <= to))
}

/// The live records among the ranked ones, by record.
async fn documents<'r>(
    pool: &PgPool,
    sources: Catalog,
    tenant: TenantId,
    records: impl Iterator<Item = &'r RecordRef>,
) -> ServiceResult<HashMap<RecordRef, (&'static EmbedTable, Document)>> {
    let mut ids: HashMap<&str, Vec<i64>> = HashMap::new();
    for (table, id) in records {
        ids.entry(table.as_str()).or_default().push(*id);
    }
    let mut found = HashMap::new();
    for (table_name, ids) in ids {
        let Some(table) = sources.embed_table(table_name) else {
            continue;
        };
        for document in vectors::documents(pool, table, tenant, &ids).await? {
            found.insert(
                (table.table.to_owned(), document.record_id),
                (table, document),
            );
        }
    }
    Ok(found)
}

/// Whether the record's title or body holds every quoted phrase (any case).
fn holds_phrases(document: &Document, phrases: &[String]) -> bool {
    if phrases.is_empty() {
        return false;
    }
    let text = format!(
        "{}\n{}",
        document.title.as_deref().unwrap_or_default(),
        document.body.as_deref().unwrap_or_default()
    )
    .to_lowercase();
    phrases.iter().all(|phrase| text.contains(phrase.as_str()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> Document {
        Document {
            record_id: 1,
            source_type: "JIRA".into(),
            row_updated_at: Utc::now(),
            key: "CORE-1".into(),
            kind: Some("Bug".into()),
            title: Some("Login fails when the session expires".into()),
            body: Some("Seen in Safari 17.".into()),
            status: Some("Done".into()),
            status_category: Some("done".into()),
            assignee: Some("ana".into()),
            scope: Some("CORE".into()),
            labels: vec![],
            url: None,
            updated: DateTime::from_timestamp(1_000, 0),
        }
    }

    #[test]
    fn phrases_match_title_or_body_in_any_case() {
        let doc = document();
        assert!(holds_phrases(&doc, &["session expires".into()]));
        assert!(holds_phrases(&doc, &["safari 17".into(), "login".into()]));
        assert!(!holds_phrases(&doc, &["session expired".into()]));
        assert!(!holds_phrases(&doc, &[]));
    }

    #[test]
    fn a_record_found_by_key_must_pass_the_filter() {
        let doc = document();
        let base = SearchFilter::tenant(TenantId(1));
        assert!(admits(&base, &doc));
        for (filter, passes) in [
            (
                SearchFilter {
                    source_type: Some("GITHUB".into()),
                    ..base.clone()
                },
                false,
            ),
            (
                SearchFilter {
                    source_type: Some("JIRA".into()),
                    ..base.clone()
                },
                true,
            ),
            (
                SearchFilter {
                    scope: Some("CORE".into()),
                    ..base.clone()
                },
                true,
            ),
            (
                SearchFilter {
                    scope: Some("WEB".into()),
                    ..base.clone()
                },
                false,
            ),
            (
                SearchFilter {
                    status_category: Some("new".into()),
                    ..base.clone()
                },
                false,
            ),
            (
                SearchFilter {
                    assignee: Some("ana".into()),
                    ..base.clone()
                },
                true,
            ),
            (
                SearchFilter {
                    updated_from: Some(1_000),
                    ..base.clone()
                },
                true,
            ),
            (
                SearchFilter {
                    updated_to: Some(999),
                    ..base.clone()
                },
                false,
            ),
        ] {
            assert_eq!(admits(&filter, &doc), passes, "{filter:?}");
        }
    }

    #[test]
    fn bad_limits_are_refused_with_the_field_named() {
        let query = SearchQuery {
            text: "x".into(),
            limit: 10,
            ..SearchQuery::default()
        };
        assert!(validate(TenantId(1), &query).is_ok());
        let field = |query: SearchQuery| match validate(TenantId(1), &query) {
            Err(ServiceError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(SearchQuery {
                text: " ".into(),
                ..query.clone()
            }),
            "q"
        );
        assert_eq!(
            field(SearchQuery {
                limit: 101,
                ..query.clone()
            }),
            "limit"
        );
        assert_eq!(
            field(SearchQuery {
                status_category: Some("open".into()),
                ..query.clone()
            }),
            "status_category"
        );
        assert_eq!(
            field(SearchQuery {
                updated_from: DateTime::from_timestamp(2, 0),
                updated_to: DateTime::from_timestamp(1, 0),
                ..query
            }),
            "updated_from"
        );
    }
}
