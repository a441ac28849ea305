//! Linux: nftables through `nft -f -` (the same script wg-quick feeds it).

use super::{nft_family, nft_script, nft_table_name, valid_interface_name};
use super::{FirewallSpec, FirewallUndo};
use crate::util::{on_path, run};
use crate::OsError;

/// The nftables packet filter.
pub(crate) struct Firewall;

impl Firewall {
    /// Installs the table for one family. Without `nft` on the host nothing is installed (a
    /// warning is logged): routing works, but strict reverse-path filtering may drop the
    /// tunnel's UDP replies.
    pub(crate) async fn apply(
        interface: &str,
        spec: &FirewallSpec,
    ) -> Result<Option<FirewallUndo>, OsError> {
        if !valid_interface_name(interface) {
            return Err(OsError::Invalid(format!(
                "interface name {interface:?}: expected [a-zA-Z0-9_=+.-]{{1,15}}"
            )));
        }
        if !on_path("nft") {
            tracing::warn!(
                interface,
                "nft not found: no anti-spoofing or connmark rules for the default route"
            );
            return Ok(None);
        }
        let undo = FirewallUndo::DeleteNftTable {
            family: nft_family(spec.family).to_string(),
            name: nft_table_name(interface),
        };
        // A table left by a crash is replaced, not duplicated.
        let _ = Firewall::undo(&undo).await;
        let script = nft_script(interface, spec);
        if let Err(e) = run("nft", &["-f".into(), "-".into()], Some(&script)).await {
            let _ = Firewall::undo(&undo).await;
            return Err(e);
        }
        Ok(Some(undo))
    }

    /// Deletes the table; a table already gone counts as deleted.
    pub(crate) async fn undo(action: &FirewallUndo) -> Result<(), OsError> {
        match action {
            FirewallUndo::DeleteNftTable { family, name } => {
                if family != "ip" && family != "ip6" || !name.starts_with("gatehouse-") {
                    return Err(OsError::Invalid(format!("nft table {family} {name}")));
                }
                let args = vec![
                    "delete".into(),
                    "table".into(),
                    family.clone(),
                    name.clone(),
                ];
                match run("nft", &args, None).await {
                    Ok(_) => Ok(()),
                    Err(OsError::Command { detail, .. })
                        if detail.contains("No such file or directory") =>
                    {
                        Ok(())
                    }
                    Err(e) => Err(e),
                }
            }
        }
    }

    /// `nft list tables`, sorted; `None` without nft.
    pub(crate) async fn tables() -> Option<Vec<String>> {
        if !on_path("nft") {
            return None;
        }
        let out = run("nft", &["list".into(), "tables".into()], None)
            .await
            .ok()?;
        let mut v: Vec<String> = out.lines().map(|l| l.trim().to_string()).collect();
        v.sort();
        Some(v)
    }
}
