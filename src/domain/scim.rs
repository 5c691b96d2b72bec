//! SCIM 2.0 provisioning, the pure part (RFC 7643 schema, RFC 7644 protocol): error documents,
//! filters, paging, attribute projection, PATCH, resource bodies and the discovery documents.
//! The Worker's SCIM routes turn HTTP into these calls and their results into SQL; everything
//! decided here is host-tested, including the request bodies Okta and Microsoft Entra ID send.
//!
//! The service is tolerant where the two directories that matter deviate from the RFC (Entra's
//! `"op": "Replace"`, `"value": "False"`, member removal with a value list, dotted keys in a
//! path-less value object) and strict where leniency would change the wrong person's access
//! (an unknown attribute, an operator the store cannot answer, a second primary email).

use std::collections::{BTreeSet, HashSet};
use std::fmt;

use serde_json::{json, Map, Value};

use super::time::Timestamp;
use super::validation;

pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const PATCH_OP_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const LIST_RESPONSE_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// The largest page (`ServiceProviderConfig.filter.maxResults`): a page costs its rows, so
/// the bound is what keeps a `Users` page of 10,000 provisioned users as cheap as one of 100.
pub const MAX_RESULTS: u32 = 200;
/// RFC 7644 leaves the default page size to the service; 100 is what Okta asks for anyway.
pub const DEFAULT_COUNT: u32 = 100;
/// Directories send one or two comparisons; the cap bounds the parser's work on junk.
pub const MAX_FILTER_LEN: usize = 1000;
/// Parentheses deeper than any directory sends are refused rather than recursed into.
const MAX_FILTER_DEPTH: usize = 16;
/// Free-text attributes the service stores as sent (externalId, display names, types).
const MAX_TEXT_LEN: usize = 255;
/// Phone numbers are stored as sent (Entra: "values should be stored in the same format they
/// were sent"), so only their length is bounded.
const MAX_PHONE_LEN: usize = 64;
/// Group names are the org's group names (`api::groups`: 100 characters, unique
/// case-insensitively).
const MAX_GROUP_NAME_LEN: usize = 100;

// ---------------------------------------------------------------------------------------------
// Errors

/// A SCIM error (RFC 7644 §3.12): the HTTP status, the `scimType` for 400s and 409s, and a
/// detail that tells the directory's administrator what to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    fn bad_request(scim_type: &'static str, detail: impl Into<String>) -> Self {
        ScimError {
            status: 400,
            scim_type: Some(scim_type),
            detail: detail.into(),
        }
    }

    /// A filter the service cannot parse or answer (an operator other than `eq`/`and`, an
    /// attribute it does not filter on).
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::bad_request("invalidFilter", detail)
    }

    /// A body that is not JSON or not the message it should be (a PatchOp without
    /// `Operations`).
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::bad_request("invalidSyntax", detail)
    }

    /// A PATCH `path` that is malformed or names an attribute the resource does not have.
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::bad_request("invalidPath", detail)
    }

    /// A value of the wrong type or shape, or a required attribute missing.
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::bad_request("invalidValue", detail)
    }

    /// A change to an attribute that cannot change that way (`id`, `meta`, removing
    /// `userName`).
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::bad_request("mutability", detail)
    }

    /// 409: the value is already taken (a `userName` provisioned in this org, a group name).
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        ScimError {
            status: 409,
            scim_type: Some("uniqueness"),
            detail: detail.into(),
        }
    }

    /// A PATCH path with a value filter that selects nothing (RFC 7644 §3.5.2).
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::bad_request("noTarget", detail)
    }

    /// 404 carries no `scimType` (RFC 7644 §3.12 defines none for it).
    pub fn not_found(detail: impl Into<String>) -> Self {
        ScimError {
            status: 404,
            scim_type: None,
            detail: detail.into(),
        }
    }

    /// A query whose results the service will not return in one response.
    pub fn too_many(detail: impl Into<String>) -> Self {
        Self::bad_request("tooMany", detail)
    }

    /// The error document; `status` is a string, as RFC 7644 §3.12 writes it.
    pub fn to_json(&self) -> Value {
        let mut doc = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            doc["scimType"] = json!(t);
        }
        doc
    }
}

impl fmt::Display for ScimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.scim_type {
            Some(t) => write!(f, "{} {t}: {}", self.status, self.detail),
            None => write!(f, "{}: {}", self.status, self.detail),
        }
    }
}

impl std::error::Error for ScimError {}

/// A request body as JSON; anything else is `invalidSyntax`.
pub fn parse_body(bytes: &[u8]) -> Result<Value, ScimError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ScimError::invalid_syntax(format!("the body is not JSON: {e}")))
}

/// The two resource types the service provides: attribute names, schemas and filters differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    /// The core schema URN, also the optional prefix of attribute paths.
    pub fn schema(self) -> &'static str {
        match self {
            ResourceKind::User => USER_SCHEMA,
            ResourceKind::Group => GROUP_SCHEMA,
        }
    }

    /// The `ResourceType` name, and `meta.resourceType`.
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }

    /// The endpoint under the base URL.
    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceKind::User => "/Users",
            ResourceKind::Group => "/Groups",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JSON and text helpers

/// An object's member by name: attribute names are case-insensitive (RFC 7643 §2.1), so an
/// exact match first, then any case.
fn member<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).or_else(|| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    })
}

/// A member that is present and not `null` (RFC 7643 §2.5: null is unassigned).
fn assigned<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    member(obj, name).filter(|v| !v.is_null())
}

/// Trimmed text of at most `max` characters without control characters; `what` names the
/// attribute in the error.
fn clean_text(raw: &str, what: &str, max: usize) -> Result<String, ScimError> {
    let v = raw.trim();
    if v.chars().count() > max {
        return Err(ScimError::invalid_value(format!(
            "{what} must be at most {max} characters"
        )));
    }
    if v.chars().any(char::is_control) {
        return Err(ScimError::invalid_value(format!(
            "{what} must not contain control characters"
        )));
    }
    Ok(v.to_string())
}

fn string_of<'a>(v: &'a Value, what: &str) -> Result<&'a str, ScimError> {
    v.as_str()
        .ok_or_else(|| ScimError::invalid_value(format!("{what} must be a string")))
}

/// Optional text: a string, or `null`/empty for unassigned.
fn optional_text(v: Option<&Value>, what: &str, max: usize) -> Result<Option<String>, ScimError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v) => {
            let t = clean_text(string_of(v, what)?, what, max)?;
            Ok(Some(t).filter(|t| !t.is_empty()))
        }
    }
}

/// A Boolean as directories send it: JSON `true`/`false`, or Entra's `"True"`/`"False"`
/// strings in any case.
fn boolean(v: &Value, what: &str) -> Result<bool, ScimError> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(true),
        Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Ok(false),
        _ => Err(ScimError::invalid_value(format!(
            "{what} must be true or false"
        ))),
    }
}

/// A `userName`: the directory's login name, kept as sent (trimmed). It is often the
/// email, but need not be (Entra sends the UPN, conformance tools a UUID): the account's
/// email comes from `emails` (`ScimUserState::account_email`). Unique in the org
/// case-insensitively (RFC 7643: `caseExact: false`).
fn user_name(v: &Value) -> Result<String, ScimError> {
    let raw = string_of(v, "userName")?.trim();
    if raw.is_empty()
        || raw.chars().count() > MAX_USER_NAME_LEN
        || raw.chars().any(char::is_control)
    {
        return Err(ScimError::invalid_value(format!(
            "userName must be 1 to {MAX_USER_NAME_LEN} characters without control characters"
        )));
    }
    Ok(raw.to_string())
}

/// The longest `userName` kept.
const MAX_USER_NAME_LEN: usize = 254;

fn json_string(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

// ---------------------------------------------------------------------------------------------
// The lexer shared by filters and PATCH paths

#[derive(Debug, Clone, PartialEq)]
enum Token<'a> {
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    /// An attribute path, an operator, `and`, a literal such as `true`, or junk.
    Word(&'a str),
    /// A JSON string literal, unescaped.
    Str(String),
}

/// Splits a filter or path into tokens. Whitespace of any ASCII kind separates them (RFC
/// 7644 asks for one space; query strings arrive with `+` decoded or tabs pasted).
fn tokenize(input: &str) -> Result<Vec<Token<'_>>, String> {
    let mut tokens = Vec::new();
    let bytes = input.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b if b.is_ascii_whitespace() => i += 1,
            b'(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            b')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            b'[' => {
                tokens.push(Token::OpenBracket);
                i += 1;
            }
            b']' => {
                tokens.push(Token::CloseBracket);
                i += 1;
            }
            b'"' => {
                let mut j = i + 1;
                let end = loop {
                    match bytes.get(j) {
                        None => return Err("a string is not closed with a double quote".into()),
                        Some(b'\\') => j += 2,
                        Some(b'"') => break j,
                        Some(_) => j += 1,
                    }
                };
                // The closing quote and every escape start are ASCII: the slice is on
                // character boundaries.
                let literal = &input[i..=end];
                let s: String = serde_json::from_str(literal)
                    .map_err(|_| format!("{literal} is not a valid JSON string"))?;
                tokens.push(Token::Str(s));
                i = end + 1;
            }
            _ => {
                let start = i;
                while i < bytes.len()
                    && !bytes[i].is_ascii_whitespace()
                    && !matches!(bytes[i], b'(' | b')' | b'[' | b']' | b'"')
                {
                    i += 1;
                }
                let word = &input[start..i];
                if word.starts_with('\'') {
                    return Err(format!(
                        "{word} is not a value: strings are written in double quotes"
                    ));
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

fn describe(token: Option<&Token<'_>>) -> String {
    match token {
        None => "the end".into(),
        Some(Token::Open) => "\"(\"".into(),
        Some(Token::Close) => "\")\"".into(),
        Some(Token::OpenBracket) => "\"[\"".into(),
        Some(Token::CloseBracket) => "\"]\"".into(),
        Some(Token::Word(w)) => format!("\"{w}\""),
        Some(Token::Str(s)) => json_string(s),
    }
}

/// The comparison operators of RFC 7644 §3.4.2.2: all are recognised so the error can say
/// which one is unsupported.
const OPERATORS: [&str; 10] = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "pr"];

/// A literal on the right of `eq`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Literal {
    Str(String),
    Bool(bool),
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Str(s) => f.write_str(&json_string(s)),
            Literal::Bool(b) => write!(f, "{b}"),
        }
    }
}

struct Tokens<'a> {
    tokens: Vec<Token<'a>>,
    pos: usize,
}

impl<'a> Tokens<'a> {
    fn peek(&self) -> Option<&Token<'a>> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token<'a>> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn peek_keyword(&self, keyword: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(keyword))
    }

    /// `eq` and its literal; any other operator is refused by name.
    fn eq_literal(&mut self, what: &str) -> Result<Literal, String> {
        match self.next() {
            Some(Token::Word(op)) if op.eq_ignore_ascii_case("eq") => {}
            Some(Token::Word(op)) if OPERATORS.iter().any(|o| op.eq_ignore_ascii_case(o)) => {
                return Err(format!(
                    "the {} operator is not supported (on {what}): only eq, combined with and",
                    op.to_ascii_lowercase()
                ))
            }
            other => {
                return Err(format!(
                    "expected an operator after {what}, found {}",
                    describe(other.as_ref())
                ))
            }
        }
        match self.next() {
            Some(Token::Str(s)) => Ok(Literal::Str(s)),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("true") => Ok(Literal::Bool(true)),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("false") => Ok(Literal::Bool(false)),
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("null") => Err(format!(
                "{what} eq null is not supported: compare with a value"
            )),
            other => Err(format!(
                "expected a value after {what} eq (a string in double quotes, true or false), found {}",
                describe(other.as_ref())
            )),
        }
    }

    /// The inside of a value filter, `[type eq "work" and primary eq true]`, after `[`:
    /// sub-attribute names (lower-cased) and their literals, through the closing `]`.
    fn value_filter(&mut self, attr: &str) -> Result<Vec<(String, Literal)>, String> {
        let mut conditions = Vec::new();
        loop {
            let sub = match self.next() {
                Some(Token::Word(w)) if !w.eq_ignore_ascii_case("not") => w,
                other => {
                    return Err(format!(
                        "expected a sub-attribute of {attr} inside [ ], found {}",
                        describe(other.as_ref())
                    ))
                }
            };
            let literal = self.eq_literal(&format!("{attr}.{sub}"))?;
            conditions.push((sub.to_ascii_lowercase(), literal));
            match self.next() {
                Some(Token::CloseBracket) => return Ok(conditions),
                Some(Token::Word(w)) if w.eq_ignore_ascii_case("and") => {}
                Some(Token::Word(w)) if w.eq_ignore_ascii_case("or") => {
                    return Err(format!("or is not supported inside {attr}[ ]: only and"))
                }
                other => {
                    return Err(format!(
                        "expected and or ] in the filter of {attr}, found {}",
                        describe(other.as_ref())
                    ))
                }
            }
        }
    }
}

/// An attribute path with its schema prefix resolved.
enum AttrName<'a> {
    /// A core attribute path (`userName`, `name.givenName`), prefix removed.
    Core(&'a str),
    /// An attribute of an extension schema (`urn:…:enterprise:2.0:User:department`).
    Extension,
}

/// Strips the resource's core schema URN, in any case (`urn:ietf:params:scim:schemas:core:
/// 2.0:User:userName` is `userName`); any other URN is an extension's.
fn resolve_schema(raw: &str, kind: ResourceKind) -> AttrName<'_> {
    let schema = kind.schema();
    if let Some(head) = raw.get(..schema.len()) {
        if head.eq_ignore_ascii_case(schema) {
            // `get` succeeded: the rest starts on a character boundary.
            let rest = &raw[schema.len()..];
            match rest.strip_prefix(':') {
                Some(path) => return AttrName::Core(path),
                // The schema's URN alone names no attribute.
                None if rest.is_empty() => return AttrName::Core(""),
                None => {}
            }
        }
    }
    if raw.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:")) {
        return AttrName::Extension;
    }
    AttrName::Core(raw)
}

// ---------------------------------------------------------------------------------------------
// Filters (RFC 7644 §3.4.2.2), the subset directories use

/// An attribute the service filters on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterAttr {
    UserName,
    ExternalId,
    Id,
    DisplayName,
    /// `emails.value`, `emails[type eq "work"].value` (Entra's matching attribute),
    /// `emails[type eq "work" and primary eq true].value`, `emails[value eq "…"]`: an email of
    /// the user, of that type (compared case-insensitively) and primacy when given.
    EmailValue {
        type_: Option<String>,
        primary: Option<bool>,
    },
    /// Groups: `members[value eq "…"]` or `members.value`, a member's user id (Entra asks
    /// whether a user is in a group with `id eq "…" and members[value eq "…"]`).
    MemberValue,
}

impl FilterAttr {
    /// RFC 7643's `caseExact`: ids and `externalId` compare exactly; `userName`, names and
    /// emails compare case-insensitively (the SQL must lower both sides or use NOCASE).
    pub fn case_exact(&self) -> bool {
        matches!(
            self,
            FilterAttr::Id | FilterAttr::ExternalId | FilterAttr::MemberValue
        )
    }
}

impl fmt::Display for FilterAttr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FilterAttr::UserName => f.write_str("userName"),
            FilterAttr::ExternalId => f.write_str("externalId"),
            FilterAttr::Id => f.write_str("id"),
            FilterAttr::DisplayName => f.write_str("displayName"),
            FilterAttr::MemberValue => f.write_str("members.value"),
            FilterAttr::EmailValue {
                type_: None,
                primary: None,
            } => f.write_str("emails.value"),
            FilterAttr::EmailValue { type_, primary } => {
                let mut parts = Vec::new();
                if let Some(t) = type_ {
                    parts.push(format!("type eq {}", json_string(t)));
                }
                if let Some(p) = primary {
                    parts.push(format!("primary eq {p}"));
                }
                write!(f, "emails[{}].value", parts.join(" and "))
            }
        }
    }
}

/// One `attr eq "value"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub attr: FilterAttr,
    pub value: String,
}

/// A filter: the conjunction of its conditions (only `and` is supported, so parentheses
/// flatten). No conditions matches every resource.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter(pub Vec<Condition>);

impl fmt::Display for Filter {
    /// The canonical form: what `parse_filter` reads back to the same filter.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|c| format!("{} eq {}", c.attr, json_string(&c.value)))
            .collect();
        f.write_str(&parts.join(" and "))
    }
}

/// Parses a `filter` query parameter (already URL-decoded) for `kind`. Attribute names and
/// keywords are case-insensitive and may carry the core schema URN; values are JSON strings.
/// An empty filter matches everything.
pub fn parse_filter(raw: &str, kind: ResourceKind) -> Result<Filter, ScimError> {
    if raw.chars().count() > MAX_FILTER_LEN {
        return Err(ScimError::invalid_filter(format!(
            "the filter is longer than {MAX_FILTER_LEN} characters"
        )));
    }
    let tokens = tokenize(raw).map_err(ScimError::invalid_filter)?;
    let mut p = FilterParser {
        t: Tokens { tokens, pos: 0 },
        kind,
    };
    if p.t.peek().is_none() {
        return Ok(Filter::default());
    }
    let conditions = p.conjunction(0).map_err(ScimError::invalid_filter)?;
    match p.t.peek() {
        None => Ok(Filter(conditions)),
        Some(Token::Word(w)) if w.eq_ignore_ascii_case("or") => Err(ScimError::invalid_filter(
            "or is not supported: only eq comparisons combined with and",
        )),
        other => Err(ScimError::invalid_filter(format!(
            "unexpected {} after a complete comparison",
            describe(other)
        ))),
    }
}

struct FilterParser<'a> {
    t: Tokens<'a>,
    kind: ResourceKind,
}

impl FilterParser<'_> {
    fn conjunction(&mut self, depth: usize) -> Result<Vec<Condition>, String> {
        let mut conditions = self.term(depth)?;
        while self.t.peek_keyword("and") {
            self.t.next();
            conditions.extend(self.term(depth)?);
        }
        Ok(conditions)
    }

    fn term(&mut self, depth: usize) -> Result<Vec<Condition>, String> {
        match self.t.peek() {
            Some(Token::Open) => {
                if depth >= MAX_FILTER_DEPTH {
                    return Err("the filter nests parentheses too deeply".into());
                }
                self.t.next();
                let inner = self.conjunction(depth + 1)?;
                match self.t.next() {
                    Some(Token::Close) => Ok(inner),
                    Some(Token::Word(w)) if w.eq_ignore_ascii_case("or") => {
                        Err("or is not supported: only eq comparisons combined with and".into())
                    }
                    other => Err(format!(
                        "expected \")\", found {}",
                        describe(other.as_ref())
                    )),
                }
            }
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("not") => {
                Err("not is not supported: only eq comparisons combined with and".into())
            }
            _ => self.comparison().map(|c| vec![c]),
        }
    }

    fn comparison(&mut self) -> Result<Condition, String> {
        let path = match self.t.next() {
            Some(Token::Word(w)) => w,
            other => {
                return Err(format!(
                    "expected an attribute, found {}",
                    describe(other.as_ref())
                ))
            }
        };
        let core = match resolve_schema(path, self.kind) {
            AttrName::Core(p) => p,
            AttrName::Extension => {
                return Err(format!(
                    "{path} cannot be filtered on: only {}",
                    self.supported()
                ))
            }
        };
        let (attr, sub) = match core.split_once('.') {
            Some((a, s)) => (a, Some(s)),
            None => (core, None),
        };
        let attr_lower = attr.to_ascii_lowercase();
        let multi = match (self.kind, attr_lower.as_str()) {
            (ResourceKind::User, "emails") => Some("emails"),
            (ResourceKind::Group, "members") => Some("members"),
            _ => None,
        };
        let Some(multi) = multi else {
            if sub.is_some() || self.t.peek() == Some(&Token::OpenBracket) {
                return Err(format!(
                    "{path} cannot be filtered on: only {}",
                    self.supported()
                ));
            }
            let attr = match (self.kind, attr_lower.as_str()) {
                (ResourceKind::User, "username") => FilterAttr::UserName,
                (_, "externalid") => FilterAttr::ExternalId,
                (_, "id") => FilterAttr::Id,
                (_, "displayname") => FilterAttr::DisplayName,
                _ => {
                    return Err(format!(
                        "{path} cannot be filtered on: only {}",
                        self.supported()
                    ))
                }
            };
            let value = self.string_value(path)?;
            return Ok(Condition { attr, value });
        };
        // emails / members: `.value eq`, `[…].value eq` or `[… value eq "x" …]`.
        let mut bracket = Vec::new();
        let mut trailing_sub = sub;
        if self.t.peek() == Some(&Token::OpenBracket) {
            if sub.is_some() {
                return Err(format!("{path}[ ] is not a valid attribute path"));
            }
            self.t.next();
            bracket = self.t.value_filter(multi)?;
            if let Some(Token::Word(w)) = self.t.peek() {
                if let Some(s) = w.strip_prefix('.') {
                    trailing_sub = Some(s);
                    self.t.next();
                }
            }
        }
        let mut type_ = None;
        let mut primary = None;
        let mut value = None;
        for (sub, literal) in bracket {
            let slot_taken = match (multi, sub.as_str(), literal) {
                (_, "value", Literal::Str(s)) => value.replace(s).is_some(),
                ("emails", "type", Literal::Str(s)) => type_.replace(s).is_some(),
                ("emails", "primary", Literal::Bool(b)) => primary.replace(b).is_some(),
                (_, "value" | "type", Literal::Bool(_)) => {
                    return Err(format!("{multi}.{sub} is compared with a string"))
                }
                ("emails", "primary", Literal::Str(_)) => {
                    return Err("emails.primary is compared with true or false".into())
                }
                _ => {
                    return Err(format!(
                        "{multi}[{sub} …] cannot be filtered on: only {}",
                        self.supported()
                    ))
                }
            };
            if slot_taken {
                return Err(format!("{multi}[ ] compares {sub} twice"));
            }
        }
        match trailing_sub {
            Some(s) if s.eq_ignore_ascii_case("value") => {
                if value.is_some() {
                    return Err(format!(
                        "{multi}[value eq …].value compares the value twice"
                    ));
                }
                value = Some(self.string_value(&format!("{multi}.value"))?);
            }
            Some(s) => {
                return Err(format!(
                    "{multi}.{s} cannot be filtered on: only {}",
                    self.supported()
                ))
            }
            None => {}
        }
        let Some(value) = value else {
            return Err(format!(
                "{multi} filters must compare the value: {multi}.value eq \"…\""
            ));
        };
        let attr = if multi == "emails" {
            FilterAttr::EmailValue { type_, primary }
        } else {
            FilterAttr::MemberValue
        };
        Ok(Condition { attr, value })
    }

    fn string_value(&mut self, what: &str) -> Result<String, String> {
        match self.t.eq_literal(what)? {
            Literal::Str(s) => Ok(s),
            Literal::Bool(_) => Err(format!("{what} is compared with a string")),
        }
    }

    fn supported(&self) -> &'static str {
        match self.kind {
            ResourceKind::User => {
                "userName, externalId, id, displayName, emails.value and emails[type eq \"…\"].value"
            }
            ResourceKind::Group => "displayName, externalId, id and members[value eq \"…\"]",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Paging (RFC 7644 §3.4.2.4)

/// A page: `start_index` is 1-based; `count` is at most `MAX_RESULTS` and may be 0 (only
/// `totalResults` is wanted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Paging {
    pub start_index: u32,
    pub count: u32,
}

