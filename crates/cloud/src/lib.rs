//! Live cloud importers: thin HTTP drivers around the sans-IO importers of `gatehouse-vpc`.
//! `aws` signs EC2 and ELBv2 requests with SigV4; `digitalocean` reads the v2 API with a token
//! kept in the OS keyring. Both share the HTTP client made here: blocking `reqwest` over rustls
//! with the `ring` provider (the one the demo lab's TLS already uses), connect and per-request
//! timeouts, no redirects, bounded bodies.

pub mod aws;
pub mod digitalocean;

use std::io::Read;
use std::time::Duration;

/// Largest response body accepted (a page of an API answer is well under a megabyte).
const MAX_BODY: u64 = 64 * 1024 * 1024;

/// Timeouts of the HTTP client.
#[derive(Debug, Clone, Copy)]
pub struct Timeouts {
    /// Connecting (TCP + TLS).
    pub connect: Duration,
    /// One whole request, body included.
    pub request: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            request: Duration::from_secs(60),
        }
    }
}

/// The blocking client both drivers use: rustls with `ring`, no redirects (a redirect would
/// carry credentials elsewhere), the given timeouts.
fn client(timeouts: Timeouts) -> Result<reqwest::blocking::Client, String> {
    // Installing fails only when a provider is already installed: then that one is used.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::blocking::Client::builder()
        .connect_timeout(timeouts.connect)
        .timeout(timeouts.request)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("gatehouse/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| e.to_string())
}

/// Reads a response body of at most [`MAX_BODY`] bytes.
fn read_body(r: reqwest::blocking::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    r.take(MAX_BODY + 1)
        .read_to_end(&mut body)
        .map_err(|e| format!("reading the body: {e}"))?;
    if body.len() as u64 > MAX_BODY {
        return Err(format!("the body is larger than {MAX_BODY} bytes"));
    }
    Ok(body)
}

/// A transport error in words (reqwest's text names the URL, never the headers).
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    let mut text = format!("{kind}: {e}");
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    /// A server that answers one request with `body`, on a free loopback port.
    fn serve_once(body: Vec<u8>) -> String {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        std::thread::spawn(move || {
            if let Ok((mut s, _)) = l.accept() {
                let mut buf = [0u8; 4096];
                let _ = std::io::Read::read(&mut s, &mut buf);
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes());
                let _ = s.write_all(&body);
            }
        });
        format!("http://{addr}/")
    }

    #[test]
    fn reads_a_body_and_refuses_an_oversized_one() {
        let c = client(Timeouts::default()).unwrap();
        let url = serve_once(b"hello".to_vec());
        let r = c.get(&url).send().unwrap();
        assert_eq!(read_body(r).unwrap(), b"hello");

        let url = serve_once(vec![b'x'; MAX_BODY as usize + 10]);
        let r = c.get(&url).send().unwrap();
        let e = read_body(r).unwrap_err();
        assert!(e.contains("larger than"), "{e}");
    }

    #[test]
    fn a_refused_connection_is_described() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", l.local_addr().unwrap());
        drop(l);
        let c = client(Timeouts::default()).unwrap();
        let e = c.get(&url).send().unwrap_err();
        let text = describe(&e);
        assert!(text.starts_with("cannot connect"), "{text}");
    }
}
