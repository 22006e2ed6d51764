//! Field resolvers of the simulated GitHub GraphQL schema over the generated site: one
//! enum of the objects it serves, connections paged by `first`/`after` with opaque cursors.

use std::sync::Arc;

use apollo_compiler::resolvers::{FieldError, ObjectValue, ResolveInfo, ResolvedValue};
use apollo_compiler::response::JsonValue;
use base64::Engine;

use crate::simulator::github::deployments::{Delivery, Deployed, Deployment, Outcome};
use crate::simulator::github::pulls::{self, Actor, Pull};
use crate::simulator::github::render::{self, github_time, node_id, node_id_of, repo_id};
use crate::simulator::github::routes::GithubState;
use crate::simulator::github::site::{repo_full_name, repo_name, Sort, StateFilter};

const PULL_KIND: &str = "011:PullRequest";
const THREAD_KIND: &str = "021:PullRequestReviewThread";

/// The budget as the answer reports it in `rateLimit`.
#[derive(Debug, Clone, Copy)]
pub struct RateLimitAnswer {
    pub cost: u64,
    pub limit: u64,
    pub node_count: u64,
    pub remaining: u64,
    pub reset_at_secs: i64,
    pub used: u64,
}

/// What every resolver reads.
pub struct World<'a> {
    pub github: &'a GithubState,
    pub rate: RateLimitAnswer,
}

/// The objects the schema serves.
#[derive(Clone)]
enum Entity {
    Query,
    RateLimit,
    Repository(usize),
    Connection(Arc<Connection>),
    PageInfo(Arc<Connection>),
    Pull(Arc<Pull>),
    Actor(Actor),
    /// The account behind a commit's author or committer: typed `User` whoever it is.
    GitUser(Actor),
    PullCommit(Arc<Pull>, usize),
    Commit(Arc<Pull>, usize),
    GitActor(Actor, i64),
    Review(Arc<Pull>, usize),
    IssueComment(Arc<Pull>, usize),
    Thread(Arc<Pull>, usize),
    ReviewComment(Arc<Pull>, usize),
    /// A repository's deployment by position, among its repository's.
    Deployment(Arc<Vec<Delivery>>, usize, usize),
    /// A deployment's status: position 0 is the newest.
    DeploymentStatus(Arc<Vec<Delivery>>, usize, usize, usize),
    Release(Arc<Vec<Delivery>>, usize, usize),
    /// The merge commit a deployment or release points at.
    MergeCommit(Deployed),
}

/// A deployment's statuses, oldest first: in progress, its outcome, and inactive once a
/// later deployment to the same environment succeeded (GitHub's `auto_inactive`).
fn statuses(repo: &[Deployment], position: usize) -> Vec<(&'static str, i64)> {
    let deployment = &repo[position];
    let mut statuses = vec![
        ("IN_PROGRESS", deployment.created_ms),
        (deployment.outcome.state(), deployment.finished_ms),
    ];
    let superseded = repo[position + 1..].iter().find(|later| {
        later.environment == deployment.environment && later.outcome == Outcome::Success
    });
    if let Some(later) = superseded.filter(|_| deployment.outcome == Outcome::Success) {
        statuses.push(("INACTIVE", later.finished_ms));
    }
    statuses
}

/// One page of a connection.
struct Connection {
    type_name: &'static str,
    nodes: Vec<Entity>,
    total: usize,
    /// Offset of the first node in the whole list.
    start: usize,
}

impl Connection {
    fn has_next(&self) -> bool {
        self.start + self.nodes.len() < self.total
    }

    fn cursor(offset: usize) -> String {
        base64::engine::general_purpose::STANDARD.encode(format!("cursor:v2:{offset}"))
    }
}

/// The offset a cursor names.
fn offset_of(cursor: &str) -> Option<usize> {
    let text = base64::engine::general_purpose::STANDARD
        .decode(cursor)
        .ok()?;
    String::from_utf8(text)
        .ok()?
        .strip_prefix("cursor:v2:")?
        .parse()
        .ok()
}

