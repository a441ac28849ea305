//! Root tests: apply and revert inside a network namespace created by the test.
//!
//! Each `*_in_netns` test (the outer run) creates a namespace with a TUN device `gh0` and a veth
//! `uplink` carrying the default routes, writes `/etc/netns/NS/resolv.conf`
//! (which `ip netns exec` bind-mounts over `/etc/resolv.conf`, so DNS changes stay inside), then
//! re-executes this test binary inside the namespace to run the matching `*_inner` test. The
//! host's routes, rules and resolv.conf are never touched.
//!
//! Without root they are skipped with a notice, unless `GATEHOUSE_E2E_REQUIRE=1`, which makes
//! them fail. Run: `cargo test -p gatehouse-os --test netns` (as root).

use gatehouse_os::{
    apply, snapshot, Applied, ApplyOptions, DnsConfig, DnsMethod, HostConfig, RouteEntry, Snapshot,
    Table,
};
use ipnet::IpNet;
use std::net::IpAddr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Set (to the namespace name) in the environment of the inner run.
const INNER_ENV: &str = "GATEHOUSE_OS_NETNS_INNER";
/// Set to the outer run's network namespace inode, which the inner run must not be in.
const OUTER_NETNS_ENV: &str = "GATEHOUSE_OS_NETNS_OUTER";
const INNER_DONE: &str = "GATEHOUSE-OS-INNER-DONE";
const ORIGINAL_RESOLV: &str = "# test namespace resolver\nnameserver 192.0.2.53\n";

// ---------- outer side: namespace set-up, re-exec, clean-up ----------

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// True when the test may run; prints a notice (or fails when required) otherwise.
fn root_or_skip(test: &str) -> bool {
    if is_root() {
        return true;
    }
    assert!(
        std::env::var("GATEHOUSE_E2E_REQUIRE").as_deref() != Ok("1"),
        "{test} needs root (GATEHOUSE_E2E_REQUIRE=1 is set)"
    );
    eprintln!("SKIPPED {test}: needs root to create a network namespace");
    false
}

fn sh(args: &[&str]) -> String {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace with its `/etc/netns/NAME` directory; both removed on drop, also when the
/// test fails.
struct Netns {
    name: String,
}

impl Netns {
    fn new(tag: &str) -> Netns {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "gh-os-{}-{}-{}",
            tag,
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let dir = format!("/etc/netns/{name}");
        std::fs::create_dir_all(&dir).expect("create /etc/netns/NS");
        std::fs::write(format!("{dir}/resolv.conf"), ORIGINAL_RESOLV).expect("write resolv.conf");
        sh(&["ip", "netns", "add", &name]);
        let ns = Netns { name };
        let n = ns.name.as_str();
        sh(&["ip", "-n", n, "link", "set", "lo", "up"]);
        // No duplicate address detection: v6 addresses are usable at once.
        for key in ["all", "default"] {
            let k = format!("net.ipv6.conf.{key}.accept_dad=0");
            sh(&["ip", "netns", "exec", n, "sysctl", "-qw", &k]);
        }
        // The way out: a veth pair (the peer stands for the LAN) with v4 and v6 default routes.
        sh(&[
            "ip", "-n", n, "link", "add", "name", "uplink", "type", "veth", "peer", "name", "lan",
        ]);
        sh(&[
            "ip",
            "-n",
            n,
            "addr",
            "add",
            "198.51.100.2/24",
            "dev",
            "uplink",
        ]);
        sh(&[
            "ip",
            "-n",
            n,
            "addr",
            "add",
            "2001:db8:1::2/64",
            "dev",
            "uplink",
        ]);
        sh(&["ip", "-n", n, "link", "set", "lan", "up"]);
        sh(&["ip", "-n", n, "link", "set", "uplink", "up"]);
        sh(&[
            "ip",
            "-n",
            n,
            "route",
            "add",
            "default",
            "via",
            "198.51.100.1",
        ]);
        sh(&[
            "ip",
            "-n",
            n,
            "-6",
            "route",
            "add",
            "default",
            "via",
            "2001:db8:1::1",
        ]);
        // The tunnel: a TUN device, down and bare, as the driver hands it over.
        sh(&["ip", "-n", n, "tuntap", "add", "dev", "gh0", "mode", "tun"]);
        ns
    }

    /// Runs the `inner` test of this binary inside the namespace.
    fn run_inner(&self, inner: &str) {
        let exe = std::env::current_exe().expect("test executable");
        let outer = netns_inode("/proc/self/ns/net").expect("own network namespace");
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name])
            .arg(exe)
            .args(["--exact", inner, "--nocapture", "--include-ignored"])
            .env(INNER_ENV, &self.name)
            .env(OUTER_NETNS_ENV, outer.to_string())
            .output()
            .expect("run ip netns exec");
        let stdout = String::from_utf8_lossy(&out.stdout);
        print!("{stdout}");
        eprint!("{}", String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success(), "{inner} failed inside {}", self.name);
        assert!(
            stdout.contains(&format!("{INNER_DONE} {inner}")),
            "{inner} did not run to the end inside {}",
            self.name
        );
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["-n", &self.name, "link", "del", "gh0"])
            .status();
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
        let _ = std::fs::remove_dir_all(format!("/etc/netns/{}", self.name));
    }
}

