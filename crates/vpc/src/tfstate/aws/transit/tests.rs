//! Transit and VPN gateways, VPC routes to them, and peering accepters.

use std::path::PathBuf;

use crate::model::*;
use crate::tfstate::{import_file, import_str, ImportReport};

fn state(resources: &[(&str, &str)]) -> (Topology, ImportReport) {
    let list: Vec<String> = resources
        .iter()
        .enumerate()
        .map(|(i, (ty, attrs))| {
            format!(
                r#"{{"mode":"managed","type":"{ty}","name":"r{i}","instances":[{{"attributes":{attrs}}}]}}"#
            )
        })
        .collect();
    let s = format!(
        r#"{{"version":4,"terraform_version":"1.9.0","serial":1,"resources":[{}]}}"#,
        list.join(",")
    );
    import_str(&s, "t").unwrap_or_else(|e| panic!("{e}"))
}

fn net(s: &str) -> ipnet::IpNet {
    s.parse().unwrap()
}

fn route(dest: &str, target: RouteTarget) -> Route {
    Route {
        destination: net(dest),
        target,
    }
}

fn table<'t>(t: &'t Topology, id: &str) -> &'t RouteTable {
    t.route_tables.iter().find(|r| r.id == id).expect(id)
}

fn gateway<'t>(t: &'t Topology, id: &str) -> &'t Gateway {
    t.gateways.iter().find(|g| g.id == id).expect(id)
}

const TGW: (&str, &str) = (
    "aws_ec2_transit_gateway",
    r#"{"id":"tgw-1","association_default_route_table_id":"tgw-rtb-def","propagation_default_route_table_id":"tgw-rtb-def","default_route_table_association":"enable","default_route_table_propagation":"enable","tags":{"Name":"hub"}}"#,
);
const VPC_A: (&str, &str) = ("aws_vpc", r#"{"id":"vpc-a","cidr_block":"10.1.0.0/16"}"#);
const VPC_B: (&str, &str) = ("aws_vpc", r#"{"id":"vpc-b","cidr_block":"10.2.0.0/16"}"#);
const ATT_A: (&str, &str) = (
    "aws_ec2_transit_gateway_vpc_attachment",
    r#"{"id":"tgw-attach-a","transit_gateway_id":"tgw-1","vpc_id":"vpc-a","subnet_ids":["subnet-a"],"transit_gateway_default_route_table_association":true,"transit_gateway_default_route_table_propagation":true}"#,
);
const ATT_B: (&str, &str) = (
    "aws_ec2_transit_gateway_vpc_attachment",
    r#"{"id":"tgw-attach-b","transit_gateway_id":"tgw-1","vpc_id":"vpc-b","subnet_ids":["subnet-b1","subnet-b2"],"transit_gateway_default_route_table_association":false,"transit_gateway_default_route_table_propagation":false}"#,
);
const RTB_SPOKE: (&str, &str) = (
    "aws_ec2_transit_gateway_route_table",
    r#"{"id":"tgw-rtb-spoke","transit_gateway_id":"tgw-1","default_association_route_table":false,"tags":{"Name":"spokes"}}"#,
);
const ASSOC_B: (&str, &str) = (
    "aws_ec2_transit_gateway_route_table_association",
    r#"{"transit_gateway_attachment_id":"tgw-attach-b","transit_gateway_route_table_id":"tgw-rtb-spoke","resource_id":"vpc-b","resource_type":"vpc"}"#,
);
const PROP_B: (&str, &str) = (
    "aws_ec2_transit_gateway_route_table_propagation",
    r#"{"transit_gateway_attachment_id":"tgw-attach-b","transit_gateway_route_table_id":"tgw-rtb-def","resource_id":"vpc-b","resource_type":"vpc"}"#,
);
const STATIC: (&str, &str) = (
    "aws_ec2_transit_gateway_route",
    r#"{"destination_cidr_block":"0.0.0.0/0","transit_gateway_attachment_id":"tgw-attach-a","blackhole":false,"transit_gateway_route_table_id":"tgw-rtb-spoke"}"#,
);
const HOLE: (&str, &str) = (
    "aws_ec2_transit_gateway_route",
    r#"{"destination_cidr_block":"10.9.0.0/16","transit_gateway_attachment_id":"","blackhole":true,"transit_gateway_route_table_id":"tgw-rtb-spoke"}"#,
);
const VPC_RT: (&str, &str) = (
    "aws_route_table",
    r#"{"id":"rtb-a","vpc_id":"vpc-a","route":[
        {"cidr_block":"10.0.0.0/8","gateway_id":"","transit_gateway_id":"tgw-1"},
        {"cidr_block":"192.168.0.0/16","gateway_id":"vgw-1","transit_gateway_id":""}]}"#,
);

