//! The leaf operators: argument validation (MongoDB's `UpdateLeafNode::init`) and their
//! effect on an existing element or the value they create for a missing one.
use std::cmp::Ordering;
use std::sync::atomic::{AtomicU32, Ordering as AtomicOrdering};

use bson::{Bson, Document, RawBson, RawDocumentBuf};
use documentdb_errors::{bail, docdb_error, DocDbError, DocDbResult};

use super::field_ref::{is_array_filter_identifier, split_path};
use super::fmt;
use crate::arith::{self, Num};
use crate::filter::{parse_element_filter, ElementFilter};

/// One leaf operator with its parsed argument.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    Set(Bson),
    SetOnInsert(Bson),
    Unset,
    Inc(Num),
    Mul(Num),
    Min(Bson),
    Max(Bson),
    CurrentDate {
        date: bool,
    },
    /// `$rename` placed at its destination; `from` is the source path.
    Rename {
        from: Vec<String>,
    },
    /// The `$rename` source: only reserves the path against conflicts.
    RenamePlaceholder,
    Push(Box<PushSpec>),
    AddToSet(Vec<Bson>),
    Pop {
        front: bool,
    },
    Pull(Box<ElementFilter>),
    PullAll(Vec<Bson>),
    Bit(Vec<(BitOp, Num)>),
}

#[derive(Debug, Clone)]
pub(crate) struct PushSpec {
    values: Vec<Bson>,
    slice: Option<i64>,
    sort: Option<PushSort>,
    position: Option<i64>,
}

#[derive(Debug, Clone)]
enum PushSort {
    /// `$sort: 1/-1`: whole elements.
    Whole { descending: bool },
    /// `$sort: {path: 1/-1, ...}`.
    Pattern(Vec<(Vec<String>, bool)>),
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum BitOp {
    And,
    Or,
    Xor,
}

/// Where a leaf is being applied (for error messages).
pub(crate) struct Site<'a> {
    /// Dotted path of the element.
    pub path: &'a str,
    /// The element's own field name (the last path component).
    pub name: &'a str,
    /// `_id: 1` of the document, or `no id`.
    pub id: &'a str,
}

impl Op {
    /// Modifiers that create the path when it is missing.
    pub(crate) fn allows_creation(&self) -> bool {
        !matches!(self, Op::Unset | Op::Pop { .. } | Op::Pull(_) | Op::PullAll(_) | Op::RenamePlaceholder)
    }

    /// Modifiers for which a missing non-viable path is a plain no-op (no PathNotViable).
    pub(crate) fn allows_non_viable_path(&self) -> bool {
        matches!(self, Op::Unset | Op::RenamePlaceholder)
    }

    /// Does a successful change of a top-level `$`-prefixed field get storage-validated?
    pub(crate) fn validates_for_storage(&self) -> bool {
        !matches!(self, Op::Unset | Op::Pop { .. } | Op::Pull(_) | Op::PullAll(_) | Op::RenamePlaceholder)
    }

