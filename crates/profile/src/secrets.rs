//! secrets (being built).
