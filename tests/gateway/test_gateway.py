#!/usr/bin/env python3
"""End-to-end tests of the MongoDB wire gateway with real drivers (pymongo, and mongosh when
installed).

Run:   python3 tests/gateway/test_gateway.py --uri 'mongodb://user:pw@127.0.0.1:10260/?directConnection=true'
  or:  GATEWAY_URI=... pytest tests/gateway/test_gateway.py
Options: --mongosh PATH (or MONGOSH=PATH) also runs the mongosh smoke test.
The user in the URI must be able to create databases and users (e.g. the admin user).
Prints 'N passed, N failed, N skipped' and exits non-zero on any failure.
"""
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

import bson
import pymongo
from bson import ObjectId
from pymongo.errors import OperationFailure, PyMongoError

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402 - tests/harness.py, the runner shared by the suites

URI = os.environ.get("GATEWAY_URI", "")
MONGOSH = os.environ.get("MONGOSH", "")
DB = "gw_e2e_" + uuid.uuid4().hex[:8]


Skip = harness.Skip


def with_options(uri, **opts):
    parts = urllib.parse.urlsplit(uri)
    query = dict(urllib.parse.parse_qsl(parts.query))
    query.update({k: str(v) for k, v in opts.items()})
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def with_credentials(uri, user, password):
    parts = urllib.parse.urlsplit(uri)
    host = parts.netloc.rsplit("@", 1)[-1]
    cred = "" if user is None else f"{urllib.parse.quote(user)}:{urllib.parse.quote(password)}@"
    return urllib.parse.urlunsplit(parts._replace(netloc=cred + host))


def client(uri=None, **opts):
    opts.setdefault("serverSelectionTimeoutMS", 5000)
    return pymongo.MongoClient(uri or URI, **opts)


def host_port():
    parts = urllib.parse.urlsplit(URI)
    host = parts.netloc.rsplit("@", 1)[-1].split(",")[0]
    name, _, port = host.rpartition(":")
    return name or "127.0.0.1", int(port or 27017)


def expect_error(code, fn):
    try:
        fn()
    except OperationFailure as e:
        assert e.code == code, f"expected code {code}, got {e.code}: {e.details}"
        return e
    raise AssertionError(f"expected error {code}, got success")


# ---------------------------------------------------------------- handshake and admin


def test_hello_shape():
    c = client()
    for name in ["hello", "isMaster", "ismaster"]:
        r = c.admin.command(name)
        key = "isWritablePrimary" if name == "hello" else "ismaster"
        assert r[key] is True, r
        assert r["maxBsonObjectSize"] == 16777216
        assert r["maxMessageSizeBytes"] == 48000000
        assert r["maxWriteBatchSize"] == 100000
        assert r["logicalSessionTimeoutMinutes"] == 30
        assert r["minWireVersion"] == 0 and r["maxWireVersion"] == 21
        assert r["readOnly"] is False
        assert "localTime" in r and "connectionId" in r
        assert r["ok"] == 1.0


def test_build_info_and_ping():
    c = client()
    info = c.admin.command("buildInfo")
    assert info["version"] == "7.0.0"
    assert list(info["versionArray"]) == [7, 0, 0, 0]
    assert "gitVersion" in info
    assert c.admin.command("ping")["ok"] == 1.0
    assert c.admin.command("getLastError")["ok"] == 1.0
    assert c.admin.command("whatsmyuri")["you"].startswith("127.0.0.1:")


def test_pre_auth_commands():
    anon = client(with_credentials(URI, None, None))
    assert anon.admin.command("ping")["ok"] == 1.0
    assert anon.admin.command("buildInfo")["version"] == "7.0.0"
    assert anon.admin.command("hello")["isWritablePrimary"] is True
    status = anon.admin.command("connectionStatus")
    assert status["authInfo"]["authenticatedUsers"] == []
    e = expect_error(13, lambda: anon[DB].c.find_one())
    assert "requires authentication" in e.details["errmsg"], e.details
    expect_error(13, lambda: anon.admin.command("listDatabases"))
    expect_error(13, lambda: anon.admin.command("serverStatus"))


