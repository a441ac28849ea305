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
//!   Numbers are plain decimal digits (`FwMark` also `0x` hex, as wg(8) reads it).
//! * Host names (`Endpoint`) and search domains (`DNS`) are limited to ASCII letters, digits,
//!   `-`, `_` and `.`; a dotted-digits host that is not an IPv4 address is an error.
//! * `Table = Auto` / `OFF` are read as `auto` / `off` (wg-quick compares case-sensitively and
//!   would pass them to ip(8) as table names, which fails).
//!
//! A file with no sections at all (empty, or only comments) is the default [`Config`]; a file
//! without `[Interface]` has a default interface, as `wg setconf` allows.
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
use std::net::IpAddr;
use std::path::Path;

/// A wg-quick file could not be read or parsed.
///
/// `Display` renders `file:line:col: what is wrong`, then the offending line (secrets redacted)
/// and a caret under the column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
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

impl ParseError {
    /// `file:line:col: what`, the shown line, and a caret under the column.
    fn render(&self) -> String {
        if self.line == 0 {
            return format!("{}: {}", self.file, self.kind);
        }
        let caret: String = self
            .source_line
            .chars()
            .take(self.caret_col.saturating_sub(1))
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        format!(
            "{}:{}:{}: {}\n    {}\n    {caret}^",
            self.file, self.line, self.col, self.kind, self.source_line
        )
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
    #[error(
        "`{key}` belongs in [{expected}], not in [{}]",
        other_section(expected)
    )]
    WrongSection {
        /// The key, in its usual spelling.
        key: &'static str,
        /// The section it belongs to (`Interface` or `Peer`; it was found in the other one).
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

fn other_section(name: &str) -> &'static str {
    if name == "Peer" {
        "Interface"
    } else {
        "Peer"
    }
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
    parse_bytes(&bytes, &file)
}

/// Parses wg-quick text given as bytes (as read from a file or a QR code); text that is not
/// UTF-8 is a [`ParseErrorKind::NotUtf8`] error at the first invalid byte.
pub fn parse_bytes(bytes: &[u8], file: &str) -> Result<Config, ParseError> {
    match std::str::from_utf8(bytes) {
        Ok(text) => parse(text, file),
        Err(e) => Err(not_utf8(file, bytes, e.valid_up_to())),
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
            // The key part too may be a pasted key (`<key>=` alone on a line).
            let (mut shown, caret) = scrub(raw.get(..value_start).unwrap_or(""), off);
            if has_value {
                shown.push_str(REDACTED);
            } else if content.len() < raw.len() {
                // Only a comment after the `=`: it may hold the key, hide it too.
                shown.push('#');
                shown.push_str(REDACTED);
            }
            return (shown, caret);
        }
        if matches!(Field::lookup(&key), Some(Field::PublicKey)) {
            let caret = raw.get(..off).map_or(1, |s| s.chars().count() + 1);
            let shown = raw
                .chars()
                .map(|c| {
                    if c.is_control() && c != '\t' {
                        '\u{fffd}'
                    } else {
                        c
                    }
                })
                .collect();
            return (shown, caret);
        }
    }
    scrub(raw, off)
}

