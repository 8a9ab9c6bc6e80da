//! Operators that bind variables (`$let`, `$map`, `$filter`, `$reduce`) and `$literal`.
use bson::Bson;
use documentdb_errors::DocDbResult;

use super::operator_args::{call, display, eval_array_unless_nullish, loc, named_values, object_arg};
use super::value::{self as v, is_nullish, num, type_name};
use super::{parse_operand, validate_var_name_for_write, Call, Env, Node, OpData, ParseCtx};
use crate::arith::{self};
use crate::value_bounds::{self, Accounting, Exceeded, SizeBudget, MAX_VALUE_BYTES};
use crate::Value;

pub(crate) fn parse_literal(_name: &'static str, arg: &Bson, _ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    Ok(Node::Const(Some(arg.clone())))
}

pub(crate) fn parse_let(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let d = object_arg(arg, |_| loc(16874, "$let only supports an object as its argument"))?;
    let [vars, body] = named_values(d, ["vars", "in"], |k| loc(16875, format!("Unrecognized parameter to $let: {k}")))?;
    let vars = vars.ok_or_else(|| loc(16876, "Missing 'vars' parameter to $let"))?;
    let body = body.ok_or_else(|| loc(16877, "Missing 'in' parameter to $let"))?;
    let vars =
        object_arg(vars, |found| loc(10065, format!("invalid parameter: expected an object (vars), found {found}")))?;
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
    Ok(call(name, eval_let, args, OpData::Vars(ids)))
}

fn eval_let(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let OpData::Vars(ids) = &c.data else {
        return Ok(None);
    };
    // The variables' expressions were parsed outside their scope, so binding each one as
    // soon as it is evaluated cannot change what the others see.
    for (id, a) in ids.iter().zip(&c.args) {
        let val = env.eval(a)?;
        let built = env.take_built_size();
        env.bind(c.name, *id, val, built)?;
    }
    let result = match c.args.last() {
        Some(body) => env.eval(body),
        None => Ok(None),
    };
    for id in ids {
        env.unbind(*id);
    }
    result
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

pub(crate) fn parse_map(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let d = object_arg(arg, |_| loc(16878, "$map only supports an object as its argument"))?;
    let [input, as_name, body] =
        named_values(d, ["input", "as", "in"], |k| loc(16879, format!("Unrecognized parameter to $map: {k}")))?;
    let input = input.ok_or_else(|| loc(16880, "Missing 'input' parameter to $map"))?;
    let body = body.ok_or_else(|| loc(16882, "Missing 'in' parameter to $map"))?;
    let input = parse_operand(input, ctx)?;
    let (id, body) = bind_and_parse(as_name, body, ctx)?;
    Ok(call(name, eval_map, vec![input, body], OpData::Var(id)))
}

fn eval_map(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let OpData::Var(id) = c.data else {
        return Ok(None);
    };
    let Some(items) = eval_array_unless_nullish(&c.args[0], env, |input| {
        loc(16883, format!("input to $map must be an array not {}", type_name(input)))
    })?
    else {
        return Ok(Some(Bson::Null));
    };
    let mut budget = SizeBudget::new("$map");
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        env.bind(c.name, id, Some(item), None)?;
        let mapped = env.eval(&c.args[1])?.unwrap_or(Bson::Null);
        budget.add_value_built(&mapped, env.take_built_size())?;
        out.push(mapped);
    }
    env.unbind(id);
    Ok(Some(Bson::Array(out)))
}

pub(crate) fn parse_filter(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let d = object_arg(arg, |_| loc(28646, "$filter only supports an object as its argument"))?;
    let [input, as_name, cond, limit] = named_values(d, ["input", "as", "cond", "limit"], |k| {
        loc(28647, format!("Unrecognized parameter to $filter: {k}"))
    })?;
    let input = input.ok_or_else(|| loc(28648, "Missing 'input' parameter to $filter"))?;
    let cond = cond.ok_or_else(|| loc(28650, "Missing 'cond' parameter to $filter"))?;
    let input = parse_operand(input, ctx)?;
    let (id, cond) = bind_and_parse(as_name, cond, ctx)?;
    let limit = match limit {
        Some(l) => parse_operand(l, ctx)?,
        None => Node::Absent,
    };
    Ok(call(name, eval_filter, vec![input, cond, limit], OpData::Var(id)))
}

fn eval_filter(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let OpData::Var(id) = c.data else {
        return Ok(None);
    };
    let Some(items) = eval_array_unless_nullish(&c.args[0], env, |input| {
        loc(28651, format!("input to $filter must be an array not {}", type_name(input)))
    })?
    else {
        return Ok(Some(Bson::Null));
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
        env.bind(c.name, id, Some(item.clone()), None)?;
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
    env.unbind(id);
    Ok(Some(Bson::Array(out)))
}

pub(crate) fn parse_reduce(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let d = object_arg(arg, |found| loc(40075, format!("$reduce requires an object as an argument, found: {found}")))?;
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
    Ok(call(name, eval_reduce, vec![input, initial, body], OpData::Reduce { this, value }))
}

fn eval_reduce(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let OpData::Reduce { this, value } = c.data else {
        return Ok(None);
    };
    let Some(items) = eval_array_unless_nullish(&c.args[0], env, |input| {
        loc(40080, format!("$reduce requires that 'input' be an array, found: {}", display(input)))
    })?
    else {
        return Ok(Some(Bson::Null));
    };
    let mut acc = env.eval(&c.args[1])?;
    let mut acc_size = acc_size_checked(c.name, &acc)?;
    for item in items {
        env.bind(c.name, this, Some(item), None)?;
        env.bind_measured(value, acc, acc_size);
        acc = env.eval(&c.args[2])?;
        acc_size = acc_size_checked(c.name, &acc)?;
    }
    env.unbind(this);
    env.unbind(value);
    Ok(acc)
}

/// Each step of `$reduce` may nest or grow the previous value (`in: ["$$value"]`): refuse
/// a value that could not be converted to BSON (and whose copies and comparisons would
/// recurse that deep) or that passes the memory limit, as MongoDB does.
fn acc_size_checked(op: &'static str, acc: &Value) -> DocDbResult<usize> {
    let Some(built) = acc else {
        return Ok(0);
    };
    value_bounds::measure(built, Accounting::Decoded, MAX_VALUE_BYTES, documentdb_bson::MAX_VALUE_DEPTH).map_err(|e| {
        match e {
            Exceeded::Depth => value_bounds::value_too_deep(),
            Exceeded::Size => value_bounds::value_too_large(op),
        }
    })
}
