//! The account status state machine and the login decision built on it (SPEC §2).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountStatus {
    /// Created, not yet activated through the emailed link.
    Pending,
    Active,
    /// Too many consecutive failed logins; only a password reset reopens it.
    Locked,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Pending => "pending",
            AccountStatus::Active => "active",
            AccountStatus::Locked => "locked",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending" => AccountStatus::Pending,
            "active" => AccountStatus::Active,
            "locked" => AccountStatus::Locked,
            _ => return None,
        })
    }
}

/// What a login attempt comes to, once the password has been checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginDecision {
    /// Unknown email or wrong password: indistinguishable to the caller, counted if the account exists.
    InvalidCredentials,
    /// Locked accounts are refused even with the right password.
    Locked,
    /// Right password, account not yet activated.
    NotActive,
    /// Right password, but it was a single-use one: only a password change is allowed.
    PasswordChangeRequired,
    Success,
}

/// `password_ok` must come from a real hash verification even when the account is locked or
/// unknown, so that every branch costs the same time.
pub fn decide_login(
    status: Option<AccountStatus>,
    password_ok: bool,
    must_change_password: bool,
) -> LoginDecision {
    match status {
        None => LoginDecision::InvalidCredentials,
        Some(AccountStatus::Locked) => LoginDecision::Locked,
        Some(_) if !password_ok => LoginDecision::InvalidCredentials,
        Some(AccountStatus::Pending) => LoginDecision::NotActive,
        Some(AccountStatus::Active) if must_change_password => {
            LoginDecision::PasswordChangeRequired
        }
        Some(AccountStatus::Active) => LoginDecision::Success,
    }
}

/// Whether the failure that brought the counter to `failed_logins` is the one that locks.
/// Exactly one concurrent failure sees the threshold itself, so `user.locked` is logged once.
pub fn failure_locks(failed_logins: i64, threshold: i64) -> bool {
    failed_logins == threshold
}

#[cfg(test)]
mod tests {
    use super::*;
    use AccountStatus::{Active, Pending};
    use LoginDecision::*;

    #[test]
    fn login_decisions() {
        assert_eq!(decide_login(None, false, false), InvalidCredentials);
        assert_eq!(decide_login(None, true, false), InvalidCredentials);
        assert_eq!(
            decide_login(Some(AccountStatus::Locked), true, false),
            Locked
        );
        assert_eq!(
            decide_login(Some(AccountStatus::Locked), false, false),
            Locked
        );
        assert_eq!(
            decide_login(Some(Pending), false, false),
            InvalidCredentials
        );
        assert_eq!(decide_login(Some(Pending), true, false), NotActive);
        assert_eq!(decide_login(Some(Active), false, true), InvalidCredentials);
        assert_eq!(
            decide_login(Some(Active), true, true),
            PasswordChangeRequired
        );
        assert_eq!(decide_login(Some(Active), true, false), Success);
    }

    #[test]
    fn only_the_threshold_crossing_locks() {
        assert!(!failure_locks(4, 5));
        assert!(failure_locks(5, 5));
        assert!(!failure_locks(6, 5));
    }

    #[test]
    fn status_names_round_trip() {
        for s in [Pending, Active, AccountStatus::Locked] {
            assert_eq!(AccountStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(AccountStatus::parse("deleted"), None);
    }
}
