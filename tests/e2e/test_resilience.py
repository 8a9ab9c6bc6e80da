#!/usr/bin/env python3
"""Resilience of the gateway against PostgreSQL going away, through pymongo.

Run by tests/e2e/resilience.sh (which builds the standalone gateway binary):
  test_resilience.py --uri MONGODB_URI --pg-data DIR --gateway BIN

1. The hosted gateway (background worker): its PostgreSQL backends are killed with
   pg_terminate_backend; the next commands work (the pool drops dead connections and opens
   new ones) and nothing written is lost.
2. A standalone gateway (documentdb-gateway) over the dev cluster's socket: PostgreSQL is
   restarted under it; while it is down commands fail with a clear error, and once it is
   back the same client works again without reconnecting by hand.
3. The standalone gateway with --max-connections 3: a fourth client connection is refused
   (closed, as mongod does) while the first three keep working.
4. `pg_ctl stop -m fast` stops the cluster, hosted gateway included, within seconds.
"""
import argparse
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid

import pymongo
from pymongo.errors import AutoReconnect, OperationFailure, PyMongoError

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import harness  # noqa: E402 - tests/harness.py, the runner shared by the suites

DB = "resilience_" + uuid.uuid4().hex[:8]


def as_postgres(*cmd, check=True):
    return subprocess.run(["runuser", "-u", "postgres", "--", *cmd], check=check, capture_output=True, text=True)


def psql(pg_data, port, sql):
    out = as_postgres("psql", "-h", pg_data, "-p", str(port), "-d", "postgres", "-Atc", sql)
    return out.stdout.strip()


def pg_bin():
    out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)
    if out.returncode == 0 and out.stdout.strip():
        return out.stdout.strip()
    return "/usr/lib/postgresql/15/bin"


def pg_ctl(pg_data, *args):
    return as_postgres(os.path.join(pg_bin(), "pg_ctl"), "-D", pg_data, *args)


def with_port(uri, port):
    parts = urllib.parse.urlsplit(uri)
    creds, _, hostport = parts.netloc.rpartition("@")
    host = hostport.rsplit(":", 1)[0]
    netloc = f"{creds}@{host}:{port}" if creds else f"{host}:{port}"
    return urllib.parse.urlunsplit(parts._replace(netloc=netloc))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gateway(gateway, port, pg_data, pg_port, *options):
    """A standalone gateway over the dev cluster's socket, as the postgres OS user (peer
    authentication), without TLS; its stderr is kept for the test to read."""
    return subprocess.Popen(
        ["runuser", "-u", "postgres", "--", gateway, "--port", str(port), "--pg-socket-dir", pg_data,
         "--pg-port", str(pg_port), "--tls-mode", "disabled", *options],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def wait_for(predicate, timeout, what):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            if predicate():
                return
        except (PyMongoError, OSError) as e:  # noqa: PERF203 - retry until the deadline
            last = e
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout} s (last error: {last})")


def test_killed_backends_are_replaced(uri, pg_data, pg_port):
    c = pymongo.MongoClient(uri, retryReads=False, retryWrites=False, serverSelectionTimeoutMS=5000)
    coll = c[DB].killed
    coll.insert_many([{"_id": i} for i in range(100)])
    for _ in range(20):
        assert coll.find_one({"_id": 5}) == {"_id": 5}
    killed = psql(pg_data, pg_port, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                  "WHERE application_name = 'documentdb_gateway'")
    assert int(killed) >= 1, killed
    time.sleep(0.3)  # the pool notices closed sockets asynchronously
    for i in range(100, 150):
        coll.insert_one({"_id": i})
        assert coll.find_one({"_id": i}) == {"_id": i}
    assert coll.count_documents({}) == 150
    c.drop_database(DB)


