//! One GitHub sync, step by step: repositories, then pull requests with their
//! reviews and commits, then each repository's review and issue comments, then the flow
//! metrics of every pull request touched. Every answer is stored raw first and its raw ids
//! published as transform work. Listings' ETags are kept between runs, so an unchanged
//! listing costs one free `304`.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use chrono::{DateTime, Utc};
use futures_util::future::try_join_all;
use serde_json::{json, Value};
use sqlx::PgPool;

use super::client::{GithubClient, Page, PER_PAGE};
use super::load::GithubLoader;
use super::transform::repository_and_number;
use super::{kinds, steps};
use crate::connectors::http::ConnectorError;
use crate::domain::{Provider, RawId, Scope, SourceApi, StageState};
use crate::pipeline::handoff::Handoff;
use crate::pipeline::handoff::StagePublisher;
use crate::pipeline::{set_step_state, stage_message, Outbox, PipelineError, StepReport};
use crate::sources::links;
use crate::sources::pull_requests::tables as github;
use crate::store::raw::{self, RawEntity};
use crate::store::StoreError;

/// What a GitHub run works on.
pub struct GithubRun<'a> {
    pub pool: &'a PgPool,
    /// Where pull requests and comments go to be transformed.
    pub handoff: Handoff<'a>,
    pub client: GithubClient,
    pub scope: Scope,
    /// Configured repositories as `owner/name` (empty: every one the token sees).
    pub repositories: Vec<String>,
    /// Only pull requests and comments updated since (None: everything).
    pub since: Option<DateTime<Utc>>,
    /// Which of GitHub's APIs reads the pull requests.
    pub api: SourceApi,
    /// Ignore stored ETags and re-read every listing.
    pub full: bool,
}

/// What the pull-request step did.
#[derive(Debug, Default)]
pub struct PullsSynced {
    /// Pull requests (comment failures and stage times included).
    pub report: StepReport,
    pub comments: u64,
    /// Pull requests whose flow metrics changed.
    pub metrics_changed: u64,
}

/// A listing's ETag, keyed by what it lists (not by `since`, which changes every run).
type Etags = HashMap<String, String>;

/// An entity's `id` as text, whether GitHub sent a number or a string.
pub(super) fn id_text(entity: &Value) -> Option<String> {
    match &entity["id"] {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    }
}

/// Whether a listed pull request's `field` says it changed since the cursor (unreadable
/// dates count as changed: fetching once too often is cheaper than missing one).
pub(super) fn updated_since(pull: &Value, field: &str, since: Option<DateTime<Utc>>) -> bool {
    let Some(since) = since else {
        return true;
    };
    pull[field]
        .as_str()
        .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
        .is_none_or(|at| at >= since)
}

/// The (repository, number) a review or issue comment belongs to.
fn commented_on(comment: &Value) -> Option<(String, i64)> {
    let url = comment["pull_request_url"]
        .as_str()
        .or_else(|| comment["issue_url"].as_str())?;
    repository_and_number(url)
}

/// A listing's pages as raw entities of one entity: page order and the last page marked.
fn page_entities(owner_id: &str, pages: Vec<Page>) -> Vec<RawEntity> {
    let count = pages.len();
    pages
        .into_iter()
        .enumerate()
        .map(|(index, page)| {
            let metadata = json!({"startAt": index * PER_PAGE, "last": index + 1 == count});
            (
                Some(owner_id.to_owned()),
                Value::Array(page.items),
                metadata,
            )
        })
        .collect()
}

/// A changed pull request as fetched: detail, review pages, commit pages.
struct PullBundle {
    id: String,
    detail: Value,
    reviews: Vec<Page>,
    commits: Vec<Page>,
}

