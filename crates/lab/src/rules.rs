//! The lab's firewall: what the VPC's security groups (and the absence of a host) do to a packet
//! before it reaches a virtual host.

use std::fmt;
use std::net::Ipv4Addr;

use crate::plan::{self, Proto, RuleSource, Site};

/// What happens to a packet addressed to the lab's networks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Delivered to the host (which may still refuse: no listener → TCP reset).
    Admit,
    /// No host has this address: the packet is lost, as on a real network.
    NoSuchHost,
    /// The destination's security groups admit no such traffic: silently dropped.
    Blocked {
        /// The (first) security group of the destination host.
        group: &'static str,
    },
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Admit => f.write_str("admitted"),
            Verdict::NoSuchHost => f.write_str("no such host"),
            Verdict::Blocked { group } => write!(f, "blocked by {group}"),
        }
    }
}

/// Decides `src → dst:port/proto` the way the VPC would: home LAN hosts accept everything;
/// VPC hosts accept what one of their security groups admits (a CIDR holding `src`, or a group
/// that the host at `src` belongs to). `port` is `None` for protocols without ports (ICMP…),
/// which no rule of the lab admits.
pub fn check(src: Ipv4Addr, dst: Ipv4Addr, proto: Option<Proto>, port: Option<u16>) -> Verdict {
    let Some(host) = plan::host_by_ip(dst) else {
        return Verdict::NoSuchHost;
    };
    if host.site == Site::Home {
        return Verdict::Admit;
    }
    let source_groups = plan::host_by_ip(src)
        .map(|h| h.security_groups)
        .unwrap_or(&[]);
    let admitted = host
        .security_groups
        .iter()
        .filter_map(|name| plan::security_group(name))
        .flat_map(|g| g.ingress.iter())
        .any(|r| {
            let (Some(proto), Some(port)) = (proto, port) else {
                return false;
            };
            r.proto == proto
                && (r.from_port..=r.to_port).contains(&port)
                && match r.source {
                    RuleSource::Cidr(net, len) => plan::in_net(src, (net, len)),
                    RuleSource::Group(g) => source_groups.contains(&g),
                }
        });
    if admitted {
        Verdict::Admit
    } else {
        Verdict::Blocked {
            group: host.security_groups.first().copied().unwrap_or("default"),
        }
    }
}

/// The parts of an IPv4 packet the firewall looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flow {
    /// Source address.
    pub src: Ipv4Addr,
    /// Destination address.
    pub dst: Ipv4Addr,
    /// TCP or UDP (`None` for other protocols).
    pub proto: Option<Proto>,
    /// Destination port (TCP/UDP with a complete header).
    pub dst_port: Option<u16>,
    /// A TCP segment that opens a connection (SYN without ACK).
    pub tcp_open: bool,
}

impl Flow {
    /// Reads an IPv4 packet's addresses and destination port; `None` if it is not IPv4 or too
    /// short. Never panics.
    pub fn parse(packet: &[u8]) -> Option<Flow> {
        let first = *packet.first()?;
        if first >> 4 != 4 {
            return None;
        }
        let ihl = usize::from(first & 0x0f) * 4;
        if ihl < 20 || packet.len() < ihl {
            return None;
        }
        let src = Ipv4Addr::new(packet[12], packet[13], packet[14], packet[15]);
        let dst = Ipv4Addr::new(packet[16], packet[17], packet[18], packet[19]);
        let proto = match packet[9] {
            6 => Some(Proto::Tcp),
            17 => Some(Proto::Udp),
            _ => None,
        };
        // Only the first fragment carries the ports.
        let frag_offset = u16::from_be_bytes([packet[6], packet[7]]) & 0x1fff;
        let dst_port = match (proto, frag_offset) {
            (Some(_), 0) => packet
                .get(ihl + 2..ihl + 4)
                .map(|b| u16::from_be_bytes([b[0], b[1]])),
            _ => None,
        };
        let tcp_open = proto == Some(Proto::Tcp)
            && frag_offset == 0
            && packet.get(ihl + 13).is_some_and(|f| f & 0x12 == 0x02);
        Some(Flow {
            src,
            dst,
            proto,
            dst_port,
            tcp_open,
        })
    }

