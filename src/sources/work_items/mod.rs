//! The work-item tables every source that reads work items shares (Jira issues, Azure
//! Boards work items): their rows, upserts and queries, custom-field discovery and mapping
//! storage, and what of them is embedded for search.

pub mod custom_fields;
pub mod embed;
pub mod rows;
pub mod tables;
