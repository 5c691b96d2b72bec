//! The route table: one list of (method, path pattern, route). The dispatcher matches on
//! `Route` exhaustively, and a unit test holds this table and `/openapi.json` equal.

use std::sync::OnceLock;

use crate::error::ApiError;

/// Declares the `Route` enum and the `ROUTES` table from one list, so that no route can
/// exist in one and not the other.
macro_rules! routes {
    ($($method:literal $path:literal => $name:ident,)*) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Route {
            $($name,)*
        }

        pub const ROUTES: &[(&str, &str, Route)] = &[$(($method, $path, Route::$name),)*];
    };
}

routes! {
    "GET" "/health" => Health,
    "GET" "/health/ready" => Ready,
    "GET" "/openapi.json" => OpenApi,
    "GET" "/.well-known/jwks.json" => Jwks,
    "POST" "/v1/auth/signup" => Signup,
    "POST" "/v1/auth/activate" => Activate,
    "POST" "/v1/auth/login" => Login,
    "POST" "/v1/auth/refresh" => Refresh,
    "POST" "/v1/auth/logout" => Logout,
    "POST" "/v1/auth/logout-all" => LogoutAll,
    "POST" "/v1/auth/password/forgot" => ForgotPassword,
    "POST" "/v1/auth/password/reset" => ResetPassword,
    "POST" "/v1/auth/email/verify" => VerifyEmail,
    "GET" "/v1/me" => GetMe,
    "PATCH" "/v1/me" => PatchMe,
    "DELETE" "/v1/me" => DeleteMe,
    "POST" "/v1/me/password" => ChangePassword,
    "POST" "/v1/me/email" => ChangeEmail,
    "GET" "/v1/me/sessions" => ListSessions,
    "DELETE" "/v1/me/sessions/{session}" => RevokeSession,
    "GET" "/v1/me/activity" => Activity,
    "GET" "/v1/dev/mailbox" => DevMailbox,
    "POST" "/v1/orgs" => CreateOrg,
    "GET" "/v1/orgs" => ListOrgs,
    "GET" "/v1/orgs/{org}" => GetOrg,
    "PATCH" "/v1/orgs/{org}" => PatchOrg,
    "DELETE" "/v1/orgs/{org}" => DeleteOrg,
    "POST" "/v1/orgs/{org}/transfer-ownership" => TransferOwnership,
    "GET" "/v1/orgs/{org}/usage" => OrgUsage,
    "GET" "/v1/orgs/{org}/roles" => OrgRoles,
    "PUT" "/v1/admin/orgs/{org}/limits" => SetOrgLimits,
    "GET" "/v1/orgs/{org}/members" => ListMembers,
    "POST" "/v1/orgs/{org}/members/{user}/resend-activation" => ResendActivation,
    "POST" "/v1/orgs/{org}/members/{user}/reset-password" => AdminResetPassword,
    "DELETE" "/v1/orgs/{org}/users/{user}" => DeleteManagedAccount,
    "POST" "/v1/orgs/{org}/members" => CreateMember,
    "PATCH" "/v1/orgs/{org}/members/{user}" => PatchMember,
    "DELETE" "/v1/orgs/{org}/members/{user}" => RemoveMember,
    "POST" "/v1/orgs/{org}/workspaces" => CreateWorkspace,
    "GET" "/v1/orgs/{org}/workspaces" => ListWorkspaces,
    "GET" "/v1/orgs/{org}/workspaces/{ws}" => GetWorkspace,
    "PATCH" "/v1/orgs/{org}/workspaces/{ws}" => PatchWorkspace,
    "DELETE" "/v1/orgs/{org}/workspaces/{ws}" => DeleteWorkspace,
    "GET" "/v1/orgs/{org}/workspaces/{ws}/members" => ListWorkspaceMembers,
    "PUT" "/v1/orgs/{org}/workspaces/{ws}/members/{user}" => PutWorkspaceMember,
    "DELETE" "/v1/orgs/{org}/workspaces/{ws}/members/{user}" => RemoveWorkspaceMember,
    "POST" "/v1/orgs/{org}/invitations" => CreateInvitation,
    "GET" "/v1/orgs/{org}/invitations" => ListInvitations,
    "GET" "/v1/orgs/{org}/invitations/{invitation}" => GetInvitation,
    "POST" "/v1/orgs/{org}/invitations/{invitation}/resend" => ResendInvitation,
    "DELETE" "/v1/orgs/{org}/invitations/{invitation}" => WithdrawInvitation,
    "GET" "/v1/invitations/{token}" => PreviewInvitation,
    "POST" "/v1/invitations/accept" => AcceptInvitation,
    "GET" "/v1/me/invitations" => Inbox,
    "POST" "/v1/me/invitations/{invitation}/accept" => InboxAccept,
    "POST" "/v1/me/invitations/{invitation}/decline" => InboxDecline,
    "POST" "/v1/orgs/{org}/groups" => CreateGroup,
    "GET" "/v1/orgs/{org}/groups" => ListGroups,
    "GET" "/v1/orgs/{org}/groups/{group}" => GetGroup,
    "PATCH" "/v1/orgs/{org}/groups/{group}" => PatchGroup,
    "DELETE" "/v1/orgs/{org}/groups/{group}" => DeleteGroup,
    "GET" "/v1/orgs/{org}/groups/{group}/members" => ListGroupMembers,
    "PUT" "/v1/orgs/{org}/groups/{group}/members/{user}" => AddGroupMember,
    "DELETE" "/v1/orgs/{org}/groups/{group}/members/{user}" => RemoveGroupMember,
    "PUT" "/v1/orgs/{org}/workspaces/{ws}/grants" => PutGrant,
    "GET" "/v1/orgs/{org}/workspaces/{ws}/grants" => ListGrants,
    "DELETE" "/v1/orgs/{org}/workspaces/{ws}/grants" => DeleteGrant,
    "POST" "/v1/authz/check" => AuthzCheck,
    "GET" "/v1/orgs/{org}/audit-events" => AuditEvents,
    "POST" "/v1/orgs/{org}/api-tokens" => CreateApiToken,
    "GET" "/v1/orgs/{org}/api-tokens" => ListApiTokens,
    "DELETE" "/v1/orgs/{org}/api-tokens/{token_id}" => RevokeApiToken,
}

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

