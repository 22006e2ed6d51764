//! Pure domain types shared by every role: typed ids, tiers, providers, roles, job states and steps,
//! input checks, workflow metrics, pull-request flow metrics and delivery rules.

pub mod delivery;
mod ids;
pub mod input;
mod job;
pub mod pr_flow;
mod tenancy;
pub mod text;
pub mod workflow;

pub use ids::{IntegrationId, IntegrationRef, JobId, LoadBatchId, RawId, Scope, TenantId};
pub use job::{JobState, JobStatus, JobStep, Stage, StageState};
pub use tenancy::{Provider, SourceApi, Tier, UnknownValue, UserRole};
