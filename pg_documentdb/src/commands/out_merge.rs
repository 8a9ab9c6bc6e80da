//! `$out` and `$merge`: the pipeline's query becomes the source of one write statement on
//! the target collection, run in the command's transaction.
//!
//! * `$out` replaces the target's documents: `DELETE` of every document and `INSERT ...
//!   SELECT` of the results in one statement (the delete runs first; the pipeline reads the
//!   snapshot from before it, so `$out` to the collection it reads works). Readers see the
//!   old or the new documents, never a mix (MVCC), without waiting; the target keeps its
//!   indexes and options, as MongoDB's `$out` does. Why not build a new table and rename it
//!   over the target: readers that resolved the old table would then fail instead of
//!   reading it, and the rename waits for every reader (docs/aggregation.md).
//! * `$merge` is PostgreSQL's `MERGE`: result documents matched to target documents on the
//!   `on` fields, through the unique index MongoDB requires on them (51183 without one).

use bson::{RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_authz::Action;
use documentdb_errors::{bail, docdb_error, DocDbError, DocDbResult, ErrorCode};
use documentdb_query::merge::{self, Merge, Target, WhenMatched, WhenNotMatched};

use super::cursor::{OwnedParam, PageQuery};
use super::index_sql::sort_key_expression;
use super::validation::Validator;
use super::write_result::cstr;
use crate::catalog::{self, Collection};
use crate::spi;
use crate::sql_names::{self, BSON};
use crate::subxact;

/// A pipeline's final write stage.
pub enum WriteStage {
    Out(Target),
    Merge(Merge, RawDocumentBuf),
}

impl WriteStage {
    /// The stage if `stage` is `$out` or `$merge`.
    pub fn parse(name: &str, value: RawBsonRef<'_>) -> DocDbResult<Option<WriteStage>> {
        Ok(match name {
            "$out" => Some(WriteStage::Out(merge::parse_out(value)?)),
            "$merge" => {
                let parsed = merge::parse_merge(value)?;
                Some(WriteStage::Merge(parsed, documentdb_query::document::single_value_document(value)))
            }
            _ => None,
        })
    }

    fn target(&self) -> &Target {
        match self {
            WriteStage::Out(t) => t,
            WriteStage::Merge(m, _) => &m.target,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            WriteStage::Out(_) => "$out",
            WriteStage::Merge(..) => "$merge",
        }
    }
}

/// The error for a write stage anywhere but last (40601).
pub fn not_last(name: &str) -> DocDbError {
    DocDbError::new(ErrorCode::new(40601), format!("{name} can only be the final stage in the pipeline"))
}

/// Checks the target's namespace: not a system collection or an internal database.
fn check_target(stage: &WriteStage, db: &str) -> DocDbResult<()> {
    let coll = &stage.target().coll;
    catalog::validate_database_name(db)?;
    catalog::validate_collection_name(db, coll)?;
    let name = stage.name();
    if matches!(db, "admin" | "config" | "local") {
        let code = if name == "$out" { 31321 } else { 31320 };
        return Err(DocDbError::new(ErrorCode::new(code), format!("Can't {name} to internal database: {db}")));
    }
    if coll.starts_with("system.") {
        let code = if name == "$out" { 17385 } else { 31319 };
        return Err(DocDbError::new(ErrorCode::new(code), format!("Can't {name} to special collection: {coll}")));
    }
    Ok(())
}

/// Runs `stage` with `query` (the pipeline before it) as its source.
pub fn run(db: &str, stage: &WriteStage, query: PageQuery, command: &RawDocument) -> DocDbResult<()> {
    let target_db = stage.target().db.clone().unwrap_or_else(|| db.to_owned());
    check_target(stage, &target_db)?;
    let coll = stage.target().coll.clone();
    let existing = catalog::lookup(&target_db, &coll)?;
    let actions: &[Action] = match stage {
        WriteStage::Out(_) => &[Action::Insert, Action::Remove],
        WriteStage::Merge(..) => &[Action::Insert, Action::Update],
    };
    for action in actions {
        crate::authz::require_data(existing.as_ref(), *action, &target_db, &coll, command)?;
    }
    if existing.as_ref().is_some_and(Collection::is_view) {
        bail!(CommandNotSupportedOnView, "Cannot {} to a view: {target_db}.{coll}", stage.name());
    }
    let target = super::new_collection::get_or_create(&target_db, &coll, command)?;
    let mut spec = RawDocumentBuf::new();
    if let WriteStage::Merge(_, raw) = stage {
        if let Some(Ok((_, value))) = raw.iter().next() {
            spec.append(cstr("merge"), value);
        }
    }
    if let Some(validator) = Validator::for_collection(&target)? {
        spec.append(cstr("validator"), validator.to_spec());
    }
    let PageQuery { sql: source_sql, mut params, .. } = query;
    params.push(OwnedParam::Bson(spec.into_bytes()));
    let spec_param = format!("${}::{BSON}", params.len());
    params.push(OwnedParam::Int8(target.id));
    let collection_param = format!("${}", params.len());
    let id_key = format!("{}(%s, '{{ \"\" : \"$_id\" }}'::{BSON})", sql_names::EXPRESSION_GET.plain);
    let table = target.table();
    let sql = match stage {
        WriteStage::Out(_) => format!(
            "WITH removed AS (DELETE FROM {table} RETURNING 1) \
             INSERT INTO {table} (shard_key_value, object_id, document) \
             SELECT {collection_param}, {}, o.d FROM \
             (SELECT {}(q.document, {spec_param}) AS d FROM ({source_sql}) q) o \
             WHERE (SELECT count(*) FROM removed) >= 0",
            id_key.replace("%s", "o.d"),
            sql_names::OUT_DOCUMENT,
        ),
        WriteStage::Merge(m, _) => {
            let condition = match_condition(m, &target)?;
            let when_matched = match &m.when_matched {
                WhenMatched::KeepExisting => "WHEN MATCHED THEN DO NOTHING".to_owned(),
                _ => format!(
                    "WHEN MATCHED THEN UPDATE SET document = {}(t.document, s.result, {spec_param})",
                    sql_names::MERGE_MATCHED
                ),
            };
            let when_not_matched = match m.when_not_matched {
                WhenNotMatched::Discard => String::new(),
                WhenNotMatched::Insert | WhenNotMatched::Fail => format!(
                    "WHEN NOT MATCHED THEN INSERT (shard_key_value, object_id, document) \
                     VALUES ({collection_param}, {}, {}(s.prepared, {spec_param}))",
                    id_key.replace("%s", "s.prepared"),
                    sql_names::MERGE_UNMATCHED
                ),
            };
            format!(
                "MERGE INTO {table} t USING \
                 (SELECT q.document AS result, {}(q.document, {spec_param}) AS prepared FROM ({source_sql}) q) s \
                 ON t.shard_key_value = {collection_param} AND {condition} {when_matched} {when_not_matched}",
                sql_names::MERGE_SOURCE
            )
        }
    };
    let bound: Vec<_> = params.iter().map(OwnedParam::as_param).collect();
    match subxact::run(|| spi::execute(&sql, &bound, false, 0).map(|_| ())) {
        Ok(()) => Ok(()),
        Err(subxact::Failure::UniqueViolation { constraint_message }) => {
            Err(super::indexes::duplicate_key_error(&target, &constraint_message, None))
        }
        Err(failure) => {
            let error = failure.into_error();
            if error.message.contains("MERGE command cannot affect row a second time") {
                return Err(docdb_error!(
                    BadValue,
                    "$merge: several result documents match the same target document in one pipeline run"
                ));
            }
            Err(error)
        }
    }
}

/// `MERGE`'s ON condition: the target's `_id` (its primary key) or the key expressions of
/// the unique index on exactly the `on` fields, equal to the result document's.
fn match_condition(m: &Merge, target: &Collection) -> DocDbResult<String> {
    if m.on_id() {
        return Ok(format!(
            "t.object_id {} {}(s.prepared, '{{ \"\" : \"$_id\" }}'::{BSON})",
            sql_names::BSON_EQ,
            sql_names::EXPRESSION_GET.plain
        ));
    }
    let on = m.on_fields();
    let index = super::indexes::unique_indexes(target)?.into_iter().find(|(_, key)| {
        let fields: Vec<&str> = key.iter().flatten().map(|(k, _)| k.as_str()).collect();
        fields.len() == on.len() && on.iter().all(|f| fields.contains(&f.as_str()))
    });
    let Some((_, key)) = index else {
        return Err(DocDbError::new(
            ErrorCode::new(51183),
            "Cannot find index to verify that join fields will be unique",
        ));
    };
    let mut conditions = Vec::new();
    for (path, direction) in key.iter().flatten() {
        let ascending = catalog::key_is_ascending(direction);
        conditions.push(format!(
            "{} {} {}",
            sort_key_expression("t.document", path.as_str(), ascending)?,
            sql_names::BSON_EQ,
            sort_key_expression("s.result", path.as_str(), ascending)?
        ));
    }
    Ok(conditions.join(" AND "))
}
