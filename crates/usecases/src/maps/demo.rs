//! The demo network's map: the lab's VPC (its Terraform state) and the home LAN beside it,
//! seen from the demo profile.

use std::collections::BTreeMap;
use std::net::IpAddr;

use gatehouse_lab::plan::{self, Proto};
use gatehouse_profile::Config;
use gatehouse_vpc::model::{Host, Protocol, Provider, Subnet, Vpc};
use gatehouse_vpc::probe::ProbeResult;
use gatehouse_vpc::reach::VpnHint;
use gatehouse_vpc::Topology;
use ipnet::{IpNet, Ipv4Net};

use super::{map_view, tunnel_of, Lan};
use crate::demo::{kind_name, DEMO};
use crate::views::{AppError, MapView};

fn service_label(s: &plan::Service) -> String {
    let kind = match kind_name(s.kind).as_str() {
        "loadbalancer" => "http (load balancer)".to_owned(),
        "tls" => "https".to_owned(),
        other => other.to_owned(),
    };
    format!("{}/{} {kind}", s.proto.as_str(), s.port)
}

/// The demo lab's VPC: its Terraform state, with the managed database's endpoint name
/// resolved by the lab's DNS (as the tunnel's DNS resolves it for the demo profile).
pub fn demo_topology() -> Result<Topology, AppError> {
    let (mut topo, _) =
        gatehouse_vpc::tfstate::import_str(gatehouse_lab::TOPOLOGY_TFSTATE, "demo.tfstate")
            .map_err(|e| AppError::new(format!("demo topology: {e}")))?;
    for h in &mut topo.hosts {
        let endpoint = h.service.as_ref().and_then(|s| s.endpoint.as_deref());
        if let (true, Some(ip)) = (
            h.private_ips.is_empty(),
            endpoint.and_then(gatehouse_lab::dns::lookup),
        ) {
            h.private_ips.push(IpAddr::V4(ip));
        }
    }
    Ok(topo)
}

/// The demo's home LAN as a network of its own: a flat LAN whose router NATs what comes from
/// the lab's gateway.
pub fn demo_home() -> Result<Topology, AppError> {
    let mut topo = Topology::default();
    let home = IpNet::V4(
        Ipv4Net::new(plan::HOME_CIDR.0, plan::HOME_CIDR.1)
            .map_err(|e| AppError::new(format!("demo home LAN: {e}")))?,
    );
    topo.vpcs.push(Vpc {
        id: "home".into(),
        name: "Home LAN".into(),
        provider: Provider::Other,
        region: Some("Home network".into()),
        cidrs: vec![home],
        main_route_table: None,
        tags: BTreeMap::new(),
        placeholder: false,
    });
    topo.subnets.push(Subnet {
        id: "home-lan".into(),
        name: "lan".into(),
        vpc: Some("home".into()),
        cidr: Some(home),
        zone: None,
        region: None,
        public: None,
        tags: BTreeMap::new(),
    });
    for h in plan::HOSTS.iter().filter(|h| h.site == plan::Site::Home) {
        let mut tags = BTreeMap::new();
        tags.insert("Name".to_owned(), h.name.to_owned());
        topo.hosts.push(Host {
            id: format!("home-{}", h.name),
            name: h.name.to_owned(),
            provider: Provider::Other,
            vpc: Some("home".into()),
            subnet: Some("home-lan".into()),
            zone: None,
            private_ips: vec![IpAddr::V4(h.ip)],
            public_ip: None,
            tags,
            labels: Vec::new(),
            security_groups: Vec::new(),
            state: None,
            source_dest_check: None,
            interfaces: Vec::new(),
            service: None,
            subnets: Vec::new(),
        });
    }
    Ok(topo)
}

pub(crate) fn home_hint() -> VpnHint {
    VpnHint {
        host: Some("home-router".into()),
        nat: Some(true),
    }
}

fn demo_services_of(h: &Host) -> Option<Vec<(Protocol, u16, String)>> {
    let ip = match h.primary_ip() {
        Some(IpAddr::V4(ip)) => ip,
        _ => return None,
    };
    let host = plan::host_by_ip(ip)?;
    Some(
        host.services
            .iter()
            .filter(|s| kind_name(s.kind) != "wireguard")
            .map(|s| {
                let proto = match s.proto {
                    Proto::Tcp => Protocol::Tcp,
                    Proto::Udp => Protocol::Udp,
                };
                (proto, s.port, service_label(s))
            })
            .collect(),
    )
}

/// The demo network's map, seen from the demo profile (`connected`: whether it runs), with the
/// last scan's `probes`.
pub fn demo_map(
    profile: &Config,
    connected: bool,
    probes: &[ProbeResult],
) -> Result<MapView, AppError> {
    let topo = demo_topology()?;
    let home = demo_home()?;
    let lan = Lan {
        topo: &home,
        hint: home_hint(),
    };
    let tunnel = tunnel_of(profile, DEMO);
    let note = (!connected).then_some("(Connect the demo to use it.)");
    Ok(map_view(
        "demo".into(),
        &topo,
        Some(&lan),
        Some(&tunnel),
        &demo_services_of,
        note,
        probes,
    ))
}
