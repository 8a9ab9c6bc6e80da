//! Arithmetic operators (`$add`, `$subtract`, ..., `$pow`, `$round`, `$trunc`) and `$rand`.
use bson::Bson;
use documentdb_errors::{DocDbError, DocDbResult, ErrorCode};

use super::operator_args::{call, display, fixed, loc, ranged, variadic};
use super::value::{self as v, is_nullish, num, type_name};
use super::{Call, Env, Node, OpData, ParseCtx};
use crate::arith::{self, Num, RoundMode};
use crate::Value;

fn numeric_error(code: i32, op: &str, val: &Value) -> DocDbError {
    loc(code, format!("{op} only supports numeric types, not {}", type_name(val)))
}

// ------------------------------------------------------------------------------------
// Arithmetic
// ------------------------------------------------------------------------------------

pub(crate) fn parse_add(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    variadic(name, arg, ctx, eval_add)
}

fn eval_add(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let mut adder = arith::Adder::new();
    let mut have_date = false;
    for a in &c.args {
        let val = env.eval(a)?;
        if is_nullish(&val) {
            return Ok(Some(Bson::Null));
        }
        match &val {
            Some(Bson::DateTime(d)) => {
                if have_date {
                    return Err(loc(16612, "only one date allowed in an $add expression"));
                }
                have_date = true;
                adder.add_millis(d.timestamp_millis());
            }
            other => match num(other) {
                Some(n) => adder.add(n),
                None => {
                    return Err(DocDbError::new(
                        ErrorCode::TypeMismatch,
                        format!("$add only supports numeric or date types, not {}", type_name(other)),
                    ))
                }
            },
        }
    }
    if have_date {
        return match adder.result_millis() {
            Some(ms) => Ok(Some(Bson::DateTime(bson::DateTime::from_millis(ms)))),
            None => Err(DocDbError::new(ErrorCode::Overflow, "date overflow in $add")),
        };
    }
    Ok(Some(adder.result().to_bson()))
}

pub(crate) fn parse_subtract(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 2, eval_subtract)
}

fn eval_subtract(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let l = env.eval(&c.args[0])?;
    let r = env.eval(&c.args[1])?;
    if let (Some(a), Some(b)) = (num(&l), num(&r)) {
        return Ok(Some(arith::subtract(a, b).to_bson()));
    }
    if is_nullish(&l) || is_nullish(&r) {
        return Ok(Some(Bson::Null));
    }
    if let Some(Bson::DateTime(d)) = &l {
        return match (&r, num(&r)) {
            (Some(Bson::DateTime(e)), _) => {
                Ok(Some(Bson::Int64(d.timestamp_millis().wrapping_sub(e.timestamp_millis()))))
            }
            (_, Some(n)) => Ok(Some(Bson::DateTime(bson::DateTime::from_millis(
                d.timestamp_millis().wrapping_sub(date_subtrahend_millis(n, &r)?),
            )))),
            _ => Err(DocDbError::new(ErrorCode::TypeMismatch, format!("can't $subtract {} from Date", type_name(&r)))),
        };
    }
    Err(DocDbError::new(ErrorCode::TypeMismatch, format!("can't $subtract {} from {}", type_name(&r), type_name(&l))))
}

/// The milliseconds `$subtract` takes from a date, as MongoDB computes
/// `date - Milliseconds(coerceToLong(n))`: a double outside `[-2^63, 2^63)` (NaN and
/// infinities included) cannot be coerced (31109); a decimal rounds half to even and
/// becomes `i64::MIN` when it is not representable (NaN, infinities, out of range), which,
/// like an int64 of `i64::MIN`, cannot be negated (DurationOverflow). The subtraction itself
/// is not checked for overflow by MongoDB.
fn date_subtrahend_millis(n: Num, val: &Value) -> DocDbResult<i64> {
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    let millis = match n {
        Num::Double(x) if !(-TWO_POW_63..TWO_POW_63).contains(&x) => {
            return Err(loc(31109, format!("Can't coerce out of range value {} to long", display(val))));
        }
        other => arith::to_i64(other),
    };
    if millis == i64::MIN {
        return Err(DocDbError::new(ErrorCode::DurationOverflow, "Cannot negate the minimum duration"));
    }
    Ok(millis)
}

pub(crate) fn parse_multiply(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    variadic(name, arg, ctx, eval_multiply)
}

fn eval_multiply(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let mut m = arith::Multiplier::new();
    for a in &c.args {
        let val = env.eval(a)?;
        if is_nullish(&val) {
            return Ok(Some(Bson::Null));
        }
        match num(&val) {
            Some(n) => m.multiply(n),
            None => {
                return Err(DocDbError::new(
                    ErrorCode::TypeMismatch,
                    format!("$multiply only supports numeric types, not {}", type_name(&val)),
                ))
            }
        }
    }
    Ok(Some(m.result().to_bson()))
}

