//! The `source_accounts` row: an account a source names (a Jira account, a GitHub login, an
//! Azure DevOps identity) once per e-mail address it was seen with, and its load table, whose
//! loads assign new accounts to people.

use futures_util::FutureExt;
use serde::Serialize;

use super::resolve;
use crate::store::bulk::Upsert;
use crate::store::load_batches::{LoadRow, LoadTable};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(test, derive(Default))]
pub struct AccountRow {
    /// Jira accountId, GitHub login, Azure DevOps uniqueName.
    pub account_key: String,
    /// Lower case; empty when the source gave none.
    pub email: String,
    pub display_name: Option<String>,
    /// `account_key` and `email`: what a batch deduplicates on.
    #[serde(skip)]
    key: String,
}

impl AccountRow {
    /// The row of account `key`, seen with `email` (kept only when it looks like one) and
    /// `display_name`; None without a key.
    pub fn new(key: Option<&str>, email: Option<&str>, display_name: Option<&str>) -> Option<Self> {
        let account_key = key.map(str::trim).filter(|k| !k.is_empty())?.to_owned();
        let email = email
            .map(|e| e.trim().to_lowercase())
            .filter(|e| e.contains('@'))
            .unwrap_or_default();
        let display_name = display_name
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(str::to_owned);
        Some(Self {
            key: format!("{account_key}\u{0}{email}"),
            account_key,
            email,
            display_name,
        })
    }
}

pub static ACCOUNTS: LoadTable = LoadTable {
    order: 0,
    upsert: Upsert {
        table: "source_accounts",
        record: &[
            ("account_key", "text"),
            ("email", "text"),
            ("display_name", "text"),
        ],
        copied: &["account_key", "email", "display_name"],
        computed: &[],
        joins: "",
        conflict_key: &["account_key", "email"],
        // A record without a name (a pull request's author) keeps the name known.
        guard: Some("excluded.display_name IS NOT NULL"),
    },
    after_load: Some(|pool, tenant| resolve::assign_new_accounts(pool, tenant).boxed()),
};

impl LoadRow for AccountRow {
    const TABLE: &'static LoadTable = &ACCOUNTS;

    fn dedup_key(&self) -> &str {
        &self.key
    }

    /// A named copy wins over a nameless one.
    fn supersedes(&self, earlier: &Self) -> bool {
        self.display_name.is_some() || earlier.display_name.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::load_batches::checks::record_matches_row;

    #[test]
    fn the_row_writes_what_the_upsert_reads() {
        record_matches_row::<AccountRow>();
    }

    #[test]
    fn keys_and_emails_are_cleaned_and_required() {
        let row =
            AccountRow::new(Some(" ann "), Some(" Ann.Lee@Corp.Example "), Some(" ")).unwrap();
        assert_eq!(row.account_key, "ann");
        assert_eq!(row.email, "ann.lee@corp.example");
        assert_eq!(row.display_name, None);
        assert_eq!(
            AccountRow::new(Some("x"), Some("not an address"), None)
                .unwrap()
                .email,
            ""
        );
        assert!(AccountRow::new(Some("  "), None, None).is_none());
        assert!(AccountRow::new(None, Some("a@b"), None).is_none());
    }
}
