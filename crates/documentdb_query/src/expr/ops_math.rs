//! Trigonometry (`$sin` ... `$atan2`, `$degreesToRadians`, `$radiansToDegrees`), bitwise
//! operators (`$bitAnd $bitOr $bitXor $bitNot`), timestamp parts (`$tsSecond`,
//! `$tsIncrement`), the quantile expressions (`$median`, `$percentile`) and `$function`,
//! which is refused at evaluation as mongod refuses it with server-side JavaScript off.
//!
//! Decimal128 precision: mongod evaluates the trigonometric and hyperbolic functions of a
//! decimal with the Intel decimal library (34 digits). This crate has no decimal
//! trigonometry, so a decimal argument is converted to a double, the function is applied
//! in binary64 and the result is converted back to decimal128 through the double's
//! shortest round-trip text (at most 17 significant digits). Decimals beyond the double
//! range (e.g. `1E+400`) therefore behave like the infinite double. `$degreesToRadians`
//! and `$radiansToDegrees` are exact: they multiply decimals by MongoDB's own decimal
//! constants.
use bson::{Bson, RawDocumentBuf};
use documentdb_errors::{DocDbError, DocDbResult, ErrorCode};

use super::operator_args::{bson_type_name, call, display, fixed, loc, object_arg, variadic};
use super::ops_arith::single_numeric;
use super::value::{self as v, is_nullish, num, type_name};
use super::{parse_operand, Call, Env, Node, OpData, ParseCtx};
use crate::arith::{self, Num};
use crate::Value;

/// A double result as a decimal128: the double's shortest round-trip digits, so that the
/// decimal carries no binary noise beyond what the double computed (see the module docs).
fn decimal_from_f64(x: f64) -> Bson {
    let text = if x.is_nan() {
        "NaN".to_string()
    } else if x.is_infinite() {
        if x < 0.0 { "-Infinity" } else { "Infinity" }.to_string()
    } else {
        format!("{x:e}")
    };
    match Num::decimal_from_str(&text) {
        Some(n) => n.to_bson(),
        // Rust's `{:e}` text always parses; the 34-digit conversion is the fallback.
        None => Bson::Decimal128(arith::double_to_decimal_34(x)),
    }
}

// ------------------------------------------------------------------------------------
// Trigonometry
// ------------------------------------------------------------------------------------

/// The domain of a trigonometric function as mongod declares it (`expression_trigonometric`):
/// `$sin`/`$cos`/`$tan` exclude the infinities, `$asin`/`$acos`/`$atanh` take `[-1,1]`,
/// `$acosh` takes `[1,inf]`, the others any number.
#[derive(Clone, Copy)]
enum Domain {
    Any,
    Inclusive(f64, f64),
    Exclusive(f64, f64),
}

fn trig_function(name: &str) -> (fn(f64) -> f64, Domain) {
    const INF: f64 = f64::INFINITY;
    match name {
        "$sin" => (f64::sin, Domain::Exclusive(-INF, INF)),
        "$cos" => (f64::cos, Domain::Exclusive(-INF, INF)),
        "$tan" => (f64::tan, Domain::Exclusive(-INF, INF)),
        "$asin" => (f64::asin, Domain::Inclusive(-1.0, 1.0)),
        "$acos" => (f64::acos, Domain::Inclusive(-1.0, 1.0)),
        "$atanh" => (f64::atanh, Domain::Inclusive(-1.0, 1.0)),
        "$acosh" => (f64::acosh, Domain::Inclusive(1.0, INF)),
        "$atan" => (f64::atan, Domain::Any),
        "$asinh" => (f64::asinh, Domain::Any),
        "$sinh" => (f64::sinh, Domain::Any),
        "$cosh" => (f64::cosh, Domain::Any),
        // Only the names registered with `parse_trig` reach here.
        _ => (f64::tanh, Domain::Any),
    }
}

pub(crate) fn parse_trig(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, eval_trig)
}

