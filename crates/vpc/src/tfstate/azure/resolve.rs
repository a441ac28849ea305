//! Resolves what Azure resources refer to once every resource is in: the VNets of subnets, the
//! addresses and subnets VMs take from their interfaces, security group and route table
//! associations, standalone rules and routes, public IPs of gateways and load balancers,
//! backend pool members and peerings. References are matched ignoring case and rewritten to the
//! spelling of the object they name.

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;

use super::{parent, Canon, Hop, Registry};
use crate::model::*;

/// The lower-case form of an id (the key of the registry's maps).
fn low(s: &str) -> String {
    s.to_ascii_lowercase()
}

/// Pushes `x` unless `v` has it.
fn push_new<T: PartialEq>(v: &mut Vec<T>, x: T) {
    if !v.contains(&x) {
        v.push(x);
    }
}

/// Resolves the registry `r` into `t`; returns warnings.
pub(super) fn run(mut r: Registry, t: &mut Topology) -> Vec<String> {
    let mut w = Vec::new();

    // Subnets of VNet `subnet` blocks that no azurerm_subnet describes.
    let mut seen: HashSet<String> = t.subnets.iter().map(|s| low(&s.id)).collect();
    let mut azure_subnets: HashSet<String> = r.subnet_vnets.iter().map(|(s, _)| low(s)).collect();
    for s in std::mem::take(&mut r.inline_subnets) {
        azure_subnets.insert(low(&s.id));
        if seen.insert(low(&s.id)) {
            t.subnets.push(s);
        }
    }

    // The VNet of each subnet: by its id's prefix, else by VNet name and resource group.
    let mut vnet_ids = std::mem::take(&mut r.vnets);
    let mut unique = HashSet::new();
    vnet_ids.retain(|v| unique.insert(v.clone()));
    let vnet_canon = Canon::of(vnet_ids.iter().map(String::as_str));
    let vnet_refs: HashMap<String, super::ParentRef> = r
        .subnet_vnets
        .iter()
        .map(|(s, v)| (low(s), v.clone()))
        .collect();
    let regions: HashMap<String, Option<String>> = t
        .vpcs
        .iter()
        .map(|v| (v.id.clone(), v.region.clone()))
        .collect();
    for s in &mut t.subnets {
        if !azure_subnets.contains(&low(&s.id)) {
            continue;
        }
        let found = match vnet_refs.get(&low(&s.id)) {
            Some(v) => v.find(vnet_ids.iter().map(String::as_str)),
            None => s.vpc.as_deref().and_then(|v| vnet_canon.get(v)).cloned(),
        };
        if found.is_some() {
            s.vpc = found;
        }
        if s.region.is_none() {
            s.region = s
                .vpc
                .as_ref()
                .and_then(|v| regions.get(v))
                .cloned()
                .flatten();
        }
    }
    let subnets = Canon::of(t.subnets.iter().map(|s| s.id.as_str()));
    let subnet_vpc: HashMap<String, String> = t
        .subnets
        .iter()
        .filter_map(|s| Some((s.id.clone(), s.vpc.clone()?)))
        .collect();
    let subnet = |id: &str| subnets.get(id).cloned().unwrap_or_else(|| id.to_string());
    let pip = |id: &str| r.public_ips.get(&low(id));

    // VMs take their interfaces' addresses, subnets, public IPs and forwarding flag.
    let mut nic_host: HashMap<String, String> = HashMap::new();
    let mut done: HashSet<String> = HashSet::new();
    for vm in &r.vms {
        if !done.insert(vm.clone()) {
            continue;
        }
        let Some(h) = t.hosts.iter_mut().find(|h| &h.id == vm) else {
            continue;
        };
        let (mut ips, mut subs, mut sgs) = (Vec::new(), Vec::new(), Vec::new());
        let (mut public, mut forwarding) = (None, None::<bool>);
        for iface in &mut h.interfaces {
            nic_host.entry(low(iface)).or_insert_with(|| vm.clone());
            let Some(n) = r.nics.get(&low(iface)) else {
                w.push(format!(
                    "{vm}: network interface {iface} is not in the state"
                ));
                continue;
            };
            iface.clone_from(&n.id);
            n.ips.iter().for_each(|ip| push_new(&mut ips, *ip));
            n.subnets
                .iter()
                .for_each(|s| push_new(&mut subs, subnet(s)));
            sgs.extend(n.nsg.clone());
            for p in &n.public_ips {
                match pip(p) {
                    Some(p) => public = public.or(p.ip),
                    None => w.push(format!("{}: public IP {p} is not in the state", n.id)),
                }
            }
            if let Some(f) = n.forwarding {
                forwarding = Some(forwarding.unwrap_or(false) || f);
            }
        }
        for ip in std::mem::take(&mut h.private_ips) {
            push_new(&mut ips, ip);
        }
        h.private_ips = ips;
        h.public_ip = public.or(h.public_ip);
        h.subnet = subs.first().cloned();
        h.subnets = if subs.len() > 1 { subs } else { Vec::new() };
        h.source_dest_check = forwarding.map(|f| !f);
        for g in sgs {
            push_new(&mut h.security_groups, g);
        }
    }
    let host_vpc: HashMap<String, String> = t
        .hosts
        .iter()
        .filter_map(|h| Some((h.id.clone(), subnet_vpc.get(h.subnet.as_deref()?)?.clone())))
        .collect();

    // Security groups: interface and subnet associations, standalone rules.
    let nsgs = Canon::of(
        t.firewalls
            .iter()
            .filter(|f| f.kind == FirewallKind::Nsg)
            .map(|f| f.id.as_str()),
    );
    let mut nsg_ids: Vec<String> = nsgs.0.values().cloned().collect();
    nsg_ids.sort();
    let mut nsg_vpc: HashMap<String, String> = HashMap::new();
    let mut nsg_subnets: Vec<(String, String)> = Vec::new();
    for a in &r.nic_nsgs {
        let Some(nsg) = nsgs.get(&a.to) else {
            w.push(format!(
                "{}: security group {} is not in the state",
                a.what, a.to
            ));
            continue;
        };
        let Some(host) = nic_host.get(&low(&a.from)) else {
            w.push(format!(
                "{}: network interface {} belongs to no virtual machine in the state",
                a.what, a.from
            ));
            continue;
        };
        if let Some(v) = host_vpc.get(host) {
            nsg_vpc.entry(nsg.clone()).or_insert_with(|| v.clone());
        }
        if let Some(h) = t.hosts.iter_mut().find(|h| &h.id == host) {
            push_new(&mut h.security_groups, nsg.clone());
        }
    }
    for a in &r.subnet_nsgs {
        let Some(nsg) = nsgs.get(&a.to) else {
            w.push(format!(
                "{}: security group {} is not in the state",
                a.what, a.to
            ));
            continue;
        };
        let s = subnet(&a.from);
        if let Some(v) = subnet_vpc.get(&s) {
            nsg_vpc.entry(nsg.clone()).or_insert_with(|| v.clone());
        }
        nsg_subnets.push((nsg.clone(), s));
    }
    for f in t.firewalls.iter_mut().filter(|f| r.nsgs.contains(&f.id)) {
        for (nsg, s) in &nsg_subnets {
            if nsg == &f.id {
                if let AppliesTo::Subnets { ids } = &mut f.applies_to {
                    push_new(ids, s.clone());
                }
            }
        }
        if f.vpc.is_none() {
            f.vpc = nsg_vpc.get(&f.id).cloned();
        }
    }
    for (nsg, rule, what) in &r.nsg_rules {
        let found = nsg
            .find(nsg_ids.iter().map(String::as_str))
            .and_then(|id| t.firewalls.iter_mut().find(|f| f.id == id));
        match found {
            Some(f) => push_new(&mut f.rules, rule.clone()),
            None => w.push(format!("{what}: the security group is not in the state")),
        }
    }
    for f in t.firewalls.iter_mut().filter(|f| r.nsgs.contains(&f.id)) {
        f.rules.sort_by_key(|r| (r.direction, r.priority));
        for pair in f.rules.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            if (a.direction, a.priority) == (b.direction, b.priority)
                && a.description != b.description
            {
                w.push(format!(
                    "{}: rules {:?} and {:?} have the same priority {}",
                    f.id,
                    a.description.as_deref().unwrap_or_default(),
                    b.description.as_deref().unwrap_or_default(),
                    a.priority
                ));
            }
        }
    }

    // Gateways: their VNet from their subnet, their public address.
    for (gid, pips) in &r.gateway_public_ips {
        let Some(g) = t.gateways.iter_mut().find(|g| &g.id == gid) else {
            continue;
        };
        g.subnet = g.subnet.as_deref().map(subnet);
        if g.vpc.is_none() {
            g.vpc = g.subnet.as_ref().and_then(|s| {
                subnet_vpc.get(s).cloned().or_else(|| {
                    parent(s, "subnets").map(|v| vnet_canon.get(&v).cloned().unwrap_or(v))
                })
            });
        }
        g.public_ip = g.public_ip.or(pips.iter().find_map(|p| pip(p)?.ip));
    }

    routes(&r, t, &subnet, &subnet_vpc, &host_vpc, &mut w);
    load_balancers(&r, t, &subnet, &subnet_vpc, &nic_host, &mut w);

    // Peerings: the local VNet by name when the id does not tell it.
    for (pid, local) in &r.peering_vnets {
        if let Some(p) = t.peerings.iter_mut().find(|p| &p.id == pid) {
            if let Some(v) = local.find(vnet_ids.iter().map(String::as_str)) {
                p.vpc = v;
            }
            if let Some(v) = vnet_canon.get(&p.peer_vpc) {
                p.peer_vpc.clone_from(v);
            }
        }
    }

    // Managed services: their subnets in the subnets' spelling.
    for id in &r.services {
        if let Some(h) = t.hosts.iter_mut().find(|h| &h.id == id) {
            h.subnet = h.subnet.as_deref().map(subnet);
        }
    }
    w
}

