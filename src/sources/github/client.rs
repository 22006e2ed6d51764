//! GitHub REST v3 calls with `Link` pagination, and GraphQL queries (their points charged to
//! a budget of their own). Answers are returned as the API sent them: storing and
//! interpreting them is the pipeline's job. A `Link` is followed only on the integration's
//! own scheme, host and port (the token goes with it).

use serde_json::Value;

use crate::connectors::http::{Conditional, ConnectorError, Fetched, HttpClient};

/// The largest page GitHub serves.
pub const PER_PAGE: usize = 100;

/// The class of a GitHub request path (the metrics' `endpoint` label).
pub fn endpoint_classes(segments: &[&str]) -> &'static str {
    let ends = |tail: &[&str]| segments.ends_with(tail);
    let has = |segment: &str| segments.contains(&segment);
    match segments.last().copied().unwrap_or_default() {
        "graphql" => "graphql",
        _ if has("hooks") => "webhooks",
        _ if ends(&["pulls", "comments"]) => "review_comments",
        _ if ends(&["issues", "comments"]) => "issue_comments",
        "reviews" => "reviews",
        "commits" => "commits",
        _ if has("pulls") => "pulls",
        _ if segments.first() == Some(&"repos") => "repositories",
        _ => "other",
    }
}

#[derive(Clone)]
pub struct GithubClient {
    http: HttpClient,
    /// The same connections and counters with GraphQL's point budgets.
    graphql: HttpClient,
    base_url: String,
}

/// Where GitHub serves GraphQL for a REST base URL: `https://api.github.com/graphql`, and
/// `https://HOST/api/graphql` for GitHub Enterprise Server's `https://HOST/api/v3`.
pub fn graphql_endpoint(base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    match base.strip_suffix("/api/v3") {
        Some(host) => format!("{host}/api/graphql"),
        None => format!("{base}/graphql"),
    }
}

/// One page of a listing.
#[derive(Debug)]
pub struct Page {
    pub items: Vec<Value>,
    /// The `rel="next"` URL, absent on the last page.
    pub next: Option<String>,
    pub etag: Option<String>,
}

/// The `rel="next"` target of a `Link` header.
pub fn next_link(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        params
            .split(';')
            .any(|p| p.trim() == "rel=\"next\"")
            .then(|| {
                target
                    .trim()
                    .trim_start_matches('<')
                    .trim_end_matches('>')
                    .to_owned()
            })
    })
}

fn page_of(fetched: Fetched) -> Page {
    let next = fetched
        .headers
        .get(reqwest::header::LINK)
        .and_then(|v| v.to_str().ok())
        .and_then(next_link);
    let etag = fetched.etag().map(str::to_owned);
    // A listing is an array, or (workflow runs, search) an object holding its entries in
    // one array beside `total_count`.
    let items = match fetched.body {
        Value::Array(items) => items,
        Value::Object(fields) => fields
            .into_iter()
            .find_map(|(_, value)| match value {
                Value::Array(items) => Some(items),
                _ => None,
            })
            .unwrap_or_default(),
        _ => Vec::new(),
    };
    Page { items, next, etag }
}

impl GithubClient {
    pub fn new(http: HttpClient, base_url: &str) -> Self {
        GithubClient {
            graphql: http.with_own_budgets(),
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
        }
    }

