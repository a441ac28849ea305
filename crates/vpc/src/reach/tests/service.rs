//! Managed services without a private address, checked by their subnets' ranges.

use super::*;

const ENDPOINT: &str = "orders-db.abc123.eu-west-1.rds.amazonaws.com";

/// The base topology plus `orders-db`, an RDS database in subnets subnet-db (10.20.2.0/24) and
/// subnet-db2 (10.20.3.0/24), both on rtb-private, with no address; sg-db admits the tunnel.
fn with_db() -> Topology {
    let mut t = topo();
    t.subnets.push(Subnet {
        id: "subnet-db2".into(),
        name: "subnet-db2".into(),
        vpc: Some("vpc-1".into()),
        cidr: Some(net("10.20.3.0/24")),
        zone: None,
        region: None,
        public: None,
        tags: Default::default(),
    });
    t.route_tables[1].subnets.push("subnet-db2".into());
    t.firewalls[2]
        .rules
        .push(allow_in(5432, vec![Peer::Cidr(net("10.100.0.0/24"))]));
    t.hosts.push(Host {
        id: "arn:aws:rds:eu-west-1:1:db:orders-db".into(),
        name: "orders-db".into(),
        provider: Provider::Aws,
        vpc: Some("vpc-1".into()),
        subnet: Some("subnet-db".into()),
        subnets: vec!["subnet-db".into(), "subnet-db2".into()],
        security_groups: vec!["sg-db".into()],
        state: Some("available".into()),
        service: Some(ManagedService::of_engine(
            Some("postgres"),
            Some("16.3".into()),
            Some(ENDPOINT.into()),
            None,
        )),
        ..Default::default()
    });
    t
}

fn routed() -> VpnHint {
    VpnHint {
        host: None,
        nat: Some(false),
    }
}

#[test]
fn code_address_by_subnet_by_name_and_endpoint() {
    let (t, tun) = (with_db(), tunnel());
    for key in ["orders-db", ENDPOINT] {
        let v = check(&t, Some(&tun), &routed(), key, 5432);
        assert_eq!(v.status, Status::Reachable, "{v:#?}");
        assert_eq!(
            v.codes(),
            vec![
                Code::AddressBySubnet,
                Code::TunnelPeer,
                Code::ReturnRoute,
                Code::RuleAdmits
            ]
        );
        assert_eq!(v.address, None);
        let f = &v.findings[0];
        assert!(f.detail.contains(ENDPOINT), "{}", f.detail);
        assert!(
            f.detail
                .contains("subnet-db (10.20.2.0/24), subnet-db2 (10.20.3.0/24)"),
            "{}",
            f.detail
        );
        assert!(
            v.findings[1].detail.contains("carries 10.20.3.0/24"),
            "{}",
            v.findings[1].detail
        );
    }
    // A service without an endpoint, or a host with neither address nor subnets: no-address.
    let mut t2 = with_db();
    t2.hosts[3].service.as_mut().unwrap().endpoint = None;
    let v = check(&t2, Some(&tun), &routed(), "orders-db", 5432);
    assert_eq!(v.codes(), vec![Code::NoAddress]);
}

#[test]
fn code_tunnel_partial_and_no_peer_for_ranges() {
    let (t, mut tun) = (with_db(), tunnel());
    tun.peers[0].allowed_ips = vec![net("10.20.2.0/24")];
    let v = check(&t, Some(&tun), &routed(), "orders-db", 5432);
    assert_eq!(v.status, Status::Unknown, "{v:#?}");
    assert!(v.has(Code::TunnelPartial));
    assert!(
        v.sentence
            .contains("the tunnel carries 10.20.2.0/24 but no peer carries 10.20.3.0/24"),
        "{}",
        v.sentence
    );
    // AllowedIPs inside a subnet's range cover only part of it.
    tun.peers[0].allowed_ips = vec![net("10.20.2.0/24"), net("10.20.3.0/25")];
    let v = check(&t, Some(&tun), &routed(), "orders-db", 5432);
    assert!(
        v.sentence.contains("cover only part of 10.20.3.0/24"),
        "{}",
        v.sentence
    );
    // None of them: blocked.
    tun.peers[0].allowed_ips = vec![net("10.99.0.0/16")];
    let v = check(&t, Some(&tun), &routed(), "orders-db", 5432);
    assert_eq!(v.status, Status::Blocked);
    assert!(v.has(Code::TunnelNoPeer));
}

