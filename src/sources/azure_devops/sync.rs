//! One Azure Boards sync, step by step: projects, work item types with their states and the
//! organization's fields; then work items with their full revision history. Each answer is
//! stored raw first, then transformed and loaded; a malformed work item fails alone.
//!
//! Requests stay few: revisions come from the reporting stream (a thousand per answer,
//! from the last run on), and name the work items an incremental run reads; a run that
//! reads everything lists ids with WIQL (twenty thousand per query, in id ranges); work
//! items are read two hundred per batch.

use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sqlx::PgPool;

use super::client::{listed_ids, AzureClient, Within, BATCH_IDS, WIQL_LIMIT};
use super::load::AzureLoader;
use super::{kinds, steps};
use crate::domain::{Provider, RawId, Scope, StageState};
use crate::pipeline::handoff::{Handoff, StagePublisher};
use crate::pipeline::{stage_message, Outbox, PipelineError, StepReport};
use crate::sources::links;
use crate::sources::work_items::custom_fields;
use crate::sources::work_items::tables as work_items;
use crate::store::raw::{self, RawEntity};
use crate::store::StoreError;

/// What an Azure DevOps run works on.
pub struct AzureRun<'a> {
    pub pool: &'a PgPool,
    /// Where stored work items go to be transformed.
    pub handoff: Handoff<'a>,
    pub client: AzureClient,
    pub scope: Scope,
    /// Project names to sync (empty: all).
    pub projects: Vec<String>,
    /// Repositories as `project/name` whose pull requests to sync (empty: all of the
    /// projects').
    pub repos: Vec<String>,
    /// Only what changed since (None: everything).
    pub since: Option<DateTime<Utc>>,
    /// Mark work items that no longer exist at the source as deleted.
    pub full: bool,
}

/// Revisions by work item id, each list as the stream gave them.
type Revisions = HashMap<u64, Vec<Value>>;

