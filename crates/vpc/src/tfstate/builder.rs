//! The builder: model objects as they stream in, cross references resolved at the end.

use std::any::{Any, TypeId};
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;

use ipnet::IpNet;

use super::{ImportReport, StateFormat};
use crate::model::*;

/// What an import has read so far.
pub(super) struct Builder {
    topo: Topology,
    pub(super) report: ImportReport,
    pub(super) format: Option<StateFormat>,
    pub(super) terraform_version: Option<String>,
    /// The format version of a state older than 4.
    pub(super) legacy: Option<u64>,
    /// (model type, id) → (index in its list, managed).
    index: HashMap<(TypeId, String), (usize, bool)>,
    /// Standalone security group rules, by security group id.
    pub(super) sg_rules: Vec<(String, Rule)>,
    /// Standalone routes, by route table id.
    pub(super) routes: Vec<(String, Route)>,
    /// (route table, subnet) associations.
    pub(super) assocs: Vec<(String, String)>,
    /// (VPC, route table) main route table associations.
    pub(super) main_assocs: Vec<(String, String)>,
    /// Listeners, by load balancer id.
    pub(super) listeners: Vec<(String, Listener)>,
    /// (target group, target) attachments.
    pub(super) tg_attachments: Vec<(String, String)>,
    /// `map_public_ip_on_launch` of subnets, for those no route table says more about.
    pub(super) subnet_public_hint: HashMap<String, bool>,
    /// Cross references a provider resolves once every resource is in (associations, rules
    /// of a resource that comes later), run in order by [`Builder::finish`].
    later: Vec<Later>,
    /// What each family of resources gathered ([`Builder::gather`]), by type, with the
    /// function that resolves it.
    gathered: HashMap<TypeId, (Box<dyn Any>, Resolve)>,
}

/// A deferred fix-up: a closure that edits the topology and returns warnings, or a gathered
/// family's value to resolve.
enum Later {
    Run(FixUp),
    Gathered(TypeId),
}

/// A fix-up closure: edits the topology, returns warnings.
type FixUp = Box<dyn FnOnce(&mut Topology) -> Vec<String>>;

/// Resolves a gathered value (boxed as `Any`) into the topology.
type Resolve = fn(Box<dyn Any>, &mut Topology) -> Vec<String>;

/// What one family of resources of an import gathers for each other (a DB instance and its
/// subnet group, an association and its ACL, a NIC and its VM: either may come first in the
/// file), resolved once every resource is in.
pub(super) trait Deferred: Default + 'static {
    /// Applies what was gathered to the topology; returns warnings.
    fn resolve(self, t: &mut Topology) -> Vec<String>;
}

fn resolve_boxed<T: Deferred>(value: Box<dyn Any>, t: &mut Topology) -> Vec<String> {
    match value.downcast::<T>() {
        Ok(v) => v.resolve(t),
        Err(_) => Vec::new(),
    }
}

/// A model object kept in one of the topology's lists, found by its id.
pub(super) trait Keyed: Sized + 'static {
    /// Its id (unique within its list).
    fn id(&self) -> &str;
    /// Its list in the topology.
    fn list(t: &mut Topology) -> &mut Vec<Self>;
}

macro_rules! keyed {
    ($($ty:ty => $list:ident),* $(,)?) => {$(
        impl Keyed for $ty {
            fn id(&self) -> &str {
                &self.id
            }
            fn list(t: &mut Topology) -> &mut Vec<Self> {
                &mut t.$list
            }
        }
    )*};
}

keyed! {
    Vpc => vpcs,
    Subnet => subnets,
    Host => hosts,
    LoadBalancer => load_balancers,
    TargetGroup => target_groups,
    Gateway => gateways,
    RouteTable => route_tables,
    Firewall => firewalls,
    Peering => peerings,
}