def test_bad_password():
    user = urllib.parse.unquote(urllib.parse.urlsplit(URI).username or "nobody")
    bad = client(with_credentials(URI, user, "definitely-not-the-password"))
    e = expect_error(18, lambda: bad.admin.command("ping"))
    assert e.details["errmsg"] == "Authentication failed.", e.details
    nouser = client(with_credentials(URI, "no_such_user_" + uuid.uuid4().hex[:6], "x"))
    expect_error(18, lambda: nouser.admin.command("ping"))


def test_unknown_command():
    e = expect_error(59, lambda: client()[DB].command("noSuchCommandXyz"))
    assert e.details["errmsg"] == "no such command: 'noSuchCommandXyz'"
    assert e.details["codeName"] == "CommandNotFound"


def test_list_commands_and_parameters():
    c = client()
    commands = c.admin.command("listCommands")["commands"]
    for name in ["find", "insert", "getMore", "killCursors", "saslStart", "hello", "listCommands", "createUser"]:
        assert name in commands, name
        assert "help" in commands[name]
    assert commands["find"]["requiresAuth"] is True
    assert commands["hello"]["requiresAuth"] is False
    fcv = c.admin.command("getParameter", 1, featureCompatibilityVersion=1)
    assert fcv["featureCompatibilityVersion"]["version"] == "7.0"
    assert "featureCompatibilityVersion" in c.admin.command("getParameter", "*")
    expect_error(72, lambda: c.admin.command("getParameter", 1, noSuchParameter=1))
    expect_error(13, lambda: c[DB].command("getParameter", "*"))  # admin only
    assert "parsed" in c.admin.command("getCmdLineOpts")


def test_server_status_host_info_sessions():
    c = client()
    s = c.admin.command("serverStatus")
    for key in ["host", "version", "process", "pid", "uptime", "localTime"]:
        assert key in s, key
    assert s["connections"]["current"] >= 1
    assert s["connections"]["totalCreated"] >= s["connections"]["current"]
    assert "available" in s["connections"]
    assert c.admin.command("hostInfo")["system"]["numCores"] >= 1
    sid = c.admin.command("startSession")["id"]["id"]
    assert isinstance(sid, uuid.UUID) or len(sid) == 16
    assert c.admin.command("endSessions", [])["ok"] == 1.0
    status = c.admin.command("connectionStatus")["authInfo"]
    assert len(status["authenticatedUsers"]) == 1


def test_single_node_replica_set_and_retryable_writes():
    """Issue #12: the gateway is a single-node replica set (hello, replSetGetStatus, cluster
    time in every reply); a write with a session's txnNumber is applied once and a retry
    answers the first reply (retryable-writes spec); txnNumber elsewhere is 50768, an older
    txnNumber 225 TransactionTooOld."""
    c = client()
    hello = c.admin.command("hello")
    assert hello["setName"] and hello["isWritablePrimary"] and not hello["secondary"], hello
    assert hello["hosts"] == [hello["me"]] == [hello["primary"]], hello
    reply = c.admin.command("ping")
    assert isinstance(reply["operationTime"], bson.Timestamp), reply
    assert reply["$clusterTime"]["clusterTime"] == reply["operationTime"], reply
    status = c.admin.command("replSetGetStatus")
    assert status["set"] == hello["setName"] and status["members"][0]["stateStr"] == "PRIMARY", status
    assert c.admin.command("replSetGetConfig")["config"]["members"][0]["host"] == hello["me"]
    c[DB].retry.drop()
    # Explicit txnNumbers on a session of their own client: the driver's pooled sessions keep
    # their own counters, which these would overtake.
    raw = client()
    with raw.start_session() as s:
        cmd = bson.SON([("insert", "retry"), ("documents", [{"_id": 1, "n": 1}]), ("txnNumber", bson.Int64(7))])
        first = raw[DB].command(cmd, session=s)
        again = raw[DB].command(cmd, session=s)
        assert first["n"] == again["n"] == 1 and c[DB].retry.count_documents({}) == 1, (first, again)
        upd = bson.SON([("update", "retry"), ("updates", [{"q": {"_id": 1}, "u": {"$inc": {"n": 1}}}]),
                        ("txnNumber", bson.Int64(8))])
        assert raw[DB].command(upd, session=s)["nModified"] == 1
        assert raw[DB].command(upd, session=s)["nModified"] == 1
        assert c[DB].retry.find_one({"_id": 1})["n"] == 2, "a retried update ran twice"
        expect_error(225, lambda: raw[DB].command(bson.SON([("insert", "retry"), ("documents", [{"_id": 2}]),
                                                            ("txnNumber", bson.Int64(3))]), session=s))
        expect_error(50768, lambda: raw[DB].command("find", "retry", txnNumber=bson.Int64(9), session=s))
    # Drivers retry writes on their own (retryWrites, on by default with a replica set).
    assert c[DB].retry.insert_one({"_id": 3}).acknowledged


