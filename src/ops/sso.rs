//! Single sign-on: who a verified ID token's person is in the org, and what signing them in
//! writes. Found by (connection, `sub`) first, never by email alone; an account with the same
//! email is linked only when both sides verified it; a newcomer is provisioned just in time
//! with the mapped role; the group map is applied at every sign-in. The caller (the callback)
//! has checked the token; this decides and plans the batch.

use std::collections::BTreeMap;

use super::members::{self, Credential, NewMember};
use super::Acting;
use crate::config::Config;
use crate::domain::account::AccountStatus;
use crate::domain::ids::ConnectionId;
use crate::domain::roles::OrgRole;
use crate::domain::sso::{self, Identity};
use crate::domain::validation::MAX_NAME_LEN;
use crate::error::{ApiError, ApiResult};
use crate::mail::Outgoing;
use crate::store::invitations::InviteeStanding;
use crate::store::sso::{self as sso_store, KnownPerson, NewIdentity};
use crate::store::users::UserRow;
use crate::store::{self, Stmt};

/// What a connection decides about the people it signs in.
pub struct Policy<'a> {
    pub connection: ConnectionId,
    pub jit: bool,
    pub default_role: OrgRole,
    /// Group → role; empty when the connection maps no groups.
    pub group_roles: &'a BTreeMap<String, OrgRole>,
    /// Whether the connection names a group claim (the map then applies at every sign-in).
    pub maps_groups: bool,
}

/// What the sign-in's reads found.
pub struct Found {
    /// The account of the token's (connection, `sub`).
    pub by_identity: Option<KnownPerson>,
    /// The account with the token's email.
    pub by_email: Option<KnownPerson>,
    /// The email's standing with the org (a pending invitation to close on joining).
    pub standing: InviteeStanding,
    /// The org has verified the email's domain.
    pub domain_verified: bool,
}

/// The person to sign in, and the batch that makes them so.
pub struct SignIn {
    pub user: UserRow,
    pub stmts: Vec<Stmt>,
    pub mails: Vec<Outgoing>,
    /// The person's role in the org after this sign-in.
    pub role: OrgRole,
    pub provisioned: bool,
}

fn refused(code: &'static str, detail: &str) -> ApiError {
    ApiError::problem(403, code, "Single sign-on refused", detail)
}

/// The role the token's groups give (`domain::sso::mapped_role`), or the default role.
fn role_for(policy: &Policy<'_>, identity: &Identity) -> OrgRole {
    if policy.maps_groups {
        sso::mapped_role(&identity.groups, policy.group_roles, policy.default_role)
    } else {
        policy.default_role
    }
}

/// Decides the sign-in of `identity` (a verified token's claims) into the acting org.
pub fn sign_in(
    acting: &Acting,
    cfg: &Config,
    policy: &Policy<'_>,
    identity: &Identity,
    found: Found,
) -> ApiResult<SignIn> {
    if !identity.email_verified {
        return Err(refused(
            "sso_email_unverified",
            "The identity provider does not say this email address is verified.",
        ));
    }
    if !found.domain_verified {
        return Err(refused(
            "sso_domain_not_verified",
            "The email's domain is not one of the organization's verified domains.",
        ));
    }
    let wanted = role_for(policy, identity);
    let mut stmts = Vec::new();
    let (person, linked) = match (found.by_identity, found.by_email) {
        (Some(person), _) => (person, false),
        (None, Some(person)) => {
            let user = person.user()?;
            if user.email_verified == 0 {
                return Err(refused(
                    "sso_link_unverified",
                    "An account with this email exists but has not verified it; sign in with its password and verify the email first.",
                ));
            }
            (person, true)
        }
        (None, None) => return provision(acting, cfg, policy, identity, wanted, found.standing),
    };
    let user = person.user()?;
    let role = match person.member_role {
        Some(current) => {
            if policy.maps_groups && current != OrgRole::Owner && current != wanted {
                stmts.push(store::members::set_role(acting.org, user.id, wanted)?);
                stmts.push(acting.audit(
                    &acting
                        .event("member.role_changed", ("user", user.id.to_string()))
                        .meta(crate::object!({
                            "from": current,
                            "to": wanted,
                            "reason": "sso_group_claim",
                        })),
                )?);
                wanted
            } else {
                current
            }
        }
        None if person.removed_at.is_some() => {
            return Err(refused(
                "sso_access_removed",
                "An administrator removed you from this organization; ask them to add you again.",
            ))
        }
        None if !policy.jit => {
            return Err(refused(
                "sso_not_provisioned",
                "You are not a member of this organization, and it does not add people at their first sign-in; ask an administrator to add you.",
            ))
        }
        None => {
            let joined = members::create(
                acting,
                cfg,
                NewMember {
                    email: &user.email,
                    first_name: &user.first_name,
                    last_name: &user.last_name,
                    phone: None,
                    role: wanted,
                    workspaces: &[],
                    groups: &[],
                    credential: Credential::IdentityProvider,
                },
                &InviteeStanding {
                    account_id: Some(user.id),
                    member: 0,
                    ..found.standing
                },
            )?;
            stmts.extend(joined.batch);
            wanted
        }
    };
    if linked {
        stmts.push(sso_store::insert_identity(
            acting.org,
            &NewIdentity {
                connection: policy.connection,
                subject: &identity.subject,
                user: user.id,
                email: &identity.email,
                now: acting.now,
            },
        )?);
        stmts.push(
            acting.audit(
                &crate::store::audit::Event::account("user.sso_linked", user.id, &user.email)
                    .in_org(acting.org.org())
                    .method("sso")
                    .meta(crate::object!({
                        "connection_id": policy.connection,
                        "subject": identity.subject,
                    })),
            )?,
        );
    } else {
        stmts.push(sso_store::touch_identity(
            acting.org,
            policy.connection,
            &identity.subject,
            &identity.email,
            acting.now,
        )?);
    }
    let mut user = user;
    if user.federated() {
        // The provider owns a federated account's names and email.
        let (first, last) = sso::names(identity, MAX_NAME_LEN);
        stmts.push(sso_store::sync_federated(
            acting.org.global(),
            user.id,
            &identity.email,
            &first,
            &last,
            acting.now,
        )?);
        user.email = identity.email.clone();
        user.first_name = first;
        user.last_name = last;
    } else if user.status == AccountStatus::Locked {
        stmts.push(sso_store::unlock(acting.org.global(), user.id, acting.now)?);
        stmts.push(
            acting.audit(
                &crate::store::audit::Event::account("user.unlocked", user.id, &user.email)
                    .method("sso"),
            )?,
        );
        user.status = AccountStatus::Active;
        user.failed_logins = 0;
    }
    Ok(SignIn {
        user,
        stmts,
        mails: Vec::new(),
        role,
        provisioned: false,
    })
}

