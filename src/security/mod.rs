//! Secrets at rest: integration credentials sealed with AES-256-GCM, passwords hashed with
//! argon2, API tokens kept as digests, webhook signatures checked.

mod api_token;
mod credentials;
mod password;
mod webhook_signature;

pub use api_token::{api_token_digest, is_api_token_shaped, new_api_token, API_TOKEN_PREFIX};
pub use credentials::{CredentialCipher, CryptoError, KeyError, SecretKey};
pub use password::{hash_password, verify_password, PasswordError, MIN_PASSWORD_LEN};
pub use webhook_signature::{
    new_webhook_secret, sign as sign_webhook, verifies as webhook_verifies,
};
