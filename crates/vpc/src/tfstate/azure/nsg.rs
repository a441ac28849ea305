//! Azure network security groups: `azurerm_network_security_group` (inline `security_rule`
//! blocks), standalone `azurerm_network_security_rule`, and their associations with subnets and
//! network interfaces.
//!
//! Each NSG becomes a [`FirewallKind::Nsg`] firewall holding its rules and Azure's six default
//! rules. A rule's `peers` are its source prefixes for an inbound rule and its destination
//! prefixes for an outbound one, `targets` the other side (empty for `*`); `*`/`Any` is
//! `0.0.0.0/0` and `::/0`, service tags (`VirtualNetwork`, `Internet`, `AzureLoadBalancer`,
//! `Storage.WestEurope`…) are [`Peer::ServiceTag`], application security groups
//! [`Peer::Group`]. A rule with several destination port ranges becomes one rule per range.
//! Source port ranges are not modelled (they are almost always `*`).

use serde::Deserialize;

use super::super::builder::Builder;
use super::super::values::{Blocks, L, N, S};
use super::super::Resource;
use super::{parent, with_registry, Assoc, ParentRef};
use crate::model::*;

/// The attributes of one NSG rule, inline or standalone.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct RuleAttrs {
    name: S,
    priority: N,
    direction: S,
    access: S,
    protocol: S,
    destination_port_range: S,
    destination_port_ranges: L,
    source_address_prefix: S,
    source_address_prefixes: L,
    destination_address_prefix: S,
    destination_address_prefixes: L,
    source_application_security_group_ids: L,
    destination_application_security_group_ids: L,
}

/// One side of a rule: any address, or these peers.
enum Side {
    Any,
    Peers(Vec<Peer>),
}

/// The legacy upper-case spellings of the default service tags.
fn service_tag(s: &str) -> String {
    match s {
        "VIRTUAL_NETWORK" => "VirtualNetwork".into(),
        "AZURE_LOADBALANCER" => "AzureLoadBalancer".into(),
        "INTERNET" => "Internet".into(),
        _ => s.to_string(),
    }
}

/// The prefixes `single` + `list` and the application security groups `asgs` as one side of a
/// rule (a warning naming `what` for each prefix that is neither an address nor a tag).
fn side(
    b: &mut Builder,
    single: Option<String>,
    list: Vec<String>,
    asgs: Vec<String>,
    what: &str,
) -> Side {
    let mut peers = Vec::new();
    for p in single.into_iter().chain(list) {
        let p = p.trim();
        if p == "*" || p.eq_ignore_ascii_case("any") {
            return Side::Any;
        }
        if let Ok(n) = p.parse::<ipnet::IpNet>() {
            peers.push(Peer::Cidr(n));
        } else if let Ok(a) = p.parse::<std::net::IpAddr>() {
            peers.push(Peer::Cidr(a.into()));
        } else if p.starts_with(|c: char| c.is_ascii_alphabetic())
            && p.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        {
            peers.push(Peer::ServiceTag(service_tag(p)));
        } else {
            b.warn(format!(
                "{what}: {p:?} is neither an address prefix nor a service tag"
            ));
        }
    }
    peers.extend(asgs.into_iter().map(Peer::Group));
    Side::Peers(peers)
}

/// Every address, v4 and v6.
fn anywhere() -> Vec<Peer> {
    ["0.0.0.0/0", "::/0"]
        .iter()
        .filter_map(|c| c.parse().ok())
        .map(Peer::Cidr)
        .collect()
}

