//! `gatehouse reach`: why a host and port answer or not through the tunnel (VPC routes,
//! security groups, the last scan's probes). Parsing and rendering only: the work is in
//! `gatehouse-vpc`.

use std::net::IpAddr;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use gatehouse_vpc::model::{Protocol, Topology};
use gatehouse_vpc::reach::{Analyzer, LocalRoute, Tunnel, Verdict, VpnHint};

use crate::vpc_common::{load_topology, status_mark};

/// `gatehouse reach`.
#[derive(Debug, Args)]
pub struct ReachArgs {
    /// `HOST` or `HOST:PORT` (a name, id or address; `:PORT/udp` for UDP). Every host and the
    /// ports its rules name when absent.
    target: Option<String>,
    /// The topology: a Terraform state file, `show -json` output or a snapshot.
    #[arg(long, value_name = "FILE", env = "GATEHOUSE_TOPOLOGY")]
    state: PathBuf,
    /// A saved profile whose tunnel to check.
    #[arg(long, conflicts_with = "conf")]
    profile: Option<String>,
    /// A wg-quick `.conf` file whose tunnel to check.
    #[arg(long, value_name = "FILE")]
    conf: Option<PathBuf>,
    /// The VPN host in the VPC (name, id or address), when it cannot be found from the peers'
    /// endpoints or the route tables.
    #[arg(long)]
    vpn_host: Option<String>,
    /// The VPN host masquerades VPN traffic behind its own address.
    #[arg(long, conflicts_with = "routed")]
    nat: bool,
    /// The VPN host forwards VPN traffic without NAT.
    #[arg(long)]
    routed: bool,
    /// Print the verdicts as JSON.
    #[arg(long)]
    json: bool,
    /// Leave out the last scan's results (`gatehouse scan` keeps them; by default the last
    /// probe has the final word on a port).
    #[arg(long)]
    no_probes: bool,
}

/// Runs `gatehouse reach`.
pub fn run(a: ReachArgs) -> anyhow::Result<()> {
    let topo = load_topology(&a.state)?;
    let tunnel = match (&a.profile, &a.conf) {
        (Some(name), _) => {
            let store = gatehouse_profile::store::Store::open_default()
                .context("cannot open the profile store")?;
            let p = store
                .find(name)
                .with_context(|| format!("cannot load profile {name:?}"))?;
            Some(tunnel_of(&p.config, &p.info.name))
        }
        (None, Some(path)) => {
            let config = gatehouse_profile::parse::parse_file(path)?;
            let label = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.display().to_string());
            Some(tunnel_of(&config, &label))
        }
        (None, None) => None,
    };
    let hint = VpnHint {
        host: a.vpn_host.clone(),
        nat: if a.nat {
            Some(true)
        } else if a.routed {
            Some(false)
        } else {
            None
        },
    };
    let probes = if a.no_probes {
        Vec::new()
    } else {
        last_probes(&topo, a.json)
    };
    let analyzer = Analyzer::new(&topo, tunnel.as_ref(), &hint, &probes);
    let verdicts: Vec<Verdict> = match &a.target {
        None => analyzer.check_all(),
        Some(t) => {
            let (host, port) = parse_target(t)?;
            match port {
                Some((proto, port)) => vec![analyzer.check_key(&host, proto, port)],
                None => match analyzer.find_target(&host) {
                    Some(target) => analyzer
                        .candidate_ports(&target)
                        .into_iter()
                        .map(|(proto, port)| analyzer.check(&target, proto, port))
                        .collect(),
                    None => vec![analyzer.check_key(&host, Protocol::Tcp, 22)],
                },
            }
        }
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&verdicts)?);
    } else {
        for v in &verdicts {
            let mark = status_mark(v.status);
            let codes: Vec<&str> = v.findings.iter().map(|f| f.code.as_str()).collect();
            println!("{mark} {}  [{}]", v.sentence, codes.join(" "));
        }
    }
    Ok(())
}

/// `db`, `db:5432`, `10.0.0.5:53/udp`, `[fd00::5]:443`.
fn parse_target(s: &str) -> anyhow::Result<(String, Option<(Protocol, u16)>)> {
    let (rest, proto) = match s.rsplit_once('/') {
        Some((r, p)) if p.eq_ignore_ascii_case("udp") => (r, Protocol::Udp),
        Some((r, p)) if p.eq_ignore_ascii_case("tcp") => (r, Protocol::Tcp),
        _ => (s, Protocol::Tcp),
    };
    if let Some(inner) = rest.strip_prefix('[') {
        let Some((host, port)) = inner.split_once("]:") else {
            bail!("{s:?}: expected [ADDRESS]:PORT");
        };
        let port: u16 = port.parse().with_context(|| format!("{s:?}: bad port"))?;
        return Ok((host.to_string(), Some((proto, port))));
    }
    if rest.parse::<IpAddr>().is_ok() {
        return Ok((rest.to_string(), None));
    }
    match rest.rsplit_once(':') {
        Some((host, port)) => {
            let port: u16 = port
                .parse()
                .with_context(|| format!("{s:?}: bad port {port:?}"))?;
            Ok((host.to_string(), Some((proto, port))))
        }
        None => Ok((rest.to_string(), None)),
    }
}

