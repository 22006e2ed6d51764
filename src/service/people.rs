//! People across tools and teams: listing, merge suggestions, an admin's merge, split and
//! keep-apart, and team management, with their input checks.

use sqlx::PgPool;

use super::ServiceResult;
use crate::domain::{input, IntegrationId, TenantId};
use crate::sources::people::directory::{self, Filter, Person, Suggestion};
use crate::sources::people::teams::{self, Team};

/// Longest team name accepted.
const TEAM_NAME_MAX: usize = 100;
/// Most suggestions one answer holds.
pub const SUGGESTIONS_MAX: i64 = 500;

pub async fn list(
    pool: &PgPool,
    tenant_id: TenantId,
    search: Option<&str>,
) -> ServiceResult<Vec<Person>> {
    let search = search.map(str::trim).filter(|s| !s.is_empty());
    Ok(directory::list(pool, tenant_id, Filter { search, id: None }).await?)
}

pub async fn get(pool: &PgPool, tenant_id: TenantId, id: i64) -> ServiceResult<Person> {
    Ok(directory::get(pool, tenant_id, id).await?)
}

pub async fn suggestions(
    pool: &PgPool,
    tenant_id: TenantId,
    limit: Option<i64>,
) -> ServiceResult<Vec<Suggestion>> {
    let limit = limit.unwrap_or(100);
    if !(1..=SUGGESTIONS_MAX).contains(&limit) {
        return Err(input::invalid("limit", format!("must be 1 to {SUGGESTIONS_MAX}")).into());
    }
    Ok(directory::suggestions(pool, tenant_id, limit).await?)
}

/// Merges `other` into `person`; answers the merged person.
pub async fn merge(
    pool: &PgPool,
    tenant_id: TenantId,
    person: i64,
    other: i64,
) -> ServiceResult<Person> {
    if person == other {
        return Err(input::invalid("person_id", "is the person merged into").into());
    }
    directory::merge(pool, tenant_id, person, other).await?;
    get(pool, tenant_id, person).await
}

/// Splits an account off `person`; answers the new person holding it.
pub async fn split(
    pool: &PgPool,
    tenant_id: TenantId,
    person: i64,
    integration_id: IntegrationId,
    account_key: &str,
) -> ServiceResult<Person> {
    let new_person = directory::split(pool, tenant_id, person, integration_id, account_key).await?;
    get(pool, tenant_id, new_person).await
}

pub async fn keep_apart(
    pool: &PgPool,
    tenant_id: TenantId,
    person: i64,
    other: i64,
) -> ServiceResult<()> {
    if person == other {
        return Err(input::invalid("person_id", "is the same person").into());
    }
    Ok(directory::keep_apart(pool, tenant_id, person, other).await?)
}

pub async fn teams(pool: &PgPool, tenant_id: TenantId) -> ServiceResult<Vec<Team>> {
    Ok(teams::list(pool, tenant_id).await?)
}

fn team_name(name: &str) -> ServiceResult<&str> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > TEAM_NAME_MAX {
        return Err(
            input::invalid("name", format!("must be 1 to {TEAM_NAME_MAX} characters")).into(),
        );
    }
    if name.chars().any(char::is_control) {
        return Err(input::invalid("name", "must not hold control characters").into());
    }
    Ok(name)
}

pub async fn create_team(
    pool: &PgPool,
    tenant_id: TenantId,
    name: &str,
    people: &[i64],
) -> ServiceResult<Team> {
    let id = teams::create(pool, tenant_id, team_name(name)?, people).await?;
    Ok(teams::get(pool, tenant_id, id).await?)
}

pub async fn update_team(
    pool: &PgPool,
    tenant_id: TenantId,
    id: i64,
    name: Option<&str>,
    people: Option<&[i64]>,
) -> ServiceResult<Team> {
    let name = name.map(team_name).transpose()?;
    teams::update(pool, tenant_id, id, name, people).await?;
    Ok(teams::get(pool, tenant_id, id).await?)
}

pub async fn delete_team(pool: &PgPool, tenant_id: TenantId, id: i64) -> ServiceResult<()> {
    Ok(teams::delete(pool, tenant_id, id).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn team_names_are_trimmed_and_bounded() {
        assert_eq!(team_name("  Payments ").unwrap(), "Payments");
        assert!(team_name("   ").is_err());
        assert!(team_name(&"x".repeat(101)).is_err());
        assert!(team_name("a\u{7}b").is_err());
    }
}
