#!/usr/bin/env python3
"""Aggregation performance targets (issue #13): pipelines run through the gateway, each timed
against a plain-JSONB baseline (hand-written SQL on `doc jsonb` tables) in the same run.

  python3 bench/aggregation_bench.py [--uri "$(cat data/mongodb.uri)"] [--pg-uri "$(cat data/postgres.uri)"]
                                     [--n 100000] [--repeat 3] [--big] [--keep]

Data: the same documents go through pymongo into the database bench_aggregation (insert_many
in batches of 10,000) and by COPY into tables of the schema bench_jsonb (dropped and
recreated). Both sides are then ANALYZEd, as autovacuum would have done before an
application's first queries. Results are consumed in full and checked equal on both sides.
Workloads (best of --repeat; ratio = jsonb_s / ours_s, so above 1 is faster than JSONB):
  lookup_join           n orders x n/10 customers: $lookup customer_id -> _id, $unwind, $group
                        by region with $sum vs `orders o JOIN customers c ON o.doc->>'customer_id'
                        = c.doc->>'_id'` (btree expression index on customers) GROUP BY region.
                        Target >= 0.5. Reports whether each plan probes the customers' _id
                        index, ours also as planned before the ANALYZE, our JIT time, and the
                        baseline again with hash and merge joins disabled (jsonb_index_nested_loop_s:
                        an index probe per order, our plan's shape).
  match_group_sort      the same orders: $match {status: "A"}, $group by cust with $sum, $sort by
                        total desc vs WHERE doc->>'status' = 'A' GROUP BY doc->>'cust' ORDER BY.
                        Target >= 1.
  window_running_total  n events in 100 partitions: $setWindowFields running $sum over documents
                        ["unbounded", "current"] vs sum() OVER (PARTITION BY k ORDER BY t ROWS
                        BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW), returning each document
                        with its total. Target >= 0.5. A gateway error is reported instead of
                        the ratio.
  sort_first_batch      1,000,000 documents (with --big; n otherwise) indexed on {indexed: 1}:
                        time to the first batch of find().sort({indexed: 1}).limit(1) and of
                        aggregate [$sort, $limit 1], and planning + execution time of the SQL
                        the extension runs for them (explain's postgresPlan). Target < 10 ms at
                        SQL level. load_s: insert_many, createIndexes and ANALYZE.
  group_memory          the same collection: {$group: {_id: "$_id", n: {$sum: 1}}} (one group
                        per document) then $count: time and the peak memory of the PostgreSQL
                        backend serving the gateway (pids from pg_stat_activity,
                        /proc/<pid>/status VmRSS and RssAnon sampled every 50 ms; RssAnon leaves
                        out the shared buffers the scan touches), the highest over the runs, with
                        the plan's aggregate/sort memory and spill figures.
Prints one JSON line per workload.
"""
import argparse
import json
import pathlib
import random
import sys
import threading
import time

import psycopg
import pymongo
import pymongo.errors

REPO = pathlib.Path(__file__).resolve().parent.parent
DB = "bench_aggregation"
SCHEMA = "bench_jsonb"
BATCH = 10_000
BIG = 1_000_000
REGIONS = 20
CUSTS = 1000
PARTITIONS = 100

LOOKUP = [{"$lookup": {"from": "customers", "localField": "customer_id", "foreignField": "_id",
                       "as": "c"}},
          {"$unwind": "$c"},
          {"$group": {"_id": "$c.region", "total": {"$sum": "$amount"}}}]
LOOKUP_SQL = f"""SELECT c.doc->>'region', sum((o.doc->>'amount')::numeric)
                 FROM {SCHEMA}.orders o JOIN {SCHEMA}.customers c ON o.doc->>'customer_id' = c.doc->>'_id'
                 GROUP BY 1"""
MATCH_GROUP_SORT = [{"$match": {"status": "A"}},
                    {"$group": {"_id": "$cust", "total": {"$sum": "$amount"}}},
                    {"$sort": {"total": -1}}]
MATCH_GROUP_SORT_SQL = f"""SELECT doc->>'cust', sum((doc->>'amount')::numeric) AS total
                           FROM {SCHEMA}.orders WHERE doc->>'status' = 'A'
                           GROUP BY 1 ORDER BY total DESC"""
