//! What to probe: target specs (`10.0.0.5`, `10.0.0.5:8080`, `10.0.0.0/24`, `db.internal`),
//! port lists (`22,80,8000-8010`), subnet sweeps (at most a /22) and the common port list.

use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// Ports worth trying on a host nobody described: SSH, web, TLS, file sharing, databases,
/// caches, admin UIs.
pub const COMMON_PORTS: &[u16] = &[
    21, 22, 23, 25, 53, 80, 139, 443, 445, 3000, 3306, 3389, 5000, 5432, 5900, 6379, 8000, 8080,
    8443, 9000, 9090, 9200, 27017,
];

/// The most addresses one sweep covers (a /22 of IPv4).
pub const MAX_SWEEP: u32 = 1024;

/// One host and port to probe.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Target {
    /// Address.
    pub ip: IpAddr,
    /// TCP port.
    pub port: u16,
    /// A name for it (topology host name, or the name it was given as), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Target {
    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(self.ip, self.port)
    }

    /// The name if known, else the address (for `Host:` and SNI).
    pub fn host_text(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.ip.to_string())
    }
}

/// What a target argument names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetSpec {
    /// One address, with a port or not (then the port list applies).
    Addr(IpAddr, Option<u16>),
    /// A network to sweep (at most [`MAX_SWEEP`] addresses).
    Net(IpNet),
    /// A name (a topology host, or a DNS name), with a port or not.
    Name(String, Option<u16>),
}

/// A target argument that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// Empty.
    #[error("empty target")]
    Empty,
    /// The port part is not a number in 1..=65535.
    #[error("{0}: the port must be a number from 1 to 65535")]
    BadPort(String),
    /// The network is bigger than a sweep may be.
    #[error("{net}: {count} addresses, more than the {max} a sweep covers (a /22); give a smaller network")]
    TooBig {
        /// The network.
        net: IpNet,
        /// Its addresses.
        count: u128,
        /// [`MAX_SWEEP`].
        max: u32,
    },
    /// Not an address, network or name.
    #[error("{0}: not an address, a network (CIDR) or a host name")]
    Bad(String),
}

fn port(s: &str, whole: &str) -> Result<u16, TargetError> {
    match s.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(TargetError::BadPort(whole.to_string())),
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

impl FromStr for TargetSpec {
    type Err = TargetError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err(TargetError::Empty);
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(TargetSpec::Addr(ip, None));
        }
        if let Ok(a) = s.parse::<SocketAddr>() {
            if a.port() == 0 {
                return Err(TargetError::BadPort(s.to_string()));
            }
            return Ok(TargetSpec::Addr(a.ip(), Some(a.port())));
        }
        if s.contains('/') {
            let net: IpNet = s.parse().map_err(|_| TargetError::Bad(s.to_string()))?;
            let count = address_count(net);
            if count > u128::from(MAX_SWEEP) {
                return Err(TargetError::TooBig {
                    net,
                    count,
                    max: MAX_SWEEP,
                });
            }
            return Ok(TargetSpec::Net(net));
        }
        let (name, p) = match s.rsplit_once(':') {
            Some((n, p)) => (n, Some(port(p, s)?)),
            None => (s, None),
        };
        if valid_name(name) {
            Ok(TargetSpec::Name(name.to_ascii_lowercase(), p))
        } else {
            Err(TargetError::Bad(s.to_string()))
        }
    }
}

fn address_count(net: IpNet) -> u128 {
    let bits = u32::from(net.max_prefix_len() - net.prefix_len());
    1u128.checked_shl(bits).unwrap_or(u128::MAX)
}

/// The host addresses of `net` to sweep: every address, but the network and broadcast
/// addresses of IPv4 networks of /30 and bigger. Refuses networks of more than [`MAX_SWEEP`]
/// addresses.
pub fn sweep(net: IpNet) -> Result<Vec<IpAddr>, TargetError> {
    let count = address_count(net);
    if count > u128::from(MAX_SWEEP) {
        return Err(TargetError::TooBig {
            net,
            count,
            max: MAX_SWEEP,
        });
    }
    let net = net.trunc();
    let mut out: Vec<IpAddr> = net.hosts().collect();
    // ipnet's hosts() already drops IPv4 network/broadcast for /30 and bigger; keep /31 and /32.
    if out.is_empty() {
        out.push(net.addr());
    }
    Ok(out)
}

/// A port list: `22,80,443`, ranges `8000-8010`, `common` for [`COMMON_PORTS`]. Sorted,
/// without duplicates.
pub fn parse_ports(s: &str) -> Result<Vec<u16>, TargetError> {
    let mut set = BTreeSet::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if part == "common" {
            set.extend(COMMON_PORTS.iter().copied());
            continue;
        }
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (port(a.trim(), part)?, port(b.trim(), part)?);
                if a > b {
                    return Err(TargetError::BadPort(part.to_string()));
                }
                set.extend(a..=b);
            }
            None => {
                set.insert(port(part, part)?);
            }
        }
    }
    if set.is_empty() {
        return Err(TargetError::BadPort(s.to_string()));
    }
    Ok(set.into_iter().collect())
}

