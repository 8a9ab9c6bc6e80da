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

use bson::{RawArrayBuf, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::{DocDbError, DocDbResult, ErrorCode};

use crate::projection::Projection;
use crate::spec_error::invalid_bson;

/// A parsed `$lookup`: the equality form (`localField`/`foreignField`), the pipeline form
/// (`let` + `pipeline`), or both (MongoDB 5.0: the pipeline runs on the equality matches).
#[derive(Debug, Clone, PartialEq)]
pub struct Lookup {
    /// The foreign collection; None when the pipeline starts with `$documents` (6.0+).
    pub from: Option<String>,
    /// (localField, foreignField).
    pub equality: Option<(String, String)>,
    /// `let`: variables of the pipeline, expressions over the local document.
    pub vars: Option<RawDocumentBuf>,
    pub pipeline: Option<Vec<RawDocumentBuf>>,
    pub as_field: String,
}

fn parse_error(msg: impl Into<String>) -> DocDbError {
    DocDbError::new(ErrorCode::FailedToParse, msg)
}

impl Lookup {
    /// Parses the stage's value with mongod's messages (FailedToParse unless noted).
    pub fn parse(spec: RawBsonRef<'_>) -> DocDbResult<Lookup> {
        let RawBsonRef::Document(spec) = spec else {
            return Err(parse_error("the $lookup specification must be an Object"));
        };
        let (mut from, mut local, mut foreign, mut as_field) = (None, None, None, None);
        let (mut vars, mut pipeline) = (None, None);
        for element in spec {
            let (key, value) = element.map_err(invalid_bson)?;
            let name = key.as_str();
            match (name, value) {
                ("let", RawBsonRef::Document(d)) => {
                    for element in d {
                        let (var, _) = element.map_err(invalid_bson)?;
                        crate::expr::validate_var_name_for_write(var.as_str())?;
                    }
                    vars = Some(d.to_owned());
                    continue;
                }
                ("let", other) => {
                    return Err(parse_error(format!(
                        "$lookup argument 'let' must be an object, is type {:?}",
                        other.element_type()
                    )))
                }
                ("pipeline", RawBsonRef::Array(items)) => {
                    let mut stages = Vec::new();
                    for item in items {
                        match item.map_err(invalid_bson)? {
                            RawBsonRef::Document(d) => stages.push(d.to_owned()),
                            other => {
                                return Err(parse_error(format!(
                                    "$lookup argument 'pipeline' must be an array of objects, found {:?}",
                                    other.element_type()
                                )))
                            }
                        }
                    }
                    pipeline = Some(stages);
                    continue;
                }
                ("pipeline", other) => {
                    return Err(parse_error(format!(
                        "$lookup argument 'pipeline' must be an array, is type {:?}",
                        other.element_type()
                    )))
                }
                _ => {}
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
        let equality = match (local, foreign) {
            (Some(l), Some(f)) if !l.is_empty() && !f.is_empty() => {
                crate::expr::split_path(l)?;
                crate::expr::split_path(f)?;
                Some((l.to_owned(), f.to_owned()))
            }
            (None, None) if pipeline.is_some() => None,
            (Some(_), None) | (None, Some(_)) if pipeline.is_some() => {
                return Err(parse_error(
                    "$lookup requires both or neither of 'localField' and 'foreignField' to be specified",
                ))
            }
            _ => {
                return Err(parse_error(
                    "$lookup requires either 'pipeline' or both 'localField' and 'foreignField' to be specified",
                ))
            }
        };
        if vars.is_some() && pipeline.is_none() {
            return Err(parse_error("$lookup with 'let' must also specify 'pipeline'"));
        }
        for stage in pipeline.iter().flatten() {
            let name = match stage.iter().next() {
                Some(Ok((key, _))) => key.as_str(),
                _ => continue,
            };
            if matches!(name, "$out" | "$merge") {
                return Err(DocDbError::new(
                    ErrorCode::new(51047),
                    format!("{name} is not allowed within a $lookup's sub-pipeline"),
                ));
            }
        }
        let starts_with_documents = pipeline
            .as_ref()
            .and_then(|p| p.first())
            .is_some_and(|s| matches!(s.iter().next(), Some(Ok((k, _))) if k.as_str() == "$documents"));
        if from.is_none() && !starts_with_documents {
            return Err(parse_error("$lookup requires a 'from' collection"));
        }
        crate::expr::split_path(as_field)?;
        Ok(Lookup { from: from.map(str::to_owned), equality, vars, pipeline, as_field: as_field.to_owned() })
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
    let mut keys: Vec<RawBsonRef<'_>> = Vec::with_capacity(values.len());
    for v in values {
        if matches!(v, RawBsonRef::Array(_) | RawBsonRef::RegularExpression(_)) {
            return None;
        }
        // Each foreign document once: equal values (1 and 1.0) give one key.
        if !keys.iter().any(|k| documentdb_bson::compare::compare_values(*k, v) == std::cmp::Ordering::Equal) {
            keys.push(v);
        }
    }
    Some(keys.into_iter().map(crate::document::single_value_document).collect())
}

/// The variables of a `$lookup` pipeline for one local document: the command's variables
/// (`outer`) and the stage's `let` expressions evaluated over the document (`$$ROOT` is the
/// local document), as one document of values.
pub struct LetVariables {
    outer: bson::Document,
    vars: Vec<(String, crate::expr::Expression)>,
}

impl LetVariables {
    pub fn parse(spec: &RawDocument, outer: Option<&RawDocument>) -> DocDbResult<LetVariables> {
        let outer = match outer {
            Some(o) => bson::Document::try_from(o).map_err(invalid_bson)?,
            None => bson::Document::new(),
        };
        let ctx = crate::expr::ExprContext { variables: outer.clone() };
        let mut vars = Vec::new();
        for element in spec {
            let (name, value) = element.map_err(invalid_bson)?;
            vars.push((name.as_str().to_owned(), crate::expr::Expression::parse(value, &ctx)?));
        }
        Ok(LetVariables { outer, vars })
    }

    pub fn evaluate(&self, doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
        let mut out = self.outer.clone();
        for (name, expr) in &self.vars {
            out.insert(name.clone(), expr.evaluate(doc)?.unwrap_or(bson::Bson::Null));
        }
        crate::document::to_raw_document(&out)
    }
}

/// `$expr` equalities `{$eq: ["$path", "$$var"]}` (either order) among the top-level
/// conjuncts of a `$match` filter, as (path, variable): a correlated `$lookup` pipeline
/// restricts the foreign collection's index on `path` to the variable's value with them
/// (a superset of the matches; the filter itself still decides).
pub fn expr_equalities(filter: &RawDocument) -> Vec<(String, String)> {
    fn from_expr(expr: RawBsonRef<'_>, out: &mut Vec<(String, String)>) {
        let RawBsonRef::Document(d) = expr else { return };
        let mut fields = d.iter().flatten();
        let (Some((op, arg)), None) = (fields.next(), fields.next()) else { return };
        match (op.as_str(), arg) {
            ("$and", RawBsonRef::Array(items)) => items.into_iter().flatten().for_each(|e| from_expr(e, out)),
            ("$eq", RawBsonRef::Array(items)) => {
                let operands: Vec<RawBsonRef<'_>> = items.into_iter().flatten().collect();
                if let [RawBsonRef::String(a), RawBsonRef::String(b)] = operands[..] {
                    let pair = match (a.strip_prefix("$$"), b.strip_prefix("$$")) {
                        (None, Some(var)) if a.starts_with('$') => Some((&a[1..], var)),
                        (Some(var), None) if b.starts_with('$') => Some((&b[1..], var)),
                        _ => None,
                    };
                    if let Some((path, var)) = pair.filter(|(_, v)| !v.contains('.')) {
                        out.push((path.to_owned(), var.to_owned()));
                    }
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    for (key, value) in filter.iter().flatten() {
        match (key.as_str(), value) {
            ("$expr", e) => from_expr(e, &mut out),
            ("$and", RawBsonRef::Array(items)) => {
                for item in items.into_iter().flatten() {
                    if let RawBsonRef::Document(d) = item {
                        out.extend(expr_equalities(d));
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// The one key of [`local_keys`] when there is exactly one (a scalar local value or none),
/// without building the list.
pub fn local_key(doc: &RawDocument, local_field: &str) -> Option<RawDocumentBuf> {
    if !local_field.contains('.') {
        // The common case, read in place: a top-level scalar (or missing: null).
        return match documentdb_bson::raw_reader::get(doc, local_field) {
            None => Some(crate::document::single_value_document(RawBsonRef::Null)),
            Some(RawBsonRef::Array(_) | RawBsonRef::RegularExpression(_)) => None,
            Some(v) => Some(crate::document::single_value_document(v)),
        };
    }
    match local_keys(doc, local_field) {
        Some(mut keys) if keys.len() == 1 => keys.pop(),
        _ => None,
    }
}

/// Whether [`local_key`] finds exactly one key, without building it.
pub fn has_one_key(doc: &RawDocument, local_field: &str) -> bool {
    if !local_field.contains('.') {
        return !matches!(
            documentdb_bson::raw_reader::get(doc, local_field),
            Some(RawBsonRef::Array(_) | RawBsonRef::RegularExpression(_))
        );
    }
    local_key(doc, local_field).is_some()
}

/// `doc` with `as_field` set to the matched documents (`matches` is the `{"": [...]}` the
/// SQL array aggregate built, None when nothing matched).
pub fn set_matches(doc: &RawDocument, as_field: &str, matches: Option<&RawDocument>) -> DocDbResult<RawDocumentBuf> {
    let array = match matches.and_then(|m| m.iter().next()) {
        Some(Ok((_, RawBsonRef::Array(a)))) => a.to_owned(),
        _ => RawArrayBuf::new(),
    };
    Projection::set_value(doc, as_field, RawBsonRef::Array(&array))
}

/// `$lookup`'s output when at most one foreign document can match (`foreignField` `_id`):
/// `doc` with `as_field` set to `[matched]`, or to `[]` without a match.
pub fn set_single_match(
    doc: &RawDocument,
    as_field: &str,
    matched: Option<&RawDocument>,
) -> DocDbResult<RawDocumentBuf> {
    let mut array = RawArrayBuf::new();
    if let Some(matched) = matched {
        array.push(matched);
    }
    Projection::set_value(doc, as_field, RawBsonRef::Array(&array))
}

/// Which document of a `$lookup` + `$unwind` row an expression reads: the local document,
/// or the one foreign document the row holds at `as`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinSide {
    Local,
    Foreign,
}

/// For an aggregation expression over a `$lookup` + `$unwind` row (the local document with
/// `as_field`, a plain field name, set to one foreign document): the side it reads and the
/// same expression over that side's document alone (`$as.x` paths become `$x`). A constant
/// reads the local side. `None` when the expression reads both sides, the whole `as`
/// document, the whole row or a variable (`$$...`), or holds a `$literal` (whose strings
/// are not paths): such expressions need the joined document.
pub fn expression_side(expr: RawBsonRef<'_>, as_field: &str) -> Option<(JoinSide, bson::RawBson)> {
    fn sides(value: RawBsonRef<'_>, as_field: &str, local: &mut bool, foreign: &mut bool) -> Option<()> {
        match value {
            RawBsonRef::String(s) if s.starts_with("$$") => None,
            RawBsonRef::String(s) if s.starts_with('$') => {
                let path = &s[1..];
                match path.split('.').next() {
                    Some(first) if first == as_field => {
                        if path.len() == as_field.len() {
                            return None;
                        }
                        *foreign = true;
                    }
                    _ => *local = true,
                }
                Some(())
            }
            RawBsonRef::Document(d) => {
                for element in d {
                    let (key, v) = element.ok()?;
                    if key.as_str() == "$literal" {
                        return None;
                    }
                    sides(v, as_field, local, foreign)?;
                }
                Some(())
            }
            RawBsonRef::Array(a) => {
                for v in a {
                    sides(v.ok()?, as_field, local, foreign)?;
                }
                Some(())
            }
            _ => Some(()),
        }
    }
    fn strip(value: RawBsonRef<'_>, prefix_len: usize) -> Option<bson::RawBson> {
        Some(match value {
            RawBsonRef::String(s) if s.starts_with('$') => bson::RawBson::String(format!("${}", s.get(prefix_len..)?)),
            RawBsonRef::Document(d) => {
                let mut out = RawDocumentBuf::new();
                for element in d {
                    let (key, v) = element.ok()?;
                    out.append(key, strip(v, prefix_len)?);
                }
                bson::RawBson::Document(out)
            }
            RawBsonRef::Array(a) => {
                let mut out = RawArrayBuf::new();
                for v in a {
                    out.push(strip(v.ok()?, prefix_len)?);
                }
                bson::RawBson::Array(out)
            }
            other => bson::RawBson::from(other),
        })
    }
    if as_field.is_empty() || as_field.contains('.') {
        return None;
    }
    let (mut local, mut foreign) = (false, false);
    sides(expr, as_field, &mut local, &mut foreign)?;
    match (local, foreign) {
        (true, true) => None,
        // "$as." is stripped from each path: `$c.region` is `$region` of the foreign document.
        (false, true) => Some((JoinSide::Foreign, strip(expr, as_field.len() + 2)?)),
        _ => Some((JoinSide::Local, bson::RawBson::from(expr))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::rawdoc;

    fn code(r: DocDbResult<Lookup>) -> i32 {
        r.err().map_or(0, |e| e.code.code())
    }

    #[test]
    fn has_one_key_agrees_with_local_key() {
        let docs = [
            rawdoc! { "a": 1 },
            rawdoc! {},
            rawdoc! { "a": [1, 2] },
            rawdoc! { "a": [1] },
            rawdoc! { "a": bson::Regex { pattern: "x".to_string().try_into().unwrap(), options: String::new().try_into().unwrap() } },
            rawdoc! { "a": { "b": 2 } },
            rawdoc! { "a": [{ "b": 2 }, { "b": 2.0 }] },
            rawdoc! { "a": [{ "b": 2 }, { "b": 3 }] },
            rawdoc! { "a": { "b": [[1]] } },
        ];
        for doc in &docs {
            for path in ["a", "a.b"] {
                assert_eq!(has_one_key(doc, path), local_key(doc, path).is_some(), "{doc:?} {path}");
            }
        }
    }

    #[test]
    fn parses_the_equality_form() {
        let spec = rawdoc! { "from": "b", "localField": "x", "foreignField": "y", "as": "out" };
        let l = Lookup::parse(RawBsonRef::Document(&spec)).unwrap();
        assert_eq!(l.from.as_deref(), Some("b"));
        assert_eq!(l.equality, Some(("x".to_owned(), "y".to_owned())));
        assert_eq!(l.as_field, "out");
        let check = |spec: RawDocumentBuf| code(Lookup::parse(RawBsonRef::Document(&spec)));
        assert_eq!(code(Lookup::parse(RawBsonRef::Int32(1))), 9);
        assert_eq!(check(rawdoc! { "from": "b", "localField": "x", "foreignField": "y" }), 9);
        assert_eq!(check(rawdoc! { "from": "b", "localField": "x", "as": "o" }), 9);
        assert_eq!(check(rawdoc! { "from": "b", "localField": 1, "foreignField": "y", "as": "o" }), 9);
        assert_eq!(check(rawdoc! { "from": "b", "localField": "x", "foreignField": "y", "as": "o", "z": "1" }), 9);
    }

    /// Manual ($lookup, correlated subqueries and the concise syntax of 5.0).
    #[test]
    fn parses_the_pipeline_forms() {
        let spec = rawdoc! { "from": "b", "let": { "x": "$a" }, "pipeline": [{ "$match": {} }], "as": "o" };
        let l = Lookup::parse(RawBsonRef::Document(&spec)).unwrap();
        assert!(l.equality.is_none());
        assert_eq!(l.pipeline.as_ref().map(Vec::len), Some(1));
        let spec = rawdoc! { "from": "b", "localField": "x", "foreignField": "y", "pipeline": [], "as": "o" };
        assert!(Lookup::parse(RawBsonRef::Document(&spec)).unwrap().equality.is_some());
        let spec = rawdoc! { "pipeline": [{ "$documents": [] }], "as": "o" };
        assert!(Lookup::parse(RawBsonRef::Document(&spec)).unwrap().from.is_none());
        let check = |spec: RawDocumentBuf| code(Lookup::parse(RawBsonRef::Document(&spec)));
        assert_eq!(check(rawdoc! { "from": "b", "localField": "x", "pipeline": [], "as": "o" }), 9);
        assert_eq!(
            check(rawdoc! { "from": "b", "let": { "x": 1 }, "localField": "x", "foreignField": "y", "as": "o" }),
            9
        );
        assert_eq!(check(rawdoc! { "from": "b", "pipeline": [{ "$out": "c" }], "as": "o" }), 51047);
        assert_eq!(check(rawdoc! { "from": "b", "pipeline": [1], "as": "o" }), 9);
        assert_eq!(check(rawdoc! { "from": "b", "let": { "Bad": 1 }, "pipeline": [], "as": "o" }), 16867);
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
        assert_eq!(local_keys(&rawdoc! { "a": [1, 1.0, 2] }, "a").unwrap(), vec![rawdoc! { "": 1 }, rawdoc! { "": 2 }]);
        assert!(local_keys(&rawdoc! { "n": [[1]] }, "n").is_none(), "a nested array");
        let regex =
            bson::Regex { pattern: "^x".to_string().try_into().unwrap(), options: String::new().try_into().unwrap() };
        assert!(local_keys(&rawdoc! { "r": regex }, "r").is_none());
    }

    #[test]
    fn one_local_key() {
        assert_eq!(local_key(&rawdoc! { "a": 5 }, "a"), Some(rawdoc! { "": 5 }));
        assert_eq!(local_key(&rawdoc! {}, "a"), Some(rawdoc! { "": null }));
        assert_eq!(local_key(&rawdoc! { "a": [1, 2] }, "a"), None);
        assert_eq!(local_key(&rawdoc! { "a": [1] }, "a"), None);
        assert_eq!(local_key(&rawdoc! { "a": { "b": 3 } }, "a.b"), Some(rawdoc! { "": 3 }));
        assert_eq!(local_key(&rawdoc! { "a": [{ "b": 3 }, { "b": 4 }] }, "a.b"), None);
    }

    #[test]
    fn let_variables_are_evaluated_over_the_local_document() {
        let vars =
            LetVariables::parse(&rawdoc! { "item": "$item", "q": { "$add": ["$n", 1] } }, Some(&rawdoc! { "c": 5 }))
                .unwrap();
        assert_eq!(vars.evaluate(&rawdoc! { "item": "x", "n": 1 }).unwrap(), rawdoc! { "c": 5, "item": "x", "q": 2 });
        assert_eq!(vars.evaluate(&rawdoc! {}).unwrap(), rawdoc! { "c": 5, "item": null, "q": null });
    }

    #[test]
    fn expr_equalities_for_the_foreign_index() {
        let filter = rawdoc! { "$expr": { "$and": [
            { "$eq": ["$stock_item", "$$order_item"] },
            { "$gte": ["$instock", "$$order_qty"] },
            { "$eq": ["$$w", "$warehouse"] },
        ] } };
        assert_eq!(
            expr_equalities(&filter),
            vec![("stock_item".to_owned(), "order_item".to_owned()), ("warehouse".to_owned(), "w".to_owned())]
        );
        assert!(expr_equalities(&rawdoc! { "$expr": { "$eq": ["$a", "$b"] } }).is_empty());
        assert!(expr_equalities(&rawdoc! { "$expr": { "$eq": ["$a", "$$v.x"] } }).is_empty());
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
    #[test]
    fn expression_side_reads_one_document_of_the_row() {
        use bson::RawBson;
        let side = |e: RawBson| expression_side(e.as_raw_bson_ref(), "c");
        assert_eq!(
            side(RawBson::String("$c.region".into())),
            Some((JoinSide::Foreign, RawBson::String("$region".into())))
        );
        assert_eq!(side(RawBson::String("$amount".into())), Some((JoinSide::Local, RawBson::String("$amount".into()))));
        assert_eq!(side(RawBson::String("$cx".into())), Some((JoinSide::Local, RawBson::String("$cx".into()))));
        assert_eq!(side(RawBson::Int32(1)), Some((JoinSide::Local, RawBson::Int32(1))));
        let both = rawdoc! { "$multiply": ["$amount", "$c.rate"] };
        assert_eq!(side(RawBson::Document(both)), None);
        let nested = rawdoc! { "r": "$c.region", "t": { "$toUpper": "$c.tier" } };
        assert_eq!(
            side(RawBson::Document(nested)),
            Some((JoinSide::Foreign, RawBson::Document(rawdoc! { "r": "$region", "t": { "$toUpper": "$tier" } })))
        );
        // The whole foreign document, the row, variables and literals need the joined row.
        assert_eq!(side(RawBson::String("$c".into())), None);
        assert_eq!(side(RawBson::String("$$ROOT".into())), None);
        assert_eq!(side(RawBson::Document(rawdoc! { "$literal": "$c.x" })), None);
        // A dotted `as` sets a nested field: not split.
        assert_eq!(expression_side(RawBsonRef::String("$a.b.x"), "a.b"), None);
    }
    #[test]
    fn set_single_match_sets_an_array_of_at_most_one() {
        let doc = rawdoc! { "_id": 1, "c": 5 };
        assert_eq!(
            set_single_match(&doc, "m", Some(&rawdoc! { "_id": 5 })).unwrap(),
            rawdoc! { "_id": 1, "c": 5, "m": [{ "_id": 5 }] }
        );
        assert_eq!(set_single_match(&doc, "n.m", None).unwrap(), rawdoc! { "_id": 1, "c": 5, "n": { "m": [] } });
    }
}
