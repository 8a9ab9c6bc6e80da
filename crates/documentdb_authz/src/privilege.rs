//! Privileges (`{resource, actions}`) and the set of privileges a principal holds.
//!
//! Parsing follows what createRole, updateRole, grantPrivilegesToRole and
//! revokePrivilegesFromRole accept
//! (https://www.mongodb.com/docs/manual/reference/command/createRole/,
//! https://www.mongodb.com/docs/manual/reference/command/grantPrivilegesToRole/): the server
//! reads each privilege with a non-strict parser, so unknown fields are ignored, and reports
//! every problem of a privilege array as FailedToParse.

use std::collections::BTreeSet;

use bson::raw::{cstr, RawArray, RawArrayBuf, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::{docdb_error, DocDbResult};

use crate::action::Action;
use crate::bson_util::{duplicate_field, fields, missing_field, wrong_type};
use crate::resource::{ParsedResource, Resource, Target};

/// A set of actions on a resource.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Privilege {
    pub resource: Resource,
    pub actions: BTreeSet<Action>,
}

impl Privilege {
    pub fn new(resource: Resource, actions: impl IntoIterator<Item = Action>) -> Privilege {
        Privilege { resource, actions: actions.into_iter().collect() }
    }

    /// Parses `{resource: {...}, actions: ["find", ...]}` with MongoDB's errors, in the
    /// server's order: field types and presence first, then the resource's shape, then an
    /// empty `actions`, then unknown action names (all of them, comma-separated).
    pub fn parse(doc: &RawDocument) -> DocDbResult<Privilege> {
        let mut resource = None;
        let mut action_names: Option<Vec<&str>> = None;
        for (name, value) in fields(doc)? {
            match name {
                "resource" => {
                    if resource.is_some() {
                        return Err(duplicate_field("privilege.resource"));
                    }
                    let RawBsonRef::Document(d) = value else {
                        return Err(wrong_type("privilege.resource", value, "object"));
                    };
                    // The resource's field types are checked as it is read, as the IDL parser
                    // does for a nested struct; its shape only after the whole privilege.
                    resource = Some(ParsedResource::read(d)?);
                }
                "actions" => {
                    if action_names.is_some() {
                        return Err(duplicate_field("privilege.actions"));
                    }
                    let RawBsonRef::Array(array) = value else {
                        return Err(wrong_type("privilege.actions", value, "array"));
                    };
                    action_names = Some(read_action_names(array)?);
                }
                // The server's privilege parser is not strict: other fields are ignored.
                _ => {}
            }
        }
        let Some(resource) = resource else {
            return Err(missing_field("privilege.resource"));
        };
        let Some(action_names) = action_names else {
            return Err(missing_field("privilege.actions"));
        };

        let resource = resource.resolve()?;
        if action_names.is_empty() {
            return Err(docdb_error!(FailedToParse, "'actions' field of privilege resource must not be empty"));
        }
        let mut actions = BTreeSet::new();
        let mut unknown = Vec::new();
        for name in action_names {
            match Action::from_name(name) {
                Some(action) => {
                    actions.insert(action);
                }
                None => unknown.push(name),
            }
        }
        if !unknown.is_empty() {
            return Err(docdb_error!(FailedToParse, "Unrecognized action privilege strings: {}", unknown.join(",")));
        }
        Ok(Privilege { resource, actions })
    }

    /// `{resource, actions}` with the actions sorted by name.
    pub fn to_document(&self) -> RawDocumentBuf {
        let mut actions = RawArrayBuf::new();
        // BTreeSet<Action> iterates in name order (see Action).
        for action in &self.actions {
            actions.push(action.name());
        }
        let mut doc = RawDocumentBuf::new();
        doc.append(cstr!("resource"), self.resource.to_document());
        doc.append(cstr!("actions"), actions);
        doc
    }

    /// Whether this privilege allows `action` on `target` (`anyAction` allows every action,
    /// as in MongoDB's ActionSet).
    pub fn allows(&self, action: Action, target: Target<'_>) -> bool {
        self.has_action(action) && self.resource.matches(target)
    }

    fn has_action(&self, action: Action) -> bool {
        self.actions.contains(&action) || self.actions.contains(&Action::AnyAction)
    }
}

/// Parses the `privileges` array of createRole / updateRole / grantPrivilegesToRole /
/// revokePrivilegesFromRole.
pub fn parse_privileges(array: &RawArray) -> DocDbResult<Vec<Privilege>> {
    let mut out = Vec::new();
    for item in array {
        let value = item.map_err(|e| docdb_error!(InvalidBSON, "invalid BSON in privileges array: {e}"))?;
        let RawBsonRef::Document(doc) = value else {
            return Err(docdb_error!(FailedToParse, "Elements in privilege arrays must be objects"));
        };
        out.push(Privilege::parse(doc)?);
    }
    Ok(out)
}

