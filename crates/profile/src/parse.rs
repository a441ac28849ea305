//! Parsing the wg-quick(8) `.conf` format into a [`Config`].
//!
//! Accepts what wg-quick(8) and wg(8) accept, with these deliberate differences (all safer):
//!
//! * A single-valued key given twice in one section (`MTU`, `PrivateKey`, `Endpoint`, …) is an
//!   error ([`ParseErrorKind::DuplicateKey`]); wg(8) silently keeps the last one.
//! * Two `[Peer]`s with the same `PublicKey` are an error; wg(8) merges them.
//! * A second `[Interface]` section is an error; wg-quick(8) merges them.
//! * An empty value (`PrivateKey =`, `PreDown =`, `PrivateKey = # paste here`) is an error.
//! * An empty entry in a comma list (`Address = 10.0.0.1/24,`) is an error.
//! * Ports (`ListenPort`, `Endpoint`) must be numbers; wg(8) would also look up service names.
//!
//! The lexical rules are wg-quick's: `#` starts a comment anywhere on a line, keys and section
//! names are case-insensitive, whitespace around keys, `=` and values is ignored, CRLF line
//! endings and a missing final newline are fine, and the value is everything after the first `=`
//! (so hook commands are kept verbatim, minus surrounding whitespace). A UTF-8 byte order mark at
//! the start of the file is ignored (columns on line 1 are counted after it).
//!
//! Errors carry `file:line:col` and the offending line, with the value of `PrivateKey` and
//! `PresharedKey` lines (and of unknown keys, which may be misspelt secrets) redacted, and any
//! long base64-looking run on other lines (except `PublicKey`) redacted too.

use crate::key::{Key, Secret};
use crate::model::{Config, DnsEntry, Endpoint, Host, Interface, Peer, Table};
use ipnet::IpNet;
use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::Path;

/// A wg-quick file could not be read or parsed.
///
/// `Display` renders `file:line:col: what is wrong`, then the offending line (secrets redacted)
/// and a caret under the column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// The file name shown in messages.
    pub file: String,
    /// 1-based line number; 0 when the file could not be read at all.
    pub line: usize,
    /// 1-based column (in characters) of the offending value or token; 0 with `line == 0`.
    pub col: usize,
    /// What is wrong.
    pub kind: ParseErrorKind,
    /// The offending line as shown to the user, with secrets redacted (empty when `line == 0`).
    pub source_line: String,
    /// 1-based column of the caret inside `source_line` (differs from `col` after redaction).
    caret_col: usize,
}

impl std::error::Error for ParseError {}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            return write!(f, "{}: {}", self.file, self.kind);
        }
        write!(f, "{}:{}:{}: {}", self.file, self.line, self.col, self.kind)?;
        let caret: String = self
            .source_line
            .chars()
            .take(self.caret_col.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        write!(f, "\n    {}\n    {caret}^", self.source_line)
    }
}

