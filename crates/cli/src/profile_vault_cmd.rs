//! `gatehouse profile vault`: where keys are kept, the OS keyring (default) or a
//! passphrase-encrypted vault file, and moving them from one to the other.

use gatehouse_profile::secrets::{Backend, BackendKind, Keyring};
use gatehouse_profile::store::Store;
use gatehouse_profile::vault::Vault;
use serde_json::json;

use crate::profile_common::emit;

#[derive(clap::Subcommand)]
pub(crate) enum VaultAction {
    /// Keep keys in the vault file (passphrase from GATEHOUSE_VAULT_PASSPHRASE or a prompt);
    /// moves the stored keys there from the keyring.
    Enable {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Keep keys in the OS keyring again; moves them back from the vault.
    Disable {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
    /// Tell which backend is in use.
    Status {
        /// Machine-readable output.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn run(store: &mut Store, action: VaultAction) -> anyhow::Result<()> {
    let (target, json) = match action {
        VaultAction::Status { json } => {
            let kind = store.backend_kind();
            let path = store.dir().join(gatehouse_profile::vault::FILE_NAME);
            return emit(
                json,
                json!({"secret_backend": kind.to_string(), "vault_file": path, "config_dir": store.dir()}),
                || match kind {
                    BackendKind::Keyring => {
                        "keys are kept in the OS keyring (Secret Service)".to_string()
                    }
                    BackendKind::Vault => format!("keys are kept in the vault {}", path.display()),
                },
            );
        }
        VaultAction::Enable { json } => (BackendKind::Vault, json),
        VaultAction::Disable { json } => (BackendKind::Keyring, json),
    };
    if store.backend_kind() == target {
        return emit(
            json,
            json!({"secret_backend": target.to_string(), "moved": 0, "changed": false}),
            || format!("already using the {target}"),
        );
    }
    let backend = match target {
        BackendKind::Vault => Backend::Vault(Vault::new(store.dir())),
        BackendKind::Keyring => Backend::Keyring(Keyring::new()),
    };
    let (moved, cleaned) = store.switch_backend(backend)?;
    if !cleaned {
        eprintln!(
            "WARNING: the keys were copied to the {target} but could not all be removed from \
             the previous backend"
        );
    }
    emit(
        json,
        json!({"secret_backend": target.to_string(), "moved": moved, "changed": true, "old_entries_removed": cleaned}),
        || format!("keys are now kept in the {target} ({moved} moved)"),
    )
}
