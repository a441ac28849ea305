//! The snapshot store: the last good snapshot of each source (`aws:default:eu-west-1,us-east-1`,
//! `digitalocean`…), one file per source in a directory.
//!
//! A live import saves here only after it succeeded, and every save is atomic (the bytes
//! [`Snapshot::save`] writes go to a temporary file in the same directory, which is made 0600,
//! fsynced and renamed over the previous file, then the directory is fsynced), so a failed or
//! interrupted import leaves the previous snapshot byte for byte as it was.
//!
//! The default directory is `<config dir>/snapshots`, the config dir being
//! `$GATEHOUSE_CONFIG_DIR`, else `<XDG config dir>/gatehouse` (the profile store's convention).
//! Directories are created 0700.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::probe::ProbeResult;
use crate::snapshot::{Snapshot, SnapshotError};

/// The file of the last probe results (`gatehouse scan`), beside the snapshots.
pub const PROBES_FILE: &str = "last-probes.json";

/// The results of the last scan, for reachability's "last live probe".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProbeLog {
    /// When the scan finished (Unix seconds).
    pub unix: u64,
    /// What the scan went through (`os`, `no-root`, `demo`).
    pub path: String,
    /// Every probe's result.
    pub results: Vec<ProbeResult>,
}

/// Environment variable that overrides the config directory (shared with the profile store).
pub const CONFIG_DIR_ENV: &str = "GATEHOUSE_CONFIG_DIR";

/// Name of the store's directory inside the config directory.
pub const SNAPSHOTS_DIR: &str = "snapshots";

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Neither `$GATEHOUSE_CONFIG_DIR` nor a user config directory is known.
    #[error("no config directory: set {CONFIG_DIR_ENV} or HOME/XDG_CONFIG_HOME")]
    NoConfigDir,
    /// A source name that cannot name a snapshot (empty).
    #[error("invalid snapshot source {0:?}: it is empty")]
    InvalidSource(String),
    /// A file or directory of the store could not be read or written.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// A stored snapshot could not be read or written.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// The probe log is not what [`SnapshotStore::save_probes`] writes.
    #[error("{path}: not a probe log: {detail}")]
    BadProbeLog {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The file holds the snapshot of another source (a renamed or hand-copied file).
    #[error("{path}: holds the snapshot of {found:?}, not {expected:?}")]
    WrongSource {
        /// The file.
        path: PathBuf,
        /// The source asked for.
        expected: String,
        /// The source in the file.
        found: String,
    },
}

/// A directory holding the last good snapshot of each source.
#[derive(Debug, Clone)]
pub struct SnapshotStore {
    dir: PathBuf,
}

/// The default store directory: `$GATEHOUSE_CONFIG_DIR/snapshots`, else
/// `<XDG config dir>/gatehouse/snapshots`.
pub fn default_dir() -> Result<PathBuf, StoreError> {
    if let Some(dir) = std::env::var_os(CONFIG_DIR_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join(SNAPSHOTS_DIR));
    }
    dirs::config_dir()
        .map(|d| d.join("gatehouse").join(SNAPSHOTS_DIR))
        .ok_or(StoreError::NoConfigDir)
}

/// The file name of a source: letters, digits, `-`, `.` and `_` as they are, every other byte
/// percent-encoded (`aws:default:eu-west-1` → `aws%3Adefault%3Aeu-west-1.json`), so distinct
/// sources never share a file and no source escapes the directory.
pub fn file_name(source: &str) -> String {
    let mut out = String::with_capacity(source.len() + 5);
    for b in source.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_') || (b == b'.' && !out.is_empty()) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out.push_str(".json");
    out
}

impl SnapshotStore {
    /// The store in `dir` (created 0700 on first save, not here).
    pub fn open(dir: impl Into<PathBuf>) -> SnapshotStore {
        SnapshotStore { dir: dir.into() }
    }

    /// The store in [`default_dir`].
    pub fn open_default() -> Result<SnapshotStore, StoreError> {
        Ok(SnapshotStore::open(default_dir()?))
    }

