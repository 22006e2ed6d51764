//! Sign-in attempts counted per (client address, account) and per client address in fixed
//! windows. An attempt is counted before its password is checked, so a burst sent at once
//! meets the limit like one sent in turn; a success takes its own attempt back and forgets
//! the pair's failures. Past a limit, sign-in answers 429 with the seconds left in the
//! window, whatever the password. Nothing is counted per account alone: a stranger's
//! failures from elsewhere never lock an account out.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Attempts allowed per (client address, account) in one window.
pub const PER_ACCOUNT: u32 = 5;
/// Attempts allowed per client address in one window, across accounts (several people may
/// share one address).
pub const PER_CLIENT: u32 = 20;
/// The window both limits count over.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Beyond this many tracked keys, expired windows are swept out.
const SWEEP_ABOVE: usize = 10_000;

#[derive(Default)]
pub struct LoginAttempts {
    windows: Mutex<HashMap<Key, Window>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Pair { client: String, email: String },
    Client(String),
}

#[derive(Debug, Clone, Copy)]
struct Window {
    attempts: u32,
    started: Instant,
}

impl Window {
    fn current(&mut self) -> &mut Self {
        if self.started.elapsed() >= WINDOW {
            *self = Window {
                attempts: 0,
                started: Instant::now(),
            };
        }
        self
    }

    /// Seconds left in the window (at least 1).
    fn left_secs(&self) -> u64 {
        WINDOW.saturating_sub(self.started.elapsed()).as_secs() + 1
    }
}

/// An attempt counted against both limits; [`Attempt::succeeded`] takes it back.
#[must_use]
pub struct Attempt<'a> {
    limits: &'a LoginAttempts,
    pair: Key,
    client: Key,
}

impl LoginAttempts {
    /// Counts an attempt by `client` at `email`, or answers the seconds to wait when either
    /// limit is reached (the attempt is then not counted).
    pub fn begin(&self, email: &str, client: &str) -> Result<Attempt<'_>, u64> {
        let pair = Key::Pair {
            client: client.to_owned(),
            email: email.trim().to_lowercase(),
        };
        let client = Key::Client(client.to_owned());
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() > SWEEP_ABOVE {
            windows.retain(|_, window| window.started.elapsed() < WINDOW);
        }
        let mut wait = None;
        for (key, limit) in [(&pair, PER_ACCOUNT), (&client, PER_CLIENT)] {
            if let Some(window) = windows.get_mut(key) {
                let window = window.current();
                if window.attempts >= limit {
                    wait = wait.max(Some(window.left_secs()));
                }
            }
        }
        if let Some(wait) = wait {
            return Err(wait);
        }
        for key in [&pair, &client] {
            windows
                .entry(key.clone())
                .or_insert(Window {
                    attempts: 0,
                    started: Instant::now(),
                })
                .current()
                .attempts += 1;
        }
        drop(windows);
        Ok(Attempt {
            limits: self,
            pair,
            client,
        })
    }
}

impl Attempt<'_> {
    /// The password was right: the pair's failures are forgotten and the client's count
    /// gives this attempt back.
    pub fn succeeded(self) {
        let mut windows = self
            .limits
            .windows
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        windows.remove(&self.pair);
        if let Some(window) = windows.get_mut(&self.client) {
            window.attempts = window.attempts.saturating_sub(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pair_is_limited_and_success_clears_it() {
        let limits = LoginAttempts::default();
        for _ in 0..PER_ACCOUNT {
            let _failed = limits.begin("A@x.io", "10.0.0.1").unwrap();
        }
        let wait = limits.begin("a@x.io", "10.0.0.1").err().unwrap();
        assert!(wait > 0 && wait <= WINDOW.as_secs() + 1);
        assert!(
            limits.begin("a@x.io", "10.0.0.2").is_ok(),
            "another address is not locked out by these failures"
        );
        assert!(
            limits.begin("b@x.io", "10.0.0.1").is_ok(),
            "another account"
        );
    }

    #[test]
    fn success_forgets_the_pairs_failures() {
        let limits = LoginAttempts::default();
        for _ in 0..PER_ACCOUNT - 1 {
            let _failed = limits.begin("a@x.io", "10.0.0.1").unwrap();
        }
        limits.begin("a@x.io", "10.0.0.1").unwrap().succeeded();
        for _ in 0..PER_ACCOUNT {
            let _failed = limits.begin("a@x.io", "10.0.0.1").unwrap();
        }
        assert!(limits.begin("a@x.io", "10.0.0.1").is_err());
    }

    #[test]
    fn a_client_is_limited_across_accounts() {
        let limits = LoginAttempts::default();
        for n in 0..PER_CLIENT {
            let _failed = limits.begin(&format!("user{n}@x.io"), "10.0.0.9").unwrap();
        }
        assert!(limits.begin("new@x.io", "10.0.0.9").is_err());
        assert!(limits.begin("new@x.io", "10.0.0.8").is_ok());
    }

    #[test]
    fn a_burst_from_many_threads_meets_the_limit() {
        let limits = LoginAttempts::default();
        let admitted = std::sync::atomic::AtomicU32::new(0);
        std::thread::scope(|scope| {
            for _ in 0..40 {
                scope.spawn(|| {
                    if limits.begin("a@x.io", "10.0.0.1").is_ok() {
                        admitted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                });
            }
        });
        assert_eq!(admitted.into_inner(), PER_ACCOUNT);
    }
}
