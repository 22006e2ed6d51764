//! Checks and normalises what people type into admin commands and the API. Fields are
//! named as in the API's JSON (`base_url`); the CLI shows them as its flags (`--base-url`).

/// Who reads a source and what of it: checked per source when an integration is created.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SourceScope {
    /// The account that signs in, where the source's auth needs one.
    pub username: Option<String>,
    /// Jira project keys (empty: all).
    pub projects: Vec<String>,
    /// GitHub repositories as `owner/name` (empty: all).
    pub repos: Vec<String>,
    /// Jira: link pull requests through the development panel (one call per issue with
    /// code) instead of by the issue keys pull requests carry.
    pub dev_status: bool,
    /// GitHub: which API to read (None: GraphQL).
    pub api: Option<super::SourceApi>,
}

/// Input that cannot be accepted, worded for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InvalidInput {
    pub field: &'static str,
    pub message: String,
}

pub fn invalid(field: &'static str, message: impl Into<String>) -> InvalidInput {
    InvalidInput {
        field,
        message: message.into(),
    }
}

const MAX_NAME_LEN: usize = 200;

/// A display name: trimmed, non-empty, at most 200 characters, no control characters.
pub fn name(field: &'static str, text: &str) -> Result<String, InvalidInput> {
    let text = text.trim();
    if text.is_empty() {
        return Err(invalid(field, "must not be empty"));
    }
    if text.chars().count() > MAX_NAME_LEN {
        return Err(invalid(
            field,
            format!("must be at most {MAX_NAME_LEN} characters"),
        ));
    }
    if text.chars().any(char::is_control) {
        return Err(invalid(field, "must not contain control characters"));
    }
    Ok(text.to_owned())
}

/// An http(s) base URL with a host, without credentials, query or fragment, and without a
/// trailing slash.
pub fn base_url(text: &str) -> Result<String, InvalidInput> {
    let url = url::Url::parse(text.trim())
        .map_err(|error| invalid("base_url", format!("'{text}' is not a URL ({error})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(
            "base_url",
            format!("'{text}' must start with http:// or https://"),
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("base_url", format!("'{text}' has no host")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(
            "base_url",
            "must not carry credentials (user:password@): send them as the username and tokens",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "base_url",
            format!("'{text}' must not have a query or fragment"),
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// A Jira project key such as `PROJ` or `AB_2`, upper-cased.
pub fn project_key(text: &str) -> Result<String, InvalidInput> {
    let key = text.trim().to_ascii_uppercase();
    let mut chars = key.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_uppercase())
        && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        return Err(invalid(
            "projects",
            format!("'{text}' is not a Jira project key (letters, digits and _, starting with a letter)"),
        ));
    }
    Ok(key)
}

/// A GitHub repository as `owner/name`.
pub fn repository(text: &str) -> Result<String, InvalidInput> {
    let text = text.trim();
    let part_ok = |part: &str| {
        !part.is_empty()
            && part != "."
            && part != ".."
            && part
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    match text.split_once('/') {
        Some((owner, name)) if part_ok(owner) && part_ok(name) => Ok(text.to_owned()),
        _ => Err(invalid(
            "repos",
            format!("'{text}' is not a repository written as owner/name"),
        )),
    }
}

/// An e-mail address of the form `local@domain`, lower-cased.
pub fn email(text: &str) -> Result<String, InvalidInput> {
    let text = text.trim();
    let valid = match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !domain.contains('@')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !text.chars().any(|c| c.is_whitespace() || c.is_control())
        }
        None => false,
    };
    if valid {
        Ok(text.to_lowercase())
    } else {
        Err(invalid(
            "email",
            format!("'{text}' is not an e-mail address"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(name("name", "  Acme  ").unwrap(), "Acme");
        assert!(name("name", "   ").is_err());
        assert!(name("name", &"x".repeat(201)).is_err());
        assert!(name("name", "a\u{7}b").is_err());
    }

    #[test]
    fn base_urls_must_be_http_with_a_host() {
        assert_eq!(
            base_url("https://acme.atlassian.net/").unwrap(),
            "https://acme.atlassian.net"
        );
        assert_eq!(
            base_url("http://127.0.0.1:8089").unwrap(),
            "http://127.0.0.1:8089"
        );
        for bad in [
            "acme.atlassian.net",
            "ftp://x",
            "https://",
            "not a url",
            "https://x/?a=1",
            "https://user:pw@acme.atlassian.net",
            "https://token@api.github.com",
        ] {
            let error = base_url(bad).unwrap_err();
            assert_eq!(error.field, "base_url", "{bad}");
        }
    }

    #[test]
    fn project_keys_and_repositories() {
        assert_eq!(project_key("proj").unwrap(), "PROJ");
        assert_eq!(project_key("AB_2").unwrap(), "AB_2");
        assert!(project_key("2AB").is_err());
        assert!(project_key("A-B").is_err());
        assert!(project_key("").is_err());
        assert_eq!(repository("rust-lang/rust").unwrap(), "rust-lang/rust");
        assert_eq!(repository("a.b/c_d-e").unwrap(), "a.b/c_d-e");
        for bad in ["rust", "/rust", "a/", "a/b/c", "a b/c", "../x"] {
            assert!(repository(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails() {
        assert_eq!(email("Ann@Example.com").unwrap(), "ann@example.com");
        for bad in ["ann", "@x.com", "ann@", "a@b@c", "a b@c.d", "a@.com"] {
            assert!(email(bad).is_err(), "{bad}");
        }
    }
}
