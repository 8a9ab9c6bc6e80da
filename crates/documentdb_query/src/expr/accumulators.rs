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
use std::cmp::Ordering;

use bson::{Bson, Document, RawBsonRef};
use documentdb_errors::{DocDbError, DocDbResult, ErrorCode};

use super::operator_args::{loc, named_values, object_arg};
use super::sort_by::{parse_sort_by, SortBy};
use super::value as v;
use super::{ExprContext, Expression};
use crate::arith::{self, DoubleDouble, Num, NumKind};
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
}

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
        Ok(Accumulator {
            op,
            spec: Bson::Null,
            argument: None,
            n_expr: None,
            n: None,
            sort_by: None,
            percentiles: Vec::new(),
            state: initial_state(op),
            held_bytes: 0,
        })
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

    /// The accumulated result.
    pub fn finish(&self) -> Bson {
        use AccumulatorOp::*;
        match &self.state {
            State::Sum(s) => s.result(),
            State::Avg { sum, decimal } => {
                if sum.count == 0 {
                    return Bson::Null;
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
        }
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
        };
        doc.insert("st", st);
        doc.to_vec().unwrap_or_default()
    }

    /// Rebuilds an accumulator from [`Accumulator::serialize_state`] bytes.
    pub fn deserialize_state(bytes: &[u8]) -> DocDbResult<Accumulator> {
        let bad = |what: &str| DocDbError::new(ErrorCode::InternalError, format!("corrupt accumulator state: {what}"));
        let doc = bson::Document::from_reader(bytes).map_err(|e| bad(&e.to_string()))?;
        let name = doc.get_str("op").map_err(|_| bad("op"))?;
        let op = AccumulatorOp::from_name(name).ok_or_else(|| bad("op"))?;
        let spec = doc.get("spec").cloned().unwrap_or(Bson::Null);
        let mut acc = if spec == Bson::Null && !matches!(op, AccumulatorOp::Count) {
            Accumulator::for_expression(name)?
        } else {
            Accumulator::parse_bson(name, &spec, &ExprContext::default())?
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
