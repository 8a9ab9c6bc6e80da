//! Dotted-path access with MongoDB semantics.
use crate::compare::MAX_STRUCTURAL_DEPTH;
use crate::raw_reader::{Elements, Val};
use bson::{RawArrayBuf, RawBson, RawBsonRef, RawDocument};
use documentdb_errors::{bail, DocDbResult};
use std::str::Split;

/// MongoDB's limit on the components of a field path (`FieldPath`'s
/// `BSONDepth::getMaxAllowableDepth()`, 200): longer paths in expressions, projections,
/// sort specifications and update paths are Overflow (15), "FieldPath is too long".
pub const MAX_PATH_COMPONENTS: usize = 200;

/// Whether a `$`-prefixed field name is one MongoDB allows in paths and stored documents:
/// a DBRef's `$ref`, `$id` and `$db` (ODMs reference documents as `{$ref, $id}` and join on
/// `field.$id`).
#[inline]
pub fn is_dbref_field(name: &str) -> bool {
    matches!(name, "$ref" | "$id" | "$db")
}

/// Whether a component of a field path starts with `$` and is not a DBRef field (MongoDB's
/// 16410).
#[inline]
pub fn is_dollar_component(component: &str) -> bool {
    component.starts_with('$') && !is_dbref_field(component)
}

/// The number of components of a dotted path (`"a.b.c"` has 3; `""` has 1).
#[inline]
pub fn path_components(path: &str) -> usize {
    path.bytes().filter(|b| *b == b'.').count() + 1
}

/// MongoDB's `FieldPath` length check: Overflow (15), "FieldPath is too long", for a path
/// with more than [`MAX_PATH_COMPONENTS`] components.
#[inline]
pub fn check_path_components(path: &str) -> DocDbResult<()> {
    check_component_count(path_components(path))
}

/// [`check_path_components`] for an already split path of `components` parts.
#[inline]
pub fn check_component_count(components: usize) -> DocDbResult<()> {
    if components > MAX_PATH_COMPONENTS {
        bail!(Overflow, "FieldPath is too long");
    }
    Ok(())
}

/// The value(s) a dotted path reaches.
#[derive(Debug, Clone, PartialEq)]
pub enum PathValue<'a> {
    /// The path reaches one value, borrowed from the document.
    Borrowed(RawBsonRef<'a>),
    /// Traversal through arrays gathered several values into a new array.
    Gathered(RawBson),
}

impl PathValue<'_> {
    /// A borrowed view of the value, whichever variant holds it.
    pub fn as_raw_bson_ref(&self) -> RawBsonRef<'_> {
        match self {
            PathValue::Borrowed(v) => *v,
            PathValue::Gathered(v) => v.as_raw_bson_ref(),
        }
    }

    /// The value as an owned `RawBson`.
    pub fn into_raw_bson(self) -> RawBson {
        match self {
            PathValue::Borrowed(v) => RawBson::from(v),
            PathValue::Gathered(v) => v,
        }
    }
}

/// Resolves `path` ("a.b.0.c") in `doc`: a numeric component indexes into an array; a
/// non-numeric component applied to an array maps over the array's document elements and
/// gathers the results into an array, as MongoDB's aggregation field paths do (`$a.b` over
/// `{a: [{b: [1, 2]}, {b: 3}, 4]}` is `[[1, 2], 3]`: no flattening, non-documents and
/// documents missing the field are skipped). `None` when nothing is reached.
///
/// Details:
/// * Components are split on `.`; an empty path or an empty component (`"a..b"`, `"a."`)
///   gives `None`.
/// * A component is numeric when it is a canonical decimal index (`"0"`, `"12"`; not
///   `"01"` or `"+1"`). On a document it is an ordinary field name.
/// * As in MongoDB's `ExpressionFieldPath::evaluatePathArray`, an element that is itself
///   an array is traversed with the same component and contributes its (possibly empty)
///   gathered array as one element: `$a.b` over `{a: [[{b: 1}], {b: 2}]}` is `[[1], 2]`.
/// * Mapping always yields an array, possibly empty (`$a.b` over `{a: [1, {}]}` is `[]`).
/// * A path that continues into a scalar gives `None`.
/// * Arrays nested more than 256 levels deep (impossible in stored documents, which are
///   limited to 100 levels) are not traversed, to bound the recursion.
///
/// The borrowed case allocates nothing; only gathering builds a new array.
pub fn get_path<'a>(doc: &'a RawDocument, path: &str) -> Option<PathValue<'a>> {
    if path.is_empty() || path.starts_with('.') || path.ends_with('.') || path.contains("..") {
        return None;
    }
    let mut components = path.split('.');
    let first = field(doc.as_bytes(), components.next()?)?;
    resolve(first, components, 0)
}

