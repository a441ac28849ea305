//! `gatehouse vpc aws`: reads the live topology from the AWS API (EC2, ELBv2, RDS, ElastiCache,
//! EKS; several regions), prints it, and keeps it as the last good snapshot of its source. A
//! failed import prints why and leaves the previous snapshot as it was. The work is in `gatehouse-cloud`.

use std::time::Duration;

use clap::Args;
use gatehouse_cloud::aws::{import, Env, LiveImport, Settings, Target, Timeouts};
use gatehouse_vpc::model::{AppliesTo, FirewallKind, GatewayKind, Topology};
use gatehouse_vpc::snapshot::Snapshot;
use serde_json::json;

use crate::vpc_common::{joined, open_store, previous_kept, print_import, save_snapshot};

/// `gatehouse vpc aws`.
#[derive(Debug, Args)]
pub struct AwsArgs {
    /// The AWS profile (else `AWS_PROFILE`, else `default`); an explicit profile is used even
    /// when `AWS_ACCESS_KEY_ID` is set.
    #[arg(long)]
    profile: Option<String>,
    /// A region to read (repeat it, or separate with commas); else `AWS_REGION`,
    /// `AWS_DEFAULT_REGION` or the profile's region.
    #[arg(long = "region", value_name = "REGION")]
    regions: Vec<String>,
    /// Print the topology as JSON.
    #[arg(long)]
    json: bool,
    /// Items per page (clamped to each call's limits, 5 at least for EC2).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    page_size: Option<u32>,
    /// Seconds one request may take.
    #[arg(long, value_name = "SECS", default_value_t = 30,
          value_parser = clap::value_parser!(u64).range(1..=3600))]
    timeout: u64,
    /// Do not save the snapshot.
    #[arg(long)]
    no_save: bool,
}

/// Runs `gatehouse vpc aws`.
pub fn run(a: AwsArgs) -> anyhow::Result<()> {
    let env = Env::from_process();
    let settings = Settings {
        profile: a.profile.clone(),
        regions: a.regions.clone(),
        page_size: a.page_size,
        timeouts: Timeouts {
            connect: Duration::from_secs(a.timeout.min(10)),
            request: Duration::from_secs(a.timeout),
        },
    };
    let target = Target::resolve(&settings, &env)?;
    let source = target.source();
    let store = open_store(a.no_save)?;

    let got = match import(&settings, &env) {
        Ok(got) => got,
        Err(e) => {
            let kept = previous_kept(store.as_ref(), &source, &format!(" of {source}"));
            return Err(
                anyhow::Error::new(e).context(format!("the AWS import of {source} failed{kept}"))
            );
        }
    };

    let snap = Snapshot::now(source.clone(), got.topology.clone());
    let saved = save_snapshot(store.as_ref(), &snap)?;
    print_import(
        a.json,
        || {
            json!({
            "source": source,
            "profile": got.profile,
            "credentials_source": got.credentials_source,
            "regions": got.regions,
            "endpoints": got.endpoints.iter().map(|(r, ec2, elb)| json!({"region": r, "ec2": ec2, "elbv2": elb})).collect::<Vec<_>>(),
            "taken_at": snap.taken_at,
            "requests": got.requests,
            "snapshot_file": saved,
            "warnings": got.warnings,
            "counts": got.topology.counts(),
            "topology": got.topology,
            })
        },
        || print_text(&got, &snap),
        saved.as_deref(),
    )
}

fn print_text(got: &LiveImport, snap: &Snapshot) {
    let t: &Topology = &got.topology;
    println!(
        "AWS profile {} ({}), {} — {} requests, {}",
        got.profile,
        got.credentials_source,
        got.regions.join(", "),
        got.requests,
        snap.taken_at
    );
    for v in &t.vpcs {
        println!(
            "{} {} {} {}",
            v.id,
            v.name,
            joined(&v.cidrs),
            v.region.as_deref().unwrap_or("")
        );
        for s in t.subnets.iter().filter(|s| s.vpc.as_ref() == Some(&v.id)) {
            let kind = match s.public {
                Some(true) => "public",
                Some(false) => "private",
                None => "",
            };
            println!(
                "  subnet {} {} {} {} {kind}",
                s.id,
                s.name,
                s.cidr.map(|c| c.to_string()).unwrap_or_default(),
                s.zone.as_deref().unwrap_or("")
            );
            for h in t.hosts.iter().filter(|h| h.subnet.as_ref() == Some(&s.id)) {
                if let Some(svc) = &h.service {
                    println!(
                        "    service {} {} {}:{} {}",
                        h.name,
                        svc.engine.as_deref().unwrap_or(svc.kind.label()),
                        svc.endpoint.as_deref().unwrap_or("-"),
                        svc.port().map(|p| p.to_string()).unwrap_or_default(),
                        h.state.as_deref().unwrap_or("")
                    );
                    continue;
                }
                println!(
                    "    host {} {} {} {}",
                    h.id,
                    h.name,
                    h.primary_ip().map(|i| i.to_string()).unwrap_or_default(),
                    h.state.as_deref().unwrap_or("")
                );
            }
        }
        for f in t
            .firewalls
            .iter()
            .filter(|f| f.kind == FirewallKind::NetworkAcl && f.vpc.as_ref() == Some(&v.id))
        {
            let subnets = match &f.applies_to {
                AppliesTo::Subnets { ids } => ids.join(","),
                _ => String::new(),
            };
            println!(
                "  network ACL {} {} {} rules, subnets {subnets}",
                f.id,
                f.name,
                f.rules.len()
            );
        }
        for g in t.gateways.iter().filter(|g| g.vpc.as_ref() == Some(&v.id)) {
            println!("  gateway {} {} {:?}", g.id, g.name, g.kind);
        }
        for l in t
            .load_balancers
            .iter()
            .filter(|l| l.vpc.as_ref() == Some(&v.id))
        {
            let ports: Vec<String> = l
                .listeners
                .iter()
                .map(|x| format!("{}/{}", x.port, x.protocol))
                .collect();
            println!("  load balancer {} {}", l.name, ports.join(" "));
        }
    }
    for g in t.gateways.iter().filter(|g| g.kind == GatewayKind::Transit) {
        println!(
            "transit gateway {} {} {} attachments",
            g.id,
            g.name,
            g.attachments.len()
        );
        for a in &g.attachments {
            println!(
                "  attachment {} {} {} {}",
                a.id,
                a.kind.as_deref().unwrap_or("-"),
                a.vpc.as_deref().unwrap_or("-"),
                a.subnets.join(",")
            );
        }
    }
    // Managed services placed in no known subnet.
    for h in t
        .hosts
        .iter()
        .filter(|h| h.service.is_some() && h.subnet.as_deref().and_then(|s| t.subnet(s)).is_none())
    {
        let svc = h.service.as_ref().map(|s| s.kind.label()).unwrap_or("");
        println!("service {} {svc} (no subnet known)", h.name);
    }
    let c = t.counts();
    let nacls = t
        .firewalls
        .iter()
        .filter(|f| f.kind == FirewallKind::NetworkAcl)
        .count();
    println!(
        "{} VPCs, {} subnets, {} hosts ({} managed services), {} load balancers, {} target groups, {} gateways ({} attachments), {} route tables ({} routes), {} security groups and {} network ACLs ({} rules), {} peerings",
        c.vpcs, c.subnets, c.hosts, c.services, c.load_balancers, c.target_groups, c.gateways, c.attachments, c.route_tables, c.routes, c.firewalls - nacls, nacls, c.rules, c.peerings
    );
    for w in &got.warnings {
        println!("warning: {w}");
    }
}
