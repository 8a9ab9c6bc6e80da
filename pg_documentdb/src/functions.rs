//! Per-row SQL functions the generated queries call: query match, projections, sort keys,
//! expression values. Each parses its constant spec argument once per query (cached in the
//! call site's `fn_extra`, keyed by the spec bytes) and then runs on borrowed bytes.

use std::cell::RefCell;
use std::rc::Rc;

use bson::{RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::{docdb_error, DocDbResult};
use documentdb_pgbson::{ok_or_throw, Bson, BsonRef};
use documentdb_query::expr::{ExprContext, Expression};
use documentdb_query::filter::{Filter, PushdownOp};
use documentdb_query::projection::Projection;
use pgrx::prelude::*;
use pgrx::PgMemoryContexts;

use crate::commands::write_result::cstr;

/// The per-call-site cache slot: the spec bytes and what was parsed from them.
struct CacheSlot<T> {
    entry: RefCell<Option<(Vec<u8>, Rc<T>)>>,
}

/// Returns the value parsed from `key` for this call site, parsing on first use (or when
/// the spec changes between calls, e.g. a parameter in a generic plan).
pub fn cached<T: 'static>(
    fcinfo: pg_sys::FunctionCallInfo,
    key: &[u8],
    parse: impl FnOnce() -> DocDbResult<T>,
) -> DocDbResult<Rc<T>> {
    // SAFETY: fn_extra is ours for this FmgrInfo; the slot lives in fn_mcxt (which lives
    // as long as the FmgrInfo) and is dropped when that context is reset or deleted.
    let slot: &CacheSlot<T> = unsafe {
        let flinfo = (*fcinfo).flinfo;
        if (*flinfo).fn_extra.is_null() {
            let slot = PgMemoryContexts::For((*flinfo).fn_mcxt)
                .leak_and_drop_on_delete(CacheSlot::<T> { entry: RefCell::new(None) });
            (*flinfo).fn_extra = slot.cast();
        }
        &*((*flinfo).fn_extra as *const CacheSlot<T>)
    };
    if let Some((cached_key, value)) = slot.entry.borrow().as_ref() {
        if cached_key.as_slice() == key {
            return Ok(Rc::clone(value));
        }
    }
    let value = Rc::new(parse()?);
    *slot.entry.borrow_mut() = Some((key.to_vec(), Rc::clone(&value)));
    Ok(value)
}

/// One pushed-down predicate on `document`; the operand is parsed once per call site.
fn pushdown_match(
    op: PushdownOp,
    document: BsonRef<'_>,
    operand: BsonRef<'_>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> bool {
    ok_or_throw(
        cached(fcinfo, operand.as_bytes(), || Filter::for_pushdown(op, operand.document()))
            .and_then(|filter| filter.matches(document.document())),
    )
}

/// `{ "" : value }`.
pub fn wrap(value: RawBsonRef<'_>) -> Bson {
    let mut doc = RawDocumentBuf::new();
    doc.append(cstr(""), value);
    Bson::from(doc)
}

fn wrap_owned(value: &bson::Bson) -> DocDbResult<Bson> {
    let raw = documentdb_query::document::to_raw_value(value)?;
    Ok(wrap(raw.as_raw_bson_ref()))
}

/// The single value of a `{ "" : value }` spec document.
pub fn unwrap_value(doc: &RawDocument) -> DocDbResult<RawBsonRef<'_>> {
    match doc.iter().next() {
        Some(Ok((_, value))) => Ok(value),
        _ => Err(docdb_error!(InternalError, "expected a single-value document")),
    }
}

/// SQL functions in the extension's schema (`documentdb_api_internal`).
mod sql_functions {
    use super::*;

    /// Does `document` match the MongoDB query `query`?
    #[pg_extern(immutable, parallel_safe, strict)]
    fn bson_query_match(document: BsonRef<'_>, query: BsonRef<'_>, fcinfo: pg_sys::FunctionCallInfo) -> bool {
        ok_or_throw(
            cached(fcinfo, query.as_bytes(), || Filter::parse(query.document()))
                .and_then(|filter| filter.matches(document.document())),
        )
    }

    // The filter's index-servable predicates, as operators `document <op> '{ path: value }'`
    // (documentdb_api_catalog.@= @> @>= @< @<= @*= @?). Each has exactly the semantics of
    // `{ path: { $op: value } }`, so index opclasses can attach to them later.

