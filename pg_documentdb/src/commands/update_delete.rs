//! `update`, `delete` and `findAndModify`. Each statement of a batch runs in its own
//! subtransaction so a failure becomes a `writeErrors` entry (ordered batches stop there).
//! Single-document updates apply the update in Rust to the row locked by
//! `SELECT ... FOR UPDATE`; `multi` updates are one set-wise UPDATE statement driven by the
//! same filter translation as `find`.

use crate::authz;
use bson::{rawdoc, RawArray, RawBson, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_authz::Action;
use documentdb_errors::{bail, docdb_error, DocDbError, DocDbResult};
use documentdb_pgbson::BsonSequenceRef;
use documentdb_query::document::{check_size, document_id, prepare_for_insert};
use documentdb_query::filter::{Filter, MatchOutcome};
use documentdb_query::projection::Projection;
use documentdb_query::update::Update;

use super::cursor::OwnedParam;
use super::index_sql::PRIMARY_KEY;
use super::insert::{insert_batch, MAX_WRITE_BATCH_SIZE};
use super::query_sql::{order_by, SqlBuilder};
use super::spec::{self, read_fields, Field};
use super::validation::Validator;
use super::write_result::{cstr, WriteError, WriteResult};
use crate::catalog::{self, Collection};
use crate::spi::{self, Param, Value};
use crate::sql_names::{self, BSON};
use crate::subxact;

struct UpdateStatement<'a> {
    q: &'a RawDocument,
    u: RawBsonRef<'a>,
    upsert: bool,
    multi: bool,
    array_filters: Option<&'a RawArray>,
    hint: Option<RawBsonRef<'a>>,
}

fn parse_update_statement(doc: &RawDocument) -> DocDbResult<UpdateStatement<'_>> {
    let mut q = None;
    let mut u = None;
    let mut upsert = false;
    let mut multi = false;
    let mut array_filters = None;
    let mut hint = None;
    for element in doc {
        let (name, value) = element.map_err(|e| docdb_error!(InvalidBSON, "{e}"))?;
        let field = Field { command: "update.updates", name: name.as_str(), value };
        match field.name {
            "q" => q = Some(field.document()?),
            "u" => match value {
                RawBsonRef::Document(_) | RawBsonRef::Array(_) => u = Some(value),
                _ => bail!(FailedToParse, "Update argument must be either an object or an array"),
            },
            "upsert" => upsert = field.bool()?,
            "multi" => multi = field.bool()?,
            "arrayFilters" => array_filters = Some(field.array()?),
            "hint" => hint = Some(value),
            "c" | "upsertSupplied" | "sampleId" | "$_allowShardKeyUpdatesWithoutFullShardKeyInQuery" => {}
            "collation" => field.simple_collation()?,
            other => {
                return Err(DocDbError::new(
                    spec::UNKNOWN_FIELD,
                    format!("BSON field 'update.updates.{other}' is an unknown field."),
                ))
            }
        }
    }
    let q = q.ok_or_else(|| spec::missing("update.updates", "q"))?;
    let u = u.ok_or_else(|| spec::missing("update.updates", "u"))?;
    Ok(UpdateStatement { q, u, upsert, multi, array_filters, hint })
}

fn statements<'a>(
    command: &'a str,
    list_field: &'a str,
    spec_doc: &'a RawDocument,
    sequence: Option<BsonSequenceRef<'a>>,
    mut extra: impl FnMut(&Field<'a>) -> DocDbResult<bool>,
) -> DocDbResult<(Vec<&'a RawDocument>, bool)> {
    let mut docs = Vec::new();
    let mut inline = false;
    let mut ordered = true;
    read_fields(spec_doc, command, |field| {
        if field.name == list_field {
            inline = true;
            for (i, item) in field.array()?.into_iter().enumerate() {
                match item {
                    Ok(RawBsonRef::Document(d)) => docs.push(d),
                    _ => bail!(
                        TypeMismatch,
                        "BSON field '{command}.{list_field}.{i}' is the wrong type, expected type 'object'"
                    ),
                }
            }
            return Ok(true);
        }
        if field.name == "ordered" {
            ordered = field.bool()?;
            return Ok(true);
        }
        extra(&field)
    })?;
    if let Some(seq) = sequence {
        if inline {
            bail!(BadValue, "{command} statements were given both in the command and as a document sequence");
        }
        docs.extend(seq.documents());
    } else if !inline {
        return Err(spec::missing(command, list_field));
    }
    if docs.is_empty() || docs.len() > MAX_WRITE_BATCH_SIZE {
        bail!(
            InvalidLength,
            "Write batch sizes must be between 1 and {MAX_WRITE_BATCH_SIZE}. Got {} operations.",
            docs.len()
        );
    }
    Ok((docs, ordered))
}

