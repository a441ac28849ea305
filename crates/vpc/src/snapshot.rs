//! Snapshots (a topology with the time it was taken and where it came from) and the diff of two
//! topologies: objects added, removed and changed field by field, firewall rules and routes added
//! and removed. The drift between a state file and the live API is the diff of their topologies.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{FirewallKind, Provider, Route, Rule, Topology};

/// A topology at a point in time.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// When, as RFC 3339 UTC (`2026-11-26T04:17:42Z`).
    pub taken_at: String,
    /// When, as seconds since the Unix epoch.
    pub taken_at_unix: u64,
    /// Where it came from (a file path, `aws:eu-west-1`…).
    pub source: String,
    /// The topology.
    pub topology: Topology,
}

/// Why a snapshot could not be saved or loaded.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a snapshot.
    #[error("{path}:{line}:{column}: not a snapshot: {message}")]
    Format {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
}

impl Snapshot {
    /// A snapshot taken now.
    pub fn now(source: impl Into<String>, topology: Topology) -> Snapshot {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Snapshot::at(unix, source, topology)
    }

    /// A snapshot taken at `unix` seconds.
    pub fn at(unix: u64, source: impl Into<String>, topology: Topology) -> Snapshot {
        Snapshot {
            taken_at: rfc3339(unix),
            taken_at_unix: unix,
            source: source.into(),
            topology,
        }
    }

    /// Writes it as JSON, atomically (a temporary file renamed over the target), so a failed
    /// write keeps the previous snapshot.
    pub fn save(&self, path: &Path) -> Result<(), SnapshotError> {
        let io = |source| SnapshotError::Io {
            path: path.display().to_string(),
            source,
        };
        let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
        if let Some(d) = dir {
            std::fs::create_dir_all(d).map_err(io)?;
        }
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(".tmp{}", std::process::id()));
        let tmp = std::path::PathBuf::from(tmp);
        let text = serde_json::to_vec_pretty(self).map_err(|e| io(std::io::Error::other(e)))?;
        std::fs::write(&tmp, text).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            io(e)
        })
    }

    /// Reads one saved by [`Snapshot::save`].
    pub fn load(path: &Path) -> Result<Snapshot, SnapshotError> {
        let label = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|source| SnapshotError::Io {
            path: label.clone(),
            source,
        })?;
        serde_json::from_reader(std::io::BufReader::new(file)).map_err(|e| {
            let full = e.to_string();
            let message = match full.rfind(" at line ") {
                Some(i) => full[..i].to_string(),
                None => full,
            };
            SnapshotError::Format {
                path: label,
                line: e.line(),
                column: e.column(),
                message,
            }
        })
    }
}

/// `unix` seconds as RFC 3339 UTC.
pub fn rfc3339(unix: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// An object, by kind, id and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ObjectRef {
    /// `vpc`, `subnet`, `host`, `load_balancer`, `target_group`, `gateway`, `route_table`,
    /// `firewall`, `peering`.
    pub kind: String,
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
}

/// One field that differs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    /// Field name.
    pub field: String,
    /// Value before.
    pub before: Value,
    /// Value after.
    pub after: Value,
}

/// An object present on both sides with different fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectChange {
    /// The object.
    pub object: ObjectRef,
    /// What differs (rules and routes are reported apart).
    pub fields: Vec<FieldChange>,
}

/// Rules added to and removed from one firewall.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleChanges {
    /// The firewall.
    pub firewall: ObjectRef,
    /// Rules only in the second topology.
    pub added: Vec<Rule>,
    /// Rules only in the first.
    pub removed: Vec<Rule>,
}

/// Routes added to and removed from one route table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteChanges {
    /// The route table.
    pub route_table: ObjectRef,
    /// Routes only in the second topology.
    pub added: Vec<Route>,
    /// Routes only in the first.
    pub removed: Vec<Route>,
}