    #[pg_extern(immutable, parallel_safe, strict)]
    fn bson_dollar_eq(document: BsonRef<'_>, operand: BsonRef<'_>, fcinfo: pg_sys::FunctionCallInfo) -> bool {
        pushdown_match(PushdownOp::Eq, document, operand, fcinfo)
    }

    #[pg_extern(immutable, parallel_safe, strict)]
    fn bson_dollar_gt(document: BsonRef<'_>, operand: BsonRef<'_>, fcinfo: pg_sys::FunctionCallInfo) -> bool {
        pushdown_match(PushdownOp::Gt, document, operand, fcinfo)
    }

    #[pg_extern(immutable, parallel_safe, strict)]
    fn bson_dollar_gte(document: BsonRef<'_>, operand: BsonRef<'_>, fcinfo: pg_sys::FunctionCallInfo) -> bool {
        pushdown_match(PushdownOp::Gte, document, operand, fcinfo)
    }

    #[pg_extern(immutable, parallel_safe, strict)]
    fn bson_dollar_lt(document: BsonRef<'_>, operand: BsonRef<'_>, fcinfo: pg_sys::FunctionCallInfo) -> bool {
        pushdown_match(PushdownOp::Lt, document, operand, fcinfo)
    }

    #[pg_extern(immutable, parallel_safe, strict)]
    fn bson_dollar_lte(document: BsonRef<'_>, operand: BsonRef<'_>, fcinfo: pg_sys::FunctionCallInfo) -> bool {
        pushdown_match(PushdownOp::Lte, document, operand, fcinfo)
    }

    #[pg_extern(immutable, parallel_safe, strict)]
    fn bson_dollar_in(document: BsonRef<'_>, operand: BsonRef<'_>, fcinfo: pg_sys::FunctionCallInfo) -> bool {
        pushdown_match(PushdownOp::In, document, operand, fcinfo)
    }

    #[pg_extern(immutable, parallel_safe, strict)]
    fn bson_dollar_exists(document: BsonRef<'_>, operand: BsonRef<'_>, fcinfo: pg_sys::FunctionCallInfo) -> bool {
        pushdown_match(PushdownOp::Exists, document, operand, fcinfo)
    }

    /// Applies a `find` projection (`query` is the find filter, used by positional `$`).
    #[pg_extern(immutable, parallel_safe, strict)]
    fn bson_project_find(
        document: BsonRef<'_>,
        projection: BsonRef<'_>,
        query: BsonRef<'_>,
        fcinfo: pg_sys::FunctionCallInfo,
    ) -> Bson {
        ok_or_throw(
            cached(fcinfo, &cache_key(&[projection.as_bytes(), query.as_bytes()]), || {
                let filter = Filter::parse(query.document())?;
                Projection::parse_find(projection.document(), Some(&filter))
            })
            .and_then(|p| p.apply(document.document()))
            .map(Bson::from),
        )
    }

    /// Applies a `$project` stage.
    #[pg_extern(immutable, parallel_safe, strict)]
    fn bson_dollar_project(document: BsonRef<'_>, spec: BsonRef<'_>, fcinfo: pg_sys::FunctionCallInfo) -> Bson {
        ok_or_throw(
            cached(fcinfo, spec.as_bytes(), || Projection::parse_project_stage(spec.document()))
                .and_then(|p| p.apply(document.document()))
                .map(Bson::from),
        )
    }

    /// Applies an `$addFields`/`$set` stage.
    #[pg_extern(immutable, parallel_safe, strict)]
    fn bson_dollar_add_fields(document: BsonRef<'_>, spec: BsonRef<'_>, fcinfo: pg_sys::FunctionCallInfo) -> Bson {
        ok_or_throw(
            cached(fcinfo, spec.as_bytes(), || Projection::parse_add_fields(spec.document()))
                .and_then(|p| p.apply(document.document()))
                .map(Bson::from),
        )
    }

    /// Applies an `$unset` stage; `spec` is `{ "" : "field" | ["f1", ...] }`.
    #[pg_extern(immutable, parallel_safe, strict)]
    fn bson_dollar_unset(document: BsonRef<'_>, spec: BsonRef<'_>, fcinfo: pg_sys::FunctionCallInfo) -> Bson {
        ok_or_throw(
            cached(fcinfo, spec.as_bytes(), || Projection::parse_unset(unwrap_value(spec.document())?))
                .and_then(|p| p.apply(document.document()))
                .map(Bson::from),
        )
    }

