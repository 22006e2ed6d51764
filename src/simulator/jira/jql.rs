//! The JQL subset the simulator understands: `project = K`, `project in (A, B)`,
//! `project not in (A, B)`, `labels = L` / `labels in (...)`, `issuetype = T` /
//! `issuetype in (...)` (also `type`), `id in (...)`,
//! `updated >= "yyyy/MM/dd HH:mm"` (also `>`, and `created`), joined by `AND` (parentheses
//! group, which changes nothing under AND alone), then
//! `ORDER BY updated|created [ASC|DESC]`. Anything else is an error, as Jira answers 400.

use chrono::{NaiveDate, NaiveDateTime, TimeZone};
use chrono_tz::Tz;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    /// Project keys, upper-case; `None` means every project.
    pub projects: Option<Vec<String>>,
    /// Project keys left out (`project not in (...)`), upper-case.
    pub excluded_projects: Vec<String>,
    /// Only issues updated at or after this instant (ms).
    pub updated_from_ms: Option<i64>,
    /// Only issues created at or after this instant (ms).
    pub created_from_ms: Option<i64>,
    /// Only these issue ids; each must exist (Jira refuses the query otherwise).
    pub ids: Option<Vec<u64>>,
    /// Only issues carrying one of these labels (case-insensitive, as stored lower case).
    pub labels: Option<Vec<String>>,
    /// Only issues of one of these types (names, lower case).
    pub types: Option<Vec<String>>,
    pub order: Order,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    CreatedAsc,
    CreatedDesc,
    UpdatedAsc,
    UpdatedDesc,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Error in the JQL Query: {0}")]
pub struct JqlError(pub String);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Text(String),
    Op(&'static str),
    Open,
    Close,
    Comma,
}

