#!/usr/bin/env python3
"""SQL-level benchmark of secondary indexes (issue #10) against plain PostgreSQL JSONB with
expression / GIN indexes, measured side by side in one run on the same cluster.

  python3 bench/index_bench.py [--pg "$(cat data/postgres.uri)"] [--docs 100000] [--million]

Workloads (documents shaped like ../shared/bench/mongo_bench.py's, plus `labels`: 3 of 5,000
strings, for a selective multikey field), each query sent as a documentdb_api call from a
client, as psql or an application would:
  point_unindexed    find {name: X} limit 1 before any index (ours only)
  point_indexed      the same on a fresh single-field index, right after createIndexes, vs
                     `doc->>'name' = X` with a btree expression index
  range_sort_limit   find {age: {$gte: lo}} sort {age: 1} limit 20 vs the jsonb equivalent
  multikey_in        find {labels: {$in: [x]}} on a multikey index vs `doc @> '{"labels":[x]}'`
                     with a jsonb_path_ops GIN index
  build_<n>          index build time (createIndexes vs CREATE INDEX) on n documents
  insert_<k>idx      insert throughput (10 batches of 2,000) into a collection with k secondary
                     indexes created first (the multikey `labels` among them), ours only
Prints one JSON line per workload, then a summary with the ratios the issue asks for.
"""
import argparse
import json
import random
import time

import psycopg

import crud_bench  # bench/crud_bench.py: the shared document shape

DB = "index_bench"


def make_doc(i, rnd):
    """crud_bench's document plus `labels`, a selective multikey field."""
    doc = crud_bench.make_doc(i, rnd)
    doc["labels"] = [f"l{rnd.randrange(5000)}" for _ in range(3)]
    return doc


