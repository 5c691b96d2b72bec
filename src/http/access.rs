//! The access gate for org-scoped routes. A handler of such a route takes an `OrgAccess`,
//! which only `org_access` makes: the caller's role in the org is read in the same indexed
//! D1 read as their session's liveness (one round trip for both),
//! anything outside the caller's orgs answers 404 (existence does not leak), and a role
//! below the route's action answers 403. Roles are read on every request, so a role change
//! or removal takes effect on the caller's next request.
//!
//! The caller is a person or an API token of the org. A token's read already brought its
//! org along (no second read); it acts with its role, or as a workspace-only member of its
//! listed workspaces (`domain::api_token::acting`), so every permission rule applies to it
//! unchanged.

use super::auth::{authenticate, authenticate_with, Caller, Principal, TokenCaller};
use super::Ctx;
use crate::domain::ids::{ApiTokenId, OrgId, UserId, WorkspaceId};
use crate::domain::permissions::{org_allows, OrgAction};
use crate::domain::roles::{OrgRole, WorkspaceRole};
use crate::error::{ApiError, ApiResult};
use crate::store::audit::{Actor, Event};
use crate::store::orgs::OrgRow;
use crate::store::{OrgStore, Results, Together};

// Sealed by a private field: `#[non_exhaustive]` would only seal it per crate, and the
// point is that no handler module can build one.
#[allow(clippy::manual_non_exhaustive)]
pub struct OrgAccess {
    principal: Principal,
    org: OrgRow,
    /// The org role the caller acts with.
    role: OrgRole,
    /// The org's data: admission is the only way a handler reaches it.
    store: OrgStore,
    /// Only `org_access` builds one.
    _sealed: (),
}

/// The caller, authenticated, with its access to the route's `{org}` for `action`. A
/// person's membership is read in the same round trip as their session's liveness.
pub async fn org_access(ctx: &Ctx, action: OrgAction) -> ApiResult<OrgAccess> {
    org_access_with(ctx, action, |_, _| Ok(()))
        .await
        .map(|(access, _, _)| access)
}

/// `org_access` with the handler's own reads in the same round trip (`plan` adds them from
/// the path's org store; see `authenticate_with`: reads only, used only once access is
/// granted, and the store reaches the handler only then). An authorized org read then
/// costs one round trip.
pub async fn org_access_with<P>(
    ctx: &Ctx,
    action: OrgAction,
    plan: impl FnOnce(&OrgStore, &mut Together) -> ApiResult<P>,
) -> ApiResult<(OrgAccess, P, Results)> {
    // An `{org}` that is not an id still authenticates first (401 before 404).
    let Ok(org_id) = ctx.path_id::<OrgId>("org") else {
        return Err(authenticate(ctx).await?.admit_nowhere());
    };
    let store = OrgStore::open(&ctx.db, org_id);
    let a = authenticate_with(ctx, Some(org_id), |_, reads| plan(&store, reads)).await?;
    let (org, role) = a.principal.admit(org_id, a.membership)?;
    if !org_allows(role, action) {
        return Err(ApiError::Forbidden);
    }
    let access = OrgAccess {
        principal: a.principal,
        org,
        role,
        store,
        _sealed: (),
    };
    Ok((access, a.plan, a.results))
}

impl OrgAccess {
    /// Who is calling.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// The org as the gate read it.
    pub fn org(&self) -> &OrgRow {
        &self.org
    }

    pub fn org_id(&self) -> OrgId {
        self.store.org()
    }

    /// The org role the caller acts with.
    pub fn role(&self) -> OrgRole {
        self.role
    }

    /// The org's store, opened by this admission.
    pub fn store(&self) -> &OrgStore {
        &self.store
    }

    /// The person calling, if it is one.
    pub fn user(&self) -> Option<&Caller> {
        self.principal.as_person()
    }

    pub fn user_id(&self) -> Option<UserId> {
        self.user().map(|c| c.user_id())
    }

    pub fn token(&self) -> Option<&TokenCaller> {
        self.principal.as_token()
    }

    pub fn token_id(&self) -> Option<ApiTokenId> {
        self.token().map(|t| t.id())
    }

    /// For actions only a person may take (managing API tokens): 403 for a token.
    pub fn person(&self) -> ApiResult<&Caller> {
        self.user().ok_or(ApiError::Forbidden)
    }

    /// The caller's explicit role in workspace `ws`: a person's as stored (`stored`), a
    /// scoped token's from its list.
    pub fn explicit_workspace_role(
        &self,
        ws: WorkspaceId,
        stored: Option<WorkspaceRole>,
    ) -> Option<WorkspaceRole> {
        match self.token() {
            None => stored,
            Some(token) => token.workspace_role(ws),
        }
    }

    /// How the caller is named to people (an invitation email): the person's name, or the
    /// org for a token.
    pub fn display_name(&self) -> String {
        match self.user() {
            Some(caller) => format!("{} {}", caller.user().first_name, caller.user().last_name),
            None => self.org.name.clone(),
        }
    }

    /// The `{user}` of the path, who must not be the caller: the admin endpoints never act on
    /// their caller (409 `cannot_act_on_self`). An unparseable id is as unknown as a missing one.
    pub fn other_user(&self, ctx: &Ctx) -> ApiResult<UserId> {
        let user: UserId = ctx.path_id("user")?;
        if Some(user) == self.user_id() {
            return Err(ApiError::conflict(
                "cannot_act_on_self",
                "You cannot do this to yourself through the admin endpoints.",
            ));
        }
        Ok(user)
    }

    /// Who acts, for the audit trail.
    pub fn actor(&self) -> Actor {
        self.principal.actor()
    }

    /// An event in this org's audit trail, by the caller, about `target`.
    pub fn event(&self, action: &'static str, target: (&'static str, String)) -> Event {
        Event::by(self.org_id(), self.actor(), action, target)
    }
}
