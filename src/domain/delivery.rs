//! Delivery analytics rules: what an integration counts as a production deployment and as an
//! incident, and DORA's performance bands for the four keys.

use serde::{Deserialize, Serialize};

/// What counts as a production deployment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProductionSignal {
    /// A successful deployment to an environment whose name matches the pattern.
    #[default]
    Environment,
    /// A published release (not a draft, not a pre-release).
    Releases,
    /// A successful run of a workflow whose name matches the pattern (GitHub Actions runs
    /// are read only when this is the rule).
    Workflow,
}

/// An integration's delivery rules, kept in its settings. The defaults hold where the
/// settings say nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct DeliveryRules {
    /// Source code: what counts as a production deployment.
    pub production: ProductionSignal,
    /// Source code: a regular expression an environment's name matches (case-insensitive)
    /// to count as production.
    pub production_environment: String,
    /// Source code: a regular expression a workflow's name matches (case-insensitive) for
    /// its successful runs to count as production deployments.
    pub production_workflow: String,
    /// Work items: issue types that are incidents (case-insensitive).
    pub incident_types: Vec<String>,
    /// Work items: labels that make an issue an incident (case-insensitive).
    pub incident_labels: Vec<String>,
    /// Work items: an incident opened this many hours after a production deployment of
    /// its repositories counts against that deployment.
    pub incident_window_hours: u32,
    /// Jira: a JQL query whose issues are the incidents, in place of the types and labels
    /// (read again at each sync, within the integration's projects).
    pub incident_jql: Option<String>,
}

impl Default for DeliveryRules {
    fn default() -> Self {
        DeliveryRules {
            production: ProductionSignal::Environment,
            production_environment: "^prod".into(),
            production_workflow: "^deploy".into(),
            incident_types: vec!["Incident".into()],
            incident_labels: vec!["incident".into()],
            incident_window_hours: 72,
            incident_jql: None,
        }
    }
}

impl DeliveryRules {
    /// `pattern` compiled case-insensitively.
    fn compiled(pattern: &str) -> Option<regex::Regex> {
        regex::RegexBuilder::new(pattern)
            .case_insensitive(true)
            .size_limit(1 << 16)
            .build()
            .ok()
    }

    /// The patterns compiled, or the field of the first that does not compile (or is too
    /// large).
    pub fn check(&self) -> Result<ProductionPatterns, &'static str> {
        Ok(ProductionPatterns {
            environment: Self::compiled(&self.production_environment)
                .ok_or("delivery.production_environment")?,
            workflow: Self::compiled(&self.production_workflow)
                .ok_or("delivery.production_workflow")?,
        })
    }

    /// Whether a source record counts as a production deployment under the rule (without
    /// patterns, as when stored ones no longer compile, only releases can).
    pub fn is_production(
        &self,
        record: Deployed<'_>,
        patterns: Option<&ProductionPatterns>,
    ) -> bool {
        match (self.production, record) {
            (ProductionSignal::Environment, Deployed::Environment(name)) => {
                patterns.is_some_and(|p| p.environment.is_match(name))
            }
            (ProductionSignal::Workflow, Deployed::WorkflowRun(name)) => {
                patterns.is_some_and(|p| p.workflow.is_match(name))
            }
            (ProductionSignal::Releases, Deployed::Release) => true,
            _ => false,
        }
    }
}

/// The production patterns of a rule, compiled.
#[derive(Debug, Clone)]
pub struct ProductionPatterns {
    environment: regex::Regex,
    workflow: regex::Regex,
}

/// A record that may count as a production deployment.
#[derive(Debug, Clone, Copy)]
pub enum Deployed<'a> {
    /// A deployment to the named environment.
    Environment(&'a str),
    /// A published release.
    Release,
    /// A run of the named workflow.
    WorkflowRun(&'a str),
}

/// DORA's performance bands.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    Elite,
    High,
    Medium,
    Low,
}

const HOUR: f64 = 3_600.0;
const DAY: f64 = 24.0 * HOUR;
const WEEK: f64 = 7.0 * DAY;
const MONTH: f64 = 30.0 * DAY;

// The thresholds are those of the Accelerate State of DevOps Report 2023 (DORA, Google
// Cloud), as Apache DevLake's "2023 report" benchmarks apply them:
// - deployment frequency: elite on demand (daily or more), high between once a day and once
//   a week, medium between once a week and once a month, low less than once a month;
// - lead time for changes: elite under a day, high under a week, medium under a month, low
//   a month or more;
// - change failure rate: elite up to 5 %, high up to 10 %, medium up to 15 %, low above;
// - failed deployment recovery time: elite under an hour, high under a day, medium under a
//   week, low a week or more.