/// `first` and the offset after `after` of a connection field (limits were checked before
/// execution).
fn window(info: &ResolveInfo<'_>) -> Result<(usize, usize), FieldError> {
    let arguments = info.arguments();
    if arguments.get("last").is_some_and(|v| !v.is_null()) {
        return Err(error(
            "the simulator pages connections with `first` and `after` only",
        ));
    }
    let first = arguments
        .get("first")
        .and_then(JsonValue::as_i64)
        .unwrap_or(0)
        .max(0) as usize;
    let start = match arguments.get("after").and_then(JsonValue::as_str) {
        None => 0,
        Some(cursor) => {
            offset_of(cursor).ok_or_else(|| {
                error(&format!("`{cursor}` does not appear to be a valid cursor."))
            })? + 1
        }
    };
    Ok((first, start))
}

fn error(message: &str) -> FieldError {
    FieldError {
        message: message.to_owned(),
    }
}

/// A connection over `total` items of which `make(offset)` builds one.
fn connection(
    info: &ResolveInfo<'_>,
    type_name: &'static str,
    total: usize,
    make: impl Fn(usize) -> Entity,
) -> Result<Connection, FieldError> {
    let (first, start) = window(info)?;
    let end = (start + first).min(total);
    let nodes = (start.min(end)..end).map(make).collect();
    Ok(Connection {
        type_name,
        nodes,
        total,
        start,
    })
}

fn leaf<'a>(value: impl Into<JsonValue>) -> Result<ResolvedValue<'a>, FieldError> {
    Ok(ResolvedValue::leaf(value))
}

fn time<'a>(ms: i64) -> Result<ResolvedValue<'a>, FieldError> {
    leaf(github_time(ms))
}

fn optional_time<'a>(ms: Option<i64>) -> Result<ResolvedValue<'a>, FieldError> {
    leaf(ms.map_or(JsonValue::Null, |ms| JsonValue::from(github_time(ms))))
}

/// Resolves one object's fields.
pub struct Resolver<'w> {
    world: &'w World<'w>,
    entity: Entity,
}

impl<'w> Resolver<'w> {
    /// The root `Query` object.
    pub fn query(world: &'w World<'w>) -> Self {
        Resolver {
            world,
            entity: Entity::Query,
        }
    }

    /// Another object of the same answer.
    fn object(&self, entity: Entity) -> Result<ResolvedValue<'w>, FieldError> {
        Ok(ResolvedValue::object(Resolver {
            world: self.world,
            entity,
        }))
    }

    fn page(&self, page: Result<Connection, FieldError>) -> Result<ResolvedValue<'w>, FieldError> {
        self.object(Entity::Connection(Arc::new(page?)))
    }
}

