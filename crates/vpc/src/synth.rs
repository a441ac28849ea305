//! Synthetic Terraform states for tests and benchmarks: an AWS-shaped state (VPCs, subnets,
//! route tables and associations, security groups, instances with the attributes a real
//! `aws_instance` carries, optionally RDS databases in DB subnet groups), produced as a stream
//! so that a 200 MB input costs no memory.

use std::io::Read;

/// The shape of a synthetic state.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// `aws_instance` resources.
    pub instances: usize,
    /// Instances per VPC.
    pub per_vpc: usize,
    /// Subnets per VPC.
    pub subnets_per_vpc: usize,
    /// Bytes of `user_data` per instance (an attribute the importer skips).
    pub padding: usize,
    /// Stop after this many bytes (a truncated file).
    pub truncate_at: Option<usize>,
    /// `aws_db_instance` resources (PostgreSQL, spread over the VPCs, each in its VPC's DB
    /// subnet group and `db` security group).
    pub databases: usize,
}

impl Shape {
    /// `instances` instances, 1000 per VPC, 4 subnets per VPC, no padding.
    pub fn instances(instances: usize) -> Shape {
        Shape {
            instances,
            per_vpc: 1000,
            subnets_per_vpc: 4,
            padding: 0,
            truncate_at: None,
            databases: 0,
        }
    }

    /// The same shape with `databases` RDS instances as well.
    pub fn with_databases(self, databases: usize) -> Shape {
        Shape { databases, ..self }
    }

    fn vpcs(&self) -> usize {
        self.instances.div_ceil(self.per_vpc.max(1)).max(1)
    }
}

/// A reader that yields the state's JSON text piece by piece.
pub struct StateReader {
    shape: Shape,
    /// Next piece to produce.
    step: usize,
    buf: Vec<u8>,
    pos: usize,
    produced: usize,
    done: bool,
    padding: String,
}

impl StateReader {
    /// A reader for `shape`.
    pub fn new(shape: Shape) -> StateReader {
        StateReader {
            shape,
            step: 0,
            buf: Vec::new(),
            pos: 0,
            produced: 0,
            done: false,
            padding: "abcdefghijklmnopqrstuvwxyz"
                .chars()
                .cycle()
                .take(shape.padding)
                .collect(),
        }
    }

