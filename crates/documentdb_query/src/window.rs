//! `$setWindowFields`: the stage's specification parsed and validated as mongod does it at
//! parse time (`document_source_set_window_fields.cpp`, `window_function_expression.{h,cpp}`,
//! `window_bounds.cpp`, `window_function_shift.cpp`, `window_function_count.cpp`), with
//! mongod's error codes, plus the pieces the SQL translation needs around the window
//! functions that are no plain aggregate:
//! * [`accumulator_argument`]: the `(op, arg)` of the aggregate that computes an output
//!   (`$integral` / `$derivative` get the window's sortBy path as their x axis, in the
//!   internal field [`WINDOW_SORT_BY_FIELD`]);
//! * [`fill_pair_expression`] and [`linear_fill`]: `$linearFill` as `$locf` forwards and
//!   backwards over `[sortValue, inputValue]` points, then an interpolation;
//! * [`WindowOutput::frame`]: the window each function runs over (its own `window`, the
//!   implicit one of `$rank`, `$shift`, `$locf`, `$expMovingAvg`, ..., or the default
//!   unbounded one).
//!
//! Errors: the stage's own fields are IDL-parsed in mongod (40413 duplicate, 40414
//! missing `output`, 40415 unknown field, 14 a wrong type); output paths are field paths
//! (40352, 15998, 16410) that may not overlap (6307900); everything about a window
//! function or its window is FailedToParse (9) unless mongod gives it a code of its own
//! (5371601-5371603 rank functions, 605001 `$linearFill`, 5339900-5339902 and
//! 8947401 bounds, 5490710 a unit above a week).
use std::cmp::Ordering;

use bson::{Bson, Document, RawBsonRef, RawDocument};
use documentdb_errors::{DocDbError, DocDbResult, ErrorCode};

pub use crate::expr::accumulators::WINDOW_SORT_BY_FIELD;
use crate::expr::accumulators::{time_unit_millis, Accumulator, EXP_MOVING_AVG_SHAPE};
use crate::expr::value as v;
use crate::expr::{ExprContext, Expression};

use crate::arith::{self, Num};
use crate::spec_error::{failed, loc};

/// A parsed `$setWindowFields` stage.
#[derive(Debug, Clone, PartialEq)]
pub struct SetWindowFields {
    /// The `partitionBy` expression spec as given (`"$state"`, `{$year: "$d"}`, ...).
    pub partition_by: Option<Bson>,
    /// The `sortBy` spec as given (validated like a `$sort` spec). mongod accepts an empty
    /// `sortBy: {}` (it then counts as given, and sorts nothing).
    pub sort_by: Option<Document>,
    /// The outputs in the order given.
    pub outputs: Vec<WindowOutput>,
}

/// One field of `output`.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowOutput {
    /// The output path (may be dotted).
    pub path: String,
    pub function: WindowFunction,
    /// The `window` given by the user (`None` when absent); see [`WindowOutput::frame`].
    pub window: Option<WindowBounds>,
}

/// A window function.
#[derive(Debug, Clone, PartialEq)]
pub enum WindowFunction {
    Rank,
    DenseRank,
    DocumentNumber,
    /// `$shift`: the value of `output` `by` documents away (`default` when there is none).
    Shift {
        output: Bson,
        by: i64,
        /// The constant default (`null` when absent).
        default: Bson,
    },
    /// `$linearFill: <expr>`.
    LinearFill(Bson),
    /// Every `$group` accumulator that is a window function (`$sum $avg $min $max $first
    /// $last $push $addToSet $count $stdDevPop $stdDevSamp $firstN $lastN $maxN $minN $top
    /// $bottom $topN $bottomN $median $percentile`) and the window-only ones (`$locf
    /// $integral $derivative $expMovingAvg $covariancePop $covarianceSamp`): the operator
    /// and its argument as given (see [`accumulator_argument`] for what the aggregate
    /// gets).
    Accumulator {
        op: String,
        arg: Bson,
    },
}

/// One end of a window.
#[derive(Debug, Clone, PartialEq)]
pub enum Bound {
    Unbounded,
    Current,
    /// A number: an `Int64` for documents and for time ranges (a `unit`), any number as
    /// given (constant-folded) for numeric ranges. Negative is before the current
    /// document.
    Offset(Bson),
}

/// A `window`.
#[derive(Debug, Clone, PartialEq)]
pub enum WindowBounds {
    /// `documents: [lower, upper]`, positions relative to the current document.
    Documents(Bound, Bound),
    /// `range: [lower, upper]` over the single (ascending) sortBy field, with a time
    /// `unit` ("year", "quarter", "month", "week", "day", "hour", "minute", "second",
    /// "millisecond") for dates.
    Range { lower: Bound, upper: Bound, unit: Option<String> },
}

impl WindowBounds {
    /// mongod's default window: the whole partition.
    pub fn unbounded() -> WindowBounds {
        WindowBounds::Documents(Bound::Unbounded, Bound::Unbounded)
    }
}

impl WindowOutput {
    /// The window the function computes over: the `window` given, or the function's
    /// implicit one (mongod's): `$rank`, `$denseRank`, `$documentNumber`, `$locf`,
    /// `$expMovingAvg` are `documents: ["unbounded", "current"]`; `$shift` is `documents:
    /// [by, by]`; everything else (`$linearFill` included, which looks at the whole
    /// partition) is unbounded.
    pub fn frame(&self) -> WindowBounds {
        if let Some(w) = &self.window {
            return w.clone();
        }
        let to_current = || WindowBounds::Documents(Bound::Unbounded, Bound::Current);
        match &self.function {
            WindowFunction::Rank | WindowFunction::DenseRank | WindowFunction::DocumentNumber => to_current(),
            WindowFunction::Shift { by, .. } => {
                WindowBounds::Documents(Bound::Offset(Bson::Int64(*by)), Bound::Offset(Bson::Int64(*by)))
            }
            WindowFunction::Accumulator { op, .. } if op == "$locf" || op == "$expMovingAvg" => to_current(),
            _ => WindowBounds::unbounded(),
        }
    }
}

fn invalid_bson(e: impl std::fmt::Display) -> DocDbError {
    DocDbError::new(ErrorCode::InvalidBSON, format!("invalid BSON in $setWindowFields: {e}"))
}

fn type_name(value: &Bson) -> &'static str {
    documentdb_bson::type_name(value.element_type())
}

fn display(value: &Bson) -> String {
    v::display(&Some(value.clone()))
}

fn to_bson(value: RawBsonRef<'_>) -> DocDbResult<Bson> {
    Bson::try_from(value).map_err(invalid_bson)
}

/// The fields of a document in order, duplicates kept (mongod sees them).
fn entries(doc: &RawDocument) -> DocDbResult<Vec<(String, Bson)>> {
    doc.into_iter()
        .map(|el| {
            let (k, val) = el.map_err(invalid_bson)?;
            Ok((k.as_str().to_string(), to_bson(val)?))
        })
        .collect()
}

/// The `sortBy` fields: (path, ascending).
struct SortInfo(Option<Vec<(String, bool)>>);

impl SortInfo {
    fn given(&self) -> bool {
        self.0.is_some()
    }

    fn single(&self) -> Option<&(String, bool)> {
        match &self.0 {
            Some(fields) if fields.len() == 1 => fields.first(),
            _ => None,
        }
    }
}

