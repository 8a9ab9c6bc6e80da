#!/usr/bin/env python3
"""Transfer-style transactions under load, optionally while processes are killed (issue #12).

N clients (threads, one MongoClient each) run, for S seconds, transactions that move money
between A accounts with pymongo's `with_transaction`: read the payer's balance, debit it,
credit the payee, and insert a ledger entry whose `_id` names the transfer (so a transfer is
applied at most once even when a commit whose outcome was unknown is retried). Afterwards:
  * the sum of balances is unchanged (no partial transfer, no money created);
  * every balance equals its initial value plus the ledger's effects (atomicity);
  * every transfer whose with_transaction returned is in the ledger (no acknowledged commit
    is lost);
  * no transaction or connection is left pinned (serverStatus before and after).

Kill modes (every --every seconds):
  --kill backend   kill -9 one of the gateway's PostgreSQL backends (PostgreSQL then restarts
                   every backend, as it does after any backend crash; clients retry).
  --kill gateway   clients use a standalone documentdb-gateway (--gateway BINARY) which is
                   kill -9'ed and restarted; a separate PostgreSQL session runs a query loop
                   all along and must never be interrupted.

  python3 tests/stress/transfer_stress.py --uri "$(cat data/mongodb.uri)" [--clients 16]
      [--seconds 60] [--accounts 100] [--kill none|backend|gateway] [--every 5]
      [--pg-data data --pg-port 9712 --gateway target/release/documentdb-gateway]
Prints a JSON summary; exits non-zero when an invariant fails.
"""
import argparse
import collections
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

import pymongo
from pymongo.errors import DuplicateKeyError, PyMongoError

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import test_resilience as procs  # noqa: E402 - process helpers: psql, free_port, with_port, wait_for

DB = "stress_transfer"
INITIAL = 1000


def setup(uri, accounts):
    c = pymongo.MongoClient(uri, serverSelectionTimeoutMS=30000)
    db = c[DB]
    db.accounts.drop()
    db.ledger.drop()
    db.accounts.insert_many([{"_id": i, "balance": INITIAL} for i in range(accounts)])
    db.create_collection("ledger")
    c.close()


def held(uri):
    """(transactions open, connections held by transactions and snapshots, pool size/available)."""
    c = pymongo.MongoClient(uri, serverSelectionTimeoutMS=30000)
    try:
        s = c.admin.command("serverStatus")
        return {
            "transactions_open": s["transactions"]["currentOpen"],
            "held_connections": s["postgres"]["heldByTransactionsAndSnapshots"],
            "pool_size": s["postgres"]["poolSize"],
            "pool_available": s["postgres"]["poolAvailable"],
        }
    finally:
        c.close()


class Worker(threading.Thread):
    def __init__(self, idx, uri, accounts, deadline):
        super().__init__(daemon=True)
        self.idx, self.uri, self.accounts, self.deadline = idx, uri, accounts, deadline
        self.acknowledged = []
        self.errors = collections.Counter()

    def run(self):
        # A killed gateway is rediscovered within half a second (heartbeatFrequencyMS), and
        # timeoutMS bounds with_transaction's retries so the run ends on time.
        client = pymongo.MongoClient(self.uri, heartbeatFrequencyMS=500, timeoutMS=20000)
        accounts = client[DB].accounts
        ledger = client[DB].ledger
        rnd = random.Random(self.idx)
        n = 0
        while time.time() < self.deadline:
            n += 1
            tid = f"{self.idx}-{n}"
            a, b = rnd.sample(range(self.accounts), 2)
            amount = rnd.randint(1, 50)

            def transfer(s, a=a, b=b, amount=amount, tid=tid):
                payer = accounts.find_one({"_id": a}, session=s)
                if payer["balance"] < amount:
                    return False
                accounts.update_one({"_id": a}, {"$inc": {"balance": -amount}}, session=s)
                accounts.update_one({"_id": b}, {"$inc": {"balance": amount}}, session=s)
                ledger.insert_one({"_id": tid, "from": a, "to": b, "amount": amount}, session=s)
                return True

            try:
                with client.start_session() as s:
                    if s.with_transaction(transfer):
                        self.acknowledged.append(tid)
            except DuplicateKeyError:
                # A retried transaction found its own ledger entry: the first commit landed.
                self.errors["retried_after_commit"] += 1
            except PyMongoError as e:
                self.errors[type(e).__name__ + ":" + str(getattr(e, "code", ""))] += 1
                time.sleep(0.05)
        client.close()


def kill_backend(pg_data, pg_port):
    pids = procs.psql(pg_data, pg_port,
                      "SELECT pid FROM pg_stat_activity WHERE application_name = 'documentdb_gateway' "
                      "AND backend_type = 'client backend'").split()
    if pids:
        os.kill(int(random.choice(pids)), signal.SIGKILL)
        return 1
    return 0


def start_gateway(binary, port, pg_data, pg_port, log):
    """The standalone gateway over the dev cluster's socket, as the postgres OS user (peer
    authentication), without TLS, logging to `log` (a pipe nobody drains would fill up and
    block the gateway)."""
    return subprocess.Popen(
        ["runuser", "-u", "postgres", "--", binary, "--port", str(port), "--pg-socket-dir", pg_data,
         "--pg-port", str(pg_port), "--tls-mode", "disabled"],
        stdout=subprocess.DEVNULL, stderr=log)


