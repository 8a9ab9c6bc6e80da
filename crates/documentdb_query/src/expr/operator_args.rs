//! What operators share to parse their arguments: the argument shapes (`fixed`,
//! `ranged`, `variadic`, `named_args`), the [`Node::Call`] they build, and the error
//! helpers.
use bson::Bson;
use documentdb_errors::{DocDbError, DocDbResult, ErrorCode};

use super::value as v;
use super::{parse_operand, Call, EvalFn, Node, OpData, ParseCtx};
use crate::Value;

/// A MongoDB "Location" error.
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

/// `Value::toString()` as MongoDB prints values inside error messages.
pub(crate) fn display(val: &Value) -> String {
    v::display(val)
}
