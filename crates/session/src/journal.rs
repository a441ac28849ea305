//! The journal of host changes: one file per tunnel under `STATE_DIR/journal/`, written
//! (atomically, 0600) *before* each change, so a crash leaves a description of everything that
//! may need undoing.
//!
//! `gatehouse-os` reports what it changed only once [`gatehouse_os::apply`] returns, so a
//! tunnel's entry goes through two phases: [`Phase::Planned`] (the [`HostConfig`] about to be
//! applied and the kill switch about to be installed) and [`Phase::Applied`] (the exact undo
//! list). [`recover`] undoes either: the exact list, or for a plan the changes the plan implies
//! (nftables tables, policy rules, endpoint routes, DNS); routes and addresses on the TUN
//! interface vanish with the interface when the process dies.

use std::path::{Path, PathBuf};

use gatehouse_os::{Applied, HostConfig, UndoAction};
use serde::{Deserialize, Serialize};

/// The journal format version.
const VERSION: u32 = 1;

/// What a tunnel did or is about to do to the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// About to apply `host` (and the kill switch).
    Planned {
        /// The configuration handed to `gatehouse_os::apply`.
        host: HostConfig,
    },
    /// Applied; `applied` undoes it.
    Applied {
        /// The os crate's undo list.
        applied: Applied,
    },
}

/// One tunnel's journal entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Format version.
    pub version: u32,
    /// The profile name.
    pub name: String,
    /// The TUN interface.
    pub interface: String,
    /// Whether the kill switch is (about to be) installed.
    pub kill_switch: bool,
    /// Where the host changes stand.
    #[serde(flatten)]
    pub phase: Phase,
    /// The process that made the changes (entries written before owners were recorded have
    /// none and are always recovered).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Owner>,
}

/// The process behind a journal entry: the service or a foreground `gatehouse up` share one
/// journal, so a starting process undoes only what a process that is gone left behind, in its
/// own network namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    /// Its process id.
    pub pid: u32,
    /// Its start time (field 22 of `/proc/PID/stat`, clock ticks since boot): a reused pid
    /// has another.
    pub start: u64,
    /// Its network namespace (`/proc/self/ns/net`, e.g. `net:[4026531840]`).
    pub netns: String,
}

impl Owner {
    /// This process.
    pub fn this_process() -> Owner {
        let pid = std::process::id();
        Owner {
            pid,
            start: process_start(pid).unwrap_or(0),
            netns: current_netns(),
        }
    }

    /// Whether the owner still runs (same pid, same start time).
    pub fn alive(&self) -> bool {
        process_start(self.pid).is_some_and(|s| s == self.start)
    }

    /// Whether a process here may undo this entry: it is in the same network namespace and the
    /// owner is gone (or is this very process).
    pub fn may_recover(&self) -> bool {
        self.netns == current_netns() && (self.pid == std::process::id() || !self.alive())
    }
}