/// Every (host, port) pair, hosts in order, without duplicates (the first name wins).
pub fn expand(hosts: &[(IpAddr, Option<String>)], ports: &[u16]) -> Vec<Target> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(hosts.len() * ports.len());
    for (ip, name) in hosts {
        for &port in ports {
            if seen.insert((*ip, port)) {
                out.push(Target {
                    ip: *ip,
                    port,
                    name: name.clone(),
                });
            }
        }
    }
    out
}

/// Drops later duplicates of the same address and port, keeping order.
pub fn dedup(targets: Vec<Target>) -> Vec<Target> {
    let mut seen = BTreeSet::new();
    targets
        .into_iter()
        .filter(|t| seen.insert((t.ip, t.port)))
        .collect()
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(n) => write!(f, "{n} ({})", self.addr()),
            None => write!(f, "{}", self.addr()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn specs() {
        assert_eq!(
            "10.0.0.5".parse::<TargetSpec>(),
            Ok(TargetSpec::Addr(ip("10.0.0.5"), None))
        );
        assert_eq!(
            "10.0.0.5:8080".parse::<TargetSpec>(),
            Ok(TargetSpec::Addr(ip("10.0.0.5"), Some(8080)))
        );
        assert_eq!(
            "[fd00::1]:22".parse::<TargetSpec>(),
            Ok(TargetSpec::Addr(ip("fd00::1"), Some(22)))
        );
        assert_eq!(
            "192.168.1.0/24".parse::<TargetSpec>(),
            Ok(TargetSpec::Net("192.168.1.0/24".parse().unwrap()))
        );
        assert_eq!(
            "DB.internal:5432".parse::<TargetSpec>(),
            Ok(TargetSpec::Name("db.internal".into(), Some(5432)))
        );
        assert_eq!(
            "web-1".parse::<TargetSpec>(),
            Ok(TargetSpec::Name("web-1".into(), None))
        );
        assert!(matches!(
            "10.0.0.0/16".parse::<TargetSpec>(),
            Err(TargetError::TooBig { count: 65536, .. })
        ));
        assert!(matches!(
            "10.0.0.5:0".parse::<TargetSpec>(),
            Err(TargetError::BadPort(_))
        ));
        assert!(matches!(
            "db:99999".parse::<TargetSpec>(),
            Err(TargetError::BadPort(_))
        ));
        assert!(matches!(
            "bad name".parse::<TargetSpec>(),
            Err(TargetError::Bad(_))
        ));
        assert!(matches!(
            "10.0.0.0/40".parse::<TargetSpec>(),
            Err(TargetError::Bad(_))
        ));
        assert_eq!("  ".parse::<TargetSpec>(), Err(TargetError::Empty));
        assert!("\u{0}\u{1}".parse::<TargetSpec>().is_err());
    }

    #[test]
    fn sweeps_up_to_a_slash_22() {
        let v = sweep("10.20.5.0/24".parse().unwrap()).unwrap();
        assert_eq!(v.len(), 254);
        assert_eq!(v[0], ip("10.20.5.1"));
        assert_eq!(v[253], ip("10.20.5.254"));
        assert_eq!(sweep("10.0.0.0/22".parse().unwrap()).unwrap().len(), 1022);
        assert_eq!(
            sweep("10.0.0.7/32".parse().unwrap()).unwrap(),
            vec![ip("10.0.0.7")]
        );
        assert_eq!(sweep("10.0.0.6/31".parse().unwrap()).unwrap().len(), 2);
        // Host bits set: the network is truncated first.
        assert_eq!(sweep("10.0.0.9/30".parse().unwrap()).unwrap().len(), 2);
        assert!(sweep("10.0.0.0/21".parse().unwrap()).is_err());
        assert!(sweep("fd00::/64".parse().unwrap()).is_err());
        assert_eq!(sweep("fd00::/120".parse().unwrap()).unwrap().len(), 256);
    }

    #[test]
    fn port_lists() {
        assert_eq!(
            parse_ports("80, 22,80,8000-8002").unwrap(),
            vec![22, 80, 8000, 8001, 8002]
        );
        assert_eq!(parse_ports("common").unwrap(), COMMON_PORTS);
        assert_eq!(parse_ports("1-65535").unwrap().len(), 65535);
        for bad in ["", "0", "9-3", "x", "70000", "1-", ","] {
            assert!(parse_ports(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn expansion_is_hosts_times_ports_without_duplicates() {
        let hosts = vec![
            (ip("10.0.0.1"), Some("a".to_string())),
            (ip("10.0.0.2"), None),
            (ip("10.0.0.1"), Some("again".to_string())),
        ];
        let t = expand(&hosts, &[22, 80]);
        assert_eq!(t.len(), 4);
        assert_eq!(t[0].name.as_deref(), Some("a"));
        assert_eq!(t[0].to_string(), "a (10.0.0.1:22)");
        assert_eq!(t[3].to_string(), "10.0.0.2:80");
        let mut more = t.clone();
        more.extend(t.clone());
        assert_eq!(dedup(more), t);
    }
}
