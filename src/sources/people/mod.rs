//! One person across tools: the accounts sources name (captured as records load), the people
//! of a tenant they are assigned to (same verified e-mail: one person; same name: only a
//! suggestion), an admin's merges and splits, and teams as named sets of people that metrics
//! group by.

pub mod accounts;
pub mod directory;
pub mod resolve;
pub mod teams;
