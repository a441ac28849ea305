//! The demo lab's topology (`crates/lab/topology.tfstate`) with the lab's client profile gives
//! the verdict the lab's firewall enforces for every host and port: everything answers through the
//! tunnel except `db-replica:5432`, which `sg-replica` admits only from `sg-app`.

use std::path::PathBuf;

use gatehouse_vpc::reach::{Analyzer, Code, LocalRoute, Status, Tunnel, TunnelPeer, VpnHint};
use gatehouse_vpc::tfstate::import_file;

fn lab_state() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../crates/lab/topology.tfstate"
    ))
}

/// The lab's client profile: Address 10.100.0.2/32, AllowedIPs 10.20.0.0/16 + 192.168.1.0/24,
/// endpoint on loopback (so the VPN host is found from the route tables, not the endpoint).
fn lab_tunnel() -> Tunnel {
    Tunnel {
        addresses: vec!["10.100.0.2/32".parse().unwrap()],
        peers: vec![TunnelPeer {
            name: "gatehouse-lab".into(),
            endpoint: Some("127.0.0.1".parse().unwrap()),
            allowed_ips: vec![
                "10.20.0.0/16".parse().unwrap(),
                "192.168.1.0/24".parse().unwrap(),
            ],
        }],
        local_routes: vec![LocalRoute {
            destination: "172.16.0.0/24".parse().unwrap(),
            device: "eth0".into(),
        }],
    }
}

#[test]
fn lab_verdicts_for_every_host_and_port() {
    let (topo, report) = import_file(&lab_state()).unwrap_or_else(|e| panic!("{e}"));
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
    let tunnel = lab_tunnel();
    let hint = VpnHint::default();
    let analyzer = Analyzer::new(&topo, Some(&tunnel), &hint, &[]);
    let mut got: Vec<(String, String, u16, Status)> = analyzer
        .check_all()
        .into_iter()
        .map(|v| {
            let proto = serde_json::to_value(&v.protocol).unwrap();
            (
                v.name,
                proto.as_str().unwrap_or("?").to_string(),
                v.port,
                v.status,
            )
        })
        .collect();
    got.sort();
    let r = Status::Reachable;
    let mut want: Vec<(String, String, u16, Status)> = [
        ("cache", "tcp", 6379, r),
        ("db", "tcp", 5432, r),
        ("db-replica", "tcp", 5432, Status::Blocked),
        ("dns", "udp", 53, r),
        ("lb", "tcp", 80, r),
        ("orders-db", "tcp", 5432, r),
        ("vpn-gw", "udp", 51820, r),
        ("web-1", "tcp", 80, r),
        ("web-2", "tcp", 80, r),
    ]
    .into_iter()
    .map(|(n, p, port, s)| (n.to_string(), p.to_string(), port, s))
    .collect();
    want.sort();
    assert_eq!(got, want);

    // The managed database has no address in the state: checked as anywhere in its subnet.
    let v = analyzer.check_key(
        "orders-db.internal",
        gatehouse_vpc::model::Protocol::Tcp,
        5432,
    );
    assert!(v.has(Code::AddressBySubnet), "{v:#?}");

    let v = analyzer.check_key("db-replica", gatehouse_vpc::model::Protocol::Tcp, 5432);
    assert!(v.has(Code::NoRuleAdmits), "{v:#?}");
    assert_eq!(
        v.sentence,
        "db-replica:5432 is blocked: sg-replica admits 5432 only from sg-app, and your traffic \
         arrives from 10.100.0.2 (your tunnel address)"
    );
    let v = analyzer.check_key("10.20.2.30", gatehouse_vpc::model::Protocol::Tcp, 5432);
    assert_eq!(
        v.codes(),
        vec![Code::TunnelPeer, Code::ReturnRoute, Code::RuleAdmits],
        "{v:#?}"
    );
    let v = analyzer.check_key("vpn-gw", gatehouse_vpc::model::Protocol::Udp, 51820);
    assert!(v.has(Code::VpnHostItself), "{v:#?}");
}

#[test]
fn lab_with_a_home_lan_on_the_vpc_range() {
    let (topo, _) = import_file(&lab_state()).unwrap();
    let mut tunnel = lab_tunnel();
    tunnel.local_routes.push(LocalRoute {
        destination: "10.20.1.0/24".parse().unwrap(),
        device: "wlan0".into(),
    });
    let hint = VpnHint::default();
    let analyzer = Analyzer::new(&topo, Some(&tunnel), &hint, &[]);
    let v = analyzer.check_key("web-1", gatehouse_vpc::model::Protocol::Tcp, 80);
    assert_eq!(v.status, Status::Blocked);
    assert_eq!(v.codes()[0], Code::TunnelShadowed);
    let v = analyzer.check_key("db", gatehouse_vpc::model::Protocol::Tcp, 5432);
    assert_eq!(v.status, Status::Reachable);
}
