//! What `gatehouse scan` probes: the targets given, a topology's hosts and the ports its rules
//! name, or a profile's AllowedIPs (and with `--lan` its small subnets), resolved to addresses.

use std::collections::HashSet;
use std::net::IpAddr;

use anyhow::{bail, Context as _};
use gatehouse_netstack::Netstack;
use gatehouse_profile::Config;
use gatehouse_vpc::model::Topology;
use gatehouse_vpc::probe::targets::{self, TargetSpec, COMMON_PORTS};
use gatehouse_vpc::probe::Target;
use ipnet::IpNet;

/// AllowedIPs small enough to sweep (at most a /22), and the single addresses.
fn allowed(config: &Config) -> (Vec<IpNet>, Vec<IpAddr>) {
    let mut nets = Vec::new();
    let mut hosts = Vec::new();
    for net in config.peers.iter().flat_map(|p| p.allowed_ips.iter()) {
        if net.prefix_len() == net.max_prefix_len() {
            hosts.push(net.addr());
        } else if targets::sweep(*net).is_ok() {
            nets.push(*net);
        }
    }
    (nets, hosts)
}

/// The probe list.
pub(crate) struct Plan {
    pub(crate) targets: Vec<Target>,
    /// Probes of a port someone named (a `:PORT`, a topology rule): the table lists them
    /// whatever the outcome; sweeps and common-port guesses list only what answers.
    pub(crate) named: HashSet<(IpAddr, u16)>,
    pub(crate) notes: Vec<String>,
}

async fn resolve_name(
    name: &str,
    port: u16,
    topo: Option<&Topology>,
    ns: Option<&Netstack>,
) -> anyhow::Result<IpAddr> {
    if let Some(h) = topo.and_then(|t| t.find_host(name)) {
        if let Some(ip) = h.primary_ip() {
            return Ok(ip);
        }
    }
    if let Some(l) = topo.and_then(|t| {
        t.load_balancers
            .iter()
            .find(|l| l.name == name || l.id == name)
    }) {
        if let Some(ip) = l.ip {
            return Ok(ip);
        }
    }
    match ns {
        Some(ns) => {
            let a = ns
                .resolve(&gatehouse_netstack::Target::Name(name.to_string(), port))
                .await?;
            Ok(a.ip())
        }
        None => {
            let mut addrs = tokio::net::lookup_host((name, port))
                .await
                .with_context(|| format!("cannot resolve {name}"))?;
            addrs
                .next()
                .map(|a| a.ip())
                .with_context(|| format!("{name} has no address"))
        }
    }
}

pub(crate) async fn plan(
    wanted: &[String],
    lan: bool,
    ports: Option<&[u16]>,
    topo: Option<&Topology>,
    profile: Option<&Config>,
    demo: bool,
    ns: Option<&Netstack>,
) -> anyhow::Result<Plan> {
    let default_ports = ports.unwrap_or(COMMON_PORTS);
    let mut out = Vec::new();
    let mut notes = Vec::new();
    let mut named = HashSet::new();
    if !wanted.is_empty() {
        for arg in wanted {
            let spec: TargetSpec = arg.parse()?;
            match spec {
                TargetSpec::Addr(ip, Some(p)) => {
                    named.insert((ip, p));
                    out.extend(targets::expand(&[(ip, None)], &[p]))
                }
                TargetSpec::Addr(ip, None) => {
                    out.extend(targets::expand(&[(ip, None)], default_ports))
                }
                TargetSpec::Net(net) => {
                    let hosts: Vec<(IpAddr, Option<String>)> = targets::sweep(net)?
                        .into_iter()
                        .map(|ip| (ip, None))
                        .collect();
                    out.extend(targets::expand(&hosts, default_ports));
                }
                TargetSpec::Name(name, port) => {
                    let ip = resolve_name(&name, port.unwrap_or(80), topo, ns).await?;
                    let ps: Vec<u16> = match port {
                        Some(p) => {
                            named.insert((ip, p));
                            vec![p]
                        }
                        None => default_ports.to_vec(),
                    };
                    out.extend(targets::expand(&[(ip, Some(name))], &ps));
                }
            }
        }
    } else if let Some(t) = topo {
        let from_topo = gatehouse_probe::topology_targets(t, ports);
        named.extend(from_topo.iter().map(|t| (t.ip, t.port)));
        out.extend(from_topo);
        if demo {
            // The demo's home LAN is not in the VPC topology: its hosts on the common ports.
            let home: Vec<(IpAddr, Option<String>)> = gatehouse_lab::plan::HOSTS
                .iter()
                .filter(|h| h.site == gatehouse_lab::plan::Site::Home)
                .map(|h| (IpAddr::V4(h.ip), Some(h.name.to_string())))
                .collect();
            out.extend(targets::expand(&home, default_ports));
        }
    } else if let Some(config) = profile {
        let (_, hosts) = allowed(config);
        let hosts: Vec<(IpAddr, Option<String>)> = hosts.into_iter().map(|ip| (ip, None)).collect();
        out.extend(targets::expand(&hosts, default_ports));
    }
    if lan {
        match profile {
            Some(config) => {
                let (nets, _) = allowed(config);
                if nets.is_empty() {
                    notes.push("--lan: the profile has no AllowedIPs of a /22 or smaller".into());
                }
                for net in nets {
                    let hosts: Vec<(IpAddr, Option<String>)> = targets::sweep(net)?
                        .into_iter()
                        .map(|ip| (ip, None))
                        .collect();
                    notes.push(format!(
                        "--lan: sweeping {net} ({} addresses) on {} ports",
                        hosts.len(),
                        default_ports.len()
                    ));
                    out.extend(targets::expand(&hosts, default_ports));
                }
            }
            None => bail!("--lan needs a profile (--profile, --no-root or --demo)"),
        }
    }
    let targets = targets::dedup(out);
    if targets.is_empty() {
        bail!(
            "nothing to probe: give targets (ADDRESS, NETWORK/PREFIX, NAME), --topology FILE, \
             or --profile PROFILE"
        );
    }
    Ok(Plan {
        targets,
        named,
        notes,
    })
}
