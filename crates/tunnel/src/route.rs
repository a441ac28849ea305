//! Cryptokey routing table: longest-prefix match over all peers' AllowedIPs, IPv4 and IPv6.
//!
//! One hash map per prefix length present, searched from the longest length down: a lookup
//! costs one hash probe per *distinct* prefix length in the table (typically 2–5), whatever the
//! number of peers or networks. No allocation on lookup.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;

use ipnet::IpNet;

/// Multiplicative hash for the integer keys of the table. The keys come from the configuration,
/// never from the network (lookups only probe), so a keyed hash buys no DoS resistance here, and
/// this one is several times cheaper than SipHash.
#[derive(Default)]
struct IntHasher(u64);

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        // Fold the well-mixed high half into the low bits the table indexes with (a product's
        // low bits depend only on the key's low bits, which are zero for masked prefixes).
        self.0 ^ (self.0 >> 29)
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.write_u64(u64::from(*b));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn write_u128(&mut self, n: u128) {
        self.write_u64(n as u64);
        self.write_u64((n >> 64) as u64);
    }
}

type IntMap<K> = HashMap<K, usize, BuildHasherDefault<IntHasher>>;

/// Maps networks to a peer slot (an index chosen by the owner); longest prefix wins.
#[derive(Debug, Clone, Default)]
pub struct RoutingTable {
    v4: Family<u32>,
    v6: Family<u128>,
}

#[derive(Debug, Clone)]
struct Family<K> {
    /// (prefix length, network bits masked -> slot), sorted by prefix length, longest first.
    levels: Vec<(u8, IntMap<K>)>,
}

impl<K> Default for Family<K> {
    fn default() -> Self {
        Family { levels: Vec::new() }
    }
}

impl<K: std::hash::Hash + Eq + Copy> Family<K> {
    fn insert(&mut self, len: u8, key: K, slot: usize) -> Option<usize> {
        let pos = match self.levels.binary_search_by(|(l, _)| len.cmp(l)) {
            Ok(pos) => pos,
            Err(pos) => {
                self.levels.insert(pos, (len, IntMap::default()));
                pos
            }
        };
        self.levels[pos].1.insert(key, slot)
    }

    fn get(&self, len: u8, key: K) -> Option<usize> {
        let pos = self.levels.binary_search_by(|(l, _)| len.cmp(l)).ok()?;
        self.levels[pos].1.get(&key).copied()
    }
}

fn mask4(addr: u32, len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        addr & (u32::MAX << (32 - u32::from(len)))
    }
}

fn mask6(addr: u128, len: u8) -> u128 {
    if len == 0 {
        0
    } else {
        addr & (u128::MAX << (128 - u32::from(len)))
    }
}

impl RoutingTable {
    /// An empty table.
    pub fn new() -> RoutingTable {
        RoutingTable::default()
    }

    /// Routes `net` (host bits ignored) to `slot`; returns the slot it was routed to before, if
    /// the exact same network was already present (it is then replaced).
    pub fn insert(&mut self, net: IpNet, slot: usize) -> Option<usize> {
        match net {
            IpNet::V4(n) => {
                let len = n.prefix_len();
                self.v4.insert(len, mask4(u32::from(n.addr()), len), slot)
            }
            IpNet::V6(n) => {
                let len = n.prefix_len();
                self.v6.insert(len, mask6(u128::from(n.addr()), len), slot)
            }
        }
    }

    /// The slot whose network is the exact `net` (host bits ignored), if any.
    pub fn get_exact(&self, net: IpNet) -> Option<usize> {
        match net {
            IpNet::V4(n) => {
                let len = n.prefix_len();
                self.v4.get(len, mask4(u32::from(n.addr()), len))
            }
            IpNet::V6(n) => {
                let len = n.prefix_len();
                self.v6.get(len, mask6(u128::from(n.addr()), len))
            }
        }
    }

