//! Users who sign in to the API: created with a hashed password.

use sqlx::PgPool;

use super::{ServiceError, ServiceResult};
use crate::domain::{input, TenantId, UserRole};
use crate::security::{hash_password, PasswordError, MIN_PASSWORD_LEN};
use crate::store::users;

/// A user to create; the password is hashed here and never stored as given.
pub struct NewUser {
    pub tenant_id: TenantId,
    pub email: String,
    pub password: String,
    pub role: UserRole,
}

/// Creates a user (e-mail addresses are unique regardless of case); returns its id.
pub async fn create(pool: &PgPool, new: NewUser) -> ServiceResult<i64> {
    let email = input::email(&new.email)?;
    let hash = hash_password(&new.password).map_err(|error| match error {
        PasswordError::TooShort => input::invalid(
            "password",
            format!("must be at least {MIN_PASSWORD_LEN} characters"),
        )
        .into(),
        other => ServiceError::internal(other, "hashing the password"),
    })?;
    let id = users::create(pool, new.tenant_id, &email, &hash, new.role).await?;
    tracing::info!(tenant_id = new.tenant_id.get(), user_id = id, role = %new.role, "user created");
    Ok(id)
}
