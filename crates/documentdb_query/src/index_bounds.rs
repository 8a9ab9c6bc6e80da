//! Index bounds: which btree keys a query predicate can match.
//!
//! A secondary index on `path` is a PostgreSQL btree over each document's sort key for that
//! path (`crate::sort::sort_key`: the value, `null` when missing). While no document holds
//! an array anywhere along the path (the index is not *multikey*, as MongoDB tracks it),
//! that key is the one value the filter compares, so a predicate on the path restricts the
//! key to an interval. These are MongoDB's index bounds for a single-valued field: type
//! bracketing keeps `$gt: 5` inside the numbers, `{a: null}` covers null and missing.
//!
//! Bounds are a superset of the matches (the full filter stays as recheck); they must never
//! exclude a matching document.

use bson::spec::ElementType;
use bson::{Binary, RawBson, RawBsonRef, RawDocument};

use crate::filter::{KeyRestriction, PushdownOp, PushdownPredicate};

/// One end of a key interval.
#[derive(Debug, Clone, PartialEq)]
pub struct Bound {
    pub value: RawBson,
    pub inclusive: bool,
}

/// The keys a predicate can match, for a path that is not multikey.
#[derive(Debug, Clone, PartialEq)]
pub enum KeyBounds {
    /// `key = value`.
    Equal(RawBson),
    /// `key` is one of the values (at least one).
    OneOf(Vec<RawBson>),
    /// `lower <(=) key <(=) upper`; at least one end present.
    Range { lower: Option<Bound>, upper: Option<Bound> },
    /// `key` is none of the values (sorted, at least one): the intervals between them.
    NoneOf(Vec<RawBson>),
}

/// Most values `$nin` may exclude with index intervals.
pub const MAX_EXCLUDED_KEYS: usize = 16;

/// The bounds of a [`KeyRestriction`] on a non-multikey index key (`None`: no narrowing,
/// e.g. `$ne` of an array, which no single-valued key equals).
pub fn restriction_bounds(restriction: &KeyRestriction) -> Option<KeyBounds> {
    match restriction {
        KeyRestriction::Missing => null_bounds(),
        KeyRestriction::OfBracket(RawBson::Null) => null_bounds(),
        KeyRestriction::OfBracket(sample) => {
            let bracket = Bracket::of(sample)?;
            Some(KeyBounds::Range {
                lower: Some(Bound { value: bracket.min, inclusive: true }),
                upper: bracket.next_min.map(|value| Bound { value, inclusive: false }),
            })
        }
        KeyRestriction::NoneOf(values) => {
            // Only values a single key can equal are excluded: arrays never are, and a key
            // of null stands for missing too, which `$ne: null` excludes as well. Undefined
            // is kept (a superset whatever the matcher decides for it).
            let excluded: Vec<RawBson> = values
                .iter()
                .filter(|v| !matches!(v, RawBson::Array(_) | RawBson::RegularExpression(_) | RawBson::Undefined))
                .cloned()
                .collect();
            // Each excluded value splits the scan: past a few, the intervals cost more to plan
            // and open than they save.
            (!excluded.is_empty() && excluded.len() <= MAX_EXCLUDED_KEYS).then_some(KeyBounds::NoneOf(excluded))
        }
    }
}

/// The bounds of `predicate` on a non-multikey index key, or `None` when an index cannot
/// narrow it (`$exists`, comparisons with MinKey/MaxKey, regexes, arrays).
pub fn key_bounds(predicate: &PushdownPredicate) -> Option<KeyBounds> {
    let value = &predicate.value;
    match predicate.op {
        PushdownOp::Eq => equality_bounds(value),
        PushdownOp::In => {
            let RawBson::Array(values) = value else { return None };
            let mut keys = Vec::new();
            for v in values {
                let v = RawBson::from(v.ok()?);
                match &v {
                    // No single-valued key is an array: such values match nothing here.
                    RawBson::Array(_) => {}
                    RawBson::Null => {
                        keys.push(RawBson::Undefined);
                        keys.push(RawBson::Null);
                    }
                    RawBson::RegularExpression(_) => return None,
                    _ => keys.push(v),
                }
            }
            (!keys.is_empty()).then_some(KeyBounds::OneOf(keys))
        }
        PushdownOp::Gt | PushdownOp::Gte | PushdownOp::Lt | PushdownOp::Lte => {
            let inclusive = matches!(predicate.op, PushdownOp::Gte | PushdownOp::Lte);
            if matches!(value, RawBson::Null) {
                // `$gte: null` / `$lte: null` are null equality; `$gt`/`$lt` null match nothing.
                return if inclusive { null_bounds() } else { None };
            }
            let bracket = Bracket::of(value)?;
            let at_value = Bound { value: value.clone(), inclusive };
            Some(if matches!(predicate.op, PushdownOp::Gt | PushdownOp::Gte) {
                KeyBounds::Range {
                    lower: Some(at_value),
                    upper: bracket.next_min.map(|value| Bound { value, inclusive: false }),
                }
            } else {
                KeyBounds::Range { lower: Some(Bound { value: bracket.min, inclusive: true }), upper: Some(at_value) }
            })
        }
        PushdownOp::Exists => None,
    }
}

