//! The write stages that end a pipeline, `$out` and `$merge`: their specifications with
//! MongoDB's validation, and the per-document rules of `$merge` (which `on` values a result
//! document must have, and the document a matched target becomes).
//!
//! The extension runs them as one SQL statement over the pipeline's query (`DELETE` +
//! `INSERT ... SELECT` for `$out`, `MERGE` for `$merge`); the functions here are what that
//! statement calls per document.

use bson::{Bson, Document, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::{DocDbError, DocDbResult, ErrorCode};

use crate::document::to_raw_document;
use crate::expr::ExprContext;
use crate::spec_error::{invalid_bson, loc, wrong_type};
use crate::update::Update;

/// Where a write stage writes: a collection, in the pipeline's database unless `db` says.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub db: Option<String>,
    pub coll: String,
}

/// `$out: "coll"` or `$out: {db, coll}` (MongoDB 4.4+). Time-series output is refused.
pub fn parse_out(spec: RawBsonRef<'_>) -> DocDbResult<Target> {
    match spec {
        RawBsonRef::String(coll) => Ok(Target { db: None, coll: coll.to_owned() }),
        RawBsonRef::Document(doc) => {
            if doc.get("timeseries").map_err(invalid_bson)?.is_some() {
                return Err(DocDbError::new(
                    ErrorCode::CommandNotSupported,
                    "$out to a time-series collection is not supported",
                ));
            }
            let (db, coll) = target_fields("$out", doc)?;
            let db = db.ok_or_else(|| loc(40414, "BSON field '$out.db' is missing but a required field"))?;
            Ok(Target { db: Some(db), coll })
        }
        other => {
            Err(loc(16990, format!("$out only supports a string or object argument, not {:?}", other.element_type())))
        }
    }
}

/// What `$merge` does with a result document that matches a target document.
#[derive(Debug, Clone, PartialEq)]
pub enum WhenMatched {
    Replace,
    KeepExisting,
    Merge,
    Fail,
    /// An update pipeline applied to the target document, `$$new` being the result document.
    Pipeline(bson::RawArrayBuf),
}

impl WhenMatched {
    pub fn name(&self) -> &'static str {
        match self {
            WhenMatched::Replace => "replace",
            WhenMatched::KeepExisting => "keepExisting",
            WhenMatched::Merge => "merge",
            WhenMatched::Fail => "fail",
            WhenMatched::Pipeline(_) => "pipeline",
        }
    }
}

/// What `$merge` does with a result document that matches no target document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenNotMatched {
    Insert,
    Discard,
    Fail,
}

impl WhenNotMatched {
    pub fn name(self) -> &'static str {
        match self {
            WhenNotMatched::Insert => "insert",
            WhenNotMatched::Discard => "discard",
            WhenNotMatched::Fail => "fail",
        }
    }
}

/// A parsed `$merge` stage.
#[derive(Debug, Clone, PartialEq)]
pub struct Merge {
    pub target: Target,
    /// The fields identifying a target document; `None` is the default, `_id`.
    pub on: Option<Vec<String>>,
    /// `let` of a pipeline `whenMatched` (expressions over the result document).
    pub vars: Option<Document>,
    pub when_matched: WhenMatched,
    pub when_not_matched: WhenNotMatched,
}

impl Merge {
    /// The `on` fields, `_id` when not given.
    pub fn on_fields(&self) -> Vec<String> {
        self.on.clone().unwrap_or_else(|| vec!["_id".to_owned()])
    }

    /// Does the stage identify target documents by `_id` alone?
    pub fn on_id(&self) -> bool {
        self.on.as_ref().is_none_or(|on| on.len() == 1 && on[0] == "_id")
    }
}

