#!/usr/bin/env python3
"""MongoDB's authorization model through the gateway with pymongo, and from psql as the mapped
PostgreSQL roles (issue #11): users of an authentication database, the built-in roles with the
privileges the MongoDB manual documents, user-defined roles, no privilege escalation, and 13
Unauthorized for every refusal.

- A generated matrix: every built-in role x {its own database A, another database B, admin} x
  {find, insert, update, delete, createIndex, drop, create, listCollections, listDatabases,
  createUser, grantRolesToUser, serverStatus, killOp, dropDatabase}, each cell allowed or 13
  exactly as the role's documented actions say (the table below is data: each role's actions
  and resources; the expectation of a cell is derived from it), and a command that is refused
  has no effect. The same cells from psql (SET ROLE to the user's PostgreSQL role), where a
  refusal is SQLSTATE 42501 or the extension's code 13 and the collection's table itself is
  closed to the role.
- Escalation attempts of a userAdmin of one database (gateway and psql), user-defined roles
  (collection privileges, grant/revoke, inheritance, scope: 49 InvalidRoleModification),
  the same user name in two databases, usersInfo of oneself, the error codes of user and role
  management (11, 31, 51002, 51003), listDatabases/listCollections filtering, currentOp/killOp.

Run:   python3 tests/e2e/test_authz.py --uri 'mongodb://admin:pw@127.0.0.1:10260/?directConnection=true' \
           [--pg-uri 'postgresql://postgres:pw@127.0.0.1:9712/postgres']
The URI's user must hold root. The psql tests use --pg-uri (default: $POSTGRES_URI, else
data/postgres.uri) and psycopg 3; without them they are skipped.
Prints PASS/FAIL per test, then 'N passed, N failed, N skipped', and exits non-zero on any failure.
"""
import itertools
import json
import os
import secrets
import sys
import uuid

import pymongo
from pymongo import uri_parser
from pymongo.errors import OperationFailure, PyMongoError

try:
    import psycopg
    from psycopg import sql as pgsql
except ImportError:  # the psql tests skip
    psycopg = None
    pgsql = None

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402 - tests/harness.py, the runner shared by the suites

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
URI = os.environ.get("GATEWAY_URI", "")


def default_pg_uri():
    """$POSTGRES_URI, else the dev cluster's data/postgres.uri, else ""."""
    if os.environ.get("POSTGRES_URI"):
        return os.environ["POSTGRES_URI"]
    path = os.path.join(ROOT, "data", "postgres.uri")
    if os.path.exists(path):
        with open(path) as f:
            return f.read().strip()
    return ""


PG_URI = default_pg_uri()
RUN = uuid.uuid4().hex[:8]
PREFIX = "authz_" + RUN
SEQ = itertools.count(1)
_admin = []
_pg = []

# ---------------------------------------------------------------- the manual's built-in roles
#
# MongoDB manual, "Built-In Roles" (https://www.mongodb.com/docs/manual/reference/built-in-roles/,
# the privileges rolesInfo {showPrivileges: true, showBuiltinRoles: true} reports) and
# "Privilege Actions" (https://www.mongodb.com/docs/manual/reference/privilege-actions/).
# Resources: OWN = the database the role is granted on ({db: <A>, collection: ""}),
# ANY_NORMAL = {db: "", collection: ""} (every database but local and config, non-system
# collections), ANY = {anyResource: true}, CLUSTER = {cluster: true}. Left out: privileges
# on system collections (system.js, system.profile, system.users, ...) and on the local and
# config databases, which no cell touches, and the empty placeholder directShardOperations.
OWN, ANY_NORMAL, ANY, CLUSTER = ("own",), ("anyNormal",), ("any",), ("cluster",)

READ = ("changeStream", "collStats", "dbHash", "dbStats", "find", "killCursors", "listCollections",
        "listIndexes", "listSearchIndexes", "planCacheRead")
READ_WRITE = READ + ("convertToCapped", "createCollection", "createIndex", "createSearchIndexes",
                     "dropCollection", "dropIndex", "dropSearchIndex", "insert", "remove",
                     "renameCollectionSameDB", "update", "updateSearchIndex")
DB_ADMIN = ("analyze", "bypassDocumentValidation", "collMod", "collStats", "compact", "convertToCapped",
            "createCollection", "createIndex", "createSearchIndexes", "dbStats", "dropCollection",
            "dropDatabase", "dropIndex", "dropSearchIndex", "enableProfiler", "listCollections", "listIndexes",
            "listSearchIndexes", "planCacheIndexFilter", "planCacheRead", "planCacheWrite", "reIndex",
            "renameCollectionSameDB", "storageDetails", "updateSearchIndex", "validate")
USER_ADMIN = ("changeCustomData", "changePassword", "createRole", "createUser", "dropRole", "dropUser",
              "grantRole", "revokeRole", "setAuthenticationRestriction", "viewRole", "viewUser")
CLUSTER_MONITOR = ("allCollectionStats", "connPoolStats", "getCmdLineOpts", "getDefaultRWConcern", "getLog",
                   "getParameter", "getShardMap", "hostInfo", "inprog", "listDatabases", "listSampledQueries",
                   "listSessions", "listShards", "netstat", "operationMetrics", "replSetGetConfig",
                   "replSetGetStatus", "serverStatus", "shardedDataDistribution", "shardingState", "top",
                   "useUUID")
HOST_MANAGER = ("applicationMessage", "auditConfigure", "connPoolSync", "dropConnections", "flushRouterConfig",
                "fsync", "invalidateUserCache", "killAnyCursor", "killAnySession", "killop", "logRotate",
                "oidReset", "replSetResizeOplog", "resync", "rotateCertificates", "setParameter", "shutdown",
                "touch", "trafficRecord", "unlock")
CLUSTER_MANAGER = ("addShard", "appendOplogNote", "applicationMessage", "checkMetadataConsistency",
                   "cleanupOrphaned", "flushRouterConfig", "getClusterParameter", "getDefaultRWConcern",
                   "listSessions", "listShards", "removeShard", "replSetConfigure", "replSetGetConfig",
                   "replSetGetStatus", "replSetStateChange", "resync", "setClusterParameter",
                   "setDefaultRWConcern", "setFeatureCompatibilityVersion")
CLUSTER_MANAGER_DB = ("analyzeShardKey", "clearJumboFlag", "configureQueryAnalyzer", "enableSharding",
                      "moveChunk", "refineCollectionShardKey", "reshardCollection", "splitChunk", "splitVector")
RESTORE_WRITE = ("bypassDocumentValidation", "collMod", "convertToCapped", "createCollection", "createIndex",
                 "dropCollection", "insert")

# role -> {database: granted on any database (else admin only), privileges: [(resource, actions)],
# roles: the built-in roles it inherits}
BUILTIN_ROLES = {
    "read": {"database": True, "privileges": [(OWN, READ)]},
    "readWrite": {"database": True, "privileges": [(OWN, READ_WRITE)]},
    "dbAdmin": {"database": True, "privileges": [(OWN, DB_ADMIN)]},
    "dbOwner": {"database": True, "roles": ["readWrite", "dbAdmin", "userAdmin"]},
    "userAdmin": {"database": True, "privileges": [(OWN, USER_ADMIN)]},
    "readAnyDatabase": {"privileges": [(ANY_NORMAL, READ), (CLUSTER, ("listDatabases",))]},
    "readWriteAnyDatabase": {"roles": ["readAnyDatabase"], "privileges": [(ANY_NORMAL, READ_WRITE)]},
    "dbAdminAnyDatabase": {"privileges": [(ANY_NORMAL, DB_ADMIN), (CLUSTER, ("applyOps", "listDatabases"))]},
    "userAdminAnyDatabase": {"privileges": [
        (ANY_NORMAL, USER_ADMIN + ("listCachedAndActiveUsers",)),
        (CLUSTER, ("authSchemaUpgrade", "invalidateUserCache", "listDatabases", "viewUser"))]},
    "clusterMonitor": {"privileges": [
        (CLUSTER, CLUSTER_MONITOR),
        (ANY_NORMAL, ("collStats", "dbStats", "getDatabaseVersion", "getShardVersion", "indexStats"))]},
    "clusterManager": {"privileges": [(CLUSTER, CLUSTER_MANAGER), (ANY_NORMAL, CLUSTER_MANAGER_DB),
                                      (ANY, ("dbCheck",))]},
    "clusterAdmin": {"roles": ["clusterMonitor", "hostManager", "clusterManager"],
                     "privileges": [(ANY_NORMAL, ("dropDatabase",)),
                                    (ANY, ("exportCollection", "importCollection"))]},
    "hostManager": {"privileges": [(CLUSTER, HOST_MANAGER), (ANY_NORMAL, ("killCursors",))]},
    "backup": {"privileges": [
        (ANY, ("collStats", "listCollections", "listIndexes", "listSearchIndexes")),
        (ANY_NORMAL, ("find",)),
        (CLUSTER, ("appendOplogNote", "getParameter", "listDatabases", "serverStatus", "setUserWriteBlockMode",
                   "useUUID"))]},
    "restore": {"privileges": [
        (CLUSTER, ("applyOps", "bypassWriteBlockingMode", "forceUUID", "getParameter", "setUserWriteBlockMode",
                   "useUUID")),
        (ANY, ("listCollections",)),
        (ANY_NORMAL, RESTORE_WRITE + USER_ADMIN)]},
    "root": {"roles": ["clusterAdmin", "userAdminAnyDatabase", "dbAdminAnyDatabase", "readWriteAnyDatabase",
                       "backup", "restore"],
             "privileges": [(ANY, ("validate",))]},
}
DATABASE_ROLES = [r for r, spec in BUILTIN_ROLES.items() if spec.get("database")]
ADMIN_ROLES = [r for r, spec in BUILTIN_ROLES.items() if not spec.get("database")]

