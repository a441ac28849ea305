//! Managed services: the corpus files that have them, small states for the rest.

use std::path::PathBuf;

use crate::model::*;
use crate::tfstate::{import_file, import_str, ImportReport};

fn corpus(file: &str) -> (Topology, ImportReport) {
    let p = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/tfstate"
    ))
    .join(file);
    import_file(&p).unwrap_or_else(|e| panic!("{e}"))
}

/// A state of `(type, attributes)` resources, one instance each.
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

fn svc(h: &Host) -> &ManagedService {
    h.service.as_ref().expect("a managed service")
}

fn ids(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn rds_mysql_in_its_subnet_group() {
    let (t, r) = corpus("13-aws-rds-mysql-beanstalk-modules-vpc.tfstate");
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let h = t
        .find_host("terraform-20240529090431551800000009")
        .expect("the DB by identifier");
    assert_eq!(
        h.id,
        "arn:aws:rds:eu-west-1:884878220922:db:terraform-20240529090431551800000009"
    );
    let s = svc(h);
    assert_eq!(s.kind, ServiceKind::Mysql);
    assert_eq!(s.engine.as_deref(), Some("mysql"));
    assert_eq!(s.version.as_deref(), Some("5.7.44"));
    assert_eq!(s.ports, vec![3306]);
    let endpoint = "terraform-20240529090431551800000009.cl8gc6cyoexy.eu-west-1.rds.amazonaws.com";
    assert_eq!(s.endpoint.as_deref(), Some(endpoint));
    assert_eq!(t.find_host(endpoint).map(|h| &h.id), Some(&h.id));
    assert_eq!(h.security_groups, ids(&["sg-04b55c125ed6ac35f"]));
    assert_eq!(h.state.as_deref(), Some("available"));
    assert_eq!(h.zone.as_deref(), Some("eu-west-1c"));
    // Both subnets of the group, the one in the instance's zone first.
    let mut sorted = h.subnets.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        ids(&["subnet-040eff0f2eb3ad3b0", "subnet-0c48197dcbd6aeebe"])
    );
    let first = t.subnet(h.subnet.as_deref().unwrap()).unwrap();
    assert_eq!(h.subnets[0], first.id);
    assert_eq!(first.zone.as_deref(), Some("eu-west-1c"));
    assert_eq!(h.vpc.as_deref(), Some("vpc-0533d729fb264d44d"));
}

#[test]
fn rds_primary_and_cross_region_replica() {
    let (t, _) = corpus("02-aws-three-tier-alb-asg-rds.tfstate");
    let p = t.find_host("myapp-db").unwrap();
    assert_eq!(p.subnet.as_deref(), Some("subnet-0bf463e85c0eddffc"));
    assert_eq!(
        p.subnets,
        ids(&["subnet-0bf463e85c0eddffc", "subnet-08ff3d54b4a2a0de3"])
    );
    assert_eq!(p.vpc.as_deref(), Some("vpc-08cb7223348c62951"));
    assert_eq!(svc(p).version.as_deref(), Some("8.0.42"));
    let r = t.find_host("myapp-db-replica").unwrap();
    assert_eq!(r.vpc.as_deref(), Some("vpc-0b1d642b8418e17f6"));
    assert_eq!(r.security_groups, ids(&["sg-03e9d8c9ff43ff192"]));
    assert_eq!(
        svc(r).endpoint.as_deref(),
        Some("myapp-db-replica.cbq2okei2ek3.us-west-1.rds.amazonaws.com")
    );
}

#[test]
fn rds_with_its_subnet_group_elsewhere_takes_its_security_groups_vpc() {
    let (t, _) = corpus("05-aws-kong-zero-instance-resources.tfstate");
    let h = t.find_host("kong-dev").unwrap();
    assert_eq!(svc(h).kind, ServiceKind::Postgres);
    assert_eq!(svc(h).ports, vec![5432]);
    assert_eq!(h.subnet, None);
    assert_eq!(h.vpc.as_deref(), Some("vpc-043b6bf17a321d9cc"));
}

