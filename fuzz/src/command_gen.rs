//! Commands built from fuzz input for the `command_dispatch` target. Command names, field
//! names, query and update operators, aggregation stages and expressions come from
//! dictionaries (and every typed field gets a value of the right shape most of the time),
//! so the fuzzer gets past argument parsing into the handlers and the extension, rather than
//! stopping at "no such command" or "field must be an object".

use bson::oid::ObjectId;
use bson::raw::CString;
use bson::spec::BinarySubtype;
use bson::{
    Binary, DateTime, Decimal128, RawArrayBuf, RawBson, RawDocumentBuf, RawJavaScriptCodeWithScope, Regex, Timestamp,
};
use documentdb_gateway::compression::Compressor;
use documentdb_gateway::protocol::{self, DocumentSequence};
use libfuzzer_sys::arbitrary::{Result, Unstructured};

/// The database most commands run in (inside the fuzzer's own PostgreSQL database).
pub const FUZZ_DB: &str = "fuzz";

/// The only user names `createUser` may be fuzzed with: roles are cluster-wide, and a
/// fuzzed name must never collide with a user someone else's tests create.
pub const FUZZ_USERS: &[&str] = &["fuzz_u0", "fuzz_u1", "fuzz_u2"];

/// What one input's commands share: ids from earlier replies.
#[derive(Default, Debug)]
pub struct Context {
    /// Cursor ids of earlier replies (getMore and killCursors pick them).
    pub cursor_ids: Vec<i64>,
    /// Logical session ids returned by startSession.
    pub session_ids: Vec<[u8; 16]>,
}

/// One client message.
#[derive(Debug, Clone)]
pub struct Message {
    pub body: RawDocumentBuf,
    /// OP_MSG kind-1 sections: identifier and documents.
    pub sequences: Vec<(String, Vec<RawDocumentBuf>)>,
    pub flags: u32,
    pub compressor: Option<Compressor>,
    /// Sent as an OP_QUERY on `<db>.$cmd` (the legacy handshake path) instead of OP_MSG.
    pub legacy_query_db: Option<String>,
}

impl Message {
    pub fn new(body: RawDocumentBuf) -> Message {
        Message { body, sequences: Vec::new(), flags: 0, compressor: None, legacy_query_db: None }
    }

    /// The message as a client sends it.
    pub fn encode(&self, request_id: i32) -> Vec<u8> {
        let msg = match &self.legacy_query_db {
            Some(db) => protocol::encode_op_query(request_id, &format!("{db}.$cmd"), self.body.as_bytes()),
            None => {
                let sequences: Vec<DocumentSequence> = self
                    .sequences
                    .iter()
                    .map(|(identifier, docs)| DocumentSequence {
                        identifier: identifier.clone(),
                        documents: docs.iter().flat_map(|d| d.as_bytes().iter().copied()).collect(),
                        count: docs.len(),
                    })
                    .collect();
                protocol::encode_op_msg_with_sequences(request_id, self.flags, self.body.as_bytes(), &sequences)
            }
        };
        match self.compressor {
            Some(c) => protocol::compress_message(&msg, c).unwrap_or(msg),
            None => msg,
        }
    }
}

/// Fields commands commonly take, for extra (untyped) fields and for `currentOp` filters.
const GENERIC_FIELDS: &[&str] = &[
    "lsid",
    "txnNumber",
    "startTransaction",
    "autocommit",
    "$readPreference",
    "$clusterTime",
    "comment",
    "apiVersion",
    "apiStrict",
    "apiDeprecationErrors",
    "writeConcern",
    "readConcern",
    "maxTimeMS",
    "$db",
    "collation",
    "let",
    "hint",
    "cursor",
    "batchSize",
    "filter",
    "pipeline",
    "documents",
    "query",
    "update",
    "sort",
    "limit",
    "skip",
    "ordered",
    "upsert",
    "multi",
    "new",
    "remove",
    "fields",
    "projection",
    "key",
    "indexes",
    "index",
    "name",
    "to",
    "roles",
    "pwd",
    "op",
    "$ownOps",
    "$all",
    "allUsers",
    "", // an empty field name
    "a.b",
    "$where",
];

/// Field names of stored documents, used in filters, projections, updates and indexes.
const DATA_FIELDS: &[&str] = &[
    "_id", "a", "b", "c", "a.b", "a.b.c", "arr", "arr.0", "arr.1.x", "x.y", "loc", "text", "ts", "n", "s", "$a", "a.$",
    "arr.$[]", "arr.$[e]", "e", "a..b", "",
];

/// Collection names: mostly valid ones (so commands get past the namespace checks).
const COLLECTIONS: &[&str] = &["c", "c", "c", "c2", "c2", "view", "capped", "ts"];
const BAD_COLLECTIONS: &[&str] =
    &["system.views", "system.profile", "system.js", "a.b", "$x", "", " ", "c\u{0}d", "\u{00e9}t\u{00e9}"];

/// Databases: mostly the fuzz database.
const DATABASES: &[&str] = &[FUZZ_DB, FUZZ_DB, FUZZ_DB, FUZZ_DB, FUZZ_DB, FUZZ_DB, "admin", "fuzz2"];
const BAD_DATABASES: &[&str] = &["config", "local", "", "a.b", "a b", "$x", "x\u{0}"];

const QUERY_OPS: &[&str] = &[
    "$eq",
    "$ne",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$in",
    "$nin",
    "$exists",
    "$type",
    "$regex",
    "$options",
    "$size",
    "$all",
    "$elemMatch",
    "$not",
    "$mod",
    "$bitsAllSet",
    "$bitsAnySet",
    "$bitsAllClear",
    "$bitsAnyClear",
    "$near",
    "$nearSphere",
    "$geoWithin",
    "$geoIntersects",
    "$maxDistance",
    "$minDistance",
    "$text",
    "$where",
    "$jsonSchema",
    "$expr",
    "$comment",
    "$and",
    "$or",
    "$nor",
    "$alwaysTrue",
    "$alwaysFalse",
    "$sampleRate",
    "$bogus",
];

const UPDATE_OPS: &[&str] = &[
    "$set",
    "$unset",
    "$inc",
    "$mul",
    "$rename",
    "$min",
    "$max",
    "$currentDate",
    "$setOnInsert",
    "$push",
    "$addToSet",
    "$pop",
    "$pull",
    "$pullAll",
    "$bit",
    "$each",
    "$position",
    "$slice",
    "$sort",
    "$bogus",
];

const STAGES: &[&str] = &[
    "$match",
    "$project",
    "$addFields",
    "$set",
    "$unset",
    "$group",
    "$sort",
    "$limit",
    "$skip",
    "$unwind",
    "$lookup",
    "$graphLookup",
    "$unionWith",
    "$facet",
    "$bucket",
    "$bucketAuto",
    "$sortByCount",
    "$count",
    "$replaceRoot",
    "$replaceWith",
    "$sample",
    "$out",
    "$merge",
    "$documents",
    "$listLocalSessions",
    "$currentOp",
    "$collStats",
    "$indexStats",
    "$redact",
    "$densify",
    "$fill",
    "$setWindowFields",
    "$geoNear",
    "$search",
    "$changeStream",
    "$bogus",
];

