//! `$group` accumulators as incremental states (`$sum $avg $min $max $first $last $push
//! $addToSet $count ...`), used by the SQL aggregate functions of `documentdb`.
//!
//! Usage: [`Accumulator::parse`] the accumulator spec of one `$group` output field
//! (`{$sum: "$x"}` is `parse("$sum", "$x")`), then per input document evaluate
//! [`Accumulator::argument`] and pass the value to [`Accumulator::accumulate`]. Partial
//! states combine with [`Accumulator::merge`] (the receiver holds the earlier documents)
//! and [`Accumulator::finish`] gives the result with MongoDB's types. The state travels
//! through PostgreSQL as bytes: [`Accumulator::serialize_state`] /
//! [`Accumulator::deserialize_state`] (a self-contained BSON document; exact round trip).
//!
//! For `$firstN`/`$lastN`/`$maxN`/`$minN`/`$topN`/`$bottomN` with an `n` that depends on
//! the group key, call [`Accumulator::start_group`] with the group's `_id` first.
//!
//! `$setWindowFields` parses its accumulators with [`Accumulator::parse_window`], which
//! also accepts the window-only ones (`$locf`, `$integral`, `$derivative`,
//! `$expMovingAvg`, `$covariancePop`, `$covarianceSamp`; `$group` rejects them with 15952
//! as mongod does). Their documents arrive in window order; their states are not merged,
//! and [`Accumulator::finish_checked`] reports the errors mongod raises when it computes
//! the value (`$derivative`'s 5624900-5624903).
use std::cmp::Ordering;

use bson::{Bson, Document, RawBsonRef};
use documentdb_errors::{DocDbError, DocDbResult, ErrorCode};

use super::operator_args::{loc, named_values, object_arg};
use super::sort_by::{parse_sort_by, SortBy};
use super::value as v;
use super::{ExprContext, Expression};
use crate::arith::{self, DoubleDouble, Num, NumKind};
use crate::spec_error::failed;
use crate::value_bounds::{approximate_size, MAX_VALUE_BYTES};

/// The accumulator operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccumulatorOp {
    Sum,
    Avg,
    Min,
    Max,
    First,
    Last,
    Push,
    AddToSet,
    Count,
    MergeObjects,
    StdDevPop,
    StdDevSamp,
    FirstN,
    LastN,
    MaxN,
    MinN,
    Top,
    Bottom,
    TopN,
    BottomN,
    Median,
    Percentile,
    /// Window only: the last non-null, non-missing value.
    Locf,
    /// Window only: trapezoidal integral over `[sortBy value, input]` points.
    Integral,
    /// Window only: `(y_last - y_first) / (x_last - x_first)` over the window.
    Derivative,
    /// Window only: exponential moving average.
    ExpMovingAvg,
    /// Window only: population covariance of `[expr1, expr2]` pairs.
    CovariancePop,
    /// Window only: sample covariance of `[expr1, expr2]` pairs.
    CovarianceSamp,
}

impl AccumulatorOp {
    pub fn from_name(name: &str) -> Option<AccumulatorOp> {
        use AccumulatorOp::*;
        Some(match name {
            "$sum" => Sum,
            "$avg" => Avg,
            "$min" => Min,
            "$max" => Max,
            "$first" => First,
            "$last" => Last,
            "$push" => Push,
            "$addToSet" => AddToSet,
            "$count" => Count,
            "$mergeObjects" => MergeObjects,
            "$stdDevPop" => StdDevPop,
            "$stdDevSamp" => StdDevSamp,
            "$firstN" => FirstN,
            "$lastN" => LastN,
            "$maxN" => MaxN,
            "$minN" => MinN,
            "$top" => Top,
            "$bottom" => Bottom,
            "$topN" => TopN,
            "$bottomN" => BottomN,
            "$median" => Median,
            "$percentile" => Percentile,
            _ => return None,
        })
    }

    /// Like [`AccumulatorOp::from_name`], also knowing the window-only operators.
    pub fn from_window_name(name: &str) -> Option<AccumulatorOp> {
        use AccumulatorOp::*;
        if let Some(op) = AccumulatorOp::from_name(name) {
            return Some(op);
        }
        Some(match name {
            "$locf" => Locf,
            "$integral" => Integral,
            "$derivative" => Derivative,
            "$expMovingAvg" => ExpMovingAvg,
            "$covariancePop" => CovariancePop,
            "$covarianceSamp" => CovarianceSamp,
            _ => return None,
        })
    }

    /// Is this an operator only `$setWindowFields` knows (not a `$group` accumulator)?
    pub fn is_window_only(self) -> bool {
        use AccumulatorOp::*;
        matches!(self, Locf | Integral | Derivative | ExpMovingAvg | CovariancePop | CovarianceSamp)
    }

    /// Does the result depend on the order documents arrive in (so a `$group` must feed
    /// them in the pipeline's order)? `$first`, `$last`, `$push`, `$firstN`, `$lastN`,
    /// `$mergeObjects` and the window-only operators do; sums, averages, extremes, sets,
    /// percentiles and the sortBy-ordered `$top`/`$bottom` families do not.
    pub fn depends_on_input_order(self) -> bool {
        use AccumulatorOp::*;
        matches!(
            self,
            First
                | Last
                | Push
                | FirstN
                | LastN
                | MergeObjects
                | Locf
                | Integral
                | Derivative
                | ExpMovingAvg
                | CovariancePop
                | CovarianceSamp
        )
    }

    pub fn name(self) -> &'static str {
        use AccumulatorOp::*;
        match self {
            Sum => "$sum",
            Avg => "$avg",
            Min => "$min",
            Max => "$max",
            First => "$first",
            Last => "$last",
            Push => "$push",
            AddToSet => "$addToSet",
            Count => "$count",
            MergeObjects => "$mergeObjects",
            StdDevPop => "$stdDevPop",
            StdDevSamp => "$stdDevSamp",
            FirstN => "$firstN",
            LastN => "$lastN",
            MaxN => "$maxN",
            MinN => "$minN",
            Top => "$top",
            Bottom => "$bottom",
            TopN => "$topN",
            BottomN => "$bottomN",
            Median => "$median",
            Percentile => "$percentile",
            Locf => "$locf",
            Integral => "$integral",
            Derivative => "$derivative",
            ExpMovingAvg => "$expMovingAvg",
            CovariancePop => "$covariancePop",
            CovarianceSamp => "$covarianceSamp",
        }
    }
}

/// `$sum` state: compensated double-double sum of non-decimals plus a decimal sum.
#[derive(Debug, Clone, Copy)]
struct SumState {
    kind: NumKind,
    non_decimal: DoubleDouble,
    decimal: bson::Decimal128,
    count: i64,
}

impl Default for SumState {
    fn default() -> Self {
        SumState {
            kind: NumKind::Int32,
            non_decimal: DoubleDouble::new(),
            decimal: arith::to_decimal(Num::Int32(0)),
            count: 0,
        }
    }
}

impl SumState {
    fn add(&mut self, n: Num) {
        self.kind = self.kind.max(n.kind());
        match n {
            Num::Int32(i) => self.non_decimal.add_int(i),
            Num::Int64(l) => self.non_decimal.add_long(l),
            Num::Double(d) => self.non_decimal.add_double(d),
            Num::Decimal(d) => {
                let r = arith::add(Num::Decimal(self.decimal), Num::Decimal(d));
                self.decimal = arith::to_decimal(r);
            }
        }
        self.count += 1;
    }

    fn merge(&mut self, other: &SumState) {
        self.kind = self.kind.max(other.kind);
        self.non_decimal.merge(&other.non_decimal);
        let r = arith::add(Num::Decimal(self.decimal), Num::Decimal(other.decimal));
        self.decimal = arith::to_decimal(r);
        self.count += other.count;
    }

    fn total_decimal(&self) -> bson::Decimal128 {
        let r = arith::add(Num::Decimal(self.decimal), Num::Decimal(self.non_decimal.get_decimal()));
        arith::to_decimal(r)
    }

    fn result(&self) -> Bson {
        let nd = &self.non_decimal;
        match self.kind {
            NumKind::Int32 if nd.fits_long() => match nd.get_long() {
                Some(l) => Num::int_or_long(l).to_bson(),
                None => Bson::Double(nd.get_double()),
            },
            NumKind::Int32 | NumKind::Int64 if nd.fits_long() => match nd.get_long() {
                Some(l) => Bson::Int64(l),
                None => Bson::Double(nd.get_double()),
            },
            NumKind::Decimal => Bson::Decimal128(self.total_decimal()),
            _ => Bson::Double(nd.get_double()),
        }
    }
}

#[derive(Debug, Clone)]
enum State {
    Sum(SumState),
    Avg {
        sum: SumState,
        decimal: bool,
    },
    MinMax(Option<Bson>),
    FirstLast {
        seen: bool,
        value: Option<Bson>,
    },
    List(Vec<Bson>),
    Merge(Document),
    StdDev {
        count: i64,
        mean: f64,
        m2: f64,
    },
    /// `$top*`/`$bottom*`: (sort key, output, arrival sequence) kept sorted.
    Ranked {
        items: Vec<(Vec<Bson>, Bson, i64)>,
        seq: i64,
    },
    /// `$locf`: the last non-nullish value.
    Locf(Option<Bson>),
    /// `$integral`: the previous point, the sum of the trapezoids so far, whether a point
    /// had a NaN coordinate, and how many points arrived.
    Integral {
        prev: Option<(Bson, Bson)>,
        sum: SumState,
        nan: bool,
        points: i64,
    },
    /// `$derivative`: the first and the last point of the window.
    Derivative {
        first: Option<(Bson, Bson)>,
        last: Option<(Bson, Bson)>,
    },
    /// `$expMovingAvg`: the running average (decimal, as mongod computes it) and whether
    /// a decimal input was seen (the result type).
    ExpMovingAvg {
        value: Option<bson::Decimal128>,
        decimal: bool,
    },
    /// `$covariancePop`/`$covarianceSamp` (mongod's online algorithm): finite pairs
    /// counted, the sums behind the means of x and y, and the sum of the co-moments (with
    /// the non-finite pairs' contribution).
    Covariance {
        count: i64,
        x: SumState,
        y: SumState,
        cxy: SumState,
    },
}

/// One accumulator of a `$group` stage.
#[derive(Debug, Clone)]
pub struct Accumulator {
    op: AccumulatorOp,
    /// The argument spec as given (kept for serialization).
    spec: Bson,
    argument: Option<Expression>,
    n_expr: Option<Expression>,
    n: Option<usize>,
    sort_by: Option<SortBy>,
    /// `$median` / `$percentile`: the percentiles asked for.
    percentiles: Vec<f64>,
    state: State,
    /// Approximate size of the values the state holds (`$push`, `$addToSet`, the `n`
    /// accumulators, `$mergeObjects`), under [`MAX_VALUE_BYTES`].
    held_bytes: usize,
    /// `$integral` / `$derivative`: milliseconds per `unit` (none without a unit).
    unit_ms: Option<i64>,
    /// `$expMovingAvg`: the decay (`alpha`, or `2 / (N + 1)`).
    alpha: Option<bson::Decimal128>,
}

