#!/usr/bin/env python3
"""Where the time of one pymongo find_one by _id goes, next to the plain-JSONB point lookup
of ../shared/bench/mongo_bench.py, and what that implies for their ratio.

  python3 bench/point_lookup_floor.py [--uri "$(cat data/mongodb.uri)"]
                                      [--pg "$(cat data/postgres.uri)"] [--n 3000]

Run on the machine that hosts the dev cluster (`make run`): besides wall time per operation
it reads the CPU time each process spends per operation from /proc (this client, the gateway
background worker, the PostgreSQL backends serving it). A request/response loop with one
client is a serial chain, so wall time is about the sum of those CPU times.

Operations (best of --repeat runs of --n each):
  pg_select_1        psycopg `SELECT 1`: one PostgreSQL round trip doing nothing
  pg_point_lookup    psycopg `SELECT doc FROM t WHERE id = $1` on a jsonb table (the baseline)
  mongo_ping         pymongo `ping`: one gateway round trip, no PostgreSQL work
  mongo_find_missing pymongo find_one on a collection that does not exist: both round trips,
                     next to no work in either server
  mongo_find_one_id  pymongo find_one({"_id": ...}) (the measured workload)

The last line prints ratios against the baseline: the measured one, the one of a find that does
no data work (the cost of the two round trips alone), and the one a server costing nothing
would reach (the driver's own CPU per find_one).
"""
import argparse
import json
import os
import time
from pathlib import Path

import psycopg
import pymongo
from psycopg.types.json import Jsonb

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid):
    """utime + stime of a process (all its threads), from /proc/PID/stat."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


class Meter:
    """Wall and per-process CPU time per operation over a loop of `n` calls."""

    def __init__(self, pids):
        self.pids = pids  # label -> list of pids, read at each measurement

    def measure(self, n, repeat, op):
        best = None
        for _ in range(repeat):
            before = {k: sum(process_cpu_seconds(p) for p in f()) for k, f in self.pids.items()}
            client_before = time.process_time()
            start = time.perf_counter()
            for i in range(n):
                op(i)
            wall = time.perf_counter() - start
            row = {"wall_us": wall / n * 1e6, "client_us": (time.process_time() - client_before) / n * 1e6}
            for k, f in self.pids.items():
                row[f"{k}_us"] = (sum(process_cpu_seconds(p) for p in f()) - before[k]) / n * 1e6
            if best is None or row["wall_us"] < best["wall_us"]:
                best = row
        return {k: round(v, 1) for k, v in best.items()}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uri", default=None, help="MongoDB URI of the gateway (default: data/mongodb.uri)")
    ap.add_argument("--pg", default=None, help="PostgreSQL URI (default: data/postgres.uri)")
    ap.add_argument("--n", type=int, default=3000, help="operations per run")
    ap.add_argument("--repeat", type=int, default=3, help="runs per operation; the fastest is kept")
    a = ap.parse_args()
    uri = a.uri or (ROOT / "data/mongodb.uri").read_text().strip()
    dsn = a.pg or (ROOT / "data/postgres.uri").read_text().strip()

    pg = psycopg.connect(dsn, autocommit=True)
    cur = pg.cursor()
    cur.execute("SELECT pg_backend_pid()")
    own_backend = cur.fetchone()[0]
    # Gateway backends may come and go (pool); list them at every reading.
    watch = pg.cursor()

    def gateway_worker():
        watch.execute("SELECT pid FROM pg_stat_activity WHERE backend_type = 'documentdb_gateway'")
        return [r[0] for r in watch.fetchall()]

    def gateway_backends():
        watch.execute("SELECT pid FROM pg_stat_activity WHERE application_name = 'documentdb_gateway'")
        return [r[0] for r in watch.fetchall()]

    if not gateway_worker():
        raise SystemExit("no documentdb_gateway background worker in pg_stat_activity: is `make run` up?")

    docs = [{"i": i, "name": f"user{i:07d}", "tags": ["a", "b", "c"], "address": {"city": "Oslo"}} for i in range(2000)]
    cur.execute("DROP TABLE IF EXISTS floor_point; CREATE TABLE floor_point (id bigserial PRIMARY KEY, doc jsonb NOT NULL)")
    with cur.copy("COPY floor_point (doc) FROM STDIN") as cp:
        for d in docs:
            cp.write_row((Jsonb(d),))

    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)
    coll = client.bench.floor_point
    coll.drop()
    ids = coll.insert_many([dict(d) for d in docs]).inserted_ids
    missing = client.bench.floor_point_missing
    missing.drop()

    results = {}
    pg_meter = Meter({"backend": lambda: [own_backend]})
    gw_meter = Meter({"gateway": gateway_worker, "backend": gateway_backends})

    def select_1(i):
        cur.execute("SELECT 1")
        cur.fetchone()

    def point_lookup(i):
        cur.execute("SELECT doc FROM floor_point WHERE id = %s", (1 + i % len(docs),))
        assert cur.fetchone() is not None

    def find_one(i):
        assert coll.find_one({"_id": ids[i % len(ids)]}) is not None

    def find_missing(i):
        assert missing.find_one({"_id": ids[i % len(ids)]}) is None

    results["pg_select_1"] = pg_meter.measure(a.n, a.repeat, select_1)
    results["pg_point_lookup"] = pg_meter.measure(a.n, a.repeat, point_lookup)
    results["mongo_ping"] = gw_meter.measure(a.n, a.repeat, lambda i: client.admin.command("ping"))
    results["mongo_find_missing"] = gw_meter.measure(a.n, a.repeat, find_missing)
    results["mongo_find_one_id"] = gw_meter.measure(a.n, a.repeat, find_one)
    for name, row in results.items():
        print(json.dumps({"operation": name, **row}))

    baseline = results["pg_point_lookup"]["wall_us"]
    print(json.dumps({
        # the measured workload
        "find_one_ratio": round(baseline / results["mongo_find_one_id"]["wall_us"], 3),
        # a find with no data work at all: what the two round trips alone allow
        "find_missing_ratio": round(baseline / results["mongo_find_missing"]["wall_us"], 3),
        # a server that cost nothing: the driver's own CPU per find_one is the only limit
        "client_only_ratio": round(baseline / results["mongo_find_one_id"]["client_us"], 3),
        # what the gateway's round trip to PostgreSQL costs it, over answering alone
        "gateway_pg_hop_us": round(results["mongo_find_missing"]["gateway_us"] - results["mongo_ping"]["gateway_us"], 1),
    }))
    coll.drop()
    cur.execute("DROP TABLE floor_point")


if __name__ == "__main__":
    main()