impl Paging {
    /// The SQL `OFFSET`.
    pub fn offset(&self) -> u32 {
        self.start_index - 1
    }
}

/// `startIndex` and `count` as sent: a start below 1 is 1 and a negative count is 0 (the
/// RFC's words), a count above `MAX_RESULTS` is `MAX_RESULTS` (the service's page bound),
/// absent or empty takes the default. Text that is not an integer is `invalidValue`: the RFC
/// defines both as integers and a silent default would hide a client's bug.
pub fn parse_paging(start_index: Option<&str>, count: Option<&str>) -> Result<Paging, ScimError> {
    let start = integer(start_index, "startIndex")?.unwrap_or(1);
    let count = integer(count, "count")?.unwrap_or(DEFAULT_COUNT.into());
    Ok(Paging {
        start_index: start.clamp(1, u32::MAX.into()) as u32,
        count: count.clamp(0, MAX_RESULTS.into()) as u32,
    })
}

/// An optionally signed decimal integer, saturating far beyond any page.
fn integer(raw: Option<&str>, what: &str) -> Result<Option<i64>, ScimError> {
    let Some(raw) = raw.map(str::trim).filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    let (negative, digits) = match raw.as_bytes()[0] {
        b'-' => (true, &raw[1..]),
        b'+' => (false, &raw[1..]),
        _ => (false, raw),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ScimError::invalid_value(format!(
            "{what} must be an integer, not {}",
            json_string(raw)
        )));
    }
    let magnitude = digits.bytes().fold(0i64, |n, b| {
        n.saturating_mul(10).saturating_add(i64::from(b - b'0'))
    });
    Ok(Some(if negative { -magnitude } else { magnitude }))
}

// ---------------------------------------------------------------------------------------------
// Attribute projection (RFC 7644 §3.4.2.5, §3.9)

/// What of one top-level attribute a projection names: all of it, or some sub-attributes.
#[derive(Debug)]
enum Selected {
    All,
    Subs(BTreeSet<String>),
}

/// A resource as the `attributes` or `excludedAttributes` query parameters ask for it.
/// Names are comma-separated, case-insensitive, may carry a schema URN and may name a
/// sub-attribute (`name.givenName`, `emails.value`). `id`, `schemas` and `meta.resourceType`
/// are always returned (RFC 7643 `returned: always`); `attributes` wins when both are given;
/// names the resource does not have select nothing (RFC 7644 asks for no error).
pub fn project(resource: &Value, attributes: Option<&str>, excluded: Option<&str>) -> Value {
    let Some(obj) = resource.as_object() else {
        return resource.clone();
    };
    let names_any =
        |list: Option<&str>| list.is_some_and(|l| l.split(',').any(|n| !n.trim().is_empty()));
    if names_any(attributes) {
        return include(obj, &selection(obj, attributes));
    }
    let unwanted = selection(obj, excluded);
    if !unwanted.is_empty() {
        return exclude(obj, &unwanted);
    }
    resource.clone()
}

/// The names of a projection parameter, resolved against the resource's own keys: the key
/// as the resource spells it, and what of it.
fn selection(obj: &Map<String, Value>, list: Option<&str>) -> Vec<(String, Selected)> {
    let mut out: Vec<(String, Selected)> = Vec::new();
    for name in list.unwrap_or("").split(',').map(str::trim) {
        let Some((key, sub)) = resolve_projected(obj, name) else {
            continue;
        };
        match out.iter_mut().find(|(k, _)| *k == key) {
            None => out.push((
                key,
                match sub {
                    None => Selected::All,
                    Some(s) => Selected::Subs(BTreeSet::from([s])),
                },
            )),
            Some((_, sel)) => match (sel, sub) {
                (Selected::All, _) => {}
                (sel, None) => *sel = Selected::All,
                (Selected::Subs(subs), Some(s)) => {
                    subs.insert(s);
                }
            },
        }
    }
    out
}

/// One projected name → the resource's top-level key and the lower-cased sub-attribute.
fn resolve_projected(obj: &Map<String, Value>, name: &str) -> Option<(String, Option<String>)> {
    if name.is_empty() {
        return None;
    }
    let lower = name.to_ascii_lowercase();
    let key_of = |lower_key: &str| obj.keys().find(|k| k.to_ascii_lowercase() == lower_key);
    // A top-level key as it is, an extension's URN included.
    if let Some(k) = key_of(&lower) {
        return Some((k.clone(), None));
    }
    // An extension's attributes live under a key that is the extension's URN.
    let is_urn = |k: &&String| k.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("urn:"));
    for k in obj.keys().filter(is_urn) {
        let prefix = format!("{}:", k.to_ascii_lowercase());
        if let Some(rest) = lower.strip_prefix(&prefix) {
            return Some((k.clone(), Some(rest.to_string())));
        }
    }
    let mut path = lower.as_str();
    let schemas = obj.get("schemas").and_then(Value::as_array);
    let core_urns = [USER_SCHEMA, GROUP_SCHEMA]
        .into_iter()
        .chain(schemas.into_iter().flatten().filter_map(Value::as_str));
    for urn in core_urns {
        let prefix = format!("{}:", urn.to_ascii_lowercase());
        if let Some(rest) = lower.strip_prefix(&prefix) {
            path = rest;
            break;
        }
    }
    let (attr, sub) = match path.split_once('.') {
        Some((a, s)) => (a, Some(s.to_string())),
        None => (path, None),
    };
    key_of(attr).map(|k| (k.clone(), sub))
}

fn always_returned(key: &str) -> bool {
    key == "id" || key == "schemas"
}

/// An object keeping only the named members of `value` (case-insensitively); an array keeps
/// that of each element, dropping elements left empty.
fn keep_subs(value: &Value, subs: &BTreeSet<String>) -> Option<Value> {
    match value {
        Value::Object(m) => {
            let kept: Map<String, Value> = m
                .iter()
                .filter(|(k, _)| subs.contains(&k.to_ascii_lowercase()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            (!kept.is_empty()).then_some(Value::Object(kept))
        }
        Value::Array(items) => {
            let kept: Vec<Value> = items.iter().filter_map(|v| keep_subs(v, subs)).collect();
            (!kept.is_empty()).then_some(Value::Array(kept))
        }
        _ => None,
    }
}

/// Removes the named members of `value` (of each element of an array, dropping elements
/// left empty).
fn drop_subs(value: &mut Value, subs: &BTreeSet<String>) {
    match value {
        Value::Object(m) => m.retain(|k, _| !subs.contains(&k.to_ascii_lowercase())),
        Value::Array(items) => {
            items.iter_mut().for_each(|v| drop_subs(v, subs));
            items.retain(|v| v.as_object().is_none_or(|m| !m.is_empty()));
        }
        _ => {}
    }
}

fn include(obj: &Map<String, Value>, wanted: &[(String, Selected)]) -> Value {
    let mut out = Map::new();
    for (key, value) in obj {
        if always_returned(key) {
            out.insert(key.clone(), value.clone());
            continue;
        }
        let selected = wanted.iter().find(|(k, _)| k == key).map(|(_, s)| s);
        let mut kept = match selected {
            Some(Selected::All) => Some(value.clone()),
            Some(Selected::Subs(subs)) => keep_subs(value, subs),
            None => None,
        };
        if key == "meta" {
            let resource_type = value.get("resourceType").cloned();
            if let Some(rt) = resource_type {
                let meta = kept.get_or_insert_with(|| json!({}));
                if let Some(m) = meta.as_object_mut() {
                    m.insert("resourceType".into(), rt);
                }
            }
        }
        if let Some(v) = kept {
            out.insert(key.clone(), v);
        }
    }
    Value::Object(out)
}

fn exclude(obj: &Map<String, Value>, unwanted: &[(String, Selected)]) -> Value {
    let mut out = Map::new();
    for (key, value) in obj {
        let selected = unwanted.iter().find(|(k, _)| k == key).map(|(_, s)| s);
        let mut dropped = match selected {
            None => BTreeSet::new(),
            Some(_) if always_returned(key) => BTreeSet::new(),
            Some(Selected::All) if key != "meta" => continue,
            // `meta` goes, all but `meta.resourceType`.
            Some(Selected::All) => value
                .as_object()
                .map(|m| m.keys().map(|k| k.to_ascii_lowercase()).collect())
                .unwrap_or_default(),
            Some(Selected::Subs(subs)) => subs.clone(),
        };
        if key == "meta" {
            dropped.remove("resourcetype");
        }
        let mut v = value.clone();
        drop_subs(&mut v, &dropped);
        let emptied = match &v {
            Value::Object(m) => m.is_empty() && !dropped.is_empty(),
            Value::Array(a) => a.is_empty() && !dropped.is_empty(),
            _ => false,
        };
        if !emptied {
            out.insert(key.clone(), v);
        }
    }
    Value::Object(out)
}

// ---------------------------------------------------------------------------------------------
// PATCH (RFC 7644 §3.5.2): parsing into normalised operations

/// `op`, read in any case (Entra sends `Add`, `Replace`, `Remove`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchOpKind {
    Add,
    Replace,
    Remove,
}

/// The attributes a PATCH can change (the service's User and Group attributes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchAttr {
    UserName,
    /// The complex `name` (its sub-attributes `givenName`, `familyName`).
    Name,
    DisplayName,
    Emails,
    PhoneNumbers,
    Active,
    ExternalId,
    Members,
}

impl PatchAttr {
    /// The canonical attribute name.
    pub fn name(self) -> &'static str {
        match self {
            PatchAttr::UserName => "userName",
            PatchAttr::Name => "name",
            PatchAttr::DisplayName => "displayName",
            PatchAttr::Emails => "emails",
            PatchAttr::PhoneNumbers => "phoneNumbers",
            PatchAttr::Active => "active",
            PatchAttr::ExternalId => "externalId",
            PatchAttr::Members => "members",
        }
    }
}

/// The sub-attributes a PATCH can address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubAttr {
    GivenName,
    FamilyName,
    Value,
    Type,
    Primary,
}

impl SubAttr {
    pub fn name(self) -> &'static str {
        match self {
            SubAttr::GivenName => "givenName",
            SubAttr::FamilyName => "familyName",
            SubAttr::Value => "value",
            SubAttr::Type => "type",
            SubAttr::Primary => "primary",
        }
    }
}

/// One comparison of a value filter: `type eq "work"`, `primary eq true`, `value eq "…"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueMatch {
    pub sub: SubAttr,
    pub value: Literal,
}

/// A PATCH target, normalised: the attribute, which of its values (a conjunction; empty is
/// all of them) and which sub-attribute. `emails[type eq "work"].value` is
/// `{Emails, [type eq "work"], Some(Value)}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatchPath {
    pub attr: PatchAttr,
    pub filter: Vec<ValueMatch>,
    pub sub: Option<SubAttr>,
}

impl fmt::Display for PatchPath {
    /// The canonical path: what `parse_patch_path` reads back to the same path.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.attr.name())?;
        if !self.filter.is_empty() {
            let parts: Vec<String> = self
                .filter
                .iter()
                .map(|m| format!("{} eq {}", m.sub.name(), m.value))
                .collect();
            write!(f, "[{}]", parts.join(" and "))?;
        }
        if let Some(sub) = self.sub {
            write!(f, ".{}", sub.name())?;
        }
        Ok(())
    }
}

/// One operation, normalised: always with a path (a path-less value object is one operation
/// per key), `value` absent when the request had none or `null`.
#[derive(Debug, Clone, PartialEq)]
pub struct PatchOp {
    pub op: PatchOpKind,
    pub path: PatchPath,
    pub value: Option<Value>,
}

/// A PATCH request, normalised.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PatchRequest {
    pub ops: Vec<PatchOp>,
    /// The paths skipped because the service does not keep them (an extension schema's
    /// attributes, RFC 7643 attributes such as `title` or `addresses`, `id` inside a value
    /// object): worth a log line, not a failure — Entra's default mappings send several, and
    /// refusing them would block every update of that user.
    pub ignored: Vec<String>,
}

/// A path resolved against the resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResolvedPath {
    Supported(PatchPath),
    /// An attribute the service accepts and does not keep.
    Ignored,
}

/// RFC 7643 User attributes the service does not keep: changing them succeeds and changes
/// nothing, as RFC 7644 §3.3 treats unsupported attributes of a created resource.
const IGNORED_USER_ATTRS: [&str; 15] = [
    "nickname",
    "profileurl",
    "title",
    "usertype",
    "preferredlanguage",
    "locale",
    "timezone",
    "password",
    "ims",
    "photos",
    "addresses",
    "groups",
    "entitlements",
    "roles",
    "x509certificates",
];

/// Parses a PATCH `path` (or a key of a path-less value object) for `kind`.
pub fn parse_patch_path(raw: &str, kind: ResourceKind) -> Result<ResolvedPath, ScimError> {
    let raw = raw.trim();
    let bad = |why: String| ScimError::invalid_path(format!("{}: {why}", json_string(raw)));
    if raw.chars().count() > MAX_FILTER_LEN {
        return Err(bad(format!("longer than {MAX_FILTER_LEN} characters")));
    }
    let core = match resolve_schema(raw, kind) {
        AttrName::Core(p) => p,
        AttrName::Extension => return Ok(ResolvedPath::Ignored),
    };
    let attr_end = core
        .find(|c: char| c == '.' || c == '[' || c.is_ascii_whitespace())
        .unwrap_or(core.len());
    let attr = core[..attr_end].to_ascii_lowercase();
    if matches!(attr.as_str(), "id" | "meta" | "schemas") {
        return Err(ScimError::mutability(format!(
            "{attr} is set by the service and cannot be changed"
        )));
    }
    let attr = match (kind, attr.as_str()) {
        (ResourceKind::User, "username") => PatchAttr::UserName,
        (ResourceKind::User, "name") => PatchAttr::Name,
        (ResourceKind::User, "emails") => PatchAttr::Emails,
        (ResourceKind::User, "phonenumbers") => PatchAttr::PhoneNumbers,
        (ResourceKind::User, "active") => PatchAttr::Active,
        (ResourceKind::Group, "members") => PatchAttr::Members,
        (_, "displayname") => PatchAttr::DisplayName,
        (_, "externalid") => PatchAttr::ExternalId,
        (ResourceKind::User, a) if IGNORED_USER_ATTRS.contains(&a) => {
            return Ok(ResolvedPath::Ignored)
        }
        _ => {
            return Err(bad(format!(
                "a {} has no attribute {}",
                kind.name(),
                json_string(&core[..attr_end])
            )))
        }
    };
    let tokens = tokenize(core).map_err(bad)?;
    let mut t = Tokens { tokens, pos: 0 };
    let Some(Token::Word(head)) = t.next() else {
        return Err(bad("expected an attribute name".into()));
    };
    let mut sub = head.split_once('.').map(|(_, s)| s);
    let mut filter = Vec::new();
    if t.peek() == Some(&Token::OpenBracket) {
        if sub.is_some() {
            return Err(bad(
                "a value filter follows the attribute, not a sub-attribute".into(),
            ));
        }
        t.next();
        filter = t.value_filter(attr.name()).map_err(bad)?;
        match t.next() {
            None => {}
            Some(Token::Word(w)) if w.starts_with('.') && t.peek().is_none() => {
                sub = Some(&w[1..]);
            }
            other => return Err(bad(format!("unexpected {}", describe(other.as_ref())))),
        }
    } else if let Some(other) = t.next() {
        return Err(bad(format!("unexpected {}", describe(Some(&other)))));
    }
    let multi = matches!(
        attr,
        PatchAttr::Emails | PatchAttr::PhoneNumbers | PatchAttr::Members
    );
    if !filter.is_empty() && !multi {
        return Err(bad(format!(
            "{} is single-valued: it has no values to filter",
            attr.name()
        )));
    }
    let filter = filter
        .into_iter()
        .map(|(s, value)| value_match(attr, &s, value))
        .collect::<Result<Vec<_>, String>>()
        .map_err(bad)?;
    let sub = match sub {
        None => None,
        Some(s) => match sub_attr(attr, &s.to_ascii_lowercase()) {
            SubLookup::Known(s) => Some(s),
            SubLookup::Ignored => return Ok(ResolvedPath::Ignored),
            SubLookup::Unknown => {
                return Err(bad(format!("{} has no sub-attribute {s}", attr.name())))
            }
        },
    };
    if attr == PatchAttr::Members && filter.len() > 1 {
        return Err(bad(
            "members are selected by one value: members[value eq \"…\"]".into(),
        ));
    }
    Ok(ResolvedPath::Supported(PatchPath { attr, filter, sub }))
}

enum SubLookup {
    Known(SubAttr),
    Ignored,
    Unknown,
}

fn sub_attr(attr: PatchAttr, sub: &str) -> SubLookup {
    match (attr, sub) {
        (PatchAttr::Name, "givenname") => SubLookup::Known(SubAttr::GivenName),
        (PatchAttr::Name, "familyname") => SubLookup::Known(SubAttr::FamilyName),
        // `formatted` is rendered from the two names; the others are not kept.
        (PatchAttr::Name, "formatted" | "middlename" | "honorificprefix" | "honorificsuffix") => {
            SubLookup::Ignored
        }
        (PatchAttr::Emails | PatchAttr::PhoneNumbers, "value") => SubLookup::Known(SubAttr::Value),
        (PatchAttr::Emails | PatchAttr::PhoneNumbers, "type") => SubLookup::Known(SubAttr::Type),
        (PatchAttr::Emails | PatchAttr::PhoneNumbers, "primary") => {
            SubLookup::Known(SubAttr::Primary)
        }
        (PatchAttr::Emails | PatchAttr::PhoneNumbers, "display") => SubLookup::Ignored,
        // A member is its user id (`members.value` is `members`); `display` and `$ref` are
        // derived from it.
        (PatchAttr::Members, "value") => SubLookup::Known(SubAttr::Value),
        (PatchAttr::Members, "display" | "$ref" | "type") => SubLookup::Ignored,
        _ => SubLookup::Unknown,
    }
}

fn value_match(attr: PatchAttr, sub: &str, value: Literal) -> Result<ValueMatch, String> {
    let sub = match (attr, sub) {
        (PatchAttr::Members, "value") => SubAttr::Value,
        (PatchAttr::Members, _) => {
            return Err("members are selected by value: members[value eq \"…\"]".into())
        }
        (_, "value") => SubAttr::Value,
        (_, "type") => SubAttr::Type,
        (_, "primary") => SubAttr::Primary,
        _ => {
            return Err(format!(
                "{}[{sub} …] is not a filter it supports",
                attr.name()
            ))
        }
    };
    match (sub, &value) {
        (SubAttr::Primary, Literal::Bool(_))
        | (SubAttr::Value | SubAttr::Type, Literal::Str(_)) => Ok(ValueMatch { sub, value }),
        (SubAttr::Primary, _) => Err("primary is compared with true or false".into()),
        _ => Err(format!("{} is compared with a string", sub.name())),
    }
}

