//! A deterministic nested layout for the map: region → VPC → subnet → hosts, with load
//! balancers and gateways on the top edge of their VPC. The UI draws the rectangles it is given.
//!
//! Regions, the VPCs of a region and the subnets of a VPC each wrap into a grid whose number of
//! columns lets the whole be drawn largest in a viewport of [`LayoutOptions::aspect`] (the map's
//! drawing area), so a map fills the window instead of running off as a strip. A subnet holds its
//! hosts in [`LayoutOptions::columns`] columns, more when it has many (about as wide as tall).
//! The subnets of one grid row share one height, counted in an even number of host rows: when a
//! host comes or goes, only the hosts after it in its own subnet move (one cell), unless its
//! subnet is the tallest of its row and crosses an even row count — then the rows below move.
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
    /// The shape (width / height) the map, each region and each VPC wrap towards: the map's
    /// drawing area in the default window.
    #[serde(default = "default_aspect")]
    pub aspect: f64,
}

fn default_title_w() -> f64 {
    LayoutOptions::default().title_w
}

fn default_aspect() -> f64 {
    LayoutOptions::default().aspect
}

impl Default for LayoutOptions {
    fn default() -> Self {
        LayoutOptions {
            host_w: 150.0,
            host_h: 36.0,
            columns: 3,
            gap: 10.0,
            pad: 12.0,
            header: 26.0,
            edge_w: 96.0,
            edge_h: 36.0,
            title_w: 200.0,
            aspect: 1.5,
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

    // Place: each VPC laid out at the origin, then moved into its region's grid, each region
    // into the map's grid.
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
    // (first node index, width, height) of each region.
    let mut region_boxes = Vec::with_capacity(regions.len());
    for (region, vpcs) in &regions {
        let region_idx = nodes.len();
        nodes.push(NodeRef {
            kind: NodeKind::Region,
            id: Cow::Borrowed(*region),
            label: Cow::Borrowed(*region),
            parent: None,
            x: 0.0,
            y: 0.0,
            w: 0.0,
            h: 0.0,
        });
        // (first node index, end index, width, height) of each VPC, laid out at (0, 0).
        let mut vpc_boxes = Vec::with_capacity(vpcs.len());
        for g in vpcs {
            let first = nodes.len();
            let (w, h) = place_vpc(g, region, o, columns, &mut nodes);
            vpc_boxes.push((first, nodes.len(), w, h));
        }
        // The VPCs' top edges carry their edge items (half above): the region's title sits
        // above that.
        let top = o.header + o.edge_h / 2.0;
        let sizes: Vec<(f64, f64)> = vpc_boxes.iter().map(|b| (b.2, b.3)).collect();
        let grid = Grid::new(&sizes, o.gap, o.aspect);
        for (i, &(first, end, _, _)) in vpc_boxes.iter().enumerate() {
            let (dx, dy) = grid.at(i);
            for n in &mut nodes[first..end] {
                n.x += o.pad + dx;
                n.y += top + dy;
            }
        }
        let rw = (o.pad * 2.0 + grid.width).max(o.pad * 2.0);
        let rh = top + grid.height + o.pad;
        nodes[region_idx].w = rw;
        nodes[region_idx].h = rh;
        region_boxes.push((region_idx, rw, rh));
    }
    let sizes: Vec<(f64, f64)> = region_boxes.iter().map(|b| (b.1, b.2)).collect();
    let grid = Grid::new(&sizes, o.gap, o.aspect);
    for (i, &(first, _, _)) in region_boxes.iter().enumerate() {
        let end = region_boxes.get(i + 1).map_or(nodes.len(), |b| b.0);
        let (dx, dy) = grid.at(i);
        for n in &mut nodes[first..end] {
            n.x += dx;
            n.y += dy;
        }
    }
    LayoutRef {
        nodes,
        width: grid.width,
        height: grid.height,
    }
}

/// Lays out one VPC with its top-left corner at (0, 0): its edge items on the top edge, its
/// subnets in a grid of as many columns as lets it be drawn largest at the target aspect (a
/// subnet's hosts in [`LayoutOptions::columns`] columns, more for a big subnet). A
/// subnet box is as tall as the tallest of its grid row, counted in an even number of host
/// rows, so a host coming or going moves nothing outside its subnet box unless that subnet is
/// the tallest of its row and crosses an even row count. Returns the VPC's size.
fn place_vpc<'t>(
    g: &VpcGroup<'t>,
    region: &'t str,
    o: &LayoutOptions,
    columns: usize,
    nodes: &mut Vec<NodeRef<'t>>,
) -> (f64, f64) {
    let vpc_idx = nodes.len();
    nodes.push(NodeRef {
        kind: NodeKind::Vpc,
        id: Cow::Borrowed(g.id),
        label: Cow::Borrowed(g.label),
        parent: Some(Cow::Borrowed(region)),
        x: 0.0,
        y: 0.0,
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
            x: o.pad + o.title_w + i as f64 * (o.edge_w + o.gap),
            y: -o.edge_h / 2.0,
            w: o.edge_w,
            h: o.edge_h,
        });
    }
    // A subnet with many hosts gets more columns, so that it is about as wide as tall.
    let cols_of = |hosts: usize| {
        let square = (hosts as f64 * (o.host_h + o.gap) / (o.host_w + o.gap) * o.aspect).sqrt();
        columns.max(square.ceil() as usize)
    };
    let width_of = |cols: usize| o.pad * 2.0 + cols as f64 * o.host_w + (cols as f64 - 1.0) * o.gap;
    let subnet_h = |hosts: usize, cols: usize| {
        let rows = hosts.div_ceil(cols).max(1);
        let rows = rows + rows % 2 * usize::from(rows > 1);
        o.header + o.pad + rows as f64 * o.host_h + (rows - 1) as f64 * o.gap
    };
    let cols: Vec<usize> = g.subnets.iter().map(|s| cols_of(s.hosts.len())).collect();
    let sizes: Vec<(f64, f64)> = g
        .subnets
        .iter()
        .zip(&cols)
        .map(|(s, &c)| (width_of(c), subnet_h(s.hosts.len(), c)))
        .collect();
    let grid = Grid::new(&sizes, o.gap, o.aspect);
    let sy = o.edge_h / 2.0 + o.header;
    for (i, s) in g.subnets.iter().enumerate() {
        let (dx, dy) = grid.at(i);
        let (sx, sy) = (o.pad + dx, sy + dy);
        let columns = cols[i];
        nodes.push(NodeRef {
            kind: NodeKind::Subnet,
            id: s.id.clone(),
            label: s.label.clone(),
            parent: Some(Cow::Borrowed(g.id)),
            x: sx,
            y: sy,
            w: sizes[i].0,
            h: grid.row_height(i),
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
    }
    let edge_w = if g.edge.is_empty() {
        0.0
    } else {
        o.title_w + g.edge.len() as f64 * (o.edge_w + o.gap) - o.gap
    };
    let vw = o.pad * 2.0 + grid.width.max(edge_w).max(width_of(columns));
    let vh = sy + grid.height.max(o.header) + o.pad;
    nodes[vpc_idx].w = vw;
    nodes[vpc_idx].h = vh;
    (vw, vh)
}

/// Boxes in rows of `columns`, left to right: each row as tall as its tallest box, each column
/// as wide as its widest; the number of columns is the one that lets the whole be drawn the
/// largest in a viewport of the target aspect (width / height).
struct Grid {
    columns: usize,
    col_x: Vec<f64>,
    row_y: Vec<f64>,
    row_h: Vec<f64>,
    width: f64,
    height: f64,
}

impl Grid {
    fn new(sizes: &[(f64, f64)], gap: f64, aspect: f64) -> Grid {
        let n = sizes.len();
        let aspect = if aspect.is_finite() && aspect > 0.0 {
            aspect
        } else {
            1.0
        };
        let mut best: Option<(f64, Grid)> = None;
        for columns in 1..=n.max(1) {
            let g = Grid::with_columns(sizes, gap, columns);
            let ratio = if g.width > 0.0 && g.height > 0.0 {
                g.width / g.height
            } else {
                aspect
            };
            // What limits the scale at fit in a viewport of the target aspect.
            let off = g.width.max(g.height * aspect);
            // Strictly better only: ties keep fewer columns.
            if best.as_ref().is_none_or(|(b, _)| off < *b - 1e-9) {
                best = Some((off, g));
            }
            // As wide as the target already: more columns only widen it.
            if ratio >= aspect {
                break;
            }
        }
        best.map(|b| b.1)
            .unwrap_or_else(|| Grid::with_columns(sizes, gap, 1))
    }

    fn with_columns(sizes: &[(f64, f64)], gap: f64, columns: usize) -> Grid {
        let columns = columns.max(1);
        let rows = sizes.len().div_ceil(columns);
        let mut col_w = vec![0.0f64; columns.min(sizes.len().max(1))];
        let mut row_h = vec![0.0f64; rows];
        for (i, &(w, h)) in sizes.iter().enumerate() {
            col_w[i % columns] = col_w[i % columns].max(w);
            row_h[i / columns] = row_h[i / columns].max(h);
        }
        let mut col_x = Vec::with_capacity(col_w.len());
        let mut x = 0.0;
        for w in &col_w {
            col_x.push(x);
            x += w + gap;
        }
        let mut row_y = Vec::with_capacity(rows);
        let mut y = 0.0;
        for h in &row_h {
            row_y.push(y);
            y += h + gap;
        }
        Grid {
            columns,
            col_x,
            row_y,
            row_h,
            width: if sizes.is_empty() { 0.0 } else { x - gap },
            height: if sizes.is_empty() { 0.0 } else { y - gap },
        }
    }

    /// The top-left corner of box `i`.
    fn at(&self, i: usize) -> (f64, f64) {
        (self.col_x[i % self.columns], self.row_y[i / self.columns])
    }

    /// The height of box `i`'s row.
    fn row_height(&self, i: usize) -> f64 {
        self.row_h[i / self.columns]
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

#[cfg(test)]
mod shape_tests {
    use super::*;
    use crate::synth::{Shape, StateReader};
    use crate::tfstate::import_reader;

    fn synth(n: usize) -> Topology {
        import_reader(StateReader::new(Shape::instances(n)), "synth")
            .unwrap()
            .0
    }

    /// The scale at which `l` fits the map's drawing area in the default window (830×560 CSS
    /// px, a 16 px margin).
    fn fit_scale(l: &Layout) -> f64 {
        ((830.0 - 32.0) / l.width).min((560.0 - 32.0) / l.height)
    }

    #[test]
    fn wraps_towards_the_viewport_shape() {
        let o = LayoutOptions::default();
        for n in [11, 50, 200, 1000, 5000] {
            let l = layout(&synth(n));
            let aspect = l.width / l.height;
            assert!(
                (0.6..=2.5).contains(&aspect),
                "{n} hosts: {}×{}",
                l.width,
                l.height
            );
            if n <= 200 {
                // Host boxes big enough on screen for an 11.5 px label of 8 characters.
                let s = fit_scale(&l);
                assert!(o.host_h * s >= 14.0, "{n} hosts: scale {s}");
                assert!(
                    (o.host_w - 12.0) * s >= 8.0 * 11.5 * 0.64,
                    "{n} hosts: scale {s}"
                );
            }
        }
        // Five VPCs of a thousand hosts wrap into rows rather than a strip.
        let l = layout(&synth(5000));
        let vpcs: Vec<&Node> = l.nodes.iter().filter(|n| n.kind == NodeKind::Vpc).collect();
        assert_eq!(vpcs.len(), 5);
        assert!(vpcs.iter().any(|v| v.y > vpcs[0].y + vpcs[0].h), "{vpcs:?}");
    }

    #[test]
    fn subnets_of_a_grid_row_are_as_tall_as_each_other() {
        let mut t = synth(40);
        // One subnet much fuller than the others.
        let s0 = t.hosts[0].subnet.clone();
        for h in t.hosts.iter_mut().take(30) {
            h.subnet = s0.clone();
        }
        let l = layout(&t);
        let subnets: Vec<&Node> = l
            .nodes
            .iter()
            .filter(|n| n.kind == NodeKind::Subnet)
            .collect();
        for a in &subnets {
            for b in &subnets {
                if a.parent == b.parent && a.y == b.y {
                    assert_eq!(a.h, b.h, "{a:?} {b:?}");
                }
            }
        }
        // Hosts stay inside their subnet box.
        for h in l.nodes.iter().filter(|n| n.kind == NodeKind::Host) {
            let s = l
                .node(NodeKind::Subnet, h.parent.as_deref().unwrap())
                .unwrap();
            assert!(
                h.x + h.w <= s.x + s.w && h.y + h.h <= s.y + s.h,
                "{h:?} {s:?}"
            );
        }
    }
}
