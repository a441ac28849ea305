//! gatehouse-tunnel (being built).
