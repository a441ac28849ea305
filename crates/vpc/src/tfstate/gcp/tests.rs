//! Tests of the GCP importer: the corpus Cloud SQL and GKE states, and small states for the
//! other types.

use std::net::IpAddr;

use crate::model::*;
use crate::tfstate::{import_file, import_str, ImportReport};

fn corpus(name: &str) -> (Topology, ImportReport) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/corpus/tfstate")
        .join(name);
    import_file(&path).unwrap_or_else(|e| panic!("{e}"))
}

fn state(resources: &str) -> (Topology, ImportReport) {
    let s = format!(
        r#"{{"version":4,"terraform_version":"1.9.0","serial":1,"resources":[{resources}]}}"#
    );
    import_str(&s, "t").unwrap_or_else(|e| panic!("{e}"))
}

fn res(ty: &str, attrs: &str) -> String {
    format!(
        r#"{{"mode":"managed","type":"{ty}","name":"x","instances":[{{"attributes":{attrs}}}]}}"#
    )
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

const NET: &str = "projects/absolute-range-408808/global/networks/cloudsql-vpc";

#[test]
fn cloud_sql_through_private_services_access() {
    let (t, r) = corpus("20-gcp-cloudsql-private-ip-service-networking.tfstate");
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let h = t.find_host("nodesqldatabase").expect("the Cloud SQL host");
    assert_eq!(
        h.id,
        "projects/absolute-range-408808/instances/nodesqldatabase"
    );
    assert_eq!(h.private_ips, vec![ip("10.155.0.3")]);
    assert_eq!(h.public_ip, Some(ip("34.100.191.1")));
    assert_eq!(h.zone.as_deref(), Some("asia-south1"));
    assert_eq!(
        h.tags.get("connection_name").map(String::as_str),
        Some("absolute-range-408808:asia-south1:nodesqldatabase")
    );
    let s = h.service.as_ref().unwrap();
    assert_eq!(s.kind, ServiceKind::Mysql);
    assert_eq!(s.engine.as_deref(), Some("MYSQL_8_0"));
    assert_eq!(s.version.as_deref(), Some("8.0"));
    assert_eq!(s.ports, vec![3306]);
    // In the producer network, whose range is the reserved global address, peered with the VPC.
    let producer = format!("servicenetworking:{NET}");
    assert_eq!(h.vpc.as_deref(), Some(producer.as_str()));
    let v = t.vpc(&producer).unwrap();
    assert!(v.placeholder);
    assert_eq!(
        v.cidrs,
        vec!["10.155.0.0/16".parse::<ipnet::IpNet>().unwrap()]
    );
    assert!(v.cidrs[0].contains(&h.private_ips[0]));
    assert_eq!(t.peerings.len(), 1);
    let p = &t.peerings[0];
    assert_eq!(p.vpc, NET);
    assert_eq!(p.peer_vpc, producer);
    assert_eq!(p.name, "servicenetworking-googleapis-com");
    assert!(t.vpc(NET).is_some_and(|v| !v.placeholder));
    let c = t.counts();
    assert_eq!((c.vpcs, c.hosts, c.services, c.peerings), (2, 1, 1, 1));
}

#[test]
fn sql_instance_without_the_connection_implies_the_peering() {
    let (t, r) = state(&res(
        "google_sql_database_instance",
        r#"{"id":"pg","name":"pg","project":"p","region":"europe-west1","database_version":"POSTGRES_15",
            "ip_address":[{"ip_address":"10.20.0.5","type":"PRIVATE"}],
            "settings":[{"ip_configuration":[{"private_network":"https://www.googleapis.com/compute/v1/projects/p/global/networks/main","ipv4_enabled":false}]}]}"#,
    ));
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let h = &t.hosts[0];
    assert_eq!(h.id, "pg");
    assert_eq!(h.service.as_ref().unwrap().kind, ServiceKind::Postgres);
    assert_eq!(h.service.as_ref().unwrap().ports, vec![5432]);
    assert_eq!(h.service.as_ref().unwrap().version.as_deref(), Some("15"));
    assert_eq!(
        h.vpc.as_deref(),
        Some("servicenetworking:projects/p/global/networks/main")
    );
    assert_eq!(t.peerings.len(), 1);
    assert_eq!(t.peerings[0].vpc, "projects/p/global/networks/main");
    // The customer network is referenced by the peering only: no placeholder is invented for it,
    // the producer is one.
    assert!(t.vpcs.iter().all(|v| v.placeholder));
}

