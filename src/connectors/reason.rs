//! What of a source's error answer may be shown to the caller: the short reason the source
//! gave in its JSON (Jira's `errorMessages` and `errors`, GitHub's and GraphQL's `message`,
//! OpenAI's `error.message`), cleaned and cut short. Bodies that are not such JSON are never
//! shown: they may be whatever an internal service answers.

use serde_json::Value;

/// The longest reason shown.
const MAX_CHARS: usize = 200;

/// The source's own short reason in an error answer, if it gave one in JSON.
pub fn source_reason(body: &[u8]) -> Option<String> {
    let json: Value = serde_json::from_slice(body).ok()?;
    let mut parts: Vec<&str> = Vec::new();
    if let Some(messages) = json["errorMessages"].as_array() {
        parts.extend(messages.iter().filter_map(Value::as_str));
    }
    match &json["errors"] {
        Value::Object(fields) => parts.extend(fields.values().filter_map(Value::as_str)),
        Value::Array(errors) => parts.extend(errors.iter().filter_map(|e| e["message"].as_str())),
        _ => {}
    }
    parts.extend(json["message"].as_str());
    parts.extend(json["error"]["message"].as_str());
    parts.extend(json["error"].as_str());
    let joined = parts
        .iter()
        .map(|part| part.trim())
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    let clean: String = joined
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_CHARS)
        .collect();
    (!clean.is_empty()).then_some(clean)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sources_own_words_are_kept() {
        let jira = br#"{"errorMessages":["Field 'x' does not exist"],"errors":{"jql":"bad"}}"#;
        assert_eq!(
            source_reason(jira).as_deref(),
            Some("Field 'x' does not exist; bad")
        );
        let github = br#"{"message":"Bad credentials","documentation_url":"https://docs"}"#;
        assert_eq!(source_reason(github).as_deref(), Some("Bad credentials"));
        let openai = br#"{"error":{"message":"Incorrect API key","type":"invalid"}}"#;
        assert_eq!(source_reason(openai).as_deref(), Some("Incorrect API key"));
    }

    #[test]
    fn other_bodies_are_never_shown() {
        for body in [
            &b"SSH-2.0-OpenSSH_9.2\r\n"[..],
            b"<html>internal admin</html>",
            b"{\"secret\": \"value\"}",
            b"[1, 2]",
            b"",
        ] {
            assert_eq!(source_reason(body), None);
        }
    }

    #[test]
    fn reasons_are_cleaned_and_cut_short() {
        let long = format!(r#"{{"message":"a\u0000b\n{}"}}"#, "x".repeat(500));
        let reason = source_reason(long.as_bytes()).unwrap();
        assert!(reason.starts_with("a b "));
        assert_eq!(reason.chars().count(), MAX_CHARS);
    }
}