/// Parses and validates a `$setWindowFields` stage specification (the value of the
/// `$setWindowFields` key); `ctx` carries the `let` variables of the aggregate. Every
/// accumulator argument is parsed with [`Accumulator::parse_window`], so its errors
/// surface here.
pub fn parse(spec: RawBsonRef<'_>, ctx: &ExprContext) -> DocDbResult<SetWindowFields> {
    let RawBsonRef::Document(stage) = spec else {
        return Err(failed(format!(
            "the $setWindowFields stage specification must be an object, found {}",
            documentdb_bson::type_name(spec.element_type())
        )));
    };
    // The stage's own fields (mongod parses them with IDL).
    let (mut partition_by, mut sort_by, mut output) = (None, None, None);
    for el in stage {
        let (key, value) = el.map_err(invalid_bson)?;
        let key = key.as_str();
        let slot_taken = match key {
            "partitionBy" => partition_by.is_some(),
            "sortBy" => sort_by.is_some(),
            "output" => output.is_some(),
            other => {
                return Err(loc(40415, format!("BSON field '$setWindowFields.{other}' is an unknown field.")));
            }
        };
        if slot_taken {
            return Err(loc(40413, format!("BSON field '$setWindowFields.{key}' is a duplicate field")));
        }
        match key {
            "partitionBy" => partition_by = Some(to_bson(value)?),
            "sortBy" => sort_by = Some(object_field(key, value)?),
            _ => output = Some(object_field(key, value)?),
        }
    }
    let output =
        output.ok_or_else(|| loc(40414, "BSON field '$setWindowFields.output' is missing but a required field"))?;

    if let Some(p) = &partition_by {
        let e = Expression::parse_bson(p, ctx)?;
        if e.is_constant() && matches!(e.evaluate_document(&Document::new())?, Some(Bson::Array(_))) {
            return Err(DocDbError::new(
                ErrorCode::TypeMismatch,
                "An expression used to partition cannot evaluate to value of type array",
            ));
        }
    }

    let sort = match sort_by {
        Some(raw) => {
            let spec = crate::sort::SortSpec::parse(raw)?;
            let fields = (0..spec.len()).map(|i| spec.key(i)).map(|(p, asc)| (p.to_string(), asc)).collect();
            SortInfo(Some(fields))
        }
        None => SortInfo(None),
    };
    let sort_doc = match sort_by {
        Some(raw) => Some(Document::try_from(raw).map_err(invalid_bson)?),
        None => None,
    };

    let mut outputs: Vec<WindowOutput> = Vec::new();
    for el in output {
        let (name, value) = el.map_err(invalid_bson)?;
        let name = name.as_str();
        check_output_path(name)?;
        if outputs.iter().any(|o| paths_conflict(&o.path, name)) {
            return Err(loc(6307900, "$setWindowFields 'output' specification contains two conflicting paths"));
        }
        let RawBsonRef::Document(function_spec) = value else {
            return Err(failed(format!("The field '{name}' must be an object")));
        };
        let (function, window) = parse_function(&entries(function_spec)?, &sort, ctx)?;
        outputs.push(WindowOutput { path: name.to_string(), function, window });
    }
    Ok(SetWindowFields { partition_by, sort_by: sort_doc, outputs })
}

/// A stage field that must be an object (IDL: TypeMismatch otherwise).
fn object_field<'a>(key: &str, value: RawBsonRef<'a>) -> DocDbResult<&'a RawDocument> {
    match value {
        RawBsonRef::Document(d) => Ok(d),
        other => Err(DocDbError::new(
            ErrorCode::TypeMismatch,
            format!(
                "BSON field '$setWindowFields.{key}' is the wrong type '{}', expected type 'object'",
                documentdb_bson::type_name(other.element_type())
            ),
        )),
    }
}

/// An output path is a field path: not empty (40352), no empty component (15998), no
/// component starting with `$` (16410).
fn check_output_path(path: &str) -> DocDbResult<()> {
    if path.is_empty() {
        return Err(loc(40352, "FieldPath cannot be constructed with empty string"));
    }
    if path.split('.').any(str::is_empty) {
        return Err(loc(15998, "FieldPath field names may not be empty strings."));
    }
    if path.split('.').any(documentdb_bson::path::is_dollar_component) {
        return Err(loc(16410, "FieldPath field names may not start with '$'. Consider using $getField or $setField."));
    }
    Ok(())
}

/// Two output paths conflict when equal or one is a prefix of the other (mongod's
/// `FieldRefSet::insert`).
fn paths_conflict(a: &str, b: &str) -> bool {
    let prefix = |short: &str, long: &str| long.strip_prefix(short).is_some_and(|rest| rest.starts_with('.'));
    a == b || prefix(a, b) || prefix(b, a)
}

/// Every name mongod registers as a window function (its `isFunction`). `$mergeObjects`
/// is a `$group` accumulator but no window function.
const FUNCTIONS: &[&str] = &[
    "$addToSet",
    "$avg",
    "$bottom",
    "$bottomN",
    "$count",
    "$covariancePop",
    "$covarianceSamp",
    "$denseRank",
    "$derivative",
    "$documentNumber",
    "$expMovingAvg",
    "$first",
    "$firstN",
    "$integral",
    "$last",
    "$lastN",
    "$linearFill",
    "$locf",
    "$max",
    "$maxN",
    "$median",
    "$min",
    "$minN",
    "$percentile",
    "$push",
    "$rank",
    "$shift",
    "$stdDevPop",
    "$stdDevSamp",
    "$sum",
    "$top",
    "$topN",
];

fn is_function(name: &str) -> bool {
    FUNCTIONS.contains(&name)
}

type Parsed = (WindowFunction, Option<WindowBounds>);

fn accumulator(op: &str, arg: &Bson) -> WindowFunction {
    WindowFunction::Accumulator { op: op.to_string(), arg: arg.clone() }
}

/// One output's `{<function>: <args>, window: {...}}` (mongod's
/// `window_function::Expression::parse`: the first `$`-prefixed field names the function,
/// whose parser then sees the whole object).
fn parse_function(spec: &[(String, Bson)], sort: &SortInfo, ctx: &ExprContext) -> DocDbResult<Parsed> {
    let Some((name, _)) = spec.iter().find(|(k, _)| k.starts_with('$')) else {
        return Err(failed(match spec.first() {
            Some((first, _)) if !first.is_empty() => format!("Expected a $-prefixed window function, {first}"),
            _ => "Expected a $-prefixed window function".to_string(),
        }));
    };
    match name.as_str() {
        "$rank" | "$denseRank" | "$documentNumber" => parse_rank(name, spec, sort),
        "$shift" => parse_shift(spec, sort, ctx),
        "$linearFill" | "$locf" => parse_left_unbounded(name, spec, sort, ctx),
        "$expMovingAvg" => parse_exp_moving_avg(spec, sort, ctx),
        "$integral" | "$derivative" => parse_with_unit(name, spec, sort, ctx),
        "$count" => parse_count(spec, sort, ctx),
        "$first" | "$last" => parse_first_last(name, spec, sort, ctx),
        "$firstN" | "$lastN" | "$maxN" | "$minN" | "$top" | "$bottom" | "$topN" | "$bottomN" => {
            parse_n(name, spec, sort, ctx)
        }
        "$median" | "$percentile" => parse_quantile(name, spec, sort, ctx),
        other if is_function(other) => parse_removable(spec, sort, ctx),
        other => Err(failed(format!("Unrecognized window function, {other}"))),
    }
}

/// `$rank`, `$denseRank`, `$documentNumber` (`ExpressionFromRankAccumulator::parse`): only
/// `{<name>: {}}`, over a one-field sortBy.
fn parse_rank(name: &str, spec: &[(String, Bson)], sort: &SortInfo) -> DocDbResult<Parsed> {
    if spec.len() != 1 {
        return Err(loc(5371601, "Rank style window functions take no other arguments"));
    }
    if !matches!(&spec[0].1, Bson::Document(d) if d.is_empty()) {
        return Err(loc(5371603, format!("{name} must be specified with '{{}}' as the value")));
    }
    if sort.single().is_none() {
        return Err(loc(
            5371602,
            format!("{name} must be specified with a top level sortBy expression with exactly one element"),
        ));
    }
    let function = match name {
        "$rank" => WindowFunction::Rank,
        "$denseRank" => WindowFunction::DenseRank,
        _ => WindowFunction::DocumentNumber,
    };
    Ok((function, None))
}

/// `$shift: {output, by, default?}` (`ExpressionShift::parse`): no window, a sortBy.
fn parse_shift(spec: &[(String, Bson)], sort: &SortInfo, ctx: &ExprContext) -> DocDbResult<Parsed> {
    let mut function = None;
    for (k, val) in spec {
        if k == "window" {
            return Err(failed("$shift does not accept a 'window' field"));
        } else if is_function(k) {
            if function.is_some() {
                return Err(failed("Cannot specify multiple functions in window function spec"));
            }
            let Bson::Document(args) = val else {
                return Err(failed("Argument to $shift must be an object"));
            };
            function = Some(parse_shift_args(args, ctx)?);
        } else {
            return Err(failed(format!("Window function found an unknown argument: {k}")));
        }
    }
    if !sort.given() {
        return Err(failed("'$shift' requires a sortBy"));
    }
    let function = function.ok_or_else(|| failed("Must specify a window function in output field"))?;
    Ok((function, None))
}

fn parse_shift_args(args: &Document, ctx: &ExprContext) -> DocDbResult<WindowFunction> {
    let (mut output, mut by, mut default) = (None, None, Bson::Null);
    for (k, val) in args {
        match k.as_str() {
            "output" => {
                Expression::parse_bson(val, ctx)?;
                output = Some(val.clone());
            }
            "default" => {
                let e = Expression::parse_bson(val, ctx)?;
                if !e.is_constant() {
                    return Err(failed("'$shift:default' expression must yield a constant value."));
                }
                default = e.evaluate_document(&Document::new())?.unwrap_or(Bson::Null);
            }
            "by" => {
                // BSONElement::parseIntegerElementToInt: an integral number within int32.
                let n = Num::from_bson(val).and_then(arith::as_i32_exact).ok_or_else(|| {
                    failed(format!("'$shift:by' field must be an integer, but found  by: {}", display(val)))
                })?;
                by = Some(i64::from(n));
            }
            _ => return Err(failed("Unknown argument in $shift")),
        }
    }
    let output = output.ok_or_else(|| failed("$shift requires an 'output' expression."))?;
    let by = by.ok_or_else(|| failed("$shift requires 'by' as an integer value."))?;
    Ok(WindowFunction::Shift { output, by, default })
}

