//! What to send to an open port, and what the bytes that come back say about the service.
//!
//! [`Request`] is what the prober sends after connecting (nothing for services that speak
//! first); [`is_complete`] tells the driver when it has read enough; [`classify`] turns the bytes
//! into a [`Fingerprint`]. Everything is bounded by [`MAX_READ`] and never panics: bytes that
//! match no protocol are [`Fingerprint::Unknown`].

use serde::{Deserialize, Serialize};

use super::tls;

/// The most bytes of an answer the prober reads and classifies.
pub const MAX_READ: usize = 16 * 1024;
/// Longest title or banner kept.
const MAX_TEXT: usize = 200;

/// What the prober sends once connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    /// Nothing: wait for the server's banner (SSH, MySQL, SMTP…).
    Nothing,
    /// `GET / HTTP/1.0`.
    Http,
    /// A TLS ClientHello.
    TlsHello,
    /// Redis `PING`.
    RedisPing,
    /// PostgreSQL SSLRequest.
    PgSslRequest,
}

impl Request {
    /// The bytes to send to `host:port` (`host` an address or name, for `Host:` and SNI).
    pub fn bytes(self, host: &str, port: u16) -> Vec<u8> {
        match self {
            Request::Nothing => Vec::new(),
            Request::Http => {
                let authority = if port == 80 {
                    host.to_string()
                } else if host.contains(':') {
                    format!("[{host}]:{port}")
                } else {
                    format!("{host}:{port}")
                };
                format!(
                    "GET / HTTP/1.0\r\nHost: {authority}\r\nUser-Agent: gatehouse-probe\r\n\
                     Accept: */*\r\nConnection: close\r\n\r\n"
                )
                .into_bytes()
            }
            Request::TlsHello => {
                let sni = (host.parse::<std::net::IpAddr>().is_err()).then_some(host);
                tls::client_hello(sni)
            }
            Request::RedisPing => b"*1\r\n$4\r\nPING\r\n".to_vec(),
            Request::PgSslRequest => {
                let mut v = 8u32.to_be_bytes().to_vec();
                v.extend_from_slice(&80_877_103u32.to_be_bytes());
                v
            }
        }
    }
}

/// What answered on an open port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Fingerprint {
    /// An HTTP server.
    Http {
        /// Status code.
        status: u16,
        /// The page's `<title>`, when it has one.
        title: Option<String>,
        /// The `Server:` header.
        server: Option<String>,
    },
    /// A TLS server.
    Tls {
        /// `TLS 1.3`, `TLS 1.2`… (`None` when it answered with an alert).
        version: Option<String>,
        /// The cipher suite it chose.
        cipher: Option<String>,
        /// The alert description code, when it answered with an alert.
        alert: Option<u8>,
    },
    /// An SSH server.
    Ssh {
        /// The identification line (`SSH-2.0-OpenSSH_9.2p1 …`).
        banner: String,
    },
    /// A Redis server (RESP).
    Redis {
        /// It answered `-NOAUTH` (a password is needed).
        auth_required: bool,
    },
    /// A PostgreSQL server.
    Postgres {
        /// Its answer to the SSLRequest: `S` (TLS offered), `N` (clear text), or an error.
        ssl: Option<bool>,
        /// The error message, when it answered with one.
        error: Option<String>,
    },
    /// A MySQL or MariaDB server.
    Mysql {
        /// The version from its greeting (`None` when it greeted with an error packet).
        version: Option<String>,
        /// The error message of an error greeting (`Host … is not allowed to connect`).
        error: Option<String>,
    },
    /// The port accepted the connection and said nothing.
    Silent,
    /// Bytes of no known protocol.
    Unknown {
        /// How many bytes came.
        bytes: usize,
        /// The first bytes, printable ASCII kept, others as `\xNN`.
        preview: String,
    },
}