#[test]
fn elasticache_group_and_member() {
    let (t, r) = corpus("14-aws-elasticache-redis-generated-empty-lineage.tfstate");
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let g = t.find_host("redis").unwrap();
    assert_eq!(
        g.id,
        "arn:aws:elasticache:eu-west-2:766176144542:replicationgroup:redis"
    );
    assert_eq!(
        svc(g).endpoint.as_deref(),
        Some("redis.0zqwrw.ng.0001.euw2.cache.amazonaws.com")
    );
    assert_eq!(svc(g).kind, ServiceKind::Redis);
    assert_eq!(svc(g).ports, vec![6379]);
    assert_eq!(g.security_groups, ids(&["sg-0eb93ca9d68a52789"]));
    // The subnets are not in the state: listed, but no placement.
    assert_eq!(g.subnet, None);
    assert_eq!(
        g.subnets,
        ids(&["subnet-0f597fdaea877e775", "subnet-0fc2fa7eea70faa76"])
    );
    let m = t
        .find_host("redis-001.0zqwrw.0001.euw2.cache.amazonaws.com")
        .unwrap();
    assert_eq!(m.name, "redis-001");
    assert_eq!(m.zone.as_deref(), Some("eu-west-2a"));
    assert_eq!(svc(m).version.as_deref(), Some("7.0.7"));
}

#[test]
fn eks_cluster_and_node_group() {
    let (t, r) = corpus("16-aws-eks-vpc-nodegroup.tfstate");
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let c = t.find_host("micro_service_eks").unwrap();
    let s = svc(c);
    assert_eq!(s.kind, ServiceKind::Kubernetes);
    assert_eq!(s.ports, vec![443]);
    assert_eq!(s.version.as_deref(), Some("1.22"));
    assert_eq!(
        s.endpoint.as_deref(),
        Some("C7B8790991A98CFA8968C3969C6BFFD1.gr7.ap-south-1.eks.amazonaws.com")
    );
    assert_eq!(
        c.security_groups,
        ids(&["sg-06b57cf9c4c329bb7", "sg-0a410416e9fa09357"])
    );
    assert_eq!(c.vpc.as_deref(), Some("vpc-0c26002a67561bd40"));
    assert_eq!(c.state.as_deref(), Some("ACTIVE"));
    assert_eq!(
        c.subnets,
        ids(&["subnet-001eaddfd644ef2a5", "subnet-02fb64d63f3fd5751"])
    );
    let n = t.find_host("micro_service_eks/demo").unwrap();
    assert!(n.service.is_none());
    assert_eq!(n.security_groups, ids(&["sg-06b57cf9c4c329bb7"]));
    assert_eq!(n.subnet.as_deref(), Some("subnet-001eaddfd644ef2a5"));
    assert_eq!(n.subnets.len(), 2);
    assert_eq!(n.vpc.as_deref(), Some("vpc-0c26002a67561bd40"));
}

const SUBNETS: [(&str, &str); 2] = [
    (
        "aws_subnet",
        r#"{"id":"subnet-a","vpc_id":"vpc-1","cidr_block":"10.0.1.0/24","availability_zone":"eu-west-1a"}"#,
    ),
    (
        "aws_subnet",
        r#"{"id":"subnet-b","vpc_id":"vpc-1","cidr_block":"10.0.2.0/24","availability_zone":"eu-west-1b"}"#,
    ),
];

#[test]
fn aurora_instances_inherit_from_their_cluster_in_any_order() {
    let instance = (
        "aws_rds_cluster_instance",
        r#"{"id":"orders-1","arn":"arn:aws:rds:eu-west-1:1:db:orders-1","identifier":"orders-1","cluster_identifier":"orders","endpoint":"orders-1.x.eu-west-1.rds.amazonaws.com","port":5432,"engine":"aurora-postgresql","db_subnet_group_name":"db","availability_zone":"eu-west-1b"}"#,
    );
    let cluster = (
        "aws_rds_cluster",
        r#"{"id":"orders","arn":"arn:aws:rds:eu-west-1:1:cluster:orders","cluster_identifier":"orders","endpoint":"orders.cluster-x.eu-west-1.rds.amazonaws.com","reader_endpoint":"orders.cluster-ro-x.eu-west-1.rds.amazonaws.com","port":5432,"engine":"aurora-postgresql","engine_version":"15.4","db_subnet_group_name":"db","vpc_security_group_ids":["sg-db"]}"#,
    );
    let group = (
        "aws_db_subnet_group",
        r#"{"id":"db","name":"db","subnet_ids":["subnet-a","subnet-b"]}"#,
    );
    for order in [
        vec![instance, cluster, group, SUBNETS[0], SUBNETS[1]],
        vec![SUBNETS[0], group, SUBNETS[1], cluster, instance],
    ] {
        let (t, r) = state(&order);
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        let c = t.find_host("orders").unwrap();
        assert_eq!(svc(c).kind, ServiceKind::Postgres);
        assert_eq!(svc(c).version.as_deref(), Some("15.4"));
        assert_eq!(
            svc(c).endpoint.as_deref(),
            Some("orders.cluster-x.eu-west-1.rds.amazonaws.com")
        );
        assert_eq!(c.subnet.as_deref(), Some("subnet-a"));
        assert_eq!(c.subnets, ids(&["subnet-a", "subnet-b"]));
        let i = t.find_host("orders-1").unwrap();
        assert_eq!(i.security_groups, ids(&["sg-db"]));
        // Placed in its own zone.
        assert_eq!(i.subnet.as_deref(), Some("subnet-b"));
        assert_eq!(i.subnets, ids(&["subnet-b", "subnet-a"]));
        assert_eq!(i.vpc.as_deref(), Some("vpc-1"));
    }
}

