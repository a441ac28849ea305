use super::super::tests::{canned, ec2, elb};
use super::super::{import_region, Options};
use super::*;

fn subnets() -> String {
    ec2(
        "DescribeSubnets",
        "<subnetSet><item><subnetId>subnet-a</subnetId><vpcId>vpc-1</vpcId><cidrBlock>10.0.1.0/24</cidrBlock></item>\
         <item><subnetId>subnet-b</subnetId><vpcId>vpc-1</vpcId><cidrBlock>10.0.2.0/24</cidrBlock></item></subnetSet>",
    )
}

const GROUP: &str = "<DBSubnetGroupName>dbs</DBSubnetGroupName><VpcId>vpc-1</VpcId><Subnets>\
    <Subnet><SubnetIdentifier>subnet-a</SubnetIdentifier><SubnetAvailabilityZone><Name>eu-west-1a</Name></SubnetAvailabilityZone></Subnet>\
    <Subnet><SubnetIdentifier>subnet-b</SubnetIdentifier><SubnetAvailabilityZone><Name>eu-west-1b</Name></SubnetAvailabilityZone></Subnet></Subnets>";

#[test]
fn instances_and_clusters_are_managed_hosts() {
    let mut t = canned(vec![
        ("DescribeSubnets", None, 200, subnets()),
        ("DescribeDBInstances", None, 200, elb("DescribeDBInstances", &format!(
            "<DBInstances><DBInstance><DBInstanceIdentifier>orders-db</DBInstanceIdentifier><Engine>postgres</Engine>\
             <EngineVersion>15.4</EngineVersion><DBInstanceStatus>available</DBInstanceStatus>\
             <Endpoint><Address>orders-db.abc.eu-west-1.rds.amazonaws.com</Address><Port>5433</Port></Endpoint>\
             <AvailabilityZone>eu-west-1b</AvailabilityZone>\
             <VpcSecurityGroups><VpcSecurityGroupMembership><VpcSecurityGroupId>sg-db</VpcSecurityGroupId><Status>active</Status></VpcSecurityGroupMembership></VpcSecurityGroups>\
             <DBSubnetGroup>{GROUP}</DBSubnetGroup>\
             <DBInstanceArn>arn:aws:rds:eu-west-1:1:db:orders-db</DBInstanceArn>\
             <TagList><Tag><Key>team</Key><Value>orders</Value></Tag></TagList></DBInstance>\
             <DBInstance><DBInstanceIdentifier>creating</DBInstanceIdentifier><Engine>mysql</Engine><DBInstanceStatus>creating</DBInstanceStatus></DBInstance>\
             </DBInstances><Marker>m2</Marker>"))),
        ("DescribeDBInstances", Some("m2"), 200, elb("DescribeDBInstances",
            "<DBInstances><DBInstance><Engine>postgres</Engine></DBInstance></DBInstances>")),
        ("DescribeDBClusters", None, 200, elb("DescribeDBClusters",
            "<DBClusters><DBCluster><DBClusterIdentifier>aur</DBClusterIdentifier><DBSubnetGroup>dbs</DBSubnetGroup>\
             <Status>available</Status><Endpoint>aur.cluster-x.eu-west-1.rds.amazonaws.com</Endpoint>\
             <ReaderEndpoint>aur.cluster-ro-x.eu-west-1.rds.amazonaws.com</ReaderEndpoint><Engine>aurora-postgresql</Engine>\
             <EngineVersion>16.1</EngineVersion><Port>5432</Port>\
             <VpcSecurityGroups><VpcSecurityGroupMembership><VpcSecurityGroupId>sg-aur</VpcSecurityGroupId></VpcSecurityGroupMembership></VpcSecurityGroups>\
             <DBClusterArn>arn:aws:rds:eu-west-1:1:cluster:aur</DBClusterArn></DBCluster>\
             <DBCluster><DBClusterIdentifier>lost</DBClusterIdentifier><DBSubnetGroup>nope</DBSubnetGroup><Engine>docdb</Engine></DBCluster>\
             </DBClusters>")),
        ("DescribeDBSubnetGroups", None, 200, elb("DescribeDBSubnetGroups",
            &format!("<DBSubnetGroups><DBSubnetGroup>{GROUP}</DBSubnetGroup></DBSubnetGroups>"))),
    ]);
    let opts = Options {
        page_size: 5,
        ..Options::default()
    };
    let r = import_region("eu-west-1", &mut t, opts).unwrap();
    let first = t
        .sent
        .iter()
        .find(|q| q.action == "DescribeDBInstances")
        .unwrap();
    assert_eq!(
        first.body(),
        "Action=DescribeDBInstances&Version=2014-10-31&MaxRecords=20"
    );
    let topo = &r.topology;
    assert_eq!(topo.counts().services, 4);

    let h = topo.find_host("orders-db").unwrap();
    assert_eq!(h.id, "arn:aws:rds:eu-west-1:1:db:orders-db");
    let s = h.service.as_ref().unwrap();
    assert_eq!(s.kind, ServiceKind::Postgres);
    assert_eq!(
        (
            s.engine.as_deref(),
            s.version.as_deref(),
            s.endpoint.as_deref(),
            s.port()
        ),
        (
            Some("postgres"),
            Some("15.4"),
            Some("orders-db.abc.eu-west-1.rds.amazonaws.com"),
            Some(5433)
        )
    );
    // The subnet of its zone first.
    assert_eq!(h.subnet.as_deref(), Some("subnet-b"));
    assert_eq!(h.subnets, ["subnet-b", "subnet-a"]);
    assert_eq!(
        (h.vpc.as_deref(), h.zone.as_deref()),
        (Some("vpc-1"), Some("eu-west-1b"))
    );
    assert_eq!(h.security_groups, ["sg-db"]);
    assert_eq!(h.state.as_deref(), Some("available"));
    assert_eq!(h.tags.get("team").map(String::as_str), Some("orders"));
    assert!(h.private_ips.is_empty());
    assert_eq!(
        topo.find_host("orders-db.abc.eu-west-1.rds.amazonaws.com")
            .unwrap()
            .id,
        h.id
    );

    // Still being created: no endpoint yet, the engine's default port.
    let c = topo.find_host("creating").unwrap();
    let s = c.service.as_ref().unwrap();
    assert_eq!(
        (s.kind, s.endpoint.as_deref(), s.port()),
        (ServiceKind::Mysql, None, Some(3306))
    );
    assert_eq!(c.subnet, None);

    let a = topo.find_host("aur").unwrap();
    let s = a.service.as_ref().unwrap();
    assert_eq!(
        (s.endpoint.as_deref(), s.port(), s.version.as_deref()),
        (
            Some("aur.cluster-x.eu-west-1.rds.amazonaws.com"),
            Some(5432),
            Some("16.1")
        )
    );
    assert_eq!(a.subnets, ["subnet-a", "subnet-b"]);
    assert_eq!(
        (a.vpc.as_deref(), a.security_groups.as_slice()),
        (Some("vpc-1"), &["sg-aur".to_string()][..])
    );
    let lost = topo.find_host("lost").unwrap();
    assert_eq!(lost.service.as_ref().unwrap().kind, ServiceKind::Mongodb);
    assert_eq!(
        r.warnings,
        [
            "an RDS DB instance without an identifier was skipped",
            "RDS DB cluster lost: DB subnet group nope not found; its subnets are unknown",
        ]
    );
}