/// The difference between two topologies.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Diff {
    /// Objects only in the second.
    pub added: Vec<ObjectRef>,
    /// Objects only in the first.
    pub removed: Vec<ObjectRef>,
    /// Objects in both whose fields differ.
    pub changed: Vec<ObjectChange>,
    /// Firewall rules added and removed (firewalls in both).
    pub rules: Vec<RuleChanges>,
    /// Routes added and removed (route tables in both).
    pub routes: Vec<RouteChanges>,
}

impl Diff {
    /// Whether the two topologies are the same.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.changed.is_empty()
            && self.rules.is_empty()
            && self.routes.is_empty()
    }

    /// One line per change, for terminals.
    pub fn lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for o in &self.added {
            out.push(format!("+ {} {} ({})", o.kind, o.name, o.id));
        }
        for o in &self.removed {
            out.push(format!("- {} {} ({})", o.kind, o.name, o.id));
        }
        for c in &self.changed {
            for f in &c.fields {
                out.push(format!(
                    "~ {} {}: {} {} → {}",
                    c.object.kind, c.object.name, f.field, f.before, f.after
                ));
            }
        }
        for r in &self.rules {
            for rule in &r.added {
                out.push(format!(
                    "+ rule in {}: {}",
                    r.firewall.name,
                    describe_rule(rule)
                ));
            }
            for rule in &r.removed {
                out.push(format!(
                    "- rule in {}: {}",
                    r.firewall.name,
                    describe_rule(rule)
                ));
            }
        }
        for r in &self.routes {
            for route in &r.added {
                out.push(format!(
                    "+ route in {}: {}",
                    r.route_table.name,
                    describe_route(route)
                ));
            }
            for route in &r.removed {
                out.push(format!(
                    "- route in {}: {}",
                    r.route_table.name,
                    describe_route(route)
                ));
            }
        }
        out
    }
}

fn describe_rule(r: &Rule) -> String {
    let ports = r
        .ports
        .map(|p| p.to_string())
        .unwrap_or_else(|| "all".into());
    let peers: Vec<String> = r
        .peers
        .iter()
        .map(|p| {
            serde_json::to_value(p)
                .map(|v| v["value"].to_string())
                .unwrap_or_default()
        })
        .map(|s| s.trim_matches('"').to_string())
        .collect();
    format!(
        "{:?} {:?} {} {} {}",
        r.direction,
        r.action,
        serde_json::to_value(&r.protocol)
            .map(|v| v.to_string().trim_matches('"').to_string())
            .unwrap_or_default(),
        ports,
        peers.join(",")
    )
    .to_lowercase()
}

fn describe_route(r: &Route) -> String {
    let t = serde_json::to_value(&r.target).unwrap_or(Value::Null);
    format!(
        "{} → {} {}",
        r.destination,
        t["kind"].as_str().unwrap_or(""),
        t["id"].as_str().unwrap_or("")
    )
    .trim_end()
    .to_string()
}

/// Objects of one kind as (id → (name, JSON object)).
fn index<T: Serialize>(
    list: &[T],
    id: impl Fn(&T) -> &str,
    name: impl Fn(&T) -> &str,
) -> BTreeMap<String, (String, serde_json::Map<String, Value>)> {
    list.iter()
        .filter_map(|o| {
            let v = serde_json::to_value(o).ok()?;
            let Value::Object(m) = v else { return None };
            Some((id(o).to_string(), (name(o).to_string(), m)))
        })
        .collect()
}

/// Whether a JSON value says "not known" (null, an empty list or map).
fn unknown_value(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => true,
        Some(Value::Array(a)) => a.is_empty(),
        Some(Value::Object(o)) => o.is_empty(),
        Some(_) => false,
    }
}