RUNNING = {"$sum": "$v", "window": {"documents": ["unbounded", "current"]}}
WINDOW = [{"$setWindowFields": {"partitionBy": "$k", "sortBy": {"t": 1}, "output": {"running": RUNNING}}}]
WINDOW_SQL = f"""SELECT doc, sum((doc->>'v')::numeric) OVER (PARTITION BY doc->>'k' ORDER BY (doc->>'t')::int
                                                         ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
                 FROM {SCHEMA}.events"""
SORT_FIRST = [{"$sort": {"indexed": 1}}, {"$limit": 1}]
GROUP_ALL = [{"$group": {"_id": "$_id", "n": {"$sum": 1}}}, {"$count": "groups"}]
# Plan fields telling how an aggregate or a sort used memory or disk.
MEMORY_FIELDS = ("Strategy", "Peak Memory Usage", "Disk Usage", "HashAgg Batches", "Planned Partitions",
                 "Sort Method", "Sort Space Used", "Sort Space Type", "Workers Launched")


def best_time(repeat, fn):
    """Best wall time in seconds of `repeat` calls of fn, and the last call's result."""
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - started)
    return best, result


def emit(row):
    print(json.dumps(row), flush=True)


def compared(workload, n, target, ours_s, jsonb_s, **extra):
    return {"workload": workload, "n": n, "ours_s": round(ours_s, 4), "jsonb_s": round(jsonb_s, 4),
            "ratio": round(jsonb_s / ours_s, 3), "target": target, **extra}


def plan_nodes(node):
    yield node
    for child in node.get("Plans", []):
        yield from plan_nodes(child)


def index_scans(plan):
    """'<node> <index>: <condition>' for every node of an EXPLAIN plan that reads an index."""
    return [f"{n['Node Type']} {n['Index Name']}: {n.get('Index Cond', '')}".rstrip(": ")
            for n in plan_nodes(plan) if "Index Name" in n]


def postgres_plan(db, command, verbosity="executionStats"):
    """The postgresPlan of the gateway's explain: {"Plan", "Planning Time", "Execution Time", ...}."""
    return db.command("explain", command, verbosity=verbosity)["queryPlanner"]["postgresPlan"]


def sql_ms(db, command, repeat):
    """Best planning + execution time (ms) of the SQL the extension runs for command, and its plan."""
    best, plan = float("inf"), None
    for _ in range(repeat):
        pp = postgres_plan(db, command)
        ms = pp["Planning Time"] + pp["Execution Time"]
        if ms < best:
            best, plan = ms, pp
    return round(best, 3), plan


def plan_shape(plan):
    """The plan's nodes in preorder, `Limit > Index Scan (index name)`."""
    return " > ".join(n["Node Type"] + (f" ({n['Index Name']})" if "Index Name" in n else "")
                      for n in plan_nodes(plan))


def proc_status_kib(pid):
    """VmRSS, VmHWM and RssAnon of a local process in KiB, or None when it is gone or remote."""
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f if ":" in line)
    except OSError:
        return None
    return {k: int(fields[k].split()[0]) for k in ("VmRSS", "VmHWM", "RssAnon") if k in fields}