#[test]
fn documentdb_defaults() {
    let (t, r) = state(&[
        (
            "aws_docdb_cluster",
            r#"{"id":"docs","arn":"arn:aws:rds:eu-west-1:1:cluster:docs","cluster_identifier":"docs","endpoint":"docs.cluster-x.docdb.amazonaws.com","vpc_security_group_ids":["sg-doc"],"db_subnet_group_name":"dg"}"#,
        ),
        (
            "aws_docdb_cluster_instance",
            r#"{"id":"docs-1","identifier":"docs-1","cluster_identifier":"docs","endpoint":"docs-1.x.docdb.amazonaws.com"}"#,
        ),
        (
            "aws_docdb_subnet_group",
            r#"{"name":"dg","subnet_ids":["subnet-a"]}"#,
        ),
        SUBNETS[0],
    ]);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let c = t.find_host("docs").unwrap();
    assert_eq!(svc(c).kind, ServiceKind::Mongodb);
    assert_eq!(svc(c).ports, vec![27017]);
    // A single subnet says it all.
    assert_eq!(c.subnet.as_deref(), Some("subnet-a"));
    assert!(c.subnets.is_empty());
    let i = t.find_host("docs-1").unwrap();
    assert_eq!(i.id, "docs-1");
    assert_eq!(svc(i).kind, ServiceKind::Mongodb);
    assert_eq!(i.security_groups, ids(&["sg-doc"]));
    assert_eq!(i.subnet.as_deref(), Some("subnet-a"));
}

#[test]
fn memcached_cluster() {
    let (t, _) = state(&[
        (
            "aws_elasticache_cluster",
            r#"{"id":"sessions","cluster_id":"sessions","engine":"memcached","cluster_address":"sessions.x.cfg.euw1.cache.amazonaws.com","port":null,"cache_nodes":[{"address":"sessions.x.0001.euw1.cache.amazonaws.com","port":11211,"availability_zone":"eu-west-1b"}],"subnet_group_name":"cache","security_group_ids":["sg-c"]}"#,
        ),
        (
            "aws_elasticache_subnet_group",
            r#"{"name":"cache","subnet_ids":["subnet-a","subnet-b"]}"#,
        ),
        // A DB subnet group of the same name is another namespace.
        (
            "aws_db_subnet_group",
            r#"{"name":"cache","subnet_ids":["subnet-x"]}"#,
        ),
        SUBNETS[0],
        SUBNETS[1],
    ]);
    let h = t.find_host("sessions").unwrap();
    assert_eq!(svc(h).kind, ServiceKind::Memcached);
    assert_eq!(svc(h).ports, vec![11211]);
    assert_eq!(
        svc(h).endpoint.as_deref(),
        Some("sessions.x.cfg.euw1.cache.amazonaws.com")
    );
    assert_eq!(h.zone.as_deref(), Some("eu-west-1b"));
    assert_eq!(h.subnet.as_deref(), Some("subnet-b"));
}

