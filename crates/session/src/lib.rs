//! The one session API of Gatehouse.
