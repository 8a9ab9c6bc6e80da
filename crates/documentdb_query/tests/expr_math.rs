//! Trigonometric, bitwise, timestamp, quantile and JavaScript expression operators, with
//! the MongoDB manual's examples (reference/operator/aggregation/<name>), null/missing
//! propagation, type and domain errors.
use std::str::FromStr;

use bson::{bson, doc, Bson, Document, RawDocumentBuf};
use documentdb_query::expr::{ExprContext, Expression};

fn eval_on(expr: Bson, root: &Document) -> Result<Option<Bson>, documentdb_errors::DocDbError> {
    let e = Expression::parse_bson(&expr, &ExprContext::default())?;
    e.evaluate(&RawDocumentBuf::try_from(root).expect("serializable"))
}

fn ev(expr: Bson, root: &Document) -> Option<Bson> {
    eval_on(expr.clone(), root).unwrap_or_else(|e| panic!("{expr:?}: {e:?}"))
}

fn ev0(expr: Bson) -> Option<Bson> {
    ev(expr, &doc! {})
}

/// The error's code and message.
fn err(expr: Bson) -> (i32, String) {
    match eval_on(expr.clone(), &doc! {}) {
        Err(e) => (e.code.code(), e.message.clone()),
        Ok(v) => panic!("{expr:?} should fail, got {v:?}"),
    }
}

fn dec(s: &str) -> Bson {
    Bson::Decimal128(bson::Decimal128::from_str(s).expect("decimal"))
}

fn double(v: Option<Bson>) -> f64 {
    match v {
        Some(Bson::Double(d)) => d,
        other => panic!("expected a double, got {other:?}"),
    }
}

fn dec_text(v: Option<Bson>) -> String {
    match v {
        Some(Bson::Decimal128(d)) => documentdb_query::arith::decimal_to_string(&d),
        other => panic!("expected a decimal, got {other:?}"),
    }
}

const UNARY_TRIG: [&str; 14] = [
    "$sin",
    "$cos",
    "$tan",
    "$asin",
    "$acos",
    "$atan",
    "$asinh",
    "$acosh",
    "$atanh",
    "$sinh",
    "$cosh",
    "$tanh",
    "$degreesToRadians",
    "$radiansToDegrees",
];

// ---------------- trigonometry ----------------

/// Manual, every trigonometry page: "null or ... missing field returns null".
#[test]
fn trig_operators_return_null_for_null_and_missing() {
    for op in UNARY_TRIG {
        assert_eq!(ev0(bson!({ op: null })), Some(Bson::Null), "{op}");
        assert_eq!(ev0(bson!({ op: "$nosuch" })), Some(Bson::Null), "{op}");
        assert_eq!(ev0(bson!({ op: [Bson::Undefined] })), Some(Bson::Null), "{op}");
    }
    assert_eq!(ev0(bson!({"$atan2": [null, 1]})), Some(Bson::Null));
    assert_eq!(ev0(bson!({"$atan2": [1, "$nosuch"]})), Some(Bson::Null));
}

#[test]
fn trig_operators_refuse_non_numbers_with_28765() {
    for op in UNARY_TRIG {
        assert_eq!(err(bson!({ op: "abc" })), (28765, format!("{op} only supports numeric types, not string")));
    }
    assert_eq!(err(bson!({"$sin": true})), (28765, "$sin only supports numeric types, not bool".to_string()));
}

#[test]
fn trig_operators_take_exactly_one_argument() {
    assert_eq!(err(bson!({"$sin": [1, 2]})).0, 16020);
    assert_eq!(err(bson!({"$atan2": [1]})).0, 16020);
}

