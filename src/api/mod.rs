//! Handlers, one module per resource, each declaring its routes; `ROUTES` gathers them.

pub mod api_tokens;
pub mod audit;
pub mod auth;
pub mod authz;
pub mod domains;
pub mod groups;
pub mod invitations;
pub mod me;
pub mod members;
pub mod operator;
pub mod orgs;
pub mod platform;
pub mod resource_grants;
pub mod scim;
pub mod scim_tokens;
pub mod sso;
pub mod sso_connections;
pub mod views;
pub mod workspaces;

use crate::error::{ApiError, ApiResult};
use crate::http::access::OrgAccess;
use crate::http::router::Route;
use crate::http::Ctx;
use crate::ops;
use crate::store::{self, Results, Ticket, Together};

/// Every route of the service, one group per resource module (each declares its own with
/// `routes!`: pattern, guard and handler side by side). The entry point hands this to
/// `http::handle`.
pub const ROUTES: &[&[Route]] = &[
    platform::ROUTES,
    auth::ROUTES,
    me::ROUTES,
    orgs::ROUTES,
    operator::ROUTES,
    members::ROUTES,
    workspaces::ROUTES,
    invitations::ROUTES,
    groups::ROUTES,
    resource_grants::ROUTES,
    authz::ROUTES,
    audit::ROUTES,
    api_tokens::ROUTES,
    domains::ROUTES,
    sso_connections::ROUTES,
    sso::ROUTES,
    scim_tokens::ROUTES,
    scim::ROUTES,
];

/// Rate-limit hits planned into a `Together` batch: checked once the batch has run, so the
/// counting shares its round trip with the handler's other checks.
pub struct Limits {
    /// (its read in the batch, limit) per bucket.
    hits: Vec<(Ticket<store::rate_limits::Hits>, i64)>,
}

impl Limits {
    /// Counts one hit on the per-IP bucket of `action` and, where the account is known up
    /// front (an email in the body), on its per-account bucket.
    pub fn plan(
        ctx: &Ctx,
        reads: &mut Together,
        action: &str,
        account: Option<&str>,
    ) -> ApiResult<Self> {
        Self::counted(ctx, reads, action, 1, account.as_slice())
    }

    /// Like `plan` for a request acting on several accounts at once (invitations sent
    /// together): the per-IP bucket counts one hit per account, as if each had been asked
    /// alone, and each account's bucket one.
    pub fn plan_each(
        ctx: &Ctx,
        reads: &mut Together,
        action: &str,
        accounts: &[&str],
    ) -> ApiResult<Self> {
        let ip_hits = i64::try_from(accounts.len()).unwrap_or(i64::MAX);
        Self::counted(ctx, reads, action, ip_hits, accounts)
    }

    fn counted(
        ctx: &Ctx,
        reads: &mut Together,
        action: &str,
        ip_hits: i64,
        accounts: &[&str],
    ) -> ApiResult<Self> {
        let now = ctx.now();
        let mut hits = vec![(
            reads.add(store::rate_limits::hits_stmt(
                ctx.store(),
                &format!("{action}:ip:{}", ctx.origin().ip),
                ip_hits,
                now,
            )?),
            ctx.cfg.rate_limit_per_ip,
        )];
        for account in accounts {
            hits.push((
                reads.add(store::rate_limits::hit_stmt(
                    ctx.store(),
                    &format!("{action}:account:{account}"),
                    now,
                )?),
                ctx.cfg.rate_limit_per_account,
            ));
        }
        Ok(Limits { hits })
    }

    /// The per-IP bucket of `action` and the per-account bucket of invitation
    /// `invitation`'s email (resolved in SQL, in the same batch as the invitation's lookup).
    pub fn plan_invitee(
        ctx: &Ctx,
        reads: &mut Together,
        action: &str,
        invitation: crate::domain::ids::InvitationId,
    ) -> ApiResult<Self> {
        let mut limits = Self::plan(ctx, reads, action, None)?;
        limits.hits.push((
            reads.add(store::rate_limits::hit_invitee_stmt(
                ctx.store(),
                action,
                invitation,
                ctx.now(),
            )?),
            ctx.cfg.rate_limit_per_account,
        ));
        Ok(limits)
    }

    /// 429 with `retry-after` once any bucket is over its limit in the current minute.
    pub fn check(&self, ctx: &Ctx, results: &Results) -> ApiResult<()> {
        for (i, max) in &self.hits {
            let count = results.first(*i)?.map_or(0, |h| h.hits);
            if count > *max {
                return Err(ApiError::RateLimited {
                    retry_after_seconds: store::rate_limits::retry_after(ctx.now()),
                });
            }
        }
        Ok(())
    }
}

/// Counts this request against the per-IP limit for `action` and, where the account is known
/// up front, the per-account limit: one round trip of its own.
pub async fn rate_limit(ctx: &Ctx, action: &str, account: Option<&str>) -> ApiResult<()> {
    let mut reads = Together::default();
    let limits = Limits::plan(ctx, &mut reads, action, account)?;
    let results = reads.run(ctx.store()).await?;
    limits.check(ctx, &results)
}

