//! The one cursor-pagination type: keyset on time-ordered ids, so a page costs the same
//! however large the table is.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;
use serde_json::{json, Value};
use uuid::Uuid;

use super::error::{ApiError, ApiResult};

pub const DEFAULT_LIMIT: u32 = 50;
pub const MAX_LIMIT: u32 = 200;

/// `?limit=&cursor=` of a list request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: u32,
    /// The id of the last row of the previous page; rows strictly after it (in list order).
    pub after: Option<String>,
}

fn encode_cursor(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("v1:{key}"))
}

fn decode_cursor(cursor: &str) -> Option<String> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let key = text.strip_prefix("v1:")?;
    // Keys are canonical UUIDs; anything else did not come from us.
    (key.len() == 36 && Uuid::try_parse(key).is_ok()).then(|| key.to_string())
}

impl PageRequest {
    pub fn from_query(limit: Option<&str>, cursor: Option<&str>) -> ApiResult<Self> {
        let limit = match limit {
            None => DEFAULT_LIMIT,
            Some(raw) => match raw.parse::<u32>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    return Err(ApiError::field(
                        "limit",
                        format!("must be an integer from 1 to {MAX_LIMIT}"),
                    ))
                }
            },
        };
        let after = match cursor {
            None | Some("") => None,
            Some(c) => Some(
                decode_cursor(c)
                    .ok_or_else(|| ApiError::field("cursor", "is not a cursor from this list"))?,
            ),
        };
        Ok(PageRequest { limit, after })
    }

    /// The key ascending lists continue after: the cursor, or "" (below every id) on the
    /// first page. Binding a key rather than `NULL OR …` keeps the condition a plain index
    /// range, so a page deep in a large list costs what the first one does.
    pub fn after_key(&self) -> &str {
        self.after.as_deref().unwrap_or("")
    }

    /// The key descending (newest-first) lists continue below: the cursor, or "~" (above
    /// every id: ids are lower-case hex and dashes) on the first page.
    pub fn before_key(&self) -> &str {
        self.after.as_deref().unwrap_or("~")
    }

    /// Rows to fetch: one more than the page, to learn whether another page follows.
    pub fn fetch_limit(&self) -> u32 {
        self.limit + 1
    }
}

#[derive(Debug, Serialize)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// `rows` were fetched with `fetch_limit()`; `key` gives a row's id.
    pub fn from_rows(mut rows: Vec<T>, request: &PageRequest, key: impl Fn(&T) -> String) -> Self {
        let more = rows.len() > request.limit as usize;
        rows.truncate(request.limit as usize);
        let next_cursor = if more {
            rows.last().map(|r| encode_cursor(&key(r)))
        } else {
            None
        };
        Page {
            data: rows,
            next_cursor,
        }
    }
}

impl<T> Page<T> {
    /// The list body: `{"data": [...], "next_cursor": …}`, each row rendered by `view`.
    pub fn render(&self, view: impl Fn(&T) -> Value) -> Value {
        json!({
            "data": self.data.iter().map(view).collect::<Vec<_>>(),
            "next_cursor": self.next_cursor,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_default_and_are_bounded() {
        assert_eq!(PageRequest::from_query(None, None).unwrap().limit, 50);
        assert_eq!(
            PageRequest::from_query(Some("200"), None).unwrap().limit,
            200
        );
        for bad in ["0", "201", "-1", "abc", "1.5", ""] {
            assert!(PageRequest::from_query(Some(bad), None).is_err(), "{bad}");
        }
    }

    #[test]
    fn cursors_round_trip_and_reject_forgeries() {
        let id = "0190c8a0-0000-7000-8000-00000000000a";
        let rows = vec![id.to_string(), id.to_string()];
        let req = PageRequest::from_query(Some("1"), None).unwrap();
        let page = Page::from_rows(rows, &req, |r| r.clone());
        assert_eq!(page.data.len(), 1);
        let cursor = page.next_cursor.unwrap();
        let next = PageRequest::from_query(None, Some(&cursor)).unwrap();
        assert_eq!(next.after.as_deref(), Some(id));
        for bad in [
            "!!",
            "djE6eA",
            "eA",
            &URL_SAFE_NO_PAD.encode("v1:' OR 1=1 --"),
        ] {
            assert!(PageRequest::from_query(None, Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn first_page_keys_bound_every_id() {
        let first = PageRequest::from_query(None, None).unwrap();
        for id in [
            "00000000-0000-0000-0000-000000000000",
            "ffffffff-ffff-ffff-ffff-ffffffffffff",
        ] {
            assert!(id > first.after_key());
            assert!(id < first.before_key());
        }
        let id = "0190c8a0-0000-7000-8000-00000000000a";
        let cursor = URL_SAFE_NO_PAD.encode(format!("v1:{id}"));
        let next = PageRequest::from_query(None, Some(&cursor)).unwrap();
        assert_eq!((next.after_key(), next.before_key()), (id, id));
    }

    #[test]
    fn last_page_has_no_cursor() {
        let req = PageRequest::from_query(Some("5"), None).unwrap();
        let page = Page::from_rows(vec!["a".to_string()], &req, |r| r.clone());
        assert!(page.next_cursor.is_none());
    }
}
