//! `$lookup` with `localField` / `foreignField` (MongoDB's equality join): the stage's
//! arguments, the foreign-side condition for one local document, and how the matches are
//! set into it. The join itself is SQL (a correlated subquery the foreign collection's
//! indexes serve); see the extension's aggregate translator.
//!
//! MongoDB's rules: the local values are those at `localField` with arrays along the path
//! traversed and an array at its end contributing its elements (as `distinct` collects
//! them); a missing or empty local value is `null`. A foreign document matches when its
//! `foreignField` equals any local value with query equality (`{foreignField: {$in:
//! values}}`: arrays on the foreign side match by element, `null` matches missing). The
//! matches become an array at `as` (a dotted path sets a nested field, as `$addFields`).

use bson::{rawdoc, RawArrayBuf, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::{DocDbError, DocDbResult, ErrorCode};

use crate::projection::Projection;

/// A parsed `$lookup` of the equality form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lookup {
    pub from: String,
    pub local_field: String,
    pub foreign_field: String,
    pub as_field: String,
}

fn parse_error(msg: impl Into<String>) -> DocDbError {
    DocDbError::new(ErrorCode::FailedToParse, msg)
}

impl Lookup {
    /// Parses the stage's value with mongod's messages (all FailedToParse). The
    /// `pipeline`/`let` forms are refused as not implemented yet.
    pub fn parse(spec: RawBsonRef<'_>) -> DocDbResult<Lookup> {
        let RawBsonRef::Document(spec) = spec else {
            return Err(parse_error("the $lookup specification must be an Object"));
        };
        let (mut from, mut local, mut foreign, mut as_field) = (None, None, None, None);
        for element in spec {
            let (key, value) = element.map_err(|e| DocDbError::new(ErrorCode::InvalidBSON, e.to_string()))?;
            let name = key.as_str();
            if matches!(name, "pipeline" | "let") {
                return Err(DocDbError::new(
                    ErrorCode::NotImplemented,
                    format!("$lookup with '{name}' is not supported yet; use localField and foreignField"),
                ));
            }
            let RawBsonRef::String(text) = value else {
                return Err(parse_error(format!(
                    "$lookup argument '{name}' must be a string, found {:?}",
                    value.element_type()
                )));
            };
            match name {
                "from" => from = Some(text),
                "localField" => local = Some(text),
                "foreignField" => foreign = Some(text),
                "as" => as_field = Some(text),
                other => return Err(parse_error(format!("unknown argument to $lookup: {other}"))),
            }
        }
        let as_field =
            as_field.filter(|a| !a.is_empty()).ok_or_else(|| parse_error("must specify 'as' field for a $lookup"))?;
        let (Some(local), Some(foreign)) = (local.filter(|l| !l.is_empty()), foreign.filter(|f| !f.is_empty())) else {
            return Err(parse_error(
                "$lookup requires either 'pipeline' or both 'localField' and 'foreignField' to be specified",
            ));
        };
        let from = from.ok_or_else(|| parse_error("$lookup requires a 'from' collection"))?;
        for path in [local, foreign, as_field] {
            crate::expr::split_path(path)?;
        }
        Ok(Lookup {
            from: from.to_owned(),
            local_field: local.to_owned(),
            foreign_field: foreign.to_owned(),
            as_field: as_field.to_owned(),
        })
    }
}

/// `{foreignField: [local values]}`: the `$in` operand a foreign document must match for
/// the local document `doc`.
pub fn foreign_condition(doc: &RawDocument, local_field: &str, foreign_field: &str) -> DocDbResult<RawDocumentBuf> {
    let mut values = RawArrayBuf::new();
    let found = crate::distinct::values_at(doc, local_field);
    if found.is_empty() {
        values.push(RawBsonRef::Null);
    }
    for value in found {
        values.push(value);
    }
    let mut operand = RawDocumentBuf::new();
    let key: &bson::raw::CStr =
        foreign_field.try_into().map_err(|_| parse_error("field names cannot contain the null character"))?;
    operand.append(key, values);
    Ok(operand)
}

/// The index keys (`{"": value}`, as the foreign index's sort keys compare) whose equality
/// finds every foreign document `doc` can match: one per local value (`null` when none).
/// None when a value is an array or a regex, which `$in` matches otherwise than by equality
/// of the sort key (the join then reads the foreign collection without the index).
pub fn local_keys(doc: &RawDocument, local_field: &str) -> Option<Vec<RawDocumentBuf>> {
    let values = crate::distinct::values_at(doc, local_field);
    if values.is_empty() {
        return Some(vec![crate::document::single_value_document(RawBsonRef::Null)]);
    }
    values
        .into_iter()
        .map(|v| match v {
            RawBsonRef::Array(_) | RawBsonRef::RegularExpression(_) => None,
            v => Some(crate::document::single_value_document(v)),
        })
        .collect()
}

