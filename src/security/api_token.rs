//! Long-lived API tokens: 32 random bytes shown once as `pulse_<base64url>`; only their
//! SHA-256 digest is stored (a fast digest suits a secret with this much entropy).

use aes_gcm::aead::rand_core::RngCore;
use aes_gcm::aead::OsRng;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sha2::{Digest, Sha256};

/// What every API token starts with, so a bearer value is told apart from a JWT at a glance.
pub const API_TOKEN_PREFIX: &str = "pulse_";

/// A fresh token and the digest to store.
pub fn new_api_token() -> (String, [u8; 32]) {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let token = format!("{API_TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes));
    let digest = api_token_digest(&token);
    (token, digest)
}

/// Whether `text` has the shape of a token this build makes (the prefix and 43 base64url
/// characters): anything else is refused without a database lookup.
pub fn is_api_token_shaped(text: &str) -> bool {
    text.strip_prefix(API_TOKEN_PREFIX).is_some_and(|rest| {
        rest.len() == 43
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// The stored digest of a token as presented.
pub fn api_token_digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_digest_to_what_is_stored() {
        let (first, digest) = new_api_token();
        let (second, _) = new_api_token();
        assert!(first.starts_with(API_TOKEN_PREFIX));
        assert_ne!(first, second);
        assert_eq!(api_token_digest(&first), digest);
        assert_ne!(api_token_digest(&second), digest);
        assert!(is_api_token_shaped(&first));
        for other in [
            "pulse_",
            "pulse_x",
            &format!("{first}x"),
            &first.replace('_', "+"),
        ] {
            assert!(!is_api_token_shaped(other), "{other}");
        }
    }
}
