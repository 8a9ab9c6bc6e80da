"""Shared pieces of the crash hunt: the PostgreSQL log watcher, the statement ring buffer
and rendering of statements as replayable SQL."""
import collections
import os
import re
import time

# Lines of the PostgreSQL log that mean a crash (a backend or worker died abnormally, the
# postmaster reinitialized, or a PANIC).
CRASH_PATTERNS = [
    re.compile(r"was terminated by signal \d+"),
    re.compile(r"was terminated by exception"),
    re.compile(r"\bPANIC:"),
    re.compile(r"server process \(PID \d+\) exited with exit code (?!1\b)\d+"),
    re.compile(r"background worker \"documentdb[^\"]*\" \(PID \d+\) exited with exit code (?!0\b)\d+"),
    re.compile(r"all server processes terminated; reinitializing"),
    re.compile(r"terminating any other active server processes"),
]
SIGNAL_RE = re.compile(r"\(PID (\d+)\) was terminated by signal (\d+)(?::\s*(.*))?")
FAILED_RE = re.compile(r"DETAIL:\s+Failed process was running: (.*)")


class LogWatcher:
    """Reads a PostgreSQL log file incrementally and finds crash reports."""

    def __init__(self, path, start_at_end=True):
        self.path = path
        self.offset = os.path.getsize(path) if (start_at_end and os.path.exists(path)) else 0
        self.crashes = []  # (pid, signal, description, failed statement)

    def new_text(self):
        """Text appended since the last new_text() call (independent of poll())."""
        if not hasattr(self, "text_offset"):
            self.text_offset = self.offset
        try:
            with open(self.path, "rb") as f:
                f.seek(self.text_offset)
                data = f.read()
        except OSError:
            return ""
        self.text_offset += len(data)
        return data.decode("utf-8", "replace")

    def poll(self):
        """Reads new lines; returns the new crash records."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return []
        # Only whole lines.
        cut = data.rfind(b"\n")
        if cut < 0:
            return []
        data = data[: cut + 1]
        self.offset += len(data)
        lines = data.decode("utf-8", "replace").splitlines()
        found = []
        for i, line in enumerate(lines):
            if "memory allocation of" in line and "failed" in line:
                self.alloc_failure = line.strip()[:200]
            m = SIGNAL_RE.search(line)
            if m:
                failed = ""
                for nxt in lines[i + 1:i + 3]:
                    fm = FAILED_RE.search(nxt)
                    if fm:
                        failed = fm.group(1)
                        break
                desc = m.group(3) or ""
                if getattr(self, "alloc_failure", None):
                    desc += " after '%s' (Rust aborts when an allocation fails)" % self.alloc_failure
                    self.alloc_failure = None
                rec = (int(m.group(1)), int(m.group(2)), desc, failed)
                found.append(rec)
        self.crashes.extend(found)
        return found

    def wait_for_pid(self, pid, timeout=5.0, since=0):
        """Waits for a crash report of backend `pid` (among records from index `since` on);
        returns it or None. Returns early when another backend's crash is reported (ours
        was then terminated by the postmaster) or the log shows our connection's end."""
        started = time.time()
        while True:
            self.poll()
            recent = self.crashes[since:]
            for rec in recent:
                if rec[0] == pid:
                    return rec
            waited = time.time() - started
            if waited > timeout or (recent and waited > 1.5):
                return None
            time.sleep(0.2)


def scan_log(path):
    """Every crash line of a whole log file, with the line after it (context)."""
    out = []
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return out
    for i, line in enumerate(lines):
        if any(p.search(line) for p in CRASH_PATTERNS):
            out.append(line)
            if i + 1 < len(lines) and "DETAIL" in lines[i + 1]:
                out.append(lines[i + 1][:2000])
    return out


# ---- replayable SQL ------------------------------------------------------------------------

class BsonParam:
    """A bson-family parameter sent as raw bytes in binary format (the type's recv).
    BsonParam(data, "bsonquery") makes the subclass of that type (one dumper per class)."""
    __slots__ = ("data", "typ")

    def __new__(cls, data=b"", typ="bson"):
        if cls is BsonParam and typ != "bson":
            cls = PARAM_CLASSES[typ]
        return object.__new__(cls)

    def __init__(self, data, typ="bson"):
        self.data, self.typ = data, typ


class BsonQueryParam(BsonParam):
    __slots__ = ()


class BsonSequenceParam(BsonParam):
    __slots__ = ()


PARAM_CLASSES = {"bson": BsonParam, "bsonquery": BsonQueryParam, "bsonsequence": BsonSequenceParam}


def sql_text_literal(s):
    out = s.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r")
    out = "".join(ch if (ord(ch) >= 32 or ch in "\\") else "\\x%02x" % ord(ch) for ch in out)
    return "E'%s'" % out


