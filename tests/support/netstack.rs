//! Helpers for the no-root client's end-to-end tests (`tests/netstack_*.rs`), on top of the
//! [`crate::netns`] topology: a DNS responder for the lan, the `gatehouse-noroot` binary run
//! as the unprivileged user `nobody`, a minimal SOCKS5 client, and memory sampling.

use crate::netns::{spawn_in_netns, stop_child, Result};
use std::collections::HashMap;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// uid/gid of `nobody` on Debian.
pub const NOBODY: u32 = 65534;

/// The `gatehouse-noroot` binary: `$GATEHOUSE_NOROOT_BIN`, else beside the test executable's
/// directory (`cargo build -p gatehouse-netstack --bins`).
pub fn noroot_bin() -> PathBuf {
    let bin = match std::env::var_os("GATEHOUSE_NOROOT_BIN") {
        Some(b) => PathBuf::from(b),
        None => std::env::current_exe()
            .ok()
            .and_then(|exe| Some(exe.parent()?.parent()?.join("gatehouse-noroot")))
            .unwrap_or_else(|| PathBuf::from("gatehouse-noroot")),
    };
    assert!(
        bin.is_file(),
        "{} not found: run `cargo build -p gatehouse-netstack --bins` first or set GATEHOUSE_NOROOT_BIN",
        bin.display()
    );
    bin
}

/// A DNS server answering A/AAAA queries for fixed names (NXDOMAIN otherwise), on UDP port 53
/// of `ip` inside a namespace. Stops on drop.
pub struct DnsResponder {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<Result<()>>>,
}

impl DnsResponder {
    /// Binds `ip:53` in `ns` (the address must exist there) and answers from `names`.
    pub fn start(ns: &str, ip: IpAddr, names: HashMap<String, Vec<IpAddr>>) -> Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let (tx, rx) = std::sync::mpsc::channel::<Result<()>>();
        let thread = spawn_in_netns(ns, move || {
            let sock = match UdpSocket::bind((ip, 53)) {
                Ok(s) => s,
                Err(e) => {
                    let msg = format!("dns bind {ip}:53: {e}");
                    let _ = tx.send(Err(msg.clone()));
                    return Err(msg);
                }
            };
            sock.set_read_timeout(Some(Duration::from_millis(100)))
                .map_err(|e| format!("timeout: {e}"))?;
            let _ = tx.send(Ok(()));
            let mut buf = [0u8; 512];
            while !stop2.load(Ordering::Relaxed) {
                let Ok((n, from)) = sock.recv_from(&mut buf) else {
                    continue;
                };
                if let Some(reply) = dns_answer(&buf[..n], &names) {
                    let _ = sock.send_to(&reply, from);
                }
            }
            Ok(())
        });
        match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => Ok(DnsResponder {
                stop,
                thread: Some(thread),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err("DNS responder did not start".into()),
        }
    }
}

