//! Helpers for network-namespace tests with wireguard-go (being built).
