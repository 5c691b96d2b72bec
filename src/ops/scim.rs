//! SCIM provisioning's lifecycle: a person provisioned (a new account, or an existing one
//! joining), their details kept in step with the client, suspended and restored (`active`),
//! deprovisioned; and the role the client's groups give them. The SCIM handlers parse and
//! answer in SCIM's terms; this decides what is written, through the same operations as the
//! admin console (`members::create`, `members::remove`).

use super::members::{self, Credential, NewMember};
use super::Acting;
use crate::config::Config;
use crate::domain::ids::{ConnectionId, UserId};
use crate::domain::roles::OrgRole;
use crate::domain::scim::ScimUserState;
use crate::domain::validation;
use crate::error::{ApiError, ApiResult};
use crate::mail::Outgoing;
use crate::store::invitations::InviteeStanding;
use crate::store::scim::{self as scim_store, ScimUserRow};
use crate::store::users::ProfileChange;
use crate::store::{self, Stmt};

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

/// The account's email of a SCIM user: required (an account signs in with it).
pub fn account_email(state: &ScimUserState) -> ApiResult<String> {
    state.account_email().ok_or_else(|| {
        ApiError::problem(
            400,
            "invalidValue",
            "No email",
            "A User needs an email address: in emails, or as its userName.",
        )
    })
}

/// The account's phone: the first of the client's numbers that is E.164; the client's own
/// list is kept as sent either way.
fn account_phone(state: &ScimUserState) -> Option<String> {
    state
        .phone_numbers
        .iter()
        .find_map(|p| validation::phone_e164(&p.value).ok())
}