/// Hides long base64-looking runs (a key pasted in the wrong place); maps byte offset `off` of
/// `raw` to a 1-based caret column in the result (one past the end if `off` is past the end).
fn scrub(raw: &str, off: usize) -> (String, usize) {
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
            // No terminal control sequences from a hostile file into the user's terminal.
            shown.push(if c.is_control() && c != '\t' {
                '\u{fffd}'
            } else {
                c
            });
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
        r.map_err(|e| {
            let kind = match e.kind {
                // The reason quotes the value: hide a key pasted into the wrong field.
                ParseErrorKind::InvalidValue { key, reason } => ParseErrorKind::InvalidValue {
                    key,
                    reason: scrub(&reason, 0).0,
                },
                other => other,
            };
            self.err(no, raw, voff + e.off, kind)
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    const PRIV: &str = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=";
    const PUB: &str = "HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=";
    const PUB2: &str = "vBN7qyUTb5lJtWYJ8LhbPio1Z4RcyBPGnqFBGn6O6Qg=";

    fn err(text: &str) -> ParseError {
        match parse(text, "t.conf") {
            Ok(c) => panic!("expected an error, got {c:?}"),
            Err(e) => e,
        }
    }

    fn at(text: &str) -> (usize, usize, ParseErrorKind) {
        let e = err(text);
        (e.line, e.col, e.kind)
    }

    fn invalid_at(text: &str, line: usize, col: usize, key: &str, reason_part: &str) {
        let e = err(text);
        assert_eq!((e.line, e.col), (line, col), "{e}");
        match &e.kind {
            ParseErrorKind::InvalidValue { key: k, reason } => {
                assert_eq!(*k, key, "{e}");
                assert!(reason.contains(reason_part), "{e}");
            }
            other => panic!("expected InvalidValue, got {other:?}"),
        }
    }

    #[test]
    fn accepts_everything_wg_quick_accepts() {
        let text = format!(
            "\u{feff}  # leading comment\r\n\
             [interface] # header comment\r\n\
             privatekey={PRIV}\r\n\
             \tListenPort   =   51820\r\n\
             FWMARK = 0xCA6c\r\n\
             Address = 10.0.0.2/24,fd00::2/64 , 10.1.0.1\r\n\
             Address = fd01::1\r\n\
             DNS = 1.1.1.1, example.com,2606:4700::1111\r\n\
             dns = corp.internal\r\n\
             Mtu = 1420\r\n\
             Table = 1234\r\n\
             PreUp = echo a=b; true\r\n\
             PostUp = iptables -A FORWARD -i %i -j ACCEPT # comment\r\n\
             PostUp = second\r\n\
             PreDown = x\r\n\
             PostDOwn = y\r\n\
             SaveConfig = TRUE\r\n\
             \r\n   \t\r\n\
             [PEER]\r\n\
             PublicKey = {PUB}\r\n\
             PresharedKey = {PRIV}\r\n\
             AllowedIPs = 10.0.0.1/24, ::/0\r\n\
             AllowedIPs = 192.168.1.7\r\n\
             EndPoint = 2603:c023:4002:400::4:20263\r\n\
             PersistentKeepalive = off\r\n\
             [Peer]\r\n\
             PublicKey = {PUB2}\r\n\
             Endpoint = vpn.example.com:51820\r\n\
             PersistentKeepalive = 25"
        );
        let c = parse(&text, "t.conf").unwrap();
        let i = &c.interface;
        assert_eq!(i.private_key.as_ref().unwrap().expose_base64(), PRIV);
        assert_eq!(i.listen_port, Some(51820));
        assert_eq!(i.fwmark, Some(0xca6c));
        let addrs: Vec<String> = i.addresses.iter().map(|a| a.to_string()).collect();
        assert_eq!(
            addrs,
            ["10.0.0.2/24", "fd00::2/64", "10.1.0.1/32", "fd01::1/128"]
        );
        let dns: Vec<String> = i.dns.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            dns,
            ["1.1.1.1", "example.com", "2606:4700::1111", "corp.internal"]
        );
        assert!(matches!(i.dns[1], DnsEntry::Search(_)));
        assert_eq!(i.mtu, Some(1420));
        assert_eq!(i.table, Some(Table::Id(1234)));
        assert_eq!(i.pre_up, ["echo a=b; true"]);
        assert_eq!(i.post_up, ["iptables -A FORWARD -i %i -j ACCEPT", "second"]);
        assert_eq!(i.pre_down, ["x"]);
        assert_eq!(i.post_down, ["y"]);
        assert_eq!(i.save_config, Some(true));
        assert_eq!(c.peers.len(), 2);
        let p = &c.peers[0];
        assert_eq!(p.public_key.to_string(), PUB);
        assert!(p.preshared_key.is_some());
        let ips: Vec<String> = p.allowed_ips.iter().map(|a| a.to_string()).collect();
        assert_eq!(ips, ["10.0.0.1/24", "::/0", "192.168.1.7/32"]);
        assert_eq!(
            p.endpoint,
            Some(Endpoint {
                host: Host::Ip("2603:c023:4002:400::4".parse().unwrap()),
                port: 20263
            })
        );
        assert_eq!(p.persistent_keepalive, None);
        let q = &c.peers[1];
        assert_eq!(
            q.endpoint.as_ref().unwrap().host,
            Host::Name("vpn.example.com".into())
        );
        assert_eq!(q.persistent_keepalive, Some(25));
    }

    #[test]
    fn small_values() {
        let c = parse(
            "[Interface]\nFwMark = off\nTable = off\nSaveConfig = false\n",
            "t",
        )
        .unwrap();
        assert_eq!(c.interface.fwmark, None);
        assert_eq!(c.interface.table, Some(Table::Off));
        assert_eq!(c.interface.save_config, Some(false));
        let c = parse("[Interface]\nFwMark = 51820\nTable = auto\n", "t").unwrap();
        assert_eq!(c.interface.fwmark, Some(51820));
        assert_eq!(c.interface.table, Some(Table::Auto));
        let c = parse("[Interface]\nTable = vpn_1\n", "t").unwrap();
        assert_eq!(c.interface.table, Some(Table::Named("vpn_1".into())));
        let c = parse(
            &format!("[Peer]\nPublicKey = {PUB}\nEndpoint = [fd00::1]:1\n"),
            "t",
        )
        .unwrap();
        assert_eq!(
            c.peers[0].endpoint.as_ref().unwrap().to_string(),
            "[fd00::1]:1"
        );
        assert_eq!(parse("", "t").unwrap(), Config::default());
        assert_eq!(parse("# only a comment", "t").unwrap(), Config::default());
    }

    #[test]
    fn display_is_file_line_col_message_line_and_caret() {
        let e = err("[Interface]\n\tMTU = 99999\n");
        assert_eq!(
            e.to_string(),
            "t.conf:2:8: `MTU`: expected an MTU from 0 to 65535, found `99999`\n    \tMTU = 99999\n    \t      ^"
        );
    }

    #[test]
    fn control_characters_are_not_echoed() {
        let e = err("[Interface]\nMTU = \x1b[31mred");
        assert_eq!((e.line, e.col), (2, 7));
        assert!(!e.to_string().contains('\x1b'), "{e:?}");
    }

    #[test]
    fn io_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("missing.conf");
        let e = parse_file(&path).unwrap_err();
        assert_eq!((e.line, e.col), (0, 0));
        assert!(matches!(
            e.kind,
            ParseErrorKind::Io {
                kind: std::io::ErrorKind::NotFound,
                ..
            }
        ));
        assert!(e
            .to_string()
            .starts_with(&format!("{}: cannot read", path.display())));
    }

    #[test]
    fn not_utf8() {
        let e = parse_bytes(b"[Interface]\nMTU = 14\xff0\n", "t.conf").unwrap_err();
        assert_eq!((e.line, e.col, &e.kind), (2, 9, &ParseErrorKind::NotUtf8));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bin.conf");
        std::fs::write(&path, b"\xc3(").unwrap();
        let e = parse_file(&path).unwrap_err();
        assert_eq!((e.line, e.col, e.kind), (1, 1, ParseErrorKind::NotUtf8));
    }

    #[test]
    fn structural_errors() {
        use ParseErrorKind as K;
        assert!(err(&format!("[Interface]\nPublicKey = {PUB}"))
            .to_string()
            .contains("`PublicKey` belongs in [Peer], not in [Interface]"));
        assert_eq!(
            at("MTU = 1420\n"),
            (1, 1, K::OutsideSection { key: "MTU".into() })
        );
        assert_eq!(
            at("[Interfaces]"),
            (
                1,
                2,
                K::UnknownSection {
                    name: "Interfaces".into()
                }
            )
        );
        assert_eq!(at("  [Peer"), (1, 3, K::BadSectionHeader));
        assert_eq!(at("[Peer] x = 1"), (1, 7, K::BadSectionHeader));
        assert_eq!(
            at("[Interface]\n[interface]"),
            (2, 1, K::DuplicateInterface { first_line: 1 })
        );
        assert_eq!(at("[Interface]\nMTU 1420"), (2, 1, K::NotKeyValue));
        assert_eq!(at("[Interface]\n  = 5"), (2, 3, K::NotKeyValue));
        assert_eq!(
            at("[Interface]\n  Jc = 4"),
            (
                2,
                3,
                K::UnknownKey {
                    section: "Interface",
                    key: "Jc".into()
                }
            )
        );
        assert_eq!(
            at(&format!("[Interface]\nPublicKey = {PUB}")),
            (
                2,
                1,
                K::WrongSection {
                    key: "PublicKey",
                    expected: "Peer"
                }
            )
        );
        assert_eq!(
            at("[Interface]\nPrivateKey = # paste it here"),
            (2, 14, K::EmptyValue { key: "PrivateKey" })
        );
        assert_eq!(
            at("[Interface]\nPreDown ="),
            (2, 10, K::EmptyValue { key: "PreDown" })
        );
        assert_eq!(
            at("[Interface]\nMTU = 1\n mtu = 2"),
            (
                3,
                2,
                K::DuplicateKey {
                    key: "MTU",
                    first_line: 2
                }
            )
        );
        assert_eq!(
            at("[Interface]\n\n  [Peer]\nAllowedIPs = 10.0.0.0/8\n[Peer]"),
            (3, 3, K::MissingPublicKey)
        );
        assert_eq!(
            at(&format!(
                "[Peer]\nPublicKey = {PUB}\n\n[Peer]\nPublicKey =  {PUB}"
            )),
            (5, 14, K::DuplicatePeer { first_line: 1 })
        );
        assert_eq!(
            at(&format!("[Peer]\nPublicKey = {PUB}\nPublicKey = {PUB2}")),
            (
                3,
                1,
                K::DuplicateKey {
                    key: "PublicKey",
                    first_line: 2
                }
            )
        );
    }

    #[test]
    fn invalid_keys() {
        let e = err("[Peer]\nPublicKey = \"abc\"");
        assert_eq!((e.line, e.col), (2, 13));
        assert!(matches!(
            &e.kind,
            ParseErrorKind::InvalidKey { key: "PublicKey", reason } if reason.contains("quotes")
        ));
        let e = err("[Interface]\nPrivateKey = l0lth1s1sd3f1n1t3lybr0k3n=");
        assert!(e.to_string().contains("found 26 characters"), "{e}");
        // 44 characters, but the last one leaves non-zero trailing bits: not canonical base64.
        let e = err(&format!("[Peer]\nPublicKey = {}", PUB.replace("w=", "x=")));
        assert!(e.to_string().contains("exactly 32 bytes"), "{e}");
    }

    #[test]
    fn invalid_values() {
        invalid_at(
            "[Interface]\nListenPort = 70000",
            2,
            14,
            "ListenPort",
            "70000",
        );
        invalid_at("[Interface]\nListenPort = +5", 2, 14, "ListenPort", "+5");
        invalid_at("[Interface]\nFwMark = 0xZZ", 2, 10, "FwMark", "0xZZ");
        invalid_at(
            "[Interface]\nFwMark = 0x100000000",
            2,
            10,
            "FwMark",
            "32 bits",
        );
        invalid_at(
            "[Interface]\nAddress = 10.0.0.1/24, 10.0.0.300",
            2,
            24,
            "Address",
            "10.0.0.300",
        );
        invalid_at(
            "[Interface]\nAddress = 10.0.0.1/33",
            2,
            11,
            "Address",
            "/33",
        );
        invalid_at(
            "[Interface]\nAddress = 10.0.0.1/24,",
            2,
            23,
            "Address",
            "empty",
        );
        invalid_at("[Interface]\nDNS = 1.1.1.1, 1.2.3", 2, 16, "DNS", "`1.2.3`");
        invalid_at("[Interface]\nDNS = fe80::1%eth0", 2, 7, "DNS", "fe80");
        invalid_at("[Interface]\nDNS = a/b", 2, 7, "DNS", "search domain");
        invalid_at("[Interface]\nMTU = lots", 2, 7, "MTU", "lots");
        invalid_at("[Interface]\nTable = 99999999999", 2, 9, "Table", "32 bits");
        invalid_at("[Interface]\nTable = my table", 2, 9, "Table", "my table");
        invalid_at("[Interface]\nSaveConfig = yes", 2, 14, "SaveConfig", "yes");
        let peer = format!("[Peer]\nPublicKey = {PUB}\n");
        let ep = |v: &str| format!("{peer}Endpoint = {v}");
        invalid_at(&ep("1.2.3.4"), 3, 19, "Endpoint", ":port");
        invalid_at(&ep("1.2.3.4:"), 3, 20, "Endpoint", "port");
        invalid_at(&ep("1.2.3.4:65536"), 3, 20, "Endpoint", "65536");
        invalid_at(&ep("host:https"), 3, 17, "Endpoint", "https");
        invalid_at(&ep("[fd00::1:51820"), 3, 12, "Endpoint", "`]`");
        invalid_at(&ep("[fd00::1]51820"), 3, 21, "Endpoint", "`:port`");
        invalid_at(&ep("[ipv6 here]:1"), 3, 13, "Endpoint", "ipv6 here");
        invalid_at(&ep("fd00::zz:51820"), 3, 12, "Endpoint", "IPv6");
        invalid_at(&ep("1.2.3:51820"), 3, 12, "Endpoint", "IPv4");
        invalid_at(&ep("a b:1"), 3, 12, "Endpoint", "host name");
        invalid_at(
            &format!("{peer}AllowedIPs = 10.0.0.0/8, 192.168.2.???/32"),
            3,
            26,
            "AllowedIPs",
            "???",
        );
        invalid_at(
            &format!("{peer}PersistentKeepalive = 1m"),
            3,
            23,
            "PersistentKeepalive",
            "seconds",
        );
    }

    /// A private key with a typo must never reach the error text, whatever the error is.
    #[test]
    fn near_valid_secrets_never_appear_in_errors() {
        let typo = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk!"; // one character off
        let short = "yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBm="; // one character missing
        let cases = [
            format!("[Interface]\nPrivateKey = {typo}"),
            format!("[Interface]\nPrivateKey = {short} # mine"),
            format!("[Interface]\n  privatekey={short}"),
            format!("[Peer]\nPublicKey = {PUB}\nPresharedKey = {short}"),
            format!("[Interface]\nPrivateKey = \"{PRIV}\""),
            format!("[Interface]\nPrivateKey = # {PRIV}"),
            format!("[Interface]\nPrivateKey = {PRIV}\nPrivateKey = {PRIV}"),
            format!("[Interface]\nPrivatKey = {PRIV}"),
            format!("[Interface]\nPrivateKey {PRIV}"),
            format!("[Interface]\n{PRIV}"),
            format!("[Interface]\n{}", PRIV.trim_end_matches('=')),
            format!("PrivateKey = {PRIV}"),
            format!("[Peer]\nPresharedKey = {PRIV}\npresharedkey = {PRIV}\n"),
            format!("[Peer]\nAllowedIPs = {PRIV}\n"),
        ];
        for text in &cases {
            let e = err(text);
            for shown in [e.to_string(), format!("{e:?}")] {
                for secret in [typo, short, PRIV, &PRIV[..40]] {
                    assert!(
                        !shown.contains(secret),
                        "secret shown for {text:?}:\n{shown}"
                    );
                }
                assert!(shown.contains("<redacted>"), "{shown}");
            }
        }
    }
}
