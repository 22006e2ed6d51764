//! The GraphQL queries a GitHub sync sends: a repository's pull requests a hundred at a time,
//! newest-updated first, with their reviews, commits, issue comments and review threads
//! nested in the same query; then batches of continuations, each list with its own cursor:
//! the review threads' comments, and whatever nested list did not fit. GitHub charges a
//! query by the requests it stands for (every connection once per node of the connections
//! around it, ÷ 100), so no list is nested two deep: comments nested under a hundred pull
//! requests' threads would cost a request per pull request and thread slot, where a thread
//! read by its id costs one request, a hundred to a one-point batch.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// Pull requests per page of a full sync.
pub const PULLS_PER_PAGE: u64 = 100;
/// Pull requests on the first page of an incremental sync, where few changed: the most a
/// one-point page holds (later pages are full ones).
pub const PULLS_PER_FIRST_INCREMENTAL_PAGE: u64 = 20;
/// Entries of every nested list per page (GitHub's largest `first`).
const PER_LIST: u64 = 100;
/// Lists one continuation batch reads: a request each, a hundred to the point.
const BATCH: usize = 100;

/// A nested list continued by its own cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Nested {
    Commits,
    Reviews,
    Comments,
    ReviewThreads,
    /// One review thread's comments (read by the thread's id, from the start).
    ThreadComments,
}

impl Nested {
    /// The connection field, on [`Nested::owner_type`].
    pub fn field(self) -> &'static str {
        match self {
            Nested::Commits => "commits",
            Nested::Reviews => "reviews",
            Nested::Comments | Nested::ThreadComments => "comments",
            Nested::ReviewThreads => "reviewThreads",
        }
    }

    fn owner_type(self) -> &'static str {
        match self {
            Nested::ThreadComments => "PullRequestReviewThread",
            _ => "PullRequest",
        }
    }

    fn fragment(self) -> &'static str {
        match self {
            Nested::Commits => "CommitPage",
            Nested::Reviews => "ReviewPage",
            Nested::Comments => "IssueCommentPage",
            Nested::ReviewThreads => "ThreadPage",
            Nested::ThreadComments => "ReviewCommentPage",
        }
    }

    /// The pull request's lists, as the page query nests them.
    const OF_PULL: [Nested; 4] = [
        Nested::Commits,
        Nested::Reviews,
        Nested::Comments,
        Nested::ReviewThreads,
    ];
}

/// Named fragments and the fragments each uses.
const FRAGMENTS: &[(&str, &str, &[&str])] = &[
    (
        "ActorFields",
        "fragment ActorFields on Actor { __typename login ... on User { databaseId } ... on Bot { databaseId } }",
        &[],
    ),
    (
        "CommitPage",
        "fragment CommitPage on PullRequestCommitConnection { totalCount pageInfo { hasNextPage endCursor } \
         nodes { commit { oid message authoredDate committedDate \
         author { name email user { login } } committer { name email user { login } } } } }",
        &[],
    ),
    (
        "ReviewPage",
        "fragment ReviewPage on PullRequestReviewConnection { pageInfo { hasNextPage endCursor } \
         nodes { fullDatabaseId state body submittedAt commit { oid } author { ...ActorFields } } }",
        &["ActorFields"],
    ),
    (
        "IssueCommentPage",
        "fragment IssueCommentPage on IssueCommentConnection { totalCount pageInfo { hasNextPage endCursor } \
         nodes { fullDatabaseId body createdAt updatedAt author { ...ActorFields } } }",
        &["ActorFields"],
    ),
    (
        "ReviewCommentPage",
        "fragment ReviewCommentPage on PullRequestReviewCommentConnection { pageInfo { hasNextPage endCursor } \
         nodes { fullDatabaseId body path line originalLine replyTo { fullDatabaseId } createdAt updatedAt \
         author { ...ActorFields } } }",
        &["ActorFields"],
    ),
    (
        "ThreadPage",
        "fragment ThreadPage on PullRequestReviewThreadConnection { pageInfo { hasNextPage endCursor } nodes { id } }",
        &[],
    ),
];

/// `operation` followed by the fragments it names, with theirs (GraphQL refuses unused ones).
fn document(operation: &str, used: &[&str]) -> String {
    let mut needed: Vec<&str> = Vec::new();
    let mut pending: Vec<&str> = used.to_vec();
    while let Some(name) = pending.pop() {
        if needed.contains(&name) {
            continue;
        }
        needed.push(name);
        if let Some((_, _, uses)) = FRAGMENTS.iter().find(|(n, _, _)| *n == name) {
            pending.extend(uses.iter());
        }
    }
    let mut text = operation.to_owned();
    for (name, fragment, _) in FRAGMENTS {
        if needed.contains(name) {
            text.push('\n');
            text.push_str(fragment);
        }
    }
    text
}

/// Points GitHub charges for a query standing for `requests` requests.
pub fn points(requests: u64) -> u64 {
    ((requests as f64 / 100.0).round() as u64).max(1)
}

