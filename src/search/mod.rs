//! The parts of hybrid search that need no database: lexical terms and their sparse vectors
//! ([`terms`]), what a typed query asks for ([`query`]) and how two rankings become one
//! ([`fusion`]).

pub mod fusion;
pub mod query;
pub mod terms;

/// Which rankings a search uses.
#[derive(
    Debug,
    Clone,
    Copy,
    Default,
    PartialEq,
    Eq,
    serde::Deserialize,
    serde::Serialize,
    utoipa::ToSchema,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum SearchMode {
    /// Words and meaning, fused.
    #[default]
    Hybrid,
    /// Meaning only (the dense vectors).
    Semantic,
    /// Words only (the lexical vectors).
    Lexical,
}
