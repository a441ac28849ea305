//! qr (being built).
