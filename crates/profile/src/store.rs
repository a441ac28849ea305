//! The profile store: one file per profile in the user's config directory, without secrets.
//!
//! Layout of the config directory ([`config_dir`]: `$GATEHOUSE_CONFIG_DIR`, else
//! `<XDG config dir>/gatehouse`), every directory 0700 and every file 0600:
//!
//! * `profiles/<id>.json`: one profile ([`ProfileInfo`] fields and the canonical wg-quick text
//!   with the `PrivateKey` and `PresharedKey` lines removed, plus the names of the secret slots).
//!   The file is named by the profile's stable random id, so a rename rewrites one field.
//! * `settings.json`: which secret backend is in use ([`BackendKind`]).
//! * `vault.age`: the encrypted vault, only when the vault backend is enabled.
//!
//! Secrets go to the [`Backend`] (OS keyring or vault) under the profile's id. Every write is
//! atomic (temp file in the same directory, fsync, rename, fsync of the directory) and an import
//! is all or nothing: secrets first, then the profile file; whichever fails undoes the rest.

use crate::files::random_hex;
pub use crate::files::{ensure_private_dir, write_atomic};
use crate::key::{Key, Secret};
use crate::model::Config;
use crate::parse::{parse, ParseError};
use crate::secrets::{account, Backend, BackendKind, Keyring, SecretError, Slot};
use crate::vault::Vault;
use crate::write::write;
use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Environment variable that overrides the config directory (tests, portable installs).
pub const CONFIG_DIR_ENV: &str = "GATEHOUSE_CONFIG_DIR";

/// The longest profile name accepted, in characters.
pub const MAX_NAME_LEN: usize = 64;

const PROFILES_DIR: &str = "profiles";
const SETTINGS_FILE: &str = "settings.json";
const FORMAT_VERSION: u32 = 1;

/// Why a store operation failed. Never contains a secret.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Neither `$GATEHOUSE_CONFIG_DIR` nor a user config directory is known.
    #[error("no config directory: set {CONFIG_DIR_ENV} or HOME/XDG_CONFIG_HOME")]
    NoConfigDir,
    /// A file or directory of the store could not be read or written.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done (`read`, `write`, `remove`, `create`…).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: io::Error,
    },
    /// The profile name is not acceptable.
    #[error("invalid profile name {name:?}: {reason}")]
    InvalidName {
        /// The rejected name.
        name: String,
        /// Why it is rejected.
        reason: &'static str,
    },
    /// Another profile already has this name.
    #[error("a profile named {0:?} already exists")]
    NameTaken(String),
    /// No profile has this name or id.
    #[error("no profile named {0:?} (see `gatehouse profile list`)")]
    NotFound(String),
    /// A stored profile file is damaged.
    #[error("the stored profile {path} is damaged: {detail}")]
    Corrupt {
        /// The profile file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The wg-quick text inside a stored profile file does not parse.
    #[error("the stored profile {path} holds an invalid configuration: {source}")]
    StoredConfig {
        /// The profile file.
        path: PathBuf,
        /// The parse error.
        source: Box<ParseError>,
    },
    /// The configuration cannot be written as wg-quick text and read back unchanged (e.g. a hook
    /// command containing `#`), so storing it would change it.
    #[error("profile {0:?} cannot be stored unchanged: its wg-quick text does not read back the same (a hook command with '#' or a line break?)")]
    NotRepresentable(String),
    /// A secret the profile file lists is missing from the secret backend.
    #[error("the {slot} key of profile {profile:?} is missing from the {backend}")]
    MissingSecret {
        /// The profile name.
        profile: String,
        /// The slot (`private` or `psk/<peer public key>`).
        slot: String,
        /// Where it was looked for.
        backend: BackendKind,
    },
    /// The secret backend failed (the message says why and how to fix it).
    #[error(transparent)]
    Secrets(#[from] SecretError),
}

fn io_err<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> StoreError + 'a {
    move |source| StoreError::Io {
        action,
        path: path.to_path_buf(),
        source,
    }
}

