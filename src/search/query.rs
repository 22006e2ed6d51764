//! What a typed query asks for beyond its words: exact keys (`CORE-123`, `org/repo#45`),
//! whose records rank first; the whole query as a title, whose records come next; and
//! quoted phrases, whose matches come next.

use unicode_normalization::UnicodeNormalization;

/// A query taken apart.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedQuery {
    /// The words to search for (quotes removed).
    pub text: String,
    /// Quoted phrases, lower-cased, each non-empty.
    pub phrases: Vec<String>,
    /// Keys found in the query, as typed.
    pub keys: Vec<String>,
}

/// Takes a query apart. Quotes are `"` (an unclosed one runs to the end).
pub fn parse(query: &str) -> ParsedQuery {
    let mut parsed = ParsedQuery::default();
    for (index, part) in query.split('"').enumerate() {
        let quoted = index % 2 == 1;
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        if quoted {
            parsed.phrases.push(part.to_lowercase());
        }
        for word in part.split_whitespace() {
            let word = word.trim_matches(|c: char| matches!(c, ',' | ';' | '(' | ')' | '.'));
            if is_key(word) && !parsed.keys.iter().any(|k| k.eq_ignore_ascii_case(word)) {
                parsed.keys.push(word.to_owned());
            }
        }
        if !parsed.text.is_empty() {
            parsed.text.push(' ');
        }
        parsed.text.push_str(part);
    }
    parsed
}

/// A text as titles are compared: NFKC-normalised, lower-cased, without white space or
/// invisible formatting characters (zero-width spaces and joiners, byte-order marks), so
/// a title pasted from a page or typed again compares equal.
pub fn comparable(text: &str) -> String {
    text.nfkc()
        .flat_map(char::to_lowercase)
        .filter(|c| {
            !c.is_whitespace() && !matches!(c, '\u{200b}'..='\u{200d}' | '\u{2060}' | '\u{feff}')
        })
        .collect()
}

/// Whether `word` has the shape of a Jira key (`CORE-123`: a letter, then letters, digits or
/// `_`, a dash and a number) or a pull request (`owner/repo#45`).
pub fn is_key(word: &str) -> bool {
    jira_key(word) || pull_request_key(word)
}

fn number(text: &str) -> bool {
    !text.is_empty() && text.len() <= 10 && text.bytes().all(|b| b.is_ascii_digit())
}

fn jira_key(word: &str) -> bool {
    let Some((project, number_part)) = word.rsplit_once('-') else {
        return false;
    };
    let mut chars = project.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && number(number_part)
}

fn pull_request_key(word: &str) -> bool {
    let Some((repository, number_part)) = word.rsplit_once('#') else {
        return false;
    };
    let name_part = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    };
    repository
        .split_once('/')
        .is_some_and(|(owner, name)| name_part(owner) && name_part(name))
        && number(number_part)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_found_anywhere_in_the_query() {
        let parsed = parse("why did CORE-12 fail, see acme/api#45.");
        assert_eq!(parsed.keys, ["CORE-12", "acme/api#45"]);
        assert_eq!(parsed.text, "why did CORE-12 fail, see acme/api#45.");
        assert!(parse("core-12 and CORE-12").keys.len() == 1);
    }

    #[test]
    fn things_that_only_look_like_keys_are_not() {
        for word in [
            "12-34", "CORE-", "-12", "CORE-1x", "a/b#", "ab#12", "/b#1", "a/#1",
        ] {
            assert!(!is_key(word), "{word}");
        }
        for word in ["CORE-1", "A_B2-99", "my-org/my.repo#7"] {
            assert!(is_key(word), "{word}");
        }
    }

    #[test]
    fn titles_compare_without_case_spaces_or_invisible_characters() {
        assert_eq!(
            comparable("\u{200b} 组件封装及Demo "),
            comparable("组件封装及demo")
        );
        assert_eq!(comparable("Fix  Login"), "fixlogin");
        assert_ne!(comparable("Fix login"), comparable("Fix logon"));
    }

    #[test]
    fn quoted_phrases_are_kept_lower_cased_and_unquoted_in_the_text() {
        let parsed = parse(r#"login "Session Expires" in "Safari"#);
        assert_eq!(parsed.phrases, ["session expires", "safari"]);
        assert_eq!(parsed.text, "login Session Expires in Safari");
        assert_eq!(parse(r#""""#), ParsedQuery::default());
    }
}