fn params(b: &SqlBuilder) -> Vec<Param<'_>> {
    b.params.iter().map(OwnedParam::as_param).collect()
}

/// Outcome of one update statement.
struct StatementOutcome {
    matched: i64,
    modified: i64,
    upserted: Option<RawBson>,
}

/// Runs the `update` command.
pub fn update(db: &str, spec_doc: &RawDocument, sequence: Option<BsonSequenceRef<'_>>) -> DocDbResult<WriteResult> {
    let coll = spec::collection_name(spec_doc, "update")?;
    let mut bypass = false;
    let mut vars = None;
    let (docs, ordered) = statements("update", "updates", spec_doc, sequence, |field| match field.name {
        "bypassDocumentValidation" => {
            bypass = field.bool()?;
            Ok(true)
        }
        "let" => {
            vars = Some(super::vars::evaluate_let(field.document()?)?);
            Ok(true)
        }
        _ => Ok(false),
    })?;
    let b0 = SqlBuilder::with_vars(vars.clone());
    let ctx = b0.ctx()?;
    catalog::validate_database_name(db)?;
    catalog::validate_collection_name(db, coll)?;
    let mut result = WriteResult { n_modified: Some(0), ..Default::default() };
    // Statement shapes are checked up front (a malformed statement fails the command, as
    // MongoDB's IDL does); operator and filter errors become per-statement write errors.
    let parsed_statements = docs.iter().map(|d| parse_update_statement(d)).collect::<DocDbResult<Vec<_>>>()?;
    let mut collection: Option<Collection> = catalog::lookup(db, coll)?;
    let upserts = parsed_statements.iter().any(|s| s.upsert);
    authz::require_data(collection.as_ref(), Action::Update, db, coll, spec_doc)?;
    if upserts {
        authz::require_data(collection.as_ref(), Action::Insert, db, coll, spec_doc)?;
    }
    if collection.is_none() && upserts {
        collection = Some(super::new_collection::get_or_create(db, coll, spec_doc)?);
    }
    if collection.as_ref().is_some_and(Collection::is_view) {
        bail!(CommandNotSupportedOnView, "Namespace {db}.{coll} is a view, not a collection");
    }
    let validator = match (&collection, bypass) {
        (Some(c), false) => Validator::for_collection(c)?,
        _ => None,
    };
    for (index, statement) in parsed_statements.iter().enumerate() {
        let outcome = subxact::run(|| {
            let parsed = Update::parse_with_context(statement.u, statement.array_filters, &ctx)?;
            if statement.multi && parsed.is_replacement() {
                bail!(FailedToParse, "multi update is not supported for replacement-style update");
            }
            let filter = b0.parse_filter(statement.q)?;
            let Some(target) = collection.as_ref() else {
                return Ok(StatementOutcome { matched: 0, modified: 0, upserted: None });
            };
            run_update(target, statement, &parsed, &filter, validator.as_ref(), &vars)
        });
        match outcome {
            Ok(o) => {
                result.n += o.matched;
                if let Some(m) = result.n_modified.as_mut() {
                    *m += o.modified;
                }
                if let Some(id) = o.upserted {
                    result.n += 1;
                    result.upserted.push((index, id));
                }
            }
            Err(failure) => {
                result.write_errors.push(write_error(index, failure, collection.as_ref()));
                if ordered {
                    break;
                }
            }
        }
    }
    Ok(result)
}

fn write_error(index: usize, failure: subxact::Failure, collection: Option<&Collection>) -> WriteError {
    match failure {
        subxact::Failure::UniqueViolation { constraint_message } => match collection {
            Some(c) => WriteError::from_error(index, super::indexes::duplicate_key_error(c, &constraint_message, None)),
            None => WriteError::from_error(
                index,
                DocDbError::new(documentdb_errors::ErrorCode::DuplicateKey, constraint_message),
            ),
        },
        other => WriteError::from_error(index, other.into_error()),
    }
}

