//! Limits that keep paths, specifications and values built at run time from recursing
//! deeper than the stack allows (a stack overflow inside PostgreSQL crashes the backend and
//! restarts every connection), with MongoDB's codes and messages:
//!
//! * `FieldPath` (expressions, projections, sort, `$unwind`, group keys, update paths):
//!   more than 200 components is Overflow (15), "FieldPath is too long"
//!   (`BSONDepth::getMaxAllowableDepth()`);
//! * query paths: more than 180 components is 5729100, "FieldPath is too long"
//!   (`BSONDepth::getMaxDepthForUserStorage()`, `MatchExpressionParser::parse`);
//! * values built at run time (`$reduce`, converted results): more than 200 levels is
//!   Overflow, "cannot convert document to BSON because it exceeds the limit of 200
//!   levels of nesting" (`Value::addToBsonObj`);
//! * stored documents (update results): more than 100 levels is Overflow, "Document
//!   exceeds maximum nesting depth of 100" (`storage_validation::storageValid`);
//! * and, underneath, the stack-depth guard for anything the limits do not bound.
use bson::{doc, Bson, Document, RawBsonRef, RawDocumentBuf};
use documentdb_errors::ErrorCode;
use documentdb_query::accumulators::Accumulator;
use documentdb_query::document::{check_size, check_value_depth, to_raw_document, to_raw_value};
use documentdb_query::expr::{ExprContext, Expression};
use documentdb_query::filter::Filter;
use documentdb_query::projection::Projection;
use documentdb_query::sort::SortSpec;
use documentdb_query::unwind::Unwind;
use documentdb_query::update::Update;

const TOO_LONG: &str = "FieldPath is too long";
const VALUE_TOO_DEEP: &str = "cannot convert document to BSON because it exceeds the limit of 200 levels of nesting";

fn raw(d: &Document) -> RawDocumentBuf {
    RawDocumentBuf::try_from(d).expect("encodable test document")
}

/// `"a.a. ... .a"` with `n` components.
fn path(n: usize) -> String {
    vec!["a"; n].join(".")
}

/// `{a: {a: ... {a: leaf}}}` with `levels` documents nested below the top-level one (its
/// nesting depth as `documentdb_bson::validate` counts it).
fn nested_doc(levels: usize, leaf: Bson) -> Document {
    let mut value = leaf;
    for _ in 0..levels {
        value = Bson::Document(doc! { "a": value });
    }
    doc! { "a": value }
}

fn overflow(e: documentdb_errors::DocDbError, message: &str) {
    assert_eq!(e.code, ErrorCode::Overflow, "{}", e.message);
    assert_eq!(e.message, message);
}

// ---- filters: 180 components (5729100) ----

#[test]
fn filter_path_limit_is_180_components() {
    assert!(Filter::parse(&raw(&doc! { path(180): 1 })).is_ok());
    for filter in [
        doc! { path(181): 1 },
        doc! { path(181): { "$gt": 1 } },
        doc! { "$and": [{ path(181): 1 }] },
        doc! { "x": { "$elemMatch": { path(181): 1 } } },
        doc! { path(200_000): 1 },
    ] {
        let e = Filter::parse(&raw(&filter)).expect_err("path too long");
        assert_eq!(e.code, ErrorCode::new(5729100));
        assert_eq!(e.message, TOO_LONG);
    }
}

// ---- projections, sort, expressions, $unwind, group keys: 200 components (Overflow) ----

#[test]
fn projection_path_limit_is_200_components() {
    assert!(Projection::parse_find(&raw(&doc! { path(200): 1 }), None).is_ok());
    for spec in [doc! { path(201): 1 }, doc! { path(201): 0 }, doc! { path(201): { "$slice": 1 } }] {
        overflow(Projection::parse_find(&raw(&spec), None).expect_err("too long"), TOO_LONG);
    }
    // Nested specifications count the full path (61 + 150 components).
    let nested = nested_doc(60, Bson::Document(doc! { path(150): 1 }));
    overflow(Projection::parse_find(&raw(&nested), None).expect_err("too long"), TOO_LONG);
    overflow(Projection::parse_project_stage(&raw(&doc! { path(200_000): 1 })).expect_err("too long"), TOO_LONG);
    overflow(Projection::parse_add_fields(&raw(&doc! { path(201): "x" })).expect_err("too long"), TOO_LONG);
    overflow(Projection::parse_unset(RawBsonRef::String(&path(201))).expect_err("too long"), TOO_LONG);
}