/// Provisions `state` with `role`: a new account (or the existing account of its email)
/// joins the org; the member as the client wrote them is kept; an inactive person joins
/// suspended. The seat guard fails a full org's batch (`capacity_exceeded`).
pub fn provision(
    acting: &Acting,
    cfg: &Config,
    state: &ScimUserState,
    role: OrgRole,
    activation: Activation,
    standing: &InviteeStanding,
) -> ApiResult<Provisioned> {
    let email = account_email(state)?;
    if standing.member != 0 {
        return Err(ApiError::problem(
            409,
            "uniqueness",
            "Already a member",
            "A member of the organization already has this email.",
        ));
    }
    let credential = match activation {
        Activation::Sso(_) => Credential::IdentityProvider,
        Activation::Email => Credential::ActivationEmail,
    };
    let phone = account_phone(state);
    let created = members::create(
        acting,
        cfg,
        NewMember {
            email: &email,
            first_name: &state.given_name,
            last_name: &state.family_name,
            phone: phone.as_deref(),
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
    batch.push(scim_store::put_user(
        acting.org,
        created.user,
        state,
        acting.now,
    )?);
    if !state.active {
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

/// The changes that make the member `current` (as read, `was` its SCIM state) into `wanted`
/// (a PUT, or a PATCH applied). The member as the client wrote them is replaced; the
/// account follows (email, names, phone) only when this org manages it: another org's, or
/// the person's own, account keeps its details.
pub fn update(
    acting: &Acting,
    current: &ScimUserRow,
    was: &ScimUserState,
    wanted: &ScimUserState,
) -> ApiResult<Vec<Stmt>> {
    if current.role == OrgRole::Owner && !wanted.active {
        return Err(ApiError::problem(
            400,
            "mutability",
            "The owner cannot be deactivated",
            "The organization's owner cannot be deactivated through SCIM; transfer ownership first.",
        ));
    }
    let email = account_email(wanted)?;
    let mut batch = Vec::new();
    if wanted != was {
        batch.push(scim_store::put_user(
            acting.org, current.id, wanted, acting.now,
        )?);
    }
    let phone = account_phone(wanted);
    let account_changed = email != current.email
        || wanted.given_name != current.first_name
        || wanted.family_name != current.last_name
        || (phone.is_some() && phone != current.phone);
    if current.managed != 0 && account_changed {
        batch.push(store::users::update_profile(
            acting.org.global(),
            current.id,
            &ProfileChange {
                first_name: Some(&wanted.given_name),
                last_name: Some(&wanted.family_name),
                phone: phone.as_deref().map(Some),
            },
            acting.now,
        )?);
        if email != current.email {
            batch.push(store::users::apply_email_change(
                acting.org.global(),
                current.id,
                &email,
                acting.now,
            )?);
        }
        batch.push(acting.audit(&acting.event("user.updated", ("user", current.id.to_string())))?);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::scim::{parse_user, MultiValue};
    use crate::ops::testing::{effects, Org};
    use serde_json::json;

    fn state(active: bool) -> ScimUserState {
        parse_user(&json!({
            "userName": "ada.lovelace",
            "name": {"givenName": "Ada", "familyName": "Lovelace"},
            "emails": [{"value": "Ada@Example.com", "type": "work", "primary": true}],
            "phoneNumbers": [{"value": "3464191835", "type": "work"}],
            "externalId": "okta-1",
            "active": active,
        }))
        .unwrap()
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
            managed: i64::from(managed),
            user_name: Some("ada.lovelace".into()),
            external_id: Some("okta-1".into()),
            given_name: Some("Ada".into()),
            family_name: Some("Lovelace".into()),
            display_name: None,
            emails: None,
            phone_numbers: None,
            scim_created_at: Some(1),
            scim_updated_at: Some(1),
        }
    }

    #[test]
    fn provisioning_creates_the_account_and_keeps_what_the_client_wrote() {
        let org = Org::new();
        let acting = org.acting(OrgRole::Admin);
        let p = provision(
            &acting,
            &Config::for_tests(),
            &state(true),
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
        // Through SSO: no email, the account exists through the connection; inactive joins
        // suspended.
        let p = provision(
            &acting,
            &Config::for_tests(),
            &state(false),
            OrgRole::Viewer,
            Activation::Sso(ConnectionId::new()),
            &InviteeStanding::default(),
        )
        .unwrap();
        let e = effects(&p.batch);
        assert!(p.mails.is_empty());
        assert!(e.contains(&"UPDATE org_members".to_string()), "{e:?}");
        // No email anywhere: refused.
        let mut nameless = state(true);
        nameless.emails.clear();
        assert!(provision(
            &acting,
            &Config::for_tests(),
            &nameless,
            OrgRole::Viewer,
            Activation::Email,
            &InviteeStanding::default()
        )
        .is_err());
        // A member already: refused.
        let standing = InviteeStanding {
            account_id: Some(UserId::new()),
            member: 1,
            ..InviteeStanding::default()
        };
        assert!(provision(
            &acting,
            &Config::for_tests(),
            &state(true),
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
        let b = update(
            &acting,
            &row(true, false, OrgRole::Viewer),
            &state(true),
            &state(false),
        )
        .unwrap();
        let e = effects(&b);
        assert!(
            e.contains(&"UPDATE org_members".to_string())
                && e.contains(&"UPDATE sessions".to_string()),
            "{e:?}"
        );
        let b = update(
            &acting,
            &row(true, true, OrgRole::Viewer),
            &state(false),
            &state(true),
        )
        .unwrap();
        let e = effects(&b);
        assert!(
            e.contains(&"UPDATE org_members".to_string())
                && !e.contains(&"UPDATE sessions".to_string()),
            "{e:?}"
        );
        // The owner is never deactivated.
        assert!(update(
            &acting,
            &row(true, false, OrgRole::Owner),
            &state(true),
            &state(false)
        )
        .is_err());
    }

    #[test]
    fn the_account_follows_only_when_the_org_manages_it() {
        let org = Org::new();
        let acting = org.acting(OrgRole::Admin);
        let mut renamed = state(true);
        renamed.given_name = "Augusta".into();
        renamed.emails = vec![MultiValue {
            value: "augusta@example.com".into(),
            type_: Some("work".into()),
            primary: true,
        }];
        let e = effects(
            &update(
                &acting,
                &row(false, false, OrgRole::Viewer),
                &state(true),
                &renamed,
            )
            .unwrap(),
        );
        assert_eq!(e, ["INSERT scim_users"], "only the client's record");
        let e = effects(
            &update(
                &acting,
                &row(true, false, OrgRole::Viewer),
                &state(true),
                &renamed,
            )
            .unwrap(),
        );
        assert!(
            e.iter().filter(|x| *x == "UPDATE users").count() == 2,
            "{e:?}"
        );
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
