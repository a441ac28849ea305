//! Unit tests of the importer.

use super::*;
use crate::model::*;

fn state(resources: &str) -> String {
    format!(r#"{{"version":4,"terraform_version":"1.9.0","serial":1,"resources":[{resources}]}}"#)
}

#[test]
fn modules_and_index_keys() {
    let s = state(
        r#"{"module":"module.vpc","mode":"managed","type":"aws_subnet","name":"s","instances":[
            {"index_key":0,"attributes":{"id":"subnet-a","vpc_id":"vpc-1","cidr_block":"10.0.1.0/24","availability_zone":"eu-west-2a"}},
            {"index_key":1,"attributes":{"id":"subnet-b","vpc_id":"vpc-1","cidr_block":"10.0.2.0/24"}}]},
           {"module":"module.x[\"a\"]","mode":"managed","type":"aws_vpc","name":"v","instances":[
            {"index_key":"a","attributes":{"id":"vpc-1","cidr_block":"10.0.0.0/16","tags":{"Name":"main"}}}]}"#,
    );
    let (t, r) = import_str(&s, "t").unwrap();
    assert_eq!(t.subnets.len(), 2);
    assert_eq!(t.subnets[0].region.as_deref(), Some("eu-west-2"));
    assert_eq!(t.vpcs[0].name, "main");
    assert_eq!(r.imported_total(), 3);
    assert_eq!(r.format, StateFormat::StateV4);
}

#[test]
fn instances_before_type_are_buffered() {
    let s = state(
        r#"{"instances":[{"attributes":{"id":"vpc-1","cidr_block":"10.0.0.0/16"}}],"mode":"managed","type":"aws_vpc","name":"v"}"#,
    );
    let (t, _) = import_str(&s, "t").unwrap();
    assert_eq!(t.vpcs.len(), 1);
}

#[test]
fn unknown_types_are_counted() {
    let s = state(
        r#"{"mode":"managed","type":"aws_s3_bucket","name":"b","instances":[{"attributes":{"id":"x","deep":{"a":[1,2,{"b":null}]}}},{"attributes":{}}]},
           {"mode":"data","type":"aws_ami","name":"a","instances":[{"attributes":{"id":"ami"}}]}"#,
    );
    let (t, r) = import_str(&s, "t").unwrap();
    assert_eq!(t, Topology::default());
    assert_eq!(r.skipped.get("aws_s3_bucket"), Some(&2));
    assert_eq!(r.skipped.get("aws_ami"), Some(&1));
}

#[test]
fn data_source_does_not_replace_managed() {
    let s = state(
        r#"{"mode":"managed","type":"aws_vpc","name":"v","instances":[{"attributes":{"id":"vpc-1","cidr_block":"10.0.0.0/16","tags":{"Name":"managed"}}}]},
           {"mode":"data","type":"aws_vpc","name":"v","instances":[{"attributes":{"id":"vpc-1","cidr_block":"10.0.0.0/16","tags":{"Name":"data"}}}]}"#,
    );
    let (t, r) = import_str(&s, "t").unwrap();
    assert_eq!(t.vpcs.len(), 1);
    assert_eq!(t.vpcs[0].name, "managed");
    assert_eq!(r.data_sources, 1);
}