impl Fingerprint {
    /// The kind as a short word (`http`, `tls`, `ssh`, `redis`, `postgres`, `mysql`, `silent`,
    /// `unknown`).
    pub fn kind(&self) -> &'static str {
        match self {
            Fingerprint::Http { .. } => "http",
            Fingerprint::Tls { .. } => "tls",
            Fingerprint::Ssh { .. } => "ssh",
            Fingerprint::Redis { .. } => "redis",
            Fingerprint::Postgres { .. } => "postgres",
            Fingerprint::Mysql { .. } => "mysql",
            Fingerprint::Silent => "silent",
            Fingerprint::Unknown { .. } => "unknown",
        }
    }

    /// One line for a table: `http 200 "Home router - admin"`, `ssh SSH-2.0-…`.
    pub fn summary(&self) -> String {
        match self {
            Fingerprint::Http { status, title, .. } => match title {
                Some(t) => format!("http {status} \"{t}\""),
                None => format!("http {status}"),
            },
            Fingerprint::Tls {
                version,
                cipher,
                alert,
                ..
            } => match (version, alert) {
                (Some(v), _) => format!("tls {v} {}", cipher.as_deref().unwrap_or("")),
                (None, Some(a)) => format!("tls (alert {a})"),
                (None, None) => "tls".into(),
            },
            Fingerprint::Ssh { banner } => format!("ssh {banner}"),
            Fingerprint::Redis { auth_required } => {
                if *auth_required {
                    "redis (password required)".into()
                } else {
                    "redis PONG".into()
                }
            }
            Fingerprint::Postgres { ssl, error } => match (ssl, error) {
                (_, Some(e)) => format!("postgres error: {e}"),
                (Some(true), _) => "postgres (TLS offered)".into(),
                (Some(false), _) => "postgres (no TLS)".into(),
                (None, None) => "postgres".into(),
            },
            Fingerprint::Mysql { version, error } => match (version, error) {
                (Some(v), _) => format!("mysql {v}"),
                (None, Some(e)) => format!("mysql error: {e}"),
                (None, None) => "mysql".into(),
            },
            Fingerprint::Silent => "open, silent".into(),
            Fingerprint::Unknown { bytes, preview } => format!("unknown ({bytes} B) {preview}"),
        }
    }
}

/// Keeps printable ASCII of `b` (at most `max` bytes), others as `\xNN`.
fn escape(b: &[u8], max: usize) -> String {
    let mut s = String::new();
    for &c in b.iter().take(max) {
        if c.is_ascii_graphic() || c == b' ' {
            s.push(char::from(c));
        } else {
            s.push_str(&format!("\\x{c:02x}"));
        }
    }
    s
}

/// Text of `b` with control characters dropped and whitespace collapsed, at most
/// [`MAX_TEXT`] characters; `None` when empty.
fn clean_text(b: &[u8]) -> Option<String> {
    let raw = String::from_utf8_lossy(b);
    let mut out = String::new();
    for word in raw.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.extend(word.chars().filter(|c| !c.is_control()));
        if out.chars().count() > MAX_TEXT {
            out = out.chars().take(MAX_TEXT).collect();
            break;
        }
    }
    let out = out
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'");
    (!out.is_empty()).then_some(out)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn find_ci(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len())
        .position(|w| w.eq_ignore_ascii_case(needle))
}

fn line(b: &[u8]) -> Option<&[u8]> {
    let end = b.iter().position(|&c| c == b'\n')?;
    let l = &b[..end];
    Some(l.strip_suffix(b"\r").unwrap_or(l))
}

// ---- HTTP ----

fn is_http(b: &[u8]) -> bool {
    b.starts_with(b"HTTP/1.") || b.starts_with(b"HTTP/2 ") || b.starts_with(b"HTTP/1.0")
}

