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
//!   Results that share an `on` value are applied in turn, as MongoDB applies them: one
//!   `MERGE` may affect a row once, so then they are merged in rounds.

use bson::{RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_authz::Action;
use documentdb_errors::{bail, DocDbError, DocDbResult, ErrorCode};
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
            let source = format!(
                "(SELECT q.document AS result, {}(q.document, {spec_param}) AS prepared FROM ({source_sql}) q)",
                sql_names::MERGE_SOURCE
            );
            let merge = MergeStatement::new(m, &target, &spec_param, &collection_param, &id_key)?;
            let bound: Vec<_> = params.iter().map(OwnedParam::as_param).collect();
            return match run_write(&target, &merge.sql(&source), &bound)? {
                Written::Done => Ok(()),
                // Results sharing an `on` value, or a duplicate key of its own: the rounds
                // apply the first in turn and meet the second again.
                Written::KeyMetTwice(_) => merge.run_in_rounds(&target, &source, &bound),
            };
        }
    };
    let bound: Vec<_> = params.iter().map(OwnedParam::as_param).collect();
    match run_write(&target, &sql, &bound)? {
        Written::Done => Ok(()),
        Written::KeyMetTwice(error) => Err(error),
    }
}

/// How a write statement ended.
enum Written {
    Done,
    /// The statement met a key twice: a `MERGE` met a target row a second time, or inserted
    /// a key twice. Several results sharing an `on` value do both; MongoDB applies them in
    /// turn (`MergeStatement::run_in_rounds`).
    KeyMetTwice(DocDbError),
}

/// Runs one write statement in a subtransaction: a unique violation is MongoDB's duplicate
/// key error on `target`.
fn run_write(target: &Collection, sql: &str, params: &[spi::Param<'_>]) -> DocDbResult<Written> {
    match subxact::run(|| spi::execute(sql, params, false, 0).map(|_| ())) {
        Ok(()) => Ok(Written::Done),
        Err(subxact::Failure::UniqueViolation { constraint_message }) => {
            Ok(Written::KeyMetTwice(super::indexes::duplicate_key_error(target, &constraint_message, None)))
        }
        Err(subxact::Failure::CardinalityViolation { message }) => {
            Ok(Written::KeyMetTwice(DocDbError::new(ErrorCode::InternalError, message)))
        }
        Err(failure) => Err(failure.into_error()),
    }
}

/// The `MERGE` of a `$merge` stage over a source of `(result, prepared)` rows.
struct MergeStatement {
    head: String,
    tail: String,
    /// The source's `on` value, over `s`: what one round may hold once.
    source_key: Vec<String>,
}

impl MergeStatement {
    fn new(
        m: &Merge,
        target: &Collection,
        spec_param: &str,
        collection_param: &str,
        id_key: &str,
    ) -> DocDbResult<Self> {
        let keys = match_keys(m, target)?;
        let condition: Vec<String> = keys.iter().map(|(t, s)| format!("{t} {} {s}", sql_names::BSON_EQ)).collect();
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
        Ok(MergeStatement {
            head: format!("MERGE INTO {} t USING", target.table()),
            tail: format!(
                "s ON t.shard_key_value = {collection_param} AND {} {when_matched} {when_not_matched}",
                condition.join(" AND ")
            ),
            source_key: keys.into_iter().map(|(_, s)| s).collect(),
        })
    }

    fn sql(&self, source: &str) -> String {
        format!("{} {source} {}", self.head, self.tail)
    }

    /// Several results share an `on` value: MongoDB applies them in turn (the second
    /// meets the document the first inserted or updated), while one `MERGE` may affect a
    /// row once. The results are kept in a temporary table (the source may read the target)
    /// numbered per `on` value in result order, and merged in rounds: the first of each
    /// value, then the second...
    fn run_in_rounds(&self, target: &Collection, source: &str, params: &[spi::Param<'_>]) -> DocDbResult<()> {
        // Created and dropped within the command: an error anywhere rolls its creation back
        // with the command (or the savepoint around it), so none is left over.
        const ROUNDS: &str = "pg_temp.documentdb_merge_rounds";
        spi::execute(
            &format!(
                "CREATE TEMP TABLE {ROUNDS} ON COMMIT DROP AS \
                 SELECT s.result, s.prepared, row_number() OVER (PARTITION BY {} ORDER BY s.seq) AS round \
                 FROM (SELECT s.*, row_number() OVER () AS seq FROM {source} s) s",
                self.source_key.join(", ")
            ),
            params,
            false,
            0,
        )?;
        let rounds = spi::execute(&format!("SELECT max(round) FROM {ROUNDS}"), &[], true, 0)?
            .into_iter()
            .next()
            .and_then(|row| row.into_iter().next())
            .and_then(|v| v.as_i64())
            .unwrap_or(0);
        for round in 1..=rounds {
            // Each round's statement takes every parameter (the source's go unused).
            let sql = self.sql(&format!("(SELECT result, prepared FROM {ROUNDS} WHERE round = {round})"));
            // A round holds one result per `on` value: meeting a key twice is the error.
            if let Written::KeyMetTwice(error) = run_write(target, &sql, params)? {
                return Err(error);
            }
        }
        spi::execute_once(&format!("DROP TABLE {ROUNDS}"))
    }
}

/// `MERGE`'s ON condition as (target side, source side) pairs compared with `=`: the
/// target's `_id` (its primary key) or the key expressions of the unique index on exactly
/// the `on` fields, and the result document's.
fn match_keys(m: &Merge, target: &Collection) -> DocDbResult<Vec<(String, String)>> {
    if m.on_id() {
        return Ok(vec![(
            "t.object_id".to_owned(),
            format!("{}(s.prepared, '{{ \"\" : \"$_id\" }}'::{BSON})", sql_names::EXPRESSION_GET.plain),
        )]);
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
    let mut keys = Vec::new();
    for (path, direction) in key.iter().flatten() {
        let ascending = catalog::key_is_ascending(direction);
        keys.push((
            sort_key_expression("t.document", path.as_str(), ascending)?,
            sort_key_expression("s.result", path.as_str(), ascending)?,
        ));
    }
    Ok(keys)
}
