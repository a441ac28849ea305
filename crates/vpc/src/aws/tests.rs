//! The importer against canned answers: paging, the mapping of EC2 and ELBv2, errors,
//! retries; the submodules' tests use the same canned transport.

use super::*;
use crate::model::*;

/// Answers a request itself (status and body), or leaves it to the canned pages.
pub(crate) type Hook = Box<dyn FnMut(&Request) -> Option<(u16, String)>>;

/// Canned answers by action and page token; an action without one gets an empty answer.
pub(crate) struct Canned {
    pages: Vec<(&'static str, Option<&'static str>, u16, String)>,
    pub(crate) sent: Vec<Request>,
    pub(crate) waits: Vec<Duration>,
    pub(crate) hook: Option<Hook>,
}

impl Transport for Canned {
    fn wait(&mut self, d: Duration) {
        self.waits.push(d);
    }

    fn send(&mut self, req: &Request) -> Result<Response, String> {
        self.sent.push(req.clone());
        if let Some(h) = self.hook.as_mut() {
            if let Some((status, body)) = h(req) {
                return Ok(Response {
                    status,
                    body: body.into_bytes(),
                });
            }
        }
        let token = req
            .params
            .iter()
            .find(|(k, _)| k == "NextToken" || k == "Marker" || k == "nextToken")
            .map(|(_, v)| v.as_str());
        for (action, t, status, body) in &self.pages {
            if *action == req.action && *t == token {
                return Ok(Response {
                    status: *status,
                    body: body.clone().into_bytes(),
                });
            }
        }
        let body = match req.service {
            Service::Ec2 => format!("<{0}Response></{0}Response>", req.action),
            Service::Eks => r#"{"clusters": []}"#.to_string(),
            _ => format!(
                "<{0}Response><{0}Result></{0}Result></{0}Response>",
                req.action
            ),
        };
        Ok(Response {
            status: 200,
            body: body.into_bytes(),
        })
    }
}

pub(crate) fn canned(pages: Vec<(&'static str, Option<&'static str>, u16, String)>) -> Canned {
    Canned {
        pages,
        sent: Vec::new(),
        waits: Vec::new(),
        hook: None,
    }
}

pub(crate) fn ec2(action: &str, inner: &str) -> String {
    format!(
        r#"<{action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r</requestId>{inner}</{action}Response>"#
    )
}

/// An answer of a query API with a result element (ELBv2, RDS, ElastiCache).
pub(crate) fn elb(action: &str, inner: &str) -> String {
    format!(
        r#"<{action}Response xmlns="http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"><{action}Result>{inner}</{action}Result></{action}Response>"#
    )
}

fn instance(id: &str, ip: &str) -> String {
    format!(
        "<item><instanceId>{id}</instanceId><instanceState><code>16</code><name>running</name></instanceState>\
         <privateIpAddress>{ip}</privateIpAddress><subnetId>subnet-a</subnetId><vpcId>vpc-1</vpcId>\
         <placement><availabilityZone>eu-west-1a</availabilityZone></placement>\
         <groupSet><item><groupId>sg-web</groupId><groupName>web</groupName></item></groupSet>\
         <sourceDestCheck>true</sourceDestCheck>\
         <networkInterfaceSet><item><networkInterfaceId>eni-{id}</networkInterfaceId><attachment><deviceIndex>0</deviceIndex></attachment>\
         <privateIpAddressesSet><item><privateIpAddress>{ip}</privateIpAddress><primary>true</primary></item></privateIpAddressesSet></item></networkInterfaceSet>\
         <tagSet><item><key>Name</key><value>{id}-name</value></item></tagSet></item>"
    )
}