/// Expression operators taking an array (or a single expression).
const EXPR_OPS: &[&str] = &[
    "$add",
    "$subtract",
    "$multiply",
    "$divide",
    "$mod",
    "$pow",
    "$sqrt",
    "$exp",
    "$ln",
    "$log",
    "$log10",
    "$abs",
    "$ceil",
    "$floor",
    "$round",
    "$trunc",
    "$eq",
    "$ne",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$cmp",
    "$and",
    "$or",
    "$not",
    "$concat",
    "$substr",
    "$substrBytes",
    "$substrCP",
    "$toLower",
    "$toUpper",
    "$strLenBytes",
    "$strLenCP",
    "$split",
    "$indexOfBytes",
    "$indexOfCP",
    "$strcasecmp",
    "$arrayElemAt",
    "$concatArrays",
    "$isArray",
    "$size",
    "$slice",
    "$reverseArray",
    "$in",
    "$range",
    "$setUnion",
    "$setIntersection",
    "$setDifference",
    "$setEquals",
    "$setIsSubset",
    "$allElementsTrue",
    "$anyElementTrue",
    "$ifNull",
    "$cond",
    "$type",
    "$toString",
    "$toInt",
    "$toLong",
    "$toDouble",
    "$toDecimal",
    "$toBool",
    "$toDate",
    "$toObjectId",
    "$convert",
    "$isNumber",
    "$year",
    "$month",
    "$dayOfMonth",
    "$hour",
    "$dateToString",
    "$dateFromString",
    "$dateAdd",
    "$dateDiff",
    "$dateTrunc",
    "$sum",
    "$avg",
    "$min",
    "$max",
    "$first",
    "$last",
    "$push",
    "$addToSet",
    "$stdDevPop",
    "$mergeObjects",
    "$objectToArray",
    "$arrayToObject",
    "$literal",
    "$getField",
    "$setField",
    "$binarySize",
    "$bsonSize",
    "$regexMatch",
    "$regexFind",
    "$regexFindAll",
    "$replaceOne",
    "$replaceAll",
    "$trim",
    "$ltrim",
    "$rtrim",
    "$zip",
    "$sortArray",
    "$firstN",
    "$lastN",
    "$maxN",
    "$minN",
    "$map",
    "$filter",
    "$reduce",
    "$let",
    "$switch",
    "$rand",
    "$function",
    "$accumulator",
    "$meta",
    "$bogus",
];

/// Named arguments of the expression operators that take a document.
const EXPR_ARGS: &[&str] = &[
    "input",
    "as",
    "in",
    "cond",
    "initialValue",
    "vars",
    "if",
    "then",
    "else",
    "branches",
    "case",
    "default",
    "format",
    "date",
    "timezone",
    "regex",
    "options",
    "find",
    "replacement",
    "chars",
    "to",
    "onError",
    "onNull",
    "field",
    "value",
    "n",
    "sortBy",
    "unit",
    "amount",
    "startDate",
    "endDate",
    "dateString",
    "limit",
    "inputs",
    "useLongestLength",
    "defaults",
];

const VARIABLES: &[&str] = &[
    "$$ROOT",
    "$$CURRENT",
    "$$NOW",
    "$$REMOVE",
    "$$KEEP",
    "$$PRUNE",
    "$$DESCEND",
    "$$this",
    "$$value",
    "$$e",
    "$$x",
    "$$undefinedVar",
];

const STRINGS: &[&str] = &[
    "",
    "a",
    "x",
    "abc",
    "fuzz",
    "_id",
    "$a",
    "$$ROOT",
    "^a.*",
    "(a+)+$",
    "[",
    "\u{0}",
    "\u{00e9}",
    "\u{1F600}",
    "%Y-%m-%d",
    "2024-01-01T00:00:00Z",
    "1",
    "-1",
    "NaN",
    "1e400",
    "0x10",
    "text",
    "hashed",
    "2dsphere",
    "2d",
    "queryPlanner",
    "executionStats",
    "allPlansExecution",
    "majority",
    "local",
    "snapshot",
    "primary",
    "SCRAM-SHA-256",
    "SCRAM-SHA-1",
    "PLAIN",
    "failCommand",
    "alwaysOn",
    "off",
    "textScore",
    "UTC",
    "Europe/Paris",
    "+05:30",
    "en",
    "simple",
];

const ROLES: &[&str] = &[
    "read",
    "readWrite",
    "dbAdmin",
    "dbOwner",
    "userAdmin",
    "root",
    "readAnyDatabase",
    "readWriteAnyDatabase",
    "userAdminAnyDatabase",
    "clusterAdmin",
    "backup",
    "bogus",
    "",
];

fn cstring(s: &str) -> CString {
    CString::try_from(s.replace('\0', "")).unwrap_or_else(|_| CString::try_from("k").unwrap())
}

/// A document built from (key, value) pairs.
fn doc(pairs: impl IntoIterator<Item = (String, RawBson)>) -> RawDocumentBuf {
    let mut d = RawDocumentBuf::new();
    for (k, v) in pairs {
        d.append(cstring(&k), v);
    }
    d
}

fn array(values: impl IntoIterator<Item = RawBson>) -> RawBson {
    let mut a = RawArrayBuf::new();
    for v in values {
        a.push(v);
    }
    RawBson::Array(a)
}

/// `depth` documents (or arrays, keyed "0") nested below a top-level document, built as
/// bytes: converting such a value recursively would overflow the fuzzer's own stack.
pub fn deeply_nested(depth: usize, arrays: bool) -> RawDocumentBuf {
    let mut bytes = Vec::with_capacity(5 + 8 * depth);
    for k in (1..=depth).rev() {
        bytes.extend_from_slice(&((5 + 8 * k) as i32).to_le_bytes());
        bytes.extend_from_slice(&[if arrays && k < depth { 0x04 } else { 0x03 }, if arrays { b'0' } else { b'a' }, 0]);
    }
    bytes.extend_from_slice(&[5, 0, 0, 0, 0]);
    bytes.resize(5 + 8 * depth, 0);
    RawDocumentBuf::from_bytes(bytes).unwrap_or_default()
}

/// Typed shapes of command fields.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Any,
    Bool,
    Int,
    Number,
    Str,
    Coll,
    Namespace,
    DataField,
    Filter,
    Projection,
    Sort,
    Pipeline,
    Update,
    Docs,
    Updates,
    Deletes,
    Indexes,
    IndexRef,
    Collation,
    CursorOpt,
    CursorId,
    CursorIds,
    WriteConcern,
    ReadConcern,
    Let,
    UserName,
    Roles,
    SessionIds,
    UserList,
    FailPointMode,
    FailPointData,
    SaslPayload,
    ClientInfo,
    Explainable,
    Doc,
}

use Kind as K;