/// `$linearFill` / `$locf` (`ExpressionLinearFill::parse`,
/// `ExpressionFromLeftUnboundedWindowFunction::parse`): an expression, no window;
/// `$linearFill` over a one-field sortBy (605001).
fn parse_left_unbounded(
    name: &str,
    spec: &[(String, Bson)],
    sort: &SortInfo,
    ctx: &ExprContext,
) -> DocDbResult<Parsed> {
    let mut window = false;
    let mut input = None;
    for (k, val) in spec {
        if k == "window" {
            window = true;
        } else if is_function(k) {
            if input.is_some() {
                return Err(failed("Cannot specify two functions in window function spec"));
            }
            Expression::parse_bson(val, ctx)?;
            input = Some(val.clone());
        } else {
            return Err(failed(format!("Window function found an unknown argument: {k}")));
        }
    }
    let input = input.ok_or_else(|| failed("Must specify a window function in output field"))?;
    if window {
        return Err(failed(format!("'window' field is not allowed in {name}")));
    }
    if name == "$locf" {
        Accumulator::parse_window(name, &input, ctx)?;
        return Ok((accumulator(name, &input), None));
    }
    if sort.single().is_none() {
        return Err(loc(
            605001,
            format!("{name} must be specified with a top level sortBy expression with exactly one element"),
        ));
    }
    Ok((WindowFunction::LinearFill(input), None))
}

/// `$expMovingAvg: {input, N | alpha}` (`ExpressionExpMovingAvg::parse`): nothing else
/// in the output's object (no window), a sortBy.
fn parse_exp_moving_avg(spec: &[(String, Bson)], sort: &SortInfo, ctx: &ExprContext) -> DocDbResult<Parsed> {
    let arg = match spec {
        [(k, arg @ Bson::Document(_))] if k == "$expMovingAvg" => arg,
        _ => return Err(failed("$expMovingAvg must have exactly one argument that is an object")),
    };
    if !matches!(arg, Bson::Document(d) if d.len() == 2 && d.contains_key("input")) {
        return Err(failed(EXP_MOVING_AVG_SHAPE));
    }
    if !sort.given() {
        return Err(failed("$expMovingAvg requires an explicit 'sortBy'"));
    }
    Accumulator::parse_window("$expMovingAvg", arg, ctx)?;
    Ok((accumulator("$expMovingAvg", arg), None))
}

/// `$integral` / `$derivative: {input, unit?}` (`ExpressionWithUnit`): a one-field sortBy;
/// `$derivative` needs a window.
fn parse_with_unit(name: &str, spec: &[(String, Bson)], sort: &SortInfo, ctx: &ExprContext) -> DocDbResult<Parsed> {
    if !sort.given() {
        return Err(failed(format!("{name} requires a sortBy")));
    }
    let Some((sort_path, _)) = sort.single() else {
        return Err(failed(format!("{name} requires a non-compound sortBy")));
    };
    let mut window = None;
    let mut arg = None;
    for (k, val) in spec {
        if k == "window" {
            if name == "$integral" && window.is_some() {
                return Err(failed("There can be only one 'window' field for $integral"));
            }
            window = Some(parse_bounds(val, sort, ctx)?);
        } else if k == name {
            arg = Some(val);
        } else {
            return Err(failed(format!("{name} got unexpected argument: {k}")));
        }
    }
    let arg = arg.ok_or_else(|| failed(format!("{name} parser called on object with no {name} key")))?;
    // The user's argument is validated before the internal sortBy field is added.
    if crate::expr::accumulators::parse_with_unit(name, arg)?.2.is_some() {
        return Err(failed(format!("{name} got unexpected argument: {WINDOW_SORT_BY_FIELD}")));
    }
    let (op, with_sort) = with_sort_by(name, arg, sort_path);
    Accumulator::parse_window(&op, &with_sort, ctx)?;
    if name == "$derivative" && window.is_none() {
        return Err(failed("$derivative requires explicit window bounds"));
    }
    Ok((accumulator(name, arg), window))
}

/// `$count: {}` (`parseCountWindowFunction`).
fn parse_count(spec: &[(String, Bson)], sort: &SortInfo, ctx: &ExprContext) -> DocDbResult<Parsed> {
    let mut window = None;
    let mut seen = false;
    for (k, val) in spec {
        if k == "window" {
            window = Some(parse_bounds(val, sort, ctx)?);
        } else if is_function(k) {
            if seen {
                return Err(failed("Cannot specify multiple functions in window function spec"));
            }
            if !matches!(val, Bson::Document(d) if d.is_empty()) {
                return Err(failed("$count only accepts an empty object as input"));
            }
            seen = true;
        } else {
            return Err(failed(format!("Window function found an unknown argument: {k}")));
        }
    }
    Ok((accumulator("$count", &Bson::Document(Document::new())), window))
}

/// `$first` / `$last` (`ExpressionFirstLast::parse`).
fn parse_first_last(name: &str, spec: &[(String, Bson)], sort: &SortInfo, ctx: &ExprContext) -> DocDbResult<Parsed> {
    let mut window = None;
    let mut arg = None;
    for (k, val) in spec {
        if k == "window" {
            if window.is_some() {
                return Err(failed(format!("saw multiple 'window' fields in '{name}' expression")));
            }
            window = Some(parse_bounds(val, sort, ctx)?);
        } else if k == name {
            Accumulator::parse_window(name, val, ctx)?;
            arg = Some(val);
        } else {
            return Err(failed(format!("{name} got unexpected argument: {k}")));
        }
    }
    let arg = arg.ok_or_else(|| failed(format!("{name} parser called with no {name} key")))?;
    Ok((accumulator(name, arg), window))
}

/// `$firstN`, `$lastN`, `$maxN`, `$minN`, `$top`, `$bottom`, `$topN`, `$bottomN`
/// (`ExpressionN::parse`).
fn parse_n(name: &str, spec: &[(String, Bson)], sort: &SortInfo, ctx: &ExprContext) -> DocDbResult<Parsed> {
    let mut window = None;
    let mut arg = None;
    for (k, val) in spec {
        if k == name {
            if arg.is_some() {
                return Err(failed(format!("saw multiple specifications for '{name}' expression")));
            }
            Accumulator::parse_window(name, val, ctx)?;
            arg = Some(val);
        } else if k == "window" {
            if window.is_some() {
                return Err(failed(format!("saw multiple 'window' fields in '{name}' expression")));
            }
            window = Some(parse_bounds(val, sort, ctx)?);
        } else {
            return Err(failed(format!("{name} got unexpected argument: {k}")));
        }
    }
    let arg = arg.ok_or_else(|| loc(5788403, format!("missing accumulator specification for {name}")))?;
    Ok((accumulator(name, arg), window))
}

/// `$median` / `$percentile` (`ExpressionQuantile::parse`).
fn parse_quantile(name: &str, spec: &[(String, Bson)], sort: &SortInfo, ctx: &ExprContext) -> DocDbResult<Parsed> {
    let mut window = None;
    let mut arg = None;
    for (k, val) in spec {
        if k == name {
            if arg.is_some() {
                return Err(failed(format!("saw multiple specifications for '{name}expression ")));
            }
            Accumulator::parse_window(name, val, ctx)?;
            arg = Some(val);
        } else if k == "window" {
            window = Some(parse_bounds(val, sort, ctx)?);
        } else {
            return Err(failed(format!("{name} got unexpected argument: {k}")));
        }
    }
    let arg = arg.ok_or_else(|| loc(7455900, format!("Missing or incomplete accumulator specification for {name}")))?;
    Ok((accumulator(name, arg), window))
}

/// `$sum`, `$avg`, `$min`, `$max`, `$push`, `$addToSet`, `$stdDevPop`, `$stdDevSamp`,
/// `$covariancePop`, `$covarianceSamp` (`ExpressionRemovable::parse`): an expression and
/// an optional window.
fn parse_removable(spec: &[(String, Bson)], sort: &SortInfo, ctx: &ExprContext) -> DocDbResult<Parsed> {
    let mut window = None;
    let mut function: Option<(&String, &Bson)> = None;
    for (k, val) in spec {
        if k == "window" {
            window = Some(parse_bounds(val, sort, ctx)?);
        } else if is_function(k) {
            if function.is_some() {
                return Err(failed("Cannot specify two functions in window function spec"));
            }
            Accumulator::parse_window(k, val, ctx)?;
            function = Some((k, val));
        } else {
            return Err(failed(format!("Window function found an unknown argument: {k}")));
        }
    }
    let (op, arg) = function.ok_or_else(|| failed("Must specify a window function in output field"))?;
    Ok((accumulator(op, arg), window))
}