impl ObjectValue for Resolver<'_> {
    fn type_name(&self) -> &str {
        match &self.entity {
            Entity::Query => "Query",
            Entity::RateLimit => "RateLimit",
            Entity::Repository(_) => "Repository",
            Entity::Connection(page) => page.type_name,
            Entity::PageInfo(_) => "PageInfo",
            Entity::Pull(_) => "PullRequest",
            Entity::Actor(actor) if actor.is_bot() => "Bot",
            Entity::Actor(_) | Entity::GitUser(_) => "User",
            Entity::PullCommit(..) => "PullRequestCommit",
            Entity::Commit(..) => "Commit",
            Entity::GitActor(..) => "GitActor",
            Entity::Review(..) => "PullRequestReview",
            Entity::IssueComment(..) => "IssueComment",
            Entity::Thread(..) => "PullRequestReviewThread",
            Entity::ReviewComment(..) => "PullRequestReviewComment",
            Entity::Deployment(..) => "Deployment",
            Entity::DeploymentStatus(..) => "DeploymentStatus",
            Entity::Release(..) => "Release",
            Entity::MergeCommit(_) => "Commit",
        }
    }

    fn resolve_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        let field = info.field_name();
        let child = |entity: Entity| self.object(entity);
        match &self.entity {
            Entity::Query => self.query_field(info, field),
            Entity::RateLimit => {
                let rate = self.world.rate;
                match field {
                    "cost" => leaf(rate.cost as i64),
                    "limit" => leaf(rate.limit as i64),
                    "nodeCount" => leaf(rate.node_count as i64),
                    "remaining" => leaf(rate.remaining as i64),
                    "used" => leaf(rate.used as i64),
                    "resetAt" => time(rate.reset_at_secs * 1_000),
                    _ => Err(self.unknown_field_error(info)),
                }
            }
            Entity::Repository(repo) => match field {
                "databaseId" => leaf(repo_id(*repo) as i64),
                "id" => leaf(node_id("010:Repository", repo_id(*repo))),
                "name" => leaf(repo_name(*repo)),
                "nameWithOwner" => leaf(repo_full_name(*repo)),
                "pullRequests" => self.page(self.pull_requests(info, *repo)),
                "deployments" => self.page(self.deployments(info, *repo)),
                "releases" => self.page(self.releases(info, *repo)),
                "pullRequest" => {
                    let number = info
                        .arguments()
                        .get("number")
                        .and_then(JsonValue::as_u64)
                        .unwrap_or_default();
                    match self.world.github.site.pull(*repo, number) {
                        Some(pull) => child(Entity::Pull(Arc::new(pull))),
                        None => Err(error(&format!(
                            "Could not resolve to a PullRequest with the number of {number}."
                        ))),
                    }
                }
                _ => Err(self.unknown_field_error(info)),
            },
            Entity::Connection(page) => match field {
                "totalCount" => leaf(page.total as i64),
                "pageInfo" => child(Entity::PageInfo(page.clone())),
                "nodes" => Ok(ResolvedValue::list(page.nodes.iter().map(|node| {
                    ResolvedValue::object(Resolver {
                        world: self.world,
                        entity: node.clone(),
                    })
                }))),
                _ => Err(self.unknown_field_error(info)),
            },
            Entity::PageInfo(page) => {
                let cursor = |offset: usize| JsonValue::from(Connection::cursor(offset));
                let (first, last) = (page.start, page.start + page.nodes.len());
                match field {
                    "hasNextPage" => leaf(page.has_next()),
                    "hasPreviousPage" => leaf(page.start > 0),
                    "startCursor" if page.nodes.is_empty() => leaf(JsonValue::Null),
                    "startCursor" => leaf(cursor(first)),
                    "endCursor" if page.nodes.is_empty() => leaf(JsonValue::Null),
                    "endCursor" => leaf(cursor(last - 1)),
                    _ => Err(self.unknown_field_error(info)),
                }
            }
            Entity::Pull(pull) => self.pull_field(info, field, pull),
            Entity::Actor(actor) => match field {
                // GitHub's GraphQL names bots without the `[bot]` their REST login carries.
                "login" => leaf(actor.login().trim_end_matches("[bot]").to_owned()),
                "databaseId" => leaf(actor.id() as i64),
                "id" => leaf(node_id(
                    if actor.is_bot() { "03:Bot" } else { "04:User" },
                    actor.id(),
                )),
                _ => Err(self.unknown_field_error(info)),
            },
            Entity::GitUser(actor) => match field {
                "login" => leaf(actor.login()),
                "databaseId" => leaf(actor.id() as i64),
                "id" => leaf(node_id("04:User", actor.id())),
                _ => Err(self.unknown_field_error(info)),
            },
            Entity::PullCommit(pull, position) => match field {
                "commit" => child(Entity::Commit(pull.clone(), *position)),
                "id" => leaf(node_id(
                    "017:PullRequestCommit",
                    pull.id() * 100 + *position as u64,
                )),
                _ => Err(self.unknown_field_error(info)),
            },
            Entity::Commit(pull, position) => {
                let commit = &pull.commits[*position];
                match field {
                    "oid" => leaf(commit.sha.clone()),
                    "id" => leaf(node_id("06:Commit", commit.authored_ms as u64)),
                    "message" => leaf(commit.message.clone()),
                    "authoredDate" => time(commit.authored_ms),
                    "committedDate" => time(commit.committed_ms),
                    "author" => child(Entity::GitActor(commit.author, commit.authored_ms)),
                    "committer" => child(Entity::GitActor(commit.author, commit.committed_ms)),
                    _ => Err(self.unknown_field_error(info)),
                }
            }
            Entity::GitActor(actor, at) => match field {
                "name" => leaf(render::author_name(*actor)),
                "email" => leaf(render::email(*actor)),
                "date" => time(*at),
                "user" => child(Entity::GitUser(*actor)),
                _ => Err(self.unknown_field_error(info)),
            },
            Entity::Review(pull, position) => {
                let review = &pull.reviews[*position];
                match field {
                    "fullDatabaseId" => leaf(review.id.to_string()),
                    "id" => leaf(node_id("017:PullRequestReview", review.id)),
                    "author" => child(Entity::Actor(review.author)),
                    "body" => leaf(review.body.clone()),
                    "state" => leaf(review.state),
                    "submittedAt" => time(review.submitted_ms),
                    "commit" => match pull.commits.len().checked_sub(1) {
                        Some(last) => child(Entity::Commit(pull.clone(), last)),
                        None => leaf(JsonValue::Null),
                    },
                    _ => Err(self.unknown_field_error(info)),
                }
            }
            Entity::IssueComment(pull, position) => {
                let comment = &pull.issue_comments[*position];
                match field {
                    "fullDatabaseId" => leaf(comment.id.to_string()),
                    "id" => leaf(node_id("012:IssueComment", comment.id)),
                    "author" => child(Entity::Actor(comment.author)),
                    "body" => leaf(comment.body.clone()),
                    "createdAt" => time(comment.created_ms),
                    "updatedAt" => time(comment.updated_ms),
                    _ => Err(self.unknown_field_error(info)),
                }
            }
            // Every generated review comment starts a thread of its own.
            Entity::Thread(pull, position) => match field {
                "id" => leaf(node_id(THREAD_KIND, pull.review_comments[*position].id)),
                "comments" => self.page(connection(
                    info,
                    "PullRequestReviewCommentConnection",
                    1,
                    |_| Entity::ReviewComment(pull.clone(), *position),
                )),
                _ => Err(self.unknown_field_error(info)),
            },
            Entity::Deployment(delivery, repo, position) => {
                self.deployment_field(info, field, delivery, *repo, *position)
            }
            Entity::DeploymentStatus(delivery, repo, position, status) => {
                let deployments = &delivery[*repo].deployments;
                let statuses = statuses(deployments, *position);
                let (state, at) = statuses[statuses.len() - 1 - *status];
                match field {
                    "id" => leaf(node_id(
                        "016:DeploymentStatus",
                        deployments[*position].id * 4 + *status as u64,
                    )),
                    "state" => leaf(state),
                    "createdAt" | "updatedAt" => time(at),
                    "description" => leaf(JsonValue::Null),
                    "environment" => leaf(deployments[*position].environment),
                    _ => Err(self.unknown_field_error(info)),
                }
            }
            Entity::Release(delivery, repo, position) => {
                let release = &delivery[*repo].releases[*position];
                match field {
                    "id" => leaf(node_id("07:Release", release.id)),
                    "databaseId" => leaf(release.id as i64),
                    "tagName" => leaf(release.tag.clone()),
                    "name" => leaf(format!("Release {}", release.tag)),
                    "isDraft" | "isPrerelease" => leaf(false),
                    "createdAt" | "publishedAt" | "updatedAt" => time(release.published_ms),
                    "tagCommit" => child(Entity::MergeCommit(release.commit.clone())),
                    _ => Err(self.unknown_field_error(info)),
                }
            }
            Entity::MergeCommit(commit) => match field {
                "oid" => leaf(commit.sha.clone()),
                "id" => leaf(node_id("06:Commit", commit.committed_ms as u64)),
                "message" => leaf(format!("Merge pull request #{}", commit.number)),
                "authoredDate" | "committedDate" => time(commit.committed_ms),
                "author" | "committer" => {
                    child(Entity::GitActor(commit.author, commit.committed_ms))
                }
                _ => Err(self.unknown_field_error(info)),
            },
            Entity::ReviewComment(pull, position) => {
                let comment = &pull.review_comments[*position];
                let (_, path, line) = comment.review.clone().unwrap_or((0, String::new(), 1));
                match field {
                    "fullDatabaseId" => leaf(comment.id.to_string()),
                    "id" => leaf(node_id("024:PullRequestReviewComment", comment.id)),
                    "author" => child(Entity::Actor(comment.author)),
                    "body" => leaf(comment.body.clone()),
                    "path" => leaf(path),
                    "line" | "originalLine" => leaf(line as i64),
                    "replyTo" => leaf(JsonValue::Null),
                    "createdAt" => time(comment.created_ms),
                    "updatedAt" => time(comment.updated_ms),
                    _ => Err(self.unknown_field_error(info)),
                }
            }
        }
    }
}

