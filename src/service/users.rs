//! Users who sign in to the API: created with a hashed password.

use sqlx::PgPool;

use super::{ServiceError, ServiceResult};
use crate::domain::{input, TenantId, UserRole};
use crate::security::{hash_password, PasswordError, MIN_PASSWORD_LEN};
use crate::store::users::{self, UserSummary};
use crate::store::{access_changes, api_tokens};

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

/// The tenant's users (never their password hashes).
pub async fn list(pool: &PgPool, tenant_id: TenantId) -> ServiceResult<Vec<UserSummary>> {
    Ok(users::list(pool, tenant_id).await?)
}

/// One of the tenant's users.
pub async fn get(pool: &PgPool, tenant_id: TenantId, user_id: i64) -> ServiceResult<UserSummary> {
    Ok(users::get(pool, tenant_id, user_id).await?)
}

/// Changes a user's role or disables them; `acting_user` cannot lock themselves out.
/// Disabling a user then revokes every API token they made (and those made with them): no
/// token can be made by them once they are disabled, and one made just before is revoked
/// here (disabling again repeats the revocation).
pub async fn update(
    pool: &PgPool,
    tenant_id: TenantId,
    acting_user: Option<i64>,
    user_id: i64,
    role: Option<UserRole>,
    active: Option<bool>,
) -> ServiceResult<UserSummary> {
    if acting_user == Some(user_id) && (active == Some(false) || role == Some(UserRole::Viewer)) {
        return Err(ServiceError::Conflict(
            "you cannot disable yourself or take away your own admin role".into(),
        ));
    }
    let user = users::update(pool, tenant_id, user_id, role, active).await?;
    if active == Some(false) {
        let revoked = api_tokens::revoke_made_by(pool, tenant_id, user_id).await?;
        if revoked > 0 {
            tracing::info!(
                tenant_id = tenant_id.get(),
                user_id,
                revoked,
                "the user's API tokens revoked"
            );
        }
    }
    // After the revocation: a process that forgets now re-checks against it.
    if role.is_some() || active.is_some() {
        access_changes::announce(pool, tenant_id).await?;
    }
    tracing::info!(tenant_id = tenant_id.get(), user_id, role = %user.role, active = user.active, "user updated");
    Ok(user)
}
