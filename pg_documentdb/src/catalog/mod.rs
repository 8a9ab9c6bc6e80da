//! Collection metadata: names, ids, per-collection tables, validators.

use bson::{rawdoc, RawDocumentBuf};
use documentdb_errors::{bail, docdb_error, DocDbResult};

use crate::spi::{self, Param, Value};

pub mod cache;

/// MongoDB's maximum namespace ("db.collection") length.
const MAX_NAMESPACE_LEN: usize = 255;
/// MongoDB's maximum database name length.
const MAX_DATABASE_NAME_LEN: usize = 64;

/// One row of `documentdb_api_catalog.collections`.
#[derive(Debug, Clone)]
pub struct Collection {
    pub id: i64,
    pub database: String,
    pub name: String,
    pub uuid: String,
    pub validator: Option<RawDocumentBuf>,
    pub validation_level: String,
    pub validation_action: String,
    pub view_definition: Option<RawDocumentBuf>,
    pub options: Option<RawDocumentBuf>,
    /// OID of the data table (0 for a view).
    pub table_oid: u32,
    /// The indexes (`_id_` included), as of the lookup; empty where the collection was
    /// not looked up through [`lookup`] (queries then simply use no index bounds).
    pub indexes: Vec<IndexEntry>,
}

/// One row of `documentdb_api_catalog.collection_indexes`.
#[derive(Debug, Clone)]
pub struct IndexEntry {
    /// `index_id` in the catalog (the PostgreSQL index is `documents_<collection>_idx_<id>`).
    pub id: i64,
    /// OID of the PostgreSQL index (the primary key for `_id_`).
    pub oid: u32,
    /// OID of the GIN index of multikey keys beside a single-field index (0: none).
    pub terms_oid: u32,
    /// OID of the btree of arrays' other ends beside a single-field index (0: none).
    pub ends_oid: u32,
    /// The spec as `listIndexes` reports it (`key`, `name`, options).
    pub spec: RawDocumentBuf,
    /// MongoDB's multikey flag (see `sql/documentdb_catalog.sql`).
    pub multikey: bool,
}

impl IndexEntry {
    pub fn name(&self) -> &str {
        self.spec.get_str("name").unwrap_or_default()
    }

    /// The key pattern, `{ path: direction, ... }`.
    pub fn key(&self) -> Option<&bson::RawDocument> {
        self.spec.get_document("key").ok()
    }

    /// Whether the index holds an entry for every document (not sparse, not partial), so its
    /// key bounds can answer any query on its paths.
    pub fn covers_every_document(&self) -> bool {
        !self.spec.get_bool("sparse").unwrap_or(false) && self.spec.get_document("partialFilterExpression").is_err()
    }

    /// Whether the index orders `path` ascending, when `path` is one of its keys.
    pub fn ascending_on(&self, path: &str) -> Option<bool> {
        self.key()?
            .iter()
            .flatten()
            .find(|(k, _)| k.as_str() == path)
            .filter(|(_, v)| !matches!(v, bson::RawBsonRef::String(_)))
            .map(|(_, v)| key_is_ascending(v))
    }

    /// A hidden index is kept up to date but never chosen for a query.
    pub fn is_hidden(&self) -> bool {
        self.spec.get_bool("hidden").unwrap_or(false)
    }

    /// The PostgreSQL indexes that make up this index (the btree, and beside a single-field
    /// index the GIN of multikey keys and the btree of arrays' other ends).
    pub fn relation_oids(&self) -> Vec<u32> {
        [self.oid, self.terms_oid, self.ends_oid].into_iter().filter(|o| *o != 0).collect()
    }

    /// Whether the planner may use the index's key bounds: it holds one single-valued key
    /// per document (not multikey, not sparse or partial).
    pub fn bounds_keys(&self) -> bool {
        !self.multikey && self.covers_every_document()
    }
}

