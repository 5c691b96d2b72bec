//! Strict JSON request bodies: every problem becomes a 422 with field errors, never a 500.

use serde::de::DeserializeOwned;

use super::error::{ApiError, ApiResult};
use crate::domain::validation::FieldError;

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

/// Parses `bytes` as `T`. Unknown fields are refused where `T` says `deny_unknown_fields`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::field("body", "a JSON object is required"));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed: Result<T, _> = serde_path_to_error::deserialize(&mut de);
    let value = match parsed {
        Ok(v) => v,
        Err(err) => {
            let path = err.path().to_string();
            let inner = err.into_inner();
            let msg = inner.to_string();
            let msg = without_position(&msg);
            let error = if inner.is_syntax() || inner.is_eof() {
                FieldError {
                    field: "body".into(),
                    message: format!("malformed JSON: {msg}"),
                }
            } else if let Some(rest) = msg.strip_prefix("missing field ") {
                FieldError {
                    field: join(&path, between_backticks(rest).unwrap_or(rest)),
                    message: "is required".into(),
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
                let field = if path.is_empty() || path == "." {
                    "body".to_string()
                } else {
                    path
                };
                FieldError {
                    field,
                    message: msg.to_string(),
                }
            };
            return Err(ApiError::Validation(vec![error]));
        }
    };
    de.end()
        .map_err(|_| ApiError::field("body", "malformed JSON: trailing characters"))?;
    Ok(value)
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
        let (f, m) = field_error("{\"email\":\"a\",\"password\":\"x\"} x");
        assert_eq!(
            (f.as_str(), m.starts_with("malformed JSON")),
            ("body", true)
        );
    }
}
