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
//! Cost: one pass to group (hash maps), sorting inside each group by name, one pass to place.

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

const NO_REGION: &str = "(no region)";
const NO_SUBNET: &str = "(no subnet)";

/// Lays out `topo` with the default sizes.
pub fn layout(topo: &Topology) -> Layout {
    layout_with(topo, &LayoutOptions::default())
}

struct VpcGroup<'a> {
    id: String,
    label: String,
    /// subnet id → (label, host indices)
    subnets: Vec<(String, String, Vec<usize>)>,
    subnet_index: HashMap<&'a str, usize>,
    /// (kind, id, label)
    edge: Vec<(NodeKind, String, String)>,
}

/// Lays out `topo` with the given sizes.
pub fn layout_with(topo: &Topology, o: &LayoutOptions) -> Layout {
    let columns = o.columns.max(1);
    // Regions → VPCs.
    let mut regions: Vec<(String, Vec<VpcGroup>)> = Vec::new();
    let mut region_index: HashMap<String, usize> = HashMap::new();
    let mut vpc_loc: HashMap<&str, (usize, usize)> = HashMap::new();
    let mut vpc_of_subnet: HashMap<&str, &str> = HashMap::new();

    let mut add_vpc = |regions: &mut Vec<(String, Vec<VpcGroup>)>,
                       region: &str,
                       id: String,
                       label: String|
     -> (usize, usize) {
        let r = *region_index.entry(region.to_string()).or_insert_with(|| {
            regions.push((region.to_string(), Vec::new()));
            regions.len() - 1
        });
        regions[r].1.push(VpcGroup {
            id,
            label,
            subnets: Vec::new(),
            subnet_index: HashMap::new(),
            edge: Vec::new(),
        });
        (r, regions[r].1.len() - 1)
    };

    for v in &topo.vpcs {
        if vpc_loc.contains_key(v.id.as_str()) {
            continue;
        }
        let region = v.region.as_deref().unwrap_or(NO_REGION);
        let loc = add_vpc(&mut regions, region, v.id.clone(), v.name.clone());
        vpc_loc.insert(v.id.as_str(), loc);
    }
    // Objects outside any known VPC go to a synthetic one per region.
    let mut orphan_vpc = |regions: &mut Vec<(String, Vec<VpcGroup>)>,
                          vpc_loc: &mut HashMap<&str, (usize, usize)>,
                          vpc: Option<&str>|
     -> (usize, usize) {
        if let Some(l) = vpc.and_then(|v| vpc_loc.get(v)) {
            return *l;
        }
        if let Some(l) = vpc_loc.get("(no VPC)") {
            return *l;
        }
        let l = add_vpc(regions, NO_REGION, "(no VPC)".into(), "(no VPC)".into());
        vpc_loc.insert("(no VPC)", l);
        l
    };

    for s in &topo.subnets {
        let (r, v) = orphan_vpc(&mut regions, &mut vpc_loc, s.vpc.as_deref());
        let g = &mut regions[r].1[v];
        if g.subnet_index.contains_key(s.id.as_str()) {
            continue;
        }
        let label = match &s.cidr {
            Some(c) => format!("{} {c}", s.name),
            None => s.name.clone(),
        };
        g.subnet_index.insert(s.id.as_str(), g.subnets.len());
        g.subnets.push((s.id.clone(), label, Vec::new()));
        vpc_of_subnet.insert(s.id.as_str(), g_id_static(&g.id, topo));
    }
    for (i, h) in topo.hosts.iter().enumerate() {
        let vpc = h.vpc.as_deref().or_else(|| {
            h.subnet
                .as_deref()
                .and_then(|s| vpc_of_subnet.get(s).copied())
        });
        let (r, v) = orphan_vpc(&mut regions, &mut vpc_loc, vpc);
        let g = &mut regions[r].1[v];
        let key = h
            .subnet
            .as_deref()
            .filter(|s| g.subnet_index.contains_key(s))
            .unwrap_or(NO_SUBNET);
        let idx = match g.subnet_index.get(key) {
            Some(i) => *i,
            None => {
                g.subnets.push((
                    format!("{}/{NO_SUBNET}", g.id),
                    NO_SUBNET.into(),
                    Vec::new(),
                ));
                g.subnet_index.insert(NO_SUBNET, g.subnets.len() - 1);
                g.subnets.len() - 1
            }
        };
        g.subnets[idx].2.push(i);
    }
    for lb in &topo.load_balancers {
        let (r, v) = orphan_vpc(&mut regions, &mut vpc_loc, lb.vpc.as_deref());
        regions[r].1[v]
            .edge
            .push((NodeKind::LoadBalancer, lb.id.clone(), lb.name.clone()));
    }
    for gw in &topo.gateways {
        let (r, v) = orphan_vpc(&mut regions, &mut vpc_loc, gw.vpc.as_deref());
        regions[r].1[v]
            .edge
            .push((NodeKind::Gateway, gw.id.clone(), gw.name.clone()));
    }

    // Deterministic order: by label, then id.
    regions.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, vpcs) in &mut regions {
        vpcs.sort_by(|a, b| (&a.label, &a.id).cmp(&(&b.label, &b.id)));
        for g in vpcs.iter_mut() {
            g.subnets.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
            for (_, _, hosts) in &mut g.subnets {
                hosts.sort_by(|&a, &b| {
                    let (ha, hb) = (&topo.hosts[a], &topo.hosts[b]);
                    (&ha.name, &ha.id).cmp(&(&hb.name, &hb.id))
                });
            }
            g.edge
                .sort_by(|a, b| (a.0 as u8, &a.2, &a.1).cmp(&(b.0 as u8, &b.2, &b.1)));
        }
    }

    // Place.
    let subnet_w = o.pad * 2.0 + columns as f64 * o.host_w + (columns as f64 - 1.0) * o.gap;
    let mut nodes = Vec::with_capacity(topo.hosts.len() + topo.subnets.len() + 16);
    let mut x = 0.0f64;
    let mut total_h = 0.0f64;
    for (region, vpcs) in &regions {
        let region_idx = nodes.len();
        nodes.push(Node {
            kind: NodeKind::Region,
            id: region.clone(),
            label: region.clone(),
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
            nodes.push(Node {
                kind: NodeKind::Vpc,
                id: g.id.clone(),
                label: g.label.clone(),
                parent: Some(region.clone()),
                x: vx,
                y: vy,
                w: 0.0,
                h: 0.0,
            });
            // Edge items straddle the VPC's top edge.
            for (i, (kind, id, label)) in g.edge.iter().enumerate() {
                nodes.push(Node {
                    kind: *kind,
                    id: id.clone(),
                    label: label.clone(),
                    parent: Some(g.id.clone()),
                    x: vx + o.pad + i as f64 * (o.edge_w + o.gap),
                    y: vy - o.edge_h / 2.0,
                    w: o.edge_w,
                    h: o.edge_h,
                });
            }
            let sy = vy + o.edge_h / 2.0 + o.header;
            let mut sx = vx + o.pad;
            let mut tallest = 0.0f64;
            for (sid, label, hosts) in &g.subnets {
                let rows = hosts.len().div_ceil(columns);
                let sh = o.header
                    + o.pad
                    + rows as f64 * o.host_h
                    + rows.saturating_sub(1) as f64 * o.gap;
                nodes.push(Node {
                    kind: NodeKind::Subnet,
                    id: sid.clone(),
                    label: label.clone(),
                    parent: Some(g.id.clone()),
                    x: sx,
                    y: sy,
                    w: subnet_w,
                    h: sh,
                });
                for (k, &hi) in hosts.iter().enumerate() {
                    let h = &topo.hosts[hi];
                    let (col, row) = (k % columns, k / columns);
                    nodes.push(Node {
                        kind: NodeKind::Host,
                        id: h.id.clone(),
                        label: h.name.clone(),
                        parent: Some(sid.clone()),
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
                g.edge.len() as f64 * (o.edge_w + o.gap) - o.gap
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
    Layout {
        nodes,
        width: (x - o.gap).max(0.0),
        height: total_h,
    }
}

/// The VPC id a subnet belongs to, borrowed from the topology (for the subnet → VPC map).
fn g_id_static<'t>(id: &str, topo: &'t Topology) -> &'t str {
    topo.vpcs
        .iter()
        .find(|v| v.id == id)
        .map(|v| v.id.as_str())
        .unwrap_or("(no VPC)")
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