# ---------------------------------------------------------------- transport


def test_tls_and_plain_on_one_port():
    plain = client(with_options(URI, tls="false"))
    assert plain.admin.command("ping")["ok"] == 1.0
    tls = client(with_options(URI, tls="true", tlsAllowInvalidCertificates="true"))
    assert tls.admin.command("ping")["ok"] == 1.0
    assert tls[DB].tls.insert_one({"x": 1}).acknowledged
    assert tls[DB].tls.count_documents({}) == 1


def test_compression():
    ran = 0
    for name, module in [("zlib", "zlib"), ("snappy", "snappy"), ("zstd", "zstandard")]:
        try:
            __import__(module)
        except ImportError:
            continue
        c = client(with_options(URI, compressors=name))
        coll = c[DB]["comp_" + name]
        coll.insert_many([{"_id": i, "s": "x" * 200} for i in range(300)])
        assert len(list(coll.find({}, batch_size=50))) == 300
        ran += 1
    if not ran:
        raise Skip("no compression module")


def test_malformed_frame_closes_only_that_connection():
    host, port = host_port()
    c = client()
    assert c.admin.command("ping")["ok"] == 1.0
    for payload in [b"\xff\xff\xff\x7f" + b"\x00" * 12, b"\x20\x00\x00\x00" + b"\x01" * 28]:
        s = socket.create_connection((host, port), timeout=5)
        s.sendall(payload)
        try:
            data = s.recv(100)
        except (ConnectionResetError, socket.timeout):
            data = b""
        assert data == b"", "the server should close a connection that sends a malformed frame"
        s.close()
    assert c.admin.command("ping")["ok"] == 1.0


def configure_fail_point(c, mode, **data):
    cmd = {"configureFailPoint": "failCommand", "mode": mode}
    if data:
        cmd["data"] = data
    return c.admin.command(cmd)