/// The direction of one key of a key pattern (`1`, `-1`, `-1.0`, ...): ascending unless
/// negative.
pub fn key_is_ascending(direction: bson::RawBsonRef<'_>) -> bool {
    match direction {
        bson::RawBsonRef::Int32(v) => v >= 0,
        bson::RawBsonRef::Int64(v) => v >= 0,
        bson::RawBsonRef::Double(v) => v >= 0.0,
        _ => true,
    }
}

impl Collection {
    /// The data table, schema-qualified.
    pub fn table(&self) -> String {
        table_name(self.id)
    }

    pub fn namespace(&self) -> String {
        format!("{}.{}", self.database, self.name)
    }

    pub fn is_view(&self) -> bool {
        self.view_definition.is_some()
    }
}

pub fn table_name(collection_id: i64) -> String {
    format!("documentdb_data.documents_{collection_id}")
}

/// MongoDB's database name rules.
pub fn validate_database_name(db: &str) -> DocDbResult<()> {
    if db.is_empty() {
        bail!(InvalidNamespace, "Invalid empty database name");
    }
    if db.len() >= MAX_DATABASE_NAME_LEN {
        bail!(InvalidNamespace, "Invalid database name '{db}': database names must be shorter than 64 bytes");
    }
    if let Some(c) =
        db.chars().find(|c| matches!(c, '/' | '\\' | '.' | ' ' | '"' | '$' | '*' | '<' | '>' | ':' | '|' | '?' | '\0'))
    {
        bail!(InvalidNamespace, "Invalid database name '{db}': database names cannot contain the character '{c}'");
    }
    Ok(())
}

/// MongoDB's collection name rules (for names a user may create or write).
pub fn validate_collection_name(db: &str, coll: &str) -> DocDbResult<()> {
    if coll.is_empty() {
        bail!(InvalidNamespace, "Invalid namespace specified '{db}.': collection names cannot be empty");
    }
    if coll.contains('\0') {
        bail!(InvalidNamespace, "Invalid collection name: collection names cannot contain the null character");
    }
    if coll.starts_with('.') {
        bail!(InvalidNamespace, "Invalid collection name '{coll}': collection names cannot start with '.'");
    }
    if coll.contains('$') {
        bail!(InvalidNamespace, "Invalid collection name: '{db}.{coll}'");
    }
    if coll.starts_with("system.") && !matches!(coll, "system.js" | "system.views" | "system.profile") {
        bail!(InvalidNamespace, "Invalid system namespace: {db}.{coll}");
    }
    if db.len() + 1 + coll.len() > MAX_NAMESPACE_LEN {
        bail!(
            InvalidNamespace,
            "Fully qualified namespace is too long. Namespace: {db}.{coll} Max: {MAX_NAMESPACE_LEN}"
        );
    }
    Ok(())
}

const SELECT_COLUMNS: &str = "collection_id, database_name, collection_name, collection_uuid::text, validator, \
     coalesce(validation_level, 'strict'), coalesce(validation_action, 'error'), view_definition, options, \
     coalesce(to_regclass(format('documentdb_data.documents_%s', collection_id))::oid, 0)";

fn doc_of(value: Value) -> Option<RawDocumentBuf> {
    value.into_bson().and_then(|bytes| RawDocumentBuf::from_bytes(bytes).ok())
}

fn collection_from_row(row: Vec<Value>) -> DocDbResult<Collection> {
    let mut it = row.into_iter();
    let mut next = || it.next().unwrap_or(Value::Null);
    let id = next().as_i64().ok_or_else(|| docdb_error!(InternalError, "catalog row without id"))?;
    let database = next().as_text().unwrap_or_default().to_owned();
    let name = next().as_text().unwrap_or_default().to_owned();
    let uuid = next().as_text().unwrap_or_default().to_owned();
    let validator = doc_of(next());
    let validation_level = next().as_text().unwrap_or("strict").to_owned();
    let validation_action = next().as_text().unwrap_or("error").to_owned();
    let view_definition = doc_of(next());
    let options = doc_of(next());
    let table_oid = next().as_i64().and_then(|o| u32::try_from(o).ok()).unwrap_or(0);
    Ok(Collection {
        table_oid,
        indexes: Vec::new(),
        id,
        database,
        name,
        uuid,
        validator,
        validation_level,
        validation_action,
        view_definition,
        options,
    })
}