# What each matrix operation needs (the manual's Privilege Actions page and the "Required
# Access" section of each command's page): a list of alternatives, each a tuple of (action,
# resource) pairs that must all be held; "ns" is the target collection, "db" the target
# database. adminOnly commands run on another database are refused with 13 ("... may only be
# run against the admin database.") whatever the user holds. listDatabases is never refused
# on admin: without the listDatabases action it lists the databases the user has privileges
# on. create needs createCollection, or insert on the namespace. createUser grants read on the
# target database, so it needs grantRole there too. killOp of an operation that is not the
# user's own (here: an unknown id) needs killop. dropDatabase of admin, when allowed, is
# MongoDB's 20 IllegalOperation ("Dropping the 'admin' database is prohibited."), accepted as
# well as success; that cell is left out when admin holds collections this run did not make.
OPERATIONS = {
    "find": ([(("find", "ns"),)], False),
    "insert": ([(("insert", "ns"),)], False),
    "update": ([(("update", "ns"),)], False),
    "delete": ([(("remove", "ns"),)], False),
    "createIndex": ([(("createIndex", "ns"),)], False),
    "dropCollection": ([(("dropCollection", "ns"),)], False),
    "createCollection": ([(("createCollection", "ns"),), (("insert", "ns"),)], False),
    "listCollections": ([(("listCollections", "db"),)], False),
    "listDatabases": ([], True),
    "createUser": ([(("createUser", "db"), ("grantRole", "db"))], False),
    "grantRolesToUser": ([(("grantRole", "db"),)], False),
    "serverStatus": ([(("serverStatus", "cluster"),)], False),
    "killOp": ([(("killop", "cluster"),)], True),
    "dropDatabase": ([(("dropDatabase", "db"),)], False),
}
SQL_OPERATIONS = [op for op in OPERATIONS if op not in ("serverStatus", "killOp")]
NON_NORMAL_DATABASES = ("local", "config")


def role_privileges(role, own_db):
    """(resource, actions) of a built-in role and of the roles it inherits, OWN made concrete."""
    spec = BUILTIN_ROLES[role]
    out = [(("db", own_db) if res == OWN else res, frozenset(actions)) for res, actions in spec.get("privileges", ())]
    for inherited in spec.get("roles", ()):
        out.extend(role_privileges(inherited, own_db))
    return out


def matches(resource, target):
    """Whether a privilege's resource covers a target: ("cluster",), ("db", d) or ("ns", d, c)."""
    if resource == ANY:
        return True
    if target == CLUSTER or resource == CLUSTER:
        return resource == target
    if resource == ANY_NORMAL:
        return target[1] not in NON_NORMAL_DATABASES
    return resource == ("db", target[1])


def holds(privileges, action, target):
    return any(action in actions and matches(res, target) for res, actions in privileges)


def visible_in_list_databases(privileges, db):
    """Listed by listDatabases without the listDatabases action: some privilege in the database."""
    return any(actions and res != CLUSTER and matches(res, ("db", db)) for res, actions in privileges)


def expected_allowed(op, privileges, db, coll):
    alternatives, admin_only = OPERATIONS[op]
    if admin_only and db != "admin":
        return False
    if op == "listDatabases":
        return True
    targets = {"ns": ("ns", db, coll), "db": ("db", db), "cluster": CLUSTER}
    return any(all(holds(privileges, a, targets[kind]) for a, kind in alt) for alt in alternatives)


# ---------------------------------------------------------------- clients and cleanup


def adm():
    """The root client of --uri."""
    if not _admin:
        _admin.append(pymongo.MongoClient(URI, serverSelectionTimeoutMS=5000))
    return _admin[0]


def pg():
    """A superuser psycopg connection to --pg-uri (autocommit), or Skip."""
    if not _pg:
        if psycopg is None:
            raise harness.Skip("psycopg is not installed (pip install 'psycopg[binary]')")
        if not PG_URI:
            raise harness.Skip("no PostgreSQL URI (--pg-uri, $POSTGRES_URI or data/postgres.uri)")
        _pg.append(psycopg.connect(PG_URI, autocommit=True))
    return _pg[0]


def pg_role(db, user):
    """The PostgreSQL role of MongoDB user `user` of authentication database `db`."""
    with pg().cursor() as cur:
        cur.execute("SELECT role_name FROM documentdb_api_catalog.users WHERE user_name = %s AND database_name = %s",
                    (user, db))
        rows = cur.fetchall()
    assert len(rows) == 1, f"documentdb_api_catalog.users has {rows} for {user}@{db}"
    return rows[0][0]


def collection_table(db, coll):
    with pg().cursor() as cur:
        cur.execute("SELECT documentdb_api_internal.collection_table(%s, %s)", (db, coll))
        return cur.fetchone()[0]


def bson_literal(doc):
    """A bson argument for SQL, as the JSON text its input function reads."""
    return pgsql.Literal(json.dumps(doc))


class Made:
    """What a test creates; dropped with the admin client when the test ends, failed or not."""

    def __init__(self):
        self.users, self.roles, self.dbs, self.admin_colls, self.clients = [], [], [], [], []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False

    def database(self, tag, collections=("c",)):
        name = f"{PREFIX}_{tag}{next(SEQ)}"
        self.dbs.append(name)
        for coll in collections:
            adm()[name][coll].insert_one({"_id": "seed", "n": 0})
        return name

    def admin_collection(self):
        name = f"{PREFIX}_c{next(SEQ)}"
        self.admin_colls.append(name)
        adm().admin[name].insert_one({"_id": "seed", "n": 0})
        return name

    def user(self, db, name, roles, pwd=None, **extra):
        pwd = pwd or "pw-" + secrets.token_urlsafe(12)
        self.users.append((db, name))
        adm()[db].command("createUser", name, pwd=pwd, roles=roles, **extra)
        return pwd

    def role(self, db, name, privileges=(), roles=()):
        self.roles.append((db, name))
        adm()[db].command("createRole", name, privileges=list(privileges), roles=list(roles))

    def login(self, user, pwd, source):
        """A client authenticated as user@source (fails on its first command if refused)."""
        parsed = uri_parser.parse_uri(URI)
        host, port = parsed["nodelist"][0]
        options = {k: v for k, v in parsed["options"].items()
                   if k.lower() not in ("authsource", "authmechanism", "directconnection")}
        client = pymongo.MongoClient(host, port, username=user, password=pwd, authSource=source,
                                     directConnection=True, serverSelectionTimeoutMS=5000, **options)
        self.clients.append(client)
        return client

    def cleanup(self):
        for client in self.clients:
            client.close()
        try:
            a = adm()
            for db, name in self.users:
                ignore(lambda: a[db].command("dropUser", name))
            for db, name in self.roles:
                ignore(lambda: a[db].command("dropRole", name))
            for db in self.dbs:  # a dropped database keeps its users and roles, as in MongoDB
                ignore(lambda: a[db].command("dropAllUsersFromDatabase", 1))
                ignore(lambda: a[db].command("dropAllRolesFromDatabase", 1))
                a.drop_database(db)
            for coll in self.admin_colls:
                ignore(lambda: a.admin.command("drop", coll))
        except PyMongoError as e:
            print(f"cleanup failed: {e}", file=sys.stderr)


def ignore(fn):
    try:
        fn()
    except OperationFailure:
        pass


def attempt(fn):
    """(code, errmsg, reply): code None on success; a write error counts as the command's error."""
    try:
        reply = fn()
    except OperationFailure as e:
        return e.code, (e.details or {}).get("errmsg", str(e)), None
    errors = reply.get("writeErrors") if isinstance(reply, dict) else None
    if errors:
        return errors[0].get("code"), errors[0].get("errmsg", ""), reply
    return None, "", reply


