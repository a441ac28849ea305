//! Helpers for tests against a real Secret Service (being built).
