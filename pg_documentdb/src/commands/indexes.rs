//! `createIndexes` / `dropIndexes`. Each MongoDB index is a catalog row plus a PostgreSQL
//! btree index over the document's sort keys (`bson_orderby(document, '{"path": ±1}')`, one
//! expression per key, the text `index_sql::sort_key_expression` also emits), partial when
//! the index is sparse or has a partialFilterExpression.
//!
//! Queries use such an index for filters through key bounds (`query_sql`), which hold while
//! every document has one single-valued key per path: MongoDB's multikey flag, kept in the
//! catalog and set by a row trigger on the first write of an array along a key path (see
//! `track_multikey`). A multikey index still serves sorts.
//!
//! A `unique` index is a unique PostgreSQL index on those keys, so PostgreSQL enforces it
//! (an array field contributes its sort key — smallest element ascending — not every
//! element as MongoDB's multikey unique indexes do).

use bson::{rawdoc, RawArrayBuf, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::{bail, docdb_error, DocDbError, DocDbResult, ErrorCode};

use super::index_sql::{
    has_array_condition, hashed_key_expression, index_predicates, sort_key_expression, terms_expression,
    wildcard_index, wildcard_keys_expression,
};
use super::query_text::text_vector_expression;
use super::spec::{self, read_fields, Field};
use super::write_result::{append_count, cstr, WriteError};
use crate::authz;
use crate::catalog::{self, Collection};
use crate::spi::{self, quote_literal, Param, Value};
use crate::sql_names::{self, BSON};
use documentdb_authz::{Action, Target};

/// MongoDB's limit of indexes per collection.
const MAX_INDEXES: usize = 64;

/// A validated index specification.
struct IndexSpec {
    name: String,
    key: RawDocumentBuf,
    unique: bool,
    sparse: bool,
    /// The spec as listIndexes reports it.
    stored: RawDocumentBuf,
}

fn key_direction(path: &str, value: RawBsonRef<'_>) -> DocDbResult<String> {
    match value {
        RawBsonRef::Int32(v) if v != 0 => Ok(if v > 0 { "1" } else { "-1" }.to_owned()),
        RawBsonRef::Int64(v) if v != 0 => Ok(if v > 0 { "1" } else { "-1" }.to_owned()),
        RawBsonRef::Double(v) if v != 0.0 && v.is_finite() => Ok(if v > 0.0 { "1" } else { "-1" }.to_owned()),
        RawBsonRef::String(kind) => match kind {
            "hashed" => Ok("hashed".to_owned()),
            "text" => Ok("text".to_owned()),
            "2dsphere" | "2d" | "geoHaystack" | "wildcard" => {
                bail!(CannotCreateIndex, "{kind} indexes are not supported yet (index key '{path}')")
            }
            _ => bail!(CannotCreateIndex, "Unknown index plugin '{kind}'"),
        },
        _ => bail!(CannotCreateIndex, "Values in the index key pattern can't be 0 or non-numeric: {path}"),
    }
}

fn parse_index(doc: &RawDocument) -> DocDbResult<IndexSpec> {
    let mut key: Option<&RawDocument> = None;
    let mut name: Option<&str> = None;
    let mut unique = false;
    let mut sparse = false;
    let mut hidden = false;
    let mut expire_after = None;
    let mut partial: Option<&RawDocument> = None;
    let mut weights: Option<&RawDocument> = None;
    let mut wildcard_projection: Option<&RawDocument> = None;
    let mut default_language: Option<&str> = None;
    let mut language_override: Option<&str> = None;
    let mut stored = RawDocumentBuf::new();
    stored.append(cstr("v"), 2);
    for element in doc {
        let (field_name, value) = element.map_err(|e| docdb_error!(InvalidBSON, "{e}"))?;
        let field = Field { command: "createIndexes.indexes", name: field_name.as_str(), value };
        match field.name {
            "key" => key = Some(field.document()?),
            "name" => name = Some(field.str()?),
            "unique" => unique = field.bool()?,
            "sparse" => sparse = field.bool()?,
            "partialFilterExpression" => partial = Some(field.document()?),
            "hidden" => hidden = field.bool()?,
            "v" | "background" | "ns" | "comment" | "collation" | "storageEngine" => {
                if field.name == "collation" {
                    field.simple_collation().map_err(|e| DocDbError::new(ErrorCode::CannotCreateIndex, e.message))?;
                }
                continue;
            }
            "expireAfterSeconds" => expire_after = Some(field.value),
            "weights" => weights = Some(field.document()?),
            "default_language" => default_language = Some(field.str()?),
            "language_override" => language_override = Some(field.str()?),
            "textIndexVersion" => {
                if !matches!(field.value, RawBsonRef::Int32(3) | RawBsonRef::Int64(3) | RawBsonRef::Double(3.0)) {
                    bail!(CannotCreateIndex, "Currently only textIndexVersion 3 is supported");
                }
            }
            "wildcardProjection" => wildcard_projection = Some(field.document()?),
            "2dsphereIndexVersion" | "bits" | "min" | "max" | "bucketSize" => {
                bail!(CannotCreateIndex, "index option '{}' is not supported yet", field.name)
            }
            other => bail!(
                InvalidIndexSpecificationOption,
                "The field '{other}' is not valid for an index specification. Specification: {}",
                documentdb_bson::extjson::to_relaxed_string(doc)
            ),
        }
    }
    let key = key.ok_or_else(|| {
        docdb_error!(FailedToParse, "The 'key' field is a required property of an index specification")
    })?;
    if key.is_empty() {
        bail!(CannotCreateIndex, "Index keys cannot be empty.");
    }
    let mut hashed_fields = 0;
    for element in key {
        let (path, value) = element.map_err(|e| docdb_error!(InvalidBSON, "{e}"))?;
        if path.as_str().is_empty() || path.as_str().split('.').any(str::is_empty) {
            bail!(CannotCreateIndex, "Index key contains an illegal field name: '{}'", path.as_str());
        }
        let wildcard = path.as_str() == "$**" || path.as_str().ends_with(".$**");
        if wildcard {
            if key.iter().count() != 1 {
                bail!(CannotCreateIndex, "compound wildcard indexes are not supported yet");
            }
            if unique || sparse {
                bail!(CannotCreateIndex, "Index type 'wildcard' does not support the unique or sparse options");
            }
        } else if path.as_str().starts_with('$') {
            bail!(CannotCreateIndex, "Index key contains an illegal field name: field name starts with '$'.");
        }
        documentdb_bson::path::check_path_components(path.as_str())?;
        if wildcard && !matches!(key_direction(path.as_str(), value)?.as_str(), "1" | "-1") {
            bail!(CannotCreateIndex, "wildcard indexes take a direction of 1 or -1");
        }
        if key_direction(path.as_str(), value)? == "hashed" {
            hashed_fields += 1;
        }
    }
    if hashed_fields > 1 {
        return Err(DocDbError::new(ErrorCode::new(31303), "A maximum of one index field is allowed to be hashed"));
    }
    if hashed_fields > 0 && unique {
        bail!(CannotCreateIndex, "Currently hashed indexes cannot guarantee uniqueness. Use a regular index.");
    }
    let name = match name {
        Some("") => bail!(CannotCreateIndex, "The index name cannot be empty"),
        Some(n) => n.to_owned(),
        None => {
            return Err(docdb_error!(
                FailedToParse,
                "The 'name' field is a required property of an index specification"
            ))
        }
    };
    if let Some(p) = partial {
        documentdb_query::filter::Filter::parse(p)?;
    }
    let text_keys = key.iter().flatten().filter(|(_, v)| matches!(v, RawBsonRef::String("text"))).count();
    if text_keys == 0 && (weights.is_some() || default_language.is_some() || language_override.is_some()) {
        bail!(CannotCreateIndex, "weights, default_language and language_override are options of text indexes");
    }
    let text = if text_keys > 0 {
        Some(documentdb_query::text_index::text_index_spec(key, weights, default_language, language_override)?)
    } else {
        None
    };
    match &text {
        // MongoDB's shape: the text keys become `weights`, the key `{_fts: "text", _ftsx: 1}`.
        Some((text_key, _, _, _)) => stored.append(cstr("key"), bson_to_raw(text_key)?),
        None => stored.append(cstr("key"), key.to_owned()),
    }
    stored.append(cstr("name"), name.as_str());
    if unique {
        stored.append(cstr("unique"), true);
    }
    if sparse {
        stored.append(cstr("sparse"), true);
    }
    if let Some(p) = partial {
        stored.append(cstr("partialFilterExpression"), p.to_owned());
    }
    if hidden {
        stored.append(cstr("hidden"), true);
    }
    if let Some(seconds) = expire_after {
        stored.append(cstr("expireAfterSeconds"), super::ttl::validate_expire_after_seconds(key, seconds)?);
    }
    if let Some(projection) = wildcard_projection {
        let mut keys = key.iter().flatten();
        match keys.next() {
            Some((path, _)) if path.as_str() == "$**" => {
                documentdb_query::wildcard_index::WildcardIndex::new(path.as_str(), Some(projection))?;
                stored.append(cstr("wildcardProjection"), projection.to_owned());
            }
            _ => bail!(FailedToParse, "The field 'wildcardProjection' is only allowed in an '$**' index"),
        }
    }
    if let Some((_, weights, language, language_override)) = &text {
        stored.append(cstr("weights"), bson_to_raw(weights)?);
        stored.append(cstr("default_language"), language.as_str());
        stored.append(cstr("language_override"), language_override.as_str());
        stored.append(cstr("textIndexVersion"), 3);
    }
    Ok(IndexSpec { name, key: key.to_owned(), unique, sparse, stored })
}

/// The comparable part of a spec (key and options, not the name or version).
fn fingerprint(spec: &RawDocument) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = spec
        .iter()
        .flatten()
        .filter(|(k, _)| !matches!(k.as_str(), "v" | "name"))
        .map(|(k, v)| {
            let mut s = String::new();
            documentdb_bson::extjson::write_canonical_value(v, &mut s);
            (k.as_str().to_owned(), s)
        })
        .collect();
    out.sort();
    out
}

