//! `gatehouse up` and `gatehouse status` (being built).

/// Arguments of `gatehouse up`.
#[derive(clap::Args)]
pub struct UpArgs {}

/// Arguments of `gatehouse status`.
#[derive(clap::Args)]
pub struct StatusArgs {}

/// Runs `gatehouse up`.
pub fn up(_args: UpArgs) -> anyhow::Result<()> {
    anyhow::bail!("gatehouse up is not available yet")
}

/// Runs `gatehouse status`.
pub fn status(_args: StatusArgs) -> anyhow::Result<()> {
    anyhow::bail!("gatehouse status is not available yet")
}