fn outer(tag: &str, inner: &str) {
    if !root_or_skip(inner) {
        return;
    }
    let ns = Netns::new(tag);
    ns.run_inner(inner);
}

#[test]
fn split_tunnel_in_netns() {
    outer("split", "split_tunnel_inner");
}

#[test]
fn full_tunnel_in_netns() {
    outer("full", "full_tunnel_inner");
}

#[test]
fn table_off_and_numeric_in_netns() {
    outer("table", "table_off_and_numeric_inner");
}

#[test]
fn dns_resolv_conf_in_netns() {
    outer("dns", "dns_resolv_conf_inner");
}

#[test]
fn failed_apply_rolls_back_in_netns() {
    outer("fail", "failed_apply_rolls_back_inner");
}

#[test]
fn revert_after_link_vanished_in_netns() {
    outer("gone", "revert_after_link_vanished_inner");
}

// ---------- inner side: runs inside the namespace ----------

/// The inode of this process's network namespace.
fn netns_inode(path: &str) -> Option<u64> {
    std::fs::metadata(path)
        .ok()
        .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
}

/// True only in the re-executed run, inside the test's namespace (not the one the outer test
/// ran in); the inner tests refuse to touch anything otherwise (e.g. under
/// `cargo test -- --ignored`). Panics when started as an inner run but in the wrong namespace.
fn inside_test_netns() -> bool {
    let Ok(name) = std::env::var(INNER_ENV) else {
        eprintln!("not run: this test is started inside a namespace by its *_in_netns twin");
        return false;
    };
    let ours = netns_inode("/proc/self/ns/net");
    let named = netns_inode(&format!("/run/netns/{name}"));
    let outer = std::env::var(OUTER_NETNS_ENV)
        .ok()
        .and_then(|s| s.parse::<u64>().ok());
    assert!(
        ours.is_some() && ours == named && outer.is_some() && ours != outer,
        "inner run is not inside the test's network namespace {name}"
    );
    true
}

/// Printed by an inner test that ran to the end; the outer test looks for it.
fn inner_done(test: &str) {
    println!("{INNER_DONE} {test}");
}

fn net(s: &str) -> IpNet {
    s.parse().expect("test prefix")
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

fn base_config() -> HostConfig {
    HostConfig {
        interface: "gh0".into(),
        addresses: vec![net("10.100.0.1/24"), net("fd00:100::1/64")],
        mtu: Some(1400),
        allowed_ips: Vec::new(),
        table: Table::Auto,
        fwmark: None,
        endpoints: vec![ip("203.0.113.5")],
        dns: DnsConfig::default(),
    }
}

fn options(dir: &tempfile::TempDir) -> ApplyOptions {
    ApplyOptions {
        state_dir: Some(dir.path().to_path_buf()),
        dns_method: DnsMethod::ResolvConfFile,
    }
}

fn has_route(s: &Snapshot, table: u32, dest: &str, dev: &str) -> bool {
    let d = net(dest);
    s.routes.iter().any(|r: &RouteEntry| {
        r.table == table && r.destination == d && r.interface.as_deref() == Some(dev)
    })
}

fn new_routes<'a>(before: &Snapshot, after: &'a Snapshot) -> Vec<&'a RouteEntry> {
    after
        .routes
        .iter()
        .filter(|r| !before.routes.contains(r))
        .collect()
}

