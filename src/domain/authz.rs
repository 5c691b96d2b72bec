//! The authorization check other services ask (`POST /v1/authz/check`): may this user take
//! `view`, `edit` or `manage` on a resource of a workspace? A pure function of what the
//! store read: the user's org role and explicit workspace role, the grants on the resource
//! to the user and to the user's groups, and the restrictions of the user's groups.

use serde::{Deserialize, Serialize};

use super::roles::{effective_workspace_role, OrgRole, WorkspaceRole};

/// What may be done to an external resource, in increasing order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    View,
    Edit,
    Manage,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::View => "view",
            Permission::Edit => "edit",
            Permission::Manage => "manage",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "view" => Permission::View,
            "edit" => Permission::Edit,
            "manage" => Permission::Manage,
            _ => return None,
        })
    }

    /// A workspace role's reach over the workspace's resources: admins manage, editors
    /// edit, viewers view.
    pub fn of_workspace_role(role: WorkspaceRole) -> Self {
        match role {
            WorkspaceRole::Admin => Permission::Manage,
            WorkspaceRole::Editor => Permission::Edit,
            WorkspaceRole::Viewer => Permission::View,
        }
    }
}

/// An external resource (a dashboard, a device, …) named by its kind and id.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Resource {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
}

const MAX_KIND: usize = 64;
const MAX_ID: usize = 256;

impl Resource {
    /// A resource as a client names it: a kind of letters, digits and `_ - . :` (at most
    /// 64), and any printable id of at most 256 characters. Errors are (field, message).
    pub fn parse(kind: &str, id: &str) -> Result<Self, (&'static str, String)> {
        if kind.is_empty()
            || kind.len() > MAX_KIND
            || !kind
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.:".contains(c))
        {
            return Err((
                "type",
                format!("must be 1–{MAX_KIND} letters, digits, '_', '-', '.' or ':'"),
            ));
        }
        if id.trim().is_empty() || id.chars().count() > MAX_ID || id.chars().any(char::is_control) {
            return Err(("id", format!("must be 1–{MAX_ID} printable characters")));
        }
        Ok(Resource {
            kind: kind.to_string(),
            id: id.to_string(),
        })
    }
}

/// Everything the decision depends on, read for one user, workspace and resource.
#[derive(Debug, Clone, Default)]
pub struct Facts<'a> {
    /// `None`: not a member of the workspace's org.
    pub org_role: Option<OrgRole>,
    pub workspace_role: Option<WorkspaceRole>,
    /// Grants on the resource to the user itself.
    pub user_grants: &'a [Permission],
    /// Grants on the resource to groups the user is in.
    pub group_grants: &'a [Permission],
    /// `Some`: the user is in at least one restricting group, and this is the union of
    /// their resource lists; `None`: no restriction applies.
    pub restrictions: Option<&'a [Resource]>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    NotAMember,
    /// Outside the resources the user's groups limit them to.
    Restricted,
    WorkspaceRole,
    UserGrant,
    GroupGrant,
    /// Nothing the user holds reaches the action.
    InsufficientPermission,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::NotAMember => "not_a_member",
            Reason::Restricted => "restricted",
            Reason::WorkspaceRole => "workspace_role",
            Reason::UserGrant => "user_grant",
            Reason::GroupGrant => "group_grant",
            Reason::InsufficientPermission => "insufficient_permission",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub allowed: bool,
    pub reason: Reason,
}

fn deny(reason: Reason) -> Decision {
    Decision {
        allowed: false,
        reason,
    }
}

