//! Tauri's build step: embeds the config, the capabilities and the icons.
fn main() {
    tauri_build::build()
}
