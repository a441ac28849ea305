//! Every file of the shared Terraform state corpus imports with pinned counts (or fails with a
//! pinned message), and every truncated or corrupted copy of them fails cleanly.

use std::collections::BTreeMap;
use std::path::PathBuf;

use gatehouse_vpc::model::Counts;
use gatehouse_vpc::tfstate::{import_file, import_str, ImportError, StateFormat};

fn corpus() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/corpus/tfstate"
    ))
}

/// (file, counts, imported instances, data sources, skipped instances)
struct Expect {
    file: &'static str,
    counts: Counts,
    imported: usize,
    data: usize,
    skipped: usize,
}

#[allow(clippy::too_many_arguments)]
fn c(
    vpcs: usize,
    subnets: usize,
    hosts: usize,
    load_balancers: usize,
    target_groups: usize,
    gateways: usize,
    route_tables: usize,
    routes: usize,
    firewalls: usize,
    rules: usize,
) -> Counts {
    Counts {
        vpcs,
        subnets,
        hosts,
        load_balancers,
        target_groups,
        gateways,
        route_tables,
        routes,
        firewalls,
        rules,
        peerings: 0,
        services: 0,
        attachments: 0,
    }
}

fn expectations() -> Vec<Expect> {
    vec![
        Expect {
            file: "01-aws-vpc-nat-instance-bigip.tfstate",
            counts: c(1, 3, 1, 0, 0, 3, 4, 3, 3, 10),
            imported: 28,
            data: 1,
            skipped: 3,
        },
        Expect {
            file: "02-aws-three-tier-alb-asg-rds.tfstate",
            counts: Counts {
                services: 2,
                ..c(2, 16, 8, 4, 6, 4, 4, 4, 14, 41)
            },
            imported: 84,
            data: 0,
            skipped: 39,
        },
        Expect {
            file: "03-aws-vpc-six-subnets-igw.tfstate",
            counts: c(1, 6, 0, 0, 0, 1, 2, 1, 0, 0),
            imported: 16,
            data: 0,
            skipped: 1,
        },
        Expect {
            file: "04-gcp-two-networks-subnetworks-firewalls.tfstate",
            counts: c(2, 2, 0, 0, 0, 0, 0, 0, 3, 7),
            imported: 7,
            data: 0,
            skipped: 0,
        },
        Expect {
            file: "05-aws-kong-zero-instance-resources.tfstate",
            counts: Counts {
                services: 1,
                ..c(1, 0, 1, 0, 0, 0, 0, 0, 1, 0)
            },
            imported: 3,
            data: 1,
            skipped: 2,
        },
        Expect {
            file: "07-gcp-instances-data-network-subnetwork.tfstate",
            counts: c(2, 2, 2, 0, 0, 0, 0, 0, 0, 0),
            imported: 6,
            data: 4,
            skipped: 0,
        },
        Expect {
            file: "08-do-loadbalancer-data-and-managed.tfstate",
            counts: c(1, 0, 0, 1, 0, 0, 0, 0, 0, 0),
            imported: 2,
            data: 1,
            skipped: 0,
        },
        Expect {
            file: "09-do-vpc-droplet-firewall.tfstate",
            counts: c(1, 0, 1, 0, 0, 0, 0, 0, 1, 14),
            imported: 3,
            data: 0,
            skipped: 2,
        },
        Expect {
            file: "10-do-three-droplets-volume-project.tfstate",
            counts: c(1, 0, 3, 0, 0, 0, 0, 0, 0, 0),
            imported: 3,
            data: 0,
            skipped: 7,
        },
        Expect {
            file: "11-show-json-aws-vpc-nat.json",
            counts: c(1, 4, 0, 0, 0, 3, 4, 3, 3, 5),
            imported: 25,
            data: 0,
            skipped: 12,
        },
        Expect {
            file: "12-show-json-aws-single-vpc.json",
            counts: c(1, 0, 0, 0, 0, 0, 0, 0, 0, 0),
            imported: 1,
            data: 0,
            skipped: 0,
        },
        // 6 rules for 4 distinct ones: the two inline `self = true` ingress rules (80, 3306) are
        // also standalone aws_security_group_rule with source_security_group_id = the group's own
        // id, and the two spellings do not deduplicate.
        Expect {
            file: "13-aws-rds-mysql-beanstalk-modules-vpc.tfstate",
            counts: Counts {
                services: 1,
                ..c(1, 4, 2, 1, 0, 1, 1, 1, 1, 6)
            },
            imported: 18,
            data: 1,
            skipped: 26,
        },
        Expect {
            file: "14-aws-elasticache-redis-generated-empty-lineage.tfstate",
            counts: Counts {
                services: 2,
                ..c(0, 0, 2, 0, 0, 0, 0, 0, 0, 0)
            },
            imported: 3,
            data: 0,
            skipped: 1,
        },
        Expect {
            file: "15-aws-network-acl-vpc-instance.tfstate",
            counts: c(1, 1, 1, 0, 0, 1, 1, 1, 2, 9),
            imported: 9,
            data: 0,
            skipped: 3,
        },
        Expect {
            file: "16-aws-eks-vpc-nodegroup.tfstate",
            counts: Counts {
                services: 1,
                ..c(1, 2, 2, 0, 0, 1, 1, 1, 1, 2)
            },
            imported: 11,
            data: 0,
            skipped: 9,
        },
        Expect {
            file: "17-aws-vpc-peering-accepter-two-vpcs.tfstate",
            counts: Counts {
                peerings: 1,
                ..c(2, 4, 0, 0, 0, 2, 2, 2, 2, 4)
            },
            imported: 16,
            data: 0,
            skipped: 0,
        },
        Expect {
            file: "18-azure-3tier-vms-nsg-appgw-vpngw-mysql.tfstate",
            counts: Counts {
                services: 1,
                ..c(1, 5, 3, 1, 0, 1, 0, 0, 2, 16)
            },
            imported: 19,
            data: 0,
            skipped: 3,
        },
        Expect {
            file: "19-azure-windows-vm-nsg-legacy-vm.tfstate",
            counts: c(1, 1, 1, 0, 0, 0, 0, 0, 1, 11),
            imported: 7,
            data: 0,
            skipped: 1,
        },
        // The Cloud SQL host is in the placeholder producer network of private services access
        // (10.155.0.0/16), peered with the custom network.
        Expect {
            file: "20-gcp-cloudsql-private-ip-service-networking.tfstate",
            counts: Counts {
                peerings: 1,
                services: 1,
                ..c(2, 1, 1, 0, 0, 0, 0, 0, 0, 0)
            },
            imported: 5,
            data: 0,
            skipped: 4,
        },
        // The database, the DOKS API server and its node pool, in the placeholder shared VPC.
        Expect {
            file: "21-do-database-cluster-doks-shared-vpc.tfstate",
            counts: Counts {
                services: 2,
                ..c(1, 0, 3, 0, 0, 0, 0, 0, 0, 0)
            },
            imported: 2,
            data: 0,
            skipped: 1,
        },
        // The GKE API server, the separate node pool and the cluster's inline default pool.
        Expect {
            file: "22-gcp-gke-vpc-native-node-pool.tfstate",
            counts: Counts {
                services: 1,
                ..c(1, 1, 3, 0, 0, 0, 0, 0, 0, 0)
            },
            imported: 4,
            data: 0,
            skipped: 6,
        },
    ]
}