fn tokenize(jql: &str) -> Result<Vec<Token>, JqlError> {
    let chars: Vec<char> = jql.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            ',' => {
                tokens.push(Token::Comma);
                i += 1;
            }
            '"' | '\'' => {
                let end = chars[i + 1..].iter().position(|x| *x == c).ok_or_else(|| {
                    JqlError(format!(
                        "The quoted string starting at character {} is not closed.",
                        i + 1
                    ))
                })?;
                tokens.push(Token::Text(chars[i + 1..i + 1 + end].iter().collect()));
                i += end + 2;
            }
            '>' | '<' | '=' | '!' => {
                let two: String = chars[i..(i + 2).min(chars.len())].iter().collect();
                let op = match two.as_str() {
                    ">=" => ">=",
                    "<=" => "<=",
                    "!=" => "!=",
                    _ => match c {
                        '>' => ">",
                        '<' => "<",
                        '=' => "=",
                        _ => {
                            return Err(JqlError(format!(
                                "The character '{c}' at position {} is unexpected.",
                                i + 1
                            )))
                        }
                    },
                };
                i += op.len();
                tokens.push(Token::Op(op));
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !matches!(
                        chars[i],
                        '(' | ')' | ',' | '"' | '\'' | '>' | '<' | '=' | '!'
                    )
                {
                    i += 1;
                }
                tokens.push(Token::Word(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    /// Passes over any run of `token` (parentheses, which group nothing under AND alone).
    fn skip(&mut self, token: Token) {
        while self.tokens.get(self.at) == Some(&token) {
            self.at += 1;
        }
    }

    fn peek_word(&self, word: &str) -> bool {
        matches!(self.tokens.get(self.at), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    /// The values after `=` (one) or `in` (a parenthesised list) for `field`.
    fn values(&mut self, field: &str) -> Result<Vec<String>, JqlError> {
        match self.next() {
            Some(Token::Op("=")) => Ok(vec![self.value()?]),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("in") => {
                if self.next() != Some(Token::Open) {
                    return Err(JqlError("Expecting '(' after 'in'.".into()));
                }
                let mut values = vec![self.value()?];
                loop {
                    match self.next() {
                        Some(Token::Comma) => values.push(self.value()?),
                        Some(Token::Close) => return Ok(values),
                        other => {
                            return Err(JqlError(format!(
                                "Expecting ',' or ')' but got {}.",
                                describe(other.as_ref())
                            )))
                        }
                    }
                }
            }
            other => Err(JqlError(format!(
                "The operator {} is not supported for field '{field}' here.",
                describe(other.as_ref())
            ))),
        }
    }

    fn value(&mut self) -> Result<String, JqlError> {
        match self.next() {
            Some(Token::Word(w)) | Some(Token::Text(w)) => Ok(w),
            other => Err(JqlError(format!(
                "Expecting a value but got {}.",
                describe(other.as_ref())
            ))),
        }
    }
}

fn describe(token: Option<&Token>) -> String {
    match token {
        None => "the end of the query".into(),
        Some(Token::Word(w)) | Some(Token::Text(w)) => format!("'{w}'"),
        Some(Token::Op(op)) => format!("'{op}'"),
        Some(Token::Open) => "'('".into(),
        Some(Token::Close) => "')'".into(),
        Some(Token::Comma) => "','".into(),
    }
}

/// Parses a JQL date such as `2024/01/15 10:30`, `2024-01-15 10:30` or `2024-01-15` (UTC).
/// JQL dates are in the account's time zone, as on real Jira sites.
fn parse_instant(text: &str, zone: Tz) -> Result<i64, JqlError> {
    let normalised = text.trim().replace('/', "-");
    let parsed = NaiveDateTime::parse_from_str(&normalised, "%Y-%m-%d %H:%M")
        .or_else(|_| {
            NaiveDate::parse_from_str(&normalised, "%Y-%m-%d")
                .map(|d| d.and_hms_opt(0, 0, 0).unwrap_or_default())
        })
        .map_err(|_| {
            JqlError(format!(
                "Date value '{text}' for field 'updated' is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd'."
            ))
        })?;
    let local = zone
        .from_local_datetime(&parsed)
        .earliest()
        .ok_or_else(|| JqlError(format!("Date value '{text}' does not exist in {zone}.")))?;
    Ok(local.timestamp_millis())
}

/// Parses `jql`; dates are read in `zone`, the account's time zone.
pub fn parse(jql: &str, zone: Tz) -> Result<Query, JqlError> {
    let mut parser = Parser {
        tokens: tokenize(jql)?,
        at: 0,
    };
    let mut query = Query {
        projects: None,
        excluded_projects: Vec::new(),
        updated_from_ms: None,
        created_from_ms: None,
        ids: None,
        labels: None,
        types: None,
        order: Order::CreatedAsc,
    };
    let mut first = true;
    while parser.at < parser.tokens.len() && !parser.peek_word("ORDER") {
        if !first {
            match parser.next() {
                Some(Token::Word(w)) if w.eq_ignore_ascii_case("AND") => {}
                other => {
                    return Err(JqlError(format!(
                    "Expecting 'AND' or 'ORDER BY' but got {}. (This simulator supports only AND.)",
                    describe(other.as_ref())
                )))
                }
            }
        }
        first = false;
        parser.skip(Token::Open);
        let field = match parser.next() {
            Some(Token::Word(w)) => w.to_ascii_lowercase(),
            other => {
                return Err(JqlError(format!(
                    "Expecting a field name but got {}.",
                    describe(other.as_ref())
                )))
            }
        };
        match field.as_str() {
            "project" if parser.peek_word("not") => {
                parser.next();
                let keys = parser.values(&field)?;
                query
                    .excluded_projects
                    .extend(keys.into_iter().map(|k| k.to_ascii_uppercase()));
            }
            "project" => {
                let keys = parser.values(&field)?;
                let keys: Vec<String> = keys.into_iter().map(|k| k.to_ascii_uppercase()).collect();
                query.projects = Some(match query.projects.take() {
                    None => keys,
                    Some(existing) => existing.into_iter().filter(|k| keys.contains(k)).collect(),
                });
            }
            "id" => {
                let ids = parser
                    .values(&field)?
                    .into_iter()
                    .map(|id| {
                        id.parse::<u64>().map_err(|_| {
                            JqlError(format!("The value '{id}' is not a valid issue id."))
                        })
                    })
                    .collect::<Result<Vec<u64>, _>>()?;
                query.ids = Some(ids);
            }
            "labels" | "issuetype" | "type" => {
                let values: Vec<String> = parser
                    .values(&field)?
                    .into_iter()
                    .map(|v| v.to_lowercase())
                    .collect();
                let slot = if field == "labels" {
                    &mut query.labels
                } else {
                    &mut query.types
                };
                *slot = Some(match slot.take() {
                    None => values,
                    Some(existing) => existing
                        .into_iter()
                        .filter(|v| values.contains(v))
                        .collect(),
                });
            }
            "updated" | "created" => {
                let strict = match parser.next() {
                    Some(Token::Op(">=")) => false,
                    Some(Token::Op(">")) => true,
                    other => {
                        return Err(JqlError(format!(
                            "The operator {} is not supported for field '{field}' here.",
                            describe(other.as_ref())
                        )))
                    }
                };
                let at = parse_instant(&parser.value()?, zone)? + if strict { 60_000 } else { 0 };
                let slot = if field == "updated" {
                    &mut query.updated_from_ms
                } else {
                    &mut query.created_from_ms
                };
                *slot = Some(slot.map_or(at, |existing| existing.max(at)));
            }
            other => {
                return Err(JqlError(format!(
                    "Field '{other}' does not exist or this simulator does not support it."
                )))
            }
        }
        parser.skip(Token::Close);
    }
    if parser.at < parser.tokens.len() {
        parser.next();
        if !parser.peek_word("BY") {
            return Err(JqlError("Expecting 'BY' after 'ORDER'.".into()));
        }
        parser.next();
        let field = parser.value()?.to_ascii_lowercase();
        let descending = match parser.next() {
            None => false,
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("ASC") => false,
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("DESC") => true,
            other => {
                return Err(JqlError(format!(
                    "Expecting ASC or DESC but got {}.",
                    describe(other.as_ref())
                )))
            }
        };
        query.order = match (field.as_str(), descending) {
            ("created", false) => Order::CreatedAsc,
            ("created", true) => Order::CreatedDesc,
            ("updated", false) => Order::UpdatedAsc,
            ("updated", true) => Order::UpdatedDesc,
            (other, _) => {
                return Err(JqlError(format!(
                    "Ordering by '{other}' is not supported by this simulator."
                )))
            }
        };
        if let Some(extra) = parser.next() {
            return Err(JqlError(format!(
                "Unexpected {} after the ORDER BY clause.",
                describe(Some(&extra))
            )));
        }
    }
    Ok(query)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connector_queries_parse() {
        let query = parse(
            r#"project in (core, "WEB") AND updated >= "2025/01/15 10:30" ORDER BY updated ASC"#,
            Tz::UTC,
        )
        .unwrap();
        assert_eq!(query.projects, Some(vec!["CORE".into(), "WEB".into()]));
        assert_eq!(query.updated_from_ms, Some(1_736_937_000_000));
        assert_eq!(query.order, Order::UpdatedAsc);
        let query = parse(
            r#"project not in (core, "WEB") ORDER BY updated ASC"#,
            Tz::UTC,
        )
        .unwrap();
        assert_eq!(query.projects, None);
        assert_eq!(query.excluded_projects, ["CORE", "WEB"]);
        let query = parse(
            "project in (CORE) AND id in (10001, 10002) ORDER BY updated ASC",
            Tz::UTC,
        )
        .unwrap();
        assert_eq!(query.ids, Some(vec![10_001, 10_002]));
        assert_eq!(parse("id = 7", Tz::UTC).unwrap().ids, Some(vec![7]));
        let query = parse("project = OPS order by created", Tz::UTC).unwrap();
        assert_eq!(query.projects, Some(vec!["OPS".into()]));
        assert_eq!(query.order, Order::CreatedAsc);
        assert_eq!(parse("", Tz::UTC).unwrap().projects, None);
        assert_eq!(
            parse("updated >= 2025-01-15", Tz::UTC)
                .unwrap()
                .updated_from_ms,
            Some(1_736_899_200_000)
        );
        // The same wall-clock time in New York is five hours later in UTC.
        let query = parse("updated >= \"2025/01/15 10:30\"", Tz::America__New_York).unwrap();
        assert_eq!(
            query.updated_from_ms,
            Some(1_736_937_000_000 + 5 * 3_600_000)
        );
    }

    #[test]
    fn labels_and_types_filter_and_parentheses_group() {
        let query = parse(
            r#"project in (CORE) AND (labels in (Incident, outage) AND issuetype = "Bug")"#,
            Tz::UTC,
        )
        .unwrap();
        assert_eq!(query.projects, Some(vec!["CORE".to_owned()]));
        assert_eq!(
            query.labels,
            Some(vec!["incident".to_owned(), "outage".to_owned()])
        );
        assert_eq!(query.types, Some(vec!["bug".to_owned()]));
    }

    #[test]
    fn unsupported_jql_is_an_error() {
        for bad in [
            "project = A OR project = B",
            "assignee = currentUser()",
            "updated >= \"yesterday\"",
            "project in (A, B",
            "project = \"A",
            "ORDER BY rank",
            "project = A ORDER updated",
            "updated <= \"2025/01/01\"",
            "id in (1, x)",
        ] {
            assert!(parse(bad, Tz::UTC).is_err(), "{bad}");
        }
    }
}
