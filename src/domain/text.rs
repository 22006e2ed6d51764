//! Text as PostgreSQL can store it: NUL characters, which real payloads contain now and
//! then, are refused by both `text` and `jsonb`, so they are dropped; and bytes written as hex.

use serde_json::Value;

/// `text` without NUL characters.
pub fn clean(text: &str) -> String {
    if text.contains('\0') {
        text.replace('\0', "")
    } else {
        text.to_owned()
    }
}

/// Removes NUL characters from every string and key in `value`; true when any was found.
pub fn clean_json(value: &mut Value) -> bool {
    match value {
        Value::String(text) if text.contains('\0') => {
            *text = clean(text);
            true
        }
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |found, item| clean_json(item) | found),
        Value::Object(map) => {
            let mut found = false;
            if map.keys().any(|k| k.contains('\0')) {
                let entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
                map.extend(entries.into_iter().map(|(k, v)| (clean(&k), v)));
                found = true;
            }
            map.values_mut()
                .fold(found, |found, item| clean_json(item) | found)
        }
        _ => false,
    }
}

/// Bytes as lower-case hex digits.
pub fn to_hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut hex, byte| {
            let _ = write!(hex, "{byte:02x}");
            hex
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_characters_are_removed_deeply() {
        assert_eq!(clean("a\0b"), "ab");
        let mut value = json!({"a\0": ["x\0", {"b": "y"}], "c": 1});
        assert!(clean_json(&mut value));
        assert_eq!(value, json!({"a": ["x", {"b": "y"}], "c": 1}));
        assert!(!clean_json(&mut value));
    }
}
