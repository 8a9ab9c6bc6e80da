//! Aggregation expressions: one or more tests per operator, with the MongoDB manual page's
//! examples where it has them, null/missing propagation and error codes.
use std::str::FromStr;

use bson::{bson, doc, Bson, Document, RawDocumentBuf};
use documentdb_query::expr::{ExprContext, Expression};

fn raw(d: &Document) -> RawDocumentBuf {
    RawDocumentBuf::try_from(d).expect("serializable")
}

/// Evaluates `expr` against `root`.
fn eval_on(expr: Bson, root: &Document) -> Result<Option<Bson>, documentdb_errors::DocDbError> {
    let e = Expression::parse_bson(&expr, &ExprContext::default())?;
    e.evaluate(&raw(root))
}

fn ev(expr: Bson, root: &Document) -> Option<Bson> {
    eval_on(expr.clone(), root).unwrap_or_else(|e| panic!("{expr:?}: {e:?}"))
}

fn ev0(expr: Bson) -> Option<Bson> {
    ev(expr, &doc! {})
}

fn err_code(expr: Bson, root: &Document) -> i32 {
    match eval_on(expr.clone(), root) {
        Err(e) => e.code.code(),
        Ok(v) => panic!("{expr:?} should fail, got {v:?}"),
    }
}

fn dec(s: &str) -> Bson {
    Bson::Decimal128(bson::Decimal128::from_str(s).expect("decimal"))
}

fn date(ms: i64) -> Bson {
    Bson::DateTime(bson::DateTime::from_millis(ms))
}

// ---------------- literals, paths, variables ----------------

#[test]
fn field_paths_use_aggregation_semantics() {
    let root = doc! { "a": [ { "b": 1 }, { "b": [2, 3] }, { "c": 4 }, 5 ], "x": { "y": { "z": "deep" } }, "n": { "0": "zero" } };
    assert_eq!(ev(bson!("$a.b"), &root), Some(bson!([1, [2, 3]])));
    assert_eq!(ev(bson!("$x.y.z"), &root), Some(bson!("deep")));
    assert_eq!(ev(bson!("$missing"), &root), None);
    assert_eq!(ev(bson!("$x.missing.z"), &root), None);
    // Numeric components are field names, not array indexes.
    assert_eq!(ev(bson!("$a.0"), &root), Some(bson!([])));
    assert_eq!(ev(bson!("$n.0"), &root), Some(bson!("zero")));
    assert_eq!(ev(bson!("$$ROOT.x.y.z"), &root), Some(bson!("deep")));
    assert_eq!(ev(bson!("$$CURRENT.x.y"), &root), Some(bson!({ "z": "deep" })));
    assert_eq!(ev(bson!(["$x.y.z", "$missing"]), &root), Some(bson!(["deep", null])));
    assert_eq!(ev(bson!({ "k": "$x.y.z", "m": "$missing" }), &root), Some(bson!({ "k": "deep" })));
}

#[test]
fn literal_and_remove_and_now() {
    assert_eq!(ev0(bson!({ "$literal": "$notAPath" })), Some(bson!("$notAPath")));
    assert_eq!(ev0(bson!({ "$literal": { "$add": [1, 2] } })), Some(bson!({ "$add": [1, 2] })));
    assert_eq!(ev0(bson!("$$REMOVE")), None);
    assert!(matches!(ev0(bson!("$$NOW")), Some(Bson::DateTime(_))));
    assert_eq!(ev0(bson!({ "$cond": [true, "$$REMOVE", 1] })), None);
}

#[test]
fn user_variables_and_let() {
    let ctx = ExprContext { variables: doc! { "target": 10, "obj": { "a": 1 } } };
    let e = Expression::parse_bson(&bson!({ "$add": ["$$target", "$$obj.a"] }), &ctx).unwrap();
    assert!(e.is_constant());
    assert_eq!(e.evaluate(&raw(&doc! {})).unwrap(), Some(bson!(11)));
    // $let manual example: total = price + tax, discounted.
    let root = doc! { "price": 10, "tax": 0.50, "applyDiscount": true };
    let e = bson!({ "$let": {
        "vars": { "total": { "$add": ["$price", "$tax"] }, "discounted": { "$cond": { "if": "$applyDiscount", "then": 0.9, "else": 1 } } },
        "in": { "$multiply": ["$$total", "$$discounted"] }
    }});
    assert_eq!(ev(e, &root), Some(bson!(9.450000000000001)));
    // Rebinding CURRENT changes what "$x" refers to.
    let e = bson!({ "$let": { "vars": { "CURRENT": "$inner" }, "in": "$v" } });
    assert_eq!(ev(e, &doc! { "inner": { "v": 7 } }), Some(bson!(7)));
    assert_eq!(err_code(bson!("$$undefinedVar"), &doc! {}), 17276);
    assert_eq!(err_code(bson!({ "$let": { "vars": { "Bad": 1 }, "in": 1 } }), &doc! {}), 16867);
}

#[test]
fn parse_errors() {
    assert_eq!(err_code(bson!({ "$foo": 1 }), &doc! {}), 168);
    assert_eq!(err_code(bson!({ "$add": [1], "$sub": 1 }), &doc! {}), 15983);
    assert_eq!(err_code(bson!("$"), &doc! {}), 16872);
    assert_eq!(err_code(bson!("$a..b"), &doc! {}), 15998);
    assert_eq!(err_code(bson!({ "a.b": 1 }), &doc! {}), 16412);
    assert_eq!(err_code(bson!({ "$abs": [1, 2] }), &doc! {}), 16020);
    assert_eq!(err_code(bson!({ "$round": [1, 2, 3] }), &doc! {}), 28667);
}

// ---------------- arithmetic ----------------

#[test]
fn add_numbers_dates_nulls() {
    assert_eq!(ev0(bson!({ "$add": [1, 2] })), Some(bson!(3)));
    assert_eq!(ev0(bson!({ "$add": [1, 2.5] })), Some(bson!(3.5)));
    assert_eq!(ev0(bson!({ "$add": [2147483647, 1] })), Some(Bson::Int64(2147483648)));
    assert_eq!(ev0(bson!({ "$add": [i64::MAX, 1] })), Some(bson!(9.223_372_036_854_776e18)));
    assert_eq!(ev0(bson!({ "$add": [dec("0.1"), dec("0.2")] })), Some(dec("0.3")));
    assert_eq!(ev0(bson!({ "$add": [1, null] })), Some(Bson::Null));
    assert_eq!(ev(bson!({ "$add": [1, "$missing"] }), &doc! {}), Some(Bson::Null));
    // $add manual: add 3 days (in ms) to a date.
    let root = doc! { "date": date(1_393_660_800_000) };
    assert_eq!(ev(bson!({ "$add": ["$date", 3 * 24 * 60 * 60000] }), &root), Some(date(1_393_920_000_000)));
    assert_eq!(err_code(bson!({ "$add": ["$date", "$date"] }), &root), 16612);
    assert_eq!(err_code(bson!({ "$add": [1, "a"] }), &doc! {}), 14);
}

#[test]
fn subtract_numbers_and_dates() {
    assert_eq!(ev0(bson!({ "$subtract": [5, 3] })), Some(bson!(2)));
    let root = doc! { "a": date(10_000), "b": date(4_000) };
    assert_eq!(ev(bson!({ "$subtract": ["$a", "$b"] }), &root), Some(Bson::Int64(6000)));
    assert_eq!(ev(bson!({ "$subtract": ["$a", 1000] }), &root), Some(date(9000)));
    assert_eq!(ev(bson!({ "$subtract": ["$a", null] }), &root), Some(Bson::Null));
    assert_eq!(err_code(bson!({ "$subtract": [1, "$a"] }), &root), 14);
    assert_eq!(err_code(bson!({ "$subtract": ["$a", "x"] }), &root), 14);
}

