//! Members: creating one (a new account with an activation email or a single-use password,
//! or an existing account joining) and removing one.

use super::{newcomer, Acting};
use crate::config::Config;
use crate::domain::account::AccountStatus;
use crate::domain::ids::{GroupId, UserId};
use crate::domain::password;
use crate::domain::roles::{OrgRole, WorkspaceAssignment};
use crate::domain::token::{generate_password, hash_secret, new_secret, TokenPurpose};
use crate::error::{ApiError, ApiResult};
use crate::mail::{link, MailContent, Outgoing};
use crate::store::invitations::InviteeStanding;
use crate::store::users::NewUser;
use crate::store::{self, Stmt};

/// How a new account gets its first credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// Pending until the person sets a password through the emailed link.
    ActivationEmail,
    /// Active with this password (given, or generated when `None`); the first login must
    /// change it.
    SingleUsePassword(Option<String>),
    /// Active with no password and a verified email: the person exists through the org's
    /// identity provider, which just vouched for them (SSO just-in-time provisioning).
    IdentityProvider,
}

impl Credential {
    pub fn as_str(&self) -> &'static str {
        match self {
            Credential::ActivationEmail => "activation_email",
            Credential::SingleUsePassword(_) => "single_use_password",
            Credential::IdentityProvider => "identity_provider",
        }
    }
}

/// A member to create, validated by the caller (names, email, phone, the password's
/// strength, the actor's ceiling: `newcomer::check_ceiling`).
pub struct NewMember<'a> {
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub phone: Option<&'a str>,
    pub role: OrgRole,
    pub workspaces: &'a [WorkspaceAssignment],
    /// Groups of the org, checked by `newcomer::NewcomerChecks`.
    pub groups: &'a [GroupId],
    /// Used only when the email has no account yet.
    pub credential: Credential,
}

/// What `create` decided: the statements of one batch, and what to do once it commits.
pub struct Created {
    pub user: UserId,
    /// The account (when new), its first credential, the membership with its workspace
    /// roles and groups, the seat guard, the closed invitation and the audit event.
    pub batch: Vec<Stmt>,
    /// To enqueue after the batch commits (the activation email).
    pub mails: Vec<Outgoing>,
    pub created_account: bool,
    /// Shown once to the creator.
    pub single_use_password: Option<String>,
}

/// Creates the member: a new account, or the existing account of the email (`standing`, read
/// with the newcomer's checks), joins the org. 409 `already_member` for a member. A pending
/// invitation to the email is closed in the same batch; the seat guard makes a full org fail
/// the batch (`409 capacity_exceeded`).
pub fn create(
    acting: &Acting,
    cfg: &Config,
    member: NewMember<'_>,
    standing: &InviteeStanding,
) -> ApiResult<Created> {
    let now = acting.now;
    let mut batch = Vec::new();
    let mut mails = Vec::new();
    let mut single_use_password = None;
    let user = match standing.account_id {
        Some(_) if standing.member != 0 => {
            return Err(ApiError::conflict(
                "already_member",
                "This person is already a member of the organization.",
            ));
        }
        Some(id) => id,
        None => {
            let id = UserId::new();
            let password = match &member.credential {
                Credential::SingleUsePassword(given) => {
                    Some(given.clone().unwrap_or_else(generate_password))
                }
                Credential::ActivationEmail | Credential::IdentityProvider => None,
            };
            let vouched = member.credential == Credential::IdentityProvider;
            let hash = match &password {
                Some(p) => {
                    Some(password::hash(p).map_err(|_| ApiError::internal("hashing failed"))?)
                }
                None => None,
            };
            batch.push(store::users::insert(
                acting.org.global(),
                &NewUser {
                    id,
                    email: member.email,
                    first_name: member.first_name,
                    last_name: member.last_name,
                    phone: member.phone,
                    password_hash: hash.as_deref(),
                    status: if password.is_some() || vouched {
                        AccountStatus::Active
                    } else {
                        AccountStatus::Pending
                    },
                    email_verified: vouched,
                    created_by_org: Some(acting.org.org()),
                    must_change_password: password.is_some(),
                    now,
                },
            )?);
            if member.credential == Credential::ActivationEmail {
                let secret = new_secret();
                let expires = now.plus_seconds(cfg.activation_ttl);
                batch.push(store::tokens::insert(
                    acting.org.global(),
                    &hash_secret(&secret),
                    id,
                    TokenPurpose::Activation,
                    None,
                    now,
                    expires,
                )?);
                let mail = Outgoing::new(
                    member.email,
                    MailContent::Activation {
                        first_name: member.first_name.to_string(),
                        link: link(&cfg.app_url, "activate", &secret),
                        expires_at: expires.to_rfc3339(),
                    },
                );
                batch.push(mail.outbox_row(acting.org.global(), now)?);
                mails.push(mail);
            }
            single_use_password = password;
            id
        }
    };
    let created_account = standing.account_id.is_none();
    if let Some(pending) = standing.pending() {
        batch.extend(newcomer::close_invitation(
            acting,
            member.email,
            pending.id,
        )?);
    }
    batch.extend(store::members::add(
        acting.org,
        user,
        member.role,
        member.workspaces,
        now,
    )?);
    if !member.groups.is_empty() {
        let list = serde_json::to_string(member.groups).unwrap_or_else(|_| "[]".into());
        batch.push(store::groups::join_all(acting.org, user, &list, now)?);
    }
    batch.push(
        acting.audit(
            &acting
                .event("member.added", ("user", user.to_string()))
                .meta(crate::object!({
                    "role": member.role,
                    "created_account": created_account,
                    "credential": created_account.then(|| member.credential.as_str()),
                })),
        )?,
    );
    Ok(Created {
        user,
        batch,
        mails,
        created_account,
        single_use_password,
    })
}

