//! End-to-end: the tunnel against wireguard-go in network namespaces (being built).
