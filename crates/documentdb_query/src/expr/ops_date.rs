//! Date operators. Time zones: "UTC"/"GMT"/"Z", UTC offsets and IANA (Olson) names such as
//! "America/New_York" (see `date::TimeZone`).
use bson::Bson;
use documentdb_errors::{DocDbError, DocDbResult, ErrorCode};

use super::date::{self, TimeZone, Unit};
use super::operator_args::{call, display, eval_on_null, eval_unless_nullish, loc, named_args, object_arg, require};
use super::value::{self as v, is_nullish, num, type_name};
use super::{parse_operand, Call, Env, Node, OpData, ParseCtx};
use crate::arith;
use crate::Value;

fn date_value(ms: i64) -> Value {
    Some(Bson::DateTime(bson::DateTime::from_millis(ms)))
}

/// `coerceToDate` (error 16006).
fn coerce_date(val: &Value) -> DocDbResult<i64> {
    val.as_ref()
        .and_then(v::coerce_to_date_millis)
        .ok_or_else(|| loc(16006, format!("can't convert from BSON type {} to Date", type_name(val))))
}

/// Evaluates an optional `timezone` argument: UTC when absent, `None` when nullish.
fn eval_tz(node: &Node, env: &mut Env<'_>) -> DocDbResult<Option<TimeZone>> {
    if node.is_absent() {
        return Ok(Some(TimeZone::UTC));
    }
    let val = env.eval(node)?;
    if is_nullish(&val) {
        return Ok(None);
    }
    match &val {
        Some(Bson::String(s)) => Ok(Some(TimeZone::parse(s)?)),
        other => Err(loc(40517, format!("timezone must evaluate to a string, found {}", type_name(other)))),
    }
}

fn with_context(e: DocDbError, context: &str) -> DocDbError {
    DocDbError::new(e.code, format!("{context} :: caused by :: {}", e.message))
}

// ---- $year, $month, ... (date or {date, timezone} or [date]) ----

pub(crate) fn parse_date_part(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let (date, tz) = match arg {
        Bson::Document(d) if d.keys().next().is_some_and(|k| !k.starts_with('$')) => {
            let mut date = None;
            let mut tz = Node::Absent;
            for (k, val) in d {
                match k.as_str() {
                    "date" => date = Some(parse_operand(val, ctx)?),
                    "timezone" => tz = parse_operand(val, ctx)?,
                    other => return Err(loc(40535, format!("unrecognized option to {name}: \"{other}\""))),
                }
            }
            let date = date.ok_or_else(|| {
                loc(40539, format!("missing 'date' argument to {name}, provided: {}", display(&Some(arg.clone()))))
            })?;
            (date, tz)
        }
        Bson::Array(items) => {
            if items.len() != 1 {
                return Err(loc(
                    40536,
                    format!("{name} accepts exactly one argument if given an array, but was given {}", items.len()),
                ));
            }
            (parse_operand(&items[0], ctx)?, Node::Absent)
        }
        other => (parse_operand(other, ctx)?, Node::Absent),
    };
    Ok(call(name, eval_date_part, vec![date, tz], OpData::None))
}

fn eval_date_part(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let dv = env.eval(&c.args[0])?;
    if is_nullish(&dv) {
        return Ok(Some(Bson::Null));
    }
    let ms = coerce_date(&dv)?;
    let tz = if c.args[1].is_absent() {
        TimeZone::UTC
    } else {
        let tv = env.eval(&c.args[1])?;
        if is_nullish(&tv) {
            return Ok(Some(Bson::Null));
        }
        match &tv {
            Some(Bson::String(s)) => TimeZone::parse(s)?,
            other => {
                return Err(loc(
                    40533,
                    format!(
                        "{} requires a string for the timezone argument, but was given a {} ({})",
                        c.name,
                        type_name(other),
                        display(other)
                    ),
                ))
            }
        }
    };
    let p = date::parts(ms, tz);
    if c.name == "$isoWeekYear" {
        // MongoDB's `TimeZone::isoYear` returns a `long long`: $isoWeekYear is an int64,
        // unlike every other date part (and $dateToParts' isoWeekYear), which are int32.
        return Ok(Some(Bson::Int64(date::iso_week(&p).0)));
    }
    let out = match c.name {
        "$year" => p.year,
        "$month" => p.month,
        "$dayOfMonth" => p.day,
        "$hour" => p.hour,
        "$minute" => p.minute,
        "$second" => p.second,
        "$millisecond" => p.millisecond,
        "$dayOfYear" => p.day_of_year,
        "$dayOfWeek" => p.day_of_week,
        "$week" => date::week_of_year(&p),
        "$isoWeek" => date::iso_week(&p).1,
        _ => date::iso_day_of_week(&p),
    };
    Ok(Some(Bson::Int32(i32::try_from(out).unwrap_or(i32::MAX))))
}

