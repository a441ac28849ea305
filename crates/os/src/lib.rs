//! gatehouse-os (being built).