/// Looks a collection (or view) up; `None` when it doesn't exist. Served from the
/// backend's cache when possible (see `cache`).
pub fn lookup(db: &str, coll: &str) -> DocDbResult<Option<Collection>> {
    cache::lookup(db, coll, || {
        let sql = format!(
            "SELECT {SELECT_COLUMNS} FROM documentdb_api_catalog.collections \
             WHERE database_name = $1 AND collection_name = $2"
        );
        let rows = spi::execute(&sql, &[Param::Text(db), Param::Text(coll)], true, 1)?;
        let Some(mut collection) = rows.into_iter().next().map(collection_from_row).transpose()? else {
            return Ok(None);
        };
        collection.indexes = index_entries(collection.id)?;
        Ok(Some(collection))
    })
}

/// The secondary indexes of a collection, by id.
fn index_entries(collection_id: i64) -> DocDbResult<Vec<IndexEntry>> {
    let rows = spi::execute(
        "SELECT index_id, index_spec, index_is_multikey, coalesce(to_regclass(CASE WHEN index_name = '_id_' \
         THEN format('documentdb_data.collection_pk_%s', collection_id) \
         ELSE format('documentdb_data.documents_%s_idx_%s', collection_id, index_id) END)::oid, 0), \
         coalesce(to_regclass(format('documentdb_data.documents_%s_idx_%s_terms', collection_id, index_id))::oid, 0), \
         coalesce(to_regclass(format('documentdb_data.documents_%s_idx_%s_ends', collection_id, index_id))::oid, 0) \
         FROM documentdb_api_catalog.collection_indexes WHERE collection_id = $1 ORDER BY index_id",
        &[Param::Int8(collection_id)],
        true,
        0,
    )?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let mut c = row.into_iter();
            let id = c.next()?.as_i64()?;
            let spec = doc_of(c.next()?)?;
            let multikey = c.next()?.as_bool().unwrap_or(true);
            let mut next_oid = || c.next().and_then(|v| v.as_i64()).and_then(|o| u32::try_from(o).ok()).unwrap_or(0);
            let oid = next_oid();
            let terms_oid = next_oid();
            let ends_oid = next_oid();
            Some(IndexEntry { id, oid, terms_oid, ends_oid, spec, multikey })
        })
        .collect())
}

/// Whether the catalog records index `index_id` as multikey (a dropped index counts as
/// multikey: nothing is left to track). Cached per backend with the collection lookups.
pub fn index_is_multikey(index_id: i64) -> DocDbResult<bool> {
    cache::index_multikey(index_id, || {
        let rows = spi::execute(
            "SELECT index_is_multikey FROM documentdb_api_catalog.collection_indexes WHERE index_id = $1",
            &[Param::Int8(index_id)],
            true,
            1,
        )?;
        Ok(rows.into_iter().next().and_then(|r| r.into_iter().next()?.as_bool()).unwrap_or(true))
    })
}

/// All collections and views of a database, by name.
pub fn list(db: &str) -> DocDbResult<Vec<Collection>> {
    let sql = format!(
        "SELECT {SELECT_COLUMNS} FROM documentdb_api_catalog.collections \
         WHERE database_name = $1 ORDER BY collection_name"
    );
    spi::execute(&sql, &[Param::Text(db)], true, 0)?.into_iter().map(collection_from_row).collect()
}

/// Names of all databases that have at least one collection.
pub fn databases() -> DocDbResult<Vec<String>> {
    let rows =
        spi::execute("SELECT DISTINCT database_name FROM documentdb_api_catalog.collections ORDER BY 1", &[], true, 0)?;
    Ok(rows.into_iter().filter_map(|r| r.into_iter().next()?.as_text().map(str::to_owned)).collect())
}

/// Options of a collection creation (the `create` command's optional fields we keep).
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub validator: Option<RawDocumentBuf>,
    pub validation_level: Option<String>,
    pub validation_action: Option<String>,
    pub view_definition: Option<RawDocumentBuf>,
    /// The options document listCollections reports.
    pub options: Option<RawDocumentBuf>,
}