// ---- $dateToString ----

pub(crate) fn parse_date_to_string(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let d = object_arg(arg, |_| loc(18629, "$dateToString only supports an object as its argument"))?;
    let args = named_args(d, &["date", "format", "timezone", "onNull"], ctx, |k| {
        loc(18534, format!("Unrecognized argument to $dateToString: {k}"))
    })?;
    require(&args[0], || loc(18628, "Missing 'date' parameter to $dateToString"))?;
    Ok(call(name, eval_date_to_string, args, OpData::None))
}

/// The optional `format` argument (`args[1]`) of `$dateToString` and `$dateFromString`.
enum FormatArg {
    NotGiven,
    Nullish,
    Given(String),
}

/// Evaluates `format`: a string of the `specifiers` (error `not_string_code` for other types).
fn eval_format(c: &Call, env: &mut Env<'_>, specifiers: &str, not_string_code: i32) -> DocDbResult<FormatArg> {
    if c.args[1].is_absent() {
        return Ok(FormatArg::NotGiven);
    }
    match env.eval(&c.args[1])? {
        fv if is_nullish(&fv) => Ok(FormatArg::Nullish),
        Some(Bson::String(f)) => {
            date::validate_format(&f, specifiers)?;
            Ok(FormatArg::Given(f))
        }
        other => Err(loc(
            not_string_code,
            format!(
                "{} requires that 'format' be a string, found: {} with value {}",
                c.name,
                type_name(&other),
                display(&other)
            ),
        )),
    }
}

fn eval_date_to_string(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let dv = env.eval(&c.args[0])?;
    let format = eval_format(c, env, date::TO_STRING_SPECIFIERS, 18533)?;
    let tz = eval_tz(&c.args[2], env)?;
    if is_nullish(&dv) {
        return eval_on_null(&c.args[3], env);
    }
    let Some(tz) = tz else {
        return Ok(Some(Bson::Null));
    };
    let f = match &format {
        FormatArg::Nullish => return Ok(Some(Bson::Null)),
        FormatArg::NotGiven => date::ISO_FORMAT,
        FormatArg::Given(f) => f.as_str(),
    };
    let ms = coerce_date(&dv)?;
    Ok(Some(Bson::String(date::format_date(f, ms, tz)?)))
}

// ---- $dateFromString ----

pub(crate) fn parse_date_from_string(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let d = object_arg(arg, |found| {
        loc(40540, format!("$dateFromString only supports an object as an argument, found: {found}"))
    })?;
    let args = named_args(d, &["dateString", "format", "timezone", "onNull", "onError"], ctx, |k| {
        loc(40541, format!("Unrecognized argument to $dateFromString: {k}"))
    })?;
    require(&args[0], || loc(40542, "Missing 'dateString' parameter to $dateFromString"))?;
    Ok(call(name, eval_date_from_string, args, OpData::None))
}