/// The config directory: `$GATEHOUSE_CONFIG_DIR`, else `<XDG config dir>/gatehouse`.
pub fn config_dir() -> Result<PathBuf, StoreError> {
    if let Some(dir) = std::env::var_os(CONFIG_DIR_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    dirs::config_dir()
        .map(|d| d.join("gatehouse"))
        .ok_or(StoreError::NoConfigDir)
}

fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Checks a profile name: 1 to [`MAX_NAME_LEN`] characters, no path separator, no control
/// character, no surrounding whitespace, not `.`/`..`, not starting with `-` or `.`.
pub fn validate_name(name: &str) -> Result<(), StoreError> {
    let bad = |reason| {
        Err(StoreError::InvalidName {
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.chars().count() > MAX_NAME_LEN {
        return bad("it is longer than 64 characters");
    }
    if name.contains('/') || name.contains('\\') {
        return bad("it contains a path separator ('/' or '\\')");
    }
    if name.chars().any(char::is_control) {
        return bad("it contains a control character");
    }
    if name.trim() != name {
        return bad("it starts or ends with whitespace");
    }
    if name.starts_with('.') {
        return bad("it starts with '.'");
    }
    if name.starts_with('-') {
        return bad("it starts with '-' (it would read as an option)");
    }
    Ok(())
}

/// Turns a file stem into a valid name: separators, whitespace and control characters become
/// `-`, leading `-`/`.` are dropped, long stems are cut; an empty result becomes `profile`.
pub fn sanitize_name(stem: &str) -> String {
    let mapped: String = stem
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() || c.is_whitespace() {
                '-'
            } else {
                c
            }
        })
        .collect();
    let trimmed = mapped.trim_start_matches(['-', '.']).trim_end_matches('-');
    // Leave room for a "-NN" suffix.
    let cut: String = trimmed.chars().take(MAX_NAME_LEN - 4).collect();
    if cut.is_empty() {
        "profile".to_string()
    } else {
        cut
    }
}

/// How the name given to [`Store::import`] is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameChoice {
    /// Use exactly this name; fail with [`StoreError::NameTaken`] if it is used.
    Exact,
    /// A suggestion (a file stem): sanitized, then made unique (`wg0`, `wg0-2`, `wg0-3`, …).
    Suggested,
}

/// What the store knows about a profile besides its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileInfo {
    /// Stable random id (32 hex digits); secrets are keyed by it.
    pub id: String,
    /// The user-visible, unique name.
    pub name: String,
    /// Whether PreUp/PostUp/PreDown/PostDown commands may run. Off unless the user turns it on.
    pub hooks_enabled: bool,
    /// When the profile was imported (Unix seconds).
    pub created_unix: u64,
    /// The file name it was imported from, if any.
    pub source: Option<String>,
    /// Which secrets the backend holds for it.
    pub secret_slots: Vec<Slot>,
    /// The interface's public key (derived from the private key at import; not secret).
    pub public_key: Option<Key>,
    /// The profile file.
    pub path: PathBuf,
}

