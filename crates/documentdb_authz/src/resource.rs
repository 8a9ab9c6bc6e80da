//! Resource documents and what they match.
//!
//! The shapes are the manual's "Resource Document" page
//! (https://www.mongodb.com/docs/manual/reference/resource-document/): `{db, collection}` with
//! either part empty as a wildcard, `{cluster: true}` and `{anyResource: true}`. The matching
//! follows the server's resource search: a wildcard collection (`collection: ""`) covers only
//! *normal* collections, never `system.*` ones, and the all-databases wildcard
//! (`{db: "", collection: ""}`) leaves out the `local` and `config` databases, which is how
//! the *AnyDatabase roles exclude them (the manual notes that readAnyDatabase and friends do
//! not apply to `local` and `config`).

use bson::raw::{cstr, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::{docdb_error, DocDbResult};

use crate::bson_util::{duplicate_field, fields, safe_bool, wrong_type};

/// A privilege's resource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Resource {
    /// `{cluster: true}`: cluster-wide operations (serverStatus, killop, listDatabases, ...).
    Cluster,
    /// `{anyResource: true}`: every resource, system collections and `local`/`config` included.
    AnyResource,
    /// `{db, collection}`; an empty `db` matches any database (but `local` and `config` only
    /// when `collection` names a collection), an empty `collection` any normal collection.
    Namespace { db: String, collection: String },
}

/// What an operation acts on, for the privilege check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// A cluster-wide operation.
    Cluster,
    /// A database-level operation (dropDatabase, listCollections, dbStats, createUser, ...).
    Database(&'a str),
    /// An operation on one collection.
    Collection { db: &'a str, collection: &'a str },
}

/// Whether `collection` of `db` is a *normal* collection, one that database-wide and
/// any-database resources cover: not `system.*`, and in `local` not `replset.*` (the server's
/// replication state), as MongoDB's `NamespaceString::isNormalCollection` decides.
pub fn is_normal_collection(db: &str, collection: &str) -> bool {
    let system = collection.starts_with("system.");
    let replication_state = db == "local" && collection.starts_with("replset.");
    !system && !replication_state
}

/// Whether the all-databases wildcard reaches `db`: MongoDB keeps `local` and `config`
/// (replication and sharding state) out of it, so only explicit grants reach them.
fn any_normal_covers_db(db: &str) -> bool {
    db != "local" && db != "config"
}

/// The fields of a resource document as read, before their combination is checked (the
/// server's `ParsedResource`; unknown fields are ignored as its parser is not strict).
#[derive(Default)]
pub(crate) struct ParsedResource<'a> {
    cluster: Option<bool>,
    any_resource: Option<bool>,
    db: Option<&'a str>,
    collection: Option<&'a str>,
    system_buckets: Option<&'a str>,
}

const RESOURCE_PATH: &str = "privilege.resource";

impl<'a> ParsedResource<'a> {
    /// Reads the fields, with the IDL's type and duplicate checks.
    pub(crate) fn read(doc: &'a RawDocument) -> DocDbResult<ParsedResource<'a>> {
        fn set<T>(slot: &mut Option<T>, value: T, name: &str) -> DocDbResult<()> {
            if slot.is_some() {
                return Err(duplicate_field(&format!("{RESOURCE_PATH}.{name}")));
            }
            *slot = Some(value);
            Ok(())
        }
        fn string<'v>(value: RawBsonRef<'v>, name: &str) -> DocDbResult<&'v str> {
            value.as_str().ok_or_else(|| wrong_type(&format!("{RESOURCE_PATH}.{name}"), value, "string"))
        }

