//! Where the private and preshared keys of the stored profiles live: the OS keyring (Secret
//! Service on Linux, through the `keyring` crate) or, when the user opts in, the
//! passphrase-encrypted [`Vault`].
//!
//! One entry per secret: service [`SERVICE`], user `<profile-id>/private` or
//! `<profile-id>/psk/<peer public key>` (see [`account`]). The value is the key's base64 text, so
//! `secret-tool lookup service gatehouse username <profile-id>/private` prints it.
//!
//! Secrets never appear in `Debug`, `Display`, logs or error text: errors name the entry (an id and
//! a public key), never its value.

use crate::key::{Key, Secret};
use crate::vault::{Vault, VaultError};
use std::fmt;
use std::str::FromStr;
use zeroize::Zeroizing;

/// The keyring service name of every Gatehouse secret.
pub const SERVICE: &str = "gatehouse";

/// The command that switches to the passphrase-encrypted vault, named in error messages.
pub const VAULT_ENABLE_COMMAND: &str = "gatehouse profile vault enable";

/// Which secret of a profile an entry holds.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Slot {
    /// The interface's `PrivateKey`.
    Private,
    /// The `PresharedKey` of the peer with this public key.
    Preshared(Key),
}

impl Slot {
    /// The slot's name inside a profile: `private` or `psk/<peer public key>`.
    pub fn name(&self) -> String {
        match self {
            Slot::Private => "private".to_string(),
            Slot::Preshared(k) => format!("psk/{k}"),
        }
    }

    /// The inverse of [`Slot::name`].
    pub fn from_name(name: &str) -> Option<Slot> {
        if name == "private" {
            return Some(Slot::Private);
        }
        let key = name.strip_prefix("psk/")?;
        Key::from_str(key).ok().map(Slot::Preshared)
    }
}

/// The keyring user name of a profile's secret: `<profile-id>/private` or
/// `<profile-id>/psk/<peer public key>`.
pub fn account(profile_id: &str, slot: &Slot) -> String {
    format!("{profile_id}/{}", slot.name())
}

/// Why no Secret Service could be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// No D-Bus session bus could be reached (the detail says which address was tried).
    NoSessionBus {
        /// What was tried and how it failed.
        detail: String,
    },
    /// The session bus answers, but no process provides `org.freedesktop.secrets` on it.
    NoSecretService,
    /// The Secret Service answered but refused: its default collection is locked or missing.
    Locked {
        /// The service's own words.
        detail: String,
    },
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let vault = format!(
            "or opt in to Gatehouse's passphrase-encrypted vault file instead of the OS keyring: \
             `{VAULT_ENABLE_COMMAND}` (the passphrase comes from GATEHOUSE_VAULT_PASSPHRASE or a \
             prompt)"
        );
        match self {
            Unavailable::NoSessionBus { detail } => write!(
                f,
                "the OS keyring is not reachable: there is no D-Bus session bus ({detail}). \
                 How to fix: run gatehouse inside a desktop session where gnome-keyring or \
                 KeePassXC (Secret Service integration enabled) is running; on a headless machine \
                 start one, e.g. `dbus-run-session -- sh -c 'printf %s PASSWORD | \
                 gnome-keyring-daemon --unlock --components=secrets >/dev/null; gatehouse ...'`; \
                 {vault}"
            ),
            Unavailable::NoSecretService => write!(
                f,
                "the OS keyring is not reachable: the D-Bus session bus answers, but no Secret \
                 Service (org.freedesktop.secrets) runs on it. How to fix: start gnome-keyring \
                 (`gnome-keyring-daemon --start --components=secrets`, then unlock it) or enable \
                 the Secret Service integration of KeePassXC (Settings > Secret Service \
                 Integration) with a database open; {vault}"
            ),
            Unavailable::Locked { detail } => write!(
                f,
                "the OS keyring refused access: the Secret Service's default collection (the \
                 'login' keyring) is locked or does not exist ({detail}). How to fix: unlock or \
                 create the login keyring (Seahorse 'Passwords and Keys', or `printf %s PASSWORD \
                 | gnome-keyring-daemon --unlock --components=secrets` before any other keyring \
                 client starts it; KeePassXC: unlock the database exposed to Secret Service); \
                 {vault}"
            ),
        }
    }
}

