//! The permission matrix of SPEC §3, written once. Handlers name an action; only this file
//! says which roles may take it.

use super::roles::{OrgRole, WorkspaceRole};

/// What a caller may do at org level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgAction {
    /// See the org itself. Every member, including workspace-only `member`s.
    ViewOrg,
    /// List all workspaces, all members, the role overview (`member`s see own workspaces only).
    ViewDirectory,
    EditOrg,
    CreateWorkspace,
    DeleteWorkspace,
    /// Invite or create users, up to `max_grantable` of the caller's role.
    InviteUsers,
    /// Resend or withdraw any invitation (editors: only their own, decided by the handler).
    ManageAllInvitations,
    ChangeRolesAndRemoveMembers,
    /// Single-use passwords, admin resets, unlock, resend activation, delete managed accounts.
    AdminAccountActions,
    /// Groups, resource grants, API tokens, audit log, usage.
    Governance,
    DeleteOrg,
    TransferOwnership,
}

pub const ORG_ACTIONS: [OrgAction; 12] = [
    OrgAction::ViewOrg,
    OrgAction::ViewDirectory,
    OrgAction::EditOrg,
    OrgAction::CreateWorkspace,
    OrgAction::DeleteWorkspace,
    OrgAction::InviteUsers,
    OrgAction::ManageAllInvitations,
    OrgAction::ChangeRolesAndRemoveMembers,
    OrgAction::AdminAccountActions,
    OrgAction::Governance,
    OrgAction::DeleteOrg,
    OrgAction::TransferOwnership,
];

impl OrgAction {
    pub fn as_str(self) -> &'static str {
        match self {
            OrgAction::ViewOrg => "org.view",
            OrgAction::ViewDirectory => "org.directory.view",
            OrgAction::EditOrg => "org.edit",
            OrgAction::CreateWorkspace => "workspace.create",
            OrgAction::DeleteWorkspace => "workspace.delete",
            OrgAction::InviteUsers => "users.invite",
            OrgAction::ManageAllInvitations => "invitations.manage_all",
            OrgAction::ChangeRolesAndRemoveMembers => "members.manage",
            OrgAction::AdminAccountActions => "accounts.admin",
            OrgAction::Governance => "governance",
            OrgAction::DeleteOrg => "org.delete",
            OrgAction::TransferOwnership => "org.transfer_ownership",
        }
    }

    /// The least role that may take the action.
    fn least_role(self) -> OrgRole {
        match self {
            OrgAction::ViewOrg => OrgRole::Member,
            OrgAction::ViewDirectory => OrgRole::Viewer,
            OrgAction::EditOrg | OrgAction::CreateWorkspace | OrgAction::InviteUsers => {
                OrgRole::Editor
            }
            OrgAction::DeleteWorkspace
            | OrgAction::ManageAllInvitations
            | OrgAction::ChangeRolesAndRemoveMembers
            | OrgAction::AdminAccountActions
            | OrgAction::Governance => OrgRole::Admin,
            OrgAction::DeleteOrg | OrgAction::TransferOwnership => OrgRole::Owner,
        }
    }
}

/// Whether `role` may take `action` in its org.
pub fn org_allows(role: OrgRole, action: OrgAction) -> bool {
    role.at_least(action.least_role())
}

/// The actions a role holds, for the role overview.
pub fn org_permissions(role: OrgRole) -> Vec<&'static str> {
    ORG_ACTIONS
        .iter()
        .filter(|a| org_allows(role, **a))
        .map(|a| a.as_str())
        .collect()
}

/// The highest org role `granter` may give: never more than it holds, never owner (that
/// changes only by transfer), admin at most.
pub fn max_grantable(granter: OrgRole) -> Option<OrgRole> {
    match granter {
        OrgRole::Owner | OrgRole::Admin => Some(OrgRole::Admin),
        OrgRole::Editor => Some(OrgRole::Editor),
        OrgRole::Viewer | OrgRole::Member => None,
    }
}

pub fn may_grant(granter: OrgRole, role: OrgRole) -> bool {
    max_grantable(granter).is_some_and(|max| max.at_least(role))
}

/// What a caller may do inside one workspace (by its effective workspace role).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkspaceAction {
    View,
    Edit,
    /// Add members, up to the caller's own workspace role.
    AddMembers,
    ChangeRolesAndRemoveMembers,
}

pub fn workspace_allows(role: WorkspaceRole, action: WorkspaceAction) -> bool {
    let least = match action {
        WorkspaceAction::View => WorkspaceRole::Viewer,
        WorkspaceAction::Edit | WorkspaceAction::AddMembers => WorkspaceRole::Editor,
        WorkspaceAction::ChangeRolesAndRemoveMembers => WorkspaceRole::Admin,
    };
    role.at_least(least)
}

pub fn may_grant_workspace(granter: WorkspaceRole, role: WorkspaceRole) -> bool {
    workspace_allows(granter, WorkspaceAction::AddMembers) && granter.at_least(role)
}