/// A `window` (mongod's `WindowBounds::parse`).
fn parse_bounds(spec: &Bson, sort: &SortInfo, ctx: &ExprContext) -> DocDbResult<WindowBounds> {
    let Bson::Document(w) = spec else {
        return Err(failed("'window' field must be an object"));
    };
    let (documents, range, unit) = (w.get("documents"), w.get("range"), w.get("unit"));
    if documents.is_some() && range.is_some() {
        // (sic: mongod says 'unit' here.)
        return Err(failed("Window bounds can specify either 'documents' or 'unit', not both."));
    }
    if range.is_none() && unit.is_some() {
        return Err(failed("Window bounds can only specify 'unit' with range-based bounds."));
    }
    let unpack = |field: &str, value: &Bson| match value {
        Bson::Array(items) if items.len() == 2 => Ok((items[0].clone(), items[1].clone())),
        other => Err(failed(format!("Window bounds must be a 2-element array: {field}: {}", display(other)))),
    };
    if let Some(documents) = documents {
        if w.len() != 1 {
            return Err(failed("'window' field that specifies documents cannot have other fields"));
        }
        let (lower, upper) = unpack("documents", documents)?;
        let int = |val: &Bson| {
            Num::from_bson(val)
                .and_then(arith::as_i32_exact)
                .map(|n| Bson::Int64(i64::from(n)))
                .ok_or_else(|| failed("Numeric document-based bounds must be an integer"))
        };
        let lower = parse_bound(&lower, ctx, int)?;
        let upper = parse_bound(&upper, ctx, int)?;
        check_forward(&lower, &upper)?;
        let unbounded = lower == Bound::Unbounded && upper == Bound::Unbounded;
        if !unbounded && !sort.given() {
            return Err(loc(5339901, "Document-based bounds require a sortBy"));
        }
        return Ok(WindowBounds::Documents(lower, upper));
    }
    let Some(range) = range else {
        if !w.is_empty() {
            return Err(failed(
                "'window' field can only contain 'documents' as the only argument or 'range' with an optional \
                 'unit' field",
            ));
        }
        return Ok(WindowBounds::unbounded());
    };
    let (lower, upper) = unpack("range", range)?;
    let bounds = match unit {
        Some(unit) => {
            if w.len() != 2 {
                return Err(failed("'window' field that specifies unit cannot have other fields besides 'range'"));
            }
            let Bson::String(unit) = unit else {
                return Err(failed("'unit' must be a string"));
            };
            // Time-based bounds can't be fractional.
            let int = |val: &Bson| {
                Num::from_bson(val)
                    .and_then(arith::as_i32_exact)
                    .map(|n| Bson::Int64(i64::from(n)))
                    .ok_or_else(|| failed("With 'unit', range-based bounds must be an integer"))
            };
            let lower = parse_bound(&lower, ctx, int)?;
            let upper = parse_bound(&upper, ctx, int)?;
            check_forward(&lower, &upper)?;
            time_unit_millis(unit)?;
            WindowBounds::Range { lower, upper, unit: Some(unit.clone()) }
        }
        None => {
            if w.len() != 1 {
                return Err(failed("'window' field that specifies range cannot have other fields besides 'unit'"));
            }
            let number = |val: &Bson| match Num::from_bson(val) {
                Some(_) => Ok(val.clone()),
                None => Err(failed("Range-based bounds expression must be a number")),
            };
            let lower = parse_bound(&lower, ctx, number)?;
            let upper = parse_bound(&upper, ctx, number)?;
            check_forward(&lower, &upper)?;
            WindowBounds::Range { lower, upper, unit: None }
        }
    };
    let Some((_, ascending)) = sort.single() else {
        return Err(loc(5339902, "Range-based bounds require sortBy a single field"));
    };
    if !ascending {
        return Err(loc(8947401, "Range-based bounds require an ascending sortBy"));
    }
    Ok(bounds)
}

/// One bound: `"unbounded"`, `"current"`, or a constant expression that `number` accepts.
fn parse_bound(value: &Bson, ctx: &ExprContext, number: impl Fn(&Bson) -> DocDbResult<Bson>) -> DocDbResult<Bound> {
    match value {
        Bson::String(s) if s == "unbounded" => Ok(Bound::Unbounded),
        Bson::String(s) if s == "current" => Ok(Bound::Current),
        Bson::String(_) => Err(failed("Window bounds must be 'unbounded', 'current', or a number.")),
        other => {
            let e = Expression::parse_bson(other, ctx)?;
            if !e.is_constant() {
                return Err(failed("Window bounds expression must be a constant."));
            }
            let constant = e.evaluate_document(&Document::new())?.unwrap_or(Bson::Undefined);
            Ok(Bound::Offset(number(&constant)?))
        }
    }
}

/// Lower must not exceed upper, `"current"` counting as 0 (5339900).
fn check_forward(lower: &Bound, upper: &Bound) -> DocDbResult<()> {
    let as_value = |b: &Bound| match b {
        Bound::Current => Some(Bson::Int32(0)),
        Bound::Offset(n) => Some(n.clone()),
        Bound::Unbounded => None,
    };
    if let (Some(l), Some(u)) = (as_value(lower), as_value(upper)) {
        if v::compare(&l, &u) == Ordering::Greater {
            return Err(loc(
                5339900,
                format!("Lower bound must not exceed upper bound: [{}, {}]", display(&l), display(&u)),
            ));
        }
    }
    Ok(())
}

/// The argument with the window's sortBy path added for the x axis.
fn with_sort_by(op: &str, arg: &Bson, sort_path: &str) -> (String, Bson) {
    let mut with = match arg {
        Bson::Document(d) => d.clone(),
        _ => Document::new(),
    };
    with.insert(WINDOW_SORT_BY_FIELD, Bson::String(format!("${sort_path}")));
    (op.to_string(), Bson::Document(with))
}

/// The `(op, arg)` to hand to [`Accumulator::parse_window`] for the aggregate computing
/// `output`: for `$integral` / `$derivative` the argument with the sortBy path as an
/// expression in [`WINDOW_SORT_BY_FIELD`] (`{input: "$kw", unit: "hour", "$__sortBy":
/// "$t"}`); other accumulators unchanged. `None` for the functions that are no aggregate
/// (`$rank`, `$denseRank`, `$documentNumber`, `$shift`, `$linearFill`).
pub fn accumulator_argument(output: &WindowOutput, sort_by: Option<&Document>) -> Option<(String, Bson)> {
    let WindowFunction::Accumulator { op, arg } = &output.function else {
        return None;
    };
    if op == "$integral" || op == "$derivative" {
        if let Some((path, _)) = sort_by.and_then(|s| s.iter().next()) {
            return Some(with_sort_by(op, arg, path));
        }
    }
    Some((op.clone(), arg.clone()))
}

/// For `$linearFill`: an expression evaluating to `null` when the input (or the sortBy
/// value) is null, undefined or missing, and to `[sortValue, inputValue]` otherwise. `$locf`
/// over it forwards (`["unbounded", "current"]`) and backwards gives the previous and
/// next known points of a document for [`linear_fill`].
pub fn fill_pair_expression(sort_path: &str, input: &Bson) -> Bson {
    let nullish = |var: &str| bson::bson!({ "$eq": [{ "$ifNull": [var, Bson::Null] }, Bson::Null] });
    bson::bson!({
        "$let": {
            "vars": { "linearFillY": input.clone(), "linearFillX": format!("${sort_path}") },
            "in": {
                "$cond": [
                    { "$or": [nullish("$$linearFillY"), nullish("$$linearFillX")] },
                    Bson::Null,
                    ["$$linearFillX", "$$linearFillY"]
                ]
            }
        }
    })
}

/// The sortBy value as a number (dates and the other types mongod coerces to dates as
/// milliseconds).
fn x_number(x: &Bson) -> Option<Num> {
    Num::from_bson(x).or_else(|| v::coerce_to_date_millis(x).map(Num::Int64))
}

fn point(p: Option<&Bson>) -> Option<(&Bson, &Bson)> {
    match p {
        Some(Bson::Array(items)) if items.len() == 2 => Some((&items[0], &items[1])),
        _ => None,
    }
}