class BackendMemory(threading.Thread):
    """Samples, every 50 ms while in its `with` block, the memory of the PostgreSQL processes serving
    the gateway (its pooled client backends, their parallel workers and the gateway worker itself)."""

    PIDS = """SELECT pid, backend_type FROM pg_stat_activity
              WHERE pid <> pg_backend_pid() AND (application_name = 'documentdb_gateway'
                                                 OR backend_type IN ('documentdb_gateway', 'parallel worker'))"""

    def __init__(self, pg_uri):
        super().__init__(daemon=True)
        self.conn = psycopg.connect(pg_uri, autocommit=True)
        self.done = threading.Event()
        self.seen = {}  # pid -> {"kind", "rss_start", "rss_peak", "anon_start", "anon_peak", "hwm"} (KiB)

    def sample(self):
        for pid, kind in self.conn.execute(self.PIDS).fetchall():
            st = proc_status_kib(pid)
            if not st:
                continue
            s = self.seen.setdefault(pid, {"kind": kind, "rss_start": st["VmRSS"], "rss_peak": 0,
                                           "anon_start": st.get("RssAnon", 0), "anon_peak": 0})
            s["rss_peak"] = max(s["rss_peak"], st["VmRSS"])
            s["anon_peak"] = max(s["anon_peak"], st.get("RssAnon", 0))
            s["hwm"] = st.get("VmHWM", 0)

    def run(self):
        while not self.done.is_set():
            self.sample()
            self.done.wait(0.05)

    def __enter__(self):
        self.sample()
        self.start()
        return self

    def __exit__(self, *exc):
        self.done.set()
        self.join()
        self.sample()
        self.conn.close()

    def summary(self):
        """The client backend whose private memory grew most (the one that ran the query), in MiB."""
        def mib(kib):
            return round(kib / 1024, 1)
        backends = {p: s for p, s in self.seen.items() if s["kind"] == "client backend"}
        if not backends:
            return {"error": "no gateway backend seen (is PostgreSQL on another host?)"}
        pid, s = max(backends.items(), key=lambda item: item[1]["anon_peak"] - item[1]["anon_start"])
        workers = [w["rss_peak"] for w in self.seen.values() if w["kind"] == "parallel worker"]
        gateway = [w["rss_peak"] for w in self.seen.values() if w["kind"] == "documentdb_gateway"]
        return {"backend_pid": pid, "rss_start_mib": mib(s["rss_start"]), "rss_peak_mib": mib(s["rss_peak"]),
                "anon_start_mib": mib(s["anon_start"]), "anon_peak_mib": mib(s["anon_peak"]),
                "vmhwm_mib": mib(s["hwm"]), "parallel_workers": len(workers),
                "workers_rss_peak_mib": mib(max(workers, default=0)),
                "gateway_worker_rss_peak_mib": mib(max(gateway, default=0))}


class Bench:
    def __init__(self, uri, pg_uri):
        self.client = pymongo.MongoClient(uri)
        self.db = self.client[DB]
        self.pg = psycopg.connect(pg_uri, autocommit=True)

    def reset(self):
        self.client.drop_database(DB)
        self.pg.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
        self.pg.execute(f"CREATE SCHEMA {SCHEMA}")

    def load(self, name, chunks, jsonb=True):
        """Inserts each batch through the gateway and, when jsonb, into the table bench_jsonb.<name>."""
        coll = self.db[name]
        cur = self.pg.cursor()
        if jsonb:
            cur.execute(f"CREATE TABLE {SCHEMA}.{name} (doc jsonb NOT NULL)")
        for batch in chunks:
            coll.insert_many(batch, ordered=False)
            if jsonb:
                with cur.copy(f"COPY {SCHEMA}.{name} (doc) FROM STDIN") as copy:
                    for d in batch:
                        copy.write_row([json.dumps(d)])
        return coll

    def analyze(self, names, jsonb=True):
        """ANALYZE the collections' tables (documentdb_data.documents_<collection_id>) and their jsonb twins."""
        ids = self.pg.execute("SELECT collection_id FROM documentdb_api_catalog.collections "
                              "WHERE database_name = %s AND collection_name = ANY(%s)", (DB, names)).fetchall()
        for (cid,) in ids:
            self.pg.execute(f"ANALYZE documentdb_data.documents_{cid}")
        for name in names if jsonb else ():
            self.pg.execute(f"ANALYZE {SCHEMA}.{name}")

    def jsonb_query(self, sql):
        return self.pg.execute(sql).fetchall()

    def jsonb_plan(self, sql):
        return self.pg.execute(f"EXPLAIN (FORMAT JSON) {sql}").fetchone()[0][0]["Plan"]


def batches(count, make):
    """make(0) ... make(count - 1) in lists of BATCH documents, built as they are inserted."""
    for start in range(0, count, BATCH):
        yield [make(i) for i in range(start, min(start + BATCH, count))]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uri", default=None, help="gateway URI (default: data/mongodb.uri)")
    ap.add_argument("--pg-uri", default=None, help="PostgreSQL URI (default: data/postgres.uri)")
    ap.add_argument("--n", type=int, default=100_000, help="orders and events (customers: n/10)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--big", action="store_true",
                    help=f"sort_first_batch and group_memory on {BIG:,} documents (else on n)")
    ap.add_argument("--keep", action="store_true", help="keep the database and the jsonb schema")
    a = ap.parse_args()
    a.uri = a.uri or (REPO / "data" / "mongodb.uri").read_text().strip()
    a.pg_uri = a.pg_uri or (REPO / "data" / "postgres.uri").read_text().strip()
    try:
        run(Bench(a.uri, a.pg_uri), a)
    finally:
        if not a.keep:
            cleanup(a)