/// The network namespace of this process.
fn current_netns() -> String {
    std::fs::read_link("/proc/self/ns/net")
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A process's start time in clock ticks since boot, `None` when it does not exist.
fn process_start(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count after it.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// One file of the journal and what it holds (or why it cannot be read).
pub type JournalFile = (PathBuf, Result<Entry, JournalError>);

/// The journal directory.
#[derive(Debug, Clone)]
pub struct Journal {
    dir: PathBuf,
}

/// A journal file that could not be written, read or replayed.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// Filesystem error on `path`.
    #[error("journal {}: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The file is not a journal entry.
    #[error("journal {}: not a valid entry: {message}", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// The parse error (line and column).
        message: String,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> JournalError + '_ {
    move |source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Journal {
    /// The journal under `state_dir` (created 0700 when missing).
    pub fn open(state_dir: &Path) -> Result<Journal, JournalError> {
        use std::os::unix::fs::DirBuilderExt;
        let dir = state_dir.join("journal");
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(io(&dir))?;
        Ok(Journal { dir })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, interface: &str) -> PathBuf {
        self.dir.join(format!("{interface}.json"))
    }

    /// Records `entry`, replacing the interface's previous one: written to a temporary file,
    /// synced, renamed over, directory synced.
    pub fn write(&self, entry: &Entry) -> Result<(), JournalError> {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let path = self.path(&entry.interface);
        let tmp = self.dir.join(format!(".{}.json.tmp", entry.interface));
        let text = serde_json::to_vec_pretty(entry).map_err(|e| JournalError::Corrupt {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io(&tmp))?;
        f.write_all(&text).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        drop(f);
        std::fs::rename(&tmp, &path).map_err(io(&path))?;
        if let Ok(d) = std::fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }

    /// Forgets the interface's entry (everything was undone).
    pub fn remove(&self, interface: &str) -> Result<(), JournalError> {
        let path = self.path(interface);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io(&path)(e)),
        }
    }

    /// Every entry present, with its file; unreadable files are reported as errors.
    pub fn entries(&self) -> Result<Vec<JournalFile>, JournalError> {
        let mut out = Vec::new();
        for item in std::fs::read_dir(&self.dir).map_err(io(&self.dir))? {
            let item = item.map_err(io(&self.dir))?;
            let path = item.path();
            if path.extension().is_none_or(|x| x != "json")
                || path
                    .file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            {
                continue;
            }
            let parsed = std::fs::read(&path).map_err(io(&path)).and_then(|bytes| {
                serde_json::from_slice::<Entry>(&bytes).map_err(|e| JournalError::Corrupt {
                    path: path.clone(),
                    message: e.to_string(),
                })
            });
            out.push((path, parsed));
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}

impl Entry {
    /// A new entry in [`Phase::Planned`].
    pub fn planned(name: &str, host: &HostConfig, kill_switch: bool) -> Entry {
        Entry {
            version: VERSION,
            name: name.to_owned(),
            interface: host.interface.clone(),
            kill_switch,
            phase: Phase::Planned { host: host.clone() },
            owner: Some(Owner::this_process()),
        }
    }

    /// The undo actions this entry implies (newest last, as `Applied::actions`).
    pub fn undo_actions(&self) -> Vec<UndoAction> {
        match &self.phase {
            Phase::Applied { applied } => applied.actions.clone(),
            Phase::Planned { host } => plan_undo(host),
        }
    }
}

/// What applying `host` may have changed that outlives the interface, as undo actions.
fn plan_undo(host: &HostConfig) -> Vec<UndoAction> {
    use gatehouse_os::dns::DnsUndo;
    use gatehouse_os::firewall::FirewallUndo;
    use gatehouse_os::net::NetUndo;
    let plan = gatehouse_os::Plan::compute(host, |_| false);
    let mut actions = Vec::new();
    for ip in &plan.endpoint_bypass {
        actions.push(UndoAction::Net(NetUndo::DeleteRoute {
            table: gatehouse_os::net::MAIN_TABLE,
            destination: ipnet::IpNet::from(*ip),
            interface: None,
            gateway: None,
        }));
    }
    for rule in &plan.rules {
        actions.push(UndoAction::Net(NetUndo::DeleteRule(*rule)));
    }
    for spec in &plan.firewall {
        actions.push(UndoAction::Firewall(FirewallUndo::DeleteNftTable {
            family: gatehouse_os::firewall::nft_family(spec.family).to_owned(),
            name: gatehouse_os::firewall::nft_table_name(&host.interface),
        }));
    }
    if !host.dns.servers.is_empty() {
        actions.push(UndoAction::Dns(DnsUndo::ResolvedRevert {
            interface: host.interface.clone(),
        }));
    }
    actions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(default_route: bool) -> HostConfig {
        let n = |s: &str| s.parse::<ipnet::IpNet>().unwrap_or_else(|e| panic!("{e}"));
        HostConfig {
            interface: "gh7".into(),
            addresses: vec![n("10.9.0.2/32")],
            mtu: None,
            allowed_ips: vec![if default_route {
                n("0.0.0.0/0")
            } else {
                n("10.9.0.0/24")
            }],
            table: gatehouse_os::Table::Auto,
            fwmark: None,
            endpoints: vec!["192.0.2.1".parse().unwrap_or_else(|_| unreachable!())],
            dns: gatehouse_os::DnsConfig {
                servers: vec!["10.9.0.1".parse().unwrap_or_else(|_| unreachable!())],
                search: vec![],
            },
        }
    }

    #[test]
    fn entries_are_written_read_and_removed() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let j = Journal::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let e = Entry::planned("home", &host(true), true);
        j.write(&e).unwrap_or_else(|e| panic!("{e}"));
        let mode = std::fs::metadata(j.dir().join("gh7.json"))
            .map(|m| std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777)
            .unwrap_or(0);
        assert_eq!(mode, 0o600);
        std::fs::write(j.dir().join("junk.json"), b"{not json").unwrap_or_else(|e| panic!("{e}"));
        let all = j.entries().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(all.len(), 2);
        let good: Vec<_> = all.iter().filter_map(|(_, r)| r.as_ref().ok()).collect();
        assert_eq!(good, vec![&e]);
        let bad = all
            .iter()
            .find_map(|(_, r)| r.as_ref().err())
            .map(|e| e.to_string());
        assert!(bad.is_some_and(|m| m.contains("junk.json")));
        j.remove("gh7").unwrap_or_else(|e| panic!("{e}"));
        j.remove("gh7").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(j.entries().map(|v| v.len()).unwrap_or(9), 1);
    }

    #[test]
    fn a_plan_implies_rules_tables_and_dns_to_undo() {
        let full = Entry::planned("home", &host(true), true).undo_actions();
        assert!(full.iter().any(|a| matches!(
            a,
            UndoAction::Net(gatehouse_os::net::NetUndo::DeleteRule(_))
        )));
        assert!(full.iter().any(|a| matches!(a, UndoAction::Firewall(_))));
        assert!(full.iter().any(|a| matches!(a, UndoAction::Dns(_))));
        let split = Entry::planned("home", &host(false), false).undo_actions();
        assert!(!split.iter().any(|a| matches!(a, UndoAction::Firewall(_))));
    }

    #[test]
    fn owners_are_recovered_only_when_gone_and_in_this_namespace() {
        let me = Owner::this_process();
        assert!(me.start > 0, "no start time read for this process");
        assert!(me.alive());
        assert!(me.may_recover(), "this process may undo its own entries");
        // Another live process (pid 1, whatever it is) is left alone.
        let init = Owner {
            pid: 1,
            start: process_start(1).unwrap_or(0),
            netns: me.netns.clone(),
        };
        assert!(init.alive() && !init.may_recover());
        // The same pid with another start time is a reused pid: the owner is gone.
        let reused = Owner {
            start: init.start + 1,
            ..init.clone()
        };
        assert!(!reused.alive() && reused.may_recover());
        // A gone owner in another namespace: left for a process in that namespace.
        let elsewhere = Owner {
            netns: "net:[1]".into(),
            ..reused
        };
        assert!(!elsewhere.may_recover());
        // Old entries without an owner still parse.
        let mut e = Entry::planned("home", &host(false), false);
        e.owner = None;
        let text = serde_json::to_string(&e).unwrap_or_else(|e| panic!("{e}"));
        assert!(!text.contains("owner"));
        let back: Entry = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, e);
    }
}