#[test]
fn next_token_is_followed_with_a_clamped_page_size() {
    let page = |ids: &[(&str, &str)], next: Option<&str>| {
        let items: String = ids.iter().map(|(i, ip)| instance(i, ip)).collect();
        let next = next
            .map(|n| format!("<nextToken>{n}</nextToken>"))
            .unwrap_or_default();
        ec2(
                "DescribeInstances",
                &format!("<reservationSet><item><instancesSet>{items}</instancesSet></item></reservationSet>{next}"),
            )
    };
    let mut t = canned(vec![
        (
            "DescribeInstances",
            None,
            200,
            page(&[("i-1", "10.0.1.1"), ("i-2", "10.0.1.2")], Some("p2")),
        ),
        (
            "DescribeInstances",
            Some("p2"),
            200,
            page(&[("i-3", "10.0.1.3")], Some("p3")),
        ),
        (
            "DescribeInstances",
            Some("p3"),
            200,
            page(&[("i-4", "10.0.1.4")], None),
        ),
    ]);
    let opts = Options {
        page_size: 2,
        ..Options::default()
    };
    let r = import_region("eu-west-1", &mut t, opts).unwrap();
    let ids: Vec<&str> = r.topology.hosts.iter().map(|h| h.id.as_str()).collect();
    assert_eq!(ids, ["i-1", "i-2", "i-3", "i-4"]);
    let calls: Vec<&Request> = t
        .sent
        .iter()
        .filter(|r| r.action == "DescribeInstances")
        .collect();
    assert_eq!(calls.len(), 3);
    assert!(
        calls[0].body().contains("MaxResults=5"),
        "{}",
        calls[0].body()
    );
    assert!(
        calls[2].body().ends_with("NextToken=p3"),
        "{}",
        calls[2].body()
    );
    let h = &r.topology.hosts[0];
    assert_eq!(h.name, "i-1-name");
    assert_eq!(
        h.private_ips,
        ["10.0.1.1".parse::<std::net::IpAddr>().unwrap()]
    );
    assert_eq!(h.security_groups, ["sg-web"]);
    assert_eq!(h.interfaces, ["eni-i-1"]);
    assert_eq!(h.zone.as_deref(), Some("eu-west-1a"));
    assert_eq!(r.requests, t.sent.len());
}

