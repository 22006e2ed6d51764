//! A tenant's people: each with its accounts and teams, the pairs worth merging (the same
//! normalised name, never merged by themselves), and an admin's merge, split and
//! keep-apart. Metrics group by person at query time, so every change here shows in them at
//! once.

use serde::Serialize;
use sqlx::{PgPool, Postgres, Transaction};
use utoipa::ToSchema;

use super::resolve;
use crate::domain::{IntegrationId, TenantId};
use crate::store::StoreError;

/// An account of a person, as its source names it.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct PersonAccount {
    #[serde(skip)]
    pub person_id: i64,
    pub integration_id: IntegrationId,
    pub provider: String,
    /// Jira accountId, GitHub login, Azure DevOps uniqueName.
    pub account_key: String,
    pub display_name: Option<String>,
    /// The verified e-mail addresses it was seen with.
    pub emails: Vec<String>,
    /// `own`, `email` (joined by a shared e-mail), `merge` or `split` (an admin).
    pub decided_by: String,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct TeamRef {
    #[serde(skip)]
    pub person_id: i64,
    pub id: i64,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Person {
    pub id: i64,
    pub display_name: String,
    pub accounts: Vec<PersonAccount>,
    pub teams: Vec<TeamRef>,
}

/// Two people who may be one: a name of one equals a name of the other once normalised.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, ToSchema)]
pub struct Suggestion {
    pub person_id: i64,
    pub person_name: String,
    pub other_person_id: i64,
    pub other_person_name: String,
    /// The normalised name they share (lower case, letters and digits only).
    pub shared_name: String,
}

/// A name as suggestions compare it: lower case, letters and digits only (`Ann Lee`,
/// `ann-lee` and the login `annlee` are one name).
const NORMALISED: &str = "regexp_replace(lower({}), '[^[:alnum:]]+', '', 'g')";

fn normalised(expression: &str) -> String {
    NORMALISED.replace("{}", expression)
}

/// Which people a listing holds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Filter<'a> {
    /// Those whose name, account or e-mail contains this.
    pub search: Option<&'a str>,
    /// Only this one.
    pub id: Option<i64>,
}

