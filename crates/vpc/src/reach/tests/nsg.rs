//! Azure network security groups: priorities, subnet then NIC, service tags, rule targets.

use super::*;

fn nsg_rule(
    dir: Direction,
    name: &str,
    priority: u32,
    action: Action,
    ports: Option<u16>,
    peers: Vec<Peer>,
) -> Rule {
    Rule {
        direction: dir,
        action,
        priority,
        protocol: if ports.is_some() {
            Protocol::Tcp
        } else {
            Protocol::All
        },
        ports: ports.map(|p| PortRange { from: p, to: p }),
        peers,
        description: Some(name.into()),
        targets: Vec::new(),
    }
}

fn tag(t: &str) -> Peer {
    Peer::ServiceTag(t.into())
}

fn any() -> Peer {
    Peer::Cidr(net("0.0.0.0/0"))
}

use Action::{Allow, Deny};
use Direction::{Egress as Out, Ingress as In};

/// An NSG with Azure's six default rules (as the importer adds them) and `rules` before them.
fn nsg(id: &str, applies_to: AppliesTo, rules: Vec<Rule>) -> Firewall {
    let mut rules = rules;
    rules.extend([
        nsg_rule(
            In,
            "AllowVnetInBound",
            65000,
            Allow,
            None,
            vec![tag("VirtualNetwork")],
        ),
        nsg_rule(
            In,
            "AllowAzureLoadBalancerInBound",
            65001,
            Allow,
            None,
            vec![tag("AzureLoadBalancer")],
        ),
        nsg_rule(In, "DenyAllInBound", 65500, Deny, None, vec![any()]),
        nsg_rule(
            Out,
            "AllowVnetOutBound",
            65000,
            Allow,
            None,
            vec![tag("VirtualNetwork")],
        ),
        nsg_rule(
            Out,
            "AllowInternetOutBound",
            65001,
            Allow,
            None,
            vec![tag("Internet")],
        ),
        nsg_rule(Out, "DenyAllOutBound", 65500, Deny, None, vec![any()]),
    ]);
    for r in rules.iter_mut().filter(|r| {
        r.description
            .as_deref()
            .is_some_and(|d| d.starts_with("AllowVnet"))
    }) {
        r.targets = vec![tag("VirtualNetwork")];
    }
    Firewall {
        id: id.into(),
        name: id.into(),
        kind: FirewallKind::Nsg,
        vpc: Some("vnet-1".into()),
        applies_to,
        rules,
    }
}

/// An Azure VNet 10.50.0.0/16: the VPN VM vpn (10.50.0.4, NIC NSG vpn-nsg) and web
/// (10.50.1.10, NIC NSG web-nsg) in snet-app, whose subnet NSG is snet-nsg.
fn azure() -> Topology {
    let vm = |id: &str, subnet: &str, addr: &str, nsg: &str| Host {
        id: id.into(),
        name: id.into(),
        provider: Provider::Azure,
        vpc: Some("vnet-1".into()),
        subnet: Some(subnet.into()),
        private_ips: vec![ip(addr)],
        security_groups: vec![nsg.into()],
        state: Some("running".into()),
        ..Default::default()
    };
    let subnet = |id: &str, cidr: &str| Subnet {
        id: id.into(),
        name: id.into(),
        vpc: Some("vnet-1".into()),
        cidr: Some(net(cidr)),
        zone: None,
        region: None,
        public: None,
        tags: Default::default(),
    };
    Topology {
        vpcs: vec![Vpc {
            id: "vnet-1".into(),
            name: "hub".into(),
            provider: Provider::Azure,
            region: None,
            cidrs: vec![net("10.50.0.0/16")],
            main_route_table: None,
            tags: Default::default(),
            placeholder: false,
        }],
        subnets: vec![
            subnet("snet-vpn", "10.50.0.0/24"),
            subnet("snet-app", "10.50.1.0/24"),
        ],
        hosts: vec![
            vm("vpn", "snet-vpn", "10.50.0.4", "vpn-nsg"),
            vm("web", "snet-app", "10.50.1.10", "web-nsg"),
        ],
        firewalls: vec![
            nsg("vpn-nsg", AppliesTo::Membership, vec![]),
            nsg("web-nsg", AppliesTo::Membership, vec![]),
            nsg(
                "snet-nsg",
                AppliesTo::Subnets {
                    ids: vec!["snet-app".into()],
                },
                vec![],
            ),
        ],
        ..Default::default()
    }
}

const VPN: usize = 0;
const WEB: usize = 1;
const SNET: usize = 2;

fn azure_tunnel() -> Tunnel {
    Tunnel {
        addresses: vec![net("10.100.0.2/32")],
        peers: vec![TunnelPeer {
            name: "azure".into(),
            endpoint: None,
            allowed_ips: vec![net("10.50.0.0/16")],
        }],
        local_routes: vec![],
    }
}

fn hint(nat: bool) -> VpnHint {
    VpnHint {
        host: Some("vpn".into()),
        nat: Some(nat),
    }
}

#[test]
fn code_nsg_admits_through_subnet_and_nic() {
    let (t, tun) = (azure(), azure_tunnel());
    // NATed traffic comes from 10.50.0.4, inside the VNet: AllowVnetInBound in both NSGs.
    let v = check(&t, Some(&tun), &hint(true), "web", 22);
    assert_eq!(v.status, Status::Reachable, "{v:#?}");
    assert_eq!(
        v.codes(),
        vec![Code::TunnelPeer, Code::VpnNat, Code::NsgAdmits]
    );
    assert_eq!(
        v.sentence,
        "web:22 is reachable: NSG snet-nsg rule AllowVnetInBound (priority 65000) and NSG web-nsg \
         rule AllowVnetInBound (priority 65000) admit tcp/22 from 10.50.0.4"
    );
}

