//! One person across tools: a Jira account and a GitHub login with the same e-mail merge by
//! themselves, accounts that share only a name are suggested, never merged; teams group the
//! DORA keys (equal to the oracle over the simulator's truth), pull request and flow
//! metrics; a split undoes a merge, survives the next sync, and the metrics follow.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::common::api::{self, TestApi};
use crate::dora::{answered, assert_same, at, config, dora, sync, synced, team_oracle, truth};
use pulse_etl::domain::UserRole;
use pulse_etl::simulator::github::pulls::{Actor, HUMANS};
use pulse_etl::simulator::people;

fn jira_key(person: u64) -> String {
    format!("sim-acc-{person:04}")
}

fn github_login(person: u64) -> String {
    Actor::Human(person).login()
}

/// The person holding each account, from `/people`.
fn holders(list: &Value) -> BTreeMap<String, i64> {
    let mut holders = BTreeMap::new();
    for person in list["items"].as_array().unwrap() {
        for account in person["accounts"].as_array().unwrap() {
            holders.insert(
                account["account_key"].as_str().unwrap().to_owned(),
                person["id"].as_i64().unwrap(),
            );
        }
    }
    holders
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_merge_by_email_are_suggested_by_name_and_teams_follow_merges_and_splits() {
    let config = config();
    let (_sim, db, tenant) = synced(&config).await;
    let truth = truth(&config);
    let api = TestApi::start(&db.pool).await;
    let (admin, _) = api::user(&db.pool, &tenant, UserRole::Admin).await;
    let token = api.login(&admin).await;

    // Which accounts the sources name, from the generator: Jira assignees and reporters,
    // GitHub commit authors (a commit ties its e-mail to a login).
    let (issues, pulls) = (config.jira_population(), config.github_population());
    let mut in_jira = BTreeSet::new();
    for index in 0..issues.issues {
        let issue = issues.issue(index, &[]);
        in_jira.insert(issue.reporter);
        in_jira.extend(issue.assignee);
    }
    let mut committers = BTreeSet::new();
    for index in 0..pulls.pulls {
        for commit in pulls.pull(index, &[]).commits {
            if let Actor::Human(n) = commit.author {
                committers.insert(n);
            }
        }
    }

    let list = api.get("/api/v1/people", &token).await;
    let holder = holders(&list);
    let (mut merged, mut hidden) = (Vec::new(), Vec::new());
    for person in (0..HUMANS).filter(|p| in_jira.contains(p) && committers.contains(p)) {
        let (jira, github) = (holder[&jira_key(person)], holder[&github_login(person)]);
        if people::jira_shows_email(person) {
            assert_eq!(jira, github, "person {person}: same e-mail, one person");
            merged.push(person);
        } else {
            assert_ne!(
                jira, github,
                "person {person}: no e-mail in Jira, two people"
            );
            hidden.push(person);
        }
    }
    assert!(
        merged.len() >= 15 && hidden.len() >= 3,
        "{merged:?} {hidden:?}"
    );
    // Bots review and comment, and are nobody.
    assert!(
        !holder.keys().any(|key| key.ends_with("[bot]")),
        "{:?}",
        holder.keys().collect::<Vec<_>>()
    );
    let by_email = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["accounts"].as_array().unwrap())
        .filter(|a| a["decided_by"] == "email")
        .count();
    assert!(
        by_email >= merged.len(),
        "the merges say they came from e-mail"
    );

    // Same names are suggested, never merged: hidden e-mails, and the namesake.
    let suggestions = api
        .get("/api/v1/people/suggestions?limit=500", &token)
        .await;
    let pairs: BTreeSet<(i64, i64)> = suggestions["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let (a, b) = (
                s["person_id"].as_i64().unwrap(),
                s["other_person_id"].as_i64().unwrap(),
            );
            (a.min(b), a.max(b))
        })
        .collect();
    let pair = |a: i64, b: i64| (a.min(b), a.max(b));
    for person in &hidden {
        let (jira, github) = (holder[&jira_key(*person)], holder[&github_login(*person)]);
        assert!(
            pairs.contains(&pair(jira, github)),
            "person {person} suggested"
        );
    }
    if in_jira.contains(&people::NAMESAKE) {
        let (namesake, other) = (
            holder[&jira_key(people::NAMESAKE)],
            holder[&jira_key(people::NAMESAKE_OF)],
        );
        assert_ne!(namesake, other, "a namesake is not merged");
        assert!(
            pairs.contains(&pair(namesake, other)),
            "a namesake is suggested"
        );
    }

    // A team of four merged people: its DORA keys equal the oracle's.
    let team: Vec<u64> = merged[..4].to_vec();
    let person_ids: Vec<i64> = team.iter().map(|p| holder[&jira_key(*p)]).collect();
    let (status, created) = api
        .call(
            Method::POST,
            "/api/v1/teams",
            Some(&token),
            Some(json!({"name": "Platform", "person_ids": person_ids})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["members"].as_array().unwrap().len(), 4);
    let (since, until) = ("2024-01-01T00:00:00Z", "2026-01-05T00:00:00Z");
    let window = (at(since), at(until));
    let team_keys = || async {
        answered(
            &dora(
                &db,
                &tenant,
                &["--since", since, "--until", until, "--group-by", "team"],
            )
            .await,
        )
    };
    let members: BTreeSet<u64> = team.iter().copied().collect();
    let expected = team_oracle(&truth, window, "Platform", &members, &members);
    assert!(expected["Platform"].changes > 10 && expected["Platform"].incidents > 0);
    let before_split = team_keys().await;
    assert_same(&before_split, &expected, "the team");

    // Pull request metrics by team count its members' merged pull requests.
    let merged_by_team = (0..pulls.pulls)
        .map(|index| pulls.pull(index, &[]))
        .filter(|pull| pull.merged_ms.is_some())
        .filter(|pull| matches!(pull.author, Actor::Human(n) if members.contains(&n)))
        .count() as i64;
    let prs = api.get("/api/v1/metrics/prs?group_by=team", &token).await;
    assert_eq!(prs["items"][0]["group"], "Platform", "{prs}");
    assert_eq!(prs["items"][0]["merged"].as_i64().unwrap(), merged_by_team);
    // Flow metrics by team count the completed work items assigned to its members.
    let jira_accounts: Vec<String> = team.iter().map(|p| jira_key(*p)).collect();
    let completed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM work_items
         WHERE work_last_completed_at IS NOT NULL AND assignee_account = ANY($1)",
    )
    .bind(&jira_accounts)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    let flow = api.get("/api/v1/metrics/flow?group_by=team", &token).await;
    assert_eq!(flow["items"][0]["group"], "Platform", "{flow}");
    assert!(completed > 0);
    assert_eq!(flow["items"][0]["throughput"].as_i64().unwrap(), completed);

    // Split the first member's GitHub login off: the team loses its changes, keeps its
    // incidents.
    let first = team[0];
    let first_person = holder[&jira_key(first)];
    let github: i64 = sqlx::query_scalar("SELECT id FROM integrations WHERE provider = 'github'")
        .fetch_one(&db.pool)
        .await
        .unwrap();
    let (status, split) = api
        .call(
            Method::POST,
            &format!("/api/v1/people/{first_person}/split"),
            Some(&token),
            Some(json!({"integration_id": github, "account_key": github_login(first)})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{split}");
    let split_person = split["id"].as_i64().unwrap();
    assert_eq!(split["teams"], json!([]));
    let authors: BTreeSet<u64> = members.iter().copied().filter(|p| *p != first).collect();
    let expected_split = team_oracle(&truth, window, "Platform", &authors, &members);
    assert_ne!(
        expected_split, expected,
        "the split changes the team's keys"
    );
    assert_same(
        &team_keys().await,
        &expected_split,
        "the team after a split",
    );

    // The next sync loads the login again; it stays split and the pair is not suggested.
    sync(&db, &tenant, "github").await;
    let holder = holders(&api.get("/api/v1/people", &token).await);
    assert_eq!(holder[&github_login(first)], split_person);
    let suggestions = api
        .get("/api/v1/people/suggestions?limit=500", &token)
        .await;
    assert!(!suggestions["items"].as_array().unwrap().iter().any(|s| {
        pair(
            s["person_id"].as_i64().unwrap(),
            s["other_person_id"].as_i64().unwrap(),
        ) == pair(first_person, split_person)
    }));

    // Merging them again gives the first keys back.
    let (status, merged_back) = api
        .call(
            Method::POST,
            &format!("/api/v1/people/{first_person}/merge"),
            Some(&token),
            Some(json!({"person_id": split_person})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{merged_back}");
    assert_eq!(merged_back["accounts"].as_array().unwrap().len(), 2);
    assert_same(&team_keys().await, &expected, "the team merged again");
    let (status, _) = api
        .call(
            Method::GET,
            &format!("/api/v1/people/{split_person}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the merged-away person is gone"
    );

    // A suggested pair merged by an admin counts as one person.
    let hidden_one = hidden[0];
    let (status, body) = api
        .call(
            Method::POST,
            &format!("/api/v1/people/{}/merge", holder[&jira_key(hidden_one)]),
            Some(&token),
            Some(json!({"person_id": holder[&github_login(hidden_one)]})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // Errors: the last account cannot be split off, unknown people and team names clash.
    let lone = holder[&jira_key(people::NAMESAKE)];
    let (status, body) = api
        .call(
            Method::POST,
            &format!("/api/v1/people/{lone}/split"),
            Some(&token),
            Some(json!({"integration_id": github, "account_key": "nobody"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _) = api
        .call(
            Method::POST,
            "/api/v1/teams",
            Some(&token),
            Some(json!({"name": " Platform ", "person_ids": []})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, body) = api
        .call(
            Method::POST,
            "/api/v1/teams",
            Some(&token),
            Some(json!({"name": "Ghosts", "person_ids": [i64::MAX]})),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // People are personal data: admins only; teams are visible to every member.
    let (viewer, _) = api::user(&db.pool, &tenant, UserRole::Viewer).await;
    let viewer = api.login(&viewer).await;
    let (status, _) = api
        .call(Method::GET, "/api/v1/people", Some(&viewer), None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let teams = api.get("/api/v1/teams", &viewer).await;
    assert_eq!(teams["items"][0]["name"], "Platform");

    // Deleting the GitHub integration forgets its accounts and the people known only
    // through them; the others keep their Jira accounts.
    let (status, body) = api
        .call(
            Method::DELETE,
            &format!("/api/v1/integrations/{github}"),
            Some(&token),
            None,
        )
        .await;
    assert!(status.is_success(), "{status}: {body}");
    let after = api.get("/api/v1/people", &token).await;
    let people = after["items"].as_array().unwrap();
    assert!(people.iter().all(|p| {
        let accounts = p["accounts"].as_array().unwrap();
        !accounts.is_empty() && accounts.iter().all(|a| a["provider"] == "jira")
    }));
    let holder = holders(&after);
    assert!(holder.contains_key(&jira_key(first)) && !holder.contains_key(&github_login(first)));
}
