//! The demo lab's facts the use cases share: the demo connection's name, the host its first
//! connection resolves, its client profile and its services (`gatehouse_lab::plan`).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use gatehouse_lab::plan::{self, Proto, ServiceKind};
use gatehouse_profile::Config;

/// The demo connection's name.
pub const DEMO: &str = "demo";

/// A demo host whose name the first connection resolves (starting the handshake).
pub const DEMO_PROBE_HOST: &str = "web-1.internal";

/// A lab service kind's name (`http`, `postgres`, …): read from its `Debug` name so that kinds
/// the lab adds later get a name without a change here.
pub(crate) fn kind_name(kind: ServiceKind) -> String {
    format!("{kind:?}").to_ascii_lowercase()
}

/// The demo client's profile: the running lab's when there is one, else one of the same
/// shape (the verdicts depend only on its addresses and AllowedIPs).
pub fn demo_profile(running: Option<&Config>) -> Config {
    match running {
        Some(c) => c.clone(),
        None => gatehouse_lab::client_profile(
            gatehouse_profile::Secret::generate(),
            gatehouse_profile::Secret::generate().public_key(),
            SocketAddr::from((Ipv4Addr::LOCALHOST, 51820)),
        ),
    }
}

/// A demo service's address, host name and whether it speaks HTTP.
#[derive(Debug, Clone, Copy)]
pub struct DemoTarget {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its DNS name.
    pub host: &'static str,
    /// HTTP (web server or load balancer).
    pub http: bool,
}

/// The demo service of host `name` (or its DNS name or IP) on `port`.
pub fn demo_target(name: &str, port: u16) -> Option<DemoTarget> {
    let host = plan::HOSTS
        .iter()
        .find(|h| h.name == name || h.fqdn == name || h.ip.to_string() == name)?;
    let svc = host
        .services
        .iter()
        .find(|s| s.port == port && s.proto == Proto::Tcp)?;
    Some(DemoTarget {
        addr: SocketAddr::new(IpAddr::V4(host.ip), port),
        host: host.fqdn,
        http: matches!(kind_name(svc.kind).as_str(), "http" | "loadbalancer"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_targets() {
        let t = demo_target("web-1", 80).expect("web-1");
        assert!(t.http);
        assert!(demo_target("web-1", 81).is_none());
        assert!(demo_target("nope", 80).is_none());
    }
}
