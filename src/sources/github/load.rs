//! Transform and load of stored raw GitHub entities: repositories, pull requests with their
//! stored review and commit pages, and comments.

use std::collections::BTreeMap;
use std::time::Instant;

use serde_json::Value;
use sqlx::PgPool;

use super::kinds;
use super::transform::{self, GithubError};
use super::transform_graphql;
use crate::domain::{RawId, Scope};
use crate::pipeline::StepReport;
use crate::sources::pull_requests::rows::{CommentType, PullBatch, PullRows};
use crate::store::load_batches::LoadRows;
use crate::store::raw::RawRecord;
use crate::store::{raw, StoreError};

/// Transforms and loads for one tenant's GitHub integration.
pub struct GithubLoader<'a> {
    pub pool: &'a PgPool,
    /// Whose rows, and the job they are loaded for (none when reprocessing).
    pub scope: Scope,
}

/// The entries of stored list pages, per entity (pages come ordered by entity and page).
fn entries_by_entity(pages: Vec<RawRecord>) -> (BTreeMap<String, Vec<Value>>, Vec<RawId>) {
    let mut entries: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut ids = Vec::with_capacity(pages.len());
    for page in pages {
        ids.push(page.id);
        let list = entries
            .entry(page.external_id.unwrap_or_default())
            .or_default();
        if let Value::Array(items) = page.raw_data {
            list.extend(items);
        }
    }
    (entries, ids)
}

/// One pull request with its reviews and commits, transformed together: one bad entry
/// fails the pull request. Its repository comes along when the answer names it whole.
fn transform_pull(
    pr: &Value,
    reviews: &[Value],
    commits: &[Value],
) -> Result<PullRows, GithubError> {
    let pull = transform::pull(pr)?;
    let reviews = reviews
        .iter()
        .map(|r| transform::review(&pull.external_id, r))
        .collect::<Result<_, _>>()?;
    let commits = commits
        .iter()
        .map(|c| transform::commit(&pull.external_id, c))
        .collect::<Result<_, _>>()?;
    Ok(PullRows {
        repository: transform::repository(&pr["base"]["repo"]).ok(),
        pull,
        reviews,
        commits,
        comments: Vec::new(),
    })
}

