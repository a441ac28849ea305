//! Unit tests of the DigitalOcean API importer: the corpus pages and API examples.

use super::pages::add_page;
use super::*;
use std::net::IpAddr;

fn corpus(name: &str) -> Vec<u8> {
    std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/corpus/digitalocean")
            .join(name),
    )
    .unwrap()
}

#[test]
fn corpus_pages_map_to_the_model() {
    let mut t = Topology::default();
    assert_eq!(
        add_page("vpcs", &corpus("vpcs_list.json"), &mut t).unwrap(),
        None
    );
    assert_eq!(
        add_page("droplets", &corpus("droplets_list.json"), &mut t).unwrap(),
        None
    );
    add_page("droplets", &corpus("droplets_list_tagged.json"), &mut t).unwrap();
    add_page("droplets", &corpus("droplets_list_gpus.json"), &mut t).unwrap();
    add_page(
        "load_balancers",
        &corpus("load_balancers_list.json"),
        &mut t,
    )
    .unwrap();
    assert_eq!(t.vpcs.len(), 3);
    assert_eq!(t.hosts.len(), 6);
    assert_eq!(t.load_balancers.len(), 2);
    let h = &t.hosts[0];
    assert_eq!(h.id, "3164444");
    assert_eq!(
        h.private_ips,
        vec!["10.128.192.124".parse::<IpAddr>().unwrap()]
    );
    assert_eq!(h.public_ip, Some("192.241.165.154".parse().unwrap()));
    assert_eq!(h.zone.as_deref(), Some("nyc3"));
    assert_eq!(h.labels, vec!["web".to_string(), "env:prod".to_string()]);
    let lb = &t.load_balancers[0];
    assert_eq!(lb.listeners.len(), 2);
    assert_eq!(
        lb.targets,
        vec!["3164444".to_string(), "3164445".to_string()]
    );
    assert_eq!(
        t.vpcs[0].cidrs,
        vec!["10.10.10.0/24".parse::<ipnet::IpNet>().unwrap()]
    );
}

#[test]
fn firewall_page() {
    let body = br#"{"firewalls":[{"id":"fw-1","name":"web","droplet_ids":[8043964],"tags":["web"],
        "inbound_rules":[{"protocol":"tcp","ports":"80","sources":{"load_balancer_uids":["lb-1"]}},
                         {"protocol":"tcp","ports":"22","sources":{"tags":["gateway"],"addresses":["18.0.0.0/8"]}},
                         {"protocol":"icmp","sources":{"addresses":["0.0.0.0/0"]}}],
        "outbound_rules":[{"protocol":"tcp","ports":"all","destinations":{"addresses":["0.0.0.0/0","::/0"]}}]}],
        "links":{"pages":{"next":"https://api.digitalocean.com/v2/firewalls?page=2"}},"meta":{"total":2}}"#;
    let mut t = Topology::default();
    let next = add_page("firewalls", body, &mut t).unwrap();
    assert_eq!(
        next.as_deref(),
        Some("https://api.digitalocean.com/v2/firewalls?page=2")
    );
    assert_eq!(
        rebase("http://127.0.0.1:9", next.as_deref().unwrap()),
        "http://127.0.0.1:9/v2/firewalls?page=2"
    );
    let f = &t.firewalls[0];
    assert_eq!(f.rules.len(), 4);
    assert_eq!(
        f.rules[1].peers,
        vec![
            Peer::Cidr("18.0.0.0/8".parse().unwrap()),
            Peer::Label("gateway".into())
        ]
    );
    assert_eq!(f.rules[3].ports, None);
}

#[test]
fn malformed_body_has_a_position() {
    let mut t = Topology::default();
    let e = add_page("vpcs", b"{\"vpcs\": [", &mut t).unwrap_err();
    assert_eq!(e.line(), 1);
}

#[test]
fn database_page_null_and_public_only() {
    let mut t = Topology::default();
    assert_eq!(
        add_page("databases", br#"{"databases": null}"#, &mut t).unwrap(),
        None
    );
    assert!(t.hosts.is_empty());
    // A cluster without a private connection: the public host and port; tags null.
    let body = br#"{"databases":[{"id":"c1","name":"cache","engine":"valkey","version":"8",
        "connection":{"host":"cache-do-user-1-0.db.ondigitalocean.com","port":25061},
        "private_connection":{"host":"","port":null},"region":"ams3","status":"creating","tags":null}],
        "links":{},"meta":{"total":1}}"#;
    add_page("databases", body, &mut t).unwrap();
    let h = &t.hosts[0];
    let s = h.service.as_ref().unwrap();
    assert_eq!(s.kind, ServiceKind::Redis);
    assert_eq!(s.port(), Some(25061));
    assert_eq!(
        s.endpoint.as_deref(),
        Some("cache-do-user-1-0.db.ondigitalocean.com")
    );
    assert_eq!(h.vpc, None);
    assert_eq!(h.zone.as_deref(), Some("ams3"));
    // The key is required: a page without it is malformed.
    assert!(add_page("databases", br#"{"links":{}}"#, &mut t).is_err());
}

#[test]
fn kubernetes_page_with_blank_endpoint() {
    // The shape of a cluster still provisioning (the API writes " " for unknown values).
    let body = br#"{"kubernetes_clusters":[{"id":"k1","name":"c","region":"nyc1","version":"1.31.1-do.0",
        "cluster_subnet":"10.244.0.0/16","service_subnet":"10.245.0.0/16","vpc_uuid":"v1","ipv4":" ","endpoint":" ",
        "tags":["k8s","k8s:k1"],"node_pools":[{"id":"p1","name":"worker-pool","tags":["k8s","k8s:k1","k8s:worker"]}],
        "status":{"state":"provisioning","message":"provisioning"}}],"meta":{"total":1}}"#;
    let mut t = Topology::default();
    add_page("kubernetes/clusters", body, &mut t).unwrap();
    let k = t.host("k1").unwrap();
    assert_eq!(k.service.as_ref().unwrap().endpoint, None);
    assert_eq!(k.public_ip, None);
    assert!(k.labels.is_empty());
    assert_eq!(k.state.as_deref(), Some("provisioning"));
    let p = t.host("p1").unwrap();
    assert_eq!(p.name, "c/worker-pool");
    assert_eq!(
        p.labels,
        vec!["k8s".to_string(), "k8s:k1".into(), "k8s:worker".into()]
    );
}

#[test]
fn endpoint_hosts_and_path_segments() {
    use super::managed::endpoint_host;
    assert_eq!(
        endpoint_host("https://a.k8s.ondigitalocean.com").as_deref(),
        Some("a.k8s.ondigitalocean.com")
    );
    assert_eq!(endpoint_host("https://h:6443/x").as_deref(), Some("h"));
    assert_eq!(endpoint_host("  "), None);
    assert_eq!(path_segment("9cc10173-e9ea"), "9cc10173-e9ea");
    assert_eq!(path_segment("a/b c"), "a%2Fb%20c");
}
