//! Dotted paths and MongoDB's element iteration for query predicates.
//!
//! This is a faithful port of MongoDB's `BSONElementIterator` (src/mongo/db/matcher/path.cpp):
//! walking `"a.b.c"` descends through embedded documents; an array met before the last
//! component is traversed element by element (document elements continue the walk, and a
//! numeric next component also selects the element at that index); an array at the last
//! component yields each element and then the array itself (unless leaf traversal is off,
//! as for `$size`/`$elemMatch`). A missing field yields "missing" (EOO), a scalar in the
//! middle of the path yields "missing" too. Every yielded value carries the index of the
//! outermost array element it came through, which is what the positional `$` reports.

use bson::{RawArray, RawBsonRef, RawDocument};

use documentdb_bson::raw_reader::{get_item, ArrayRef, Item};

/// One component of a dotted path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Part {
    pub(crate) name: Box<str>,
    /// The array index this component names, when it is a canonical non-negative integer.
    pub(crate) index: Option<usize>,
}

/// A parsed dotted path (`"a.b.0"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Path {
    pub(crate) dotted: Box<str>,
    pub(crate) parts: Box<[Part]>,
}

impl Path {
    pub(crate) fn new(dotted: &str) -> Path {
        let parts = dotted.split('.').map(|name| Part { name: name.into(), index: array_index(name) }).collect();
        Path { dotted: dotted.into(), parts }
    }
}

/// `Some(i)` when `component` is how MongoDB names array element `i` ("0", "1", ... with no
/// leading zeros).
pub(crate) fn array_index(component: &str) -> Option<usize> {
    let b = component.as_bytes();
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) || (b.len() > 1 && b.first() == Some(&b'0')) {
        return None;
    }
    component.parse().ok()
}

/// Where a walk starts: a document, or a single virtual field (`{name: value}` without
/// building that document), used for `$pull` conditions and arrayFilters.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Root<'a> {
    Doc(&'a RawDocument),
    Field(&'a str, RawBsonRef<'a>),
}

impl<'a> Root<'a> {
    #[inline]
    fn lookup(self, name: &str) -> Option<Item<'a>> {
        match self {
            Root::Doc(doc) => get_item(doc, name),
            Root::Field(field, value) => (field == name).then(|| Item::from_ref(value)),
        }
    }
}

/// Iterates array elements (materialized as `RawBsonRef`) with their indexes, stopping at
/// malformed bytes.
#[inline]
pub(crate) fn array_elements(arr: &RawArray) -> impl Iterator<Item = (usize, RawBsonRef<'_>)> {
    documentdb_bson::raw_reader::values(arr).enumerate()
}

/// Calls `f(value, array_offset)` for every element `path` reaches in `root`, in MongoDB's
/// order, until `f` returns true. Returns whether `f` returned true.
#[inline]
pub(crate) fn walk<'a, F>(root: Root<'a>, path: &Path, leaf_traversal: bool, f: &mut F) -> bool
where
    F: FnMut(Option<Item<'a>>, Option<usize>) -> bool,
{
    let Some(first) = path.parts.first() else {
        return f(None, None);
    };
    let value = root.lookup(&first.name);
    walk_from(value, &path.parts, 0, leaf_traversal, None, f)
}

/// Continues a walk from `value`, the value component `i` reached.
fn walk_from<'a, F>(
    mut value: Option<Item<'a>>,
    parts: &[Part],
    mut i: usize,
    leaf_traversal: bool,
    outer: Option<usize>,
    f: &mut F,
) -> bool
where
    F: FnMut(Option<Item<'a>>, Option<usize>) -> bool,
{
    loop {
        let Some(v) = value else {
            return f(None, outer);
        };
        let is_leaf = i + 1 >= parts.len();
        match v {
            Item::Array(arr) => return traverse_array(arr, parts, i + 1, leaf_traversal, outer, f),
            Item::Value(RawBsonRef::Array(arr)) => {
                return traverse_array(ArrayRef::from_raw(arr), parts, i + 1, leaf_traversal, outer, f)
            }
            Item::Value(RawBsonRef::Document(doc)) if !is_leaf => {
                i += 1;
                value = parts.get(i).and_then(|p| get_item(doc, &p.name));
            }
            _ if is_leaf => return f(Some(v), outer),
            // A scalar in the middle of the path: the path reaches nothing.
            _ => return f(None, outer),
        }
    }
}

/// Walks `parts[start..]` inside `doc`.
#[inline]
fn walk_doc<'a, F>(
    doc: &'a RawDocument,
    parts: &[Part],
    start: usize,
    leaf_traversal: bool,
    outer: Option<usize>,
    f: &mut F,
) -> bool
where
    F: FnMut(Option<Item<'a>>, Option<usize>) -> bool,
{
    let value = parts.get(start).and_then(|p| get_item(doc, &p.name));
    walk_from(value, parts, start, leaf_traversal, outer, f)
}

/// An array was reached with `parts[rest..]` still to walk.
fn traverse_array<'a, F>(
    arr: ArrayRef<'a>,
    parts: &[Part],
    rest: usize,
    leaf_traversal: bool,
    outer: Option<usize>,
    f: &mut F,
) -> bool
where
    F: FnMut(Option<Item<'a>>, Option<usize>) -> bool,
{
    let Some(next) = parts.get(rest) else {
        // The path ends at this array: its elements, then the array itself.
        if leaf_traversal {
            for (idx, element) in arr.items().enumerate() {
                if f(Some(element), outer.or(Some(idx))) {
                    return true;
                }
            }
        }
        return f(Some(Item::Array(arr)), outer);
    };
    let next_is_last = rest + 1 >= parts.len();
    for (idx, element) in arr.items().enumerate() {
        let offset_match = next.index == Some(idx);
        match element {
            Item::Value(RawBsonRef::Document(doc)) => {
                if walk_doc(doc, parts, rest, leaf_traversal, outer.or(Some(idx)), f) {
                    return true;
                }
                if offset_match {
                    let stop = if next_is_last {
                        f(Some(element), outer)
                    } else {
                        walk_doc(doc, parts, rest + 1, leaf_traversal, outer, f)
                    };
                    if stop {
                        return true;
                    }
                }
            }
            _ if offset_match => {
                let stop = if next_is_last {
                    f(Some(element), outer)
                } else if let Item::Array(inner) = element {
                    traverse_array(inner, parts, rest + 1, leaf_traversal, outer, f)
                } else {
                    false
                };
                if stop {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}