/// What is read of each pull request, with the first page of every nested list.
fn pull_selection() -> String {
    format!(
        "id fullDatabaseId number title body state isDraft createdAt updatedAt closedAt mergedAt
        additions deletions changedFiles baseRefName headRefName baseRefOid headRefOid
        repository {{ nameWithOwner }}
        author {{ ...ActorFields }}
        assignees(first: 1) {{ nodes {{ login databaseId }} }}
        commits(first: {PER_LIST}) {{ ...CommitPage }}
        reviews(first: {PER_LIST}) {{ ...ReviewPage }}
        comments(first: {PER_LIST}) {{ ...IssueCommentPage }}
        reviewThreads(first: {PER_LIST}) {{ ...ThreadPage }}"
    )
}

/// The fragments [`pull_selection`] uses.
const PULL_FRAGMENTS: [&str; 5] = [
    "ActorFields",
    "CommitPage",
    "ReviewPage",
    "IssueCommentPage",
    "ThreadPage",
];

/// The page query of `first` pull requests: `$owner`, `$name`, `$after`.
pub fn pulls_query(first: u64) -> String {
    let operation = format!(
        "query PullRequestPage($owner: String!, $name: String!, $after: String) {{
  rateLimit {{ cost remaining resetAt }}
  repository(owner: $owner, name: $name) {{
    pullRequests(first: {first}, after: $after, orderBy: {{field: UPDATED_AT, direction: DESC}}) {{
      pageInfo {{ hasNextPage endCursor }}
      nodes {{ {} }}
    }}
  }}
}}",
        pull_selection()
    );
    document(&operation, &PULL_FRAGMENTS)
}

/// The query of one pull request by number: `$owner`, `$name`, `$number`.
pub fn pull_query() -> String {
    let operation = format!(
        "query PullRequest($owner: String!, $name: String!, $number: Int!) {{
  rateLimit {{ cost remaining resetAt }}
  repository(owner: $owner, name: $name) {{
    pullRequest(number: $number) {{ {} }}
  }}
}}",
        pull_selection()
    );
    document(&operation, &PULL_FRAGMENTS)
}

/// Points a page query of `first` pull requests costs: the page, then per pull request its
/// five lists.
pub fn pulls_query_points(first: u64) -> u64 {
    points(1 + first * 5)
}

/// One nested list to read on from `after`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Continuation {
    /// The pull request's database id (the raw row's external id).
    pub pull: String,
    /// The global id of the node whose list it is (the pull request or a review thread).
    pub node: String,
    pub nested: Nested,
    /// Where the previous page ended (None: from the start).
    pub after: Option<String>,
}

/// `(hasNextPage, endCursor)` of a connection.
fn next_page(connection: &Value) -> Option<String> {
    let info = &connection["pageInfo"];
    if info["hasNextPage"].as_bool() != Some(true) {
        return None;
    }
    info["endCursor"].as_str().map(str::to_owned)
}

