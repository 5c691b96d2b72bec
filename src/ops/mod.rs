//! Operations: what the service does, apart from how it was asked. Each takes what it needs
//! (an org's store and who acts in it, the input, the time, the config) and returns its
//! statements (for the caller's one batch, so round-trip planning survives), the mail it
//! sends and what it made. HTTP handlers call them; SSO just-in-time provisioning and SCIM
//! call the same functions. Nothing here knows of HTTP.

pub mod invitations;
pub mod members;
pub mod newcomer;
pub mod scim;
pub mod sessions;
pub mod sso;
#[cfg(test)]
mod testing;

use crate::domain::roles::OrgRole;
use crate::domain::time::Timestamp;
use crate::error::ApiResult;
use crate::store::audit::{Actor, Event, Origin};
use crate::store::{OrgStore, Stmt};

/// Who an operation acts for in one org, and the circumstances of the request: what every
/// operation needs besides its input. A handler builds one from its admission
/// (`api::acting`); SSO and SCIM build theirs from their own credentials.
pub struct Acting<'a> {
    /// The org's store, opened by the admission.
    pub org: &'a OrgStore,
    /// The org role the actor acts with (a token's as it acts).
    pub role: OrgRole,
    /// Who acts, for the audit trail.
    pub actor: Actor,
    /// Where the request came from, for the audit trail.
    pub origin: &'a Origin,
    pub now: Timestamp,
    /// How the actor got in, where its kind does not say (`sso`, `scim`); an API token's
    /// events say `api_token` anyway.
    pub method: Option<&'static str>,
}

impl Acting<'_> {
    /// An event in the org's audit trail, by the actor, about `target`.
    pub fn event(&self, action: &'static str, target: (&'static str, String)) -> Event {
        let event = Event::by(self.org.org(), self.actor.clone(), action, target);
        match self.method {
            Some(method) => event.method(method),
            None => event,
        }
    }

    /// The statement that records `event`, for the operation's batch.
    pub fn audit(&self, event: &Event) -> ApiResult<Stmt> {
        crate::store::audit::insert(self.org.global(), event, self.origin, self.now)
    }
}