/// `$linearFill` for one document (mongod's `WindowFunctionExecLinearFill::getNext`): `x`
/// is its sortBy value, `own` its input value (`None` = missing), `prev` / `next` the
/// nearest known `[x, y]` points before and after it (from [`fill_pair_expression`];
/// `None` when there is none). Returns its own value when not nullish, the linear
/// interpolation `y1 + (x - x1) * ((y2 - y1) / (x2 - x1))` between `prev` and `next` when
/// both exist, `null` otherwise. Errors: a non-numeric input or a sortBy value neither a
/// number nor a date (TypeMismatch), a sortBy value of another kind than a neighbour's
/// (TypeMismatch), a neighbour with the same sortBy value (6050106).
pub fn linear_fill(x: &Bson, own: Option<&Bson>, prev: Option<&Bson>, next: Option<&Bson>) -> DocDbResult<Bson> {
    let own_value = own.cloned();
    if !v::is_nullish(&own_value) && Num::from_bson(own.unwrap_or(&Bson::Null)).is_none() {
        return Err(DocDbError::new(
            ErrorCode::TypeMismatch,
            format!("Value to be filled must be numeric or nullish, but found {}", v::type_name(&own_value)),
        ));
    }
    let is_number = Num::from_bson(x).is_some();
    if !is_number && v::coerce_to_date_millis(x).is_none() {
        return Err(DocDbError::new(
            ErrorCode::TypeMismatch,
            format!("Value of the sortBy field must be numeric or a date, but found {}", type_name(x)),
        ));
    }
    let (prev, next) = (point(prev), point(next));
    for (nx, _) in prev.iter().chain(next.iter()) {
        if Num::from_bson(nx).is_some() != is_number {
            return Err(DocDbError::new(
                ErrorCode::TypeMismatch,
                format!(
                    "Conflicting sort value types, previously received type {}, but found {}",
                    type_name(nx),
                    type_name(x)
                ),
            ));
        }
    }
    if let Some(own) = own.filter(|_| !v::is_nullish(&own_value)) {
        return Ok(own.clone());
    }
    for (nx, _) in prev.iter().chain(next.iter()) {
        if v::compare(nx, x) == Ordering::Equal {
            return Err(loc(6050106, "There can be no repeated values in the sort field"));
        }
    }
    let (Some((x1, y1)), Some((x2, y2))) = (prev, next) else {
        return Ok(Bson::Null);
    };
    let (Some(x), Some(x1), Some(x2)) = (x_number(x), x_number(x1), x_number(x2)) else {
        return Ok(Bson::Null);
    };
    let (Some(y1), Some(y2)) = (Num::from_bson(y1), Num::from_bson(y2)) else {
        return Err(DocDbError::new(ErrorCode::TypeMismatch, "Value to be filled must be numeric or nullish"));
    };
    let Some(slope) = arith::divide(arith::subtract(y2, y1), arith::subtract(x2, x1)) else {
        return Ok(Bson::Null);
    };
    Ok(arith::add(y1, arith::multiply(arith::subtract(x, x1), slope)).to_bson())
}

#[cfg(test)]
mod tests {
    //! One test per rule of mongod's `$setWindowFields` parsing (named after it), and the
    //! manual's examples for what the SQL translation computes here.
    use super::*;
    use bson::{bson, doc, DateTime};

    fn parse_doc(stage: Document) -> DocDbResult<SetWindowFields> {
        let raw = bson::RawDocumentBuf::try_from(&doc! { "s": stage }).unwrap();
        parse(raw.get("s").unwrap().unwrap(), &ExprContext::default())
    }

    fn ok(stage: Document) -> SetWindowFields {
        parse_doc(stage.clone()).unwrap_or_else(|e| panic!("{stage}: {e:?}"))
    }

    fn code(stage: Document) -> i32 {
        parse_doc(stage.clone()).map(|p| panic!("{stage} parsed: {p:?}")).unwrap_err().code.code()
    }

    fn msg(stage: Document) -> String {
        parse_doc(stage).unwrap_err().message
    }

    /// A stage with `sortBy: {t: 1}` and one output `f`.
    fn sorted(function: Document) -> Document {
        doc! { "sortBy": { "t": 1 }, "output": { "f": function } }
    }

    fn unsorted(function: Document) -> Document {
        doc! { "output": { "f": function } }
    }

    fn only(stage: Document) -> WindowOutput {
        ok(stage).outputs.into_iter().next().unwrap()
    }

    #[test]
    fn manual_cumulative_quantity_example_parses() {
        let p = ok(doc! {
            "partitionBy": "$state",
            "sortBy": { "orderDate": 1 },
            "output": {
                "cumulativeQuantityForState": { "$sum": "$quantity", "window": { "documents": ["unbounded", "current"] } },
                "averageQuantity": { "$avg": "$quantity", "window": { "documents": [-1, 0] } },
                "rank": { "$rank": {} },
                "a.b": { "$push": "$x" },
            }
        });
        assert_eq!(p.partition_by, Some(bson!("$state")));
        assert_eq!(p.sort_by, Some(doc! { "orderDate": 1 }));
        let paths: Vec<&str> = p.outputs.iter().map(|o| o.path.as_str()).collect();
        assert_eq!(paths, ["cumulativeQuantityForState", "averageQuantity", "rank", "a.b"]);
        assert_eq!(p.outputs[0].function, WindowFunction::Accumulator { op: "$sum".into(), arg: bson!("$quantity") });
        assert_eq!(p.outputs[0].window, Some(WindowBounds::Documents(Bound::Unbounded, Bound::Current)));
        assert_eq!(
            p.outputs[1].window,
            Some(WindowBounds::Documents(Bound::Offset(Bson::Int64(-1)), Bound::Offset(Bson::Int64(0))))
        );
        assert_eq!(p.outputs[2].function, WindowFunction::Rank);
        assert_eq!(p.outputs[3].window, None);
        assert_eq!(p.outputs[3].frame(), WindowBounds::unbounded());
    }

    #[test]
    fn stage_must_be_an_object_failed_to_parse() {
        let raw = bson::rawdoc! { "s": 1 };
        let err = parse(raw.get("s").unwrap().unwrap(), &ExprContext::default()).unwrap_err();
        assert_eq!(err.code, ErrorCode::FailedToParse);
        assert_eq!(err.message, "the $setWindowFields stage specification must be an object, found int");
    }

    #[test]
    fn idl_unknown_field_40415_missing_output_40414_duplicate_40413_wrong_type_14() {
        assert_eq!(code(doc! { "output": {}, "foo": 1 }), 40415);
        assert_eq!(msg(doc! { "output": {}, "foo": 1 }), "BSON field '$setWindowFields.foo' is an unknown field.");
        assert_eq!(code(doc! { "sortBy": { "a": 1 } }), 40414);
        assert_eq!(code(doc! { "output": 1 }), 14);
        assert_eq!(
            msg(doc! { "sortBy": [], "output": {} }),
            "BSON field '$setWindowFields.sortBy' is the wrong type 'array', expected type 'object'"
        );
        let raw = bson::rawdoc! { "s": { "output": {}, "output": {} } };
        let err = parse(raw.get("s").unwrap().unwrap(), &ExprContext::default()).unwrap_err();
        assert_eq!(err.code.code(), 40413);
        // An empty output is fine.
        assert!(ok(doc! { "output": {} }).outputs.is_empty());
    }

    #[test]
    fn partition_by_is_an_expression_not_an_array() {
        assert_eq!(
            ok(doc! { "partitionBy": { "$year": "$d" }, "output": {} }).partition_by,
            Some(bson!({ "$year": "$d" }))
        );
        assert_eq!(code(doc! { "partitionBy": [1, 2], "output": {} }), 14);
        assert_eq!(code(doc! { "partitionBy": { "$concatArrays": [[1], [2]] }, "output": {} }), 14);
        assert_eq!(code(doc! { "partitionBy": { "$nope": 1 }, "output": {} }), 168);
        // A constant non-array partitions nothing.
        ok(doc! { "partitionBy": 5, "output": {} });
    }

    #[test]
    fn sort_by_is_a_sort_spec() {
        assert_eq!(code(doc! { "sortBy": { "a": 2 }, "output": {} }), 15975);
        assert_eq!(code(doc! { "sortBy": { "a": "x" }, "output": {} }), 15974);
        assert_eq!(code(doc! { "sortBy": { "$a": 1 }, "output": {} }), 16410);
        // mongod's SortPattern takes an empty sortBy (it then counts as given).
        assert_eq!(ok(doc! { "sortBy": {}, "output": {} }).sort_by, Some(doc! {}));
        ok(doc! { "sortBy": {}, "output": { "f": { "$shift": { "output": "$x", "by": 1 } } } });
    }

    #[test]
    fn output_paths_are_field_paths_40352_15998_16410() {
        assert_eq!(code(doc! { "output": { "": { "$sum": 1 } } }), 40352);
        assert_eq!(code(doc! { "output": { "a..b": { "$sum": 1 } } }), 15998);
        assert_eq!(code(doc! { "output": { "$a": { "$sum": 1 } } }), 16410);
        assert_eq!(code(doc! { "output": { "a.$b": { "$sum": 1 } } }), 16410);
    }