/// The model rules of one NSG rule, one per destination port range; none (with a warning
/// naming `what`) when its direction, access or priority is unusable.
pub(super) fn rules_of(r: RuleAttrs, b: &mut Builder, what: &str) -> Vec<Rule> {
    let name = r.name.0.unwrap_or_default();
    let what = format!("{what} rule {name:?}");
    let lower = |s: &Option<String>| s.as_deref().map(str::to_ascii_lowercase);
    let direction = match lower(&r.direction.0).as_deref() {
        Some("inbound") => Direction::Ingress,
        Some("outbound") => Direction::Egress,
        _ => {
            let d = r.direction.0;
            b.warn(format!(
                "{what}: direction {d:?} is not Inbound or Outbound; skipped"
            ));
            return Vec::new();
        }
    };
    let action = match lower(&r.access.0).as_deref() {
        Some("allow") => Action::Allow,
        Some("deny") => Action::Deny,
        _ => {
            let a = r.access.0;
            b.warn(format!(
                "{what}: access {a:?} is not Allow or Deny; skipped"
            ));
            return Vec::new();
        }
    };
    let Some(priority) = r.priority.0.and_then(|p| u32::try_from(p).ok()) else {
        b.warn(format!("{what}: no usable priority; skipped"));
        return Vec::new();
    };
    if !(100..=4096).contains(&priority) {
        b.warn(format!(
            "{what}: priority {priority} is outside Azure's 100-4096"
        ));
    }
    let protocol = match r.protocol.0.as_deref().map(str::trim) {
        None | Some("*") => Protocol::All,
        Some(p) if p.eq_ignore_ascii_case("any") => Protocol::All,
        Some(p) => Protocol::parse(p),
    };
    let ports: Vec<Option<PortRange>> = if protocol.has_ports() || protocol == Protocol::All {
        let ranges: Vec<String> = r
            .destination_port_range
            .0
            .into_iter()
            .chain(r.destination_port_ranges.0)
            .collect();
        let mut out = Vec::new();
        for p in &ranges {
            let p = p.trim();
            if p == "*" {
                out = vec![None];
                break;
            }
            match PortRange::parse(p) {
                Ok(range) => out.push(range),
                Err(e) => b.warn(format!("{what}: {e}")),
            }
        }
        if ranges.is_empty() {
            out.push(None);
        } else if out.is_empty() {
            b.warn(format!("{what}: no usable destination port; skipped"));
        }
        out
    } else {
        vec![None]
    };
    let source = side(
        b,
        r.source_address_prefix.0,
        r.source_address_prefixes.0,
        r.source_application_security_group_ids.0,
        &what,
    );
    let dest = side(
        b,
        r.destination_address_prefix.0,
        r.destination_address_prefixes.0,
        r.destination_application_security_group_ids.0,
        &what,
    );
    let (peer_side, target_side) = match direction {
        Direction::Ingress => (source, dest),
        Direction::Egress => (dest, source),
    };
    let peers = match peer_side {
        Side::Any => anywhere(),
        Side::Peers(p) => p,
    };
    if peers.is_empty() {
        b.warn(format!("{what}: no usable address prefix; skipped"));
        return Vec::new();
    }
    let targets = match target_side {
        Side::Any => Vec::new(),
        Side::Peers(p) => p,
    };
    ports
        .into_iter()
        .map(|ports| Rule {
            direction,
            action,
            priority,
            protocol: protocol.clone(),
            ports,
            peers: peers.clone(),
            targets: targets.clone(),
            description: Some(name.clone()),
        })
        .collect()
}

/// Azure's six default rules, which every NSG has below its own.
pub(super) fn default_rules() -> Vec<Rule> {
    let vnet = || vec![Peer::ServiceTag("VirtualNetwork".into())];
    let rule = |direction, action, priority, peers, targets, name: &str| Rule {
        direction,
        action,
        priority,
        protocol: Protocol::All,
        ports: None,
        peers,
        targets,
        description: Some(name.to_string()),
    };
    use Action::{Allow, Deny};
    use Direction::{Egress, Ingress};
    vec![
        rule(Ingress, Allow, 65000, vnet(), vnet(), "AllowVnetInBound"),
        rule(
            Ingress,
            Allow,
            65001,
            vec![Peer::ServiceTag("AzureLoadBalancer".into())],
            Vec::new(),
            "AllowAzureLoadBalancerInBound",
        ),
        rule(
            Ingress,
            Deny,
            65500,
            anywhere(),
            Vec::new(),
            "DenyAllInBound",
        ),
        rule(Egress, Allow, 65000, vnet(), vnet(), "AllowVnetOutBound"),
        rule(
            Egress,
            Allow,
            65001,
            vec![Peer::ServiceTag("Internet".into())],
            Vec::new(),
            "AllowInternetOutBound",
        ),
        rule(
            Egress,
            Deny,
            65500,
            anywhere(),
            Vec::new(),
            "DenyAllOutBound",
        ),
    ]
}