#[allow(clippy::too_many_arguments)]
fn diff_kind<T: Serialize>(
    kind: &str,
    a: &[T],
    b: &[T],
    id: impl Fn(&T) -> &str + Copy,
    name: impl Fn(&T) -> &str + Copy,
    skip: &[&str],
    unknown: &[&str],
    out: &mut Diff,
) {
    let (ia, ib) = (index(a, id, name), index(b, id, name));
    let oref = |id: &str, name: &str| ObjectRef {
        kind: kind.to_string(),
        id: id.to_string(),
        name: name.to_string(),
    };
    for (id, (name, _)) in &ib {
        if !ia.contains_key(id) {
            out.added.push(oref(id, name));
        }
    }
    for (id, (name, va)) in &ia {
        let Some((name_b, vb)) = ib.get(id) else {
            out.removed.push(oref(id, name));
            continue;
        };
        let keys: BTreeSet<&String> = va.keys().chain(vb.keys()).collect();
        let mut fields = Vec::new();
        for k in keys {
            if skip.contains(&k.as_str()) {
                continue;
            }
            if unknown.contains(&k.as_str())
                && (unknown_value(va.get(k)) || unknown_value(vb.get(k)))
            {
                continue;
            }
            let (x, y) = (
                va.get(k).cloned().unwrap_or(Value::Null),
                vb.get(k).cloned().unwrap_or(Value::Null),
            );
            if x != y {
                fields.push(FieldChange {
                    field: k.clone(),
                    before: x,
                    after: y,
                });
            }
        }
        if !fields.is_empty() {
            out.changed.push(ObjectChange {
                object: oref(id, name_b),
                fields,
            });
        }
    }
}

/// What changed from `a` to `b`.
pub fn diff(a: &Topology, b: &Topology) -> Diff {
    diff_with(a, b, &|_| &[])
}

/// Fields compared only when both sides know them, per object kind.
type Unknown<'a> = &'a dyn Fn(&str) -> &'static [&'static str];

fn diff_with(a: &Topology, b: &Topology, unknown: Unknown<'_>) -> Diff {
    let mut d = Diff::default();
    diff_kind(
        "vpc",
        &a.vpcs,
        &b.vpcs,
        |o| &o.id,
        |o| &o.name,
        &[],
        unknown("vpc"),
        &mut d,
    );
    diff_kind(
        "subnet",
        &a.subnets,
        &b.subnets,
        |o| &o.id,
        |o| &o.name,
        &[],
        unknown("subnet"),
        &mut d,
    );
    diff_kind(
        "host",
        &a.hosts,
        &b.hosts,
        |o| &o.id,
        |o| &o.name,
        &[],
        unknown("host"),
        &mut d,
    );
    diff_kind(
        "load_balancer",
        &a.load_balancers,
        &b.load_balancers,
        |o| &o.id,
        |o| &o.name,
        &[],
        unknown("load_balancer"),
        &mut d,
    );
    diff_kind(
        "target_group",
        &a.target_groups,
        &b.target_groups,
        |o| &o.id,
        |o| &o.name,
        &[],
        unknown("target_group"),
        &mut d,
    );
    diff_kind(
        "gateway",
        &a.gateways,
        &b.gateways,
        |o| &o.id,
        |o| &o.name,
        &[],
        unknown("gateway"),
        &mut d,
    );
    diff_kind(
        "route_table",
        &a.route_tables,
        &b.route_tables,
        |o| &o.id,
        |o| &o.name,
        &["routes"],
        unknown("route_table"),
        &mut d,
    );
    diff_kind(
        "firewall",
        &a.firewalls,
        &b.firewalls,
        |o| &o.id,
        |o| &o.name,
        &["rules"],
        unknown("firewall"),
        &mut d,
    );
    diff_kind(
        "peering",
        &a.peerings,
        &b.peerings,
        |o| &o.id,
        |o| &o.name,
        &[],
        unknown("peering"),
        &mut d,
    );

    for fa in &a.firewalls {
        let Some(fb) = b.firewalls.iter().find(|f| f.id == fa.id) else {
            continue;
        };
        let added: Vec<Rule> = fb
            .rules
            .iter()
            .filter(|r| !fa.rules.contains(r))
            .cloned()
            .collect();
        let removed: Vec<Rule> = fa
            .rules
            .iter()
            .filter(|r| !fb.rules.contains(r))
            .cloned()
            .collect();
        if !added.is_empty() || !removed.is_empty() {
            d.rules.push(RuleChanges {
                firewall: ObjectRef {
                    kind: "firewall".into(),
                    id: fb.id.clone(),
                    name: fb.name.clone(),
                },
                added,
                removed,
            });
        }
    }
    for ta in &a.route_tables {
        let Some(tb) = b.route_tables.iter().find(|t| t.id == ta.id) else {
            continue;
        };
        let added: Vec<Route> = tb
            .routes
            .iter()
            .filter(|r| !ta.routes.contains(r))
            .cloned()
            .collect();
        let removed: Vec<Route> = ta
            .routes
            .iter()
            .filter(|r| !tb.routes.contains(r))
            .cloned()
            .collect();
        if !added.is_empty() || !removed.is_empty() {
            d.routes.push(RouteChanges {
                route_table: ObjectRef {
                    kind: "route_table".into(),
                    id: tb.id.clone(),
                    name: tb.name.clone(),
                },
                added,
                removed,
            });
        }
    }
    d
}

