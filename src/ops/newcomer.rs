//! Admitting a newcomer: what a new member receives (an org role, workspace roles, groups)
//! as every way in validates it (an admin-created account, an invitation, a workspace
//! admin's addition; SSO and SCIM next): shape, the actor's ceiling, that the workspaces
//! and groups are the org's, where the email stands with the org, and the pending
//! invitation that joining otherwise closes.

use serde::Deserialize;

use super::Acting;
use crate::domain::ids::{GroupId, InvitationId, WorkspaceId};
use crate::domain::permissions::may_grant;
use crate::domain::roles::{OrgRole, WorkspaceAssignment, WorkspaceRole};
use crate::domain::validation::FieldErrors;
use crate::error::{ApiError, ApiResult};
use crate::store::groups::GroupRef;
use crate::store::invitations::InviteeStanding;
use crate::store::members::NamedWorkspace;
use crate::store::{self, OrgStore, Results, Stmt, Ticket, Together};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceGrant {
    workspace_id: String,
    role: String,
}

/// Checks each entry's shape (errors named `workspaces[i].…`); a workspace named twice is
/// an error too, not a silent pick.
pub fn parse(list: &[WorkspaceGrant], errs: &mut FieldErrors) -> Vec<WorkspaceAssignment> {
    let mut grants: Vec<WorkspaceAssignment> = Vec::new();
    for (i, g) in list.iter().enumerate() {
        let id = errs.check(
            &format!("workspaces[{i}].workspace_id"),
            g.workspace_id
                .parse::<WorkspaceId>()
                .map_err(|_| "must be a UUID".to_string()),
        );
        let role = errs.check(
            &format!("workspaces[{i}].role"),
            WorkspaceRole::parse(&g.role)
                .ok_or_else(|| "must be one of admin, editor, viewer".to_string()),
        );
        if let (Some(id), Some(role)) = (id, role) {
            if grants.iter().any(|seen| seen.workspace == id) {
                errs.add(
                    &format!("workspaces[{i}].workspace_id"),
                    "names a workspace already listed",
                );
            } else {
                grants.push(WorkspaceAssignment {
                    workspace: id,
                    role,
                });
            }
        }
    }
    grants
}

/// The org role as given: any but owner (ownership moves only by transfer).
pub fn org_role(raw: &str, errs: &mut FieldErrors) -> Option<OrgRole> {
    match OrgRole::parse(raw) {
        Some(OrgRole::Owner) | None => {
            errs.add("role", "must be one of admin, editor, viewer, member");
            None
        }
        Some(r) => Some(r),
    }
}

/// A workspace-only `member` needs a workspace; a role never grants more than the caller
/// holds, in the org or (through inheritance) in a workspace: 403 otherwise.
pub fn check_ceiling(
    actor_role: OrgRole,
    role: OrgRole,
    grants: &[WorkspaceAssignment],
) -> ApiResult<()> {
    if role == OrgRole::Member && grants.is_empty() {
        return Err(ApiError::field(
            "workspaces",
            "a member needs at least one workspace",
        ));
    }
    let ceiling = actor_role.inherited_workspace_role();
    if !may_grant(actor_role, role)
        || grants
            .iter()
            .any(|g| !ceiling.is_some_and(|c| c.at_least(g.role)))
    {
        return Err(ApiError::Forbidden);
    }
    Ok(())
}

/// The granted workspaces' names, looked up in the handler's `Together` batch.
pub struct WorkspaceCheck {
    read: Option<Ticket<NamedWorkspace>>,
}

fn plan_workspaces(
    org: &OrgStore,
    grants: &[WorkspaceAssignment],
    reads: &mut Together,
) -> ApiResult<WorkspaceCheck> {
    if grants.is_empty() {
        return Ok(WorkspaceCheck { read: None });
    }
    let ids: Vec<WorkspaceId> = grants.iter().map(|g| g.workspace).collect();
    Ok(WorkspaceCheck {
        read: Some(reads.add(store::members::existing_workspaces_stmt(org, &ids)?)),
    })
}

impl WorkspaceCheck {
    /// The names in the given order; 422 naming the first entry that is not a workspace of
    /// the org.
    pub fn names(
        &self,
        results: &Results,
        grants: &[WorkspaceAssignment],
    ) -> ApiResult<Vec<String>> {
        let Some(read) = self.read else {
            return Ok(Vec::new());
        };
        let known: Vec<NamedWorkspace> = results.rows(read)?;
        grants
            .iter()
            .enumerate()
            .map(|(i, g)| {
                known
                    .iter()
                    .find(|k| k.id == g.workspace)
                    .map(|k| k.name.clone())
                    .ok_or_else(|| {
                        ApiError::field(
                            &format!("workspaces[{i}].workspace_id"),
                            "is not a workspace of this organization",
                        )
                    })
            })
            .collect()
    }
}