/// The `{db, coll}` form of a write stage's target (`$out`, `$merge.into`; `path` names it
/// in errors): the database if given, and the collection (40414 without one).
fn target_fields(path: &str, doc: &RawDocument) -> DocDbResult<(Option<String>, String)> {
    let (mut db, mut coll) = (None, None);
    for element in doc {
        let (key, value) = element.map_err(invalid_bson)?;
        match (key.as_str(), value) {
            ("db", RawBsonRef::String(s)) => db = Some(s.to_owned()),
            ("coll", RawBsonRef::String(s)) => coll = Some(s.to_owned()),
            ("db" | "coll", other) => {
                return Err(wrong_type(&format!("{path}.{}", key.as_str()), other, "type 'string'"))
            }
            (other, _) => return Err(loc(40415, format!("BSON field '{path}.{other}' is an unknown field."))),
        }
    }
    let coll = coll.ok_or_else(|| loc(40414, format!("BSON field '{path}.coll' is missing but a required field")))?;
    Ok((db, coll))
}

fn parse_target(value: RawBsonRef<'_>) -> DocDbResult<Target> {
    match value {
        RawBsonRef::String(coll) => Ok(Target { db: None, coll: coll.to_owned() }),
        RawBsonRef::Document(doc) => {
            let (db, coll) = target_fields("$merge.into", doc)?;
            Ok(Target { db, coll })
        }
        _ => Err(loc(51178, "$merge 'into' field must be either a string or an object")),
    }
}

fn parse_on(value: RawBsonRef<'_>) -> DocDbResult<Vec<String>> {
    let fields = match value {
        RawBsonRef::String(s) => vec![s.to_owned()],
        RawBsonRef::Array(items) => {
            let mut fields = Vec::new();
            for item in items {
                match item.map_err(invalid_bson)? {
                    RawBsonRef::String(s) => fields.push(s.to_owned()),
                    _ => return Err(loc(51134, "$merge 'on' array elements must be strings")),
                }
            }
            if fields.is_empty() {
                return Err(loc(51187, "If explicitly specifying $merge 'on', must include at least one field"));
            }
            fields
        }
        _ => return Err(loc(51186, "$merge 'on' field must be either a string or an array of strings")),
    };
    for (i, field) in fields.iter().enumerate() {
        if field.is_empty() || field.starts_with('$') || field.split('.').any(str::is_empty) {
            return Err(DocDbError::new(
                ErrorCode::BadValue,
                format!("$merge 'on' field '{field}' is not a valid path"),
            ));
        }
        if fields[..i].contains(field) {
            return Err(loc(31465, format!("Found a duplicate field '{field}'")));
        }
    }
    Ok(fields)
}

fn parse_when_matched(value: RawBsonRef<'_>) -> DocDbResult<WhenMatched> {
    match value {
        RawBsonRef::String(mode) => match mode {
            "replace" => Ok(WhenMatched::Replace),
            "keepExisting" => Ok(WhenMatched::KeepExisting),
            "merge" => Ok(WhenMatched::Merge),
            "fail" => Ok(WhenMatched::Fail),
            other => Err(DocDbError::new(
                ErrorCode::BadValue,
                format!("Enumeration value '{other}' for field '$merge.whenMatched' is not a valid value."),
            )),
        },
        // Validated once `let` is known (`parse_merge`).
        RawBsonRef::Array(stages) => Ok(WhenMatched::Pipeline(stages.to_owned())),
        _ => Err(loc(51191, "$merge 'whenMatched' field must be either a string or an array")),
    }
}

fn parse_when_not_matched(value: RawBsonRef<'_>) -> DocDbResult<WhenNotMatched> {
    match value {
        RawBsonRef::String("insert") => Ok(WhenNotMatched::Insert),
        RawBsonRef::String("discard") => Ok(WhenNotMatched::Discard),
        RawBsonRef::String("fail") => Ok(WhenNotMatched::Fail),
        RawBsonRef::String(other) => Err(DocDbError::new(
            ErrorCode::BadValue,
            format!("Enumeration value '{other}' for field '$merge.whenNotMatched' is not a valid value."),
        )),
        _ => Err(DocDbError::new(
            ErrorCode::TypeMismatch,
            "BSON field '$merge.whenNotMatched' is the wrong type, expected type 'string'",
        )),
    }
}