        let mut parsed = ParsedResource::default();
        for (name, value) in fields(doc)? {
            match name {
                "cluster" => {
                    let b = safe_bool(&format!("{RESOURCE_PATH}.{name}"), value)?;
                    set(&mut parsed.cluster, b, name)?;
                }
                "anyResource" => {
                    let b = safe_bool(&format!("{RESOURCE_PATH}.{name}"), value)?;
                    set(&mut parsed.any_resource, b, name)?;
                }
                "db" => set(&mut parsed.db, string(value, name)?, name)?,
                "collection" => set(&mut parsed.collection, string(value, name)?, name)?,
                "system_buckets" => set(&mut parsed.system_buckets, string(value, name)?, name)?,
                // The server's ParsedResource is non-strict: other fields are ignored.
                _ => {}
            }
        }
        Ok(parsed)
    }

    /// Checks the combination and builds the resource, with the server's messages
    /// (`Privilege::resolvePrivilegeWithTenant`).
    pub(crate) fn resolve(self) -> DocDbResult<Resource> {
        let conflict = |primary: &str, other: &str| {
            docdb_error!(FailedToParse, "resource: {{{primary}: true}} conflicts with resource type '{other}'")
        };
        if let Some(cluster) = self.cluster {
            if !cluster {
                return Err(docdb_error!(FailedToParse, "resource: {{cluster: false}} must be true"));
            }
            for (present, name) in [
                (self.any_resource.is_some(), "anyResource"),
                (self.db.is_some(), "db"),
                (self.collection.is_some(), "collection"),
                (self.system_buckets.is_some(), "system_buckets"),
            ] {
                if present {
                    return Err(conflict("cluster", name));
                }
            }
            return Ok(Resource::Cluster);
        }
        if let Some(any) = self.any_resource {
            if !any {
                return Err(docdb_error!(FailedToParse, "resource: {{anyResource: false}} must be true"));
            }
            for (present, name) in [
                (self.db.is_some(), "db"),
                (self.collection.is_some(), "collection"),
                (self.system_buckets.is_some(), "system_buckets"),
            ] {
                if present {
                    return Err(conflict("anyResource", name));
                }
            }
            return Ok(Resource::AnyResource);
        }
        if self.collection.is_some() && self.system_buckets.is_some() {
            return Err(docdb_error!(
                FailedToParse,
                "resource: {{collection: '...'}} conflicts with resource type 'system_buckets'"
            ));
        }
        if let Some(collection) = self.collection {
            let Some(db) = self.db else {
                return Err(docdb_error!(
                    FailedToParse,
                    "resource {{collection: '...'}} must include 'db' field as well"
                ));
            };
            if !db.is_empty() && !valid_db_name(db) {
                return Err(docdb_error!(FailedToParse, "{db} is not a valid database name"));
            }
            if !collection.is_empty() && !valid_collection_name(db, collection) {
                return Err(docdb_error!(FailedToParse, "'{collection}' is not a valid collection name"));
            }
            return Ok(Resource::Namespace { db: db.to_string(), collection: collection.to_string() });
        }
        if self.system_buckets.is_some() {
            // Time-series bucket collections do not exist in this product, so there is
            // nothing a system_buckets resource could ever match; refuse it rather than store
            // a privilege that silently grants nothing.
            return Err(docdb_error!(FailedToParse, "resource: {{system_buckets: '...'}} is not supported"));
        }
        Err(docdb_error!(FailedToParse, "resource pattern must contain 'collection' or 'systemBuckets' specifier"))
    }
}

/// MongoDB's database-name rule for resources (`NamespaceString::validDBName`, `$` allowed).
fn valid_db_name(db: &str) -> bool {
    db.len() < 64 && !db.contains(['/', '\\', '.', ' ', '"', '\0'])
}

/// MongoDB's collection-name rule (`NamespaceString::validCollectionName`), with the server's
/// one exception: `local.oplog.$main` is a real collection, so it may be granted on.
fn valid_collection_name(db: &str, collection: &str) -> bool {
    if db == "local" && collection == "oplog.$main" {
        return true;
    }
    !collection.starts_with('.') && !collection.contains(['\0', '$'])
}

impl Resource {
    /// `{db, collection}` as a resource.
    pub fn namespace(db: &str, collection: &str) -> Resource {
        Resource::Namespace { db: db.to_string(), collection: collection.to_string() }
    }

    /// `{db: <db>, collection: ""}`: every normal collection of `db`, and `db` itself.
    pub fn database(db: &str) -> Resource {
        Resource::namespace(db, "")
    }

    /// `{db: "", collection: ""}`: every normal collection of every database but `local` and
    /// `config`.
    pub fn any_normal() -> Resource {
        Resource::namespace("", "")
    }

    /// Parses a resource document: `{db, collection}`, `{cluster: true}` or
    /// `{anyResource: true}`. Errors are MongoDB's (FailedToParse, as createRole and
    /// grantPrivilegesToRole report a bad privilege).
    pub fn parse(doc: &RawDocument) -> DocDbResult<Resource> {
        ParsedResource::read(doc)?.resolve()
    }

    /// The resource document, as rolesInfo and connectionStatus print it.
    pub fn to_document(&self) -> RawDocumentBuf {
        let mut doc = RawDocumentBuf::new();
        match self {
            Resource::Cluster => doc.append(cstr!("cluster"), true),
            Resource::AnyResource => doc.append(cstr!("anyResource"), true),
            Resource::Namespace { db, collection } => {
                doc.append(cstr!("db"), db.as_str());
                doc.append(cstr!("collection"), collection.as_str());
            }
        }
        doc
    }