/// The field [`Accumulator::parse_window`] reads, in the argument of `$integral` and
/// `$derivative`, for the expression of the window's `sortBy` path (`"$t"`): the x axis.
/// `window::accumulator_argument` adds it; a user's spec cannot carry it (unknown
/// arguments are rejected before).
pub const WINDOW_SORT_BY_FIELD: &str = "$__sortBy";

/// Validates an `n` value (errors 5787902 / 5787903 / 5787908).
pub(crate) fn validate_n(nv: &crate::Value) -> DocDbResult<usize> {
    let msg = || format!("Value for 'n' must be of integral type, but found {}", v::display(nv));
    let n = v::num(nv).ok_or_else(|| loc(5787902, msg()))?;
    let l = arith::to_i64(n);
    if (l as f64) != arith::to_f64(n) {
        return Err(loc(5787903, msg()));
    }
    if l <= 0 {
        return Err(loc(5787908, format!("'n' must be greater than 0, found {l}")));
    }
    Ok(usize::try_from(l).unwrap_or(usize::MAX))
}

/// MongoDB's error for an `n` operator (`$firstN`, `$lastN`, `$maxN`, `$minN`, as an
/// accumulator or an expression) whose argument is not a document: 5787801 for
/// `$firstN`/`$lastN`, 5787900 for `$maxN`/`$minN`; the message shows the element.
pub(crate) fn n_spec_not_object(name: &str, spec: &Bson) -> DocDbError {
    let code = if matches!(name, "$firstN" | "$lastN") { 5787801 } else { 5787900 };
    loc(code, format!("specification must be an object; found {name}: {}", v::display(&Some(spec.clone()))))
}

/// Milliseconds in one of MongoDB's time units (`"week"` ... `"millisecond"`); `None`
/// for `"month"`, `"quarter"`, `"year"` (no fixed length); an error for anything else
/// (mongod's `parseTimeUnit`: "unknown time unit value", FailedToParse).
pub(crate) fn time_unit_millis(unit: &str) -> DocDbResult<Option<i64>> {
    Ok(match unit {
        "week" => Some(7 * 86_400_000),
        "day" => Some(86_400_000),
        "hour" => Some(3_600_000),
        "minute" => Some(60_000),
        "second" => Some(1_000),
        "millisecond" => Some(1),
        "month" | "quarter" | "year" => None,
        other => return Err(failed(format!("unknown time unit value: {other}"))),
    })
}

/// `field: value` as mongod prints a BSON element in its messages.
fn element(field: &str, value: &Bson) -> String {
    format!("{field}: {}", v::display(&Some(value.clone())))
}

/// mongod's error for an `$expMovingAvg` argument that is not `{input, N | alpha}`.
pub(crate) const EXP_MOVING_AVG_SHAPE: &str = "$expMovingAvg sub object must have exactly two fields: An 'input' \
                                              field, and either an 'N' field or an 'alpha' field";

/// `$expMovingAvg: {input, N | alpha}` (mongod's `ExpressionExpMovingAvg::parse`, all
/// FailedToParse): the input and the decay (`2 / (N + 1)` for `N`), as a decimal.
pub(crate) fn parse_exp_moving_avg(arg: &Bson) -> DocDbResult<(&Bson, bson::Decimal128)> {
    let Bson::Document(d) = arg else {
        return Err(failed("$expMovingAvg must have exactly one argument that is an object"));
    };
    let input = match d.get("input") {
        Some(input) if d.len() == 2 => input,
        _ => return Err(failed(EXP_MOVING_AVG_SHAPE)),
    };
    if let Some(n) = d.get("N") {
        let num = Num::from_bson(n).ok_or_else(|| {
            failed(format!("'N' field must be an integer, but found type {}", v::type_name(&Some(n.clone()))))
        })?;
        let as_double = arith::to_f64(num);
        if as_double != as_double.floor() {
            return Err(failed(format!(
                "'N' field must be an integer, but found  {}. To use a non-integer, use the 'alpha' argument instead",
                element("N", n)
            )));
        }
        let n = match num {
            Num::Double(x) => x as i64,
            other => arith::to_i64(other),
        };
        if n <= 0 {
            return Err(failed(format!("'N' must be greater than zero. Got {n}")));
        }
        let alpha = arith::divide(Num::Int32(2), Num::Decimal(arith::to_decimal(Num::Int64(n.saturating_add(1)))));
        return Ok((input, alpha.map(arith::to_decimal).unwrap_or_else(|| arith::to_decimal(Num::Int32(0)))));
    }
    if let Some(alpha) = d.get("alpha") {
        let num = Num::from_bson(alpha).ok_or_else(|| failed("'alpha' must be a number"))?;
        let decimal = Num::Decimal(arith::to_decimal(num));
        let zero = Num::Int32(0);
        let one = Num::Int32(1);
        if decimal.is_nan()
            || arith::compare(decimal, zero) != Ordering::Greater
            || arith::compare(decimal, one) != Ordering::Less
        {
            return Err(failed(format!(
                "'alpha' must be between 0 and 1 (exclusive), found {}",
                element("alpha", alpha)
            )));
        }
        return Ok((input, arith::to_decimal(decimal)));
    }
    Err(failed(format!("Got unrecognized field in $expMovingAvg{EXP_MOVING_AVG_SHAPE}")))
}

/// `$integral` / `$derivative: {input, unit?}` (mongod's `ExpressionWithUnit`, all
/// FailedToParse but 5490710): the input, the unit in milliseconds, and the internal
/// sortBy expression ([`WINDOW_SORT_BY_FIELD`]) when present.
pub(crate) fn parse_with_unit<'a>(name: &str, arg: &'a Bson) -> DocDbResult<(&'a Bson, Option<i64>, Option<&'a Bson>)> {
    let Bson::Document(d) = arg else {
        return Err(failed(format!(
            "{name} expects an object, but got a {}: {}",
            v::type_name(&Some(arg.clone())),
            element(name, arg)
        )));
    };
    let (mut input, mut unit_ms, mut sort_by) = (None, None, None);
    for (k, val) in d {
        match k.as_str() {
            "input" => input = Some(val),
            "unit" => {
                let Bson::String(unit) = val else {
                    return Err(failed(format!(
                        "'unit' must be a string, but got {}",
                        v::type_name(&Some(val.clone()))
                    )));
                };
                unit_ms = Some(time_unit_millis(unit)?.ok_or_else(|| loc(5490710, "unit must be 'week' or smaller"))?);
            }
            WINDOW_SORT_BY_FIELD => sort_by = Some(val),
            other => return Err(failed(format!("{name} got unexpected argument: {other}"))),
        }
    }
    let input = input.ok_or_else(|| failed(format!("{name} requires an 'input' expression")))?;
    Ok((input, unit_ms, sort_by))
}

/// One `$integral` point `[x, y]` (mongod's `WindowFunctionIntegral::assertValueType`):
/// y numeric, x a date with a unit and a number without.
fn integral_point(value: &crate::Value, with_unit: bool) -> DocDbResult<(Bson, Bson)> {
    let point = match value {
        Some(Bson::Array(items)) if items.len() == 2 => Some((&items[0], &items[1])),
        _ => None,
    };
    let valid = |x: &Bson, y: &Bson| {
        Num::from_bson(y).is_some() && (Num::from_bson(x).is_some() || matches!(x, Bson::DateTime(_)))
    };
    let Some((x, y)) = point.filter(|(x, y)| valid(x, y)) else {
        return Err(loc(
            5423900,
            "The input value of $integral window function must be a vector of 2 value, the first value must be \
             numeric or date type and the second must be numeric.",
        ));
    };
    if with_unit && !matches!(x, Bson::DateTime(_)) {
        return Err(loc(5423901, "$integral with 'outputUnit' expects the sortBy field to be a Date"));
    }
    if !with_unit && Num::from_bson(x).is_none() {
        return Err(loc(5423902, "$integral (with no 'outputUnit') expects the sortBy field to be numeric"));
    }
    Ok((x.clone(), y.clone()))
}

fn is_nan_value(v: &Bson) -> bool {
    Num::from_bson(v).is_some_and(Num::is_nan)
}

/// The area of the trapezoid between two `$integral` points (mongod's
/// `integralOfTwoPointsByTrapezoidalRule`: 0 when a coordinate is NaN).
fn trapezoid(prev: &(Bson, Bson), next: &(Bson, Bson)) -> Num {
    let ((px, py), (nx, ny)) = (prev, next);
    if [px, py, nx, ny].into_iter().any(is_nan_value) {
        return Num::Int32(0);
    }
    let delta = match (px, nx) {
        (Bson::DateTime(a), Bson::DateTime(b)) => Num::Int64(b.timestamp_millis().saturating_sub(a.timestamp_millis())),
        _ => match (Num::from_bson(px), Num::from_bson(nx)) {
            (Some(a), Some(b)) => arith::subtract(b, a),
            _ => return Num::Int32(0),
        },
    };
    let (Some(a), Some(b)) = (Num::from_bson(py), Num::from_bson(ny)) else {
        return Num::Int32(0);
    };
    let integral = arith::multiply(arith::add(b, a), delta);
    arith::divide(integral, Num::Double(2.0)).unwrap_or(Num::Int32(0))
}

/// `a - b` as `$subtract` computes it for `$derivative`'s rise: `None` when either side
/// is nullish; numbers, or two dates (milliseconds); 16556 otherwise.
fn subtract_values(a: &Bson, b: &Bson) -> DocDbResult<Option<Num>> {
    let (va, vb) = (Some(a.clone()), Some(b.clone()));
    if v::is_nullish(&va) || v::is_nullish(&vb) {
        return Ok(None);
    }
    match (a, b) {
        (Bson::DateTime(x), Bson::DateTime(y)) => {
            Ok(Some(Num::Int64(x.timestamp_millis().saturating_sub(y.timestamp_millis()))))
        }
        _ => match (Num::from_bson(a), Num::from_bson(b)) {
            (Some(x), Some(y)) => Ok(Some(arith::subtract(x, y))),
            _ => Err(loc(16556, format!("cant $subtract a {} from a {}", v::type_name(&vb), v::type_name(&va)))),
        },
    }
}

/// The mean behind a running sum (mongod's `WindowFunctionAvg`): decimal when a decimal
/// was added, double otherwise; `None` before any value.
fn mean(sum: &SumState) -> Option<Num> {
    if sum.count == 0 {
        return None;
    }
    if sum.kind == NumKind::Decimal {
        return arith::divide(Num::Decimal(sum.total_decimal()), Num::Int64(sum.count));
    }
    Some(Num::Double(sum.non_decimal.get_double() / sum.count as f64))
}