/// `$merge: "coll"` or `$merge: {into, on, let, whenMatched, whenNotMatched}` (MongoDB 4.2+),
/// with MongoDB's validation: unsupported mode combinations (51181), `let` only with a
/// pipeline (51199), `new` reserved (51273)...
pub fn parse_merge(spec: RawBsonRef<'_>) -> DocDbResult<Merge> {
    let doc = match spec {
        RawBsonRef::String(coll) => {
            return Ok(Merge {
                target: Target { db: None, coll: coll.to_owned() },
                on: None,
                vars: None,
                when_matched: WhenMatched::Merge,
                when_not_matched: WhenNotMatched::Insert,
            })
        }
        RawBsonRef::Document(doc) => doc,
        other => {
            return Err(loc(
                51182,
                format!("$merge only supports a string or object argument, not {:?}", other.element_type()),
            ))
        }
    };
    let (mut target, mut on, mut vars) = (None, None, None);
    let (mut when_matched, mut when_not_matched) = (WhenMatched::Merge, WhenNotMatched::Insert);
    for element in doc {
        let (key, value) = element.map_err(invalid_bson)?;
        match key.as_str() {
            "into" => target = Some(parse_target(value)?),
            "on" => on = Some(parse_on(value)?),
            "let" => match value {
                RawBsonRef::Document(d) => vars = Some(Document::try_from(d).map_err(invalid_bson)?),
                RawBsonRef::Null => {}
                _ => {
                    return Err(DocDbError::new(
                        ErrorCode::TypeMismatch,
                        "BSON field '$merge.let' is the wrong type, expected type 'object'",
                    ))
                }
            },
            "whenMatched" => when_matched = parse_when_matched(value)?,
            "whenNotMatched" => when_not_matched = parse_when_not_matched(value)?,
            other => return Err(loc(40415, format!("BSON field '$merge.{other}' is an unknown field."))),
        }
    }
    let target = target.ok_or_else(|| loc(40414, "BSON field '$merge.into' is missing but a required field"))?;
    use {WhenMatched as M, WhenNotMatched as N};
    if matches!((&when_matched, when_not_matched), (M::KeepExisting | M::Fail, N::Fail | N::Discard)) {
        return Err(loc(
            51181,
            format!(
                "Combination of {{whenMatched: {}, whenNotMatched: {}}} is not supported",
                when_matched.name(),
                when_not_matched.name()
            ),
        ));
    }
    if let Some(vars) = &vars {
        if !matches!(when_matched, M::Pipeline(_)) {
            return Err(loc(
                51199,
                format!("Cannot use 'let' variables with 'whenMatched: {}' mode", when_matched.name()),
            ));
        }
        for name in vars.keys() {
            crate::expr::validate_var_name_for_write(name)?;
        }
    }
    if let M::Pipeline(stages) = &when_matched {
        // Only the stages an update pipeline allows (MongoDB's errors for others).
        Update::parse_with_context(RawBsonRef::Array(stages), None, &placeholder_context(vars.as_ref()))?;
    }
    Ok(Merge { target, on, vars, when_matched, when_not_matched })
}

/// The variables a `whenMatched` pipeline sees, with null values (to validate it).
fn placeholder_context(vars: Option<&Document>) -> ExprContext {
    let mut variables = Document::new();
    variables.insert("new", Bson::Null);
    for name in vars.into_iter().flat_map(Document::keys) {
        variables.insert(name.clone(), Bson::Null);
    }
    ExprContext { variables }
}

/// MongoDB's error for a result document without a usable `on` value.
fn on_field_error() -> DocDbError {
    loc(51132, "$merge write error: 'on' field cannot be missing, null, undefined or an array")
}