impl Default for Builder {
    fn default() -> Self {
        Builder {
            topo: Topology::default(),
            report: ImportReport {
                format: StateFormat::StateV4,
                terraform_version: None,
                imported: BTreeMap::new(),
                data_sources: 0,
                skipped: BTreeMap::new(),
                warnings: Vec::new(),
            },
            format: None,
            terraform_version: None,
            legacy: None,
            index: HashMap::new(),
            sg_rules: Vec::new(),
            routes: Vec::new(),
            assocs: Vec::new(),
            main_assocs: Vec::new(),
            listeners: Vec::new(),
            tg_attachments: Vec::new(),
            subnet_public_hint: HashMap::new(),
            later: Vec::new(),
            gathered: HashMap::new(),
        }
    }
}

const MAX_WARNINGS: usize = 100;

/// Region of an availability zone (`eu-west-2a` → `eu-west-2`).
pub(super) fn zone_region(zone: &str) -> String {
    zone.trim_end_matches(|c: char| c.is_ascii_lowercase() && c != '-')
        .to_string()
}

impl Builder {
    /// Adds a warning to the report (at most `MAX_WARNINGS`).
    pub(super) fn warn(&mut self, msg: String) {
        if self.report.warnings.len() < MAX_WARNINGS {
            self.report.warnings.push(msg);
        }
    }

    /// `s` as a CIDR (an address is a host prefix); a warning naming `what` if it is neither.
    pub(super) fn net(&mut self, s: &str, what: &str) -> Option<IpNet> {
        match s.parse::<IpNet>() {
            Ok(n) => Some(n),
            Err(_) => match s.parse::<IpAddr>() {
                Ok(a) => Some(IpNet::from(a)),
                Err(_) => {
                    self.warn(format!("{what}: {s:?} is not a CIDR"));
                    None
                }
            },
        }
    }

    /// `s` as an IP address; a warning naming `what` if it is not one.
    pub(super) fn ip(&mut self, s: &Option<String>, what: &str) -> Option<IpAddr> {
        let s = s.as_deref()?;
        match s.parse() {
            Ok(a) => Some(a),
            Err(_) => {
                self.warn(format!("{what}: {s:?} is not an IP address"));
                None
            }
        }
    }

    /// Adds or replaces an object: a managed resource replaces a data source with the same id, a
    /// data source never replaces anything.
    pub(super) fn add<T: Keyed>(&mut self, item: T, managed: bool) {
        let list = T::list(&mut self.topo);
        match self.index.entry((TypeId::of::<T>(), item.id().to_string())) {
            Entry::Occupied(mut e) => {
                let (i, was_managed) = e.get_mut();
                if managed && !*was_managed {
                    list[*i] = item;
                    *was_managed = true;
                }
            }
            Entry::Vacant(e) => {
                e.insert((list.len(), managed));
                list.push(item);
            }
        }
    }

    /// Runs `f` on the topology once every resource has been read (after standalone rules,
    /// routes and route table associations, before VPCs are derived from subnets): for
    /// associations and references that may come before what they name. Its warnings go to the
    /// report.
    pub(super) fn later(&mut self, f: impl FnOnce(&mut Topology) -> Vec<String> + 'static) {
        self.later.push(Later::Run(Box::new(f)));
    }

