//! The demo lab interoperates with a real WireGuard peer: `gatehouse demo --lab-only` runs in
//! one network namespace, Debian's wireguard-go in another (joined by a veth pair), configured
//! from the profile the lab hands out; through the tunnel, curl fetches pages from the virtual
//! hosts (direct, through the load balancer, by name through the lab's DNS), the pi answers
//! ping (the VPC, with no ICMP rule, does not), a TCP connection reaches the database, and the
//! replica stays unreachable (its security group).
//!
//! ```text
//!  client ns (wireguard-go, curl)          lab ns (gatehouse demo --lab-only)
//!  to-lab 10.210.0.1/24 ─────────────────── to-client 10.210.0.2/24, UDP :51820
//!  wg 10.100.0.2/32, routes 10.20.0.0/16 + 192.168.1.0/24
//! ```
//!
//! Needs root (namespaces), wireguard-go, wg, curl and a built `gatehouse`. Without them the
//! test prints a skip notice and passes, unless `GATEHOUSE_E2E_REQUIRE=1`.

use std::fs;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use gatehouse_e2e::lab::{can_run, gatehouse_bin, Demo};
use gatehouse_e2e::netns::{ip, ns_run, stop_child, wait_until};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Two namespaces and a veth pair; deleted on drop.
struct Pair {
    client: String,
    lab: String,
    wg_if: String,
    dir: tempfile::TempDir,
}

impl Pair {
    fn new() -> Pair {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let id = format!("{}-{n}", std::process::id());
        let pair = Pair {
            client: format!("ghl-{id}-c"),
            lab: format!("ghl-{id}-l"),
            wg_if: format!("ghl{}", std::process::id() % 100_000),
            dir: tempfile::tempdir().expect("temp dir"),
        };
        for ns in [&pair.client, &pair.lab] {
            ip(&["netns", "add", ns]).expect("netns add");
            ip(&["-n", ns, "link", "set", "lo", "up"]).expect("lo up");
        }
        ip(&[
            "-n",
            &pair.client,
            "link",
            "add",
            "to-lab",
            "type",
            "veth",
            "peer",
            "name",
            "to-client",
            "netns",
            &pair.lab,
        ])
        .expect("veth");
        ip(&[
            "-n",
            &pair.client,
            "addr",
            "add",
            "10.210.0.1/24",
            "dev",
            "to-lab",
        ])
        .expect("addr");
        ip(&[
            "-n",
            &pair.lab,
            "addr",
            "add",
            "10.210.0.2/24",
            "dev",
            "to-client",
        ])
        .expect("addr");
        ip(&["-n", &pair.client, "link", "set", "to-lab", "up"]).expect("up");
        ip(&["-n", &pair.lab, "link", "set", "to-client", "up"]).expect("up");
        // `ip netns exec` bind-mounts this over /etc/resolv.conf: the lab's DNS server.
        let etc = format!("/etc/netns/{}", pair.client);
        fs::create_dir_all(&etc).expect("etc dir");
        fs::write(
            format!("{etc}/resolv.conf"),
            "# gatehouse lab e2e\nnameserver 10.20.2.53\noptions timeout:2 attempts:3\n",
        )
        .expect("resolv.conf");
        pair
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        let _ = fs::remove_file(format!("/var/run/wireguard/{}.sock", self.wg_if));
        for ns in [&self.client, &self.lab] {
            let _ = ip(&["netns", "del", ns]);
        }
        let _ = fs::remove_dir_all(format!("/etc/netns/{}", self.client));
    }
}

/// `curl -sS --max-time 10 ARGS…` in the client namespace.
fn curl(ns: &str, args: &[&str]) -> Result<String, String> {
    let mut full = vec!["-sS", "--max-time", "10"];
    full.extend_from_slice(args);
    ns_run(ns, "curl", &full).map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
}

