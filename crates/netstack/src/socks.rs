//! SOCKS5 (RFC 1928) messages: sans-IO parsing of the client's greeting and request, and the
//! server's replies. No authentication method is offered but "none".

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::target::{valid_host_name, Target};

/// Reply codes (RFC 1928 §6).
pub mod reply {
    /// Succeeded.
    pub const SUCCEEDED: u8 = 0x00;
    /// General SOCKS server failure (also: too many connections).
    pub const GENERAL_FAILURE: u8 = 0x01;
    /// Network unreachable (no AllowedIPs route).
    pub const NETWORK_UNREACHABLE: u8 = 0x03;
    /// Host unreachable (no answer, name not found).
    pub const HOST_UNREACHABLE: u8 = 0x04;
    /// Connection refused.
    pub const CONNECTION_REFUSED: u8 = 0x05;
    /// Command not supported.
    pub const COMMAND_NOT_SUPPORTED: u8 = 0x07;
    /// Address type not supported.
    pub const ADDRESS_TYPE_NOT_SUPPORTED: u8 = 0x08;
}

/// The longest greeting: version, count, 255 methods.
pub const MAX_GREETING: usize = 257;
/// The longest request: 4 header bytes, a 255-byte name with its length, and the port.
pub const MAX_REQUEST: usize = 4 + 1 + 255 + 2;

/// Outcome of parsing a message that may not have fully arrived.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<T> {
    /// More bytes are needed.
    Incomplete,
    /// The message and how many bytes it took.
    Done(T, usize),
}

/// Why the client's bytes are not acceptable SOCKS5, and what to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SocksError {
    /// The first byte is not version 5 (SOCKS4, HTTP, garbage): close without reply.
    #[error("not a SOCKS5 client (version byte {0:#04x})")]
    NotSocks5(u8),
    /// The greeting offers no "no authentication" method: answer 0xFF and close.
    #[error("client offers no acceptable authentication method")]
    NoAcceptableMethod,
    /// A malformed request: answer general failure and close.
    #[error("malformed SOCKS5 request")]
    Malformed,
    /// BIND or an unknown command: answer "command not supported".
    #[error("SOCKS5 command {0:#04x} not supported")]
    CommandNotSupported(u8),
    /// Unknown address type: answer "address type not supported".
    #[error("SOCKS5 address type {0:#04x} not supported")]
    AddressTypeNotSupported(u8),
    /// A domain name that is empty, not ASCII or not a host name.
    #[error("invalid host name in SOCKS5 request")]
    BadHostName,
}

impl SocksError {
    /// The reply code to send for this error in answer to a request, if any (`None`: close).
    pub fn reply_code(self) -> Option<u8> {
        match self {
            SocksError::NotSocks5(_) | SocksError::NoAcceptableMethod => None,
            SocksError::Malformed => Some(reply::GENERAL_FAILURE),
            SocksError::CommandNotSupported(_) => Some(reply::COMMAND_NOT_SUPPORTED),
            SocksError::AddressTypeNotSupported(_) => Some(reply::ADDRESS_TYPE_NOT_SUPPORTED),
            SocksError::BadHostName => Some(reply::HOST_UNREACHABLE),
        }
    }
}

/// A SOCKS5 command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// CONNECT: a TCP stream to the target.
    Connect,
    /// UDP ASSOCIATE: relay UDP datagrams.
    UdpAssociate,
}

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The command.
    pub command: Command,
    /// Destination (for UDP ASSOCIATE: where the client will send from, often 0.0.0.0:0).
    pub target: Target,
}

/// Parses the greeting (version, methods). `Done(())` means "no authentication" is offered.
pub fn parse_greeting(buf: &[u8]) -> Result<Parsed<()>, SocksError> {
    let Some(&ver) = buf.first() else {
        return Ok(Parsed::Incomplete);
    };
    if ver != 5 {
        return Err(SocksError::NotSocks5(ver));
    }
    let Some(&n) = buf.get(1) else {
        return Ok(Parsed::Incomplete);
    };
    let len = 2 + n as usize;
    let Some(methods) = buf.get(2..len) else {
        return Ok(Parsed::Incomplete);
    };
    if methods.contains(&0) {
        Ok(Parsed::Done((), len))
    } else {
        Err(SocksError::NoAcceptableMethod)
    }
}

