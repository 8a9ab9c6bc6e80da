//! Array and set operators, `$sortArray`, `$zip`, the `n` operators (`$firstN`, ...) and
//! the expression forms of the accumulators (`$sum`, `$avg`, `$min`, `$max`, ...).
use std::cmp::Ordering;
use std::sync::Arc;

use bson::Bson;
use documentdb_errors::{DocDbError, DocDbResult};

use super::accumulators::{validate_n, Accumulator};
use super::operator_args::{
    bson_type_name, call, display, eval_array_unless_nullish, fixed, index_range, loc, named_args, object_arg,
    parse_args, ranged, require, variadic,
};
use super::sort_by::parse_sort_by;
use super::value::{self as v, is_nullish, num, type_name};
use super::{parse_operand, Call, Env, Node, OpData, ParseCtx};
use crate::arith::{self, Num};
use crate::value_bounds::{self, Accounting, SizeBudget, MAX_VALUE_BYTES};
use crate::Value;

fn arr(val: Vec<Bson>) -> Value {
    Some(Bson::Array(val))
}

pub(crate) fn parse_size(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, eval_size)
}

fn eval_size(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    match env.eval(&c.args[0])? {
        Some(Bson::Array(a)) => Ok(Some(Num::int_or_long(i64::try_from(a.len()).unwrap_or(i64::MAX)).to_bson())),
        other => {
            Err(loc(17124, format!("The argument to $size must be an array, but was of type: {}", type_name(&other))))
        }
    }
}

/// Shared by `$arrayElemAt`, `$first`, `$last`.
fn array_elem_at(op: &str, arity: usize, array: Value, index: Value) -> DocDbResult<Value> {
    if is_nullish(&array) || is_nullish(&index) {
        return Ok(Some(Bson::Null));
    }
    let Some(Bson::Array(items)) = array else {
        return Err(loc(
            28689,
            format!(
                "{op}'s {} must be an array, but is {}",
                if arity == 1 { "argument" } else { "first argument" },
                type_name(&array)
            ),
        ));
    };
    let n = num(&index).ok_or_else(|| {
        loc(28690, format!("{op}'s second argument must be a numeric value, but is {}", type_name(&index)))
    })?;
    let i = arith::as_i32_exact(n).ok_or_else(|| {
        loc(
            28691,
            format!(
                "{op}'s second argument must be representable as a 32-bit integer: {}",
                v::format_double_g(arith::to_f64(n))
            ),
        )
    })?;
    let len = items.len() as i64;
    let i = i64::from(i);
    let idx = if i < 0 { len + i } else { i };
    if idx < 0 || idx >= len {
        return Ok(None);
    }
    Ok(items.into_iter().nth(usize::try_from(idx).unwrap_or(usize::MAX)))
}

pub(crate) fn parse_array_elem_at(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 2, eval_array_elem_at)
}

fn eval_array_elem_at(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let a = env.eval(&c.args[0])?;
    let i = env.eval(&c.args[1])?;
    array_elem_at(c.name, 2, a, i)
}

pub(crate) fn parse_first(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, eval_first_last)
}

pub(crate) fn parse_last(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, eval_first_last)
}

fn eval_first_last(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let a = env.eval(&c.args[0])?;
    let idx = if c.name == "$first" { 0 } else { -1 };
    array_elem_at(c.name, 1, a, Some(Bson::Int32(idx)))
}

pub(crate) fn parse_in(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 2, eval_in)
}

fn eval_in(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let needle = env.eval(&c.args[0])?;
    let hay = env.eval(&c.args[1])?;
    let Some(Bson::Array(items)) = hay else {
        return Err(loc(40081, format!("$in requires an array as a second argument, found: {}", type_name(&hay))));
    };
    let found = items.into_iter().any(|i| v::values_equal(&Some(i), &needle));
    Ok(Some(Bson::Boolean(found)))
}

pub(crate) fn parse_concat_arrays(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    variadic(name, arg, ctx, eval_concat_arrays)
}