impl GithubLoader<'_> {
    /// The integration's stored raw rows by id (`in_hand`: those of them this process
    /// holds as stored; the rest are read).
    async fn stored(
        &self,
        ids: &[RawId],
        in_hand: Vec<RawRecord>,
    ) -> Result<Vec<RawRecord>, StoreError> {
        raw::fetch_missing(
            self.pool,
            self.scope.tenant_id,
            self.scope.integration_id,
            ids,
            in_hand,
        )
        .await
    }

    pub(super) async fn fail(&self, raw_id: RawId, error: &GithubError) -> Result<(), StoreError> {
        tracing::warn!(tenant_id = self.scope.tenant_id.get(), job_id = self.scope.job_id.map(|id| id.get()), raw_id = raw_id.get(), %error, "GitHub entity failed to transform");
        raw::mark_failed(self.pool, self.scope.tenant_id, raw_id, &error.to_string()).await
    }

    /// Repositories stored raw as `(raw id, entity)`; returns the report and the full names
    /// of those loaded.
    pub async fn repositories(
        &self,
        stored: &[(RawId, Value)],
    ) -> Result<(StepReport, Vec<String>), StoreError> {
        let mut loaded = Vec::with_capacity(stored.len());
        let mut done = Vec::with_capacity(stored.len());
        let mut report = StepReport::default();
        for (raw_id, entity) in stored {
            match transform::repository(entity) {
                Ok(repository) => {
                    loaded.push(repository);
                    done.push(*raw_id);
                }
                Err(error) => {
                    self.fail(*raw_id, &error).await?;
                    report.failed += 1;
                }
            }
        }
        let clock = Instant::now();
        let mut rows = LoadRows::default();
        rows.add(&loaded)?;
        rows.processed(done);
        rows.load(self.pool, self.scope.integration()).await?;
        report += StepReport::passed_through(loaded.len() as u64);
        report.extracted = stored.len() as u64;
        report.load_seconds = clock.elapsed().as_secs_f64();
        let names = loaded.into_iter().map(|r| r.full_name).collect();
        Ok((report, names))
    }

    /// Stored raw pull requests by id (a message's `raw_data_ids`), each with the newest
    /// stored pages of its reviews and commits, transformed and loaded.
    pub async fn pulls_by_raw_ids(&self, ids: &[RawId]) -> Result<StepReport, StoreError> {
        let (rows, report) = self.transform_pulls(ids, Vec::new()).await?;
        crate::pipeline::load_here(self.pool, self.scope.integration(), rows, report).await
    }

    /// Stored GraphQL pull request nodes by id, with the continuations their extraction
    /// read, transformed and loaded.
    pub async fn graphql_pulls_by_raw_ids(&self, ids: &[RawId]) -> Result<StepReport, StoreError> {
        let (rows, report) = self.transform_graphql_pulls(ids, Vec::new()).await?;
        crate::pipeline::load_here(self.pool, self.scope.integration(), rows, report).await
    }

    /// Stored raw comments by id, transformed and loaded; comments of plain issues (no
    /// loaded pull request) are processed and left out.
    pub async fn comments_by_raw_ids(&self, ids: &[RawId]) -> Result<StepReport, StoreError> {
        let (rows, report) = self.transform_comments(ids, Vec::new()).await?;
        crate::pipeline::load_here(self.pool, self.scope.integration(), rows, report).await
    }

    /// Stored raw pull requests by id with their stored review and commit pages, transformed
    /// into load work (the report counts them as loaded); a malformed one is marked failed.
    pub async fn transform_pulls(
        &self,
        ids: &[RawId],
        in_hand: Vec<RawRecord>,
    ) -> Result<(LoadRows, StepReport), StoreError> {
        let clock = Instant::now();
        let rows = self.stored(ids, in_hand).await?;
        let pull_ids: Vec<String> = rows.iter().filter_map(|r| r.external_id.clone()).collect();
        let (reviews, review_pages) = entries_by_entity(
            raw::latest_pages_of(
                self.pool,
                self.scope.integration(),
                kinds::PULL_REVIEWS,
                &pull_ids,
            )
            .await?,
        );
        let (commits, commit_pages) = entries_by_entity(
            raw::latest_pages_of(
                self.pool,
                self.scope.integration(),
                kinds::PULL_COMMITS,
                &pull_ids,
            )
            .await?,
        );
        let mut load = LoadRows::default();
        load.processed(review_pages);
        load.processed(commit_pages);
        let none = Vec::new();
        let mut report = self
            .transform_each(&rows, &mut load, |row| {
                let id = row.external_id.clone().unwrap_or_default();
                transform_pull(
                    &row.raw_data,
                    reviews.get(&id).unwrap_or(&none),
                    commits.get(&id).unwrap_or(&none),
                )
            })
            .await?;
        report.transform_seconds = clock.elapsed().as_secs_f64();
        Ok((load, report))
    }

    /// Each stored pull request as rows by `rows_of` (a failure marks its raw row failed),
    /// added to `load`; the report counts the pull requests.
    async fn transform_each(
        &self,
        rows: &[RawRecord],
        load: &mut LoadRows,
        rows_of: impl Fn(&RawRecord) -> Result<PullRows, GithubError>,
    ) -> Result<StepReport, StoreError> {
        let mut report = StepReport::default();
        let mut batch = PullBatch::default();
        for row in rows {
            match rows_of(row) {
                Ok(parts) => {
                    batch.push(parts);
                    load.processed([row.id]);
                }
                Err(error) => {
                    self.fail(row.id, &error).await?;
                    report.failed += 1;
                }
            }
        }
        let pulls = batch.add_to(load)?;
        report.extracted = rows.len() as u64;
        report.transformed = pulls;
        report.loaded = pulls;
        Ok(report)
    }

    /// Stored GraphQL pull request nodes by id, each completed with the continuations its
    /// extraction read, transformed into load work (the report counts them as loaded); a
    /// malformed one is marked failed.
    pub async fn transform_graphql_pulls(
        &self,
        ids: &[RawId],
        in_hand: Vec<RawRecord>,
    ) -> Result<(LoadRows, StepReport), StoreError> {
        let clock = Instant::now();
        let rows = self.stored(ids, in_hand).await?;
        let extraction = |row: &RawRecord| {
            row.extraction_metadata["extraction"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        };
        let pull_ids: Vec<String> = rows.iter().filter_map(|r| r.external_id.clone()).collect();
        let extractions: Vec<String> = rows.iter().map(extraction).collect();
        let continuations = raw::of_extractions(
            self.pool,
            self.scope.integration(),
            kinds::GRAPHQL_CONTINUATION,
            &pull_ids,
            &extractions,
        )
        .await?;
        let mut load = LoadRows::default();
        load.processed(continuations.iter().map(|c| c.id));
        let mut report = self
            .transform_each(&rows, &mut load, |row| {
                let own: Vec<RawRecord> = continuations
                    .iter()
                    .filter(|c| {
                        c.external_id == row.external_id && extraction(c) == extraction(row)
                    })
                    .cloned()
                    .collect();
                transform_graphql::pull_rows(&transform_graphql::complete(
                    row.raw_data.clone(),
                    &own,
                ))
            })
            .await?;
        report.transform_seconds = clock.elapsed().as_secs_f64();
        Ok((load, report))
    }

    /// Stored raw comments by id transformed into load work; a malformed one is marked
    /// failed.
    pub async fn transform_comments(
        &self,
        ids: &[RawId],
        in_hand: Vec<RawRecord>,
    ) -> Result<(LoadRows, StepReport), StoreError> {
        let clock = Instant::now();
        let rows = self.stored(ids, in_hand).await?;
        let mut report = StepReport::default();
        let mut comments = Vec::with_capacity(rows.len());
        let mut load = LoadRows::default();
        for row in &rows {
            let kind = if row.kind == kinds::REVIEW_COMMENT {
                CommentType::Review
            } else {
                CommentType::Issue
            };
            match transform::comment(kind, &row.raw_data) {
                Ok(comment) => {
                    comments.push(comment);
                    load.processed([row.id]);
                }
                Err(error) => {
                    self.fail(row.id, &error).await?;
                    report.failed += 1;
                }
            }
        }
        load.add(&comments)?;
        report.extracted = rows.len() as u64;
        report.transformed = comments.len() as u64;
        report.loaded = comments.len() as u64;
        report.transform_seconds = clock.elapsed().as_secs_f64();
        Ok((load, report))
    }
}