/// The keys strings starting with `prefix` take: `[prefix, the next string after every
/// such string)` (UTF-8 keeps code point order in byte order).
pub fn prefix_bounds(prefix: &str) -> KeyBounds {
    let mut upper: Vec<char> = prefix.chars().collect();
    let next = loop {
        match upper.pop() {
            Some(last) => {
                if let Some(c) =
                    char::from_u32(last as u32 + 1).or_else(|| char::from_u32(0xE000).filter(|_| last < '\u{E000}'))
                {
                    upper.push(c);
                    break Some(RawBson::String(upper.into_iter().collect()));
                }
            }
            // Every string past the prefix's last character: up to the documents.
            None => break Some(RawBson::Document(bson::RawDocumentBuf::new())),
        }
    };
    KeyBounds::Range {
        lower: Some(Bound { value: RawBson::String(prefix.to_owned()), inclusive: true }),
        upper: next.map(|value| Bound { value, inclusive: false }),
    }
}

fn equality_bounds(value: &RawBson) -> Option<KeyBounds> {
    match value {
        RawBson::Null => null_bounds(),
        // A single-valued key is never an array; MongoDB's equality to an array needs one.
        RawBson::Array(_) | RawBson::RegularExpression(_) => None,
        other => Some(KeyBounds::Equal(other.clone())),
    }
}

/// `{path: null}` matches null and missing (whose key is null); undefined is included so
/// the bounds stay a superset whatever the matcher decides for it.
fn null_bounds() -> Option<KeyBounds> {
    Some(KeyBounds::Range {
        lower: Some(Bound { value: RawBson::Undefined, inclusive: true }),
        upper: Some(Bound { value: RawBson::Null, inclusive: true }),
    })
}

/// A comparison's type bracket in MongoDB's order: its smallest value and the smallest
/// value of the next bracket (the exclusive upper end), where one exists.
struct Bracket {
    min: RawBson,
    next_min: Option<RawBson>,
}

impl Bracket {
    fn of(value: &RawBson) -> Option<Bracket> {
        let empty_binary =
            || RawBson::Binary(Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: Vec::new() });
        let (min, next_min) = match value.element_type() {
            ElementType::Int32 | ElementType::Int64 | ElementType::Double | ElementType::Decimal128 => {
                // NaN sorts below every other number.
                (RawBson::Double(f64::NAN), Some(RawBson::String(String::new())))
            }
            ElementType::String | ElementType::Symbol => {
                (RawBson::String(String::new()), Some(RawBson::Document(bson::RawDocumentBuf::new())))
            }
            ElementType::EmbeddedDocument => {
                (RawBson::Document(bson::RawDocumentBuf::new()), Some(RawBson::Array(bson::RawArrayBuf::new())))
            }
            ElementType::Binary => (empty_binary(), Some(RawBson::ObjectId(bson::oid::ObjectId::from_bytes([0; 12])))),
            ElementType::ObjectId => {
                (RawBson::ObjectId(bson::oid::ObjectId::from_bytes([0; 12])), Some(RawBson::Boolean(false)))
            }
            ElementType::Boolean => {
                (RawBson::Boolean(false), Some(RawBson::DateTime(bson::DateTime::from_millis(i64::MIN))))
            }
            ElementType::DateTime => (
                RawBson::DateTime(bson::DateTime::from_millis(i64::MIN)),
                Some(RawBson::Timestamp(bson::Timestamp { time: 0, increment: 0 })),
            ),
            ElementType::Timestamp => (RawBson::Timestamp(bson::Timestamp { time: 0, increment: 0 }), None),
            _ => return None,
        };
        Some(Bracket { min, next_min })
    }
}

/// The first prefix of `path` (the path itself included) that holds an array in `doc`.
fn first_array_prefix<'p>(doc: &RawDocument, path: &'p str) -> Option<&'p str> {
    let mut current = doc;
    let mut end = 0;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        end += part.len();
        match current.get(part) {
            Ok(Some(RawBsonRef::Array(_))) => return path.get(..end),
            Ok(Some(RawBsonRef::Document(d))) if parts.peek().is_some() => current = d,
            _ => return None,
        }
        end += 1;
    }
    None
}