impl Drop for DnsResponder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The answer to one query (one question, uncompressed name), or None for garbage.
fn dns_answer(q: &[u8], names: &HashMap<String, Vec<IpAddr>>) -> Option<Vec<u8>> {
    if q.len() < 12 || q[2] & 0x80 != 0 {
        return None;
    }
    let mut pos = 12;
    let mut labels = Vec::new();
    loop {
        let len = *q.get(pos)? as usize;
        pos += 1;
        if len == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(q.get(pos..pos + len)?).to_ascii_lowercase());
        pos += len;
    }
    let qtype = u16::from_be_bytes([*q.get(pos)?, *q.get(pos + 1)?]);
    let qend = pos + 4;
    q.get(..qend)?;
    let name = labels.join(".");
    let addrs: Vec<IpAddr> = names
        .get(&name)
        .map(|a| {
            a.iter()
                .copied()
                .filter(|ip| (qtype == 1 && ip.is_ipv4()) || (qtype == 28 && ip.is_ipv6()))
                .collect()
        })
        .unwrap_or_default();
    let mut r = q[..qend].to_vec();
    r[2] = 0x81; // response, RD
    r[3] = if names.contains_key(&name) {
        0x80
    } else {
        0x83
    }; // RA, NOERROR / NXDOMAIN
    r[6..8].copy_from_slice(&(addrs.len() as u16).to_be_bytes());
    r[8..12].copy_from_slice(&[0, 0, 0, 0]);
    for ip in addrs {
        r.extend_from_slice(&[0xC0, 12]);
        let (t, data): (u16, Vec<u8>) = match ip {
            IpAddr::V4(a) => (1, a.octets().to_vec()),
            IpAddr::V6(a) => (28, a.octets().to_vec()),
        };
        r.extend_from_slice(&t.to_be_bytes());
        r.extend_from_slice(&[0, 1, 0, 0, 0, 60]);
        r.extend_from_slice(&(data.len() as u16).to_be_bytes());
        r.extend_from_slice(&data);
    }
    Some(r)
}

/// `gatehouse-noroot` running in a namespace as `nobody` (through `setpriv`, which execs, so
/// the child's pid is the client's).
pub struct NoRoot {
    child: Child,
    /// The SOCKS5 proxy's address (if enabled).
    pub socks: Option<SocketAddr>,
    /// The HTTP proxy's address (if enabled).
    pub http: Option<SocketAddr>,
    /// Forwards: (local address, target text).
    pub forwards: Vec<(SocketAddr, String)>,
    lines: Arc<std::sync::Mutex<Vec<String>>>,
    log: PathBuf,
}

impl NoRoot {
    /// Copies the binary and `conf` into `dir` (readable by nobody), starts the client in `ns`
    /// with `args`, and waits for its `ready` line.
    pub fn start(ns: &str, conf: &Path, dir: &Path, args: &[&str]) -> Result<NoRoot> {
        let run = dir.join("noroot");
        fs::create_dir_all(&run).map_err(|e| format!("mkdir {}: {e}", run.display()))?;
        let set_mode = |p: &Path, mode: u32| {
            fs::set_permissions(p, fs::Permissions::from_mode(mode))
                .map_err(|e| format!("chmod {}: {e}", p.display()))
        };
        set_mode(dir, 0o755)?;
        set_mode(&run, 0o755)?;
        let bin = run.join("gatehouse-noroot");
        fs::copy(noroot_bin(), &bin).map_err(|e| format!("copy binary: {e}"))?;
        set_mode(&bin, 0o755)?;
        let conf_copy = run.join("client.conf");
        fs::copy(conf, &conf_copy).map_err(|e| format!("copy conf: {e}"))?;
        std::os::unix::fs::chown(&conf_copy, Some(NOBODY), Some(NOBODY))
            .map_err(|e| format!("chown conf: {e}"))?;
        set_mode(&conf_copy, 0o600)?;
        let log = run.join("noroot.log");
        let logf = fs::File::create(&log).map_err(|e| format!("log: {e}"))?;
        let uid = NOBODY.to_string();
        let mut cmd = Command::new("ip");
        cmd.args([
            "netns", "exec", ns, "setpriv", "--reuid", &uid, "--regid", &uid,
        ])
        .args(["--clear-groups", "--"])
        .arg(&bin)
        .arg(&conf_copy)
        .args(args)
        .env("GATEHOUSE_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(logf);
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot start gatehouse-noroot: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
        let lines2 = lines.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if line == "ready" {
                    let _ = ready_tx.send(());
                }
                if let Ok(mut l) = lines2.lock() {
                    l.push(line);
                }
            }
        });
        let mut me = NoRoot {
            child,
            socks: None,
            http: None,
            forwards: Vec::new(),
            lines,
            log,
        };
        if ready_rx.recv_timeout(Duration::from_secs(20)).is_err() {
            return Err(format!(
                "gatehouse-noroot did not get ready: {}",
                me.log_text()
            ));
        }
        for line in me.lines() {
            let mut w = line.split_whitespace();
            match (w.next(), w.next(), w.next(), w.next()) {
                (Some("socks5"), Some(a), _, _) => me.socks = a.parse().ok(),
                (Some("http"), Some(a), _, _) => me.http = a.parse().ok(),
                (Some("forward"), Some(_), Some(local), Some(target)) => {
                    if let Ok(l) = local.parse() {
                        me.forwards.push((l, target.to_owned()));
                    }
                }
                _ => {}
            }
        }
        Ok(me)
    }

    /// The client's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Lines printed on stdout so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// The client's stderr so far.
    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Resident memory (VmRSS) in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
    }

    /// The uid the client runs as.
    pub fn uid(&self) -> Option<u32> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid())).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|v| v.split_whitespace().nth(1)?.parse().ok())
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for NoRoot {
    fn drop(&mut self) {
        stop_child(&mut self.child, Duration::from_secs(3));
    }
}

