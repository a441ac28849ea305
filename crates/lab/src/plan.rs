//! The lab's address plan: every virtual host, the services it runs, and the security groups
//! that guard the VPC hosts. `topology.tfstate` describes the same VPC; a test keeps them equal.
//!
//! ```text
//! VPN clients     10.100.0.0/24   gateway 10.100.0.1, the client profile 10.100.0.2/32
//! home LAN        192.168.1.0/24  router .1 (HTTP 80, HTTPS 443), pi .20 (SSH 22, HTTP 8080),
//!                                 nas .30 (HTTP 5000, SMB 445, MySQL 3306)
//! VPC             10.20.0.0/16
//!   public        10.20.0.0/24    vpn-gw .5 (WireGuard UDP 51820), lb .10 (TCP 80 → web-1, web-2)
//!   app           10.20.1.0/24    web-1 .11, web-2 .12 (HTTP 80), cache .20 (Redis 6379)
//!   data          10.20.2.0/24    db .30 (PostgreSQL 5432), db-replica .31 (PostgreSQL 5432),
//!                                 orders-db .40 (a managed PostgreSQL: an RDS instance in the
//!                                 state, whose address only its endpoint name tells),
//!                                 dns .53 (DNS UDP 53, `*.internal`)
//! ```
//!
//! The one rule that blocks: `sg-replica` admits 5432 only from `sg-app`, so the replica is
//! unreachable from the VPN while the primary `db` answers.

use std::net::Ipv4Addr;

/// The VPN client pool (the tunnel addresses of clients).
pub const VPN_POOL: (Ipv4Addr, u8) = (Ipv4Addr::new(10, 100, 0, 0), 24);
/// The gateway's own tunnel address.
pub const GATEWAY_TUNNEL_IP: Ipv4Addr = Ipv4Addr::new(10, 100, 0, 1);
/// The address the client profile gets (`Address = 10.100.0.2/32`).
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(10, 100, 0, 2);
/// The cloud VPC.
pub const VPC_CIDR: (Ipv4Addr, u8) = (Ipv4Addr::new(10, 20, 0, 0), 16);
/// The home LAN.
pub const HOME_CIDR: (Ipv4Addr, u8) = (Ipv4Addr::new(192, 168, 1, 0), 24);
/// The lab's DNS server (the profile's `DNS`).
pub const DNS_IP: Ipv4Addr = Ipv4Addr::new(10, 20, 2, 53);
/// The DNS search domain of the lab.
pub const DNS_DOMAIN: &str = "internal";
/// The tunnel MTU of the lab (and of the client profile).
pub const MTU: u16 = 1420;

/// Where a host lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Site {
    /// The home LAN (no security groups: a flat LAN behind a router).
    Home,
    /// The cloud VPC (security groups apply).
    Vpc,
}

/// A transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Proto {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Proto {
    /// The lowercase name, as in security-group rules (`tcp`, `udp`).
    pub fn as_str(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

/// What software answers on a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceKind {
    /// An HTTP server with this host's pages.
    Http,
    /// SMB: accepts connections and reads what comes, answers nothing.
    Smb,
    /// The load balancer: proxies each connection to the next web server (round robin).
    LoadBalancer,
    /// Redis (RESP): PING, ECHO, GET, SET, DEL, EXISTS…
    Redis,
    /// PostgreSQL: SSLRequest, StartupMessage, simple queries.
    Postgres,
    /// The DNS server for `*.internal`.
    Dns,
    /// HTTPS: TLS (self-signed certificate) in front of this host's pages.
    Tls,
    /// SSH: the identification banner, then close after the client's.
    Ssh,
    /// MySQL: the protocol-10 greeting, then "access denied".
    Mysql,
    /// WireGuard: the gateway's own UDP socket (not served on the virtual network).
    WireGuard,
}

/// One listening port of a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    /// Transport.
    pub proto: Proto,
    /// Port.
    pub port: u16,
    /// What answers.
    pub kind: ServiceKind,
}

const fn tcp(port: u16, kind: ServiceKind) -> Service {
    Service {
        proto: Proto::Tcp,
        port,
        kind,
    }
}

const fn udp(port: u16, kind: ServiceKind) -> Service {
    Service {
        proto: Proto::Udp,
        port,
        kind,
    }
}