fn read_action_names(array: &RawArray) -> DocDbResult<Vec<&str>> {
    let mut names = Vec::new();
    for (i, item) in array.into_iter().enumerate() {
        let value = item.map_err(|e| docdb_error!(InvalidBSON, "invalid BSON in actions array: {e}"))?;
        let name = value.as_str().ok_or_else(|| wrong_type(&format!("privilege.actions.{i}"), value, "string"))?;
        names.push(name);
    }
    Ok(names)
}

/// The privileges a principal (or a role) holds: the union over its roles. Privileges on the
/// same resource are merged into one entry whose actions are the union, kept in the order
/// their resources first appeared, as MongoDB accumulates them for rolesInfo and
/// connectionStatus.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PrivilegeSet {
    privileges: Vec<Privilege>,
}

impl PrivilegeSet {
    pub fn new() -> PrivilegeSet {
        PrivilegeSet::default()
    }

    /// Adds a privilege, merging it into the entry for the same resource. A privilege
    /// without actions grants nothing and is dropped (MongoDB never stores one).
    pub fn add(&mut self, privilege: Privilege) {
        if privilege.actions.is_empty() {
            return;
        }
        match self.privileges.iter_mut().find(|p| p.resource == privilege.resource) {
            Some(existing) => existing.actions.extend(privilege.actions),
            None => self.privileges.push(privilege),
        }
    }

    pub fn extend(&mut self, privileges: impl IntoIterator<Item = Privilege>) {
        for privilege in privileges {
            self.add(privilege);
        }
    }

    /// Removes the actions of `privilege` from the entry on the same resource (dropping the
    /// entry once empty), as revokePrivilegesFromRole does. Only the same resource pattern is
    /// affected: revoking on `{db: "a", collection: ""}` leaves `{db: "a", collection: "c"}`.
    pub fn remove(&mut self, privilege: &Privilege) {
        if let Some(existing) = self.privileges.iter_mut().find(|p| p.resource == privilege.resource) {
            existing.actions.retain(|a| !privilege.actions.contains(a));
        }
        self.privileges.retain(|p| !p.actions.is_empty());
    }

    /// Whether some privilege allows `action` on `target`.
    pub fn allows(&self, action: Action, target: Target<'_>) -> bool {
        self.privileges.iter().any(|p| p.allows(action, target))
    }

    /// Whether some privilege allows `action` on the resource pattern `pattern` itself: what
    /// MongoDB requires of a user who grants a privilege on that pattern to a role.
    pub fn allows_on_pattern(&self, action: Action, pattern: &Resource) -> bool {
        self.privileges.iter().any(|p| p.has_action(action) && p.resource.covers(pattern))
    }

    /// Whether this set holds every action of `privilege` on its resource pattern.
    pub fn covers(&self, privilege: &Privilege) -> bool {
        privilege.actions.iter().all(|a| self.allows_on_pattern(*a, &privilege.resource))
    }

    /// Whether any privilege applies to database `db` at all: on the database, on one of its
    /// collections, on a collection name in every database, or through a wildcard database
    /// (which leaves out `local` and `config`). MongoDB's rule for the databases listDatabases
    /// shows with `authorizedDatabases` (`isAuthorizedForAnyActionOnAnyResourceInDB`).
    pub fn touches_database(&self, db: &str) -> bool {
        self.privileges.iter().any(|p| match &p.resource {
            Resource::AnyResource => true,
            Resource::Cluster => false,
            Resource::Namespace { db: pdb, collection } => {
                if pdb.is_empty() {
                    // A collection name matches that collection in every database.
                    !collection.is_empty() || p.resource.matches(Target::Database(db))
                } else {
                    pdb == db
                }
            }
        })
    }

    /// Whether any privilege applies to this collection (any action): listCollections'
    /// `authorizedCollections` rule.
    pub fn touches_collection(&self, db: &str, collection: &str) -> bool {
        self.privileges.iter().any(|p| p.resource.matches(Target::Collection { db, collection }))
    }

    /// The privileges as documents, one per resource, in a stable order (first appearance).
    pub fn to_documents(&self) -> Vec<RawDocumentBuf> {
        self.privileges.iter().map(Privilege::to_document).collect()
    }

    /// [`PrivilegeSet::to_documents`] as a BSON array.
    pub fn to_array(&self) -> bson::RawArrayBuf {
        let mut out = bson::RawArrayBuf::new();
        for p in self.to_documents() {
            out.push(p);
        }
        out
    }