/// Why a secret could not be stored, read or removed.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    /// No usable Secret Service: the message says why and how to fix it.
    #[error("{0}")]
    Unavailable(Unavailable),
    /// The keyring answered with an error for this entry (the detail never holds a secret).
    #[error("OS keyring error for entry {account:?} of service {SERVICE:?}: {detail}")]
    Keyring {
        /// The entry's user name (profile id and slot).
        account: String,
        /// What went wrong.
        detail: String,
    },
    /// The stored value of an entry is not a WireGuard key.
    #[error("the secret stored in entry {account:?} is not a WireGuard key")]
    BadValue {
        /// The entry's user name.
        account: String,
    },
    /// The vault could not be used.
    #[error(transparent)]
    Vault(#[from] VaultError),
}

/// The OS keyring (Secret Service on Linux).
#[derive(Debug, Default)]
pub struct Keyring;

impl Keyring {
    /// The OS keyring. Nothing is contacted until the first operation.
    pub fn new() -> Self {
        Keyring
    }

    fn entry(&self, account: &str) -> Result<keyring::Entry, SecretError> {
        keyring::Entry::new(SERVICE, account).map_err(|e| map_keyring_error(account, &e))
    }

    /// Stores one secret (replacing an existing value).
    pub fn set(&self, account: &str, secret: &Secret) -> Result<(), SecretError> {
        let text = Zeroizing::new(secret.expose_base64());
        self.entry(account)?
            .set_password(&text)
            .map_err(|e| map_keyring_error(account, &e))
    }

    /// Reads one secret; `None` when there is no such entry.
    pub fn get(&self, account: &str) -> Result<Option<Secret>, SecretError> {
        match self.entry(account)?.get_password() {
            Ok(text) => {
                let text = Zeroizing::new(text);
                Secret::from_str(text.trim())
                    .map(Some)
                    .map_err(|_| SecretError::BadValue {
                        account: account.to_string(),
                    })
            }
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_keyring_error(account, &e)),
        }
    }

    /// Stores a text secret that is not a WireGuard key (an API token), replacing an existing
    /// value.
    pub fn set_text(&self, account: &str, text: &str) -> Result<(), SecretError> {
        self.entry(account)?
            .set_password(text)
            .map_err(|e| map_keyring_error(account, &e))
    }

    /// Reads a text secret stored with [`Keyring::set_text`]; `None` when there is no such entry.
    pub fn get_text(&self, account: &str) -> Result<Option<Zeroizing<String>>, SecretError> {
        match self.entry(account)?.get_password() {
            Ok(text) => Ok(Some(Zeroizing::new(text))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(map_keyring_error(account, &e)),
        }
    }

    /// Removes one secret; a missing entry is not an error.
    pub fn delete(&self, account: &str) -> Result<(), SecretError> {
        match self.entry(account)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(map_keyring_error(account, &e)),
        }
    }
}

/// Text of a keyring error that never includes stored data.
fn describe(e: &keyring::Error) -> String {
    use keyring::Error as E;
    match e {
        E::PlatformFailure(inner) => format!("platform failure: {inner}"),
        E::NoStorageAccess(inner) => format!("no storage access: {inner}"),
        E::NoEntry => "no such entry".to_string(),
        E::BadEncoding(_) => "the stored value is not UTF-8 text".to_string(),
        E::BadDataFormat(_, _) => "the stored value has a bad format".to_string(),
        E::BadStoreFormat(s) => format!("bad store format: {s}"),
        E::TooLong(attr, max) => format!("{attr} is longer than {max}"),
        E::Invalid(attr, why) => format!("invalid {attr}: {why}"),
        E::Ambiguous(entries) => format!("{} entries match", entries.len()),
        E::NoDefaultStore => "no credential store".to_string(),
        E::NotSupportedByStore(s) => format!("not supported by the store: {s}"),
        _ => "unknown keyring error".to_string(),
    }
}