impl<'w> Resolver<'w> {
    fn query_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
        field: &str,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        let world = self.world;
        let argument = |name: &str| info.arguments().get(name).and_then(JsonValue::as_str);
        let object = |entity| self.object(entity);
        match field {
            "rateLimit" => object(Entity::RateLimit),
            "repository" => {
                let (owner, name) = (
                    argument("owner").unwrap_or(""),
                    argument("name").unwrap_or(""),
                );
                match world.github.site.repo(owner, name) {
                    Some(repo) => object(Entity::Repository(repo)),
                    None => Err(error(&format!(
                        "Could not resolve to a Repository with the name '{owner}/{name}'."
                    ))),
                }
            }
            "node" => {
                let id = argument("id").unwrap_or("");
                if let Some(pull) =
                    node_id_of(PULL_KIND, id).and_then(|id| world.github.site.pull_by_id(id))
                {
                    return object(Entity::Pull(Arc::new(pull)));
                }
                let thread = node_id_of(THREAD_KIND, id).and_then(|comment| {
                    let index = pulls::pull_of_review_comment(comment)?;
                    let pull = world
                        .github
                        .site
                        .pull_by_id(pulls::PULL_ID_BASE + u64::from(index))?;
                    let position = pull.review_comments.iter().position(|c| c.id == comment)?;
                    Some((pull, position))
                });
                match thread {
                    Some((pull, position)) => object(Entity::Thread(Arc::new(pull), position)),
                    None => Err(error(&format!(
                        "Could not resolve to a node with the global id of '{id}'"
                    ))),
                }
            }
            _ => Err(self.unknown_field_error(info)),
        }
    }

    fn pull_requests(&self, info: &ResolveInfo<'_>, repo: usize) -> Result<Connection, FieldError> {
        let world = self.world;
        let (first, start) = window(info)?;
        let arguments = info.arguments();
        let order = arguments.get("orderBy").and_then(JsonValue::as_object);
        let by_updated = order
            .and_then(|o| o.get("field"))
            .and_then(JsonValue::as_str)
            == Some("UPDATED_AT");
        let descending = order
            .and_then(|o| o.get("direction"))
            .and_then(JsonValue::as_str)
            == Some("DESC");
        let states: Option<Vec<String>> = arguments
            .get("states")
            .and_then(JsonValue::as_array)
            .map(|states| {
                states
                    .iter()
                    .filter_map(|s| s.as_str().map(str::to_owned))
                    .collect()
            });
        let (pulls, total) = match (&states, by_updated) {
            (None, true) => world
                .github
                .site
                .page_by_updated(repo, start, first, descending),
            _ => {
                let sort = if by_updated {
                    Sort::Updated
                } else {
                    Sort::Created
                };
                let all: Vec<Pull> = world
                    .github
                    .site
                    .list(repo, StateFilter::All, sort, descending)
                    .into_iter()
                    .filter(|pull| {
                        states
                            .as_ref()
                            .is_none_or(|states| states.iter().any(|s| s == graphql_state(pull)))
                    })
                    .collect();
                let total = all.len();
                (all.into_iter().skip(start).take(first).collect(), total)
            }
        };
        Ok(Connection {
            type_name: "PullRequestConnection",
            nodes: pulls
                .into_iter()
                .map(|p| Entity::Pull(Arc::new(p)))
                .collect(),
            total,
            start,
        })
    }

    /// A repository's deployments, oldest first unless ordered `DESC`, of the environments
    /// asked for.
    fn deployments(&self, info: &ResolveInfo<'_>, repo: usize) -> Result<Connection, FieldError> {
        let delivery = self.world.github.site.delivery();
        let arguments = info.arguments();
        let environments: Option<Vec<&str>> = arguments
            .get("environments")
            .and_then(JsonValue::as_array)
            .map(|names| names.iter().filter_map(JsonValue::as_str).collect());
        let mut positions: Vec<usize> = (0..delivery[repo].deployments.len())
            .filter(|position| {
                let environment = delivery[repo].deployments[*position].environment;
                environments
                    .as_ref()
                    .is_none_or(|wanted| wanted.contains(&environment))
            })
            .collect();
        if descending(info) {
            positions.reverse();
        }
        connection(info, "DeploymentConnection", positions.len(), |i| {
            Entity::Deployment(delivery.clone(), repo, positions[i])
        })
    }

    /// A repository's releases, oldest first unless ordered `DESC`.
    fn releases(&self, info: &ResolveInfo<'_>, repo: usize) -> Result<Connection, FieldError> {
        let delivery = self.world.github.site.delivery();
        let count = delivery[repo].releases.len();
        let descending = descending(info);
        connection(info, "ReleaseConnection", count, |i| {
            let position = if descending { count - 1 - i } else { i };
            Entity::Release(delivery.clone(), repo, position)
        })
    }

    fn deployment_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
        field: &str,
        delivery: &Arc<Vec<Delivery>>,
        repo: usize,
        position: usize,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        let deployments = &delivery[repo].deployments;
        let deployment = &deployments[position];
        let statuses = statuses(deployments, position);
        let status = |status: usize| {
            self.object(Entity::DeploymentStatus(
                delivery.clone(),
                repo,
                position,
                status,
            ))
        };
        match field {
            "id" => leaf(node_id("010:Deployment", deployment.id)),
            "databaseId" => leaf(deployment.id as i64),
            "environment" => leaf(deployment.environment),
            "description" => leaf(deployment.description.clone()),
            "createdAt" => time(deployment.created_ms),
            "updatedAt" => time(statuses.last().map_or(deployment.created_ms, |s| s.1)),
            "commitOid" => leaf(deployment.commit.sha.clone()),
            "commit" => self.object(Entity::MergeCommit(deployment.commit.clone())),
            "state" => leaf(statuses.last().map_or("PENDING", |s| s.0)),
            "latestStatus" => status(0),
            "statuses" => self.page(connection(
                info,
                "DeploymentStatusConnection",
                statuses.len(),
                |i| Entity::DeploymentStatus(delivery.clone(), repo, position, i),
            )),
            _ => Err(self.unknown_field_error(info)),
        }
    }

    fn pull_field<'a>(
        &'a self,
        info: &'a ResolveInfo<'a>,
        field: &str,
        pull: &Arc<Pull>,
    ) -> Result<ResolvedValue<'a>, FieldError> {
        let world = self.world;
        let child = |entity: Entity| self.object(entity);
        match field {
            "id" => leaf(node_id(PULL_KIND, pull.id())),
            "fullDatabaseId" => leaf(pull.id().to_string()),
            "number" => leaf(pull.number as i64),
            "title" => leaf(pull.title.clone()),
            "body" => leaf(pull.body.clone().unwrap_or_default()),
            "state" => leaf(graphql_state(pull)),
            "isDraft" => leaf(pull.draft),
            "createdAt" => {
                if world.github.serves_malformed(pull) {
                    leaf("not a date")
                } else {
                    time(pull.created_ms)
                }
            }
            "updatedAt" => time(pull.updated_ms()),
            "closedAt" => optional_time(pull.closed_ms),
            "mergedAt" => optional_time(pull.merged_ms),
            "additions" => leaf(pull.additions as i64),
            "deletions" => leaf(pull.deletions as i64),
            "changedFiles" => leaf(pull.changed_files as i64),
            "baseRefName" => leaf("main"),
            "headRefName" => leaf(pull.head_ref.clone()),
            "baseRefOid" => leaf(pulls::sha(pull.index, 98, 0)),
            "headRefOid" => leaf(pull.head_sha()),
            "author" => child(Entity::Actor(pull.author)),
            "repository" => child(Entity::Repository(pull.repo)),
            // Nobody is assigned in the simulated organisation (an empty list: no node is
            // ever made).
            "assignees" => self.page(connection(info, "UserConnection", 0, |_| Entity::Query)),
            "commits" => self.page(connection(
                info,
                "PullRequestCommitConnection",
                pull.commits.len(),
                |i| Entity::PullCommit(pull.clone(), i),
            )),
            "reviews" => self.page(connection(
                info,
                "PullRequestReviewConnection",
                pull.reviews.len(),
                |i| Entity::Review(pull.clone(), i),
            )),
            "comments" => self.page(connection(
                info,
                "IssueCommentConnection",
                pull.issue_comments.len(),
                |i| Entity::IssueComment(pull.clone(), i),
            )),
            "reviewThreads" => self.page(connection(
                info,
                "PullRequestReviewThreadConnection",
                pull.review_comments.len(),
                |i| Entity::Thread(pull.clone(), i),
            )),
            _ => Err(self.unknown_field_error(info)),
        }
    }
}

/// Whether a connection is ordered `DESC` (by its `orderBy` argument).
fn descending(info: &ResolveInfo<'_>) -> bool {
    info.arguments()
        .get("orderBy")
        .and_then(JsonValue::as_object)
        .and_then(|order| order.get("direction"))
        .and_then(JsonValue::as_str)
        == Some("DESC")
}

/// GitHub's GraphQL state: merged pull requests are `MERGED`, not `CLOSED`.
fn graphql_state(pull: &Pull) -> &'static str {
    match (pull.merged_ms, pull.closed_ms) {
        (Some(_), _) => "MERGED",
        (None, Some(_)) => "CLOSED",
        (None, None) => "OPEN",
    }
}
