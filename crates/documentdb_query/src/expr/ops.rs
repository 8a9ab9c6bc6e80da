//! The operator table and the arithmetic, comparison, boolean, conditional and variable
//! operators. String, array/set, type/object and date operators live in sibling modules.
use std::sync::Arc;

use bson::Bson;
use documentdb_errors::{DocDbError, DocDbResult, ErrorCode};

use super::value::{self as v, is_nullish, num, type_name};
use super::{parse_object, parse_operand, validate_var_name_for_write, Call, Env, EvalFn, Node, ParseCtx};
use crate::arith::{self, Num, RoundMode};
use crate::Value;

use super::{ops_array, ops_date, ops_object, ops_string};

/// Parse function of an operator: `(name, argument, ctx)`.
pub(crate) type ParseFn = fn(&'static str, &Bson, &mut ParseCtx<'_>) -> DocDbResult<Node>;

/// Extra, operator-specific data computed at parse time.
#[derive(Debug, Clone)]
pub(crate) enum OpData {
    None,
    /// A bound variable (`$map`/`$filter` `as`).
    Var(usize),
    /// `$let` variables, in `args` order (the last arg is `in`).
    Vars(Vec<usize>),
    /// `$reduce`: `$$this`, `$$value`.
    Reduce {
        this: usize,
        value: usize,
    },
    /// `$switch`: whether a default is present (it is the last arg).
    Switch {
        has_default: bool,
    },
    /// Pre-compiled regular expression (constant `regex`/`options`).
    Regex(Option<Arc<ops_string::CompiledRegex>>),
    /// `$sortArray` specification.
    Sort(Arc<ops_array::SortBy>),
    /// `$zip`: number of inputs (defaults follow) and `useLongestLength`.
    Zip {
        inputs: usize,
        longest: bool,
    },
    /// `$rand` (volatile).
    Rand,
    /// A constant string (e.g. `$getField`'s field).
    Str(String),
}

impl OpData {
    pub(crate) fn is_volatile(&self) -> bool {
        matches!(self, OpData::Rand)
    }
}