#[test]
fn a_range_not_reserved_by_the_connection_is_not_the_producers() {
    let (t, _) = state(&[
        res(
            "google_compute_global_address",
            r#"{"name":"other","address":"10.60.0.0","prefix_length":20,"purpose":"VPC_PEERING","network":"projects/p/global/networks/n"}"#,
        ),
        res(
            "google_compute_global_address",
            r#"{"name":"psa","address":"10.50.0.0","prefix_length":16,"purpose":"VPC_PEERING","network":"projects/p/global/networks/n"}"#,
        ),
        res(
            "google_compute_global_address",
            r#"{"name":"lb","address":"34.1.2.3","purpose":"","network":null}"#,
        ),
        res(
            "google_service_networking_connection",
            r#"{"network":"projects/p/global/networks/n","service":"servicenetworking.googleapis.com","peering":"servicenetworking-googleapis-com","reserved_peering_ranges":["psa"]}"#,
        ),
    ]
    .join(","));
    let v = t
        .vpc("servicenetworking:projects/p/global/networks/n")
        .unwrap();
    assert_eq!(
        v.cidrs,
        vec!["10.50.0.0/16".parse::<ipnet::IpNet>().unwrap()]
    );
}

#[test]
fn memorystore_direct_peering() {
    let (t, r) = state(&res(
        "google_redis_instance",
        r#"{"id":"projects/p/locations/us-central1/instances/cache","name":"cache","project":"p","region":"us-central1",
            "current_location_id":"us-central1-a","host":"10.137.125.3","port":6379,"authorized_network":"default",
            "connect_mode":"DIRECT_PEERING","reserved_ip_range":"10.137.125.0/29","redis_version":"REDIS_7_0","state":"READY"}"#,
    ));
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let h = &t.hosts[0];
    let s = h.service.as_ref().unwrap();
    assert_eq!((s.kind, s.port()), (ServiceKind::Redis, Some(6379)));
    assert_eq!(s.version.as_deref(), Some("7.0"));
    assert_eq!(h.private_ips, vec![ip("10.137.125.3")]);
    assert_eq!(h.zone.as_deref(), Some("us-central1-a"));
    assert_eq!(h.state.as_deref(), Some("READY"));
    let producer = "redis:projects/p/global/networks/default";
    assert_eq!(h.vpc.as_deref(), Some(producer));
    assert_eq!(
        t.vpc(producer).unwrap().cidrs,
        vec!["10.137.125.0/29".parse::<ipnet::IpNet>().unwrap()]
    );
    assert_eq!(t.peerings[0].vpc, "projects/p/global/networks/default");
}