    /// Sort key of `document` for a one-key sort spec `{ "path" : 1 | -1 }`, as
    /// `{ "" : key }` so the bson btree operators order it.
    #[pg_extern(immutable, parallel_safe, strict)]
    fn bson_orderby(document: BsonRef<'_>, spec: BsonRef<'_>) -> Bson {
        ok_or_throw((|| {
            let (path, direction) = match spec.document().iter().next() {
                Some(Ok((path, direction))) => (path.as_str(), direction),
                _ => return Err(docdb_error!(InternalError, "bson_orderby needs a one-key spec")),
            };
            let ascending = !matches!(direction, RawBsonRef::Int32(-1) | RawBsonRef::Int64(-1))
                && !matches!(direction, RawBsonRef::Double(d) if d < 0.0);
            let key = documentdb_query::sort::sort_key(document.document(), path, ascending);
            Ok(wrap(key.as_raw_bson_ref()))
        })())
    }

    /// Value of an aggregation expression `{ "" : <expression> }` on `document`, as
    /// `{ "" : value }`; SQL NULL when the expression evaluates to missing.
    #[pg_extern(immutable, parallel_safe, strict)]
    fn bson_expression_get(
        document: BsonRef<'_>,
        expression: BsonRef<'_>,
        fcinfo: pg_sys::FunctionCallInfo,
    ) -> Option<Bson> {
        ok_or_throw((|| {
            let expr = cached(fcinfo, expression.as_bytes(), || {
                Expression::parse(unwrap_value(expression.document())?, &ExprContext::default())
            })?;
            match expr.evaluate(document.document())? {
                Some(value) => wrap_owned(&value).map(Some),
                None => Ok(None),
            }
        })())
    }

    /// The values `distinct` collects from one document at `path`: array values are
    /// unwound one level, as MongoDB's distinct does.
    #[pg_extern(immutable, parallel_safe, strict)]
    fn bson_distinct_unwind(document: BsonRef<'_>, path: &str) -> SetOfIterator<'static, Bson> {
        let mut out = Vec::new();
        collect_distinct(document.document(), path, &mut out);
        SetOfIterator::new(out)
    }
}

/// Gathers the values at a dotted path for `distinct`, traversing arrays of documents
/// and unwinding array values.
fn collect_distinct(doc: &RawDocument, path: &str, out: &mut Vec<Bson>) {
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    let Ok(Some(value)) = doc.get(head) else {
        return;
    };
    collect_distinct_value(value, rest, out);
}

fn collect_distinct_value(value: RawBsonRef<'_>, rest: Option<&str>, out: &mut Vec<Bson>) {
    match (value, rest) {
        (RawBsonRef::Array(items), None) => {
            for item in items.into_iter().flatten() {
                out.push(wrap(item));
            }
        }
        (value, None) => out.push(wrap(value)),
        (RawBsonRef::Document(sub), Some(rest)) => collect_distinct(sub, rest, out),
        (RawBsonRef::Array(items), Some(rest)) => {
            // A numeric component indexes the array; otherwise traverse element documents.
            let (head, tail) = match rest.split_once('.') {
                Some((h, t)) => (h, Some(t)),
                None => (rest, None),
            };
            if let Ok(index) = head.parse::<usize>() {
                if let Some(Ok(item)) = items.into_iter().nth(index) {
                    collect_distinct_value(item, tail, out);
                }
                return;
            }
            for item in items.into_iter().flatten() {
                if let RawBsonRef::Document(sub) = item {
                    collect_distinct(sub, rest, out);
                }
            }
        }
        _ => {}
    }
}

/// Per-row update used by multi-document updates: `spec` is
/// `{ q, u, arrayFilters?, validator?, validationLevel?, validationAction? }`.
struct UpdatePlan {
    filter: Filter,
    update: documentdb_query::update::Update,
    uses_positional: bool,
    validator: Option<(Filter, bool, bool)>,
}

fn parse_update_plan(spec: &RawDocument) -> DocDbResult<UpdatePlan> {
    let q = spec.get_document("q").map_err(|_| docdb_error!(InternalError, "update plan without q"))?;
    let u = spec.get("u").ok().flatten().ok_or_else(|| docdb_error!(InternalError, "update plan without u"))?;
    let array_filters = spec.get_array("arrayFilters").ok();
    let ctx = match spec.get_document("let") {
        Ok(vars) => context_of(vars)?,
        Err(_) => ExprContext::default(),
    };
    let update = documentdb_query::update::Update::parse_with_context(u, array_filters, &ctx)?;
    let uses_positional = match u {
        RawBsonRef::Document(d) => has_positional_path(d),
        _ => false,
    };
    let validator = match spec.get_document("validator") {
        Ok(v) => Some((
            Filter::parse(v)?,
            spec.get_str("validationLevel").ok() == Some("moderate"),
            spec.get_str("validationAction").ok() == Some("warn"),
        )),
        Err(_) => None,
    };
    let filter = Filter::parse_with_variables(q, &ctx.variables)?;
    Ok(UpdatePlan { filter, update, uses_positional, validator })
}

/// Does an operator update use the positional `$` in any path (`{$set: {"a.$.b": 1}}`)?
fn has_positional_path(update: &RawDocument) -> bool {
    update.iter().flatten().any(|(_, fields)| match fields {
        RawBsonRef::Document(fields) => {
            fields.iter().flatten().any(|(path, _)| path.as_str().split('.').any(|part| part == "$"))
        }
        _ => false,
    })
}

mod update_functions {
    use super::*;
    use documentdb_query::filter::MatchOutcome;