fn eval_date_from_string(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let sv = env.eval(&c.args[0])?;
    let format = eval_format(c, env, date::FROM_STRING_SPECIFIERS, 40684)?;
    let tz = eval_tz(&c.args[2], env)?;
    if is_nullish(&sv) {
        return eval_on_null(&c.args[3], env);
    }
    let result = (|| -> DocDbResult<Value> {
        let Some(Bson::String(s)) = &sv else {
            return Err(DocDbError::new(
                ErrorCode::ConversionFailure,
                format!(
                    "$dateFromString requires that 'dateString' be a string, found: {} with value {}",
                    type_name(&sv),
                    display(&sv)
                ),
            ));
        };
        let Some(tz) = tz else {
            return Ok(Some(Bson::Null));
        };
        let tz_given = !c.args[2].is_absent();
        let ms = match &format {
            FormatArg::Nullish => return Ok(Some(Bson::Null)),
            FormatArg::Given(f) => date::parse_with_format(s, f, tz)?,
            FormatArg::NotGiven => date::parse_default(s, tz, tz_given)?,
        };
        Ok(date_value(ms))
    })();
    match result {
        Err(e) if e.code == ErrorCode::ConversionFailure && !c.args[4].is_absent() => env.eval(&c.args[4]),
        other => other,
    }
}

// ---- $dateToParts ----

pub(crate) fn parse_date_to_parts(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let d = object_arg(arg, |_| loc(40524, "$dateToParts only supports an object as its argument"))?;
    let args = named_args(d, &["date", "timezone", "iso8601"], ctx, |k| {
        loc(40520, format!("Unrecognized argument to $dateToParts: {k}"))
    })?;
    require(&args[0], || loc(40522, "Missing 'date' parameter to $dateToParts"))?;
    Ok(call(name, eval_date_to_parts, args, OpData::None))
}

fn eval_date_to_parts(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let dv = env.eval(&c.args[0])?;
    let Some(tz) = eval_tz(&c.args[1], env)? else {
        return Ok(Some(Bson::Null));
    };
    let iso = if c.args[2].is_absent() {
        false
    } else {
        match env.eval(&c.args[2])? {
            None | Some(Bson::Null) | Some(Bson::Undefined) => return Ok(Some(Bson::Null)),
            Some(Bson::Boolean(b)) => b,
            other => return Err(loc(40521, format!("iso8601 must evaluate to a bool, found {}", type_name(&other)))),
        }
    };
    if is_nullish(&dv) {
        return Ok(Some(Bson::Null));
    }
    let ms = coerce_date(&dv)?;
    let p = date::parts(ms, tz);
    let i = |x: i64| Bson::Int32(i32::try_from(x).unwrap_or(i32::MAX));
    Ok(Some(Bson::Document(if iso {
        let (iy, iw) = date::iso_week(&p);
        bson::doc! {
            "isoWeekYear": i(iy), "isoWeek": i(iw), "isoDayOfWeek": i(date::iso_day_of_week(&p)),
            "hour": i(p.hour), "minute": i(p.minute), "second": i(p.second), "millisecond": i(p.millisecond),
        }
    } else {
        bson::doc! {
            "year": i(p.year), "month": i(p.month), "day": i(p.day),
            "hour": i(p.hour), "minute": i(p.minute), "second": i(p.second), "millisecond": i(p.millisecond),
        }
    })))
}

// ---- $dateFromParts ----

const PART_NAMES: [&str; 11] = [
    "year",
    "month",
    "day",
    "hour",
    "minute",
    "second",
    "millisecond",
    "isoWeekYear",
    "isoWeek",
    "isoDayOfWeek",
    "timezone",
];

pub(crate) fn parse_date_from_parts(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let d = object_arg(arg, |_| loc(40519, "$dateFromParts only supports an object as its argument"))?;
    let args =
        named_args(d, &PART_NAMES, ctx, |k| loc(40518, format!("Unrecognized argument to $dateFromParts: {k}")))?;
    let has = |i: usize| !args[i].is_absent();
    if !has(0) && !has(7) {
        return Err(loc(40516, "$dateFromParts requires either 'year' or 'isoWeekYear' to be present"));
    }
    if has(0) && (has(7) || has(8) || has(9)) {
        return Err(loc(40489, "$dateFromParts does not allow mixing natural dates with ISO dates"));
    }
    if has(7) && (has(0) || has(1) || has(2)) {
        return Err(loc(40525, "$dateFromParts does not allow mixing ISO dates with natural dates"));
    }
    Ok(call(name, eval_date_from_parts, args, OpData::None))
}

