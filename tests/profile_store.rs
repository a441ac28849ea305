//! End-to-end: profiles against a real Secret Service (being built).
