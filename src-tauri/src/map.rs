//! The VPC map and the demo's services, computed by `gatehouse_vpc`: a topology (Terraform
//! state through its importer, the demo lab's state, or a synthetic one), its layout
//! (`gatehouse_vpc::layout`) and the reachability of every host from the active profile
//! (`gatehouse_vpc::reach`). This module only turns them into what the UI draws.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use gatehouse_lab::plan::{self, Proto, ServiceKind};
use gatehouse_profile::Config;
use gatehouse_vpc::layout::{layout, NodeKind};
use gatehouse_vpc::model::{Host, Protocol, Provider, Subnet, Vpc};
use gatehouse_vpc::probe::fingerprint::Fingerprint;
use gatehouse_vpc::probe::targets::COMMON_PORTS;
use gatehouse_vpc::probe::{reach_probes, Outcome, ProbeResult, Target as ProbeTarget};
use gatehouse_vpc::reach::{Analyzer, Code, Status, Tunnel, VpnHint};
use gatehouse_vpc::Topology;
use ipnet::{IpNet, Ipv4Net};

use crate::dto::{AppError, MapBox, MapHost, MapView, ServiceView, Verdict};

/// A demo host whose name the first connection resolves (starting the handshake).
pub const DEMO_PROBE_HOST: &str = "web-1.internal";

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
) -> (Verdict, String, Vec<String>) {
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
        ),
        None => (
            Verdict::Unknown,
            format!("{}: nothing to check.", target.name),
            Vec::new(),
        ),
    }
}

/// What a target serves: (protocol, port, label) each.
pub type Services<'a> = &'a dyn Fn(&Host) -> Option<Vec<(Protocol, u16, String)>>;

fn verdict_of(v: &gatehouse_vpc::reach::Verdict) -> Verdict {
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
                let (verdict, mut sentence, codes) = host_verdict(analyzer, t, ports);
                if let Some(note) = note {
                    sentence.push(' ');
                    sentence.push_str(note);
                }
                hosts.push(MapHost {
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
    MapView {
        source,
        width: laid.width,
        height: laid.height,
        boxes,
        hosts,
    }
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
    let topo =
        api::import(base, &token, Default::default()).map_err(|e| AppError::new(e.to_string()))?;
    Ok((api::SOURCE.to_owned(), topo))
}

/// A lab service kind's name (`http`, `postgres`, …): read from its `Debug` name so that kinds
/// the lab adds later get a name without a change here.
fn kind_name(kind: ServiceKind) -> String {
    format!("{kind:?}").to_ascii_lowercase()
}

fn service_label(s: &plan::Service) -> String {
    let kind = match kind_name(s.kind).as_str() {
        "loadbalancer" => "http (load balancer)".to_owned(),
        "tls" => "https".to_owned(),
        other => other.to_owned(),
    };
    format!("{}/{} {kind}", s.proto.as_str(), s.port)
}

/// The demo lab's VPC: its Terraform state.
pub fn demo_topology() -> Result<Topology, AppError> {
    let (topo, _) =
        gatehouse_vpc::tfstate::import_str(gatehouse_lab::TOPOLOGY_TFSTATE, "demo.tfstate")
            .map_err(|e| AppError::new(format!("demo topology: {e}")))?;
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
        region: None,
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
        });
    }
    Ok(topo)
}

fn home_hint() -> VpnHint {
    VpnHint {
        host: Some("home-router".into()),
        nat: Some(true),
    }
}

/// The demo client's profile: the running lab's when there is one, else one of the same
/// shape (the verdicts depend only on its addresses and AllowedIPs).
pub fn demo_profile(running: Option<&Config>) -> Config {
    match running {
        Some(c) => c.clone(),
        None => gatehouse_lab::client_profile(
            gatehouse_profile::Secret::generate(),
            gatehouse_profile::Secret::generate().public_key(),
            SocketAddr::from((Ipv4Addr::LOCALHOST, 51820)),
        ),
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
    let tunnel = tunnel_of(profile, crate::backend::DEMO);
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
        http: matches!(kind_name(svc.kind).as_str(), "http" | "loadbalancer"),
    })
}

