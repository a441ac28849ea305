//! `gatehouse profile …` (being built).

/// Arguments of `gatehouse profile`.
#[derive(clap::Args)]
pub struct ProfileArgs {}

/// Runs `gatehouse profile`.
pub fn run(_args: ProfileArgs) -> anyhow::Result<()> {
    anyhow::bail!("gatehouse profile is not available yet")
}