fn http(b: &[u8]) -> Option<Fingerprint> {
    let status_line = line(b).unwrap_or(b);
    let mut parts = status_line.split(|&c| c == b' ');
    parts.next()?;
    let code = parts.next()?;
    if code.len() != 3 || !code.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let status = std::str::from_utf8(code).ok()?.parse().ok()?;
    let head_end = find(b, b"\r\n\r\n").map(|i| i + 4).unwrap_or(b.len());
    let head = &b[..head_end];
    let server = head.split(|&c| c == b'\n').skip(1).find_map(|l| {
        let (name, value) = l.split_at(l.iter().position(|&c| c == b':')?);
        name.eq_ignore_ascii_case(b"server")
            .then(|| clean_text(value.get(1..).unwrap_or(&[])))
            .flatten()
    });
    let body = &b[head_end..];
    let title = find_ci(body, b"<title").and_then(|i| {
        let rest = &body[i..];
        let open_end = rest.iter().position(|&c| c == b'>')? + 1;
        let text = &rest[open_end..];
        let close = find_ci(text, b"</title").unwrap_or(text.len().min(1024));
        clean_text(&text[..close])
    });
    Some(Fingerprint::Http {
        status,
        title,
        server,
    })
}

fn content_length(head: &[u8]) -> Option<usize> {
    head.split(|&c| c == b'\n').find_map(|l| {
        let colon = l.iter().position(|&c| c == b':')?;
        let (name, value) = l.split_at(colon);
        if !name.eq_ignore_ascii_case(b"content-length") {
            return None;
        }
        std::str::from_utf8(value.get(1..)?)
            .ok()?
            .trim()
            .parse()
            .ok()
    })
}

fn http_complete(b: &[u8]) -> bool {
    let Some(head_end) = find(b, b"\r\n\r\n").map(|i| i + 4) else {
        return false;
    };
    let body = &b[head_end..];
    if find_ci(body, b"</title").is_some() {
        return true;
    }
    match content_length(&b[..head_end]) {
        Some(n) => body.len() >= n,
        None => false,
    }
}

// ---- SSH ----

fn ssh(b: &[u8]) -> Option<Fingerprint> {
    if !b.starts_with(b"SSH-") {
        return None;
    }
    let l = line(b).unwrap_or(b);
    let l = &l[..l.len().min(255)];
    if !l.iter().all(|&c| c.is_ascii_graphic() || c == b' ') {
        return None;
    }
    Some(Fingerprint::Ssh {
        banner: String::from_utf8_lossy(l).into_owned(),
    })
}

// ---- Redis ----

fn redis(b: &[u8]) -> Option<Fingerprint> {
    let l = line(b)?;
    if l.eq_ignore_ascii_case(b"+PONG") {
        return Some(Fingerprint::Redis {
            auth_required: false,
        });
    }
    if l.starts_with(b"-NOAUTH") || l.starts_with(b"-ERR operation not permitted") {
        return Some(Fingerprint::Redis {
            auth_required: true,
        });
    }
    // `-DENIED Redis is running in protected mode…`
    if l.starts_with(b"-DENIED") && find(l, b"Redis").is_some() {
        return Some(Fingerprint::Redis {
            auth_required: true,
        });
    }
    None
}

// ---- MySQL ----

/// (payload, complete) of the first MySQL packet, when the header is plausible.
fn mysql_packet(b: &[u8]) -> Option<(&[u8], bool)> {
    let h = b.get(..4)?;
    let len = usize::from(h[0]) | (usize::from(h[1]) << 8) | (usize::from(h[2]) << 16);
    if h[3] != 0 || !(3..=8192).contains(&len) {
        return None;
    }
    let avail = &b[4..];
    Some((&avail[..avail.len().min(len)], avail.len() >= len))
}

