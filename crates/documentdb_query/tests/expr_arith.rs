//! Numeric arithmetic (`documentdb_query::arith`): MongoDB's type promotion, update vs
//! aggregation overflow rules, decimal128 exactness and conversions.
use std::cmp::Ordering;
use std::str::FromStr;

use documentdb_query::arith::{self, Num, RoundMode};
use proptest::prelude::*;

fn dec(s: &str) -> Num {
    Num::Decimal(bson::Decimal128::from_str(s).expect("valid decimal literal"))
}

fn dec_str(n: Num) -> String {
    match n {
        Num::Decimal(d) => arith::decimal_to_string(&d),
        other => panic!("expected a decimal, got {other:?}"),
    }
}

// ---- decimal128 exactness (IEEE 754-2008, 34 digits, round-half-even) ----

#[test]
fn decimal_point_one_plus_point_two_is_exactly_point_three() {
    let sum = arith::add(dec("0.1"), dec("0.2"));
    assert_eq!(dec_str(sum), "0.3");
    // Same bytes as the canonical BSON encoding of 0.3.
    assert_eq!(sum, dec("0.3"));
}

#[test]
fn decimal_keeps_trailing_zeros_and_exponent_rules() {
    assert_eq!(dec_str(arith::add(dec("1.10"), dec("2.205"))), "3.305");
    assert_eq!(dec_str(arith::multiply(dec("1.5"), dec("2.0"))), "3.00");
    assert_eq!(dec_str(arith::subtract(dec("1E+3"), dec("1"))), "999");
    assert_eq!(dec_str(arith::divide(dec("1"), dec("3")).unwrap()), "0.3333333333333333333333333333333333");
    assert_eq!(dec_str(arith::divide(dec("2"), dec("3")).unwrap()), "0.6666666666666666666666666666666667");
}

#[test]
fn decimal_rounds_to_34_digits_half_even() {
    // 34 nines + 1 carries into 35 digits: rounded to 1.000...E+34.
    let big = dec("9999999999999999999999999999999999");
    assert_eq!(dec_str(arith::add(big, dec("1"))), "1.000000000000000000000000000000000E+34");
    // Half-even at the 35th digit.
    assert_eq!(
        dec_str(arith::add(dec("1000000000000000000000000000000000"), dec("0.5"))),
        "1000000000000000000000000000000000"
    );
    assert_eq!(
        dec_str(arith::add(dec("1000000000000000000000000000000001"), dec("0.5"))),
        "1000000000000000000000000000000002"
    );
}

#[test]
fn decimal_special_values_round_trip() {
    for s in [
        "NaN",
        "Infinity",
        "-Infinity",
        "0",
        "-0",
        "0E-6176",
        "1E+6111",
        "9.999999999999999999999999999999999E+6144",
        "1E-6176",
        "-1.234567890123456789012345678901234E-6143",
        "0.000001",
        "1E-7",
        "123.4500",
    ] {
        let n = Num::decimal_from_str(s).unwrap_or_else(|| panic!("parse {s}"));
        let canonical = bson::Decimal128::from_str(s).unwrap().to_string();
        assert_eq!(dec_str(n), canonical, "{s}");
        // BID encoding agrees with the bson crate's encoder, bit for bit.
        assert_eq!(n, dec(s), "{s}");
    }
}

#[test]
fn decimal_infinity_and_nan_arithmetic() {
    assert_eq!(dec_str(arith::add(dec("Infinity"), dec("1"))), "Infinity");
    assert_eq!(dec_str(arith::add(dec("Infinity"), dec("-Infinity"))), "NaN");
    assert_eq!(dec_str(arith::multiply(dec("NaN"), dec("2"))), "NaN");
    assert_eq!(dec_str(arith::divide(dec("-1"), dec("0.5")).unwrap()), "-2");
    assert!(arith::divide(dec("1"), dec("0")).is_none());
    assert!(arith::divide(dec("1"), dec("-0E+5")).is_none());
}

#[test]
fn double_to_decimal_uses_15_significant_digits() {
    // $toDecimal manual page: {$toDecimal: 2.5} -> NumberDecimal("2.50000000000000").
    assert_eq!(arith::decimal_to_string(&arith::to_decimal(Num::Double(2.5))), "2.50000000000000");
    assert_eq!(arith::decimal_to_string(&arith::to_decimal(Num::Double(0.1))), "0.100000000000000");
    assert_eq!(arith::decimal_to_string(&arith::to_decimal(Num::Double(100000.0))), "100000.000000000");
    assert_eq!(arith::decimal_to_string(&arith::to_decimal(Num::Double(1e-5))), "0.0000100000000000000");
    assert_eq!(arith::decimal_to_string(&arith::to_decimal(Num::Double(0.9999999999999994))), "0.999999999999999");
    assert_eq!(arith::decimal_to_string(&arith::double_to_decimal_34(0.1)), "0.1000000000000000055511151231257827");
}