/// The kind a Services row shows (`http`, `https`, `ssh`, `redis`, `postgres`, `mysql`, `tcp`
/// for an open port of no known protocol) and what the prober saw, in one line.
pub fn describe(fp: &Fingerprint) -> (&'static str, String) {
    match fp {
        Fingerprint::Http { status, title, .. } => (
            "http",
            match title {
                Some(t) => format!("HTTP {status} · {t}"),
                None => format!("HTTP {status}"),
            },
        ),
        Fingerprint::Tls {
            version,
            cipher,
            alert,
        } => (
            "https",
            match (version, cipher, alert) {
                (Some(v), Some(c), _) => format!("{v} · {c}"),
                (Some(v), None, _) => v.clone(),
                (None, _, Some(a)) => format!("TLS · alert {a}"),
                (None, _, None) => "TLS".to_owned(),
            },
        ),
        Fingerprint::Ssh { banner } => ("ssh", format!("SSH · {banner}")),
        Fingerprint::Redis { auth_required } => (
            "redis",
            if *auth_required {
                "Redis · password required".to_owned()
            } else {
                "Redis · PONG".to_owned()
            },
        ),
        Fingerprint::Postgres { ssl, error } => (
            "postgres",
            match (ssl, error) {
                (_, Some(e)) => format!("PostgreSQL · error: {e}"),
                (Some(true), None) => "PostgreSQL · TLS offered".to_owned(),
                (Some(false), None) => "PostgreSQL · no TLS".to_owned(),
                (None, None) => "PostgreSQL".to_owned(),
            },
        ),
        Fingerprint::Mysql { version, error } => (
            "mysql",
            match (version, error) {
                (Some(v), _) => format!("MySQL · {v}"),
                (None, Some(e)) => format!("MySQL · error: {e}"),
                (None, None) => "MySQL".to_owned(),
            },
        ),
        Fingerprint::Silent => ("tcp", "open · says nothing first".to_owned()),
        Fingerprint::Unknown { bytes, preview } => ("tcp", format!("open · {bytes} B: {preview}")),
    }
}

/// The command that reaches a service of `kind` at `host:port` (through the SOCKS proxy
/// `socks` for curl in no-root mode).
pub fn service_command(kind: &str, host: &str, port: u16, socks: Option<SocketAddr>) -> String {
    let proxy = socks
        .map(|a| format!("--proxy socks5h://{a} "))
        .unwrap_or_default();
    match kind {
        "http" => format!("curl {proxy}http://{host}:{port}/"),
        "https" => format!("curl -k {proxy}https://{host}:{port}/"),
        "postgres" => format!("psql \"host={host} port={port} user=postgres\""),
        "redis" => format!("redis-cli -h {host} -p {port}"),
        "ssh" => format!("ssh -p {port} {host}"),
        "mysql" => format!("mysql -h {host} -P {port}"),
        _ => format!("nc {host} {port}"),
    }
}

/// The Services rows of a scan's open ports, in the scan's order. `dns_name` gives an
/// address's name inside the tunnel (the commands use it, else the address); `verdict` the
/// reachability of a probed port.
pub fn service_views(
    connection: &str,
    results: &[ProbeResult],
    socks: Option<SocketAddr>,
    dns_name: &dyn Fn(IpAddr) -> Option<String>,
    verdict: &dyn Fn(&ProbeTarget) -> Verdict,
) -> Vec<ServiceView> {
    results
        .iter()
        .filter_map(|r| {
            let Outcome::Open { fingerprint } = &r.outcome else {
                return None;
            };
            let t = &r.target;
            let (kind, detail) = describe(fingerprint);
            let ip = t.ip.to_string();
            let fqdn = dns_name(t.ip);
            let reach_as = fqdn.clone().unwrap_or_else(|| match t.ip {
                IpAddr::V6(_) => format!("[{ip}]"),
                IpAddr::V4(_) => ip.clone(),
            });
            Some(ServiceView {
                connection: connection.to_owned(),
                host: t.name.clone().unwrap_or_else(|| ip.clone()),
                fqdn: fqdn.unwrap_or_else(|| ip.clone()),
                ip,
                port: t.port,
                kind: kind.to_owned(),
                detail,
                verdict: verdict(t),
                command: service_command(kind, &reach_as, t.port, socks),
            })
        })
        .collect()
}

/// What a scan covers: a topology (its hosts on the ports their rules name) and, for the demo,
/// the home LAN beside it (its hosts on the common ports).
pub struct ScanScope {
    /// The VPC topology.
    pub topo: Topology,
    /// A LAN analysed on its own (the demo's home LAN).
    pub lan: Option<(Topology, VpnHint)>,
    /// Whether this is the demo network (its DNS names are known).
    pub demo: bool,
}

impl ScanScope {
    /// The demo network: its VPC and its home LAN.
    pub fn demo() -> Result<ScanScope, AppError> {
        Ok(ScanScope {
            topo: demo_topology()?,
            lan: Some((demo_home()?, home_hint())),
            demo: true,
        })
    }

    /// A topology the user opened.
    pub fn of(topo: Topology) -> ScanScope {
        ScanScope {
            topo,
            lan: None,
            demo: false,
        }
    }