def test_fail_command_fail_point():
    """configureFailPoint failCommand (test-only; `make run` enables test commands)."""
    c = client(appname="fp-e2e", retryReads=False, retryWrites=False)
    if "configureFailPoint" not in c.admin.command("listCommands")["commands"]:
        raise Skip("test commands are not enabled on this gateway")
    coll = c[DB].failpoint
    try:
        # errorCode + errorLabels, {times: 1}: only the next insert fails.
        configure_fail_point(c, {"times": 1}, failCommands=["insert"], errorCode=8, errorLabels=["Custom"])
        e = expect_error(8, lambda: coll.insert_one({"_id": 1}))
        assert e.details["codeName"] == "UnknownError" and e.details["errorLabels"] == ["Custom"], e.details
        coll.insert_one({"_id": 1})
        # closeConnection: no reply, the connection closes; the next command works again.
        configure_fail_point(c, {"times": 1}, failCommands=["find"], closeConnection=True)
        try:
            coll.find_one({"_id": 1})
        except pymongo.errors.AutoReconnect:
            pass
        else:
            raise AssertionError("closeConnection did not close the connection")
        assert coll.find_one({"_id": 1}) == {"_id": 1}
        # appName filter: another application's commands are untouched.
        configure_fail_point(c, "alwaysOn", failCommands=["count"], errorCode=2, appName="someone-else")
        assert coll.count_documents({}) == 1
        # writeConcernError on an otherwise successful write.
        configure_fail_point(
            c, {"times": 1}, failCommands=["insert"], writeConcernError={"code": 64, "errmsg": "waiting timed out"}
        )
        try:
            coll.insert_one({"_id": 2})
        except pymongo.errors.WriteConcernError as wce:
            assert wce.code == 64
        else:
            raise AssertionError("writeConcernError was not reported")
        assert coll.count_documents({"_id": 2}) == 1, "the write itself must have happened"
        # mode off replies with how often the point fired.
        configure_fail_point(c, {"skip": 1}, failCommands=["ping"], errorCode=8)
        c.admin.command("ping")
        expect_error(8, lambda: c.admin.command("ping"))
        assert configure_fail_point(c, "off")["count"] == 1
        expect_error(2, lambda: configure_fail_point(c, "sometimes", failCommands=["find"]))
        expect_error(2, lambda: c.admin.command({"configureFailPoint": "noSuchPoint", "mode": "off"}))
    finally:
        configure_fail_point(c, "off")


# ---------------------------------------------------------------- data commands


def test_crud_round_trip():
    c = client()
    coll = c[DB].crud
    assert coll.insert_many([{"_id": i, "g": i % 3, "s": "v%d" % i} for i in range(20)]).acknowledged
    assert coll.count_documents({}) == 20
    assert coll.count_documents({"g": 1}) == 7
    assert sorted(coll.distinct("g")) == [0, 1, 2]
    assert coll.find_one({"_id": 3})["s"] == "v3"
    r = coll.update_many({"g": 2}, {"$set": {"u": True}})
    assert r.matched_count == 6 and r.modified_count == 6
    assert coll.count_documents({"u": True}) == 6
    oid = coll.insert_one({"n": ObjectId()}).inserted_id
    assert coll.find_one({"_id": oid}) is not None
    assert DB in c.list_database_names()
    assert "crud" in c[DB].list_collection_names()


def test_duplicate_key_is_a_write_error():
    coll = client()[DB].dup
    coll.insert_one({"_id": 1})
    try:
        coll.insert_one({"_id": 1})
    except OperationFailure as e:
        assert e.code == 11000, e.details
    else:
        raise AssertionError("duplicate _id accepted")


def test_unacknowledged_write():
    c = client()
    coll = c[DB].get_collection("w0", write_concern=pymongo.WriteConcern(w=0))
    coll.insert_one({"_id": "w0"})
    for _ in range(50):
        if c[DB].w0.count_documents({"_id": "w0"}) == 1:
            return
        time.sleep(0.1)
    raise AssertionError("w:0 insert never became visible")


def test_cursors_get_more_and_kill():
    c = client()
    coll = c[DB].cur
    coll.insert_many([{"_id": i, "k": -i} for i in range(120)])
    assert len(list(coll.find({}, batch_size=7))) == 120
    assert [d["_id"] for d in coll.find({}).sort("k", 1).batch_size(10)][:3] == [119, 118, 117]
    first = c[DB].command("find", "cur", batchSize=5, sort={"k": 1})
    cid = first["cursor"]["id"]
    assert cid != 0 and len(first["cursor"]["firstBatch"]) == 5
    more = c[DB].command("getMore", cid, collection="cur", batchSize=5)
    assert len(more["cursor"]["nextBatch"]) == 5
    killed = c[DB].command("killCursors", "cur", cursors=[cid, 123456789])
    assert list(killed["cursorsKilled"]) == [cid], killed
    assert list(killed["cursorsNotFound"]) == [123456789], killed
    assert "cursorsAlive" in killed and "cursorsUnknown" in killed
    expect_error(43, lambda: c[DB].command("getMore", cid, collection="cur"))
    # An abandoned cursor closed by the driver.
    cur = coll.find({}).sort("k", 1).batch_size(3)
    next(cur)
    cur.close()
    opened = c.admin.command("serverStatus")["metrics"]["cursor"]["open"]
    assert opened["total"] >= 0


