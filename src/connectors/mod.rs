//! HTTP to the sources: the shared client (auth, limits, retries, token budgets, ETags)
//! every source's API client is built on. No SQL, no queues.

pub mod budget;
pub mod endpoint;
pub mod http;