    /// Runs `f` on this import's value of the family `T` (created on first use, and resolved
    /// then in [`Builder::finish`] where its first use falls among the [`Builder::later`]
    /// fix-ups), so cross references resolve whatever the order of the resources.
    pub(super) fn gather<T: Deferred>(&mut self, f: impl FnOnce(&mut T)) {
        let id = TypeId::of::<T>();
        let (value, _) = match self.gathered.entry(id) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(e) => {
                self.later.push(Later::Gathered(id));
                e.insert((Box::new(T::default()), resolve_boxed::<T>))
            }
        };
        if let Some(v) = value.downcast_mut::<T>() {
            f(v);
        }
    }

    /// Counts an instance of `ty` as imported.
    pub(super) fn imported(&mut self, ty: &str, managed: bool) {
        *self.report.imported.entry(ty.to_string()).or_default() += 1;
        if !managed {
            self.report.data_sources += 1;
        }
    }

    /// Counts an instance of `ty` as skipped (a type no row reads, or no attributes).
    pub(super) fn skipped(&mut self, ty: &str) {
        *self.report.skipped.entry(ty.to_string()).or_default() += 1;
    }

    /// Warns that an instance of `ty` without an id was skipped.
    pub(super) fn missing_id(&mut self, ty: &str) {
        self.warn(format!("an {ty} without an id was skipped"));
    }

    /// The CIDRs of `v4` and `v6` as rule peers (a warning naming `what` for each bad one).
    pub(super) fn cidr_peers(&mut self, v4: &[String], v6: &[String], what: &str) -> Vec<Peer> {
        let mut peers = Vec::new();
        for c in v4.iter().chain(v6) {
            peers.extend(self.net(c, what).map(Peer::Cidr));
        }
        peers
    }

    /// Resolves cross references and returns the topology.
    pub(super) fn finish(mut self) -> (Topology, ImportReport) {
        let mut t = std::mem::take(&mut self.topo);
        let pos = |list: &[String], id: &str| list.iter().position(|x| x == id);

        // Standalone security group rules.
        let fw_ids: Vec<String> = t.firewalls.iter().map(|f| f.id.clone()).collect();
        for (sg, rule) in std::mem::take(&mut self.sg_rules) {
            let i = match pos(&fw_ids, &sg) {
                Some(i) => i,
                None => {
                    self.warn(format!(
                        "rule for security group {sg}, which is not in the state"
                    ));
                    continue;
                }
            };
            let rules = &mut t.firewalls[i].rules;
            if !rules.contains(&rule) {
                rules.push(rule);
            }
        }

        // Standalone routes and associations.
        let rt_ids: Vec<String> = t.route_tables.iter().map(|r| r.id.clone()).collect();
        for (rt, route) in std::mem::take(&mut self.routes) {
            match pos(&rt_ids, &rt) {
                Some(i) => {
                    let routes = &mut t.route_tables[i].routes;
                    if !routes.contains(&route) {
                        routes.push(route);
                    }
                }
                None => self.warn(format!(
                    "route for route table {rt}, which is not in the state"
                )),
            }
        }
        for (rt, subnet) in std::mem::take(&mut self.assocs) {
            match pos(&rt_ids, &rt) {
                Some(i) => {
                    let subnets = &mut t.route_tables[i].subnets;
                    if !subnets.contains(&subnet) {
                        subnets.push(subnet);
                    }
                }
                None => self.warn(format!(
                    "association of {subnet} with route table {rt}, which is not in the state"
                )),
            }
        }
        for (vpc, rt) in std::mem::take(&mut self.main_assocs) {
            if let Some(i) = pos(&rt_ids, &rt) {
                t.route_tables[i].main = true;
            }
            if let Some(v) = t.vpcs.iter_mut().find(|v| v.id == vpc) {
                v.main_route_table = Some(rt);
            }
        }
        for v in &mut t.vpcs {
            if let Some(m) = &v.main_route_table {
                if let Some(i) = pos(&rt_ids, m) {
                    t.route_tables[i].main = true;
                }
            }
        }
        for rt in &t.route_tables {
            if let (true, Some(vpc)) = (rt.main, &rt.vpc) {
                if let Some(v) = t.vpcs.iter_mut().find(|v| &v.id == vpc) {
                    if v.main_route_table.is_none() {
                        v.main_route_table = Some(rt.id.clone());
                    }
                }
            }
        }

        for l in std::mem::take(&mut self.later) {
            let warnings = match l {
                Later::Run(f) => f(&mut t),
                Later::Gathered(id) => match self.gathered.remove(&id) {
                    Some((value, resolve)) => resolve(value, &mut t),
                    None => Vec::new(),
                },
            };
            for w in warnings {
                self.warn(w);
            }
        }

        // VPCs of hosts, NAT gateways and load balancers from their subnets.
        let subnet_vpc: HashMap<String, String> = t
            .subnets
            .iter()
            .filter_map(|s| Some((s.id.clone(), s.vpc.clone()?)))
            .collect();
        for h in &mut t.hosts {
            if h.vpc.is_none() {
                h.vpc = h.subnet.as_ref().and_then(|s| subnet_vpc.get(s)).cloned();
            }
        }
        for g in &mut t.gateways {
            if g.vpc.is_none() {
                g.vpc = g.subnet.as_ref().and_then(|s| subnet_vpc.get(s)).cloned();
            }
        }
        for lb in &mut t.load_balancers {
            if lb.vpc.is_none() {
                lb.vpc = lb.subnets.iter().find_map(|s| subnet_vpc.get(s)).cloned();
            }
        }

        // VPCs referenced but not described.
        let mut known: HashSet<String> = t.vpcs.iter().map(|v| v.id.clone()).collect();
        let refs: Vec<(String, Provider, Option<String>)> = t
            .hosts
            .iter()
            .map(|h| (h.vpc.clone(), h.provider, h.zone.clone()))
            .chain(
                t.load_balancers
                    .iter()
                    .map(|l| (l.vpc.clone(), l.provider, l.region.clone())),
            )
            .chain(
                t.subnets
                    .iter()
                    .map(|s| (s.vpc.clone(), Provider::Other, s.region.clone())),
            )
            .filter_map(|(v, p, r)| Some((v?, p, r)))
            .collect();
        for (id, provider, zone) in refs {
            if known.insert(id.clone()) {
                t.vpcs.push(Vpc {
                    name: id.clone(),
                    id,
                    provider,
                    region: zone.map(|z| match provider {
                        Provider::Aws => zone_region(&z),
                        _ => z,
                    }),
                    cidrs: Vec::new(),
                    main_route_table: None,
                    tags: BTreeMap::new(),
                    placeholder: true,
                });
            }
        }

        // Security groups named instead of referenced by id (default VPC, EC2-Classic style).
        let sg_names: HashMap<(Option<String>, String), String> = t
            .firewalls
            .iter()
            .filter(|f| f.kind == FirewallKind::SecurityGroup)
            .map(|f| ((f.vpc.clone(), f.name.clone()), f.id.clone()))
            .collect();
        for h in &mut t.hosts {
            let mut groups: Vec<String> = Vec::with_capacity(h.security_groups.len());
            for g in std::mem::take(&mut h.security_groups) {
                let id = if fw_ids.contains(&g) {
                    g
                } else {
                    sg_names
                        .get(&(h.vpc.clone(), g.clone()))
                        .cloned()
                        .unwrap_or(g)
                };
                if !groups.contains(&id) {
                    groups.push(id);
                }
            }
            h.security_groups = groups;
        }

        // Listeners and target group members.
        for (lb, listener) in std::mem::take(&mut self.listeners) {
            match t.load_balancers.iter_mut().find(|l| l.id == lb) {
                Some(l) => l.listeners.push(listener),
                None => self.warn(format!("listener of {lb}, which is not in the state")),
            }
        }
        for (tg, target) in std::mem::take(&mut self.tg_attachments) {
            if let Some(g) = t.target_groups.iter_mut().find(|g| g.id == tg) {
                if !g.targets.contains(&target) {
                    g.targets.push(target);
                }
            }
        }

        // Public subnets: a default route to an internet gateway.
        let publics: Vec<Option<bool>> = t
            .subnets
            .iter()
            .map(|s| match t.route_table_for_subnet(&s.id) {
                Some((rt, _)) => Some(rt.routes.iter().any(|r| {
                    r.destination.prefix_len() == 0
                        && matches!(&r.target, RouteTarget::Gateway(g) if g.starts_with("igw-"))
                })),
                None => self.subnet_public_hint.get(&s.id).copied(),
            })
            .collect();
        for (s, p) in t.subnets.iter_mut().zip(publics) {
            s.public = p;
        }

        (t, self.report)
    }
}