/// Routes and route table associations.
fn routes(
    r: &Registry,
    t: &mut Topology,
    subnet: &dyn Fn(&str) -> String,
    subnet_vpc: &HashMap<String, String>,
    host_vpc: &HashMap<String, String>,
    w: &mut Vec<String>,
) {
    let tables = Canon::of(r.route_tables.iter().map(String::as_str));
    for a in &r.subnet_routes {
        let Some(rt) = tables.get(&a.to) else {
            w.push(format!(
                "{}: route table {} is not in the state",
                a.what, a.to
            ));
            continue;
        };
        if let Some(table) = t.route_tables.iter_mut().find(|x| &x.id == rt) {
            push_new(&mut table.subnets, subnet(&a.from));
        }
    }
    for table in t.route_tables.iter_mut() {
        if tables.get(&table.id).is_some() && table.vpc.is_none() {
            table.vpc = table
                .subnets
                .iter()
                .find_map(|s| subnet_vpc.get(s))
                .cloned();
        }
    }
    let mut table_ids: Vec<String> = tables.0.values().cloned().collect();
    table_ids.sort();
    for p in &r.routes {
        let Some(id) = p.table.find(table_ids.iter().map(String::as_str)) else {
            w.push(format!("{}: the route table is not in the state", p.what));
            continue;
        };
        let vpc = t
            .route_tables
            .iter()
            .find(|x| x.id == id)
            .and_then(|x| x.vpc.clone());
        let target = match &p.hop {
            Hop::Local => RouteTarget::Local,
            Hop::Internet => RouteTarget::Gateway("Internet".into()),
            Hop::Drop => RouteTarget::Blackhole,
            Hop::Other(s) => RouteTarget::Other(s.clone()),
            Hop::VnetGateway => t
                .gateways
                .iter()
                .find(|g| g.kind == GatewayKind::Vpn && vpc.is_some() && g.vpc == vpc)
                .map(|g| RouteTarget::Gateway(g.id.clone()))
                .unwrap_or_else(|| RouteTarget::Other("VirtualNetworkGateway".into())),
            Hop::Appliance(ip) => appliance(t, *ip, vpc.as_deref(), host_vpc),
        };
        let route = Route {
            destination: p.destination,
            target,
        };
        if let Some(table) = t.route_tables.iter_mut().find(|x| x.id == id) {
            push_new(&mut table.routes, route);
        }
    }
}