pub(crate) fn parse_divide(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 2, eval_divide)
}

fn eval_divide(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let l = env.eval(&c.args[0])?;
    let r = env.eval(&c.args[1])?;
    if let (Some(a), Some(b)) = (num(&l), num(&r)) {
        return match arith::divide(a, b) {
            Some(q) => Ok(Some(q.to_bson())),
            None => Err(DocDbError::new(ErrorCode::BadValue, "can't $divide by zero")),
        };
    }
    if is_nullish(&l) || is_nullish(&r) {
        return Ok(Some(Bson::Null));
    }
    Err(DocDbError::new(
        ErrorCode::TypeMismatch,
        format!("$divide only supports numeric types, not {} and {}", type_name(&l), type_name(&r)),
    ))
}

pub(crate) fn parse_mod(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 2, eval_mod)
}

fn eval_mod(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let l = env.eval(&c.args[0])?;
    let r = env.eval(&c.args[1])?;
    if let (Some(a), Some(b)) = (num(&l), num(&r)) {
        return match arith::modulo(a, b) {
            Some(q) => Ok(Some(q.to_bson())),
            None => {
                let decimal = matches!(a, Num::Decimal(_)) || matches!(b, Num::Decimal(_));
                Err(loc(if decimal { 5733415 } else { 16610 }, "can't $mod by zero"))
            }
        };
    }
    if is_nullish(&l) || is_nullish(&r) {
        return Ok(Some(Bson::Null));
    }
    Err(loc(16611, format!("$mod only supports numeric types, not {} and {}", type_name(&l), type_name(&r))))
}

/// Evaluates the single numeric argument of `$abs`-like operators: null for nullish,
/// error 28765 for non-numbers.
pub(super) fn single_numeric(c: &Call, env: &mut Env<'_>) -> DocDbResult<Option<Num>> {
    let val = env.eval(&c.args[0])?;
    if is_nullish(&val) {
        return Ok(None);
    }
    match num(&val) {
        Some(n) => Ok(Some(n)),
        None => Err(numeric_error(28765, c.name, &val)),
    }
}

pub(crate) fn parse_abs(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, eval_abs)
}

fn eval_abs(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let Some(n) = single_numeric(c, env)? else {
        return Ok(Some(Bson::Null));
    };
    match arith::abs(n) {
        Some(r) => Ok(Some(r.to_bson())),
        None => Err(loc(28680, "can't take $abs of long long min")),
    }
}

pub(crate) fn parse_ceil(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, eval_ceil)
}

fn eval_ceil(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    Ok(Some(single_numeric(c, env)?.map(|n| arith::ceil(n).to_bson()).unwrap_or(Bson::Null)))
}

pub(crate) fn parse_floor(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, eval_floor)
}

fn eval_floor(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    Ok(Some(single_numeric(c, env)?.map(|n| arith::floor(n).to_bson()).unwrap_or(Bson::Null)))
}

pub(crate) fn parse_sqrt(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, eval_sqrt)
}

fn eval_sqrt(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let Some(n) = single_numeric(c, env)? else {
        return Ok(Some(Bson::Null));
    };
    let negative = || loc(28714, "$sqrt's argument must be greater than or equal to 0");
    if let Num::Decimal(d) = n {
        let info = arith::decimal_info(&d);
        if info.negative && !info.zero && !info.nan {
            return Err(negative());
        }
        return Ok(Some(Bson::Decimal128(arith::decimal_sqrt(d))));
    }
    let x = arith::to_f64(n);
    if x < 0.0 {
        return Err(negative());
    }
    Ok(Some(Bson::Double(x.sqrt())))
}

pub(crate) fn parse_exp(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, eval_exp)
}

fn eval_exp(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let Some(n) = single_numeric(c, env)? else {
        return Ok(Some(Bson::Null));
    };
    Ok(Some(match n {
        Num::Decimal(d) => Bson::Decimal128(arith::decimal_exp(d)),
        other => Bson::Double(arith::to_f64(other).exp()),
    }))
}

pub(crate) fn parse_ln(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, eval_ln)
}

fn decimal_positive(d: &bson::Decimal128) -> bool {
    let i = arith::decimal_info(d);
    !i.nan && !i.zero && !i.negative
}

fn eval_ln(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let Some(n) = single_numeric(c, env)? else {
        return Ok(Some(Bson::Null));
    };
    if let Num::Decimal(d) = n {
        if decimal_positive(&d) {
            return Ok(Some(Bson::Decimal128(arith::decimal_ln(d))));
        }
    }
    let x = arith::to_f64(n);
    if !(x > 0.0 || x.is_nan()) {
        return Err(loc(28766, format!("$ln's argument must be a positive number, but is {}", v::format_double_g(x))));
    }
    Ok(Some(Bson::Double(x.ln())))
}