#[test]
fn wireguard_go_reaches_the_lab_hosts() {
    if !can_run(
        "lab_wireguard_go",
        true,
        &[
            "ip",
            "wg",
            "wireguard-go",
            "curl",
            "timeout",
            "bash",
            "ping",
        ],
    ) {
        return;
    }
    let pair = Pair::new();
    let profile_path = pair.dir.path().join("lab.conf");
    let profile_arg = profile_path.to_string_lossy().into_owned();
    let log = pair.dir.path().join("demo.log");
    let ns_prefix = ["ip", "netns", "exec", pair.lab.as_str()];
    let mut demo = Demo::start(
        &gatehouse_bin(),
        &ns_prefix,
        &[
            "--lab-only",
            "--listen",
            "10.210.0.2:51820",
            "--profile-out",
            &profile_arg,
        ],
        &log,
    )
    .expect("gatehouse demo --lab-only starts in the lab namespace");
    assert_eq!(
        demo.printed.gateway,
        Some("10.210.0.2:51820".parse().expect("addr"))
    );

    // The profile the lab handed out.
    let profile =
        gatehouse_profile::parse::parse_file(&profile_path).expect("the lab's profile parses");
    let key = profile
        .interface
        .private_key
        .as_ref()
        .expect("a private key in the profile");
    let peer = profile.peers.first().expect("one peer");
    assert_eq!(
        profile
            .interface
            .addresses
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["10.100.0.2/32"]
    );
    let allowed: Vec<String> = peer.allowed_ips.iter().map(ToString::to_string).collect();
    assert_eq!(allowed, ["10.20.0.0/16", "192.168.1.0/24"]);
    let endpoint = peer.endpoint.as_ref().expect("endpoint").to_string();
    assert_eq!(endpoint, "10.210.0.2:51820");

    // wireguard-go in the client namespace, configured as wg-quick would.
    let key_file = pair.dir.path().join("client.key");
    fs::write(&key_file, key.expose_base64()).expect("key file");
    let wg_log = fs::File::create(pair.dir.path().join("wireguard-go.log")).expect("log");
    let wg_log2 = wg_log.try_clone().expect("log");
    let mut wg = std::process::Command::new("ip")
        .args([
            "netns",
            "exec",
            &pair.client,
            "wireguard-go",
            "-f",
            &pair.wg_if,
        ])
        .stdin(std::process::Stdio::null())
        .stdout(wg_log)
        .stderr(wg_log2)
        .spawn()
        .expect("wireguard-go starts");
    let sock = format!("/var/run/wireguard/{}.sock", pair.wg_if);
    assert!(
        wait_until(Duration::from_secs(10), || std::path::Path::new(&sock)
            .exists()),
        "wireguard-go made no control socket"
    );
    let c = pair.client.as_str();
    let result = (|| -> Result<(), String> {
        ns_run(
            c,
            "wg",
            &[
                "set",
                &pair.wg_if,
                "private-key",
                &key_file.to_string_lossy(),
                "peer",
                &peer.public_key.to_string(),
                "endpoint",
                &endpoint,
                "allowed-ips",
                &allowed.join(","),
            ],
        )?;
        ip(&["-n", c, "addr", "add", "10.100.0.2/32", "dev", &pair.wg_if])?;
        ip(&["-n", c, "link", "set", &pair.wg_if, "mtu", "1420", "up"])?;
        for net in &allowed {
            ip(&["-n", c, "route", "add", net, "dev", &pair.wg_if])?;
        }

        // A virtual host by address, then by name through the lab's DNS.
        let page = curl(c, &["http://10.20.1.11/"])?;
        if !page.contains("<title>web-1 - Gatehouse demo shop</title>") {
            return Err(format!("web-1 by address: {page}"));
        }
        let page = curl(c, &["http://pi.home.internal:8080/"])?;
        if !page.contains("<title>Raspberry Pi - home dashboard</title>") {
            return Err(format!("the pi by name: {page}"));
        }
        let names = ns_run(c, "getent", &["hosts", "db.internal"])
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())?;
        if !names.starts_with("10.20.2.30") {
            return Err(format!("getent hosts db.internal: {names}"));
        }
        // The load balancer alternates.
        let a = curl(c, &["http://lb.internal/"])?;
        let b = curl(c, &["http://lb.internal/"])?;
        if !(a.contains("Hello from web-") && b.contains("Hello from web-") && a != b) {
            return Err(format!("lb.internal twice: {a} / {b}"));
        }
        // The home LAN answers ping; the VPC's security groups admit no ICMP.
        ns_run(c, "ping", &["-c", "1", "-W", "3", "192.168.1.20"])?;
        if ns_run(c, "ping", &["-c", "1", "-W", "1", "10.20.1.11"]).is_ok() {
            return Err("web-1 answered ping although no rule admits ICMP".into());
        }
        // TCP to the database connects; to the replica it does not (sg-replica).
        ns_run(
            c,
            "timeout",
            &["5", "bash", "-c", "exec 3<>/dev/tcp/10.20.2.30/5432"],
        )?;
        if ns_run(
            c,
            "timeout",
            &["3", "bash", "-c", "exec 3<>/dev/tcp/10.20.2.31/5432"],
        )
        .is_ok()
        {
            return Err("the replica accepted a connection from the VPN".into());
        }
        Ok(())
    })();
    let wg_dump = ns_run(c, "wg", &["show", &pair.wg_if, "dump"])
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    stop_child(&mut wg, Duration::from_secs(5));
    let status = demo.stop();
    if let Err(e) = result {
        panic!(
            "{e}\nwg dump:\n{wg_dump}\nwireguard-go log:\n{}\ndemo log:\n{}",
            fs::read_to_string(pair.dir.path().join("wireguard-go.log")).unwrap_or_default(),
            demo.log_text()
        );
    }
    assert!(
        status.is_some_and(|s| s.success()),
        "demo exit: {status:?}\n{}",
        demo.log_text()
    );
    let text = demo.log_text();
    assert!(
        text.contains("handshake with the client completed"),
        "no handshake in the demo log:\n{text}"
    );
}
