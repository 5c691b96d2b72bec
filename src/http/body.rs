//! Strict JSON request bodies: every problem becomes a 422 with field errors, never a 500.

use serde::de::DeserializeOwned;
use serde::de::IgnoredAny;

use crate::domain::validation::FieldError;
use crate::error::{ApiError, ApiResult};

/// `#[serde(default, with = "crate::http::body::nullable")]` on an `Option<Option<T>>`
/// field tells an absent field (`None`) from an explicit `null` (`Some(None)`), so that a
/// PATCH can clear a field, or refuse to, instead of silently ignoring the null.
pub mod nullable {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
    where
        D: Deserializer<'de>,
        T: Deserialize<'de>,
    {
        Option::<T>::deserialize(d).map(Some)
    }
}

/// serde_json appends " at line L column C"; the field path already says where.
fn without_position(msg: &str) -> &str {
    match msg.rfind(" at line ") {
        Some(i) => &msg[..i],
        None => msg,
    }
}

fn between_backticks(msg: &str) -> Option<&str> {
    let start = msg.find('`')? + 1;
    let len = msg[start..].find('`')?;
    Some(&msg[start..start + len])
}

fn join(path: &str, field: &str) -> String {
    if path.is_empty() || path == "." {
        field.to_string()
    } else {
        format!("{path}.{field}")
    }
}

/// Parses `bytes` as `T`. The body must be one JSON object (serde would otherwise accept a
/// positional array for a struct); unknown fields are refused where `T` says
/// `deny_unknown_fields`.
///
/// Only the typed parse is generic: the checks before it and the mapping of its error are
/// not, so the ~45 body types share one copy of them (a copy per type cost ~3 KB of wasm
/// each, BENCHMARKS.md).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    check_object(bytes)?;
    // Then the typed parse from the bytes themselves, which also refuses duplicate keys.
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(typed_error)
}

/// A JSON object, well formed, or a 422 on field `body`.
#[inline(never)]
fn check_object(bytes: &[u8]) -> ApiResult<()> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::field("body", "a JSON object is required"));
    }
    if std::str::from_utf8(bytes).is_err() {
        return Err(ApiError::field("body", "malformed JSON: not UTF-8"));
    }
    // Syntax first, for the whole body: malformed JSON is never reported as a field problem.
    serde_json::from_slice::<IgnoredAny>(bytes).map_err(|e| {
        let msg = e.to_string();
        ApiError::field(
            "body",
            format!("malformed JSON: {}", without_position(&msg)),
        )
    })?;
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::field("body", "must be a JSON object"));
    }
    Ok(())
}

