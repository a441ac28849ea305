//! Other VPCs: peerings with routes both ways, transit gateways, VPN gateways and routes
//! reachability does not follow.

use super::*;

fn route(dest: &str, target: RouteTarget) -> Route {
    Route {
        destination: net(dest),
        target,
    }
}

fn table(id: &str, vpc: Option<&str>, gateway: Option<&str>, routes: Vec<Route>) -> RouteTable {
    RouteTable {
        id: id.into(),
        name: id.into(),
        vpc: vpc.map(str::to_string),
        main: gateway.is_some(),
        routes,
        subnets: Vec::new(),
        gateway: gateway.map(str::to_string),
    }
}

/// The base topology plus VPC shared (10.30.0.0/16) with api (10.30.1.5, sg-api admits 443 from
/// the tunnel and from vpc-1) in subnet-b on rtb-b; the tunnel carries 10.30.0.0/16 too.
fn two_vpcs() -> (Topology, Tunnel) {
    let mut t = topo();
    t.vpcs.push(Vpc {
        id: "vpc-2".into(),
        name: "shared".into(),
        provider: Provider::Aws,
        region: None,
        cidrs: vec![net("10.30.0.0/16")],
        main_route_table: None,
        tags: Default::default(),
        placeholder: false,
    });
    t.subnets.push(Subnet {
        id: "subnet-b".into(),
        name: "subnet-b".into(),
        vpc: Some("vpc-2".into()),
        cidr: Some(net("10.30.1.0/24")),
        zone: None,
        region: None,
        public: None,
        tags: Default::default(),
    });
    let mut api = host("i-api", "api", "subnet-b", "10.30.1.5", &["sg-api"]);
    api.vpc = Some("vpc-2".into());
    t.hosts.push(api);
    t.firewalls.push(sg(
        "sg-api",
        "sg-api",
        vec![allow_in(
            443,
            vec![
                Peer::Cidr(net("10.100.0.0/24")),
                Peer::Cidr(net("10.20.0.0/16")),
            ],
        )],
    ));
    let mut b = table("rtb-b", Some("vpc-2"), None, vec![]);
    b.subnets = vec!["subnet-b".into()];
    t.route_tables.push(b);
    let mut tun = tunnel();
    tun.peers[0].allowed_ips.push(net("10.30.0.0/16"));
    (t, tun)
}

const MAIN: usize = 0;
const PRIVATE: usize = 1;
const B: usize = 2;

fn nat(on: bool) -> VpnHint {
    VpnHint {
        host: None,
        nat: Some(on),
    }
}

#[test]
fn codes_peered_and_peering_no_route() {
    let (mut t, tun) = two_vpcs();
    t.peerings.push(Peering {
        id: "pcx-1".into(),
        name: "lab-shared".into(),
        vpc: "vpc-1".into(),
        peer_vpc: "vpc-2".into(),
        status: None,
    });
    let v = check(&t, Some(&tun), &nat(false), "api", 443);
    assert_eq!(v.status, Status::Blocked, "{v:#?}");
    assert!(v.has(Code::PeeringNoRoute));
    assert_eq!(
        v.sentence,
        "api:443 is blocked: route table rtb-main sends 10.30.1.5 (api) via 0.0.0.0/0 to lab-igw, \
         not through peering lab-shared"
    );
    // The way there, but not back.
    t.route_tables[MAIN]
        .routes
        .push(route("10.30.0.0/16", RouteTarget::Peering("pcx-1".into())));
    let v = check(&t, Some(&tun), &nat(false), "api", 443);
    assert_eq!(v.status, Status::Blocked, "{v:#?}");
    assert!(v.has(Code::NoReturnRoute));
    assert_eq!(
        v.sentence,
        "api:443 is blocked: route table rtb-b has no route back to 10.100.0.2 through peering \
         lab-shared"
    );
    // Both ways: reachable.
    t.route_tables[B]
        .routes
        .push(route("10.100.0.0/24", RouteTarget::Peering("pcx-1".into())));
    let v = check(&t, Some(&tun), &nat(false), "api", 443);
    assert_eq!(v.status, Status::Reachable, "{v:#?}");
    assert_eq!(
        v.codes(),
        vec![Code::TunnelPeer, Code::Peered, Code::RuleAdmits]
    );
    // NATed, replies go to the VPN host's address: the route back must cover it.
    let v = check(&t, Some(&tun), &nat(true), "api", 443);
    assert!(v.has(Code::NoReturnRoute), "{v:#?}");
    t.route_tables[B]
        .routes
        .push(route("10.20.0.0/16", RouteTarget::Peering("pcx-1".into())));
    let v = check(&t, Some(&tun), &nat(true), "api", 443);
    assert_eq!(
        v.codes(),
        vec![
            Code::TunnelPeer,
            Code::Peered,
            Code::VpnNat,
            Code::RuleAdmits
        ],
        "{v:#?}"
    );
    // Without route tables, peered stays unknown.
    t.route_tables.clear();
    t.vpcs[0].main_route_table = None;
    let v = check(&t, Some(&tun), &VpnHint::default(), "api", 443);
    assert!(v.has(Code::Peered));
    assert_eq!(v.status, Status::Unknown);
}

