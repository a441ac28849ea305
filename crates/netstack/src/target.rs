//! [`Target`]: where a proxied connection or forward goes.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

/// A destination inside the tunnel: an address, or a host name resolved through the profile's
/// DNS server (inside the tunnel).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// An IP address and port.
    Addr(SocketAddr),
    /// A host name and port.
    Name(String, u16),
}

impl Target {
    /// The port.
    pub fn port(&self) -> u16 {
        match self {
            Target::Addr(a) => a.port(),
            Target::Name(_, p) => *p,
        }
    }

    /// Parses `host:port`, `[v6]:port`, or, when `default_port` is given, a bare `host`/`[v6]`.
    pub fn parse_authority(s: &str, default_port: Option<u16>) -> Result<Target, TargetError> {
        let (host, port) = if let Some(rest) = s.strip_prefix('[') {
            let (v6, after) = rest.split_once(']').ok_or(TargetError::Syntax)?;
            let ip: Ipv6Addr = v6.parse().map_err(|_| TargetError::Syntax)?;
            let port = match after {
                "" => default_port.ok_or(TargetError::MissingPort)?,
                p => parse_port(p.strip_prefix(':').ok_or(TargetError::Syntax)?)?,
            };
            return Ok(Target::Addr(SocketAddr::new(IpAddr::V6(ip), port)));
        } else {
            match s.rsplit_once(':') {
                Some((h, p)) => (h, parse_port(p)?),
                None => (s, default_port.ok_or(TargetError::MissingPort)?),
            }
        };
        if let Ok(ip) = host.parse::<IpAddr>() {
            if ip.is_ipv6() {
                return Err(TargetError::Syntax); // v6 literals need brackets
            }
            return Ok(Target::Addr(SocketAddr::new(ip, port)));
        }
        if !valid_host_name(host) {
            return Err(TargetError::BadHostName);
        }
        Ok(Target::Name(host.to_ascii_lowercase(), port))
    }
}

fn parse_port(p: &str) -> Result<u16, TargetError> {
    match p.parse::<u16>() {
        Ok(0) | Err(_) => Err(TargetError::BadPort),
        Ok(n) if p.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        Ok(_) => Err(TargetError::BadPort),
    }
}

/// Whether `s` is a plausible DNS host name (letters, digits, `-`, `_`, dots; labels 1–63).
pub(crate) fn valid_host_name(s: &str) -> bool {
    let s = s.strip_suffix('.').unwrap_or(s);
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Why a `host:port` text is not a [`Target`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Not `host:port` or `[v6]:port`.
    #[error("expected host:port or [ipv6]:port")]
    Syntax,
    /// No port given.
    #[error("missing :port")]
    MissingPort,
    /// Port not a number in 1..=65535.
    #[error("port must be a number from 1 to 65535")]
    BadPort,
    /// Host name with characters or label lengths DNS does not allow.
    #[error("invalid host name")]
    BadHostName,
}

impl FromStr for Target {
    type Err = TargetError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Target::parse_authority(s, None)
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Addr(a) => write!(f, "{a}"),
            Target::Name(h, p) => write!(f, "{h}:{p}"),
        }
    }
}

impl From<SocketAddr> for Target {
    fn from(a: SocketAddr) -> Self {
        Target::Addr(a)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert_eq!(
            "10.0.0.1:80".parse(),
            Ok(Target::Addr("10.0.0.1:80".parse().expect("addr")))
        );
        assert_eq!(
            "[fd00::1]:443".parse(),
            Ok(Target::Addr("[fd00::1]:443".parse().expect("addr")))
        );
        assert_eq!(
            "Web-1.Internal:8080".parse(),
            Ok(Target::Name("web-1.internal".into(), 8080))
        );
        assert_eq!(
            Target::parse_authority("pi.lan", Some(80)),
            Ok(Target::Name("pi.lan".into(), 80))
        );
        assert_eq!("pi.lan".parse::<Target>(), Err(TargetError::MissingPort));
        assert_eq!("h:0".parse::<Target>(), Err(TargetError::BadPort));
        assert_eq!("h:+80".parse::<Target>(), Err(TargetError::BadPort));
        assert_eq!("h:70000".parse::<Target>(), Err(TargetError::BadPort));
        assert_eq!("fd00::1:80".parse::<Target>(), Err(TargetError::Syntax));
        assert_eq!("a b:80".parse::<Target>(), Err(TargetError::BadHostName));
        assert_eq!("[fd00::1".parse::<Target>(), Err(TargetError::Syntax));
        assert_eq!(":80".parse::<Target>(), Err(TargetError::BadHostName));
        assert_eq!(
            "web:80".parse::<Target>().map(|t| t.to_string()),
            Ok("web:80".into())
        );
    }
}
