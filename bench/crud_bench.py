#!/usr/bin/env python3
"""SQL-level benchmark of the documentdb extension against plain PostgreSQL JSONB, measured
side by side in one run on the same cluster (ratios are what to compare).

  python3 bench/crud_bench.py [--pg "$(cat data/postgres.uri)"] [--repeat 3]

Workloads (documents shaped like ../shared/bench/mongo_bench.py's):
  insert_10k   documentdb_api.insert of 10,000 documents in one command sent as Extended
               JSON text from a client (as psql would) vs COPY of the same 10,000 documents
               into a jsonb table.
  filter_100k  a filter on an unindexed nested field over 100,000 documents, matching
               documents returned to the client in binary (find with a large batch) vs the
               equivalent jsonb query.
  filter_100k_count  the same filter evaluated server-side only (count) vs jsonb count(*).
Prints one JSON line per workload and a summary with the ratios (ours / jsonb rate).
"""
import argparse
import json
import random
import time

import psycopg


def make_doc(i, rnd):
    cities = ["Paris", "Lima", "Oslo", "Kyiv", "Pune", "Rome", "Doha", "Nice"]
    return {
        "i": i,
        "name": f"user{i:07d}",
        "age": rnd.randint(18, 90),
        "score": rnd.random() * 100,
        "active": rnd.random() < 0.5,
        "tags": rnd.sample(["a", "b", "c", "d", "e", "f", "g"], 3),
        "address": {"city": rnd.choice(cities), "zip": f"{rnd.randint(10000, 99999)}"},
        "history": [{"k": j, "v": rnd.randint(0, 1000)} for j in range(3)],
    }


def best_of(repeat, fn):
    times = []
    for _ in range(repeat):
        times.append(fn())
    return min(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pg", default=None, help="libpq URI (default: data/postgres.uri)")
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    dsn = a.pg or open("data/postgres.uri").read().strip()
    conn = psycopg.connect(dsn, autocommit=True)
    cur = conn.cursor()
    rnd = random.Random(7)
    docs = [make_doc(i, rnd) for i in range(10_000)]
    lines = [json.dumps(d) for d in docs]
    command = '{"insert": "c", "documents": [' + ",".join(lines) + "]}"
    results = {}

    # --- insert 10k -------------------------------------------------------------------
    def jsonb_copy():
        cur.execute("DROP TABLE IF EXISTS bench_jsonb; CREATE TABLE bench_jsonb (doc jsonb)")
        t0 = time.perf_counter()
        with cur.copy("COPY bench_jsonb (doc) FROM STDIN") as cp:
            for line in lines:
                cp.write_row((line,))
        return time.perf_counter() - t0

    def ours_insert():
        cur.execute("SELECT documentdb_api.drop_collection('bench', 'c')")
        cur.execute("SELECT documentdb_api.create_collection('bench', 'c')")
        t0 = time.perf_counter()
        cur.execute("SELECT p_success FROM documentdb_api.insert('bench', %s::documentdb_core.bson)", (command,))
        ok = cur.fetchone()[0]
        dt = time.perf_counter() - t0
        assert ok, "insert reported write errors"
        return dt

    t_jsonb = best_of(a.repeat, jsonb_copy)
    t_ours = best_of(a.repeat, ours_insert)
    results["insert_10k"] = (len(docs) / t_ours, len(docs) / t_jsonb)

    # --- filter over 100k ----------------------------------------------------------------
    cur.execute("SELECT documentdb_api.drop_collection('bench', 'scan')")
    cur.execute("DROP TABLE IF EXISTS bench_scan; CREATE TABLE bench_scan (doc jsonb)")
    rnd = random.Random(11)
    for chunk in range(10):
        part = [make_doc(chunk * 10_000 + i, rnd) for i in range(10_000)]
        text = [json.dumps(d) for d in part]
        cur.execute(
            "SELECT p_success FROM documentdb_api.insert('bench', %s::documentdb_core.bson)",
            ('{"insert": "scan", "documents": [' + ",".join(text) + "]}",),
        )
        with cur.copy("COPY bench_scan (doc) FROM STDIN") as cp:
            for line in text:
                cp.write_row((line,))
    cur.execute("VACUUM ANALYZE bench_scan")
    cid = cur.execute(
        "SELECT collection_id FROM documentdb_api_catalog.collections WHERE database_name='bench' AND collection_name='scan'"
    ).fetchone()[0]
    cur.execute(f"VACUUM ANALYZE documentdb_data.documents_{cid}")

    # Both sides return the matching documents to the client in binary form.
    def jsonb_filter():
        t0 = time.perf_counter()
        rows = cur.execute(
            "SELECT doc FROM bench_scan WHERE doc->'address'->>'city' = 'Oslo' AND (doc->>'age')::int >= 50",
            binary=True,
        ).fetchall()
        return time.perf_counter() - t0, len(rows)

    def ours_filter():
        t0 = time.perf_counter()
        row = cur.execute(
            "SELECT cursorid, cursorpage FROM documentdb_api.find_cursor_first_page('bench', "
            "'{\"find\": \"scan\", \"filter\": {\"address.city\": \"Oslo\", \"age\": {\"$gte\": 50}}, \"batchSize\": 100000}')",
            binary=True,
        ).fetchone()
        dt = time.perf_counter() - t0
        assert row[0] == 0, "expected the whole result in one batch"
        return dt, None

    tj = min(jsonb_filter()[0] for _ in range(a.repeat))
    to = min(ours_filter()[0] for _ in range(a.repeat))
    results["filter_100k"] = (100_000 / to, 100_000 / tj)

    # The same filter evaluated server-side only (count), no documents returned.
    def jsonb_count():
        t0 = time.perf_counter()
        cur.execute("SELECT count(*) FROM bench_scan WHERE doc->'address'->>'city' = 'Oslo' AND (doc->>'age')::int >= 50").fetchone()
        return time.perf_counter() - t0

    def ours_count():
        t0 = time.perf_counter()
        cur.execute(
            "SELECT document FROM documentdb_api.count_query('bench', "
            "'{\"count\": \"scan\", \"query\": {\"address.city\": \"Oslo\", \"age\": {\"$gte\": 50}}}')",
            binary=True,
        ).fetchone()
        return time.perf_counter() - t0

    tj = min(jsonb_count() for _ in range(a.repeat))
    to = min(ours_count() for _ in range(a.repeat))
    results["filter_100k_count"] = (100_000 / to, 100_000 / tj)

    summary = {}
    for name, (ours, base) in results.items():
        row = {"workload": name, "ours_rate": round(ours), "jsonb_rate": round(base), "ratio": round(ours / base, 3)}
        print(json.dumps(row))
        summary[name] = row["ratio"]
    print(json.dumps({"summary": summary}))


if __name__ == "__main__":
    main()