#[test]
fn a_refused_rds_is_a_warning_a_failing_one_an_error() {
    let denied = "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: arn:aws:iam::1:user/r is not authorized to perform: rds:DescribeDBInstances</Message></Error></ErrorResponse>";
    let mut t = canned(vec![
        ("DescribeVpcs", None, 200, ec2("DescribeVpcs",
            "<vpcSet><item><vpcId>vpc-1</vpcId><cidrBlock>10.0.0.0/16</cidrBlock></item></vpcSet>")),
        ("DescribeDBInstances", None, 403, denied.into()),
        ("DescribeDBClusters", None, 403, denied.replace("DBInstances", "DBClusters")),
    ]);
    let r = import_region("eu-west-1", &mut t, Options::default()).unwrap();
    assert_eq!(r.topology.vpcs.len(), 1, "the rest imports");
    assert_eq!(
        r.warnings,
        [
            "RDS DescribeDBInstances in eu-west-1: HTTP 403 AccessDenied: User: arn:aws:iam::1:user/r is not authorized to perform: rds:DescribeDBInstances; RDS DB instances not imported",
            "RDS DescribeDBClusters in eu-west-1: HTTP 403 AccessDenied: User: arn:aws:iam::1:user/r is not authorized to perform: rds:DescribeDBClusters; RDS DB clusters not imported",
        ]
    );

    let mut t = canned(vec![("DescribeDBInstances", None, 501, "<ErrorResponse><Error><Code>NotImplemented</Code><Message>no</Message></Error></ErrorResponse>".into())]);
    let r = import_region("eu-west-1", &mut t, Options::default()).unwrap();
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    assert!(
        r.warnings[0].starts_with("RDS DescribeDBInstances in eu-west-1: HTTP 501 NotImplemented")
    );

    let mut t = canned(vec![("DescribeDBInstances", None, 500, "<ErrorResponse><Error><Code>InternalFailure</Code><Message>boom</Message></Error></ErrorResponse>".into())]);
    let e = import_region("eu-west-1", &mut t, Options::default()).unwrap_err();
    assert_eq!(
        e.to_string(),
        "RDS DescribeDBInstances in eu-west-1: HTTP 500 InternalFailure: boom (3 attempts)"
    );
}
