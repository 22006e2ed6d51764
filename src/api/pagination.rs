//! List answers `{"items": [...], "next_cursor": ...}` and keyset paging: the cursor is an
//! opaque token for the last row seen, so a page costs the same however deep it is and rows
//! added meanwhile neither repeat nor shift a page.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::ApiError;
use super::extract::Query;

/// Rows per page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: u32 = 100;
/// Most rows one page may ask for.
pub const MAX_LIMIT: u32 = 500;

/// One page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// A list that is never paged (small, bounded per tenant).
    pub fn complete(items: Vec<T>) -> Self {
        Page {
            items,
            next_cursor: None,
        }
    }

    /// `rows` fetched with [`Keyset::fetch`] rows: when one more than the limit came back,
    /// it is dropped and the cursor points after the last row kept.
    pub fn keyset(mut rows: Vec<T>, keyset: Keyset, key: impl Fn(&T) -> i64) -> Self {
        let next_cursor = if rows.len() > keyset.limit as usize {
            rows.truncate(keyset.limit as usize);
            rows.last().map(|row| encode(key(row)))
        } else {
            None
        };
        Page {
            items: rows,
            next_cursor,
        }
    }
}

/// `limit` and `cursor` of a list request, as the query string gives them (a list's own
/// filters are read from the same query string by another extractor).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Rows per page, 1..=500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// Where a page starts and how long it is; handlers of keyset lists take it as an
/// extractor.
#[derive(Debug, Clone, Copy)]
pub struct Keyset {
    pub limit: u32,
    /// Rows strictly before this key (lists run newest first).
    pub before: Option<i64>,
}

impl Keyset {
    /// Reads `limit` and `cursor` as given in a query string.
    pub fn from_query(limit: Option<u32>, cursor: Option<&str>) -> Result<Self, ApiError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::invalid(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}"),
            ));
        }
        let before = cursor
            .filter(|cursor| !cursor.is_empty())
            .map(|cursor| {
                decode(cursor)
                    .ok_or_else(|| ApiError::invalid("cursor", "is not a cursor this API gave out"))
            })
            .transpose()?;
        Ok(Keyset { limit, before })
    }

    /// Rows to ask the database for: one more than the page, to know if another follows.
    pub fn fetch(&self) -> i64 {
        i64::from(self.limit) + 1
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Keyset {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(page) = Query::<PageQuery>::from_request_parts(parts, state).await?;
        Keyset::from_query(page.limit, page.cursor.as_deref())
    }
}

fn encode(key: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("k1:{key}"))
}

fn decode(cursor: &str) -> Option<i64> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    std::str::from_utf8(&bytes)
        .ok()?
        .strip_prefix("k1:")?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_page_points_after_its_last_row_and_a_short_one_ends() {
        let keyset = Keyset::from_query(Some(2), None).unwrap();
        let page = Page::keyset(vec![9, 8, 7], keyset, |row| *row);
        assert_eq!(page.items, vec![9, 8]);
        let next = Keyset::from_query(Some(2), page.next_cursor.as_deref()).unwrap();
        assert_eq!(next.before, Some(8));
        assert!(Page::keyset(vec![7], next, |row| *row)
            .next_cursor
            .is_none());
    }

    #[test]
    fn bad_limits_and_cursors_are_refused() {
        assert!(Keyset::from_query(Some(0), None).is_err());
        assert!(Keyset::from_query(Some(MAX_LIMIT + 1), None).is_err());
        assert!(Keyset::from_query(None, Some("not-a-cursor")).is_err());
    }
}
