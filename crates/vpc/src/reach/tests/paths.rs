//! The tunnel, the VPN host, return routes and other VPCs.

use super::*;

#[test]
fn reachable_through_return_route() {
    let (t, tun) = (topo(), tunnel());
    let v = check(&t, Some(&tun), &VpnHint::default(), "app", 80);
    assert_eq!(v.status, Status::Reachable, "{v:#?}");
    assert_eq!(
        v.codes(),
        vec![Code::TunnelPeer, Code::ReturnRoute, Code::RuleAdmits]
    );
    assert_eq!(v.arrives_from, Some(ip("10.100.0.2")));
    assert_eq!(
        v.sentence,
        "app:80 is reachable: sg-app admits tcp/80 from 10.100.0.0/24"
    );
}

#[test]
fn code_no_rule_admits_names_the_group_and_source() {
    let (t, tun) = (topo(), tunnel());
    let v = check(&t, Some(&tun), &VpnHint::default(), "db", 5432);
    assert_eq!(v.status, Status::Blocked);
    assert!(v.has(Code::NoRuleAdmits));
    assert_eq!(
        v.sentence,
        "db:5432 is blocked: sg-db admits 5432 only from sg-app, and your traffic arrives \
         from 10.100.0.2 (your tunnel address)"
    );
}

#[test]
fn code_vpn_nat_and_group_reference() {
    let mut t = topo();
    // NATed traffic arrives from vpn-gw: a rule naming vpn-gw's group admits it, and the
    // return route is not needed.
    t.firewalls[2]
        .rules
        .push(allow_in(5432, vec![Peer::Group("sg-vpn".into())]));
    t.route_tables[1].routes.clear();
    let tun = tunnel();
    let hint = VpnHint {
        host: None,
        nat: Some(true),
    };
    let v = check(&t, Some(&tun), &hint, "db", 5432);
    assert_eq!(v.status, Status::Reachable, "{v:#?}");
    assert_eq!(
        v.codes(),
        vec![Code::TunnelPeer, Code::VpnNat, Code::RuleAdmits]
    );
    assert_eq!(v.arrives_from, Some(ip("10.20.0.5")));

    // Without that rule: the sentence says where the traffic comes from.
    t.firewalls[2].rules.pop();
    let v = check(&t, Some(&tun), &hint, "db", 5432);
    assert_eq!(
        v.sentence,
        "db:5432 is blocked: sg-db admits 5432 only from sg-app, and your traffic arrives \
         from 10.20.0.5 (vpn-gw)"
    );
}

#[test]
fn code_self_reference() {
    let mut t = topo();
    t.firewalls[0]
        .rules
        .push(allow_in(22, vec![Peer::SelfGroup]));
    t.hosts[1].security_groups.push("sg-vpn".into());
    let tun = tunnel();
    let hint = VpnHint {
        host: Some("vpn-gw".into()),
        nat: Some(true),
    };
    let v = check(&t, Some(&tun), &hint, "app", 22);
    assert_eq!(v.status, Status::Reachable, "{v:#?}");
    assert!(v.has(Code::RuleAdmits));
    assert!(v
        .findings
        .last()
        .unwrap()
        .detail
        .contains("members of sg-vpn"));
}

#[test]
fn code_tunnel_no_peer() {
    let mut tun = tunnel();
    tun.peers[0].allowed_ips = vec![net("10.20.0.0/24")];
    let v = check(&topo(), Some(&tun), &VpnHint::default(), "app", 80);
    assert_eq!(v.status, Status::Blocked);
    assert_eq!(v.codes()[0], Code::TunnelNoPeer);
    assert!(
        v.sentence
            .contains("no peer's AllowedIPs include 10.20.1.10"),
        "{}",
        v.sentence
    );
}

