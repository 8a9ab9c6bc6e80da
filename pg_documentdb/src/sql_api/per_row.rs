//! The per-row functions generated queries call (names in `sql_names.rs`): query match,
//! the index-servable filter operators, projections, updates, expressions, `$unwind` and
//! `distinct`. Each parses its constant spec once per call site (`call_cache`), then runs
//! on the row's borrowed bytes. The functions that evaluate expressions have a `_let`
//! twin for commands with `let` variables, declared together by `per_row_with_let_twin!`:
//! both call one helper, the plain one with no variables.

use std::borrow::Cow;
use std::rc::Rc;

use bson::{RawBson, RawBsonRef, RawDocument};
use documentdb_errors::{docdb_error, DocDbError, DocDbResult, ErrorCode};
use documentdb_pgbson::{ok_or_throw, Bson, BsonRef};
use documentdb_query::expr::{ExprContext, Expression};
use documentdb_query::filter::{Filter, MatchOutcome, PushdownOp};
use documentdb_query::projection::Projection;
use pgrx::prelude::*;

use crate::call_cache::{cache_key, cached};
use crate::commands::vars::context_of;

/// `{ "" : value }`.
pub fn wrap(value: RawBsonRef<'_>) -> Bson {
    Bson::from(documentdb_query::document::single_value_document(value))
}

fn wrap_owned(value: &bson::Bson) -> DocDbResult<Bson> {
    let raw = RawBson::try_from(value.clone()).map_err(|e| docdb_error!(InternalError, "{e}"))?;
    Ok(wrap(raw.as_raw_bson_ref()))
}

/// The single value of a `{ "" : value }` spec document.
fn unwrap_value(doc: &RawDocument) -> DocDbResult<RawBsonRef<'_>> {
    match doc.iter().next() {
        Some(Ok((_, value))) => Ok(value),
        _ => Err(docdb_error!(InternalError, "expected a single-value document")),
    }
}

/// The call-site cache key of the spec arguments and, for `_let` twins, the variables.
fn key<'a>(specs: &[&'a [u8]], vars: Option<BsonRef<'a>>) -> Cow<'a, [u8]> {
    match (specs, vars) {
        ([one], None) => Cow::Borrowed(*one),
        (specs, None) => Cow::Owned(cache_key(specs)),
        (specs, Some(vars)) => {
            let mut parts = specs.to_vec();
            parts.push(vars.as_bytes());
            Cow::Owned(cache_key(&parts))
        }
    }
}

/// The expression context: the command's `let` variables, or none.
fn context(vars: Option<BsonRef<'_>>) -> DocDbResult<ExprContext> {
    vars.map_or_else(|| Ok(ExprContext::default()), |v| context_of(v.document()))
}

/// The filter of a per-row call: without `let` variables, `$$name` references stay errors.
fn parse_filter(query: &RawDocument, ctx: Option<&ExprContext>) -> DocDbResult<Filter> {
    match ctx {
        None => Filter::parse(query),
        Some(ctx) => Filter::parse_with_variables(query, &ctx.variables),
    }
}

fn query_match(
    document: BsonRef<'_>,
    query: BsonRef<'_>,
    vars: Option<BsonRef<'_>>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> bool {
    ok_or_throw(
        cached(fcinfo, &key(&[query.as_bytes()], vars), || {
            let ctx = vars.map(|v| context_of(v.document())).transpose()?;
            parse_filter(query.document(), ctx.as_ref())
        })
        .and_then(|filter| filter.matches(document.document())),
    )
}

fn project_find(
    document: BsonRef<'_>,
    projection: BsonRef<'_>,
    query: BsonRef<'_>,
    vars: Option<BsonRef<'_>>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Bson {
    ok_or_throw(
        cached(fcinfo, &key(&[projection.as_bytes(), query.as_bytes()], vars), || {
            let ctx = vars.map(|v| context_of(v.document())).transpose()?;
            let filter = parse_filter(query.document(), ctx.as_ref())?;
            Projection::parse_find_with_context(projection.document(), Some(&filter), &ctx.unwrap_or_default())
        })
        .and_then(|p| p.apply(document.document()))
        .map(Bson::from),
    )
}