def test_postgres_restart_under_a_standalone_gateway(uri, pg_data, pg_port, gateway):
    port = free_port()
    proc = start_gateway(gateway, port, pg_data, pg_port, "--pool-size", "4")
    try:
        c = pymongo.MongoClient(with_port(uri, port), retryReads=True, serverSelectionTimeoutMS=3000,
                                socketTimeoutMS=10000)
        wait_for(lambda: c.admin.command("ping")["ok"] == 1.0, 20, "standalone gateway start")
        coll = c[DB].restart
        coll.insert_one({"_id": "before"})
        pg_ctl(pg_data, "-m", "fast", "-w", "-t", "60", "stop")
        try:
            # PostgreSQL is down: a command fails with an error naming the problem.
            try:
                coll.find_one({"_id": "before"})
            except OperationFailure as e:
                assert e.code == 6 and "PostgreSQL" in str(e), e.details
            except AutoReconnect:
                pass
            else:
                raise AssertionError("a command succeeded while PostgreSQL was down")
        finally:
            pg_ctl(pg_data, "-l", os.path.join(pg_data, "postgres.log"), "-w", "-t", "60", "start")
        # Back up: the same client, through the same gateway process, works again.
        wait_for(lambda: coll.find_one({"_id": "before"}) == {"_id": "before"}, 30, "reads after the restart")
        coll.insert_one({"_id": "after"})
        assert coll.count_documents({}) == 2
        assert proc.poll() is None, "the gateway exited"
        c.drop_database(DB)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_max_connections_refuses_extra_clients(uri, pg_data, pg_port, gateway):
    port = free_port()
    proc = start_gateway(gateway, port, pg_data, pg_port, "--max-connections", "3")
    try:
        wait_for(lambda: socket.create_connection(("127.0.0.1", port), timeout=1).close() is None, 20,
                 "standalone gateway start")
        time.sleep(0.2)
        held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(3)]
        extra = socket.create_connection(("127.0.0.1", port), timeout=5)
        extra.settimeout(5)
        try:
            data = extra.recv(16)
        except ConnectionResetError:
            data = b""
        assert data == b"", "the connection beyond --max-connections should be closed"
        extra.close()
        for s in held:
            s.close()
        # Once those are gone, clients get in again.
        c = pymongo.MongoClient(with_port(uri, port), serverSelectionTimeoutMS=5000, maxPoolSize=1)
        wait_for(lambda: c.admin.command("ping")["ok"] == 1.0, 10, "a client after the others left")
        c.close()
        stderr = ""
        proc.terminate()
        try:
            _, stderr = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        assert "too many open connections" in stderr, stderr[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()


def test_fast_stop_is_quick(uri, pg_data, pg_port):
    c = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)
    assert c.admin.command("ping")["ok"] == 1.0
    started = time.time()
    pg_ctl(pg_data, "-m", "fast", "-w", "-t", "60", "stop")
    took = time.time() - started
    pg_ctl(pg_data, "-l", os.path.join(pg_data, "postgres.log"), "-w", "-t", "60", "start")
    assert took < 10, f"pg_ctl stop -m fast took {took:.1f} s with the gateway running"
    wait_for(lambda: pymongo.MongoClient(uri, serverSelectionTimeoutMS=2000).admin.command("ping")["ok"] == 1.0,
             30, "the hosted gateway after the restart")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--uri", required=True)
    ap.add_argument("--pg-data", required=True)
    ap.add_argument("--pg-port", type=int, default=9712)
    ap.add_argument("--gateway", required=True)
    a = ap.parse_args()
    tests = [
        ("test_killed_backends_are_replaced", lambda: test_killed_backends_are_replaced(a.uri, a.pg_data, a.pg_port)),
        ("test_postgres_restart_under_a_standalone_gateway",
         lambda: test_postgres_restart_under_a_standalone_gateway(a.uri, a.pg_data, a.pg_port, a.gateway)),
        ("test_max_connections_refuses_extra_clients",
         lambda: test_max_connections_refuses_extra_clients(a.uri, a.pg_data, a.pg_port, a.gateway)),
        ("test_fast_stop_is_quick", lambda: test_fast_stop_is_quick(a.uri, a.pg_data, a.pg_port)),
    ]
    return harness.run(tests)


if __name__ == "__main__":
    sys.exit(main())
