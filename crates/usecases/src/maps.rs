//! The VPC map, computed by `gatehouse_vpc`: a topology (Terraform state through its importer,
//! an AWS or DigitalOcean account read live, the demo lab's state, or a synthetic one), its
//! layout (`gatehouse_vpc::layout`) and the reachability of every host from the active profile
//! (`gatehouse_vpc::reach`), given by the caller. This module only turns them into what the UI
//! draws.

pub mod demo;

use std::collections::HashMap;

use gatehouse_profile::Config;
use gatehouse_vpc::layout::{layout, NodeKind};
use gatehouse_vpc::model::{Host, Protocol};
use gatehouse_vpc::probe::{reach_probes, ProbeResult};
use gatehouse_vpc::reach::{Analyzer, Code, Hop, Status, Tunnel, VpnHint};
use gatehouse_vpc::Topology;

use crate::views::{err, AppError, HopStatus, MapBox, MapEdge, MapHost, MapView, PathHop, Verdict};

pub use demo::{demo_map, demo_topology};

/// The reachability input of a profile: its addresses and its peers' AllowedIPs.
pub fn tunnel_of(config: &Config, label: &str) -> Tunnel {
    Tunnel::of_interface(
        config.interface.addresses.clone(),
        config.peers.iter().map(|p| {
            (
                p.endpoint.as_ref().and_then(|e| e.ip()),
                p.allowed_ips.clone(),
            )
        }),
        label,
    )
}

/// The overall verdict of one target from the verdicts of `ports` (none: the ports its rules
/// name): reachable when one port is, else the first port's verdict.
fn host_verdict(
    analyzer: &Analyzer<'_>,
    target: &Host,
    ports: Option<Vec<(Protocol, u16)>>,
) -> (Verdict, String, Vec<String>, Vec<PathHop>) {
    let ports = ports
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| analyzer.candidate_ports(target));
    let verdicts: Vec<_> = ports
        .into_iter()
        .map(|(proto, port)| analyzer.check(target, proto, port))
        .collect();
    let chosen = verdicts
        .iter()
        .find(|v| v.status == Status::Reachable)
        .or_else(|| verdicts.first());
    match chosen {
        Some(v) => (
            verdict_of(v),
            v.sentence.clone(),
            v.codes().iter().map(|c| c.as_str().to_owned()).collect(),
            path_of(v),
        ),
        None => (
            Verdict::Unknown,
            format!("{}: nothing to check.", target.name),
            Vec::new(),
            Vec::new(),
        ),
    }
}

/// The hops of a verdict in path order: this laptop, then each hop something was found at,
/// with the worst status of its findings.
pub(crate) fn path_of(v: &gatehouse_vpc::reach::Verdict) -> Vec<PathHop> {
    let mut path = vec![PathHop {
        hop: "laptop".into(),
        label: "This laptop".into(),
        status: HopStatus::Ok,
        detail: match v.arrives_from {
            Some(a) => format!("traffic leaves as {a}"),
            None => String::new(),
        },
        codes: Vec::new(),
    }];
    for hop in Hop::ALL {
        let found: Vec<_> = v.findings.iter().filter(|f| f.code.hop() == hop).collect();
        if found.is_empty() {
            continue;
        }
        let status = if found.iter().any(|f| f.status == Status::Blocked) {
            HopStatus::Broken
        } else if found.iter().any(|f| f.status == Status::Unknown) {
            HopStatus::Unknown
        } else {
            HopStatus::Ok
        };
        let port = match v.protocol {
            Protocol::Udp => format!("{}/udp", v.port),
            _ => v.port.to_string(),
        };
        path.push(PathHop {
            hop: hop.as_str().into(),
            label: match hop {
                Hop::Tunnel => "Tunnel".into(),
                Hop::VpnHost => "VPN host".into(),
                Hop::Route => "Route tables".into(),
                Hop::NetworkAcl => "Network ACL".into(),
                Hop::SecurityGroup => "Security groups".into(),
                Hop::Host => format!("{}:{port}", v.name),
            },
            status,
            detail: found
                .iter()
                .map(|f| f.detail.as_str())
                .collect::<Vec<_>>()
                .join("; "),
            codes: found.iter().map(|f| f.code.as_str().to_owned()).collect(),
        });
    }
    path
}

