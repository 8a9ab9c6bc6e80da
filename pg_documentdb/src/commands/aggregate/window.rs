//! `$setWindowFields` as PostgreSQL window functions: one `OVER (PARTITION BY <partitionBy>
//! ORDER BY <sortBy> <frame>)` per output field, over the documents sorted by partition and
//! sort keys (the stage's output order, as MongoDB's, which sorts the same way first).
//!
//! * `$rank` `$denseRank` `$documentNumber` are `rank()` `dense_rank()` `row_number()`;
//! * `$shift` is `lead`/`lag` with the default;
//! * every accumulator, and the window-only `$locf` `$integral` `$derivative`
//!   `$expMovingAvg` `$covariancePop` `$covarianceSamp`, is our `$group` aggregate over the
//!   frame (`documents` windows are ROWS frames; `range` windows RANGE frames over the
//!   numeric sort value, or with `unit` over the date as a UTC timestamp and an interval);
//! * `$linearFill` is the previous and next non-null points (`$locf` forwards and
//!   backwards) and an interpolation per document.
//!
//! `$fill` is MongoDB's desugaring into this stage and `$addFields` (documentdb_query::fill).

use bson::{Bson, RawBsonRef, RawDocumentBuf};
use documentdb_errors::{bail, docdb_error, DocDbResult};
use documentdb_query::window::{self, Bound, SetWindowFields, WindowBounds, WindowFunction, WindowOutput};

use super::{wrap_value_doc, Pipeline};
use crate::commands::cursor::OwnedParam;
use crate::commands::query_sql::order_by;
use crate::sql_names;

/// The `{ "": null }` a missing value becomes where a window function needs a value.
const NULL_VALUE: &str = "'{ \"\" : null }'::documentdb_core.bson";

impl Pipeline {
    pub(super) fn add_set_window_fields(&mut self, value: RawBsonRef<'_>) -> DocDbResult<()> {
        let spec = window::parse(value, &self.b.ctx()?)?;
        self.wrap(false);
        let partition = match &spec.partition_by {
            Some(expr) => {
                let p = self.bson_param(wrap_value_doc(raw(expr)?.as_raw_bson_ref()));
                let get = self.b.call(sql_names::EXPRESSION_GET, &format!("document, {p}"));
                Some(format!("coalesce({get}, {NULL_VALUE})"))
            }
            None => None,
        };
        let sort_keys = match &spec.sort_by {
            Some(sort) => {
                let sort = documentdb_query::document::to_raw_document(sort)?;
                order_by(None, &sort, "document")?
            }
            None => Vec::new(),
        };
        let partition_clause = partition.as_ref().map(|p| format!("PARTITION BY {p} ")).unwrap_or_default();
        let window_over = |order_sql: &str, frame: &str| {
            let order_clause = if order_sql.is_empty() { String::new() } else { format!("ORDER BY {order_sql} ") };
            format!("OVER ({partition_clause}{order_clause}{frame})")
        };
        let mut document = "document".to_owned();
        for output in &spec.outputs {
            let value = match &output.function {
                WindowFunction::Rank | WindowFunction::DenseRank | WindowFunction::DocumentNumber => {
                    let function = match output.function {
                        WindowFunction::Rank => "rank()",
                        WindowFunction::DenseRank => "dense_rank()",
                        _ => "row_number()",
                    };
                    let over = window_over(&order_sql(&sort_keys, false), "");
                    format!("{}(''::text, ({function} {over})::int4)", sql_names::BUILD_DOCUMENT)
                }
                WindowFunction::Shift { output: expr, by, default } => {
                    let p = self.bson_param(wrap_value_doc(raw(expr)?.as_raw_bson_ref()));
                    let get = self.b.call(sql_names::EXPRESSION_GET, &format!("document, {p}"));
                    let default = self.bson_param(wrap_value_doc(raw(default)?.as_raw_bson_ref()));
                    let (function, offset) = if *by >= 0 { ("lead", *by) } else { ("lag", -*by) };
                    let over = window_over(&order_sql(&sort_keys, false), "");
                    format!("{function}(coalesce({get}, {NULL_VALUE}), {offset}, {default}) {over}")
                }
                WindowFunction::LinearFill(expr) => self.linear_fill(&spec, expr, &sort_keys, &window_over)?,
                WindowFunction::Accumulator { .. } => {
                    let Some((op, arg)) = window::accumulator_argument(output, spec.sort_by.as_ref()) else {
                        bail!(InternalError, "window accumulator without an argument");
                    };
                    let (window_order, frame) = self.frame(&spec, output, &sort_keys)?;
                    let accumulate = self.window_accumulator(&op, arg)?;
                    format!("{accumulate} {}", window_over(&window_order, &frame))
                }
            };
            let path = self.b.param(OwnedParam::Text(output.path.clone()));
            document = format!("{}({document}, {path}::text, {value})", sql_names::SET_FIELD);
        }
        self.level.select = document;
        self.level.identity = false;
        // The output comes sorted by partition, then by the sort keys.
        let mut output_order = Vec::new();
        if let Some(p) = &partition {
            output_order.push(format!("{p} ASC"));
        }
        if !sort_keys.is_empty() {
            output_order.push(order_sql(&sort_keys, false));
        }
        if !output_order.is_empty() {
            self.level.order = Some(output_order.join(", "));
        }
        self.level.order_keys.clear();
        Ok(())
    }

