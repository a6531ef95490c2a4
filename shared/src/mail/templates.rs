//! The mails userhub sends, each with a plain-text part (which always carries the link in
//! full) and an HTML part. Pure functions: no I/O, so every wording is unit-tested.

use std::time::Duration;

/// A rendered mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The link the mail carries, if any; logged at debug level so that a developer can
    /// click through locally.
    pub link: Option<String>,
}

/// "30 minutes", "2 days": how long a link works, in the largest whole unit.
fn describe(ttl: Duration) -> String {
    let secs = ttl.as_secs();
    let (n, unit) = match secs {
        s if s >= 86_400 && s % 86_400 == 0 => (s / 86_400, "day"),
        s if s >= 3_600 && s % 3_600 == 0 => (s / 3_600, "hour"),
        s => (s.div_ceil(60), "minute"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// One mail from its paragraphs and an optional call to action (label, link), which comes
/// after the first paragraph.
fn compose(subject: &str, paragraphs: &[String], action: Option<(&str, &str)>) -> Message {
    let mut text = Vec::new();
    let mut html = Vec::new();
    for (i, p) in paragraphs.iter().enumerate() {
        text.push(p.clone());
        html.push(format!("<p>{}</p>", escape(p)));
        if let (0, Some((label, link))) = (i, action) {
            text.push(format!("{label}:\n{link}"));
            let href = escape(link);
            html.push(format!(
                "<p><a href=\"{href}\">{}</a></p>\n<p>If the button does not work, copy this \
                 address into your browser:<br>{href}</p>",
                escape(label)
            ));
        }
    }
    Message {
        subject: subject.to_owned(),
        text: text.join("\n\n") + "\n",
        html: format!(
            "<!DOCTYPE html>\n<html><body>\n{}\n</body></html>\n",
            html.join("\n")
        ),
        link: action.map(|(_, link)| link.to_owned()),
    }
}

const IGNORE: &str = "If you did not ask for this, you can ignore this email.";

pub fn verification(link: &str, ttl: Duration) -> Message {
    compose(
        "Verify your email address",
        &[
            "Please confirm that this is your email address for your userhub account.".into(),
            format!("The link works once, for {}.", describe(ttl)),
            IGNORE.into(),
        ],
        Some(("Verify your email address", link)),
    )
}

pub fn password_reset(link: &str, ttl: Duration) -> Message {
    compose(
        "Reset your password",
        &[
            "Someone asked to reset the password of your userhub account.".into(),
            format!(
                "The link works once, for {}. Resetting signs you out everywhere.",
                describe(ttl)
            ),
            format!("{IGNORE} Your password stays as it is."),
        ],
        Some(("Choose a new password", link)),
    )
}

pub fn invitation(link: &str, ttl: Duration) -> Message {
    compose(
        "You are invited to userhub",
        &[
            "An administrator created a userhub account for you. Choose a password to start \
             using it."
                .into(),
            format!("The link works once, for {}.", describe(ttl)),
        ],
        Some(("Choose your password", link)),
    )
}

/// Sent to the old address after an email change, so that a takeover does not go unnoticed.
pub fn email_changed() -> Message {
    compose(
        "Your email address was changed",
        &[
            "The email address of your userhub account was just changed, and mail now goes to \
             the new address."
                .into(),
            "If you did not make this change, contact your administrator right away.".into(),
        ],
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINK: &str = "https://app.example.com/reset-password?token=abc_DEF-123";

    #[test]
    fn every_mail_with_a_link_carries_it_in_both_parts() {
        let ttl = Duration::from_secs(1800);
        for m in [
            verification(LINK, ttl),
            password_reset(LINK, ttl),
            invitation(LINK, ttl),
        ] {
            assert!(m.text.contains(LINK), "{}", m.text);
            assert!(m.html.contains(&format!("href=\"{LINK}\"")), "{}", m.html);
            assert_eq!(m.link.as_deref(), Some(LINK));
            assert!(!m.subject.is_empty());
        }
        let notice = email_changed();
        assert!(notice.link.is_none() && !notice.text.contains("http"));
    }

    #[test]
    fn html_is_escaped() {
        let m = verification("https://x.example/?a=<b>&c=\"d\"", Duration::from_secs(60));
        assert!(
            m.html.contains("a=&lt;b&gt;&amp;c=&quot;d&quot;"),
            "{}",
            m.html
        );
        assert!(!m.html.contains("<b>"));
    }

    #[test]
    fn lifetimes_read_naturally() {
        assert_eq!(describe(Duration::from_secs(1800)), "30 minutes");
        assert_eq!(describe(Duration::from_secs(3600)), "1 hour");
        assert_eq!(describe(Duration::from_secs(2 * 86_400)), "2 days");
        assert_eq!(describe(Duration::from_secs(90)), "2 minutes");
        assert!(password_reset(LINK, Duration::from_secs(1800))
            .text
            .contains("30 minutes"));
        assert!(invitation(LINK, Duration::from_secs(7 * 86_400))
            .text
            .contains("7 days"));
    }
}
