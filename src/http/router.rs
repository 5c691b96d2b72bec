//! Routing: each resource module of `api` declares its routes (`routes!`: method, pattern,
//! the guard it requires and the handler, side by side); the entry point hands the whole
//! table to `http::handle`, so this layer knows no handler. A unit test in `api` holds the
//! table and `/openapi.json` equal.

use std::sync::OnceLock;

use futures_util::future::LocalBoxFuture;

use super::{Ctx, Reply};
use crate::domain::permissions::OrgAction;
use crate::error::{ApiError, ApiResult};

/// A route's handler with its guard applied (`routes!` writes it).
pub type Handler = for<'a> fn(&'a Ctx) -> LocalBoxFuture<'a, ApiResult<Reply>>;

/// What a route requires of its caller before its handler runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// Anyone (the handler checks what the body carries: a password, an emailed token).
    Public,
    /// A person on a live session (API tokens get 403).
    Person,
    /// A person, or the single-use password's change token.
    PasswordChange,
    /// A person or an API token, with no org (the authorization check).
    Principal,
    /// A person or an API token admitted to the path's `{org}` for this action.
    Org(OrgAction),
    /// The platform operator's secret.
    Operator,
    /// An org's SCIM client (a SCIM token); the handler acts in the token's org.
    Scim,
}

/// One route: pattern, guard and handler, declared where the handler lives.
pub struct Route {
    pub method: &'static str,
    pub pattern: &'static str,
    pub guard: Guard,
    pub handler: Handler,
}

/// `routes! { GET "/v1/orgs/{org}" => org(ViewOrg) get; … }`: the module's `ROUTES`.
///
/// Guards: `public h` calls `h(ctx)`; the others authenticate the caller (`Principal`) and
/// ask it for a capability: `person h` calls `h(ctx, caller)`; `password_change h` calls
/// `h(ctx, changer)`; `org(Action) h` calls `h(ctx, access)` with the caller admitted to
/// `{org}` for `OrgAction::Action`; `operator h` calls `h(ctx, operator)`; `scim h` calls
/// `h(ctx, client)` with the org's SCIM client. A handler in
/// brackets (`org(ViewDirectory) [list]`) plans its own reads into the gate's round trip and
/// runs the gate itself (`org_access_with`, `authenticate_with`): it is called `h(ctx,
/// OrgAction::Action)` for an org guard, `h(ctx)` otherwise.
#[macro_export]
macro_rules! routes {
    ($($method:ident $pattern:literal => $kind:ident $(($action:ident))? $([$planned:path])? $($handler:path)?;)*) => {
        pub const ROUTES: &[$crate::http::router::Route] = &[$(
            $crate::http::router::Route {
                method: stringify!($method),
                pattern: $pattern,
                guard: $crate::routes!(@guard $kind $(($action))?),
                handler: {
                    fn handler(
                        ctx: &$crate::http::Ctx,
                    ) -> ::futures_util::future::LocalBoxFuture<'_, $crate::error::ApiResult<$crate::http::Reply>> {
                        ::std::boxed::Box::pin(async move {
                            $crate::routes!(@call ctx, $kind $(($action))?, [$($planned)?], $($handler)?)
                        })
                    }
                    handler
                },
            },
        )*];
    };
    (@guard public) => { $crate::http::router::Guard::Public };
    (@guard person) => { $crate::http::router::Guard::Person };
    (@guard password_change) => { $crate::http::router::Guard::PasswordChange };
    (@guard principal) => { $crate::http::router::Guard::Principal };
    (@guard operator) => { $crate::http::router::Guard::Operator };
    (@guard scim) => { $crate::http::router::Guard::Scim };
    (@guard org($action:ident)) => {
        $crate::http::router::Guard::Org($crate::domain::permissions::OrgAction::$action)
    };
    (@call $ctx:ident, org($action:ident), [$planned:path], ) => {
        $planned($ctx, $crate::domain::permissions::OrgAction::$action).await
    };
    (@call $ctx:ident, $kind:ident, [$planned:path], ) => { $planned($ctx).await };
    (@call $ctx:ident, public, [], $h:path) => { $h($ctx).await };
    (@call $ctx:ident, person, [], $h:path) => {
        $h($ctx, $crate::http::auth::authenticate($ctx).await?.person()?).await
    };
    (@call $ctx:ident, password_change, [], $h:path) => {
        $h($ctx, $crate::http::auth::authenticate($ctx).await?.password_changer()?).await
    };
    (@call $ctx:ident, operator, [], $h:path) => {
        $h($ctx, $crate::http::auth::authenticate($ctx).await?.operator()?).await
    };
    (@call $ctx:ident, scim, [], $h:path) => {
        $h($ctx, $crate::http::auth::authenticate($ctx).await?.scim()?).await
    };
    (@call $ctx:ident, org($action:ident), [], $h:path) => {
        $h(
            $ctx,
            $crate::http::access::org_access($ctx, $crate::domain::permissions::OrgAction::$action)
                .await?,
        )
        .await
    };
}

