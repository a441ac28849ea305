//! XML helpers for the query APIs' answers.

use roxmltree::Node;
use serde_json::{Map, Value};

pub(super) fn child<'a, 'i>(n: Node<'a, 'i>, name: &str) -> Option<Node<'a, 'i>> {
    n.children()
        .find(|c| c.is_element() && c.tag_name().name() == name)
}

pub(super) fn text_of(n: Node<'_, '_>, name: &str) -> Option<String> {
    child(n, name)
        .and_then(|c| c.text())
        .map(|t| t.trim().to_string())
}

/// The `<item>` (EC2) or `<member>` (ELBv2) children of `n`'s child `set`.
pub(super) fn items<'a, 'i>(n: Node<'a, 'i>, set: &str) -> Vec<Node<'a, 'i>> {
    match child(n, set) {
        Some(s) => s
            .children()
            .filter(|c| c.is_element() && matches!(c.tag_name().name(), "item" | "member"))
            .collect(),
        None => Vec::new(),
    }
}

/// `Value::String` of a child's text, `Null` when absent or empty.
pub(super) fn s(n: Node<'_, '_>, name: &str) -> Value {
    match text_of(n, name) {
        Some(t) if !t.is_empty() => Value::String(t),
        _ => Value::Null,
    }
}

pub(super) fn b(n: Node<'_, '_>, name: &str) -> Value {
    match text_of(n, name).as_deref() {
        Some("true") => Value::Bool(true),
        Some("false") => Value::Bool(false),
        _ => Value::Null,
    }
}

/// `tagSet` as a JSON object.
pub(super) fn tags(n: Node<'_, '_>) -> Value {
    let mut m = Map::new();
    for t in items(n, "tagSet") {
        if let Some(k) = text_of(t, "key") {
            m.insert(k, Value::String(text_of(t, "value").unwrap_or_default()));
        }
    }
    Value::Object(m)
}

/// The texts of a set's items (`<SecurityGroups><member>sg-1</member>…`), or of one child of
/// each item (`<groupSet><item><groupId>`).
pub(super) fn texts(n: Node<'_, '_>, set: &str, field: Option<&str>) -> Vec<Value> {
    items(n, set)
        .into_iter()
        .filter_map(|i| match field {
            Some(f) => text_of(i, f),
            None => i.text().map(|t| t.trim().to_string()),
        })
        .filter(|t| !t.is_empty())
        .map(Value::String)
        .collect()
}

/// Every element child of `n`'s child `set`, whatever its name (`<DBInstances><DBInstance>`,
/// `<Subnets><Subnet>`, `<MemberClusters><ClusterId>`).
pub(super) fn kids<'a, 'i>(n: Node<'a, 'i>, set: &str) -> Vec<Node<'a, 'i>> {
    match child(n, set) {
        Some(s) => s.children().filter(|c| c.is_element()).collect(),
        None => Vec::new(),
    }
}

/// The non-empty text at a path of children (`["Endpoint", "Address"]`).
pub(super) fn text_at(n: Node<'_, '_>, path: &[&str]) -> Option<String> {
    let (last, parents) = path.split_last()?;
    let mut cur = n;
    for p in parents {
        cur = child(cur, p)?;
    }
    text_of(cur, last).filter(|t| !t.is_empty())
}

/// The texts of `field` of each of `set`'s element children (`<VpcSecurityGroups>
/// <VpcSecurityGroupMembership><VpcSecurityGroupId>`), or of the children themselves
/// (`<MemberClusters><ClusterId>`) when `field` is `None`; empty ones left out.
pub(super) fn kid_texts(n: Node<'_, '_>, set: &str, field: Option<&str>) -> Vec<String> {
    kids(n, set)
        .into_iter()
        .filter_map(|k| match field {
            Some(f) => text_of(k, f),
            None => k.text().map(|t| t.trim().to_string()),
        })
        .filter(|t| !t.is_empty())
        .collect()
}

/// A `tagSet` (EC2: `item`/`key`/`value`) or a `TagList` (RDS: `Tag`/`Key`/`Value`) as a map.
pub(super) fn tag_map(n: Node<'_, '_>) -> std::collections::BTreeMap<String, String> {
    let mut m = std::collections::BTreeMap::new();
    for t in kids(n, "tagSet") {
        if let Some(k) = text_of(t, "key") {
            m.insert(k, text_of(t, "value").unwrap_or_default());
        }
    }
    for t in kids(n, "TagList") {
        if let Some(k) = text_of(t, "Key") {
            m.insert(k, text_of(t, "Value").unwrap_or_default());
        }
    }
    m
}

/// The `Name` tag, else `fallback`.
pub(super) fn name_or(tags: &std::collections::BTreeMap<String, String>, fallback: &str) -> String {
    tags.get("Name")
        .filter(|n| !n.is_empty())
        .cloned()
        .unwrap_or_else(|| fallback.to_string())
}
