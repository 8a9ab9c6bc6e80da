//! Creating collections: explicitly (`create`) or implicitly on a first write (insert,
//! upsert, createIndexes), with the grants that give the collection's table to the
//! PostgreSQL roles that may read or write it.

use bson::RawDocument;
use documentdb_authz::{Action, Target};
use documentdb_errors::{bail, docdb_error, DocDbResult};

use crate::authz::{self, pg_roles};
use crate::catalog::{self, Collection, CreateOptions};

/// Creates a collection (or view) and grants its table to the roles that may read or
/// write it (callers have checked `createCollection`). `Ok(None)`: the name is taken.
pub fn create_granted(db: &str, coll: &str, opts: &CreateOptions) -> DocDbResult<Option<Collection>> {
    catalog::validate_database_name(db)?;
    pg_roles::ensure_database(db)?;
    let created = catalog::create(db, coll, opts)?;
    if let Some(c) = created.as_ref().filter(|c| !c.is_view()) {
        pg_roles::grant_collection(c)?;
    }
    Ok(created)
}

/// Looks a collection up, creating it when missing (MongoDB creates collections
/// implicitly on first write, for users who hold `createCollection`). Views can't be
/// written to.
pub fn get_or_create(db: &str, coll: &str, command: &RawDocument) -> DocDbResult<Collection> {
    if let Some(existing) = catalog::lookup(db, coll)? {
        if existing.is_view() {
            bail!(CommandNotSupportedOnView, "Namespace {db}.{coll} is a view, not a collection");
        }
        return Ok(existing);
    }
    authz::require(Action::CreateCollection, Target::Collection { db, collection: coll }, db, command)?;
    if let Some(created) = create_granted(db, coll, &CreateOptions::default())? {
        return Ok(created);
    }
    // Someone else created it concurrently; their row is visible now.
    catalog::lookup(db, coll)?
        .ok_or_else(|| docdb_error!(InternalError, "collection {db}.{coll} vanished while being created"))
}