/// MongoDB's `add_with_date.js`: the sum must stay an int64 to become a Date again.
/// A double total outside [-2^63, 2^63) (NaN, infinities included) and, in current
/// MongoDB, a decimal total that does not round to an int64 (NaN, infinities, 1e5000)
/// are "date overflow in $add" (Overflow, code 15): never a wrapped or saturated date.
#[test]
fn add_date_overflow_is_an_overflow_error_like_mongodb() {
    let root = doc! { "d": date(1_548_833_410_137) };
    for n in [
        dec("1e5000"),
        dec("-1e5000"),
        dec("NaN"),
        dec("Infinity"),
        dec("-Infinity"),
        dec("9223372036854775808"),
        Bson::Double(1e300),
        Bson::Double(-1e300),
        Bson::Double(f64::INFINITY),
        Bson::Double(f64::NEG_INFINITY),
        Bson::Double(f64::NAN),
        Bson::Int64(i64::MAX),
    ] {
        assert_eq!(err_code(bson!({ "$add": ["$d", n.clone()] }), &root), 15, "{n:?}");
        assert_eq!(err_code(bson!({ "$add": [n.clone(), "$d"] }), &root), 15, "{n:?}");
    }
    assert_eq!(err_code(bson!({ "$add": ["$d", 820, dec("1e5000")] }), &root), 15);
    // In range: decimals round half to even, doubles round half away from zero (llround).
    assert_eq!(ev(bson!({ "$add": ["$d", dec("819.5359123621083")] }), &root), Some(date(1_548_833_410_957)));
    assert_eq!(ev(bson!({ "$add": ["$d", 819.536] }), &root), Some(date(1_548_833_410_957)));
    assert_eq!(ev(bson!({ "$add": [date(0), dec("0.5")] }), &doc! {}), Some(date(0)));
    assert_eq!(ev(bson!({ "$add": [date(0), 0.5] }), &doc! {}), Some(date(1)));
    // The extreme representable dates themselves are fine.
    assert_eq!(ev(bson!({ "$add": [date(0), dec("9223372036854775807")] }), &doc! {}), Some(date(i64::MAX)));
    assert_eq!(ev(bson!({ "$add": [date(0), dec("-9223372036854775808")] }), &doc! {}), Some(date(i64::MIN)));
}

/// MongoDB's `$subtract` of a number from a date is `date - Milliseconds(coerceToLong(n))`:
/// a double outside [-2^63, 2^63) "Can't coerce out of range value .. to long" (31109);
/// doubles truncate, decimals round half to even, and a decimal that is not representable
/// becomes i64::MIN, which, like NumberLong(i64::MIN), "Cannot negate the minimum duration"
/// (DurationOverflow, 159).
#[test]
fn subtract_number_from_date_coerces_to_long_like_mongodb() {
    let root = doc! { "d": date(10_000) };
    for x in [1e300, -1e300, f64::INFINITY, f64::NEG_INFINITY, f64::NAN, 9_223_372_036_854_775_808.0] {
        assert_eq!(err_code(bson!({ "$subtract": ["$d", x] }), &root), 31109, "{x}");
    }
    for n in [dec("1e5000"), dec("-1e5000"), dec("NaN"), dec("Infinity"), Bson::Int64(i64::MIN)] {
        assert_eq!(err_code(bson!({ "$subtract": ["$d", n.clone()] }), &root), 159, "{n:?}");
    }
    assert_eq!(ev(bson!({ "$subtract": ["$d", 1000.7] }), &root), Some(date(9_000)));
    assert_eq!(ev(bson!({ "$subtract": ["$d", -1000.7] }), &root), Some(date(11_000)));
    assert_eq!(ev(bson!({ "$subtract": ["$d", dec("1000.5")] }), &root), Some(date(9_000)));
    assert_eq!(ev(bson!({ "$subtract": ["$d", dec("1001.5")] }), &root), Some(date(8_998)));
    assert_eq!(ev(bson!({ "$subtract": ["$d", dec("1e3")] }), &root), Some(date(9_000)));
}

/// $dateAdd / $dateSubtract: the amount must be a 64-bit integral number (5166405), and a
/// result outside the representable dates is an error (5976500), not a clamped date.
#[test]
fn date_add_huge_amounts_are_errors() {
    let root = doc! { "d": date(1_580_428_800_000) };
    for amount in [
        Bson::Double(1e300),
        Bson::Double(f64::INFINITY),
        Bson::Double(f64::NEG_INFINITY),
        Bson::Double(f64::NAN),
        dec("1e5000"),
        dec("NaN"),
    ] {
        for op in ["$dateAdd", "$dateSubtract"] {
            let e = bson!({ op: { "startDate": "$d", "unit": "millisecond", "amount": amount.clone() } });
            assert_eq!(err_code(e, &root), 5166405, "{op} {amount:?}");
        }
    }
    for unit in ["millisecond", "day", "year"] {
        let e = bson!({ "$dateAdd": { "startDate": "$d", "unit": unit, "amount": i64::MAX } });
        assert_eq!(err_code(e, &root), 5976500, "{unit}");
        let e = bson!({ "$dateSubtract": { "startDate": "$d", "unit": unit, "amount": i64::MIN + 1 } });
        assert_eq!(err_code(e, &root), 5976500, "{unit}");
    }
}

#[test]
fn multiply_divide_mod() {
    assert_eq!(ev0(bson!({ "$multiply": [2, 3, 4] })), Some(bson!(24)));
    assert_eq!(ev0(bson!({ "$multiply": [] })), Some(bson!(1)));
    assert_eq!(ev0(bson!({ "$divide": [9, 2] })), Some(bson!(4.5)));
    assert_eq!(err_code(bson!({ "$divide": [1, 0] }), &doc! {}), 2);
    assert_eq!(ev0(bson!({ "$divide": [null, 0] })), Some(Bson::Null));
    assert_eq!(ev0(bson!({ "$mod": [10, 3] })), Some(bson!(1)));
    assert_eq!(err_code(bson!({ "$mod": [10, 0] }), &doc! {}), 16610);
    assert_eq!(err_code(bson!({ "$mod": ["a", 2] }), &doc! {}), 16611);
    assert_eq!(err_code(bson!({ "$multiply": [2, "x"] }), &doc! {}), 14);
}

#[test]
fn unary_math() {
    assert_eq!(ev0(bson!({ "$abs": -5 })), Some(bson!(5)));
    assert_eq!(ev0(bson!({ "$abs": null })), Some(Bson::Null));
    assert_eq!(err_code(bson!({ "$abs": "x" }), &doc! {}), 28765);
    assert_eq!(err_code(bson!({ "$abs": i64::MIN }), &doc! {}), 28680);
    assert_eq!(ev0(bson!({ "$ceil": 7.80 })), Some(bson!(8.0)));
    assert_eq!(ev0(bson!({ "$floor": -2.5 })), Some(bson!(-3.0)));
    assert_eq!(ev0(bson!({ "$sqrt": 25 })), Some(bson!(5.0)));
    assert_eq!(err_code(bson!({ "$sqrt": -1 }), &doc! {}), 28714);
    assert_eq!(ev0(bson!({ "$exp": 0 })), Some(bson!(1.0)));
    assert_eq!(ev0(bson!({ "$ln": 1 })), Some(bson!(0.0)));
    assert_eq!(err_code(bson!({ "$ln": 0 }), &doc! {}), 28766);
    assert_eq!(ev0(bson!({ "$log10": 100 })), Some(bson!(2.0)));
    assert_eq!(ev0(bson!({ "$log": [100, 10] })), Some(bson!(2.0)));
    assert_eq!(err_code(bson!({ "$log": [100, 1] }), &doc! {}), 28759);
    assert_eq!(ev0(bson!({ "$log10": dec("1000") })), Some(dec("3")));
}

