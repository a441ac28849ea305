//! `gatehouse vpc digitalocean` (the live topology from the DigitalOcean API, kept as the last
//! good snapshot; `--set-token` stores the API token in the OS keyring) and `gatehouse vpc drift`
//! (a Terraform state against the live DigitalOcean or AWS API, or a snapshot). Parsing and rendering only: the work
//! is in `gatehouse-cloud` and `gatehouse-vpc`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use clap::{ArgGroup, Args};
use gatehouse_cloud::digitalocean as live;
use gatehouse_vpc::digitalocean::RetryPolicy;
use gatehouse_vpc::model::{Provider, Topology};
use gatehouse_vpc::snapshot::{drift, drift_ignored_fields, drift_lines, Snapshot};
use gatehouse_vpc::store::SnapshotStore;
use serde_json::json;

/// `gatehouse vpc digitalocean`.
#[derive(Debug, Args)]
pub struct DoArgs {
    /// The API base (else `$DIGITALOCEAN_API_URL`, else https://api.digitalocean.com). Plain
    /// http only to a loopback address.
    #[arg(long, value_name = "URL")]
    api_url: Option<String>,
    /// Read the API token from standard input and store it in the OS keyring (service
    /// `gatehouse`, user `digitalocean/token`), then exit.
    #[arg(long, conflicts_with_all = ["forget_token", "no_save"])]
    set_token: bool,
    /// Remove the API token from the OS keyring, then exit.
    #[arg(long, conflicts_with = "no_save")]
    forget_token: bool,
    /// Print JSON.
    #[arg(long)]
    json: bool,
    /// Do not save the snapshot.
    #[arg(long)]
    no_save: bool,
}

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

