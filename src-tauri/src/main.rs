//! The Gatehouse desktop app's executable: everything is in the library.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    gatehouse_app::run();
}