/// MongoDB's "cannot index parallel arrays": a compound index keys one array per document
/// at most (paths may share the array they go through: `a.b` and `a.c` with `a` an array).
/// Returns the two array fields (the later key's first, as MongoDB's message prints them).
pub fn parallel_arrays<'k>(doc: &RawDocument, key_paths: &[&'k str]) -> Option<(&'k str, &'k str)> {
    let mut first: Option<&'k str> = None;
    for path in key_paths {
        let Some(prefix) = first_array_prefix(doc, path) else { continue };
        match first {
            None => first = Some(prefix),
            Some(seen) if seen != prefix => {
                let field = |p: &'k str| p.rsplit('.').next().unwrap_or(p);
                return Some((field(prefix), field(seen)));
            }
            Some(_) => {}
        }
    }
    None
}

/// Whether `doc` holds an array anywhere along the dotted `path` (the path itself or one
/// of its prefixes): then its index keys for the path are multikey.
pub fn path_has_array(doc: &RawDocument, path: &str) -> bool {
    let mut current = doc;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        match current.get(part) {
            Ok(Some(RawBsonRef::Array(_))) => return true,
            Ok(Some(RawBsonRef::Document(d))) if parts.peek().is_some() => current = d,
            _ => return false,
        }
    }
    false
}

/// The keys a multikey index holds for a document at `path`, as MongoDB's multikey index
/// stores them: every value the path reaches (through arrays of documents, and numeric
/// components into arrays), and for an array value each of its elements besides the array
/// itself (so equality with the whole array and with one element both find it). A missing
/// path yields nothing: null equality is not answered from these keys.
pub fn multikey_terms<'a>(doc: &'a RawDocument, path: &str) -> Vec<RawBsonRef<'a>> {
    reached_keys(doc, path, true)
}

/// The keys a unique multikey index compares for a document at `path`, as MongoDB's index
/// holds them: each value the path reaches, an array's elements instead of the array (an
/// empty array is `undefined`). Missing yields nothing (the btree compares its null).
pub fn unique_keys<'a>(doc: &'a RawDocument, path: &str) -> Vec<RawBsonRef<'a>> {
    reached_keys(doc, path, false)
}

fn reached_keys<'a>(doc: &'a RawDocument, path: &str, whole_arrays: bool) -> Vec<RawBsonRef<'a>> {
    fn reach<'a>(value: RawBsonRef<'a>, rest: &[&str], whole_arrays: bool, out: &mut Vec<RawBsonRef<'a>>) {
        let Some((first, tail)) = rest.split_first() else {
            match value {
                RawBsonRef::Array(items) => {
                    if whole_arrays {
                        out.push(value);
                    }
                    let before = out.len();
                    out.extend(items.into_iter().flatten());
                    if !whole_arrays && out.len() == before {
                        out.push(RawBsonRef::Undefined);
                    }
                }
                other => out.push(other),
            }
            return;
        };
        match value {
            RawBsonRef::Document(d) => {
                if let Ok(Some(v)) = d.get(first) {
                    reach(v, tail, whole_arrays, out);
                }
            }
            // Implicit traversal, as the matcher: an array's documents (not its nested
            // arrays), and the element a numeric component names.
            RawBsonRef::Array(items) => {
                if let Some(i) = documentdb_bson::path::array_index(first) {
                    if let Some(Ok(v)) = items.into_iter().nth(i) {
                        reach(v, tail, whole_arrays, out);
                    }
                }
                for item in items.into_iter().flatten() {
                    if let RawBsonRef::Document(d) = item {
                        if let Ok(Some(v)) = d.get(first) {
                            reach(v, tail, whole_arrays, out);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    let parts: Vec<&str> = path.split('.').collect();
    let mut out = Vec::new();
    reach(RawBsonRef::Document(doc), &parts, whole_arrays, &mut out);
    out
}

/// The keys a unique compound index compares for `doc`: one tuple (an array of the paths'
/// values, null for a missing one) per element of the array the paths go through (one at
/// most: parallel arrays are refused), elements of other nested arrays multiplied out.
/// Paths under the array pair values of the same element (`a.b` and `a.c` of `a: [{b: 1,
/// c: 2}, {b: 3, c: 4}]` are (1, 2) and (3, 4)), as MongoDB's index keys.
pub fn unique_key_tuples(doc: &RawDocument, paths: &[&str]) -> Vec<RawBson> {
    let shared = paths.iter().find_map(|p| first_array_prefix(doc, p));
    let value_lists = |resolve: &dyn Fn(&str) -> Vec<RawBson>| -> Vec<Vec<RawBson>> {
        paths
            .iter()
            .map(|p| {
                let values = resolve(p);
                if values.is_empty() {
                    vec![RawBson::Null]
                } else {
                    values
                }
            })
            .collect()
    };
    let whole = |p: &str| unique_keys(doc, p).into_iter().map(RawBson::from).collect::<Vec<_>>();
    let Some(prefix) = shared else { return product(&value_lists(&whole)) };
    let elements: Vec<RawBsonRef<'_>> = match doc_path_value(doc, prefix) {
        Some(RawBsonRef::Array(items)) => items.into_iter().flatten().collect(),
        _ => Vec::new(),
    };
    if elements.is_empty() {
        // An empty array keys as undefined (as the single-field keys do).
        let empty = |p: &str| {
            if p == prefix || p.starts_with(&format!("{prefix}.")) {
                vec![RawBson::Undefined]
            } else {
                whole(p)
            }
        };
        return product(&value_lists(&empty));
    }
    let mut out = Vec::new();
    for element in elements {
        let in_element = |p: &str| -> Vec<RawBson> {
            if p == prefix {
                return match element {
                    RawBsonRef::Array(inner) => inner.into_iter().flatten().map(RawBson::from).collect(),
                    other => vec![RawBson::from(other)],
                };
            }
            match (p.strip_prefix(prefix).and_then(|r| r.strip_prefix('.')), element) {
                (Some(rest), RawBsonRef::Document(d)) => unique_keys(d, rest).into_iter().map(RawBson::from).collect(),
                (Some(_), _) => Vec::new(),
                (None, _) => whole(p),
            }
        };
        out.extend(product(&value_lists(&in_element)));
    }
    out
}

/// The value at a dotted path through documents only.
fn doc_path_value<'a>(doc: &'a RawDocument, path: &str) -> Option<RawBsonRef<'a>> {
    let mut current = doc;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        let value = current.get(part).ok().flatten()?;
        if parts.peek().is_none() {
            return Some(value);
        }
        let RawBsonRef::Document(d) = value else { return None };
        current = d;
    }
    None
}

