//! `$graphLookup`: the stage's arguments and the breadth-first search MongoDB runs per
//! document. The search asks its caller for the foreign documents whose `connectToField`
//! matches a set of values (the extension runs that as one indexed query per depth), keeps
//! each document once at the smallest depth it was reached, and stops at `maxDepth` or when
//! a level finds nothing new. Values that are arrays contribute their elements, as
//! `connectToField: {$in: values}` matches them.

use bson::{Bson, RawArrayBuf, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::{DocDbError, DocDbResult, ErrorCode};

use crate::expr::{ExprContext, Expression};
use crate::spec_error::{invalid_bson, loc};

/// MongoDB's limit on the documents one `$graphLookup` search holds (100 MiB).
const MAX_SEARCH_BYTES: usize = 100 * 1024 * 1024;

/// A parsed `$graphLookup` stage.
#[derive(Debug, Clone)]
pub struct GraphLookup {
    pub from: String,
    pub start_with: Expression,
    pub connect_from_field: String,
    pub connect_to_field: String,
    pub as_field: String,
    pub max_depth: Option<i64>,
    pub depth_field: Option<String>,
    /// `restrictSearchWithMatch`: a filter every document of the search must match.
    pub restrict_search_with_match: Option<RawDocumentBuf>,
}

fn path_argument(name: &str, value: RawBsonRef<'_>) -> DocDbResult<String> {
    match value {
        RawBsonRef::String(s) if !s.is_empty() && !s.starts_with('$') => {
            crate::expr::split_path(s)?;
            Ok(s.to_owned())
        }
        RawBsonRef::String(s) => Err(loc(16410, format!("FieldPath field names may not start with '$'. Given: {s}"))),
        other => Err(loc(40103, format!("expected string as argument for {name}, found: {:?}", other.element_type()))),
    }
}

impl GraphLookup {
    /// Parses the stage's value with MongoDB's errors (40103 wrong types, 40104 unknown
    /// arguments, 40105 missing ones, 40101 negative maxDepth, 40185 restrictSearchWithMatch
    /// not an object).
    pub fn parse(spec: RawBsonRef<'_>, ctx: &ExprContext) -> DocDbResult<GraphLookup> {
        let RawBsonRef::Document(spec) = spec else {
            return Err(loc(40327, "the $graphLookup specification must be an object"));
        };
        let (mut from, mut start_with, mut connect_from, mut connect_to, mut as_field) = (None, None, None, None, None);
        let (mut max_depth, mut depth_field, mut restrict) = (None, None, None);
        for element in spec {
            let (key, value) = element.map_err(invalid_bson)?;
            match key.as_str() {
                "from" => match value {
                    RawBsonRef::String(s) if !s.is_empty() => from = Some(s.to_owned()),
                    _ => return Err(loc(40103, "expected string as argument for from")),
                },
                "startWith" => start_with = Some(Expression::parse(value, ctx)?),
                "connectFromField" => connect_from = Some(path_argument("connectFromField", value)?),
                "connectToField" => connect_to = Some(path_argument("connectToField", value)?),
                "as" => as_field = Some(path_argument("as", value)?),
                "depthField" => depth_field = Some(path_argument("depthField", value)?),
                "maxDepth" => {
                    let n = match value {
                        RawBsonRef::Int32(i) => Some(i64::from(i)),
                        RawBsonRef::Int64(i) => Some(i),
                        RawBsonRef::Double(d) if d.fract() == 0.0 && d.abs() < 9.0e15 => Some(d as i64),
                        RawBsonRef::Decimal128(d) => {
                            d.to_string().parse::<f64>().ok().filter(|f| f.fract() == 0.0).map(|f| f as i64)
                        }
                        _ => None,
                    };
                    let n = n.ok_or_else(|| loc(40100, "maxDepth must be an integral value"))?;
                    if n < 0 {
                        return Err(loc(40101, format!("maxDepth requires a nonnegative argument, found: {n}")));
                    }
                    max_depth = Some(n);
                }
                "restrictSearchWithMatch" => match value {
                    RawBsonRef::Document(d) => {
                        for element in d {
                            let (k, _) = element.map_err(invalid_bson)?;
                            if matches!(k.as_str(), "$text" | "$where" | "$near" | "$nearSphere" | "$expr") {
                                return Err(DocDbError::new(
                                    ErrorCode::BadValue,
                                    format!("{} is not allowed in this context", k.as_str()),
                                ));
                            }
                        }
                        crate::filter::Filter::parse(d)?;
                        restrict = Some(d.to_owned());
                    }
                    other => {
                        return Err(loc(
                            40185,
                            format!("restrictSearchWithMatch must be an object, found {:?}", other.element_type()),
                        ))
                    }
                },
                other => return Err(loc(40104, format!("Unknown argument to $graphLookup: {other}"))),
            }
        }
        let missing = |name: &str| loc(40105, format!("$graphLookup requires '{name}' to be specified"));
        Ok(GraphLookup {
            from: from.ok_or_else(|| missing("from"))?,
            start_with: start_with.ok_or_else(|| missing("startWith"))?,
            connect_from_field: connect_from.ok_or_else(|| missing("connectFromField"))?,
            connect_to_field: connect_to.ok_or_else(|| missing("connectToField"))?,
            as_field: as_field.ok_or_else(|| missing("as"))?,
            max_depth,
            depth_field,
            restrict_search_with_match: restrict,
        })
    }

    /// The search from one document: `fetch(values)` returns the foreign documents whose
    /// `connectToField` matches any of `values` (and `restrictSearchWithMatch`). Returns the
    /// documents found, each once, with `depthField` set (as a long) when asked for.
    pub fn search(
        &self,
        doc: &RawDocument,
        mut fetch: impl FnMut(&[Bson]) -> DocDbResult<Vec<RawDocumentBuf>>,
    ) -> DocDbResult<RawArrayBuf> {
        let mut frontier = Vec::new();
        add_values(&mut frontier, self.start_with.evaluate(doc)?.unwrap_or(Bson::Null));
        let mut queried: Vec<Bson> = Vec::new();
        let mut seen_ids: std::collections::HashSet<Vec<u8>> = std::collections::HashSet::new();
        let mut found = RawArrayBuf::new();
        let mut held = 0usize;
        let mut depth: i64 = 0;
        while !frontier.is_empty() {
            // A value already looked for finds nothing new.
            frontier.retain(|v| !contains(&queried, v));
            if frontier.is_empty() {
                break;
            }
            queried.extend(frontier.iter().cloned());
            let mut next = Vec::new();
            for matched in fetch(&frontier)? {
                let id = crate::document::document_id(&matched)
                    .map(|id| crate::document::single_value_document(id).into_bytes())
                    .unwrap_or_default();
                if !seen_ids.insert(id) {
                    continue;
                }
                held += matched.as_bytes().len();
                if held > MAX_SEARCH_BYTES {
                    return Err(loc(
                        5558702,
                        "$graphLookup reached its memory limit of 100 MiB; use maxDepth or restrictSearchWithMatch",
                    ));
                }
                for value in crate::distinct::values_at(&matched, &self.connect_from_field) {
                    let value = Bson::try_from(value).map_err(invalid_bson)?;
                    if !contains(&next, &value) {
                        next.push(value);
                    }
                }
                let with_depth = match &self.depth_field {
                    Some(field) => crate::projection::Projection::set_value(&matched, field, RawBsonRef::Int64(depth))?,
                    None => matched,
                };
                found.push(with_depth.as_ref());
            }
            if self.max_depth.is_some_and(|max| depth >= max) {
                break;
            }
            depth += 1;
            frontier = next;
        }
        Ok(found)
    }
}

/// Adds a start value: an array's elements, or the value.
fn add_values(out: &mut Vec<Bson>, value: Bson) {
    match value {
        Bson::Array(items) => {
            for item in items {
                if !contains(out, &item) {
                    out.push(item);
                }
            }
        }
        other => {
            if !contains(out, &other) {
                out.push(other);
            }
        }
    }
}

fn contains(values: &[Bson], value: &Bson) -> bool {
    crate::expr::value::contains(values, value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{bson, doc, rawdoc};

    fn parse(spec: bson::Document) -> DocDbResult<GraphLookup> {
        let raw = crate::document::to_raw_document(&spec).unwrap();
        GraphLookup::parse(RawBsonRef::Document(&raw), &ExprContext::default())
    }

    /// The manual's employees example: reportsTo chains, each employee once.
    fn employees() -> Vec<RawDocumentBuf> {
        vec![
            rawdoc! { "_id": 1, "name": "Dev" },
            rawdoc! { "_id": 2, "name": "Eliot", "reportsTo": "Dev" },
            rawdoc! { "_id": 3, "name": "Ron", "reportsTo": "Eliot" },
            rawdoc! { "_id": 4, "name": "Andrew", "reportsTo": "Eliot" },
            rawdoc! { "_id": 5, "name": "Asya", "reportsTo": "Ron" },
            rawdoc! { "_id": 6, "name": "Dan", "reportsTo": "Andrew" },
        ]
    }

    fn fetch_from<'a>(
        docs: &'a [RawDocumentBuf],
        field: &'a str,
    ) -> impl FnMut(&[Bson]) -> DocDbResult<Vec<RawDocumentBuf>> + 'a {
        move |values: &[Bson]| {
            Ok(docs
                .iter()
                .filter(|d| {
                    let v = d.get(field).ok().flatten().map(|v| Bson::try_from(v).unwrap()).unwrap_or(Bson::Null);
                    crate::expr::value::contains(values, &v)
                })
                .cloned()
                .collect())
        }
    }

    #[test]
    fn reports_hierarchy_with_depth() {
        let g = parse(doc! {
            "from": "employees", "startWith": "$reportsTo", "connectFromField": "reportsTo",
            "connectToField": "name", "as": "reportingHierarchy", "depthField": "d"
        })
        .unwrap();
        let docs = employees();
        let found = g.search(&docs[5], fetch_from(&docs, "name")).unwrap();
        let names: Vec<(String, i64)> = found
            .into_iter()
            .map(|d| {
                let d = d.unwrap().as_document().unwrap().to_owned();
                (d.get_str("name").unwrap().to_owned(), d.get_i64("d").unwrap())
            })
            .collect();
        assert_eq!(names, vec![("Andrew".to_owned(), 0), ("Eliot".to_owned(), 1), ("Dev".to_owned(), 2)]);
    }

    #[test]
    fn max_depth_and_cycles() {
        let docs = vec![rawdoc! { "_id": 1, "n": "a", "next": "b" }, rawdoc! { "_id": 2, "n": "b", "next": "a" }];
        let g =
            parse(doc! { "from": "x", "startWith": "a", "connectFromField": "next", "connectToField": "n", "as": "o" })
                .unwrap();
        assert_eq!(g.search(&rawdoc! {}, fetch_from(&docs, "n")).unwrap().into_iter().count(), 2);
        let g = parse(doc! {
            "from": "x", "startWith": "a", "connectFromField": "next", "connectToField": "n", "as": "o", "maxDepth": 0
        })
        .unwrap();
        assert_eq!(g.search(&rawdoc! {}, fetch_from(&docs, "n")).unwrap().into_iter().count(), 1);
    }

    #[test]
    fn parse_errors() {
        let code = |spec: bson::Document| parse(spec).unwrap_err().code.code();
        let base = doc! { "from": "x", "startWith": "$a", "connectFromField": "b", "connectToField": "c", "as": "o" };
        let with = |k: &str, v: Bson| {
            let mut d = base.clone();
            d.insert(k, v);
            d
        };
        assert_eq!(code(with("zz", bson!(1))), 40104);
        assert_eq!(code(with("maxDepth", bson!(-1))), 40101);
        assert_eq!(code(with("maxDepth", bson!(1.5))), 40100);
        assert_eq!(code(with("restrictSearchWithMatch", bson!(1))), 40185);
        assert_eq!(code(with("connectToField", bson!(1))), 40103);
        let mut missing = base.clone();
        missing.remove("as");
        assert_eq!(code(missing), 40105);
    }
}
