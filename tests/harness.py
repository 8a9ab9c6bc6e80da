"""The plain runner shared by the Python end-to-end suites, so they run without pytest (they
also run under pytest, which uses its own runner and skip exception).

A suite lists its tests as (name, callable) pairs and calls `run`: each test prints one
PASS/FAIL/SKIP line with its time, the last line is 'N passed, N failed, N skipped', and the
returned exit status is non-zero when any test failed. Run standalone, a suite hands its
command line to `main`, which checks the gateway answers before running the tests.
"""
import argparse
import sys
import time

import pymongo
from pymongo.errors import PyMongoError

try:  # under pytest, Skip is pytest's own skip
    import pytest

    Skip = pytest.skip.Exception
except ImportError:

    class Skip(Exception):
        """Raised by a test that cannot run here (a missing optional module or feature)."""


def tests_in(namespace, sort=False):
    """The module's `test_*` functions, in definition order (or by name with `sort`)."""
    items = sorted(namespace.items()) if sort else list(namespace.items())
    return [(name, fn) for name, fn in items if name.startswith("test_") and callable(fn)]


def run(tests, cleanup=None, title=None):
    """Runs every test, reporting each failure and going on; `cleanup` runs at the end."""
    passed = failed = skipped = 0
    started_all = time.time()
    try:
        for name, fn in tests:
            started = time.time()
            try:
                fn()
                passed += 1
                print(f"PASS {name} ({time.time() - started:.2f}s)", flush=True)
            except Skip as e:
                skipped += 1
                print(f"SKIP {name}: {e}", flush=True)
            except Exception as e:  # noqa: BLE001 - report every failure and go on
                failed += 1
                print(f"FAIL {name}: {type(e).__name__}: {e}", flush=True)
    finally:
        if cleanup is not None:
            cleanup()
    if title:
        print(f"{title} took {time.time() - started_all:.1f}s")
    print(f"{passed} passed, {failed} failed, {skipped} skipped", flush=True)
    return 1 if failed else 0


def reachable(ping):
    """Calls `ping` (a driver round trip); on failure says so and returns False."""
    try:
        ping()
        return True
    except Exception as e:  # noqa: BLE001 - any driver error means the gateway is not usable
        print(f"gateway not reachable: {e}", file=sys.stderr)
        return False


def drop_and_close(uri, database, clients):
    """A suite's cleanup: drops its `database` and closes the `clients` it cached. The drop uses
    a client of its own, as the cached ones may be what a failed test broke."""
    try:
        c = pymongo.MongoClient(uri, serverSelectionTimeoutMS=5000)
        c.drop_database(database)
        c.close()
    except PyMongoError as e:
        print(f"cleanup failed: {e}", file=sys.stderr)
    for c in clients:
        c.close()
    clients.clear()


def main(argv, suite, *, title, ping, cleanup, uri_help="the gateway's MongoDB URI (default: $GATEWAY_URI)",
         options=(), sort=False):
    """A suite run standalone: parses `argv`, checks the gateway answers `ping`, then `run`s the
    suite's tests (by name with `sort`, see `tests_in`) and returns the exit status.

    `suite` is the suite module's globals(); its docstring is the --help text. --uri and each of
    `options`, given as (flag, global name, help), default to that module global and set it,
    because the tests read those globals (under pytest they keep what the module took from the
    environment).
    """
    parser = argparse.ArgumentParser(description=suite["__doc__"],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    for flag, name, help_text in [("--uri", "URI", uri_help), *options]:
        parser.add_argument(flag, dest=name, default=suite[name], help=help_text)
    suite.update(vars(parser.parse_args(argv)))
    if not suite["URI"]:
        parser.error("--uri (or GATEWAY_URI) is required")
    if not reachable(ping):
        return 1
    return run(tests_in(suite, sort=sort), cleanup=cleanup, title=title)