/// The tenant's people as filtered, by name.
pub async fn list(
    pool: &PgPool,
    tenant_id: TenantId,
    filter: Filter<'_>,
) -> Result<Vec<Person>, StoreError> {
    let search = filter.search;
    let pattern = search.map(|s| {
        format!(
            "%{}%",
            s.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    let people: Vec<(i64, String)> = sqlx::query_as(
        "SELECT p.id, p.display_name FROM people p
         WHERE p.tenant_id = $1 AND ($3::bigint IS NULL OR p.id = $3) AND ($2::text IS NULL OR p.display_name ILIKE $2 OR EXISTS (
             SELECT 1 FROM person_accounts pa
             JOIN source_accounts a ON a.tenant_id = pa.tenant_id
                  AND a.integration_id = pa.integration_id AND a.account_key = pa.account_key
             WHERE pa.tenant_id = $1 AND pa.person_id = p.id
               AND (a.account_key ILIKE $2 OR a.display_name ILIKE $2 OR a.email ILIKE $2)))
         ORDER BY lower(p.display_name), p.id",
    )
    .bind(tenant_id)
    .bind(pattern)
    .bind(filter.id)
    .fetch_all(pool)
    .await?;
    let ids: Vec<i64> = people.iter().map(|(id, _)| *id).collect();
    let accounts: Vec<PersonAccount> = sqlx::query_as(
        "SELECT pa.person_id, pa.integration_id, i.provider, pa.account_key,
                max(a.display_name) AS display_name,
                coalesce(array_agg(a.email ORDER BY a.email) FILTER (WHERE a.email <> ''), '{}') AS emails,
                pa.decided_by
         FROM person_accounts pa
         JOIN integrations i ON i.tenant_id = pa.tenant_id AND i.id = pa.integration_id
         JOIN source_accounts a ON a.tenant_id = pa.tenant_id
              AND a.integration_id = pa.integration_id AND a.account_key = pa.account_key
         WHERE pa.tenant_id = $1 AND pa.person_id = ANY($2)
         GROUP BY pa.person_id, pa.integration_id, i.provider, pa.account_key, pa.decided_by
         ORDER BY pa.person_id, i.provider, pa.account_key",
    )
    .bind(tenant_id)
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    let teams: Vec<TeamRef> = sqlx::query_as(
        "SELECT m.person_id, t.id, t.name FROM team_members m
         JOIN teams t ON t.tenant_id = m.tenant_id AND t.id = m.team_id
         WHERE m.tenant_id = $1 AND m.person_id = ANY($2)
         ORDER BY m.person_id, t.name",
    )
    .bind(tenant_id)
    .bind(&ids)
    .fetch_all(pool)
    .await?;
    Ok(people
        .into_iter()
        .map(|(id, display_name)| Person {
            id,
            display_name,
            accounts: accounts
                .iter()
                .filter(|a| a.person_id == id)
                .cloned()
                .collect(),
            teams: teams
                .iter()
                .filter(|t| t.person_id == id)
                .cloned()
                .collect(),
        })
        .collect())
}

/// One person of the tenant.
pub async fn get(pool: &PgPool, tenant_id: TenantId, id: i64) -> Result<Person, StoreError> {
    let filter = Filter {
        search: None,
        id: Some(id),
    };
    list(pool, tenant_id, filter)
        .await?
        .pop()
        .ok_or(StoreError::NotFound {
            entity: "person",
            id,
        })
}

/// Pairs of people sharing a normalised name (an account's display name, or a GitHub
/// login) that no admin kept apart, at most `limit`.
pub async fn suggestions(
    pool: &PgPool,
    tenant_id: TenantId,
    limit: i64,
) -> Result<Vec<Suggestion>, StoreError> {
    let name = normalised("n.name");
    Ok(sqlx::query_as(&format!(
        "WITH names AS (
             SELECT DISTINCT pa.person_id, {name} AS name
             FROM person_accounts pa
             JOIN integrations i ON i.tenant_id = pa.tenant_id AND i.id = pa.integration_id
             JOIN source_accounts a ON a.tenant_id = pa.tenant_id
                  AND a.integration_id = pa.integration_id AND a.account_key = pa.account_key
             CROSS JOIN LATERAL (VALUES (a.display_name),
                 (CASE WHEN i.provider = 'github' THEN a.account_key END)) AS n(name)
             WHERE pa.tenant_id = $1 AND n.name IS NOT NULL
         ), pairs AS (
             SELECT a.person_id, b.person_id AS other_person_id, min(a.name) AS shared_name
             FROM names a JOIN names b ON b.name = a.name AND b.person_id > a.person_id
             WHERE a.name <> ''
             GROUP BY 1, 2
         )
         SELECT pr.person_id, p.display_name AS person_name, pr.other_person_id,
                o.display_name AS other_person_name, pr.shared_name
         FROM pairs pr
         JOIN people p ON p.id = pr.person_id
         JOIN people o ON o.id = pr.other_person_id
         WHERE NOT EXISTS (SELECT 1 FROM people_kept_apart k
                           WHERE k.tenant_id = $1 AND k.person_id = pr.person_id
                             AND k.other_person_id = pr.other_person_id)
         ORDER BY pr.shared_name, pr.person_id, pr.other_person_id
         LIMIT $2"
    ))
    .bind(tenant_id)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

async fn exists(
    tx: &mut Transaction<'_, Postgres>,
    tenant_id: TenantId,
    person: i64,
) -> Result<(), StoreError> {
    let found: Option<i64> =
        sqlx::query_scalar("SELECT id FROM people WHERE tenant_id = $1 AND id = $2")
            .bind(tenant_id)
            .bind(person)
            .fetch_optional(&mut **tx)
            .await?;
    found.map(drop).ok_or(StoreError::NotFound {
        entity: "person",
        id: person,
    })
}

/// Merges person `other` into `person`: its accounts and team memberships move over and it
/// is deleted.
pub async fn merge(
    pool: &PgPool,
    tenant_id: TenantId,
    person: i64,
    other: i64,
) -> Result<(), StoreError> {
    if person == other {
        return Err(StoreError::Conflict(
            "a person cannot be merged with itself".into(),
        ));
    }
    let mut tx = pool.begin().await?;
    resolve::lock(&mut tx, tenant_id).await?;
    exists(&mut tx, tenant_id, person).await?;
    exists(&mut tx, tenant_id, other).await?;
    sqlx::query(
        "UPDATE person_accounts SET person_id = $2, decided_by = 'merge'
         WHERE tenant_id = $1 AND person_id = $3",
    )
    .bind(tenant_id)
    .bind(person)
    .bind(other)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO team_members (tenant_id, team_id, person_id)
         SELECT tenant_id, team_id, $2 FROM team_members WHERE tenant_id = $1 AND person_id = $3
         ON CONFLICT DO NOTHING",
    )
    .bind(tenant_id)
    .bind(person)
    .bind(other)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM people WHERE tenant_id = $1 AND id = $2")
        .bind(tenant_id)
        .bind(other)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Splits an account off `person` into a new person of its own (in no team), undoing the
/// merge that joined it; returns the new person's id. The person's last account cannot be
/// split off.
pub async fn split(
    pool: &PgPool,
    tenant_id: TenantId,
    person: i64,
    integration_id: IntegrationId,
    account_key: &str,
) -> Result<i64, StoreError> {
    let mut tx = pool.begin().await?;
    resolve::lock(&mut tx, tenant_id).await?;
    exists(&mut tx, tenant_id, person).await?;
    let accounts: Vec<(IntegrationId, String)> = sqlx::query_as(
        "SELECT integration_id, account_key FROM person_accounts
         WHERE tenant_id = $1 AND person_id = $2 FOR UPDATE",
    )
    .bind(tenant_id)
    .bind(person)
    .fetch_all(&mut *tx)
    .await?;
    if !accounts
        .iter()
        .any(|(i, k)| *i == integration_id && k == account_key)
    {
        return Err(StoreError::Conflict(format!(
            "person {person} has no account {account_key} of integration {integration_id}"
        )));
    }
    if accounts.len() == 1 {
        return Err(StoreError::Conflict(format!(
            "{account_key} is person {person}'s only account"
        )));
    }
    let name: Option<String> = sqlx::query_scalar(
        "SELECT max(display_name) FROM source_accounts
         WHERE tenant_id = $1 AND integration_id = $2 AND account_key = $3",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .bind(account_key)
    .fetch_one(&mut *tx)
    .await?;
    let new_person: i64 = sqlx::query_scalar(
        "INSERT INTO people (tenant_id, display_name) VALUES ($1, $2) RETURNING id",
    )
    .bind(tenant_id)
    .bind(name.as_deref().unwrap_or(account_key))
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query(
        "UPDATE person_accounts SET person_id = $4, decided_by = 'split'
         WHERE tenant_id = $1 AND integration_id = $2 AND account_key = $3",
    )
    .bind(tenant_id)
    .bind(integration_id)
    .bind(account_key)
    .bind(new_person)
    .execute(&mut *tx)
    .await?;
    // Once split, the pair is known to be two people.
    record_apart(&mut tx, tenant_id, person, new_person).await?;
    tx.commit().await?;
    Ok(new_person)
}

/// Deletes the tenant's people no account is left to (their integrations deleted); returns
/// how many.
pub async fn delete_without_accounts(
    pool: &PgPool,
    tenant_id: TenantId,
) -> Result<u64, StoreError> {
    let deleted = sqlx::query(
        "DELETE FROM people p WHERE p.tenant_id = $1 AND NOT EXISTS (
             SELECT 1 FROM person_accounts pa WHERE pa.tenant_id = $1 AND pa.person_id = p.id)",
    )
    .bind(tenant_id)
    .execute(pool)
    .await?;
    Ok(deleted.rows_affected())
}

/// Records that `person` and `other` are different people: no longer suggested.
pub async fn keep_apart(
    pool: &PgPool,
    tenant_id: TenantId,
    person: i64,
    other: i64,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    exists(&mut tx, tenant_id, person).await?;
    exists(&mut tx, tenant_id, other).await?;
    record_apart(&mut tx, tenant_id, person, other).await?;
    tx.commit().await?;
    Ok(())
}

/// Notes a pair of different people (in either order; a person is never apart from itself).
async fn record_apart(
    tx: &mut Transaction<'_, Postgres>,
    tenant_id: TenantId,
    person: i64,
    other: i64,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO people_kept_apart (tenant_id, person_id, other_person_id)
         VALUES ($1, least($2::bigint, $3::bigint), greatest($2::bigint, $3::bigint))
         ON CONFLICT DO NOTHING",
    )
    .bind(tenant_id)
    .bind(person)
    .bind(other)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
