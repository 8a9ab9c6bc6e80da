#!/usr/bin/env python3
"""SQL phase of the crash hunt: calls every function of the documentdb schemas (found in
pg_proc), every operator on the bson types (pg_operator), the aggregates and procedures,
with generated and mutated arguments, for a given time; each call in its own transaction
(sometimes inside an explicit transaction with savepoints). Errors are expected; a lost
connection is matched against the PostgreSQL log, and a backend that died by a signal is
a crash: its statement (with parameters inlined) and the statements before it are written
to OUT/crash-*.sql.

  sql_hunt.py --dsn DSN --log PGLOG --out DIR --seconds N [--seed S] [--workers W]
"""
import argparse
import json
import math
import multiprocessing
import os
import random
import sys
import time
import traceback

import psycopg
from psycopg import pq
from psycopg.adapt import Dumper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bsonraw as B  # noqa: E402
import gen as G  # noqa: E402
from bsonraw import Doc  # noqa: E402
from common import PARAM_CLASSES, BsonParam, LogWatcher, Ring, describe_params, render  # noqa: E402

SCHEMAS = ("documentdb_api", "documentdb_api_internal", "documentdb_core", "documentdb_api_catalog")
BSON_TYPES = ("bson", "bsonquery", "bsonsequence")
CMD_BY_FUNCTION = {
    "insert": "insert", "insert_bulk": "insert", "insert_one": None, "update": "update", "update_bulk": "update",
    "delete": "delete", "find_and_modify": "findAndModify", "find_cursor_first_page": "find",
    "aggregate_cursor_first_page": "aggregate", "list_collections_cursor_first_page": "listCollections",
    "list_indexes_cursor_first_page": "listIndexes", "cursor_get_more": "getMore", "count_query": "count",
    "distinct_query": "distinct", "create_collection_view": "create", "coll_mod": "collMod",
    "list_databases": "listDatabases", "create_indexes_background": "createIndexes",
    "drop_indexes": "dropIndexes", "drop_indexes_internal": "dropIndexes", "create_user": "createUser",
    "update_user": "updateUser", "drop_user": "dropUser", "users_info": "usersInfo",
    "connection_status": "connectionStatus", "explain": "explain",
}
DOC_ARGS = {"document", "doc", "left", "right", "p_document", "a", "b"}
CURSOR_FUNCS = {"find_cursor_first_page", "aggregate_cursor_first_page", "list_collections_cursor_first_page",
                "list_indexes_cursor_first_page"}
# "any"-typed arguments (bson_build_document etc.): inline SQL expressions of many types.
ANY_LITERALS = [
    "1", "-1", "0", "2147483647", "(-2147483648)::int4", "9223372036854775807", "(-9223372036854775808)::int8",
    "1.5::float8", "'NaN'::float8", "'Infinity'::float8", "'-Infinity'::float4", "(-0.0)::float8",
    "'NaN'::numeric", "1e1000::numeric", "'-1e-1000'::numeric", "123456789012345678901234567890.5::numeric",
    "'Infinity'::numeric", "true", "false", "NULL", "NULL::text", "''::text", "'a'::text", "'ü😀'::text",
    "repeat('x', 100000)", "'a'::varchar(3)", "'b'::bpchar", "'c'::name", "'d'::\"char\"", "now()",
    "'infinity'::timestamptz", "'-infinity'::timestamp", "'4713-01-01 BC'::date", "'294276-12-31'::timestamp",
    "'1 day'::interval", "'00000000-0000-0000-0000-000000000000'::uuid", "'\\x'::bytea", "'\\xdeadbeef'::bytea",
    "'{}'::jsonb", "'{\"a\": [1, {\"b\": null}]}'::jsonb", "'[1e400]'::json", "'\"s\"'::jsonb",
    "'{}'::int[]", "'{1,2,NULL}'::int[]", "'{{1,2},{3,4}}'::int[]", "'{a,b}'::text[]", "ARRAY[NULL]::text[]",
    "'[2:3]={1,2}'::int[]", "ARRAY['{\"a\":1}'::documentdb_core.bson]", "'{\"a\": 1}'::documentdb_core.bson",
    "'{}'::documentdb_core.bson", "ROW(1, 'a')", "ROW()", "ROW(ROW(1), NULL)", "(1, 2)::point", "'1.2.3.4'::inet",
    "12::oid", "'pg_class'::regclass", "1::money", "B'101'", "'12:00'::time", "'12:00+02'::timetz",
    "'(1,2)'::int4range", "'a'::xml", "'a b'::tsvector", "gen_random_uuid()", "txid_current()",
    "'{\"a\": 1}'::documentdb_core.bsonquery", "'{}'::documentdb_core.bsonsequence", "2::int2", "'x'::bytea",
]
JSON_TEXTS = [
    '{}', '{"a": 1}', '{"a": {"$numberDecimal": "1e99999"}}', '{"a": {"$numberDecimal": "NaN"}}',
    '{"a": {"$numberDecimal": "-0E-6176"}}', '{"a": {"$numberDecimal": "1E+6145"}}', '{"a": {"$numberDecimal": "x"}}',
    '{"a": {"$date": {"$numberLong": "99999999999999999999"}}}', '{"a": {"$date": "9999-99-99T99:99:99Z"}}',
    '{"a": {"$date": "2024-01-01T00:00:00.123456789+99:99"}}', '{"a": {"$date": -1e400}}',
    '{"a": {"$binary": {"base64": "!!", "subType": "zz"}}}', '{"a": {"$binary": {"base64": "", "subType": "100"}}}',
    '{"a": {"$binary": "AQID", "$type": "4"}}', '{"a": {"$uuid": "00000000-0000-0000-0000-00000000000"}}',
    '{"a": {"$regularExpression": {"pattern": "(", "options": "zz"}}}', '{"a": {"$regex": "a", "$options": 5}}',
    '{"a": {"$oid": "zz"}}', '{"a": {"$oid": "507f1f77bcf86cd799439011"}}', '{"a": {"$timestamp": {"t": -1, "i": 1}}}',
    '{"a": {"$timestamp": {"t": 4294967296, "i": 1}}}', '{"a": 1e400}', '{"a": -1e400}', '{"a": 1e-400}',
    '{"a": 123456789012345678901234567890}', '{"a": -9223372036854775809}', '{"a": {"$numberLong": "9223372036854775808"}}',
    '{"a": {"$numberInt": "2147483648"}}', '{"a": {"$numberDouble": "Infinity"}}', '{"a": {"$numberDouble": "x"}}',
    '{"a": {"$minKey": 2}}', '{"a": {"$maxKey": 1}}', '{"a": {"$undefined": true}}', '{"a": {"$symbol": 1}}',
    '{"a": {"$code": "x", "$scope": {"b": 1}}}', '{"a": {"$dbPointer": {"$ref": "c", "$id": {"$oid": "zz"}}}}',
    '{"a": "\\ud800"}', '{"a": "\\u0000"}', '{"\\u0000": 1}', '{"a": "\\x"}', '{"a": 1,}', '{"a" 1}', '{', '}',
    '[1, 2]', '"s"', '1', 'null', '', ' ', '{"a": 1} trailing', '{"a": {"$date": {"$numberLong": "x"}}}',
    '{"a": {"$numberDecimal": "' + "9" * 5000 + '"}}', '{"$a": 1}', '{"a.b": 1}', '{"a": 1, "a": 2}',
    'BSONHEX', 'BSONHEX0500000000', 'BSONHEXzz', 'BSONHEX05000000', 'BSONHEX' + "00" * 10,
    'BSONSEQUENCE', 'BSONSEQUENCE0500000000', 'BSONSEQUENCE05000000000500', '{"a": [' * 150 + ']' * 150 + '}',
    '[' * 3000, '{"a":' * 3000, '{"a": {"$numberDecimal": "1.' + "0" * 40 + '"}}', "{'a': 1}", '{a: 1}',
    '{"a": NaN}', '{"a": Infinity}', '{"a": ObjectId("507f1f77bcf86cd799439011")}', '{"a": new Date(0)}',
    '{"a": ISODate("2024-01-01")}', '{"a": NumberLong(1)}', '{"a": /re/i}', '{"a": undefined}',
]