fn create_pg_index(collection: &Collection, index_id: i64, spec: &IndexSpec) -> DocDbResult<()> {
    if wildcard_index(&spec.stored)?.is_some() {
        // Our array opclass: array_ops' operators plus key ranges (`gin_range.rs`).
        return spi::execute_once(&format!(
            "CREATE INDEX documents_{}_idx_{index_id} ON {} USING gin (({}) {})",
            collection.id,
            collection.table(),
            wildcard_keys_expression(&spec.stored),
            sql_names::BSON_ARRAY_RANGE_OPS
        ));
    }
    if let Some(text) = documentdb_query::text_index::TextIndex::from_spec(&spec.stored) {
        return spi::execute_once(&format!(
            "CREATE INDEX documents_{}_idx_{index_id} ON {} USING gin (({}))",
            collection.id,
            collection.table(),
            text_vector_expression(&text)
        ));
    }
    let mut exprs = Vec::new();
    for element in &spec.key {
        let (path, value) = element.map_err(|e| docdb_error!(InvalidBSON, "{e}"))?;
        let direction = key_direction(path.as_str(), value)?;
        if direction == "hashed" {
            exprs.push(hashed_key_expression(path.as_str()));
            continue;
        }
        let ascending = direction == "1";
        let expression = sort_key_expression("document", path.as_str(), ascending)?;
        exprs.push(if ascending { expression } else { format!("{expression} DESC") });
    }
    let predicates = index_predicates(&spec.stored);
    let mut sql = format!(
        "CREATE {}INDEX documents_{}_idx_{index_id} ON {} ({})",
        if spec.unique { "UNIQUE " } else { "" },
        collection.id,
        collection.table(),
        exprs.join(", ")
    );
    if !predicates.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&predicates.join(" AND "));
    }
    spi::execute_once(&sql)?;
    // MongoDB keys one array per document at most: a compound index refuses documents
    // with two (171), on every write and over the documents there already (the build fails).
    let paths = spec.key.iter().flatten().count();
    if paths > 1 && !is_hashed(&spec.key) {
        let check = format!(
            "{}(document, {})",
            sql_names::NO_PARALLEL_ARRAYS,
            quote_literal(&documentdb_bson::extjson::to_canonical_string(&spec.key))
        );
        let check =
            if predicates.is_empty() { check } else { format!("NOT ({}) OR {check}", predicates.join(" AND ")) };
        spi::execute_once(&format!(
            "ALTER TABLE {} ADD CONSTRAINT {} CHECK ({check})",
            collection.table(),
            parallel_arrays_constraint_name(collection, index_id)
        ))?;
    }
    // Beside the btree, for its leading path (of a single-field or compound index): the GIN
    // of multikey keys and the btree of arrays' other ends, which answer equality and
    // ranges on that path once the index is multikey.
    let leading = spec.key.iter().flatten().next();
    if let (Some((path, direction)), None, false) = (leading, predicates.first(), is_hashed(&spec.key)) {
        spi::execute_once(&format!(
            "CREATE INDEX {} ON {} USING gin ({}) WHERE {}",
            terms_index_name(collection, index_id),
            collection.table(),
            terms_expression(path.as_str()),
            has_array_condition(&spec.key)
        ))?;
        // The other end of each array (its largest element beside an ascending index): with
        // the btree's end, the two bound every array's elements, for ranges once multikey.
        let other_end = sort_key_expression("document", path.as_str(), !catalog::key_is_ascending(direction))?;
        spi::execute_once(&format!(
            "CREATE INDEX {} ON {} ({other_end}) WHERE {}",
            array_ends_index_name(collection, index_id),
            collection.table(),
            has_array_condition(&spec.key)
        ))?;
    }
    Ok(())
}

