//! A stand-in for whatever a tenant might point pulse-etl at: an HTTP server on a loopback
//! address that answers every request as told, counting the requests and keeping the
//! `Authorization` headers they carried.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use tokio::task::JoinHandle;

/// Builds the answer to a request from its path and query.
pub type Answer = Arc<dyn Fn(&str) -> Response + Send + Sync>;

pub struct FakeSource {
    /// `http://ip:port`.
    pub base: String,
    hits: Arc<AtomicUsize>,
    authorizations: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl FakeSource {
    /// Listens on 127.0.0.1.
    pub async fn start(answer: Answer) -> Self {
        Self::start_on([127, 0, 0, 1].into(), answer).await
    }

    /// Listens on `ip` (any 127.x address is loopback on Linux).
    pub async fn start_on(ip: IpAddr, answer: Answer) -> Self {
        let listener = tokio::net::TcpListener::bind(SocketAddr::new(ip, 0))
            .await
            .unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let authorizations = Arc::new(Mutex::new(Vec::new()));
        let (seen, heard) = (Arc::clone(&hits), Arc::clone(&authorizations));
        let app = axum::Router::new().fallback(move |request: Request| {
            let (answer, seen, heard) =
                (Arc::clone(&answer), Arc::clone(&seen), Arc::clone(&heard));
            async move {
                seen.fetch_add(1, Ordering::SeqCst);
                if let Some(value) = request.headers().get("authorization") {
                    heard
                        .lock()
                        .unwrap()
                        .push(value.to_str().unwrap_or_default().to_owned());
                }
                let target = request
                    .uri()
                    .path_and_query()
                    .map(|p| p.as_str().to_owned())
                    .unwrap_or_default();
                answer(&target)
            }
        });
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.ok();
        });
        FakeSource {
            base,
            hits,
            authorizations,
            task,
        }
    }

    /// Requests answered so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    /// The `Authorization` headers requests carried.
    pub fn authorizations(&self) -> Vec<String> {
        self.authorizations.lock().unwrap().clone()
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.base.rsplit(':').next().unwrap().parse().unwrap()
    }
}

impl Drop for FakeSource {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An answer with `status`, `content_type` and `body`.
pub fn answer(status: u16, content_type: &'static str, body: impl Into<Body>) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", content_type)
        .body(body.into())
        .unwrap()
}
