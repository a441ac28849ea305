//! `gatehouse scan`: which private services answer, and what they are (HTTP status and title,
//! TLS, SSH, Redis, PostgreSQL, MySQL). The path into the network is chosen like `gatehouse up`:
//! OS sockets (TUN mode or the service connected), `--no-root PROFILE` (the userspace stack in
//! this process), or `--demo` (the demo lab and the userspace stack, in this process).

use std::collections::HashSet;
use std::io::{IsTerminal as _, Write as _};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use clap::Args;
use gatehouse_netstack::{Netstack, NetstackOptions};
use gatehouse_probe::{Dialer, Report, Timeouts};
use gatehouse_profile::Config;
use gatehouse_vpc::model::{Protocol, Topology};
use gatehouse_vpc::probe::targets;
use gatehouse_vpc::probe::{reach_probes, Limits, Outcome};
use gatehouse_vpc::reach::{Analyzer, Tunnel, VpnHint};

use crate::scan_targets::plan;
use crate::vpc_common::{load_state, status_mark, tunnel_of};

/// Arguments of `gatehouse scan`.
#[derive(Args)]
pub struct ScanArgs {
    /// What to probe: ADDRESS, ADDRESS:PORT, NETWORK/PREFIX (at most a /22), or a NAME (a
    /// topology host, or resolved through the profile's DNS). Default: the topology's hosts and
    /// the ports their rules name (--topology, or the demo lab's), else the profile's
    /// single-address AllowedIPs.
    targets: Vec<String>,
    /// Ports to try where a target names none: `22,80,8000-8010`, `common`.
    #[arg(long, value_name = "LIST")]
    ports: Option<String>,
    /// Also sweep the profile's LAN subnets (AllowedIPs of at most 1024 addresses, a /22) on
    /// the common ports. Only when asked.
    #[arg(long)]
    lan: bool,
    /// Probes in flight at most.
    #[arg(long, default_value_t = 128)]
    concurrency: usize,
    /// Probe starts per second to one address at most (0: no limit).
    #[arg(long, value_name = "PER_HOST_PER_S", default_value_t = 20.0)]
    rate: f64,
    /// Connect timeout in milliseconds (the exchange after connecting gets as long).
    #[arg(long, value_name = "MS", default_value_t = 1500)]
    timeout: u64,
    /// Print JSON (results, limits, and reachability verdicts with a topology).
    #[arg(long)]
    json: bool,
    /// The topology (Terraform state or `show -json` output) whose hosts to probe and whose
    /// verdicts the results complete.
    #[arg(long, value_name = "FILE")]
    topology: Option<PathBuf>,
    /// The profile (name or `.conf`) whose AllowedIPs give the default targets and the LAN
    /// subnets, probed through OS sockets (its tunnel must be up).
    #[arg(long, value_name = "PROFILE", conflicts_with_all = ["no_root", "demo"])]
    profile: Option<String>,
    /// Probe through the userspace stack started in this process from a saved profile (with
    /// its keys) or a `.conf` file: no TUN, no root.
    #[arg(long, value_name = "PROFILE", conflicts_with = "demo")]
    no_root: Option<String>,
    /// Start the demo lab in this process and probe it through the userspace stack.
    #[arg(long)]
    demo: bool,
    /// Do not keep the results as the last probes (`gatehouse reach` reads them).
    #[arg(long)]
    no_save: bool,
}

/// Keeps the results as the last probes; a failure to keep them is said, not fatal.
fn save_probes(path: &Via, report: &Report) {
    let log = gatehouse_vpc::store::ProbeLog {
        unix: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0),
        path: path.name().to_string(),
        results: report.results.clone(),
    };
    match gatehouse_vpc::store::SnapshotStore::open_default().and_then(|s| s.save_probes(&log)) {
        Ok(file) => tracing::debug!(file = %file.display(), "probes kept"),
        Err(e) => eprintln!("warning: the results are not kept for `gatehouse reach`: {e}"),
    }
}