#[test]
fn a_region_maps_to_the_model() {
    let mut t = canned(vec![
            ("DescribeVpcs", None, 200, ec2("DescribeVpcs",
                "<vpcSet><item><vpcId>vpc-1</vpcId><ownerId>123456789012</ownerId><cidrBlock>10.0.0.0/16</cidrBlock>\
                 <isDefault>false</isDefault><tagSet><item><key>Name</key><value>prod</value></item></tagSet></item></vpcSet>")),
            ("DescribeSubnets", None, 200, ec2("DescribeSubnets",
                "<subnetSet><item><subnetId>subnet-a</subnetId><vpcId>vpc-1</vpcId><cidrBlock>10.0.1.0/24</cidrBlock>\
                 <availabilityZone>eu-west-1a</availabilityZone><mapPublicIpOnLaunch>false</mapPublicIpOnLaunch></item>\
                 <item><subnetId>subnet-b</subnetId><vpcId>vpc-1</vpcId><cidrBlock>10.0.2.0/24</cidrBlock>\
                 <availabilityZone>eu-west-1b</availabilityZone></item></subnetSet>")),
            ("DescribeInstances", None, 200, ec2("DescribeInstances",
                &format!("<reservationSet><item><instancesSet>{}</instancesSet></item></reservationSet>", instance("i-1", "10.0.2.10")))),
            ("DescribeSecurityGroups", None, 200, ec2("DescribeSecurityGroups",
                "<securityGroupInfo><item><groupId>sg-web</groupId><groupName>web</groupName><vpcId>vpc-1</vpcId>\
                 <ipPermissions><item><ipProtocol>tcp</ipProtocol><fromPort>443</fromPort><toPort>443</toPort>\
                 <groups><item><groupId>sg-lb</groupId></item><item><groupId>sg-web</groupId></item></groups>\
                 <ipRanges><item><cidrIp>10.8.0.0/24</cidrIp><description>vpn</description></item></ipRanges></item></ipPermissions>\
                 <ipPermissionsEgress><item><ipProtocol>-1</ipProtocol><ipRanges><item><cidrIp>0.0.0.0/0</cidrIp></item></ipRanges></item></ipPermissionsEgress>\
                 </item></securityGroupInfo>")),
            ("DescribeRouteTables", None, 200, ec2("DescribeRouteTables",
                "<routeTableSet><item><routeTableId>rtb-main</routeTableId><vpcId>vpc-1</vpcId>\
                 <routeSet><item><destinationCidrBlock>10.0.0.0/16</destinationCidrBlock><gatewayId>local</gatewayId></item>\
                 <item><destinationCidrBlock>0.0.0.0/0</destinationCidrBlock><natGatewayId>nat-1</natGatewayId></item></routeSet>\
                 <associationSet><item><main>true</main><routeTableId>rtb-main</routeTableId></item></associationSet></item>\
                 <item><routeTableId>rtb-pub</routeTableId><vpcId>vpc-1</vpcId>\
                 <routeSet><item><destinationCidrBlock>0.0.0.0/0</destinationCidrBlock><gatewayId>igw-1</gatewayId></item></routeSet>\
                 <associationSet><item><main>false</main><subnetId>subnet-a</subnetId></item></associationSet></item></routeTableSet>")),
            ("DescribeInternetGateways", None, 200, ec2("DescribeInternetGateways",
                "<internetGatewaySet><item><internetGatewayId>igw-1</internetGatewayId><attachmentSet><item><vpcId>vpc-1</vpcId><state>available</state></item></attachmentSet></item></internetGatewaySet>")),
            ("DescribeNatGateways", None, 200, ec2("DescribeNatGateways",
                "<natGatewaySet><item><natGatewayId>nat-1</natGatewayId><subnetId>subnet-a</subnetId><state>available</state>\
                 <natGatewayAddressSet><item><privateIp>10.0.1.5</privateIp><publicIp>198.51.100.7</publicIp></item></natGatewayAddressSet></item>\
                 <item><natGatewayId>nat-old</natGatewayId><state>deleted</state></item></natGatewaySet>")),
            ("DescribeLoadBalancers", None, 200, elb("DescribeLoadBalancers",
                "<LoadBalancers><member><LoadBalancerArn>arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/web/1</LoadBalancerArn>\
                 <LoadBalancerName>web</LoadBalancerName><Scheme>internet-facing</Scheme><Type>application</Type><VpcId>vpc-1</VpcId>\
                 <DNSName>web-1.eu-west-1.elb.amazonaws.com</DNSName><SecurityGroups><member>sg-lb</member></SecurityGroups>\
                 <AvailabilityZones><member><SubnetId>subnet-a</SubnetId><ZoneName>eu-west-1a</ZoneName></member></AvailabilityZones></member></LoadBalancers>")),
            ("DescribeTargetGroups", None, 200, elb("DescribeTargetGroups",
                "<TargetGroups><member><TargetGroupArn>arn:tg/web</TargetGroupArn><TargetGroupName>web</TargetGroupName>\
                 <Protocol>HTTP</Protocol><Port>8080</Port><VpcId>vpc-1</VpcId></member></TargetGroups>")),
            ("DescribeListeners", None, 200, elb("DescribeListeners",
                "<Listeners><member><LoadBalancerArn>arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/web/1</LoadBalancerArn>\
                 <Port>443</Port><Protocol>HTTPS</Protocol><DefaultActions><member><Type>forward</Type><TargetGroupArn>arn:tg/web</TargetGroupArn></member></DefaultActions></member></Listeners>")),
            ("DescribeTargetHealth", None, 200, elb("DescribeTargetHealth",
                "<TargetHealthDescriptions><member><Target><Id>i-1</Id><Port>8080</Port></Target></member></TargetHealthDescriptions>")),
        ]);
    let r = import_region("eu-west-1", &mut t, Options::default()).unwrap();
    let topo = r.topology;
    let c = topo.counts();
    assert_eq!(
        (
            c.vpcs,
            c.subnets,
            c.hosts,
            c.load_balancers,
            c.target_groups,
            c.gateways,
            c.route_tables,
            c.routes,
            c.firewalls,
            c.rules
        ),
        (1, 2, 1, 1, 1, 2, 2, 2, 1, 4),
        "{r:?}",
        r = r.warnings
    );
    let vpc = &topo.vpcs[0];
    assert_eq!(
        (vpc.name.as_str(), vpc.region.as_deref()),
        ("prod", Some("eu-west-1"))
    );
    assert_eq!(vpc.main_route_table.as_deref(), Some("rtb-main"));
    let pubs: Vec<_> = topo
        .subnets
        .iter()
        .map(|s| (s.id.as_str(), s.public))
        .collect();
    assert_eq!(pubs, [("subnet-a", Some(true)), ("subnet-b", Some(false))]);
    assert_eq!(topo.hosts[0].vpc.as_deref(), Some("vpc-1"));
    let sg = &topo.firewalls[0];
    let peers: Vec<&Peer> = sg.rules.iter().flat_map(|r| &r.peers).collect();
    assert!(peers.contains(&&Peer::Group("sg-lb".into())), "{peers:?}");
    assert!(peers.contains(&&Peer::SelfGroup), "{peers:?}");
    assert!(peers.contains(&&Peer::Cidr("10.8.0.0/24".parse().unwrap())));
    let vpn = sg
        .rules
        .iter()
        .find(|r| r.description.as_deref() == Some("vpn"))
        .unwrap();
    assert_eq!(vpn.ports, Some(PortRange { from: 443, to: 443 }));
    let nat = topo.gateways.iter().find(|g| g.id == "nat-1").unwrap();
    assert_eq!(nat.vpc.as_deref(), Some("vpc-1"));
    assert_eq!(nat.public_ip, Some("198.51.100.7".parse().unwrap()));
    let lb = &topo.load_balancers[0];
    assert_eq!(lb.internal, Some(false));
    assert_eq!(lb.region.as_deref(), Some("eu-west-1"));
    assert_eq!(lb.listeners[0].port, 443);
    assert_eq!(lb.listeners[0].target_group.as_deref(), Some("arn:tg/web"));
    assert_eq!(topo.target_groups[0].targets, ["i-1"]);
    assert_eq!(topo.target_groups[0].port, Some(8080));
}

