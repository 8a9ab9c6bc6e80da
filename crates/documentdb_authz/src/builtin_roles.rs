//! MongoDB's built-in roles and their privileges.
//!
//! The tables are the manual's "Built-In Roles" page
//! (https://www.mongodb.com/docs/manual/reference/built-in-roles/, 7.0), completed where the
//! page summarizes with the server's own role definitions (MongoDB's builtin_roles table,
//! which the page is written from): for example the exact actions granted on `local` and
//! `config` by clusterManager, or the search-index actions of read/readWrite/dbAdmin.
//!
//! Left out on purpose: privileges on time-series `system.buckets.*` collections (no such
//! collections exist in this product) and the serverless-only grants (`useTenant`, change
//! collections).

use crate::action::Action;
use crate::privilege::{Privilege, PrivilegeSet};
use crate::resource::Resource;
use crate::role_name::RoleName;

use Action as A;

/// MongoDB's built-in roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BuiltinRole {
    Read,
    ReadWrite,
    DbAdmin,
    DbOwner,
    UserAdmin,
    ClusterMonitor,
    ClusterManager,
    HostManager,
    ClusterAdmin,
    Backup,
    Restore,
    ReadAnyDatabase,
    ReadWriteAnyDatabase,
    UserAdminAnyDatabase,
    DbAdminAnyDatabase,
    Root,
}

const ALL_ROLES: &[BuiltinRole] = &[
    BuiltinRole::Read,
    BuiltinRole::ReadWrite,
    BuiltinRole::DbAdmin,
    BuiltinRole::DbOwner,
    BuiltinRole::UserAdmin,
    BuiltinRole::ClusterMonitor,
    BuiltinRole::ClusterManager,
    BuiltinRole::HostManager,
    BuiltinRole::ClusterAdmin,
    BuiltinRole::Backup,
    BuiltinRole::Restore,
    BuiltinRole::ReadAnyDatabase,
    BuiltinRole::ReadWriteAnyDatabase,
    BuiltinRole::UserAdminAnyDatabase,
    BuiltinRole::DbAdminAnyDatabase,
    BuiltinRole::Root,
];

/// read: the actions on its database's normal collections and on `system.js`.
const READ: &[Action] = &[
    A::ChangeStream,
    A::CollStats,
    A::DbHash,
    A::DbStats,
    A::Find,
    A::KillCursors,
    A::ListCollections,
    A::ListIndexes,
    A::ListSearchIndexes,
    A::PlanCacheRead,
];

/// readWrite: what it adds to read.
const WRITE: &[Action] = &[
    A::CleanupStructuredEncryptionData,
    A::CompactStructuredEncryptionData,
    A::ConvertToCapped,
    A::CreateCollection,
    A::CreateIndex,
    A::CreateSearchIndexes,
    A::DropCollection,
    A::DropIndex,
    A::DropSearchIndex,
    A::Insert,
    A::Remove,
    A::RenameCollectionSameDB,
    A::Update,
    A::UpdateSearchIndex,
];

/// dbAdmin on its database. No `find`, `insert`, `update` or `remove`: dbAdmin administers
/// collections without reading or writing their documents.
const DB_ADMIN: &[Action] = &[
    A::Analyze,
    A::BypassDocumentValidation,
    A::CollMod,
    A::CollStats,
    A::Compact,
    A::ConfigureQueryAnalyzer,
    A::ConvertToCapped,
    A::CreateCollection,
    A::CreateIndex,
    A::CreateSearchIndexes,
    A::DbStats,
    A::DropCollection,
    A::DropDatabase,
    A::DropIndex,
    A::DropSearchIndex,
    A::EnableProfiler,
    A::ListCollections,
    A::ListIndexes,
    A::ListSearchIndexes,
    A::PlanCacheIndexFilter,
    A::PlanCacheRead,
    A::PlanCacheWrite,
    A::ReIndex,
    A::RenameCollectionSameDB,
    A::StorageDetails,
    A::UpdateSearchIndex,
    A::Validate,
];

/// dbAdmin on `system.profile`, besides the read actions.
const PROFILE_ADMIN: &[Action] = &[A::ConvertToCapped, A::CreateCollection, A::DropCollection];

