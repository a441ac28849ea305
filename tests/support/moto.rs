//! A moto server (PyPI `moto[server]`, the AWS API emulator) on a free loopback port, stopped on
//! drop, and the boto3 seed script beside it.
//!
//! The virtualenv comes from `$GATEHOUSE_MOTO_VENV`, else `/opt/gatehouse/moto-venv` (where
//! `scripts/install-deps.sh` puts it).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Where the moto virtualenv is looked for when `$GATEHOUSE_MOTO_VENV` is unset.
pub const DEFAULT_VENV: &str = "/opt/gatehouse/moto-venv";

/// The moto virtualenv, when it has `moto_server` and python.
pub fn venv() -> Option<PathBuf> {
    let dir = std::env::var_os("GATEHOUSE_MOTO_VENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_VENV));
    (dir.join("bin/moto_server").is_file() && dir.join("bin/python").is_file()).then_some(dir)
}

/// False (after a `SKIPPED` notice) when moto or the gatehouse binary is missing; panics
/// instead under `GATEHOUSE_E2E_REQUIRE=1`.
pub fn can_run(test: &str) -> bool {
    if venv().is_none() {
        let msg = format!(
            "{test}: needs moto[server] in {} (scripts/install-deps.sh, or set GATEHOUSE_MOTO_VENV)",
            std::env::var("GATEHOUSE_MOTO_VENV").unwrap_or_else(|_| DEFAULT_VENV.into())
        );
        assert!(!crate::required(), "{msg} (GATEHOUSE_E2E_REQUIRE=1)");
        eprintln!("SKIPPED {msg}; set GATEHOUSE_E2E_REQUIRE=1 to fail instead");
        return false;
    }
    crate::can_run(test, false, &[])
}

/// A running moto server.
pub struct Moto {
    child: Child,
    venv: PathBuf,
    /// Its address.
    pub addr: SocketAddr,
}

impl Moto {
    /// Starts `moto_server` on a free port of 127.0.0.1 with `env` added, and waits until it
    /// answers HTTP.
    pub fn start(env: &[(&str, &str)]) -> Moto {
        let venv = venv().expect("moto virtualenv (check with moto::can_run first)");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut cmd = Command::new(venv.join("bin/moto_server"));
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().expect("start moto_server");
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let moto = Moto { child, venv, addr };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if moto.answers() {
                return moto;
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not answer on {addr} within 60 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn answers(&self) -> bool {
        let Ok(mut s) = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200)) else {
            return false;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
        let req = format!(
            "GET /moto-api/ HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        );
        let mut buf = [0u8; 12];
        s.write_all(req.as_bytes()).is_ok()
            && s.read_exact(&mut buf).is_ok()
            && buf.starts_with(b"HTTP/1.")
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Runs the virtualenv's python with `args`; panics with its stderr when it fails.
    pub fn python(&self, args: &[&str]) -> Output {
        let out = Command::new(self.venv.join("bin/python"))
            .args(args)
            .output()
            .expect("run python");
        assert!(
            out.status.success(),
            "python {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// Runs `tests/support/seed_moto.py` against this server and returns what it seeded.
    pub fn seed(&self, primary: &str, secondary: &str) -> serde_json::Value {
        let script = seed_script();
        let out = self.python(&[
            script.to_str().expect("utf-8 path"),
            &self.url(),
            primary,
            secondary,
        ]);
        serde_json::from_slice(&out.stdout).expect("seed script JSON")
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The seed script's path.
pub fn seed_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("support/seed_moto.py")
}