/// Runs `gatehouse vpc digitalocean`.
pub fn run(a: DoArgs) -> anyhow::Result<()> {
    if a.set_token {
        return set_token(a.json);
    }
    if a.forget_token {
        live::delete_token()?;
        if a.json {
            println!("{}", json!({ "token": "removed" }));
        } else {
            println!("DigitalOcean API token removed from the OS keyring");
        }
        return Ok(());
    }
    let base = live::api_url(a.api_url.as_deref());
    let store = if a.no_save {
        None
    } else {
        Some(SnapshotStore::open_default()?)
    };
    let topology = import_live(&base, store.as_ref())?;
    let snap = Snapshot::now(live::SOURCE, topology);
    let saved = match &store {
        Some(s) => Some(s.save(&snap).context("cannot save the snapshot")?),
        None => None,
    };
    if a.json {
        let v = json!({
            "source": live::SOURCE,
            "api_url": base,
            "taken_at": snap.taken_at,
            "snapshot_file": saved,
            "counts": snap.topology.counts(),
            "topology": snap.topology,
        });
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    print_text(&base, &snap);
    if let Some(p) = saved {
        println!("snapshot saved to {}", p.display());
    }
    Ok(())
}

/// Reads the token from standard input into the keyring.
fn set_token(json: bool) -> anyhow::Result<()> {
    let token = live::Token::read_from(std::io::stdin().lock())?;
    live::save_token(&token)?;
    if json {
        println!(
            "{}",
            json!({ "token": "stored", "service": "gatehouse", "user": live::TOKEN_ACCOUNT })
        );
    } else {
        println!(
            "DigitalOcean API token stored in the OS keyring (service \"gatehouse\", user {:?})",
            live::TOKEN_ACCOUNT
        );
    }
    Ok(())
}

/// The live import; on failure the error says that the previous snapshot is kept.
fn import_live(base: &str, store: Option<&SnapshotStore>) -> anyhow::Result<Topology> {
    live::check_api_url(base)?;
    let token = live::load_token()?;
    let policy = RetryPolicy {
        max_retries: 3,
        backoff: Duration::from_millis(500),
        max_wait: Duration::from_secs(30),
    };
    live::import(base, &token, policy).map_err(|e| {
        let hint = match e.status() {
            Some(401) => {
                "; the token was refused: store a valid one with `gatehouse vpc digitalocean \
                 --set-token`"
            }
            Some(403) => {
                "; the token lacks read access to VPCs, droplets, load balancers or firewalls"
            }
            _ => "",
        };
        let kept = match store.map(|s| (s.latest(live::SOURCE), s.path(live::SOURCE))) {
            Some((Ok(Some(prev)), Ok(path))) => format!(
                "; the previous snapshot ({}) is kept in {}",
                prev.taken_at,
                path.display()
            ),
            _ => String::new(),
        };
        anyhow::Error::new(e).context(format!(
            "the DigitalOcean import from {base} failed{hint}{kept}"
        ))
    })
}

fn print_text(base: &str, snap: &Snapshot) {
    let t = &snap.topology;
    let c = t.counts();
    println!("DigitalOcean {base}, {}", snap.taken_at);
    println!(
        "  {} VPCs, {} droplets, {} load balancers, {} firewalls ({} rules)",
        c.vpcs, c.hosts, c.load_balancers, c.firewalls, c.rules
    );
    let mut listed = std::collections::BTreeSet::new();
    for v in &t.vpcs {
        let cidrs: Vec<String> = v.cidrs.iter().map(|c| c.to_string()).collect();
        println!(
            "  vpc {} ({}) {} {}",
            v.name,
            v.id,
            v.region.as_deref().unwrap_or("-"),
            cidrs.join(",")
        );
        for h in t
            .hosts
            .iter()
            .filter(|h| h.vpc.as_deref() == Some(v.id.as_str()))
        {
            listed.insert(h.id.as_str());
            print_droplet(h, "    ");
        }
        for l in t
            .load_balancers
            .iter()
            .filter(|l| l.vpc.as_deref() == Some(v.id.as_str()))
        {
            listed.insert(l.id.as_str());
            println!(
                "    load balancer {} {}",
                l.name,
                l.ip.map(|i| i.to_string()).unwrap_or_default()
            );
        }
    }
    let others: Vec<_> = t
        .hosts
        .iter()
        .filter(|h| !listed.contains(h.id.as_str()))
        .collect();
    if !others.is_empty() {
        println!("  outside the listed VPCs:");
        for h in others {
            print_droplet(h, "    ");
        }
    }
    for l in t
        .load_balancers
        .iter()
        .filter(|l| !listed.contains(l.id.as_str()))
    {
        println!(
            "  load balancer {} {} (VPC {})",
            l.name,
            l.ip.map(|i| i.to_string()).unwrap_or_default(),
            l.vpc.as_deref().unwrap_or("-")
        );
    }
    for f in &t.firewalls {
        println!("  firewall {} ({}): {} rules", f.name, f.id, f.rules.len());
    }
}

fn print_droplet(h: &gatehouse_vpc::model::Host, indent: &str) {
    let ips: Vec<String> = h.private_ips.iter().map(|i| i.to_string()).collect();
    println!(
        "{indent}droplet {} ({}) {}{} {}",
        h.name,
        h.id,
        ips.join(","),
        h.public_ip
            .map(|p| format!(" public {p}"))
            .unwrap_or_default(),
        h.state.as_deref().unwrap_or("")
    );
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
pub fn run_drift(a: DriftArgs) -> anyhow::Result<()> {
    let state = load_state(&a.state_file)?;
    let (label, live_topology, provider) = match (&a.snapshot, a.digitalocean) {
        (Some(path), _) => {
            let t = crate::vpc_cmd::load_topology(path)?;
            let p = sole_provider(&t);
            (path.display().to_string(), t, p)
        }
        (None, true) => {
            let base = live::api_url(a.api_url.as_deref());
            let store = SnapshotStore::open_default()?;
            let t = import_live(&base, Some(&store))?;
            store
                .save(&Snapshot::now(live::SOURCE, t.clone()))
                .context("cannot save the snapshot")?;
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
            SnapshotStore::open_default()?
                .save(&Snapshot::now(got.source.clone(), got.topology.clone()))
                .context("cannot save the snapshot")?;
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

/// The state file (a snapshot is refused: drift compares a state with the live side).
fn load_state(path: &Path) -> anyhow::Result<Topology> {
    Ok(gatehouse_vpc::tfstate::import_file(path)?.0)
}
