//! `gatehouse service install|uninstall`: the systemd unit that runs `gatehouse daemon`, and
//! the `gatehouse` group whose members may use it.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

/// Arguments of `gatehouse service`.
#[derive(clap::Args)]
pub struct ServiceArgs {
    #[command(subcommand)]
    action: ServiceAction,
}

#[derive(clap::Subcommand)]
enum ServiceAction {
    /// Write the systemd unit, create the group, enable and start the service.
    Install(InstallArgs),
    /// Stop and disable the service, remove the unit and the group.
    Uninstall(UninstallArgs),
}

#[derive(clap::Args)]
struct InstallArgs {
    /// Where the unit goes.
    #[arg(long, default_value = "/etc/systemd/system")]
    unit_dir: PathBuf,
    /// The gatehouse binary the unit runs (default: this one).
    #[arg(long)]
    bin: Option<PathBuf>,
    /// Write the unit and create the group, but do not enable or start the service.
    #[arg(long)]
    no_start: bool,
}

#[derive(clap::Args)]
struct UninstallArgs {
    /// Where the unit is.
    #[arg(long, default_value = "/etc/systemd/system")]
    unit_dir: PathBuf,
    /// Keep the group (and so its members' access once reinstalled).
    #[arg(long)]
    keep_group: bool,
}

const UNIT: &str = "gatehouse.service";

/// The unit text for `bin`.
fn unit_text(bin: &Path) -> String {
    format!(
        "# Written by `gatehouse service install`; removed by `gatehouse service uninstall`.\n\
         [Unit]\n\
         Description=Gatehouse WireGuard service\n\
         After=network-online.target\n\
         Wants=network-online.target\n\
         \n\
         [Service]\n\
         Type=simple\n\
         ExecStart={} daemon --socket /run/gatehouse/gatehouse.sock --state-dir /var/lib/gatehouse\n\
         Restart=on-failure\n\
         RuntimeDirectory=gatehouse\n\
         RuntimeDirectoryMode=0755\n\
         StateDirectory=gatehouse\n\
         StateDirectoryMode=0700\n\
         KillSignal=SIGTERM\n\
         TimeoutStopSec=30\n\
         \n\
         [Install]\n\
         WantedBy=multi-user.target\n",
        bin.display()
    )
}

fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

fn run_cmd(program: &str, args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new(program)
        .args(args)
        .output()
        .with_context(|| format!("cannot run {program}"))?;
    if !out.status.success() {
        bail!(
            "{program} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn group_exists(name: &str) -> bool {
    matches!(nix_group(name), Some(true))
}

fn nix_group(name: &str) -> Option<bool> {
    Command::new("getent")
        .args(["group", name])
        .output()
        .ok()
        .map(|o| o.status.success())
}

/// systemd is the running init (as sd_booted(3) checks).
fn systemd_running() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

/// Runs `gatehouse service …`.
pub fn run(args: ServiceArgs) -> anyhow::Result<()> {
    if euid() != 0 {
        bail!("gatehouse service install/uninstall changes the system: run it with sudo");
    }
    match args.action {
        ServiceAction::Install(a) => install(a),
        ServiceAction::Uninstall(a) => uninstall(a),
    }
}

fn install(a: InstallArgs) -> anyhow::Result<()> {
    let group = gatehouse_ipc::GROUP;
    if group_exists(group) {
        println!("group {group} exists");
    } else {
        run_cmd("groupadd", &["--system", group])?;
        println!("created group {group}");
    }
    let bin = match a.bin {
        Some(b) => b,
        None => std::env::current_exe().context("cannot find this program's path")?,
    };
    let bin = bin
        .canonicalize()
        .with_context(|| format!("{}", bin.display()))?;
    std::fs::create_dir_all(&a.unit_dir)
        .with_context(|| format!("cannot create {}", a.unit_dir.display()))?;
    let unit = a.unit_dir.join(UNIT);
    std::fs::write(&unit, unit_text(&bin))
        .with_context(|| format!("cannot write {}", unit.display()))?;
    println!("wrote {}", unit.display());
    if a.no_start {
        return Ok(());
    }
    if systemd_running() {
        run_cmd("systemctl", &["daemon-reload"])?;
        run_cmd("systemctl", &["enable", "--now", UNIT])?;
        println!("service enabled and started");
    } else {
        println!(
            "systemd is not running here: start `{} daemon` by other means",
            bin.display()
        );
    }
    println!(
        "users in group {group} may now connect without sudo: `sudo usermod -aG {group} $USER`, \
         then log out and in again"
    );
    Ok(())
}

fn uninstall(a: UninstallArgs) -> anyhow::Result<()> {
    let unit = a.unit_dir.join(UNIT);
    if systemd_running() {
        // Stopping disconnects every tunnel (SIGTERM) before the unit goes.
        if let Err(e) = run_cmd("systemctl", &["disable", "--now", UNIT]) {
            println!("warning: {e}");
        }
    }
    match std::fs::remove_file(&unit) {
        Ok(()) => println!("removed {}", unit.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            println!("{} was not installed", unit.display())
        }
        Err(e) => return Err(e).with_context(|| format!("cannot remove {}", unit.display())),
    }
    if systemd_running() {
        run_cmd("systemctl", &["daemon-reload"])?;
    }
    let group = gatehouse_ipc::GROUP;
    if !a.keep_group && group_exists(group) {
        run_cmd("groupdel", &[group])?;
        println!("removed group {group}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_runs_the_daemon_with_its_directories() {
        let t = unit_text(Path::new("/usr/bin/gatehouse"));
        assert!(t.contains(
            "ExecStart=/usr/bin/gatehouse daemon --socket /run/gatehouse/gatehouse.sock"
        ));
        assert!(t.contains("RuntimeDirectoryMode=0755"));
        assert!(t.contains("StateDirectory=gatehouse"));
        assert!(t.contains("WantedBy=multi-user.target"));
    }
}