impl AzureRun<'_> {
    pub(super) fn loader(&self) -> AzureLoader<'_> {
        AzureLoader {
            pool: self.pool,
            scope: self.scope,
        }
    }

    pub(super) async fn stages(&self, step: &str, state: StageState) -> Result<(), StoreError> {
        crate::pipeline::set_step_state(self.pool, self.scope, step, state).await
    }

    pub(super) async fn store(
        &self,
        kind: &str,
        external_id: Option<String>,
        body: &Value,
    ) -> Result<RawId, StoreError> {
        raw::insert_one(self.pool, self.scope, kind, (external_id, body), &json!({})).await
    }

    /// The projects this run reads: those the integration names, else every one.
    pub(super) async fn project_names(&self) -> Result<Vec<String>, StoreError> {
        if !self.projects.is_empty() {
            return Ok(self.projects.clone());
        }
        work_items::project_keys(self.pool, self.scope.tenant_id, self.scope.integration_id).await
    }

    /// Projects, each project's work item types with their states, and the organization's
    /// fields (on a run that reads everything; other runs use the custom fields known, as
    /// `custom-fields sync` refreshes them); returns the report and the custom fields'
    /// reference names.
    pub async fn projects_and_types(&self) -> Result<(StepReport, Vec<String>), PipelineError> {
        self.stages(steps::PROJECTS, StageState::Running).await?;
        let projects = self.client.projects().await?.body;
        let raw_id = self.store(kinds::PROJECTS, None, &projects).await?;
        let mut report =
            StepReport::passed_through(self.loader().projects(raw_id, &projects).await?);
        let mut types = Vec::new();
        for project in self.project_names().await? {
            let answer = self.client.work_item_types(&project).await?.body;
            let raw_id = self
                .store(kinds::WORK_ITEM_TYPES, Some(project.clone()), &answer)
                .await?;
            types.push((raw_id, project, answer));
        }
        report += self.loader().work_item_types(&types).await?;
        let custom = if self.since.is_some() {
            let (tenant, integration) = (self.scope.tenant_id, self.scope.integration_id);
            custom_fields::list(self.pool, tenant, integration)
                .await?
                .into_iter()
                .map(|field| field.external_id)
                .collect()
        } else {
            self.loader().read_fields(&self.client).await?
        };
        self.stages(steps::PROJECTS, StageState::Finished).await?;
        Ok((report, custom))
    }

    /// Every revision the reporting stream holds since the run's cursor (from the start on
    /// a full run), by work item: per project when the integration names projects, else
    /// the organization's one stream.
    async fn read_revisions(&self) -> Result<Revisions, PipelineError> {
        let mut revisions = Revisions::new();
        let scopes: Vec<Within<'_>> = if self.projects.is_empty() {
            vec![Within::Organization]
        } else {
            self.projects.iter().map(|p| Within::Project(p)).collect()
        };
        for within in scopes {
            let mut continuation: Option<String> = None;
            loop {
                let mut answer = self
                    .client
                    .revisions(within, self.since, continuation.as_deref())
                    .await?
                    .body;
                if let Value::Array(values) = answer["values"].take() {
                    for revision in values {
                        if let Some(id) = revision["id"].as_u64() {
                            revisions.entry(id).or_default().push(revision);
                        }
                    }
                }
                let next = answer["continuationToken"].as_str().map(str::to_owned);
                if answer["isLastBatch"] != false || next.is_none() || next == continuation {
                    break;
                }
                continuation = next;
            }
        }
        Ok(revisions)
    }

    /// Ids of every work item the integration reads, ascending: WIQL in id ranges of at
    /// most [`WIQL_LIMIT`].
    async fn listed_ids(&self) -> Result<Vec<u64>, PipelineError> {
        let mut ids = Vec::new();
        let mut after = 0;
        loop {
            let answer = self.client.ids_above(&self.projects, after).await?.body;
            let found = listed_ids(&answer);
            let full_slice = found.len() >= WIQL_LIMIT;
            after = found.iter().copied().max().unwrap_or(after);
            ids.extend(found);
            if !full_slice {
                break;
            }
        }
        Ok(ids)
    }

    /// Work items with their full histories: extraction hands each stored batch to the
    /// transform stage (in this process or on workers) as it goes.
    pub async fn work_items(
        &self,
        custom_fields: &[String],
        progress: &(dyn Fn(&StepReport) + Sync),
    ) -> Result<StepReport, PipelineError> {
        self.stages(steps::WORK_ITEMS, StageState::Running).await?;
        let clock = Instant::now();
        let mut revisions = self.read_revisions().await?;
        // Every change is a revision: an incremental run reads the work items the stream
        // names. A run that reads everything lists them with WIQL too (what it does not list
        // is gone from the source), and reads those whose revisions arrived without them
        // (changed after the listing). The batch read leaves out those deleted since.
        let mut ids = match self.since {
            Some(_) => Vec::new(),
            None => self.listed_ids().await?,
        };
        let seen: std::collections::HashSet<String> = ids.iter().map(u64::to_string).collect();
        ids.extend(revisions.keys());
        ids.sort_unstable();
        ids.dedup();
        let (extracted, mut report) = self
            .handoff
            .run(
                self.pool,
                self.scope,
                &[kinds::WORK_ITEM],
                async |publisher| {
                    let extracted = self
                        .extract_work_items(&ids, &mut revisions, custom_fields, publisher)
                        .await?;
                    crate::pipeline::set_extracted(self.pool, self.scope, steps::WORK_ITEMS)
                        .await?;
                    Ok(extracted)
                },
                progress,
            )
            .await?;
        report.extracted = extracted;
        report.extract_seconds = clock.elapsed().as_secs_f64();
        if self.full {
            let (tenant, integration) = (self.scope.tenant_id, self.scope.integration_id);
            let deleted =
                work_items::mark_missing_deleted(self.pool, tenant, integration, &seen).await?;
            tracing::info!(deleted, "work items gone from the source marked deleted");
        }
        // Pull requests read earlier may name work items that only now arrived.
        links::link_work_items(self.pool, self.scope.integration(), self.since).await?;
        let state = if report.failed > 0 {
            StageState::Failed
        } else {
            StageState::Finished
        };
        self.stages(steps::WORK_ITEMS, state).await?;
        Ok(report)
    }

    /// Reads `ids` a batch at a time, joins each work item to its whole revision history,
    /// stores them and publishes their raw ids; returns how many were stored.
    async fn extract_work_items(
        &self,
        ids: &[u64],
        revisions: &mut Revisions,
        custom_fields: &[String],
        publisher: StagePublisher,
    ) -> Result<u64, PipelineError> {
        let mut outbox = Outbox::new(publisher);
        let mut extracted = 0;
        for batch in ids.chunks(BATCH_IDS) {
            let mut answer = self.client.work_items(batch, custom_fields).await?.body;
            let items = match answer["value"].take() {
                Value::Array(items) => items,
                _ => Vec::new(),
            };
            let items: Vec<Value> = items
                .into_iter()
                .filter(|item| item["id"].is_u64())
                .collect();
            if items.is_empty() {
                continue;
            }
            let entities = self.with_histories(items, revisions).await?;
            extracted += entities.len() as u64;
            let stored =
                raw::insert_returning(self.pool, self.scope, kinds::WORK_ITEM, entities).await?;
            let message = stage_message(
                self.scope,
                (Provider::AzureDevops, kinds::WORK_ITEM),
                self.since,
                raw::ids_of(&stored),
            );
            outbox.push_stored(message, stored).await?;
        }
        outbox.finish().await?;
        Ok(extracted)
    }

    /// Each work item as stored: `{workItem, revisions}`, its revisions being those the
    /// stream gave this run joined to those stored with its last copy. Where they still do
    /// not cover revisions 1 to the item's own, the item's revisions are read whole.
    async fn with_histories(
        &self,
        items: Vec<Value>,
        revisions: &mut Revisions,
    ) -> Result<Vec<RawEntity>, PipelineError> {
        let external_ids: Vec<String> = items
            .iter()
            .filter_map(|item| item["id"].as_u64())
            .map(|id| id.to_string())
            .collect();
        let mut earlier: HashMap<String, Vec<Value>> = HashMap::new();
        if self.since.is_some() {
            let ids = self.scope.integration();
            for mut row in
                raw::latest_pages_of(self.pool, ids, kinds::WORK_ITEM, &external_ids).await?
            {
                if let (Some(id), Value::Array(found)) =
                    (row.external_id.take(), row.raw_data["revisions"].take())
                {
                    earlier.insert(id, found);
                }
            }
        }
        let mut entities = Vec::with_capacity(items.len());
        for item in items {
            let Some(id) = item["id"].as_u64() else {
                continue;
            };
            let external_id = id.to_string();
            let mut history = earlier.remove(&external_id).unwrap_or_default();
            history.extend(revisions.remove(&id).unwrap_or_default());
            let mut history = by_revision(history);
            let newest = item["rev"].as_u64().unwrap_or(0);
            if !covers(&history, newest) {
                let answer = self.client.item_revisions(id).await?.body;
                history = by_revision(answer["value"].as_array().cloned().unwrap_or_default());
            }
            let body = json!({"workItem": item, "revisions": history});
            entities.push((Some(external_id), body, json!({})));
        }
        Ok(entities)
    }
}

/// Revisions in revision order, one per revision number (the later copy wins).
fn by_revision(revisions: Vec<Value>) -> Vec<Value> {
    let mut by_rev: BTreeMap<u64, Value> = BTreeMap::new();
    for revision in revisions {
        if let Some(rev) = revision["rev"].as_u64() {
            by_rev.insert(rev, revision);
        }
    }
    by_rev.into_values().collect()
}

/// Whether ordered `revisions` are exactly 1 to `newest`.
fn covers(revisions: &[Value], newest: u64) -> bool {
    revisions.len() as u64 == newest
        && revisions
            .iter()
            .zip(1..)
            .all(|(revision, rev)| revision["rev"].as_u64() == Some(rev))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histories_are_whole_only_from_the_first_revision_to_the_newest() {
        let revision = |rev: u64| json!({"id": 1, "rev": rev});
        let joined = by_revision(vec![revision(2), revision(1), revision(2), revision(3)]);
        assert!(covers(&joined, 3));
        assert!(!covers(&joined, 4), "the newest revision is missing");
        assert!(!covers(&by_revision(vec![revision(1), revision(3)]), 3));
        assert!(covers(&[], 0));
    }
}
