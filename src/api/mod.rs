//! The HTTP API (`serve`, and inside `all`): JSON resources under `/api/v1` with JWT or API
//! token authentication and the tenant taken from the credential, live job status over
//! WebSocket, the MCP endpoint (`/mcp`), the OpenAPI document and its docs page, health
//! endpoints, and the web UI. Handlers call
//! `service`; they hold no SQL and no business rules of their own.

pub mod auth;
mod client_addr;
mod custom_fields;
mod docs;
mod error;
mod events;
mod extract;
mod headers;
pub mod health;
mod integrations;
mod jobs;
mod mcp;
mod metrics;
mod pagination;
mod people;
mod prs;
mod queues;
mod raw_data;
mod search;
mod server;
mod session;
mod sources;
mod state;
mod ui;
mod users;
mod webhooks;
mod work_items;
mod workflow;
mod ws;

pub use server::{serve, ServerParts, DOCS_PATH, OPENAPI_PATH};