    /// Whether a privilege on this resource applies to `target`.
    pub fn matches(&self, target: Target<'_>) -> bool {
        match (self, target) {
            (Resource::AnyResource, _) => true,
            (Resource::Cluster, Target::Cluster) => true,
            (Resource::Cluster, _) | (Resource::Namespace { .. }, Target::Cluster) => false,
            (Resource::Namespace { db, collection }, Target::Database(target_db)) => {
                // Only database-wide patterns name a database; a collection pattern
                // ({db: "", collection: "x"}) or an exact namespace does not.
                collection.is_empty() && (db == target_db || (db.is_empty() && any_normal_covers_db(target_db)))
            }
            (Resource::Namespace { db, collection }, Target::Collection { db: target_db, collection: target_coll }) => {
                match (db.is_empty(), collection.is_empty()) {
                    // Exact namespace: system collections included.
                    (false, false) => db == target_db && collection == target_coll,
                    // Collection name in any database, local and config included.
                    (true, false) => collection == target_coll,
                    // Database-wide: the normal collections of that database.
                    (false, true) => db == target_db && is_normal_collection(target_db, target_coll),
                    // Any normal collection outside local and config.
                    (true, true) => any_normal_covers_db(target_db) && is_normal_collection(target_db, target_coll),
                }
            }
        }
    }

