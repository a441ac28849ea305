//! Helpers of the daemon tests: start `gatehouse daemon` inside a namespace, talk raw IPC to it,
//! read its memory use.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gatehouse_ipc::{ClientMessage, FrameBuf, Request, Response, ServerMessage, PROTOCOL_VERSION};

use crate::netns::Result;

pub use crate::gatehouse_bin;

/// False (after a notice) when the test cannot run here (not root, a tool missing); panics
/// instead when `GATEHOUSE_E2E_REQUIRE=1`.
pub fn can_run(test: &str, tools: &[&str]) -> bool {
    crate::can_run(test, true, tools)
}

/// A `gatehouse daemon` running in a network namespace.
pub struct Daemon {
    child: Option<Child>,
    /// Its socket.
    pub socket: PathBuf,
    /// Its state directory (journal).
    pub state_dir: PathBuf,
    /// Its log (stdout + stderr, appended across restarts).
    pub log: PathBuf,
    ns: String,
    group: String,
    bin: PathBuf,
    extra: Vec<String>,
}

impl Daemon {
    /// Starts `BIN daemon` in `ns` with its socket and state under `dir`, allowing `group`;
    /// returns once the socket answers.
    pub fn start(bin: &Path, ns: &str, dir: &Path, group: &str) -> Result<Daemon> {
        Daemon::start_with(bin, ns, dir, group, &[])
    }

    /// [`Daemon::start`] with extra `gatehouse daemon` arguments.
    pub fn start_with(
        bin: &Path,
        ns: &str,
        dir: &Path,
        group: &str,
        extra: &[&str],
    ) -> Result<Daemon> {
        let mut d = Daemon {
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
            child: None,
            socket: dir.join("run").join("gatehouse.sock"),
            state_dir: dir.join("state"),
            log: dir.join("daemon.log"),
            ns: ns.to_owned(),
            group: group.to_owned(),
            bin: bin.to_path_buf(),
        };
        d.spawn()?;
        Ok(d)
    }

    fn spawn(&mut self) -> Result<()> {
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .map_err(|e| format!("{}: {e}", self.log.display()))?;
        let err = out.try_clone().map_err(|e| format!("log: {e}"))?;
        let child = Command::new("ip")
            .args(["netns", "exec", &self.ns])
            .arg(&self.bin)
            .arg("daemon")
            .arg("--socket")
            .arg(&self.socket)
            .arg("--state-dir")
            .arg(&self.state_dir)
            .arg("--group")
            .arg(&self.group)
            .args(&self.extra)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start the daemon: {e}"))?;
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if RawClient::connect(&self.socket).is_ok() {
                return Ok(());
            }
            if let Some(c) = self.child.as_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    return Err(format!(
                        "the daemon exited ({status}) at start:\n{}",
                        self.log_text()
                    ));
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err(format!("the daemon did not answer:\n{}", self.log_text()))
    }

    /// Starts it again after [`Daemon::kill9`] or [`Daemon::stop`].
    pub fn restart(&mut self) -> Result<()> {
        self.spawn()
    }

    /// Its pid (`ip netns exec` execs the program).
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Its resident memory in KiB (`VmRSS`).
    pub fn rss_kib(&self) -> Option<u64> {
        let text = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        text.lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    }