/// Evaluates operands that must each be an array, one after the other, counting their
/// elements in `budget`: `None` as soon as one is nullish (the operator's result is null);
/// `not_array` reports any other value.
fn eval_array_operands(
    operands: &[Node],
    env: &mut Env<'_>,
    budget: &mut SizeBudget,
    not_array: impl Fn(&Value) -> DocDbError,
) -> DocDbResult<Option<Vec<Vec<Bson>>>> {
    let mut arrays = Vec::with_capacity(operands.len());
    for a in operands {
        let Some(items) = eval_array_unless_nullish(a, env, &not_array)? else {
            return Ok(None);
        };
        for item in &items {
            budget.add_value(item)?;
        }
        arrays.push(items)
    }
    Ok(Some(arrays))
}

fn eval_concat_arrays(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let mut budget = SizeBudget::new("$concatArrays");
    let Some(arrays) = eval_array_operands(&c.args, env, &mut budget, |other| {
        loc(28664, format!("$concatArrays only supports arrays, not {}", type_name(other)))
    })?
    else {
        return Ok(Some(Bson::Null));
    };
    Ok(arr(arrays.into_iter().flatten().collect()))
}

pub(crate) fn parse_slice(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    ranged(name, arg, ctx, 2, 3, eval_slice)
}

fn eval_slice(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let a = env.eval(&c.args[0])?;
    let second = env.eval(&c.args[1])?;
    if is_nullish(&a) || is_nullish(&second) {
        return Ok(Some(Bson::Null));
    }
    let Some(Bson::Array(items)) = a else {
        return Err(loc(
            28724,
            format!("First argument to $slice must be an array, but is of type: {}", type_name(&a)),
        ));
    };
    let n2 = num(&second).ok_or_else(|| {
        loc(28725, format!("Second argument to $slice must be a numeric value, but is of type: {}", type_name(&second)))
    })?;
    let k = arith::as_i32_exact(n2).ok_or_else(|| {
        loc(
            28726,
            format!(
                "Second argument to $slice can't be represented as a 32-bit integer: {}",
                v::format_double_g(arith::to_f64(n2))
            ),
        )
    })?;
    let len = items.len() as i64;
    let k = i64::from(k);
    let (start, end) = if c.args.len() == 2 {
        if k >= 0 {
            (0, k.min(len))
        } else {
            ((len + k).max(0), len)
        }
    } else {
        let start = if k < 0 { (len + k).max(0) } else { k.min(len) };
        let cv = env.eval(&c.args[2])?;
        if is_nullish(&cv) {
            return Ok(Some(Bson::Null));
        }
        let cn = num(&cv).ok_or_else(|| {
            loc(28727, format!("Third argument to $slice must be numeric, but is of type: {}", type_name(&cv)))
        })?;
        let count = arith::as_i32_exact(cn).ok_or_else(|| {
            loc(
                28728,
                format!(
                    "Third argument to $slice can't be represented as a 32-bit integer: {}",
                    v::format_double_g(arith::to_f64(cn))
                ),
            )
        })?;
        if count <= 0 {
            return Err(loc(28729, format!("Third argument to $slice must be positive: {count}")));
        }
        (start, (start + i64::from(count)).min(len))
    };
    let (s, e) = (usize::try_from(start).unwrap_or(0), usize::try_from(end).unwrap_or(0));
    Ok(arr(items.get(s..e.max(s)).unwrap_or_default().to_vec()))
}

pub(crate) fn parse_reverse_array(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, eval_reverse_array)
}

fn eval_reverse_array(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let Some(mut items) = eval_array_unless_nullish(&c.args[0], env, |other| {
        loc(34435, format!("The argument to $reverseArray must be an array, but was of type: {}", type_name(other)))
    })?
    else {
        return Ok(Some(Bson::Null));
    };
    items.reverse();
    Ok(arr(items))
}

pub(crate) fn parse_index_of_array(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    ranged(name, arg, ctx, 2, 4, eval_index_of_array)
}

