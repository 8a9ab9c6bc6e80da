//! Per-row functions of `$densify` (`commands/aggregate/densify.rs`); `spec` is `{ spec:
//! <the stage's value> }`. Values travel as `{ "" : value }` (SQL NULL: no value).

use bson::{Bson as BsonValue, RawBsonRef};
use documentdb_errors::{docdb_error, DocDbResult};
use documentdb_pgbson::{ok_or_throw, Bson, BsonRef};
use documentdb_query::densify::Densify;
use pgrx::prelude::*;

use super::per_row::wrap;

fn parse(spec: BsonRef<'_>) -> DocDbResult<Densify> {
    let value = spec.document().get("spec").map_err(|e| docdb_error!(InvalidBSON, "{e}"))?;
    let value = value.ok_or_else(|| docdb_error!(InternalError, "$densify spec missing"))?;
    documentdb_query::densify::parse(value, &documentdb_query::expr::ExprContext::default())
}

fn value_of(wrapped: &Option<BsonRef<'_>>) -> DocDbResult<Option<BsonValue>> {
    match wrapped.as_ref().and_then(|w| w.document().iter().next()) {
        Some(Ok((_, RawBsonRef::Null))) | None => Ok(None),
        Some(Ok((_, v))) => BsonValue::try_from(v).map(Some).map_err(|e| docdb_error!(InvalidBSON, "{e}")),
        Some(Err(e)) => Err(docdb_error!(InvalidBSON, "{e}")),
    }
}

fn wrap_value(value: &BsonValue) -> DocDbResult<Bson> {
    let raw = documentdb_query::document::to_raw_value(value)?;
    Ok(wrap(raw.as_raw_bson_ref()))
}

/// The document's partition key (an empty document without partitionByFields).
#[pg_extern(sql = false)]
fn bson_densify_partition(document: BsonRef<'_>, spec: BsonRef<'_>) -> Bson {
    ok_or_throw((|| {
        let key = parse(spec)?.partition_key(document.document())?;
        documentdb_query::document::to_raw_document(&key).map(Bson::from)
    })())
}

/// The document's value of the densified field, `{ "" : value }`; NULL when missing or null.
#[pg_extern(sql = false)]
fn bson_densify_value(document: BsonRef<'_>, spec: BsonRef<'_>) -> Option<Bson> {
    ok_or_throw((|| match parse(spec)?.field_value(document.document()) {
        Some(v) => wrap_value(&v).map(Some),
        None => Ok(None),
    })())
}

/// One input document and the documents generated around it: those before it (the first
/// document with a value of its partition), it, those up to the next document's value.
#[allow(clippy::too_many_arguments)]
#[pg_extern(sql = false)]
fn bson_densify_generate(
    document: BsonRef<'_>,
    partition: BsonRef<'_>,
    value: Option<BsonRef<'_>>,
    next: Option<BsonRef<'_>>,
    first_in_partition: bool,
    partition_min: Option<BsonRef<'_>>,
    partition_max: Option<BsonRef<'_>>,
    global_min: Option<BsonRef<'_>>,
    global_max: Option<BsonRef<'_>>,
    spec: BsonRef<'_>,
) -> SetOfIterator<'static, Bson> {
    let rows = ok_or_throw((|| {
        let densify = parse(spec)?;
        let current = value_of(&value)?;
        let null = BsonValue::Null;
        let (pmin, pmax) = (value_of(&partition_min)?, value_of(&partition_max)?);
        let (gmin, gmax) = (value_of(&global_min)?, value_of(&global_max)?);
        let generated = densify.generated_values(
            current.as_ref(),
            value_of(&next)?.as_ref(),
            first_in_partition,
            (pmin.as_ref().unwrap_or(&null), pmax.as_ref().unwrap_or(&null)),
            (gmin.as_ref().unwrap_or(&null), gmax.as_ref().unwrap_or(&null)),
        )?;
        let key = bson::Document::try_from(partition.document()).map_err(|e| docdb_error!(InvalidBSON, "{e}"))?;
        let mut rows = Vec::with_capacity(generated.len() + 1);
        let mut placed = false;
        let current_raw = current.as_ref().map(documentdb_query::document::to_raw_value).transpose()?;
        for v in generated {
            let v_raw = documentdb_query::document::to_raw_value(&v)?;
            let before = current_raw.as_ref().is_some_and(|c| {
                documentdb_bson::compare::compare_values(v_raw.as_raw_bson_ref(), c.as_raw_bson_ref())
                    == std::cmp::Ordering::Less
            });
            if !before && !placed {
                rows.push(Bson::from(document.document().to_owned()));
                placed = true;
            }
            let doc = densify.generated_document(&key, v)?;
            rows.push(Bson::from(documentdb_query::document::to_raw_document(&doc)?));
        }
        if !placed {
            rows.push(Bson::from(document.document().to_owned()));
        }
        Ok(rows)
    })());
    SetOfIterator::new(rows)
}

/// The documents `$densify` generates when no document has a value (explicit bounds, no
/// partitions: the whole range).
#[pg_extern(sql = false)]
fn bson_densify_without_documents(spec: BsonRef<'_>) -> SetOfIterator<'static, Bson> {
    let rows = ok_or_throw((|| {
        let densify = parse(spec)?;
        let empty = bson::Document::new();
        densify
            .values_without_documents()?
            .into_iter()
            .map(|v| {
                densify
                    .generated_document(&empty, v)
                    .and_then(|d| documentdb_query::document::to_raw_document(&d))
                    .map(Bson::from)
            })
            .collect::<DocDbResult<Vec<_>>>()
    })());
    SetOfIterator::new(rows)
}