    /// The log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, reaped.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM, then waits up to 30 s (SIGKILL after). Returns whether it exited by itself.
    pub fn stop(&mut self) -> bool {
        let Some(mut c) = self.child.take() else {
            return true;
        };
        let pid = nix::unistd::Pid::from_raw(c.id() as i32);
        let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = c.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = c.kill();
        let _ = c.wait();
        false
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A raw, blocking IPC client.
pub struct RawClient {
    /// The socket.
    pub stream: UnixStream,
    buf: FrameBuf,
    next_id: u64,
}

impl RawClient {
    /// Connects without saying hello.
    pub fn open(socket: &Path) -> Result<RawClient> {
        let stream = UnixStream::connect(socket)
            .map_err(|e| format!("connect {}: {e}", socket.display()))?;
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .map_err(|e| e.to_string())?;
        Ok(RawClient {
            stream,
            buf: FrameBuf::new(),
            next_id: 1,
        })
    }

    /// Connects and does the handshake.
    pub fn connect(socket: &Path) -> Result<RawClient> {
        let mut c = RawClient::open(socket)?;
        c.send(&ClientMessage::Hello {
            version: PROTOCOL_VERSION,
            client: "e2e".into(),
        })?;
        match c.recv()? {
            Some(ServerMessage::Welcome { .. }) => Ok(c),
            other => Err(format!("expected welcome, got {other:?}")),
        }
    }

    /// Sends one message.
    pub fn send(&mut self, msg: &ClientMessage) -> Result<()> {
        let bytes = gatehouse_ipc::encode(msg).map_err(|e| e.to_string())?;
        self.send_raw(&bytes)
    }

    /// Sends raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.stream
            .write_all(bytes)
            .map_err(|e| format!("write: {e}"))
    }

    /// The next message; `Ok(None)` when the daemon closed the connection.
    pub fn recv(&mut self) -> Result<Option<ServerMessage>> {
        loop {
            if let Some(m) = self.buf.next_frame().map_err(|e| e.to_string())? {
                return Ok(Some(m));
            }
            let mut chunk = [0u8; 8192];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(None),
                Ok(n) => self.buf.push(&chunk[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return Ok(None),
                Err(e) => return Err(format!("read: {e}")),
            }
        }
    }

    /// Sends a request and returns its response (skipping events).
    pub fn request(&mut self, request: Request) -> Result<Response> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&ClientMessage::Request { id, request })?;
        loop {
            match self.recv()? {
                Some(ServerMessage::Response { id: got, response }) if got == id => {
                    return Ok(response)
                }
                Some(ServerMessage::Error(e)) => return Err(format!("error: {e}")),
                Some(_) => continue,
                None => return Err("closed".into()),
            }
        }
    }
}

/// Runs `BIN ARGS…` (optionally as `user` through `runuser -u USER --`) and returns (success,
/// stdout + stderr).
pub fn run_cli(bin: &Path, user: Option<&str>, args: &[&str]) -> (bool, String) {
    let mut cmd = match user {
        Some(u) => {
            let mut c = Command::new("runuser");
            c.args(["-u", u, "--"]).arg(bin);
            c
        }
        None => Command::new(bin),
    };
    match cmd.args(args).stdin(Stdio::null()).output() {
        Ok(o) => (
            o.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
        ),
        Err(e) => (false, format!("cannot run {}: {e}", bin.display())),
    }
}

/// A system user (and optionally a group) made for one test; deleted on drop.
pub struct TestUser {
    /// The user name.
    pub name: String,
}

impl TestUser {
    /// `useradd` a user with no home, in `groups` (comma separated, may be empty).
    pub fn create(name: &str, groups: &str) -> Result<TestUser> {
        let mut args = vec!["--no-create-home", "--shell", "/usr/sbin/nologin"];
        if !groups.is_empty() {
            args.extend(["-G", groups]);
        }
        args.push(name);
        crate::netns::run("useradd", &args)?;
        Ok(TestUser {
            name: name.to_owned(),
        })
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        let _ = crate::netns::run("userdel", &[&self.name]);
    }
}

/// A group made for one test; deleted on drop.
pub struct TestGroup {
    /// The group name.
    pub name: String,
}

impl TestGroup {
    /// `groupadd NAME`.
    pub fn create(name: &str) -> Result<TestGroup> {
        crate::netns::run("groupadd", &[name])?;
        Ok(TestGroup {
            name: name.to_owned(),
        })
    }
}

impl Drop for TestGroup {
    fn drop(&mut self) {
        let _ = crate::netns::run("groupdel", &[&self.name]);
    }
}

/// (Re)starts the gateway's wireguard-go after [`crate::netns::Topology::kill_wireguard_go`],
/// retrying twice (its TUN device may take a moment to go).
pub fn start_peer(topo: &mut crate::netns::Topology) -> Result<()> {
    let mut last = String::new();
    for _ in 0..3 {
        match topo.start_wireguard_go() {
            Ok(()) => return Ok(()),
            Err(e) => {
                last = e;
                topo.kill_wireguard_go();
                std::thread::sleep(Duration::from_secs(1));
            }
        }
    }
    Err(last)
}
