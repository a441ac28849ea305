//! vault (being built).
