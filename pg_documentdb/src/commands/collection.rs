//! Collection and database management: create (collections and views), drop, rename,
//! collMod, listCollections, listIndexes, listDatabases, collStats, dbStats.

use bson::{rawdoc, Binary, RawArrayBuf, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::{bail, docdb_error, DocDbError, DocDbResult, ErrorCode};
use documentdb_query::filter::Filter;

use super::cursor::{self, FirstPage};
use super::new_collection;
use super::spec::{self, read_fields};
use super::validation::Validator;
use super::write_result::{append_count, cstr};
use crate::authz::{self, pg_roles, principal};
use crate::catalog::{self, Collection, CreateOptions};
use crate::spi::{self, Param, Value};
use documentdb_authz::{Action, Target};

/// `create_collection(db, coll)`: true when created, false when it already existed.
pub fn create_collection(db: &str, coll: &str) -> DocDbResult<bool> {
    let command = rawdoc! { "create": coll };
    authz::require(Action::CreateCollection, Target::Collection { db, collection: coll }, db, &command)?;
    Ok(new_collection::create_granted(db, coll, &CreateOptions::default())?.is_some())
}

fn check_level(level: &str) -> DocDbResult<()> {
    if !matches!(level, "off" | "strict" | "moderate") {
        bail!(BadValue, "Enumeration value '{level}' for field 'validationLevel' is not a valid value.");
    }
    Ok(())
}

fn check_action(action: &str) -> DocDbResult<()> {
    if !matches!(action, "error" | "warn" | "errorAndLog") {
        bail!(BadValue, "Enumeration value '{action}' for field 'validationAction' is not a valid value.");
    }
    Ok(())
}

fn check_view_pipeline(pipeline: &bson::RawArray) -> DocDbResult<()> {
    for (i, stage) in pipeline.into_iter().enumerate() {
        match stage {
            Ok(RawBsonRef::Document(d)) => {
                if let Some(Ok((name, _))) = d.iter().next() {
                    if matches!(name.as_str(), "$out" | "$merge") {
                        bail!(
                            OptionNotSupportedOnView,
                            "The aggregation stage {} of the pipeline cannot be used in a view definition",
                            name.as_str()
                        );
                    }
                }
            }
            _ => bail!(TypeMismatch, "Each element of the 'pipeline' array must be an object (element {i})"),
        }
    }
    Ok(())
}

/// The `create` command (collections and views): `create_collection_view(db, spec)`.
pub fn create(db: &str, spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let coll = spec::collection_name(spec_doc, "create")?;
    authz::require(Action::CreateCollection, Target::Collection { db, collection: coll }, db, spec_doc)?;
    let mut opts = CreateOptions::default();
    let mut view_on: Option<&str> = None;
    let mut pipeline: Option<&bson::RawArray> = None;
    let mut reported = RawDocumentBuf::new();
    read_fields(spec_doc, "create", |field| {
        match field.name {
            "validator" => {
                let v = field.document()?;
                Validator::parse(v)?;
                opts.validator = Some(v.to_owned());
            }
            "validationLevel" => {
                let l = field.str()?;
                check_level(l)?;
                opts.validation_level = Some(l.to_owned());
            }
            "validationAction" => {
                let a = field.str()?;
                check_action(a)?;
                opts.validation_action = Some(a.to_owned());
            }
            "viewOn" => view_on = Some(field.str()?),
            "pipeline" => pipeline = Some(field.array()?),
            "collation" => {
                field.simple_collation()?;
                return Ok(true);
            }
            "capped" | "timeseries" | "clusteredIndex" | "encryptedFields" | "expireAfterSeconds" => {
                if field.name == "capped" && !field.bool()? {
                    return Ok(true);
                }
                bail!(CommandNotSupported, "create option '{}' is not supported", field.name);
            }
            "size" | "max" => bail!(
                CommandNotSupported,
                "create option '{}' is only meaningful for capped collections, which are not supported",
                field.name
            ),
            // Storage tuning that has no meaning on PostgreSQL storage.
            "storageEngine"
            | "indexOptionDefaults"
            | "autoIndexId"
            | "changeStreamPreAndPostImages"
            | "flags"
            | "idIndex" => {
                return Ok(true);
            }
            _ => return Ok(false),
        }
        reported.append(field_key(field.name), field.value);
        Ok(true)
    })?;
    if pipeline.is_some() && view_on.is_none() {
        bail!(BadValue, "'pipeline' requires 'viewOn' to also be specified");
    }
    if let Some(on) = view_on {
        if opts.validator.is_some() || opts.validation_level.is_some() || opts.validation_action.is_some() {
            bail!(InvalidOptions, "Cannot specify validation options on a view");
        }
        if on.is_empty() {
            bail!(BadValue, "'viewOn' cannot be empty");
        }
        catalog::validate_collection_name(db, on)?;
        let mut def = rawdoc! { "viewOn": on };
        match pipeline {
            Some(p) => {
                check_view_pipeline(p)?;
                def.append(cstr("pipeline"), p);
            }
            None => def.append(cstr("pipeline"), RawArrayBuf::new()),
        }
        opts.view_definition = Some(def);
    }
    opts.options = Some(reported);
    if new_collection::create_granted(db, coll, &opts)?.is_none() {
        bail!(NamespaceExists, "Collection {db}.{coll} already exists.");
    }
    Ok(rawdoc! { "ok": 1.0 })
}

fn field_key(name: &str) -> &bson::raw::CStr {
    <&bson::raw::CStr>::try_from(name).unwrap_or_else(|_| cstr("?"))
}

pub fn drop_database(db: &str) -> DocDbResult<()> {
    catalog::validate_database_name(db)?;
    authz::require(Action::DropDatabase, Target::Database(db), db, &rawdoc! { "dropDatabase": 1 })?;
    if db == "admin" {
        bail!(IllegalOperation, "Dropping the 'admin' database is prohibited.");
    }
    for collection in catalog::list(db)? {
        catalog::drop_collection(db, &collection.name)?;
    }
    pg_roles::forget_database_if_unused(db)
}

/// `drop`: true when the collection or view existed.
pub fn drop_collection(db: &str, coll: &str) -> DocDbResult<bool> {
    let command = rawdoc! { "drop": coll };
    authz::require(Action::DropCollection, Target::Collection { db, collection: coll }, db, &command)?;
    catalog::drop_collection(db, coll)
}

pub fn rename_collection(db: &str, from: &str, to: &str, drop_target: bool) -> DocDbResult<()> {
    catalog::validate_database_name(db)?;
    catalog::validate_collection_name(db, to)?;
    // MongoDB: renameCollectionSameDB on both namespaces (and dropCollection on a dropped target).
    let command = rawdoc! { "renameCollection": format!("{db}.{from}"), "to": format!("{db}.{to}") };
    for coll in [from, to] {
        authz::require(Action::RenameCollectionSameDB, Target::Collection { db, collection: coll }, db, &command)?;
    }
    if drop_target {
        authz::require(Action::DropCollection, Target::Collection { db, collection: to }, db, &command)?;
    }
    let Some(source) = catalog::lookup(db, from)? else {
        bail!(NamespaceNotFound, "Source collection {db}.{from} does not exist");
    };
    if source.is_view() {
        bail!(CommandNotSupportedOnView, "cannot rename view: {db}.{from}");
    }
    if from == to {
        bail!(IllegalOperation, "Can't rename a collection to itself");
    }
    if catalog::lookup(db, to)?.is_some() {
        if !drop_target {
            bail!(NamespaceExists, "target namespace exists");
        }
        catalog::drop_collection(db, to)?;
    }
    catalog::rename(db, from, to)?;
    // The user-defined roles' grants follow the collection's new name.
    match catalog::lookup(db, to)? {
        Some(renamed) => pg_roles::regrant_collection(&renamed),
        None => Ok(()),
    }
}

/// `collMod`.
pub fn coll_mod(db: &str, coll: &str, spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    authz::require(Action::CollMod, Target::Collection { db, collection: coll }, db, spec_doc)?;
    authz::privileged(|| coll_mod_as_owner(db, coll, spec_doc))
}

fn coll_mod_as_owner(db: &str, coll: &str, spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let Some(collection) = catalog::lookup(db, coll)? else {
        bail!(NamespaceNotFound, "ns does not exist: {db}.{coll}");
    };
    let mut validator: Option<RawDocumentBuf> = None;
    let mut level: Option<&str> = None;
    let mut action: Option<&str> = None;
    let mut view_on: Option<&str> = None;
    let mut pipeline: Option<&bson::RawArray> = None;
    let mut index_change: Option<&RawDocument> = None;
    read_fields(spec_doc, "collMod", |field| {
        match field.name {
            "validator" => {
                let v = field.document()?;
                if !v.is_empty() {
                    Validator::parse(v)?;
                }
                validator = Some(v.to_owned());
            }
            "validationLevel" => {
                let l = field.str()?;
                check_level(l)?;
                level = Some(l);
            }
            "validationAction" => {
                let a = field.str()?;
                check_action(a)?;
                action = Some(a);
            }
            "viewOn" => view_on = Some(field.str()?),
            "pipeline" => pipeline = Some(field.array()?),
            "index" => index_change = Some(field.document()?),
            "cappedSize"
            | "cappedMax"
            | "expireAfterSeconds"
            | "timeseries"
            | "changeStreamPreAndPostImages"
            | "clusteredIndex" => {
                bail!(CommandNotSupported, "collMod option '{}' is not supported", field.name)
            }
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    if collection.is_view() {
        if validator.is_some() || level.is_some() || action.is_some() {
            bail!(InvalidOptions, "Cannot specify validation options on a view");
        }
        if view_on.is_some() || pipeline.is_some() {
            let old = collection.view_definition.clone().unwrap_or_default();
            let on = view_on.or_else(|| old.get_str("viewOn").ok()).unwrap_or_default();
            let mut def = rawdoc! { "viewOn": on };
            match pipeline {
                Some(p) => {
                    check_view_pipeline(p)?;
                    def.append(cstr("pipeline"), p);
                }
                None => match old.get_array("pipeline") {
                    Ok(p) => def.append(cstr("pipeline"), p),
                    Err(_) => def.append(cstr("pipeline"), RawArrayBuf::new()),
                },
            }
            spi::execute(
                "UPDATE documentdb_api_catalog.collections SET view_definition = $2 WHERE collection_id = $1",
                &[Param::Int8(collection.id), Param::Bson(def.as_bytes())],
                false,
                0,
            )?;
        }
    } else {
        if view_on.is_some() || pipeline.is_some() {
            bail!(InvalidOptions, "'viewOn' and 'pipeline' can only be modified on a view");
        }
        catalog::set_validation(collection.id, validator.as_ref(), level, action)?;
    }
    let mut reply = RawDocumentBuf::new();
    if let Some(change) = index_change {
        if collection.is_view() {
            bail!(InvalidOptions, "Cannot modify an index of a view");
        }
        for (k, v) in super::indexes::modify_index(&collection, change)?.iter().flatten() {
            reply.append(k, v);
        }
    }
    reply.append(cstr("ok"), 1.0);
    Ok(reply)
}

fn uuid_binary(uuid: &str) -> Option<Binary> {
    let hex: String = uuid.chars().filter(|c| *c != '-').collect();
    let bytes = hex::decode(hex).ok()?;
    Some(Binary { subtype: bson::spec::BinarySubtype::Uuid, bytes })
}

fn collection_info(c: &Collection, name_only: bool) -> RawDocumentBuf {
    let kind = if c.is_view() { "view" } else { "collection" };
    if name_only {
        return rawdoc! { "name": c.name.as_str(), "type": kind };
    }
    let mut options = c.options.clone().unwrap_or_default();
    if let Some(def) = &c.view_definition {
        options = def.clone();
    }
    let mut info = rawdoc! { "readOnly": c.is_view() };
    if !c.is_view() {
        if let Some(b) = uuid_binary(&c.uuid) {
            info.append(cstr("uuid"), b);
        }
    }
    let mut doc = rawdoc! { "name": c.name.as_str(), "type": kind, "options": options, "info": info };
    if !c.is_view() {
        doc.append(cstr("idIndex"), catalog::id_index_spec());
    }
    doc
}

fn cursor_batch_size(spec_doc: &RawDocument, command: &str) -> DocDbResult<Option<i64>> {
    match spec_doc.get("cursor") {
        Ok(Some(RawBsonRef::Document(c))) => match c.get("batchSize") {
            Ok(Some(v)) => Ok(Some(spec::Field { command, name: "cursor.batchSize", value: v }.non_negative()?)),
            _ => Ok(None),
        },
        Ok(Some(_)) => bail!(TypeMismatch, "BSON field '{command}.cursor' is the wrong type, expected type 'object'"),
        _ => Ok(None),
    }
}

/// `listCollections`.
pub fn list_collections(db: &str, spec_doc: &RawDocument, cursor_id: i64) -> DocDbResult<FirstPage> {
    let mut filter: Option<&RawDocument> = None;
    let mut name_only = false;
    let mut authorized_collections = false;
    read_fields(spec_doc, "listCollections", |field| {
        match field.name {
            "filter" => filter = field.optional_document()?,
            "nameOnly" => name_only = field.bool()?,
            "authorizedCollections" => authorized_collections = field.bool()?,
            "cursor" | "includePendingDrops" => {}
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    let batch_size = cursor_batch_size(spec_doc, "listCollections")?;
    catalog::validate_database_name(db)?;
    // MongoDB: listCollections on the database lists everything; without it, a user may
    // still ask for the names of the collections it has some privilege on.
    let visible: Option<principal::Principal> = if authz::allowed(Action::ListCollections, Target::Database(db))? {
        None
    } else {
        // ... which still takes some privilege on the database (MongoDB refuses a stranger).
        let principal = principal::current()?;
        if !(authorized_collections && name_only && principal.privileges.touches_database(db)) {
            return Err(authz::unauthorized(db, spec_doc));
        }
        Some(principal)
    };
    let parsed = filter.filter(|f| !f.is_empty()).map(Filter::parse).transpose()?;
    let mut docs = Vec::new();
    for c in catalog::list(db)? {
        if visible.as_ref().is_some_and(|p| !p.privileges.touches_collection(db, &c.name)) {
            continue;
        }
        // Filters see the full document even with nameOnly (MongoDB filters on name/type).
        let full = collection_info(&c, false);
        if let Some(f) = &parsed {
            if !f.matches(&full)? {
                continue;
            }
        }
        docs.push(if name_only { collection_info(&c, true) } else { full }.into_bytes());
    }
    cursor::first_page_from_documents(docs, &format!("{db}.$cmd.listCollections"), batch_size, cursor_id)
}

/// `listIndexes`.
pub fn list_indexes(db: &str, spec_doc: &RawDocument, cursor_id: i64) -> DocDbResult<FirstPage> {
    let coll = spec::collection_name(spec_doc, "listIndexes")?;
    read_fields(spec_doc, "listIndexes", |field| {
        Ok(matches!(field.name, "cursor" | "includeBuildUUIDs" | "includeIndexBuildInfo"))
    })?;
    let batch_size = cursor_batch_size(spec_doc, "listIndexes")?;
    authz::require(Action::ListIndexes, Target::Collection { db, collection: coll }, db, spec_doc)?;
    let Some(collection) = catalog::lookup(db, coll)? else {
        bail!(NamespaceNotFound, "ns does not exist: {db}.{coll}");
    };
    if collection.is_view() {
        bail!(CommandNotSupportedOnView, "Namespace {db}.{coll} is a view, not a collection");
    }
    let docs = catalog::indexes(collection.id)?.into_iter().map(RawDocumentBuf::into_bytes).collect();
    cursor::first_page_from_documents(docs, &format!("{db}.{coll}"), batch_size, cursor_id)
}

fn scaled(bytes: i64, scale: f64) -> i64 {
    if scale > 1.0 {
        (bytes as f64 / scale) as i64
    } else {
        bytes
    }
}

/// (documents, logical data size, table size, index size) of a collection.
fn sizes(collection: &Collection) -> DocDbResult<(i64, i64, i64, i64)> {
    let table = collection.table();
    let sql = format!(
        "SELECT count(*), coalesce(sum(pg_column_size(document)), 0)::int8, \
                pg_table_size('{table}'::regclass), pg_indexes_size('{table}'::regclass) FROM {table}"
    );
    let rows = spi::execute(&sql, &[], true, 1)?;
    let row = rows.into_iter().next().unwrap_or_default();
    let get = |i: usize| row.get(i).and_then(Value::as_i64).unwrap_or(0);
    Ok((get(0), get(1), get(2), get(3)))
}

fn check_scale(scale: f64) -> DocDbResult<f64> {
    if scale.is_nan() || scale < 1.0 {
        if scale == 0.0 || scale.is_nan() {
            return Ok(1.0);
        }
        bail!(BadValue, "scale has to be >= 1");
    }
    Ok(scale.trunc())
}

/// `collStats`.
pub fn coll_stats(db: &str, coll: &str, scale: f64) -> DocDbResult<RawDocumentBuf> {
    let command = rawdoc! { "collStats": coll };
    authz::require(Action::CollStats, Target::Collection { db, collection: coll }, db, &command)?;
    // Sizes are metadata: collStats needs no read access to the documents.
    authz::privileged(|| coll_stats_as_owner(db, coll, scale))
}

fn coll_stats_as_owner(db: &str, coll: &str, scale: f64) -> DocDbResult<RawDocumentBuf> {
    let scale = check_scale(scale)?;
    let Some(collection) = catalog::lookup(db, coll)? else {
        bail!(NamespaceNotFound, "Collection [{db}.{coll}] not found.");
    };
    if collection.is_view() {
        bail!(CommandNotSupportedOnView, "Namespace {db}.{coll} is a view, not a collection");
    }
    let (count, data, storage, index) = sizes(&collection)?;
    let indexes = &collection.indexes;
    let mut index_sizes = RawDocumentBuf::new();
    for entry in indexes {
        // Each index's own relation (the primary key for `_id_`).
        let rows =
            spi::execute("SELECT pg_relation_size($1::bigint::oid)", &[Param::Int8(i64::from(entry.oid))], true, 1)?;
        let size = rows.first().and_then(|r| r.first()).and_then(Value::as_i64).unwrap_or(0);
        index_sizes.append(field_key(entry.name()), scaled(size, scale));
    }
    let mut reply = rawdoc! { "ns": collection.namespace() };
    append_count(&mut reply, "count", count);
    append_count(&mut reply, "size", scaled(data, scale));
    append_count(&mut reply, "avgObjSize", if count > 0 { data / count } else { 0 });
    append_count(&mut reply, "storageSize", scaled(storage, scale));
    append_count(&mut reply, "nindexes", indexes.len() as i64);
    append_count(&mut reply, "totalIndexSize", scaled(index, scale));
    append_count(&mut reply, "totalSize", scaled(storage + index, scale));
    reply.append(cstr("indexSizes"), index_sizes);
    append_count(&mut reply, "scaleFactor", scale as i64);
    reply.append(cstr("capped"), false);
    reply.append(cstr("ok"), 1.0);
    Ok(reply)
}

/// The document of a `$collStats` stage (first stage over a collection): `ns`, `localTime`,
/// and what `spec` asks for: `count` (the documents), `storageStats` (collStats' figures,
/// with `scale`), `latencyStats` (MongoDB's shape; operation latencies are not tracked, so
/// zeros), `queryExecStats` (likewise).
pub fn coll_stats_document(collection: &Collection, spec: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let (db, coll) = (collection.database.as_str(), collection.name.as_str());
    let mut out = rawdoc! { "ns": collection.namespace(), "localTime": bson::DateTime::now() };
    for element in spec {
        let (key, value) = element.map_err(|e| docdb_error!(InvalidBSON, "{e}"))?;
        let RawBsonRef::Document(options) = value else {
            bail!(TypeMismatch, "BSON field '$collStats.{}' is the wrong type, expected type 'object'", key.as_str());
        };
        match key.as_str() {
            "count" => {
                let stats = coll_stats(db, coll, 1.0)?;
                let count =
                    stats.get("count").ok().flatten().map(bson::RawBson::from).unwrap_or(bson::RawBson::Int32(0));
                out.append(cstr("count"), count);
            }
            "storageStats" => {
                let scale = match options.get("scale").map_err(|e| docdb_error!(InvalidBSON, "{e}"))? {
                    None => 1.0,
                    Some(RawBsonRef::Int32(n)) => f64::from(n),
                    Some(RawBsonRef::Int64(n)) => n as f64,
                    Some(RawBsonRef::Double(d)) => d,
                    Some(_) => bail!(TypeMismatch, "BSON field '$collStats.storageStats.scale' must be a number"),
                };
                let mut stats = RawDocumentBuf::new();
                for item in coll_stats(db, coll, scale)?.iter() {
                    let (k, v) = item.map_err(|e| docdb_error!(InvalidBSON, "{e}"))?;
                    if !matches!(k.as_str(), "ok" | "ns") {
                        stats.append(k, v);
                    }
                }
                out.append(cstr("storageStats"), stats);
            }
            "latencyStats" => {
                let zero = || rawdoc! { "latency": 0_i64, "ops": 0_i64 };
                out.append(
                    cstr("latencyStats"),
                    rawdoc! { "reads": zero(), "writes": zero(), "commands": zero(), "transactions": zero() },
                );
            }
            "queryExecStats" => {
                out.append(
                    cstr("queryExecStats"),
                    rawdoc! { "collectionScans": { "total": 0_i64, "nonTailable": 0_i64 } },
                );
            }
            other => {
                return Err(DocDbError::new(
                    ErrorCode::new(40415),
                    format!("BSON field '$collStats.{other}' is an unknown field."),
                ))
            }
        }
    }
    Ok(out)
}

/// `dbStats`.
pub fn db_stats(db: &str, scale: f64) -> DocDbResult<RawDocumentBuf> {
    catalog::validate_database_name(db)?;
    authz::require(Action::DbStats, Target::Database(db), db, &rawdoc! { "dbStats": 1 })?;
    authz::privileged(|| db_stats_as_owner(db, scale))
}

fn db_stats_as_owner(db: &str, scale: f64) -> DocDbResult<RawDocumentBuf> {
    let scale = check_scale(scale)?;
    let (mut collections, mut views, mut objects, mut data, mut storage, mut index, mut nindexes) =
        (0, 0, 0, 0, 0, 0, 0);
    for c in catalog::list(db)? {
        if c.is_view() {
            views += 1;
            continue;
        }
        collections += 1;
        let (n, d, s, i) = sizes(&c)?;
        objects += n;
        data += d;
        storage += s;
        index += i;
        nindexes += catalog::indexes(c.id)?.len() as i64;
    }
    let mut reply = rawdoc! { "db": db };
    append_count(&mut reply, "collections", collections);
    append_count(&mut reply, "views", views);
    append_count(&mut reply, "objects", objects);
    reply.append(cstr("avgObjSize"), if objects > 0 { data as f64 / objects as f64 } else { 0.0 });
    append_count(&mut reply, "dataSize", scaled(data, scale));
    append_count(&mut reply, "storageSize", scaled(storage, scale));
    append_count(&mut reply, "indexes", nindexes);
    append_count(&mut reply, "indexSize", scaled(index, scale));
    append_count(&mut reply, "totalSize", scaled(storage + index, scale));
    append_count(&mut reply, "scaleFactor", scale as i64);
    reply.append(cstr("ok"), 1.0);
    Ok(reply)
}

/// `listDatabases`.
pub fn list_databases(spec_doc: &RawDocument) -> DocDbResult<RawDocumentBuf> {
    let mut filter: Option<&RawDocument> = None;
    let mut name_only = false;
    let mut authorized_databases: Option<bool> = None;
    read_fields(spec_doc, "listDatabases", |field| {
        match field.name {
            "filter" => filter = field.optional_document()?,
            "nameOnly" => name_only = field.bool()?,
            "authorizedDatabases" => authorized_databases = Some(field.bool()?),
            _ => return Ok(false),
        }
        Ok(true)
    })?;
    // MongoDB: with listDatabases on the cluster, every database (unless
    // authorizedDatabases: true asks for the user's own); without it, only the databases
    // the user has some privilege on, and authorizedDatabases: false is refused.
    let may_list_all = authz::allowed(Action::ListDatabases, Target::Cluster)?;
    let visible: Option<principal::Principal> = match (may_list_all, authorized_databases) {
        (true, None | Some(false)) => None,
        (false, Some(false)) => return Err(authz::unauthorized("admin", spec_doc)),
        _ => Some(principal::current()?),
    };
    let parsed = filter.filter(|f| !f.is_empty()).map(Filter::parse).transpose()?;
    authz::privileged(|| list_databases_as_owner(visible.as_ref(), parsed.as_ref(), name_only))
}

fn list_databases_as_owner(
    visible: Option<&principal::Principal>,
    parsed: Option<&Filter>,
    name_only: bool,
) -> DocDbResult<RawDocumentBuf> {
    let mut list = RawArrayBuf::new();
    let mut total: i64 = 0;
    for db in catalog::databases()? {
        if visible.is_some_and(|p| !p.privileges.touches_database(&db)) {
            continue;
        }
        let mut size = 0;
        let mut empty = true;
        if !name_only {
            for c in catalog::list(&db)? {
                if c.is_view() {
                    continue;
                }
                let (n, _, s, i) = sizes(&c)?;
                size += s + i;
                empty &= n == 0;
            }
        }
        let entry = if name_only {
            rawdoc! { "name": db.as_str() }
        } else {
            rawdoc! { "name": db.as_str(), "sizeOnDisk": size, "empty": empty }
        };
        if let Some(f) = &parsed {
            if !f.matches(&entry)? {
                continue;
            }
        }
        total += size;
        list.push(entry);
    }
    let mut reply = rawdoc! { "databases": list };
    if !name_only {
        reply.append(cstr("totalSize"), total);
        reply.append(cstr("totalSizeMb"), total / (1024 * 1024));
    }
    reply.append(cstr("ok"), 1.0);
    Ok(reply)
}