#[test]
fn standalone_rules_routes_and_associations() {
    let s = state(
        r#"{"mode":"managed","type":"aws_security_group","name":"db","instances":[{"attributes":{"id":"sg-db","name":"db","vpc_id":"vpc-1","ingress":null,"egress":[]}}]},
           {"mode":"managed","type":"aws_security_group_rule","name":"r","instances":[{"attributes":{"type":"ingress","security_group_id":"sg-db","from_port":5432,"to_port":5432,"protocol":"tcp","source_security_group_id":"sg-app","cidr_blocks":null}}]},
           {"mode":"managed","type":"aws_vpc_security_group_ingress_rule","name":"r2","instances":[{"attributes":{"security_group_id":"sg-db","referenced_security_group_id":"sg-db","ip_protocol":"-1","from_port":null,"to_port":null}}]},
           {"mode":"managed","type":"aws_route_table","name":"rt","instances":[{"attributes":{"id":"rtb-1","vpc_id":"vpc-1","route":[{"cidr_block":"0.0.0.0/0","gateway_id":"igw-1"}]}}]},
           {"mode":"managed","type":"aws_route","name":"r","instances":[{"attributes":{"route_table_id":"rtb-1","destination_cidr_block":"10.8.0.0/24","network_interface_id":"eni-1"}}]},
           {"mode":"managed","type":"aws_route_table_association","name":"a","instances":[{"attributes":{"route_table_id":"rtb-1","subnet_id":"subnet-1"}}]},
           {"mode":"managed","type":"aws_main_route_table_association","name":"m","instances":[{"attributes":{"route_table_id":"rtb-1","vpc_id":"vpc-1"}}]},
           {"mode":"managed","type":"aws_subnet","name":"s","instances":[{"attributes":{"id":"subnet-1","vpc_id":"vpc-1","cidr_block":"10.0.1.0/24"}}]}"#,
    );
    let (t, r) = import_str(&s, "t").unwrap();
    let sg = t.firewall("sg-db").unwrap();
    assert_eq!(sg.rules.len(), 2);
    assert_eq!(sg.rules[0].peers, vec![Peer::Group("sg-app".into())]);
    assert_eq!(
        sg.rules[0].ports,
        Some(PortRange {
            from: 5432,
            to: 5432
        })
    );
    assert_eq!(sg.rules[1].peers, vec![Peer::SelfGroup]);
    assert_eq!(sg.rules[1].protocol, Protocol::All);
    let rt = &t.route_tables[0];
    assert_eq!(rt.routes.len(), 2);
    assert!(rt.main);
    assert_eq!(rt.subnets, vec!["subnet-1".to_string()]);
    assert_eq!(t.subnets[0].public, Some(true));
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
}

#[test]
fn show_json_nested_modules() {
    let s = r#"{"format_version":"1.0","terraform_version":"1.3.9","values":{"root_module":{
        "resources":[{"address":"aws_vpc.v","mode":"managed","type":"aws_vpc","name":"v","values":{"id":"vpc-1","cidr_block":"10.0.0.0/16"}}],
        "child_modules":[{"address":"module.a","resources":[
            {"address":"module.a.aws_subnet.s[0]","mode":"managed","type":"aws_subnet","name":"s","index":0,"values":{"id":"subnet-1","vpc_id":"vpc-1","cidr_block":"10.0.1.0/24"}}],
          "child_modules":[{"address":"module.a.module.b","resources":[
            {"address":"module.a.module.b.aws_instance.i","mode":"managed","type":"aws_instance","name":"i","values":{"id":"i-1","subnet_id":"subnet-1","private_ip":"10.0.1.5","source_dest_check":false}}]}]}]}}}"#;
    let (t, r) = import_str(s, "t").unwrap();
    assert_eq!(r.format, StateFormat::ShowJson);
    assert_eq!(t.hosts[0].vpc.as_deref(), Some("vpc-1"));
    assert_eq!(t.hosts[0].source_dest_check, Some(false));
    assert_eq!(r.imported_total(), 3);
}

