//! The `$unwind` stage (MongoDB's `DocumentSourceUnwind`): one output document per element
//! of the array at `path`, with the element in place of the array.
//!
//! MongoDB's rules: the path is followed through embedded documents only (an array on the
//! way means the value is missing); a non-array, non-nullish value is treated as a
//! one-element array; `null`, `undefined`, a missing field and an empty array produce no
//! document unless `preserveNullAndEmptyArrays` is true, in which case the document is
//! output as is, except that an empty array is removed from it (`{a: {b: []}}` unwound on
//! `$a.b` gives `{a: {}}`). `includeArrayIndex` names a field set to the element's index
//! (an int64), or `null` when the value was not unwound from an array.
use crate::spec_error::{invalid_bson, loc};
use bson::{Bson, Document, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::{DocDbError, DocDbResult, ErrorCode};

/// A parsed `$unwind` specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unwind {
    path: Vec<String>,
    include_array_index: Option<Vec<String>>,
    preserve_null_and_empty_arrays: bool,
}

/// MongoDB's `FieldPath` rules for a path without its `$` prefix.
fn field_path(path: &str) -> DocDbResult<Vec<String>> {
    crate::expr::split_path(path)
}

impl Unwind {
    /// Parses the stage's value: `"$path"` or `{path, includeArrayIndex?,
    /// preserveNullAndEmptyArrays?}`, with MongoDB's error codes (15981, 28808 to 28812,
    /// 28818, 28822, and the field path codes 40352 / 15998 / 16410).
    pub fn parse(spec: RawBsonRef<'_>) -> DocDbResult<Unwind> {
        match spec {
            RawBsonRef::String(path) => Self::from_parts(path, None, false),
            RawBsonRef::Document(d) => Self::parse_document(d),
            other => Err(loc(
                15981,
                format!(
                    "expected either a string or an object as specification for $unwind stage, got {}",
                    documentdb_bson::type_name(other.element_type())
                ),
            )),
        }
    }

    /// Parses the document form of the specification.
    pub fn parse_document(spec: &RawDocument) -> DocDbResult<Unwind> {
        let mut path = "";
        let mut index = None;
        let mut preserve = false;
        for element in spec {
            let (key, value) = element.map_err(invalid_bson)?;
            match (key.as_str(), value) {
                ("path", RawBsonRef::String(p)) => path = p,
                ("path", other) => {
                    return Err(loc(
                        28808,
                        format!(
                            "expected a string as the path for $unwind stage, got {}",
                            documentdb_bson::type_name(other.element_type())
                        ),
                    ))
                }
                ("preserveNullAndEmptyArrays", RawBsonRef::Boolean(b)) => preserve = b,
                ("preserveNullAndEmptyArrays", other) => {
                    return Err(loc(
                        28809,
                        format!(
                            "expected a boolean for the preserveNullAndEmptyArrays option to $unwind stage, got {}",
                            documentdb_bson::type_name(other.element_type())
                        ),
                    ))
                }
                ("includeArrayIndex", RawBsonRef::String(i)) if !i.is_empty() => {
                    if i.starts_with('$') {
                        return Err(loc(
                            28822,
                            format!("includeArrayIndex option to $unwind stage should not be prefixed with a '$': {i}"),
                        ));
                    }
                    index = Some(i);
                }
                ("includeArrayIndex", other) => {
                    return Err(loc(
                        28810,
                        format!(
                            "expected a non-empty string for the includeArrayIndex option to $unwind stage, got {}",
                            documentdb_bson::type_name(other.element_type())
                        ),
                    ))
                }
                (other, _) => return Err(loc(28811, format!("unrecognized option to $unwind stage: {other}"))),
            }
        }
        Self::from_parts(path, index, preserve)
    }

    fn from_parts(path: &str, index: Option<&str>, preserve: bool) -> DocDbResult<Unwind> {
        if path.is_empty() {
            return Err(loc(28812, "no path specified to $unwind stage"));
        }
        let Some(unprefixed) = path.strip_prefix('$') else {
            return Err(loc(28818, format!("path option to $unwind stage should be prefixed with a '$': {path}")));
        };
        Ok(Unwind {
            path: field_path(unprefixed)?,
            include_array_index: index.map(field_path).transpose()?,
            preserve_null_and_empty_arrays: preserve,
        })
    }