    /// Whether a privilege on this resource authorizes an action on the resource *pattern*
    /// `pattern` itself, as MongoDB checks it when a user grants privileges to a role (only
    /// a privilege on a pattern at least as wide authorizes granting on that pattern).
    pub fn covers(&self, pattern: &Resource) -> bool {
        match pattern {
            Resource::AnyResource => matches!(self, Resource::AnyResource),
            Resource::Cluster => self.matches(Target::Cluster),
            Resource::Namespace { db, collection } => match (db.is_empty(), collection.is_empty()) {
                (false, false) => self.matches(Target::Collection { db, collection }),
                (false, true) => self.matches(Target::Database(db)),
                // Wildcard-database patterns are covered only by themselves or anyResource.
                _ => matches!(self, Resource::AnyResource) || self == pattern,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::rawdoc;
    use documentdb_errors::ErrorCode;

    fn coll<'a>(db: &'a str, collection: &'a str) -> Target<'a> {
        Target::Collection { db, collection }
    }

    #[test]
    fn resource_document_shapes_parse_and_round_trip() {
        // https://www.mongodb.com/docs/manual/reference/resource-document/
        for (doc, expected) in [
            (rawdoc! { "db": "products", "collection": "inventory" }, Resource::namespace("products", "inventory")),
            (rawdoc! { "db": "products", "collection": "" }, Resource::database("products")),
            (rawdoc! { "db": "", "collection": "accounts" }, Resource::namespace("", "accounts")),
            (rawdoc! { "db": "", "collection": "" }, Resource::any_normal()),
            (rawdoc! { "cluster": true }, Resource::Cluster),
            (rawdoc! { "anyResource": true }, Resource::AnyResource),
        ] {
            let parsed = Resource::parse(&doc).unwrap();
            assert_eq!(parsed, expected);
            assert_eq!(parsed.to_document(), doc);
        }
    }

    #[test]
    fn resource_parse_accepts_numbers_for_the_flags_and_ignores_unknown_fields() {
        assert_eq!(Resource::parse(&rawdoc! { "cluster": 1 }).unwrap(), Resource::Cluster);
        assert_eq!(Resource::parse(&rawdoc! { "anyResource": 1.0 }).unwrap(), Resource::AnyResource);
        assert_eq!(
            Resource::parse(&rawdoc! { "db": "a", "collection": "b", "comment": "x" }).unwrap(),
            Resource::namespace("a", "b")
        );
        assert_eq!(
            Resource::parse(&rawdoc! { "db": "local", "collection": "oplog.$main" }).unwrap(),
            Resource::namespace("local", "oplog.$main")
        );
    }

    fn parse_err(doc: RawDocumentBuf) -> String {
        let err = Resource::parse(&doc).unwrap_err();
        assert_eq!(err.code, ErrorCode::FailedToParse, "{err:?}");
        err.message
    }

    #[test]
    fn resource_parse_errors_are_mongodbs() {
        assert_eq!(
            parse_err(rawdoc! { "db": "a", "collection": "b", "cluster": true }),
            "resource: {cluster: true} conflicts with resource type 'db'"
        );
        assert_eq!(
            parse_err(rawdoc! { "cluster": true, "anyResource": true }),
            "resource: {cluster: true} conflicts with resource type 'anyResource'"
        );
        assert_eq!(
            parse_err(rawdoc! { "anyResource": true, "collection": "b" }),
            "resource: {anyResource: true} conflicts with resource type 'collection'"
        );
        assert_eq!(parse_err(rawdoc! { "cluster": false }), "resource: {cluster: false} must be true");
        assert_eq!(parse_err(rawdoc! { "anyResource": 0 }), "resource: {anyResource: false} must be true");
        assert_eq!(
            parse_err(rawdoc! { "db": 1, "collection": "b" }),
            "BSON field 'privilege.resource.db' is the wrong type 'int', expected type 'string'"
        );
        assert_eq!(
            parse_err(rawdoc! { "cluster": "yes" }),
            "BSON field 'privilege.resource.cluster' is the wrong type 'string', expected types '[bool, long, int, decimal, double]'"
        );
        assert_eq!(
            parse_err(rawdoc! { "db": "a" }),
            "resource pattern must contain 'collection' or 'systemBuckets' specifier"
        );
        assert_eq!(parse_err(rawdoc! {}), "resource pattern must contain 'collection' or 'systemBuckets' specifier");
        assert_eq!(
            parse_err(rawdoc! { "collection": "b" }),
            "resource {collection: '...'} must include 'db' field as well"
        );
        assert_eq!(
            parse_err(rawdoc! { "db": "a", "collection": "b", "db": "c" }),
            "BSON field 'privilege.resource.db' is a duplicate field"
        );
        assert_eq!(parse_err(rawdoc! { "db": "a", "collection": "b$c" }), "'b$c' is not a valid collection name");
        assert_eq!(parse_err(rawdoc! { "db": "a.b", "collection": "" }), "a.b is not a valid database name");
    }

    #[test]
    fn exact_namespace_matches_only_that_collection() {
        let r = Resource::namespace("app", "c");
        assert!(r.matches(coll("app", "c")));
        assert!(!r.matches(coll("app", "d")));
        assert!(!r.matches(coll("other", "c")));
        assert!(!r.matches(Target::Database("app")));
        assert!(!r.matches(Target::Cluster));
        // An exact grant reaches a system collection.
        assert!(Resource::namespace("app", "system.js").matches(coll("app", "system.js")));
    }

    #[test]
    fn database_pattern_matches_its_normal_collections_and_the_database() {
        let r = Resource::database("app");
        assert!(r.matches(coll("app", "c")));
        assert!(r.matches(Target::Database("app")));
        assert!(!r.matches(coll("app", "system.profile")));
        assert!(!r.matches(coll("other", "c")));
        assert!(!r.matches(Target::Database("other")));
        assert!(!r.matches(Target::Cluster));
        // In local, replset.* holds replication state and is not a normal collection.
        assert!(Resource::database("local").matches(coll("local", "oplog.rs")));
        assert!(!Resource::database("local").matches(coll("local", "replset.minvalid")));
    }

    #[test]
    fn collection_pattern_matches_that_name_in_every_database() {
        let r = Resource::namespace("", "accounts");
        assert!(r.matches(coll("a", "accounts")));
        assert!(r.matches(coll("local", "accounts")));
        assert!(!r.matches(coll("a", "other")));
        assert!(!r.matches(Target::Database("a")));
    }

    #[test]
    fn any_normal_pattern_leaves_out_system_collections_local_config_and_the_cluster() {
        let r = Resource::any_normal();
        assert!(r.matches(coll("a", "c")));
        assert!(r.matches(Target::Database("a")));
        assert!(!r.matches(coll("a", "system.users")));
        assert!(!r.matches(coll("local", "oplog.rs")));
        assert!(!r.matches(coll("config", "settings")));
        assert!(!r.matches(Target::Database("local")));
        assert!(!r.matches(Target::Database("config")));
        assert!(!r.matches(Target::Cluster));
    }

    #[test]
    fn cluster_and_any_resource() {
        assert!(Resource::Cluster.matches(Target::Cluster));
        assert!(!Resource::Cluster.matches(Target::Database("a")));
        assert!(!Resource::Cluster.matches(coll("a", "b")));
        for target in [Target::Cluster, Target::Database("local"), coll("a", "system.users"), coll("config", "x")] {
            assert!(Resource::AnyResource.matches(target));
        }
    }

    #[test]
    fn covers_compares_patterns() {
        assert!(Resource::AnyResource.covers(&Resource::any_normal()));
        assert!(Resource::any_normal().covers(&Resource::any_normal()));
        assert!(Resource::any_normal().covers(&Resource::database("a")));
        assert!(Resource::any_normal().covers(&Resource::namespace("a", "b")));
        assert!(!Resource::database("a").covers(&Resource::any_normal()));
        assert!(!Resource::database("a").covers(&Resource::database("b")));
        assert!(!Resource::any_normal().covers(&Resource::namespace("", "b")));
        assert!(!Resource::any_normal().covers(&Resource::Cluster));
        assert!(Resource::Cluster.covers(&Resource::Cluster));
        assert!(!Resource::Cluster.covers(&Resource::AnyResource));
    }
}
