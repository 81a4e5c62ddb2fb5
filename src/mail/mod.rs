//! Mail delivery: infrastructure, like the store. The service is its only caller; it
//! decides what is sent and to whom, and [`letters`] words each message.
//!
//! Messages go out over SMTP (lettre's async transport on tokio, rustls for TLS),
//! with a plain-text and an HTML body as `multipart/alternative`. A send opens or
//! reuses a pooled connection and waits for the server's answer; a failure is logged
//! here (the server's reply, never the message, so never a link or a token) and
//! answered as a [`MailError`].

pub mod letters;

use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

pub use letters::Letter;

/// The sender address used when none is configured.
pub const DEFAULT_FROM: &str = "Roster <roster@localhost>";

/// How long one SMTP exchange (connecting, each command) may take before the send
/// fails: short enough that an administrator's request is answered within the
/// server's request timeout.
const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a message was not sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The recipient's address is not one SMTP can carry.
    #[error("the recipient address is not valid: {0}")]
    Recipient(String),
    /// The message could not be put together.
    #[error("the message could not be built: {0}")]
    Build(#[from] lettre::error::Error),
    /// The SMTP server could not be reached, or refused the message.
    #[error("the mail server did not take the message: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
}

/// An SMTP server's URL (lettre's form); `Debug` and `Display` hide its password.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct SmtpUrl(String);

impl SmtpUrl {
    pub fn new(url: impl Into<String>) -> Self {
        Self(url.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with any password replaced by `***` (and, when it cannot be read as
    /// a URL at all, nothing of it but that).
    pub fn redacted(&self) -> String {
        match url::Url::parse(&self.0) {
            Ok(mut url) => {
                if url.password().is_some() {
                    // Only a URL that cannot have a password refuses one.
                    let _ = url.set_password(Some("***"));
                }
                url.to_string()
            }
            Err(_) => "(an SMTP URL that cannot be read)".to_owned(),
        }
    }
}

impl std::str::FromStr for SmtpUrl {
    type Err = std::convert::Infallible;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        Ok(Self::new(url))
    }
}

impl std::fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SmtpUrl({})", self.redacted())
    }
}

impl std::fmt::Display for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Parses a sender address (`Roster <roster@example.com>` or a bare address).
pub fn parse_sender(from: &str) -> anyhow::Result<Mailbox> {
    from.parse::<Mailbox>()
        .map_err(|error| anyhow::anyhow!("not a mail address ({error}): {from:?}"))
}

/// The base URL every link in mail starts with (`https://roster.example.com`, or a
/// path below it): http or https, no query or fragment, no trailing slash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicUrl(String);

