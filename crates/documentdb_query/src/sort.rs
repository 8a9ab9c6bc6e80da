//! Sort specifications and sort keys (MongoDB's ordering of documents in `find`/`$sort`).
//!
//! A document's key for one sort path is computed as MongoDB's sort key generator does
//! (it reuses the index key generator): every value the path reaches is a candidate key
//! (a missing field gives `null`; an array at the end of the path contributes each of its
//! elements, not nested arrays' elements; an empty array there gives `undefined`, which
//! sorts before `null`; arrays in the middle of the path are traversed into their document
//! elements, other elements giving `null`); the key is the smallest candidate for an
//! ascending sort and the largest for a descending one ("Comparison/Sort Order" in the
//! MongoDB manual). Keys are borrowed from the document: comparing allocates nothing.

use std::cmp::Ordering;

use bson::{RawArrayBuf, RawBson, RawBsonRef, RawDocument};
use documentdb_bson::compare::canonical_type_rank;
use documentdb_bson::{compare_documents, compare_values};
use documentdb_errors::{docdb_error, DocDbError, DocDbResult, ErrorCode};

use crate::filter::util::element_string;
use documentdb_bson::raw_reader::{array_document, decode, get_item, ArrayRef, Item, RawElements};

#[derive(Debug, Clone)]
struct SortKeySpec {
    path: String,
    parts: Vec<(String, Option<usize>)>,
    ascending: bool,
}

#[derive(Debug, Clone)]
pub struct SortSpec {
    keys: Vec<SortKeySpec>,
}

fn array_index(component: &str) -> Option<usize> {
    let b = component.as_bytes();
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) || (b.len() > 1 && b.first() == Some(&b'0')) {
        return None;
    }
    component.parse().ok()
}

fn split_path(path: &str) -> Vec<(String, Option<usize>)> {
    path.split('.').map(|p| (p.to_string(), array_index(p))).collect()
}

impl SortSpec {
    /// Parses `{a: 1, "b.c": -1}`; values 1/-1 (any numeric type), `{$meta: ...}` -> error
    /// (text score unsupported). Empty spec allowed.
    pub fn parse(spec: &RawDocument) -> DocDbResult<SortSpec> {
        let mut keys: Vec<SortKeySpec> = Vec::new();
        for field in spec.iter() {
            let (name, value) = field.map_err(|e| docdb_error!(InvalidBSON, "invalid BSON in sort: {e}"))?;
            let name = name.as_str();
            if let RawBsonRef::Document(meta) = value {
                let mut it = meta.iter().map_while(Result::ok);
                match it.next() {
                    Some((k, v)) if k.as_str() == "$meta" => {
                        if it.next().is_some() {
                            return Err(docdb_error!(
                                FailedToParse,
                                "Cannot have additional keys in a $meta sort specification"
                            ));
                        }
                        return Err(match v {
                            RawBsonRef::String("textScore") => docdb_error!(
                                NotImplemented,
                                "$meta sort by 'textScore' is not supported: text search is unavailable"
                            ),
                            // Only text and search scores and random values sort; MongoDB
                            // calls any other keyword (`indexKey`...) an illegal $meta sort.
                            RawBsonRef::String(other @ ("randVal" | "searchScore" | "searchHighlights")) => {
                                docdb_error!(NotImplemented, "$meta sort by '{other}' is not supported")
                            }
                            RawBsonRef::String(other) => DocDbError::new(
                                ErrorCode::new(31138),
                                format!("Illegal $meta sort: $meta: \"{other}\""),
                            ),
                            _ => DocDbError::new(ErrorCode::new(17308), "Unsupported argument to $meta"),
                        });
                    }
                    _ => {
                        return Err(DocDbError::new(
                            ErrorCode::new(17312),
                            "$meta is the only expression supported by $sort right now",
                        ))
                    }
                }
            }
            let Some(n) = documentdb_bson::number::Number::from_raw(value) else {
                return Err(DocDbError::new(
                    ErrorCode::new(15974),
                    format!("Illegal key in $sort specification: {}", element_string(name, value)),
                ));
            };
            let order = n.as_f64();
            if order != 1.0 && order != -1.0 {
                return Err(DocDbError::new(
                    ErrorCode::new(15975),
                    "$sort key ordering must be 1 (for ascending) or -1 (for descending)",
                ));
            }
            if name.is_empty() {
                return Err(DocDbError::new(
                    ErrorCode::new(40352),
                    "FieldPath cannot be constructed with empty string",
                ));
            }
            documentdb_bson::path::check_path_components(name)?;
            if name.split('.').any(str::is_empty) {
                return Err(DocDbError::new(ErrorCode::new(15998), "FieldPath field names may not be empty strings."));
            }
            if name.split('.').any(documentdb_bson::path::is_dollar_component) {
                return Err(DocDbError::new(
                    ErrorCode::new(16410),
                    "FieldPath field names may not start with '$'. Consider using $getField or $setField.",
                ));
            }
            keys.push(SortKeySpec { path: name.to_string(), parts: split_path(name), ascending: order > 0.0 });
        }
        Ok(SortSpec { keys })
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// (path, ascending) of key `i` (`("", true)` when out of range).
    pub fn key(&self, i: usize) -> (&str, bool) {
        self.keys.get(i).map_or(("", true), |k| (k.path.as_str(), k.ascending))
    }

    /// Compares two documents by the whole spec (MongoDB semantics, incl. arrays).
    /// Documents with equal keys compare `Equal`: a stable sort keeps their input order.
    pub fn compare(&self, a: &RawDocument, b: &RawDocument) -> std::cmp::Ordering {
        for key in &self.keys {
            let ka = key_ref(a, &key.parts, key.ascending);
            let kb = key_ref(b, &key.parts, key.ascending);
            let ord = cmp_keys(ka, kb);
            let ord = if key.ascending { ord } else { ord.reverse() };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    }
}

/// The value document `doc` sorts by for one key `path` in the given direction, as MongoDB
/// computes it: missing -> null; an array sorts by its smallest element ascending and its
/// largest element descending (an empty array sorts before null/missing); arrays of
/// documents traversed through the path. Returned as a plain value; comparing two keys
/// with `documentdb_bson::compare_values` gives the sort order for that direction.
pub fn sort_key(doc: &RawDocument, path: &str, ascending: bool) -> RawBson {
    match key_ref(doc, &split_path(path), ascending) {
        Key::Value(v) => RawBson::from(v),
        Key::Array(arr) => {
            let mut out = RawArrayBuf::new();
            for e in RawElements::of(arr) {
                if let Some(v) = decode(arr, e) {
                    out.push(v);
                }
            }
            RawBson::Array(out)
        }
    }
}

/// A candidate sort key: a value, or an array (an element of an array at the end of the
/// path) as the document its bytes form.
#[derive(Clone, Copy)]
enum Key<'a> {
    Value(RawBsonRef<'a>),
    Array(&'a RawDocument),
}

/// MongoDB's canonical type rank of arrays.
const ARRAY_RANK: i32 = 25;

/// MongoDB's order of two candidate keys; arrays compare element by element, exactly as
/// their documents do (the keys "0", "1", ... coincide position by position).
fn cmp_keys(a: Key<'_>, b: Key<'_>) -> Ordering {
    match (a, b) {
        (Key::Value(x), Key::Value(y)) => compare_values(x, y),
        (Key::Array(x), Key::Array(y)) => compare_documents(x, y),
        (Key::Array(x), Key::Value(y)) => match y {
            RawBsonRef::Array(y) => compare_documents(x, array_document(y)),
            y => ARRAY_RANK.cmp(&canonical_type_rank(y.element_type())),
        },
        (Key::Value(_), Key::Array(_)) => cmp_keys(b, a).reverse(),
    }
}

/// The sort key, borrowed from `doc` (or a constant null/undefined).
fn key_ref<'a>(doc: &'a RawDocument, parts: &[(String, Option<usize>)], ascending: bool) -> Key<'a> {
    let mut best: Option<Key<'a>> = None;
    let mut consider = |candidate: Key<'a>| {
        let better = match best {
            None => true,
            Some(current) => {
                let ord = cmp_keys(candidate, current);
                if ascending {
                    ord == Ordering::Less
                } else {
                    ord == Ordering::Greater
                }
            }
        };
        if better {
            best = Some(candidate);
        }
    };
    keys_in_doc(doc, parts, 0, &mut consider);
    best.unwrap_or(Key::Value(RawBsonRef::Null))
}

