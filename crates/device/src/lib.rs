//! gatehouse-device (being built).