/// Every combination of one value per list, each as an array.
fn product(lists: &[Vec<RawBson>]) -> Vec<RawBson> {
    let mut tuples: Vec<Vec<RawBson>> = vec![Vec::new()];
    for list in lists {
        tuples = tuples
            .into_iter()
            .flat_map(|t| list.iter().map(move |v| t.iter().cloned().chain(std::iter::once(v.clone())).collect()))
            .collect();
    }
    tuples
        .into_iter()
        .map(|t| {
            let mut array = bson::RawArrayBuf::new();
            for v in t {
                array.push(v);
            }
            RawBson::Array(array)
        })
        .collect()
}

/// The key a hashed index holds for a document at `path`: a 64-bit hash of the value
/// (null when missing), equal for values MongoDB's `$eq` finds equal (`1`, `1.0`,
/// `NumberLong(1)`). `None` when an array lies along the path: MongoDB's hashed indexes
/// refuse array values.
pub fn hashed_key(doc: &RawDocument, path: &str) -> Option<i64> {
    if path_has_array(doc, path) {
        return None;
    }
    Some(hashed_value(crate::sort::sort_key(doc, path, true).as_raw_bson_ref()))
}

/// The hashed index key of a query value (as [`hashed_key`] of a document holding it).
pub fn hashed_value(value: RawBsonRef<'_>) -> i64 {
    documentdb_bson::hash::hash_value(value, HASHED_INDEX_SEED) as i64
}

/// The index key MongoDB's `{$meta: "indexKey"}` and `returnKey` report for `doc` read
/// through an index with `key_pattern`: each key field (named by its path) with the value
/// the index holds for it: null when missing, the hash for a hashed field, and for a
/// multikey document the first of its keys (MongoDB reports the key the scan met, which
/// depends on the bounds; its manual says the value is for debugging only). `None` for key
/// patterns whose keys are not values of the document (text, geospatial, wildcard).
pub fn index_key_document(doc: &RawDocument, key_pattern: &RawDocument) -> Option<bson::RawDocumentBuf> {
    let mut fields: Vec<(&str, bool)> = Vec::new();
    for element in key_pattern {
        let (path, kind) = element.ok()?;
        let hashed = match kind {
            RawBsonRef::String("hashed") => true,
            RawBsonRef::String(_) => return None,
            _ => false,
        };
        if path.as_str().ends_with("$**") {
            return None;
        }
        fields.push((path.as_str(), hashed));
    }
    let value_paths: Vec<&str> = fields.iter().filter(|(_, hashed)| !hashed).map(|(p, _)| *p).collect();
    let first_tuple = match unique_key_tuples(doc, &value_paths).into_iter().next() {
        Some(RawBson::Array(values)) => values,
        _ => bson::RawArrayBuf::new(),
    };
    let mut values = first_tuple.into_iter().flatten();
    let mut key = bson::RawDocumentBuf::new();
    for (path, hashed) in fields {
        let cstr: &bson::raw::CStr = path.try_into().ok()?;
        if hashed {
            let hash = hashed_value(crate::sort::sort_key(doc, path, true).as_raw_bson_ref());
            key.append(cstr, hash);
        } else {
            key.append(cstr, RawBson::from(values.next().unwrap_or(RawBsonRef::Null)));
        }
    }
    Some(key)
}