/// userAdmin on its database.
const USER_ADMIN: &[Action] = &[
    A::ChangeCustomData,
    A::ChangePassword,
    A::CreateRole,
    A::CreateUser,
    A::DropRole,
    A::DropUser,
    A::GrantRole,
    A::RevokeRole,
    A::SetAuthenticationRestriction,
    A::ViewRole,
    A::ViewUser,
];

/// userAdminAnyDatabase on the user and role collections of admin, besides the read actions.
const AUTH_COLLECTION_INDEXES: &[Action] = &[A::CreateIndex, A::CreateSearchIndexes, A::DropIndex, A::DropSearchIndex];

const CLUSTER_MONITOR_CLUSTER: &[Action] = &[
    A::AllCollectionStats,
    A::ConnPoolStats,
    A::GetCmdLineOpts,
    A::GetDefaultRWConcern,
    A::GetLog,
    A::GetParameter,
    A::GetShardMap,
    A::HostInfo,
    A::Inprog,
    A::ListDatabases,
    A::ListSampledQueries,
    A::ListSessions,
    A::ListShards,
    A::Netstat,
    A::OperationMetrics,
    A::ReplSetGetConfig,
    A::ReplSetGetStatus,
    A::ServerStatus,
    A::ShardedDataDistribution,
    A::ShardingState,
    A::Top,
    A::UseUUID,
];

const CLUSTER_MONITOR_DB: &[Action] =
    &[A::CollStats, A::DbStats, A::GetDatabaseVersion, A::GetShardVersion, A::IndexStats];

const HOST_MANAGER_CLUSTER: &[Action] = &[
    A::ApplicationMessage,
    A::AuditConfigure,
    A::ConnPoolSync,
    A::DropConnections,
    A::FlushRouterConfig,
    A::Fsync,
    A::InvalidateUserCache,
    A::KillAnyCursor,
    A::KillAnySession,
    A::Killop,
    A::LogRotate,
    A::OidReset,
    A::OidcListKeys,
    A::OidcRefreshKeys,
    A::ReplSetResizeOplog,
    A::Resync,
    A::RotateCertificates,
    A::SetParameter,
    A::Shutdown,
    A::Touch,
    A::TrafficRecord,
    A::Unlock,
];

const CLUSTER_MANAGER_CLUSTER: &[Action] = &[
    A::AddShard,
    A::AppendOplogNote,
    A::ApplicationMessage,
    A::CheckMetadataConsistency,
    A::CleanupOrphaned,
    A::FlushRouterConfig,
    A::GetChangeStreamState,
    A::GetClusterParameter,
    A::GetDefaultRWConcern,
    A::ListSessions,
    A::ListShards,
    A::RemoveShard,
    A::ReplSetConfigure,
    A::ReplSetGetConfig,
    A::ReplSetGetStatus,
    A::ReplSetStateChange,
    A::Resync,
    A::RunTenantMigration,
    A::SetChangeStreamState,
    A::SetClusterParameter,
    A::SetDefaultRWConcern,
    A::SetFeatureCompatibilityVersion,
    A::TransitionFromDedicatedConfigServer,
    A::TransitionToDedicatedConfigServer,
];

const CLUSTER_MANAGER_DB: &[Action] = &[
    A::AnalyzeShardKey,
    A::ClearJumboFlag,
    A::ConfigureQueryAnalyzer,
    A::EnableSharding,
    A::MoveChunk,
    A::RefineCollectionShardKey,
    A::ReshardCollection,
    A::SplitChunk,
    A::SplitVector,
];

const CRUD_WRITE: &[Action] = &[A::Insert, A::Remove, A::Update];

/// restore's write actions (on normal collections, `local`, `config` and the auth collections).
const RESTORE_WRITE: &[Action] = &[
    A::BypassDocumentValidation,
    A::CollMod,
    A::ConvertToCapped,
    A::CreateCollection,
    A::CreateIndex,
    A::CreateSearchIndexes,
    A::DropCollection,
    A::Insert,
    A::UpdateSearchIndex,
];

fn ns(db: &str, collection: &str) -> Resource {
    Resource::namespace(db, collection)
}

/// Adds `actions` (several groups concatenated) on `resource`.
fn grant(out: &mut PrivilegeSet, resource: Resource, actions: &[&[Action]]) {
    out.add(Privilege::new(resource, actions.iter().flat_map(|group| group.iter().copied())));
}