fn run_update(
    collection: &Collection,
    statement: &UpdateStatement<'_>,
    update: &Update,
    filter: &Filter,
    validator: Option<&Validator>,
    vars: &Option<RawDocumentBuf>,
) -> DocDbResult<StatementOutcome> {
    let mut b = SqlBuilder::with_vars(vars.clone());
    if let Some(hint) = statement.hint {
        b.use_hint(collection, hint)?;
    }
    let where_clause = b.where_clause(collection, Some(statement.q))?;
    if statement.multi {
        let (matched, modified) = update_many(collection, &mut b, &where_clause, statement, validator)?;
        if matched > 0 || !statement.upsert {
            return Ok(StatementOutcome { matched, modified, upserted: None });
        }
    } else {
        let sql = format!("SELECT ctid, document FROM {} WHERE {where_clause} LIMIT 1 FOR UPDATE", collection.table());
        let rows = spi::execute_planned(&sql, &params(&b), false, 1, &b.planning())?;
        if let Some(row) = rows.into_iter().next() {
            let mut cols = row.into_iter();
            let Some(Value::Tid(block, offset)) = cols.next() else {
                bail!(InternalError, "update target row without ctid");
            };
            let old = cols.next().and_then(Value::into_bson).unwrap_or_default();
            let old = RawDocument::from_bytes(&old).map_err(|e| docdb_error!(InternalError, "{e}"))?;
            let positional = match filter.matches_positional(old)? {
                MatchOutcome::Matched(p) => p,
                MatchOutcome::NoMatch => None,
            };
            let outcome = update.apply(old, positional)?;
            if outcome.modified {
                check_size(&outcome.document)?;
                if let Some(v) = validator {
                    v.check_update(old, &outcome.document)?;
                }
                write_row(collection, (block, offset), &outcome.document)?;
            }
            return Ok(StatementOutcome { matched: 1, modified: i64::from(outcome.modified), upserted: None });
        }
        if !statement.upsert {
            return Ok(StatementOutcome { matched: 0, modified: 0, upserted: None });
        }
    }
    // Upsert: build the document from the query's equality fields and the update.
    let seed = filter.equality_fields();
    let built = update.apply_upsert(&seed)?;
    let doc = prepare_for_insert(&built)?;
    if let Some(v) = validator {
        v.check_insert(&doc)?;
    }
    let id = document_id(&doc).map(RawBson::from).unwrap_or(RawBson::Null);
    let mut tmp = WriteResult::default();
    insert_batch(collection, vec![(0, doc)], true, &mut tmp)?;
    if let Some(e) = tmp.write_errors.into_iter().next() {
        return Err(e.into_error());
    }
    Ok(StatementOutcome { matched: 0, modified: 0, upserted: Some(id) })
}

/// Writes the new version of one document. In its own subtransaction, so that a unique
/// violation becomes MongoDB's DuplicateKey error naming the offending key value.
fn write_row(collection: &Collection, ctid: (u32, u16), document: &RawDocument) -> DocDbResult<()> {
    let sql = format!("UPDATE {} SET document = $2 WHERE ctid = $1", collection.table());
    let written = subxact::run(|| {
        spi::execute(&sql, &[Param::Tid(ctid.0, ctid.1), Param::Bson(document.as_bytes())], false, 0).map(drop)
    });
    match written {
        Ok(()) => Ok(()),
        Err(subxact::Failure::UniqueViolation { constraint_message }) => {
            Err(super::indexes::duplicate_key_error(collection, &constraint_message, Some(document)))
        }
        Err(failure) => Err(failure.into_error()),
    }
}

