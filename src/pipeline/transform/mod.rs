//! Transform stage: raw API entities to typed rows, without I/O.

pub mod fields;
pub mod github;
pub mod jira_issue;
pub mod jira_meta;