/// Parses a PATCH body for `kind`. `schemas` may be absent (some clients omit it) but, when
/// present, must name the PatchOp message; `Operations` must be a non-empty list; each `op`
/// is add/replace/remove in any case; a path-less add/replace's value object becomes one
/// operation per key (keys may be dotted, filtered or URN-prefixed, as Entra sends them).
pub fn parse_patch(body: &Value, kind: ResourceKind) -> Result<PatchRequest, ScimError> {
    let Some(body) = body.as_object() else {
        return Err(ScimError::invalid_syntax("a PATCH body is a JSON object"));
    };
    if let Some(schemas) = assigned(body, "schemas") {
        let names_patch = schemas.as_array().is_some_and(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .any(|s| s.eq_ignore_ascii_case(PATCH_OP_SCHEMA))
        });
        if !names_patch {
            return Err(ScimError::invalid_syntax(format!(
                "schemas must be [\"{PATCH_OP_SCHEMA}\"]"
            )));
        }
    }
    let operations = match assigned(body, "Operations") {
        Some(Value::Array(ops)) if !ops.is_empty() => ops,
        _ => {
            return Err(ScimError::invalid_syntax(
                "Operations must be a non-empty list of operations",
            ))
        }
    };
    let mut request = PatchRequest::default();
    for (i, operation) in operations.iter().enumerate() {
        let Some(operation) = operation.as_object() else {
            return Err(ScimError::invalid_syntax(format!(
                "Operations[{i}] is not an object"
            )));
        };
        let op = match assigned(operation, "op").and_then(Value::as_str) {
            Some(op) if op.eq_ignore_ascii_case("add") => PatchOpKind::Add,
            Some(op) if op.eq_ignore_ascii_case("replace") => PatchOpKind::Replace,
            Some(op) if op.eq_ignore_ascii_case("remove") => PatchOpKind::Remove,
            _ => {
                return Err(ScimError::invalid_syntax(format!(
                    "Operations[{i}].op must be add, replace or remove"
                )))
            }
        };
        let path = match assigned(operation, "path") {
            None => None,
            Some(Value::String(p)) if p.trim().is_empty() => None,
            Some(Value::String(p)) => Some(p.as_str()),
            Some(_) => {
                return Err(ScimError::invalid_path(format!(
                    "Operations[{i}].path must be a string"
                )))
            }
        };
        let value = assigned(operation, "value");
        match (op, path) {
            (_, Some(path)) => push_op(&mut request, kind, op, path, value)?,
            (PatchOpKind::Remove, None) => {
                return Err(ScimError::no_target(format!(
                    "Operations[{i}]: remove needs a path"
                )))
            }
            (_, None) => {
                let Some(Value::Object(attrs)) = value else {
                    return Err(ScimError::invalid_value(format!(
                        "Operations[{i}]: without a path, value must be an object of attributes"
                    )));
                };
                expand(&mut request, kind, op, attrs, true)?;
            }
        }
    }
    Ok(request)
}

fn push_op(
    request: &mut PatchRequest,
    kind: ResourceKind,
    op: PatchOpKind,
    path: &str,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    match parse_patch_path(path, kind)? {
        ResolvedPath::Supported(path) => request.ops.push(PatchOp {
            op,
            path,
            value: value.filter(|v| !v.is_null()).cloned(),
        }),
        ResolvedPath::Ignored => request.ignored.push(path.trim().to_string()),
    }
    Ok(())
}

/// A path-less value object, one operation per key. The core schema's URN as a key holds
/// attributes too; `id`, `meta` and `schemas` are skipped (Okta's group rename repeats the
/// group's `id` in the value).
fn expand(
    request: &mut PatchRequest,
    kind: ResourceKind,
    op: PatchOpKind,
    attrs: &Map<String, Value>,
    top: bool,
) -> Result<(), ScimError> {
    for (key, value) in attrs {
        if top && key.eq_ignore_ascii_case(kind.schema()) {
            if let Value::Object(inner) = value {
                expand(request, kind, op, inner, false)?;
                continue;
            }
        }
        let k = key.trim().to_ascii_lowercase();
        if k == "id" || k == "meta" || k == "schemas" {
            request.ignored.push(key.clone());
            continue;
        }
        push_op(request, kind, op, key, Some(value))?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Users: the state the service keeps, POST/PUT bodies, PATCH

/// An entry of `emails` or `phoneNumbers`, kept as sent (trimmed).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MultiValue {
    pub value: String,
    /// `work`, `home`, `mobile`, … (RFC 7643 canonical values; others are kept too).
    pub type_: Option<String>,
    /// At most one entry of a list is primary.
    pub primary: bool,
}

/// What the service keeps of a SCIM User. `user_name` is the account's email, lower-cased;
/// the names are empty when not given (accounts allow that, as SSO does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimUserState {
    /// As sent (trimmed); compared case-insensitively.
    pub user_name: String,
    pub given_name: String,
    pub family_name: String,
    pub display_name: Option<String>,
    pub emails: Vec<MultiValue>,
    pub phone_numbers: Vec<MultiValue>,
    pub active: bool,
    pub external_id: Option<String>,
}

impl ScimUserState {
    /// The account's email (its login, lower-cased): the primary email, else the first,
    /// else `userName` when it is an email; `None` when the person has no email at all.
    pub fn account_email(&self) -> Option<String> {
        let listed = self
            .emails
            .iter()
            .find(|e| e.primary)
            .or_else(|| self.emails.first())
            .map(|e| e.value.as_str());
        listed
            .into_iter()
            .chain(std::iter::once(self.user_name.as_str()))
            .find_map(|v| validation::normalize_email(v).ok())
    }
}

/// How `emails` and `phoneNumbers` differ: their name and how a value is checked.
struct MultiSpec {
    attr: &'static str,
    check: fn(&str) -> Result<String, String>,
}

const EMAILS: MultiSpec = MultiSpec {
    attr: "emails",
    // Checked as an email, kept as sent: these are the directory's data, not the login.
    check: |raw| validation::normalize_email(raw).map(|_| raw.trim().to_string()),
};

const PHONE_NUMBERS: MultiSpec = MultiSpec {
    attr: "phoneNumbers",
    check: |raw| {
        let v = raw.trim();
        if v.is_empty() {
            Err("is empty".into())
        } else if v.chars().count() > MAX_PHONE_LEN {
            Err(format!("is longer than {MAX_PHONE_LEN} characters"))
        } else if v.chars().any(char::is_control) {
            Err("contains control characters".into())
        } else {
            Ok(v.to_string())
        }
    },
};

/// Part of an entry, as a PATCH gives it: the sub-attributes present.
#[derive(Debug, Default)]
struct PartialEntry {
    value: Option<String>,
    type_: Option<Option<String>>,
    primary: Option<bool>,
}

impl PartialEntry {
    fn apply_to(&self, entry: &mut MultiValue) {
        if let Some(v) = &self.value {
            entry.value.clone_from(v);
        }
        if let Some(t) = &self.type_ {
            entry.type_.clone_from(t);
        }
        if let Some(p) = self.primary {
            entry.primary = p;
        }
    }
}

/// An entry object's sub-attributes (`display` and unknown ones are not kept).
fn partial_entry(v: &Value, spec: &MultiSpec) -> Result<PartialEntry, ScimError> {
    let what = spec.attr;
    match v {
        // Some clients send a list of bare values.
        Value::String(s) => Ok(PartialEntry {
            value: Some(checked_value(s, spec)?),
            ..PartialEntry::default()
        }),
        Value::Object(m) => Ok(PartialEntry {
            value: match assigned(m, "value") {
                None => None,
                Some(v) => Some(checked_value(
                    string_of(v, &format!("{what}.value"))?,
                    spec,
                )?),
            },
            type_: match member(m, "type") {
                None => None,
                Some(t) => Some(optional_text(
                    Some(t),
                    &format!("{what}.type"),
                    MAX_TEXT_LEN,
                )?),
            },
            primary: match assigned(m, "primary") {
                None => None,
                Some(p) => Some(boolean(p, &format!("{what}.primary"))?),
            },
        }),
        _ => Err(ScimError::invalid_value(format!(
            "an entry of {what} must be an object with a value"
        ))),
    }
}

fn checked_value(raw: &str, spec: &MultiSpec) -> Result<String, ScimError> {
    (spec.check)(raw).map_err(|m| {
        ScimError::invalid_value(format!("{}.value {m}: {}", spec.attr, json_string(raw)))
    })
}

fn full_entry(v: &Value, spec: &MultiSpec) -> Result<MultiValue, ScimError> {
    let partial = partial_entry(v, spec)?;
    if partial.value.is_none() {
        return Err(ScimError::invalid_value(format!(
            "an entry of {} needs a value",
            spec.attr
        )));
    }
    let mut entry = MultiValue::default();
    partial.apply_to(&mut entry);
    Ok(entry)
}

/// A whole list: an array of entries (one object alone is read as a list of one; `null` is
/// empty), with at most one primary (RFC 7643 §2.4).
fn entry_list(v: Option<&Value>, spec: &MultiSpec) -> Result<Vec<MultiValue>, ScimError> {
    let list = match v {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| full_entry(i, spec))
            .collect::<Result<Vec<_>, _>>()?,
        Some(one @ Value::Object(_)) => vec![full_entry(one, spec)?],
        Some(_) => {
            return Err(ScimError::invalid_value(format!(
                "{} must be a list of objects",
                spec.attr
            )))
        }
    };
    check_one_primary(&list, spec)?;
    Ok(list)
}

fn check_one_primary(list: &[MultiValue], spec: &MultiSpec) -> Result<(), ScimError> {
    if list.iter().filter(|e| e.primary).count() > 1 {
        return Err(ScimError::invalid_value(format!(
            "at most one of {} may be primary",
            spec.attr
        )));
    }
    Ok(())
}

fn name_part(v: Option<&Value>, what: &str) -> Result<String, ScimError> {
    Ok(optional_text(v, what, validation::MAX_NAME_LEN)?.unwrap_or_default())
}

fn check_schemas(obj: &Map<String, Value>, kind: ResourceKind) -> Result<(), ScimError> {
    if let Some(schemas) = assigned(obj, "schemas") {
        let ok = schemas.as_array().is_some_and(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .any(|s| s.eq_ignore_ascii_case(kind.schema()))
        });
        if !ok {
            return Err(ScimError::invalid_syntax(format!(
                "schemas must include \"{}\"",
                kind.schema()
            )));
        }
    }
    Ok(())
}

/// A User as POST or PUT send it: `userName` (an email) is required; `name.givenName` and
/// `name.familyName`, `displayName`, `emails`, `phoneNumbers`, `externalId` are optional;
/// `active` defaults to true. Attributes the service does not keep (`password`, `title`,
/// `roles`, extensions) are ignored, as RFC 7644 §3.3 allows; read-only ones (`id`, `meta`)
/// too. `schemas`, when sent, must include the User schema.
pub fn parse_user(body: &Value) -> Result<ScimUserState, ScimError> {
    user_body(body, true)
}

/// A User as PUT replaces it: as `parse_user`, except that a body without `active` keeps the
/// current status — a client's PUT that leaves `active` out must not give a suspended person
/// their access back.
pub fn parse_user_put(body: &Value, current: &ScimUserState) -> Result<ScimUserState, ScimError> {
    user_body(body, current.active)
}

fn user_body(body: &Value, default_active: bool) -> Result<ScimUserState, ScimError> {
    let Some(obj) = body.as_object() else {
        return Err(ScimError::invalid_syntax("a User is a JSON object"));
    };
    check_schemas(obj, ResourceKind::User)?;
    let user_name = match assigned(obj, "userName") {
        Some(v) => user_name(v)?,
        None => return Err(ScimError::invalid_value("userName is required")),
    };
    let (given_name, family_name) = match assigned(obj, "name") {
        None => (String::new(), String::new()),
        Some(Value::Object(name)) => (
            name_part(member(name, "givenName"), "name.givenName")?,
            name_part(member(name, "familyName"), "name.familyName")?,
        ),
        Some(_) => return Err(ScimError::invalid_value("name must be an object")),
    };
    Ok(ScimUserState {
        user_name,
        given_name,
        family_name,
        display_name: optional_text(member(obj, "displayName"), "displayName", MAX_TEXT_LEN)?,
        emails: entry_list(member(obj, "emails"), &EMAILS)?,
        phone_numbers: entry_list(member(obj, "phoneNumbers"), &PHONE_NUMBERS)?,
        active: match assigned(obj, "active") {
            None => default_active,
            Some(v) => boolean(v, "active")?,
        },
        external_id: optional_text(member(obj, "externalId"), "externalId", MAX_TEXT_LEN)?,
    })
}

/// The state after a PATCH's operations, in order; nothing changes if one fails.
/// `userName` may be replaced (an email change: Entra sends it) but stays an email; removing
/// it or `active` is `mutability` (both are required here); `null` as a replace value
/// unassigns (RFC 7643 §2.5); `add` without a value is `invalidValue`.
pub fn apply_user_patch(
    state: &ScimUserState,
    ops: &[PatchOp],
) -> Result<ScimUserState, ScimError> {
    let mut next = state.clone();
    for op in ops {
        apply_user_op(&mut next, op)?;
    }
    Ok(next)
}

fn apply_user_op(user: &mut ScimUserState, op: &PatchOp) -> Result<(), ScimError> {
    let PatchOp {
        op: kind,
        path,
        value,
    } = op;
    let value = value.as_ref();
    if *kind == PatchOpKind::Add && value.is_none() {
        return Err(ScimError::invalid_value(format!(
            "add {path} needs a value"
        )));
    }
    // Replace with null unassigns, as remove does.
    let setting = value.filter(|_| *kind != PatchOpKind::Remove);
    match (path.attr, path.sub) {
        (PatchAttr::UserName, None) => match setting {
            Some(v) => user.user_name = user_name(v)?,
            None => {
                return Err(ScimError::mutability(
                    "userName is required: it can be replaced, not removed",
                ))
            }
        },
        (PatchAttr::Active, None) => match setting {
            Some(v) => user.active = boolean(v, "active")?,
            None => {
                return Err(ScimError::mutability(
                    "active cannot be removed: replace it with true or false",
                ))
            }
        },
        (PatchAttr::DisplayName, None) => {
            user.display_name = optional_text(setting, "displayName", MAX_TEXT_LEN)?;
        }
        (PatchAttr::ExternalId, None) => {
            user.external_id = optional_text(setting, "externalId", MAX_TEXT_LEN)?;
        }
        (PatchAttr::Name, Some(SubAttr::GivenName)) => {
            user.given_name = name_part(setting, "name.givenName")?;
        }
        (PatchAttr::Name, Some(SubAttr::FamilyName)) => {
            user.family_name = name_part(setting, "name.familyName")?;
        }
        (PatchAttr::Name, None) => match setting {
            None => {
                user.given_name.clear();
                user.family_name.clear();
            }
            // Sub-attributes not given are left as they are (RFC 7644 §3.5.2.1, §3.5.2.3).
            Some(Value::Object(name)) => {
                if let Some(g) = member(name, "givenName") {
                    user.given_name = name_part(Some(g), "name.givenName")?;
                }
                if let Some(f) = member(name, "familyName") {
                    user.family_name = name_part(Some(f), "name.familyName")?;
                }
            }
            Some(_) => return Err(ScimError::invalid_value("name must be an object")),
        },
        (PatchAttr::Emails, _) => apply_multi(&mut user.emails, *kind, path, value, &EMAILS)?,
        (PatchAttr::PhoneNumbers, _) => {
            apply_multi(&mut user.phone_numbers, *kind, path, value, &PHONE_NUMBERS)?
        }
        _ => {
            return Err(ScimError::invalid_path(format!(
                "{path} is not an attribute of a User"
            )))
        }
    }
    Ok(())
}

fn entry_matches(entry: &MultiValue, filter: &[ValueMatch]) -> bool {
    filter.iter().all(|m| match (m.sub, &m.value) {
        (SubAttr::Value, Literal::Str(s)) => entry.value.eq_ignore_ascii_case(s),
        (SubAttr::Type, Literal::Str(s)) => entry
            .type_
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case(s)),
        (SubAttr::Primary, Literal::Bool(b)) => entry.primary == *b,
        _ => false,
    })
}

/// Add, replace or remove on `emails` or `phoneNumbers` (RFC 7644 §3.5.2).
///
/// - No filter, no sub-attribute: add appends (an entry with the same value is updated),
///   replace replaces the list, remove empties it or, given a list, removes those values.
/// - A filter and/or sub-attribute: the matching entries are updated (remove of an entry or
///   its `value` drops the entry). When add or replace matches nothing, the entry the filter
///   describes is created — `replace emails[type eq "work"].value` on a user without a work
///   email is how Entra sets one — and `noTarget` only when that would have no value.
fn apply_multi(
    list: &mut Vec<MultiValue>,
    kind: PatchOpKind,
    path: &PatchPath,
    value: Option<&Value>,
    spec: &MultiSpec,
) -> Result<(), ScimError> {
    let setting = value.filter(|_| kind != PatchOpKind::Remove);
    if path.filter.is_empty() && path.sub.is_none() {
        match kind {
            PatchOpKind::Remove => match value {
                None => list.clear(),
                // Entra's way: remove with a list of the values to remove.
                Some(v) => {
                    let gone = entry_list(Some(v), spec)?;
                    list.retain(|e| !gone.iter().any(|g| g.value.eq_ignore_ascii_case(&e.value)));
                }
            },
            PatchOpKind::Replace => *list = entry_list(setting, spec)?,
            PatchOpKind::Add => {
                let mut touched = Vec::new();
                for entry in entry_list(setting, spec)? {
                    match list
                        .iter()
                        .position(|e| e.value.eq_ignore_ascii_case(&entry.value))
                    {
                        Some(i) => {
                            list[i] = entry;
                            touched.push(i);
                        }
                        None => {
                            list.push(entry);
                            touched.push(list.len() - 1);
                        }
                    }
                }
                settle_primary(list, &touched, spec)?;
            }
        }
        return Ok(());
    }
    let matching: Vec<usize> = (0..list.len())
        .filter(|&i| entry_matches(&list[i], &path.filter))
        .collect();
    let Some(v) = setting else {
        // Remove (or replace with null): dropping an entry's value drops the entry.
        match path.sub {
            None | Some(SubAttr::Value) => {
                *list = std::mem::take(list)
                    .into_iter()
                    .enumerate()
                    .filter(|(i, _)| !matching.contains(i))
                    .map(|(_, e)| e)
                    .collect();
            }
            Some(SubAttr::Type) => matching.iter().for_each(|&i| list[i].type_ = None),
            Some(SubAttr::Primary) => matching.iter().for_each(|&i| list[i].primary = false),
            Some(_) => {
                return Err(ScimError::invalid_path(format!(
                    "{path} is not a path of a {}",
                    spec.attr
                )))
            }
        }
        return Ok(());
    };
    let partial = match path.sub {
        None => match v {
            Value::Object(_) => partial_entry(v, spec)?,
            _ => {
                return Err(ScimError::invalid_value(format!(
                    "{path} takes an object of sub-attributes"
                )))
            }
        },
        Some(SubAttr::Value) => PartialEntry {
            value: Some(checked_value(
                string_of(v, &format!("{}.value", spec.attr))?,
                spec,
            )?),
            ..PartialEntry::default()
        },
        Some(SubAttr::Type) => PartialEntry {
            type_: Some(optional_text(
                Some(v),
                &format!("{}.type", spec.attr),
                MAX_TEXT_LEN,
            )?),
            ..PartialEntry::default()
        },
        Some(SubAttr::Primary) => PartialEntry {
            primary: Some(boolean(v, &format!("{}.primary", spec.attr))?),
            ..PartialEntry::default()
        },
        Some(_) => {
            return Err(ScimError::invalid_path(format!(
                "{path} is not a path of a {}",
                spec.attr
            )))
        }
    };
    if !matching.is_empty() {
        matching
            .iter()
            .for_each(|&i| partial.apply_to(&mut list[i]));
        return settle_primary(list, &matching, spec);
    }
    let mut created = MultiValue::default();
    for m in &path.filter {
        match (m.sub, &m.value) {
            (SubAttr::Value, Literal::Str(s)) => created.value = checked_value(s, spec)?,
            (SubAttr::Type, Literal::Str(s)) => {
                created.type_ = optional_text(
                    Some(&json!(s)),
                    &format!("{}.type", spec.attr),
                    MAX_TEXT_LEN,
                )?
            }
            (SubAttr::Primary, Literal::Bool(b)) => created.primary = *b,
            _ => {}
        }
    }
    partial.apply_to(&mut created);
    if created.value.is_empty() {
        return Err(ScimError::no_target(format!(
            "no entry of {} matches {path}",
            spec.attr
        )));
    }
    list.push(created);
    let last = list.len() - 1;
    settle_primary(list, &[last], spec)
}

/// The entries an operation just set win primacy: others stop being primary. More than one
/// primary among those is the request's contradiction.
fn settle_primary(
    list: &mut [MultiValue],
    touched: &[usize],
    spec: &MultiSpec,
) -> Result<(), ScimError> {
    if touched.iter().any(|&i| list[i].primary) {
        for (i, e) in list.iter_mut().enumerate() {
            if !touched.contains(&i) {
                e.primary = false;
            }
        }
    }
    check_one_primary(list, spec)
}

// ---------------------------------------------------------------------------------------------
// Groups

/// A Group as POST or PUT send it: `displayName` is required (an org group's name), members
/// are user ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimGroup {
    pub display_name: String,
    pub external_id: Option<String>,
    pub members: Vec<String>,
}

/// How a PATCH changes a group's members, without the current members: Entra adds one member
/// to a group of 10,000 and the store should not read 10,000 rows to apply it. Apply as: when
/// `replace_all`, delete every member first; then delete `remove` and insert `add` (ignoring
/// ids already there). `add` and `remove` are disjoint, sorted and without duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct MemberChange {
    pub replace_all: bool,
    pub add: Vec<String>,
    pub remove: Vec<String>,
}

impl MemberChange {
    pub fn is_empty(&self) -> bool {
        !self.replace_all && self.add.is_empty() && self.remove.is_empty()
    }