    /// Fills `buf` with the next piece; false at the end.
    fn next_piece(&mut self) -> bool {
        use std::fmt::Write;
        self.buf.clear();
        self.pos = 0;
        let s = self.shape;
        let vpcs = s.vpcs();
        let nsub = s.subnets_per_vpc.max(1);
        let mut out = String::new();
        // Pieces: 0 header, then per VPC one piece (vpc, subnets, tables, SGs), then one piece per
        // instance, then the footer.
        let step = self.step;
        self.step += 1;
        if step == 0 {
            out.push_str(
                "{\n  \"version\": 4,\n  \"terraform_version\": \"1.9.8\",\n  \"serial\": 1,\n  \
                 \"lineage\": \"00000000-0000-0000-0000-000000000000\",\n  \"outputs\": {},\n  \
                 \"resources\": [\n",
            );
        } else if step <= vpcs {
            let v = step - 1;
            let (a, b) = (10 + v / 250, v % 250);
            let sep = if v == 0 { "" } else { ",\n" };
            let _ = write!(
                out,
                "{sep}    {{\"mode\":\"managed\",\"type\":\"aws_vpc\",\"name\":\"v\",\"instances\":[{{\"index_key\":{v},\"schema_version\":1,\"attributes\":{{\"arn\":\"arn:aws:ec2:eu-west-1:123456789012:vpc/vpc-{v:08x}\",\"cidr_block\":\"{a}.{b}.0.0/16\",\"enable_dns_support\":true,\"id\":\"vpc-{v:08x}\",\"main_route_table_id\":\"rtb-m{v:07x}\",\"tags\":{{\"Name\":\"vpc-{v}\"}}}}}}]}}"
            );
            let _ = write!(out, ",\n    {{\"mode\":\"managed\",\"type\":\"aws_subnet\",\"name\":\"s\",\"instances\":[");
            for n in 0..nsub {
                let c = if n == 0 { "" } else { "," };
                let _ = write!(out, "{c}{{\"index_key\":{n},\"attributes\":{{\"availability_zone\":\"eu-west-1a\",\"cidr_block\":\"{a}.{b}.{n}.0/24\",\"id\":\"subnet-{v:06x}{n:02x}\",\"map_public_ip_on_launch\":{},\"vpc_id\":\"vpc-{v:08x}\",\"tags\":{{\"Name\":\"subnet-{v}-{n}\"}}}}}}", n == 0);
            }
            out.push_str("]}");
            let _ = write!(out, ",\n    {{\"mode\":\"managed\",\"type\":\"aws_route_table\",\"name\":\"rt\",\"instances\":[{{\"attributes\":{{\"id\":\"rtb-m{v:07x}\",\"vpc_id\":\"vpc-{v:08x}\",\"route\":[{{\"cidr_block\":\"0.0.0.0/0\",\"gateway_id\":\"igw-{v:08x}\"}}]}}}},{{\"attributes\":{{\"id\":\"rtb-p{v:07x}\",\"vpc_id\":\"vpc-{v:08x}\",\"route\":[{{\"cidr_block\":\"10.99.0.0/24\",\"network_interface_id\":\"eni-{v:06x}00\"}}]}}}}]}}");
            let _ = write!(out, ",\n    {{\"mode\":\"managed\",\"type\":\"aws_route_table_association\",\"name\":\"a\",\"instances\":[");
            for n in 1..nsub {
                let c = if n == 1 { "" } else { "," };
                let _ = write!(out, "{c}{{\"index_key\":{n},\"attributes\":{{\"id\":\"rtbassoc-{v:06x}{n:02x}\",\"route_table_id\":\"rtb-p{v:07x}\",\"subnet_id\":\"subnet-{v:06x}{n:02x}\"}}}}");
            }
            out.push_str("]}");
            let _ = write!(out, ",\n    {{\"mode\":\"managed\",\"type\":\"aws_internet_gateway\",\"name\":\"igw\",\"instances\":[{{\"attributes\":{{\"id\":\"igw-{v:08x}\",\"vpc_id\":\"vpc-{v:08x}\"}}}}]}}");
            let _ = write!(out, ",\n    {{\"mode\":\"managed\",\"type\":\"aws_security_group\",\"name\":\"sg\",\"instances\":[");
            for (n, (name, port, src)) in [
                (
                    "web",
                    443,
                    "\"cidr_blocks\":[\"0.0.0.0/0\"],\"security_groups\":[]",
                ),
                (
                    "app",
                    8080,
                    "\"cidr_blocks\":[],\"security_groups\":[\"sg-web\"]",
                ),
                (
                    "db",
                    5432,
                    "\"cidr_blocks\":[],\"security_groups\":[\"sg-app\"]",
                ),
            ]
            .iter()
            .enumerate()
            {
                let c = if n == 0 { "" } else { "," };
                let src = src
                    .replace("sg-web", &format!("sg-{v:06x}00"))
                    .replace("sg-app", &format!("sg-{v:06x}01"));
                let _ = write!(out, "{c}{{\"index_key\":\"{name}\",\"attributes\":{{\"id\":\"sg-{v:06x}{n:02x}\",\"name\":\"{name}-{v}\",\"vpc_id\":\"vpc-{v:08x}\",\"ingress\":[{{{src},\"from_port\":{port},\"to_port\":{port},\"protocol\":\"tcp\",\"self\":false,\"description\":\"\",\"ipv6_cidr_blocks\":[],\"prefix_list_ids\":[]}},{{\"cidr_blocks\":[\"10.99.0.0/24\"],\"security_groups\":[],\"from_port\":22,\"to_port\":22,\"protocol\":\"tcp\",\"self\":false}}],\"egress\":[{{\"cidr_blocks\":[\"0.0.0.0/0\"],\"from_port\":0,\"to_port\":0,\"protocol\":\"-1\",\"self\":false}}]}}}}");
            }
            out.push_str("]}");
            if s.databases > 0 {
                let ids: Vec<String> = (1..nsub.max(2))
                    .map(|n| format!("\"subnet-{v:06x}{n:02x}\""))
                    .collect();
                let _ = write!(out, ",\n    {{\"mode\":\"managed\",\"type\":\"aws_db_subnet_group\",\"name\":\"db\",\"instances\":[{{\"index_key\":{v},\"attributes\":{{\"arn\":\"arn:aws:rds:eu-west-1:123456789012:subgrp:db-{v}\",\"description\":\"Managed by Terraform\",\"id\":\"db-{v}\",\"name\":\"db-{v}\",\"subnet_ids\":[{}],\"supported_network_types\":[\"IPV4\"],\"tags\":{{}},\"vpc_id\":\"vpc-{v:08x}\"}}}}]}}", ids.join(","));
            }
            if v + 1 == vpcs && s.instances > 0 {
                out.push_str(",\n    {\"mode\":\"managed\",\"type\":\"aws_instance\",\"name\":\"i\",\"instances\":[\n");
            }
        } else if step <= vpcs + s.instances {
            let i = step - 1 - vpcs;
            let v = i / s.per_vpc.max(1);
            let n = (i / 7) % nsub;
            let (a, b) = (10 + v / 250, v % 250);
            let host = i % s.per_vpc.max(1);
            let ip = format!("{a}.{b}.{n}.{}", 4 + host % 250);
            let sep = if i == 0 { "" } else { ",\n" };
            let _ = write!(
                out,
                "{sep}      {{\"index_key\":{i},\"schema_version\":1,\"attributes\":{{\"ami\":\"ami-0123456789abcdef0\",\"arn\":\"arn:aws:ec2:eu-west-1:123456789012:instance/i-{i:017x}\",\"associate_public_ip_address\":false,\"availability_zone\":\"eu-west-1a\",\"capacity_reservation_specification\":[{{\"capacity_reservation_preference\":\"open\",\"capacity_reservation_target\":[]}}],\"cpu_core_count\":1,\"cpu_threads_per_core\":2,\"credit_specification\":[{{\"cpu_credits\":\"unlimited\"}}],\"disable_api_termination\":false,\"ebs_block_device\":[],\"ebs_optimized\":false,\"enclave_options\":[{{\"enabled\":false}}],\"ephemeral_block_device\":[],\"get_password_data\":false,\"hibernation\":false,\"iam_instance_profile\":\"\",\"id\":\"i-{i:017x}\",\"instance_initiated_shutdown_behavior\":\"stop\",\"instance_state\":\"running\",\"instance_type\":\"t3.micro\",\"ipv6_address_count\":0,\"ipv6_addresses\":[],\"key_name\":\"deploy\",\"metadata_options\":[{{\"http_endpoint\":\"enabled\",\"http_put_response_hop_limit\":1,\"http_tokens\":\"required\",\"instance_metadata_tags\":\"disabled\"}}],\"monitoring\":false,\"network_interface\":[],\"primary_network_interface_id\":\"eni-{i:017x}\",\"private_dns\":\"ip-{}.eu-west-1.compute.internal\",\"private_ip\":\"{ip}\",\"public_dns\":\"\",\"public_ip\":\"\",\"root_block_device\":[{{\"delete_on_termination\":true,\"device_name\":\"/dev/xvda\",\"encrypted\":true,\"iops\":3000,\"tags\":{{}},\"throughput\":125,\"volume_id\":\"vol-{i:017x}\",\"volume_size\":8,\"volume_type\":\"gp3\"}}],\"secondary_private_ips\":[],\"security_groups\":[],\"source_dest_check\":true,\"subnet_id\":\"subnet-{v:06x}{n:02x}\",\"tags\":{{\"Name\":\"host-{i}\",\"Role\":\"app\"}},\"tenancy\":\"default\",\"user_data\":\"",
                ip.replace('.', "-")
            );
            out.push_str(&self.padding);
            let _ = write!(out, "\",\"volume_tags\":null,\"vpc_security_group_ids\":[\"sg-{v:06x}{:02x}\"]}},\"sensitive_attributes\":[],\"private\":\"eyJzY2hlbWFfdmVyc2lvbiI6IjEifQ==\"}}", i % 3);
        } else if step <= vpcs + s.instances + s.databases {
            let d = step - 1 - vpcs - s.instances;
            if d == 0 {
                if s.instances > 0 {
                    out.push_str("\n    ]}");
                }
                out.push_str(",\n    {\"mode\":\"managed\",\"type\":\"aws_db_instance\",\"name\":\"db\",\"instances\":[\n");
            }
            let v = d % vpcs;
            let sep = if d == 0 { "" } else { ",\n" };
            let _ = write!(
                out,
                "{sep}      {{\"index_key\":{d},\"schema_version\":2,\"attributes\":{{\"address\":\"db-{d}.c0abcdefghij.eu-west-1.rds.amazonaws.com\",\"allocated_storage\":20,\"arn\":\"arn:aws:rds:eu-west-1:123456789012:db:db-{d}\",\"auto_minor_version_upgrade\":true,\"availability_zone\":\"eu-west-1a\",\"backup_retention_period\":7,\"ca_cert_identifier\":\"rds-ca-rsa2048-g1\",\"db_name\":\"app\",\"db_subnet_group_name\":\"db-{v}\",\"deletion_protection\":false,\"endpoint\":\"db-{d}.c0abcdefghij.eu-west-1.rds.amazonaws.com:5432\",\"engine\":\"postgres\",\"engine_version\":\"16.3\",\"hosted_zone_id\":\"Z29XKXDKYMONMX\",\"id\":\"db-{d:08x}\",\"identifier\":\"db-{d}\",\"instance_class\":\"db.t4g.micro\",\"multi_az\":false,\"port\":5432,\"publicly_accessible\":false,\"resource_id\":\"db-ABCDEFGH{d:08}\",\"status\":\"available\",\"storage_encrypted\":true,\"storage_type\":\"gp3\",\"tags\":{{\"Name\":\"db-{d}\"}},\"username\":\"app\",\"vpc_security_group_ids\":[\"sg-{v:06x}02\"]}},\"sensitive_attributes\":[],\"private\":\"eyJzY2hlbWFfdmVyc2lvbiI6IjIifQ==\"}}"
            );
        } else if step == vpcs + s.instances + s.databases + 1 {
            if s.instances > 0 || s.databases > 0 {
                out.push_str("\n    ]}");
            }
            out.push_str("\n  ],\n  \"check_results\": null\n}\n");
        } else {
            return false;
        }
        self.buf = out.into_bytes();
        true
    }
}