def refused(code, fn, db=None):
    """Asserts fn fails with `code` (for 13 on `db`: MongoDB's "not authorized on <db> ...")."""
    got, msg, reply = attempt(fn)
    assert got is not None, f"expected error {code}, got success: {reply}"
    assert got == code, f"expected error {code}, got {got}: {msg}"
    if code == 13 and db is not None:
        assert f"not authorized on {db} to execute command" in msg, msg
    return msg


class Expect:
    """Refusals a test checks without stopping at the first difference, to report them all."""

    def __init__(self):
        self.problems = []

    def refused(self, what, code, fn, db=None):
        try:
            refused(code, fn, db)
        except AssertionError as e:
            self.problems.append(f"{what}: {e}")

    def check(self):
        assert not self.problems, f"{len(self.problems)} differences:\n    " + "\n    ".join(self.problems)


def login_refused(client):
    try:
        client.admin.command("ping")
    except OperationFailure as e:
        assert e.code == 18, f"expected 18 AuthenticationFailed, got {e.code}: {e}"
        return
    raise AssertionError("authenticated with the wrong password or authentication database")


def sql_run(role, query, params=()):
    """Runs `query` as PostgreSQL role `role` (SET ROLE): (sqlstate or None, message, rows)."""
    conn = pg()
    with conn.cursor() as cur:
        cur.execute(pgsql.SQL("SET ROLE {}").format(pgsql.Identifier(role)))
        try:
            cur.execute(query, params)
            return None, "", cur.fetchall() if cur.description else []
        except psycopg.Error as e:
            return e.sqlstate, (e.diag.message_primary or str(e)), None
        finally:
            cur.execute("RESET ROLE")


SQL_DENIED = ("42501", "M000D")  # insufficient_privilege; MongoDB's 13 as the extension's SQLSTATE


def users_named(db, name):
    return adm()[db].command("usersInfo", {"user": name, "db": db})["users"]


def role_names(roles):
    return sorted((r["role"], r["db"]) for r in roles)


# ---------------------------------------------------------------- the matrix


class Cell:
    """One attempt: code (None = success), message, effect (the command's effect is visible
    to the admin afterwards; None when there is nothing to look at), listed (listDatabases)."""

    def __init__(self, code=None, msg="", effect=None, listed=None, skipped=None, raw=()):
        self.code, self.msg, self.effect, self.listed, self.skipped, self.raw = code, msg, effect, listed, skipped, raw


class RoleFixture:
    """A user holding one built-in role (on A for database roles, else on admin), the
    databases A and B and a collection in admin, each with the document {_id: "seed", n: 0}."""

    def __init__(self, made, role):
        self.role = role
        self.a, self.b = made.database("a"), made.database("b")
        self.admin_coll = made.admin_collection()
        self.user_db = self.a if BUILTIN_ROLES[role].get("database") else "admin"
        self.user = f"u_{role}_{RUN}"
        self.pwd = made.user(self.user_db, self.user, [{"role": role, "db": self.user_db}])
        self.privileges = role_privileges(role, self.user_db)
        self.made = made

    @property
    def targets(self):
        return (self.a, self.b, "admin")

    def label(self, db):
        return {self.a: "A", self.b: "B"}.get(db, db)

    def coll(self, db):
        return self.admin_coll if db == "admin" else "c"

    def seed(self, db):
        adm()[db][self.coll(db)].replace_one({"_id": "seed"}, {"_id": "seed", "n": 0}, upsert=True)

    def seed_n(self, db):
        doc = adm()[db][self.coll(db)].find_one({"_id": "seed"})
        return doc and doc.get("n")

    def exists(self, db, coll):
        return coll in adm()[db].list_collection_names(filter={"name": coll})

    def listed(self, names):
        return {db for db in self.targets if db in names}

    def foreign_admin_collections(self):
        return [n for n in adm().admin.list_collection_names() if not n.startswith(PREFIX)]


def gw_find(fx, c, t, n):
    code, msg, r = attempt(lambda: c[t].command({"find": fx.coll(t), "filter": {"_id": "seed"}}))
    return Cell(code, msg, None if code else [d["_id"] for d in r["cursor"]["firstBatch"]] == ["seed"])


def gw_insert(fx, c, t, n):
    code, msg, _ = attempt(lambda: c[t].command({"insert": fx.coll(t), "documents": [{"_id": f"i{n}"}]}))
    return Cell(code, msg, adm()[t][fx.coll(t)].count_documents({"_id": f"i{n}"}) == 1)


def gw_update(fx, c, t, n):
    before = fx.seed_n(t)
    code, msg, _ = attempt(lambda: c[t].command(
        {"update": fx.coll(t), "updates": [{"q": {"_id": "seed"}, "u": {"$inc": {"n": 1}}}]}))
    return Cell(code, msg, fx.seed_n(t) == before + 1)


def gw_delete(fx, c, t, n):
    adm()[t][fx.coll(t)].insert_one({"_id": f"d{n}"})
    code, msg, _ = attempt(lambda: c[t].command(
        {"delete": fx.coll(t), "deletes": [{"q": {"_id": f"d{n}"}, "limit": 1}]}))
    return Cell(code, msg, adm()[t][fx.coll(t)].count_documents({"_id": f"d{n}"}) == 0)


def gw_create_index(fx, c, t, n):
    code, msg, _ = attempt(lambda: c[t].command(
        {"createIndexes": fx.coll(t), "indexes": [{"key": {f"k{n}": 1}, "name": f"k{n}_1"}]}))
    return Cell(code, msg, f"k{n}_1" in [i["name"] for i in adm()[t][fx.coll(t)].list_indexes()])


def gw_drop_collection(fx, c, t, n):
    name = f"{fx.coll(t)}_d{n}"
    if t == "admin":
        fx.made.admin_colls.append(name)
    adm()[t][name].insert_one({"_id": 1})
    code, msg, _ = attempt(lambda: c[t].command({"drop": name}))
    effect = not fx.exists(t, name)
    adm()[t].drop_collection(name)
    return Cell(code, msg, effect)


def gw_create_collection(fx, c, t, n):
    name = f"{fx.coll(t)}_n{n}"
    if t == "admin":
        fx.made.admin_colls.append(name)
    code, msg, _ = attempt(lambda: c[t].command({"create": name}))
    effect = fx.exists(t, name)
    adm()[t].drop_collection(name)
    return Cell(code, msg, effect)


def gw_list_collections(fx, c, t, n):
    code, msg, r = attempt(lambda: c[t].command({"listCollections": 1}))
    return Cell(code, msg, None if code else fx.coll(t) in [d["name"] for d in r["cursor"]["firstBatch"]])


def gw_list_databases(fx, c, t, n):
    code, msg, r = attempt(lambda: c[t].command({"listDatabases": 1}))
    return Cell(code, msg, listed=None if code else fx.listed({d["name"] for d in r["databases"]}))


def gw_create_user(fx, c, t, n):
    name = f"x{n}_{RUN}"
    fx.made.users.append((t, name))
    code, msg, _ = attempt(lambda: c[t].command(
        {"createUser": name, "pwd": "pw-x", "roles": [{"role": "read", "db": t}]}))
    return Cell(code, msg, len(users_named(t, name)) == 1)


def gw_grant_roles_to_user(fx, c, t, n):
    name = f"g{n}_{RUN}"
    fx.made.user(t, name, [])
    code, msg, _ = attempt(lambda: c[t].command({"grantRolesToUser": name, "roles": [{"role": "read", "db": t}]}))
    effect = [role_names(u["roles"]) for u in users_named(t, name)] == [[("read", t)]]
    adm()[t].command("dropUser", name)
    return Cell(code, msg, effect)


def gw_server_status(fx, c, t, n):
    code, msg, _ = attempt(lambda: c[t].command({"serverStatus": 1}))
    return Cell(code, msg)


def gw_kill_op(fx, c, t, n):
    code, msg, _ = attempt(lambda: c[t].command({"killOp": 1, "op": 2_000_000_000 + n}))
    return Cell(code, msg)


def gw_drop_database(fx, c, t, n):
    if t == "admin" and expected_allowed("dropDatabase", fx.privileges, t, None) and fx.foreign_admin_collections():
        return Cell(skipped="admin holds collections of others; not dropped")
    fx.seed(t)
    code, msg, _ = attempt(lambda: c[t].command({"dropDatabase": 1}))
    effect = not fx.exists(t, fx.coll(t))
    fx.seed(t)
    return Cell(code, msg, effect)


GATEWAY_CELLS = {
    "find": gw_find, "insert": gw_insert, "update": gw_update, "delete": gw_delete,
    "createIndex": gw_create_index, "dropCollection": gw_drop_collection,
    "createCollection": gw_create_collection, "listCollections": gw_list_collections,
    "listDatabases": gw_list_databases, "createUser": gw_create_user,
    "grantRolesToUser": gw_grant_roles_to_user, "serverStatus": gw_server_status,
    "killOp": gw_kill_op, "dropDatabase": gw_drop_database,
}


