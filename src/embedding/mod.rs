//! Turning text into vectors: the [`Embedder`] trait and its providers — the local
//! all-MiniLM-L6-v2 model in this process ([`local`]) and any OpenAI-compatible
//! `/v1/embeddings` endpoint ([`openai`]) — and what a record's text is made of ([`text`]).

pub mod local;
pub mod openai;
pub mod settings;
pub mod text;

use futures_util::future::BoxFuture;

/// Why texts could not be embedded.
#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("the local model at {dir} could not be loaded: {message}")]
    ModelLoad { dir: String, message: String },
    #[error("the local model failed: {0}")]
    Model(String),
    #[error("the embedding provider at {url} answered {status}: {reason}")]
    Provider {
        url: String,
        status: u16,
        /// The provider's own short reason, never its raw body.
        reason: String,
    },
    #[error("the embedding provider at {url} was not asked: {message}")]
    Refused { url: String, message: String },
    #[error("the embedding provider at {url} could not be reached: {message}")]
    Unreachable { url: String, message: String },
    #[error("the embedding provider answered {got} vectors for {sent} texts")]
    Count { sent: usize, got: usize },
    #[error("the embedding provider answered vectors of {got} dimensions; the collection has {expected}")]
    Dimensions { expected: usize, got: usize },
}

/// Embeds texts with one model; the same text always gives the same vector.
pub trait Embedder: Send + Sync {
    /// The model's name as stored beside each vector (`all-MiniLM-L6-v2`, `text-embedding-3-small`).
    fn model(&self) -> &str;

    /// One vector per text, in order, each L2-normalised.
    fn embed<'a>(&'a self, texts: &'a [String])
        -> BoxFuture<'a, Result<Vec<Vec<f32>>, EmbedError>>;
}

/// Scales `vector` to unit length (a zero vector stays zero).
pub fn normalize(vector: &mut [f32]) {
    let norm = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        vector.iter_mut().for_each(|x| *x /= norm);
    }
}

/// The cosine similarity of two vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b)).max(f32::MIN_POSITIVE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalized_vectors_have_unit_length_and_cosine_ignores_scale() {
        let mut v = vec![3.0, 4.0];
        normalize(&mut v);
        assert_eq!(v, vec![0.6, 0.8]);
        assert!((cosine(&[1.0, 2.0], &[2.0, 4.0]) - 1.0).abs() < 1e-6);
        assert!(cosine(&[1.0, 0.0], &[0.0, 1.0]).abs() < 1e-6);
    }
}