#[test]
fn add_decimal_and_double_order_matters_like_mongodb() {
    // Decimal first: the double joins as a 15-digit decimal.
    assert_eq!(dec_str(arith::add(dec("1"), Num::Double(0.1))), "1.100000000000000");
    // Double first: the running double total converts with 34 digits.
    assert_eq!(dec_str(arith::add(Num::Double(0.1), dec("1"))), "1.100000000000000005551115123125783");
}

// ---- integer promotion ----

#[test]
fn aggregation_int_overflow_promotes() {
    assert_eq!(arith::add(Num::Int32(1), Num::Int32(2)), Num::Int32(3));
    assert_eq!(arith::add(Num::Int32(i32::MAX), Num::Int32(1)), Num::Int64(2_147_483_648));
    assert_eq!(arith::add(Num::Int64(1), Num::Int32(2)), Num::Int64(3));
    assert_eq!(arith::add(Num::Int64(i64::MAX), Num::Int32(1)), Num::Double(9.223_372_036_854_776e18));
    assert_eq!(arith::subtract(Num::Int32(i32::MIN), Num::Int32(1)), Num::Int64(-2_147_483_649));
    assert_eq!(arith::subtract(Num::Int64(i64::MIN), Num::Int32(1)), Num::Double(-9.223_372_036_854_776e18));
    assert_eq!(arith::multiply(Num::Int32(65536), Num::Int32(65536)), Num::Int64(4_294_967_296));
    assert_eq!(arith::multiply(Num::Int64(i64::MAX), Num::Int32(2)), Num::Double(1.8446744073709552e19));
    assert_eq!(arith::multiply(Num::Int32(3), Num::Double(0.5)), Num::Double(1.5));
}

#[test]
fn update_semantics_report_int64_overflow() {
    assert_eq!(arith::checked_add(Num::Int32(i32::MAX), Num::Int32(1)), Some(Num::Int64(2_147_483_648)));
    assert_eq!(arith::checked_add(Num::Int64(i64::MAX), Num::Int32(1)), None);
    assert_eq!(arith::checked_add(Num::Int32(1), Num::Int64(1)), Some(Num::Int64(2)));
    assert_eq!(arith::checked_add(Num::Int32(1), Num::Double(0.5)), Some(Num::Double(1.5)));
    assert_eq!(arith::checked_multiply(Num::Int32(i32::MAX), Num::Int32(2)), Some(Num::Int64(4_294_967_294)));
    assert_eq!(arith::checked_multiply(Num::Int64(i64::MAX), Num::Int64(2)), None);
    assert_eq!(dec_str(arith::checked_add(dec("1.5"), Num::Int32(2)).unwrap()), "3.5");
    assert_eq!(dec_str(arith::checked_multiply(dec("1.5"), Num::Double(2.0)).unwrap()), "3.000000000000000");
}

#[test]
fn divide_returns_double_unless_decimal() {
    assert_eq!(arith::divide(Num::Int32(1), Num::Int32(2)), Some(Num::Double(0.5)));
    assert_eq!(arith::divide(Num::Int64(9), Num::Int32(3)), Some(Num::Double(3.0)));
    assert_eq!(arith::divide(Num::Int32(1), Num::Double(0.0)), None);
    assert_eq!(dec_str(arith::divide(Num::Int32(1), dec("4")).unwrap()), "0.25");
}

#[test]
fn modulo_result_types() {
    // $mod manual page: 5 % 2 stays an integer even with an integral double divisor.
    assert_eq!(arith::modulo(Num::Int32(5), Num::Double(2.0)), Some(Num::Int32(1)));
    assert_eq!(arith::modulo(Num::Int32(5), Num::Double(1.5)), Some(Num::Double(0.5)));
    assert_eq!(arith::modulo(Num::Double(5.0), Num::Int32(3)), Some(Num::Double(2.0)));
    assert_eq!(arith::modulo(Num::Int64(-7), Num::Int32(3)), Some(Num::Int64(-1)));
    assert_eq!(arith::modulo(Num::Int32(i32::MIN), Num::Int32(-1)), Some(Num::Int32(0)));
    assert_eq!(arith::modulo(Num::Int32(1), Num::Int32(0)), None);
    assert_eq!(dec_str(arith::modulo(dec("10.5"), Num::Int32(3)).unwrap()), "1.5");
    assert_eq!(dec_str(arith::modulo(dec("-10.5"), Num::Int32(3)).unwrap()), "-1.5");
}

