//! Network-namespace topologies for the tunnel's end-to-end tests.
//!
//! A [`Topology`] is three namespaces joined by veth pairs:
//!
//! ```text
//!  client ns                 gateway ns                         lan ns
//!  to-gw 10.201.0.1 ─────── to-client 10.201.0.2
//!        fd00:201::1                  fd00:201::2
//!                           wireguard-go wgg… 10.202.0.1/24 fd00:202::1/64
//!                           to-lan 10.203.0.1 ─────────────── to-gw 10.203.0.2 (HTTP :8080)
//!                                  fd00:203::1                      fd00:203::2
//! ```
//!
//! The client ns holds only its outer address; the client under test (gatehouse, or wireguard-go
//! for the harness's own check) adds the tunnel address 10.202.0.2 / fd00:202::2 and routes to the
//! tunnel and lan subnets. The gateway forwards between the tunnel and the lan; the lan host routes
//! the tunnel subnets back via the gateway and serves a 20 MB pseudo-random file over HTTP.
//!
//! Every name carries a per-topology id (pid + counter), so tests can run in parallel, and
//! everything (processes, namespaces, control sockets, `/etc/netns/<ns>`) is removed in `Drop`,
//! also when the test panics. Everything here needs root.

use std::fmt::Write as _;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The client's outer (underlay) IPv4 address on its veth.
pub const CLIENT_OUTER_V4: Ipv4Addr = Ipv4Addr::new(10, 201, 0, 1);
/// A second outer IPv4 address the client roams to.
pub const CLIENT_ROAM_V4: Ipv4Addr = Ipv4Addr::new(10, 201, 0, 3);
/// The gateway's outer IPv4 address: the client's `Endpoint`.
pub const GATEWAY_OUTER_V4: Ipv4Addr = Ipv4Addr::new(10, 201, 0, 2);
/// The client's outer IPv6 address.
pub const CLIENT_OUTER_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x201, 0, 0, 0, 0, 0, 1);
/// The gateway's outer IPv6 address.
pub const GATEWAY_OUTER_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x201, 0, 0, 0, 0, 0, 2);
/// The gateway's tunnel IPv4 address.
pub const GATEWAY_TUNNEL_V4: Ipv4Addr = Ipv4Addr::new(10, 202, 0, 1);
/// The gateway's tunnel IPv6 address.
pub const GATEWAY_TUNNEL_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x202, 0, 0, 0, 0, 0, 1);
/// The client's tunnel IPv4 address (its `Address`).
pub const CLIENT_TUNNEL_V4: Ipv4Addr = Ipv4Addr::new(10, 202, 0, 2);
/// The client's tunnel IPv6 address (its `Address`).
pub const CLIENT_TUNNEL_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x202, 0, 0, 0, 0, 0, 2);
/// The lan host's IPv4 address (HTTP server).
pub const LAN_HOST_V4: Ipv4Addr = Ipv4Addr::new(10, 203, 0, 2);
/// The lan host's IPv6 address (HTTP server).
pub const LAN_HOST_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0x203, 0, 0, 0, 0, 0, 2);
/// The DNS server written into the client's `.conf` (nothing answers there; only
/// `/etc/resolv.conf` handling is checked).
pub const CLIENT_DNS: Ipv4Addr = Ipv4Addr::new(10, 203, 0, 53);
/// The client's WireGuard `ListenPort`.
pub const CLIENT_LISTEN_PORT: u16 = 51820;
/// wireguard-go's listen port in the gateway ns.
pub const GATEWAY_LISTEN_PORT: u16 = 51821;
/// The HTTP port of the lan host.
pub const HTTP_PORT: u16 = 8080;
/// The size of the file the lan host serves at `/blob`.
pub const BLOB_LEN: usize = 20 * 1024 * 1024;
/// The veth name of the client's outer link, inside the client ns.
pub const CLIENT_OUTER_IF: &str = "to-gw";
/// The veth name of the gateway's outer link, inside the gateway ns.
pub const GATEWAY_OUTER_IF: &str = "to-client";
/// The tunnel MTU used on both sides.
pub const TUNNEL_MTU: u16 = 1420;

/// The error of a harness step: what was run and what it said.
pub type Result<T> = std::result::Result<T, String>;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// True when the process runs as root (uid 0).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// The 20 MB pseudo-random file served by the lan host; the same bytes for the whole process.
pub fn blob() -> &'static [u8] {
    static BLOB: OnceLock<Vec<u8>> = OnceLock::new();
    BLOB.get_or_init(|| {
        let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ u64::from(std::process::id());
        let mut v = Vec::with_capacity(BLOB_LEN);
        while v.len() < BLOB_LEN {
            // xorshift64*: fast, incompressible enough that nothing on the path can shortcut it.
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            v.extend_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        v.truncate(BLOB_LEN);
        v
    })
}

/// Runs a command to completion and returns its output, or an error naming the command, its
/// exit status and its stderr.
pub fn run(program: &str, args: &[&str]) -> Result<Output> {
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {program} {}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!(
            "{program} {} failed ({}): {}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim(),
            String::from_utf8_lossy(&out.stdout).trim()
        ))
    }
}

