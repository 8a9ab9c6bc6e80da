//! The update tree of an operator-style update (MongoDB's `UpdateObjectNode` /
//! `UpdateArrayNode` / leaf nodes): one node per path component, children applied in
//! field-name order, positional `$` kept beside the named children, `$[<id>]` children
//! under array nodes. Parsing merges every `{$op: {path: arg}}` into the tree and reports
//! conflicting paths; applying walks the tree over the document (see `apply.rs`).
use std::collections::{BTreeMap, BTreeSet};

use bson::{Bson, Document, RawBsonRef, RawDocument};
use documentdb_errors::{bail, docdb_error, DocDbError, DocDbResult};

use super::field_ref::{is_array_filter_identifier, is_positional, split_path};
use super::fmt;
use super::ops::{self, Modifier, Op};
use crate::filter::Filter;

/// A node of the update tree.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    Object(ObjectNode),
    Array(ArrayNode),
    Leaf(Box<Leaf>),
}

/// A child's field name, ordered as MongoDB 5.0+ orders update paths
/// (`pathsupport::cmpPathsAndArrayIndexes`): "string-based names in lexicographic order,
/// numeric names in numeric order" (so `a.2` is processed before `a.10`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FieldKey(pub String);

impl FieldKey {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

/// The update-path order of two field names: numbers (a digit first, not zero-padded) by
/// length and then digits, everything else by bytes.
pub(crate) fn field_order(a: &str, b: &str) -> std::cmp::Ordering {
    let numeric = |s: &str| {
        let bytes = s.as_bytes();
        bytes.first().is_some_and(u8::is_ascii_digit) && !(bytes.first() == Some(&b'0') && bytes.len() > 1)
    };
    if numeric(a) && numeric(b) && a.len() != b.len() {
        return a.len().cmp(&b.len());
    }
    a.as_bytes().cmp(b.as_bytes())
}

impl Ord for FieldKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        field_order(&self.0, &other.0)
    }
}

impl PartialOrd for FieldKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Children by field name (in update-path order), plus the positional `$` child.
#[derive(Debug, Clone, Default)]
pub(crate) struct ObjectNode {
    pub children: BTreeMap<FieldKey, Node>,
    pub positional: Option<Box<Node>>,
}

/// Children by array-filter identifier (`""` for `$[]`).
#[derive(Debug, Clone, Default)]
pub(crate) struct ArrayNode {
    pub children: BTreeMap<FieldKey, Node>,
}

/// An operator at the end of a path.
#[derive(Debug, Clone)]
pub(crate) struct Leaf {
    pub op: Op,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum NodeKind {
    Object,
    Array,
    Leaf,
}

impl Node {
    fn kind(&self) -> NodeKind {
        match self {
            Node::Object(_) => NodeKind::Object,
            Node::Array(_) => NodeKind::Array,
            Node::Leaf(_) => NodeKind::Leaf,
        }
    }

    fn child(&self, name: &str) -> Option<&Node> {
        match self {
            Node::Object(o) if name == "$" => o.positional.as_deref(),
            Node::Object(o) => o.children.get(&FieldKey(name.to_owned())),
            Node::Array(a) => a.children.get(&FieldKey(name.to_owned())),
            Node::Leaf(_) => None,
        }
    }

    fn child_mut(&mut self, name: &str) -> Option<&mut Node> {
        match self {
            Node::Object(o) => {
                if name == "$" {
                    o.positional.as_deref_mut()
                } else {
                    o.children.get_mut(&FieldKey(name.to_owned()))
                }
            }
            Node::Array(a) => a.children.get_mut(&FieldKey(name.to_owned())),
            Node::Leaf(_) => None,
        }
    }

