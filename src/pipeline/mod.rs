//! The pipeline stages: extract, transform, load, embed.

pub mod jira;
pub mod jira_custom_fields;
pub mod jira_load;
pub mod jira_reprocess;
pub mod transform;

/// Counts for one step of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepReport {
    pub extracted: u64,
    pub transformed: u64,
    pub loaded: u64,
    pub failed: u64,
}

impl std::ops::AddAssign for StepReport {
    fn add_assign(&mut self, other: StepReport) {
        self.extracted += other.extracted;
        self.transformed += other.transformed;
        self.loaded += other.loaded;
        self.failed += other.failed;
    }
}
