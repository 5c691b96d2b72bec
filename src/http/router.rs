//! The route table: one list of (method, path pattern, route). The dispatcher matches on
//! `Route` exhaustively, and a unit test holds this table and `/openapi.json` equal.

use super::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Health,
    Ready,
    OpenApi,
    Jwks,
    Signup,
    Activate,
    Login,
    Refresh,
    Logout,
    LogoutAll,
    ForgotPassword,
    ResetPassword,
    VerifyEmail,
    GetMe,
    PatchMe,
    DeleteMe,
    ChangePassword,
    ChangeEmail,
    ListSessions,
    RevokeSession,
    Activity,
    DevMailbox,
    CreateOrg,
    ListOrgs,
    GetOrg,
    PatchOrg,
    DeleteOrg,
    TransferOwnership,
    OrgUsage,
    OrgRoles,
    ListMembers,
    PatchMember,
    RemoveMember,
}

pub const ROUTES: &[(&str, &str, Route)] = &[
    ("GET", "/health", Route::Health),
    ("GET", "/health/ready", Route::Ready),
    ("GET", "/openapi.json", Route::OpenApi),
    ("GET", "/.well-known/jwks.json", Route::Jwks),
    ("POST", "/v1/auth/signup", Route::Signup),
    ("POST", "/v1/auth/activate", Route::Activate),
    ("POST", "/v1/auth/login", Route::Login),
    ("POST", "/v1/auth/refresh", Route::Refresh),
    ("POST", "/v1/auth/logout", Route::Logout),
    ("POST", "/v1/auth/logout-all", Route::LogoutAll),
    ("POST", "/v1/auth/password/forgot", Route::ForgotPassword),
    ("POST", "/v1/auth/password/reset", Route::ResetPassword),
    ("POST", "/v1/auth/email/verify", Route::VerifyEmail),
    ("GET", "/v1/me", Route::GetMe),
    ("PATCH", "/v1/me", Route::PatchMe),
    ("DELETE", "/v1/me", Route::DeleteMe),
    ("POST", "/v1/me/password", Route::ChangePassword),
    ("POST", "/v1/me/email", Route::ChangeEmail),
    ("GET", "/v1/me/sessions", Route::ListSessions),
    ("DELETE", "/v1/me/sessions/{session}", Route::RevokeSession),
    ("GET", "/v1/me/activity", Route::Activity),
    ("GET", "/v1/dev/mailbox", Route::DevMailbox),
    ("POST", "/v1/orgs", Route::CreateOrg),
    ("GET", "/v1/orgs", Route::ListOrgs),
    ("GET", "/v1/orgs/{org}", Route::GetOrg),
    ("PATCH", "/v1/orgs/{org}", Route::PatchOrg),
    ("DELETE", "/v1/orgs/{org}", Route::DeleteOrg),
    (
        "POST",
        "/v1/orgs/{org}/transfer-ownership",
        Route::TransferOwnership,
    ),
    ("GET", "/v1/orgs/{org}/usage", Route::OrgUsage),
    ("GET", "/v1/orgs/{org}/roles", Route::OrgRoles),
    ("GET", "/v1/orgs/{org}/members", Route::ListMembers),
    ("PATCH", "/v1/orgs/{org}/members/{user}", Route::PatchMember),
    (
        "DELETE",
        "/v1/orgs/{org}/members/{user}",
        Route::RemoveMember,
    ),
];

/// Path parameters by name, in pattern order.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Params(Vec<(&'static str, String)>);

impl Params {
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or_default()
    }
}

fn match_pattern(pattern: &'static str, path: &str) -> Option<Params> {
    let mut params = Params::default();
    let mut want = pattern.split('/');
    let mut got = path.split('/');
    loop {
        match (want.next(), got.next()) {
            (None, None) => return Some(params),
            (Some(w), Some(g)) if w.starts_with('{') && w.ends_with('}') => {
                if g.is_empty() {
                    return None;
                }
                params.0.push((&w[1..w.len() - 1], g.to_string()));
            }
            (Some(w), Some(g)) if w == g => {}
            _ => return None,
        }
    }
}

/// The route for `method` and `path`, or 404 / 405 (with the allowed methods).
pub fn resolve(method: &str, path: &str) -> Result<(Route, Params), ApiError> {
    // A trailing slash names the same resource.
    let path = match path.strip_suffix('/') {
        Some(p) if !p.is_empty() => p,
        _ => path,
    };
    let mut allowed = Vec::new();
    for (m, pattern, route) in ROUTES {
        if let Some(params) = match_pattern(pattern, path) {
            if *m == method || (*m == "GET" && method == "HEAD") {
                return Ok((*route, params));
            }
            allowed.push(*m);
        }
    }
    if allowed.is_empty() {
        Err(ApiError::NotFound)
    } else {
        Err(ApiError::MethodNotAllowed { allowed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_static_and_parameterised_paths() {
        assert_eq!(resolve("GET", "/v1/me").unwrap().0, Route::GetMe);
        assert_eq!(resolve("GET", "/v1/me/").unwrap().0, Route::GetMe);
        let (route, params) = resolve("DELETE", "/v1/me/sessions/abc").unwrap();
        assert_eq!(route, Route::RevokeSession);
        assert_eq!(params.get("session"), "abc");
        assert_eq!(resolve("HEAD", "/health").unwrap().0, Route::Health);
    }

    #[test]
    fn unknown_paths_are_404_and_wrong_methods_405() {
        assert!(matches!(resolve("GET", "/v2/me"), Err(ApiError::NotFound)));
        assert!(matches!(
            resolve("GET", "/v1/me/sessions/"),
            Ok((Route::ListSessions, _))
        ));
        assert!(matches!(
            resolve("DELETE", "/v1/me/sessions//x"),
            Err(ApiError::NotFound)
        ));
        match resolve("PUT", "/v1/me") {
            Err(ApiError::MethodNotAllowed { allowed }) => {
                assert_eq!(allowed, vec!["GET", "PATCH", "DELETE"])
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn every_route_is_reachable_by_its_own_pattern() {
        for (m, pattern, route) in ROUTES {
            let concrete = pattern
                .replace("{session}", "x")
                .replace("{org}", "o")
                .replace("{user}", "u");
            assert_eq!(resolve(m, &concrete).unwrap().0, *route, "{m} {pattern}");
        }
    }
}
