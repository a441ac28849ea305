//! The VPC map and the services of the demo network.
//!
//! Topology: `gatehouse_vpc` (the demo's Terraform state through its importer, or a synthetic
//! state for measurements). Verdicts: the demo lab's own security-group check
//! (`gatehouse_lab::rules::check`) from the demo client's address.
//!
//! The nested layout below (VPC → subnet → host grid) is an interim stand-in for
//! `gatehouse_vpc::layout`, which is not published yet: it is deterministic, linear in the
//! number of hosts, and returns absolute positions so the UI only draws.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use gatehouse_lab::plan::{self, Proto, ServiceKind};
use gatehouse_lab::rules::{self, Verdict as LabVerdict};
use gatehouse_vpc::Topology;

use crate::dto::{AppError, MapBox, MapHost, MapView, ServiceView, Verdict};

/// A demo host whose name the first connection resolves (starting the handshake).
pub const DEMO_PROBE_HOST: &str = "web-1.internal";

const HOST_W: f64 = 132.0;
const HOST_H: f64 = 40.0;
const GAP: f64 = 8.0;
const HEADER: f64 = 26.0;
const MAX_ROW: f64 = 1800.0;

/// A host before layout.
struct Item {
    id: String,
    name: String,
    ips: Vec<String>,
    groups: Vec<String>,
    services: Vec<String>,
    verdict: Verdict,
    sentence: String,
}

/// A subnet before layout.
struct Group {
    id: String,
    label: String,
    cidr: Option<String>,
    hosts: Vec<Item>,
}

/// A VPC (or the home LAN) before layout.
struct Outer {
    id: String,
    label: String,
    cidr: Option<String>,
    groups: Vec<Group>,
}

/// Lays out outers left to right (wrapping), their subnets left to right (wrapping), hosts
/// in a near-square grid inside each subnet.
fn layout(source: String, outers: Vec<Outer>) -> MapView {
    let mut boxes = Vec::new();
    let mut hosts = Vec::new();
    let (mut ox, mut oy, mut row_h, mut width) = (GAP, GAP, 0.0f64, 0.0f64);
    for outer in outers {
        // Subnet sizes first.
        let sizes: Vec<(f64, f64, usize)> = outer
            .groups
            .iter()
            .map(|g| {
                let n = g.hosts.len().max(1);
                let cols = ((n as f64).sqrt() * 1.6).ceil().max(1.0) as usize;
                let cols = cols.min(n);
                let rows = n.div_ceil(cols);
                let w = cols as f64 * (HOST_W + GAP) + GAP;
                let h = HEADER + rows as f64 * (HOST_H + GAP) + GAP;
                (w, h, cols)
            })
            .collect();
        // Subnets inside the outer box.
        let (mut sx, mut sy, mut srow, mut inner_w) = (GAP, HEADER, 0.0f64, 0.0f64);
        let mut placed = Vec::new();
        for (w, h, cols) in &sizes {
            if sx > GAP && sx + w > MAX_ROW {
                sx = GAP;
                sy += srow + GAP;
                srow = 0.0;
            }
            placed.push((sx, sy, *w, *h, *cols));
            sx += w + GAP;
            srow = srow.max(*h);
            inner_w = inner_w.max(sx);
        }
        let outer_w = inner_w.max(200.0);
        let outer_h = sy + srow + GAP;
        if ox > GAP && ox + outer_w > MAX_ROW {
            ox = GAP;
            oy += row_h + GAP;
            row_h = 0.0;
        }
        boxes.push(MapBox {
            id: outer.id,
            kind: "vpc".into(),
            label: outer.label,
            cidr: outer.cidr,
            x: ox,
            y: oy,
            w: outer_w,
            h: outer_h,
        });
        for (g, (sx, sy, w, h, cols)) in outer.groups.into_iter().zip(placed) {
            let (bx, by) = (ox + sx, oy + sy);
            boxes.push(MapBox {
                id: g.id,
                kind: "subnet".into(),
                label: g.label,
                cidr: g.cidr,
                x: bx,
                y: by,
                w,
                h,
            });
            for (i, it) in g.hosts.into_iter().enumerate() {
                let (c, r) = (i % cols, i / cols);
                hosts.push(MapHost {
                    id: it.id,
                    name: it.name,
                    ips: it.ips,
                    groups: it.groups,
                    services: it.services,
                    verdict: it.verdict,
                    sentence: it.sentence,
                    x: bx + GAP + c as f64 * (HOST_W + GAP),
                    y: by + HEADER + r as f64 * (HOST_H + GAP),
                    w: HOST_W,
                    h: HOST_H,
                });
            }
        }
        ox += outer_w + GAP;
        row_h = row_h.max(outer_h);
        width = width.max(ox);
    }
    MapView {
        source,
        width,
        height: oy + row_h + GAP,
        boxes,
        hosts,
    }
}

fn service_label(s: &plan::Service) -> String {
    let kind = match s.kind {
        ServiceKind::Http => "http",
        ServiceKind::Smb => "smb",
        ServiceKind::LoadBalancer => "http (load balancer)",
        ServiceKind::Redis => "redis",
        ServiceKind::Postgres => "postgres",
        ServiceKind::Dns => "dns",
        ServiceKind::WireGuard => "wireguard",
    };
    format!("{}/{} {kind}", s.proto.as_str(), s.port)
}