#[test]
fn pow_types() {
    assert_eq!(ev0(bson!({ "$pow": [5, 2] })), Some(bson!(25)));
    assert_eq!(ev0(bson!({ "$pow": [5, -2] })), Some(bson!(0.04)));
    assert_eq!(ev0(bson!({ "$pow": [-5, 0.5] })).map(|v| matches!(v, Bson::Double(d) if d.is_nan())), Some(true));
    assert_eq!(ev0(bson!({ "$pow": [2, 62] })), Some(Bson::Int64(1 << 62)));
    assert_eq!(ev0(bson!({ "$pow": [2, 63] })), Some(bson!(9.223_372_036_854_776e18)));
    assert_eq!(ev0(bson!({ "$pow": [2_i64, 3] })), Some(Bson::Int64(8)));
    assert_eq!(err_code(bson!({ "$pow": [0, -1] }), &doc! {}), 28764);
}

#[test]
fn round_and_trunc_operators() {
    assert_eq!(ev0(bson!({ "$round": [19.25, 1] })), Some(bson!(19.2)));
    assert_eq!(ev0(bson!({ "$round": [28.73, -1] })), Some(bson!(30.0)));
    assert_eq!(ev0(bson!({ "$round": 2.5 })), Some(bson!(2.0)));
    assert_eq!(ev0(bson!({ "$trunc": [19.25, 1] })), Some(bson!(19.2)));
    assert_eq!(ev0(bson!({ "$trunc": [1234, -2] })), Some(bson!(1200)));
    assert_eq!(ev0(bson!({ "$round": [null, 1] })), Some(Bson::Null));
    assert_eq!(err_code(bson!({ "$round": [1.5, 1.5] }), &doc! {}), 51082);
    assert_eq!(err_code(bson!({ "$round": [1.5, 101] }), &doc! {}), 51083);
    assert_eq!(err_code(bson!({ "$round": ["a", 1] }), &doc! {}), 51081);
}

// ---------------- comparison / boolean / conditional ----------------

#[test]
fn comparison_uses_bson_order() {
    assert_eq!(ev0(bson!({ "$eq": [1, 1.0] })), Some(bson!(true)));
    assert_eq!(ev0(bson!({ "$cmp": ["a", 1] })), Some(bson!(1)));
    assert_eq!(ev0(bson!({ "$lt": [null, 0] })), Some(bson!(true)));
    assert_eq!(ev(bson!({ "$eq": ["$missing", null] }), &doc! {}), Some(bson!(false)));
    assert_eq!(ev(bson!({ "$lt": ["$missing", null] }), &doc! {}), Some(bson!(true)));
    assert_eq!(ev0(bson!({ "$gt": [[1, 2], [1]] })), Some(bson!(true)));
    assert_eq!(ev0(bson!({ "$gte": [{ "a": 1 }, { "a": 1 }] })), Some(bson!(true)));
    assert_eq!(ev0(bson!({ "$ne": [dec("1.0"), 1] })), Some(bson!(false)));
    assert_eq!(err_code(bson!({ "$eq": [1] }), &doc! {}), 16020);
}

#[test]
fn boolean_operators() {
    assert_eq!(ev0(bson!({ "$and": [1, "green"] })), Some(bson!(true)));
    assert_eq!(ev0(bson!({ "$and": [] })), Some(bson!(true)));
    assert_eq!(ev0(bson!({ "$and": [[null], [false], [0]] })), Some(bson!(true)));
    assert_eq!(ev0(bson!({ "$and": [null, true] })), Some(bson!(false)));
    assert_eq!(ev0(bson!({ "$or": [0, false, null] })), Some(bson!(false)));
    assert_eq!(ev0(bson!({ "$or": [] })), Some(bson!(false)));
    assert_eq!(ev0(bson!({ "$not": [[false]] })), Some(bson!(false)));
    assert_eq!(ev0(bson!({ "$not": [0] })), Some(bson!(true)));
}

#[test]
fn conditional_operators() {
    let root = doc! { "qty": 300 };
    assert_eq!(
        ev(bson!({ "$cond": { "if": { "$gte": ["$qty", 250] }, "then": 30, "else": 20 } }), &root),
        Some(bson!(30))
    );
    assert_eq!(ev(bson!({ "$cond": [{ "$lt": ["$qty", 250] }, 30, 20] }), &root), Some(bson!(20)));
    assert_eq!(err_code(bson!({ "$cond": { "if": 1, "then": 2 } }), &root), 17082);
    assert_eq!(err_code(bson!({ "$cond": { "if": 1, "then": 2, "else": 3, "x": 4 } }), &root), 17083);
    assert_eq!(ev(bson!({ "$ifNull": ["$description", "Unspecified"] }), &root), Some(bson!("Unspecified")));
    assert_eq!(ev(bson!({ "$ifNull": ["$a", null, "$qty"] }), &root), Some(bson!(300)));
    assert_eq!(ev(bson!({ "$ifNull": ["$a", "$b"] }), &root), None);
    assert_eq!(err_code(bson!({ "$ifNull": ["$a"] }), &root), 1257300);
    let sw = bson!({ "$switch": { "branches": [
        { "case": { "$gte": ["$qty", 500] }, "then": "big" },
        { "case": { "$gte": ["$qty", 100] }, "then": "medium" } ], "default": "small" } });
    assert_eq!(ev(sw, &root), Some(bson!("medium")));
    let no_default = bson!({ "$switch": { "branches": [ { "case": false, "then": 1 } ] } });
    assert_eq!(err_code(no_default, &root), 40066);
    assert_eq!(err_code(bson!({ "$switch": { "branches": [] } }), &root), 40068);
}

// ---------------- strings ----------------

#[test]
fn string_operators() {
    assert_eq!(ev0(bson!({ "$concat": ["a", "b", "c"] })), Some(bson!("abc")));
    assert_eq!(ev0(bson!({ "$concat": ["a", null] })), Some(Bson::Null));
    assert_eq!(err_code(bson!({ "$concat": ["a", 1] }), &doc! {}), 16702);
    assert_eq!(ev0(bson!({ "$toUpper": "abc" })), Some(bson!("ABC")));
    assert_eq!(ev0(bson!({ "$toLower": null })), Some(bson!("")));
    assert_eq!(ev0(bson!({ "$toLower": 1.5 })), Some(bson!("1.5")));
    assert_eq!(ev0(bson!({ "$substr": ["hello", 1, 3] })), Some(bson!("ell")));
    assert_eq!(ev0(bson!({ "$substrBytes": ["hello", 1, -1] })), Some(bson!("ello")));
    assert_eq!(err_code(bson!({ "$substrBytes": ["éa", 1, 1] }), &doc! {}), 28656);
    assert_eq!(ev0(bson!({ "$substrCP": ["cafétéria", 0, 5] })), Some(bson!("cafét")));
    assert_eq!(ev0(bson!({ "$strLenBytes": "é" })), Some(bson!(2)));
    assert_eq!(ev0(bson!({ "$strLenCP": "é" })), Some(bson!(1)));
    assert_eq!(err_code(bson!({ "$strLenCP": null }), &doc! {}), 34471);
    assert_eq!(ev0(bson!({ "$split": ["June-15-2013", "-"] })), Some(bson!(["June", "15", "2013"])));
    assert_eq!(ev0(bson!({ "$split": ["a", "-"] })), Some(bson!(["a"])));
    assert_eq!(err_code(bson!({ "$split": ["a", ""] }), &doc! {}), 40087);
    assert_eq!(ev0(bson!({ "$trim": { "input": "  ggggoodbyeeeee\n" } })), Some(bson!("ggggoodbyeeeee")));
    assert_eq!(ev0(bson!({ "$ltrim": { "input": "ggggoodbyeeeee", "chars": "g" } })), Some(bson!("oodbyeeeee")));
    assert_eq!(ev0(bson!({ "$rtrim": { "input": "ggggoodbyeeeee", "chars": "ye" } })), Some(bson!("ggggoodb")));
    assert_eq!(ev0(bson!({ "$indexOfBytes": ["cafeteria", "e"] })), Some(bson!(3)));
    assert_eq!(ev0(bson!({ "$indexOfBytes": ["cafétéria", "t"] })), Some(bson!(5)));
    assert_eq!(ev0(bson!({ "$indexOfCP": ["cafétéria", "t"] })), Some(bson!(4)));
    assert_eq!(ev0(bson!({ "$indexOfCP": ["abc", "b", 2] })), Some(bson!(-1)));
    assert_eq!(ev0(bson!({ "$indexOfBytes": [null, "b"] })), Some(Bson::Null));
    assert_eq!(ev0(bson!({ "$strcasecmp": ["ABC", "abc"] })), Some(bson!(0)));
    assert_eq!(ev0(bson!({ "$strcasecmp": ["a", "B"] })), Some(bson!(-1)));
    assert_eq!(
        ev0(bson!({ "$replaceOne": { "input": "blue paint", "find": "blue", "replacement": "red" } })),
        Some(bson!("red paint"))
    );
    assert_eq!(ev0(bson!({ "$replaceAll": { "input": "a.b.c", "find": ".", "replacement": "" } })), Some(bson!("abc")));
    assert_eq!(ev0(bson!({ "$replaceAll": { "input": "ab", "find": "", "replacement": "-" } })), Some(bson!("-a-b-")));
    assert_eq!(ev0(bson!({ "$replaceAll": { "input": null, "find": "a", "replacement": "b" } })), Some(Bson::Null));
    assert_eq!(err_code(bson!({ "$replaceAll": { "input": 1, "find": "a", "replacement": "b" } }), &doc! {}), 51746);
}

