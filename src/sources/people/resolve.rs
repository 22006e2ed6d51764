//! Assigning new accounts to people: an account sharing a verified e-mail with a person's
//! account joins that person; accounts sharing one among themselves become one new person;
//! any other account becomes a person of its own. Accounts already assigned never move here
//! (only an admin's merge or split moves them), so a split stays split.

use std::collections::BTreeMap;

use sqlx::{PgPool, Postgres, Transaction};

use crate::domain::{IntegrationId, TenantId};
use crate::store::StoreError;

#[derive(sqlx::FromRow)]
struct NewAccount {
    integration_id: IntegrationId,
    account_key: String,
    emails: Vec<String>,
    display_name: String,
}

/// Union-find over the new accounts: `parent[i]` leads to the account standing for i's group.
fn root(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
}

/// Groups of new accounts (indexes) sharing e-mails, each with the existing person holding
/// one of their e-mails (the oldest such person), if any.
fn group(
    accounts: &[NewAccount],
    holders: &BTreeMap<String, i64>,
) -> Vec<(Vec<usize>, Option<i64>)> {
    let mut parent: Vec<usize> = (0..accounts.len()).collect();
    let mut first_with: BTreeMap<&str, usize> = BTreeMap::new();
    for (index, account) in accounts.iter().enumerate() {
        for email in &account.emails {
            match first_with.get(email.as_str()) {
                Some(&other) => {
                    let (a, b) = (root(&mut parent, index), root(&mut parent, other));
                    parent[a.max(b)] = a.min(b);
                }
                None => {
                    first_with.insert(email, index);
                }
            }
        }
    }
    let mut groups: BTreeMap<usize, (Vec<usize>, Option<i64>)> = BTreeMap::new();
    for (index, account) in accounts.iter().enumerate() {
        let entry = groups.entry(root(&mut parent, index)).or_default();
        entry.0.push(index);
        for person in account.emails.iter().filter_map(|e| holders.get(e)) {
            entry.1 = Some(entry.1.map_or(*person, |p: i64| p.min(*person)));
        }
    }
    groups.into_values().collect()
}

/// Locks the tenant's people for the transaction: one assignment, merge or split at a time.
pub(super) async fn lock(
    tx: &mut Transaction<'_, Postgres>,
    tenant_id: TenantId,
) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('pulse-etl people', $1))")
        .bind(tenant_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The tenant's accounts that belong to no person, each with its e-mails and a name.
async fn unassigned(
    db: impl sqlx::PgExecutor<'_>,
    tenant_id: TenantId,
) -> Result<Vec<NewAccount>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT a.integration_id, a.account_key,
                coalesce(array_agg(DISTINCT a.email ORDER BY a.email) FILTER (WHERE a.email <> ''), '{}') AS emails,
                coalesce(max(a.display_name), a.account_key) AS display_name
         FROM source_accounts a
         WHERE a.tenant_id = $1 AND NOT EXISTS (
             SELECT 1 FROM person_accounts pa
             WHERE pa.tenant_id = $1 AND pa.integration_id = a.integration_id
               AND pa.account_key = a.account_key)
         GROUP BY a.integration_id, a.account_key
         ORDER BY a.integration_id, a.account_key",
    )
    .bind(tenant_id)
    .fetch_all(db)
    .await?)
}

/// Assigns the tenant's accounts that belong to no person yet. One assignment per tenant
/// runs at a time (a transaction-scoped advisory lock), so two loads never make two people
/// of one e-mail.
pub async fn assign_new_accounts(pool: &PgPool, tenant_id: TenantId) -> Result<(), StoreError> {
    // Looked at first without the lock: most loads name only accounts already assigned.
    if unassigned(pool, tenant_id).await?.is_empty() {
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    lock(&mut tx, tenant_id).await?;
    let accounts = unassigned(&mut *tx, tenant_id).await?;
    if accounts.is_empty() {
        return Ok(());
    }
    let emails: Vec<&str> = accounts
        .iter()
        .flat_map(|a| a.emails.iter().map(String::as_str))
        .collect();
    let holders: BTreeMap<String, i64> = sqlx::query_as::<_, (String, i64)>(
        "SELECT a.email, min(pa.person_id)
         FROM source_accounts a
         JOIN person_accounts pa ON pa.tenant_id = a.tenant_id
              AND pa.integration_id = a.integration_id AND pa.account_key = a.account_key
         WHERE a.tenant_id = $1 AND a.email = ANY($2)
         GROUP BY a.email",
    )
    .bind(tenant_id)
    .bind(&emails)
    .fetch_all(&mut *tx)
    .await?
    .into_iter()
    .collect();

    let (joining, new): (Vec<_>, Vec<_>) = group(&accounts, &holders)
        .into_iter()
        .partition(|(_, holder)| holder.is_some());
    // Ids for the new people, drawn at once, so that they are written in one statement.
    let fresh: Vec<i64> = sqlx::query_scalar(
        "SELECT nextval(pg_get_serial_sequence('people', 'id')) FROM generate_series(1, $1)",
    )
    .bind(new.len() as i64)
    .fetch_all(&mut *tx)
    .await?;
    let joining = joining
        .into_iter()
        .filter_map(|(members, holder)| holder.map(|person| (members, person, "email", false)));
    let created = new.into_iter().zip(fresh).map(|((members, _), person)| {
        let how = if members.len() > 1 { "email" } else { "own" };
        (members, person, how, true)
    });
    let mut joined = 0;
    let (mut new_ids, mut names) = (Vec::new(), Vec::new());
    let (mut integrations, mut keys, mut people, mut decided) = (vec![], vec![], vec![], vec![]);
    for (members, person, how, is_new) in joining.chain(created) {
        if is_new {
            new_ids.push(person);
            names.push(accounts[members[0]].display_name.as_str());
        } else {
            joined += members.len();
        }
        for index in members {
            integrations.push(accounts[index].integration_id.get());
            keys.push(accounts[index].account_key.clone());
            people.push(person);
            decided.push(how);
        }
    }
    sqlx::query(
        "INSERT INTO people (id, tenant_id, display_name)
         SELECT id, $1, name FROM unnest($2::bigint[], $3::text[]) AS p(id, name)",
    )
    .bind(tenant_id)
    .bind(&new_ids)
    .bind(&names)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO person_accounts (tenant_id, integration_id, account_key, person_id, decided_by)
         SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::bigint[], $5::text[])",
    )
    .bind(tenant_id)
    .bind(&integrations)
    .bind(&keys)
    .bind(&people)
    .bind(&decided)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    tracing::info!(
        tenant_id = tenant_id.get(),
        accounts = accounts.len(),
        joined_by_email = joined,
        new_people = new_ids.len(),
        "accounts assigned to people"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn account(key: &str, emails: &[&str]) -> NewAccount {
        NewAccount {
            integration_id: IntegrationId(1),
            account_key: key.to_owned(),
            emails: emails.iter().map(|e| e.to_string()).collect(),
            display_name: key.to_owned(),
        }
    }

    #[test]
    fn accounts_sharing_an_email_group_and_join_the_oldest_holder() {
        let accounts = [
            account("a", &["a@x"]),
            account("b", &["b@x", "a@x"]),
            account("c", &["c@x"]),
            account("d", &[]),
            account("e", &["e@x", "c@x"]),
        ];
        let holders = BTreeMap::from([("e@x".to_owned(), 9), ("c@x".to_owned(), 4)]);
        let groups = group(&accounts, &holders);
        assert_eq!(
            groups,
            vec![(vec![0, 1], None), (vec![2, 4], Some(4)), (vec![3], None)]
        );
    }
}