fn mysql(b: &[u8]) -> Option<Fingerprint> {
    let (p, _) = mysql_packet(b)?;
    match p.first()? {
        10 => {
            let rest = &p[1..];
            let nul = rest.iter().position(|&c| c == 0)?;
            let v = &rest[..nul];
            if v.is_empty() || v.len() > 100 || !v.iter().all(|c| c.is_ascii_graphic()) {
                return None;
            }
            // Connection id (4) and the first 8 bytes of the auth data, then a zero filler.
            let after = &rest[nul + 1..];
            if after.len() >= 13 && after[12] != 0 {
                return None;
            }
            Some(Fingerprint::Mysql {
                version: Some(String::from_utf8_lossy(v).into_owned()),
                error: None,
            })
        }
        0xff => {
            // Error packet: code (2), then (4.1+) `#` + SQL state (5), then the message.
            let code = p.get(1..3)?;
            let code = u16::from_le_bytes([code[0], code[1]]);
            if !(1000..=9999).contains(&code) {
                return None;
            }
            let msg = p.get(3..).unwrap_or(&[]);
            let msg = if msg.first() == Some(&b'#') {
                msg.get(6..).unwrap_or(&[])
            } else {
                msg
            };
            if msg.is_empty() || !msg.iter().all(|&c| c.is_ascii_graphic() || c == b' ') {
                return None;
            }
            Some(Fingerprint::Mysql {
                version: None,
                error: clean_text(msg),
            })
        }
        _ => None,
    }
}

// ---- PostgreSQL ----

/// A backend message `E` (error) or `R` (authentication request): (message, complete).
fn pg_message(b: &[u8]) -> Option<(u8, &[u8], bool)> {
    let tag = *b.first()?;
    if tag != b'E' && tag != b'R' {
        return None;
    }
    let l = b.get(1..5)?;
    let len = u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize;
    if !(8..=8192).contains(&len) {
        return None;
    }
    let avail = &b[5..];
    let body_len = len - 4;
    Some((
        tag,
        &avail[..avail.len().min(body_len)],
        avail.len() >= body_len,
    ))
}

fn postgres(sent: Request, b: &[u8]) -> Option<Fingerprint> {
    if sent == Request::PgSslRequest && (b == b"N" || b == b"S") {
        return Some(Fingerprint::Postgres {
            ssl: Some(b == b"S"),
            error: None,
        });
    }
    // `S` then a TLS ServerHello would be a proxy; keep to what a server sends.
    let (tag, body, _) = pg_message(b)?;
    match tag {
        b'E' => {
            // Fields: a type byte then a NUL-terminated string; needs a severity.
            let mut severity = false;
            let mut message = None;
            for field in body.split(|&c| c == 0) {
                match field.split_first() {
                    Some((b'S', b"ERROR" | b"FATAL" | b"PANIC")) => {
                        severity = true;
                    }
                    Some((b'M', v)) => message = clean_text(v),
                    _ => {}
                }
            }
            severity.then_some(Fingerprint::Postgres {
                ssl: None,
                error: message,
            })
        }
        _ => {
            let code = body.get(..4)?;
            let code = u32::from_be_bytes([code[0], code[1], code[2], code[3]]);
            (code <= 12).then_some(Fingerprint::Postgres {
                ssl: None,
                error: None,
            })
        }
    }
}

// ---- the classifier ----

/// What `bytes` (the start of the server's answer to `sent`) say about the service. Empty
/// bytes are [`Fingerprint::Silent`]; bytes of no known protocol [`Fingerprint::Unknown`].
pub fn classify(sent: Request, bytes: &[u8]) -> Fingerprint {
    let b = &bytes[..bytes.len().min(MAX_READ)];
    if b.is_empty() {
        return Fingerprint::Silent;
    }
    if let Some(f) = ssh(b) {
        return f;
    }
    match tls::read_server(b) {
        tls::Read::Reply(tls::ServerReply::Hello { version, cipher }) => {
            return Fingerprint::Tls {
                version: Some(tls::version_name(version)),
                cipher: Some(tls::cipher_name(cipher)),
                alert: None,
            }
        }
        tls::Read::Reply(tls::ServerReply::Alert(_, desc)) => {
            return Fingerprint::Tls {
                version: None,
                cipher: None,
                alert: Some(desc),
            }
        }
        tls::Read::NotTls | tls::Read::Incomplete => {}
    }
    if is_http(b) {
        if let Some(f) = http(b) {
            return f;
        }
    }
    if let Some(f) = redis(b) {
        return f;
    }
    if let Some(f) = postgres(sent, b) {
        return f;
    }
    if let Some(f) = mysql(b) {
        return f;
    }
    Fingerprint::Unknown {
        bytes: bytes.len(),
        preview: escape(b, 48),
    }
}

