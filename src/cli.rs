//! Command-line interface (clap derive); the doc comments are the `--help` text.

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::domain::{IntegrationId, JobId, Provider, TenantId, Tier, UserRole};
use crate::search::SearchMode;

/// pulse-etl keeps an up-to-date, queryable copy of many tenants' Jira and GitHub data:
/// extract (raw API responses stored verbatim) → transform → load (PostgreSQL) → embed (Qdrant).
///
/// Configuration: embedded defaults < config/<PULSE_PROFILE>.toml < environment
/// (DATABASE_URL, RABBITMQ_URL, QDRANT_URL, PULSE_HTTP_ADDR, PULSE_JWT_SECRET, PULSE_SECRET_KEY,
/// PULSE_DATA_DIR, or PULSE_<SECTION>__<KEY>).
#[derive(Debug, Parser)]
#[command(name = "pulse-etl", version, max_term_width = 100)]
pub struct Cli {
    /// Log format on stderr: human on a terminal, json for log shippers. Filter with RUST_LOG.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human, env = "PULSE_LOG_FORMAT")]
    pub log_format: LogFormat,

    /// Print results as JSON instead of a table (for scripts).
    #[arg(long, global = true)]
    pub json: bool,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Human,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run every role (API, scheduler, all stages) as tasks in one process over in-process queues.
    All(AllArgs),
    /// Serve the HTTP API, the web UI and WebSocket job status.
    Serve,
    /// Claim due jobs (taking over stuck ones), run their extraction and hand transform work
    /// to RabbitMQ workers; reschedule them.
    Scheduler(SchedulerArgs),
    /// Consume one stage's RabbitMQ queues for the given tiers.
    Worker(WorkerArgs),
    /// Sync one tenant once, in-process, with progress; the exit code says whether it succeeded.
    RunJob(RunJobArgs),
    /// Re-run transform and load from stored raw data, with no API call (e.g. after a
    /// custom-field mapping changed).
    Reprocess(ReprocessArgs),
    /// Stored raw data: delete the history the retention window no longer keeps.
    #[command(subcommand)]
    Raw(RawCommand),
    /// Apply database migrations (a no-op when the schema is current).
    Migrate,
    /// Serve the built-in Jira Cloud and GitHub API simulator on localhost.
    Simulate(SimulateArgs),
    /// Create and list tenants.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// Create, list and disable a tenant's source integrations (credentials are encrypted at rest).
    #[command(subcommand)]
    Integration(IntegrationCommand),
    /// Create API users.
    #[command(subcommand)]
    User(UserCommand),
    /// Long-lived API tokens for scripts and BI tools: create (shown once), list, revoke.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Discover a Jira integration's custom fields and choose which feed work-item columns.
    #[command(subcommand)]
    CustomFields(CustomFieldsCommand),
    /// List a tenant's sync jobs; trigger, pause, resume or reset one.
    #[command(subcommand)]
    Jobs(JobsCommand),
    /// Delivery reports: the four DORA keys.
    #[command(subcommand)]
    Metrics(MetricsCommand),
    /// Look at, requeue or drop dead-lettered messages (RabbitMQ `etl.failed`).
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// Choose how a tenant's work items and pull requests are embedded for search.
    #[command(subcommand)]
    Embedding(EmbeddingCommand),
    /// How far a tenant's embedding is; rebuild its vectors.
    #[command(subcommand)]
    Vectors(VectorsCommand),
    /// Search a tenant's work items and pull requests by words and meaning.
    Search(SearchArgs),
    /// Serve the tenant's data to an AI agent over the Model Context Protocol on stdin and
    /// stdout (read-only tools: search, work items, pull requests, metrics, jobs).
    Mcp(McpArgs),
}

#[derive(Debug, Args)]
pub struct McpArgs {
    #[arg(long)]
    pub tenant: TenantId,
    /// An API token of the tenant (`pulse-etl token create`); the agent gets what it may
    /// read.
    #[arg(long, env = "PULSE_API_TOKEN", hide_env_values = true)]
    pub token: String,
}

