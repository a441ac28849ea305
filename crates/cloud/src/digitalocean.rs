//! DigitalOcean, live: the HTTP driver around [`gatehouse_vpc::digitalocean`] (which owns the
//! paging, the 429/5xx retries and the mapping to the model).
//!
//! * The API token lives in the OS keyring (service `gatehouse`, user [`TOKEN_ACCOUNT`]), through
//!   the profile crate's [`Keyring`]; it never appears in `Debug`, logs or errors.
//! * Requests are blocking (`reqwest::blocking`, rustls), with a connect timeout and a total
//!   timeout per request, no redirects (a redirect would carry the token elsewhere), and a cap on
//!   the body size. Async callers run [`import`] on a blocking thread (`spawn_blocking`).
//! * The API base defaults to [`DEFAULT_API_URL`]; `$DIGITALOCEAN_API_URL` ([`API_URL_ENV`]) or
//!   the caller overrides it. The token is only ever sent over HTTPS, or over plain HTTP to a
//!   loopback address (a local test server).

use std::fmt;
use std::io::Read;
use std::net::IpAddr;
use std::time::Duration;

use gatehouse_profile::secrets::{Keyring, SecretError};
use gatehouse_vpc::digitalocean::{self as sans_io, DoError, Response, RetryPolicy, Transport};
use zeroize::Zeroizing;

pub use gatehouse_vpc::digitalocean::DEFAULT_API_URL;

/// The keyring user name of the API token (service [`gatehouse_profile::secrets::SERVICE`]).
pub const TOKEN_ACCOUNT: &str = "digitalocean/token";

/// The environment variable that overrides the API base.
pub const API_URL_ENV: &str = "DIGITALOCEAN_API_URL";

/// The snapshot store's source name of imports from the live API.
pub const SOURCE: &str = "digitalocean";

/// A DigitalOcean API token. Its `Debug` is redacted and its memory is wiped on drop.
pub struct Token(Zeroizing<String>);

impl Token {
    /// A token from text (surrounding whitespace, such as a trailing newline, is dropped).
    pub fn new(text: &str) -> Result<Token, LiveError> {
        let t = text.trim();
        if t.is_empty() {
            return Err(LiveError::BadToken {
                why: "it is empty".into(),
            });
        }
        if t.len() > 1024 {
            return Err(LiveError::BadToken {
                why: format!("it is {} bytes long (at most 1024)", t.len()),
            });
        }
        if let Some(i) = t.find(|c: char| !c.is_ascii_graphic()) {
            return Err(LiveError::BadToken {
                why: format!(
                    "it contains a space, a control or a non-ASCII character at byte {}",
                    i + 1
                ),
            });
        }
        Ok(Token(Zeroizing::new(t.to_string())))
    }

    /// A token read from `r` (standard input): at most 4 KiB, surrounding whitespace dropped.
    pub fn read_from(r: impl Read) -> Result<Token, LiveError> {
        let mut text = Zeroizing::new(String::new());
        r.take(4096)
            .read_to_string(&mut text)
            .map_err(|e| LiveError::BadToken {
                why: format!("cannot read it: {e}"),
            })?;
        Token::new(&text)
    }

    fn header(&self) -> Result<reqwest::header::HeaderValue, LiveError> {
        let text = Zeroizing::new(format!("Bearer {}", self.0.as_str()));
        let mut v =
            reqwest::header::HeaderValue::from_str(&text).map_err(|_| LiveError::BadToken {
                why: "it is not a valid HTTP header value".into(),
            })?;
        v.set_sensitive(true);
        Ok(v)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// Why a live import (or the token's storage) failed.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// No token is stored in the keyring.
    #[error(
        "no DigitalOcean API token in the OS keyring (service \"gatehouse\", user \
         \"{TOKEN_ACCOUNT}\"); store one with `gatehouse vpc digitalocean --set-token` \
         (it reads the token from standard input)"
    )]
    NoToken,
    /// The token text cannot be a token (the message never contains it).
    #[error("the DigitalOcean API token is not valid: {why}")]
    BadToken {
        /// What is wrong with it.
        why: String,
    },
    /// The keyring failed (not reachable, locked…).
    #[error(transparent)]
    Keyring(#[from] SecretError),
    /// The API base is not usable.
    #[error("API URL {url:?}: {why}")]
    ApiUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// The HTTP client could not be built (TLS setup).
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
    /// The API could not be read (transport, HTTP status after retries, bad body).
    #[error(transparent)]
    Api(#[from] DoError),
}

impl LiveError {
    /// The HTTP status when the API answered with an error (401 for a bad token…).
    pub fn status(&self) -> Option<u16> {
        match self {
            LiveError::Api(DoError::Status { status, .. }) => Some(*status),
            _ => None,
        }
    }
}

/// Stores `token` in the OS keyring (replacing a previous one).
pub fn save_token(token: &Token) -> Result<(), LiveError> {
    Keyring::new().set_text(TOKEN_ACCOUNT, token.0.as_str())?;
    Ok(())
}

/// Reads the token from the OS keyring.
pub fn load_token() -> Result<Token, LiveError> {
    match Keyring::new().get_text(TOKEN_ACCOUNT)? {
        Some(text) => Token::new(&text),
        None => Err(LiveError::NoToken),
    }
}

/// Removes the token from the OS keyring (no error when there is none).
pub fn delete_token() -> Result<(), LiveError> {
    Keyring::new().delete(TOKEN_ACCOUNT)?;
    Ok(())
}

/// The API base: `explicit` (a `--api-url`), else `$DIGITALOCEAN_API_URL`, else the public API.
pub fn api_url(explicit: Option<&str>) -> String {
    explicit
        .map(str::to_string)
        .or_else(|| {
            std::env::var(API_URL_ENV)
                .ok()
                .filter(|u| !u.trim().is_empty())
        })
        .unwrap_or_else(|| DEFAULT_API_URL.to_string())
}

/// Checks that `base` is an `https://` URL, or an `http://` URL of a loopback address (the token
/// must not travel in clear text over a network).
pub fn check_api_url(base: &str) -> Result<(), LiveError> {
    let bad = |why: &str| LiveError::ApiUrl {
        url: base.to_string(),
        why: why.to_string(),
    };
    let url = reqwest::Url::parse(base).map_err(|e| bad(&e.to_string()))?;
    match url.scheme() {
        "https" => Ok(()),
        "http" => {
            let host = url.host_str().unwrap_or("");
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let loopback = host.eq_ignore_ascii_case("localhost")
                || host.parse::<IpAddr>().is_ok_and(|a| a.is_loopback());
            if loopback {
                Ok(())
            } else {
                Err(bad(
                    "plain http is only allowed to a loopback address (the token would travel \
                     in clear text); use https",
                ))
            }
        }
        other => Err(bad(&format!("unsupported scheme {other:?} (use https)"))),
    }
}

pub use crate::Timeouts;

/// The blocking HTTPS transport: GETs with the Bearer token.
pub struct HttpTransport {
    client: reqwest::blocking::Client,
    auth: reqwest::header::HeaderValue,
}

impl fmt::Debug for HttpTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTransport").finish_non_exhaustive()
    }
}

