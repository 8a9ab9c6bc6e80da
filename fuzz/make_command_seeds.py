#!/usr/bin/env python3
"""Writes seed inputs for the `command_dispatch` fuzz target into fuzz/corpus/command_dispatch/.

Each seed is the raw-body form of the target's input: a first byte 0x03 (raw mode) and
one valid command document, so the fuzzer starts from commands that reach every handler
and mutates them. (Inputs in the other mode drive the structured command generator; the
fuzzer finds those on its own.)

Usage: python3 fuzz/make_command_seeds.py   (needs pymongo for its bson module)
"""
import os
import uuid

import bson
from bson.binary import Binary, UUID_SUBTYPE
from bson.int64 import Int64

ROOT = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(ROOT, "corpus", "command_dispatch")
DB = "fuzz"
LSID = {"id": Binary(uuid.UUID("6d1a7e2c-0c4b-4f1e-9a5d-3b2f1c0d9e8f").bytes, UUID_SUBTYPE)}

COMMANDS = {
    "hello": {"hello": 1, "helloOk": True, "client": {"application": {"name": "seed"}},
              "compression": ["zstd", "snappy", "zlib"], "$db": "admin"},
    "isMaster": {"isMaster": 1, "saslSupportedMechs": "admin.postgres", "$db": "admin"},
    "ping": {"ping": 1, "$db": "admin"},
    "buildInfo": {"buildInfo": 1, "$db": "admin"},
    "hostInfo": {"hostInfo": 1, "$db": "admin"},
    "getParameter": {"getParameter": {"allParameters": True, "showDetails": True}, "$db": "admin"},
    "getCmdLineOpts": {"getCmdLineOpts": 1, "$db": "admin"},
    "listCommands": {"listCommands": 1, "$db": "admin"},
    "connectionStatus": {"connectionStatus": 1, "showPrivileges": True, "$db": "admin"},
    "serverStatus": {"serverStatus": 1, "$db": "admin"},
    "whatsmyuri": {"whatsmyuri": 1, "$db": "admin"},
    "startSession": {"startSession": 1, "$db": "admin"},
    "refreshSessions": {"refreshSessions": [LSID], "$db": "admin"},
    "endSessions": {"endSessions": [LSID], "$db": "admin"},
    "killSessions": {"killSessions": [], "$db": "admin"},
    "killAllSessions": {"killAllSessions": [{"user": "postgres", "db": "admin"}], "$db": "admin"},
    "currentOp": {"currentOp": 1, "$ownOps": True, "active": True, "$db": "admin"},
    "killOp": {"killOp": 1, "op": 12345, "$db": "admin"},
    "getLastError": {"getLastError": 1, "$db": DB},
    "saslStart": {"saslStart": 1, "mechanism": "SCRAM-SHA-256",
                  "payload": Binary(b"n,,n=postgres,r=fyko+d2lbbFgONRv9qkxdawL"),
                  "options": {"skipEmptyExchange": True}, "$db": "admin"},
    "saslContinue": {"saslContinue": 1, "conversationId": 1, "payload": Binary(b"c=biws,r=x,p=AAAA"), "$db": "admin"},
    "logout": {"logout": 1, "$db": "admin"},
    "insert": {"insert": "c", "documents": [{"_id": 1, "a": 1, "arr": [1, 2, {"x": 3}]},
                                            {"_id": 2, "a": "x", "loc": {"type": "Point", "coordinates": [1, 2]}}],
               "ordered": False, "lsid": LSID, "$db": DB},
    "find": {"find": "c", "filter": {"a": {"$gte": 1}, "arr": {"$elemMatch": {"x": {"$exists": True}}}},
             "projection": {"a": 1, "arr": {"$slice": 1}}, "sort": {"a": -1}, "batchSize": 1, "$db": DB},
    "find_id": {"find": "c", "filter": {"_id": 1}, "singleBatch": True, "limit": 1, "$db": DB},
    "getMore": {"getMore": Int64(1), "collection": "c", "batchSize": 1, "$db": DB},
    "killCursors": {"killCursors": "c", "cursors": [Int64(1)], "$db": DB},
    "aggregate": {"aggregate": "c", "pipeline": [
        {"$match": {"a": {"$in": [1, "x"]}}},
        {"$group": {"_id": "$a", "n": {"$sum": 1}, "all": {"$push": "$$ROOT"}}},
        {"$project": {"n": 1, "s": {"$concat": [{"$toString": "$_id"}, "!"]}}},
        {"$sort": {"n": -1}}, {"$limit": 5}], "cursor": {"batchSize": 2}, "$db": DB},
    "aggregate_lookup": {"aggregate": "c", "pipeline": [
        {"$lookup": {"from": "c2", "localField": "a", "foreignField": "a", "as": "j"}},
        {"$unwind": {"path": "$j", "preserveNullAndEmptyArrays": True}},
        {"$facet": {"x": [{"$count": "n"}], "y": [{"$sortByCount": "$a"}]}}], "cursor": {}, "$db": DB},
    "aggregate_out": {"aggregate": "c", "pipeline": [{"$set": {"b": {"$add": ["$a", 1]}}}, {"$out": "c2"}],
                      "cursor": {}, "$db": DB},
    "aggregate_sessions": {"aggregate": 1, "pipeline": [{"$listLocalSessions": {"allUsers": True}}], "cursor": {},
                           "$db": "admin"},
    "aggregate_currentOp": {"aggregate": 1, "pipeline": [{"$currentOp": {"allUsers": True}}], "cursor": {},
                            "$db": "admin"},
    "aggregate_documents": {"aggregate": 1, "pipeline": [{"$documents": [{"a": 1}, {"a": [1, 2]}]},
                                                         {"$unwind": "$a"}], "cursor": {}, "$db": DB},
    "count": {"count": "c", "query": {"a": {"$type": "number"}}, "limit": 10, "$db": DB},
    "distinct": {"distinct": "c", "key": "a", "query": {}, "$db": DB},
    "update": {"update": "c", "updates": [
        {"q": {"_id": 1}, "u": {"$set": {"a": 2}, "$push": {"arr": {"$each": [4, 5], "$slice": -3}}}},
        {"q": {"a": "x"}, "u": [{"$set": {"b": "$a"}}], "multi": True},
        {"q": {"_id": 9}, "u": {"_id": 9, "z": 1}, "upsert": True}], "$db": DB},
    "update_arrayFilters": {"update": "c", "updates": [
        {"q": {}, "u": {"$inc": {"arr.$[e].x": 1}}, "arrayFilters": [{"e.x": {"$gt": 0}}], "multi": True}],
        "$db": DB},
    "delete": {"delete": "c", "deletes": [{"q": {"_id": 9}, "limit": 1}, {"q": {"a": {"$lt": 0}}, "limit": 0}],
               "$db": DB},
    "findAndModify": {"findAndModify": "c", "query": {"_id": 1}, "update": {"$inc": {"a": 1}}, "new": True,
                      "upsert": True, "fields": {"a": 1}, "$db": DB},
    "findAndModify_remove": {"findAndModify": "c", "query": {"_id": 2}, "remove": True, "$db": DB},
    "create": {"create": "c3", "capped": False, "validator": {"a": {"$exists": True}}, "$db": DB},
    "create_view": {"create": "view", "viewOn": "c", "pipeline": [{"$match": {"a": 1}}], "$db": DB},
    "drop": {"drop": "c3", "$db": DB},
    "dropDatabase": {"dropDatabase": 1, "$db": "fuzz2"},
    "listCollections": {"listCollections": 1, "filter": {"name": {"$regex": "^c"}}, "nameOnly": True, "$db": DB},
    "listDatabases": {"listDatabases": 1, "nameOnly": False, "$db": "admin"},
    "renameCollection": {"renameCollection": "fuzz.c2", "to": "fuzz.c4", "dropTarget": True, "$db": "admin"},
    "collMod": {"collMod": "c", "validator": {"a": {"$type": "number"}}, "validationLevel": "moderate", "$db": DB},
    "collStats": {"collStats": "c", "scale": 1024, "$db": DB},
    "dbStats": {"dbStats": 1, "scale": 1, "$db": DB},
    "createIndexes": {"createIndexes": "c", "indexes": [
        {"key": {"a": 1}, "name": "a_1", "unique": False},
        {"key": {"text": "text"}, "name": "t"},
        {"key": {"loc": "2dsphere"}, "name": "g"},
        {"key": {"ts": 1}, "name": "ttl", "expireAfterSeconds": 3600,
         "partialFilterExpression": {"ts": {"$exists": True}}}], "$db": DB},
    "listIndexes": {"listIndexes": "c", "cursor": {"batchSize": 1}, "$db": DB},
    "dropIndexes": {"dropIndexes": "c", "index": "a_1", "$db": DB},
    "explain": {"explain": {"find": "c", "filter": {"a": 1}}, "verbosity": "executionStats", "$db": DB},
    "explain_aggregate": {"explain": {"aggregate": "c", "pipeline": [{"$match": {}}], "cursor": {}},
                          "verbosity": "queryPlanner", "$db": DB},
    "createUser": {"createUser": "fuzz_u0", "pwd": "secret-fuzz", "roles": ["readWrite", {"role": "read", "db": DB}],
                   "customData": {"k": 1}, "$db": DB},
    "usersInfo": {"usersInfo": {"user": "fuzz_u0", "db": DB}, "showCustomData": True, "$db": DB},
    "updateUser": {"updateUser": "fuzz_u0", "pwd": "secret-fuzz-2", "customData": {"k": 2}, "$db": DB},
    "dropUser": {"dropUser": "fuzz_u0", "$db": DB},
    "configureFailPoint": {"configureFailPoint": "failCommand", "mode": {"times": 1},
                           "data": {"failCommands": ["ping"], "errorCode": 2, "errorLabels": ["x"]},
                           "$db": "admin"},
    "shutdown": {"shutdown": 1, "force": True, "$db": "admin"},
    "unknown": {"bogusCommand": 1, "$db": DB},
    "transaction": {"find": "c", "txnNumber": Int64(1), "startTransaction": True, "autocommit": False,
                    "lsid": LSID, "$db": DB},
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, command in COMMANDS.items():
        with open(os.path.join(OUT, f"raw_{name}"), "wb") as f:
            f.write(b"\x03" + bson.encode(command))
    print(f"wrote {len(COMMANDS)} seeds to {OUT}")


if __name__ == "__main__":
    main()
