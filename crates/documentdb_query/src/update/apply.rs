//! Applying an operator update tree to a document (MongoDB's `UpdateNode::apply` family):
//! the walk keeps the deepest existing element plus the components still to create, so a
//! modifier either updates an existing element or creates the rest of its path.
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap};

use bson::{Bson, Document, RawBson};
use documentdb_errors::{bail, docdb_error, DocDbError, DocDbResult};

use super::field_ref;
use super::fmt;
use super::ops::{self, Op, Site};
use super::tree::{self, ArrayNode, Node, ObjectNode, OperatorUpdate};
use crate::filter::Filter;

/// MongoDB's `kMaxPaddingAllowed`: how many nulls a `$set` past an array's end may add.
const MAX_PADDING: usize = 1_500_000;

struct Step {
    name: String,
    is_array: bool,
}

struct ApplyCtx<'a> {
    positional: Option<String>,
    filters: &'a BTreeMap<String, Filter>,
    insert: bool,
    id: String,
    rename_sources: HashMap<Vec<String>, Result<Option<Bson>, DocDbError>>,
    removals: Vec<Vec<String>>,
    dollar_checks: Vec<String>,
    steps: Vec<Step>,
}

impl ApplyCtx<'_> {
    fn path_parts(&self) -> Vec<String> {
        self.steps.iter().map(|s| s.name.clone()).collect()
    }

    fn dotted_with(&self, extra: &[String]) -> String {
        self.steps.iter().map(|s| s.name.as_str()).chain(extra.iter().map(String::as_str)).collect::<Vec<_>>().join(".")
    }

    fn last_name(&self) -> &str {
        self.steps.last().map(|s| s.name.as_str()).unwrap_or("")
    }
}

/// `_id: <value>` of a document for messages, or `no id`.
pub(crate) fn id_repr(doc: &Document) -> String {
    doc.get("_id").map(|v| fmt::element("_id", v)).unwrap_or_else(|| "no id".to_owned())
}

/// Applies `update` to `doc` in place. `insert` is true while building an upsert's
/// document (`$setOnInsert` active, no storage checks for `$`-prefixed fields).
pub(crate) fn apply_operators(
    update: &OperatorUpdate,
    filters: &BTreeMap<String, Filter>,
    doc: &mut Document,
    positional: Option<usize>,
    insert: bool,
) -> DocDbResult<()> {
    let id = id_repr(doc);
    let rename_sources =
        update.renames.iter().map(|r| (r.from.clone(), find_rename_source(doc, &r.from, &id))).collect();
    let mut ctx = ApplyCtx {
        positional: positional.map(|p| p.to_string()),
        filters,
        insert,
        id,
        rename_sources,
        removals: Vec::new(),
        dollar_checks: Vec::new(),
        steps: Vec::new(),
    };
    let mut root = Bson::Document(std::mem::take(doc));
    let result = apply_node(&update.root, &mut root, &[], &mut ctx);
    if let Bson::Document(d) = root {
        *doc = d;
    }
    result?;
    for path in &ctx.removals {
        remove_path(doc, path);
    }
    for name in &ctx.dollar_checks {
        if doc.contains_key(name) {
            validate_dollar_field(doc, name)?;
        }
    }
    Ok(())
}

fn apply_node(node: &Node, base: &mut Bson, pending: &[String], ctx: &mut ApplyCtx<'_>) -> DocDbResult<()> {
    documentdb_bson::stack::guard()?;
    match node {
        Node::Object(o) => apply_object(o, base, pending, ctx),
        Node::Array(a) => apply_array(a, base, pending, ctx),
        Node::Leaf(l) => apply_leaf(&l.op, base, pending, ctx),
    }
}

enum Entry<'n> {
    One(&'n Node),
    Merge(&'n Node, &'n Node),
}

