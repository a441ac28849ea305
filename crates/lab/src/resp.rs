//! The cache: a small Redis speaking RESP2 (arrays of bulk strings, and inline commands as
//! `redis-cli` or telnet send them), with an in-memory bounded key space.

use std::collections::HashMap;

/// Most arguments in one command.
pub const MAX_ARGS: usize = 64;
/// Longest bulk string (and inline line) accepted.
pub const MAX_BULK: usize = 64 * 1024;
/// Most keys the store holds.
pub const MAX_KEYS: usize = 10_000;
/// Most bytes (keys + values) the store holds.
pub const MAX_BYTES: usize = 8 * 1024 * 1024;

/// What [`parse`] found at the start of the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// More bytes are needed.
    Incomplete,
    /// A command (its arguments) and how many bytes it used.
    Command(Vec<Vec<u8>>, usize),
    /// Not RESP: reply with this error and close the connection.
    Error(&'static str),
}

fn line(buf: &[u8]) -> Option<(&[u8], usize)> {
    let end = buf.windows(2).position(|w| w == b"\r\n")?;
    Some((&buf[..end], end + 2))
}

fn number(digits: &[u8]) -> Option<i64> {
    std::str::from_utf8(digits).ok()?.parse().ok()
}

/// Parses one command from the start of `buf`. Never panics; bounded by [`MAX_ARGS`] and
/// [`MAX_BULK`].
pub fn parse(buf: &[u8]) -> Parsed {
    let Some(&first) = buf.first() else {
        return Parsed::Incomplete;
    };
    if first != b'*' {
        return parse_inline(buf);
    }
    let Some((head, mut pos)) = line(buf) else {
        return if buf.len() > 32 {
            Parsed::Error("Protocol error: invalid multibulk length")
        } else {
            Parsed::Incomplete
        };
    };
    let count = match number(&head[1..]) {
        Some(n) if (0..=MAX_ARGS as i64).contains(&n) => n as usize,
        Some(n) if n < 0 => return Parsed::Command(Vec::new(), pos),
        _ => return Parsed::Error("Protocol error: invalid multibulk length"),
    };
    let mut args = Vec::with_capacity(count);
    for _ in 0..count {
        let rest = &buf[pos..];
        if rest.is_empty() {
            return Parsed::Incomplete;
        }
        if rest[0] != b'$' {
            return Parsed::Error("Protocol error: expected '$'");
        }
        let Some((head, used)) = line(rest) else {
            return if rest.len() > 32 {
                Parsed::Error("Protocol error: invalid bulk length")
            } else {
                Parsed::Incomplete
            };
        };
        let len = match number(&head[1..]) {
            Some(n) if (0..=MAX_BULK as i64).contains(&n) => n as usize,
            _ => return Parsed::Error("Protocol error: invalid bulk length"),
        };
        let start = pos + used;
        let end = start + len;
        if buf.len() < end + 2 {
            return Parsed::Incomplete;
        }
        if &buf[end..end + 2] != b"\r\n" {
            return Parsed::Error("Protocol error: bulk string not terminated");
        }
        args.push(buf[start..end].to_vec());
        pos = end + 2;
    }
    Parsed::Command(args, pos)
}

fn parse_inline(buf: &[u8]) -> Parsed {
    let Some(end) = buf.iter().position(|&b| b == b'\n') else {
        return if buf.len() > MAX_BULK {
            Parsed::Error("Protocol error: too big inline request")
        } else {
            Parsed::Incomplete
        };
    };
    let text = &buf[..end];
    let text = text.strip_suffix(b"\r").unwrap_or(text);
    let args: Vec<Vec<u8>> = text
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty())
        .take(MAX_ARGS + 1)
        .map(<[u8]>::to_vec)
        .collect();
    if args.len() > MAX_ARGS {
        return Parsed::Error("Protocol error: too many arguments");
    }
    Parsed::Command(args, end + 1)
}

/// The cache's key space, shared by all its connections.
#[derive(Debug, Default)]
pub struct Store {
    map: HashMap<Vec<u8>, Vec<u8>>,
    bytes: usize,
}

impl Store {
    /// An empty store.
    pub fn new() -> Store {
        Store::default()
    }

