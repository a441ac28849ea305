//! The opt-in vault: one file in the config directory, `vault.age`, encrypted with a passphrase
//! (age, scrypt recipient), holding every secret of every stored profile.
//!
//! Used instead of the OS keyring after `gatehouse profile vault enable` (recorded in the
//! settings file). The passphrase comes from the environment variable
//! [`PASSPHRASE_ENV`] or, when that is unset, from a prompt on the controlling terminal. Nothing
//! is ever written in plain text: the decrypted contents only live in memory (zeroed on drop).

use crate::key::Secret;
use age::secrecy::SecretString;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use zeroize::Zeroizing;

/// The environment variable that holds the vault passphrase.
pub const PASSPHRASE_ENV: &str = "GATEHOUSE_VAULT_PASSPHRASE";

/// The vault's file name inside the config directory.
pub const FILE_NAME: &str = "vault.age";

/// Why the vault could not be used. The passphrase and the secrets never appear here.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// No passphrase: the variable is unset and there is no terminal to ask on.
    #[error(
        "the vault needs a passphrase: set {PASSPHRASE_ENV} or run gatehouse on a terminal to be \
         asked for it ({detail})"
    )]
    NoPassphrase {
        /// Why the prompt could not be shown.
        detail: String,
    },
    /// An empty passphrase was given.
    #[error("the vault passphrase must not be empty")]
    EmptyPassphrase,
    /// The two passphrases typed when creating the vault differ.
    #[error("the two passphrases differ; the vault was not created")]
    PassphraseMismatch,
    /// The passphrase does not open the vault.
    #[error("the passphrase does not open the vault {path}")]
    WrongPassphrase {
        /// The vault file.
        path: PathBuf,
    },
    /// The vault file is not an age file of ours, or its contents are damaged.
    #[error("the vault {path} is damaged: {detail}")]
    Corrupt {
        /// The vault file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// Reading or writing the vault file failed.
    #[error("cannot {action} the vault {path}: {source}")]
    Io {
        /// `read` or `write`.
        action: &'static str,
        /// The vault file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Encryption failed.
    #[error("cannot encrypt the vault {path}: {detail}")]
    Encrypt {
        /// The vault file.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
}

/// The passphrase-encrypted secret file.
pub struct Vault {
    path: PathBuf,
    passphrase: Option<SecretString>,
    work_factor: Option<u8>,
}

impl fmt::Debug for Vault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Vault")
            .field("path", &self.path)
            .field(
                "passphrase",
                &self.passphrase.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

impl Vault {
    /// The vault of a config directory; the passphrase is asked for (or read from
    /// [`PASSPHRASE_ENV`]) on first use.
    pub fn new(config_dir: &Path) -> Self {
        Vault {
            path: config_dir.join(FILE_NAME),
            passphrase: None,
            work_factor: None,
        }
    }

    /// The vault of a config directory, with a known passphrase.
    pub fn with_passphrase(config_dir: &Path, passphrase: SecretString) -> Self {
        Vault {
            passphrase: Some(passphrase),
            ..Vault::new(config_dir)
        }
    }

    /// Sets the scrypt work factor (`N = 2^log_n`, 1..=30) used when writing; by default age
    /// picks one that takes about a second. Lower values are for tests only.
    pub fn set_work_factor(&mut self, log_n: u8) {
        self.work_factor = Some(log_n.clamp(1, 30));
    }

    /// The vault file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True when the vault file exists.
    pub fn exists(&self) -> bool {
        self.path.exists()
    }

    fn passphrase(&mut self, creating: bool) -> Result<SecretString, VaultError> {
        if let Some(p) = &self.passphrase {
            return Ok(p.clone());
        }
        let p = match std::env::var(PASSPHRASE_ENV) {
            Ok(p) => Zeroizing::new(p),
            Err(_) => prompt(creating)?,
        };
        if p.is_empty() {
            return Err(VaultError::EmptyPassphrase);
        }
        let p = SecretString::from(p.to_string());
        self.passphrase = Some(p.clone());
        Ok(p)
    }

    /// Decrypts the vault: entry name → secret. A vault that does not exist yet is empty.
    pub fn load(&mut self) -> Result<BTreeMap<String, Secret>, VaultError> {
        let bytes = match std::fs::read(&self.path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(source) => {
                return Err(VaultError::Io {
                    action: "read",
                    path: self.path.clone(),
                    source,
                })
            }
        };
        let passphrase = self.passphrase(false)?;
        let identity = age::scrypt::Identity::new(passphrase);
        let plain = Zeroizing::new(age::decrypt(&identity, &bytes).map_err(|e| match e {
            age::DecryptError::DecryptionFailed
            | age::DecryptError::NoMatchingKeys
            | age::DecryptError::KeyDecryptionFailed => VaultError::WrongPassphrase {
                path: self.path.clone(),
            },
            other => VaultError::Corrupt {
                path: self.path.clone(),
                detail: other.to_string(),
            },
        })?);
        let corrupt = |detail: &str| VaultError::Corrupt {
            path: self.path.clone(),
            detail: detail.to_string(),
        };
        let entries: BTreeMap<String, Text> =
            serde_json::from_slice(&plain).map_err(|_| corrupt("not a JSON object of keys"))?;
        let mut out = BTreeMap::new();
        for (name, value) in entries {
            let secret = Secret::from_str(&value.0)
                .map_err(|_| corrupt(&format!("entry {name:?} is not a WireGuard key")))?;
            out.insert(name, secret);
        }
        Ok(out)
    }

    /// Encrypts and writes the whole vault (atomically: temp file, fsync, rename).
    pub fn save(&mut self, entries: &BTreeMap<String, Secret>) -> Result<(), VaultError> {
        let creating = !self.exists();
        let passphrase = self.passphrase(creating)?;
        let map: BTreeMap<&str, Text> = entries
            .iter()
            .map(|(k, v)| (k.as_str(), Text(v.expose_base64())))
            .collect();
        let plain = Zeroizing::new(serde_json::to_vec(&map).map_err(|e| VaultError::Encrypt {
            path: self.path.clone(),
            detail: e.to_string(),
        })?);
        let mut recipient = age::scrypt::Recipient::new(passphrase);
        if let Some(n) = self.work_factor {
            recipient.set_work_factor(n);
        }
        let cipher = age::encrypt(&recipient, &plain).map_err(|e| VaultError::Encrypt {
            path: self.path.clone(),
            detail: e.to_string(),
        })?;
        if let Some(dir) = self.path.parent() {
            crate::files::ensure_private_dir(dir).map_err(|source| VaultError::Io {
                action: "write",
                path: self.path.clone(),
                source,
            })?;
        }
        crate::files::write_atomic(&self.path, &cipher).map_err(|source| VaultError::Io {
            action: "write",
            path: self.path.clone(),
            source,
        })
    }

    /// Removes the vault file (after its secrets were moved elsewhere).
    pub fn remove(&self) -> Result<(), VaultError> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(VaultError::Io {
                action: "write",
                path: self.path.clone(),
                source,
            }),
        }
    }

    /// The passphrase as text, only to hand it to a child process in tests.
    #[cfg(test)]
    fn exposed_passphrase(&self) -> Option<String> {
        use age::secrecy::ExposeSecret;
        self.passphrase
            .as_ref()
            .map(|p| p.expose_secret().to_string())
    }
}

/// Base64 text of a secret inside the decrypted vault, zeroed on drop.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
struct Text(String);

impl Drop for Text {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.0.zeroize();
    }
}