/// The `_id` index every collection has.
pub fn id_index_spec() -> RawDocumentBuf {
    rawdoc! { "v": 2, "key": { "_id": 1 }, "name": "_id_" }
}

/// Creates a collection (or view) and its table, as the extension's owner; callers check
/// the privilege and grant the table (`commands::collection::create_granted`). Returns
/// `Ok(None)` when the name is already taken.
pub fn create(db: &str, coll: &str, opts: &CreateOptions) -> DocDbResult<Option<Collection>> {
    validate_database_name(db)?;
    validate_collection_name(db, coll)?;
    spi::as_extension_owner(|| create_as_owner(db, coll, opts))
}

fn create_as_owner(db: &str, coll: &str, opts: &CreateOptions) -> DocDbResult<Option<Collection>> {
    fn bson_param(d: &Option<RawDocumentBuf>) -> Param<'_> {
        match d {
            Some(doc) => Param::Bson(doc.as_bytes()),
            None => Param::Null(spi::ParamType::Bson),
        }
    }
    fn text_param(t: &Option<String>) -> Param<'_> {
        match t {
            Some(s) => Param::Text(s.as_str()),
            None => Param::Null(spi::ParamType::Text),
        }
    }
    let sql = format!(
        "INSERT INTO documentdb_api_catalog.collections \
           (database_name, collection_name, validator, validation_level, validation_action, view_definition, options) \
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING RETURNING {SELECT_COLUMNS}"
    );
    let rows = spi::execute(
        &sql,
        &[
            Param::Text(db),
            Param::Text(coll),
            bson_param(&opts.validator),
            text_param(&opts.validation_level),
            text_param(&opts.validation_action),
            bson_param(&opts.view_definition),
            bson_param(&opts.options),
        ],
        false,
        0,
    )?;
    let Some(row) = rows.into_iter().next() else {
        return Ok(None);
    };
    let mut collection = collection_from_row(row)?;
    if !collection.is_view() {
        collection.table_oid = create_data_table(collection.id)?;
        let spec = id_index_spec();
        spi::execute(
            "INSERT INTO documentdb_api_catalog.collection_indexes (collection_id, index_name, index_spec) \
             VALUES ($1, '_id_', $2)",
            &[Param::Int8(collection.id), Param::Bson(spec.as_bytes())],
            false,
            0,
        )?;
    }
    Ok(Some(collection))
}

/// Creates a collection's table (owned by the extension's owner: its DDL is ours) and
/// returns its OID.
fn create_data_table(id: i64) -> DocDbResult<u32> {
    let table = table_name(id);
    spi::execute_once(&format!(
        "CREATE TABLE {table} (
            shard_key_value bigint NOT NULL,
            object_id documentdb_core.bson NOT NULL,
            document documentdb_core.bson NOT NULL,
            creation_time timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT collection_pk_{id} PRIMARY KEY (shard_key_value, object_id)
        )"
    ))?;
    // Documents are mostly read whole: keep them inline up to the TOAST threshold and
    // compressed beyond it.
    spi::execute_once(&format!("ALTER TABLE {table} ALTER COLUMN document SET STORAGE EXTENDED"))?;
    let rows = spi::execute("SELECT to_regclass($1)::oid::bigint", &[Param::Text(&table)], true, 1)?;
    rows.into_iter()
        .next()
        .and_then(|r| r.into_iter().next()?.as_i64())
        .and_then(|o| u32::try_from(o).ok())
        .ok_or_else(|| docdb_error!(InternalError, "table {table} vanished after its creation"))
}

/// Drops a collection or view (as the extension's owner: callers have checked
/// `dropCollection`); returns false when it didn't exist.
pub fn drop_collection(db: &str, coll: &str) -> DocDbResult<bool> {
    spi::as_extension_owner(|| drop_as_owner(db, coll))
}

