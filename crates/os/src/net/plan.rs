//! Which routes and rules a configuration needs: pure, no I/O, the way wg-quick(8) decides.

use super::{DEFAULT_FWMARK_TABLE, FALLBACK_MTU, MAIN_TABLE, WIREGUARD_OVERHEAD};
use crate::firewall::FirewallSpec;
use crate::HostConfig;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;

/// `Table`: where the AllowedIPs routes go.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Table {
    /// `auto` (the default): the main table; a default route (`/0`) goes into its own table
    /// selected by fwmark policy rules, as wg-quick does.
    #[default]
    Auto,
    /// `off`: no routes, no rules.
    Off,
    /// A numeric table id: every route goes there, no rules are added.
    Id(u32),
}

impl Table {
    /// A `Table = NAME` from a profile: `main`, `local`, `default`, or a name from iproute2's
    /// `rt_tables` files (`/etc/iproute2/rt_tables`, `/etc/iproute2/rt_tables.d/*.conf`,
    /// `/usr/share/iproute2/rt_tables`); `None` when unknown.
    pub fn named(name: &str) -> Option<Table> {
        let mut files = vec![
            std::path::PathBuf::from("/etc/iproute2/rt_tables"),
            std::path::PathBuf::from("/usr/share/iproute2/rt_tables"),
        ];
        if let Ok(dir) = std::fs::read_dir("/etc/iproute2/rt_tables.d") {
            let mut extra: Vec<_> = dir
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "conf"))
                .collect();
            extra.sort();
            files.extend(extra);
        }
        let texts: Vec<String> = files
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect();
        table_id_by_name(name, texts.iter().map(String::as_str)).map(Table::Id)
    }
}

/// Looks `name` up among the built-in table names and `rt_tables` texts (`ID NAME` lines, `#`
/// comments). A number is accepted as is.
pub fn table_id_by_name<'a>(
    name: &str,
    rt_tables: impl IntoIterator<Item = &'a str>,
) -> Option<u32> {
    if let Ok(n) = name.parse::<u32>() {
        return Some(n);
    }
    match name {
        "main" => return Some(MAIN_TABLE),
        "local" => return Some(255),
        "default" => return Some(253),
        _ => {}
    }
    rt_tables.into_iter().find_map(|text| {
        text.lines().find_map(|line| {
            let line = line.split('#').next().unwrap_or_default();
            let mut words = line.split_whitespace();
            let id = words.next()?;
            (words.next()? == name).then_some(())?;
            match id.strip_prefix("0x") {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => id.parse().ok(),
            }
        })
    })
}

/// An address family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Family {
    /// The family of a prefix.
    pub fn of(net: &IpNet) -> Family {
        match net {
            IpNet::V4(_) => Family::V4,
            IpNet::V6(_) => Family::V6,
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::V4 => "-4",
            Family::V6 => "-6",
        })
    }
}

/// A route through the tunnel interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RouteSpec {
    /// Destination prefix (host bits cleared).
    pub destination: IpNet,
    /// Routing table id ([`super::MAIN_TABLE`] is `main`).
    pub table: u32,
}

/// What a policy rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RuleKind {
    /// `not fwmark MARK table TABLE`: everything but the tunnel's own UDP goes to `table`.
    NotFwmark {
        /// The mark on the driver's UDP socket.
        fwmark: u32,
        /// The table holding the default route through the tunnel.
        table: u32,
    },
    /// `table main suppress_prefixlength 0`: use the main table except its default route.
    SuppressMainDefault,
}

/// A policy routing rule for one family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RuleSpec {
    /// IPv4 or IPv6 rule set.
    pub family: Family,
    /// The rule.
    pub kind: RuleKind,
}

impl fmt::Display for RuleSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            RuleKind::NotFwmark { fwmark, table } => {
                write!(f, "{} not fwmark {fwmark} table {table}", self.family)
            }
            RuleKind::SuppressMainDefault => {
                write!(f, "{} table main suppress_prefixlength 0", self.family)
            }
        }
    }
}