/// `ip -o route get DEST [mark M]`: the device the kernel picks.
fn route_get_dev(dest: &str, mark: Option<u32>) -> String {
    let mut args = vec![
        "ip".to_string(),
        "-o".into(),
        "route".into(),
        "get".into(),
        dest.into(),
    ];
    if let Some(m) = mark {
        args.extend(["mark".into(), m.to_string()]);
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = sh(&refs);
    let mut words = out.split_whitespace();
    while let Some(w) = words.next() {
        if w == "dev" {
            return words.next().unwrap_or_default().to_string();
        }
    }
    panic!("no dev in {out:?}")
}

fn link_mtu(dev: &str) -> u32 {
    std::fs::read_to_string(format!("/sys/class/net/{dev}/mtu"))
        .expect("read mtu")
        .trim()
        .parse()
        .expect("mtu number")
}

fn src_valid_mark() -> String {
    std::fs::read_to_string("/proc/sys/net/ipv4/conf/all/src_valid_mark")
        .expect("read sysctl")
        .trim()
        .to_string()
}

/// Reverts, checks the host is back to `before`, and that a second revert is a no-op.
async fn revert_and_compare(applied: &Applied, before: &Snapshot) {
    applied.revert().await.expect("revert");
    let after = snapshot().await.expect("snapshot after revert");
    let diff = before.diff(&after);
    assert!(
        diff.is_empty(),
        "state after revert differs:\n{}",
        diff.join("\n")
    );
    applied.revert().await.expect("second revert is a no-op");
    assert_eq!(snapshot().await.expect("snapshot"), *before);
}

#[tokio::test]
#[ignore = "runs inside a namespace, started by split_tunnel_in_netns"]
async fn split_tunnel_inner() {
    if !inside_test_netns() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = base_config();
    cfg.allowed_ips = vec![
        net("10.100.0.0/24"), // covered by the address's own prefix route: not added again
        net("10.200.0.0/16"),
        net("fd00:200::/48"),
    ];
    let before = snapshot().await.expect("snapshot before");
    let applied = apply(&cfg, &options(&dir)).await.expect("apply");
    let during = snapshot().await.expect("snapshot during");

    assert_eq!(applied.fwmark(), None);
    assert_eq!(applied.mtu, 1400);
    assert_eq!(link_mtu("gh0"), 1400);
    for a in &cfg.addresses {
        assert!(
            during
                .addresses
                .iter()
                .any(|e| e.interface == "gh0" && e.address == *a),
            "address {a} missing"
        );
    }
    assert!(has_route(&during, 254, "10.200.0.0/16", "gh0"));
    assert!(has_route(&during, 254, "fd00:200::/48", "gh0"));
    assert!(has_route(&during, 254, "10.100.0.0/24", "gh0"));
    assert_eq!(
        during.rules, before.rules,
        "no policy rules for a split tunnel"
    );
    assert_eq!(
        during.resolv_conf, before.resolv_conf,
        "DNS untouched without servers"
    );
    assert_eq!(route_get_dev("10.200.3.4", None), "gh0");
    assert_eq!(route_get_dev("fd00:200::9", None), "gh0");
    assert_eq!(route_get_dev("203.0.113.5", None), "uplink");
    assert_eq!(
        applied
            .actions
            .iter()
            .filter(|a| a.to_string().starts_with("delete route"))
            .count(),
        2,
        "only the two routes we added are ours: {:?}",
        applied.actions
    );

    revert_and_compare(&applied, &before).await;
    inner_done("split_tunnel_inner");
}

#[tokio::test]
#[ignore = "runs inside a namespace, started by full_tunnel_in_netns"]
async fn full_tunnel_inner() {
    if !inside_test_netns() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = base_config();
    cfg.mtu = None;
    // The endpoint 203.0.113.5 sits inside a routed AllowedIP: it needs the bypass host route.
    cfg.allowed_ips = vec![net("0.0.0.0/0"), net("::/0"), net("203.0.113.0/24")];
    cfg.endpoints = vec![ip("203.0.113.5"), ip("198.51.100.77")];
    let before = snapshot().await.expect("snapshot before");
    let sysctl_before = src_valid_mark();
    let applied = apply(&cfg, &options(&dir)).await.expect("apply");
    let during = snapshot().await.expect("snapshot during");

    let mark = applied.fwmark().expect("a default route needs a fwmark");
    assert_eq!(mark, 51820);
    // uplink is a veth with MTU 1500: 1500 - 80.
    assert_eq!(applied.mtu, 1420);
    assert_eq!(link_mtu("gh0"), 1420);
    assert!(has_route(&during, 51820, "0.0.0.0/0", "gh0"));
    assert!(has_route(&during, 51820, "::/0", "gh0"));
    assert!(has_route(&during, 254, "203.0.113.0/24", "gh0"));
    assert!(
        during.routes.iter().any(|r| r.table == 254
            && r.destination == net("203.0.113.5/32")
            && r.gateway == Some(ip("198.51.100.1"))
            && r.interface.as_deref() == Some("uplink")),
        "bypass host route for the endpoint: {:?}",
        new_routes(&before, &during)
    );
    for family in [gatehouse_os::Family::V4, gatehouse_os::Family::V6] {
        let new: Vec<_> = during
            .rules
            .iter()
            .filter(|r| r.family == family && !before.rules.contains(r))
            .collect();
        assert_eq!(new.len(), 2, "{family:?} rules: {new:?}");
        assert!(new
            .iter()
            .any(|r| r.invert && r.fwmark == Some(51820) && r.table == 51820));
        assert!(new
            .iter()
            .any(|r| !r.invert && r.suppress_prefixlen == Some(0) && r.table == 254));
    }
    assert_eq!(src_valid_mark(), "1");
    let tables = during.nft_tables.clone().unwrap_or_default();
    for t in ["table ip gatehouse-gh0", "table ip6 gatehouse-gh0"] {
        assert!(tables.iter().any(|x| x == t), "{t} missing from {tables:?}");
    }
    let v4 = sh(&["nft", "list", "table", "ip", "gatehouse-gh0"]);
    assert!(v4.contains("meta mark set ct mark"), "{v4}");
    assert!(
        v4.contains("iifname != \"gh0\" ip daddr 10.100.0.1"),
        "{v4}"
    );

    // Everything goes into the tunnel, but not the tunnel's own (marked) packets.
    assert_eq!(route_get_dev("192.0.2.99", None), "gh0");
    assert_eq!(route_get_dev("2001:db8:99::1", None), "gh0");
    assert_eq!(route_get_dev("198.51.100.77", Some(mark)), "uplink");
    assert_eq!(route_get_dev("192.0.2.99", Some(mark)), "uplink");
    assert_eq!(route_get_dev("2001:db8:99::1", Some(mark)), "uplink");
    assert_eq!(route_get_dev("203.0.113.5", Some(mark)), "uplink");
    assert_eq!(route_get_dev("203.0.113.6", None), "gh0");

    // Revert from the journal form, as after a crash.
    let json = serde_json::to_string(&applied).expect("serialize");
    let restored: Applied = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(restored, applied);
    revert_and_compare(&restored, &before).await;
    assert_eq!(src_valid_mark(), sysctl_before);
    inner_done("full_tunnel_inner");
}

#[tokio::test]
#[ignore = "runs inside a namespace, started by table_off_and_numeric_in_netns"]
async fn table_off_and_numeric_inner() {
    if !inside_test_netns() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let before = snapshot().await.expect("snapshot before");

    // Table = off: addresses and link only.
    let mut cfg = base_config();
    cfg.table = Table::Off;
    cfg.allowed_ips = vec![net("0.0.0.0/0"), net("10.200.0.0/16")];
    let applied = apply(&cfg, &options(&dir)).await.expect("apply off");
    let during = snapshot().await.expect("snapshot");
    assert_eq!(during.rules, before.rules);
    let added = new_routes(&before, &during);
    assert!(
        added.iter().all(|r| r.protocol == "Kernel"),
        "only the kernel's own routes for the addresses: {added:?}"
    );
    assert!(!has_route(&during, 254, "10.200.0.0/16", "gh0"));
    assert_eq!(applied.fwmark(), None);
    revert_and_compare(&applied, &before).await;

    // Table = 1234: every route there, default included, no rules.
    cfg.table = Table::Id(1234);
    let applied = apply(&cfg, &options(&dir)).await.expect("apply numeric");
    let during = snapshot().await.expect("snapshot");
    assert!(has_route(&during, 1234, "0.0.0.0/0", "gh0"));
    assert!(has_route(&during, 1234, "10.200.0.0/16", "gh0"));
    assert!(!has_route(&during, 254, "10.200.0.0/16", "gh0"));
    assert_eq!(during.rules, before.rules);
    assert_eq!(
        route_get_dev("10.200.0.1", None),
        "uplink",
        "table 1234 has no rule"
    );
    revert_and_compare(&applied, &before).await;
    inner_done("table_off_and_numeric_inner");
}

#[tokio::test]
#[ignore = "runs inside a namespace, started by dns_resolv_conf_in_netns"]
async fn dns_resolv_conf_inner() {
    if !inside_test_netns() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = base_config();
    cfg.allowed_ips = vec![net("10.200.0.0/16")];
    cfg.dns = DnsConfig {
        servers: vec![ip("10.100.0.53"), ip("fd00:100::53")],
        search: vec!["corp.example".into(), "lab.example".into()],
    };
    let before = snapshot().await.expect("snapshot before");
    assert_eq!(before.resolv_conf.as_deref(), Some(ORIGINAL_RESOLV));
    let applied = apply(&cfg, &options(&dir)).await.expect("apply");

    let now = std::fs::read_to_string("/etc/resolv.conf").expect("read resolv.conf");
    assert_eq!(
        now,
        "# Generated by gatehouse\nnameserver 10.100.0.53\nnameserver fd00:100::53\n\
         search corp.example lab.example\n"
    );
    let backup = dir.path().join("resolv.conf.gh0.backup");
    assert_eq!(
        std::fs::read_to_string(&backup).expect("backup kept in the state dir"),
        ORIGINAL_RESOLV
    );

    revert_and_compare(&applied, &before).await;
    assert!(!backup.exists(), "backup removed once restored");
    assert_eq!(
        std::fs::read_to_string("/etc/resolv.conf").expect("read"),
        ORIGINAL_RESOLV
    );

    // A file changed by someone else after apply is not clobbered: revert reports it.
    let applied = apply(&cfg, &options(&dir)).await.expect("apply again");
    std::fs::write("/etc/resolv.conf", "nameserver 192.0.2.1\n").expect("simulate DHCP");
    let err = applied
        .revert()
        .await
        .expect_err("changed file is reported");
    assert_eq!(err.failures.len(), 1, "{err}");
    assert!(err.to_string().contains("changed since"), "{err}");
    assert_eq!(
        std::fs::read_to_string("/etc/resolv.conf").expect("read"),
        "nameserver 192.0.2.1\n"
    );
    assert!(backup.exists(), "original kept for the user");
    inner_done("dns_resolv_conf_inner");
}

#[tokio::test]
#[ignore = "runs inside a namespace, started by failed_apply_rolls_back_in_netns"]
async fn failed_apply_rolls_back_inner() {
    if !inside_test_netns() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = base_config();
    // 198.51.100.0/24 is the uplink's own route in main: adding it for gh0 fails (as wg-quick's
    // `ip route add` would), after addresses, link, the first route and DNS were set.
    cfg.allowed_ips = vec![net("10.200.0.0/16"), net("198.51.100.0/24")];
    cfg.dns = DnsConfig {
        servers: vec![ip("10.100.0.53")],
        search: Vec::new(),
    };
    let before = snapshot().await.expect("snapshot before");
    let err = apply(&cfg, &options(&dir))
        .await
        .expect_err("conflicting route");
    let text = err.to_string();
    assert!(
        text.contains("route add 198.51.100.0/24 dev gh0 table 254") && text.contains("exists"),
        "the error names the step: {text}"
    );
    assert!(err.rollback_failures.is_empty(), "{text}");
    let after = snapshot().await.expect("snapshot after");
    let diff = before.diff(&after);
    assert!(diff.is_empty(), "rolled back:\n{}", diff.join("\n"));
    inner_done("failed_apply_rolls_back_inner");
}

#[tokio::test]
#[ignore = "runs inside a namespace, started by revert_after_link_vanished_in_netns"]
async fn revert_after_link_vanished_inner() {
    if !inside_test_netns() {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = base_config();
    cfg.allowed_ips = vec![net("0.0.0.0/0"), net("::/0"), net("203.0.113.0/24")];
    cfg.dns = DnsConfig {
        servers: vec![ip("10.100.0.53")],
        search: vec!["corp.example".into()],
    };
    let before = snapshot().await.expect("snapshot before");
    let applied = apply(&cfg, &options(&dir)).await.expect("apply");
    // The driver closed the TUN: the link, its addresses and routes are gone; rules, the
    // bypass route, nft tables, the sysctl and DNS are not.
    sh(&["ip", "link", "del", "gh0"]);
    applied.revert().await.expect("revert without the link");
    let mut expected = before.clone();
    expected.addresses.retain(|a| a.interface != "gh0");
    expected
        .routes
        .retain(|r| r.interface.as_deref() != Some("gh0"));
    let after = snapshot().await.expect("snapshot after");
    let diff = expected.diff(&after);
    assert!(
        diff.is_empty(),
        "state after revert differs:\n{}",
        diff.join("\n")
    );
    inner_done("revert_after_link_vanished_inner");
}