    #[test]
    fn conflicting_output_paths_6307900() {
        assert_eq!(code(doc! { "output": { "a": { "$sum": 1 }, "a.b": { "$sum": 1 } } }), 6307900);
        assert_eq!(code(doc! { "output": { "a.b": { "$sum": 1 }, "a": { "$sum": 1 } } }), 6307900);
        let raw = bson::rawdoc! { "s": { "output": { "a": { "$sum": 1 }, "a": { "$sum": 2 } } } };
        assert_eq!(parse(raw.get("s").unwrap().unwrap(), &ExprContext::default()).unwrap_err().code.code(), 6307900);
        ok(doc! { "output": { "a": { "$sum": 1 }, "ab": { "$sum": 1 }, "b.a": { "$sum": 1 } } });
    }

    #[test]
    fn output_field_must_be_an_object_failed_to_parse() {
        assert_eq!(code(doc! { "output": { "a": 1 } }), 9);
        assert_eq!(msg(doc! { "output": { "a": 1 } }), "The field 'a' must be an object");
    }

    #[test]
    fn expected_a_dollar_prefixed_window_function() {
        assert_eq!(msg(unsorted(doc! {})), "Expected a $-prefixed window function");
        assert_eq!(
            msg(unsorted(doc! { "window": { "documents": [0, 1] } })),
            "Expected a $-prefixed window function, window"
        );
        assert_eq!(code(unsorted(doc! { "window": {} })), 9);
    }

    #[test]
    fn unrecognized_window_function() {
        assert_eq!(msg(unsorted(doc! { "$summ": "$x" })), "Unrecognized window function, $summ");
        assert_eq!(code(unsorted(doc! { "$mergeObjects": "$x" })), 9, "no window function");
        assert_eq!(code(unsorted(doc! { "$concatArrays": "$x" })), 9);
    }

    #[test]
    fn one_function_and_known_arguments_only() {
        assert_eq!(msg(sorted(doc! { "$sum": 1, "$avg": 1 })), "Cannot specify two functions in window function spec");
        assert_eq!(msg(sorted(doc! { "$sum": 1, "foo": 1 })), "Window function found an unknown argument: foo");
        assert_eq!(msg(sorted(doc! { "$first": 1, "$sum": 1 })), "$first got unexpected argument: $sum");
        assert_eq!(
            msg(sorted(doc! { "$topN": { "n": 1, "output": "$x", "sortBy": { "a": 1 } }, "x": 1 })),
            "$topN got unexpected argument: x"
        );
        assert_eq!(
            msg(sorted(doc! { "$median": { "input": "$x", "method": "approximate" }, "x": 1 })),
            "$median got unexpected argument: x"
        );
        assert_eq!(code(sorted(doc! { "$count": { "a": 1 } })), 9);
        assert_eq!(
            only(sorted(doc! { "$count": {}, "window": { "documents": [-1, 1] } })).function,
            WindowFunction::Accumulator { op: "$count".into(), arg: bson!({}) }
        );
    }

    #[test]
    fn accumulator_arguments_fail_at_parse_time() {
        assert_eq!(code(sorted(doc! { "$sum": { "$nope": 1 } })), 168);
        assert_eq!(code(sorted(doc! { "$firstN": { "input": "$x" } })), 5787906);
        assert_eq!(code(sorted(doc! { "$topN": { "n": 1, "output": "$x" } })), 5788005);
        assert_eq!(code(sorted(doc! { "$percentile": { "input": "$x", "p": [2], "method": "approximate" } })), 7750303);
        assert_eq!(code(sorted(doc! { "$covariancePop": ["$x", { "$nope": 1 }] })), 168);
        // Arrays are expressions for the unary window functions.
        ok(sorted(doc! { "$sum": ["$a", "$b"] }));
        ok(sorted(doc! { "$covarianceSamp": ["$a", "$b"], "window": { "documents": [-2, 0] } }));
    }

    #[test]
    fn rank_functions_5371601_5371602_5371603() {
        for name in ["$rank", "$denseRank", "$documentNumber"] {
            assert_eq!(code(sorted(doc! { name: {}, "window": { "documents": [0, 1] } })), 5371601, "{name}");
            assert_eq!(code(sorted(doc! { name: 1 })), 5371603, "{name}");
            assert_eq!(code(sorted(doc! { name: { "a": 1 } })), 5371603, "{name}");
            assert_eq!(code(unsorted(doc! { name: {} })), 5371602, "{name}");
            assert_eq!(code(doc! { "sortBy": { "a": 1, "b": 1 }, "output": { "f": { name: {} } } }), 5371602);
            let out = only(sorted(doc! { name: {} }));
            assert_eq!(out.window, None);
            assert_eq!(out.frame(), WindowBounds::Documents(Bound::Unbounded, Bound::Current));
        }
        assert_eq!(only(sorted(doc! { "$denseRank": {} })).function, WindowFunction::DenseRank);
        assert_eq!(only(sorted(doc! { "$documentNumber": {} })).function, WindowFunction::DocumentNumber);
    }

    #[test]
    fn shift_rules() {
        let out = only(sorted(doc! { "$shift": { "output": "$x", "by": -1, "default": "none" } }));
        assert_eq!(out.function, WindowFunction::Shift { output: bson!("$x"), by: -1, default: bson!("none") });
        assert_eq!(
            out.frame(),
            WindowBounds::Documents(Bound::Offset(Bson::Int64(-1)), Bound::Offset(Bson::Int64(-1)))
        );
        let folded = only(sorted(doc! { "$shift": { "output": "$x", "by": 2.0, "default": { "$add": [1, 2] } } }));
        assert_eq!(folded.function, WindowFunction::Shift { output: bson!("$x"), by: 2, default: bson!(3) });
        let plain = only(sorted(doc! { "$shift": { "output": "$x", "by": Bson::Int64(1) } }));
        assert_eq!(plain.function, WindowFunction::Shift { output: bson!("$x"), by: 1, default: Bson::Null });

        let shift = |args: Document| sorted(doc! { "$shift": args });
        assert_eq!(msg(shift(doc! { "by": 1 })), "$shift requires an 'output' expression.");
        assert_eq!(msg(shift(doc! { "output": "$x" })), "$shift requires 'by' as an integer value.");
        assert_eq!(code(shift(doc! { "output": "$x", "by": 1.5 })), 9);
        assert_eq!(code(shift(doc! { "output": "$x", "by": "1" })), 9);
        assert_eq!(code(shift(doc! { "output": "$x", "by": Bson::Int64(1 << 40) })), 9, "int32 only");
        assert_eq!(
            msg(shift(doc! { "output": "$x", "by": 1, "default": "$y" })),
            "'$shift:default' expression must yield a constant value."
        );
        assert_eq!(msg(shift(doc! { "output": "$x", "by": 1, "foo": 1 })), "Unknown argument in $shift");
        assert_eq!(code(shift(doc! { "output": { "$nope": 1 }, "by": 1 })), 168);
        assert_eq!(msg(sorted(doc! { "$shift": 1 })), "Argument to $shift must be an object");
        assert_eq!(
            msg(sorted(doc! { "$shift": { "output": "$x", "by": 1 }, "window": { "documents": [0, 1] } })),
            "$shift does not accept a 'window' field"
        );
        assert_eq!(msg(unsorted(doc! { "$shift": { "output": "$x", "by": 1 } })), "'$shift' requires a sortBy");
    }

    #[test]
    fn linear_fill_and_locf_take_no_window_605001() {
        assert_eq!(
            only(sorted(doc! { "$linearFill": "$price" })).function,
            WindowFunction::LinearFill(bson!("$price"))
        );
        assert_eq!(code(unsorted(doc! { "$linearFill": "$price" })), 605001);
        assert_eq!(code(doc! { "sortBy": { "a": 1, "b": 1 }, "output": { "f": { "$linearFill": "$p" } } }), 605001);
        assert_eq!(
            msg(sorted(doc! { "$linearFill": "$price", "window": { "documents": [0, 1] } })),
            "'window' field is not allowed in $linearFill"
        );
        let locf = only(unsorted(doc! { "$locf": "$price" }));
        assert_eq!(locf.function, WindowFunction::Accumulator { op: "$locf".into(), arg: bson!("$price") });
        assert_eq!(locf.frame(), WindowBounds::Documents(Bound::Unbounded, Bound::Current));
        assert_eq!(msg(sorted(doc! { "$locf": "$price", "window": {} })), "'window' field is not allowed in $locf");
        assert_eq!(code(sorted(doc! { "$locf": { "$nope": 1 } })), 168);
    }

