//! Wildcard indexes (`{"$**": 1}`, `{"path.$**": 1}`, with `wildcardProjection`): one index
//! over every path of a document, or of a subtree. Each key is `{p: <path>, v: <value>}`:
//! for every value a path reaches (through documents and arrays of documents), the value,
//! and for an array each element besides the array itself, as a multikey index holds them.
//! Equality on any covered path is then one lookup of `{p, v}`.

use bson::{RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::{bail, DocDbResult};

/// How deep documents are walked for keys (stored documents are at most 100 levels deep).
const MAX_DEPTH: usize = 200;

/// Which paths a wildcard index holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WildcardIndex {
    /// `path` of `{"path.$**": 1}` (None: the whole document).
    root: Option<String>,
    /// `wildcardProjection`: (included?, paths); `_id` is left out unless included.
    projection: Option<(bool, Vec<String>)>,
}

impl WildcardIndex {
    /// The wildcard index of key path `key_path` (`$**` or `<path>.$**`), or `None` for an
    /// ordinary key; MongoDB's errors for a bad `wildcardProjection`.
    pub fn new(key_path: &str, projection: Option<&RawDocument>) -> DocDbResult<Option<WildcardIndex>> {
        let root = if key_path == "$**" {
            None
        } else if let Some(root) = key_path.strip_suffix(".$**") {
            Some(root.to_owned())
        } else {
            return Ok(None);
        };
        let projection = match projection {
            None => None,
            Some(_) if root.is_some() => {
                bail!(FailedToParse, "The field 'wildcardProjection' is only allowed in an '$**' index")
            }
            Some(p) => {
                let mut included = None;
                let mut paths = Vec::new();
                for field in p {
                    let (path, value) = field.map_err(|e| documentdb_errors::docdb_error!(BadValue, "{e}"))?;
                    let include = match value {
                        RawBsonRef::Boolean(b) => b,
                        RawBsonRef::Int32(n) => n != 0,
                        RawBsonRef::Int64(n) => n != 0,
                        RawBsonRef::Double(n) => n != 0.0,
                        _ => bail!(FailedToParse, "The 'wildcardProjection' values must be 0, 1, true or false"),
                    };
                    if path.as_str() != "_id" {
                        match included {
                            Some(i) if i != include => {
                                bail!(FailedToParse, "Cannot mix inclusion and exclusion in a wildcardProjection")
                            }
                            _ => included = Some(include),
                        }
                    }
                    if include || path.as_str() != "_id" {
                        paths.push(path.as_str().to_owned());
                    }
                }
                Some((included.unwrap_or(true), paths))
            }
        };
        Ok(Some(WildcardIndex { root, projection }))
    }

    /// Whether the index holds the values of `path`.
    pub fn covers(&self, path: &str) -> bool {
        let under = |path: &str, prefix: &str| path == prefix || path.starts_with(&format!("{prefix}."));
        if let Some(root) = &self.root {
            return under(path, root);
        }
        match &self.projection {
            None => !under(path, "_id"),
            Some((true, paths)) => paths.iter().any(|p| under(path, p)),
            Some((false, paths)) => !under(path, "_id") && !paths.iter().any(|p| under(path, p)),
        }
    }

    /// Every key of `doc`: `{p, v}` for each value a covered path reaches.
    pub fn keys(&self, doc: &RawDocument) -> Vec<RawDocumentBuf> {
        let mut out = Vec::new();
        self.walk_document(doc, "", 0, &mut out);
        out
    }

    fn walk_document(&self, doc: &RawDocument, prefix: &str, depth: usize, out: &mut Vec<RawDocumentBuf>) {
        if depth > MAX_DEPTH {
            return;
        }
        for (name, value) in doc.iter().flatten() {
            let path = if prefix.is_empty() { name.as_str().to_owned() } else { format!("{prefix}.{}", name.as_str()) };
            self.walk_value(value, &path, depth + 1, out);
        }
    }

