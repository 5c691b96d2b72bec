//! The invitation state machine: which status an invitation is in at a given time, what
//! may happen to it next, and who may manage it.

use serde::{Deserialize, Serialize};

use super::permissions::{org_allows, OrgAction};
use super::roles::OrgRole;
use super::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Declined,
    Withdrawn,
    Expired,
}

impl InvitationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            InvitationStatus::Pending => "pending",
            InvitationStatus::Accepted => "accepted",
            InvitationStatus::Declined => "declined",
            InvitationStatus::Withdrawn => "withdrawn",
            InvitationStatus::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => InvitationStatus::Pending,
            "accepted" => InvitationStatus::Accepted,
            "declined" => InvitationStatus::Declined,
            "withdrawn" => InvitationStatus::Withdrawn,
            "expired" => InvitationStatus::Expired,
            _ => return None,
        })
    }

    /// The status as of `now`: a pending invitation past its expiry is expired at once,
    /// everywhere, whether or not the cron has recorded it yet.
    pub fn effective(stored: Self, expires_at: Timestamp, now: Timestamp) -> Self {
        if stored == InvitationStatus::Pending && expires_at <= now {
            InvitationStatus::Expired
        } else {
            stored
        }
    }

    /// A resend (new link, new expiry) applies to a live or an expired invitation, never
    /// to one that was answered or withdrawn.
    pub fn may_resend(self) -> bool {
        matches!(self, InvitationStatus::Pending | InvitationStatus::Expired)
    }

    /// Withdrawing ends a pending invitation or tidies away an expired one.
    pub fn may_withdraw(self) -> bool {
        self.may_resend()
    }
}

/// What an invitation's link says when presented, given the invitation's effective status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    Usable,
    /// Answers `410 token_expired`.
    Expired,
    /// Used, declined or withdrawn: `400 invalid_token`, like an unknown link.
    Dead,
}

pub fn link_state(effective: InvitationStatus) -> LinkState {
    match effective {
        InvitationStatus::Pending => LinkState::Usable,
        InvitationStatus::Expired => LinkState::Expired,
        _ => LinkState::Dead,
    }
}

/// The `?status=` filter of the org's invitation list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFilter {
    Only(InvitationStatus),
    All,
}

impl StatusFilter {
    /// Absent or empty means the pending list.
    pub fn parse(s: Option<&str>) -> Option<Self> {
        match s {
            None | Some("") => Some(StatusFilter::Only(InvitationStatus::Pending)),
            Some("all") => Some(StatusFilter::All),
            Some(s) => InvitationStatus::parse(s).map(StatusFilter::Only),
        }
    }
}

/// Resend and withdraw: admins and owners manage every invitation, editors only the ones
/// they sent (SPEC §3 "own invitations").
pub fn may_manage(role: OrgRole, sent_by_caller: bool) -> bool {
    org_allows(role, OrgAction::ManageAllInvitations)
        || (sent_by_caller && org_allows(role, OrgAction::InviteUsers))
}

#[cfg(test)]
mod tests {
    use super::InvitationStatus::*;
    use super::*;

    const H: i64 = 3_600_000;

    #[test]
    fn statuses_round_trip() {
        for s in [Pending, Accepted, Declined, Withdrawn, Expired] {
            assert_eq!(InvitationStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(InvitationStatus::parse("Pending"), None);
    }

    #[test]
    fn a_pending_invitation_past_expiry_is_expired() {
        let exp = Timestamp(10 * H);
        assert_eq!(
            InvitationStatus::effective(Pending, exp, Timestamp(9 * H)),
            Pending
        );
        assert_eq!(InvitationStatus::effective(Pending, exp, exp), Expired);
        assert_eq!(
            InvitationStatus::effective(Accepted, exp, Timestamp(11 * H)),
            Accepted
        );
        assert_eq!(
            InvitationStatus::effective(Withdrawn, exp, Timestamp(11 * H)),
            Withdrawn
        );
    }

    #[test]
    fn links_are_usable_only_while_pending() {
        assert_eq!(link_state(Pending), LinkState::Usable);
        assert_eq!(link_state(Expired), LinkState::Expired);
        for s in [Accepted, Declined, Withdrawn] {
            assert_eq!(link_state(s), LinkState::Dead);
        }
    }

    #[test]
    fn only_live_or_expired_invitations_are_resent_or_withdrawn() {
        assert!(Pending.may_resend() && Expired.may_resend());
        assert!(Pending.may_withdraw() && Expired.may_withdraw());
        for s in [Accepted, Declined, Withdrawn] {
            assert!(!s.may_resend() && !s.may_withdraw());
        }
    }

    #[test]
    fn status_filter_defaults_to_pending() {
        assert_eq!(StatusFilter::parse(None), Some(StatusFilter::Only(Pending)));
        assert_eq!(
            StatusFilter::parse(Some("")),
            Some(StatusFilter::Only(Pending))
        );
        assert_eq!(StatusFilter::parse(Some("all")), Some(StatusFilter::All));
        assert_eq!(
            StatusFilter::parse(Some("declined")),
            Some(StatusFilter::Only(Declined))
        );
        assert_eq!(StatusFilter::parse(Some("open")), None);
    }

    #[test]
    fn editors_manage_only_their_own_invitations() {
        for role in [OrgRole::Owner, OrgRole::Admin] {
            assert!(may_manage(role, true) && may_manage(role, false));
        }
        assert!(may_manage(OrgRole::Editor, true));
        assert!(!may_manage(OrgRole::Editor, false));
        for role in [OrgRole::Viewer, OrgRole::Member] {
            assert!(!may_manage(role, true) && !may_manage(role, false));
        }
    }
}