/// Manual $sin / $cos / $tan: results are doubles for int, long and double input.
#[test]
fn trig_operators_compute_doubles() {
    assert_eq!(ev0(bson!({"$sin": 0})), Some(Bson::Double(0.0)));
    assert_eq!(ev0(bson!({"$cos": 0_i64})), Some(Bson::Double(1.0)));
    assert!((double(ev0(bson!({"$tan": {"$degreesToRadians": 45}}))) - 1.0).abs() < 1e-15);
    assert!((double(ev0(bson!({"$asin": 1}))) - std::f64::consts::FRAC_PI_2).abs() < 1e-15);
    assert_eq!(ev0(bson!({"$acos": 1})), Some(Bson::Double(0.0)));
    assert!((double(ev0(bson!({"$atan": 1.0}))) - std::f64::consts::FRAC_PI_4).abs() < 1e-15);
    assert_eq!(ev0(bson!({"$sinh": 0})), Some(Bson::Double(0.0)));
    assert_eq!(ev0(bson!({"$cosh": 0})), Some(Bson::Double(1.0)));
    assert_eq!(ev0(bson!({"$tanh": 0})), Some(Bson::Double(0.0)));
    assert_eq!(ev0(bson!({"$asinh": 0})), Some(Bson::Double(0.0)));
    assert_eq!(ev0(bson!({"$acosh": 1})), Some(Bson::Double(0.0)));
    assert_eq!(ev0(bson!({"$atanh": 0})), Some(Bson::Double(0.0)));
}

/// Manual $sin example: a right triangle with hypotenuse 5 and a 36.87 degree angle.
#[test]
fn manual_sin_example_finds_the_opposite_side() {
    let root = doc! { "angle_a": 36.86989764584402_f64, "hypotenuse": 5 };
    let side = ev(bson!({"$multiply": [{"$sin": {"$degreesToRadians": "$angle_a"}}, "$hypotenuse"]}), &root);
    assert!((double(side) - 3.0).abs() < 1e-12);
}

/// Manual $asin / $acos examples: the angles of a 3-4-5 triangle in degrees.
#[test]
fn manual_asin_acos_examples_find_the_angles() {
    let root = doc! { "side_a": 3, "side_b": 4, "hypotenuse": 5 };
    let a = ev(bson!({"$radiansToDegrees": {"$asin": {"$divide": ["$side_a", "$hypotenuse"]}}}), &root);
    assert!((double(a) - 36.86989764584402).abs() < 1e-12);
    let b = ev(bson!({"$radiansToDegrees": {"$acos": {"$divide": ["$side_a", "$hypotenuse"]}}}), &root);
    assert!((double(b) - 53.13010235415598).abs() < 1e-12);
}

/// mongod's bounded trigonometric functions: error 50989 with the bounds (its wording,
/// "value must in").
#[test]
fn trig_domain_errors_are_50989() {
    let cases: [(Bson, &str); 8] = [
        (bson!({"$asin": 2}), "cannot apply $asin to 2, value must in [-1,1]"),
        (bson!({"$acos": -1.5}), "cannot apply $acos to -1.5, value must in [-1,1]"),
        (bson!({"$atanh": 2_i64}), "cannot apply $atanh to 2, value must in [-1,1]"),
        (bson!({"$acosh": 0.5}), "cannot apply $acosh to 0.5, value must in [1,inf]"),
        (bson!({"$sin": f64::INFINITY}), "cannot apply $sin to inf, value must in (-inf,inf)"),
        (bson!({"$cos": f64::NEG_INFINITY}), "cannot apply $cos to -inf, value must in (-inf,inf)"),
        (bson!({"$asin": dec("1.5")}), "cannot apply $asin to 1.5, value must in [-1,1]"),
        (bson!({"$tan": dec("-Infinity")}), "cannot apply $tan to -Infinity, value must in (-inf,inf)"),
    ];
    for (expr, msg) in cases {
        assert_eq!(err(expr), (50989, msg.to_string()));
    }
}

#[test]
fn trig_domain_edges_and_infinities() {
    assert_eq!(ev0(bson!({"$atanh": 1})), Some(Bson::Double(f64::INFINITY)));
    assert_eq!(ev0(bson!({"$atanh": -1})), Some(Bson::Double(f64::NEG_INFINITY)));
    assert_eq!(ev0(bson!({"$acosh": f64::INFINITY})), Some(Bson::Double(f64::INFINITY)));
    assert_eq!(ev0(bson!({"$sinh": f64::NEG_INFINITY})), Some(Bson::Double(f64::NEG_INFINITY)));
    assert_eq!(ev0(bson!({"$tanh": f64::INFINITY})), Some(Bson::Double(1.0)));
    assert!((double(ev0(bson!({"$atan": f64::INFINITY}))) - std::f64::consts::FRAC_PI_2).abs() < 1e-15);
}