class Bench:
    def __init__(self, dsn):
        self.conn = psycopg.connect(dsn, autocommit=True)
        self.cur = self.conn.cursor()
        self.results = {}

    def timed(self, name, n, fn):
        t0 = time.perf_counter()
        fn()
        dt = time.perf_counter() - t0
        row = {"workload": name, "n": n, "seconds": round(dt, 4), "rate": round(n / dt, 1)}
        self.results[name] = row
        print(json.dumps(row), flush=True)
        return row["rate"]

    def command(self, function, spec):
        self.cur.execute(f"SELECT * FROM documentdb_api.{function}(%s, %s::documentdb_core.bson)", (DB, json.dumps(spec)))
        return self.cur.fetchall()

    def find(self, coll, **find):
        self.cur.execute("SELECT cursorpage FROM documentdb_api.find_cursor_first_page(%s, %s::documentdb_core.bson)",
                         (DB, json.dumps({"find": coll, **find})))
        return self.cur.fetchone()

    def create_index(self, coll, key, name):
        self.cur.execute("SELECT retval FROM documentdb_api.create_indexes_background(%s, %s::documentdb_core.bson)",
                         (DB, json.dumps({"createIndexes": coll, "indexes": [{"key": key, "name": name}]})))
        self.cur.fetchall()

    def load(self, coll, docs):
        for k in range(0, len(docs), 10_000):
            chunk = docs[k:k + 10_000]
            self.command("insert", {"insert": coll, "documents": chunk, "ordered": False})

    def load_jsonb(self, table, docs):
        self.cur.execute(f"DROP TABLE IF EXISTS {table}")
        self.cur.execute(f"CREATE TABLE {table} (id bigserial primary key, doc jsonb not null)")
        with self.cur.copy(f"COPY {table} (doc) FROM STDIN") as copy:
            for d in docs:
                copy.write_row([json.dumps(d)])
        self.cur.execute(f"ANALYZE {table}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pg", default=None, help="libpq URI (default: data/postgres.uri)")
    ap.add_argument("--docs", type=int, default=100_000)
    ap.add_argument("--million", action="store_true", help="also time index builds on 1,000,000 documents")
    a = ap.parse_args()
    b = Bench(a.pg or open("data/postgres.uri").read().strip())
    rnd = random.Random(7)
    n = a.docs
    docs = [make_doc(i, rnd) for i in range(n)]
    b.cur.execute("SELECT documentdb_api.drop_database(%s)", (DB,))
    b.load("c", docs)
    b.load_jsonb("bench_ix", docs)
    points = [f"user{rnd.randrange(n):07d}" for _ in range(2000)]

    def ours_points(count):
        def run():
            for p in points[:count]:
                assert b.find("c", filter={"name": p}, limit=1, singleBatch=True) is not None
        return run

    b.timed("point_unindexed", 20, ours_points(20))
    b.timed("build_ours_name", n, lambda: b.create_index("c", {"name": 1}, "name_1"))
    b.timed("point_indexed_ours", len(points), ours_points(len(points)))
    b.timed("build_jsonb_name", n, lambda: b.cur.execute("CREATE INDEX ON bench_ix ((doc->>'name'))"))

    def jsonb_points():
        for p in points:
            b.cur.execute("SELECT doc FROM bench_ix WHERE doc->>'name' = %s LIMIT 1", (p,))
            assert b.cur.fetchone() is not None
    b.timed("point_indexed_jsonb", len(points), jsonb_points)

    b.create_index("c", {"age": 1}, "age_1")
    b.cur.execute("CREATE INDEX ON bench_ix (((doc->>'age')::int))")
    los = [rnd.randint(18, 85) for _ in range(500)]

    def ours_range():
        for lo in los:
            b.find("c", filter={"age": {"$gte": lo}}, sort={"age": 1}, limit=20)

    def jsonb_range():
        for lo in los:
            b.cur.execute("SELECT doc FROM bench_ix WHERE (doc->>'age')::int >= %s ORDER BY (doc->>'age')::int LIMIT 20", (lo,))
            b.cur.fetchall()
    b.timed("range_sort_limit_ours", len(los), ours_range)
    b.timed("range_sort_limit_jsonb", len(los), jsonb_range)

    b.timed("build_ours_labels_multikey", n, lambda: b.create_index("c", {"labels": 1}, "labels_1"))
    b.timed("build_jsonb_labels_gin", n, lambda: b.cur.execute("CREATE INDEX ON bench_ix USING gin (doc jsonb_path_ops)"))
    b.cur.execute("ANALYZE bench_ix")
    labels = [f"l{rnd.randrange(5000)}" for _ in range(1000)]

    def ours_in():
        for label in labels:
            b.find("c", filter={"labels": {"$in": [label]}}, batchSize=1000, singleBatch=True)

    def jsonb_in():
        for label in labels:
            b.cur.execute("SELECT doc FROM bench_ix WHERE doc @> %s::jsonb", (json.dumps({"labels": [label]}),))
            b.cur.fetchall()
    b.timed("multikey_in_ours", len(labels), ours_in)
    b.timed("multikey_in_jsonb", len(labels), jsonb_in)

    # Inserts into collections whose indexes exist first (as ODMs create them).
    extra = [make_doc(n + i, rnd) for i in range(20_000)]
    index_sets = {0: [], 1: ["name"], 3: ["name", "age", "labels"], 5: ["name", "age", "labels", "score", "address.city"]}
    for k, paths in index_sets.items():
        coll = f"ins{k}"
        for p in paths:
            b.create_index(coll, {p: 1}, f"{p}_1")

        def insert(coll=coll):
            for j in range(0, len(extra), 2000):
                b.command("insert", {"insert": coll, "documents": extra[j:j + 2000]})
        b.timed(f"insert_{k}idx", len(extra), insert)

    if a.million:
        big = [make_doc(i, rnd) for i in range(1_000_000)]
        b.load("big", big)
        b.load_jsonb("bench_big", big)
        b.timed("build_ours_1m", len(big), lambda: b.create_index("big", {"name": 1}, "name_1"))
        b.timed("build_jsonb_1m", len(big), lambda: b.cur.execute("CREATE INDEX ON bench_big ((doc->>'name'))"))
        b.cur.execute("DROP TABLE bench_big")

    r = {k: v["rate"] for k, v in b.results.items()}
    summary = {
        "point_indexed_vs_jsonb": round(r["point_indexed_ours"] / r["point_indexed_jsonb"], 2),
        "point_indexed_vs_unindexed": round(r["point_indexed_ours"] / r["point_unindexed"], 1),
        "range_sort_limit_vs_jsonb": round(r["range_sort_limit_ours"] / r["range_sort_limit_jsonb"], 2),
        "multikey_in_vs_jsonb_gin": round(r["multikey_in_ours"] / r["multikey_in_jsonb"], 2),
        "build_100k_seconds": {"ours": b.results["build_ours_name"]["seconds"], "jsonb": b.results["build_jsonb_name"]["seconds"]},
        "insert_docs_per_s": {k: r[f"insert_{k}idx"] for k in index_sets},
    }
    if a.million:
        summary["build_1m_seconds"] = {"ours": b.results["build_ours_1m"]["seconds"], "jsonb": b.results["build_jsonb_1m"]["seconds"]}
    print(json.dumps({"summary": summary}), flush=True)
    b.cur.execute("SELECT documentdb_api.drop_database(%s)", (DB,))
    b.cur.execute("DROP TABLE IF EXISTS bench_ix")


if __name__ == "__main__":
    main()