fn apply_object(node: &ObjectNode, base: &mut Bson, pending: &[String], ctx: &mut ApplyCtx<'_>) -> DocDbResult<()> {
    let mut positional: Option<(String, &Node)> = match &node.positional {
        None => None,
        Some(p) => match &ctx.positional {
            Some(m) => Some((m.clone(), p.as_ref())),
            None => bail!(BadValue, "The positional operator did not find the match needed from the query."),
        },
    };
    // Children in field-name order; the positional child goes where its matched index
    // sorts, merged with a same-named child.
    let mut entries: Vec<(String, Entry<'_>)> = Vec::with_capacity(node.children.len() + 1);
    for (name, child) in &node.children {
        let name = name.as_str();
        if let Some((m, p)) = positional.take() {
            match tree::field_order(&m, name) {
                Ordering::Equal => {
                    entries.push((m, Entry::Merge(p, child)));
                    continue;
                }
                Ordering::Less => entries.push((m, Entry::One(p))),
                Ordering::Greater => positional = Some((m, p)),
            }
        }
        entries.push((name.to_owned(), Entry::One(child)));
    }
    if let Some((m, p)) = positional {
        entries.push((m, Entry::One(p)));
    }

    let saved = ctx.steps.len();
    let mut pending: Vec<String> = pending.to_vec();
    let mut base = base;
    for (name, entry) in entries {
        // A previous child may have created the missing part of our path.
        if !pending.is_empty() {
            if let Some(flags) = probe(base, &pending) {
                let comps = std::mem::take(&mut pending);
                base = descend(base, &comps)?;
                for (c, is_array) in comps.into_iter().zip(flags) {
                    ctx.steps.push(Step { name: c, is_array });
                }
            }
        }
        let merged;
        let child: &Node = match entry {
            Entry::One(n) => n,
            Entry::Merge(p, c) => {
                let mut path = ctx.path_parts();
                path.extend(pending.iter().cloned());
                path.push(name.clone());
                merged = tree::merge(p, c, &mut path)?;
                &merged
            }
        };
        apply_child(child, &name, base, &mut pending, ctx)?;
    }
    ctx.steps.truncate(saved);
    Ok(())
}

/// `parseUnsignedBase10Integer`: digits only, as a 32-bit unsigned index.
fn parse_index(part: &str) -> Option<usize> {
    if !part.as_bytes().first().is_some_and(u8::is_ascii_digit) || !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    part.parse::<u32>().ok().map(|i| i as usize)
}

/// `path_support`'s `isNumeric`: digits only; huge values saturate.
fn numeric_part(part: &str) -> Option<usize> {
    if !part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(part.parse::<usize>().unwrap_or(usize::MAX))
}

/// Does `comps` exist below `base`? Returns the array flags of the elements reached.
fn probe(base: &Bson, comps: &[String]) -> Option<Vec<bool>> {
    let mut current = base;
    let mut flags = Vec::with_capacity(comps.len());
    for c in comps {
        current = match current {
            Bson::Document(d) => d.get(c)?,
            Bson::Array(items) => items.get(parse_index(c)?)?,
            _ => return None,
        };
        flags.push(matches!(current, Bson::Array(_)));
    }
    Some(flags)
}

fn descend<'b>(base: &'b mut Bson, comps: &[String]) -> DocDbResult<&'b mut Bson> {
    let mut current = base;
    for c in comps {
        current = match current {
            Bson::Document(d) => d.get_mut(c),
            Bson::Array(items) => parse_index(c).and_then(|i| items.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| docdb_error!(InternalError, "update path vanished"))?;
    }
    Ok(current)
}

fn apply_child(
    child: &Node,
    name: &str,
    base: &mut Bson,
    pending: &mut Vec<String>,
    ctx: &mut ApplyCtx<'_>,
) -> DocDbResult<()> {
    if pending.is_empty() {
        let is_unset = matches!(child, Node::Leaf(l) if matches!(l.op, Op::Unset));
        match base {
            Bson::Document(d) => {
                if is_unset && d.contains_key(name) {
                    check_immutable(ctx, &[name.to_owned()])?;
                    d.remove(name);
                    return Ok(());
                }
                if let Some(v) = d.get_mut(name) {
                    return descend_apply(child, name, v, ctx);
                }
            }
            Bson::Array(items) => {
                if let Some(v) = parse_index(name).and_then(|i| items.get_mut(i)) {
                    if is_unset {
                        check_immutable(ctx, &[name.to_owned()])?;
                        *v = Bson::Null;
                        return Ok(());
                    }
                    return descend_apply(child, name, v, ctx);
                }
            }
            _ => {}
        }
    }
    pending.push(name.to_owned());
    let result = apply_node(child, base, pending, ctx);
    pending.pop();
    result
}

