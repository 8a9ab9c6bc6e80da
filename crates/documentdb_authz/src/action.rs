//! Privilege actions: the `actions` strings of a privilege document.
//!
//! The list is MongoDB's whole action vocabulary (the manual's "Privilege Actions" page,
//! https://www.mongodb.com/docs/manual/reference/privilege-actions/, plus the actions the
//! server accepts that the page leaves out, such as `anyAction`), so that createRole accepts
//! every role document a MongoDB deployment accepts, even for actions this product never
//! checks.

use std::fmt;

use documentdb_errors::{docdb_error, DocDbResult};

macro_rules! actions {
    ($($variant:ident = $name:literal,)*) => {
        /// A privilege action. Variants are declared in the byte order of their MongoDB
        /// names, so `Ord` (and a `BTreeSet<Action>`) lists actions sorted by name, which is
        /// the order privilege documents print them in.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Action {
            $($variant,)*
        }

        const ALL_ACTIONS: &[Action] = &[$(Action::$variant,)*];

        impl Action {
            /// MongoDB's spelling of the action.
            pub fn name(self) -> &'static str {
                match self {
                    $(Action::$variant => $name,)*
                }
            }
        }
    };
}

actions! {
    AddShard = "addShard",
    AdvanceClusterTime = "advanceClusterTime",
    AllCollectionStats = "allCollectionStats",
    Analyze = "analyze",
    AnalyzeShardKey = "analyzeShardKey",
    AnyAction = "anyAction",
    AppendOplogNote = "appendOplogNote",
    ApplicationMessage = "applicationMessage",
    ApplyOps = "applyOps",
    AuditConfigure = "auditConfigure",
    AuditLogRotate = "auditLogRotate",
    AuthCheck = "authCheck",
    AuthSchemaUpgrade = "authSchemaUpgrade",
    Authenticate = "authenticate",
    BypassDocumentValidation = "bypassDocumentValidation",
    BypassWriteBlockingMode = "bypassWriteBlockingMode",
    ChangeCustomData = "changeCustomData",
    ChangeOwnCustomData = "changeOwnCustomData",
    ChangeOwnPassword = "changeOwnPassword",
    ChangePassword = "changePassword",
    ChangeStream = "changeStream",
    CheckFreeMonitoringStatus = "checkFreeMonitoringStatus",
    CheckMetadataConsistency = "checkMetadataConsistency",
    CleanupOrphaned = "cleanupOrphaned",
    CleanupStructuredEncryptionData = "cleanupStructuredEncryptionData",
    ClearJumboFlag = "clearJumboFlag",
    CloseAllDatabases = "closeAllDatabases",
    CollMod = "collMod",
    CollStats = "collStats",
    Compact = "compact",
    CompactStructuredEncryptionData = "compactStructuredEncryptionData",
    ConfigureQueryAnalyzer = "configureQueryAnalyzer",
    ConnPoolStats = "connPoolStats",
    ConnPoolSync = "connPoolSync",
    ConvertToCapped = "convertToCapped",
    CpuProfiler = "cpuProfiler",
    CreateCollection = "createCollection",
    CreateDatabase = "createDatabase",
    CreateIndex = "createIndex",
    CreateRole = "createRole",
    CreateSearchIndexes = "createSearchIndexes",
    CreateUser = "createUser",
    DbCheck = "dbCheck",
    DbHash = "dbHash",
    DbStats = "dbStats",
    DropAllRolesFromDatabase = "dropAllRolesFromDatabase",
    DropAllUsersFromDatabase = "dropAllUsersFromDatabase",
    DropCollection = "dropCollection",
    DropConnections = "dropConnections",
    DropDatabase = "dropDatabase",
    DropIndex = "dropIndex",
    DropRole = "dropRole",
    DropSearchIndex = "dropSearchIndex",
    DropUser = "dropUser",
    Emptycapped = "emptycapped",
    EnableProfiler = "enableProfiler",
    EnableSharding = "enableSharding",
    ExportCollection = "exportCollection",
    Find = "find",
    FlushRouterConfig = "flushRouterConfig",
    ForceUUID = "forceUUID",
    Fsync = "fsync",
    FsyncUnlock = "fsyncUnlock",
    GetChangeStreamState = "getChangeStreamState",
    GetClusterParameter = "getClusterParameter",
    GetCmdLineOpts = "getCmdLineOpts",
    GetDatabaseVersion = "getDatabaseVersion",
    GetDefaultRWConcern = "getDefaultRWConcern",
    GetLog = "getLog",
    GetParameter = "getParameter",
    GetShardMap = "getShardMap",
    GetShardVersion = "getShardVersion",
    GrantPrivilegesToRole = "grantPrivilegesToRole",
    GrantRole = "grantRole",
    GrantRolesToRole = "grantRolesToRole",
    GrantRolesToUser = "grantRolesToUser",
    HostInfo = "hostInfo",
    Impersonate = "impersonate",
    ImportCollection = "importCollection",
    IndexStats = "indexStats",
    Inprog = "inprog",
    Insert = "insert",
    Internal = "internal",
    InvalidateUserCache = "invalidateUserCache",
    IssueDirectShardOperations = "issueDirectShardOperations",
    KillAnyCursor = "killAnyCursor",
    KillAnySession = "killAnySession",
    KillCursors = "killCursors",
    Killop = "killop",
    ListCachedAndActiveUsers = "listCachedAndActiveUsers",
    ListCollections = "listCollections",
    ListCursors = "listCursors",
    ListDatabases = "listDatabases",
    ListIndexes = "listIndexes",
    ListSampledQueries = "listSampledQueries",
    ListSearchIndexes = "listSearchIndexes",
    ListSessions = "listSessions",
    ListShards = "listShards",
    LogRotate = "logRotate",
    MoveChunk = "moveChunk",
    MoveCollection = "moveCollection",
    Netstat = "netstat",
    OidReset = "oidReset",
    OidcListKeys = "oidcListKeys",
    OidcRefreshKeys = "oidcRefreshKeys",
    OperationMetrics = "operationMetrics",
    PlanCacheIndexFilter = "planCacheIndexFilter",
    PlanCacheRead = "planCacheRead",
    PlanCacheWrite = "planCacheWrite",
    QuerySettings = "querySettings",
    QueryStatsRead = "queryStatsRead",
    QueryStatsReadTransformed = "queryStatsReadTransformed",
    ReIndex = "reIndex",
    RefineCollectionShardKey = "refineCollectionShardKey",
    Remove = "remove",
    RemoveShard = "removeShard",
    RenameCollection = "renameCollection",
    RenameCollectionSameDB = "renameCollectionSameDB",
    RepairDatabase = "repairDatabase",
    ReplSetConfigure = "replSetConfigure",
    ReplSetGetConfig = "replSetGetConfig",
    ReplSetGetStatus = "replSetGetStatus",
    ReplSetHeartbeat = "replSetHeartbeat",
    ReplSetReconfig = "replSetReconfig",
    ReplSetResizeOplog = "replSetResizeOplog",
    ReplSetStateChange = "replSetStateChange",
    ReshardCollection = "reshardCollection",
    Resync = "resync",
    RevokePrivilegesFromRole = "revokePrivilegesFromRole",
    RevokeRole = "revokeRole",
    RevokeRolesFromRole = "revokeRolesFromRole",
    RevokeRolesFromUser = "revokeRolesFromUser",
    RotateCertificates = "rotateCertificates",
    RunAsLessPrivilegedUser = "runAsLessPrivilegedUser",
    RunTenantMigration = "runTenantMigration",
    ServerStatus = "serverStatus",
    SetAuthenticationRestriction = "setAuthenticationRestriction",
    SetChangeStreamState = "setChangeStreamState",
    SetClusterParameter = "setClusterParameter",
    SetDefaultRWConcern = "setDefaultRWConcern",
    SetFeatureCompatibilityVersion = "setFeatureCompatibilityVersion",
    SetFreeMonitoring = "setFreeMonitoring",
    SetParameter = "setParameter",
    SetUserWriteBlockMode = "setUserWriteBlockMode",
    ShardCollection = "shardCollection",
    ShardedDataDistribution = "shardedDataDistribution",
    ShardingState = "shardingState",
    Shutdown = "shutdown",
    SplitChunk = "splitChunk",
    SplitVector = "splitVector",
    StorageDetails = "storageDetails",
    Top = "top",
    Touch = "touch",
    TrafficRecord = "trafficRecord",
    TransitionFromDedicatedConfigServer = "transitionFromDedicatedConfigServer",
    TransitionToDedicatedConfigServer = "transitionToDedicatedConfigServer",
    Unlock = "unlock",
    Update = "update",
    UpdateRole = "updateRole",
    UpdateSearchIndex = "updateSearchIndex",
    UpdateUser = "updateUser",
    UseTenant = "useTenant",
    UseUUID = "useUUID",
    Validate = "validate",
    ViewRole = "viewRole",
    ViewUser = "viewUser",
}

