//! `gatehouse vpc digitalocean`: the live topology from the DigitalOcean API, kept as the last
//! good snapshot; `--set-token` stores the API token in the OS keyring. Parsing and rendering
//! only: the work is in `gatehouse-cloud` and `gatehouse-vpc`.

use std::time::Duration;

use clap::Args;
use gatehouse_cloud::digitalocean as live;
use gatehouse_vpc::digitalocean::{Import, RetryPolicy};
use gatehouse_vpc::snapshot::Snapshot;
use gatehouse_vpc::store::SnapshotStore;
use serde_json::json;

use crate::vpc_common::{
    open_store, previous_kept, print_host, print_import, save_snapshot, vpc_line,
};

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
    let store = open_store(a.no_save)?;
    let got = import_live(&base, store.as_ref())?;
    let snap = Snapshot::now(live::SOURCE, got.topology);
    let warnings = got.warnings;
    let saved = save_snapshot(store.as_ref(), &snap)?;
    print_import(
        a.json,
        || {
            json!({
                "source": live::SOURCE,
                "api_url": base,
                "taken_at": snap.taken_at,
                "snapshot_file": saved,
                "counts": snap.topology.counts(),
                "warnings": warnings,
                "topology": snap.topology,
            })
        },
        || print_text(&base, &snap, &warnings),
        saved.as_deref(),
    )
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
pub(crate) fn import_live(base: &str, store: Option<&SnapshotStore>) -> anyhow::Result<Import> {
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
        let kept = previous_kept(store, live::SOURCE, "");
        anyhow::Error::new(e).context(format!(
            "the DigitalOcean import from {base} failed{hint}{kept}"
        ))
    })
}

fn print_text(base: &str, snap: &Snapshot, warnings: &[String]) {
    let t = &snap.topology;
    let c = t.counts();
    println!("DigitalOcean {base}, {}", snap.taken_at);
    println!(
        "  {} VPCs, {} droplets, {} managed services, {} load balancers, {} firewalls ({} rules)",
        c.vpcs,
        c.hosts - c.services,
        c.services,
        c.load_balancers,
        c.firewalls,
        c.rules
    );
    let mut listed = std::collections::BTreeSet::new();
    for v in &t.vpcs {
        println!("  {}", vpc_line(v));
        for h in t
            .hosts
            .iter()
            .filter(|h| h.vpc.as_deref() == Some(v.id.as_str()))
        {
            listed.insert(h.id.as_str());
            print_host(h, "    ", "droplet", true);
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
            print_host(h, "    ", "droplet", true);
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
    for w in warnings {
        println!("warning: {w}");
    }
}