fn descend_apply(child: &Node, name: &str, value: &mut Bson, ctx: &mut ApplyCtx<'_>) -> DocDbResult<()> {
    ctx.steps.push(Step { name: name.to_owned(), is_array: matches!(value, Bson::Array(_)) });
    let result = apply_node(child, value, &[], ctx);
    ctx.steps.pop();
    result
}

fn apply_array(node: &ArrayNode, base: &mut Bson, pending: &[String], ctx: &mut ApplyCtx<'_>) -> DocDbResult<()> {
    if !pending.is_empty() {
        bail!(
            BadValue,
            "The path '{}' must exist in the document in order to apply array updates.",
            ctx.dotted_with(pending)
        );
    }
    let Bson::Array(items) = base else {
        bail!(BadValue, "Cannot apply array updates to non-array element {}", fmt::element(ctx.last_name(), base));
    };
    // Decide which updates apply to which element before changing anything.
    let mut matching: Vec<Vec<&Node>> = Vec::with_capacity(items.len());
    for item in items.iter() {
        let value = ops::to_raw(item)?;
        let mut hits = Vec::new();
        for (identifier, child) in &node.children {
            let identifier = identifier.as_str();
            if identifier.is_empty() {
                hits.push(child);
                continue;
            }
            let filter = ctx
                .filters
                .get(identifier)
                .ok_or_else(|| docdb_error!(InternalError, "array filter '{identifier}' vanished"))?;
            if filter.matches_wrapped(identifier, value.as_raw_bson_ref())? {
                hits.push(child);
            }
        }
        matching.push(hits);
    }
    for (i, (item, hits)) in items.iter_mut().zip(matching).enumerate() {
        let Some((first, rest)) = hits.split_first() else {
            continue;
        };
        let index = i.to_string();
        let mut merged: Option<Node> = None;
        for next in rest {
            let mut path = ctx.path_parts();
            path.push(index.clone());
            let left = merged.as_ref().unwrap_or(first);
            merged = Some(tree::merge(left, next, &mut path)?);
        }
        let child = merged.as_ref().unwrap_or(first);
        if matches!(child, Node::Leaf(l) if matches!(l.op, Op::Unset)) {
            // `$unset` of an array element sets it to null.
            check_immutable(ctx, std::slice::from_ref(&index))?;
            *item = Bson::Null;
            continue;
        }
        descend_apply(child, &index, item, ctx)?;
    }
    Ok(())
}

/// `checkImmutablePathsNotModified` for `_id`: a change at or below `_id`.
fn check_immutable(ctx: &ApplyCtx<'_>, extra: &[String]) -> DocDbResult<()> {
    let first = ctx.steps.first().map(|s| s.name.as_str()).or_else(|| extra.first().map(String::as_str));
    if first == Some("_id") {
        bail!(
            ImmutableField,
            "Performing an update on the path '{}' would modify the immutable field '_id'",
            ctx.dotted_with(extra)
        );
    }
    Ok(())
}

fn apply_leaf(op: &Op, base: &mut Bson, pending: &[String], ctx: &mut ApplyCtx<'_>) -> DocDbResult<()> {
    match op {
        Op::SetOnInsert(_) if !ctx.insert => return Ok(()),
        Op::RenamePlaceholder | Op::Unset => return Ok(()),
        Op::Rename { from } => return apply_rename(from, base, pending, ctx),
        _ => {}
    }
    if pending.is_empty() {
        let path = ctx.dotted_with(&[]);
        let site = Site { path: &path, name: ctx.last_name(), id: &ctx.id };
        let changed = op.update_existing(base, &site)?;
        if changed {
            check_immutable(ctx, &[])?;
            note_dollar_field(ctx, op.validates_for_storage());
        }
        return Ok(());
    }
    if op.allows_creation() {
        let value = op.value_for_new()?;
        create_path(base, pending, value, ctx)?;
        after_create(base, pending, ctx)
    } else if op.allows_non_viable_path() {
        Ok(())
    } else {
        check_viability(base, pending, ctx)
    }
}