/// Fields of each kind that drift compares only when both sides know them (neither is null nor
/// empty): what a Terraform state records and the API does not say, or the reverse.
///
/// * `vpc`: `region` (the state of a data source may lack it), `main_route_table` (DigitalOcean
///   has none; the AWS API says it through route table associations), `tags`.
/// * `subnet`: `zone`, `region`, `public` (the state's `map_public_ip_on_launch` vs the API's
///   route to an internet gateway), `tags`.
/// * `host`: `subnet`, `zone`, `public_ip` (the state keeps the address of the last apply),
///   `state`, `source_dest_check`, `interfaces`, `security_groups` (DigitalOcean firewalls name
///   their droplets, droplets do not name their firewalls), `tags`.
/// * `load_balancer`: `kind` (DigitalOcean's API often omits `type`; the state has its size),
///   `dns_name`, `region`, `subnets`, `security_groups`, `internal`, `ip`.
/// * `target_group`, `gateway`, `route_table`, `peering`: `tags`, `region`.
/// * `firewall`: `vpc` (DigitalOcean firewalls belong to no VPC).
///
/// Always ignored: VPCs the state only references (placeholders), objects of other providers
/// than the live side's (see [`drift`]), and on DigitalOcean the IPv6 addresses in a droplet's
/// `private_ips` (the state keeps only `ipv4_address_private`).
pub fn drift_unknown_when_missing(kind: &str) -> &'static [&'static str] {
    match kind {
        "vpc" => &["region", "main_route_table", "tags"],
        "subnet" => &["zone", "region", "public", "tags"],
        "host" => &[
            "subnet",
            "zone",
            "public_ip",
            "state",
            "source_dest_check",
            "interfaces",
            "security_groups",
            "tags",
        ],
        "load_balancer" => &[
            "kind",
            "dns_name",
            "region",
            "subnets",
            "security_groups",
            "internal",
            "ip",
        ],
        "target_group" | "gateway" | "route_table" | "peering" => &["tags", "region"],
        "firewall" => &["vpc"],
        _ => &[],
    }
}

/// Every field [`drift_unknown_when_missing`] names, as `kind.field`.
pub fn drift_ignored_fields() -> Vec<String> {
    [
        "vpc",
        "subnet",
        "host",
        "load_balancer",
        "target_group",
        "gateway",
        "route_table",
        "firewall",
        "peering",
    ]
    .iter()
    .flat_map(|k| {
        drift_unknown_when_missing(k)
            .iter()
            .map(move |f| format!("{k}.{f}"))
    })
    .collect()
}