/// What the host needs for one [`HostConfig`], computed without touching the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// Interface addresses, deduplicated, in the given order.
    pub addresses: Vec<IpNet>,
    /// The MTU asked for; `None` means [`auto_mtu`] at apply time.
    pub mtu: Option<u32>,
    /// Routes through the interface, most specific first (wg-quick's order).
    pub routes: Vec<RouteSpec>,
    /// Policy rules, in the order they are added.
    pub rules: Vec<RuleSpec>,
    /// The mark the driver's UDP socket must carry (`SO_MARK`), if any.
    pub fwmark: Option<u32>,
    /// Whether `net.ipv4.conf.all.src_valid_mark` must be 1 (a v4 default route via fwmark).
    pub src_valid_mark: bool,
    /// Endpoints that fall inside a route added to the main table: they get a host route via
    /// their current path so the tunnel's own packets never enter the tunnel.
    pub endpoint_bypass: Vec<IpAddr>,
    /// Packet filter tables, one per family with a default route via fwmark.
    pub firewall: Vec<FirewallSpec>,
}

impl Plan {
    /// Computes the plan. `table_in_use(id)` tells whether a routing table already holds routes;
    /// it is asked only when a default route needs a table and the config names no fwmark
    /// (wg-quick then takes 51820, or the next free one).
    pub fn compute(config: &HostConfig, table_in_use: impl Fn(u32) -> bool) -> Plan {
        let mut addresses: Vec<IpNet> = Vec::new();
        for a in &config.addresses {
            if !addresses.contains(a) {
                addresses.push(*a);
            }
        }

        let mut prefixes: Vec<IpNet> = config.allowed_ips.iter().map(IpNet::trunc).collect();
        prefixes.sort_by_key(|n| std::cmp::Reverse(n.prefix_len()));
        let mut unique: Vec<IpNet> = Vec::new();
        for n in prefixes {
            if !unique.contains(&n) {
                unique.push(n);
            }
        }

        let mut plan = Plan {
            addresses,
            mtu: config.mtu,
            routes: Vec::new(),
            rules: Vec::new(),
            fwmark: config.fwmark,
            src_valid_mark: false,
            endpoint_bypass: Vec::new(),
            firewall: Vec::new(),
        };

        match config.table {
            Table::Off => {}
            Table::Id(table) => {
                plan.routes = unique
                    .iter()
                    .map(|&destination| RouteSpec { destination, table })
                    .collect();
            }
            Table::Auto => {
                let needs_default = unique.iter().any(|n| n.prefix_len() == 0);
                let fwtable = if needs_default {
                    let t = config.fwmark.unwrap_or_else(|| {
                        let mut t = DEFAULT_FWMARK_TABLE;
                        while table_in_use(t) && t < u32::MAX {
                            t += 1;
                        }
                        t
                    });
                    plan.fwmark = Some(t);
                    t
                } else {
                    MAIN_TABLE
                };
                for &destination in &unique {
                    if destination.prefix_len() == 0 {
                        let family = Family::of(&destination);
                        plan.routes.push(RouteSpec {
                            destination,
                            table: fwtable,
                        });
                        plan.rules.push(RuleSpec {
                            family,
                            kind: RuleKind::NotFwmark {
                                fwmark: fwtable,
                                table: fwtable,
                            },
                        });
                        plan.rules.push(RuleSpec {
                            family,
                            kind: RuleKind::SuppressMainDefault,
                        });
                        if family == Family::V4 {
                            plan.src_valid_mark = true;
                        }
                        plan.firewall.push(FirewallSpec {
                            family,
                            fwmark: fwtable,
                            addresses: plan
                                .addresses
                                .iter()
                                .filter(|a| Family::of(a) == family)
                                .map(IpNet::addr)
                                .collect(),
                        });
                    } else {
                        plan.routes.push(RouteSpec {
                            destination,
                            table: MAIN_TABLE,
                        });
                    }
                }
                for ep in &config.endpoints {
                    let covered = plan.routes.iter().any(|r| {
                        r.table == MAIN_TABLE
                            && r.destination.prefix_len() > 0
                            && r.destination.contains(ep)
                    });
                    if covered && !plan.endpoint_bypass.contains(ep) {
                        plan.endpoint_bypass.push(*ep);
                    }
                }
            }
        }
        plan
    }
}