/// A part's value when it is not given, and whether it must lie in [-32768, 32767]
/// (in `PART_NAMES` order).
struct PartRule {
    default: i64,
    bounded: bool,
}

const PART_RULES: [PartRule; 10] = [
    PartRule { default: 1970, bounded: false }, // year
    PartRule { default: 1, bounded: true },     // month
    PartRule { default: 1, bounded: true },     // day
    PartRule { default: 0, bounded: true },     // hour
    PartRule { default: 0, bounded: true },     // minute
    PartRule { default: 0, bounded: false },    // second
    PartRule { default: 0, bounded: false },    // millisecond
    PartRule { default: 1970, bounded: false }, // isoWeekYear
    PartRule { default: 1, bounded: true },     // isoWeek
    PartRule { default: 1, bounded: true },     // isoDayOfWeek
];

/// Evaluates the parts at `indexes`, in that order: `Ok(None)` as soon as one is nullish.
fn parts<const N: usize>(c: &Call, env: &mut Env<'_>, indexes: [usize; N]) -> DocDbResult<Option<[i64; N]>> {
    let mut out = [0; N];
    for (slot, i) in out.iter_mut().zip(indexes) {
        let Some(n) = part(c, env, i)? else {
            return Ok(None);
        };
        *slot = n;
    }
    Ok(Some(out))
}

/// Evaluates one part: `Ok(None)` when nullish; its default when absent.
fn part(c: &Call, env: &mut Env<'_>, i: usize) -> DocDbResult<Option<i64>> {
    let PartRule { default, bounded } = PART_RULES[i];
    let node = &c.args[i];
    if node.is_absent() {
        return Ok(Some(default));
    }
    let val = env.eval(node)?;
    if is_nullish(&val) {
        return Ok(None);
    }
    let name = PART_NAMES[i];
    let n = num(&val).and_then(arith::as_i64_exact).ok_or_else(|| {
        loc(
            40515,
            format!("'{name}' must evaluate to an integer, found {} with value {}", type_name(&val), display(&val)),
        )
    })?;
    if bounded && !(-32768..=32767).contains(&n) {
        return Err(loc(
            31034,
            format!("'{name}' must evaluate to a value in the range [-32768, 32767]; value {n} is not in range"),
        ));
    }
    Ok(Some(n))
}

fn eval_date_from_parts(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let null = Ok(Some(Bson::Null));
    let Some([hour, minute, second, millisecond]) = parts(c, env, [3, 4, 5, 6])? else {
        return null;
    };
    let time = date::TimeOfDay { hour, minute, second, millisecond };
    let Some(tz) = eval_tz(&c.args[10], env)? else {
        return null;
    };
    if !c.args[0].is_absent() {
        let Some([year, month, day]) = parts(c, env, [0, 1, 2])? else {
            return null;
        };
        if !(1..=9999).contains(&year) {
            return Err(loc(40523, format!("'year' must evaluate to an integer in the range 1 to 9999, found {year}")));
        }
        return Ok(date_value(date::from_parts(year, month, day, time, tz)));
    }
    let Some([iy, iw, id]) = parts(c, env, [7, 8, 9])? else {
        return null;
    };
    if !(1..=9999).contains(&iy) {
        return Err(loc(
            31095,
            format!("'isoWeekYear' must evaluate to an integer in the range 1 to 9999, found {iy}"),
        ));
    }
    Ok(date_value(date::from_iso_parts(iy, iw, id, time, tz)))
}

// ---- $dateAdd / $dateSubtract ----