#[derive(Debug, Subcommand)]
pub enum EmbeddingCommand {
    /// Set the tenant's embedding provider and model. A model other than the one search
    /// reads fills a new collection beside it; search switches once it is complete.
    Set(EmbeddingSetArgs),
    /// The tenant's collections: provider, model, endpoint, whether search reads it (the
    /// API key is never shown).
    Show {
        #[arg(long)]
        tenant: TenantId,
    },
}

#[derive(Debug, Args)]
pub struct EmbeddingSetArgs {
    #[arg(long)]
    pub tenant: TenantId,
    /// `local`: all-MiniLM-L6-v2 in the process (embedding.model_dir); `openai`: an
    /// OpenAI-compatible `/v1/embeddings` endpoint.
    #[arg(long, value_enum)]
    pub provider: EmbeddingProvider,
    /// The endpoint's model (provider openai), e.g. text-embedding-3-small.
    #[arg(long)]
    pub model: Option<String>,
    /// The endpoint's base URL (provider openai), e.g. https://api.openai.com.
    #[arg(long)]
    pub base_url: Option<String>,
    /// Read the endpoint's API key from standard input (stored encrypted).
    #[arg(long)]
    pub api_key_stdin: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EmbeddingProvider {
    Local,
    Openai,
}

#[derive(Debug, Subcommand)]
pub enum VectorsCommand {
    /// Per table: records, embedded, pending and failed, for the collection being filled.
    Status {
        #[arg(long)]
        tenant: TenantId,
    },
    /// Embed, here and now, whatever the tenant's collection being filled still lacks
    /// (with --all: every record again), then switch search to it when complete.
    Rebuild {
        #[arg(long)]
        tenant: TenantId,
        /// Forget every vector of the collection and embed every record again.
        #[arg(long)]
        all: bool,
    },
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    #[arg(long)]
    pub tenant: TenantId,
    /// What to look for, in plain words (any language). A key (CORE-12, org/repo#45) puts
    /// its record first; records holding a "quoted phrase" come next.
    pub text: String,
    /// hybrid: words and meaning, fused; semantic: meaning only; lexical: words only.
    #[arg(long, value_enum, default_value_t)]
    pub mode: SearchMode,
    /// Only work items (jira) or only pull requests (github).
    #[arg(long, value_enum)]
    pub source: Option<Provider>,
    /// Only this Jira project key or GitHub repository (owner/name).
    #[arg(long)]
    pub project: Option<String>,
    /// Only this issue type (Bug), or "Pull request".
    #[arg(long = "type")]
    pub kind: Option<String>,
    /// Only this status, exactly as the source names it.
    #[arg(long)]
    pub status: Option<String>,
    /// Only this status category: new, indeterminate or done.
    #[arg(long)]
    pub status_category: Option<String>,
    /// Only items assigned to this Jira account id or GitHub login.
    #[arg(long)]
    pub assignee: Option<String>,
    /// Only items changed at their source at or after this time (RFC 3339).
    #[arg(long)]
    pub updated_from: Option<chrono::DateTime<chrono::Utc>>,
    /// Only items changed at their source at or before this time (RFC 3339).
    #[arg(long)]
    pub updated_to: Option<chrono::DateTime<chrono::Utc>>,
    /// At most this many results (1 to 100).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=100))]
    pub limit: u16,
}

#[derive(Debug, Subcommand)]
pub enum JobsCommand {
    /// The tenant's jobs with state, schedule, cursor and last error.
    List {
        #[arg(long)]
        tenant: TenantId,
    },
    /// Make a job due now.
    Trigger(JobRef),
    /// Have schedulers skip a job until it is resumed.
    Pause(JobRef),
    /// Let schedulers run a paused job again, starting now.
    Resume(JobRef),
    /// Forget a job's cursor: its next run (due now) is a full sync.
    Reset(JobRef),
    /// Print the tenant's job progress events (step × stage and job state changes) as they
    /// happen, from any process, until Ctrl-C.
    Watch {
        #[arg(long)]
        tenant: TenantId,
    },
}

#[derive(Debug, Subcommand)]
pub enum MetricsCommand {
    /// The four DORA keys with their performance bands: deployment frequency, lead time for
    /// changes, change failure rate, failed deployment recovery time.
    Dora(DoraArgs),
}

#[derive(Debug, Args)]
pub struct DoraArgs {
    #[arg(long)]
    pub tenant: TenantId,
    /// One group for the tenant, or a group per repository, week or team.
    #[arg(long, value_enum, default_value_t = DoraGroupBy::Tenant)]
    pub group_by: DoraGroupBy,
    /// Window start (RFC 3339; default: the first production deployment).
    #[arg(long)]
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Window end, excluded (RFC 3339; default: now).
    #[arg(long)]
    pub until: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DoraGroupBy {
    Tenant,
    Repository,
    Week,
    Team,
}

#[derive(Debug, Args)]
pub struct JobRef {
    #[arg(long)]
    pub tenant: TenantId,
    /// Job id (see `jobs list`).
    pub job: JobId,
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Messages in the failed queue, with their error and attempt count.
    List {
        #[arg(long, value_enum)]
        stage: Option<Stage>,
        /// At most this many.
        #[arg(long, default_value_t = 100)]
        limit: usize,
    },
    /// Send failed messages back to their work queue with a fresh attempt count.
    Requeue {
        #[arg(long, value_enum)]
        stage: Option<Stage>,
    },
    /// Drop failed messages.
    Purge {
        #[arg(long, value_enum)]
        stage: Option<Stage>,
    },
}

#[derive(Debug, Subcommand)]
pub enum RawCommand {
    /// Delete older raw versions past `raw.retain_days` and processed webhook deliveries
    /// past it; the newest version of every entity and rows still pending or failed stay.
    Prune {
        /// Only this tenant (default: every tenant, one at a time).
        #[arg(long)]
        tenant: Option<TenantId>,
        /// Count what would be deleted; delete nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum CustomFieldsCommand {
    /// Discover the fields (`/field` and createmeta) into `custom_fields`.
    Sync {
        /// Integration id (Jira).
        #[arg(long)]
        integration: IntegrationId,
    },
    /// List discovered fields and the column each is mapped to.
    List {
        /// Integration id (Jira).
        #[arg(long)]
        integration: IntegrationId,
    },
    /// Map fields to work-item columns; run `reprocess` afterwards to apply it to stored data.
    Map(MapArgs),
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("target").required(true).multiple(true).args(["slot", "team", "story_points", "code_changed"])))]
pub struct MapArgs {
    /// Integration id (Jira).
    #[arg(long)]
    pub integration: IntegrationId,
    /// Column custom_field_NN to fill (1-20), with --field.
    #[arg(long, requires = "field", value_parser = clap::value_parser!(u8).range(1..=20))]
    pub slot: Option<u8>,
    /// The Jira field for --slot, e.g. customfield_10021.
    #[arg(long, requires = "slot")]
    pub field: Option<String>,
    /// The Jira field that names the team.
    #[arg(long)]
    pub team: Option<String>,
    /// The Jira field that holds story points.
    #[arg(long)]
    pub story_points: Option<String>,
    /// The Jira field that says whether code changed.
    #[arg(long)]
    pub code_changed: Option<String>,
}

#[derive(Debug, Args)]
pub struct AllArgs {
    /// Also start the source simulator and a demo tenant wired to it.
    #[arg(long)]
    pub demo: bool,
    /// Queue backend between the stages.
    #[arg(long, value_enum, default_value_t = QueueBackend::Memory)]
    pub queue: QueueBackend,
    /// Seconds from the end of a job's run until it is due again (default: scheduler.interval_secs,
    /// or 30 with --demo).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub interval_secs: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum QueueBackend {
    /// In-process tokio channels.
    Memory,
    /// RabbitMQ at RABBITMQ_URL.
    Rabbitmq,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Stage {
    Extract,
    Transform,
    Load,
    Embed,
}

/// A tier selection: one tier, or every tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TierSelection {
    Free,
    Basic,
    Premium,
    Enterprise,
    All,
}

#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// Hand each due job to `worker --stage extract` processes (its tier's extraction
    /// queue) instead of running its extraction in this process.
    #[arg(long)]
    pub dispatch: bool,
    /// Serve /metrics, /healthz and /readyz on this address (default: metrics.addr).
    #[arg(long)]
    pub metrics_addr: Option<std::net::SocketAddr>,
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The stage whose queues to consume; repeat the flag to run several stages in one
    /// process.
    #[arg(long, value_enum, required = true)]
    pub stage: Vec<Stage>,
    /// Tier queues to consume; repeat the flag or pass `all`.
    #[arg(long, value_enum, required = true)]
    pub tier: Vec<TierSelection>,
    /// Serve /metrics, /healthz and /readyz on this address (default: metrics.addr).
    #[arg(long)]
    pub metrics_addr: Option<std::net::SocketAddr>,
}