fn map_keyring_error(account: &str, e: &keyring::Error) -> SecretError {
    match e {
        keyring::Error::NoDefaultStore => {
            // The store could not connect; its own error says little, so look at the bus.
            let store_detail = match keyring::Entry::store_status() {
                Err(inner) => describe(inner),
                Ok(()) => String::new(),
            };
            SecretError::Unavailable(diagnose_unreachable(&store_detail))
        }
        keyring::Error::NoStorageAccess(inner) => SecretError::Unavailable(Unavailable::Locked {
            detail: inner.to_string(),
        }),
        keyring::Error::PlatformFailure(inner) => {
            let text = inner.to_string();
            if text.contains("ServiceUnknown") || text.contains("org.freedesktop.secrets") {
                SecretError::Unavailable(Unavailable::NoSecretService)
            } else if text.contains("no secret service provider or dbus session") {
                SecretError::Unavailable(diagnose_unreachable(&text))
            } else {
                SecretError::Keyring {
                    account: account.to_string(),
                    detail: describe(e),
                }
            }
        }
        _ => SecretError::Keyring {
            account: account.to_string(),
            detail: describe(e),
        },
    }
}

/// Tells "no session bus" from "a bus without a Secret Service" by connecting to the bus
/// socket(s) named in `DBUS_SESSION_BUS_ADDRESS` (or `$XDG_RUNTIME_DIR/bus`).
fn diagnose_unreachable(store_detail: &str) -> Unavailable {
    match session_bus_reachable() {
        Ok(()) => Unavailable::NoSecretService,
        Err(why) => Unavailable::NoSessionBus {
            detail: if store_detail.is_empty() {
                why
            } else {
                format!("{why}; keyring: {store_detail}")
            },
        },
    }
}

fn session_bus_reachable() -> Result<(), String> {
    let address = match std::env::var("DBUS_SESSION_BUS_ADDRESS") {
        Ok(a) if !a.trim().is_empty() => a,
        _ => {
            let runtime = std::env::var_os("XDG_RUNTIME_DIR").map(std::path::PathBuf::from);
            return match runtime.map(|r| r.join("bus")) {
                Some(path) if path.exists() => connect_path(&path.to_string_lossy())
                    .map_err(|e| format!("cannot connect to {}: {e}", path.display())),
                _ => Err(
                    "DBUS_SESSION_BUS_ADDRESS is not set and $XDG_RUNTIME_DIR/bus does \
                          not exist"
                        .to_string(),
                ),
            };
        }
    };
    let mut failures = Vec::new();
    for part in address.split(';').filter(|p| !p.is_empty()) {
        let Some(rest) = part.strip_prefix("unix:") else {
            // A transport we do not probe (tcp, launchd…): assume it answers.
            return Ok(());
        };
        let mut result = None;
        for kv in rest.split(',') {
            if let Some(path) = kv.strip_prefix("path=") {
                result = Some(connect_path(path).map_err(|e| format!("{path}: {e}")));
            } else if let Some(name) = kv.strip_prefix("abstract=") {
                result = Some(connect_abstract(name).map_err(|e| format!("@{name}: {e}")));
            }
        }
        match result {
            Some(Ok(())) | None => return Ok(()),
            Some(Err(e)) => failures.push(e),
        }
    }
    Err(format!(
        "DBUS_SESSION_BUS_ADDRESS={address} cannot be reached: {}",
        failures.join("; ")
    ))
}

fn connect_path(path: &str) -> std::io::Result<()> {
    std::os::unix::net::UnixStream::connect(path).map(drop)
}

#[cfg(target_os = "linux")]
fn connect_abstract(name: &str) -> std::io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
    std::os::unix::net::UnixStream::connect_addr(&addr).map(drop)
}

#[cfg(not(target_os = "linux"))]
fn connect_abstract(_name: &str) -> std::io::Result<()> {
    Ok(())
}

/// Which backend holds the secrets, as recorded in the settings file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// The OS keyring (default).
    Keyring,
    /// The passphrase-encrypted vault file in the config directory.
    Vault,
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BackendKind::Keyring => "keyring",
            BackendKind::Vault => "vault",
        })
    }
}

/// A place for secrets: the OS keyring or the vault.
#[derive(Debug)]
pub enum Backend {
    /// The OS keyring.
    Keyring(Keyring),
    /// The passphrase-encrypted vault file.
    Vault(Vault),
}