def test_max_time_ms():
    c = client()
    coll = c[DB].slow
    for _ in range(4):
        coll.insert_many([{"a": i, "b": "x" * 40} for i in range(50000)])
    pipeline = [{"$group": {"_id": "$a", "n": {"$sum": 1}}}, {"$sort": {"n": -1}}]
    expect_error(50, lambda: list(coll.aggregate(pipeline, maxTimeMS=1)))
    expect_error(2, lambda: list(coll.find({}).max_time_ms(-1)))
    assert coll.count_documents({"a": 7}) == 4  # the connection is usable afterwards


def test_rename_and_drop():
    c = client()
    c[DB].r1.insert_one({"x": 1})
    c[DB].r1.rename("r2")
    assert "r2" in c[DB].list_collection_names()
    e = expect_error(20, lambda: c.admin.command("renameCollection", f"{DB}.r2", to="other_db_x.r3"))
    assert "between databases" in e.details["errmsg"]
    expect_error(13, lambda: c[DB].command("renameCollection", f"{DB}.r2", to=f"{DB}.r3"))  # admin only
    r = c[DB].command("drop", "r2")
    assert r["ok"] == 1.0 and r["ns"] == f"{DB}.r2"
    assert "r2" not in c[DB].list_collection_names()
    expect_error(73, lambda: c[DB].command("find", 1))


def test_stats():
    c = client()
    c[DB].st.insert_many([{"i": i} for i in range(10)])
    assert c[DB].command("collStats", "st")["count"] == 10
    assert c[DB].command("dbStats")["ok"] == 1.0
    assert c[DB].command("dbStats", scale=1024)["ok"] == 1.0


@contextlib.contextmanager
def temporary_user(c, prefix, roles, pwd="Secret-pw1"):
    """A user created for one test and dropped after it; the test is skipped where
    createUser is not available."""
    name = prefix + uuid.uuid4().hex[:6]
    try:
        c.admin.command("createUser", name, pwd=pwd, roles=roles)
    except OperationFailure as e:
        raise Skip(f"createUser not available: {e}")
    try:
        yield name
    finally:
        c.admin.command("dropUser", name)


def test_users_and_cursor_ownership():
    c = client()
    with temporary_user(c, "gw_e2e_user_", [{"role": "readWriteAnyDatabase", "db": "admin"}]) as name:
        for mech in ["SCRAM-SHA-256", "SCRAM-SHA-1"]:
            u = client(with_options(with_credentials(URI, name, "Secret-pw1"), authMechanism=mech))
            info = u.admin.command("connectionStatus")["authInfo"]
            assert info["authenticatedUsers"][0]["user"] == name, info
        mechs = c.admin.command("hello", saslSupportedMechs=f"admin.{name}")["saslSupportedMechs"]
        assert "SCRAM-SHA-256" in mechs, mechs
        assert c.admin.command("usersInfo", name)["users"][0]["user"] == name
        # A cursor belongs to the user that opened it.
        c[DB].own.insert_many([{"i": i} for i in range(30)])
        cid = c[DB].command("find", "own", batchSize=2, sort={"i": 1})["cursor"]["id"]
        other = client(with_credentials(URI, name, "Secret-pw1"))
        expect_error(13, lambda: other[DB].command("getMore", cid, collection="own"))
        assert c[DB].command("getMore", cid, collection="own")["ok"] == 1.0
        c[DB].command("killCursors", "own", cursors=[cid])
    expect_error(18, lambda: client(with_credentials(URI, name, "Secret-pw1")).admin.command("ping"))


