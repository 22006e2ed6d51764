//! pulse-etl: a multi-tenant Jira and GitHub extract → transform → load → embed pipeline.
#![recursion_limit = "256"] // serde_json::json! for GitHub's ~80-key repository objects

pub mod api;
pub mod app;
pub mod cli;
pub mod config;
pub mod connectors;
pub mod domain;
pub mod embedding;
pub mod mcp;
pub mod pipeline;
pub mod queue;
pub mod search;
pub mod security;
pub mod service;
pub mod simulator;
pub mod sources;
pub mod store;
pub mod telemetry;
pub mod vectors;
