//! The pipeline stages: extract, transform, load, embed.

pub mod jira;
pub mod transform;

/// Counts for one step of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepReport {
    pub extracted: u64,
    pub transformed: u64,
    pub loaded: u64,
    pub failed: u64,
}