/// The resource types (managed and data sources) each of the files added for issue 12 skips
/// today, sorted and deduplicated.
fn skipped_types() -> Vec<(&'static str, &'static [&'static str])> {
    vec![
        (
            "13-aws-rds-mysql-beanstalk-modules-vpc.tfstate",
            // not on the map
            &[
                "aws_acm_certificate",
                "aws_acm_certificate_validation",
                "aws_availability_zones",
                "aws_elastic_beanstalk_application",
                "aws_elastic_beanstalk_application_version",
                "aws_iam_instance_profile",
                "aws_iam_policy",
                "aws_iam_role",
                "aws_iam_role_policy_attachment",
                "aws_route53_record",
                "aws_route53_zone",
                "aws_route53domains_registered_domain",
                "aws_s3_bucket",
                "aws_s3_object",
                "null_resource",
                "random_shuffle",
                "random_string",
            ],
        ),
        (
            "14-aws-elasticache-redis-generated-empty-lineage.tfstate",
            // not on the map
            &["aws_elasticache_parameter_group"],
        ),
        (
            "15-aws-network-acl-vpc-instance.tfstate",
            // not on the map
            &["aws_ami", "aws_ami_from_instance", "aws_key_pair"],
        ),
        (
            "16-aws-eks-vpc-nodegroup.tfstate",
            // not on the map
            &[
                "aws_availability_zones",
                "aws_iam_role",
                "aws_iam_role_policy_attachment",
                "http",
            ],
        ),
        (
            "17-aws-vpc-peering-accepter-two-vpcs.tfstate",
            // everything is read
            &[],
        ),
        (
            "18-azure-3tier-vms-nsg-appgw-vpngw-mysql.tfstate",
            // not map-relevant: a database inside the server, the resource group, a password
            &[
                "azurerm_mysql_flexible_database",
                "azurerm_resource_group",
                "random_password",
            ],
        ),
        (
            "19-azure-windows-vm-nsg-legacy-vm.tfstate",
            // not map-relevant
            &["azurerm_resource_group"],
        ),
        (
            "20-gcp-cloudsql-private-ip-service-networking.tfstate",
            // not map objects: secrets, the databases and users inside the instance
            &[
                "google_secret_manager_secret",
                "google_secret_manager_secret_version",
                "google_sql_database",
                "google_sql_user",
            ],
        ),
        (
            "21-do-database-cluster-doks-shared-vpc.tfstate",
            // not a map object
            &["digitalocean_project"],
        ),
        (
            "22-gcp-gke-vpc-native-node-pool.tfstate",
            // data sources and IAM, not map objects
            &[
                "google_compute_zones",
                "google_container_engine_versions",
                "google_service_account",
                "random_shuffle",
                "random_string",
            ],
        ),
    ]
}

#[test]
fn every_corpus_file_is_pinned() {
    let mut pinned: Vec<&str> = expectations().iter().map(|e| e.file).collect();
    pinned.push("06-aws-v3-elb-classic-ecs-instances.tfstate");
    let mut on_disk: Vec<String> = std::fs::read_dir(corpus())
        .expect("corpus directory")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "SOURCES.md")
        .collect();
    on_disk.sort();
    pinned.sort();
    assert_eq!(on_disk, pinned, "a corpus file is not pinned by this test");
}

