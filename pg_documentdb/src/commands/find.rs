//! `find`, `count` and `distinct`: the filter becomes the WHERE clause (with `_id`
//! equality answered by the primary key), sort becomes ORDER BY over sort keys,
//! skip/limit become OFFSET/LIMIT, and the projection is applied in the select list.

use bson::{rawdoc, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::{bail, DocDbResult};
use documentdb_query::expr::ExprContext;
use documentdb_query::filter::{Filter, PushdownOp};
use documentdb_query::projection::Projection;
use documentdb_query::sort::SortSpec;

use super::cursor::{self, CursorOptions, FirstPage, OwnedParam, PageQuery};
use super::spec::{self, read_fields, Field};
use super::write_result::{append_count, cstr};
use crate::catalog::{self, Collection};
use crate::commands::insert::object_id_key;
use crate::spi::{self, Param, Value};

/// The parts of a query on one collection.
pub struct QuerySpec<'a> {
    pub filter: Option<&'a RawDocument>,
    pub sort: Option<&'a RawDocument>,
    pub projection: Option<&'a RawDocument>,
    pub skip: i64,
    pub limit: i64,
    /// Evaluated `let` variables.
    pub vars: Option<RawDocumentBuf>,
}

/// Builds SQL over a collection's table. `$n` parameters accumulate in `params`.
pub struct SqlBuilder {
    pub params: Vec<OwnedParam>,
    /// Evaluated `let` variables, when the command has any.
    pub vars: Option<RawDocumentBuf>,
    vars_param: Option<String>,
}

impl SqlBuilder {
    pub fn new() -> SqlBuilder {
        SqlBuilder { params: Vec::new(), vars: None, vars_param: None }
    }

    /// A builder whose generated expressions see the command's `let` variables.
    pub fn with_vars(vars: Option<RawDocumentBuf>) -> SqlBuilder {
        SqlBuilder { params: Vec::new(), vars, vars_param: None }
    }

    /// `documentdb_api_internal.<func>(<args>)`, or its `_let` variant with the variables as
    /// last argument when the command has `let` variables.
    pub fn call(&mut self, func: &str, args: &str) -> String {
        match self.vars.clone() {
            None => format!("documentdb_api_internal.{func}({args})"),
            Some(vars) => {
                let v = match &self.vars_param {
                    Some(v) => v.clone(),
                    None => {
                        let v = self.param(OwnedParam::Bson(vars.into_bytes()));
                        self.vars_param = Some(v.clone());
                        v
                    }
                };
                format!("documentdb_api_internal.{func}_let({args}, {v}::documentdb_core.bson)")
            }
        }
    }

    /// The command's `let` variables as an expression context (empty without them).
    pub fn ctx(&self) -> DocDbResult<ExprContext> {
        match &self.vars {
            Some(vars) => crate::functions::context_of(vars),
            None => Ok(ExprContext::default()),
        }
    }

    /// The filter parsed with this builder's variables.
    pub fn parse_filter(&self, filter: &RawDocument) -> DocDbResult<Filter> {
        Filter::parse_with_variables(filter, &self.ctx()?.variables)
    }

    pub fn param(&mut self, p: OwnedParam) -> String {
        self.params.push(p);
        format!("${}", self.params.len())
    }

