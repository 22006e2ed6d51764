//! The pipeline stages: extract, transform, load, embed.

pub mod transform;
