//! DigitalOcean API importer, sans-IO: `/v2/vpcs`, `/v2/droplets`, `/v2/load_balancers`,
//! `/v2/firewalls`, `/v2/databases` (then `/v2/databases/{uuid}/replicas` of each PostgreSQL and
//! MySQL cluster) and `/v2/kubernetes/clusters`, following `links.pages.next`, retrying 429
//! (after `Retry-After`) and 5xx a bounded number of times. The HTTP client is the caller's
//! [`Transport`] (the token and TLS live there), so the paging and mapping are tested against a
//! local server.
//!
//! `pages` maps the network pages, `managed` the databases and Kubernetes clusters (whose host
//! builders the Terraform state importer shares).

use std::time::Duration;

use serde::Deserialize;

use crate::model::*;

pub(crate) mod managed;
mod pages;
#[cfg(test)]
mod tests;

/// The public API base.
pub const DEFAULT_API_URL: &str = "https://api.digitalocean.com";

/// One HTTP response, as the importer needs it.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// `Retry-After` in seconds, when present.
    pub retry_after: Option<u64>,
    /// Body.
    pub body: Vec<u8>,
}

/// Performs GET requests (adds the token, speaks TLS).
pub trait Transport {
    /// GETs `url`; `Err` for a transport failure (connection refused, timeout…).
    fn get(&mut self, url: &str) -> Result<Response, String>;
}

/// How often to retry 429 and 5xx answers, and how long to wait when no `Retry-After` says.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries per request.
    pub max_retries: u32,
    /// Wait before the first retry of a 5xx (doubled each time).
    pub backoff: Duration,
    /// Longest wait honoured from `Retry-After`.
    pub max_wait: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 3,
            backoff: Duration::from_millis(500),
            max_wait: Duration::from_secs(60),
        }
    }
}

/// Why the import failed.
#[derive(Debug, thiserror::Error)]
pub enum DoError {
    /// The request could not be made.
    #[error("GET {url}: {message}")]
    Transport {
        /// The URL.
        url: String,
        /// What failed.
        message: String,
    },
    /// The API answered with an error status (after retries for 429/5xx).
    #[error("GET {url}: HTTP {status}{}", if .message.is_empty() { String::new() } else { format!(": {}", .message) })]
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
        /// The API's `message`, when it sent one.
        message: String,
    },
    /// The body is not the expected JSON.
    #[error("GET {url}: unexpected response at line {line} column {column}: {message}")]
    Body {
        /// The URL.
        url: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// Pages kept coming.
    #[error("GET {url}: more than {max} pages, stopping")]
    TooManyPages {
        /// The last URL.
        url: String,
        /// The cap.
        max: usize,
    },
}

const MAX_PAGES: usize = 1000;

/// The listed kinds, in request order (the path after `/v2/`).
const KINDS: [&str; 6] = [
    "vpcs",
    "droplets",
    "load_balancers",
    "firewalls",
    "databases",
    "kubernetes/clusters",
];

/// The kinds a token may lack the scope for (a custom-scoped token without `database:read` or
/// `kubernetes:read` is answered 403): a refusal there is a warning, not a failed import.
const OPTIONAL: [&str; 2] = ["databases", "kubernetes/clusters"];

/// The result of an import.
#[derive(Debug, Clone, Default)]
pub struct Import {
    /// Everything found.
    pub topology: Topology,
    /// What could not be read (an optional kind refused), in words.
    pub warnings: Vec<String>,
}

/// Imports the account's VPCs, droplets, load balancers, firewalls, database clusters (with the
/// read-only replicas of PostgreSQL and MySQL ones) and Kubernetes clusters (with their node
/// pools) from `base` (`https://api.digitalocean.com`, or a test server). `sleep` waits between
/// retries. A token refused (401/403) for databases or Kubernetes clusters gives a warning and
/// the rest of the account; refused for the network kinds, the import fails.
pub fn import(
    base: &str,
    transport: &mut dyn Transport,
    policy: RetryPolicy,
    sleep: &mut dyn FnMut(Duration),
) -> Result<Import, DoError> {
    let base = base.trim_end_matches('/');
    let mut out = Import::default();
    for kind in KINDS {
        match import_kind(base, kind, transport, policy, sleep, &mut out.topology) {
            Err(DoError::Status {
                url,
                status,
                message,
            }) if OPTIONAL.contains(&kind) && matches!(status, 401 | 403) => {
                let what = if kind == "databases" {
                    "database clusters"
                } else {
                    "Kubernetes clusters"
                };
                let why = if message.is_empty() {
                    String::new()
                } else {
                    format!(": {message}")
                };
                out.warnings.push(format!(
                    "GET {url}: HTTP {status}{why}; {what} not imported (the token lacks the \
                     read scope for them)"
                ));
            }
            r => r?,
        }
    }
    Ok(out)
}

