//! Live cloud importers: thin HTTP drivers around the sans-IO importers of `gatehouse-vpc`.
//! `aws` signs EC2 and ELBv2 requests with SigV4; `digitalocean` reads the v2 API with a token
//! kept in the OS keyring.

pub mod aws;
pub mod digitalocean;