/// `doc` with `as_field` set to the matched documents (`matches` is the `{"": [...]}` the
/// SQL array aggregate built, None when nothing matched).
pub fn set_matches(doc: &RawDocument, as_field: &str, matches: Option<&RawDocument>) -> DocDbResult<RawDocumentBuf> {
    let array = match matches.and_then(|m| m.iter().next()) {
        Some(Ok((_, RawBsonRef::Array(a)))) => a.to_owned(),
        _ => RawArrayBuf::new(),
    };
    let mut spec = RawDocumentBuf::new();
    let key: &bson::raw::CStr =
        as_field.try_into().map_err(|_| parse_error("field names cannot contain the null character"))?;
    spec.append(key, rawdoc! { "$literal": array });
    Projection::parse_add_fields(&spec)?.apply(doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(r: DocDbResult<Lookup>) -> i32 {
        r.err().map_or(0, |e| e.code.code())
    }

    #[test]
    fn parses_the_equality_form() {
        let spec = rawdoc! { "from": "b", "localField": "x", "foreignField": "y", "as": "out" };
        let l = Lookup::parse(RawBsonRef::Document(&spec)).unwrap();
        assert_eq!(
            (l.from.as_str(), l.local_field.as_str(), l.foreign_field.as_str(), l.as_field.as_str()),
            ("b", "x", "y", "out")
        );
        let check = |spec: RawDocumentBuf| code(Lookup::parse(RawBsonRef::Document(&spec)));
        assert_eq!(code(Lookup::parse(RawBsonRef::Int32(1))), 9);
        assert_eq!(check(rawdoc! { "from": "b", "localField": "x", "foreignField": "y" }), 9);
        assert_eq!(check(rawdoc! { "from": "b", "localField": "x", "as": "o" }), 9);
        assert_eq!(check(rawdoc! { "from": "b", "localField": 1, "foreignField": "y", "as": "o" }), 9);
        assert_eq!(check(rawdoc! { "from": "b", "localField": "x", "foreignField": "y", "as": "o", "z": "1" }), 9);
        assert_eq!(check(rawdoc! { "from": "b", "pipeline": [], "as": "o" }), 238);
    }

    /// Manual ($lookup equality match): array local values match by element, missing is null.
    #[test]
    fn foreign_conditions() {
        let doc = rawdoc! { "a": [1, 2], "b": [{ "c": 3 }, { "c": [4, 5] }] };
        assert_eq!(foreign_condition(&doc, "a", "k").unwrap(), rawdoc! { "k": [1, 2] });
        assert_eq!(foreign_condition(&doc, "b.c", "k").unwrap(), rawdoc! { "k": [3, 4, 5] });
        assert_eq!(foreign_condition(&doc, "zz", "k").unwrap(), rawdoc! { "k": [null] });
    }

    #[test]
    fn local_keys_for_the_index() {
        let doc = rawdoc! { "a": ["x", 2] };
        let keys = local_keys(&doc, "a").unwrap();
        assert_eq!(keys, vec![rawdoc! { "": "x" }, rawdoc! { "": 2 }]);
        assert_eq!(local_keys(&doc, "missing").unwrap(), vec![rawdoc! { "": null }]);
        assert!(local_keys(&rawdoc! { "n": [[1]] }, "n").is_none(), "a nested array");
        let regex =
            bson::Regex { pattern: "^x".to_string().try_into().unwrap(), options: String::new().try_into().unwrap() };
        assert!(local_keys(&rawdoc! { "r": regex }, "r").is_none());
    }

    #[test]
    fn matches_are_set_at_as() {
        let doc = rawdoc! { "_id": 1, "out": "old", "n": { "m": 1 } };
        let matches = rawdoc! { "": [{ "_id": 7 }] };
        assert_eq!(
            set_matches(&doc, "out", Some(&matches)).unwrap(),
            rawdoc! { "_id": 1, "out": [{ "_id": 7 }], "n": { "m": 1 } }
        );
        assert_eq!(
            set_matches(&doc, "n.list", None).unwrap(),
            rawdoc! { "_id": 1, "out": "old", "n": { "m": 1, "list": [] } }
        );
    }
}
