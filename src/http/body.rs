//! Strict JSON request bodies: every problem becomes a 422 with field errors, never a 500.

use serde::de::DeserializeOwned;
use serde::de::IgnoredAny;

use super::error::{ApiError, ApiResult};
use crate::domain::validation::FieldError;

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
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
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
    // Then the typed parse from the bytes themselves, which also refuses duplicate keys.
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|err| {
        let path = err.path().to_string();
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
            // The path already ends at the unknown field itself.
            let name = between_backticks(rest).unwrap_or(rest);
            let field = if path.is_empty() || path == "." || !path.ends_with(name) {
                join(&path, name)
            } else {
                path
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
    })
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