/// What a covariance pair with a NaN or infinite coordinate adds to the co-moment sum
/// (mongod's `convertNonFiniteInputValue`): NaN when a NaN or infinities of both signs,
/// the infinity otherwise; decimal when a decimal infinity is involved.
fn non_finite_pair(x: Num, y: Num) -> Num {
    let (mut pos, mut neg, mut nan, mut decimal) = (0, 0, 0, false);
    for n in [x, y] {
        if n.is_nan() {
            nan += 1;
            continue;
        }
        if matches!(n, Num::Decimal(_)) {
            decimal = true;
        }
        if !n.is_finite() {
            if n.is_negative() {
                neg += 1;
            } else {
                pos += 1;
            }
        }
    }
    let (text, double) = if nan > 0 || pos * neg > 0 {
        ("NaN", f64::NAN)
    } else if pos > 0 {
        ("Infinity", f64::INFINITY)
    } else {
        ("-Infinity", f64::NEG_INFINITY)
    };
    if decimal {
        Num::decimal_from_str(text).unwrap_or(Num::Double(double))
    } else {
        Num::Double(double)
    }
}

fn point_bson(p: &(Bson, Bson)) -> Bson {
    Bson::Array(vec![p.0.clone(), p.1.clone()])
}

fn point_from(v: Option<&Bson>) -> Option<(Bson, Bson)> {
    match v {
        Some(Bson::Array(items)) if items.len() == 2 => Some((items[0].clone(), items[1].clone())),
        _ => None,
    }
}

/// Counts `added` bytes more and `removed` fewer in an accumulator's state: MongoDB's
/// limit on the values one accumulator holds (`internalQueryMaxPushBytes`,
/// `internalQueryMaxAddToSetBytes`, `internalQueryTopNAccumulatorBytes`; 100 MiB each).
fn hold(held: &mut usize, op: AccumulatorOp, added: usize, removed: usize) -> DocDbResult<()> {
    let now = held.saturating_add(added).saturating_sub(removed);
    if now > MAX_VALUE_BYTES {
        return Err(DocDbError::new(
            ErrorCode::ExceededMemoryLimit,
            format!(
                "{} used too much memory and cannot spill to disk. Used: {now} bytes. Memory limit: {MAX_VALUE_BYTES} bytes",
                op.name()
            ),
        ));
    }
    *held = now;
    Ok(())
}

/// Approximate size of a `$top`/`$bottom` entry.
fn ranked_size((key, output, _): &(Vec<Bson>, Bson, i64)) -> usize {
    key.iter().map(approximate_size).sum::<usize>() + approximate_size(output)
}

/// Approximate size of the values a state holds.
fn held_size(state: &State) -> usize {
    match state {
        State::List(items) => items.iter().map(approximate_size).sum(),
        State::Merge(doc) => doc.iter().map(|(k, v)| k.len() + approximate_size(v)).sum(),
        State::Ranked { items, .. } => items.iter().map(ranked_size).sum(),
        _ => 0,
    }
}

/// Sets `key` in a `$mergeObjects` state.
fn merge_field(doc: &mut Document, held: &mut usize, op: AccumulatorOp, key: String, val: Bson) -> DocDbResult<()> {
    let added = approximate_size(&val);
    let (added, removed) = match doc.get(&key) {
        Some(old) => (added, approximate_size(old)),
        None => (added + key.len(), 0),
    };
    hold(held, op, added, removed)?;
    doc.insert(key, val);
    Ok(())
}

fn initial_state(op: AccumulatorOp) -> State {
    use AccumulatorOp::*;
    match op {
        Sum | Count => State::Sum(SumState::default()),
        Avg => State::Avg { sum: SumState::default(), decimal: false },
        Min | Max => State::MinMax(None),
        First | Last => State::FirstLast { seen: false, value: None },
        Push | AddToSet | FirstN | LastN | MaxN | MinN | Median | Percentile => State::List(Vec::new()),
        MergeObjects => State::Merge(Document::new()),
        StdDevPop | StdDevSamp => State::StdDev { count: 0, mean: 0.0, m2: 0.0 },
        Top | Bottom | TopN | BottomN => State::Ranked { items: Vec::new(), seq: 0 },
        Locf => State::Locf(None),
        Integral => State::Integral { prev: None, sum: SumState::default(), nan: false, points: 0 },
        Derivative => State::Derivative { first: None, last: None },
        ExpMovingAvg => State::ExpMovingAvg { value: None, decimal: false },
        CovariancePop | CovarianceSamp => {
            State::Covariance { count: 0, x: SumState::default(), y: SumState::default(), cxy: SumState::default() }
        }
    }
}

impl Accumulator {
    /// Parses one accumulator: `name` is the operator (`"$sum"`), `arg` its argument
    /// (`"$price"`, `{input: ..., n: ...}`, ...).
    pub fn parse(name: &str, arg: RawBsonRef<'_>) -> DocDbResult<Accumulator> {
        Accumulator::parse_with_context(name, arg, &ExprContext::default())
    }

    /// Like [`Accumulator::parse`] with `let` variables.
    pub fn parse_with_context(name: &str, arg: RawBsonRef<'_>, ctx: &ExprContext) -> DocDbResult<Accumulator> {
        let spec = Bson::try_from(arg)
            .map_err(|e| DocDbError::new(ErrorCode::InvalidBSON, format!("Invalid BSON in accumulator: {e}")))?;
        Accumulator::parse_bson(name, &spec, ctx)
    }

    /// Like [`Accumulator::parse`] for an owned argument.
    pub fn parse_bson(name: &str, spec: &Bson, ctx: &ExprContext) -> DocDbResult<Accumulator> {
        if name == "$accumulator" {
            // A JavaScript accumulator: refused as mongod refuses it without its engine.
            return Err(super::ops_math::javascript_disabled());
        }
        let mut acc = Accumulator { spec: spec.clone(), ..Accumulator::for_expression(name)? };
        let op = acc.op;
        use AccumulatorOp::*;
        match op {
            Count => {
                if !matches!(spec, Bson::Document(d) if d.is_empty()) {
                    return Err(DocDbError::new(ErrorCode::TypeMismatch, "$count takes no arguments, i.e. $count:{}"));
                }
                acc.argument = Some(Expression::parse_bson(&Bson::Int32(1), ctx)?);
            }
            FirstN | LastN | MaxN | MinN => {
                let d = object_arg(spec, |_| n_spec_not_object(name, spec))?;
                let [input, n] = named_values(d, ["input", "n"], |k| {
                    loc(5787901, format!("Unknown argument for 'n' operator: {k}"))
                })?;
                let n = n.ok_or_else(|| loc(5787906, "Missing value for 'n'"))?;
                let input = input.ok_or_else(|| loc(5787907, "Missing value for 'input'"))?;
                acc.argument = Some(Expression::parse_bson(input, ctx)?);
                acc.set_n_expression(n, ctx)?;
            }
            Top | Bottom | TopN | BottomN => {
                let Bson::Document(d) = spec else {
                    return Err(loc(
                        5788001,
                        format!("specification must be an object; found {name}: {}", v::display(&Some(spec.clone()))),
                    ));
                };
                let single = matches!(op, Top | Bottom);
                let (mut output, mut sort_by, mut n) = (None, None, None);
                for (k, val) in d {
                    match k.as_str() {
                        "output" => output = Some(val),
                        "sortBy" => sort_by = Some(val),
                        "n" if !single => n = Some(val),
                        other => return Err(loc(5788002, format!("Unknown argument to {name} '{other}'"))),
                    }
                }
                let output = output.ok_or_else(|| loc(5788004, format!("{name} needs to have an 'output' field")))?;
                let sort_spec =
                    sort_by.ok_or_else(|| loc(5788005, format!("{name} needs to have a 'sortBy' field")))?;
                if !matches!(sort_spec, Bson::Document(_)) {
                    return Err(loc(5788005, format!("{name} 'sortBy' must be an object")));
                }
                let sort = parse_sort_by(sort_spec)?;
                let SortBy::Fields(fields) = &sort else {
                    return Err(loc(5788005, format!("{name} 'sortBy' must be an object")));
                };
                let keys: Vec<Bson> = fields.iter().map(|(p, _)| Bson::String(format!("${}", p.join(".")))).collect();
                let arg = bson::doc! { "output": output.clone(), "sortKey": keys };
                acc.argument = Some(Expression::parse_bson(&Bson::Document(arg), ctx)?);
                acc.sort_by = Some(sort);
                if single {
                    acc.n = Some(1);
                } else {
                    let n = n.ok_or_else(|| loc(5788003, format!("{name} needs to have an 'n' field")))?;
                    acc.set_n_expression(n, ctx)?;
                }
            }
            Median | Percentile => {
                // The expression form validates the spec with the same errors (both are
                // mongod's AccumulatorPercentileSpec / AccumulatorMedianSpec).
                Expression::parse_bson(&Bson::Document(bson::doc! { name: spec.clone() }), ctx)?;
                let Bson::Document(d) = spec else {
                    return Err(DocDbError::new(ErrorCode::InternalError, "a validated percentile spec"));
                };
                let input = d.get("input").cloned().unwrap_or(Bson::Null);
                acc.argument = Some(Expression::parse_bson(&input, ctx)?);
                acc.percentiles = match d.get("p") {
                    Some(p) => match Expression::parse_bson(p, ctx)?.evaluate_document(&bson::Document::new())? {
                        Some(Bson::Array(items)) => {
                            items.iter().filter_map(Num::from_bson).map(arith::to_f64).collect()
                        }
                        _ => vec![0.5],
                    },
                    None => vec![0.5],
                };
            }
            _ => {
                if matches!(spec, Bson::Array(_)) {
                    return Err(loc(40237, format!("The {name} accumulator is a unary operator")));
                }
                acc.argument = Some(Expression::parse_bson(spec, ctx)?);
            }
        }
        Ok(acc)
    }

    fn set_n_expression(&mut self, n: &Bson, ctx: &ExprContext) -> DocDbResult<()> {
        let e = Expression::parse_bson(n, ctx)?;
        if let Some(val) = e.constant_value() {
            self.n = Some(validate_n(val)?);
        } else {
            self.n_expr = Some(e);
        }
        Ok(())
    }

    /// An accumulator used by the expression forms (`{$sum: [...]}` in `$project`).
    pub(crate) fn for_expression(name: &str) -> DocDbResult<Accumulator> {
        let op =
            AccumulatorOp::from_name(name).ok_or_else(|| loc(15952, format!("unknown group operator '{name}'")))?;
        Ok(Accumulator::blank(op))
    }

    fn blank(op: AccumulatorOp) -> Accumulator {
        Accumulator {
            op,
            spec: Bson::Null,
            argument: None,
            n_expr: None,
            n: None,
            sort_by: None,
            percentiles: Vec::new(),
            state: initial_state(op),
            held_bytes: 0,
            unit_ms: None,
            alpha: None,
        }
    }

