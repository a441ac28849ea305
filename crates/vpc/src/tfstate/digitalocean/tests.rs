//! Tests of the DigitalOcean state importer: the corpus database + DOKS state, and small states
//! for replicas, trusted sources and separate node pools.

use std::net::IpAddr;

use crate::model::*;
use crate::tfstate::{import_file, import_str, ImportReport};

fn state(resources: &[String]) -> (Topology, ImportReport) {
    let s = format!(
        r#"{{"version":4,"terraform_version":"1.9.0","serial":1,"resources":[{}]}}"#,
        resources.join(",")
    );
    import_str(&s, "t").unwrap_or_else(|e| panic!("{e}"))
}

fn res(ty: &str, attrs: &str) -> String {
    format!(
        r#"{{"mode":"managed","type":"{ty}","name":"x","instances":[{{"attributes":{attrs}}}]}}"#
    )
}

const VPC: &str = "f0159006-fd20-4e57-8170-3149cfcbe810";
const DB: &str = "f4aba69b-3961-4a79-8169-fcedaa2b2ff9";
const K8S: &str = "3c65cf8e-8a4d-45c5-8473-2de6a3d7b4db";

#[test]
fn corpus_database_and_doks_share_the_vpc() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/tfstate/21-do-database-cluster-doks-shared-vpc.tfstate");
    let (t, r) = import_file(&path).unwrap();
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let db = t.find_host("postgres-cluster").unwrap();
    assert_eq!(db.id, DB);
    assert_eq!(db.vpc.as_deref(), Some(VPC));
    assert_eq!(db.zone.as_deref(), Some("sfo3"));
    assert!(db.private_ips.is_empty(), "the state gives host names only");
    let s = db.service.as_ref().unwrap();
    assert_eq!(s.kind, ServiceKind::Postgres);
    assert_eq!(s.engine.as_deref(), Some("pg"));
    assert_eq!(s.version.as_deref(), Some("11"));
    assert_eq!(s.ports, vec![25060]);
    assert_eq!(
        s.endpoint.as_deref(),
        Some("private-postgres-cluster-do-user-6091830-0.b.db.ondigitalocean.com")
    );
    // Found by the name clients connect to.
    assert_eq!(
        t.find_host("private-postgres-cluster-do-user-6091830-0.b.db.ondigitalocean.com")
            .map(|h| h.id.as_str()),
        Some(DB)
    );

    let k = t.host(K8S).unwrap();
    assert_eq!(k.name, "joinpenguin");
    assert_eq!(k.vpc.as_deref(), Some(VPC));
    assert_eq!(
        k.public_ip,
        Some("143.198.78.234".parse::<IpAddr>().unwrap())
    );
    assert_eq!(k.state.as_deref(), Some("running"));
    let s = k.service.as_ref().unwrap();
    assert_eq!(
        (s.kind, s.ports.clone()),
        (ServiceKind::Kubernetes, vec![443])
    );
    assert_eq!(s.version.as_deref(), Some("1.21.2-do.2"));
    assert_eq!(
        s.endpoint.as_deref(),
        Some("3c65cf8e-8a4d-45c5-8473-2de6a3d7b4db.k8s.ondigitalocean.com")
    );
    assert_eq!(
        k.tags.get("cluster_subnet").map(String::as_str),
        Some("10.244.0.0/16")
    );
    assert_eq!(
        k.tags.get("service_subnet").map(String::as_str),
        Some("10.245.0.0/16")
    );

    let pool = t.find_host("joinpenguin/worker-pool").unwrap();
    assert_eq!(pool.id, "f1de6614-a008-44dc-bacb-0c4966687709");
    assert!(pool.service.is_none());
    assert_eq!(pool.vpc.as_deref(), Some(VPC));
    assert_eq!(
        pool.labels,
        vec!["k8s".to_string(), format!("k8s:{K8S}"), "k8s:worker".into()]
    );
    // The VPC itself is not managed here.
    assert_eq!(t.vpcs.len(), 1);
    assert!(t.vpcs[0].placeholder);
    assert_eq!(t.vpcs[0].id, VPC);
    assert_eq!(r.skipped.get("digitalocean_project"), Some(&1));
}