def cleanup(a):
    """Drops the database and the jsonb schema over new connections (the run's may be gone)."""
    try:
        pymongo.MongoClient(a.uri).drop_database(DB)
        with psycopg.connect(a.pg_uri, autocommit=True) as pg:
            pg.execute(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE")
    except (pymongo.errors.PyMongoError, psycopg.Error) as e:
        print(f"cleanup failed: {e}", file=sys.stderr)


def run(b, a):
    n, rnd = a.n, random.Random(13)
    customers = max(n // 10, 1)
    b.reset()
    b.load("customers", batches(customers, lambda i: {"_id": i, "name": f"customer{i}",
                                                      "region": f"region{i % REGIONS}"}))
    b.pg.execute(f"CREATE INDEX ON {SCHEMA}.customers ((doc->>'_id'))")
    orders = b.load("orders", batches(n, lambda i: {"_id": i, "customer_id": rnd.randrange(customers),
                                                    "amount": rnd.randint(1, 1000), "status": rnd.choice("ABC"),
                                                    "cust": f"cust{rnd.randrange(CUSTS)}"}))
    shuffled = list(range(n))
    rnd.shuffle(shuffled)  # events stored out of (k, t) order
    events = b.load("events", batches(n, lambda i: {"_id": shuffled[i], "k": shuffled[i] % PARTITIONS,
                                                    "t": shuffled[i] // PARTITIONS, "v": rnd.randint(1, 100)}))
    lookup_cmd = {"aggregate": "orders", "pipeline": LOOKUP, "cursor": {}}
    before_analyze = index_scans(postgres_plan(b.db, lookup_cmd, verbosity="queryPlanner")["Plan"])
    b.analyze(["customers", "orders", "events"])

    # 1. $lookup + $unwind + $group vs a join on jsonb.
    ours_s, ours = best_time(a.repeat, lambda: list(orders.aggregate(LOOKUP)))
    jsonb_s, rows = best_time(a.repeat, lambda: b.jsonb_query(LOOKUP_SQL))
    ours_plan = postgres_plan(b.db, lookup_cmd)
    ours_scans = index_scans(ours_plan["Plan"])
    ours_jit_ms = ours_plan.get("JIT", {}).get("Timing", {}).get("Total")
    jsonb_plan = b.jsonb_plan(LOOKUP_SQL)
    # The baseline in our plan's shape: one customers index probe per order instead of a hash join.
    b.pg.execute("SET enable_hashjoin = off")
    b.pg.execute("SET enable_mergejoin = off")
    probes_s, _ = best_time(a.repeat, lambda: b.jsonb_query(LOOKUP_SQL))
    probes_scans = index_scans(b.jsonb_plan(LOOKUP_SQL))
    b.pg.execute("RESET ALL")
    emit(compared("lookup_join", n, 0.5, ours_s, jsonb_s, customers=customers,
                  same_result={d["_id"]: d["total"] for d in ours} == {r: int(t) for r, t in rows},
                  ours_probes_id_index=any("object_id" in s for s in ours_scans), ours_index_scans=ours_scans,
                  ours_probes_id_index_before_analyze=any("object_id" in s for s in before_analyze),
                  ours_index_scans_before_analyze=before_analyze,
                  jsonb_join=[p["Node Type"] for p in plan_nodes(jsonb_plan) if "Join" in p["Node Type"]
                              or p["Node Type"] == "Nested Loop"],
                  jsonb_index_scans=index_scans(jsonb_plan), ours_jit_ms=ours_jit_ms,
                  jsonb_index_nested_loop_s=round(probes_s, 4), jsonb_index_nested_loop_scans=probes_scans))

    # 2. $match + $group + $sort vs WHERE + GROUP BY + ORDER BY.
    ours_s, ours = best_time(a.repeat, lambda: list(orders.aggregate(MATCH_GROUP_SORT)))
    jsonb_s, rows = best_time(a.repeat, lambda: b.jsonb_query(MATCH_GROUP_SORT_SQL))
    totals = [d["total"] for d in ours]
    emit(compared("match_group_sort", n, 1, ours_s, jsonb_s, groups=len(ours),
                  same_result={d["_id"]: d["total"] for d in ours} == {c: int(t) for c, t in rows},
                  sorted=totals == sorted(totals, reverse=True)))

    # 3. $setWindowFields running total vs sum() OVER.
    jsonb_s, rows = best_time(a.repeat, lambda: b.jsonb_query(WINDOW_SQL))
    try:
        ours_s, ours = best_time(a.repeat, lambda: list(events.aggregate(WINDOW)))
    except pymongo.errors.OperationFailure as e:
        emit({"workload": "window_running_total", "n": n, "jsonb_s": round(jsonb_s, 4), "target": 0.5,
              "error": e.details.get("errmsg", str(e)), "code": e.code})
    else:
        emit(compared("window_running_total", n, 0.5, ours_s, jsonb_s,
                      same_result={d["_id"]: d.get("running") for d in ours} == {d["_id"]: int(s) for d, s in rows}))

    # 4. First batch of an indexed sort + limit 1, and the SQL behind it.
    big_n = BIG if a.big else n
    perm = list(range(big_n))
    rnd.shuffle(perm)
    load_started = time.perf_counter()
    big = b.load("big", batches(big_n, lambda i: {"_id": i, "indexed": perm[i], "pad": "x" * 16}), jsonb=False)
    big.create_index([("indexed", 1)])
    b.analyze(["big"], jsonb=False)
    load_s = time.perf_counter() - load_started
    find_s, first = best_time(a.repeat, lambda: next(big.find().sort("indexed", 1).limit(1)))
    agg_s, first_agg = best_time(a.repeat, lambda: next(big.aggregate(SORT_FIRST)))
    find_ms, find_plan = sql_ms(b.db, {"find": "big", "sort": {"indexed": 1}, "limit": 1}, a.repeat)
    agg_ms, agg_plan = sql_ms(b.db, {"aggregate": "big", "pipeline": SORT_FIRST, "cursor": {}}, a.repeat)
    emit({"workload": "sort_first_batch", "n": big_n, "load_s": round(load_s, 1),
          "find_first_batch_ms": round(find_s * 1000, 3), "aggregate_first_batch_ms": round(agg_s * 1000, 3),
          "find_sql_ms": find_ms, "aggregate_sql_ms": agg_ms, "target_sql_ms": 10,
          "same_result": first["indexed"] == first_agg["indexed"] == 0,
          "find_plan": plan_shape(find_plan["Plan"]), "aggregate_plan": plan_shape(agg_plan["Plan"])})

    # 5. One group per document: time and the serving backend's peak memory.
    best_s, peak = float("inf"), None
    for _ in range(a.repeat):
        with BackendMemory(a.pg_uri) as mem:
            started = time.perf_counter()
            out = list(big.aggregate(GROUP_ALL))
            elapsed = time.perf_counter() - started
        best_s = min(best_s, elapsed)
        summary = mem.summary()
        if peak is None or summary.get("rss_peak_mib", 0) > peak.get("rss_peak_mib", 0):
            peak = summary
    plan = postgres_plan(b.db, {"aggregate": "big", "pipeline": GROUP_ALL, "cursor": {}})["Plan"]
    settings = dict(b.pg.execute("SELECT name, setting || coalesce(unit, '') FROM pg_settings "
                                 "WHERE name IN ('work_mem', 'hash_mem_multiplier')").fetchall())
    emit({"workload": "group_memory", "n": big_n, "seconds": round(best_s, 3),
          "same_result": out == [{"groups": big_n}], **peak,
          "plan_memory": [{"node": p["Node Type"], **{k: p[k] for k in MEMORY_FIELDS if k in p}}
                          for p in plan_nodes(plan) if any(k in p for k in MEMORY_FIELDS)],
          "settings": settings})


if __name__ == "__main__":
    main()
