//! GitHub over GraphQL: every query the connector builds is valid against GitHub's published
//! schema (and the simulator's part of it, whose every type and field GitHub has too); the
//! simulator holds queries to GitHub's limits and charges its points; and a sync through
//! GraphQL fills the tables exactly as a sync through REST does, in far fewer requests.

use std::net::SocketAddr;
use std::time::Duration;

use apollo_compiler::schema::ExtendedType;
use apollo_compiler::validation::Valid;
use apollo_compiler::{ExecutableDocument, Schema};
use serde_json::{json, Value};

use crate::common::source::{
    cli, connect_github, control, github_tables, requests, responses, stats, strings, tenant,
};
use crate::common::{stderr, ScratchDb};
use pulse_etl::simulator::github::graphql;
use pulse_etl::simulator::{RunningSimulator, SimulatorConfig};
use pulse_etl::sources::github::graphql::{
    continuation_query, pull_query, pulls_query, Continuation, Nested,
    PULLS_PER_FIRST_INCREMENTAL_PAGE, PULLS_PER_PAGE,
};

/// GitHub's published schema (octokit/graphql-schema). It defines two fields of
/// `EnterpriseOwnerInfo` twice, which a strict validation refuses: taken as GitHub serves it.
fn github_schema() -> Valid<Schema> {
    let path = format!(
        "{}/../shared/fixtures/api/github-schema.graphql",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let schema = match Schema::parse(text, "github-schema.graphql") {
        Ok(schema) => schema,
        Err(with_errors) => {
            let messages = with_errors.errors.to_string();
            assert!(
                with_errors.errors.iter().all(|e| e
                    .error
                    .to_string()
                    .starts_with("duplicate definitions for the `repositoryDeployKeySetting")),
                "{messages}"
            );
            with_errors.partial
        }
    };
    Valid::assume_valid(schema)
}

/// Every query text the connector sends: the page query and a continuation of each list.
fn connector_queries() -> Vec<String> {
    let all = [
        Nested::Commits,
        Nested::Reviews,
        Nested::Comments,
        Nested::ReviewThreads,
        Nested::ThreadComments,
    ];
    let batch: Vec<Continuation> = all
        .iter()
        .map(|nested| Continuation {
            pull: "1".into(),
            node: "PR_x".into(),
            nested: *nested,
            after: Some("c".into()),
        })
        .collect();
    let mut queries = vec![
        pulls_query(PULLS_PER_PAGE),
        pulls_query(PULLS_PER_FIRST_INCREMENTAL_PAGE),
        pull_query(),
    ];
    queries.extend(
        all.iter()
            .enumerate()
            .map(|(i, _)| continuation_query(&batch[i..=i]).0),
    );
    queries.push(continuation_query(&batch).0);
    queries.extend(pulse_etl::sources::github::deployments::all_deployment_queries());
    queries
}

#[test]
fn every_connector_query_is_valid_against_githubs_schema_and_the_simulators() {
    let github = github_schema();
    let simulated = graphql::schema().unwrap();
    for query in connector_queries() {
        for (name, schema) in [("GitHub's", &github), ("the simulator's", &simulated)] {
            if let Err(invalid) =
                ExecutableDocument::parse_and_validate(schema, &query, "q.graphql")
            {
                panic!("invalid against {name} schema: {}\n{query}", invalid.errors);
            }
        }
    }
    // The check can fail: a misspelt field is refused.
    let wrong = pulls_query(PULLS_PER_PAGE).replace("isDraft", "draft");
    assert!(ExecutableDocument::parse_and_validate(&github, wrong, "q.graphql").is_err());
}

/// A field (or enum value, or input field): its type and its arguments with their types.
struct Member {
    ty: String,
    arguments: Vec<(String, String, bool)>,
}

/// A type's members by name; an argument's flag says whether it may be left out.
fn members(ty: &ExtendedType) -> Vec<(String, Member)> {
    let field = |name: &str, def: &apollo_compiler::schema::FieldDefinition| {
        let arguments = def
            .arguments
            .iter()
            .map(|a| {
                let optional = !a.ty.is_non_null() || a.default_value.is_some();
                (a.name.to_string(), a.ty.to_string(), optional)
            })
            .collect();
        let member = Member {
            ty: def.ty.to_string(),
            arguments,
        };
        (name.to_owned(), member)
    };
    let plain = |name: String, ty: String| {
        let member = Member {
            ty,
            arguments: Vec::new(),
        };
        (name, member)
    };
    match ty {
        ExtendedType::Object(object) => object.fields.iter().map(|(n, d)| field(n, d)).collect(),
        ExtendedType::Interface(interface) => {
            interface.fields.iter().map(|(n, d)| field(n, d)).collect()
        }
        ExtendedType::Enum(values) => values
            .values
            .keys()
            .map(|v| plain(v.to_string(), String::new()))
            .collect(),
        ExtendedType::InputObject(input) => input
            .fields
            .iter()
            .map(|(n, d)| plain(n.to_string(), d.ty.to_string()))
            .collect(),
        _ => Vec::new(),
    }
}

#[test]
fn the_simulators_schema_is_a_part_of_githubs() {
    let github = github_schema();
    let simulated = graphql::schema().unwrap();
    let mut checked = 0;
    for (name, ty) in &simulated.types {
        if ty.is_built_in() {
            continue;
        }
        let theirs = github
            .types
            .get(name)
            .unwrap_or_else(|| panic!("GitHub has no type {name}"));
        assert_eq!(
            std::mem::discriminant(ty),
            std::mem::discriminant(theirs),
            "{name} is another kind of type"
        );
        let their_members = members(theirs);
        for (member, ours) in members(ty) {
            let (_, their) = their_members
                .iter()
                .find(|(m, _)| *m == member)
                .unwrap_or_else(|| panic!("GitHub's {name} has no {member}"));
            assert_eq!(ours.ty, their.ty, "{name}.{member}");
            for argument in &ours.arguments {
                assert!(
                    their.arguments.contains(argument),
                    "{name}.{member}({argument:?})"
                );
            }
            for (argument, _, optional) in &their.arguments {
                let served = ours.arguments.iter().any(|(a, _, _)| a == argument);
                assert!(served || *optional, "{name}.{member} needs {argument}");
            }
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked} members checked");
}

async fn start(config: SimulatorConfig) -> RunningSimulator {
    RunningSimulator::start(config, SocketAddr::from(([127, 0, 0, 1], 0)))
        .await
        .unwrap()
}

async fn post(
    sim: &RunningSimulator,
    token: &str,
    query: &str,
    variables: Value,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let response = reqwest::Client::new()
        .post(format!("{}/graphql", sim.base_url()))
        .bearer_auth(token)
        .json(&json!({"query": query, "variables": variables}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, response.json().await.unwrap(), headers)
}

#[tokio::test]
async fn the_simulator_answers_charges_and_limits_as_github_does() {
    let sim = start(SimulatorConfig {
        github_prs: 60,
        github_repos: 2,
        github_budget: 12,
        ..SimulatorConfig::default()
    })
    .await;
    let page = pulls_query(PULLS_PER_PAGE);
    let variables = json!({"owner": "sim-org", "name": "repo-0", "after": null});
    let (status, body, headers) = post(&sim, "sim-gh-token", &page, variables.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("errors").is_none(), "{body}");
    let connection = &body["data"]["repository"]["pullRequests"];
    assert_eq!(connection["nodes"].as_array().unwrap().len(), 30);
    assert_eq!(connection["pageInfo"]["hasNextPage"], false);
    let updated: Vec<&str> = connection["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["updatedAt"].as_str().unwrap())
        .collect();
    assert!(
        updated.windows(2).all(|w| w[0] >= w[1]),
        "newest updated first"
    );
    assert_eq!(body["data"]["rateLimit"]["cost"], 5);
    assert_eq!(body["data"]["rateLimit"]["remaining"], 7);
    assert_eq!(headers["x-ratelimit-resource"], "graphql");
    assert_eq!(headers["x-ratelimit-remaining"], "7");
    let pull = &connection["nodes"][0];
    assert!(pull["fullDatabaseId"].is_string());
    assert!(["OPEN", "CLOSED", "MERGED"].contains(&pull["state"].as_str().unwrap()));

    // A continuation by node id and cursor reads on where the page stopped.
    let first_page = json!({"owner": "sim-org", "name": "repo-1"});
    let query =
        "query($owner: String!, $name: String!) { repository(owner: $owner, name: $name) { \
                 pullRequests(first: 2, orderBy: {field: CREATED_AT, direction: ASC}) { totalCount \
                 pageInfo { hasNextPage endCursor } nodes { number } } } }";
    let (_, body, _) = post(&sim, "sim-gh-token", query, first_page).await;
    let connection = &body["data"]["repository"]["pullRequests"];
    assert_eq!(connection["totalCount"], 30);
    assert_eq!(connection["pageInfo"]["hasNextPage"], true);

    // GitHub's limits: pagination bounds, node limit, unknown fields.
    for (query, expected) in [
        ("{ repository(owner: \"sim-org\", name: \"repo-0\") { pullRequests { totalCount } } }", "You must provide a `first` or `last` value"),
        ("{ repository(owner: \"sim-org\", name: \"repo-0\") { pullRequests(first: 101) { totalCount } } }", "exceeds the `first` limit of 100 records"),
        ("{ repository(owner: \"sim-org\", name: \"repo-0\") { pullRequests(first: 100) { nodes { commits(first: 100) { nodes { commit { oid } } } reviews(first: 100) { nodes { id } } comments(first: 100) { nodes { id } } reviewThreads(first: 100) { nodes { comments(first: 100) { nodes { id } } } } } } } }", "exceeds the maximum limit of 500000"),
        ("{ repository(owner: \"sim-org\", name: \"repo-0\") { stars } }", "stars"),
    ] {
        let (status, body, _) = post(&sim, "sim-gh-token", query, json!({})).await;
        assert_eq!(status, 200);
        assert!(body["errors"].to_string().contains(expected), "{query}: {body}");
    }

    // 12 points: the page (5), the small query (1), another page (5); a third page would
    // take the budget past 12.
    let (_, body, _) = post(&sim, "sim-gh-token", &page, variables.clone()).await;
    assert!(body.get("errors").is_none(), "{body}");
    let (status, body, headers) = post(&sim, "sim-gh-token", &page, variables).await;
    assert_eq!(status, 200);
    assert_eq!(body["errors"][0]["type"], "RATE_LIMITED", "{body}");
    assert_eq!(headers["x-ratelimit-remaining"], "1");
    let counted = stats(&sim).await;
    assert_eq!(counted["graphql_points"], 11, "{counted}");
    sim.stop().await.unwrap();
}

async fn github_db(sim: &RunningSimulator, api: &str) -> (ScratchDb, String) {
    let db = ScratchDb::migrated().await;
    let tenant = tenant(&db).await;
    connect_github(&db, sim, &tenant, &["sim-gh-token"], &["--api", api]).await;
    (db, tenant)
}

async fn sync(db: &ScratchDb, tenant: &str) {
    let output = cli(db, strings(&["run-job", "github", "--tenant", tenant])).await;
    assert!(output.status.success(), "{}", stderr(&output));
}

fn graphql_requests(stats: &Value) -> u64 {
    stats["requests"]["POST /graphql"].as_u64().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphql_and_rest_fill_the_same_tables_and_graphql_asks_far_less() {
    let sim = start(SimulatorConfig {
        seed: 31,
        jira_issues: 100,
        github_repos: 3,
        github_prs: 600,
        slow_response: Duration::from_millis(20),
        ..SimulatorConfig::default()
    })
    .await;
    let (rest, rest_tenant) = github_db(&sim, "rest").await;
    let (over_graphql, graphql_tenant) = github_db(&sim, "graphql").await;

    let before = stats(&sim).await;
    sync(&rest, &rest_tenant).await;
    let after_rest = stats(&sim).await;
    sync(&over_graphql, &graphql_tenant).await;
    let after_graphql = stats(&sim).await;
    assert_eq!(
        github_tables(&rest).await,
        github_tables(&over_graphql).await
    );
    assert_eq!(
        crate::common::source::count(&over_graphql, "SELECT count(*) FROM prs").await,
        after_graphql["truth"]["prs"].as_i64().unwrap()
    );
    // Some pull requests had more review threads than a page nests: continued.
    let continued = crate::common::source::count(
        &over_graphql,
        "SELECT count(*) FROM raw_extraction_data WHERE type = 'github_graphql_continuation'",
    )
    .await;
    assert!(continued > 0, "the continuation path ran");

    let rest_requests = requests(&after_rest) - requests(&before);
    let graphql_total = requests(&after_graphql) - requests(&after_rest);
    let graphql_queries = graphql_requests(&after_graphql) - graphql_requests(&after_rest);
    assert!(graphql_queries > 0);
    // 600 pull requests: REST reads each one's detail, reviews and commits; GraphQL a
    // hundred at a time (plus the three repositories, which both read over REST).
    assert!(rest_requests >= 3 * 600, "{rest_requests}");
    assert!(
        graphql_total * 20 <= 600,
        "{graphql_total} requests for 600 pull requests"
    );

    // After 1 % of changes both incremental syncs end where they agree.
    control(&sim, "mutate", 0.01).await;
    sync(&rest, &rest_tenant).await;
    let before_incremental = stats(&sim).await;
    sync(&over_graphql, &graphql_tenant).await;
    let after_incremental = stats(&sim).await;
    assert_eq!(
        github_tables(&rest).await,
        github_tables(&over_graphql).await
    );
    let incremental = requests(&after_incremental)
        - requests(&before_incremental)
        - (responses(&after_incremental, "304") - responses(&before_incremental, "304"));
    // Three repositories (REST), a page per repository, and the continuations of a few
    // changed pull requests.
    assert!(
        incremental <= 12,
        "{incremental} requests for an incremental sync"
    );
    sim.stop().await.unwrap();
}