/// The name of the btree of arrays' other ends beside single-field index `index_id`.
fn array_ends_index_name(collection: &Collection, index_id: i64) -> String {
    format!("documents_{}_idx_{index_id}_ends", collection.id)
}

fn bson_to_raw(doc: &bson::Document) -> DocDbResult<RawDocumentBuf> {
    RawDocumentBuf::try_from(doc).map_err(|e| docdb_error!(InternalError, "{e}"))
}

/// Whether a key pattern has a hashed key.
fn is_hashed(key: &RawDocument) -> bool {
    key.iter().flatten().any(|(_, v)| matches!(v, RawBsonRef::String("hashed")))
}

/// The CHECK constraint of compound index `index_id` against parallel arrays.
fn parallel_arrays_constraint_name(collection: &Collection, index_id: i64) -> String {
    format!("documents_{}_idx_{index_id}_parallel", collection.id)
}

/// The name of the GIN index beside single-field index `index_id`.
fn terms_index_name(collection: &Collection, index_id: i64) -> String {
    format!("documents_{}_idx_{index_id}_terms", collection.id)
}

/// Whether `doc` holds an array along one of the paths of `key` (its keys for that pattern
/// are multikey).
pub fn has_array_on_key_paths(doc: &RawDocument, key: &RawDocument) -> bool {
    key.iter().flatten().any(|(path, _)| documentdb_query::index_bounds::path_has_array(doc, path.as_str()))
}

fn multikey_trigger_name(collection: &Collection, index_id: i64) -> String {
    format!("documents_{}_multikey_{index_id}", collection.id)
}

