//! Which simulated Jira issues and GitHub pull requests belong together: issue `i` with
//! linked code names pull request `i mod pulls` in its development panel (dev-status), and
//! that pull request carries the issue's key in its title and branch, as teams that link
//! Jira and GitHub by keys write them.

use super::jira::issues::Population as JiraPopulation;
use super::jira::render::issue_key;

/// The pull request (by index) that issue `issue` links to, among `pulls`.
pub fn pull_of_issue(issue: u32, pulls: u32) -> u32 {
    issue % pulls
}

/// The issues (by index) with linked code that name pull request `pull` (of `pulls`).
pub fn issues_of_pull(jira: &JiraPopulation, pull: u32, pulls: u32) -> Vec<u32> {
    if pulls == 0 {
        return Vec::new();
    }
    (pull..jira.issues)
        .step_by(pulls as usize)
        .filter(|issue| jira.issue(*issue, &[]).has_code)
        .collect()
}

/// The keys of the issues with linked code that name pull request `pull` (of `pulls`).
pub fn keys_of_pull(jira: &JiraPopulation, pull: u32, pulls: u32) -> Vec<String> {
    issues_of_pull(jira, pull, pulls)
        .into_iter()
        .map(|issue| issue_key(jira, issue))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pull_names_exactly_the_issues_that_link_to_it() {
        let jira = JiraPopulation {
            seed: 3,
            issues: 60,
            projects: 2,
        };
        let pulls = 7;
        let mut named = 0;
        for pull in 0..pulls {
            for key in keys_of_pull(&jira, pull, pulls) {
                let issue = (0..jira.issues)
                    .find(|i| issue_key(&jira, *i) == key)
                    .unwrap();
                assert_eq!(pull_of_issue(issue, pulls), pull);
                assert!(jira.issue(issue, &[]).has_code);
                named += 1;
            }
        }
        let with_code = (0..jira.issues)
            .filter(|i| jira.issue(*i, &[]).has_code)
            .count();
        assert_eq!(named, with_code);
    }
}
