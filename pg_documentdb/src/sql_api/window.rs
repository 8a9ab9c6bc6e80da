//! Per-row functions of `$setWindowFields` (`commands/aggregate/window.rs`): setting an
//! output field, the sort value a range window orders by, and `$linearFill`.

use bson::RawBsonRef;
use documentdb_errors::{docdb_error, DocDbError, DocDbResult, ErrorCode};
use documentdb_pgbson::{ok_or_throw, Bson, BsonRef};
use documentdb_query::projection::Projection;
use pgrx::prelude::*;

use super::per_row::wrap;

/// The value of a `{ "" : value }` document (None for SQL NULL or `null`).
fn single(value: Option<&BsonRef<'_>>) -> DocDbResult<Option<bson::Bson>> {
    let Some(doc) = value else { return Ok(None) };
    match doc.document().iter().next() {
        Some(Ok((_, RawBsonRef::Null))) | None => Ok(None),
        Some(Ok((_, v))) => bson::Bson::try_from(v).map(Some).map_err(|e| docdb_error!(InvalidBSON, "{e}")),
        Some(Err(e)) => Err(docdb_error!(InvalidBSON, "{e}")),
    }
}

/// `document` with `path` set to `value` (`{ "" : v }`; SQL NULL sets `null`).
#[pg_extern(sql = false)]
fn bson_set_field(document: BsonRef<'_>, path: &str, value: Option<BsonRef<'_>>) -> Bson {
    let v = match &value {
        Some(v) => match v.document().iter().next() {
            Some(Ok((_, v))) => v,
            _ => RawBsonRef::Null,
        },
        None => RawBsonRef::Null,
    };
    ok_or_throw(Projection::set_value(document.document(), path, v).map(Bson::from))
}

/// The sort value of a range window: the number at `path`, or with a `unit` the date at
/// `path` in milliseconds; MongoDB's errors (5429413 / 5429513) for other values.
#[pg_extern(sql = false)]
fn bson_window_range_key(document: BsonRef<'_>, path: &str, unit: Option<&str>) -> f64 {
    let value = documentdb_bson::path::lookup_strict(document.document(), path);
    let type_name = || value.map_or("missing", |v| documentdb_bson::type_name(v.element_type()));
    ok_or_throw(match (unit, value) {
        (None, Some(RawBsonRef::Int32(i))) => Ok(f64::from(i)),
        (None, Some(RawBsonRef::Int64(i))) => Ok(i as f64),
        (None, Some(RawBsonRef::Double(d))) => Ok(d),
        (None, Some(RawBsonRef::Decimal128(d))) => Ok(d.to_string().parse::<f64>().unwrap_or(f64::NAN)),
        (Some(_), Some(RawBsonRef::DateTime(d))) => Ok(d.timestamp_millis() as f64),
        (None, _) => Err(DocDbError::new(
            ErrorCode::new(5429413),
            format!("Invalid range: Expected the sortBy field to be a number, but it was {}", type_name()),
        )),
        (Some(_), _) => Err(DocDbError::new(
            ErrorCode::new(5429513),
            format!("Invalid range: Expected the sortBy field to be a Date, but it was {}", type_name()),
        )),
    })
}

/// `$linearFill` of one document: its own value, or the interpolation at its sort value `x`
/// between the previous and next `[x, y]` points (each `{ "" : [x, y] }` or null).
#[pg_extern(sql = false)]
fn bson_linear_fill(
    x: Option<BsonRef<'_>>,
    own: Option<BsonRef<'_>>,
    previous: Option<BsonRef<'_>>,
    next: Option<BsonRef<'_>>,
) -> Bson {
    ok_or_throw((|| {
        let x = single(x.as_ref())?.unwrap_or(bson::Bson::Null);
        let own = single(own.as_ref())?;
        let previous = single(previous.as_ref())?;
        let next = single(next.as_ref())?;
        let filled = documentdb_query::window::linear_fill(&x, own.as_ref(), previous.as_ref(), next.as_ref())?;
        let raw = documentdb_query::document::to_raw_value(&filled)?;
        Ok(wrap(raw.as_raw_bson_ref()))
    })())
}