/// A set-wise multi-document update: one statement that locks the matching rows, computes
/// each new document in `bson_update_document`, and writes only those that changed.
fn update_many(
    collection: &Collection,
    b: &mut SqlBuilder,
    where_clause: &str,
    statement: &UpdateStatement<'_>,
    validator: Option<&Validator>,
) -> DocDbResult<(i64, i64)> {
    let mut spec = rawdoc! { "q": statement.q.to_owned() };
    spec.append(cstr("u"), statement.u);
    if let Some(af) = statement.array_filters {
        spec.append(cstr("arrayFilters"), af);
    }
    if let Some(vars) = &b.vars {
        spec.append(cstr("let"), vars.clone());
    }
    if let (Some(_), Some(v)) = (validator, collection.validator.as_ref()) {
        spec.append(cstr("validator"), v.as_ref());
        spec.append(cstr("validationLevel"), collection.validation_level.as_str());
        spec.append(cstr("validationAction"), collection.validation_action.as_str());
    }
    let s = b.param(OwnedParam::Bson(spec.into_bytes()));
    let table = collection.table();
    let sql = format!(
        "WITH m AS (SELECT ctid AS c, document AS old, {update_document}(document, {s}::{BSON}) AS new \
           FROM {table} WHERE {where_clause} FOR UPDATE), \
         u AS (UPDATE {table} t SET document = m.new FROM m \
           WHERE t.ctid = m.c AND NOT {bytes_equal}(m.old, m.new) RETURNING 1) \
         SELECT (SELECT count(*) FROM m), (SELECT count(*) FROM u)",
        update_document = sql_names::UPDATE_DOCUMENT,
        bytes_equal = sql_names::BYTES_EQUAL,
    );
    let rows = spi::execute_planned(&sql, &params(b), false, 0, &b.planning())?;
    let row = rows.into_iter().next().unwrap_or_default();
    let matched = row.first().and_then(Value::as_i64).unwrap_or(0);
    let modified = row.get(1).and_then(Value::as_i64).unwrap_or(0);
    Ok((matched, modified))
}

/// Runs the `delete` command.
pub fn delete(db: &str, spec_doc: &RawDocument, sequence: Option<BsonSequenceRef<'_>>) -> DocDbResult<WriteResult> {
    let coll = spec::collection_name(spec_doc, "delete")?;
    let mut vars = None;
    let (docs, ordered) = statements("delete", "deletes", spec_doc, sequence, |field| {
        if field.name == "let" {
            vars = Some(super::vars::evaluate_let(field.document()?)?);
            return Ok(true);
        }
        Ok(false)
    })?;
    catalog::validate_database_name(db)?;
    let collection = catalog::lookup(db, coll)?;
    authz::require_data(collection.as_ref(), Action::Remove, db, coll, spec_doc)?;
    if collection.as_ref().is_some_and(Collection::is_view) {
        bail!(CommandNotSupportedOnView, "Namespace {db}.{coll} is a view, not a collection");
    }
    // Statement shapes (fields, limit) are command-level errors, as MongoDB's IDL reports
    // them; filter errors become per-statement write errors.
    let mut parsed = Vec::with_capacity(docs.len());
    for doc in &docs {
        let mut q = None;
        let mut limit = None;
        let mut hint = None;
        for element in doc.iter() {
            let (name, value) = element.map_err(|e| docdb_error!(InvalidBSON, "{e}"))?;
            let field = Field { command: "delete.deletes", name: name.as_str(), value };
            match field.name {
                "q" => q = Some(field.document()?),
                "limit" => limit = Some(field.i64()?),
                "hint" => hint = Some(value),
                "sampleId" => {}
                "collation" => field.simple_collation()?,
                other => {
                    return Err(DocDbError::new(
                        spec::UNKNOWN_FIELD,
                        format!("BSON field 'delete.deletes.{other}' is an unknown field."),
                    ))
                }
            }
        }
        let q = q.ok_or_else(|| spec::missing("delete.deletes", "q"))?;
        let limit = limit.ok_or_else(|| spec::missing("delete.deletes", "limit"))?;
        if limit != 0 && limit != 1 {
            bail!(FailedToParse, "The limit field in delete objects must be 0 or 1. Got {limit}");
        }
        parsed.push((q, limit, hint));
    }
    let mut result = WriteResult::default();
    for (index, (q, limit, hint)) in parsed.into_iter().enumerate() {
        let outcome = subxact::run(|| {
            let mut b = SqlBuilder::with_vars(vars.clone());
            b.parse_filter(q)?;
            let Some(target) = collection.as_ref() else {
                return Ok(0);
            };
            if let Some(hint) = hint {
                b.use_hint(target, hint)?;
            }
            let where_clause = b.where_clause(target, Some(q))?;
            let table = target.table();
            let sql = if limit == 1 {
                format!(
                    "DELETE FROM {table} WHERE ctid = ANY (ARRAY(SELECT ctid FROM {table} WHERE {where_clause} LIMIT 1 FOR UPDATE)) RETURNING 1"
                )
            } else {
                format!("DELETE FROM {table} WHERE {where_clause} RETURNING 1")
            };
            Ok(spi::execute_planned(&sql, &params(&b), false, 0, &b.planning())?.len() as i64)
        });
        match outcome {
            Ok(n) => result.n += n,
            Err(failure) => {
                result.write_errors.push(write_error(index, failure, collection.as_ref()));
                if ordered {
                    break;
                }
            }
        }
    }
    Ok(result)
}

