//! Rendering: a text and an HTML body per message. Every interpolated value is escaped in
//! the HTML body, whoever provided it.

use super::{InvitationMail, MailContent};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// One piece of an email: plain text, or a link with its label.
enum Part<'a> {
    Text(String),
    Link(&'a str, &'a str),
}

/// `greeting_name` is None when the recipient has no account yet (an invitee).
fn assemble(subject: String, greeting_name: Option<&str>, parts: Vec<Part<'_>>) -> Rendered {
    let greeting = match greeting_name {
        Some(name) => format!("Hello {name},"),
        None => "Hello,".to_string(),
    };
    let mut text = format!("{greeting}\n\n");
    let mut html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif;line-height:1.5\"><p>{}</p>",
        escape_html(&greeting)
    );
    for part in parts {
        match part {
            Part::Text(t) => {
                text.push_str(&t);
                text.push_str("\n\n");
                html.push_str(&format!("<p>{}</p>", escape_html(&t)));
            }
            Part::Link(label, url) => {
                text.push_str(&format!("{label}: {url}\n\n"));
                html.push_str(&format!(
                    "<p><a href=\"{}\">{}</a></p>",
                    escape_html(url),
                    escape_html(label)
                ));
            }
        }
    }
    text.push_str("If you did not expect this email, you can ignore it.\n");
    html.push_str("<p style=\"color:#666\">If you did not expect this email, you can ignore it.</p></body></html>");
    Rendered {
        subject,
        text,
        html,
    }
}

pub fn render(content: &MailContent) -> Rendered {
    match content {
        MailContent::Activation {
            first_name,
            link,
            expires_at,
        } => assemble(
            "Activate your account".into(),
            Some(first_name),
            vec![
                Part::Text("Your account has been created. Activate it to sign in.".into()),
                Part::Link("Activate your account", link),
                Part::Text(format!("This link expires at {expires_at} and works once.")),
            ],
        ),
        MailContent::PasswordReset {
            first_name,
            link,
            expires_at,
        } => assemble(
            "Reset your password".into(),
            Some(first_name),
            vec![
                Part::Text("Someone asked to reset the password of your account.".into()),
                Part::Link("Choose a new password", link),
                Part::Text(format!(
                    "This link expires at {expires_at} and works once. Resetting signs you out everywhere."
                )),
            ],
        ),
        MailContent::EmailVerification {
            first_name,
            new_email,
            link,
            expires_at,
        } => assemble(
            "Confirm your new email address".into(),
            Some(first_name),
            vec![
                Part::Text(format!(
                    "Confirm {new_email} as the email address you sign in with. Until you do, you keep signing in with your current address."
                )),
                Part::Link("Confirm this address", link),
                Part::Text(format!("This link expires at {expires_at} and works once.")),
            ],
        ),
        MailContent::EmailChangeRequested {
            first_name,
            new_email,
        } => assemble(
            "Your email address is being changed".into(),
            Some(first_name),
            vec![Part::Text(format!(
                "A change of your sign-in email address to {new_email} was requested. If this was not you, change your password now."
            ))],
        ),
        MailContent::PasswordChanged { first_name } => assemble(
            "Your password was changed".into(),
            Some(first_name),
            vec![Part::Text(
                "The password of your account was changed and your other sessions were signed out. If this was not you, reset your password now."
                    .into(),
            )],
        ),
        MailContent::AccountLocked {
            first_name,
            reset_link,
        } => assemble(
            "Your account was locked".into(),
            Some(first_name),
            vec![
                Part::Text(
                    "Your account was locked after too many failed sign-in attempts. Reset your password to unlock it."
                        .into(),
                ),
                Part::Link("Reset your password", reset_link),
            ],
        ),
        MailContent::Invitation(inv) => {
            let mut parts = vec![Part::Text(format!(
                "{} invited you to join {} {}.",
                inv.inviter,
                inv.org_name,
                grants(inv)
            ))];
            if let Some(message) = &inv.message {
                parts.push(Part::Text(format!("{} wrote:\n{message}", inv.inviter)));
            }
            parts.push(Part::Link("Accept the invitation", &inv.link));
            parts.push(Part::Text(format!(
                "This invitation expires at {}.",
                inv.expires_at
            )));
            assemble(
                format!("{} invited you to join {}", inv.inviter, inv.org_name),
                None,
                parts,
            )
        }
        MailContent::InvitationReminder(inv) => assemble(
            format!(
                "Reminder: your invitation to join {} expires soon",
                inv.org_name
            ),
            None,
            vec![
                Part::Text(format!(
                    "{} invited you to join {} {}. The invitation expires at {}.",
                    inv.inviter,
                    inv.org_name,
                    grants(inv),
                    inv.expires_at
                )),
                Part::Link("Accept the invitation", &inv.link),
            ],
        ),
        MailContent::InvitationAccepted {
            first_name,
            invitee,
            org_name,
        } => assemble(
            format!("{invitee} accepted your invitation to {org_name}"),
            Some(first_name),
            vec![Part::Text(format!(
                "{invitee} accepted your invitation and is now a member of {org_name}."
            ))],
        ),
    }
}