    /// WHERE conditions for a filter: shard key, `_id` pushdown to the primary key, and the
    /// full match as recheck (skipped when the pushdown alone is exact).
    pub fn where_clause(&mut self, collection: &Collection, filter: Option<&RawDocument>) -> DocDbResult<String> {
        let shard = self.param(OwnedParam::Int8(collection.id));
        let mut conditions = vec![format!("shard_key_value = {shard}")];
        let Some(filter_doc) = filter.filter(|f| !f.is_empty()) else {
            return Ok(conditions.join(" AND "));
        };
        let parsed = self.parse_filter(filter_doc)?;
        let mut exact_by_pushdown = false;
        let mut pushed = Vec::new();
        for predicate in parsed.pushdown_predicates() {
            if predicate.path == "_id" && predicate.op == PushdownOp::Eq {
                let value = predicate.value.as_raw_bson_ref();
                if is_exact_id_value(value) {
                    // The primary key answers `_id` equality.
                    let key = self.param(OwnedParam::Bson(object_id_key(value)));
                    conditions.push(format!("object_id OPERATOR(documentdb_core.=) {key}::documentdb_core.bson"));
                    exact_by_pushdown = is_single_id_equality(filter_doc);
                    continue;
                }
            }
            pushed.push(predicate);
        }
        if exact_by_pushdown {
            return Ok(conditions.join(" AND "));
        }
        for predicate in &pushed {
            let mut operand = RawDocumentBuf::new();
            operand.append(cstr_key(&predicate.path)?, predicate.value.clone());
            let p = self.param(OwnedParam::Bson(operand.into_bytes()));
            conditions.push(format!(
                "document OPERATOR(documentdb_api_catalog.{}) {p}::documentdb_core.bson",
                pushdown_operator(predicate.op)
            ));
        }
        // The full match is the recheck, unless the operators above already say it all.
        if !parsed.pushdown_is_complete() {
            let f = self.param(OwnedParam::Bson(filter_doc.as_bytes().to_vec()));
            let call = self.call("bson_query_match", &format!("document, {f}::documentdb_core.bson"));
            conditions.push(call);
        }
        Ok(conditions.join(" AND "))
    }
}

impl Default for SqlBuilder {
    fn default() -> Self {
        Self::new()
    }
}

/// The SQL operator for a pushed-down predicate (sql/documentdb_api.sql).
fn pushdown_operator(op: PushdownOp) -> &'static str {
    match op {
        PushdownOp::Eq => "@=",
        PushdownOp::Gt => "@>",
        PushdownOp::Gte => "@>=",
        PushdownOp::Lt => "@<",
        PushdownOp::Lte => "@<=",
        PushdownOp::In => "@*=",
        PushdownOp::Exists => "@?",
    }
}

/// `_id` values the primary key compares exactly as MongoDB's equality would (regexes
/// match rather than equal; null also matches missing; arrays match elements).
fn is_exact_id_value(value: RawBsonRef<'_>) -> bool {
    !matches!(value, RawBsonRef::RegularExpression(_) | RawBsonRef::Null | RawBsonRef::Undefined | RawBsonRef::Array(_))
}

/// `{ _id: <value> }` or `{ _id: { $eq: <value> } }` and nothing else.
fn is_single_id_equality(filter: &RawDocument) -> bool {
    let mut iter = filter.iter();
    let (Some(Ok((key, value))), None) = (iter.next(), iter.next()) else {
        return false;
    };
    if key.as_str() != "_id" {
        return false;
    }
    match value {
        RawBsonRef::Document(d) => {
            let mut inner = d.iter();
            match (inner.next(), inner.next()) {
                (Some(Ok((op, v))), None) => op.as_str() == "$eq" && is_exact_id_value(v),
                (Some(Ok((first, _))), _) if !first.as_str().starts_with('$') => true,
                (None, None) => true,
                _ => false,
            }
        }
        other => is_exact_id_value(other),
    }
}

/// ORDER BY keys for a sort spec: one (sort-key expression, ascending) per key. The
/// one-key spec is inlined as a constant (not a parameter) so the expression matches the
/// expression indexes `createIndexes` builds, letting PostgreSQL sort by index order.
pub fn order_by(
    _builder: &mut SqlBuilder,
    sort: &RawDocument,
    document_column: &str,
) -> DocDbResult<Vec<(String, bool)>> {
    let spec = SortSpec::parse(sort)?;
    let mut keys = Vec::with_capacity(spec.len());
    for i in 0..spec.len() {
        let (path, ascending) = spec.key(i);
        let mut one = RawDocumentBuf::new();
        one.append(cstr_key(path)?, if ascending { 1 } else { -1 });
        let literal = documentdb_bson::extjson::to_canonical_string(&one).replace('\'', "''");
        keys.push((
            format!("documentdb_api_internal.bson_orderby({document_column}, '{literal}'::documentdb_core.bson)"),
            ascending,
        ));
    }
    Ok(keys)
}

