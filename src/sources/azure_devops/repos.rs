//! One Azure Repos sync step: each project's repositories, then its pull requests. The
//! listing (every status, a thousand per answer) says which pull requests to read; each
//! one read is its own answer (description, commits, work item references) and its threads
//! (votes, comments), stored raw together as `{pullRequest, threads}`.
//!
//! Azure gives a pull request no last-changed time, so an incremental run reads the pull
//! requests that are new, still active, or whose listing entry (status, votes, title,
//! branches, last commit) differs from the one seen last run. A comment added to a
//! completed or abandoned pull request with nothing else changing is read by the next run
//! that reads everything (`--full`).

use std::collections::HashMap;
use std::time::Instant;

use futures_util::future::try_join_all;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::pull_load::keys_of;
use super::sync::AzureRun;
use super::{kinds, steps};
use crate::connectors::http::ConnectorError;
use crate::domain::{Provider, StageState};
use crate::pipeline::handoff::StagePublisher;
use crate::pipeline::{stage_message, Outbox, PipelineError, StepReport};
use crate::sources::pull_requests::tables as pull_tables;
use crate::store::raw::{self, RawEntity};

/// Pull requests stored (and handed on) together.
const STORE_BATCH: usize = 50;
/// Pull requests read at once.
const READ_AHEAD: usize = 4;
/// What the fingerprints of listing entries are remembered under, before the id.
const FINGERPRINT_PREFIX: &str = "azure_pr:";

/// A pull request the run reads.
struct Wanted {
    project: String,
    repository_id: String,
    id: u64,
    fingerprint: String,
}