/// "as editor", "as viewer, with access to Main (editor) and Lab (viewer)", or for a
/// workspace-only member "with access to Main (editor)".
fn grants(inv: &InvitationMail) -> String {
    let workspaces: Vec<String> = inv
        .workspaces
        .iter()
        .map(|w| format!("{} ({})", w.name, w.role))
        .collect();
    let list = match workspaces.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    };
    match (inv.role.as_str(), list.is_empty()) {
        ("member", false) => format!("with access to {list}"),
        (role, true) => format!("as {role}"),
        (role, false) => format!("as {role}, with access to {list}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_text_is_escaped_in_html_and_kept_in_text() {
        let r = render(&MailContent::EmailChangeRequested {
            first_name: "<script>alert(1)</script>".into(),
            new_email: "a&b@example.com".into(),
        });
        assert!(!r.html.contains("<script>"));
        assert!(r.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(r.html.contains("a&amp;b@example.com"));
        assert!(r.text.contains("Hello <script>alert(1)</script>,"));
    }

    #[test]
    fn links_appear_in_both_bodies() {
        let link = "https://app.example/activate?token=abc&x=\"y\"";
        let r = render(&MailContent::Activation {
            first_name: "Ada".into(),
            link: link.into(),
            expires_at: "2030-01-01T00:00:00.000Z".into(),
        });
        assert_eq!(r.subject, "Activate your account");
        assert!(r.text.contains(link));
        assert!(r
            .html
            .contains("href=\"https://app.example/activate?token=abc&amp;x=&quot;y&quot;\""));
        assert!(r.text.contains("2030-01-01T00:00:00.000Z"));
    }

    fn invitation(
        message: Option<&str>,
        role: &str,
        workspaces: &[(&str, &str)],
    ) -> InvitationMail {
        InvitationMail {
            inviter: "Ada Lovelace".into(),
            org_name: "Engines & Co".into(),
            role: role.into(),
            workspaces: workspaces
                .iter()
                .map(|(n, r)| super::super::MailWorkspace {
                    name: (*n).into(),
                    role: (*r).into(),
                })
                .collect(),
            message: message.map(Into::into),
            link: "https://app.example/invitations/accept?token=abc".into(),
            expires_at: "2030-01-01T00:00:00.000Z".into(),
        }
    }

    #[test]
    fn an_invitation_names_inviter_org_roles_message_expiry_and_link() {
        let r = render(&MailContent::Invitation(invitation(
            Some("<script>alert(1)</script>\nSee you!"),
            "editor",
            &[("Main", "admin"), ("Lab", "viewer"), ("Ops", "editor")],
        )));
        assert_eq!(r.subject, "Ada Lovelace invited you to join Engines & Co");
        assert!(r.text.starts_with("Hello,\n"));
        assert!(r.text.contains(
            "Ada Lovelace invited you to join Engines & Co as editor, with access to Main (admin), Lab (viewer) and Ops (editor)."
        ));
        assert!(r.text.contains("<script>alert(1)</script>\nSee you!"));
        assert!(r
            .text
            .contains("https://app.example/invitations/accept?token=abc"));
        assert!(r.text.contains("2030-01-01T00:00:00.000Z"));
        assert!(!r.html.contains("<script>"));
        assert!(r.html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(r.html.contains("Engines &amp; Co"));
    }

    #[test]
    fn invitation_grants_read_naturally() {
        let text = |role, ws: &[(&str, &str)]| {
            render(&MailContent::Invitation(invitation(None, role, ws))).text
        };
        assert!(text("viewer", &[]).contains("join Engines & Co as viewer."));
        assert!(text("member", &[("Main", "editor")]).contains("with access to Main (editor)."));
        assert!(!text("member", &[("Main", "editor")]).contains("wrote"));
        let reminder = render(&MailContent::InvitationReminder(invitation(
            None,
            "admin",
            &[],
        )));
        assert_eq!(
            reminder.subject,
            "Reminder: your invitation to join Engines & Co expires soon"
        );
        assert!(reminder
            .text
            .contains("https://app.example/invitations/accept?token=abc"));
    }

    #[test]
    fn messages_round_trip_through_the_queue_format() {
        use super::super::MailMessage;
        let s = |v: &str| v.to_string();
        let every_kind = [
            MailContent::Activation {
                first_name: s("Ada"),
                link: s("https://app.example/activate?token=a"),
                expires_at: s("2030-01-01T00:00:00.000Z"),
            },
            MailContent::PasswordReset {
                first_name: s("Ada"),
                link: s("https://app.example/reset-password?token=b"),
                expires_at: s("2030-01-01T00:00:00.000Z"),
            },
            MailContent::EmailVerification {
                first_name: s("Ada"),
                new_email: s("new@b.co"),
                link: s("https://app.example/verify-email?token=c"),
                expires_at: s("2030-01-01T00:00:00.000Z"),
            },
            MailContent::EmailChangeRequested {
                first_name: s("Ada"),
                new_email: s("new@b.co"),
            },
            MailContent::PasswordChanged {
                first_name: s("Ada \"the\" Countess ☃"),
            },
            MailContent::AccountLocked {
                first_name: s("Ada"),
                reset_link: s("https://app.example/reset-password?token=d"),
            },
            MailContent::Invitation(invitation(Some("hi"), "viewer", &[("Main", "viewer")])),
            MailContent::InvitationReminder(invitation(
                None,
                "member",
                &[("Main", "editor"), ("Lab", "viewer")],
            )),
            MailContent::InvitationAccepted {
                first_name: s("Ada"),
                invitee: s("grace@b.co"),
                org_name: s("Engines & Co"),
            },
        ];
        for content in every_kind {
            let m = MailMessage {
                id: s("id-1"),
                to: s("a@b.co"),
                content,
            };
            let body = m.to_queue_body();
            // Externally tagged by the kind the outbox records.
            let json: serde_json::Value = serde_json::from_str(&body).unwrap();
            let tags: Vec<&String> = json["content"].as_object().unwrap().keys().collect();
            assert_eq!(tags, [m.content.kind()], "{body}");
            assert_eq!(
                MailMessage::from_queue_body(&body).as_ref(),
                Ok(&m),
                "{body}"
            );
        }
    }

    #[test]
    fn malformed_queue_bodies_are_errors_not_panics() {
        use super::super::MailMessage;
        let ok = r#"{"id":"i","to":"a@b.co","content":{"password_changed":{"first_name":"Ada"}}}"#;
        assert!(MailMessage::from_queue_body(ok).is_ok());
        // Unknown fields are ignored, as serde would.
        let extra = r#"{"id":"i","to":"a@b.co","v":2,"content":{"password_changed":{"first_name":"Ada","x":1}}}"#;
        assert!(MailMessage::from_queue_body(extra).is_ok());
        for (bad, says) in [
            ("", "EOF"),
            ("not json", "expected"),
            ("[1,2]", "invalid type"),
            (
                r#"{"to":"a@b.co","content":{"password_changed":{"first_name":"Ada"}}}"#,
                "missing field `id`",
            ),
            (
                r#"{"id":"i","to":5,"content":{"password_changed":{"first_name":"Ada"}}}"#,
                "to: invalid type",
            ),
            (r#"{"id":"i","to":"a@b.co"}"#, "missing field `content`"),
            (
                r#"{"id":"i","to":"a@b.co","content":{}}"#,
                "content: expected value",
            ),
            (
                r#"{"id":"i","to":"a@b.co","content":{"password_changed":{"first_name":"A"},"account_locked":{}}}"#,
                "content: expected value",
            ),
            (
                r#"{"id":"i","to":"a@b.co","content":{"carrier_pigeon":{}}}"#,
                "content: unknown variant `carrier_pigeon`",
            ),
            (
                r#"{"id":"i","to":"a@b.co","content":{"activation":{"first_name":"Ada"}}}"#,
                "content.activation: missing field `link`",
            ),
            (
                r#"{"id":"i","to":"a@b.co","content":{"activation":"Ada"}}"#,
                "content.activation: invalid type",
            ),
            (
                r#"{"id":"i","to":"a@b.co","content":{"invitation":{"inviter":"A","org_name":"O","role":"viewer","workspaces":[{"name":"W"}],"message":null,"link":"l","expires_at":"e"}}}"#,
                "content.invitation.workspaces[0]: missing field `role`",
            ),
            (
                r#"{"id":"i","to":"a@b.co","content":{"invitation":{"inviter":"A","org_name":"O","role":"viewer","workspaces":[],"message":7,"link":"l","expires_at":"e"}}}"#,
                "content.invitation.message: invalid type",
            ),
        ] {
            match MailMessage::from_queue_body(bad) {
                Err(e) => assert!(e.contains(says), "{bad}: {e}"),
                Ok(m) => panic!("{bad}: {m:?}"),
            }
        }
    }
}