/// Whether `bytes` already hold a whole answer to `sent` (the driver stops reading). Answers of
/// no known protocol are never complete: the driver reads until the peer closes, [`MAX_READ`],
/// or its deadline.
pub fn is_complete(sent: Request, bytes: &[u8]) -> bool {
    if bytes.len() >= MAX_READ {
        return true;
    }
    if bytes.starts_with(b"SSH-") {
        return bytes.contains(&b'\n');
    }
    match tls::read_server(bytes) {
        tls::Read::Reply(_) => return true,
        tls::Read::Incomplete if !bytes.is_empty() => return false,
        _ => {}
    }
    if is_http(bytes) {
        return http_complete(bytes);
    }
    if (bytes.starts_with(b"+") || bytes.starts_with(b"-")) && line(bytes).is_some() {
        return true;
    }
    if sent == Request::PgSslRequest && (bytes == b"N" || bytes == b"S") {
        return true;
    }
    if let Some((_, _, complete)) = pg_message(bytes) {
        if complete {
            return true;
        }
    }
    if let Some((_, complete)) = mysql_packet(bytes) {
        return complete;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    const LAB_ROUTER: &[u8] =
        b"HTTP/1.1 200 OK\r\nServer: gatehouse-lab\r\nContent-Type: text/html; \
charset=utf-8\r\nContent-Length: 120\r\nConnection: close\r\n\r\n<!doctype html>\n<html><head>\
<meta charset=\"utf-8\"><title>Home router - admin</title></head>\n<body><h1>Home router</h1>";

    #[test]
    fn http_status_title_and_server() {
        let f = classify(Request::Http, LAB_ROUTER);
        assert_eq!(
            f,
            Fingerprint::Http {
                status: 200,
                title: Some("Home router - admin".into()),
                server: Some("gatehouse-lab".into()),
            }
        );
        assert_eq!(f.summary(), "http 200 \"Home router - admin\"");
        assert!(is_complete(Request::Http, LAB_ROUTER));
        // nginx redirect, no title, title split across lines and with entities.
        let nginx = b"HTTP/1.1 301 Moved Permanently\r\nServer: nginx/1.22.1\r\nLocation: https://x/\r\n\r\n";
        assert_eq!(
            classify(Request::Http, nginx),
            Fingerprint::Http {
                status: 301,
                title: None,
                server: Some("nginx/1.22.1".into())
            }
        );
        let odd =
            b"HTTP/1.0 404 Not Found\r\n\r\n<HTML><TITLE>\n  Not\n\tFound &amp; gone </TITLE>";
        match classify(Request::Http, odd) {
            Fingerprint::Http { status, title, .. } => {
                assert_eq!(status, 404);
                assert_eq!(title.as_deref(), Some("Not Found & gone"));
            }
            other => panic!("{other:?}"),
        }
        assert!(is_complete(Request::Http, odd));
        // A head without a body or length is not complete until the peer closes.
        assert!(!is_complete(
            Request::Http,
            b"HTTP/1.1 200 OK\r\n\r\n<html>"
        ));
        assert!(!is_complete(Request::Http, b"HTTP/1.1 200 OK\r\n"));
        // A huge title is cut.
        let mut big = b"HTTP/1.1 200 OK\r\n\r\n<title>".to_vec();
        big.extend(std::iter::repeat_n(b'a', 5000));
        match classify(Request::Http, &big) {
            Fingerprint::Http { title: Some(t), .. } => assert_eq!(t.len(), MAX_TEXT),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn ssh_banners() {
        let f = classify(
            Request::Nothing,
            b"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3\r\n",
        );
        assert_eq!(
            f,
            Fingerprint::Ssh {
                banner: "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u3".into()
            }
        );
        assert!(is_complete(
            Request::Nothing,
            b"SSH-2.0-dropbear_2022.83\r\n"
        ));
        assert!(!is_complete(Request::Nothing, b"SSH-2.0-drop"));
        // Binary after SSH- is not a banner.
        assert_eq!(
            classify(Request::Nothing, b"SSH-\x00\x01\r\n").kind(),
            "unknown"
        );
    }

    #[test]
    fn redis_answers() {
        assert_eq!(
            classify(Request::RedisPing, b"+PONG\r\n"),
            Fingerprint::Redis {
                auth_required: false
            }
        );
        assert_eq!(
            classify(Request::RedisPing, b"-NOAUTH Authentication required.\r\n"),
            Fingerprint::Redis {
                auth_required: true
            }
        );
        assert!(is_complete(Request::RedisPing, b"+PONG\r\n"));
        assert!(!is_complete(Request::RedisPing, b"+PON"));
        assert_eq!(classify(Request::RedisPing, b"+OK\r\n").kind(), "unknown");
    }

    #[test]
    fn postgres_answers() {
        for (b, ssl) in [(&b"N"[..], false), (&b"S"[..], true)] {
            assert_eq!(
                classify(Request::PgSslRequest, b),
                Fingerprint::Postgres {
                    ssl: Some(ssl),
                    error: None
                }
            );
            assert!(is_complete(Request::PgSslRequest, b));
        }
        // A lone N to an HTTP request is not PostgreSQL.
        assert_eq!(classify(Request::Http, b"N").kind(), "unknown");
        // A FATAL error (e.g. to a protocol version it does not speak).
        let mut e = vec![b'E'];
        let body = b"SFATAL\0VFATAL\0C0A000\0Munsupported frontend protocol 1234.5679\0\0";
        e.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
        e.extend_from_slice(body);
        assert_eq!(
            classify(Request::PgSslRequest, &e),
            Fingerprint::Postgres {
                ssl: None,
                error: Some("unsupported frontend protocol 1234.5679".into())
            }
        );
        assert!(is_complete(Request::PgSslRequest, &e));
        assert!(!is_complete(Request::PgSslRequest, &e[..10]));
        // AuthenticationMD5Password.
        let r = [b'R', 0, 0, 0, 12, 0, 0, 0, 5, 1, 2, 3, 4];
        assert_eq!(classify(Request::Nothing, &r).kind(), "postgres");
    }

    fn mysql_greeting(version: &str) -> Vec<u8> {
        let mut p = vec![10];
        p.extend_from_slice(version.as_bytes());
        p.push(0);
        p.extend_from_slice(&42u32.to_le_bytes());
        p.extend_from_slice(b"abcdefgh");
        p.push(0);
        p.extend_from_slice(&[0xff, 0xf7, 0x21, 0x02, 0x00, 0xff, 0x81, 21]);
        p.extend_from_slice(&[0; 10]);
        p.extend_from_slice(b"ijklmnopqrst\0");
        p.extend_from_slice(b"caching_sha2_password\0");
        let mut out = (p.len() as u32).to_le_bytes()[..3].to_vec();
        out.push(0);
        out.extend_from_slice(&p);
        out
    }

    #[test]
    fn mysql_greetings_and_errors() {
        let g = mysql_greeting("8.0.36");
        assert_eq!(
            classify(Request::Nothing, &g),
            Fingerprint::Mysql {
                version: Some("8.0.36".into()),
                error: None
            }
        );
        assert!(is_complete(Request::Nothing, &g));
        assert!(!is_complete(Request::Nothing, &g[..20]));
        let maria = mysql_greeting("5.5.5-10.11.6-MariaDB-0+deb12u1");
        assert_eq!(
            classify(Request::Nothing, &maria).summary(),
            "mysql 5.5.5-10.11.6-MariaDB-0+deb12u1"
        );
        let msg = b"Host '10.100.0.2' is not allowed to connect to this MySQL server";
        let mut p = vec![0xff];
        p.extend_from_slice(&1130u16.to_le_bytes());
        p.extend_from_slice(msg);
        let mut e = (p.len() as u32).to_le_bytes()[..3].to_vec();
        e.push(0);
        e.extend_from_slice(&p);
        assert_eq!(
            classify(Request::Nothing, &e),
            Fingerprint::Mysql {
                version: None,
                error: Some(String::from_utf8_lossy(msg).into_owned())
            }
        );
    }

    #[test]
    fn tls_answers() {
        let alert = [0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46];
        assert_eq!(
            classify(Request::Http, &alert),
            Fingerprint::Tls {
                version: None,
                cipher: None,
                alert: Some(70)
            }
        );
        assert!(is_complete(Request::Http, &alert));
        assert!(!is_complete(Request::TlsHello, &alert[..4]));
    }

    #[test]
    fn requests_are_what_the_protocols_expect() {
        let h = Request::Http.bytes("10.20.1.11", 8080);
        assert!(h.starts_with(b"GET / HTTP/1.0\r\nHost: 10.20.1.11:8080\r\n"));
        assert!(h.ends_with(b"\r\n\r\n"));
        assert!(Request::Http
            .bytes("fd00::1", 81)
            .starts_with(b"GET / HTTP/1.0\r\nHost: [fd00::1]:81\r\n"));
        assert_eq!(
            Request::PgSslRequest.bytes("db", 5432),
            [0, 0, 0, 8, 4, 210, 22, 47]
        );
        assert_eq!(Request::RedisPing.bytes("c", 6379), b"*1\r\n$4\r\nPING\r\n");
        assert!(Request::Nothing.bytes("x", 22).is_empty());
        // SNI only for names.
        let by_name = Request::TlsHello.bytes("router.home.internal", 443);
        let by_ip = Request::TlsHello.bytes("192.168.1.1", 443);
        assert!(by_name.len() > by_ip.len());
    }

    #[test]
    fn hostile_bytes_are_unknown_never_a_panic() {
        assert_eq!(classify(Request::Http, b""), Fingerprint::Silent);
        assert!(!is_complete(Request::Http, b""));
        let u = classify(Request::Nothing, b"\x00\x01\x02garbage\xff");
        assert_eq!(
            u,
            Fingerprint::Unknown {
                bytes: 11,
                preview: "\\x00\\x01\\x02garbage\\xff".into()
            }
        );
        // Huge input: bounded, and complete (the driver stops reading).
        let huge = vec![b'A'; 10 * MAX_READ];
        assert_eq!(classify(Request::Http, &huge).kind(), "unknown");
        assert!(is_complete(Request::Http, &huge));
        // Truncations and byte flips of every real answer.
        let samples: Vec<Vec<u8>> = vec![
            LAB_ROUTER.to_vec(),
            b"SSH-2.0-OpenSSH_9.2p1\r\n".to_vec(),
            b"-NOAUTH Authentication required.\r\n".to_vec(),
            mysql_greeting("8.0.36"),
            vec![b'E', 0, 0, 0, 9, b'S', b'E', 0, 0],
            vec![0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x46],
            b"HTTP/1.1 2x0 OK\r\n\r\n".to_vec(),
            b"HTTP/1.1\r\n".to_vec(),
            vec![0xff; 64],
            vec![0x00; 64],
        ];
        for s in &samples {
            for sent in [
                Request::Nothing,
                Request::Http,
                Request::TlsHello,
                Request::RedisPing,
                Request::PgSslRequest,
            ] {
                for i in 0..=s.len() {
                    let _ = classify(sent, &s[..i]);
                    let _ = is_complete(sent, &s[..i]);
                }
                for i in 0..s.len() {
                    let mut b = s.clone();
                    b[i] ^= 0x5a;
                    let _ = classify(sent, &b).summary();
                }
            }
        }
        // Non-UTF-8 title bytes survive as replacement characters.
        let f = classify(
            Request::Http,
            b"HTTP/1.1 200 OK\r\n\r\n<title>\xff\xfe</title>",
        );
        assert_eq!(f.kind(), "http");
    }
}
