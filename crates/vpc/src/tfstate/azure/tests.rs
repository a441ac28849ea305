//! Unit tests of the Azure importer, on the real corpus files and on small states.

use std::net::IpAddr;
use std::path::Path;

use crate::model::*;
use crate::tfstate::{import_file, import_str, ImportReport};

mod synthetic;

const SUB: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network";

fn corpus(file: &str) -> (Topology, ImportReport) {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/tfstate")
        .join(file);
    import_file(&p).unwrap_or_else(|e| panic!("{e}"))
}

fn state(resources: &str) -> String {
    format!(r#"{{"version":4,"terraform_version":"1.9.0","serial":1,"resources":[{resources}]}}"#)
}

/// A managed resource of `ty` with one instance of `attrs`.
fn res(ty: &str, attrs: &str) -> String {
    format!(
        r#"{{"mode":"managed","type":"{ty}","name":"x","instances":[{{"attributes":{attrs}}}]}}"#
    )
}

fn import(resources: &[String]) -> (Topology, ImportReport) {
    import_str(&state(&resources.join(",")), "t").unwrap_or_else(|e| panic!("{e}"))
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn cidr(s: &str) -> Peer {
    Peer::Cidr(s.parse().unwrap())
}

fn tag(s: &str) -> Peer {
    Peer::ServiceTag(s.into())
}

fn rule<'a>(f: &'a Firewall, name: &str) -> &'a Rule {
    f.rules
        .iter()
        .find(|r| r.description.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no rule {name} in {:?}", f.rules))
}

const DEFAULTS: [(&str, u32); 6] = [
    ("AllowVnetInBound", 65000),
    ("AllowAzureLoadBalancerInBound", 65001),
    ("DenyAllInBound", 65500),
    ("AllowVnetOutBound", 65000),
    ("AllowInternetOutBound", 65001),
    ("DenyAllOutBound", 65500),
];

#[test]
fn corpus_three_tier() {
    let (t, r) = corpus("18-azure-3tier-vms-nsg-appgw-vpngw-mysql.tfstate");
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let rg =
        "/subscriptions/fdc2f63f-a7bc-4ac7-901a-c730f7d317e9/resourceGroups/rg-dr-prod/providers";
    let vnet_id = format!("{rg}/Microsoft.Network/virtualNetworks/vnet-dr-prod");
    let v = t.vpc(&vnet_id).unwrap();
    assert_eq!(v.provider, Provider::Azure);
    assert_eq!(v.name, "vnet-dr-prod");
    assert_eq!(v.region.as_deref(), Some("koreacentral"));
    assert_eq!(v.cidrs, vec!["172.16.0.0/16".parse().unwrap()]);

    let mut subnets: Vec<(&str, String)> = t
        .subnets
        .iter()
        .map(|s| (s.name.as_str(), s.cidr.unwrap().to_string()))
        .collect();
    subnets.sort();
    assert_eq!(
        subnets,
        [
            ("GatewaySubnet", "172.16.255.0/24"),
            ("subnet-appgw", "172.16.1.0/24"),
            ("subnet-db", "172.16.31.0/24"),
            ("subnet-was", "172.16.21.0/24"),
            ("subnet-web", "172.16.11.0/24"),
        ]
        .map(|(n, c)| (n, c.to_string()))
    );
    assert!(
        t.subnets
            .iter()
            .all(|s| s.vpc.as_deref() == Some(&vnet_id)
                && s.region.as_deref() == Some("koreacentral"))
    );
    let db_subnet = format!("{vnet_id}/subnets/subnet-db");
    assert_eq!(
        t.subnet(&db_subnet)
            .unwrap()
            .tags
            .get("delegation")
            .map(String::as_str),
        Some("Microsoft.DBforMySQL/flexibleServers")
    );

    let web = t.find_host("vm-web-prod").unwrap();
    assert_eq!(web.provider, Provider::Azure);
    assert_eq!(web.private_ips, vec![ip("172.16.11.4")]);
    assert_eq!(web.public_ip, Some(ip("4.217.199.7")));
    assert_eq!(
        web.subnet.as_deref(),
        Some(&*format!("{vnet_id}/subnets/subnet-web"))
    );
    assert_eq!(web.vpc.as_deref(), Some(&*vnet_id));
    assert_eq!(web.zone.as_deref(), Some("koreacentral"));
    assert_eq!(web.source_dest_check, Some(true));
    assert_eq!(
        web.interfaces,
        vec![format!(
            "{rg}/Microsoft.Network/networkInterfaces/nic-web-prod"
        )]
    );
    let was = t.find_host("172.16.21.4").unwrap();
    assert_eq!(was.name, "vm-was-prod");
    assert_eq!(was.public_ip, None);
    assert_eq!(
        was.subnet.as_deref(),
        Some(&*format!("{vnet_id}/subnets/subnet-was"))
    );

    // Two NSGs, not associated with anything in this state: their rules and the defaults.
    assert_eq!(t.firewalls.len(), 2);
    let nsg = t
        .firewalls
        .iter()
        .find(|f| f.name == "nsg-was-prod")
        .unwrap();
    assert_eq!(nsg.kind, FirewallKind::Nsg);
    assert_eq!(nsg.applies_to, AppliesTo::Subnets { ids: vec![] });
    assert_eq!(nsg.rules.len(), 8);
    let r8080 = rule(nsg, "Allow-8080-from-Web");
    assert_eq!(
        (r8080.priority, r8080.action, r8080.direction),
        (100, Action::Allow, Direction::Ingress)
    );
    assert_eq!(r8080.protocol, Protocol::Tcp);
    assert_eq!(
        r8080.ports,
        Some(PortRange {
            from: 8080,
            to: 8080
        })
    );
    assert_eq!(r8080.peers, vec![cidr("172.16.11.0/24")]);
    assert!(r8080.targets.is_empty());
    assert_eq!(rule(nsg, "Allow-SSH").peers, vec![cidr("43.201.1.235/32")]);
    for (name, prio) in DEFAULTS {
        assert_eq!(rule(nsg, name).priority, prio, "{name}");
    }
    let http = rule(
        t.firewalls
            .iter()
            .find(|f| f.name == "nsg-web-prod")
            .unwrap(),
        "Allow-HTTP",
    );
    assert_eq!(http.peers, vec![cidr("0.0.0.0/0"), cidr("::/0")]);

    let gw = &t.load_balancers[0];
    assert_eq!(
        (gw.name.as_str(), gw.kind.as_deref()),
        ("appgw-prod", Some("application_gateway"))
    );
    assert_eq!(gw.ip, Some(ip("4.217.221.157")));
    assert_eq!(gw.internal, Some(false));
    assert_eq!(gw.vpc.as_deref(), Some(&*vnet_id));
    assert_eq!(gw.subnets, vec![format!("{vnet_id}/subnets/subnet-appgw")]);
    assert_eq!(gw.listeners.len(), 1);
    assert_eq!(
        (
            gw.listeners[0].port,
            gw.listeners[0].protocol.as_str(),
            gw.listeners[0].target_port
        ),
        (80, "http", Some(80))
    );
    assert_eq!(gw.targets, vec![web.id.clone()]);

    let vpn = &t.gateways[0];
    assert_eq!(
        (vpn.name.as_str(), vpn.kind),
        ("vgw-prod", GatewayKind::Vpn)
    );
    assert_eq!(vpn.vpc.as_deref(), Some(&*vnet_id));
    assert_eq!(
        vpn.subnet.as_deref(),
        Some(&*format!("{vnet_id}/subnets/GatewaySubnet"))
    );
    assert_eq!(vpn.public_ip, Some(ip("4.218.9.99")));
    assert_eq!(vpn.private_ip, Some(ip("172.16.255.254")));

    let db = t
        .find_host("mysql-dr-prod.mysql.database.azure.com")
        .unwrap();
    assert_eq!(db.name, "mysql-dr-prod");
    assert_eq!(db.subnet.as_deref(), Some(&*db_subnet));
    assert_eq!(db.vpc.as_deref(), Some(&*vnet_id));
    let s = db.service.as_ref().unwrap();
    assert_eq!(s.kind, ServiceKind::Mysql);
    assert_eq!(s.version.as_deref(), Some("8.0.21"));
    assert_eq!(s.port(), Some(3306));
}

#[test]
fn corpus_legacy_windows_vm() {
    let (t, r) = corpus("19-azure-windows-vm-nsg-legacy-vm.tfstate");
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let h = &t.hosts[0];
    assert_eq!(h.name, "prathamesh-vm");
    assert_eq!(h.private_ips, vec![ip("10.0.0.4")]);
    assert_eq!(h.public_ip, Some(ip("51.145.239.23")));
    assert_eq!(h.subnet.as_deref(), Some(t.subnets[0].id.as_str()));
    assert_eq!(h.vpc.as_deref(), Some(t.vpcs[0].id.as_str()));
    assert_eq!(t.subnets[0].cidr, Some("10.0.0.0/24".parse().unwrap()));
    assert_eq!(t.vpcs[0].cidrs, vec!["10.0.0.0/16".parse().unwrap()]);
    // The interface association puts the NSG on the VM.
    let f = &t.firewalls[0];
    assert_eq!(h.security_groups, vec![f.id.clone()]);
    assert_eq!(f.vpc.as_deref(), Some(t.vpcs[0].id.as_str()));
    assert_eq!(f.rules.len(), 11);
    let prios: Vec<(Direction, u32)> = f.rules.iter().map(|r| (r.direction, r.priority)).collect();
    let mut sorted = prios.clone();
    sorted.sort();
    assert_eq!(prios, sorted, "rules are ordered by direction and priority");
    assert_eq!(
        rule(f, "RDP").ports,
        Some(PortRange {
            from: 3389,
            to: 3389
        })
    );
    assert_eq!(rule(f, "SSH").priority, 1001);
    let vnet_in = rule(f, "AllowVnetInBound");
    assert_eq!(
        (vnet_in.peers.clone(), vnet_in.targets.clone()),
        (vec![tag("VirtualNetwork")], vec![tag("VirtualNetwork")])
    );
    assert_eq!(rule(f, "DenyAllOutBound").action, Action::Deny);
    assert_eq!(
        rule(f, "AllowInternetOutBound").peers,
        vec![tag("Internet")]
    );
}