pub(crate) fn parse_date_add(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let d = object_arg(arg, |_| loc(5166400, format!("{name} expects an object as its argument")))?;
    let args = named_args(d, &["startDate", "unit", "amount", "timezone"], ctx, |k| {
        loc(
            5166401,
            format!(
                "Unrecognized argument to {name}: {k}. Expected arguments are startDate, unit, amount, and optionally timezone."
            ),
        )
    })?;
    if args[0].is_absent() || args[1].is_absent() || args[2].is_absent() {
        return Err(loc(5166402, format!("{name} requires startDate, unit, and amount to be present")));
    }
    Ok(call(name, eval_date_add, args, OpData::None))
}

fn parse_time_unit(val: &Value, op: &str) -> DocDbResult<Unit> {
    let Some(Bson::String(s)) = val else {
        return Err(loc(5439013, format!("{op} requires 'unit' to be a string, but got {}", type_name(val))));
    };
    date::parse_unit(s)
        .ok_or_else(|| loc(5439014, format!("{op} parameter 'unit' value cannot be recognized as a time unit: {s}")))
}

fn eval_date_add(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let Some([sv, uv, av]) = eval_unless_nullish(c, env, [0, 1, 2])? else {
        return Ok(Some(Bson::Null));
    };
    let Some(tz) = eval_tz(&c.args[3], env)? else {
        return Ok(Some(Bson::Null));
    };
    let start = sv
        .as_ref()
        .and_then(v::coerce_to_date_millis)
        .ok_or_else(|| loc(5166403, format!("{} requires startDate to be convertible to a date", c.name)))?;
    let Some(Bson::String(unit)) = &uv else {
        return Err(loc(5166404, format!("{} expects string defining the time unit", c.name)));
    };
    let unit = date::parse_unit(unit)
        .ok_or_else(|| DocDbError::new(ErrorCode::FailedToParse, format!("unknown time unit value: {unit}")))?;
    let mut amount = num(&av)
        .and_then(arith::as_i64_exact)
        .ok_or_else(|| loc(5166405, format!("{} expects integer amount of time units", c.name)))?;
    if c.name == "$dateSubtract" {
        if amount == i64::MIN {
            return Err(loc(6045000, format!("invalid $dateSubtract 'amount' parameter value: {amount}")));
        }
        amount = -amount;
    }
    match date::date_add(start, unit, amount, tz) {
        Some(ms) => Ok(date_value(ms)),
        None => Err(loc(5976500, format!("invalid {} 'amount' parameter value: {amount}", c.name))),
    }
}

// ---- $dateDiff ----

pub(crate) fn parse_date_diff(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let d = object_arg(arg, |_| loc(5166301, "$dateDiff only supports an object as its argument"))?;
    let args = named_args(d, &["startDate", "endDate", "unit", "timezone", "startOfWeek"], ctx, |k| {
        loc(5166302, format!("Unrecognized argument to $dateDiff: {k}"))
    })?;
    require(&args[0], || loc(5166303, "Missing 'startDate' parameter to $dateDiff"))?;
    require(&args[1], || loc(5166304, "Missing 'endDate' parameter to $dateDiff"))?;
    require(&args[2], || loc(5166305, "Missing 'unit' parameter to $dateDiff"))?;
    Ok(call(name, eval_date_diff, args, OpData::None))
}

/// Evaluates `startOfWeek` (`args[4]`) of `$dateDiff` / `$dateTrunc`, which counts only for
/// the unit "week": `Ok(None)` when nullish (the result is null), missing when not counted.
fn eval_start_of_week(c: &Call, env: &mut Env<'_>, unit: &Value) -> DocDbResult<Option<Value>> {
    let week = matches!(unit, Some(Bson::String(u)) if u == "week");
    if !week || c.args[4].is_absent() {
        return Ok(Some(None));
    }
    let sow = env.eval(&c.args[4])?;
    if is_nullish(&sow) {
        return Ok(None);
    }
    Ok(Some(sow))
}

/// The first day of the week from [`eval_start_of_week`]: Sunday (7) when missing.
fn start_of_week(val: &Value, op: &str) -> DocDbResult<i64> {
    let s = match val {
        None => return Ok(7),
        Some(Bson::String(s)) => s,
        Some(_) => {
            return Err(loc(5439015, format!("{op} requires 'startOfWeek' to be a string, but got {}", type_name(val))))
        }
    };
    date::parse_day_of_week(s).ok_or_else(|| {
        loc(5439016, format!("{op} parameter 'startOfWeek' value cannot be recognized as a day of a week: {s}"))
    })
}

