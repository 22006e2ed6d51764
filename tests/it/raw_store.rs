//! The raw store against the real PostgreSQL: the rows an extraction keeps in hand are the
//! rows reading them back gives (the in-process transform relies on it), and a message's
//! rows come whole and in id order whether held, read, or both — never another tenant's.

use crate::common;
use crate::common::ScratchDb;
use pulse_etl::domain::Scope;
use pulse_etl::store::raw;
use serde_json::json;

#[tokio::test]
async fn rows_kept_in_hand_equal_the_rows_read_back() {
    let db = ScratchDb::migrated().await;
    let ids = common::source::github_integration(&db, "Acme").await;
    let scope = Scope::of(ids);
    let entities = vec![
        (
            Some("1".to_owned()),
            json!({"title": "plain", "points": 3.50, "big": 12345678901234567890u64,
                   "nested": {"z": [1, 2.25, null, true], "a": "ü ✓ \"quoted\""}}),
            json!({"page": 1}),
        ),
        (
            Some("2".to_owned()),
            json!({"title": "has a \u{0}NUL", "list": ["a\u{0}b"]}),
            json!({"page": 1}),
        ),
        (None, json!([{"k": "v"}, "text", 0]), json!({})),
    ];
    let held = raw::insert_returning(&db.pool, scope, "github_pull", entities)
        .await
        .unwrap();
    let read = raw::fetch(&db.pool, ids.tenant, ids.integration, &raw::ids_of(&held))
        .await
        .unwrap();
    assert_eq!(held, read, "rows in hand and rows read back differ");
    assert_eq!(held[1].raw_data["title"], "has a NUL");
    assert_eq!(held[1].extraction_metadata["nul_removed"], true);
    assert!(held[0].extraction_metadata.get("nul_removed").is_none());
}

#[tokio::test]
async fn a_message_gets_its_rows_whole_held_or_read_and_never_another_tenants() {
    let db = ScratchDb::migrated().await;
    let ids = common::source::github_integration(&db, "Acme").await;
    let other = common::source::github_integration(&db, "Other").await;
    let stored = raw::insert_returning(
        &db.pool,
        Scope::of(ids),
        "github_pull",
        (1..=4)
            .map(|n| (Some(n.to_string()), json!({"n": n}), json!({})))
            .collect(),
    )
    .await
    .unwrap();
    let foreign = raw::insert(
        &db.pool,
        Scope::of(other),
        "github_pull",
        vec![(Some("9".into()), json!({"n": 9}))],
        &json!({}),
    )
    .await
    .unwrap();
    let wanted = [stored[3].id, stored[0].id, stored[2].id, foreign[0]];
    // Two of the rows in hand (one the message does not name), the rest to read.
    let in_hand = vec![stored[2].clone(), stored[1].clone()];
    let rows = raw::fetch_missing(&db.pool, ids.tenant, ids.integration, &wanted, in_hand)
        .await
        .unwrap();
    let got: Vec<_> = rows.iter().map(|row| row.raw_data["n"].clone()).collect();
    assert_eq!(got, vec![json!(1), json!(3), json!(4)]);
}