/// Parses a request (after the greeting was answered).
pub fn parse_request(buf: &[u8]) -> Result<Parsed<Request>, SocksError> {
    if buf.len() < 4 {
        if let Some(&v) = buf.first() {
            if v != 5 {
                return Err(SocksError::Malformed);
            }
        }
        return Ok(Parsed::Incomplete);
    }
    if buf[0] != 5 || buf[2] != 0 {
        return Err(SocksError::Malformed);
    }
    let command = match buf[1] {
        1 => Command::Connect,
        3 => Command::UdpAssociate,
        c => return Err(SocksError::CommandNotSupported(c)),
    };
    let (host_end, target_host) = match buf[3] {
        1 => {
            let Some(b) = buf.get(4..8) else {
                return Ok(Parsed::Incomplete);
            };
            (
                8,
                Host::Ip(IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))),
            )
        }
        4 => {
            let Some(b) = buf.get(4..20) else {
                return Ok(Parsed::Incomplete);
            };
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            (20, Host::Ip(IpAddr::V6(Ipv6Addr::from(a))))
        }
        3 => {
            let Some(&n) = buf.get(4) else {
                return Ok(Parsed::Incomplete);
            };
            let end = 5 + n as usize;
            let Some(name) = buf.get(5..end) else {
                return Ok(Parsed::Incomplete);
            };
            let name = std::str::from_utf8(name).map_err(|_| SocksError::BadHostName)?;
            (end, Host::Name(name))
        }
        t => return Err(SocksError::AddressTypeNotSupported(t)),
    };
    let Some(p) = buf.get(host_end..host_end + 2) else {
        return Ok(Parsed::Incomplete);
    };
    let port = u16::from_be_bytes([p[0], p[1]]);
    let target = match target_host {
        Host::Ip(ip) => Target::Addr(SocketAddr::new(ip, port)),
        Host::Name(name) => {
            // Some clients send IP literals as names.
            if let Ok(ip) = name.parse::<IpAddr>() {
                Target::Addr(SocketAddr::new(ip, port))
            } else if valid_host_name(name) {
                Target::Name(name.to_ascii_lowercase(), port)
            } else {
                return Err(SocksError::BadHostName);
            }
        }
    };
    if command == Command::Connect && port == 0 {
        return Err(SocksError::Malformed);
    }
    Ok(Parsed::Done(Request { command, target }, host_end + 2))
}

enum Host<'a> {
    Ip(IpAddr),
    Name(&'a str),
}

/// Writes a reply with `code` and the bound address into `out`; returns its length.
pub fn write_reply(code: u8, bound: SocketAddr, out: &mut [u8; 22]) -> usize {
    out[0] = 5;
    out[1] = code;
    out[2] = 0;
    match bound.ip() {
        IpAddr::V4(v4) => {
            out[3] = 1;
            out[4..8].copy_from_slice(&v4.octets());
            out[8..10].copy_from_slice(&bound.port().to_be_bytes());
            10
        }
        IpAddr::V6(v6) => {
            out[3] = 4;
            out[4..20].copy_from_slice(&v6.octets());
            out[20..22].copy_from_slice(&bound.port().to_be_bytes());
            22
        }
    }
}

/// A UDP ASSOCIATE datagram header (RFC 1928 §7): returns the target and the payload offset.
/// Fragmented datagrams (FRAG ≠ 0) are refused.
pub fn parse_udp_header(buf: &[u8]) -> Result<(Target, usize), SocksError> {
    if buf.len() < 4 || buf[0] != 0 || buf[1] != 0 || buf[2] != 0 {
        return Err(SocksError::Malformed);
    }
    // Same address layout as a request: reuse its parser on a synthetic header.
    let mut req = [0u8; MAX_REQUEST];
    let n = buf.len().min(MAX_REQUEST);
    req[..n].copy_from_slice(&buf[..n]);
    req[0] = 5;
    req[1] = 3;
    req[2] = 0;
    match parse_request(&req[..n])? {
        Parsed::Done(r, len) => Ok((r.target, len)),
        Parsed::Incomplete => Err(SocksError::Malformed),
    }
}