/// The objects of `t` that belong to `provider` (all of them when `None`), without placeholder
/// VPCs. Subnets, route tables, gateways, target groups and peerings follow their VPC's provider
/// (kept when their VPC is unknown).
fn scoped(t: &Topology, provider: Option<Provider>) -> Topology {
    let mut out = t.clone();
    out.vpcs.retain(|v| !v.placeholder);
    let Some(p) = provider else {
        return out;
    };
    let vpc_provider: BTreeMap<&str, Provider> =
        t.vpcs.iter().map(|v| (v.id.as_str(), v.provider)).collect();
    let keep = |vpc: Option<&str>| match vpc.and_then(|v| vpc_provider.get(v)) {
        Some(vp) => *vp == p,
        None => true,
    };
    out.vpcs.retain(|v| v.provider == p);
    out.hosts.retain(|h| h.provider == p);
    out.load_balancers.retain(|l| l.provider == p);
    out.subnets.retain(|s| keep(s.vpc.as_deref()));
    out.route_tables.retain(|r| keep(r.vpc.as_deref()));
    out.gateways.retain(|g| keep(g.vpc.as_deref()));
    out.target_groups.retain(|g| keep(g.vpc.as_deref()));
    out.peerings.retain(|x| keep(Some(x.vpc.as_str())));
    out.firewalls.retain(|f| match (p, f.kind) {
        (Provider::Digitalocean, k) => k == FirewallKind::Digitalocean,
        (Provider::Gcp, k) => k == FirewallKind::Gcp,
        (Provider::Aws, k) => matches!(k, FirewallKind::SecurityGroup | FirewallKind::NetworkAcl),
        (Provider::Azure, k) => k == FirewallKind::Nsg,
        (Provider::Other, _) => true,
    });
    if p == Provider::Digitalocean {
        for h in &mut out.hosts {
            h.private_ips.retain(|a| a.is_ipv4());
        }
    }
    out
}

/// The drift between a Terraform state's topology and the live API's (or a snapshot of it):
/// objects matched by provider id; `added` = only live, `removed` = only in the state, `changed`
/// = fields that differ, firewall rules and routes added and removed. Only objects of `provider`
/// are compared (the state may hold several clouds); fields one side cannot know are compared
/// only when both know them ([`drift_unknown_when_missing`]).
pub fn drift(state: &Topology, live: &Topology, provider: Option<Provider>) -> Diff {
    let (s, l) = (scoped(state, provider), scoped(live, provider));
    diff_with(&s, &l, &drift_unknown_when_missing)
}

