//! Type and object operators: `$type`, `$isNumber`, `$convert` and the `$toX` shortcuts,
//! `$objectToArray`, `$arrayToObject`, `$getField`, `$setField`, `$unsetField`,
//! `$bsonSize`.
use bson::{Bson, Document};
use documentdb_bson::type_name::{type_from_name, type_from_number};
use documentdb_errors::{DocDbError, DocDbResult, ErrorCode};

use super::date::{self, TimeZone};
use super::operator_args::{
    call, display, eval_array_unless_nullish, eval_on_null, fixed, loc, named_args, object_arg, parse_args, require,
};
use super::value::{self as v, is_nullish, num, type_name};
use super::{parse_operand, Call, Env, Node, OpData, ParseCtx};
use crate::arith::{self, Num};
use crate::value_bounds::SizeBudget;
use crate::Value;

pub(crate) fn parse_type(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, eval_type)
}

fn eval_type(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    Ok(Some(Bson::String(type_name(&env.eval(&c.args[0])?).to_string())))
}

pub(crate) fn parse_is_number(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, eval_is_number)
}

fn eval_is_number(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    Ok(Some(Bson::Boolean(num(&env.eval(&c.args[0])?).is_some())))
}

pub(crate) fn parse_bson_size(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, eval_bson_size)
}

fn eval_bson_size(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let val = env.eval(&c.args[0])?;
    if is_nullish(&val) {
        return Ok(Some(Bson::Null));
    }
    match &val {
        Some(Bson::Document(d)) => {
            let size = d.to_vec().map(|b| b.len()).unwrap_or(0);
            Ok(Some(Bson::Int32(i32::try_from(size).unwrap_or(i32::MAX))))
        }
        other => Err(loc(31393, format!("$bsonSize requires a document input, found: {}", type_name(other)))),
    }
}

// ---- $objectToArray / $arrayToObject ----

pub(crate) fn parse_object_to_array(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, eval_object_to_array)
}

fn eval_object_to_array(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let val = env.eval(&c.args[0])?;
    if is_nullish(&val) {
        return Ok(Some(Bson::Null));
    }
    let Some(Bson::Document(d)) = val else {
        return Err(loc(40390, format!("$objectToArray requires a document input, found: {}", type_name(&val))));
    };
    // Each field becomes a document of two fields: a few times the input's size.
    let mut budget = SizeBudget::new("$objectToArray");
    let mut out = Vec::with_capacity(d.len());
    for (k, val) in d {
        let pair = Bson::Document(bson::doc! {"k": k, "v": val});
        budget.add_value(&pair)?;
        out.push(pair);
    }
    Ok(Some(Bson::Array(out)))
}

pub(crate) fn parse_array_to_object(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, eval_array_to_object)
}