    /// Parses one window function's accumulator for `$setWindowFields`: every `$group`
    /// accumulator (with mongod's window-function argument rules: any expression, arrays
    /// included, for the unary ones; `{}` for `$count`) plus the window-only ones:
    /// * `$locf: <expr>`;
    /// * `$integral` / `$derivative: {input, unit?, "$__sortBy": "$<sortBy path>"}` (see
    ///   [`WINDOW_SORT_BY_FIELD`]; `unit` up to `"week"`, 5490710 beyond);
    /// * `$expMovingAvg: {input, N | alpha}`;
    /// * `$covariancePop` / `$covarianceSamp: [<expr1>, <expr2>]` (any expression).
    ///
    /// An unknown name is mongod's `Unrecognized window function` (FailedToParse).
    pub fn parse_window(name: &str, arg: &Bson, ctx: &ExprContext) -> DocDbResult<Accumulator> {
        let op = AccumulatorOp::from_window_name(name)
            .ok_or_else(|| failed(format!("Unrecognized window function, {name}")))?;
        use AccumulatorOp::*;
        let mut acc = Accumulator { spec: arg.clone(), ..Accumulator::blank(op) };
        match op {
            Locf | CovariancePop | CovarianceSamp => acc.argument = Some(Expression::parse_bson(arg, ctx)?),
            ExpMovingAvg => {
                let (input, alpha) = parse_exp_moving_avg(arg)?;
                acc.argument = Some(Expression::parse_bson(input, ctx)?);
                acc.alpha = Some(alpha);
            }
            Integral | Derivative => {
                let (input, unit_ms, sort_by) = parse_with_unit(name, arg)?;
                let sort_by = sort_by.ok_or_else(|| {
                    DocDbError::new(
                        ErrorCode::InternalError,
                        format!("{name} needs the sortBy path in '{WINDOW_SORT_BY_FIELD}'"),
                    )
                })?;
                let point = Bson::Array(vec![sort_by.clone(), input.clone()]);
                acc.argument = Some(Expression::parse_bson(&point, ctx)?);
                acc.unit_ms = unit_ms;
            }
            // mongod's parseCountWindowFunction.
            Count if !matches!(arg, Bson::Document(d) if d.is_empty()) => {
                return Err(failed("$count only accepts an empty object as input"));
            }
            // Window functions parse their argument as an operand (arrays included).
            Sum | Avg | Min | Max | First | Last | Push | AddToSet | MergeObjects | StdDevPop | StdDevSamp
                if matches!(arg, Bson::Array(_)) =>
            {
                acc.argument = Some(Expression::parse_bson(arg, ctx)?);
            }
            _ => return Accumulator::parse_bson(name, arg, ctx),
        }
        Ok(acc)
    }

    /// An `n` accumulator used by the array forms (`{$maxN: {n, input}}`).
    pub(crate) fn for_n_expression(name: &str, n: usize) -> DocDbResult<Accumulator> {
        let mut acc = Accumulator::for_expression(name)?;
        acc.n = Some(n);
        Ok(acc)
    }

    pub fn op(&self) -> AccumulatorOp {
        self.op
    }

    /// The expression to evaluate on each input document; its value goes to
    /// [`Accumulator::accumulate`].
    pub fn argument(&self) -> Option<&Expression> {
        self.argument.as_ref()
    }

    /// Evaluates the argument on `doc` and accumulates the value.
    pub fn accumulate_document(&mut self, doc: &bson::RawDocument) -> DocDbResult<()> {
        let value = match &self.argument {
            Some(e) => e.evaluate(doc)?,
            None => None,
        };
        self.accumulate(value)
    }

    /// Resolves an `n` that depends on the group key (`$$ROOT` is `{_id: group_id}`).
    pub fn start_group(&mut self, group_id: &Bson) -> DocDbResult<()> {
        if let Some(e) = &self.n_expr {
            let doc = bson::doc! { "_id": group_id.clone() };
            let val = e.evaluate_document(&doc)?;
            self.n = Some(validate_n(&val)?);
        }
        Ok(())
    }

    fn limit(&mut self) -> DocDbResult<usize> {
        if self.n.is_none() {
            self.start_group(&Bson::Null)?;
        }
        Ok(self.n.unwrap_or(1))
    }