    #[test]
    fn exp_moving_avg_rules() {
        let out = only(sorted(doc! { "$expMovingAvg": { "input": "$price", "N": 2 } }));
        assert_eq!(
            out.function,
            WindowFunction::Accumulator { op: "$expMovingAvg".into(), arg: bson!({ "input": "$price", "N": 2 }) }
        );
        assert_eq!(out.frame(), WindowBounds::Documents(Bound::Unbounded, Bound::Current));
        assert_eq!(
            msg(sorted(doc! { "$expMovingAvg": { "input": "$p", "N": 2 }, "window": { "documents": [0, 1] } })),
            "$expMovingAvg must have exactly one argument that is an object"
        );
        assert_eq!(code(sorted(doc! { "$expMovingAvg": 1 })), 9);
        assert_eq!(code(sorted(doc! { "$expMovingAvg": { "input": "$p" } })), 9);
        // The shape is checked before the sortBy, the sortBy before N / alpha.
        assert_eq!(msg(unsorted(doc! { "$expMovingAvg": { "input": "$p" } })), EXP_MOVING_AVG_SHAPE);
        assert_eq!(
            msg(unsorted(doc! { "$expMovingAvg": { "input": "$p", "N": -1 } })),
            "$expMovingAvg requires an explicit 'sortBy'"
        );
        assert_eq!(
            msg(sorted(doc! { "$expMovingAvg": { "input": "$p", "N": -1 } })),
            "'N' must be greater than zero. Got -1"
        );
        assert_eq!(
            msg(sorted(doc! { "$expMovingAvg": { "input": "$p", "alpha": 1 } })),
            "'alpha' must be between 0 and 1 (exclusive), found alpha: 1"
        );
    }

    #[test]
    fn integral_and_derivative_need_a_single_sort_field() {
        for name in ["$integral", "$derivative"] {
            let f = doc! { name: { "input": "$y" }, "window": { "documents": [-1, 0] } };
            assert_eq!(msg(unsorted(f.clone())), format!("{name} requires a sortBy"));
            assert_eq!(
                msg(doc! { "sortBy": { "a": 1, "b": 1 }, "output": { "f": f.clone() } }),
                format!("{name} requires a non-compound sortBy")
            );
            assert_eq!(
                msg(sorted(doc! { name: { "input": "$y" }, "foo": 1 })),
                format!("{name} got unexpected argument: foo")
            );
            assert_eq!(code(sorted(doc! { name: 1, "window": {} })), 9);
            assert_eq!(code(sorted(doc! { name: { "input": "$y", "unit": "month" }, "window": {} })), 5490710);
            assert_eq!(
                code(sorted(doc! { name: { "input": "$y", WINDOW_SORT_BY_FIELD: "$z" }, "window": {} })),
                9,
                "the internal field is no user argument"
            );
        }
        let integral = only(sorted(doc! { "$integral": { "input": "$kw", "unit": "hour" } }));
        assert_eq!(integral.window, None);
        assert_eq!(
            msg(sorted(doc! { "$derivative": { "input": "$miles", "unit": "hour" } })),
            "$derivative requires explicit window bounds"
        );
        // `window: {}` is explicit (the default bounds).
        let d = only(sorted(doc! { "$derivative": { "input": "$m" }, "window": {} }));
        assert_eq!(d.window, Some(WindowBounds::unbounded()));
    }

    /// The manual's `$integral` / `$derivative` examples, and what the aggregate gets.
    #[test]
    fn accumulator_argument_adds_the_sort_path_for_integral_and_derivative() {
        let stage = doc! {
            "partitionBy": "$powerMeterID",
            "sortBy": { "timeStamp": 1 },
            "output": {
                "powerMeterKilowattHours": {
                    "$integral": { "input": "$kilowatts", "unit": "hour" },
                    "window": { "range": ["unbounded", "current"], "unit": "hour" }
                },
                "truckAverageSpeed": {
                    "$derivative": { "input": "$miles", "unit": "hour" },
                    "window": { "range": [-30, 0], "unit": "second" }
                },
                "total": { "$sum": "$kilowatts" },
                "r": { "$rank": {} },
            }
        };
        let p = ok(stage);
        let sort = p.sort_by.as_ref();
        assert_eq!(
            p.outputs[0].window,
            Some(WindowBounds::Range { lower: Bound::Unbounded, upper: Bound::Current, unit: Some("hour".into()) })
        );
        assert_eq!(
            p.outputs[1].window,
            Some(WindowBounds::Range {
                lower: Bound::Offset(Bson::Int64(-30)),
                upper: Bound::Offset(Bson::Int64(0)),
                unit: Some("second".into())
            })
        );
        let (op, arg) = accumulator_argument(&p.outputs[0], sort).unwrap();
        assert_eq!(op, "$integral");
        assert_eq!(arg, bson!({ "input": "$kilowatts", "unit": "hour", WINDOW_SORT_BY_FIELD: "$timeStamp" }));
        let mut acc = Accumulator::parse_window(&op, &arg, &ExprContext::default()).unwrap();
        let raw = |d: Document| bson::RawDocumentBuf::try_from(&d).unwrap();
        let at = |s: &str| Bson::DateTime(DateTime::parse_rfc3339_str(s).unwrap());
        acc.accumulate_document(&raw(doc! { "timeStamp": at("2020-05-18T14:10:30Z"), "kilowatts": 2.95 })).unwrap();
        acc.accumulate_document(&raw(doc! { "timeStamp": at("2020-05-18T14:11:00Z"), "kilowatts": 2.7 })).unwrap();
        assert_eq!(acc.finish(), bson!(0.023541666666666666));

        let (op, arg) = accumulator_argument(&p.outputs[1], sort).unwrap();
        assert_eq!(
            (op.as_str(), arg),
            ("$derivative", bson!({ "input": "$miles", "unit": "hour", WINDOW_SORT_BY_FIELD: "$timeStamp" }))
        );
        assert_eq!(accumulator_argument(&p.outputs[2], sort), Some(("$sum".into(), bson!("$kilowatts"))));
        assert_eq!(accumulator_argument(&p.outputs[3], sort), None);
    }

    #[test]
    fn window_must_be_an_object_with_documents_or_range() {
        let w = |window: Bson| sorted(doc! { "$sum": "$x", "window": window });
        assert_eq!(msg(w(bson!(1))), "'window' field must be an object");
        assert_eq!(
            msg(w(bson!({ "documents": [0, 1], "range": [0, 1] }))),
            "Window bounds can specify either 'documents' or 'unit', not both."
        );
        assert_eq!(
            msg(w(bson!({ "documents": [0, 1], "unit": "day" }))),
            "Window bounds can only specify 'unit' with range-based bounds."
        );
        assert_eq!(code(w(bson!({ "foo": 1 }))), 9);
        assert_eq!(code(w(bson!({ "documents": [0, 1], "foo": 1 }))), 9);
        assert_eq!(code(w(bson!({ "range": [0, 1], "foo": 1 }))), 9);
        assert_eq!(code(w(bson!({ "range": [0, 1], "unit": "day", "foo": 1 }))), 9);
        assert_eq!(msg(w(bson!({ "documents": [0] }))), "Window bounds must be a 2-element array: documents: [0]");
        assert_eq!(code(w(bson!({ "range": 5 }))), 9);
        assert_eq!(only(w(bson!({}))).window, Some(WindowBounds::unbounded()));
    }

    #[test]
    fn documents_bounds_are_integers_or_keywords() {
        let w = |bounds: Bson| sorted(doc! { "$sum": "$x", "window": { "documents": bounds } });
        assert_eq!(
            only(w(bson!([-3.0, { "$add": [1, 1] }]))).window,
            Some(WindowBounds::Documents(Bound::Offset(Bson::Int64(-3)), Bound::Offset(Bson::Int64(2))))
        );
        assert_eq!(msg(w(bson!([0.5, 1]))), "Numeric document-based bounds must be an integer");
        assert_eq!(code(w(bson!([Bson::Int64(1 << 40), Bson::Int64(1 << 41)]))), 9, "int32 only");
        assert_eq!(code(w(bson!([true, 1]))), 9);
        assert_eq!(msg(w(bson!(["current", "later"]))), "Window bounds must be 'unbounded', 'current', or a number.");
        assert_eq!(msg(w(bson!(["$x", 1]))), "Window bounds must be 'unbounded', 'current', or a number.");
        assert_eq!(msg(w(bson!([{ "$add": ["$x", 1] }, 1]))), "Window bounds expression must be a constant.");
    }

    #[test]
    fn lower_bound_must_not_exceed_upper_5339900() {
        let w = |window: Document| sorted(doc! { "$sum": "$x", "window": window });
        assert_eq!(code(w(doc! { "documents": [1, 0] })), 5339900);
        assert_eq!(msg(w(doc! { "documents": [1, "current"] })), "Lower bound must not exceed upper bound: [1, 0]");
        assert_eq!(code(w(doc! { "documents": ["current", -1] })), 5339900);
        assert_eq!(code(w(doc! { "range": [2.5, 1] })), 5339900);
        assert_eq!(code(w(doc! { "range": [2, 1], "unit": "day" })), 5339900);
        ok(w(doc! { "documents": ["unbounded", -5] }));
        ok(w(doc! { "documents": [5, "unbounded"] }));
        ok(w(doc! { "documents": ["current", "current"] }));
    }