/// What adding a newcomer (an admin-created member, an invitation) must know before it
/// writes, planned into the handler's `Together` batch: the granted workspaces, the groups,
/// and where the email stands with the org.
pub struct NewcomerChecks {
    workspaces: WorkspaceCheck,
    groups: GroupCheck,
    standing: Ticket<InviteeStanding>,
}

/// What `NewcomerChecks::check` found: the workspaces' names, the groups to join, the
/// email's standing.
pub type Newcomer = (Vec<String>, Vec<GroupId>, InviteeStanding);

pub fn plan_newcomer(
    org: &OrgStore,
    granted: &[WorkspaceAssignment],
    groups: &[String],
    email: &str,
    reads: &mut Together,
) -> ApiResult<NewcomerChecks> {
    Ok(NewcomerChecks {
        workspaces: plan_workspaces(org, granted, reads)?,
        groups: plan_groups(org, groups, reads)?,
        standing: reads.add(store::invitations::invitee_standing_stmt(org, email)?),
    })
}

impl NewcomerChecks {
    pub fn check(
        self,
        results: &Results,
        granted: &[WorkspaceAssignment],
        role: OrgRole,
    ) -> ApiResult<Newcomer> {
        let names = self.workspaces.names(results, granted)?;
        let groups = self.groups.check(results, role)?;
        let standing = results.first(self.standing)?.unwrap_or_default();
        Ok((names, groups, standing))
    }
}

/// Someone joining the org by another way (an admin adds them, a workspace admin brings
/// them in) ends their pending invitation (`pending`, its id) in the same batch, so they
/// never hold two seats and the invitation cannot be accepted on top. Put these statements
/// before the seat guard.
pub fn close_invitation(acting: &Acting, email: &str, id: InvitationId) -> ApiResult<Vec<Stmt>> {
    let mut stmts = store::invitations::supersede(acting.org, id, acting.now)?;
    stmts.push(
        acting.audit(
            &acting
                .event("invitation.withdrawn", ("invitation", id.to_string()))
                .meta(crate::object!({ "email": email, "reason": "joined_otherwise" })),
        )?,
    );
    Ok(stmts)
}

/// The groups a newcomer joins, looked up in the handler's `Together` batch. Ids that are
/// not UUIDs are refused (422) before anything is read.
pub struct GroupCheck {
    read: Option<Ticket<GroupRef>>,
    /// Canonical (lower-case) ids, in the order given.
    canonical: Vec<GroupId>,
    /// The same without duplicates.
    wanted: Vec<GroupId>,
}

fn plan_groups(org: &OrgStore, ids: &[String], reads: &mut Together) -> ApiResult<GroupCheck> {
    let mut errs = FieldErrors::default();
    let mut canonical: Vec<GroupId> = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        match id.parse::<GroupId>() {
            Ok(g) => canonical.push(g),
            Err(_) => errs.add(&format!("groups[{i}]"), "must be a UUID"),
        }
    }
    if !errs.is_empty() {
        return Err(ApiError::Validation(errs.0));
    }
    let mut wanted: Vec<GroupId> = Vec::new();
    for id in &canonical {
        if !wanted.contains(id) {
            wanted.push(*id);
        }
    }
    let read = if wanted.is_empty() {
        None
    } else {
        Some(reads.add(store::groups::existing_stmt(org, &wanted)?))
    };
    Ok(GroupCheck {
        read,
        canonical,
        wanted,
    })
}

impl GroupCheck {
    /// The groups to join: groups of the org (422 naming the entry otherwise), and never a
    /// restricting one for an admin. Duplicates are dropped.
    pub fn check(self, results: &Results, role: OrgRole) -> ApiResult<Vec<GroupId>> {
        let Some(read) = self.read else {
            return Ok(Vec::new());
        };
        let known: Vec<GroupRef> = results.rows(read)?;
        let mut errs = FieldErrors::default();
        for (i, id) in self.canonical.iter().enumerate() {
            match known.iter().find(|g| g.id == *id) {
                None => errs.add(
                    &format!("groups[{i}]"),
                    "is not a group of this organization",
                ),
                Some(g) if g.restricting != 0 && role.at_least(OrgRole::Admin) => errs.add(
                    &format!("groups[{i}]"),
                    "is a restricting group; owners and admins can never be in one",
                ),
                Some(_) => {}
            }
        }
        if !errs.is_empty() {
            return Err(ApiError::Validation(errs.0));
        }
        Ok(self.wanted)
    }
}
