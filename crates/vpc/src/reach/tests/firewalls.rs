//! Security groups, DigitalOcean and GCP firewalls, probes and candidate ports.

use super::*;

fn do_topo() -> Topology {
    let mk = |id: &str, name: &str, ip_: &str, labels: &[&str]| Host {
        id: id.into(),
        name: name.into(),
        provider: Provider::Digitalocean,
        vpc: Some("do-vpc".into()),
        subnet: None,
        zone: Some("ams3".into()),
        private_ips: vec![ip(ip_)],
        public_ip: None,
        tags: Default::default(),
        labels: labels.iter().map(|s| s.to_string()).collect(),
        security_groups: vec![],
        state: Some("active".into()),
        source_dest_check: None,
        interfaces: vec![],
        service: None,
        subnets: Vec::new(),
    };
    Topology {
        hosts: vec![
            mk("1", "vpn", "10.110.0.2", &["vpn"]),
            mk("2", "web", "10.110.0.3", &["web"]),
            mk("3", "free", "10.110.0.4", &[]),
        ],
        firewalls: vec![Firewall {
            id: "fw".into(),
            name: "fw-web".into(),
            kind: FirewallKind::Digitalocean,
            vpc: None,
            applies_to: AppliesTo::Hosts {
                ids: vec![],
                labels: vec!["web".into()],
            },
            rules: vec![allow_in(443, vec![Peer::Label("vpn".into())])],
        }],
        ..Default::default()
    }
}

#[test]
fn code_no_firewall_digitalocean_and_tag_reference() {
    let t = do_topo();
    let tun = Tunnel {
        addresses: vec![net("10.8.0.2/32")],
        peers: vec![TunnelPeer {
            name: "do".into(),
            endpoint: None,
            allowed_ips: vec![net("10.110.0.0/20")],
        }],
        local_routes: vec![],
    };
    let hint = VpnHint {
        host: Some("vpn".into()),
        nat: Some(true),
    };
    let v = check(&t, Some(&tun), &hint, "free", 8080);
    assert_eq!(v.status, Status::Reachable, "{v:#?}");
    assert!(v.has(Code::NoFirewall));
    let v = check(&t, Some(&tun), &hint, "web", 443);
    assert_eq!(v.status, Status::Reachable, "{v:#?}");
    assert!(v.sentence.contains("tag vpn"), "{}", v.sentence);
    let v = check(&t, Some(&tun), &hint, "web", 80);
    assert_eq!(v.status, Status::Blocked);
    assert!(
        v.sentence.contains("no rule of fw-web admits tcp/80"),
        "{}",
        v.sentence
    );
}

fn gcp_topo(rules: Vec<Rule>) -> Topology {
    let mk = |id: &str, ip_: &str, labels: &[&str], fwd: bool| Host {
        id: id.into(),
        name: id.into(),
        provider: Provider::Gcp,
        vpc: Some("net".into()),
        subnet: None,
        zone: None,
        private_ips: vec![ip(ip_)],
        public_ip: None,
        tags: Default::default(),
        labels: labels.iter().map(|s| s.to_string()).collect(),
        security_groups: vec![],
        state: Some("RUNNING".into()),
        source_dest_check: Some(!fwd),
        interfaces: vec![],
        service: None,
        subnets: Vec::new(),
    };
    Topology {
        hosts: vec![
            mk("vpn", "10.30.0.2", &[], true),
            mk("web", "10.30.0.3", &["web"], false),
        ],
        firewalls: vec![Firewall {
            id: "fw".into(),
            name: "fw-web".into(),
            kind: FirewallKind::Gcp,
            vpc: Some("net".into()),
            applies_to: AppliesTo::Network {
                target_labels: vec!["web".into()],
            },
            rules,
        }],
        ..Default::default()
    }
}

fn gcp_rule(action: Action, priority: u32, port: u16) -> Rule {
    Rule {
        direction: Direction::Ingress,
        action,
        priority,
        protocol: Protocol::Tcp,
        ports: Some(PortRange {
            from: port,
            to: port,
        }),
        peers: vec![Peer::Cidr(net("10.30.0.0/24"))],
        description: None,
        targets: Vec::new(),
    }
}

#[test]
fn codes_gcp_rule_denies_and_implied_deny() {
    let tun = Tunnel {
        addresses: vec![net("10.8.0.2/32")],
        peers: vec![TunnelPeer {
            name: "gcp".into(),
            endpoint: None,
            allowed_ips: vec![net("10.30.0.0/24")],
        }],
        local_routes: vec![],
    };
    let hint = VpnHint {
        host: Some("vpn".into()),
        nat: Some(true),
    };
    let t = gcp_topo(vec![
        gcp_rule(Action::Allow, 1000, 80),
        gcp_rule(Action::Deny, 900, 80),
    ]);
    let v = check(&t, Some(&tun), &hint, "web", 80);
    assert_eq!(v.status, Status::Blocked, "{v:#?}");
    assert!(v.has(Code::RuleDenies));
    assert!(v.sentence.contains("priority 900"), "{}", v.sentence);

    let t = gcp_topo(vec![
        gcp_rule(Action::Allow, 800, 80),
        gcp_rule(Action::Deny, 900, 80),
    ]);
    let v = check(&t, Some(&tun), &hint, "web", 80);
    assert_eq!(v.status, Status::Reachable, "{v:#?}");

    let t = gcp_topo(vec![gcp_rule(Action::Allow, 1000, 80)]);
    let v = check(&t, Some(&tun), &hint, "web", 22);
    assert!(v.has(Code::ImpliedDeny), "{v:#?}");
    assert_eq!(v.status, Status::Blocked);
}

#[test]
fn codes_probe_open_and_closed() {
    let (t, tun) = (topo(), tunnel());
    let hint = VpnHint::default();
    let probes = [
        Probe {
            host: "i-app".into(),
            port: 80,
            open: false,
        },
        Probe {
            host: "i-db".into(),
            port: 5432,
            open: true,
        },
    ];
    let a = Analyzer::new(&t, Some(&tun), &hint, &probes);
    let v = a.check_key("app", Protocol::Tcp, 80);
    assert_eq!(v.status, Status::Blocked);
    assert!(v.has(Code::ProbeClosed));
    assert_eq!(
        v.sentence,
        "app:80 is blocked: nothing answered the last probe"
    );
    let v = a.check_key("db", Protocol::Tcp, 5432);
    assert_eq!(v.status, Status::Reachable);
    assert!(v.has(Code::ProbeOpen));
}

#[test]
fn candidate_ports_and_check_all() {
    let (t, tun) = (topo(), tunnel());
    let hint = VpnHint::default();
    let a = Analyzer::new(&t, Some(&tun), &hint, &[]);
    let app = a.find_target("app").unwrap();
    assert_eq!(a.candidate_ports(&app), vec![(Protocol::Tcp, 80)]);
    let all = a.check_all();
    assert_eq!(all.len(), 3);
    let json = serde_json::to_string(&all).unwrap();
    assert!(json.contains("\"no-rule-admits\""), "{json}");
}