fn eval_index_of_array(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let Some(items) = eval_array_unless_nullish(&c.args[0], env, |a| {
        loc(40090, format!("$indexOfArray requires an array as a first argument, found: {}", type_name(a)))
    })?
    else {
        return Ok(Some(Bson::Null));
    };
    let (start, end) = index_range(c, env, items.len())?;
    let target = env.eval(&c.args[1])?;
    for (i, item) in items.into_iter().enumerate().take(end).skip(start) {
        if v::values_equal(&Some(item), &target) {
            return Ok(Some(Bson::Int32(i32::try_from(i).unwrap_or(-1))));
        }
    }
    Ok(Some(Bson::Int32(-1)))
}

pub(crate) fn parse_is_array(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, eval_is_array)
}

fn eval_is_array(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    Ok(Some(Bson::Boolean(matches!(env.eval(&c.args[0])?, Some(Bson::Array(_))))))
}

pub(crate) fn parse_range(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    ranged(name, arg, ctx, 2, 3, eval_range)
}

fn eval_range(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let sv = env.eval(&c.args[0])?;
    let ev = env.eval(&c.args[1])?;
    let sn = num(&sv).ok_or_else(|| {
        loc(34443, format!("$range requires a numeric starting value, found value of type: {}", type_name(&sv)))
    })?;
    let start = arith::as_i32_exact(sn).ok_or_else(|| {
        loc(
            34444,
            format!(
                "$range requires a starting value that can be represented as a 32-bit integer, found value: {}",
                display(&sv)
            ),
        )
    })?;
    let en = num(&ev).ok_or_else(|| {
        loc(34445, format!("$range requires a numeric ending value, found value of type: {}", type_name(&ev)))
    })?;
    let end = arith::as_i32_exact(en).ok_or_else(|| {
        loc(
            34446,
            format!(
                "$range requires an ending value that can be represented as a 32-bit integer, found value: {}",
                display(&ev)
            ),
        )
    })?;
    let mut step = 1i64;
    if let Some(s) = c.args.get(2) {
        let stv = env.eval(s)?;
        let stn = num(&stv).ok_or_else(|| {
            loc(34447, format!("$range requires a numeric step value, found value of type:{}", type_name(&stv)))
        })?;
        step = i64::from(arith::as_i32_exact(stn).ok_or_else(|| {
            loc(
                34448,
                format!(
                    "$range requires a step value that can be represented as a 32-bit integer, found value: {}",
                    display(&stv)
                ),
            )
        })?);
        if step == 0 {
            return Err(loc(34449, "$range requires a non-zero step value"));
        }
    }
    let (mut cur, end) = (i64::from(start), i64::from(end));
    let steps = (end - cur) / step;
    let length = if steps >= 0 { 1 + steps } else { 0 };
    // MongoDB's estimate and message (internalQueryMaxRangeBytes), the elements counted
    // as the decoded values they are here (see `value_bounds`).
    const MEM_LIMIT: i64 = MAX_VALUE_BYTES as i64;
    let needed = 24 + length * Accounting::Decoded.value_overhead() as i64;
    if needed >= MEM_LIMIT {
        return Err(documentdb_errors::DocDbError::new(
            documentdb_errors::ErrorCode::ExceededMemoryLimit,
            format!(
                "$range would use too much memory ({needed} bytes) and cannot spill to disk. Memory limit: {MEM_LIMIT} bytes"
            ),
        ));
    }
    let mut out = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
    while if step > 0 { cur < end } else { cur > end } {
        out.push(Bson::Int32(i32::try_from(cur).unwrap_or(0)));
        cur += step;
    }
    Ok(arr(out))
}

// ---- $zip ----

