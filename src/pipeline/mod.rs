//! The pipeline stages: extract, transform, load, embed.

pub mod jira;
pub mod jira_custom_fields;
pub mod jira_load;
pub mod jira_reprocess;
pub mod transform;

/// Counts and time spent per stage for one step of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct StepReport {
    pub extracted: u64,
    pub transformed: u64,
    pub loaded: u64,
    pub failed: u64,
    /// Waiting for the source and storing its answers raw.
    pub extract_seconds: f64,
    pub transform_seconds: f64,
    pub load_seconds: f64,
}

impl StepReport {
    /// `count` items extracted, transformed and loaded alike (no failures, no timings).
    pub fn passed_through(count: u64) -> Self {
        StepReport {
            extracted: count,
            transformed: count,
            loaded: count,
            ..StepReport::default()
        }
    }
}

impl std::ops::AddAssign for StepReport {
    fn add_assign(&mut self, other: StepReport) {
        self.extracted += other.extracted;
        self.transformed += other.transformed;
        self.loaded += other.loaded;
        self.failed += other.failed;
        self.extract_seconds += other.extract_seconds;
        self.transform_seconds += other.transform_seconds;
        self.load_seconds += other.load_seconds;
    }
}