/// Checks that a result document has a value for each `on` field that is not missing,
/// null, undefined or an array (51132), as MongoDB requires before matching.
pub fn check_on_fields(doc: &RawDocument, on: &[String]) -> DocDbResult<()> {
    for field in on {
        match documentdb_bson::path::lookup_strict(doc, field) {
            None | Some(RawBsonRef::Null | RawBsonRef::Undefined | RawBsonRef::Array(_)) => {
                return Err(on_field_error())
            }
            Some(_) => {}
        }
    }
    Ok(())
}

/// MongoDB's error when a matched document's `_id` would change.
fn immutable_id() -> DocDbError {
    DocDbError::new(
        ErrorCode::ImmutableField,
        "$merge failed to update the matching document, did you attempt to modify the _id or the shard key?",
    )
}

/// The document a matched target document becomes (for `replace`, `merge` and a
/// pipeline; `keepExisting` and `fail` never call this). A result document without `_id`
/// keeps the target's; one with another `_id` is MongoDB's ImmutableField error (66).
pub fn matched_document(merge: &Merge, target: &RawDocument, result: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let target_id = crate::document::document_id(target);
    let result_id = crate::document::document_id(result);
    if let (Some(t), Some(r)) = (target_id, result_id) {
        if !same_value(t, r) {
            return Err(immutable_id());
        }
    }
    let updated = match &merge.when_matched {
        WhenMatched::Replace => {
            let mut out = Document::new();
            if let Some(id) = target_id {
                out.insert("_id", Bson::try_from(id).map_err(invalid_bson)?);
            }
            for element in result {
                let (key, value) = element.map_err(invalid_bson)?;
                if key.as_str() != "_id" {
                    out.insert(key.as_str(), Bson::try_from(value).map_err(invalid_bson)?);
                }
            }
            to_raw_document(&out)?
        }
        WhenMatched::Merge => {
            let mut out = Document::try_from(target).map_err(invalid_bson)?;
            for element in result {
                let (key, value) = element.map_err(invalid_bson)?;
                if key.as_str() != "_id" {
                    out.insert(key.as_str(), Bson::try_from(value).map_err(invalid_bson)?);
                }
            }
            to_raw_document(&out)?
        }
        WhenMatched::Pipeline(stages) => {
            let ctx = pipeline_context(merge, result)?;
            let update = Update::parse_with_context(RawBsonRef::Array(stages), None, &ctx)?;
            match update.apply(target, None) {
                Ok(outcome) => outcome.document,
                Err(e) if e.code == ErrorCode::ImmutableField => return Err(immutable_id()),
                Err(e) => return Err(e),
            }
        }
        WhenMatched::KeepExisting | WhenMatched::Fail => target.to_owned(),
    };
    crate::document::check_size(&updated)?;
    Ok(updated)
}

/// The variables of a `whenMatched` pipeline for one result document: `$$new` (the result
/// document, unless `let` defines it) and the `let` expressions evaluated over it.
fn pipeline_context(merge: &Merge, result: &RawDocument) -> DocDbResult<ExprContext> {
    let mut ctx = ExprContext::default();
    let result_doc = Document::try_from(result).map_err(invalid_bson)?;
    match &merge.vars {
        None => {
            ctx.variables.insert("new", Bson::Document(result_doc));
        }
        Some(vars) => {
            for (name, expr) in vars {
                let parsed = crate::expr::Expression::parse_bson(expr, &ctx)?;
                let value = parsed.evaluate(result)?.unwrap_or(Bson::Null);
                ctx.variables.insert(name.clone(), value);
            }
        }
    }
    Ok(ctx)
}

/// Equality of two `_id` values as MongoDB compares them (1 and 1.0 are the same `_id`).
fn same_value(a: RawBsonRef<'_>, b: RawBsonRef<'_>) -> bool {
    documentdb_bson::compare::compare_values(a, b) == std::cmp::Ordering::Equal
}

