//! `gatehouse vpc …`: import a topology, diff two, lay one out; the live imports (`aws`,
//! `digitalocean`) and `drift` are in their own modules. Parsing and rendering only: the work
//! is in `gatehouse-vpc`.

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use gatehouse_vpc::model::Topology;
use gatehouse_vpc::snapshot::{diff, Snapshot};
use gatehouse_vpc::tfstate::{import_file, ImportReport};

use crate::vpc_common::{load_topology, print_host, print_import, vpc_line};

/// `gatehouse vpc`.
#[derive(Debug, Args)]
pub struct VpcArgs {
    #[command(subcommand)]
    command: VpcCommand,
}

#[derive(Debug, Subcommand)]
enum VpcCommand {
    /// Import a Terraform state file (or `terraform show -json` output) and print its topology.
    Import(ImportArgs),
    /// What changed between two topologies (state files or snapshots): drift, or history.
    Diff(DiffArgs),
    /// Print the map layout (positions of regions, VPCs, subnets, hosts) as JSON.
    Layout(LayoutArgs),
    /// Read the live topology from the AWS API (EC2 and ELBv2, several regions).
    Aws(crate::vpc_aws_cmd::AwsArgs),
    /// Read the live topology from the DigitalOcean API (VPCs, droplets, load balancers,
    /// firewalls); `--set-token` stores the API token in the OS keyring.
    Digitalocean(crate::vpc_do_cmd::DoArgs),
    /// What differs between a Terraform state and the live API (or a snapshot of it).
    Drift(crate::vpc_drift_cmd::DriftArgs),
}

#[derive(Debug, Args)]
struct ImportArgs {
    /// The state file.
    file: PathBuf,
    /// Print the topology and the import report as JSON.
    #[arg(long)]
    json: bool,
    /// Also save a timestamped snapshot there (for `vpc diff` and `reach --state`).
    #[arg(long, value_name = "PATH")]
    save: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct DiffArgs {
    /// The older topology: a state file or a snapshot.
    from: PathBuf,
    /// The newer topology: a state file or a snapshot.
    to: PathBuf,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct LayoutArgs {
    /// A state file or a snapshot.
    file: PathBuf,
    /// Print JSON (the layout is always printed as JSON; accepted like on every vpc command).
    #[arg(long)]
    json: bool,
}

/// Runs `gatehouse vpc …`.
pub fn run(args: VpcArgs) -> anyhow::Result<()> {
    match args.command {
        VpcCommand::Import(a) => import(a),
        VpcCommand::Diff(a) => {
            let (from, to) = (load_topology(&a.from)?, load_topology(&a.to)?);
            let d = diff(&from, &to);
            if a.json {
                println!("{}", serde_json::to_string_pretty(&d)?);
            } else if d.is_empty() {
                println!("no changes");
            } else {
                for line in d.lines() {
                    println!("{line}");
                }
            }
            Ok(())
        }
        VpcCommand::Aws(a) => crate::vpc_aws_cmd::run(a),
        VpcCommand::Digitalocean(a) => crate::vpc_do_cmd::run(a),
        VpcCommand::Drift(a) => crate::vpc_drift_cmd::run(a),
        VpcCommand::Layout(a) => {
            let t = load_topology(&a.file)?;
            println!(
                "{}",
                serde_json::to_string(&gatehouse_vpc::layout::layout_ref(&t))?
            );
            Ok(())
        }
    }
}

fn import(a: ImportArgs) -> anyhow::Result<()> {
    let (topology, report) = import_file(&a.file)?;
    if let Some(path) = &a.save {
        Snapshot::now(a.file.display().to_string(), topology.clone())
            .save(path)
            .context("cannot save the snapshot")?;
    }
    print_import(
        a.json,
        || serde_json::json!({ "topology": topology, "report": report }),
        || print_summary(&a.file, &topology, &report),
        a.save.as_deref(),
    )
}

fn print_summary(file: &Path, t: &Topology, r: &ImportReport) {
    let c = t.counts();
    println!(
        "{}: {:?}, Terraform {}",
        file.display(),
        r.format,
        r.terraform_version.as_deref().unwrap_or("?")
    );
    println!(
        "  {} VPCs, {} subnets, {} hosts, {} load balancers, {} gateways, {} route tables ({} routes), {} firewalls ({} rules), {} peerings",
        c.vpcs, c.subnets, c.hosts, c.load_balancers, c.gateways, c.route_tables, c.routes, c.firewalls, c.rules, c.peerings
    );
    for v in &t.vpcs {
        println!(
            "  {}{}",
            vpc_line(v),
            if v.placeholder {
                " [not in the state]"
            } else {
                ""
            }
        );
        for s in t
            .subnets
            .iter()
            .filter(|s| s.vpc.as_deref() == Some(v.id.as_str()))
        {
            let kind = match s.public {
                Some(true) => "public",
                Some(false) => "private",
                None => "-",
            };
            println!(
                "    subnet {} {} {kind}",
                s.name,
                s.cidr.map(|c| c.to_string()).unwrap_or_default()
            );
            for h in t
                .hosts
                .iter()
                .filter(|h| h.subnet.as_deref() == Some(s.id.as_str()))
            {
                print_host(h, "      ", "host", false);
            }
        }
        for h in t
            .hosts
            .iter()
            .filter(|h| h.vpc.as_deref() == Some(v.id.as_str()) && h.subnet.is_none())
        {
            print_host(h, "    ", "host", false);
        }
    }
    if r.skipped_total() > 0 {
        let skipped: Vec<String> = r.skipped.iter().map(|(k, n)| format!("{k} {n}")).collect();
        println!(
            "  skipped {} (types not in the model): {}",
            r.skipped_total(),
            skipped.join(", ")
        );
    }
    for w in &r.warnings {
        println!("  warning: {w}");
    }
}
