//! `$densify`: adds documents so that a numeric or date field takes every value of a step
//! grid, within each partition.
//!
//! MongoDB (`DocumentSourceInternalDensify`) sorts the documents by the partition fields and
//! the field and walks them, keeping for each partition the last value on the grid; the
//! values it generates come out as:
//! * `bounds: [lower, upper]`: every value `lower + k·step` in `[lower, upper)` that no
//!   document of the partition has (documents outside the bounds pass unchanged);
//! * `bounds: "full"`: every value `min + k·step` from the smallest value of all documents up
//!   to the largest one (included when it is on the grid), in every partition;
//! * `bounds: "partition"`: every value `min + k·step` between the partition's own smallest
//!   and largest values;
//! * dates step by `unit` with `$dateAdd`'s calendar arithmetic (months, quarters and years
//!   clamp the day to the month's end, and each step continues from the previous value);
//!   numbers step with `$add`, so the generated values take `$add`'s types;
//! * documents whose field is missing or null (or not reachable through documents) pass
//!   unchanged and take no part; other non-numeric, non-date values are error 5733201, a date
//!   without `unit` or a number with one error 6053600;
//! * a generated document holds the partition fields (as the partition key has them) and the
//!   field, nested along dotted paths.
//!
//! SQL runs it per document: with the documents of a partition sorted by the field (the
//! documents without a value first), [`Densify::generated_values`] gives the values to
//! generate around each document, from its value, the next document's, whether it is the
//! first document with a value in its partition, and the partition's and the whole input's
//! smallest and largest values (over documents with a value). With explicit bounds and no
//! partitions MongoDB densifies the range even when no document has a value:
//! [`Densify::values_without_documents`].

use std::cmp::Ordering;

use bson::{Bson, Document, RawBsonRef, RawDocument};
use documentdb_errors::{DocDbError, DocDbResult, ErrorCode};

use crate::arith::{self, Num};
use crate::expr::date::{self, TimeZone, Unit};
use crate::expr::{split_path, ExprContext, Expression};
use crate::spec_error::{invalid_bson, loc, raw_type_name, string_array, wrong_type};

/// MongoDB's `internalQueryMaxAllowedDensifyDocs` default: more generated documents is error
/// 5897900 (counted here per call of [`Densify::generated_values`]).
pub const MAX_GENERATED_DOCUMENTS: usize = 500_000;

/// `range.bounds`.
#[derive(Debug, Clone, PartialEq)]
pub enum DensifyBounds {
    Full,
    Partition,
    /// `[lower, upper]`: two numbers of one type (the step's) or two dates.
    Explicit(Box<(Bson, Bson)>),
}

/// A parsed `$densify` stage.
#[derive(Debug, Clone)]
pub struct Densify {
    field: String,
    field_path: Vec<String>,
    partition_by_fields: Vec<String>,
    step: Num,
    unit: Option<(Unit, String)>,
    bounds: DensifyBounds,
    partition_expr: Option<Expression>,
}

/// A value of the field: a number or a date (milliseconds).
#[derive(Debug, Clone, Copy)]
enum DVal {
    Num(Num),
    Date(i64),
}

/// Parses a `$densify` specification with MongoDB's validation: the IDL's (40413 duplicate,
/// 40414 missing, 40415 unknown field, 14 wrong type), the range's (5733401 to 5946802,
/// 6586400, 5876900), the partition fields' (8993000, 9554500, field path errors) and
/// 5733408.
pub fn parse(spec: RawBsonRef<'_>, ctx: &ExprContext) -> DocDbResult<Densify> {
    let RawBsonRef::Document(spec) = spec else {
        return Err(DocDbError::new(
            ErrorCode::FailedToParse,
            format!("The $densify stage specification must be an object, found {}", raw_type_name(spec)),
        ));
    };
    let (mut field, mut partitions, mut range): (Option<&str>, Option<Vec<String>>, Option<RangeSpec<'_>>) =
        (None, None, None);
    for element in spec {
        let (key, value) = element.map_err(invalid_bson)?;
        let seen = match key.as_str() {
            "field" => field.is_some(),
            "partitionByFields" => partitions.is_some(),
            "range" => range.is_some(),
            other => return Err(loc(40415, format!("BSON field '$densify.{other}' is an unknown field."))),
        };
        if seen {
            return Err(loc(40413, format!("BSON field '$densify.{}' is a duplicate field", key.as_str())));
        }
        match key.as_str() {
            "field" => match value {
                RawBsonRef::String(s) => field = Some(s),
                other => return Err(wrong_type("$densify.field", other, "type 'string'")),
            },
            "partitionByFields" => {
                let names = string_array("$densify.partitionByFields", value)?;
                partitions = Some(names.into_iter().map(str::to_owned).collect());
            }
            _ => {
                let RawBsonRef::Document(r) = value else {
                    return Err(wrong_type("$densify.range", value, "type 'object'"));
                };
                range = Some(RangeSpec::parse(r)?);
            }
        }
    }
    let field = field.ok_or_else(|| loc(40414, "BSON field '$densify.field' is missing but a required field"))?;
    let range = range.ok_or_else(|| loc(40414, "BSON field '$densify.range' is missing but a required field"))?;
    let (step, unit, bounds) = range.statement()?;
    let partition_by_fields = partitions.unwrap_or_default();
    for p in &partition_by_fields {
        if p.starts_with(field) {
            return Err(loc(
                8993000,
                format!("partitionByFields '{p}' cannot include field '{field}' that is being densified."),
            ));
        }
        if field.starts_with(p.as_str()) {
            return Err(loc(
                9554500,
                format!("field '{field}' that is being densified cannot include partitionByFields '{p}'."),
            ));
        }
        split_path(p)?;
    }
    let field_path = split_path(field)?;
    if bounds == DensifyBounds::Partition && partition_by_fields.is_empty() {
        return Err(loc(
            5733408,
            "One cannot specify the bounds as 'partition' without specifying a non-empty array of \
             partitionByFields. You may have meant to specify 'full' bounds.",
        ));
    }
    let partition_expr = if partition_by_fields.is_empty() {
        None
    } else {
        // MongoDB's partition expression: {p: "$p"} with dotted names nested.
        let mut expr = Document::new();
        for p in &partition_by_fields {
            crate::document::set_path(&mut expr, &split_path(p)?, Bson::String(format!("${p}")));
        }
        Some(Expression::parse_document(&expr, ctx)?)
    };
    Ok(Densify { field: field.to_string(), field_path, partition_by_fields, step, unit, bounds, partition_expr })
}

/// `range` as the IDL reads it (types checked, semantics not yet).
struct RangeSpec<'a> {
    step: Num,
    unit: Option<&'a str>,
    bounds: RawBsonRef<'a>,
}