#[derive(Debug, Args)]
pub struct RunJobArgs {
    /// The source to sync.
    #[arg(value_enum)]
    pub provider: Provider,
    /// Tenant id.
    #[arg(long)]
    pub tenant: TenantId,
    /// Integration id (default: every active integration of that provider).
    #[arg(long)]
    pub integration: Option<IntegrationId>,
    /// Re-read everything instead of only what changed since the last sync.
    #[arg(long)]
    pub full: bool,
    /// Where transform work goes: this process, or RabbitMQ for `worker --stage transform`
    /// processes (the run waits until they have loaded it all).
    #[arg(long, value_enum, default_value_t = QueueBackend::Memory)]
    pub queue: QueueBackend,
}

#[derive(Debug, Args)]
pub struct ReprocessArgs {
    /// Tenant id.
    #[arg(long)]
    pub tenant: TenantId,
    /// Integration id (any source).
    #[arg(long)]
    pub integration: IntegrationId,
}

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Port to listen on (127.0.0.1); 0 picks a free one.
    #[arg(long, default_value_t = 8089)]
    pub port: u16,
    /// Seed for the generated data; the same seed serves the same bytes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Number of Jira projects.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub jira_projects: u16,
    /// Number of Jira issues (generated lazily: memory stays flat).
    #[arg(long, default_value_t = 2_000)]
    pub jira_issues: u32,
    /// Jira account e-mail accepted for Basic auth.
    #[arg(long, default_value = "sim@example.com")]
    pub jira_user: String,
    /// Jira API token accepted for Basic auth.
    #[arg(long, default_value = "sim-token")]
    pub jira_token: String,
    /// The Jira account's IANA time zone (JQL dates are read in it), e.g. America/New_York.
    #[arg(long, default_value = "UTC")]
    pub jira_timezone: String,
    /// Number of GitHub repositories (sim-org/repo-0, ...).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub github_repos: u16,
    /// Number of GitHub pull requests, spread over the repositories.
    #[arg(long, default_value_t = 500)]
    pub github_prs: u32,
    /// GitHub token accepted as `Authorization: Bearer <token>`; repeat for several, each
    /// with its own budget.
    #[arg(long = "github-token", default_value = "sim-gh-token")]
    pub github_tokens: Vec<String>,
    /// Number of Azure Boards work items (organization `/sim-org`, two projects).
    #[arg(long, default_value_t = 300)]
    pub azure_work_items: u32,
    /// Number of Azure Repos pull requests (three repositories over the two projects).
    #[arg(long, default_value_t = 100)]
    pub azure_prs: u32,
    /// Azure DevOps personal access token accepted (Basic, any user name).
    #[arg(long, default_value = "sim-azure-token")]
    pub azure_token: String,
    /// Share of Azure work items served with an unreadable `System.CreatedDate`, and of pull
    /// requests with an unreadable `creationDate` (poison records).
    #[arg(long, default_value_t = 0.0, value_parser = parse_probability)]
    pub azure_malformed_rate: f64,
    /// Answer every n-th Azure DevOps request 429 with Retry-After and the X-RateLimit
    /// headers (0: never).
    #[arg(long, default_value_t = 0)]
    pub azure_throttle_every: u64,
    /// Jira requests allowed per second, e.g. `20/s`; more answer 429 with Retry-After.
    #[arg(long, value_parser = parse_per_second)]
    pub jira_rate: Option<u32>,
    /// GitHub requests per token per window; past it, 403 with x-ratelimit-remaining: 0.
    #[arg(long, default_value_t = 5_000)]
    pub github_budget: u64,
    /// Length of GitHub's rate-limit window in seconds (GitHub's is one hour).
    #[arg(long, default_value_t = 3_600, value_parser = clap::value_parser!(u64).range(1..))]
    pub github_window_secs: u64,
    /// GitHub requests in flight before the secondary limit answers 429.
    #[arg(long, default_value_t = 32)]
    pub github_max_concurrency: usize,
    /// `retry-after` seconds sent with secondary-limit answers.
    #[arg(long, default_value_t = 60)]
    pub github_secondary_retry_after: u64,
    /// Share of requests that fail: 500/502/503, dropped connections, slow answers, truncated JSON.
    #[arg(long, default_value_t = 0.0, value_parser = parse_probability)]
    pub fault_rate: f64,
    /// Milliseconds added to every API answer (real APIs answer in 100–500 ms).
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Share of Jira issues served with an unreadable `created` date (poison records).
    #[arg(long, default_value_t = 0.0, value_parser = parse_probability)]
    pub jira_malformed_rate: f64,
    /// Share of GitHub pull requests whose detail has an unreadable `created_at` (poison
    /// records).
    #[arg(long, default_value_t = 0.0, value_parser = parse_probability)]
    pub github_malformed_rate: f64,
    /// Also serve an OpenAI-compatible `POST /v1/embeddings` with the local model in this
    /// directory (for trying the `openai` embedding provider).
    #[arg(long)]
    pub embeddings_model_dir: Option<std::path::PathBuf>,
    /// The API key `/v1/embeddings` accepts.
    #[arg(long, default_value = "sim-embeddings-key")]
    pub embeddings_key: String,
    /// Answer every n-th `/v1/embeddings` request 429 with Retry-After: 1 (0: never).
    #[arg(long, default_value_t = 0)]
    pub embeddings_throttle_every: u64,
}