fn eval_trig(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let Some(n) = single_numeric(c, env)? else {
        return Ok(Some(Bson::Null));
    };
    let (f, domain) = trig_function(c.name);
    if let Domain::Inclusive(lo, hi) | Domain::Exclusive(lo, hi) = domain {
        // A NaN argument is returned as is, before the bounds are checked.
        if n.is_nan() {
            return Ok(Some(n.to_bson()));
        }
        // mongod checks ints and longs as doubles, decimals as decimals.
        let checked = match n {
            Num::Decimal(_) => n,
            other => Num::Double(arith::to_f64(other)),
        };
        let lower = arith::compare(checked, Num::Double(lo));
        let upper = arith::compare(checked, Num::Double(hi));
        let inclusive = matches!(domain, Domain::Inclusive(..));
        let inside = if inclusive { lower.is_ge() && upper.is_le() } else { lower.is_gt() && upper.is_lt() };
        if !inside {
            let shown = match checked {
                Num::Decimal(d) => arith::decimal_to_string(&d),
                other => v::format_double_g(arith::to_f64(other)),
            };
            let (open, close) = if inclusive { ('[', ']') } else { ('(', ')') };
            // "value must in" is mongod's wording.
            return Err(loc(
                50989,
                format!(
                    "cannot apply {} to {shown}, value must in {open}{},{}{close}",
                    c.name,
                    v::format_double_g(lo),
                    v::format_double_g(hi)
                ),
            ));
        }
    }
    Ok(Some(match n {
        Num::Decimal(_) => decimal_from_f64(f(arith::to_f64(n))),
        other => Bson::Double(f(arith::to_f64(other))),
    }))
}

pub(crate) fn parse_atan2(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 2, eval_atan2)
}

/// `ExpressionTwoNumericArgs`: the first operand is checked (null, then 51044) before the
/// second is evaluated (null, then 51045).
fn eval_atan2(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let mut operands = [Num::Int32(0); 2];
    for (i, code) in [(0usize, 51044), (1, 51045)] {
        let val = env.eval(&c.args[i])?;
        if is_nullish(&val) {
            return Ok(Some(Bson::Null));
        }
        operands[i] = num(&val)
            .ok_or_else(|| loc(code, format!("$atan2 only supports numeric types, not {}", type_name(&val))))?;
    }
    let [y, x] = operands;
    let r = arith::to_f64(y).atan2(arith::to_f64(x));
    if matches!(y, Num::Decimal(_)) || matches!(x, Num::Decimal(_)) {
        return Ok(Some(decimal_from_f64(r)));
    }
    Ok(Some(Bson::Double(r)))
}

pub(crate) fn parse_angle_conversion(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, eval_angle_conversion)
}

/// MongoDB's `Decimal128::kPi`: pi to 34 digits.
const DECIMAL_PI: &str = "3.141592653589793238462643383279503";
/// MongoDB's `kDoublePi` (3.141592653589793) is the double nearest pi.
const DOUBLE_PI: f64 = std::f64::consts::PI;

fn eval_angle_conversion(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let Some(n) = single_numeric(c, env)? else {
        return Ok(Some(Bson::Null));
    };
    let to_radians = c.name == "$degreesToRadians";
    if let Num::Decimal(_) = n {
        // mongod's factors are decimal quotients (kPi / 180 and 180 / kPi), rounded to 34
        // digits once, then multiplied.
        let (pi, one_eighty) = match Num::decimal_from_str(DECIMAL_PI) {
            Some(pi) => (pi, Num::Decimal(arith::to_decimal(Num::Int32(180)))),
            None => return Err(DocDbError::new(ErrorCode::InternalError, "invalid decimal pi")),
        };
        let factor = if to_radians { arith::divide(pi, one_eighty) } else { arith::divide(one_eighty, pi) };
        return match factor {
            Some(f) => Ok(Some(arith::multiply(n, f).to_bson())),
            None => Err(DocDbError::new(ErrorCode::InternalError, "invalid decimal angle factor")),
        };
    }
    let factor = if to_radians { DOUBLE_PI / 180.0 } else { 180.0 / DOUBLE_PI };
    Ok(Some(Bson::Double(arith::to_f64(n) * factor)))
}

// ------------------------------------------------------------------------------------
// Bitwise
// ------------------------------------------------------------------------------------

pub(crate) fn parse_bitwise(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    variadic(name, arg, ctx, eval_bitwise)
}

/// `$bitAnd`/`$bitOr`/`$bitXor` fold their operands from the identity (int `-1` for
/// `$bitAnd`, int `0` otherwise): an int while every operand is an int, a long once one is
/// a long. A nullish operand makes the result null, unless an earlier one was refused.
fn eval_bitwise(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let op: fn(i64, i64) -> i64 = match c.name {
        "$bitAnd" => |a, b| a & b,
        "$bitOr" => |a, b| a | b,
        _ => |a, b| a ^ b,
    };
    let mut acc: i64 = if c.name == "$bitAnd" { -1 } else { 0 };
    let mut long = false;
    for a in &c.args {
        let val = env.eval(a)?;
        if is_nullish(&val) {
            return Ok(Some(Bson::Null));
        }
        let operand = match val {
            Some(Bson::Int32(i)) => i64::from(i),
            Some(Bson::Int64(l)) => {
                long = true;
                l
            }
            _ => {
                return Err(DocDbError::new(
                    ErrorCode::TypeMismatch,
                    format!("{} only supports int and long operands.", c.name),
                ))
            }
        };
        acc = op(acc, operand);
    }
    // Int operands combine within 32 bits (their sign extensions combine the same way).
    Ok(Some(if long { Bson::Int64(acc) } else { Bson::Int32(acc as i32) }))
}