#[test]
fn routes_per_candidate_subnet_blocked_in_all_unknown_when_mixed() {
    let (mut t, tun) = (with_db(), tunnel());
    // subnet-db2 falls back to the main table, whose default route goes to the internet.
    t.route_tables[1].subnets.retain(|s| s != "subnet-db2");
    let v = check(&t, Some(&tun), &routed(), "orders-db", 5432);
    assert_eq!(v.status, Status::Unknown, "{v:#?}");
    assert!(v.has(Code::NoReturnRoute));
    assert!(
        v.sentence.starts_with(
            "orders-db:5432 is unknown: in subnet subnet-db2, route table rtb-main sends replies"
        ),
        "{}",
        v.sentence
    );
    assert!(
        v.sentence.contains("while in subnet-db it passes"),
        "{}",
        v.sentence
    );
    // Both subnets without the return route: blocked.
    t.route_tables[1].subnets.clear();
    let v = check(&t, Some(&tun), &routed(), "orders-db", 5432);
    assert_eq!(v.status, Status::Blocked, "{v:#?}");
    assert!(v.has(Code::NoReturnRoute));
}

#[test]
fn nacls_per_candidate_subnet() {
    let (mut t, tun) = (with_db(), tunnel());
    let acl = |id: &str, subnet: &str, action: Action| Firewall {
        id: id.into(),
        name: id.into(),
        kind: FirewallKind::NetworkAcl,
        vpc: Some("vpc-1".into()),
        applies_to: AppliesTo::Subnets {
            ids: vec![subnet.into()],
        },
        rules: vec![
            Rule {
                action,
                priority: 100,
                ..allow_in(5432, vec![Peer::Cidr(net("0.0.0.0/0"))])
            },
            Rule {
                priority: 100,
                ..allow_all_out()
            },
        ],
    };
    t.firewalls.push(acl("acl-a", "subnet-db", Action::Allow));
    t.firewalls.push(acl("acl-b", "subnet-db2", Action::Deny));
    let v = check(&t, Some(&tun), &routed(), "orders-db", 5432);
    assert_eq!(v.status, Status::Unknown, "{v:#?}");
    assert!(v.has(Code::NaclDeniesIn));
    assert!(
        v.sentence
            .contains("network ACL acl-b rule 100 denies tcp/5432"),
        "{}",
        v.sentence
    );
    t.firewalls[3].rules[0].action = Action::Deny;
    let v = check(&t, Some(&tun), &routed(), "orders-db", 5432);
    assert_eq!(v.status, Status::Blocked, "{v:#?}");
}

#[test]
fn candidate_ports_put_the_service_port_first() {
    let t = with_db();
    let hint = VpnHint::default();
    let a = Analyzer::new(&t, None, &hint, &[]);
    let db = a.find_target("orders-db").unwrap();
    // sg-db names 5432 only: no 22.
    assert_eq!(a.candidate_ports(&db), vec![(Protocol::Tcp, 5432)]);
    let mut t = with_db();
    t.hosts[3].security_groups = vec!["sg-app".into()];
    t.hosts[3].service.as_mut().unwrap().ports = vec![6432];
    let a = Analyzer::new(&t, None, &hint, &[]);
    let db = a.find_target(ENDPOINT).unwrap();
    assert_eq!(
        a.candidate_ports(&db),
        vec![(Protocol::Tcp, 6432), (Protocol::Tcp, 80)]
    );
    // A service whose rules name no port still gets its own.
    t.hosts[3].security_groups.clear();
    let db = Analyzer::new(&t, None, &hint, &[])
        .find_target("orders-db")
        .unwrap();
    assert_eq!(
        Analyzer::new(&t, None, &hint, &[]).candidate_ports(&db),
        vec![(Protocol::Tcp, 6432)]
    );
}

#[test]
fn a_group_of_machines_is_checked_by_its_subnets_an_instance_is_not() {
    let mut t = with_db();
    let db = t.hosts.last_mut().unwrap();
    db.service = None;
    db.name = "workers".into();
    let tun = tunnel();
    // Without the group tag it is an instance whose address is unknown.
    let v = check(&t, Some(&tun), &routed(), "workers", 5432);
    assert_eq!(v.codes(), vec![Code::NoAddress]);
    t.hosts
        .last_mut()
        .unwrap()
        .tags
        .insert(GROUP_TAG.into(), "auto scaling group".into());
    let v = check(&t, Some(&tun), &routed(), "workers", 5432);
    assert_eq!(v.codes()[0], Code::AddressBySubnet, "{v:#?}");
    assert!(
        v.sentence.contains("each of its machines")
            || v.findings[0].detail.contains("each of its machines"),
        "{v:#?}"
    );
    assert_eq!(v.status, Status::Reachable, "{v:#?}");
}