def test_update_user_every_field_combination():
    """updateUser with roles (as strings and as {role, db} documents), pwd and customData in
    every combination: each must succeed, take effect, and leave the server up. With roles it
    used to kill the PostgreSQL backend (signal 11), taking every connection down with it."""
    import itertools

    c = client()
    role_forms = [["readAnyDatabase"], [{"role": "readAnyDatabase", "db": "admin"}], []]
    with temporary_user(c, "gw_e2e_upd_", [{"role": "readWrite", "db": DB}]) as name:
        step = 0
        for with_roles, with_pwd, with_custom in itertools.product([False, True], repeat=3):
            if not (with_roles or with_pwd or with_custom):
                # MongoDB: "Must specify at least one field to update in updateUser" (BadValue).
                expect_error(2, lambda: c.admin.command("updateUser", name))
                continue
            for roles in role_forms if with_roles else [None]:
                step += 1
                fields = {}
                if roles is not None:
                    fields["roles"] = roles
                password = f"Changed-pw{step}"
                if with_pwd:
                    fields["pwd"] = password
                if with_custom:
                    fields["customData"] = {"step": step}
                assert c.admin.command("updateUser", name, **fields)["ok"] == 1.0, fields
                info = c.admin.command("usersInfo", name)["users"][0]
                if roles is not None:
                    expected = [{"role": "readAnyDatabase", "db": "admin"}] if roles else []
                    assert info["roles"] == expected, info
                if with_custom:
                    assert info["customData"] == {"step": step}, info
                if with_pwd:
                    # The new password authenticates (the old one no longer does).
                    u = client(with_credentials(URI, name, password))
                    assert u.admin.command("ping")["ok"] == 1.0
                    u.close()
        # The server survived: the same client still works.
        assert c.admin.command("ping")["ok"] == 1.0
        expect_error(11, lambda: c.admin.command("updateUser", name + "_missing", pwd="x-pw-1"))


def test_logical_sessions():
    """The gateway keeps mongod's local session cache: $listLocalSessions lists the caller's
    sessions (db.aggregate, first stage), killSessions closes their cursors, endSessions
    forgets them, and other users' sessions take the listSessions privilege."""
    c = client()
    c[DB].sess.insert_many([{"i": i} for i in range(10)])
    with c.start_session() as s:
        cursor = c[DB].sess.find({}, batch_size=2, session=s)
        next(cursor)
        sid = s.session_id["id"]
        listed = list(c[DB].aggregate([{"$listLocalSessions": {}}, {"$match": {"_id.id": sid}}], session=s))
        assert len(listed) == 1, listed
        assert listed[0]["user"]["name"].startswith(urllib.parse.unquote(urllib.parse.urlsplit(URI).username) + "@")
        assert len(listed[0]["_id"]["uid"]) == 32 and listed[0]["lastUse"] is not None
        # killSessions closes the session's cursors (mongod: "closes any open cursors").
        assert c.admin.command("killSessions", [{"id": sid}])["ok"] == 1.0
        expect_error(43, lambda: list(cursor))
    # As mongod's unified test db-aggregate: the stage is followed by ordinary stages.
    out = list(c[DB].aggregate([{"$listLocalSessions": {}}, {"$limit": 1}, {"$project": {"_id": 0, "k": "v"}}]))
    assert out == [{"k": "v"}], out
    # startSession registers a session; endSessions removes it from the cache. (pymongo
    # pools the ids of its own sessions and reuses them, so use one the driver doesn't know.)
    started = c.admin.command("startSession")
    assert started["timeoutMinutes"] == 30 and started["id"]["id"].subtype == 4
    new_id = started["id"]["id"]

    def listed_new():
        return list(c[DB].aggregate([{"$listLocalSessions": {}}, {"$match": {"_id.id": new_id}}]))

    assert len(listed_new()) == 1
    assert c.admin.command("refreshSessions", [started["id"]])["ok"] == 1.0
    assert c.admin.command("endSessions", [started["id"]])["ok"] == 1.0
    assert listed_new() == []
    expect_error(73, lambda: c[DB].command("aggregate", 1, pipeline=[{"$match": {}}], cursor={}))
    expect_error(40602, lambda: list(c[DB].sess.aggregate([{"$match": {}}, {"$listLocalSessions": {}}])))
    with temporary_user(c, "gw_e2e_sess_", [{"role": "readWrite", "db": DB}]) as name:
        other = client(with_credentials(URI, name, "Secret-pw1"))
        other[DB].sess.find_one()
        mine = list(other[DB].aggregate([{"$listLocalSessions": {}}]))
        assert mine and all(d["user"]["name"] == f"{name}@admin" for d in mine), mine
        expect_error(13, lambda: list(other[DB].aggregate([{"$listLocalSessions": {"allUsers": True}}])))
        expect_error(13, lambda: other.admin.command("killAllSessions", []))
        everyone = list(c[DB].aggregate([{"$listLocalSessions": {"allUsers": True}}]))
        assert any(d["user"]["name"] == f"{name}@admin" for d in everyone), everyone


