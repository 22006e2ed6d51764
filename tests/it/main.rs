//! The integration tests, one binary (each test binary links the whole crate, which
//! dominates build time): the real binary, PostgreSQL and RabbitMQ, the built-in simulator
//! for the sources.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod admin_cli;
mod all_demo;
mod api_access;
mod api_live;
mod api_reads;
mod api_schema;
mod api_ui;
mod azure_devops;
mod conformance;
mod data_quality;
mod deploy_files;
mod dora;
mod embedded_postgres;
mod embedding;
mod failure_drills;
mod github_graphql;
mod github_real_data;
mod github_sync;
mod issue_links;
mod jira_real_data;
mod jira_sync;
mod load_batches;
mod mcp;
mod migrations;
mod ops_metrics;
mod people;
mod rabbitmq_queue;
mod raw_store;
mod scheduler_claims;
mod security;
mod simulator;
mod upsert_schema;
mod webhooks;
mod worker_sync;