/// The shape of the value of `field` in `command` (or in the sub-document of that command
/// it belongs to: an update statement, an index, a fail point's data): most names take the
/// same shape wherever they stand, and a name not listed takes any value.
fn field_kind(command: &str, field: &str) -> Kind {
    match field {
        "max" if command == "create" => K::Int,
        "index" if command == "collMod" => K::Doc,
        "op" if command == "killOp" => K::Int,
        "singleBatch"
        | "returnKey"
        | "showRecordId"
        | "allowDiskUse"
        | "noCursorTimeout"
        | "tailable"
        | "awaitData"
        | "allowPartialResults"
        | "explain"
        | "bypassDocumentValidation"
        | "ordered"
        | "remove"
        | "new"
        | "upsert"
        | "multi"
        | "capped"
        | "nameOnly"
        | "authorizedCollections"
        | "authorizedDatabases"
        | "dropTarget"
        | "digestPassword"
        | "showCredentials"
        | "showPrivileges"
        | "showCustomData"
        | "helloOk"
        | "loadBalanced"
        | "$ownOps"
        | "$all"
        | "active"
        | "j"
        | "force"
        | "unique"
        | "sparse"
        | "hidden"
        | "background"
        | "closeConnection"
        | "blockConnection" => K::Bool,
        "skip"
        | "limit"
        | "batchSize"
        | "maxTimeMS"
        | "size"
        | "expireAfterSeconds"
        | "freeStorage"
        | "maxAwaitTimeMS"
        | "featureCompatibilityVersion"
        | "cursorTimeoutMillis"
        | "autoAuthorize"
        | "conversationId"
        | "timeoutSecs"
        | "errorCode" => K::Int,
        "validationLevel" | "validationAction" | "verbosity" | "pwd" | "saslSupportedMechs" | "mechanism"
        | "appName" | "op" => K::Str,
        "min"
        | "max"
        | "timeseries"
        | "clusteredIndex"
        | "idIndex"
        | "storageEngine"
        | "indexOptionDefaults"
        | "changeStreamPreAndPostImages"
        | "customData"
        | "speculativeAuthenticate"
        | "topologyVersion"
        | "options"
        | "weights"
        | "writeConcernError" => K::Doc,
        "filter" | "query" | "validator" | "partialFilterExpression" => K::Filter,
        "projection" | "fields" | "wildcardProjection" => K::Projection,
        "viewOn" | "collection" => K::Coll,
        "documents" | "arrayFilters" => K::Docs,
        "hint" | "index" => K::IndexRef,
        "scale" => K::Number,
        "to" => K::Namespace,
        "key" => K::DataField,
        "sort" => K::Sort,
        "pipeline" => K::Pipeline,
        "update" => K::Update,
        "updates" => K::Updates,
        "deletes" => K::Deletes,
        "indexes" => K::Indexes,
        "collation" => K::Collation,
        "cursor" => K::CursorOpt,
        "cursors" => K::CursorIds,
        "writeConcern" => K::WriteConcern,
        "readConcern" => K::ReadConcern,
        "let" => K::Let,
        "roles" => K::Roles,
        "mode" => K::FailPointMode,
        "data" => K::FailPointData,
        "payload" => K::SaslPayload,
        "client" => K::ClientInfo,
        _ => K::Any,
    }
}

/// Each command: its name, the shape of its own value, and the other fields it takes (each
/// of the shape [`field_kind`] gives it).
const COMMANDS: &[(&str, Kind, &[&str])] = &[
    (
        "find",
        K::Coll,
        &[
            "filter",
            "projection",
            "sort",
            "skip",
            "limit",
            "batchSize",
            "singleBatch",
            "hint",
            "collation",
            "let",
            "maxTimeMS",
            "returnKey",
            "showRecordId",
            "min",
            "max",
            "allowDiskUse",
            "readConcern",
            "noCursorTimeout",
            "tailable",
            "awaitData",
            "allowPartialResults",
        ],
    ),
    (
        "aggregate",
        K::Coll,
        &[
            "pipeline",
            "cursor",
            "explain",
            "allowDiskUse",
            "maxTimeMS",
            "collation",
            "hint",
            "let",
            "bypassDocumentValidation",
            "readConcern",
            "writeConcern",
        ],
    ),
    ("count", K::Coll, &["query", "limit", "skip", "hint", "collation", "maxTimeMS"]),
    ("distinct", K::Coll, &["key", "query", "collation"]),
    ("insert", K::Coll, &["documents", "ordered", "bypassDocumentValidation", "writeConcern"]),
    ("update", K::Coll, &["updates", "ordered", "let", "bypassDocumentValidation", "writeConcern"]),
    ("delete", K::Coll, &["deletes", "ordered", "let", "writeConcern"]),
    (
        "findAndModify",
        K::Coll,
        &[
            "query",
            "sort",
            "update",
            "remove",
            "new",
            "fields",
            "upsert",
            "arrayFilters",
            "collation",
            "hint",
            "let",
            "bypassDocumentValidation",
            "writeConcern",
            "maxTimeMS",
        ],
    ),
    (
        "create",
        K::Coll,
        &[
            "viewOn",
            "pipeline",
            "capped",
            "size",
            "max",
            "validator",
            "validationLevel",
            "validationAction",
            "collation",
            "timeseries",
            "clusteredIndex",
            "expireAfterSeconds",
            "idIndex",
            "storageEngine",
            "indexOptionDefaults",
            "changeStreamPreAndPostImages",
        ],
    ),
    ("drop", K::Coll, &["writeConcern"]),
    ("dropDatabase", K::Int, &["writeConcern"]),
    ("listCollections", K::Int, &["filter", "nameOnly", "authorizedCollections", "cursor"]),
    ("listDatabases", K::Int, &["filter", "nameOnly", "authorizedDatabases"]),
    ("renameCollection", K::Namespace, &["to", "dropTarget"]),
    (
        "collMod",
        K::Coll,
        &["validator", "validationLevel", "validationAction", "viewOn", "pipeline", "index", "expireAfterSeconds"],
    ),
    ("collStats", K::Coll, &["scale"]),
    ("dbStats", K::Int, &["scale", "freeStorage"]),
    ("createIndexes", K::Coll, &["indexes", "commitQuorum", "writeConcern"]),
    ("dropIndexes", K::Coll, &["index"]),
    ("deleteIndexes", K::Coll, &["index"]),
    ("listIndexes", K::Coll, &["cursor"]),
    ("explain", K::Explainable, &["verbosity", "maxTimeMS"]),
    ("getMore", K::CursorId, &["collection", "batchSize", "maxTimeMS"]),
    ("killCursors", K::Coll, &["cursors"]),
    ("createUser", K::UserName, &["pwd", "roles", "customData", "mechanisms", "digestPassword"]),
    ("updateUser", K::UserName, &["pwd", "roles", "customData", "mechanisms"]),
    ("dropUser", K::UserName, &[]),
    ("usersInfo", K::Any, &["showCredentials", "showPrivileges", "showCustomData", "filter"]),
    (
        "hello",
        K::Int,
        &[
            "helloOk",
            "client",
            "compression",
            "saslSupportedMechs",
            "speculativeAuthenticate",
            "loadBalanced",
            "topologyVersion",
            "maxAwaitTimeMS",
        ],
    ),
    ("isMaster", K::Int, &["helloOk", "client", "compression"]),
    ("ismaster", K::Int, &["client"]),
    ("ping", K::Int, &[]),
    ("buildInfo", K::Int, &[]),
    ("buildinfo", K::Int, &[]),
    ("hostInfo", K::Int, &[]),
    ("getParameter", K::Any, &["featureCompatibilityVersion", "cursorTimeoutMillis"]),
    ("getCmdLineOpts", K::Int, &[]),
    ("listCommands", K::Int, &[]),
    ("connectionStatus", K::Int, &["showPrivileges"]),
    ("serverStatus", K::Int, &[]),
    ("whatsmyuri", K::Int, &[]),
    ("startSession", K::Int, &[]),
    ("endSessions", K::SessionIds, &[]),
    ("killSessions", K::SessionIds, &[]),
    ("refreshSessions", K::SessionIds, &[]),
    ("killAllSessions", K::UserList, &[]),
    ("currentOp", K::Int, &["$ownOps", "$all", "active", "op"]),
    ("killOp", K::Int, &["op"]),
    ("getLastError", K::Int, &["w", "j"]),
    ("saslStart", K::Int, &["mechanism", "payload", "options", "autoAuthorize"]),
    ("saslContinue", K::Int, &["conversationId", "payload"]),
    ("logout", K::Int, &[]),
    ("configureFailPoint", K::Str, &["mode", "data"]),
    // Not commands of the gateway: each must answer CommandNotFound (shutdown above all).
    ("shutdown", K::Int, &["force", "timeoutSecs"]),
    ("fsync", K::Int, &[]),
    ("eval", K::Str, &[]),
    ("getnonce", K::Int, &[]),
    ("authenticate", K::Int, &[]),
    ("listSessions", K::Int, &[]),
    ("abortTransaction", K::Int, &[]),
    ("replSetGetStatus", K::Int, &[]),
    ("FIND", K::Coll, &[]),
];

