#!/usr/bin/env python3
"""What authorization costs a point read (issue #11): find_one by _id through the gateway as
a readWrite user (PostgreSQL checks the table grant, the extension checks it up front for
MongoDB's error) against the same reads as a PostgreSQL superuser (both checks
short-circuit), measured interleaved in one run on the same collection.

  python3 bench/authz_bench.py [--uri "$(cat data/mongodb.uri)"] [--pg "$(cat data/postgres.uri)"]
                               [--docs 10000] [--reads 5000] [--rounds 5]

The superuser is a temporary PostgreSQL login role (SCRAM through the gateway, as any
PostgreSQL role can log in on admin), dropped at the end. Prints one JSON line per side and
the ratio (readWrite user / superuser; 1.0 = no cost).
"""
import argparse
import json
import random
import secrets
import time
from urllib.parse import urlparse

import psycopg
import pymongo

DB = "authz_bench"


def reads_per_second(coll, ids, reads):
    rnd = random.Random(1)
    t0 = time.perf_counter()
    for _ in range(reads):
        assert coll.find_one({"_id": rnd.choice(ids)}) is not None
    return reads / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uri", default=None, help="admin MongoDB URI (default: data/mongodb.uri)")
    ap.add_argument("--pg", default=None, help="libpq URI (default: data/postgres.uri)")
    ap.add_argument("--docs", type=int, default=10_000)
    ap.add_argument("--reads", type=int, default=5_000)
    ap.add_argument("--rounds", type=int, default=5)
    a = ap.parse_args()
    uri = a.uri or open("data/mongodb.uri").read().strip()
    dsn = a.pg or open("data/postgres.uri").read().strip()
    gw = urlparse(uri)
    admin = pymongo.MongoClient(uri)
    admin.drop_database(DB)
    admin[DB].c.insert_many([{"_id": i, "name": f"n{i}", "v": i % 97} for i in range(a.docs)])
    ids = list(range(a.docs))

    pw = secrets.token_urlsafe(12)
    try:
        admin[DB].command("dropUser", "bench_rw")
    except pymongo.errors.OperationFailure:
        pass
    admin[DB].command("createUser", "bench_rw", pwd=pw, roles=["readWrite"])
    pg = psycopg.connect(dsn, autocommit=True)
    pg.execute("DROP ROLE IF EXISTS authz_bench_su")
    pg.execute(f"SET password_encryption = 'scram-sha-256'; CREATE ROLE authz_bench_su SUPERUSER LOGIN PASSWORD '{pw}'")
    try:
        clients = {
            "readwrite_user": pymongo.MongoClient(
                gw.hostname, gw.port, username="bench_rw", password=pw, authSource=DB,
                authMechanism="SCRAM-SHA-256", directConnection=True),
            "superuser": pymongo.MongoClient(
                gw.hostname, gw.port, username="authz_bench_su", password=pw, authSource="admin",
                authMechanism="SCRAM-SHA-256", directConnection=True),
        }
        best = {name: 0.0 for name in clients}
        for c in clients.values():  # warm the pool connections and plans
            reads_per_second(c[DB].c, ids, 500)
        for _ in range(a.rounds):  # interleaved rounds: drift hits both sides alike
            for name, c in clients.items():
                best[name] = max(best[name], reads_per_second(c[DB].c, ids, a.reads))
        for name, rate in best.items():
            print(json.dumps({"workload": "find_one_by_id", "as": name, "reads_per_s": round(rate)}))
        ratio = best["readwrite_user"] / best["superuser"]
        print(json.dumps({"ratio_readwrite_user_vs_superuser": round(ratio, 3)}))
    finally:
        pg.execute("DROP ROLE IF EXISTS authz_bench_su")
        admin[DB].command("dropUser", "bench_rw")
        admin.drop_database(DB)


if __name__ == "__main__":
    main()