/// A virtual host of the lab.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Host {
    /// Short name (also the `Name` tag in the topology).
    pub name: &'static str,
    /// DNS name served by the lab's DNS server.
    pub fqdn: &'static str,
    /// Private IPv4 address.
    pub ip: Ipv4Addr,
    /// Home LAN or VPC.
    pub site: Site,
    /// The subnet's name (`public`, `app`, `data`; `home` for the LAN).
    pub subnet: &'static str,
    /// Security groups (VPC hosts only).
    pub security_groups: &'static [&'static str],
    /// What it serves.
    pub services: &'static [Service],
}

/// Every virtual host, home LAN first.
pub const HOSTS: &[Host] = &[
    Host {
        name: "router",
        fqdn: "router.home.internal",
        ip: Ipv4Addr::new(192, 168, 1, 1),
        site: Site::Home,
        subnet: "home",
        security_groups: &[],
        services: &[tcp(80, ServiceKind::Http), tcp(443, ServiceKind::Tls)],
    },
    Host {
        name: "pi",
        fqdn: "pi.home.internal",
        ip: Ipv4Addr::new(192, 168, 1, 20),
        site: Site::Home,
        subnet: "home",
        security_groups: &[],
        services: &[tcp(22, ServiceKind::Ssh), tcp(8080, ServiceKind::Http)],
    },
    Host {
        name: "nas",
        fqdn: "nas.home.internal",
        ip: Ipv4Addr::new(192, 168, 1, 30),
        site: Site::Home,
        subnet: "home",
        security_groups: &[],
        services: &[
            tcp(5000, ServiceKind::Http),
            tcp(445, ServiceKind::Smb),
            tcp(3306, ServiceKind::Mysql),
        ],
    },
    Host {
        name: "vpn-gw",
        fqdn: "vpn-gw.internal",
        ip: Ipv4Addr::new(10, 20, 0, 5),
        site: Site::Vpc,
        subnet: "public",
        security_groups: &["sg-vpn"],
        services: &[udp(51820, ServiceKind::WireGuard)],
    },
    Host {
        name: "lb",
        fqdn: "lb.internal",
        ip: Ipv4Addr::new(10, 20, 0, 10),
        site: Site::Vpc,
        subnet: "public",
        security_groups: &["sg-lb"],
        services: &[tcp(80, ServiceKind::LoadBalancer)],
    },
    Host {
        name: "web-1",
        fqdn: "web-1.internal",
        ip: Ipv4Addr::new(10, 20, 1, 11),
        site: Site::Vpc,
        subnet: "app",
        security_groups: &["sg-app"],
        services: &[tcp(80, ServiceKind::Http)],
    },
    Host {
        name: "web-2",
        fqdn: "web-2.internal",
        ip: Ipv4Addr::new(10, 20, 1, 12),
        site: Site::Vpc,
        subnet: "app",
        security_groups: &["sg-app"],
        services: &[tcp(80, ServiceKind::Http)],
    },
    Host {
        name: "cache",
        fqdn: "cache.internal",
        ip: Ipv4Addr::new(10, 20, 1, 20),
        site: Site::Vpc,
        subnet: "app",
        security_groups: &["sg-cache"],
        services: &[tcp(6379, ServiceKind::Redis)],
    },
    Host {
        name: "db",
        fqdn: "db.internal",
        ip: Ipv4Addr::new(10, 20, 2, 30),
        site: Site::Vpc,
        subnet: "data",
        security_groups: &["sg-db"],
        services: &[tcp(5432, ServiceKind::Postgres)],
    },
    Host {
        name: "db-replica",
        fqdn: "db-replica.internal",
        ip: Ipv4Addr::new(10, 20, 2, 31),
        site: Site::Vpc,
        subnet: "data",
        security_groups: &["sg-replica"],
        services: &[tcp(5432, ServiceKind::Postgres)],
    },
    Host {
        name: "orders-db",
        fqdn: "orders-db.internal",
        ip: Ipv4Addr::new(10, 20, 2, 40),
        site: Site::Vpc,
        subnet: "data",
        security_groups: &["sg-db"],
        services: &[tcp(5432, ServiceKind::Postgres)],
    },
    Host {
        name: "dns",
        fqdn: "dns.internal",
        ip: DNS_IP,
        site: Site::Vpc,
        subnet: "data",
        security_groups: &["sg-dns"],
        services: &[udp(53, ServiceKind::Dns)],
    },
];

