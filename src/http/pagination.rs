//! The one cursor-pagination type: keyset on time-ordered ids, so a page costs the same
//! however large the table is.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};

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
    // Keys are canonical (hyphenated, lower-case) UUIDs; anything else did not come from us.
    let canonical = Uuid::try_parse(key).ok()?.to_string();
    (canonical == key).then_some(canonical)
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
    pub fn from_rows<K: std::fmt::Display>(
        mut rows: Vec<T>,
        request: &PageRequest,
        key: impl Fn(&T) -> K,
    ) -> Self {
        let more = rows.len() > request.limit as usize;
        rows.truncate(request.limit as usize);
        let next_cursor = if more {
            rows.last().map(|r| encode_cursor(&key(r).to_string()))
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
        crate::object!({
            "data": self.data.iter().map(view).collect::<Vec<_>>(),
            "next_cursor": self.next_cursor,
        })
    }
}

impl<T> Page<T> {
    /// The list body as `render` writes it, for rows that are JSON text already (`view`
    /// gives a row's): the rows are copied, not parsed.
    pub fn render_text<'a>(&'a self, view: impl Fn(&'a T) -> &'a str) -> String {
        let views: Vec<&str> = self.data.iter().map(view).collect();
        let mut out = String::with_capacity(views.iter().map(|v| v.len() + 1).sum::<usize>() + 64);
        out.push_str("{\"data\":[");
        out.push_str(&views.join(","));
        out.push_str("],\"next_cursor\":");
        // A cursor is base64url: nothing in it needs escaping.
        match &self.next_cursor {
            Some(c) => {
                out.push('"');
                out.push_str(c);
                out.push('"');
            }
            None => out.push_str("null"),
        }
        out.push('}');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_rows_render_as_the_value_rendering_does() {
        let id = |n: u32| format!("0190c8a0-0000-7000-8000-{n:012}");
        let rows: Vec<(String, Value)> = (1..=3)
            .map(|n| {
                (
                    id(n),
                    crate::object!({"id": id(n), "name": "Ada \"Lovelace\"", "tags": ["a", "é"]}),
                )
            })
            .collect();
        for limit in ["2", "3", "5"] {
            let req = PageRequest::from_query(Some(limit), None).unwrap();
            let page = Page::from_rows(rows.clone(), &req, |r| r.0.clone());
            let texts: Vec<(String, String)> = rows
                .iter()
                .map(|(k, v)| (k.clone(), v.to_string()))
                .collect();
            let text_page = Page::from_rows(texts, &req, |r| r.0.clone());
            let text = text_page.render_text(|r| &r.1);
            assert_eq!(
                text,
                page.render(|r| r.1.clone()).to_string(),
                "limit {limit}"
            );
            let parsed: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(parsed["next_cursor"].is_null(), limit != "2");
        }
        let empty: Page<(String, String)> = Page::from_rows(
            Vec::new(),
            &PageRequest::from_query(None, None).unwrap(),
            |r| r.0.clone(),
        );
        assert_eq!(
            empty.render_text(|r| &r.1),
            r#"{"data":[],"next_cursor":null}"#
        );
    }

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
            // Upper case would page from a key no id has (found by proptest).
            &URL_SAFE_NO_PAD.encode("v1:0190C8A0-0000-7000-8000-00000000000A"),
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

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    fn is_validation(e: &ApiError, field: &str) -> bool {
        matches!(e, ApiError::Validation(errs) if errs.len() == 1 && errs[0].field == field)
    }

    proptest! {
        #[test]
        fn limits_are_integers_from_1_to_max(
            raw in prop_oneof![any::<String>(), "[+-]?[0-9]{1,12}", "[ ]?[0-9]{1,3}[ ]?"],
        ) {
            match PageRequest::from_query(Some(&raw), None) {
                Ok(p) => {
                    prop_assert!((1..=MAX_LIMIT).contains(&p.limit));
                    prop_assert_eq!(raw.parse::<u32>(), Ok(p.limit));
                    prop_assert_eq!(p.fetch_limit(), p.limit + 1);
                }
                Err(e) => {
                    prop_assert!(is_validation(&e, "limit"));
                    prop_assert!(!raw.parse::<u32>().is_ok_and(|n| (1..=MAX_LIMIT).contains(&n)));
                }
            }
        }

        #[test]
        fn next_cursors_lead_to_the_last_row(
            ids in prop::collection::vec(any::<u128>(), 1..30),
            limit in 1u32..=MAX_LIMIT,
        ) {
            let rows: Vec<String> = ids.iter().map(|b| Uuid::from_u128(*b).to_string()).collect();
            let request = PageRequest::from_query(Some(&limit.to_string()), None).unwrap();
            let page = Page::from_rows(rows.clone(), &request, |r| r.clone());
            prop_assert_eq!(page.data.len(), rows.len().min(limit as usize));
            match &page.next_cursor {
                Some(cursor) => {
                    prop_assert!(rows.len() > limit as usize);
                    let next = PageRequest::from_query(None, Some(cursor)).unwrap();
                    let last = page.data.last().unwrap();
                    prop_assert_eq!(next.after.as_deref(), Some(last.as_str()));
                    prop_assert_eq!((next.after_key(), next.before_key()), (last.as_str(), last.as_str()));
                }
                None => prop_assert!(rows.len() <= limit as usize),
            }
        }

        #[test]
        fn every_accepted_cursor_is_one_we_issue(
            cursor in prop_oneof![
                any::<String>(),
                "[A-Za-z0-9_-]{0,60}",
                (any::<u128>(), any::<bool>()).prop_map(|(b, upper)| {
                    let key = Uuid::from_u128(b).to_string();
                    let key = if upper { key.to_ascii_uppercase() } else { key };
                    URL_SAFE_NO_PAD.encode(format!("v1:{key}"))
                }),
                any::<u128>().prop_map(|b| encode_cursor(&Uuid::from_u128(b).to_string())),
            ],
        ) {
            match PageRequest::from_query(None, Some(&cursor)) {
                Ok(p) => match p.after {
                    Some(key) => {
                        // A canonical (lower-case) UUID, and this very cursor encodes it.
                        let uuid = Uuid::try_parse(&key).unwrap();
                        prop_assert_eq!(&uuid.to_string(), &key);
                        prop_assert_eq!(encode_cursor(&key), cursor);
                    }
                    None => prop_assert_eq!(cursor, ""),
                },
                Err(e) => prop_assert!(is_validation(&e, "cursor")),
            }
        }
    }
}