class BsonDumper(Dumper):
    format = pq.Format.BINARY

    def dump(self, obj):
        return obj.data


def register_bson(conn, oids):
    for typ, oid in oids.items():
        dumper = type("Dump_" + typ, (BsonDumper,), {"oid": oid})
        conn.adapters.register_dumper(PARAM_CLASSES[typ], dumper)


class Func:
    def __init__(self, row):
        (self.oid, self.schema, self.name, self.kind, self.argtypes, self.argnames, self.argmodes,
         self.nargs, self.ndefaults, self.retset, self.rettype, self.variadic, self.strict) = row
        self.argtypes = self.argtypes or []
        self.argnames = self.argnames or []
        simple = self.name.replace("_", "a").isalnum() and self.name.islower() and not self.name[0].isdigit()
        self.qname = "%s.%s" % (self.schema, self.name if simple else '"%s"' % self.name)

    @property
    def ident(self):
        return "%s.%s(%s)" % (self.schema, self.name, ",".join(self.argtypes))


def load_catalog(conn):
    funcs = []
    rows = conn.execute(
        """
        SELECT p.oid::int, n.nspname, p.proname, p.prokind,
               ARRAY(SELECT format_type(t, NULL) FROM unnest(p.proargtypes::oid[]) WITH ORDINALITY u(t, i) ORDER BY i),
               ARRAY(SELECT coalesce(nm, '') FROM unnest(
                   CASE WHEN p.proargmodes IS NULL THEN p.proargnames
                        ELSE ARRAY(SELECT nm2 FROM unnest(p.proargnames, p.proargmodes) x(nm2, md)
                                   WHERE md IN ('i', 'b', 'v')) END) WITH ORDINALITY u(nm, i) ORDER BY i),
               NULL::text[], p.pronargs, p.pronargdefaults, p.proretset, format_type(p.prorettype, NULL),
               p.provariadic <> 0, p.proisstrict
        FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = ANY(%s)
        ORDER BY n.nspname, p.proname, p.oid
        """, [list(SCHEMAS)]).fetchall()
    for row in rows:
        f = Func(row)
        if f.rettype in ("trigger", "event_trigger"):
            continue
        funcs.append(f)
    ops = conn.execute(
        """
        SELECT n.nspname, o.oprname, format_type(o.oprleft, NULL), format_type(o.oprright, NULL)
        FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
        WHERE o.oprleft IN (SELECT oid FROM pg_type WHERE typname = ANY(%s))
           OR o.oprright IN (SELECT oid FROM pg_type WHERE typname = ANY(%s))
           OR n.nspname = ANY(%s)
        ORDER BY 1, 2
        """, [list(BSON_TYPES), list(BSON_TYPES), list(SCHEMAS)]).fetchall()
    return funcs, ops


def type_oids(conn):
    rows = conn.execute("SELECT t.typname, t.oid::int FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace "
                        "WHERE n.nspname = 'documentdb_core' AND t.typname = ANY(%s)", [list(BSON_TYPES)]).fetchall()
    return dict(rows)


# ---- seeding ------------------------------------------------------------------------------

def seed_data(conn, g, docs_per_coll=150):
    """Collections with data, a view, indexes and users; idempotent (tops up)."""
    def q(sql, params=()):
        try:
            return conn.execute(sql, params).fetchall()
        except psycopg.Error:
            return None

    for c in G.DATA_COLLS:
        q("SELECT documentdb_api.create_collection(%s, %s)", [G.DATA_DB, c])
        n = q("SELECT count(*) FROM documentdb_api.collection(%s, %s)", [G.DATA_DB, c])
        have = n[0][0] if n else 0
        i = have
        while have < docs_per_coll:
            batch = [g.data_doc(i + k + 1000 * G.DATA_COLLS.index(c), wild=0.25) for k in range(25)]
            i += 25
            for d in batch:
                r = q("SELECT p_success FROM documentdb_api.insert(%s, %s::documentdb_core.bson)",
                      [G.DATA_DB, BsonParam(B.encode({"insert": c, "documents": [d]}))])
                if r is None:
                    # A generated document the server refuses: insert a plain one.
                    q("SELECT documentdb_api.insert_one(%s, %s, %s::documentdb_core.bson)",
                      [G.DATA_DB, c, BsonParam(B.encode({"a": i}))])
            have += 25
    q("SELECT documentdb_api.create_collection_view(%s, %s::documentdb_core.bson)",
      [G.DATA_DB, BsonParam(B.encode({"create": "v1", "viewOn": "c1", "pipeline": [{"$match": {"a": {"$gte": 0}}}]}))])
    q("SELECT * FROM documentdb_api.create_indexes_background(%s, %s::documentdb_core.bson)",
      [G.DATA_DB, BsonParam(B.encode({"createIndexes": "c1", "indexes": [
          {"key": {"a": 1}, "name": "a_1"}, {"key": {"b": 1, "a": -1}, "name": "b_1_a_-1"}]}))])
    for u, roles in (("hunt_u1", ["readWrite"]), ("hunt_u2", ["read"]), ("hunt_u3", ["root"])):
        q("SELECT documentdb_api.create_user(%s::documentdb_core.bson)",
          [BsonParam(B.encode(Doc([("createUser", u), ("pwd", "pw"), ("roles", roles), ("$db", "admin")])))])
    for c in G.DATA_COLLS:
        t = q("SELECT documentdb_api_internal.collection_table(%s, %s)", [G.DATA_DB, c])
        if t and t[0][0]:
            q("ANALYZE %s" % t[0][0])
    tables = []
    for c in G.DATA_COLLS:
        t = q("SELECT documentdb_api_internal.collection_table(%s, %s)", [G.DATA_DB, c])
        if t and t[0][0]:
            tables.append(t[0][0])
    return tables


# ---- the worker ----------------------------------------------------------------------------

class Stats:
    def __init__(self):
        self.statements = 0
        self.errors = 0
        self.ok = 0
        self.timeouts = 0
        self.reconnects = 0
        self.drops = []      # connection lost without a crash record: (statement text, log hint)
        self.crashes = []    # dicts
        self.internal = {}   # XX000 message -> (count, function, statement)
        self.per_func = {}
        self.harness_errors = 0
        self.harness_traces = []

    def as_dict(self):
        return {"statements": self.statements, "errors": self.errors, "ok": self.ok, "timeouts": self.timeouts,
                "reconnects": self.reconnects, "drops": self.drops[:20], "crashes": self.crashes,
                "internal": {k: v for k, v in list(self.internal.items())[:200]}, "per_func": self.per_func,
                "harness_errors": self.harness_errors, "harness_traces": self.harness_traces}


