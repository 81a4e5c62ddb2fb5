//! What each message says. Every message names the tenant it comes from, carries
//! its one link, and says when the link expires, in a plain-text and an HTML body.

use crate::domain::Timestamp;

/// A message ready to send: its recipient, subject and two bodies.
#[derive(Clone)]
pub struct Letter {
    /// The recipient's address.
    pub to: String,
    /// The recipient's name, shown beside the address.
    pub to_name: Option<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// A letter's bodies hold a link with a secret in it: never shown in logs.
impl std::fmt::Debug for Letter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Letter")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// Who a link letter goes to, from which tenant, and its link.
pub struct LinkLetter<'a> {
    pub to: &'a str,
    /// The recipient's name; empty when the user has none.
    pub name: &'a str,
    pub tenant_name: &'a str,
    pub url: &'a str,
    pub expires_at: Timestamp,
    /// How long the link lives, in seconds (said in words beside the expiry time).
    pub lifetime_seconds: i64,
}

/// The message that carries a password-reset link.
pub fn password_reset(letter: &LinkLetter<'_>) -> Letter {
    let tenant = letter.tenant_name;
    let intro = format!(
        "Someone, probably you, asked to reset the password of your account {} in {tenant}.",
        letter.to
    );
    let closing = "If you did not ask for this, ignore this message: your password stays as it is.";
    compose(
        letter,
        format!("Reset your password for {tenant}"),
        &intro,
        "To choose a new password, open this link:",
        "Choose a new password",
        closing,
    )
}

/// The message that carries an invitation link.
pub fn invitation(letter: &LinkLetter<'_>) -> Letter {
    let tenant = letter.tenant_name;
    let intro = format!(
        "You are invited to {tenant}, with the account {}.",
        letter.to
    );
    let closing = "If you did not expect this invitation, ignore this message.";
    compose(
        letter,
        format!("Your invitation to {tenant}"),
        &intro,
        "To choose your password and activate the account, open this link:",
        "Accept the invitation",
        closing,
    )
}

fn compose(
    letter: &LinkLetter<'_>,
    subject: String,
    intro: &str,
    instruction: &str,
    button: &str,
    closing: &str,
) -> Letter {
    let greeting = if letter.name.trim().is_empty() {
        "Hello,".to_owned()
    } else {
        format!("Hello {},", letter.name.trim())
    };
    let expiry = format!(
        "The link works once and expires {} ({}).",
        lifetime(letter.lifetime_seconds),
        expiry_time(letter.expires_at)
    );
    let signature = format!("Roster, for {}", letter.tenant_name);
    let text = format!(
        "{greeting}\n\n{intro}\n{instruction}\n\n{url}\n\n{expiry}\n{closing}\n\n-- \n{signature}\n",
        url = letter.url,
    );
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head><meta charset=\"utf-8\"><title>{title}</title></head>\n\
         <body style=\"font-family: sans-serif; line-height: 1.5; color: #1a1a1a\">\n\
         <p>{greeting}</p>\n<p>{intro}<br>{instruction}</p>\n\
         <p><a href=\"{url}\" style=\"display: inline-block; padding: 0.5em 1em; background: #1d4ed8; \
         color: #ffffff; text-decoration: none; border-radius: 4px\">{button}</a></p>\n\
         <p>Or copy this address into your browser:<br><a href=\"{url}\">{url}</a></p>\n\
         <p>{expiry}<br>{closing}</p>\n<p style=\"color: #555555\">{signature}</p>\n</body>\n</html>\n",
        title = escape(&subject),
        greeting = escape(&greeting),
        intro = escape(intro),
        instruction = escape(instruction),
        url = escape(letter.url),
        button = escape(button),
        expiry = escape(&expiry),
        closing = escape(closing),
        signature = escape(&signature),
    );
    Letter {
        to: letter.to.to_owned(),
        to_name: Some(letter.name.trim().to_owned()).filter(|name| !name.is_empty()),
        subject,
        text,
        html,
    }
}

/// `2026-12-02 15:04 UTC`.
fn expiry_time(at: Timestamp) -> String {
    at.as_datetime().format("%Y-%m-%d %H:%M UTC").to_string()
}

/// `in 1 hour`, `in 7 days`, `in 30 minutes`.
fn lifetime(seconds: i64) -> String {
    let (count, unit) = match seconds {
        s if s >= 86_400 && s % 86_400 == 0 => (s / 86_400, "day"),
        s if s >= 3_600 && s % 3_600 == 0 => (s / 3_600, "hour"),
        s => ((s / 60).max(1), "minute"),
    };
    let plural = if count == 1 { "" } else { "s" };
    format!("in {count} {unit}{plural}")
}

/// Text as HTML: the five characters that mean something in it escaped.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            c => escaped.push(c),
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter<'a>(tenant_name: &'a str, url: &'a str) -> LinkLetter<'a> {
        LinkLetter {
            to: "ada@example.com",
            name: "Ada Lovelace",
            tenant_name,
            url,
            expires_at: Timestamp::parse_rfc3339("2026-12-02T15:04:05.000Z").unwrap(),
            lifetime_seconds: 3600,
        }
    }

    #[test]
    fn a_reset_letter_names_the_tenant_the_link_and_its_expiry_in_both_bodies() {
        let url = "https://roster.example/ui/t/x/reset-password?token=rp_abc";
        let sent = password_reset(&letter("Acme", url));
        assert_eq!(sent.subject, "Reset your password for Acme");
        for body in [&sent.text, &sent.html] {
            assert!(body.contains("Acme"), "{body}");
            assert!(body.contains(url), "{body}");
            assert!(body.contains("in 1 hour (2026-12-02 15:04 UTC)"), "{body}");
            assert!(body.contains("Hello Ada Lovelace,"), "{body}");
        }
    }

    #[test]
    fn the_html_body_escapes_what_the_tenant_and_the_user_wrote() {
        let sent = invitation(&LinkLetter {
            name: "<b>Eve</b>",
            ..letter("A & B <script>", "https://x.example/?a=1&token=ri_x")
        });
        assert!(sent.html.contains("A &amp; B &lt;script&gt;"));
        assert!(sent.html.contains("&lt;b&gt;Eve&lt;/b&gt;"));
        assert!(
            sent.html
                .contains("href=\"https://x.example/?a=1&amp;token=ri_x\"")
        );
        assert!(!sent.html.contains("<script>"));
        assert!(sent.text.contains("A & B <script>"));
    }

    #[test]
    fn lifetimes_are_said_in_words() {
        assert_eq!(lifetime(3600), "in 1 hour");
        assert_eq!(lifetime(7 * 86_400), "in 7 days");
        assert_eq!(lifetime(1800), "in 30 minutes");
        assert_eq!(lifetime(5), "in 1 minute");
    }

    #[test]
    fn a_letter_debug_hides_its_link() {
        let sent = password_reset(&letter("Acme", "https://x.example/?token=rp_secret"));
        assert!(!format!("{sent:?}").contains("rp_secret"));
    }
}