    /// `bson_group_accumulate(document, {op: arg [, $$vars]})`.
    fn window_accumulator(&mut self, op: &str, arg: Bson) -> DocDbResult<String> {
        let mut spec = RawDocumentBuf::new();
        spec.append(crate::commands::index_sql::cstr_key(op)?, raw(&arg)?);
        let p = self.accumulator_spec(spec);
        Ok(format!("{}(document, {p})", sql_names::GROUP_ACCUMULATE))
    }

    /// The ORDER BY and frame clause of an output's window.
    fn frame(
        &mut self,
        spec: &SetWindowFields,
        output: &WindowOutput,
        sort_keys: &[(String, bool)],
    ) -> DocDbResult<(String, String)> {
        match output.frame() {
            WindowBounds::Documents(lower, upper) => Ok((
                order_sql(sort_keys, false),
                format!("ROWS BETWEEN {} AND {}", rows_bound(&lower, true)?, rows_bound(&upper, false)?),
            )),
            WindowBounds::Range { lower, upper, unit } => {
                let Some((path, ascending)) = spec.sort_by.as_ref().and_then(|s| s.iter().next()).map(|(k, v)| {
                    (
                        k.clone(),
                        !matches!(v, Bson::Int32(-1) | Bson::Int64(-1)) && !matches!(v, Bson::Double(d) if *d < 0.0),
                    )
                }) else {
                    bail!(FailedToParse, "a range-based window requires sortBy a single field");
                };
                let path_param = self.b.param(OwnedParam::Text(path));
                let unit_sql = match &unit {
                    Some(u) => format!("{}::text", self.b.param(OwnedParam::Text(u.clone()))),
                    None => "NULL::text".to_owned(),
                };
                let number = format!("{}(document, {path_param}::text, {unit_sql})", sql_names::WINDOW_RANGE_KEY);
                let key = match unit {
                    // Calendar units need calendar arithmetic: the date as a UTC timestamp.
                    Some(_) => format!("(to_timestamp({number} / 1000.0) AT TIME ZONE 'UTC')"),
                    None => number,
                };
                let direction = if ascending { "ASC" } else { "DESC" };
                let frame = format!(
                    "RANGE BETWEEN {} AND {}",
                    range_bound(&lower, true, unit.as_deref())?,
                    range_bound(&upper, false, unit.as_deref())?
                );
                Ok((format!("{key} {direction}"), frame))
            }
        }
    }

