//! SCIM provisioning's lifecycle: a person provisioned (a new account, or an existing one
//! joining), their details kept in step with the client, suspended and restored (`active`),
//! deprovisioned; and the role the client's groups give them. The SCIM handlers parse and
//! answer in SCIM's terms; this decides what is written, through the same operations as the
//! admin console (`members::create`, `members::remove`).

use std::collections::BTreeMap;

use super::members::{self, Credential, NewMember};
use super::Acting;
use crate::config::Config;
use crate::domain::ids::{ConnectionId, UserId};
use crate::domain::roles::OrgRole;
use crate::error::{ApiError, ApiResult};
use crate::mail::Outgoing;
use crate::store::invitations::InviteeStanding;
use crate::store::scim::{self as scim_store, ScimUserRow};
use crate::store::users::ProfileChange;
use crate::store::{self, Stmt};

/// A person as the client sends them (validated by the handler).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// The `userName`: the email, lower-cased.
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// E.164.
    pub phone: Option<String>,
    pub external_id: Option<String>,
    pub active: bool,
}

/// How a provisioned newcomer first signs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// Through the org's SSO connection: an active account with no password, its email
    /// vouched for by the client; it exists through that provider.
    Sso(ConnectionId),
    /// By an activation email, as an account an admin creates.
    Email,
}

/// What provisioning decided: the batch, the mail to send once it commits, the account.
pub struct Provisioned {
    pub user: UserId,
    pub batch: Vec<Stmt>,
    pub mails: Vec<Outgoing>,
}

/// Provisions `person` with `role`: a new account (or the existing account of the email)
/// joins the org; the client's id is recorded; an inactive person joins suspended. The seat
/// guard fails a full org's batch (`capacity_exceeded`).
pub fn provision(
    acting: &Acting,
    cfg: &Config,
    person: &Person,
    role: OrgRole,
    activation: Activation,
    standing: &InviteeStanding,
) -> ApiResult<Provisioned> {
    if standing.member != 0 {
        return Err(ApiError::conflict(
            "already_member",
            "A member of the organization already has this userName.",
        ));
    }
    let credential = match activation {
        Activation::Sso(_) => Credential::IdentityProvider,
        Activation::Email => Credential::ActivationEmail,
    };
    let created = members::create(
        acting,
        cfg,
        NewMember {
            email: &person.email,
            first_name: &person.first_name,
            last_name: &person.last_name,
            phone: person.phone.as_deref(),
            role,
            workspaces: &[],
            groups: &[],
            credential,
        },
        standing,
    )?;
    let mut batch = created.batch;
    if let (Activation::Sso(connection), true) = (activation, created.created_account) {
        batch.push(store::sso::mark_federated(
            acting.org.global(),
            created.user,
            connection,
        )?);
    }
    batch.push(scim_store::put_external_id(
        acting.org,
        created.user,
        person.external_id.as_deref(),
        acting.now,
    )?);
    if !person.active {
        batch.extend(suspend(acting, created.user, true)?);
    }
    Ok(Provisioned {
        user: created.user,
        batch,
        mails: created.mails,
    })
}

/// Suspends (`suspended`) or restores a membership. Suspending ends the person's sessions, so
/// their access dies on their next request; the owner is never suspended.
pub fn suspend(acting: &Acting, user: UserId, suspended: bool) -> ApiResult<Vec<Stmt>> {
    let mut batch = vec![scim_store::set_suspended(
        acting.org, user, suspended, acting.now,
    )?];
    if suspended {
        batch.push(store::sessions::end_all(
            acting.org.global(),
            user,
            None,
            "suspended",
            acting.now,
        )?);
    }
    batch.push(acting.audit(&acting.event(
        if suspended {
            "member.suspended"
        } else {
            "member.restored"
        },
        ("user", user.to_string()),
    ))?);
    Ok(batch)
}