/// Plain dotted descent: each component is a field of a document or, when numeric, an
/// index of an array; no mapping over arrays. `None` when the path is empty, has an empty
/// component, or is not reached.
pub fn lookup_strict<'a>(doc: &'a RawDocument, path: &str) -> Option<RawBsonRef<'a>> {
    let mut components = path.split('.');
    let first = components.next().filter(|c| !c.is_empty())?;
    let mut found = field(doc.as_bytes(), first)?;
    for component in components {
        if component.is_empty() {
            return None;
        }
        found = match found.val {
            Val::Document(d) => field(d, component)?,
            Val::Array(a) => element(a, array_index(component)?)?,
            _ => return None,
        };
    }
    found.to_raw_ref()
}

/// `Some(i)` when `component` is a canonical array index.
pub fn array_index(component: &str) -> Option<usize> {
    let b = component.as_bytes();
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) || (b.len() > 1 && b.first() == Some(&b'0')) {
        return None;
    }
    component.parse().ok()
}

/// A value found in a container, with enough context to hand out a `RawBsonRef` for it.
struct Found<'a> {
    val: Val<'a>,
    /// The containing document's or array's bytes.
    parent: &'a [u8],
    /// Position of the element in `parent`.
    index: usize,
}

impl<'a> Found<'a> {
    fn to_raw_ref(&self) -> Option<RawBsonRef<'a>> {
        match self.val.to_raw_ref() {
            Some(v) => Some(v),
            // Arrays and DBPointers can only be obtained through bson's own iterator.
            None => RawDocument::from_bytes(self.parent).ok()?.iter_elements().nth(self.index)?.ok()?.value().ok(),
        }
    }
}

/// First field named `key` of the document `doc` (duplicates: the first wins).
fn field<'a>(doc: &'a [u8], key: &str) -> Option<Found<'a>> {
    let key = key.as_bytes();
    Elements::new(doc).enumerate().find(|(_, (k, _))| *k == key).map(|(index, (_, val))| Found {
        val,
        parent: doc,
        index,
    })
}

fn element(array: &[u8], index: usize) -> Option<Found<'_>> {
    let (_, val) = Elements::new(array).nth(index)?;
    Some(Found { val, parent: array, index })
}

/// Follows `rest` from `found`; `depth` counts the arrays being gathered over.
fn resolve<'a>(mut found: Found<'a>, mut rest: Split<'_, char>, depth: usize) -> Option<PathValue<'a>> {
    loop {
        let Some(component) = rest.next() else {
            return found.to_raw_ref().map(PathValue::Borrowed);
        };
        found = match found.val {
            Val::Document(d) => field(d, component)?,
            Val::Array(a) => match array_index(component) {
                Some(i) => element(a, i)?,
                None => {
                    let gathered = gather(a, component, rest, depth + 1);
                    return Some(PathValue::Gathered(RawBson::Array(gathered)));
                }
            },
            _ => return None,
        };
    }
}