    /// Applies the operator to an existing element; `Ok(true)` when it changed.
    pub(crate) fn update_existing(&self, elem: &mut Bson, site: &Site<'_>) -> DocDbResult<bool> {
        match self {
            Op::Set(v) | Op::SetOnInsert(v) => Ok(replace_if_different(elem, v)),
            Op::Unset | Op::Rename { .. } | Op::RenamePlaceholder => Ok(false),
            Op::Inc(arg) | Op::Mul(arg) => {
                let inc = matches!(self, Op::Inc(_));
                let name = if inc { "$inc" } else { "$mul" };
                let Some(current) = Num::from_bson(elem) else {
                    bail!(
                        TypeMismatch,
                        "Cannot apply {name} to a value of non-numeric type. {{{}}} has the field '{}' of non-numeric type {}",
                        site.id,
                        site.name,
                        documentdb_bson::type_name(elem.element_type())
                    );
                };
                let result =
                    if inc { arith::checked_add(*arg, current) } else { arith::checked_multiply(*arg, current) };
                let Some(result) = result else {
                    bail!(
                        BadValue,
                        "Failed to apply {name} operations to current value ({}) for document {{{}}}",
                        safe_num_debug(current),
                        site.id
                    );
                };
                Ok(replace_if_different(elem, &result.to_bson()))
            }
            Op::Min(v) | Op::Max(v) => {
                let ord = compare(elem, v)?;
                let take = if matches!(self, Op::Max(_)) { ord == Ordering::Less } else { ord == Ordering::Greater };
                if take {
                    *elem = v.clone();
                }
                Ok(take)
            }
            Op::CurrentDate { date } => {
                *elem = current_date_value(*date);
                Ok(true)
            }
            Op::Push(spec) => {
                let Bson::Array(items) = elem else {
                    bail!(
                        BadValue,
                        "The field '{}' must be an array but is of type {} in document {{{}}}",
                        site.path,
                        documentdb_bson::type_name(elem.element_type()),
                        site.id
                    );
                };
                spec.perform(items)
            }
            Op::AddToSet(values) => {
                let Bson::Array(items) = elem else {
                    bail!(
                        BadValue,
                        "Cannot apply $addToSet to non-array field. Field named '{}' has non-array type {}",
                        site.name,
                        documentdb_bson::type_name(elem.element_type())
                    );
                };
                add_to_set(items, values)
            }
            Op::Pop { front } => {
                let Bson::Array(items) = elem else {
                    bail!(
                        TypeMismatch,
                        "Path '{}' contains an element of non-array type '{}'",
                        site.path,
                        documentdb_bson::type_name(elem.element_type())
                    );
                };
                if items.is_empty() {
                    return Ok(false);
                }
                if *front {
                    items.remove(0);
                } else {
                    items.pop();
                }
                Ok(true)
            }
            Op::Pull(matcher) => {
                let Bson::Array(items) = elem else {
                    bail!(BadValue, "Cannot apply $pull to a non-array value");
                };
                let mut keep = Vec::with_capacity(items.len());
                let mut removed = false;
                for item in items.drain(..) {
                    if matcher.matches_value(to_raw(&item)?.as_raw_bson_ref())? {
                        removed = true;
                    } else {
                        keep.push(item);
                    }
                }
                *items = keep;
                Ok(removed)
            }
            Op::PullAll(values) => {
                let Bson::Array(items) = elem else {
                    bail!(BadValue, "Cannot apply $pull to a non-array value");
                };
                let targets = values.iter().map(to_raw).collect::<DocDbResult<Vec<_>>>()?;
                let mut keep = Vec::with_capacity(items.len());
                let mut removed = false;
                for item in items.drain(..) {
                    let raw = to_raw(&item)?;
                    let hit = targets.iter().any(|t| {
                        documentdb_bson::compare_values(raw.as_raw_bson_ref(), t.as_raw_bson_ref()) == Ordering::Equal
                    });
                    if hit {
                        removed = true;
                    } else {
                        keep.push(item);
                    }
                }
                *items = keep;
                Ok(removed)
            }
            Op::Bit(ops) => {
                let current = match elem {
                    Bson::Int32(i) => Num::Int32(*i),
                    Bson::Int64(i) => Num::Int64(*i),
                    other => bail!(
                        BadValue,
                        "Cannot apply $bit to a value of non-integral type.{} has the field {} of non-integer type {}",
                        site.id,
                        site.name,
                        documentdb_bson::type_name(other.element_type())
                    ),
                };
                let result = apply_bits(current, ops).to_bson();
                Ok(replace_if_different(elem, &result))
            }
        }
    }

    /// The value a creating operator puts at a missing path.
    pub(crate) fn value_for_new(&self) -> DocDbResult<Bson> {
        Ok(match self {
            Op::Set(v) | Op::SetOnInsert(v) | Op::Min(v) | Op::Max(v) => v.clone(),
            Op::Inc(arg) => arg.to_bson(),
            Op::Mul(arg) => arith::checked_multiply(*arg, Num::Int32(0))
                .map(Num::to_bson)
                .ok_or_else(|| docdb_error!(BadValue, "Failed to apply $mul operations"))?,
            Op::CurrentDate { date } => current_date_value(*date),
            Op::Push(spec) => {
                let mut items = Vec::new();
                spec.perform(&mut items)?;
                Bson::Array(items)
            }
            Op::AddToSet(values) => Bson::Array(values.clone()),
            Op::Bit(ops) => apply_bits(Num::Int32(0), ops).to_bson(),
            Op::Unset | Op::Rename { .. } | Op::RenamePlaceholder | Op::Pop { .. } | Op::Pull(_) | Op::PullAll(_) => {
                Bson::Null
            }
        })
    }
}