/// Which path the probes take.
enum Via {
    Os,
    NoRoot(String),
    Demo,
}

impl Via {
    fn name(&self) -> &'static str {
        match self {
            Via::Os => "os",
            Via::NoRoot(_) => "no-root",
            Via::Demo => "demo",
        }
    }
}

fn load_profile(arg: &str, with_keys: bool) -> anyhow::Result<(Config, String)> {
    let path = Path::new(arg);
    if arg.ends_with(".conf") || arg.contains('/') || path.is_file() {
        let config = gatehouse_profile::parse::parse_file(path)?;
        return Ok((config, path.display().to_string()));
    }
    let mut store =
        gatehouse_profile::store::Store::open_default().context("cannot open the profile store")?;
    let p = if with_keys {
        store.load(arg, true)
    } else {
        store.find(arg)
    }
    .with_context(|| format!("cannot load profile {arg:?}"))?;
    Ok((p.config, p.info.name))
}

/// Runs `gatehouse scan`.
pub fn run(args: ScanArgs) -> anyhow::Result<()> {
    let path = if args.demo {
        Via::Demo
    } else if let Some(p) = &args.no_root {
        Via::NoRoot(p.clone())
    } else {
        Via::Os
    };
    let ports = args
        .ports
        .as_deref()
        .map(targets::parse_ports)
        .transpose()
        .context("--ports")?;
    if !(args.rate >= 0.0 && args.rate.is_finite()) {
        bail!("--rate must be a number of probes per second (0: no limit)");
    }
    if args.timeout == 0 {
        bail!("--timeout must be at least 1 ms");
    }
    let mut lab = None;
    let (profile, label) = match &path {
        Via::Demo => {
            let l = gatehouse_lab::Lab::start(gatehouse_lab::LabOptions::default())
                .context("starting the demo lab")?;
            let p = l.profile().clone();
            lab = Some(l);
            (Some(p), "gatehouse-lab".to_string())
        }
        Via::NoRoot(p) => {
            let (c, l) = load_profile(p, true)?;
            (Some(c), l)
        }
        Via::Os => match &args.profile {
            Some(p) => {
                let (c, l) = load_profile(p, false)?;
                (Some(c), l)
            }
            None => (None, String::new()),
        },
    };
    let topo = match (&args.topology, &path) {
        (Some(f), _) => {
            Some(load_state(f).with_context(|| format!("reading the topology {}", f.display()))?)
        }
        (None, Via::Demo) => Some(
            gatehouse_vpc::tfstate::import_str(gatehouse_lab::TOPOLOGY_TFSTATE, "demo lab")
                .context("the demo lab's topology")?
                .0,
        ),
        (None, _) => None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(async {
        let ns = match (&path, &profile) {
            (Via::Os, _) | (_, None) => None,
            (_, Some(config)) => Some(Arc::new(
                Netstack::start(
                    config,
                    NetstackOptions {
                        socks_addr: None,
                        http_addr: None,
                        max_connections: args.concurrency.max(1) * 2,
                        ..NetstackOptions::default()
                    },
                )
                .await
                .with_context(|| format!("{label}: starting the userspace stack"))?,
            )),
        };
        let plan = plan(
            &args.targets,
            args.lan,
            ports.as_deref(),
            topo.as_ref(),
            profile.as_ref(),
            matches!(path, Via::Demo),
            ns.as_deref(),
        )
        .await?;
        for n in &plan.notes {
            eprintln!("{n}");
        }
        let dialer = match &ns {
            Some(ns) => Dialer::Tunnel(ns.clone()),
            None => Dialer::Os,
        };
        let limits = Limits {
            concurrency: args.concurrency.max(1),
            per_host_per_s: args.rate,
            timeout: Duration::ZERO,
        };
        let timeouts = Timeouts::both(Duration::from_millis(args.timeout));
        let total = plan.targets.len();
        let began = Instant::now();
        let mut last = began;
        let tty = std::io::stderr().is_terminal();
        let report = gatehouse_probe::scan(&dialer, plan.targets, limits, timeouts, |done, n| {
            let now = Instant::now();
            if now - began > Duration::from_secs(1) && now - last >= Duration::from_secs(1) {
                last = now;
                if tty {
                    eprint!("\r{done}/{n} probed");
                } else {
                    eprintln!("{done}/{n} probed");
                }
            }
        })
        .await;
        if tty && began.elapsed() > Duration::from_secs(1) {
            eprintln!("\r{total}/{total} probed");
        }
        if let Some(ns) = ns.and_then(|a| Arc::try_unwrap(a).ok()) {
            ns.shutdown().await;
        }
        anyhow::Ok((report, plan.named))
    });
    if let Some(l) = lab {
        l.stop();
    }
    let (report, named) = result?;
    // The demo lab's addresses are not the user's network: its probes are not kept.
    if !args.no_save && !matches!(path, Via::Demo) {
        save_probes(&path, &report);
    }
    let tunnel = profile.as_ref().map(|c| tunnel_of(c, &label));
    render(
        &args,
        &path,
        &report,
        &named,
        topo.as_ref(),
        tunnel.as_ref(),
    )
}

fn render(
    args: &ScanArgs,
    path: &Via,
    report: &Report,
    named: &HashSet<(IpAddr, u16)>,
    topo: Option<&Topology>,
    tunnel: Option<&Tunnel>,
) -> anyhow::Result<()> {
    let verdicts = topo.map(|t| {
        let probes = reach_probes(&report.results, t);
        let hint = VpnHint::default();
        let analyzer = Analyzer::new(t, tunnel, &hint, &probes);
        probes
            .iter()
            .map(|p| analyzer.check_key(&p.host, Protocol::Tcp, p.port))
            .collect::<Vec<_>>()
    });
    let secs = report.elapsed.as_secs_f64();
    let rate = if secs > 0.0 {
        report.results.len() as f64 / secs
    } else {
        0.0
    };
    let count = |state: &str| {
        report
            .results
            .iter()
            .filter(|r| r.outcome.state() == state)
            .count()
    };
    if args.json {
        let v = serde_json::json!({
            "path": path.name(),
            "concurrency": report.limits.concurrency,
            "peak_in_flight": report.peak_in_flight,
            "rate_per_host_per_s": report.limits.per_host_per_s,
            "timeout_ms": args.timeout,
            "elapsed_ms": report.elapsed.as_millis() as u64,
            "probes_per_s": rate,
            "results": report.results,
            "verdicts": verdicts,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{:<22} {:<14} {:<11} SERVICE",
        "ADDRESS", "NAME", "STATE"
    )?;
    for r in &report.results {
        // Silence or a reset on a guessed port is the common case: counted, not listed.
        if matches!(r.outcome, Outcome::Timeout | Outcome::Refused)
            && !named.contains(&(r.target.ip, r.target.port))
        {
            continue;
        }
        let service = match &r.outcome {
            Outcome::Open { fingerprint } => fingerprint.summary(),
            Outcome::Error { message } => message.clone(),
            _ => String::new(),
        };
        writeln!(
            out,
            "{:<22} {:<14} {:<11} {service}",
            r.target.addr().to_string(),
            r.target.name.as_deref().unwrap_or("-"),
            r.outcome.state()
        )?;
    }
    writeln!(
        out,
        "\n{} probes in {secs:.1} s ({rate:.0}/s; concurrency {}, peak {}, {}/s per host): \
         {} open, {} refused, {} no answer, {} unreachable, {} errors",
        report.results.len(),
        report.limits.concurrency,
        report.peak_in_flight,
        report.limits.per_host_per_s,
        count("open"),
        count("refused"),
        count("timeout"),
        count("unreachable"),
        count("error"),
    )?;
    if let Some(vs) = verdicts {
        writeln!(out, "\nReachability with these probes:")?;
        for v in vs {
            writeln!(out, "{} {}", status_mark(v.status), v.sentence)?;
        }
    }
    Ok(())
}