/// Short descriptions for the role overview.
pub fn describe(role: OrgRole) -> &'static str {
    match role {
        OrgRole::Owner => "Full control, including deleting the organization and transferring ownership. Exactly one per organization.",
        OrgRole::Admin => "Manages members, roles, invitations, workspaces, groups, grants, API tokens and the audit log.",
        OrgRole::Editor => "Edits the organization and its workspaces, creates workspaces and invites users up to editor.",
        OrgRole::Viewer => "Sees the organization, all its workspaces and members, and changes nothing.",
        OrgRole::Member => "Belongs only to the workspaces they were added to.",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use OrgAction::*;

    /// SPEC §3 transcribed row by row: (action, [owner, admin, editor, viewer, member]).
    const MATRIX: [(OrgAction, [bool; 5]); 12] = [
        (ViewOrg, [true, true, true, true, true]),
        (ViewDirectory, [true, true, true, true, false]),
        (EditOrg, [true, true, true, false, false]),
        (CreateWorkspace, [true, true, true, false, false]),
        (DeleteWorkspace, [true, true, false, false, false]),
        (InviteUsers, [true, true, true, false, false]),
        (ManageAllInvitations, [true, true, false, false, false]),
        (
            ChangeRolesAndRemoveMembers,
            [true, true, false, false, false],
        ),
        (AdminAccountActions, [true, true, false, false, false]),
        (Governance, [true, true, false, false, false]),
        (DeleteOrg, [true, false, false, false, false]),
        (TransferOwnership, [true, false, false, false, false]),
    ];
    const ROLES: [OrgRole; 5] = [
        OrgRole::Owner,
        OrgRole::Admin,
        OrgRole::Editor,
        OrgRole::Viewer,
        OrgRole::Member,
    ];

    #[test]
    fn every_role_and_every_org_action_follow_the_spec() {
        assert_eq!(MATRIX.len(), ORG_ACTIONS.len());
        for (action, row) in MATRIX {
            for (role, want) in ROLES.iter().zip(row) {
                assert_eq!(org_allows(*role, action), want, "{role:?} {action:?}");
            }
        }
    }

    #[test]
    fn grants_never_exceed_the_granter_and_never_make_owners() {
        for granter in ROLES {
            for role in ROLES {
                let allowed = may_grant(granter, role);
                if allowed {
                    assert!(granter.at_least(role), "{granter:?} gave {role:?}");
                    assert_ne!(role, OrgRole::Owner);
                }
            }
        }
        assert!(may_grant(OrgRole::Owner, OrgRole::Admin));
        assert!(may_grant(OrgRole::Admin, OrgRole::Admin));
        assert!(may_grant(OrgRole::Editor, OrgRole::Editor));
        assert!(may_grant(OrgRole::Editor, OrgRole::Member));
        assert!(!may_grant(OrgRole::Editor, OrgRole::Admin));
        assert!(!may_grant(OrgRole::Viewer, OrgRole::Viewer));
    }

    #[test]
    fn workspace_matrix_with_inheritance() {
        use crate::domain::roles::effective_workspace_role;
        use WorkspaceAction::*;
        let ws = [
            WorkspaceRole::Admin,
            WorkspaceRole::Editor,
            WorkspaceRole::Viewer,
        ];
        let table = [
            (View, [true, true, true]),
            (Edit, [true, true, false]),
            (AddMembers, [true, true, false]),
            (ChangeRolesAndRemoveMembers, [true, false, false]),
        ];
        for (action, row) in table {
            for (role, want) in ws.iter().zip(row) {
                assert_eq!(workspace_allows(*role, action), want, "{role:?} {action:?}");
            }
        }
        for granter in ws {
            for role in ws {
                assert_eq!(
                    may_grant_workspace(granter, role),
                    granter != WorkspaceRole::Viewer && granter.at_least(role),
                    "{granter:?} → {role:?}"
                );
            }
        }
        // Inheritance: an org editor edits every workspace; a workspace-only member sees
        // nothing without an explicit role; an explicit role lifts a viewer.
        let eff = |org, explicit| effective_workspace_role(org, explicit);
        assert!(eff(OrgRole::Editor, None).is_some_and(|r| workspace_allows(r, Edit)));
        assert!(eff(OrgRole::Member, None).is_none());
        assert!(eff(OrgRole::Viewer, Some(WorkspaceRole::Admin))
            .is_some_and(|r| workspace_allows(r, ChangeRolesAndRemoveMembers)));
        assert!(!eff(OrgRole::Viewer, None).is_some_and(|r| workspace_allows(r, Edit)));
    }

    #[test]
    fn overview_lists_what_each_role_holds() {
        assert_eq!(org_permissions(OrgRole::Owner).len(), ORG_ACTIONS.len());
        assert_eq!(org_permissions(OrgRole::Member), vec!["org.view"]);
        assert!(org_permissions(OrgRole::Editor).contains(&"users.invite"));
        assert!(!org_permissions(OrgRole::Editor).contains(&"org.delete"));
    }
}
