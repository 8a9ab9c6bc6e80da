//! No expression or accumulator may allocate without bound: values that grow step by step
//! (`$reduce` doubling a value), operators that repeat a value (`$map`, `$zip` defaults,
//! `$let` variables) and long strings stop with MongoDB's errors instead of exhausting
//! memory (a failed allocation aborts the whole PostgreSQL server).
//!
//! * ExceededMemoryLimit (146) past 100 MiB, with MongoDB's messages for `$range`,
//!   `$push`, `$addToSet` and the `n` accumulators (what expressions build is counted as
//!   decoded values, what accumulators hold as MongoDB counts it);
//! * 16493 "Tried to create string longer than 16MB" for strings.
use bson::{bson, doc, Bson, Document, RawDocumentBuf};
use documentdb_errors::{DocDbError, ErrorCode};
use documentdb_query::accumulators::Accumulator;
use documentdb_query::expr::{ExprContext, Expression};

fn eval_on(expr: Bson, root: &Document) -> Result<Option<Bson>, DocDbError> {
    let e = Expression::parse_bson(&expr, &ExprContext::default())?;
    e.evaluate(&RawDocumentBuf::try_from(root).expect("serializable"))
}

fn eval(expr: Bson) -> Result<Option<Bson>, DocDbError> {
    eval_on(expr, &doc! {})
}

#[track_caller]
fn exceeds_memory(result: Result<Option<Bson>, DocDbError>, op: &str) {
    let err = result.map(|_| ()).expect_err("should exceed the memory limit");
    assert_eq!(err.code, ErrorCode::ExceededMemoryLimit, "{err:?}");
    assert!(err.message.starts_with(&format!("{op} would use too much memory")), "{}", err.message);
}

#[track_caller]
fn string_too_long(result: Result<Option<Bson>, DocDbError>) {
    let err = result.map(|_| ()).expect_err("should refuse the string");
    assert_eq!((err.code.code(), err.message.as_str()), (16493, "Tried to create string longer than 16MB"));
}

/// `$reduce` over `[0, steps)` with `in` as given and `initialValue` as given.
fn reduce(steps: i32, initial: Bson, body: Bson) -> Bson {
    bson!({ "$reduce": { "input": { "$range": [0, steps] }, "initialValue": initial, "in": body } })
}

#[test]
fn reduce_doubling_an_array_with_concat_arrays_stops_at_the_limit() {
    // The crash found by the crash hunt: 2^26 copies of "x".
    let expr = reduce(26, bson!(["x"]), bson!({ "$concatArrays": ["$$value", "$$value"] }));
    exceeds_memory(eval(expr), "$concatArrays");
    // Below the limit the same expression works.
    let small = reduce(10, bson!(["x"]), bson!({ "$concatArrays": ["$$value", "$$value"] }));
    assert!(matches!(eval(small), Ok(Some(Bson::Array(a))) if a.len() == 1024));
}

/// A document with a 1 MiB string `s`: doubling it passes 100 MiB in a few steps.
fn mebibyte() -> Document {
    doc! { "s": "y".repeat(1 << 20) }
}

#[test]
fn reduce_doubling_through_array_and_object_literals_stops_at_the_limit() {
    let twice = reduce(40, bson!("$s"), bson!(["$$value", "$$value"]));
    exceeds_memory(eval_on(twice, &mebibyte()), "an array expression");
    let twice = reduce(40, bson!("$s"), bson!({ "a": "$$value", "b": "$$value" }));
    exceeds_memory(eval_on(twice, &mebibyte()), "an object expression");
}