class Worker:
    def __init__(self, idx, a, big):
        self.idx = idx
        self.a = a
        self.seed = a.seed * 1000 + idx
        self.r = random.Random(self.seed)
        self.g = G.Gen(self.r, big)
        self.ring = Ring(a.ring)
        self.stats = Stats()
        self.log = LogWatcher(a.log)
        self.conn = None
        self.pid = None
        self.disabled = {}   # function ident -> crash count
        self.docs = [B.encode(self.g.data_doc(wild=0.3)) for _ in range(40)]
        self.tables = []
        self.in_tx = False

    # -- connection ----------------------------------------------------------------------
    def connect(self, wait=60.0):
        deadline = time.time() + wait
        last = None
        while time.time() < deadline:
            try:
                conn = psycopg.connect(self.a.dsn, autocommit=True, application_name="crash_hunt_w%d" % self.idx,
                                       connect_timeout=5)
                break
            except psycopg.Error as e:
                last = e
                time.sleep(0.5)
        else:
            raise RuntimeError("cannot connect to PostgreSQL: %s" % last)
        conn.prepare_threshold = self.r.choice([None, 5, 1, 2])
        register_bson(conn, self.oids)
        settings = ["SET statement_timeout = %d" % int(self.a.statement_timeout * 1000), "SET lock_timeout = '1s'",
                    "SET client_min_messages = error", "SET idle_in_transaction_session_timeout = '30s'"]
        if self.r.random() < 0.3:
            settings += ["SET force_parallel_mode = on", "SET parallel_setup_cost = 0", "SET parallel_tuple_cost = 0",
                         "SET min_parallel_table_scan_size = 0", "SET max_parallel_workers_per_gather = 2"]
        if self.r.random() < 0.2:
            settings.append("SET plan_cache_mode = force_generic_plan")
        if self.r.random() < 0.1:
            settings.append("SET enable_seqscan = off")
        if self.r.random() < 0.1:
            settings.append("SET work_mem = '64kB'")
        if self.r.random() < 0.08:
            settings.append("SET ROLE %s" % self.r.choice(["hunt_u1", "hunt_u2", "hunt_u3"]))
        for s in settings:
            try:
                conn.execute(s)
            except psycopg.Error:
                pass
        self.conn = conn
        self.pid = conn.info.backend_pid
        self.in_tx = False
        self.stats.reconnects += 1

    def setup(self):
        conn = psycopg.connect(self.a.dsn, autocommit=True)
        self.oids = type_oids(conn)
        if len(self.oids) < 3:
            raise RuntimeError("documentdb_core types not found: is the extension created?")
        self.funcs, self.ops = load_catalog(conn)
        conn.close()
        self.connect()
        self.tables = []
        for c in G.DATA_COLLS:
            try:
                t = self.conn.execute("SELECT documentdb_api_internal.collection_table(%s, %s)", [G.DATA_DB, c]).fetchone()
                if t and t[0]:
                    self.tables.append(t[0])
            except psycopg.Error:
                pass

    # -- executing -----------------------------------------------------------------------
    def execute(self, kind, sql, params=(), binary=False, fetch=True):
        """Runs one statement. Returns rows, or None on an SQL error. Lost connections are
        investigated (crash or not) and the connection re-established."""
        self.ring.add(kind, sql, list(params))
        if kind != "tx":
            self.stats.statements += 1
        self.crash_mark = len(self.log.crashes)
        pf = self.stats.per_func.setdefault(kind, [0, 0])
        pf[0] += 1
        try:
            cur = self.conn.cursor(binary=binary)
            cur.execute(sql, params)
            rows = None
            if fetch and cur.description is not None:
                rows = cur.fetchmany(200)
            if kind != "tx":
                self.stats.ok += 1
            return rows
        except psycopg.OperationalError as e:
            if self.conn.closed or self.conn.broken:
                self.connection_lost(kind, sql, params, e)
                return None
            self.note_error(kind, sql, params, e)
            return None
        except psycopg.Error as e:
            if self.conn.closed or self.conn.broken:
                self.connection_lost(kind, sql, params, e)
                return None
            self.note_error(kind, sql, params, e)
            return None
        except (ValueError, TypeError, OverflowError, UnicodeError):
            # Client-side adaptation problems (e.g. NUL in text): not a server finding.
            self.stats.errors += 1
            return None

    def note_error(self, kind, sql, params, e):
        if kind != "tx":
            self.stats.errors += 1
        self.stats.per_func[kind][1] += 1
        state = getattr(e, "sqlstate", None)
        if state == "57014":
            self.stats.timeouts += 1
        elif state == "XX000" or (state or "").startswith("XX"):
            msg = str(e).splitlines()[0][:300]
            key = "%s: %s" % (kind, msg)
            if key in self.stats.internal:
                self.stats.internal[key][0] += 1
            elif len(self.stats.internal) < 500:
                self.stats.internal[key] = [1, kind, render(sql, params)[:4000]]
        if self.in_tx and self.conn.info.transaction_status == pq.TransactionStatus.INERROR:
            try:
                self.conn.execute("ROLLBACK TO SAVEPOINT hunt_sp")
            except psycopg.Error:
                self.end_tx(False)

    def connection_lost(self, kind, sql, params, err):
        pid = self.pid
        rec = self.log.wait_for_pid(pid, timeout=8.0, since=self.crash_mark)
        stamp = "%d-%d-%d" % (self.idx, int(time.time()), len(self.stats.crashes) + len(self.stats.drops))
        if rec is not None:
            _, sig, desc, failed = rec
            path = os.path.join(self.a.out, "crash-%s.sql" % stamp)
            header = ("crash_hunt: backend PID %d was terminated by signal %d (%s)\n"
                      "function: %s\nseed: %d (worker %d)\nlast statement (the crash) is the last one below;\n"
                      "earlier ones ran on the same connection before it.\nserver log said it was running: %s"
                      % (pid, sig, desc, kind, self.a.seed, self.idx, failed[:500]))
            self.ring.dump(path, header)
            single = os.path.join(self.a.out, "crash-%s-last.sql" % stamp)
            with open(single, "w", encoding="utf-8", errors="replace") as f:
                f.write("-- %s\n%s%s;\n" % (kind, "".join(l + "\n" for l in describe_params(params)), render(sql, params)))
            crash = {"function": kind, "signal": sig, "desc": desc, "pid": pid, "file": path, "last": single,
                     "statement": render(sql, params)[:3000], "server_failed": failed[:1000],
                     "params": describe_params(params)}
            self.stats.crashes.append(crash)
            self.disabled[kind] = self.disabled.get(kind, 0) + 1
            sys.stderr.write("\ncrash_hunt: CRASH (signal %d %s) in %s\n  statement: %s\n  files: %s, %s\n"
                             % (sig, desc, kind, render(sql, params)[:1500], path, single))
            sys.stderr.flush()
        else:
            # Another backend crashed (and took ours down), or ours exited without a signal.
            other = [c for c in self.log.crashes[self.crash_mark:] if c[0] != pid]
            if not other:
                path = os.path.join(self.a.out, "drop-%s.sql" % stamp)
                self.ring.dump(path, "connection lost without a crash record: %s\nfunction: %s" % (err, kind))
                self.stats.drops.append({"function": kind, "error": str(err)[:500],
                                         "statement": render(sql, params)[:2000], "file": path})
        try:
            self.conn.close()
        except Exception:
            pass
        self.connect()
        # After a crash the postmaster reinitializes: give it a moment to accept connections.
        self.in_tx = False

    def begin_tx(self):
        if self.execute("tx", "BEGIN", fetch=False) is None and not self.conn.info.transaction_status:
            return
        self.in_tx = True
        self.execute("tx", "SAVEPOINT hunt_sp", fetch=False)

    def end_tx(self, commit=None):
        if commit is None:
            commit = self.r.random() < 0.5
        self.in_tx = False
        try:
            self.conn.execute("COMMIT" if commit else "ROLLBACK")
        except psycopg.Error:
            try:
                self.conn.execute("ROLLBACK")
            except psycopg.Error:
                pass

    # -- argument generation -------------------------------------------------------------
    def bson(self, data, typ="bson"):
        return BsonParam(data, typ)

    def enc(self, v):
        if isinstance(v, (list, tuple)):
            v = {"": list(v)}
        elif not isinstance(v, (dict, Doc)):
            v = {"": v}
        try:
            return B.encode(v)
        except (RecursionError, TypeError, struct_error, ValueError):
            return B.encode({})

    def doc_value(self, fname, argname, typ):
        """A Python/bsonraw value for a bson argument (before the mutation step)."""
        g, r = self.g, self.r
        n = argname
        if n in DOC_ARGS or (n == "" and typ == "bson" and r.random() < 0.3):
            return None  # use a data document (raw bytes)
        if n == "query":
            return g.filter()
        if n == "projection":
            return g.projection()
        if n == "expression":
            return {"": g.expr(3)}
        if n == "vars":
            return Doc((r.choice(["v", "x", "e", "ROOT", "1x", "", "NOW"]), g.expr(1) if r.random() < 0.3 else g.scalar())
                       for _ in range(r.randrange(3)))
        if n == "operand":
            return Doc([(g.field(), g.scalar() if r.random() < 0.8 else g.value(2))])
        if n == "continuationspec":
            if g.continuations and r.random() < 0.8:
                return B.decode(r.choice(g.continuations))
            return Doc([("v", 1), ("ns", "hunt.c1"), ("remaining", r.choice([0, 1, -1, 2**63 - 1])),
                        ("kind", r.choice(["scan", "portal", "buffered", "x"])),
                        ("portal", r.choice(["", "documentdb_cursor_1", "c", "hunt_cur", "unnamed"])),
                        ("sql", r.choice(["SELECT 1", "SELECT document, ctid FROM documentdb_data.documents_1 WHERE ctid > $1",
                                          "SELECT ", "SELECT $1::documentdb_core.bson, ctid FROM documentdb_data.documents_1"])),
                        ("params", r.choice([[], [{"bson": {}}], [{"text": "x"}], [{"int8": B.I64(1)}], [1]])),
                        ("block", B.I64(r.choice([0, 1, -1, 2**32, 2**40]))), ("offset", B.I32(r.choice([0, 1, 65535, 65536, -1]))),
                        ("pending", r.choice([[], [{"a": 1}], [1, "x"]]))])
        if n == "spec":
            if fname.startswith("bson_dollar_project"):
                return g.projection()
            if fname.startswith("bson_dollar_add_fields"):
                return Doc((g.field(0.8), g.expr(2)) for _ in range(r.randrange(4)))
            if fname == "bson_dollar_unset":
                return {"": r.choice([g.field(), [g.field(), g.field()], [], 1, ""])}
            if fname == "bson_orderby":
                return Doc([(g.field(), r.choice([1, -1, -1.0, B.I64(-1), "x", 0])) for _ in range(r.randint(0, 2))])
            if fname.startswith("bson_update_document"):
                d = Doc([("q", g.filter(2)), ("u", g.update_doc())])
                if r.random() < 0.3:
                    d.items.append(("arrayFilters", g.array_filters()))
                if r.random() < 0.2:
                    d.items += [("validator", g.filter(1)), ("validationLevel", r.choice(["strict", "moderate"])),
                                ("validationAction", r.choice(["error", "warn"]))]
                if r.random() < 0.2:
                    d.items.append(("let", {"v": g.scalar()}))
                return d
            if fname.startswith("bson_dollar_replace_root"):
                return {"": g.expr(2)}
            if fname == "bson_dollar_unwind":
                return Doc([("path", r.choice(["$arr", "arr", "$a", "$sub.y", "$nope", "$", "$$ROOT", "$a.b.c"])),
                            ("includeArrayIndex", r.choice(["i", "arr", "a.b", "_id", "", "x.y.z"])),
                            ("preserveNullAndEmptyArrays", r.choice([True, False]))][: r.randint(1, 3)])
        if fname == "bson_group_accumulate" or fname.startswith("bson_group_accumulate_transition"):
            acc = g.accumulator()
            if r.random() < 0.2:
                acc.items.append(("$$vars", {"v": g.scalar()}))
            return acc
        if n == "p_write_concern":
            return {"w": r.choice([1, 0, "majority", -1, "x", {}]), "wtimeout": r.choice([0, -1, 2**31 - 1])}
        cmd = CMD_BY_FUNCTION.get(fname)
        if cmd == "connectionStatus":
            return {"connectionStatus": 1, "showPrivileges": r.choice([True, False])}
        if cmd:
            d = g.command(cmd)
            if cmd == "collMod" and r.random() < 0.5:
                d.items = d.items[1:]  # coll_mod's spec without the command key
            return d
        if typ == "bsonquery":
            return g.filter(2)
        c = r.randrange(6)
        return [g.filter, g.projection, g.update_doc, lambda: {"": g.expr(2)}, lambda: g.data_doc(wild=0.4),
                lambda: g.command()][c]()

    def bson_arg(self, fname, argname, typ):
        """(sql fragment, params) for a bson-family argument."""
        r, g = self.r, self.g
        c = r.random()
        if c < 0.04:
            return "NULL::documentdb_core.%s" % typ, []
        if typ == "bsonsequence":
            docs = self.sequence_docs(fname)
            data = b"".join(self.enc(d) for d in docs)
            if r.random() < 0.05:
                data = g.corrupt_bytes(data) if data else b"\x05\x00\x00\x00"
            return "%s::documentdb_core.bsonsequence", [self.bson(data, "bsonsequence")]
        v = self.doc_value(fname, argname, typ)
        if v is None:
            data = r.choice(self.docs) if r.random() < 0.7 else self.enc(g.data_doc(wild=0.5))
            if r.random() < 0.25:
                data = self.enc(g.mutate(B.decode(data)))
        else:
            if c < 0.35:
                v = g.mutate(v)
            data = self.enc(v)
        if r.random() < 0.04:
            data = g.corrupt_bytes(data)
        form = r.random()
        if form < 0.85:
            return "%s::documentdb_core." + typ, [self.bson(data, typ)]
        if form < 0.95:
            return "documentdb_core.bson_from_bytea(%s::bytea)" + ("" if typ == "bson" else "::text::documentdb_core." + typ), [data]
        return "%s::text::documentdb_core." + typ, ["BSONHEX" + data.hex()]

    def sequence_docs(self, fname):
        r, g = self.r, self.g
        n = r.randrange(6)
        if fname.startswith("update"):
            return [Doc([("q", g.filter(1)), ("u", g.update_doc()), ("multi", r.choice([True, False])),
                         ("upsert", r.choice([True, False]))]) for _ in range(n)]
        if fname.startswith("delete"):
            return [Doc([("q", g.filter(1)), ("limit", r.choice([0, 1]))]) for _ in range(n)]
        docs = [g.data_doc(wild=0.4) for _ in range(n)]
        if r.random() < 0.3:
            docs = [g.mutate(d) for d in docs]
        return docs

    def text_value(self, fname, argname):
        r, g = self.r, self.g
        n = argname
        if n in ("p_database_name", "database", "dbname"):
            v = g.db()
        elif n in ("p_collection_name", "p_target_name", "collection"):
            v = g.coll()
        elif n == "path" or fname in ("bson_get_value", "bson_get_value_text", "bson_distinct_unwind"):
            v = r.choice(G.FIELDS + ["a.b.c.d", "sub.y.z", "arr.0", "arr.10", "..", "a." * 500 + "a", ""])
        elif "json" in fname or "hex" in fname or fname.endswith("_in"):
            v = r.choice(JSON_TEXTS)
        elif n in ("p_transaction_id",):
            v = r.choice(["", "tx1", "x" * 1000, None])
        else:
            v = r.choice(G.STRINGS + G.FIELDS + ["", "x" * 10000])
        if isinstance(v, str):
            v = v.replace("\x00", "")
        return v

    def arg(self, f, i):
        """(sql fragment, params) for argument i of function f."""
        typ = f.argtypes[i]
        name = f.argnames[i] if i < len(f.argnames) else ""
        r, g = self.r, self.g
        short = typ.split(".")[-1]
        if short in BSON_TYPES:
            return self.bson_arg(f.name, name, short)
        if r.random() < 0.03:
            return "NULL::%s" % typ, []
        if typ in ("text", "character varying", "name", "cstring"):
            return "%s::" + typ, [self.text_value(f.name, name)]
        if typ in ("bigint", "integer", "smallint"):
            if name in ("cursorid",) and r.random() < 0.8:
                return "%s::bigint", [r.choice(g.cursor_ids)]
            v = r.choice([0, 1, -1, 2, 100, 2**31 - 1, -(2**31), 2**63 - 1, -(2**63), 42])
            return "%s::" + typ, [v]
        if typ in ("double precision", "real", "numeric"):
            return "%s::" + typ, [r.choice([1.0, 0.0, -1.0, 1024.0, 1e308, 5e-324, math.nan, math.inf, -math.inf, 0.5])]
        if typ == "boolean":
            return "%s::boolean", [r.random() < 0.5]
        if typ == "uuid":
            return r.choice(["gen_random_uuid()", "'00000000-0000-0000-0000-000000000000'::uuid"]), []
        if typ == "bigint[]":
            ids = [r.choice(g.cursor_ids) for _ in range(r.randrange(4))]
            ids = [x if isinstance(x, int) else 0 for x in ids]
            if r.random() < 0.2:
                return r.choice(["'{}'::bigint[]", "ARRAY[NULL]::bigint[]", "'{{1,2},{3,4}}'::bigint[]"]), []
            return "%s::bigint[]", [ids]
        if typ == "oid":
            return "%s::oid", [r.choice([0, 1, 1259, 2**32 - 1])]
        if typ == "internal":
            return "NULL::internal", []
        if typ == '"any"' or typ == "any" or typ == "anyelement":
            return r.choice(ANY_LITERALS), []
        if typ == "record":
            return r.choice(["ROW(1, 'a'::text)", "ROW()", "ROW(NULL)", "(SELECT c FROM pg_class c LIMIT 1)",
                             "ROW('{\"a\": 1}'::documentdb_core.bson, 2)", "ROW(ROW(1, 2), ARRAY[1])"]), []
        if typ in ("json", "jsonb"):
            return "%s::" + typ, [r.choice(['{}', '{"a": 1}', '[1, {"b": [null, 1.5e300]}]', '"x"', '1e400',
                                            '{"a": {"$numberDecimal": "NaN"}}', 'null', '{"$date": 1}'])]
        if typ == "bytea":
            return "%s::bytea", [r.choice(self.docs) if r.random() < 0.5 else r.randbytes(r.randrange(20))]
        if typ.endswith("[]"):
            return "NULL::%s" % typ, []
        return "NULL::%s" % typ, []

    # -- statement builders --------------------------------------------------------------
    def call_function(self, f):
        r = self.r
        n = len(f.argtypes)
        # Sometimes omit defaulted trailing arguments.
        if f.ndefaults and r.random() < 0.3:
            n -= r.randint(1, f.ndefaults)
        if f.variadic and r.random() < 0.7:
            # Variadic "any": a varying number of key/value pairs.
            parts, params = [], []
            for _ in range(r.randrange(0, 9)):
                if r.random() < 0.6:
                    parts.append("%s::text")
                    params.append(r.choice(G.PLAIN_FIELDS + G.FIELDS).replace("\x00", ""))
                else:
                    parts.append(r.choice(ANY_LITERALS))
            return "SELECT %s(%s)" % (f.qname, ", ".join(parts)), params
        if f.kind == "a":
            return self.call_aggregate(f)
        rowwise = n >= 1 and f.argtypes[0].endswith("bson") and (f.argnames[:1] or [""])[0] in DOC_ARGS
        parts, params = [], []
        for i in range(n):
            if i == 0 and rowwise and r.random() < 0.45:
                parts.append("c.document")
                continue
            frag, ps = self.arg(f, i)
            parts.append(frag)
            params.extend(ps)
        call = "%s(%s)" % (f.qname, ", ".join(parts))
        if f.kind == "p":
            return "CALL " + call, params
        if parts and parts[0] == "c.document":
            src = self.row_source()
            if f.retset:
                return "SELECT count(*) FROM %s, LATERAL %s x" % (src, call), params
            shape = r.randrange(4)
            if shape == 0:
                return "SELECT count(%s) FROM %s" % (call, src), params
            if shape == 1 and f.rettype == "boolean":
                return "SELECT count(*) FROM %s WHERE %s" % (src, call), params
            if shape == 2:
                return "SELECT %s FROM %s ORDER BY 1 LIMIT 20" % (call, src), params
            return "SELECT %s FROM %s LIMIT 50" % (call, src), params
        if f.retset or f.rettype == "record":
            return "SELECT * FROM %s LIMIT 500" % call, params
        return "SELECT %s" % call, params

    def row_source(self):
        r = self.r
        c = r.randrange(10)
        if c < 5:
            return "documentdb_api.collection('%s', '%s') c" % (G.DATA_DB, r.choice(G.DATA_COLLS))
        if c < 7 and self.tables:
            return "%s c" % r.choice(self.tables)
        if c < 9:
            docs = ", ".join("('\\x%s'::bytea::documentdb_core.bson)" % r.choice(self.docs).hex()
                             for _ in range(r.randint(1, 5)))
            return "(VALUES %s) c(document)" % docs
        return ("(SELECT '\\x%s'::bytea::documentdb_core.bson AS document FROM generate_series(1, 2000)) c"
                % r.choice(self.docs).hex())

    def call_aggregate(self, f):
        r = self.r
        parts, params = [], []
        for i in range(len(f.argtypes)):
            if i == 0 and f.argtypes[0].endswith("bson"):
                parts.append("c.document")
                continue
            frag, ps = self.arg(f, i)
            parts.append(frag)
            params.extend(ps)
        args = ", ".join(parts)
        src = self.row_source()
        shape = r.randrange(7)
        if shape == 0:
            return "SELECT %s(%s) FROM %s" % (f.qname, args, src), params
        if shape == 1:
            return ("SELECT %s(%s) FROM %s GROUP BY c.document OPERATOR(documentdb_core.->) 'a'"
                    % (f.qname, args, src)), params
        if shape == 2:
            return ("SELECT %s(%s) OVER (ORDER BY c.document ROWS BETWEEN 1 PRECEDING AND CURRENT ROW) FROM %s LIMIT 100"
                    % (f.qname, args, src)), params
        if shape == 3:
            return "SELECT %s(%s) OVER () FROM %s LIMIT 50" % (f.qname, args, src), params
        if shape == 4:
            return ("SELECT %s(%s ORDER BY c.document DESC) FILTER (WHERE c.document IS NOT NULL) FROM %s"
                    % (f.qname, args, src)), params
        if shape == 5:
            return "SELECT %s(%s) FROM %s WHERE false" % (f.qname, args, src), params
        return ("SELECT %s(%s) OVER (PARTITION BY c.document OPERATOR(documentdb_core.->) 'b' ORDER BY c.document "
                "RANGE BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) FROM %s LIMIT 100"
                % (f.qname, args, src)), params

    def call_operator(self, op):
        schema, name, left, right = op
        r = self.r
        lfrag, lp = self.typed_operand(left, "document")
        rfrag, rp = self.typed_operand(right, "operand" if schema == "documentdb_api_catalog" else "right")
        expr = "%s OPERATOR(%s.%s) %s" % (lfrag, schema, name, rfrag)
        if left and left.endswith("bson") and r.random() < 0.5:
            src = self.row_source()
            expr2 = "c.document OPERATOR(%s.%s) %s" % (schema, name, rfrag)
            if r.random() < 0.5:
                return "SELECT count(*) FROM %s WHERE %s" % (src, expr2), rp
            return "SELECT %s FROM %s LIMIT 30" % (expr2, src), rp
        return "SELECT %s" % expr, lp + rp

    def typed_operand(self, typ, role):
        if typ is None or typ == "-":
            return "", []
        short = typ.split(".")[-1]
        if short in BSON_TYPES:
            return self.bson_arg("operator", role, short)
        if typ == "text":
            return "%s::text", [self.r.choice(G.FIELDS + ["a.b", "arr.0", "sub.y.z", "", "x" * 1000])]
        if typ in ("integer", "bigint", "smallint"):
            return "%s::" + typ, [self.r.choice([0, 1, -1, 2**31 - 1])]
        if typ == "text[]":
            return "%s::text[]", [[self.r.choice(G.PLAIN_FIELDS) for _ in range(self.r.randrange(3))]]
        return "NULL::%s" % typ, []

    # -- special statement families ------------------------------------------------------
    def cursor_flow(self):
        """find/aggregate first page in binary (to capture continuations and ids), then
        getMore with the real, and a mutated, continuation; sometimes in a transaction."""
        r, g = self.r, self.g
        fname = r.choice(["find_cursor_first_page", "aggregate_cursor_first_page",
                          "list_collections_cursor_first_page", "list_indexes_cursor_first_page"])
        kind = CMD_BY_FUNCTION[fname]
        cmd = g.command(kind)
        for k in range(len(cmd.items)):
            if cmd.items[k][0] == "batchSize" or cmd.items[k][0] == "cursor":
                break
        else:
            cmd.items.append(("batchSize", r.choice([0, 1, 2, 5])) if kind == "find" else ("cursor", {"batchSize": r.choice([0, 1, 2])}))
        tx = r.random() < 0.3
        if tx:
            self.begin_tx()
        rows = self.execute("documentdb_api." + fname,
                            "SELECT cursorpage, continuation, persistconnection, cursorid FROM documentdb_api.%s(%%s, %%s::documentdb_core.bson, %%s::bigint)" % fname,
                            [G.DATA_DB, self.bson(self.enc(cmd)), r.choice([0, 0, 0, 1, 2**63 - 1, -1])], binary=True)
        if rows:
            page, cont, persist, cid = rows[0]
            if isinstance(cid, int) and cid:
                g.cursor_ids.append(cid)
                if len(g.cursor_ids) > 50:
                    del g.cursor_ids[5]
            if cont:
                g.continuations.append(bytes(cont))
                if len(g.continuations) > 30:
                    del g.continuations[0]
                for _ in range(r.randint(1, 4)):
                    cont_v = B.decode(bytes(cont))
                    if r.random() < 0.5:
                        cont_v = g.mutate(cont_v)
                    gm = Doc([("getMore", B.I64(cid if isinstance(cid, int) else 0)), ("collection", r.choice(G.DATA_COLLS)),
                              ("batchSize", r.choice([1, 2, 0, 101, -1]))])
                    if r.random() < 0.3:
                        gm = g.mutate(gm)
                    rows2 = self.execute("documentdb_api.cursor_get_more",
                                         "SELECT cursorpage, continuation FROM documentdb_api.cursor_get_more(%s, %s::documentdb_core.bson, %s::documentdb_core.bson)",
                                         [G.DATA_DB, self.bson(self.enc(gm)), self.bson(self.enc(cont_v))], binary=True)
                    if rows2 and rows2[0][1]:
                        cont = bytes(rows2[0][1])
                    else:
                        break
            if r.random() < 0.3 and isinstance(cid, int):
                self.execute("documentdb_api_internal.delete_cursors",
                             "SELECT documentdb_api_internal.delete_cursors(%s::bigint[])", [[cid, r.choice([0, -1, 1])]])
        if tx:
            self.end_tx()

    def continuation_doc(self, k, kind=None, sql=None):
        r = self.r
        kind = kind or r.choice(["scan", "portal", "buffered"])
        d = Doc([("v", 1), ("ns", r.choice(["hunt.c1", "hunt.nope", "", "x"])),
                 ("remaining", B.I64(r.choice([0, 1, 5, -1, 2**63 - 1]))), ("kind", kind)])
        if kind == "portal":
            d.items.append(("portal", r.choice(["documentdb_cursor_%d" % k, "", "hunt_cur", "documentdb_cursor_0"])))
        if kind == "scan":
            t = r.choice(self.tables) if self.tables else "documentdb_data.documents_1"
            d.items.append(("sql", sql or r.choice([
                "SELECT document, ctid FROM %s WHERE ctid > $1" % t,
                "SELECT document, ctid FROM %s WHERE ctid > $2" % t,
                "SELECT ctid, document FROM %s WHERE ctid > $1" % t,
                "SELECT 1, ctid FROM %s WHERE ctid > $1" % t,
                "SELECT $1::documentdb_core.bson, $2",
                "SELECT document, 1 FROM %s" % t,
                "SELECT documentdb_api_internal.delete_cursors(ARRAY[%d::bigint])" % k,
                "SELECT (documentdb_api.cursor_get_more('hunt', '{\"getMore\": 1}', NULL)).cursorpage, '(0,1)'::tid",
                "SELECT document, ctid FROM %s WHERE ctid > $1 FOR UPDATE" % t,
                "SELECT ",
            ])))
            d.items.append(("params", r.choice([[], [{"bson": {"a": 1}}], [{"text": "x"}], [{"int8": B.I64(1)}],
                                                [{"null": True}], [1], [{"bson": {}}, {"text": "y"}]])))
            d.items += [("block", B.I64(r.choice([0, 1, 2**32 - 1, 2**32, -1]))),
                        ("offset", B.I32(r.choice([0, 1, 65535, 65536, -1])))]
        if r.random() < 0.3:
            d.items.append(("pending", r.choice([[{"a": 1}], [{"a": 1}] * 200, [1, "x"], []])))
        return d

    def portal_flow(self):
        """SQL cursors named like the extension's portals, used from inside themselves:
        getMore / delete_cursors on the portal that is running, across transaction ends."""
        r = self.r
        k = r.choice([5, 6, 7])
        name = "documentdb_cursor_%d" % k
        cont = self.continuation_doc(k, kind="portal")
        gm = Doc([("getMore", B.I64(k)), ("collection", "c1"), ("batchSize", r.choice([1, 2, 100]))])
        inner = r.choice([
            "SELECT documentdb_api_internal.delete_cursors(ARRAY[%d::bigint]) FROM generate_series(1, 3)" % k,
            "SELECT (documentdb_api.cursor_get_more('hunt', '\\x%s'::bytea::documentdb_core.bson, '\\x%s'::bytea::documentdb_core.bson)).cursorpage FROM generate_series(1, 3)"
            % (self.enc(gm).hex(), self.enc(cont).hex()),
            "SELECT document FROM documentdb_api.collection('hunt', 'c1')",
            "SELECT 1",
            "SELECT (documentdb_api.find_cursor_first_page('hunt', '\\x%s'::bytea::documentdb_core.bson, %d)).cursorpage FROM generate_series(1, 2)"
            % (self.enc(Doc([("find", "c1"), ("batchSize", 1), ("sort", {"a": 1})])).hex(), k),
        ])
        tx = r.random() < 0.6
        if tx:
            self.execute("tx", "BEGIN", fetch=False)
            self.in_tx = True
        hold = " WITH HOLD" if (not tx or r.random() < 0.5) else ""
        self.execute("portal", "DECLARE %s NO SCROLL CURSOR%s FOR %s" % (name, hold, inner), fetch=False)
        for _ in range(r.randint(1, 3)):
            c = r.randrange(4)
            if c == 0:
                self.execute("portal", "FETCH %d FROM %s" % (r.choice([1, 2, 100]), name))
            elif c == 1:
                self.execute("documentdb_api.cursor_get_more",
                             "SELECT cursorpage, continuation FROM documentdb_api.cursor_get_more(%s, %s::documentdb_core.bson, %s::documentdb_core.bson)",
                             ["hunt", self.bson(self.enc(gm)), self.bson(self.enc(cont))])
            elif c == 2:
                self.execute("documentdb_api_internal.delete_cursors",
                             "SELECT documentdb_api_internal.delete_cursors(%s::bigint[])", [[k]])
            else:
                self.execute("documentdb_api.find_cursor_first_page",
                             "SELECT * FROM documentdb_api.find_cursor_first_page(%s, %s::documentdb_core.bson, %s::bigint)",
                             ["hunt", self.bson(self.enc(Doc([("find", "c1"), ("batchSize", 1), ("sort", {"a": -1})]))), k])
            if self.in_tx and self.conn.info.transaction_status == pq.TransactionStatus.INERROR:
                break
        if tx:
            self.end_tx()
        self.execute("portal", "CLOSE %s" % name, fetch=False)
        if r.random() < 0.5:
            self.execute("documentdb_api.cursor_get_more",
                         "SELECT cursorpage, continuation FROM documentdb_api.cursor_get_more(%s, %s::documentdb_core.bson, %s::documentdb_core.bson)",
                         ["hunt", self.bson(self.enc(gm)), self.bson(self.enc(self.continuation_doc(k)))])

    def user_flow(self):
        """createUser / updateUser / usersInfo / dropUser on the same user, in order."""
        r, g = self.r, self.g
        name = G.USER_PREFIX + r.choice(["f1", "f2", "f3", "f4"])
        steps = []
        steps.append(Doc([("createUser", name), ("pwd", "pw"), ("roles", g.roles()), ("$db", "admin")]))
        for _ in range(r.randint(1, 3)):
            d = Doc([("updateUser", name)])
            c = r.randrange(4)
            if c == 0:
                d.items.append(("roles", g.roles()))
            elif c == 1:
                d.items.append(("pwd", r.choice(["pw2", "", "x" * 100])))
            elif c == 2:
                d.items.append(("customData", g.value(2)))
            else:
                d.items += [("roles", g.roles()), ("pwd", "pw3"), ("customData", {"a": 1})]
            d.items.append(("$db", r.choice(["admin", G.DATA_DB])))
            if r.random() < 0.3:
                d = g.mutate(d, 1)
            steps.append(d)
        steps.append(Doc([("usersInfo", r.choice([name, 1, [name]]))]))
        if r.random() < 0.7:
            steps.append(Doc([("dropUser", name), ("$db", "admin")]))
        fn = {"createUser": "create_user", "updateUser": "update_user", "usersInfo": "users_info", "dropUser": "drop_user"}
        for d in steps:
            if not d.items:
                continue
            cmd = d.items[0][0]
            if isinstance(cmd, bytes) or cmd not in fn:
                cmd = "updateUser"
            key = "documentdb_api." + fn[cmd]
            if self.disabled.get(key, 0) >= self.a.max_crashes_per_function:
                continue
            self.execute(key, "SELECT documentdb_api.%s(%%s::documentdb_core.bson)" % fn[cmd], [self.bson(self.enc(d))])
        if name not in g.users:
            g.users.append(name)

    def text_input(self):
        r = self.r
        t = r.choice(JSON_TEXTS)
        if r.random() < 0.3 and len(t) > 2:
            i = r.randrange(len(t))
            t = t[:i] + r.choice(["", "{", "}", "[", "]", "\"", ",", ":", "\\", "$", "1e999", "\\u12"]) + t[i + 1:]
        typ = r.choice(["bson", "bson", "bsonquery", "bsonsequence"])
        form = r.randrange(3)
        if form == 0:
            return "text::documentdb_core." + typ, "SELECT %s::text::documentdb_core." + typ, [t]
        if form == 1:
            return "bson_json_to_bson", "SELECT documentdb_core.bson_json_to_bson(%s)", [t]
        return "json->bson", "SELECT (%s::text::jsonb)::documentdb_core.bson", [t]

    def reseed(self):
        conn = None
        try:
            conn = psycopg.connect(self.a.dsn, autocommit=True, connect_timeout=5)
            register_bson(conn, self.oids)
            conn.execute("SET statement_timeout = '30s'")
            self.tables = seed_data(conn, G.Gen(random.Random(self.seed + 7), self.g.big), 60)
        except psycopg.Error:
            pass
        finally:
            if conn is not None:
                conn.close()

    # -- main loop -----------------------------------------------------------------------
    def run(self, deadline):
        self.setup()
        funcs = self.funcs
        weights = []
        for f in funcs:
            w = 1.0
            if f.schema == "documentdb_api":
                w = 3.0
            if f.name.startswith("bson_") and f.schema == "documentdb_api_internal":
                w = 2.0
            weights.append(w)
        last_reseed = time.time()
        while time.time() < deadline:
            r = self.r
            if self.idx == 0 and time.time() - last_reseed > 20:
                self.reseed()
                last_reseed = time.time()
            if not self.in_tx and r.random() < 0.04:
                self.begin_tx()
            elif self.in_tx and r.random() < 0.15:
                self.end_tx()
            c = r.random()
            try:
                if c < 0.07:
                    self.cursor_flow()
                    continue
                if c < 0.075 and not self.in_tx:
                    self.portal_flow()
                    continue
                if c < 0.11:
                    self.user_flow()
                    continue
                if c < 0.15:
                    kind, sql, params = self.text_input()
                    self.execute(kind, sql, params)
                    continue
                if c < 0.25 and self.ops:
                    op = r.choice(self.ops)
                    sql, params = self.call_operator(op)
                    self.execute("operator %s.%s(%s,%s)" % op, sql, params)
                    continue
                f = r.choices(funcs, weights)[0]
                if self.disabled.get(f.qname, 0) >= self.a.max_crashes_per_function:
                    continue
                sql, params = self.call_function(f)
                if self.in_tx:
                    self.execute("tx", "SAVEPOINT hunt_sp", fetch=False)
                self.execute(f.qname, sql, params, binary=r.random() < 0.2)
                if self.in_tx and self.conn.info.transaction_status == pq.TransactionStatus.INTRANS:
                    pass
            except RecursionError:
                continue
            except (psycopg.Error, RuntimeError):
                raise
            except Exception:  # noqa: BLE001 - a harness bug must not end the hunt
                self.stats.harness_errors += 1
                if len(self.stats.harness_traces) < 5:
                    self.stats.harness_traces.append(traceback.format_exc()[-2000:])
        if self.in_tx:
            self.end_tx(False)
        self.ring.dump(os.path.join(self.a.out, "last-statements-w%d.sql" % self.idx),
                       "the last statements of SQL worker %d (seed %d)" % (self.idx, self.seed))