fn cstr_key(key: &str) -> DocDbResult<&bson::raw::CStr> {
    key.try_into().map_err(|_| documentdb_errors::docdb_error!(BadValue, "field names cannot contain NUL"))
}

/// Parses the projection (with the filter, for positional `$`, and the `let` variables).
pub fn validate_projection(q: &QuerySpec<'_>) -> DocDbResult<()> {
    let Some(projection) = q.projection.filter(|p| !p.is_empty()) else { return Ok(()) };
    let b = SqlBuilder::with_vars(q.vars.clone());
    let filter = q.filter.map(|f| b.parse_filter(f)).transpose()?;
    Projection::parse_find_with_context(projection, filter.as_ref(), &b.ctx()?)?;
    Ok(())
}

/// The SELECT over one collection for a query spec; `with_ctid` adds the row position
/// column and a `ctid > $n` condition for resumable scans (parameter appended by the
/// cursor code at execution).
pub fn select_sql(collection: &Collection, q: &QuerySpec<'_>, with_ctid: bool) -> DocDbResult<PageQuery> {
    let mut b = SqlBuilder::with_vars(q.vars.clone());
    let where_clause = b.where_clause(collection, q.filter)?;
    let select = match q.projection.filter(|p| !p.is_empty()) {
        Some(projection) => {
            // Validate up front so errors surface even on empty collections.
            validate_projection(q)?;
            let p = b.param(OwnedParam::Bson(projection.as_bytes().to_vec()));
            let f = b.param(OwnedParam::Bson(
                q.filter.map(|f| f.as_bytes().to_vec()).unwrap_or_else(|| rawdoc! {}.into_bytes()),
            ));
            b.call("bson_project_find", &format!("document, {p}::documentdb_core.bson, {f}::documentdb_core.bson"))
        }
        None => "document".to_owned(),
    };
    let mut sql = format!("SELECT {select}");
    if with_ctid {
        sql.push_str(", ctid");
    }
    sql.push_str(&format!(" FROM {} WHERE {where_clause}", collection.table()));
    if with_ctid {
        // The tid parameter is appended last by the cursor code.
        sql.push_str(&format!(" AND ctid > ${}", b.params.len() + 1));
        return Ok(PageQuery { sql, params: b.params, resumable_scan: true });
    }
    if let Some(sort) = q.sort.filter(|s| !s.is_empty()) {
        sql.push_str(" ORDER BY ");
        let keys = order_by(&mut b, sort, "document")?;
        let keys: Vec<String> =
            keys.into_iter().map(|(e, asc)| format!("{e} {}", if asc { "ASC" } else { "DESC" })).collect();
        sql.push_str(&keys.join(", "));
    }
    if q.skip > 0 {
        sql.push_str(&format!(" OFFSET {}", q.skip));
    }
    if q.limit > 0 {
        sql.push_str(&format!(" LIMIT {}", q.limit));
    }
    Ok(PageQuery { sql, params: b.params, resumable_scan: false })
}

fn empty_page(ns: &str) -> FirstPage {
    let reply = rawdoc! { "cursor": { "firstBatch": [], "id": 0i64, "ns": ns }, "ok": 1.0 };
    FirstPage { reply, continuation: None, persist_connection: false, cursor_id: 0 }
}

