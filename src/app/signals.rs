//! Shutdown requests: Ctrl-C (SIGINT) or SIGTERM.

use std::future::Future;

use tokio::signal::unix::{signal, SignalKind};

/// Resolves when the process is asked to stop. It listens from the moment it is called,
/// not from its first poll: a request that arrives before (during start-up recovery, say)
/// is kept for it instead of killing the process with the default action.
pub fn shutdown() -> impl Future<Output = ()> {
    let mut terminate = signal(SignalKind::terminate()).ok();
    let mut interrupt = signal(SignalKind::interrupt()).ok();
    async move {
        let terminated = async {
            match terminate.as_mut() {
                Some(signal) => signal.recv().await,
                None => std::future::pending().await,
            }
        };
        let interrupted = async {
            match interrupt.as_mut() {
                Some(signal) => signal.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = terminated => {}
            _ = interrupted => {}
        }
    }
}