/// Writes an exported map to `path` (`~` expands): an SVG document (`data` is its text) when the
/// path ends in `.svg`, a PNG picture (`data` is its base64, a `data:` URL prefix allowed) when
/// it ends in `.png`. What does not look like the format asked for is refused and nothing is
/// written; the file is replaced atomically. Returns the path written.
pub fn export_map(path: &str, data: &str) -> Result<String, AppError> {
    use base64::Engine as _;
    let lower = path.to_ascii_lowercase();
    let bytes = if lower.ends_with(".svg") {
        let t = data.trim_start();
        if !(t.starts_with("<svg") || t.starts_with("<?xml")) || !data.contains("</svg>") {
            return Err(AppError::new("the map export is not an SVG document"));
        }
        data.as_bytes().to_vec()
    } else if lower.ends_with(".png") {
        let b64 = data.split_once("base64,").map_or(data, |(_, b)| b);
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .map_err(|e| AppError::new(format!("the map picture is not base64: {e}")))?;
        if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            return Err(AppError::new("the map picture is not a PNG"));
        }
        bytes
    } else {
        return Err(AppError::new(format!(
            "{path}: the map is exported as .svg or .png"
        )));
    };
    let target = crate::profiles::expand_home(path)?;
    if target.is_dir() {
        return Err(AppError::new(format!("{path}: is a directory")));
    }
    gatehouse_profile::store::write_atomic(&target, &bytes)
        .map_err(|e| AppError::new(format!("{path}: cannot write: {e}")))?;
    Ok(target.display().to_string())
}

/// What a target serves: (protocol, port, label) each.
pub type Services<'a> = &'a dyn Fn(&Host) -> Option<Vec<(Protocol, u16, String)>>;

pub(crate) fn verdict_of(v: &gatehouse_vpc::reach::Verdict) -> Verdict {
    match v.status {
        Status::Reachable => Verdict::Reachable,
        Status::Blocked if v.has(Code::TunnelNoPeer) || v.has(Code::TunnelShadowed) => {
            Verdict::NotRouted
        }
        Status::Blocked => Verdict::Blocked,
        Status::Unknown => Verdict::Unknown,
    }
}

fn candidate_labels(analyzer: &Analyzer<'_>, target: &Host) -> Vec<String> {
    analyzer
        .candidate_ports(target)
        .into_iter()
        .map(|(proto, port)| {
            let p = match &proto {
                Protocol::Tcp => "tcp",
                Protocol::Udp => "udp",
                Protocol::Icmp => "icmp",
                Protocol::All => "all",
                Protocol::Other(o) => o.as_str(),
            };
            format!("{p}/{port}")
        })
        .collect()
}

/// A network drawn beside the VPCs but analysed on its own (the demo's home LAN, reached
/// through the gateway's NAT, not through a VPC's routes): its topology and VPN host.
pub struct Lan<'a> {
    /// Its networks and hosts.
    pub topo: &'a Topology,
    /// Its VPN host and whether it NATs.
    pub hint: VpnHint,
}