impl<'a> RangeSpec<'a> {
    fn parse(range: &'a RawDocument) -> DocDbResult<RangeSpec<'a>> {
        let (mut step, mut unit, mut bounds) = (None, None, None);
        for element in range {
            let (key, value) = element.map_err(invalid_bson)?;
            let seen = match key.as_str() {
                "step" => step.is_some(),
                "unit" => unit.is_some(),
                "bounds" => bounds.is_some(),
                other => return Err(loc(40415, format!("BSON field '$densify.range.{other}' is an unknown field."))),
            };
            if seen {
                return Err(loc(40413, format!("BSON field '$densify.range.{}' is a duplicate field", key.as_str())));
            }
            match key.as_str() {
                "step" => {
                    step = Some(Num::from_raw(value).ok_or_else(|| {
                        wrong_type("$densify.range.step", value, "types '[long, int, decimal, double]'")
                    })?)
                }
                "unit" => match value {
                    RawBsonRef::String(s) => unit = Some(s),
                    other => return Err(wrong_type("$densify.range.unit", other, "type 'string'")),
                },
                _ => bounds = Some(value),
            }
        }
        let step =
            step.ok_or_else(|| loc(40414, "BSON field '$densify.range.step' is missing but a required field"))?;
        let bounds =
            bounds.ok_or_else(|| loc(40414, "BSON field '$densify.range.bounds' is missing but a required field"))?;
        Ok(RangeSpec { step, unit, bounds })
    }

    /// MongoDB's `RangeStatement::parse`.
    #[allow(clippy::type_complexity)]
    fn statement(&self) -> DocDbResult<(Num, Option<(Unit, String)>, DensifyBounds)> {
        let step = self.step;
        if step.is_nan() || arith::compare(step, Num::Int32(0)) != Ordering::Greater {
            return Err(loc(
                5733401,
                "The step parameter in a range statement must be a strictly positive numeric value",
            ));
        }
        let unit = match self.unit {
            None => None,
            Some(name) => {
                if arith::as_i64_exact(step).is_none() {
                    return Err(loc(
                        6586400,
                        "The step parameter in a range statement must be a whole number when densifying a date range",
                    ));
                }
                let unit = date::parse_unit(name).ok_or_else(|| {
                    DocDbError::new(ErrorCode::FailedToParse, format!("unknown time unit value: {name}"))
                })?;
                Some((unit, name.to_string()))
            }
        };
        let bounds = match self.bounds {
            RawBsonRef::Array(items) => {
                let items: Vec<RawBsonRef<'_>> = items.into_iter().collect::<Result<_, _>>().map_err(invalid_bson)?;
                let [lower, upper] = items[..] else {
                    return Err(loc(5733403, "A bounding array in a range statement must have exactly two elements"));
                };
                if documentdb_bson::compare_values(lower, upper) == Ordering::Greater {
                    return Err(loc(
                        5733402,
                        "A bounding array must be an ascending array of either two dates or two numbers",
                    ));
                }
                let (lower_num, upper_num) = (Num::from_raw(lower), Num::from_raw(upper));
                if let Some(lower_num) = lower_num {
                    if unit.is_some() {
                        return Err(loc(5733409, "Numeric bounds may not have unit parameter"));
                    }
                    let Some(upper_num) = upper_num else {
                        return Err(loc(
                            5733406,
                            "A bounding array must contain either both dates or both numeric types",
                        ));
                    };
                    if lower_num.kind() != upper_num.kind() || lower_num.kind() != step.kind() {
                        return Err(loc(5876900, "Upper bound, lower bound, and step must all have the same type"));
                    }
                    DensifyBounds::Explicit(Box::new((lower_num.to_bson(), upper_num.to_bson())))
                } else if let RawBsonRef::DateTime(lower_date) = lower {
                    let RawBsonRef::DateTime(upper_date) = upper else {
                        return Err(loc(
                            5733405,
                            "A bounding array must contain either both dates or both numeric types",
                        ));
                    };
                    if unit.is_none() {
                        return Err(loc(5733410, "A bounding array of dates must specify a unit"));
                    }
                    DensifyBounds::Explicit(Box::new((Bson::DateTime(lower_date), Bson::DateTime(upper_date))))
                } else {
                    return Err(loc(5946800, "Explicit bounds must be numeric or dates"));
                }
            }
            RawBsonRef::String("full") => DensifyBounds::Full,
            RawBsonRef::String("partition") => DensifyBounds::Partition,
            RawBsonRef::String(_) => {
                return Err(loc(5946802, "Bounds string must either be 'full' or 'partition'"));
            }
            _ => {
                return Err(loc(
                    5733404,
                    "The bounds in a range statement must be the string 'full', 'partition', or an ascending array of \
                     two numbers or two dates",
                ))
            }
        };
        Ok((step, unit, bounds))
    }
}

fn is_nullish(v: &Bson) -> bool {
    matches!(v, Bson::Null | Bson::Undefined)
}

impl Densify {
    /// The densified field (a dotted path).
    pub fn field(&self) -> &str {
        &self.field
    }

    pub fn partition_by_fields(&self) -> &[String] {
        &self.partition_by_fields
    }

    pub fn bounds(&self) -> &DensifyBounds {
        &self.bounds
    }

    /// `range.step`.
    pub fn step(&self) -> Bson {
        self.step.to_bson()
    }

    /// `range.unit`, for dates.
    pub fn unit(&self) -> Option<&str> {
        self.unit.as_ref().map(|(_, name)| name.as_str())
    }