/// What is wrong with a wg-quick file. Messages never contain a secret value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The file could not be read (`line` and `col` are 0).
    #[error("cannot read the file: {message}")]
    Io {
        /// The I/O error kind.
        kind: std::io::ErrorKind,
        /// The I/O error message.
        message: String,
    },
    /// The file is not UTF-8 text; the position is the first invalid byte.
    #[error("the file is not UTF-8 text")]
    NotUtf8,
    /// A `Key = value` line before any `[Interface]` or `[Peer]` header.
    #[error("`{key}` is outside a section: put it under [Interface] or [Peer]")]
    OutsideSection {
        /// The key as written (sanitised).
        key: String,
    },
    /// A section header other than `[Interface]` or `[Peer]`.
    #[error("unknown section `[{name}]`: expected [Interface] or [Peer]")]
    UnknownSection {
        /// The name between the brackets (sanitised).
        name: String,
    },
    /// A line starting with `[` that is not a whole `[Name]` header.
    #[error("malformed section header: expected `[Interface]` or `[Peer]` alone on the line")]
    BadSectionHeader,
    /// A second `[Interface]` section.
    #[error("second [Interface] section (the first one is on line {first_line})")]
    DuplicateInterface {
        /// Line of the first `[Interface]` header.
        first_line: usize,
    },
    /// A line that is neither a header, a comment nor `Key = value`.
    #[error("expected `Key = value`, a `[Section]` header or a `#` comment")]
    NotKeyValue,
    /// A key neither wg-quick(8) nor wg(8) knows.
    #[error("unknown key `{key}` in [{section}]")]
    UnknownKey {
        /// The section the key is in.
        section: &'static str,
        /// The key as written (sanitised: never a secret-looking text).
        key: String,
    },
    /// A known key in the other section (e.g. `PublicKey` in `[Interface]`).
    #[error("`{key}` belongs in [{expected}], not in [{section}]")]
    WrongSection {
        /// The key, in its usual spelling.
        key: &'static str,
        /// The section it was found in.
        section: &'static str,
        /// The section it belongs to.
        expected: &'static str,
    },
    /// `Key =` with nothing (or only a comment) after the `=`.
    #[error("`{key}` has no value")]
    EmptyValue {
        /// The key, in its usual spelling.
        key: &'static str,
    },
    /// A single-valued key given twice in one section (wg(8) would keep the last one silently).
    #[error("`{key}` is given twice in this section (first on line {first_line})")]
    DuplicateKey {
        /// The key, in its usual spelling.
        key: &'static str,
        /// Line of the first occurrence.
        first_line: usize,
    },
    /// `PrivateKey`, `PublicKey` or `PresharedKey` is not 32 bytes of base64.
    #[error("`{key}` is not a valid key: {reason}")]
    InvalidKey {
        /// The key, in its usual spelling.
        key: &'static str,
        /// Why (never contains the value).
        reason: String,
    },
    /// Any other value that does not parse (`Address`, `Endpoint`, `MTU`, …).
    #[error("`{key}`: {reason}")]
    InvalidValue {
        /// The key, in its usual spelling.
        key: &'static str,
        /// Why, quoting the offending text.
        reason: String,
    },
    /// A `[Peer]` section without `PublicKey` (the position is its header).
    #[error("[Peer] section has no `PublicKey`")]
    MissingPublicKey,
    /// Two `[Peer]`s with the same `PublicKey`.
    #[error("duplicate peer: this `PublicKey` is already used by the [Peer] on line {first_line}")]
    DuplicatePeer {
        /// Line of the first peer's `[Peer]` header.
        first_line: usize,
    },
}

/// Parses wg-quick text. `file` is the name shown in error messages.
pub fn parse(text: &str, file: &str) -> Result<Config, ParseError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut p = Parser::new(file);
    for (i, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        p.line(i + 1, raw)?;
    }
    p.finish()
}

/// Reads and parses a wg-quick file; the file name in errors is `path` as displayed.
pub fn parse_file(path: &Path) -> Result<Config, ParseError> {
    let file = path.display().to_string();
    let bytes = zeroize::Zeroizing::new(std::fs::read(path).map_err(|e| ParseError {
        file: file.clone(),
        line: 0,
        col: 0,
        kind: ParseErrorKind::Io {
            kind: e.kind(),
            message: e.to_string(),
        },
        source_line: String::new(),
        caret_col: 0,
    })?);
    match std::str::from_utf8(&bytes) {
        Ok(text) => parse(text, &file),
        Err(e) => Err(not_utf8(&file, &bytes, e.valid_up_to())),
    }
}

fn not_utf8(file: &str, bytes: &[u8], bad: usize) -> ParseError {
    let before = bytes.get(..bad).unwrap_or(bytes);
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    let line_no = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let rest = bytes.get(line_start..).unwrap_or(&[]);
    let line_end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let line_bytes = rest.get(..line_end).unwrap_or(rest);
    let line = String::from_utf8_lossy(line_bytes);
    let line = line.strip_suffix('\r').unwrap_or(&line);
    let valid = String::from_utf8_lossy(bytes.get(line_start..bad).unwrap_or(&[]));
    make_error(file, line_no, line, valid.len(), ParseErrorKind::NotUtf8)
}

/// Whitespace as wg-quick's `[[:space:]]` trims it (ASCII only).
fn is_ws(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\r' | '\x0b' | '\x0c')
}

