//! ETL job lifecycle: the fixed job states, what a step is, and the status JSON.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

/// The lifecycle states of an `etl_jobs` row; the stored names are fixed (other tools read
/// them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobState {
    NotStarted,
    Ready,
    Running,
    Finished,
    Failed,
}

impl JobState {
    /// The stored spelling, e.g. `NOT_STARTED`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::NotStarted => "NOT_STARTED",
            JobState::Ready => "READY",
            JobState::Running => "RUNNING",
            JobState::Finished => "FINISHED",
            JobState::Failed => "FAILED",
        }
    }
}

impl fmt::Display for JobState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where one stage of one step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StageState {
    Idle,
    Running,
    Finished,
    Failed,
}

/// The pipeline stages a step goes through, as named in the status JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Extraction,
    Transform,
    Load,
    Embedding,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Extraction => "extraction",
            Stage::Transform => "transform",
            Stage::Load => "load",
            Stage::Embedding => "embedding",
        }
    }
}

/// One extraction step of a source's job (each source lists its own, in run order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobStep {
    pub name: &'static str,
    pub display_name: &'static str,
}

/// The status of one step: its order, label and the state of each stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepStatus {
    pub order: usize,
    pub display_name: String,
    pub extraction: StageState,
    pub transform: StageState,
    pub load: StageState,
    pub embedding: StageState,
}

/// The `etl_jobs.status` JSON document that the API and WebSocket channels send whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobStatus {
    pub overall: JobState,
    pub steps: BTreeMap<String, StepStatus>,
}

impl JobStatus {
    /// A status with every stage of every one of `steps` (a source's, in run order) idle.
    pub fn initial(steps: &[JobStep], overall: JobState) -> Self {
        let steps = steps
            .iter()
            .enumerate()
            .map(|(index, step)| {
                let status = StepStatus {
                    order: index + 1,
                    display_name: step.display_name.to_owned(),
                    extraction: StageState::Idle,
                    transform: StageState::Idle,
                    load: StageState::Idle,
                    embedding: StageState::Idle,
                };
                (step.name.to_owned(), status)
            })
            .collect();
        JobStatus { overall, steps }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_status_matches_the_design_shape() {
        let steps = [
            JobStep {
                name: "first",
                display_name: "First",
            },
            JobStep {
                name: "second",
                display_name: "Second & More",
            },
        ];
        let status = JobStatus::initial(&steps, JobState::NotStarted);
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(json["overall"], "NOT_STARTED");
        let step = &json["steps"]["second"];
        assert_eq!(step["order"], 2);
        assert_eq!(step["display_name"], "Second & More");
        assert_eq!(step["extraction"], "idle");
        assert_eq!(json["steps"].as_object().unwrap().len(), 2);
    }

    #[test]
    fn job_state_serializes_to_its_stored_spelling() {
        for state in [
            JobState::NotStarted,
            JobState::Ready,
            JobState::Running,
            JobState::Finished,
            JobState::Failed,
        ] {
            assert_eq!(
                serde_json::to_value(state).unwrap(),
                serde_json::Value::from(state.as_str())
            );
        }
    }
}
