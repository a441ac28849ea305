//! Shared helpers of the end-to-end tests.

pub mod daemon;
pub mod keyring;
pub mod lab;
pub mod moto;
pub mod netns;
pub mod netstack;

use std::path::PathBuf;
use std::process::Command;

/// The `gatehouse` binary under test: `$GATEHOUSE_BIN`, else `gatehouse` beside the test
/// executable's directory (cargo puts test executables in `target/<profile>/deps/`; the test
/// command runs `cargo build -p gatehouse-cli` first).
pub fn gatehouse_bin() -> PathBuf {
    match std::env::var_os("GATEHOUSE_BIN") {
        Some(b) => PathBuf::from(b),
        None => std::env::current_exe()
            .ok()
            .and_then(|exe| Some(exe.parent()?.parent()?.join("gatehouse")))
            .unwrap_or_else(|| PathBuf::from("gatehouse")),
    }
}

/// True when `GATEHOUSE_E2E_REQUIRE=1`: a missing environment fails a test instead of skipping it.
pub fn required() -> bool {
    std::env::var("GATEHOUSE_E2E_REQUIRE").is_ok_and(|v| v == "1")
}

/// True when `tool` is on the PATH.
pub fn has_tool(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// False (after a `SKIPPED` notice) when `test` can't run here: not root while `root` is asked,
/// a tool of `tools` or the gatehouse binary missing. Panics instead when
/// `GATEHOUSE_E2E_REQUIRE=1`, so CI can't pass a test by skipping it.
pub fn can_run(test: &str, root: bool, tools: &[&str]) -> bool {
    let mut missing = Vec::new();
    if root && !netns::is_root() {
        missing.push("root".to_owned());
    }
    missing.extend(
        tools
            .iter()
            .filter(|t| !has_tool(t))
            .map(|t| (*t).to_owned()),
    );
    let bin = gatehouse_bin();
    if !bin.is_file() {
        missing.push(format!(
            "{} (cargo build -p gatehouse-cli, or set GATEHOUSE_BIN)",
            bin.display()
        ));
    }
    if missing.is_empty() {
        return true;
    }
    let msg = format!("{test}: needs {}", missing.join(", "));
    assert!(!required(), "{msg} (GATEHOUSE_E2E_REQUIRE=1)");
    eprintln!("SKIPPED {msg}; set GATEHOUSE_E2E_REQUIRE=1 to fail instead");
    false
}
