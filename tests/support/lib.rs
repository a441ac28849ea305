//! Shared helpers of the end-to-end tests.

pub mod daemon;
pub mod keyring;
pub mod lab;
pub mod netns;
pub mod netstack;