/// The map of `topo` (and `lan` beside it): its layout, each host and load balancer with its
/// verdict from `tunnel` (none: no profile is active) and the last scan's `probes` (a scanned
/// port's verdict says `probe-open` / `probe-closed`). `services` names a target's services
/// (default: the ports its rules name); `note` is appended to every sentence.
pub fn map_view(
    source: String,
    topo: &Topology,
    lan: Option<&Lan<'_>>,
    tunnel: Option<&Tunnel>,
    services: Services<'_>,
    note: Option<&str>,
    probes: &[ProbeResult],
) -> MapView {
    let hint = VpnHint::default();
    let main_probes = reach_probes(probes, topo);
    let lan_probes = lan
        .map(|l| reach_probes(probes, l.topo))
        .unwrap_or_default();
    let main = Analyzer::new(topo, tunnel, &hint, &main_probes);
    let lan_analyzer = lan.map(|l| Analyzer::new(l.topo, tunnel, &l.hint, &lan_probes));
    let mut targets: HashMap<String, (Host, &Analyzer<'_>)> = main
        .targets()
        .into_iter()
        .map(|t| (t.id.clone(), (t, &main)))
        .collect();
    let mut drawn = std::borrow::Cow::Borrowed(topo);
    if let (Some(l), Some(a)) = (lan, lan_analyzer.as_ref()) {
        targets.extend(a.targets().into_iter().map(|t| (t.id.clone(), (t, a))));
        let d = drawn.to_mut();
        d.vpcs.extend(l.topo.vpcs.iter().cloned());
        d.subnets.extend(l.topo.subnets.iter().cloned());
        d.hosts.extend(l.topo.hosts.iter().cloned());
    }
    let topo: &Topology = &drawn;
    let laid = layout(topo);
    let mut boxes = Vec::new();
    let mut hosts = Vec::new();
    let cidr_of_vpc: HashMap<&str, String> = topo
        .vpcs
        .iter()
        .filter_map(|v| v.cidrs.first().map(|c| (v.id.as_str(), c.to_string())))
        .collect();
    let cidr_of_subnet: HashMap<&str, String> = topo
        .subnets
        .iter()
        .filter_map(|s| s.cidr.map(|c| (s.id.as_str(), c.to_string())))
        .collect();
    for n in laid.nodes {
        let kind = match n.kind {
            NodeKind::Region => "region",
            NodeKind::Vpc => "vpc",
            NodeKind::Subnet => "subnet",
            NodeKind::Gateway => "gateway",
            NodeKind::Host | NodeKind::LoadBalancer => {
                let Some((t, analyzer)) = targets.get(&n.id) else {
                    // A load balancer without an address: drawn, not checked.
                    boxes.push(MapBox {
                        id: n.id,
                        kind: "load_balancer".into(),
                        label: n.label,
                        cidr: None,
                        x: n.x,
                        y: n.y,
                        w: n.w,
                        h: n.h,
                    });
                    continue;
                };
                let served = services(t);
                let ports = served
                    .as_ref()
                    .map(|s| s.iter().map(|(p, n, _)| (p.clone(), *n)).collect());
                let (verdict, mut sentence, codes, path) = host_verdict(analyzer, t, ports);
                if let Some(note) = note {
                    sentence.push(' ');
                    sentence.push_str(note);
                }
                let (kind, what, endpoint) = host_kind(t);
                let tags = t
                    .tags
                    .iter()
                    .filter(|(k, _)| k.as_str() != "Name" && !k.starts_with("gatehouse:"))
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                hosts.push(MapHost {
                    subnet: n.parent.clone(),
                    tags,
                    kind,
                    what,
                    endpoint,
                    id: n.id,
                    name: t.name.clone(),
                    ips: t.private_ips.iter().map(|i| i.to_string()).collect(),
                    groups: t.security_groups.clone(),
                    services: match served {
                        Some(s) => s.into_iter().map(|(_, _, label)| label).collect(),
                        None => candidate_labels(analyzer, t),
                    },
                    verdict,
                    sentence,
                    codes,
                    path,
                    x: n.x,
                    y: n.y,
                    w: n.w,
                    h: n.h,
                });
                continue;
            }
        };
        let cidr = match n.kind {
            NodeKind::Vpc => cidr_of_vpc.get(n.id.as_str()).cloned(),
            NodeKind::Subnet => cidr_of_subnet.get(n.id.as_str()).cloned(),
            _ => None,
        };
        // The layout's subnet labels carry the CIDR; the box shows it apart.
        let label = match &cidr {
            Some(c) => match n.label.strip_suffix(&format!(" {c}")) {
                Some(name) => name.to_owned(),
                None => n.label,
            },
            None => n.label,
        };
        boxes.push(MapBox {
            id: n.id,
            kind: kind.into(),
            label,
            cidr,
            x: n.x,
            y: n.y,
            w: n.w,
            h: n.h,
        });
    }
    let gate = main
        .gate()
        .or_else(|| lan_analyzer.as_ref().and_then(|a| a.gate()))
        .filter(|_| tunnel.is_some())
        .map(|h| h.id.clone());
    MapView {
        source,
        width: laid.width,
        height: laid.height,
        edges: edges_of(topo),
        gate,
        boxes,
        hosts,
    }
}

/// Each subnet to where its route table (its own, else its VPC's main one) sends traffic that
/// leaves the VPC: an internet or NAT gateway, a transit gateway, an instance, a peer VPC.
fn route_edges(topo: &Topology) -> Vec<MapEdge> {
    use gatehouse_vpc::model::RouteTarget as T;
    let mut own: HashMap<&str, &gatehouse_vpc::model::RouteTable> = HashMap::new();
    let mut main: HashMap<&str, &gatehouse_vpc::model::RouteTable> = HashMap::new();
    for rt in &topo.route_tables {
        for s in &rt.subnets {
            own.insert(s.as_str(), rt);
        }
        if let (true, Some(v)) = (rt.main, rt.vpc.as_deref()) {
            main.insert(v, rt);
        }
    }
    let peer_vpc = |id: &str, vpc: Option<&str>| {
        topo.peerings.iter().find(|p| p.id == id).map(|p| {
            if Some(p.vpc.as_str()) == vpc {
                p.peer_vpc.clone()
            } else {
                p.vpc.clone()
            }
        })
    };
    let mut out = Vec::new();
    for s in &topo.subnets {
        let Some(rt) = own
            .get(s.id.as_str())
            .or_else(|| s.vpc.as_deref().and_then(|v| main.get(v)))
        else {
            continue;
        };
        let mut seen = std::collections::HashSet::new();
        for r in &rt.routes {
            let to = match &r.target {
                T::Gateway(g) | T::Nat(g) | T::TransitGateway(g) | T::Instance(g) => g.clone(),
                T::Peering(p) => match peer_vpc(p, s.vpc.as_deref()) {
                    Some(v) => v,
                    None => continue,
                },
                _ => continue,
            };
            if seen.insert(to.clone()) {
                out.push(MapEdge {
                    kind: "route".into(),
                    from: s.id.clone(),
                    to,
                    label: format!("{}: {}", rt.name, r.destination),
                });
            }
        }
    }
    out
}

/// What a host is, for the map: its kind, in words, and a managed service's endpoint.
fn host_kind(h: &Host) -> (String, Option<String>, Option<String>) {
    use gatehouse_vpc::model::{ServiceKind as K, GROUP_TAG};
    if let Some(s) = &h.service {
        let kind = match s.kind {
            K::Postgres | K::Mysql | K::Sqlserver | K::Oracle | K::Mongodb => "database",
            K::Redis | K::Memcached => "cache",
            K::Kubernetes => "cluster",
            K::Opensearch => "search",
            K::Kafka | K::Mq => "queue",
            K::Other => "service",
        };
        let what = s.what();
        let endpoint = s.endpoint.as_ref().map(|e| match s.port() {
            Some(p) => format!("{e}:{p}"),
            None => e.clone(),
        });
        return (kind.into(), Some(what), endpoint);
    }
    if let Some(g) = h.tags.get(GROUP_TAG) {
        return ("group".into(), Some(g.clone()), None);
    }
    ("host".into(), None, None)
}

/// The lines of the map: VPC peerings, and load balancers to their targets.
fn edges_of(topo: &Topology) -> Vec<MapEdge> {
    let mut edges: Vec<MapEdge> = topo
        .peerings
        .iter()
        .map(|p| MapEdge {
            kind: "peering".into(),
            from: p.vpc.clone(),
            to: p.peer_vpc.clone(),
            label: p.name.clone(),
        })
        .collect();
    edges.extend(route_edges(topo));
    let groups: HashMap<&str, &gatehouse_vpc::model::TargetGroup> = topo
        .target_groups
        .iter()
        .map(|g| (g.id.as_str(), g))
        .collect();
    for lb in &topo.load_balancers {
        let mut seen = std::collections::HashSet::new();
        for l in &lb.listeners {
            let Some(g) = l.target_group.as_deref().and_then(|g| groups.get(g)) else {
                continue;
            };
            for t in &g.targets {
                if seen.insert(t.as_str()) {
                    let port = g.port.or(l.target_port).unwrap_or(l.port);
                    edges.push(MapEdge {
                        kind: "target".into(),
                        from: lb.id.clone(),
                        to: t.clone(),
                        label: port.to_string(),
                    });
                }
            }
        }
    }
    edges
}

/// The map of a Terraform state (v4 file or `terraform show -json`) the user opened, seen from
/// `active` (the active profile and its name) when there is one. Errors name `name:line:col`.
pub fn map_from_file(
    name: &str,
    text: &str,
    active: Option<(&str, &Config)>,
) -> Result<MapView, AppError> {
    let (label, topo) = topology_from_file(name, text)?;
    Ok(map_of(&label, &topo, active, &[]))
}

/// The topology of a Terraform state (v4 file or `terraform show -json`) and its label.
/// Errors name `name:line:col`.
pub fn topology_from_file(name: &str, text: &str) -> Result<(String, Topology), AppError> {
    let label = if name.is_empty() {
        "topology.tfstate"
    } else {
        name
    };
    let (topo, report) = gatehouse_vpc::tfstate::import_str(text, label)
        .map_err(|e| AppError::new(e.to_string()))?;
    if !report.skipped.is_empty() {
        tracing::info!("{label}: {} resources skipped", report.skipped.len());
    }
    Ok((label.to_owned(), topo))
}

/// The map of a topology from `label` (a file, an API), seen from `active` when there is one,
/// with the last scan's `probes`.
pub fn map_of(
    label: &str,
    topo: &Topology,
    active: Option<(&str, &Config)>,
    probes: &[ProbeResult],
) -> MapView {
    let tunnel = active.map(|(n, c)| tunnel_of(c, n));
    let source = match active {
        Some((n, _)) => format!("{label} (seen from {n})"),
        None => label.to_owned(),
    };
    map_view(source, topo, None, tunnel.as_ref(), &|_| None, None, probes)
}

/// The map of the AWS account that `profile` (else `AWS_PROFILE` / `default`) and `regions`
/// (else the environment's or the profile's region) name, read live from EC2 and ELBv2 with the
/// credentials `env` gives (blocking: run it off the async runtime).
pub fn map_from_aws(
    env: &gatehouse_cloud::aws::Env,
    profile: Option<String>,
    regions: Vec<String>,
    active: Option<(&str, &Config)>,
) -> Result<MapView, AppError> {
    let (source, topo) = topology_from_aws(env, profile, regions)?;
    Ok(map_of(&source, &topo, active, &[]))
}

/// The topology of an AWS account (see [`map_from_aws`]) and its source label.
pub fn topology_from_aws(
    env: &gatehouse_cloud::aws::Env,
    profile: Option<String>,
    regions: Vec<String>,
) -> Result<(String, Topology), AppError> {
    let settings = gatehouse_cloud::aws::Settings {
        profile,
        regions,
        ..Default::default()
    };
    let got =
        gatehouse_cloud::aws::import(&settings, env).map_err(|e| AppError::new(e.to_string()))?;
    for w in &got.warnings {
        tracing::info!("{}: {w}", got.source);
    }
    Ok((got.source, got.topology))
}

/// The map of the DigitalOcean account whose token is in the keyring, read live from `base`
/// (blocking: run it off the async runtime).
pub fn topology_from_digitalocean(base: &str) -> Result<(String, Topology), AppError> {
    use gatehouse_cloud::digitalocean as api;
    let token = api::load_token().map_err(|e| AppError::new(e.to_string()))?;
    let got =
        api::import(base, &token, Default::default()).map_err(|e| AppError::new(e.to_string()))?;
    for w in &got.warnings {
        tracing::info!("{}: {w}", api::SOURCE);
    }
    Ok((api::SOURCE.to_owned(), got.topology))
}

/// A map of a synthetic Terraform state with `instances` hosts (measurements), no profile.
pub fn synthetic_map(instances: u32) -> Result<MapView, AppError> {
    let shape = gatehouse_vpc::synth::Shape::instances(instances as usize);
    let reader = gatehouse_vpc::synth::StateReader::new(shape);
    let (topo, _) =
        gatehouse_vpc::tfstate::import_reader(std::io::BufReader::new(reader), "synthetic.tfstate")
            .map_err(|e| AppError::new(format!("synthetic topology: {e}")))?;
    Ok(map_view(
        format!("synthetic ({instances} hosts)"),
        &topo,
        None,
        None,
        &|_| Some(Vec::new()),
        None,
        &[],
    ))
}

/// Reads a live topology with `read` (blocking HTTP) off the async threads.
pub async fn read_live(
    read: impl FnOnce() -> Result<(String, Topology), AppError> + Send + 'static,
) -> Result<(String, Topology), AppError> {
    tokio::task::spawn_blocking(read).await.map_err(err)?
}

/// Keeps a DigitalOcean API token in the OS keyring (never in a file or the log).
pub async fn set_digitalocean_token(token: String) -> Result<(), AppError> {
    let token = zeroize::Zeroizing::new(token);
    tokio::task::spawn_blocking(move || {
        let t = gatehouse_cloud::digitalocean::Token::new(&token).map_err(err)?;
        gatehouse_cloud::digitalocean::save_token(&t).map_err(err)
    })
    .await
    .map_err(err)?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::demo_profile;

    fn inside(h: &MapHost, m: &MapView, kind: &str) -> bool {
        m.boxes.iter().any(|b| {
            b.kind == kind
                && h.x >= b.x
                && h.y >= b.y
                && h.x + h.w <= b.x + b.w
                && h.y + h.h <= b.y + b.h
        })
    }

    #[test]
    fn exports_are_checked_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let svg = dir.path().join("map.svg");
        let p = svg.to_str().unwrap();
        let doc = r#"<svg xmlns="http://www.w3.org/2000/svg"><text>web-1</text></svg>"#;
        assert_eq!(export_map(p, doc).unwrap(), p);
        assert_eq!(std::fs::read_to_string(&svg).unwrap(), doc);
        // Not an SVG: refused, the earlier file kept.
        let e = export_map(p, "hello").unwrap_err();
        assert!(e.to_string().contains("not an SVG"), "{e}");
        assert_eq!(std::fs::read_to_string(&svg).unwrap(), doc);
        // A PNG as a data URL.
        let png = dir.path().join("map.png");
        let one_pixel = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
        export_map(png.to_str().unwrap(), one_pixel).unwrap();
        assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
        for (path, data) in [
            (png.to_str().unwrap(), "data:image/png;base64,aGVsbG8="),
            (png.to_str().unwrap(), "not base64 at all!"),
            (dir.path().join("map.txt").to_str().unwrap(), doc),
        ] {
            assert!(export_map(path, data).is_err(), "{path}");
        }
        assert!(std::fs::read(&png).unwrap().starts_with(b"\x89PNG"));
        assert!(!dir.path().join("map.txt").exists());
        assert!(export_map(dir.path().to_str().unwrap(), doc).is_err());
    }

    #[test]
    fn demo_map_nests_hosts_in_their_boxes_with_verdicts() {
        let profile = demo_profile(None);
        let m = demo_map(&profile, true, &[]).expect("demo map");
        assert!(m.hosts.len() >= 8, "{} hosts", m.hosts.len());
        for h in &m.hosts {
            // Hosts sit in their subnet; load balancers on their VPC's top edge.
            let centre_in_vpc = m.boxes.iter().any(|b| {
                b.kind == "vpc"
                    && (b.x..=b.x + b.w).contains(&(h.x + h.w / 2.0))
                    && (b.y..=b.y + b.h).contains(&(h.y + h.h / 2.0))
            });
            assert!(
                inside(h, &m, "subnet") || centre_in_vpc,
                "{} is outside every box",
                h.name
            );
        }
        let find = |n: &str| m.hosts.iter().find(|h| h.name == n).expect(n);
        let replica = find("db-replica");
        assert_eq!(replica.verdict, Verdict::Blocked, "{}", replica.sentence);
        assert!(
            replica.sentence.contains("sg-replica"),
            "{}",
            replica.sentence
        );
        // Its path stops at the security groups, the hops before it let it through.
        let hops: Vec<(&str, HopStatus)> = replica
            .path
            .iter()
            .map(|p| (p.hop.as_str(), p.status))
            .collect();
        let broken = hops.iter().position(|h| h.1 == HopStatus::Broken);
        assert_eq!(
            broken.map(|i| hops[i].0),
            Some("security_group"),
            "{hops:?}"
        );
        assert!(hops[..broken.unwrap()].iter().all(|h| h.1 == HopStatus::Ok));
        assert_eq!(hops[0].0, "laptop");
        assert!(replica.path[broken.unwrap()].detail.contains("sg-replica"));
        // web-1's path is all green, from the laptop through the tunnel to web-1's port.
        let web = find("web-1");
        assert!(web.path.len() >= 4, "{:?}", web.path);
        assert!(
            web.path.iter().all(|p| p.status == HopStatus::Ok),
            "{:?}",
            web.path
        );
        assert!(web.path.iter().any(|p| p.hop == "tunnel"));
        assert!(web.path.iter().any(|p| p.hop == "security_group"));
        // The gate: the tunnel ends on vpn-gw; the load balancer points at its targets; the
        // managed database is drawn as one, with its endpoint.
        let gw = find("vpn-gw");
        assert_eq!(m.gate.as_deref(), Some(gw.id.as_str()));
        let web1 = find("web-1");
        assert!(
            m.edges
                .iter()
                .any(|e| e.kind == "target" && e.to == web1.id),
            "{:?}",
            m.edges
        );
        // web-1's subnet routes to the internet through the NAT gateway, the edge says so.
        assert!(
            m.edges.iter().any(|e| e.kind == "route"
                && Some(&e.from) == web1.subnet.as_ref()
                && m.boxes.iter().any(|b| b.id == e.to && b.kind == "gateway")),
            "{:?}",
            m.edges
        );
        let orders = find("orders-db");
        assert_eq!(orders.kind, "database");
        assert_eq!(orders.endpoint.as_deref(), Some("orders-db.internal:5432"));
        assert_eq!(web1.kind, "host");
        let db = find("db");
        assert_eq!(db.verdict, Verdict::Reachable, "{}", db.sentence);
        assert!(
            db.codes.iter().any(|c| c == "tunnel-peer"),
            "{:?}",
            db.codes
        );
        assert!(db.services.iter().any(|s| s.contains("postgres")));
        for h in &m.hosts {
            eprintln!("{} {:?} {} {:?}", h.name, h.verdict, h.sentence, h.codes);
        }
        let pi = find("pi");
        assert_eq!(pi.verdict, Verdict::Reachable, "{}", pi.sentence);
        // A subnet box names the subnet and carries its CIDR apart (shown once).
        for b in m.boxes.iter().filter(|b| b.kind == "subnet") {
            if let Some(c) = &b.cidr {
                assert!(!b.label.contains(c.as_str()), "{} · {c}", b.label);
            }
        }
        assert!(m
            .boxes
            .iter()
            .any(|b| b.kind == "subnet" && b.cidr.as_deref() == Some("10.20.1.0/24")));
        // Not connected: the sentences say so.
        let m = demo_map(&profile, false, &[]).expect("demo map");
        assert!(m
            .hosts
            .iter()
            .all(|h| h.sentence.ends_with("(Connect the demo to use it.)")));
    }

    #[test]
    fn a_peering_is_an_edge_between_its_vpc_boxes() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../../shared/corpus/tfstate/17-aws-vpc-peering-accepter-two-vpcs.tfstate");
        let text = std::fs::read_to_string(path).unwrap();
        let m = map_from_file("17.tfstate", &text, None).unwrap();
        let peerings: Vec<&MapEdge> = m.edges.iter().filter(|e| e.kind == "peering").collect();
        assert_eq!(peerings.len(), 1, "{:?}", m.edges);
        for end in [&peerings[0].from, &peerings[0].to] {
            assert!(
                m.boxes.iter().any(|b| b.kind == "vpc" && &b.id == end),
                "{end} is not a VPC box"
            );
        }
        assert_ne!(peerings[0].from, peerings[0].to);
        assert!(m.gate.is_none());
    }

    #[test]
    fn map_from_a_corpus_state_with_and_without_a_profile() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/tfstate");
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "tfstate" || x == "json"))
            .collect();
        files.sort();
        let path = files.first().expect("a corpus state");
        let text = std::fs::read_to_string(path).expect("read");
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let m = map_from_file(&name, &text, None).expect("map");
        assert!(!m.hosts.is_empty() && !m.boxes.is_empty(), "{name}");
        assert!(m.hosts.iter().all(|h| h.verdict == Verdict::Unknown || h.codes.iter().any(|c| c == "no-profile")), "{name}");
        assert!(m
            .hosts
            .iter()
            .all(|h| h.codes.iter().any(|c| c == "no-profile")));
        // Seen from a profile whose AllowedIPs cover every private range: the tunnel step passes.
        let conf = gatehouse_profile::parse::parse(
            "[Interface]\nAddress = 10.250.0.2/32\n[Peer]\nPublicKey = c2K39PDbDBiNYpXduD7twBeAREk16QToeeHV38LTZQY=\nAllowedIPs = 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16\n",
            "vpn.conf",
        )
        .expect("profile");
        let m = map_from_file(&name, &text, Some(("vpn", &conf))).expect("map");
        assert!(m.source.contains("seen from vpn"));
        assert!(
            m.hosts
                .iter()
                .any(|h| h.codes.iter().any(|c| c == "tunnel-peer")),
            "{name}"
        );
        // A broken file names file:line:col.
        let err = map_from_file(
            "broken.tfstate",
            "{\n  \"version\": 4,\n  \"resources\": [}\n",
            None,
        )
        .expect_err("broken");
        assert!(err.message.starts_with("broken.tfstate:3:"), "{err}");
    }

    #[test]
    fn aws_without_a_region_or_credentials_says_what_is_missing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let env = gatehouse_cloud::aws::Env::new(
            Vec::<(String, String)>::new(),
            Some(dir.path().to_path_buf()),
        );
        let err = map_from_aws(&env, None, Vec::new(), None).expect_err("no region");
        assert!(err.message.contains("no AWS region"), "{err}");
        let err =
            map_from_aws(&env, None, vec!["not a region".into()], None).expect_err("bad region");
        assert!(err.message.contains("invalid AWS region"), "{err}");
        let err =
            map_from_aws(&env, None, vec!["eu-west-1".into()], None).expect_err("no credentials");
        assert!(!err.message.contains("no AWS region"), "{err}");
    }

    #[test]
    fn synthetic_map_places_every_host() {
        let m = synthetic_map(1000).expect("map");
        assert_eq!(m.hosts.len(), 1000);
        assert!(m.width > 0.0 && m.height > 0.0);
        for h in m.hosts.iter().step_by(97) {
            assert!(inside(h, &m, "subnet"), "{}", h.name);
        }
    }
}