/// Generates values, keeping the whole message small (a node budget) and nesting shallow.
pub struct Gen<'u, 'd> {
    pub u: &'u mut Unstructured<'d>,
    pub ctx: &'u Context,
    budget: usize,
}

impl<'u, 'd> Gen<'u, 'd> {
    pub fn new(u: &'u mut Unstructured<'d>, ctx: &'u Context) -> Self {
        Gen { u, ctx, budget: 200 }
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> Result<T> {
        Ok(*self.u.choose(items)?)
    }

    /// True with probability num/den. Once the input is used up, the likelier outcome (so
    /// a short input still builds a plausible command).
    fn chance(&mut self, num: u8, den: u8) -> Result<bool> {
        if self.u.is_empty() {
            return Ok(u16::from(num) * 2 >= u16::from(den));
        }
        self.u.ratio(num, den)
    }

    fn spend(&mut self) -> bool {
        if self.budget == 0 {
            return false;
        }
        self.budget -= 1;
        true
    }

    fn count(&mut self, max: usize) -> Result<usize> {
        if !self.spend() {
            return Ok(0);
        }
        self.u.int_in_range(0..=max)
    }

    /// Up to `max` items built by `item`, one after the other (none once the budget is
    /// spent).
    fn several<T>(&mut self, max: usize, mut item: impl FnMut(&mut Self) -> Result<T>) -> Result<Vec<T>> {
        let n = self.count(max)?;
        (0..n).map(|_| item(self)).collect()
    }

    fn string(&mut self) -> Result<String> {
        if self.chance(4, 5)? {
            Ok(self.pick(STRINGS)?.to_owned())
        } else {
            let s: String = self.u.arbitrary()?;
            Ok(s.chars().take(64).collect())
        }
    }

    fn collection(&mut self) -> Result<String> {
        Ok(if self.chance(1, 15)? {
            self.pick(BAD_COLLECTIONS)?.to_owned()
        } else {
            self.pick(COLLECTIONS)?.to_owned()
        })
    }

    fn database(&mut self) -> Result<String> {
        Ok(if self.chance(1, 20)? { self.pick(BAD_DATABASES)?.to_owned() } else { self.pick(DATABASES)?.to_owned() })
    }

    fn key(&mut self, dictionary: &[&str]) -> Result<String> {
        if self.chance(9, 10)? {
            Ok(self.pick(dictionary)?.to_owned())
        } else {
            self.string()
        }
    }

    fn int(&mut self) -> Result<RawBson> {
        // 0..=20 and now and then -1..=-4 (0 once the input is used up).
        let small: i32 = match self.u.int_in_range(0..=24)? {
            n @ 0..=20 => n,
            n => 20 - n,
        };
        Ok(match self.u.int_in_range(0..=9)? {
            0..=4 => RawBson::Int32(small),
            5 => RawBson::Int64(small as i64),
            6 => RawBson::Double(small as f64),
            7 => RawBson::Int32(self.pick(&[i32::MAX, i32::MIN, 100, 101, 1000, 16 * 1024 * 1024, -1])?),
            8 => RawBson::Int64(self.pick(&[i64::MAX, i64::MIN, 1 << 53, (1 << 53) + 1, 1 << 31, -(1 << 31) - 1])?),
            _ => RawBson::Double(self.pick(&[
                0.5,
                -0.0,
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                1e308,
                2147483648.0,
            ])?),
        })
    }

    fn number(&mut self) -> Result<RawBson> {
        if self.chance(1, 6)? {
            Ok(RawBson::Decimal128(self.decimal()?))
        } else {
            self.int()
        }
    }

    fn decimal(&mut self) -> Result<Decimal128> {
        let canned: [[u8; 16]; 5] = [
            [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x40, 0x30], // 1
            [0; 16],
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x7c], // NaN
            [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x78], // Infinity
            [0xff; 16],
        ];
        Ok(Decimal128::from_bytes(if self.chance(2, 3)? { self.pick(&canned)? } else { self.u.arbitrary()? }))
    }

    /// Any BSON value: every type, with interesting values, nesting while the budget lasts.
    fn any(&mut self, depth: usize) -> Result<RawBson> {
        let nest = depth > 0 && self.spend();
        Ok(match self.u.int_in_range(0..=24)? {
            0..=3 => self.int()?,
            4..=6 => RawBson::String(self.string()?),
            7 => RawBson::Boolean(self.u.arbitrary()?),
            8 => RawBson::Null,
            9 if nest => RawBson::Document(self.document(depth - 1)?),
            10 if nest => {
                let values = self.several(4, |g| g.any(depth - 1))?;
                array(values)
            }
            11 => RawBson::Decimal128(self.decimal()?),
            12 => RawBson::ObjectId(ObjectId::from_bytes(self.u.arbitrary()?)),
            13 => RawBson::DateTime(DateTime::from_millis(self.pick(&[
                0,
                -1,
                i64::MAX,
                i64::MIN,
                1_700_000_000_000,
                253_402_300_800_000,
            ])?)),
            14 => RawBson::Timestamp(Timestamp { time: self.u.arbitrary()?, increment: self.u.arbitrary()? }),
            15 => {
                let subtype = self.pick(&[
                    BinarySubtype::Generic,
                    BinarySubtype::Uuid,
                    BinarySubtype::UuidOld,
                    BinarySubtype::BinaryOld,
                    BinarySubtype::Md5,
                    BinarySubtype::Encrypted,
                    BinarySubtype::Column,
                    BinarySubtype::Sensitive,
                    BinarySubtype::Vector,
                    BinarySubtype::UserDefined(0x80),
                ])?;
                let len = self.pick(&[0usize, 1, 3, 16, 17])?;
                let bytes = (0..len).map(|_| self.u.arbitrary::<u8>()).collect::<Result<Vec<u8>>>()?;
                RawBson::Binary(Binary { subtype, bytes })
            }
            16 => {
                let pattern = self.pick(&["a", "^a", "(a+)+$", "[", "\\", "a{99999}", ""])?;
                let options = self.pick(&["", "i", "imsx", "u", "l", "z", "ii"])?;
                RawBson::RegularExpression(Regex { pattern: cstring(pattern), options: cstring(options) })
            }
            17 => RawBson::JavaScriptCode(self.string()?),
            18 if nest => RawBson::JavaScriptCodeWithScope(RawJavaScriptCodeWithScope {
                code: self.string()?,
                scope: self.document(depth - 1)?,
            }),
            19 => RawBson::Symbol(self.string()?),
            20 => RawBson::Undefined,
            21 => RawBson::MinKey,
            22 => RawBson::MaxKey,
            23 => {
                // Far deeper than MongoDB's nesting limit of 100, or right at it.
                let depth = self.pick(&[99usize, 100, 101, 150, 5_000, 100_000])?;
                RawBson::Document(deeply_nested(depth, self.u.arbitrary()?))
            }
            _ => RawBson::Int32(1),
        })
    }