fn eval_array_to_object(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let Some(items) = eval_array_unless_nullish(&c.args[0], env, |val| {
        loc(40386, format!("$arrayToObject requires an array input, found: {}", type_name(val)))
    })?
    else {
        return Ok(Some(Bson::Null));
    };
    let mut out = Document::new();
    let Some(first) = items.first() else {
        return Ok(Some(Bson::Document(out)));
    };
    let array_format = match first {
        Bson::Array(_) => true,
        Bson::Document(_) => false,
        other => {
            return Err(loc(
                40398,
                format!(
                    "Unrecognised input type format for $arrayToObject: {}",
                    documentdb_bson::type_name(other.element_type())
                ),
            ))
        }
    };
    for elem in items {
        if array_format {
            let Bson::Array(pair) = elem else {
                return Err(loc(
                    40396,
                    format!(
                        "$arrayToObject requires a consistent input format. Elements mustall be arrays or all be objects. Array was detected, now found: {}",
                        documentdb_bson::type_name(elem.element_type())
                    ),
                ));
            };
            if pair.len() != 2 {
                return Err(loc(
                    40397,
                    format!("$arrayToObject requires an array of size 2 arrays,found array of size: {}", pair.len()),
                ));
            }
            let mut it = pair.into_iter();
            let (Some(k), Some(val)) = (it.next(), it.next()) else {
                continue;
            };
            let Bson::String(k) = k else {
                return Err(loc(
                    40395,
                    format!(
                        "$arrayToObject requires an array of key-value pairs, where the key must be of type string. Found key type: {}",
                        documentdb_bson::type_name(k.element_type())
                    ),
                ));
            };
            if k.contains('\0') {
                return Err(loc(4940400, "Key field cannot contain an embedded null byte"));
            }
            out.insert(k, val);
        } else {
            let Bson::Document(mut kv) = elem else {
                return Err(loc(
                    40391,
                    format!(
                        "$arrayToObject requires a consistent input format. Elements mustall be arrays or all be objects. Object was detected, now found: {}",
                        documentdb_bson::type_name(elem.element_type())
                    ),
                ));
            };
            if kv.len() != 2 {
                return Err(loc(
                    40392,
                    format!(
                        "$arrayToObject requires an object keys of 'k' and 'v'. Found incorrect number of keys:{}",
                        kv.len()
                    ),
                ));
            }
            let (k, val) = match (kv.remove("k"), kv.remove("v")) {
                (Some(k), Some(val)) => (k, val),
                _ => {
                    return Err(loc(
                        40393,
                        format!(
                        "$arrayToObject requires an object with keys 'k' and 'v'. Missing either or both keys from: {}",
                        display(&Some(Bson::Document(kv)))
                    ),
                    ))
                }
            };
            let Bson::String(k) = k else {
                return Err(loc(
                    40394,
                    format!(
                        "$arrayToObject requires an object with keys 'k' and 'v', where the value of 'k' must be of type string. Found type: {}",
                        documentdb_bson::type_name(k.element_type())
                    ),
                ));
            };
            if k.contains('\0') {
                return Err(loc(4940401, "Key field cannot contain an embedded null byte"));
            }
            out.insert(k, val);
        }
    }
    Ok(Some(Bson::Document(out)))
}

// ---- $getField / $setField / $unsetField ----

fn const_field(name: &str, node: &Node, path_code: i32, const_code: i32, type_code: i32) -> DocDbResult<String> {
    match node {
        Node::Path { .. } => Err(loc(
            path_code,
            "a field path reference is not allowed in this context; use {$literal: '<path>'}".to_string(),
        )),
        Node::Const(Some(Bson::String(s))) => Ok(s.clone()),
        Node::Const(other) => Err(loc(
            type_code,
            format!("{name} requires 'field' to evaluate to type String, but got {}", type_name(other)),
        )),
        _ => Err(loc(
            const_code,
            format!("{name} requires 'field' to evaluate to a constant, but got a non-constant argument"),
        )),
    }
}

pub(crate) fn parse_get_field(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let (field, input) = match arg {
        Bson::Document(d) if d.keys().next().is_some_and(|k| k.starts_with('$')) => {
            (parse_operand(arg, ctx)?, Node::Path { var: ctx.current(), fields: Vec::new() })
        }
        Bson::Document(d) => {
            let args = named_args(d, &["field", "input"], ctx, |k| {
                loc(3041701, format!("$getField found an unknown argument: {k}"))
            })?;
            let mut it = args.into_iter();
            (it.next().unwrap_or(Node::Absent), it.next().unwrap_or(Node::Absent))
        }
        other => (parse_operand(other, ctx)?, Node::Path { var: ctx.current(), fields: Vec::new() }),
    };
    require(&field, || loc(3041702, "$getField requires 'field' to be specified"))?;
    require(&input, || loc(3041703, "$getField requires 'input' to be specified"))?;
    if let (Node::Path { .. }, Bson::String(s)) = (&field, arg) {
        return Err(loc(
            5654600,
            format!("'{s}' is a field path reference which is not allowed in this context. Did you mean {{$literal: '{s}'}}?"),
        ));
    }
    let f = const_field(name, &field, 5654600, 5654601, 5654602)?;
    Ok(call(name, eval_get_field, vec![input], OpData::Str(f)))
}

fn eval_get_field(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let OpData::Str(field) = &c.data else {
        return Ok(None);
    };
    match env.eval(&c.args[0])? {
        None => Ok(None),
        Some(Bson::Null) | Some(Bson::Undefined) => Ok(Some(Bson::Null)),
        Some(Bson::Document(d)) => Ok(d.get(field).cloned()),
        Some(_) => Ok(None),
    }
}