/// The VM with private address `ip` (in `vpc` if one there has it), else the address itself.
fn appliance(
    t: &Topology,
    ip: IpAddr,
    vpc: Option<&str>,
    host_vpc: &HashMap<String, String>,
) -> RouteTarget {
    let with_ip = || t.hosts.iter().filter(|h| h.private_ips.contains(&ip));
    with_ip()
        .find(|h| vpc.is_some() && host_vpc.get(&h.id).map(String::as_str) == vpc)
        .or_else(|| with_ip().next())
        .map(|h| RouteTarget::Instance(h.id.clone()))
        .unwrap_or_else(|| RouteTarget::Other(ip.to_string()))
}

/// Load balancers and application gateways: subnets, VNet, public address, backend members.
fn load_balancers(
    r: &Registry,
    t: &mut Topology,
    subnet: &dyn Fn(&str) -> String,
    subnet_vpc: &HashMap<String, String>,
    nic_host: &HashMap<String, String>,
    w: &mut Vec<String>,
) {
    for (lid, pips) in &r.lb_public_ips {
        let Some(lb) = t.load_balancers.iter_mut().find(|l| &l.id == lid) else {
            continue;
        };
        lb.subnets = lb.subnets.iter().map(|s| subnet(s)).collect();
        if lb.vpc.is_none() {
            lb.vpc = lb.subnets.iter().find_map(|s| subnet_vpc.get(s)).cloned();
        }
        let public = pips.iter().find_map(|p| r.public_ips.get(&low(p)));
        if lb.ip.is_none() {
            lb.ip = public.and_then(|p| p.ip);
        }
        if lb.dns_name.is_none() {
            lb.dns_name = public.and_then(|p| p.fqdn.clone());
        }
    }
    let lbs = Canon::of(t.load_balancers.iter().map(|l| l.id.as_str()));
    for a in &r.pool_members {
        let lb = parent(&a.to, "backendAddressPools").and_then(|p| lbs.get(&p).cloned());
        let Some(lb) = lb else {
            w.push(format!(
                "{}: the owner of backend pool {} is not in the state",
                a.what, a.to
            ));
            continue;
        };
        let Some(host) = nic_host.get(&low(&a.from)) else {
            w.push(format!(
                "{}: network interface {} belongs to no virtual machine in the state",
                a.what, a.from
            ));
            continue;
        };
        if let Some(l) = t.load_balancers.iter_mut().find(|l| l.id == lb) {
            push_new(&mut l.targets, host.clone());
        }
    }
    for (lid, ip) in &r.pool_ips {
        let host = t
            .hosts
            .iter()
            .find(|h| h.private_ips.contains(ip))
            .map(|h| h.id.clone());
        if let (Some(host), Some(l)) = (host, t.load_balancers.iter_mut().find(|l| &l.id == lid)) {
            push_new(&mut l.targets, host);
        }
    }
}
