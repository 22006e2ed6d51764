//! Webhook signatures as GitHub (`X-Hub-Signature-256`) and Jira Cloud (`X-Hub-Signature`)
//! send them: `sha256=<hex HMAC-SHA256(secret, exact body bytes)>`, checked in constant time
//! against every secret that is valid now; and the secrets themselves, made by us.

use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::OsRng;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::domain::text::to_hex;

type HmacSha256 = Hmac<Sha256>;

const PREFIX: &str = "sha256=";

/// A new webhook secret: 32 random bytes as 64 hex digits (both sources take any text).
pub fn new_webhook_secret() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    to_hex(&bytes)
}

/// The header value a sender with `secret` puts on `body`.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    let mut mac = keyed(secret);
    mac.update(body);
    format!("{PREFIX}{}", to_hex(&mac.finalize().into_bytes()))
}

/// Whether `header` is `body` signed with one of `secrets`. Every secret is checked, each in
/// constant time, whatever the header holds, so the answer's timing tells nothing about
/// which part was wrong.
pub fn verifies(header: Option<&str>, secrets: &[impl AsRef<[u8]>], body: &[u8]) -> bool {
    let claimed = header
        .and_then(|value| value.trim().strip_prefix(PREFIX))
        .and_then(decode_hex)
        .unwrap_or_default();
    let mut matched = false;
    for secret in secrets {
        let mut mac = keyed(secret.as_ref());
        mac.update(body);
        // `|` rather than `||`: no early exit.
        matched |= mac.verify_slice(&claimed).is_ok();
    }
    matched
}

/// HMAC-SHA256 keyed with `secret`.
fn keyed(secret: &[u8]) -> HmacSha256 {
    <HmacSha256 as KeyInit>::new_from_slice(secret).unwrap_or_else(|_| {
        // HMAC takes keys of any length (longer ones are hashed first): never reached.
        <HmacSha256 as KeyInit>::new(&Default::default())
    })
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if text.len() % 2 != 0 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_githubs_documented_example() {
        // GitHub's documentation: secret "It's a Secret to Everybody", body "Hello, World!".
        let expected = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(
            sign(b"It's a Secret to Everybody", b"Hello, World!"),
            expected
        );
        assert!(verifies(
            Some(expected),
            &[b"It's a Secret to Everybody"],
            b"Hello, World!"
        ));
    }

    #[test]
    fn any_valid_secret_verifies_and_nothing_else_does() {
        let body = br#"{"action":"opened"}"#;
        let (old, new) = (new_webhook_secret(), new_webhook_secret());
        assert_eq!(new.len(), 64);
        assert_ne!(old, new);
        let signed_old = sign(old.as_bytes(), body);
        let secrets = [new.as_bytes(), old.as_bytes()];
        assert!(verifies(Some(&signed_old), &secrets, body));
        assert!(!verifies(Some(&signed_old), &[new.as_bytes()], body));
        assert!(!verifies(Some(&signed_old), &secrets, b"{}"));
        for header in [
            None,
            Some(""),
            Some("sha256="),
            Some("sha1=abc"),
            Some("sha256=zz"),
            Some(&signed_old[..20]),
        ] {
            assert!(!verifies(header, &secrets, body), "{header:?}");
        }
    }
}
