//! Failed sign-ins counted per e-mail address and per client address in fixed windows: past
//! the limit, sign-in answers 429 with the seconds left in the window, whatever the password.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed per e-mail address in one window.
pub const PER_EMAIL: u32 = 5;
/// Failures allowed per client address in one window (several people may share one).
pub const PER_CLIENT: u32 = 20;
/// The window both limits count over.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Beyond this many tracked keys, expired windows are swept out.
const SWEEP_ABOVE: usize = 10_000;

#[derive(Default)]
pub struct FailedLogins {
    windows: Mutex<HashMap<String, (u32, Instant)>>,
}

impl FailedLogins {
    /// Seconds to wait when `email` or `client` is over its limit.
    pub fn blocked_for(&self, email: &str, client: &str) -> Option<u64> {
        let windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        [
            (email_key(email), PER_EMAIL),
            (client_key(client), PER_CLIENT),
        ]
        .into_iter()
        .filter_map(|(key, limit)| {
            let (count, started) = windows.get(&key)?;
            let left = WINDOW.checked_sub(started.elapsed())?;
            (*count >= limit).then(|| left.as_secs() + 1)
        })
        .max()
    }

    /// Counts one failure against both keys.
    pub fn failed(&self, email: &str, client: &str) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() > SWEEP_ABOVE {
            windows.retain(|_, (_, started)| started.elapsed() < WINDOW);
        }
        for key in [email_key(email), client_key(client)] {
            let window = windows.entry(key).or_insert((0, Instant::now()));
            if window.1.elapsed() >= WINDOW {
                *window = (0, Instant::now());
            }
            window.0 += 1;
        }
    }

    /// A successful sign-in forgets the address's failures (not the client's).
    pub fn succeeded(&self, email: &str) {
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        windows.remove(&email_key(email));
    }
}

fn email_key(email: &str) -> String {
    format!("email:{}", email.trim().to_lowercase())
}

fn client_key(client: &str) -> String {
    format!("client:{client}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_blocked_after_its_limit_and_success_clears_it() {
        let limits = FailedLogins::default();
        for _ in 0..PER_EMAIL {
            assert_eq!(limits.blocked_for("a@x.io", "10.0.0.1"), None);
            limits.failed("A@x.io", "10.0.0.1");
        }
        let wait = limits.blocked_for("a@x.io", "10.0.0.2").unwrap();
        assert!(wait > 0 && wait <= WINDOW.as_secs() + 1);
        assert_eq!(
            limits.blocked_for("b@x.io", "10.0.0.1"),
            None,
            "the client is under its own limit"
        );
        limits.succeeded("a@x.io");
        assert_eq!(limits.blocked_for("a@x.io", "10.0.0.2"), None);
    }

    #[test]
    fn a_client_is_blocked_across_addresses() {
        let limits = FailedLogins::default();
        for n in 0..PER_CLIENT {
            limits.failed(&format!("user{n}@x.io"), "10.0.0.9");
        }
        assert!(limits.blocked_for("new@x.io", "10.0.0.9").is_some());
    }
}