/// Operator name -> parser. Sorted by name (checked by a test).
pub(crate) static OPERATORS: &[(&str, ParseFn)] = &[
    ("$abs", p_abs),
    ("$add", p_add),
    ("$allElementsTrue", ops_array::p_all_elements_true),
    ("$and", p_and),
    ("$anyElementTrue", ops_array::p_any_element_true),
    ("$arrayElemAt", ops_array::p_array_elem_at),
    ("$arrayToObject", ops_object::p_array_to_object),
    ("$avg", ops_array::p_acc_expr),
    ("$binarySize", ops_string::p_binary_size),
    ("$bsonSize", ops_object::p_bson_size),
    ("$ceil", p_ceil),
    ("$cmp", p_cmp),
    ("$concat", ops_string::p_concat),
    ("$concatArrays", ops_array::p_concat_arrays),
    ("$cond", p_cond),
    ("$const", p_literal),
    ("$convert", ops_object::p_convert),
    ("$dateAdd", ops_date::p_date_add),
    ("$dateDiff", ops_date::p_date_diff),
    ("$dateFromParts", ops_date::p_date_from_parts),
    ("$dateFromString", ops_date::p_date_from_string),
    ("$dateSubtract", ops_date::p_date_add),
    ("$dateToParts", ops_date::p_date_to_parts),
    ("$dateToString", ops_date::p_date_to_string),
    ("$dateTrunc", ops_date::p_date_trunc),
    ("$dayOfMonth", ops_date::p_date_part),
    ("$dayOfWeek", ops_date::p_date_part),
    ("$dayOfYear", ops_date::p_date_part),
    ("$divide", p_divide),
    ("$eq", p_cmp),
    ("$exp", p_exp),
    ("$filter", p_filter),
    ("$first", ops_array::p_first),
    ("$firstN", ops_array::p_n_expr),
    ("$floor", p_floor),
    ("$getField", ops_object::p_get_field),
    ("$gt", p_cmp),
    ("$gte", p_cmp),
    ("$hour", ops_date::p_date_part),
    ("$ifNull", p_if_null),
    ("$in", ops_array::p_in),
    ("$indexOfArray", ops_array::p_index_of_array),
    ("$indexOfBytes", ops_string::p_index_of_bytes),
    ("$indexOfCP", ops_string::p_index_of_cp),
    ("$isArray", ops_array::p_is_array),
    ("$isNumber", ops_object::p_is_number),
    ("$isoDayOfWeek", ops_date::p_date_part),
    ("$isoWeek", ops_date::p_date_part),
    ("$isoWeekYear", ops_date::p_date_part),
    ("$last", ops_array::p_last),
    ("$lastN", ops_array::p_n_expr),
    ("$let", p_let),
    ("$literal", p_literal),
    ("$ln", p_ln),
    ("$log", p_log),
    ("$log10", p_log10),
    ("$lt", p_cmp),
    ("$lte", p_cmp),
    ("$ltrim", ops_string::p_trim),
    ("$map", p_map),
    ("$max", ops_array::p_acc_expr),
    ("$maxN", ops_array::p_n_expr),
    ("$mergeObjects", ops_array::p_acc_expr),
    ("$millisecond", ops_date::p_date_part),
    ("$min", ops_array::p_acc_expr),
    ("$minN", ops_array::p_n_expr),
    ("$minute", ops_date::p_date_part),
    ("$mod", p_mod),
    ("$month", ops_date::p_date_part),
    ("$multiply", p_multiply),
    ("$ne", p_cmp),
    ("$not", p_not),
    ("$objectToArray", ops_object::p_object_to_array),
    ("$or", p_or),
    ("$pow", p_pow),
    ("$rand", p_rand),
    ("$range", ops_array::p_range),
    ("$reduce", p_reduce),
    ("$regexFind", ops_string::p_regex),
    ("$regexFindAll", ops_string::p_regex),
    ("$regexMatch", ops_string::p_regex),
    ("$replaceAll", ops_string::p_replace),
    ("$replaceOne", ops_string::p_replace),
    ("$reverseArray", ops_array::p_reverse_array),
    ("$round", p_round),
    ("$rtrim", ops_string::p_trim),
    ("$second", ops_date::p_date_part),
    ("$setDifference", ops_array::p_set_difference),
    ("$setEquals", ops_array::p_set_equals),
    ("$setField", ops_object::p_set_field),
    ("$setIntersection", ops_array::p_set_intersection),
    ("$setIsSubset", ops_array::p_set_is_subset),
    ("$setUnion", ops_array::p_set_union),
    ("$size", ops_array::p_size),
    ("$slice", ops_array::p_slice),
    ("$sortArray", ops_array::p_sort_array),
    ("$split", ops_string::p_split),
    ("$sqrt", p_sqrt),
    ("$stdDevPop", ops_array::p_acc_expr),
    ("$stdDevSamp", ops_array::p_acc_expr),
    ("$strLenBytes", ops_string::p_str_len_bytes),
    ("$strLenCP", ops_string::p_str_len_cp),
    ("$strcasecmp", ops_string::p_strcasecmp),
    ("$substr", ops_string::p_substr_bytes),
    ("$substrBytes", ops_string::p_substr_bytes),
    ("$substrCP", ops_string::p_substr_cp),
    ("$subtract", p_subtract),
    ("$sum", ops_array::p_acc_expr),
    ("$switch", p_switch),
    ("$toBool", ops_object::p_to_type),
    ("$toDate", ops_object::p_to_type),
    ("$toDecimal", ops_object::p_to_type),
    ("$toDouble", ops_object::p_to_type),
    ("$toInt", ops_object::p_to_type),
    ("$toLong", ops_object::p_to_type),
    ("$toLower", ops_string::p_to_lower),
    ("$toObjectId", ops_object::p_to_type),
    ("$toString", ops_object::p_to_type),
    ("$toUpper", ops_string::p_to_upper),
    ("$trim", ops_string::p_trim),
    ("$trunc", p_trunc),
    ("$type", ops_object::p_type),
    ("$unsetField", ops_object::p_set_field),
    ("$week", ops_date::p_date_part),
    ("$year", ops_date::p_date_part),
    ("$zip", ops_array::p_zip),
];

/// Dispatches `{name: arg}` to the operator's parser.
pub(crate) fn parse_operator(name: &str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    match OPERATORS.binary_search_by(|(n, _)| (*n).cmp(name)) {
        Ok(i) => {
            let (static_name, parse) = OPERATORS[i];
            parse(static_name, arg, ctx)
        }
        Err(_) => Err(DocDbError::new(ErrorCode::InvalidPipelineOperator, format!("Unrecognized expression '{name}'"))),
    }
}

