//! The lab's VPC as Terraform state v4 (`topology.tfstate`, embedded in the binary), in the
//! format the VPC importer reads. A test checks it against [`crate::plan`]: the same instances
//! at the same addresses, security groups admitting exactly the ports the hosts serve, the load
//! balancer in front of the web servers.

/// The Terraform state (v4 JSON) of the lab's VPC.
pub const TOPOLOGY_TFSTATE: &str = include_str!("../topology.tfstate");

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};
    use std::net::Ipv4Addr;

    use serde_json::Value;

    use super::TOPOLOGY_TFSTATE;
    use crate::plan::{self, Proto, RuleSource, ServiceKind, Site, HOSTS, SECURITY_GROUPS};

    fn state() -> Value {
        serde_json::from_str(TOPOLOGY_TFSTATE).expect("topology.tfstate is JSON")
    }

    /// Every instance's attributes of resources of type `ty`.
    fn instances(state: &Value, ty: &str) -> Vec<Value> {
        state["resources"]
            .as_array()
            .expect("resources")
            .iter()
            .filter(|r| r["type"] == ty && r["mode"] == "managed")
            .flat_map(|r| r["instances"].as_array().cloned().unwrap_or_default())
            .map(|i| i["attributes"].clone())
            .collect()
    }

    fn tag_name(attrs: &Value) -> String {
        attrs["tags"]["Name"].as_str().expect("Name tag").to_owned()
    }

    fn proto(p: &str) -> Proto {
        match p {
            "tcp" => Proto::Tcp,
            "udp" => Proto::Udp,
            other => panic!("unexpected protocol {other}"),
        }
    }

    fn net(cidr: &str) -> (Ipv4Addr, u8) {
        let (a, l) = cidr.split_once('/').expect("cidr");
        (a.parse().expect("addr"), l.parse().expect("len"))
    }

    #[test]
    fn it_is_terraform_state_v4_of_the_lab_vpc() {
        let s = state();
        assert_eq!(s["version"], 4);
        let vpcs = instances(&s, "aws_vpc");
        assert_eq!(vpcs.len(), 1);
        assert_eq!(
            net(vpcs[0]["cidr_block"].as_str().expect("cidr")),
            plan::VPC_CIDR
        );
        let subnets: BTreeMap<String, String> = instances(&s, "aws_subnet")
            .iter()
            .map(|a| {
                (
                    tag_name(a),
                    a["cidr_block"].as_str().expect("cidr").to_owned(),
                )
            })
            .collect();
        assert_eq!(subnets.len(), 3);
        for host in HOSTS.iter().filter(|h| h.site == Site::Vpc) {
            let cidr = &subnets[&format!("lab-{}", host.subnet)];
            assert!(plan::in_net(host.ip, net(cidr)), "{} in {cidr}", host.name);
        }
    }

    /// The instances plus the load balancer are exactly the lab's VPC hosts, at the same
    /// addresses, and their security groups admit exactly the ports the lab serves there.
    #[test]
    fn it_lists_exactly_the_hosts_and_ports_the_lab_serves() {
        let s = state();
        let sg_names: BTreeMap<String, String> = instances(&s, "aws_security_group")
            .iter()
            .map(|a| {
                (
                    a["id"].as_str().expect("id").to_owned(),
                    a["name"].as_str().expect("name").to_owned(),
                )
            })
            .collect();
        // (host name) -> (ip, security group names)
        let mut in_state: BTreeMap<String, (Ipv4Addr, BTreeSet<String>)> = BTreeMap::new();
        for a in instances(&s, "aws_instance") {
            let sgs = a["vpc_security_group_ids"]
                .as_array()
                .expect("sg ids")
                .iter()
                .map(|id| sg_names[id.as_str().expect("id")].clone())
                .collect();
            let ip = a["private_ip"].as_str().expect("ip").parse().expect("ip");
            assert_eq!(a["instance_state"], "running");
            in_state.insert(tag_name(&a), (ip, sgs));
        }
        // Managed databases: the state has their endpoint name, which the lab's DNS resolves
        // (as the tunnel's DNS does for a client).
        for a in instances(&s, "aws_db_instance") {
            let sgs = a["vpc_security_group_ids"]
                .as_array()
                .expect("sg ids")
                .iter()
                .map(|id| sg_names[id.as_str().expect("id")].clone())
                .collect();
            let address = a["address"].as_str().expect("address");
            let ip = crate::dns::lookup(address).expect("the lab's DNS knows the endpoint");
            assert_eq!(a["status"], "available");
            in_state.insert(a["identifier"].as_str().expect("id").to_owned(), (ip, sgs));
        }
        for a in instances(&s, "aws_lb") {
            let ip = a["subnet_mapping"][0]["private_ipv4_address"]
                .as_str()
                .expect("lb ip")
                .parse()
                .expect("ip");
            let sgs = a["security_groups"]
                .as_array()
                .expect("lb sgs")
                .iter()
                .map(|id| sg_names[id.as_str().expect("id")].clone())
                .collect();
            in_state.insert(a["name"].as_str().expect("name").to_owned(), (ip, sgs));
        }
        let in_lab: BTreeMap<String, (Ipv4Addr, BTreeSet<String>)> = HOSTS
            .iter()
            .filter(|h| h.site == Site::Vpc)
            .map(|h| {
                let sgs = h.security_groups.iter().map(|g| (*g).to_owned()).collect();
                (h.name.to_owned(), (h.ip, sgs))
            })
            .collect();
        assert_eq!(in_state, in_lab);

        // Security groups: inline ingress plus aws_security_group_rule resources.
        let mut rules: BTreeSet<(String, Proto, u16, u16, String)> = BTreeSet::new();
        for a in instances(&s, "aws_security_group") {
            let name = a["name"].as_str().expect("name").to_owned();
            for r in a["ingress"].as_array().expect("ingress") {
                let p = proto(r["protocol"].as_str().expect("protocol"));
                let (from, to) = (
                    r["from_port"].as_u64().expect("from") as u16,
                    r["to_port"].as_u64().expect("to") as u16,
                );
                for c in r["cidr_blocks"].as_array().expect("cidrs") {
                    rules.insert((name.clone(), p, from, to, c.as_str().expect("c").to_owned()));
                }
                for g in r["security_groups"].as_array().expect("groups") {
                    let g = sg_names[g.as_str().expect("g")].clone();
                    rules.insert((name.clone(), p, from, to, g));
                }
            }
        }
        for a in instances(&s, "aws_security_group_rule") {
            assert_eq!(a["type"], "ingress");
            let name = sg_names[a["security_group_id"].as_str().expect("sg")].clone();
            let src = sg_names[a["source_security_group_id"].as_str().expect("src")].clone();
            rules.insert((
                name,
                proto(a["protocol"].as_str().expect("protocol")),
                a["from_port"].as_u64().expect("from") as u16,
                a["to_port"].as_u64().expect("to") as u16,
                src,
            ));
        }
        let lab_rules: BTreeSet<(String, Proto, u16, u16, String)> = SECURITY_GROUPS
            .iter()
            .flat_map(|g| {
                g.ingress.iter().map(move |r| {
                    let src = match r.source {
                        RuleSource::Cidr(a, l) => format!("{a}/{l}"),
                        RuleSource::Group(g) => g.to_owned(),
                    };
                    (g.name.to_owned(), r.proto, r.from_port, r.to_port, src)
                })
            })
            .collect();
        assert_eq!(rules, lab_rules);

        // Every served port is admitted by some rule of the host's groups, and every admitted
        // port is served: the map and the lab cannot drift apart.
        for host in HOSTS.iter().filter(|h| h.site == Site::Vpc) {
            let served: BTreeSet<(Proto, u16)> =
                host.services.iter().map(|s| (s.proto, s.port)).collect();
            let admitted: BTreeSet<(Proto, u16)> = lab_rules
                .iter()
                .filter(|r| host.security_groups.contains(&r.0.as_str()))
                .flat_map(|r| (r.2..=r.3).map(move |p| (r.1, p)))
                .collect();
            assert_eq!(served, admitted, "{}", host.name);
        }
    }

    #[test]
    fn the_load_balancer_forwards_port_80_to_the_web_servers() {
        let s = state();
        let listeners = instances(&s, "aws_lb_listener");
        assert_eq!(listeners.len(), 1);
        assert_eq!(listeners[0]["port"], 80);
        let lb = plan::host_by_name("lb").expect("lb");
        assert!(lb
            .services
            .iter()
            .any(|s| s.port == 80 && s.kind == ServiceKind::LoadBalancer));
        let tg = instances(&s, "aws_lb_target_group");
        assert_eq!(tg[0]["port"], 80);
        assert_eq!(
            listeners[0]["default_action"][0]["target_group_arn"],
            tg[0]["arn"]
        );
        let ids: BTreeMap<String, String> = instances(&s, "aws_instance")
            .iter()
            .map(|a| (a["id"].as_str().expect("id").to_owned(), tag_name(a)))
            .collect();
        let targets: Vec<String> = instances(&s, "aws_lb_target_group_attachment")
            .iter()
            .map(|a| ids[a["target_id"].as_str().expect("target")].clone())
            .collect();
        assert_eq!(targets, plan::LB_TARGETS);
    }

    #[test]
    fn private_subnets_route_the_vpn_pool_through_the_vpn_host() {
        let s = state();
        let vpn = instances(&s, "aws_instance")
            .into_iter()
            .find(|a| tag_name(a) == "vpn-gw")
            .expect("vpn-gw");
        assert_eq!(vpn["source_dest_check"], false);
        let eni = vpn["primary_network_interface_id"].clone();
        let pool = format!("{}/{}", plan::VPN_POOL.0, plan::VPN_POOL.1);
        for rt in instances(&s, "aws_route_table") {
            let routes = rt["route"].as_array().expect("routes");
            assert!(
                routes
                    .iter()
                    .any(|r| r["cidr_block"] == pool.as_str() && r["network_interface_id"] == eni),
                "{}",
                tag_name(&rt)
            );
        }
        assert_eq!(instances(&s, "aws_route_table_association").len(), 3);
    }
}