#[test]
fn replica_inherits_engine_and_trusted_sources_use_the_port() {
    let (t, r) = state(&[
        res(
            "digitalocean_database_firewall",
            &format!(
                r#"{{"id":"{DB}-2023","cluster_id":"{DB}","rule":[
                {{"type":"ip_addr","value":"192.168.1.1","uuid":"a"}},
                {{"type":"droplet","value":"3164444","uuid":"b"}},
                {{"type":"tag","value":"web","uuid":"c"}},
                {{"type":"k8s","value":"{K8S}","uuid":"d"}},
                {{"type":"app","value":"app-1","uuid":"e"}},
                {{"type":"bogus","value":"x","uuid":"f"}}]}}"#
            ),
        ),
        res(
            "digitalocean_database_replica",
            &format!(
                r#"{{"id":"{DB}/replicas/read-1","uuid":"9cc10173-e9ea-4176-9dbc-a4cee4c4ff30","cluster_id":"{DB}","name":"read-1",
                "host":"read-1.db.ondigitalocean.com","private_host":"private-read-1.db.ondigitalocean.com","port":25060,"private_network_uuid":""}}"#
            ),
        ),
        res(
            "digitalocean_database_cluster",
            &format!(
                r#"{{"id":"{DB}","name":"orders-db","engine":"mysql","version":"8","port":25060,
                "private_host":"private-orders.db.ondigitalocean.com","private_network_uuid":"{VPC}","region":"nyc3","status":"online","tags":["prod"]}}"#
            ),
        ),
    ]);
    assert_eq!(r.warnings.len(), 1, "{:?}", r.warnings);
    assert!(r.warnings[0].contains("bogus"));
    let db = t.find_host("orders-db").unwrap();
    assert_eq!(db.labels, vec!["prod".to_string()]);
    assert_eq!(db.state.as_deref(), Some("online"));
    let rep = t.find_host("read-1").unwrap();
    assert_eq!(rep.id, "9cc10173-e9ea-4176-9dbc-a4cee4c4ff30");
    let s = rep.service.as_ref().unwrap();
    assert_eq!((s.kind, s.port()), (ServiceKind::Mysql, Some(25060)));
    assert_eq!(s.version.as_deref(), Some("8"));
    assert_eq!(
        s.endpoint.as_deref(),
        Some("private-read-1.db.ondigitalocean.com")
    );
    assert_eq!(rep.vpc.as_deref(), Some(VPC), "the cluster's VPC");
    assert_eq!(rep.zone.as_deref(), Some("nyc3"));

    let f = &t.firewalls[0];
    assert_eq!(f.kind, FirewallKind::Digitalocean);
    assert_eq!(f.name, "orders-db trusted sources");
    assert_eq!(f.vpc.as_deref(), Some(VPC));
    assert_eq!(
        f.applies_to,
        AppliesTo::Hosts {
            ids: vec![DB.to_string()],
            labels: vec![]
        }
    );
    let peers: Vec<Peer> = f.rules.iter().flat_map(|r| r.peers.clone()).collect();
    assert_eq!(
        peers,
        vec![
            Peer::Cidr("192.168.1.1/32".parse().unwrap()),
            Peer::Host("3164444".into()),
            Peer::Label("web".into()),
            Peer::Label(format!("k8s:{K8S}")),
            Peer::ServiceTag("app:app-1".into()),
        ]
    );
    for rule in &f.rules {
        assert_eq!(rule.direction, Direction::Ingress);
        assert_eq!(rule.protocol, Protocol::Tcp);
        assert_eq!(
            rule.ports,
            Some(PortRange {
                from: 25060,
                to: 25060
            })
        );
        assert!(rule.covers(&Protocol::Tcp, Some(25060)));
        assert!(!rule.covers(&Protocol::Tcp, Some(22)));
    }
}

#[test]
fn trusted_sources_of_a_cluster_not_in_the_state_warn() {
    let (t, r) = state(&[res(
        "digitalocean_database_firewall",
        r#"{"id":"fw","cluster_id":"nope","rule":[{"type":"ip_addr","value":"not a cidr"}]}"#,
    )]);
    assert_eq!(t.firewalls[0].rules.len(), 0);
    assert_eq!(r.warnings.len(), 2, "{:?}", r.warnings);
    assert!(r.warnings[0].contains("not a CIDR"));
    assert!(r.warnings[1].contains("not in the state"));
}

#[test]
fn separate_node_pool_joins_its_cluster() {
    let (t, r) = state(&[
        res(
            "digitalocean_kubernetes_node_pool",
            r#"{"id":"pool-2","cluster_id":"k1","name":"big","tags":["batch","k8s"],"node_count":2}"#,
        ),
        res(
            "digitalocean_kubernetes_cluster",
            r#"{"id":"k1","name":"prod","region":"ams3","vpc_uuid":"v1","endpoint":"https://k1.k8s.ondigitalocean.com",
                "ipv4_address":"","tags":["team-a","k8s:k1"],"node_pool":[{"id":"pool-1","name":"default","tags":null}]}"#,
        ),
    ]);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let big = t.host("pool-2").unwrap();
    assert_eq!(big.name, "prod/big");
    assert_eq!(big.vpc.as_deref(), Some("v1"));
    assert_eq!(big.zone.as_deref(), Some("ams3"));
    assert_eq!(
        big.labels,
        vec![
            "batch".to_string(),
            "k8s".into(),
            "k8s:k1".into(),
            "k8s:worker".into()
        ]
    );
    let k = t.host("k1").unwrap();
    assert_eq!(
        k.labels,
        vec!["team-a".to_string()],
        "automatic tags dropped"
    );
    assert_eq!(k.public_ip, None);
    assert_eq!(t.host("pool-1").unwrap().name, "prod/default");
    assert_eq!(t.counts().services, 1);
}