#[test]
fn regex_operators() {
    let root = doc! { "description": "Single LINE description." };
    assert_eq!(
        ev(bson!({ "$regexMatch": { "input": "$description", "regex": "line", "options": "i" } }), &root),
        Some(bson!(true))
    );
    assert_eq!(ev(bson!({ "$regexMatch": { "input": "$description", "regex": "line" } }), &root), Some(bson!(false)));
    assert_eq!(ev(bson!({ "$regexMatch": { "input": "$nothing", "regex": "line" } }), &root), Some(bson!(false)));
    assert_eq!(
        ev(bson!({ "$regexFind": { "input": "$description", "regex": "(L)(I)(X)?" } }), &root),
        Some(bson!({ "match": "LI", "idx": 7, "captures": ["L", "I", null] }))
    );
    assert_eq!(ev(bson!({ "$regexFind": { "input": "abc", "regex": "z" } }), &root), Some(Bson::Null));
    assert_eq!(
        ev0(bson!({ "$regexFindAll": { "input": "héllo wörld", "regex": "[a-z]ö?" } })).map(|v| {
            match v {
                Bson::Array(a) => a.len(),
                _ => 0,
            }
        }),
        Some(8)
    );
    assert_eq!(
        ev0(bson!({ "$regexFindAll": { "input": "a1b22", "regex": "[0-9]+" } })),
        Some(bson!([{ "match": "1", "idx": 1, "captures": [] }, { "match": "22", "idx": 3, "captures": [] }]))
    );
    let re =
        Bson::RegularExpression(bson::Regex { pattern: "^S".try_into().unwrap(), options: "i".try_into().unwrap() });
    assert_eq!(
        ev(bson!({ "$regexMatch": { "input": "$description", "regex": re.clone() } }), &root),
        Some(bson!(true))
    );
    assert_eq!(err_code(bson!({ "$regexMatch": { "input": "x", "regex": re, "options": "m" } }), &root), 51107);
    assert_eq!(err_code(bson!({ "$regexMatch": { "input": "x", "regex": "(" } }), &root), 51111);
    assert_eq!(err_code(bson!({ "$regexMatch": { "input": "x", "regex": "a", "options": "q" } }), &root), 51108);
    assert_eq!(err_code(bson!({ "$regexMatch": { "input": 1, "regex": "a" } }), &root), 51104);
}

// ---------------- arrays ----------------

#[test]
fn array_access_operators() {
    let root = doc! { "favorites": ["chocolate", "cake", "butter", "apples"] };
    assert_eq!(ev(bson!({ "$arrayElemAt": ["$favorites", 0] }), &root), Some(bson!("chocolate")));
    assert_eq!(ev(bson!({ "$arrayElemAt": ["$favorites", -1] }), &root), Some(bson!("apples")));
    assert_eq!(ev(bson!({ "$arrayElemAt": ["$favorites", 10] }), &root), None);
    assert_eq!(ev(bson!({ "$first": "$favorites" }), &root), Some(bson!("chocolate")));
    assert_eq!(ev(bson!({ "$last": "$favorites" }), &root), Some(bson!("apples")));
    assert_eq!(ev(bson!({ "$first": [[]] }), &root), None);
    assert_eq!(ev(bson!({ "$last": "$missing" }), &root), Some(Bson::Null));
    assert_eq!(err_code(bson!({ "$first": "x" }), &root), 28689);
    assert_eq!(err_code(bson!({ "$arrayElemAt": ["$favorites", 1.5] }), &root), 28691);
    assert_eq!(ev(bson!({ "$size": "$favorites" }), &root), Some(bson!(4)));
    assert_eq!(err_code(bson!({ "$size": "$missing" }), &root), 17124);
    assert_eq!(ev(bson!({ "$in": ["cake", "$favorites"] }), &root), Some(bson!(true)));
    assert_eq!(err_code(bson!({ "$in": ["cake", "$missing"] }), &root), 40081);
    assert_eq!(ev(bson!({ "$isArray": ["$favorites"] }), &root), Some(bson!(true)));
    assert_eq!(ev(bson!({ "$indexOfArray": ["$favorites", "butter"] }), &root), Some(bson!(2)));
    assert_eq!(ev(bson!({ "$indexOfArray": ["$favorites", "butter", 0, 2] }), &root), Some(bson!(-1)));
    assert_eq!(ev(bson!({ "$indexOfArray": [null, "x"] }), &root), Some(Bson::Null));
    assert_eq!(
        ev(bson!({ "$reverseArray": "$favorites" }), &root),
        Some(bson!(["apples", "butter", "cake", "chocolate"]))
    );
}

#[test]
fn slice_concat_range_zip() {
    assert_eq!(ev0(bson!({ "$slice": [[1, 2, 3], 1, 1] })), Some(bson!([2])));
    assert_eq!(ev0(bson!({ "$slice": [[1, 2, 3], -2] })), Some(bson!([2, 3])));
    assert_eq!(ev0(bson!({ "$slice": [[1, 2, 3], 15, 2] })), Some(bson!([])));
    assert_eq!(ev0(bson!({ "$slice": [[1, 2, 3], -15, 2] })), Some(bson!([1, 2])));
    assert_eq!(err_code(bson!({ "$slice": [[1], 0, 0] }), &doc! {}), 28729);
    assert_eq!(
        ev0(bson!({ "$concatArrays": [["hello", " "], [["world"], "again"]] })),
        Some(bson!(["hello", " ", ["world"], "again"]))
    );
    assert_eq!(ev0(bson!({ "$concatArrays": [[1], null] })), Some(Bson::Null));
    assert_eq!(ev0(bson!({ "$range": [0, 10, 2] })), Some(bson!([0, 2, 4, 6, 8])));
    assert_eq!(ev0(bson!({ "$range": [10, 0, -2] })), Some(bson!([10, 8, 6, 4, 2])));
    assert_eq!(ev0(bson!({ "$range": [0, 10, -2] })), Some(bson!([])));
    assert_eq!(err_code(bson!({ "$range": [0, 10, 0] }), &doc! {}), 34449);
    assert_eq!(ev0(bson!({ "$zip": { "inputs": [["a"], ["b", "c"]] } })), Some(bson!([["a", "b"]])));
    assert_eq!(
        ev0(bson!({ "$zip": { "inputs": [[1], [2, 3]], "useLongestLength": true, "defaults": ["x", "y"] } })),
        Some(bson!([[1, 2], ["x", 3]]))
    );
    assert_eq!(err_code(bson!({ "$zip": { "inputs": [[1]], "defaults": [1] } }), &doc! {}), 34466);
}

