//! A request URL reduced to one of a few endpoint classes (search, changelog, pulls,
//! graphql, …): a metrics label whose values stay few whatever the URLs hold.

/// The class of the endpoint `url` asks; `other` for anything not listed.
pub fn class(url: &str) -> &'static str {
    let path = url::Url::parse(url)
        .map(|url| url.path().to_owned())
        .unwrap_or_default();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let ends = |tail: &[&str]| segments.ends_with(tail);
    let has = |segment: &str| segments.contains(&segment);
    match segments.last().copied().unwrap_or_default() {
        "graphql" => "graphql",
        _ if has("hooks") || has("webhooks") => "webhooks",
        _ if has("dev-status") => "dev_status",
        _ if has("createmeta") => "createmeta",
        _ if ends(&["search", "jql"]) => "search",
        _ if ends(&["project", "search"]) => "projects",
        _ if ends(&["changelog", "bulkfetch"]) => "changelog_bulk",
        "changelog" => "changelog",
        "status" => "statuses",
        "issuetype" => "issue_types",
        "field" => "fields",
        "myself" => "myself",
        _ if ends(&["pulls", "comments"]) => "review_comments",
        _ if ends(&["issues", "comments"]) => "issue_comments",
        "reviews" => "reviews",
        "commits" => "commits",
        _ if has("pulls") => "pulls",
        _ if segments.first() == Some(&"repos") => "repositories",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::class;

    #[test]
    fn every_endpoint_the_connectors_call_has_a_class_of_its_own() {
        let cases = [
            ("https://x.atlassian.net/rest/api/3/search/jql", "search"),
            (
                "https://x.atlassian.net/rest/api/3/project/search?startAt=50",
                "projects",
            ),
            (
                "https://x.atlassian.net/rest/api/3/changelog/bulkfetch",
                "changelog_bulk",
            ),
            (
                "https://x.atlassian.net/rest/api/3/issue/CORE-12/changelog?startAt=100",
                "changelog",
            ),
            ("https://x.atlassian.net/rest/api/3/status", "statuses"),
            (
                "https://x.atlassian.net/rest/api/3/issuetype",
                "issue_types",
            ),
            ("https://x.atlassian.net/rest/api/3/field", "fields"),
            ("https://x.atlassian.net/rest/api/3/myself", "myself"),
            (
                "https://x.atlassian.net/rest/api/3/issue/createmeta/CORE/issuetypes/10001",
                "createmeta",
            ),
            (
                "https://x.atlassian.net/rest/dev-status/latest/issue/detail?issueId=1",
                "dev_status",
            ),
            ("https://api.github.com/graphql", "graphql"),
            ("https://api.github.com/repos/acme/api/hooks", "webhooks"),
            ("https://api.github.com/repos/acme/api/hooks/12", "webhooks"),
            (
                "https://x.atlassian.net/rest/webhooks/1.0/webhook/3",
                "webhooks",
            ),
            ("https://ghe.example/api/graphql", "graphql"),
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
            ("not a url", "other"),
        ];
        for (url, expected) in cases {
            assert_eq!(class(url), expected, "{url}");
        }
    }
}
