//! `gatehouse`: the command line of Gatehouse. Each subcommand lives in its own module and only
//! parses input, calls the library, and renders the result (text, or JSON with `--json`).

mod daemon_cmd;
mod demo_cmd;
mod noroot_cmd;
mod profile_cmd;
mod profile_common;
mod profile_keygen_cmd;
mod profile_qr_cmd;
mod profile_vault_cmd;
mod reach_cmd;
mod scan_cmd;
mod scan_targets;
mod service_cmd;
mod status_cmd;
mod up_cmd;
mod vpc_aws_cmd;
mod vpc_cmd;
mod vpc_common;
mod vpc_do_cmd;
mod vpc_drift_cmd;

use clap::{Parser, Subcommand};

/// Gatehouse: WireGuard profiles, tunnels and the VPCs behind them.
#[derive(Parser)]
#[command(name = "gatehouse", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the demo lab (WireGuard gateway + virtual private hosts) and a no-root client
    /// connected to it; prints the proxy addresses and things to try.
    Demo(demo_cmd::DemoArgs),
    /// Manage WireGuard profiles: import, export, list, show, rename, delete, keygen, qr.
    Profile(profile_cmd::ProfileArgs),
    /// Connect a profile (or a .conf file) in the foreground; Ctrl-C disconnects.
    Up(up_cmd::UpArgs),
    /// Show the running tunnels: peers, endpoints, handshake age, bytes.
    Status(status_cmd::StatusArgs),
    /// Disconnect a profile the Gatehouse service runs.
    Down(daemon_cmd::DownArgs),
    /// Run the privileged Gatehouse service (root), or talk to it.
    Daemon(daemon_cmd::DaemonArgs),
    /// Install or uninstall the service (systemd unit and the `gatehouse` group).
    Service(service_cmd::ServiceArgs),
    /// VPC topology: import a Terraform state, diff two topologies, lay one out.
    Vpc(vpc_cmd::VpcArgs),
    /// Why a host and port answer or not through the tunnel (VPC routes, security groups).
    Reach(reach_cmd::ReachArgs),
    /// Probe private hosts and ports: what answers (HTTP, TLS, SSH, Redis, PostgreSQL, MySQL).
    Scan(scan_cmd::ScanArgs),
}

/// Logs to stderr (`RUST_LOG`, warnings by default), for the commands that run a while.
pub(crate) fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo(args) => demo_cmd::run(args),
        Command::Profile(args) => profile_cmd::run(args),
        Command::Up(args) => up_cmd::up(args),
        Command::Status(args) => status_cmd::status(args),
        Command::Down(args) => daemon_cmd::down(args),
        Command::Daemon(args) => daemon_cmd::run(args),
        Command::Service(args) => service_cmd::run(args),
        Command::Vpc(args) => vpc_cmd::run(args),
        Command::Reach(args) => reach_cmd::run(args),
        Command::Scan(args) => scan_cmd::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
