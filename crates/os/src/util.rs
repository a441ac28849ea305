//! Running the host's tools (resolvectl, resolvconf, nft).
#![cfg_attr(not(target_os = "linux"), allow(dead_code))]

use crate::OsError;
use std::process::Stdio;

/// Runs `program args…` (feeding `stdin`), failing on a non-zero exit.
pub(crate) async fn run(
    program: &str,
    args: &[String],
    stdin: Option<&str>,
) -> Result<String, OsError> {
    let command = format!("{program} {}", args.join(" "));
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| OsError::Command {
            command: command.clone(),
            detail: e.to_string(),
        })?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        use tokio::io::AsyncWriteExt;
        pipe.write_all(text.as_bytes())
            .await
            .map_err(|e| OsError::Command {
                command: command.clone(),
                detail: format!("writing stdin: {e}"),
            })?;
    }
    let out = child
        .wait_with_output()
        .await
        .map_err(|e| OsError::Command {
            command: command.clone(),
            detail: e.to_string(),
        })?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(OsError::Command {
            command,
            detail: format!(
                "{}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ),
        })
    }
}

/// True when `program` is an executable file in a `PATH` directory.
pub(crate) fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}
