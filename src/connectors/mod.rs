//! HTTP to the sources only: the shared client (auth, limits, retries) and one module per
//! source API. No SQL, no queues.

pub mod budget;
pub mod github;
pub mod http;
pub mod jira;