/// What a listing entry says that can change: a digest of the whole entry.
fn fingerprint(entry: &Value) -> String {
    let digest = Sha256::digest(entry.to_string().as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `project/repository` is one the integration reads (`repos` empty: all).
fn in_scope(repos: &[String], project: &str, repository: &str) -> bool {
    let name = format!("{project}/{repository}");
    repos.is_empty() || repos.iter().any(|r| r.eq_ignore_ascii_case(&name))
}

impl AzureRun<'_> {
    /// The projects whose repositories this run reads: those of the repositories the
    /// integration names, else the projects it reads.
    async fn repository_projects(&self) -> Result<Vec<String>, PipelineError> {
        if self.repos.is_empty() {
            return Ok(self.project_names().await?);
        }
        let mut projects: Vec<String> = self
            .repos
            .iter()
            .filter_map(|r| r.split_once('/').map(|(project, _)| project.to_owned()))
            .collect();
        projects.sort_unstable_by_key(|p| p.to_lowercase());
        projects.dedup_by_key(|p| p.to_lowercase());
        Ok(projects)
    }

    /// Repositories and pull requests; pull requests go to the transform stage as they are
    /// stored, and are linked to work items once loaded.
    pub async fn pull_requests(
        &self,
        progress: &(dyn Fn(&StepReport) + Sync),
    ) -> Result<StepReport, PipelineError> {
        self.stages(steps::PULL_REQUESTS, StageState::Running)
            .await?;
        let clock = Instant::now();
        let integration = self.scope.integration();
        let seen: HashMap<String, String> = pull_tables::etags(self.pool, integration)
            .await?
            .into_iter()
            .filter(|(resource, _)| resource.starts_with(FINGERPRINT_PREFIX))
            .collect();
        let mut repositories = 0;
        let mut wanted = Vec::new();
        for project in self.repository_projects().await? {
            let answer = self.client.repositories(&project).await?.body;
            let raw_id = self
                .store(kinds::REPOSITORIES, Some(project.clone()), &answer)
                .await?;
            repositories += self.loader().repositories(raw_id, &answer).await?;
            wanted.extend(self.changed_pulls(&project, &seen).await?);
        }
        let ((extracted, keys), mut report) = self
            .handoff
            .run(
                self.pool,
                self.scope,
                &[kinds::PULL_REQUEST],
                async |publisher| {
                    let read = self.extract_pulls(&wanted, publisher).await?;
                    crate::pipeline::set_extracted(self.pool, self.scope, steps::PULL_REQUESTS)
                        .await?;
                    Ok(read)
                },
                progress,
            )
            .await?;
        report.extracted = extracted;
        report.extract_seconds = clock.elapsed().as_secs_f64();
        let linked = self.loader().finish_pulls(&keys).await?;
        tracing::info!(
            repositories,
            linked,
            "pull requests linked to the work items they name"
        );
        let fingerprints: HashMap<String, String> = wanted
            .into_iter()
            .map(|w| (format!("{FINGERPRINT_PREFIX}{}", w.id), w.fingerprint))
            .collect();
        pull_tables::save_etags(self.pool, integration, &fingerprints).await?;
        let state = if report.failed > 0 {
            StageState::Failed
        } else {
            StageState::Finished
        };
        self.stages(steps::PULL_REQUESTS, state).await?;
        Ok(report)
    }

    /// The pull requests of `project` this run reads: on a run that reads everything all
    /// of them, else those new, active or listed otherwise than last run (`seen`).
    async fn changed_pulls(
        &self,
        project: &str,
        seen: &HashMap<String, String>,
    ) -> Result<Vec<Wanted>, PipelineError> {
        let mut wanted = Vec::new();
        let mut skip = 0;
        loop {
            let mut answer = self.client.pull_requests(project, skip).await?.body;
            let entries = match answer["value"].take() {
                Value::Array(entries) if !entries.is_empty() => entries,
                // Azure may answer fewer than asked: only an empty page ends the listing.
                _ => break,
            };
            skip += entries.len();
            for entry in entries {
                let repository = &entry["repository"];
                let (Some(id), Some(repository_id), Some(name)) = (
                    entry["pullRequestId"].as_u64(),
                    repository["id"].as_str(),
                    repository["name"].as_str(),
                ) else {
                    continue;
                };
                if !in_scope(&self.repos, project, name) {
                    continue;
                }
                let fingerprint = fingerprint(&entry);
                let unchanged =
                    seen.get(&format!("{FINGERPRINT_PREFIX}{id}")) == Some(&fingerprint);
                if self.since.is_none() || entry["status"] == "active" || !unchanged {
                    wanted.push(Wanted {
                        project: project.to_owned(),
                        repository_id: repository_id.to_owned(),
                        id,
                        fingerprint,
                    });
                }
            }
        }
        Ok(wanted)
    }

    /// One pull request as stored: its own answer and its threads; None when it is gone.
    async fn read_pull(&self, wanted: &Wanted) -> Result<Option<RawEntity>, ConnectorError> {
        let (project, repository) = (wanted.project.as_str(), wanted.repository_id.as_str());
        let read = async {
            let pull = self
                .client
                .pull_request(project, repository, wanted.id)
                .await?;
            let mut threads = self.client.threads(project, repository, wanted.id).await?;
            Ok::<_, ConnectorError>((pull.body, threads.body["value"].take()))
        };
        match read.await {
            Ok((pull, threads)) => {
                let body = json!({"pullRequest": pull, "threads": threads});
                Ok(Some((Some(wanted.id.to_string()), body, json!({}))))
            }
            Err(ConnectorError::Status { status, .. })
                if status == reqwest::StatusCode::NOT_FOUND =>
            {
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    /// Reads `wanted` a few at a time, stores them in batches and hands each batch on;
    /// returns how many were stored and the work items each names.
    async fn extract_pulls(
        &self,
        wanted: &[Wanted],
        publisher: StagePublisher,
    ) -> Result<(u64, Vec<(String, Vec<String>)>), PipelineError> {
        let mut outbox = Outbox::new(publisher);
        let mut extracted = 0;
        let mut keys = Vec::with_capacity(wanted.len());
        for batch in wanted.chunks(STORE_BATCH) {
            let mut entities: Vec<RawEntity> = Vec::with_capacity(batch.len());
            for group in batch.chunks(READ_AHEAD) {
                let read = try_join_all(group.iter().map(|w| self.read_pull(w))).await?;
                entities.extend(read.into_iter().flatten());
            }
            if entities.is_empty() {
                continue;
            }
            let stored =
                raw::insert_returning(self.pool, self.scope, kinds::PULL_REQUEST, entities).await?;
            extracted += stored.len() as u64;
            keys.extend(stored.iter().filter_map(keys_of));
            let message = stage_message(
                self.scope,
                (Provider::AzureDevops, kinds::PULL_REQUEST),
                self.since,
                raw::ids_of(&stored),
            );
            outbox.push_stored(message, stored).await?;
        }
        outbox.finish().await?;
        Ok((extracted, keys))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_are_in_scope_by_project_and_name() {
        let repos = vec!["Fabrikam Fiber/web".to_owned()];
        assert!(in_scope(&repos, "fabrikam fiber", "Web"));
        assert!(!in_scope(&repos, "Tailspin", "web"));
        assert!(in_scope(&[], "Tailspin", "web"));
        let entry = json!({"pullRequestId": 1, "status": "active"});
        assert_eq!(fingerprint(&entry), fingerprint(&entry.clone()));
        assert_ne!(
            fingerprint(&entry),
            fingerprint(&json!({"pullRequestId": 1}))
        );
    }
}