/// Options of `find` that we accept but which have no effect on a standalone server or
/// with our storage, and those we reject because we can't honour them.
fn unsupported(field: &Field<'_>) -> DocDbResult<bool> {
    match field.name {
        "tailable" | "awaitData" | "oplogReplay" | "returnKey" | "showRecordId" | "min" | "max" => {
            if field.bool().unwrap_or(true) {
                bail!(CommandNotSupported, "find option '{}' is not supported", field.name);
            }
            Ok(true)
        }
        "collation" => {
            let doc = field.document()?;
            match doc.get_str("locale") {
                Ok("simple") => Ok(true),
                _ if doc.is_empty() => Ok(true),
                _ => bail!(CommandNotSupported, "collation other than 'simple' is not supported"),
            }
        }
        // Hints name an index; plans are chosen by PostgreSQL, so a hint is advisory.
        "hint"
        | "allowDiskUse"
        | "noCursorTimeout"
        | "allowPartialResults"
        | "readOnce"
        | "$_requestResumeToken"
        | "$_resumeAfter"
        | "maxScan"
        | "snapshot" => Ok(true),
        _ => Ok(false),
    }
}

/// Reads a `find` command: (collection, query parts, cursor options).
pub fn parse_find(spec_doc: &RawDocument) -> DocDbResult<(&str, QuerySpec<'_>, CursorOptions)> {
    let coll = spec::collection_name(spec_doc, "find")?;
    let mut q = QuerySpec { filter: None, sort: None, projection: None, skip: 0, limit: 0, vars: None };
    let mut opts = CursorOptions { batch_size: None, limit: 0, single_batch: false };
    read_fields(spec_doc, "find", |field| {
        match field.name {
            "filter" => q.filter = field.optional_document()?,
            "sort" => q.sort = field.optional_document()?,
            "projection" => q.projection = field.optional_document()?,
            "skip" => q.skip = field.non_negative()?,
            "limit" => {
                let limit = field.i64()?;
                if limit < 0 {
                    bail!(BadValue, "Limit value must be non-negative, but received: {limit}");
                }
                q.limit = limit;
            }
            "batchSize" => opts.batch_size = Some(field.non_negative()?),
            "singleBatch" => opts.single_batch = field.bool()?,
            "let" => q.vars = Some(super::vars::evaluate_let(field.document()?)?),
            _ => return unsupported(&field),
        }
        Ok(true)
    })?;
    Ok((coll, q, opts))
}

/// `find_cursor_first_page`.
pub fn find_first_page(db: &str, spec_doc: &RawDocument, cursor_id: i64) -> DocDbResult<FirstPage> {
    let (coll, q, mut opts) = parse_find(spec_doc)?;
    catalog::validate_database_name(db)?;
    let ns = format!("{db}.{coll}");
    // Validate the query parts even when there is no collection, as MongoDB does.
    if let Some(f) = q.filter {
        SqlBuilder::with_vars(q.vars.clone()).parse_filter(f)?;
    }
    if let Some(s) = q.sort {
        SortSpec::parse(s)?;
    }
    let Some(collection) = catalog::lookup(db, coll)? else {
        validate_projection(&q)?;
        return Ok(empty_page(&ns));
    };
    if collection.is_view() {
        return super::aggregate::find_on_view(&collection, &q, opts, cursor_id);
    }
    opts.limit = q.limit;
    // `_id` equality matches at most one document: one statement answers it, with no
    // resumable scan or portal, and the cursor is exhausted in the first batch (as mongod's
    // _id lookup is), unless `batchSize: 0` asks for an empty first batch.
    let at_most_one = q.filter.is_some_and(is_single_id_equality);
    if at_most_one && opts.batch_size != Some(0) {
        opts.single_batch = true;
    }
    let resumable = !at_most_one && q.sort.is_none_or(|s| s.is_empty()) && q.skip == 0;
    let query = select_sql(&collection, &q, resumable)?;
    cursor::first_page(query, &ns, opts, cursor_id)
}