/// Writes a UDP ASSOCIATE header for a datagram from `from` into `out`; returns its length.
pub fn write_udp_header(from: SocketAddr, out: &mut [u8; 22]) -> usize {
    let n = write_reply(0, from, out);
    out[0] = 0;
    out[1] = 0;
    out[2] = 0;
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(bytes: &[u8]) -> Result<Parsed<Request>, SocksError> {
        parse_request(bytes)
    }

    #[test]
    fn greeting() {
        assert_eq!(parse_greeting(&[]), Ok(Parsed::Incomplete));
        assert_eq!(parse_greeting(&[5]), Ok(Parsed::Incomplete));
        assert_eq!(parse_greeting(&[5, 2, 0]), Ok(Parsed::Incomplete));
        assert_eq!(parse_greeting(&[5, 2, 2, 0, 9]), Ok(Parsed::Done((), 4)));
        assert_eq!(
            parse_greeting(&[5, 1, 2]),
            Err(SocksError::NoAcceptableMethod)
        );
        assert_eq!(parse_greeting(&[5, 0]), Err(SocksError::NoAcceptableMethod));
        assert_eq!(parse_greeting(&[4, 1, 0]), Err(SocksError::NotSocks5(4)));
        assert_eq!(
            parse_greeting(b"GET / HTTP/1.1"),
            Err(SocksError::NotSocks5(b'G'))
        );
        assert_eq!(
            parse_greeting(&[0x16, 3, 1]),
            Err(SocksError::NotSocks5(0x16))
        );
    }

    #[test]
    fn requests() {
        assert_eq!(
            req(&[5, 1, 0, 1, 10, 0, 0, 1, 0, 80]),
            Ok(Parsed::Done(
                Request {
                    command: Command::Connect,
                    target: Target::Addr("10.0.0.1:80".parse().expect("addr"))
                },
                10
            ))
        );
        let mut v6 = vec![5, 1, 0, 4];
        v6.extend_from_slice(&"fd00::2".parse::<Ipv6Addr>().expect("v6").octets());
        v6.extend_from_slice(&[1, 187]);
        assert!(
            matches!(req(&v6), Ok(Parsed::Done(r, 22)) if r.target == Target::Addr("[fd00::2]:443".parse().expect("addr")))
        );
        let mut name = vec![5, 1, 0, 3, 14];
        name.extend_from_slice(b"Web-1.internal");
        name.extend_from_slice(&[0, 80, 0xAA]);
        assert_eq!(
            req(&name),
            Ok(Parsed::Done(
                Request {
                    command: Command::Connect,
                    target: Target::Name("web-1.internal".into(), 80)
                },
                21
            ))
        );
        for cut in 0..21 {
            assert_eq!(req(&name[..cut]), Ok(Parsed::Incomplete), "cut {cut}");
        }
        let mut lit = vec![5, 1, 0, 3, 8];
        lit.extend_from_slice(b"10.0.0.9");
        lit.extend_from_slice(&[0, 22]);
        assert!(
            matches!(req(&lit), Ok(Parsed::Done(r, _)) if r.target == Target::Addr("10.0.0.9:22".parse().expect("addr")))
        );
        assert!(matches!(
            req(&[5, 3, 0, 1, 0, 0, 0, 0, 0, 0]),
            Ok(Parsed::Done(
                Request {
                    command: Command::UdpAssociate,
                    ..
                },
                10
            ))
        ));
    }

    #[test]
    fn garbage_requests() {
        assert_eq!(req(&[4, 1]), Err(SocksError::Malformed));
        assert_eq!(
            req(&[5, 1, 1, 1, 0, 0, 0, 0, 0, 0]),
            Err(SocksError::Malformed)
        );
        assert_eq!(req(&[5, 2, 0, 1]), Err(SocksError::CommandNotSupported(2)));
        assert_eq!(req(&[5, 9, 0, 1]), Err(SocksError::CommandNotSupported(9)));
        assert_eq!(
            req(&[5, 1, 0, 7]),
            Err(SocksError::AddressTypeNotSupported(7))
        );
        assert_eq!(
            req(&[5, 1, 0, 1, 10, 0, 0, 1, 0, 0]),
            Err(SocksError::Malformed)
        );
        assert_eq!(req(&[5, 1, 0, 3, 0, 0, 80]), Err(SocksError::BadHostName));
        assert_eq!(
            req(&[5, 1, 0, 3, 2, 0xff, 0xfe, 0, 80]),
            Err(SocksError::BadHostName)
        );
        assert_eq!(
            req(&[5, 1, 0, 3, 3, b'a', b' ', b'b', 0, 80]),
            Err(SocksError::BadHostName)
        );
        assert_eq!(
            SocksError::Malformed.reply_code(),
            Some(reply::GENERAL_FAILURE)
        );
        assert_eq!(SocksError::NotSocks5(1).reply_code(), None);
        // Every byte string up to 3 bytes and random longer ones: no panic.
        for a in 0..=255u8 {
            for b in [0u8, 1, 3, 5, 255] {
                let _ = parse_greeting(&[a, b]);
                let _ = req(&[5, a, 0, b]);
                let _ = req(&[5, 1, 0, a, b]);
            }
        }
        let mut x: u32 = 7;
        for _ in 0..5000 {
            let mut m = [0u8; 24];
            for byte in m.iter_mut() {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                *byte = x as u8;
            }
            m[0] = 5;
            let _ = req(&m[..(x as usize % 24)]);
            let _ = parse_udp_header(&m[..(x as usize % 24)]);
        }
    }

    #[test]
    fn replies_and_udp_headers() {
        let mut out = [0u8; 22];
        let n = write_reply(
            reply::CONNECTION_REFUSED,
            "0.0.0.0:0".parse().expect("a"),
            &mut out,
        );
        assert_eq!(&out[..n], &[5, 5, 0, 1, 0, 0, 0, 0, 0, 0]);
        let n = write_udp_header("10.0.0.5:53".parse().expect("a"), &mut out);
        assert_eq!(&out[..n], &[0, 0, 0, 1, 10, 0, 0, 5, 0, 53]);
        let mut dg = out[..n].to_vec();
        dg.extend_from_slice(b"payload");
        let (t, off) = parse_udp_header(&dg).expect("valid header");
        assert_eq!(t, Target::Addr("10.0.0.5:53".parse().expect("a")));
        assert_eq!(&dg[off..], b"payload");
        assert_eq!(
            parse_udp_header(&[0, 0, 1, 1, 0, 0, 0, 0, 0, 0]),
            Err(SocksError::Malformed)
        );
    }
}