/// The web servers behind the load balancer, in round-robin order.
pub const LB_TARGETS: &[&str] = &["web-1", "web-2"];

/// Where a security-group rule admits traffic from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleSource {
    /// An IPv4 network (address, prefix length).
    Cidr(Ipv4Addr, u8),
    /// Members of a security group (by name).
    Group(&'static str),
}

/// One ingress rule: protocol, port range, source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Transport.
    pub proto: Proto,
    /// First port admitted.
    pub from_port: u16,
    /// Last port admitted.
    pub to_port: u16,
    /// Where from.
    pub source: RuleSource,
}

/// A security group: ingress rules (egress is open).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecurityGroup {
    /// Name (also its `name` in the topology).
    pub name: &'static str,
    /// Ingress rules.
    pub ingress: &'static [Rule],
}

const fn rule(proto: Proto, port: u16, source: RuleSource) -> Rule {
    Rule {
        proto,
        from_port: port,
        to_port: port,
        source,
    }
}

const FROM_VPN: RuleSource = RuleSource::Cidr(VPN_POOL.0, VPN_POOL.1);
const FROM_VPC: RuleSource = RuleSource::Cidr(VPC_CIDR.0, VPC_CIDR.1);

/// The VPC's security groups.
pub const SECURITY_GROUPS: &[SecurityGroup] = &[
    SecurityGroup {
        name: "sg-vpn",
        ingress: &[rule(
            Proto::Udp,
            51820,
            RuleSource::Cidr(Ipv4Addr::UNSPECIFIED, 0),
        )],
    },
    SecurityGroup {
        name: "sg-lb",
        ingress: &[
            rule(Proto::Tcp, 80, FROM_VPN),
            rule(Proto::Tcp, 80, FROM_VPC),
        ],
    },
    SecurityGroup {
        name: "sg-app",
        ingress: &[
            rule(Proto::Tcp, 80, RuleSource::Group("sg-lb")),
            rule(Proto::Tcp, 80, FROM_VPN),
        ],
    },
    SecurityGroup {
        name: "sg-cache",
        ingress: &[
            rule(Proto::Tcp, 6379, RuleSource::Group("sg-app")),
            rule(Proto::Tcp, 6379, FROM_VPN),
        ],
    },
    SecurityGroup {
        name: "sg-db",
        ingress: &[
            rule(Proto::Tcp, 5432, RuleSource::Group("sg-app")),
            rule(Proto::Tcp, 5432, FROM_VPN),
        ],
    },
    SecurityGroup {
        name: "sg-replica",
        ingress: &[rule(Proto::Tcp, 5432, RuleSource::Group("sg-app"))],
    },
    SecurityGroup {
        name: "sg-dns",
        ingress: &[
            rule(Proto::Udp, 53, FROM_VPC),
            rule(Proto::Udp, 53, FROM_VPN),
        ],
    },
];

/// The host with this address.
pub fn host_by_ip(ip: Ipv4Addr) -> Option<&'static Host> {
    HOSTS.iter().find(|h| h.ip == ip)
}

/// The host with this short name.
pub fn host_by_name(name: &str) -> Option<&'static Host> {
    HOSTS.iter().find(|h| h.name == name)
}

/// The security group with this name.
pub fn security_group(name: &str) -> Option<&'static SecurityGroup> {
    SECURITY_GROUPS.iter().find(|g| g.name == name)
}

/// Whether `ip` lies in `net` (address, prefix length).
pub fn in_net(ip: Ipv4Addr, net: (Ipv4Addr, u8)) -> bool {
    let (base, len) = net;
    if len == 0 {
        return true;
    }
    let mask = u32::MAX
        .checked_shl(32 - u32::from(len.min(32)))
        .unwrap_or(0);
    (u32::from(ip) & mask) == (u32::from(base) & mask)
}

/// The networks the client profile routes into the tunnel (its `AllowedIPs`).
pub fn routed_networks() -> [(Ipv4Addr, u8); 2] {
    [VPC_CIDR, HOME_CIDR]
}