#[test]
fn transit_gateway_hub_in_any_order() {
    let all = [
        TGW, VPC_A, VPC_B, ATT_A, ATT_B, RTB_SPOKE, ASSOC_B, PROP_B, STATIC, HOLE, VPC_RT,
    ];
    let mut reversed = all;
    reversed.reverse();
    for order in [all, reversed] {
        let (t, r) = state(&order);
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        let g = gateway(&t, "tgw-1");
        assert_eq!(g.kind, GatewayKind::Transit);
        assert_eq!(g.name, "hub");
        assert_eq!(g.vpc, None);
        let mut atts = g.attachments.clone();
        atts.sort_by(|a, b| a.id.cmp(&b.id));
        assert_eq!(
            atts,
            vec![
                Attachment {
                    id: "tgw-attach-a".into(),
                    vpc: Some("vpc-a".into()),
                    subnets: vec!["subnet-a".into()],
                    route_table: Some("tgw-rtb-def".into()),
                    kind: Some("vpc".into()),
                },
                Attachment {
                    id: "tgw-attach-b".into(),
                    vpc: Some("vpc-b".into()),
                    subnets: vec!["subnet-b1".into(), "subnet-b2".into()],
                    route_table: Some("tgw-rtb-spoke".into()),
                    kind: Some("vpc".into()),
                },
            ]
        );
        // The default table: not a resource here, made from the gateway; propagations of both.
        let def = table(&t, "tgw-rtb-def");
        assert!(def.main);
        assert_eq!(def.gateway.as_deref(), Some("tgw-1"));
        assert_eq!(def.vpc, None);
        let mut routes = def.routes.clone();
        routes.sort_by_key(|r| r.destination);
        assert_eq!(
            routes,
            vec![
                route(
                    "10.1.0.0/16",
                    RouteTarget::Attachment("tgw-attach-a".into())
                ),
                route(
                    "10.2.0.0/16",
                    RouteTarget::Attachment("tgw-attach-b".into())
                ),
            ]
        );
        let spoke = table(&t, "tgw-rtb-spoke");
        assert!(!spoke.main);
        assert_eq!(spoke.name, "spokes");
        assert!(spoke.routes.contains(&route(
            "0.0.0.0/0",
            RouteTarget::Attachment("tgw-attach-a".into())
        )));
        assert!(spoke
            .routes
            .contains(&route("10.9.0.0/16", RouteTarget::Blackhole)));
        assert_eq!(spoke.routes.len(), 2);
        let vpc_rt = table(&t, "rtb-a");
        assert_eq!(
            vpc_rt.routes,
            vec![
                route("10.0.0.0/8", RouteTarget::TransitGateway("tgw-1".into())),
                route("192.168.0.0/16", RouteTarget::Gateway("vgw-1".into())),
            ]
        );
        assert_eq!(t.counts().attachments, 2);
    }
}

#[test]
fn declared_default_table_replaces_the_made_one() {
    let (t, _) = state(&[
        TGW,
        (
            "aws_ec2_transit_gateway_route_table",
            r#"{"id":"tgw-rtb-def","transit_gateway_id":"tgw-1","default_association_route_table":true,"tags":{"Name":"main"}}"#,
        ),
    ]);
    assert_eq!(t.route_tables.len(), 1);
    assert_eq!(t.route_tables[0].name, "main");
    assert!(t.route_tables[0].main);
}

#[test]
fn vpn_gateways_connections_and_shared_transit_gateways() {
    let (t, r) = state(&[
        (
            "aws_vpn_gateway",
            r#"{"id":"vgw-1","vpc_id":"","tags":{"Name":"office"}}"#,
        ),
        (
            "aws_vpn_gateway_attachment",
            r#"{"vpn_gateway_id":"vgw-1","vpc_id":"vpc-a"}"#,
        ),
        (
            "aws_vpn_gateway_attachment",
            r#"{"vpn_gateway_id":"vgw-2","vpc_id":"vpc-b"}"#,
        ),
        (
            "aws_customer_gateway",
            r#"{"id":"cgw-1","ip_address":"198.51.100.7","bgp_asn":"65000","tags":{}}"#,
        ),
        (
            "aws_vpn_connection",
            r#"{"id":"vpn-1","customer_gateway_id":"cgw-1","transit_gateway_id":"tgw-shared","transit_gateway_attachment_id":"tgw-attach-vpn","vpn_gateway_id":""}"#,
        ),
        (
            "aws_vpn_connection",
            r#"{"id":"vpn-2","customer_gateway_id":"cgw-1","vpn_gateway_id":"vgw-1"}"#,
        ),
        (
            "aws_ec2_transit_gateway_peering_attachment",
            r#"{"id":"tgw-attach-peer","transit_gateway_id":"tgw-shared","peer_transit_gateway_id":"tgw-far"}"#,
        ),
    ]);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let v = gateway(&t, "vgw-1");
    assert_eq!(
        (v.kind, v.vpc.as_deref(), v.name.as_str()),
        (GatewayKind::Vpn, Some("vpc-a"), "office")
    );
    let v2 = gateway(&t, "vgw-2");
    assert_eq!(
        (v2.kind, v2.vpc.as_deref()),
        (GatewayKind::Vpn, Some("vpc-b"))
    );
    let c = gateway(&t, "cgw-1");
    assert_eq!(c.kind, GatewayKind::Vpn);
    assert_eq!(c.name, "198.51.100.7");
    assert_eq!(c.public_ip, Some("198.51.100.7".parse().unwrap()));
    assert_eq!(c.vpc, None);
    // A transit gateway from another account: a placeholder holds its attachments.
    let s = gateway(&t, "tgw-shared");
    assert_eq!(s.kind, GatewayKind::Transit);
    let kinds: Vec<(&str, Option<&str>)> = s
        .attachments
        .iter()
        .map(|a| (a.id.as_str(), a.kind.as_deref()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("tgw-attach-vpn", Some("vpn")),
            ("tgw-attach-peer", Some("peering"))
        ]
    );
    // No default table known here; a peering attachment is never associated by default.
    assert!(s.attachments.iter().all(|a| a.route_table.is_none()));
    assert_eq!(r.imported_total(), 7);
}