/// An updated top-level `$`-prefixed field is storage-validated (outside upserts).
fn note_dollar_field(ctx: &mut ApplyCtx<'_>, validates: bool) {
    if validates && !ctx.insert && ctx.steps.len() == 1 {
        let name = ctx.last_name().to_owned();
        if name.starts_with('$') {
            ctx.dollar_checks.push(name);
        }
    }
}

/// Storage and immutability checks after creating `pending` below `base`.
fn after_create(base: &Bson, pending: &[String], ctx: &mut ApplyCtx<'_>) -> DocDbResult<()> {
    if !ctx.insert && ctx.steps.is_empty() {
        if let Some(first) = pending.first().filter(|p| p.starts_with('$')) {
            ctx.dollar_checks.push(first.clone());
        }
    }
    if ctx.steps.first().is_some_and(|s| s.name == "_id") {
        bail!(
            ImmutableField,
            "Updating the path '{}' to {} would modify the immutable field '_id'",
            ctx.dotted_with(&[]),
            fmt::element(ctx.last_name(), base)
        );
    }
    Ok(())
}

/// Nests `value` under `parts` (`[b, c]` → `{b: {c: value}}`).
fn nest(parts: &[String], value: Bson) -> Bson {
    parts.iter().rev().fold(value, |inner, part| {
        let mut d = Document::new();
        d.insert(part.clone(), inner);
        Bson::Document(d)
    })
}

/// `pathsupport::createPathAt`: creates `pending` below `base`, padding arrays with nulls.
fn create_path(base: &mut Bson, pending: &[String], value: Bson, ctx: &ApplyCtx<'_>) -> DocDbResult<()> {
    create_path_named(base, ctx.last_name(), pending, value)
}

fn create_path_named(base: &mut Bson, base_name: &str, pending: &[String], value: Bson) -> DocDbResult<()> {
    let Some((first, rest)) = pending.split_first() else {
        *base = value;
        return Ok(());
    };
    match base {
        Bson::Document(d) => {
            d.insert(first.clone(), nest(rest, value));
            Ok(())
        }
        Bson::Array(items) => {
            let Some(index) = numeric_part(first) else {
                bail!(PathNotViable, "Cannot create field '{first}' in element {{{}}}", fmt::element(base_name, base));
            };
            if index > items.len() {
                if index - items.len() > MAX_PADDING {
                    bail!(CannotBackfillArray, "can't backfill more than {MAX_PADDING} elements");
                }
                items.resize(index, Bson::Null);
            }
            items.push(nest(rest, value));
            Ok(())
        }
        other => {
            bail!(PathNotViable, "Cannot create field '{first}' in element {{{}}}", fmt::element(base_name, other))
        }
    }
}

/// `UpdateLeafNode::checkViability`.
fn check_viability(base: &Bson, pending: &[String], ctx: &ApplyCtx<'_>) -> DocDbResult<()> {
    let first = pending.first().map(String::as_str).unwrap_or("");
    let viable = match base {
        Bson::Document(_) => true,
        Bson::Array(_) => parse_index(first).is_some(),
        _ => false,
    };
    if !viable {
        bail!(
            PathNotViable,
            "Cannot use the part ({first}) of ({}.{}) to traverse the element ({{{}}})",
            ctx.dotted_with(&[]),
            pending.join("."),
            fmt::element(ctx.last_name(), base)
        );
    }
    Ok(())
}