// ------------------------------------------------------------------------------------
// Parse helpers
// ------------------------------------------------------------------------------------

pub(crate) fn loc(code: i32, msg: impl Into<String>) -> DocDbError {
    DocDbError::new(ErrorCode::new(code), msg)
}

/// `ExpressionNary::parseArguments`: an array is a list of operands, anything else one.
pub(crate) fn parse_args(arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Vec<Node>> {
    match arg {
        Bson::Array(items) => items.iter().map(|i| parse_operand(i, ctx)).collect(),
        other => Ok(vec![parse_operand(other, ctx)?]),
    }
}

pub(crate) fn call(name: &'static str, eval: EvalFn, args: Vec<Node>, data: OpData) -> Node {
    Node::Call(Box::new(Call { name, eval, args, data }))
}

/// An operator with exactly `n` arguments (error 16020 otherwise).
pub(crate) fn fixed(
    name: &'static str,
    arg: &Bson,
    ctx: &mut ParseCtx<'_>,
    n: usize,
    eval: EvalFn,
) -> DocDbResult<Node> {
    fixed_named(name, name, arg, ctx, n, eval)
}

/// Like [`fixed`], reporting `display_name` in the error (e.g. `$substr` as `$substrBytes`).
pub(crate) fn fixed_named(
    name: &'static str,
    display_name: &str,
    arg: &Bson,
    ctx: &mut ParseCtx<'_>,
    n: usize,
    eval: EvalFn,
) -> DocDbResult<Node> {
    let args = parse_args(arg, ctx)?;
    if args.len() != n {
        return Err(loc(
            16020,
            format!("Expression {display_name} takes exactly {n} arguments. {} were passed in.", args.len()),
        ));
    }
    Ok(call(name, eval, args, OpData::None))
}

/// An operator with `min..=max` arguments (error 28667 otherwise).
pub(crate) fn ranged(
    name: &'static str,
    arg: &Bson,
    ctx: &mut ParseCtx<'_>,
    min: usize,
    max: usize,
    eval: EvalFn,
) -> DocDbResult<Node> {
    let args = parse_args(arg, ctx)?;
    if args.len() < min || args.len() > max {
        return Err(loc(
            28667,
            format!(
                "Expression {name} takes at least {min} arguments, and at most {max}. {} were passed in.",
                args.len()
            ),
        ));
    }
    Ok(call(name, eval, args, OpData::None))
}

/// A variadic operator.
pub(crate) fn variadic(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>, eval: EvalFn) -> DocDbResult<Node> {
    let args = parse_args(arg, ctx)?;
    Ok(call(name, eval, args, OpData::None))
}

/// Splits an object argument into the named operands (in `names` order, `Absent` when not
/// given); unknown names are reported with `unknown`.
pub(crate) fn named_args(
    arg: &bson::Document,
    names: &[&str],
    ctx: &mut ParseCtx<'_>,
    unknown: impl Fn(&str) -> DocDbError,
) -> DocDbResult<Vec<Node>> {
    let mut out = vec![Node::Absent; names.len()];
    for (k, val) in arg {
        match names.iter().position(|n| *n == k) {
            Some(i) => out[i] = parse_operand(val, ctx)?,
            None => return Err(unknown(k)),
        }
    }
    Ok(out)
}

pub(crate) fn display(val: &Value) -> String {
    v::display(val)
}

fn numeric_error(code: i32, op: &str, val: &Value) -> DocDbError {
    loc(code, format!("{op} only supports numeric types, not {}", type_name(val)))
}

// ------------------------------------------------------------------------------------
// Arithmetic
// ------------------------------------------------------------------------------------

fn p_add(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    variadic(name, arg, ctx, e_add)
}

fn e_add(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
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

fn p_subtract(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 2, e_subtract)
}

fn e_subtract(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
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

fn p_multiply(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    variadic(name, arg, ctx, e_multiply)
}

fn e_multiply(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
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

fn p_divide(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 2, e_divide)
}

fn e_divide(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
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

fn p_mod(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 2, e_mod)
}

fn e_mod(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
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
fn single_numeric(c: &Call, env: &mut Env<'_>) -> DocDbResult<Option<Num>> {
    let val = env.eval(&c.args[0])?;
    if is_nullish(&val) {
        return Ok(None);
    }
    match num(&val) {
        Some(n) => Ok(Some(n)),
        None => Err(numeric_error(28765, c.name, &val)),
    }
}

fn p_abs(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, e_abs)
}

fn e_abs(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let Some(n) = single_numeric(c, env)? else {
        return Ok(Some(Bson::Null));
    };
    match arith::abs(n) {
        Some(r) => Ok(Some(r.to_bson())),
        None => Err(loc(28680, "can't take $abs of long long min")),
    }
}

fn p_ceil(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, e_ceil)
}

fn e_ceil(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    Ok(Some(single_numeric(c, env)?.map(|n| arith::ceil(n).to_bson()).unwrap_or(Bson::Null)))
}

fn p_floor(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, e_floor)
}