pub(crate) fn parse_bit_not(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, eval_bit_not)
}

fn eval_bit_not(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    match single_numeric(c, env)? {
        None => Ok(Some(Bson::Null)),
        Some(Num::Int32(i)) => Ok(Some(Bson::Int32(!i))),
        Some(Num::Int64(l)) => Ok(Some(Bson::Int64(!l))),
        Some(other) => Err(DocDbError::new(
            ErrorCode::TypeMismatch,
            format!("$bitNot only supports int and long, not: {}.", bson_type_name(&other.to_bson())),
        )),
    }
}

// ------------------------------------------------------------------------------------
// Timestamps
// ------------------------------------------------------------------------------------

pub(crate) fn parse_ts_part(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, eval_ts_part)
}

fn eval_ts_part(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let val = env.eval(&c.args[0])?;
    if is_nullish(&val) {
        return Ok(Some(Bson::Null));
    }
    let seconds = c.name == "$tsSecond";
    match val {
        Some(Bson::Timestamp(t)) => Ok(Some(Bson::Int64(i64::from(if seconds { t.time } else { t.increment })))),
        // The leading space is in mongod's message.
        other => Err(loc(
            if seconds { 5687301 } else { 5687302 },
            format!(" Argument to {} must be a timestamp, but is {}", c.name, type_name(&other)),
        )),
    }
}

// ------------------------------------------------------------------------------------
// $median / $percentile
// ------------------------------------------------------------------------------------

pub(crate) fn parse_quantile(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let median = name == "$median";
    let spec = object_arg(arg, |_| {
        loc(
            if median { 7436201 } else { 7436200 },
            format!("specification must be an object; found {name}: {}", display(&Some(arg.clone()))),
        )
    })?;
    let field_error =
        |code: ErrorCode, field: &str, what: &str| DocDbError::new(code, format!("BSON field '{name}.{field}' {what}"));
    // The IDL spec (`AccumulatorPercentileSpec` / `AccumulatorMedianSpec`, strict): each
    // field is checked as it is read, the required ones once all are read.
    let mut input = None;
    let mut p = None;
    let mut method = false;
    for (k, val) in spec {
        match k.as_str() {
            "input" => input = Some(val),
            "p" if !median => p = Some(val),
            "method" => {
                let Bson::String(m) = val else {
                    return Err(field_error(
                        ErrorCode::TypeMismatch,
                        "method",
                        &format!("is the wrong type '{}', expected type 'string'", bson_type_name(val)),
                    ));
                };
                if m != "approximate" {
                    return Err(DocDbError::new(
                        ErrorCode::BadValue,
                        "Currently only 'approximate' can be used as percentile 'method'.",
                    ));
                }
                method = true;
            }
            other => return Err(field_error(ErrorCode::new(40415), other, "is an unknown field.")),
        }
    }
    let missing = |field: &str| field_error(ErrorCode::new(40414), field, "is missing but a required field");
    let input = input.ok_or_else(|| missing("input"))?;
    if !median && p.is_none() {
        return Err(missing("p"));
    }
    if !method {
        return Err(missing("method"));
    }
    let input = parse_operand(input, ctx)?;
    let ps = match p {
        Some(p) => parse_p(p, ctx)?,
        None => vec![0.5],
    };
    let args = ps.into_iter().map(|p| Node::Const(Some(Bson::Double(p)))).collect::<Vec<_>>();
    let mut all = Vec::with_capacity(args.len() + 1);
    all.push(input);
    all.extend(args);
    Ok(call(name, eval_quantile, all, OpData::None))
}