/// The changes that make the member `current` into `wanted` (a PUT, or a PATCH applied).
/// The client may change the details of accounts this org manages; another org's (or the
/// person's own) account keeps its details (`mutability` when asked to change them).
pub fn update(acting: &Acting, current: &ScimUserRow, wanted: &Person) -> ApiResult<Vec<Stmt>> {
    if current.role == OrgRole::Owner && !wanted.active {
        return Err(ApiError::problem(
            400,
            "mutability",
            "The owner cannot be deactivated",
            "The organization's owner cannot be deactivated through SCIM; transfer ownership first.",
        ));
    }
    let mut batch = Vec::new();
    let details_changed = wanted.email != current.email
        || wanted.first_name != current.first_name
        || wanted.last_name != current.last_name
        || wanted.phone != current.phone;
    if details_changed {
        if current.managed == 0 {
            return Err(ApiError::problem(
                400,
                "mutability",
                "Not this organization's account",
                "This person's account was not created by this organization: its userName, name and phone are theirs to change.",
            ));
        }
        batch.push(store::users::update_profile(
            acting.org.global(),
            current.id,
            &ProfileChange {
                first_name: Some(&wanted.first_name),
                last_name: Some(&wanted.last_name),
                phone: Some(wanted.phone.as_deref()),
            },
            acting.now,
        )?);
        if wanted.email != current.email {
            batch.push(store::users::apply_email_change(
                acting.org.global(),
                current.id,
                &wanted.email,
                acting.now,
            )?);
        }
        batch.push(acting.audit(&acting.event("user.updated", ("user", current.id.to_string())))?);
    }
    if wanted.external_id != current.external_id {
        batch.push(scim_store::put_external_id(
            acting.org,
            current.id,
            wanted.external_id.as_deref(),
            acting.now,
        )?);
    }
    let suspended = current.suspended_at.is_some();
    if wanted.active == suspended {
        batch.extend(suspend(acting, current.id, !wanted.active)?);
    }
    Ok(batch)
}

/// Deprovisions a member: the membership goes; the account too when this org manages it and
/// it belongs to no other org (`alone`, read by the handler; the guard re-checks it in the
/// batch). Never the owner.
pub fn deprovision(acting: &Acting, member: &ScimUserRow, alone: bool) -> ApiResult<Vec<Stmt>> {
    let mut batch = members::remove(acting, member.id, member.role, false)?;
    if member.managed != 0 && alone {
        batch.push(store::members::guard_belongs_to_this_org_alone(
            acting.org, member.id,
        )?);
        batch.extend(store::users::delete(acting.org.global(), member.id)?);
        batch.push(
            acting.audit(
                &acting
                    .event("user.deleted", ("user", member.id.to_string()))
                    .meta(crate::object!({ "email": member.email })),
            )?,
        );
    } else {
        // The person's sessions end with their access to this org.
        batch.push(store::sessions::end_all(
            acting.org.global(),
            member.id,
            None,
            "deprovisioned",
            acting.now,
        )?);
    }
    Ok(batch)
}