#[test]
fn map_filter_reduce() {
    let root = doc! { "quizzes": [5, 6, 7], "items": [ { "price": 10 }, { "price": 100 }, { "price": 50 } ] };
    assert_eq!(
        ev(bson!({ "$map": { "input": "$quizzes", "as": "g", "in": { "$add": ["$$g", 2] } } }), &root),
        Some(bson!([7, 8, 9]))
    );
    assert_eq!(
        ev(bson!({ "$map": { "input": "$quizzes", "in": { "$multiply": ["$$this", 10] } } }), &root),
        Some(bson!([50, 60, 70]))
    );
    assert_eq!(ev(bson!({ "$map": { "input": "$none", "in": 1 } }), &root), Some(Bson::Null));
    assert_eq!(err_code(bson!({ "$map": { "input": 1, "in": 1 } }), &root), 16883);
    assert_eq!(
        ev(bson!({ "$filter": { "input": "$items", "as": "item", "cond": { "$gte": ["$$item.price", 50] } } }), &root),
        Some(bson!([{ "price": 100 }, { "price": 50 }]))
    );
    assert_eq!(
        ev(bson!({ "$filter": { "input": "$items", "cond": { "$gte": ["$$this.price", 10] }, "limit": 1 } }), &root),
        Some(bson!([{ "price": 10 }]))
    );
    assert_eq!(err_code(bson!({ "$filter": { "input": [1], "cond": true, "limit": 0 } }), &root), 327392);
    assert_eq!(
        ev(
            bson!({ "$reduce": { "input": "$quizzes", "initialValue": 0, "in": { "$add": ["$$value", "$$this"] } } }),
            &root
        ),
        Some(bson!(18))
    );
    assert_eq!(
        ev0(
            bson!({ "$reduce": { "input": ["a", "b", "c"], "initialValue": "", "in": { "$concat": ["$$value", "$$this"] } } })
        ),
        Some(bson!("abc"))
    );
    // $$this is not visible outside 'in'.
    assert_eq!(err_code(bson!({ "$reduce": { "input": "$$this", "initialValue": 0, "in": 1 } }), &root), 17276);
}

#[test]
fn sort_array_manual_examples() {
    let team = bson!([
        { "name": "pat", "age": 30, "address": { "street": "12 Baker St", "city": "London" } },
        { "name": "dallas", "age": 36, "address": { "street": "12 Cowper St", "city": "Palo Alto" } },
        { "name": "charlie", "age": 42, "address": { "street": "12 French St", "city": "New Brunswick" } }
    ]);
    let by_name = ev0(bson!({ "$sortArray": { "input": team.clone(), "sortBy": { "name": 1 } } })).unwrap();
    let names: Vec<_> = by_name
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_document().unwrap().get_str("name").unwrap().to_string())
        .collect();
    assert_eq!(names, ["charlie", "dallas", "pat"]);
    let by_city = ev0(bson!({ "$sortArray": { "input": team, "sortBy": { "address.city": -1 } } })).unwrap();
    let names: Vec<_> = by_city
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_document().unwrap().get_str("name").unwrap().to_string())
        .collect();
    assert_eq!(names, ["dallas", "charlie", "pat"]);
    assert_eq!(
        ev0(bson!({ "$sortArray": { "input": [1, "a", null, 3.5], "sortBy": -1 } })),
        Some(bson!(["a", 3.5, 1, null]))
    );
    assert_eq!(err_code(bson!({ "$sortArray": { "input": [1], "sortBy": 2 } }), &doc! {}), 2942506);
}

#[test]
fn n_operators_array_forms() {
    let root = doc! { "score": [1, 2, 3, null, 10, 5] };
    assert_eq!(ev(bson!({ "$maxN": { "n": 2, "input": "$score" } }), &root), Some(bson!([10, 5])));
    assert_eq!(ev(bson!({ "$minN": { "n": 3, "input": "$score" } }), &root), Some(bson!([1, 2, 3])));
    assert_eq!(ev(bson!({ "$firstN": { "n": 4, "input": "$score" } }), &root), Some(bson!([1, 2, 3, null])));
    assert_eq!(ev(bson!({ "$lastN": { "n": 2, "input": "$score" } }), &root), Some(bson!([10, 5])));
    assert_eq!(err_code(bson!({ "$maxN": { "n": 0, "input": [1] } }), &root), 5787908);
    assert_eq!(err_code(bson!({ "$maxN": { "n": 1.5, "input": [1] } }), &root), 5787903);
    assert_eq!(err_code(bson!({ "$maxN": { "n": 1, "input": 3 } }), &root), 5788200);
}

#[test]
fn set_operators() {
    assert_eq!(ev0(bson!({ "$setUnion": [["a", "b", "a"], ["c", "a"]] })), Some(bson!(["a", "b", "c"])));
    assert_eq!(ev0(bson!({ "$setIntersection": [["a", "b", "a"], ["b", "a"]] })), Some(bson!(["a", "b"])));
    assert_eq!(ev0(bson!({ "$setIntersection": [] })), Some(bson!([])));
    assert_eq!(ev0(bson!({ "$setDifference": [["a", "b", "a", "c"], ["b"]] })), Some(bson!(["a", "c"])));
    assert_eq!(ev0(bson!({ "$setEquals": [["a", "b", "a"], ["b", "a"]] })), Some(bson!(true)));
    assert_eq!(ev0(bson!({ "$setEquals": [[1], [1.0]] })), Some(bson!(true)));
    assert_eq!(ev0(bson!({ "$setIsSubset": [["a", "b", "a"], ["b", "a", "c"]] })), Some(bson!(true)));
    assert_eq!(ev0(bson!({ "$setUnion": [["a"], null] })), Some(Bson::Null));
    assert_eq!(err_code(bson!({ "$setIsSubset": [null, [1]] }), &doc! {}), 17046);
    assert_eq!(err_code(bson!({ "$setEquals": [[1]] }), &doc! {}), 17045);
    assert_eq!(ev0(bson!({ "$anyElementTrue": [[true, false]] })), Some(bson!(true)));
    assert_eq!(ev0(bson!({ "$anyElementTrue": [[]] })), Some(bson!(false)));
    assert_eq!(ev0(bson!({ "$allElementsTrue": [[true, 1, "x"]] })), Some(bson!(true)));
    assert_eq!(ev0(bson!({ "$allElementsTrue": [[null, false, 0]] })), Some(bson!(false)));
    assert_eq!(err_code(bson!({ "$allElementsTrue": [null] }), &doc! {}), 17040);
}

#[test]
fn accumulator_expression_forms() {
    let root = doc! { "quizzes": [10, 6, 7], "labs": [5, 8], "final": 80, "midterm": 75 };
    assert_eq!(ev(bson!({ "$sum": "$quizzes" }), &root), Some(bson!(23)));
    assert_eq!(ev(bson!({ "$avg": "$labs" }), &root), Some(bson!(6.5)));
    assert_eq!(ev(bson!({ "$max": ["$final", "$midterm"] }), &root), Some(bson!(80)));
    assert_eq!(ev(bson!({ "$min": "$quizzes" }), &root), Some(bson!(6)));
    assert_eq!(ev(bson!({ "$sum": "$final" }), &root), Some(bson!(80)));
    assert_eq!(ev(bson!({ "$sum": "$missing" }), &root), Some(bson!(0)));
    assert_eq!(ev(bson!({ "$avg": [] }), &root), Some(Bson::Null));
    assert_eq!(ev(bson!({ "$max": [] }), &root), Some(Bson::Null));
    assert_eq!(ev(bson!({ "$stdDevPop": [[1, 2, 3, 4]] }), &root), Some(bson!(1.118033988749895)));
    assert_eq!(ev(bson!({ "$stdDevSamp": [[1]] }), &root), Some(Bson::Null));
    assert_eq!(
        ev(bson!({ "$mergeObjects": [{ "a": 1, "b": 1 }, null, { "b": 2, "c": 3 }] }), &root),
        Some(bson!({ "a": 1, "b": 2, "c": 3 }))
    );
    assert_eq!(err_code(bson!({ "$mergeObjects": [{ "a": 1 }, 5] }), &root), 40400);
}

