//! A small DNS client that asks the profile's DNS server inside the tunnel (A and AAAA over
//! UDP), with an in-flight table (concurrent asks for one name share one query) and a short
//! cache.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot};

use crate::stack::UdpPipe;

const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;
/// Tries per query (the first send included).
const TRIES: u32 = 3;
/// Wait between tries.
const RETRY_AFTER: Duration = Duration::from_millis(1500);
/// How long answers are kept (at most; the record's TTL if shorter, at least 5 s).
const CACHE_FOR: Duration = Duration::from_secs(60);
const CACHE_MAX: usize = 1024;

/// Why a name could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// The name is not a valid DNS name.
    #[error("invalid host name")]
    InvalidName,
    /// The server says the name does not exist, or has no address of a usable family.
    #[error("host name not found")]
    NotFound,
    /// The server answered with an error code.
    #[error("DNS server failure (rcode {0})")]
    ServerFailure(u8),
    /// No answer from the DNS server.
    #[error("no answer from the DNS server {0}")]
    TimedOut(SocketAddr),
    /// No DNS server and no system resolver result.
    #[error("no DNS server configured in the profile: {0}")]
    NoServer(String),
    /// The netstack has stopped.
    #[error("the netstack has stopped")]
    Stopped,
}

/// What went wrong in a DNS message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParseError {
    /// Truncated or inconsistent message.
    Malformed,
    /// Not the answer to our query (id or question mismatch, not a response).
    Unrelated,
}

/// Appends a query for `name` (no trailing dot needed) of `qtype` to `out`.
pub(crate) fn build_query(
    id: u16,
    name: &str,
    qtype: u16,
    out: &mut Vec<u8>,
) -> Result<(), ResolveError> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > 253 {
        return Err(ResolveError::InvalidName);
    }
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&[0x01, 0x00]); // RD
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // QD=1
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 || !label.bytes().all(valid_label_byte) {
            return Err(ResolveError::InvalidName);
        }
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    Ok(())
}

fn valid_label_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Skips a (possibly compressed) name starting at `pos`; returns the position after it.
fn skip_name(msg: &[u8], mut pos: usize) -> Result<usize, ParseError> {
    for _ in 0..128 {
        let len = *msg.get(pos).ok_or(ParseError::Malformed)?;
        match len {
            0 => return Ok(pos + 1),
            l if l & 0xC0 == 0xC0 => {
                msg.get(pos + 1).ok_or(ParseError::Malformed)?;
                return Ok(pos + 2);
            }
            l if l & 0xC0 == 0 => pos += 1 + l as usize,
            _ => return Err(ParseError::Malformed),
        }
    }
    Err(ParseError::Malformed)
}

fn u16_at(msg: &[u8], pos: usize) -> Result<u16, ParseError> {
    match msg.get(pos..pos + 2) {
        Some(b) => Ok(u16::from_be_bytes([b[0], b[1]])),
        None => Err(ParseError::Malformed),
    }
}

/// A parsed answer: the rcode, the addresses of type `qtype`, and the smallest TTL seen.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Answer {
    pub rcode: u8,
    pub addrs: Vec<IpAddr>,
    pub ttl: Duration,
}