    /// The order the documents must come in: the partition fields, then the field (MongoDB
    /// sorts "full" bounds by the field alone, an order it does not promise to keep).
    pub fn sort_spec(&self) -> Document {
        let mut sort = Document::new();
        for p in &self.partition_by_fields {
            sort.insert(p.clone(), 1);
        }
        sort.insert(self.field.clone(), 1);
        sort
    }

    /// The field's value in `doc`, through embedded documents only (MongoDB's
    /// `getNestedField`); `None` when missing, null or undefined (such documents pass
    /// unchanged).
    pub fn field_value(&self, doc: &RawDocument) -> Option<Bson> {
        let (last, parents) = self.field_path.split_last()?;
        let mut current = doc;
        for name in parents {
            match current.get(name).ok().flatten() {
                Some(RawBsonRef::Document(d)) => current = d,
                _ => return None,
            }
        }
        let value = Bson::try_from(current.get(last).ok().flatten()?).ok()?;
        (!is_nullish(&value)).then_some(value)
    }

    /// The partition key of `doc`: `{p: "$p", ...}` evaluated (dotted names nested, missing
    /// fields left out); an empty document without `partitionByFields`.
    pub fn partition_key(&self, doc: &RawDocument) -> DocDbResult<Document> {
        let Some(expr) = &self.partition_expr else {
            return Ok(Document::new());
        };
        match expr.evaluate(doc)? {
            Some(Bson::Document(d)) => Ok(d),
            _ => Ok(Document::new()),
        }
    }

    /// A generated document: the partition key with the field set to `value` (5733307 when
    /// the field's path goes through an array of the key, 5733308 through another
    /// non-document).
    pub fn generated_document(&self, partition_key: &Document, value: Bson) -> DocDbResult<Document> {
        let mut at = partition_key;
        for (i, name) in self.field_path.iter().enumerate() {
            match at.get(name) {
                Some(Bson::Array(_)) => {
                    return Err(loc(5733307, "$densify cannot generate fields nested inside arrays"))
                }
                Some(Bson::Document(d)) => at = d,
                None => break,
                Some(_) if i + 1 == self.field_path.len() => break,
                Some(_) => return Err(loc(5733308, "$densify cannot overwrite non-object values with objects")),
            }
        }
        let mut out = partition_key.clone();
        crate::document::set_path(&mut out, &self.field_path, value);
        Ok(out)
    }

    /// The field values to generate around one document of a partition, ascending:
    /// * `current`: the document's value (`None`, null or missing: nothing, the document
    ///   passes unchanged);
    /// * `next`: the value of the next document of the partition in sort order (`None` for
    ///   the last one); values strictly between the two are generated, and after the last
    ///   document those up to the bounds' end;
    /// * `first_in_partition`: the document is the first with a value in its partition (the
    ///   one before it, if any, has none): values before it are generated from the bounds'
    ///   start;
    /// * `partition_min_max`: the smallest and largest values of the partition (the grid of
    ///   "partition" bounds starts at the smallest);
    /// * `global_min_max`: the smallest and largest values of all documents ("full" bounds).
    ///
    /// Values equal to a document's are never generated. Documents with equal values each
    /// get the values after them only when `next` differs, so each value comes once.
    pub fn generated_values(
        &self,
        current: Option<&Bson>,
        next: Option<&Bson>,
        first_in_partition: bool,
        partition_min_max: (&Bson, &Bson),
        global_min_max: (&Bson, &Bson),
    ) -> DocDbResult<Vec<Bson>> {
        let Some(current) = current.filter(|v| !is_nullish(v)) else {
            return Ok(Vec::new());
        };
        let c = self.value(current)?;
        let next = match next.filter(|v| !is_nullish(v)) {
            Some(n) => Some(self.value(n)?),
            None => None,
        };
        let mut out = Vec::new();
        match &self.bounds {
            DensifyBounds::Explicit(bounds) => {
                let (lower, upper) = (self.value(&bounds.0)?, self.value(&bounds.1)?);
                let start = self.start(lower)?;
                if first_in_partition {
                    self.generate(&mut out, start, min(c, upper), false)?;
                }
                let from = if cmp(c, lower) == Ordering::Less { start } else { self.next_after(start, c)? };
                let end = next.map_or(upper, |n| min(n, upper));
                self.generate(&mut out, from, end, false)?;
            }
            DensifyBounds::Full => {
                let (global_min, global_max) = (self.value(global_min_max.0)?, self.value(global_min_max.1)?);
                let start = self.start(global_min)?;
                if first_in_partition {
                    self.generate(&mut out, start, c, false)?;
                }
                let from = if cmp(c, global_min) == Ordering::Less { start } else { self.next_after(start, c)? };
                match next {
                    Some(n) => self.generate(&mut out, from, n, false)?,
                    // After the last document: up to the largest value, included when it is
                    // on the grid (MongoDB's isOnStepRelativeTo).
                    None => self.generate(&mut out, from, global_max, true)?,
                }
            }
            DensifyBounds::Partition => {
                if let Some(n) = next {
                    let partition_min = self.value(partition_min_max.0)?;
                    let from = if cmp(c, partition_min) == Ordering::Less {
                        partition_min
                    } else {
                        self.next_after(partition_min, c)?
                    };
                    self.generate(&mut out, from, n, false)?;
                }
            }
        }
        Ok(out)
    }

    /// The values MongoDB generates when no document has a value: the whole range of
    /// explicit bounds without partitions, nothing otherwise.
    pub fn values_without_documents(&self) -> DocDbResult<Vec<Bson>> {
        let mut out = Vec::new();
        if let (DensifyBounds::Explicit(bounds), None) = (&self.bounds, &self.partition_expr) {
            let (lower, upper) = (self.value(&bounds.0)?, self.value(&bounds.1)?);
            let start = self.start(lower)?;
            self.generate(&mut out, start, upper, false)?;
        }
        Ok(out)
    }