pub(crate) fn parse_set_field(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let unset = name == "$unsetField";
    let d = object_arg(arg, |_| loc(4161100, format!("{name} only supports an object as its argument")))?;
    let names: &[&str] = if unset { &["field", "input"] } else { &["field", "input", "value"] };
    let mut args = named_args(d, names, ctx, |k| loc(4161101, format!("{name} found an unknown argument: {k}")))?;
    if unset {
        args.push(Node::Const(None));
    }
    require(&args[0], || loc(4161102, format!("{name} requires 'field' to be specified")))?;
    require(&args[2], || loc(4161103, format!("{name} requires 'value' to be specified")))?;
    require(&args[1], || loc(4161109, format!("{name} requires 'input' to be specified")))?;
    if let (Node::Path { .. }, Some(Bson::String(s))) = (&args[0], d.get("field")) {
        return Err(loc(
            4161108,
            format!("'{s}' is a field path reference which is not allowed in this context. Did you mean {{$literal: '{s}'}}?"),
        ));
    }
    let f = const_field(name, &args[0], 4161108, 4161106, 4161107)?;
    if f.contains('\0') {
        // A document field name cannot hold a NUL byte: the result could not be stored.
        return Err(loc(9534700, format!("{name}: 'field' cannot contain an embedded null byte")));
    }
    let value = args.pop().unwrap_or(Node::Const(None));
    let input = args.pop().unwrap_or(Node::Absent);
    Ok(call(name, eval_set_field, vec![input, value], OpData::Str(f)))
}

fn eval_set_field(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let OpData::Str(field) = &c.data else {
        return Ok(None);
    };
    let input = env.eval(&c.args[0])?;
    if is_nullish(&input) {
        return Ok(Some(Bson::Null));
    }
    let Some(Bson::Document(mut d)) = input else {
        return Err(loc(4161105, "$setField requires 'input' to evaluate to type Object"));
    };
    match env.eval(&c.args[1])? {
        Some(val) => {
            // The input and the value may each be as large as a value can be.
            let mut budget = SizeBudget::new(c.name);
            for (k, existing) in &d {
                if k != field {
                    budget.add_field(k, existing, None)?;
                }
            }
            budget.add_field(field, &val, None)?;
            d.insert(field.clone(), val);
        }
        None => {
            d.remove(field);
        }
    }
    Ok(Some(Bson::Document(d)))
}

// ---- $convert and $toX ----

pub(crate) fn parse_convert(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let parse_error = |msg: String| DocDbError::new(ErrorCode::FailedToParse, msg);
    let d = object_arg(arg, |found| {
        parse_error(format!("$convert expects an object of named arguments but found: {found}"))
    })?;
    let args = named_args(d, &["input", "to", "onError", "onNull"], ctx, |k| {
        parse_error(format!("$convert found an unknown argument: {k}"))
    })?;
    require(&args[0], || parse_error("Missing 'input' parameter to $convert".to_string()))?;
    require(&args[1], || parse_error("Missing 'to' parameter to $convert".to_string()))?;
    Ok(call(name, eval_convert, args, OpData::None))
}

pub(crate) fn parse_to_type(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let mut args = parse_args(arg, ctx)?;
    if args.len() != 1 {
        return Err(loc(50723, format!("{name} requires a single argument, got {}", args.len())));
    }
    let target = match name {
        "$toString" => "string",
        "$toObjectId" => "objectId",
        "$toDate" => "date",
        "$toDouble" => "double",
        "$toInt" => "int",
        "$toLong" => "long",
        "$toDecimal" => "decimal",
        _ => "bool",
    };
    args.push(Node::Const(Some(Bson::String(target.to_string()))));
    args.push(Node::Absent);
    args.push(Node::Absent);
    Ok(call(name, eval_convert, args, OpData::None))
}