def start_slow_aggregation(coll, **kwargs):
    """Starts, in a thread, an aggregation that runs for many seconds (27 million unwound
    rows); returns (thread, outcome dict that gets 'result' or 'error')."""
    coll.insert_one({"arr": list(range(300))})
    pipeline = [
        {"$unwind": "$arr"},
        {"$addFields": {"b": list(range(300))}},
        {"$unwind": "$b"},
        {"$addFields": {"c": list(range(300))}},
        {"$unwind": "$c"},
        {"$count": "n"},
    ]
    outcome = {}

    def run():
        try:
            outcome["result"] = list(coll.aggregate(pipeline, maxTimeMS=60000, **kwargs))
        except OperationFailure as e:
            outcome["error"] = e

    worker = threading.Thread(target=run)
    worker.start()
    time.sleep(1.5)
    return worker, outcome


def expect_interrupted(worker, outcome, killed_at):
    worker.join(60)
    assert not worker.is_alive(), "the aggregation was not interrupted"
    assert "error" in outcome, f"the aggregation finished before it was killed: {outcome}"
    assert outcome["error"].code == 11601, outcome["error"].details
    assert time.time() - killed_at < 5


def test_kill_sessions_interrupts_running_commands():
    """killSessions "kills any in-progress operations in the session" (MongoDB manual): a long
    aggregation running in the session fails with 11601 Interrupted at once, and the
    gateway's connection to PostgreSQL is not reused by another command."""
    c = client()
    with c.start_session() as s:
        worker, outcome = start_slow_aggregation(c[DB].slow_s, session=s)
        killed_at = time.time()
        assert client().admin.command("killSessions", [s.session_id])["ok"] == 1.0
        expect_interrupted(worker, outcome, killed_at)
    assert c[DB].slow_s.count_documents({}) == 1


def test_current_op_and_kill_op():
    """currentOp (command, with a filter on the operation documents) and the $currentOp stage
    list running commands; killOp interrupts one (11601); other users' operations take the
    inprog/killop privileges."""
    c = client()
    ns = f"{DB}.slow_op"
    with temporary_user(c, "gw_e2e_ops_", [{"role": "readWrite", "db": DB}]) as name:
        worker, outcome = start_slow_aggregation(c[DB].slow_op)
        ops = c.admin.command({"currentOp": 1, "ns": ns})["inprog"]
        assert len(ops) == 1, ops
        op = ops[0]
        assert op["op"] == "command" and op["active"] is True and isinstance(op["opid"], int), op
        assert op["secs_running"] >= 1 and op["client"].startswith("127.0.0.1:"), op
        staged = list(c.admin.aggregate([{"$currentOp": {"allUsers": True}}, {"$match": {"ns": ns}}]))
        assert [d["opid"] for d in staged] == [op["opid"]], staged
        expect_error(73, lambda: list(c[DB].aggregate([{"$currentOp": {}}])))
        other = client(with_credentials(URI, name, "Secret-pw1"))
        expect_error(13, lambda: other.admin.command({"currentOp": 1}))
        assert other.admin.command({"currentOp": 1, "$ownOps": True, "ns": ns})["inprog"] == []
        expect_error(13, lambda: other.admin.command("killOp", 1, op=op["opid"]))
        killed_at = time.time()
        assert c.admin.command("killOp", 1, op=op["opid"])["info"] == "attempting to kill op"
        expect_interrupted(worker, outcome, killed_at)
        assert c.admin.command({"currentOp": 1, "ns": ns})["inprog"] == []


