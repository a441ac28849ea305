//! Held-out-style coverage check over every type in the shared Terraform state corpus: no
//! resource of a map-relevant type (compute, database, cache, cluster, load balancer, network,
//! subnet, firewall/NSG/NACL, route, gateway, peering, attachment, address) is skipped, and the
//! share of modeled resources is printed (`cargo test -p gatehouse-vpc --test coverage --
//! --nocapture`).
//!
//! The classifier goes by the type's name, not by what the importer reads, so a type added to
//! the corpus later is judged the same way: a new map-relevant type fails this test until it is
//! modeled.

use std::collections::BTreeMap;
use std::path::PathBuf;

use gatehouse_vpc::tfstate::import_file;

fn corpus() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/tfstate"
    ))
}

/// Types whose names look map-relevant but are not: DNS records, parameter/option groups,
/// logical databases and users inside a server, identity, zone lists, images and keys. A
/// trailing `$` matches the end of the name only.
const NOT_ON_THE_MAP: &[&str] = &[
    "route53",
    "parameter_group",
    "option_group",
    "_iam_",
    "_policy",
    "availability_zones",
    "compute_zones",
    "engine_versions",
    "_ami",
    "key_pair",
    "ssh_key",
    "sql_database$",
    "sql_user",
    "flexible_database",
    "flexible_server_database",
    "flexible_server_configuration",
    "resource_group",
    "service_account",
    "secret",
    "certificate",
    "_project",
    "caller_identity",
    "backup",
    "kms",
    "s3_",
    "beanstalk_application",
    "launch_template",
    "launch_configuration",
    "volume",
];

/// The category of a map-relevant type (`None`: not on the map), from words in its name.
fn category(ty: &str) -> Option<&'static str> {
    if NOT_ON_THE_MAP.iter().any(|w| match w.strip_suffix('$') {
        Some(end) => ty.ends_with(end),
        None => ty.contains(w),
    }) {
        return None;
    }
    let rest = ty.split_once('_').map(|(_, r)| r).unwrap_or(ty);
    const WORDS: &[(&str, &str)] = &[
        ("network_acl", "firewall"),
        ("security_group", "firewall"),
        ("security_rule", "firewall"),
        ("firewall", "firewall"),
        ("peering", "peering"),
        ("attachment", "attachment"),
        ("association", "attachment"),
        ("route", "route"),
        ("application_gateway", "load balancer"),
        ("transit_gateway", "gateway"),
        ("gateway", "gateway"),
        ("nat", "gateway"),
        ("router", "gateway"),
        ("vpn", "gateway"),
        ("eip", "address"),
        ("public_ip", "address"),
        ("global_address", "address"),
        ("network_interface", "network"),
        ("service_networking", "network"),
        ("subnet", "subnet"),
        ("vpc", "network"),
        ("virtual_network", "network"),
        ("compute_network", "network"),
        ("db_instance", "database"),
        ("rds_cluster", "database"),
        ("docdb", "database"),
        ("database", "database"),
        ("sql_database_instance", "database"),
        ("mysql", "database"),
        ("postgresql", "database"),
        ("elasticache", "cache"),
        ("redis", "cache"),
        ("memcache", "cache"),
        ("opensearch", "database"),
        ("elasticsearch", "database"),
        ("mq_broker", "database"),
        ("msk_cluster", "database"),
        ("eks_", "cluster"),
        ("kubernetes", "cluster"),
        ("container_cluster", "cluster"),
        ("node_pool", "cluster"),
        ("node_group", "cluster"),
        ("autoscaling_group", "compute"),
        ("instance", "compute"),
        ("virtual_machine", "compute"),
        ("droplet", "compute"),
        ("beanstalk_environment", "compute"),
        ("ecs_service", "compute"),
        ("lb", "load balancer"),
        ("elb", "load balancer"),
        ("load_balancer", "load balancer"),
        ("loadbalancer", "load balancer"),
        ("forwarding_rule", "load balancer"),
        ("target_group", "load balancer"),
    ];
    WORDS
        .iter()
        .find(|(w, _)| rest.contains(w))
        .map(|(_, c)| *c)
}

#[test]
fn the_classifier_reads_names() {
    assert_eq!(category("aws_db_instance"), Some("database"));
    assert_eq!(category("aws_db_parameter_group"), None);
    assert_eq!(category("aws_route53_record"), None);
    assert_eq!(category("aws_route_table"), Some("route"));
    assert_eq!(category("azurerm_network_security_group"), Some("firewall"));
    assert_eq!(category("google_sql_database_instance"), Some("database"));
    assert_eq!(category("google_sql_database"), None);
    assert_eq!(category("digitalocean_kubernetes_cluster"), Some("cluster"));
    assert_eq!(category("random_password"), None);
    assert_eq!(category("aws_autoscaling_group"), Some("compute"));
    assert_eq!(category("aws_elasticache_subnet_group"), Some("subnet"));
    assert_eq!(
        category("azurerm_application_gateway"),
        Some("load balancer")
    );
}

#[test]
fn no_map_relevant_resource_is_skipped() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus())
        .expect("the shared corpus is beside the checkout")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "tfstate" || x == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 22, "{} corpus files", files.len());
    let (mut all, mut modeled, mut relevant, mut relevant_modeled) = (0, 0, 0, 0);
    let mut skipped_relevant: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut by_type: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().to_string();
        let Ok((_, report)) = import_file(f) else {
            continue; // the corpus test pins which files fail, and how
        };
        for (ty, n) in &report.imported {
            all += n;
            modeled += n;
            by_type.entry(ty.clone()).or_default().0 += n;
            if category(ty).is_some() {
                relevant += n;
                relevant_modeled += n;
            }
        }
        for (ty, n) in &report.skipped {
            all += n;
            by_type.entry(ty.clone()).or_default().1 += n;
            if category(ty).is_some() {
                relevant += n;
                skipped_relevant
                    .entry(ty.clone())
                    .or_default()
                    .push(name.clone());
            }
        }
    }
    let pct = |a: usize, b: usize| 100.0 * a as f64 / b.max(1) as f64;
    println!(
        "corpus coverage: {modeled} of {all} resource instances modeled ({:.1} %); \
         map-relevant: {relevant_modeled} of {relevant} ({:.1} %); {} types, {} skipped",
        pct(modeled, all),
        pct(relevant_modeled, relevant),
        by_type.len(),
        by_type.values().filter(|(i, _)| *i == 0).count()
    );
    for (ty, (i, s)) in &by_type {
        if *s > 0 {
            println!(
                "  skipped {ty}: {s} ({})",
                category(ty).unwrap_or("not on the map")
            );
        }
        let _ = i;
    }
    assert!(
        skipped_relevant.is_empty(),
        "map-relevant types skipped: {skipped_relevant:#?}"
    );
    assert_eq!(relevant, relevant_modeled);
}