#[test]
fn sort_path_limit_is_200_components() {
    assert!(SortSpec::parse(&raw(&doc! { path(200): 1 })).is_ok());
    overflow(SortSpec::parse(&raw(&doc! { path(201): -1 })).expect_err("too long"), TOO_LONG);
    overflow(SortSpec::parse(&raw(&doc! { path(200_000): 1 })).expect_err("too long"), TOO_LONG);
}

#[test]
fn expression_field_path_limit_is_200_components() {
    let ctx = ExprContext::default();
    let parse = |v: Bson| Expression::parse_bson(&v, &ctx);
    assert!(parse(Bson::String(format!("${}", path(200)))).is_ok());
    for too_long in [
        Bson::String(format!("${}", path(201))),
        Bson::String(format!("${}", path(200_000))),
        // The variable name is a component of the path.
        Bson::String(format!("$$ROOT.{}", path(200))),
        Bson::String(format!("$$CURRENT.{}", path(200))),
        Bson::Document(doc! { "$sortArray": { "input": [], "sortBy": { path(201): 1 } } }),
        Bson::Document(doc! { "$add": [1, format!("${}", path(201))] }),
    ] {
        overflow(parse(too_long).expect_err("too long"), TOO_LONG);
    }
    assert!(parse(Bson::String(format!("$$ROOT.{}", path(199)))).is_ok());
}

#[test]
fn group_key_and_accumulator_paths_are_field_paths() {
    let long = Bson::String(format!("${}", path(201)));
    overflow(Accumulator::parse_bson("$push", &long, &ExprContext::default()).expect_err("too long"), TOO_LONG);
    overflow(Expression::parse_bson(&long, &ExprContext::default()).expect_err("too long"), TOO_LONG);
}

#[test]
fn unwind_path_limit_is_200_components() {
    assert!(Unwind::parse(RawBsonRef::String(&format!("${}", path(200)))).is_ok());
    overflow(Unwind::parse(RawBsonRef::String(&format!("${}", path(201)))).expect_err("too long"), TOO_LONG);
    let spec = raw(&doc! { "path": "$a", "includeArrayIndex": path(200_000) });
    overflow(Unwind::parse_document(&spec).expect_err("too long"), TOO_LONG);
}

// ---- update paths ----

fn parse_update(u: Document) -> Result<Update, documentdb_errors::DocDbError> {
    Update::parse(RawBsonRef::Document(&raw(&u)), None)
}

#[test]
fn update_path_limit_is_200_components() {
    // The reproducer of the backend crash: a $set path of 200,000 components.
    overflow(parse_update(doc! { "$set": { path(200_000): 1 } }).expect_err("too long"), TOO_LONG);
    for u in [
        doc! { "$set": { path(201): 1 } },
        doc! { "$unset": { path(201): "" } },
        doc! { "$inc": { path(201): 1 } },
        doc! { "$rename": { path(201): "b" } },
        doc! { "$rename": { "b": path(201) } },
        doc! { "$push": { "x": { "$each": [], "$sort": { path(201): 1 } } } },
    ] {
        overflow(parse_update(u).expect_err("too long"), TOO_LONG);
    }
    assert!(parse_update(doc! { "$set": { path(200): 1 } }).is_ok());
}

#[test]
fn update_results_deeper_than_storage_allows_are_refused() {
    // A 200-component $set parses and applies, but the document it produces is 200 levels
    // deep: refused before it is stored, as MongoDB's storage validation does.
    let update = parse_update(doc! { "$set": { path(200): 1 } }).expect("parses");
    let outcome = update.apply(&raw(&doc! { "_id": 1 }), None).expect("applies");
    overflow(check_size(&outcome.document).expect_err("too deep"), "Document exceeds maximum nesting depth of 100");
    // An existing 100-level document grown by one level.
    let deep = nested_doc(100, Bson::Int32(1));
    assert!(check_size(&raw(&deep)).is_ok());
    let update = parse_update(doc! { "$set": { format!("{}.b", path(100)): 1 } }).expect("parses");
    assert!(check_size(&update.apply(&raw(&deep), None).expect("applies").document).is_ok());
    let update = parse_update(doc! { "$set": { format!("{}.b.c", path(100)): 1 } }).expect("parses");
    let outcome = update.apply(&raw(&deep), None).expect("applies");
    overflow(check_size(&outcome.document).expect_err("too deep"), "Document exceeds maximum nesting depth of 100");
    // 100 levels are storable.
    assert!(check_size(&raw(&nested_doc(100, Bson::Int32(1)))).is_ok());
    assert!(check_size(&raw(&nested_doc(101, Bson::Int32(1)))).is_err());
    // Upserts go through the same check (the seeded query path is 150 levels deep).
    let seed = vec![(path(150), bson::RawBson::Int32(1))];
    let update = parse_update(doc! { "$set": { "x": 1 } }).expect("parses");
    let built = update.apply_upsert(&seed).expect("builds");
    overflow(
        documentdb_query::document::prepare_for_insert(&built).expect_err("too deep"),
        "Document exceeds maximum nesting depth of 100",
    );
}