/// Runs `ip ARGS…`.
pub fn ip(args: &[&str]) -> Result<Output> {
    run("ip", args)
}

/// Runs `ip netns exec NS PROGRAM ARGS…` to completion.
pub fn ns_run(ns: &str, program: &str, args: &[&str]) -> Result<Output> {
    let mut full = vec!["netns", "exec", ns, program];
    full.extend_from_slice(args);
    run("ip", &full)
}

/// Runs `ip netns exec NS PROGRAM ARGS…` and returns its stdout as text.
pub fn ns_stdout(ns: &str, program: &str, args: &[&str]) -> Result<String> {
    ns_run(ns, program, args).map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
}

/// Generates a WireGuard key pair with `wg genkey` / `wg pubkey`: (private, public), base64.
pub fn wg_keypair() -> Result<(String, String)> {
    let private = String::from_utf8_lossy(&run("wg", &["genkey"])?.stdout)
        .trim()
        .to_owned();
    let mut child = Command::new("wg")
        .arg("pubkey")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run wg pubkey: {e}"))?;
    child
        .stdin
        .take()
        .ok_or("wg pubkey: no stdin")?
        .write_all(private.as_bytes())
        .map_err(|e| format!("wg pubkey: {e}"))?;
    let out = child
        .wait_with_output()
        .map_err(|e| format!("wg pubkey: {e}"))?;
    if !out.status.success() {
        return Err(format!("wg pubkey failed: {}", out.status));
    }
    Ok((
        private,
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
    ))
}

/// Enters network namespace `ns` on the current thread (only this thread: sockets it opens
/// afterwards live in `ns`). Use it only on threads spawned for that purpose.
pub fn enter_netns(ns: &str) -> Result<()> {
    let f = fs::File::open(format!("/var/run/netns/{ns}"))
        .map_err(|e| format!("open /var/run/netns/{ns}: {e}"))?;
    nix::sched::setns(&f, nix::sched::CloneFlags::CLONE_NEWNET)
        .map_err(|e| format!("setns into {ns}: {e}"))
}

/// Spawns a thread that runs `f` inside network namespace `ns`.
pub fn spawn_in_netns<T, F>(ns: &str, f: F) -> JoinHandle<Result<T>>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T> + Send + 'static,
{
    let ns = ns.to_owned();
    std::thread::spawn(move || {
        enter_netns(&ns)?;
        f()
    })
}

/// Sends SIGINT, then SIGKILL after `grace`, and reaps the child. Returns its exit status.
pub fn stop_child(child: &mut Child, grace: Duration) -> Option<ExitStatus> {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    if let Ok(Some(st)) = child.try_wait() {
        return Some(st);
    }
    let pid = Pid::from_raw(i32::try_from(child.id()).ok()?);
    let _ = kill(pid, Signal::SIGINT);
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(st)) = child.try_wait() {
            return Some(st);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    child.wait().ok()
}

/// Polls `cond` every 50 ms until it returns true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Deletes namespaces and control sockets left behind by earlier test processes that were
/// killed before their `Drop` ran (names carry the pid of the process that made them).
fn reap_stale() {
    let Ok(out) = ip(&["netns", "list"]) else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(rest) = name.strip_prefix("ghe-") else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = ip(&["netns", "del", name]);
            let _ = fs::remove_dir_all(format!("/etc/netns/{name}"));
        }
    }
}

/// The three namespaces, the gateway's wireguard-go, the lan HTTP server and the client's
/// `.conf`. Dropping it tears everything down.
pub struct Topology {
    /// Short unique id of this topology (pid + counter, base 36).
    pub id: String,
    /// The client namespace.
    pub client_ns: String,
    /// The gateway namespace (wireguard-go).
    pub gateway_ns: String,
    /// The lan namespace (HTTP server).
    pub lan_ns: String,
    /// wireguard-go's interface name in the gateway ns (unique across namespaces: its control
    /// socket lives in the shared /var/run/wireguard).
    pub gateway_if: String,
    /// The client's tunnel name: the stem of its `.conf` file.
    pub client_if: String,
    /// The client's private key (base64).
    pub client_private: String,
    /// The client's public key (base64).
    pub client_public: String,
    /// The gateway's public key (base64).
    pub gateway_public: String,
    /// The client's wg-quick `.conf` (Address v4+v6, DNS, one peer: the gateway).
    pub client_conf: PathBuf,
    /// Scratch directory of this topology (keys, logs, run dir); removed on drop.
    pub dir: PathBuf,
    gateway_key: PathBuf,
    wireguard_go: Option<Child>,
    http: Option<HttpServer>,
    namespaces: Vec<String>,
}

