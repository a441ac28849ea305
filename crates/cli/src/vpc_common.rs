//! What the `vpc` and `reach`/`scan` commands share: loading topologies, the snapshot store of
//! a live import, and the reachability input of a profile. Imports no command module.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use gatehouse_vpc::model::Topology;
use gatehouse_vpc::reach::Status;
use gatehouse_vpc::snapshot::Snapshot;
use gatehouse_vpc::store::SnapshotStore;

/// A state file, `show -json` output, or a snapshot saved by `vpc import --save`.
pub(crate) fn load_topology(path: &Path) -> anyhow::Result<Topology> {
    match gatehouse_vpc::tfstate::import_file(path) {
        Ok((t, _)) => Ok(t),
        Err(gatehouse_vpc::tfstate::ImportError::NotAState { .. }) => {
            Ok(Snapshot::load(path)?.topology)
        }
        Err(e) => Err(e.into()),
    }
}

/// A state file or `show -json` output only (a snapshot is refused).
pub(crate) fn load_state(path: &Path) -> anyhow::Result<Topology> {
    Ok(gatehouse_vpc::tfstate::import_file(path)?.0)
}

/// The snapshot store of a live import, none with `--no-save`.
pub(crate) fn open_store(no_save: bool) -> anyhow::Result<Option<SnapshotStore>> {
    Ok(if no_save {
        None
    } else {
        Some(SnapshotStore::open_default()?)
    })
}

/// Saves `snap` in `store` (when there is one); the file it went to.
pub(crate) fn save_snapshot(
    store: Option<&SnapshotStore>,
    snap: &Snapshot,
) -> anyhow::Result<Option<PathBuf>> {
    store
        .map(|s| s.save(snap).context("cannot save the snapshot"))
        .transpose()
}

/// `; the previous snapshot{what} (TAKEN_AT) is kept in FILE` when `store` has one of
/// `source`, else nothing: the tail of a failed live import's error.
pub(crate) fn previous_kept(store: Option<&SnapshotStore>, source: &str, what: &str) -> String {
    match store.map(|s| (s.latest(source), s.path(source))) {
        Some((Ok(Some(prev)), Ok(path))) => format!(
            "; the previous snapshot{what} ({}) is kept in {}",
            prev.taken_at,
            path.display()
        ),
        _ => String::new(),
    }
}

/// The mark of a verdict in the text output, 7 columns wide.
pub(crate) fn status_mark(status: Status) -> &'static str {
    match status {
        Status::Reachable => "ok     ",
        Status::Blocked => "BLOCKED",
        Status::Unknown => "?      ",
    }
}

/// The reachability input of a wg-quick configuration (the product's one conversion).
pub(crate) use gatehouse_usecases::maps::tunnel_of;

/// The output of an import: `value` as pretty JSON with `--json`, else `text` and where the
/// snapshot was saved.
pub(crate) fn print_import(
    json: bool,
    value: impl FnOnce() -> serde_json::Value,
    text: impl FnOnce(),
    saved: Option<&Path>,
) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&value())?);
        return Ok(());
    }
    text();
    if let Some(p) = saved {
        println!("snapshot saved to {}", p.display());
    }
    Ok(())
}

/// Comma-separated, as the text output lists addresses and CIDRs.
pub(crate) fn joined<T: std::fmt::Display>(items: &[T]) -> String {
    let all: Vec<String> = items.iter().map(|i| i.to_string()).collect();
    all.join(",")
}

/// `{indent}{kind} NAME[ (ID)] PRIVATE_IPS[ public IP] STATE`.
/// A managed service is printed as what it is (`PostgreSQL 15 orders-db … endpoint
/// orders-db.x.rds.amazonaws.com:5432`), a group of machines as `group`, anything else as `kind`.
pub(crate) fn print_host(h: &gatehouse_vpc::model::Host, indent: &str, kind: &str, with_id: bool) {
    let id = if with_id {
        format!(" ({})", h.id)
    } else {
        String::new()
    };
    let (kind, endpoint) = match &h.service {
        Some(s) => {
            let ports: Vec<String> = s.ports.iter().map(u16::to_string).collect();
            let endpoint = match (&s.endpoint, ports.is_empty()) {
                (Some(e), false) => format!(" endpoint {e}:{}", ports.join(",")),
                (Some(e), true) => format!(" endpoint {e}"),
                (None, false) => format!(" port {}", ports.join(",")),
                (None, true) => String::new(),
            };
            (s.what(), endpoint)
        }
        None if h.is_group() => ("group".to_string(), String::new()),
        None => (kind.to_string(), String::new()),
    };
    println!(
        "{indent}{kind} {}{id} {}{}{endpoint} {}",
        h.name,
        joined(&h.private_ips),
        h.public_ip
            .map(|p| format!(" public {p}"))
            .unwrap_or_default(),
        h.state.as_deref().unwrap_or("")
    );
}

/// `vpc NAME (ID) REGION CIDRS`.
pub(crate) fn vpc_line(v: &gatehouse_vpc::model::Vpc) -> String {
    format!(
        "vpc {} ({}) {} {}",
        v.name,
        v.id,
        v.region.as_deref().unwrap_or("-"),
        joined(&v.cidrs)
    )
}