/// `SafeNum::debugString`.
fn safe_num_debug(n: Num) -> String {
    match n {
        Num::Int32(i) => format!("(NumberInt){i}"),
        Num::Int64(i) => format!("(NumberLong){i}"),
        Num::Double(d) => format!("(NumberDouble){}", fmt::format_g16(d)),
        Num::Decimal(d) => format!("(NumberDecimal){d}"),
    }
}

fn replace_if_different(elem: &mut Bson, value: &Bson) -> bool {
    if identical(elem, value) {
        false
    } else {
        *elem = value.clone();
        true
    }
}

fn apply_bits(mut value: Num, ops: &[(BitOp, Num)]) -> Num {
    for (op, operand) in ops {
        let f = |a: i64, b: i64| match op {
            BitOp::And => a & b,
            BitOp::Or => a | b,
            BitOp::Xor => a ^ b,
        };
        value = match (value, *operand) {
            (Num::Int32(a), Num::Int32(b)) => {
                Num::Int32(i32::try_from(f(i64::from(a), i64::from(b))).unwrap_or_default())
            }
            (a, b) => Num::Int64(f(int_of(a), int_of(b))),
        };
    }
    value
}

fn int_of(n: Num) -> i64 {
    match n {
        Num::Int32(i) => i64::from(i),
        Num::Int64(i) => i,
        other => arith::to_i64(other),
    }
}

static TIMESTAMP_INCREMENT: AtomicU32 = AtomicU32::new(0);

/// A fresh timestamp: the current second and a process-wide increment (MongoDB takes
/// ticks from its logical clock).
pub(crate) fn new_timestamp() -> bson::Timestamp {
    let now = bson::DateTime::now().timestamp_millis() / 1000;
    bson::Timestamp {
        time: u32::try_from(now).unwrap_or(u32::MAX),
        increment: TIMESTAMP_INCREMENT.fetch_add(1, AtomicOrdering::Relaxed).wrapping_add(1),
    }
}

fn current_date_value(date: bool) -> Bson {
    if date {
        Bson::DateTime(bson::DateTime::now())
    } else {
        Bson::Timestamp(new_timestamp())
    }
}

impl PushSpec {
    /// `PushNode::performPush` on an array: insert at `$position`, then `$sort`, then
    /// `$slice`. `Ok(true)` when the array changed (as MongoDB reports it).
    fn perform(&self, items: &mut Vec<Bson>) -> DocDbResult<bool> {
        let mut changed = false;
        if !self.values.is_empty() {
            changed = true;
            let size = i64::try_from(items.len()).unwrap_or(i64::MAX);
            let at = match self.position {
                _ if size == 0 => 0,
                None => size,
                Some(p) if p > size => size,
                Some(p) if p > 0 => p,
                Some(p) if p < 0 && i64::try_from(p.unsigned_abs()).unwrap_or(i64::MAX) < size => {
                    size - i64::try_from(p.unsigned_abs()).unwrap_or(i64::MAX)
                }
                Some(_) => 0,
            };
            let at = usize::try_from(at).unwrap_or(items.len()).min(items.len());
            items.splice(at..at, self.values.iter().cloned());
        }
        if let Some(sort) = &self.sort {
            changed = true;
            sort.sort(items)?;
        }
        if let Some(slice) = self.slice {
            let keep = usize::try_from(slice.unsigned_abs()).unwrap_or(usize::MAX);
            if items.len() > keep {
                changed = true;
                if slice >= 0 {
                    items.truncate(keep);
                } else {
                    let drop = items.len() - keep;
                    items.drain(..drop);
                }
            }
        }
        Ok(changed)
    }
}