#[test]
fn code_tunnel_shadowed() {
    let mut tun = tunnel();
    tun.local_routes.push(LocalRoute {
        destination: net("10.20.1.0/24"),
        device: "wlan0".into(),
    });
    let v = check(&topo(), Some(&tun), &VpnHint::default(), "app", 80);
    assert_eq!(v.status, Status::Blocked);
    assert_eq!(v.codes()[0], Code::TunnelShadowed);
    assert!(
        v.sentence.contains("10.20.1.0/24 on wlan0"),
        "{}",
        v.sentence
    );

    // A full tunnel keeps non-default local routes (wg-quick's suppress_prefixlength 0) …
    tun.peers[0].allowed_ips = vec![net("0.0.0.0/0")];
    let v = check(&topo(), Some(&tun), &VpnHint::default(), "app", 80);
    assert_eq!(v.codes()[0], Code::TunnelShadowed);
    // … but a less specific local route does not shadow a more specific AllowedIPs.
    tun.peers[0].allowed_ips = vec![net("10.20.1.0/25")];
    let v = check(&topo(), Some(&tun), &VpnHint::default(), "app", 80);
    assert_eq!(v.codes()[0], Code::TunnelPeer);
}

#[test]
fn code_no_profile() {
    let v = check(&topo(), None, &VpnHint::default(), "app", 80);
    assert_eq!(v.codes()[0], Code::NoProfile);
    assert_eq!(v.status, Status::Unknown);
}

#[test]
fn code_host_not_found_and_no_address() {
    let (mut t, tun) = (topo(), tunnel());
    let v = check(&t, Some(&tun), &VpnHint::default(), "nope", 80);
    assert_eq!(v.codes(), vec![Code::HostNotFound]);
    assert_eq!(v.status, Status::Unknown);
    t.hosts[1].private_ips.clear();
    let v = check(&t, Some(&tun), &VpnHint::default(), "app", 80);
    assert_eq!(v.codes(), vec![Code::NoAddress]);
}

#[test]
fn code_host_stopped() {
    let (mut t, tun) = (topo(), tunnel());
    t.hosts[1].state = Some("stopped".into());
    let v = check(&t, Some(&tun), &VpnHint::default(), "app", 80);
    assert_eq!(v.status, Status::Blocked);
    assert!(v.has(Code::HostStopped));
    assert_eq!(v.sentence, "app:80 is blocked: app is stopped");
}

#[test]
fn code_vpn_host_unknown() {
    let (mut t, mut tun) = (topo(), tunnel());
    tun.peers[0].endpoint = None;
    t.route_tables[1].routes.clear();
    t.hosts[0].source_dest_check = Some(true);
    let v = check(&t, Some(&tun), &VpnHint::default(), "app", 80);
    assert!(v.has(Code::VpnHostUnknown));
    assert_eq!(v.status, Status::Unknown);
}

#[test]
fn vpn_host_found_from_route_when_endpoint_is_elsewhere() {
    let (t, mut tun) = (topo(), tunnel());
    tun.peers[0].endpoint = Some(ip("127.0.0.1"));
    let v = check(&t, Some(&tun), &VpnHint::default(), "app", 80);
    assert_eq!(v.status, Status::Reachable, "{v:#?}");
}

#[test]
fn code_vpn_host_itself() {
    let (mut t, tun) = (topo(), tunnel());
    t.firewalls[0]
        .rules
        .push(allow_in(22, vec![Peer::Cidr(net("10.100.0.0/24"))]));
    let v = check(&t, Some(&tun), &VpnHint::default(), "vpn-gw", 22);
    assert_eq!(
        v.codes(),
        vec![Code::TunnelPeer, Code::VpnHostItself, Code::RuleAdmits]
    );
    assert_eq!(v.status, Status::Reachable);
}