    /// The document after applying a multi-update statement (equal bytes when unchanged).
    #[pg_extern(immutable, parallel_safe, strict)]
    fn bson_update_document(document: BsonRef<'_>, spec: BsonRef<'_>, fcinfo: pg_sys::FunctionCallInfo) -> Bson {
        ok_or_throw((|| {
            let plan = cached(fcinfo, spec.as_bytes(), || parse_update_plan(spec.document()))?;
            let old = document.document();
            let positional = if plan.uses_positional {
                match plan.filter.matches_positional(old)? {
                    MatchOutcome::Matched(p) => p,
                    MatchOutcome::NoMatch => None,
                }
            } else {
                None
            };
            let outcome = plan.update.apply(old, positional)?;
            if !outcome.modified {
                return Ok(Bson(old.as_bytes().to_vec()));
            }
            documentdb_query::document::check_size(&outcome.document)?;
            if let Some((validator, moderate, warn)) = &plan.validator {
                let was_invalid = *moderate && !validator.matches(old)?;
                if !validator.matches(&outcome.document)? && !was_invalid {
                    if *warn {
                        pgrx::warning!("Document would fail validation");
                    } else {
                        documentdb_errors::bail!(DocumentValidationFailure, "Document failed validation");
                    }
                }
            }
            Ok(Bson::from(outcome.document))
        })())
    }

    /// Byte equality (unlike `=`, which is MongoDB equality where 1 equals 1.0).
    #[pg_extern(immutable, parallel_safe, strict)]
    fn bson_bytes_equal(left: BsonRef<'_>, right: BsonRef<'_>) -> bool {
        left.as_bytes() == right.as_bytes()
    }

    /// `$replaceRoot`/`$replaceWith`: `spec` is `{ "" : <expression> }`.
    #[pg_extern(immutable, parallel_safe, strict)]
    fn bson_dollar_replace_root(document: BsonRef<'_>, spec: BsonRef<'_>, fcinfo: pg_sys::FunctionCallInfo) -> Bson {
        ok_or_throw((|| {
            let expr = cached(fcinfo, spec.as_bytes(), || {
                Expression::parse(unwrap_value(spec.document())?, &ExprContext::default())
            })?;
            replacement_root(expr.evaluate(document.document())?)
        })())
    }

    /// `$unwind` of one document: `spec` is `{ path, includeArrayIndex?, preserveNullAndEmptyArrays? }`.
    #[pg_extern(immutable, parallel_safe, strict)]
    fn bson_dollar_unwind(document: BsonRef<'_>, spec: BsonRef<'_>) -> SetOfIterator<'static, Bson> {
        let unwound = ok_or_throw(documentdb_query::unwind::unwind(document.document(), spec.document()));
        SetOfIterator::new(unwound.into_iter().map(Bson::from))
    }
}

/// `let` variables (a document of constants) as an expression context.
pub fn context_of(vars: &RawDocument) -> DocDbResult<ExprContext> {
    let variables = bson::Document::try_from(vars).map_err(|e| docdb_error!(InvalidBSON, "{e}"))?;
    Ok(ExprContext { variables })
}

fn cache_key(parts: &[&[u8]]) -> Vec<u8> {
    let mut key = Vec::new();
    for part in parts {
        key.extend_from_slice(&(part.len() as u32).to_le_bytes());
        key.extend_from_slice(part);
    }
    key
}

/// Variants of the per-row functions for commands with `let` variables (`vars` is the
/// document of evaluated variable values).
mod let_functions {
    use super::*;

