//! Errors on user input carry MongoDB's codes (the gateway fuzzer found these reported as
//! InternalError), and every such code can travel through PostgreSQL as a SQLSTATE.
use bson::{bson, doc, Bson, RawDocumentBuf};
use documentdb_errors::{DocDbError, ErrorCode};
use documentdb_query::accumulators::Accumulator;
use documentdb_query::expr::{ExprContext, Expression};

fn eval(expr: Bson) -> Result<Option<Bson>, DocDbError> {
    let e = Expression::parse_bson(&expr, &ExprContext::default())?;
    e.evaluate(&RawDocumentBuf::try_from(&doc! {}).expect("serializable"))
}

#[track_caller]
fn error(expr: Bson) -> (i32, String) {
    match eval(expr.clone()) {
        Err(e) => (e.code.code(), e.message),
        Ok(v) => panic!("{expr:?} should fail, got {v:?}"),
    }
}

#[test]
fn sort_array_argument_errors() {
    assert_eq!(
        error(bson!({ "$sortArray": 1 })),
        (2942500, "$sortArray requires an object as an argument, found: int".into())
    );
    assert_eq!(
        error(bson!({ "$sortArray": { "input": [], "sortBy": 1, "x": 1 } })),
        (2942501, "$sortArray found an unknown argument: x".into())
    );
}

#[test]
fn rand_takes_an_empty_document_or_array() {
    for ok in [bson!({ "$rand": {} }), bson!({ "$rand": [] })] {
        assert!(matches!(eval(ok), Ok(Some(Bson::Double(x))) if (0.0..1.0).contains(&x)));
    }
    for args in [bson!({ "$rand": { "x": 1 } }), bson!({ "$rand": [1] })] {
        assert_eq!(error(args), (3040501, "$rand does not currently accept arguments".into()));
    }
    for scalar in [bson!(0), bson!("x"), bson!(true), Bson::Null] {
        assert_eq!(error(bson!({ "$rand": scalar })), (10065, "invalid parameter: expected an object ($rand)".into()));
    }
}

#[test]
fn get_field_and_set_field_argument_errors() {
    assert_eq!(
        error(bson!({ "$getField": { "field": "a", "input": {}, "x": 1 } })),
        (3041701, "$getField found an unknown argument: x".into())
    );
    assert_eq!(
        error(bson!({ "$setField": { "field": "a", "input": {}, "value": 1, "x": 1 } })),
        (4161101, "$setField found an unknown argument: x".into())
    );
    assert_eq!(error(bson!({ "$setField": 1 })), (4161100, "$setField only supports an object as its argument".into()));
    // A field name with a NUL byte could not be stored.
    for op in ["$setField", "$unsetField"] {
        let mut spec = doc! { "field": "a\0b", "input": {} };
        if op == "$setField" {
            spec.insert("value", 1);
        }
        assert_eq!(error(bson!({ op: spec })).0, 9534700, "{op}");
    }
}

#[test]
fn date_diff_argument_must_be_an_object() {
    assert_eq!(error(bson!({ "$dateDiff": 1 })), (5166301, "$dateDiff only supports an object as its argument".into()));
}

#[test]
fn n_operator_specification_must_be_an_object() {
    assert_eq!(error(bson!({ "$firstN": 5 })), (5787801, "specification must be an object; found $firstN: 5".into()));
    assert_eq!(
        error(bson!({ "$lastN": "x" })),
        (5787801, "specification must be an object; found $lastN: \"x\"".into())
    );
    assert_eq!(error(bson!({ "$maxN": [1] })), (5787900, "specification must be an object; found $maxN: [1]".into()));
    let raw = RawDocumentBuf::try_from(&doc! { "a": 5 }).unwrap();
    let five = raw.get("a").unwrap().unwrap();
    for (op, code) in [("$firstN", 5787801), ("$lastN", 5787801), ("$minN", 5787900), ("$topN", 5788001)] {
        let err = Accumulator::parse(op, five).expect_err(op);
        assert_eq!((err.code.code(), err.message), (code, format!("specification must be an object; found {op}: 5")));
    }
}

/// The codes above 1,632,959 that this crate raises on user input. Inside PostgreSQL a
/// code travels as a SQLSTATE; codes that large must be registered in
/// `documentdb_errors::LARGE_CODES`, otherwise they arrive as InternalError (1). Not yet
/// the case for most of them: see the crate owner.
const LARGE_CODES_RAISED: &[i32] = &[
    2942500, 2942501, 2942502, 2942503, 2942504, 2942505, 2942506, 2942507, 3040501, 3041701, 3041702, 3041703,
    4161100, 4161101, 4161102, 4161103, 4161105, 4161106, 4161107, 4161108, 4161109, 4940400, 4940401, 5166301,
    5166302, 5166303, 5166304, 5166305, 5166307, 5166400, 5166401, 5166402, 5166403, 5166404, 5166405, 5439007,
    5439008, 5439009, 5439010, 5439012, 5439013, 5439014, 5439015, 5439016, 5439017, 5439018, 5654600, 5654601,
    5654602, 5729100, 5733415, 5787801, 5787900, 5787901, 5787902, 5787903, 5787906, 5787907, 5787908, 5788001,
    5788002, 5788003, 5788004, 5788005, 5788200, 5976500, 6045000, 9534700,
];

#[test]
fn every_large_code_raised_travels_as_its_own_sqlstate() {
    let lost: Vec<i32> = LARGE_CODES_RAISED
        .iter()
        .copied()
        .filter(|&c| ErrorCode::from_sqlstate(&ErrorCode::new(c).sqlstate_str()) != Some(ErrorCode::new(c)))
        .collect();
    assert!(lost.is_empty(), "codes reported as InternalError: {lost:?}");
}
