//! The `insert` command: one INSERT statement per batch, duplicate keys reported as
//! `writeErrors` with MongoDB's ordered/unordered semantics.

use bson::{RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::{bail, DocDbResult};
use documentdb_pgbson::BsonSequenceRef;
use documentdb_query::document::{document_id, prepare_for_insert};

use super::spec::{self, read_fields};
use super::validation::Validator;
use super::write_result::{WriteError, WriteResult};
use crate::catalog::{self, Collection};
use crate::spi::{self, Param};
use crate::subxact;

/// MongoDB's maxWriteBatchSize.
pub const MAX_WRITE_BATCH_SIZE: usize = 100_000;

/// `{ "" : value }`: how `_id` values are stored in the `object_id` column.
pub fn object_id_key(id: RawBsonRef<'_>) -> Vec<u8> {
    documentdb_query::document::single_value_document(id).into_bytes()
}

struct InsertSpec<'a> {
    collection: &'a str,
    documents: Vec<&'a RawDocument>,
    ordered: bool,
    bypass_validation: bool,
}

fn parse_spec<'a>(spec: &'a RawDocument, sequence: Option<BsonSequenceRef<'a>>) -> DocDbResult<InsertSpec<'a>> {
    let collection = spec::collection_name(spec, "insert")?;
    let mut documents = Vec::new();
    let mut has_inline = false;
    let mut ordered = true;
    let mut bypass_validation = false;
    read_fields(spec, "insert", |field| {
        match field.name {
            "documents" => {
                has_inline = true;
                for (i, item) in field.array()?.into_iter().enumerate() {
                    match item {
                        Ok(RawBsonRef::Document(doc)) => documents.push(doc),
                        _ => bail!(
                            TypeMismatch,
                            "BSON field 'insert.documents.{i}' is the wrong type, expected type 'object'"
                        ),
                    }
                }
            }
            "ordered" => ordered = field.bool()?,
            "bypassDocumentValidation" => bypass_validation = field.bool()?,
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if let Some(seq) = sequence {
        if has_inline {
            bail!(BadValue, "insert documents were given both in the command and as a document sequence");
        }
        documents.extend(seq.documents());
    } else if !has_inline {
        return Err(spec::missing("insert", "documents"));
    }
    if documents.is_empty() || documents.len() > MAX_WRITE_BATCH_SIZE {
        bail!(
            InvalidLength,
            "Write batch sizes must be between 1 and {MAX_WRITE_BATCH_SIZE}. Got {} operations.",
            documents.len()
        );
    }
    Ok(InsertSpec { collection, documents, ordered, bypass_validation })
}

/// Runs an insert command; returns the reply and whether every document was inserted.
pub fn insert(db: &str, command: &RawDocument, sequence: Option<BsonSequenceRef<'_>>) -> DocDbResult<WriteResult> {
    let spec = parse_spec(command, sequence)?;
    catalog::validate_database_name(db)?;
    catalog::validate_collection_name(db, spec.collection)?;
    let existing = catalog::lookup(db, spec.collection)?;
    crate::authz::require_data(existing.as_ref(), documentdb_authz::Action::Insert, db, spec.collection, command)?;
    let collection = match existing {
        Some(c) if !c.is_view() => c,
        _ => super::new_collection::get_or_create(db, spec.collection, command)?,
    };
    let validator = if spec.bypass_validation { None } else { Validator::for_collection(&collection)? };

    let mut result = WriteResult::default();
    // Documents ready to insert, with their index in the command.
    let mut batch: Vec<(usize, RawDocumentBuf)> = Vec::with_capacity(spec.documents.len());
    for (index, doc) in spec.documents.iter().enumerate() {
        let prepared = prepare_for_insert(doc).and_then(|d| match &validator {
            Some(v) => v.check_insert(&d).map(|_| d),
            None => Ok(d),
        });
        match prepared {
            Ok(d) => batch.push((index, d)),
            Err(err) => {
                result.write_errors.push(WriteError::from_error(index, err));
                if spec.ordered {
                    break;
                }
            }
        }
    }
    insert_batch(&collection, batch, spec.ordered, &mut result)?;
    result.write_errors.sort_by_key(|e| e.index);
    if spec.ordered {
        // With ordered semantics nothing after the first error may be attempted.
        if let Some(first) = result.write_errors.first().map(|e| e.index) {
            result.write_errors.retain(|e| e.index == first);
        }
    }
    Ok(result)
}

/// Inserts prepared documents set-wise. Duplicates of `_id` are reported per document;
/// with `ordered`, documents after the first failure are not inserted.
///
/// The common case (no duplicates) is one plain INSERT that streams the arrays through a
/// set-returning select list. Only when it hits a unique violation does the batch rerun
/// with ON CONFLICT DO NOTHING to find which documents failed; that path's speculative
/// insertions cost an extra index probe per row, which the fast path avoids.
pub fn insert_batch(
    collection: &Collection,
    mut batch: Vec<(usize, RawDocumentBuf)>,
    ordered: bool,
    result: &mut WriteResult,
) -> DocDbResult<()> {
    let table = collection.table();
    let mut fast_path = true;
    loop {
        if batch.is_empty() {
            return Ok(());
        }
        let ids: Vec<Vec<u8>> =
            batch.iter().map(|(_, d)| object_id_key(document_id(d).unwrap_or(RawBsonRef::Null))).collect();
        let docs: Vec<Vec<u8>> = batch.iter().map(|(_, d)| d.as_bytes().to_vec()).collect();
        let params = [Param::Int8(collection.id), Param::BsonArray(&ids), Param::BsonArray(&docs)];
        if fast_path {
            let sql = format!(
                "INSERT INTO {table} (shard_key_value, object_id, document) \
                 SELECT $1, unnest($2::documentdb_core.bson[]), unnest($3::documentdb_core.bson[])"
            );
            match subxact::run(|| spi::execute(&sql, &params, false, 0).map(|_| ())) {
                Ok(()) => {
                    result.n += batch.len() as i64;
                    return Ok(());
                }
                Err(subxact::Failure::UniqueViolation { .. }) => {
                    fast_path = false;
                    continue;
                }
                Err(failure) => return Err(failure.into_error()),
            }
        }
        let sql = format!(
            "INSERT INTO {table} (shard_key_value, object_id, document) \
             SELECT $1, unnest($2::documentdb_core.bson[]), unnest($3::documentdb_core.bson[]) \
             ON CONFLICT DO NOTHING RETURNING object_id"
        );
        let first_failure = std::cell::Cell::new(None);
        let outcome = subxact::run(|| {
            let rows = spi::execute(&sql, &params, false, 0)?;
            let inserted: Vec<Vec<u8>> = rows.into_iter().filter_map(|r| r.into_iter().next()?.into_bson()).collect();
            let failed = failed_positions(&ids, inserted);
            if ordered && !failed.is_empty() {
                // Undo this attempt; the prefix before the first failure is redone below.
                first_failure.set(failed.first().copied());
                return Err(documentdb_errors::docdb_error!(DuplicateKey, "ordered batch retry"));
            }
            Ok(failed)
        });
        match (outcome, first_failure.get()) {
            (Ok(failed), _) => {
                result.n += (batch.len() - failed.len()) as i64;
                for position in failed {
                    let (index, doc) = &batch[position];
                    result.write_errors.push(duplicate_error(collection, *index, doc)?);
                }
                return Ok(());
            }
            (Err(_), Some(position)) => {
                let (index, doc) = &batch[position];
                result.write_errors.push(duplicate_error(collection, *index, doc)?);
                batch.truncate(position);
                // The prefix has no duplicates among itself or with the table.
                fast_path = true;
            }
            // A uniqueness check ON CONFLICT cannot arbitrate (array elements of a unique
            // multikey index, a trigger's): one document at a time, each its own write.
            (Err(subxact::Failure::UniqueViolation { .. }), None) => {
                return insert_one_by_one(collection, batch, ordered, result);
            }
            (Err(failure), None) => return Err(failure.into_error()),
        }
    }
}

/// Inserts `batch` document by document, a duplicate key failing only its own document
/// (and, when `ordered`, stopping there), as MongoDB reports per-document write errors.
fn insert_one_by_one(
    collection: &Collection,
    batch: Vec<(usize, RawDocumentBuf)>,
    ordered: bool,
    result: &mut WriteResult,
) -> DocDbResult<()> {
    let sql = format!("INSERT INTO {} (shard_key_value, object_id, document) VALUES ($1, $2, $3)", collection.table());
    for (index, doc) in batch {
        let id = object_id_key(document_id(&doc).unwrap_or(RawBsonRef::Null));
        let params = [Param::Int8(collection.id), Param::Bson(&id), Param::Bson(doc.as_bytes())];
        match subxact::run(|| spi::execute(&sql, &params, false, 0).map(|_| ())) {
            Ok(()) => result.n += 1,
            Err(subxact::Failure::UniqueViolation { constraint_message }) => {
                let error = super::indexes::duplicate_key_error(collection, &constraint_message, Some(&doc));
                result.write_errors.push(WriteError::from_error(index, error));
                if ordered {
                    return Ok(());
                }
            }
            Err(failure) => return Err(failure.into_error()),
        }
    }
    Ok(())
}

/// Describes why `doc` was not inserted: a secondary unique index it collides with, or
/// (otherwise) its `_id`.
fn duplicate_error(collection: &Collection, index: usize, doc: &RawDocument) -> DocDbResult<WriteError> {
    if let Some((name, key, value)) = super::indexes::conflicting_unique_index(collection, doc)? {
        return Ok(WriteError::duplicate_key(index, collection, &name, key, value));
    }
    let id = document_id(doc).unwrap_or(RawBsonRef::Null);
    Ok(WriteError::duplicate_id(index, collection, id))
}

/// Positions (into `ids`) of documents that were not inserted: each returned object_id
/// accounts for the first not-yet-matched position with the same bytes.
fn failed_positions(ids: &[Vec<u8>], inserted: Vec<Vec<u8>>) -> Vec<usize> {
    if inserted.len() == ids.len() {
        return Vec::new();
    }
    let mut remaining: std::collections::HashMap<Vec<u8>, usize> = std::collections::HashMap::new();
    for id in inserted {
        *remaining.entry(id).or_default() += 1;
    }
    let mut failed = Vec::new();
    for (position, id) in ids.iter().enumerate() {
        match remaining.get_mut(id) {
            Some(count) if *count > 0 => *count -= 1,
            _ => failed.push(position),
        }
    }
    failed
}