impl HttpTransport {
    /// A transport that authenticates with `token`.
    pub fn new(token: &Token, timeouts: Timeouts) -> Result<HttpTransport, LiveError> {
        let client = crate::client(timeouts).map_err(LiveError::Client)?;
        Ok(HttpTransport {
            client,
            auth: token.header()?,
        })
    }
}

impl Transport for HttpTransport {
    fn get(&mut self, url: &str) -> Result<Response, String> {
        let r = self
            .client
            .get(url)
            .header(reqwest::header::AUTHORIZATION, self.auth.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .map_err(|e| crate::describe(&e))?;
        let status = r.status().as_u16();
        let retry_after = r
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let body = crate::read_body(r)?;
        Ok(Response {
            status,
            retry_after,
            body,
        })
    }
}

/// Imports the account's VPCs, droplets, load balancers, firewalls, databases and Kubernetes
/// clusters from `base` with `token`, waiting between retries as `policy` says.
pub fn import(
    base: &str,
    token: &Token,
    policy: RetryPolicy,
) -> Result<sans_io::Import, LiveError> {
    check_api_url(base)?;
    let mut transport = HttpTransport::new(token, Timeouts::default())?;
    let mut sleep = |d: Duration| std::thread::sleep(d);
    Ok(sans_io::import(base, &mut transport, policy, &mut sleep)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_checked_and_redacted() {
        let t = Token::new("  dop_v1_abc123\n").unwrap();
        assert_eq!(t.0.as_str(), "dop_v1_abc123");
        assert_eq!(format!("{t:?}"), "Token(<redacted>)");
        let e = Token::new("dop v1").unwrap_err().to_string();
        assert!(e.contains("byte 4"), "{e}");
        assert!(!e.contains("dop"), "{e}");
        assert!(Token::new(" \n").is_err());
        assert!(Token::new("dop_\u{e9}").is_err());
        assert!(t.header().unwrap().is_sensitive());
    }

    #[test]
    fn api_urls() {
        assert!(check_api_url("https://api.digitalocean.com").is_ok());
        assert!(check_api_url("http://127.0.0.1:8080").is_ok());
        assert!(check_api_url("http://[::1]:8080/").is_ok());
        assert!(check_api_url("http://localhost:1").is_ok());
        let e = check_api_url("http://10.0.0.1").unwrap_err().to_string();
        assert!(e.contains("clear text"), "{e}");
        assert!(check_api_url("ftp://x").is_err());
        assert!(check_api_url("not a url").is_err());
        assert_eq!(api_url(Some("http://127.0.0.1:9")), "http://127.0.0.1:9");
    }

    #[test]
    fn connection_refused_is_a_transport_error() {
        // A port nothing listens on: bind, read the port, close.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let token = Token::new("t0k3n").unwrap();
        let e = import(
            &format!("http://127.0.0.1:{port}"),
            &token,
            RetryPolicy {
                max_retries: 0,
                ..RetryPolicy::default()
            },
        )
        .unwrap_err();
        let text = e.to_string();
        assert!(text.contains("/v2/vpcs"), "{text}");
        assert!(!text.contains("t0k3n"), "{text}");
        assert!(matches!(e, LiveError::Api(DoError::Transport { .. })));
    }
}
