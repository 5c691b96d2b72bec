//! The access gate for org-scoped routes. A handler of such a route takes an `OrgAccess`,
//! which only `org_access` makes: one indexed D1 read finds the caller's role in the org,
//! anything outside the caller's orgs answers 404 (existence does not leak), and a role
//! below the route's action answers 403. Roles are read on every request, so a role change
//! or removal takes effect on the caller's next request.

use super::auth::Caller;
use super::error::{ApiError, ApiResult};
use super::Ctx;
use crate::domain::ids::{OrgId, UserId};
use crate::domain::permissions::{org_allows, OrgAction};
use crate::domain::roles::OrgRole;
use crate::store::audit::Event;
use crate::store::{self, orgs::OrgRow};

// Sealed by a private field: `#[non_exhaustive]` would only seal it per crate, and the
// point is that no handler module can build one.
#[allow(clippy::manual_non_exhaustive)]
pub struct OrgAccess {
    pub caller: Caller,
    pub org: OrgRow,
    pub org_id: OrgId,
    pub role: OrgRole,
    /// Only `org_access` builds one.
    _sealed: (),
}

pub async fn org_access(ctx: &Ctx, caller: Caller, action: OrgAction) -> ApiResult<OrgAccess> {
    let org_id: OrgId = ctx.path_id("org")?;
    let found = store::orgs::with_role(&ctx.db, org_id, caller.user_id)
        .await?
        .ok_or(ApiError::NotFound)?;
    let role = OrgRole::parse(&found.role).ok_or_else(|| ApiError::internal("bad role in D1"))?;
    if !org_allows(role, action) {
        return Err(ApiError::Forbidden);
    }
    Ok(OrgAccess {
        caller,
        org: found.org,
        org_id,
        role,
        _sealed: (),
    })
}

impl OrgAccess {
    /// The `{user}` of the path, who must not be the caller: the admin endpoints never act on
    /// their caller (409 `cannot_act_on_self`). An unparseable id is as unknown as a missing one.
    pub fn other_user(&self, ctx: &Ctx) -> ApiResult<UserId> {
        let user: UserId = ctx.path_id("user")?;
        if user == self.caller.user_id {
            return Err(ApiError::conflict(
                "cannot_act_on_self",
                "You cannot do this to yourself through the admin endpoints.",
            ));
        }
        Ok(user)
    }

    /// An event in this org's audit trail, by the caller, about `target`.
    pub fn event(&self, action: &'static str, target: (&'static str, String)) -> Event {
        Event::by_member(
            self.org_id,
            self.caller.user_id,
            &self.caller.email,
            action,
            target,
        )
    }
}
