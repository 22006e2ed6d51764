//! Jira answers to typed rows, without I/O: issues with their changelogs and metrics, and
//! the site's metadata.

pub mod issue;
pub mod meta;
