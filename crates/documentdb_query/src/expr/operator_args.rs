//! What operators share to parse their arguments: the argument shapes (`fixed`,
//! `ranged`, `variadic`, `object_arg` with `named_args` / `named_values` and `require`),
//! the [`Node::Call`] they build, and the error helpers; and what they share to evaluate
//! them (`eval_unless_nullish`, `eval_array_unless_nullish`, `eval_on_null`,
//! `index_range`).
use bson::Bson;
use documentdb_errors::{DocDbError, DocDbResult};

use super::value::{self as v, num, type_name};
use super::{parse_operand, Call, Env, EvalFn, Node, OpData, ParseCtx};
use crate::arith;
use crate::Value;

pub(crate) use super::loc;

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

/// The BSON type name of a value that is present, as error messages print it.
pub(crate) fn bson_type_name(val: &Bson) -> &'static str {
    documentdb_bson::type_name(val.element_type())
}

/// The argument of an operator that takes an object; `not_object` builds the error from
/// the argument's type name.
pub(crate) fn object_arg(
    arg: &Bson,
    not_object: impl FnOnce(&'static str) -> DocDbError,
) -> DocDbResult<&bson::Document> {
    match arg {
        Bson::Document(d) => Ok(d),
        other => Err(not_object(bson_type_name(other))),
    }
}

/// Fails with `missing` when a required named argument (from [`named_args`]) was not given.
pub(crate) fn require(arg: &Node, missing: impl FnOnce() -> DocDbError) -> DocDbResult<()> {
    if arg.is_absent() {
        return Err(missing());
    }
    Ok(())
}

/// Splits an object argument into its named values, not parsed (in `names` order, `None`
/// when not given); unknown names are reported with `unknown`.
pub(crate) fn named_values<'a, const N: usize>(
    arg: &'a bson::Document,
    names: [&str; N],
    unknown: impl Fn(&str) -> DocDbError,
) -> DocDbResult<[Option<&'a Bson>; N]> {
    let mut out = [None; N];
    for (k, val) in arg {
        match names.iter().position(|n| *n == k) {
            Some(i) => out[i] = Some(val),
            None => return Err(unknown(k)),
        }
    }
    Ok(out)
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

/// `Value::toString()` as MongoDB prints values inside error messages.
pub(crate) fn display(val: &Value) -> String {
    v::display(val)
}

/// The value of an optional `onNull` argument: null when it is not given.
pub(crate) fn eval_on_null(on_null: &Node, env: &mut Env<'_>) -> DocDbResult<Value> {
    if on_null.is_absent() {
        return Ok(Some(Bson::Null));
    }
    env.eval(on_null)
}

/// Evaluates an operand that must be an array: `None` when nullish (the operator's result
/// is then null); `not_array` reports any other value.
pub(crate) fn eval_array_unless_nullish(
    operand: &Node,
    env: &mut Env<'_>,
    not_array: impl FnOnce(&Value) -> DocDbError,
) -> DocDbResult<Option<Vec<Bson>>> {
    match env.eval(operand)? {
        val if v::is_nullish(&val) => Ok(None),
        Some(Bson::Array(items)) => Ok(Some(items)),
        other => Err(not_array(&other)),
    }
}

/// Evaluates the operands at `indexes`, in that order: `None` as soon as one is nullish
/// (the operator's result is then null).
pub(crate) fn eval_unless_nullish<const N: usize>(
    c: &Call,
    env: &mut Env<'_>,
    indexes: [usize; N],
) -> DocDbResult<Option<[Value; N]>> {
    let mut out = std::array::from_fn(|_| None);
    for (slot, i) in out.iter_mut().zip(indexes) {
        let val = env.eval(&c.args[i])?;
        if v::is_nullish(&val) {
            return Ok(None);
        }
        *slot = val;
    }
    Ok(Some(out))
}

/// The optional starting and ending index operands (`args[2]`, `args[3]`) of
/// `$indexOfArray`, `$indexOfBytes` and `$indexOfCP`: `0` and `len` when not given, the end
/// no further than `len` (errors 40096 / 40097).
pub(crate) fn index_range(c: &Call, env: &mut Env<'_>, len: usize) -> DocDbResult<(usize, usize)> {
    let mut start = 0usize;
    if let Some(a) = c.args.get(2) {
        start = index_arg(&env.eval(a)?, c.name, "starting index")?;
    }
    let mut end = len;
    if let Some(a) = c.args.get(3) {
        end = end.min(index_arg(&env.eval(a)?, c.name, "ending index")?);
    }
    Ok((start, end))
}

fn index_arg(val: &Value, op: &str, what: &str) -> DocDbResult<usize> {
    let n = num(val).and_then(arith::as_i32_exact).ok_or_else(|| {
        loc(
            40096,
            format!(
                "{op}requires an integral {what}, found a value of type: {}, with value: {}",
                type_name(val),
                display(val)
            ),
        )
    })?;
    usize::try_from(n).map_err(|_| loc(40097, format!("{op} requires a nonnegative {what}, found: {}", display(val))))
}