    /// `$linearFill`: the document's own value, or the interpolation between the previous
    /// and next documents' non-null values (`$locf` over `[x, y]` points both ways).
    fn linear_fill(
        &mut self,
        spec: &SetWindowFields,
        expr: &Bson,
        sort_keys: &[(String, bool)],
        window_over: &dyn Fn(&str, &str) -> String,
    ) -> DocDbResult<String> {
        let Some(sort_path) = spec.sort_by.as_ref().and_then(|s| s.keys().next().cloned()) else {
            bail!(FailedToParse, "$linearFill requires a sortBy with a single field");
        };
        let pair = window::fill_pair_expression(&sort_path, expr);
        let to_current = "ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW";
        let locf = self.window_accumulator("$locf", pair)?;
        let previous = format!("{locf} {}", window_over(&order_sql(sort_keys, false), to_current));
        let next = format!("{locf} {}", window_over(&order_sql(sort_keys, true), to_current));
        let own_param = self.bson_param(wrap_value_doc(raw(expr)?.as_raw_bson_ref()));
        let own = self.b.call(sql_names::EXPRESSION_GET, &format!("document, {own_param}"));
        let x_param = self.bson_param(wrap_value_doc(RawBsonRef::String(&format!("${sort_path}"))));
        let x = self.b.call(sql_names::EXPRESSION_GET, &format!("document, {x_param}"));
        Ok(format!("{}({x}, {own}, {previous}, {next})", sql_names::LINEAR_FILL))
    }
}

/// ORDER BY of sort keys, or of their reverse.
fn order_sql(keys: &[(String, bool)], reverse: bool) -> String {
    keys.iter()
        .map(|(k, asc)| format!("{k} {}", if *asc != reverse { "ASC" } else { "DESC" }))
        .collect::<Vec<_>>()
        .join(", ")
}

fn raw(value: &Bson) -> DocDbResult<bson::RawBson> {
    bson::RawBson::try_from(value.clone()).map_err(|e| docdb_error!(InvalidBSON, "{e}"))
}

fn integral(value: &Bson) -> DocDbResult<i64> {
    match value {
        Bson::Int32(i) => Ok(i64::from(*i)),
        Bson::Int64(i) => Ok(*i),
        Bson::Double(d) if d.fract() == 0.0 => Ok(*d as i64),
        other => bail!(FailedToParse, "window bounds must be integers, found {other}"),
    }
}

/// A ROWS frame bound: documents before (negative) or after (positive) the current one.
fn rows_bound(bound: &Bound, lower: bool) -> DocDbResult<String> {
    Ok(match bound {
        Bound::Unbounded if lower => "UNBOUNDED PRECEDING".to_owned(),
        Bound::Unbounded => "UNBOUNDED FOLLOWING".to_owned(),
        Bound::Current => "CURRENT ROW".to_owned(),
        Bound::Offset(n) => match integral(n)? {
            0 => "CURRENT ROW".to_owned(),
            n if n < 0 => format!("{} PRECEDING", -n),
            n => format!("{n} FOLLOWING"),
        },
    })
}

/// A RANGE frame bound: a numeric offset of the sort value, or with `unit` an interval.
fn range_bound(bound: &Bound, lower: bool, unit: Option<&str>) -> DocDbResult<String> {
    let offset = match bound {
        Bound::Unbounded if lower => return Ok("UNBOUNDED PRECEDING".to_owned()),
        Bound::Unbounded => return Ok("UNBOUNDED FOLLOWING".to_owned()),
        Bound::Current => return Ok("CURRENT ROW".to_owned()),
        Bound::Offset(n) => n,
    };
    let (magnitude, preceding) = match unit {
        Some(unit) => {
            let n = integral(offset)?;
            let (count, unit) =
                if unit == "quarter" { (n.unsigned_abs() * 3, "month") } else { (n.unsigned_abs(), unit) };
            (format!("interval '{count} {unit}'"), n < 0)
        }
        None => {
            let n = match offset {
                Bson::Int32(i) => f64::from(*i),
                Bson::Int64(i) => *i as f64,
                Bson::Double(d) => *d,
                Bson::Decimal128(d) => d.to_string().parse::<f64>().unwrap_or(f64::NAN),
                other => bail!(FailedToParse, "range window bounds must be numbers, found {other}"),
            };
            if !n.is_finite() {
                bail!(FailedToParse, "range window bounds must be finite numbers");
            }
            (format!("{:?}::float8", n.abs()), n < 0.0)
        }
    };
    Ok(format!("{magnitude} {}", if preceding { "PRECEDING" } else { "FOLLOWING" }))
}