    fn document(&mut self, depth: usize) -> Result<RawDocumentBuf> {
        let pairs = self.several(4, |g| Ok((g.key(DATA_FIELDS)?, g.any(depth)?)))?;
        Ok(doc(pairs))
    }

    /// A field path or a variable, as expressions use them.
    fn path(&mut self) -> Result<String> {
        if self.chance(3, 4)? {
            Ok(format!("${}", self.pick(DATA_FIELDS)?))
        } else {
            Ok(self.pick(VARIABLES)?.to_owned())
        }
    }

    fn expression(&mut self, depth: usize) -> Result<RawBson> {
        if depth == 0 || !self.spend() {
            return self.literal();
        }
        Ok(match self.u.int_in_range(0..=9)? {
            0..=1 => self.literal()?,
            2..=3 => RawBson::String(self.path()?),
            4..=7 => {
                let op = self.key(EXPR_OPS)?;
                let mut args = self.several(3, |g| g.expression(depth - 1))?;
                let value = if args.len() == 1 && self.chance(1, 2)? {
                    args.pop().unwrap_or(RawBson::Null)
                } else {
                    array(args)
                };
                RawBson::Document(doc([(op, value)]))
            }
            8 => {
                // Operators with named arguments ($cond, $map, $filter, $reduce, $let, ...).
                let op = self.key(EXPR_OPS)?;
                let args = self.several(4, |g| Ok((g.key(EXPR_ARGS)?, g.expression(depth - 1)?)))?;
                RawBson::Document(doc([(op, RawBson::Document(doc(args)))]))
            }
            _ => {
                // An object expression.
                let fields = self.several(3, |g| Ok((g.key(DATA_FIELDS)?, g.expression(depth - 1)?)))?;
                RawBson::Document(doc(fields))
            }
        })
    }

    fn literal(&mut self) -> Result<RawBson> {
        if self.chance(1, 8)? {
            self.any(2)
        } else if self.chance(1, 2)? {
            self.int()
        } else {
            Ok(RawBson::String(self.string()?))
        }
    }

    fn filter(&mut self, depth: usize) -> Result<RawDocumentBuf> {
        let pairs = self.several(3, |g| g.filter_clause(depth))?;
        Ok(doc(pairs))
    }

    /// One field of a filter: a condition on a field, or a top-level operator.
    fn filter_clause(&mut self, depth: usize) -> Result<(String, RawBson)> {
        if depth == 0 || !self.spend() {
            return Ok((self.pick(DATA_FIELDS)?.to_owned(), self.literal()?));
        }
        Ok(match self.u.int_in_range(0..=9)? {
            0..=3 => {
                let op = self.key(QUERY_OPS)?;
                let operand = self.query_operand(&op, depth - 1)?;
                (self.key(DATA_FIELDS)?, RawBson::Document(doc([(op, operand)])))
            }
            4..=5 => (self.key(DATA_FIELDS)?, self.literal()?),
            6 => {
                let op = self.pick(&["$and", "$or", "$nor"])?.to_owned();
                let clauses = self.several(3, |g| Ok(RawBson::Document(g.filter(depth - 1)?)))?;
                (op, array(clauses))
            }
            7 => ("$expr".into(), self.expression(depth)?),
            8 => {
                let op = self.key(QUERY_OPS)?;
                let operand = self.query_operand(&op, depth - 1)?;
                (op, operand)
            }
            _ => (self.key(DATA_FIELDS)?, self.any(depth)?),
        })
    }

    fn query_operand(&mut self, op: &str, depth: usize) -> Result<RawBson> {
        Ok(match op {
            "$in" | "$nin" | "$all" => {
                let values = self.several(4, Self::literal)?;
                array(values)
            }
            "$exists" => RawBson::Boolean(self.u.arbitrary()?),
            "$type" => {
                if self.chance(1, 2)? {
                    RawBson::String(self.pick(&["string", "number", "object", "array", "double", "bogus"])?.into())
                } else {
                    self.int()?
                }
            }
            "$size" | "$bitsAllSet" | "$bitsAnySet" | "$bitsAllClear" | "$bitsAnyClear" => self.int()?,
            "$mod" => array([self.int()?, self.int()?]),
            "$elemMatch" | "$not" => RawBson::Document(self.filter(depth)?),
            "$regex" => RawBson::String(self.pick(&["^a", "a.*b", "(", "\\d+", ""])?.into()),
            "$text" => RawBson::Document(doc([("$search".into(), RawBson::String(self.string()?))])),
            "$where" => RawBson::String("return true".into()),
            "$expr" => self.expression(depth)?,
            "$near" | "$nearSphere" | "$geoWithin" | "$geoIntersects" => RawBson::Document(doc([(
                self.pick(&["$geometry", "$box", "$center", "$centerSphere", "$polygon"])?.into(),
                RawBson::Document(doc([
                    ("type".into(), RawBson::String(self.pick(&["Point", "Polygon", "LineString", "bogus"])?.into())),
                    ("coordinates".into(), array([self.number()?, self.number()?])),
                ])),
            )])),
            "$and" | "$or" | "$nor" => array([RawBson::Document(self.filter(depth)?)]),
            _ => self.literal()?,
        })
    }

    fn projection(&mut self) -> Result<RawDocumentBuf> {
        let pairs = self.several(3, |g| {
            let value = match g.u.int_in_range(0..=4)? {
                0 => RawBson::Int32(0),
                1 => RawBson::Int32(1),
                2 => RawBson::Boolean(g.u.arbitrary()?),
                3 => RawBson::Document(doc([(g.pick(&["$slice", "$elemMatch", "$meta"])?.into(), g.literal()?)])),
                _ => g.expression(2)?,
            };
            Ok((g.key(DATA_FIELDS)?, value))
        })?;
        Ok(doc(pairs))
    }

    fn sort(&mut self) -> Result<RawDocumentBuf> {
        let pairs = self.several(3, |g| {
            let value = match g.u.int_in_range(0..=4)? {
                0 => RawBson::Int32(1),
                1 => RawBson::Int32(-1),
                2 => RawBson::Document(doc([("$meta".into(), RawBson::String("textScore".into()))])),
                _ => g.literal()?,
            };
            Ok((g.key(DATA_FIELDS)?, value))
        })?;
        Ok(doc(pairs))
    }