/// Path parameters by name, in pattern order.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Params(Vec<(&'static str, String)>);

impl Params {
    /// The values, in pattern order.
    pub fn values(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(|(_, v)| v.as_str())
    }

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

/// A route with its pattern split into segments.
struct Compiled {
    segments: Vec<Segment>,
    route: &'static Route,
}

/// `routes` with every pattern split once: matching a request then costs one split of its
/// path and comparisons of whole segments (splitting ~75 patterns on every request was ~3 %
/// of an authorization check's CPU, BENCHMARKS.md).
pub struct Table(Vec<Compiled>);

impl Table {
    pub fn new(groups: &'static [&'static [Route]]) -> Table {
        Table(
            groups
                .iter()
                .flat_map(|group| group.iter())
                .map(|route| Compiled {
                    segments: route
                        .pattern
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
                .collect(),
        )
    }

    /// The isolate's table, compiled on first use: the entry point passes the same
    /// routes on every request.
    pub fn of(groups: &'static [&'static [Route]]) -> &'static Table {
        static TABLE: OnceLock<Table> = OnceLock::new();
        TABLE.get_or_init(|| Table::new(groups))
    }

    /// The route for `method` and `path`, or 404 / 405 (with the allowed methods).
    pub fn resolve(&self, method: &str, path: &str) -> Result<(&'static Route, Params), ApiError> {
        // A trailing slash names the same resource.
        let path = match path.strip_suffix('/') {
            Some(p) if !p.is_empty() => p,
            _ => path,
        };
        let segments: Vec<&str> = path.split('/').collect();
        let mut allowed = Vec::new();
        for c in &self.0 {
            if let Some(params) = match_segments(&c.segments, &segments) {
                if c.route.method == method || (c.route.method == "GET" && method == "HEAD") {
                    return Ok((c.route, params));
                }
                allowed.push(c.route.method);
            }
        }
        if allowed.is_empty() {
            Err(ApiError::NotFound)
        } else {
            Err(ApiError::MethodNotAllowed { allowed })
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn dummy<'a>(_: &'a Ctx) -> LocalBoxFuture<'a, ApiResult<Reply>> {
        Box::pin(async { Err(ApiError::NotFound) })
    }

    const A: &[Route] = &[
        Route {
            method: "GET",
            pattern: "/v1/things",
            guard: Guard::Public,
            handler: dummy,
        },
        Route {
            method: "POST",
            pattern: "/v1/things/accept",
            guard: Guard::Public,
            handler: dummy,
        },
        Route {
            method: "GET",
            pattern: "/v1/things/{id}",
            guard: Guard::Public,
            handler: dummy,
        },
    ];
    const B: &[Route] = &[Route {
        method: "DELETE",
        pattern: "/v1/things/{id}",
        guard: Guard::Person,
        handler: dummy,
    }];

    #[test]
    fn routes_of_every_group_resolve_with_their_parameters() {
        let table = Table::new(&[A, B]);
        let (route, params) = table.resolve("DELETE", "/v1/things/x1").unwrap();
        assert_eq!((route.method, route.guard), ("DELETE", Guard::Person));
        assert_eq!(params.get("id"), "x1");
        assert_eq!(
            table.resolve("GET", "/v1/things/").unwrap().0.pattern,
            "/v1/things"
        );
        assert_eq!(table.resolve("HEAD", "/v1/things").unwrap().0.method, "GET");
        assert_eq!(
            table
                .resolve("POST", "/v1/things/accept")
                .unwrap()
                .0
                .pattern,
            "/v1/things/accept"
        );
        assert!(matches!(
            table.resolve("GET", "/v2/things"),
            Err(ApiError::NotFound)
        ));
        assert!(matches!(
            table.resolve("GET", "/v1/things//"),
            Err(ApiError::NotFound)
        ));
        match table.resolve("PUT", "/v1/things/x1") {
            Err(ApiError::MethodNotAllowed { allowed }) => {
                assert_eq!(allowed, vec!["GET", "DELETE"])
            }
            other => panic!("{:?}", other.map(|(r, _)| r.pattern)),
        }
    }
}