/// A stored profile: its metadata and configuration (with or without secrets, see
/// [`Store::load`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// Metadata.
    pub info: ProfileInfo,
    /// The configuration.
    pub config: Config,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct ProfileFile {
    format: u32,
    id: String,
    name: String,
    hooks_enabled: bool,
    created_unix: u64,
    source: Option<String>,
    secrets: Vec<String>,
    #[serde(default)]
    public_key: Option<Key>,
    config: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Settings {
    secret_backend: BackendKind,
}

/// The profile store in one config directory.
#[derive(Debug)]
pub struct Store {
    dir: PathBuf,
    kind: BackendKind,
    backend: Option<Backend>,
}

/// The configuration without its secrets, and the secrets by slot.
fn split_secrets(config: &Config) -> (Config, Vec<(Slot, Secret)>) {
    let mut bare = config.clone();
    let mut secrets = Vec::new();
    if let Some(k) = bare.interface.private_key.take() {
        secrets.push((Slot::Private, k));
    }
    for peer in &mut bare.peers {
        if let Some(k) = peer.preshared_key.take() {
            secrets.push((Slot::Preshared(peer.public_key), k));
        }
    }
    (bare, secrets)
}

impl Store {
    /// The store in [`config_dir`], using the backend recorded in its settings.
    pub fn open_default() -> Result<Store, StoreError> {
        Store::open(&config_dir()?)
    }

    /// The store in `dir` (created 0700 if missing), using the backend recorded in its
    /// settings (the OS keyring when there are none).
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        ensure_private_dir(dir).map_err(io_err("create", dir))?;
        let settings_path = dir.join(SETTINGS_FILE);
        let kind = match fs::read(&settings_path) {
            Ok(bytes) => {
                let s: Settings =
                    serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                        path: settings_path.clone(),
                        detail: e.to_string(),
                    })?;
                s.secret_backend
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => BackendKind::Keyring,
            Err(e) => return Err(io_err("read", &settings_path)(e)),
        };
        Ok(Store {
            dir: dir.to_path_buf(),
            kind,
            backend: None,
        })
    }

    /// The store in `dir` with this backend, whatever the settings say (tests, embedding).
    pub fn with_backend(dir: &Path, backend: Backend) -> Result<Store, StoreError> {
        ensure_private_dir(dir).map_err(io_err("create", dir))?;
        Ok(Store {
            dir: dir.to_path_buf(),
            kind: backend.kind(),
            backend: Some(backend),
        })
    }

    /// The config directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Which backend holds the secrets.
    pub fn backend_kind(&self) -> BackendKind {
        self.kind
    }

    /// Serializes the changing operations of concurrent processes (CLI and app): an exclusive
    /// `flock` on the config directory itself (no lock file), released when dropped.
    fn lock(&self) -> Result<fs::File, StoreError> {
        use std::os::fd::AsRawFd as _;
        let dir = fs::File::open(&self.dir).map_err(io_err("open", &self.dir))?;
        loop {
            // SAFETY: `dir` is an open file descriptor for the duration of the call.
            let rc = unsafe { libc::flock(dir.as_raw_fd(), libc::LOCK_EX) };
            if rc == 0 {
                return Ok(dir);
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(io_err("lock", &self.dir)(e));
            }
        }
    }

    fn profiles_dir(&self) -> PathBuf {
        self.dir.join(PROFILES_DIR)
    }

    fn backend(&mut self) -> &mut Backend {
        let dir = &self.dir;
        let kind = self.kind;
        self.backend.get_or_insert_with(|| match kind {
            BackendKind::Keyring => Backend::Keyring(Keyring::new()),
            BackendKind::Vault => Backend::Vault(Vault::new(dir)),
        })
    }

    fn read_file(&self, path: &Path) -> Result<(ProfileFile, Config), StoreError> {
        let bytes = fs::read(path).map_err(io_err("read", path))?;
        let file: ProfileFile =
            serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
                path: path.to_path_buf(),
                detail: e.to_string(),
            })?;
        if file.format != FORMAT_VERSION {
            return Err(StoreError::Corrupt {
                path: path.to_path_buf(),
                detail: format!("unknown format version {}", file.format),
            });
        }
        let config = parse(&file.config, &path.display().to_string()).map_err(|source| {
            StoreError::StoredConfig {
                path: path.to_path_buf(),
                source: Box::new(source),
            }
        })?;
        Ok((file, config))
    }

    fn info_of(file: &ProfileFile, path: &Path) -> Result<ProfileInfo, StoreError> {
        let mut slots = Vec::new();
        for s in &file.secrets {
            slots.push(Slot::from_name(s).ok_or_else(|| StoreError::Corrupt {
                path: path.to_path_buf(),
                detail: format!("unknown secret slot {s:?}"),
            })?);
        }
        Ok(ProfileInfo {
            id: file.id.clone(),
            name: file.name.clone(),
            hooks_enabled: file.hooks_enabled,
            created_unix: file.created_unix,
            source: file.source.clone(),
            secret_slots: slots,
            public_key: file.public_key,
            path: path.to_path_buf(),
        })
    }

    /// Every stored profile, without secrets, sorted by name. Profile files with a looser mode
    /// than 0600 are tightened.
    pub fn list(&self) -> Result<Vec<Profile>, StoreError> {
        let dir = self.profiles_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("read", &dir)(e)),
        };
        ensure_private_dir(&dir).map_err(io_err("create", &dir))?;
        let mut out = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io_err("read", &dir))?;
            let path = entry.path();
            let name = entry.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || !name.ends_with(".json") {
                continue;
            }
            let meta = entry.metadata().map_err(io_err("read", &path))?;
            if meta.permissions().mode() & 0o077 != 0 {
                fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
                    .map_err(io_err("chmod", &path))?;
            }
            let (file, config) = self.read_file(&path)?;
            out.push(Profile {
                info: Self::info_of(&file, &path)?,
                config,
            });
        }
        out.sort_by(|a, b| a.info.name.cmp(&b.info.name));
        Ok(out)
    }

    /// The profile with this name (or, failing that, this id), without secrets.
    pub fn find(&self, name_or_id: &str) -> Result<Profile, StoreError> {
        let all = self.list()?;
        let pos = all
            .iter()
            .position(|p| p.info.name == name_or_id)
            .or_else(|| all.iter().position(|p| p.info.id == name_or_id));
        match pos {
            Some(i) => {
                let mut all = all;
                Ok(all.swap_remove(i))
            }
            None => Err(StoreError::NotFound(name_or_id.to_string())),
        }
    }

    fn unique_name(&self, wanted: &str, choice: NameChoice) -> Result<String, StoreError> {
        let taken: Vec<String> = self.list()?.into_iter().map(|p| p.info.name).collect();
        match choice {
            NameChoice::Exact => {
                validate_name(wanted)?;
                if taken.iter().any(|t| t == wanted) {
                    return Err(StoreError::NameTaken(wanted.to_string()));
                }
                Ok(wanted.to_string())
            }
            NameChoice::Suggested => {
                let base = sanitize_name(wanted);
                validate_name(&base)?;
                if !taken.contains(&base) {
                    return Ok(base);
                }
                (2..)
                    .map(|n| format!("{base}-{n}"))
                    .find(|c| !taken.contains(c))
                    .ok_or(StoreError::NameTaken(base))
            }
        }
    }

    fn write_profile(&self, file: &ProfileFile) -> Result<PathBuf, StoreError> {
        let dir = self.profiles_dir();
        ensure_private_dir(&dir).map_err(io_err("create", &dir))?;
        let path = dir.join(format!("{}.json", file.id));
        let mut bytes = serde_json::to_vec_pretty(file).map_err(|e| StoreError::Corrupt {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        bytes.push(b'\n');
        write_atomic(&path, &bytes).map_err(io_err("write", &path))?;
        Ok(path)
    }

    /// Stores a new profile: its secrets in the backend, the rest in a new profile file. All
    /// or nothing: when a secret cannot be stored, the ones already stored are removed and no
    /// file is written; when the file cannot be written, the secrets are removed again.
    pub fn import(
        &mut self,
        config: &Config,
        name: &str,
        choice: NameChoice,
        source: Option<&str>,
    ) -> Result<Profile, StoreError> {
        let _lock = self.lock()?;
        let name = self.unique_name(name, choice)?;
        let (bare, secrets) = split_secrets(config);
        let text = write(&bare);
        match parse(&text, &name) {
            Ok(back) if back == bare => {}
            _ => return Err(StoreError::NotRepresentable(name)),
        }
        let id = random_hex(16);
        let entries: Vec<(String, Secret)> = secrets
            .iter()
            .map(|(slot, s)| (account(&id, slot), s.clone()))
            .collect();
        if !entries.is_empty() {
            self.backend().put_all(&entries)?;
        }
        let file = ProfileFile {
            format: FORMAT_VERSION,
            id: id.clone(),
            name,
            hooks_enabled: false,
            created_unix: now_unix(),
            source: source.map(str::to_string),
            secrets: secrets.iter().map(|(slot, _)| slot.name()).collect(),
            public_key: config
                .interface
                .private_key
                .as_ref()
                .map(Secret::public_key),
            config: text,
        };
        let path = match self.write_profile(&file) {
            Ok(p) => p,
            Err(e) => {
                let accounts: Vec<String> = entries.into_iter().map(|(a, _)| a).collect();
                // Best effort; the write error is the one to report.
                let _ = self.backend().delete_all(&accounts);
                return Err(e);
            }
        };
        Ok(Profile {
            info: Self::info_of(&file, &path)?,
            config: config.clone(),
        })
    }

    /// A new profile with a freshly generated private key (stored straight in the backend) and
    /// these interface settings (`private_key` of `template` is ignored).
    pub fn create_with_new_key(
        &mut self,
        mut template: Config,
        name: &str,
    ) -> Result<(Profile, Key), StoreError> {
        let secret = Secret::generate();
        let public = secret.public_key();
        template.interface.private_key = Some(secret);
        let profile = self.import(&template, name, NameChoice::Exact, None)?;
        Ok((profile, public))
    }

    /// The profile with this name or id; with `with_secrets`, its keys are read back from the
    /// backend (a listed key that is missing there is an error).
    pub fn load(&mut self, name_or_id: &str, with_secrets: bool) -> Result<Profile, StoreError> {
        let mut profile = self.find(name_or_id)?;
        if !with_secrets || profile.info.secret_slots.is_empty() {
            return Ok(profile);
        }
        let accounts: Vec<String> = profile
            .info
            .secret_slots
            .iter()
            .map(|s| account(&profile.info.id, s))
            .collect();
        let kind = self.kind;
        let values = self.backend().get_all(&accounts)?;
        for (slot, value) in profile.info.secret_slots.iter().zip(values) {
            let Some(secret) = value else {
                return Err(StoreError::MissingSecret {
                    profile: profile.info.name.clone(),
                    slot: slot.name(),
                    backend: kind,
                });
            };
            match slot {
                Slot::Private => profile.config.interface.private_key = Some(secret),
                Slot::Preshared(pk) => {
                    if let Some(peer) = profile
                        .config
                        .peers
                        .iter_mut()
                        .find(|p| p.public_key == *pk)
                    {
                        peer.preshared_key = Some(secret);
                    }
                }
            }
        }
        Ok(profile)
    }

    fn update(
        &mut self,
        name_or_id: &str,
        change: impl FnOnce(&mut ProfileFile),
    ) -> Result<ProfileInfo, StoreError> {
        let profile = self.find(name_or_id)?;
        let (mut file, _) = self.read_file(&profile.info.path)?;
        change(&mut file);
        let path = self.write_profile(&file)?;
        Self::info_of(&file, &path)
    }

    /// Renames a profile. Its secrets are keyed by id and stay where they are.
    pub fn rename(&mut self, name_or_id: &str, new_name: &str) -> Result<ProfileInfo, StoreError> {
        validate_name(new_name)?;
        let _lock = self.lock()?;
        let current = self.find(name_or_id)?;
        if current.info.name != new_name && self.find(new_name).is_ok() {
            return Err(StoreError::NameTaken(new_name.to_string()));
        }
        let new_name = new_name.to_string();
        self.update(&current.info.id, |f| f.name = new_name)
    }

    /// Turns the hook commands (PreUp/PostUp/PreDown/PostDown) of a profile on or off.
    pub fn set_hooks(
        &mut self,
        name_or_id: &str,
        enabled: bool,
    ) -> Result<ProfileInfo, StoreError> {
        let _lock = self.lock()?;
        self.update(name_or_id, |f| f.hooks_enabled = enabled)
    }

    /// Replaces a profile's configuration (an edit), keeping its id, name, creation time and
    /// source. The new keys are stored first; when the profile file cannot be written, the old
    /// keys are put back, so a failure leaves the profile as it was. Keys the new configuration
    /// no longer has are removed afterwards. Hook commands stay on only when they are unchanged.
    pub fn replace(&mut self, name_or_id: &str, config: &Config) -> Result<Profile, StoreError> {
        let _lock = self.lock()?;
        let current = self.load(name_or_id, true)?;
        let (bare, secrets) = split_secrets(config);
        let text = write(&bare);
        match parse(&text, &current.info.name) {
            Ok(back) if back == bare => {}
            _ => return Err(StoreError::NotRepresentable(current.info.name.clone())),
        }
        let id = current.info.id.clone();
        let (_, old_secrets) = split_secrets(&current.config);
        let entries: Vec<(String, Secret)> = secrets
            .iter()
            .map(|(slot, s)| (account(&id, slot), s.clone()))
            .collect();
        if !entries.is_empty() {
            self.backend().put_all(&entries)?;
        }
        let (old_file, _) = self.read_file(&current.info.path)?;
        let hooks_same = current.config.interface.pre_up == config.interface.pre_up
            && current.config.interface.post_up == config.interface.post_up
            && current.config.interface.pre_down == config.interface.pre_down
            && current.config.interface.post_down == config.interface.post_down;
        let file = ProfileFile {
            hooks_enabled: old_file.hooks_enabled && hooks_same,
            secrets: secrets.iter().map(|(slot, _)| slot.name()).collect(),
            public_key: config
                .interface
                .private_key
                .as_ref()
                .map(Secret::public_key),
            config: text,
            ..old_file
        };
        let path = match self.write_profile(&file) {
            Ok(p) => p,
            Err(e) => {
                // Put the old keys back (best effort; the write error is the one to report).
                let old: Vec<(String, Secret)> = old_secrets
                    .iter()
                    .map(|(slot, s)| (account(&id, slot), s.clone()))
                    .collect();
                let _ = self.backend().put_all(&old);
                let stale: Vec<String> = secrets
                    .iter()
                    .filter(|(slot, _)| !old_secrets.iter().any(|(o, _)| o == slot))
                    .map(|(slot, _)| account(&id, slot))
                    .collect();
                if !stale.is_empty() {
                    let _ = self.backend().delete_all(&stale);
                }
                return Err(e);
            }
        };
        let gone: Vec<String> = old_secrets
            .iter()
            .filter(|(o, _)| !secrets.iter().any(|(slot, _)| slot == o))
            .map(|(slot, _)| account(&id, slot))
            .collect();
        if !gone.is_empty() {
            // Best effort: a leftover key is unreachable (no slot names it) and harmless.
            let _ = self.backend().delete_all(&gone);
        }
        Ok(Profile {
            info: Self::info_of(&file, &path)?,
            config: config.clone(),
        })
    }

    /// Deletes a profile: first its secrets (so a failure leaves the profile whole), then its
    /// file. Returns what was deleted.
    pub fn delete(&mut self, name_or_id: &str) -> Result<ProfileInfo, StoreError> {
        let _lock = self.lock()?;
        let profile = self.find(name_or_id)?;
        let accounts: Vec<String> = profile
            .info
            .secret_slots
            .iter()
            .map(|s| account(&profile.info.id, s))
            .collect();
        if !accounts.is_empty() {
            self.backend().delete_all(&accounts)?;
        }
        let path = &profile.info.path;
        fs::remove_file(path).map_err(io_err("remove", path))?;
        if let Some(dir) = path.parent() {
            fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(io_err("sync", dir))?;
        }
        Ok(profile.info)
    }

    /// Moves every stored secret to `to` and records it in the settings file. The old backend's
    /// entries are removed afterwards (best effort: returns false when some could not be).
    /// Returns the number of secrets moved and whether the old entries were all removed.
    pub fn switch_backend(&mut self, mut to: Backend) -> Result<(usize, bool), StoreError> {
        let _lock = self.lock()?;
        let profiles = self.list()?;
        let accounts: Vec<String> = profiles
            .iter()
            .flat_map(|p| {
                p.info
                    .secret_slots
                    .iter()
                    .map(|s| account(&p.info.id, s))
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut entries = Vec::new();
        if !accounts.is_empty() && to.kind() != self.kind {
            let kind = self.kind;
            let values = self.backend().get_all(&accounts)?;
            for (a, v) in accounts.iter().zip(values) {
                let Some(secret) = v else {
                    let (id, slot) = a.split_once('/').unwrap_or((a.as_str(), ""));
                    let profile = profiles
                        .iter()
                        .find(|p| p.info.id == id)
                        .map(|p| p.info.name.clone())
                        .unwrap_or_else(|| id.to_string());
                    return Err(StoreError::MissingSecret {
                        profile,
                        slot: slot.to_string(),
                        backend: kind,
                    });
                };
                entries.push((a.clone(), secret));
            }
            to.put_all(&entries)?;
        }
        let settings = Settings {
            secret_backend: to.kind(),
        };
        let path = self.dir.join(SETTINGS_FILE);
        let bytes = serde_json::to_vec_pretty(&settings).map_err(|e| StoreError::Corrupt {
            path: path.clone(),
            detail: e.to_string(),
        })?;
        if let Err(e) = write_atomic(&path, &bytes) {
            let moved: Vec<String> = entries.iter().map(|(a, _)| a.clone()).collect();
            let _ = to.delete_all(&moved);
            return Err(io_err("write", &path)(e));
        }
        let mut cleaned = true;
        if !entries.is_empty() {
            let old = self.backend();
            cleaned = old.delete_all(&accounts).is_ok();
            if let Backend::Vault(v) = old {
                if cleaned && v.load().map(|m| m.is_empty()).unwrap_or(false) {
                    cleaned = v.remove().is_ok();
                }
            }
        }
        self.kind = to.kind();
        self.backend = Some(to);
        Ok((entries.len(), cleaned))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::parse;
    use age::secrecy::SecretString;

    const CONF: &str = "[Interface]
PrivateKey = aDdT5AJB8+hX/TKw1g9h6uzegJqyscnkbVzmmieLikw=
Address = 10.13.13.2/32
DNS = 10.13.13.1
PostUp = iptables -A FORWARD -i %i -j ACCEPT

[Peer]
PublicKey = c2K39PDbDBiNYpXduD7twBeAREk16QToeeHV38LTZQY=
PresharedKey = fRjRBJoFoJIQKXGt5N2WQ4Pogh6F+biiu1KKFxclx8o=
Endpoint = vpn.example.net:51820
AllowedIPs = 0.0.0.0/0
";

    fn vault_store(dir: &Path) -> Store {
        let mut v = Vault::with_passphrase(dir, SecretString::from("test pass".to_string()));
        v.set_work_factor(4);
        Store::with_backend(dir, Backend::Vault(v)).unwrap()
    }

    fn all_files(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(all_files(&p));
            } else {
                out.push(p);
            }
        }
        out
    }

    fn contains(hay: &[u8], needle: &[u8]) -> bool {
        hay.windows(needle.len()).any(|w| w == needle)
    }

    #[test]
    fn import_load_rename_delete_with_vault() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("gatehouse");
        let config = parse(CONF, "wg0.conf").unwrap();
        let mut store = vault_store(&dir);

        let p = store
            .import(&config, "wg0", NameChoice::Suggested, Some("wg0.conf"))
            .unwrap();
        assert_eq!(p.info.name, "wg0");
        assert!(!p.info.hooks_enabled, "hooks are off by default");
        assert_eq!(p.info.secret_slots.len(), 2);
        let second = store
            .import(&config, "wg0", NameChoice::Suggested, None)
            .unwrap();
        assert_eq!(second.info.name, "wg0-2");
        assert_ne!(second.info.id, p.info.id);
        assert!(matches!(
            store.import(&config, "wg0", NameChoice::Exact, None),
            Err(StoreError::NameTaken(_))
        ));

        // No secret in any file of the store but the encrypted vault.
        let private = config.interface.private_key.clone().unwrap();
        let psk = config.peers[0].preshared_key.clone().unwrap();
        for f in all_files(&dir) {
            let bytes = fs::read(&f).unwrap();
            for s in [&private, &psk] {
                assert!(!contains(&bytes, s.expose_base64().as_bytes()), "{f:?}");
                assert!(!contains(&bytes, s.expose()), "{f:?}");
            }
            let mode = fs::metadata(&f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{f:?}");
        }
        for d in [&dir, &dir.join(PROFILES_DIR)] {
            let mode = fs::metadata(d).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{d:?}");
        }

        // A fresh store (new process) reads the same back, secrets included.
        let mut again = vault_store(&dir);
        let bare = again.load("wg0", false).unwrap();
        assert!(bare.config.interface.private_key.is_none());
        assert!(bare.config.peers[0].preshared_key.is_none());
        let full = again.load("wg0", true).unwrap();
        assert_eq!(full.config, config);

        let renamed = again.rename("wg0", "home").unwrap();
        assert_eq!(renamed.id, p.info.id);
        assert!(matches!(again.find("wg0"), Err(StoreError::NotFound(_))));
        assert_eq!(again.load("home", true).unwrap().config, config);
        assert!(matches!(
            again.rename("home", "wg0-2"),
            Err(StoreError::NameTaken(_))
        ));

        let on = again.set_hooks("home", true).unwrap();
        assert!(on.hooks_enabled);
        assert!(again.find(&p.info.id).unwrap().info.hooks_enabled);

        let gone = again.delete("home").unwrap();
        assert_eq!(gone.id, p.info.id);
        assert!(!gone.path.exists());
        let Backend::Vault(v) = again.backend() else {
            panic!("vault backend expected")
        };
        let map = v.load().unwrap();
        assert!(
            map.keys().all(|k| !k.starts_with(&p.info.id)),
            "{:?}",
            map.keys()
        );
        assert_eq!(map.len(), 2, "the other profile keeps its secrets");
        let names: Vec<String> = again
            .list()
            .unwrap()
            .into_iter()
            .map(|p| p.info.name)
            .collect();
        assert_eq!(names, vec!["wg0-2"]);
    }

    #[test]
    fn replace_keeps_the_id_and_swaps_the_keys() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("gatehouse");
        let config = parse(CONF, "wg0.conf").unwrap();
        let mut store = vault_store(&dir);
        let p = store
            .import(&config, "wg0", NameChoice::Suggested, Some("wg0.conf"))
            .unwrap();
        store.set_hooks("wg0", true).unwrap();

        // Same hooks, new key, the preshared key dropped, a new address.
        let edited_text = CONF
            .replace(
                "aDdT5AJB8+hX/TKw1g9h6uzegJqyscnkbVzmmieLikw=",
                "YNqHbfBQKaGvzefSSdN3kzZkRvUF4rUFJ6vRqfbGf3Y=",
            )
            .replace(
                "PresharedKey = fRjRBJoFoJIQKXGt5N2WQ4Pogh6F+biiu1KKFxclx8o=\n",
                "",
            )
            .replace("10.13.13.2/32", "10.13.13.9/32");
        let edited = parse(&edited_text, "edit").unwrap();
        let r = store.replace("wg0", &edited).unwrap();
        assert_eq!(r.info.id, p.info.id);
        assert_eq!(r.info.name, "wg0");
        assert_eq!(r.info.secret_slots, vec![Slot::Private]);
        assert!(r.info.hooks_enabled, "unchanged hooks stay on");
        let mut again = vault_store(&dir);
        assert_eq!(again.load("wg0", true).unwrap().config, edited);
        let Backend::Vault(v) = again.backend() else {
            panic!("vault backend expected")
        };
        assert_eq!(
            v.load().unwrap().len(),
            1,
            "the dropped preshared key is gone"
        );

        // Changed hooks turn them off; the profile is still one profile.
        let hooked = parse(&edited_text.replace("-A FORWARD", "-I FORWARD"), "edit").unwrap();
        let r = again.replace(&p.info.id, &hooked).unwrap();
        assert!(!r.info.hooks_enabled);
        assert_eq!(again.list().unwrap().len(), 1);
        assert!(matches!(
            again.replace("nope", &hooked),
            Err(StoreError::NotFound(_))
        ));
    }

    #[test]
    fn failing_secret_write_leaves_nothing() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("gatehouse");
        let mut store = vault_store(&dir);
        // The vault path is a directory: the secret backend cannot store anything.
        fs::create_dir_all(dir.join(crate::vault::FILE_NAME)).unwrap();
        let config = parse(CONF, "wg0.conf").unwrap();
        let err = store
            .import(&config, "wg0", NameChoice::Suggested, None)
            .unwrap_err();
        assert!(matches!(err, StoreError::Secrets(_)), "{err}");
        assert!(store.list().unwrap().is_empty());
        let profiles = dir.join(PROFILES_DIR);
        assert!(!profiles.exists() || fs::read_dir(&profiles).unwrap().next().is_none());
    }

    #[test]
    fn failing_profile_write_removes_the_secrets() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("gatehouse");
        let mut store = vault_store(&dir);
        // `profiles` is a dangling symlink: listing finds nothing, but the profile file cannot
        // be written after the secrets were.
        std::os::unix::fs::symlink(tmp.path().join("missing/x"), dir.join(PROFILES_DIR)).unwrap();
        let config = parse(CONF, "wg0.conf").unwrap();
        let err = store
            .import(&config, "wg0", NameChoice::Suggested, None)
            .unwrap_err();
        assert!(matches!(err, StoreError::Io { .. }), "{err}");
        let Backend::Vault(v) = store.backend() else {
            panic!("vault backend expected")
        };
        assert!(v.load().unwrap().is_empty(), "secrets were rolled back");
    }

    #[test]
    fn names_are_validated_and_sanitized() {
        for bad in [
            "",
            "a/b",
            "a\\b",
            ".",
            "..",
            ".hidden",
            "-x",
            " x",
            "x\n",
            &"x".repeat(65),
        ] {
            assert!(
                matches!(validate_name(bad), Err(StoreError::InvalidName { .. })),
                "{bad:?}"
            );
        }
        for good in ["wg0", "home-lab", "vpc.prod_2", "Büro", &"x".repeat(64)] {
            validate_name(good).unwrap();
        }
        assert_eq!(sanitize_name("wg0"), "wg0");
        assert_eq!(sanitize_name("my vpn"), "my-vpn");
        assert_eq!(sanitize_name("../../etc"), "etc");
        assert_eq!(sanitize_name(""), "profile");
        assert_eq!(sanitize_name(&"y".repeat(100)).len(), MAX_NAME_LEN - 4);
        let err = validate_name("a/b").unwrap_err().to_string();
        assert!(err.contains("path separator"), "{err}");
    }

    #[test]
    fn concurrent_imports_get_unique_names() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("gatehouse");
        let config = parse(CONF, "wg0.conf").unwrap();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    let mut store = vault_store(&dir);
                    store
                        .import(&config, "wg0", NameChoice::Suggested, None)
                        .unwrap();
                });
            }
        });
        let mut names: Vec<String> = vault_store(&dir)
            .list()
            .unwrap()
            .into_iter()
            .map(|p| p.info.name)
            .collect();
        names.sort();
        assert_eq!(names, ["wg0", "wg0-2", "wg0-3", "wg0-4"]);
        let mut v = Vault::with_passphrase(&dir, SecretString::from("test pass".to_string()));
        assert_eq!(
            v.load().unwrap().len(),
            8,
            "every import kept both its secrets"
        );
    }

    #[test]
    fn loose_permissions_are_tightened() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("gatehouse");
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let mut store = vault_store(&dir);
        let mode = fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        let config = parse(CONF, "wg0.conf").unwrap();
        let p = store
            .import(&config, "wg0", NameChoice::Suggested, None)
            .unwrap();
        fs::set_permissions(&p.info.path, fs::Permissions::from_mode(0o644)).unwrap();
        store.list().unwrap();
        let mode = fs::metadata(&p.info.path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn new_key_profile_and_settings_backend() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("gatehouse");
        let mut store = vault_store(&dir);
        let mut template = Config::default();
        template.interface.addresses = vec!["10.9.0.2/32".parse().unwrap()];
        let (p, public) = store.create_with_new_key(template, "fresh").unwrap();
        let full = store.load("fresh", true).unwrap();
        let private = full.config.interface.private_key.unwrap();
        assert_eq!(private.public_key(), public);
        assert_eq!(p.info.secret_slots, vec![Slot::Private]);
        assert_eq!(p.info.public_key, Some(public));
        assert_eq!(store.find("fresh").unwrap().info.public_key, Some(public));
        // Default settings: the keyring.
        assert_eq!(
            Store::open(&tmp.path().join("other"))
                .unwrap()
                .backend_kind(),
            BackendKind::Keyring
        );
    }
}