/// The verdict for the demo client reaching `host`'s first service, and its sentence.
fn demo_verdict(host: &plan::Host, connected: bool) -> (Verdict, String) {
    let Some(svc) = host
        .services
        .iter()
        .find(|s| s.kind != ServiceKind::WireGuard)
    else {
        return (
            Verdict::Unknown,
            format!("{} offers nothing to VPN clients.", host.name),
        );
    };
    let what = format!("{}/{}", svc.proto.as_str(), svc.port);
    let (verdict, mut sentence) = match rules::check(plan::CLIENT_IP, host.ip, Some(svc.proto), Some(svc.port)) {
        LabVerdict::Admit if host.security_groups.is_empty() => (
            Verdict::Reachable,
            format!(
                "Reachable: {} ({}) is on the home LAN, routed by the tunnel; nothing filters {what}.",
                host.name, host.ip
            ),
        ),
        LabVerdict::Admit => (
            Verdict::Reachable,
            format!(
                "Reachable: {} ({}) admits {what} from the VPN pool through {}.",
                host.name,
                host.ip,
                host.security_groups.join(", ")
            ),
        ),
        LabVerdict::Blocked { group } => (
            Verdict::Blocked,
            format!(
                "Blocked: security group {group} of {} admits {what} only from other groups, not from the VPN ({}).",
                host.name,
                plan::CLIENT_IP
            ),
        ),
        LabVerdict::NoSuchHost => (
            Verdict::NotRouted,
            format!("Not routed: no host at {} behind the tunnel.", host.ip),
        ),
    };
    if !connected {
        sentence.push_str(" (Connect the demo to use it.)");
    }
    (verdict, sentence)
}

fn demo_item(h: &plan::Host, id: String, connected: bool) -> Item {
    let (verdict, sentence) = demo_verdict(h, connected);
    Item {
        id,
        name: h.name.to_owned(),
        ips: vec![h.ip.to_string()],
        groups: h.security_groups.iter().map(|g| (*g).to_owned()).collect(),
        services: h.services.iter().map(service_label).collect(),
        verdict,
        sentence,
    }
}

/// The demo network's map: the VPC from the lab's Terraform state, the home LAN from the lab's
/// plan.
pub fn demo_map(connected: bool) -> Result<MapView, AppError> {
    let (topo, _) =
        gatehouse_vpc::tfstate::import_str(gatehouse_lab::TOPOLOGY_TFSTATE, "demo.tfstate")
            .map_err(|e| AppError::new(format!("demo topology: {e}")))?;
    let mut outers = vpc_outers(&topo, |host| {
        let ip = match host.primary_ip() {
            Some(IpAddr::V4(ip)) => ip,
            _ => return None,
        };
        plan::host_by_ip(ip).map(|p| demo_item(p, host.id.clone(), connected))
    });
    let home: Vec<Item> = plan::HOSTS
        .iter()
        .filter(|h| h.site == plan::Site::Home)
        .map(|h| demo_item(h, format!("home-{}", h.name), connected))
        .collect();
    outers.push(Outer {
        id: "home".into(),
        label: "Home LAN".into(),
        cidr: Some(format!("{}/{}", plan::HOME_CIDR.0, plan::HOME_CIDR.1)),
        groups: vec![Group {
            id: "home-lan".into(),
            label: "lan".into(),
            cidr: Some(format!("{}/{}", plan::HOME_CIDR.0, plan::HOME_CIDR.1)),
            hosts: home,
        }],
    });
    Ok(layout("demo".into(), outers))
}

/// A map of a synthetic Terraform state with `instances` hosts (for measurements).
pub fn synthetic_map(instances: u32) -> Result<MapView, AppError> {
    let shape = gatehouse_vpc::synth::Shape::instances(instances as usize);
    let reader = gatehouse_vpc::synth::StateReader::new(shape);
    let (topo, _) =
        gatehouse_vpc::tfstate::import_reader(std::io::BufReader::new(reader), "synthetic.tfstate")
            .map_err(|e| AppError::new(format!("synthetic topology: {e}")))?;
    let outers = vpc_outers(&topo, |h| {
        Some(Item {
            id: h.id.clone(),
            name: h.name.clone(),
            ips: h.private_ips.iter().map(|i| i.to_string()).collect(),
            groups: h.security_groups.clone(),
            services: Vec::new(),
            verdict: Verdict::Unknown,
            sentence: "Unknown: no connection routes to this VPC.".into(),
        })
    });
    Ok(layout(format!("synthetic ({instances} hosts)"), outers))
}