#[test]
fn corpus_counts() {
    for e in expectations() {
        let (t, r) = import_file(&corpus().join(e.file)).unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(t.counts(), e.counts, "{}", e.file);
        assert_eq!(
            r.imported_total(),
            e.imported,
            "{}: {:?}",
            e.file,
            r.imported
        );
        assert_eq!(r.data_sources, e.data, "{}", e.file);
        assert_eq!(r.skipped_total(), e.skipped, "{}: {:?}", e.file, r.skipped);
        assert!(r.warnings.is_empty(), "{}: {:?}", e.file, r.warnings);
        let expected_format = if e.file.ends_with(".json") {
            StateFormat::ShowJson
        } else {
            StateFormat::StateV4
        };
        assert_eq!(r.format, expected_format, "{}", e.file);
        // Every reference a host makes resolves inside the topology.
        for h in &t.hosts {
            if let Some(v) = &h.vpc {
                assert!(
                    t.vpc(v).is_some(),
                    "{}: host {} in unknown VPC {v}",
                    e.file,
                    h.id
                );
            }
            if let Some(s) = &h.subnet {
                assert!(
                    t.subnet(s).is_some(),
                    "{}: host {} in unknown subnet {s}",
                    e.file,
                    h.id
                );
            }
        }
    }
}

#[test]
fn corpus_skipped_types() {
    let pinned: Vec<&str> = expectations().iter().map(|e| e.file).collect();
    for (file, types) in skipped_types() {
        assert!(pinned.contains(&file), "{file} has no counts pinned");
        let (_, r) = import_file(&corpus().join(file)).unwrap_or_else(|err| panic!("{err}"));
        let skipped: Vec<&str> = r.skipped.keys().map(String::as_str).collect();
        assert_eq!(skipped, types, "{file}: {:?}", r.skipped);
    }
}