impl PushSort {
    fn sort(&self, items: &mut Vec<Bson>) -> DocDbResult<()> {
        let mut keyed: Vec<(Vec<RawBson>, Bson)> = Vec::with_capacity(items.len());
        for item in items.drain(..) {
            let key = match self {
                PushSort::Whole { .. } => vec![to_raw(&item)?],
                PushSort::Pattern(fields) => fields
                    .iter()
                    .map(|(path, _)| to_raw(dotted_field(&item, path).unwrap_or(&Bson::Null)))
                    .collect::<DocDbResult<Vec<_>>>()?,
            };
            keyed.push((key, item));
        }
        keyed.sort_by(|(a, _), (b, _)| {
            for (i, (x, y)) in a.iter().zip(b.iter()).enumerate() {
                let ord = documentdb_bson::compare_values(x.as_raw_bson_ref(), y.as_raw_bson_ref());
                let descending = match self {
                    PushSort::Whole { descending } => *descending,
                    PushSort::Pattern(fields) => fields.get(i).is_some_and(|(_, asc)| !asc),
                };
                let ord = if descending { ord.reverse() } else { ord };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            Ordering::Equal
        });
        items.extend(keyed.into_iter().map(|(_, item)| item));
        Ok(())
    }
}

/// `BSONObj::getFieldDotted` on an element (non-documents have no fields): numeric
/// components address array elements by their index key.
fn dotted_field<'a>(value: &'a Bson, path: &[String]) -> Option<&'a Bson> {
    let mut current = value;
    for part in path {
        current = match current {
            Bson::Document(d) => d.get(part)?,
            Bson::Array(items) => {
                let canonical = part.parse::<usize>().ok().filter(|i| i.to_string() == *part)?;
                items.get(canonical)?
            }
            _ => return None,
        };
    }
    Some(current)
}

fn add_to_set(items: &mut Vec<Bson>, values: &[Bson]) -> DocDbResult<bool> {
    let existing = items.iter().map(to_raw).collect::<DocDbResult<Vec<_>>>()?;
    let mut added = false;
    for value in values {
        let raw = to_raw(value)?;
        let present = existing
            .iter()
            .any(|e| documentdb_bson::compare_values(e.as_raw_bson_ref(), raw.as_raw_bson_ref()) == Ordering::Equal);
        if !present {
            items.push(value.clone());
            added = true;
        }
    }
    Ok(added)
}

// ---------------------------------------------------------------------------------------
// Parsing (MongoDB's `init` of each node).

/// The modifiers MongoDB knows (`modifier_table`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Modifier {
    AddToSet,
    Bit,
    CurrentDate,
    Inc,
    Max,
    Min,
    Mul,
    Pop,
    Pull,
    PullAll,
    Push,
    Rename,
    Set,
    SetOnInsert,
    Unset,
}

impl Modifier {
    pub(crate) fn from_name(name: &str) -> Option<Modifier> {
        Some(match name {
            "$addToSet" => Modifier::AddToSet,
            "$bit" => Modifier::Bit,
            "$currentDate" => Modifier::CurrentDate,
            "$inc" => Modifier::Inc,
            "$max" => Modifier::Max,
            "$min" => Modifier::Min,
            "$mul" => Modifier::Mul,
            "$pop" => Modifier::Pop,
            "$pull" => Modifier::Pull,
            "$pullAll" => Modifier::PullAll,
            "$push" => Modifier::Push,
            "$rename" => Modifier::Rename,
            "$set" => Modifier::Set,
            "$setOnInsert" => Modifier::SetOnInsert,
            "$unset" => Modifier::Unset,
            _ => return None,
        })
    }
}

/// Parses the argument of `modifier` at `path` (not `$rename`).
pub(crate) fn parse_op(modifier: Modifier, path: &str, value: &Bson) -> DocDbResult<Op> {
    Ok(match modifier {
        Modifier::Set => Op::Set(value.clone()),
        Modifier::SetOnInsert => Op::SetOnInsert(value.clone()),
        Modifier::Unset => Op::Unset,
        Modifier::Inc | Modifier::Mul => {
            let Some(n) = Num::from_bson(value) else {
                bail!(
                    TypeMismatch,
                    "Cannot {} with non-numeric argument: {{{}}}",
                    if modifier == Modifier::Inc { "increment" } else { "multiply" },
                    fmt::element(path, value)
                );
            };
            if modifier == Modifier::Inc {
                Op::Inc(n)
            } else {
                Op::Mul(n)
            }
        }
        Modifier::Min => Op::Min(value.clone()),
        Modifier::Max => Op::Max(value.clone()),
        Modifier::CurrentDate => parse_current_date(value)?,
        Modifier::Push => Op::Push(Box::new(parse_push(value)?)),
        Modifier::AddToSet => parse_add_to_set(value)?,
        Modifier::Pop => {
            let n = parse_integer_to_long(path, value)?;
            if n != 1 && n != -1 {
                bail!(FailedToParse, "$pop expects 1 or -1, found: {n}");
            }
            Op::Pop { front: n == -1 }
        }
        Modifier::Pull => Op::Pull(Box::new(parse_element_filter(to_raw(value)?.as_raw_bson_ref())?)),
        Modifier::PullAll => {
            let Bson::Array(items) = value else {
                bail!(
                    BadValue,
                    "$pullAll requires an array argument but was given a {}",
                    documentdb_bson::type_name(value.element_type())
                );
            };
            Op::PullAll(items.clone())
        }
        Modifier::Bit => parse_bit(value)?,
        Modifier::Rename => Op::RenamePlaceholder,
    })
}

