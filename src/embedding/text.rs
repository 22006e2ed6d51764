//! What a record's vector is made from: its [`Document`] (read by each source's SQL), the
//! one text built from it, and that text's hash — a record whose text hash is unchanged is
//! never embedded again — and its lexical vector.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use crate::search::terms::{document_vector, SparseTerms, TITLE_WEIGHT};

/// An embeddable record as its source's SQL reads it: the fields its text is made of, what
/// search filters on and shows.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Document {
    pub record_id: i64,
    /// The source the record came from, upper case (`JIRA`, `GITHUB`, `AZURE_DEVOPS`): its
    /// integration's provider.
    pub source_type: String,
    /// The row's `updated_at`: a vector made from an older row is out of date.
    pub row_updated_at: DateTime<Utc>,
    /// The item's key: `CORE-12`, `org/repo#34`.
    pub key: String,
    /// Issue type, or `Pull request`.
    pub kind: Option<String>,
    pub title: Option<String>,
    pub body: Option<String>,
    pub status: Option<String>,
    /// `new`, `indeterminate` or `done`.
    pub status_category: Option<String>,
    /// Who the item is assigned to (a Jira account, a GitHub login).
    pub assignee: Option<String>,
    /// Project key or repository full name.
    pub scope: Option<String>,
    pub labels: Vec<String>,
    /// Where a person reads the item.
    pub url: Option<String>,
    /// When the item last changed at its source.
    pub updated: Option<DateTime<Utc>>,
}

impl Document {
    /// The text embedded: key, type and title, then status, labels and the body as plain
    /// text, empty parts left out.
    pub fn text(&self) -> String {
        let mut head = self.key.clone();
        if let Some(kind) = self.kind.as_deref().filter(|k| !k.is_empty()) {
            head.push_str(&format!(" [{kind}]"));
        }
        if let Some(title) = self.title.as_deref().filter(|t| !t.is_empty()) {
            head.push(' ');
            head.push_str(title);
        }
        let mut lines = vec![head];
        if let Some(scope) = self.scope.as_deref().filter(|s| !s.is_empty()) {
            lines.push(format!("In: {scope}"));
        }
        if let Some(status) = self.status.as_deref().filter(|s| !s.is_empty()) {
            lines.push(format!("Status: {status}"));
        }
        if !self.labels.is_empty() {
            lines.push(format!("Labels: {}", self.labels.join(", ")));
        }
        if let Some(body) = self
            .body
            .as_deref()
            .map(str::trim)
            .filter(|b| !b.is_empty())
        {
            lines.push(body.to_owned());
        }
        lines.join("\n")
    }

    /// The record's lexical vector: its key, its title (counted [`TITLE_WEIGHT`] times), its
    /// labels and its body.
    pub fn terms(&self) -> SparseTerms {
        let labels = self.labels.join(" ");
        document_vector(&[
            (self.key.as_str(), 1),
            (self.title.as_deref().unwrap_or_default(), TITLE_WEIGHT),
            (labels.as_str(), 1),
            (self.body.as_deref().unwrap_or_default(), 1),
        ])
    }
}

/// The hex SHA-256 of a text.
pub fn text_hash(text: &str) -> String {
    crate::domain::text::to_hex(&Sha256::digest(text.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> Document {
        Document {
            record_id: 1,
            source_type: "JIRA".into(),
            row_updated_at: Utc::now(),
            key: "CORE-1".into(),
            kind: Some("Bug".into()),
            title: Some("Login fails".into()),
            body: Some("  Steps: sign in.  ".into()),
            status: Some("In Progress".into()),
            status_category: Some("indeterminate".into()),
            assignee: None,
            scope: Some("CORE".into()),
            labels: vec!["auth".into(), "web".into()],
            url: None,
            updated: None,
        }
    }

    #[test]
    fn text_holds_key_type_title_status_labels_and_body() {
        assert_eq!(
            document().text(),
            "CORE-1 [Bug] Login fails\nIn: CORE\nStatus: In Progress\nLabels: auth, web\nSteps: sign in."
        );
        let bare = Document {
            kind: None,
            body: None,
            labels: vec![],
            status: None,
            scope: None,
            ..document()
        };
        assert_eq!(bare.text(), "CORE-1 Login fails");
    }

    #[test]
    fn hash_changes_with_the_text_only() {
        let a = document();
        let b = Document {
            row_updated_at: a.row_updated_at + chrono::Duration::hours(1),
            ..document()
        };
        assert_eq!(text_hash(&a.text()), text_hash(&b.text()));
        let c = Document {
            status: Some("Done".into()),
            ..document()
        };
        assert_ne!(text_hash(&a.text()), text_hash(&c.text()));
        assert_eq!(text_hash("").len(), 64);
    }

    #[test]
    fn terms_cover_key_title_labels_and_body() {
        use crate::search::terms::dimension;
        let terms = document().terms();
        for word in ["core", "1", "login", "fails", "auth", "steps", "sign"] {
            assert!(terms.indices.contains(&dimension(word)), "{word}");
        }
        assert!(!terms.indices.contains(&dimension("progress")));
    }
}