/// The comment lists of the threads in a review thread connection, from the start.
fn thread_continuations(pull: &str, threads: &Value) -> Vec<Continuation> {
    let nodes = threads["nodes"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    nodes
        .iter()
        .filter_map(|thread| {
            Some(Continuation {
                pull: pull.to_owned(),
                node: thread["id"].as_str()?.to_owned(),
                nested: Nested::ThreadComments,
                after: None,
            })
        })
        .collect()
}

/// What of a pull request node from the page query is left to read.
pub fn continuations_of_pull(node: &Value) -> Vec<Continuation> {
    let (Some(pull), Some(id)) = (database_id(node), node["id"].as_str()) else {
        return Vec::new();
    };
    let mut left: Vec<Continuation> = Nested::OF_PULL
        .iter()
        .filter_map(|nested| {
            Some(Continuation {
                pull: pull.clone(),
                node: id.to_owned(),
                nested: *nested,
                after: Some(next_page(&node[nested.field()])?),
            })
        })
        .collect();
    left.extend(thread_continuations(&pull, &node["reviewThreads"]));
    left
}

/// What is left after a continuation answered `connection`: its own next page and, for
/// review threads, their comment lists.
pub fn continuations_of_answer(done: &Continuation, connection: &Value) -> Vec<Continuation> {
    let mut left: Vec<Continuation> = next_page(connection)
        .map(|after| Continuation {
            after: Some(after),
            ..done.clone()
        })
        .into_iter()
        .collect();
    if done.nested == Nested::ReviewThreads {
        left.extend(thread_continuations(&done.pull, connection));
    }
    left
}

/// A pull request's database id as text (GitHub sends `fullDatabaseId` as a string).
pub fn database_id(node: &Value) -> Option<String> {
    match &node["fullDatabaseId"] {
        Value::String(id) if !id.is_empty() => Some(id.clone()),
        Value::Number(id) => Some(id.to_string()),
        _ => None,
    }
}

/// Continuations split into batches of one point each.
pub fn batches(pending: Vec<Continuation>) -> Vec<Vec<Continuation>> {
    pending
        .chunks(BATCH)
        .map(<[Continuation]>::to_vec)
        .collect()
}

/// A batch's query, variables and points; answer `i` is under the alias `c{i}`.
pub fn continuation_query(batch: &[Continuation]) -> (String, Value, u64) {
    let mut parameters = Vec::new();
    let mut fields = Vec::new();
    let mut variables = serde_json::Map::new();
    let mut used = Vec::new();
    for (index, continuation) in batch.iter().enumerate() {
        let nested = continuation.nested;
        parameters.push(format!("$id{index}: ID!, $after{index}: String"));
        fields.push(format!(
            "c{index}: node(id: $id{index}) {{ ... on {} {{ {}(first: {PER_LIST}, after: $after{index}) {{ ...{} }} }} }}",
            nested.owner_type(),
            nested.field(),
            nested.fragment(),
        ));
        variables.insert(format!("id{index}"), json!(continuation.node));
        variables.insert(format!("after{index}"), json!(continuation.after));
        used.push(nested.fragment());
    }
    let operation = format!(
        "query Continuations({}) {{\n  rateLimit {{ cost remaining resetAt }}\n  {}\n}}",
        parameters.join(", "),
        fields.join("\n  ")
    );
    let points = points(batch.len() as u64);
    (
        document(&operation, &used),
        Value::Object(variables),
        points,
    )
}

/// The connection answered for continuation `index` of a batch.
pub fn answered<'a>(data: &'a Value, index: usize, continuation: &Continuation) -> &'a Value {
    &data[format!("c{index}")][continuation.nested.field()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_carries_exactly_the_fragments_it_uses() {
        let text = document("query Q { x }", &["ReviewCommentPage"]);
        assert!(text.contains("fragment ReviewCommentPage"));
        assert!(text.contains("fragment ActorFields"));
        assert!(!text.contains("fragment CommitPage"));
        let text = document("query Q { x }", &["ReviewPage", "IssueCommentPage"]);
        assert_eq!(text.matches("fragment ActorFields").count(), 1);
    }

    #[test]
    fn the_page_query_costs_what_github_charges() {
        // 1 page + 100 pull requests × (assignees, commits, reviews, comments, threads).
        assert_eq!(pulls_query_points(PULLS_PER_PAGE), 5);
        assert_eq!(pulls_query_points(PULLS_PER_FIRST_INCREMENTAL_PAGE), 1);
    }

    #[test]
    fn unfinished_lists_of_a_pull_request_are_found_and_batched_by_cost() {
        let more = |after: &str| json!({"hasNextPage": true, "endCursor": after});
        let done = json!({"hasNextPage": false, "endCursor": null});
        let node = json!({
            "id": "PR_1", "fullDatabaseId": "77",
            "commits": {"pageInfo": done},
            "reviews": {"pageInfo": more("r1")},
            "comments": {"pageInfo": done},
            "reviewThreads": {"pageInfo": more("t100"), "nodes": [{"id": "T_1"}, {"id": "T_2"}]},
        });
        let left = continuations_of_pull(&node);
        let kinds: Vec<(Nested, &str, Option<&str>)> = left
            .iter()
            .map(|c| (c.nested, c.node.as_str(), c.after.as_deref()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (Nested::Reviews, "PR_1", Some("r1")),
                (Nested::ReviewThreads, "PR_1", Some("t100")),
                (Nested::ThreadComments, "T_1", None),
                (Nested::ThreadComments, "T_2", None),
            ]
        );
        assert!(left.iter().all(|c| c.pull == "77"));
        // A list a request: a hundred to a one-point batch.
        let many: Vec<Continuation> = (0..250).map(|_| left[2].clone()).collect();
        let sizes: Vec<usize> = batches(many).iter().map(Vec::len).collect();
        assert_eq!(sizes, vec![100, 100, 50]);
        let (query, variables, cost) = continuation_query(&left);
        assert!(query.contains(
            "c2: node(id: $id2) { ... on PullRequestReviewThread { comments(first: 100, after: $after2)"
        ));
        assert_eq!(variables["after1"], "t100");
        assert_eq!(variables["after2"], Value::Null);
        assert_eq!(cost, 1);
    }

    #[test]
    fn an_answered_page_continues_itself_and_its_threads() {
        let done = Continuation {
            pull: "77".into(),
            node: "PR_1".into(),
            nested: Nested::ReviewThreads,
            after: Some("t100".into()),
        };
        let answer = json!({
            "pageInfo": {"hasNextPage": true, "endCursor": "t200"},
            "nodes": [{"id": "T_9"}],
        });
        let left = continuations_of_answer(&done, &answer);
        assert_eq!(left.len(), 2);
        assert_eq!(
            (left[0].nested, left[0].after.as_deref()),
            (Nested::ReviewThreads, Some("t200"))
        );
        assert_eq!(
            (
                left[1].nested,
                left[1].node.as_str(),
                left[1].after.as_deref()
            ),
            (Nested::ThreadComments, "T_9", None)
        );
    }
}
