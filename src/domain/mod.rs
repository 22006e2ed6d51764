//! Pure domain types shared by every role: tiers, providers, roles, job states and steps.

pub mod input;
mod job;
mod tenancy;

pub use job::{JobState, JobStatus, JobStep, StageState};
pub use tenancy::{Provider, Tier, UnknownValue, UserRole};
