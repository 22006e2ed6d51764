//! The simulated Jira Cloud site: catalogue, lazy issue generation, JQL, JSON and routes.

pub mod bulk_changelog;
pub mod catalog;
pub mod issues;
pub mod jql;
pub mod queries;
pub mod render;
pub mod routes;
pub mod site;
pub mod text;
