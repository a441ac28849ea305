//! What the engine reads from the host: clocks, the network's fingerprint, endpoint names,
//! free interface names, and the nudge that starts a handshake on a TUN interface.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use gatehouse_profile::{Config, Host};
use ipnet::IpNet;

pub(super) fn boot_clock() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_BOOTTIME exists on every Linux we run on.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        u64::try_from(ts.tv_sec).unwrap_or(0),
        u32::try_from(ts.tv_nsec).unwrap_or(0),
    )
}

/// The interface name for a profile: its name when usable and free, else `gh%d`.
pub(super) fn interface_for(name: &str) -> String {
    if gatehouse_device::valid_interface_name(name)
        && !name.contains('%')
        && !std::path::Path::new("/sys/class/net").join(name).exists()
    {
        name.to_owned()
    } else {
        "gh%d".to_owned()
    }
}

pub(super) fn valid_profile_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || " _-.+@=".contains(c))
}

pub(super) async fn resolve_endpoints(config: &Config) -> (Vec<SocketAddr>, Vec<String>) {
    let mut addrs = Vec::new();
    let mut warnings = Vec::new();
    for peer in &config.peers {
        let Some(e) = &peer.endpoint else { continue };
        match &e.host {
            Host::Ip(ip) => addrs.push(SocketAddr::new(*ip, e.port)),
            Host::Name(n) => match tokio::net::lookup_host((n.as_str(), e.port)).await {
                Ok(found) => addrs.extend(found),
                Err(error) => warnings.push(format!("cannot resolve endpoint {n}: {error}")),
            },
        }
    }
    let mut seen = std::collections::HashSet::new();
    addrs.retain(|a| seen.insert(*a));
    (addrs, warnings)
}

/// A digest of the host's interfaces (up/running flags and addresses), leaving out loopback
/// and `exclude` (our own tunnels): it changes when the network does.
pub(super) fn network_fingerprint(exclude: &std::collections::HashSet<String>) -> u64 {
    use nix::net::if_::InterfaceFlags;
    use std::hash::{Hash, Hasher};
    let Ok(addrs) = nix::ifaddrs::getifaddrs() else {
        return 0;
    };
    let mut items: Vec<String> = addrs
        .filter(|a| a.interface_name != "lo" && !exclude.contains(&a.interface_name))
        .map(|a| {
            let flags = a.flags & (InterfaceFlags::IFF_UP | InterfaceFlags::IFF_RUNNING);
            let addr = a
                .address
                .and_then(|s| {
                    s.as_sockaddr_in()
                        .map(|v4| v4.ip().to_string())
                        .or_else(|| s.as_sockaddr_in6().map(|v6| v6.ip().to_string()))
                })
                .unwrap_or_default();
            format!("{} {:x} {addr}", a.interface_name, flags.bits())
        })
        .collect();
    items.sort();
    let mut h = std::collections::hash_map::DefaultHasher::new();
    items.hash(&mut h);
    h.finish()
}

/// An address inside `net` to nudge a handshake towards.
pub(super) fn probe_target(net: &IpNet) -> IpAddr {
    match net {
        IpNet::V4(n) if n.prefix_len() == 0 => IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
        IpNet::V6(n) if n.prefix_len() == 0 => {
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1))
        }
        IpNet::V4(n) if n.prefix_len() < 31 => {
            IpAddr::V4(Ipv4Addr::from(u32::from(n.network()).wrapping_add(1)))
        }
        IpNet::V6(n) if n.prefix_len() < 127 => {
            IpAddr::V6(Ipv6Addr::from(u128::from(n.network()).wrapping_add(1)))
        }
        other => other.addr(),
    }
}

/// Sends one small datagram into the tunnel (bound to its interface): the core then starts a
/// handshake if it has no fresh session.
pub(super) fn nudge(interface: &str, allowed: &[IpNet]) {
    let Some(net) = allowed.first() else { return };
    let target = SocketAddr::new(probe_target(net), 9);
    let domain = if target.is_ipv4() {
        socket2::Domain::IPV4
    } else {
        socket2::Domain::IPV6
    };
    let Ok(sock) = socket2::Socket::new(domain, socket2::Type::DGRAM, None) else {
        return;
    };
    if sock.bind_device(Some(interface.as_bytes())).is_err() {
        return;
    }
    let _ = sock.send_to(b"gatehouse", &target.into());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_targets_stay_inside_the_network() {
        let n = |s: &str| s.parse::<IpNet>().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(probe_target(&n("10.202.0.0/24")).to_string(), "10.202.0.1");
        assert_eq!(probe_target(&n("10.202.0.7/32")).to_string(), "10.202.0.7");
        assert_eq!(probe_target(&n("0.0.0.0/0")).to_string(), "192.0.2.1");
        assert_eq!(probe_target(&n("fd00:202::/64")).to_string(), "fd00:202::1");
        for t in ["10.202.0.0/24", "0.0.0.0/0", "fd00::/8", "::/0"] {
            assert!(n(t).contains(&probe_target(&n(t))));
        }
    }

    #[test]
    fn network_fingerprint_ignores_excluded_interfaces() {
        let none = std::collections::HashSet::new();
        let a = network_fingerprint(&none);
        assert_eq!(a, network_fingerprint(&none));
        let all: std::collections::HashSet<String> = nix::ifaddrs::getifaddrs()
            .map(|i| i.map(|a| a.interface_name).collect())
            .unwrap_or_default();
        let empty = network_fingerprint(&all);
        let mut h = std::collections::hash_map::DefaultHasher::new();
        std::hash::Hash::hash(&Vec::<String>::new(), &mut h);
        assert_eq!(empty, std::hash::Hasher::finish(&h));
    }

    #[test]
    fn names() {
        assert!(valid_profile_name("home office"));
        assert!(!valid_profile_name(""));
        assert!(!valid_profile_name("a/b"));
        assert!(!valid_profile_name(&"x".repeat(65)));
        assert_eq!(interface_for("a very long profile name"), "gh%d");
        assert_eq!(interface_for("lo"), "gh%d");
        assert_eq!(interface_for("ghtest9"), "ghtest9");
    }
}
