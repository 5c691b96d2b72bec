//! Rendering: a text and an HTML body per message. Every interpolated value is escaped in
//! the HTML body, whoever provided it.

use super::MailContent;

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

fn assemble(subject: String, greeting_name: &str, parts: Vec<Part<'_>>) -> Rendered {
    let mut text = format!("Hello {greeting_name},\n\n");
    let mut html = format!(
        "<!doctype html><html><body style=\"font-family:sans-serif;line-height:1.5\"><p>Hello {},</p>",
        escape_html(greeting_name)
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
            first_name,
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
            first_name,
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
            first_name,
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
            first_name,
            vec![Part::Text(format!(
                "A change of your sign-in email address to {new_email} was requested. If this was not you, change your password now."
            ))],
        ),
        MailContent::PasswordChanged { first_name } => assemble(
            "Your password was changed".into(),
            first_name,
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
            first_name,
            vec![
                Part::Text(
                    "Your account was locked after too many failed sign-in attempts. Reset your password to unlock it."
                        .into(),
                ),
                Part::Link("Reset your password", reset_link),
            ],
        ),
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

    #[test]
    fn messages_round_trip_through_the_queue_format() {
        let m = super::super::MailMessage {
            id: "id-1".into(),
            to: "a@b.co".into(),
            content: MailContent::PasswordChanged {
                first_name: "Ada".into(),
            },
        };
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["kind"], "password_changed");
        assert_eq!(json["data"]["first_name"], "Ada");
        let back: super::super::MailMessage = serde_json::from_value(json).unwrap();
        assert_eq!(back, m);
    }
}