/// The band of a deployment frequency, in production deployments per week.
pub fn deployment_frequency_band(per_week: f64) -> Band {
    if per_week >= 7.0 {
        Band::Elite
    } else if per_week >= 1.0 {
        Band::High
    } else if per_week >= 7.0 / 30.0 {
        Band::Medium
    } else {
        Band::Low
    }
}

/// The band of a median lead time for changes, in seconds.
pub fn lead_time_band(seconds: f64) -> Band {
    band_below(seconds, [DAY, WEEK, MONTH])
}

/// The band of a change failure rate (0 to 1).
pub fn change_failure_band(rate: f64) -> Band {
    if rate <= 0.05 {
        Band::Elite
    } else if rate <= 0.10 {
        Band::High
    } else if rate <= 0.15 {
        Band::Medium
    } else {
        Band::Low
    }
}

/// The band of a median failed deployment recovery time, in seconds.
pub fn recovery_band(seconds: f64) -> Band {
    band_below(seconds, [HOUR, DAY, WEEK])
}

/// Elite under the first limit, high under the second, medium under the third.
fn band_below(value: f64, [elite, high, medium]: [f64; 3]) -> Band {
    if value < elite {
        Band::Elite
    } else if value < high {
        Band::High
    } else if value < medium {
        Band::Medium
    } else {
        Band::Low
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_change_at_the_reports_limits() {
        assert_eq!(deployment_frequency_band(7.0), Band::Elite);
        assert_eq!(deployment_frequency_band(6.9), Band::High);
        assert_eq!(deployment_frequency_band(1.0), Band::High);
        assert_eq!(deployment_frequency_band(0.5), Band::Medium);
        assert_eq!(deployment_frequency_band(0.2), Band::Low);
        assert_eq!(lead_time_band(DAY - 1.0), Band::Elite);
        assert_eq!(lead_time_band(DAY), Band::High);
        assert_eq!(lead_time_band(WEEK), Band::Medium);
        assert_eq!(lead_time_band(MONTH), Band::Low);
        assert_eq!(change_failure_band(0.05), Band::Elite);
        assert_eq!(change_failure_band(0.06), Band::High);
        assert_eq!(change_failure_band(0.15), Band::Medium);
        assert_eq!(change_failure_band(0.16), Band::Low);
        assert_eq!(recovery_band(HOUR - 1.0), Band::Elite);
        assert_eq!(recovery_band(HOUR), Band::High);
        assert_eq!(recovery_band(DAY), Band::Medium);
        assert_eq!(recovery_band(WEEK), Band::Low);
    }

    #[test]
    fn production_follows_the_signal_and_the_pattern() {
        let rules = DeliveryRules::default();
        let patterns = rules.check().ok();
        let patterns = patterns.as_ref();
        assert!(rules.is_production(Deployed::Environment("Production"), patterns));
        assert!(rules.is_production(Deployed::Environment("prod-eu"), patterns));
        assert!(!rules.is_production(Deployed::Environment("staging"), patterns));
        assert!(!rules.is_production(Deployed::Release, patterns));
        assert!(!rules.is_production(Deployed::WorkflowRun("Deploy"), patterns));
        let releases = DeliveryRules {
            production: ProductionSignal::Releases,
            ..DeliveryRules::default()
        };
        assert!(releases.is_production(Deployed::Release, None));
        assert!(!releases.is_production(Deployed::Environment("production"), patterns));
        let workflows = DeliveryRules {
            production: ProductionSignal::Workflow,
            ..DeliveryRules::default()
        };
        assert!(workflows.is_production(Deployed::WorkflowRun("Deploy to production"), patterns));
        assert!(!workflows.is_production(Deployed::WorkflowRun("CI"), patterns));
        let broken = DeliveryRules {
            production_workflow: "(".into(),
            ..DeliveryRules::default()
        };
        assert_eq!(broken.check().err(), Some("delivery.production_workflow"));
        let settings: DeliveryRules =
            serde_json::from_str(r#"{"incident_window_hours": 24}"#).unwrap();
        assert_eq!(settings.incident_labels, vec!["incident".to_owned()]);
        assert_eq!(settings.incident_window_hours, 24);
    }
}