    #[pg_extern(immutable, parallel_safe, strict)]
    fn bson_query_match_let(
        document: BsonRef<'_>,
        query: BsonRef<'_>,
        vars: BsonRef<'_>,
        fcinfo: pg_sys::FunctionCallInfo,
    ) -> bool {
        ok_or_throw(
            cached(fcinfo, &cache_key(&[query.as_bytes(), vars.as_bytes()]), || {
                Filter::parse_with_variables(query.document(), &context_of(vars.document())?.variables)
            })
            .and_then(|filter| filter.matches(document.document())),
        )
    }

    #[pg_extern(immutable, parallel_safe, strict)]
    fn bson_project_find_let(
        document: BsonRef<'_>,
        projection: BsonRef<'_>,
        query: BsonRef<'_>,
        vars: BsonRef<'_>,
        fcinfo: pg_sys::FunctionCallInfo,
    ) -> Bson {
        ok_or_throw(
            cached(fcinfo, &cache_key(&[projection.as_bytes(), query.as_bytes(), vars.as_bytes()]), || {
                let ctx = context_of(vars.document())?;
                let filter = Filter::parse_with_variables(query.document(), &ctx.variables)?;
                Projection::parse_find_with_context(projection.document(), Some(&filter), &ctx)
            })
            .and_then(|p| p.apply(document.document()))
            .map(Bson::from),
        )
    }

    #[pg_extern(immutable, parallel_safe, strict)]
    fn bson_dollar_project_let(
        document: BsonRef<'_>,
        spec: BsonRef<'_>,
        vars: BsonRef<'_>,
        fcinfo: pg_sys::FunctionCallInfo,
    ) -> Bson {
        ok_or_throw(
            cached(fcinfo, &cache_key(&[spec.as_bytes(), vars.as_bytes()]), || {
                Projection::parse_project_stage_with_context(spec.document(), &context_of(vars.document())?)
            })
            .and_then(|p| p.apply(document.document()))
            .map(Bson::from),
        )
    }

    #[pg_extern(immutable, parallel_safe, strict)]
    fn bson_dollar_add_fields_let(
        document: BsonRef<'_>,
        spec: BsonRef<'_>,
        vars: BsonRef<'_>,
        fcinfo: pg_sys::FunctionCallInfo,
    ) -> Bson {
        ok_or_throw(
            cached(fcinfo, &cache_key(&[spec.as_bytes(), vars.as_bytes()]), || {
                Projection::parse_add_fields_with_context(spec.document(), &context_of(vars.document())?)
            })
            .and_then(|p| p.apply(document.document()))
            .map(Bson::from),
        )
    }

    #[pg_extern(immutable, parallel_safe, strict)]
    fn bson_expression_get_let(
        document: BsonRef<'_>,
        expression: BsonRef<'_>,
        vars: BsonRef<'_>,
        fcinfo: pg_sys::FunctionCallInfo,
    ) -> Option<Bson> {
        ok_or_throw((|| {
            let expr = cached(fcinfo, &cache_key(&[expression.as_bytes(), vars.as_bytes()]), || {
                Expression::parse(unwrap_value(expression.document())?, &context_of(vars.document())?)
            })?;
            match expr.evaluate(document.document())? {
                Some(value) => wrap_owned(&value).map(Some),
                None => Ok(None),
            }
        })())
    }

    #[pg_extern(immutable, parallel_safe, strict)]
    fn bson_dollar_replace_root_let(
        document: BsonRef<'_>,
        spec: BsonRef<'_>,
        vars: BsonRef<'_>,
        fcinfo: pg_sys::FunctionCallInfo,
    ) -> Bson {
        ok_or_throw((|| {
            let expr = cached(fcinfo, &cache_key(&[spec.as_bytes(), vars.as_bytes()]), || {
                Expression::parse(unwrap_value(spec.document())?, &context_of(vars.document())?)
            })?;
            replacement_root(expr.evaluate(document.document())?)
        })())
    }
}

/// The document `$replaceRoot`/`$replaceWith` produce, or MongoDB's error for a non-document.
fn replacement_root(value: documentdb_query::Value) -> DocDbResult<Bson> {
    match value {
        Some(bson::Bson::Document(d)) => documentdb_query::document::to_raw_document(&d).map(Bson::from),
        other => Err(documentdb_errors::DocDbError::new(
            documentdb_errors::ErrorCode::new(40228),
            format!(
                "'replacement document' must evaluate to an object, but resulting value was: {}",
                other.map_or("MISSING".to_owned(), |v| v.to_string())
            ),
        )),
    }
}