impl GithubRun<'_> {
    fn loader(&self) -> GithubLoader<'_> {
        GithubLoader {
            pool: self.pool,
            scope: self.scope,
        }
    }

    pub(super) async fn stages(&self, step: &str, state: StageState) -> Result<(), StoreError> {
        set_step_state(self.pool, self.scope, step, state).await
    }

    /// The configured repositories (or all the token sees), stored raw and loaded.
    /// Returns the report and the full names of the repositories loaded.
    pub async fn repositories(&self) -> Result<(StepReport, Vec<String>), PipelineError> {
        self.stages(steps::REPOSITORIES, StageState::Running)
            .await?;
        let clock = Instant::now();
        let entities: Vec<Value> = if self.repositories.is_empty() {
            let pages = self.client.all_pages("/user/repos", &[]).await?;
            pages.into_iter().flat_map(|page| page.items).collect()
        } else {
            let fetched =
                try_join_all(self.repositories.iter().map(|r| self.client.repository(r))).await?;
            fetched.into_iter().map(|f| f.body).collect()
        };
        let fetch_seconds = clock.elapsed().as_secs_f64();
        let (mut report, names) = self.store_repositories(entities).await?;
        report.extract_seconds += fetch_seconds;
        let state = if report.failed > 0 {
            StageState::Failed
        } else {
            StageState::Finished
        };
        self.stages(steps::REPOSITORIES, state).await?;
        Ok((report, names))
    }

    /// Repositories as the source answered them, stored raw (timed as extraction) and loaded;
    /// returns the report and their full names.
    async fn store_repositories(
        &self,
        entities: Vec<Value>,
    ) -> Result<(StepReport, Vec<String>), PipelineError> {
        let clock = Instant::now();
        let raw_ids = raw::insert(
            self.pool,
            self.scope,
            kinds::REPOSITORY,
            entities.iter().map(|r| (id_text(r), r.clone())).collect(),
            &json!({}),
        )
        .await?;
        let extract_seconds = clock.elapsed().as_secs_f64();
        let stored: Vec<(RawId, Value)> = raw_ids.into_iter().zip(entities).collect();
        let (mut report, names) = self.loader().repositories(&stored).await?;
        report.extract_seconds = extract_seconds;
        Ok((report, names))
    }

    /// Repositories named by `owner/name` read again (a rename delivered by webhook; one the
    /// source no longer has is left alone), their pull requests given their new names;
    /// returns how many were read.
    pub async fn refresh_repositories(&self, names: &[String]) -> Result<u64, PipelineError> {
        let mut entities = Vec::new();
        for name in names {
            match self.client.repository(name).await {
                Ok(fetched) => entities.push(fetched.body),
                Err(ConnectorError::Status { status, .. })
                    if status == reqwest::StatusCode::NOT_FOUND => {}
                Err(error) => return Err(error.into()),
            }
        }
        let read = entities.len() as u64;
        if read > 0 {
            self.store_repositories(entities).await?;
            github::carry_repository_names(self.pool, self.scope.integration()).await?;
        }
        Ok(read)
    }

    /// Pull requests of `repositories` with their reviews, commits and (over GraphQL)
    /// comments, then (over REST) the repositories' comments, then the flow metrics of
    /// every pull request touched.
    pub async fn pull_requests(
        &self,
        repositories: &[String],
        progress: &(dyn Fn(&StepReport) + Sync),
    ) -> Result<PullsSynced, PipelineError> {
        self.stages(steps::PULL_REQUESTS, StageState::Running)
            .await?;
        if self.api == SourceApi::Graphql {
            // Comments come nested in the pull requests.
            let ((extracted, touched), report) = self
                .handoff
                .run(
                    self.pool,
                    self.scope,
                    &[kinds::GRAPHQL_PULL],
                    async |publisher| {
                        let extracted = self.extract_pulls_graphql(repositories, publisher).await?;
                        crate::pipeline::set_extracted(self.pool, self.scope, steps::PULL_REQUESTS)
                            .await?;
                        Ok(extracted)
                    },
                    progress,
                )
                .await?;
            return self
                .finish_pulls(
                    touched,
                    report,
                    extracted,
                    StepReport::default(),
                    Etags::new(),
                )
                .await;
        }
        let known = if self.full {
            Etags::new()
        } else {
            github::etags(self.pool, self.scope.integration()).await?
        };
        let ((mut extracted, mut fresh, mut touched), report) = self
            .handoff
            .run(
                self.pool,
                self.scope,
                &[kinds::PULL],
                async |publisher| self.extract_pulls(repositories, &known, publisher).await,
                progress,
            )
            .await?;
        // Comments after pull requests: a comment is loaded only onto a known pull request.
        let ((comments_extracted, comment_etags, commented), comments) = self
            .handoff
            .run(
                self.pool,
                self.scope,
                &[kinds::REVIEW_COMMENT, kinds::ISSUE_COMMENT],
                async |publisher| {
                    let extracted = self
                        .extract_comments(repositories, &known, publisher)
                        .await?;
                    crate::pipeline::set_extracted(self.pool, self.scope, steps::PULL_REQUESTS)
                        .await?;
                    Ok(extracted)
                },
                &|_| {},
            )
            .await?;
        fresh.extend(comment_etags);
        touched.extend(
            github::pulls_of_comments(self.pool, self.scope.integration(), &commented).await?,
        );
        extracted.extract_seconds += comments_extracted.extract_seconds;
        self.finish_pulls(touched, report, extracted, comments, fresh)
            .await
    }

    /// Pull requests named by `(owner/name, number)` read again (webhook deliveries), with
    /// their reviews, commits and (over GraphQL) comments, then their flow metrics and links.
    pub async fn refresh_pulls(
        &self,
        wanted: &[(String, u64)],
    ) -> Result<PullsSynced, PipelineError> {
        let (kind, rest) = match self.api {
            SourceApi::Graphql => (kinds::GRAPHQL_PULL, false),
            SourceApi::Rest => (kinds::PULL, true),
        };
        let ((extracted, touched), report) = self
            .handoff
            .run(
                self.pool,
                self.scope,
                &[kind],
                async |publisher| match rest {
                    false => self.extract_pulls_by_number(wanted, publisher).await,
                    true => self.extract_rest_pulls_by_number(wanted, publisher).await,
                },
                &|_| {},
            )
            .await?;
        self.finish_pulls(
            touched,
            report,
            extracted,
            StepReport::default(),
            Etags::new(),
        )
        .await
    }

    /// Over REST: each pull request's detail, reviews and commits (its comments are read by
    /// the next sync's repository listings).
    async fn extract_rest_pulls_by_number(
        &self,
        wanted: &[(String, u64)],
        publisher: StagePublisher,
    ) -> Result<(StepReport, BTreeSet<String>), PipelineError> {
        let clock = Instant::now();
        let mut report = StepReport::default();
        let mut touched = BTreeSet::new();
        let mut outbox = Outbox::new(publisher);
        for (repository, number) in wanted {
            let listed = json!({"number": number});
            let (raw_ids, ids) = match self.store_pulls(repository, &[listed]).await {
                Err(PipelineError::Source(ConnectorError::Status { status, .. }))
                    if status == reqwest::StatusCode::NOT_FOUND =>
                {
                    continue
                }
                other => other?,
            };
            touched.extend(ids);
            report.extracted += raw_ids.len() as u64;
            outbox.push(self.message(kinds::PULL, raw_ids)).await?;
        }
        outbox.finish().await?;
        report.extract_seconds = clock.elapsed().as_secs_f64();
        Ok((report, touched))
    }

    /// After the pull requests (and comments) are loaded: flow metrics and key links of every
    /// pull request touched, the step's report and state, and the listings' ETags once all
    /// of it is loaded.
    async fn finish_pulls(
        &self,
        touched: BTreeSet<String>,
        mut report: StepReport,
        extracted: StepReport,
        comments: StepReport,
        fresh: Etags,
    ) -> Result<PullsSynced, PipelineError> {
        let touched: Vec<String> = touched.into_iter().collect();
        let clock = Instant::now();
        let metrics_changed =
            github::refresh_flow_metrics(self.pool, self.scope.integration(), &touched).await?;
        let linked = links::link_pulls(self.pool, self.scope.integration(), &touched).await?;
        tracing::info!(
            linked,
            "work items linked by the issue keys pull requests carry"
        );
        report.extracted = extracted.extracted;
        report.extract_seconds = extracted.extract_seconds;
        report.failed += comments.failed;
        report.transform_seconds += comments.transform_seconds;
        report.load_seconds += comments.load_seconds + clock.elapsed().as_secs_f64();
        // ETags stand for "all of this is loaded": remember them only when it is.
        let state = if report.failed > 0 {
            StageState::Failed
        } else {
            github::save_etags(self.pool, self.scope.integration(), &fresh).await?;
            StageState::Finished
        };
        self.stages(steps::PULL_REQUESTS, state).await?;
        Ok(PullsSynced {
            report,
            comments: comments.loaded,
            metrics_changed,
        })
    }

    /// A changed pull request's detail, reviews and commits.
    async fn fetch_pull(
        &self,
        repository: &str,
        listed: &Value,
    ) -> Result<PullBundle, ConnectorError> {
        let number = listed["number"].as_u64().unwrap_or_default();
        let base = format!("/repos/{repository}/pulls/{number}");
        let (reviews, commits) = (format!("{base}/reviews"), format!("{base}/commits"));
        let (detail, reviews, commits) = tokio::try_join!(
            self.client.pull(repository, number),
            self.client.all_pages(&reviews, &[]),
            self.client.all_pages(&commits, &[]),
        )?;
        Ok(PullBundle {
            // A pull request named only by number takes its id from the detail.
            id: id_text(listed)
                .or_else(|| id_text(&detail.body))
                .unwrap_or_default(),
            detail: detail.body,
            reviews,
            commits,
        })
    }

    /// Fetches and stores changed pull requests (pages first, then the pull request rows);
    /// returns the pull requests' raw ids and external ids.
    async fn store_pulls(
        &self,
        repository: &str,
        changed: &[Value],
    ) -> Result<(Vec<RawId>, Vec<String>), PipelineError> {
        let bundles =
            try_join_all(changed.iter().map(|pull| self.fetch_pull(repository, pull))).await?;
        let ids = bundles.iter().map(|bundle| bundle.id.clone()).collect();
        let (mut reviews, mut commits, mut pulls) = (Vec::new(), Vec::new(), Vec::new());
        for bundle in bundles {
            reviews.extend(page_entities(&bundle.id, bundle.reviews));
            commits.extend(page_entities(&bundle.id, bundle.commits));
            let metadata = json!({"repository": repository, "number": bundle.detail["number"]});
            pulls.push((Some(bundle.id), bundle.detail, metadata));
        }
        raw::insert_each(self.pool, self.scope, kinds::PULL_REVIEWS, reviews).await?;
        raw::insert_each(self.pool, self.scope, kinds::PULL_COMMITS, commits).await?;
        let raw_ids = raw::insert_each(self.pool, self.scope, kinds::PULL, pulls).await?;
        Ok((raw_ids, ids))
    }

    /// Extract side of the pull requests: per repository the listing newest-updated first,
    /// stopping at the cursor (or at once on `304`: nothing changed); each page's changed
    /// pull requests stored raw and published. Returns the report, the listings' ETags and
    /// the external ids of the pull requests extracted.
    async fn extract_pulls(
        &self,
        repositories: &[String],
        known: &Etags,
        publisher: StagePublisher,
    ) -> Result<(StepReport, Etags, BTreeSet<String>), PipelineError> {
        let mut report = StepReport::default();
        let mut fresh = Etags::new();
        let mut extracted = BTreeSet::new();
        let mut outbox = Outbox::new(publisher);
        let query = [
            ("state", "all".to_owned()),
            ("sort", "updated".to_owned()),
            ("direction", "desc".to_owned()),
        ];
        for repository in repositories {
            let clock = Instant::now();
            let resource = format!("pulls:{repository}");
            let listing = format!("/repos/{repository}/pulls");
            let etag = known.get(&resource).map(String::as_str);
            let Some(mut page) = self.client.first_page(&listing, &query, etag).await? else {
                report.extract_seconds += clock.elapsed().as_secs_f64();
                continue;
            };
            if let Some(etag) = page.etag.take() {
                fresh.insert(resource, etag);
            }
            loop {
                let clock = Instant::now();
                let changed: Vec<Value> = page
                    .items
                    .iter()
                    .take_while(|pull| updated_since(pull, "updated_at", self.since))
                    .cloned()
                    .collect();
                let reached_cursor = changed.len() < page.items.len();
                if !changed.is_empty() {
                    extracted.extend(changed.iter().filter_map(id_text));
                    let (raw_ids, _) = self.store_pulls(repository, &changed).await?;
                    report.extracted += changed.len() as u64;
                    report.extract_seconds += clock.elapsed().as_secs_f64();
                    outbox.push(self.message(kinds::PULL, raw_ids)).await?;
                }
                match page.next.take() {
                    Some(next) if !reached_cursor => page = self.client.next_page(&next).await?,
                    _ => break,
                }
            }
        }
        outbox.finish().await?;
        Ok((report, fresh, extracted))
    }

    pub(super) fn message(&self, kind: &str, raw_ids: Vec<RawId>) -> crate::queue::StageMessage {
        stage_message(self.scope, (Provider::Github, kind), self.since, raw_ids)
    }

    /// Extract side of the comments: each repository's review and issue comments updated
    /// since the cursor, stored raw one row per comment and published page by page.
    /// Returns the report, the listings' ETags and the (repository, number) of the pull
    /// requests (or issues) commented on.
    async fn extract_comments(
        &self,
        repositories: &[String],
        known: &Etags,
        publisher: StagePublisher,
    ) -> Result<(StepReport, Etags, Vec<(String, i64)>), PipelineError> {
        let mut report = StepReport::default();
        let mut fresh = Etags::new();
        let mut commented = Vec::new();
        let mut outbox = Outbox::new(publisher);
        let mut query = Vec::new();
        if let Some(since) = self.since {
            query.push(("since", since.format("%Y-%m-%dT%H:%M:%SZ").to_string()));
        }
        let lists = [
            (kinds::REVIEW_COMMENT, "pulls/comments"),
            (kinds::ISSUE_COMMENT, "issues/comments"),
        ];
        for repository in repositories {
            for (kind, path) in lists {
                let clock = Instant::now();
                let resource = format!("{kind}:{repository}");
                // Comments are listed oldest first, so new ones land on the last page: only
                // a listing that fit on one page can be trusted to be unchanged by its ETag.
                let etag = self.since.and(known.get(&resource).map(String::as_str));
                let listing = format!("/repos/{repository}/{path}");
                let mut next = self.client.first_page(&listing, &query, etag).await?;
                if let Some(page) = &mut next {
                    if let (Some(etag), None) = (page.etag.take(), &page.next) {
                        fresh.insert(resource, etag);
                    }
                }
                while let Some(page) = next {
                    commented.extend(page.items.iter().filter_map(commented_on));
                    let entities = page.items.iter().map(|c| (id_text(c), c.clone())).collect();
                    let raw_ids =
                        raw::insert(self.pool, self.scope, kind, entities, &json!({})).await?;
                    report.extracted += raw_ids.len() as u64;
                    if !raw_ids.is_empty() {
                        outbox.push(self.message(kind, raw_ids)).await?;
                    }
                    next = match page.next {
                        Some(url) => Some(self.client.next_page(&url).await?),
                        None => None,
                    };
                }
                report.extract_seconds += clock.elapsed().as_secs_f64();
            }
        }
        outbox.finish().await?;
        Ok((report, fresh, commented))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cursor_splits_a_listing_newest_first() {
        let since = DateTime::parse_from_rfc3339("2024-05-01T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let at = |text: &str| json!({"updated_at": text});
        assert!(updated_since(
            &at("2024-05-01T00:00:00Z"),
            "updated_at",
            Some(since)
        ));
        assert!(!updated_since(
            &at("2024-04-30T23:59:59Z"),
            "updated_at",
            Some(since)
        ));
        assert!(updated_since(&at("garbled"), "updated_at", Some(since)));
        assert!(updated_since(
            &at("2001-01-01T00:00:00Z"),
            "updated_at",
            None
        ));
    }

    #[test]
    fn listing_pages_are_numbered_and_the_last_one_marked() {
        let page = |n: u64| Page {
            items: vec![json!({"n": n})],
            next: None,
            etag: None,
        };
        let entities = page_entities("42", vec![page(1), page(2)]);
        assert_eq!(entities.len(), 2);
        assert_eq!(entities[0].0.as_deref(), Some("42"));
        assert_eq!(entities[0].2, json!({"startAt": 0, "last": false}));
        assert_eq!(entities[1].2, json!({"startAt": 100, "last": true}));
        assert_eq!(entities[1].1, json!([{"n": 2}]));
    }
}