/// `count_query`: `{ n, ok }`.
pub fn count(db: &str, spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let coll = spec::collection_name(spec_doc, "count")?;
    let mut filter = None;
    let mut skip = 0;
    let mut limit = 0;
    read_fields(spec_doc, "count", |field| {
        match field.name {
            "query" => filter = field.optional_document()?,
            "skip" => skip = field.non_negative()?,
            // A negative limit counts like its absolute value.
            "limit" => limit = field.i64()?.saturating_abs(),
            "hint" | "fields" => {}
            "collation" => {
                unsupported(&field)?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if let Some(f) = filter {
        Filter::parse(f)?;
    }
    let n = match catalog::lookup(db, coll)? {
        None => 0,
        Some(collection) if collection.is_view() => super::aggregate::count_on_view(&collection, filter, skip, limit)?,
        Some(collection) => {
            let mut b = SqlBuilder::new();
            let where_clause = b.where_clause(&collection, filter)?;
            let mut inner = format!("SELECT 1 FROM {} WHERE {where_clause}", collection.table());
            if skip > 0 {
                inner.push_str(&format!(" OFFSET {skip}"));
            }
            if limit > 0 {
                inner.push_str(&format!(" LIMIT {limit}"));
            }
            let sql = if skip == 0 && limit == 0 {
                format!("SELECT count(*) FROM {} WHERE {where_clause}", collection.table())
            } else {
                format!("SELECT count(*) FROM ({inner}) s")
            };
            let params: Vec<Param<'_>> = b.params.iter().map(OwnedParam::as_param).collect();
            let rows = spi::execute(&sql, &params, true, 1)?;
            rows.first().and_then(|r| r.first()).and_then(Value::as_i64).unwrap_or(0)
        }
    };
    let mut reply = RawDocumentBuf::new();
    append_count(&mut reply, "n", n);
    reply.append(cstr("ok"), 1.0);
    Ok(reply)
}

/// `distinct_query`: `{ values: [...], ok }`, values in BSON order.
pub fn distinct(db: &str, spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let coll = spec::collection_name(spec_doc, "distinct")?;
    let mut key: Option<&str> = None;
    let mut filter = None;
    read_fields(spec_doc, "distinct", |field| {
        match field.name {
            "key" => key = Some(field.str()?),
            "query" => filter = field.optional_document()?,
            "hint" => {}
            "collation" => {
                unsupported(&field)?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let Some(key) = key else {
        return Err(spec::missing("distinct", "key"));
    };
    if key.is_empty() {
        bail!(BadValue, "FieldPath cannot be constructed with empty string");
    }
    if let Some(f) = filter {
        Filter::parse(f)?;
    }
    let values = match catalog::lookup(db, coll)? {
        None => rawdoc! { "values": [] },
        Some(collection) if collection.is_view() => super::aggregate::distinct_on_view(&collection, key, filter)?,
        Some(collection) => {
            let mut b = SqlBuilder::new();
            let where_clause = b.where_clause(&collection, filter)?;
            let k = b.param(OwnedParam::Text(key.to_owned()));
            let sql = format!(
                "SELECT documentdb_core.bson_array_agg(v, 'values') FROM \
                   (SELECT DISTINCT v FROM {} t, documentdb_api_internal.bson_distinct_unwind(t.document, {k}::text) v \
                    WHERE {where_clause} ORDER BY v) d",
                collection.table()
            );
            let params: Vec<Param<'_>> = b.params.iter().map(OwnedParam::as_param).collect();
            let rows = spi::execute(&sql, &params, true, 1)?;
            rows.into_iter()
                .next()
                .and_then(|r| r.into_iter().next()?.into_bson())
                .and_then(|b| RawDocumentBuf::from_bytes(b).ok())
                .unwrap_or_else(|| rawdoc! { "values": [] })
        }
    };
    let mut reply = values;
    reply.append(cstr("ok"), 1.0);
    Ok(reply)
}