    fn update(&mut self, depth: usize) -> Result<RawBson> {
        Ok(match self.u.int_in_range(0..=5)? {
            0..=3 => {
                let ops = self.several(3, |g| {
                    let op = g.key(UPDATE_OPS)?;
                    let fields = g.several(2, |g| {
                        let value = match op.as_str() {
                            "$push" | "$addToSet" if g.chance(1, 3)? => RawBson::Document(doc([
                                ("$each".into(), array([g.literal()?, g.literal()?])),
                                ("$position".into(), g.int()?),
                                ("$slice".into(), g.int()?),
                                ("$sort".into(), g.int()?),
                            ])),
                            "$pull" if g.chance(1, 2)? => RawBson::Document(g.filter(depth)?),
                            "$bit" => RawBson::Document(doc([(g.pick(&["and", "or", "xor"])?.into(), g.int()?)])),
                            "$currentDate" => RawBson::Boolean(true),
                            "$rename" => RawBson::String(g.pick(DATA_FIELDS)?.into()),
                            _ => g.literal()?,
                        };
                        Ok((g.key(DATA_FIELDS)?, value))
                    })?;
                    Ok((op, RawBson::Document(doc(fields))))
                })?;
                RawBson::Document(doc(ops))
            }
            4 => RawBson::Document(self.document(2)?), // a replacement document
            _ => self.pipeline(depth)?,                // an update pipeline
        })
    }

    fn stage(&mut self, depth: usize) -> Result<RawBson> {
        let name = self.key(STAGES)?;
        let spec = match name.as_str() {
            "$match" => RawBson::Document(self.filter(depth)?),
            "$project" | "$addFields" | "$set" | "$replaceRoot" | "$replaceWith" => match name.as_str() {
                "$replaceRoot" => RawBson::Document(doc([("newRoot".into(), self.expression(depth)?)])),
                "$replaceWith" => self.expression(depth)?,
                "$project" => RawBson::Document(self.projection()?),
                _ => {
                    let fields = self.several(3, |g| Ok((g.key(DATA_FIELDS)?, g.expression(depth)?)))?;
                    RawBson::Document(doc(fields))
                }
            },
            "$unset" => RawBson::String(self.pick(DATA_FIELDS)?.into()),
            "$group" => {
                let mut fields = vec![("_id".to_string(), self.expression(depth)?)];
                let accumulators = self.several(3, |g| {
                    let acc = g.pick(&[
                        "$sum",
                        "$avg",
                        "$min",
                        "$max",
                        "$first",
                        "$last",
                        "$push",
                        "$addToSet",
                        "$count",
                        "$top",
                        "$bottomN",
                        "$bogus",
                    ])?;
                    Ok((g.key(DATA_FIELDS)?, RawBson::Document(doc([(acc.into(), g.expression(depth)?)]))))
                })?;
                fields.extend(accumulators);
                RawBson::Document(doc(fields))
            }
            "$sort" => RawBson::Document(self.sort()?),
            "$limit" | "$skip" | "$sample" => match name.as_str() {
                "$sample" => RawBson::Document(doc([("size".into(), self.int()?)])),
                _ => self.int()?,
            },
            "$count" | "$sortByCount" => {
                if name == "$count" {
                    RawBson::String(self.string()?)
                } else {
                    self.expression(depth)?
                }
            }
            "$unwind" => {
                if self.chance(1, 2)? {
                    RawBson::String(self.path()?)
                } else {
                    RawBson::Document(doc([
                        ("path".into(), RawBson::String(self.path()?)),
                        ("includeArrayIndex".into(), RawBson::String(self.string()?)),
                        ("preserveNullAndEmptyArrays".into(), RawBson::Boolean(self.u.arbitrary()?)),
                    ]))
                }
            }
            "$lookup" | "$graphLookup" | "$unionWith" => {
                let mut fields = vec![(
                    if name == "$unionWith" { "coll" } else { "from" }.to_string(),
                    RawBson::String(self.collection()?),
                )];
                if self.chance(1, 2)? {
                    fields.push(("localField".into(), RawBson::String(self.pick(DATA_FIELDS)?.into())));
                    fields.push(("foreignField".into(), RawBson::String(self.pick(DATA_FIELDS)?.into())));
                }
                if name == "$graphLookup" {
                    fields.push(("startWith".into(), self.expression(1)?));
                    fields.push(("connectFromField".into(), RawBson::String(self.pick(DATA_FIELDS)?.into())));
                    fields.push(("connectToField".into(), RawBson::String(self.pick(DATA_FIELDS)?.into())));
                    fields.push(("maxDepth".into(), self.int()?));
                }
                if depth > 0 && self.chance(1, 2)? {
                    fields.push(("pipeline".into(), self.pipeline(depth - 1)?));
                    fields.push(("let".into(), RawBson::Document(self.let_vars()?)));
                }
                fields.push(("as".into(), RawBson::String(self.pick(DATA_FIELDS)?.into())));
                RawBson::Document(doc(fields))
            }
            "$facet" if depth > 0 => {
                let fields = self.several(2, |g| Ok((g.key(DATA_FIELDS)?, g.pipeline(depth - 1)?)))?;
                RawBson::Document(doc(fields))
            }
            "$bucket" | "$bucketAuto" => RawBson::Document(doc([
                ("groupBy".into(), self.expression(1)?),
                ("boundaries".into(), array([self.int()?, self.int()?])),
                ("buckets".into(), self.int()?),
                ("default".into(), self.literal()?),
                (
                    "output".into(),
                    RawBson::Document(doc([(
                        "n".into(),
                        RawBson::Document(doc([("$sum".into(), RawBson::Int32(1))])),
                    )])),
                ),
            ])),
            "$out" => {
                if self.chance(1, 2)? {
                    RawBson::String(self.collection()?)
                } else {
                    RawBson::Document(doc([
                        ("db".into(), RawBson::String(self.database()?)),
                        ("coll".into(), RawBson::String(self.collection()?)),
                    ]))
                }
            }
            "$merge" => RawBson::Document(doc([
                ("into".into(), RawBson::String(self.collection()?)),
                ("on".into(), RawBson::String(self.pick(DATA_FIELDS)?.into())),
                (
                    "whenMatched".into(),
                    RawBson::String(self.pick(&["merge", "replace", "keepExisting", "fail", "bogus"])?.into()),
                ),
                ("whenNotMatched".into(), RawBson::String(self.pick(&["insert", "discard", "fail"])?.into())),
            ])),
            "$documents" => {
                let docs = self.several(3, |g| Ok(RawBson::Document(g.document(2)?)))?;
                array(docs)
            }
            "$listLocalSessions" => RawBson::Document(if self.chance(1, 2)? {
                doc([("allUsers".into(), RawBson::Boolean(self.u.arbitrary()?))])
            } else {
                RawDocumentBuf::new()
            }),
            "$currentOp" => RawBson::Document(doc([("allUsers".into(), RawBson::Boolean(self.u.arbitrary()?))])),
            "$collStats" => RawBson::Document(doc([("storageStats".into(), RawBson::Document(RawDocumentBuf::new()))])),
            "$indexStats" => RawBson::Document(RawDocumentBuf::new()),
            "$redact" => self.expression(depth)?,
            "$setWindowFields" => RawBson::Document(doc([
                ("partitionBy".into(), self.expression(1)?),
                ("sortBy".into(), RawBson::Document(self.sort()?)),
                (
                    "output".into(),
                    RawBson::Document(doc([(
                        "w".into(),
                        RawBson::Document(doc([
                            ("$sum".into(), self.expression(1)?),
                            (
                                "window".into(),
                                RawBson::Document(doc([("documents".into(), array([self.int()?, self.int()?]))])),
                            ),
                        ])),
                    )])),
                ),
            ])),
            _ => self.any(2)?,
        };
        Ok(RawBson::Document(doc([(name, spec)])))
    }

