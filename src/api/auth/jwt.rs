//! Session tokens: HS256 JWTs (the algorithm pinned, `exp`, `iss` and `aud` checked) that
//! name the user, their tenant and their role at sign-in.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::domain::{TenantId, UserRole};

const ISSUER: &str = "pulse-etl";
const AUDIENCE: &str = "pulse-etl-api";

/// What a session token says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// The user id, as text (JWT subjects are strings).
    pub sub: String,
    pub tenant_id: TenantId,
    pub role: UserRole,
    pub iss: String,
    pub aud: String,
    pub iat: i64,
    pub exp: i64,
}

/// Signs and checks session tokens with one secret.
pub struct SessionKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub lifetime: Duration,
}

impl SessionKeys {
    pub fn new(secret: &[u8], lifetime: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        SessionKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            lifetime,
        }
    }

    /// A token for `user_id` of `tenant_id`, valid for the configured lifetime.
    pub fn issue(
        &self,
        user_id: i64,
        tenant_id: TenantId,
        role: UserRole,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user_id.to_string(),
            tenant_id,
            role,
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            iat: now,
            exp: now + i64::try_from(self.lifetime.as_secs()).unwrap_or(i64::MAX / 2),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
    }

    /// The claims of a token this server signed and that has not expired; none otherwise.
    pub fn verify(&self, token: &str) -> Option<(i64, Claims)> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()?
            .claims;
        let user_id = claims.sub.parse().ok()?;
        Some((user_id, claims))
    }
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;

    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn keys() -> SessionKeys {
        SessionKeys::new(SECRET, Duration::from_secs(60))
    }

    #[test]
    fn a_token_verifies_with_its_claims() {
        let token = keys().issue(7, TenantId(3), UserRole::Viewer).unwrap();
        let (user, claims) = keys().verify(&token).unwrap();
        assert_eq!(
            (user, claims.tenant_id, claims.role),
            (7, TenantId(3), UserRole::Viewer)
        );
    }

    #[test]
    fn forged_tokens_are_refused() {
        let keys = keys();
        let other = SessionKeys::new(
            b"another secret, also 32 bytes long!",
            Duration::from_secs(60),
        );
        let token = other.issue(7, TenantId(3), UserRole::Admin).unwrap();
        assert!(keys.verify(&token).is_none(), "wrong secret");

        let now = chrono::Utc::now().timestamp();
        let claims = |exp: i64, aud: &str| Claims {
            sub: "7".into(),
            tenant_id: TenantId(3),
            role: UserRole::Admin,
            iss: ISSUER.into(),
            aud: aud.into(),
            iat: now,
            exp,
        };
        let sign = |claims: &Claims, algorithm| {
            jsonwebtoken::encode(
                &Header::new(algorithm),
                claims,
                &EncodingKey::from_secret(SECRET),
            )
            .unwrap()
        };
        assert!(
            keys.verify(&sign(&claims(now - 120, AUDIENCE), Algorithm::HS256))
                .is_none(),
            "expired"
        );
        assert!(
            keys.verify(&sign(&claims(now + 60, "elsewhere"), Algorithm::HS256))
                .is_none(),
            "audience"
        );
        assert!(
            keys.verify(&sign(&claims(now + 60, AUDIENCE), Algorithm::HS512))
                .is_none(),
            "algorithm"
        );
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims(now + 60, AUDIENCE)).unwrap());
        assert!(
            keys.verify(&format!("{header}.{body}.")).is_none(),
            "alg none"
        );
    }
}