#[test]
fn abs_and_negate_edges() {
    assert_eq!(arith::abs(Num::Int32(i32::MIN)), Some(Num::Int64(2_147_483_648)));
    assert_eq!(arith::abs(Num::Int64(i64::MIN)), None);
    assert_eq!(arith::abs(Num::Int64(-5)), Some(Num::Int64(5)));
    assert_eq!(dec_str(arith::abs(dec("-1.50")).unwrap()), "1.50");
    assert_eq!(arith::negate(Num::Int32(i32::MIN)), Num::Int64(2_147_483_648));
}

// ---- $round / $trunc / $ceil / $floor ----

#[test]
fn round_half_to_even_manual_examples() {
    // $round manual page: 19.25 rounded to 1 place is 19.2; 28.73 to 0 places is 29;
    // 34.32 to -1 places is 30 (rounded to the tens).
    let r = |n: Num, p| arith::round_to_place(n, p, RoundMode::HalfEven).unwrap();
    assert_eq!(r(Num::Double(19.25), 1), Num::Double(19.2));
    assert_eq!(r(Num::Double(28.73), 0), Num::Double(29.0));
    assert_eq!(r(Num::Double(34.32), -1), Num::Double(30.0));
    assert_eq!(r(Num::Double(-45.39), 1), Num::Double(-45.4));
    assert_eq!(r(Num::Double(2.5), 0), Num::Double(2.0));
    assert_eq!(r(Num::Double(3.5), 0), Num::Double(4.0));
    assert_eq!(r(Num::Double(-2.5), 0), Num::Double(-2.0));
    assert_eq!(r(Num::Int32(1234), -1), Num::Int32(1230));
    assert_eq!(r(Num::Int32(1235), -1), Num::Int32(1240));
    assert_eq!(r(Num::Int32(1234), 2), Num::Int32(1234));
    assert_eq!(r(Num::Int32(i32::MAX), -1), Num::Int64(2_147_483_650));
    assert_eq!(r(Num::Int64(25), -1), Num::Int64(20));
    assert_eq!(dec_str(r(dec("1.2345"), 2)), "1.23");
    assert_eq!(dec_str(r(dec("1.235"), 2)), "1.24");
    assert_eq!(dec_str(r(dec("1.5"), 3)), "1.500");
    assert_eq!(dec_str(r(dec("Infinity"), 3)), "Infinity");
    assert_eq!(r(Num::Double(1e300), 2), Num::Double(1e300));
    assert!(arith::round_to_place(Num::Int64(i64::MAX), -1, RoundMode::HalfEven).is_none());
}

#[test]
fn trunc_toward_zero_manual_examples() {
    // $trunc manual page: 19.25 -> 19.2 at 1 place, -45.39 -> -45.3, 34.32 -> 30 at -1.
    let t = |n: Num, p| arith::round_to_place(n, p, RoundMode::TowardZero).unwrap();
    assert_eq!(t(Num::Double(19.25), 1), Num::Double(19.2));
    assert_eq!(t(Num::Double(-45.39), 1), Num::Double(-45.3));
    assert_eq!(t(Num::Double(34.32), -1), Num::Double(30.0));
    assert_eq!(t(Num::Double(-2.9), 0), Num::Double(-2.0));
    assert_eq!(t(Num::Int32(-1239), -1), Num::Int32(-1230));
    assert_eq!(dec_str(t(dec("-1.999"), 1)), "-1.9");
}

#[test]
fn ceil_floor_decimal_and_double() {
    assert_eq!(arith::ceil(Num::Double(-2.5)), Num::Double(-2.0));
    assert_eq!(arith::floor(Num::Double(-2.5)), Num::Double(-3.0));
    assert_eq!(arith::ceil(Num::Int32(7)), Num::Int32(7));
    assert_eq!(dec_str(arith::ceil(dec("1.01"))), "2");
    assert_eq!(dec_str(arith::floor(dec("-1.01"))), "-2");
}

// ---- comparison ----