    /// The merged privileges.
    pub fn privileges(&self) -> &[Privilege] {
        &self.privileges
    }

    pub fn into_privileges(self) -> Vec<Privilege> {
        self.privileges
    }

    pub fn is_empty(&self) -> bool {
        self.privileges.is_empty()
    }

    pub fn len(&self) -> usize {
        self.privileges.len()
    }
}

impl FromIterator<Privilege> for PrivilegeSet {
    fn from_iter<I: IntoIterator<Item = Privilege>>(iter: I) -> PrivilegeSet {
        let mut set = PrivilegeSet::new();
        set.extend(iter);
        set
    }
}

impl Extend<Privilege> for PrivilegeSet {
    fn extend<I: IntoIterator<Item = Privilege>>(&mut self, iter: I) {
        PrivilegeSet::extend(self, iter);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::action::Action as A;
    use bson::{rawdoc, RawArrayBuf};
    use documentdb_errors::ErrorCode;

    fn coll<'a>(db: &'a str, collection: &'a str) -> Target<'a> {
        Target::Collection { db, collection }
    }

    fn parse_err(doc: RawDocumentBuf) -> String {
        let err = Privilege::parse(&doc).unwrap_err();
        assert_eq!(err.code, ErrorCode::FailedToParse, "{err:?}");
        err.message
    }

    #[test]
    fn privilege_parse_and_to_document_round_trip() {
        // createRole's privileges field: https://www.mongodb.com/docs/manual/reference/command/createRole/
        let doc = rawdoc! {
            "resource": { "db": "products", "collection": "" },
            "actions": ["update", "find", "insert", "find"],
        };
        let p = Privilege::parse(&doc).unwrap();
        assert_eq!(p, Privilege::new(Resource::database("products"), [A::Find, A::Insert, A::Update]));
        // Actions come back sorted by name and without duplicates.
        let expected = rawdoc! {
            "resource": { "db": "products", "collection": "" },
            "actions": ["find", "insert", "update"],
        };
        assert_eq!(p.to_document(), expected);
        assert_eq!(Privilege::parse(&expected).unwrap(), p);

        let cluster =
            Privilege::parse(&rawdoc! { "resource": { "cluster": true }, "actions": ["killop", "inprog"] }).unwrap();
        assert_eq!(cluster.to_document(), rawdoc! { "resource": { "cluster": true }, "actions": ["inprog", "killop"] });
    }

    #[test]
    fn privilege_parse_ignores_unknown_fields_like_mongodb() {
        let p = Privilege::parse(&rawdoc! { "resource": { "anyResource": true }, "actions": ["anyAction"], "x": 1 })
            .unwrap();
        assert_eq!(p, Privilege::new(Resource::AnyResource, [A::AnyAction]));
    }

    #[test]
    fn privilege_parse_errors_are_mongodbs() {
        assert_eq!(
            parse_err(rawdoc! { "resource": { "db": "a", "collection": "" }, "actions": ["find", "bogus", "nope"] }),
            "Unrecognized action privilege strings: bogus,nope"
        );
        assert_eq!(
            parse_err(rawdoc! { "resource": { "db": "a", "collection": "" }, "actions": [] }),
            "'actions' field of privilege resource must not be empty"
        );
        assert_eq!(
            parse_err(rawdoc! { "actions": ["find"] }),
            "BSON field 'privilege.resource' is missing but a required field"
        );
        assert_eq!(
            parse_err(rawdoc! { "resource": { "cluster": true } }),
            "BSON field 'privilege.actions' is missing but a required field"
        );
        assert_eq!(
            parse_err(rawdoc! { "resource": "cluster", "actions": ["find"] }),
            "BSON field 'privilege.resource' is the wrong type 'string', expected type 'object'"
        );
        assert_eq!(
            parse_err(rawdoc! { "resource": { "cluster": true }, "actions": "find" }),
            "BSON field 'privilege.actions' is the wrong type 'string', expected type 'array'"
        );
        assert_eq!(
            parse_err(rawdoc! { "resource": { "cluster": true }, "actions": ["find", 1] }),
            "BSON field 'privilege.actions.1' is the wrong type 'int', expected type 'string'"
        );
        assert_eq!(
            parse_err(rawdoc! { "resource": { "cluster": true, "db": "a" }, "actions": ["find"] }),
            "resource: {cluster: true} conflicts with resource type 'db'"
        );
        // Field types are checked before the resource's shape, the shape before the actions.
        assert_eq!(
            parse_err(rawdoc! { "resource": { "cluster": true, "db": "a" }, "actions": [2] }),
            "BSON field 'privilege.actions.0' is the wrong type 'int', expected type 'string'"
        );
        assert_eq!(
            parse_err(rawdoc! { "resource": { "db": "a" }, "actions": ["bogus"] }),
            "resource pattern must contain 'collection' or 'systemBuckets' specifier"
        );
    }

    #[test]
    fn privilege_arrays_must_hold_documents() {
        let mut array = RawArrayBuf::new();
        array.push(rawdoc! { "resource": { "cluster": true }, "actions": ["top"] });
        assert_eq!(parse_privileges(&array).unwrap(), vec![Privilege::new(Resource::Cluster, [A::Top])]);
        array.push("find");
        let err = parse_privileges(&array).unwrap_err();
        assert_eq!(err.code, ErrorCode::FailedToParse);
        assert_eq!(err.message, "Elements in privilege arrays must be objects");
    }

    #[test]
    fn any_action_allows_every_action() {
        let s: PrivilegeSet = [Privilege::new(Resource::database("a"), [A::AnyAction])].into_iter().collect();
        assert!(s.allows(A::Find, coll("a", "c")));
        assert!(s.allows(A::DropDatabase, Target::Database("a")));
        assert!(!s.allows(A::Find, coll("b", "c")));
    }

    #[test]
    fn privilege_set_merges_by_resource_in_first_appearance_order() {
        let mut s = PrivilegeSet::new();
        s.add(Privilege::new(Resource::database("a"), [A::Insert]));
        s.add(Privilege::new(Resource::Cluster, [A::ServerStatus]));
        s.add(Privilege::new(Resource::database("a"), [A::Find]));
        s.add(Privilege::new(Resource::namespace("b", "c"), []));
        assert_eq!(s.len(), 2);
        assert_eq!(
            s.to_documents(),
            vec![
                rawdoc! { "resource": { "db": "a", "collection": "" }, "actions": ["find", "insert"] },
                rawdoc! { "resource": { "cluster": true }, "actions": ["serverStatus"] },
            ]
        );

        s.remove(&Privilege::new(Resource::database("a"), [A::Insert]));
        assert_eq!(s.privileges()[0], Privilege::new(Resource::database("a"), [A::Find]));
        s.remove(&Privilege::new(Resource::database("a"), [A::Find, A::Update]));
        assert_eq!(s.privileges(), &[Privilege::new(Resource::Cluster, [A::ServerStatus])]);
    }

    #[test]
    fn touches_database_follows_mongodbs_authorized_databases_rule() {
        let set = |resource: Resource| -> PrivilegeSet { [Privilege::new(resource, [A::Find])].into_iter().collect() };

        let s = set(Resource::database("a"));
        assert!(s.touches_database("a"));
        assert!(!s.touches_database("b"));

        let s = set(Resource::namespace("a", "c"));
        assert!(s.touches_database("a"));
        assert!(!s.touches_database("b"));

        // A collection name applies in every database.
        let s = set(Resource::namespace("", "c"));
        assert!(s.touches_database("a"));
        assert!(s.touches_database("local"));

        // The all-databases wildcard leaves out local and config.
        let s = set(Resource::any_normal());
        assert!(s.touches_database("a"));
        assert!(!s.touches_database("local"));
        assert!(!s.touches_database("config"));

        assert!(set(Resource::AnyResource).touches_database("config"));
        assert!(!set(Resource::Cluster).touches_database("a"));
        assert!(!PrivilegeSet::new().touches_database("a"));
    }

    #[test]
    fn touches_collection_is_any_action_on_that_collection() {
        let s: PrivilegeSet = [
            Privilege::new(Resource::namespace("a", "c"), [A::Insert]),
            Privilege::new(Resource::database("b"), [A::CollStats]),
            Privilege::new(Resource::Cluster, [A::ListDatabases]),
        ]
        .into_iter()
        .collect();
        assert!(s.touches_collection("a", "c"));
        assert!(!s.touches_collection("a", "d"));
        assert!(s.touches_collection("b", "anything"));
        assert!(!s.touches_collection("b", "system.profile"));
        assert!(!s.touches_collection("c", "c"));
    }

    #[test]
    fn covers_checks_grantable_privileges_by_pattern() {
        let s: PrivilegeSet = [Privilege::new(Resource::any_normal(), [A::Find, A::Insert])].into_iter().collect();
        assert!(s.covers(&Privilege::new(Resource::database("a"), [A::Find])));
        assert!(s.covers(&Privilege::new(Resource::any_normal(), [A::Find, A::Insert])));
        assert!(!s.covers(&Privilege::new(Resource::database("a"), [A::Find, A::Update])));
        assert!(!s.covers(&Privilege::new(Resource::database("local"), [A::Find])));
        assert!(!s.covers(&Privilege::new(Resource::Cluster, [A::Find])));
    }
}
