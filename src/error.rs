//! The one API error type, rendered as RFC 9457 problem+json with a stable `code`.

use serde_json::{json, Value};

use crate::domain::invitation::InvitationStatus;
use crate::domain::validation::FieldError;

#[derive(Debug)]
pub enum ApiError {
    Validation(Vec<FieldError>),
    Unauthorized,
    InvalidCredentials,
    AccountLocked,
    AccountNotActive,
    /// A single-use password was used: only `POST /v1/me/password` with this token is allowed.
    PasswordChangeRequired {
        change_token: String,
    },
    Forbidden,
    NotFound,
    MethodNotAllowed {
        allowed: Vec<&'static str>,
    },
    Conflict {
        code: &'static str,
        detail: String,
    },
    InvalidToken,
    /// An invitation link whose invitation is over (accepted, declined, withdrawn): an
    /// invalid token like any used one, which also says what became of the invitation.
    InvitationClosed(InvitationStatus),
    TokenExpired,
    RateLimited {
        retry_after_seconds: i64,
    },
    PayloadTooLarge {
        limit: usize,
    },
    UnsupportedMediaType,
    /// Configuration the operator must fix; the detail names the setting, never a secret.
    Misconfigured(String),
    /// A batch guard (store::guard) did not hold; handlers translate it to what it means.
    GuardFailed,
    /// A refresh token that is unknown, rotated away or of an ended session.
    InvalidRefreshToken,
    /// A request that uses or asks for the session cookie without this service's own
    /// `Origin` (`http::browser::check_origin`): missing, or another origin.
    CrossOriginRequest {
        origin_missing: bool,
    },
    /// Password sign-in, reset or change for an account whose org signs in through SSO
    /// (enforced, or a federated account): the answer says where to go instead.
    SsoRequired {
        authorize_url: String,
    },
    /// A change a federated account's identity provider owns (names, the password).
    FederatedAccount(&'static str),
    /// A refusal of its own kind: status, code, title, detail, and extension members.
    Problem {
        status: u16,
        code: &'static str,
        title: &'static str,
        detail: String,
        extra: Option<Value>,
    },
    /// Anything unexpected: the cause is logged, the client sees a generic body.
    Internal(String),
}

impl ApiError {
    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        ApiError::Conflict {
            code,
            detail: detail.into(),
        }
    }

    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ApiError::Validation(vec![FieldError {
            field: field.into(),
            message: message.into(),
        }])
    }

    /// Gives a failed batch guard its meaning; other errors pass through.
    pub fn on_guard(self, meaning: ApiError) -> Self {
        match self {
            ApiError::GuardFailed => meaning,
            other => other,
        }
    }

    pub fn problem(
        status: u16,
        code: &'static str,
        title: &'static str,
        detail: impl Into<String>,
    ) -> Self {
        ApiError::Problem {
            status,
            code,
            title,
            detail: detail.into(),
            extra: None,
        }
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError::Internal(cause.to_string())
    }

    pub fn internal_debug(cause: impl std::fmt::Debug) -> Self {
        ApiError::Internal(format!("{cause:?}"))
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::Validation(_) => 422,
            ApiError::Unauthorized
            | ApiError::InvalidCredentials
            | ApiError::InvalidRefreshToken => 401,
            ApiError::AccountLocked => 423,
            ApiError::AccountNotActive
            | ApiError::PasswordChangeRequired { .. }
            | ApiError::Forbidden
            | ApiError::SsoRequired { .. }
            | ApiError::FederatedAccount(_)
            | ApiError::CrossOriginRequest { .. } => 403,
            ApiError::Problem { status, .. } => *status,
            ApiError::NotFound => 404,
            ApiError::MethodNotAllowed { .. } => 405,
            ApiError::Conflict { .. } | ApiError::GuardFailed => 409,
            ApiError::InvalidToken | ApiError::InvitationClosed(_) => 400,
            ApiError::TokenExpired => 410,
            ApiError::RateLimited { .. } => 429,
            ApiError::PayloadTooLarge { .. } => 413,
            ApiError::UnsupportedMediaType => 415,
            ApiError::Misconfigured(_) => 503,
            ApiError::Internal(_) => 500,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Validation(_) => "validation_failed",
            ApiError::Unauthorized => "unauthorized",
            ApiError::InvalidCredentials => "invalid_credentials",
            ApiError::AccountLocked => "account_locked",
            ApiError::AccountNotActive => "account_not_active",
            ApiError::PasswordChangeRequired { .. } => "password_change_required",
            ApiError::Forbidden => "forbidden",
            ApiError::CrossOriginRequest { .. } => "cross_origin_request",
            ApiError::NotFound => "not_found",
            ApiError::MethodNotAllowed { .. } => "method_not_allowed",
            ApiError::Conflict { code, .. } => code,
            ApiError::InvalidToken
            | ApiError::InvitationClosed(_)
            | ApiError::InvalidRefreshToken => "invalid_token",
            ApiError::GuardFailed => "conflict",
            ApiError::TokenExpired => "token_expired",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::PayloadTooLarge { .. } => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::Misconfigured(_) => "service_misconfigured",
            ApiError::SsoRequired { .. } => "sso_required",
            ApiError::FederatedAccount(_) => "federated_account",
            ApiError::Problem { code, .. } => code,
            ApiError::Internal(_) => "internal_error",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            ApiError::Validation(_) => "The request is not valid",
            ApiError::Unauthorized => "Authentication required",
            ApiError::InvalidCredentials => "Invalid email or password",
            ApiError::AccountLocked => "Account locked",
            ApiError::AccountNotActive => "Account not activated",
            ApiError::PasswordChangeRequired { .. } => "Password change required",
            ApiError::Forbidden => "Forbidden",
            ApiError::CrossOriginRequest { .. } => "Cross-origin request refused",
            ApiError::NotFound => "Not found",
            ApiError::MethodNotAllowed { .. } => "Method not allowed",
            ApiError::Conflict { .. } => "Conflict",
            ApiError::InvalidToken
            | ApiError::InvitationClosed(_)
            | ApiError::InvalidRefreshToken => "Invalid token",
            ApiError::GuardFailed => "Conflict",
            ApiError::TokenExpired => "Token expired",
            ApiError::RateLimited { .. } => "Too many requests",
            ApiError::PayloadTooLarge { .. } => "Payload too large",
            ApiError::UnsupportedMediaType => "Unsupported media type",
            ApiError::Misconfigured(_) => "Service misconfigured",
            ApiError::SsoRequired { .. } => "Single sign-on required",
            ApiError::FederatedAccount(_) => "Managed by the identity provider",
            ApiError::Problem { title, .. } => title,
            ApiError::Internal(_) => "Internal server error",
        }
    }

    /// The human-readable explanation, as the problem document's `detail` says it.
    pub fn detail(&self) -> String {
        match self {
            ApiError::Validation(_) => "One or more fields are invalid; see errors.".into(),
            ApiError::Unauthorized => {
                "A valid bearer token for a live session is required.".into()
            }
            ApiError::InvalidCredentials => "The email or password is incorrect.".into(),
            ApiError::AccountLocked => {
                "The account is locked after too many failed logins; reset the password to unlock it."
                    .into()
            }
            ApiError::AccountNotActive => {
                "The account has not been activated yet; use the link in the activation email."
                    .into()
            }
            ApiError::PasswordChangeRequired { .. } => {
                "A single-use password was used: set a new password with POST /v1/me/password using change_token as the bearer token."
                    .into()
            }
            ApiError::Forbidden => "Your role does not allow this action.".into(),
            ApiError::CrossOriginRequest { origin_missing } => format!(
                "Requests that use or ask for the session cookie must come from this service's own pages: {}.",
                if *origin_missing {
                    "the Origin header is missing"
                } else {
                    "the Origin header names another origin"
                }
            ),
            ApiError::NotFound => "The resource does not exist or is not visible to you.".into(),
            ApiError::MethodNotAllowed { allowed } => {
                format!("Allowed methods: {}.", allowed.join(", "))
            }
            ApiError::Conflict { detail, .. } => detail.clone(),
            ApiError::InvalidToken => "The token is invalid or has already been used.".into(),
            ApiError::InvitationClosed(status) => match status {
                InvitationStatus::Accepted => "This invitation was already accepted.".into(),
                InvitationStatus::Declined => "This invitation was declined.".into(),
                InvitationStatus::Withdrawn => {
                    "This invitation was withdrawn, or replaced by a newer one.".into()
                }
                InvitationStatus::Pending | InvitationStatus::Expired => {
                    "The invitation link is no longer valid.".into()
                }
            },
            ApiError::InvalidRefreshToken => {
                "The refresh token is invalid, already used, or its session has ended; log in again."
                    .into()
            }
            ApiError::GuardFailed => "The request conflicted with a concurrent change; retry.".into(),
            ApiError::TokenExpired => "The token has expired; ask for a new one.".into(),
            ApiError::RateLimited {
                retry_after_seconds,
            } => format!("Too many attempts; retry after {retry_after_seconds} seconds."),
            ApiError::PayloadTooLarge { limit } => {
                format!("The request body exceeds {limit} bytes.")
            }
            ApiError::UnsupportedMediaType => "Send the body as application/json.".into(),
            ApiError::Misconfigured(setting) => {
                format!("The service is not configured correctly: {setting}.")
            }
            ApiError::SsoRequired { authorize_url } => format!(
                "Your organization signs in through its identity provider: continue at {authorize_url}."
            ),
            ApiError::FederatedAccount(what) => format!(
                "This account exists through the organization's identity provider, which manages {what}; change it there."
            ),
            ApiError::Problem { detail, .. } => detail.clone(),
            ApiError::Internal(_) => "An unexpected error occurred.".into(),
        }
    }

    /// The problem document. `instance` carries the request id so a report can be traced.
    pub fn to_problem(&self, request_id: &str) -> Value {
        let code = self.code();
        let mut body = crate::object!({
            "type": format!("/problems/{code}"),
            "title": self.title(),
            "status": self.status(),
            "detail": self.detail(),
            "code": code,
            "instance": format!("urn:request:{request_id}"),
        });
        match self {
            ApiError::Validation(errors) => body["errors"] = json!(errors),
            ApiError::PasswordChangeRequired { change_token } => {
                body["change_token"] = json!(change_token)
            }
            ApiError::InvitationClosed(status) => body["invitation_status"] = json!(status),
            ApiError::SsoRequired { authorize_url } => body["authorize_url"] = json!(authorize_url),
            ApiError::Problem {
                extra: Some(Value::Object(extra)),
                ..
            } => {
                for (k, v) in extra {
                    body[k] = v.clone();
                }
            }
            _ => {}
        }
        body
    }

    /// Extra headers the status calls for.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        match self {
            ApiError::RateLimited {
                retry_after_seconds,
            } => vec![("retry-after", retry_after_seconds.max(&1).to_string())],
            ApiError::MethodNotAllowed { allowed } => vec![("allow", allowed.join(", "))],
            ApiError::Unauthorized => vec![("www-authenticate", "Bearer".into())],
            _ => vec![],
        }
    }

    /// What goes to the log beside the request id (internal causes never reach the client).
    pub fn log_cause(&self) -> Option<&str> {
        match self {
            ApiError::Internal(cause) | ApiError::Misconfigured(cause) => Some(cause),
            _ => None,
        }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

/// `parsed`, unless the check that would have run before parsing refuses (401, 404, 403):
/// a route that moves its check after parsing, to share a round trip with the route's other
/// reads, keeps which error wins. The check runs only when parsing failed.
pub async fn refusal_first<T, C>(
    parsed: ApiResult<T>,
    check: impl std::future::Future<Output = ApiResult<C>>,
) -> ApiResult<T> {
    match parsed {
        Ok(v) => Ok(v),
        Err(e) => {
            check.await?;
            Err(e)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_carry_status_code_and_errors() {
        let e = ApiError::field("email", "must be an email address");
        let p = e.to_problem("req-1");
        assert_eq!(p["status"], 422);
        assert_eq!(p["code"], "validation_failed");
        assert_eq!(p["type"], "/problems/validation_failed");
        assert_eq!(p["errors"][0]["field"], "email");
        assert_eq!(p["instance"], "urn:request:req-1");
    }

    #[test]
    fn internal_errors_hide_their_cause() {
        let e = ApiError::internal("D1_ERROR: no such table: users");
        let p = e.to_problem("r");
        assert_eq!(p["status"], 500);
        assert!(!p.to_string().contains("no such table"));
        assert_eq!(e.log_cause(), Some("D1_ERROR: no such table: users"));
    }

    #[test]
    fn rate_limits_say_when_to_retry() {
        let e = ApiError::RateLimited {
            retry_after_seconds: 0,
        };
        assert_eq!(e.status(), 429);
        assert_eq!(e.headers(), vec![("retry-after", "1".to_string())]);
    }

    #[test]
    fn every_spec_code_has_its_status() {
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (ApiError::Unauthorized, 401, "unauthorized"),
            (ApiError::InvalidCredentials, 401, "invalid_credentials"),
            (ApiError::AccountLocked, 423, "account_locked"),
            (ApiError::AccountNotActive, 403, "account_not_active"),
            (
                ApiError::PasswordChangeRequired {
                    change_token: "t".into(),
                },
                403,
                "password_change_required",
            ),
            (ApiError::Forbidden, 403, "forbidden"),
            (
                ApiError::CrossOriginRequest {
                    origin_missing: true,
                },
                403,
                "cross_origin_request",
            ),
            (ApiError::NotFound, 404, "not_found"),
            (ApiError::conflict("email_taken", "x"), 409, "email_taken"),
            (ApiError::InvalidToken, 400, "invalid_token"),
            (ApiError::TokenExpired, 410, "token_expired"),
            (
                ApiError::PayloadTooLarge { limit: 1 },
                413,
                "payload_too_large",
            ),
        ];
        for (e, status, code) in cases {
            assert_eq!((e.status(), e.code()), (status, code));
        }
    }
}
