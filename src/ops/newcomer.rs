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

/// What adding newcomers (an admin-created member, invitations) must know before it
/// writes, planned into the handler's `Together` batch: the granted workspaces, the groups,
/// and where each email stands with the org.
pub struct NewcomerChecks {
    workspaces: WorkspaceCheck,
    groups: GroupCheck,
    standings: Vec<Ticket<InviteeStanding>>,
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
    plan_newcomers(org, granted, groups, &[email], reads)
}

/// `plan_newcomer` for several emails offered the same workspaces and groups (invitations
/// sent together): those are read once, each email's standing once.
pub fn plan_newcomers(
    org: &OrgStore,
    granted: &[WorkspaceAssignment],
    groups: &[String],
    emails: &[&str],
    reads: &mut Together,
) -> ApiResult<NewcomerChecks> {
    let workspaces = plan_workspaces(org, granted, reads)?;
    let groups = plan_groups(org, groups, reads)?;
    let standings = emails
        .iter()
        .map(|email| Ok(reads.add(store::invitations::invitee_standing_stmt(org, email)?)))
        .collect::<ApiResult<_>>()?;
    Ok(NewcomerChecks {
        workspaces,
        groups,
        standings,
    })
}

impl NewcomerChecks {
    /// The one email's findings (`plan_newcomer`).
    pub fn check(
        self,
        results: &Results,
        granted: &[WorkspaceAssignment],
        role: OrgRole,
    ) -> ApiResult<Newcomer> {
        let (names, groups, mut standings) = self.check_all(results, granted, role)?;
        Ok((names, groups, standings.pop().unwrap_or_default()))
    }

    /// The workspaces' names, the groups, and each email's standing in the order planned.
    pub fn check_all(
        self,
        results: &Results,
        granted: &[WorkspaceAssignment],
        role: OrgRole,
    ) -> ApiResult<(Vec<String>, Vec<GroupId>, Vec<InviteeStanding>)> {
        let names = self.workspaces.names(results, granted)?;
        let groups = self.groups.check(results, role)?;
        let standings = self
            .standings
            .into_iter()
            .map(|t| Ok(results.first(t)?.unwrap_or_default()))
            .collect::<ApiResult<_>>()?;
        Ok((names, groups, standings))
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::validation::FieldError;
    use crate::ops::testing::*;
    use crate::store::Arg;

    const EMAIL: &str = "ada@example.com";

    fn grant(role: WorkspaceRole) -> WorkspaceAssignment {
        WorkspaceAssignment {
            workspace: WorkspaceId::new(),
            role,
        }
    }

    /// The fields a 422 names, in order.
    fn fields<T: std::fmt::Debug>(result: ApiResult<T>) -> Vec<(String, String)> {
        match result {
            Err(ApiError::Validation(errors)) => errors
                .into_iter()
                .map(|FieldError { field, message }| (field, message))
                .collect(),
            other => panic!("not a 422: {other:?}"),
        }
    }

    #[derive(Debug, PartialEq)]
    enum Ceiling {
        Allowed,
        Forbidden,
        NeedsWorkspace,
    }

    #[test]
    fn the_ceiling_grants_no_more_than_the_actor_holds_and_a_member_a_workspace() {
        use Ceiling::*;
        use OrgRole as O;
        use WorkspaceRole as W;
        let cases: &[(OrgRole, OrgRole, &[WorkspaceRole], Ceiling)] = &[
            (O::Owner, O::Admin, &[W::Admin], Allowed),
            (O::Owner, O::Owner, &[], Forbidden),
            (O::Admin, O::Admin, &[], Allowed),
            (O::Admin, O::Owner, &[], Forbidden),
            (O::Admin, O::Member, &[W::Admin], Allowed),
            (O::Admin, O::Member, &[], NeedsWorkspace),
            (O::Editor, O::Editor, &[W::Editor], Allowed),
            (O::Editor, O::Admin, &[], Forbidden),
            (O::Editor, O::Viewer, &[W::Viewer, W::Editor], Allowed),
            (O::Editor, O::Member, &[W::Viewer, W::Admin], Forbidden),
            (O::Viewer, O::Viewer, &[], Forbidden),
            (O::Viewer, O::Member, &[W::Viewer], Forbidden),
            (O::Member, O::Member, &[W::Viewer], Forbidden),
            // The workspace is asked for before the actor's rank is looked at.
            (O::Viewer, O::Member, &[], NeedsWorkspace),
        ];
        for (actor, role, workspace_roles, expected) in cases {
            let grants: Vec<_> = workspace_roles.iter().map(|r| grant(*r)).collect();
            let got = match check_ceiling(*actor, *role, &grants) {
                Ok(()) => Allowed,
                Err(ApiError::Forbidden) => Forbidden,
                Err(ApiError::Validation(e)) if e[0].field == "workspaces" => NeedsWorkspace,
                Err(other) => panic!("{other:?}"),
            };
            assert_eq!(
                got, *expected,
                "{actor:?} giving {role:?} {workspace_roles:?}"
            );
        }
    }

    #[test]
    fn workspace_grants_are_parsed_with_each_bad_entry_named_and_none_listed_twice() {
        let ws = WorkspaceId::new();
        let list: Vec<WorkspaceGrant> = serde_json::from_value(json!([
            {"workspace_id": ws, "role": "editor"},
            {"workspace_id": "not-a-uuid", "role": "boss"},
            {"workspace_id": ws.to_string().to_uppercase(), "role": "viewer"},
        ]))
        .unwrap();
        let mut errs = FieldErrors::default();
        let grants = parse(&list, &mut errs);
        assert_eq!(
            grants,
            [WorkspaceAssignment {
                workspace: ws,
                role: WorkspaceRole::Editor
            }]
        );
        let named: Vec<&str> = errs.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            named,
            [
                "workspaces[1].workspace_id",
                "workspaces[1].role",
                "workspaces[2].workspace_id"
            ]
        );
        assert_eq!(errs.0[2].message, "names a workspace already listed");
    }