/// `RenameNode::init` for `{$rename: {from: to}}` (`value` is the string `to`).
pub(crate) fn parse_rename(from: &str, to: &str, value: &Bson) -> DocDbResult<Op> {
    if to.contains('\0') {
        bail!(BadValue, "The 'to' field for $rename cannot contain an embedded null byte");
    }
    let from_parts = split_path(from);
    let to_parts = split_path(to);
    if from_parts == to_parts {
        bail!(BadValue, "The source and target field for $rename must differ: {}", fmt::element(from, value));
    }
    let strict_prefix = |a: &[String], b: &[String]| a.len() < b.len() && b.get(..a.len()) == Some(a);
    if strict_prefix(&from_parts, &to_parts) || strict_prefix(&to_parts, &from_parts) {
        bail!(
            BadValue,
            "The source and target field for $rename must not be on the same path: {}",
            fmt::element(from, value)
        );
    }
    let dynamic = |parts: &[String]| parts.iter().any(|p| p == "$" || is_array_filter_identifier(p));
    if dynamic(&from_parts) {
        bail!(BadValue, "The source field for $rename may not be dynamic: {from}");
    }
    if dynamic(&to_parts) {
        bail!(BadValue, "The destination field for $rename may not be dynamic: {to}");
    }
    Ok(Op::Rename { from: from_parts })
}

fn parse_current_date(value: &Bson) -> DocDbResult<Op> {
    match value {
        Bson::Boolean(_) => Ok(Op::CurrentDate { date: true }),
        Bson::Document(spec) => {
            let mut date = None;
            for (k, v) in spec {
                if k != "$type" {
                    bail!(BadValue, "Unrecognized $currentDate option: {k}");
                }
                match v {
                    Bson::String(s) if s == "date" => date = Some(true),
                    Bson::String(s) if s == "timestamp" => date = Some(false),
                    _ => {}
                }
            }
            match date {
                Some(date) => Ok(Op::CurrentDate { date }),
                None => bail!(
                    BadValue,
                    "The '$type' string field is required to be 'date' or 'timestamp': {{$currentDate: {{field : {{$type: 'date'}}}}}}"
                ),
            }
        }
        other => bail!(
            BadValue,
            "{} is not valid type for $currentDate. Please use a boolean ('true') or a $type expression ({{$type: 'timestamp/date'}}).",
            documentdb_bson::type_name(other.element_type())
        ),
    }
}

/// `BSONElement::parseIntegerElementToLong` (errors are FailedToParse).
pub(crate) fn parse_integer_to_long(name: &str, value: &Bson) -> DocDbResult<i64> {
    let elem = || fmt::element(name, value);
    match value {
        Bson::Int32(i) => Ok(i64::from(*i)),
        Bson::Int64(i) => Ok(*i),
        Bson::Double(d) => {
            if d.is_nan() {
                bail!(FailedToParse, "Expected an integer, but found NaN in: {}", elem());
            }
            const TWO_63: f64 = 9_223_372_036_854_775_808.0;
            if *d >= TWO_63 || *d < -TWO_63 {
                bail!(FailedToParse, "Cannot represent as a 64-bit integer: {}", elem());
            }
            if d.fract() != 0.0 {
                bail!(FailedToParse, "Expected an integer: {}", elem());
            }
            Ok(*d as i64)
        }
        Bson::Decimal128(d) => match arith::as_i64_exact(Num::Decimal(*d)) {
            Some(i) => Ok(i),
            None => bail!(FailedToParse, "Cannot represent as a 64-bit integer: {}", elem()),
        },
        _ => bail!(FailedToParse, "Expected a number in: {}", elem()),
    }
}

