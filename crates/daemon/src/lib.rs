//! The privileged Gatehouse service.