/// Just-in-time provisioning: a new federated account, a member with `role`; the seat guard
/// fails the batch in a full org (`capacity_exceeded`).
fn provision(
    acting: &Acting,
    cfg: &Config,
    policy: &Policy<'_>,
    identity: &Identity,
    role: OrgRole,
    standing: InviteeStanding,
) -> ApiResult<SignIn> {
    if !policy.jit {
        return Err(refused(
            "sso_not_provisioned",
            "You have no account in this organization, and it does not add people at their first sign-in; ask an administrator to add you.",
        ));
    }
    let (first, last) = sso::names(identity, MAX_NAME_LEN);
    let created = members::create(
        acting,
        cfg,
        NewMember {
            email: &identity.email,
            first_name: &first,
            last_name: &last,
            phone: None,
            role,
            workspaces: &[],
            groups: &[],
            credential: Credential::IdentityProvider,
        },
        &standing,
    )?;
    let mut stmts = created.batch;
    stmts.push(sso_store::mark_federated(
        acting.org.global(),
        created.user,
        policy.connection,
    )?);
    stmts.push(sso_store::insert_identity(
        acting.org,
        &NewIdentity {
            connection: policy.connection,
            subject: &identity.subject,
            user: created.user,
            email: &identity.email,
            now: acting.now,
        },
    )?);
    let now = acting.now.millis();
    Ok(SignIn {
        user: UserRow {
            id: created.user,
            email: identity.email.clone(),
            first_name: first,
            last_name: last,
            phone: None,
            password_hash: None,
            must_change_password: 0,
            status: AccountStatus::Active,
            email_verified: 1,
            pending_email: None,
            failed_logins: 0,
            created_at: now,
            last_login_at: Some(now),
            federated_by: Some(policy.connection),
        },
        stmts,
        mails: created.mails,
        role,
        provisioned: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::UserId;
    use crate::ops::testing::{effect, effects, Org};

    fn identity(email_verified: bool) -> Identity {
        Identity {
            subject: "sub-1".into(),
            email: "ada@example.com".into(),
            email_verified,
            given_name: Some("Ada".into()),
            family_name: Some("Lovelace".into()),
            name: None,
            groups: vec!["admins".into()],
        }
    }

    fn person(
        role: Option<OrgRole>,
        verified: bool,
        federated: bool,
        removed: bool,
    ) -> KnownPerson {
        let id = UserId::new();
        KnownPerson {
            user_json: crate::object!({
                "id": id, "email": "ada@example.com", "first_name": "Ada", "last_name": "L",
                "phone": null, "password_hash": null, "must_change_password": 0,
                "status": "active", "email_verified": i64::from(verified), "pending_email": null,
                "failed_logins": 0, "created_at": 1, "last_login_at": null,
                "federated_by": if federated { Some(ConnectionId::new().to_string()) } else { None },
            })
            .to_string(),
            member_role: role,
            removed_at: removed.then_some(5),
        }
    }

    fn found(by_identity: Option<KnownPerson>, by_email: Option<KnownPerson>) -> Found {
        Found {
            by_identity,
            by_email,
            standing: InviteeStanding::default(),
            domain_verified: true,
        }
    }

    fn run(policy: &Policy<'_>, id: &Identity, f: Found) -> ApiResult<SignIn> {
        let org = Org::new();
        let acting = org.acting(OrgRole::Member);
        sign_in(&acting, &Config::for_tests(), policy, id, f)
    }

    fn map() -> BTreeMap<String, OrgRole> {
        [("admins".to_string(), OrgRole::Admin)].into()
    }

    fn policy(map: &BTreeMap<String, OrgRole>, jit: bool, maps_groups: bool) -> Policy<'_> {
        Policy {
            connection: ConnectionId::new(),
            jit,
            default_role: OrgRole::Viewer,
            group_roles: map,
            maps_groups,
        }
    }

    fn code(r: ApiResult<SignIn>) -> &'static str {
        match r {
            Err(e) => e.code(),
            Ok(_) => "signed_in",
        }
    }

    #[test]
    fn unverified_emails_and_unverified_domains_are_refused_before_anything() {
        let m = map();
        let p = policy(&m, true, false);
        assert_eq!(
            code(run(&p, &identity(false), found(None, None))),
            "sso_email_unverified"
        );
        let mut f = found(None, None);
        f.domain_verified = false;
        assert_eq!(code(run(&p, &identity(true), f)), "sso_domain_not_verified");
    }

    #[test]
    fn a_newcomer_is_provisioned_federated_with_the_mapped_role() {
        let m = map();
        let p = policy(&m, true, true);
        let s = run(&p, &identity(true), found(None, None)).unwrap();
        assert!(s.provisioned);
        assert_eq!(s.role, OrgRole::Admin);
        assert!(s.user.federated());
        let e = effects(&s.stmts);
        for want in [
            "INSERT users",
            "INSERT org_members",
            "UPDATE users",
            "INSERT sso_identities",
            "INSERT audit_events",
        ] {
            assert!(e.iter().any(|x| x == want), "{want} in {e:?}");
        }
        // No activation email: the provider vouched for the address.
        assert!(s.mails.is_empty());
        // Without a group claim, the default role.
        let p = policy(&m, true, false);
        assert_eq!(
            run(&p, &identity(true), found(None, None)).unwrap().role,
            OrgRole::Viewer
        );
        // JIT off: nobody new.
        let p = policy(&m, false, false);
        assert_eq!(
            code(run(&p, &identity(true), found(None, None))),
            "sso_not_provisioned"
        );
    }

    #[test]
    fn an_existing_account_is_linked_only_when_its_email_is_verified() {
        let m = map();
        let p = policy(&m, true, false);
        let refused = run(
            &p,
            &identity(true),
            found(None, Some(person(None, false, false, false))),
        );
        assert_eq!(code(refused), "sso_link_unverified");
        let s = run(
            &p,
            &identity(true),
            found(
                None,
                Some(person(Some(OrgRole::Editor), true, false, false)),
            ),
        )
        .unwrap();
        assert_eq!(s.role, OrgRole::Editor);
        let e = effects(&s.stmts);
        assert!(e.contains(&"INSERT sso_identities".to_string()), "{e:?}");
        assert!(!e.contains(&"INSERT org_members".to_string()), "{e:?}");
        // Linked and not yet a member: joins (JIT), never a second account.
        let s = run(
            &p,
            &identity(true),
            found(None, Some(person(None, true, false, false))),
        )
        .unwrap();
        let e = effects(&s.stmts);
        assert!(
            e.contains(&"INSERT org_members".to_string())
                && !e.contains(&"INSERT users".to_string()),
            "{e:?}"
        );
    }

    #[test]
    fn the_group_map_applies_at_every_sign_in_but_never_to_the_owner() {
        let m = map();
        let p = policy(&m, true, true);
        let s = run(
            &p,
            &identity(true),
            found(
                Some(person(Some(OrgRole::Viewer), true, false, false)),
                None,
            ),
        )
        .unwrap();
        assert_eq!(s.role, OrgRole::Admin);
        assert!(s.stmts.iter().any(|x| effect(x) == "UPDATE org_members"));
        let s = run(
            &p,
            &identity(true),
            found(Some(person(Some(OrgRole::Owner), true, false, false)), None),
        )
        .unwrap();
        assert_eq!(s.role, OrgRole::Owner);
        assert!(!s.stmts.iter().any(|x| effect(x) == "UPDATE org_members"));
        // Without a group claim, roles set in the service stay.
        let p = policy(&m, true, false);
        let s = run(
            &p,
            &identity(true),
            found(
                Some(person(Some(OrgRole::Editor), true, false, false)),
                None,
            ),
        )
        .unwrap();
        assert_eq!(s.role, OrgRole::Editor);
    }

    #[test]
    fn a_removed_person_does_not_come_back_by_signing_in() {
        let m = map();
        let p = policy(&m, true, false);
        let r = run(
            &p,
            &identity(true),
            found(Some(person(None, true, true, true)), None),
        );
        assert_eq!(code(r), "sso_access_removed");
        // Added back by an admin: a member again, and the identity is touched (un-removed).
        let s = run(
            &p,
            &identity(true),
            found(Some(person(Some(OrgRole::Viewer), true, true, true)), None),
        )
        .unwrap();
        assert!(s.stmts.iter().any(|x| effect(x) == "UPDATE sso_identities"));
        // A federated account's names follow the provider.
        assert_eq!(s.user.last_name, "Lovelace");
    }
}
