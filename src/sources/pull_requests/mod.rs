//! The pull-request tables every source that reads pull requests shares (GitHub, Azure
//! Repos): their rows, upserts, flow metrics and queries, and what of them is embedded for
//! search.

pub mod embed;
pub mod rows;
pub mod tables;