fn parse_per_second(text: &str) -> Result<u32, String> {
    let number = text.trim().trim_end_matches("/s");
    match number.parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!("'{text}' is not a rate like 20/s")),
    }
}

fn parse_probability(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!("'{text}' is not a probability between 0 and 1")),
    }
}

#[derive(Debug, Subcommand)]
pub enum TenantCommand {
    /// Create a tenant and print its id.
    Create {
        /// Unique name (case-insensitive).
        #[arg(long)]
        name: String,
        /// Service tier: picks the queues the tenant's work runs on.
        #[arg(long, value_enum)]
        tier: Tier,
    },
    /// List tenants.
    List,
}

#[derive(Debug, Subcommand)]
pub enum IntegrationCommand {
    /// Create an integration (and its sync job) and print its id.
    Create(IntegrationCreateArgs),
    /// List a tenant's integrations (never shows credentials).
    List {
        /// Tenant id.
        #[arg(long)]
        tenant: TenantId,
    },
    /// Disable an integration: its jobs are skipped until it is enabled again.
    Disable {
        /// Integration id.
        id: IntegrationId,
    },
    /// Make the secret the source signs webhook deliveries with and print it (shown only
    /// now); with --rotate, replace the current one, which stays valid for a day.
    WebhookSecret {
        /// Integration id.
        id: IntegrationId,
        /// Replace an existing secret.
        #[arg(long)]
        rotate: bool,
    },
    /// The integration's webhook deliveries.
    #[command(subcommand)]
    Webhooks(WebhooksCommand),
}

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Register the integration's webhooks at the source (GitHub: a hook per repository;
    /// Jira: an admin webhook for its projects) with a new secret; where the token may not,
    /// print what to set up by hand.
    Install {
        /// Integration id.
        id: IntegrationId,
        /// The API's address as the source reaches it, e.g. https://pulse.example.com.
        #[arg(long)]
        public_url: String,
    },
    /// Remove the webhooks `install` registered.
    Uninstall {
        /// Integration id.
        id: IntegrationId,
    },
    /// The hooks installed, whether a secret is set, the last delivery, the last hour's
    /// deliveries and failures, and whether polling is in reconcile mode.
    Status {
        /// Integration id.
        id: IntegrationId,
    },
}