/// The MTU wg-quick picks when none is configured: the largest MTU of the paths towards the
/// endpoints (or, when there are none, of the default route) minus 80; 1420 when none is known.
pub fn auto_mtu(path_mtus: impl IntoIterator<Item = u32>) -> u32 {
    match path_mtus.into_iter().max() {
        Some(m) if m > WIREGUARD_OVERHEAD => m - WIREGUARD_OVERHEAD,
        _ => FALLBACK_MTU,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::DnsConfig;

    fn net(s: &str) -> IpNet {
        s.parse().expect("test prefix")
    }

    fn config(allowed: &[&str], table: Table) -> HostConfig {
        HostConfig {
            interface: "gh0".into(),
            addresses: vec![net("10.100.0.1/24"), net("fd00:100::1/64")],
            mtu: None,
            allowed_ips: allowed.iter().map(|s| net(s)).collect(),
            table,
            fwmark: None,
            endpoints: vec!["192.0.2.1".parse().expect("ip")],
            dns: DnsConfig::default(),
        }
    }

    fn never(_: u32) -> bool {
        false
    }

    #[test]
    fn split_tunnel_goes_to_main_without_rules() {
        let p = Plan::compute(&config(&["10.0.0.0/8", "fd00::/8"], Table::Auto), never);
        assert_eq!(
            p.routes,
            vec![
                RouteSpec {
                    destination: net("10.0.0.0/8"),
                    table: MAIN_TABLE
                },
                RouteSpec {
                    destination: net("fd00::/8"),
                    table: MAIN_TABLE
                },
            ]
        );
        assert!(p.rules.is_empty());
        assert_eq!(p.fwmark, None);
        assert!(!p.src_valid_mark);
        assert!(p.endpoint_bypass.is_empty());
    }

    #[test]
    fn v4_default_route_uses_fwmark_table_and_rules() {
        let p = Plan::compute(&config(&["0.0.0.0/0"], Table::Auto), never);
        assert_eq!(
            p.routes,
            vec![RouteSpec {
                destination: net("0.0.0.0/0"),
                table: 51820
            }]
        );
        assert_eq!(
            p.rules,
            vec![
                RuleSpec {
                    family: Family::V4,
                    kind: RuleKind::NotFwmark {
                        fwmark: 51820,
                        table: 51820
                    }
                },
                RuleSpec {
                    family: Family::V4,
                    kind: RuleKind::SuppressMainDefault
                },
            ]
        );
        assert_eq!(p.fwmark, Some(51820));
        assert!(p.src_valid_mark);
        assert_eq!(
            p.firewall,
            vec![FirewallSpec {
                family: Family::V4,
                fwmark: 51820,
                addresses: vec!["10.100.0.1".parse::<IpAddr>().expect("ip")],
            }]
        );
    }

    #[test]
    fn v6_default_route_gets_v6_rules_only_and_no_sysctl() {
        let p = Plan::compute(&config(&["::/0", "10.1.0.0/16"], Table::Auto), never);
        assert_eq!(
            p.routes,
            vec![
                RouteSpec {
                    destination: net("10.1.0.0/16"),
                    table: MAIN_TABLE
                },
                RouteSpec {
                    destination: net("::/0"),
                    table: 51820
                },
            ]
        );
        assert!(p.rules.iter().all(|r| r.family == Family::V6));
        assert_eq!(p.rules.len(), 2);
        assert!(!p.src_valid_mark);
    }

    #[test]
    fn full_tunnel_both_families_share_one_table_and_mark() {
        let p = Plan::compute(&config(&["0.0.0.0/0", "::/0"], Table::Auto), never);
        assert_eq!(p.rules.len(), 4);
        assert_eq!(p.firewall.len(), 2);
        assert_eq!(p.firewall[1].family, Family::V6);
        assert_eq!(
            p.firewall[1].addresses,
            vec!["fd00:100::1".parse::<IpAddr>().expect("ip")]
        );
        assert!(p.routes.iter().all(|r| r.table == 51820));
        assert_eq!(p.fwmark, Some(51820));
    }

    #[test]
    fn configured_fwmark_is_the_table() {
        let mut c = config(&["0.0.0.0/0"], Table::Auto);
        c.fwmark = Some(4242);
        let p = Plan::compute(&c, |_| true);
        assert_eq!(p.routes[0].table, 4242);
        assert_eq!(p.fwmark, Some(4242));
    }

    #[test]
    fn busy_table_moves_to_the_next_free_one() {
        let p = Plan::compute(&config(&["0.0.0.0/0"], Table::Auto), |t| {
            t == 51820 || t == 51821
        });
        assert_eq!(p.fwmark, Some(51822));
        assert_eq!(p.routes[0].table, 51822);
    }

    #[test]
    fn table_off_means_no_routes_no_rules() {
        let p = Plan::compute(&config(&["0.0.0.0/0", "10.0.0.0/8"], Table::Off), never);
        assert!(p.routes.is_empty());
        assert!(p.rules.is_empty());
        assert!(p.firewall.is_empty());
        assert!(!p.src_valid_mark);
        assert_eq!(p.fwmark, None);
        assert_eq!(p.addresses.len(), 2, "addresses are still set");
    }

    #[test]
    fn numeric_table_takes_every_route_even_default_without_rules() {
        let p = Plan::compute(
            &config(&["0.0.0.0/0", "10.0.0.0/8"], Table::Id(1234)),
            never,
        );
        assert_eq!(p.routes.len(), 2);
        assert!(p.routes.iter().all(|r| r.table == 1234));
        assert!(p.rules.is_empty());
        assert_eq!(p.fwmark, None);
    }

    #[test]
    fn host_bits_are_cleared_duplicates_dropped_most_specific_first() {
        let p = Plan::compute(
            &config(&["10.1.2.3/8", "10.0.0.0/8", "10.1.2.3/32"], Table::Auto),
            never,
        );
        assert_eq!(
            p.routes.iter().map(|r| r.destination).collect::<Vec<_>>(),
            vec![net("10.1.2.3/32"), net("10.0.0.0/8")]
        );
    }

    #[test]
    fn endpoint_inside_a_main_route_gets_a_bypass() {
        let mut c = config(&["192.0.2.0/24", "0.0.0.0/0"], Table::Auto);
        c.endpoints = vec![
            "192.0.2.1".parse().expect("ip"),
            "198.51.100.7".parse().expect("ip"),
        ];
        let p = Plan::compute(&c, never);
        assert_eq!(
            p.endpoint_bypass,
            vec!["192.0.2.1".parse::<IpAddr>().expect("ip")]
        );
    }

    #[test]
    fn table_names_resolve_like_iproute2() {
        let rt = "# reserved values\n255\tlocal\n254\tmain\n# vpn\n100 vpn # ours\n0x20 hex\n";
        assert_eq!(table_id_by_name("vpn", [rt]), Some(100));
        assert_eq!(table_id_by_name("hex", [rt]), Some(32));
        assert_eq!(table_id_by_name("main", []), Some(MAIN_TABLE));
        assert_eq!(table_id_by_name("1234", []), Some(1234));
        assert_eq!(table_id_by_name("ours", [rt]), None);
        assert_eq!(table_id_by_name("nope", [rt]), None);
        assert_eq!(Table::named("main"), Some(Table::Id(MAIN_TABLE)));
    }

    #[test]
    fn auto_mtu_follows_wg_quick() {
        assert_eq!(auto_mtu([1500, 9000]), 8920);
        assert_eq!(auto_mtu([]), 1420);
        assert_eq!(auto_mtu([60]), 1420);
    }
}