/// Effective permission = workspace role ∪ grants (the user's and the user's groups'),
/// cut down by restrictions, which never apply to owners and admins. Without a resource the
/// question is about the workspace itself, which only the role answers.
pub fn evaluate(facts: &Facts<'_>, resource: Option<&Resource>, action: Permission) -> Decision {
    let Some(org_role) = facts.org_role else {
        return deny(Reason::NotAMember);
    };
    let unrestricted = org_role.at_least(OrgRole::Admin);
    if let (Some(limits), Some(resource), false) = (facts.restrictions, resource, unrestricted) {
        if !limits.contains(resource) {
            return deny(Reason::Restricted);
        }
    }
    let role =
        effective_workspace_role(org_role, facts.workspace_role).map(Permission::of_workspace_role);
    let (user, group) = match resource {
        Some(_) => (
            facts.user_grants.iter().max().copied(),
            facts.group_grants.iter().max().copied(),
        ),
        None => (None, None),
    };
    // The first source that reaches the action names the reason.
    [
        (role, Reason::WorkspaceRole),
        (user, Reason::UserGrant),
        (group, Reason::GroupGrant),
    ]
    .into_iter()
    .find(|(p, _)| p.is_some_and(|p| p >= action))
    .map_or(deny(Reason::InsufficientPermission), |(_, reason)| {
        Decision {
            allowed: true,
            reason,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::Permission::*;
    use super::*;

    fn res(id: &str) -> Resource {
        Resource {
            kind: "dashboard".into(),
            id: id.into(),
        }
    }

    fn check(
        facts: &Facts<'_>,
        resource: Option<&str>,
        action: Permission,
    ) -> (bool, &'static str) {
        let r = resource.map(res);
        let d = evaluate(facts, r.as_ref(), action);
        (d.allowed, d.reason.as_str())
    }

    #[test]
    fn outsiders_are_never_allowed() {
        let facts = Facts {
            user_grants: &[Manage],
            ..Facts::default()
        };
        assert_eq!(check(&facts, Some("d1"), View), (false, "not_a_member"));
    }

    #[test]
    fn the_workspace_role_reaches_as_far_as_it_goes() {
        let cases = [
            (OrgRole::Owner, None, Manage, true),
            (OrgRole::Admin, None, Manage, true),
            (OrgRole::Editor, None, Edit, true),
            (OrgRole::Editor, None, Manage, false),
            (OrgRole::Viewer, None, View, true),
            (OrgRole::Viewer, None, Edit, false),
            (OrgRole::Member, None, View, false),
            (OrgRole::Member, Some(WorkspaceRole::Editor), Edit, true),
            (OrgRole::Viewer, Some(WorkspaceRole::Admin), Manage, true),
        ];
        for (org_role, ws, action, allowed) in cases {
            let facts = Facts {
                org_role: Some(org_role),
                workspace_role: ws,
                ..Facts::default()
            };
            for resource in [None, Some("d1")] {
                let (got, reason) = check(&facts, resource, action);
                assert_eq!(got, allowed, "{org_role:?} {ws:?} {action:?} {resource:?}");
                let want = if allowed {
                    "workspace_role"
                } else {
                    "insufficient_permission"
                };
                assert_eq!(reason, want);
            }
        }
    }

    #[test]
    fn grants_add_to_the_role_on_their_resource_only() {
        let facts = Facts {
            org_role: Some(OrgRole::Member),
            user_grants: &[View, Edit],
            group_grants: &[Manage],
            ..Facts::default()
        };
        assert_eq!(check(&facts, Some("d1"), Edit), (true, "user_grant"));
        assert_eq!(check(&facts, Some("d1"), Manage), (true, "group_grant"));
        // Without a resource, grants say nothing: the role decides.
        assert_eq!(
            check(&facts, None, View),
            (false, "insufficient_permission")
        );
        let viewer = Facts {
            org_role: Some(OrgRole::Viewer),
            user_grants: &[Edit],
            ..Facts::default()
        };
        assert_eq!(check(&viewer, Some("d1"), View), (true, "workspace_role"));
        assert_eq!(check(&viewer, Some("d1"), Edit), (true, "user_grant"));
        assert_eq!(
            check(&viewer, Some("d1"), Manage),
            (false, "insufficient_permission")
        );
    }

    #[test]
    fn restrictions_cut_everything_outside_their_list() {
        let allowed_list = [res("d1"), res("d2")];
        let facts = Facts {
            org_role: Some(OrgRole::Editor),
            user_grants: &[Manage],
            restrictions: Some(&allowed_list),
            ..Facts::default()
        };
        assert_eq!(check(&facts, Some("d1"), Edit), (true, "workspace_role"));
        assert_eq!(check(&facts, Some("d2"), Manage), (true, "user_grant"));
        // Neither the role nor a grant reaches past the restriction.
        assert_eq!(check(&facts, Some("d3"), View), (false, "restricted"));
        // The same id of another kind is another resource.
        let device = Resource {
            kind: "device".into(),
            id: "d1".into(),
        };
        assert!(!evaluate(&facts, Some(&device), View).allowed);
        // The workspace itself stays the role's question.
        assert_eq!(check(&facts, None, Edit), (true, "workspace_role"));
        // An empty list restricts to nothing.
        let none = Facts {
            restrictions: Some(&[]),
            ..facts.clone()
        };
        assert_eq!(check(&none, Some("d1"), View), (false, "restricted"));
    }

    #[test]
    fn restrictions_never_apply_to_owners_and_admins() {
        for role in [OrgRole::Owner, OrgRole::Admin] {
            let facts = Facts {
                org_role: Some(role),
                restrictions: Some(&[]),
                ..Facts::default()
            };
            assert_eq!(check(&facts, Some("d9"), Manage), (true, "workspace_role"));
        }
    }

    #[test]
    fn resources_are_validated() {
        assert!(Resource::parse("dashboard", "d-42").is_ok());
        assert!(Resource::parse("iot.device:v2", "Main hall / sensor 7").is_ok());
        assert_eq!(Resource::parse("", "x").unwrap_err().0, "type");
        assert_eq!(Resource::parse("dash board", "x").unwrap_err().0, "type");
        assert_eq!(Resource::parse(&"a".repeat(65), "x").unwrap_err().0, "type");
        assert_eq!(Resource::parse("dashboard", " ").unwrap_err().0, "id");
        assert_eq!(Resource::parse("dashboard", "a\u{7}").unwrap_err().0, "id");
        assert_eq!(
            Resource::parse("dashboard", &"é".repeat(257))
                .unwrap_err()
                .0,
            "id"
        );
        assert!(Resource::parse("dashboard", &"é".repeat(256)).is_ok());
    }

    #[test]
    fn permissions_parse_and_order() {
        for p in [View, Edit, Manage] {
            assert_eq!(Permission::parse(p.as_str()), Some(p));
        }
        assert_eq!(Permission::parse("admin"), None);
        assert!(View < Edit && Edit < Manage);
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    fn kind_ok(kind: &str) -> bool {
        (1..=MAX_KIND).contains(&kind.len())
            && kind
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b))
    }

    fn id_ok(id: &str) -> bool {
        !id.trim().is_empty() && id.chars().count() <= MAX_ID && !id.chars().any(char::is_control)
    }

    proptest! {
        #[test]
        fn resources_parse_exactly_by_their_rules(
            kind in prop_oneof![any::<String>(), "[A-Za-z0-9_.:-]{0,70}", "[a-z]{1,10}[ /é][a-z]{0,5}"],
            id in prop_oneof![any::<String>(), "\\PC{0,300}", "[ \t\n]{0,3}"],
        ) {
            match Resource::parse(&kind, &id) {
                Ok(r) => {
                    prop_assert!(kind_ok(&kind) && id_ok(&id));
                    prop_assert_eq!(&r.kind, &kind);
                    prop_assert_eq!(&r.id, &id);
                    let json = serde_json::to_string(&r).unwrap();
                    prop_assert_eq!(serde_json::from_str::<Resource>(&json).unwrap(), r);
                }
                Err((field, _)) => {
                    let expected = if kind_ok(&kind) { "id" } else { "type" };
                    prop_assert_eq!(field, expected);
                    prop_assert!(!(kind_ok(&kind) && id_ok(&id)));
                }
            }
        }

        #[test]
        fn lengths_are_bounded_exactly(
            kind in "[A-Za-z0-9_.:-]{1,80}",
            id in "[a-zé漢 -]{0,3}[a-z0-9é漢]\\PC{0,280}",
        ) {
            let got = Resource::parse(&kind, &id);
            let fits = kind.len() <= MAX_KIND && id.chars().count() <= MAX_ID;
            prop_assert_eq!(got.is_ok(), fits, "{} / {} chars", kind.len(), id.chars().count());
        }

        #[test]
        fn permissions_parse_their_own_names(s in prop_oneof![any::<String>(), "(view|edit|manage|View| edit)"]) {
            match Permission::parse(&s) {
                Some(p) => prop_assert_eq!(p.as_str(), s.as_str()),
                None => prop_assert!(!matches!(s.as_str(), "view" | "edit" | "manage")),
            }
        }
    }
}
