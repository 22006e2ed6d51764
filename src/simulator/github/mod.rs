//! The simulated GitHub REST API: pull requests with commits, reviews and comments.

pub mod etag;
pub mod pulls;
pub mod render;
pub mod routes;
pub mod site;
