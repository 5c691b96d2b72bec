//! Roles and the inheritance rule between org and workspace roles (SPEC §2–§3).
//! Which org role outranks which, and what each org role inherits in a workspace (the
//! permission matrix itself is `permissions.rs`).

use serde::{Deserialize, Serialize};

use super::ids::WorkspaceId;

/// Org roles, highest first. `Member` belongs to someone added only to workspaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrgRole {
    Owner,
    Admin,
    Editor,
    Viewer,
    Member,
}

impl OrgRole {
    pub fn as_str(self) -> &'static str {
        match self {
            OrgRole::Owner => "owner",
            OrgRole::Admin => "admin",
            OrgRole::Editor => "editor",
            OrgRole::Viewer => "viewer",
            OrgRole::Member => "member",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "owner" => OrgRole::Owner,
            "admin" => OrgRole::Admin,
            "editor" => OrgRole::Editor,
            "viewer" => OrgRole::Viewer,
            "member" => OrgRole::Member,
            _ => return None,
        })
    }

    fn rank(self) -> u8 {
        match self {
            OrgRole::Owner => 4,
            OrgRole::Admin => 3,
            OrgRole::Editor => 2,
            OrgRole::Viewer => 1,
            OrgRole::Member => 0,
        }
    }

    pub fn at_least(self, other: OrgRole) -> bool {
        self.rank() >= other.rank()
    }

    /// The workspace role every workspace of the org inherits from this org role.
    pub fn inherited_workspace_role(self) -> Option<WorkspaceRole> {
        match self {
            OrgRole::Owner | OrgRole::Admin => Some(WorkspaceRole::Admin),
            OrgRole::Editor => Some(WorkspaceRole::Editor),
            OrgRole::Viewer => Some(WorkspaceRole::Viewer),
            OrgRole::Member => None,
        }
    }
}

/// Workspace roles, highest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkspaceRole {
    Admin,
    Editor,
    Viewer,
}

impl WorkspaceRole {
    pub fn as_str(self) -> &'static str {
        match self {
            WorkspaceRole::Admin => "admin",
            WorkspaceRole::Editor => "editor",
            WorkspaceRole::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "admin" => WorkspaceRole::Admin,
            "editor" => WorkspaceRole::Editor,
            "viewer" => WorkspaceRole::Viewer,
            _ => return None,
        })
    }

    fn rank(self) -> u8 {
        match self {
            WorkspaceRole::Admin => 3,
            WorkspaceRole::Editor => 2,
            WorkspaceRole::Viewer => 1,
        }
    }

    pub fn at_least(self, other: WorkspaceRole) -> bool {
        self.rank() >= other.rank()
    }
}

/// A workspace role given to someone joining (an admin-created member, an invitation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WorkspaceAssignment {
    pub workspace: WorkspaceId,
    pub role: WorkspaceRole,
}

/// Effective workspace role: the higher of the explicit one and the one inherited from the org.
pub fn effective_workspace_role(
    org_role: OrgRole,
    explicit: Option<WorkspaceRole>,
) -> Option<WorkspaceRole> {
    match (org_role.inherited_workspace_role(), explicit) {
        (Some(a), Some(b)) => Some(if a.at_least(b) { a } else { b }),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORG_ROLES: [OrgRole; 5] = [
        OrgRole::Owner,
        OrgRole::Admin,
        OrgRole::Editor,
        OrgRole::Viewer,
        OrgRole::Member,
    ];
    const WS_ROLES: [WorkspaceRole; 3] = [
        WorkspaceRole::Admin,
        WorkspaceRole::Editor,
        WorkspaceRole::Viewer,
    ];

    #[test]
    fn names_round_trip() {
        for r in ORG_ROLES {
            assert_eq!(OrgRole::parse(r.as_str()), Some(r));
            assert_eq!(serde_json::to_value(r).unwrap(), r.as_str());
        }
        for r in WS_ROLES {
            assert_eq!(WorkspaceRole::parse(r.as_str()), Some(r));
        }
        assert_eq!(OrgRole::parse("Owner"), None);
        assert_eq!(WorkspaceRole::parse("owner"), None);
    }

    #[test]
    fn org_roles_are_totally_ordered() {
        for (i, a) in ORG_ROLES.iter().enumerate() {
            for (j, b) in ORG_ROLES.iter().enumerate() {
                assert_eq!(a.at_least(*b), i <= j, "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn effective_role_is_the_higher_of_explicit_and_inherited() {
        use WorkspaceRole::*;
        let cases = [
            (OrgRole::Owner, None, Some(Admin)),
            (OrgRole::Admin, Some(Viewer), Some(Admin)),
            (OrgRole::Editor, None, Some(Editor)),
            (OrgRole::Editor, Some(Admin), Some(Admin)),
            (OrgRole::Viewer, Some(Editor), Some(Editor)),
            (OrgRole::Viewer, None, Some(Viewer)),
            (OrgRole::Member, None, None),
            (OrgRole::Member, Some(Viewer), Some(Viewer)),
            (OrgRole::Member, Some(Admin), Some(Admin)),
        ];
        for (org, explicit, want) in cases {
            assert_eq!(
                effective_workspace_role(org, explicit),
                want,
                "{org:?} {explicit:?}"
            );
        }
    }
}