fn drop_as_owner(db: &str, coll: &str) -> DocDbResult<bool> {
    let rows = spi::execute(
        "DELETE FROM documentdb_api_catalog.collections WHERE database_name = $1 AND collection_name = $2 \
         RETURNING collection_id, view_definition IS NOT NULL",
        &[Param::Text(db), Param::Text(coll)],
        false,
        0,
    )?;
    let Some(row) = rows.into_iter().next() else {
        return Ok(false);
    };
    let id = row.first().and_then(Value::as_i64).unwrap_or_default();
    let is_view = row.get(1).and_then(Value::as_bool).unwrap_or(false);
    if !is_view {
        spi::execute_once(&format!("DROP TABLE IF EXISTS {}", table_name(id)))?;
    }
    Ok(true)
}

/// Renames a collection within its database (the table keeps its id-based name), as the
/// extension's owner. Callers have checked the privilege.
pub fn rename(db: &str, from: &str, to: &str) -> DocDbResult<()> {
    spi::as_extension_owner(|| {
        spi::execute(
            "UPDATE documentdb_api_catalog.collections SET collection_name = $3 \
             WHERE database_name = $1 AND collection_name = $2",
            &[Param::Text(db), Param::Text(from), Param::Text(to)],
            false,
            0,
        )
    })?;
    Ok(())
}

/// Every collection and view of every database.
pub fn all_collections() -> DocDbResult<Vec<Collection>> {
    let sql = format!("SELECT {SELECT_COLUMNS} FROM documentdb_api_catalog.collections ORDER BY collection_id");
    spi::execute(&sql, &[], true, 0)?.into_iter().map(collection_from_row).collect()
}

/// Index specifications of a collection, `_id_` first.
pub fn indexes(collection_id: i64) -> DocDbResult<Vec<RawDocumentBuf>> {
    index_specs(collection_id, true)
}

/// The collection's indexes for a change to them: locks its catalog row, so concurrent
/// createIndexes of one collection take turns, and reads the indexes as committed once the
/// lock is held (a fresh snapshot: a concurrent build of the same index is seen, and its
/// repeat is a no-op as in MongoDB, not a duplicate catalog row).
pub fn indexes_for_change(collection_id: i64) -> DocDbResult<Vec<RawDocumentBuf>> {
    spi::execute(
        "SELECT 1 FROM documentdb_api_catalog.collections WHERE collection_id = $1 FOR UPDATE",
        &[Param::Int8(collection_id)],
        false,
        0,
    )?;
    index_specs(collection_id, false)
}

fn index_specs(collection_id: i64, read_only: bool) -> DocDbResult<Vec<RawDocumentBuf>> {
    let rows = spi::execute(
        "SELECT index_spec FROM documentdb_api_catalog.collection_indexes WHERE collection_id = $1 \
         ORDER BY index_id",
        &[Param::Int8(collection_id)],
        read_only,
        0,
    )?;
    Ok(rows.into_iter().filter_map(|r| doc_of(r.into_iter().next()?)).collect())
}

/// Updates validator settings (collMod).
pub fn set_validation(
    collection_id: i64,
    validator: Option<&RawDocumentBuf>,
    level: Option<&str>,
    action: Option<&str>,
) -> DocDbResult<()> {
    if let Some(v) = validator {
        // An empty validator removes validation.
        let param = if v.is_empty() { Param::Null(spi::ParamType::Bson) } else { Param::Bson(v.as_bytes()) };
        spi::execute(
            "UPDATE documentdb_api_catalog.collections SET validator = $2 WHERE collection_id = $1",
            &[Param::Int8(collection_id), param],
            false,
            0,
        )?;
    }
    if let Some(level) = level {
        spi::execute(
            "UPDATE documentdb_api_catalog.collections SET validation_level = $2 WHERE collection_id = $1",
            &[Param::Int8(collection_id), Param::Text(level)],
            false,
            0,
        )?;
    }
    if let Some(action) = action {
        spi::execute(
            "UPDATE documentdb_api_catalog.collections SET validation_action = $2 WHERE collection_id = $1",
            &[Param::Int8(collection_id), Param::Text(action)],
            false,
            0,
        )?;
    }
    Ok(())
}
