//! The settings: which mode connections run in, the kill switch, start at login,
//! notifications, the theme. Persisted as JSON in the config directory (0600, written
//! atomically with the profile store's helper); a file that cannot be read falls back to the
//! defaults, with the reason logged and the bad file kept aside.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::logs::Log;
use crate::views::{AppError, ConnectionMode};

/// The settings file's name in the config directory.
pub const FILE_NAME: &str = "app-settings.json";

/// Where connections should run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum ModePreference {
    /// The Gatehouse service when it answers, else no-root mode.
    #[default]
    Auto,
    /// Always the service (connecting fails when it does not answer).
    Service,
    /// Always in the app, without root (SOCKS5 / HTTP proxy and forwards).
    NoRoot,
}

/// The UI's colours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(rename_all = "snake_case")]
pub enum Theme {
    /// Follow the desktop.
    #[default]
    System,
    /// Light.
    Light,
    /// Dark.
    Dark,
}

/// What the user chose in Settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(default)]
pub struct Settings {
    /// Where connections run.
    pub mode: ModePreference,
    /// Block traffic outside the tunnel (service mode, full-tunnel profiles).
    pub kill_switch: bool,
    /// Start the app when the user logs in.
    pub start_at_login: bool,
    /// Desktop notifications on connect, disconnect and failure.
    pub notifications: bool,
    /// Light, dark or the desktop's.
    pub theme: Theme,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            mode: ModePreference::Auto,
            kill_switch: false,
            start_at_login: false,
            notifications: true,
            theme: Theme::System,
        }
    }
}

/// Whether the Gatehouse service answers, for the Settings view.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct ServiceInfo {
    /// It answered the handshake.
    pub available: bool,
    /// The socket tried.
    pub socket: String,
    /// What that means, in one plain sentence.
    pub detail: String,
}

/// The mode a connection runs in: `pref` given whether the service answers. `Err` says why
/// the service is required and unavailable.
pub fn choose_mode(
    pref: ModePreference,
    service: &ServiceInfo,
) -> Result<ConnectionMode, AppError> {
    match (pref, service.available) {
        (ModePreference::NoRoot, _) => Ok(ConnectionMode::NoRoot),
        (_, true) => Ok(ConnectionMode::Service),
        (ModePreference::Auto, false) => Ok(ConnectionMode::NoRoot),
        (ModePreference::Service, false) => Err(AppError::new(format!(
            "Settings ask for the Gatehouse service, but {} (or choose no-root mode in Settings)",
            lower_first(&service.detail)
        ))),
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The settings file.
#[derive(Debug, Clone)]
pub struct SettingsStore {
    path: PathBuf,
}

impl SettingsStore {
    /// `app-settings.json` in the profile store's config directory
    /// (`$GATEHOUSE_CONFIG_DIR`, else `<XDG config>/gatehouse`).
    pub fn open_default() -> Result<SettingsStore, AppError> {
        let dir =
            gatehouse_profile::store::config_dir().map_err(|e| AppError::new(e.to_string()))?;
        Ok(SettingsStore::at(dir.join(FILE_NAME)))
    }

    /// The settings file at `path`.
    pub fn at(path: PathBuf) -> SettingsStore {
        SettingsStore { path }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The saved settings; the defaults when there is no file. A file that cannot be read or
    /// parsed gives the defaults too, with the reason (naming the file, line and column), and
    /// is renamed to `app-settings.json.bad-UNIXTIME` so the user's edit is not lost.
    pub fn load(&self) -> (Settings, Option<String>) {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return (Settings::default(), None)
            }
            Err(e) => {
                return (
                    Settings::default(),
                    Some(format!(
                        "{}: cannot read: {e}; using the defaults",
                        self.path.display()
                    )),
                )
            }
        };
        match serde_json::from_str::<Settings>(&text) {
            Ok(s) => (s, None),
            Err(e) => {
                let stamp = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                let mut aside = self.path.clone().into_os_string();
                aside.push(format!(".bad-{stamp}"));
                let aside = PathBuf::from(aside);
                let kept = match std::fs::rename(&self.path, &aside) {
                    Ok(()) => format!("kept as {}", aside.display()),
                    Err(re) => format!("could not keep it aside: {re}"),
                };
                (
                    Settings::default(),
                    Some(format!(
                        "{}:{}:{}: {e}; using the defaults ({kept})",
                        self.path.display(),
                        e.line(),
                        e.column()
                    )),
                )
            }
        }
    }

    /// Saves `settings` (0600, atomic: the old file stays whole when this fails).
    pub fn save(&self, settings: &Settings) -> Result<(), AppError> {
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            AppError::new(format!("{}: cannot {what}: {e}", self.path.display()))
        };
        if let Some(dir) = self.path.parent() {
            gatehouse_profile::store::ensure_private_dir(dir)
                .map_err(|e| fail("create its directory", &e))?;
        }
        let mut bytes = serde_json::to_vec_pretty(settings).map_err(|e| fail("encode", &e))?;
        bytes.push(b'\n');
        gatehouse_profile::store::write_atomic(&self.path, &bytes).map_err(|e| fail("write", &e))
    }
}