    /// [`check`] for this flow, statefully as security groups are: segments between lab hosts
    /// that do not open a connection (the web servers' replies to the load balancer's
    /// ephemeral ports) pass; everything from outside (the VPN) is checked against the rules.
    pub fn verdict(&self) -> Verdict {
        if self.proto == Some(Proto::Tcp) && !self.tcp_open && plan::host_by_ip(self.src).is_some()
        {
            return match plan::host_by_ip(self.dst) {
                Some(_) => Verdict::Admit,
                None => Verdict::NoSuchHost,
            };
        }
        check(self.src, self.dst, self.proto, self.dst_port)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{host_by_name, CLIENT_IP};

    fn ip(name: &str) -> Ipv4Addr {
        host_by_name(name).expect("lab host").ip
    }

    #[test]
    fn the_replica_is_blocked_from_the_vpn_but_not_from_the_app_subnet() {
        let tcp = Some(Proto::Tcp);
        assert_eq!(
            check(CLIENT_IP, ip("db-replica"), tcp, Some(5432)),
            Verdict::Blocked {
                group: "sg-replica"
            }
        );
        assert_eq!(
            check(ip("web-1"), ip("db-replica"), tcp, Some(5432)),
            Verdict::Admit
        );
        assert_eq!(check(CLIENT_IP, ip("db"), tcp, Some(5432)), Verdict::Admit);
    }

    #[test]
    fn groups_cidrs_ports_and_protocols() {
        let tcp = Some(Proto::Tcp);
        // The LB reaches the web servers through the group reference.
        assert_eq!(check(ip("lb"), ip("web-2"), tcp, Some(80)), Verdict::Admit);
        // A port no rule names is blocked even from the VPN.
        assert_eq!(
            check(CLIENT_IP, ip("web-1"), tcp, Some(22)),
            Verdict::Blocked { group: "sg-app" }
        );
        // DNS is UDP only.
        assert_eq!(
            check(CLIENT_IP, ip("dns"), Some(Proto::Udp), Some(53)),
            Verdict::Admit
        );
        assert_eq!(
            check(CLIENT_IP, ip("dns"), tcp, Some(53)),
            Verdict::Blocked { group: "sg-dns" }
        );
        // ICMP is not admitted in the VPC; the home LAN takes everything.
        assert_eq!(
            check(CLIENT_IP, ip("cache"), None, None),
            Verdict::Blocked { group: "sg-cache" }
        );
        assert_eq!(check(CLIENT_IP, ip("nas"), None, None), Verdict::Admit);
        assert_eq!(
            check(CLIENT_IP, Ipv4Addr::new(10, 20, 1, 99), tcp, Some(80)),
            Verdict::NoSuchHost
        );
    }

    #[test]
    fn flow_parsing_never_panics_and_reads_ports() {
        let mut p = vec![0u8; 40];
        p[0] = 0x45;
        p[9] = 6;
        p[12..16].copy_from_slice(&[10, 100, 0, 2]);
        p[16..20].copy_from_slice(&[10, 20, 2, 31]);
        p[22..24].copy_from_slice(&5432u16.to_be_bytes());
        p[33] = 0x02; // SYN
        let f = Flow::parse(&p).expect("ipv4");
        assert_eq!(f.dst_port, Some(5432));
        assert!(f.tcp_open);
        assert_eq!(
            f.verdict(),
            Verdict::Blocked {
                group: "sg-replica"
            }
        );
        // A stray segment from the VPN (ACK) is checked as well: no reset leaks out.
        p[33] = 0x10;
        assert_eq!(
            Flow::parse(&p).expect("ipv4").verdict(),
            Verdict::Blocked {
                group: "sg-replica"
            }
        );
        // A reply between lab hosts (web-1 → lb's ephemeral port) passes.
        let mut reply = p.clone();
        reply[12..16].copy_from_slice(&[10, 20, 1, 11]);
        reply[16..20].copy_from_slice(&[10, 20, 0, 10]);
        reply[22..24].copy_from_slice(&49152u16.to_be_bytes());
        reply[33] = 0x12;
        assert_eq!(Flow::parse(&reply).expect("ipv4").verdict(), Verdict::Admit);
        p[33] = 0x02;
        // Truncated transport header: no port, so blocked in the VPC.
        assert_eq!(Flow::parse(&p[..21]).expect("ipv4").dst_port, None);
        for len in 0..p.len() {
            let _ = Flow::parse(&p[..len]);
        }
        assert!(Flow::parse(&[0x60; 40]).is_none());
        assert!(Flow::parse(&[0x4f; 20]).is_none());
    }
}