#[derive(Debug, Args)]
pub struct IntegrationCreateArgs {
    /// Tenant id.
    #[arg(long)]
    pub tenant: TenantId,
    /// Source system.
    #[arg(long, value_enum)]
    pub provider: Provider,
    /// API base URL, e.g. https://acme.atlassian.net or https://api.github.com.
    #[arg(long)]
    pub base_url: String,
    /// Account e-mail for Jira Basic auth (optional for GitHub).
    #[arg(long)]
    pub username: Option<String>,
    /// API token; repeat to give several tokens that rotate under rate limits.
    #[arg(long, required = true)]
    pub token: Vec<String>,
    /// Jira project keys to sync, comma-separated (default: all visible projects).
    #[arg(long, value_delimiter = ',', conflicts_with = "repos")]
    pub projects: Vec<String>,
    /// GitHub repositories as owner/name, comma-separated (default: all visible repositories).
    #[arg(long, value_delimiter = ',')]
    pub repos: Vec<String>,
    /// Jira: link pull requests through Jira's development panel (one call per issue with
    /// code) instead of by the issue keys in pull request titles, branches and commits.
    #[arg(long)]
    pub dev_status: bool,
    /// GitHub: read pull requests through GitHub's GraphQL API (default: a hundred with
    /// their reviews, commits and comments per request) or its REST API (three requests
    /// per pull request; for tokens without GraphQL access).
    #[arg(long, value_enum)]
    pub api: Option<crate::domain::SourceApi>,
    /// Client-side rate limit for this source, in requests per second (default 20).
    #[arg(long, value_parser = parse_positive_rate)]
    pub requests_per_second: Option<f64>,
    /// Requests in flight at once to this source (default 8).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub concurrency: Option<u16>,
}

fn parse_positive_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate > 0.0 && rate.is_finite() => Ok(rate),
        _ => Err(format!(
            "'{text}' is not a positive number of requests per second"
        )),
    }
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user and print its id; the password is read from standard input.
    Create {
        /// Tenant id.
        #[arg(long)]
        tenant: TenantId,
        /// Sign-in address, unique across the service.
        #[arg(long)]
        email: String,
        /// Read the password from the first line of standard input.
        #[arg(long, required = true)]
        password_stdin: bool,
        /// What the user may do.
        #[arg(long, value_enum)]
        role: UserRole,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it; it is shown this once and stored only as a digest.
    Create {
        /// Tenant id.
        #[arg(long)]
        tenant: TenantId,
        /// What the token is for (unique among the tenant's live tokens).
        #[arg(long)]
        name: String,
        /// What the token may do.
        #[arg(long, value_enum)]
        role: UserRole,
    },
    /// The tenant's tokens (never their values).
    List {
        #[arg(long)]
        tenant: TenantId,
    },
    /// Revoke a token: requests carrying it are refused within 30 seconds.
    Revoke {
        #[arg(long)]
        tenant: TenantId,
        /// Token id (from `token list`).
        id: i64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
