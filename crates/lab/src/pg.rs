//! The database: enough of the PostgreSQL v3 protocol for `psql` to connect and ask a question.
//!
//! * SSLRequest / GSSENCRequest → `N` (no encryption, the client goes on in clear);
//! * StartupMessage with user `demo` or `app` → AuthenticationOk, ParameterStatus
//!   (`server_version` …), BackendKeyData, ReadyForQuery; any other user → ErrorResponse
//!   `28P01 password authentication failed for user "…"`;
//! * simple queries: `SELECT version()`, `SELECT 1`, `SELECT current_user`; anything else gets an
//!   ErrorResponse and the session goes on; the extended protocol gets one ErrorResponse per
//!   batch and ReadyForQuery at Sync; Terminate closes.

/// The `server_version` the lab's database reports.
pub const SERVER_VERSION: &str = "16.4 (gatehouse lab)";
/// Users admitted without a password.
pub const USERS: &[&str] = &["demo", "app"];
/// Longest message accepted (startup or regular).
pub const MAX_MESSAGE: usize = 64 * 1024;

const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;
const CANCEL_REQUEST: u32 = 80_877_102;

/// A message from the client before authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Startup {
    /// More bytes are needed.
    Incomplete,
    /// SSLRequest (and how many bytes it used).
    Ssl(usize),
    /// GSSENCRequest.
    Gss(usize),
    /// CancelRequest.
    Cancel(usize),
    /// StartupMessage of protocol 3.x with its parameters (`user`, `database`…).
    Startup {
        /// Protocol minor version.
        minor: u16,
        /// Parameters in order.
        params: Vec<(String, String)>,
        /// Bytes used.
        used: usize,
    },
    /// A protocol version the lab does not speak.
    Unsupported(u32),
    /// Not a PostgreSQL startup packet.
    Invalid(&'static str),
}

/// Parses the startup-phase message at the start of `buf`. Never panics.
pub fn parse_startup(buf: &[u8]) -> Startup {
    let Some(len) = buf.get(..4) else {
        return Startup::Incomplete;
    };
    let len = u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize;
    if !(8..=MAX_MESSAGE).contains(&len) {
        return Startup::Invalid("invalid length of startup packet");
    }
    let Some(msg) = buf.get(..len) else {
        return Startup::Incomplete;
    };
    let code = u32::from_be_bytes([msg[4], msg[5], msg[6], msg[7]]);
    match code {
        SSL_REQUEST if len == 8 => Startup::Ssl(len),
        GSSENC_REQUEST if len == 8 => Startup::Gss(len),
        CANCEL_REQUEST if len == 16 => Startup::Cancel(len),
        SSL_REQUEST | GSSENC_REQUEST | CANCEL_REQUEST => {
            Startup::Invalid("invalid length of startup packet")
        }
        c if c >> 16 == 3 => {
            let mut params = Vec::new();
            let mut fields = msg[8..].split(|&b| b == 0);
            loop {
                let Some(key) = fields.next() else {
                    return Startup::Invalid("missing terminator in startup packet");
                };
                if key.is_empty() {
                    break;
                }
                let Some(value) = fields.next() else {
                    return Startup::Invalid("missing value in startup packet");
                };
                params.push((
                    String::from_utf8_lossy(key).into_owned(),
                    String::from_utf8_lossy(value).into_owned(),
                ));
            }
            Startup::Startup {
                minor: (c & 0xffff) as u16,
                params,
                used: len,
            }
        }
        c => Startup::Unsupported(c),
    }
}

fn message(out: &mut Vec<u8>, tag: u8, body: &[u8]) {
    out.push(tag);
    out.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    out.extend_from_slice(body);
}

fn cstr(body: &mut Vec<u8>, s: &str) {
    body.extend(s.bytes().filter(|&b| b != 0));
    body.push(0);
}

/// Appends an ErrorResponse (`severity`, SQLSTATE `code`, `text`).
pub fn error_response(out: &mut Vec<u8>, severity: &str, code: &str, text: &str) {
    let mut body = Vec::new();
    for (field, value) in [
        (b'S', severity),
        (b'V', severity),
        (b'C', code),
        (b'M', text),
    ] {
        body.push(field);
        cstr(&mut body, value);
    }
    body.push(0);
    message(out, b'E', &body);
}