/// two_vpcs joined by transit gateway hub: vpc-1's attachment uses the default table
/// (10.30.0.0/16 to vpc-2's attachment), vpc-2's its own (10.100.0.0/24 back to vpc-1's).
fn with_tgw() -> (Topology, Tunnel) {
    let (mut t, tun) = two_vpcs();
    let att = |id: &str, vpc: &str, rt: Option<&str>| Attachment {
        id: id.into(),
        vpc: Some(vpc.into()),
        subnets: Vec::new(),
        route_table: rt.map(str::to_string),
        kind: Some("vpc".into()),
    };
    t.gateways.push(Gateway {
        id: "tgw-1".into(),
        name: "hub".into(),
        kind: GatewayKind::Transit,
        vpc: None,
        subnet: None,
        private_ip: None,
        public_ip: None,
        attachments: vec![
            att("tgw-attach-1", "vpc-1", None),
            att("tgw-attach-2", "vpc-2", Some("tgw-rtb-spokes")),
        ],
    });
    let to = |a: &str| RouteTarget::Attachment(a.into());
    t.route_tables.push(table(
        "tgw-rtb-default",
        None,
        Some("tgw-1"),
        vec![route("10.30.0.0/16", to("tgw-attach-2"))],
    ));
    let mut spokes = table(
        "tgw-rtb-spokes",
        None,
        Some("tgw-1"),
        vec![route("10.100.0.0/24", to("tgw-attach-1"))],
    );
    spokes.main = false;
    t.route_tables.push(spokes);
    let tgw = RouteTarget::TransitGateway("tgw-1".into());
    t.route_tables[MAIN]
        .routes
        .push(route("10.30.0.0/16", tgw.clone()));
    t.route_tables[B].routes.push(route("10.100.0.0/24", tgw));
    (t, tun)
}

const TGW_DEFAULT: usize = 3;
const TGW_SPOKES: usize = 4;

#[test]
fn code_transit_gateway_both_ways() {
    let (t, tun) = with_tgw();
    let v = check(&t, Some(&tun), &nat(false), "api", 443);
    assert_eq!(v.status, Status::Reachable, "{v:#?}");
    assert_eq!(
        v.codes(),
        vec![Code::TunnelPeer, Code::TransitGateway, Code::RuleAdmits]
    );
    let d = &v.findings[1].detail;
    assert_eq!(
        d,
        "transit gateway hub carries 10.30.1.5 from route table rtb-main through its table \
         tgw-rtb-default to attachment tgw-attach-2 of shared, and replies to 10.100.0.2 from \
         route table rtb-b through its table tgw-rtb-spokes to attachment tgw-attach-1 of lab"
    );
}

