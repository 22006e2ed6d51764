//! The local provider: all-MiniLM-L6-v2 (a 6-layer BERT; mean pooling over the tokens, then
//! L2-normalised, as sentence-transformers does) run in this process by candle, from a
//! model directory holding `config.json`, `tokenizer.json` and `model.safetensors`.

use std::path::Path;
use std::sync::Arc;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config};
use futures_util::future::BoxFuture;
use tokenizers::{Encoding, Tokenizer, TruncationParams};

use super::{normalize, EmbedError, Embedder};

/// The model's name as stored beside its vectors.
pub const MODEL_NAME: &str = "all-MiniLM-L6-v2";

/// Tokens per text the model reads (sentence-transformers' `max_seq_length`); longer texts
/// are cut.
const MAX_TOKENS: usize = 256;

/// Texts run through the model together. Texts are sorted by length first, so a batch pads
/// to a length close to each of its texts.
const BATCH: usize = 32;

/// The model, loaded once and shared; runs on the blocking pool.
pub struct LocalModel {
    bert: BertModel,
    tokenizer: Tokenizer,
    device: Device,
}

impl LocalModel {
    /// Loads the model from `dir`.
    pub fn load(dir: &Path) -> Result<Self, EmbedError> {
        let failed = |message: String| EmbedError::ModelLoad {
            dir: dir.display().to_string(),
            message,
        };
        let read = |name: &str| {
            std::fs::read(dir.join(name)).map_err(|error| failed(format!("{name}: {error}")))
        };
        let config: Config = serde_json::from_slice(&read("config.json")?)
            .map_err(|error| failed(format!("config.json: {error}")))?;
        let mut tokenizer = Tokenizer::from_bytes(read("tokenizer.json")?)
            .map_err(|error| failed(format!("tokenizer.json: {error}")))?;
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: MAX_TOKENS,
                ..TruncationParams::default()
            }))
            .map_err(|error| failed(format!("tokenizer.json: {error}")))?;
        tokenizer.with_padding(None);
        let device = Device::Cpu;
        let weights =
            VarBuilder::from_buffered_safetensors(read("model.safetensors")?, DType::F32, &device)
                .map_err(|error| failed(format!("model.safetensors: {error}")))?;
        let bert = BertModel::load(weights, &config)
            .map_err(|error| failed(format!("model.safetensors: {error}")))?;
        Ok(LocalModel {
            bert,
            tokenizer,
            device,
        })
    }

    /// One unit vector per text, in order (blocking: run it off the async threads).
    pub fn embed_blocking(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let encodings = self
            .tokenizer
            .encode_batch(texts.to_vec(), true)
            .map_err(|error| EmbedError::Model(error.to_string()))?;
        let mut order: Vec<usize> = (0..encodings.len()).collect();
        order.sort_by_key(|&i| encodings[i].get_ids().len());
        let mut vectors = vec![Vec::new(); encodings.len()];
        for chunk in order.chunks(BATCH) {
            let batch: Vec<&Encoding> = chunk.iter().map(|&i| &encodings[i]).collect();
            let pooled = self
                .run(&batch)
                .map_err(|error| EmbedError::Model(error.to_string()))?;
            for (&i, vector) in chunk.iter().zip(pooled) {
                vectors[i] = vector;
            }
        }
        Ok(vectors)
    }

    /// The pooled, normalised vectors of one batch, padded to its longest text.
    fn run(&self, batch: &[&Encoding]) -> candle_core::Result<Vec<Vec<f32>>> {
        let length = batch.iter().map(|e| e.get_ids().len()).max().unwrap_or(0);
        let padded = |part: fn(&Encoding) -> &[u32]| -> Vec<u32> {
            let mut flat = Vec::with_capacity(batch.len() * length);
            for encoding in batch {
                let values = part(encoding);
                flat.extend_from_slice(values);
                flat.resize(flat.len() + length - values.len(), 0);
            }
            flat
        };
        let shape = (batch.len(), length);
        let ids = Tensor::from_vec(padded(Encoding::get_ids), shape, &self.device)?;
        let types = Tensor::from_vec(padded(Encoding::get_type_ids), shape, &self.device)?;
        let mask = Tensor::from_vec(padded(Encoding::get_attention_mask), shape, &self.device)?;
        let hidden = self.bert.forward(&ids, &types, Some(&mask))?;
        // Mean over the real tokens only.
        let mask = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
        let mut pooled: Vec<Vec<f32>> = summed.broadcast_div(&counts)?.to_vec2()?;
        pooled.iter_mut().for_each(|v| normalize(v));
        Ok(pooled)
    }
}

/// [`LocalModel`] as an [`Embedder`]: each call runs on the blocking pool.
#[derive(Clone)]
pub struct LocalEmbedder(Arc<LocalModel>);

impl LocalEmbedder {
    pub fn new(model: Arc<LocalModel>) -> Self {
        LocalEmbedder(model)
    }
}

impl Embedder for LocalEmbedder {
    fn model(&self) -> &str {
        MODEL_NAME
    }

    fn embed<'a>(
        &'a self,
        texts: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, EmbedError>> {
        let model = Arc::clone(&self.0);
        let texts = texts.to_vec();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || model.embed_blocking(&texts))
                .await
                .map_err(|error| EmbedError::Model(error.to_string()))?
        })
    }
}