/// `azurerm_network_security_group`, with its inline rules and the default ones. Its VNet and
/// subnets come from its associations.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AzNsg {
    id: S,
    name: S,
    security_rule: Blocks<RuleAttrs>,
}

impl Resource for AzNsg {
    fn add(self, b: &mut Builder, managed: bool) {
        let Some(id) = self.id.0 else {
            return b.missing_id("azurerm_network_security_group");
        };
        let mut rules = Vec::new();
        for r in self.security_rule.0 {
            rules.extend(rules_of(r, b, &id));
        }
        rules.extend(default_rules());
        let f = Firewall {
            name: self
                .name
                .0
                .unwrap_or_else(|| super::last_segment(&id).to_string()),
            id: id.clone(),
            kind: FirewallKind::Nsg,
            vpc: None,
            applies_to: AppliesTo::Subnets { ids: Vec::new() },
            rules,
        };
        b.add(f, managed);
        with_registry(b, |r| {
            r.nsgs.insert(id);
        });
    }
}

/// `azurerm_network_security_rule`: a rule of the NSG its id or `network_security_group_name` +
/// `resource_group_name` names.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AzNsgRule {
    id: S,
    network_security_group_name: S,
    resource_group_name: S,
    #[serde(flatten)]
    rule: RuleAttrs,
}

impl Resource for AzNsgRule {
    fn add(self, b: &mut Builder, _: bool) {
        let nsg = ParentRef {
            id: self
                .id
                .0
                .as_deref()
                .and_then(|i| parent(i, "securityRules")),
            name: self.network_security_group_name.0,
            rg: self.resource_group_name.0,
        };
        if nsg.id.is_none() && nsg.name.is_none() {
            return b.warn(
                "an azurerm_network_security_rule without a security group was skipped".into(),
            );
        }
        let what = format!("azurerm_network_security_rule of {}", nsg.describe());
        let rules = rules_of(self.rule, b, &what);
        with_registry(b, |r| {
            r.nsg_rules.extend(
                rules
                    .into_iter()
                    .map(|rule| (nsg.clone(), rule, what.clone())),
            );
        });
    }
}

/// `azurerm_subnet_network_security_group_association`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AzSubnetNsgAssoc {
    subnet_id: S,
    network_security_group_id: S,
}

impl Resource for AzSubnetNsgAssoc {
    fn add(self, b: &mut Builder, _: bool) {
        const WHAT: &str = "azurerm_subnet_network_security_group_association";
        let (Some(from), Some(to)) = (self.subnet_id.0, self.network_security_group_id.0) else {
            return b.warn(format!(
                "an {WHAT} without a subnet or security group was skipped"
            ));
        };
        with_registry(b, |r| {
            r.subnet_nsgs.push(Assoc {
                from,
                to,
                what: WHAT,
            })
        });
    }
}

/// `azurerm_network_interface_security_group_association`: the interface's VM lists the NSG in
/// its `security_groups`.
#[derive(Deserialize, Default)]
#[serde(default)]
pub(super) struct AzNicNsgAssoc {
    network_interface_id: S,
    network_security_group_id: S,
}

impl Resource for AzNicNsgAssoc {
    fn add(self, b: &mut Builder, _: bool) {
        const WHAT: &str = "azurerm_network_interface_security_group_association";
        let (Some(from), Some(to)) = (
            self.network_interface_id.0,
            self.network_security_group_id.0,
        ) else {
            return b.warn(format!(
                "an {WHAT} without a network interface or security group was skipped"
            ));
        };
        with_registry(b, |r| {
            r.nic_nsgs.push(Assoc {
                from,
                to,
                what: WHAT,
            })
        });
    }
}