struct_error = __import__("struct").error


def die_with_parent():
    """Linux: the worker gets SIGTERM when the hunter that forked it goes away."""
    try:
        import ctypes
        import signal
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def worker_main(idx, a, big, queue):
    die_with_parent()
    w = Worker(idx, a, big)
    try:
        w.run(time.time() + a.seconds)
    except Exception:
        w.stats.drops.append({"function": "harness", "error": traceback.format_exc()[-3000:], "statement": ""})
        try:
            w.ring.dump(os.path.join(a.out, "last-statements-w%d.sql" % idx), "worker %d failed" % idx)
        except Exception:
            pass
    queue.put((idx, w.stats.as_dict()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dsn", required=True)
    ap.add_argument("--log", required=True, help="the PostgreSQL server log file")
    ap.add_argument("--out", required=True, help="directory for crash files and the summary")
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--ring", type=int, default=50)
    ap.add_argument("--statement-timeout", type=float, default=3.0)
    ap.add_argument("--max-crashes-per-function", type=int, default=2,
                    help="stop calling a function after it crashed this many times (to find other crashes)")
    ap.add_argument("--seed-only", action="store_true", help="create the data collections and exit")
    ap.add_argument("--no-bombs", action="store_true",
                    help="leave out expressions built to exhaust memory ($reduce doubling, huge $range)")
    a = ap.parse_args()
    if a.seed is None:
        a.seed = random.SystemRandom().randrange(1, 2**31)
    os.makedirs(a.out, exist_ok=True)
    print("crash_hunt sql: seed %d, %d workers, %.0f s" % (a.seed, a.workers, a.seconds), flush=True)
    G.BOMBS = not a.no_bombs
    big = G.Big()
    conn = psycopg.connect(a.dsn, autocommit=True)
    register_bson(conn, type_oids(conn))
    seed_data(conn, G.Gen(random.Random(a.seed), big))
    funcs, ops = load_catalog(conn)
    conn.close()
    print("crash_hunt sql: %d functions, %d operators in %s" % (len(funcs), len(ops), ", ".join(SCHEMAS)), flush=True)
    with open(os.path.join(a.out, "functions.txt"), "w") as f:
        for fn in funcs:
            f.write("%s %s -> %s%s\n" % (fn.kind, fn.ident, "SETOF " if fn.retset else "", fn.rettype))
        for op in ops:
            f.write("operator %s.%s(%s, %s)\n" % op)
    if a.seed_only:
        return 0
    started = time.time()
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    procs = [ctx.Process(target=worker_main, args=(i, a, big, queue)) for i in range(a.workers)]
    for p in procs:
        p.start()
    results = {}
    deadline = time.time() + a.seconds + 120
    while len(results) < len(procs) and time.time() < deadline:
        try:
            idx, st = queue.get(timeout=5)
            results[idx] = st
        except Exception:
            if not any(p.is_alive() for p in procs) and queue.empty():
                break
    for p in procs:
        p.join(10)
        if p.is_alive():
            p.kill()
    took = time.time() - started
    total = {"seed": a.seed, "seconds": took, "statements": 0, "errors": 0, "ok": 0, "timeouts": 0,
             "crashes": [], "drops": [], "internal": {}, "per_func": {}, "workers": len(procs),
             "workers_reported": len(results), "harness_errors": 0, "harness_traces": []}
    for st in results.values():
        for k in ("statements", "errors", "ok", "timeouts"):
            total[k] += st[k]
        total["crashes"] += st["crashes"]
        total["harness_errors"] += st["harness_errors"]
        total["harness_traces"] += st["harness_traces"]
        total["drops"] += st["drops"]
        for k, v in st["internal"].items():
            if k in total["internal"]:
                total["internal"][k][0] += v[0]
            else:
                total["internal"][k] = v
        for k, v in st["per_func"].items():
            pf = total["per_func"].setdefault(k, [0, 0])
            pf[0] += v[0]
            pf[1] += v[1]
    qnames = {fn.qname for fn in funcs}
    called = sum(1 for k in total["per_func"] if k in qnames)
    total["functions_total"], total["functions_called"] = len(qnames), called
    total["functions_never_called"] = sorted(qnames - set(total["per_func"]))
    total["operators_called"] = sum(1 for k in total["per_func"] if k.startswith("operator"))
    with open(os.path.join(a.out, "sql_summary.json"), "w") as f:
        json.dump(total, f, indent=1, default=str)

    print("crash_hunt sql: %d statements in %.0f s (%.0f/s), %d ok, %d errors (%d timeouts), %d functions called, "
          "%d crashes, %d lost connections without a crash, %d distinct internal errors (XX000)"
          % (total["statements"], took, total["statements"] / max(took, 1e-9), total["ok"], total["errors"],
             total["timeouts"], called, len(total["crashes"]), len(total["drops"]), len(total["internal"])), flush=True)
    print("crash_hunt sql: %d of %d functions called, %d of %d operators"
          % (called, len(qnames), total["operators_called"], len(ops)), flush=True)
    for c in total["crashes"]:
        print("  CRASH signal %s in %s: %s" % (c["signal"], c["function"], c["statement"][:600]))
        for line in c.get("params", []):
            print("  " + line[:1000])
        print("    replay: %s" % c["last"])
    for d in total["drops"][:10]:
        print("  lost connection in %s: %s\n    %s" % (d["function"], d["error"][-600:], d["statement"][:300]))
    if total["harness_errors"]:
        print("crash_hunt sql: %d harness errors (bugs of the hunter, not findings); first:\n%s"
              % (total["harness_errors"], total["harness_traces"][0]))
    if len(results) < len(procs):
        print("crash_hunt sql: only %d of %d workers reported" % (len(results), len(procs)))
        return 3
    return 1 if total["crashes"] else 0


if __name__ == "__main__":
    sys.exit(main())