#[test]
fn reduce_doubling_through_set_union_merge_objects_and_set_field_stops_at_the_limit() {
    let union = bson!({ "$setUnion": ["$$value", [["$$this", "$$value"]]] });
    exceeds_memory(eval_on(reduce(40, bson!(["$s"]), union), &mebibyte()), "$setUnion");

    let merge =
        bson!({ "$mergeObjects": ["$$value", { "$arrayToObject": [[[{ "$toString": "$$this" }, "$$value"]]] }] });
    let err = eval_on(reduce(40, bson!({ "s": "$s" }), merge), &mebibyte()).expect_err("too large");
    assert_eq!(err.code, ErrorCode::ExceededMemoryLimit, "{err:?}");
    assert!(err.message.starts_with("$mergeObjects would use too much memory"), "{}", err.message);

    let set_field =
        bson!({ "$setField": { "field": { "$literal": "a" }, "input": { "b": "$$value" }, "value": "$$value" } });
    let err = eval_on(reduce(40, bson!("$s"), set_field), &mebibyte()).expect_err("too large");
    assert_eq!(err.code, ErrorCode::ExceededMemoryLimit, "{err:?}");
}

#[test]
fn reduce_refuses_an_accumulated_value_past_the_limit() {
    // Each step adds a 1 MiB string: the accumulated array passes 100 MiB.
    let root = doc! { "s": "y".repeat(1 << 20) };
    let body = bson!({ "$concatArrays": ["$$value", ["$s"]] });
    let err = eval_on(reduce(200, bson!([]), body), &root).expect_err("too large");
    assert_eq!(err.code, ErrorCode::ExceededMemoryLimit, "{err:?}");
}

#[test]
fn concat_doubling_a_string_stops_at_16_megabytes() {
    string_too_long(eval(reduce(30, bson!("x"), bson!({ "$concat": ["$$value", "$$value"] }))));
    assert_eq!(
        eval(reduce(4, bson!("x"), bson!({ "$concat": ["$$value", "$$value"] }))).unwrap(),
        Some(bson!("x".repeat(16)))
    );
}

#[test]
fn replace_all_is_checked_before_the_result_is_built() {
    let root = doc! { "s": "a".repeat(1 << 20) };
    // An empty 'find' inserts the replacement around every character: 1M x 1 MiB.
    let expr = bson!({ "$replaceAll": { "input": "$s", "find": "", "replacement": "$s" } });
    string_too_long(eval_on(expr, &root));
    let expr = bson!({ "$replaceAll": { "input": "$s", "find": "a", "replacement": "$s" } });
    string_too_long(eval_on(expr, &root));
    let expr = bson!({ "$replaceOne": { "input": { "$concat": ["$s", "$s", "$s", "$s", "$s", "$s", "$s", "$s"] }, "find": "a", "replacement": { "$concat": ["$s", "$s", "$s", "$s", "$s", "$s", "$s", "$s"] } } });
    string_too_long(eval_on(expr, &root));
    assert_eq!(
        eval(bson!({ "$replaceAll": { "input": "abc", "find": "", "replacement": "-" } })).unwrap(),
        Some(bson!("-a-b-c-"))
    );
}

#[test]
fn range_uses_mongodb_estimate_and_message_counting_decoded_values() {
    // MongoDB's estimate, 24 bytes + one value per element (one more than it builds),
    // must stay under 100 MiB (internalQueryMaxRangeBytes); a value is a 112-byte
    // `bson::Bson` here.
    assert!(matches!(eval(bson!({ "$range": [0, 900_000] })), Ok(Some(Bson::Array(a))) if a.len() == 900_000));
    let err = eval(bson!({ "$range": [0, 1_000_000] })).expect_err("too large");
    assert_eq!(err.code, ErrorCode::ExceededMemoryLimit);
    let needed = 24 + 1_000_001 * std::mem::size_of::<Bson>();
    assert_eq!(
        err.message,
        format!(
            "$range would use too much memory ({needed} bytes) and cannot spill to disk. Memory limit: 104857600 bytes"
        )
    );
}