impl Action {
    /// The action named `name` (MongoDB's spelling, case-sensitive), if it is one.
    pub fn from_name(name: &str) -> Option<Action> {
        // ALL_ACTIONS is sorted by name (a unit test checks it), so a binary search works.
        ALL_ACTIONS.binary_search_by(|a| a.name().cmp(name)).ok().map(|i| ALL_ACTIONS[i])
    }

    /// Like [`Action::from_name`], with MongoDB's error for an unknown name (FailedToParse,
    /// "Unrecognized action privilege string: X", as the server's action parser reports it).
    pub fn parse(name: &str) -> DocDbResult<Action> {
        Action::from_name(name)
            .ok_or_else(|| docdb_error!(FailedToParse, "Unrecognized action privilege string: {name}"))
    }

    /// Every action, sorted by name.
    pub fn all() -> &'static [Action] {
        ALL_ACTIONS
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use documentdb_errors::ErrorCode;

    #[test]
    fn actions_are_sorted_by_name_and_unique() {
        for pair in Action::all().windows(2) {
            assert!(pair[0].name() < pair[1].name(), "{} must sort before {}", pair[0], pair[1]);
            assert!(pair[0] < pair[1], "declaration order must follow name order");
        }
    }

    #[test]
    fn every_action_round_trips_through_its_name() {
        for action in Action::all() {
            assert_eq!(Action::from_name(action.name()), Some(*action));
            assert_eq!(Action::parse(action.name()).ok(), Some(*action));
        }
    }

