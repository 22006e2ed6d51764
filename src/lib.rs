//! pulse-etl: a multi-tenant Jira and GitHub extract → transform → load → embed pipeline.

pub mod app;
pub mod cli;
pub mod config;
pub mod domain;
pub mod security;
pub mod simulator;
pub mod store;
pub mod telemetry;