/// The per-account limit alone, for actions whose account is only known after a lookup
/// (a token in the body names it).
pub async fn rate_limit_account(ctx: &Ctx, action: &str, account: &str) -> ApiResult<()> {
    let mut reads = Together::default();
    let hit = reads.add(store::rate_limits::hit_stmt(
        ctx.store(),
        &format!("{action}:account:{account}"),
        ctx.now(),
    )?);
    let limits = Limits {
        hits: vec![(hit, ctx.cfg.rate_limit_per_account)],
    };
    let results = reads.run(ctx.store()).await?;
    limits.check(ctx, &results)
}

/// What an operation needs of an admitted request (`ops::Acting`): the org's store, the
/// caller's role and identity there, where the request came from, and its instant.
pub fn acting<'a>(ctx: &'a Ctx, access: &'a OrgAccess) -> ops::Acting<'a> {
    ops::Acting {
        org: access.store(),
        role: access.role(),
        actor: access.actor(),
        origin: ctx.origin(),
        now: ctx.now(),
        method: None,
    }
}

#[cfg(test)]
mod routing_tests {
    use super::*;
    use crate::http::router::{Guard, Params, Table};

    /// The route (method, pattern) the service's table picks, with its parameters.
    pub fn resolve(method: &str, path: &str) -> ApiResult<((&'static str, &'static str), Params)> {
        Table::of(ROUTES)
            .resolve(method, path)
            .map(|(route, params)| ((route.method, route.pattern), params))
    }

    /// Every route, flattened, as (method, pattern).
    pub fn all() -> Vec<(&'static str, &'static str)> {
        ROUTES
            .iter()
            .flat_map(|g| g.iter())
            .map(|r| (r.method, r.pattern))
            .collect()
    }

    #[test]
    fn resolves_static_and_parameterised_paths() {
        assert_eq!(resolve("GET", "/v1/me").unwrap().0, ("GET", "/v1/me"));
        assert_eq!(resolve("GET", "/v1/me/").unwrap().0, ("GET", "/v1/me"));
        let (route, params) = resolve("DELETE", "/v1/me/sessions/abc").unwrap();
        assert_eq!(route, ("DELETE", "/v1/me/sessions/{session}"));
        assert_eq!(params.get("session"), "abc");
        assert_eq!(resolve("HEAD", "/health").unwrap().0, ("GET", "/health"));
    }

    #[test]
    fn the_accept_route_is_not_taken_for_a_preview_token() {
        assert_eq!(
            resolve("POST", "/v1/invitations/accept").unwrap().0,
            ("POST", "/v1/invitations/accept")
        );
        let (route, params) = resolve("GET", "/v1/invitations/abc").unwrap();
        assert_eq!(route, ("GET", "/v1/invitations/{token}"));
        assert_eq!(params.get("token"), "abc");
    }

    #[test]
    fn unknown_paths_are_404_and_wrong_methods_405() {
        assert!(matches!(resolve("GET", "/v2/me"), Err(ApiError::NotFound)));
        assert!(matches!(
            resolve("GET", "/v1/me/sessions/"),
            Ok((("GET", "/v1/me/sessions"), _))
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
        for (m, pattern) in all() {
            let concrete = pattern
                .replace("{session}", "x")
                .replace("{org}", "o")
                .replace("{user}", "u")
                .replace("{ws}", "w")
                .replace("{invitation}", "i")
                .replace("{token}", "t")
                .replace("{group}", "g");
            assert_eq!(
                resolve(m, &concrete).unwrap().0,
                (m, pattern),
                "{m} {pattern}"
            );
        }
    }

    #[test]
    fn every_org_route_names_its_action_and_only_org_routes_do() {
        for route in ROUTES.iter().flat_map(|g| g.iter()) {
            let org_path = route.pattern.starts_with("/v1/orgs/{org}");
            let org_guard = matches!(route.guard, Guard::Org(_));
            // The operator's route is under /v1/admin; every other {org} path is gated.
            assert_eq!(org_path, org_guard, "{} {}", route.method, route.pattern);
        }
    }
}

#[cfg(test)]
mod routing_props {
    use super::routing_tests::{all, resolve};
    use proptest::prelude::*;

    use crate::error::ApiError;

    const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

    /// Every literal segment of the table: a parameter equal to one may legitimately select
    /// a literal route instead (`/v1/invitations/accept`).
    fn literal_segments() -> Vec<&'static str> {
        all()
            .into_iter()
            .flat_map(|(_, p)| p.split('/'))
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
        (0..all().len(), prop::collection::vec(param_value(), 3)).prop_map(|(i, values)| {
            let (_, pattern) = all()[i];
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
                Ok(((m, _), params)) => {
                    prop_assert!(m == method || (m == "GET" && method == "HEAD"));
                    prop_assert!(params.values().all(|v| !v.is_empty() && !v.contains('/')));
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
            let route = all()[i];
            let (method, pattern) = route;
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
        fn empty_segments_never_fill_a_parameter(i in 0..all().len()) {
            let (method, pattern) = all()[i];
            prop_assume!(pattern.contains('{'));
            let path: Vec<&str> = pattern
                .split('/')
                .map(|s| if s.starts_with('{') { "" } else { s })
                .collect();
            let path = path.join("/");
            // `/v1/orgs/` is `/v1/orgs`: a trailing slash names the collection instead.
            if let Ok((got, params)) = resolve(method, &path) {
                prop_assert_ne!(got, all()[i], "{}", path);
                prop_assert!(params.values().all(|v| !v.is_empty()));
            }
        }
    }
}