    /// The probes to run.
    pub fn targets(&self) -> Vec<ProbeTarget> {
        let mut out = gatehouse_probe::topology_targets(&self.topo, None);
        if let Some((lan, _)) = &self.lan {
            out.extend(gatehouse_probe::topology_targets(lan, Some(COMMON_PORTS)));
        }
        gatehouse_vpc::probe::targets::dedup(out)
    }

    /// The Services rows of a scan through `connection` (whose profile gives `tunnel`), its
    /// verdicts completed by the scan's own probes.
    pub fn views(
        &self,
        connection: &str,
        results: &[ProbeResult],
        tunnel: Option<&Tunnel>,
        socks: Option<SocketAddr>,
    ) -> Vec<ServiceView> {
        let hint = VpnHint::default();
        let probes = reach_probes(results, &self.topo);
        let main = Analyzer::new(&self.topo, tunnel, &hint, &probes);
        let lan_probes = self
            .lan
            .as_ref()
            .map(|(t, _)| reach_probes(results, t))
            .unwrap_or_default();
        let lan = self
            .lan
            .as_ref()
            .map(|(t, h)| Analyzer::new(t, tunnel, h, &lan_probes));
        let verdict = |t: &ProbeTarget| {
            let key = t.ip.to_string();
            let analyzer = match &lan {
                Some(a) if a.find_target(&key).is_some() => a,
                _ => &main,
            };
            verdict_of(&analyzer.check_key(&key, Protocol::Tcp, t.port))
        };
        let demo = self.demo;
        let dns_name = move |ip: IpAddr| match ip {
            IpAddr::V4(v4) if demo => plan::host_by_ip(v4).map(|h| h.fqdn.to_owned()),
            _ => None,
        };
        service_views(connection, results, socks, &dns_name, &verdict)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn map_from_a_corpus_state_with_and_without_a_profile() {
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/tfstate");
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

    #[test]
    fn demo_targets() {
        let t = demo_target("web-1", 80).expect("web-1");
        assert!(t.http);
        assert!(demo_target("web-1", 81).is_none());
        assert!(demo_target("nope", 80).is_none());
    }

    fn open(ip: [u8; 4], name: &str, port: u16, fingerprint: Fingerprint) -> ProbeResult {
        ProbeResult {
            target: ProbeTarget {
                ip: IpAddr::from(ip),
                port,
                name: Some(name.to_owned()),
            },
            outcome: Outcome::Open { fingerprint },
            elapsed_ms: 3,
        }
    }

    /// Every fingerprint kind becomes a row: its kind, its detail and its command; closed
    /// ports none.
    #[test]
    fn scan_results_become_service_rows() {
        let results = vec![
            open(
                [10, 20, 1, 11],
                "web-1",
                80,
                Fingerprint::Http {
                    status: 200,
                    title: Some("Welcome to web-1".into()),
                    server: None,
                },
            ),
            open(
                [192, 168, 1, 1],
                "router",
                443,
                Fingerprint::Tls {
                    version: Some("TLS 1.3".into()),
                    cipher: Some("TLS_AES_128_GCM_SHA256".into()),
                    alert: None,
                },
            ),
            open(
                [192, 168, 1, 20],
                "pi",
                22,
                Fingerprint::Ssh {
                    banner: "SSH-2.0-OpenSSH_9.2p1".into(),
                },
            ),
            open(
                [10, 20, 2, 21],
                "cache",
                6379,
                Fingerprint::Redis {
                    auth_required: false,
                },
            ),
            open(
                [10, 20, 3, 31],
                "db",
                5432,
                Fingerprint::Postgres {
                    ssl: Some(false),
                    error: None,
                },
            ),
            open(
                [192, 168, 1, 30],
                "nas",
                3306,
                Fingerprint::Mysql {
                    version: Some("8.0.36".into()),
                    error: None,
                },
            ),
            open([192, 168, 1, 30], "nas", 445, Fingerprint::Silent),
            open(
                [192, 168, 1, 30],
                "nas",
                9000,
                Fingerprint::Unknown {
                    bytes: 2,
                    preview: "hi".into(),
                },
            ),
            ProbeResult {
                target: ProbeTarget {
                    ip: IpAddr::from([10, 20, 3, 32]),
                    port: 5432,
                    name: Some("db-replica".into()),
                },
                outcome: Outcome::Timeout,
                elapsed_ms: 1500,
            },
        ];
        let socks: SocketAddr = "127.0.0.1:1080".parse().expect("addr");
        let names =
            |ip: IpAddr| (ip == IpAddr::from([10, 20, 1, 11])).then(|| "web-1.internal".to_owned());
        let rows = service_views("demo", &results, Some(socks), &names, &|_| {
            Verdict::Reachable
        });
        let got: Vec<(&str, &str, &str)> = rows
            .iter()
            .map(|r| (r.host.as_str(), r.kind.as_str(), r.detail.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("web-1", "http", "HTTP 200 · Welcome to web-1"),
                ("router", "https", "TLS 1.3 · TLS_AES_128_GCM_SHA256"),
                ("pi", "ssh", "SSH · SSH-2.0-OpenSSH_9.2p1"),
                ("cache", "redis", "Redis · PONG"),
                ("db", "postgres", "PostgreSQL · no TLS"),
                ("nas", "mysql", "MySQL · 8.0.36"),
                ("nas", "tcp", "open · says nothing first"),
                ("nas", "tcp", "open · 2 B: hi"),
            ]
        );
        let cmd = |i: usize| rows[i].command.as_str();
        assert_eq!(
            cmd(0),
            "curl --proxy socks5h://127.0.0.1:1080 http://web-1.internal:80/"
        );
        assert_eq!(rows[0].fqdn, "web-1.internal");
        assert_eq!(
            cmd(1),
            "curl -k --proxy socks5h://127.0.0.1:1080 https://192.168.1.1:443/"
        );
        assert_eq!(cmd(2), "ssh -p 22 192.168.1.20");
        assert_eq!(cmd(3), "redis-cli -h 10.20.2.21 -p 6379");
        assert_eq!(cmd(4), "psql \"host=10.20.3.31 port=5432 user=postgres\"");
        assert_eq!(cmd(5), "mysql -h 192.168.1.30 -P 3306");
        assert_eq!(cmd(6), "nc 192.168.1.30 445");
        assert!(rows
            .iter()
            .all(|r| r.connection == "demo" && r.verdict == Verdict::Reachable));
        // The other details: a password, TLS offered, errors, alerts.
        let d = |f: Fingerprint| describe(&f).1;
        assert_eq!(
            d(Fingerprint::Redis {
                auth_required: true
            }),
            "Redis · password required"
        );
        assert_eq!(
            d(Fingerprint::Postgres {
                ssl: Some(true),
                error: None
            }),
            "PostgreSQL · TLS offered"
        );
        assert_eq!(
            d(Fingerprint::Mysql {
                version: None,
                error: Some("Host is not allowed".into())
            }),
            "MySQL · error: Host is not allowed"
        );
        assert_eq!(
            d(Fingerprint::Tls {
                version: None,
                cipher: None,
                alert: Some(40)
            }),
            "TLS · alert 40"
        );
        assert_eq!(
            d(Fingerprint::Http {
                status: 404,
                title: None,
                server: None
            }),
            "HTTP 404"
        );
        // Without the proxy (service mode), curl goes straight; an IPv6 address in brackets.
        let v6 = open(
            [0; 4],
            "x",
            80,
            Fingerprint::Http {
                status: 200,
                title: None,
                server: None,
            },
        );
        let mut v6 = v6;
        v6.target.ip = "fd00::5".parse().expect("v6");
        let rows = service_views("work", &[v6], None, &|_| None, &|_| Verdict::Unknown);
        assert_eq!(rows[0].command, "curl http://[fd00::5]:80/");
        assert_eq!(rows[0].host, "x");
    }

    /// The demo's scope: its VPC hosts on their rules' ports, the home LAN on the common
    /// ports; an open probe makes the verdict reachable with `probe-open`.
    #[test]
    fn demo_scope_targets_and_probe_verdicts() {
        let scope = ScanScope::demo().expect("scope");
        let t = scope.targets();
        let has = |n: &str, p: u16| {
            t.iter()
                .any(|x| x.name.as_deref() == Some(n) && x.port == p)
        };
        assert!(
            has("web-1", 80) && has("db", 5432) && has("pi", 8080) && has("nas", 3306),
            "{t:?}"
        );
        let profile = demo_profile(None);
        let tunnel = tunnel_of(&profile, "demo");
        let results = vec![open(
            [10, 20, 1, 20],
            "cache",
            6379,
            Fingerprint::Redis {
                auth_required: false,
            },
        )];
        let rows = scope.views("demo", &results, Some(&tunnel), None);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].verdict, Verdict::Reachable);
        let m = demo_map(&profile, true, &results).expect("map");
        let cache = m.hosts.iter().find(|h| h.name == "cache").expect("cache");
        assert!(
            cache.codes.iter().any(|c| c == "probe-open"),
            "{:?}",
            cache.codes
        );
    }
}