impl BuiltinRole {
    /// The role named `name` (MongoDB's spelling), whatever database it would be on.
    pub fn from_name(name: &str) -> Option<BuiltinRole> {
        ALL_ROLES.iter().copied().find(|r| r.name() == name)
    }

    pub fn name(self) -> &'static str {
        match self {
            BuiltinRole::Read => "read",
            BuiltinRole::ReadWrite => "readWrite",
            BuiltinRole::DbAdmin => "dbAdmin",
            BuiltinRole::DbOwner => "dbOwner",
            BuiltinRole::UserAdmin => "userAdmin",
            BuiltinRole::ClusterMonitor => "clusterMonitor",
            BuiltinRole::ClusterManager => "clusterManager",
            BuiltinRole::HostManager => "hostManager",
            BuiltinRole::ClusterAdmin => "clusterAdmin",
            BuiltinRole::Backup => "backup",
            BuiltinRole::Restore => "restore",
            BuiltinRole::ReadAnyDatabase => "readAnyDatabase",
            BuiltinRole::ReadWriteAnyDatabase => "readWriteAnyDatabase",
            BuiltinRole::UserAdminAnyDatabase => "userAdminAnyDatabase",
            BuiltinRole::DbAdminAnyDatabase => "dbAdminAnyDatabase",
            BuiltinRole::Root => "root",
        }
    }

    pub fn all() -> &'static [BuiltinRole] {
        ALL_ROLES
    }

    /// True for the roles that exist only on the admin database (the *AnyDatabase, cluster*,
    /// hostManager, backup, restore and root roles); the database user and database
    /// administration roles exist on every database.
    pub fn admin_only(self) -> bool {
        !matches!(
            self,
            BuiltinRole::Read
                | BuiltinRole::ReadWrite
                | BuiltinRole::DbAdmin
                | BuiltinRole::DbOwner
                | BuiltinRole::UserAdmin
        )
    }

    /// The built-in role `name` refers to, if any: the name of a built-in role, on a database
    /// where that role exists (every database but `$external` for the database roles, only
    /// `admin` for the others), as MongoDB's `isBuiltinRole` decides.
    pub fn lookup(name: &RoleName) -> Option<BuiltinRole> {
        let role = BuiltinRole::from_name(&name.role)?;
        let exists = if role.admin_only() { name.db == "admin" } else { !name.db.is_empty() && name.db != "$external" };
        exists.then_some(role)
    }

    /// The built-in roles that exist on database `db`, in [`BuiltinRole::all`] order (what
    /// rolesInfo lists with `showBuiltinRoles`).
    pub fn on_database(db: &str) -> Vec<BuiltinRole> {
        ALL_ROLES.iter().copied().filter(|r| BuiltinRole::lookup(&RoleName::new(r.name(), db)).is_some()).collect()
    }

    /// The built-in roles this role is made of, as the manual describes it: dbOwner combines
    /// readWrite, dbAdmin and userAdmin; clusterAdmin combines clusterManager, clusterMonitor
    /// and hostManager; root combines readWriteAnyDatabase, dbAdminAnyDatabase,
    /// userAdminAnyDatabase, clusterAdmin, restore and backup. [`BuiltinRole::privileges`]
    /// already includes theirs.
    pub fn inherits(self) -> &'static [BuiltinRole] {
        match self {
            BuiltinRole::DbOwner => &[BuiltinRole::ReadWrite, BuiltinRole::DbAdmin, BuiltinRole::UserAdmin],
            BuiltinRole::ClusterAdmin => {
                &[BuiltinRole::ClusterManager, BuiltinRole::ClusterMonitor, BuiltinRole::HostManager]
            }
            BuiltinRole::Root => &[
                BuiltinRole::ReadWriteAnyDatabase,
                BuiltinRole::DbAdminAnyDatabase,
                BuiltinRole::UserAdminAnyDatabase,
                BuiltinRole::ClusterAdmin,
                BuiltinRole::Restore,
                BuiltinRole::Backup,
            ],
            _ => &[],
        }
    }

    /// The role's privileges when defined on database `db`, inherited roles flattened in and
    /// privileges on the same resource merged. The admin-only roles ignore `db` (they exist
    /// only on admin, and their grants name their databases themselves).
    pub fn privileges(self, db: &str) -> Vec<Privilege> {
        let mut out = PrivilegeSet::new();
        self.add_privileges(db, &mut out);
        out.into_privileges()
    }

    /// Adds the role's privileges to `out`.
    pub fn add_privileges(self, db: &str, out: &mut PrivilegeSet) {
        match self {
            BuiltinRole::Read => {
                grant(out, ns(db, ""), &[READ]);
                grant(out, ns(db, "system.js"), &[READ]);
            }
            BuiltinRole::ReadWrite => {
                grant(out, ns(db, ""), &[READ, WRITE]);
                grant(out, ns(db, "system.js"), &[READ, WRITE]);
            }
            BuiltinRole::DbAdmin => {
                grant(out, ns(db, ""), &[DB_ADMIN]);
                grant(out, ns(db, "system.profile"), &[READ, PROFILE_ADMIN]);
            }
            BuiltinRole::UserAdmin => grant(out, ns(db, ""), &[USER_ADMIN]),
            BuiltinRole::DbOwner | BuiltinRole::ClusterAdmin | BuiltinRole::Root => {
                for role in self.inherits() {
                    role.add_privileges(db, out);
                }
                match self {
                    BuiltinRole::ClusterAdmin => {
                        // The manual: dropDatabase on every database, on top of the three roles.
                        grant(out, Resource::any_normal(), &[&[A::DropDatabase]]);
                        grant(out, Resource::AnyResource, &[&[A::ExportCollection, A::ImportCollection]]);
                    }
                    BuiltinRole::Root => {
                        // validate reaches system collections too.
                        grant(out, Resource::AnyResource, &[&[A::Validate]]);
                        grant(out, ns("config", "system.preimages"), &[&[A::Find, A::Remove]]);
                    }
                    _ => {}
                }
            }
            BuiltinRole::ReadAnyDatabase => {
                grant(out, Resource::any_normal(), &[READ]);
                grant(out, Resource::Cluster, &[&[A::ListDatabases]]);
                grant(out, ns("", "system.js"), &[READ]);
            }
            BuiltinRole::ReadWriteAnyDatabase => {
                BuiltinRole::ReadAnyDatabase.add_privileges(db, out);
                grant(out, Resource::any_normal(), &[READ, WRITE]);
                grant(out, ns("", "system.js"), &[READ, WRITE]);
            }
            BuiltinRole::UserAdminAnyDatabase => {
                grant(out, Resource::any_normal(), &[USER_ADMIN, &[A::ListCachedAndActiveUsers]]);
                // The any-database pattern leaves local and config out; user administration
                // there is granted explicitly.
                grant(out, Resource::database("local"), &[USER_ADMIN]);
                grant(out, Resource::database("config"), &[USER_ADMIN]);
                grant(
                    out,
                    Resource::Cluster,
                    &[&[A::AuthSchemaUpgrade, A::InvalidateUserCache, A::ListDatabases, A::ViewUser]],
                );
                grant(out, ns("admin", "system.users"), &[READ, AUTH_COLLECTION_INDEXES]);
                grant(out, ns("admin", "system.roles"), &[READ, AUTH_COLLECTION_INDEXES]);
                grant(out, ns("", "system.users"), &[READ]);
                grant(out, ns("admin", "system.version"), &[READ]);
                grant(out, ns("admin", "system.backup_users"), &[READ]);
            }
            BuiltinRole::DbAdminAnyDatabase => {
                grant(out, Resource::Cluster, &[&[A::ApplyOps, A::ListDatabases]]);
                grant(out, Resource::any_normal(), &[DB_ADMIN]);
                grant(out, ns("", "system.profile"), &[READ, PROFILE_ADMIN]);
            }
            BuiltinRole::ClusterMonitor => {
                grant(out, Resource::Cluster, &[CLUSTER_MONITOR_CLUSTER]);
                grant(out, Resource::any_normal(), &[CLUSTER_MONITOR_DB]);
                for special in ["config", "local"] {
                    // read on config and local (not reached by the any-database pattern).
                    BuiltinRole::Read.add_privileges(special, out);
                    grant(out, Resource::database(special), &[CLUSTER_MONITOR_DB]);
                }
                grant(out, ns("config", "system.sessions"), &[CLUSTER_MONITOR_DB]);
                for coll in ["system.replset", "replset.election", "replset.minvalid"] {
                    grant(out, ns("local", coll), &[&[A::Find]]);
                }
                grant(out, ns("", "system.profile"), &[&[A::Find]]);
            }
            BuiltinRole::HostManager => {
                grant(out, Resource::Cluster, &[HOST_MANAGER_CLUSTER]);
                grant(out, Resource::any_normal(), &[&[A::KillCursors]]);
            }
            BuiltinRole::ClusterManager => {
                grant(out, Resource::Cluster, &[CLUSTER_MANAGER_CLUSTER]);
                grant(out, Resource::any_normal(), &[CLUSTER_MANAGER_DB]);
                BuiltinRole::Read.add_privileges("config", out);
                for special in ["config", "local"] {
                    grant(out, Resource::database(special), &[CLUSTER_MANAGER_DB, CRUD_WRITE]);
                }
                grant(out, ns("local", "system.replset"), &[READ]);
                grant(out, ns("local", "system.healthlog"), &[READ]);
                grant(out, ns("local", "replset.election"), &[CRUD_WRITE]);
                grant(out, ns("local", "replset.minvalid"), &[CRUD_WRITE]);
                grant(out, Resource::AnyResource, &[&[A::DbCheck]]);
            }
            BuiltinRole::Backup => {
                grant(
                    out,
                    Resource::AnyResource,
                    &[&[A::CollStats, A::ListCollections, A::ListIndexes, A::ListSearchIndexes]],
                );
                // Unlike readAnyDatabase, backup reads local and config too (explicitly below).
                grant(out, Resource::any_normal(), &[&[A::Find]]);
                grant(
                    out,
                    Resource::Cluster,
                    &[&[
                        A::AppendOplogNote,
                        A::GetParameter,
                        A::ListDatabases,
                        A::ServerStatus,
                        A::SetUserWriteBlockMode,
                        A::UseUUID,
                    ]],
                );
                grant(out, Resource::database("config"), &[&[A::Find]]);
                grant(out, Resource::database("local"), &[&[A::Find]]);
                grant(out, ns("local", "replset.election"), &[&[A::Find]]);
                grant(out, ns("local", "replset.minvalid"), &[&[A::Find]]);
                for coll in ["system.js", "system.users", "system.profile"] {
                    grant(out, ns("", coll), &[&[A::Find]]);
                }
                for coll in ["system.backup_users", "system.roles", "system.version"] {
                    grant(out, ns("admin", coll), &[&[A::Find]]);
                }
                grant(out, ns("config", "settings"), &[&[A::Find, A::Insert, A::Update]]);
            }
            BuiltinRole::Restore => {
                grant(
                    out,
                    Resource::Cluster,
                    &[&[
                        A::ApplyOps,
                        A::BypassWriteBlockingMode,
                        A::ForceUUID,
                        A::GetParameter,
                        A::SetUserWriteBlockMode,
                        A::UseUUID,
                    ]],
                );
                grant(out, Resource::database("local"), &[RESTORE_WRITE]);
                grant(out, Resource::database("config"), &[RESTORE_WRITE]);
                for coll in ["system.replset", "replset.election", "replset.minvalid"] {
                    grant(out, ns("local", coll), &[RESTORE_WRITE]);
                }
                grant(out, Resource::AnyResource, &[&[A::ListCollections]]);
                grant(out, Resource::any_normal(), &[RESTORE_WRITE, USER_ADMIN]);
                grant(out, ns("", "system.js"), &[RESTORE_WRITE]);
                grant(out, ns("admin", "tempusers"), &[&[A::Find]]);
                grant(out, ns("admin", "temproles"), &[&[A::Find]]);
                grant(out, ns("admin", "system.backup_users"), &[RESTORE_WRITE]);
                grant(out, ns("admin", "system.version"), &[RESTORE_WRITE, &[A::Find]]);
                grant(out, ns("", "system.users"), &[RESTORE_WRITE, &[A::Find, A::Remove, A::Update]]);
                grant(out, ns("admin", "system.roles"), &[&[A::CreateIndex]]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::Target;

    fn set(role: BuiltinRole, db: &str) -> PrivilegeSet {
        role.privileges(db).into_iter().collect()
    }

    fn coll<'a>(db: &'a str, collection: &'a str) -> Target<'a> {
        Target::Collection { db, collection }
    }

    #[test]
    fn every_builtin_role_name_round_trips() {
        assert_eq!(BuiltinRole::all().len(), 16);
        for role in BuiltinRole::all() {
            assert_eq!(BuiltinRole::from_name(role.name()), Some(*role));
        }
        assert_eq!(BuiltinRole::from_name("Read"), None);
        assert_eq!(BuiltinRole::from_name("enableShardingX"), None);
    }

    #[test]
    fn admin_only_roles_exist_only_on_admin() {
        // "MongoDB provides all other built-in roles only on the admin database."
        let per_db = ["read", "readWrite", "dbAdmin", "dbOwner", "userAdmin"];
        for role in BuiltinRole::all() {
            assert_eq!(role.admin_only(), !per_db.contains(&role.name()), "{role:?}");
            assert_eq!(BuiltinRole::lookup(&RoleName::new(role.name(), "admin")), Some(*role));
            assert_eq!(
                BuiltinRole::lookup(&RoleName::new(role.name(), "app")).is_some(),
                !role.admin_only(),
                "{role:?}"
            );
            assert_eq!(BuiltinRole::lookup(&RoleName::new(role.name(), "$external")), None);
        }
        assert_eq!(BuiltinRole::on_database("app").len(), 5);
        assert_eq!(BuiltinRole::on_database("admin").len(), 16);
        assert_eq!(BuiltinRole::lookup(&RoleName::new("nope", "admin")), None);
    }

    #[test]
    fn every_role_has_privileges_and_no_empty_ones() {
        for role in BuiltinRole::all() {
            let privileges = role.privileges("app");
            assert!(!privileges.is_empty(), "{role:?}");
            assert!(privileges.iter().all(|p| !p.actions.is_empty()));
            // Merged: one entry per resource.
            let mut resources: Vec<_> = privileges.iter().map(|p| &p.resource).collect();
            let before = resources.len();
            resources.sort();
            resources.dedup();
            assert_eq!(resources.len(), before, "{role:?}");
        }
    }

    #[test]
    fn inherited_roles_as_the_manual_describes_them() {
        assert_eq!(
            BuiltinRole::DbOwner.inherits(),
            &[BuiltinRole::ReadWrite, BuiltinRole::DbAdmin, BuiltinRole::UserAdmin]
        );
        assert_eq!(BuiltinRole::Read.inherits(), &[] as &[BuiltinRole]);
        // A composite role holds every privilege of the roles it combines.
        for role in BuiltinRole::all() {
            let mine = set(*role, "app");
            for inherited in role.inherits() {
                for p in inherited.privileges("app") {
                    assert!(mine.covers(&p), "{role:?} lacks {p:?} of {inherited:?}");
                }
            }
        }
    }

    // The matrix below checks a few representative privileges of each role against the
    // manual's "Built-In Roles" page (https://www.mongodb.com/docs/manual/reference/built-in-roles/).

    #[test]
    fn manual_read_role() {
        let s = set(BuiltinRole::Read, "app1");
        assert!(s.allows(A::Find, coll("app1", "c")));
        assert!(s.allows(A::ListCollections, Target::Database("app1")));
        assert!(s.allows(A::ListIndexes, coll("app1", "c")));
        assert!(s.allows(A::ChangeStream, coll("app1", "c")));
        assert!(s.allows(A::Find, coll("app1", "system.js")));
        assert!(!s.allows(A::Insert, coll("app1", "c")));
        assert!(!s.allows(A::Find, coll("app2", "c")));
        assert!(!s.allows(A::Find, coll("app1", "system.users")));
        assert!(!s.allows(A::ListDatabases, Target::Cluster));
    }

    #[test]
    fn manual_read_write_role() {
        let s = set(BuiltinRole::ReadWrite, "app1");
        for action in [A::Find, A::Insert, A::Update, A::Remove, A::CreateIndex, A::DropIndex, A::DropCollection] {
            assert!(s.allows(action, coll("app1", "c")), "{action}");
        }
        assert!(s.allows(A::CreateCollection, Target::Database("app1")));
        assert!(s.allows(A::RenameCollectionSameDB, coll("app1", "c")));
        assert!(s.allows(A::Insert, coll("app1", "system.js")));
        assert!(!s.allows(A::CollMod, coll("app1", "c")));
        assert!(!s.allows(A::DropDatabase, Target::Database("app1")));
        assert!(!s.allows(A::BypassDocumentValidation, coll("app1", "c")));
        assert!(!s.allows(A::Insert, coll("app2", "c")));
    }

    #[test]
    fn manual_db_admin_role() {
        let s = set(BuiltinRole::DbAdmin, "app1");
        for action in [A::DropCollection, A::CreateIndex, A::CollMod, A::CollStats, A::Validate, A::Compact] {
            assert!(s.allows(action, coll("app1", "c")), "{action}");
        }
        assert!(s.allows(A::DropDatabase, Target::Database("app1")));
        assert!(s.allows(A::EnableProfiler, Target::Database("app1")));
        // No full read access on normal collections.
        assert!(!s.allows(A::Find, coll("app1", "c")));
        assert!(!s.allows(A::Insert, coll("app1", "c")));
        assert!(!s.allows(A::Update, coll("app1", "c")));
        // But find on system.profile.
        assert!(s.allows(A::Find, coll("app1", "system.profile")));
        assert!(s.allows(A::DropCollection, coll("app1", "system.profile")));
        assert!(!s.allows(A::DropDatabase, Target::Database("app2")));
    }

    #[test]
    fn manual_user_admin_role() {
        let s = set(BuiltinRole::UserAdmin, "app1");
        for action in [A::CreateUser, A::DropUser, A::GrantRole, A::RevokeRole, A::CreateRole, A::ViewUser] {
            assert!(s.allows(action, Target::Database("app1")), "{action}");
            assert!(!s.allows(action, Target::Database("app2")), "{action}");
        }
        assert!(!s.allows(A::Find, coll("app1", "c")));
    }

    #[test]
    fn manual_db_owner_role() {
        let s = set(BuiltinRole::DbOwner, "app1");
        assert!(s.allows(A::Find, coll("app1", "c")));
        assert!(s.allows(A::CollMod, coll("app1", "c")));
        assert!(s.allows(A::DropDatabase, Target::Database("app1")));
        assert!(s.allows(A::CreateUser, Target::Database("app1")));
        assert!(!s.allows(A::Find, coll("app2", "c")));
        assert!(!s.allows(A::ServerStatus, Target::Cluster));
    }

    #[test]
    fn manual_read_any_database_role() {
        let s = set(BuiltinRole::ReadAnyDatabase, "admin");
        assert!(s.allows(A::Find, coll("app1", "c")));
        assert!(s.allows(A::Find, coll("app2", "c")));
        assert!(s.allows(A::ListDatabases, Target::Cluster));
        assert!(!s.allows(A::Insert, coll("app1", "c")));
        // The manual: does not apply to the local and config databases.
        assert!(!s.allows(A::Find, coll("local", "oplog.rs")));
        assert!(!s.allows(A::Find, coll("config", "settings")));
    }

    #[test]
    fn manual_read_write_any_database_role() {
        let s = set(BuiltinRole::ReadWriteAnyDatabase, "admin");
        assert!(s.allows(A::Insert, coll("app1", "c")));
        assert!(s.allows(A::DropCollection, coll("app2", "c")));
        assert!(s.allows(A::ListDatabases, Target::Cluster));
        assert!(!s.allows(A::DropDatabase, Target::Database("app1")));
        assert!(!s.allows(A::Insert, coll("local", "c")));
    }

    #[test]
    fn manual_user_admin_any_database_role() {
        let s = set(BuiltinRole::UserAdminAnyDatabase, "admin");
        assert!(s.allows(A::CreateUser, Target::Database("app1")));
        assert!(s.allows(A::GrantRole, Target::Database("admin")));
        assert!(s.allows(A::CreateUser, Target::Database("local")));
        assert!(s.allows(A::ListDatabases, Target::Cluster));
        assert!(s.allows(A::InvalidateUserCache, Target::Cluster));
        assert!(s.allows(A::AuthSchemaUpgrade, Target::Cluster));
        assert!(!s.allows(A::Find, coll("app1", "c")));
    }

    #[test]
    fn manual_db_admin_any_database_role() {
        let s = set(BuiltinRole::DbAdminAnyDatabase, "admin");
        assert!(s.allows(A::DropDatabase, Target::Database("app1")));
        assert!(s.allows(A::CollMod, coll("app2", "c")));
        assert!(s.allows(A::ListDatabases, Target::Cluster));
        assert!(!s.allows(A::Find, coll("app1", "c")));
    }

    #[test]
    fn manual_cluster_monitor_role() {
        let s = set(BuiltinRole::ClusterMonitor, "admin");
        for action in [A::ServerStatus, A::Inprog, A::GetLog, A::HostInfo, A::Top, A::ReplSetGetStatus] {
            assert!(s.allows(action, Target::Cluster), "{action}");
        }
        assert!(s.allows(A::CollStats, coll("app1", "c")));
        assert!(s.allows(A::DbStats, Target::Database("app1")));
        assert!(s.allows(A::Find, coll("local", "oplog.rs")));
        assert!(s.allows(A::Find, coll("config", "settings")));
        assert!(!s.allows(A::Killop, Target::Cluster));
        assert!(!s.allows(A::Find, coll("app1", "c")));
    }

    #[test]
    fn manual_host_manager_role() {
        let s = set(BuiltinRole::HostManager, "admin");
        for action in [A::Killop, A::Fsync, A::Shutdown, A::SetParameter, A::LogRotate, A::KillAnyCursor] {
            assert!(s.allows(action, Target::Cluster), "{action}");
        }
        assert!(s.allows(A::KillCursors, coll("app1", "c")));
        assert!(!s.allows(A::Inprog, Target::Cluster));
    }

    #[test]
    fn manual_cluster_manager_role() {
        let s = set(BuiltinRole::ClusterManager, "admin");
        for action in [A::ReplSetGetConfig, A::ListShards, A::AddShard, A::ListSessions] {
            assert!(s.allows(action, Target::Cluster), "{action}");
        }
        assert!(s.allows(A::SplitVector, coll("app1", "c")));
        assert!(s.allows(A::Find, coll("config", "chunks")));
        assert!(s.allows(A::Update, coll("config", "chunks")));
        assert!(!s.allows(A::Find, coll("app1", "c")));
    }

    #[test]
    fn manual_cluster_admin_role() {
        let s = set(BuiltinRole::ClusterAdmin, "admin");
        assert!(s.allows(A::Killop, Target::Cluster));
        assert!(s.allows(A::Inprog, Target::Cluster));
        assert!(s.allows(A::ServerStatus, Target::Cluster));
        assert!(s.allows(A::ReplSetConfigure, Target::Cluster));
        assert!(s.allows(A::DropDatabase, Target::Database("app1")));
        assert!(s.allows(A::DropDatabase, Target::Database("app2")));
        assert!(!s.allows(A::Find, coll("app1", "c")));
        assert!(!s.allows(A::CreateUser, Target::Database("app1")));
    }

    #[test]
    fn manual_backup_and_restore_roles() {
        let b = set(BuiltinRole::Backup, "admin");
        assert!(b.allows(A::Find, coll("app1", "c")));
        assert!(b.allows(A::Find, coll("local", "oplog.rs")));
        assert!(b.allows(A::ListDatabases, Target::Cluster));
        assert!(b.allows(A::ListCollections, Target::Database("app1")));
        assert!(b.allows(A::Find, coll("admin", "system.users")));
        assert!(!b.allows(A::Insert, coll("app1", "c")));

        let r = set(BuiltinRole::Restore, "admin");
        assert!(r.allows(A::Insert, coll("app1", "c")));
        assert!(r.allows(A::CreateIndex, coll("app1", "c")));
        assert!(r.allows(A::CreateUser, Target::Database("app1")));
        assert!(r.allows(A::Insert, coll("admin", "system.users")));
        assert!(!r.allows(A::Find, coll("app1", "c")));
        assert!(!r.allows(A::Remove, coll("app1", "c")));
    }

    #[test]
    fn manual_root_role() {
        let s = set(BuiltinRole::Root, "admin");
        for db in ["app1", "app2", "admin", "local", "config"] {
            assert!(s.allows(A::CreateUser, Target::Database(db)), "{db}");
            assert!(s.allows(A::GrantRole, Target::Database(db)), "{db}");
        }
        for db in ["app1", "app2", "admin"] {
            for action in [A::Find, A::Insert, A::Update, A::Remove, A::CreateIndex, A::CollMod, A::Validate] {
                assert!(s.allows(action, coll(db, "c")), "{action} on {db}");
            }
            assert!(s.allows(A::DropDatabase, Target::Database(db)));
        }
        for action in [A::Killop, A::Inprog, A::ServerStatus, A::ListDatabases, A::Shutdown, A::SetParameter] {
            assert!(s.allows(action, Target::Cluster), "{action}");
        }
        assert!(s.allows(A::Find, coll("local", "oplog.rs")));
        assert!(s.allows(A::Validate, coll("app1", "system.profile")));
    }
}