fn apply_rename(from: &[String], base: &mut Bson, pending: &[String], ctx: &mut ApplyCtx<'_>) -> DocDbResult<()> {
    let value = match ctx.rename_sources.get(from) {
        None | Some(Ok(None)) => return Ok(()),
        Some(Err(e)) => return Err(e.clone()),
        Some(Ok(Some(v))) => v.clone(),
    };
    let to = ctx.dotted_with(pending);
    let limit = if pending.is_empty() { ctx.steps.len().saturating_sub(1) } else { ctx.steps.len() };
    if let Some(step) = ctx.steps.get(..limit).and_then(|s| s.iter().rev().find(|s| s.is_array)) {
        bail!(
            BadValue,
            "The destination field cannot be an array element, '{to}' in doc with {} has an array field called '{}'",
            ctx.id,
            step.name
        );
    }
    if pending.is_empty() {
        *base = value;
        check_immutable(ctx, &[])?;
        note_dollar_field(ctx, true);
    } else {
        create_path(base, pending, value, ctx)?;
        after_create(base, pending, ctx)?;
    }
    if from.first().is_some_and(|f| f == "_id") {
        bail!(
            ImmutableField,
            "Performing an update on the path '{}' would modify the immutable field '_id'",
            from.join(".")
        );
    }
    ctx.removals.push(from.to_vec());
    Ok(())
}

/// Looks up a `$rename` source as `pathsupport::findLongestPrefix` does: a missing source
/// is a no-op, a non-viable one an error, and a source inside an array is refused.
fn find_rename_source(doc: &Document, from: &[String], id: &str) -> Result<Option<Bson>, DocDbError> {
    if doc.is_empty() {
        return Ok(None);
    }
    let mut current: Option<&Bson> = None;
    let mut chain: Vec<(&str, bool)> = Vec::with_capacity(from.len());
    for (i, part) in from.iter().enumerate() {
        let next = match current {
            None => doc.get(part),
            Some(Bson::Document(d)) => d.get(part),
            Some(Bson::Array(items)) => match numeric_part(part) {
                Some(index) => items.get(index),
                None => return Err(non_viable_source(from, i, current)),
            },
            Some(_) => return Err(non_viable_source(from, i, current)),
        };
        let Some(next) = next else {
            return Ok(None);
        };
        chain.push((part.as_str(), matches!(next, Bson::Array(_))));
        current = Some(next);
    }
    let parents = chain.len().saturating_sub(1);
    if let Some((name, _)) = chain.get(..parents).and_then(|c| c.iter().rev().find(|(_, a)| *a)) {
        bail!(
            BadValue,
            "The source field cannot be an array element, '{}' in doc with {id} has an array field called '{name}'",
            from.join(".")
        );
    }
    Ok(current.cloned())
}

fn non_viable_source(from: &[String], i: usize, current: Option<&Bson>) -> DocDbError {
    let name = i.checked_sub(1).and_then(|j| from.get(j)).map(String::as_str).unwrap_or("");
    let elem = current.map(|c| fmt::element(name, c)).unwrap_or_default();
    docdb_error!(
        PathNotViable,
        "cannot use the part ({name} of {}) to traverse the element ({{{elem}}})",
        from.join(".")
    )
}

fn remove_path(doc: &mut Document, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut current = doc;
    for p in parents {
        match current.get_mut(p) {
            Some(Bson::Document(d)) => current = d,
            _ => return,
        }
    }
    current.remove(last);
}

/// `storage_validation`'s check of a top-level `$`-prefixed field: only a well-formed
/// DBRef (`$ref`, `$id`, `$db`) is allowed.
pub(crate) fn validate_dollar_field(doc: &Document, name: &str) -> DocDbResult<()> {
    let keys: Vec<&String> = doc.keys().collect();
    let Some(mut pos) = keys.iter().position(|k| k.as_str() == name) else {
        return Ok(());
    };
    let mut current = name;
    if current == "$db" {
        if let Some(v) = doc.get("$db").filter(|v| !matches!(v, Bson::String(_))) {
            bail!(
                InvalidDBRef,
                "The DBRef $db field must be a String, not a {}",
                documentdb_bson::type_name(v.element_type())
            );
        }
        if pos == 0 || keys.get(pos - 1).map(|k| k.as_str()) != Some("$id") {
            bail!(InvalidDBRef, "Found $db field without a $id before it, which is invalid.");
        }
        pos -= 1;
        current = "$id";
    }
    if current == "$id" {
        if pos == 0 || keys.get(pos - 1).map(|k| k.as_str()) != Some("$ref") {
            bail!(InvalidDBRef, "Found $id field without a $ref before it, which is invalid.");
        }
        pos -= 1;
        current = "$ref";
    }
    if current == "$ref" {
        if let Some(v) = doc.get("$ref").filter(|v| !matches!(v, Bson::String(_))) {
            bail!(
                InvalidDBRef,
                "The DBRef $ref field must be a String, not a {}",
                documentdb_bson::type_name(v.element_type())
            );
        }
        if keys.get(pos + 1).map(|k| k.as_str()) != Some("$id") {
            bail!(InvalidDBRef, "The DBRef $ref field must be followed by a $id field");
        }
        return Ok(());
    }
    bail!(
        DollarPrefixedFieldName,
        "The dollar ($) prefixed field '{name}' in '{name}' is not allowed in the context of an update's replacement document. Consider using an aggregation pipeline with $replaceWith."
    )
}