/// Removes a member (whose role, as read, is `role`) from the org, its workspaces and its
/// groups. Never the owner (`409 last_owner`: ownership moves only by transfer). A member
/// gone meanwhile fails the batch (`ApiError::GuardFailed`).
///
/// The person's SSO identities with the org stay (the provider keeps them) but no longer
/// bring them back at their next sign-in. A federated account (`federated`: it exists only
/// through this org's identity provider) also loses its sessions: removal revokes its access
/// now, while the account and its identity stay.
pub fn remove(
    acting: &Acting,
    user: UserId,
    role: OrgRole,
    federated: bool,
) -> ApiResult<Vec<Stmt>> {
    if role == OrgRole::Owner {
        return Err(ApiError::conflict(
            "last_owner",
            "The owner cannot be removed; transfer ownership first.",
        ));
    }
    let mut batch = store::members::remove(acting.org, user)?;
    batch.push(store::sso::identities_removed(
        acting.org, user, acting.now,
    )?);
    if federated {
        batch.push(store::sessions::end_all(
            acting.org.global(),
            user,
            None,
            "removed_from_org",
            acting.now,
        )?);
    }
    batch.push(
        acting.audit(
            &acting
                .event("member.removed", ("user", user.to_string()))
                .meta(crate::object!({ "role": role, "federated": federated })),
        )?,
    );
    Ok(batch)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::domain::ids::{InvitationId, WorkspaceId};
    use crate::domain::password::Verification;
    use crate::domain::roles::WorkspaceRole;
    use crate::ops::testing::*;
    use crate::store::Arg;

    const EMAIL: &str = "ada@example.com";

    fn member<'a>(
        credential: Credential,
        workspaces: &'a [WorkspaceAssignment],
        groups: &'a [GroupId],
    ) -> NewMember<'a> {
        NewMember {
            email: EMAIL,
            first_name: "Ada",
            last_name: "Lovelace",
            phone: None,
            role: OrgRole::Editor,
            workspaces,
            groups,
            credential,
        }
    }

    fn standing(row: serde_json::Value) -> InviteeStanding {
        serde_json::from_value(row).expect("an InviteeStanding row")
    }

    /// Where an email with no account, no membership and no invitation stands.
    fn unknown() -> InviteeStanding {
        standing(json!({"account_id": null, "member": 0, "pending_id": null,
            "pending_expires_at": null}))
    }

    fn an_account(member: i64) -> (UserId, InviteeStanding) {
        let id = UserId::new();
        (
            id,
            standing(
                json!({"account_id": id, "member": member, "pending_id": null,
                "pending_expires_at": null}),
            ),
        )
    }

    fn stored_hash(batch: &[Stmt]) -> String {
        match value_of(one_of(batch, "INSERT users"), "password_hash") {
            Arg::Text(hash) => hash,
            other => panic!("password_hash {other:?}"),
        }
    }

    #[test]
    fn a_new_account_with_an_activation_email_is_pending_and_mailed_its_link() {
        let org = Org::new();
        let ws = [WorkspaceAssignment {
            workspace: WorkspaceId::new(),
            role: WorkspaceRole::Viewer,
        }];
        let created = create(
            &org.acting(OrgRole::Admin),
            &org.cfg,
            member(Credential::ActivationEmail, &ws, &[]),
            &unknown(),
        )
        .unwrap();
        let batch = &created.batch;
        assert_eq!(
            effects(batch),
            [
                "INSERT users",
                "INSERT user_tokens",
                "INSERT outbox",
                "INSERT org_members",
                "INSERT seat_guards",
                "INSERT workspace_members",
                "INSERT audit_events"
            ]
        );
        assert!(created.created_account);
        assert_eq!(created.single_use_password, None);

        // The account: pending, no password, managed by the org.
        let user = one_of(batch, "INSERT users");
        assert_eq!(value_of(user, "id"), text(created.user));
        assert_eq!(value_of(user, "email"), text(EMAIL));
        assert_eq!(value_of(user, "status"), text("pending"));
        assert_eq!(value_of(user, "password_hash"), Arg::Null);
        assert_eq!(value_of(user, "must_change_password"), Arg::Int(0));
        assert_eq!(value_of(user, "email_verified"), Arg::Int(0));
        assert_eq!(value_of(user, "created_by_org_id"), text(org.id()));

        // The mail carries the secret whose hash is the stored activation token.
        let [mail] = &created.mails[..] else {
            panic!("one mail: {}", created.mails.len())
        };
        assert_eq!(mail.message.to, EMAIL);
        let MailContent::Activation {
            first_name,
            link,
            expires_at,
        } = &mail.message.content
        else {
            panic!("{:?}", mail.message.content)
        };
        assert_eq!(first_name, "Ada");
        let secret = link
            .strip_prefix(&format!("{}/activate?token=", org.cfg.app_url))
            .unwrap_or_else(|| panic!("{link}"));
        let token = one_of(batch, "INSERT user_tokens");
        assert_eq!(value_of(token, "token_hash"), text(hash_secret(secret)));
        assert!(!binds(token, &text(secret)), "only the hash is stored");
        assert_eq!(value_of(token, "user_id"), text(created.user));
        assert_eq!(value_of(token, "purpose"), text("activation"));
        let expires = NOW.plus_seconds(org.cfg.activation_ttl);
        assert_eq!(value_of(token, "expires_at"), Arg::Int(expires.millis()));
        assert_eq!(*expires_at, expires.to_rfc3339());
        let outbox = one_of(batch, "INSERT outbox");
        assert_eq!(value_of(outbox, "id"), text(&mail.message.id));
        assert_eq!(value_of(outbox, "kind"), text("activation"));
        assert_eq!(value_of(outbox, "recipient"), text(EMAIL));
        assert_eq!(value_of(outbox, "status"), text("queued"));

        // The membership, its workspace role, and the event.
        let membership = one_of(batch, "INSERT org_members");
        assert_eq!(value_of(membership, "user_id"), text(created.user));
        assert_eq!(value_of(membership, "role"), text("editor"));
        let in_ws = one_of(batch, "INSERT workspace_members");
        assert_eq!(value_of(in_ws, "workspace_id"), text(ws[0].workspace));
        assert_eq!(value_of(in_ws, "user_id"), text(created.user));
        assert_eq!(value_of(in_ws, "role"), text("viewer"));
        let added = event(batch, "member.added");
        assert_eq!(value_of(added, "org_id"), text(org.id()));
        assert_eq!(value_of(added, "actor_id"), text(org.actor));
        assert_eq!(value_of(added, "target_id"), text(created.user));
        assert_eq!(
            metadata(added),
            json!({"role": "editor", "created_account": true, "credential": "activation_email"})
        );
        assert_org_scoped(batch, org.id());
    }

    #[test]
    fn a_given_single_use_password_makes_an_active_account_that_must_change_it() {
        let org = Org::new();
        let given = "Correct-Horse-Battery-42";
        let ws = [WorkspaceAssignment {
            workspace: WorkspaceId::new(),
            role: WorkspaceRole::Editor,
        }];
        let created = create(
            &org.acting(OrgRole::Admin),
            &org.cfg,
            member(Credential::SingleUsePassword(Some(given.into())), &ws, &[]),
            &unknown(),
        )
        .unwrap();
        let batch = &created.batch;
        assert_eq!(
            effects(batch),
            [
                "INSERT users",
                "INSERT org_members",
                "INSERT seat_guards",
                "INSERT workspace_members",
                "INSERT audit_events"
            ],
            "no activation token, no mail"
        );
        assert!(created.mails.is_empty());
        assert!(created.created_account);
        assert_eq!(created.single_use_password.as_deref(), Some(given));
        let user = one_of(batch, "INSERT users");
        assert_eq!(value_of(user, "status"), text("active"));
        assert_eq!(value_of(user, "must_change_password"), Arg::Int(1));
        let hash = stored_hash(batch);
        assert_eq!(password::verify(given, &hash), Verification::Match);
        assert_eq!(
            metadata(event(batch, "member.added"))["credential"],
            "single_use_password"
        );
        assert_org_scoped(batch, org.id());
    }

    #[test]
    fn a_generated_single_use_password_is_returned_once_and_stored_only_as_its_hash() {
        let org = Org::new();
        let ws = [WorkspaceAssignment {
            workspace: WorkspaceId::new(),
            role: WorkspaceRole::Viewer,
        }];
        let created = create(
            &org.acting(OrgRole::Owner),
            &org.cfg,
            member(Credential::SingleUsePassword(None), &ws, &[]),
            &unknown(),
        )
        .unwrap();
        let generated = created.single_use_password.expect("a generated password");
        assert_eq!(generated.chars().count(), 16);
        let hash = stored_hash(&created.batch);
        assert_eq!(password::verify(&generated, &hash), Verification::Match);
        assert!(
            created.batch.iter().all(|s| !binds(s, &text(&generated))),
            "the password itself is in no statement"
        );
        let user = one_of(&created.batch, "INSERT users");
        assert_eq!(value_of(user, "status"), text("active"));
        assert_eq!(value_of(user, "must_change_password"), Arg::Int(1));
    }

    #[test]
    fn an_existing_account_joins_without_a_new_account_credential_or_mail() {
        let org = Org::new();
        let ws = [WorkspaceAssignment {
            workspace: WorkspaceId::new(),
            role: WorkspaceRole::Viewer,
        }];
        for credential in [
            Credential::ActivationEmail,
            Credential::SingleUsePassword(Some("Correct-Horse-Battery-42".into())),
            Credential::SingleUsePassword(None),
        ] {
            let (account, standing) = an_account(0);
            let created = create(
                &org.acting(OrgRole::Admin),
                &org.cfg,
                member(credential.clone(), &ws, &[]),
                &standing,
            )
            .unwrap();
            assert_eq!(created.user, account, "{credential:?}");
            assert!(!created.created_account);
            assert_eq!(created.single_use_password, None, "{credential:?}");
            assert!(created.mails.is_empty(), "{credential:?}");
            assert_eq!(
                effects(&created.batch),
                [
                    "INSERT org_members",
                    "INSERT seat_guards",
                    "INSERT workspace_members",
                    "INSERT audit_events"
                ],
                "{credential:?}"
            );
            let membership = one_of(&created.batch, "INSERT org_members");
            assert_eq!(value_of(membership, "user_id"), text(account));
            assert_eq!(
                metadata(event(&created.batch, "member.added")),
                json!({"role": "editor", "created_account": false, "credential": null})
            );
            assert_org_scoped(&created.batch, org.id());
        }
    }

    #[test]
    fn a_member_already_is_refused_whatever_the_credential() {
        let org = Org::new();
        let (_, standing) = an_account(1);
        for credential in [
            Credential::ActivationEmail,
            Credential::SingleUsePassword(None),
        ] {
            let refused = create(
                &org.acting(OrgRole::Admin),
                &org.cfg,
                member(credential, &[], &[]),
                &standing,
            );
            assert!(
                matches!(
                    refused,
                    Err(ApiError::Conflict {
                        code: "already_member",
                        ..
                    })
                ),
                "{:?}",
                refused.err()
            );
        }
    }

    #[test]
    fn a_pending_invitation_to_the_email_is_closed_in_the_batch_before_the_seat_guard() {
        let org = Org::new();
        let invitation = InvitationId::new();
        let ws = [WorkspaceAssignment {
            workspace: WorkspaceId::new(),
            role: WorkspaceRole::Viewer,
        }];
        let existing = UserId::new();
        for account in [None, Some(existing)] {
            let standing = standing(json!({"account_id": account, "member": 0,
                "pending_id": invitation, "pending_expires_at": NOW.millis() + 1}));
            let created = create(
                &org.acting(OrgRole::Admin),
                &org.cfg,
                member(Credential::ActivationEmail, &ws, &[]),
                &standing,
            )
            .unwrap();
            let batch = &created.batch;
            let all = effects(batch);
            let at = |e: &str| all.iter().position(|x| x == e).expect(e);
            assert!(
                at("UPDATE invitations") < at("INSERT seat_guards"),
                "{all:?}"
            );
            let closed = one_of(batch, "UPDATE invitations");
            assert!(binds(closed, &text(invitation)));
            assert_eq!(value_of(closed, "status"), text("withdrawn"));
            // Its link stays, to say later that the invitation was withdrawn.
            assert!(all_of(batch, "DELETE invitation_links").is_empty());
            let withdrawn = event(batch, "invitation.withdrawn");
            assert_eq!(value_of(withdrawn, "target_id"), text(invitation));
            assert_eq!(
                metadata(withdrawn),
                json!({"email": EMAIL, "reason": "joined_otherwise"})
            );
            assert_eq!(created.created_account, account.is_none());
            assert_org_scoped(batch, org.id());
        }
        // No pending invitation: nothing of the kind.
        let created = create(
            &org.acting(OrgRole::Admin),
            &org.cfg,
            member(Credential::ActivationEmail, &ws, &[]),
            &unknown(),
        )
        .unwrap();
        assert!(all_of(&created.batch, "UPDATE invitations").is_empty());
    }

    #[test]
    fn groups_are_joined_after_the_membership() {
        let org = Org::new();
        let groups = [GroupId::new(), GroupId::new()];
        let (account, standing) = an_account(0);
        let ws = [WorkspaceAssignment {
            workspace: WorkspaceId::new(),
            role: WorkspaceRole::Viewer,
        }];
        let created = create(
            &org.acting(OrgRole::Admin),
            &org.cfg,
            member(Credential::ActivationEmail, &ws, &groups),
            &standing,
        )
        .unwrap();
        let all = effects(&created.batch);
        let at = |e: &str| all.iter().position(|x| x == e).expect(e);
        // The join skips restricting groups for admins by the membership's role: it must
        // already be written.
        assert!(
            at("INSERT org_members") < at("INSERT group_members"),
            "{all:?}"
        );
        let joined = one_of(&created.batch, "INSERT group_members");
        assert_eq!(value_of(joined, "user_id"), text(account));
        assert_eq!(value_of(joined, "org_id"), text(org.id()));
        let list = serde_json::to_string(&groups).unwrap();
        assert!(binds(joined, &Arg::Text(list)), "{joined:?}");
        assert_org_scoped(&created.batch, org.id());
    }

    #[test]
    fn removing_a_member_takes_them_out_of_the_org_and_all_it_holds_for_them() {
        let org = Org::new();
        let user = UserId::new();
        let batch = remove(&org.acting(OrgRole::Admin), user, OrgRole::Editor, false).unwrap();
        assert_eq!(
            effects(&batch),
            [
                "INSERT batch_guards",
                "DELETE workspace_members",
                "DELETE org_members",
                "DELETE group_members",
                "DELETE grants",
                "UPDATE sso_identities",
                "INSERT audit_events"
            ]
        );
        for stmt in &batch[..6] {
            assert!(binds(stmt, &text(user)), "{stmt:?}");
        }
        let removed = event(&batch, "member.removed");
        assert_eq!(value_of(removed, "target_id"), text(user));
        assert_eq!(
            metadata(removed),
            json!({"role": "editor", "federated": false})
        );
        assert_org_scoped(&batch, org.id());
        // A federated account also loses its sessions: its access ends now.
        let batch = remove(&org.acting(OrgRole::Admin), user, OrgRole::Editor, true).unwrap();
        let ended = batch
            .iter()
            .find(|s| effect(s) == "UPDATE sessions")
            .expect("sessions end");
        assert!(binds(ended, &text(user)));
    }

    #[test]
    fn the_owner_is_never_removed() {
        let org = Org::new();
        let refused = remove(
            &org.acting(OrgRole::Owner),
            UserId::new(),
            OrgRole::Owner,
            false,
        );
        assert!(
            matches!(
                refused,
                Err(ApiError::Conflict {
                    code: "last_owner",
                    ..
                })
            ),
            "{:?}",
            refused.err()
        );
        for role in [
            OrgRole::Admin,
            OrgRole::Editor,
            OrgRole::Viewer,
            OrgRole::Member,
        ] {
            assert!(remove(&org.acting(OrgRole::Owner), UserId::new(), role, false).is_ok());
        }
    }
}
