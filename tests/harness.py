"""The plain runner shared by the Python end-to-end suites, so they run without pytest (they
also run under pytest, which uses its own runner and skip exception).

A suite lists its tests as (name, callable) pairs and calls `run`: each test prints one
PASS/FAIL/SKIP line with its time, the last line is 'N passed, N failed, N skipped', and the
returned exit status is non-zero when any test failed.
"""
import sys
import time

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