    #[test]
    fn bounded_documents_window_requires_a_sort_by_5339901() {
        let f = |window: Document| unsorted(doc! { "$sum": "$x", "window": window });
        assert_eq!(code(f(doc! { "documents": [-1, 0] })), 5339901);
        assert_eq!(code(f(doc! { "documents": ["unbounded", "current"] })), 5339901);
        ok(f(doc! { "documents": ["unbounded", "unbounded"] }));
    }

    #[test]
    fn range_bounds_numbers_single_ascending_sort_5339902_8947401() {
        let w = |window: Document| sorted(doc! { "$sum": "$x", "window": window });
        assert_eq!(
            only(w(doc! { "range": [-1.5, "current"] })).window,
            Some(WindowBounds::Range { lower: Bound::Offset(bson!(-1.5)), upper: Bound::Current, unit: None })
        );
        assert_eq!(msg(w(doc! { "range": ["a", 1] })), "Window bounds must be 'unbounded', 'current', or a number.");
        assert_eq!(msg(w(doc! { "range": [Bson::Null, 1] })), "Range-based bounds expression must be a number");
        let range = doc! { "$sum": "$x", "window": { "range": [-1, 1] } };
        assert_eq!(code(unsorted(range.clone())), 5339902);
        assert_eq!(code(doc! { "sortBy": { "a": 1, "b": 1 }, "output": { "f": range.clone() } }), 5339902);
        assert_eq!(code(doc! { "sortBy": { "a": -1 }, "output": { "f": range } }), 8947401);
    }

    #[test]
    fn time_range_bounds_integers_and_known_units() {
        let w = |window: Document| sorted(doc! { "$sum": "$x", "window": window });
        for unit in ["year", "quarter", "month", "week", "day", "hour", "minute", "second", "millisecond"] {
            assert_eq!(
                only(w(doc! { "range": [-2, 0], "unit": unit })).window,
                Some(WindowBounds::Range {
                    lower: Bound::Offset(Bson::Int64(-2)),
                    upper: Bound::Offset(Bson::Int64(0)),
                    unit: Some(unit.into())
                })
            );
        }
        assert_eq!(
            msg(w(doc! { "range": [-1.5, 0], "unit": "day" })),
            "With 'unit', range-based bounds must be an integer"
        );
        assert_eq!(msg(w(doc! { "range": [-1, 0], "unit": 1 })), "'unit' must be a string");
        assert_eq!(msg(w(doc! { "range": [-1, 0], "unit": "days" })), "unknown time unit value: days");
        assert_eq!(code(w(doc! { "range": [-1, 0], "unit": "days" })), 9);
    }

    #[test]
    fn first_last_and_n_functions_take_one_window() {
        let out = only(sorted(doc! { "$first": "$x", "window": { "documents": [-1, 1] } }));
        assert_eq!(out.function, WindowFunction::Accumulator { op: "$first".into(), arg: bson!("$x") });
        let raw = bson::rawdoc! { "s": { "sortBy": { "t": 1 }, "output": { "f": {
        "$last": "$x", "window": { "documents": [0, 1] }, "window": { "documents": [0, 1] } } } } };
        let err = parse(raw.get("s").unwrap().unwrap(), &ExprContext::default()).unwrap_err();
        assert_eq!(err.message, "saw multiple 'window' fields in '$last' expression");
        ok(sorted(doc! { "$minN": { "input": "$x", "n": 2 }, "window": { "range": [-1, 1] } }));
        ok(sorted(doc! { "$median": { "input": "$x", "method": "approximate" }, "window": { "documents": [-1, 1] } }));
    }

    #[test]
    fn let_variables_reach_the_expressions() {
        let raw = bson::rawdoc! { "s": { "sortBy": { "t": 1 }, "output": {
        "f": { "$sum": "$$factor" },
        "g": { "$shift": { "output": "$x", "by": 1, "default": "$$fallback" } } } } };
        let ctx = ExprContext { variables: doc! { "factor": 2, "fallback": "none" } };
        let p = parse(raw.get("s").unwrap().unwrap(), &ctx).unwrap();
        assert_eq!(p.outputs[1].function, WindowFunction::Shift { output: bson!("$x"), by: 1, default: bson!("none") });
        assert_eq!(parse(raw.get("s").unwrap().unwrap(), &ExprContext::default()).unwrap_err().code.code(), 17276);
    }

    #[test]
    fn fill_pair_expression_is_null_or_the_point() {
        let e = Expression::parse_bson(&fill_pair_expression("t", &bson!("$price")), &ExprContext::default()).unwrap();
        let eval = |d: Document| e.evaluate_document(&d).unwrap();
        assert_eq!(eval(doc! { "t": 1, "price": 5 }), Some(bson!([1, 5])));
        assert_eq!(eval(doc! { "t": 1 }), Some(Bson::Null));
        assert_eq!(eval(doc! { "t": 1, "price": Bson::Null }), Some(Bson::Null));
        assert_eq!(eval(doc! { "t": 1, "price": Bson::Undefined }), Some(Bson::Null));
        assert_eq!(eval(doc! { "price": 5 }), Some(Bson::Null), "no sort value: no point");
        let nested = fill_pair_expression("a.b", &bson!({ "$multiply": ["$v", 2] }));
        let e = Expression::parse_bson(&nested, &ExprContext::default()).unwrap();
        assert_eq!(e.evaluate_document(&doc! { "a": { "b": 3 }, "v": 4 }).unwrap(), Some(bson!([3, 8])));
    }

    /// The manual's `$linearFill` example: hourly prices 500, -, 515, -, -, 485.
    #[test]
    fn linear_fill_manual_stock_prices() {
        let at = |h: u32| Bson::DateTime(DateTime::parse_rfc3339_str(format!("2021-03-08T{h:02}:00:00Z")).unwrap());
        let rows: Vec<(Bson, Option<Bson>)> = vec![
            (at(9), Some(bson!(500))),
            (at(10), None),
            (at(11), Some(bson!(515))),
            (at(12), None),
            (at(13), Some(Bson::Null)),
            (at(14), Some(bson!(485))),
        ];
        let points: Vec<Option<Bson>> =
            rows.iter().map(|(x, y)| y.clone().filter(|y| *y != Bson::Null).map(|y| bson!([x.clone(), y]))).collect();
        let filled: Vec<Bson> = rows
            .iter()
            .enumerate()
            .map(|(i, (x, own))| {
                let prev = points[..=i].iter().rev().flatten().next();
                let next = points[i..].iter().flatten().next();
                linear_fill(x, own.as_ref(), prev, next).unwrap()
            })
            .collect();
        assert_eq!(filled, vec![bson!(500), bson!(507.5), bson!(515), bson!(505.0), bson!(495.0), bson!(485)]);
    }

    /// `$linearFill`'s behaviour section: 0, -, -, -, 10 over index 0..4.
    #[test]
    fn linear_fill_numbers_and_edges() {
        let p = |x: i32, y: Bson| bson!([x, y]);
        let (first, last) = (p(0, bson!(0)), p(4, bson!(10)));
        let fill = |x: i32| linear_fill(&bson!(x), None, Some(&first), Some(&last)).unwrap();
        assert_eq!([fill(1), fill(2), fill(3)], [bson!(2.5), bson!(5.0), bson!(7.5)]);
        // Nothing before or after: null.
        assert_eq!(linear_fill(&bson!(5), None, Some(&last), None).unwrap(), Bson::Null);
        assert_eq!(linear_fill(&bson!(-1), Some(&Bson::Null), None, Some(&first)).unwrap(), Bson::Null);
        // A known value stays.
        assert_eq!(linear_fill(&bson!(4), Some(&bson!(10)), Some(&last), Some(&last)).unwrap(), bson!(10));
        // Decimals stay decimal.
        let d = |s: &str| Bson::Decimal128(s.parse().unwrap());
        let filled = linear_fill(&bson!(1), None, Some(&p(0, d("0"))), Some(&p(2, d("1")))).unwrap();
        assert_eq!(filled, d("0.5"));
    }

    #[test]
    fn linear_fill_errors_type_mismatch_and_6050106() {
        let pt = bson!([1, 1]);
        let code = |r: DocDbResult<Bson>| r.unwrap_err().code.code();
        assert_eq!(code(linear_fill(&bson!(2), Some(&bson!("a")), None, None)), 14, "non-numeric input");
        assert_eq!(code(linear_fill(&bson!("x"), None, None, None)), 14, "sortBy neither number nor date");
        assert_eq!(code(linear_fill(&Bson::Null, None, None, None)), 14);
        let date = Bson::DateTime(DateTime::from_millis(0));
        assert_eq!(code(linear_fill(&date, None, Some(&pt), None)), 14, "conflicting sort value types");
        assert_eq!(code(linear_fill(&bson!(1), None, Some(&pt), Some(&bson!([3, 3])))), 6050106);
        assert_eq!(code(linear_fill(&bson!(1.0), None, None, Some(&pt))), 6050106);
    }
}