impl Topology {
    /// Builds the namespaces, links, addresses, routes, the gateway's wireguard-go and the lan
    /// HTTP server; writes the client's `.conf`. `tag` (≤ 3 chars) is only for readability.
    pub fn new(tag: &str) -> Result<Topology> {
        reap_stale();
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let id = format!("{}-{}", base36(u64::from(pid)), base36(u64::from(n)));
        let tag: String = tag
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(3)
            .collect();
        let base = format!("ghe-{pid}-{n}-{tag}");
        let dir = std::env::temp_dir().join(format!("gatehouse-e2e-{pid}-{n}-{tag}"));
        fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        let (client_private, client_public) = wg_keypair()?;
        let (gateway_private, gateway_public) = wg_keypair()?;
        let gateway_key = dir.join("gateway.key");
        write_secret(&gateway_key, &gateway_private)?;
        let mut topo = Topology {
            client_ns: format!("{base}-c"),
            gateway_ns: format!("{base}-g"),
            lan_ns: format!("{base}-l"),
            gateway_if: format!("wgg{id}"),
            client_if: format!("ghc{id}"),
            client_conf: dir.join(format!("ghc{id}.conf")),
            id,
            client_private,
            client_public,
            gateway_public,
            dir,
            gateway_key,
            wireguard_go: None,
            http: None,
            namespaces: Vec::new(),
        };
        topo.build()?;
        Ok(topo)
    }

    fn build(&mut self) -> Result<()> {
        for ns in [&self.client_ns, &self.gateway_ns, &self.lan_ns] {
            ip(&["netns", "add", ns])?;
            self.namespaces.push(ns.clone());
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            // No duplicate address detection: v6 addresses are usable at once.
            ns_run(
                ns,
                "sysctl",
                &[
                    "-qw",
                    "net.ipv6.conf.all.accept_dad=0",
                    "net.ipv6.conf.default.accept_dad=0",
                    "net.ipv4.conf.all.promote_secondaries=1",
                    "net.ipv4.conf.default.promote_secondaries=1",
                ],
            )?;
        }
        let (c, g, l) = (
            &self.client_ns.clone(),
            &self.gateway_ns.clone(),
            &self.lan_ns.clone(),
        );
        // Each veth pair is created directly inside its namespaces: the names never meet.
        ip(&[
            "-n",
            c,
            "link",
            "add",
            CLIENT_OUTER_IF,
            "type",
            "veth",
            "peer",
            "name",
            GATEWAY_OUTER_IF,
            "netns",
            g,
        ])?;
        ip(&[
            "-n", g, "link", "add", "to-lan", "type", "veth", "peer", "name", "to-gw", "netns", l,
        ])?;
        let addrs: [(&str, &str, String); 6] = [
            (c, CLIENT_OUTER_IF, format!("{CLIENT_OUTER_V4}/24")),
            (c, CLIENT_OUTER_IF, format!("{CLIENT_OUTER_V6}/64")),
            (g, GATEWAY_OUTER_IF, format!("{GATEWAY_OUTER_V4}/24")),
            (g, GATEWAY_OUTER_IF, format!("{GATEWAY_OUTER_V6}/64")),
            (g, "to-lan", "10.203.0.1/24".to_owned()),
            (g, "to-lan", "fd00:203::1/64".to_owned()),
        ];
        for (ns, dev, addr) in &addrs {
            ip(&["-n", ns, "addr", "add", addr, "dev", dev, "nodad"])?;
        }
        ip(&[
            "-n",
            l,
            "addr",
            "add",
            &format!("{LAN_HOST_V4}/24"),
            "dev",
            "to-gw",
        ])?;
        ip(&[
            "-n",
            l,
            "addr",
            "add",
            &format!("{LAN_HOST_V6}/64"),
            "dev",
            "to-gw",
            "nodad",
        ])?;
        for (ns, dev) in [
            (c, CLIENT_OUTER_IF),
            (g, GATEWAY_OUTER_IF),
            (g, "to-lan"),
            (l, "to-gw"),
        ] {
            ip(&["-n", ns, "link", "set", dev, "up"])?;
        }
        ns_run(
            g,
            "sysctl",
            &[
                "-qw",
                "net.ipv4.ip_forward=1",
                "net.ipv6.conf.all.forwarding=1",
            ],
        )?;
        // The lan host reaches the tunnel subnets through the gateway.
        ip(&[
            "-n",
            l,
            "route",
            "add",
            "10.202.0.0/24",
            "via",
            "10.203.0.1",
        ])?;
        ip(&[
            "-n",
            l,
            "-6",
            "route",
            "add",
            "fd00:202::/64",
            "via",
            "fd00:203::1",
        ])?;
        self.start_wireguard_go()?;
        self.http = Some(HttpServer::start(l)?);
        self.write_client_conf()?;
        // `ip netns exec` bind-mounts /etc/netns/<ns>/resolv.conf over /etc/resolv.conf.
        let etc = PathBuf::from(format!("/etc/netns/{c}"));
        fs::create_dir_all(&etc).map_err(|e| format!("create {}: {e}", etc.display()))?;
        fs::write(
            etc.join("resolv.conf"),
            "# gatehouse e2e: the client namespace's own resolv.conf\nnameserver 192.0.2.53\n",
        )
        .map_err(|e| format!("write {}/resolv.conf: {e}", etc.display()))?;
        Ok(())
    }