#[test]
fn code_no_return_route_and_main_table_fallback() {
    let (mut t, tun) = (topo(), tunnel());
    // db's subnet loses its association: the main table applies, whose default route goes
    // to the internet gateway.
    t.route_tables[1].subnets.retain(|s| s != "subnet-db");
    t.firewalls[2]
        .rules
        .push(allow_in(5432, vec![Peer::Cidr(net("10.100.0.0/24"))]));
    let hint = VpnHint {
        host: None,
        nat: Some(false),
    };
    let v = check(&t, Some(&tun), &hint, "db", 5432);
    assert_eq!(v.status, Status::Blocked, "{v:#?}");
    assert!(v.has(Code::MainTableFallback));
    assert!(v.has(Code::NoReturnRoute));
    assert_eq!(
        v.sentence,
        "db:5432 is blocked: route table rtb-main sends replies to 10.100.0.2 via 0.0.0.0/0 \
         to lab-igw, not through vpn-gw"
    );
    // With NAT unknown, a missing return route is "unknown", not "blocked".
    let v = check(&t, Some(&tun), &VpnHint::default(), "db", 5432);
    assert_eq!(v.status, Status::Unknown, "{v:#?}");
    assert!(v.sentence.contains("unless vpn-gw NATs"), "{}", v.sentence);
    // The main table routing the tunnel back makes it reachable.
    t.route_tables[0].routes.push(Route {
        destination: net("10.100.0.0/24"),
        target: RouteTarget::Instance("i-vpn".into()),
    });
    let v = check(&t, Some(&tun), &hint, "db", 5432);
    assert_eq!(v.status, Status::Reachable, "{v:#?}");
    assert_eq!(
        v.codes(),
        vec![
            Code::TunnelPeer,
            Code::MainTableFallback,
            Code::ReturnRoute,
            Code::RuleAdmits
        ]
    );
}

#[test]
fn code_return_path_unknown() {
    let (mut t, tun) = (topo(), tunnel());
    t.route_tables.clear();
    t.vpcs[0].main_route_table = None;
    let v = check(
        &t,
        Some(&tun),
        &VpnHint {
            host: Some("i-vpn".into()),
            nat: None,
        },
        "app",
        80,
    );
    assert!(v.has(Code::ReturnPathUnknown));
    assert_eq!(v.status, Status::Unknown);
}

#[test]
fn code_source_dest_check() {
    let (mut t, tun) = (topo(), tunnel());
    t.hosts[0].source_dest_check = Some(true);
    let hint = VpnHint {
        host: Some("vpn-gw".into()),
        nat: None,
    };
    let v = check(&t, Some(&tun), &hint, "app", 80);
    assert_eq!(v.status, Status::Blocked);
    assert!(v.has(Code::SourceDestCheck));
    assert!(
        v.sentence.contains("source/dest check on"),
        "{}",
        v.sentence
    );
}

#[test]
fn code_other_vpc() {
    let (mut t, tun) = (topo(), tunnel());
    t.hosts[1].vpc = Some("vpc-2".into());
    let v = check(&t, Some(&tun), &VpnHint::default(), "app", 80);
    assert_eq!(v.status, Status::Blocked);
    assert_eq!(v.codes(), vec![Code::TunnelPeer, Code::OtherVpc]);
}

#[test]
fn code_firewall_unknown() {
    let (mut t, tun) = (topo(), tunnel());
    t.hosts[1].security_groups = vec!["sg-gone".into()];
    let v = check(&t, Some(&tun), &VpnHint::default(), "app", 80);
    assert!(v.has(Code::FirewallUnknown));
    assert_eq!(v.status, Status::Unknown);
    assert!(v.sentence.contains("sg-gone"));
}

#[test]
fn code_egress_blocked() {
    let (mut t, tun) = (topo(), tunnel());
    t.firewalls[0].rules.clear();
    t.firewalls[0].rules.push(Rule {
        direction: Direction::Egress,
        action: Action::Allow,
        priority: 0,
        protocol: Protocol::Tcp,
        ports: Some(PortRange { from: 443, to: 443 }),
        peers: vec![Peer::Cidr(net("0.0.0.0/0"))],
        description: None,
        targets: Vec::new(),
    });
    let v = check(&t, Some(&tun), &VpnHint::default(), "app", 80);
    assert_eq!(v.status, Status::Blocked, "{v:#?}");
    assert!(v.has(Code::EgressBlocked));
    assert_eq!(
        v.sentence,
        "app:80 is blocked: no rule of sg-vpn lets out tcp/80, and your traffic leaves vpn-gw \
         for 10.20.1.10 (app)"
    );
}