/// The document an upsert starts from: the query's equality fields, checked for
/// conflicts in query order and set in path order (MongoDB keeps them in a map).
/// `id_only` (replacement updates) keeps just `_id`.
pub(crate) fn seed_document(seeds: &[(String, RawBson)], id_only: bool) -> DocDbResult<Document> {
    let mut accepted: Vec<(Vec<String>, &str, &RawBson)> = Vec::new();
    for (path, value) in seeds {
        let parts = field_ref::split_path(path);
        if id_only {
            match parts.first().map(String::as_str) {
                Some("_id") if parts.len() == 1 => {}
                Some("_id") => bail!(
                    NotExactValueField,
                    "field at '_id' must be exactly specified, field at sub-path '{path}'found"
                ),
                _ => continue,
            }
        }
        let parent = accepted
            .iter()
            .filter(|(p, _, _)| p.len() <= parts.len() && parts.get(..p.len()) == Some(p.as_slice()))
            .max_by_key(|(p, _, _)| p.len());
        if let Some((p, prefix, _)) = parent {
            if p.len() == parts.len() {
                bail!(NotSingleValueField, "cannot infer query fields to set, path '{path}' is matched twice");
            }
            bail!(
                NotSingleValueField,
                "cannot infer query fields to set, both paths '{path}' and '{prefix}' are matched"
            );
        }
        accepted.push((parts, path.as_str(), value));
    }
    accepted.sort_by(|a, b| a.1.as_bytes().cmp(b.1.as_bytes()));
    let mut root = Bson::Document(Document::new());
    for (parts, _, value) in accepted {
        let value = Bson::try_from(value.clone()).map_err(|e| docdb_error!(BadValue, "{e}"))?;
        set_element_at_path(&mut root, &parts, value)?;
    }
    match root {
        Bson::Document(d) => Ok(d),
        _ => Err(docdb_error!(InternalError, "upsert seed is not a document")),
    }
}

/// `pathsupport::setElementAtPath`.
fn set_element_at_path(root: &mut Bson, parts: &[String], value: Bson) -> DocDbResult<()> {
    // Find the longest existing prefix, refusing to traverse scalars.
    let mut found = 0;
    {
        let mut current = &*root;
        for (i, part) in parts.iter().enumerate() {
            let next = match current {
                Bson::Document(d) => d.get(part),
                Bson::Array(items) => match numeric_part(part) {
                    Some(index) => items.get(index),
                    None => return Err(non_viable_source(parts, i, Some(current))),
                },
                _ => return Err(non_viable_source(parts, i, Some(current))),
            };
            match next {
                Some(n) => {
                    current = n;
                    found = i + 1;
                }
                None => break,
            }
        }
    }
    let (existing, missing) = parts.split_at(found);
    let base_name = existing.last().map(String::as_str).unwrap_or("");
    let mut base = root;
    for part in existing {
        base = match base {
            Bson::Document(d) => d.get_mut(part),
            Bson::Array(items) => numeric_part(part).and_then(|i| items.get_mut(i)),
            _ => None,
        }
        .ok_or_else(|| docdb_error!(InternalError, "upsert path vanished"))?;
    }
    create_path_named(base, base_name, missing, value)
}