    #[test]
    fn the_org_role_given_is_never_owner() {
        for (raw, expected) in [
            ("admin", Some(OrgRole::Admin)),
            ("member", Some(OrgRole::Member)),
            ("owner", None),
            ("Admin", None),
            ("", None),
        ] {
            let mut errs = FieldErrors::default();
            assert_eq!(org_role(raw, &mut errs), expected, "{raw}");
            assert_eq!(errs.is_empty(), expected.is_some(), "{raw}");
        }
    }

    #[test]
    fn the_checks_read_the_workspaces_the_groups_and_the_standing_in_the_org() {
        let org = Org::new();
        let grants = [grant(WorkspaceRole::Viewer), grant(WorkspaceRole::Editor)];
        let (g1, g2) = (GroupId::new(), GroupId::new());
        // Two spellings of one group: read (and joined) once.
        let groups = [
            g1.to_string().to_uppercase(),
            g2.to_string(),
            g1.to_string(),
        ];
        let mut reads = Together::default();
        plan_newcomer(&org.store, &grants, &groups, EMAIL, &mut reads).unwrap();
        let [workspaces, found_groups, standing] = reads.planned() else {
            panic!("three reads: {}", reads.planned().len())
        };
        let ids = serde_json::to_string(&[grants[0].workspace, grants[1].workspace]).unwrap();
        assert!(workspaces
            .sql()
            .contains("FROM workspaces WHERE org_id = ?1"));
        assert_eq!(workspaces.args(), [text(org.id()), text(ids)]);
        assert!(found_groups.sql().contains("FROM groups WHERE org_id = ?1"));
        let wanted = serde_json::to_string(&[g1, g2]).unwrap();
        assert_eq!(found_groups.args(), [text(org.id()), text(wanted)]);
        assert_eq!(standing.args(), [text(org.id()), text(EMAIL)]);

        // Neither workspaces nor groups: the standing alone.
        let mut reads = Together::default();
        plan_newcomer(&org.store, &[], &[], EMAIL, &mut reads).unwrap();
        assert_eq!(reads.planned().len(), 1);
        assert_eq!(reads.planned()[0].args(), [text(org.id()), text(EMAIL)]);
    }

    #[test]
    fn group_ids_that_are_not_uuids_are_refused_before_any_group_is_read() {
        let org = Org::new();
        let groups = ["g1".to_string(), GroupId::new().to_string(), "".to_string()];
        let mut reads = Together::default();
        let refused = plan_newcomer(&org.store, &[], &groups, EMAIL, &mut reads);
        assert_eq!(
            fields(refused.map(|_| ())),
            [
                ("groups[0]".to_string(), "must be a UUID".to_string()),
                ("groups[2]".to_string(), "must be a UUID".to_string())
            ]
        );
        assert!(reads
            .planned()
            .iter()
            .all(|s| !s.sql().contains("FROM groups")));
    }

    #[test]
    fn what_the_org_does_not_have_is_named_by_its_entry() {
        let org = Org::new();
        let grants = [grant(WorkspaceRole::Viewer)];
        let nothing = Results::nothing_found();

        let mut reads = Together::default();
        let checks = plan_newcomer(&org.store, &grants, &[], EMAIL, &mut reads).unwrap();
        assert_eq!(
            fields(checks.check(&nothing, &grants, OrgRole::Editor)),
            [(
                "workspaces[0].workspace_id".to_string(),
                "is not a workspace of this organization".to_string()
            )]
        );

        let g = GroupId::new().to_string();
        let mut reads = Together::default();
        let checks = plan_newcomer(&org.store, &[], &[g.clone(), g], EMAIL, &mut reads).unwrap();
        let named: Vec<String> = fields(checks.check(&nothing, &[], OrgRole::Editor))
            .into_iter()
            .map(|(field, _)| field)
            .collect();
        assert_eq!(named, ["groups[0]", "groups[1]"]);

        // Nothing asked for: nothing to refuse, and an email nobody has.
        let mut reads = Together::default();
        let checks = plan_newcomer(&org.store, &[], &[], EMAIL, &mut reads).unwrap();
        let (names, groups, standing) = checks.check(&nothing, &[], OrgRole::Editor).unwrap();
        assert!(names.is_empty() && groups.is_empty());
        assert!(standing.account_id.is_none() && standing.member == 0);
        assert!(standing.pending().is_none());
    }

    #[test]
    fn closing_an_invitation_withdraws_it_in_the_org_and_records_why() {
        let org = Org::new();
        let id = InvitationId::new();
        let stmts = close_invitation(&org.acting(OrgRole::Admin), EMAIL, id).unwrap();
        assert_eq!(
            effects(&stmts),
            ["UPDATE invitations", "INSERT audit_events"]
        );
        assert_eq!(value_of(&stmts[0], "status"), text("withdrawn"));
        assert_eq!(value_of(&stmts[0], "ended_at"), Arg::Int(NOW.millis()));
        assert!(binds(&stmts[0], &text(id)));
        let withdrawn = event(&stmts, "invitation.withdrawn");
        assert_eq!(value_of(withdrawn, "target_type"), text("invitation"));
        assert_eq!(value_of(withdrawn, "target_id"), text(id));
        assert_eq!(
            metadata(withdrawn),
            json!({"email": EMAIL, "reason": "joined_otherwise"})
        );
        assert_org_scoped(&stmts, org.id());
    }
}