#[test]
fn errors_name_the_call_and_keep_aws_words() {
    let mut t = canned(vec![(
            "DescribeVpcs",
            None,
            403,
            "<Response><Errors><Error><Code>AuthFailure</Code><Message>AWS was not able to validate the provided access credentials</Message></Error></Errors><RequestID>x</RequestID></Response>".into(),
        )]);
    let e = import_region("eu-west-1", &mut t, Options::default()).unwrap_err();
    assert_eq!(e.status(), Some(403));
    assert_eq!(
            e.to_string(),
            "EC2 DescribeVpcs in eu-west-1: HTTP 403 AuthFailure: AWS was not able to validate the provided access credentials"
        );

    let mut t = canned(vec![("DescribeLoadBalancers", None, 500, "<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>boom</Message></Error></ErrorResponse>".into())]);
    let e = import_region("us-east-1", &mut t, Options::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "ELBv2 DescribeLoadBalancers in us-east-1: HTTP 500 InternalFailure: boom (3 attempts)"
    );
    assert_eq!(
        t.waits,
        [Duration::from_millis(200), Duration::from_millis(400)]
    );
    // 403 above was not retried.

    let mut t = canned(vec![(
        "DescribeSubnets",
        None,
        502,
        "<html>bad gateway".into(),
    )]);
    let e = import_region("us-east-1", &mut t, Options::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "EC2 DescribeSubnets in us-east-1: HTTP 502 (3 attempts)"
    );
    let no_retry = Options {
        retries: 0,
        ..Options::default()
    };
    let e = import_region("us-east-1", &mut t, no_retry).unwrap_err();
    assert_eq!(e.to_string(), "EC2 DescribeSubnets in us-east-1: HTTP 502");

    let mut t = canned(vec![(
        "DescribeVpcs",
        None,
        200,
        "<DescribeVpcsResponse><vpcSet>".into(),
    )]);
    let e = import_region("us-east-1", &mut t, Options::default()).unwrap_err();
    assert!(matches!(e, AwsError::Body { .. }), "{e}");
    assert!(e.to_string().contains("1:"), "{e}");

    let mut t = canned(vec![("DescribeVpcs", None, 200, "<Other/>".into())]);
    let e = import_region("us-east-1", &mut t, Options::default()).unwrap_err();
    assert!(
        e.to_string().contains("expected <DescribeVpcsResponse>"),
        "{e}"
    );

    let looped = ec2("DescribeVpcs", "<vpcSet/><nextToken>same</nextToken>");
    let mut t = canned(vec![
        ("DescribeVpcs", None, 200, looped.clone()),
        ("DescribeVpcs", Some("same"), 200, looped),
    ]);
    let e = import_region("us-east-1", &mut t, Options::default()).unwrap_err();
    assert!(e.to_string().contains("came back twice"), "{e}");

    struct Down;
    impl Transport for Down {
        fn send(&mut self, _: &Request) -> Result<Response, String> {
            Err("timed out".into())
        }
        fn wait(&mut self, _: Duration) {
            panic!("transport failures are not retried");
        }
    }
    let e = import(&["ap-south-1".into()], &mut Down, Options::default()).unwrap_err();
    assert_eq!(e.to_string(), "EC2 DescribeVpcs in ap-south-1: timed out");
}

