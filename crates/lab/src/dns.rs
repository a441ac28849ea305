//! The lab's DNS server: authoritative for `*.internal` (every lab host's name), `REFUSED` for
//! everything else (the lab has no Internet).

use crate::plan::{self, HOSTS};

/// TTL of the answers, in seconds.
pub const TTL: u32 = 60;

const TYPE_A: u16 = 1;
const TYPE_ANY: u16 = 255;
const CLASS_IN: u16 = 1;

const RCODE_FORMERR: u8 = 1;
const RCODE_NXDOMAIN: u8 = 3;
const RCODE_NOTIMP: u8 = 4;
const RCODE_REFUSED: u8 = 5;

/// A parsed question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// The name, lowercase, without the trailing dot.
    pub name: String,
    /// QTYPE.
    pub qtype: u16,
    /// QCLASS.
    pub qclass: u16,
    /// Where the question ends in the query.
    pub end: usize,
}

/// Parses the (single) question of a query. `None` if malformed. Never panics.
pub fn parse_question(query: &[u8]) -> Option<Question> {
    let mut pos = 12;
    let mut name = String::new();
    loop {
        let len = usize::from(*query.get(pos)?);
        pos += 1;
        if len == 0 {
            break;
        }
        // No compression in a question, labels of at most 63 bytes.
        if len > 63 {
            return None;
        }
        let label = query.get(pos..pos + len)?;
        pos += len;
        if !name.is_empty() {
            name.push('.');
        }
        for &b in label {
            if !(b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
                return None;
            }
            name.push(char::from(b.to_ascii_lowercase()));
        }
        if name.len() > 253 {
            return None;
        }
    }
    let t = query.get(pos..pos + 4)?;
    Some(Question {
        name,
        qtype: u16::from_be_bytes([t[0], t[1]]),
        qclass: u16::from_be_bytes([t[2], t[3]]),
        end: pos + 4,
    })
}

/// The address of a lab name (`web-1.internal`, `pi.home.internal`…), case-insensitive.
pub fn lookup(name: &str) -> Option<std::net::Ipv4Addr> {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    HOSTS.iter().find(|h| h.fqdn == name).map(|h| h.ip)
}

fn in_lab_zone(name: &str) -> bool {
    name == plan::DNS_DOMAIN || name.ends_with(&format!(".{}", plan::DNS_DOMAIN))
}

/// The answer to one DNS query datagram, or `None` when it deserves no answer (a response,
/// or too short to carry an id). Never panics.
pub fn answer(query: &[u8]) -> Option<Vec<u8>> {
    let header = query.get(..12)?;
    let flags = u16::from_be_bytes([header[2], header[3]]);
    if flags & 0x8000 != 0 {
        return None; // a response, not a query
    }
    let opcode = ((flags >> 11) & 0x0f) as u8;
    let rd = flags & 0x0100 != 0;
    let qdcount = u16::from_be_bytes([header[4], header[5]]);
    let reply_head = |rcode: u8, question: Option<&[u8]>, ancount: u16| {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(&header[..2]);
        let mut f: u16 = 0x8000 | 0x0400 | u16::from(rcode & 0x0f); // QR, AA
        f |= u16::from(opcode) << 11;
        if rd {
            f |= 0x0100;
        }
        out.extend_from_slice(&f.to_be_bytes());
        out.extend_from_slice(&u16::from(question.is_some()).to_be_bytes());
        out.extend_from_slice(&ancount.to_be_bytes());
        out.extend_from_slice(&[0, 0, 0, 0]);
        if let Some(q) = question {
            out.extend_from_slice(q);
        }
        out
    };
    if opcode != 0 {
        return Some(reply_head(RCODE_NOTIMP, None, 0));
    }
    if qdcount != 1 {
        return Some(reply_head(RCODE_FORMERR, None, 0));
    }
    let Some(q) = parse_question(query) else {
        return Some(reply_head(RCODE_FORMERR, None, 0));
    };
    let question = &query[12..q.end];
    if !in_lab_zone(&q.name) {
        return Some(reply_head(RCODE_REFUSED, Some(question), 0));
    }
    let Some(ip) = lookup(&q.name) else {
        return Some(reply_head(RCODE_NXDOMAIN, Some(question), 0));
    };
    if q.qclass != CLASS_IN || !(q.qtype == TYPE_A || q.qtype == TYPE_ANY) {
        // The name exists but has no record of this type: NOERROR, no answer.
        return Some(reply_head(0, Some(question), 0));
    }
    let mut out = reply_head(0, Some(question), 1);
    out.extend_from_slice(&[0xc0, 12]); // name: pointer to the question
    out.extend_from_slice(&TYPE_A.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    out.extend_from_slice(&TTL.to_be_bytes());
    out.extend_from_slice(&4u16.to_be_bytes());
    out.extend_from_slice(&ip.octets());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        for label in name.split('.') {
            q.push(label.len() as u8);
            q.extend_from_slice(label.as_bytes());
        }
        q.push(0);
        q.extend_from_slice(&qtype.to_be_bytes());
        q.extend_from_slice(&CLASS_IN.to_be_bytes());
        q
    }

    fn rcode(r: &[u8]) -> u8 {
        r[3] & 0x0f
    }

    #[test]
    fn every_host_resolves() {
        for host in HOSTS {
            let r = answer(&query(host.fqdn, TYPE_A)).expect("answer");
            assert_eq!(&r[..2], &[0x12, 0x34]);
            assert_eq!(rcode(&r), 0, "{}", host.fqdn);
            assert_eq!(u16::from_be_bytes([r[6], r[7]]), 1);
            assert_eq!(&r[r.len() - 4..], &host.ip.octets());
        }
        // Case-insensitive, as resolvers may randomise case.
        let r = answer(&query("WEB-1.Internal", TYPE_A)).expect("answer");
        assert_eq!(&r[r.len() - 4..], &[10, 20, 1, 11]);
        assert_eq!(lookup("db.internal."), Some(Ipv4Addr::new(10, 20, 2, 30)));
    }

    #[test]
    fn nxdomain_nodata_refused_formerr() {
        let r = answer(&query("nope.internal", TYPE_A)).expect("answer");
        assert_eq!(rcode(&r), RCODE_NXDOMAIN);
        let r = answer(&query("web-1.internal", 28)).expect("answer");
        assert_eq!((rcode(&r), r[7]), (0, 0));
        let r = answer(&query("example.com", TYPE_A)).expect("answer");
        assert_eq!(rcode(&r), RCODE_REFUSED);
        let mut bad = query("web-1.internal", TYPE_A);
        bad[12] = 0xc0;
        assert_eq!(rcode(&answer(&bad).expect("answer")), RCODE_FORMERR);
        // A response is never answered; junk never panics.
        let mut resp = query("web-1.internal", TYPE_A);
        resp[2] |= 0x80;
        assert!(answer(&resp).is_none());
        let q = query("pi.home.internal", TYPE_A);
        for len in 0..q.len() {
            let _ = answer(&q[..len]);
        }
        for seed in 0u32..2000 {
            let mut x = seed.wrapping_mul(2_654_435_761) | 1;
            let junk: Vec<u8> = (0..seed % 60)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x as u8
                })
                .collect();
            let _ = answer(&junk);
        }
    }
}
