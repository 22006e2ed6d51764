//! HTTP to the sources only: the shared client (auth, limits, retries) and one module per
//! source API. No SQL, no queues.

pub mod http;
pub mod jira;