#[test]
fn map_of_a_repeated_value_stops_at_the_limit() {
    let root = doc! { "s": "y".repeat(1 << 20) };
    let expr = bson!({ "$map": { "input": { "$range": [0, 1000] }, "in": "$s" } });
    exceeds_memory(eval_on(expr, &root), "$map");
    let expr = bson!({ "$map": { "input": { "$range": [0, 10] }, "in": "$s" } });
    assert!(matches!(eval_on(expr, &root), Ok(Some(Bson::Array(a))) if a.len() == 10));
}

#[test]
fn zip_defaults_and_inputs_count_towards_the_limit() {
    let root = doc! { "s": "y".repeat(1 << 20) };
    let expr =
        bson!({ "$zip": { "inputs": [{ "$range": [0, 1000] }, []], "useLongestLength": true, "defaults": [0, "$s"] } });
    exceeds_memory(eval_on(expr, &root), "$zip");
    let expr = bson!({ "$zip": { "inputs": [[1, 2], [3]], "useLongestLength": true, "defaults": [0, "$s"] } });
    assert_eq!(eval_on(expr, &root).unwrap(), Some(bson!([[1, 3], [2, "y".repeat(1 << 20)]])));
}

#[test]
fn let_variables_bound_together_share_the_limit() {
    let root = doc! { "s": "y".repeat(1 << 20) };
    let mut vars = Document::new();
    for i in 0..200 {
        vars.insert(format!("v{i}"), "$s");
    }
    let expr = bson!({ "$let": { "vars": vars, "in": 1 } });
    exceeds_memory(eval_on(expr, &root), "$let");
    // Variables whose scope has ended no longer count.
    let one = bson!({ "$let": { "vars": { "v": "$s" }, "in": { "$strLenBytes": "$$v" } } });
    let many: Vec<Bson> = (0..200).map(|_| one.clone()).collect();
    assert!(matches!(eval_on(bson!({ "$sum": many }), &root), Ok(Some(Bson::Int32(n))) if n == 200 << 20));
}

#[test]
fn split_counts_every_piece() {
    let root = doc! { "s": ",".repeat(8 << 20) };
    exceeds_memory(eval_on(bson!({ "$split": ["$s", ","] }), &root), "$split");
    assert_eq!(eval(bson!({ "$split": ["a,b", ","] })).unwrap(), Some(bson!(["a", "b"])));
}

#[test]
fn object_to_array_counts_its_documents() {
    let root = doc! { "a": { "x": 1, "y": "z" } };
    assert_eq!(
        eval_on(bson!({ "$objectToArray": "$a" }), &root).unwrap(),
        Some(bson!([{ "k": "x", "v": 1 }, { "k": "y", "v": "z" }]))
    );
}

fn accumulate_until_error(op: &str, arg: Bson, values: impl Iterator<Item = Bson>) -> DocDbError {
    let raw = RawDocumentBuf::try_from(&doc! { "a": arg }).expect("serializable");
    let arg = raw.get("a").expect("decodes").expect("present");
    let mut acc = Accumulator::parse(op, arg).expect("parses");
    for v in values {
        if let Err(e) = acc.accumulate(Some(v)) {
            return e;
        }
    }
    panic!("{op} accepted every value");
}

#[test]
fn push_and_add_to_set_stop_at_100_mebibytes_with_mongodb_message() {
    let big = "y".repeat(1 << 20);
    let err = accumulate_until_error("$push", bson!("$x"), (0..200).map(|_| Bson::String(big.clone())));
    assert_eq!(err.code, ErrorCode::ExceededMemoryLimit);
    assert!(err.message.starts_with("$push used too much memory and cannot spill to disk. Used: "), "{}", err.message);
    assert!(err.message.ends_with("Memory limit: 104857600 bytes"), "{}", err.message);

    let err = accumulate_until_error("$addToSet", bson!("$x"), (0..200).map(|i| Bson::String(format!("{i}{big}"))));
    assert_eq!(err.code, ErrorCode::ExceededMemoryLimit);
    assert!(err.message.starts_with("$addToSet used too much memory and cannot spill to disk."), "{}", err.message);
}