/// The settings in use and the file they are saved in.
#[derive(Debug)]
pub struct SettingsCell {
    store: SettingsStore,
    now: Mutex<Settings>,
}

impl SettingsCell {
    /// The settings saved in `store` (the defaults, with the reason logged, when they cannot
    /// be read).
    pub fn load(store: SettingsStore, log: &Log) -> SettingsCell {
        let (settings, why) = store.load();
        if let Some(why) = why {
            tracing::warn!("settings: {why}");
            log.add("warn", None, format!("settings: {why}"));
        }
        SettingsCell {
            store,
            now: Mutex::new(settings),
        }
    }

    /// The settings now.
    pub fn get(&self) -> Settings {
        self.now.lock().map(|s| *s).unwrap_or_default()
    }

    /// Saves `new`; when start at login changes, `autostart` turns it on or off first (a
    /// failure there changes nothing). A new mode is logged.
    pub fn set(
        &self,
        new: Settings,
        autostart: impl FnOnce(bool) -> Result<(), AppError>,
        log: &Log,
    ) -> Result<Settings, AppError> {
        let old = self.get();
        if new.start_at_login != old.start_at_login {
            autostart(new.start_at_login)?;
        }
        self.store.save(&new)?;
        if let Ok(mut s) = self.now.lock() {
            *s = new;
        }
        if new.mode != old.mode {
            log.add(
                "info",
                None,
                format!("connection mode: {}", mode_words(new.mode)),
            );
        }
        Ok(new)
    }
}

fn mode_words(m: ModePreference) -> &'static str {
    match m {
        ModePreference::Auto => "the Gatehouse service when it runs, else no-root",
        ModePreference::Service => "the Gatehouse service",
        ModePreference::NoRoot => "no-root (in the app)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn settings_round_trip_0600() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SettingsStore::at(dir.path().join("cfg").join(FILE_NAME));
        assert_eq!(store.load(), (Settings::default(), None));
        let s = Settings {
            mode: ModePreference::NoRoot,
            kill_switch: true,
            start_at_login: true,
            notifications: false,
            theme: Theme::Dark,
        };
        store.save(&s).expect("save");
        assert_eq!(store.load(), (s, None));
        let mode = std::fs::metadata(store.path())
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let text = std::fs::read_to_string(store.path()).expect("read");
        assert!(text.contains("\"mode\": \"no_root\""), "{text}");
        assert!(text.contains("\"theme\": \"dark\""), "{text}");
        // A file from an older version (fewer fields) keeps what it has.
        std::fs::write(store.path(), r#"{"kill_switch": true}"#).expect("write");
        let (old, why) = store.load();
        assert!(why.is_none());
        assert!(old.kill_switch && old.notifications && old.mode == ModePreference::Auto);
    }

    #[test]
    fn a_bad_file_gives_the_defaults_with_a_reason_and_is_kept_aside() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE_NAME);
        std::fs::write(&path, "{\n  \"mode\": \"sometimes\"\n}\n").expect("write");
        let store = SettingsStore::at(path.clone());
        let (s, why) = store.load();
        assert_eq!(s, Settings::default());
        let why = why.expect("a reason");
        assert!(why.contains(&format!("{}:2:", path.display())), "{why}");
        assert!(why.contains("sometimes"), "{why}");
        assert!(!path.exists(), "the bad file is moved aside");
        let kept: Vec<_> = std::fs::read_dir(dir.path())
            .expect("list")
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("app-settings.json.bad-"))
            .collect();
        assert_eq!(kept.len(), 1, "{kept:?}");
        assert!(why.contains(&kept[0]), "{why}");
        // Saving afterwards works and loads back.
        store.save(&Settings::default()).expect("save");
        assert_eq!(store.load(), (Settings::default(), None));
    }

    #[test]
    fn mode_selection() {
        let up = ServiceInfo {
            available: true,
            socket: "/run/gatehouse/gatehouse.sock".into(),
            detail: "The Gatehouse service is running.".into(),
        };
        let down = ServiceInfo {
            available: false,
            socket: "/run/gatehouse/gatehouse.sock".into(),
            detail: "The Gatehouse service is not running at /run/gatehouse/gatehouse.sock.".into(),
        };
        use ConnectionMode::*;
        assert_eq!(choose_mode(ModePreference::Auto, &up).ok(), Some(Service));
        assert_eq!(choose_mode(ModePreference::Auto, &down).ok(), Some(NoRoot));
        assert_eq!(choose_mode(ModePreference::NoRoot, &up).ok(), Some(NoRoot));
        assert_eq!(
            choose_mode(ModePreference::Service, &up).ok(),
            Some(Service)
        );
        let err = choose_mode(ModePreference::Service, &down).expect_err("refused");
        assert!(
            err.message
                .contains("the Gatehouse service is not running at /run/gatehouse"),
            "{err}"
        );
    }
}