fn eval_date_diff(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let null = Ok(Some(Bson::Null));
    let Some([sv, ev, uv]) = eval_unless_nullish(c, env, [0, 1, 2])? else {
        return null;
    };
    let Some(sow) = eval_start_of_week(c, env, &uv)? else {
        return null;
    };
    let tz =
        eval_tz(&c.args[3], env).map_err(|e| with_context(e, "$dateDiff parameter 'timezone' value parsing failed"))?;
    let Some(tz) = tz else { return null };
    let to_date = |val: &Value, what: &str| {
        val.as_ref().and_then(v::coerce_to_date_millis).ok_or_else(|| {
            loc(5166307, format!("$dateDiff requires '{what}' to be a date, but got {}", type_name(val)))
        })
    };
    let start = to_date(&sv, "startDate")?;
    let end = to_date(&ev, "endDate")?;
    let unit = parse_time_unit(&uv, "$dateDiff")?;
    let sow = start_of_week(&sow, "$dateDiff")?;
    Ok(Some(Bson::Int64(date::date_diff(start, end, unit, tz, sow))))
}

// ---- $dateTrunc ----

pub(crate) fn parse_date_trunc(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let d = object_arg(arg, |_| loc(5439007, "$dateTrunc only supports an object as its argument"))?;
    let args = named_args(d, &["date", "unit", "binSize", "timezone", "startOfWeek"], ctx, |k| {
        loc(
            5439008,
            format!(
                "Unrecognized argument to $dateTrunc: {k}. Expected arguments are date, unit, and optionally, binSize, timezone, startOfWeek"
            ),
        )
    })?;
    require(&args[0], || loc(5439009, "Missing 'date' parameter to $dateTrunc"))?;
    require(&args[1], || loc(5439010, "Missing 'unit' parameter to $dateTrunc"))?;
    Ok(call(name, eval_date_trunc, args, OpData::None))
}

fn eval_date_trunc(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let null = Ok(Some(Bson::Null));
    let Some([dv, uv]) = eval_unless_nullish(c, env, [0, 1])? else {
        return null;
    };
    let mut bin = Value::None;
    if !c.args[2].is_absent() {
        bin = env.eval(&c.args[2])?;
        if is_nullish(&bin) {
            return null;
        }
    }
    let Some(sow) = eval_start_of_week(c, env, &uv)? else {
        return null;
    };
    let tz = eval_tz(&c.args[3], env)
        .map_err(|e| with_context(e, "$dateTrunc parameter 'timezone' value parsing failed"))?;
    let Some(tz) = tz else { return null };
    let ms = dv
        .as_ref()
        .and_then(v::coerce_to_date_millis)
        .ok_or_else(|| loc(5439012, format!("$dateTrunc requires 'date' to be a date, but got {}", type_name(&dv))))?;
    let unit = parse_time_unit(&uv, "$dateTrunc")?;
    let bin_size = if c.args[2].is_absent() {
        1
    } else {
        let b = num(&bin).and_then(arith::as_i64_exact).ok_or_else(|| {
            loc(
                5439017,
                format!(
                    "$dateTrunc requires 'binSize' to be a 64-bit integer, but got value '{}' of type {}",
                    display(&bin),
                    type_name(&bin)
                ),
            )
        })?;
        if b <= 0 {
            return Err(loc(5439018, format!("$dateTrunc requires 'binSize' to be greater than 0, but got value {b}")));
        }
        b
    };
    let sow = start_of_week(&sow, "$dateTrunc")?;
    match date::date_trunc(ms, unit, bin_size, tz, sow) {
        Some(out) => Ok(date_value(out)),
        None => Err(DocDbError::new(ErrorCode::Overflow, "$dateTrunc: date overflow")),
    }
}
