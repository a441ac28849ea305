//! Reachability tests: small topologies, one per code. The helpers and the base AWS topology
//! live here; each submodule tests one part of the path.

use super::*;

mod firewalls;
mod nacl;
mod nsg;
mod paths;
mod service;
mod transit;

#[test]
fn a_tunnel_of_an_interface_names_its_peers() {
    let net = |s: &str| s.parse::<IpNet>().unwrap();
    let one = Tunnel::of_interface(
        vec![net("10.0.0.2/32")],
        [(
            Some("192.0.2.1".parse().unwrap()),
            vec![net("10.20.0.0/16")],
        )],
        "work",
    );
    assert_eq!(one.peers.len(), 1);
    assert_eq!(one.peers[0].name, "work");
    assert_eq!(one.peers[0].endpoint, Some("192.0.2.1".parse().unwrap()));
    assert!(one.local_routes.is_empty());
    let two = Tunnel::of_interface(
        vec![net("10.0.0.2/32")],
        [
            (None, vec![net("10.20.0.0/16")]),
            (None, vec![net("10.30.0.0/16")]),
        ],
        "work",
    );
    let names: Vec<&str> = two.peers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["work#1", "work#2"]);
    assert_eq!(two.peers[1].allowed_ips, vec![net("10.30.0.0/16")]);
}

fn net(s: &str) -> IpNet {
    s.parse().unwrap()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn host(id: &str, name: &str, subnet: &str, addr: &str, sgs: &[&str]) -> Host {
    Host {
        id: id.into(),
        name: name.into(),
        provider: Provider::Aws,
        vpc: Some("vpc-1".into()),
        subnet: Some(subnet.into()),
        zone: None,
        private_ips: vec![ip(addr)],
        public_ip: None,
        tags: Default::default(),
        labels: vec![],
        security_groups: sgs.iter().map(|s| s.to_string()).collect(),
        state: Some("running".into()),
        source_dest_check: Some(true),
        interfaces: vec![format!("eni-{id}")],
        service: None,
        subnets: Vec::new(),
    }
}

fn allow_in(port: u16, peers: Vec<Peer>) -> Rule {
    Rule {
        direction: Direction::Ingress,
        action: Action::Allow,
        priority: 0,
        protocol: Protocol::Tcp,
        ports: Some(PortRange {
            from: port,
            to: port,
        }),
        peers,
        description: None,
        targets: Vec::new(),
    }
}

fn allow_all_out() -> Rule {
    Rule {
        direction: Direction::Egress,
        action: Action::Allow,
        priority: 0,
        protocol: Protocol::All,
        ports: None,
        peers: vec![Peer::Cidr(net("0.0.0.0/0"))],
        description: None,
        targets: Vec::new(),
    }
}

fn sg(id: &str, name: &str, rules: Vec<Rule>) -> Firewall {
    Firewall {
        id: id.into(),
        name: name.into(),
        kind: FirewallKind::SecurityGroup,
        vpc: Some("vpc-1".into()),
        applies_to: AppliesTo::Membership,
        rules,
    }
}

/// The small AWS topology of the tests: vpn-gw (10.20.0.5, forwards) in the public subnet,
/// app (10.20.1.10) and db (10.20.2.30) in private subnets; the private table routes the
/// tunnel's 10.100.0.0/24 to the VPN host; sg-db admits 5432 only from sg-app.
fn topo() -> Topology {
    let mut vpn = host("i-vpn", "vpn-gw", "subnet-pub", "10.20.0.5", &["sg-vpn"]);
    vpn.source_dest_check = Some(false);
    vpn.public_ip = Some(ip("203.0.113.10"));
    Topology {
        vpcs: vec![Vpc {
            id: "vpc-1".into(),
            name: "lab".into(),
            provider: Provider::Aws,
            region: Some("eu-west-1".into()),
            cidrs: vec![net("10.20.0.0/16")],
            main_route_table: Some("rtb-main".into()),
            tags: Default::default(),
            placeholder: false,
        }],
        subnets: ["subnet-pub", "subnet-app", "subnet-db"]
            .iter()
            .enumerate()
            .map(|(i, s)| Subnet {
                id: s.to_string(),
                name: s.to_string(),
                vpc: Some("vpc-1".into()),
                cidr: Some(net(&format!("10.20.{i}.0/24"))),
                zone: None,
                region: None,
                public: None,
                tags: Default::default(),
            })
            .collect(),
        hosts: vec![
            vpn,
            host("i-app", "app", "subnet-app", "10.20.1.10", &["sg-app"]),
            host("i-db", "db", "subnet-db", "10.20.2.30", &["sg-db"]),
        ],
        route_tables: vec![
            RouteTable {
                id: "rtb-main".into(),
                name: "rtb-main".into(),
                vpc: Some("vpc-1".into()),
                main: true,
                routes: vec![Route {
                    destination: net("0.0.0.0/0"),
                    target: RouteTarget::Gateway("igw-1".into()),
                }],
                subnets: vec![],
                gateway: None,
            },
            RouteTable {
                id: "rtb-private".into(),
                name: "rtb-private".into(),
                vpc: Some("vpc-1".into()),
                main: false,
                routes: vec![Route {
                    destination: net("10.100.0.0/24"),
                    target: RouteTarget::Interface("eni-i-vpn".into()),
                }],
                subnets: vec!["subnet-app".into(), "subnet-db".into()],
                gateway: None,
            },
        ],
        firewalls: vec![
            sg("sg-vpn", "sg-vpn", vec![allow_all_out()]),
            sg(
                "sg-app",
                "sg-app",
                vec![
                    allow_in(80, vec![Peer::Cidr(net("10.100.0.0/24"))]),
                    allow_all_out(),
                ],
            ),
            sg(
                "sg-db",
                "sg-db",
                vec![allow_in(5432, vec![Peer::Group("sg-app".into())])],
            ),
        ],
        gateways: vec![Gateway {
            id: "igw-1".into(),
            name: "lab-igw".into(),
            kind: GatewayKind::Internet,
            vpc: Some("vpc-1".into()),
            subnet: None,
            private_ip: None,
            public_ip: None,
            attachments: Vec::new(),
        }],
        ..Default::default()
    }
}

fn tunnel() -> Tunnel {
    Tunnel {
        addresses: vec![net("10.100.0.2/32")],
        peers: vec![TunnelPeer {
            name: "lab".into(),
            endpoint: Some(ip("203.0.113.10")),
            allowed_ips: vec![net("10.20.0.0/16")],
        }],
        local_routes: vec![LocalRoute {
            destination: net("192.168.1.0/24"),
            device: "wlan0".into(),
        }],
    }
}

fn check(t: &Topology, tun: Option<&Tunnel>, hint: &VpnHint, key: &str, port: u16) -> Verdict {
    Analyzer::new(t, tun, hint, &[]).check_key(key, Protocol::Tcp, port)
}

#[test]
fn every_code_has_a_distinct_spelling() {
    let set: BTreeSet<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
    assert_eq!(set.len(), Code::ALL.len());
    for c in Code::ALL {
        assert_eq!(
            serde_json::to_string(&c).unwrap(),
            format!("\"{}\"", c.as_str())
        );
    }
}