/// VPCs with their subnets and hosts (hosts outside any subnet in a "no subnet" group).
fn vpc_outers(
    topo: &Topology,
    item: impl Fn(&gatehouse_vpc::model::Host) -> Option<Item>,
) -> Vec<Outer> {
    let mut by_subnet: BTreeMap<Option<&str>, Vec<Item>> = BTreeMap::new();
    for h in &topo.hosts {
        if let Some(it) = item(h) {
            by_subnet.entry(h.subnet.as_deref()).or_default().push(it);
        }
    }
    let mut outers = Vec::new();
    for v in &topo.vpcs {
        let groups = topo
            .subnets
            .iter()
            .filter(|s| s.vpc.as_deref() == Some(v.id.as_str()))
            .map(|s| Group {
                id: s.id.clone(),
                label: s.name.clone(),
                cidr: s.cidr.map(|c| c.to_string()),
                hosts: by_subnet.remove(&Some(s.id.as_str())).unwrap_or_default(),
            })
            .collect();
        outers.push(Outer {
            id: v.id.clone(),
            label: v.name.clone(),
            cidr: v.cidrs.first().map(|c| c.to_string()),
            groups,
        });
    }
    let rest: Vec<Item> = by_subnet.into_values().flatten().collect();
    if !rest.is_empty() {
        outers.push(Outer {
            id: "elsewhere".into(),
            label: "Outside any subnet".into(),
            cidr: None,
            groups: vec![Group {
                id: "elsewhere-hosts".into(),
                label: "hosts".into(),
                cidr: None,
                hosts: rest,
            }],
        });
    }
    outers
}

/// A demo service's address, host name and whether it speaks HTTP.
#[derive(Debug, Clone, Copy)]
pub struct DemoTarget {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its DNS name.
    pub host: &'static str,
    /// HTTP (web server or load balancer).
    pub http: bool,
}

/// The demo service of host `name` (or its DNS name or IP) on `port`.
pub fn demo_target(name: &str, port: u16) -> Option<DemoTarget> {
    let host = plan::HOSTS
        .iter()
        .find(|h| h.name == name || h.fqdn == name || h.ip.to_string() == name)?;
    let svc = host
        .services
        .iter()
        .find(|s| s.port == port && s.proto == Proto::Tcp)?;
    Some(DemoTarget {
        addr: SocketAddr::new(IpAddr::V4(host.ip), port),
        host: host.fqdn,
        http: matches!(svc.kind, ServiceKind::Http | ServiceKind::LoadBalancer),
    })
}

/// Every TCP service of the demo, with a command that reaches it.
pub fn demo_services(socks: Option<SocketAddr>) -> Vec<ServiceView> {
    let mut out = Vec::new();
    for h in plan::HOSTS {
        let (verdict, _) = demo_verdict(h, true);
        for s in h.services.iter().filter(|s| s.proto == Proto::Tcp) {
            let (kind, command) = match s.kind {
                ServiceKind::Http | ServiceKind::LoadBalancer => {
                    let proxy = socks
                        .map(|a| format!("--proxy socks5h://{a} "))
                        .unwrap_or_default();
                    ("http", format!("curl {proxy}http://{}:{}/", h.fqdn, s.port))
                }
                ServiceKind::Postgres => (
                    "postgres",
                    format!("psql \"host={} port={} user=postgres\"", h.fqdn, s.port),
                ),
                ServiceKind::Redis => ("redis", format!("redis-cli -h {} -p {}", h.fqdn, s.port)),
                ServiceKind::Smb => ("smb", format!("smbclient -L //{} -p {}", h.fqdn, s.port)),
                ServiceKind::Dns | ServiceKind::WireGuard => continue,
            };
            out.push(ServiceView {
                connection: crate::backend::DEMO.into(),
                host: h.name.into(),
                fqdn: h.fqdn.into(),
                ip: h.ip.to_string(),
                port: s.port,
                kind: kind.into(),
                verdict,
                command,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_map_nests_hosts_in_their_boxes_with_verdicts() {
        let m = demo_map(true).expect("demo map");
        assert!(m.hosts.len() >= 8, "{} hosts", m.hosts.len());
        for h in &m.hosts {
            let inside = m.boxes.iter().any(|b| {
                b.kind == "subnet"
                    && h.x >= b.x
                    && h.y >= b.y
                    && h.x + h.w <= b.x + b.w
                    && h.y + h.h <= b.y + b.h
            });
            assert!(inside, "{} is outside every subnet box", h.name);
        }
        let replica = m
            .hosts
            .iter()
            .find(|h| h.name == "db-replica")
            .expect("replica");
        assert_eq!(replica.verdict, Verdict::Blocked, "{}", replica.sentence);
        let db = m.hosts.iter().find(|h| h.name == "db").expect("db");
        assert_eq!(db.verdict, Verdict::Reachable, "{}", db.sentence);
    }

    #[test]
    fn synthetic_map_places_every_host() {
        let m = synthetic_map(1000).expect("map");
        assert_eq!(m.hosts.len(), 1000);
        assert!(m.width > 0.0 && m.height > 0.0);
    }

    #[test]
    fn demo_targets_and_services() {
        let t = demo_target("web-1", 80).expect("web-1");
        assert!(t.http);
        assert!(demo_target("web-1", 81).is_none());
        assert!(demo_target("nope", 80).is_none());
        let s = demo_services(None);
        assert!(s
            .iter()
            .any(|s| s.kind == "postgres" && s.command.starts_with("psql")));
    }
}
