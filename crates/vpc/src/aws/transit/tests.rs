use super::super::tests::{canned, ec2};
use super::super::{import_region, Options, Request};
use super::*;

#[test]
fn gateways_attachments_and_route_tables() {
    let mut t = canned(vec![
        ("DescribeRouteTables", None, 200, ec2("DescribeRouteTables",
            "<routeTableSet><item><routeTableId>rtb-1</routeTableId><vpcId>vpc-1</vpcId><routeSet>\
             <item><destinationCidrBlock>10.99.0.0/16</destinationCidrBlock><transitGatewayId>tgw-1</transitGatewayId></item>\
             <item><destinationCidrBlock>192.168.0.0/16</destinationCidrBlock><gatewayId>vgw-1</gatewayId></item>\
             </routeSet></item></routeTableSet>")),
        ("DescribeTransitGateways", None, 200, ec2("DescribeTransitGateways",
            "<transitGatewaySet><item><transitGatewayId>tgw-1</transitGatewayId><state>available</state>\
             <options><associationDefaultRouteTableId>tgw-rtb-main</associationDefaultRouteTableId></options>\
             <tagSet><item><key>Name</key><value>hub</value></item></tagSet></item>\
             <item><transitGatewayId>tgw-old</transitGatewayId><state>deleted</state></item></transitGatewaySet>")),
        ("DescribeTransitGatewayAttachments", None, 200, ec2("DescribeTransitGatewayAttachments",
            "<transitGatewayAttachments>\
             <item><transitGatewayAttachmentId>tgw-attach-vpc</transitGatewayAttachmentId><transitGatewayId>tgw-1</transitGatewayId>\
             <resourceType>vpc</resourceType><resourceId>vpc-1</resourceId><state>available</state>\
             <association><transitGatewayRouteTableId>tgw-rtb-main</transitGatewayRouteTableId><state>associated</state></association></item>\
             <item><transitGatewayAttachmentId>tgw-attach-vpn</transitGatewayAttachmentId><transitGatewayId>tgw-1</transitGatewayId>\
             <resourceType>vpn</resourceType><resourceId>vpn-1</resourceId><state>available</state>\
             <association><transitGatewayRouteTableId>tgw-rtb-edge</transitGatewayRouteTableId></association></item>\
             <item><transitGatewayAttachmentId>tgw-attach-del</transitGatewayAttachmentId><transitGatewayId>tgw-1</transitGatewayId>\
             <resourceType>vpc</resourceType><state>deleted</state></item>\
             <item><transitGatewayAttachmentId>tgw-attach-x</transitGatewayAttachmentId><transitGatewayId>tgw-other</transitGatewayId>\
             <resourceType>peering</resourceType><state>available</state></item>\
             </transitGatewayAttachments>")),
        ("DescribeTransitGatewayVpcAttachments", None, 200, ec2("DescribeTransitGatewayVpcAttachments",
            "<transitGatewayVpcAttachments><item><transitGatewayAttachmentId>tgw-attach-vpc</transitGatewayAttachmentId>\
             <transitGatewayId>tgw-1</transitGatewayId><vpcId>vpc-1</vpcId><state>available</state>\
             <subnetIds><item>subnet-a</item><item>subnet-b</item></subnetIds></item></transitGatewayVpcAttachments>")),
        ("DescribeTransitGatewayRouteTables", None, 200, ec2("DescribeTransitGatewayRouteTables",
            "<transitGatewayRouteTables>\
             <item><transitGatewayRouteTableId>tgw-rtb-main</transitGatewayRouteTableId><transitGatewayId>tgw-1</transitGatewayId>\
             <state>available</state><defaultAssociationRouteTable>true</defaultAssociationRouteTable></item>\
             <item><transitGatewayRouteTableId>tgw-rtb-edge</transitGatewayRouteTableId><transitGatewayId>tgw-1</transitGatewayId>\
             <state>available</state><defaultAssociationRouteTable>false</defaultAssociationRouteTable>\
             <tagSet><item><key>Name</key><value>edge</value></item></tagSet></item>\
             </transitGatewayRouteTables>")),
        ("DescribeVpnGateways", None, 200, ec2("DescribeVpnGateways",
            "<vpnGatewaySet><item><vpnGatewayId>vgw-1</vpnGatewayId><state>available</state><type>ipsec.1</type>\
             <attachments><item><vpcId>vpc-0</vpcId><state>detached</state></item><item><vpcId>vpc-1</vpcId><state>attached</state></item></attachments></item>\
             <item><vpnGatewayId>vgw-old</vpnGatewayId><state>deleted</state></item></vpnGatewaySet>")),
    ]);
    t.hook = Some(Box::new(|req: &Request| {
        if req.action != "SearchTransitGatewayRoutes" {
            return None;
        }
        let table = &req.params[0].1;
        let routes = match table.as_str() {
            "tgw-rtb-main" => "<item><destinationCidrBlock>10.0.0.0/16</destinationCidrBlock><type>propagated</type><state>active</state>\
                <transitGatewayAttachments><item><resourceId>vpc-1</resourceId><transitGatewayAttachmentId>tgw-attach-vpc</transitGatewayAttachmentId><resourceType>vpc</resourceType></item></transitGatewayAttachments></item>\
                <item><destinationCidrBlock>10.66.0.0/16</destinationCidrBlock><type>static</type><state>blackhole</state></item>\
                <item><destinationCidrBlock>10.67.0.0/16</destinationCidrBlock><type>static</type><state>active</state><transitGatewayAttachments/></item>\
                <item><prefixListId>pl-1</prefixListId><type>static</type><state>active</state></item>",
            _ => "<item><destinationCidrBlock>0.0.0.0/0</destinationCidrBlock><type>static</type><state>active</state>\
                <transitGatewayAttachments><item><transitGatewayAttachmentId>tgw-attach-vpn</transitGatewayAttachmentId></item></transitGatewayAttachments></item>",
        };
        let more = if table == "tgw-rtb-edge" {
            "true"
        } else {
            "false"
        };
        Some((200, ec2("SearchTransitGatewayRoutes",
            &format!("<routeSet>{routes}</routeSet><additionalRoutesAvailable>{more}</additionalRoutesAvailable>"))))
    }));
    let r = import_region("eu-west-1", &mut t, Options::default()).unwrap();
    let topo = &r.topology;
    let search: Vec<String> = t
        .sent
        .iter()
        .filter(|q| q.action == "SearchTransitGatewayRoutes")
        .map(|q| q.body())
        .collect();
    assert_eq!(search.len(), 2);
    assert!(
        search[0].ends_with("TransitGatewayRouteTableId=tgw-rtb-main&Filter.1.Name=type&Filter.1.Value.1=static&Filter.1.Value.2=propagated"),
        "{}",
        search[0]
    );

    let ids: Vec<(&str, GatewayKind, Option<&str>)> = topo
        .gateways
        .iter()
        .map(|g| (g.id.as_str(), g.kind, g.vpc.as_deref()))
        .collect();
    assert_eq!(
        ids,
        [
            ("tgw-1", GatewayKind::Transit, None),
            ("vgw-1", GatewayKind::Vpn, Some("vpc-1"))
        ]
    );
    let tgw = &topo.gateways[0];
    assert_eq!(tgw.name, "hub");
    assert_eq!(
        tgw.attachments,
        [
            Attachment {
                id: "tgw-attach-vpc".into(),
                vpc: Some("vpc-1".into()),
                subnets: vec!["subnet-a".into(), "subnet-b".into()],
                route_table: Some("tgw-rtb-main".into()),
                kind: Some("vpc".into()),
            },
            Attachment {
                id: "tgw-attach-vpn".into(),
                vpc: None,
                subnets: vec![],
                route_table: Some("tgw-rtb-edge".into()),
                kind: Some("vpn".into()),
            },
        ]
    );
    assert_eq!(topo.counts().attachments, 2);

    let main = topo
        .route_tables
        .iter()
        .find(|t| t.id == "tgw-rtb-main")
        .unwrap();
    assert!(main.main);
    assert_eq!(
        (main.vpc.as_deref(), main.gateway.as_deref()),
        (None, Some("tgw-1"))
    );
    let routes: Vec<(String, RouteTarget)> = main
        .routes
        .iter()
        .map(|r| (r.destination.to_string(), r.target.clone()))
        .collect();
    assert_eq!(
        routes,
        [
            (
                "10.0.0.0/16".into(),
                RouteTarget::Attachment("tgw-attach-vpc".into())
            ),
            ("10.66.0.0/16".into(), RouteTarget::Blackhole),
        ]
    );
    let edge = topo
        .route_tables
        .iter()
        .find(|t| t.id == "tgw-rtb-edge")
        .unwrap();
    assert_eq!((edge.name.as_str(), edge.main), ("edge", false));
    assert_eq!(edge.routes.len(), 1);

    // The VPC's own table: the transit gateway and the VPN gateway as targets.
    let vpc_rt = topo.route_tables.iter().find(|t| t.id == "rtb-1").unwrap();
    assert_eq!(
        vpc_rt
            .routes
            .iter()
            .map(|r| r.target.clone())
            .collect::<Vec<_>>(),
        [
            RouteTarget::TransitGateway("tgw-1".into()),
            RouteTarget::Gateway("vgw-1".into())
        ]
    );
    assert_eq!(
        r.warnings,
        [
            "tgw-rtb-main: the route to 10.67.0.0/16 names no attachment; skipped",
            "tgw-rtb-main: a route to pl-1 is not shown (prefix lists are not read)",
            "tgw-rtb-edge: more routes than one answer holds; the rest are not shown",
            "transit gateway attachment tgw-attach-x of tgw-other: the gateway is not listed; skipped",
        ]
    );
}

#[test]
fn refusals_are_warnings_and_no_gateway_means_no_more_calls() {
    let denied = "<Response><Errors><Error><Code>UnauthorizedOperation</Code><Message>You are not authorized to perform this operation.</Message></Error></Errors></Response>";
    let mut t = canned(vec![
        ("DescribeTransitGateways", None, 403, denied.into()),
        ("DescribeVpnGateways", None, 400, "<Response><Errors><Error><Code>OptInRequired</Code><Message>opt in</Message></Error></Errors></Response>".into()),
    ]);
    let r = import_region("eu-west-1", &mut t, Options::default()).unwrap();
    assert_eq!(
        r.warnings,
        [
            "EC2 DescribeTransitGateways in eu-west-1: HTTP 403 UnauthorizedOperation: You are not authorized to perform this operation.; transit gateways not imported",
            "EC2 DescribeVpnGateways in eu-west-1: HTTP 400 OptInRequired: opt in; VPN gateways not imported",
        ]
    );
    assert!(!t
        .sent
        .iter()
        .any(|q| q.action.starts_with("DescribeTransitGatewayA")));
    assert!(t.waits.is_empty(), "refusals are not retried");
}
