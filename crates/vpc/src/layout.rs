//! A deterministic nested layout for the map: region → VPC → subnet → hosts, with load
//! balancers and gateways on the top edge of their VPC. The UI draws the rectangles it is given.
//!
//! Regions sit side by side, VPCs side by side inside their region, subnets side by side inside
//! their VPC, and each subnet is a column of fixed width holding its hosts in a grid of
//! [`LayoutOptions::columns`] columns. Everything is anchored at the top left, and widths depend
//! only on how many subnets and edge items there are, never on how many hosts: so when a host
//! comes or goes, only the hosts after it in its own subnet move (one cell), and only the heights
//! of its subnet, VPC and region change. Every other node keeps its position.
//!
//! Cost: one pass to group (one hash lookup per host), sorting inside each group by name, one pass
//! to place. [`layout_ref`] borrows every text from the topology (no string copied per host);
//! [`layout`] returns owned strings for callers that keep the layout beyond the topology.

use std::borrow::Cow;
use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::model::Topology;

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// A region (a frame around its VPCs).
    Region,
    /// A VPC.
    Vpc,
    /// A subnet.
    Subnet,
    /// A host.
    Host,
    /// A load balancer (on the VPC's top edge).
    LoadBalancer,
    /// A gateway (on the VPC's top edge).
    Gateway,
}

/// A placed rectangle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Kind.
    pub kind: NodeKind,
    /// Id of the object (regions: their name; objects without a parent get a synthetic one).
    pub id: String,
    /// Text to show.
    pub label: String,
    /// The enclosing node's id.
    pub parent: Option<String>,
    /// Left.
    pub x: f64,
    /// Top.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

/// Sizes, in the UI's units.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LayoutOptions {
    /// Host cell width.
    pub host_w: f64,
    /// Host cell height.
    pub host_h: f64,
    /// Host columns per subnet.
    pub columns: usize,
    /// Space between siblings.
    pub gap: f64,
    /// Padding inside a container.
    pub pad: f64,
    /// Height of a container's title bar.
    pub header: f64,
    /// Width of an edge item (load balancer, gateway).
    pub edge_w: f64,
    /// Height of an edge item.
    pub edge_h: f64,
    /// Room kept on a VPC's top edge for its title, left of the edge items.
    #[serde(default = "default_title_w")]
    pub title_w: f64,
}

fn default_title_w() -> f64 {
    LayoutOptions::default().title_w
}

impl Default for LayoutOptions {
    fn default() -> Self {
        LayoutOptions {
            host_w: 120.0,
            host_h: 48.0,
            columns: 3,
            gap: 12.0,
            pad: 16.0,
            header: 28.0,
            edge_w: 96.0,
            edge_h: 36.0,
            title_w: 200.0,
        }
    }
}

/// The laid-out map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Layout {
    /// Every node, containers before their contents.
    pub nodes: Vec<Node>,
    /// Total width.
    pub width: f64,
    /// Total height.
    pub height: f64,
}

impl Layout {
    /// The node with this kind and id.
    pub fn node(&self, kind: NodeKind, id: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.kind == kind && n.id == id)
    }
}

/// A placed rectangle whose texts borrow from the topology (what [`layout_ref`] returns); it
/// serializes exactly as a [`Node`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeRef<'t> {
    /// Kind.
    pub kind: NodeKind,
    /// Id of the object (regions: their name; objects without a parent get a synthetic one).
    pub id: Cow<'t, str>,
    /// Text to show.
    pub label: Cow<'t, str>,
    /// The enclosing node's id.
    pub parent: Option<Cow<'t, str>>,
    /// Left.
    pub x: f64,
    /// Top.
    pub y: f64,
    /// Width.
    pub w: f64,
    /// Height.
    pub h: f64,
}

impl NodeRef<'_> {
    /// The same node with its own strings.
    pub fn into_owned(self) -> Node {
        Node {
            kind: self.kind,
            id: self.id.into_owned(),
            label: self.label.into_owned(),
            parent: self.parent.map(Cow::into_owned),
            x: self.x,
            y: self.y,
            w: self.w,
            h: self.h,
        }
    }
}