fn parse_push(value: &Bson) -> DocDbResult<PushSpec> {
    let each_spec = match value {
        Bson::Document(d) if d.contains_key("$each") => d,
        _ => return Ok(PushSpec { values: vec![value.clone()], slice: None, sort: None, position: None }),
    };
    let mut seen: Vec<&str> = Vec::new();
    for key in each_spec.keys() {
        let known = ["$each", "$slice", "$sort", "$position"];
        if !known.contains(&key.as_str()) {
            bail!(BadValue, "Unrecognized clause in $push: {key}");
        }
        if seen.contains(&key.as_str()) {
            bail!(BadValue, "Only one {key} is supported.");
        }
        seen.push(key);
    }
    let values = match each_spec.get("$each") {
        Some(Bson::Array(items)) => items.clone(),
        Some(other) => bail!(
            BadValue,
            "The argument to $each in $push must be an array but it was of type: {}",
            documentdb_bson::type_name(other.element_type())
        ),
        None => Vec::new(),
    };
    let slice = match each_spec.get("$slice") {
        None => None,
        Some(v) => match parse_integer_to_long("$slice", v) {
            Ok(n) => Some(n),
            Err(_) => bail!(
                BadValue,
                "The value for $slice must be an integer value but was given type: {}",
                documentdb_bson::type_name(v.element_type())
            ),
        },
    };
    let sort = match each_spec.get("$sort") {
        None => None,
        Some(Bson::Document(pattern)) => Some(parse_sort_pattern(pattern)?),
        Some(v) if Num::from_bson(v).is_some() => {
            let order = Num::from_bson(v).map(arith::to_f64).unwrap_or(0.0);
            if order == 1.0 || order == -1.0 {
                Some(PushSort::Whole { descending: order < 0.0 })
            } else {
                bail!(BadValue, "The $sort element value must be either 1 or -1");
            }
        }
        Some(_) => bail!(
            BadValue,
            "The $sort is invalid: use 1/-1 to sort the whole element, or {{field:1/-1}} to sort embedded fields"
        ),
    };
    let position = match each_spec.get("$position") {
        None => None,
        Some(v) => match parse_integer_to_long("$position", v) {
            Ok(n) => Some(n),
            Err(_) => {
                bail!(
                    BadValue,
                    "The value for $position must be an integer value, not of type: {}",
                    documentdb_bson::type_name(v.element_type())
                )
            }
        },
    };
    Ok(PushSpec { values, slice, sort, position })
}

/// `pattern_cmp::checkSortClause`.
fn parse_sort_pattern(pattern: &Document) -> DocDbResult<PushSort> {
    if pattern.is_empty() {
        bail!(BadValue, "The sort pattern is empty when it should be a set of fields.");
    }
    let mut fields = Vec::new();
    for (k, v) in pattern {
        let order = Num::from_bson(v).map(arith::to_f64).unwrap_or(0.0);
        if order != 1.0 && order != -1.0 {
            bail!(BadValue, "The sort element value must be either 1 or -1");
        }
        let parts = split_path(k);
        if parts.is_empty() {
            bail!(BadValue, "The sort field cannot be empty");
        }
        documentdb_bson::path::check_component_count(parts.len())?;
        if parts.iter().any(String::is_empty) {
            bail!(BadValue, "The sort field is a dotted field but has an empty part: {k}");
        }
        fields.push((parts, order > 0.0));
    }
    Ok(PushSort::Pattern(fields))
}