#[test]
fn opensearch_mq_and_msk() {
    let (t, r) = state(&[
        (
            "aws_opensearch_domain",
            r#"{"id":"arn:aws:es:eu-west-1:1:domain/logs","arn":"arn:aws:es:eu-west-1:1:domain/logs","domain_name":"logs","engine_version":"OpenSearch_2.11","endpoint":"vpc-logs-x.eu-west-1.es.amazonaws.com","vpc_options":[{"vpc_id":"vpc-1","subnet_ids":["subnet-a"],"security_group_ids":["sg-os"]}]}"#,
        ),
        (
            "aws_elasticsearch_domain",
            r#"{"id":"old","domain_name":"old","elasticsearch_version":"7.10","vpc_options":[]}"#,
        ),
        (
            "aws_mq_broker",
            r#"{"id":"b-1","arn":"arn:aws:mq:eu-west-1:1:broker:jobs:b-1","broker_name":"jobs","engine_type":"RabbitMQ","engine_version":"3.11","subnet_ids":["subnet-b"],"security_groups":["sg-mq"],"instances":[{"ip_address":"","endpoints":["amqps://b-1.mq.eu-west-1.amazonaws.com:5671"],"console_url":"https://b-1.mq.eu-west-1.amazonaws.com"}]}"#,
        ),
        (
            "aws_msk_cluster",
            r#"{"id":"arn:aws:kafka:eu-west-1:1:cluster/events/x","arn":"arn:aws:kafka:eu-west-1:1:cluster/events/x","cluster_name":"events","kafka_version":"3.5.1","bootstrap_brokers":"","bootstrap_brokers_tls":"b-1.events.x.kafka.eu-west-1.amazonaws.com:9094,b-2.events.x.kafka.eu-west-1.amazonaws.com:9094","bootstrap_brokers_sasl_iam":"b-1.events.x.kafka.eu-west-1.amazonaws.com:9098","broker_node_group_info":[{"client_subnets":["subnet-a","subnet-b"],"security_groups":["sg-k"]}],"state":"ACTIVE"}"#,
        ),
        SUBNETS[0],
        SUBNETS[1],
    ]);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let os = t.find_host("logs").unwrap();
    assert_eq!(svc(os).kind, ServiceKind::Opensearch);
    assert_eq!(svc(os).engine.as_deref(), Some("opensearch"));
    assert_eq!(svc(os).version.as_deref(), Some("2.11"));
    assert_eq!(os.subnet.as_deref(), Some("subnet-a"));
    assert_eq!(os.security_groups, ids(&["sg-os"]));
    let es = t.find_host("old").unwrap();
    assert_eq!(svc(es).engine.as_deref(), Some("elasticsearch"));
    assert_eq!(es.vpc, None);
    let mq = t.find_host("jobs").unwrap();
    assert_eq!(svc(mq).kind, ServiceKind::Mq);
    assert_eq!(svc(mq).ports, vec![5671]);
    assert_eq!(
        svc(mq).endpoint.as_deref(),
        Some("b-1.mq.eu-west-1.amazonaws.com")
    );
    assert_eq!(mq.subnet.as_deref(), Some("subnet-b"));
    let k = t.find_host("events").unwrap();
    assert_eq!(svc(k).kind, ServiceKind::Kafka);
    assert_eq!(svc(k).ports, vec![9094, 9098]);
    assert_eq!(
        svc(k).endpoint.as_deref(),
        Some("b-1.events.x.kafka.eu-west-1.amazonaws.com")
    );
    assert_eq!(k.subnets, ids(&["subnet-a", "subnet-b"]));
    assert_eq!(k.state.as_deref(), Some("ACTIVE"));
}

#[test]
fn broken_values_warn() {
    let (t, r) = state(&[
        (
            "aws_db_instance",
            r#"{"id":"db","identifier":"db","engine":42,"port":99999,"endpoint":"db.x:notaport","vpc_security_group_ids":"sg-1"}"#,
        ),
        ("aws_db_instance", r#"{"engine":"mysql"}"#),
        ("aws_eks_cluster", r#"{"name":"k","vpc_config":null}"#),
        (
            "aws_mq_broker",
            r#"{"id":"b","instances":[{"ip_address":"not-an-ip","endpoints":["ssl://b:x"]}]}"#,
        ),
        (
            "aws_eks_node_group",
            r#"{"id":"nocluster","subnet_ids":null}"#,
        ),
    ]);
    let db = t.find_host("db").unwrap();
    assert_eq!(svc(db).kind, ServiceKind::Other);
    assert!(svc(db).ports.is_empty());
    assert_eq!(svc(db).endpoint.as_deref(), Some("db.x:notaport"));
    assert_eq!(db.security_groups, ids(&["sg-1"]));
    assert!(t.find_host("k").is_none());
    assert!(t.find_host("b").unwrap().private_ips.is_empty());
    assert_eq!(t.find_host("nocluster").unwrap().name, "nocluster");
    assert_eq!(r.warnings.len(), 4, "{:?}", r.warnings);
    assert!(r.warnings[0].contains("99999"), "{:?}", r.warnings);
    assert!(r
        .warnings
        .iter()
        .any(|w| w.contains("aws_db_instance without an id")));
    assert!(r
        .warnings
        .iter()
        .any(|w| w.contains("aws_eks_cluster without an id")));
    assert!(r.warnings.iter().any(|w| w.contains("not-an-ip")));
}