/// A projection-like stage: `parse` builds it from the spec and the context.
fn apply_stage(
    document: BsonRef<'_>,
    spec: BsonRef<'_>,
    vars: Option<BsonRef<'_>>,
    fcinfo: pg_sys::FunctionCallInfo,
    parse: fn(&RawDocument, &ExprContext) -> DocDbResult<Projection>,
) -> Bson {
    ok_or_throw(
        cached(fcinfo, &key(&[spec.as_bytes()], vars), || parse(spec.document(), &context(vars)?))
            .and_then(|p| p.apply(document.document()))
            .map(Bson::from),
    )
}

/// The call site's parsed `{ "" : <expression> }` spec.
fn cached_expression(
    spec: BsonRef<'_>,
    vars: Option<BsonRef<'_>>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> DocDbResult<Rc<Expression>> {
    cached(fcinfo, &key(&[spec.as_bytes()], vars), || {
        Expression::parse(unwrap_value(spec.document())?, &context(vars)?)
    })
}

/// An expression of `bson_expression_get`, with its field path's components when it is one
/// (`"$a.b"`: read from the document's bytes, the common `$group` key).
struct GetExpression {
    path: Option<Vec<String>>,
    expression: Expression,
}

fn expression_get(
    document: BsonRef<'_>,
    expression: BsonRef<'_>,
    vars: Option<BsonRef<'_>>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Option<Bson> {
    ok_or_throw((|| {
        let get = cached(fcinfo, &key(&[expression.as_bytes()], vars), || {
            let expression = Expression::parse(unwrap_value(expression.document())?, &context(vars)?)?;
            let path = expression.as_field_path().map(|p| p.split('.').map(str::to_owned).collect());
            Ok(GetExpression { path, expression })
        })?;
        if let Some(path) = &get.path {
            // Without an array along the path, the value is copied from the document's
            // bytes (arrays along it are mapped over by the evaluator).
            if let Some(found) = documentdb_query::expr::raw_field_path(document.document(), path) {
                return Ok(found.map(wrap));
            }
        }
        match get.expression.evaluate(document.document())? {
            Some(value) => wrap_owned(&value).map(Some),
            None => Ok(None),
        }
    })())
}

fn replace_root(
    document: BsonRef<'_>,
    spec: BsonRef<'_>,
    vars: Option<BsonRef<'_>>,
    fcinfo: pg_sys::FunctionCallInfo,
) -> Bson {
    ok_or_throw((|| {
        let expr = cached_expression(spec, vars, fcinfo)?;
        replacement_root(expr.evaluate(document.document())?)
    })())
}

