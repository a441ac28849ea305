//! `gatehouse`: the command line of Gatehouse.

use clap::Parser;

/// Gatehouse: WireGuard profiles, tunnels and the VPCs behind them.
#[derive(Parser)]
#[command(name = "gatehouse", version)]
struct Cli {}

fn main() -> anyhow::Result<()> {
    let _cli = Cli::parse();
    Ok(())
}