/// Reads every page of one kind into `t`.
fn import_kind(
    base: &str,
    kind: &str,
    transport: &mut dyn Transport,
    policy: RetryPolicy,
    sleep: &mut dyn FnMut(Duration),
    t: &mut Topology,
) -> Result<(), DoError> {
    let mut url = format!("{base}/v2/{kind}?per_page=200");
    let mut pages = 0;
    loop {
        pages += 1;
        if pages > MAX_PAGES {
            return Err(DoError::TooManyPages {
                url,
                max: MAX_PAGES,
            });
        }
        let body = fetch(&url, transport, policy, sleep)?;
        let next = pages::add_page(kind, &body, t).map_err(|e| body_error(&url, &e))?;
        match next {
            Some(n) => url = rebase(base, &n),
            None => break,
        }
    }
    if kind == "databases" {
        replicas(base, transport, policy, sleep, t)?;
    }
    Ok(())
}

/// The error for a body that is not the expected JSON.
fn body_error(url: &str, e: &serde_json::Error) -> DoError {
    DoError::Body {
        url: url.to_string(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    }
}

/// Fetches the read-only replicas of every PostgreSQL and MySQL cluster in `t` (the engines
/// with replicas); a 404 (the cluster went away meanwhile) means none.
fn replicas(
    base: &str,
    transport: &mut dyn Transport,
    policy: RetryPolicy,
    sleep: &mut dyn FnMut(Duration),
    t: &mut Topology,
) -> Result<(), DoError> {
    let parents: Vec<String> = t
        .hosts
        .iter()
        .filter(|h| {
            h.service
                .as_ref()
                .is_some_and(|s| matches!(s.kind, ServiceKind::Postgres | ServiceKind::Mysql))
        })
        .map(|h| h.id.clone())
        .collect();
    for id in parents {
        let url = format!("{base}/v2/databases/{}/replicas", path_segment(&id));
        let body = match fetch(&url, transport, policy, sleep) {
            Ok(b) => b,
            Err(DoError::Status { status: 404, .. }) => continue,
            Err(e) => return Err(e),
        };
        let page: managed::ReplicaPage =
            serde_json::from_slice(&body).map_err(|e| body_error(&url, &e))?;
        page.add(&id, t);
    }
    Ok(())
}

/// `s` percent-encoded for a URL path segment (API ids are UUIDs, which stay as they are).
fn path_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Keeps a `next` link on the configured base (the API writes its public host in links).
fn rebase(base: &str, next: &str) -> String {
    match next.find("/v2/") {
        Some(i) => format!("{base}{}", &next[i..]),
        None => next.to_string(),
    }
}

fn fetch(
    url: &str,
    transport: &mut dyn Transport,
    policy: RetryPolicy,
    sleep: &mut dyn FnMut(Duration),
) -> Result<Vec<u8>, DoError> {
    let mut attempt = 0;
    loop {
        let r = transport.get(url).map_err(|message| DoError::Transport {
            url: url.to_string(),
            message,
        })?;
        if (200..300).contains(&r.status) {
            return Ok(r.body);
        }
        let retryable = r.status == 429 || (500..600).contains(&r.status);
        if retryable && attempt < policy.max_retries {
            let wait = match r.retry_after {
                Some(s) => Duration::from_secs(s).min(policy.max_wait),
                None => policy.backoff * 2u32.saturating_pow(attempt),
            };
            sleep(wait);
            attempt += 1;
            continue;
        }
        #[derive(Deserialize)]
        struct ApiError {
            #[serde(default)]
            message: String,
        }
        let message = serde_json::from_slice::<ApiError>(&r.body)
            .map(|e| e.message)
            .unwrap_or_default();
        return Err(DoError::Status {
            url: url.to_string(),
            status: r.status,
            message,
        });
    }
}