// ---------------- types / conversion ----------------

#[test]
fn type_and_is_number() {
    assert_eq!(ev0(bson!({ "$type": "a" })), Some(bson!("string")));
    assert_eq!(ev(bson!({ "$type": "$nothing" }), &doc! {}), Some(bson!("missing")));
    assert_eq!(ev0(bson!({ "$type": [[1]] })), Some(bson!("array")));
    assert_eq!(ev0(bson!({ "$type": dec("1") })), Some(bson!("decimal")));
    assert_eq!(ev0(bson!({ "$isNumber": 1_i64 })), Some(bson!(true)));
    assert_eq!(ev0(bson!({ "$isNumber": "1" })), Some(bson!(false)));
}

#[test]
fn convert_manual_tables() {
    // $toString manual examples.
    assert_eq!(ev0(bson!({ "$toString": true })), Some(bson!("true")));
    assert_eq!(ev0(bson!({ "$toString": 2.5 })), Some(bson!("2.5")));
    assert_eq!(ev0(bson!({ "$toString": 2 })), Some(bson!("2")));
    assert_eq!(ev0(bson!({ "$toString": 1000_i64 })), Some(bson!("1000")));
    assert_eq!(ev0(bson!({ "$toString": date(1_522_169_931_538) })), Some(bson!("2018-03-27T16:58:51.538Z")));
    // $toInt / $toLong / $toDouble / $toDecimal / $toBool manual examples.
    assert_eq!(ev0(bson!({ "$toInt": 1.99999 })), Some(bson!(1)));
    assert_eq!(ev0(bson!({ "$toInt": "-2" })), Some(bson!(-2)));
    assert_eq!(ev0(bson!({ "$toLong": date(1000) })), Some(Bson::Int64(1000)));
    assert_eq!(ev0(bson!({ "$toDouble": "-5.5" })), Some(bson!(-5.5)));
    assert_eq!(ev0(bson!({ "$toDouble": false })), Some(bson!(0.0)));
    assert_eq!(ev0(bson!({ "$toDecimal": 2.5 })), Some(dec("2.50000000000000")));
    assert_eq!(ev0(bson!({ "$toDecimal": "-5.5" })), Some(dec("-5.5")));
    assert_eq!(ev0(bson!({ "$toBool": "false" })), Some(bson!(true)));
    assert_eq!(ev0(bson!({ "$toBool": 0 })), Some(bson!(false)));
    assert_eq!(ev0(bson!({ "$toBool": null })), Some(Bson::Null));
    assert_eq!(ev0(bson!({ "$toDate": "2018-03-03T04:01:00Z" })), Some(date(1_520_049_660_000)));
    assert_eq!(ev0(bson!({ "$toDate": 120000000000.5_f64 })), Some(date(120_000_000_000)));
    let oid = bson::oid::ObjectId::parse_str("5ab9cbfa31c2ab715d42129e").unwrap();
    assert_eq!(ev0(bson!({ "$toObjectId": "5ab9cbfa31c2ab715d42129e" })), Some(Bson::ObjectId(oid)));
    assert_eq!(ev0(bson!({ "$toString": Bson::ObjectId(oid) })), Some(bson!("5ab9cbfa31c2ab715d42129e")));
    // Errors are ConversionFailure (241) unless caught by onError.
    assert_eq!(err_code(bson!({ "$toInt": "abc" }), &doc! {}), 241);
    assert_eq!(err_code(bson!({ "$toInt": 3e10 }), &doc! {}), 241);
    assert_eq!(err_code(bson!({ "$toDouble": "0x6400" }), &doc! {}), 241);
    assert_eq!(err_code(bson!({ "$toDate": 5 }), &doc! {}), 241);
    assert_eq!(ev0(bson!({ "$convert": { "input": "abc", "to": "int", "onError": -1 } })), Some(bson!(-1)));
    assert_eq!(ev0(bson!({ "$convert": { "input": null, "to": "int", "onNull": 0 } })), Some(bson!(0)));
    assert_eq!(ev0(bson!({ "$convert": { "input": 5, "to": 2 } })), Some(bson!("5")));
    assert_eq!(err_code(bson!({ "$convert": { "input": 5, "to": "nope" } }), &doc! {}), 2);
    assert_eq!(err_code(bson!({ "$convert": { "input": 5 } }), &doc! {}), 9);
    assert_eq!(err_code(bson!({ "$toInt": [1, 2] }), &doc! {}), 50723);
}

// ---------------- objects ----------------

#[test]
fn object_operators() {
    assert_eq!(
        ev0(bson!({ "$objectToArray": { "item": "foo", "qty": 25 } })),
        Some(bson!([{ "k": "item", "v": "foo" }, { "k": "qty", "v": 25 }]))
    );
    assert_eq!(
        ev0(bson!({ "$arrayToObject": [[["item", "abc123"], ["qty", 25]]] })),
        Some(bson!({ "item": "abc123", "qty": 25 }))
    );
    assert_eq!(
        ev0(bson!({ "$arrayToObject": [[{ "k": "a", "v": 1 }, { "k": "a", "v": 2 }]] })),
        Some(bson!({ "a": 2 }))
    );
    assert_eq!(err_code(bson!({ "$arrayToObject": [[["a"]]] }), &doc! {}), 40397);
    let root = doc! { "price.usd": 45, "qty": 3, "$x": 1 };
    assert_eq!(ev(bson!({ "$getField": "price.usd" }), &root), Some(bson!(45)));
    assert_eq!(ev(bson!({ "$getField": { "$literal": "$x" } }), &root), Some(bson!(1)));
    assert_eq!(ev(bson!({ "$getField": { "field": "qty", "input": "$$CURRENT" } }), &root), Some(bson!(3)));
    assert_eq!(ev(bson!({ "$getField": { "field": "a", "input": null } }), &root), Some(Bson::Null));
    assert_eq!(err_code(bson!({ "$getField": "$qty" }), &root), 5654600);
    assert_eq!(
        ev(
            bson!({ "$setField": { "field": "price.usd", "input": "$$ROOT", "value": 50 } }),
            &doc! { "price.usd": 45, "q": 1 }
        ),
        Some(bson!({ "price.usd": 50, "q": 1 }))
    );
    assert_eq!(
        ev(bson!({ "$unsetField": { "field": "q", "input": "$$ROOT" } }), &doc! { "price.usd": 45, "q": 1 }),
        Some(bson!({ "price.usd": 45 }))
    );
    assert_eq!(err_code(bson!({ "$setField": { "field": "a", "input": 5, "value": 1 } }), &root), 4161105);
}

