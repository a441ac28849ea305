//! Helpers for tests that run the real `gatehouse` binary against a real Secret Service.
//!
//! The Secret Service comes from `scripts/with-keyring.sh` (a fresh `dbus-run-session` with an
//! unlocked gnome-keyring). Without a session bus the tests print a skip notice and return,
//! unless `GATEHOUSE_E2E_REQUIRE=1`, where they fail.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use crate::{gatehouse_bin, required};

/// Skips (returns false after a notice) or, with `GATEHOUSE_E2E_REQUIRE=1`, fails.
pub fn skip(test: &str, why: &str) -> bool {
    assert!(
        !required(),
        "{test}: {why} (GATEHOUSE_E2E_REQUIRE=1, so this fails instead of skipping)"
    );
    // Straight to the process's stderr, past the test harness's capture, so it is seen.
    use std::io::Write as _;
    let _ = writeln!(
        std::io::stderr(),
        "SKIP {test}: {why}; run it under scripts/with-keyring.sh"
    );
    false
}

/// True when a program is on PATH.
pub fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program} >/dev/null")])
        .status()
        .is_ok_and(|s| s.success())
}

/// True when a session bus with a Secret Service and `secret-tool` are available; otherwise
/// skips (or fails, see [`skip`]).
pub fn secret_service_available(test: &str) -> bool {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        return skip(
            test,
            "no D-Bus session bus (DBUS_SESSION_BUS_ADDRESS is unset)",
        );
    }
    if !have("secret-tool") {
        return skip(
            test,
            "secret-tool is not installed (apt-get install libsecret-tools)",
        );
    }
    let owner = Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            "string:org.freedesktop.secrets",
        ])
        .output();
    match owner {
        Ok(o) if String::from_utf8_lossy(&o.stdout).contains("boolean true") => true,
        _ => skip(
            test,
            "no Secret Service (org.freedesktop.secrets) on the session bus",
        ),
    }
}

/// The output of one `gatehouse` run, as text.
#[derive(Debug)]
pub struct Run {
    /// Exit status was success.
    pub ok: bool,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Run {
    fn from(o: Output) -> Run {
        Run {
            ok: o.status.success(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// Stdout parsed as JSON (panics with both streams when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }
}

/// `gatehouse` with its own, fresh config directory.
pub struct Gatehouse {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Default for Gatehouse {
    fn default() -> Self {
        Gatehouse::new()
    }
}

impl Gatehouse {
    /// A fresh config directory (`GATEHOUSE_CONFIG_DIR`) in a temp dir removed on drop.
    pub fn new() -> Gatehouse {
        Gatehouse {
            dir: tempfile::tempdir().expect("temp dir"),
            env: Vec::new(),
        }
    }

    /// Sets an environment variable for every run.
    pub fn env(mut self, key: &str, value: &str) -> Gatehouse {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// The config directory (created by gatehouse on first use).
    pub fn config_dir(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    /// A scratch directory beside the config dir (not inside it).
    pub fn scratch(&self) -> PathBuf {
        let p = self.dir.path().join("scratch");
        std::fs::create_dir_all(&p).expect("scratch dir");
        p
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(gatehouse_bin());
        c.args(args)
            .env("GATEHOUSE_CONFIG_DIR", self.config_dir())
            .env_remove("GATEHOUSE_VAULT_PASSPHRASE")
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            c.env(k, v);
        }
        c
    }

    /// Runs `gatehouse ARGS`.
    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.command(args).output().expect("run gatehouse"))
    }

    /// Runs `gatehouse ARGS` with extra environment.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let mut c = self.command(args);
        for (k, v) in env {
            c.env(k, v);
        }
        Run::from(c.output().expect("run gatehouse"))
    }

    /// Runs `gatehouse ARGS` with `input` on stdin.
    pub fn run_stdin(&self, args: &[&str], input: &[u8]) -> Run {
        use std::io::Write as _;
        let mut child = self
            .command(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn gatehouse");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input)
            .expect("write stdin");
        Run::from(child.wait_with_output().expect("wait gatehouse"))
    }

    /// Runs and asserts success.
    pub fn ok(&self, args: &[&str]) -> Run {
        let r = self.run(args);
        assert!(
            r.ok,
            "gatehouse {args:?} failed:\n{}\n{}",
            r.stdout, r.stderr
        );
        r
    }

    /// Every file under the config directory, recursively.
    pub fn files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            let Ok(entries) = std::fs::read_dir(dir) else {
                return;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    walk(&p, out);
                } else {
                    out.push(p);
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.config_dir(), &mut out);
        out
    }
}

/// `secret-tool lookup service gatehouse username ACCOUNT`: the stored text, or `None`.
pub fn secret_tool_lookup(account: &str) -> Option<String> {
    let o = Command::new("secret-tool")
        .args(["lookup", "service", "gatehouse", "username", account])
        .output()
        .expect("run secret-tool");
    let text = String::from_utf8_lossy(&o.stdout).trim().to_string();
    (o.status.success() && !text.is_empty()).then_some(text)
}

/// A private D-Bus session bus with no services at all (no activation), so nothing provides
/// `org.freedesktop.secrets` on it. Killed on drop.
pub struct BareBus {
    child: Child,
    dir: tempfile::TempDir,
}

impl BareBus {
    /// Starts `dbus-daemon` with a minimal session config; `None` when it is not installed.
    pub fn start() -> Option<BareBus> {
        if !have("dbus-daemon") {
            return None;
        }
        let dir = tempfile::tempdir().ok()?;
        let sock = dir.path().join("bus");
        let conf = dir.path().join("bus.conf");
        std::fs::write(
            &conf,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={}</listen>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                sock.display()
            ),
        )
        .ok()?;
        let child = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", conf.display()))
            .arg("--nofork")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let bus = BareBus { child, dir };
        let deadline = Instant::now() + Duration::from_secs(5);
        while !sock.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        sock.exists().then_some(bus)
    }

    /// The bus address for `DBUS_SESSION_BUS_ADDRESS`.
    pub fn address(&self) -> String {
        format!("unix:path={}", self.dir.path().join("bus").display())
    }
}

impl Drop for BareBus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