    /// The members that actually join and leave, given the current ones: for the audit log,
    /// and for stores that prefer exact statements.
    pub fn resolve(&self, current: &[String]) -> (Vec<String>, Vec<String>) {
        let now: HashSet<&str> = current.iter().map(String::as_str).collect();
        let add: HashSet<&str> = self.add.iter().map(String::as_str).collect();
        let joined = self
            .add
            .iter()
            .filter(|id| !now.contains(id.as_str()))
            .cloned()
            .collect();
        let left = current
            .iter()
            .filter(|id| {
                if self.replace_all {
                    !add.contains(id.as_str())
                } else {
                    self.remove.contains(id)
                }
            })
            .cloned()
            .collect();
        (joined, left)
    }
}

/// The running member change while operations apply in order.
#[derive(Default)]
struct MemberOps {
    replace_all: bool,
    add: BTreeSet<String>,
    remove: BTreeSet<String>,
}

impl MemberOps {
    fn add(&mut self, id: String) {
        self.remove.remove(&id);
        self.add.insert(id);
    }

    fn remove(&mut self, id: String) {
        self.add.remove(&id);
        // After a replacement everything not in `add` is gone already.
        if !self.replace_all {
            self.remove.insert(id);
        }
    }

    fn clear(&mut self) {
        self.replace_all = true;
        self.add.clear();
        self.remove.clear();
    }

    fn into_change(self) -> MemberChange {
        MemberChange {
            replace_all: self.replace_all,
            add: self.add.into_iter().collect(),
            remove: self.remove.into_iter().collect(),
        }
    }
}

/// A group after a PATCH: its display name and external id (changed or not) and the member
/// change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupChange {
    pub display_name: String,
    pub external_id: Option<String>,
    pub members: MemberChange,
}

/// The user ids of a `members` value: a list of `{value}` objects (`display`, `$ref` are
/// derived and ignored), one object alone, or bare ids. A member of `type` Group is refused:
/// org groups do not nest.
fn member_ids(v: &Value) -> Result<Vec<String>, ScimError> {
    let one = |item: &Value| -> Result<String, ScimError> {
        let id = match item {
            Value::String(s) => s.as_str(),
            Value::Object(m) => {
                if assigned(m, "type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.eq_ignore_ascii_case("group"))
                {
                    return Err(ScimError::invalid_value(
                        "groups cannot be members of groups: members are users",
                    ));
                }
                match assigned(m, "value") {
                    Some(v) => string_of(v, "members.value")?,
                    None => {
                        return Err(ScimError::invalid_value(
                            "a member needs a value (the user's id)",
                        ))
                    }
                }
            }
            _ => {
                return Err(ScimError::invalid_value(
                    "a member is an object with a value (the user's id)",
                ))
            }
        };
        let id = clean_text(id, "members.value", MAX_TEXT_LEN)?;
        if id.is_empty() {
            return Err(ScimError::invalid_value("members.value is empty"));
        }
        Ok(id)
    };
    match v {
        Value::Array(items) => items.iter().map(one).collect(),
        Value::Null => Ok(Vec::new()),
        other => Ok(vec![one(other)?]),
    }
}

fn group_name(v: Option<&Value>) -> Result<String, ScimError> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Err(ScimError::invalid_value("displayName is required"));
    };
    validation::text(string_of(v, "displayName")?, MAX_GROUP_NAME_LEN, true)
        .map_err(|m| ScimError::invalid_value(format!("displayName {m}")))
}

/// A Group as POST or PUT send it (Entra's carries an extra Microsoft schema URN: fine).
pub fn parse_group(body: &Value) -> Result<ScimGroup, ScimError> {
    let Some(obj) = body.as_object() else {
        return Err(ScimError::invalid_syntax("a Group is a JSON object"));
    };
    check_schemas(obj, ResourceKind::Group)?;
    let mut members = match assigned(obj, "members") {
        None => Vec::new(),
        Some(v) => member_ids(v)?,
    };
    let mut seen = HashSet::new();
    members.retain(|id| seen.insert(id.clone()));
    Ok(ScimGroup {
        display_name: group_name(member(obj, "displayName"))?,
        external_id: optional_text(member(obj, "externalId"), "externalId", MAX_TEXT_LEN)?,
        members,
    })
}

/// A group after a PATCH's operations, in order. Members are added by a list; removed by
/// `members[value eq "…"]` (RFC, and Entra with the SCIM-compliance flag) or by `path:
/// "members"` with a value list (Entra's default); `remove members` without either, or
/// `replace members`, replaces them all. `displayName` can be replaced, not removed.
pub fn apply_group_patch(
    display_name: &str,
    external_id: Option<&str>,
    ops: &[PatchOp],
) -> Result<GroupChange, ScimError> {
    let mut name = display_name.to_string();
    let mut external = external_id.map(str::to_string);
    let mut members = MemberOps::default();
    for PatchOp { op, path, value } in ops {
        let value = value.as_ref();
        if *op == PatchOpKind::Add && value.is_none() {
            return Err(ScimError::invalid_value(format!(
                "add {path} needs a value"
            )));
        }
        let setting = value.filter(|_| *op != PatchOpKind::Remove);
        match path.attr {
            PatchAttr::DisplayName if path.sub.is_none() => match setting {
                Some(v) => name = group_name(Some(v))?,
                None => {
                    return Err(ScimError::mutability(
                        "displayName is required: it can be replaced, not removed",
                    ))
                }
            },
            PatchAttr::ExternalId if path.sub.is_none() => {
                external = optional_text(setting, "externalId", MAX_TEXT_LEN)?;
            }
            PatchAttr::Members => match (&path.filter[..], op) {
                (
                    [ValueMatch {
                        value: Literal::Str(id),
                        ..
                    }],
                    PatchOpKind::Remove,
                ) => members.remove(id.clone()),
                ([_, ..], _) => {
                    return Err(ScimError::invalid_path(format!(
                        "{path}: members are added with path members and a list, and removed \
                         by members[value eq \"…\"]"
                    )))
                }
                ([], PatchOpKind::Add) => {
                    for id in member_ids(value.unwrap_or(&Value::Null))? {
                        members.add(id);
                    }
                }
                ([], PatchOpKind::Replace) => {
                    let ids = member_ids(value.unwrap_or(&Value::Null))?;
                    members.clear();
                    for id in ids {
                        members.add(id);
                    }
                }
                ([], PatchOpKind::Remove) => match value {
                    None => members.clear(),
                    Some(v) => {
                        for id in member_ids(v)? {
                            members.remove(id);
                        }
                    }
                },
            },
            _ => {
                return Err(ScimError::invalid_path(format!(
                    "{path} is not an attribute of a Group"
                )))
            }
        }
    }
    Ok(GroupChange {
        display_name: name,
        external_id: external,
        members: members.into_change(),
    })
}

// ---------------------------------------------------------------------------------------------
// Resources as the service returns them

/// `meta` of a resource: created and last modified, and its URL.
fn meta(
    kind: ResourceKind,
    base_url: &str,
    id: &str,
    created: Timestamp,
    modified: Timestamp,
) -> Value {
    json!({
        "resourceType": kind.name(),
        "created": created.to_rfc3339(),
        "lastModified": modified.to_rfc3339(),
        "location": format!("{}{}/{id}", base_url.trim_end_matches('/'), kind.endpoint()),
    })
}

fn entries_json(list: &[MultiValue]) -> Value {
    list.iter()
        .map(|e| {
            let mut o = json!({"value": e.value, "primary": e.primary});
            if let Some(t) = &e.type_ {
                o["type"] = json!(t);
            }
            o
        })
        .collect()
}

/// A User resource. Unassigned attributes are left out rather than sent as `null` (Entra's
/// guidance); `name.formatted` is the two names joined; `primary` is always written so a
/// client reads back the `false` it sent.
pub fn user_resource(
    id: &str,
    user: &ScimUserState,
    created: Timestamp,
    last_modified: Timestamp,
    base_url: &str,
) -> Value {
    let mut r = json!({
        "schemas": [USER_SCHEMA],
        "id": id,
        "userName": user.user_name,
        "active": user.active,
        "meta": meta(ResourceKind::User, base_url, id, created, last_modified),
    });
    let mut name = Map::new();
    if !user.given_name.is_empty() {
        name.insert("givenName".into(), json!(user.given_name));
    }
    if !user.family_name.is_empty() {
        name.insert("familyName".into(), json!(user.family_name));
    }
    // Only what was sent: a computed `formatted` would not round-trip (a client compares the
    // whole attribute with what it wrote), and `/Schemas` does not publish it.
    if !name.is_empty() {
        r["name"] = Value::Object(name);
    }
    if let Some(d) = &user.display_name {
        r["displayName"] = json!(d);
    }
    if let Some(x) = &user.external_id {
        r["externalId"] = json!(x);
    }
    if !user.emails.is_empty() {
        r["emails"] = entries_json(&user.emails);
    }
    if !user.phone_numbers.is_empty() {
        r["phoneNumbers"] = entries_json(&user.phone_numbers);
    }
    r
}

/// A member as a Group resource lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    pub user_id: String,
}

/// A Group resource; `members` is always listed (possibly empty) — `project` leaves it out
/// for `excludedAttributes=members`, and the store need not read members then.
pub fn group_resource(
    id: &str,
    group: &ScimGroupResource<'_>,
    created: Timestamp,
    last_modified: Timestamp,
    base_url: &str,
) -> Value {
    let base = base_url.trim_end_matches('/');
    let mut r = json!({
        "schemas": [GROUP_SCHEMA],
        "id": id,
        "displayName": group.display_name,
        "meta": meta(ResourceKind::Group, base_url, id, created, last_modified),
    });
    if let Some(x) = group.external_id {
        r["externalId"] = json!(x);
    }
    if let Some(members) = group.members {
        r["members"] = members
            .iter()
            .map(|m| {
                // `$ref` is the member's `meta.location`; no `display`: it is not stored as
                // sent, so it would not round-trip, and `/Schemas` does not publish it.
                json!({
                    "value": m.user_id,
                    "$ref": format!("{base}/Users/{}", m.user_id),
                })
            })
            .collect();
    }
    r
}

/// What a Group resource shows: `members` is `None` when the request excluded them, so the
/// store skips reading them.
#[derive(Debug, Clone, Copy)]
pub struct ScimGroupResource<'a> {
    pub display_name: &'a str,
    pub external_id: Option<&'a str>,
    pub members: Option<&'a [GroupMember]>,
}

/// Whether a projection leaves `attr` out of the response: lets the store skip reading
/// members for Entra's `excludedAttributes=members`.
pub fn excludes(attributes: Option<&str>, excluded: Option<&str>, attr: &str) -> bool {
    let names = |list: Option<&str>| -> Vec<String> {
        list.unwrap_or("")
            .split(',')
            .map(|n| n.trim().to_ascii_lowercase())
            .filter(|n| !n.is_empty())
            .map(|n| {
                [USER_SCHEMA, GROUP_SCHEMA]
                    .iter()
                    .find_map(|u| {
                        n.strip_prefix(&format!("{}:", u.to_ascii_lowercase()))
                            .map(str::to_string)
                    })
                    .unwrap_or(n)
            })
            .collect()
    };
    let attr = attr.to_ascii_lowercase();
    let wanted = names(attributes);
    if !wanted.is_empty() {
        return !wanted
            .iter()
            .any(|n| *n == attr || n.strip_prefix(&attr).is_some_and(|r| r.starts_with('.')));
    }
    names(excluded).contains(&attr)
}

/// A query's response (RFC 7644 §3.4.2): `itemsPerPage` is the number of resources in it.
pub fn list_response(total: u64, start_index: u32, items: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total,
        "startIndex": start_index,
        "itemsPerPage": items.len(),
        "Resources": items,
    })
}

// ---------------------------------------------------------------------------------------------
// Discovery (RFC 7644 §4, RFC 7643 §5–§7)
//
// The documents are data, as the conformance tools were run against them
// (tests/scim-fixtures/TOOLS.md): they publish only what the service keeps as sent, since a
// client patches exactly what `/Schemas` lists and compares what it reads back.

const SERVICE_PROVIDER_CONFIG_JSON: &str =
    include_str!("scim_discovery/service-provider-config.json");
const RESOURCE_TYPES_JSON: &str = include_str!("scim_discovery/resource-types.json");
const SCHEMAS_JSON: &str = include_str!("scim_discovery/schemas.json");

/// A discovery document with its relative `meta.location` made absolute under `base_url`.
fn located(mut doc: Value, base_url: &str) -> Value {
    let base = base_url.trim_end_matches('/');
    if let Some(loc) = doc.pointer("/meta/location").and_then(Value::as_str) {
        if loc.starts_with('/') {
            doc["meta"]["location"] = json!(format!("{base}{loc}"));
        }
    }
    doc
}

fn documents(text: &str, base_url: &str) -> Vec<Value> {
    // Compiled-in data, checked by the tests below: it always parses.
    let list: Vec<Value> = serde_json::from_str(text).unwrap_or_default();
    list.into_iter().map(|d| located(d, base_url)).collect()
}

/// `/ServiceProviderConfig`: PATCH and filters, nothing else optional.
pub fn service_provider_config(base_url: &str) -> Value {
    located(
        serde_json::from_str(SERVICE_PROVIDER_CONFIG_JSON).unwrap_or_default(),
        base_url,
    )
}

/// `/ResourceTypes`: User and Group.
pub fn resource_types(base_url: &str) -> Vec<Value> {
    documents(RESOURCE_TYPES_JSON, base_url)
}

/// One resource type by name (case-insensitively).
pub fn resource_type(base_url: &str, name: &str) -> Option<Value> {
    resource_types(base_url).into_iter().find(|t| {
        t["id"]
            .as_str()
            .is_some_and(|id| id.eq_ignore_ascii_case(name))
    })
}

/// `/Schemas`: the User and Group schemas.
pub fn schemas(base_url: &str) -> Vec<Value> {
    documents(SCHEMAS_JSON, base_url)
}

