#!/usr/bin/env python3
"""Writes seed messages for the `wire_frame` fuzz target into fuzz/corpus/wire_frame/.

Usage: python3 tests/gateway/make_wire_seeds.py   (needs pymongo for its bson module)
"""
import os
import struct
import zlib

import bson

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "fuzz", "corpus", "wire_frame")

OP_QUERY, OP_COMPRESSED, OP_MSG = 2004, 2012, 2013


def header(length, request_id, op):
    return struct.pack("<iiii", length, request_id, 0, op)


def op_msg(body, sequences=(), flags=0):
    payload = struct.pack("<I", flags) + b"\x00" + bson.encode(body)
    for ident, docs in sequences:
        raw = b"".join(bson.encode(d) for d in docs)
        section = ident.encode() + b"\x00" + raw
        payload += b"\x01" + struct.pack("<i", 4 + len(section)) + section
    if flags & 1:
        # CRC-32C is not in the standard library; leave a wrong checksum (a useful seed too).
        payload += b"\x00\x00\x00\x00"
    return header(16 + len(payload), 1, OP_MSG) + payload


def op_query(ns, query):
    payload = struct.pack("<i", 0) + ns.encode() + b"\x00" + struct.pack("<ii", 0, -1) + bson.encode(query)
    return header(16 + len(payload), 2, OP_QUERY) + payload


def compressed_zlib(message):
    op = struct.unpack("<i", message[12:16])[0]
    body = message[16:]
    z = zlib.compress(body)
    payload = struct.pack("<ii", op, len(body)) + b"\x02" + z
    return header(16 + len(payload), 3, OP_COMPRESSED) + payload


def main():
    os.makedirs(OUT, exist_ok=True)
    seeds = {
        "hello": op_msg({"hello": 1, "helloOk": True, "compression": ["zstd", "snappy"], "$db": "admin"}),
        "ping_more_to_come": op_msg({"ping": 1, "$db": "admin"}, flags=2),
        "checksum": op_msg({"ping": 1, "$db": "admin"}, flags=1),
        "insert_seq": op_msg(
            {"insert": "c", "ordered": True, "$db": "test"},
            [("documents", [{"_id": 1, "a": "x"}, {"_id": 2, "b": [1, 2.5, None]}])],
        ),
        "update_seq": op_msg(
            {"update": "c", "$db": "test"},
            [("updates", [{"q": {"a": 1}, "u": {"$set": {"b": 2}}, "multi": True}])],
        ),
        "isMaster_query": op_query("admin.$cmd", {"isMaster": 1, "client": {"driver": {"name": "seed"}}}),
        "wrapped_query": op_query("admin.$cmd", {"$query": {"ismaster": 1}, "$readPreference": {"mode": "primary"}}),
        "legacy_find": op_query("test.c", {"a": 1}),
        "zlib_find": compressed_zlib(op_msg({"find": "c", "filter": {"a": {"$gt": 1}}, "$db": "test"})),
    }
    for name, data in seeds.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)
    print(f"wrote {len(seeds)} seeds to {OUT}")


if __name__ == "__main__":
    main()