/// Manual: "If the argument resolves to NaN, ... returns NaN" (bounds are not checked).
#[test]
fn trig_nan_is_nan() {
    for op in UNARY_TRIG {
        assert!(double(ev0(bson!({ op: f64::NAN }))).is_nan(), "{op}");
        assert_eq!(dec_text(ev0(bson!({ op: dec("NaN") }))), "NaN", "{op}");
    }
}

/// Manual: decimal128 input gives decimal128 output (computed through a double here).
#[test]
fn trig_decimal_in_decimal_out() {
    assert_eq!(dec_text(ev0(bson!({"$cos": dec("0")}))), "1");
    assert_eq!(dec_text(ev0(bson!({"$sin": dec("0")}))), "0");
    assert_eq!(dec_text(ev0(bson!({"$atan2": [dec("1"), 0]}))), "1.5707963267948966");
    assert_eq!(dec_text(ev0(bson!({"$asin": dec("0.5")}))), "0.5235987755982989");
    assert_eq!(dec_text(ev0(bson!({"$sinh": dec("Infinity")}))), "Infinity");
    let sin = dec_text(ev0(bson!({"$sin": dec("0.6435011087932843868028092287173227")})));
    // mongod's 34-digit result is 0.6000000000000000000000000000000001; the double's
    // shortest digits are all this crate can give.
    assert_eq!(sin, "0.6");
}

/// Manual $atan2 example: atan2(y, x) of a 3-4-5 triangle; a decimal makes it decimal.
#[test]
fn atan2_examples_and_errors() {
    let a = ev0(bson!({"$radiansToDegrees": {"$atan2": [3, 4]}}));
    assert!((double(a) - 36.86989764584402).abs() < 1e-12);
    assert_eq!(ev0(bson!({"$atan2": [0, -1]})), Some(Bson::Double(std::f64::consts::PI)));
    // The first operand is checked before the second is evaluated.
    assert_eq!(err(bson!({"$atan2": ["a", null]})), (51044, "$atan2 only supports numeric types, not string".into()));
    assert_eq!(ev0(bson!({"$atan2": [null, "a"]})), Some(Bson::Null));
    assert_eq!(err(bson!({"$atan2": [1, "a"]})), (51045, "$atan2 only supports numeric types, not string".into()));
}

/// Manual $degreesToRadians / $radiansToDegrees examples: decimals are multiplied by
/// MongoDB's 34-digit decimal factors.
#[test]
fn manual_angle_conversion_examples() {
    let root = doc! {
        "angle_a": dec("53.13010235415597870314438744090659"),
        "angle_c": dec("90"),
    };
    assert_eq!(dec_text(ev(bson!({"$degreesToRadians": "$angle_a"}), &root)), "0.9272952180016122324285124629224290");
    assert_eq!(dec_text(ev(bson!({"$degreesToRadians": "$angle_c"}), &root)), "1.570796326794896619231321691639752");
    let rad = doc! { "angle_a": dec("0.9272952180016122324285124629224290"), "angle_c": dec("1.570796326794896619231321691639752") };
    assert_eq!(dec_text(ev(bson!({"$radiansToDegrees": "$angle_a"}), &rad)), "53.13010235415597870314438744090660");
    assert_eq!(dec_text(ev(bson!({"$radiansToDegrees": "$angle_c"}), &rad)), "90.00000000000000000000000000000003");
    assert_eq!(ev0(bson!({"$degreesToRadians": 180})), Some(Bson::Double(std::f64::consts::PI)));
    assert_eq!(ev0(bson!({"$radiansToDegrees": std::f64::consts::PI})), Some(Bson::Double(180.0)));
    // Manual behaviour table: infinities stay infinite.
    assert_eq!(ev0(bson!({"$degreesToRadians": f64::INFINITY})), Some(Bson::Double(f64::INFINITY)));
    assert_eq!(ev0(bson!({"$radiansToDegrees": f64::NEG_INFINITY})), Some(Bson::Double(f64::NEG_INFINITY)));
    assert_eq!(dec_text(ev0(bson!({"$radiansToDegrees": dec("-Infinity")}))), "-Infinity");
}