pub(crate) fn parse_zip(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let d = object_arg(arg, |found| loc(34460, format!("$zip only supports an object as an argument, found {found}")))?;
    let mut inputs = Vec::new();
    let mut defaults = Vec::new();
    let mut longest = false;
    for (k, val) in d {
        match k.as_str() {
            "inputs" => inputs = parse_operand_array(val, ctx, 34461, "inputs")?,
            "defaults" => defaults = parse_operand_array(val, ctx, 34462, "defaults")?,
            "useLongestLength" => match val {
                Bson::Boolean(b) => longest = *b,
                _ => return Err(loc(34463, format!("useLongestLength must be a bool, found {}", bson_type_name(arg)))),
            },
            other => return Err(loc(34464, format!("$zip found an unknown argument: {other}"))),
        }
    }
    if inputs.is_empty() {
        return Err(loc(34465, "$zip requires at least one input array"));
    }
    if !longest && !defaults.is_empty() {
        return Err(loc(34466, "cannot specify defaults unless useLongestLength is true"));
    }
    if !defaults.is_empty() && defaults.len() != inputs.len() {
        return Err(loc(34467, "defaults and inputs must have the same length"));
    }
    let n = inputs.len();
    inputs.extend(defaults);
    Ok(call(name, eval_zip, inputs, OpData::Zip { inputs: n, longest }))
}

/// `$zip`'s `inputs` or `defaults`: an array of expressions (error `code` otherwise).
fn parse_operand_array(val: &Bson, ctx: &mut ParseCtx<'_>, code: i32, what: &str) -> DocDbResult<Vec<Node>> {
    let Bson::Array(items) = val else {
        return Err(loc(code, format!("{what} must be an array of expressions, found {}", bson_type_name(val))));
    };
    items.iter().map(|i| parse_operand(i, ctx)).collect()
}

fn eval_zip(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let OpData::Zip { inputs, longest } = c.data else {
        return Ok(None);
    };
    // The inputs are held together, and their elements move into the rows.
    let mut budget = SizeBudget::new("$zip");
    let Some(arrays) = eval_array_operands(&c.args[..inputs], env, &mut budget, |other| {
        loc(34468, format!("$zip found a non-array expression in input: {}", display(other)))
    })?
    else {
        return Ok(Some(Bson::Null));
    };
    let min = arrays.iter().map(Vec::len).min().unwrap_or(0);
    let max = arrays.iter().map(Vec::len).max().unwrap_or(0);
    let mut defaults = vec![Bson::Null; inputs];
    if min != max {
        for (i, d) in c.args[inputs..].iter().enumerate() {
            if let Some(slot) = defaults.get_mut(i) {
                *slot = env.eval(d)?.unwrap_or(Bson::Null);
            }
        }
    }
    let len = if longest { max } else { min };
    // A default may fill many rows: measure it once.
    let default_sizes: Vec<usize> = defaults.iter().map(value_bounds::decoded_size).collect();
    let mut columns: Vec<_> = arrays.into_iter().map(Vec::into_iter).collect();
    let mut out = Vec::with_capacity(len);
    for _ in 0..len {
        budget.add_bytes(Accounting::Decoded.value_overhead())?;
        let mut row = Vec::with_capacity(inputs);
        for (col, items) in columns.iter_mut().enumerate() {
            match items.next() {
                Some(item) => row.push(item),
                None => {
                    budget.add_bytes(default_sizes[col])?;
                    row.push(defaults[col].clone());
                }
            }
        }
        out.push(Bson::Array(row));
    }
    Ok(arr(out))
}

// ---- $sortArray ----

pub(crate) fn parse_sort_array(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let d =
        object_arg(arg, |found| loc(2942500, format!("$sortArray requires an object as an argument, found: {found}")))?;
    let mut input = None;
    let mut sort_by = None;
    for (k, val) in d {
        match k.as_str() {
            "input" => input = Some(parse_operand(val, ctx)?),
            "sortBy" => sort_by = Some(parse_sort_by(val)?),
            other => return Err(loc(2942501, format!("$sortArray found an unknown argument: {other}"))),
        }
    }
    let input = input.ok_or_else(|| loc(2942502, "$sortArray requires 'input' to be specified"))?;
    let sort_by = sort_by.ok_or_else(|| loc(2942503, "$sortArray requires 'sortBy' to be specified"))?;
    Ok(call(name, eval_sort_array, vec![input], OpData::Sort(Arc::new(sort_by))))
}