/// The last scan's results for `topo`'s hosts (none when there was no scan or its file cannot
/// be read, which is said on stderr).
fn last_probes(topo: &Topology, quiet: bool) -> Vec<gatehouse_vpc::reach::Probe> {
    let log =
        match gatehouse_vpc::store::SnapshotStore::open_default().and_then(|s| s.latest_probes()) {
            Ok(Some(log)) => log,
            Ok(None) => return Vec::new(),
            Err(e) => {
                eprintln!("warning: the last probes are left out: {e}");
                return Vec::new();
            }
        };
    let probes = gatehouse_vpc::probe::reach_probes(&log.results, topo);
    if !quiet && !probes.is_empty() {
        eprintln!(
            "using {} probe results of the scan at {} (--no-probes leaves them out)",
            probes.len(),
            gatehouse_vpc::snapshot::rfc3339(log.unix)
        );
    }
    probes
}

/// The reachability input of a wg-quick configuration, with this machine's routes.
fn tunnel_of(config: &gatehouse_profile::Config, label: &str) -> Tunnel {
    Tunnel {
        local_routes: local_routes(),
        ..crate::vpc_common::tunnel_of(config, label)
    }
}

/// This machine's routes outside tunnels: `/proc/net/route` and `/proc/net/ipv6_route`, minus
/// the routes of TUN/WireGuard interfaces (link type `none`), which are the tunnels' own.
fn local_routes() -> Vec<LocalRoute> {
    let mut out = Vec::new();
    if let Ok(text) = std::fs::read_to_string("/proc/net/route") {
        out.extend(parse_proc_route(&text));
    }
    if let Ok(text) = std::fs::read_to_string("/proc/net/ipv6_route") {
        out.extend(parse_proc_ipv6_route(&text));
    }
    out.retain(|r| !is_tunnel_device(&r.device));
    out
}

fn is_tunnel_device(dev: &str) -> bool {
    // ARPHRD_NONE (65534): TUN devices and WireGuard interfaces.
    std::fs::read_to_string(format!("/sys/class/net/{dev}/type"))
        .map(|t| t.trim() == "65534")
        .unwrap_or(false)
}

fn parse_proc_route(text: &str) -> Vec<LocalRoute> {
    let mut out = Vec::new();
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 8 {
            continue;
        }
        let (Ok(dest), Ok(mask)) = (u32::from_str_radix(f[1], 16), u32::from_str_radix(f[7], 16))
        else {
            continue;
        };
        // The kernel prints the address bytes in memory (network) order as a native integer.
        let addr = std::net::Ipv4Addr::from(dest.to_ne_bytes());
        let len = mask.count_ones() as u8;
        if let Ok(n) = ipnet::Ipv4Net::new(addr, len) {
            out.push(LocalRoute {
                destination: n.into(),
                device: f[0].to_string(),
            });
        }
    }
    out
}

fn parse_proc_ipv6_route(text: &str) -> Vec<LocalRoute> {
    let mut out = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 10 || f[0].len() != 32 {
            continue;
        }
        let (Ok(dest), Ok(len)) = (u128::from_str_radix(f[0], 16), u8::from_str_radix(f[1], 16))
        else {
            continue;
        };
        let dev = f[9];
        if dev == "lo" {
            continue;
        }
        if let Ok(n) = ipnet::Ipv6Net::new(std::net::Ipv6Addr::from(dest), len) {
            out.push(LocalRoute {
                destination: n.into(),
                device: dev.to_string(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(parse_target("db").unwrap(), ("db".into(), None));
        assert_eq!(
            parse_target("db:5432").unwrap(),
            ("db".into(), Some((Protocol::Tcp, 5432)))
        );
        assert_eq!(
            parse_target("10.20.2.53:53/udp").unwrap(),
            ("10.20.2.53".into(), Some((Protocol::Udp, 53)))
        );
        assert_eq!(
            parse_target("10.20.2.53").unwrap(),
            ("10.20.2.53".into(), None)
        );
        assert_eq!(parse_target("fd00::5").unwrap(), ("fd00::5".into(), None));
        assert_eq!(
            parse_target("[fd00::5]:443").unwrap(),
            ("fd00::5".into(), Some((Protocol::Tcp, 443)))
        );
        assert!(parse_target("db:x").is_err());
        assert!(parse_target("db:70000").is_err());
    }

    #[test]
    fn proc_routes() {
        let v4 =
            "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
                  eth0\t00000000\t0101A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n\
                  eth0\t0001A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n";
        let r = parse_proc_route(v4);
        assert_eq!(r.len(), 2);
        if cfg!(target_endian = "little") {
            assert_eq!(r[1].destination.to_string(), "192.168.1.0/24");
        }
        assert_eq!(r[0].destination.prefix_len(), 0);
        let v6 = "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001 wlan0\n\
                  00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001 lo\n";
        let r = parse_proc_ipv6_route(v6);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].destination.to_string(), "fd00::/64");
        assert_eq!(r[0].device, "wlan0");
    }
}