    /// Adds one evaluated argument value (`None` = missing).
    pub fn accumulate(&mut self, value: Option<Bson>) -> DocDbResult<()> {
        use AccumulatorOp::*;
        let n = match self.op {
            FirstN | LastN | MaxN | MinN | Top | Bottom | TopN | BottomN => self.limit()?,
            _ => 0,
        };
        let op = self.op;
        let sort_by = self.sort_by.clone();
        let (unit_ms, alpha) = (self.unit_ms, self.alpha);
        match &mut self.state {
            State::Sum(s) => {
                if let Some(num) = value.as_ref().and_then(Num::from_bson) {
                    s.add(num);
                }
            }
            State::Avg { sum, decimal } => {
                if let Some(num) = value.as_ref().and_then(Num::from_bson) {
                    if matches!(num, Num::Decimal(_)) {
                        *decimal = true;
                    }
                    // $avg adds int32 values as doubles.
                    let num = match num {
                        Num::Int32(i) => Num::Double(f64::from(i)),
                        other => other,
                    };
                    let kind = sum.kind;
                    sum.add(num);
                    sum.kind = kind.max(num.kind());
                }
            }
            State::MinMax(cur) => {
                if !v::is_nullish(&value) {
                    if let Some(val) = value {
                        minmax_update(cur, val, op == Max);
                    }
                }
            }
            State::FirstLast { seen, value: cur } => {
                if op == First {
                    if !*seen {
                        *seen = true;
                        *cur = value;
                    }
                } else {
                    *seen = true;
                    *cur = value;
                }
            }
            State::List(items) => match op {
                // mongod's $push skips missing values ($firstN/$lastN keep them as null).
                Push if value.is_none() => {}
                Push | FirstN | LastN if op != FirstN || items.len() < n => {
                    let val = value.unwrap_or(Bson::Null);
                    hold(&mut self.held_bytes, op, approximate_size(&val), 0)?;
                    items.push(val);
                    if op == LastN && items.len() > n {
                        let excess = items.len() - n;
                        let removed = items.drain(..excess).map(|x| approximate_size(&x)).sum();
                        hold(&mut self.held_bytes, op, 0, removed)?;
                    }
                }
                AddToSet => {
                    if let Some(val) = value {
                        if !v::contains(items, &val) {
                            hold(&mut self.held_bytes, op, approximate_size(&val), 0)?;
                            items.push(val);
                        }
                    }
                }
                MaxN | MinN if !v::is_nullish(&value) => {
                    if let Some(val) = value {
                        let added = approximate_size(&val);
                        let removed = insert_sorted(items, val, op == MaxN, n).iter().map(approximate_size).sum();
                        hold(&mut self.held_bytes, op, added, removed)?;
                    }
                }
                // The numeric inputs (NaN left out), as doubles: percentiles rank them.
                Median | Percentile => {
                    if let Some(x) = value.as_ref().and_then(Num::from_bson).map(arith::to_f64).filter(|x| !x.is_nan())
                    {
                        let val = Bson::Double(x);
                        hold(&mut self.held_bytes, op, approximate_size(&val), 0)?;
                        items.push(val);
                    }
                }
                _ => {}
            },
            State::Merge(doc) => {
                if !v::is_nullish(&value) {
                    match value {
                        Some(Bson::Document(d)) => {
                            for (k, val) in d {
                                merge_field(doc, &mut self.held_bytes, op, k, val)?;
                            }
                        }
                        other => {
                            return Err(loc(
                                40400,
                                format!(
                                    "$mergeObjects requires object inputs, but input {} is of type {}",
                                    v::display(&other),
                                    v::type_name(&other)
                                ),
                            ))
                        }
                    }
                }
            }
            State::StdDev { count, mean, m2 } => {
                if let Some(num) = value.as_ref().and_then(Num::from_bson) {
                    let x = arith::to_f64(num);
                    *count += 1;
                    let delta = x - *mean;
                    if delta != 0.0 {
                        *mean += delta / *count as f64;
                        *m2 += delta * (x - *mean);
                    }
                }
            }
            State::Ranked { items, seq } => {
                let (key, output) = split_ranked(value);
                *seq += 1;
                let sort = sort_by.unwrap_or(SortBy::Whole(true));
                let item = (key, output, *seq);
                let added = ranked_size(&item);
                let removed =
                    insert_ranked(items, item, &sort, matches!(op, Top | TopN), n).iter().map(ranked_size).sum();
                hold(&mut self.held_bytes, op, added, removed)?;
            }
            State::Locf(last) => {
                if !v::is_nullish(&value) {
                    *last = value;
                }
            }
            State::Integral { prev, sum, nan, points } => {
                let point = integral_point(&value, unit_ms.is_some())?;
                if is_nan_value(&point.0) || is_nan_value(&point.1) {
                    *nan = true;
                }
                if let Some(p) = prev.as_ref() {
                    sum.add(trapezoid(p, &point));
                }
                *prev = Some(point);
                *points += 1;
            }
            State::Derivative { first, last } => {
                let point = match value {
                    Some(Bson::Array(mut items)) if items.len() == 2 => {
                        let y = items.pop().unwrap_or(Bson::Null);
                        (items.pop().unwrap_or(Bson::Null), y)
                    }
                    _ => (Bson::Null, Bson::Null),
                };
                if first.is_none() {
                    *first = Some(point.clone());
                }
                *last = Some(point);
            }
            State::ExpMovingAvg { value: current, decimal } => {
                if let Some(x) = value.as_ref().and_then(Num::from_bson) {
                    *decimal |= matches!(x, Num::Decimal(_));
                    let x = Num::Decimal(arith::to_decimal(x));
                    *current = Some(match (*current, alpha) {
                        (Some(prev), Some(alpha)) => {
                            let alpha = Num::Decimal(alpha);
                            let keep = arith::subtract(Num::Decimal(arith::to_decimal(Num::Int32(1))), alpha);
                            let r = arith::add(arith::multiply(x, alpha), arith::multiply(Num::Decimal(prev), keep));
                            arith::to_decimal(r)
                        }
                        _ => arith::to_decimal(x),
                    });
                }
            }
            State::Covariance { count, x: sx, y: sy, cxy } => {
                // mongod's WindowFunctionCovariance::add: pairs of two numbers only.
                let pair = match &value {
                    Some(Bson::Array(items)) if items.len() == 2 => {
                        Num::from_bson(&items[0]).zip(Num::from_bson(&items[1]))
                    }
                    _ => None,
                };
                if let Some((x, y)) = pair {
                    if !x.is_finite() || !y.is_finite() {
                        cxy.add(non_finite_pair(x, y));
                    } else {
                        *count += 1;
                        let delta_x = mean(sx).map(|m| arith::subtract(x, m));
                        sx.add(x);
                        sy.add(y);
                        let delta_y = mean(sy).map(|m| arith::subtract(y, m));
                        if let (Some(dx), Some(dy)) = (delta_x, delta_y) {
                            cxy.add(arith::multiply(dx, dy));
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Combines another partial state (holding later documents) into this one.
    pub fn merge(&mut self, other: &Accumulator) -> DocDbResult<()> {
        if self.op != other.op {
            return Err(DocDbError::new(
                ErrorCode::InternalError,
                format!("cannot merge {} state into {}", other.op.name(), self.op.name()),
            ));
        }
        if self.op.is_window_only() {
            // mongod: "$integral can't be merged" etc.; window states are never combined.
            return Err(DocDbError::new(ErrorCode::InternalError, format!("{} can't be merged", self.op.name())));
        }
        use AccumulatorOp::*;
        let n = match self.op {
            FirstN | LastN | MaxN | MinN | Top | Bottom | TopN | BottomN => self.limit()?,
            _ => 0,
        };
        let op = self.op;
        let sort = self.sort_by.clone().unwrap_or(SortBy::Whole(true));
        match (&mut self.state, &other.state) {
            (State::Sum(a), State::Sum(b)) => a.merge(b),
            (State::Avg { sum: a, decimal: da }, State::Avg { sum: b, decimal: db }) => {
                a.merge(b);
                *da |= *db;
            }
            (State::MinMax(a), State::MinMax(b)) => {
                if let Some(val) = b.clone() {
                    minmax_update(a, val, op == Max);
                }
            }
            (State::FirstLast { seen: sa, value: va }, State::FirstLast { seen: sb, value: vb }) => {
                if (op == First && !*sa && *sb) || (op == Last && *sb) {
                    *sa = true;
                    *va = vb.clone();
                }
            }
            (State::List(a), State::List(b)) => match op {
                Push | LastN | Median | Percentile => {
                    hold(&mut self.held_bytes, op, other.held_bytes, 0)?;
                    a.extend(b.iter().cloned());
                    if op == LastN && a.len() > n {
                        let excess = a.len() - n;
                        let removed = a.drain(..excess).map(|x| approximate_size(&x)).sum();
                        hold(&mut self.held_bytes, op, 0, removed)?;
                    }
                }
                AddToSet => {
                    for val in b {
                        if !v::contains(a, val) {
                            hold(&mut self.held_bytes, op, approximate_size(val), 0)?;
                            a.push(val.clone());
                        }
                    }
                }
                FirstN => {
                    for val in b {
                        if a.len() < n {
                            hold(&mut self.held_bytes, op, approximate_size(val), 0)?;
                            a.push(val.clone());
                        }
                    }
                }
                MaxN | MinN => {
                    for val in b {
                        let added = approximate_size(val);
                        let removed = insert_sorted(a, val.clone(), op == MaxN, n).iter().map(approximate_size).sum();
                        hold(&mut self.held_bytes, op, added, removed)?;
                    }
                }
                _ => {}
            },
            (State::Merge(a), State::Merge(b)) => {
                for (k, val) in b {
                    merge_field(a, &mut self.held_bytes, op, k.clone(), val.clone())?;
                }
            }
            (State::StdDev { count: ca, mean: ma, m2: qa }, State::StdDev { count: cb, mean: mb, m2: qb }) => {
                if *cb > 0 {
                    let total = *ca + *cb;
                    let delta = *mb - *ma;
                    *ma += delta * (*cb as f64) / (total as f64);
                    *qa += *qb + delta * delta * (*ca as f64) * (*cb as f64) / (total as f64);
                    *ca = total;
                }
            }
            (State::Ranked { items: a, seq: sa }, State::Ranked { items: b, .. }) => {
                let base = *sa;
                for (key, out, s) in b {
                    let item = (key.clone(), out.clone(), base + s);
                    let added = ranked_size(&item);
                    let removed =
                        insert_ranked(a, item, &sort, matches!(op, Top | TopN), n).iter().map(ranked_size).sum();
                    hold(&mut self.held_bytes, op, added, removed)?;
                    *sa = (*sa).max(base + s);
                }
            }
            _ => {
                return Err(DocDbError::new(ErrorCode::InternalError, "mismatched accumulator states"));
            }
        }
        Ok(())
    }

    /// The accumulated result; `null` where [`Accumulator::finish_checked`] reports an
    /// error.
    pub fn finish(&self) -> Bson {
        self.finish_checked().unwrap_or(Bson::Null)
    }

    /// The accumulated result, or the error mongod raises when it computes it
    /// (`$derivative`: 5624900 a unit without dates, 5624901 dates without a unit, 5624902
    /// a non-numeric sortBy value, 5624903 a nullish input at an end of the window, 16556
    /// inputs `$subtract` refuses). Does not change the state.
    pub fn finish_checked(&self) -> DocDbResult<Bson> {
        use AccumulatorOp::*;
        Ok(match &self.state {
            State::Sum(s) => s.result(),
            State::Avg { sum, decimal } => {
                if sum.count == 0 {
                    return Ok(Bson::Null);
                }
                if *decimal {
                    let total = Num::Decimal(sum.total_decimal());
                    match arith::divide(total, Num::Int64(sum.count)) {
                        Some(r) => Bson::Decimal128(arith::to_decimal(r)),
                        None => Bson::Null,
                    }
                } else {
                    Bson::Double(sum.non_decimal.get_double() / sum.count as f64)
                }
            }
            State::MinMax(val) => val.clone().unwrap_or(Bson::Null),
            State::FirstLast { value, .. } => value.clone().unwrap_or(Bson::Null),
            State::List(items) if matches!(self.op, Median | Percentile) => {
                // Exact discrete percentiles (mongod's answer for inputs its t-digest keeps
                // whole; it approximates beyond): rank ceil(p * n) - 1 of the sorted values.
                let mut samples: Vec<f64> = items.iter().filter_map(|b| b.as_f64()).collect();
                samples.sort_by(|a, b| a.total_cmp(b));
                let results: Vec<Bson> = self
                    .percentiles
                    .iter()
                    .map(|p| super::ops_math::discrete_percentile(&samples, *p).map_or(Bson::Null, Bson::Double))
                    .collect();
                if self.op == Median {
                    results.into_iter().next().unwrap_or(Bson::Null)
                } else {
                    Bson::Array(results)
                }
            }
            State::List(items) => Bson::Array(items.clone()),
            State::Merge(doc) => Bson::Document(doc.clone()),
            State::StdDev { count, m2, .. } => {
                let adjusted = if self.op == StdDevSamp { count - 1 } else { *count };
                if adjusted <= 0 {
                    Bson::Null
                } else {
                    Bson::Double((m2 / adjusted as f64).sqrt())
                }
            }
            State::Ranked { items, .. } => {
                let outputs: Vec<Bson> = items.iter().map(|(_, o, _)| o.clone()).collect();
                match self.op {
                    Top | Bottom => outputs.into_iter().next().unwrap_or(Bson::Null),
                    _ => Bson::Array(outputs),
                }
            }
            State::Locf(last) => last.clone().unwrap_or(Bson::Null),
            // mongod's WindowFunctionIntegral::getValue: null without points, NaN when a
            // point had a NaN coordinate, the sum (divided by the unit) otherwise.
            State::Integral { sum, nan, points, .. } => {
                if *points == 0 {
                    Bson::Null
                } else if *nan {
                    Bson::Double(f64::NAN)
                } else {
                    let total = sum.result();
                    match (self.unit_ms, Num::from_bson(&total)) {
                        (Some(ms), Some(t)) => arith::divide(t, Num::Int64(ms)).map_or(Bson::Null, Num::to_bson),
                        _ => total,
                    }
                }
            }
            State::Derivative { first, last } => self.derivative(first.as_ref(), last.as_ref())?,
            State::ExpMovingAvg { value, decimal } => match value {
                None => Bson::Null,
                Some(d) if *decimal => Bson::Decimal128(*d),
                Some(d) => Bson::Double(arith::to_f64(Num::Decimal(*d))),
            },
            // mongod's WindowFunctionCovariance::getValue.
            State::Covariance { count, cxy, .. } => {
                let samp = self.op == CovarianceSamp;
                if *count == 1 && !samp {
                    return Ok(Bson::Double(0.0));
                }
                let adjusted = if samp { count - 1 } else { *count };
                if adjusted <= 0 {
                    return Ok(Bson::Null);
                }
                match Num::from_bson(&cxy.result()) {
                    Some(total @ Num::Decimal(_)) => {
                        arith::divide(total, Num::Double(adjusted as f64)).map_or(Bson::Null, Num::to_bson)
                    }
                    Some(total) => Bson::Double(arith::to_f64(total) / adjusted as f64),
                    None => Bson::Null,
                }
            }
        })
    }

    /// `$derivative` over the window's first and last points (mongod's
    /// `WindowFunctionExecDerivative::getNext`).
    fn derivative(&self, first: Option<&(Bson, Bson)>, last: Option<&(Bson, Bson)>) -> DocDbResult<Bson> {
        let (Some((left_x, left_y)), Some((right_x, right_y))) = (first, last) else {
            return Ok(Bson::Null);
        };
        let run = match (left_x, right_x) {
            (Bson::DateTime(l), Bson::DateTime(r)) if self.unit_ms.is_some() => {
                Num::Int64(r.timestamp_millis().saturating_sub(l.timestamp_millis()))
            }
            _ if self.unit_ms.is_some() => {
                return Err(loc(5624900, "$derivative with 'unit' expects the sortBy field to be a Date"));
            }
            (Bson::DateTime(_), _) | (_, Bson::DateTime(_)) => {
                return Err(loc(5624901, "$derivative where the sortBy is a Date requires an 'unit'"));
            }
            _ => match (Num::from_bson(left_x), Num::from_bson(right_x)) {
                (Some(l), Some(r)) => arith::subtract(r, l),
                _ => return Err(loc(5624902, "$derivative (with no 'unit') expects the sortBy field to be numeric")),
            },
        };
        let rise = subtract_values(right_y, left_y)?
            .ok_or_else(|| loc(5624903, "$derivative input must not be null or missing"))?;
        // Dividing by zero is no error: a window of one document has no run.
        let Some(rate) = arith::divide(rise, run) else {
            return Ok(Bson::Null);
        };
        Ok(match self.unit_ms {
            Some(ms) => arith::multiply(rate, Num::Int64(ms)).to_bson(),
            None => rate.to_bson(),
        })
    }

    /// The full state (operator, argument spec, resolved `n`, partial result) as bytes.
    pub fn serialize_state(&self) -> Vec<u8> {
        let mut doc = bson::doc! {
            "op": self.op.name(),
            "spec": self.spec.clone(),
        };
        if let Some(n) = self.n {
            doc.insert("n", i64::try_from(n).unwrap_or(i64::MAX));
        }
        let st = match &self.state {
            State::Sum(s) => sum_doc(s),
            State::Avg { sum, decimal } => {
                let mut d = sum_doc(sum);
                d.insert("dec", *decimal);
                d
            }
            State::MinMax(val) => opt_doc(val),
            State::FirstLast { seen, value } => {
                let mut d = opt_doc(value);
                d.insert("seen", *seen);
                d
            }
            State::List(items) => bson::doc! { "vals": items.clone() },
            State::Merge(doc) => bson::doc! { "doc": doc.clone() },
            State::StdDev { count, mean, m2 } => bson::doc! { "c": *count, "m": *mean, "m2": *m2 },
            State::Ranked { items, seq } => {
                let list: Vec<Bson> = items
                    .iter()
                    .map(|(k, o, s)| Bson::Array(vec![Bson::Array(k.clone()), o.clone(), Bson::Int64(*s)]))
                    .collect();
                bson::doc! { "items": list, "seq": *seq }
            }
            State::Locf(last) => opt_doc(last),
            State::Integral { prev, sum, nan, points } => {
                let mut d = bson::doc! { "sum": sum_doc(sum), "nan": *nan, "pts": *points };
                if let Some(p) = prev {
                    d.insert("prev", point_bson(p));
                }
                d
            }
            State::Derivative { first, last } => {
                let mut d = Document::new();
                if let Some(p) = first {
                    d.insert("first", point_bson(p));
                }
                if let Some(p) = last {
                    d.insert("last", point_bson(p));
                }
                d
            }
            State::ExpMovingAvg { value, decimal } => {
                let mut d = bson::doc! { "dec": *decimal };
                if let Some(val) = value {
                    d.insert("val", Bson::Decimal128(*val));
                }
                d
            }
            State::Covariance { count, x, y, cxy } => {
                bson::doc! { "c": *count, "x": sum_doc(x), "y": sum_doc(y), "xy": sum_doc(cxy) }
            }
        };
        doc.insert("st", st);
        doc.to_vec().unwrap_or_default()
    }

    /// Rebuilds an accumulator from [`Accumulator::serialize_state`] bytes.
    pub fn deserialize_state(bytes: &[u8]) -> DocDbResult<Accumulator> {
        Accumulator::deserialize_state_with_context(bytes, &ExprContext::default())
    }

    /// [`Accumulator::deserialize_state`] of an accumulator whose argument reads `let`
    /// variables (`ctx`, as it was parsed with).
    pub fn deserialize_state_with_context(bytes: &[u8], ctx: &ExprContext) -> DocDbResult<Accumulator> {
        let bad = |what: &str| DocDbError::new(ErrorCode::InternalError, format!("corrupt accumulator state: {what}"));
        let doc = bson::Document::from_reader(bytes).map_err(|e| bad(&e.to_string()))?;
        let name = doc.get_str("op").map_err(|_| bad("op"))?;
        let op = AccumulatorOp::from_window_name(name).ok_or_else(|| bad("op"))?;
        let spec = doc.get("spec").cloned().unwrap_or(Bson::Null);
        // A window accumulator's spec parses with parse_window (which accepts every spec
        // parse_bson does, with the same result).
        let mut acc = if spec == Bson::Null && !matches!(op, AccumulatorOp::Count) && !op.is_window_only() {
            Accumulator::for_expression(name)?
        } else {
            Accumulator::parse_window(name, &spec, ctx)?
        };
        if let Ok(n) = doc.get_i64("n") {
            acc.n = Some(usize::try_from(n).map_err(|_| bad("n"))?);
        }
        let st = doc.get_document("st").map_err(|_| bad("st"))?;
        acc.state = match initial_state(op) {
            State::Sum(_) => State::Sum(sum_from_doc(st).ok_or_else(|| bad("sum"))?),
            State::Avg { .. } => State::Avg {
                sum: sum_from_doc(st).ok_or_else(|| bad("avg"))?,
                decimal: st.get_bool("dec").unwrap_or(false),
            },
            State::MinMax(_) => State::MinMax(st.get("val").cloned()),
            State::FirstLast { .. } => {
                State::FirstLast { seen: st.get_bool("seen").unwrap_or(false), value: st.get("val").cloned() }
            }
            State::List(_) => State::List(st.get_array("vals").map_err(|_| bad("vals"))?.clone()),
            State::Merge(_) => State::Merge(st.get_document("doc").map_err(|_| bad("doc"))?.clone()),
            State::StdDev { .. } => State::StdDev {
                count: st.get_i64("c").map_err(|_| bad("c"))?,
                mean: st.get_f64("m").map_err(|_| bad("m"))?,
                m2: st.get_f64("m2").map_err(|_| bad("m2"))?,
            },
            State::Ranked { .. } => {
                let mut items = Vec::new();
                for it in st.get_array("items").map_err(|_| bad("items"))? {
                    let Bson::Array(parts) = it else {
                        return Err(bad("item"));
                    };
                    match parts.as_slice() {
                        [Bson::Array(k), o, Bson::Int64(s)] => items.push((k.clone(), o.clone(), *s)),
                        _ => return Err(bad("item")),
                    }
                }
                State::Ranked { items, seq: st.get_i64("seq").unwrap_or(0) }
            }
            State::Locf(_) => State::Locf(st.get("val").cloned()),
            State::Integral { .. } => State::Integral {
                prev: point_from(st.get("prev")),
                sum: st.get_document("sum").ok().and_then(sum_from_doc).ok_or_else(|| bad("sum"))?,
                nan: st.get_bool("nan").unwrap_or(false),
                points: st.get_i64("pts").map_err(|_| bad("pts"))?,
            },
            State::Derivative { .. } => {
                State::Derivative { first: point_from(st.get("first")), last: point_from(st.get("last")) }
            }
            State::ExpMovingAvg { .. } => State::ExpMovingAvg {
                value: st.get_decimal128("val").ok().copied(),
                decimal: st.get_bool("dec").unwrap_or(false),
            },
            State::Covariance { .. } => {
                let sum = |k: &str| st.get_document(k).ok().and_then(sum_from_doc).ok_or_else(|| bad(k));
                State::Covariance {
                    count: st.get_i64("c").map_err(|_| bad("c"))?,
                    x: sum("x")?,
                    y: sum("y")?,
                    cxy: sum("xy")?,
                }
            }
        };
        acc.held_bytes = held_size(&acc.state);
        Ok(acc)
    }
}

fn minmax_update(cur: &mut Option<Bson>, val: Bson, is_max: bool) {
    let replace = match cur {
        None => true,
        Some(c) => {
            let o = v::compare(c, &val);
            if is_max {
                o == Ordering::Less
            } else {
                o == Ordering::Greater
            }
        }
    };
    if replace {
        *cur = Some(val);
    }
}

fn kind_code(k: NumKind) -> i32 {
    match k {
        NumKind::Int32 => 0,
        NumKind::Int64 => 1,
        NumKind::Double => 2,
        NumKind::Decimal => 3,
    }
}

fn sum_doc(s: &SumState) -> Document {
    let (sum, addend, special) = s.non_decimal.parts();
    bson::doc! {
        "t": kind_code(s.kind),
        "s": sum,
        "a": addend,
        "sp": special,
        "d": Bson::Decimal128(s.decimal),
        "c": s.count,
    }
}

fn sum_from_doc(d: &Document) -> Option<SumState> {
    let kind = match d.get_i32("t").ok()? {
        0 => NumKind::Int32,
        1 => NumKind::Int64,
        2 => NumKind::Double,
        _ => NumKind::Decimal,
    };
    Some(SumState {
        kind,
        non_decimal: DoubleDouble::from_parts(d.get_f64("s").ok()?, d.get_f64("a").ok()?, d.get_f64("sp").ok()?),
        decimal: *d.get_decimal128("d").ok()?,
        count: d.get_i64("c").ok()?,
    })
}

fn opt_doc(v: &Option<Bson>) -> Document {
    let mut d = Document::new();
    if let Some(val) = v {
        d.insert("val", val.clone());
    }
    d
}

/// Keeps `items` sorted (descending for `$maxN`, ascending for `$minN`), at most `n`;
/// returns the values that no longer fit.
fn insert_sorted(items: &mut Vec<Bson>, val: Bson, descending: bool, n: usize) -> Vec<Bson> {
    let pos = items
        .iter()
        .position(|x| {
            let o = v::compare(&val, x);
            if descending {
                o == Ordering::Greater
            } else {
                o == Ordering::Less
            }
        })
        .unwrap_or(items.len());
    items.insert(pos, val);
    if items.len() > n {
        return items.split_off(n);
    }
    Vec::new()
}

fn split_ranked(value: Option<Bson>) -> (Vec<Bson>, Bson) {
    match value {
        Some(Bson::Document(mut d)) => {
            let key = match d.remove("sortKey") {
                Some(Bson::Array(k)) => k,
                _ => Vec::new(),
            };
            (key, d.remove("output").unwrap_or(Bson::Null))
        }
        _ => (Vec::new(), Bson::Null),
    }
}

/// Sort-key value of one field for a direction: arrays sort by their smallest element
/// ascending and largest descending (an empty array before null).
fn key_component(v: &Bson, ascending: bool) -> Bson {
    match v {
        Bson::Array(items) if items.is_empty() => Bson::Undefined,
        Bson::Array(items) => {
            let mut best = &items[0];
            for it in &items[1..] {
                let o = v::compare(it, best);
                if (ascending && o == Ordering::Less) || (!ascending && o == Ordering::Greater) {
                    best = it;
                }
            }
            best.clone()
        }
        other => other.clone(),
    }
}

fn compare_keys(a: &[Bson], b: &[Bson], sort: &SortBy) -> Ordering {
    let dirs: Vec<bool> = match sort {
        SortBy::Fields(f) => f.iter().map(|(_, asc)| *asc).collect(),
        SortBy::Whole(asc) => vec![*asc],
    };
    for (i, asc) in dirs.iter().enumerate() {
        let ka = a.get(i).map(|x| key_component(x, *asc)).unwrap_or(Bson::Null);
        let kb = b.get(i).map(|x| key_component(x, *asc)).unwrap_or(Bson::Null);
        let o = v::compare(&ka, &kb);
        let o = if *asc { o } else { o.reverse() };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

/// Inserts into the sorted list (ties by arrival) and keeps the first `n` (top) or the
/// last `n` (bottom); returns the entries that no longer fit.
fn insert_ranked(
    items: &mut Vec<(Vec<Bson>, Bson, i64)>,
    item: (Vec<Bson>, Bson, i64),
    sort: &SortBy,
    top: bool,
    n: usize,
) -> Vec<(Vec<Bson>, Bson, i64)> {
    let pos = items
        .iter()
        .position(|(k, _, s)| compare_keys(&item.0, k, sort).then(item.2.cmp(s)) == Ordering::Less)
        .unwrap_or(items.len());
    items.insert(pos, item);
    if items.len() <= n {
        return Vec::new();
    }
    if top {
        items.split_off(n)
    } else {
        let excess = items.len() - n;
        items.drain(..excess).collect()
    }
}

#[cfg(test)]
mod window_tests {
    //! The window-only accumulators, checked against the MongoDB manual's examples
    //! (`$integral`, `$derivative`, `$expMovingAvg`, `$covariancePop`,
    //! `$covarianceSamp`, `$locf` pages) and mongod's window function sources.
    use super::*;
    use bson::{bson, doc, DateTime};

    fn window(name: &str, arg: Bson) -> Accumulator {
        Accumulator::parse_window(name, &arg, &ExprContext::default()).unwrap_or_else(|e| panic!("{name}: {e:?}"))
    }

    fn window_err(name: &str, arg: Bson) -> i32 {
        Accumulator::parse_window(name, &arg, &ExprContext::default()).expect_err(name).code.code()
    }

    /// The result after each document (a `["unbounded", "current"]` window).
    fn running(acc: &mut Accumulator, docs: &[Document]) -> Vec<Bson> {
        docs.iter()
            .map(|d| {
                let raw = bson::RawDocumentBuf::try_from(d).unwrap();
                acc.accumulate_document(&raw).unwrap();
                let first = acc.finish();
                assert_eq!(acc.finish(), first, "finish leaves the state alone");
                first
            })
            .collect()
    }

    fn date(iso: &str) -> Bson {
        Bson::DateTime(DateTime::parse_rfc3339_str(iso).unwrap())
    }

    fn dec(s: &str) -> Bson {
        Bson::Decimal128(s.parse().unwrap())
    }

    #[test]
    fn javascript_accumulator_is_refused_31264() {
        let arg = bson!({ "init": "function() { return 0 }", "accumulate": "function(s) { return s }",
                          "accumulateArgs": [], "merge": "function(a, b) { return a }", "lang": "js" });
        let err = Accumulator::parse_bson("$accumulator", &arg, &ExprContext::default()).unwrap_err();
        assert_eq!(err.code.code(), 31264);
    }

    #[test]
    fn group_rejects_window_only_operators_15952() {
        for op in ["$locf", "$integral", "$derivative", "$expMovingAvg", "$covariancePop", "$covarianceSamp"] {
            let arg = bson!({ "input": "$x" });
            let err = Accumulator::parse_bson(op, &arg, &ExprContext::default()).unwrap_err();
            assert_eq!(err.code.code(), 15952, "{op}");
            assert_eq!(err.message, format!("unknown group operator '{op}'"));
            let raw = bson::rawdoc! { "a": "$x" };
            let err = Accumulator::parse(op, raw.get("a").unwrap().unwrap()).unwrap_err();
            assert_eq!(err.code.code(), 15952, "{op}");
        }
        assert_eq!(AccumulatorOp::from_name("$locf"), None);
        assert_eq!(AccumulatorOp::from_window_name("$locf"), Some(AccumulatorOp::Locf));
        assert_eq!(AccumulatorOp::from_window_name("$sum"), Some(AccumulatorOp::Sum));
        assert_eq!(AccumulatorOp::from_window_name("$nope"), None);
    }

    #[test]
    fn parse_window_takes_group_accumulators_with_window_argument_rules() {
        // Window functions parse their argument as an operand: an array is an expression.
        let mut sum = window("$sum", bson!(["$a", "$b"]));
        sum.accumulate(Some(bson!([1, 2]))).unwrap();
        assert_eq!(sum.finish(), bson!(0), "an array is not a number");
        assert_eq!(
            Accumulator::parse_bson("$sum", &bson!(["$a"]), &ExprContext::default()).unwrap_err().code.code(),
            40237
        );
        // mongod's parseCountWindowFunction.
        assert_eq!(window_err("$count", bson!(1)), 9);
        assert_eq!(window_err("$count", bson!({ "a": 1 })), 9);
        let mut count = window("$count", bson!({}));
        running(&mut count, &[doc! {}, doc! {}]);
        assert_eq!(count.finish(), bson!(2));
        // $group accumulators' own rules still apply.
        assert_eq!(window_err("$firstN", bson!({ "input": "$x" })), 5787906);
        assert_eq!(window_err("$nope", bson!(1)), 9);
    }

    fn power_docs(readings: &[(&str, f64)]) -> Vec<Document> {
        readings.iter().map(|(t, kw)| doc! { "timeStamp": date(t), "kilowatts": *kw }).collect()
    }

    /// The manual's `$integral` example: kilowatt-hours per meter, `range: ["unbounded",
    /// "current"]`, `unit: "hour"`.
    #[test]
    fn integral_manual_power_consumption() {
        let arg = bson!({ "input": "$kilowatts", "unit": "hour", WINDOW_SORT_BY_FIELD: "$timeStamp" });
        let meter1 = power_docs(&[
            ("2020-05-18T14:10:30Z", 2.95),
            ("2020-05-18T14:11:00Z", 2.7),
            ("2020-05-18T14:11:30Z", 2.6),
            ("2020-05-18T14:12:00Z", 2.98),
        ]);
        let got = running(&mut window("$integral", arg.clone()), &meter1);
        assert_eq!(got, vec![bson!(0.0), bson!(0.023541666666666666), bson!(0.045625), bson!(0.068875)]);
        let meter2 = power_docs(&[
            ("2020-05-18T14:10:30Z", 2.5),
            ("2020-05-18T14:11:00Z", 2.25),
            ("2020-05-18T14:11:30Z", 2.75),
            ("2020-05-18T14:12:00Z", 2.82),
        ]);
        let got = running(&mut window("$integral", arg), &meter2);
        assert_eq!(got, vec![bson!(0.0), bson!(0.019791666666666666), bson!(0.040625), bson!(0.06383333333333334)]);
    }

    /// WindowFunctionIntegral: numbers without a unit (0 for one point, null for none),
    /// NaN poisons the result, decimals stay decimal.
    #[test]
    fn integral_numbers_nan_and_decimal() {
        let mut acc = window("$integral", bson!({ "input": "$y", WINDOW_SORT_BY_FIELD: "$x" }));
        assert_eq!(acc.finish(), Bson::Null);
        acc.accumulate(Some(bson!([0, 1]))).unwrap();
        assert_eq!(acc.finish(), bson!(0), "no trapezoid yet: $sum of nothing");
        acc.accumulate(Some(bson!([2, 3]))).unwrap();
        assert_eq!(acc.finish(), bson!(4.0));
        acc.accumulate(Some(bson!([3, f64::NAN]))).unwrap();
        assert!(matches!(acc.finish(), Bson::Double(d) if d.is_nan()));

        let mut acc = window("$integral", bson!({ "input": "$y", WINDOW_SORT_BY_FIELD: "$x" }));
        acc.accumulate(Some(bson!([0, dec("1")]))).unwrap();
        acc.accumulate(Some(bson!([1, dec("2")]))).unwrap();
        assert!(matches!(acc.finish(), Bson::Decimal128(_)));
        assert_eq!(acc.finish(), dec("1.5"));
    }

    #[test]
    fn integral_point_errors_5423900_5423901_5423902() {
        let plain = || window("$integral", bson!({ "input": "$y", WINDOW_SORT_BY_FIELD: "$x" }));
        let unit = || window("$integral", bson!({ "input": "$y", "unit": "second", WINDOW_SORT_BY_FIELD: "$x" }));
        let code = |mut a: Accumulator, v: Bson| a.accumulate(Some(v)).unwrap_err().code.code();
        assert_eq!(code(plain(), bson!([1, Bson::Null])), 5423900, "missing/null input");
        assert_eq!(code(plain(), bson!([1, "a"])), 5423900);
        assert_eq!(code(plain(), bson!(["a", 1])), 5423900);
        assert_eq!(code(unit(), bson!([1, 1])), 5423901, "a unit needs dates");
        assert_eq!(code(plain(), bson!([date("2020-01-01T00:00:00Z"), 1])), 5423902);
    }

    #[test]
    fn integral_and_derivative_argument_rules() {
        let with = |d: Document| {
            let mut d = d;
            d.insert(WINDOW_SORT_BY_FIELD, "$t");
            Bson::Document(d)
        };
        for op in ["$integral", "$derivative"] {
            assert_eq!(window_err(op, bson!(5)), 9, "expects an object");
            assert_eq!(window_err(op, with(doc! { "unit": "hour" })), 9, "requires an 'input'");
            assert_eq!(window_err(op, with(doc! { "input": "$x", "foo": 1 })), 9, "unexpected argument");
            assert_eq!(window_err(op, with(doc! { "input": "$x", "unit": 1 })), 9, "unit must be a string");
            assert_eq!(window_err(op, with(doc! { "input": "$x", "unit": "fortnight" })), 9, "unknown time unit");
            for big in ["month", "quarter", "year"] {
                assert_eq!(window_err(op, with(doc! { "input": "$x", "unit": big })), 5490710, "{big}");
            }
            assert_eq!(
                window_err(op, bson!({ "input": "$x" })),
                ErrorCode::InternalError.code(),
                "the sortBy path comes from window::accumulator_argument"
            );
        }
        let acc = window("$integral", with(doc! { "input": "$x", "unit": "week" }));
        assert_eq!(acc.unit_ms, Some(604_800_000));
    }

    /// The manual's `$derivative` example: truck speed in miles per hour over `range:
    /// [-30, 0]` seconds (the window holds the previous reading and the current one).
    #[test]
    fn derivative_manual_delivery_fleet() {
        let arg = bson!({ "input": "$miles", "unit": "hour", WINDOW_SORT_BY_FIELD: "$timeStamp" });
        let readings = [
            ("2020-05-18T14:10:30Z", 1295.1),
            ("2020-05-18T14:11:00Z", 1295.63),
            ("2020-05-18T14:11:30Z", 1296.25),
            ("2020-05-18T14:12:00Z", 1296.76),
        ];
        let docs: Vec<Document> = readings.iter().map(|(t, m)| doc! { "timeStamp": date(t), "miles": *m }).collect();
        let mut first = window("$derivative", arg.clone());
        assert_eq!(running(&mut first, &docs[..1]), vec![Bson::Null], "one document: no run");
        let speeds: Vec<Bson> =
            docs.windows(2).map(|pair| running(&mut window("$derivative", arg.clone()), pair)[1].clone()).collect();
        assert_eq!(speeds, vec![bson!(63.60000000002401), bson!(74.3999999999869), bson!(61.199999999998916)]);
        // Only the ends of the window count.
        let mut whole = window("$derivative", arg);
        running(&mut whole, &docs);
        let expected = (1296.76 - 1295.1) / 90_000.0 * 3_600_000.0;
        assert_eq!(whole.finish(), bson!(expected));
    }

    #[test]
    fn derivative_errors_5624900_to_5624903() {
        let plain = || window("$derivative", bson!({ "input": "$y", WINDOW_SORT_BY_FIELD: "$x" }));
        let unit = || window("$derivative", bson!({ "input": "$y", "unit": "second", WINDOW_SORT_BY_FIELD: "$x" }));
        let code = |mut a: Accumulator, points: &[Bson]| {
            for p in points {
                a.accumulate(Some(p.clone())).unwrap();
            }
            assert_eq!(a.finish(), Bson::Null, "finish reports errors as null");
            a.finish_checked().unwrap_err().code.code()
        };
        let d = date("2021-01-01T00:00:00Z");
        assert_eq!(code(unit(), &[bson!([1, 1]), bson!([2, 2])]), 5624900);
        assert_eq!(code(plain(), &[bson!([d.clone(), 1]), bson!([d.clone(), 2])]), 5624901);
        assert_eq!(code(plain(), &[bson!(["a", 1]), bson!(["b", 2])]), 5624902);
        assert_eq!(code(plain(), &[bson!([1, Bson::Null]), bson!([2, 2])]), 5624903);
        assert_eq!(code(plain(), &[bson!([1, "a"]), bson!([2, 2])]), 16556);
        // A nullish value between the ends is no error.
        let mut a = plain();
        for p in [bson!([0, 0]), bson!([1, Bson::Null]), bson!([4, 8])] {
            a.accumulate(Some(p)).unwrap();
        }
        assert_eq!(a.finish_checked().unwrap(), bson!(2.0));
    }

    fn prices(values: &[f64]) -> Vec<Document> {
        values
            .iter()
            .map(|p| {
                if p.fract() == 0.0 {
                    doc! { "price": *p as i32 }
                } else {
                    doc! { "price": *p }
                }
            })
            .collect()
    }

    /// The manual's `$expMovingAvg` examples on the stockPrices collection.
    #[test]
    fn exp_moving_avg_manual_stock_prices() {
        let mdb = prices(&[13.0, 15.4, 12.0, 11.7]);
        let msft = prices(&[82.0, 94.0, 112.0, 97.3]);
        let n2 = bson!({ "input": "$price", "N": 2 });
        assert_eq!(
            running(&mut window("$expMovingAvg", n2.clone()), &mdb),
            vec![bson!(13.0), bson!(14.6), bson!(12.866666666666667), bson!(12.088888888888889)]
        );
        assert_eq!(
            running(&mut window("$expMovingAvg", n2), &msft),
            vec![bson!(82.0), bson!(90.0), bson!(104.66666666666667), bson!(99.75555555555556)]
        );
        let alpha = bson!({ "input": "$price", "alpha": 0.75 });
        assert_eq!(
            running(&mut window("$expMovingAvg", alpha.clone()), &mdb),
            vec![bson!(13.0), bson!(14.8), bson!(12.7), bson!(11.95)]
        );
        assert_eq!(
            running(&mut window("$expMovingAvg", alpha), &msft),
            vec![bson!(82.0), bson!(91.0), bson!(106.75), bson!(99.6625)]
        );
    }

    /// "$expMovingAvg ignores non-numeric values, null values, and missing fields";
    /// decimal inputs give a decimal.
    #[test]
    fn exp_moving_avg_ignores_non_numbers() {
        let mut acc = window("$expMovingAvg", bson!({ "input": "$p", "alpha": 0.5 }));
        assert_eq!(acc.finish(), Bson::Null);
        for v in [None, Some(Bson::Null), Some(bson!("x")), Some(bson!(4)), Some(bson!(true)), Some(bson!(8))] {
            acc.accumulate(v).unwrap();
        }
        assert_eq!(acc.finish(), bson!(6.0));
        acc.accumulate(Some(dec("2"))).unwrap();
        assert!(matches!(acc.finish(), Bson::Decimal128(_)));
        assert_eq!(arith::to_f64(Num::from_bson(&acc.finish()).unwrap()), 4.0);
    }

    #[test]
    fn exp_moving_avg_argument_rules() {
        assert_eq!(window_err("$expMovingAvg", bson!(1)), 9);
        assert_eq!(window_err("$expMovingAvg", bson!({ "input": "$p" })), 9, "N or alpha");
        assert_eq!(window_err("$expMovingAvg", bson!({ "input": "$p", "N": 2, "alpha": 0.5 })), 9);
        assert_eq!(window_err("$expMovingAvg", bson!({ "input": "$p", "foo": 2 })), 9);
        assert_eq!(window_err("$expMovingAvg", bson!({ "input": "$p", "N": "2" })), 9);
        assert_eq!(window_err("$expMovingAvg", bson!({ "input": "$p", "N": 2.5 })), 9);
        assert_eq!(window_err("$expMovingAvg", bson!({ "input": "$p", "N": 0 })), 9);
        assert_eq!(window_err("$expMovingAvg", bson!({ "input": "$p", "N": -3 })), 9);
        assert_eq!(window_err("$expMovingAvg", bson!({ "input": "$p", "alpha": "a" })), 9);
        assert_eq!(window_err("$expMovingAvg", bson!({ "input": "$p", "alpha": 0 })), 9);
        assert_eq!(window_err("$expMovingAvg", bson!({ "input": "$p", "alpha": 1 })), 9);
        assert_eq!(window_err("$expMovingAvg", bson!({ "input": "$p", "alpha": 1.5 })), 9);
        // An integral double N is fine.
        window("$expMovingAvg", bson!({ "input": "$p", "N": 3.0 }));
        window("$expMovingAvg", bson!({ "input": "$p", "N": Bson::Int64(3) }));
    }

    fn cake_sales(state: &str) -> Vec<Document> {
        let rows: &[(&str, i32)] = match state {
            "CA" => &[("2019-05-18T16:09:01Z", 162), ("2020-05-18T14:10:30Z", 120), ("2021-01-11T06:31:15Z", 145)],
            _ => &[("2019-01-08T06:12:03Z", 134), ("2020-02-08T13:13:23Z", 104), ("2021-03-20T11:30:05Z", 140)],
        };
        rows.iter().map(|(d, q)| doc! { "orderDate": date(d), "quantity": *q }).collect()
    }

    /// The manual's `$covariancePop` / `$covarianceSamp` examples (cakeSales, documents
    /// window `["unbounded", "current"]`).
    #[test]
    fn covariance_manual_cake_sales() {
        let arg = bson!([{ "$year": "$orderDate" }, "$quantity"]);
        assert_eq!(
            running(&mut window("$covariancePop", arg.clone()), &cake_sales("CA")),
            vec![bson!(0.0), bson!(-10.5), bson!(-5.666666666666671)]
        );
        assert_eq!(
            running(&mut window("$covariancePop", arg.clone()), &cake_sales("WA")),
            vec![bson!(0.0), bson!(-7.5), bson!(2.0)]
        );
        assert_eq!(
            running(&mut window("$covarianceSamp", arg.clone()), &cake_sales("CA")),
            vec![Bson::Null, bson!(-21.0), bson!(-8.500000000000007)]
        );
        assert_eq!(
            running(&mut window("$covarianceSamp", arg), &cake_sales("WA")),
            vec![Bson::Null, bson!(-15.0), bson!(3.0)]
        );
    }

    /// WindowFunctionCovariance: only pairs of two numbers count; non-finite pairs add
    /// their infinity (or NaN) to the result without counting.
    #[test]
    fn covariance_ignores_non_pairs_and_propagates_non_finite() {
        let mut acc = window("$covariancePop", bson!(["$x", "$y"]));
        for v in [None, Some(bson!(1)), Some(bson!([1])), Some(bson!([1, "a"])), Some(bson!([1, 2, 3]))] {
            acc.accumulate(v).unwrap();
        }
        assert_eq!(acc.finish(), Bson::Null, "nothing counted");
        acc.accumulate(Some(bson!([1, 1]))).unwrap();
        acc.accumulate(Some(bson!([3, 5]))).unwrap();
        assert_eq!(acc.finish(), bson!(2.0));
        acc.accumulate(Some(bson!([f64::INFINITY, 1]))).unwrap();
        assert_eq!(acc.finish(), bson!(f64::INFINITY));
        acc.accumulate(Some(bson!([f64::NEG_INFINITY, 1]))).unwrap();
        assert!(matches!(acc.finish(), Bson::Double(d) if d.is_nan()));
    }

    /// The manual's `$locf` example (CompanyB's volume: 100000, 105000, null, missing,
    /// 120000).
    #[test]
    fn locf_manual_stock_volume() {
        let docs = vec![
            doc! { "volume": 100000 },
            doc! { "volume": 105000 },
            doc! { "volume": Bson::Null },
            doc! {},
            doc! {
                "volume": 120000
            },
        ];
        assert_eq!(
            running(&mut window("$locf", bson!("$volume")), &docs),
            vec![bson!(100000), bson!(105000), bson!(105000), bson!(105000), bson!(120000)]
        );
        let mut leading = window("$locf", bson!("$volume"));
        assert_eq!(running(&mut leading, &[doc! {}, doc! { "volume": Bson::Undefined }]), vec![Bson::Null, Bson::Null]);
    }

    /// Every window state survives serialize/deserialize mid-stream: continuing from the
    /// copy gives what continuing from the original gives.
    #[test]
    fn window_states_round_trip() {
        let cases: Vec<(&str, Bson, Vec<Bson>)> = vec![
            ("$locf", bson!("$v"), vec![bson!(1), Bson::Null, bson!("x")]),
            (
                "$integral",
                bson!({ "input": "$v", "unit": "second", WINDOW_SORT_BY_FIELD: "$t" }),
                vec![
                    bson!([date("2021-01-01T00:00:00Z"), 1]),
                    bson!([date("2021-01-01T00:00:02Z"), 2.5]),
                    bson!([date("2021-01-01T00:00:03Z"), 4]),
                ],
            ),
            (
                "$derivative",
                bson!({ "input": "$v", WINDOW_SORT_BY_FIELD: "$t" }),
                vec![bson!([1, 1]), bson!([2, 5]), bson!([4, 6])],
            ),
            ("$expMovingAvg", bson!({ "input": "$v", "N": 3 }), vec![bson!(1), bson!(2.5), dec("3")]),
            ("$covariancePop", bson!(["$x", "$y"]), vec![bson!([1, 2]), bson!([2, 3]), bson!([4, 9])]),
            ("$covarianceSamp", bson!(["$x", "$y"]), vec![bson!([1, 2]), bson!([2, 3]), bson!([4, 9])]),
            ("$sum", bson!(["$x"]), vec![bson!(1)]),
        ];
        for (op, arg, values) in cases {
            for split in 0..=values.len() {
                let mut straight = window(op, arg.clone());
                let mut part = window(op, arg.clone());
                for v in &values[..split] {
                    straight.accumulate(Some(v.clone())).unwrap();
                    part.accumulate(Some(v.clone())).unwrap();
                }
                let mut copy = Accumulator::deserialize_state(&part.serialize_state()).unwrap();
                assert_eq!(copy.finish(), part.finish(), "{op} at {split}");
                for v in &values[split..] {
                    straight.accumulate(Some(v.clone())).unwrap();
                    copy.accumulate(Some(v.clone())).unwrap();
                }
                assert_eq!(copy.finish(), straight.finish(), "{op} after {split}");
                assert_eq!(copy.op(), straight.op());
            }
        }
    }

    #[test]
    fn window_states_are_not_merged() {
        for (op, arg) in [
            ("$locf", bson!("$v")),
            ("$expMovingAvg", bson!({ "input": "$v", "alpha": 0.5 })),
            ("$covariancePop", bson!(["$x", "$y"])),
            ("$integral", bson!({ "input": "$v", WINDOW_SORT_BY_FIELD: "$t" })),
        ] {
            let mut a = window(op, arg.clone());
            let b = window(op, arg);
            assert_eq!(a.merge(&b).unwrap_err().code, ErrorCode::InternalError, "{op}");
        }
    }
}
