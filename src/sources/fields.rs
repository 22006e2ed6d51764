//! Jira field values made flat: options to their value, users to their display name,
//! sprints to their name, arrays element by element, numbers parsed from strings,
//! rich-text documents to plain text, timestamps to UTC.

use chrono::{DateTime, Utc};
use serde_json::Value;

pub use crate::domain::text::clean;

/// A custom field value as stored: options, users and sprints reduced to their names;
/// arrays keep their shape. None for null and empty arrays.
pub fn flatten(value: &Value) -> Option<Value> {
    match value {
        Value::Null => None,
        Value::Array(items) => {
            let flat: Vec<Value> = items.iter().filter_map(flatten).collect();
            (!flat.is_empty()).then_some(Value::Array(flat))
        }
        Value::Object(object) => {
            if let Some(name) = object.get("value").and_then(Value::as_str) {
                // An option, possibly cascading: "Parent / Child".
                let child = object
                    .get("child")
                    .and_then(|c| c.get("value"))
                    .and_then(Value::as_str);
                return Some(Value::from(clean(&match child {
                    Some(child) => format!("{name} / {child}"),
                    None => name.to_owned(),
                })));
            }
            for key in ["displayName", "name", "key"] {
                if let Some(text) = object.get(key).and_then(Value::as_str) {
                    return Some(Value::from(clean(text)));
                }
            }
            if object.get("type").and_then(Value::as_str) == Some("doc") {
                return Some(Value::from(document_text(value)));
            }
            let cleaned: serde_json::Map<String, Value> = object
                .iter()
                .filter_map(|(k, v)| flatten(v).map(|v| (clean(k), v)))
                .collect();
            Some(Value::Object(cleaned))
        }
        Value::String(text) => Some(Value::from(clean(text))),
        other => Some(other.clone()),
    }
}

/// A flattened value as column text: strings as they are, everything else as JSON.
pub fn as_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// A number from a number or a numeric string (story points come as both).
pub fn as_number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(number) => number.as_f64(),
        Value::String(text) => text.trim().parse().ok(),
        _ => None,
    }
}

/// A yes/no reading of a flag-like field: booleans, Yes/No options, or a development
/// summary (`{}` when no code is linked).
pub fn as_flag(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(flag) => Some(*flag),
        Value::String(text) => match text.trim().to_ascii_lowercase().as_str() {
            "yes" | "true" | "y" => Some(true),
            "no" | "false" | "n" | "{}" | "" => Some(false),
            _ => Some(true),
        },
        Value::Number(number) => number.as_f64().map(|n| n != 0.0),
        Value::Array(items) => Some(!items.is_empty()),
        _ => None,
    }
}

/// Plain text of an Atlassian document (v3 rich text), paragraphs on separate lines; a
/// plain string (v2) is returned as it is.
pub fn document_text(value: &Value) -> String {
    fn collect(node: &Value, out: &mut String) {
        if let Some(text) = node.get("text").and_then(Value::as_str) {
            out.push_str(&clean(text));
        }
        if let Some(children) = node.get("content").and_then(Value::as_array) {
            for child in children {
                collect(child, out);
            }
        }
        let block = matches!(
            node.get("type").and_then(Value::as_str),
            Some("paragraph" | "heading" | "listItem" | "codeBlock" | "blockquote")
        );
        if block && !out.ends_with('\n') {
            out.push('\n');
        }
    }
    match value {
        Value::String(text) => clean(text),
        Value::Null => String::new(),
        other => {
            let mut out = String::new();
            collect(other, &mut out);
            out.trim_end().to_owned()
        }
    }
}

/// Jira's `2021-03-28T16:06:08.713+0800` (also RFC 3339) as UTC.
pub fn jira_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(text))
        .ok()
        .map(|at| at.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_flatten_by_shape() {
        assert_eq!(flatten(&json!(null)), None);
        assert_eq!(
            flatten(&json!({"self": "x", "value": "Platform", "id": "1"})),
            Some(json!("Platform"))
        );
        assert_eq!(
            flatten(&json!({"value": "EU", "child": {"value": "Berlin"}})),
            Some(json!("EU / Berlin"))
        );
        assert_eq!(
            flatten(&json!({"accountId": "a", "displayName": "User 001"})),
            Some(json!("User 001"))
        );
        assert_eq!(
            flatten(&json!([{"value": "iOS"}, {"value": "Web"}])),
            Some(json!(["iOS", "Web"]))
        );
        assert_eq!(
            flatten(&json!([{"id": 3, "name": "Sprint 3", "state": "closed"}])),
            Some(json!(["Sprint 3"]))
        );
        assert_eq!(flatten(&json!([])), None);
        assert_eq!(flatten(&json!(2.5)), Some(json!(2.5)));
        assert_eq!(
            flatten(
                &json!({"type": "doc", "version": 1, "content": [{"type": "paragraph", "content": [{"type": "text", "text": "Hi"}]}]})
            ),
            Some(json!("Hi"))
        );
    }

    #[test]
    fn nul_characters_are_dropped_everywhere() {
        assert_eq!(flatten(&json!("x\0")), Some(json!("x")));
        assert_eq!(flatten(&json!({"value": "o\0"})), Some(json!("o")));
        assert_eq!(
            flatten(&json!({"weird\0": "v\0", "n": null})),
            Some(json!({"weird": "v"}))
        );
        assert_eq!(document_text(&json!("d\0")), "d");
    }

    #[test]
    fn numbers_flags_and_text() {
        assert_eq!(as_number(&json!("3.0")), Some(3.0));
        assert_eq!(as_number(&json!("-1")), Some(-1.0));
        assert_eq!(as_number(&json!(5)), Some(5.0));
        assert_eq!(as_number(&json!("many")), None);
        assert_eq!(as_flag(&json!("Yes")), Some(true));
        assert_eq!(as_flag(&json!("No")), Some(false));
        assert_eq!(as_flag(&json!("{}")), Some(false));
        assert_eq!(as_flag(&json!("{pullrequest={state=OPEN}}")), Some(true));
        assert_eq!(as_text(&json!("a")), "a");
        assert_eq!(as_text(&json!(["a", "b"])), "[\"a\",\"b\"]");
    }

    #[test]
    fn jira_timestamps_with_offsets() {
        let at = jira_time("2020-06-12T08:13:13.360+0800").unwrap();
        assert_eq!(at.to_rfc3339(), "2020-06-12T00:13:13.360+00:00");
        assert!(jira_time("2020-06-12T00:13:13Z").is_some());
        assert!(jira_time("yesterday").is_none());
    }

    #[test]
    fn documents_become_paragraph_text() {
        let doc = json!({"type": "doc", "version": 1, "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": "One "}, {"type": "text", "text": "line"}]},
            {"type": "paragraph", "content": [{"type": "text", "text": "Two"}]}
        ]});
        assert_eq!(document_text(&doc), "One line\nTwo");
        assert_eq!(document_text(&json!("plain")), "plain");
    }
}