pub(crate) fn parse_log10(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, eval_log10)
}

fn eval_log10(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let Some(n) = single_numeric(c, env)? else {
        return Ok(Some(Bson::Null));
    };
    if let Num::Decimal(d) = n {
        if decimal_positive(&d) {
            return Ok(Some(Bson::Decimal128(arith::decimal_log10(d))));
        }
    }
    let x = arith::to_f64(n);
    if !(x > 0.0 || x.is_nan()) {
        return Err(loc(
            28761,
            format!("$log10's argument must be a positive number, but is {}", v::format_double_g(x)),
        ));
    }
    Ok(Some(Bson::Double(x.log10())))
}

pub(crate) fn parse_log(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 2, eval_log)
}

fn eval_log(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let a = env.eval(&c.args[0])?;
    let b = env.eval(&c.args[1])?;
    if is_nullish(&a) || is_nullish(&b) {
        return Ok(Some(Bson::Null));
    }
    let x = num(&a).ok_or_else(|| loc(28756, format!("$log's argument must be numeric, not {}", type_name(&a))))?;
    let base = num(&b).ok_or_else(|| loc(28757, format!("$log's base must be numeric, not {}", type_name(&b))))?;
    if matches!(x, Num::Decimal(_)) || matches!(base, Num::Decimal(_)) {
        let xd = arith::to_decimal(x);
        let bd = arith::to_decimal(base);
        let one = arith::compare(Num::Decimal(bd), Num::Int32(1)) == std::cmp::Ordering::Equal;
        if decimal_positive(&xd) && decimal_positive(&bd) && !one {
            return Ok(Some(Bson::Decimal128(arith::decimal_log(xd, bd))));
        }
    }
    let xf = arith::to_f64(x);
    let bf = arith::to_f64(base);
    if !(xf > 0.0 || xf.is_nan()) {
        return Err(loc(
            28758,
            format!("$log's argument must be a positive number, but is {}", v::format_double_g(xf)),
        ));
    }
    if !((bf > 0.0 && bf != 1.0) || bf.is_nan()) {
        return Err(loc(
            28759,
            format!("$log's base must be a positive number not equal to 1, but is {}", v::format_double_g(bf)),
        ));
    }
    Ok(Some(Bson::Double(xf.ln() / bf.ln())))
}

pub(crate) fn parse_pow(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 2, eval_pow)
}

fn representable_as_long(base: i64, exp: i64) -> bool {
    // Largest |base| whose power `exp` fits an int64, for exp in 2..=63.
    const MAX: [i64; 64] = [
        i64::MAX,
        i64::MAX,
        3_037_000_499,
        2_097_151,
        55_108,
        6_208,
        1_448,
        511,
        234,
        127,
        78,
        52,
        38,
        28,
        22,
        18,
        15,
        13,
        11,
        9,
        8,
        7,
        7,
        6,
        6,
        5,
        5,
        5,
        4,
        4,
        4,
        4,
        3,
        3,
        3,
        3,
        3,
        3,
        3,
        3,
        2,
        2,
        2,
        2,
        2,
        2,
        2,
        2,
        2,
        2,
        2,
        2,
        2,
        2,
        2,
        2,
        2,
        2,
        2,
        2,
        2,
        2,
        2,
        1,
    ];
    const MIN: [i64; 64] = [
        i64::MIN,
        i64::MIN,
        -3_037_000_499,
        -2_097_152,
        -55_108,
        -6_208,
        -1_448,
        -512,
        -234,
        -128,
        -78,
        -52,
        -38,
        -28,
        -22,
        -18,
        -15,
        -13,
        -11,
        -9,
        -8,
        -8,
        -7,
        -6,
        -6,
        -5,
        -5,
        -5,
        -4,
        -4,
        -4,
        -4,
        -3,
        -3,
        -3,
        -3,
        -3,
        -3,
        -3,
        -3,
        -2,
        -2,
        -2,
        -2,
        -2,
        -2,
        -2,
        -2,
        -2,
        -2,
        -2,
        -2,
        -2,
        -2,
        -2,
        -2,
        -2,
        -2,
        -2,
        -2,
        -2,
        -2,
        -2,
        -2,
    ];
    let i = usize::try_from(exp).unwrap_or(0).min(63);
    base >= MIN[i] && base <= MAX[i]
}