def kill_gateway(proc, port):
    """kill -9 of the standalone gateway itself (runuser, which started it, forwards nothing
    after SIGKILL, so the gateway process is found by its command line)."""
    subprocess.run(["pkill", "-KILL", "-f", f"documentdb-gateway --port {port} "], check=False)
    proc.kill()
    proc.wait()


def psql_loop(pg_data, pg_port, stop, failures):
    """A PostgreSQL session outside the gateway, querying all along: it must never fail."""
    p = subprocess.Popen(["runuser", "-u", "postgres", "--", "psql", "-h", pg_data, "-p", str(pg_port),
                          "-d", "postgres", "-Atq", "-v", "ON_ERROR_STOP=1"],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    n = 0
    try:
        while not stop.is_set():
            n += 1
            p.stdin.write(f"SELECT {n};\n")
            p.stdin.flush()
            line = p.stdout.readline().strip()
            if line != str(n):
                failures.append(f"psql loop: expected {n}, got {line!r} ({p.stderr.read() if p.poll() is not None else ''})")
                return
            time.sleep(0.1)
    finally:
        try:
            p.stdin.close()
        except OSError:
            pass
        p.wait(timeout=10)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--uri", required=True)
    ap.add_argument("--clients", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--accounts", type=int, default=100)
    ap.add_argument("--kill", choices=["none", "backend", "gateway"], default="none")
    ap.add_argument("--every", type=float, default=5)
    ap.add_argument("--pg-data", default="data")
    ap.add_argument("--pg-port", type=int, default=9712)
    ap.add_argument("--gateway", default="target/release/documentdb-gateway")
    a = ap.parse_args()
    pg_data = os.path.abspath(a.pg_data)

    setup(a.uri, a.accounts)
    uri = a.uri
    gateway = None
    if a.kill == "gateway":
        port = procs.free_port()
        uri = procs.with_port(a.uri, port)
        log = open(os.path.join(pg_data, "stress_gateway.log"), "a")
        gateway = start_gateway(os.path.abspath(a.gateway), port, pg_data, a.pg_port, log)
        procs.wait_for(lambda: pymongo.MongoClient(uri, serverSelectionTimeoutMS=1000).admin.command("ping"),
                       30, "the standalone gateway answering")
    before = held(uri)
    stop = threading.Event()
    failures = []
    loop = None
    if a.kill == "gateway":
        loop = threading.Thread(target=psql_loop, args=(pg_data, a.pg_port, stop, failures), daemon=True)
        loop.start()
    started = time.time()
    deadline = started + a.seconds
    workers = [Worker(i, uri, a.accounts, deadline) for i in range(a.clients)]
    for w in workers:
        w.start()
    kills = 0
    while time.time() < deadline:
        time.sleep(min(a.every, max(0.0, deadline - time.time())))
        if time.time() >= deadline:
            break
        if a.kill == "backend":
            kills += kill_backend(pg_data, a.pg_port)
        elif a.kill == "gateway":
            kill_gateway(gateway, port)
            gateway = start_gateway(os.path.abspath(a.gateway), port, pg_data, a.pg_port, log)
            kills += 1
    for w in workers:
        w.join(timeout=120)
    elapsed = time.time() - started
    stop.set()
    if loop:
        loop.join(timeout=30)

    # Let a restarted PostgreSQL / gateway settle, then check the invariants.
    procs.wait_for(lambda: pymongo.MongoClient(uri, serverSelectionTimeoutMS=2000).admin.command("ping"),
                   60, "the gateway answering after the run")
    time.sleep(2)
    after = held(uri)
    c = pymongo.MongoClient(uri, serverSelectionTimeoutMS=30000)
    db = c[DB]
    balances = {d["_id"]: d["balance"] for d in db.accounts.find()}
    ledger = list(db.ledger.find())
    c.close()
    if gateway:
        kill_gateway(gateway, port)

    expected = {i: INITIAL for i in range(a.accounts)}
    for entry in ledger:
        expected[entry["from"]] -= entry["amount"]
        expected[entry["to"]] += entry["amount"]
    acknowledged = [t for w in workers for t in w.acknowledged]
    in_ledger = {e["_id"] for e in ledger}
    lost = [t for t in acknowledged if t not in in_ledger]
    errors = collections.Counter()
    for w in workers:
        errors.update(w.errors)
    checks = {
        "sum_unchanged": sum(balances.values()) == INITIAL * a.accounts,
        "balances_match_ledger": balances == expected,
        "no_acknowledged_commit_lost": not lost,
        # Other clients of the gateway may hold some before; none of ours is left after.
        "no_pinned_connection_left": after["held_connections"] <= before["held_connections"]
        and after["transactions_open"] <= before["transactions_open"],
        "psql_session_never_interrupted": not failures,
    }
    summary = {
        "clients": a.clients, "seconds": round(elapsed, 1), "kill": a.kill, "kills": kills,
        "committed": len(acknowledged), "commits_per_s": round(len(acknowledged) / elapsed, 1),
        "ledger_entries": len(ledger), "errors": dict(errors), "before": before, "after": after,
        "lost": lost[:10], "failures": failures, "checks": checks,
    }
    print(json.dumps(summary, indent=1))
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
