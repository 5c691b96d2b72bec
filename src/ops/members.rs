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
}

impl Credential {
    pub fn as_str(&self) -> &'static str {
        match self {
            Credential::ActivationEmail => "activation_email",
            Credential::SingleUsePassword(_) => "single_use_password",
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
                Credential::ActivationEmail => None,
            };
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
                    status: if password.is_some() {
                        AccountStatus::Active
                    } else {
                        AccountStatus::Pending
                    },
                    email_verified: false,
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
pub fn remove(acting: &Acting, user: UserId, role: OrgRole) -> ApiResult<Vec<Stmt>> {
    if role == OrgRole::Owner {
        return Err(ApiError::conflict(
            "last_owner",
            "The owner cannot be removed; transfer ownership first.",
        ));
    }
    let mut batch = store::members::remove(acting.org, user)?;
    batch.push(
        acting.audit(
            &acting
                .event("member.removed", ("user", user.to_string()))
                .meta(crate::object!({ "role": role })),
        )?,
    );
    Ok(batch)
}