    fn pipeline(&mut self, depth: usize) -> Result<RawBson> {
        let stages = self.several(4, |g| g.stage(depth))?;
        Ok(array(stages))
    }

    fn let_vars(&mut self) -> Result<RawDocumentBuf> {
        let vars =
            self.several(2, |g| Ok((g.pick(&["x", "e", "v", "ROOT", "1bad", ""])?.to_string(), g.expression(1)?)))?;
        Ok(doc(vars))
    }

    fn session_id(&mut self) -> Result<RawBson> {
        let id: [u8; 16] = match self.ctx.session_ids.as_slice() {
            ids @ [_, ..] if self.chance(2, 3)? => *self.u.choose(ids)?,
            _ => [self.u.int_in_range(0..=3)?; 16],
        };
        Ok(RawBson::Document(doc([(
            "id".into(),
            RawBson::Binary(Binary { subtype: BinarySubtype::Uuid, bytes: id.to_vec() }),
        )])))
    }

    fn cursor_id(&mut self) -> Result<RawBson> {
        Ok(match self.ctx.cursor_ids.as_slice() {
            ids @ [_, ..] if self.chance(4, 5)? => RawBson::Int64(*self.u.choose(ids)?),
            _ => match self.u.int_in_range(0..=4)? {
                0 => RawBson::Int64(0),
                1 => RawBson::Int64(1),
                2 => RawBson::Int32(7),
                3 => RawBson::Int64(i64::MIN),
                _ => RawBson::Double(1.0),
            },
        })
    }

    fn value_of(&mut self, kind: Kind) -> Result<RawBson> {
        // Now and then anything at all, to reach the type checks.
        if !matches!(kind, Kind::Any) && self.chance(1, 30)? {
            return self.any(2);
        }
        Ok(match kind {
            K::Any => self.any(3)?,
            K::Bool => {
                if self.chance(5, 6)? {
                    RawBson::Boolean(self.u.arbitrary()?)
                } else {
                    self.int()?
                }
            }
            K::Int => self.int()?,
            K::Number => self.number()?,
            K::Str => RawBson::String(self.string()?),
            K::Coll => RawBson::String(if self.chance(19, 20)? { self.collection()? } else { self.string()? }),
            K::Namespace => RawBson::String(format!("{}.{}", self.database()?, self.collection()?)),
            K::DataField => RawBson::String(self.key(DATA_FIELDS)?),
            K::Filter => RawBson::Document(self.filter(3)?),
            K::Projection => RawBson::Document(self.projection()?),
            K::Sort => RawBson::Document(self.sort()?),
            K::Pipeline => self.pipeline(2)?,
            K::Update => self.update(2)?,
            K::Doc => RawBson::Document(self.document(2)?),
            K::Docs => {
                let docs = self.several(4, |g| {
                    let mut d = g.document(2)?;
                    if g.chance(1, 2)? {
                        let id = g.literal()?;
                        let mut with_id = RawDocumentBuf::new();
                        with_id.append(cstring("_id"), id);
                        for (k, v) in d.iter().flatten() {
                            with_id.append(k, v);
                        }
                        d = with_id;
                    }
                    Ok(RawBson::Document(d))
                })?;
                array(docs)
            }
            K::Updates => {
                let updates = self.several(3, |g| {
                    let mut fields =
                        vec![("q".to_string(), RawBson::Document(g.filter(2)?)), ("u".into(), g.update(1)?)];
                    for field in ["upsert", "multi", "arrayFilters", "collation", "hint"] {
                        if g.chance(1, 4)? {
                            fields.push((field.into(), g.value_of(field_kind("update", field))?));
                        }
                    }
                    Ok(RawBson::Document(doc(fields)))
                })?;
                array(updates)
            }
            K::Deletes => {
                let deletes = self.several(3, |g| {
                    Ok(RawBson::Document(doc([
                        ("q".to_string(), RawBson::Document(g.filter(2)?)),
                        ("limit".into(), RawBson::Int32(g.u.int_in_range(0..=2)?)),
                    ])))
                })?;
                array(deletes)
            }
            K::Indexes => {
                let indexes = self.several(3, |g| {
                    let key = g.several(3, |g| {
                        let kind = match g.u.int_in_range(0..=6)? {
                            0..=2 => RawBson::Int32(1),
                            3 => RawBson::Int32(-1),
                            4 => RawBson::String(g.pick(&["text", "hashed", "2dsphere", "2d", "bogus"])?.into()),
                            _ => g.literal()?,
                        };
                        Ok((g.key(DATA_FIELDS)?, kind))
                    })?;
                    let mut fields = vec![
                        ("key".to_string(), RawBson::Document(doc(key))),
                        ("name".into(), RawBson::String(g.pick(&["i1", "i2", "a_1", "_id_", "", "*"])?.into())),
                    ];
                    for field in [
                        "unique",
                        "sparse",
                        "hidden",
                        "expireAfterSeconds",
                        "partialFilterExpression",
                        "collation",
                        "weights",
                        "wildcardProjection",
                        "background",
                    ] {
                        if g.chance(1, 6)? {
                            fields.push((field.into(), g.value_of(field_kind("createIndexes", field))?));
                        }
                    }
                    Ok(RawBson::Document(doc(fields)))
                })?;
                array(indexes)
            }
            K::IndexRef => match self.u.int_in_range(0..=3)? {
                0 => RawBson::String(self.pick(&["i1", "i2", "a_1", "_id_", "*", "$natural"])?.into()),
                1 => RawBson::Document(self.sort()?),
                2 => array([RawBson::String("i1".into()), RawBson::String("a_1".into())]),
                _ => RawBson::Document(doc([("$natural".into(), RawBson::Int32(-1))])),
            },
            K::Collation => RawBson::Document(doc([
                ("locale".into(), RawBson::String(self.pick(&["en", "simple", "fr", "bogus", ""])?.into())),
                ("strength".into(), self.int()?),
            ])),
            K::CursorOpt => RawBson::Document(if self.chance(2, 3)? {
                doc([("batchSize".into(), self.int()?)])
            } else {
                RawDocumentBuf::new()
            }),
            K::CursorId => self.cursor_id()?,
            K::CursorIds => {
                let ids = self.several(3, Self::cursor_id)?;
                array(ids)
            }
            K::WriteConcern => RawBson::Document(doc([
                ("w".into(), if self.chance(1, 2)? { self.int()? } else { RawBson::String("majority".into()) }),
                ("j".into(), RawBson::Boolean(self.u.arbitrary()?)),
                ("wtimeout".into(), self.int()?),
            ])),
            K::ReadConcern => RawBson::Document(doc([(
                "level".into(),
                RawBson::String(
                    self.pick(&["local", "majority", "snapshot", "linearizable", "available", "bogus"])?.into(),
                ),
            )])),
            K::Let => RawBson::Document(self.let_vars()?),
            K::UserName => {
                RawBson::String(if self.chance(9, 10)? { self.pick(FUZZ_USERS)?.into() } else { self.string()? })
            }
            K::Roles => {
                let roles = self.several(3, |g| {
                    let role = g.pick(ROLES)?;
                    Ok(if g.chance(1, 2)? {
                        RawBson::String(role.into())
                    } else {
                        RawBson::Document(doc([
                            ("role".into(), RawBson::String(role.into())),
                            ("db".into(), RawBson::String(g.database()?)),
                        ]))
                    })
                })?;
                array(roles)
            }
            K::SessionIds => {
                let ids = self.several(3, Self::session_id)?;
                array(ids)
            }
            K::UserList => {
                let users = self.several(2, |g| {
                    Ok(RawBson::Document(doc([
                        ("user".into(), RawBson::String(g.pick(&["postgres", "fuzz_u0", "nobody"])?.into())),
                        ("db".into(), RawBson::String(g.pick(&["admin", FUZZ_DB])?.into())),
                    ])))
                })?;
                array(users)
            }
            K::FailPointMode => match self.u.int_in_range(0..=3)? {
                0 => RawBson::String("alwaysOn".into()),
                1 => RawBson::String("off".into()),
                2 => RawBson::Document(doc([("times".into(), self.int()?)])),
                _ => RawBson::Document(doc([("skip".into(), self.int()?)])),
            },
            K::FailPointData => {
                let names = self.several(3, |g| {
                    Ok(RawBson::String(
                        g.pick(&["find", "insert", "ping", "hello", "aggregate", "getMore", "configureFailPoint"])?
                            .into(),
                    ))
                })?;
                let mut fields = vec![("failCommands".to_string(), array(names))];
                for field in
                    ["errorCode", "closeConnection", "blockConnection", "writeConcernError", "errorLabels", "appName"]
                {
                    if self.chance(1, 3)? {
                        fields.push((field.into(), self.value_of(field_kind("configureFailPoint", field))?));
                    }
                }
                if self.chance(1, 3)? {
                    // Short blocks only: the fuzzer must keep moving.
                    fields.push(("blockTimeMS".into(), RawBson::Int32(self.u.int_in_range(0..=20)?)));
                }
                RawBson::Document(doc(fields))
            }
            K::SaslPayload => {
                let text = match self.u.int_in_range(0..=3)? {
                    0 => "n,,n=postgres,r=fyko+d2lbbFgONRv9qkxdawL".to_string(),
                    1 => "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=".into(),
                    2 => "n,,n=fuzz_u0,r=abc".into(),
                    _ => self.string()?,
                };
                if self.chance(1, 2)? {
                    RawBson::Binary(Binary { subtype: BinarySubtype::Generic, bytes: text.into_bytes() })
                } else {
                    RawBson::String(text)
                }
            }
            K::ClientInfo => RawBson::Document(doc([
                ("application".into(), RawBson::Document(doc([("name".into(), RawBson::String(self.string()?))]))),
                ("driver".into(), RawBson::Document(doc([("name".into(), RawBson::String("fuzz".into()))]))),
            ])),
            K::Explainable => {
                let (name, own, fields) = *self.u.choose(&COMMANDS[..8])?;
                RawBson::Document(self.command_fields(name, own, fields)?)
            }
        })
    }