/// The VPC importer and the reachability analysis read the lab's map and, from the lab's own
/// profile, reach exactly the verdicts the lab's firewall enforces.
#[cfg(test)]
mod vpc_tests {
    use std::net::{IpAddr, SocketAddr};

    use gatehouse_vpc::model::Protocol;
    use gatehouse_vpc::reach::{Analyzer, Status, Tunnel, TunnelPeer, VpnHint};

    use super::TOPOLOGY_TFSTATE;
    use crate::plan::{self, Proto, ServiceKind, Site, CLIENT_IP, HOSTS};
    use crate::rules::{self, Verdict};

    #[test]
    fn the_importer_and_the_analysis_agree_with_the_lab() {
        let (mut topo, report) =
            gatehouse_vpc::tfstate::import_str(TOPOLOGY_TFSTATE, "topology.tfstate")
                .expect("the lab's topology imports");
        assert!(report.skipped.is_empty(), "{report:?}");
        // The managed database: its endpoint, resolved by the lab's DNS as the tunnel's DNS
        // resolves it for a client.
        let db = topo
            .find_host("orders-db")
            .expect("the RDS instance is a host");
        let service = db.service.clone().expect("with its service");
        assert_eq!(service.endpoint.as_deref(), Some("orders-db.internal"));
        assert_eq!(service.ports, [5432]);
        assert_eq!(db.subnet.as_deref(), Some("subnet-0a11ab5e1ab000003"));
        for h in &mut topo.hosts {
            if let Some(e) = h.service.as_ref().and_then(|s| s.endpoint.as_deref()) {
                h.private_ips.extend(crate::dns::lookup(e).map(IpAddr::V4));
            }
        }
        let vpc_hosts: Vec<_> = HOSTS.iter().filter(|h| h.site == Site::Vpc).collect();
        // Instances are hosts; the load balancer is a load balancer.
        assert_eq!(topo.hosts.len(), vpc_hosts.len() - 1);
        assert_eq!(topo.load_balancers.len(), 1);

        let endpoint: SocketAddr = "127.0.0.1:51820".parse().expect("addr");
        let profile = crate::client_profile(
            gatehouse_profile::Secret::generate(),
            gatehouse_profile::Secret::generate().public_key(),
            endpoint,
        );
        let tunnel = Tunnel {
            addresses: profile.interface.addresses.clone(),
            peers: vec![TunnelPeer {
                name: "lab".into(),
                endpoint: Some(endpoint.ip()),
                allowed_ips: profile.peers[0].allowed_ips.clone(),
            }],
            local_routes: Vec::new(),
        };
        let hint = VpnHint::default();
        let analyzer = Analyzer::new(&topo, Some(&tunnel), &hint, &[]);
        let mut sentences = Vec::new();
        for host in vpc_hosts {
            for svc in host.services {
                if svc.kind == ServiceKind::WireGuard {
                    continue; // the gateway's own socket, not a service behind the tunnel
                }
                let proto = match svc.proto {
                    Proto::Tcp => Protocol::Tcp,
                    Proto::Udp => Protocol::Udp,
                };
                let v = analyzer.check_key(&host.ip.to_string(), proto, svc.port);
                let expected =
                    match rules::check(CLIENT_IP, host.ip, Some(svc.proto), Some(svc.port)) {
                        Verdict::Admit => Status::Reachable,
                        Verdict::Blocked { .. } => Status::Blocked,
                        Verdict::NoSuchHost => Status::Unknown,
                    };
                assert_eq!(
                    v.status, expected,
                    "{}:{}: {}",
                    host.name, svc.port, v.sentence
                );
                assert_eq!(
                    v.arrives_from,
                    Some(IpAddr::V4(CLIENT_IP)),
                    "{}",
                    v.sentence
                );
                sentences.push(v.sentence);
            }
        }
        let replica = plan::host_by_name("db-replica").expect("replica");
        let v = analyzer.check_key(&replica.ip.to_string(), Protocol::Tcp, 5432);
        assert!(v.sentence.contains("sg-replica"), "{}", v.sentence);
        eprintln!("{}", sentences.join("\n"));
    }
}