#[test]
fn gke_cluster_and_node_pools() {
    let (t, r) = corpus("22-gcp-gke-vpc-native-node-pool.tfstate");
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let net = "projects/sre-challenger/global/networks/gke-network-challenger";
    let sub = "projects/sre-challenger/regions/us-central1/subnetworks/gke-subnet-challenger";
    let cluster =
        "projects/sre-challenger/locations/us-central1-c/clusters/gke-terraform-sre-challenger";
    let h = t.host(cluster).expect("the cluster host");
    assert_eq!(h.name, "gke-terraform-sre-challenger");
    assert_eq!(h.private_ips, vec![ip("10.10.0.2")]);
    assert_eq!(h.public_ip, Some(ip("34.136.109.140")));
    assert_eq!(h.vpc.as_deref(), Some(net));
    assert_eq!(h.subnet.as_deref(), Some(sub));
    assert_eq!(h.zone.as_deref(), Some("us-central1-c"));
    let s = h.service.as_ref().unwrap();
    assert_eq!(
        (s.kind, s.ports.clone()),
        (ServiceKind::Kubernetes, vec![443])
    );
    assert_eq!(s.version.as_deref(), Some("1.24.7-gke.900"));
    // The private endpoint is in the cluster's subnetwork.
    let cidr = t.subnet(sub).unwrap().cidr.unwrap();
    assert!(cidr.contains(&h.private_ips[0]));
    // The separate node pool, in the cluster's network, and the cluster's inline default pool.
    let pool = t
        .find_host("gke-terraform-sre-challenger/node-pool")
        .unwrap();
    assert_eq!(pool.id, format!("{cluster}/nodePools/node-pool"));
    assert_eq!(pool.tags[GROUP_TAG], "GKE node pool");
    assert!(pool.service.is_none());
    assert_eq!(pool.vpc.as_deref(), Some(net));
    assert_eq!(pool.subnet.as_deref(), Some(sub));
    assert_eq!(pool.zone.as_deref(), Some("us-central1-c"));
    let default = t
        .find_host("gke-terraform-sre-challenger/default-pool")
        .unwrap();
    assert_eq!(
        default.labels,
        vec![
            "gke-gke-terraform-sre-challenger".to_string(),
            "gke-gke-terraform-sre-challenger-default-pool".to_string()
        ]
    );
    assert_eq!(t.counts().hosts, 3);
    assert_eq!(t.counts().services, 1);
}

#[test]
fn gke_private_cluster_with_a_peered_master() {
    let (t, r) = state(&[
        res(
            "google_container_cluster",
            r#"{"id":"projects/p/locations/europe-west1/clusters/c","name":"c","location":"europe-west1",
                "network":"projects/p/global/networks/n","subnetwork":"projects/p/regions/europe-west1/subnetworks/s",
                "endpoint":"172.16.0.2","node_pool":[],
                "private_cluster_config":[{"enable_private_endpoint":true,"enable_private_nodes":true,
                    "master_ipv4_cidr_block":"172.16.0.0/28","peering_name":"gke-n1234-peer",
                    "private_endpoint":"172.16.0.2","public_endpoint":"35.1.2.3"}]}"#,
        ),
        res(
            "google_container_node_pool",
            r#"{"id":"projects/p/locations/europe-west1/clusters/c/nodePools/np","name":"np","cluster":"c",
                "location":"europe-west1","node_config":[{"tags":["web"]}]}"#,
        ),
    ]
    .join(","));
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let h = t.find_host("c").unwrap();
    assert_eq!(h.private_ips, vec![ip("172.16.0.2")]);
    assert_eq!(h.public_ip, None, "public access is disabled");
    assert_eq!(
        h.vpc.as_deref(),
        Some("gke-master-c:projects/p/global/networks/n")
    );
    assert_eq!(t.peerings[0].name, "gke-n1234-peer");
    let np = t.find_host("c/np").unwrap();
    assert_eq!(np.vpc.as_deref(), Some("projects/p/global/networks/n"));
    assert_eq!(np.labels, vec!["web".to_string()]);
}

#[test]
fn node_pool_of_an_unknown_cluster_warns() {
    let (t, r) = state(&res(
        "google_container_node_pool",
        r#"{"id":"projects/p/locations/l/clusters/c/nodePools/np","name":"np","cluster":"c"}"#,
    ));
    assert_eq!(t.hosts.len(), 1);
    assert!(
        r.warnings[0].contains("not in the state"),
        "{:?}",
        r.warnings
    );
}

