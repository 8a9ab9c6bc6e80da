#!/usr/bin/env python3
"""Cost of transactions and retryable writes through the gateway (issue #12), as ratios
measured in one run against the same statements without them.

  python3 bench/transactions_bench.py --uri "$(cat data/mongodb.uri)" [--n 2000] [--repeat 3]

Workloads (one client, sequential, best of --repeat):
  txn_3_statements   insert + update + find_one in one transaction (start, 3 statements,
                     commit: 5 round trips) vs the same 3 statements without a transaction.
  retryable_insert   insert_one with retryWrites=true (lsid + txnNumber, recorded once by the
                     extension) vs retryWrites=false.
Prints one JSON line per workload (rates in operations per second and the ratio).
"""
import argparse
import json
import time

import pymongo

DB = "bench_transactions"


def best_rate(repeat, n, setup, run):
    best = 0.0
    for _ in range(repeat):
        setup()
        started = time.perf_counter()
        run(n)
        best = max(best, n / (time.perf_counter() - started))
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uri", required=True)
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    retrying = pymongo.MongoClient(a.uri, retryWrites=True)
    plain = pymongo.MongoClient(a.uri, retryWrites=False)
    coll = retrying[DB]["c"]

    def fresh():
        coll.drop()
        coll.database.create_collection("c")

    def three_statements(n, session_factory=None):
        for i in range(n):
            if session_factory:
                with retrying.start_session() as s:
                    s.start_transaction()
                    coll.insert_one({"_id": i, "v": 0}, session=s)
                    coll.update_one({"_id": i}, {"$set": {"v": 1}}, session=s)
                    coll.find_one({"_id": i}, session=s)
                    s.commit_transaction()
            else:
                coll.insert_one({"_id": i, "v": 0})
                coll.update_one({"_id": i}, {"$set": {"v": 1}})
                coll.find_one({"_id": i})

    txn = best_rate(a.repeat, a.n, fresh, lambda n: three_statements(n, session_factory=True))
    no_txn = best_rate(a.repeat, a.n, fresh, lambda n: three_statements(n))
    print(json.dumps({"workload": "txn_3_statements", "n": a.n, "transactions_per_s": round(txn, 1),
                      "without_transaction_per_s": round(no_txn, 1), "ratio": round(txn / no_txn, 3)}))

    def inserts(client):
        c = client[DB]["c"]
        return lambda n: [c.insert_one({"_id": i, "x": i}) for i in range(n)]

    retryable = best_rate(a.repeat, a.n, fresh, inserts(retrying))
    non_retryable = best_rate(a.repeat, a.n, fresh, inserts(plain))
    print(json.dumps({"workload": "retryable_insert", "n": a.n, "retryable_per_s": round(retryable, 1),
                      "plain_per_s": round(non_retryable, 1), "ratio": round(retryable / non_retryable, 3)}))
    retrying.drop_database(DB)


if __name__ == "__main__":
    main()