def sql_call(fx, role, template, *args):
    """Runs documentdb_api.<template> as `role`, the arguments as SQL literals."""
    query = pgsql.SQL(template).format(*[bson_literal(a) if isinstance(a, dict) else pgsql.Literal(a) for a in args])
    return sql_run(role, query)


def raw_table_denied(fx, role, t, op):
    """For a refused data action: the same action straight on the collection's table fails too."""
    table = pgsql.SQL(collection_table(t, fx.coll(t)))
    statement = {
        "find": "SELECT count(*) FROM {}",
        "insert": "INSERT INTO {} (shard_key_value, object_id, document) SELECT NULL, NULL, NULL WHERE false",
        "update": "UPDATE {} SET document = NULL WHERE false",
        "delete": "DELETE FROM {} WHERE false",
    }[op]
    code, msg, _ = sql_run(role, pgsql.SQL(statement).format(table))
    return [] if code == "42501" else [f"the table itself: {statement.format('<table>')} gave {code or 'success'} {msg}"]


def sql_cell(fx, role, op, t, n):
    coll = fx.coll(t)
    raw = []
    if op == "find":
        code, msg, rows = sql_call(fx, role, "SELECT cursorpage::text FROM documentdb_api.find_cursor_first_page({}, {})",
                                   t, {"find": coll, "filter": {"_id": "seed"}})
        effect = None if code else '"seed"' in rows[0][0]
    elif op == "insert":
        code, msg, _ = sql_call(fx, role, "SELECT p_result::text FROM documentdb_api.insert({}, {})",
                                t, {"insert": coll, "documents": [{"_id": f"s{n}"}]})
        effect = adm()[t][coll].count_documents({"_id": f"s{n}"}) == 1
    elif op == "update":
        before = fx.seed_n(t)
        code, msg, _ = sql_call(fx, role, "SELECT p_result::text FROM documentdb_api.update({}, {})",
                                t, {"update": coll, "updates": [{"q": {"_id": "seed"}, "u": {"$inc": {"n": 1}}}]})
        effect = fx.seed_n(t) == before + 1
    elif op == "delete":
        adm()[t][coll].insert_one({"_id": f"d{n}"})
        code, msg, _ = sql_call(fx, role, "SELECT p_result::text FROM documentdb_api.delete({}, {})",
                                t, {"delete": coll, "deletes": [{"q": {"_id": f"d{n}"}, "limit": 1}]})
        effect = adm()[t][coll].count_documents({"_id": f"d{n}"}) == 0
    elif op == "createIndex":
        code, msg, _ = sql_call(fx, role, "SELECT retval::text FROM documentdb_api.create_indexes_background({}, {})",
                                t, {"createIndexes": coll, "indexes": [{"key": {f"k{n}": 1}, "name": f"k{n}_1"}]})
        effect = f"k{n}_1" in [i["name"] for i in adm()[t][coll].list_indexes()]
    elif op == "dropCollection":
        name = f"{coll}_d{n}"
        if t == "admin":
            fx.made.admin_colls.append(name)
        adm()[t][name].insert_one({"_id": 1})
        code, msg, _ = sql_call(fx, role, "SELECT documentdb_api.drop_collection({}, {})", t, name)
        effect = not fx.exists(t, name)
        adm()[t].drop_collection(name)
    elif op == "createCollection":
        name = f"{coll}_n{n}"
        if t == "admin":
            fx.made.admin_colls.append(name)
        code, msg, _ = sql_call(fx, role, "SELECT documentdb_api.create_collection({}, {})", t, name)
        effect = fx.exists(t, name)
        adm()[t].drop_collection(name)
    elif op == "listCollections":
        code, msg, rows = sql_call(fx, role,
                                   "SELECT cursorpage::text FROM documentdb_api.list_collections_cursor_first_page({}, {})",
                                   t, {"listCollections": 1})
        effect = None if code else f'"{coll}"' in rows[0][0]
    elif op == "listDatabases":
        # Not an adminOnly command in SQL (no database argument): run once, for the admin row.
        if t != "admin":
            return Cell(skipped="SQL listDatabases has no database")
        code, msg, rows = sql_call(fx, role, "SELECT documentdb_api.list_databases({})::text", {"listDatabases": 1})
        return Cell(code, msg, listed=None if code else {db for db in fx.targets if f'"{db}"' in rows[0][0]})
    elif op == "createUser":
        name = f"x{n}_{RUN}"
        fx.made.users.append((t, name))
        code, msg, _ = sql_call(fx, role, "SELECT documentdb_api.create_user({})::text",
                                {"createUser": name, "pwd": "pw-x", "roles": [{"role": "read", "db": t}], "$db": t})
        effect = len(users_named(t, name)) == 1
    elif op == "grantRolesToUser":
        name = f"g{n}_{RUN}"
        fx.made.user(t, name, [])
        code, msg, _ = sql_call(fx, role, "SELECT documentdb_api.grant_roles_to_user({})::text",
                                {"grantRolesToUser": name, "roles": [{"role": "read", "db": t}], "$db": t})
        effect = [role_names(u["roles"]) for u in users_named(t, name)] == [[("read", t)]]
        adm()[t].command("dropUser", name)
    elif op == "dropDatabase":
        if t == "admin" and expected_allowed(op, fx.privileges, t, None) and fx.foreign_admin_collections():
            return Cell(skipped="admin holds collections of others; not dropped")
        fx.seed(t)
        code, msg, _ = sql_call(fx, role, "SELECT documentdb_api.drop_database({})", t)
        effect = not fx.exists(t, coll)
        fx.seed(t)
    else:
        raise AssertionError(op)
    if op in ("find", "insert", "update", "delete") and not expected_allowed(op, fx.privileges, t, coll):
        raw = raw_table_denied(fx, role, t, op)
    return Cell(code, msg, effect, raw=raw)


def judge(fx, op, t, cell, via):
    """The differences of one cell from the manual, as report lines."""
    if cell.skipped:
        return []
    where = f"[{via}] {op} on {fx.label(t)} as {fx.role}@{fx.label(fx.user_db)}"
    allowed = expected_allowed(op, fx.privileges, t, fx.coll(t))
    got = "success" if cell.code is None else f"error {cell.code} ({cell.msg[:160]})"
    if allowed:
        if op == "dropDatabase" and t == "admin" and cell.code in (20, "M000K"):
            return []  # MongoDB: IllegalOperation "Dropping the 'admin' database is prohibited."
        if cell.code is not None:
            return [f"{where}: expected allowed, got {got}"]
        if cell.effect is False:
            return [f"{where}: succeeded without effect"]
        if op == "listDatabases":
            full = holds(fx.privileges, "listDatabases", CLUSTER)
            want = {d for d in fx.targets if full or visible_in_list_databases(fx.privileges, d)}
            if cell.listed != want:
                lab = sorted(fx.label(d) for d in cell.listed or ())
                return [f"{where}: listed {lab} of A/B/admin, expected {sorted(fx.label(d) for d in want)}"]
        return []
    denied = SQL_DENIED if via == "psql" else (13,)
    problems = []
    if cell.code not in denied:
        problems.append(f"{where}: expected {'/'.join(map(str, denied))}, got {got}")
    elif cell.effect:
        problems.append(f"{where}: refused, yet took effect")
    elif via == "gateway":
        if OPERATIONS[op][1] and t != "admin":
            wanted = f"{op} may only be run against the admin database"
        else:
            wanted = f"not authorized on {t} to execute command"
        if wanted not in cell.msg:
            problems.append(f"{where}: message {cell.msg[:160]!r} lacks {wanted!r}")
    problems += [f"{where}: {p}" for p in cell.raw]
    return problems


def report(problems, skipped):
    for s in skipped:
        print(f"  note: {s}", flush=True)
    assert not problems, f"{len(problems)} cells differ from the manual:\n    " + "\n    ".join(problems)


def gateway_matrix_test(role):
    def test():
        with Made() as made:
            fx = RoleFixture(made, role)
            client = made.login(fx.user, fx.pwd, fx.user_db)
            client.admin.command("ping")
            problems, skipped = [], []
            for op, cell_fn in GATEWAY_CELLS.items():
                for t in fx.targets:
                    cell = cell_fn(fx, client, t, next(SEQ))
                    if cell.skipped and not cell.skipped.startswith("SQL"):
                        skipped.append(f"{role}: {op} on {fx.label(t)}: {cell.skipped}")
                    problems += judge(fx, op, t, cell, "gateway")
            report(problems, skipped)
    test.__name__ = f"test_matrix_gateway_{role}"
    return test