#[test]
fn internal_forwarding_rule_nat_and_vpn() {
    let (t, r) = state(&[
        res(
            "google_compute_forwarding_rule",
            r#"{"id":"projects/p/regions/r/forwardingRules/ilb","self_link":"https://www.googleapis.com/compute/v1/projects/p/regions/r/forwardingRules/ilb",
                "name":"ilb","region":"https://www.googleapis.com/compute/v1/projects/p/regions/r","ip_address":"10.0.0.50","ip_protocol":"TCP",
                "ports":["80","443"],"port_range":"","all_ports":false,"load_balancing_scheme":"INTERNAL",
                "network":"https://www.googleapis.com/compute/v1/projects/p/global/networks/n",
                "subnetwork":"https://www.googleapis.com/compute/v1/projects/p/regions/r/subnetworks/s"}"#,
        ),
        res(
            "google_compute_router_nat",
            r#"{"id":"p/r/router/nat","name":"nat","project":"p","region":"r","router":"router"}"#,
        ),
        res(
            "google_compute_router",
            r#"{"id":"projects/p/regions/r/routers/router","name":"router","project":"p","region":"r",
                "network":"https://www.googleapis.com/compute/v1/projects/p/global/networks/n"}"#,
        ),
        res(
            "google_compute_ha_vpn_gateway",
            r#"{"id":"projects/p/regions/r/vpnGateways/ha","name":"ha","project":"p","network":"n",
                "vpn_interfaces":[{"id":0,"ip_address":"35.242.0.1"},{"id":1,"ip_address":"35.242.0.2"}]}"#,
        ),
        res(
            "google_compute_vpn_gateway",
            r#"{"id":"projects/p/regions/r/targetVpnGateways/classic","name":"classic","network":"projects/p/global/networks/n"}"#,
        ),
    ]
    .join(","));
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    let lb = &t.load_balancers[0];
    assert_eq!(lb.id, "projects/p/regions/r/forwardingRules/ilb");
    assert_eq!(lb.internal, Some(true));
    assert_eq!(lb.ip, Some(ip("10.0.0.50")));
    assert_eq!(lb.vpc.as_deref(), Some("projects/p/global/networks/n"));
    assert_eq!(
        lb.subnets,
        vec!["projects/p/regions/r/subnetworks/s".to_string()]
    );
    assert_eq!(lb.region.as_deref(), Some("r"));
    let ports: Vec<(u16, &str)> = lb
        .listeners
        .iter()
        .map(|l| (l.port, l.protocol.as_str()))
        .collect();
    assert_eq!(ports, [(80, "tcp"), (443, "tcp")]);
    let nat = t
        .gateways
        .iter()
        .find(|g| g.kind == GatewayKind::Nat)
        .unwrap();
    assert_eq!(nat.vpc.as_deref(), Some("projects/p/global/networks/n"));
    let vpns: Vec<(&str, Option<&str>, Option<IpAddr>)> = t
        .gateways
        .iter()
        .filter(|g| g.kind == GatewayKind::Vpn)
        .map(|g| (g.name.as_str(), g.vpc.as_deref(), g.public_ip))
        .collect();
    assert_eq!(
        vpns,
        [
            (
                "ha",
                Some("projects/p/global/networks/n"),
                Some(ip("35.242.0.1"))
            ),
            ("classic", Some("projects/p/global/networks/n"), None)
        ]
    );
}

#[test]
fn forwarding_rule_port_ranges_and_bad_values() {
    let (t, r) = state(&res(
        "google_compute_forwarding_rule",
        r#"{"id":"projects/p/regions/r/forwardingRules/x","name":"x","ip_address":"not-an-ip","ip_protocol":"UDP",
            "ports":[],"port_range":"500-501","load_balancing_scheme":"EXTERNAL"}"#,
    ));
    let lb = &t.load_balancers[0];
    assert_eq!(lb.internal, Some(false));
    assert_eq!(lb.ip, None);
    assert_eq!(
        lb.listeners.iter().map(|l| l.port).collect::<Vec<_>>(),
        [500, 501]
    );
    assert_eq!(lb.listeners[0].protocol, "udp");
    assert!(r.warnings[0].contains("not-an-ip"), "{:?}", r.warnings);
}

#[test]
fn sql_versions() {
    assert_eq!(
        super::services::sql_version("MYSQL_8_0").as_deref(),
        Some("8.0")
    );
    assert_eq!(
        super::services::sql_version("POSTGRES_15").as_deref(),
        Some("15")
    );
    assert_eq!(
        super::services::sql_version("SQLSERVER_2019_STANDARD").as_deref(),
        Some("2019_STANDARD")
    );
    assert_eq!(super::services::sql_version("MYSQL"), None);
}