// ---------------- bitwise ----------------

/// Manual $bitAnd / $bitOr / $bitXor examples: ints give an int, a long makes a long.
#[test]
fn manual_bitwise_examples() {
    assert_eq!(ev0(bson!({"$bitAnd": [0, 2]})), Some(Bson::Int32(0)));
    assert_eq!(ev0(bson!({"$bitAnd": [3, 7]})), Some(Bson::Int32(3)));
    assert_eq!(ev0(bson!({"$bitOr": [3, 8]})), Some(Bson::Int32(11)));
    assert_eq!(ev0(bson!({"$bitXor": [3, 5]})), Some(Bson::Int32(6)));
    assert_eq!(ev0(bson!({"$bitAnd": [3, 7_i64]})), Some(Bson::Int64(3)));
    assert_eq!(ev0(bson!({"$bitOr": [1_i64 << 40, 1]})), Some(Bson::Int64((1_i64 << 40) | 1)));
    assert_eq!(ev0(bson!({"$bitXor": [-1, 1]})), Some(Bson::Int32(-2)));
    let root = doc! { "a": 0b1100, "b": 0b1010_i64 };
    assert_eq!(ev(bson!({"$bitAnd": ["$a", "$b"]}), &root), Some(Bson::Int64(0b1000)));
}

#[test]
fn bitwise_identities_and_single_operands() {
    assert_eq!(ev0(bson!({"$bitAnd": []})), Some(Bson::Int32(-1)));
    assert_eq!(ev0(bson!({"$bitOr": []})), Some(Bson::Int32(0)));
    assert_eq!(ev0(bson!({"$bitXor": []})), Some(Bson::Int32(0)));
    assert_eq!(ev0(bson!({"$bitOr": 5})), Some(Bson::Int32(5)));
}

#[test]
fn bitwise_null_and_type_errors() {
    assert_eq!(ev0(bson!({"$bitAnd": [1, null]})), Some(Bson::Null));
    assert_eq!(ev0(bson!({"$bitOr": [1, "$nosuch"]})), Some(Bson::Null));
    // A null before a bad operand wins; a bad operand before a null is refused.
    assert_eq!(ev0(bson!({"$bitXor": [null, "a"]})), Some(Bson::Null));
    for op in ["$bitAnd", "$bitOr", "$bitXor"] {
        assert_eq!(err(bson!({ op: [1, 1.5] })), (14, format!("{op} only supports int and long operands.")));
        assert_eq!(err(bson!({ op: ["a", null] })), (14, format!("{op} only supports int and long operands.")));
    }
}

/// Manual $bitNot example, and its two errors (28765 non-numeric, 14 non-integral).
#[test]
fn bit_not() {
    assert_eq!(ev0(bson!({"$bitNot": 0})), Some(Bson::Int32(-1)));
    assert_eq!(ev0(bson!({"$bitNot": 5_i64})), Some(Bson::Int64(-6)));
    assert_eq!(ev0(bson!({"$bitNot": null})), Some(Bson::Null));
    assert_eq!(ev0(bson!({"$bitNot": "$nosuch"})), Some(Bson::Null));
    assert_eq!(err(bson!({"$bitNot": "a"})), (28765, "$bitNot only supports numeric types, not string".into()));
    assert_eq!(err(bson!({"$bitNot": 1.5})), (14, "$bitNot only supports int and long, not: double.".into()));
    assert_eq!(err(bson!({"$bitNot": dec("1")})), (14, "$bitNot only supports int and long, not: decimal.".into()));
    assert_eq!(err(bson!({"$bitNot": [1, 2]})).0, 16020);
}

// ---------------- timestamps ----------------