/// $indexOfCP / $indexOfBytes with an end index: the match must lie entirely before the
/// end index (MongoDB's indexofcp.js checks each result against $indexOfCP on the
/// $substrCP of [start, end)).
#[test]
fn index_of_match_must_end_before_the_end_index() {
    assert_eq!(ev0(bson!({ "$indexOfCP": ["appleple", "ple", 4, 6] })), Some(bson!(-1)));
    assert_eq!(ev0(bson!({ "$indexOfCP": ["appleple", "ple", 4, 8] })), Some(bson!(5)));
    assert_eq!(ev0(bson!({ "$indexOfCP": ["appleple", "ple", 4, 100] })), Some(bson!(5)));
    assert_eq!(ev0(bson!({ "$indexOfCP": ["ab∫de", "d", 0, 3] })), Some(bson!(-1)));
    assert_eq!(ev0(bson!({ "$indexOfCP": ["ab∫de", "d", 0, 4] })), Some(bson!(3)));
    assert_eq!(ev0(bson!({ "$indexOfCP": ["ab∫de", "∫d", 0, 3] })), Some(bson!(-1)));
    assert_eq!(ev0(bson!({ "$indexOfCP": ["ab∫de", "∫d", 0, 4] })), Some(bson!(2)));
    assert_eq!(ev0(bson!({ "$indexOfCP": ["abcbabc", "b", 2, 4] })), Some(bson!(3)));
    assert_eq!(ev0(bson!({ "$indexOfCP": ["πbƒ\0d\0", "d", 5, 6] })), Some(bson!(-1)));
    assert_eq!(ev0(bson!({ "$indexOfCP": ["abc", "", 1] })), Some(bson!(1)));
    assert_eq!(ev0(bson!({ "$indexOfCP": ["", ""] })), Some(bson!(0)));
    assert_eq!(ev0(bson!({ "$indexOfCP": ["a√cb", "b", 3, 1] })), Some(bson!(-1)));
    // $indexOfBytes follows the same rule on byte offsets ("∫" is 3 bytes).
    assert_eq!(ev0(bson!({ "$indexOfBytes": ["appleple", "ple", 4, 6] })), Some(bson!(-1)));
    assert_eq!(ev0(bson!({ "$indexOfBytes": ["appleple", "ple", 4, 8] })), Some(bson!(5)));
    assert_eq!(ev0(bson!({ "$indexOfBytes": ["ab∫de", "d", 0, 5] })), Some(bson!(-1)));
    assert_eq!(ev0(bson!({ "$indexOfBytes": ["ab∫de", "d", 0, 6] })), Some(bson!(5)));
    assert_eq!(ev0(bson!({ "$indexOfBytes": ["abc", "", 3] })), Some(bson!(3)));
}

// ---------------- dates ----------------

#[test]
fn date_parts_manual_example() {
    // $year etc. manual example: ISODate("2014-01-01T08:15:39.736Z").
    let root = doc! { "date": date(1_388_564_139_736) };
    let parts = [
        ("$year", 2014),
        ("$month", 1),
        ("$dayOfMonth", 1),
        ("$hour", 8),
        ("$minute", 15),
        ("$second", 39),
        ("$millisecond", 736),
        ("$dayOfYear", 1),
        ("$dayOfWeek", 4),
        ("$week", 0),
        ("$isoWeek", 1),
        ("$isoDayOfWeek", 3),
    ];
    for (op, want) in parts {
        assert_eq!(ev(bson!({ op: "$date" }), &root), Some(bson!(want)), "{op}");
    }
    // $isoWeekYear is the one date part MongoDB returns as a long (`TimeZone::isoYear`).
    assert_eq!(ev(bson!({ "$isoWeekYear": "$date" }), &root), Some(Bson::Int64(2014)));
    assert_eq!(ev(bson!({ "$hour": { "date": "$date", "timezone": "+05:30" } }), &root), Some(bson!(13)));
    assert_eq!(ev(bson!({ "$minute": { "date": "$date", "timezone": "-0430" } }), &root), Some(bson!(45)));
    assert_eq!(ev(bson!({ "$year": ["$date"] }), &root), Some(bson!(2014)));
    assert_eq!(ev(bson!({ "$year": "$none" }), &root), Some(Bson::Null));
    assert_eq!(err_code(bson!({ "$year": "x" }), &root), 16006);
    // Olson names are looked up case-sensitively: an unknown spelling is error 40485.
    assert_eq!(err_code(bson!({ "$hour": { "date": "$date", "timezone": "america/new_york" } }), &root), 40485);
    // 2005-01-01 is a Saturday: ISO week 53 of 2004.
    let r2 = doc! { "d": date(1_104_537_600_000) };
    assert_eq!(ev(bson!({ "$isoWeek": "$d" }), &r2), Some(bson!(53)));
    assert_eq!(ev(bson!({ "$isoWeekYear": "$d" }), &r2), Some(Bson::Int64(2004)));
}

#[test]
fn date_to_string_and_back() {
    let root = doc! { "date": date(1_388_564_139_736) };
    assert_eq!(
        ev(bson!({ "$dateToString": { "format": "%Y-%m-%d", "date": "$date" } }), &root),
        Some(bson!("2014-01-01"))
    );
    assert_eq!(
        ev(bson!({ "$dateToString": { "format": "%H:%M:%S:%L%z", "date": "$date", "timezone": "+04:30" } }), &root),
        Some(bson!("12:45:39:736+0430"))
    );
    assert_eq!(
        ev(bson!({ "$dateToString": { "format": "%j %w %u %U %V %G %Z", "date": "$date" } }), &root),
        // %Z is a plain number of minutes (the manual's $dateToString example shows "270").
        Some(bson!("001 4 3 00 01 2014 0"))
    );
    assert_eq!(ev(bson!({ "$dateToString": { "date": "$date" } }), &root), Some(bson!("2014-01-01T08:15:39.736Z")));
    assert_eq!(ev(bson!({ "$dateToString": { "date": "$none", "onNull": "n/a" } }), &root), Some(bson!("n/a")));
    assert_eq!(err_code(bson!({ "$dateToString": { "date": "$date", "format": "%q" } }), &root), 18536);
    assert_eq!(
        ev0(bson!({ "$dateFromString": { "dateString": "2017-02-08T12:10:40.787", "timezone": "+05:00" } })),
        Some(date(1_486_537_840_787))
    );
    assert_eq!(
        ev0(bson!({ "$dateFromString": { "dateString": "15-06-2018", "format": "%d-%m-%Y" } })),
        Some(date(1_529_020_800_000))
    );
    assert_eq!(ev0(bson!({ "$dateFromString": { "dateString": "not a date", "onError": "bad" } })), Some(bson!("bad")));
    assert_eq!(err_code(bson!({ "$dateFromString": { "dateString": "not a date" } }), &doc! {}), 241);
    assert_eq!(ev0(bson!({ "$dateFromString": { "dateString": null, "onNull": 1 } })), Some(bson!(1)));
}

/// MongoDB returns $isoWeekYear as a long (`TimeZone::isoYear` is a `long long`) while
/// $isoWeek, $isoDayOfWeek and every $dateToParts field (iso8601 too) are ints.
#[test]
fn iso_week_year_is_a_long_other_iso_parts_are_ints() {
    // 2005-01-01 (a Saturday) is in ISO week 53 of 2004.
    let root = doc! { "d": date(1_104_537_600_000) };
    assert_eq!(ev(bson!({ "$isoWeekYear": "$d" }), &root), Some(Bson::Int64(2004)));
    assert_eq!(ev(bson!({ "$isoWeekYear": { "date": "$d", "timezone": "+01:00" } }), &root), Some(Bson::Int64(2004)));
    assert_eq!(ev(bson!({ "$isoWeekYear": { "date": "$d", "timezone": "-01:00" } }), &root), Some(Bson::Int64(2004)));
    assert_eq!(ev(bson!({ "$isoWeekYear": "$none" }), &root), Some(Bson::Null));
    assert_eq!(ev(bson!({ "$isoWeek": "$d" }), &root), Some(Bson::Int32(53)));
    assert_eq!(ev(bson!({ "$isoDayOfWeek": "$d" }), &root), Some(Bson::Int32(6)));
    assert_eq!(ev(bson!({ "$year": "$d" }), &root), Some(Bson::Int32(2005)));
    assert_eq!(
        ev(bson!({ "$dateToParts": { "date": "$d", "iso8601": true } }), &root),
        Some(bson!({
            "isoWeekYear": Bson::Int32(2004), "isoWeek": Bson::Int32(53), "isoDayOfWeek": Bson::Int32(6),
            "hour": 0, "minute": 0, "second": 0, "millisecond": 0
        }))
    );
}