#[test]
fn corpus_details() {
    let (t, _) = import_file(&corpus().join("01-aws-vpc-nat-instance-bigip.tfstate")).unwrap();
    let h = &t.hosts[0];
    // The management interface's address first, then the data interfaces' (its
    // aws_network_interface resources).
    let ips: Vec<std::net::IpAddr> = ["10.0.1.10", "10.0.2.10", "10.0.2.11"]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
    assert_eq!(h.private_ips, ips);
    assert_eq!(h.security_groups, vec!["sg-0e993fc2df5ed9d21".to_string()]);
    assert_eq!(h.vpc.as_deref(), Some("vpc-03a7f9c1ce1198d8a"));
    assert_eq!(t.vpcs[0].region.as_deref(), Some("eu-west-2"));
    assert_eq!(
        t.vpcs[0].main_route_table.as_deref(),
        Some("rtb-088c49c5b095d1d2c")
    );
    let publics: BTreeMap<&str, Option<bool>> = t
        .subnets
        .iter()
        .map(|s| (s.name.as_str(), s.public))
        .collect();
    assert!(publics.values().any(|p| *p == Some(true)), "{publics:?}");
    assert!(publics.values().any(|p| *p == Some(false)), "{publics:?}");

    let (t, _) =
        import_file(&corpus().join("07-gcp-instances-data-network-subnetwork.tfstate")).unwrap();
    for h in &t.hosts {
        assert!(h.vpc.is_some() && h.subnet.is_some(), "{h:?}");
    }

    let (t, _) = import_file(&corpus().join("09-do-vpc-droplet-firewall.tfstate")).unwrap();
    assert_eq!(t.hosts[0].vpc.as_deref(), Some(t.vpcs[0].id.as_str()));
    assert_eq!(t.hosts[0].labels, vec!["fireheet-testing".to_string()]);
    assert!(!t.vpcs[0].placeholder);

    // Droplets in the account's default VPC, which the state does not describe.
    let (t, _) =
        import_file(&corpus().join("10-do-three-droplets-volume-project.tfstate")).unwrap();
    assert!(t.vpcs[0].placeholder);
    assert!(t
        .hosts
        .iter()
        .all(|h| h.vpc.as_deref() == Some(t.vpcs[0].id.as_str())));
}

#[test]
fn v3_state_has_a_clear_message() {
    let err =
        import_file(&corpus().join("06-aws-v3-elb-classic-ecs-instances.tfstate")).unwrap_err();
    assert!(
        matches!(err, ImportError::LegacyState { version: 3, .. }),
        "{err}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("06-aws-v3-elb-classic-ecs-instances.tfstate"),
        "{msg}"
    );
    assert!(msg.contains("format version 3"), "{msg}");
    assert!(msg.contains("Terraform 0.12 or newer"), "{msg}");
}

#[test]
fn missing_file_names_it() {
    let err = import_file(&corpus().join("nope.tfstate")).unwrap_err();
    assert!(matches!(err, ImportError::Io { .. }));
    assert!(err.to_string().contains("nope.tfstate"));
}

/// Cuts every corpus file at many points: every cut fails with a positioned parse error.
#[test]
fn truncated_copies_fail_cleanly() {
    for e in expectations() {
        let text = std::fs::read_to_string(corpus().join(e.file)).unwrap();
        let len = text.len();
        let step = (len / 97).max(1);
        let mut cut = 1;
        while cut < len {
            let mut at = cut;
            while !text.is_char_boundary(at) {
                at += 1;
            }
            let prefix = text[..at].trim_end();
            if prefix.ends_with('}') && prefix.len() == text.trim_end().len() {
                break;
            }
            match import_str(prefix, e.file) {
                Err(ImportError::Parse {
                    line,
                    column,
                    message,
                    ..
                }) => {
                    assert!(line >= 1 && column >= 1, "{}@{at}", e.file);
                    assert!(!message.is_empty());
                }
                Err(other) => panic!("{}@{at}: unexpected {other}", e.file),
                Ok(_) => panic!("{}@{at}: a truncated file imported", e.file),
            }
            cut += step;
        }
    }
}

/// Flips bytes into JSON-breaking ones: never a panic, and any error is positioned.
#[test]
fn corrupted_copies_never_panic() {
    for e in expectations() {
        let bytes = std::fs::read(corpus().join(e.file)).unwrap();
        let step = (bytes.len() / 61).max(1);
        for (n, at) in (0..bytes.len()).step_by(step).enumerate() {
            let mut b = bytes.clone();
            b[at] = [b'{', b']', b'"', b',', b':', b'x'][n % 6];
            let text = String::from_utf8_lossy(&b);
            match import_str(&text, e.file) {
                Ok(_) => {}
                Err(ImportError::Parse { line, .. }) => assert!(line >= 1),
                Err(ImportError::NotAState { .. }) | Err(ImportError::LegacyState { .. }) => {}
                Err(other) => panic!("{}@{at}: unexpected {other}", e.file),
            }
        }
    }
}