    /// Its directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file that holds the snapshot of `source`.
    pub fn path(&self, source: &str) -> Result<PathBuf, StoreError> {
        if source.is_empty() {
            return Err(StoreError::InvalidSource(source.to_string()));
        }
        Ok(self.dir.join(file_name(source)))
    }

    /// The last good snapshot of `source`, `None` when there is none yet.
    pub fn latest(&self, source: &str) -> Result<Option<Snapshot>, StoreError> {
        let path = self.path(source)?;
        match fs::symlink_metadata(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StoreError::Io {
                    action: "read",
                    path,
                    source,
                })
            }
            Ok(_) => {}
        }
        let snap = Snapshot::load(&path)?;
        if snap.source != source {
            return Err(StoreError::WrongSource {
                path,
                expected: source.to_string(),
                found: snap.source,
            });
        }
        Ok(Some(snap))
    }

    /// Saves `snap` as the last good snapshot of `snap.source`, atomically, mode 0600; returns
    /// the file it went to.
    pub fn save(&self, snap: &Snapshot) -> Result<PathBuf, StoreError> {
        let path = self.path(&snap.source)?;
        self.commit(&path, |tmp| Ok(snap.save(tmp)?))?;
        Ok(path)
    }

    /// Saves the results of a scan as the last probes, atomically, mode 0600.
    pub fn save_probes(&self, log: &ProbeLog) -> Result<PathBuf, StoreError> {
        let path = self.dir.join(PROBES_FILE);
        let bytes = serde_json::to_vec_pretty(log).map_err(|e| StoreError::BadProbeLog {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        self.commit(&path, |tmp| {
            fs::write(tmp, &bytes).map_err(|source| StoreError::Io {
                action: "write",
                path: tmp.to_path_buf(),
                source,
            })
        })?;
        Ok(path)
    }

    /// The last scan's results, `None` when there was no scan yet.
    pub fn latest_probes(&self) -> Result<Option<ProbeLog>, StoreError> {
        let path = self.dir.join(PROBES_FILE);
        let bytes = match fs::read(&path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StoreError::Io {
                    action: "read",
                    path,
                    source,
                })
            }
            Ok(b) => b,
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| StoreError::BadProbeLog {
                path,
                detail: e.to_string(),
            })
    }

    /// Writes `path` through `write` (which fills a temporary file in the 0700 directory), then
    /// makes it 0600, fsyncs it, renames it over `path` and fsyncs the directory; on failure the
    /// temporary file is removed and `path` is untouched.
    fn commit(
        &self,
        path: &Path,
        write: impl FnOnce(&Path) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let io_err = |action: &'static str, p: &Path| {
            let p = p.to_path_buf();
            move |source| StoreError::Io {
                action,
                path: p,
                source,
            }
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(io_err("create", &self.dir))?;
        fs::set_permissions(&self.dir, fs::Permissions::from_mode(0o700))
            .map_err(io_err("set the mode of", &self.dir))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = self.dir.join(format!(".{name}.new{}", std::process::id()));
        let result = (|| {
            write(&tmp)?;
            fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600))
                .map_err(io_err("set the mode of", &tmp))?;
            fs::File::open(&tmp)
                .and_then(|f| f.sync_all())
                .map_err(io_err("sync", &tmp))?;
            fs::rename(&tmp, path).map_err(io_err("replace", path))?;
            fs::File::open(&self.dir)
                .and_then(|d| d.sync_all())
                .map_err(io_err("sync", &self.dir))?;
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Provider, Topology, Vpc};

    fn topo(id: &str) -> Topology {
        Topology {
            vpcs: vec![Vpc {
                id: id.into(),
                name: id.into(),
                provider: Provider::Aws,
                region: Some("eu-west-1".into()),
                cidrs: vec!["10.0.0.0/16".parse().unwrap()],
                main_route_table: None,
                tags: Default::default(),
                placeholder: false,
            }],
            ..Topology::default()
        }
    }

    #[test]
    fn file_names_are_distinct_and_stay_in_the_directory() {
        assert_eq!(
            file_name("aws:default:eu-west-1,us-east-1"),
            "aws%3Adefault%3Aeu-west-1%2Cus-east-1.json"
        );
        assert_eq!(file_name("digitalocean"), "digitalocean.json");
        assert_ne!(file_name("a:b"), file_name("a_b"));
        assert_eq!(file_name("../x"), "%2E.%2Fx.json");
        assert_eq!(file_name("a/b"), "a%2Fb.json");
        assert!(!file_name("..").contains('/'));
    }

    #[test]
    fn save_latest_and_modes() {
        let d = tempfile::tempdir().unwrap();
        let store = SnapshotStore::open(d.path().join("snaps"));
        assert!(store.latest("aws:default:eu-west-1").unwrap().is_none());
        let a = Snapshot::at(1_795_666_662, "aws:default:eu-west-1", topo("vpc-1"));
        let path = store.save(&a).unwrap();
        assert_eq!(store.latest("aws:default:eu-west-1").unwrap(), Some(a));
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(store.dir()), 0o700);

        // A second save replaces it; no temporary file is left behind.
        let b = Snapshot::at(1_795_666_700, "aws:default:eu-west-1", topo("vpc-2"));
        store.save(&b).unwrap();
        assert_eq!(store.latest("aws:default:eu-west-1").unwrap(), Some(b));
        let names: Vec<_> = fs::read_dir(store.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");

        // Other sources are apart.
        assert!(store.latest("digitalocean").unwrap().is_none());
        assert!(matches!(
            store.latest(""),
            Err(StoreError::InvalidSource(_))
        ));
    }

    #[test]
    fn a_failed_save_leaves_other_files_alone_and_no_temporary_file() {
        let d = tempfile::tempdir().unwrap();
        let store = SnapshotStore::open(d.path());
        let a = Snapshot::at(1, "aws:p:r", topo("vpc-1"));
        let kept = store.save(&a).unwrap();
        let before = fs::read(&kept).unwrap();
        // The target of another source is a non-empty directory: the rename fails.
        let blocked = store.path("digitalocean").unwrap();
        fs::create_dir(&blocked).unwrap();
        fs::write(blocked.join("x"), b"x").unwrap();
        let e = store
            .save(&Snapshot::at(2, "digitalocean", topo("vpc-2")))
            .unwrap_err();
        assert!(e.to_string().contains("digitalocean.json"), "{e}");
        let names: Vec<_> = fs::read_dir(store.dir()).unwrap().collect();
        assert_eq!(names.len(), 2, "the temporary file was removed");
        assert_eq!(fs::read(&kept).unwrap(), before);
    }

    #[test]
    fn damaged_or_foreign_files_are_errors() {
        let d = tempfile::tempdir().unwrap();
        let store = SnapshotStore::open(d.path());
        let path = store.path("digitalocean").unwrap();
        fs::write(&path, "{").unwrap();
        let e = store.latest("digitalocean").unwrap_err();
        assert!(e.to_string().contains("digitalocean.json:1:"), "{e}");
        let other = Snapshot::at(1, "aws:default:eu-west-1", topo("vpc-1"));
        other.save(&path).unwrap();
        assert!(matches!(
            store.latest("digitalocean"),
            Err(StoreError::WrongSource { .. })
        ));
    }

    #[test]
    fn probe_log_round_trip_and_damage() {
        use crate::probe::{Outcome, ProbeResult, Target};
        let d = tempfile::tempdir().unwrap();
        let store = SnapshotStore::open(d.path().join("snaps"));
        assert_eq!(store.latest_probes().unwrap(), None);
        let log = ProbeLog {
            unix: 1_700_000_000,
            path: "os".into(),
            results: vec![ProbeResult {
                target: Target {
                    ip: "10.20.1.10".parse().unwrap(),
                    port: 5432,
                    name: Some("db-1".into()),
                },
                outcome: Outcome::Timeout,
                elapsed_ms: 1500,
            }],
        };
        let path = store.save_probes(&log).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(store.latest_probes().unwrap(), Some(log.clone()));
        fs::write(&path, "[1, 2").unwrap();
        let e = store.latest_probes().unwrap_err();
        assert!(
            e.to_string().contains("last-probes.json: not a probe log"),
            "{e}"
        );
        let names: Vec<_> = fs::read_dir(store.dir()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left");
    }
}