fn eval_sort_array(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let OpData::Sort(sort_by) = &c.data else {
        return Ok(None);
    };
    let Some(mut items) = eval_array_unless_nullish(&c.args[0], env, |other| {
        loc(
            2942504,
            format!("The input argument to $sortArray must be an array, but was of type: {}", type_name(other)),
        )
    })?
    else {
        return Ok(Some(Bson::Null));
    };
    items.sort_by(|a, b| sort_by.compare(a, b));
    Ok(arr(items))
}

// ---- sets ----

pub(crate) fn parse_set_union(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    variadic(name, arg, ctx, eval_set_union)
}

fn eval_set_union(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    // Counted before duplicates go: the copies are all in memory until then.
    let mut budget = SizeBudget::new("$setUnion");
    let Some(arrays) = eval_array_operands(&c.args, env, &mut budget, |other| {
        loc(17043, format!("All operands of $setUnion must be arrays. One argument is of type: {}", type_name(other)))
    })?
    else {
        return Ok(Some(Bson::Null));
    };
    Ok(arr(v::sorted_set(arrays.into_iter().flatten().collect())))
}

pub(crate) fn parse_set_intersection(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    variadic(name, arg, ctx, eval_set_intersection)
}

fn eval_set_intersection(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let mut current: Option<Vec<Bson>> = None;
    for a in &c.args {
        let val = env.eval(a)?;
        if is_nullish(&val) {
            return Ok(Some(Bson::Null));
        }
        let items = match val {
            Some(Bson::Array(items)) => items,
            other => {
                return Err(loc(
                    17047,
                    format!(
                        "All operands of $setIntersection must be arrays. One argument is of type: {}",
                        type_name(&other)
                    ),
                ))
            }
        };
        current = Some(match current {
            None => v::sorted_set(items),
            Some(cur) => cur.into_iter().filter(|x| v::contains(&items, x)).collect(),
        });
    }
    Ok(arr(current.unwrap_or_default()))
}

pub(crate) fn parse_set_difference(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 2, eval_set_difference)
}

fn eval_set_difference(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let l = env.eval(&c.args[0])?;
    let r = env.eval(&c.args[1])?;
    if is_nullish(&l) || is_nullish(&r) {
        return Ok(Some(Bson::Null));
    }
    let Some(Bson::Array(left)) = l else {
        return Err(loc(
            17048,
            format!("both operands of $setDifference must be arrays. First argument is of type: {}", type_name(&l)),
        ));
    };
    let Some(Bson::Array(mut seen)) = r else {
        return Err(loc(
            17049,
            format!("both operands of $setDifference must be arrays. Second argument is of type: {}", type_name(&r)),
        ));
    };
    let mut out = Vec::new();
    for item in left {
        if !v::contains(&seen, &item) {
            seen.push(item.clone());
            out.push(item);
        }
    }
    Ok(arr(out))
}

pub(crate) fn parse_set_equals(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let args = parse_args(arg, ctx)?;
    if args.len() < 2 {
        return Err(loc(17045, format!("$setEquals needs at least two arguments had: {}", args.len())));
    }
    Ok(call(name, eval_set_equals, args, OpData::None))
}

fn eval_set_equals(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let mut first: Option<Vec<Bson>> = None;
    let mut equal = true;
    for (i, a) in c.args.iter().enumerate() {
        let val = env.eval(a)?;
        let items = match val {
            Some(Bson::Array(items)) => v::sorted_set(items),
            other => {
                return Err(loc(
                    17044,
                    format!(
                        "All operands of $setEquals must be arrays. {}-th argument is of type: {}",
                        i + 1,
                        type_name(&other)
                    ),
                ))
            }
        };
        match &first {
            None => first = Some(items),
            Some(f) => {
                if v::compare_arrays(f, &items) != Ordering::Equal {
                    equal = false;
                }
            }
        }
    }
    Ok(Some(Bson::Boolean(equal)))
}