/// Parses a response to query `id` of `qtype`.
pub(crate) fn parse_response(id: u16, qtype: u16, msg: &[u8]) -> Result<Answer, ParseError> {
    if msg.len() < 12 {
        return Err(ParseError::Malformed);
    }
    if u16_at(msg, 0)? != id || msg[2] & 0x80 == 0 {
        return Err(ParseError::Unrelated);
    }
    let rcode = msg[3] & 0x0F;
    let qd = u16_at(msg, 4)?;
    let an = u16_at(msg, 6)?;
    let mut pos = 12;
    for _ in 0..qd {
        pos = skip_name(msg, pos)? + 4;
    }
    let mut addrs = Vec::new();
    let mut ttl = CACHE_FOR;
    for _ in 0..an {
        pos = skip_name(msg, pos)?;
        let rtype = u16_at(msg, pos)?;
        let class = u16_at(msg, pos + 2)?;
        let rttl = msg.get(pos + 4..pos + 8).ok_or(ParseError::Malformed)?;
        let rttl = u32::from_be_bytes([rttl[0], rttl[1], rttl[2], rttl[3]]);
        let rdlen = u16_at(msg, pos + 8)? as usize;
        let data = msg
            .get(pos + 10..pos + 10 + rdlen)
            .ok_or(ParseError::Malformed)?;
        pos += 10 + rdlen;
        if class != CLASS_IN || rtype != qtype {
            continue; // CNAMEs and others: the resolver already followed them.
        }
        let addr = match (rtype, data.len()) {
            (TYPE_A, 4) => IpAddr::V4(Ipv4Addr::new(data[0], data[1], data[2], data[3])),
            (TYPE_AAAA, 16) => {
                let mut b = [0u8; 16];
                b.copy_from_slice(data);
                IpAddr::V6(Ipv6Addr::from(b))
            }
            _ => return Err(ParseError::Malformed),
        };
        ttl = ttl.min(Duration::from_secs(u64::from(rttl)));
        addrs.push(addr);
    }
    Ok(Answer { rcode, addrs, ttl })
}

type Reply = oneshot::Sender<Result<Vec<IpAddr>, ResolveError>>;

/// A request to the resolver task.
pub(crate) struct Request {
    pub name: String,
    pub reply: Reply,
}

/// Handle to the resolver task.
#[derive(Clone, Debug)]
pub(crate) struct Resolver {
    tx: mpsc::Sender<Request>,
}

impl Resolver {
    /// Resolves `name` to addresses (IPv4 first).
    pub(crate) async fn resolve(&self, name: &str) -> Result<Vec<IpAddr>, ResolveError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Request {
                name: name.to_ascii_lowercase(),
                reply,
            })
            .await
            .map_err(|_| ResolveError::Stopped)?;
        rx.await.map_err(|_| ResolveError::Stopped)?
    }
}

struct Lookup {
    name: String,
    /// Query ids still unanswered, with their type.
    pending: Vec<(u16, u16)>,
    v4: Vec<IpAddr>,
    v6: Vec<IpAddr>,
    ttl: Duration,
    failure: Option<ResolveError>,
    tries: u32,
    next_try: Instant,
    waiters: Vec<Reply>,
}

/// Starts the resolver task. `pipe` is a UDP socket inside the tunnel; without a server, names
/// go to the system resolver (outside the tunnel).
pub(crate) fn spawn(
    pipe: Option<UdpPipe>,
    server: Option<SocketAddr>,
    search: Option<String>,
    want_v6: bool,
) -> Resolver {
    let (tx, rx) = mpsc::channel(1024);
    tokio::spawn(run(pipe, server, search, want_v6, rx));
    Resolver { tx }
}