    /// Longest-prefix match: the slot of the most specific network holding `addr`.
    pub fn lookup(&self, addr: IpAddr) -> Option<usize> {
        match addr {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                self.v4
                    .levels
                    .iter()
                    .find_map(|(len, map)| map.get(&mask4(a, *len)).copied())
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                self.v6
                    .levels
                    .iter()
                    .find_map(|(len, map)| map.get(&mask6(a, *len)).copied())
            }
        }
    }

    /// Number of networks in the table.
    pub fn len(&self) -> usize {
        let n4: usize = self.v4.levels.iter().map(|(_, m)| m.len()).sum();
        let n6: usize = self.v6.levels.iter().map(|(_, m)| m.len()).sum();
        n4 + n6
    }

    /// Whether the table has no network.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> IpNet {
        s.parse().expect("test net")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test addr")
    }

    #[test]
    fn longest_prefix_wins_v4_and_v6() {
        let mut t = RoutingTable::new();
        assert_eq!(t.insert(net("0.0.0.0/0"), 0), None);
        assert_eq!(t.insert(net("10.0.0.0/8"), 1), None);
        assert_eq!(t.insert(net("10.1.0.0/16"), 2), None);
        assert_eq!(t.insert(net("10.1.2.3/32"), 3), None);
        assert_eq!(t.insert(net("::/0"), 4), None);
        assert_eq!(t.insert(net("fd00::/8"), 5), None);
        assert_eq!(t.insert(net("fd00:1::/32"), 6), None);
        assert_eq!(t.lookup(ip("192.168.1.1")), Some(0));
        assert_eq!(t.lookup(ip("10.9.9.9")), Some(1));
        assert_eq!(t.lookup(ip("10.1.9.9")), Some(2));
        assert_eq!(t.lookup(ip("10.1.2.3")), Some(3));
        assert_eq!(t.lookup(ip("10.1.2.4")), Some(2));
        assert_eq!(t.lookup(ip("2001:db8::1")), Some(4));
        assert_eq!(t.lookup(ip("fd12::1")), Some(5));
        assert_eq!(t.lookup(ip("fd00:1:2::3")), Some(6));
        assert_eq!(t.len(), 7);
    }

    #[test]
    fn host_bits_are_ignored_and_misses_return_none() {
        let mut t = RoutingTable::new();
        t.insert(net("10.1.2.3/24"), 7);
        assert_eq!(t.lookup(ip("10.1.2.200")), Some(7));
        assert_eq!(t.lookup(ip("10.1.3.1")), None);
        assert_eq!(t.lookup(ip("::1")), None);
        assert_eq!(t.get_exact(net("10.1.2.0/24")), Some(7));
        assert_eq!(t.insert(net("10.1.2.0/24"), 8), Some(7));
        assert_eq!(t.lookup(ip("10.1.2.1")), Some(8));
    }

    #[test]
    fn matches_a_linear_scan_on_many_networks() {
        // 40 peers with assorted prefixes; compare with the obvious O(n) answer.
        let mut t = RoutingTable::new();
        let mut nets = Vec::new();
        for i in 0..40u32 {
            let len = [8u8, 16, 24, 28, 32][i as usize % 5];
            let a = std::net::Ipv4Addr::from(0x0a00_0000 | (i * 0x0001_0307));
            let n = IpNet::V4(ipnet::Ipv4Net::new(a, len).expect("len").trunc());
            if t.get_exact(n).is_none() {
                t.insert(n, i as usize);
                nets.push((n, i as usize));
            }
        }
        let mut x: u32 = 0x1234_5678;
        for _ in 0..5000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let a = IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 | (x & 0x00ff_ffff)));
            let expect = nets
                .iter()
                .filter(|(n, _)| n.contains(&a))
                .max_by_key(|(n, _)| n.prefix_len())
                .map(|(_, s)| *s);
            assert_eq!(t.lookup(a), expect, "{a}");
        }
    }
}