/// One schema by URN (case-insensitively).
pub fn schema(base_url: &str, urn: &str) -> Option<Value> {
    schemas(base_url).into_iter().find(|s| {
        s["id"]
            .as_str()
            .is_some_and(|id| id.eq_ignore_ascii_case(urn))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERVICE_PROVIDER_CONFIG_SCHEMA: &str =
        "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";

    const BASE: &str = "https://ums.example/scim/v2";

    fn user(body: Value) -> ScimUserState {
        parse_user(&body).unwrap()
    }

    fn patch_user(state: &ScimUserState, body: Value) -> Result<ScimUserState, ScimError> {
        let request = parse_patch(&body, ResourceKind::User)?;
        apply_user_patch(state, &request.ops)
    }

    fn patch_group(name: &str, body: Value) -> Result<GroupChange, ScimError> {
        let request = parse_patch(&body, ResourceKind::Group)?;
        apply_group_patch(name, None, &request.ops)
    }

    fn filter(raw: &str) -> Filter {
        parse_filter(raw, ResourceKind::User).unwrap()
    }

    fn cond(attr: FilterAttr, value: &str) -> Condition {
        Condition {
            attr,
            value: value.into(),
        }
    }

    fn work_email(type_: Option<&str>, primary: Option<bool>) -> FilterAttr {
        FilterAttr::EmailValue {
            type_: type_.map(str::to_string),
            primary,
        }
    }

    fn entry(value: &str, type_: Option<&str>, primary: bool) -> MultiValue {
        MultiValue {
            value: value.into(),
            type_: type_.map(str::to_string),
            primary,
        }
    }

    /// A user as Okta creates one (developer.okta.com, "SCIM 2.0 protocol reference",
    /// Create the user), minus nothing: password, groups and locale are ignored.
    fn okta_user() -> ScimUserState {
        user(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "test.user@okta.local",
            "name": {"givenName": "Test", "familyName": "User"},
            "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
            "displayName": "Test User",
            "locale": "en-US",
            "externalId": "00ujl29u0le5T6Aj10h7",
            "groups": [],
            "password": "1mz050nq",
            "active": true
        }))
    }

    // ---- errors

    #[test]
    fn error_documents_follow_rfc_7644_section_3_12() {
        let e = ScimError::uniqueness("userName test@example.com is already provisioned");
        assert_eq!(e.status, 409);
        assert_eq!(
            e.to_json(),
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                "status": "409",
                "scimType": "uniqueness",
                "detail": "userName test@example.com is already provisioned",
            })
        );
        let nf = ScimError::not_found("User 42 not found").to_json();
        assert_eq!(nf["status"], "404");
        assert!(nf.get("scimType").is_none(), "404 has no scimType");
        for (e, t) in [
            (ScimError::invalid_filter("x"), "invalidFilter"),
            (ScimError::invalid_syntax("x"), "invalidSyntax"),
            (ScimError::invalid_path("x"), "invalidPath"),
            (ScimError::invalid_value("x"), "invalidValue"),
            (ScimError::mutability("x"), "mutability"),
            (ScimError::no_target("x"), "noTarget"),
            (ScimError::too_many("x"), "tooMany"),
        ] {
            assert_eq!((e.status, e.scim_type), (400, Some(t)));
            assert_eq!(e.to_json()["status"], "400");
        }
        assert_eq!(
            ScimError::invalid_value("bad").to_string(),
            "400 invalidValue: bad"
        );
        let e = parse_body(b"{\"Operations\": [").unwrap_err();
        assert_eq!(e.scim_type, Some("invalidSyntax"));
        assert_eq!(parse_body(b"{\"a\":1}").unwrap(), json!({"a": 1}));
    }

    // ---- filters

    #[test]
    fn the_filters_okta_and_entra_send_parse() {
        // Entra: "Get User by query"; Okta: "Determine if the User already exists".
        assert_eq!(
            filter("userName eq \"Test_User_dfeef4c5-5681-4387-b016-bdf221e82081\""),
            Filter(vec![cond(
                FilterAttr::UserName,
                "Test_User_dfeef4c5-5681-4387-b016-bdf221e82081"
            )])
        );
        assert_eq!(
            filter("userName eq \"test.user@okta.local\""),
            Filter(vec![cond(FilterAttr::UserName, "test.user@okta.local")])
        );
        assert_eq!(
            filter("externalId eq \"58342554-38d6-4ec8-948c-50044d0a33fd\""),
            Filter(vec![cond(
                FilterAttr::ExternalId,
                "58342554-38d6-4ec8-948c-50044d0a33fd"
            )])
        );
        assert_eq!(
            filter("emails[type eq \"work\"].value eq \"ada@example.com\""),
            Filter(vec![cond(
                work_email(Some("work"), None),
                "ada@example.com"
            )])
        );
        // Entra: "Get Group by displayName", and its membership check.
        assert_eq!(
            parse_filter("displayName eq \"displayName\"", ResourceKind::Group).unwrap(),
            Filter(vec![cond(FilterAttr::DisplayName, "displayName")])
        );
        assert_eq!(
            parse_filter(
                "id eq \"8c601452\" and members[value eq \"f648f8d5\"]",
                ResourceKind::Group
            )
            .unwrap(),
            Filter(vec![
                cond(FilterAttr::Id, "8c601452"),
                cond(FilterAttr::MemberValue, "f648f8d5"),
            ])
        );
        assert_eq!(
            parse_filter("members.value eq \"u1\"", ResourceKind::Group).unwrap(),
            Filter(vec![cond(FilterAttr::MemberValue, "u1")])
        );
    }

    #[test]
    fn filters_are_case_insensitive_and_take_the_schema_urn_and_parentheses() {
        let expected = Filter(vec![
            cond(FilterAttr::UserName, "Ada@Example.com"),
            cond(FilterAttr::ExternalId, "x"),
            cond(FilterAttr::DisplayName, "Ada"),
        ]);
        for raw in [
            "userName eq \"Ada@Example.com\" and externalId eq \"x\" and displayName eq \"Ada\"",
            "USERNAME EQ \"Ada@Example.com\" AND EXTERNALID Eq \"x\" And displayname eq \"Ada\"",
            "urn:ietf:params:scim:schemas:core:2.0:User:userName eq \"Ada@Example.com\" and \
             URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:externalId eq \"x\" and displayName eq \"Ada\"",
            "(userName eq \"Ada@Example.com\" and (externalId eq \"x\")) and displayName eq \"Ada\"",
            "((userName eq \"Ada@Example.com\" and externalId eq \"x\" and displayName eq \"Ada\"))",
            "  userName\teq  \"Ada@Example.com\"\nand externalId eq \"x\" and displayName eq \"Ada\" ",
        ] {
            assert_eq!(filter(raw), expected, "{raw}");
        }
        assert_eq!(filter(""), Filter::default());
        assert_eq!(filter("   "), Filter::default());
        assert_eq!(
            filter("Emails[Type EQ \"Work\" AND Primary eq TRUE].Value eq \"a@b.co\""),
            Filter(vec![cond(work_email(Some("Work"), Some(true)), "a@b.co")])
        );
        assert_eq!(
            filter("emails[primary eq false].value eq \"a@b.co\""),
            Filter(vec![cond(work_email(None, Some(false)), "a@b.co")])
        );
        assert_eq!(
            filter("emails.value eq \"a@b.co\""),
            Filter(vec![cond(work_email(None, None), "a@b.co")])
        );
        assert_eq!(
            filter("emails[value eq \"a@b.co\"]"),
            filter("emails.value eq \"a@b.co\"")
        );
        assert_eq!(
            filter("emails[type eq \"work\" and value eq \"a@b.co\"]"),
            filter("emails[type eq \"work\"].value eq \"a@b.co\"")
        );
        assert_eq!(
            filter("urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq \"work\"].value eq \"a@b.co\""),
            filter("emails[type eq \"work\"].value eq \"a@b.co\"")
        );
    }

    #[test]
    fn filter_values_are_json_strings() {
        assert_eq!(
            filter(r#"displayName eq "O\"Brien \\ \u00e9\t\/""#),
            Filter(vec![cond(FilterAttr::DisplayName, "O\"Brien \\ é\t/")])
        );
        assert_eq!(
            filter(r#"displayName eq "😀 \ud83d\ude00""#).0[0].value,
            "😀 😀"
        );
        assert_eq!(filter(r#"displayName eq """#).0[0].value, "");
        for bad in [
            r#"displayName eq "open"#,
            r#"displayName eq "bad \x escape""#,
            r#"displayName eq "lone \ud83d surrogate""#,
            "displayName eq 'single'",
        ] {
            let e = parse_filter(bad, ResourceKind::User).unwrap_err();
            assert_eq!(e.scim_type, Some("invalidFilter"), "{bad}");
        }
        let e = parse_filter("userName eq 'a@b.co'", ResourceKind::User).unwrap_err();
        assert!(e.detail.contains("double quotes"), "{}", e.detail);
    }

    #[test]
    fn everything_else_is_an_invalid_filter_that_says_why() {
        let refused = |raw: &str, kind: ResourceKind, why: &str| {
            let e = parse_filter(raw, kind).unwrap_err();
            assert_eq!(
                (e.status, e.scim_type),
                (400, Some("invalidFilter")),
                "{raw}"
            );
            assert!(e.detail.contains(why), "{raw}: {}", e.detail);
        };
        use ResourceKind::{Group, User};
        refused(
            "userName eq \"a\" or userName eq \"b\"",
            User,
            "or is not supported",
        );
        refused(
            "(userName eq \"a\" or userName eq \"b\")",
            User,
            "or is not supported",
        );
        refused("not (userName eq \"a\")", User, "not is not supported");
        refused(
            "userName co \"a\"",
            User,
            "the co operator is not supported",
        );
        refused(
            "userName SW \"a\"",
            User,
            "the sw operator is not supported",
        );
        refused("userName ne \"a\"", User, "the ne operator");
        refused("title pr", User, "title cannot be filtered on");
        refused("userName pr", User, "the pr operator");
        refused(
            "meta.lastModified gt \"2011-05-13T04:42:34Z\"",
            User,
            "cannot be filtered on",
        );
        refused("nickName eq \"a\"", User, "nickName cannot be filtered on");
        refused(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq \"1\"",
            User,
            "cannot be filtered on",
        );
        refused(
            "urn:ietf:params:scim:schemas:core:2.0:Group:displayName eq \"a\"",
            User,
            "cannot be filtered on",
        );
        refused("members[value eq \"a\"]", User, "cannot be filtered on");
        refused("userName eq \"a\"", Group, "userName cannot be filtered on");
        refused("emails.value eq \"a\"", Group, "cannot be filtered on");
        refused("userName eq null", User, "eq null is not supported");
        refused("userName eq true", User, "compared with a string");
        refused("userName eq 42", User, "expected a value");
        refused("externalId eq jyoung", User, "expected a value");
        refused("userName eq", User, "expected a value");
        refused("userName", User, "expected an operator");
        refused("userName \"a\"", User, "expected an operator");
        refused("userName eq \"a\" and", User, "expected an attribute");
        refused("userName eq \"a\" userName eq \"b\"", User, "unexpected");
        refused("(userName eq \"a\"", User, "expected \")\"");
        refused("userName eq \"a\")", User, "unexpected \")\"");
        refused(
            "emails.type eq \"work\"",
            User,
            "emails.type cannot be filtered on",
        );
        refused("emails[type eq \"work\"]", User, "must compare the value");
        refused(
            "emails[display eq \"x\"].value eq \"a\"",
            User,
            "cannot be filtered on",
        );
        refused(
            "emails[type eq \"a\" or type eq \"b\"].value eq \"a\"",
            User,
            "or is not supported inside",
        );
        refused(
            "emails[type eq true].value eq \"a\"",
            User,
            "compared with a string",
        );
        refused(
            "emails[primary eq \"true\"].value eq \"a\"",
            User,
            "true or false",
        );
        refused(
            "emails[type eq \"a\" and type eq \"b\"].value eq \"x\"",
            User,
            "twice",
        );
        refused("emails[value eq \"a\"].value eq \"b\"", User, "twice");
        refused(
            "emails.value[type eq \"work\"] eq \"b\"",
            User,
            "not a valid attribute path",
        );
        refused(
            "emails[type eq \"work\"].display eq \"b\"",
            User,
            "cannot be filtered on",
        );
        refused("emails[type eq \"work\"", User, "expected and or ]");
        refused("members[display eq \"a\"]", Group, "cannot be filtered on");
        refused("]", User, "expected an attribute");
        refused(
            &format!("{}userName eq \"a\"", "(".repeat(20)),
            User,
            "too deeply",
        );
        refused(
            &format!("displayName eq \"{}\"", "a".repeat(990)),
            User,
            "longer than 1000",
        );
        assert!(parse_filter(&format!("displayName eq \"{}\"", "a".repeat(980)), User).is_ok());
    }

    #[test]
    fn filters_render_canonically_and_say_how_to_compare() {
        let f = filter(
            "USERNAME eq \"a\" and (emails[TYPE eq \"work\" and primary eq true].value eq \"b\\\"\")",
        );
        assert_eq!(
            f.to_string(),
            "userName eq \"a\" and emails[type eq \"work\" and primary eq true].value eq \"b\\\"\""
        );
        assert_eq!(parse_filter(&f.to_string(), ResourceKind::User).unwrap(), f);
        assert!(FilterAttr::Id.case_exact());
        assert!(FilterAttr::ExternalId.case_exact());
        assert!(FilterAttr::MemberValue.case_exact());
        assert!(!FilterAttr::UserName.case_exact());
        assert!(!FilterAttr::DisplayName.case_exact());
        assert!(!work_email(Some("work"), None).case_exact());
    }

    // ---- paging

    #[test]
    fn paging_follows_rfc_7644_section_3_4_2_4() {
        let p = |s: Option<&str>, c: Option<&str>| parse_paging(s, c).unwrap();
        assert_eq!(
            p(None, None),
            Paging {
                start_index: 1,
                count: 100
            }
        );
        assert_eq!(p(Some("1"), Some("100")).offset(), 0);
        assert_eq!(
            p(Some("11"), Some("10")),
            Paging {
                start_index: 11,
                count: 10
            }
        );
        assert_eq!(p(Some("11"), Some("10")).offset(), 10);
        assert_eq!(p(Some("0"), None).start_index, 1, "below 1 is 1");
        assert_eq!(p(Some("-5"), None).start_index, 1);
        assert_eq!(p(None, Some("-1")).count, 0, "negative is 0");
        assert_eq!(p(None, Some("0")).count, 0, "0: totalResults only");
        assert_eq!(p(None, Some("201")).count, 200, "at most maxResults");
        assert_eq!(p(None, Some("99999999999999999999999")).count, 200);
        assert_eq!(
            p(Some("99999999999999999999999"), None).start_index,
            u32::MAX
        );
        assert_eq!(
            p(Some(" 7 "), Some("+5")),
            Paging {
                start_index: 7,
                count: 5
            }
        );
        assert_eq!(
            p(Some(""), Some("")),
            Paging {
                start_index: 1,
                count: 100
            }
        );
        for (s, c) in [
            (Some("abc"), None),
            (None, Some("1.5")),
            (None, Some("10x")),
            (Some("-"), None),
            (Some("1e3"), None),
            (None, Some("--1")),
        ] {
            let e = parse_paging(s, c).unwrap_err();
            assert_eq!(e.scim_type, Some("invalidValue"), "{s:?} {c:?}");
        }
        assert!(parse_paging(None, Some("ten"))
            .unwrap_err()
            .detail
            .contains("count must be an integer"));
    }

    // ---- projection

    fn sample_user_resource() -> Value {
        let mut state = okta_user();
        state.phone_numbers = vec![entry("+14155550100", Some("mobile"), false)];
        user_resource("u-1", &state, Timestamp(0), Timestamp(1000), BASE)
    }

    #[test]
    fn attributes_returns_what_was_asked_and_what_is_always_returned() {
        let r = sample_user_resource();
        assert_eq!(
            project(&r, Some("userName"), None),
            json!({
                "schemas": [USER_SCHEMA],
                "id": "u-1",
                "userName": "test.user@okta.local",
                "meta": {"resourceType": "User"},
            })
        );
        assert_eq!(
            project(
                &r,
                Some("urn:ietf:params:scim:schemas:core:2.0:User:USERNAME"),
                None
            ),
            project(&r, Some("userName"), None)
        );
        let p = project(&r, Some(" name.givenName , emails.value,emails.TYPE"), None);
        assert_eq!(p["name"], json!({"givenName": "Test"}));
        assert_eq!(
            p["emails"],
            json!([{"value": "test.user@okta.local", "type": "work"}])
        );
        assert!(p.get("userName").is_none() && p.get("active").is_none());
        let p = project(&r, Some("name.givenName,name"), None);
        assert_eq!(p["name"], r["name"], "the whole attribute wins");
        let p = project(&r, Some("meta.created,phoneNumbers.display"), None);
        assert_eq!(
            p["meta"],
            json!({"resourceType": "User", "created": "1970-01-01T00:00:00.000Z"})
        );
        assert!(p.get("phoneNumbers").is_none(), "nothing of it was there");
        let p = project(&r, Some("bogus,,"), None);
        assert_eq!(p.as_object().unwrap().len(), 3, "{p}");
        assert_eq!(project(&r, Some(""), None), r, "an empty list is no list");
        assert_eq!(project(&r, None, None), r);
        assert_eq!(
            project(&r, Some("userName"), Some("userName")),
            project(&r, Some("userName"), None),
            "attributes wins"
        );
    }

    #[test]
    fn excluded_attributes_leave_out_all_but_what_is_always_returned() {
        let group = group_resource(
            "g-1",
            &ScimGroupResource {
                display_name: "Engineering",
                external_id: Some("8aa1a0c0"),
                members: Some(&[GroupMember {
                    user_id: "u-1".into(),
                }]),
            },
            Timestamp(0),
            Timestamp(0),
            BASE,
        );
        // Entra: "GET /Groups/{id}?excludedAttributes=members".
        let p = project(&group, None, Some("members"));
        assert!(p.get("members").is_none());
        assert_eq!(p["displayName"], "Engineering");
        assert_eq!(p["id"], "g-1");
        let r = sample_user_resource();
        let p = project(
            &r,
            None,
            Some("id,schemas,meta,emails.value,name.givenName,Active"),
        );
        assert_eq!(p["id"], "u-1");
        assert_eq!(p["schemas"], json!([USER_SCHEMA]));
        assert_eq!(p["meta"], json!({"resourceType": "User"}));
        assert_eq!(p["emails"], json!([{"type": "work", "primary": true}]));
        assert_eq!(p["name"], json!({"familyName": "User"}));
        assert!(p.get("active").is_none());
        let p = project(
            &r,
            None,
            Some("phoneNumbers.value,phoneNumbers.type,phoneNumbers.primary"),
        );
        assert!(p.get("phoneNumbers").is_none(), "emptied entries go: {p}");
        let p = project(&r, None, Some("meta.resourceType,meta.location"));
        assert_eq!(p["meta"]["resourceType"], "User");
        assert!(p["meta"].get("location").is_none());
        assert_eq!(
            project(&json!("not an object"), Some("a"), None),
            json!("not an object")
        );
    }

    #[test]
    fn projection_reaches_extension_attributes_by_their_urn() {
        let ext = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let r = json!({
            "schemas": [USER_SCHEMA, ext],
            "id": "1",
            "userName": "a@b.co",
            ext: {"department": "R&D", "employeeNumber": "7"},
        });
        let p = project(&r, Some(&format!("{ext}:department")), None);
        assert_eq!(p[ext], json!({"department": "R&D"}));
        let p = project(&r, Some(&ext.to_uppercase()), None);
        assert_eq!(p[ext], r[ext]);
        let p = project(&r, None, Some(&format!("{ext}:employeeNumber")));
        assert_eq!(p[ext], json!({"department": "R&D"}));
    }

    #[test]
    fn excludes_tells_the_store_when_members_need_not_be_read() {
        assert!(excludes(None, Some("members"), "members"));
        assert!(excludes(None, Some("displayName, Members"), "members"));
        assert!(excludes(
            None,
            Some("urn:ietf:params:scim:schemas:core:2.0:Group:members"),
            "members"
        ));
        assert!(!excludes(None, Some("members.display"), "members"));
        assert!(!excludes(None, None, "members"));
        assert!(excludes(Some("displayName"), None, "members"));
        assert!(!excludes(
            Some("displayName,members.value"),
            None,
            "members"
        ));
        assert!(
            !excludes(Some("members"), Some("members"), "members"),
            "attributes wins"
        );
    }

    // ---- PATCH parsing

    #[test]
    fn patch_paths_are_normalised() {
        let path = |raw: &str| match parse_patch_path(raw, ResourceKind::User).unwrap() {
            ResolvedPath::Supported(p) => p,
            ResolvedPath::Ignored => panic!("{raw} ignored"),
        };
        let plain = |attr| PatchPath {
            attr,
            filter: Vec::new(),
            sub: None,
        };
        assert_eq!(path("userName"), plain(PatchAttr::UserName));
        assert_eq!(path("USERNAME"), plain(PatchAttr::UserName));
        assert_eq!(
            path("urn:ietf:params:scim:schemas:core:2.0:User:userName"),
            plain(PatchAttr::UserName)
        );
        assert_eq!(
            path("URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:USER:active"),
            plain(PatchAttr::Active)
        );
        assert_eq!(path(" active "), plain(PatchAttr::Active));
        assert_eq!(
            path("name.givenName"),
            PatchPath {
                attr: PatchAttr::Name,
                filter: Vec::new(),
                sub: Some(SubAttr::GivenName)
            }
        );
        let work = path("emails[type eq \"work\"].value");
        assert_eq!(
            work,
            PatchPath {
                attr: PatchAttr::Emails,
                filter: vec![ValueMatch {
                    sub: SubAttr::Type,
                    value: Literal::Str("work".into())
                }],
                sub: Some(SubAttr::Value)
            }
        );
        assert_eq!(work.to_string(), "emails[type eq \"work\"].value");
        assert_eq!(path("Emails[TYPE Eq \"work\"].VALUE"), work);
        assert_eq!(path("emails [type eq \"work\"] .value"), work);
        assert_eq!(
            path("urn:ietf:params:scim:schemas:core:2.0:User:emails[type eq \"work\"].value"),
            work
        );
        assert_eq!(
            path("phoneNumbers[type eq \"mobile\" and primary eq true]").to_string(),
            "phoneNumbers[type eq \"mobile\" and primary eq true]"
        );
        assert_eq!(path("emails.primary").to_string(), "emails.primary");
        for ignored in [
            "nickName",
            "title",
            "addresses[type eq \"work\"].postalCode",
            "addresses[type eq \"work\"].formatted",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:tag",
            "name.formatted",
            "name.middleName",
            "emails[type eq \"work\"].display",
            "password",
            "roles",
        ] {
            assert_eq!(
                parse_patch_path(ignored, ResourceKind::User),
                Ok(ResolvedPath::Ignored),
                "{ignored}"
            );
        }
        let refused = |raw: &str, kind: ResourceKind, t: &str| {
            let e = parse_patch_path(raw, kind).unwrap_err();
            assert_eq!(e.scim_type, Some(t), "{raw}: {}", e.detail);
        };
        refused("id", ResourceKind::User, "mutability");
        refused("meta.lastModified", ResourceKind::User, "mutability");
        refused("Schemas", ResourceKind::Group, "mutability");
        refused("favouriteColour", ResourceKind::User, "invalidPath");
        refused("members", ResourceKind::User, "invalidPath");
        refused("userName", ResourceKind::Group, "invalidPath");
        refused("name.nickname", ResourceKind::User, "invalidPath");
        refused("emails.foo", ResourceKind::User, "invalidPath");
        refused("active[value eq \"x\"]", ResourceKind::User, "invalidPath");
        refused(
            "emails.value[type eq \"work\"]",
            ResourceKind::User,
            "invalidPath",
        );
        refused("emails[type eq \"work\"", ResourceKind::User, "invalidPath");
        refused(
            "emails[type eq \"work\"] extra",
            ResourceKind::User,
            "invalidPath",
        );
        refused(
            "emails[type co \"work\"].value",
            ResourceKind::User,
            "invalidPath",
        );
        refused(
            "emails[display eq \"x\"]",
            ResourceKind::User,
            "invalidPath",
        );
        refused(
            "emails[primary eq \"yes\"]",
            ResourceKind::User,
            "invalidPath",
        );
        refused("emails[type eq true]", ResourceKind::User, "invalidPath");
        refused(
            "members[display eq \"x\"]",
            ResourceKind::Group,
            "invalidPath",
        );
        refused(
            "members[value eq \"a\" and value eq \"b\"]",
            ResourceKind::Group,
            "invalidPath",
        );
        refused(
            "urn:ietf:params:scim:schemas:core:2.0:User",
            ResourceKind::User,
            "invalidPath",
        );
    }

    /// Found by the property tests: a character straddling the length of the schema URN
    /// once made the prefix check slice inside it.
    #[test]
    fn multi_byte_text_where_a_schema_urn_would_end_is_not_sliced() {
        let p = PatchPath {
            attr: PatchAttr::Emails,
            filter: vec![ValueMatch {
                sub: SubAttr::Value,
                value: Literal::Str("\u{0} #\u{10000}#a\u{0}\u{10000}\u{a1}".into()),
            }],
            sub: None,
        };
        assert_eq!(
            parse_patch_path(&p.to_string(), ResourceKind::User),
            Ok(ResolvedPath::Supported(p))
        );
        let junk = "®!!ක®aA#𐢧a#!!aA꯰!!0𞸻A￼ઓaౝ0";
        assert!(parse_patch_path(junk, ResourceKind::User).is_err());
        assert!(parse_filter(junk, ResourceKind::Group).is_err());
    }

    #[test]
    fn patch_bodies_are_checked_and_normalised() {
        let u = ResourceKind::User;
        let syntax = |body: Value| parse_patch(&body, u).unwrap_err().scim_type;
        assert_eq!(syntax(json!([])), Some("invalidSyntax"));
        assert_eq!(
            syntax(
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                           "Operations": [{"op": "replace", "path": "active", "value": false}]})
            ),
            Some("invalidSyntax"),
            "a wrong message schema is refused"
        );
        assert_eq!(
            syntax(
                json!({"schemas": "urn:ietf:params:scim:api:messages:2.0:PatchOp",
                           "Operations": [{"op": "replace", "path": "active", "value": false}]})
            ),
            Some("invalidSyntax")
        );
        assert_eq!(
            syntax(json!({"schemas": [PATCH_OP_SCHEMA]})),
            Some("invalidSyntax")
        );
        assert_eq!(
            syntax(json!({"Operations": []})),
            Some("invalidSyntax"),
            "no operations"
        );
        assert_eq!(
            syntax(json!({"Operations": ["replace"]})),
            Some("invalidSyntax")
        );
        assert_eq!(
            syntax(json!({"Operations": [{"op": "move", "path": "active"}]})),
            Some("invalidSyntax")
        );
        assert_eq!(
            syntax(json!({"Operations": [{"path": "active", "value": true}]})),
            Some("invalidSyntax")
        );
        let t = |body: Value| parse_patch(&body, u).unwrap_err().scim_type;
        assert_eq!(
            t(json!({"Operations": [{"op": "remove"}]})),
            Some("noTarget")
        );
        assert_eq!(
            t(json!({"Operations": [{"op": "replace", "value": false}]})),
            Some("invalidValue")
        );
        assert_eq!(
            t(json!({"Operations": [{"op": "replace", "path": 7, "value": false}]})),
            Some("invalidPath")
        );
        // Lenient: no schemas, lower-case member names, an empty path, null value.
        let r = parse_patch(
            &json!({"operations": [
                {"OP": "REPLACE", "Path": "active", "Value": "false"},
                {"op": "add", "path": "", "value": {"displayName": "Ada"}},
                {"op": "replace", "path": "displayName", "value": null},
            ]}),
            u,
        )
        .unwrap();
        assert_eq!(r.ops.len(), 3);
        assert_eq!(r.ops[0].op, PatchOpKind::Replace);
        assert_eq!(r.ops[0].value, Some(json!("false")));
        assert_eq!(r.ops[1].path.attr, PatchAttr::DisplayName);
        assert_eq!(r.ops[2].value, None);
        // A core-schema key holds attributes; id, meta and schemas in a value are skipped.
        let r = parse_patch(
            &json!({"Operations": [{"op": "replace", "value": {
                "urn:ietf:params:scim:schemas:core:2.0:User": {"displayName": "Ada", "active": true},
                "id": "u-1",
                "meta": {"resourceType": "User"},
            }}]}),
            u,
        )
        .unwrap();
        let attrs: Vec<PatchAttr> = r.ops.iter().map(|o| o.path.attr).collect();
        assert_eq!(attrs, vec![PatchAttr::Active, PatchAttr::DisplayName]);
        assert_eq!(r.ignored, vec!["id".to_string(), "meta".to_string()]);
        let e = parse_patch(
            &json!({"Operations": [{"op": "replace", "value": {"shoeSize": 43}}]}),
            u,
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some("invalidPath"));
        assert!(e.detail.contains("shoeSize"), "{}", e.detail);
    }

    // ---- users: Microsoft Entra ID's documented requests
    // (learn.microsoft.com/entra/identity/app-provisioning/use-scim-to-provision-users-and-groups
    // and application-provisioning-config-problem-scim-compatibility)

    fn entra_user() -> ScimUserState {
        user(json!({
            "schemas": [
                "urn:ietf:params:scim:schemas:core:2.0:User",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
            "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@testuser.com",
            "active": true,
            "emails": [{
                "primary": true,
                "type": "work",
                "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"
            }],
            "meta": {"resourceType": "User"},
            "name": {
                "formatted": "givenName familyName",
                "familyName": "familyName",
                "givenName": "givenName"
            },
            "roles": []
        }))
    }

    #[test]
    fn entra_creates_a_user() {
        let u = entra_user();
        assert_eq!(
            u,
            ScimUserState {
                user_name: "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1@testuser.com".into(),
                given_name: "givenName".into(),
                family_name: "familyName".into(),
                display_name: None,
                emails: vec![entry(
                    "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com",
                    Some("work"),
                    true
                )],
                phone_numbers: Vec::new(),
                active: true,
                external_id: Some("0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef".into()),
            }
        );
        // The documentation's own example has a userName that is no email: it is kept as
        // sent, and the account's email comes from `emails` (none here).
        let u = parse_user(&json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
            "active": true,
        }))
        .unwrap();
        assert_eq!(
            u.user_name,
            "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1"
        );
        assert_eq!(u.account_email(), None);
    }

    #[test]
    fn entra_updates_multi_valued_and_single_valued_attributes() {
        let u = entra_user();
        let next = patch_user(
            &u,
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [
                    {"op": "Replace", "path": "emails[type eq \"work\"].value",
                     "value": "updatedEmail@microsoft.com"},
                    {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"}
                ]
            }),
        )
        .unwrap();
        assert_eq!(
            next.emails,
            vec![entry("updatedEmail@microsoft.com", Some("work"), true)]
        );
        assert_eq!(next.family_name, "updatedFamilyName");
        assert_eq!(next.given_name, "givenName");
        assert_eq!(
            next.user_name, u.user_name,
            "the work email is not the login"
        );
        let next = patch_user(
            &u,
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{
                    "op": "Replace",
                    "path": "userName",
                    "value": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
                }]
            }),
        )
        .unwrap();
        assert_eq!(
            next.user_name,
            "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
        );
        let next = patch_user(
            &u,
            json!({"Operations": [{"op": "Replace", "path": "userName", "value": "not-an-email"}]}),
        )
        .unwrap();
        assert_eq!(next.user_name, "not-an-email", "a login name, kept as sent");
        let e = patch_user(
            &u,
            json!({"Operations": [{"op": "Replace", "path": "userName", "value": "  "}]}),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some("invalidValue"));
        let next = patch_user(
            &u,
            json!({"Operations": [{"op": "Replace", "path": "userName", "value": "  NEW@Example.COM "}]}),
        )
        .unwrap();
        assert_eq!(next.user_name, "NEW@Example.COM");
        assert_eq!(
            next.account_email().as_deref(),
            Some("test_user_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"),
            "the account's email is the primary email, not the userName"
        );
    }

    #[test]
    fn entra_disables_a_user_with_a_boolean_or_with_the_string_false() {
        let u = entra_user();
        // Default behaviour (without aadOptscim062020).
        let off = patch_user(
            &u,
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
            }),
        )
        .unwrap();
        assert!(!off.active);
        assert_eq!(
            ScimUserState {
                active: true,
                ..off.clone()
            },
            u
        );
        // With the flag, and as the main provisioning article shows it.
        let body = json!({
            "Operations": [{"op": "replace", "path": "active", "value": false}],
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]
        });
        assert!(!patch_user(&u, body).unwrap().active);
        let on = patch_user(
            &off,
            json!({"Operations": [{"op": "Replace", "path": "active", "value": "True"}]}),
        )
        .unwrap();
        assert!(on.active);
        for junk in [json!("yes"), json!(0), json!("Falsey"), json!({})] {
            let e = patch_user(
                &u,
                json!({"Operations": [{"op": "replace", "path": "active", "value": junk}]}),
            )
            .unwrap_err();
            assert_eq!(e.scim_type, Some("invalidValue"));
        }
    }

    #[test]
    fn entra_replaces_several_attributes_with_or_without_paths() {
        let u = entra_user();
        let without_flag = patch_user(
            &u,
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [
                    {"op": "Replace", "path": "displayName", "value": "Pvlo"},
                    {"op": "Replace", "path": "emails[type eq \"work\"].value",
                     "value": "TestBcwqnm@test.microsoft.com"},
                    {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
                    {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
                    {"op": "Replace", "path": "externalId", "value": "Eqpj"},
                    {"op": "Replace",
                     "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
                     "value": "Eqpj"}
                ]
            }),
        )
        .unwrap();
        assert_eq!(without_flag.display_name.as_deref(), Some("Pvlo"));
        assert_eq!(
            without_flag.emails[0].value,
            "TestBcwqnm@test.microsoft.com"
        );
        assert_eq!(
            (
                without_flag.given_name.as_str(),
                without_flag.family_name.as_str()
            ),
            ("Gtfd", "Pkqf")
        );
        assert_eq!(without_flag.external_id.as_deref(), Some("Eqpj"));
        let body = json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [
                {"op": "replace", "path": "emails[type eq \"work\"].value",
                 "value": "TestMhvaes@test.microsoft.com"},
                {"op": "replace", "value": {
                    "displayName": "Bjfe",
                    "name.givenName": "Kkom",
                    "name.familyName": "Unua",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq"
                }}
            ]
        });
        let request = parse_patch(&body, ResourceKind::User).unwrap();
        assert_eq!(
            request.ignored,
            vec!["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber"]
        );
        let with_flag = apply_user_patch(&u, &request.ops).unwrap();
        assert_eq!(with_flag.display_name.as_deref(), Some("Bjfe"));
        assert_eq!(
            (
                with_flag.given_name.as_str(),
                with_flag.family_name.as_str()
            ),
            ("Kkom", "Unua")
        );
        assert_eq!(with_flag.emails[0].value, "TestMhvaes@test.microsoft.com");
        // A filtered key inside a path-less value object, as the flag's body could carry.
        let next = patch_user(
            &u,
            json!({"Operations": [{"op": "replace", "value": {
                "emails[type eq \"work\"].value": "keyed@test.microsoft.com"}}]}),
        )
        .unwrap();
        assert_eq!(next.emails[0].value, "keyed@test.microsoft.com");
    }

    #[test]
    fn entra_adds_attributes_the_service_does_not_keep_without_failing() {
        let u = entra_user();
        for body in [
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "Add", "path": "nickName", "value": "Babs"}]}),
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                   "Operations": [{"op": "add", "path": "nickName", "value": "Babs"}]}),
            json!({"Operations": [
                {"op": "Add", "path": "title", "value": "Engineer"},
                {"op": "Add", "path": "addresses[type eq \"work\"].postalCode", "value": "98052"},
                {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                 "value": "26118915-6090-4610-87a4-0e6ce5b5bb30"},
                {"op": "Add", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                 "value": "R&D"},
            ]}),
        ] {
            let request = parse_patch(&body, ResourceKind::User).unwrap();
            assert!(request.ops.is_empty() && !request.ignored.is_empty());
            assert_eq!(apply_user_patch(&u, &request.ops).unwrap(), u);
        }
        // Entra's attribute table: mobile and fax numbers by type.
        let next = patch_user(
            &u,
            json!({"Operations": [
                {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 425 555 0100"},
                {"op": "Add", "path": "phoneNumbers[type eq \"fax\"].value", "value": "+1 425 555 0101"},
                {"op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+14255550102"},
            ]}),
        )
        .unwrap();
        assert_eq!(
            next.phone_numbers,
            vec![
                entry("+14255550102", Some("mobile"), false),
                entry("+1 425 555 0101", Some("fax"), false),
            ]
        );
        // `emails[type eq "other"].Value`, as the table spells proxy addresses.
        let next = patch_user(
            &u,
            json!({"Operations": [{"op": "Add", "path": "emails[type eq \"other\"].Value", "value": "smtp@alias.example"}]}),
        )
        .unwrap();
        assert_eq!(next.emails.len(), 2);
        assert_eq!(
            next.emails[1],
            entry("smtp@alias.example", Some("other"), false)
        );
    }

    // ---- users: Okta's documented requests
    // (developer.okta.com/docs/api/openapi/okta-scim/guides/scim-20)

    #[test]
    fn okta_creates_updates_and_deactivates_a_user() {
        let u = okta_user();
        assert_eq!(u.user_name, "test.user@okta.local");
        assert_eq!(
            (u.given_name.as_str(), u.family_name.as_str()),
            ("Test", "User")
        );
        assert_eq!(u.display_name.as_deref(), Some("Test User"));
        assert_eq!(u.external_id.as_deref(), Some("00ujl29u0le5T6Aj10h7"));
        assert_eq!(
            u.emails,
            vec![entry("test.user@okta.local", Some("work"), true)]
        );
        assert!(u.active);
        let off = patch_user(
            &u,
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "replace", "value": {"active": false}}]
            }),
        )
        .unwrap();
        assert!(!off.active);
        // Okta's profile update is a PUT of the whole user (and, for apps made with its App
        // Integration Wizard, so is deactivation).
        let put = parse_user_put(
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "id": "23a35c27-23d3-4c03-b4c5-6443c09e7173",
                "userName": "test.user@okta.local",
                "name": {"givenName": "Another", "middleName": "Excited", "familyName": "User"},
                "emails": [{
                    "primary": true,
                    "value": "test.user@okta.local",
                    "type": "work",
                    "display": "test.user@okta.local"
                }],
                "active": true,
                "groups": [],
                "meta": {"resourceType": "User"}
            }),
            &off,
        )
        .unwrap();
        assert_eq!(put.given_name, "Another");
        assert!(put.active, "the PUT says active");
        assert_eq!(
            put.display_name, None,
            "a PUT replaces: displayName was left out"
        );
        assert_eq!(put.emails, u.emails);
        // Okta's password sync sends a password the service does not keep.
        let request = parse_patch(
            &json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "value": {"password": "t1meMa$heen"}}]}),
            ResourceKind::User,
        )
        .unwrap();
        assert!(request.ops.is_empty());
        assert_eq!(request.ignored, vec!["password"]);
    }

    #[test]
    fn a_put_without_active_keeps_the_current_status() {
        let suspended = ScimUserState {
            active: false,
            ..okta_user()
        };
        let body = json!({"userName": "test.user@okta.local", "displayName": "Renamed"});
        let put = parse_user_put(&body, &suspended).unwrap();
        assert!(!put.active);
        assert_eq!(put.display_name.as_deref(), Some("Renamed"));
        assert!(parse_user(&body).unwrap().active, "a new user is active");
        let body = json!({"userName": "test.user@okta.local", "active": true});
        assert!(parse_user_put(&body, &suspended).unwrap().active);
    }

    #[test]
    fn user_bodies_are_validated_with_details() {
        let refused = |body: Value, t: &str, why: &str| {
            let e = parse_user(&body).unwrap_err();
            assert_eq!(e.scim_type, Some(t), "{body}");
            assert!(e.detail.contains(why), "{body}: {}", e.detail);
        };
        refused(json!([]), "invalidSyntax", "JSON object");
        refused(json!({}), "invalidValue", "userName is required");
        refused(
            json!({"userName": null}),
            "invalidValue",
            "userName is required",
        );
        refused(
            json!({"userName": 7}),
            "invalidValue",
            "userName must be a string",
        );
        refused(json!({"userName": "  "}), "invalidValue", "1 to 254");
        refused(
            json!({"schemas": [GROUP_SCHEMA], "userName": "a@b.co"}),
            "invalidSyntax",
            "schemas must include",
        );
        refused(
            json!({"userName": "a@b.co", "name": "Ada"}),
            "invalidValue",
            "name must be an object",
        );
        refused(
            json!({"userName": "a@b.co", "name": {"givenName": "x".repeat(101)}}),
            "invalidValue",
            "name.givenName must be at most 100",
        );
        refused(
            json!({"userName": "a@b.co", "displayName": "a\u{0}b"}),
            "invalidValue",
            "control characters",
        );
        refused(
            json!({"userName": "a@b.co", "active": "maybe"}),
            "invalidValue",
            "active",
        );
        refused(
            json!({"userName": "a@b.co", "emails": "a@b.co"}),
            "invalidValue",
            "list",
        );
        refused(
            json!({"userName": "a@b.co", "emails": [{"type": "work"}]}),
            "invalidValue",
            "needs a value",
        );
        refused(
            json!({"userName": "a@b.co", "emails": [{"value": "nope"}]}),
            "invalidValue",
            "emails.value",
        );
        refused(
            json!({"userName": "a@b.co", "emails": [
                {"value": "a@b.co", "primary": true}, {"value": "c@d.co", "primary": "True"}]}),
            "invalidValue",
            "at most one of emails may be primary",
        );
        refused(
            json!({"userName": "a@b.co", "phoneNumbers": [{"value": " "}]}),
            "invalidValue",
            "phoneNumbers.value is empty",
        );
        refused(
            json!({"userName": "a@b.co", "externalId": ["x"]}),
            "invalidValue",
            "externalId must be a string",
        );
        let minimal = user(json!({"USERNAME": "Ada@Example.com"}));
        assert_eq!(
            minimal,
            ScimUserState {
                user_name: "Ada@Example.com".into(),
                given_name: String::new(),
                family_name: String::new(),
                display_name: None,
                emails: Vec::new(),
                phone_numbers: Vec::new(),
                active: true,
                external_id: None,
            }
        );
        let lenient = user(json!({
            "userName": "a@b.co",
            "active": "FALSE",
            "displayName": "  ",
            "externalId": "",
            "name": {"givenName": null},
            "emails": {"value": "A@B.co", "primary": "true", "display": "ignored"},
            "phoneNumbers": ["0123456789"],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "x"},
        }));
        assert!(!lenient.active);
        assert_eq!(lenient.display_name, None);
        assert_eq!(lenient.external_id, None);
        assert_eq!(lenient.emails, vec![entry("A@B.co", None, true)]);
        assert_eq!(
            lenient.phone_numbers,
            vec![entry("0123456789", None, false)],
            "kept as sent: the directory's format is not rewritten"
        );
    }

    #[test]
    fn user_attributes_that_cannot_change_that_way_are_refused() {
        let u = okta_user();
        let t = |ops: Value| {
            patch_user(&u, json!({"Operations": ops}))
                .unwrap_err()
                .scim_type
        };
        assert_eq!(
            t(json!([{"op": "remove", "path": "userName"}])),
            Some("mutability")
        );
        assert_eq!(
            t(json!([{"op": "replace", "path": "userName", "value": null}])),
            Some("mutability")
        );
        assert_eq!(
            t(json!([{"op": "remove", "path": "active"}])),
            Some("mutability")
        );
        assert_eq!(
            t(json!([{"op": "replace", "path": "id", "value": "x"}])),
            Some("mutability")
        );
        assert_eq!(
            t(json!([{"op": "replace", "path": "meta", "value": {}}])),
            Some("mutability")
        );
        assert_eq!(
            t(json!([{"op": "add", "path": "displayName"}])),
            Some("invalidValue")
        );
        assert_eq!(
            t(json!([{"op": "add", "path": "emails", "value": null}])),
            Some("invalidValue")
        );
        assert_eq!(
            t(json!([{"op": "replace", "path": "name", "value": "Ada"}])),
            Some("invalidValue")
        );
        assert_eq!(
            t(json!([{"op": "replace", "path": "displayName", "value": 3}])),
            Some("invalidValue")
        );
        // Nothing applies when one operation fails.
        let e = patch_user(
            &u,
            json!({"Operations": [
                {"op": "replace", "path": "displayName", "value": "Changed"},
                {"op": "remove", "path": "userName"},
            ]}),
        );
        assert!(e.is_err());
        assert_eq!(u, okta_user());
        // Typed operations aimed at the other resource are refused, not misapplied.
        let members = PatchOp {
            op: PatchOpKind::Add,
            path: PatchPath {
                attr: PatchAttr::Members,
                filter: Vec::new(),
                sub: None,
            },
            value: Some(json!([{"value": "x"}])),
        };
        assert_eq!(
            apply_user_patch(&u, &[members]).unwrap_err().scim_type,
            Some("invalidPath")
        );
        let given = PatchOp {
            op: PatchOpKind::Replace,
            path: PatchPath {
                attr: PatchAttr::Name,
                filter: Vec::new(),
                sub: Some(SubAttr::GivenName),
            },
            value: Some(json!("x")),
        };
        assert_eq!(
            apply_group_patch("g", None, &[given])
                .unwrap_err()
                .scim_type,
            Some("invalidPath")
        );
    }

    #[test]
    fn user_attributes_are_set_cleared_and_merged() {
        let u = okta_user();
        let ops = |ops: Value| patch_user(&u, json!({"Operations": ops})).unwrap();
        let n =
            ops(json!([{"op": "replace", "path": "name", "value": {"familyName": "Lovelace"}}]));
        assert_eq!(
            (n.given_name.as_str(), n.family_name.as_str()),
            ("Test", "Lovelace")
        );
        let n = ops(json!([{"op": "remove", "path": "name"}]));
        assert_eq!((n.given_name.as_str(), n.family_name.as_str()), ("", ""));
        let n = ops(json!([{"op": "remove", "path": "name.givenName"}]));
        assert_eq!(n.given_name, "");
        let n = ops(json!([{"op": "replace", "path": "displayName", "value": null}]));
        assert_eq!(n.display_name, None);
        let n = ops(json!([{"op": "remove", "path": "externalId"}]));
        assert_eq!(n.external_id, None);
        let n = ops(json!([{"op": "add", "path": "externalId", "value": " e-1 "}]));
        assert_eq!(n.external_id.as_deref(), Some("e-1"));
        let n = ops(
            json!([{"op": "replace", "value": {"name": {"givenName": "Ada"}, "active": "false"}}]),
        );
        assert_eq!((n.given_name.as_str(), n.active), ("Ada", false));
        let n = ops(json!([{"op": "replace", "value": {"NAME.GIVENNAME": "Grace"}}]));
        assert_eq!(n.given_name, "Grace");
    }

    #[test]
    fn emails_and_phone_numbers_follow_the_multi_valued_rules() {
        let u = okta_user();
        let ops = |ops: Value| patch_user(&u, json!({"Operations": ops}));
        // Add appends; a primary newcomer takes primacy.
        let n = ops(json!([{"op": "add", "path": "emails",
                            "value": [{"value": "home@b.co", "type": "home", "primary": true}]}]))
        .unwrap();
        assert_eq!(
            n.emails,
            vec![
                entry("test.user@okta.local", Some("work"), false),
                entry("home@b.co", Some("home"), true),
            ]
        );
        // Adding a value already there updates it instead of duplicating it.
        let n = ops(json!([{"op": "add", "path": "emails",
                            "value": [{"value": "TEST.USER@okta.local", "type": "other", "primary": true}]}]))
        .unwrap();
        assert_eq!(
            n.emails,
            vec![entry("TEST.USER@okta.local", Some("other"), true)]
        );
        // Replace without a filter replaces the list; two primaries are a contradiction.
        let n = ops(json!([{"op": "replace", "path": "emails", "value": [{"value": "x@y.co"}]}]))
            .unwrap();
        assert_eq!(n.emails, vec![entry("x@y.co", None, false)]);
        let e = ops(json!([{"op": "replace", "path": "emails", "value": [
            {"value": "x@y.co", "primary": true}, {"value": "z@y.co", "primary": true}]}]))
        .unwrap_err();
        assert_eq!(e.scim_type, Some("invalidValue"));
        let e = ops(json!([{"op": "add", "path": "emails", "value": [
            {"value": "x@y.co", "primary": true}, {"value": "z@y.co", "primary": true}]}]))
        .unwrap_err();
        assert_eq!(e.scim_type, Some("invalidValue"));
        // Remove: all, by filter, by value list; a filter that matches nothing removes nothing.
        assert!(ops(json!([{"op": "remove", "path": "emails"}]))
            .unwrap()
            .emails
            .is_empty());
        assert!(
            ops(json!([{"op": "remove", "path": "emails[type eq \"WORK\"]"}]))
                .unwrap()
                .emails
                .is_empty()
        );
        assert!(
            ops(json!([{"op": "remove", "path": "emails[type eq \"work\"].value"}]))
                .unwrap()
                .emails
                .is_empty()
        );
        assert!(ops(json!([{"op": "remove", "path": "emails", "value": [{"value": "Test.User@okta.local"}]}]))
            .unwrap()
            .emails
            .is_empty());
        assert_eq!(
            ops(json!([{"op": "remove", "path": "emails[type eq \"home\"]"}])).unwrap(),
            u
        );
        // Sub-attributes of the matching entries.
        let n = ops(json!([{"op": "remove", "path": "emails[type eq \"work\"].type"}])).unwrap();
        assert_eq!(n.emails, vec![entry("test.user@okta.local", None, true)]);
        let n = ops(json!([{"op": "replace", "path": "emails[value eq \"test.user@okta.local\"].primary", "value": "False"}])).unwrap();
        assert!(!n.emails[0].primary);
        let n = ops(json!([{"op": "replace", "path": "emails[type eq \"work\"]", "value": {"type": "home"}}])).unwrap();
        assert_eq!(
            n.emails,
            vec![entry("test.user@okta.local", Some("home"), true)]
        );
        // A filter that matches nothing: the entry it describes is created, unless it would
        // have no value.
        let n = ops(json!([{"op": "replace", "path": "emails[type eq \"home\" and primary eq true].value", "value": "h@b.co"}])).unwrap();
        assert_eq!(
            n.emails,
            vec![
                entry("test.user@okta.local", Some("work"), false),
                entry("h@b.co", Some("home"), true),
            ]
        );
        let n = ops(
            json!([{"op": "add", "path": "emails[value eq \"new@b.co\"].type", "value": "home"}]),
        )
        .unwrap();
        assert_eq!(n.emails[1], entry("new@b.co", Some("home"), false));
        let e = ops(
            json!([{"op": "replace", "path": "emails[type eq \"home\"].type", "value": "other"}]),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some("noTarget"));
        let e = ops(
            json!([{"op": "replace", "path": "emails[type eq \"home\"].value", "value": "nope"}]),
        )
        .unwrap_err();
        assert_eq!(e.scim_type, Some("invalidValue"));
        let e =
            ops(json!([{"op": "replace", "path": "emails[type eq \"work\"]", "value": "x@y.co"}]))
                .unwrap_err();
        assert_eq!(e.scim_type, Some("invalidValue"));
        // Without a filter a sub-attribute addresses every entry, or creates the first one.
        let n =
            ops(json!([{"op": "replace", "path": "phoneNumbers.value", "value": "+4930123456"}]))
                .unwrap();
        assert_eq!(n.phone_numbers, vec![entry("+4930123456", None, false)]);
        let n = ops(json!([{"op": "replace", "path": "emails.type", "value": "home"}])).unwrap();
        assert_eq!(n.emails[0].type_.as_deref(), Some("home"));
        let e = ops(json!([{"op": "replace", "path": "phoneNumbers.type", "value": "home"}]))
            .unwrap_err();
        assert_eq!(e.scim_type, Some("noTarget"));
    }

    // ---- groups

    #[test]
    fn groups_are_created_as_entra_and_okta_send_them() {
        // Entra: "Create Group", with its extra Microsoft schema.
        let g = parse_group(&json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group",
                        "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "displayName",
            "meta": {"resourceType": "Group"}
        }))
        .unwrap();
        assert_eq!(
            g,
            ScimGroup {
                display_name: "displayName".into(),
                external_id: Some("8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159".into()),
                members: Vec::new(),
            }
        );
        // Okta's group push.
        let g = parse_group(&json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Test SCIMv2",
            "members": [
                {"value": "b1c794f24f4c49f4b5d503a4cb2686ea", "display": "SCIM 2 Group A"},
                {"value": "b1c794f24f4c49f4b5d503a4cb2686ea"},
            ]
        }))
        .unwrap();
        assert_eq!(
            g.members,
            vec!["b1c794f24f4c49f4b5d503a4cb2686ea"],
            "duplicates collapse"
        );
        let refused = |body: Value, why: &str| {
            let e = parse_group(&body).unwrap_err();
            assert!(e.detail.contains(why), "{body}: {}", e.detail);
        };
        refused(json!({}), "displayName is required");
        refused(json!({"displayName": " "}), "displayName is required");
        refused(json!({"displayName": "x".repeat(101)}), "at most 100");
        refused(
            json!({"displayName": "g", "schemas": [USER_SCHEMA]}),
            "schemas must include",
        );
        refused(
            json!({"displayName": "g", "members": [{"display": "x"}]}),
            "needs a value",
        );
        refused(
            json!({"displayName": "g", "members": [{"value": "g2", "type": "Group"}]}),
            "cannot be members",
        );
        refused(
            json!({"displayName": "g", "members": [7]}),
            "object with a value",
        );
        refused(json!("g"), "JSON object");
    }

    #[test]
    fn okta_renames_groups_and_changes_members() {
        // Okta repeats the group's id in the value object.
        let c = patch_group(
            "Test SCIMv2",
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{
                    "op": "replace",
                    "value": {"id": "abf4dd94-a4c0-4f67-89c9-76b03340cb9b", "displayName": "Test SCIMv2 renamed"}
                }]
            }),
        )
        .unwrap();
        assert_eq!(c.display_name, "Test SCIMv2 renamed");
        assert!(c.members.is_empty());
        let c = patch_group(
            "g",
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "remove", "path": "members[value eq \"89bb1940-b905-4575-9e7f-6f887cfb368e\"]"}]
            }),
        )
        .unwrap();
        assert_eq!(
            c.members,
            MemberChange {
                replace_all: false,
                add: Vec::new(),
                remove: vec!["89bb1940-b905-4575-9e7f-6f887cfb368e".into()],
            }
        );
        // "Update specific Group membership": a removal and an addition in one request.
        let c = patch_group(
            "g",
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{
                      "op": "remove",
                      "path": "members[value eq \"89bb1940-b905-4575-9e7f-6f887cfb368e\"]"
                    },
                    {
                      "op": "add",
                      "path": "members",
                      "value": [{
                          "value": "23a35c27-23d3-4c03-b4c5-6443c09e7173",
                          "display": "test.user@okta.local"
                    }]
                }]
            }),
        )
        .unwrap();
        assert_eq!(c.members.add, vec!["23a35c27-23d3-4c03-b4c5-6443c09e7173"]);
        assert_eq!(
            c.members.remove,
            vec!["89bb1940-b905-4575-9e7f-6f887cfb368e"]
        );
        // Push Groups creates with an empty member list.
        let g = parse_group(&json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Test SCIMv2",
            "members": []
        }))
        .unwrap();
        assert_eq!(
            (g.display_name.as_str(), g.members.len()),
            ("Test SCIMv2", 0)
        );
        let c = patch_group(
            "g",
            json!({"Operations": [{"op": "replace", "path": "members", "value": [{"value": "b"}, {"value": "a"}]}]}),
        )
        .unwrap();
        assert_eq!(
            c.members,
            MemberChange {
                replace_all: true,
                add: vec!["a".into(), "b".into()],
                remove: Vec::new(),
            }
        );
    }

    #[test]
    fn entra_updates_groups_and_removes_members_both_ways() {
        let c = patch_group(
            "displayName",
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "Replace", "path": "displayName",
                                "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"}]
            }),
        )
        .unwrap();
        assert_eq!(
            c.display_name,
            "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
        );
        let c = patch_group(
            "g",
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "Add", "path": "members",
                                "value": [{"$ref": null, "value": "f648f8d5ea4e4cd38e9c"}]}]
            }),
        )
        .unwrap();
        assert_eq!(c.members.add, vec!["f648f8d5ea4e4cd38e9c"]);
        let legacy = patch_group(
            "g",
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "Remove", "path": "members",
                                "value": [{"$ref": null, "value": "f648f8d5ea4e4cd38e9c"}]}]
            }),
        )
        .unwrap();
        let compliant = patch_group(
            "g",
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [{"op": "remove", "path": "members[value eq \"f648f8d5ea4e4cd38e9c\"]"}]
            }),
        )
        .unwrap();
        assert_eq!(legacy, compliant);
        assert_eq!(legacy.members.remove, vec!["f648f8d5ea4e4cd38e9c"]);
        let all = patch_group(
            "g",
            json!({"Operations": [{"op": "remove", "path": "members"}]}),
        )
        .unwrap();
        assert_eq!(
            all.members,
            MemberChange {
                replace_all: true,
                add: Vec::new(),
                remove: Vec::new()
            }
        );
    }

    #[test]
    fn group_patches_apply_in_order_and_refuse_what_they_cannot_do() {
        let c = patch_group(
            "g",
            json!({"Operations": [
                {"op": "add", "path": "members", "value": [{"value": "a"}, {"value": "b"}]},
                {"op": "remove", "path": "members[value eq \"a\"]"},
                {"op": "remove", "path": "members", "value": [{"value": "c"}]},
                {"op": "add", "path": "members", "value": {"value": "c"}},
                {"op": "replace", "path": "externalId", "value": "x-1"},
            ]}),
        )
        .unwrap();
        assert_eq!(
            c,
            GroupChange {
                display_name: "g".into(),
                external_id: Some("x-1".into()),
                members: MemberChange {
                    replace_all: false,
                    add: vec!["b".into(), "c".into()],
                    remove: vec!["a".into()],
                },
            }
        );
        let c = patch_group(
            "g",
            json!({"Operations": [
                {"op": "add", "path": "members", "value": [{"value": "a"}]},
                {"op": "remove", "path": "members"},
                {"op": "add", "path": "members", "value": [{"value": "b"}, {"value": "x"}]},
                {"op": "remove", "path": "members[value eq \"x\"]"},
            ]}),
        )
        .unwrap();
        assert_eq!(
            c.members,
            MemberChange {
                replace_all: true,
                add: vec!["b".into()],
                remove: Vec::new()
            }
        );
        let t = |ops: Value| {
            patch_group("g", json!({"Operations": ops}))
                .unwrap_err()
                .scim_type
        };
        assert_eq!(
            t(json!([{"op": "remove", "path": "displayName"}])),
            Some("mutability")
        );
        assert_eq!(
            t(json!([{"op": "replace", "path": "displayName", "value": ""}])),
            Some("invalidValue")
        );
        assert_eq!(
            t(json!([{"op": "add", "path": "members[value eq \"a\"]", "value": {"value": "a"}}])),
            Some("invalidPath")
        );
        assert_eq!(
            t(json!([{"op": "add", "path": "members"}])),
            Some("invalidValue")
        );
        assert_eq!(
            t(
                json!([{"op": "add", "path": "members", "value": [{"value": "g2", "type": "group"}]}])
            ),
            Some("invalidValue")
        );
        assert_eq!(
            t(json!([{"op": "add", "path": "members", "value": [{"value": ""}]}])),
            Some("invalidValue")
        );
        assert_eq!(
            t(json!([{"op": "replace", "path": "active", "value": true}])),
            Some("invalidPath")
        );
        assert_eq!(
            t(json!([{"op": "replace", "path": "id", "value": "x"}])),
            Some("mutability")
        );
        let ignored = parse_patch(
            &json!({"Operations": [{"op": "replace", "path": "members[value eq \"a\"].display", "value": "x"}]}),
            ResourceKind::Group,
        )
        .unwrap();
        assert!(ignored.ops.is_empty());
    }

    #[test]
    fn member_changes_resolve_against_the_current_members() {
        let current: Vec<String> = ["a", "b", "c"].map(String::from).to_vec();
        let delta = MemberChange {
            replace_all: false,
            add: vec!["c".into(), "d".into()],
            remove: vec!["a".into(), "z".into()],
        };
        assert_eq!(
            delta.resolve(&current),
            (vec!["d".into()], vec!["a".into()])
        );
        let replace = MemberChange {
            replace_all: true,
            add: vec!["b".into(), "e".into()],
            remove: Vec::new(),
        };
        assert_eq!(
            replace.resolve(&current),
            (vec!["e".into()], vec!["a".into(), "c".into()])
        );
        assert!(MemberChange::default().is_empty());
        assert!(!replace.is_empty());
    }

    // ---- resources and discovery

    #[test]
    fn resources_have_the_contract_shape() {
        let r = sample_user_resource();
        assert_eq!(
            r,
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "id": "u-1",
                "externalId": "00ujl29u0le5T6Aj10h7",
                "userName": "test.user@okta.local",
                "name": {"givenName": "Test", "familyName": "User"},
                "displayName": "Test User",
                "emails": [{"value": "test.user@okta.local", "type": "work", "primary": true}],
                "phoneNumbers": [{"value": "+14155550100", "type": "mobile", "primary": false}],
                "active": true,
                "meta": {
                    "resourceType": "User",
                    "created": "1970-01-01T00:00:00.000Z",
                    "lastModified": "1970-01-01T00:00:01.000Z",
                    "location": "https://ums.example/scim/v2/Users/u-1",
                },
            })
        );
        assert_eq!(parse_user(&r).unwrap(), {
            let mut s = okta_user();
            s.phone_numbers = vec![entry("+14155550100", Some("mobile"), false)];
            s
        });
        let bare = user_resource(
            "u-2",
            &user(json!({"userName": "a@b.co"})),
            Timestamp(0),
            Timestamp(0),
            "https://x/scim/v2/",
        );
        assert!(
            bare.get("name").is_none()
                && bare.get("emails").is_none()
                && bare.get("externalId").is_none()
        );
        assert_eq!(bare["meta"]["location"], "https://x/scim/v2/Users/u-2");
        let only_family = ScimUserState {
            family_name: "Lovelace".into(),
            ..user(json!({"userName": "a@b.co"}))
        };
        assert_eq!(
            user_resource("u", &only_family, Timestamp(0), Timestamp(0), BASE)["name"],
            json!({"familyName": "Lovelace"})
        );
        let g = group_resource(
            "g-1",
            &ScimGroupResource {
                display_name: "Eng",
                external_id: None,
                members: Some(&[GroupMember {
                    user_id: "u-1".into(),
                }]),
            },
            Timestamp(0),
            Timestamp(0),
            BASE,
        );
        assert_eq!(
            g,
            json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                "id": "g-1",
                "displayName": "Eng",
                "members": [{"value": "u-1",
                             "$ref": "https://ums.example/scim/v2/Users/u-1"}],
                "meta": {
                    "resourceType": "Group",
                    "created": "1970-01-01T00:00:00.000Z",
                    "lastModified": "1970-01-01T00:00:00.000Z",
                    "location": "https://ums.example/scim/v2/Groups/g-1",
                },
            })
        );
        assert_eq!(parse_group(&g).unwrap().members, vec!["u-1"]);
        let no_members = group_resource(
            "g-1",
            &ScimGroupResource {
                display_name: "Eng",
                external_id: Some("e"),
                members: None,
            },
            Timestamp(0),
            Timestamp(0),
            BASE,
        );
        assert!(no_members.get("members").is_none());
        assert_eq!(no_members["externalId"], "e");
    }

    #[test]
    fn list_responses_count_their_items() {
        let l = list_response(1000, 11, vec![json!({"id": "a"}), json!({"id": "b"})]);
        assert_eq!(
            l,
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "totalResults": 1000,
                "startIndex": 11,
                "itemsPerPage": 2,
                "Resources": [{"id": "a"}, {"id": "b"}],
            })
        );
        // Entra: "Get User by query - Zero results".
        assert_eq!(list_response(0, 1, Vec::new())["Resources"], json!([]));
    }

    #[test]
    fn the_service_provider_config_matches_the_contract() {
        let c = service_provider_config("https://ums.example/scim/v2/");
        assert_eq!(c["schemas"], json!([SERVICE_PROVIDER_CONFIG_SCHEMA]));
        assert_eq!(c["patch"]["supported"], true);
        assert_eq!(c["filter"], json!({"supported": true, "maxResults": 200}));
        for off in ["bulk", "sort", "etag", "changePassword"] {
            assert_eq!(c[off]["supported"], false, "{off}");
        }
        assert_eq!(c["authenticationSchemes"][0]["type"], "oauthbearertoken");
        assert_eq!(
            c["meta"]["location"],
            "https://ums.example/scim/v2/ServiceProviderConfig"
        );
    }

    #[test]
    fn resource_types_and_schemas_are_listed_and_found_by_name() {
        let types = resource_types(BASE);
        assert_eq!(types.len(), 2);
        assert_eq!(types[0]["endpoint"], "/Users");
        assert_eq!(types[0]["schema"], USER_SCHEMA);
        assert_eq!(types[1]["id"], "Group");
        assert_eq!(
            types[1]["meta"]["location"],
            "https://ums.example/scim/v2/ResourceTypes/Group"
        );
        assert_eq!(resource_type(BASE, "user"), Some(types[0].clone()));
        assert_eq!(resource_type(BASE, "Widget"), None);
        let all = schemas(BASE);
        assert_eq!(all.len(), 2);
        assert_eq!(
            schema(BASE, &USER_SCHEMA.to_lowercase()),
            Some(all[0].clone())
        );
        assert_eq!(schema(BASE, GROUP_SCHEMA), Some(all[1].clone()));
        assert_eq!(
            schema(
                BASE,
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
            ),
            None
        );
        let user = &all[0];
        assert_eq!(user["id"], USER_SCHEMA);
        let attr = |name: &str| {
            user["attributes"]
                .as_array()
                .unwrap()
                .iter()
                .find(|a| a["name"] == name)
                .cloned()
                .unwrap()
        };
        let user_name = attr("userName");
        assert_eq!(
            (
                &user_name["required"],
                &user_name["uniqueness"],
                &user_name["caseExact"]
            ),
            (&json!(true), &json!("server"), &json!(false))
        );
        assert_eq!(attr("active")["type"], "boolean");
        // Only what is kept as sent: no computed `formatted`.
        assert!(attr("name")["subAttributes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["name"] != "formatted"));
        assert_eq!(attr("emails")["multiValued"], true);
        let group = &all[1];
        let members = group["attributes"][1].clone();
        assert_eq!(members["name"], "members");
        assert_eq!(
            members["subAttributes"][1]["referenceTypes"],
            json!(["User"])
        );
        assert_eq!(group["attributes"][0]["uniqueness"], "server");
    }

    /// Every writable attribute the schemas advertise is one PATCH accepts, and the read-only
    /// ones are accepted and ignored: conformance tools patch exactly what /Schemas lists.
    #[test]
    fn the_schemas_advertise_exactly_what_patch_understands() {
        for (kind, doc) in [ResourceKind::User, ResourceKind::Group]
            .into_iter()
            .zip(schemas(BASE))
        {
            for a in doc["attributes"].as_array().unwrap() {
                let name = a["name"].as_str().unwrap();
                let top = parse_patch_path(name, kind).unwrap();
                assert!(matches!(top, ResolvedPath::Supported(_)), "{name}");
                for s in a["subAttributes"].as_array().into_iter().flatten() {
                    let path = format!("{name}.{}", s["name"].as_str().unwrap());
                    let resolved = parse_patch_path(&path, kind).unwrap();
                    match s["mutability"].as_str().unwrap() {
                        "readWrite" => {
                            assert!(matches!(resolved, ResolvedPath::Supported(_)), "{path}")
                        }
                        "readOnly" => assert_eq!(resolved, ResolvedPath::Ignored, "{path}"),
                        _ => {}
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    /// Any text, weighted towards what breaks these parsers: quotes, escapes, brackets,
    /// keywords, URNs, unicode and controls.
    fn junk() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[ \t\n\"\\\\()\\[\\].:a-zA-Z0-9_$@-]{0,60}",
            "\\PC{0,200}",
            prop::collection::vec(
                prop_oneof![
                    Just("userName".to_string()),
                    Just("emails".to_string()),
                    Just("members".to_string()),
                    Just("urn:ietf:params:scim:schemas:core:2.0:User:".to_string()),
                    Just("eq".to_string()),
                    Just("and".to_string()),
                    Just("or".to_string()),
                    Just("not".to_string()),
                    Just("pr".to_string()),
                    Just("true".to_string()),
                    Just("(".to_string()),
                    Just(")".to_string()),
                    Just("[".to_string()),
                    Just("]".to_string()),
                    Just(".value".to_string()),
                    Just("type".to_string()),
                    Just("\"x\"".to_string()),
                    Just("\"\\u00e9\\\"\"".to_string()),
                    Just("\"".to_string()),
                    Just("\\".to_string()),
                    Just(" ".to_string()),
                    Just("é".to_string()),
                ],
                0..24,
            )
            .prop_map(|parts| parts.concat()),
        ]
    }

    fn any_text() -> impl Strategy<Value = String> {
        prop::collection::vec(any::<char>(), 0..16).prop_map(|c| c.into_iter().collect())
    }

    fn kind() -> impl Strategy<Value = ResourceKind> {
        prop_oneof![Just(ResourceKind::User), Just(ResourceKind::Group)]
    }

    fn filter_attr(kind: ResourceKind) -> BoxedStrategy<FilterAttr> {
        match kind {
            ResourceKind::User => prop_oneof![
                Just(FilterAttr::UserName),
                Just(FilterAttr::ExternalId),
                Just(FilterAttr::Id),
                Just(FilterAttr::DisplayName),
                (
                    prop::option::of(any_text()),
                    prop::option::of(any::<bool>())
                )
                    .prop_map(|(type_, primary)| FilterAttr::EmailValue { type_, primary }),
            ]
            .boxed(),
            ResourceKind::Group => prop_oneof![
                Just(FilterAttr::ExternalId),
                Just(FilterAttr::Id),
                Just(FilterAttr::DisplayName),
                Just(FilterAttr::MemberValue),
            ]
            .boxed(),
        }
    }

    fn filter_of(kind: ResourceKind) -> impl Strategy<Value = Filter> {
        prop::collection::vec(
            (filter_attr(kind), any_text()).prop_map(|(attr, value)| Condition { attr, value }),
            0..5,
        )
        .prop_map(Filter)
    }

    fn kind_and_filter() -> impl Strategy<Value = (ResourceKind, Filter)> {
        kind().prop_flat_map(|k| (Just(k), filter_of(k)))
    }

    /// How a client may spell the same thing: any case, the schema URN, extra whitespace.
    #[derive(Debug, Clone)]
    struct Spelling {
        upper: Vec<bool>,
        urn: Vec<bool>,
        parens: Vec<bool>,
        space: Vec<&'static str>,
    }

    fn spelling() -> impl Strategy<Value = Spelling> {
        (
            prop::collection::vec(any::<bool>(), 12),
            prop::collection::vec(any::<bool>(), 12),
            prop::collection::vec(any::<bool>(), 12),
            prop::collection::vec(prop::sample::select(vec![" ", "  ", "\t", " \n "]), 12),
        )
            .prop_map(|(upper, urn, parens, space)| Spelling {
                upper,
                urn,
                parens,
                space,
            })
    }

    impl Spelling {
        fn case(&self, i: usize, word: &str) -> String {
            if self.upper[i % 12] {
                word.to_ascii_uppercase()
            } else {
                word.to_string()
            }
        }

        fn sp(&self, i: usize) -> &'static str {
            self.space[i % 12]
        }

        fn attr(&self, i: usize, kind: ResourceKind, attr: &str) -> String {
            let urn = if self.urn[i % 12] {
                format!("{}:", self.case(i + 1, kind.schema()))
            } else {
                String::new()
            };
            format!("{urn}{}", self.case(i, attr))
        }

        fn condition(&self, i: usize, kind: ResourceKind, c: &Condition) -> String {
            let (eq, and) = (self.case(i + 2, "eq"), self.case(i + 3, "and"));
            let value = json_string(&c.value);
            let s = self.sp(i);
            let body = match &c.attr {
                FilterAttr::EmailValue { type_, primary } => {
                    let mut inner = Vec::new();
                    if let Some(t) = type_ {
                        inner.push(format!(
                            "{}{s}{eq}{s}{}",
                            self.case(i + 4, "type"),
                            json_string(t)
                        ));
                    }
                    if let Some(p) = primary {
                        inner.push(format!(
                            "{}{s}{eq}{s}{}",
                            self.case(i + 5, "primary"),
                            self.case(i + 6, &p.to_string())
                        ));
                    }
                    let emails = self.attr(i, kind, "emails");
                    if self.parens[(i + 7) % 12] {
                        // The value inside the brackets.
                        inner.push(format!("{}{s}{eq}{s}{value}", self.case(i + 8, "value")));
                        format!("{emails}[{}]", inner.join(&format!("{s}{and}{s}")))
                    } else if inner.is_empty() {
                        format!("{emails}.{}{s}{eq}{s}{value}", self.case(i + 8, "value"))
                    } else {
                        format!(
                            "{emails}[{}].{}{s}{eq}{s}{value}",
                            inner.join(&format!("{s}{and}{s}")),
                            self.case(i + 8, "value")
                        )
                    }
                }
                FilterAttr::MemberValue => {
                    let members = self.attr(i, kind, "members");
                    if self.parens[(i + 7) % 12] {
                        format!("{members}[{}{s}{eq}{s}{value}]", self.case(i + 8, "value"))
                    } else {
                        format!("{members}.{}{s}{eq}{s}{value}", self.case(i + 8, "value"))
                    }
                }
                other => format!(
                    "{}{s}{eq}{s}{value}",
                    self.attr(i, kind, &other.to_string())
                ),
            };
            if self.parens[i % 12] {
                format!("({s}{body}{s})")
            } else {
                body
            }
        }

        fn filter(&self, kind: ResourceKind, f: &Filter) -> String {
            let parts: Vec<String> =
                f.0.iter()
                    .enumerate()
                    .map(|(i, c)| self.condition(i, kind, c))
                    .collect();
            let joined = parts.join(&format!(" {} ", self.case(9, "and")));
            if self.parens[11] && !parts.is_empty() {
                format!("({joined})")
            } else {
                joined
            }
        }
    }

    fn patch_path_of(kind: ResourceKind) -> BoxedStrategy<PatchPath> {
        let plain = |attr| PatchPath {
            attr,
            filter: Vec::new(),
            sub: None,
        };
        let entry_match = prop_oneof![
            any_text().prop_map(|s| ValueMatch {
                sub: SubAttr::Value,
                value: Literal::Str(s)
            }),
            any_text().prop_map(|s| ValueMatch {
                sub: SubAttr::Type,
                value: Literal::Str(s)
            }),
            any::<bool>().prop_map(|b| ValueMatch {
                sub: SubAttr::Primary,
                value: Literal::Bool(b)
            }),
        ];
        let entry_sub = prop::option::of(prop_oneof![
            Just(SubAttr::Value),
            Just(SubAttr::Type),
            Just(SubAttr::Primary)
        ]);
        match kind {
            ResourceKind::User => prop_oneof![
                Just(plain(PatchAttr::UserName)),
                Just(plain(PatchAttr::DisplayName)),
                Just(plain(PatchAttr::Active)),
                Just(plain(PatchAttr::ExternalId)),
                prop::option::of(prop_oneof![
                    Just(SubAttr::GivenName),
                    Just(SubAttr::FamilyName)
                ])
                .prop_map(|sub| PatchPath {
                    attr: PatchAttr::Name,
                    filter: Vec::new(),
                    sub
                }),
                (
                    prop_oneof![Just(PatchAttr::Emails), Just(PatchAttr::PhoneNumbers)],
                    prop::collection::vec(entry_match, 0..3),
                    entry_sub
                )
                    .prop_map(|(attr, filter, sub)| PatchPath {
                        attr,
                        filter,
                        sub
                    }),
            ]
            .boxed(),
            ResourceKind::Group => prop_oneof![
                Just(plain(PatchAttr::DisplayName)),
                Just(plain(PatchAttr::ExternalId)),
                (prop::option::of(any_text()), any::<bool>()).prop_map(|(id, sub)| PatchPath {
                    attr: PatchAttr::Members,
                    filter: id
                        .map(|id| ValueMatch {
                            sub: SubAttr::Value,
                            value: Literal::Str(id)
                        })
                        .into_iter()
                        .collect(),
                    sub: sub.then_some(SubAttr::Value),
                }),
            ]
            .boxed(),
        }
    }

    /// Values a PATCH may carry: right, wrong and Entra-shaped.
    fn patch_value() -> impl Strategy<Value = Option<Value>> {
        let email = "[a-z]{1,6}@[a-z]{1,6}\\.(com|co|example)";
        let entry = (
            prop_oneof![
                email.prop_map(Value::from),
                any_text().prop_map(Value::from)
            ],
            prop::option::of(prop::sample::select(vec![
                "work", "home", "mobile", "other",
            ])),
            prop::option::of(prop_oneof![
                any::<bool>().prop_map(Value::from),
                Just(json!("True")),
                Just(json!("nope"))
            ]),
        )
            .prop_map(|(value, type_, primary)| {
                let mut o = json!({ "value": value });
                if let Some(t) = type_ {
                    o["type"] = json!(t);
                }
                if let Some(p) = primary {
                    o["primary"] = p;
                }
                o
            });
        prop::option::of(prop_oneof![
            email.prop_map(Value::from),
            "\\+[0-9]{8,12}".prop_map(Value::from),
            any_text().prop_map(Value::from),
            any::<bool>().prop_map(Value::from),
            prop::sample::select(vec!["True", "false", "FALSE"]).prop_map(Value::from),
            Just(json!(7)),
            entry.clone(),
            prop::collection::vec(entry, 0..4).prop_map(Value::from),
            (prop::option::of(any_text()), prop::option::of(any_text()))
                .prop_map(|(g, f)| { json!({"givenName": g, "familyName": f}) }),
        ])
    }

    fn op_kind() -> impl Strategy<Value = PatchOpKind> {
        prop_oneof![
            Just(PatchOpKind::Add),
            Just(PatchOpKind::Replace),
            Just(PatchOpKind::Remove)
        ]
    }

    fn user_ops() -> impl Strategy<Value = Vec<PatchOp>> {
        prop::collection::vec(
            (op_kind(), patch_path_of(ResourceKind::User), patch_value())
                .prop_map(|(op, path, value)| PatchOp { op, path, value }),
            0..8,
        )
    }

    fn ascii_email() -> impl Strategy<Value = String> {
        "[a-z0-9][a-z0-9._+-]{0,10}[a-z0-9]@[a-z0-9]{1,8}\\.(com|org|example)"
            .prop_filter("no double dots", |e| !e.contains(".."))
    }

    fn trimmed(max: usize) -> impl Strategy<Value = String> {
        proptest::string::string_regex("([A-Za-zÀ-ÿ'-]{1,8}( [A-Za-zÀ-ÿ'-]{1,8}){0,2})?")
            .unwrap()
            .prop_map(move |s| s.chars().take(max).collect::<String>().trim().to_string())
    }

    fn entries(
        value: BoxedStrategy<String>,
        types: Vec<&'static str>,
    ) -> impl Strategy<Value = Vec<MultiValue>> {
        (
            prop::collection::vec((value, prop::option::of(prop::sample::select(types))), 0..4),
            any::<prop::sample::Index>(),
            any::<bool>(),
        )
            .prop_map(|(list, which, has_primary)| {
                let primary = (has_primary && !list.is_empty()).then(|| which.index(list.len()));
                list.into_iter()
                    .enumerate()
                    .map(|(i, (value, t))| MultiValue {
                        value,
                        type_: t.map(str::to_string),
                        primary: Some(i) == primary,
                    })
                    .collect()
            })
    }

    fn user_state() -> impl Strategy<Value = ScimUserState> {
        (
            ascii_email(),
            trimmed(100),
            trimmed(100),
            prop::option::of(trimmed(200)).prop_map(|d| d.filter(|d| !d.is_empty())),
            entries(ascii_email().boxed(), vec!["work", "home", "other"]),
            entries("\\+?[0-9]{8,14}".boxed(), vec!["work", "mobile", "fax"]),
            any::<bool>(),
            prop::option::of("[A-Za-z0-9-]{1,36}"),
        )
            .prop_map(
                |(
                    user_name,
                    given_name,
                    family_name,
                    display_name,
                    emails,
                    phone_numbers,
                    active,
                    external_id,
                )| {
                    ScimUserState {
                        user_name,
                        given_name,
                        family_name,
                        display_name,
                        emails,
                        phone_numbers,
                        active,
                        external_id,
                    }
                },
            )
    }

    /// Any JSON, with the member names a PatchOp uses so that the parser gets deep.
    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            junk().prop_map(Value::from),
            prop::sample::select(vec![
                "add",
                "Replace",
                "REMOVE",
                "active",
                "members",
                "emails[type eq \"work\"].value",
                "name.givenName",
                "userName",
                "a@b.co",
                "False",
                PATCH_OP_SCHEMA,
                USER_SCHEMA,
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            ])
            .prop_map(Value::from),
        ];
        let key = prop::sample::select(vec![
            "schemas",
            "Operations",
            "op",
            "path",
            "value",
            "displayName",
            "active",
            "members",
            "name",
            "givenName",
            "emails",
            "type",
            "primary",
            "id",
            "userName",
            "name.familyName",
            USER_SCHEMA,
            "x",
        ]);
        leaf.prop_recursive(4, 64, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                prop::collection::btree_map(key.clone().prop_map(str::to_string), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// A group PATCH operation and what it does to a plain set of members.
    #[derive(Debug, Clone)]
    enum MemberStep {
        Add(Vec<String>),
        RemoveList(Vec<String>),
        RemoveOne(String),
        Replace(Vec<String>),
        RemoveAll,
    }

    fn member_step() -> impl Strategy<Value = MemberStep> {
        let id = prop::sample::select(vec!["a", "b", "c", "d", "e"]).prop_map(str::to_string);
        let ids = prop::collection::vec(id.clone(), 0..4);
        prop_oneof![
            ids.clone().prop_map(MemberStep::Add),
            ids.clone().prop_map(MemberStep::RemoveList),
            id.prop_map(MemberStep::RemoveOne),
            ids.prop_map(MemberStep::Replace),
            Just(MemberStep::RemoveAll),
        ]
    }

    impl MemberStep {
        fn json(&self) -> Value {
            let list = |ids: &[String]| {
                ids.iter()
                    .map(|i| json!({ "value": i }))
                    .collect::<Vec<_>>()
            };
            match self {
                MemberStep::Add(ids) => json!({"op": "Add", "path": "members", "value": list(ids)}),
                MemberStep::RemoveList(ids) => {
                    json!({"op": "Remove", "path": "members", "value": list(ids)})
                }
                MemberStep::RemoveOne(id) => {
                    json!({"op": "remove", "path": format!("members[value eq {}]", json_string(id))})
                }
                MemberStep::Replace(ids) => {
                    json!({"op": "replace", "path": "members", "value": list(ids)})
                }
                MemberStep::RemoveAll => json!({"op": "remove", "path": "members"}),
            }
        }

        fn model(&self, set: &mut BTreeSet<String>) {
            match self {
                MemberStep::Add(ids) => set.extend(ids.iter().cloned()),
                MemberStep::RemoveList(ids) => ids.iter().for_each(|i| {
                    set.remove(i);
                }),
                MemberStep::RemoveOne(id) => {
                    set.remove(id);
                }
                MemberStep::Replace(ids) => *set = ids.iter().cloned().collect(),
                MemberStep::RemoveAll => set.clear(),
            }
        }
    }

    const PROJECTED: [&str; 16] = [
        "userName",
        "USERNAME",
        "name",
        "name.givenName",
        "emails",
        "emails.value",
        "Emails.Type",
        "phoneNumbers.primary",
        "urn:ietf:params:scim:schemas:core:2.0:User:displayName",
        "meta",
        "meta.created",
        "meta.resourceType",
        "id",
        "schemas",
        "active",
        "bogus",
    ];

    fn projection_list() -> impl Strategy<Value = Option<String>> {
        prop::option::of(prop_oneof![
            prop::collection::vec(prop::sample::select(PROJECTED.to_vec()), 0..5)
                .prop_map(|names| names.join(",")),
            junk(),
        ])
    }

    proptest! {
        #[test]
        fn filter_parsing_never_panics_and_its_output_is_canonical(raw in junk(), kind in kind()) {
            if let Ok(f) = parse_filter(&raw, kind) {
                let canonical = f.to_string();
                prop_assert_eq!(parse_filter(&canonical, kind), Ok(f.clone()), "{}", canonical);
            }
        }

        #[test]
        fn canonical_filters_read_back_to_themselves((kind, f) in kind_and_filter()) {
            let canonical = f.to_string();
            prop_assert_eq!(parse_filter(&canonical, kind), Ok(f), "{}", canonical);
        }

        #[test]
        fn a_filter_spelled_any_way_reads_the_same(
            (kind, f) in kind_and_filter(),
            spelling in spelling(),
        ) {
            let spelled = spelling.filter(kind, &f);
            if spelled.chars().count() <= MAX_FILTER_LEN {
                prop_assert_eq!(parse_filter(&spelled, kind), Ok(f), "{}", spelled);
            }
        }

        #[test]
        fn filters_with_unsupported_operators_are_always_refused(
            (kind, f) in kind_and_filter(),
            op in prop::sample::select(vec!["ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]),
            joiner in prop::sample::select(vec![" or ", " and not "]),
        ) {
            prop_assume!(!f.0.is_empty());
            let canonical = f.to_string();
            let swapped = canonical.replacen(" eq ", &format!(" {op} "), 1);
            prop_assert!(parse_filter(&swapped, kind).is_err(), "{}", swapped);
            let joined = format!("{canonical}{joiner}({canonical})");
            let e = parse_filter(&joined, kind).unwrap_err();
            prop_assert_eq!(e.scim_type, Some("invalidFilter"));
        }

        #[test]
        fn patch_path_parsing_never_panics_and_its_output_is_canonical(raw in junk(), kind in kind()) {
            if let Ok(ResolvedPath::Supported(p)) = parse_patch_path(&raw, kind) {
                prop_assert_eq!(
                    parse_patch_path(&p.to_string(), kind),
                    Ok(ResolvedPath::Supported(p.clone()))
                );
            }
        }

        #[test]
        fn canonical_patch_paths_read_back_to_themselves(
            (kind, p) in kind().prop_flat_map(|k| (Just(k), patch_path_of(k))),
            urn: bool,
        ) {
            let canonical = p.to_string();
            prop_assert_eq!(
                parse_patch_path(&canonical, kind),
                Ok(ResolvedPath::Supported(p.clone())),
                "{}", canonical
            );
            let prefixed = if urn { format!("{}:{canonical}", kind.schema().to_uppercase()) } else { canonical.to_uppercase() };
            // Upper-casing changes string literals inside a filter; only compare without one.
            if urn || p.filter.is_empty() {
                prop_assert_eq!(parse_patch_path(&prefixed, kind), Ok(ResolvedPath::Supported(p)), "{}", prefixed);
            }
        }

        #[test]
        fn patch_bodies_never_panic_the_parser_or_the_appliers(body in json_value(), state in user_state()) {
            for kind in [ResourceKind::User, ResourceKind::Group] {
                if let Ok(request) = parse_patch(&body, kind) {
                    let _ = apply_user_patch(&state, &request.ops);
                    let _ = apply_group_patch("g", None, &request.ops);
                }
            }
            let _ = parse_user(&body);
            let _ = parse_group(&body);
        }

        #[test]
        fn user_patches_keep_the_state_valid(state in user_state(), ops in user_ops()) {
            match apply_user_patch(&state, &ops) {
                Ok(next) => {
                    prop_assert!(!next.user_name.is_empty() && next.user_name.trim() == next.user_name);
                    prop_assert!(next.emails.iter().filter(|e| e.primary).count() <= 1);
                    prop_assert!(next.phone_numbers.iter().filter(|e| e.primary).count() <= 1);
                    for e in &next.emails {
                        prop_assert!(validation::normalize_email(&e.value).is_ok(), "{:?}", e);
                    }
                    for p in &next.phone_numbers {
                        prop_assert!(!p.value.is_empty() && p.value.trim() == p.value);
                    }
                    prop_assert!(next.given_name.chars().count() <= validation::MAX_NAME_LEN);
                    // What the service renders, it reads back.
                    let rendered = user_resource("id", &next, Timestamp(0), Timestamp(0), "https://x");
                    prop_assert_eq!(parse_user(&rendered), Ok(next));
                }
                Err(e) => prop_assert_eq!(e.status, 400),
            }
        }

        #[test]
        fn users_render_and_parse_back_unchanged(state in user_state(), created in 0i64..4_102_444_800_000) {
            let rendered = user_resource("u", &state, Timestamp(created), Timestamp(created), "https://x/scim/v2");
            prop_assert_eq!(parse_user(&rendered), Ok(state.clone()));
            // A PUT of the resource as read is a no-op; so is a path-less replace of it.
            let body = json!({"Operations": [{"op": "replace", "value": rendered}]});
            let request = parse_patch(&body, ResourceKind::User).unwrap();
            prop_assert_eq!(apply_user_patch(&state, &request.ops), Ok(state));
        }

        #[test]
        fn member_changes_do_what_the_operations_say(
            current in prop::collection::btree_set(prop::sample::select(vec!["a", "b", "c", "d", "e"]).prop_map(str::to_string), 0..5),
            steps in prop::collection::vec(member_step(), 1..8),
        ) {
            let body = json!({"Operations": steps.iter().map(MemberStep::json).collect::<Vec<_>>()});
            let request = parse_patch(&body, ResourceKind::Group).unwrap();
            let change = apply_group_patch("g", None, &request.ops).unwrap().members;
            let mut expected = current.clone();
            steps.iter().for_each(|s| s.model(&mut expected));
            let mut after: BTreeSet<String> = if change.replace_all { BTreeSet::new() } else { current.clone() };
            change.remove.iter().for_each(|r| { after.remove(r); });
            after.extend(change.add.iter().cloned());
            prop_assert_eq!(&after, &expected);
            prop_assert!(change.add.iter().all(|a| !change.remove.contains(a)));
            let now: Vec<String> = current.iter().cloned().collect();
            let (joined, left) = change.resolve(&now);
            let mut resolved = current.clone();
            left.iter().for_each(|l| { resolved.remove(l); });
            resolved.extend(joined.iter().cloned());
            prop_assert_eq!(&resolved, &expected);
            prop_assert!(joined.iter().all(|j| !current.contains(j)));
            prop_assert!(left.iter().all(|l| current.contains(l)));
        }

        #[test]
        fn paging_is_bounded_and_its_output_reads_back(
            start in prop::option::of(prop_oneof![junk(), any::<i64>().prop_map(|n| n.to_string())]),
            count in prop::option::of(prop_oneof![junk(), any::<i64>().prop_map(|n| n.to_string())]),
        ) {
            if let Ok(p) = parse_paging(start.as_deref(), count.as_deref()) {
                prop_assert!(p.start_index >= 1 && p.count <= MAX_RESULTS);
                let again = parse_paging(Some(&p.start_index.to_string()), Some(&p.count.to_string()));
                prop_assert_eq!(again, Ok(p));
            }
        }

        #[test]
        fn integers_page_as_the_rfc_says(start: i64, count: i64) {
            let p = parse_paging(Some(&start.to_string()), Some(&count.to_string())).unwrap();
            prop_assert_eq!(i64::from(p.start_index), start.clamp(1, i64::from(u32::MAX)));
            prop_assert_eq!(i64::from(p.count), count.clamp(0, i64::from(MAX_RESULTS)));
        }

        #[test]
        fn projections_keep_what_is_always_returned_and_are_idempotent(
            state in user_state(),
            attributes in projection_list(),
            excluded in projection_list(),
        ) {
            let r = user_resource("u-1", &state, Timestamp(0), Timestamp(0), "https://x");
            let p = project(&r, attributes.as_deref(), excluded.as_deref());
            prop_assert_eq!(&p["id"], &json!("u-1"));
            prop_assert_eq!(&p["schemas"], &json!([USER_SCHEMA]));
            prop_assert_eq!(&p["meta"]["resourceType"], &json!("User"));
            prop_assert_eq!(project(&p, attributes.as_deref(), excluded.as_deref()), p.clone());
            let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<BTreeSet<_>>();
            prop_assert!(keys(&p).is_subset(&keys(&r)));
            if let Some(names) = attributes.as_deref().filter(|a| a.split(',').any(|n| !n.trim().is_empty())) {
                let asked = names.to_ascii_lowercase();
                for k in keys(&p) {
                    prop_assert!(
                        ["id", "schemas", "meta"].contains(&k.as_str()) || asked.contains(&k.to_ascii_lowercase()),
                        "{} not asked for in {}", k, names
                    );
                }
            }
        }
    }
}
