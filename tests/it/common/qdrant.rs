//! A private Qdrant server per test (`../shared/bin/qdrant`, or `PULSE_TEST_QDRANT_BIN`) on
//! free ports with its own storage, stopped when dropped; and the local embedding model's
//! directory (`../shared/models/all-MiniLM-L6-v2`, or `PULSE_TEST_MODEL_DIR`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The local model's directory, or None (with the reason printed) when it is missing.
pub fn model_dir() -> Option<PathBuf> {
    let dir = std::env::var("PULSE_TEST_MODEL_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/models/all-MiniLM-L6-v2")
        });
    if dir.join("model.safetensors").exists() {
        Some(std::path::absolute(&dir).unwrap_or(dir))
    } else {
        eprintln!(
            "skipped: no embedding model at {} (set PULSE_TEST_MODEL_DIR)",
            dir.display()
        );
        None
    }
}

/// The server on `http` and `grpc`, keeping its storage under `dir`.
fn spawn(binary: &Path, dir: &Path, http: u16, grpc: u16) -> Child {
    Command::new(binary)
        .current_dir(dir)
        .env("QDRANT__SERVICE__HTTP_PORT", http.to_string())
        .env("QDRANT__SERVICE__GRPC_PORT", grpc.to_string())
        .env("QDRANT__STORAGE__STORAGE_PATH", dir.join("storage"))
        .env("QDRANT__STORAGE__SNAPSHOTS_PATH", dir.join("snapshots"))
        .env("QDRANT__TELEMETRY_DISABLED", "true")
        .env("QDRANT__LOG_LEVEL", "WARN")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start qdrant")
}

/// A free local port (bound, read, released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub struct QdrantServer {
    child: Child,
    binary: PathBuf,
    /// The gRPC address qdrant-client (QDRANT_URL) uses.
    pub url: String,
    pub http: u16,
    grpc: u16,
    dir: tempfile::TempDir,
}

impl QdrantServer {
    /// Starts a server and waits until it is ready; None (with the reason printed) when the
    /// binary is missing.
    pub async fn start() -> Option<Self> {
        let binary = std::env::var("PULSE_TEST_QDRANT_BIN")
            .map(PathBuf::from)
            .unwrap_or_else(|_| {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/bin/qdrant")
            });
        if !binary.exists() {
            eprintln!(
                "skipped: no Qdrant server binary at {} (set PULSE_TEST_QDRANT_BIN)",
                binary.display()
            );
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let (http, grpc) = (free_port(), free_port());
        let server = QdrantServer {
            child: spawn(&binary, dir.path(), http, grpc),
            binary,
            url: format!("http://127.0.0.1:{grpc}"),
            http,
            grpc,
            dir,
        };
        server.ready().await;
        Some(server)
    }

    /// Kills the server, keeps it down for `down`, and starts it again on the same ports
    /// and storage.
    pub async fn restart(&mut self, down: Duration) {
        self.child.kill().ok();
        self.child.wait().ok();
        tokio::time::sleep(down).await;
        self.child = spawn(&self.binary, self.dir.path(), self.http, self.grpc);
        self.ready().await;
    }

    /// Waits until the REST API says ready and the gRPC port (what qdrant-client uses,
    /// opened a little later) accepts connections.
    async fn ready(&self) {
        let ready = format!("http://127.0.0.1:{}/readyz", self.http);
        let started = Instant::now();
        loop {
            let rest = matches!(reqwest::get(&ready).await, Ok(r) if r.status().is_success());
            if rest
                && tokio::net::TcpStream::connect(("127.0.0.1", self.grpc))
                    .await
                    .is_ok()
            {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "qdrant did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Points in a collection, from the server's REST API (0 when it does not exist).
    pub async fn points(&self, collection: &str) -> u64 {
        let url = format!(
            "http://127.0.0.1:{}/collections/{collection}/points/count",
            self.http
        );
        let response = reqwest::Client::new()
            .post(url)
            .json(&serde_json::json!({"exact": true}))
            .send()
            .await
            .unwrap();
        if response.status() == reqwest::StatusCode::NOT_FOUND {
            return 0;
        }
        let body: serde_json::Value = response.json().await.unwrap();
        body["result"]["count"].as_u64().unwrap()
    }
}

impl Drop for QdrantServer {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}