/// Resolves `to` into a type name (`"missing"` accepted).
fn target_type(to: &Bson) -> DocDbResult<&'static str> {
    match to {
        Bson::String(s) if s == "missing" => Ok("missing"),
        Bson::String(s) => type_from_name(s)
            .map(documentdb_bson::type_name)
            .ok_or_else(|| DocDbError::new(ErrorCode::BadValue, format!("Unknown type name: {s}"))),
        other => match Num::from_bson(other) {
            Some(n) => {
                let code = arith::as_i32_exact(n).ok_or_else(|| {
                    DocDbError::new(ErrorCode::FailedToParse, "In $convert, numeric 'to' argument is not an integer")
                })?;
                type_from_number(code).map(documentdb_bson::type_name).ok_or_else(|| {
                    DocDbError::new(
                        ErrorCode::FailedToParse,
                        format!("In $convert, numeric value for 'to' does not correspond to a BSON type: {code}"),
                    )
                })
            }
            None => Err(DocDbError::new(
                ErrorCode::FailedToParse,
                format!(
                    "$convert's 'to' argument must be a string or number, but is {}",
                    documentdb_bson::type_name(other.element_type())
                ),
            )),
        },
    }
}

fn eval_convert(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let to = env.eval(&c.args[1])?;
    let input = env.eval(&c.args[0])?;
    let target = match &to {
        Some(t) if !is_nullish(&to) => Some(target_type(t)?),
        _ => None,
    };
    let Some(input) = input.filter(|i| !matches!(i, Bson::Null | Bson::Undefined)) else {
        return eval_on_null(&c.args[3], env);
    };
    let Some(target) = target else {
        return Ok(Some(Bson::Null));
    };
    match convert(input, target) {
        Ok(out) => Ok(Some(out)),
        Err(e) if e.code == ErrorCode::ConversionFailure && !c.args[2].is_absent() => env.eval(&c.args[2]),
        Err(e) => Err(e),
    }
}

fn failure(msg: impl Into<String>) -> DocDbError {
    DocDbError::new(ErrorCode::ConversionFailure, msg)
}

fn overflow(what: &str) -> DocDbError {
    failure(format!("Conversion would overflow target type in $convert with no onError value: {what}"))
}

fn double_to_long(d: f64) -> DocDbResult<i64> {
    if d.is_nan() {
        return Err(failure("Attempt to convert NaN value to integer type in $convert with no onError value"));
    }
    if d.is_infinite() {
        return Err(failure("Attempt to convert infinity value to integer type in $convert with no onError value"));
    }
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&d) {
        Ok(d as i64)
    } else {
        Err(overflow(&v::format_double_g(d)))
    }
}

fn decimal_to_long(d: &bson::Decimal128) -> DocDbResult<i64> {
    let info = arith::decimal_info(d);
    if info.nan {
        return Err(failure("Attempt to convert NaN value to integer type in $convert with no onError value"));
    }
    if info.infinite {
        return Err(failure("Attempt to convert infinity value to integer type in $convert with no onError value"));
    }
    arith::decimal_to_i64(d, true).ok_or_else(|| overflow(&arith::decimal_to_string(d)))
}

/// Formats a double as `$toString` does.
pub(crate) fn format_double(d: f64) -> String {
    if d.is_infinite() {
        return if d < 0.0 { "-Infinity".into() } else { "Infinity".into() };
    }
    if d.is_nan() {
        return "NaN".into();
    }
    if d == 0.0 && d.is_sign_negative() {
        return "-0".into();
    }
    v::format_double_g(d)
}

fn parse_number_failure(s: &str, why: &str) -> DocDbError {
    failure(format!("Failed to parse number '{s}' in $convert with no onError value: {why}"))
}

fn parse_oid(s: &str) -> DocDbResult<bson::oid::ObjectId> {
    if s.len() != 24 {
        return Err(failure(format!(
            "Failed to parse objectId '{s}' in $convert with no onError value: Invalid string length for parsing to OID, expected 24 but found {}",
            s.len()
        )));
    }
    bson::oid::ObjectId::parse_str(s).map_err(|_| {
        failure(format!(
            "Failed to parse objectId '{s}' in $convert with no onError value: Invalid character found in hex string"
        ))
    })
}