#[test]
fn compare_across_numeric_types() {
    assert_eq!(arith::compare(Num::Double(1.0), Num::Int64(1)), Ordering::Equal);
    assert_eq!(arith::compare(dec("1.0"), Num::Int32(1)), Ordering::Equal);
    assert_eq!(arith::compare(dec("0.1"), Num::Double(0.1)), Ordering::Less);
    assert_eq!(arith::compare(dec("0.1000000000000000055511151231257827"), Num::Double(0.1)), Ordering::Equal);
    assert_eq!(arith::compare(dec("0.1000000000000000055511151231257828"), Num::Double(0.1)), Ordering::Greater);
    assert_eq!(arith::compare(dec("0.5"), Num::Double(0.5)), Ordering::Equal);
    assert_eq!(arith::compare(Num::Double(f64::NAN), Num::Double(f64::NEG_INFINITY)), Ordering::Less);
    assert_eq!(arith::compare(Num::Double(f64::NAN), dec("NaN")), Ordering::Equal);
    assert_eq!(arith::compare(Num::Int64(i64::MAX), Num::Double(9.223_372_036_854_776e18)), Ordering::Less);
    assert_eq!(arith::compare(Num::Int64(i64::MIN), Num::Double(-9.223_372_036_854_776e18)), Ordering::Equal);
    assert_eq!(arith::compare(Num::Double(2.5), Num::Int32(2)), Ordering::Greater);
    assert_eq!(arith::compare(Num::Double(-2.5), Num::Int32(-2)), Ordering::Less);
    assert_eq!(arith::compare(Num::Double(-0.0), Num::Int32(0)), Ordering::Equal);
}

#[test]
fn exact_integral_representations() {
    assert_eq!(arith::as_i32_exact(Num::Double(3.0)), Some(3));
    assert_eq!(arith::as_i32_exact(Num::Double(3.5)), None);
    assert_eq!(arith::as_i32_exact(Num::Int64(1 << 40)), None);
    assert_eq!(arith::as_i64_exact(Num::Int64(1 << 40)), Some(1 << 40));
    assert_eq!(arith::as_i32_exact(dec("7.00")), Some(7));
    assert_eq!(arith::as_i64_exact(Num::Double(9.3e18)), None);
    assert!(arith::is_integral(dec("1E+40")));
    assert!(!arith::is_integral(Num::Double(f64::INFINITY)));
}

#[test]
fn decimal_transcendental_functions() {
    let d = |s: &str| bson::Decimal128::from_str(s).unwrap();
    assert_eq!(arith::decimal_to_string(&arith::decimal_sqrt(d("4"))), "2");
    assert_eq!(arith::decimal_to_string(&arith::decimal_sqrt(d("2"))), "1.414213562373095048801688724209698");
    assert_eq!(arith::decimal_to_string(&arith::decimal_ln(d("1"))), "0");
    assert_eq!(arith::decimal_to_string(&arith::decimal_log10(d("1000"))), "3");
    assert_eq!(arith::decimal_to_string(&arith::decimal_exp(d("1"))), "2.718281828459045235360287471352662");
    // Decimal128::power normalizes to 34 digits.
    assert_eq!(arith::decimal_to_string(&arith::decimal_pow(d("2"), d("3"))), "8.000000000000000000000000000000000");
    assert_eq!(arith::decimal_to_string(&arith::decimal_pow(d("0"), d("0"))), "1.000000000000000000000000000000000");
}

#[test]
fn compensated_summation() {
    let mut s = arith::DoubleDouble::new();
    for _ in 0..10 {
        s.add_double(0.1);
    }
    assert_eq!(s.get_double(), 1.0);
    let mut l = arith::DoubleDouble::new();
    l.add_long(i64::MAX);
    l.add_long(-1);
    assert!(l.fits_long());
    assert_eq!(l.get_long(), Some(i64::MAX - 1));
    l.add_long(2);
    assert!(!l.fits_long());
}

proptest! {
    #[test]
    fn int_addition_matches_i128(a in any::<i64>(), b in any::<i64>()) {
        let exact = i128::from(a) + i128::from(b);
        match arith::checked_add(Num::Int64(a), Num::Int64(b)) {
            Some(Num::Int64(v)) => prop_assert_eq!(i128::from(v), exact),
            None => prop_assert!(i64::try_from(exact).is_err()),
            other => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    #[test]
    fn decimal_text_round_trips(coef in 0u64..u64::MAX, exp in -6000i32..6000, neg in any::<bool>()) {
        let s = format!("{}{}E{}", if neg { "-" } else { "" }, coef, exp);
        let ours = Num::decimal_from_str(&s).unwrap();
        let theirs = dec(&s);
        prop_assert_eq!(ours, theirs);
        prop_assert_eq!(dec_str(ours), bson::Decimal128::from_str(&s).unwrap().to_string());
    }

    #[test]
    fn compare_int_double_consistent(a in any::<i64>(), b in any::<f64>()) {
        let ord = arith::compare(Num::Int64(a), Num::Double(b));
        if !b.is_nan() {
            let exact = if b >= 9.3e18 { Ordering::Less } else if b <= -9.3e18 { Ordering::Greater } else {
                // compare via decimal (exact for both)
                arith::compare(dec(&a.to_string()), Num::Double(b))
            };
            prop_assert_eq!(ord, exact);
        } else {
            prop_assert_eq!(ord, Ordering::Greater);
        }
    }
}