/// The document `$replaceRoot`/`$replaceWith` produce, or MongoDB's error for a non-document.
fn replacement_root(value: documentdb_query::Value) -> DocDbResult<Bson> {
    match value {
        Some(bson::Bson::Document(d)) => documentdb_query::document::to_raw_document(&d).map(Bson::from),
        other => Err(DocDbError::new(
            ErrorCode::new(40228),
            format!(
                "'replacement document' must evaluate to an object, but resulting value was: {}",
                other.map_or("MISSING".to_owned(), |v| v.to_string())
            ),
        )),
    }
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

/// Per-row update used by multi-document updates: `spec` is
/// `{ q, u, arrayFilters?, let?, validator?, validationLevel?, validationAction? }`.
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

fn update_document(document: BsonRef<'_>, spec: BsonRef<'_>, fcinfo: pg_sys::FunctionCallInfo) -> DocDbResult<Bson> {
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
}

/// Declares a per-row function and its `_let` twin from one body, so the two cannot drift
/// apart: the twin takes the command's `let` variables as its last argument. The body is
/// written `|vars, fcinfo| ...`, `vars` being `Option<BsonRef>` (`None` in the plain
/// function). Both symbols, `<name>_wrapper` and `<name>_let_wrapper`, are named in
/// `sql/documentdb_api_internal.sql`.
macro_rules! per_row_with_let_twin {
    (
        $(#[$doc:meta])*
        fn $name:ident / $let_name:ident ($($arg:ident),+) -> $ret:ty =
            |$vars:ident, $fcinfo:ident| $body:expr;
    ) => {
        $(#[$doc])*
        #[pg_extern(sql = false)]
        fn $name($($arg: BsonRef<'_>,)+ $fcinfo: pg_sys::FunctionCallInfo) -> $ret {
            let $vars: Option<BsonRef<'_>> = None;
            $body
        }

        #[pg_extern(sql = false)]
        fn $let_name($($arg: BsonRef<'_>,)+ $vars: BsonRef<'_>, $fcinfo: pg_sys::FunctionCallInfo) -> $ret {
            let $vars = Some($vars);
            $body
        }
    };
}

// ---- query ----------------------------------------------------------------------------

per_row_with_let_twin! {
    /// Does `document` match the MongoDB query `query`?
    fn bson_query_match / bson_query_match_let(document, query) -> bool =
        |vars, fcinfo| query_match(document, query, vars, fcinfo);
}

// The filter's index-servable predicates, as operators `document <op> '{ path: value }'`
// (documentdb_api_catalog.@= @> @>= @< @<= @*= @?). Each has exactly the semantics of
// `{ path: { $op: value } }`, so index opclasses can attach to them.

/// Declares one operator function per pushed-down operator, `name => PushdownOp` variant.
macro_rules! pushdown_operators {
    ($($name:ident => $op:ident),+ $(,)?) => {$(
        #[pg_extern(sql = false)]
        fn $name(document: BsonRef<'_>, operand: BsonRef<'_>, fcinfo: pg_sys::FunctionCallInfo) -> bool {
            pushdown_match(PushdownOp::$op, document, operand, fcinfo)
        }
    )+};
}

pushdown_operators! {
    bson_dollar_eq => Eq,
    bson_dollar_gt => Gt,
    bson_dollar_gte => Gte,
    bson_dollar_lt => Lt,
    bson_dollar_lte => Lte,
    bson_dollar_in => In,
    bson_dollar_exists => Exists,
}

// ---- projection and stages --------------------------------------------------------------

per_row_with_let_twin! {
    /// Applies a `find` projection (`query` is the find filter, used by positional `$`).
    fn bson_project_find / bson_project_find_let(document, projection, query) -> Bson =
        |vars, fcinfo| project_find(document, projection, query, vars, fcinfo);
}

per_row_with_let_twin! {
    /// Applies a `$project` stage.
    fn bson_dollar_project / bson_dollar_project_let(document, spec) -> Bson =
        |vars, fcinfo| apply_stage(document, spec, vars, fcinfo, Projection::parse_project_stage_with_context);
}

per_row_with_let_twin! {
    /// Applies an `$addFields`/`$set` stage.
    fn bson_dollar_add_fields / bson_dollar_add_fields_let(document, spec) -> Bson =
        |vars, fcinfo| apply_stage(document, spec, vars, fcinfo, Projection::parse_add_fields_with_context);
}

/// Applies an `$unset` stage; `spec` is `{ "" : "field" | ["f1", ...] }`.
#[pg_extern(sql = false)]
fn bson_dollar_unset(document: BsonRef<'_>, spec: BsonRef<'_>, fcinfo: pg_sys::FunctionCallInfo) -> Bson {
    ok_or_throw(
        cached(fcinfo, spec.as_bytes(), || Projection::parse_unset(unwrap_value(spec.document())?))
            .and_then(|p| p.apply(document.document()))
            .map(Bson::from),
    )
}

per_row_with_let_twin! {
    /// `$replaceRoot`/`$replaceWith`: `spec` is `{ "" : <expression> }`.
    fn bson_dollar_replace_root / bson_dollar_replace_root_let(document, spec) -> Bson =
        |vars, fcinfo| replace_root(document, spec, vars, fcinfo);
}

/// `$lookup`'s foreign-side condition for one local document: `{foreign_field: [local
/// values]}`, the operand of the foreign collection's `@*=` (`$in`) operator.
#[pg_extern(sql = false)]
fn bson_lookup_condition(document: BsonRef<'_>, local_field: &str, foreign_field: &str) -> Bson {
    ok_or_throw(
        documentdb_query::lookup::foreign_condition(document.document(), local_field, foreign_field).map(Bson::from),
    )
}

/// `$lookup`'s foreign index keys for one local document (NULL: no index lookup possible).
#[pg_extern(sql = false)]
fn bson_lookup_keys(document: BsonRef<'_>, local_field: &str) -> Option<Vec<Bson>> {
    documentdb_query::lookup::local_keys(document.document(), local_field)
        .map(|keys| keys.into_iter().map(Bson::from).collect())
}

/// `$lookup`'s one foreign index key for a local document with a single local value (the
/// common case), NULL otherwise (then `bson_lookup_keys` gives them all, or none).
#[pg_extern(sql = false)]
fn bson_lookup_key(document: BsonRef<'_>, local_field: &str) -> Option<Bson> {
    documentdb_query::lookup::local_key(document.document(), local_field).map(Bson::from)
}

/// Is there exactly one key ([`bson_lookup_key`] non-NULL), found without building it?
#[pg_extern(sql = false)]
fn bson_lookup_has_one_key(document: BsonRef<'_>, local_field: &str) -> bool {
    documentdb_query::lookup::has_one_key(document.document(), local_field)
}

/// `$lookup`'s output: `document` with `as_field` set to the matched documents (`matches`
/// is the array aggregate's `{"": [...]}`, NULL when nothing matched).
#[pg_extern(sql = false)]
fn bson_lookup_set(document: BsonRef<'_>, as_field: &str, matches: Option<BsonRef<'_>>) -> Bson {
    let matches = matches.as_ref().map(|m| m.document());
    ok_or_throw(documentdb_query::lookup::set_matches(document.document(), as_field, matches).map(Bson::from))
}

/// `$lookup`'s output when at most one foreign document matches (`foreignField` `_id`,
/// joined): `document` with `as_field` set to `[matched]`, or `[]` when NULL.
#[pg_extern(sql = false)]
fn bson_lookup_set_matched(document: BsonRef<'_>, as_field: &str, matched: Option<BsonRef<'_>>) -> Bson {
    let matched = matched.as_ref().map(|m| m.document());
    ok_or_throw(documentdb_query::lookup::set_single_match(document.document(), as_field, matched).map(Bson::from))
}

/// `$lookup` followed by `$unwind` of its `as` field, for one match: `document` with
/// `as_field` set to the matched foreign document (NULL: no match, the field removed, as
/// `$unwind` with preserveNullAndEmptyArrays leaves a document whose `as` array was empty).
#[pg_extern(sql = false)]
fn bson_lookup_set_one(document: BsonRef<'_>, as_field: &str, matched: Option<BsonRef<'_>>) -> Bson {
    ok_or_throw(
        match &matched {
            Some(m) => Projection::set_value(document.document(), as_field, RawBsonRef::Document(m.document())),
            None => Projection::parse_unset(RawBsonRef::String(as_field)).and_then(|p| p.apply(document.document())),
        }
        .map(Bson::from),
    )
}

/// The foreign document an unwound `$lookup` row holds at `as_field` (a top-level field);
/// NULL when it holds none.
#[pg_extern(sql = false)]
fn bson_lookup_match(document: BsonRef<'_>, as_field: &str) -> Option<Bson> {
    match documentdb_bson::raw_reader::get(document.document(), as_field) {
        Some(RawBsonRef::Document(matched)) => Some(Bson::from(matched.to_owned())),
        _ => None,
    }
}

/// `$lookup`'s pipeline variables for one local document: `spec` is `{ let: {...},
/// outer?: {...command variables} }`; the result is the variables document the pipeline's
/// per-row functions receive.
#[pg_extern(sql = false)]
fn bson_lookup_let(document: BsonRef<'_>, spec: BsonRef<'_>, fcinfo: pg_sys::FunctionCallInfo) -> Bson {
    ok_or_throw((|| {
        let vars = cached(fcinfo, spec.as_bytes(), || {
            let spec = spec.document();
            let let_spec = spec.get_document("let").map_err(|e| docdb_error!(InternalError, "{e}"))?;
            documentdb_query::lookup::LetVariables::parse(let_spec, spec.get_document("outer").ok())
        })?;
        vars.evaluate(document.document()).map(Bson::from)
    })())
}

per_row_with_let_twin! {
    /// A `$redact` stage (`spec` is `{ "" : <expression> }`): the document with the
    /// subdocuments the expression prunes removed, or NULL when it prunes the document.
    fn bson_dollar_redact / bson_dollar_redact_let(document, spec) -> Option<Bson> =
        |vars, fcinfo| ok_or_throw((|| {
            let redact = cached(fcinfo, &key(&[spec.as_bytes()], vars), || {
                documentdb_query::redact::parse(unwrap_value(spec.document())?, &context(vars)?)
            })?;
            Ok(redact.apply(document.document())?.map(Bson::from))
        })());
}

/// `$graphLookup` from one document: `{ "" : [documents found] }` (`spec` is `{ stage, db,
/// vars? }`; the search runs one query per depth, see `commands/aggregate/graph_lookup.rs`).
#[pg_extern(sql = false)]
fn bson_graph_lookup(document: BsonRef<'_>, spec: BsonRef<'_>, fcinfo: pg_sys::FunctionCallInfo) -> Bson {
    // Its own SPI connection: it runs inside the statement of the calling query.
    ok_or_throw(crate::spi::with_spi(|| {
        let search =
            cached(fcinfo, spec.as_bytes(), || crate::commands::aggregate::GraphSearch::prepare(spec.document()))?;
        search.run(document.document()).map(Bson::from)
    }))
}

/// `$unwind` of one document: `spec` is `{ path, includeArrayIndex?, preserveNullAndEmptyArrays? }`.
#[pg_extern(sql = false)]
fn bson_dollar_unwind(document: BsonRef<'_>, spec: BsonRef<'_>) -> SetOfIterator<'static, Bson> {
    let unwound = ok_or_throw(documentdb_query::unwind::unwind(document.document(), spec.document()));
    SetOfIterator::new(unwound.into_iter().map(Bson::from))
}

// ---- expressions, sort keys, distinct ---------------------------------------------------

per_row_with_let_twin! {
    /// Value of an aggregation expression `{ "" : <expression> }` on `document`, as
    /// `{ "" : value }`; SQL NULL when the expression evaluates to missing.
    fn bson_expression_get / bson_expression_get_let(document, expression) -> Option<Bson> =
        |vars, fcinfo| expression_get(document, expression, vars, fcinfo);
}

/// Sort key of `document` for a one-key sort spec `{ "path" : 1 | -1 }`, as
/// `{ "" : key }` so the bson btree operators order it.
#[pg_extern(sql = false)]
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

/// The values `distinct` collects from one document at `path`: array values are
/// unwound one level, as MongoDB's distinct does.
#[pg_extern(sql = false)]
fn bson_distinct_unwind(document: BsonRef<'_>, path: &str) -> SetOfIterator<'static, Bson> {
    let values = documentdb_query::distinct::values_at(document.document(), path);
    let wrapped: Vec<Bson> = values.into_iter().map(wrap).collect();
    SetOfIterator::new(wrapped)
}

// ---- updates ----------------------------------------------------------------------------

/// The document after applying a multi-update statement (equal bytes when unchanged).
#[pg_extern(sql = false)]
fn bson_update_document(document: BsonRef<'_>, spec: BsonRef<'_>, fcinfo: pg_sys::FunctionCallInfo) -> Bson {
    ok_or_throw(update_document(document, spec, fcinfo))
}

/// Byte equality (unlike `=`, which is MongoDB equality where 1 equals 1.0).
#[pg_extern(sql = false)]
fn bson_bytes_equal(left: BsonRef<'_>, right: BsonRef<'_>) -> bool {
    left.as_bytes() == right.as_bytes()
}