    fn walk_value(&self, value: RawBsonRef<'_>, path: &str, depth: usize, out: &mut Vec<RawDocumentBuf>) {
        match value {
            RawBsonRef::Document(d) => {
                // A subtree the index may hold only in part: keep walking.
                if self.covers(path) {
                    out.push(key(path, value));
                }
                self.walk_document(d, path, depth, out);
            }
            RawBsonRef::Array(items) => {
                if self.covers(path) {
                    out.push(key(path, value));
                }
                for item in items.into_iter().flatten() {
                    match item {
                        RawBsonRef::Document(d) => self.walk_document(d, path, depth + 1, out),
                        other => {
                            if self.covers(path) {
                                out.push(key(path, other));
                            }
                        }
                    }
                }
            }
            other => {
                if self.covers(path) {
                    out.push(key(path, other));
                }
            }
        }
    }
}

/// A wildcard index key: `{p: path, v: value}`.
pub fn key(path: &str, value: RawBsonRef<'_>) -> RawDocumentBuf {
    let mut doc = RawDocumentBuf::new();
    doc.append(bson::raw::cstr!("p"), path);
    doc.append(bson::raw::cstr!("v"), value);
    doc
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::filter::Filter;
    use bson::rawdoc;
    use std::cmp::Ordering;

    fn index(key: &str, projection: Option<bson::RawDocumentBuf>) -> WildcardIndex {
        WildcardIndex::new(key, projection.as_deref()).unwrap().unwrap()
    }

    #[test]
    fn covered_paths() {
        let all = index("$**", None);
        assert!(all.covers("a") && all.covers("a.b") && !all.covers("_id"));
        let sub = index("a.$**", None);
        assert!(sub.covers("a.b") && sub.covers("a") && !sub.covers("ab") && !sub.covers("b"));
        let inc = index("$**", Some(rawdoc! { "a.b": 1, "c": true }));
        assert!(inc.covers("a.b.x") && inc.covers("c") && !inc.covers("a") && !inc.covers("d"));
        let exc = index("$**", Some(rawdoc! { "a": 0 }));
        assert!(!exc.covers("a.b") && exc.covers("b") && !exc.covers("_id"));
        assert!(WildcardIndex::new("$**", Some(&rawdoc! { "a": 1, "b": 0 })).is_err());
        assert!(WildcardIndex::new("a.$**", Some(&rawdoc! { "a": 1 })).is_err());
        assert_eq!(WildcardIndex::new("a", None).unwrap(), None);
    }

    /// Every equality match on a covered path has the key {p, v}.
    #[test]
    fn every_equality_match_has_a_key() {
        let all = index("$**", None);
        let docs = [
            rawdoc! { "a": [1, { "b": 2 }, [3]], "c": { "d": [4, 5] } },
            rawdoc! { "a": { "b": [{ "c": 6 }] }, "e": "x" },
        ];
        let probes: Vec<(&str, bson::Bson)> = vec![
            ("a", 1.into()),
            ("a.b", 2.into()),
            ("a", bson::bson!([3])),
            ("c.d", 4.into()),
            ("c.d", bson::bson!([4, 5])),
            ("a.b.c", 6.into()),
            ("e", "x".into()),
            ("c", bson::bson!({ "d": [4, 5] })),
        ];
        let mut matched = 0;
        for doc in &docs {
            let keys = all.keys(doc);
            for (path, value) in &probes {
                let filter = bson::RawDocumentBuf::try_from(&bson::doc! { *path: { "$eq": value.clone() } }).unwrap();
                if !Filter::parse(&filter).unwrap().matches(doc).unwrap() {
                    continue;
                }
                matched += 1;
                let raw = bson::RawBson::try_from(value.clone()).unwrap();
                let wanted = key(path, raw.as_raw_bson_ref());
                assert!(
                    keys.iter().any(|k| documentdb_bson::compare_documents(k, &wanted) == Ordering::Equal),
                    "{doc:?} matches {path}: {value:?}; keys {keys:?}"
                );
            }
        }
        assert!(matched >= 8, "{matched}");
    }
}