def sql_matrix_test(role):
    def test():
        pg()
        with Made() as made:
            fx = RoleFixture(made, role)
            pg_name = pg_role(fx.user_db, fx.user)
            problems, skipped = [], []
            for op in SQL_OPERATIONS:
                for t in fx.targets:
                    cell = sql_cell(fx, pg_name, op, t, next(SEQ))
                    if cell.skipped and not cell.skipped.startswith("SQL"):
                        skipped.append(f"{role}: {op} on {fx.label(t)}: {cell.skipped}")
                    problems += judge(fx, op, t, cell, "psql")
            report(problems, skipped)
    test.__name__ = f"test_matrix_psql_{role}"
    return test


def test_matrix_table_is_the_manuals():
    """A few cells of the derived table spelled out, so that the derivation itself is checked."""
    own = role_privileges("read", "A")
    assert expected_allowed("find", own, "A", "c") and not expected_allowed("find", own, "B", "c")
    assert not expected_allowed("insert", own, "A", "c")
    assert not expected_allowed("listDatabases", own, "A", None) and expected_allowed("listDatabases", own, "admin", None)
    assert visible_in_list_databases(own, "A") and not visible_in_list_databases(own, "B")
    dba = role_privileges("dbAdmin", "A")
    assert expected_allowed("dropDatabase", dba, "A", None) and not expected_allowed("find", dba, "A", "c")
    owner = role_privileges("dbOwner", "A")
    assert expected_allowed("createUser", owner, "A", None) and not expected_allowed("createUser", owner, "admin", None)
    restore = role_privileges("restore", "admin")
    assert expected_allowed("insert", restore, "B", "c") and not expected_allowed("find", restore, "B", "c")
    assert expected_allowed("createUser", restore, "admin", None)
    root = role_privileges("root", "admin")
    assert all(expected_allowed(op, root, "admin", "c") for op in OPERATIONS)
    monitor = role_privileges("clusterMonitor", "admin")
    assert expected_allowed("serverStatus", monitor, "A", None) and not expected_allowed("killOp", monitor, "admin", None)
    host = role_privileges("hostManager", "admin")
    assert expected_allowed("killOp", host, "admin", None) and not expected_allowed("killOp", host, "A", None)
    assert not expected_allowed("serverStatus", role_privileges("readWriteAnyDatabase", "admin"), "admin", None)
    assert expected_allowed("dropDatabase", role_privileges("clusterAdmin", "admin"), "B", None)
    assert not expected_allowed("dropDatabase", role_privileges("readWriteAnyDatabase", "admin"), "B", None)


for _role in BUILTIN_ROLES:
    globals()[f"test_matrix_gateway_{_role}"] = gateway_matrix_test(_role)
for _role in BUILTIN_ROLES:
    globals()[f"test_matrix_psql_{_role}"] = sql_matrix_test(_role)

# ---------------------------------------------------------------- built-in roles as rolesInfo shows them

# The actions the matrix and the tests below depend on; rolesInfo must grant each of them on
# exactly the resources the table above does.
CHECKED_ACTIONS = {a for alts, _ in OPERATIONS.values() for alt in alts for a, _ in alt} | {
    "listDatabases", "inprog", "viewUser", "viewRole", "createRole", "dropRole", "dropUser", "revokeRole",
    "changePassword", "changeCustomData", "dropIndex", "listIndexes", "collMod", "collStats", "dbStats",
    "killCursors"}


def resource_key(resource):
    if resource.get("cluster"):
        return CLUSTER
    if resource.get("anyResource"):
        return ANY
    db, coll = resource.get("db"), resource.get("collection")
    if coll:  # a collection or system-collection privilege: not in the table
        return None
    if db == "":
        return ANY_NORMAL
    return None if db in NON_NORMAL_DATABASES else ("db", db)


def test_roles_info_shows_the_manuals_builtin_privileges():
    with Made() as made:
        a = made.database("r")
        problems = []
        for role, spec in BUILTIN_ROLES.items():
            db = a if spec.get("database") else "admin"
            reply = adm()[db].command("rolesInfo", {"role": role, "db": db}, showPrivileges=True, showBuiltinRoles=True)
            assert len(reply["roles"]) == 1, reply
            info = reply["roles"][0]
            assert info.get("isBuiltin") is True and (info["role"], info["db"]) == (role, db), info
            got = {(resource_key(p["resource"]), act) for p in info["inheritedPrivileges"] for act in p["actions"]
                   if act in CHECKED_ACTIONS and resource_key(p["resource"])}
            want = {(res, act) for res, actions in role_privileges(role, db) for act in actions if act in CHECKED_ACTIONS}
            if got != want:
                problems.append(f"{role}: missing {sorted(want - got)}, extra {sorted(got - want)}")
        assert not problems, "\n    ".join(problems)
        names = {r["role"] for r in adm()[a].command("rolesInfo", 1, showBuiltinRoles=True)["roles"]}
        assert set(DATABASE_ROLES) <= names and not names & set(ADMIN_ROLES), names
        names = {r["role"] for r in adm().admin.command("rolesInfo", 1, showBuiltinRoles=True)["roles"]}
        assert set(BUILTIN_ROLES) <= names, set(BUILTIN_ROLES) - names
        assert adm()[a].command("rolesInfo", 1)["roles"] == []  # no user-defined role yet; built-ins not shown


# ---------------------------------------------------------------- users of an authentication database


def test_same_user_name_in_two_databases():
    with Made() as made:
        a, b = made.database("p"), made.database("q")
        pa = made.user(a, "alice", [{"role": "read", "db": a}])
        pb = made.user(b, "alice", [{"role": "readWrite", "db": b}])
        assert pa != pb
        login_refused(made.login("alice", pb, a))
        login_refused(made.login("alice", pa, b))
        login_refused(made.login("alice", pa, "admin"))
        ca, cb = made.login("alice", pa, a), made.login("alice", pb, b)
        status = ca.admin.command("connectionStatus", showPrivileges=True)["authInfo"]
        assert status["authenticatedUsers"] == [{"user": "alice", "db": a}], status
        assert status["authenticatedUserRoles"] == [{"role": "read", "db": a}], status
        privileges = {(resource_key(p["resource"]), act) for p in status["authenticatedUserPrivileges"]
                      for act in p["actions"]}
        assert (("db", a), "find") in privileges and (("db", a), "insert") not in privileges, status
        assert not any(res == ("db", b) for res, _ in privileges), status
        status = cb.admin.command("connectionStatus")["authInfo"]
        assert status["authenticatedUsers"] == [{"user": "alice", "db": b}], status
        assert status["authenticatedUserRoles"] == [{"role": "readWrite", "db": b}], status
        # Each sees its own privileges.
        assert ca[a].c.find_one({"_id": "seed"}) == {"_id": "seed", "n": 0}
        refused(13, lambda: ca[a].command({"insert": "c", "documents": [{"_id": 1}]}), a)
        refused(13, lambda: ca[b].command({"find": "c"}), b)
        cb[b].c.insert_one({"_id": "by-alice-b"})
        refused(13, lambda: cb[a].command({"find": "c"}), a)
        for db, role in ((a, "read"), (b, "readWrite")):
            users = adm()[db].command("usersInfo", 1)["users"]
            assert [(u["user"], u["db"], role_names(u["roles"])) for u in users] == [("alice", db, [(role, db)])], users
        # Dropping alice@A leaves alice@B.
        adm()[a].command("dropUser", "alice")
        login_refused(made.login("alice", pa, a))
        assert made.login("alice", pb, b)[b].c.count_documents({}) == 2
        refused(11, lambda: adm()[a].command("dropUser", "alice"))


def test_users_info_needs_view_user_except_for_oneself():
    with Made() as made:
        a, b = made.database("v"), made.database("w")
        pr = made.user(a, "ru", [{"role": "read", "db": a}])
        made.user(a, "other", [{"role": "read", "db": a}], customData={"team": "x"})
        pu = made.user(a, "ua", [{"role": "userAdmin", "db": a}])
        made.user(b, "ru", [{"role": "read", "db": b}])
        reader, admin_a = made.login("ru", pr, a), made.login("ua", pu, a)
        refused(13, lambda: reader[a].command("usersInfo", 1), a)
        refused(13, lambda: reader[a].command("usersInfo", {"user": "other", "db": a}), a)
        refused(13, lambda: reader[a].command("usersInfo", [{"user": "ru", "db": a}, {"user": "other", "db": a}]), a)
        refused(13, lambda: reader[b].command("usersInfo", {"user": "ru", "db": b}), b)  # ru@B is another user
        for query in ({"user": "ru", "db": a}, "ru"):
            users = reader[a].command("usersInfo", query)["users"]
            assert [(u["user"], u["db"], role_names(u["roles"])) for u in users] == [("ru", a, [("read", a)])], users
        # No changeOwnPassword / changeOwnCustomData in read.
        refused(13, lambda: reader[a].command("updateUser", "ru", pwd="pw-new"), a)
        users = admin_a[a].command("usersInfo", 1)["users"]
        assert sorted((u["user"], u["db"]) for u in users) == [("other", a), ("ru", a), ("ua", a)], users
        other = admin_a[a].command("usersInfo", "other")["users"]
        assert other[0]["customData"] == {"team": "x"}, other
        refused(13, lambda: admin_a[b].command("usersInfo", 1), b)
        admin_a[a].command("updateUser", "other", customData={"team": "y"}, pwd="pw-other-2")
        assert users_named(a, "other")[0]["customData"] == {"team": "y"}
        made.login("other", "pw-other-2", a).admin.command("ping")


