//! The `openai` provider: any OpenAI-compatible `POST /v1/embeddings` endpoint (OpenAI,
//! Azure OpenAI, Ollama, vLLM, TEI), in batches, retried with back-off; a 429 waits as long
//! as its `Retry-After` says (within a bound). The endpoint is reached under the outbound
//! rule; an error answer shows only the provider's own short reason.

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde::Deserialize;

use super::{normalize, EmbedError, Embedder};
use crate::connectors::outbound::{self, BodyError, Outbound};
use crate::connectors::reason::source_reason;

/// Texts per request.
const BATCH: usize = 96;

/// Requests per batch, the first included, before the error is returned.
const ATTEMPTS: u32 = 5;

/// The longest wait for one retry, whatever `Retry-After` asks.
const LONGEST_WAIT: Duration = Duration::from_secs(60);

/// First back-off after a failure that may pass; doubles each time.
const BACKOFF: Duration = Duration::from_millis(500);

/// An OpenAI-compatible endpoint and model.
pub struct OpenAiEmbedder {
    http: reqwest::Client,
    outbound: Outbound,
    url: String,
    model: String,
    api_key: Option<String>,
}

impl OpenAiEmbedder {
    /// The provider at `base_url` (its `/v1/embeddings` is called; a URL that already ends
    /// in `/embeddings` is used as it is), reached where `outbound` permits.
    pub fn new(base_url: &str, model: &str, api_key: Option<String>, outbound: &Outbound) -> Self {
        let base = base_url.trim_end_matches('/');
        let url = if base.ends_with("/embeddings") {
            base.to_owned()
        } else if base.ends_with("/v1") {
            format!("{base}/embeddings")
        } else {
            format!("{base}/v1/embeddings")
        };
        let http = outbound
            .client_builder(Duration::from_secs(120))
            .build()
            .unwrap_or_default();
        OpenAiEmbedder {
            http,
            outbound: outbound.clone(),
            url,
            model: model.to_owned(),
            api_key,
        }
    }

    /// One request for `texts`, retried while that may help.
    async fn request(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, EmbedError> {
        let body = serde_json::json!({ "model": self.model, "input": texts });
        let refused = |error: &outbound::OutboundError| EmbedError::Refused {
            url: self.url.clone(),
            message: error.to_string(),
        };
        self.outbound
            .check_url(&self.url)
            .map_err(|error| refused(&error))?;
        let mut attempt = 1;
        loop {
            let mut request = self.http.post(&self.url).json(&body);
            if let Some(key) = &self.api_key {
                request = request.bearer_auth(key);
            }
            let wait = match request.send().await {
                Ok(response) if response.status().is_success() => {
                    let unreadable = |message: String| EmbedError::Unreachable {
                        url: self.url.clone(),
                        message: format!("unreadable answer: {message}"),
                    };
                    let bytes = match self.outbound.read_body(response).await {
                        Ok(bytes) => bytes,
                        Err(BodyError::Refused(error)) => return Err(refused(&error)),
                        Err(BodyError::Transport(error)) => {
                            return Err(unreadable(error.to_string()))
                        }
                    };
                    let answer: Answer = serde_json::from_slice(&bytes)
                        .map_err(|error| unreadable(error.to_string()))?;
                    return answer.vectors(texts.len());
                }
                Ok(response) => {
                    let status = response.status();
                    let retry_after = response
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|value| value.to_str().ok())
                        .and_then(|value| value.trim().parse::<f64>().ok())
                        .map(|secs| Duration::from_secs_f64(secs.clamp(0.0, 3600.0)));
                    let reason = match self.outbound.read_body(response).await {
                        Ok(bytes) => source_reason(&bytes),
                        Err(_) => None,
                    };
                    let error = EmbedError::Provider {
                        url: self.url.clone(),
                        status: status.as_u16(),
                        reason: reason.unwrap_or_else(|| "no reason given".into()),
                    };
                    let passing = status.as_u16() == 429 || status.is_server_error();
                    if !passing || attempt >= ATTEMPTS {
                        return Err(error);
                    }
                    tracing::warn!(
                        attempt,
                        status = status.as_u16(),
                        "embedding provider refused; retrying"
                    );
                    retry_after.unwrap_or_else(|| backoff(attempt))
                }
                Err(error) => {
                    if let Some(refusal) = outbound::refusal(&error) {
                        return Err(refused(refusal));
                    }
                    if attempt >= ATTEMPTS {
                        return Err(EmbedError::Unreachable {
                            url: self.url.clone(),
                            message: error.to_string(),
                        });
                    }
                    tracing::warn!(attempt, %error, "embedding provider unreachable; retrying");
                    backoff(attempt)
                }
            };
            tokio::time::sleep(wait.min(LONGEST_WAIT)).await;
            attempt += 1;
        }
    }
}

fn backoff(attempt: u32) -> Duration {
    BACKOFF.saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
}

/// The endpoint's answer: `{"data": [{"index": 0, "embedding": [...]}, ...]}`.
#[derive(Deserialize)]
struct Answer {
    data: Vec<Item>,
}

#[derive(Deserialize)]
struct Item {
    index: usize,
    embedding: Vec<f32>,
}

impl Answer {
    /// The vectors in input order, normalised; as many as were sent.
    fn vectors(mut self, sent: usize) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.data.sort_by_key(|item| item.index);
        let in_order = self
            .data
            .iter()
            .enumerate()
            .all(|(i, item)| item.index == i);
        if self.data.len() != sent || !in_order {
            return Err(EmbedError::Count {
                sent,
                got: self.data.len(),
            });
        }
        Ok(self
            .data
            .into_iter()
            .map(|item| {
                let mut vector = item.embedding;
                normalize(&mut vector);
                vector
            })
            .collect())
    }
}

impl Embedder for OpenAiEmbedder {
    fn model(&self) -> &str {
        &self.model
    }

    fn embed<'a>(
        &'a self,
        texts: &'a [String],
    ) -> BoxFuture<'a, Result<Vec<Vec<f32>>, EmbedError>> {
        Box::pin(async move {
            let mut vectors = Vec::with_capacity(texts.len());
            for batch in texts.chunks(BATCH) {
                vectors.extend(self.request(batch).await?);
            }
            Ok(vectors)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_is_the_base_urls_v1_embeddings() {
        let url = |base| OpenAiEmbedder::new(base, "m", None, &Outbound::default()).url;
        assert_eq!(
            url("https://api.openai.com"),
            "https://api.openai.com/v1/embeddings"
        );
        assert_eq!(
            url("https://api.openai.com/v1/"),
            "https://api.openai.com/v1/embeddings"
        );
        assert_eq!(url("http://h/x/embeddings"), "http://h/x/embeddings");
    }

    #[test]
    fn answers_are_put_in_input_order_and_counted() {
        let answer: Answer = serde_json::from_str(
            r#"{"data": [{"index": 1, "embedding": [0, 2]}, {"index": 0, "embedding": [3, 0]}]}"#,
        )
        .unwrap();
        assert_eq!(
            answer.vectors(2).unwrap(),
            vec![vec![1.0, 0.0], vec![0.0, 1.0]]
        );
        let short: Answer =
            serde_json::from_str(r#"{"data": [{"index": 0, "embedding": [1]}]}"#).unwrap();
        assert!(matches!(
            short.vectors(2),
            Err(EmbedError::Count { sent: 2, got: 1 })
        ));
    }
}