/// The laid-out map, borrowing its texts from the topology: no string is copied per host, so a
/// caller that only renders or serializes it (the CLI's `vpc layout`) allocates a few objects
/// per container, not three strings per host. It serializes exactly as a [`Layout`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayoutRef<'t> {
    /// Every node, containers before their contents.
    pub nodes: Vec<NodeRef<'t>>,
    /// Total width.
    pub width: f64,
    /// Total height.
    pub height: f64,
}

impl LayoutRef<'_> {
    /// The node with this kind and id.
    pub fn node(&self, kind: NodeKind, id: &str) -> Option<&NodeRef<'_>> {
        self.nodes.iter().find(|n| n.kind == kind && n.id == id)
    }

    /// The same layout with its own strings.
    pub fn into_owned(self) -> Layout {
        Layout {
            nodes: self.nodes.into_iter().map(NodeRef::into_owned).collect(),
            width: self.width,
            height: self.height,
        }
    }
}

const NO_REGION: &str = "(no region)";
const NO_SUBNET: &str = "(no subnet)";
const NO_VPC: &str = "(no VPC)";

/// Lays out `topo` with the default sizes.
pub fn layout(topo: &Topology) -> Layout {
    layout_with(topo, &LayoutOptions::default())
}

/// Lays out `topo` with the given sizes.
pub fn layout_with(topo: &Topology, o: &LayoutOptions) -> Layout {
    layout_ref_with(topo, o).into_owned()
}

/// Lays out `topo` with the default sizes, borrowing the texts from it.
pub fn layout_ref(topo: &Topology) -> LayoutRef<'_> {
    layout_ref_with(topo, &LayoutOptions::default())
}

struct SubnetGroup<'t> {
    id: Cow<'t, str>,
    label: Cow<'t, str>,
    /// The hosts' (name, id), read once so that sorting and placing never go back to the
    /// (large, scattered) host records.
    hosts: Vec<(&'t str, &'t str)>,
}

struct VpcGroup<'t> {
    id: &'t str,
    label: &'t str,
    subnets: Vec<SubnetGroup<'t>>,
    /// subnet id → index in `subnets` (`NO_SUBNET` for the hosts without a known subnet).
    subnet_index: HashMap<&'t str, usize>,
    /// (kind, id, label)
    edge: Vec<(NodeKind, &'t str, &'t str)>,
}

/// Regions in first-seen order, each with its VPCs.
#[derive(Default)]
struct Groups<'t> {
    regions: Vec<(&'t str, Vec<VpcGroup<'t>>)>,
    region_index: HashMap<&'t str, usize>,
    /// VPC id → (region, VPC) indices.
    vpc_loc: HashMap<&'t str, (usize, usize)>,
}

impl<'t> Groups<'t> {
    fn add_vpc(&mut self, region: &'t str, id: &'t str, label: &'t str) -> (usize, usize) {
        let regions = &mut self.regions;
        let r = *self.region_index.entry(region).or_insert_with(|| {
            regions.push((region, Vec::new()));
            regions.len() - 1
        });
        regions[r].1.push(VpcGroup {
            id,
            label,
            subnets: Vec::new(),
            subnet_index: HashMap::new(),
            edge: Vec::new(),
        });
        let loc = (r, regions[r].1.len() - 1);
        self.vpc_loc.insert(id, loc);
        loc
    }

    /// The group of VPC `vpc`; objects outside any known VPC go to one synthetic VPC.
    fn vpc_or_orphan(&mut self, vpc: Option<&str>) -> (usize, usize) {
        if let Some(l) = vpc.and_then(|v| self.vpc_loc.get(v)) {
            return *l;
        }
        if let Some(l) = self.vpc_loc.get(NO_VPC) {
            return *l;
        }
        self.add_vpc(NO_REGION, NO_VPC, NO_VPC)
    }

    fn vpc(&mut self, (r, v): (usize, usize)) -> &mut VpcGroup<'t> {
        &mut self.regions[r].1[v]
    }
}