/// The role a member's SCIM groups give them (the highest mapped role), else the default;
/// never owner.
pub fn role_for_groups(
    groups: &[String],
    map: &BTreeMap<String, OrgRole>,
    default: OrgRole,
) -> OrgRole {
    crate::domain::sso::mapped_role(groups, map, default)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::{effects, Org};

    fn person(active: bool) -> Person {
        Person {
            email: "ada@example.com".into(),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            phone: None,
            external_id: Some("okta-1".into()),
            active,
        }
    }

    fn row(managed: bool, suspended: bool, role: OrgRole) -> ScimUserRow {
        ScimUserRow {
            id: UserId::new(),
            email: "ada@example.com".into(),
            first_name: "Ada".into(),
            last_name: "Lovelace".into(),
            phone: None,
            created_at: 1,
            updated_at: 1,
            role,
            suspended_at: suspended.then_some(5),
            external_id: Some("okta-1".into()),
            managed: i64::from(managed),
        }
    }

    #[test]
    fn provisioning_creates_the_account_and_records_the_client_id() {
        let org = Org::new();
        let acting = org.acting(OrgRole::Admin);
        let p = provision(
            &acting,
            &Config::for_tests(),
            &person(true),
            OrgRole::Viewer,
            Activation::Email,
            &InviteeStanding::default(),
        )
        .unwrap();
        let e = effects(&p.batch);
        for want in ["INSERT users", "INSERT org_members", "INSERT scim_users"] {
            assert!(e.iter().any(|x| x == want), "{want} in {e:?}");
        }
        assert_eq!(p.mails.len(), 1, "an activation email");
        // Through SSO: no email, the account exists through the connection.
        let p = provision(
            &acting,
            &Config::for_tests(),
            &person(false),
            OrgRole::Viewer,
            Activation::Sso(ConnectionId::new()),
            &InviteeStanding::default(),
        )
        .unwrap();
        let e = effects(&p.batch);
        assert!(p.mails.is_empty());
        assert!(
            e.iter().filter(|x| *x == "UPDATE users").count() == 1,
            "{e:?}"
        );
        assert!(
            e.contains(&"UPDATE org_members".to_string()),
            "joins suspended: {e:?}"
        );
        // A member already: refused, nothing planned.
        let standing = InviteeStanding {
            account_id: Some(UserId::new()),
            member: 1,
            ..InviteeStanding::default()
        };
        assert!(provision(
            &acting,
            &Config::for_tests(),
            &person(true),
            OrgRole::Viewer,
            Activation::Email,
            &standing
        )
        .is_err());
    }

    #[test]
    fn deactivation_suspends_and_ends_sessions_and_reactivation_restores() {
        let org = Org::new();
        let acting = org.acting(OrgRole::Admin);
        let b = update(&acting, &row(true, false, OrgRole::Viewer), &person(false)).unwrap();
        let e = effects(&b);
        assert!(
            e.contains(&"UPDATE org_members".to_string())
                && e.contains(&"UPDATE sessions".to_string()),
            "{e:?}"
        );
        let b = update(&acting, &row(true, true, OrgRole::Viewer), &person(true)).unwrap();
        let e = effects(&b);
        assert!(
            e.contains(&"UPDATE org_members".to_string())
                && !e.contains(&"UPDATE sessions".to_string()),
            "{e:?}"
        );
        // Nothing asked, nothing written.
        assert!(
            update(&acting, &row(true, false, OrgRole::Viewer), &person(true))
                .unwrap()
                .is_empty()
        );
        // The owner is never deactivated.
        assert!(update(&acting, &row(true, false, OrgRole::Owner), &person(false)).is_err());
    }

    #[test]
    fn only_the_orgs_own_accounts_change_their_details() {
        let org = Org::new();
        let acting = org.acting(OrgRole::Admin);
        let mut renamed = person(true);
        renamed.first_name = "Augusta".into();
        assert!(update(&acting, &row(false, false, OrgRole::Viewer), &renamed).is_err());
        let b = update(&acting, &row(true, false, OrgRole::Viewer), &renamed).unwrap();
        assert!(effects(&b).contains(&"UPDATE users".to_string()));
    }

    #[test]
    fn deprovisioning_deletes_only_the_orgs_own_account_of_no_other_org() {
        let org = Org::new();
        let acting = org.acting(OrgRole::Admin);
        let e = effects(&deprovision(&acting, &row(true, false, OrgRole::Viewer), true).unwrap());
        assert!(e.contains(&"DELETE users".to_string()), "{e:?}");
        let e = effects(&deprovision(&acting, &row(false, false, OrgRole::Viewer), true).unwrap());
        assert!(
            !e.contains(&"DELETE users".to_string()) && e.contains(&"UPDATE sessions".to_string()),
            "{e:?}"
        );
        let e = effects(&deprovision(&acting, &row(true, false, OrgRole::Viewer), false).unwrap());
        assert!(!e.contains(&"DELETE users".to_string()), "{e:?}");
        assert!(deprovision(&acting, &row(true, false, OrgRole::Owner), true).is_err());
    }
}
