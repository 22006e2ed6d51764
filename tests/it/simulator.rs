//! The source simulator over real HTTP: envelopes, paging, JQL, auth, limits, ETags,
//! faults, activity, determinism, and shapes compared with recorded real responses.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::net::SocketAddr;
use std::time::Duration;

use pulse_etl::simulator::{RunningSimulator, SimulatorConfig};
use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::{json, Value};

const JIRA_USER: &str = "sim@example.com";
const JIRA_TOKEN: &str = "sim-token";
const GITHUB_TOKEN: &str = "sim-gh-token";

async fn start(config: SimulatorConfig) -> RunningSimulator {
    RunningSimulator::start(config, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap()
}

fn small() -> SimulatorConfig {
    SimulatorConfig {
        seed: 7,
        jira_issues: 1_200,
        github_prs: 240,
        ..SimulatorConfig::default()
    }
}

struct Api {
    client: Client,
    base: String,
}

impl Api {
    fn new(sim: &RunningSimulator) -> Self {
        Api {
            client: Client::new(),
            base: sim.base_url(),
        }
    }

    fn jira(&self, path: &str) -> RequestBuilder {
        self.client
            .get(format!("{}{path}", self.base))
            .basic_auth(JIRA_USER, Some(JIRA_TOKEN))
    }

    fn github(&self, path: &str) -> RequestBuilder {
        self.client
            .get(format!("{}{path}", self.base))
            .bearer_auth(GITHUB_TOKEN)
    }

    async fn json(&self, request: RequestBuilder) -> Value {
        let response = request.send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "{:?}",
            response.url().to_string()
        );
        response.json().await.unwrap()
    }

    async fn stats(&self) -> Value {
        self.client
            .get(format!("{}/_sim/stats", self.base))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Walks `/search/jql` to the end; returns every issue of every page.
    async fn walk_issues(&self, jql: &str, page_size: usize, post: bool) -> Vec<Value> {
        let mut issues = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = if post {
                let mut body = json!({"jql": jql, "maxResults": page_size, "fields": ["summary", "updated", "status"], "expand": "changelog"});
                if let Some(token) = &token {
                    body["nextPageToken"] = Value::from(token.clone());
                }
                self.json(
                    self.client
                        .post(format!("{}/rest/api/3/search/jql", self.base))
                        .basic_auth(JIRA_USER, Some(JIRA_TOKEN))
                        .json(&body),
                )
                .await
            } else {
                let mut query = vec![
                    ("jql", jql.to_owned()),
                    ("maxResults", page_size.to_string()),
                    ("fields", "summary,updated".into()),
                ];
                if let Some(token) = &token {
                    query.push(("nextPageToken", token.clone()));
                }
                self.json(self.jira("/rest/api/3/search/jql").query(&query))
                    .await
            };
            let batch = page["issues"].as_array().unwrap();
            assert!(batch.len() <= page_size.min(100));
            issues.extend(batch.iter().cloned());
            if page["isLast"] == true {
                assert!(page.get("nextPageToken").is_none());
                return issues;
            }
            token = Some(page["nextPageToken"].as_str().unwrap().to_owned());
        }
    }
}

fn keys(issues: &[Value]) -> Vec<String> {
    issues
        .iter()
        .map(|i| i["key"].as_str().unwrap().to_owned())
        .collect()
}

fn assert_unique(keys: &[String]) {
    let unique: HashSet<&String> = keys.iter().collect();
    assert_eq!(
        unique.len(),
        keys.len(),
        "an issue was repeated across pages"
    );
}