def test_user_management_commands():
    with Made() as made:
        a, b = made.database("m"), made.database("n")
        pw = made.user(a, "bob", [{"role": "read", "db": a}], customData={"k": 1})
        made.user(a, "carol", [])
        made.user(b, "dave", [{"role": "read", "db": b}])
        bob = made.login("bob", pw, a)
        refused(13, lambda: bob[a].command({"insert": "c", "documents": [{"_id": 2}]}), a)
        adm()[a].command("grantRolesToUser", "bob", roles=["readWrite"])  # a bare name is a role of the db
        assert role_names(users_named(a, "bob")[0]["roles"]) == [("read", a), ("readWrite", a)]
        bob[a].c.insert_one({"_id": 2})  # the open connection sees the new role
        adm()[a].command("revokeRolesFromUser", "bob", roles=[{"role": "readWrite", "db": a}])
        refused(13, lambda: bob[a].command({"insert": "c", "documents": [{"_id": 3}]}), a)
        adm()[a].command("updateUser", "bob", roles=[{"role": "readWrite", "db": b}], customData={"k": 2})
        info = users_named(a, "bob")[0]
        assert role_names(info["roles"]) == [("readWrite", b)] and info["customData"] == {"k": 2}, info
        refused(13, lambda: bob[a].command({"find": "c"}), a)
        bob[b].c.insert_one({"_id": "bob"})
        adm()[a].command("updateUser", "bob", pwd="pw-bob-2")
        login_refused(made.login("bob", pw, a))
        assert made.login("bob", "pw-bob-2", a)[b].c.count_documents({"_id": "bob"}) == 1
        reply = adm()[a].command("dropAllUsersFromDatabase", 1)
        assert reply["n"] == 2, reply
        assert adm()[a].command("usersInfo", 1)["users"] == []
        assert [u["user"] for u in adm()[b].command("usersInfo", 1)["users"]] == ["dave"]
        login_refused(made.login("bob", "pw-bob-2", a))


def test_error_codes_of_user_and_role_management():
    with Made() as made:
        a = made.database("e")
        made.user(a, "u1", [])
        made.role(a, "r1", [{"resource": {"db": a, "collection": "c"}, "actions": ["find"]}])
        db, ex = adm()[a], Expect()
        ex.refused("dropUser of an unknown user", 11, lambda: db.command("dropUser", "nobody"))
        ex.refused("updateUser of an unknown user", 11, lambda: db.command("updateUser", "nobody", pwd="x"))
        ex.refused("grantRolesToUser to an unknown user", 11,
                   lambda: db.command("grantRolesToUser", "nobody", roles=["read"]))
        ex.refused("revokeRolesFromUser of an unknown user", 11,
                   lambda: db.command("revokeRolesFromUser", "nobody", roles=["read"]))
        assert db.command("usersInfo", "nobody")["users"] == []
        made.users.append((a, "u2"))
        ex.refused("createUser with an unknown role", 31,
                   lambda: db.command("createUser", "u2", pwd="x", roles=[{"role": "nope", "db": a}]))
        assert users_named(a, "u2") == []
        ex.refused("grantRolesToUser of an unknown role", 31, lambda: db.command("grantRolesToUser", "u1", roles=["nope"]))
        ex.refused("dropRole of an unknown role", 31, lambda: db.command("dropRole", "nope"))
        ex.refused("updateRole of an unknown role", 31, lambda: db.command("updateRole", "nope", privileges=[]))
        ex.refused("grantRolesToRole of an unknown role", 31,
                   lambda: db.command("grantRolesToRole", "r1", roles=["nope"]))
        ex.refused("grantPrivilegesToRole to an unknown role", 31, lambda: db.command(
            "grantPrivilegesToRole", "nope", privileges=[{"resource": {"db": a, "collection": ""}, "actions": ["find"]}]))
        assert db.command("rolesInfo", "nope")["roles"] == []
        ex.refused("createUser of an existing user", 51003, lambda: db.command("createUser", "u1", pwd="x", roles=[]))
        ex.refused("createRole of an existing role", 51002, lambda: db.command("createRole", "r1", privileges=[], roles=[]))
        # MongoDB: BadValue "Cannot create roles with the same name as a built-in role".
        ex.refused("createRole named like a built-in role (read)", 2,
                   lambda: db.command("createRole", "read", privileges=[], roles=[]))
        made.roles.append((a, "read"))
        ex.check()


# ---------------------------------------------------------------- no escalation


def test_user_admin_cannot_escalate():
    with Made() as made:
        a, b = made.database("x"), made.database("y")
        pw = made.user(a, "ua", [{"role": "userAdmin", "db": a}])
        ua, ex = made.login("ua", pw, a), Expect()
        made.users += [("admin", f"evil_{RUN}"), (a, "evil"), (b, "evil")]
        made.roles += [(a, "evil"), ("admin", f"evil_{RUN}")]
        ex.refused("createUser on admin with root", 13,
                   lambda: ua.admin.command("createUser", f"evil_{RUN}", pwd="x", roles=["root"]), "admin")
        ex.refused("createUser on A with root@admin", 13,
                   lambda: ua[a].command("createUser", "evil", pwd="x", roles=[{"role": "root", "db": "admin"}]), a)
        ex.refused("grantRolesToUser itself readWriteAnyDatabase", 13, lambda: ua[a].command(
            "grantRolesToUser", "ua", roles=[{"role": "readWriteAnyDatabase", "db": "admin"}]), a)
        ex.refused("updateUser itself roles [root@admin]", 13,
                   lambda: ua[a].command("updateUser", "ua", roles=[{"role": "root", "db": "admin"}]), a)
        ex.refused("createUser on B", 13, lambda: ua[b].command("createUser", "evil", pwd="x", roles=[]), b)
        ex.refused("grantRolesToUser itself read@B", 13,
                   lambda: ua[a].command("grantRolesToUser", "ua", roles=[{"role": "read", "db": b}]), a)
        # createRole needs grantRole on the database of every role it inherits and of every
        # privilege's resource (admin for the cluster): the authorization check comes first.
        ex.refused("createRole in A inheriting root@admin", 13, lambda: ua[a].command(
            "createRole", "evil", privileges=[], roles=[{"role": "root", "db": "admin"}]), a)
        ex.refused("createRole in A with a cluster privilege", 13, lambda: ua[a].command(
            "createRole", "evil", roles=[], privileges=[{"resource": {"cluster": True}, "actions": ["serverStatus"]}]), a)
        ex.refused("createRole in A with a privilege on B", 13, lambda: ua[a].command(
            "createRole", "evil", roles=[], privileges=[{"resource": {"db": b, "collection": ""}, "actions": ["find"]}]), a)
        ex.refused("createRole on admin inheriting root", 13,
                   lambda: ua.admin.command("createRole", f"evil_{RUN}", privileges=[], roles=["root"]), "admin")
        for db, name in (("admin", f"evil_{RUN}"), (a, "evil"), (b, "evil")):
            assert users_named(db, name) == [], (db, name)
        assert role_names(users_named(a, "ua")[0]["roles"]) == [("userAdmin", a)]
        # What userAdmin may do, as the manual warns: grant itself any role of its database.
        ua[a].command("grantRolesToUser", "ua", roles=["dbOwner"])
        assert ua[a].c.find_one({"_id": "seed"})["n"] == 0
        ex.refused("find on B after granting itself dbOwner@A", 13, lambda: ua[b].command({"find": "c"}), b)
        ex.refused("listDatabases authorizedDatabases: false", 13,
                   lambda: ua.admin.command("listDatabases", authorizedDatabases=False), "admin")
        roles = ua.admin.command("connectionStatus")["authInfo"]["authenticatedUserRoles"]
        assert role_names(roles) == [("dbOwner", a), ("userAdmin", a)], roles
        ex.check()