/// A pattern's segment: literal text, or a parameter's name (`{name}`).
enum Segment {
    Literal(&'static str),
    Param(&'static str),
}

/// A route of `ROUTES` with its pattern split into segments.
struct Compiled {
    method: &'static str,
    segments: Vec<Segment>,
    route: Route,
}

/// The table with every pattern split once per isolate: matching a request then costs one
/// split of its path and comparisons of whole segments. Splitting ~75 patterns on every
/// request was ~3 % of an authorization check's CPU (BENCHMARKS.md).
fn table() -> &'static [Compiled] {
    static TABLE: OnceLock<Vec<Compiled>> = OnceLock::new();
    TABLE.get_or_init(|| {
        ROUTES
            .iter()
            .map(|&(method, pattern, route)| Compiled {
                method,
                segments: pattern
                    .split('/')
                    .map(
                        |w| match w.strip_prefix('{').and_then(|w| w.strip_suffix('}')) {
                            Some(name) => Segment::Param(name),
                            None => Segment::Literal(w),
                        },
                    )
                    .collect(),
                route,
            })
            .collect()
    })
}

fn match_segments(pattern: &[Segment], path: &[&str]) -> Option<Params> {
    if pattern.len() != path.len() {
        return None;
    }
    let mut params = Params::default();
    for (want, got) in pattern.iter().zip(path) {
        match want {
            Segment::Param(_) if got.is_empty() => return None,
            Segment::Param(name) => params.0.push((name, got.to_string())),
            Segment::Literal(text) if text == got => {}
            Segment::Literal(_) => return None,
        }
    }
    Some(params)
}

/// The route for `method` and `path`, or 404 / 405 (with the allowed methods).
pub fn resolve(method: &str, path: &str) -> Result<(Route, Params), ApiError> {
    // A trailing slash names the same resource.
    let path = match path.strip_suffix('/') {
        Some(p) if !p.is_empty() => p,
        _ => path,
    };
    let segments: Vec<&str> = path.split('/').collect();
    let mut allowed = Vec::new();
    for c in table() {
        if let Some(params) = match_segments(&c.segments, &segments) {
            if c.method == method || (c.method == "GET" && method == "HEAD") {
                return Ok((c.route, params));
            }
            allowed.push(c.method);
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
    fn the_accept_route_is_not_taken_for_a_preview_token() {
        assert_eq!(
            resolve("POST", "/v1/invitations/accept").unwrap().0,
            Route::AcceptInvitation
        );
        let (route, params) = resolve("GET", "/v1/invitations/abc").unwrap();
        assert_eq!(route, Route::PreviewInvitation);
        assert_eq!(params.get("token"), "abc");
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
                .replace("{user}", "u")
                .replace("{ws}", "w")
                .replace("{invitation}", "i")
                .replace("{token}", "t")
                .replace("{group}", "g");
            assert_eq!(resolve(m, &concrete).unwrap().0, *route, "{m} {pattern}");
        }
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

    /// Every literal segment of the table: a parameter equal to one may legitimately select
    /// a literal route instead (`/v1/invitations/accept`).
    fn literal_segments() -> Vec<&'static str> {
        ROUTES
            .iter()
            .flat_map(|(_, p, _)| p.split('/'))
            .filter(|s| !s.starts_with('{'))
            .collect()
    }

    fn param_value() -> impl Strategy<Value = String> {
        prop_oneof![
            "[^/]{1,40}",
            "[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
            "[a-z_-]{1,12}",
        ]
        .prop_filter("not a literal segment", |v| {
            !literal_segments().contains(&v.as_str())
        })
    }

    /// A route of the table with its parameters filled in.
    fn concrete_route() -> impl Strategy<Value = (usize, String, Vec<(String, String)>)> {
        (0..ROUTES.len(), prop::collection::vec(param_value(), 3)).prop_map(|(i, values)| {
            let (_, pattern, _) = ROUTES[i];
            let mut params = Vec::new();
            let path: Vec<String> = pattern
                .split('/')
                .map(
                    |seg| match seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                        Some(name) => {
                            let v = values[params.len()].clone();
                            params.push((name.to_string(), v.clone()));
                            v
                        }
                        None => seg.to_string(),
                    },
                )
                .collect();
            (i, path.join("/"), params)
        })
    }

    proptest! {
        #[test]
        fn any_request_resolves_to_a_route_404_or_405(
            method in prop_oneof![prop::sample::select(METHODS.to_vec()).prop_map(String::from), any::<String>()],
            path in prop_oneof![
                any::<String>(),
                "(/(v1|orgs|me|members|[a-z0-9{}.-]{0,8})){0,8}/?",
                concrete_route().prop_map(|(_, p, _)| p),
            ],
        ) {
            match resolve(&method, &path) {
                Ok((route, params)) => {
                    let (m, _, _) = ROUTES.iter().find(|(_, _, r)| *r == route).unwrap();
                    prop_assert!(*m == method || (*m == "GET" && method == "HEAD"));
                    prop_assert!(params.0.iter().all(|(_, v)| !v.is_empty() && !v.contains('/')));
                }
                Err(ApiError::NotFound) => {}
                Err(ApiError::MethodNotAllowed { allowed }) => {
                    prop_assert!(!allowed.is_empty());
                    prop_assert!(!allowed.contains(&method.as_str()));
                    for m in allowed {
                        prop_assert!(resolve(m, &path).is_ok());
                    }
                }
                Err(other) => prop_assert!(false, "{other:?}"),
            }
        }

        #[test]
        fn every_route_resolves_with_its_parameters(
            (i, path, params) in concrete_route(),
            trailing_slash: bool,
        ) {
            let (method, pattern, route) = ROUTES[i];
            let path = if trailing_slash { format!("{path}/") } else { path };
            let (got, got_params) = resolve(method, &path).unwrap();
            prop_assert_eq!(got, route, "{} {} as {}", method, pattern, path);
            for (name, value) in &params {
                prop_assert_eq!(got_params.get(name), value.as_str());
            }
            if method == "GET" {
                prop_assert_eq!(resolve("HEAD", &path).unwrap().0, route);
            }
        }

        #[test]
        fn empty_segments_never_fill_a_parameter(i in 0..ROUTES.len()) {
            let (method, pattern, _) = ROUTES[i];
            prop_assume!(pattern.contains('{'));
            let path: Vec<&str> = pattern
                .split('/')
                .map(|s| if s.starts_with('{') { "" } else { s })
                .collect();
            let path = path.join("/");
            // `/v1/orgs/` is `/v1/orgs`: a trailing slash names the collection instead.
            if let Ok((got, params)) = resolve(method, &path) {
                prop_assert_ne!(got, ROUTES[i].2, "{}", path);
                prop_assert!(params.0.iter().all(|(_, v)| !v.is_empty()));
            }
        }
    }
}
