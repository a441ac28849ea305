//! `gatehouse vpc drift`: a Terraform state against the live DigitalOcean or AWS API, or a
//! snapshot. Parsing and rendering only: the work is in `gatehouse-cloud` and `gatehouse-vpc`.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{ArgGroup, Args};
use gatehouse_cloud::digitalocean as live;
use gatehouse_vpc::model::{Provider, Topology};
use gatehouse_vpc::snapshot::{drift, drift_ignored_fields, drift_lines, Snapshot};
use gatehouse_vpc::store::SnapshotStore;
use serde_json::json;

use crate::vpc_common::{load_state, load_topology, save_snapshot};
use crate::vpc_do_cmd::import_live;

/// `gatehouse vpc drift`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("live").required(true).args(["digitalocean", "aws", "snapshot"])))]
pub struct DriftArgs {
    /// The Terraform state file (v4 or `terraform show -json` output).
    state_file: PathBuf,
    /// Compare with the live DigitalOcean API (token from the OS keyring).
    #[arg(long)]
    digitalocean: bool,
    /// Compare with the live AWS API (EC2 and ELBv2; credentials, regions and endpoints as the
    /// AWS CLI finds them).
    #[arg(long)]
    aws: bool,
    /// The AWS profile (with `--aws`).
    #[arg(long, requires = "aws")]
    profile: Option<String>,
    /// A region to read (with `--aws`; repeat it, or separate with commas).
    #[arg(long = "region", value_name = "REGION", requires = "aws")]
    regions: Vec<String>,
    /// Compare with a snapshot (`vpc import --save`, or the last good one of a live import).
    #[arg(long, value_name = "FILE")]
    snapshot: Option<PathBuf>,
    /// The DigitalOcean API base (with `--digitalocean`).
    #[arg(long, value_name = "URL", requires = "digitalocean")]
    api_url: Option<String>,
    /// Print JSON.
    #[arg(long)]
    json: bool,
}

/// The only provider of a topology's VPCs, hosts and load balancers, when there is one.
fn sole_provider(t: &Topology) -> Option<Provider> {
    let mut all = t
        .vpcs
        .iter()
        .map(|v| v.provider)
        .chain(t.hosts.iter().map(|h| h.provider))
        .chain(t.load_balancers.iter().map(|l| l.provider));
    let first = all.next()?;
    all.all(|p| p == first).then_some(first)
}

/// Runs `gatehouse vpc drift`.
pub fn run(a: DriftArgs) -> anyhow::Result<()> {
    let state = load_state(&a.state_file)?;
    let (label, live_topology, provider) = match (&a.snapshot, a.digitalocean) {
        (Some(path), _) => {
            let t = load_topology(path)?;
            let p = sole_provider(&t);
            (path.display().to_string(), t, p)
        }
        (None, true) => {
            let base = live::api_url(a.api_url.as_deref());
            let store = SnapshotStore::open_default()?;
            let t = import_live(&base, Some(&store))?.topology;
            save_snapshot(Some(&store), &Snapshot::now(live::SOURCE, t.clone()))?;
            (base, t, Some(Provider::Digitalocean))
        }
        (None, false) if a.aws => {
            let settings = gatehouse_cloud::aws::Settings {
                profile: a.profile.clone(),
                regions: a.regions.clone(),
                ..Default::default()
            };
            let got =
                gatehouse_cloud::aws::import(&settings, &gatehouse_cloud::aws::Env::from_process())
                    .context("the AWS import failed")?;
            save_snapshot(
                Some(&SnapshotStore::open_default()?),
                &Snapshot::now(got.source.clone(), got.topology.clone()),
            )?;
            (got.source, got.topology, Some(Provider::Aws))
        }
        (None, false) => bail!("give --digitalocean, --aws or --snapshot FILE"),
    };
    let d = drift(&state, &live_topology, provider);
    if a.json {
        let v = json!({
            "state": a.state_file.display().to_string(),
            "live": label,
            "provider": provider,
            "in_sync": d.is_empty(),
            "compared_only_when_both_know": drift_ignored_fields(),
            "drift": d,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let scope = match provider {
        Some(p) => format!(
            " ({} objects)",
            serde_json::to_value(p)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        ),
        None => String::new(),
    };
    println!(
        "drift of {} against {label}{scope}:",
        a.state_file.display()
    );
    if d.is_empty() {
        println!("  none: the state matches");
    }
    for line in drift_lines(&d) {
        println!("  {line}");
    }
    Ok(())
}