    pub fn http(&self) -> &HttpClient {
        &self.http
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Registers a webhook on `repository` delivering `events` as JSON to `url`, signed with
    /// `secret`; returns the hook's id.
    pub async fn create_hook(
        &self,
        repository: &str,
        (url, secret): (&str, &str),
        events: &[&str],
    ) -> Result<String, ConnectorError> {
        let body = serde_json::json!({
            "name": "web",
            "active": true,
            "events": events,
            "config": {"url": url, "content_type": "json", "secret": secret, "insecure_ssl": "0"},
        });
        let created = self
            .http
            .post(&self.url(&format!("/repos/{repository}/hooks")), &body)
            .await?;
        Ok(match &created.body["id"] {
            Value::Number(id) => id.to_string(),
            other => other.as_str().unwrap_or_default().to_owned(),
        })
    }

    /// Removes webhook `hook_id` from `repository`.
    pub async fn delete_hook(&self, repository: &str, hook_id: &str) -> Result<(), ConnectorError> {
        let url = self.url(&format!("/repos/{repository}/hooks/{hook_id}"));
        self.http.delete(&url).await.map(|_| ())
    }

    /// One repository by `owner/name`.
    pub async fn repository(&self, full_name: &str) -> Result<Fetched, ConnectorError> {
        self.http
            .get(&self.url(&format!("/repos/{full_name}")), &[])
            .await
    }

    /// The first page of a listing under `path` (`None`: 304, unchanged since `etag`).
    pub async fn first_page(
        &self,
        path: &str,
        query: &[(&str, String)],
        etag: Option<&str>,
    ) -> Result<Option<Page>, ConnectorError> {
        let mut query = query.to_vec();
        query.push(("per_page", PER_PAGE.to_string()));
        match self
            .http
            .get_if_changed(&self.url(path), &query, etag)
            .await?
        {
            Conditional::Changed(fetched) => Ok(Some(page_of(fetched))),
            Conditional::NotModified => Ok(None),
        }
    }

    /// A following page, by the URL the previous page's `Link` named: only on the
    /// integration's own origin, else the link is refused by name.
    pub async fn next_page(&self, url: &str) -> Result<Page, ConnectorError> {
        let origin = |text: &str| url::Url::parse(text).map(|url| url.origin()).ok();
        if origin(url).is_none() || origin(url) != origin(&self.base_url) {
            return Err(ConnectorError::ForeignLink {
                link: url.to_owned(),
                base: self.base_url.clone(),
            });
        }
        Ok(page_of(self.http.get(url, &[]).await?))
    }

    /// Every page of a listing, unconditionally.
    pub async fn all_pages(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<Vec<Page>, ConnectorError> {
        let mut pages = Vec::new();
        let mut next = self.first_page(path, query, None).await?;
        while let Some(page) = next {
            next = match &page.next {
                Some(url) => Some(self.next_page(url).await?),
                None => None,
            };
            pages.push(page);
        }
        Ok(pages)
    }

    /// The `data` of a GraphQL query expected to cost `points`; an answer with errors fails
    /// with them (a spent budget is waited out by the HTTP client).
    pub async fn graphql(
        &self,
        query: &str,
        variables: Value,
        points: u64,
    ) -> Result<Value, ConnectorError> {
        let url = graphql_endpoint(&self.base_url);
        let body = serde_json::json!({"query": query, "variables": variables});
        let mut answer = self.graphql.post_costing(&url, &body, points).await?.body;
        let spent = answer["data"]["rateLimit"]["cost"].as_u64().unwrap_or(0);
        self.http
            .stats
            .points
            .fetch_add(spent, std::sync::atomic::Ordering::Relaxed);
        match answer.get("errors") {
            Some(Value::Array(errors)) if !errors.is_empty() => {
                let mut text: Vec<String> = errors
                    .iter()
                    .take(3)
                    .map(|e| e["message"].as_str().unwrap_or("(no message)").to_owned())
                    .collect();
                if errors.len() > 3 {
                    text.push(format!("and {} more", errors.len() - 3));
                }
                Err(ConnectorError::Graphql {
                    url,
                    errors: text.join("; "),
                })
            }
            _ => Ok(answer["data"].take()),
        }
    }

    /// One pull request with its size fields (`additions`, `deletions`, `changed_files`).
    pub async fn pull(&self, repository: &str, number: u64) -> Result<Fetched, ConnectorError> {
        self.http
            .get(
                &self.url(&format!("/repos/{repository}/pulls/{number}")),
                &[],
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn graphql_lives_beside_the_rest_api() {
        assert_eq!(
            graphql_endpoint("https://api.github.com"),
            "https://api.github.com/graphql"
        );
        assert_eq!(
            graphql_endpoint("https://ghe.example.com/api/v3/"),
            "https://ghe.example.com/api/graphql"
        );
        assert_eq!(
            graphql_endpoint("http://127.0.0.1:9"),
            "http://127.0.0.1:9/graphql"
        );
    }

    #[test]
    fn next_link_is_found_among_the_relations() {
        let link = "<https://api.github.com/repos/o/r/pulls?page=2&per_page=100>; rel=\"next\", \
                    <https://api.github.com/repos/o/r/pulls?page=5&per_page=100>; rel=\"last\"";
        assert_eq!(
            next_link(link).as_deref(),
            Some("https://api.github.com/repos/o/r/pulls?page=2&per_page=100")
        );
        let last = "<https://x/p?page=1>; rel=\"first\", <https://x/p?page=4>; rel=\"prev\"";
        assert_eq!(next_link(last), None);
        assert_eq!(next_link(""), None);
    }
}

#[cfg(test)]
mod endpoint_tests {
    use super::endpoint_classes;
    use crate::connectors::endpoint::class;

    #[test]
    fn every_endpoint_the_client_calls_has_a_class_of_its_own() {
        let cases = [
            ("https://api.github.com/graphql", "graphql"),
            ("https://ghe.example/api/graphql", "graphql"),
            ("https://api.github.com/repos/acme/api/hooks", "webhooks"),
            ("https://api.github.com/repos/acme/api/hooks/12", "webhooks"),
            ("https://api.github.com/repos/acme/api", "repositories"),
            (
                "https://api.github.com/repos/acme/api/pulls?state=all&page=3",
                "pulls",
            ),
            ("https://api.github.com/repos/acme/api/pulls/7", "pulls"),
            (
                "https://api.github.com/repos/acme/api/pulls/7/reviews",
                "reviews",
            ),
            (
                "https://api.github.com/repos/acme/api/pulls/7/commits",
                "commits",
            ),
            (
                "https://api.github.com/repos/acme/api/pulls/comments?since=x",
                "review_comments",
            ),
            (
                "https://api.github.com/repos/acme/api/issues/comments",
                "issue_comments",
            ),
            ("https://api.github.com/rate_limit", "other"),
        ];
        for (url, expected) in cases {
            assert_eq!(class(url, endpoint_classes), expected, "{url}");
        }
    }
}
