//! The prober driver (being written).