#[test]
fn vpn_attachments_use_the_default_table_peerings_do_not() {
    let (t, _) = state(&[
        TGW,
        (
            "aws_vpn_connection",
            r#"{"id":"vpn-1","transit_gateway_id":"tgw-1","transit_gateway_attachment_id":"tgw-attach-vpn"}"#,
        ),
        (
            "aws_ec2_transit_gateway_peering_attachment",
            r#"{"id":"tgw-attach-peer","transit_gateway_id":"tgw-1"}"#,
        ),
    ]);
    let tables: Vec<(&str, Option<&str>)> = gateway(&t, "tgw-1")
        .attachments
        .iter()
        .map(|a| (a.id.as_str(), a.route_table.as_deref()))
        .collect();
    assert_eq!(
        tables,
        vec![
            ("tgw-attach-vpn", Some("tgw-rtb-def")),
            ("tgw-attach-peer", None)
        ]
    );
}

#[test]
fn broken_transit_values_warn() {
    let (t, r) = state(&[
        TGW,
        (
            "aws_ec2_transit_gateway_route",
            r#"{"transit_gateway_route_table_id":"tgw-rtb-def"}"#,
        ),
        (
            "aws_ec2_transit_gateway_route",
            r#"{"destination_cidr_block":"10.0.0.0/33","transit_gateway_route_table_id":"tgw-rtb-def","transit_gateway_attachment_id":"tgw-attach-a"}"#,
        ),
        (
            "aws_ec2_transit_gateway_route",
            r#"{"destination_cidr_block":"10.0.0.0/16","transit_gateway_route_table_id":"tgw-rtb-def","blackhole":"no"}"#,
        ),
        (
            "aws_ec2_transit_gateway_route_table_association",
            r#"{"transit_gateway_attachment_id":"tgw-attach-x","transit_gateway_route_table_id":"tgw-rtb-gone"}"#,
        ),
        (
            "aws_ec2_transit_gateway_route_table_propagation",
            r#"{"transit_gateway_attachment_id":"tgw-attach-x","transit_gateway_route_table_id":"tgw-rtb-gone","resource_id":"vpc-a","resource_type":"vpc"}"#,
        ),
        (
            "aws_ec2_transit_gateway_vpc_attachment",
            r#"{"id":"tgw-attach-y"}"#,
        ),
        ("aws_vpc_peering_connection_accepter", r#"{"id":"pcx-1"}"#),
    ]);
    assert!(table(&t, "tgw-rtb-def").routes.is_empty());
    assert_eq!(r.warnings.len(), 7, "{:?}", r.warnings);
    assert!(r.warnings.iter().any(|w| w.contains("10.0.0.0/33")));
    assert!(r.warnings.iter().any(|w| w.contains("tgw-rtb-gone")));
    assert!(r.warnings.iter().any(|w| w.contains("pcx-1")));
}

#[test]
fn peering_accepter_merges_or_stands_alone() {
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/tfstate/17-aws-vpc-peering-accepter-two-vpcs.tfstate"
    ));
    let (t, _) = import_file(&p).unwrap();
    assert_eq!(t.peerings.len(), 1);
    let p = &t.peerings[0];
    assert_eq!(p.id, "pcx-066b41963a6fc96e7");
    assert_eq!(p.name, "peering");
    assert_eq!(p.vpc, "vpc-0a42917192f933430");
    assert_eq!(p.peer_vpc, "vpc-0937dad08efbf8f67");
    assert_eq!(p.status.as_deref(), Some("active"));

    let (t, r) = state(&[(
        "aws_vpc_peering_connection_accepter",
        r#"{"id":"pcx-2","vpc_peering_connection_id":"pcx-2","vpc_id":"vpc-req","peer_vpc_id":"vpc-acc","accept_status":"active","tags":{"Name":"from-them"}}"#,
    )]);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(
        t.peerings,
        vec![Peering {
            id: "pcx-2".into(),
            name: "from-them".into(),
            vpc: "vpc-req".into(),
            peer_vpc: "vpc-acc".into(),
            status: Some("active".into()),
        }]
    );
}