fn e_floor(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    Ok(Some(single_numeric(c, env)?.map(|n| arith::floor(n).to_bson()).unwrap_or(Bson::Null)))
}

fn p_sqrt(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, e_sqrt)
}

fn e_sqrt(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
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

fn p_exp(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, e_exp)
}

fn e_exp(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let Some(n) = single_numeric(c, env)? else {
        return Ok(Some(Bson::Null));
    };
    Ok(Some(match n {
        Num::Decimal(d) => Bson::Decimal128(arith::decimal_exp(d)),
        other => Bson::Double(arith::to_f64(other).exp()),
    }))
}

fn p_ln(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, e_ln)
}

fn decimal_positive(d: &bson::Decimal128) -> bool {
    let i = arith::decimal_info(d);
    !i.nan && !i.zero && !i.negative
}

fn e_ln(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
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

fn p_log10(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, e_log10)
}

fn e_log10(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
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

fn p_log(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 2, e_log)
}

fn e_log(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
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

fn p_pow(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 2, e_pow)
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

fn e_pow(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
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

fn p_round(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    ranged(name, arg, ctx, 1, 2, e_round)
}

fn p_trunc(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    ranged(name, arg, ctx, 1, 2, e_round)
}

fn e_round(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
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

// ------------------------------------------------------------------------------------
// Comparison and boolean
// ------------------------------------------------------------------------------------

fn p_cmp(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 2, e_cmp)
}

fn e_cmp(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    use std::cmp::Ordering::*;
    let l = env.eval(&c.args[0])?;
    let r = env.eval(&c.args[1])?;
    let ord = v::compare_values(&l, &r);
    let b = match c.name {
        "$eq" => ord == Equal,
        "$ne" => ord != Equal,
        "$gt" => ord == Greater,
        "$gte" => ord != Less,
        "$lt" => ord == Less,
        "$lte" => ord != Greater,
        _ => {
            return Ok(Some(Bson::Int32(match ord {
                Less => -1,
                Equal => 0,
                Greater => 1,
            })))
        }
    };
    Ok(Some(Bson::Boolean(b)))
}

fn p_and(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    variadic(name, arg, ctx, e_and)
}

fn e_and(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    for a in &c.args {
        if !v::truthy(&env.eval(a)?) {
            return Ok(Some(Bson::Boolean(false)));
        }
    }
    Ok(Some(Bson::Boolean(true)))
}

fn p_or(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    variadic(name, arg, ctx, e_or)
}

fn e_or(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    for a in &c.args {
        if v::truthy(&env.eval(a)?) {
            return Ok(Some(Bson::Boolean(true)));
        }
    }
    Ok(Some(Bson::Boolean(false)))
}

fn p_not(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, e_not)
}

fn e_not(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    Ok(Some(Bson::Boolean(!v::truthy(&env.eval(&c.args[0])?))))
}

// ------------------------------------------------------------------------------------
// Conditional
// ------------------------------------------------------------------------------------

fn p_cond(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let Bson::Document(d) = arg else {
        return fixed(name, arg, ctx, 3, e_cond);
    };
    let args =
        named_args(d, &["if", "then", "else"], ctx, |k| loc(17083, format!("Unrecognized parameter to $cond: {k}")))?;
    if args[0].is_absent() {
        return Err(loc(17080, "Missing 'if' parameter to $cond"));
    }
    if args[1].is_absent() {
        return Err(loc(17081, "Missing 'then' parameter to $cond"));
    }
    if args[2].is_absent() {
        return Err(loc(17082, "Missing 'else' parameter to $cond"));
    }
    Ok(call(name, e_cond, args, OpData::None))
}

fn e_cond(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let cond = env.eval(&c.args[0])?;
    let branch = if v::truthy(&cond) { &c.args[1] } else { &c.args[2] };
    env.eval(branch)
}

fn p_if_null(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let args = parse_args(arg, ctx)?;
    if args.len() < 2 {
        return Err(loc(1257300, format!("$ifNull needs at least two arguments, had: {}", args.len())));
    }
    Ok(call(name, e_if_null, args, OpData::None))
}

fn e_if_null(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let n = c.args.len();
    for (i, a) in c.args.iter().enumerate() {
        let val = env.eval(a)?;
        if !is_nullish(&val) || i == n - 1 {
            return Ok(val);
        }
    }
    Ok(None)
}

fn p_switch(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let Bson::Document(d) = arg else {
        return Err(loc(
            40060,
            format!("$switch requires an object as an argument, found: {}", v::bson_type_name(arg)),
        ));
    };
    let mut args = Vec::new();
    let mut default = None;
    for (k, val) in d {
        match k.as_str() {
            "branches" => {
                let Bson::Array(branches) = val else {
                    return Err(loc(
                        40061,
                        format!("$switch expected an array for 'branches', found: {}", v::bson_type_name(val)),
                    ));
                };
                for b in branches {
                    let Bson::Document(bd) = b else {
                        return Err(loc(
                            40062,
                            format!("$switch expected each branch to be an object, found: {}", v::bson_type_name(b)),
                        ));
                    };
                    let pair = named_args(bd, &["case", "then"], ctx, |k| {
                        loc(40063, format!("$switch found an unknown argument to a branch: {k}"))
                    })?;
                    if pair[0].is_absent() {
                        return Err(loc(40064, "$switch requires each branch have a 'case' expression"));
                    }
                    if pair[1].is_absent() {
                        return Err(loc(40065, "$switch requires each branch have a 'then' expression."));
                    }
                    args.extend(pair);
                }
            }
            "default" => default = Some(parse_operand(val, ctx)?),
            other => return Err(loc(40067, format!("$switch found an unknown argument: {other}"))),
        }
    }
    if args.is_empty() {
        return Err(loc(40068, "$switch requires at least one branch."));
    }
    let has_default = default.is_some();
    if let Some(dft) = default {
        args.push(dft);
    }
    Ok(call(name, e_switch, args, OpData::Switch { has_default }))
}

fn e_switch(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let has_default = matches!(c.data, OpData::Switch { has_default: true });
    let branch_args = if has_default { &c.args[..c.args.len() - 1] } else { &c.args[..] };
    for pair in branch_args.chunks(2) {
        if let [case, then] = pair {
            if v::truthy(&env.eval(case)?) {
                return env.eval(then);
            }
        }
    }
    match (has_default, c.args.last()) {
        (true, Some(dft)) => env.eval(dft),
        _ => Err(loc(40066, "$switch could not find a matching branch for an input, and no default was specified.")),
    }
}

// ------------------------------------------------------------------------------------
// Variables: $let, $map, $filter, $reduce, $literal
// ------------------------------------------------------------------------------------

fn p_literal(_name: &'static str, arg: &Bson, _ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    Ok(Node::Const(Some(arg.clone())))
}

fn p_let(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let Bson::Document(d) = arg else {
        return Err(loc(16874, "$let only supports an object as its argument"));
    };
    let mut vars = None;
    let mut body = None;
    for (k, val) in d {
        match k.as_str() {
            "vars" => vars = Some(val),
            "in" => body = Some(val),
            other => return Err(loc(16875, format!("Unrecognized parameter to $let: {other}"))),
        }
    }
    let vars = vars.ok_or_else(|| loc(16876, "Missing 'vars' parameter to $let"))?;
    let body = body.ok_or_else(|| loc(16877, "Missing 'in' parameter to $let"))?;
    let Bson::Document(vars) = vars else {
        return Err(loc(
            10065,
            format!("invalid parameter: expected an object (vars), found {}", v::bson_type_name(vars)),
        ));
    };
    let mut args = Vec::with_capacity(vars.len() + 1);
    for (_, e) in vars {
        args.push(parse_operand(e, ctx)?);
    }
    let scope = ctx.scope_len();
    let mut ids = Vec::with_capacity(vars.len());
    for (k, _) in vars {
        validate_var_name_for_write(k)?;
        ids.push(ctx.define(k));
    }
    let body = parse_operand(body, ctx);
    ctx.pop_scope(scope);
    args.push(body?);
    Ok(call(name, e_let, args, OpData::Vars(ids)))
}

fn e_let(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let OpData::Vars(ids) = &c.data else {
        return Ok(None);
    };
    let mut values = Vec::with_capacity(ids.len());
    for a in &c.args[..ids.len()] {
        values.push(env.eval(a)?);
    }
    for (id, val) in ids.iter().zip(values) {
        env.set(*id, val);
    }
    match c.args.last() {
        Some(body) => env.eval(body),
        None => Ok(None),
    }
}

/// Parses `as` (default `this`), defines it, parses `body` in that scope.
fn bind_and_parse(as_name: Option<&Bson>, body: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<(usize, Node)> {
    let name = match as_name {
        None => "this".to_string(),
        Some(Bson::String(s)) => s.clone(),
        Some(_) => String::new(),
    };
    validate_var_name_for_write(&name)?;
    let scope = ctx.scope_len();
    let id = ctx.define(&name);
    let node = parse_operand(body, ctx);
    ctx.pop_scope(scope);
    Ok((id, node?))
}

fn p_map(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let Bson::Document(d) = arg else {
        return Err(loc(16878, "$map only supports an object as its argument"));
    };
    let (mut input, mut as_name, mut body) = (None, None, None);
    for (k, val) in d {
        match k.as_str() {
            "input" => input = Some(val),
            "as" => as_name = Some(val),
            "in" => body = Some(val),
            other => return Err(loc(16879, format!("Unrecognized parameter to $map: {other}"))),
        }
    }
    let input = input.ok_or_else(|| loc(16880, "Missing 'input' parameter to $map"))?;
    let body = body.ok_or_else(|| loc(16882, "Missing 'in' parameter to $map"))?;
    let input = parse_operand(input, ctx)?;
    let (id, body) = bind_and_parse(as_name, body, ctx)?;
    Ok(call(name, e_map, vec![input, body], OpData::Var(id)))
}

fn e_map(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let OpData::Var(id) = c.data else {
        return Ok(None);
    };
    let input = env.eval(&c.args[0])?;
    if is_nullish(&input) {
        return Ok(Some(Bson::Null));
    }
    let Some(Bson::Array(items)) = input else {
        return Err(loc(16883, format!("input to $map must be an array not {}", type_name(&input))));
    };
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        env.set(id, Some(item));
        out.push(env.eval(&c.args[1])?.unwrap_or(Bson::Null));
    }
    Ok(Some(Bson::Array(out)))
}

fn p_filter(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let Bson::Document(d) = arg else {
        return Err(loc(28646, "$filter only supports an object as its argument"));
    };
    let (mut input, mut as_name, mut cond, mut limit) = (None, None, None, None);
    for (k, val) in d {
        match k.as_str() {
            "input" => input = Some(val),
            "as" => as_name = Some(val),
            "cond" => cond = Some(val),
            "limit" => limit = Some(val),
            other => return Err(loc(28647, format!("Unrecognized parameter to $filter: {other}"))),
        }
    }
    let input = input.ok_or_else(|| loc(28648, "Missing 'input' parameter to $filter"))?;
    let cond = cond.ok_or_else(|| loc(28650, "Missing 'cond' parameter to $filter"))?;
    let input = parse_operand(input, ctx)?;
    let (id, cond) = bind_and_parse(as_name, cond, ctx)?;
    let limit = match limit {
        Some(l) => parse_operand(l, ctx)?,
        None => Node::Absent,
    };
    Ok(call(name, e_filter, vec![input, cond, limit], OpData::Var(id)))
}

fn e_filter(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let OpData::Var(id) = c.data else {
        return Ok(None);
    };
    let input = env.eval(&c.args[0])?;
    if is_nullish(&input) {
        return Ok(Some(Bson::Null));
    }
    let Some(Bson::Array(items)) = input else {
        return Err(loc(28651, format!("input to $filter must be an array not {}", type_name(&input))));
    };
    if items.is_empty() {
        return Ok(Some(Bson::Array(items)));
    }
    let mut remaining: Option<i64> = None;
    if !c.args[2].is_absent() {
        let lv = env.eval(&c.args[2])?;
        if !is_nullish(&lv) {
            let n = num(&lv).and_then(arith::as_i32_exact).ok_or_else(|| {
                loc(327391, format!("$filter: limit must be represented as a 32-bit integral value: {}", display(&lv)))
            })?;
            if n <= 0 {
                return Err(loc(327392, format!("$filter: limit must be greater than 0: {}", display(&lv))));
            }
            remaining = Some(i64::from(n));
        }
    }
    let mut out = Vec::new();
    for item in items {
        env.set(id, Some(item.clone()));
        if v::truthy(&env.eval(&c.args[1])?) {
            out.push(item);
            if let Some(r) = remaining.as_mut() {
                *r -= 1;
                if *r == 0 {
                    break;
                }
            }
        }
    }
    Ok(Some(Bson::Array(out)))
}

fn p_reduce(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let Bson::Document(d) = arg else {
        return Err(loc(
            40075,
            format!("$reduce requires an object as an argument, found: {}", v::bson_type_name(arg)),
        ));
    };
    let scope = ctx.scope_len();
    let this = ctx.define("this");
    let value = ctx.define("value");
    let inner_scope = ctx.scopes.split_off(scope);
    let (mut input, mut initial, mut body) = (None, None, None);
    let mut result = Ok(());
    for (k, val) in d {
        match k.as_str() {
            "input" => input = Some(parse_operand(val, ctx)),
            "initialValue" => initial = Some(parse_operand(val, ctx)),
            "in" => {
                ctx.scopes.extend(inner_scope.iter().cloned());
                let parsed = parse_operand(val, ctx);
                ctx.pop_scope(scope);
                body = Some(parsed);
            }
            other => {
                result = Err(loc(40076, format!("$reduce found an unknown argument: {other}")));
                break;
            }
        }
    }
    result?;
    let input = input.ok_or_else(|| loc(40077, "$reduce requires 'input' to be specified"))??;
    let initial = initial.ok_or_else(|| loc(40078, "$reduce requires 'initialValue' to be specified"))??;
    let body = body.ok_or_else(|| loc(40079, "$reduce requires 'in' to be specified"))??;
    Ok(call(name, e_reduce, vec![input, initial, body], OpData::Reduce { this, value }))
}

fn e_reduce(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let OpData::Reduce { this, value } = c.data else {
        return Ok(None);
    };
    let input = env.eval(&c.args[0])?;
    if is_nullish(&input) {
        return Ok(Some(Bson::Null));
    }
    let Some(Bson::Array(items)) = input else {
        return Err(loc(40080, format!("$reduce requires that 'input' be an array, found: {}", display(&input))));
    };
    let mut acc = env.eval(&c.args[1])?;
    for item in items {
        env.set(this, Some(item));
        env.set(value, acc);
        acc = env.eval(&c.args[2])?;
        // Each step may nest the previous value (`in: ["$$value"]`): refuse to build a value
        // that could not be converted to BSON (and whose copies and comparisons would
        // recurse that deep) instead of growing it without bound.
        if let Some(built) = &acc {
            v::check_value_depth(built)?;
        }
    }
    Ok(acc)
}

// ------------------------------------------------------------------------------------
// Misc
// ------------------------------------------------------------------------------------

fn p_rand(name: &'static str, arg: &Bson, _ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    match arg {
        Bson::Document(d) if d.is_empty() => Ok(call(name, e_rand, Vec::new(), OpData::Rand)),
        _ => Err(loc(3040501, "$rand does not currently accept arguments")),
    }
}

fn e_rand(_c: &Call, _env: &mut Env<'_>) -> DocDbResult<Value> {
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

/// Parses an operand that must be an object with an `$`-operator or literal fields, used by
/// modules that accept `{date: ..}` style arguments.
#[allow(dead_code)]
pub(crate) fn parse_document_operand(d: &bson::Document, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    parse_object(d, ctx)
}
