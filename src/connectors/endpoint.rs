//! A request URL reduced to one of a few endpoint classes (search, changelog, pulls,
//! graphql, …): a metrics label whose values stay few whatever the URLs hold. Each source's
//! client names its own classes from the path's segments; this module splits the path.

/// A source's endpoint classes: the class of a request path, given its segments.
pub type EndpointClasses = fn(&[&str]) -> &'static str;

/// The class of the endpoint `url` asks, by `classes`; `other` for a URL that does not
/// parse.
pub fn class(url: &str, classes: EndpointClasses) -> &'static str {
    let Ok(url) = url::Url::parse(url) else {
        return "other";
    };
    let segments: Vec<&str> = url.path().split('/').filter(|s| !s.is_empty()).collect();
    classes(&segments)
}

/// Classes of a client that names none: every endpoint is `other`.
pub fn unnamed(_: &[&str]) -> &'static str {
    "other"
}

#[cfg(test)]
mod tests {
    use super::*;

    fn last(segments: &[&str]) -> &'static str {
        match segments.last() {
            Some(&"graphql") => "graphql",
            _ => "other",
        }
    }

    #[test]
    fn the_path_is_split_into_segments_and_bad_urls_are_other() {
        assert_eq!(
            class("https://ghe.example/api/graphql?x=1", last),
            "graphql"
        );
        assert_eq!(class("https://ghe.example/api/graphql/", last), "graphql");
        assert_eq!(class("not a url", last), "other");
        assert_eq!(class("https://x.example/a", unnamed), "other");
    }
}