#[test]
fn code_nsg_denies_lowest_priority_wins() {
    let (mut t, tun) = (azure(), azure_tunnel());
    t.firewalls[WEB].rules.insert(
        0,
        nsg_rule(In, "AllowSshLate", 300, Allow, Some(22), vec![any()]),
    );
    t.firewalls[WEB].rules.insert(
        0,
        nsg_rule(
            In,
            "DenySsh",
            200,
            Deny,
            Some(22),
            vec![tag("VirtualNetwork")],
        ),
    );
    let v = check(&t, Some(&tun), &hint(true), "web", 22);
    assert_eq!(v.status, Status::Blocked, "{v:#?}");
    assert!(v.has(Code::NsgDenies));
    assert_eq!(
        v.sentence,
        "web:22 is blocked: NSG web-nsg rule DenySsh (priority 200) denies tcp/22, and your \
         traffic arrives from 10.50.0.4 (vpn)"
    );
    // The subnet's NSG decides first.
    t.firewalls[SNET].rules.insert(
        0,
        nsg_rule(In, "DenyAll22", 100, Deny, Some(22), vec![any()]),
    );
    let v = check(&t, Some(&tun), &hint(true), "web", 22);
    assert!(
        v.sentence.contains("NSG snet-nsg rule DenyAll22"),
        "{}",
        v.sentence
    );
}

#[test]
fn code_nsg_default_deny_and_the_vpn_gateway_tag() {
    let (mut t, tun) = (azure(), azure_tunnel());
    // Routed: traffic comes from 10.100.0.2, outside the VNet.
    let v = check(&t, Some(&tun), &hint(false), "web", 22);
    assert!(v.has(Code::NsgDefaultDeny), "{v:#?}");
    assert_eq!(v.status, Status::Blocked);
    assert!(
        v.sentence.contains(
            "no rule of NSG snet-nsg admits tcp/22 before its default rule DenyAllInBound \
             (priority 65500) denies it"
        ),
        "{}",
        v.sentence
    );
    // With a VPN gateway in the VNet, the tunnel's addresses are VirtualNetwork.
    t.gateways.push(Gateway {
        id: "vgw".into(),
        name: "hub-vgw".into(),
        kind: GatewayKind::Vpn,
        vpc: Some("vnet-1".into()),
        subnet: None,
        private_ip: None,
        public_ip: None,
        attachments: Vec::new(),
    });
    let v = check(&t, Some(&tun), &hint(false), "web", 22);
    assert!(v.has(Code::NsgAdmits), "{v:#?}");
    assert!(!v.has(Code::NsgDefaultDeny), "{v:#?}");
}

#[test]
fn nsg_internet_tag_rule_targets_and_unknown_tags() {
    let (mut t, tun) = (azure(), azure_tunnel());
    for fw in [WEB, SNET] {
        t.firewalls[fw].rules.insert(
            0,
            nsg_rule(
                In,
                "SshFromInternet",
                100,
                Allow,
                Some(22),
                vec![tag("Internet")],
            ),
        );
    }
    // 10.100.0.2 is not in the VNet: Internet.
    let v = check(&t, Some(&tun), &hint(false), "web", 22);
    assert!(v.has(Code::NsgAdmits), "{v:#?}");
    // A destination prefix that is not web's address: the rule does not apply.
    t.firewalls[WEB].rules[0].targets = vec![Peer::Cidr(net("10.50.9.0/24"))];
    let v = check(&t, Some(&tun), &hint(false), "web", 22);
    assert!(v.has(Code::NsgDefaultDeny), "{v:#?}");
    t.firewalls[WEB].rules[0].targets = vec![Peer::Cidr(net("10.50.1.10/32"))];
    let v = check(&t, Some(&tun), &hint(false), "web", 22);
    assert!(v.has(Code::NsgAdmits), "{v:#?}");
    // A service tag Gatehouse does not know never matches, and the detail says so.
    t.firewalls[WEB].rules[0].peers = vec![tag("Sql")];
    let v = check(&t, Some(&tun), &hint(false), "web", 22);
    assert!(v.has(Code::NsgDefaultDeny), "{v:#?}");
    assert!(
        v.sentence
            .contains("SshFromInternet names service tag Sql, which Gatehouse does not know"),
        "{}",
        v.sentence
    );
}

#[test]
fn nsg_egress_of_the_vpn_host() {
    let (mut t, tun) = (azure(), azure_tunnel());
    t.firewalls[VPN].rules.insert(
        0,
        nsg_rule(
            Out,
            "NoSshToApps",
            100,
            Deny,
            Some(22),
            vec![Peer::Cidr(net("10.50.1.0/24"))],
        ),
    );
    let v = check(&t, Some(&tun), &hint(true), "web", 22);
    assert_eq!(v.status, Status::Blocked, "{v:#?}");
    assert_eq!(v.findings.last().unwrap().code, Code::NsgDenies);
    assert_eq!(
        v.sentence,
        "web:22 is blocked: NSG vpn-nsg rule NoSshToApps (priority 100) denies tcp/22, and your \
         traffic leaves vpn for 10.50.1.10 (web)"
    );
}