// ---- values built at run time ----

fn eval(expr: Bson) -> Result<Option<Bson>, documentdb_errors::DocDbError> {
    Expression::parse_bson(&expr, &ExprContext::default())?.evaluate(&raw(&doc! { "_id": 1 }))
}

#[test]
fn reduce_cannot_nest_a_value_without_bound() {
    // The reproducers: each step wraps the accumulated value one level deeper.
    for body in [Bson::Array(vec![Bson::String("$$value".into())]), Bson::Document(doc! { "a": "$$value" })] {
        let expr = Bson::Document(doc! {
            "$reduce": { "input": { "$range": [0, 300_000] }, "initialValue": [], "in": body }
        });
        overflow(eval(expr).expect_err("too deep"), VALUE_TOO_DEEP);
    }
    // Up to the limit it works.
    let expr = Bson::Document(doc! {
        "$reduce": { "input": { "$range": [0, 150] }, "initialValue": [], "in": ["$$value"] }
    });
    assert!(matches!(eval(expr), Ok(Some(Bson::Array(_)))));
    // Flat accumulation is unaffected.
    let expr = Bson::Document(doc! {
        "$reduce": { "input": { "$range": [0, 1000] }, "initialValue": 0, "in": { "$add": ["$$value", "$$this"] } }
    });
    assert_eq!(eval(expr).expect("sums"), Some(Bson::Int32(499_500)));
}

/// `[[[ ... leaf ... ]]]` with `levels` arrays, built without recursion.
fn nested_array(levels: usize) -> Bson {
    let mut value = Bson::Int32(1);
    for _ in 0..levels {
        value = Bson::Array(vec![value]);
    }
    value
}

#[test]
fn values_deeper_than_200_levels_are_not_converted_to_bson() {
    assert!(check_value_depth(&nested_array(201)).is_ok());
    overflow(check_value_depth(&nested_array(202)).expect_err("too deep"), VALUE_TOO_DEEP);
    overflow(to_raw_value(&nested_array(1000)).expect_err("too deep"), VALUE_TOO_DEEP);
    assert!(to_raw_value(&nested_array(150)).is_ok());
    // As a field, the outermost array is at depth 1.
    overflow(to_raw_document(&doc! { "x": nested_array(201) }).expect_err("too deep"), VALUE_TOO_DEEP);
    assert!(to_raw_document(&doc! { "x": nested_array(200) }).is_ok());
}

#[test]
fn projection_results_deeper_than_200_levels_are_refused() {
    // A computed field that nests a 150-level field 100 levels deeper.
    let mut wrapped = Bson::String("$a".into());
    for _ in 0..100 {
        wrapped = Bson::Array(vec![wrapped]);
    }
    let spec = raw(&doc! { "x": { "$literal": 1 }, "y": wrapped });
    let projection = Projection::parse_add_fields(&spec).expect("parses");
    let input = raw(&nested_doc(150, Bson::Int32(1)));
    overflow(projection.apply(&input).expect_err("too deep"), VALUE_TOO_DEEP);
}

// ---- the stack guard ----

#[test]
fn hostile_specifications_hit_the_stack_guard_instead_of_overflowing() {
    // The pure API accepts owned values of any depth (PostgreSQL's inputs are validated to
    // 100 levels first): a 20,000-level expression is refused by the guard. Run on a big
    // stack so that building and dropping the value itself is safe; the guard still stops
    // the parser after its fallback budget.
    let outcome = std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(|| {
            let mut expr = Bson::Int32(1);
            for _ in 0..20_000 {
                expr = Bson::Document(doc! { "$add": [expr, 1] });
            }
            let parsed = Expression::parse_bson(&expr, &ExprContext::default()).map(|_| ());
            (parsed, check_value_depth(&expr).map(|_| ()))
        })
        .expect("spawns")
        .join()
        .expect("no stack overflow");
    let e = outcome.0.expect_err("too deep to parse");
    assert_eq!(e.code, ErrorCode::Overflow);
    assert_eq!(e.message, documentdb_bson::stack::STACK_DEPTH_MESSAGE);
    overflow(outcome.1.expect_err("too deep"), VALUE_TOO_DEEP);
}