fn parse_add_to_set(value: &Bson) -> DocDbResult<Op> {
    let mut values = match value {
        Bson::Document(d) if d.keys().next().map(String::as_str) == Some("$each") => match d.get("$each") {
            Some(Bson::Array(items)) => {
                if d.len() > 1 {
                    bail!(BadValue, "Found unexpected fields after $each in $addToSet: {}", fmt::document(d));
                }
                items.clone()
            }
            Some(other) => bail!(
                TypeMismatch,
                "The argument to $each in $addToSet must be an array but it was of type {}",
                documentdb_bson::type_name(other.element_type())
            ),
            None => Vec::new(),
        },
        _ => vec![value.clone()],
    };
    // Deduplicate, keeping the first occurrence (MongoDB's `deduplicate`).
    let mut seen: Vec<RawBson> = Vec::new();
    let mut unique = Vec::with_capacity(values.len());
    for v in values.drain(..) {
        let raw = to_raw(&v)?;
        let dup = seen
            .iter()
            .any(|s| documentdb_bson::compare_values(s.as_raw_bson_ref(), raw.as_raw_bson_ref()) == Ordering::Equal);
        if !dup {
            seen.push(raw);
            unique.push(v);
        }
    }
    Ok(Op::AddToSet(unique))
}

fn parse_bit(value: &Bson) -> DocDbResult<Op> {
    let Bson::Document(spec) = value else {
        bail!(
            BadValue,
            "The $bit modifier is not compatible with a {}. You must pass in an embedded document: {{$bit: {{field: {{and/or/xor: #}}}}",
            documentdb_bson::type_name(value.element_type())
        );
    };
    let mut ops = Vec::new();
    for (k, v) in spec {
        let op = match k.as_str() {
            "and" => BitOp::And,
            "or" => BitOp::Or,
            "xor" => BitOp::Xor,
            _ => bail!(
                BadValue,
                "The $bit modifier only supports 'and', 'or', and 'xor', not '{k}' which is an unknown operator: {{{}}}",
                fmt::element(k, v)
            ),
        };
        let operand = match v {
            Bson::Int32(i) => Num::Int32(*i),
            Bson::Int64(i) => Num::Int64(*i),
            _ => bail!(
                BadValue,
                "The $bit modifier field must be an Integer(32/64 bit); a '{}' is not supported here: {{{}}}",
                documentdb_bson::type_name(v.element_type()),
                fmt::element(k, v)
            ),
        };
        ops.push((op, operand));
    }
    if ops.is_empty() {
        bail!(
            BadValue,
            "You must pass in at least one bitwise operation. The format is: {{$bit: {{field: {{and/or/xor: #}}}}"
        );
    }
    Ok(Op::Bit(ops))
}

// ---------------------------------------------------------------------------------------
// Value helpers.

fn internal(e: impl std::fmt::Display) -> DocDbError {
    docdb_error!(InternalError, "{e}")
}

/// A value as raw BSON (for `compare_values`).
pub(crate) fn to_raw(value: &Bson) -> DocDbResult<RawBson> {
    RawBson::try_from(value.clone()).map_err(internal)
}

/// A document as raw BSON (refused when nested deeper than MongoDB's BSON depth limit,
/// see [`crate::document::to_raw_document`]).
pub(crate) fn to_raw_document(doc: &Document) -> DocDbResult<RawDocumentBuf> {
    crate::document::to_raw_document(doc)
}

/// MongoDB's order of two values.
pub(crate) fn compare(a: &Bson, b: &Bson) -> DocDbResult<Ordering> {
    let (a, b) = (to_raw(a)?, to_raw(b)?);
    Ok(documentdb_bson::compare_values(a.as_raw_bson_ref(), b.as_raw_bson_ref()))
}

/// Same type and same bytes (`BSONElement::binaryEqualValues`): `1` vs `1.0` and `0.0`
/// vs `-0.0` differ; NaN equals an identical NaN.
pub(crate) fn identical(a: &Bson, b: &Bson) -> bool {
    match (a, b) {
        (Bson::Double(x), Bson::Double(y)) => x.to_bits() == y.to_bits(),
        (Bson::Document(x), Bson::Document(y)) => documents_identical(x, y),
        (Bson::Array(x), Bson::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| identical(p, q)),
        (Bson::JavaScriptCodeWithScope(x), Bson::JavaScriptCodeWithScope(y)) => {
            x.code == y.code && documents_identical(&x.scope, &y.scope)
        }
        _ => std::mem::discriminant(a) == std::mem::discriminant(b) && a == b,
    }
}

/// Field-by-field [`identical`] in order.
pub(crate) fn documents_identical(x: &Document, y: &Document) -> bool {
    x.len() == y.len() && x.iter().zip(y.iter()).all(|((k1, v1), (k2, v2))| k1 == k2 && identical(v1, v2))
}