#[test]
fn date_parts_round_trip() {
    let root = doc! { "date": date(1_388_564_139_736) };
    assert_eq!(
        ev(bson!({ "$dateToParts": { "date": "$date" } }), &root),
        Some(bson!({ "year": 2014, "month": 1, "day": 1, "hour": 8, "minute": 15, "second": 39, "millisecond": 736 }))
    );
    assert_eq!(
        ev(bson!({ "$dateToParts": { "date": "$date", "iso8601": true } }), &root),
        Some(
            bson!({ "isoWeekYear": 2014, "isoWeek": 1, "isoDayOfWeek": 3, "hour": 8, "minute": 15, "second": 39, "millisecond": 736 })
        )
    );
    assert_eq!(
        ev0(
            bson!({ "$dateFromParts": { "year": 2014, "month": 1, "day": 1, "hour": 8, "minute": 15, "second": 39, "millisecond": 736 } })
        ),
        Some(date(1_388_564_139_736))
    );
    // Out-of-range values carry over: month 14 of 2016 is February 2017.
    assert_eq!(
        ev0(bson!({ "$dateFromParts": { "year": 2016, "month": 14, "day": 1 } })),
        Some(date(1_485_907_200_000))
    );
    assert_eq!(
        ev0(bson!({ "$dateFromParts": { "isoWeekYear": 2017, "isoWeek": 1, "isoDayOfWeek": 1 } })),
        Some(date(1_483_315_200_000))
    );
    assert_eq!(err_code(bson!({ "$dateFromParts": { "year": 0 } }), &doc! {}), 40523);
    assert_eq!(err_code(bson!({ "$dateFromParts": { "year": 2000, "isoWeek": 1 } }), &doc! {}), 40489);
    assert_eq!(err_code(bson!({ "$dateFromParts": { "month": 1 } }), &doc! {}), 40516);
}

#[test]
fn date_add_diff_trunc() {
    // 2020-01-31T00:00:00Z + 1 month = 2020-02-29 (clamped to month end).
    let jan31 = date(1_580_428_800_000);
    assert_eq!(
        ev(bson!({ "$dateAdd": { "startDate": "$d", "unit": "month", "amount": 1 } }), &doc! { "d": jan31.clone() }),
        Some(date(1_582_934_400_000))
    );
    assert_eq!(
        ev(bson!({ "$dateAdd": { "startDate": "$d", "unit": "day", "amount": 2 } }), &doc! { "d": jan31.clone() }),
        Some(date(1_580_601_600_000))
    );
    assert_eq!(
        ev(
            bson!({ "$dateSubtract": { "startDate": "$d", "unit": "hour", "amount": 1 } }),
            &doc! { "d": jan31.clone() }
        ),
        Some(date(1_580_425_200_000))
    );
    assert_eq!(
        err_code(
            bson!({ "$dateAdd": { "startDate": "$d", "unit": "day", "amount": 1.5 } }),
            &doc! { "d": jan31.clone() }
        ),
        5166405
    );
    // $dateDiff counts boundaries: 2020-12-31 -> 2021-01-01 is 1 year.
    let root = doc! { "a": date(1_609_372_800_000), "b": date(1_609_459_200_000) };
    assert_eq!(
        ev(bson!({ "$dateDiff": { "startDate": "$a", "endDate": "$b", "unit": "year" } }), &root),
        Some(Bson::Int64(1))
    );
    assert_eq!(
        ev(bson!({ "$dateDiff": { "startDate": "$a", "endDate": "$b", "unit": "day" } }), &root),
        Some(Bson::Int64(1))
    );
    assert_eq!(
        ev(bson!({ "$dateDiff": { "startDate": "$a", "endDate": "$b", "unit": "hour" } }), &root),
        Some(Bson::Int64(24))
    );
    // Thursday 2020-12-31 to Friday 2021-01-01: no Sunday boundary; a Friday boundary with startOfWeek fri.
    assert_eq!(
        ev(bson!({ "$dateDiff": { "startDate": "$a", "endDate": "$b", "unit": "week" } }), &root),
        Some(Bson::Int64(0))
    );
    assert_eq!(
        ev(bson!({ "$dateDiff": { "startDate": "$a", "endDate": "$b", "unit": "week", "startOfWeek": "FRI" } }), &root),
        Some(Bson::Int64(1))
    );
    assert_eq!(
        err_code(bson!({ "$dateDiff": { "startDate": "$a", "endDate": "$b", "unit": "decade" } }), &root),
        5439014
    );
    // $dateTrunc manual-style: 2021-03-20T11:30:05Z truncated.
    let t = doc! { "d": date(1_616_239_805_000) };
    assert_eq!(ev(bson!({ "$dateTrunc": { "date": "$d", "unit": "hour" } }), &t), Some(date(1_616_238_000_000)));
    assert_eq!(ev(bson!({ "$dateTrunc": { "date": "$d", "unit": "month" } }), &t), Some(date(1_614_556_800_000)));
    assert_eq!(ev(bson!({ "$dateTrunc": { "date": "$d", "unit": "quarter" } }), &t), Some(date(1_609_459_200_000)));
    assert_eq!(ev(bson!({ "$dateTrunc": { "date": "$d", "unit": "week" } }), &t), Some(date(1_615_680_000_000)));
    assert_eq!(
        ev(bson!({ "$dateTrunc": { "date": "$d", "unit": "hour", "binSize": 6 } }), &t),
        Some(date(1_616_220_000_000))
    );
    assert_eq!(err_code(bson!({ "$dateTrunc": { "date": "$d", "unit": "hour", "binSize": 0 } }), &t), 5439018);
}

#[test]
fn misc_rand_and_constants() {
    let e = Expression::parse_bson(&bson!({ "$rand": {} }), &ExprContext::default()).unwrap();
    assert!(!e.is_constant());
    match e.evaluate(&raw(&doc! {})).unwrap() {
        Some(Bson::Double(d)) => assert!((0.0..1.0).contains(&d)),
        other => panic!("{other:?}"),
    }
    assert_eq!(err_code(bson!({ "$rand": { "a": 1 } }), &doc! {}), 3040501);
    let c = Expression::parse_bson(&bson!({ "$add": [1, { "$multiply": [2, 3] }] }), &ExprContext::default()).unwrap();
    assert!(c.is_constant());
    let p = Expression::parse_bson(&bson!({ "$add": [1, "$a"] }), &ExprContext::default()).unwrap();
    assert!(!p.is_constant());
}

/// MongoDB's FieldPath allows a DBRef's `$ref`, `$id` and `$db` (ODMs join on `link.$id`);
/// any other `$`-prefixed component is 16410.
#[test]
fn field_paths_read_dbref_fields() {
    let root = doc! { "link": { "$ref": "customers", "$id": 7, "$db": "shop" } };
    assert_eq!(ev(Bson::String("$link.$id".into()), &root), Some(Bson::Int32(7)));
    assert_eq!(ev(Bson::String("$link.$ref".into()), &root), Some(Bson::String("customers".into())));
    assert_eq!(ev(Bson::String("$link.$db".into()), &root), Some(Bson::String("shop".into())));
    assert_eq!(err_code(Bson::String("$link.$other".into()), &root), 16410);
    let sort = RawDocumentBuf::try_from(&doc! { "link.$id": 1 }).expect("serializable");
    assert!(documentdb_query::sort::SortSpec::parse(&sort).is_ok());
    let sort = RawDocumentBuf::try_from(&doc! { "link.$x": 1 }).expect("serializable");
    assert_eq!(documentdb_query::sort::SortSpec::parse(&sort).err().map(|e| e.code.code()), Some(16410));
}
