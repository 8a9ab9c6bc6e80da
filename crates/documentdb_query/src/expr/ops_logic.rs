//! Comparison (`$cmp`, `$eq`, ...), boolean (`$and`, `$or`, `$not`) and conditional
//! (`$cond`, `$ifNull`, `$switch`) operators.
use bson::Bson;
use documentdb_errors::DocDbResult;

use super::operator_args::{bson_type_name, call, fixed, loc, named_args, object_arg, parse_args, require, variadic};
use super::value::{self as v, is_nullish};
use super::{parse_operand, Call, Env, Node, OpData, ParseCtx};
use crate::Value;

pub(crate) fn parse_cmp(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 2, eval_cmp)
}

fn eval_cmp(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
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

pub(crate) fn parse_and(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    variadic(name, arg, ctx, eval_and)
}

fn eval_and(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    for a in &c.args {
        if !v::truthy(&env.eval(a)?) {
            return Ok(Some(Bson::Boolean(false)));
        }
    }
    Ok(Some(Bson::Boolean(true)))
}

pub(crate) fn parse_or(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    variadic(name, arg, ctx, eval_or)
}

fn eval_or(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    for a in &c.args {
        if v::truthy(&env.eval(a)?) {
            return Ok(Some(Bson::Boolean(true)));
        }
    }
    Ok(Some(Bson::Boolean(false)))
}

pub(crate) fn parse_not(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, eval_not)
}

fn eval_not(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    Ok(Some(Bson::Boolean(!v::truthy(&env.eval(&c.args[0])?))))
}

pub(crate) fn parse_cond(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let Bson::Document(d) = arg else {
        return fixed(name, arg, ctx, 3, eval_cond);
    };
    let args =
        named_args(d, &["if", "then", "else"], ctx, |k| loc(17083, format!("Unrecognized parameter to $cond: {k}")))?;
    require(&args[0], || loc(17080, "Missing 'if' parameter to $cond"))?;
    require(&args[1], || loc(17081, "Missing 'then' parameter to $cond"))?;
    require(&args[2], || loc(17082, "Missing 'else' parameter to $cond"))?;
    Ok(call(name, eval_cond, args, OpData::None))
}

fn eval_cond(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let cond = env.eval(&c.args[0])?;
    let branch = if v::truthy(&cond) { &c.args[1] } else { &c.args[2] };
    env.eval(branch)
}

pub(crate) fn parse_if_null(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let args = parse_args(arg, ctx)?;
    if args.len() < 2 {
        return Err(loc(1257300, format!("$ifNull needs at least two arguments, had: {}", args.len())));
    }
    Ok(call(name, eval_if_null, args, OpData::None))
}

fn eval_if_null(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let n = c.args.len();
    for (i, a) in c.args.iter().enumerate() {
        let val = env.eval(a)?;
        if !is_nullish(&val) || i == n - 1 {
            return Ok(val);
        }
    }
    Ok(None)
}

pub(crate) fn parse_switch(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let d = object_arg(arg, |found| loc(40060, format!("$switch requires an object as an argument, found: {found}")))?;
    let mut args = Vec::new();
    let mut default = None;
    for (k, val) in d {
        match k.as_str() {
            "branches" => {
                let Bson::Array(branches) = val else {
                    return Err(loc(
                        40061,
                        format!("$switch expected an array for 'branches', found: {}", bson_type_name(val)),
                    ));
                };
                for b in branches {
                    let bd = object_arg(b, |found| {
                        loc(40062, format!("$switch expected each branch to be an object, found: {found}"))
                    })?;
                    let pair = named_args(bd, &["case", "then"], ctx, |k| {
                        loc(40063, format!("$switch found an unknown argument to a branch: {k}"))
                    })?;
                    require(&pair[0], || loc(40064, "$switch requires each branch have a 'case' expression"))?;
                    require(&pair[1], || loc(40065, "$switch requires each branch have a 'then' expression."))?;
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
    Ok(call(name, eval_switch, args, OpData::Switch { has_default }))
}

fn eval_switch(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
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