def test_user_admin_cannot_escalate_from_psql():
    pg()
    with Made() as made:
        a = made.database("z")
        made.user(a, "ua", [{"role": "userAdmin", "db": a}])
        me = pg_role(a, "ua")
        table = collection_table(a, "c")
        made.users.append(("admin", f"evil_{RUN}"))
        ident = pgsql.Identifier
        attempts = [
            pgsql.SQL("ALTER ROLE {} SUPERUSER").format(ident(me)),
            pgsql.SQL("ALTER ROLE {} CREATEROLE").format(ident(me)),
            pgsql.SQL("GRANT documentdb_admin_role TO {}").format(ident(me)),
            pgsql.SQL("GRANT {} TO {}").format(ident(pg_role("admin", uri_parser.parse_uri(URI)["username"])), ident(me)),
            pgsql.SQL("CREATE ROLE {}").format(ident(f"{PREFIX}_evil")),
            pgsql.SQL("UPDATE documentdb_api_catalog.users SET database_name = 'admin' WHERE role_name = {}").format(
                pgsql.Literal(me)),
            pgsql.SQL("DELETE FROM documentdb_api_catalog.users WHERE false"),
            pgsql.SQL("INSERT INTO documentdb_api_catalog.roles (role_name, database_name, privileges) "
                      "SELECT 'evil', 'admin', NULL WHERE false"),
            pgsql.SQL("UPDATE documentdb_api_catalog.collections SET collection_name = collection_name WHERE false"),
            pgsql.SQL("DELETE FROM documentdb_api_catalog.databases WHERE false"),
            pgsql.SQL("SELECT count(*) FROM documentdb_api_catalog.scram_sha1_credentials"),
            pgsql.SQL("SELECT documentdb_api_internal.authentication_role('admin', 'admin')"),
            pgsql.SQL("SELECT count(*) FROM {}").format(pgsql.SQL(table)),
            pgsql.SQL("SELECT documentdb_api.create_user({})").format(bson_literal(
                {"createUser": f"evil_{RUN}", "pwd": "x", "roles": ["root"], "$db": "admin"})),
            pgsql.SQL("SELECT documentdb_api.grant_roles_to_user({})").format(bson_literal(
                {"grantRolesToUser": "ua", "roles": [{"role": "root", "db": "admin"}], "$db": a})),
            pgsql.SQL("SELECT documentdb_api.update_user({})").format(bson_literal(
                {"updateUser": "ua", "roles": [{"role": "readWriteAnyDatabase", "db": "admin"}], "$db": a})),
        ]
        problems = []
        conn = pg()
        for query in attempts:
            code, msg, _ = sql_run(me, query)
            if code not in SQL_DENIED:
                problems.append(f"{query.as_string(conn)}: {code or 'success'} {msg}")
        with conn.cursor() as cur:
            cur.execute("SELECT rolsuper, rolcreaterole, rolcreatedb, pg_has_role(%s, 'documentdb_admin_role', 'MEMBER') "
                        "FROM pg_roles WHERE rolname = %s", (me, me))
            assert cur.fetchone() == (False, False, False, False)
            cur.execute("SELECT count(*) FROM pg_roles WHERE rolname = %s", (f"{PREFIX}_evil",))
            assert cur.fetchone() == (0,)
        assert users_named("admin", f"evil_{RUN}") == []
        assert role_names(users_named(a, "ua")[0]["roles"]) == [("userAdmin", a)]
        assert not problems, "not refused:\n    " + "\n    ".join(problems)


# ---------------------------------------------------------------- user-defined roles


def test_custom_role_on_one_collection():
    with Made() as made:
        a, b = made.database("k", collections=("c1", "c2")), made.database("l")
        c1 = {"db": a, "collection": "c1"}
        made.role(a, "c1reader", [{"resource": c1, "actions": ["find"]}])
        pw = made.user(a, "cu", [{"role": "c1reader", "db": a}])
        cu, ex = made.login("cu", pw, a), Expect()
        assert cu[a].c1.find_one() == {"_id": "seed", "n": 0}
        ex.refused("find A.c2", 13, lambda: cu[a].command({"find": "c2"}), a)
        ex.refused("insert A.c1", 13, lambda: cu[a].command({"insert": "c1", "documents": [{"_id": 1}]}), a)
        ex.refused("listCollections on A", 13, lambda: cu[a].command({"listCollections": 1}), a)
        names = cu[a].command({"listCollections": 1, "authorizedCollections": True, "nameOnly": True})
        assert [d["name"] for d in names["cursor"]["firstBatch"]] == ["c1"], names
        # MongoDB (checkAuthorizedToListCollections): authorizedCollections needs some privilege
        # in the database; with none, listCollections is refused.
        ex.refused("listCollections authorizedCollections nameOnly on B (no privilege there)", 13,
                   lambda: cu[b].command({"listCollections": 1, "authorizedCollections": True, "nameOnly": True}), b)
        listed = {d["name"] for d in cu.admin.command("listDatabases")["databases"]}
        assert a in listed and b not in listed and "admin" not in listed, listed
        adm()[a].command("grantPrivilegesToRole", "c1reader", privileges=[{"resource": c1, "actions": ["insert"]}])
        cu[a].c1.insert_one({"_id": 1})
        ex.refused("insert A.c2 after grantPrivilegesToRole insert on A.c1", 13,
                   lambda: cu[a].command({"insert": "c2", "documents": [{"_id": 1}]}), a)
        info = adm()[a].command("rolesInfo", "c1reader", showPrivileges=True)["roles"]
        assert [(r["role"], r["db"], r["isBuiltin"]) for r in info] == [("c1reader", a, False)], info
        assert [(p["resource"], sorted(p["actions"])) for p in info[0]["privileges"]] == [(c1, ["find", "insert"])], info
        adm()[a].command("revokePrivilegesFromRole", "c1reader", privileges=[{"resource": c1, "actions": ["insert"]}])
        ex.refused("insert A.c1 after revokePrivilegesFromRole", 13,
                   lambda: cu[a].command({"insert": "c1", "documents": [{"_id": 2}]}), a)
        assert cu[a].c1.count_documents({}) == 2
        adm()[a].command("dropRole", "c1reader")
        ex.refused("find A.c1 after dropRole", 13, lambda: cu[a].command({"find": "c1"}), a)
        assert users_named(a, "cu")[0]["roles"] == []  # dropRole takes the role from its users
        assert adm()[a].command("rolesInfo", "c1reader")["roles"] == []
        ex.check()


def test_custom_role_scope_inheritance_and_roles_info():
    with Made() as made:
        a, b = made.database("s", collections=("c1", "c2")), made.database("t")
        db = adm()[a]
        made.roles += [(a, "wide"), (a, "up")]
        # A role of A may only hold privileges on A and inherit roles of A (49 InvalidRoleModification).
        refused(49, lambda: db.command("createRole", "wide", roles=[],
                                       privileges=[{"resource": {"db": b, "collection": ""}, "actions": ["find"]}]))
        refused(49, lambda: db.command("createRole", "wide", roles=[],
                                       privileges=[{"resource": {"cluster": True}, "actions": ["serverStatus"]}]))
        refused(49, lambda: db.command("createRole", "up", privileges=[], roles=[{"role": "read", "db": b}]))
        assert db.command("rolesInfo", "wide")["roles"] == [] and db.command("rolesInfo", "up")["roles"] == []
        made.role(a, "base", [{"resource": {"db": a, "collection": "c1"}, "actions": ["find"]}])
        refused(49, lambda: db.command("grantPrivilegesToRole", "base",
                                       privileges=[{"resource": {"db": b, "collection": "c"}, "actions": ["find"]}]))
        refused(49, lambda: db.command("grantRolesToRole", "base", roles=[{"role": "read", "db": b}]))
        # A role of admin may hold privileges anywhere.
        made.role("admin", f"ops_{RUN}", [{"resource": {"db": b, "collection": "c"}, "actions": ["find"]},
                                          {"resource": {"cluster": True}, "actions": ["serverStatus"]}])
        made.role(a, "mid", [{"resource": {"db": a, "collection": "c2"}, "actions": ["insert"]}], roles=["base"])
        pw = made.user(a, "ru", [{"role": "mid", "db": a}, {"role": f"ops_{RUN}", "db": "admin"}])
        ru = made.login("ru", pw, a)
        assert ru[a].c1.count_documents({}) == 1 and ru[b].c.count_documents({}) == 1
        ru[a].c2.insert_one({"_id": 1})
        ru.admin.command("serverStatus")
        refused(13, lambda: ru[a].command({"find": "c2"}), a)
        info = db.command("rolesInfo", "mid", showPrivileges=True)["roles"][0]
        assert role_names(info["roles"]) == [("base", a)], info
        assert role_names(info["inheritedRoles"]) == [("base", a)], info
        assert [p["resource"]["collection"] for p in info["privileges"]] == ["c2"], info
        inherited = {(p["resource"]["collection"], act) for p in info["inheritedPrivileges"] for act in p["actions"]}
        assert inherited == {("c1", "find"), ("c2", "insert")}, info
        # grantRolesToRole / revokeRolesFromRole / updateRole change what the user may do now.
        db.command("grantRolesToRole", "mid", roles=["readWrite"])
        ru[a].c1.insert_one({"_id": 9})
        db.command("revokeRolesFromRole", "mid", roles=["readWrite", "base"])
        refused(13, lambda: ru[a].command({"find": "c1"}), a)
        db.command("updateRole", "mid", privileges=[{"resource": {"db": a, "collection": "c2"}, "actions": ["find"]}])
        assert ru[a].c2.count_documents({}) == 2
        refused(13, lambda: ru[a].command({"insert": "c2", "documents": [{"_id": 2}]}), a)
        names = {r["role"] for r in db.command("rolesInfo", 1, showBuiltinRoles=True)["roles"]}
        assert {"base", "mid"} | set(DATABASE_ROLES) <= names, names
        reply = db.command("dropAllRolesFromDatabase", 1)
        assert reply["n"] == 2, reply
        assert db.command("rolesInfo", 1)["roles"] == []
        assert role_names(users_named(a, "ru")[0]["roles"]) == [(f"ops_{RUN}", "admin")]
        refused(13, lambda: ru[a].command({"find": "c2"}), a)