    /// Unwinds one document: zero, one or more output documents.
    /// The unwound field's path (without `$`).
    pub fn path(&self) -> String {
        self.path.join(".")
    }

    /// Does the stage set `includeArrayIndex`?
    pub fn includes_array_index(&self) -> bool {
        self.include_array_index.is_some()
    }

    pub fn preserves_null_and_empty_arrays(&self) -> bool {
        self.preserve_null_and_empty_arrays
    }

    pub fn apply(&self, doc: &RawDocument) -> DocDbResult<Vec<RawDocumentBuf>> {
        let mut owned = Document::try_from(doc).map_err(invalid_bson)?;
        let mut out = Vec::new();
        match lookup(&owned, &self.path).cloned() {
            Some(Bson::Array(items)) if !items.is_empty() => {
                out.reserve(items.len());
                for (i, item) in items.into_iter().enumerate() {
                    crate::document::set_path(&mut owned, &self.path, item);
                    self.set_index(&mut owned, Bson::Int64(i64::try_from(i).unwrap_or(i64::MAX)));
                    out.push(serialize(&owned)?);
                }
            }
            Some(Bson::Array(_)) => {
                if self.preserve_null_and_empty_arrays {
                    remove_path(&mut owned, &self.path);
                    self.set_index(&mut owned, Bson::Null);
                    out.push(serialize(&owned)?);
                }
            }
            None | Some(Bson::Null) | Some(Bson::Undefined) => {
                if self.preserve_null_and_empty_arrays {
                    self.set_index(&mut owned, Bson::Null);
                    out.push(serialize(&owned)?);
                }
            }
            Some(_) => {
                // Any other value passes through as a one-element array would, but with a
                // null index: it did not come from an array.
                self.set_index(&mut owned, Bson::Null);
                out.push(serialize(&owned)?);
            }
        }
        Ok(out)
    }

    fn set_index(&self, doc: &mut Document, value: Bson) {
        if let Some(path) = &self.include_array_index {
            crate::document::set_path(doc, path, value);
        }
    }
}

/// Parses the document form of a `$unwind` specification and unwinds `doc` with it.
pub fn unwind(doc: &RawDocument, spec: &RawDocument) -> DocDbResult<Vec<RawDocumentBuf>> {
    Unwind::parse_document(spec)?.apply(doc)
}

fn serialize(doc: &Document) -> DocDbResult<RawDocumentBuf> {
    RawDocumentBuf::try_from(doc)
        .map_err(|e| DocDbError::new(ErrorCode::InternalError, format!("cannot serialize $unwind output: {e}")))
}

/// The value at `path` through embedded documents (arrays are not traversed).
fn lookup<'a>(doc: &'a Document, path: &[String]) -> Option<&'a Bson> {
    let (first, rest) = path.split_first()?;
    let mut current = doc.get(first)?;
    for part in rest {
        current = match current {
            Bson::Document(d) => d.get(part)?,
            _ => return None,
        };
    }
    Some(current)
}

/// Removes the field at `path` (its parents stay, possibly empty).
fn remove_path(doc: &mut Document, path: &[String]) {
    let Some((first, rest)) = path.split_first() else {
        return;
    };
    if rest.is_empty() {
        doc.remove(first);
    } else if let Some(Bson::Document(sub)) = doc.get_mut(first) {
        remove_path(sub, rest);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{doc, rawdoc};

    fn run(spec: RawDocumentBuf, input: Document) -> Vec<Document> {
        let raw = RawDocumentBuf::try_from(&input).expect("serializable");
        unwind(&raw, &spec)
            .unwrap_or_else(|e| panic!("{spec:?}: {e:?}"))
            .iter()
            .map(|d| Document::try_from(d.as_ref()).expect("valid output"))
            .collect()
    }

    #[test]
    fn remove_path_keeps_parents() {
        let mut d = doc! { "a": { "b": [], "c": 1 } };
        remove_path(&mut d, &["a".to_string(), "b".to_string()]);
        assert_eq!(d, doc! { "a": { "c": 1 } });
    }

    #[test]
    fn preserve_removes_an_empty_array_at_a_nested_path() {
        // Manual, preserveNullAndEmptyArrays: an empty array is output without the field.
        let out = run(rawdoc! { "path": "$a.b", "preserveNullAndEmptyArrays": true }, doc! { "a": { "b": [] } });
        assert_eq!(out, vec![doc! { "a": {} }]);
    }
}
