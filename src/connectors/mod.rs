//! HTTP to the sources: the shared client (auth, limits, retries, token budgets, ETags)
//! every source's API client is built on, the outbound rule every outbound client obeys, and
//! what of a source's error answer may be shown. No SQL, no queues.

pub mod budget;
pub mod endpoint;
pub mod http;
pub mod outbound;
pub mod reason;
