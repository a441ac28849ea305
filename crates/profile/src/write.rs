//! write (being built).