/// Runs `findAndModify`.
pub fn find_and_modify(db: &str, spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let coll = spec::collection_name(spec_doc, "findAndModify")?;
    let mut query: Option<&RawDocument> = None;
    let mut sort: Option<&RawDocument> = None;
    let mut remove = false;
    let mut update_spec: Option<RawBsonRef<'_>> = None;
    let mut return_new = false;
    let mut fields: Option<&RawDocument> = None;
    let mut upsert = false;
    let mut bypass = false;
    let mut array_filters: Option<&RawArray> = None;
    let mut vars: Option<RawDocumentBuf> = None;
    let mut hint: Option<RawBsonRef<'_>> = None;
    read_fields(spec_doc, "findAndModify", |field| {
        match field.name {
            "query" => query = field.optional_document()?,
            "sort" => sort = field.optional_document()?,
            "remove" => remove = field.bool()?,
            "update" => match field.value {
                RawBsonRef::Document(_) | RawBsonRef::Array(_) => update_spec = Some(field.value),
                RawBsonRef::Null => {}
                _ => bail!(FailedToParse, "Update argument must be either an object or an array"),
            },
            "new" => return_new = field.bool()?,
            "fields" => fields = field.optional_document()?,
            "upsert" => upsert = field.bool()?,
            "bypassDocumentValidation" => bypass = field.bool()?,
            "arrayFilters" => array_filters = Some(field.array()?),
            "let" => vars = Some(super::vars::evaluate_let(field.document()?)?),
            "hint" => hint = Some(field.value),
            "collation" => field.simple_collation()?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if remove && update_spec.is_some() {
        bail!(FailedToParse, "Cannot specify both an update and remove=true");
    }
    if !remove && update_spec.is_none() {
        bail!(FailedToParse, "Either an update or remove=true must be specified");
    }
    if remove && upsert {
        bail!(FailedToParse, "Cannot specify both upsert=true and remove=true");
    }
    if remove && return_new {
        bail!(
            FailedToParse,
            "Cannot specify both new=true and remove=true; 'remove' always returns the deleted document"
        );
    }
    catalog::validate_database_name(db)?;
    catalog::validate_collection_name(db, coll)?;
    let query_doc = query.map(|q| q.to_owned()).unwrap_or_default();
    let b0 = SqlBuilder::with_vars(vars.clone());
    let ctx = b0.ctx()?;
    let filter = b0.parse_filter(&query_doc)?;
    let parsed_update = update_spec.map(|u| Update::parse_with_context(u, array_filters, &ctx)).transpose()?;
    let projection = fields
        .filter(|f| !f.is_empty())
        .map(|f| Projection::parse_find_with_context(f, Some(&filter), &ctx))
        .transpose()?;
    if let Some(s) = sort {
        documentdb_query::sort::SortSpec::parse(s)?;
    }

    // MongoDB: find plus update or remove, plus insert for an upsert.
    let existing = catalog::lookup(db, coll)?;
    let write = if remove { Action::Remove } else { Action::Update };
    for action in [Action::Find, write].into_iter().chain(upsert.then_some(Action::Insert)) {
        authz::require_data(existing.as_ref(), action, db, coll, spec_doc)?;
    }
    let collection = match existing {
        None if upsert => Some(super::new_collection::get_or_create(db, coll, spec_doc)?),
        other => other,
    };
    if collection.as_ref().is_some_and(Collection::is_view) {
        bail!(CommandNotSupportedOnView, "Namespace {db}.{coll} is a view, not a collection");
    }
    let project = |doc: &RawDocument| -> DocDbResult<RawDocumentBuf> {
        match &projection {
            Some(p) => p.apply(doc),
            None => Ok(doc.to_owned()),
        }
    };
    let reply = |n: i64, updated_existing: Option<bool>, upserted: Option<RawBson>, value: Option<RawDocumentBuf>| {
        let mut last = rawdoc! { "n": n as i32 };
        if let Some(u) = updated_existing {
            last.append(cstr("updatedExisting"), u);
        }
        if let Some(id) = upserted {
            last.append(cstr("upserted"), id);
        }
        let mut out = rawdoc! { "lastErrorObject": last };
        match value {
            Some(v) => out.append(cstr("value"), v),
            None => out.append(cstr("value"), RawBson::Null),
        }
        out.append(cstr("ok"), 1.0);
        out
    };

    let Some(collection) = collection else {
        return Ok(reply(0, if remove { None } else { Some(false) }, None, None));
    };
    let validator = if bypass { None } else { Validator::for_collection(&collection)? };
    let mut b = SqlBuilder::with_vars(vars.clone());
    let order_keys = match sort.filter(|s| !s.is_empty()) {
        Some(s) => order_by(Some(&collection), s, "document")?,
        None => Vec::new(),
    };
    b.uses_primary_key = order_keys.iter().any(|(key, _)| key == PRIMARY_KEY);
    if let Some(hint) = hint {
        b.use_hint(&collection, hint)?;
    }
    let where_clause = b.where_clause(&collection, Some(&query_doc))?;
    let mut sql = format!("SELECT ctid, document FROM {} WHERE {where_clause}", collection.table());
    if !order_keys.is_empty() {
        let keys = order_keys;
        let keys: Vec<String> =
            keys.into_iter().map(|(e, asc)| format!("{e} {}", if asc { "ASC" } else { "DESC" })).collect();
        sql.push_str(" ORDER BY ");
        sql.push_str(&keys.join(", "));
    }
    sql.push_str(" LIMIT 1 FOR UPDATE");
    let rows = spi::execute_planned(&sql, &params(&b), false, 1, &b.planning())?;
    let found = rows.into_iter().next().map(|row| {
        let mut cols = row.into_iter();
        let ctid = match cols.next() {
            Some(Value::Tid(b, o)) => (b, o),
            _ => (0, 0),
        };
        (ctid, cols.next().and_then(Value::into_bson).unwrap_or_default())
    });

    if remove {
        let Some((ctid, old)) = found else {
            return Ok(reply(0, None, None, None));
        };
        spi::execute(
            &format!("DELETE FROM {} WHERE ctid = $1", collection.table()),
            &[Param::Tid(ctid.0, ctid.1)],
            false,
            0,
        )?;
        let old = RawDocument::from_bytes(&old).map_err(|e| docdb_error!(InternalError, "{e}"))?;
        return Ok(reply(1, None, None, Some(project(old)?)));
    }
    let Some(update) = parsed_update else { bail!(InternalError, "findAndModify without update") };
    match found {
        Some((ctid, old_bytes)) => {
            let old = RawDocument::from_bytes(&old_bytes).map_err(|e| docdb_error!(InternalError, "{e}"))?;
            let positional = match filter.matches_positional(old)? {
                MatchOutcome::Matched(p) => p,
                MatchOutcome::NoMatch => None,
            };
            let outcome = update.apply(old, positional)?;
            if outcome.modified {
                check_size(&outcome.document)?;
                if let Some(v) = &validator {
                    v.check_update(old, &outcome.document)?;
                }
                write_row(&collection, ctid, &outcome.document)?;
            }
            let value = if return_new { project(&outcome.document)? } else { project(old)? };
            Ok(reply(1, Some(true), None, Some(value)))
        }
        None if upsert => {
            let built = update.apply_upsert(&filter.equality_fields())?;
            let doc = prepare_for_insert(&built)?;
            if let Some(v) = &validator {
                v.check_insert(&doc)?;
            }
            let id = document_id(&doc).map(RawBson::from).unwrap_or(RawBson::Null);
            let mut tmp = WriteResult::default();
            insert_batch(&collection, vec![(0, doc.clone())], true, &mut tmp)?;
            if let Some(e) = tmp.write_errors.into_iter().next() {
                return Err(e.into_error());
            }
            let value = if return_new { Some(project(&doc)?) } else { None };
            Ok(reply(1, Some(false), Some(id), value))
        }
        None => Ok(reply(0, Some(false), None, None)),
    }
}