async fn run(
    pipe: Option<UdpPipe>,
    server: Option<SocketAddr>,
    search: Option<String>,
    want_v6: bool,
    mut requests: mpsc::Receiver<Request>,
) {
    let (Some(mut pipe), Some(server)) = (pipe, server) else {
        while let Some(req) = requests.recv().await {
            tokio::spawn(async move {
                let r = match tokio::net::lookup_host((req.name.as_str(), 0)).await {
                    Ok(a) => {
                        let v: Vec<IpAddr> = a.map(|s| s.ip()).collect();
                        if v.is_empty() {
                            Err(ResolveError::NotFound)
                        } else {
                            Ok(v)
                        }
                    }
                    Err(e) => Err(ResolveError::NoServer(e.to_string())),
                };
                let _ = req.reply.send(r);
            });
        }
        return;
    };
    let notify: Arc<tokio::sync::Notify> = pipe.notify.clone();
    let mut cache: HashMap<String, (Vec<IpAddr>, Instant)> = HashMap::new();
    let mut lookups: Vec<Lookup> = Vec::new();
    let mut next_id: u16 = (Instant::now().elapsed().subsec_nanos() as u16) ^ 0x5a5a;
    let mut buf = Vec::with_capacity(512);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    loop {
        tokio::select! {
            req = requests.recv() => {
                let Some(req) = req else { return };
                let now = Instant::now();
                let mut name = req.name;
                if !name.contains('.') {
                    if let Some(s) = &search {
                        name = format!("{name}.{s}");
                    }
                }
                if let Some((addrs, until)) = cache.get(&name) {
                    if *until > now {
                        let _ = req.reply.send(Ok(addrs.clone()));
                        continue;
                    }
                }
                if let Some(l) = lookups.iter_mut().find(|l| l.name == name) {
                    l.waiters.push(req.reply);
                    continue;
                }
                let mut pending = vec![(0u16, TYPE_A)];
                if want_v6 {
                    pending.push((0, TYPE_AAAA));
                }
                for p in &mut pending {
                    next_id = next_id.wrapping_add(0x9e37);
                    p.0 = next_id;
                }
                let mut l = Lookup {
                    name, pending, v4: Vec::new(), v6: Vec::new(), ttl: CACHE_FOR,
                    failure: None, tries: 0, next_try: now, waiters: vec![req.reply],
                };
                if send_queries(&mut l, &pipe, server, &mut buf).is_err() {
                    for w in l.waiters.drain(..) {
                        let _ = w.send(Err(ResolveError::InvalidName));
                    }
                    continue;
                }
                notify.notify_one();
                lookups.push(l);
            }
            msg = pipe.rx.recv() => {
                let Some((from, data)) = msg else { return };
                notify.notify_one();
                if from != server {
                    continue;
                }
                let id = match u16_at(&data, 0) { Ok(id) => id, Err(_) => continue };
                let Some(li) = lookups.iter().position(|l| l.pending.iter().any(|p| p.0 == id)) else { continue };
                let l = &mut lookups[li];
                let Some(pi) = l.pending.iter().position(|p| p.0 == id) else { continue };
                let qtype = l.pending[pi].1;
                match parse_response(id, qtype, &data) {
                    Ok(ans) => {
                        l.pending.swap_remove(pi);
                        l.ttl = l.ttl.min(ans.ttl);
                        match ans.rcode {
                            0 => if qtype == TYPE_A { l.v4 = ans.addrs } else { l.v6 = ans.addrs },
                            3 => l.failure = Some(ResolveError::NotFound),
                            rc => { l.failure.get_or_insert(ResolveError::ServerFailure(rc)); }
                        }
                    }
                    Err(_) => continue,
                }
                if l.pending.is_empty() {
                    let l = lookups.swap_remove(li);
                    finish(l, &mut cache);
                }
            }
            _ = tick.tick() => {
                let now = Instant::now();
                let mut i = 0;
                while i < lookups.len() {
                    let l = &mut lookups[i];
                    l.waiters.retain(|w| !w.is_closed());
                    if now >= l.next_try {
                        if l.tries >= TRIES || l.waiters.is_empty() {
                            let mut l = lookups.swap_remove(i);
                            if l.v4.is_empty() && l.v6.is_empty() {
                                l.failure = Some(ResolveError::TimedOut(server));
                            }
                            finish(l, &mut cache);
                            continue;
                        }
                        let _ = send_queries(l, &pipe, server, &mut buf);
                        notify.notify_one();
                    }
                    i += 1;
                }
            }
        }
    }
}

fn send_queries(
    l: &mut Lookup,
    pipe: &UdpPipe,
    server: SocketAddr,
    buf: &mut Vec<u8>,
) -> Result<(), ResolveError> {
    for &(id, qtype) in &l.pending {
        buf.clear();
        build_query(id, &l.name, qtype, buf)?;
        let _ = pipe.tx.try_send((server, buf.clone()));
    }
    l.tries += 1;
    l.next_try = Instant::now() + RETRY_AFTER;
    Ok(())
}

