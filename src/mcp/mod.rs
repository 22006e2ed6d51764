//! The Model Context Protocol server: a tenant's data as read-only tools for AI agents
//! ([`tools`]), over stdio (`pulse-etl mcp`, [`stdio`]) and streamable HTTP (`/mcp` on the
//! API port, served by the API).

pub mod params;
pub mod stdio;
pub mod tools;
