//! `gatehouse demo`: the demo lab (an in-process WireGuard gateway with virtual private hosts)
//! and the no-root client connected to it, with the proxy addresses and things to try.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use gatehouse_lab::{Lab, LabOptions};
use gatehouse_netstack::{ForwardSpec, Netstack, NetstackOptions};

/// Arguments of `gatehouse demo`.
#[derive(Args)]
pub struct DemoArgs {
    /// Start only the lab's gateway (for another WireGuard client, e.g. wireguard-go), no
    /// proxy.
    #[arg(long)]
    lab_only: bool,
    /// UDP address of the lab's WireGuard gateway.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// The Endpoint written in the client profile (default: the gateway's bound address).
    #[arg(long, value_name = "ADDR")]
    endpoint: Option<SocketAddr>,
    /// Print the client profile (wg-quick format, with the lab's throwaway private key).
    #[arg(long)]
    print_profile: bool,
    /// Write the client profile to FILE (mode 0600).
    #[arg(long, value_name = "FILE")]
    profile_out: Option<PathBuf>,
    /// Write the lab's VPC topology (Terraform state v4, what `gatehouse vpc` and `gatehouse
    /// reach` read) to FILE.
    #[arg(long, value_name = "FILE")]
    topology_out: Option<PathBuf>,
    /// Where the SOCKS5 proxy listens.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:1080")]
    socks: SocketAddr,
    /// Where the HTTP proxy listens.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8118")]
    http: SocketAddr,
    /// Port forwards `[udp/]LISTEN=HOST:PORT` (default: the cache and the database on free
    /// local ports).
    #[arg(long = "forward", value_name = "SPEC")]
    forwards: Vec<ForwardSpec>,
}

/// Runs `gatehouse demo` until Ctrl-C (or SIGTERM).
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    crate::init_tracing();
    let lab = Lab::start(LabOptions {
        listen: args.listen,
        endpoint: args.endpoint,
    })
    .context("starting the demo lab")?;
    let profile = lab.profile().clone();
    let text = gatehouse_profile::write::write(&profile);
    if let Some(path) = &args.profile_out {
        write_private(path, &text)
            .with_context(|| format!("writing the profile to {}", path.display()))?;
    }
    if let Some(path) = &args.topology_out {
        std::fs::write(path, gatehouse_lab::TOPOLOGY_TFSTATE)
            .with_context(|| format!("writing the topology to {}", path.display()))?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "lab gateway: {} (WireGuard over UDP)",
        lab.local_addr()
    )?;
    if args.print_profile {
        writeln!(out, "--- client profile ---\n{text}--- end of profile ---")?;
    }
    let netstack = if args.lab_only {
        None
    } else {
        let forwards = if args.forwards.is_empty() {
            vec![
                "0=cache.internal:6379".parse()?,
                "0=db.internal:5432".parse()?,
            ]
        } else {
            args.forwards.clone()
        };
        let options = NetstackOptions {
            socks_addr: Some(args.socks),
            http_addr: Some(args.http),
            forwards,
            ..NetstackOptions::default()
        };
        let ns = runtime
            .block_on(Netstack::start(&profile, options))
            .context("starting the no-root client")?;
        Some(ns)
    };
    if let Some(ns) = &netstack {
        print_try(&mut out, ns)?;
    } else {
        writeln!(
            out,
            "Connect any WireGuard client with the profile (--print-profile or --profile-out)."
        )?;
    }
    match (&args.profile_out, &args.topology_out) {
        (Some(conf), Some(state)) => writeln!(
            out,
            "  gatehouse reach db-replica:5432 --state {} --conf {}   (why not)",
            state.display(),
            conf.display()
        )?,
        _ => writeln!(
            out,
            "  (with --profile-out lab.conf --topology-out lab.tfstate: \
             gatehouse reach db-replica:5432 --state lab.tfstate --conf lab.conf)"
        )?,
    }
    writeln!(out, "ready (Ctrl-C stops the demo)")?;
    out.flush()?;
    drop(out);

    runtime.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("installing the SIGTERM handler")?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
            _ = term.recv() => {}
        }
        if let Some(ns) = netstack {
            ns.shutdown().await;
        }
        anyhow::Ok(())
    })?;
    let stats = lab.stats();
    lab.stop();
    eprintln!(
        "demo stopped: {} handshake(s), {} packet(s) delivered, {} blocked by a security group",
        stats.handshakes, stats.delivered, stats.blocked
    );
    Ok(())
}

fn print_try(out: &mut impl std::io::Write, ns: &Netstack) -> anyhow::Result<()> {
    let socks = ns.socks_addr();
    let http = ns.http_addr();
    if let Some(a) = socks {
        writeln!(out, "socks5 proxy: {a}")?;
    }
    if let Some(a) = http {
        writeln!(out, "http proxy: {a}")?;
    }
    let mut redis = None;
    let mut pg = None;
    for f in ns.forwards() {
        let target = match &f.target {
            gatehouse_netstack::Target::Addr(a) => a.to_string(),
            gatehouse_netstack::Target::Name(h, p) => format!("{h}:{p}"),
        };
        writeln!(out, "forward: {} -> {target} ({:?})", f.local, f.protocol)?;
        match f.target.port() {
            6379 => redis = Some(f.local),
            5432 => pg = Some(f.local),
            _ => {}
        }
    }
    writeln!(out, "\nThings to try:")?;
    if let Some(a) = socks {
        writeln!(
            out,
            "  curl --socks5-hostname {a} http://web-1.internal/\n  \
             curl --socks5-hostname {a} http://lb.internal/          (round robin: web-1, web-2)\n  \
             curl --socks5-hostname {a} http://pi.home.internal:8080/"
        )?;
    }
    if let Some(a) = http {
        writeln!(out, "  curl -x http://{a} http://router.home.internal/")?;
    }
    if let Some(a) = redis {
        writeln!(out, "  redis-cli -h {} -p {} PING", a.ip(), a.port())?;
    }
    if let Some(a) = pg {
        writeln!(
            out,
            "  psql -h {} -p {} -U demo -d lab -c 'select version()'",
            a.ip(),
            a.port()
        )?;
    }
    if let Some(a) = socks {
        writeln!(
            out,
            "  curl --socks5-hostname {a} --max-time 5 telnet://db-replica.internal:5432  \
             (blocked: sg-replica admits 5432 only from sg-app)"
        )?;
    }
    Ok(())
}

fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}