    /// A document's value as a number or date, checked against `unit` (MongoDB's
    /// `getDensifyValue`).
    fn value(&self, v: &Bson) -> DocDbResult<DVal> {
        let value = match v {
            Bson::DateTime(d) => DVal::Date(d.timestamp_millis()),
            other => DVal::Num(
                Num::from_bson(other).ok_or_else(|| loc(5733201, "Densify field type must be numeric or a date"))?,
            ),
        };
        match (&value, &self.unit) {
            (DVal::Num(_), Some(_)) => {
                Err(loc(6053600, "Encountered numeric densify value in collection when step has a date unit."))
            }
            (DVal::Date(_), None) => {
                Err(loc(6053600, "Encountered date densify value in collection when step does not have a date unit."))
            }
            _ => Ok(value),
        }
    }

    fn step_i64(&self) -> i64 {
        arith::to_i64(self.step)
    }

    /// The value one step after `v` (`$add`, or `$dateAdd` in UTC).
    fn add_step(&self, v: DVal) -> DocDbResult<DVal> {
        match (v, &self.unit) {
            (DVal::Num(n), _) => Ok(DVal::Num(arith::add(n, self.step))),
            (DVal::Date(ms), Some((unit, _))) => date::date_add(ms, *unit, self.step_i64(), TimeZone::UTC)
                .map(DVal::Date)
                .ok_or_else(|| loc(5976500, format!("invalid $dateAdd 'amount' parameter value: {}", self.step_i64()))),
            (DVal::Date(_), None) => {
                Err(loc(6053600, "Encountered date densify value in collection when step does not have a date unit."))
            }
        }
    }

    /// The first value of a grid starting at `base`: MongoDB starts one step below and adds
    /// the step (for numbers; dates start at `base`).
    fn start(&self, base: DVal) -> DocDbResult<DVal> {
        match base {
            DVal::Num(n) => Ok(DVal::Num(arith::add(arith::subtract(n, self.step), self.step))),
            date => Ok(date),
        }
    }

    /// The first value of the grid from `start` strictly above `c` (`c` not below `start`);
    /// when `c` is on the grid, `c` plus the step, as MongoDB continues from a document on
    /// the grid.
    fn next_after(&self, start: DVal, c: DVal) -> DocDbResult<DVal> {
        match (start, c) {
            (DVal::Num(base), DVal::Num(value)) => {
                let diff = arith::subtract(value, base);
                let steps = arith::divide(diff, self.step).map(arith::floor).unwrap_or(Num::Int32(0));
                let k = if steps.is_nan() { 0 } else { arith::to_i64(steps).max(0) };
                let mut g = arith::add(base, arith::multiply(Num::int_or_long(k), self.step));
                // Rounding may put the estimate one step off either way.
                for _ in 0..2 {
                    let previous = arith::subtract(g, self.step);
                    if arith::compare(previous, value) == Ordering::Greater
                        && arith::compare(previous, base) != Ordering::Less
                    {
                        g = previous;
                    }
                }
                for _ in 0..4 {
                    match arith::compare(g, value) {
                        Ordering::Greater => return Ok(DVal::Num(g)),
                        Ordering::Equal => return self.add_step(c),
                        Ordering::Less => g = arith::add(g, self.step),
                    }
                }
                Ok(DVal::Num(g))
            }
            (DVal::Date(base), DVal::Date(value)) => {
                let Some((unit, _)) = self.unit else {
                    return self.add_step(c);
                };
                let step = self.step_i64();
                let months = match unit {
                    Unit::Month => step.checked_mul(1),
                    Unit::Quarter => step.checked_mul(3),
                    Unit::Year => step.checked_mul(12),
                    _ => None,
                };
                let Some(months) = months else {
                    // A constant number of milliseconds a step (UTC has no leap seconds).
                    let size = i128::from(date::date_add(0, unit, step, TimeZone::UTC).unwrap_or(i64::MAX)).max(1);
                    let k = (i128::from(value) - i128::from(base)).div_euclid(size) + 1;
                    let g = i128::from(base) + k * size;
                    return i64::try_from(g)
                        .map(DVal::Date)
                        .map_err(|_| loc(5976500, format!("invalid $dateAdd 'amount' parameter value: {step}")));
                };
                // Months (quarters, years) change length: each step is added to the previous
                // value, the day clamped to the month's end; estimate the step count, then walk.
                let (b, v) = (date::parts(base, TimeZone::UTC), date::parts(value, TimeZone::UTC));
                let month_diff = (v.year - b.year) * 12 + (v.month - b.month);
                let k = (month_diff.div_euclid(months.max(1)) - 1).max(0);
                let mut g = DVal::Date(month_chain(base, months, k)?);
                for _ in 0..8 {
                    if cmp(g, c) == Ordering::Greater {
                        return Ok(g);
                    }
                    g = self.add_step(g)?;
                }
                Ok(g)
            }
            _ => self.add_step(c),
        }
    }