/// Manual $tsSecond / $tsIncrement: the parts of a timestamp as longs.
#[test]
fn ts_second_and_increment() {
    let root = doc! { "t": Bson::Timestamp(bson::Timestamp { time: 1622731060, increment: 7 }) };
    assert_eq!(ev(bson!({"$tsSecond": "$t"}), &root), Some(Bson::Int64(1622731060)));
    assert_eq!(ev(bson!({"$tsIncrement": "$t"}), &root), Some(Bson::Int64(7)));
    let max = doc! { "t": Bson::Timestamp(bson::Timestamp { time: u32::MAX, increment: u32::MAX }) };
    assert_eq!(ev(bson!({"$tsSecond": "$t"}), &max), Some(Bson::Int64(i64::from(u32::MAX))));
    assert_eq!(ev(bson!({"$tsIncrement": "$t"}), &max), Some(Bson::Int64(i64::from(u32::MAX))));
    assert_eq!(ev0(bson!({"$tsSecond": null})), Some(Bson::Null));
    assert_eq!(ev0(bson!({"$tsIncrement": "$nosuch"})), Some(Bson::Null));
}

#[test]
fn ts_operators_refuse_non_timestamps() {
    assert_eq!(
        err(bson!({"$tsSecond": 1})),
        (5687301, " Argument to $tsSecond must be a timestamp, but is int".into())
    );
    assert_eq!(
        err(bson!({"$tsIncrement": "x"})),
        (5687302, " Argument to $tsIncrement must be a timestamp, but is string".into())
    );
}

// ---------------- $median / $percentile ----------------

/// Manual $median / $percentile expression examples: per-document arrays of scores.
#[test]
fn manual_median_and_percentile_expression_examples() {
    let root = doc! { "test01": 62, "test02": 81, "test03": 80 };
    let input = bson!(["$test01", "$test02", "$test03"]);
    assert_eq!(
        ev(bson!({"$median": {"input": input.clone(), "method": "approximate"}}), &root),
        Some(Bson::Double(80.0))
    );
    assert_eq!(
        ev(bson!({"$percentile": {"input": input, "p": [0.5, 0.95], "method": "approximate"}}), &root),
        Some(bson!([80.0, 81.0]))
    );
}

/// The value at rank ceil(p * n) - 1 of the sorted numbers (mongod's discrete percentile).
#[test]
fn percentile_uses_the_nearest_rank() {
    let input = bson!([10, 1, 9, 2, 8, 3, 7, 4, 6, 5]);
    let got = ev0(
        bson!({"$percentile": {"input": input.clone(), "p": [0, 0.1, 0.15, 0.5, 0.99, 1], "method": "approximate"}}),
    );
    assert_eq!(got, Some(bson!([1.0, 1.0, 2.0, 5.0, 10.0, 10.0])));
    assert_eq!(ev0(bson!({"$median": {"input": input, "method": "approximate"}})), Some(Bson::Double(5.0)));
}

#[test]
fn percentile_ignores_non_numbers_and_nan_and_keeps_infinities() {
    let input = bson!(["a", null, 3_i64, f64::NAN, dec("2"), 1.5, f64::NEG_INFINITY, f64::INFINITY]);
    let got = ev0(bson!({"$percentile": {"input": input, "p": [0, 0.4, 0.6, 1], "method": "approximate"}}));
    assert_eq!(got, Some(bson!([f64::NEG_INFINITY, 1.5, 2.0, f64::INFINITY])));
}

/// A number is its own percentile (as a double); empty, non-numeric or null input gives null.
#[test]
fn percentile_of_scalars_and_empty_input() {
    assert_eq!(ev0(bson!({"$median": {"input": 7, "method": "approximate"}})), Some(Bson::Double(7.0)));
    assert_eq!(
        ev0(bson!({"$percentile": {"input": dec("2.5"), "p": [0.1, 0.9], "method": "approximate"}})),
        Some(bson!([2.5, 2.5]))
    );
    for input in [bson!([]), bson!(["a", "b"]), bson!("x"), Bson::Null, bson!("$nosuch")] {
        assert_eq!(ev0(bson!({"$median": {"input": input.clone(), "method": "approximate"}})), Some(Bson::Null));
        assert_eq!(
            ev0(bson!({"$percentile": {"input": input, "p": [0.5, 0.9], "method": "approximate"}})),
            Some(bson!([null, null]))
        );
    }
}