    fn write_client_conf(&self) -> Result<()> {
        let conf = format!(
            "# gatehouse e2e client {id}\n\
             [Interface]\n\
             PrivateKey = {key}\n\
             Address = {CLIENT_TUNNEL_V4}/32, {CLIENT_TUNNEL_V6}/128\n\
             ListenPort = {CLIENT_LISTEN_PORT}\n\
             DNS = {CLIENT_DNS}, e2e.example\n\
             MTU = {TUNNEL_MTU}\n\
             \n\
             [Peer]\n\
             PublicKey = {gw}\n\
             AllowedIPs = 10.202.0.0/24, fd00:202::/64, 10.203.0.0/24, fd00:203::/64\n\
             Endpoint = {GATEWAY_OUTER_V4}:{GATEWAY_LISTEN_PORT}\n",
            id = self.id,
            key = self.client_private,
            gw = self.gateway_public,
        );
        write_secret(&self.client_conf, &conf)
    }

    /// The path of wireguard-go's control socket for `ifname`.
    pub fn control_socket(ifname: &str) -> PathBuf {
        PathBuf::from(format!("/var/run/wireguard/{ifname}.sock"))
    }

    /// Starts (or restarts) the gateway's wireguard-go with the same key and peer, and sets up
    /// its tunnel addresses. It learns the client's endpoint from the client's packets.
    pub fn start_wireguard_go(&mut self) -> Result<()> {
        let (g, wif) = (self.gateway_ns.clone(), self.gateway_if.clone());
        let sock = Self::control_socket(&wif);
        let _ = fs::remove_file(&sock);
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("wireguard-go.log"))
            .map_err(|e| format!("wireguard-go.log: {e}"))?;
        let log2 = log.try_clone().map_err(|e| format!("log: {e}"))?;
        let child = Command::new("ip")
            .args(["netns", "exec", &g, "wireguard-go", "-f", &wif])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log2)
            .spawn()
            .map_err(|e| format!("cannot start wireguard-go: {e}"))?;
        self.wireguard_go = Some(child);
        if !wait_until(Duration::from_secs(10), || sock.exists()) {
            return Err(format!(
                "wireguard-go did not create {} within 10 s: {}",
                sock.display(),
                self.wireguard_go_log()
            ));
        }
        let key = self.gateway_key.to_string_lossy().into_owned();
        let port = GATEWAY_LISTEN_PORT.to_string();
        let allowed = format!("{CLIENT_TUNNEL_V4}/32,{CLIENT_TUNNEL_V6}/128");
        ns_run(
            &g,
            "wg",
            &[
                "set",
                &wif,
                "private-key",
                &key,
                "listen-port",
                &port,
                "peer",
                &self.client_public,
                "allowed-ips",
                &allowed,
            ],
        )?;
        ip(&[
            "-n",
            &g,
            "addr",
            "add",
            &format!("{GATEWAY_TUNNEL_V4}/24"),
            "dev",
            &wif,
        ])?;
        ip(&[
            "-n",
            &g,
            "addr",
            "add",
            &format!("{GATEWAY_TUNNEL_V6}/64"),
            "dev",
            &wif,
            "nodad",
        ])?;
        ip(&[
            "-n",
            &g,
            "link",
            "set",
            &wif,
            "mtu",
            &TUNNEL_MTU.to_string(),
            "up",
        ])?;
        Ok(())
    }

    /// Kills the gateway's wireguard-go (SIGKILL: no goodbye to the client) and waits for it.
    pub fn kill_wireguard_go(&mut self) {
        if let Some(mut child) = self.wireguard_go.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = fs::remove_file(Self::control_socket(&self.gateway_if));
    }

    /// wireguard-go's log so far.
    pub fn wireguard_go_log(&self) -> String {
        fs::read_to_string(self.dir.join("wireguard-go.log")).unwrap_or_default()
    }

    /// `wg show <gateway_if> dump` in the gateway ns.
    pub fn gateway_wg_dump(&self) -> String {
        ns_stdout(&self.gateway_ns, "wg", &["show", &self.gateway_if, "dump"]).unwrap_or_else(|e| e)
    }

    /// Requests served by the lan HTTP server so far.
    pub fn http_requests(&self) -> u64 {
        self.http
            .as_ref()
            .map_or(0, |h| h.requests.load(Ordering::Relaxed))
    }

    /// `/etc/netns/<client ns>/resolv.conf`: the client ns's /etc/resolv.conf.
    pub fn client_resolv_conf(&self) -> PathBuf {
        PathBuf::from(format!("/etc/netns/{}/resolv.conf", self.client_ns))
    }

    /// What a client may change in its namespace: addresses, links, routes and rules of every
    /// table (v4 and v6), the nftables ruleset, and /etc/resolv.conf.
    pub fn client_snapshot(&self) -> Result<String> {
        let c = &self.client_ns;
        let mut s = String::new();
        for args in [
            &["-n", c, "-o", "link", "show"][..],
            &["-n", c, "addr", "show"],
            &["-n", c, "-4", "route", "show", "table", "all"],
            &["-n", c, "-6", "route", "show", "table", "all"],
            &["-n", c, "-4", "rule", "show"],
            &["-n", c, "-6", "rule", "show"],
        ] {
            let out = ip(args)?;
            let _ = writeln!(s, "$ ip {}", args.join(" "));
            s.push_str(&String::from_utf8_lossy(&out.stdout));
        }
        if let Ok(out) = ns_stdout(c, "nft", &["list", "ruleset"]) {
            s.push_str("$ nft list ruleset\n");
            s.push_str(&out);
        }
        s.push_str("$ cat /etc/resolv.conf\n");
        s.push_str(
            &fs::read_to_string(self.client_resolv_conf())
                .map_err(|e| format!("read resolv.conf: {e}"))?,
        );
        Ok(s)
    }

    /// Replaces the client's outer IPv4 address: adds [`CLIENT_ROAM_V4`], deletes
    /// [`CLIENT_OUTER_V4`] (the new one is promoted; the subnet route stays).
    pub fn roam_client(&self) -> Result<()> {
        let c = &self.client_ns;
        ip(&[
            "-n",
            c,
            "addr",
            "add",
            &format!("{CLIENT_ROAM_V4}/24"),
            "dev",
            CLIENT_OUTER_IF,
        ])?;
        ip(&[
            "-n",
            c,
            "addr",
            "del",
            &format!("{CLIENT_OUTER_V4}/24"),
            "dev",
            CLIENT_OUTER_IF,
        ])?;
        Ok(())
    }

    /// Points the client's `.conf` `Endpoint` at `endpoint` (e.g. an [`ImpairedRelay`]).
    /// Call before starting the client.
    pub fn set_client_endpoint(&self, endpoint: SocketAddr) -> Result<()> {
        let conf = fs::read_to_string(&self.client_conf)
            .map_err(|e| format!("read {}: {e}", self.client_conf.display()))?;
        let conf: String = conf
            .lines()
            .map(|l| {
                if l.starts_with("Endpoint") {
                    format!("Endpoint = {endpoint}\n")
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        write_secret(&self.client_conf, &conf)
    }

    /// The UDP counters of `ns` from /proc/net/snmp, as (name, value) pairs.
    pub fn udp_counters(ns: &str) -> Result<Vec<(String, u64)>> {
        let snmp = ns_stdout(ns, "cat", &["/proc/net/snmp"])?;
        let mut lines = snmp.lines().filter(|l| l.starts_with("Udp:"));
        let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
            return Err("no Udp: lines in /proc/net/snmp".into());
        };
        Ok(names
            .split_whitespace()
            .skip(1)
            .zip(values.split_whitespace().skip(1))
            .map(|(n, v)| (n.to_owned(), v.parse().unwrap_or(0)))
            .collect())
    }

    /// Pings `addr` from the client ns: `count` echo requests, `wait` seconds per reply.
    pub fn ping_from_client(&self, addr: IpAddr, count: u32, wait: u32) -> Result<()> {
        ns_run(
            &self.client_ns,
            "ping",
            &[
                "-n",
                "-q",
                "-c",
                &count.to_string(),
                "-i",
                "0.2",
                "-W",
                &wait.to_string(),
                &addr.to_string(),
            ],
        )
        .map(|_| ())
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        self.kill_wireguard_go();
        if let Some(h) = self.http.take() {
            h.stop();
        }
        for ns in self.namespaces.drain(..).rev() {
            let _ = ip(&["netns", "del", &ns]);
        }
        let _ = fs::remove_dir_all(format!("/etc/netns/{}", self.client_ns));
        if std::env::var_os("GATEHOUSE_E2E_KEEP").is_none() {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

/// A client under test, running in the client ns.
pub struct Client {
    child: Option<Child>,
    /// Its combined stdout+stderr log file.
    pub log: PathBuf,
    /// `GATEHOUSE_RUN_DIR` given to it.
    pub run_dir: PathBuf,
    /// When it was spawned.
    pub started: Instant,
    /// wireguard-go control socket to remove (wireguard-go client only).
    socket: Option<PathBuf>,
}

impl Client {
    /// Starts `BIN up <client.conf>` in the client ns with `GATEHOUSE_RUN_DIR` set.
    pub fn gatehouse(topo: &Topology, bin: &Path) -> Result<Client> {
        let run_dir = topo.dir.join("run");
        fs::create_dir_all(&run_dir).map_err(|e| format!("create run dir: {e}"))?;
        let log = topo.dir.join("gatehouse.log");
        let out = fs::File::create(&log).map_err(|e| format!("gatehouse.log: {e}"))?;
        let err = out.try_clone().map_err(|e| format!("log: {e}"))?;
        let child = Command::new("ip")
            .args(["netns", "exec", &topo.client_ns])
            .arg(bin)
            .arg("up")
            .arg(&topo.client_conf)
            .env("GATEHOUSE_RUN_DIR", &run_dir)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {} up: {e}", bin.display()))?;
        Ok(Client {
            child: Some(child),
            log,
            run_dir,
            started: Instant::now(),
            socket: None,
        })
    }

    /// Starts Debian's wireguard-go as the client, configured from the same `.conf` the way
    /// wg-quick would (addresses, MTU, routes to the AllowedIPs). Checks the harness itself.
    pub fn wireguard_go(topo: &Topology) -> Result<Client> {
        let (c, cif) = (&topo.client_ns, &topo.client_if);
        let sock = Topology::control_socket(cif);
        let _ = fs::remove_file(&sock);
        let log = topo.dir.join("client-wireguard-go.log");
        let out = fs::File::create(&log).map_err(|e| format!("log: {e}"))?;
        let err = out.try_clone().map_err(|e| format!("log: {e}"))?;
        let child = Command::new("ip")
            .args(["netns", "exec", c, "wireguard-go", "-f", cif])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start wireguard-go: {e}"))?;
        let client = Client {
            child: Some(child),
            log,
            run_dir: topo.dir.join("run"),
            started: Instant::now(),
            socket: Some(sock.clone()),
        };
        if !wait_until(Duration::from_secs(10), || sock.exists()) {
            return Err(format!("client wireguard-go: no {}", sock.display()));
        }
        let key = topo.dir.join("client.key");
        write_secret(&key, &topo.client_private)?;
        let conf = fs::read_to_string(&topo.client_conf).map_err(|e| format!("read conf: {e}"))?;
        let endpoint = conf
            .lines()
            .find_map(|l| l.strip_prefix("Endpoint = "))
            .ok_or("no Endpoint in the client .conf")?
            .trim()
            .to_owned();
        ns_run(
            c,
            "wg",
            &[
                "set",
                cif,
                "private-key",
                &key.to_string_lossy(),
                "listen-port",
                &CLIENT_LISTEN_PORT.to_string(),
                "peer",
                &topo.gateway_public,
                "endpoint",
                &endpoint,
                "allowed-ips",
                "10.202.0.0/24,fd00:202::/64,10.203.0.0/24,fd00:203::/64",
            ],
        )?;
        ip(&[
            "-n",
            c,
            "addr",
            "add",
            &format!("{CLIENT_TUNNEL_V4}/32"),
            "dev",
            cif,
        ])?;
        ip(&[
            "-n",
            c,
            "addr",
            "add",
            &format!("{CLIENT_TUNNEL_V6}/128"),
            "dev",
            cif,
            "nodad",
        ])?;
        ip(&[
            "-n",
            c,
            "link",
            "set",
            cif,
            "mtu",
            &TUNNEL_MTU.to_string(),
            "up",
        ])?;
        for net in [
            "10.202.0.0/24",
            "10.203.0.0/24",
            "fd00:202::/64",
            "fd00:203::/64",
        ] {
            ip(&["-n", c, "route", "add", net, "dev", cif])?;
        }
        Ok(client)
    }

    /// Its log so far.
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The pid of the client process (the `ip netns exec` wrapper execs it, so it is the same).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Waits until the log has a line containing "handshake" (case-insensitive), the process
    /// exits, or `timeout` passes. Returns the time from spawn to that line.
    pub fn wait_handshake(&mut self, timeout: Duration) -> Result<Duration> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.log_text().to_lowercase().contains("handshake") {
                return Ok(self.started.elapsed());
            }
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(st)) = child.try_wait() {
                    return Err(format!(
                        "the client exited ({st}) before a handshake; log:\n{}",
                        self.log_text()
                    ));
                }
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "no line with \"handshake\" within {timeout:?}; log:\n{}",
                    self.log_text()
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// True while the process runs.
    pub fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// Sends SIGINT (SIGKILL after 10 s) and returns the exit status.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let st = self
            .child
            .as_mut()
            .and_then(|c| stop_child(c, Duration::from_secs(10)));
        self.child = None;
        if let Some(sock) = self.socket.take() {
            let _ = fs::remove_file(sock);
        }
        st
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The lan host's HTTP server: `GET /blob` answers [`blob()`]; one thread per connection.
struct HttpServer {
    stop: Arc<AtomicBool>,
    requests: Arc<AtomicU64>,
    thread: Option<JoinHandle<Result<()>>>,
}

impl HttpServer {
    fn start(ns: &str) -> Result<HttpServer> {
        let _ = blob();
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(AtomicU64::new(0));
        let (tx, rx) = std::sync::mpsc::channel::<Result<()>>();
        let (stop2, requests2) = (stop.clone(), requests.clone());
        let thread = spawn_in_netns(ns, move || {
            let listener = match TcpListener::bind((Ipv6Addr::UNSPECIFIED, HTTP_PORT)) {
                Ok(l) => l,
                Err(e) => {
                    let msg = format!("bind [::]:{HTTP_PORT}: {e}");
                    let _ = tx.send(Err(msg.clone()));
                    return Err(msg);
                }
            };
            listener
                .set_nonblocking(true)
                .map_err(|e| format!("nonblocking: {e}"))?;
            let _ = tx.send(Ok(()));
            while !stop2.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        requests2.fetch_add(1, Ordering::Relaxed);
                        std::thread::spawn(move || {
                            let _ = serve(stream);
                        });
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(20));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
            Ok(())
        });
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => Ok(HttpServer {
                stop,
                requests,
                thread: Some(thread),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(format!("HTTP server in {ns} did not start")),
        }
    }

    fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream) -> io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_write_timeout(Some(Duration::from_secs(120)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut request_line = String::new();
    reader.read_line(&mut request_line)?;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" || line == "\n" {
            break;
        }
    }
    let mut w = stream;
    let path = request_line.split_whitespace().nth(1).unwrap_or("");
    if request_line.starts_with("GET ") && path == "/blob" {
        let body = blob();
        write!(
            w,
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
            body.len()
        )?;
        w.write_all(body)?;
    } else {
        w.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
    }
    w.flush()
}

/// A UDP relay that drops and delays datagrams in both directions: a userspace stand-in for
/// `tc … netem loss P delay D`, for kernels without `sch_netem`. It listens on `listen` (inside
/// its namespace) for the client and forwards to `upstream`; replies go back to the client's
/// latest address.
pub struct ImpairedRelay {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<Result<()>>>,
    /// Datagrams forwarded (both directions).
    pub forwarded: Arc<AtomicU64>,
    /// Datagrams dropped on purpose (both directions).
    pub dropped: Arc<AtomicU64>,
    /// The first [`ImpairedRelay::CAPTURE`] datagrams forwarded from upstream to the client, as
    /// sent: material for replay attacks.
    pub captured: Arc<std::sync::Mutex<Vec<Vec<u8>>>>,
}

impl ImpairedRelay {
    /// How many upstream → client datagrams are kept in `captured`.
    pub const CAPTURE: usize = 256;

    /// Starts the relay in `ns`. `loss` is a fraction (0.03 for 3 %), `delay` one-way.
    pub fn start(
        ns: &str,
        listen: SocketAddr,
        upstream: SocketAddr,
        loss: f64,
        delay: Duration,
    ) -> Result<ImpairedRelay> {
        use std::net::UdpSocket;
        use std::sync::mpsc;
        use std::sync::Mutex;
        let (tx, rx) = mpsc::channel::<Result<(UdpSocket, UdpSocket)>>();
        let opened = spawn_in_netns(ns, move || {
            let open = || -> Result<(UdpSocket, UdpSocket)> {
                let front = UdpSocket::bind(listen).map_err(|e| format!("bind {listen}: {e}"))?;
                let back = UdpSocket::bind(SocketAddr::new(listen.ip(), 0))
                    .map_err(|e| format!("bind relay upstream socket: {e}"))?;
                back.connect(upstream)
                    .map_err(|e| format!("connect {upstream}: {e}"))?;
                for s in [&front, &back] {
                    s.set_read_timeout(Some(Duration::from_millis(100)))
                        .map_err(|e| format!("timeout: {e}"))?;
                }
                Ok((front, back))
            };
            let _ = tx.send(open());
            Ok(())
        });
        let (front, back) = rx
            .recv_timeout(Duration::from_secs(10))
            .map_err(|_| "relay sockets not opened".to_owned())??;
        let _ = opened.join();
        let stop = Arc::new(AtomicBool::new(false));
        let forwarded = Arc::new(AtomicU64::new(0));
        let dropped = Arc::new(AtomicU64::new(0));
        let client: Arc<Mutex<Option<SocketAddr>>> = Arc::new(Mutex::new(None));
        let captured: Arc<Mutex<Vec<Vec<u8>>>> = Arc::new(Mutex::new(Vec::new()));
        let clone = |s: &UdpSocket| s.try_clone().map_err(|e| format!("clone socket: {e}"));
        let mut threads = Vec::new();
        // Direction 0: client → upstream; direction 1: upstream → client.
        for dir in 0..2u64 {
            let (rx_sock, tx_sock) = if dir == 0 {
                (clone(&front)?, clone(&back)?)
            } else {
                (clone(&back)?, clone(&front)?)
            };
            let (qtx, qrx) = mpsc::channel::<(Instant, Vec<u8>)>();
            let (stop1, dropped1, client1) = (stop.clone(), dropped.clone(), client.clone());
            threads.push(std::thread::spawn(move || {
                let mut rng = 0x2545_F491_4F6C_DD1Du64 ^ (dir + 1);
                let mut buf = vec![0u8; 65536];
                while !stop1.load(Ordering::Relaxed) {
                    let (n, from) = match rx_sock.recv_from(&mut buf) {
                        Ok(x) => x,
                        Err(_) => continue,
                    };
                    if dir == 0 {
                        if let Ok(mut c) = client1.lock() {
                            *c = Some(from);
                        }
                    }
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    if (rng % 1_000_000) as f64 / 1_000_000.0 < loss {
                        dropped1.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    if qtx
                        .send((Instant::now() + delay, buf[..n].to_vec()))
                        .is_err()
                    {
                        break;
                    }
                }
                Ok(())
            }));
            let (stop2, forwarded2, client2, captured2) = (
                stop.clone(),
                forwarded.clone(),
                client.clone(),
                captured.clone(),
            );
            threads.push(std::thread::spawn(move || {
                while !stop2.load(Ordering::Relaxed) {
                    let Ok((due, pkt)) = qrx.recv_timeout(Duration::from_millis(100)) else {
                        continue;
                    };
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                    let sent = if dir == 0 {
                        tx_sock.send(&pkt)
                    } else {
                        if let Ok(mut cap) = captured2.lock() {
                            if cap.len() < Self::CAPTURE {
                                cap.push(pkt.clone());
                            }
                        }
                        match client2.lock().ok().and_then(|c| *c) {
                            Some(to) => tx_sock.send_to(&pkt, to),
                            None => continue,
                        }
                    };
                    if sent.is_ok() {
                        forwarded2.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Ok(())
            }));
        }
        Ok(ImpairedRelay {
            stop,
            threads,
            forwarded,
            dropped,
            captured,
        })
    }
}

impl Drop for ImpairedRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Progress of a download: bytes of body received so far.
pub type Progress = Arc<AtomicU64>;

/// Downloads `http://ADDR:8080/blob` from inside `ns` on a thread of its own, reporting the
/// body bytes received in `progress`. `rate` (bytes/s) slows the reader down. The thread
/// returns the body.
pub fn download(
    ns: &str,
    addr: IpAddr,
    progress: Progress,
    rate: Option<u64>,
    timeout: Duration,
) -> JoinHandle<Result<Vec<u8>>> {
    spawn_in_netns(ns, move || {
        let deadline = Instant::now() + timeout;
        let sa = SocketAddr::new(addr, HTTP_PORT);
        let mut s = TcpStream::connect_timeout(&sa, Duration::from_secs(10))
            .map_err(|e| format!("connect {sa}: {e}"))?;
        s.set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| format!("timeout: {e}"))?;
        write!(
            s,
            "GET /blob HTTP/1.1\r\nHost: {sa}\r\nConnection: close\r\n\r\n"
        )
        .map_err(|e| format!("send request to {sa}: {e}"))?;
        let started = Instant::now();
        let mut buf = vec![0u8; 64 * 1024];
        let mut raw = Vec::with_capacity(BLOB_LEN + 1024);
        let mut header_len: Option<usize> = None;
        loop {
            if Instant::now() > deadline {
                return Err(format!(
                    "download from {sa}: timed out after {timeout:?} with {} bytes",
                    raw.len()
                ));
            }
            let n = match s.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(format!("download from {sa}: {e} after {} bytes", raw.len())),
            };
            raw.extend_from_slice(&buf[..n]);
            if header_len.is_none() {
                header_len = raw.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4);
            }
            if let Some(h) = header_len {
                let body = (raw.len() - h) as u64;
                progress.store(body, Ordering::Relaxed);
                if let Some(rate) = rate {
                    // Sleep until the average rate is at most `rate`.
                    let due = Duration::from_secs_f64(body as f64 / rate as f64);
                    if let Some(wait) = due.checked_sub(started.elapsed()) {
                        std::thread::sleep(wait);
                    }
                }
            }
        }
        let h = header_len.ok_or_else(|| format!("download from {sa}: no HTTP header"))?;
        let head = String::from_utf8_lossy(&raw[..h]).into_owned();
        if !head.starts_with("HTTP/1.1 200") {
            return Err(format!(
                "download from {sa}: {}",
                head.lines().next().unwrap_or("")
            ));
        }
        Ok(raw.split_off(h))
    })
}

/// Checks a downloaded body against [`blob()`]: length and bytes, naming the first difference.
pub fn check_blob(body: &[u8]) -> Result<()> {
    let want = blob();
    if body.len() != want.len() {
        return Err(format!(
            "downloaded {} bytes, expected {}",
            body.len(),
            want.len()
        ));
    }
    match body.iter().zip(want).position(|(a, b)| a != b) {
        Some(i) => Err(format!("downloaded file differs at byte {i}")),
        None => Ok(()),
    }
}

fn write_secret(path: &Path, text: &str) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("write {}: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .map_err(|e| format!("write {}: {e}", path.display()))
}

fn base36(mut n: u64) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base36_is_short_enough_for_interface_names() {
        assert_eq!(base36(0), "0");
        assert_eq!(base36(35), "z");
        assert_eq!(base36(36), "10");
        // pid_max is at most 2^22: 5 base-36 digits; with a 2-digit counter and the "wgg"
        // prefix the interface name stays within IFNAMSIZ-1 = 15.
        let name = format!("wgg{}-{}", base36(1 << 22), base36(36 * 36 - 1));
        assert!(name.len() <= 15, "{name}");
    }

    #[test]
    fn blob_is_20_mib_and_not_constant() {
        let b = blob();
        assert_eq!(b.len(), BLOB_LEN);
        assert_ne!(b[..8], b[8..16]);
        assert!(check_blob(b).is_ok());
        let mut other = b.to_vec();
        other[12345] ^= 1;
        assert_eq!(
            check_blob(&other),
            Err("downloaded file differs at byte 12345".into())
        );
    }
}