/// MongoDB's uniqueness across array elements for a unique index (the unique btree compares
/// each document's sort keys only): the build fails over existing documents sharing a key
/// (11000, naming it), and a row trigger, whose WHEN clause runs only for documents with
/// arrays or once the index is multikey, refuses a write that would share one. Candidates
/// come from the leading path (its btree, and the GIN of multikey keys beside it); a
/// compound index then compares key tuples (`index_bounds::unique_key_tuples`).
fn enforce_unique_keys(collection: &Collection, index_id: i64, spec: &IndexSpec) -> DocDbResult<()> {
    let key: Vec<(&str, RawBsonRef<'_>)> = spec.key.iter().flatten().map(|(p, d)| (p.as_str(), d)).collect();
    let Some(&(lead, lead_direction)) = key.first() else { return Ok(()) };
    if key.iter().any(|(_, d)| matches!(d, RawBsonRef::String(_)))
        || !to_regclass_exists(&terms_index_name(collection, index_id))?
    {
        return Ok(());
    }
    let compound = key.len() > 1;
    let lead_literal = quote_literal(lead);
    let key_literal = quote_literal(&documentdb_bson::extjson::to_canonical_string(&spec.key));
    // The keys compared, of a row's `document` (or of `$1`, the written document).
    let keys_of = |doc: &str| {
        if compound {
            format!("{}({doc}, {key_literal}::{BSON})", sql_names::INDEX_UNIQUE_KEY_TUPLES)
        } else {
            format!("{}({doc}, {lead_literal}::text)", sql_names::INDEX_UNIQUE_KEYS)
        }
    };
    if holds_arrays(collection, &spec.key)? {
        let rows = spi::execute(
            &format!(
                "SELECT k FROM (SELECT DISTINCT object_id, k FROM {}, pg_catalog.unnest({}) k) s \
                 GROUP BY k HAVING count(*) > 1 LIMIT 1",
                collection.table(),
                keys_of("document")
            ),
            &[],
            true,
            1,
        )?;
        if let Some(shared) = rows.into_iter().next().and_then(|r| r.into_iter().next()?.into_bson()) {
            let value =
                RawDocumentBuf::from_bytes(shared).ok().and_then(|d| d.get("").ok().flatten().map(bson::RawBson::from));
            let values: Vec<bson::RawBson> = match value {
                Some(bson::RawBson::Array(tuple)) if compound => tuple.into_iter().flatten().map(Into::into).collect(),
                Some(v) => vec![v],
                None => Vec::new(),
            };
            let mut dup = RawDocumentBuf::new();
            for ((path, _), value) in key.iter().zip(values) {
                if let Ok(k) = <&bson::raw::CStr>::try_from(*path) {
                    dup.append(k, value);
                }
            }
            return Err(DocDbError::new(
                ErrorCode::DuplicateKey,
                format!(
                    "E11000 duplicate key error collection: {} index: {} dup key: {}",
                    collection.namespace(),
                    spec.name,
                    documentdb_bson::extjson::to_relaxed_string(&dup)
                ),
            ));
        }
    }
    let btree = sort_key_expression("document", lead, catalog::key_is_ascending(lead_direction))?;
    // The written document's values at the leading path (null when missing, so documents
    // missing it too are candidates of a compound index).
    let lead_values = format!(
        "COALESCE(NULLIF({}($1, {lead_literal}::text), '{{}}'::{BSON}[]), ARRAY['{{ \"\" : null }}'::{BSON}])",
        sql_names::INDEX_UNIQUE_KEYS
    );
    let mut check = format!(
        "SELECT EXISTS (SELECT 1 FROM {table} WHERE object_id OPERATOR(documentdb_core.<>) $2 AND \
         ({btree} OPERATOR(documentdb_core.=) ANY ({lead_values}) OR \
         ({has_array} AND {terms} OPERATOR(pg_catalog.&&) {lead_values}))",
        table = collection.table(),
        has_array = has_array_condition(&spec.key),
        terms = terms_expression(lead),
    );
    if compound {
        check.push_str(&format!(" AND {} OPERATOR(pg_catalog.&&) {}", keys_of("document"), keys_of("$1")));
    }
    check.push(')');
    spi::execute_once(&format!(
        "CREATE TRIGGER {} BEFORE INSERT OR UPDATE OF document ON {} FOR EACH ROW \
         WHEN ({}(NEW.document, {index_id}, {key_literal}::{BSON})) EXECUTE FUNCTION {}({}, {})",
        unique_trigger_name(collection, index_id),
        collection.table(),
        sql_names::UNIQUE_KEYS_NEED_CHECK,
        sql_names::CHECK_UNIQUE_KEYS,
        quote_literal(&format!("documents_{}_idx_{index_id}", collection.id)),
        quote_literal(&check)
    ))
}

fn unique_trigger_name(collection: &Collection, index_id: i64) -> String {
    format!("documents_{}_unique_{index_id}", collection.id)
}

/// Whether the collection's table has trigger `name`.
fn trigger_exists(collection: &Collection, name: &str) -> DocDbResult<bool> {
    object_on_table_exists("pg_trigger WHERE tgname = $1 AND tgrelid", collection, name)
}

/// Whether the collection's table has the constraint `name`.
fn constraint_exists(collection: &Collection, name: &str) -> DocDbResult<bool> {
    object_on_table_exists("pg_constraint WHERE conname = $1 AND conrelid", collection, name)
}

/// `SELECT EXISTS (SELECT 1 FROM <catalog, named $1, on table $2>)`.
fn object_on_table_exists(catalog_where: &str, collection: &Collection, name: &str) -> DocDbResult<bool> {
    let rows = spi::execute(
        &format!("SELECT EXISTS (SELECT 1 FROM pg_catalog.{catalog_where} = $2::regclass)"),
        &[Param::Text(name), Param::Text(&collection.table())],
        true,
        1,
    )?;
    Ok(rows.first().and_then(|r| r.first()).and_then(Value::as_bool).unwrap_or(false))
}

/// Whether relation `name` exists in the data schema.
fn to_regclass_exists(name: &str) -> DocDbResult<bool> {
    let rows = spi::execute("SELECT to_regclass('documentdb_data.' || $1) IS NOT NULL", &[Param::Text(name)], true, 1)?;
    Ok(rows.first().and_then(|r| r.first()).and_then(Value::as_bool).unwrap_or(false))
}

/// Whether some document of the collection holds an array along a path of `key` (a full
/// scan: run when an index is built or rebuilt).
fn holds_arrays(collection: &Collection, key: &RawDocument) -> DocDbResult<bool> {
    let rows = spi::execute(
        &format!("SELECT EXISTS (SELECT 1 FROM {} WHERE {})", collection.table(), has_array_condition(key)),
        &[],
        true,
        1,
    )?;
    Ok(rows.first().and_then(|r| r.first()).and_then(Value::as_bool).unwrap_or(true))
}

/// Sets MongoDB's multikey flag of a new index: at once when a document already holds an
/// array along its paths, otherwise from the first write that puts one there (a row trigger
/// whose WHEN clause runs in Rust, so single-valued writes cost one function call). The
/// table is locked against writes from `CREATE INDEX` on, so no write falls in between.
fn track_multikey(collection: &Collection, index_id: i64, key: &RawDocument) -> DocDbResult<()> {
    // The GIN beside a single-field index holds exactly the documents with arrays along the
    // path: its build counted them, no second scan needed.
    let terms = spi::execute(
        "SELECT reltuples FROM pg_class WHERE oid = to_regclass('documentdb_data.' || $1)",
        &[Param::Text(&terms_index_name(collection, index_id))],
        true,
        1,
    )?;
    let counted = terms.first().and_then(|r| r.first()).and_then(|v| match v {
        Value::Float8(n) => Some(*n > 0.0),
        _ => None,
    });
    let multikey = match counted {
        Some(multikey) => multikey,
        None => holds_arrays(collection, key)?,
    };
    if multikey {
        return spi::execute(
            "UPDATE documentdb_api_catalog.collection_indexes SET index_is_multikey = true WHERE index_id = $1",
            &[Param::Int8(index_id)],
            false,
            0,
        )
        .map(drop);
    }
    ensure_multikey_trigger(collection, index_id, key)
}

/// Creates the multikey trigger of an index unless it exists.
fn ensure_multikey_trigger(collection: &Collection, index_id: i64, key: &RawDocument) -> DocDbResult<()> {
    let trigger = multikey_trigger_name(collection, index_id);
    if trigger_exists(collection, &trigger)? {
        return Ok(());
    }
    let key_literal = quote_literal(&documentdb_bson::extjson::to_canonical_string(key));
    spi::execute_once(&format!(
        "CREATE TRIGGER {trigger} BEFORE INSERT OR UPDATE OF document ON {} FOR EACH ROW \
         WHEN ({}(NEW.document, {index_id}, {key_literal}::{BSON})) EXECUTE FUNCTION {}('{index_id}')",
        collection.table(),
        sql_names::INDEX_BECOMES_MULTIKEY,
        sql_names::MARK_INDEX_MULTIKEY
    ))
}

/// `createIndexes` (built synchronously); returns MongoDB's reply.
pub fn create_indexes(db: &str, spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let coll = spec::collection_name(spec_doc, "createIndexes")?;
    let mut indexes = None;
    read_fields(spec_doc, "createIndexes", |field| {
        match field.name {
            "indexes" => indexes = Some(field.array()?),
            "commitQuorum" | "ignoreUnknownIndexOptions" | "isTimeseriesNamespace" => {}
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let indexes = indexes.ok_or_else(|| spec::missing("createIndexes", "indexes"))?;
    let mut specs = Vec::new();
    for item in indexes {
        match item.map_err(|e| docdb_error!(InvalidBSON, "{e}"))? {
            RawBsonRef::Document(d) => specs.push(parse_index(d)?),
            _ => bail!(TypeMismatch, "BSON field 'createIndexes.indexes' must be an array of objects"),
        }
    }
    if specs.is_empty() {
        bail!(BadValue, "Must specify at least one index to create");
    }
    catalog::validate_database_name(db)?;
    catalog::validate_collection_name(db, coll)?;
    authz::require(Action::CreateIndex, Target::Collection { db, collection: coll }, db, spec_doc)?;
    let existed = catalog::lookup(db, coll)?;
    if existed.as_ref().is_some_and(Collection::is_view) {
        bail!(CommandNotSupportedOnView, "Namespace {db}.{coll} is a view, not a collection");
    }
    let collection = match existed.clone() {
        Some(c) => c,
        None => super::new_collection::get_or_create(db, coll, spec_doc)?,
    };
    // The build is DDL on the collection's table: the extension's, once checked.
    authz::privileged(|| build_indexes(db, coll, &collection, &specs, existed.is_none()))
}

fn build_indexes(
    db: &str,
    coll: &str,
    collection: &Collection,
    specs: &[IndexSpec],
    created_collection: bool,
) -> DocDbResult<RawDocumentBuf> {
    let current = catalog::indexes_for_change(collection.id)?;
    let before = current.len();
    let mut created = 0;
    for spec in specs {
        if spec.name == "_id_" || spec.key.as_bytes() == rawdoc! { "_id": 1 }.as_bytes() {
            if spec.name != "_id_" || spec.unique || spec.sparse {
                bail!(
                    IndexOptionsConflict,
                    "Index with name: {} already exists with a different key spec or options",
                    spec.name
                );
            }
            continue;
        }
        let same_name = current.iter().find(|s| s.get_str("name").ok() == Some(spec.name.as_str()));
        if let Some(existing) = same_name {
            if fingerprint(existing) == fingerprint(&spec.stored) {
                continue;
            }
            return Err(DocDbError::new(
                ErrorCode::IndexKeySpecsConflict,
                format!("An existing index has the same name as the requested index. When index names are not specified, they are auto generated and can cause conflicts. Please refer to our documentation. Requested index: {}, existing index: {}",
                    documentdb_bson::extjson::to_relaxed_string(&spec.stored), documentdb_bson::extjson::to_relaxed_string(existing)),
            ));
        }
        // Compared as stored: every text index has the key {_fts: "text", _ftsx: 1}, so a
        // second one conflicts, as MongoDB allows one text index per collection.
        let stored_key = spec.stored.get_document("key").map(|k| k.as_bytes()).unwrap_or_default();
        let same_key =
            current.iter().find(|s| s.get_document("key").map(|k| k.as_bytes() == stored_key).unwrap_or(false));
        if let Some(existing) = same_key {
            bail!(
                IndexOptionsConflict,
                "An equivalent index already exists with a different name and options. Requested index: {}, existing index: {}",
                documentdb_bson::extjson::to_relaxed_string(&spec.stored),
                documentdb_bson::extjson::to_relaxed_string(existing)
            );
        }
        if before + created >= MAX_INDEXES {
            bail!(
                CannotCreateIndex,
                "add index fails, too many indexes for {db}.{coll} key:{}",
                documentdb_bson::extjson::to_relaxed_string(&spec.key)
            );
        }
        let rows = spi::execute(
            "INSERT INTO documentdb_api_catalog.collection_indexes (collection_id, index_name, index_spec) \
             VALUES ($1, $2, $3) RETURNING index_id",
            &[Param::Int8(collection.id), Param::Text(&spec.name), Param::Bson(spec.stored.as_bytes())],
            false,
            0,
        )?;
        let index_id = rows.first().and_then(|r| r.first()).and_then(Value::as_i64).unwrap_or_default();
        create_pg_index(collection, index_id, spec)?;
        if spec.stored.get_document("weights").is_err() && wildcard_index(&spec.stored)?.is_none() {
            track_multikey(collection, index_id, &spec.key)?;
        }
        if spec.unique {
            enforce_unique_keys(collection, index_id, spec)?;
        }
        created += 1;
    }
    if created > 0 {
        // Statistics for the new key expressions (and the table, when it has none yet), so
        // the first queries are planned with the real selectivity of their key ranges. A
        // 6,000-row sample (statistics target 20) keeps it to a fraction of the build;
        // autovacuum refines them later with the server's target.
        crate::gucs::with_setting(c"default_statistics_target", c"20", || {
            spi::execute_once(&format!("ANALYZE {}", collection.table()))
        })?;
    }
    let mut reply = RawDocumentBuf::new();
    append_count(&mut reply, "numIndexesBefore", before as i64);
    append_count(&mut reply, "numIndexesAfter", (before + created) as i64);
    reply.append(cstr("createdCollectionAutomatically"), created_collection);
    if created == 0 {
        reply.append(cstr("note"), "all indexes already exist");
    }
    reply.append(cstr("ok"), 1.0);
    Ok(reply)
}

/// `dropIndexes`.
pub fn drop_indexes(db: &str, spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let coll = spec::collection_name(spec_doc, "dropIndexes")?;
    let mut target: Option<RawBsonRef<'_>> = None;
    read_fields(spec_doc, "dropIndexes", |field| {
        match field.name {
            "index" => target = Some(field.value),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let target = target.ok_or_else(|| spec::missing("dropIndexes", "index"))?;
    authz::require(Action::DropIndex, Target::Collection { db, collection: coll }, db, spec_doc)?;
    authz::privileged(|| drop_indexes_as_owner(db, coll, target))
}

fn drop_indexes_as_owner(db: &str, coll: &str, target: RawBsonRef<'_>) -> DocDbResult<RawDocumentBuf> {
    let Some(collection) = catalog::lookup(db, coll)? else {
        bail!(NamespaceNotFound, "ns not found {db}.{coll}");
    };
    if collection.is_view() {
        bail!(CommandNotSupportedOnView, "Namespace {db}.{coll} is a view, not a collection");
    }
    let rows = spi::execute(
        "SELECT index_id, index_name, index_spec FROM documentdb_api_catalog.collection_indexes WHERE collection_id = $1 ORDER BY index_id",
        &[Param::Int8(collection.id)],
        true,
        0,
    )?;
    let existing: Vec<(i64, String, RawDocumentBuf)> = rows
        .into_iter()
        .filter_map(|r| {
            let mut c = r.into_iter();
            let id = c.next()?.as_i64()?;
            let name = c.next()?.as_text()?.to_owned();
            let spec = RawDocumentBuf::from_bytes(c.next()?.into_bson()?).ok()?;
            Some((id, name, spec))
        })
        .collect();
    let mut to_drop: Vec<(i64, String)> = Vec::new();
    let mut find_by_name = |name: &str| -> DocDbResult<()> {
        if name == "_id_" {
            bail!(InvalidOptions, "cannot drop _id index");
        }
        match existing.iter().find(|(_, n, _)| n == name) {
            Some((id, n, _)) => {
                to_drop.push((*id, n.clone()));
                Ok(())
            }
            None => bail!(IndexNotFound, "index not found with name [{name}]"),
        }
    };
    match target {
        RawBsonRef::String("*") => {
            for (id, name, _) in &existing {
                if name != "_id_" {
                    to_drop.push((*id, name.clone()));
                }
            }
        }
        RawBsonRef::String(name) => find_by_name(name)?,
        RawBsonRef::Array(names) => {
            for n in names {
                match n {
                    Ok(RawBsonRef::String(name)) => find_by_name(name)?,
                    _ => bail!(TypeMismatch, "dropIndexes 'index' array must contain only strings"),
                }
            }
        }
        RawBsonRef::Document(key) => {
            if key.as_bytes() == rawdoc! { "_id": 1 }.as_bytes() {
                bail!(InvalidOptions, "cannot drop _id index");
            }
            match existing
                .iter()
                .find(|(_, _, s)| s.get_document("key").map(|k| k.as_bytes() == key.as_bytes()).unwrap_or(false))
            {
                Some((id, n, _)) => to_drop.push((*id, n.clone())),
                None => bail!(
                    IndexNotFound,
                    "can't find index with key: {}",
                    documentdb_bson::extjson::to_relaxed_string(key)
                ),
            }
        }
        _ => bail!(
            TypeMismatch,
            "BSON field 'dropIndexes.index' is the wrong type, expected types '[string, object, array]'"
        ),
    }
    for (id, _) in &to_drop {
        spi::execute_once(&format!("DROP INDEX IF EXISTS documentdb_data.documents_{}_idx_{id}", collection.id))?;
        // Only what exists (IF EXISTS would send the client a NOTICE for the rest).
        for companion in [terms_index_name(&collection, *id), array_ends_index_name(&collection, *id)] {
            if to_regclass_exists(&companion)? {
                spi::execute_once(&format!("DROP INDEX documentdb_data.{companion}"))?;
            }
        }
        let constraint = parallel_arrays_constraint_name(&collection, *id);
        if constraint_exists(&collection, &constraint)? {
            spi::execute_once(&format!("ALTER TABLE {} DROP CONSTRAINT {constraint}", collection.table()))?;
        }
        for trigger in [multikey_trigger_name(&collection, *id), unique_trigger_name(&collection, *id)] {
            if trigger_exists(&collection, &trigger)? {
                spi::execute_once(&format!("DROP TRIGGER {trigger} ON {}", collection.table()))?;
            }
        }
        spi::execute(
            "DELETE FROM documentdb_api_catalog.collection_indexes WHERE index_id = $1",
            &[Param::Int8(*id)],
            false,
            0,
        )?;
    }
    let mut reply = RawDocumentBuf::new();
    append_count(&mut reply, "nIndexesWas", existing.len() as i64);
    reply.append(cstr("ok"), 1.0);
    Ok(reply)
}

/// `reIndex`: rebuilds every index of the collection (PostgreSQL's REINDEX, which keeps the
/// indexes' identities) and recomputes the multikey flags from the data, as a MongoDB
/// rebuild does. Returns `{nIndexesWas, nIndexes, indexes, ok}`.
pub fn re_index(db: &str, spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let coll = spec::collection_name(spec_doc, "reIndex")?;
    read_fields(spec_doc, "reIndex", |_| Ok(false))?;
    authz::require(Action::ReIndex, Target::Collection { db, collection: coll }, db, spec_doc)?;
    authz::privileged(|| re_index_as_owner(db, coll))
}

fn re_index_as_owner(db: &str, coll: &str) -> DocDbResult<RawDocumentBuf> {
    let Some(collection) = catalog::lookup(db, coll)? else {
        bail!(NamespaceNotFound, "collection {db}.{coll} does not exist");
    };
    if collection.is_view() {
        bail!(CommandNotSupportedOnView, "Namespace {db}.{coll} is a view, not a collection");
    }
    spi::execute_once(&format!("REINDEX TABLE {}", collection.table()))?;
    let mut specs = RawArrayBuf::new();
    for index in &collection.indexes {
        specs.push(index.spec.clone());
        if index.name() == "_id_" {
            continue;
        }
        if let Some(key) = index.key() {
            let multikey = holds_arrays(&collection, key)?;
            if multikey != index.multikey {
                spi::execute(
                    if multikey {
                        "UPDATE documentdb_api_catalog.collection_indexes SET index_is_multikey = true WHERE index_id = $1"
                    } else {
                        "UPDATE documentdb_api_catalog.collection_indexes SET index_is_multikey = false WHERE index_id = $1"
                    },
                    &[Param::Int8(index.id)],
                    false,
                    0,
                )?;
            }
            if !multikey && index.multikey {
                // Watch for the next array again.
                ensure_multikey_trigger(&collection, index.id, key)?;
            }
        }
    }
    let mut reply = RawDocumentBuf::new();
    append_count(&mut reply, "nIndexesWas", collection.indexes.len() as i64);
    append_count(&mut reply, "nIndexes", collection.indexes.len() as i64);
    reply.append(cstr("indexes"), specs);
    reply.append(cstr("ok"), 1.0);
    Ok(reply)
}

/// `$indexStats`: one document per index, `{name, key, host, accesses: {ops, since}, spec}`,
/// `ops` counting the scans PostgreSQL made of the index's relations since its statistics
/// were last reset (`since`).
pub fn index_stats(collection: &Collection) -> DocDbResult<Vec<RawDocumentBuf>> {
    let mut out = Vec::new();
    for index in &collection.indexes {
        let oids: Vec<String> = index.relation_oids().iter().map(u32::to_string).collect();
        let rows = spi::execute(
            &format!(
                "SELECT coalesce(sum(pg_stat_get_numscans(o)), 0)::int8, \
                 (extract(epoch FROM coalesce((SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()), \
                   pg_postmaster_start_time())) * 1000)::int8, \
                 coalesce(host(inet_server_addr()), 'localhost') || ':' || current_setting('port') \
                 FROM unnest('{{{}}}'::oid[]) o",
                oids.join(",")
            ),
            &[],
            true,
            1,
        )?;
        let row = rows.into_iter().next().unwrap_or_default();
        let ops = row.first().and_then(Value::as_i64).unwrap_or(0);
        let since = row.get(1).and_then(Value::as_i64).unwrap_or(0);
        let host = row.get(2).and_then(Value::as_text).unwrap_or("localhost").to_owned();
        let mut doc = rawdoc! { "name": index.name() };
        doc.append(cstr("key"), index.key().map(ToOwned::to_owned).unwrap_or_default());
        doc.append(cstr("host"), host);
        doc.append(cstr("accesses"), rawdoc! { "ops": ops, "since": bson::DateTime::from_millis(since) });
        doc.append(cstr("spec"), index.spec.clone());
        out.push(doc);
    }
    Ok(out)
}

/// `collMod`'s `index: { name | keyPattern, hidden }`: hides an index from the planner (it
/// stays up to date) or shows it again. Returns MongoDB's `hidden_old` / `hidden_new`.
pub fn modify_index(collection: &Collection, change: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let mut name = None;
    let mut key = None;
    let mut hidden = None;
    let mut expire_after = None;
    for element in change {
        let (field_name, value) = element.map_err(|e| docdb_error!(InvalidBSON, "{e}"))?;
        let field = Field { command: "collMod.index", name: field_name.as_str(), value };
        match field.name {
            "name" => name = Some(field.str()?),
            "keyPattern" => key = Some(field.document()?),
            "hidden" => hidden = Some(field.bool()?),
            "expireAfterSeconds" => expire_after = Some(field.value),
            "prepareUnique" | "unique" => {
                bail!(CommandNotSupported, "collMod index option '{}' is not supported yet", field.name)
            }
            other => {
                return Err(DocDbError::new(
                    spec::UNKNOWN_FIELD,
                    format!("BSON field 'collMod.index.{other}' is an unknown field."),
                ))
            }
        }
    }
    let entry = match (name, key) {
        (Some(_), Some(_)) => bail!(InvalidOptions, "Both keyPattern and name specified in collMod index"),
        (Some(n), None) => collection.indexes.iter().find(|i| i.name() == n),
        (None, Some(k)) => collection.indexes.iter().find(|i| i.key().is_some_and(|ik| ik.as_bytes() == k.as_bytes())),
        (None, None) => bail!(InvalidOptions, "collMod index requires a name or a keyPattern"),
    };
    let Some(entry) = entry else {
        bail!(
            IndexNotFound,
            "cannot find index {} for ns {}",
            name.unwrap_or("with that key pattern"),
            collection.namespace()
        );
    };
    if hidden.is_none() && expire_after.is_none() {
        bail!(InvalidOptions, "no collMod index option specified");
    }
    if entry.name() == "_id_" && hidden == Some(true) {
        bail!(BadValue, "can't hide _id index");
    }
    let key = entry.key().map(ToOwned::to_owned).unwrap_or_default();
    let expire_after = expire_after.map(|v| super::ttl::validate_expire_after_seconds(&key, v)).transpose()?;
    let was_hidden = entry.is_hidden();
    let old_expire = entry.spec.get_i32("expireAfterSeconds").ok();
    // The spec with the changed options last, as mongod shows them.
    let mut spec = RawDocumentBuf::new();
    for (k, v) in entry.spec.iter().flatten() {
        let changed = (k.as_str() == "hidden" && hidden.is_some())
            || (k.as_str() == "expireAfterSeconds" && expire_after.is_some());
        if !changed {
            spec.append(k, v);
        }
    }
    if let Some(seconds) = expire_after {
        spec.append(cstr("expireAfterSeconds"), seconds);
    }
    if hidden.unwrap_or(was_hidden) {
        spec.append(cstr("hidden"), true);
    }
    spi::execute(
        "UPDATE documentdb_api_catalog.collection_indexes SET index_spec = $2 WHERE index_id = $1",
        &[Param::Int8(entry.id), Param::Bson(spec.as_bytes())],
        false,
        0,
    )?;
    let mut reply = RawDocumentBuf::new();
    if let Some(seconds) = expire_after {
        if let Some(old) = old_expire {
            reply.append(cstr("expireAfterSeconds_old"), old);
        }
        reply.append(cstr("expireAfterSeconds_new"), seconds);
    }
    if let Some(hidden) = hidden {
        reply.append(cstr("hidden_old"), was_hidden);
        reply.append(cstr("hidden_new"), hidden);
    }
    Ok(reply)
}

/// The unique indexes of a collection besides `_id_`: (name, key pattern).
pub fn unique_indexes(collection: &Collection) -> DocDbResult<Vec<(String, RawDocumentBuf)>> {
    Ok(catalog::indexes(collection.id)?
        .into_iter()
        .filter(|s| s.get_bool("unique").unwrap_or(false))
        .filter_map(|s| Some((s.get_str("name").ok()?.to_owned(), s.get_document("key").ok()?.to_owned())))
        .collect())
}

/// The key values a document has for a key pattern (its sort keys), as `{ path: value }`.
pub fn key_value(doc: &RawDocument, key: &RawDocument) -> RawDocumentBuf {
    let mut out = RawDocumentBuf::new();
    for (path, direction) in key.iter().flatten() {
        let value = documentdb_query::sort::sort_key(doc, path.as_str(), catalog::key_is_ascending(direction));
        out.append(path, value);
    }
    out
}

/// Which unique index (other than `_id_`) `doc` collides with in the table, if any.
pub fn conflicting_unique_index(
    collection: &Collection,
    doc: &RawDocument,
) -> DocDbResult<Option<(String, RawDocumentBuf, RawDocumentBuf)>> {
    for (name, key) in unique_indexes(collection)? {
        let mut conditions = Vec::new();
        for (path, direction) in key.iter().flatten() {
            let ascending = catalog::key_is_ascending(direction);
            conditions.push(format!(
                "{} {} {}",
                sort_key_expression("document", path.as_str(), ascending)?,
                sql_names::BSON_EQ,
                sort_key_expression(&format!("$2::{BSON}"), path.as_str(), ascending)?
            ));
        }
        let sql = format!(
            "SELECT 1 FROM {} WHERE shard_key_value = $1 AND {} LIMIT 1",
            collection.table(),
            conditions.join(" AND ")
        );
        if !spi::execute(&sql, &[Param::Int8(collection.id), Param::Bson(doc.as_bytes())], true, 1)?.is_empty() {
            let value = key_value(doc, &key);
            return Ok(Some((name, key, value)));
        }
    }
    Ok(None)
}

/// MongoDB's DuplicateKey error for a PostgreSQL unique violation on `constraint_message`
/// ("... unique constraint \"documents_<cid>_idx_<id>\"" or the primary key), with
/// keyPattern/keyValue when the offending document is known.
pub fn duplicate_key_error(collection: &Collection, constraint_message: &str, doc: Option<&RawDocument>) -> DocDbError {
    let prefix = format!("documents_{}_idx_", collection.id);
    let index_id: Option<i64> =
        constraint_message.split(&prefix).nth(1).and_then(|rest| rest.split('"').next()?.parse().ok());
    let (name, key) = match index_id.and_then(|id| index_spec(id).ok().flatten()) {
        Some(spec) => (
            spec.get_str("name").unwrap_or("?").to_owned(),
            spec.get_document("key").map(|k| k.to_owned()).unwrap_or_default(),
        ),
        None => ("_id_".to_owned(), rawdoc! { "_id": 1 }),
    };
    let Some(doc) = doc else {
        // The offending document is unknown (a set-wise update): name the index only.
        let message = format!("E11000 duplicate key error collection: {} index: {name}", collection.namespace());
        return DocDbError::new(ErrorCode::DuplicateKey, message)
            .with_details(rawdoc! { "keyPattern": key }.into_bytes());
    };
    let value = if name == "_id_" {
        let mut v = RawDocumentBuf::new();
        if let Some(id) = documentdb_query::document::document_id(doc) {
            v.append(cstr("_id"), id);
        }
        v
    } else {
        key_value(doc, &key)
    };
    WriteError::duplicate_key(0, collection, &name, key, value).into_error()
}

fn index_spec(index_id: i64) -> DocDbResult<Option<RawDocumentBuf>> {
    let rows = spi::execute(
        "SELECT index_spec FROM documentdb_api_catalog.collection_indexes WHERE index_id = $1",
        &[Param::Int8(index_id)],
        true,
        1,
    )?;
    Ok(rows
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next()?.into_bson())
        .and_then(|b| RawDocumentBuf::from_bytes(b).ok()))
}