#[test]
fn code_transit_no_route_each_direction() {
    let (mut t, tun) = with_tgw();
    t.route_tables[TGW_SPOKES].routes[0].target = RouteTarget::Blackhole;
    let v = check(&t, Some(&tun), &nat(false), "api", 443);
    assert_eq!(v.status, Status::Blocked, "{v:#?}");
    assert!(v.has(Code::TransitNoRoute));
    assert_eq!(
        v.sentence,
        "api:443 is blocked: transit gateway hub's route table tgw-rtb-spokes blackholes \
         10.100.0.2 (on the way back)"
    );
    let (mut t, tun) = with_tgw();
    t.route_tables[TGW_DEFAULT].routes.clear();
    let v = check(&t, Some(&tun), &nat(false), "api", 443);
    assert!(v.has(Code::TransitNoRoute));
    assert_eq!(
        v.sentence,
        "api:443 is blocked: transit gateway hub's route table tgw-rtb-default has no route to \
         10.30.1.5 (on the way to api)"
    );
    // The target's VPC table not returning through the gateway: no-return-route.
    let (mut t, tun) = with_tgw();
    t.route_tables[B].routes.clear();
    let v = check(&t, Some(&tun), &nat(false), "api", 443);
    assert!(v.has(Code::NoReturnRoute), "{v:#?}");
    assert_eq!(v.status, Status::Blocked);
}

#[test]
fn code_transit_unknown() {
    let (mut t, tun) = with_tgw();
    t.gateways.clear();
    let v = check(&t, Some(&tun), &nat(false), "api", 443);
    assert_eq!(v.status, Status::Unknown, "{v:#?}");
    assert!(v.has(Code::TransitUnknown));
    assert!(v
        .sentence
        .contains("transit gateway tgw-1, which the topology does not describe"));
    let (mut t, tun) = with_tgw();
    t.gateways[1].attachments[1].route_table = Some("tgw-rtb-gone".into());
    let v = check(&t, Some(&tun), &nat(false), "api", 443);
    assert!(v.has(Code::TransitUnknown), "{v:#?}");
    assert!(
        v.sentence
            .contains("attachment tgw-attach-2 is not in the topology"),
        "{}",
        v.sentence
    );
}

#[test]
fn codes_vpn_gateway_route_not_followed_and_blackhole() {
    let (mut t, tun) = (topo(), tunnel());
    t.gateways.push(Gateway {
        id: "vgw-1".into(),
        name: "corp-vgw".into(),
        kind: GatewayKind::Vpn,
        vpc: Some("vpc-1".into()),
        subnet: None,
        private_ip: None,
        public_ip: None,
        attachments: Vec::new(),
    });
    t.route_tables[PRIVATE].routes[0].target = RouteTarget::Gateway("vgw-1".into());
    let v = check(&t, Some(&tun), &nat(false), "app", 80);
    assert_eq!(v.status, Status::Unknown, "{v:#?}");
    assert!(v.has(Code::VpnGateway));
    assert_eq!(
        v.sentence,
        "app:80 is unknown: route table rtb-private sends 10.100.0.0/24 to virtual private \
         gateway corp-vgw, a site-to-site VPN Gatehouse does not follow"
    );
    t.route_tables[PRIVATE].routes[0].target = RouteTarget::Other("vpce-1".into());
    let v = check(&t, Some(&tun), &nat(false), "app", 80);
    assert!(v.has(Code::RouteNotFollowed), "{v:#?}");
    assert!(v
        .sentence
        .contains("to vpce-1, which Gatehouse does not follow"));
    t.route_tables[PRIVATE].routes[0].target = RouteTarget::Blackhole;
    let v = check(&t, Some(&tun), &nat(false), "app", 80);
    assert_eq!(v.status, Status::Blocked, "{v:#?}");
    assert!(v.has(Code::NoReturnRoute));
    assert!(v.sentence.contains("blackhole"), "{}", v.sentence);
    // Towards another VPC too.
    let (mut t, tun) = two_vpcs();
    t.route_tables[MAIN]
        .routes
        .push(route("10.30.0.0/16", RouteTarget::Other("cagw-1".into())));
    let v = check(&t, Some(&tun), &nat(false), "api", 443);
    assert!(v.has(Code::RouteNotFollowed), "{v:#?}");
    assert!(!v.has(Code::OtherVpc));
}