/// A SOCKS5 CONNECT target.
pub enum SocksTarget<'a> {
    /// An address.
    Addr(SocketAddr),
    /// A name and port.
    Name(&'a str, u16),
}

/// Performs the SOCKS5 greeting and CONNECT on `s`; returns the reply code (0: connected).
pub fn socks_connect(s: &mut TcpStream, target: SocksTarget<'_>) -> Result<u8> {
    s.write_all(&[5, 1, 0])
        .map_err(|e| format!("greeting: {e}"))?;
    let mut g = [0u8; 2];
    s.read_exact(&mut g)
        .map_err(|e| format!("greeting reply: {e}"))?;
    if g != [5, 0] {
        return Err(format!("greeting reply {g:?}"));
    }
    let mut req = vec![5, 1, 0];
    let port = match target {
        SocksTarget::Addr(SocketAddr::V4(a)) => {
            req.push(1);
            req.extend_from_slice(&a.ip().octets());
            a.port()
        }
        SocksTarget::Addr(SocketAddr::V6(a)) => {
            req.push(4);
            req.extend_from_slice(&a.ip().octets());
            a.port()
        }
        SocksTarget::Name(n, p) => {
            req.push(3);
            req.push(n.len() as u8);
            req.extend_from_slice(n.as_bytes());
            p
        }
    };
    req.extend_from_slice(&port.to_be_bytes());
    s.write_all(&req).map_err(|e| format!("request: {e}"))?;
    let mut head = [0u8; 4];
    s.read_exact(&mut head).map_err(|e| format!("reply: {e}"))?;
    let rest = match head[3] {
        1 => 6,
        4 => 18,
        t => return Err(format!("reply address type {t}")),
    };
    let mut tail = vec![0u8; rest];
    s.read_exact(&mut tail)
        .map_err(|e| format!("reply address: {e}"))?;
    Ok(head[1])
}

/// Reads until end-of-stream or `timeout`; returns the bytes and whether the peer closed.
pub fn read_to_close(s: &mut TcpStream, timeout: Duration) -> (Vec<u8>, bool) {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return (out, false);
        }
        let _ = s.set_read_timeout(Some(left));
        match s.read(&mut buf) {
            Ok(0) => return (out, true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (out, true),
            Err(_) => return (out, false),
        }
    }
}

/// Runs `curl ARGS…` in `ns` and returns (exit code, stdout bytes, stderr text).
pub fn curl(ns: &str, args: &[&str]) -> (i32, Vec<u8>, String) {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "curl", "-sS", "--max-time", "120"])
        .args(args)
        .output();
    match out {
        Ok(o) => (
            o.status.code().unwrap_or(-1),
            o.stdout,
            String::from_utf8_lossy(&o.stderr).into_owned(),
        ),
        Err(e) => (-1, Vec::new(), format!("cannot run curl: {e}")),
    }
}