/// `$percentile`'s `p`: an expression that must fold to a constant array of numbers in
/// `[0, 1]` (constants and `let` variables are allowed).
fn parse_p(p: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Vec<f64>> {
    const MSG: &str = "The $percentile 'p' field must be an array of numbers from [0.0, 1.0], but found: ";
    let node = parse_operand(p, ctx)?;
    if !node.is_constant() {
        return Err(loc(
            7750300,
            format!(
                "The $percentile 'p' field must be an array of constant values, but found value: {}.",
                display(&Some(p.clone()))
            ),
        ));
    }
    // A constant node reads no document: evaluate it against an empty one.
    let empty = RawDocumentBuf::new();
    let mut env = Env::new(&empty, ctx.next_var);
    let value = env.eval(&node)?;
    let items = match &value {
        Some(Bson::Array(items)) if !items.is_empty() => items,
        _ => return Err(loc(7750301, format!("{MSG}{}", display(&value)))),
    };
    let mut ps = Vec::with_capacity(items.len());
    for item in items {
        let item = Some(item.clone());
        let Some(n) = num(&item) else {
            return Err(loc(7750302, format!("{MSG}{}", display(&item))));
        };
        let x = arith::to_f64(n);
        // mongod's test (`p < 0 || p > 1`) lets NaN through.
        if !x.is_nan() && !(0.0..=1.0).contains(&x) {
            return Err(loc(7750303, format!("{MSG}{}", v::format_double_g(x))));
        }
        ps.push(x);
    }
    Ok(ps)
}

/// mongod's expression form of `$percentile`/`$median`: a number gives itself (as a
/// double) for every percentile; a non-empty array gives the discrete percentiles of its
/// numeric elements (mongod computes them exactly here for every method, rather than with
/// the t-digest of the accumulator: rank `ceil(p * n) - 1`, clamped to `[0, n - 1]`, of
/// the sorted values, NaN left out); anything else, or no numbers, gives null.
fn eval_quantile(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let input = env.eval(&c.args[0])?;
    let ps: Vec<f64> = c.args[1..]
        .iter()
        .map(|a| match a {
            Node::Const(Some(Bson::Double(p))) => *p,
            _ => 0.5,
        })
        .collect();
    let results: Vec<Bson> = if let Some(n) = num(&input) {
        let x = arith::to_f64(n);
        ps.iter().map(|_| Bson::Double(x)).collect()
    } else if let Some(Bson::Array(items)) = &input {
        let mut samples: Vec<f64> =
            items.iter().filter_map(Num::from_bson).map(arith::to_f64).filter(|x| !x.is_nan()).collect();
        samples.sort_by(|a, b| a.total_cmp(b));
        ps.iter().map(|p| discrete_percentile(&samples, *p).map_or(Bson::Null, Bson::Double)).collect()
    } else {
        ps.iter().map(|_| Bson::Null).collect()
    };
    if c.name == "$median" {
        return Ok(Some(results.into_iter().next().unwrap_or(Bson::Null)));
    }
    Ok(Some(Bson::Array(results)))
}

/// `DiscretePercentile::computePercentile` on sorted samples (`computeTrueRank`).
pub(crate) fn discrete_percentile(sorted: &[f64], p: f64) -> Option<f64> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let rank = if p >= 1.0 {
        n - 1
    } else {
        // In [0, n) for p in [0, 1): the cast cannot truncate.
        ((n as f64 * p).ceil() as usize).saturating_sub(1)
    };
    sorted.get(rank.min(n - 1)).copied()
}

// ------------------------------------------------------------------------------------
// $function (server-side JavaScript)
// ------------------------------------------------------------------------------------

/// Parses `$function` as mongod does (`ExpressionFunction::parse`), so that a malformed
/// one reports the same errors; evaluating it fails as mongod does when its JavaScript
/// engine is disabled (`security.javascriptEnabled: false`), which this engine always is.
pub(crate) fn parse_function(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let spec = object_arg(arg, |t| loc(31260, format!("$function requires an object as an argument, found: {t}")))?;
    let Some(body) = spec.get("body") else {
        return Err(loc(31261, "The body function must be specified."));
    };
    let body = match parse_operand(body, ctx)? {
        Node::Const(Some(b)) => b,
        _ => return Err(loc(31432, "The body function must be a constant expression")),
    };
    if !matches!(body, Bson::String(_) | Bson::JavaScriptCode(_)) {
        return Err(loc(31262, "The body function must evaluate to type string or code"));
    }
    let Some(args) = spec.get("args") else {
        return Err(loc(31263, "The args field must be specified."));
    };
    let args = parse_operand(args, ctx)?;
    match spec.get("lang") {
        None => return Err(loc(31418, "The lang field must be specified.")),
        Some(Bson::String(l)) if l == "js" => {}
        Some(_) => return Err(loc(31419, "Currently the only supported language specifier is 'js'.")),
    }
    Ok(call(name, eval_function, vec![args], OpData::None))
}

fn eval_function(_: &Call, _: &mut Env<'_>) -> DocDbResult<Value> {
    Err(javascript_disabled())
}

/// mongod's error for server-side JavaScript (`$function`, `$accumulator`, `$where`) when
/// its JavaScript engine is disabled.
pub(crate) fn javascript_disabled() -> DocDbError {
    loc(31264, "Cannot run server-side javascript without the javascript engine enabled")
}