impl PublicUrl {
    pub fn parse(url: &str) -> anyhow::Result<Self> {
        let parsed = url::Url::parse(url.trim())
            .map_err(|error| anyhow::anyhow!("not a URL ({error}): {url:?}"))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            anyhow::bail!("not an http:// or https:// URL with a host: {url:?}");
        }
        if parsed.query().is_some() || parsed.fragment().is_some() {
            anyhow::bail!("a base URL has no query and no fragment: {url:?}");
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            anyhow::bail!("a base URL holds no user or password: {url:?}");
        }
        Ok(Self(parsed.as_str().trim_end_matches('/').to_owned()))
    }

    /// `http://` and the address the server listens on: the default, which reaches
    /// a server on this machine or one whose address is reachable as it is.
    pub fn of_listener(addr: std::net::SocketAddr) -> Self {
        Self(format!("http://{addr}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `{base}{path}?token={token}`, the token percent-encoded.
    pub fn link(&self, path: &str, token: &str) -> String {
        let token: String = url::form_urlencoded::byte_serialize(token.as_bytes()).collect();
        format!("{}{path}?token={token}", self.0)
    }
}

impl std::fmt::Display for PublicUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// [`DEFAULT_FROM`] as a mailbox.
pub fn default_sender() -> Mailbox {
    // Built from its parts: a constant address that needs no parsing to be sure of.
    Mailbox::new(
        Some("Roster".to_owned()),
        lettre::Address::new_dangerous("roster", "localhost"),
    )
}

/// Sends messages through one SMTP server, from one sender. Cheap to clone: clones
/// share the connection pool.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// A mailer for the SMTP server at `url` (lettre's form: `smtp://host:port`,
    /// `smtp://user:pass@host:587?tls=required` for STARTTLS, `smtps://…` for TLS
    /// from the start). Connects only when the first message is sent. Called within
    /// the tokio runtime: the connection pool runs a task of its own.
    pub fn new(url: &SmtpUrl, from: Mailbox) -> anyhow::Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.expose())
            .map_err(|error| anyhow::anyhow!("invalid SMTP URL {url}: {error}"))?
            .timeout(Some(SMTP_TIMEOUT))
            .build();
        Ok(Self { transport, from })
    }

    /// The address messages are sent from.
    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// Sends `letter` and waits for the server to accept it. The caller logs a
    /// failure, with the context it knows.
    pub async fn send(&self, letter: Letter) -> Result<(), MailError> {
        let to = Mailbox::new(
            letter.to_name.filter(|name| !name.is_empty()),
            letter
                .to
                .parse()
                .map_err(|_| MailError::Recipient(letter.to.clone()))?,
        );
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(letter.subject)
            .multipart(MultiPart::alternative_plain_html(letter.text, letter.html))?;
        self.transport.send(message).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_lose_their_trailing_slash_and_links_encode_the_token() {
        let base = PublicUrl::parse("https://roster.example.com/dir/").unwrap();
        assert_eq!(base.as_str(), "https://roster.example.com/dir");
        assert_eq!(
            base.link("/ui/t/1/reset-password", "rp_a+b/c=&d"),
            "https://roster.example.com/dir/ui/t/1/reset-password?token=rp_a%2Bb%2Fc%3D%26d"
        );
        assert_eq!(
            PublicUrl::parse("http://127.0.0.1:8080").unwrap().as_str(),
            "http://127.0.0.1:8080"
        );
    }

    #[test]
    fn public_urls_are_http_without_query_or_credentials() {
        for bad in [
            "ftp://x.example",
            "roster.example.com",
            "https://x.example/?a=1",
            "https://x.example/#top",
            "https://user:pass@x.example",
        ] {
            assert!(PublicUrl::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn senders_parse_with_or_without_a_name() {
        assert_eq!(
            parse_sender(DEFAULT_FROM).unwrap().email.to_string(),
            "roster@localhost"
        );
        assert!(parse_sender("ops@example.com").is_ok());
        assert!(parse_sender("not an address").is_err());
        assert_eq!(parse_sender(DEFAULT_FROM).unwrap(), default_sender());
    }

    #[test]
    fn smtp_urls_hide_their_password() {
        let url = SmtpUrl::new("smtps://mailer:p4ss@smtp.example:465");
        assert_eq!(url.to_string(), "smtps://mailer:***@smtp.example:465");
        assert!(!format!("{url:?}").contains("p4ss"));
        assert_eq!(
            SmtpUrl::new("smtp://127.0.0.1:2525?tls=required").redacted(),
            "smtp://127.0.0.1:2525?tls=required"
        );
    }

    // The connection pool runs a task: a mailer is made and dropped in a runtime.
    #[tokio::test]
    async fn a_mailer_takes_lettres_url_forms_and_hides_the_password() {
        let from = parse_sender(DEFAULT_FROM).unwrap();
        for url in [
            "smtp://127.0.0.1:2525",
            "smtp://user:s3cret@mail.example:587?tls=required",
            "smtps://user:s3cret@mail.example",
        ] {
            let mailer = Mailer::new(&SmtpUrl::new(url), from.clone()).expect(url);
            assert!(!format!("{mailer:?}").contains("s3cret"));
        }
        let refused = Mailer::new(&SmtpUrl::new("imap://user:s3cret@mail.example"), from)
            .expect_err("not an SMTP URL");
        assert!(!format!("{refused:#}").contains("s3cret"), "{refused:#}");
    }
}