#[test]
fn n_accumulators_and_merge_objects_stop_at_the_limit() {
    let big = "y".repeat(1 << 20);
    let err = accumulate_until_error(
        "$lastN",
        bson!({ "input": "$x", "n": 1_000_000 }),
        (0..200).map(|_| Bson::String(big.clone())),
    );
    assert!(err.message.starts_with("$lastN used too much memory"), "{}", err.message);
    let err = accumulate_until_error(
        "$topN",
        bson!({ "output": "$x", "sortBy": { "x": 1 }, "n": 1_000_000 }),
        (0..200).map(|i| bson!({ "output": big.clone(), "sortKey": [i] })),
    );
    assert!(err.message.starts_with("$topN used too much memory"), "{}", err.message);
    let err = accumulate_until_error(
        "$mergeObjects",
        bson!("$x"),
        (0..200).map(|i| Bson::Document(doc! { format!("f{i}"): big.clone() })),
    );
    assert!(err.message.starts_with("$mergeObjects used too much memory"), "{}", err.message);
}

#[test]
fn accumulators_that_drop_values_do_not_count_them() {
    let big = "y".repeat(1 << 20);
    // $lastN keeps 2 values, $maxN 2, $mergeObjects overwrites one field: none grows.
    let raw = RawDocumentBuf::try_from(&doc! { "a": { "input": "$x", "n": 2 } }).unwrap();
    for op in ["$lastN", "$maxN", "$firstN"] {
        let mut acc = Accumulator::parse(op, raw.get("a").unwrap().unwrap()).unwrap();
        for i in 0..300 {
            acc.accumulate(Some(Bson::String(format!("{i:04}{big}")))).unwrap_or_else(|e| panic!("{op}: {e:?}"));
        }
    }
    let raw = RawDocumentBuf::try_from(&doc! { "a": "$x" }).unwrap();
    let mut acc = Accumulator::parse("$mergeObjects", raw.get("a").unwrap().unwrap()).unwrap();
    for _ in 0..300 {
        acc.accumulate(Some(Bson::Document(doc! { "f": big.clone() }))).unwrap();
    }
}

#[test]
fn merged_partial_states_share_the_limit() {
    let big = "y".repeat(1 << 20);
    let raw = RawDocumentBuf::try_from(&doc! { "a": "$x" }).unwrap();
    let arg = raw.get("a").unwrap().unwrap();
    let mut part = Accumulator::parse("$push", arg).unwrap();
    for _ in 0..60 {
        part.accumulate(Some(Bson::String(big.clone()))).unwrap();
    }
    // The state travels through PostgreSQL as bytes: its size is known again after.
    let part = Accumulator::deserialize_state(&part.serialize_state()).unwrap();
    let mut total = Accumulator::parse("$push", arg).unwrap();
    total.merge(&part).unwrap();
    let err = total.merge(&part).expect_err("120 MiB");
    assert_eq!(err.code, ErrorCode::ExceededMemoryLimit);
}

#[test]
fn projected_copies_of_a_field_share_the_limit() {
    use documentdb_query::projection::Projection;
    let root = RawDocumentBuf::try_from(&mebibyte()).expect("serializable");
    let mut many = Document::new();
    for i in 0..200 {
        many.insert(format!("f{i}"), "$s");
    }
    let spec = RawDocumentBuf::try_from(&many).expect("serializable");
    let err = Projection::parse_add_fields(&spec).expect("parses").apply(&root).expect_err("too large");
    assert_eq!(err.code, ErrorCode::ExceededMemoryLimit, "{err:?}");
    assert!(err.message.starts_with("a projection would use too much memory"), "{}", err.message);
    // A few copies are fine (the document is then refused only if it passes 16 MB).
    let spec = RawDocumentBuf::try_from(&doc! { "a": "$s", "b": "$s" }).expect("serializable");
    assert!(Projection::parse_add_fields(&spec).expect("parses").apply(&root).is_ok());
}