    /// The command document without `$db`: its own value, then typed and extra fields.
    fn command_fields(&mut self, name: &str, own: Kind, fields: &[&str]) -> Result<RawDocumentBuf> {
        let mut pairs = Vec::new();
        pairs.push((name.to_string(), self.value_of(own)?));
        for &field in fields {
            if self.chance(1, 3)? {
                pairs.push((field.to_string(), self.value_of(field_kind(name, field))?));
            }
        }
        let extra = if self.chance(1, 3)? { self.count(2)? } else { 0 };
        for _ in 0..extra {
            let field = self.key(GENERIC_FIELDS)?;
            let value = match field.as_str() {
                "lsid" => self.session_id()?,
                "$db" => RawBson::String(self.database()?),
                _ => self.any(2)?,
            };
            pairs.push((field, value));
        }
        Ok(doc(pairs))
    }
}

/// The next command of an input.
pub fn message(u: &mut Unstructured, ctx: &Context) -> Result<Message> {
    let mut g = Gen::new(u, ctx);
    let (name, own, fields) = if g.chance(1, 25)? {
        // A command name the gateway may not have (or a typo of one it has).
        let name: String = g.string()?;
        (name, K::Int, &[][..])
    } else {
        let (name, own, fields) = *g.u.choose(COMMANDS)?;
        (name.to_string(), own, fields)
    };
    let mut body = g.command_fields(&name, own, fields)?;
    let db = g.database()?;
    let with_lsid = g.chance(1, 4)?;
    if with_lsid {
        let lsid = g.session_id()?;
        body.append(cstring("lsid"), lsid);
    }
    let legacy = g.chance(1, 20)?;
    if !legacy && g.chance(19, 20)? {
        body.append(cstring("$db"), db.clone());
    }
    let mut message = Message::new(body);
    if legacy {
        message.legacy_query_db = Some(db);
        return Ok(message);
    }
    // Move an array field into a kind-1 document sequence (insert/update/delete take theirs
    // as a SQL parameter; any other is merged back into the body).
    if g.chance(1, 4)? {
        let target = match name.as_str() {
            "insert" => "documents",
            "update" => "updates",
            "delete" => "deletes",
            _ => *g.u.choose(&["documents", "pipeline", "cursors", "indexes", "roles"])?,
        };
        message = split_sequence(message, target);
    }
    message.flags = match g.u.int_in_range(0..=15)? {
        0 => protocol::FLAG_CHECKSUM_PRESENT,
        1 => protocol::FLAG_MORE_TO_COME,
        2 => protocol::FLAG_EXHAUST_ALLOWED,
        _ => 0,
    };
    message.compressor = match g.u.int_in_range(0..=11)? {
        0 => Some(Compressor::Zlib),
        1 => Some(Compressor::Snappy),
        2 => Some(Compressor::Zstd),
        3 => Some(Compressor::Noop),
        _ => None,
    };
    Ok(message)
}

/// Moves the array field `target` of the body (its documents) into a document sequence.
fn split_sequence(mut message: Message, target: &str) -> Message {
    let mut body = RawDocumentBuf::new();
    let mut docs = Vec::new();
    let mut moved = false;
    for (k, v) in message.body.iter().flatten() {
        match v {
            bson::RawBsonRef::Array(a) if !moved && k.as_str() == target => {
                moved = true;
                for item in a.into_iter().flatten() {
                    if let bson::RawBsonRef::Document(d) = item {
                        docs.push(d.to_owned());
                    }
                }
            }
            _ => body.append(k, v),
        }
    }
    if moved {
        message.body = body;
        message.sequences.push((target.to_owned(), docs));
    }
    message
}
