//! parse (being built).