type Parts = [(String, Option<usize>)];

/// Candidate keys of `parts[i..]` inside `doc` (MongoDB's key generation).
fn keys_in_doc<'a, F: FnMut(Key<'a>)>(doc: &'a RawDocument, parts: &Parts, i: usize, f: &mut F) {
    let Some((name, _)) = parts.get(i) else {
        f(Key::Value(RawBsonRef::Document(doc)));
        return;
    };
    match get_item(doc, name) {
        None => f(Key::Value(RawBsonRef::Null)),
        Some(item) => keys_from_item(item, parts, i + 1, f),
    }
}

/// Candidate keys for `item`, reached with `parts[rest..]` still to walk.
fn keys_from_item<'a, F: FnMut(Key<'a>)>(item: Item<'a>, parts: &Parts, rest: usize, f: &mut F) {
    let Some((_, next_index)) = parts.get(rest) else {
        // End of the path: arrays contribute their elements (one level), [] is undefined.
        match item {
            Item::Array(arr) => {
                let mut any = false;
                for element in arr.items() {
                    any = true;
                    f(match element {
                        Item::Value(v) => Key::Value(v),
                        Item::Array(inner) => Key::Array(inner.doc),
                    });
                }
                if !any {
                    f(Key::Value(RawBsonRef::Undefined));
                }
            }
            Item::Value(v) => f(Key::Value(v)),
        }
        return;
    };
    match item {
        Item::Value(RawBsonRef::Document(d)) => keys_in_doc(d, parts, rest, f),
        Item::Array(arr) => keys_in_array(arr, parts, rest, *next_index, f),
        _ => f(Key::Value(RawBsonRef::Null)),
    }
}

fn keys_in_array<'a, F: FnMut(Key<'a>)>(
    arr: ArrayRef<'a>,
    parts: &Parts,
    rest: usize,
    next_index: Option<usize>,
    f: &mut F,
) {
    // A positional component selects one element instead of expanding the array.
    if let Some(index) = next_index {
        if let Some(element) = arr.items().nth(index) {
            keys_from_item(element, parts, rest + 1, f);
            return;
        }
    }
    let mut any = false;
    for element in arr.items() {
        any = true;
        match element {
            Item::Value(RawBsonRef::Document(d)) => keys_in_doc(d, parts, rest, f),
            _ => f(Key::Value(RawBsonRef::Null)),
        }
    }
    if !any {
        f(Key::Value(RawBsonRef::Null));
    }
}
