//! AES-256-GCM sealing of integration credentials, keyed by `PULSE_SECRET_KEY`.
//!
//! Sealed layout: `[version = 1][12-byte random nonce][ciphertext + 16-byte tag]`.
//! The caller passes associated data (the owning tenant) so a sealed blob copied to
//! another tenant's row does not open.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;

const FORMAT_VERSION: u8 = 1;
const NONCE_LEN: usize = 12;
const KEY_LEN: usize = 32;

/// A 256-bit key, parsed from base64 or hex text.
#[derive(Clone)]
pub struct SecretKey([u8; KEY_LEN]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("must be 32 bytes written as base64 (44 characters) or hex (64 digits); got {0} characters that decode to neither")]
    Malformed(usize),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("sealed credentials are malformed or use an unknown format")]
    Malformed,
    #[error("sealed credentials do not open with this key (wrong PULSE_SECRET_KEY, or the row was tampered with)")]
    WrongKeyOrTampered,
    #[error("credentials could not be encrypted")]
    Encrypt,
}

impl SecretKey {
    /// A new random key and its base64 spelling (for `PULSE_SECRET_KEY` or a key file).
    pub fn generate() -> (Self, String) {
        let key = Aes256Gcm::generate_key(&mut OsRng);
        let text = base64::engine::general_purpose::STANDARD.encode(key);
        (SecretKey(key.into()), text)
    }

    pub fn parse(text: &str) -> Result<Self, KeyError> {
        let text = text.trim();
        let bytes = if text.len() == 2 * KEY_LEN && text.chars().all(|c| c.is_ascii_hexdigit()) {
            (0..KEY_LEN)
                .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16))
                .collect::<Result<Vec<u8>, _>>()
                .ok()
        } else {
            base64::engine::general_purpose::STANDARD.decode(text).ok()
        };
        bytes
            .and_then(|bytes| <[u8; KEY_LEN]>::try_from(bytes).ok())
            .map(SecretKey)
            .ok_or(KeyError::Malformed(text.len()))
    }
}

/// Seals and opens credential blobs with one key.
#[derive(Clone)]
pub struct CredentialCipher {
    cipher: Aes256Gcm,
}

impl CredentialCipher {
    pub fn new(key: &SecretKey) -> Self {
        CredentialCipher {
            cipher: Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&key.0)),
        }
    }

    pub fn seal(&self, plaintext: &[u8], associated_data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: associated_data,
                },
            )
            .map_err(|_| CryptoError::Encrypt)?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        sealed.push(FORMAT_VERSION);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    pub fn open(&self, sealed: &[u8], associated_data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let Some((&FORMAT_VERSION, rest)) = sealed.split_first() else {
            return Err(CryptoError::Malformed);
        };
        if rest.len() < NONCE_LEN {
            return Err(CryptoError::Malformed);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        self.cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: associated_data,
                },
            )
            .map_err(|_| CryptoError::WrongKeyOrTampered)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY_B64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    fn cipher(text: &str) -> CredentialCipher {
        CredentialCipher::new(&SecretKey::parse(text).unwrap())
    }

    #[test]
    fn base64_and_hex_spell_the_same_key() {
        let sealed = cipher(KEY_B64).seal(b"token", b"tenant:1").unwrap();
        assert_eq!(
            cipher(KEY_HEX).open(&sealed, b"tenant:1").unwrap(),
            b"token"
        );
    }

    #[test]
    fn round_trip_hides_the_plaintext_and_uses_fresh_nonces() {
        let cipher = cipher(KEY_B64);
        let first = cipher.seal(b"super-secret-token", b"tenant:1").unwrap();
        let second = cipher.seal(b"super-secret-token", b"tenant:1").unwrap();
        assert_ne!(first, second);
        assert!(!first
            .windows(b"super-secret-token".len())
            .any(|w| w == b"super-secret-token"));
        assert_eq!(
            cipher.open(&first, b"tenant:1").unwrap(),
            b"super-secret-token"
        );
    }

    #[test]
    fn wrong_key_wrong_tenant_and_tampering_are_refused() {
        let sealed = cipher(KEY_B64).seal(b"token", b"tenant:1").unwrap();
        let other_key = cipher(&"11".repeat(32));
        assert_eq!(
            other_key.open(&sealed, b"tenant:1"),
            Err(CryptoError::WrongKeyOrTampered)
        );
        assert_eq!(
            cipher(KEY_B64).open(&sealed, b"tenant:2"),
            Err(CryptoError::WrongKeyOrTampered)
        );
        let mut flipped = sealed.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(
            cipher(KEY_B64).open(&flipped, b"tenant:1"),
            Err(CryptoError::WrongKeyOrTampered)
        );
        assert_eq!(
            cipher(KEY_B64).open(&[9, 1, 2], b""),
            Err(CryptoError::Malformed)
        );
        assert_eq!(cipher(KEY_B64).open(&[], b""), Err(CryptoError::Malformed));
    }

    #[test]
    fn generated_keys_parse_back_and_differ() {
        let (key, text) = SecretKey::generate();
        let parsed = SecretKey::parse(&text).unwrap();
        assert_eq!(key.0, parsed.0);
        assert_ne!(SecretKey::generate().1, text);
    }

    #[test]
    fn malformed_keys_are_refused() {
        for text in [
            "",
            "short",
            &"zz".repeat(32),
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==",
        ] {
            assert!(SecretKey::parse(text).is_err(), "{text}");
        }
    }
}