fn make_error(
    file: &str,
    line_no: usize,
    raw: &str,
    off: usize,
    kind: ParseErrorKind,
) -> ParseError {
    let off = floor_boundary(raw, off);
    let col = raw.get(..off).map_or(1, |s| s.chars().count() + 1);
    let (source_line, caret_col) = redact(raw, off);
    ParseError {
        file: file.to_string(),
        line: line_no,
        col,
        kind,
        source_line,
        caret_col,
    }
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    if i >= s.len() {
        return s.len();
    }
    while i > 0 && !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

const REDACTED: &str = "<redacted>";

/// The line as shown in an error, and the caret column in it for byte offset `off` of `raw`.
fn redact(raw: &str, off: usize) -> (String, usize) {
    let content = raw.find('#').map_or(raw, |i| raw.get(..i).unwrap_or(raw));
    // Lines of secret (or unknown, maybe misspelt secret) keys: hide the whole value.
    if let Some(eq) = content.find('=') {
        let key: String = content
            .get(..eq)
            .unwrap_or("")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let hide = match Field::lookup(&key) {
            Some(f) => f.is_secret(),
            None => !key.is_empty() && !key.starts_with('['),
        };
        let after = content.get(eq + 1..).unwrap_or("");
        let value_start = eq + 1 + (after.len() - after.trim_start_matches(is_ws).len());
        if hide {
            let has_value = value_start < content.len();
            let mut shown = raw.get(..value_start).unwrap_or("").to_string();
            if has_value {
                shown.push_str(REDACTED);
            } else if content.len() < raw.len() {
                // Only a comment after the `=`: it may hold the key, hide it too.
                shown.push('#');
                shown.push_str(REDACTED);
            }
            let caret = raw
                .get(..off.min(value_start))
                .map_or(1, |s| s.chars().count() + 1);
            return (shown, caret);
        }
        if matches!(Field::lookup(&key), Some(Field::PublicKey)) {
            let caret = raw.get(..off).map_or(1, |s| s.chars().count() + 1);
            return (raw.to_string(), caret);
        }
    }
    // Anywhere else: hide long base64-looking runs (a key pasted in the wrong place).
    let mut shown = String::with_capacity(raw.len());
    let mut caret = None;
    let mut chars = raw.char_indices().peekable();
    let mut shown_chars = 0usize;
    while let Some(&(i, c)) = chars.peek() {
        if caret.is_none() && i >= off {
            caret = Some(shown_chars + 1);
        }
        if is_b64(c) {
            let start = i;
            let mut end = i;
            while let Some(&(j, d)) = chars.peek() {
                if !is_b64(d) {
                    break;
                }
                end = j + d.len_utf8();
                chars.next();
            }
            let run = raw.get(start..end).unwrap_or("");
            if run.len() >= 40 {
                if caret.is_none() && off < end {
                    caret = Some(shown_chars + 1);
                }
                shown.push_str(REDACTED);
                shown_chars += REDACTED.len();
            } else {
                if caret.is_none() && off < end {
                    caret = Some(
                        shown_chars + raw.get(start..off).map_or(0, |s| s.chars().count()) + 1,
                    );
                }
                shown.push_str(run);
                shown_chars += run.chars().count();
            }
        } else {
            shown.push(c);
            shown_chars += 1;
            chars.next();
        }
    }
    (shown, caret.unwrap_or(shown_chars + 1))
}

fn is_b64(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '='
}

/// A key name made safe to quote in a message: short identifiers only.
fn sanitise(name: &str) -> String {
    let ok = name.len() <= 32
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | ' ' | '.'));
    if ok {
        name.to_string()
    } else {
        REDACTED.to_string()
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Sect {
    Interface,
    Peer,
}

impl Sect {
    fn name(self) -> &'static str {
        match self {
            Sect::Interface => "Interface",
            Sect::Peer => "Peer",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Field {
    PrivateKey,
    ListenPort,
    FwMark,
    Address,
    Dns,
    Mtu,
    Table,
    PreUp,
    PostUp,
    PreDown,
    PostDown,
    SaveConfig,
    PublicKey,
    PresharedKey,
    AllowedIps,
    Endpoint,
    PersistentKeepalive,
}

const FIELDS: [Field; 17] = [
    Field::PrivateKey,
    Field::ListenPort,
    Field::FwMark,
    Field::Address,
    Field::Dns,
    Field::Mtu,
    Field::Table,
    Field::PreUp,
    Field::PostUp,
    Field::PreDown,
    Field::PostDown,
    Field::SaveConfig,
    Field::PublicKey,
    Field::PresharedKey,
    Field::AllowedIps,
    Field::Endpoint,
    Field::PersistentKeepalive,
];

impl Field {
    fn name(self) -> &'static str {
        match self {
            Field::PrivateKey => "PrivateKey",
            Field::ListenPort => "ListenPort",
            Field::FwMark => "FwMark",
            Field::Address => "Address",
            Field::Dns => "DNS",
            Field::Mtu => "MTU",
            Field::Table => "Table",
            Field::PreUp => "PreUp",
            Field::PostUp => "PostUp",
            Field::PreDown => "PreDown",
            Field::PostDown => "PostDown",
            Field::SaveConfig => "SaveConfig",
            Field::PublicKey => "PublicKey",
            Field::PresharedKey => "PresharedKey",
            Field::AllowedIps => "AllowedIPs",
            Field::Endpoint => "Endpoint",
            Field::PersistentKeepalive => "PersistentKeepalive",
        }
    }

    fn lookup(key: &str) -> Option<Field> {
        FIELDS
            .iter()
            .copied()
            .find(|f| f.name().eq_ignore_ascii_case(key))
    }

    fn section(self) -> Sect {
        match self {
            Field::PublicKey
            | Field::PresharedKey
            | Field::AllowedIps
            | Field::Endpoint
            | Field::PersistentKeepalive => Sect::Peer,
            _ => Sect::Interface,
        }
    }

    /// Keys that may be given on several lines (their values accumulate).
    fn repeatable(self) -> bool {
        matches!(
            self,
            Field::Address
                | Field::Dns
                | Field::PreUp
                | Field::PostUp
                | Field::PreDown
                | Field::PostDown
                | Field::AllowedIps
        )
    }

    fn is_secret(self) -> bool {
        matches!(self, Field::PrivateKey | Field::PresharedKey)
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// A value error: byte offset inside the value, and the message.
struct VErr {
    off: usize,
    kind: ParseErrorKind,
}

fn invalid(key: Field, off: usize, reason: String) -> VErr {
    VErr {
        off,
        kind: ParseErrorKind::InvalidValue {
            key: key.name(),
            reason,
        },
    }
}

struct PeerState {
    header_line: usize,
    header_raw: String,
    header_off: usize,
    seen: [Option<usize>; 17],
    public_key: Option<Key>,
    preshared_key: Option<Secret>,
    allowed_ips: Vec<IpNet>,
    endpoint: Option<Endpoint>,
    persistent_keepalive: Option<u16>,
}

enum State {
    None,
    Interface,
    Peer(Box<PeerState>),
}

struct Parser<'f> {
    file: &'f str,
    state: State,
    interface_line: Option<usize>,
    interface_seen: [Option<usize>; 17],
    interface: Interface,
    peers: Vec<Peer>,
    peer_lines: HashMap<Key, usize>,
}

impl<'f> Parser<'f> {
    fn new(file: &'f str) -> Self {
        Parser {
            file,
            state: State::None,
            interface_line: None,
            interface_seen: [None; 17],
            interface: Interface::default(),
            peers: Vec::new(),
            peer_lines: HashMap::new(),
        }
    }

    fn err(&self, line_no: usize, raw: &str, off: usize, kind: ParseErrorKind) -> ParseError {
        make_error(self.file, line_no, raw, off, kind)
    }

    fn line(&mut self, no: usize, raw: &str) -> Result<(), ParseError> {
        let content = raw.find('#').map_or(raw, |i| raw.get(..i).unwrap_or(raw));
        let body = content.trim_matches(is_ws);
        if body.is_empty() {
            return Ok(());
        }
        let lead = content.len() - content.trim_start_matches(is_ws).len();
        if body.starts_with('[') {
            return self.header(no, raw, lead, body);
        }
        let Some(eq) = content.find('=') else {
            return Err(self.err(no, raw, lead, ParseErrorKind::NotKeyValue));
        };
        let key = content.get(..eq).unwrap_or("").trim_matches(is_ws);
        if key.is_empty() {
            return Err(self.err(no, raw, eq, ParseErrorKind::NotKeyValue));
        }
        let after = content.get(eq + 1..).unwrap_or("");
        let voff = eq + 1 + (after.len() - after.trim_start_matches(is_ws).len());
        let value = after.trim_matches(is_ws);

        let sect = match self.state {
            State::None => {
                return Err(self.err(
                    no,
                    raw,
                    lead,
                    ParseErrorKind::OutsideSection { key: sanitise(key) },
                ))
            }
            State::Interface => Sect::Interface,
            State::Peer(_) => Sect::Peer,
        };
        let Some(field) = Field::lookup(key) else {
            return Err(self.err(
                no,
                raw,
                lead,
                ParseErrorKind::UnknownKey {
                    section: sect.name(),
                    key: sanitise(key),
                },
            ));
        };
        if field.section() != sect {
            return Err(self.err(
                no,
                raw,
                lead,
                ParseErrorKind::WrongSection {
                    key: field.name(),
                    section: sect.name(),
                    expected: field.section().name(),
                },
            ));
        }
        if value.is_empty() {
            return Err(self.err(
                no,
                raw,
                voff,
                ParseErrorKind::EmptyValue { key: field.name() },
            ));
        }
        if !field.repeatable() {
            let seen = match &mut self.state {
                State::Peer(p) => &mut p.seen,
                _ => &mut self.interface_seen,
            };
            if let Some(first) = seen.get(field.index()).copied().flatten() {
                return Err(self.err(
                    no,
                    raw,
                    lead,
                    ParseErrorKind::DuplicateKey {
                        key: field.name(),
                        first_line: first,
                    },
                ));
            }
            if let Some(slot) = seen.get_mut(field.index()) {
                *slot = Some(no);
            }
        }
        let r = match field.section() {
            Sect::Interface => self.interface_value(field, value),
            Sect::Peer => self.peer_value(field, value),
        };
        r.map_err(|e| self.err(no, raw, voff + e.off, e.kind))
    }

    fn header(&mut self, no: usize, raw: &str, lead: usize, body: &str) -> Result<(), ParseError> {
        let Some(close) = body.find(']') else {
            return Err(self.err(no, raw, lead, ParseErrorKind::BadSectionHeader));
        };
        if close + 1 != body.len() {
            return Err(self.err(no, raw, lead + close + 1, ParseErrorKind::BadSectionHeader));
        }
        let name = body.get(1..close).unwrap_or("").trim_matches(is_ws);
        if name.eq_ignore_ascii_case("interface") {
            self.finish_peer()?;
            if let Some(first) = self.interface_line {
                return Err(self.err(
                    no,
                    raw,
                    lead,
                    ParseErrorKind::DuplicateInterface { first_line: first },
                ));
            }
            self.interface_line = Some(no);
            self.state = State::Interface;
            Ok(())
        } else if name.eq_ignore_ascii_case("peer") {
            self.finish_peer()?;
            self.state = State::Peer(Box::new(PeerState {
                header_line: no,
                header_raw: raw.to_string(),
                header_off: lead,
                seen: [None; 17],
                public_key: None,
                preshared_key: None,
                allowed_ips: Vec::new(),
                endpoint: None,
                persistent_keepalive: None,
            }));
            Ok(())
        } else {
            Err(self.err(
                no,
                raw,
                lead + 1,
                ParseErrorKind::UnknownSection {
                    name: sanitise(name),
                },
            ))
        }
    }

    fn finish_peer(&mut self) -> Result<(), ParseError> {
        let state = std::mem::replace(&mut self.state, State::None);
        if let State::Peer(p) = state {
            let Some(public_key) = p.public_key else {
                return Err(self.err(
                    p.header_line,
                    &p.header_raw,
                    p.header_off,
                    ParseErrorKind::MissingPublicKey,
                ));
            };
            self.peer_lines.insert(public_key, p.header_line);
            self.peers.push(Peer {
                public_key,
                preshared_key: p.preshared_key,
                allowed_ips: p.allowed_ips,
                endpoint: p.endpoint,
                persistent_keepalive: p.persistent_keepalive,
            });
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Config, ParseError> {
        self.finish_peer()?;
        Ok(Config {
            interface: self.interface,
            peers: self.peers,
        })
    }

    fn interface_value(&mut self, field: Field, value: &str) -> Result<(), VErr> {
        let i = &mut self.interface;
        match field {
            Field::PrivateKey => i.private_key = Some(parse_secret(field, value)?),
            Field::ListenPort => i.listen_port = Some(parse_u16(field, value)?),
            Field::FwMark => i.fwmark = parse_fwmark(value)?,
            Field::Address => {
                for (off, item) in list(field, value)? {
                    i.addresses
                        .push(parse_net(field, item).map_err(|e| e.at(off))?);
                }
            }
            Field::Dns => {
                for (off, item) in list(field, value)? {
                    i.dns.push(parse_dns(item).map_err(|e| e.at(off))?);
                }
            }
            Field::Mtu => i.mtu = Some(parse_u16(field, value)?),
            Field::Table => i.table = Some(parse_table(value)?),
            Field::PreUp => i.pre_up.push(value.to_string()),
            Field::PostUp => i.post_up.push(value.to_string()),
            Field::PreDown => i.pre_down.push(value.to_string()),
            Field::PostDown => i.post_down.push(value.to_string()),
            Field::SaveConfig => {
                i.save_config = Some(if value.eq_ignore_ascii_case("true") {
                    true
                } else if value.eq_ignore_ascii_case("false") {
                    false
                } else {
                    return Err(invalid(
                        field,
                        0,
                        format!("`{value}` is neither true nor false"),
                    ));
                })
            }
            _ => {}
        }
        Ok(())
    }

    fn peer_value(&mut self, field: Field, value: &str) -> Result<(), VErr> {
        let State::Peer(p) = &mut self.state else {
            return Ok(());
        };
        match field {
            Field::PublicKey => {
                let key: Key = value.parse().map_err(|_| key_error(field, value))?;
                if let Some(&first_line) = self.peer_lines.get(&key) {
                    return Err(VErr {
                        off: 0,
                        kind: ParseErrorKind::DuplicatePeer { first_line },
                    });
                }
                p.public_key = Some(key);
            }
            Field::PresharedKey => p.preshared_key = Some(parse_secret(field, value)?),
            Field::AllowedIps => {
                for (off, item) in list(field, value)? {
                    p.allowed_ips
                        .push(parse_net(field, item).map_err(|e| e.at(off))?);
                }
            }
            Field::Endpoint => p.endpoint = Some(parse_endpoint(value)?),
            Field::PersistentKeepalive => {
                p.persistent_keepalive = if value.eq_ignore_ascii_case("off") {
                    None
                } else {
                    Some(parse_u16(field, value)?)
                }
            }
            _ => {}
        }
        Ok(())
    }
}

impl VErr {
    fn at(mut self, off: usize) -> VErr {
        self.off += off;
        self
    }
}

fn key_error(field: Field, value: &str) -> VErr {
    let n = value.chars().count();
    let quoted = n >= 2
        && ((value.starts_with('"') && value.ends_with('"'))
            || (value.starts_with('\'') && value.ends_with('\'')));
    let reason = if quoted {
        "remove the quotes: wg(8) takes the key as written".to_string()
    } else if value.starts_with('<') || value.contains("snip") {
        "this looks like a placeholder: paste the real key".to_string()
    } else if n != 44 {
        format!("expected 44 characters of base64 (32 bytes), found {n} characters")
    } else {
        "expected base64 encoding exactly 32 bytes".to_string()
    };
    VErr {
        off: 0,
        kind: ParseErrorKind::InvalidKey {
            key: field.name(),
            reason,
        },
    }
}

fn parse_secret(field: Field, value: &str) -> Result<Secret, VErr> {
    value.parse().map_err(|_| key_error(field, value))
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

fn parse_u16(field: Field, value: &str) -> Result<u16, VErr> {
    let what = match field {
        Field::Mtu => "an MTU",
        Field::PersistentKeepalive => "a number of seconds (or `off`)",
        _ => "a port",
    };
    if all_digits(value) {
        if let Ok(n) = value.parse() {
            return Ok(n);
        }
    }
    Err(invalid(
        field,
        0,
        format!("expected {what} from 0 to 65535, found `{value}`"),
    ))
}

fn parse_fwmark(value: &str) -> Result<Option<u32>, VErr> {
    if value.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let parsed = match value.strip_prefix("0x") {
        Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            u32::from_str_radix(hex, 16).ok()
        }
        Some(_) => None,
        None if all_digits(value) => value.parse().ok(),
        None => None,
    };
    match parsed {
        Some(n) => Ok(Some(n)),
        None => Err(invalid(
            Field::FwMark,
            0,
            format!("expected `off`, a number or 0x-hex up to 32 bits, found `{value}`"),
        )),
    }
}

/// Splits a comma list: (byte offset in value, trimmed item). Empty items are an error.
fn list(field: Field, value: &str) -> Result<Vec<(usize, &str)>, VErr> {
    let mut out = Vec::new();
    let mut start = 0;
    for part in value.split(',') {
        let lead = part.len() - part.trim_start_matches(is_ws).len();
        let item = part.trim_matches(is_ws);
        if item.is_empty() {
            return Err(invalid(
                field,
                start,
                "empty entry in the comma-separated list".to_string(),
            ));
        }
        out.push((start + lead, item));
        start += part.len() + 1;
    }
    Ok(out)
}

fn parse_net(field: Field, item: &str) -> Result<IpNet, VErr> {
    if item.contains('/') {
        if let Ok(net) = item.parse::<IpNet>() {
            return Ok(net);
        }
    } else if let Ok(ip) = item.parse::<IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    Err(invalid(
        field,
        0,
        format!("`{item}` is not an IP address or network (like 10.0.0.2/24 or fd00::2/64)"),
    ))
}

fn looks_like_ipv4(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}

fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && !looks_like_ipv4(s)
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
}

fn parse_dns(item: &str) -> Result<DnsEntry, VErr> {
    if let Ok(ip) = item.parse::<IpAddr>() {
        return Ok(DnsEntry::Server(ip));
    }
    if item.contains(':') || looks_like_ipv4(item) {
        return Err(invalid(
            Field::Dns,
            0,
            format!("`{item}` is not a valid IP address"),
        ));
    }
    if is_hostname(item) {
        return Ok(DnsEntry::Search(item.to_string()));
    }
    Err(invalid(
        Field::Dns,
        0,
        format!("`{item}` is neither an IP address nor a search domain"),
    ))
}

fn parse_table(value: &str) -> Result<Table, VErr> {
    if value.eq_ignore_ascii_case("auto") {
        return Ok(Table::Auto);
    }
    if value.eq_ignore_ascii_case("off") {
        return Ok(Table::Off);
    }
    if all_digits(value) {
        return value.parse().map(Table::Id).map_err(|_| {
            invalid(
                Field::Table,
                0,
                format!("table id `{value}` does not fit in 32 bits"),
            )
        });
    }
    if value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'))
    {
        return Ok(Table::Named(value.to_string()));
    }
    Err(invalid(
        Field::Table,
        0,
        format!("expected `auto`, `off`, a table id or a table name, found `{value}`"),
    ))
}

fn parse_endpoint(value: &str) -> Result<Endpoint, VErr> {
    let f = Field::Endpoint;
    let (host, host_off, port, port_off) = if let Some(rest) = value.strip_prefix('[') {
        let Some(close) = rest.find(']') else {
            return Err(invalid(
                f,
                0,
                "missing `]` after the bracketed host".to_string(),
            ));
        };
        let host = rest.get(..close).unwrap_or("");
        let after = rest.get(close + 1..).unwrap_or("");
        let Some(port) = after.strip_prefix(':') else {
            return Err(invalid(
                f,
                close + 2,
                "expected `:port` after `]`".to_string(),
            ));
        };
        (host, 1, port, close + 3)
    } else {
        let Some(colon) = value.rfind(':') else {
            return Err(invalid(
                f,
                value.len(),
                format!("`{value}` has no `:port` (expected host:port or [ipv6]:port)"),
            ));
        };
        (
            value.get(..colon).unwrap_or(""),
            0,
            value.get(colon + 1..).unwrap_or(""),
            colon + 1,
        )
    };
    let host = if let Ok(ip) = host.parse::<IpAddr>() {
        Host::Ip(ip)
    } else if host.contains(':') {
        return Err(invalid(
            f,
            host_off,
            format!("`{host}` is not a valid IPv6 address"),
        ));
    } else if looks_like_ipv4(host) {
        return Err(invalid(
            f,
            host_off,
            format!("`{host}` is not a valid IPv4 address"),
        ));
    } else if is_hostname(host) {
        Host::Name(host.to_string())
    } else {
        return Err(invalid(
            f,
            host_off,
            format!("`{host}` is not an IP address or host name"),
        ));
    };
    let port = match port.parse::<u16>() {
        Ok(p) if all_digits(port) => p,
        _ => {
            return Err(invalid(
                f,
                port_off,
                format!("expected a port number from 0 to 65535, found `{port}`"),
            ))
        }
    };
    Ok(Endpoint { host, port })
}
