//! The extract side of the pull requests through GitHub's GraphQL API: per repository, pages
//! of a hundred pull requests newest-updated first (stopping at the cursor; an incremental
//! sync's first page holds twenty, at a fifth of the points), each changed
//! pull request stored raw as the node the page answered, after the continuations of its
//! unfinished nested lists (stored first, under the same extraction id, so a stored pull
//! request always has everything it needs to be transformed).

use std::collections::BTreeSet;
use std::time::Instant;

use futures_util::future::try_join_all;
use futures_util::{StreamExt, TryStreamExt};
use serde_json::{json, Value};

use super::graphql::{self, Continuation};
use super::kinds;
use super::sync::{updated_since, GithubRun};
use crate::connectors::http::ConnectorError;
use crate::pipeline::handoff::StagePublisher;
use crate::pipeline::{Outbox, PipelineError, StepReport};
use crate::store::raw::{self, ids_of, RawEntity, RawRecord};
use crate::store::StoreError;

/// Repositories whose pull requests are read side by side (each one page at a time):
/// latency-bound reads overlap, within the client's concurrency and budgets.
const REPOSITORIES_AT_ONCE: usize = 4;

impl GithubRun<'_> {
    /// Reads `pending` and what each answer leaves, batch by batch; returns the answers as
    /// raw entities of `extraction`.
    async fn continue_lists(
        &self,
        mut pending: Vec<Continuation>,
        extraction: &str,
    ) -> Result<Vec<RawEntity>, ConnectorError> {
        let mut stored = Vec::new();
        while !pending.is_empty() {
            let batches = graphql::batches(std::mem::take(&mut pending));
            let answers = try_join_all(batches.iter().map(|batch| {
                let (query, variables, points) = graphql::continuation_query(batch);
                async move { self.client.graphql(&query, variables, points).await }
            }))
            .await?;
            for (batch, data) in batches.iter().zip(answers) {
                for (index, continuation) in batch.iter().enumerate() {
                    let connection = graphql::answered(&data, index, continuation);
                    pending.extend(graphql::continuations_of_answer(continuation, connection));
                    let metadata = json!({
                        "extraction": extraction,
                        "node": continuation.node,
                        "nested": continuation.nested,
                        "after": continuation.after,
                    });
                    stored.push((
                        Some(continuation.pull.clone()),
                        connection.clone(),
                        metadata,
                    ));
                }
            }
        }
        Ok(stored)
    }

    /// Extract side of the pull requests over GraphQL, up to [`REPOSITORIES_AT_ONCE`]
    /// repositories side by side; returns the report and the external ids of the pull
    /// requests extracted.
    pub(super) async fn extract_pulls_graphql(
        &self,
        repositories: &[String],
        publisher: StagePublisher,
    ) -> Result<(StepReport, BTreeSet<String>), PipelineError> {
        let outbox = tokio::sync::Mutex::new(Outbox::new(publisher));
        // The futures are made first (a stream mapping a closure would not be `Send`).
        let reads: Vec<_> = repositories
            .iter()
            .map(|repository| self.extract_repository_pulls(repository, &outbox))
            .collect();
        let read: Vec<(StepReport, BTreeSet<String>)> = futures_util::stream::iter(reads)
            .buffer_unordered(REPOSITORIES_AT_ONCE)
            .try_collect()
            .await?;
        outbox.into_inner().finish().await?;
        let mut report = StepReport::default();
        let mut extracted = BTreeSet::new();
        for (part, ids) in read {
            report += part;
            extracted.extend(ids);
        }
        Ok((report, extracted))
    }

    /// One repository's pull requests, page by page down to the cursor.
    async fn extract_repository_pulls(
        &self,
        repository: &str,
        outbox: &tokio::sync::Mutex<Outbox>,
    ) -> Result<(StepReport, BTreeSet<String>), PipelineError> {
        let mut report = StepReport::default();
        let mut extracted = BTreeSet::new();
        let full_page = graphql::pulls_query(graphql::PULLS_PER_PAGE);
        let first_size = match self.since {
            Some(_) => graphql::PULLS_PER_FIRST_INCREMENTAL_PAGE,
            None => graphql::PULLS_PER_PAGE,
        };
        let first_page = graphql::pulls_query(first_size);
        let (owner, name) = repository.split_once('/').unwrap_or((repository, ""));
        let mut after: Option<String> = None;
        loop {
            let clock = Instant::now();
            let (query, size) = match after {
                None => (&first_page, first_size),
                Some(_) => (&full_page, graphql::PULLS_PER_PAGE),
            };
            let variables = json!({"owner": owner, "name": name, "after": after});
            let points = graphql::pulls_query_points(size);
            let data = self.client.graphql(query, variables, points).await?;
            let page = &data["repository"]["pullRequests"];
            let nodes = page["nodes"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            let changed: Vec<&Value> = nodes
                .iter()
                .take_while(|node| updated_since(node, "updatedAt", self.since))
                .collect();
            let reached_cursor = changed.len() < nodes.len();
            if !changed.is_empty() {
                let stored = self
                    .store_graphql_pulls(repository, &changed, &after)
                    .await?;
                extracted.extend(changed.iter().filter_map(|n| graphql::database_id(n)));
                report.extracted += changed.len() as u64;
                let message = self.message(kinds::GRAPHQL_PULL, ids_of(&stored));
                outbox.lock().await.push_stored(message, stored).await?;
            }
            report.extract_seconds += clock.elapsed().as_secs_f64();
            let next = page["pageInfo"]["endCursor"].as_str();
            match (page["pageInfo"]["hasNextPage"].as_bool(), next) {
                (Some(true), Some(next)) if !reached_cursor => after = Some(next.to_owned()),
                _ => break,
            }
        }
        Ok((report, extracted))
    }

    /// Extract side of pull requests named by number (webhook deliveries): one query each,
    /// side by side within the client's limits; a pull request the source no longer has is
    /// skipped. Returns the report and the external ids of the pull requests extracted.
    pub(super) async fn extract_pulls_by_number(
        &self,
        wanted: &[(String, u64)],
        publisher: StagePublisher,
    ) -> Result<(StepReport, BTreeSet<String>), PipelineError> {
        let clock = Instant::now();
        let query = graphql::pull_query();
        let answers = try_join_all(wanted.iter().map(|(repository, number)| {
            let (owner, name) = repository.split_once('/').unwrap_or((repository, ""));
            let variables = json!({"owner": owner, "name": name, "number": number});
            let query = &query;
            async move {
                match self.client.graphql(query, variables, 1).await {
                    // This pull request alone (not found, not readable): the others go on.
                    Err(error @ ConnectorError::Graphql { .. }) => {
                        tracing::warn!(repository, number, %error, "pull request not read");
                        Ok(Value::Null)
                    }
                    other => other,
                }
            }
        }))
        .await?;
        let mut report = StepReport::default();
        let mut extracted = BTreeSet::new();
        let mut outbox = Outbox::new(publisher);
        for ((repository, _), data) in wanted.iter().zip(&answers) {
            let node = &data["repository"]["pullRequest"];
            if !node.is_object() {
                continue;
            }
            let stored = self.store_graphql_pulls(repository, &[node], &None).await?;
            extracted.extend(graphql::database_id(node));
            report.extracted += 1;
            let message = self.message(kinds::GRAPHQL_PULL, ids_of(&stored));
            outbox.push_stored(message, stored).await?;
        }
        outbox.finish().await?;
        report.extract_seconds = clock.elapsed().as_secs_f64();
        Ok((report, extracted))
    }

    /// Reads what the page's pull requests left unfinished, then stores it with the pull
    /// requests themselves in one transaction (a continuation stored without its pull
    /// request would stay pending, never processed); returns the pull requests' rows as
    /// stored.
    async fn store_graphql_pulls(
        &self,
        repository: &str,
        changed: &[&Value],
        after: &Option<String>,
    ) -> Result<Vec<RawRecord>, PipelineError> {
        let extraction = uuid::Uuid::new_v4().to_string();
        let pending = changed
            .iter()
            .flat_map(|node| graphql::continuations_of_pull(node))
            .collect();
        let continued = self.continue_lists(pending, &extraction).await?;
        let pulls = changed
            .iter()
            .map(|node| {
                let metadata = json!({
                    "extraction": extraction,
                    "repository": repository,
                    "after": after,
                });
                (graphql::database_id(node), (*node).clone(), metadata)
            })
            .collect();
        let mut transaction = self.pool.begin().await.map_err(StoreError::from)?;
        raw::insert_each(
            &mut *transaction,
            self.scope,
            kinds::GRAPHQL_CONTINUATION,
            continued,
        )
        .await?;
        let stored =
            raw::insert_returning(&mut *transaction, self.scope, kinds::GRAPHQL_PULL, pulls)
                .await?;
        transaction.commit().await.map_err(StoreError::from)?;
        Ok(stored)
    }
}