fn ready(out: &mut Vec<u8>) {
    message(out, b'Z', b"I");
}

fn parameter(out: &mut Vec<u8>, key: &str, value: &str) {
    let mut body = Vec::new();
    cstr(&mut body, key);
    cstr(&mut body, value);
    message(out, b'S', &body);
}

fn single_row(out: &mut Vec<u8>, column: &str, value: &str) {
    let mut body = Vec::new();
    body.extend_from_slice(&1u16.to_be_bytes());
    cstr(&mut body, column);
    body.extend_from_slice(&0u32.to_be_bytes()); // table oid
    body.extend_from_slice(&0u16.to_be_bytes()); // column number
    body.extend_from_slice(&25u32.to_be_bytes()); // type oid: text
    body.extend_from_slice(&(-1i16).to_be_bytes()); // type size: variable
    body.extend_from_slice(&(-1i32).to_be_bytes()); // type modifier
    body.extend_from_slice(&0u16.to_be_bytes()); // format: text
    message(out, b'T', &body);
    let mut row = Vec::new();
    row.extend_from_slice(&1u16.to_be_bytes());
    row.extend_from_slice(&(value.len() as u32).to_be_bytes());
    row.extend_from_slice(value.as_bytes());
    message(out, b'D', &row);
    let mut done = Vec::new();
    cstr(&mut done, "SELECT 1");
    message(out, b'C', &done);
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Phase {
    Startup,
    Ready {
        user: String,
    },
    /// Extended protocol after an error: skip until Sync.
    SkipToSync {
        user: String,
    },
}

/// One client connection of the database.
#[derive(Debug)]
pub struct Connection {
    input: Vec<u8>,
    phase: Phase,
    pid: u32,
}

impl Connection {
    /// A new connection; `pid` is reported in BackendKeyData.
    pub fn new(pid: u32) -> Connection {
        Connection {
            input: Vec::new(),
            phase: Phase::Startup,
            pid,
        }
    }

    /// Feeds received bytes and appends the answers to `out`. Returns false when the
    /// connection must close once `out` is sent.
    pub fn feed(&mut self, data: &[u8], out: &mut Vec<u8>) -> bool {
        self.input.extend_from_slice(data);
        loop {
            let step = match &self.phase {
                Phase::Startup => self.startup(out),
                Phase::Ready { .. } | Phase::SkipToSync { .. } => self.regular(out),
            };
            match step {
                Step::More => return true,
                Step::Again => continue,
                Step::Close => return false,
            }
        }
    }

    fn startup(&mut self, out: &mut Vec<u8>) -> Step {
        match parse_startup(&self.input) {
            Startup::Incomplete => Step::More,
            Startup::Ssl(used) | Startup::Gss(used) => {
                self.input.drain(..used);
                out.push(b'N');
                Step::Again
            }
            Startup::Cancel(_) => Step::Close,
            Startup::Unsupported(code) => {
                let text = format!(
                    "unsupported frontend protocol {}.{}: server supports 3.0 to 3.0",
                    code >> 16,
                    code & 0xffff
                );
                error_response(out, "FATAL", "0A000", &text);
                Step::Close
            }
            Startup::Invalid(why) => {
                error_response(out, "FATAL", "08P01", why);
                Step::Close
            }
            Startup::Startup {
                minor,
                params,
                used,
            } => {
                self.input.drain(..used);
                let user = params
                    .iter()
                    .find(|(k, _)| k == "user")
                    .map(|(_, v)| v.clone())
                    .unwrap_or_default();
                if !USERS.contains(&user.as_str()) {
                    let shown: String = user.chars().take(63).collect();
                    error_response(
                        out,
                        "FATAL",
                        "28P01",
                        &format!("password authentication failed for user \"{shown}\""),
                    );
                    return Step::Close;
                }
                if minor > 0 {
                    // NegotiateProtocolVersion: we speak 3.0, no options.
                    let mut body = Vec::new();
                    body.extend_from_slice(&0u32.to_be_bytes());
                    body.extend_from_slice(&0u32.to_be_bytes());
                    message(out, b'v', &body);
                }
                message(out, b'R', &0u32.to_be_bytes());
                for (k, v) in [
                    ("server_version", SERVER_VERSION),
                    ("server_encoding", "UTF8"),
                    ("client_encoding", "UTF8"),
                    ("DateStyle", "ISO, MDY"),
                    ("integer_datetimes", "on"),
                    ("standard_conforming_strings", "on"),
                    ("TimeZone", "UTC"),
                ] {
                    parameter(out, k, v);
                }
                let mut key = Vec::new();
                key.extend_from_slice(&self.pid.to_be_bytes());
                key.extend_from_slice(&0x005e_c2e7_u32.to_be_bytes());
                message(out, b'K', &key);
                ready(out);
                self.phase = Phase::Ready { user };
                Step::Again
            }
        }
    }

    fn regular(&mut self, out: &mut Vec<u8>) -> Step {
        let Some(head) = self.input.get(..5) else {
            return Step::More;
        };
        let tag = head[0];
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        if !(4..=MAX_MESSAGE).contains(&len) {
            error_response(out, "FATAL", "08P01", "invalid message length");
            return Step::Close;
        }
        let Some(body) = self.input.get(5..1 + len) else {
            return Step::More;
        };
        let body = body.to_vec();
        self.input.drain(..1 + len);
        let (user, skipping) = match &self.phase {
            Phase::Ready { user } => (user.clone(), false),
            Phase::SkipToSync { user } => (user.clone(), true),
            Phase::Startup => return Step::Close,
        };
        match tag {
            b'X' => return Step::Close,
            b'Q' => {
                let sql = String::from_utf8_lossy(body.split(|&b| b == 0).next().unwrap_or(&[]))
                    .into_owned();
                self.query(&sql, &user, out);
                ready(out);
            }
            b'S' => {
                self.phase = Phase::Ready { user };
                ready(out);
            }
            b'H' => {}
            b'P' | b'B' | b'D' | b'E' | b'C' | b'F' => {
                if !skipping {
                    error_response(
                        out,
                        "ERROR",
                        "0A000",
                        "the lab database speaks only the simple query protocol",
                    );
                    self.phase = Phase::SkipToSync { user };
                }
            }
            other => {
                error_response(
                    out,
                    "FATAL",
                    "08P01",
                    &format!("invalid frontend message type {other}"),
                );
                return Step::Close;
            }
        }
        Step::Again
    }

    fn query(&self, sql: &str, user: &str, out: &mut Vec<u8>) {
        let normal: String = sql
            .trim()
            .trim_end_matches(';')
            .trim()
            .to_ascii_lowercase()
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        match normal.as_str() {
            "" => message(out, b'I', b""),
            "select version()" => single_row(
                out,
                "version",
                &format!("PostgreSQL {SERVER_VERSION} on db.internal"),
            ),
            "select 1" => single_row(out, "?column?", "1"),
            "select current_user" => single_row(out, "current_user", user),
            _ => error_response(
                out,
                "ERROR",
                "0A000",
                "the lab database answers only SELECT version(), SELECT 1 and SELECT current_user",
            ),
        }
    }
}

enum Step {
    More,
    Again,
    Close,
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROTOCOL_3_0: u32 = 196_608;

    fn startup_message(user: &str) -> Vec<u8> {
        let mut body = PROTOCOL_3_0.to_be_bytes().to_vec();
        for s in ["user", user, "database", "lab", ""] {
            body.extend_from_slice(s.as_bytes());
            body.push(0);
        }
        let mut msg = ((body.len() + 4) as u32).to_be_bytes().to_vec();
        msg.extend_from_slice(&body);
        msg
    }

    /// Splits backend output into (tag, body) messages; the single 'N' byte is tag only.
    fn messages(mut out: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let mut v = Vec::new();
        while let Some(&tag) = out.first() {
            if tag == b'N' && v.is_empty() {
                v.push((b'N', Vec::new()));
                out = &out[1..];
                continue;
            }
            let len = u32::from_be_bytes([out[1], out[2], out[3], out[4]]) as usize;
            v.push((tag, out[5..1 + len].to_vec()));
            out = &out[1 + len..];
        }
        v
    }

    #[test]
    fn ssl_request_then_startup_then_query() {
        let mut c = Connection::new(42);
        let mut out = Vec::new();
        let mut ssl = 8u32.to_be_bytes().to_vec();
        ssl.extend_from_slice(&SSL_REQUEST.to_be_bytes());
        assert!(c.feed(&ssl, &mut out));
        assert_eq!(out, b"N");
        out.clear();
        // The startup message arrives in two pieces.
        let msg = startup_message("demo");
        assert!(c.feed(&msg[..5], &mut out));
        assert!(out.is_empty());
        assert!(c.feed(&msg[5..], &mut out));
        let tags: Vec<u8> = messages(&out).iter().map(|m| m.0).collect();
        assert_eq!(tags.first(), Some(&b'R'));
        assert_eq!(tags.last(), Some(&b'Z'));
        let ms = messages(&out);
        assert_eq!(ms[0].1, 0u32.to_be_bytes());
        assert!(ms
            .iter()
            .any(|(t, b)| *t == b'S' && b.starts_with(b"server_version\0")));
        out.clear();
        let mut q = vec![b'Q'];
        q.extend_from_slice(&22u32.to_be_bytes());
        q.extend_from_slice(b"SELECT version();\0");
        assert!(c.feed(&q, &mut out));
        let ms = messages(&out);
        let tags: Vec<u8> = ms.iter().map(|m| m.0).collect();
        assert_eq!(tags, b"TDCZ");
        assert!(String::from_utf8_lossy(&ms[1].1).contains("gatehouse lab"));
        out.clear();
        assert!(!c.feed(&[b'X', 0, 0, 0, 4], &mut out));
    }

    #[test]
    fn unknown_users_get_a_password_error() {
        let mut c = Connection::new(1);
        let mut out = Vec::new();
        assert!(!c.feed(&startup_message("mallory"), &mut out));
        let ms = messages(&out);
        assert_eq!(ms.len(), 1);
        assert_eq!(ms[0].0, b'E');
        let text = String::from_utf8_lossy(&ms[0].1);
        assert!(text.contains("28P01"));
        assert!(text.contains("password authentication failed for user \"mallory\""));
    }

    #[test]
    fn hostile_startups_are_refused_without_panic() {
        assert_eq!(parse_startup(&[0, 0]), Startup::Incomplete);
        assert!(matches!(
            parse_startup(&[0, 0, 0, 2, 1, 2]),
            Startup::Invalid(_)
        ));
        assert!(matches!(
            parse_startup(&[0xff, 0xff, 0xff, 0xff]),
            Startup::Invalid(_)
        ));
        assert_eq!(
            parse_startup(&[0, 0, 0, 8, 0, 2, 0, 0]),
            Startup::Unsupported(2 << 16)
        );
        // Parameters without terminator.
        let mut bad = 14u32.to_be_bytes().to_vec();
        bad.extend_from_slice(&PROTOCOL_3_0.to_be_bytes());
        bad.extend_from_slice(b"user\0x");
        assert!(matches!(parse_startup(&bad), Startup::Invalid(_)));
        // HTTP sent to the database.
        let mut out = Vec::new();
        assert!(!Connection::new(1).feed(b"GET / HTTP/1.1\r\n\r\n", &mut out));
        assert_eq!(out.first(), Some(&b'E'));
        for seed in 0u32..3000 {
            let mut x = seed.wrapping_mul(2_654_435_761) | 1;
            let bytes: Vec<u8> = (0..(seed % 48))
                .map(|i| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    if i < 3 {
                        0
                    } else {
                        x as u8
                    }
                })
                .collect();
            let mut out = Vec::new();
            let mut c = Connection::new(1);
            let _ = c.feed(&startup_message("demo"), &mut out);
            let _ = c.feed(&bytes, &mut out);
            let _ = Connection::new(2).feed(&bytes, &mut out);
        }
    }

    #[test]
    fn extended_protocol_gets_one_error_then_ready_at_sync() {
        let mut c = Connection::new(1);
        let mut out = Vec::new();
        c.feed(&startup_message("app"), &mut out);
        out.clear();
        let mut batch = Vec::new();
        for tag in [b'P', b'B', b'E'] {
            batch.extend_from_slice(&[tag, 0, 0, 0, 4]);
        }
        batch.extend_from_slice(&[b'S', 0, 0, 0, 4]);
        assert!(c.feed(&batch, &mut out));
        let tags: Vec<u8> = messages(&out).iter().map(|m| m.0).collect();
        assert_eq!(tags, b"EZ");
    }
}