fn eval_pow(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let a = env.eval(&c.args[0])?;
    let b = env.eval(&c.args[1])?;
    if is_nullish(&a) || is_nullish(&b) {
        return Ok(Some(Bson::Null));
    }
    let base = num(&a).ok_or_else(|| loc(28762, format!("$pow's base must be numeric, not {}", type_name(&a))))?;
    let exp = num(&b).ok_or_else(|| loc(28763, format!("$pow's exponent must be numeric, not {}", type_name(&b))))?;
    let zero_neg = || loc(28764, "$pow cannot take a base of 0 and a negative exponent");
    if matches!(base, Num::Decimal(_)) || matches!(exp, Num::Decimal(_)) {
        let bd = arith::to_decimal(base);
        let ed = arith::to_decimal(exp);
        if arith::decimal_info(&bd).zero && arith::decimal_info(&ed).negative {
            return Err(zero_neg());
        }
        return Ok(Some(Bson::Decimal128(arith::decimal_pow(bd, ed))));
    }
    let bf = arith::to_f64(base);
    let ef = arith::to_f64(exp);
    if bf == 0.0 && ef < 0.0 {
        return Err(zero_neg());
    }
    if matches!(base, Num::Double(_)) || matches!(exp, Num::Double(_)) {
        return Ok(Some(Bson::Double(bf.powf(ef))));
    }
    let long_result = matches!(base, Num::Int64(_)) || matches!(exp, Num::Int64(_));
    let format = |r: i64| -> Value { Some(if long_result { Bson::Int64(r) } else { Num::int_or_long(r).to_bson() }) };
    let bl = arith::to_i64(base);
    let el = arith::to_i64(exp);
    if bl == 0 {
        return Ok(format(if el == 0 { 1 } else { 0 }));
    }
    if bl == 1 {
        return Ok(format(1));
    }
    if bl == -1 {
        return Ok(format(if el % 2 == 0 { 1 } else { -1 }));
    }
    if !(0..=63).contains(&el) || !representable_as_long(bl, el) {
        return Ok(Some(Bson::Double((bl as f64).powf(el as f64))));
    }
    let mut result: i64 = 1;
    for _ in 0..el {
        result = result.wrapping_mul(bl);
    }
    Ok(format(result))
}

pub(crate) fn parse_round(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    ranged(name, arg, ctx, 1, 2, eval_round)
}

pub(crate) fn parse_trunc(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    ranged(name, arg, ctx, 1, 2, eval_round)
}

fn eval_round(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let mode = if c.name == "$round" { RoundMode::HalfEven } else { RoundMode::TowardZero };
    let val = env.eval(&c.args[0])?;
    if is_nullish(&val) {
        return Ok(Some(Bson::Null));
    }
    let n = num(&val).ok_or_else(|| numeric_error(51081, c.name, &val))?;
    let mut place = 0i64;
    if let Some(p) = c.args.get(1) {
        let pv = env.eval(p)?;
        if is_nullish(&pv) {
            return Ok(Some(Bson::Null));
        }
        let pn = num(&pv);
        if pn.and_then(arith::as_i32_exact).is_none() {
            return Err(loc(51082, format!("precision argument to  {} must be a integral value", c.name)));
        }
        place = pn.map(arith::to_i64).unwrap_or(0);
        if !(-20..=100).contains(&place) {
            return Err(loc(
                51083,
                format!("cannot apply {} with precision value {place} value must be in [-20, 100]", c.name),
            ));
        }
    }
    match arith::round_to_place(n, place, mode) {
        Some(r) => Ok(Some(r.to_bson())),
        None => Err(loc(
            51080,
            format!(
                "invalid conversion from Decimal128 result in {} resulting from arguments: [{}, {place}]",
                c.name,
                arith::to_i64(n)
            ),
        )),
    }
}

/// `$rand` takes `{}` or `[]` (no arguments); any other document or array is 3040501 and
/// any other value 10065, as MongoDB parses it.
pub(crate) fn parse_rand(name: &'static str, arg: &Bson, _ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    match arg {
        Bson::Document(d) if d.is_empty() => Ok(call(name, eval_rand, Vec::new(), OpData::Rand)),
        Bson::Array(a) if a.is_empty() => Ok(call(name, eval_rand, Vec::new(), OpData::Rand)),
        Bson::Document(_) | Bson::Array(_) => Err(loc(3040501, "$rand does not currently accept arguments")),
        _ => Err(loc(10065, "invalid parameter: expected an object ($rand)")),
    }
}

fn eval_rand(_c: &Call, _env: &mut Env<'_>) -> DocDbResult<Value> {
    Ok(Some(Bson::Double(random_f64())))
}

/// A uniformly distributed double in [0, 1) from a per-thread xorshift generator seeded
/// from the clock and a process-wide counter.
pub(crate) fn random_f64() -> f64 {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    thread_local! {
        static STATE: Cell<u64> = const { Cell::new(0) };
    }
    STATE.with(|s| {
        let mut x = s.get();
        if x == 0 {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1);
            x = nanos ^ COUNTER.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed);
            if x == 0 {
                x = 1;
            }
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        (x >> 11) as f64 / (1u64 << 53) as f64
    })
}
