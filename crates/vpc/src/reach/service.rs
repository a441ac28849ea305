//! Managed services without a known address (an RDS database, an ElastiCache cluster, an EKS
//! API known by its endpoint name) and groups of machines whose addresses the state does not
//! hold (auto scaling groups, node groups, Beanstalk environments): checked as anywhere in
//! their subnets.

use ipnet::IpNet;

use super::{worst, Addr, Analyzer, Code, Finding, Status, Target};

impl Analyzer<'_> {
    /// The candidate placements of a managed service without a private address — one per
    /// subnet with a known range — after pushing the `address-by-subnet` finding; `None` when
    /// it is not such a service (no endpoint, no subnet with a known range).
    pub(super) fn by_subnet(
        &self,
        target: &Target,
        out: &mut Vec<Finding>,
    ) -> Option<Vec<(Target, Addr)>> {
        let what = match target.service.as_ref() {
            Some(svc) => format!("its endpoint {}", svc.endpoint.as_deref()?),
            // A group of machines: the state names its subnets, not its addresses.
            None if !target.private_ips.is_empty() || !target.is_group() => return None,
            None => "each of its machines".to_owned(),
        };
        let mut ids: Vec<&String> = target.subnet.iter().collect();
        for s in &target.subnets {
            if !ids.contains(&s) {
                ids.push(s);
            }
        }
        let mut known = Vec::new();
        let mut unknown = Vec::new();
        for id in ids {
            match self.topo.subnet(id).and_then(|s| s.cidr.map(|c| (s, c))) {
                Some(k) => known.push(k),
                None => unknown.push(id.as_str()),
            }
        }
        if known.is_empty() {
            return None;
        }
        let listed: Vec<String> = known
            .iter()
            .map(|(s, c)| format!("{} ({c})", s.name))
            .collect();
        let (status, missing) = if unknown.is_empty() {
            (Status::Reachable, String::new())
        } else {
            (
                Status::Unknown,
                format!(
                    ", but {} is not in the topology with a range, so it may answer elsewhere",
                    unknown.join(", ")
                ),
            )
        };
        let plural = if known.len() > 1 { "s" } else { "" };
        out.push(Finding {
            code: Code::AddressBySubnet,
            status,
            detail: format!(
                "{} has no private address in the topology, so {what} is checked as anywhere \
                 in its subnet{plural} {}{missing}",
                target.name,
                listed.join(", ")
            ),
        });
        Some(
            known
                .into_iter()
                .map(|(s, c): (_, IpNet)| {
                    let mut t = target.clone();
                    t.subnet = Some(s.id.clone());
                    if t.vpc.is_none() {
                        t.vpc = s.vpc.clone();
                    }
                    (t, Addr::Range(c))
                })
                .collect(),
        )
    }

    /// How to call a target's subnet in a sentence.
    pub(super) fn subnet_label(&self, t: &Target) -> String {
        let id = t.subnet.as_deref().unwrap_or("?");
        self.topo
            .subnet(id)
            .map(|s| s.name.clone())
            .unwrap_or_else(|| id.to_string())
    }
}

/// Combines the findings of one walk per candidate subnet: the same findings once; when every
/// subnet passes, each distinct finding; when every one blocks, the first subnet's; else (they
/// differ) the first failing subnet's, its failures turned unknown and saying which subnet.
pub(super) fn combine(name: &str, lists: Vec<(String, Vec<Finding>)>) -> Vec<Finding> {
    if lists.is_empty() {
        return Vec::new();
    }
    if lists.windows(2).all(|w| w[0].1 == w[1].1) {
        return lists.into_iter().next().map(|l| l.1).unwrap_or_default();
    }
    let statuses: Vec<Status> = lists.iter().map(|(_, l)| worst(l)).collect();
    if statuses.iter().all(|s| *s == Status::Reachable) {
        let mut out: Vec<Finding> = Vec::new();
        for f in lists.into_iter().flat_map(|l| l.1) {
            if !out.contains(&f) {
                out.push(f);
            }
        }
        return out;
    }
    if statuses.iter().all(|s| *s == statuses[0]) {
        return lists.into_iter().next().map(|l| l.1).unwrap_or_default();
    }
    let pick = statuses
        .iter()
        .position(|s| *s == Status::Blocked)
        .or_else(|| statuses.iter().position(|s| *s == Status::Unknown))
        .unwrap_or(0);
    let passing: Vec<&str> = lists
        .iter()
        .zip(&statuses)
        .filter(|(_, s)| **s == Status::Reachable)
        .map(|((l, _), _)| l.as_str())
        .collect();
    let tail = if passing.is_empty() {
        format!("and the topology does not say which subnet {name} answers in")
    } else {
        format!(
            "while in {} it passes, and the topology does not say which subnet {name} answers in",
            passing.join(", ")
        )
    };
    let (label, list) = &lists[pick];
    list.iter()
        .map(|f| {
            if f.status == Status::Reachable {
                return f.clone();
            }
            Finding {
                code: f.code,
                status: Status::Unknown,
                detail: format!("in subnet {label}, {}, {tail}", f.detail),
            }
        })
        .collect()
}