    fn set_child(&mut self, name: String, child: Node) {
        match self {
            Node::Object(o) if name == "$" => o.positional = Some(Box::new(child)),
            Node::Object(o) => {
                o.children.insert(FieldKey(name), child);
            }
            Node::Array(a) => {
                a.children.insert(FieldKey(name), child);
            }
            Node::Leaf(_) => {}
        }
    }
}

/// A `$rename` of `from` to `to` (both as path components).
#[derive(Debug, Clone)]
pub(crate) struct Rename {
    pub from: Vec<String>,
}

/// A parsed operator-style update.
#[derive(Debug, Clone)]
pub(crate) struct OperatorUpdate {
    pub root: Node,
    pub renames: Vec<Rename>,
}

/// MongoDB's `fieldchecker::isUpdatable`, plus the `FieldPath` length limit: a path with
/// more than [`MAX_PATH_COMPONENTS`](documentdb_bson::path::MAX_PATH_COMPONENTS)
/// components is Overflow, "FieldPath is too long" (it could only address or create a
/// field nested deeper than a stored document may be, and the update tree, its
/// application and the created value would all be that deep).
pub(crate) fn check_updatable(path: &str, parts: &[String]) -> DocDbResult<()> {
    if parts.is_empty() {
        bail!(EmptyFieldName, "An empty update path is not valid.");
    }
    documentdb_bson::path::check_component_count(parts.len())?;
    if parts.iter().any(String::is_empty) {
        bail!(EmptyFieldName, "The update path '{path}' contains an empty field name, which is not allowed.");
    }
    Ok(())
}

/// Parses `{$op: {path: arg, ...}, ...}`; `spec` is known to start with a `$` field. The raw
/// document is walked so repeated fields are seen (and conflict) as MongoDB sees them.
pub(crate) fn parse_operators(spec: &RawDocument, filters: &BTreeMap<String, Filter>) -> DocDbResult<OperatorUpdate> {
    let mut root = Node::Object(ObjectNode::default());
    let mut found_ids = BTreeSet::new();
    let mut renames = Vec::new();
    for entry in spec {
        let (name, arg) = entry.map_err(bson_err)?;
        let name = name.as_str();
        let Some(modifier) = Modifier::from_name(name) else {
            bail!(
                FailedToParse,
                "Unknown modifier: {name}. Expected a valid update modifier or pipeline-style update specified as an array"
            );
        };
        let RawBsonRef::Document(fields) = arg else {
            let arg = Bson::try_from(arg).map_err(bson_err)?;
            bail!(
                FailedToParse,
                "Modifiers operate on fields but we found type {} instead. For example: {{$mod: {{<field>: ...}}}} not {{{}}}",
                documentdb_bson::type_name(arg.element_type()),
                fmt::element(name, &arg)
            );
        };
        for field in fields {
            let (path, value) = field.map_err(bson_err)?;
            let path = path.as_str();
            let value = Bson::try_from(value).map_err(bson_err)?;
            let mut ctx = MergeCtx { filters, found_ids: &mut found_ids };
            if modifier == Modifier::Rename {
                // MongoDB places a conflict placeholder at the source and the rename itself
                // at the destination.
                parse_and_merge(&mut root, path, Op::RenamePlaceholder, &mut ctx)?;
                let Bson::String(to) = &value else {
                    bail!(BadValue, "The 'to' field for $rename must be a string: {}", fmt::element(path, &value));
                };
                let to_parts = split_path(to);
                check_updatable(to, &to_parts)?;
                check_positional(to, &to_parts)?;
                let op = ops::parse_rename(path, to, &value)?;
                renames.push(Rename { from: split_path(path) });
                insert_leaf(&mut root, to, &to_parts, op, &mut ctx)?;
            } else {
                let parts = split_path(path);
                check_updatable(path, &parts)?;
                check_positional(path, &parts)?;
                let op = ops::parse_op(modifier, path, &value)?;
                insert_leaf(&mut root, path, &parts, op, &mut ctx)?;
            }
        }
    }
    for id in filters.keys() {
        if !found_ids.contains(id) {
            let spec = Document::try_from(spec).map_err(bson_err)?;
            bail!(
                FailedToParse,
                "The array filter for identifier '{id}' was not used in the update {}",
                fmt::document(&spec)
            );
        }
    }
    Ok(OperatorUpdate { root, renames })
}

fn bson_err(e: impl std::fmt::Display) -> DocDbError {
    docdb_error!(InvalidBSON, "{e}")
}

struct MergeCtx<'a> {
    filters: &'a BTreeMap<String, Filter>,
    found_ids: &'a mut BTreeSet<String>,
}

fn check_positional(path: &str, parts: &[String]) -> DocDbResult<()> {
    let positions: Vec<usize> = parts.iter().enumerate().filter(|(_, p)| is_positional(p)).map(|(i, _)| i).collect();
    if positions.len() > 1 {
        bail!(BadValue, "Too many positional (i.e. '$') elements found in path '{path}'");
    }
    if positions.first() == Some(&0) {
        bail!(BadValue, "Cannot have positional (i.e. '$') element in the first position in path '{path}'");
    }
    Ok(())
}