#[test]
fn v3_is_refused_clearly() {
    let e = import_str(r#"{"version":3,"modules":[]}"#, "old.tfstate").unwrap_err();
    assert!(
        matches!(e, ImportError::LegacyState { version: 3, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("version 3"));
    let e = import_str(r#"{"modules":[],"version":3}"#, "old.tfstate").unwrap_err();
    assert!(matches!(e, ImportError::LegacyState { .. }), "{e}");
}

#[test]
fn errors_have_positions() {
    let e = import_str(
        "{\"version\":4,\n\"resources\":[{\"type\":\"aws_vpc\",",
        "cut",
    )
    .unwrap_err();
    match &e {
        ImportError::Parse { line, message, .. } => {
            assert_eq!(*line, 2);
            assert!(message.contains("truncated"), "{message}");
        }
        other => panic!("{other}"),
    }
    let e = import_str("{\"version\":4,\"resources\":[}", "bad").unwrap_err();
    assert!(e.to_string().starts_with("bad:1:"), "{e}");
    let e = import_str("[1,2]", "arr").unwrap_err();
    assert!(e.to_string().contains("Terraform state"), "{e}");
    let e = import_str("{\"a\":1}", "obj").unwrap_err();
    assert!(matches!(e, ImportError::NotAState { .. }), "{e}");
    let e = import_str("{\"version\":4} trailing", "t").unwrap_err();
    assert!(matches!(e, ImportError::Parse { .. }), "{e}");
    let e = import_str(
        &state(r#"{"mode":"managed","type":"aws_vpc","instances":[{"attributes":{"tags":[1]}}]}"#),
        "shape",
    )
    .unwrap_err();
    assert!(matches!(e, ImportError::Parse { .. }), "{e}");
}

#[test]
fn lenient_values() {
    let s = state(
        r#"{"mode":"managed","type":"digitalocean_firewall","name":"f","instances":[{"attributes":{"id":"fw","name":"web","droplet_ids":[123,"456"],"tags":null,
            "inbound_rule":[{"protocol":"tcp","port_range":"8000-8080","source_addresses":["0.0.0.0/0","bogus"],"source_tags":["app"]},{"protocol":"tcp","port_range":"x"}],"outbound_rule":null}}]},
           {"mode":"managed","type":"aws_lb_target_group","name":"tg","instances":[{"attributes":{"arn":"arn:tg","port":"80"}}]}"#,
    );
    let (t, r) = import_str(&s, "t").unwrap();
    let f = &t.firewalls[0];
    assert_eq!(
        f.applies_to,
        AppliesTo::Hosts {
            ids: vec!["123".into(), "456".into()],
            labels: vec![]
        }
    );
    assert_eq!(f.rules.len(), 1);
    assert_eq!(f.rules[0].peers.len(), 2);
    assert_eq!(r.warnings.len(), 2, "{:?}", r.warnings);
    assert_eq!(t.target_groups[0].port, Some(80));
}

#[test]
fn gcp_references_match() {
    let s = state(
        r#"{"mode":"managed","type":"google_compute_network","name":"n","instances":[{"attributes":{"id":"projects/p/global/networks/net","name":"net","self_link":"https://www.googleapis.com/compute/v1/projects/p/global/networks/net"}}]},
           {"mode":"managed","type":"google_compute_instance","name":"i","instances":[{"attributes":{"id":"projects/p/zones/z/instances/vm","name":"vm","zone":"us-east4-b","tags":["web"],"can_ip_forward":true,
              "network_interface":[{"network":"https://www.googleapis.com/compute/v1/projects/p/global/networks/net","network_ip":"10.0.0.2","access_config":[{"nat_ip":"34.1.2.3"}]}]}}]},
           {"mode":"managed","type":"google_compute_firewall","name":"f","instances":[{"attributes":{"id":"projects/p/global/firewalls/fw","name":"fw","network":"https://www.googleapis.com/compute/v1/projects/p/global/networks/net","direction":"INGRESS","priority":900,
              "allow":[{"protocol":"tcp","ports":["22","80-81"]}],"deny":[],"source_ranges":["10.8.0.0/24"],"target_tags":["web"]}}]}"#,
    );
    let (t, _) = import_str(&s, "t").unwrap();
    assert_eq!(t.hosts[0].vpc.as_deref(), Some(t.vpcs[0].id.as_str()));
    assert_eq!(t.hosts[0].source_dest_check, Some(false));
    assert_eq!(t.firewalls[0].vpc.as_deref(), Some(t.vpcs[0].id.as_str()));
    assert_eq!(t.firewalls[0].rules.len(), 2);
    assert_eq!(t.firewalls[0].rules[0].priority, 900);
}