    #[test]
    fn actions_named_by_the_privilege_actions_page_are_known() {
        // https://www.mongodb.com/docs/manual/reference/privilege-actions/
        for name in [
            "find",
            "insert",
            "update",
            "remove",
            "bypassDocumentValidation",
            "createCollection",
            "dropCollection",
            "createIndex",
            "dropIndex",
            "listCollections",
            "listIndexes",
            "collMod",
            "collStats",
            "dbStats",
            "dbHash",
            "convertToCapped",
            "renameCollectionSameDB",
            "killCursors",
            "killAnyCursor",
            "changeStream",
            "dropDatabase",
            "reIndex",
            "compact",
            "validate",
            "enableProfiler",
            "createUser",
            "dropUser",
            "grantRole",
            "revokeRole",
            "viewRole",
            "viewUser",
            "createRole",
            "dropRole",
            "changePassword",
            "changeCustomData",
            "changeOwnPassword",
            "changeOwnCustomData",
            "setAuthenticationRestriction",
            "killop",
            "inprog",
            "serverStatus",
            "listDatabases",
            "hostInfo",
            "getCmdLineOpts",
            "getParameter",
            "setParameter",
            "listSessions",
            "killAnySession",
            "shutdown",
            "replSetGetStatus",
            "replSetGetConfig",
            "connPoolStats",
            "top",
            "netstat",
            "getLog",
            "logRotate",
            "fsync",
            "applicationMessage",
            "invalidateUserCache",
            "planCacheRead",
            "planCacheWrite",
            "planCacheIndexFilter",
            "storageDetails",
            "splitVector",
            "useUUID",
            "anyAction",
        ] {
            assert_eq!(Action::from_name(name).map(Action::name), Some(name));
        }
    }

    #[test]
    fn unknown_and_miscased_names_are_rejected() {
        assert_eq!(Action::from_name("Find"), None);
        assert_eq!(Action::from_name("killOp"), None);
        assert_eq!(Action::from_name(""), None);
        let err = Action::parse("fakeAction").unwrap_err();
        assert_eq!(err.code, ErrorCode::FailedToParse);
        assert_eq!(err.message, "Unrecognized action privilege string: fakeAction");
    }
}