    fn set(&mut self, key: &[u8], value: &[u8]) -> bool {
        let old = self.map.get(key).map_or(0, |v| v.len() + key.len());
        let new_bytes = self.bytes - old + key.len() + value.len();
        if new_bytes > MAX_BYTES || (old == 0 && self.map.len() >= MAX_KEYS) {
            return false;
        }
        self.map.insert(key.to_vec(), value.to_vec());
        self.bytes = new_bytes;
        true
    }

    fn del(&mut self, key: &[u8]) -> bool {
        match self.map.remove(key) {
            Some(v) => {
                self.bytes -= key.len() + v.len();
                true
            }
            None => false,
        }
    }
}

fn bulk(out: &mut Vec<u8>, value: &[u8]) {
    out.extend_from_slice(format!("${}\r\n", value.len()).as_bytes());
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

fn integer(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(format!(":{n}\r\n").as_bytes());
}

fn error(out: &mut Vec<u8>, msg: &str) {
    out.extend_from_slice(b"-");
    out.extend_from_slice(msg.as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn wrong_args(out: &mut Vec<u8>, name: &str) {
    error(
        out,
        &format!("ERR wrong number of arguments for '{name}' command"),
    );
}

/// Runs one command against `store`, appending the reply to `out`. Returns false when the
/// connection should close after the reply (QUIT).
pub fn execute(args: &[Vec<u8>], store: &mut Store, out: &mut Vec<u8>) -> bool {
    let Some(name) = args.first() else {
        return true;
    };
    let name = String::from_utf8_lossy(name).to_ascii_lowercase();
    let rest = &args[1..];
    match (name.as_str(), rest) {
        ("ping", []) => out.extend_from_slice(b"+PONG\r\n"),
        ("ping", [msg]) | ("echo", [msg]) => bulk(out, msg),
        ("get", [key]) => match store.map.get(key.as_slice()) {
            Some(v) => bulk(out, v),
            None => out.extend_from_slice(b"$-1\r\n"),
        },
        ("set", [key, value]) => {
            if store.set(key, value) {
                out.extend_from_slice(b"+OK\r\n");
            } else {
                error(
                    out,
                    "OOM command not allowed when used memory > 'maxmemory'.",
                );
            }
        }
        ("set", [_, _, ..]) => error(out, "ERR syntax error"),
        ("del", keys) if !keys.is_empty() => {
            let n = keys.iter().filter(|k| store.del(k)).count();
            integer(out, n);
        }
        ("exists", keys) if !keys.is_empty() => {
            let n = keys
                .iter()
                .filter(|k| store.map.contains_key(k.as_slice()))
                .count();
            integer(out, n);
        }
        ("dbsize", []) => integer(out, store.map.len()),
        ("select", [db]) => {
            if db.as_slice() == b"0" {
                out.extend_from_slice(b"+OK\r\n");
            } else {
                error(out, "ERR DB index is out of range");
            }
        }
        ("info", _) => bulk(
            out,
            b"# Server\r\nredis_version:7.2.0\r\nredis_mode:standalone\r\n\
              gatehouse_lab:cache.internal\r\n",
        ),
        // redis-cli asks for command docs when it starts interactively: none.
        ("command", _) => out.extend_from_slice(b"*0\r\n"),
        ("client", _) => out.extend_from_slice(b"+OK\r\n"),
        ("quit", _) => {
            out.extend_from_slice(b"+OK\r\n");
            return false;
        }
        ("ping" | "echo" | "get" | "set" | "del" | "exists" | "dbsize" | "select", _) => {
            wrong_args(out, &name)
        }
        _ => {
            let shown: String = name.chars().take(64).collect();
            error(
                out,
                &format!("ERR unknown command '{shown}', with args beginning with: "),
            );
        }
    }
    true
}

/// One client connection: buffers input, answers every complete command.
#[derive(Debug, Default)]
pub struct Connection {
    input: Vec<u8>,
}

impl Connection {
    /// A new connection.
    pub fn new() -> Connection {
        Connection::default()
    }

    /// Feeds received bytes; appends replies to `out`. Returns false when the connection must
    /// close once `out` is sent (QUIT, or a protocol error).
    pub fn feed(&mut self, data: &[u8], store: &mut Store, out: &mut Vec<u8>) -> bool {
        self.input.extend_from_slice(data);
        loop {
            match parse(&self.input) {
                Parsed::Incomplete => {
                    if self.input.len() > MAX_BULK * 2 {
                        error(out, "ERR Protocol error: request too large");
                        return false;
                    }
                    return true;
                }
                Parsed::Error(msg) => {
                    error(out, &format!("ERR {msg}"));
                    return false;
                }
                Parsed::Command(args, used) => {
                    self.input.drain(..used);
                    if !execute(&args, store, out) {
                        return false;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn talk(conn: &mut Connection, store: &mut Store, input: &[u8]) -> (String, bool) {
        let mut out = Vec::new();
        let open = conn.feed(input, store, &mut out);
        (String::from_utf8_lossy(&out).into_owned(), open)
    }

    #[test]
    fn ping_set_get_as_redis_cli_sends_them() {
        let mut store = Store::new();
        let mut c = Connection::new();
        assert_eq!(
            talk(&mut c, &mut store, b"*1\r\n$4\r\nPING\r\n"),
            ("+PONG\r\n".into(), true)
        );
        assert_eq!(
            talk(
                &mut c,
                &mut store,
                b"*3\r\n$3\r\nSET\r\n$5\r\ngreet\r\n$5\r\nhello\r\n"
            ),
            ("+OK\r\n".into(), true)
        );
        assert_eq!(
            talk(&mut c, &mut store, b"*2\r\n$3\r\nget\r\n$5\r\ngreet\r\n"),
            ("$5\r\nhello\r\n".into(), true)
        );
        assert_eq!(
            talk(&mut c, &mut store, b"*2\r\n$3\r\nGET\r\n$4\r\nnone\r\n"),
            ("$-1\r\n".into(), true)
        );
        // Pipelined and split across reads.
        let (r, _) = talk(
            &mut c,
            &mut store,
            b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r",
        );
        assert_eq!(r, "+PONG\r\n");
        let (r, _) = talk(&mut c, &mut store, b"\nhi\r\n");
        assert_eq!(r, "$2\r\nhi\r\n");
        // Inline, as telnet sends it.
        assert_eq!(
            talk(&mut c, &mut store, b"PING\r\n"),
            ("+PONG\r\n".into(), true)
        );
        assert_eq!(
            talk(&mut c, &mut store, b"*1\r\n$4\r\nQUIT\r\n"),
            ("+OK\r\n".into(), false)
        );
    }

    #[test]
    fn errors_are_resp_errors() {
        let mut store = Store::new();
        let (r, open) = talk(&mut Connection::new(), &mut store, b"*1\r\n$3\r\nGET\r\n");
        assert!(r.starts_with("-ERR wrong number of arguments"), "{r}");
        assert!(open);
        let (r, _) = talk(&mut Connection::new(), &mut store, b"FLUSHALL\r\n");
        assert!(r.starts_with("-ERR unknown command 'flushall'"), "{r}");
        let (r, open) = talk(&mut Connection::new(), &mut store, b"*x\r\n");
        assert!(r.starts_with("-ERR Protocol error"), "{r}");
        assert!(!open);
        let (r, open) = talk(&mut Connection::new(), &mut store, b"*1\r\n$99999999\r\n");
        assert!(r.starts_with("-ERR Protocol error"), "{r}");
        assert!(!open);
        let (r, open) = talk(&mut Connection::new(), &mut store, b"*1\r\n$2\r\nabcd\r\n");
        assert!(r.contains("not terminated"), "{r}");
        assert!(!open);
    }

    #[test]
    fn the_store_is_bounded() {
        let mut store = Store::new();
        let big = vec![b'x'; MAX_BULK];
        let mut n = 0;
        while store.set(format!("k{n}").as_bytes(), &big) {
            n += 1;
        }
        assert!(store.bytes <= MAX_BYTES);
        assert!(n > 0 && n < 200);
        let mut out = Vec::new();
        execute(
            &[b"SET".to_vec(), b"one-more".to_vec(), big],
            &mut store,
            &mut out,
        );
        assert!(out.starts_with(b"-OOM"));
        // Overwriting and deleting keep the count right.
        assert!(store.del(b"k0"));
        assert!(store.set(b"k1", b"small"));
        assert!(store.bytes < MAX_BYTES);
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut store = Store::new();
        for seed in 0u32..2000 {
            let mut x = seed.wrapping_mul(2_654_435_761);
            let len = (seed % 40) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    b"*$\r\n0123456789-PINGSET "[(x % 22) as usize]
                })
                .collect();
            let mut out = Vec::new();
            let _ = Connection::new().feed(&bytes, &mut store, &mut out);
        }
    }
}