impl Backend {
    /// Which kind this is.
    pub fn kind(&self) -> BackendKind {
        match self {
            Backend::Keyring(_) => BackendKind::Keyring,
            Backend::Vault(_) => BackendKind::Vault,
        }
    }

    /// Stores all the secrets, or none: when one write fails, the ones already written are
    /// removed again and the error of the failed write is returned.
    pub fn put_all(&mut self, entries: &[(String, Secret)]) -> Result<(), SecretError> {
        match self {
            Backend::Keyring(k) => {
                for (i, (account, secret)) in entries.iter().enumerate() {
                    if let Err(e) = k.set(account, secret) {
                        for (written, _) in &entries[..i] {
                            // Best effort: the first error is the one to report.
                            let _ = k.delete(written);
                        }
                        return Err(e);
                    }
                }
                Ok(())
            }
            Backend::Vault(v) => {
                let mut map = v.load()?;
                for (account, secret) in entries {
                    map.insert(account.clone(), secret.clone());
                }
                v.save(&map)?;
                Ok(())
            }
        }
    }

    /// Reads the secrets of these entries, in order; `None` for a missing entry.
    pub fn get_all(&mut self, accounts: &[String]) -> Result<Vec<Option<Secret>>, SecretError> {
        match self {
            Backend::Keyring(k) => accounts.iter().map(|a| k.get(a)).collect(),
            Backend::Vault(v) => {
                if accounts.is_empty() {
                    return Ok(Vec::new());
                }
                let map = v.load()?;
                Ok(accounts.iter().map(|a| map.get(a).cloned()).collect())
            }
        }
    }

    /// Removes these entries; missing ones are skipped.
    pub fn delete_all(&mut self, accounts: &[String]) -> Result<(), SecretError> {
        match self {
            Backend::Keyring(k) => {
                for a in accounts {
                    k.delete(a)?;
                }
                Ok(())
            }
            Backend::Vault(v) => {
                if accounts.is_empty() || !v.exists() {
                    return Ok(());
                }
                let mut map = v.load()?;
                let before = map.len();
                for a in accounts {
                    map.remove(a);
                }
                if map.len() != before {
                    v.save(&map)?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_names_round_trip() {
        let k: Key = "c2K39PDbDBiNYpXduD7twBeAREk16QToeeHV38LTZQY="
            .parse()
            .unwrap();
        for slot in [Slot::Private, Slot::Preshared(k)] {
            assert_eq!(Slot::from_name(&slot.name()), Some(slot.clone()));
        }
        assert_eq!(
            account("abc", &Slot::Preshared(k)),
            "abc/psk/c2K39PDbDBiNYpXduD7twBeAREk16QToeeHV38LTZQY="
        );
        assert_eq!(Slot::from_name("psk/nope"), None);
        assert_eq!(Slot::from_name("public"), None);
    }

    #[test]
    fn unavailable_messages_say_why_and_how() {
        let no_bus = Unavailable::NoSessionBus {
            detail: "DBUS_SESSION_BUS_ADDRESS=unix:path=/nope cannot be reached".into(),
        }
        .to_string();
        assert!(no_bus.contains("no D-Bus session bus"), "{no_bus}");
        assert!(no_bus.contains("/nope"), "{no_bus}");
        assert!(no_bus.contains(VAULT_ENABLE_COMMAND), "{no_bus}");
        let no_service = Unavailable::NoSecretService.to_string();
        assert!(
            no_service.contains("org.freedesktop.secrets"),
            "{no_service}"
        );
        assert!(no_service.contains("gnome-keyring-daemon"), "{no_service}");
        let locked = Unavailable::Locked {
            detail: "result not returned".into(),
        }
        .to_string();
        assert!(locked.contains("locked or does not exist"), "{locked}");
        assert!(locked.contains(VAULT_ENABLE_COMMAND), "{locked}");
    }

    #[test]
    fn unreachable_bus_address_is_named() {
        // Only the pure part: a path that cannot exist is reported with the path.
        let err = connect_path("/nonexistent/gatehouse-test-bus").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    }
}