/// One `$convert` conversion (errors are ConversionFailure unless noted).
pub(crate) fn convert(input: Bson, target: &'static str) -> DocDbResult<Bson> {
    let unsupported = |input: &Bson| {
        failure(format!(
            "Unsupported conversion from {} to {target} in $convert with no onError value",
            documentdb_bson::type_name(input.element_type())
        ))
    };
    Ok(match (input, target) {
        // Anything to bool (except missing/minKey-to-other rules handled by the table).
        (i, "bool") => match &i {
            Bson::Boolean(_)
            | Bson::Int32(_)
            | Bson::Int64(_)
            | Bson::Double(_)
            | Bson::Decimal128(_)
            | Bson::DateTime(_) => Bson::Boolean(v::truthy(&Some(i))),
            Bson::String(_)
            | Bson::ObjectId(_)
            | Bson::Document(_)
            | Bson::Array(_)
            | Bson::Binary(_)
            | Bson::RegularExpression(_)
            | Bson::DbPointer(_)
            | Bson::JavaScriptCode(_)
            | Bson::Symbol(_)
            | Bson::JavaScriptCodeWithScope(_)
            | Bson::Timestamp(_)
            | Bson::MinKey
            | Bson::MaxKey => Bson::Boolean(true),
            _ => return Err(unsupported(&i)),
        },
        (Bson::Double(d), "double") => Bson::Double(d),
        (Bson::Double(d), "string") => Bson::String(format_double(d)),
        (Bson::Double(d), "date") => Bson::DateTime(bson::DateTime::from_millis(double_to_long(d)?)),
        (Bson::Double(d), "int") => {
            if d.is_nan() || d.is_infinite() {
                double_to_long(d)?;
            }
            if d >= f64::from(i32::MIN) && d <= f64::from(i32::MAX) {
                Bson::Int32(d as i32)
            } else {
                return Err(overflow(&v::format_double_g(d)));
            }
        }
        (Bson::Double(d), "long") => Bson::Int64(double_to_long(d)?),
        (Bson::Double(d), "decimal") => Bson::Decimal128(arith::to_decimal(Num::Double(d))),
        (Bson::String(s), "string") => Bson::String(s),
        (Bson::String(s), "double") => {
            if s.starts_with("0x") {
                return Err(failure(format!("Illegal hexadecimal input in $convert with no onError value: {s}")));
            }
            let d: f64 = s.parse().map_err(|_| parse_number_failure(&s, "Did not consume whole string."))?;
            let lower = s.to_ascii_lowercase();
            if d.is_infinite() && !lower.trim_start_matches(['+', '-']).starts_with("inf") {
                return Err(parse_number_failure(&s, "Out of range"));
            }
            Bson::Double(d)
        }
        (Bson::String(s), "int") => {
            if s.starts_with("0x") {
                return Err(failure(format!("Illegal hexadecimal input in $convert with no onError value: {s}")));
            }
            Bson::Int32(s.parse::<i32>().map_err(|e| parse_number_failure(&s, &int_parse_reason(&s, &e)))?)
        }
        (Bson::String(s), "long") => {
            if s.starts_with("0x") {
                return Err(failure(format!("Illegal hexadecimal input in $convert with no onError value: {s}")));
            }
            Bson::Int64(s.parse::<i64>().map_err(|e| parse_number_failure(&s, &int_parse_reason(&s, &e)))?)
        }
        (Bson::String(s), "decimal") => {
            if s.starts_with("0x") {
                return Err(failure(format!("Illegal hexadecimal input in $convert with no onError value: {s}")));
            }
            match Num::decimal_from_str(&s) {
                Some(Num::Decimal(d)) => {
                    let lower = s.to_ascii_lowercase();
                    if arith::decimal_info(&d).infinite && !lower.trim_start_matches(['+', '-']).starts_with("inf") {
                        return Err(parse_number_failure(&s, "Out of range"));
                    }
                    Bson::Decimal128(d)
                }
                _ => return Err(parse_number_failure(&s, "Failed to parse string to decimal")),
            }
        }
        (Bson::String(s), "objectId") => Bson::ObjectId(parse_oid(&s)?),
        (Bson::String(s), "date") => {
            let ms = date::parse_default(&s, TimeZone::UTC, false).map_err(|e| failure(e.message))?;
            Bson::DateTime(bson::DateTime::from_millis(ms))
        }
        (Bson::ObjectId(o), "string") => Bson::String(o.to_hex()),
        (Bson::ObjectId(o), "objectId") => Bson::ObjectId(o),
        (Bson::ObjectId(o), "date") => Bson::DateTime(o.timestamp()),
        (Bson::Boolean(b), "double") => Bson::Double(if b { 1.0 } else { 0.0 }),
        (Bson::Boolean(b), "string") => Bson::String(if b { "true" } else { "false" }.to_string()),
        (Bson::Boolean(b), "int") => Bson::Int32(i32::from(b)),
        (Bson::Boolean(b), "long") => Bson::Int64(i64::from(b)),
        (Bson::Boolean(b), "decimal") => Bson::Decimal128(arith::to_decimal(Num::Int32(i32::from(b)))),
        (Bson::DateTime(d), "double") => Bson::Double(d.timestamp_millis() as f64),
        (Bson::DateTime(d), "string") => Bson::String(date::format_iso(d.timestamp_millis())?),
        (Bson::DateTime(d), "date") => Bson::DateTime(d),
        (Bson::DateTime(d), "long") => Bson::Int64(d.timestamp_millis()),
        (Bson::DateTime(d), "decimal") => Bson::Decimal128(arith::to_decimal(Num::Int64(d.timestamp_millis()))),
        (Bson::Timestamp(t), "date") => Bson::DateTime(bson::DateTime::from_millis(i64::from(t.time) * 1000)),
        (Bson::Int32(i), "double") => Bson::Double(f64::from(i)),
        (Bson::Int32(i), "string") => Bson::String(i.to_string()),
        (Bson::Int32(i), "int") => Bson::Int32(i),
        (Bson::Int32(i), "long") => Bson::Int64(i64::from(i)),
        (Bson::Int32(i), "decimal") => Bson::Decimal128(arith::to_decimal(Num::Int32(i))),
        (Bson::Int64(i), "double") => Bson::Double(i as f64),
        (Bson::Int64(i), "string") => Bson::String(i.to_string()),
        (Bson::Int64(i), "date") => Bson::DateTime(bson::DateTime::from_millis(i)),
        (Bson::Int64(i), "int") => Bson::Int32(i32::try_from(i).map_err(|_| overflow(""))?),
        (Bson::Int64(i), "long") => Bson::Int64(i),
        (Bson::Int64(i), "decimal") => Bson::Decimal128(arith::to_decimal(Num::Int64(i))),
        (Bson::Decimal128(d), "double") => {
            let x = arith::to_f64(Num::Decimal(d));
            let info = arith::decimal_info(&d);
            let finite = !info.nan && !info.infinite;
            if finite && (x.is_infinite() || (!info.zero && x.abs() < f64::MIN_POSITIVE)) {
                return Err(overflow(&arith::decimal_to_string(&d)));
            }
            Bson::Double(x)
        }
        (Bson::Decimal128(d), "string") => Bson::String(arith::decimal_to_string(&d)),
        (Bson::Decimal128(d), "date") => Bson::DateTime(bson::DateTime::from_millis(decimal_to_long(&d)?)),
        (Bson::Decimal128(d), "int") => {
            let l = decimal_to_long(&d)?;
            Bson::Int32(i32::try_from(l).map_err(|_| overflow(&arith::decimal_to_string(&d)))?)
        }
        (Bson::Decimal128(d), "long") => Bson::Int64(decimal_to_long(&d)?),
        (Bson::Decimal128(d), "decimal") => Bson::Decimal128(d),
        (i, _) => return Err(unsupported(&i)),
    })
}

fn int_parse_reason(s: &str, e: &std::num::ParseIntError) -> String {
    use std::num::IntErrorKind::*;
    match e.kind() {
        PosOverflow | NegOverflow => "Overflow".to_string(),
        Empty => "No digits".to_string(),
        _ => {
            let _ = s;
            "Did not consume whole string.".to_string()
        }
    }
}