def test_documents_stage():
    """$documents (MongoDB 5.1) as the source of a collection-less aggregation."""
    c = client()
    out = list(c[DB].aggregate([{"$documents": [{"x": 1}, {"x": 2}, {"x": 3}]}, {"$match": {"x": {"$gte": 2}}}]))
    assert out == [{"x": 2}, {"x": 3}], out
    res = c[DB].command("aggregate", 1, pipeline=[{"$documents": "$$docs"}], let={"docs": [{"a": "b"}]}, cursor={})
    assert res["cursor"]["ns"] == f"{DB}.$cmd.aggregate", res
    assert res["cursor"]["firstBatch"] == [{"a": "b"}], res
    expect_error(5858203, lambda: list(c[DB].aggregate([{"$documents": 1}])))


def test_pooled_connections_run_as_each_user():
    """Pooled PostgreSQL connections keep the role of their last command: a command always
    runs with its own user's privileges, and a re-created user works at once."""
    admin = client()
    admin[DB].roles.insert_one({"_id": 1})
    with temporary_user(admin, "gw_e2e_reader_", [{"role": "read", "db": DB}], pwd="Reader-pw1") as reader:
        for _ in range(3):
            r = client(with_credentials(URI, reader, "Reader-pw1"), maxPoolSize=1)
            # Interleave both users over the gateway's small pool many times.
            for i in range(20):
                assert r[DB].roles.find_one({"_id": 1}) == {"_id": 1}
                expect_error(13, lambda: r[DB].roles.insert_one({"_id": 100 + i}))
                admin[DB].roles.update_one({"_id": 1}, {"$set": {"n": i}})
                admin[DB].roles.update_one({"_id": 1}, {"$unset": {"n": 1}})
            r.close()
            admin.admin.command("dropUser", reader)
            admin.admin.command("createUser", reader, pwd="Reader-pw1", roles=[{"role": "read", "db": DB}])
        assert admin[DB].roles.count_documents({}) == 1


def test_mongosh_smoke():
    sh = MONGOSH or shutil.which("mongosh") or ""
    if not sh or not os.path.exists(sh):
        raise Skip("mongosh not installed (pass --mongosh PATH)")
    script = (
        f"const d = db.getSiblingDB('{DB}'); d.sh.insertOne({{a: 1}}); "
        "print('COUNT=' + d.sh.countDocuments({})); print('VERSION=' + db.version());"
    )
    for uri in [URI, with_options(URI, tls="true", tlsAllowInvalidCertificates="true")]:
        out = subprocess.run([sh, uri, "--quiet", "--eval", script], capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        assert "VERSION=7.0.0" in out.stdout, out.stdout
        assert "COUNT=" in out.stdout, out.stdout


# ---------------------------------------------------------------- runner


def teardown_module():
    cleanup()


def cleanup():
    try:
        client().drop_database(DB)
    except PyMongoError:
        pass


if __name__ == "__main__":
    sys.exit(harness.main(
        sys.argv[1:], globals(), title=None, ping=lambda: client().admin.command("ping"), cleanup=cleanup,
        options=[("--mongosh", "MONGOSH", "mongosh binary for the shell smoke test (default: $MONGOSH)")],
        sort=True))