/// MongoDB's error when a result document matches no target document and
/// `whenNotMatched` is `fail` (13113 MergeStageNoMatchingDocument).
pub fn no_matching_document() -> DocDbError {
    loc(
        13113,
        "$merge could not find a matching document in the target collection for at least one document in the source collection",
    )
}

/// MongoDB's error when a result document matches a target document and `whenMatched`
/// is `fail`: a DuplicateKey error with `keyPattern` and `keyValue` (the `on` fields).
pub fn matched_with_fail(on: &[String], result: &RawDocument) -> DocDbError {
    let mut pattern = RawDocumentBuf::new();
    let mut value = RawDocumentBuf::new();
    for field in on {
        if let Ok(key) = <&bson::raw::CStr>::try_from(field.as_str()) {
            pattern.append(key, 1);
            value.append(key, documentdb_bson::path::lookup_strict(result, field).unwrap_or(RawBsonRef::Null));
        }
    }
    let mut details = RawDocumentBuf::new();
    details.append(bson::raw::cstr!("keyPattern"), pattern);
    details.append(bson::raw::cstr!("keyValue"), value);
    DocDbError::new(
        ErrorCode::DuplicateKey,
        format!(
            "$merge with whenMatched: fail found an existing document with the same values for the 'on' field(s): {}",
            on.join(", ")
        ),
    )
    .with_details(details.into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::{doc, rawdoc};

    fn merge_of(spec: bson::Bson) -> DocDbResult<Merge> {
        let doc = rawdoc! { "s": bson::RawBson::try_from(spec).unwrap() };
        parse_merge(doc.get("s").unwrap().unwrap())
    }

    fn code(e: DocDbError) -> i32 {
        e.code.code()
    }

    #[test]
    fn merge_string_form_defaults_to_merge_and_insert() {
        let m = merge_of(Bson::String("t".into())).unwrap();
        assert_eq!(m.target, Target { db: None, coll: "t".into() });
        assert_eq!(m.when_matched, WhenMatched::Merge);
        assert_eq!(m.when_not_matched, WhenNotMatched::Insert);
        assert!(m.on_id());
    }

    #[test]
    fn merge_spec_errors_follow_mongodb_codes() {
        assert_eq!(code(merge_of(Bson::Int32(1)).unwrap_err()), 51182);
        assert_eq!(code(merge_of(Bson::Document(doc! {})).unwrap_err()), 40414);
        assert_eq!(code(merge_of(Bson::Document(doc! {"into": "t", "x": 1})).unwrap_err()), 40415);
        assert_eq!(code(merge_of(Bson::Document(doc! {"into": 1})).unwrap_err()), 51178);
        assert_eq!(code(merge_of(Bson::Document(doc! {"into": "t", "on": []})).unwrap_err()), 51187);
        assert_eq!(code(merge_of(Bson::Document(doc! {"into": "t", "on": [1]})).unwrap_err()), 51134);
        assert_eq!(code(merge_of(Bson::Document(doc! {"into": "t", "on": 1})).unwrap_err()), 51186);
        assert_eq!(code(merge_of(Bson::Document(doc! {"into": "t", "on": ["a", "a"]})).unwrap_err()), 31465);
        assert_eq!(code(merge_of(Bson::Document(doc! {"into": "t", "whenMatched": "x"})).unwrap_err()), 2);
        // The manual's table of supported combinations: keepExisting and fail only insert.
        let combo = doc! {"into": "t", "whenMatched": "keepExisting", "whenNotMatched": "fail"};
        assert_eq!(code(merge_of(Bson::Document(combo)).unwrap_err()), 51181);
        let combo = doc! {"into": "t", "whenMatched": "fail", "whenNotMatched": "discard"};
        assert_eq!(code(merge_of(Bson::Document(combo)).unwrap_err()), 51181);
        let let_without_pipeline = doc! {"into": "t", "let": {"x": 1}, "whenMatched": "merge"};
        assert_eq!(code(merge_of(Bson::Document(let_without_pipeline)).unwrap_err()), 51199);
    }

    #[test]
    fn merge_into_other_database_and_on_fields() {
        let m = merge_of(Bson::Document(doc! {"into": {"db": "d", "coll": "c"}, "on": ["a", "b.c"]})).unwrap();
        assert_eq!(m.target, Target { db: Some("d".into()), coll: "c".into() });
        assert_eq!(m.on_fields(), vec!["a".to_owned(), "b.c".to_owned()]);
        assert!(!m.on_id());
    }

    #[test]
    fn out_forms() {
        let d = rawdoc! { "a": "c", "b": {"db": "d", "coll": "c"}, "c": {"coll": "c"}, "d": 5 };
        assert_eq!(parse_out(d.get("a").unwrap().unwrap()).unwrap(), Target { db: None, coll: "c".into() });
        assert_eq!(parse_out(d.get("b").unwrap().unwrap()).unwrap(), Target { db: Some("d".into()), coll: "c".into() });
        assert_eq!(code(parse_out(d.get("c").unwrap().unwrap()).unwrap_err()), 40414);
        assert_eq!(code(parse_out(d.get("d").unwrap().unwrap()).unwrap_err()), 16990);
    }

    #[test]
    fn on_fields_must_be_present_scalars() {
        let on = vec!["a".to_owned()];
        assert!(check_on_fields(&rawdoc! {"a": 1}, &on).is_ok());
        for bad in [rawdoc! {}, rawdoc! {"a": null}, rawdoc! {"a": [1]}] {
            assert_eq!(code(check_on_fields(&bad, &on).unwrap_err()), 51132);
        }
        assert!(check_on_fields(&rawdoc! {"b": {"c": 1}}, &["b.c".to_owned()]).is_ok());
    }

    #[test]
    fn matched_documents_per_mode() {
        let target = rawdoc! {"_id": 1, "a": 1, "b": 2};
        let result = rawdoc! {"_id": 1, "b": 3, "c": 4};
        let mut m = merge_of(Bson::String("t".into())).unwrap();
        // merge: the result's fields set on the target document.
        assert_eq!(matched_document(&m, &target, &result).unwrap(), rawdoc! {"_id": 1, "a": 1, "b": 3, "c": 4});
        m.when_matched = WhenMatched::Replace;
        assert_eq!(matched_document(&m, &target, &result).unwrap(), rawdoc! {"_id": 1, "b": 3, "c": 4});
        // A result without _id keeps the target's; another _id is ImmutableField.
        assert_eq!(matched_document(&m, &target, &rawdoc! {"z": 1}).unwrap(), rawdoc! {"_id": 1, "z": 1});
        assert_eq!(code(matched_document(&m, &target, &rawdoc! {"_id": 2}).unwrap_err()), 66);
    }

    #[test]
    fn matched_pipeline_sees_new_and_let() {
        let spec = Bson::Document(
            doc! {"into": "t", "whenMatched": [{"$set": {"total": {"$add": ["$total", "$$new.total"]}}}]},
        );
        let m = merge_of(spec).unwrap();
        let out = matched_document(&m, &rawdoc! {"_id": 1, "total": 5}, &rawdoc! {"_id": 1, "total": 7}).unwrap();
        assert_eq!(out, rawdoc! {"_id": 1, "total": 12});
        let spec = Bson::Document(doc! {
            "into": "t", "let": {"qty": "$q"}, "whenMatched": [{"$set": {"q": {"$add": ["$q", "$$qty"]}}}]
        });
        let m = merge_of(spec).unwrap();
        let out = matched_document(&m, &rawdoc! {"_id": 1, "q": 1}, &rawdoc! {"_id": 1, "q": 2}).unwrap();
        assert_eq!(out, rawdoc! {"_id": 1, "q": 3});
    }
}