#[test]
fn percentile_spec_errors() {
    assert_eq!(err(bson!({"$median": 1})).0, 7436201);
    assert_eq!(err(bson!({"$percentile": [1]})).0, 7436200);
    assert_eq!(
        err(bson!({"$median": {"input": [1]}})),
        (40414, "BSON field '$median.method' is missing but a required field".into())
    );
    assert_eq!(
        err(bson!({"$percentile": {"input": [1], "method": "approximate"}})),
        (40414, "BSON field '$percentile.p' is missing but a required field".into())
    );
    assert_eq!(
        err(bson!({"$median": {"input": [1], "p": [0.5], "method": "approximate"}})),
        (40415, "BSON field '$median.p' is an unknown field.".into())
    );
    assert_eq!(
        err(bson!({"$median": {"input": [1], "method": 1}})),
        (14, "BSON field '$median.method' is the wrong type 'int', expected type 'string'".into())
    );
    assert_eq!(
        err(bson!({"$median": {"input": [1], "method": "exact"}})),
        (2, "Currently only 'approximate' can be used as percentile 'method'.".into())
    );
}

#[test]
fn percentile_p_errors() {
    let p_err = |p: Bson| err(bson!({"$percentile": {"input": [1], "p": p, "method": "approximate"}}));
    assert_eq!(p_err(bson!("$x")).0, 7750300);
    assert_eq!(p_err(bson!([])).0, 7750301);
    assert_eq!(p_err(bson!(0.5)).0, 7750301);
    assert_eq!(
        p_err(bson!([0.5, "a"])),
        (7750302, "The $percentile 'p' field must be an array of numbers from [0.0, 1.0], but found: \"a\"".into())
    );
    assert_eq!(
        p_err(bson!([1.5])),
        (7750303, "The $percentile 'p' field must be an array of numbers from [0.0, 1.0], but found: 1.5".into())
    );
    // Constant expressions and `let` variables are allowed.
    assert_eq!(
        ev0(bson!({"$percentile": {"input": [1, 2], "p": {"$concatArrays": [[0.5], [1]]}, "method": "approximate"}})),
        Some(bson!([1.0, 2.0]))
    );
    let ctx = ExprContext { variables: doc! { "ps": [0.5] } };
    let e =
        Expression::parse_bson(&bson!({"$percentile": {"input": [1, 2], "p": "$$ps", "method": "approximate"}}), &ctx)
            .expect("parses");
    assert_eq!(e.evaluate(&RawDocumentBuf::new()).expect("evaluates"), Some(bson!([1.0])));
}

// ---------------- server-side JavaScript ----------------

/// mongod with `security.javascriptEnabled: false`: `$function` parses, then fails with 31264.
#[test]
fn function_is_refused_as_with_javascript_disabled() {
    let f = bson!({"$function": {"body": "function(x) { return x; }", "args": ["$a"], "lang": "js"}});
    assert_eq!(err(f), (31264, "Cannot run server-side javascript without the javascript engine enabled".into()));
    let code = bson!({"$function": {"body": Bson::JavaScriptCode("function() { return 1; }".into()), "args": [], "lang": "js"}});
    assert_eq!(err(code).0, 31264);
}

#[test]
fn function_spec_errors_are_mongods() {
    assert_eq!(err(bson!({"$function": 1})), (31260, "$function requires an object as an argument, found: int".into()));
    assert_eq!(err(bson!({"$function": {"args": [], "lang": "js"}})).0, 31261);
    assert_eq!(err(bson!({"$function": {"body": "$f", "args": [], "lang": "js"}})).0, 31432);
    assert_eq!(err(bson!({"$function": {"body": 1, "args": [], "lang": "js"}})).0, 31262);
    assert_eq!(err(bson!({"$function": {"body": "f", "lang": "js"}})).0, 31263);
    assert_eq!(err(bson!({"$function": {"body": "f", "args": []}})).0, 31418);
    assert_eq!(err(bson!({"$function": {"body": "f", "args": [], "lang": "python"}})).0, 31419);
}

/// `$accumulator` is a `$group` accumulator, not an expression: mongod does not know it here.
#[test]
fn accumulator_is_not_an_expression() {
    let (code, msg) = err(bson!({"$accumulator": {}}));
    assert_eq!((code, msg.as_str()), (168, "Unrecognized expression '$accumulator'"));
}
