//! Helpers of the demo-lab end-to-end tests: start `gatehouse demo` (optionally as another user
//! or inside a network namespace), read what it prints, stop it with SIGINT.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::netns::{self, Result};

pub use crate::{can_run, gatehouse_bin, has_tool};

/// What `gatehouse demo` printed before `ready`.
#[derive(Debug, Default, Clone)]
pub struct Printed {
    /// `lab gateway: ADDR`.
    pub gateway: Option<SocketAddr>,
    /// `socks5 proxy: ADDR`.
    pub socks: Option<SocketAddr>,
    /// `http proxy: ADDR`.
    pub http: Option<SocketAddr>,
    /// `forward: LOCAL -> TARGET (…)`: (local, target).
    pub forwards: Vec<(SocketAddr, String)>,
    /// Everything it printed.
    pub text: String,
}

impl Printed {
    /// The local address of the forward whose target ends with `:port`.
    pub fn forward_to(&self, port: u16) -> Option<SocketAddr> {
        let suffix = format!(":{port}");
        self.forwards
            .iter()
            .find(|(_, t)| t.ends_with(&suffix))
            .map(|(l, _)| *l)
    }
}

/// A running `gatehouse demo`.
pub struct Demo {
    child: Option<Child>,
    /// What it printed up to `ready`.
    pub printed: Printed,
    /// Its stderr log file.
    pub log: PathBuf,
}

impl Demo {
    /// Starts `[prefix…] BIN demo ARGS…`, stderr to `log`, and waits (up to 30 s) for its
    /// `ready` line. `prefix` must exec (`ip netns exec`, `setpriv`), so that the pid is the
    /// demo's and SIGINT reaches it.
    pub fn start(bin: &Path, prefix: &[&str], args: &[&str], log: &Path) -> Result<Demo> {
        let err = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let mut cmd = match prefix.split_first() {
            Some((first, rest)) => {
                let mut c = Command::new(first);
                c.args(rest).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        let mut child = cmd
            .arg("demo")
            .args(args)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .map_err(|e| format!("cannot start {} demo: {e}", bin.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut demo = Demo {
            child: Some(child),
            printed: Printed::default(),
            log: log.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match rx.recv_timeout(left) {
                Ok(l) => l,
                Err(_) => {
                    return Err(format!(
                        "gatehouse demo printed no `ready` line within 30 s:\n{}\nstderr:\n{}",
                        demo.printed.text,
                        demo.log_text()
                    ))
                }
            };
            demo.printed.text.push_str(&line);
            demo.printed.text.push('\n');
            let addr = |rest: &str| rest.split_whitespace().next().and_then(|a| a.parse().ok());
            if let Some(rest) = line.strip_prefix("lab gateway: ") {
                demo.printed.gateway = addr(rest);
            } else if let Some(rest) = line.strip_prefix("socks5 proxy: ") {
                demo.printed.socks = addr(rest);
            } else if let Some(rest) = line.strip_prefix("http proxy: ") {
                demo.printed.http = addr(rest);
            } else if let Some(rest) = line.strip_prefix("forward: ") {
                let mut parts = rest.split_whitespace();
                if let (Some(local), Some("->"), Some(target)) =
                    (parts.next(), parts.next(), parts.next())
                {
                    if let Ok(local) = local.parse() {
                        demo.printed.forwards.push((local, target.to_owned()));
                    }
                }
            } else if line.starts_with("ready") {
                return Ok(demo);
            }
        }
    }

    /// The demo's pid.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Its stderr so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGINT (SIGKILL after 10 s) and returns the exit status.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let st = self
            .child
            .as_mut()
            .and_then(|c| netns::stop_child(c, Duration::from_secs(10)));
        self.child = None;
        st
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs a client tool with a timeout (`timeout 20 PROGRAM ARGS…`) and returns (success,
/// stdout + stderr).
pub fn tool(program: &str, args: &[&str]) -> (bool, String) {
    let out = Command::new("timeout")
        .arg("20")
        .arg(program)
        .args(args)
        .stdin(Stdio::null())
        .output();
    match out {
        Ok(o) => (
            o.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
        ),
        Err(e) => (false, format!("cannot run {program}: {e}")),
    }
}