pub(crate) fn parse_set_is_subset(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 2, eval_set_is_subset)
}

fn eval_set_is_subset(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let l = env.eval(&c.args[0])?;
    let r = env.eval(&c.args[1])?;
    let Some(Bson::Array(left)) = l else {
        return Err(loc(
            17046,
            format!("both operands of $setIsSubset must be arrays. First argument is of type: {}", type_name(&l)),
        ));
    };
    let Some(Bson::Array(right)) = r else {
        return Err(loc(
            17042,
            format!("both operands of $setIsSubset must be arrays. Second argument is of type: {}", type_name(&r)),
        ));
    };
    Ok(Some(Bson::Boolean(left.iter().all(|x| v::contains(&right, x)))))
}

pub(crate) fn parse_any_element_true(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, eval_any_all)
}

pub(crate) fn parse_all_elements_true(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    fixed(name, arg, ctx, 1, eval_any_all)
}

fn eval_any_all(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let any = c.name == "$anyElementTrue";
    let val = env.eval(&c.args[0])?;
    let Some(Bson::Array(items)) = val else {
        return Err(loc(
            if any { 17041 } else { 17040 },
            format!("{}'s argument must be an array, but is {}", c.name, type_name(&val)),
        ));
    };
    let result = if any {
        items.into_iter().any(|i| v::truthy(&Some(i)))
    } else {
        items.into_iter().all(|i| v::truthy(&Some(i)))
    };
    Ok(Some(Bson::Boolean(result)))
}

// ---- accumulator expression forms ----

pub(crate) fn parse_acc_expr(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    variadic(name, arg, ctx, eval_acc_expr)
}

fn eval_acc_expr(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let mut acc = Accumulator::for_expression(c.name)?;
    // `$mergeObjects` is the one form that combines its arguments into its result: count
    // them as the value an expression builds.
    let mut budget = (c.name == "$mergeObjects").then(|| SizeBudget::new(c.name));
    let mut add = |acc: &mut Accumulator, val: Value| -> DocDbResult<()> {
        if let (Some(budget), Some(v)) = (budget.as_mut(), &val) {
            budget.add_value(v)?;
        }
        acc.accumulate(val)
    };
    if c.args.len() == 1 {
        match env.eval(&c.args[0])? {
            Some(Bson::Array(items)) => {
                for i in items {
                    add(&mut acc, Some(i))?;
                }
            }
            other => add(&mut acc, other)?,
        }
    } else {
        for a in &c.args {
            let val = env.eval(a)?;
            add(&mut acc, val)?;
        }
    }
    Ok(Some(acc.finish()))
}

// ---- $firstN / $lastN / $maxN / $minN (array forms) ----

pub(crate) fn parse_n_expr(name: &'static str, arg: &Bson, ctx: &mut ParseCtx<'_>) -> DocDbResult<Node> {
    let d = object_arg(arg, |_| crate::accumulators::n_spec_not_object(name, arg))?;
    let args =
        named_args(d, &["n", "input"], ctx, |k| loc(5787901, format!("Unknown argument for 'n' operator: {k}")))?;
    require(&args[0], || loc(5787906, "Missing value for 'n'"))?;
    require(&args[1], || loc(5787907, "Missing value for 'input'"))?;
    Ok(call(name, eval_n_expr, args, OpData::None))
}

fn eval_n_expr(c: &Call, env: &mut Env<'_>) -> DocDbResult<Value> {
    let nv = env.eval(&c.args[0])?;
    let input = env.eval(&c.args[1])?;
    let n = validate_n(&nv)?;
    let Some(Bson::Array(items)) = input else {
        return Err(loc(5788200, "Input must be an array"));
    };
    let mut acc = Accumulator::for_n_expression(c.name, n)?;
    for i in items {
        acc.accumulate(Some(i))?;
    }
    Ok(Some(acc.finish()))
}