# ---------------------------------------------------------------- listing, operations, dropDatabase


def test_list_databases_and_collections_are_filtered():
    with Made() as made:
        a, b = made.database("f", collections=("c1", "c2")), made.database("g")
        pw = made.user(a, "ru", [{"role": "read", "db": a}])
        ru = made.login("ru", pw, a)
        names = {d["name"] for d in ru.admin.command("listDatabases")["databases"]}
        assert a in names and b not in names and "admin" not in names, names
        names = ru.admin.command("listDatabases", nameOnly=True, authorizedDatabases=True)["databases"]
        assert a in [d["name"] for d in names] and b not in [d["name"] for d in names], names
        refused(13, lambda: ru.admin.command("listDatabases", authorizedDatabases=False), "admin")
        refused(13, lambda: ru[a].command("listDatabases"))
        got = ru[a].command({"listCollections": 1, "authorizedCollections": True, "nameOnly": True})
        assert sorted(d["name"] for d in got["cursor"]["firstBatch"]) == ["c1", "c2"], got
        assert sorted(ru[a].list_collection_names()) == ["c1", "c2"]
        refused(13, lambda: ru[b].command({"listCollections": 1}), b)


def test_current_op_and_kill_op():
    with Made() as made:
        a = made.database("o")
        users = {role: made.user(a if role == "read" else "admin", f"op_{role}_{RUN}",
                                 [{"role": role, "db": a if role == "read" else "admin"}])
                 for role in ("read", "clusterMonitor", "hostManager")}
        reader = made.login(f"op_read_{RUN}", users["read"], a)
        monitor = made.login(f"op_clusterMonitor_{RUN}", users["clusterMonitor"], "admin")
        host = made.login(f"op_hostManager_{RUN}", users["hostManager"], "admin")
        refused(13, lambda: reader.admin.command("currentOp"), "admin")
        own = reader.admin.command("currentOp", **{"$ownOps": True})
        assert isinstance(own["inprog"], list), own
        assert monitor.admin.command("currentOp")["ok"] == 1
        refused(13, lambda: host.admin.command("currentOp"), "admin")  # hostManager has killop, not inprog
        for client in (reader, monitor):
            refused(13, lambda: client.admin.command("killOp", op=2_000_000_001), "admin")
        assert host.admin.command("killOp", op=2_000_000_001)["ok"] == 1
        refused(13, lambda: reader.admin.command("serverStatus"), "admin")
        assert monitor.admin.command("serverStatus")["ok"] == 1


def test_drop_database_keeps_its_users():
    with Made() as made:
        a = made.database("h")
        pw = made.user(a, "owner", [{"role": "dbOwner", "db": a}])
        owner = made.login("owner", pw, a)
        owner.drop_database(a)
        assert a not in adm().list_database_names()
        assert [u["user"] for u in adm()[a].command("usersInfo", 1)["users"]] == ["owner"]
        again = made.login("owner", pw, a)
        again[a].c.insert_one({"_id": 1})
        assert again[a].c.count_documents({}) == 1


def test_change_own_password_custom_data_and_mechanisms():
    """changeOwnPassword / changeOwnCustomData act on oneself only; `mechanisms` keeps only
    the named credentials (manual: createUser, updateUser)."""
    with Made() as made:
        a = made.database("o")
        made.role(a, "selfService", privileges=[
            {"resource": {"db": a, "collection": ""}, "actions": ["changeOwnPassword", "changeOwnCustomData"]}])
        pw = made.user(a, "sam", [{"role": "selfService", "db": a}])
        made.user(a, "tom", [{"role": "selfService", "db": a}])
        sam = made.login("sam", pw, a)
        sam[a].command("updateUser", "sam", pwd="pw-sam-2", customData={"x": 1})
        login_refused(made.login("sam", pw, a))
        made.login("sam", "pw-sam-2", a).admin.command("ping")
        assert users_named(a, "sam")[0]["customData"] == {"x": 1}
        refused(13, lambda: sam[a].command("updateUser", "tom", pwd="pw-tom-2"), a)
        refused(13, lambda: sam[a].command("updateUser", "tom", customData={"x": 2}), a)
        made.user(a, "only256", [], pwd="pw-256", mechanisms=["SCRAM-SHA-256"])
        assert users_named(a, "only256")[0]["mechanisms"] == ["SCRAM-SHA-256"]
        host, port = uri_parser.parse_uri(URI)["nodelist"][0]

        def login_with(mechanism):
            client = pymongo.MongoClient(host, port, username="only256", password="pw-256", authSource=a,
                                         authMechanism=mechanism, directConnection=True, serverSelectionTimeoutMS=5000)
            made.clients.append(client)
            return client

        login_with("SCRAM-SHA-256").admin.command("ping")
        login_refused(login_with("SCRAM-SHA-1"))
        # Without a new password, mechanisms may only narrow what is stored.
        refused(2, lambda: adm()[a].command("updateUser", "only256", mechanisms=["SCRAM-SHA-1"]))


def test_repeated_authentication_failures_are_slowed():
    """Issue #11: repeated failures from one address are slowed (the gateway's defaults: 5
    failures answered at once, then 200 ms doubling per failure); a success resets it."""
    import time

    with Made() as made:
        a = made.database("t")
        pw = made.user(a, "slow", [{"role": "read", "db": a}])
        made.login("slow", pw, a).admin.command("ping")  # a success first: a clean count

        def failed_login_seconds():
            started = time.monotonic()
            login_refused(made.login("slow", pw + "-wrong", a))
            return time.monotonic() - started

        quick = [failed_login_seconds() for _ in range(5)]
        slowed = [failed_login_seconds() for _ in range(2)]
        assert max(quick) < 0.2, f"the first failures were delayed: {quick}"
        assert slowed[0] >= 0.18 and slowed[1] >= 0.36, f"failures past the fifth were not slowed: {slowed}"
        made.login("slow", pw, a).admin.command("ping")
        assert failed_login_seconds() < 0.2, "a successful login did not reset the count"


# ---------------------------------------------------------------- runner


def cleanup():
    """Whatever a failed test's own cleanup missed: every database, user and role of this run."""
    try:
        a = adm()
        for db in a.list_database_names():
            if db.startswith(PREFIX):
                ignore(lambda: a[db].command("dropAllUsersFromDatabase", 1))
                ignore(lambda: a[db].command("dropAllRolesFromDatabase", 1))
                a.drop_database(db)
        for u in a.admin.command("usersInfo", 1)["users"]:
            if u["user"].endswith(RUN):
                ignore(lambda: a.admin.command("dropUser", u["user"]))
        for r in a.admin.command("rolesInfo", 1)["roles"]:
            if r["role"].endswith(RUN):
                ignore(lambda: a.admin.command("dropRole", r["role"]))
        for coll in a.admin.list_collection_names():
            if coll.startswith(PREFIX):
                a.admin.drop_collection(coll)
    except PyMongoError as e:
        print(f"cleanup failed: {e}", file=sys.stderr)
    for c in _admin:
        c.close()
    _admin.clear()
    for c in _pg:
        c.close()
    _pg.clear()


if __name__ == "__main__":
    sys.exit(harness.main(
        sys.argv[1:], globals(), title="authz", ping=lambda: adm().admin.command("ping"), cleanup=cleanup,
        uri_help="the gateway's MongoDB URI, a root user (default: $GATEWAY_URI)",
        options=[("--pg-uri", "PG_URI",
                  "PostgreSQL URI of a superuser (default: $POSTGRES_URI, else data/postgres.uri)")]))