/// `parseAndMerge` for the `$rename` source placeholder.
fn parse_and_merge(root: &mut Node, path: &str, op: Op, ctx: &mut MergeCtx<'_>) -> DocDbResult<()> {
    let parts = split_path(path);
    check_updatable(path, &parts)?;
    check_positional(path, &parts)?;
    insert_leaf(root, path, &parts, op, ctx)
}

fn child_name(part: &str, position: usize, path: &str, ctx: &mut MergeCtx<'_>) -> DocDbResult<String> {
    if !is_array_filter_identifier(part) {
        return Ok(part.to_owned());
    }
    if position == 0 {
        bail!(
            BadValue,
            "Cannot have array filter identifier (i.e. '$[<id>]') element in the first position in path '{path}'"
        );
    }
    let identifier = part.get(2..part.len() - 1).unwrap_or("");
    if !identifier.is_empty() {
        if !ctx.filters.contains_key(identifier) {
            bail!(BadValue, "No array filter found for identifier '{identifier}' in path '{path}'");
        }
        ctx.found_ids.insert(identifier.to_owned());
    }
    Ok(identifier.to_owned())
}

fn insert_leaf(root: &mut Node, path: &str, parts: &[String], op: Op, ctx: &mut MergeCtx<'_>) -> DocDbResult<()> {
    let Some((last, inner)) = parts.split_last() else {
        bail!(EmptyFieldName, "An empty update path is not valid.");
    };
    let mut current = root;
    for (i, part) in inner.iter().enumerate() {
        let name = child_name(part, i, path, ctx)?;
        let next_is_array = parts.get(i + 1).is_some_and(|p| is_array_filter_identifier(p));
        let wanted = if next_is_array { NodeKind::Array } else { NodeKind::Object };
        match current.child(&name).map(Node::kind) {
            Some(kind) if kind != wanted => {
                bail!(
                    ConflictingUpdateOperators,
                    "Updating the path '{path}' would create a conflict at '{}'",
                    parts[..=i].join(".")
                );
            }
            Some(_) => {}
            None => {
                let node =
                    if next_is_array { Node::Array(ArrayNode::default()) } else { Node::Object(ObjectNode::default()) };
                current.set_child(name.clone(), node);
            }
        }
        current = current.child_mut(&name).ok_or_else(|| docdb_error!(InternalError, "update tree node vanished"))?;
    }
    let name = child_name(last, parts.len() - 1, path, ctx)?;
    if current.child(&name).is_some() {
        bail!(ConflictingUpdateOperators, "Updating the path '{path}' would create a conflict at '{path}'");
    }
    current.set_child(name, Node::Leaf(Box::new(Leaf { op })));
    Ok(())
}

/// `UpdateNode::createUpdateNodeByMerging`: merges the positional child with a same-named
/// child, or several `$[<id>]` children that apply to one array element. `path` is the
/// runtime path of the merge point (for the conflict message).
pub(crate) fn merge(left: &Node, right: &Node, path: &mut Vec<String>) -> DocDbResult<Node> {
    documentdb_bson::stack::guard()?;
    match (left, right) {
        (Node::Object(l), Node::Object(r)) => {
            let children = merge_maps(&l.children, &r.children, path, false)?;
            let positional = match (&l.positional, &r.positional) {
                (Some(a), Some(b)) => {
                    path.push("$".to_owned());
                    let merged = merge(a, b, path);
                    path.pop();
                    Some(Box::new(merged?))
                }
                (Some(a), None) | (None, Some(a)) => Some(a.clone()),
                (None, None) => None,
            };
            Ok(Node::Object(ObjectNode { children, positional }))
        }
        (Node::Array(l), Node::Array(r)) => {
            Ok(Node::Array(ArrayNode { children: merge_maps(&l.children, &r.children, path, true)? }))
        }
        _ => bail!(ConflictingUpdateOperators, "Update created a conflict at '{}'", path.join(".")),
    }
}

fn merge_maps(
    left: &BTreeMap<FieldKey, Node>,
    right: &BTreeMap<FieldKey, Node>,
    path: &mut Vec<String>,
    wrap_identifier: bool,
) -> DocDbResult<BTreeMap<FieldKey, Node>> {
    let mut out = left.clone();
    for (name, node) in right {
        match left.get(name) {
            None => {
                out.insert(name.clone(), node.clone());
            }
            Some(existing) => {
                path.push(if wrap_identifier { format!("$[{}]", name.as_str()) } else { name.0.clone() });
                let merged = merge(existing, node, path);
                path.pop();
                out.insert(name.clone(), merged?);
            }
        }
    }
    Ok(out)
}