/// Maps `component` + `rest` over the elements of `array` (see [`get_path`]). `depth` is
/// the number of arrays gathered over so far; beyond [`MAX_STRUCTURAL_DEPTH`] nested
/// arrays are skipped, which bounds the recursion on hostile (never validated) input.
fn gather(array: &[u8], component: &str, rest: Split<'_, char>, depth: usize) -> RawArrayBuf {
    let mut out = RawArrayBuf::new();
    if depth > MAX_STRUCTURAL_DEPTH {
        return out;
    }
    for (_, val) in Elements::new(array) {
        match val {
            Val::Document(d) => match field(d, component).and_then(|f| resolve(f, rest.clone(), depth)) {
                Some(PathValue::Borrowed(v)) => out.push(v),
                Some(PathValue::Gathered(v)) => out.push(v),
                None => {}
            },
            Val::Array(inner) => out.push(RawBson::Array(gather(inner, component, rest.clone(), depth + 1))),
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{rawdoc, RawDocumentBuf};

    fn gathered(d: RawDocumentBuf) -> Option<PathValue<'static>> {
        // Expected arrays are written as the field "v" of a document.
        let v = d.get("v").ok().flatten()?;
        Some(PathValue::Gathered(RawBson::from(v)))
    }

    #[test]
    fn plain_fields_and_nested_documents() {
        let d = rawdoc! {"a": {"b": {"c": 5}}, "x": 1};
        assert_eq!(get_path(&d, "a.b.c"), Some(PathValue::Borrowed(RawBsonRef::Int32(5))));
        assert_eq!(get_path(&d, "x"), Some(PathValue::Borrowed(RawBsonRef::Int32(1))));
        assert_eq!(get_path(&d, "a.b.d"), None);
        assert_eq!(get_path(&d, "y"), None);
        assert!(matches!(get_path(&d, "a.b"), Some(PathValue::Borrowed(RawBsonRef::Document(_)))));
    }

    #[test]
    fn empty_path_or_component_is_none() {
        let d = rawdoc! {"a": {"b": 1}, "": 2};
        for p in ["", ".", "a.", ".a", "a..b"] {
            assert_eq!(get_path(&d, p), None, "{p:?}");
            assert_eq!(lookup_strict(&d, p), None, "{p:?}");
        }
    }

    #[test]
    fn path_into_scalar_is_none() {
        let d = rawdoc! {"a": 1, "s": "str"};
        assert_eq!(get_path(&d, "a.b"), None);
        assert_eq!(get_path(&d, "s.0"), None);
        assert_eq!(lookup_strict(&d, "a.b"), None);
    }

    #[test]
    fn numeric_component_indexes_arrays() {
        let d = rawdoc! {"a": [10, {"c": 7}, [1, 2]]};
        assert_eq!(get_path(&d, "a.0"), Some(PathValue::Borrowed(RawBsonRef::Int32(10))));
        assert_eq!(get_path(&d, "a.1.c"), Some(PathValue::Borrowed(RawBsonRef::Int32(7))));
        assert_eq!(get_path(&d, "a.2.1"), Some(PathValue::Borrowed(RawBsonRef::Int32(2))));
        assert_eq!(get_path(&d, "a.3"), None);
        assert_eq!(lookup_strict(&d, "a.1.c"), Some(RawBsonRef::Int32(7)));
        assert_eq!(lookup_strict(&d, "a.3"), None);
    }

    #[test]
    fn numeric_component_on_document_is_field_name() {
        let d = rawdoc! {"a": {"0": "zero", "01": "lead"}};
        assert_eq!(get_path(&d, "a.0"), Some(PathValue::Borrowed(RawBsonRef::String("zero"))));
        assert_eq!(lookup_strict(&d, "a.01"), Some(RawBsonRef::String("lead")));
        assert_eq!(array_index("01"), None);
        assert_eq!(array_index("+1"), None);
        assert_eq!(array_index("0"), Some(0));
        assert_eq!(array_index("42"), Some(42));
    }

    #[test]
    fn non_numeric_component_maps_over_array_documents() {
        // The example from the doc comment.
        let d = rawdoc! {"a": [{"b": [1, 2]}, {"b": 3}, 4]};
        assert_eq!(get_path(&d, "a.b"), gathered(rawdoc! {"v": [[1, 2], 3]}));
        // Missing field / non-document elements skipped.
        let d = rawdoc! {"a": [{"x": 1}, {"b": 2}, "s", null]};
        assert_eq!(get_path(&d, "a.b"), gathered(rawdoc! {"v": [2]}));
    }

    #[test]
    fn mapping_with_no_match_gives_empty_array() {
        let d = rawdoc! {"a": [1, {"x": 1}]};
        assert_eq!(get_path(&d, "a.b"), gathered(rawdoc! {"v": []}));
        let d = rawdoc! {"a": []};
        assert_eq!(get_path(&d, "a.b"), gathered(rawdoc! {"v": []}));
    }

    #[test]
    fn mapping_continues_through_nested_paths() {
        let d = rawdoc! {"a": [{"b": {"c": 1}}, {"b": {"d": 2}}, {"b": [{"c": 3}, {"c": 4}]}]};
        assert_eq!(get_path(&d, "a.b.c"), gathered(rawdoc! {"v": [1, [3, 4]]}));
        // Numeric component after mapping indexes each element's array.
        let d = rawdoc! {"a": [{"b": [5, 6]}, {"b": [7]}]};
        assert_eq!(get_path(&d, "a.b.1"), gathered(rawdoc! {"v": [6]}));
    }

    #[test]
    fn nested_arrays_are_traversed_like_mongodb() {
        let d = rawdoc! {"a": [[{"b": 1}], {"b": 2}, [[{"b": 3}], 4], [5]]};
        assert_eq!(get_path(&d, "a.b"), gathered(rawdoc! {"v": [[1], 2, [[3]], []]}));
    }

    #[test]
    fn strict_lookup_does_not_map() {
        let d = rawdoc! {"a": [{"b": 1}]};
        assert_eq!(lookup_strict(&d, "a.b"), None);
        assert_eq!(lookup_strict(&d, "a.0.b"), Some(RawBsonRef::Int32(1)));
    }

    #[test]
    fn duplicate_fields_first_wins() {
        let d = rawdoc! {"a": 1, "a": 2};
        assert_eq!(lookup_strict(&d, "a"), Some(RawBsonRef::Int32(1)));
    }

    #[test]
    fn every_type_is_returned_borrowed() {
        let d = rawdoc! {
            "a": {
                "s": "str", "arr": [1, [2]], "bin": bson::Binary {
                    subtype: bson::spec::BinarySubtype::BinaryOld, bytes: vec![1, 2] },
                "re": bson::Regex { pattern: "p".try_into().expect("cstr"),
                                    options: "i".try_into().expect("cstr") },
                "ts": bson::Timestamp { time: 7, increment: 9 },
                "dt": bson::DateTime::from_millis(-5),
                "code": bson::RawBson::JavaScriptCode("f()".into()),
                "sym": bson::RawBson::Symbol("y".into()),
            }
        };
        let inner = d.get_document("a").expect("doc");
        for element in inner.iter() {
            let (key, value) = element.expect("decodes");
            let path = format!("a.{}", key.as_str());
            assert_eq!(get_path(&d, &path), Some(PathValue::Borrowed(value)), "{path}");
            assert_eq!(lookup_strict(&d, &path), Some(value), "{path}");
        }
        let arr = inner.get_array("arr").expect("array");
        assert_eq!(lookup_strict(&d, "a.arr.1"), arr.get(1).expect("decodes"));
    }

    #[test]
    fn dbpointer_is_returned_borrowed() {
        // {x: 1, p: DBPointer("ns", oid)} built by hand (bson keeps DbPointer private).
        let mut bytes = Vec::new();
        let body: &[u8] = b"\x10x\0\x01\0\0\0\x0cp\0\x03\0\0\0ns\0";
        let len = 4 + body.len() + 12 + 1;
        bytes.extend_from_slice(&(len as i32).to_le_bytes());
        bytes.extend_from_slice(body);
        bytes.extend_from_slice(&[7u8; 12]);
        bytes.push(0);
        let d = RawDocumentBuf::from_bytes(bytes).expect("well-formed");
        let expected = d.get("p").expect("decodes").expect("present");
        assert!(matches!(expected, RawBsonRef::DbPointer(_)));
        assert_eq!(get_path(&d, "p"), Some(PathValue::Borrowed(expected)));
        assert_eq!(lookup_strict(&d, "p"), Some(expected));
        assert_eq!(lookup_strict(&d, "p.x"), None);
    }

    #[test]
    fn field_path_component_limit() {
        assert_eq!(path_components("a"), 1);
        assert_eq!(path_components("a.b.c"), 3);
        let at_limit = vec!["a"; MAX_PATH_COMPONENTS].join(".");
        assert!(check_path_components(&at_limit).is_ok());
        let over = vec!["a"; MAX_PATH_COMPONENTS + 1].join(".");
        let err = check_path_components(&over).unwrap_err();
        assert_eq!(err.code, documentdb_errors::ErrorCode::Overflow);
        assert_eq!(err.message, "FieldPath is too long");
        assert!(check_component_count(MAX_PATH_COMPONENTS + 1).is_err());
    }

    #[test]
    fn deeply_nested_arrays_do_not_overflow() {
        // {a: [[[ ... {b: 1} ... ]]]} with 100,000 nested arrays, built without recursion:
        // gathering stops descending below the structural depth cap.
        let levels = 100_000usize;
        let leaf = rawdoc! {"b": 1}.into_bytes();
        // Each array level: length, type 0x04 (0x03 for the innermost document), key "0", NUL.
        let total_inner = leaf.len() + 3 + 5 + 8 * (levels - 1);
        let mut arr = Vec::with_capacity(total_inner);
        for i in 0..levels - 1 {
            arr.extend_from_slice(&((total_inner - 8 * i) as i32).to_le_bytes());
            arr.extend_from_slice(b"\x040\0");
        }
        arr.extend_from_slice(&((leaf.len() + 3 + 5) as i32).to_le_bytes());
        arr.extend_from_slice(b"\x030\0");
        arr.extend_from_slice(&leaf);
        arr.resize(total_inner, 0);
        let mut doc = Vec::with_capacity(total_inner + 8);
        doc.extend_from_slice(&((total_inner + 8) as i32).to_le_bytes());
        doc.extend_from_slice(b"\x04a\0");
        doc.extend_from_slice(&arr);
        doc.push(0);
        let d = RawDocument::from_bytes(&doc).expect("well-formed frame");
        assert!(matches!(get_path(d, "a.b"), Some(PathValue::Gathered(_))));
    }

    #[test]
    fn path_value_accessors() {
        let d = rawdoc! {"a": [{"b": 1}]};
        let v = get_path(&d, "a.b").expect("reached");
        assert!(matches!(v.as_raw_bson_ref(), RawBsonRef::Array(_)));
        assert!(matches!(v.into_raw_bson(), RawBson::Array(_)));
        let v = get_path(&d, "a.0.b").expect("reached");
        assert_eq!(v.into_raw_bson(), RawBson::Int32(1));
    }
}
