//! The simulated GitHub REST and GraphQL APIs: pull requests with commits, reviews and
//! comments, deployments, releases and workflow runs.

pub mod actions;
pub mod deployments;
pub mod etag;
pub mod graphql;
pub mod pulls;
pub mod render;
pub mod routes;
pub mod site;
