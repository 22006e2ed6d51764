//! Secrets at rest: integration credentials sealed with AES-256-GCM, passwords hashed with argon2.

mod credentials;
mod password;

pub use credentials::{CredentialCipher, CryptoError, KeyError, SecretKey};
pub use password::{hash_password, verify_password, PasswordError, MIN_PASSWORD_LEN};