/// Seed of hashed index keys (any constant: keys are compared, never stored elsewhere).
const HASHED_INDEX_SEED: u64 = 0x6d6f_6e67_6f68_6173;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::Filter;
    use bson::{rawdoc, RawBsonRef};
    use documentdb_bson::compare_values;
    use std::cmp::Ordering;

    fn bounds_of(filter: &RawDocument) -> Option<KeyBounds> {
        let Ok(parsed) = Filter::parse(filter) else { return None };
        let predicates = parsed.pushdown_predicates();
        assert_eq!(predicates.len(), 1);
        key_bounds(&predicates[0])
    }

    fn within(bounds: &KeyBounds, key: RawBsonRef<'_>) -> bool {
        let cmp = |b: &RawBson| compare_values(key, b.as_raw_bson_ref());
        match bounds {
            KeyBounds::Equal(v) => cmp(v) == Ordering::Equal,
            KeyBounds::OneOf(vs) => vs.iter().any(|v| cmp(v) == Ordering::Equal),
            KeyBounds::NoneOf(vs) => vs.iter().all(|v| cmp(v) != Ordering::Equal),
            KeyBounds::Range { lower, upper } => {
                lower.as_ref().is_none_or(|l| match cmp(&l.value) {
                    Ordering::Greater => true,
                    Ordering::Equal => l.inclusive,
                    Ordering::Less => false,
                }) && upper.as_ref().is_none_or(|u| match cmp(&u.value) {
                    Ordering::Less => true,
                    Ordering::Equal => u.inclusive,
                    Ordering::Greater => false,
                })
            }
        }
    }

    /// The property the index relies on: every single-valued document the filter matches
    /// has its sort key inside the bounds (MongoDB's index bounds are a superset).
    #[test]
    fn bounds_contain_every_match_of_single_valued_documents() {
        let values: Vec<bson::Bson> = vec![
            bson::Bson::Null,
            bson::Bson::Undefined,
            bson::Bson::Int32(-3),
            bson::Bson::Int32(5),
            bson::Bson::Int64(5),
            bson::Bson::Double(5.5),
            bson::Bson::Double(f64::NAN),
            bson::Bson::Double(f64::NEG_INFINITY),
            bson::Bson::Double(f64::INFINITY),
            bson::Bson::String(String::new()),
            bson::Bson::String("m".into()),
            bson::Bson::String("z".into()),
            bson::Bson::Document(bson::doc! {}),
            bson::Bson::Document(bson::doc! {"x": 1}),
            bson::Bson::Boolean(false),
            bson::Bson::Boolean(true),
            bson::Bson::DateTime(bson::DateTime::from_millis(-5)),
            bson::Bson::DateTime(bson::DateTime::from_millis(1_000)),
            bson::Bson::ObjectId(bson::oid::ObjectId::from_bytes([1; 12])),
            bson::Bson::Timestamp(bson::Timestamp { time: 3, increment: 1 }),
            bson::Bson::MinKey,
            bson::Bson::MaxKey,
        ];
        let operands = values.clone();
        let mut checked = 0;
        for op in ["$eq", "$gt", "$gte", "$lt", "$lte", "$in"] {
            for operand in &operands {
                let condition = if op == "$in" {
                    bson::doc! { op: [operand.clone(), 7] }
                } else {
                    bson::doc! { op: operand.clone() }
                };
                let filter = bson::RawDocumentBuf::try_from(&bson::doc! { "a.b": condition.clone() }).unwrap();
                let Some(bounds) = bounds_of(&filter) else { continue };
                let parsed = Filter::parse(&filter).unwrap();
                let mut docs: Vec<bson::Document> = values.iter().map(|v| bson::doc! {"a": {"b": v.clone()}}).collect();
                docs.push(bson::doc! {});
                docs.push(bson::doc! {"a": 1});
                docs.push(bson::doc! {"a": {}});
                for doc in docs {
                    let raw = bson::RawDocumentBuf::try_from(&doc).unwrap();
                    if parsed.matches(&raw).unwrap() {
                        checked += 1;
                        let key = crate::sort::sort_key(&raw, "a.b", true);
                        assert!(
                            within(&bounds, key.as_raw_bson_ref()),
                            "{condition:?} matches {doc:?} but its key {key:?} is outside {bounds:?}"
                        );
                    }
                }
            }
        }
        assert!(checked > 100, "only {checked} matches checked");
    }

    /// The same property for `$ne`, `$nin`, `$type` and `$exists: false` (MongoDB's bounds for
    /// them: the intervals around the values, the type's bracket, the null key).
    #[test]
    fn restriction_bounds_contain_every_match_of_single_valued_documents() {
        let values: Vec<bson::Bson> = vec![
            bson::Bson::Null,
            bson::Bson::Undefined,
            bson::Bson::Int32(5),
            bson::Bson::Int64(5),
            bson::Bson::Double(5.0),
            bson::Bson::Double(f64::NAN),
            bson::Bson::Decimal128(bson::Decimal128::from_bytes([0; 16])),
            bson::Bson::String("m".into()),
            bson::Bson::Symbol("m".into()),
            bson::Bson::Document(bson::doc! {"x": 1}),
            bson::Bson::Boolean(true),
            bson::Bson::DateTime(bson::DateTime::from_millis(1_000)),
            bson::Bson::ObjectId(bson::oid::ObjectId::from_bytes([1; 12])),
            bson::Bson::Timestamp(bson::Timestamp { time: 3, increment: 1 }),
            bson::Bson::Binary(bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: vec![1] }),
            bson::Bson::MinKey,
            bson::Bson::MaxKey,
        ];
        let mut conditions = vec![bson::doc! { "$exists": false }];
        for v in &values {
            conditions.push(bson::doc! { "$ne": v.clone() });
            conditions.push(bson::doc! { "$nin": [v.clone(), "z"] });
            conditions.push(bson::doc! { "$not": { "$eq": v.clone() } });
        }
        for t in [
            "double",
            "string",
            "object",
            "binData",
            "objectId",
            "bool",
            "date",
            "null",
            "int",
            "timestamp",
            "long",
            "decimal",
            "number",
            "symbol",
        ] {
            conditions.push(bson::doc! { "$type": t });
        }
        conditions.push(bson::doc! { "$type": ["int", "double"] });
        let mut checked = 0;
        for condition in conditions {
            let filter = bson::RawDocumentBuf::try_from(&bson::doc! { "a.b": condition.clone() }).unwrap();
            // MongoDB refuses some operands (`$ne: undefined`): nothing to bound.
            let Ok(parsed) = Filter::parse(&filter) else { continue };
            let restrictions = parsed.key_restrictions();
            assert_eq!(restrictions.len(), 1, "{condition:?}");
            let Some(bounds) = restriction_bounds(&restrictions[0].1) else { continue };
            let mut docs: Vec<bson::Document> = values.iter().map(|v| bson::doc! {"a": {"b": v.clone()}}).collect();
            docs.extend([bson::doc! {}, bson::doc! {"a": 1}, bson::doc! {"a": {}}]);
            for doc in docs {
                let raw = bson::RawDocumentBuf::try_from(&doc).unwrap();
                if parsed.matches(&raw).unwrap() {
                    checked += 1;
                    let key = crate::sort::sort_key(&raw, "a.b", true);
                    assert!(
                        within(&bounds, key.as_raw_bson_ref()),
                        "{condition:?} matches {doc:?} but its key {key:?} is outside {bounds:?}"
                    );
                }
            }
        }
        assert!(checked > 300, "only {checked} matches checked");
        // Mixed brackets and arrays give no bounds.
        let mixed = Filter::parse(&rawdoc! { "a": { "$type": ["string", "int"] } }).unwrap();
        assert!(mixed.key_restrictions().is_empty());
        let ne_array = Filter::parse(&rawdoc! { "a": { "$ne": [1] } }).unwrap();
        assert_eq!(restriction_bounds(&ne_array.key_restrictions()[0].1), None);
    }

    /// `{$meta: "indexKey"}` (manual, $meta: "Returns an index key for the document if a
    /// non-text index is used"): key fields by path, null for missing, the first key of a
    /// multikey document, the hash for a hashed field, nothing for text or wildcard keys.
    #[test]
    fn index_key_document_names_key_paths() {
        let doc = rawdoc! { "_id": 1, "type": "apparel", "item": { "sku": "abc" }, "tags": ["b", "a"] };
        assert_eq!(
            index_key_document(&doc, &rawdoc! { "type": 1, "item.sku": -1 }),
            Some(rawdoc! { "type": "apparel", "item.sku": "abc" })
        );
        assert_eq!(index_key_document(&doc, &rawdoc! { "size": 1 }), Some(rawdoc! { "size": null }));
        assert_eq!(index_key_document(&doc, &rawdoc! { "tags": 1, "_id": 1 }), Some(rawdoc! { "tags": "b", "_id": 1 }));
        assert_eq!(
            index_key_document(&doc, &rawdoc! { "type": "hashed" }),
            Some(rawdoc! { "type": hashed_value(RawBsonRef::String("apparel")) })
        );
        assert_eq!(index_key_document(&doc, &rawdoc! { "item": "text" }), None);
        assert_eq!(index_key_document(&doc, &rawdoc! { "$**": 1 }), None);
    }

    #[test]
    fn unique_key_tuples_pair_values_of_one_element() {
        let tuples = |doc: bson::RawDocumentBuf, paths: &[&str]| -> Vec<bson::Bson> {
            unique_key_tuples(&doc, paths).into_iter().map(|t| bson::Bson::try_from(t).unwrap()).collect()
        };
        use bson::bson;
        assert_eq!(tuples(rawdoc! { "a": [1, 2], "b": 1 }, &["a", "b"]), vec![bson!([1, 1]), bson!([2, 1])]);
        assert_eq!(tuples(rawdoc! { "a": 1, "b": [1, 2] }, &["a", "b"]), vec![bson!([1, 1]), bson!([1, 2])]);
        assert_eq!(
            tuples(rawdoc! { "a": [{ "b": 1, "c": 2 }, { "b": 3, "c": 4 }] }, &["a.b", "a.c"]),
            vec![bson!([1, 2]), bson!([3, 4])]
        );
        assert_eq!(tuples(rawdoc! { "b": 5 }, &["a", "b"]), vec![bson!([null, 5])]);
        assert_eq!(tuples(rawdoc! { "a": [], "b": 5 }, &["a", "b"]), vec![bson!([bson::Bson::Undefined, 5])]);
    }

    /// Manual (multikey indexes, compound): at most one indexed field per document may be an
    /// array; fields under one shared array are fine.
    #[test]
    fn parallel_arrays_are_two_different_arrays() {
        let check = |doc: bson::RawDocumentBuf, paths: &[&str]| {
            parallel_arrays(&doc, paths).map(|(a, b)| (a.to_owned(), b.to_owned()))
        };
        assert_eq!(check(rawdoc! { "a": [1, 2], "b": [1, 2] }, &["a", "b"]), Some(("b".into(), "a".into())));
        assert_eq!(check(rawdoc! { "a": [1, 2], "b": 1 }, &["a", "b"]), None);
        assert_eq!(check(rawdoc! { "a": [{ "b": 1, "c": 2 }] }, &["a.b", "a.c"]), None);
        assert_eq!(check(rawdoc! { "a": { "b": [1], "c": [2] } }, &["a.b", "a.c"]), Some(("c".into(), "b".into())));
        assert_eq!(check(rawdoc! { "x": 1 }, &["a", "b"]), None);
    }

    #[test]
    fn ranges_stay_in_their_type_bracket() {
        let Some(KeyBounds::Range { lower, upper }) = bounds_of(&rawdoc! { "a": { "$gt": 5 } }) else { panic!() };
        assert_eq!(lower, Some(Bound { value: RawBson::Int32(5), inclusive: false }));
        assert_eq!(upper, Some(Bound { value: RawBson::String(String::new()), inclusive: false }));
        let Some(KeyBounds::Range { lower, .. }) = bounds_of(&rawdoc! { "a": { "$lte": "k" } }) else { panic!() };
        assert_eq!(lower, Some(Bound { value: RawBson::String(String::new()), inclusive: true }));
    }

    #[test]
    fn unservable_predicates_have_no_bounds() {
        assert_eq!(bounds_of(&rawdoc! { "a": { "$exists": true } }), None);
        assert_eq!(bounds_of(&rawdoc! { "a": [1, 2] }), None);
        assert_eq!(bounds_of(&rawdoc! { "a": { "$gt": null } }), None);
        assert_eq!(bounds_of(&rawdoc! { "a": { "$gt": bson::RawBson::MaxKey } }), None);
        assert_eq!(bounds_of(&rawdoc! { "a": { "$in": [[1]] } }), None);
    }

    /// The property the multikey index relies on: a document matches `{path: v}` (or `$in`)
    /// only if one of its terms equals `v` (or one of the values), for non-null `v`.
    #[test]
    fn every_equality_match_has_an_equal_term() {
        let docs = [
            bson::doc! { "a": [1, [2, 3], { "b": 4 }, { "b": [5, { "c": 6 }] }] },
            bson::doc! { "a": { "b": [7, 8] } },
            bson::doc! { "a": [[{ "b": 9 }]] },
            bson::doc! { "a": [{ "b": { "c": [10] } }, { "b": null }] },
            bson::doc! { "a": [1.0, "x", { "0": 11 }], "b": [[12]] },
            bson::doc! { "a": { "0": { "b": 13 } } },
        ];
        let operands: Vec<bson::Bson> = vec![
            1.into(),
            2.into(),
            bson::bson!([2, 3]),
            4.into(),
            5.into(),
            6.into(),
            bson::bson!({ "c": 6 }),
            7.into(),
            bson::bson!([7, 8]),
            9.into(),
            bson::bson!([{ "b": 9 }]),
            10.into(),
            bson::bson!([10]),
            "x".into(),
            11.into(),
            12.into(),
            bson::bson!([12]),
            13.into(),
            bson::bson!({ "b": 13 }),
        ];
        let paths = ["a", "a.b", "a.b.c", "a.0", "a.0.b", "a.1", "a.3.b", "b", "b.0"];
        let mut matched = 0;
        for doc in &docs {
            let raw = bson::RawDocumentBuf::try_from(doc).unwrap();
            for path in paths {
                let terms = multikey_terms(&raw, path);
                for operand in &operands {
                    let filter =
                        bson::RawDocumentBuf::try_from(&bson::doc! { path: { "$eq": operand.clone() } }).unwrap();
                    if !Filter::parse(&filter).unwrap().matches(&raw).unwrap() {
                        continue;
                    }
                    matched += 1;
                    let wanted = RawBson::try_from(operand.clone()).unwrap();
                    assert!(
                        terms.iter().any(|t| compare_values(*t, wanted.as_raw_bson_ref()) == Ordering::Equal),
                        "{doc:?} matches {{{path}: {operand:?}}} but its terms are {terms:?}"
                    );
                }
            }
        }
        assert!(matched > 20, "only {matched} matches checked");
    }

    #[test]
    fn hashed_keys_agree_with_equality() {
        let one = hashed_key(&rawdoc! { "a": { "b": 1 } }, "a.b");
        assert_eq!(one, Some(hashed_value(RawBsonRef::Double(1.0))));
        assert_eq!(one, Some(hashed_value(RawBsonRef::Int64(1))));
        assert_ne!(one, Some(hashed_value(RawBsonRef::String("1"))));
        assert_eq!(hashed_key(&rawdoc! {}, "a"), Some(hashed_value(RawBsonRef::Null)));
        assert_eq!(hashed_key(&rawdoc! { "a": [1] }, "a"), None);
        assert_eq!(hashed_key(&rawdoc! { "a": [{ "b": 1 }] }, "a.b"), None);
    }

    #[test]
    fn regex_prefixes_bound_strings() {
        let filter = Filter::parse(&rawdoc! { "a": { "$regex": "^ab+c" }, "b": { "$regex": "^x", "$options": "i" }, "c": { "$regex": "^q?r" }, "d": { "$regex": "^de\\." } }).unwrap();
        assert_eq!(filter.regex_prefixes(), vec![("a".to_owned(), "ab".to_owned()), ("d".to_owned(), "de".to_owned())]);
        let bounds = prefix_bounds("ab");
        let KeyBounds::Range { lower: Some(lower), upper: Some(upper) } = &bounds else { panic!() };
        assert_eq!((&lower.value, &upper.value), (&RawBson::String("ab".into()), &RawBson::String("ac".into())));
        for (s, inside) in
            [("ab", true), ("abzzz", true), ("ab\u{10FFFF}", true), ("ac", false), ("aa", false), ("a", false)]
        {
            let raw = rawdoc! { "a": s };
            assert_eq!(within(&bounds, raw.get("a").unwrap().unwrap()), inside, "{s}");
        }
    }

    #[test]
    fn elem_match_implies_its_comparisons() {
        let filter = Filter::parse(&rawdoc! {
            "a": { "$elemMatch": { "$gt": 5, "$lt": 9 } },
            "b": { "$elemMatch": { "c": 1, "d": { "$gte": 2 } } },
        })
        .unwrap();
        let implied: Vec<(String, PushdownOp)> =
            filter.implied_index_predicates().into_iter().map(|p| (p.path, p.op)).collect();
        assert_eq!(
            implied,
            vec![
                ("a".to_owned(), PushdownOp::Gt),
                ("a".to_owned(), PushdownOp::Lt),
                ("b.c".to_owned(), PushdownOp::Eq),
                ("b.d".to_owned(), PushdownOp::Gte)
            ]
        );
    }

    #[test]
    fn unique_keys_are_elements_not_arrays() {
        let doc = rawdoc! { "a": [1, [2, 3], { "b": 4 }], "e": [] };
        assert_eq!(unique_keys(&doc, "a").len(), 3);
        assert!(!unique_keys(&doc, "a")
            .iter()
            .any(|k| matches!(k, RawBsonRef::Array(a) if a.into_iter().count() == 3)));
        assert_eq!(unique_keys(&doc, "a.b"), vec![RawBsonRef::Int32(4)]);
        assert_eq!(unique_keys(&doc, "e"), vec![RawBsonRef::Undefined]);
        assert!(unique_keys(&doc, "missing").is_empty());
        assert_eq!(multikey_terms(&doc, "a").len(), 4);
    }

    #[test]
    fn arrays_along_the_path_make_it_multikey() {
        assert!(path_has_array(&rawdoc! { "a": [1] }, "a"));
        assert!(path_has_array(&rawdoc! { "a": [{ "b": 1 }] }, "a.b"));
        assert!(path_has_array(&rawdoc! { "a": { "b": [] } }, "a.b"));
        assert!(!path_has_array(&rawdoc! { "a": { "b": 1 } }, "a.b"));
        assert!(!path_has_array(&rawdoc! { "a": 1 }, "a.b"));
        assert!(!path_has_array(&rawdoc! { "b": [1] }, "a"));
        assert!(!path_has_array(&rawdoc! { "a": { "c": [1] } }, "a.b"));
    }
}
