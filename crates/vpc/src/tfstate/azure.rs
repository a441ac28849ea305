//! Azure (`azurerm_*`): no resource type is read yet. The Azure rows land in this table
//! (virtual networks, subnets, virtual machines and their network interfaces, network security
//! groups, route tables…), each a struct of its attributes with a [`Resource`](super::Resource) impl, as in
//! [`super::aws`].

use serde::de::Deserializer;

use super::{lookup, Decode, Mapping};

/// The Azure table: empty for now, so every `azurerm_*` resource is counted as skipped.
pub(super) fn find<'de, D: Deserializer<'de>>(ty: &str) -> Option<Decode<'de, D>> {
    let rows: &[Mapping<D>] = &[];
    lookup(ty, rows)
}