/// The typed parse's error as the field it concerns and what is wrong with it.
#[inline(never)]
fn typed_error(err: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = err.path().to_string();
    let at_a_key = matches!(
        err.path().iter().next_back(),
        Some(serde_path_to_error::Segment::Map { .. })
    );
    let msg = err.into_inner().to_string();
    let msg = without_position(&msg);
    let error = if let Some(rest) = msg.strip_prefix("missing field ") {
        FieldError {
            field: join(&path, between_backticks(rest).unwrap_or(rest)),
            message: "is required".into(),
        }
    } else if let Some(rest) = msg.strip_prefix("duplicate field ") {
        FieldError {
            field: join(&path, between_backticks(rest).unwrap_or(rest)),
            message: "appears more than once".into(),
        }
    } else if let Some(rest) = msg.strip_prefix("unknown field ") {
        // The path already ends at the unknown field itself: the key as sent, which the
        // message cannot give back when the key holds a backtick.
        let field = if at_a_key {
            path
        } else {
            join(&path, between_backticks(rest).unwrap_or(rest))
        };
        FieldError {
            field,
            message: "is not a known field".into(),
        }
    } else {
        // serde_path_to_error says "?" when it cannot tell where.
        let field = if path.is_empty() || path == "." || path == "?" {
            "body".to_string()
        } else {
            path
        };
        FieldError {
            field,
            message: msg.to_string(),
        }
    };
    ApiError::Validation(vec![error])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Login {
        email: String,
        password: String,
        nested: Option<Nested>,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Nested {
        name: String,
    }

    fn field_error(body: &str) -> (String, String) {
        match parse_json::<Login>(body.as_bytes()) {
            Err(ApiError::Validation(e)) => (e[0].field.clone(), e[0].message.clone()),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parses_valid_bodies() {
        let l: Login = parse_json(br#"{"email":"a@b.co","password":"x"}"#).unwrap();
        assert_eq!(l.email, "a@b.co");
    }

    #[test]
    fn reports_the_field_that_is_wrong() {
        assert_eq!(
            field_error(r#"{"email":"a"}"#),
            ("password".into(), "is required".into())
        );
        let (f, m) = field_error(r#"{"email":5,"password":"x"}"#);
        assert_eq!(f, "email");
        assert!(m.starts_with("invalid type: integer `5`"), "{m}");
        let (f, _) = field_error(r#"{"email":"a","password":"x","admin":true}"#);
        assert_eq!(f, "admin");
        let (f, _) = field_error(r#"{"email":"a","password":"x","nested":{"name":1}}"#);
        assert_eq!(f, "nested.name");
        let (f, _) = field_error(r#"{"email":"a","password":"x","nested":{}}"#);
        assert_eq!(f, "nested.name");
        // An unknown key with a backtick is named as sent (found by proptest).
        let (f, m) = field_error(r#"{"A`":null}"#);
        assert_eq!((f.as_str(), m.as_str()), ("A`", "is not a known field"));
        let (f, _) = field_error(r#"{"email":"a","password":"x","nested":{"a`b":1}}"#);
        assert_eq!(f, "nested.a`b");
    }

    #[test]
    fn duplicate_keys_are_refused() {
        let (f, m) = field_error(r#"{"email":"a","email":"b","password":"x"}"#);
        assert_eq!(f, "email");
        assert_eq!(m, "appears more than once");
    }

    #[test]
    fn malformed_and_empty_bodies_are_422() {
        for body in [
            "",
            "  ",
            "{",
            "{\"email\":",
            "[]",
            "null",
            "\"x\"",
            "{} {}",
            "{\"email\":\"a\",\"password\":\"x\",}",
        ] {
            let (f, _) = field_error(body);
            assert!(f == "body" || f == "email", "{body}: {f}");
        }
        for body in ["{} x", "{} {}", "{\"a\":1,}", "[\"a@b.co\",\"pw\"]"] {
            assert_eq!(field_error(body).0, "body", "{body}");
        }
        let (f, m) = field_error("{\"email\":\"a\",\"password\":\"x\"} x");
        assert_eq!(
            (f.as_str(), m.starts_with("malformed JSON")),
            ("body", true)
        );
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;
    use serde::{Deserialize, Serialize};
    use serde_json::{json, Map, Value};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        name: String,
        count: u32,
        tags: Vec<String>,
        note: Option<String>,
        #[serde(
            default,
            deserialize_with = "nullable::deserialize",
            skip_serializing_if = "Option::is_none"
        )]
        clear: Option<Option<String>>,
    }

    const FIELDS: [&str; 5] = ["name", "count", "tags", "note", "clear"];

    fn body() -> impl Strategy<Value = Body> {
        (
            any::<String>(),
            any::<u32>(),
            prop::collection::vec(any::<String>(), 0..4),
            any::<Option<String>>(),
            any::<Option<Option<String>>>(),
        )
            .prop_map(|(name, count, tags, note, clear)| Body {
                name,
                count,
                tags,
                note,
                clear,
            })
    }

    /// Arbitrary JSON values, nested a few levels.
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(|f| json!(f)),
            any::<String>().prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map(any::<String>(), inner, 0..4)
                    .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
            ]
        })
    }

    fn one_error(r: ApiResult<Body>) -> Result<FieldError, String> {
        match r {
            Err(ApiError::Validation(mut errs)) if errs.len() == 1 => Ok(errs.remove(0)),
            other => Err(format!("{other:?}")),
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_parse_or_are_one_field_error(
            bytes in prop_oneof![
                prop::collection::vec(any::<u8>(), 0..256),
                any::<String>().prop_map(String::into_bytes),
                json_value().prop_map(|v| v.to_string().into_bytes()),
                "[{}\\[\\]\":,0-9a-z \\\\]{0,64}".prop_map(String::into_bytes),
            ],
        ) {
            match parse_json::<Body>(&bytes) {
                Ok(b) => {
                    let v: Value = serde_json::from_slice(&bytes).unwrap();
                    prop_assert!(v.is_object());
                    prop_assert_eq!(serde_json::from_value::<Body>(v).ok(), Some(b));
                }
                Err(e) => {
                    let e = one_error(Err(e));
                    prop_assert!(e.is_ok(), "{:?}", e);
                }
            }
            let _ = parse_json::<Value>(&bytes);
            let _ = parse_json::<IgnoredAny>(&bytes);
        }

        #[test]
        fn serialized_bodies_parse_back(b in body(), pad in "[ \t\r\n]{0,3}") {
            let text = format!("{pad}{}{pad}", serde_json::to_string(&b).unwrap());
            prop_assert_eq!(parse_json::<Body>(text.as_bytes()).ok(), Some(b));
        }

        #[test]
        fn non_objects_are_refused_as_a_body_problem(v in json_value()) {
            prop_assume!(!v.is_object());
            let e = one_error(parse_json::<Body>(v.to_string().as_bytes())).unwrap();
            prop_assert_eq!(e.field, "body");
        }

        #[test]
        fn unknown_fields_are_named(b in body(), key in any::<String>(), value in json_value()) {
            prop_assume!(!FIELDS.contains(&key.as_str()));
            let mut v = serde_json::to_value(&b).unwrap();
            v.as_object_mut().unwrap().insert(key.clone(), value);
            let e = one_error(parse_json::<Body>(v.to_string().as_bytes())).unwrap();
            prop_assert_eq!((e.field.as_str(), e.message.as_str()), (key.as_str(), "is not a known field"));
        }

        #[test]
        fn missing_required_fields_are_named(b in body(), which in 0usize..3) {
            let mut v = serde_json::to_value(&b).unwrap();
            v.as_object_mut().unwrap().remove(FIELDS[which]);
            let e = one_error(parse_json::<Body>(v.to_string().as_bytes())).unwrap();
            prop_assert_eq!((e.field.as_str(), e.message.as_str()), (FIELDS[which], "is required"));
        }

        #[test]
        fn duplicate_fields_are_named(b in body(), which in 0usize..4) {
            let field = FIELDS[which];
            let v = serde_json::to_value(&b).unwrap();
            let text = v.to_string();
            let dup = format!("{{\"{field}\":{},{}", v[field], &text[1..]);
            let e = one_error(parse_json::<Body>(dup.as_bytes())).unwrap();
            prop_assert_eq!((e.field.as_str(), e.message.as_str()), (field, "appears more than once"));
        }

        #[test]
        fn wrong_types_name_their_field(b in body(), which in 0usize..4, value in json_value()) {
            let field = FIELDS[which];
            let mut v = serde_json::to_value(&b).unwrap();
            v[field] = value;
            match parse_json::<Body>(v.to_string().as_bytes()) {
                Ok(parsed) => prop_assert_eq!(serde_json::to_value(&parsed).unwrap()[field].clone(), v[field].clone()),
                Err(e) => {
                    let e = one_error(Err(e)).unwrap();
                    prop_assert!(e.field == field || e.field.starts_with(&format!("{field}[")), "{e:?}");
                }
            }
        }

        #[test]
        fn trailing_content_is_malformed(b in body(), tail in "[^ \t\r\n]\\PC{0,10}") {
            let text = format!("{} {tail}", serde_json::to_string(&b).unwrap());
            let e = one_error(parse_json::<Body>(text.as_bytes())).unwrap();
            prop_assert_eq!(e.field, "body");
            prop_assert!(e.message.starts_with("malformed JSON"), "{}", e.message);
        }
    }
}