impl Read for StateReader {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        loop {
            if self.done {
                return Ok(0);
            }
            if self.pos < self.buf.len() {
                let mut n = (self.buf.len() - self.pos).min(out.len());
                if let Some(limit) = self.shape.truncate_at {
                    n = n.min(limit.saturating_sub(self.produced));
                    if n == 0 {
                        self.done = true;
                        return Ok(0);
                    }
                }
                out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
                self.pos += n;
                self.produced += n;
                return Ok(n);
            }
            if !self.next_piece() {
                self.done = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_synthetic_state_imports() {
        let (t, r) =
            crate::tfstate::import_reader(StateReader::new(Shape::instances(2500)), "synth")
                .unwrap();
        assert_eq!(t.hosts.len(), 2500);
        assert_eq!(t.vpcs.len(), 3);
        assert_eq!(t.subnets.len(), 12);
        assert_eq!(t.firewalls.len(), 9);
        assert!(r.warnings.is_empty(), "{:?}", r.warnings);
        assert!(t
            .hosts
            .iter()
            .all(|h| h.vpc.is_some() && !h.security_groups.is_empty()));
        let text = {
            let mut s = String::new();
            StateReader::new(Shape::instances(3))
                .read_to_string(&mut s)
                .unwrap();
            s
        };
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["version"], 4);
    }

    #[test]
    fn databases_come_in_subnet_groups() {
        for instances in [0, 1500] {
            let shape = Shape::instances(instances).with_databases(150);
            let mut text = String::new();
            StateReader::new(shape).read_to_string(&mut text).unwrap();
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            let resources = v["resources"].as_array().unwrap();
            let of = |ty: &str| {
                resources
                    .iter()
                    .filter(|r| r["type"] == ty)
                    .map(|r| r["instances"].as_array().unwrap().len())
                    .sum::<usize>()
            };
            assert_eq!(of("aws_db_instance"), 150);
            assert_eq!(of("aws_instance"), instances);
            assert_eq!(of("aws_db_subnet_group"), instances.div_ceil(1000).max(1));
            let (t, r) = crate::tfstate::import_reader(StateReader::new(shape), "synth").unwrap();
            assert!(r.warnings.is_empty(), "{:?}", r.warnings);
            let dbs = t.hosts.iter().filter(|h| h.service.is_some()).count();
            assert_eq!(t.hosts.len(), instances + dbs);
            assert_eq!(
                r.imported.get("aws_db_instance").copied().unwrap_or(0)
                    + r.skipped.get("aws_db_instance").copied().unwrap_or(0),
                150
            );
        }
    }
}