fn finish(l: Lookup, cache: &mut HashMap<String, (Vec<IpAddr>, Instant)>) {
    let mut addrs = l.v4;
    addrs.extend(l.v6);
    let result = if addrs.is_empty() {
        Err(l.failure.unwrap_or(ResolveError::NotFound))
    } else {
        if cache.len() >= CACHE_MAX {
            let now = Instant::now();
            cache.retain(|_, (_, until)| *until > now);
            if cache.len() >= CACHE_MAX {
                cache.clear();
            }
        }
        let ttl = l.ttl.max(Duration::from_secs(5));
        cache.insert(l.name, (addrs.clone(), Instant::now() + ttl));
        Ok(addrs)
    };
    for w in l.waiters {
        let _ = w.send(result.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(id: u16, rcode: u8, answers: &[(u16, &[u8])]) -> Vec<u8> {
        let mut m = Vec::new();
        build_query(id, "web-1.internal", TYPE_A, &mut m).expect("query");
        m[2] = 0x81;
        m[3] = 0x80 | rcode;
        m[7] = answers.len() as u8;
        for (t, data) in answers {
            m.extend_from_slice(&[0xC0, 12]);
            m.extend_from_slice(&t.to_be_bytes());
            m.extend_from_slice(&[0, 1, 0, 0, 0, 30]);
            m.extend_from_slice(&(data.len() as u16).to_be_bytes());
            m.extend_from_slice(data);
        }
        m
    }

    #[test]
    fn query_layout() {
        let mut m = Vec::new();
        build_query(0x1234, "a.bc.", TYPE_AAAA, &mut m).expect("valid");
        assert_eq!(
            m,
            [0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'a', 2, b'b', b'c', 0, 0, 28, 0, 1]
        );
        for bad in ["", "a..b", "a b", &"x".repeat(64), &"a.".repeat(130)] {
            assert_eq!(
                build_query(1, bad, TYPE_A, &mut Vec::new()),
                Err(ResolveError::InvalidName),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn parses_answers_and_skips_others() {
        let cname: &[u8] = &[3, b'f', b'o', b'o', 0];
        let m = response(7, 0, &[(5, cname), (TYPE_A, &[10, 20, 1, 10])]);
        let a = parse_response(7, TYPE_A, &m).expect("parses");
        assert_eq!(a.addrs, vec![IpAddr::V4(Ipv4Addr::new(10, 20, 1, 10))]);
        assert_eq!(a.ttl, Duration::from_secs(30));
        assert_eq!(parse_response(8, TYPE_A, &m), Err(ParseError::Unrelated));
        let nx = response(7, 3, &[]);
        assert_eq!(parse_response(7, TYPE_A, &nx).map(|a| a.rcode), Ok(3));
    }

    #[test]
    fn garbage_never_panics() {
        let good = response(9, 0, &[(TYPE_A, &[1, 2, 3, 4])]);
        for cut in 0..good.len() {
            let _ = parse_response(9, TYPE_A, &good[..cut]);
        }
        let bad_len = response(9, 0, &[(TYPE_A, &[1, 2, 3])]);
        assert_eq!(
            parse_response(9, TYPE_A, &bad_len),
            Err(ParseError::Malformed)
        );
        let mut looped = good.clone();
        looped[12] = 0xC0; // pointer to itself region; must terminate
        looped[13] = 12;
        let _ = parse_response(9, TYPE_A, &looped);
        let mut x: u32 = 1;
        for _ in 0..2000 {
            let mut m = good.clone();
            for _ in 0..4 {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                let i = (x as usize) % m.len();
                m[i] = (x >> 8) as u8;
            }
            let _ = parse_response(9, TYPE_A, &m);
        }
    }
}