/// Lays out `topo` with the given sizes, borrowing the texts from it.
///
/// Cost: linear in the number of objects plus the sorts inside each group: one hash lookup per
/// host (its subnet), no string copied per host.
pub fn layout_ref_with<'t>(topo: &'t Topology, o: &LayoutOptions) -> LayoutRef<'t> {
    let columns = o.columns.max(1);
    let mut g = Groups::default();

    for v in &topo.vpcs {
        if g.vpc_loc.contains_key(v.id.as_str()) {
            continue;
        }
        let region = v.region.as_deref().unwrap_or(NO_REGION);
        g.add_vpc(region, &v.id, &v.name);
    }
    // Subnet id → (region, VPC, subnet) indices, for the hosts.
    let mut subnet_loc: HashMap<&str, (usize, usize, usize)> =
        HashMap::with_capacity(topo.subnets.len());
    for s in &topo.subnets {
        let loc = g.vpc_or_orphan(s.vpc.as_deref());
        let group = g.vpc(loc);
        if group.subnet_index.contains_key(s.id.as_str()) {
            continue;
        }
        let label = match &s.cidr {
            Some(c) => Cow::Owned(format!("{} {c}", s.name)),
            None => Cow::Borrowed(s.name.as_str()),
        };
        let idx = group.subnets.len();
        group.subnet_index.insert(s.id.as_str(), idx);
        group.subnets.push(SubnetGroup {
            id: Cow::Borrowed(s.id.as_str()),
            label,
            hosts: Vec::new(),
        });
        subnet_loc
            .entry(s.id.as_str())
            .or_insert((loc.0, loc.1, idx));
    }
    // Hosts usually come in runs of the same subnet (counts, for_each): the last lookup is kept.
    let mut last: Option<(&str, (usize, usize, usize))> = None;
    for h in &topo.hosts {
        let loc = h.subnet.as_deref().and_then(|s| match last {
            Some((k, loc)) if k == s => Some(loc),
            _ => {
                let loc = *subnet_loc.get(s)?;
                last = Some((s, loc));
                Some(loc)
            }
        });
        // The common case: the host's subnet is known and in the host's VPC (or the host names
        // no VPC).
        if let Some((r, v, idx)) = loc {
            let group = g.vpc((r, v));
            if h.vpc.as_deref().is_none_or(|vpc| vpc == group.id) {
                group.subnets[idx].hosts.push((&h.name, &h.id));
                continue;
            }
        }
        // Otherwise: the host's VPC (or its subnet's), and its subnet when that VPC has it.
        let vpc = h.vpc.as_deref().or_else(|| {
            h.subnet
                .as_deref()
                .and_then(|s| subnet_loc.get(s))
                .map(|&(r, v, _)| g.regions[r].1[v].id)
        });
        let loc = g.vpc_or_orphan(vpc);
        let group = g.vpc(loc);
        let key = h
            .subnet
            .as_deref()
            .filter(|s| group.subnet_index.contains_key(s))
            .unwrap_or(NO_SUBNET);
        let idx = match group.subnet_index.get(key) {
            Some(i) => *i,
            None => {
                group.subnets.push(SubnetGroup {
                    id: Cow::Owned(format!("{}/{NO_SUBNET}", group.id)),
                    label: Cow::Borrowed(NO_SUBNET),
                    hosts: Vec::new(),
                });
                group
                    .subnet_index
                    .insert(NO_SUBNET, group.subnets.len() - 1);
                group.subnets.len() - 1
            }
        };
        group.subnets[idx].hosts.push((&h.name, &h.id));
    }
    for lb in &topo.load_balancers {
        let loc = g.vpc_or_orphan(lb.vpc.as_deref());
        g.vpc(loc)
            .edge
            .push((NodeKind::LoadBalancer, &lb.id, &lb.name));
    }
    for gw in &topo.gateways {
        let loc = g.vpc_or_orphan(gw.vpc.as_deref());
        g.vpc(loc).edge.push((NodeKind::Gateway, &gw.id, &gw.name));
    }

    // Deterministic order: by label, then id.
    let mut regions = g.regions;
    regions.sort_by(|a, b| a.0.cmp(b.0));
    for (_, vpcs) in &mut regions {
        vpcs.sort_by(|a, b| (a.label, a.id).cmp(&(b.label, b.id)));
        for g in vpcs.iter_mut() {
            g.subnets
                .sort_by(|a, b| (&a.label, &a.id).cmp(&(&b.label, &b.id)));
            for s in &mut g.subnets {
                // Equal (name, id) pairs make identical nodes: no need for a stable sort.
                s.hosts.sort_unstable();
            }
            g.edge
                .sort_by(|a, b| (a.0 as u8, a.2, a.1).cmp(&(b.0 as u8, b.2, b.1)));
        }
    }

    // Place.
    let subnet_w = o.pad * 2.0 + columns as f64 * o.host_w + (columns as f64 - 1.0) * o.gap;
    let containers: usize = regions
        .iter()
        .map(|(_, v)| {
            1 + v
                .iter()
                .map(|g| 1 + g.edge.len() + g.subnets.len())
                .sum::<usize>()
        })
        .sum();
    let mut nodes = Vec::with_capacity(topo.hosts.len() + containers);
    let mut x = 0.0f64;
    let mut total_h = 0.0f64;
    for (region, vpcs) in &regions {
        let region_idx = nodes.len();
        nodes.push(NodeRef {
            kind: NodeKind::Region,
            id: Cow::Borrowed(*region),
            label: Cow::Borrowed(*region),
            parent: None,
            x,
            y: 0.0,
            w: 0.0,
            h: 0.0,
        });
        let mut vx = x + o.pad;
        let vy = o.header + o.edge_h / 2.0;
        let mut region_h = 0.0f64;
        for g in vpcs {
            let vpc_idx = nodes.len();
            nodes.push(NodeRef {
                kind: NodeKind::Vpc,
                id: Cow::Borrowed(g.id),
                label: Cow::Borrowed(g.label),
                parent: Some(Cow::Borrowed(*region)),
                x: vx,
                y: vy,
                w: 0.0,
                h: 0.0,
            });
            // Edge items straddle the VPC's top edge.
            for (i, &(kind, id, label)) in g.edge.iter().enumerate() {
                nodes.push(NodeRef {
                    kind,
                    id: Cow::Borrowed(id),
                    label: Cow::Borrowed(label),
                    parent: Some(Cow::Borrowed(g.id)),
                    x: vx + o.pad + o.title_w + i as f64 * (o.edge_w + o.gap),
                    y: vy - o.edge_h / 2.0,
                    w: o.edge_w,
                    h: o.edge_h,
                });
            }
            let sy = vy + o.edge_h / 2.0 + o.header;
            let mut sx = vx + o.pad;
            let mut tallest = 0.0f64;
            for s in &g.subnets {
                let rows = s.hosts.len().div_ceil(columns);
                let sh = o.header
                    + o.pad
                    + rows as f64 * o.host_h
                    + rows.saturating_sub(1) as f64 * o.gap;
                nodes.push(NodeRef {
                    kind: NodeKind::Subnet,
                    id: s.id.clone(),
                    label: s.label.clone(),
                    parent: Some(Cow::Borrowed(g.id)),
                    x: sx,
                    y: sy,
                    w: subnet_w,
                    h: sh,
                });
                let sid: &str = &s.id;
                for (k, &(name, id)) in s.hosts.iter().enumerate() {
                    let (col, row) = (k % columns, k / columns);
                    nodes.push(NodeRef {
                        kind: NodeKind::Host,
                        id: Cow::Borrowed(id),
                        label: Cow::Borrowed(name),
                        parent: Some(match &s.id {
                            Cow::Borrowed(b) => Cow::Borrowed(*b),
                            Cow::Owned(_) => Cow::Owned(sid.to_string()),
                        }),
                        x: sx + o.pad + col as f64 * (o.host_w + o.gap),
                        y: sy + o.header + row as f64 * (o.host_h + o.gap),
                        w: o.host_w,
                        h: o.host_h,
                    });
                }
                tallest = tallest.max(sh);
                sx += subnet_w + o.gap;
            }
            let subnets_w = if g.subnets.is_empty() {
                0.0
            } else {
                g.subnets.len() as f64 * (subnet_w + o.gap) - o.gap
            };
            let edge_w = if g.edge.is_empty() {
                0.0
            } else {
                o.title_w + g.edge.len() as f64 * (o.edge_w + o.gap) - o.gap
            };
            let vw = o.pad * 2.0 + subnets_w.max(edge_w).max(subnet_w);
            let vh = o.edge_h / 2.0 + o.header + tallest + o.pad;
            nodes[vpc_idx].w = vw;
            nodes[vpc_idx].h = vh;
            region_h = region_h.max(vh);
            vx += vw + o.gap;
        }
        let rw = (vx - o.gap + o.pad - x).max(o.pad * 2.0);
        let rh = vy + region_h + o.pad;
        nodes[region_idx].w = rw;
        nodes[region_idx].h = rh;
        total_h = total_h.max(rh);
        x += rw + o.gap;
    }
    LayoutRef {
        nodes,
        width: (x - o.gap).max(0.0),
        height: total_h,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::{Shape, StateReader};
    use crate::tfstate::import_reader;

    fn synth(n: usize) -> Topology {
        import_reader(StateReader::new(Shape::instances(n)), "synth")
            .unwrap()
            .0
    }

    fn inside(inner: &Node, outer: &Node) -> bool {
        inner.x >= outer.x - 1e-9
            && inner.y >= outer.y - 1e-9
            && inner.x + inner.w <= outer.x + outer.w + 1e-9
            && inner.y + inner.h <= outer.y + outer.h + 1e-9
    }

    #[test]
    fn nested_and_non_overlapping() {
        let t = synth(50);
        let l = layout(&t);
        let by_id: HashMap<(NodeKind, &str), &Node> = l
            .nodes
            .iter()
            .map(|n| ((n.kind, n.id.as_str()), n))
            .collect();
        assert_eq!(
            l.nodes.iter().filter(|n| n.kind == NodeKind::Host).count(),
            50
        );
        for n in &l.nodes {
            let parent_kind = match n.kind {
                NodeKind::Region => continue,
                NodeKind::Vpc => NodeKind::Region,
                NodeKind::Subnet => NodeKind::Vpc,
                NodeKind::Host => NodeKind::Subnet,
                NodeKind::LoadBalancer | NodeKind::Gateway => {
                    // On the top edge: horizontally inside, vertically across the edge.
                    let p = by_id[&(NodeKind::Vpc, n.parent.as_deref().unwrap())];
                    assert!(n.x >= p.x && n.x + n.w <= p.x + p.w, "{n:?} {p:?}");
                    // Right of the VPC's title.
                    let title_end = p.x + LayoutOptions::default().title_w;
                    assert!(n.x >= title_end, "{n:?} covers the title of {p:?}");
                    assert!(n.y < p.y && n.y + n.h > p.y, "{n:?} {p:?}");
                    continue;
                }
            };
            let p = by_id[&(parent_kind, n.parent.as_deref().unwrap())];
            assert!(inside(n, p), "{n:?} not inside {p:?}");
        }
        let hosts: Vec<&Node> = l
            .nodes
            .iter()
            .filter(|n| n.kind == NodeKind::Host)
            .collect();
        for (i, a) in hosts.iter().enumerate() {
            for b in &hosts[i + 1..] {
                let overlap =
                    a.x < b.x + b.w && b.x < a.x + a.w && a.y < b.y + b.h && b.y < a.y + a.h;
                assert!(!overlap, "{a:?} overlaps {b:?}");
            }
        }
    }

    #[test]
    fn deterministic_whatever_the_input_order() {
        let t = synth(40);
        let mut r = t.clone();
        r.hosts.reverse();
        r.subnets.reverse();
        r.vpcs.reverse();
        r.gateways.reverse();
        let (a, b) = (layout(&t), layout(&r));
        let key = |l: &Layout| {
            let mut v: Vec<String> = l.nodes.iter().map(|n| format!("{n:?}")).collect();
            v.sort();
            v
        };
        assert_eq!(key(&a), key(&b));
        assert_eq!(a.width, b.width);
        assert_eq!(
            serde_json::to_string(&layout(&t)).unwrap(),
            serde_json::to_string(&a).unwrap()
        );
    }

    #[test]
    fn stable_when_a_host_comes_or_goes() {
        let t = synth(60);
        let before = layout(&t);
        // Remove one host in the middle of its subnet.
        let gone = t.hosts[20].clone();
        let mut fewer = t.clone();
        fewer.hosts.remove(20);
        let after = layout(&fewer);
        let pos =
            |l: &Layout, kind: NodeKind, id: &str| l.node(kind, id).map(|n| (n.x, n.y)).unwrap();
        let subnet_hosts: Vec<String> = {
            let mut v: Vec<&crate::model::Host> =
                t.hosts.iter().filter(|h| h.subnet == gone.subnet).collect();
            v.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
            v.iter().map(|h| h.id.clone()).collect()
        };
        let gone_rank = subnet_hosts.iter().position(|id| *id == gone.id).unwrap();
        let mut moved = 0;
        for n in &after.nodes {
            let old = pos(&before, n.kind, &n.id);
            if (n.x, n.y) != old {
                moved += 1;
                // Only hosts after it in the same subnet move.
                assert_eq!(n.kind, NodeKind::Host, "{n:?} moved");
                let rank = subnet_hosts.iter().position(|id| *id == n.id).unwrap();
                assert!(rank > gone_rank, "{n:?} moved");
            }
        }
        assert!(moved < subnet_hosts.len() - gone_rank);
        // Adding it back restores the first layout exactly.
        let mut back = fewer.clone();
        back.hosts.push(gone);
        assert_eq!(layout(&back).nodes.len(), before.nodes.len());
        for n in &before.nodes {
            assert_eq!(pos(&layout(&back), n.kind, &n.id), (n.x, n.y));
        }
    }

    #[test]
    fn borrowed_and_owned_layouts_are_the_same() {
        let mut t = synth(30);
        // Orphans too: a host without subnet (synthetic subnet id) and one outside any VPC.
        t.hosts[0].subnet = None;
        t.hosts[1].vpc = Some("vpc-elsewhere".into());
        t.hosts[1].subnet = None;
        let (r, o) = (layout_ref(&t), layout(&t));
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            serde_json::to_string(&o).unwrap()
        );
        assert_eq!(r.clone().into_owned(), o);
        let back: Layout = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, o);
        let h = r.node(NodeKind::Host, &t.hosts[5].id).unwrap();
        assert!(matches!(h.id, Cow::Borrowed(_)));
        assert!(matches!(h.parent, Some(Cow::Borrowed(_))));
    }

    #[test]
    fn a_host_whose_vpc_differs_from_its_subnets_goes_to_its_vpc() {
        let mut t = synth(3);
        let other = t.vpcs[0].clone();
        let mut v2 = other.clone();
        v2.id = "vpc-two".into();
        v2.name = "two".into();
        t.vpcs.push(v2);
        t.hosts[0].vpc = Some("vpc-two".into());
        let l = layout(&t);
        let h = l.node(NodeKind::Host, &t.hosts[0].id).unwrap();
        let s = l
            .node(NodeKind::Subnet, h.parent.as_deref().unwrap())
            .unwrap();
        assert_eq!(s.label, NO_SUBNET);
        assert_eq!(s.parent.as_deref(), Some("vpc-two"));
    }

    #[test]
    fn orphans_get_a_place() {
        let mut t = synth(3);
        t.hosts[0].vpc = None;
        t.hosts[0].subnet = None;
        t.hosts[1].subnet = Some("subnet-unknown".into());
        let l = layout(&t);
        assert_eq!(
            l.nodes.iter().filter(|n| n.kind == NodeKind::Host).count(),
            3
        );
        assert!(l.node(NodeKind::Vpc, "(no VPC)").is_some());
        assert!(l
            .nodes
            .iter()
            .any(|n| n.kind == NodeKind::Subnet && n.label == NO_SUBNET));
        let empty = layout(&Topology::default());
        assert!(empty.nodes.is_empty());
        assert_eq!(empty.width, 0.0);
    }
}