fn prompt(creating: bool) -> Result<Zeroizing<String>, VaultError> {
    // rpassword reads from the controlling terminal, so piped stdin still works.
    if std::fs::File::open("/dev/tty").is_err() {
        return Err(VaultError::NoPassphrase {
            detail: "no terminal".to_string(),
        });
    }
    let ask = |text: &str| {
        rpassword::prompt_password(text)
            .map(Zeroizing::new)
            .map_err(|e| VaultError::NoPassphrase {
                detail: e.to_string(),
            })
    };
    if creating {
        let first = ask("New Gatehouse vault passphrase: ")?;
        let second = ask("Repeat the passphrase: ")?;
        if *first == *second {
            Ok(first)
        } else {
            Err(VaultError::PassphraseMismatch)
        }
    } else {
        ask("Gatehouse vault passphrase: ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vault(dir: &Path, pass: &str) -> Vault {
        let mut v = Vault::with_passphrase(dir, SecretString::from(pass.to_string()));
        v.set_work_factor(4);
        v
    }

    #[test]
    fn round_trip_and_wrong_passphrase() {
        let dir = tempfile::tempdir().unwrap();
        let mut v = vault(dir.path(), "correct horse");
        assert!(v.load().unwrap().is_empty(), "a missing vault is empty");
        let s = Secret::generate();
        let mut map = BTreeMap::new();
        map.insert("id/private".to_string(), s.clone());
        v.save(&map).unwrap();
        assert_eq!(v.exposed_passphrase().as_deref(), Some("correct horse"));

        // Encrypted at rest: neither the base64 text nor the raw bytes are in the file.
        let bytes = std::fs::read(v.path()).unwrap();
        let b64 = s.expose_base64();
        assert!(!bytes.windows(b64.len()).any(|w| w == b64.as_bytes()));
        assert!(!bytes.windows(32).any(|w| w == s.expose()));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(v.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);

        let got = vault(dir.path(), "correct horse").load().unwrap();
        assert_eq!(got.get("id/private"), Some(&s));

        let err = vault(dir.path(), "wrong").load().unwrap_err();
        assert!(matches!(err, VaultError::WrongPassphrase { .. }), "{err}");
        assert!(!err.to_string().contains("wrong"));
    }

    #[test]
    fn garbage_file_is_reported_as_damaged() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(FILE_NAME), b"not age at all").unwrap();
        let err = vault(dir.path(), "pw").load().unwrap_err();
        assert!(matches!(err, VaultError::Corrupt { .. }), "{err}");
    }
}