#[tokio::test]
async fn search_pages_every_issue_exactly_once_in_each_order() {
    let sim = start(small()).await;
    let api = Api::new(&sim);
    let truth = api.stats().await["truth"]["issues"].as_u64().unwrap() as usize;
    for (jql, post) in [
        ("", false),
        ("ORDER BY updated ASC", true),
        ("order by created desc", false),
        ("ORDER BY updated DESC", true),
    ] {
        let issues = api.walk_issues(jql, 100, post).await;
        let keys = keys(&issues);
        assert_eq!(keys.len(), truth, "{jql}");
        assert_unique(&keys);
    }
    // Odd page sizes and the cap of 100.
    let issues = api.walk_issues("project in (CORE, WEB)", 37, false).await;
    assert!(issues
        .iter()
        .all(|i| i["key"].as_str().unwrap().starts_with("CORE-")
            || i["key"].as_str().unwrap().starts_with("WEB-")));
    assert_eq!(issues.len(), truth * 2 / 3);
    let page = api
        .json(
            api.jira("/rest/api/3/search/jql")
                .query(&[("maxResults", "500")]),
        )
        .await;
    assert_eq!(page["issues"].as_array().unwrap().len(), 100);
    sim.stop().await.unwrap();
}

#[tokio::test]
async fn updated_filter_and_mutation_keep_paging_exact() {
    let sim = start(small()).await;
    let api = Api::new(&sim);
    let all = api.walk_issues("ORDER BY updated ASC", 100, false).await;
    let updated: Vec<String> = all
        .iter()
        .map(|i| i["fields"]["updated"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        updated.windows(2).all(|w| w[0] <= w[1]),
        "ORDER BY updated ASC is ordered"
    );
    // Issues updated at or after the median minute.
    let median = &updated[updated.len() / 2];
    let cursor = format!("{} {}", &median[..10].replace('-', "/"), &median[11..16]);
    let expected: BTreeSet<String> = all
        .iter()
        .filter(|i| i["fields"]["updated"].as_str().unwrap()[..16] >= median[..16])
        .map(|i| i["key"].as_str().unwrap().to_owned())
        .collect();
    let filtered = keys(
        &api.walk_issues(
            &format!("updated >= \"{cursor}\" ORDER BY updated ASC"),
            50,
            true,
        )
        .await,
    );
    assert_unique(&filtered);
    assert_eq!(filtered.into_iter().collect::<BTreeSet<_>>(), expected);

    let before = chrono::Utc::now() - chrono::Duration::minutes(1);
    let mutated: Value = api
        .client
        .post(format!("{}/_sim/mutate", api.base))
        .json(&json!({"fraction": 0.05}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let changed =
        mutated["issues_changed"].as_u64().unwrap() + mutated["issues_added"].as_u64().unwrap();
    assert!(changed > 30, "{mutated}");
    let since = format!(
        "updated >= \"{}\" ORDER BY updated ASC",
        before.format("%Y/%m/%d %H:%M")
    );
    let recent = keys(&api.walk_issues(&since, 20, false).await);
    assert_unique(&recent);
    assert_eq!(
        recent.len() as u64,
        changed,
        "exactly the changed and added issues are newer than the cursor"
    );
    let truth = api.stats().await["truth"]["issues"].as_u64().unwrap() as usize;
    let everything = keys(&api.walk_issues("ORDER BY updated ASC", 100, true).await);
    assert_unique(&everything);
    assert_eq!(everything.len(), truth);

    let deleted: Value = api
        .client
        .post(format!("{}/_sim/delete", api.base))
        .json(&json!({"fraction": 0.01}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let deleted = deleted["issues_deleted"].as_u64().unwrap() as usize;
    assert!(deleted >= 1);
    let after_delete = keys(&api.walk_issues("", 100, false).await);
    assert_eq!(after_delete.len(), truth - deleted);
    assert_eq!(
        api.stats().await["truth"]["issues"].as_u64().unwrap() as usize,
        truth - deleted
    );
    let gone = everything
        .iter()
        .find(|k| !after_delete.contains(k))
        .unwrap();
    let response = api
        .jira(&format!("/rest/api/3/issue/{gone}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    sim.stop().await.unwrap();
}

#[tokio::test]
async fn long_changelogs_are_embedded_partially_and_paged_fully() {
    let sim = start(small()).await;
    let api = Api::new(&sim);
    let issues = api.walk_issues("", 100, true).await;
    let long: Vec<&Value> = issues
        .iter()
        .filter(|i| i["changelog"]["total"].as_u64().unwrap() > 100)
        .collect();
    assert!(!long.is_empty(), "some issues need changelog paging");
    let mut histories = 0;
    for issue in &issues {
        let changelog = &issue["changelog"];
        let embedded = changelog["histories"].as_array().unwrap();
        let total = changelog["total"].as_u64().unwrap() as usize;
        assert_eq!(embedded.len(), total.min(100));
        histories += total;
    }
    assert_eq!(
        histories as u64,
        api.stats().await["truth"]["histories"].as_u64().unwrap()
    );
    for issue in &long {
        let key = issue["key"].as_str().unwrap();
        let mut ids = Vec::new();
        let mut start = 0;
        loop {
            let page = api
                .json(
                    api.jira(&format!("/rest/api/3/issue/{key}/changelog"))
                        .query(&[("startAt", start.to_string()), ("maxResults", "100".into())]),
                )
                .await;
            let values = page["values"].as_array().unwrap();
            ids.extend(values.iter().map(|h| h["id"].as_str().unwrap().to_owned()));
            start += values.len();
            if page["isLast"] == true {
                break;
            }
        }
        assert_eq!(
            ids.len() as u64,
            issue["changelog"]["total"].as_u64().unwrap()
        );
        assert_unique(&ids);
        // The embedded histories are the newest 100, newest first.
        let embedded: Vec<String> = issue["changelog"]["histories"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["id"].as_str().unwrap().to_owned())
            .collect();
        let newest: Vec<String> = ids.iter().rev().take(100).cloned().collect();
        assert_eq!(embedded, newest);
    }

    // The bulk fetch gives the same histories for many issues at once, in small answers
    // continued by `nextPageToken` (an issue may span two answers).
    let wanted: Vec<String> = issues
        .iter()
        .take(40)
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    // A long issue may be named twice (it can be among the first 40): it is served once.
    let wanted: Vec<String> = wanted
        .into_iter()
        .chain(long.iter().map(|i| i["id"].as_str().unwrap().to_owned()))
        .collect();
    let mut bulk: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut token: Option<String> = None;
    let mut answers = 0;
    loop {
        let mut body = json!({"issueIdsOrKeys": wanted, "maxResults": 70});
        if let Some(token) = &token {
            body["nextPageToken"] = Value::from(token.clone());
        }
        let answer = api
            .json(
                api.client
                    .post(format!("{}/rest/api/3/changelog/bulkfetch", api.base))
                    .basic_auth(JIRA_USER, Some(JIRA_TOKEN))
                    .json(&body),
            )
            .await;
        answers += 1;
        let mut in_answer = 0;
        for log in answer["issueChangeLogs"].as_array().unwrap() {
            let histories = log["changeHistories"].as_array().unwrap();
            in_answer += histories.len();
            bulk.entry(log["issueId"].as_str().unwrap().to_owned())
                .or_default()
                .extend(
                    histories
                        .iter()
                        .map(|h| h["id"].as_str().unwrap().to_owned()),
                );
        }
        assert!(in_answer <= 70);
        match answer["nextPageToken"].as_str() {
            Some(next) => token = Some(next.to_owned()),
            None => break,
        }
    }
    assert!(answers > 1);
    for issue in issues
        .iter()
        .filter(|i| wanted.contains(&i["id"].as_str().unwrap().to_owned()))
    {
        let ids = &bulk[issue["id"].as_str().unwrap()];
        assert_eq!(
            ids.len() as u64,
            issue["changelog"]["total"].as_u64().unwrap()
        );
        assert_unique(ids);
    }
    let too_many: Vec<String> = (0..1_001).map(|n| n.to_string()).collect();
    let refused = api
        .client
        .post(format!("{}/rest/api/3/changelog/bulkfetch", api.base))
        .basic_auth(JIRA_USER, Some(JIRA_TOKEN))
        .json(&json!({"issueIdsOrKeys": too_many}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    sim.stop().await.unwrap();
}

#[tokio::test]
async fn bad_jql_removed_search_and_bad_tokens_answer_like_jira() {
    let sim = start(small()).await;
    let api = Api::new(&sim);
    for jql in [
        "project = NOPE",
        "assignee = currentUser()",
        "project = CORE OR project = WEB",
        "updated >= \"soon\"",
    ] {
        let response = api
            .jira("/rest/api/3/search/jql")
            .query(&[("jql", jql)])
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{jql}");
        let body: Value = response.json().await.unwrap();
        assert!(
            body["errorMessages"][0].as_str().unwrap().len() > 10,
            "{body}"
        );
        assert!(body["errors"].is_object());
    }
    let response = api
        .jira("/rest/api/3/search/jql")
        .query(&[("nextPageToken", "garbage")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let response = api
        .jira("/rest/api/3/search")
        .query(&[("jql", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::GONE);
    let body: Value = response.json().await.unwrap();
    assert!(body["errorMessages"][0]
        .as_str()
        .unwrap()
        .contains("/rest/api/3/search/jql"));
    sim.stop().await.unwrap();
}

#[tokio::test]
async fn wrong_or_missing_credentials_are_refused() {
    let sim = start(small()).await;
    let api = Api::new(&sim);
    let url = format!("{}/rest/api/3/status", api.base);
    for request in [
        api.client.get(&url),
        api.client.get(&url).basic_auth(JIRA_USER, Some("wrong")),
        api.client.get(&url).bearer_auth(GITHUB_TOKEN),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body: Value = response.json().await.unwrap();
        assert!(body["errorMessages"].is_array());
    }
    let url = format!("{}/repos/sim-org/repo-0", api.base);
    for (request, message) in [
        (api.client.get(&url), "Requires authentication"),
        (api.client.get(&url).bearer_auth("wrong"), "Bad credentials"),
        (
            api.client.get(&url).header("Authorization", "token wrong"),
            "Bad credentials",
        ),
    ] {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["message"], message);
    }
    let ok = api
        .client
        .get(&url)
        .header("Authorization", format!("token {GITHUB_TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), StatusCode::OK);
    sim.stop().await.unwrap();
}

#[tokio::test]
async fn rate_limits_answer_with_the_real_headers() {
    let sim = start(SimulatorConfig {
        jira_rate: Some(3),
        github_budget: 4,
        github_window: Duration::from_secs(600),
        ..small()
    })
    .await;
    let api = Api::new(&sim);
    let mut limited = None;
    for _ in 0..20 {
        let response = api.jira("/rest/api/3/status").send().await.unwrap();
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(response);
            break;
        }
    }
    let limited = limited.expect("more than 3 requests in a second are limited");
    assert_eq!(limited.headers()["retry-after"], "1");

    let mut remaining = Vec::new();
    let mut last = None;
    for _ in 0..5 {
        let response = api
            .github("/repos/sim-org/repo-0/pulls/1")
            .send()
            .await
            .unwrap();
        remaining.push(
            response.headers()["x-ratelimit-remaining"]
                .to_str()
                .unwrap()
                .to_owned(),
        );
        last = Some(response);
    }
    assert_eq!(remaining, ["3", "2", "1", "0", "0"]);
    let exhausted = last.unwrap();
    assert_eq!(exhausted.status(), StatusCode::FORBIDDEN);
    let reset: i64 = exhausted.headers()["x-ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!(reset > now && reset <= now + 601, "reset {reset} now {now}");
    sim.stop().await.unwrap();

    let sim = start(SimulatorConfig {
        github_max_concurrency: 0,
        github_secondary_retry_after_secs: 7,
        ..small()
    })
    .await;
    let api = Api::new(&sim);
    let response = api.github("/repos/sim-org/repo-0").send().await.unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "7");
    sim.stop().await.unwrap();
}

#[tokio::test]
async fn unchanged_lists_answer_304_without_spending_budget() {
    let sim = start(small()).await;
    let api = Api::new(&sim);
    let path = "/repos/sim-org/repo-1/pulls?state=all&sort=updated&direction=desc&per_page=100";
    let first = api.github(path).send().await.unwrap();
    let etag = first.headers()["etag"].clone();
    let remaining = first.headers()["x-ratelimit-remaining"]
        .to_str()
        .unwrap()
        .to_owned();
    let again = api
        .github(path)
        .header("If-None-Match", etag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(
        again.headers()["x-ratelimit-remaining"].to_str().unwrap(),
        remaining
    );
    assert!(again.bytes().await.unwrap().is_empty());
    // After activity the list changes: a full answer with a new ETag.
    api.client
        .post(format!("{}/_sim/mutate", api.base))
        .json(&json!({"fraction": 0.5}))
        .send()
        .await
        .unwrap();
    let changed = api
        .github(path)
        .header("If-None-Match", etag.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    assert_ne!(changed.headers()["etag"], etag);
    let stats = api.stats().await;
    assert_eq!(stats["responses"]["304"], 1);
    sim.stop().await.unwrap();
}

#[tokio::test]
async fn github_listings_page_with_link_headers_and_match_the_truth() {
    let sim = start(small()).await;
    let api = Api::new(&sim);
    let truth = api.stats().await["truth"].clone();
    let (mut prs, mut reviews, mut commits, mut comments) = (0, 0, 0, 0);
    for repo in 0..3 {
        let mut url = Some(format!(
            "{}/repos/sim-org/repo-{repo}/pulls?state=all&sort=updated&direction=desc&per_page=45",
            api.base
        ));
        let mut seen = HashSet::new();
        let mut last_updated: Option<String> = None;
        while let Some(next) = url {
            let response = api
                .client
                .get(&next)
                .bearer_auth(GITHUB_TOKEN)
                .send()
                .await
                .unwrap();
            let link = response
                .headers()
                .get("link")
                .map(|l| l.to_str().unwrap().to_owned());
            let page: Vec<Value> = response.json().await.unwrap();
            for pull in &page {
                assert!(seen.insert(pull["number"].as_u64().unwrap()));
                let updated = pull["updated_at"].as_str().unwrap().to_owned();
                assert!(
                    last_updated.as_ref().is_none_or(|last| *last >= updated),
                    "sorted by updated, newest first"
                );
                last_updated = Some(updated);
            }
            url = link.and_then(|l| {
                l.split(", ")
                    .find(|part| part.ends_with("rel=\"next\""))
                    .map(|p| p[1..p.find('>').unwrap()].to_owned())
            });
        }
        prs += seen.len();
        for number in &seen {
            let reviews_page = api
                .json(api.github(&format!(
                    "/repos/sim-org/repo-{repo}/pulls/{number}/reviews?per_page=100"
                )))
                .await;
            reviews += reviews_page.as_array().unwrap().len();
            let commits_page = api
                .json(api.github(&format!(
                    "/repos/sim-org/repo-{repo}/pulls/{number}/commits?per_page=100"
                )))
                .await;
            commits += commits_page.as_array().unwrap().len();
        }
        for path in ["pulls/comments", "issues/comments"] {
            let mut page = 1;
            loop {
                let batch = api
                    .json(api.github(&format!(
                        "/repos/sim-org/repo-{repo}/{path}?per_page=100&page={page}"
                    )))
                    .await;
                let batch = batch.as_array().unwrap().len();
                comments += batch;
                if batch < 100 {
                    break;
                }
                page += 1;
            }
        }
    }
    assert_eq!(prs as u64, truth["prs"].as_u64().unwrap());
    assert_eq!(reviews as u64, truth["reviews"].as_u64().unwrap());
    assert_eq!(commits as u64, truth["commits"].as_u64().unwrap());
    assert_eq!(comments as u64, truth["comments"].as_u64().unwrap());
    // The default listing is open pull requests only, as on GitHub.
    let open = api
        .json(api.github("/repos/sim-org/repo-0/pulls?per_page=100"))
        .await;
    assert!(open
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["state"] == "open"));
    sim.stop().await.unwrap();
}

#[tokio::test]
async fn same_seed_serves_the_same_bytes() {
    let a = start(small()).await;
    let b = start(small()).await;
    let c = start(SimulatorConfig { seed: 8, ..small() }).await;
    let paths = [
        "/rest/api/3/search/jql?jql=ORDER%20BY%20updated%20ASC&maxResults=100&expand=changelog",
        "/rest/api/3/issue/WEB-40/changelog",
        "/rest/api/3/project/search",
        "/rest/api/3/field",
        "/repos/sim-org/repo-2/pulls?state=all&per_page=100",
        "/repos/sim-org/repo-2/pulls/5/reviews",
        "/repos/sim-org/repo-2/issues/comments?per_page=100",
    ];
    for path in paths {
        let mut bodies = Vec::new();
        for sim in [&a, &b, &c] {
            let api = Api::new(sim);
            let request = if path.starts_with("/repos") {
                api.github(path)
            } else {
                api.jira(path)
            };
            let text = request.send().await.unwrap().text().await.unwrap();
            bodies.push(text.replace(&sim.base_url(), "BASE"));
        }
        assert_eq!(bodies[0], bodies[1], "{path}");
        if path.contains("search/jql") || path.contains("pulls?") {
            assert_ne!(bodies[0], bodies[2], "another seed, other data: {path}");
        }
    }
    for sim in [a, b, c] {
        sim.stop().await.unwrap();
    }
}

#[tokio::test]
async fn faults_cover_every_kind_and_are_reproducible() {
    let config = SimulatorConfig {
        fault_rate: 1.0,
        slow_response: Duration::from_millis(5),
        ..small()
    };
    let mut runs = Vec::new();
    for _ in 0..2 {
        let sim = start(config.clone()).await;
        let api = Api::new(&sim);
        let mut outcomes = Vec::new();
        for _ in 0..60 {
            let outcome = match api.jira("/rest/api/3/project/search").send().await {
                Err(_) => "dropped".to_owned(),
                Ok(response) => {
                    let status = response.status().as_u16();
                    match response.bytes().await {
                        Err(_) => "dropped".to_owned(),
                        Ok(body) if status == 200 => {
                            if serde_json::from_slice::<Value>(&body).is_ok() {
                                "slow-ok".to_owned()
                            } else {
                                "truncated".to_owned()
                            }
                        }
                        Ok(_) => status.to_string(),
                    }
                }
            };
            outcomes.push(outcome);
        }
        let kinds: BTreeSet<&str> = outcomes.iter().map(String::as_str).collect();
        assert_eq!(
            kinds,
            BTreeSet::from(["500", "502", "503", "dropped", "slow-ok", "truncated"]),
            "{outcomes:?}"
        );
        runs.push(outcomes);
        sim.stop().await.unwrap();
    }
    assert_eq!(
        runs[0], runs[1],
        "same seed, same request order, same faults"
    );
}

#[tokio::test]
async fn dev_status_links_point_at_existing_pull_requests() {
    let sim = start(small()).await;
    let api = Api::new(&sim);
    let issues = api.walk_issues("", 100, false).await;
    let mut linked = 0;
    for issue in issues.iter().take(120) {
        let id = issue["id"].as_str().unwrap();
        let detail = api
            .json(api.jira("/rest/dev-status/latest/issue/detail").query(&[
                ("issueId", id),
                ("applicationType", "GitHub"),
                ("dataType", "pullrequest"),
            ]))
            .await;
        for pull in detail["detail"][0]["pullRequests"].as_array().unwrap() {
            let url = pull["url"].as_str().unwrap();
            let path = url
                .trim_start_matches("https://github.com/")
                .replace("/pull/", "/pulls/");
            let response = api.github(&format!("/repos/{path}")).send().await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{url}");
            linked += 1;
        }
    }
    assert!(linked > 10, "{linked} links");
    sim.stop().await.unwrap();
}

// ---- shapes compared with recorded real responses ----

/// JSON type names seen at each path across a set of real records.
#[derive(Default)]
struct Shape {
    types: BTreeMap<String, BTreeSet<&'static str>>,
    presence: BTreeMap<String, usize>,
    records: usize,
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn walk(value: &Value, path: &str, visit: &mut dyn FnMut(&str, &Value)) {
    visit(path, value);
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                walk(child, &format!("{path}.{key}"), visit);
            }
        }
        Value::Array(items) => {
            for item in items {
                walk(item, &format!("{path}[]"), visit);
            }
        }
        _ => {}
    }
}

impl Shape {
    fn learn(records: &[Value]) -> Self {
        let mut shape = Shape {
            records: records.len(),
            ..Shape::default()
        };
        for record in records {
            let mut seen = BTreeSet::new();
            walk(record, "", &mut |path, value| {
                shape
                    .types
                    .entry(path.to_owned())
                    .or_default()
                    .insert(type_name(value));
                seen.insert(path.to_owned());
            });
            for path in seen {
                *shape.presence.entry(path).or_default() += 1;
            }
        }
        shape
    }

    /// Every key every real record has is present with a type real records use (a
    /// null-only real key accepts any type), ignoring paths under `skip`.
    fn check(&self, what: &str, value: &Value, skip: &[&str]) {
        let mut simulated = BTreeMap::new();
        walk(value, "", &mut |path, value| {
            simulated
                .entry(path.to_owned())
                .or_insert_with(BTreeSet::new)
                .insert(type_name(value));
        });
        // A skip entry names a path and everything below it; one ending in `_` is a prefix.
        let skipped = |path: &str| {
            skip.iter().any(|s| {
                path == *s
                    || path.starts_with(&format!("{s}."))
                    || path.starts_with(&format!("{s}["))
                    || (s.ends_with('_') && path.starts_with(s))
            })
        };
        for (path, count) in &self.presence {
            let parent_always = path.rsplit_once('.').is_none_or(|(parent, _)| {
                parent.is_empty() || self.presence.get(parent) == Some(&self.records)
            });
            if *count == self.records && parent_always && !path.contains("[]") && !skipped(path) {
                assert!(simulated.contains_key(path), "{what}: missing key {path}");
            }
        }
        for (path, types) in &simulated {
            if skipped(path) {
                continue;
            }
            let Some(real) = self.types.get(path) else {
                continue;
            };
            if real.len() == 1 && real.contains("null") {
                continue;
            }
            for kind in types {
                assert!(
                    *kind == "null" || real.contains(kind),
                    "{what}: {path} is {kind}, real responses have {real:?}"
                );
            }
        }
    }
}

fn fixture(path: &str) -> Vec<Value> {
    let file = format!(
        "{}/../shared/fixtures/real/{path}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("{file}: {e} (shared/ must sit beside the repository)"));
    let records: Value = serde_json::from_str(&text).unwrap();
    records["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["body"].clone())
        .collect()
}

#[tokio::test]
async fn jira_objects_have_the_real_keys_and_types() {
    let sim = start(small()).await;
    let api = Api::new(&sim);
    let real_issues = fixture("jira/board_issues_with_changelog.json");
    // Custom fields differ per site; board-API-only fields are not in /search/jql; v3 sends
    // rich text (description, comment bodies) as documents where the v2 recording has strings.
    let issue_skip = [
        ".fields.customfield_",
        ".fields.epic",
        ".fields.sprint",
        ".fields.closedSprints",
        ".fields.flagged",
        ".fields.comment.comments",
        ".changelog.histories",
    ];
    let issue_shape = Shape::learn(&real_issues);
    let page = api
        .json(
            api.jira("/rest/api/3/search/jql")
                .query(&[("maxResults", "100"), ("expand", "changelog")]),
        )
        .await;
    for issue in page["issues"].as_array().unwrap() {
        issue_shape.check("issue", issue, &issue_skip);
    }
    let history_shape = Shape::learn(&fixture("jira/issue_changelog_pages.json"));
    for issue in page["issues"].as_array().unwrap() {
        for history in issue["changelog"]["histories"].as_array().unwrap() {
            history_shape.check("history", history, &[".author.emailAddress"]);
        }
    }
    let statuses = api.json(api.jira("/rest/api/3/status")).await;
    let status_shape = Shape::learn(&fixture("jira/statuses.json"));
    for status in statuses.as_array().unwrap() {
        status_shape.check("status", status, &[]);
    }
    let names: Vec<&str> = statuses
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert!(
        names.iter().any(|n| !n.is_ascii()),
        "non-English status names"
    );
    assert!(
        statuses
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "已完成" && s["statusCategory"]["key"] == "new"),
        "a name that disagrees with its category"
    );
    let projects = api.json(api.jira("/rest/api/3/project/search")).await;
    let project_shape = Shape::learn(&fixture("jira/projects.json"));
    for project in projects["values"].as_array().unwrap() {
        project_shape.check("project", project, &[]);
    }
    let types_shape = Shape::learn(&fixture("jira/issue_types.json"));
    for issue_type in api
        .json(api.jira("/rest/api/3/issuetype"))
        .await
        .as_array()
        .unwrap()
    {
        types_shape.check("issue type", issue_type, &[]);
    }
    let fields = api.json(api.jira("/rest/api/3/field")).await;
    let field_shape = Shape::learn(&fixture("jira/fields.json"));
    let custom: Vec<&Value> = fields
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["custom"] == true)
        .collect();
    assert!(custom.len() >= 30);
    for field in &custom {
        field_shape.check("field", field, &[".schema.items"]);
    }
    let kinds: BTreeSet<&str> = custom
        .iter()
        .map(|f| f["schema"]["type"].as_str().unwrap())
        .collect();
    for kind in [
        "string", "number", "option", "array", "user", "date", "datetime", "any",
    ] {
        assert!(kinds.contains(kind), "custom field type {kind}");
    }
    // Story points arrive both as numbers and as strings, as on real sites.
    let mut point_types = BTreeSet::new();
    let mut token: Option<String> = None;
    loop {
        let mut query = vec![
            ("fields", "customfield_10010".to_owned()),
            ("maxResults", "100".to_owned()),
        ];
        if let Some(t) = &token {
            query.push(("nextPageToken", t.clone()));
        }
        let page = api
            .json(api.jira("/rest/api/3/search/jql").query(&query))
            .await;
        for issue in page["issues"].as_array().unwrap() {
            assert_eq!(
                issue["fields"].as_object().unwrap().len(),
                1,
                "fields= limits the fields"
            );
            point_types.insert(type_name(&issue["fields"]["customfield_10010"]));
        }
        if page["isLast"] == true {
            break;
        }
        token = page["nextPageToken"].as_str().map(str::to_owned);
    }
    assert_eq!(point_types, BTreeSet::from(["null", "number", "string"]));
    sim.stop().await.unwrap();
}

#[tokio::test]
async fn github_objects_have_the_real_keys_and_types() {
    let sim = start(small()).await;
    let api = Api::new(&sim);
    let pulls = api
        .json(api.github("/repos/sim-org/repo-0/pulls?state=all&per_page=100"))
        .await;
    let pull_shape = Shape::learn(&fixture("github/pulls.json"));
    for pull in pulls.as_array().unwrap() {
        pull_shape.check("pull", pull, &[]);
    }
    let review_shape = Shape::learn(&fixture("github/pull_reviews.json"));
    let commit_shape = Shape::learn(&fixture("github/pull_commits.json"));
    for pull in pulls.as_array().unwrap().iter().take(40) {
        let number = pull["number"].as_u64().unwrap();
        for review in api
            .json(api.github(&format!("/repos/sim-org/repo-0/pulls/{number}/reviews")))
            .await
            .as_array()
            .unwrap()
        {
            review_shape.check("review", review, &[]);
        }
        for commit in api
            .json(api.github(&format!("/repos/sim-org/repo-0/pulls/{number}/commits")))
            .await
            .as_array()
            .unwrap()
        {
            commit_shape.check("commit", commit, &[]);
        }
    }
    let review_comment_shape = Shape::learn(&fixture("github/pull_review_comments.json"));
    for comment in api
        .json(api.github("/repos/sim-org/repo-0/pulls/comments?per_page=100"))
        .await
        .as_array()
        .unwrap()
    {
        review_comment_shape.check("review comment", comment, &[]);
    }
    let issue_comment_shape = Shape::learn(&fixture("github/issue_comments.json"));
    for comment in api
        .json(api.github("/repos/sim-org/repo-0/issues/comments?per_page=100"))
        .await
        .as_array()
        .unwrap()
    {
        issue_comment_shape.check("issue comment", comment, &[]);
    }
    // The single-PR answer adds the size fields a list leaves out.
    let detail = api.json(api.github("/repos/sim-org/repo-0/pulls/1")).await;
    for key in [
        "additions",
        "deletions",
        "changed_files",
        "commits",
        "merged",
        "comments",
        "review_comments",
    ] {
        assert!(detail.get(key).is_some(), "{key}");
    }
    sim.stop().await.unwrap();
}