/// One line per drift, worded from the state's point of view.
pub fn drift_lines(d: &Diff) -> Vec<String> {
    let mut out = Vec::new();
    for o in &d.added {
        out.push(format!(
            "+ {} {} ({}): live, not in the state",
            o.kind, o.name, o.id
        ));
    }
    for o in &d.removed {
        out.push(format!(
            "- {} {} ({}): in the state, not live",
            o.kind, o.name, o.id
        ));
    }
    for c in &d.changed {
        for f in &c.fields {
            out.push(format!(
                "~ {} {} ({}): {} state {} → live {}",
                c.object.kind, c.object.name, c.object.id, f.field, f.before, f.after
            ));
        }
    }
    for r in &d.rules {
        for rule in &r.added {
            out.push(format!(
                "+ rule in {} ({}): live only: {}",
                r.firewall.name,
                r.firewall.id,
                describe_rule(rule)
            ));
        }
        for rule in &r.removed {
            out.push(format!(
                "- rule in {} ({}): state only: {}",
                r.firewall.name,
                r.firewall.id,
                describe_rule(rule)
            ));
        }
    }
    for r in &d.routes {
        for route in &r.added {
            out.push(format!(
                "+ route in {} ({}): live only: {}",
                r.route_table.name,
                r.route_table.id,
                describe_route(route)
            ));
        }
        for route in &r.removed {
            out.push(format!(
                "- route in {} ({}): state only: {}",
                r.route_table.name,
                r.route_table.id,
                describe_route(route)
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::*;
    use crate::synth::{Shape, StateReader};

    fn synth(n: usize) -> Topology {
        crate::tfstate::import_reader(StateReader::new(Shape::instances(n)), "s")
            .unwrap()
            .0
    }

    fn do_topology() -> Topology {
        serde_json::from_value(serde_json::json!({
            "vpcs": [
                {"id": "vpc-1", "name": "prod", "provider": "digitalocean", "region": "nyc1",
                 "cidrs": ["10.10.10.0/24"]},
                {"id": "vpc-aws", "name": "aws", "provider": "aws", "cidrs": ["10.0.0.0/16"]},
                {"id": "vpc-ref", "name": "vpc-ref", "provider": "digitalocean", "placeholder": true}
            ],
            "hosts": [
                {"id": "101", "name": "web", "provider": "digitalocean", "vpc": "vpc-1",
                 "private_ips": ["10.10.10.2"], "public_ip": "203.0.113.5", "state": "active",
                 "labels": ["web"]},
                {"id": "102", "name": "db", "provider": "digitalocean", "vpc": "vpc-1",
                 "private_ips": ["10.10.10.3"], "state": "active"},
                {"id": "i-1", "name": "aws-host", "provider": "aws", "vpc": "vpc-aws"}
            ],
            "load_balancers": [
                {"id": "lb-1", "name": "front", "provider": "digitalocean", "vpc": "vpc-1",
                 "kind": "lb-small", "targets": ["101"],
                 "listeners": [{"port": 443, "protocol": "https", "target_port": 8080}]}
            ],
            "firewalls": [
                {"id": "fw-1", "name": "web", "kind": "digitalocean",
                 "applies_to": {"by": "hosts", "ids": ["101"], "labels": []},
                 "rules": [
                    {"direction": "ingress", "action": "allow", "protocol": "tcp",
                     "ports": {"from": 22, "to": 22},
                     "peers": [{"kind": "cidr", "value": "10.99.0.0/24"}]}
                 ]},
                {"id": "sg-1", "name": "aws-sg", "kind": "security_group",
                 "applies_to": {"by": "membership"}}
            ]
        }))
        .unwrap()
    }

    #[test]
    fn no_drift_when_the_api_lacks_what_it_cannot_know() {
        let state = do_topology();
        let mut live = state.clone();
        // The API knows nothing of AWS, of placeholders; it omits the LB type, adds a v6
        // private address and has no region on the droplet.
        live.vpcs
            .retain(|v| v.provider == Provider::Digitalocean && !v.placeholder);
        live.hosts.retain(|h| h.provider == Provider::Digitalocean);
        live.firewalls
            .retain(|f| f.kind == FirewallKind::Digitalocean);
        live.load_balancers[0].kind = None;
        live.hosts[0].private_ips.push("fd00::2".parse().unwrap());
        live.hosts[1].state = None;
        let d = drift(&state, &live, Some(Provider::Digitalocean));
        assert!(d.is_empty(), "{:?}", drift_lines(&d));
        // Without the scope, the AWS objects are "in the state, not live".
        let all = drift(&state, &live, None);
        assert_eq!(all.removed.len(), 3, "{:?}", drift_lines(&all));
    }

    #[test]
    fn drift_added_removed_changed_one_line_each() {
        let state = do_topology();
        let mut live = state.clone();
        live.hosts.remove(1); // db destroyed outside Terraform
        let mut extra = live.hosts[0].clone();
        extra.id = "103".into();
        extra.name = "hand-made".into();
        live.hosts.push(extra);
        live.hosts[0].private_ips = vec!["10.10.10.9".parse().unwrap()];
        live.hosts[0].state = Some("off".into());
        live.vpcs[0].cidrs = vec!["10.10.20.0/24".parse().unwrap()];
        live.firewalls[0].rules[0].peers = vec![Peer::Cidr("0.0.0.0/0".parse().unwrap())];
        let d = drift(&state, &live, Some(Provider::Digitalocean));
        let lines = drift_lines(&d);
        assert_eq!(d.added.len(), 1, "{lines:?}");
        assert_eq!(d.added[0].id, "103");
        assert_eq!(d.removed.len(), 1, "{lines:?}");
        assert_eq!(d.removed[0].id, "102");
        assert_eq!(d.rules.len(), 1);
        let expect = [
            "+ host hand-made (103): live, not in the state",
            "- host db (102): in the state, not live",
            "~ vpc prod (vpc-1): cidrs state [\"10.10.10.0/24\"] → live [\"10.10.20.0/24\"]",
            "~ host web (101): private_ips state [\"10.10.10.2\"] → live [\"10.10.10.9\"]",
            "~ host web (101): state state \"active\" → live \"off\"",
            "+ rule in web (fw-1): live only: ingress allow tcp 22 0.0.0.0/0",
            "- rule in web (fw-1): state only: ingress allow tcp 22 10.99.0.0/24",
        ];
        for e in expect {
            assert!(lines.iter().any(|l| l == e), "{e:?} not in {lines:?}");
        }
        assert_eq!(lines.len(), expect.len(), "{lines:?}");
        assert!(drift_ignored_fields().contains(&"load_balancer.kind".to_string()));
    }

    #[test]
    fn rfc3339_dates() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_795_666_662), "2026-11-26T04:17:42Z");
    }

    #[test]
    fn save_and_load_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("snaps/one.json");
        let s = Snapshot::at(1_795_666_662, "lab.tfstate", synth(5));
        s.save(&path).unwrap();
        assert_eq!(Snapshot::load(&path).unwrap(), s);
        std::fs::write(&path, "{\"taken_at\": 3").unwrap();
        let e = Snapshot::load(&path).unwrap_err();
        assert!(e.to_string().contains("one.json:1:"), "{e}");
        // The previous file survives a save into a directory that cannot be written.
        let bad = dir.path().join("snaps/one.json/x.json");
        assert!(s.save(&bad).is_err());
    }

    #[test]
    fn identical_topologies_have_an_empty_diff() {
        let t = synth(20);
        assert!(diff(&t, &t.clone()).is_empty());
    }

    #[test]
    fn hosts_rules_and_routes_added_removed_changed() {
        let a = synth(20);
        let mut b = a.clone();
        let gone = b.hosts.remove(3);
        let mut new = b.hosts[0].clone();
        new.id = "i-new".into();
        new.name = "new".into();
        b.hosts.push(new);
        b.hosts[1].state = Some("stopped".into());
        b.firewalls[2].rules.push(Rule {
            direction: Direction::Ingress,
            action: Action::Allow,
            priority: 0,
            protocol: Protocol::Tcp,
            ports: Some(PortRange {
                from: 5432,
                to: 5432,
            }),
            peers: vec![Peer::Cidr("10.99.0.0/24".parse().unwrap())],
            description: None,
            targets: Vec::new(),
        });
        b.firewalls[0].rules.remove(0);
        b.route_tables[1].routes.clear();

        let d = diff(&a, &b);
        assert_eq!(d.added.len(), 1);
        assert_eq!(d.added[0].id, "i-new");
        assert_eq!(d.removed.len(), 1);
        assert_eq!(d.removed[0].id, gone.id);
        assert_eq!(d.changed.len(), 1);
        assert_eq!(d.changed[0].fields[0].field, "state");
        assert_eq!(
            d.changed[0].fields[0].after,
            Value::String("stopped".into())
        );
        assert_eq!(d.rules.len(), 2);
        assert_eq!(d.routes.len(), 1);
        assert_eq!(d.routes[0].removed.len(), 1);
        let lines = d.lines();
        assert!(
            lines.iter().any(|l| l.starts_with("+ host new")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("state \"running\" → \"stopped\"")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("ingress allow tcp 5432 10.99.0.0/24")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("- route in") && l.contains("10.99.0.0/24 → interface")),
            "{lines:?}"
        );
        // The reverse diff mirrors it.
        let r = diff(&b, &a);
        assert_eq!(r.added[0].id, gone.id);
        assert_eq!(r.removed[0].id, "i-new");
    }
}