#[test]
fn bodies_are_percent_encoded() {
    let r = Request {
        service: Service::Elbv2,
        region: "eu-west-1".into(),
        action: "DescribeListeners",
        params: vec![("LoadBalancerArn".into(), "arn:aws:x/a b+c".into())],
    };
    assert_eq!(
        r.body(),
        "Action=DescribeListeners&Version=2015-12-01&LoadBalancerArn=arn%3Aaws%3Ax%2Fa%20b%2Bc"
    );
    assert_eq!(
        Service::Ec2.default_endpoint("cn-north-1"),
        "https://ec2.cn-north-1.amazonaws.com.cn"
    );
    assert_eq!(
        Service::Elbv2.default_endpoint("eu-west-1"),
        "https://elasticloadbalancing.eu-west-1.amazonaws.com"
    );
}

#[test]
fn throttling_is_retried_then_succeeds() {
    struct Flaky {
        inner: Canned,
        throttled: usize,
    }
    impl Transport for Flaky {
        fn send(&mut self, req: &Request) -> Result<Response, String> {
            if req.action == "DescribeVpcs" && self.throttled < 2 {
                self.throttled += 1;
                return Ok(Response {
                        status: 400,
                        body: b"<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors></Response>".to_vec(),
                    });
            }
            self.inner.send(req)
        }
        fn wait(&mut self, d: Duration) {
            self.inner.wait(d);
        }
    }
    let mut t = Flaky {
            inner: canned(vec![(
                "DescribeVpcs",
                None,
                200,
                ec2(
                    "DescribeVpcs",
                    "<vpcSet><item><vpcId>vpc-1</vpcId><cidrBlock>10.0.0.0/16</cidrBlock></item></vpcSet>",
                ),
            )]),
            throttled: 0,
        };
    let r = import_region("eu-west-1", &mut t, Options::default()).unwrap();
    assert_eq!(r.topology.vpcs[0].id, "vpc-1");
    assert_eq!(t.inner.waits.len(), 2);
    // 18 calls of an empty region (10 EC2 and ELBv2, 3 network ACL, transit and VPN
    // gateway, 2 RDS, 2 ElastiCache, 1 EKS), plus the two throttled attempts.
    assert_eq!(r.requests, 20);
}