    /// Appends the grid values from `from` below `end` (or up to it, `inclusive`).
    fn generate(&self, out: &mut Vec<Bson>, from: DVal, end: DVal, inclusive: bool) -> DocDbResult<()> {
        let mut g = from;
        loop {
            match cmp(g, end) {
                Ordering::Less => {}
                Ordering::Equal if inclusive => {}
                _ => return Ok(()),
            }
            if out.len() >= MAX_GENERATED_DOCUMENTS {
                return Err(loc(
                    5897900,
                    format!(
                        "Generated {} documents in $densify, which is over the limit of {MAX_GENERATED_DOCUMENTS}. \
                         Increase the 'internalQueryMaxAllowedDensifyDocs' parameter to allow more generated documents",
                        out.len() + 1
                    ),
                ));
            }
            out.push(to_bson(g));
            g = self.add_step(g)?;
        }
    }
}

/// The `k`-th value of a month-stepped chain from `base` (each step `$dateAdd`ed to the
/// previous value): while the day is above 28 it is walked (a clamp can lower it), then the
/// remaining steps are added at once (no clamp can happen any more). A day that stays the
/// same for a whole 400-year calendar cycle (4800 steps of any size) never changes again.
fn month_chain(base: i64, months: i64, k: i64) -> DocDbResult<i64> {
    let overflow = || loc(5976500, format!("invalid $dateAdd 'amount' parameter value: {months}"));
    let (mut cur, mut j, mut unchanged) = (base, 0i64, 0i64);
    while j < k {
        let day = date::parts(cur, TimeZone::UTC).day;
        if day <= 28 || unchanged >= 4800 {
            let rest = months.checked_mul(k - j).ok_or_else(overflow)?;
            return date::date_add(cur, Unit::Month, rest, TimeZone::UTC).ok_or_else(overflow);
        }
        let next = date::date_add(cur, Unit::Month, months, TimeZone::UTC).ok_or_else(overflow)?;
        unchanged = if date::parts(next, TimeZone::UTC).day == day { unchanged + 1 } else { 0 };
        cur = next;
        j += 1;
    }
    Ok(cur)
}

fn cmp(a: DVal, b: DVal) -> Ordering {
    match (a, b) {
        (DVal::Num(x), DVal::Num(y)) => arith::compare(x, y),
        (DVal::Date(x), DVal::Date(y)) => x.cmp(&y),
        // Numbers sort before dates (never mixed once checked).
        (DVal::Num(_), DVal::Date(_)) => Ordering::Less,
        (DVal::Date(_), DVal::Num(_)) => Ordering::Greater,
    }
}

fn min(a: DVal, b: DVal) -> DVal {
    if cmp(a, b) == Ordering::Greater {
        b
    } else {
        a
    }
}

fn to_bson(v: DVal) -> Bson {
    match v {
        DVal::Num(n) => n.to_bson(),
        DVal::Date(ms) => Bson::DateTime(bson::DateTime::from_millis(ms)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::value;
    use bson::{doc, rawdoc, RawDocumentBuf};

    fn code(r: DocDbResult<impl Sized>) -> i32 {
        r.err().map_or(0, |e| e.code.code())
    }

    fn parse_doc(spec: RawDocumentBuf) -> DocDbResult<Densify> {
        parse(RawBsonRef::Document(&spec), &ExprContext::default())
    }

    fn date(s: &str) -> Bson {
        Bson::DateTime(bson::DateTime::parse_rfc3339_str(s).unwrap())
    }

    /// Runs the stage on one partition's documents (values, `None` = no value) the way SQL
    /// will: sorted, each document asking for the values around it; returns all values in
    /// order, generated ones marked `true`.
    fn run(d: &Densify, values: &[Option<Bson>], global: Option<(Bson, Bson)>) -> Vec<(Bson, bool)> {
        let mut values: Vec<Option<Bson>> = values.to_vec();
        values.sort_by(value::compare_values);
        let present: Vec<&Bson> = values.iter().flatten().collect();
        if present.is_empty() {
            return d.values_without_documents().unwrap().into_iter().map(|v| (v, true)).collect();
        }
        let (pmin, pmax) = (present[0].clone(), present[present.len() - 1].clone());
        let (gmin, gmax) = global.unwrap_or((pmin.clone(), pmax.clone()));
        let mut out = Vec::new();
        for (i, v) in values.iter().enumerate() {
            let Some(v) = v else {
                continue;
            };
            let first = i == 0 || values[i - 1].is_none();
            let next = values.get(i + 1).and_then(|n| n.as_ref());
            let generated = d.generated_values(Some(v), next, first, (&pmin, &pmax), (&gmin, &gmax)).unwrap();
            let (before, after): (Vec<Bson>, Vec<Bson>) =
                generated.into_iter().partition(|g| value::compare(g, v) == Ordering::Less);
            out.extend(before.into_iter().map(|g| (g, true)));
            out.push((v.clone(), false));
            out.extend(after.into_iter().map(|g| (g, true)));
        }
        out
    }

    fn generated(out: &[(Bson, bool)]) -> Vec<Bson> {
        out.iter().filter(|(_, g)| *g).map(|(v, _)| v.clone()).collect()
    }

    fn ints(v: &[i32]) -> Vec<Bson> {
        v.iter().map(|i| Bson::Int32(*i)).collect()
    }

    /// Manual ($densify, "Densify Time Series Data"): hourly readings from 00:00 to 08:00
    /// explicit bounds; the 12:00 reading is above the bounds and left alone.
    #[test]
    fn manual_weather_hourly() {
        let d = parse_doc(rawdoc! { "field": "timestamp", "range": {
        "step": 1, "unit": "hour",
        "bounds": [bson::DateTime::parse_rfc3339_str("2021-05-18T00:00:00Z").unwrap(),
                   bson::DateTime::parse_rfc3339_str("2021-05-18T08:00:00Z").unwrap()] } })
        .unwrap();
        let docs: Vec<Option<Bson>> =
            ["00", "04", "08", "12"].iter().map(|h| Some(date(&format!("2021-05-18T{h}:00:00Z")))).collect();
        let out = run(&d, &docs, None);
        let expected: Vec<Bson> =
            ["01", "02", "03", "05", "06", "07"].iter().map(|h| date(&format!("2021-05-18T{h}:00:00Z"))).collect();
        assert_eq!(generated(&out), expected);
        assert_eq!(out.len(), 10);
    }

    /// Manual ("Densify the Full Range of Values"): each variety gets every altitude from the
    /// global minimum 600 by 200 up to the global maximum 1700.
    #[test]
    fn manual_coffee_full() {
        let d = parse_doc(rawdoc! { "field": "altitude", "partitionByFields": ["variety"],
        "range": { "bounds": "full", "step": 200 } })
        .unwrap();
        let global = Some((Bson::Int32(600), Bson::Int32(1700)));
        let arabica =
            run(&d, &[Some(Bson::Int32(600)), Some(Bson::Int32(750)), Some(Bson::Int32(950))], global.clone());
        assert_eq!(generated(&arabica), ints(&[800, 1000, 1200, 1400, 1600]));
        let gesha = run(&d, &[Some(Bson::Int32(1250)), Some(Bson::Int32(1700))], global);
        assert_eq!(generated(&gesha), ints(&[600, 800, 1000, 1200, 1400, 1600]));
        assert_eq!(
            d.generated_document(&doc! { "variety": "Gesha" }, Bson::Int32(600)).unwrap(),
            doc! { "variety": "Gesha", "altitude": 600 }
        );
    }

    /// Manual ("Densify Values within Each Partition"): each variety's own range, the grid
    /// starting at its smallest altitude.
    #[test]
    fn manual_coffee_partition() {
        let d = parse_doc(rawdoc! { "field": "altitude", "partitionByFields": ["variety"],
        "range": { "bounds": "partition", "step": 200 } })
        .unwrap();
        let arabica = run(&d, &[Some(Bson::Int32(600)), Some(Bson::Int32(750)), Some(Bson::Int32(950))], None);
        assert_eq!(generated(&arabica), ints(&[800]));
        let gesha = run(&d, &[Some(Bson::Int32(1250)), Some(Bson::Int32(1700))], None);
        assert_eq!(generated(&gesha), ints(&[1450, 1650]));
    }

    /// "full" includes the global maximum when it is on the grid (for the partitions that
    /// lack it), excludes it otherwise.
    #[test]
    fn full_upper_end_on_the_grid() {
        let d =
            parse_doc(rawdoc! { "field": "v", "partitionByFields": ["p"], "range": { "bounds": "full", "step": 2 } })
                .unwrap();
        let global = Some((Bson::Int32(0), Bson::Int32(6)));
        assert_eq!(generated(&run(&d, &[Some(Bson::Int32(1))], global)), ints(&[0, 2, 4, 6]));
        let global = Some((Bson::Int32(0), Bson::Int32(7)));
        assert_eq!(generated(&run(&d, &[Some(Bson::Int32(3))], global)), ints(&[0, 2, 4, 6]));
    }

    /// Explicit bounds: the grid starts at the lower bound; documents below, between grid
    /// points, or above pass; the values of documents are not generated again; duplicates
    /// generate once; nulls and missing pass.
    #[test]
    fn explicit_numeric_bounds() {
        let d = parse_doc(rawdoc! { "field": "a", "range": { "step": 2, "bounds": [0, 10] } }).unwrap();
        let docs = [
            None,
            Some(Bson::Int32(-5)),
            Some(Bson::Int32(3)),
            Some(Bson::Int32(3)),
            Some(Bson::Int32(4)),
            Some(Bson::Int32(20)),
        ];
        assert_eq!(generated(&run(&d, &docs, None)), ints(&[0, 2, 6, 8]));
        // No document with a value: the whole range.
        assert_eq!(generated(&run(&d, &[None], None)), ints(&[0, 2, 4, 6, 8]));
        // Doubles: $add's type.
        let d = parse_doc(rawdoc! { "field": "a", "range": { "step": 0.5, "bounds": [0.0, 2.0] } }).unwrap();
        assert_eq!(
            generated(&run(&d, &[Some(Bson::Double(1.0))], None)),
            vec![Bson::Double(0.0), Bson::Double(0.5), Bson::Double(1.5)]
        );
    }

    /// Months step with `$dateAdd`: from Jan 31 the chain clamps to Feb 28, then goes on
    /// from the 28th, as MongoDB adds each step to the previous value.
    #[test]
    fn month_steps_clamp_and_continue() {
        let d = parse_doc(rawdoc! { "field": "d", "range": { "step": 1, "unit": "month", "bounds": "full" } }).unwrap();
        let docs = [Some(date("2021-01-31T00:00:00Z")), Some(date("2021-05-01T00:00:00Z"))];
        assert_eq!(
            generated(&run(&d, &docs, None)),
            vec![date("2021-02-28T00:00:00Z"), date("2021-03-28T00:00:00Z"), date("2021-04-28T00:00:00Z")]
        );
        // A document between grid points: the grid goes on from where it was.
        let docs = [
            Some(date("2021-01-31T00:00:00Z")),
            Some(date("2021-03-01T00:00:00Z")),
            Some(date("2021-05-01T00:00:00Z")),
        ];
        assert_eq!(
            generated(&run(&d, &docs, None)),
            vec![date("2021-02-28T00:00:00Z"), date("2021-03-28T00:00:00Z"), date("2021-04-28T00:00:00Z")]
        );
        let d =
            parse_doc(rawdoc! { "field": "d", "range": { "step": 1, "unit": "quarter", "bounds": "full" } }).unwrap();
        let docs = [Some(date("2020-01-15T10:00:00Z")), Some(date("2020-12-31T00:00:00Z"))];
        assert_eq!(
            generated(&run(&d, &docs, None)),
            vec![date("2020-04-15T10:00:00Z"), date("2020-07-15T10:00:00Z"), date("2020-10-15T10:00:00Z")]
        );
    }

    /// MongoDB's jstests/aggregation/sources/densify/partitions.js: "full" partitions
    /// densified to the end (the global maximum included on the grid), negative numbers,
    /// explicit ranges off-step, dates by years and months.
    #[test]
    fn mongodb_partition_tests() {
        let full = |step: i32| {
            parse_doc(
                rawdoc! { "field": "val", "partitionByFields": ["part"], "range": { "step": step, "bounds": "full" } },
            )
            .unwrap()
        };
        let i = |v: i32| Some(Bson::Int32(v));
        // fullTestTwo: three partitions of one document each.
        let d = full(2);
        let g = Some((Bson::Int32(0), Bson::Int32(10)));
        assert_eq!(generated(&run(&d, &[i(0)], g.clone())), ints(&[2, 4, 6, 8, 10]));
        assert_eq!(generated(&run(&d, &[i(10)], g.clone())), ints(&[0, 2, 4, 6, 8]));
        // fullTestThree: a document off the grid in the middle.
        let all = run(&d, &[i(0), i(5)], g);
        assert_eq!(all.iter().map(|(v, _)| v.clone()).collect::<Vec<_>>(), ints(&[0, 2, 4, 5, 6, 8, 10]));
        // fullTestFour: negative numbers.
        let d = full(3);
        let g = Some((Bson::Int32(-10), Bson::Int32(10)));
        assert_eq!(generated(&run(&d, &[i(-10), i(10)], g.clone())), ints(&[-7, -4, -1, 2, 5, 8]));
        assert_eq!(generated(&run(&d, &[i(-2)], g)), ints(&[-10, -7, -4, -1, 2, 5, 8]));
        // rangeTestOne / rangeTestThree: explicit bounds, documents outside them.
        let d = parse_doc(
            rawdoc! { "field": "val", "partitionByFields": ["partition"], "range": { "step": 1, "bounds": [2, 3] } },
        )
        .unwrap();
        assert_eq!(generated(&run(&d, &[i(0)], None)), ints(&[2]));
        assert_eq!(generated(&run(&d, &[i(4)], None)), ints(&[2]));
        let d = parse_doc(
            rawdoc! { "field": "val", "partitionByFields": ["partition"], "range": { "step": 2, "bounds": [2, 5] } },
        )
        .unwrap();
        assert_eq!(generated(&run(&d, &[i(0)], None)), ints(&[2, 4]));
        assert_eq!(generated(&run(&d, &[i(10)], None)), ints(&[2, 4]));
        // rangeTestTwoDates: two-month steps in [May 1, Sep 1).
        let (may, sep) = (date("2021-05-01T00:00:00Z"), date("2021-09-01T00:00:00Z"));
        let d = parse_doc(rawdoc! { "field": "val", "partitionByFields": ["part"],
            "range": { "step": 2, "unit": "month", "bounds": [may.as_datetime().copied().unwrap(), sep.as_datetime().copied().unwrap()] } })
        .unwrap();
        let expected = vec![date("2021-05-01T00:00:00Z"), date("2021-07-01T00:00:00Z")];
        for doc in ["2021-01-01T00:00:00Z", "2021-06-01T00:00:00Z", "2021-11-01T00:00:00Z"] {
            assert_eq!(generated(&run(&d, &[Some(date(doc))], None)), expected);
        }
        // fullTestTwoDates: two-year steps from 2021 to 2031.
        let d = parse_doc(rawdoc! { "field": "val", "partitionByFields": ["part"],
        "range": { "step": 2, "unit": "year", "bounds": "full" } })
        .unwrap();
        let g = Some((date("2021-01-01T00:00:00Z"), date("2031-01-01T00:00:00Z")));
        let years = |ys: &[i32]| ys.iter().map(|y| date(&format!("{y}-01-01T00:00:00Z"))).collect::<Vec<_>>();
        assert_eq!(
            generated(&run(&d, &[Some(date("2025-01-01T00:00:00Z"))], g.clone())),
            years(&[2021, 2023, 2027, 2029, 2031])
        );
        assert_eq!(
            generated(&run(&d, &[Some(date("2021-01-01T00:00:00Z"))], g)),
            years(&[2023, 2025, 2027, 2029, 2031])
        );
    }

    #[test]
    fn value_type_errors() {
        let d = parse_doc(rawdoc! { "field": "a", "range": { "step": 1, "bounds": "full" } }).unwrap();
        let one = Bson::Int32(1);
        let g = (&one, &one);
        assert_eq!(code(d.generated_values(Some(&Bson::String("x".into())), None, true, g, g)), 5733201);
        assert_eq!(code(d.generated_values(Some(&date("2021-01-01T00:00:00Z")), None, true, g, g)), 6053600);
        assert_eq!(d.generated_values(Some(&Bson::Null), None, true, g, g).unwrap(), Vec::<Bson>::new());
        assert_eq!(d.generated_values(None, None, true, g, g).unwrap(), Vec::<Bson>::new());
        let d = parse_doc(rawdoc! { "field": "a", "range": { "step": 1, "unit": "day", "bounds": "full" } }).unwrap();
        assert_eq!(code(d.generated_values(Some(&one), None, true, g, g)), 6053600);
    }

    #[test]
    fn generated_limit() {
        let d = parse_doc(rawdoc! { "field": "a", "range": { "step": 1, "bounds": [0, 1_000_000] } }).unwrap();
        assert_eq!(code(d.values_without_documents()), 5897900);
    }

    /// Partition keys and generated documents: dotted names nest, the field is set along
    /// its path.
    #[test]
    fn partition_keys_and_documents() {
        let d = parse_doc(rawdoc! { "field": "m.v", "partitionByFields": ["x.a", "x.b", "y"],
        "range": { "step": 1, "bounds": "partition" } })
        .unwrap();
        let key = d.partition_key(&rawdoc! { "x": { "a": 1, "b": 2, "c": 3 }, "z": 1, "m": { "v": 5 } }).unwrap();
        assert_eq!(key, doc! { "x": { "a": 1, "b": 2 } });
        assert_eq!(
            d.generated_document(&key, Bson::Int32(6)).unwrap(),
            doc! { "x": { "a": 1, "b": 2 }, "m": { "v": 6 } }
        );
        assert_eq!(d.field_value(&rawdoc! { "m": { "v": 5 } }), Some(Bson::Int32(5)));
        assert_eq!(d.field_value(&rawdoc! { "m": [{ "v": 5 }] }), None);
        assert_eq!(d.field_value(&rawdoc! { "m": { "v": null } }), None);
        assert_eq!(d.sort_spec(), doc! { "x.a": 1, "x.b": 1, "y": 1, "m.v": 1 });
        let d =
            parse_doc(rawdoc! { "field": "a.b", "partitionByFields": ["p"], "range": { "step": 1, "bounds": "full" } })
                .unwrap();
        assert_eq!(code(d.generated_document(&doc! { "a": [1] }, Bson::Int32(1))), 5733307);
        assert_eq!(code(d.generated_document(&doc! { "a": 1 }, Bson::Int32(1))), 5733308);
    }

    /// The errors of MongoDB's parse tests (jstests/aggregation/sources/densify/libs/parse_util.js).
    #[test]
    fn parse_errors() {
        let date1 = bson::DateTime::from_millis(0);
        let date2 = bson::DateTime::from_millis(86_400_000);
        assert_eq!(code(parse(RawBsonRef::Int32(1), &ExprContext::default())), 9);
        assert_eq!(code(parse_doc(rawdoc! { "field": "a", "range": { "step": 1.0 } })), 40414);
        assert_eq!(code(parse_doc(rawdoc! { "range": { "step": 1.0, "bounds": "full" } })), 40414);
        assert_eq!(code(parse_doc(rawdoc! { "field": "a", "range": { "bounds": "full" } })), 40414);
        assert_eq!(code(parse_doc(rawdoc! { "field": 1.0, "range": { "step": 1.0, "bounds": "full" } })), 14);
        assert_eq!(code(parse_doc(rawdoc! { "field": "a", "range": { "step": "x", "bounds": "full" } })), 14);
        assert_eq!(
            code(parse_doc(
                rawdoc! { "field": "a", "partitionByFields": "x", "range": { "step": 1.0, "bounds": "full" } }
            )),
            14
        );
        assert_eq!(
            code(parse_doc(
                rawdoc! { "field": "a", "partitionByFields": ["a"], "range": { "step": 1.0, "bounds": "full" } }
            )),
            8993000
        );
        assert_eq!(
            code(parse_doc(
                rawdoc! { "field": "a.b", "partitionByFields": ["a"], "range": { "step": 1.0, "bounds": "full" } }
            )),
            9554500
        );
        assert_eq!(
            code(parse_doc(
                rawdoc! { "field": "a", "partitionByFields": ["a.b"], "range": { "step": 1.0, "bounds": "full" } }
            )),
            8993000
        );
        assert_eq!(
            code(parse_doc(rawdoc! { "field": "a", "range": { "step": 1.0, "bounds": [date1, date2], "unit": 1000 } })),
            14
        );
        assert_eq!(
            code(parse_doc(rawdoc! { "field": "a", "range": { "step": 1.0, "bounds": [date1], "unit": "second" } })),
            5733403
        );
        assert_eq!(code(parse_doc(rawdoc! { "field": "a", "range": { "step": 1.0, "bounds": [0, 1, 2] } })), 5733403);
        assert_eq!(code(parse_doc(rawdoc! { "field": "a", "range": { "step": -1.0, "bounds": [0, 1] } })), 5733401);
        assert_eq!(code(parse_doc(rawdoc! { "field": "$a", "range": { "step": 1.0, "bounds": [0.0, 1.0] } })), 16410);
        assert_eq!(
            code(parse_doc(
                rawdoc! { "field": "a", "partitionByFields": ["$b"], "range": { "step": 1.0, "bounds": [0.0, 1.0] } }
            )),
            16410
        );
        assert_eq!(
            code(parse_doc(
                rawdoc! { "field": "a", "partitionByFields": [], "range": { "step": 1.0, "bounds": "partition" } }
            )),
            5733408
        );
        assert_eq!(code(parse_doc(rawdoc! { "field": "a", "range": { "step": 1.0, "bounds": "partition" } })), 5733408);
        assert_eq!(code(parse_doc(rawdoc! { "field": "a", "range": { "step": 1.0, "bounds": [2, 1] } })), 5733402);
        assert_eq!(
            code(parse_doc(
                rawdoc! { "field": "a", "range": { "step": 1.0, "bounds": [date2, date1], "unit": "second" } }
            )),
            5733402
        );
        assert_eq!(
            code(parse_doc(rawdoc! { "field": "a", "range": { "step": 1.0, "bounds": [1, 2], "unit": "second" } })),
            5733409
        );
        assert_eq!(code(parse_doc(rawdoc! { "field": "a", "range": { "step": 1.0, "bounds": [1, date1] } })), 5733406);
        assert_eq!(
            code(parse_doc(rawdoc! { "field": "a", "range": { "step": 1.0, "bounds": [date1, 1], "unit": "second" } })),
            5733402
        );
        assert_eq!(
            code(parse_doc(
                rawdoc! { "field": "a", "range": { "step": 1.1, "bounds": [date1, date2], "unit": "second" } }
            )),
            6586400
        );
        // Further checks of RangeStatement::parse and the IDL.
        assert_eq!(code(parse_doc(rawdoc! { "field": "a", "range": { "step": 1, "bounds": [1.0, 2.0] } })), 5876900);
        assert_eq!(
            code(parse_doc(rawdoc! { "field": "a", "range": { "step": 1, "bounds": [date1, date2] } })),
            5733410
        );
        assert_eq!(code(parse_doc(rawdoc! { "field": "a", "range": { "step": 1, "bounds": ["a", "b"] } })), 5946800);
        assert_eq!(code(parse_doc(rawdoc! { "field": "a", "range": { "step": 1, "bounds": "nope" } })), 5946802);
        assert_eq!(code(parse_doc(rawdoc! { "field": "a", "range": { "step": 1, "bounds": 1 } })), 5733404);
        assert_eq!(
            code(parse_doc(rawdoc! { "field": "a", "range": { "step": 1, "unit": "fortnight", "bounds": "full" } })),
            9
        );
        assert_eq!(code(parse_doc(rawdoc! { "field": "a", "range": { "step": 1, "bounds": "full", "x": 1 } })), 40415);
        assert_eq!(code(parse_doc(rawdoc! { "field": "a", "range": { "step": 1, "bounds": "full" }, "x": 1 })), 40415);
        assert_eq!(
            code(parse_doc(rawdoc! { "field": "a", "field": "b", "range": { "step": 1, "bounds": "full" } })),
            40413
        );
        assert_eq!(code(parse_doc(rawdoc! { "field": "a", "range": 1 })), 14);
        // The positive cases.
        for ok in [
            rawdoc! { "field": "a", "range": { "step": 1.0, "bounds": [1.0, 2.0] } },
            rawdoc! { "field": "a", "range": { "step": 1.0, "bounds": [date1, date2], "unit": "day" } },
            rawdoc! { "field": "a", "partitionByFields": ["b", "c"], "range": { "step": 1.0, "bounds": [date1, date2], "unit": "week" } },
            rawdoc! { "field": "a", "partitionByFields": ["b", "c"], "range": { "step": 1.0, "bounds": "partition", "unit": "second" } },
            rawdoc! { "field": "a", "partitionByFields": ["b", "c"], "range": { "step": 1.0, "bounds": "full", "unit": "second" } },
            rawdoc! { "field": "a", "partitionByFields": ["b", "c"], "range": { "step": 1.0, "bounds": "full" } },
            rawdoc! { "field": "a", "partitionByFields": ["b"], "range": { "step": 1.0, "bounds": "partition" } },
            rawdoc! { "field": "a", "range": { "step": 1.0, "bounds": "full" } },
        ] {
            parse_doc(ok).unwrap();
        }
    }
}