def render_param(p):
    if p is None:
        return "NULL"
    if isinstance(p, BsonParam):
        # An untyped literal: the statements cast their bson parameters explicitly.
        return "'%s%s'" % ("BSONSEQUENCE" if p.typ == "bsonsequence" else "BSONHEX", p.data.hex())
    if isinstance(p, bool):
        return "true" if p else "false"
    if isinstance(p, (int,)):
        return str(p)
    if isinstance(p, float):
        if p != p:
            return "'NaN'::float8"
        if p in (float("inf"), float("-inf")):
            return "'%sInfinity'::float8" % ("-" if p < 0 else "")
        return repr(p)
    if isinstance(p, (bytes, bytearray)):
        return "'\\x%s'::bytea" % bytes(p).hex()
    if isinstance(p, str):
        return sql_text_literal(p)
    if isinstance(p, (list, tuple)):
        return "ARRAY[%s]" % ", ".join(render_param(x) for x in p)
    return sql_text_literal(str(p))


def render(sql, params):
    """The statement with its parameters inlined (psycopg %s / %b / %t placeholders)."""
    if not params:
        return sql.replace("%%", "%")
    parts = re.split(r"(%[sbt]|%%)", sql)
    out = []
    it = iter(params)
    for part in parts:
        if part in ("%s", "%b", "%t"):
            out.append(render_param(next(it, None)))
        elif part == "%%":
            out.append("%")
        else:
            out.append(part)
    return "".join(out)


def pretty(v, limit=3000):
    """A compact Extended-JSON-like text of a decoded bsonraw value (for humans only)."""
    import bsonraw as B
    out = []
    size = [0]

    def w(s):
        size[0] += len(s)
        out.append(s)

    def key(k):
        return '"%s"' % (k if isinstance(k, str) else "<bytes %s>" % bytes(k).hex())

    def go(x, depth):
        if size[0] > limit:
            return
        t = type(x)
        if depth > 30:
            w("...")
        elif t is B.Doc or t is dict:
            w("{")
            for i, (k, val) in enumerate(x.items if t is B.Doc else x.items()):
                w((", " if i else "") + key(k) + ": ")
                go(val, depth + 1)
            w("}")
        elif t is list or t is tuple:
            w("[")
            for i, val in enumerate(x):
                w(", " if i else "")
                go(val, depth + 1)
            w("]")
        elif t is str:
            w('"%s"' % x[:200].replace('"', '\\"'))
        elif t in (B.I32,):
            w(str(x.v))
        elif t is B.I64:
            w('NumberLong(%d)' % x.v)
        elif t is B.Str:
            w('<invalid UTF-8 %s>' % bytes(x.v).hex())
        elif t is B.Dec:
            w('Decimal128(bid %s)' % bytes(x.v).hex())
        elif t is B.Date:
            w('Date(%d)' % x.v)
        elif t is B.Regex:
            w('/%s/%s' % (x.pattern, x.options))
        elif t is B.Bin:
            w('BinData(%d, %s)' % (x.subtype, bytes(x.data)[:32].hex()))
        elif t is B.Oid:
            w('ObjectId(%s)' % bytes(x.v).hex())
        elif t is B.Ts:
            w('Timestamp(%d, %d)' % (x.t, x.i))
        elif t is B.Code:
            w('Code(%r)' % (x.v,))
        elif t is float:
            w(repr(x))
        elif t is B.Elem:
            w('<pre-encoded type 0x%02x, %d bytes>' % (x.t, len(x.payload)))
        else:
            w(repr(x))
    try:
        go(v, 0)
    except Exception as e:  # noqa: BLE001 - best effort
        w(" <%s>" % e)
    s = "".join(out)
    return s if len(s) <= limit else s[:limit] + "..."


def describe_params(params):
    """Comment lines showing the bson parameters decoded."""
    import bsonraw as B
    lines = []
    for i, p in enumerate(params or []):
        if isinstance(p, BsonParam):
            try:
                text = pretty(B.decode(p.data)) if p.typ != "bsonsequence" else "(sequence of %d bytes)" % len(p.data)
            except Exception:  # noqa: BLE001 - invalid bytes on purpose
                text = "(not valid BSON, %d bytes)" % len(p.data)
            lines.append("--   param %d (%s): %s" % (i + 1, p.typ, text.replace("\n", " ")))
    return lines


class Ring:
    """The last N statements (SQL and parameters), rendered only when dumped."""

    def __init__(self, n=50):
        self.items = collections.deque(maxlen=n)

    def add(self, kind, sql, params):
        self.items.append((time.time(), kind, sql, params))

    def dump(self, path, header=""):
        with open(path, "w", encoding="utf-8", errors="replace") as f:
            if header:
                for line in header.splitlines():
                    f.write("-- %s\n" % line)
            for ts, kind, sql, params in self.items:
                f.write("-- %s %s\n" % (time.strftime("%H:%M:%S", time.localtime(ts)), kind))
                for line in describe_params(params):
                    f.write(line + "\n")
                f.write(render(sql, params).rstrip().rstrip(";") + ";\n")

    def last(self):
        return self.items[-1] if self.items else None
