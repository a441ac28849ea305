use super::super::tests::{canned, ec2, elb};
use super::super::{import_region, Options};
use super::*;

#[test]
fn clusters_and_replication_groups_are_managed_hosts() {
    let group = |name: &str, subnets: &[&str]| {
        let s: String = subnets
            .iter()
            .map(|s| format!("<Subnet><SubnetIdentifier>{s}</SubnetIdentifier><SubnetAvailabilityZone><Name>eu-west-1a</Name></SubnetAvailabilityZone></Subnet>"))
            .collect();
        format!("<CacheSubnetGroup><CacheSubnetGroupName>{name}</CacheSubnetGroupName><VpcId>vpc-1</VpcId><Subnets>{s}</Subnets></CacheSubnetGroup>")
    };
    let mut t = canned(vec![
        ("DescribeCacheClusters", None, 200, elb("DescribeCacheClusters",
            "<CacheClusters>\
             <CacheCluster><CacheClusterId>sessions</CacheClusterId><Engine>redis</Engine><EngineVersion>7.1</EngineVersion>\
             <CacheClusterStatus>available</CacheClusterStatus><CacheSubnetGroupName>cs</CacheSubnetGroupName>\
             <PreferredAvailabilityZone>eu-west-1a</PreferredAvailabilityZone>\
             <SecurityGroups><member><SecurityGroupId>sg-cache</SecurityGroupId><Status>active</Status></member></SecurityGroups>\
             <CacheNodes><CacheNode><CacheNodeId>0001</CacheNodeId><Endpoint><Address>sessions.abc.0001.euw1.cache.amazonaws.com</Address><Port>6380</Port></Endpoint></CacheNode></CacheNodes>\
             <ARN>arn:aws:elasticache:eu-west-1:1:cluster:sessions</ARN></CacheCluster>\
             <CacheCluster><CacheClusterId>memo</CacheClusterId><Engine>memcached</Engine><CacheSubnetGroupName>cs</CacheSubnetGroupName>\
             <ConfigurationEndpoint><Address>memo.abc.cfg.euw1.cache.amazonaws.com</Address><Port>11211</Port></ConfigurationEndpoint></CacheCluster>\
             <CacheCluster><CacheClusterId>carts-001</CacheClusterId><Engine>redis</Engine><EngineVersion>7.0</EngineVersion><ReplicationGroupId>carts</ReplicationGroupId>\
             <CacheSubnetGroupName>two</CacheSubnetGroupName><SecurityGroups><member><SecurityGroupId>sg-carts</SecurityGroupId></member></SecurityGroups></CacheCluster>\
             <CacheCluster><CacheClusterId>carts-002</CacheClusterId><Engine>redis</Engine><ReplicationGroupId>carts</ReplicationGroupId>\
             <CacheSubnetGroupName>two</CacheSubnetGroupName><PreferredAvailabilityZone>eu-west-1b</PreferredAvailabilityZone></CacheCluster>\
             <CacheCluster><CacheClusterId>orphan</CacheClusterId><Engine>redis</Engine><CacheSubnetGroupName>gone</CacheSubnetGroupName></CacheCluster>\
             </CacheClusters>")),
        ("DescribeReplicationGroups", None, 200, elb("DescribeReplicationGroups",
            "<ReplicationGroups><ReplicationGroup><ReplicationGroupId>carts</ReplicationGroupId><Status>available</Status>\
             <MemberClusters><ClusterId>carts-001</ClusterId><ClusterId>carts-002</ClusterId></MemberClusters>\
             <NodeGroups><NodeGroup><PrimaryEndpoint><Address>master.carts.abc.euw1.cache.amazonaws.com</Address><Port>6379</Port></PrimaryEndpoint></NodeGroup></NodeGroups>\
             <ARN>arn:aws:elasticache:eu-west-1:1:replicationgroup:carts</ARN></ReplicationGroup></ReplicationGroups>")),
        ("DescribeCacheSubnetGroups", None, 200, elb("DescribeCacheSubnetGroups",
            &format!("<CacheSubnetGroups>{}{}</CacheSubnetGroups>", group("cs", &["subnet-a"]), group("two", &["subnet-a", "subnet-b"])))),
    ]);
    let r = import_region("eu-west-1", &mut t, Options::default()).unwrap();
    let first = t
        .sent
        .iter()
        .find(|q| q.action == "DescribeCacheClusters")
        .unwrap();
    assert_eq!(
        first.body(),
        "Action=DescribeCacheClusters&Version=2015-02-02&ShowCacheNodeInfo=true&MaxRecords=100"
    );
    let topo = &r.topology;
    let names: Vec<&str> = topo.hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["sessions", "memo", "orphan", "carts"]);

    let h = topo.find_host("sessions").unwrap();
    assert_eq!(h.id, "arn:aws:elasticache:eu-west-1:1:cluster:sessions");
    let s = h.service.as_ref().unwrap();
    assert_eq!(
        (
            s.kind,
            s.endpoint.as_deref(),
            s.port(),
            s.version.as_deref()
        ),
        (
            ServiceKind::Redis,
            Some("sessions.abc.0001.euw1.cache.amazonaws.com"),
            Some(6380),
            Some("7.1")
        )
    );
    assert_eq!(
        (h.vpc.as_deref(), h.subnet.as_deref()),
        (Some("vpc-1"), Some("subnet-a"))
    );
    assert!(h.subnets.is_empty());
    assert_eq!(h.security_groups, ["sg-cache"]);

    let m = topo
        .find_host("memo.abc.cfg.euw1.cache.amazonaws.com")
        .unwrap();
    assert_eq!(m.service.as_ref().unwrap().kind, ServiceKind::Memcached);

    let g = topo.find_host("carts").unwrap();
    let s = g.service.as_ref().unwrap();
    assert_eq!(
        (
            s.kind,
            s.endpoint.as_deref(),
            s.port(),
            s.version.as_deref()
        ),
        (
            ServiceKind::Redis,
            Some("master.carts.abc.euw1.cache.amazonaws.com"),
            Some(6379),
            Some("7.0")
        )
    );
    assert_eq!(g.subnets, ["subnet-a", "subnet-b"]);
    assert_eq!(
        (g.vpc.as_deref(), g.security_groups.as_slice()),
        (Some("vpc-1"), &["sg-carts".to_string()][..])
    );
    assert_eq!(
        r.warnings,
        ["ElastiCache cluster orphan: cache subnet group gone not found; its subnets are unknown"]
    );
}

#[test]
fn members_stay_hosts_when_their_group_is_not_listed() {
    let mut t = canned(vec![
        ("DescribeCacheClusters", None, 200, elb("DescribeCacheClusters",
            "<CacheClusters><CacheCluster><CacheClusterId>carts-001</CacheClusterId><Engine>redis</Engine>\
             <ReplicationGroupId>carts</ReplicationGroupId></CacheCluster></CacheClusters>")),
        ("DescribeReplicationGroups", None, 403, "<ErrorResponse><Error><Code>AccessDenied</Code><Message>no</Message></Error></ErrorResponse>".into()),
    ]);
    let r = import_region("eu-west-1", &mut t, Options::default()).unwrap();
    assert_eq!(r.topology.hosts.len(), 1);
    assert_eq!(r.topology.hosts[0].name, "carts-001");
    assert!(!t
        .sent
        .iter()
        .any(|q| q.action == "DescribeCacheSubnetGroups"));
    assert_eq!(
        r.warnings,
        ["ElastiCache DescribeReplicationGroups in eu-west-1: HTTP 403 AccessDenied: no; ElastiCache replication groups not imported"]
    );
    let _ = ec2;
}
