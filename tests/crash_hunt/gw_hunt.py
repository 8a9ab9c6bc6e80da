#!/usr/bin/env python3
"""Gateway phase of the crash hunt: starts a standalone documentdb-gateway over the
throwaway cluster and sends it generated and mutated commands through pymongo and over raw
sockets (authenticated and not): valid commands, wrong types, deep nesting, huge arrays,
invalid UTF-8, malformed frames (lengths, flags, sections, checksums), OP_QUERY,
OP_COMPRESSED with good and bad payloads, SCRAM garbage, TLS garbage, partial frames.
After every burst the gateway must still answer `ping` and PostgreSQL must not have crashed.

  gw_hunt.py --gateway BIN --pg-socket-dir DIR --pg-port N --dsn DSN --log PGLOG --out DIR --seconds N
  gw_hunt.py --replay FILE --port N      (re-sends the frames of a gw-*.frames file)
"""
import argparse
import collections
import json
import os
import random
import socket
import struct
import subprocess
import sys
import time
import traceback
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bsonraw as B  # noqa: E402
import gen as G  # noqa: E402
import wire as W  # noqa: E402
from bsonraw import Doc  # noqa: E402
from common import LogWatcher  # noqa: E402

USER, PASSWORD = "huntgw_admin", "hunt-Pw-1"
GW_COMMANDS = ["hello", "isMaster", "ismaster", "ping", "buildInfo", "buildinfo", "hostInfo", "getParameter",
               "getCmdLineOpts", "listCommands", "connectionStatus", "serverStatus", "whatsmyuri", "startSession",
               "endSessions", "killAllSessions", "killSessions", "refreshSessions", "currentOp", "killOp",
               "getLastError", "saslStart", "saslContinue", "logout", "getMore", "killCursors", "explain", "find",
               "aggregate", "count", "distinct", "insert", "update", "delete", "findAndModify", "create", "drop",
               "dropDatabase", "listCollections", "listDatabases", "renameCollection", "collMod", "collStats",
               "dbStats", "createIndexes", "dropIndexes", "deleteIndexes", "listIndexes", "createUser", "dropUser",
               "updateUser", "usersInfo", "configureFailPoint", "shutdown", "bogusCommand", ""]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Frames:
    """Ring buffer of the last frames sent, per connection, for reproduction."""

    def __init__(self, n=80):
        self.items = collections.deque(maxlen=n)

    def add(self, conn_id, what, data):
        self.items.append((time.time(), conn_id, what, data))

    def dump(self, path, header):
        with open(path, "w") as f:
            for line in header.splitlines():
                f.write("# %s\n" % line)
            for ts, cid, what, data in self.items:
                f.write("frame %s %s %s\n" % (cid, what.replace(" ", "_")[:60] or "-", bytes(data).hex()))


class Hunter:
    def __init__(self, a):
        self.a = a
        self.r = random.Random(a.seed)
        self.g = G.Gen(self.r)
        self.frames = Frames()
        self.commands = 0
        self.replies = 0
        self.closed_by_server = 0
        self.findings = []
        self.proc = None
        self.port = None
        self.stderr_path = os.path.join(a.out, "gateway.stderr")
        self.stderr_offset = 0
        self.log = LogWatcher(a.log)
        self.conn_seq = 0
        self.authed = []   # pooled authenticated raw connections
        self.per_kind = {}
        self.error_samples = {}
        self.client = None

    # -- the gateway process -------------------------------------------------------------
    def start_gateway(self):
        if self.a.hosted:
            self.port = self.a.port
            self.wait_ping(60)
            return
        self.port = self.a.port or free_port()
        data_dir = os.path.join(self.a.out, "gw-data")
        os.makedirs(data_dir, exist_ok=True)
        os.system("chown -R postgres %s 2>/dev/null" % data_dir)
        cmd = [self.a.gateway, "--port", str(self.port), "--pg-socket-dir", self.a.pg_socket_dir,
               "--pg-port", str(self.a.pg_port), "--tls-mode", "allow", "--data-dir", data_dir,
               "--pool-size", "8", "--max-connections", "200", "--cursor-timeout-ms", "20000"]
        if os.geteuid() == 0:
            cmd = ["runuser", "-u", "postgres", "--"] + cmd
        err = open(self.stderr_path, "ab")
        env = dict(os.environ, RUST_BACKTRACE="1")
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        err.close()
        with open(os.path.join(self.a.out, "gateway.pid"), "w") as f:
            f.write("%d\n" % self.proc.pid)
        self.wait_ping(30)

    def alive(self):
        return self.a.hosted or self.proc.poll() is None

    def wait_ping(self, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if not self.alive():
                raise RuntimeError("the gateway exited at start (code %s): see %s" % (self.proc.returncode, self.stderr_path))
            try:
                c = W.Conn(self.port, timeout=3)
                r = c.cmd({"ping": 1})
                c.close()
                if W.num(W.get(r, "ok")) == 1:
                    return
            except (OSError, W.Closed):
                pass
            time.sleep(0.2)
        raise RuntimeError("the gateway did not answer ping within %d s" % timeout)

    def stop_gateway(self):
        if self.a.hosted:
            return
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.findings.append({"kind": "gateway did not stop within 15 s of SIGTERM"})

    def new_stderr(self):
        if self.a.hosted:
            return self.log.new_text()
        try:
            with open(self.stderr_path, "rb") as f:
                f.seek(self.stderr_offset)
                data = f.read()
            self.stderr_offset += len(data)
            return data.decode("utf-8", "replace")
        except OSError:
            return ""

    # -- checks --------------------------------------------------------------------------
    def check(self, what):
        """After a burst: gateway alive and answering ping, no panic, no PostgreSQL crash."""
        problems = []
        err = self.new_stderr()
        panic_lines = [ln for ln in err.splitlines() if "panicked" in ln or "internal error (panic)" in ln]
        if panic_lines:
            problems.append("gateway panic: " + " | ".join(panic_lines[:5])[:2000])
        if not self.alive():
            problems.append("gateway process exited with code %s" % self.proc.returncode)
        else:
            ok = False
            for _ in range(3):
                try:
                    c = W.Conn(self.port, timeout=10)
                    r = c.cmd({"ping": 1})
                    c.close()
                    ok = W.num(W.get(r, "ok")) == 1
                    if ok:
                        break
                except (OSError, W.Closed):
                    time.sleep(0.5)
            if not ok:
                problems.append("gateway does not answer ping")
        crashes = self.log.poll()
        for pid, sig, desc, failed in crashes:
            problems.append("PostgreSQL backend %d terminated by signal %d (%s) running: %s" % (pid, sig, desc, failed[:500]))
        if problems:
            stamp = "%d-%d" % (int(time.time()), len(self.findings))
            path = os.path.join(self.a.out, "gw-%s.frames" % stamp)
            self.frames.dump(path, "after: %s\n%s\nseed %d" % (what, "\n".join(problems), self.a.seed))
            for p in problems:
                self.findings.append({"kind": p, "burst": what, "frames": path})
                sys.stderr.write("\ncrash_hunt gateway: %s\n  during: %s\n  frames: %s\n" % (p, what, path))
            if not self.alive():
                self.start_gateway()
            self.authed = []

    # -- connections ---------------------------------------------------------------------
    def raw(self, timeout=10.0):
        self.conn_seq += 1
        c = W.Conn(self.port, timeout=timeout)
        c.id = self.conn_seq
        return c

    def authed_conn(self):
        if self.authed and self.r.random() < 0.85:
            return self.authed.pop()
        c = self.raw()
        if self.r.random() < 0.8:
            c.cmd(Doc([("hello", 1), ("compression", self.r.choice([["zlib"], ["snappy", "zstd", "zlib"], []])),
                       ("client", {"application": {"name": "crash_hunt"}})]))
        if not W.scram_sha256(c, USER, PASSWORD):
            c.close()
            raise RuntimeError("SCRAM authentication of %s failed" % USER)
        return c

    def give_back(self, c):
        if len(self.authed) < 4:
            self.authed.append(c)
        else:
            c.close()

    def send_cmd(self, c, body, what, sequences=(), flags=0):
        """Sends one OP_MSG and reads its reply; returns the reply or None if closed."""
        c.rid += 1
        frame = W.op_msg(body, c.rid, flags=flags, sequences=sequences)
        self.frames.add(c.id, what, frame)
        self.commands += 1
        fam = what.split(":")[0]
        st = self.per_kind.setdefault(fam, [0, 0, 0, 0])  # sent, ok:1, ok:0, closed
        st[0] += 1
        try:
            c.send(frame)
            if flags & 2:
                return None
            r = W.parse_reply(c.recv_frame())
            self.replies += 1
            st[1 if W.num(W.get(r, "ok")) == 1 else 2] += 1
            if W.num(W.get(r, "ok")) != 1 and len(self.error_samples) < 300:
                msg = str(W.get(r, "errmsg"))[:200]
                key = "%s %s" % (what, msg)
                self.error_samples[key] = self.error_samples.get(key, 0) + 1
            return r
        except (W.Closed, socket.timeout, OSError, ValueError, struct.error, zlib.error):
            self.closed_by_server += 1
            st[3] += 1
            return "closed"

    # -- command generation --------------------------------------------------------------
    def command_doc(self):
        g, r = self.g, self.r
        c = r.random()
        if c < 0.7:
            d = g.command()
        else:
            name = r.choice(GW_COMMANDS)
            if name in ("logout", "saslStart") and r.random() < 0.8:
                name = "ping"
            d = Doc([(name, r.choice([1, 1, "c1", {}, True, B.I64(1), g.scalar()]))])
            if name in ("getMore", "killCursors"):
                d = g.command(name)
            elif name == "killOp":
                d.items.append(("op", r.choice([1, -1, "x", 2**40, "conn:1"])))
            elif name in ("endSessions", "killSessions", "refreshSessions"):
                d.items = [(name, [{"id": B.Bin(os.urandom(16), 4)}, r.choice([{}, {"id": 1}, 1])])]
            elif name == "getParameter":
                d.items = [("getParameter", r.choice(["*", 1, {"showDetails": True}])), (r.choice(["featureCompatibilityVersion", "x"]), 1)]
            elif name == "explain":
                d = g.command("explain")
        if r.random() < 0.25:
            d = g.mutate(d)
        db = r.choice([G.DATA_DB] * 6 + ["admin", "admin", "config", "test"] + (G.DB_NAMES if r.random() < 0.2 else []))
        if not any(k == "$db" for k, _ in d.items):
            if r.random() < 0.97:
                d.items.append(("$db", db if r.random() < 0.95 else g.scalar()))
        if r.random() < 0.1:
            d.items.append(("lsid", {"id": B.Bin(os.urandom(16), 4)} if r.random() < 0.8 else g.value(1)))
        if r.random() < 0.05:
            d.items += [("txnNumber", B.I64(r.choice([1, 0, -1, 2**63 - 1]))), ("startTransaction", True),
                        ("autocommit", False)]
        if r.random() < 0.03:
            d.items.append(("$readPreference", {"mode": r.choice(["primary", "secondary", "x", 1])}))
        return d

    def sequences_for(self, d):
        """OP_MSG kind-1 sections: the write command's documents moved out of the body."""
        r = self.r
        if not d.items:
            return d, ()
        name = d.items[0][0]
        ident = {"insert": "documents", "update": "updates", "delete": "deletes"}.get(name)
        if ident and r.random() < 0.5:
            docs = None
            for i, (k, v) in enumerate(d.items):
                if k == ident and isinstance(v, list):
                    docs = v
                    d.items.pop(i)
                    break
            if docs is not None:
                enc = [self.enc(x) if isinstance(x, (dict, Doc)) else B.encode({"x": x}) for x in docs]
                return d, [(ident if r.random() < 0.9 else r.choice(["documents", "x", "", "updates"]), enc)]
        if r.random() < 0.03:
            return d, [(r.choice(["documents", "filter", "$db", "x" * 100]), [B.encode(self.g.data_doc())])] * r.randint(1, 3)
        return d, ()

    def enc(self, v):
        try:
            return B.encode(v)
        except (RecursionError, TypeError, ValueError, struct.error):
            return B.encode({})

    # -- burst families ------------------------------------------------------------------
    def burst_authed(self, n):
        c = self.authed_conn()
        for _ in range(n):
            d, seqs = self.sequences_for(self.command_doc())
            body = self.enc(d)
            if self.r.random() < 0.03:
                body = self.g.corrupt_bytes(body)
            r = self.send_cmd(c, body, "authed:%s" % (d.items[0][0] if d.items else ""), seqs,
                              flags=self.r.choice([0] * 20 + [2, 1 << 16]))
            if r == "closed":
                c.close()
                return
            if isinstance(r, Doc) and "requires authentication" in str(W.get(r, "errmsg")):
                c.close()  # a logout / saslStart in the stream ended the authentication
                return
            # Follow cursors as a driver would.
            cur = W.get(r, "cursor") if isinstance(r, Doc) else None
            cid = W.num(W.get(cur, "id")) if isinstance(cur, Doc) else None
            if cid:
                ns = W.get(cur, "ns") or "hunt.c1"
                coll = ns.split(".", 1)[-1] if isinstance(ns, str) else "c1"
                self.g.cursor_ids.append(cid)
                for _ in range(self.r.randint(0, 3)):
                    gm = Doc([("getMore", B.I64(cid)), ("collection", coll), ("batchSize", self.r.choice([1, 2, 0, 50])),
                              ("$db", G.DATA_DB)])
                    if self.r.random() < 0.3:
                        gm = self.g.mutate(gm)
                    r2 = self.send_cmd(c, self.enc(gm), "getMore")
                    if r2 == "closed":
                        c.close()
                        return
                if self.r.random() < 0.5:
                    self.send_cmd(c, self.enc(Doc([("killCursors", coll), ("cursors", [B.I64(cid)]), ("$db", G.DATA_DB)])),
                                  "killCursors")
        self.give_back(c)

    def burst_unauthed(self, n):
        c = self.raw()
        for _ in range(n):
            r = self.r
            k = r.random()
            if k < 0.3:
                d = Doc([(r.choice(["hello", "isMaster", "ismaster"]), 1)])
                for key, val in (("compression", [r.choice(["zlib", "snappy", "zstd", "noop", "x", ""]) for _ in range(3)]),
                                 ("saslSupportedMechs", r.choice(["admin." + USER, USER, "", "x.y", "admin.", 1])),
                                 ("speculativeAuthenticate", {"saslStart": 1, "mechanism": r.choice(["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN", "MONGODB-X509", ""]),
                                                              "payload": B.Bin(os.urandom(r.randrange(40))), "db": "admin"}),
                                 ("client", self.g.value(2)), ("loadBalanced", r.choice([True, False, 1])),
                                 ("helloOk", True), ("topologyVersion", self.g.value(1)), ("maxAwaitTimeMS", r.choice([0, 1, -1, 2**31 - 1]))):
                    if r.random() < 0.4:
                        d.items.append((key, val))
                d.items.append(("$db", "admin"))
                if r.random() < 0.3:
                    d = self.g.mutate(d)
            elif k < 0.6:
                d = self.sasl_garbage()
            else:
                d = self.command_doc()
            r_ = self.send_cmd(c, self.enc(d), "unauthed:%s" % (d.items[0][0] if d.items else ""))
            if r_ == "closed":
                c.close()
                return
        c.close()

    def sasl_garbage(self):
        r = self.r
        if r.random() < 0.5:
            payload = r.choice([b"", b"n,,", b"n,,n=,r=", b"n,,n=" + USER.encode() + b",r=abc", b"y,,n=a,r=b", b"p=x,,n=a,r=b",
                                b"n,a=x,n=a,r=b", b"n,,n=a=ZZ,r=b", b"n,,n=\xff\xfe,r=b", b"n,,m=ext,n=a,r=b", b"n,,n=a,r=",
                                b"n,,n=" + b"a" * 100000 + b",r=b", os.urandom(r.randrange(1, 200)), b"c=biws,r=x,p=AAAA",
                                b"n,,n=%s,r=%s" % (USER.encode(), b"x" * 10000)])
            return Doc([("saslStart", 1), ("mechanism", r.choice(["SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN", "", "x" * 1000, 1])),
                        ("payload", B.Bin(payload) if r.random() < 0.8 else r.choice([payload.decode("latin-1"), 1, None, {}])),
                        ("$db", r.choice(["admin", "hunt", "$external", ""]))])
        payload = r.choice([b"", b"c=biws,r=x,p=AAAA", b"c=biws,r=,p=", b"c=x,r=y", b"p=" + b"A" * 100, os.urandom(50),
                            b"c=biws,r=" + b"x" * 5000 + b",p=!!!!", b"c=biws,p=AAAA,r=x", b"c=====,r=x,p=x"])
        return Doc([("saslContinue", 1), ("conversationId", r.choice([1, 0, -1, 2, "x", 2**40, None])),
                    ("payload", B.Bin(payload)), ("$db", "admin")])

    def burst_scram(self):
        """Full SCRAM exchanges with damaged messages, then commands on the connection."""
        r = self.r

        def mutate(stage, payload):
            if r.random() < 0.5:
                return payload
            b = bytearray(payload)
            c = r.randrange(5)
            if c == 0 and b:
                b[r.randrange(len(b))] = r.randrange(256)
            elif c == 1:
                b = b[: r.randrange(len(b) + 1)]
            elif c == 2:
                b += b",x=" + os.urandom(r.randrange(20))
            elif c == 3:
                b = bytearray(bytes(b).replace(b"r=", b"r=zz", 1))
            else:
                b = bytearray(bytes(b).replace(b"p=", b"p=" + b"A" * r.randrange(1, 200), 1))
            return bytes(b)

        c = self.raw()
        self.commands += 3
        try:
            ok = W.scram_sha256(c, r.choice([USER, USER, "nobody", "", "huntgw_admin\x01"]), r.choice([PASSWORD, "wrong", ""]), mutate)
            if ok:
                self.send_cmd(c, self.enc(self.command_doc()), "after-scram")
        except (W.Closed, socket.timeout, OSError, ValueError, KeyError, struct.error, zlib.error):
            self.closed_by_server += 1
        c.close()

    def malformed_frame(self):
        r = self.r
        good = self.enc(self.command_doc())
        ping = B.encode(Doc([("ping", 1), ("$db", "admin")]))
        k = r.randrange(22)
        rid = r.randrange(1 << 31)
        if k == 0:    # declared length smaller than the header
            f = W.header(r.choice([0, 1, 15, -1, -2**31]), rid, 0, W.OP_MSG) + b"\x00" * 8
        elif k == 1:  # declared length too large (above the maximum)
            f = W.header(r.choice([48_000_001, 2**31 - 1, 100_000_000]), rid, 0, W.OP_MSG) + b"\x00" * 20
        elif k == 2:  # declared length larger than what is sent (the server waits; we close)
            body = W.op_msg(good, rid)
            f = struct.pack("<i", len(body) + r.randint(1, 1000)) + body[4:]
        elif k == 3:  # declared length shorter than the body: the rest is a second (garbage) frame
            body = W.op_msg(good, rid)
            cut = r.randint(16, max(16, len(body) - 1))
            f = struct.pack("<i", cut) + body[4:]
        elif k == 4:  # unknown opcode
            f = W.header(16 + 20, rid, 0, r.choice([0, 1, 2001, 2002, 2005, 2006, 2010, 2011, 2014, -1, 1 << 30])) + os.urandom(20)
        elif k == 5:  # unknown required flag bits / checksum flag without checksum
            f = W.op_msg(ping, rid, flags=r.choice([1 << 2, 1 << 15, 0xFFFF, 1, 0xFFFFFFFF, 1 << 17]))
        elif k == 6:  # bad checksum
            f = W.op_msg(ping, rid, bad_checksum=True)
        elif k == 7:  # good checksum
            f = W.op_msg(ping if r.random() < 0.5 else good[:65536], rid, checksum=True)
        elif k == 8:  # two bodies
            f = W.op_msg(ping, rid, extra_sections=b"\x00" + ping)
        elif k == 9:  # unknown section kind
            f = W.op_msg(ping, rid, extra_sections=bytes([r.choice([2, 3, 0xFF])]) + os.urandom(10))
        elif k == 10:  # document sequence with a bad size
            seq = b"\x01" + struct.pack("<i", r.choice([0, 3, 4, 5, 1000, -1, 2**31 - 1])) + b"documents\x00" + ping
            f = W.op_msg(ping, rid, extra_sections=seq)
        elif k == 11:  # sequence identifier not terminated / invalid UTF-8
            seq = b"\x01" + struct.pack("<i", 4 + 5) + b"\xff\xfe\x80ab"
            f = W.op_msg(ping, rid, extra_sections=seq)
        elif k == 12:  # body document length lies
            b = bytearray(good)
            struct.pack_into("<i", b, 0, r.choice([0, 4, 5, len(b) + 10, 2**31 - 1, -5]))
            f = W.op_msg(bytes(b), rid)
        elif k == 13:  # only sequences, no body
            msg = struct.pack("<I", 0) + b"\x01" + struct.pack("<i", 4 + 10 + len(ping)) + b"documents\x00" + ping
            f = W.header(16 + len(msg), rid, 0, W.OP_MSG) + msg
        elif k == 14:  # empty OP_MSG
            f = W.header(20, rid, 0, W.OP_MSG) + b"\x00\x00\x00\x00"
        elif k == 15:  # random bytes with a plausible header
            junk = os.urandom(r.randrange(0, 300))
            f = W.header(16 + len(junk), rid, r.randrange(1 << 31), r.choice([W.OP_MSG, W.OP_QUERY, W.OP_COMPRESSED])) + junk
        elif k == 16:  # OP_QUERY variants
            q = r.choice([B.encode({"isMaster": 1}), B.encode({"hello": 1, "helloOk": True}),
                          B.encode({"$query": {"ping": 1}, "$readPreference": {"mode": "primary"}}),
                          B.encode({"query": {"isMaster": 1}}), good, B.encode({}), self.g.corrupt_bytes(good)])
            coll = r.choice([b"admin.$cmd", b"hunt.$cmd", b"hunt.c1", b"$cmd", b"", b".$cmd", b"\xff.$cmd", b"a" * 10000 + b".$cmd"])
            f = W.op_query(q, coll, rid, skip=r.choice([0, -1]), ret=r.choice([-1, 0, 1, 2**31 - 1]),
                           selector=r.choice([b"", b"", B.encode({"a": 1}), b"\x05\x00"]))
            if r.random() < 0.2:
                f = f[: r.randrange(16, len(f))]
                f = struct.pack("<i", len(f)) + f[4:]
        elif k == 17:  # OP_QUERY without the NUL-terminated name
            body = struct.pack("<i", 0) + b"admin.$cmd"
            f = W.header(16 + len(body), rid, 0, W.OP_QUERY) + body
        elif k in (18, 19, 20):
            f = self.compressed_frame(good if r.random() < 0.5 else ping, rid)
        else:  # TLS-looking garbage
            f = bytes([0x16, 0x03, r.choice([0, 1, 3, 4, 9])]) + struct.pack(">H", r.randrange(1 << 16)) + bytes([0x01]) + os.urandom(r.randrange(0, 400))
        c = self.raw(timeout=2.0)
        self.frames.add(c.id, "malformed:%d" % k, f)
        self.commands += 1
        st = self.per_kind.setdefault("malformed", [0, 0, 0, 0])
        st[0] += 1
        try:
            # Sometimes dribble the frame in pieces.
            if r.random() < 0.2 and len(f) > 4:
                cut = r.randrange(1, len(f))
                c.send(f[:cut])
                time.sleep(0.01)
                c.send(f[cut:])
            else:
                c.send(f)
            if k == 2 or (k == 21):
                time.sleep(0.05)
            else:
                rep = W.parse_reply(c.recv_frame())
                self.replies += 1
                st[1 if W.num(W.get(rep, "ok")) == 1 else 2] += 1
        except (W.Closed, socket.timeout, OSError, ValueError, struct.error, zlib.error, IndexError):
            self.closed_by_server += 1
            st[3] += 1
        c.close()

    def compressed_frame(self, body, rid):
        r = self.r
        inner = W.op_msg(body, rid) if r.random() < 0.85 else W.op_query(B.encode({"isMaster": 1}), b"admin.$cmd", rid)
        raw = inner[16:]
        k = r.randrange(16)
        if k < 4:   # valid, each compressor
            return W.op_compressed(inner, k)
        if k == 4:  # unknown compressor id
            return W.op_compressed(inner, r.choice([4, 5, 0x80, 0xFF]))
        if k == 5:  # zlib garbage
            return W.op_compressed(inner, 2, payload=os.urandom(r.randrange(0, 100)))
        if k == 6:  # declared size smaller / larger than the real one
            return W.op_compressed(inner, r.choice([0, 1, 2, 3]), declared=len(raw) + r.choice([-1, 1, -len(raw), 1000, 10**6]))
        if k == 7:  # zlib bomb: ~40 MB of zeros in ~40 KB, declared small or at the limit
            bomb = zlib.compress(b"\x00" * (40 * 1024 * 1024), 9)
            return W.op_compressed(inner, 2, payload=bomb, declared=r.choice([len(raw), 47_999_000, 100]))
        if k == 8:  # snappy with a bad copy
            return W.op_compressed(inner, 1, payload=W.snappy_bad_copy(len(raw)), declared=len(raw))
        if k == 9:  # snappy declaring a huge length
            return W.op_compressed(inner, 1, payload=W.snappy_literal(raw, declared=r.choice([2**32 - 1, 47_999_000, 0])))
        if k == 10:  # zstd RLE bomb
            return W.op_compressed(inner, 3, payload=W.zstd_raw(b"", declared=len(raw), rle_byte=0, rle_len=r.choice([len(raw), 100000, 2**21 - 1])))
        if k == 11:  # zstd garbage / truncated
            z = W.zstd_raw(raw)
            return W.op_compressed(inner, 3, payload=z[: r.randrange(len(z))] if r.random() < 0.5 else os.urandom(50))
        if k == 12:  # nested OP_COMPRESSED
            once = W.op_compressed(inner, 0)
            return W.op_compressed(once, 0, original_op=W.OP_COMPRESSED)
        if k == 13:  # negative size
            return W.op_compressed(inner, 2, declared=r.choice([-1, -2**31]))
        if k == 14:  # compressed body truncated (header only)
            f = W.op_compressed(inner, 2)
            return struct.pack("<i", 16 + r.randrange(0, 9)) + f[4:16 + r.randrange(0, 9)]
        # original opcode is something else
        return W.op_compressed(inner, 0, original_op=r.choice([W.OP_REPLY, 0, 2001, -1, W.OP_QUERY]))

    def burst_compressed_session(self, n):
        """Negotiate compression, authenticate, then send compressed commands."""
        c = self.authed_conn()
        for _ in range(n):
            d, _ = self.sequences_for(self.command_doc())
            c.rid += 1
            inner = W.op_msg(self.enc(d), c.rid)
            f = W.op_compressed(inner, self.r.choice([0, 1, 2, 3])) if self.r.random() < 0.8 else self.compressed_frame(self.enc(d), c.rid)
            self.frames.add(c.id, "compressed-session", f)
            self.commands += 1
            try:
                c.send(f)
                W.parse_reply(c.recv_frame())
                self.replies += 1
            except (W.Closed, socket.timeout, OSError, ValueError, struct.error, zlib.error):
                self.closed_by_server += 1
                c.close()
                return
        self.give_back(c)

    def burst_deep(self):
        """Documents nested far deeper than 100 levels created by an upsert with a long
        dotted $set path, then read back through the gateway (find, aggregate, getMore)."""
        r = self.r
        n = r.choice([101, 150, 1000, 3000, 5000])
        c = self.authed_conn()
        _id = "deep%d" % n
        path = ".".join([r.choice(["a", "0", "b"])] * n) if r.random() < 0.3 else ".".join(["a"] * n)
        up = Doc([("update", "deep"), ("updates", [Doc([("q", {"_id": _id}), ("u", {"$set": {path: 1}}), ("upsert", True)])]),
                  ("$db", G.DATA_DB)])
        for body, what in ((self.enc(up), "deep:upsert"),
                           (self.enc(Doc([("find", "deep"), ("filter", {"_id": _id}), ("$db", G.DATA_DB)])), "deep:find"),
                           (self.enc(Doc([("find", "deep"), ("batchSize", 1), ("$db", G.DATA_DB)])), "deep:find-all"),
                           (self.enc(Doc([("aggregate", "deep"), ("pipeline", [r.choice([{"$match": {}}, {"$project": {"a": 1}},
                                                                                      {"$sort": {"a": 1}}, {"$addFields": {"z": "$a"}}])]),
                                          ("cursor", {}), ("$db", G.DATA_DB)])), "deep:aggregate"),
                           (self.enc(Doc([("findAndModify", "deep"), ("query", {"_id": _id}), ("update", {"$set": {"t": 1}}),
                                          ("new", True), ("$db", G.DATA_DB)])), "deep:findAndModify")):
            rep = self.send_cmd(c, body, what)
            if rep == "closed":
                c.close()
                return
        if r.random() < 0.5:
            self.send_cmd(c, self.enc(Doc([("delete", "deep"), ("deletes", [{"q": {}, "limit": 0}]), ("$db", G.DATA_DB)])),
                          "deep:delete")
        self.give_back(c)

    def burst_partial(self):
        """Connections that send part of a frame and vanish, or open and idle."""
        r = self.r
        socks = []
        for _ in range(r.randint(1, 10)):
            try:
                c = self.raw(timeout=2)
            except OSError:
                break
            f = W.op_msg(self.enc(self.command_doc()), 1)
            k = r.randrange(4)
            self.frames.add(c.id, "partial:%d" % k, f)
            try:
                if k == 0:
                    c.send(f[: r.randrange(1, 16)])
                elif k == 1:
                    c.send(f[: r.randrange(16, len(f))])
                elif k == 2:  # claims 48 MB, sends a little
                    c.send(struct.pack("<i", 48_000_000) + f[4:])
                c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)) if r.random() < 0.5 else None
            except OSError:
                pass
            socks.append(c)
        self.commands += len(socks)
        for c in socks:
            c.close()

    def burst_pymongo(self, n):
        """Driver-level traffic: typed commands, cursors, sessions, transactions, bulk writes."""
        import pymongo
        from bson import SON
        from bson.raw_bson import RawBSONDocument
        from pymongo.errors import PyMongoError
        if self.client is None:
            extra = {"compressors": "zlib"} if self.r.random() < 0.5 else {}
            self.client = pymongo.MongoClient("mongodb://%s:%s@127.0.0.1:%d/?directConnection=true" % (USER, PASSWORD, self.port),
                                              serverSelectionTimeoutMS=5000, socketTimeoutMS=15000, retryWrites=False,
                                              retryReads=False, **extra)
        db = self.client[G.DATA_DB]
        r, g = self.r, self.g
        st = self.per_kind.setdefault("pymongo", [0, 0, 0, 0])
        for _ in range(n):
            k = r.randrange(10)
            self.commands += 1
            st[0] += 1
            try:
                if k < 4:
                    d = self.command_doc()
                    d.items = [(kk, v) for kk, v in d.items if kk not in ("$db", "lsid", "txnNumber", "startTransaction", "autocommit", "$readPreference")]
                    raw = self.enc(d)
                    try:
                        B.decode(raw)
                    except Exception:
                        continue
                    # RawBSONDocument keeps the bytes as generated (odd types, invalid UTF-8).
                    db.command(RawBSONDocument(raw)) if r.random() < 0.5 else db.command(SON(self.to_py(d)))
                elif k < 6:
                    coll = db[r.choice(G.DATA_COLLS)]
                    cur = coll.find(RawBSONDocument(self.enc(g.filter(2))), batch_size=r.choice([1, 2, 5]), limit=r.choice([0, 10]))
                    for i, _doc in enumerate(cur):
                        if i > 20:
                            break
                    cur.close()
                elif k == 6:
                    coll = db[r.choice(G.DATA_COLLS)]
                    with self.client.start_session() as s:
                        try:
                            s.start_transaction()
                            coll.insert_one(RawBSONDocument(self.enc(g.data_doc(wild=0.3))), session=s)
                            coll.update_many(RawBSONDocument(self.enc(g.filter(1))), RawBSONDocument(self.enc(g.update_doc())) if r.random() < 0.7 else [{"$set": {"z": 1}}], session=s)
                            s.commit_transaction() if r.random() < 0.5 else s.abort_transaction()
                        except PyMongoError:
                            pass
                elif k == 7:
                    coll = db[r.choice(G.DATA_COLLS)]
                    ops = [pymongo.InsertOne(RawBSONDocument(self.enc(g.data_doc(wild=0.3)))),
                           pymongo.UpdateOne(RawBSONDocument(self.enc(g.filter(1))), RawBSONDocument(self.enc(g.update_doc())) if r.random() < 0.5 else {"$inc": {"a": 1}}),
                           pymongo.DeleteOne(RawBSONDocument(self.enc(g.filter(1)))),
                           pymongo.ReplaceOne({"_id": r.randint(0, 300)}, RawBSONDocument(self.enc(g.data_doc())), upsert=True)]
                    coll.bulk_write(ops, ordered=r.random() < 0.5)
                elif k == 8:
                    coll = db[r.choice(G.DATA_COLLS)]
                    cur = coll.aggregate([self.to_py(s) for s in g.pipeline()], batchSize=r.choice([1, 3]))
                    for i, _doc in enumerate(cur):
                        if i > 20:
                            break
                    cur.close()
                else:
                    coll = db[r.choice(G.DATA_COLLS)]
                    coll.find_one_and_update(RawBSONDocument(self.enc(g.filter(1))), {"$set": {"t": r.randint(0, 9)}},
                                             sort=[("a", r.choice([1, -1]))], upsert=r.random() < 0.3)
                self.replies += 1
                st[1] += 1
            except PyMongoError as e:
                st[2] += 1
                if isinstance(e, pymongo.errors.AutoReconnect):
                    st[3] += 1
            except (ValueError, TypeError, OverflowError, KeyError, UnicodeError, AttributeError, IndexError):
                pass
            except Exception:
                pass

    def to_py(self, v):
        """bsonraw values -> pymongo values (lossy for what pymongo cannot send)."""
        import bson
        from bson import SON
        t = type(v)
        if t is Doc:
            return SON((k if isinstance(k, str) else k.decode("utf-8", "replace"), self.to_py(x)) for k, x in v.items)
        if t is dict:
            return SON((k if isinstance(k, str) else str(k), self.to_py(x)) for k, x in v.items())
        if t is list or t is tuple:
            return [self.to_py(x) for x in v]
        if t in (B.I32,):
            return v.v
        if t is B.I64:
            return bson.Int64(v.v)
        if t is B.Str:
            return v.v.decode("utf-8", "replace")
        if t is B.Dec:
            return bson.Decimal128.from_bid(bytes(v.v))
        if t is B.Date:
            return bson.DatetimeMS(v.v)
        if t is B.Regex:
            return bson.Regex(v.pattern if isinstance(v.pattern, str) else v.pattern.decode("utf-8", "replace"),
                              v.options if isinstance(v.options, str) else "")
        if t is B.Ts:
            return bson.Timestamp(v.t, v.i)
        if t is B.Bin:
            return bson.Binary(bytes(v.data), v.subtype if v.subtype not in (2,) else 0)
        if t is B.Oid:
            return bson.ObjectId(bytes(v.v)[:12].ljust(12, b"\0"))
        if t is B.Code:
            return bson.Code(v.v)
        if t is B.CodeWS:
            return bson.Code(v.code, self.to_py(v.scope))
        if v is B.MinKey:
            return bson.MinKey()
        if v is B.MaxKey:
            return bson.MaxKey()
        if v is B.Undefined or t is B.Elem:
            return None
        if t in (B.Sym, B.DbPtr):
            return "x"
        if t is str and "\ud800" <= max(v, default="a") and any(0xD800 <= ord(ch) <= 0xDFFF for ch in v):
            return v.encode("utf-8", "replace").decode("utf-8", "replace")
        return v

    # -- main ------------------------------------------------------------------------------
    def run(self, seconds):
        self.start_gateway()
        deadline = time.time() + seconds
        bursts = 0
        while time.time() < deadline:
            r = self.r
            k = r.random()
            what = ""
            try:
                if k < 0.40:
                    what = "authenticated commands"
                    self.burst_authed(r.randint(5, 30))
                elif k < 0.52:
                    what = "unauthenticated commands"
                    self.burst_unauthed(r.randint(3, 15))
                elif k < 0.70:
                    what = "malformed frames"
                    for _ in range(r.randint(5, 20)):
                        self.malformed_frame()
                elif k < 0.76:
                    what = "compressed session"
                    self.burst_compressed_session(r.randint(3, 15))
                elif k < 0.80:
                    what = "SCRAM"
                    for _ in range(r.randint(1, 5)):
                        self.burst_scram()
                elif k < 0.83:
                    what = "partial frames"
                    self.burst_partial()
                elif k < 0.85:
                    what = "deep documents"
                    self.burst_deep()
                else:
                    what = "pymongo"
                    self.burst_pymongo(r.randint(5, 20))
            except RuntimeError:
                raise
            except (W.Closed, socket.timeout, OSError, ValueError, struct.error, zlib.error):
                pass
            except Exception:
                self.findings.append({"kind": "harness error", "burst": what, "trace": traceback.format_exc()[-2000:]})
            bursts += 1
            if bursts % 3 == 0:
                self.check(what)
            if bursts % 60 == 0:
                self.reseed()
        self.check("final")
        for c in self.authed:
            c.close()
        if self.client is not None:
            self.client.close()
        self.frames.dump(os.path.join(self.a.out, "gw-last.frames"), "the last frames of the gateway phase (seed %d)" % self.a.seed)

    def reseed(self):
        try:
            import psycopg
            from sql_hunt import register_bson, seed_data, type_oids
            conn = psycopg.connect(self.a.dsn, autocommit=True, connect_timeout=5)
            register_bson(conn, type_oids(conn))
            conn.execute("SET statement_timeout = '30s'")
            seed_data(conn, G.Gen(random.Random(self.a.seed + 3)), 60)
            conn.close()
        except Exception:
            pass


def create_user(dsn):
    import psycopg
    from common import BsonParam
    from sql_hunt import register_bson, type_oids
    conn = psycopg.connect(dsn, autocommit=True)
    register_bson(conn, type_oids(conn))
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [USER]).fetchone()
    if not exists:
        conn.execute("SELECT documentdb_api.create_user(%s::documentdb_core.bson)",
                     [BsonParam(B.encode(Doc([("createUser", USER), ("pwd", PASSWORD), ("roles", ["root"]), ("$db", "admin")])))])
    conn.close()


def replay(path, port):
    conns = {}
    with open(path) as f:
        for line in f:
            if not line.startswith("frame "):
                continue
            _, cid, what, hexdata = line.split(" ", 3)
            data = bytes.fromhex(hexdata.strip())
            c = conns.get(cid)
            if c is None:
                c = conns[cid] = W.Conn(port, timeout=5)
            print("conn %s: %s (%d bytes)" % (cid, what, len(data)))
            try:
                c.send(data)
                print("  ->", str(W.parse_reply(c.recv_frame()))[:300])
            except Exception as e:
                print("  -> %s: %s" % (type(e).__name__, e))
                conns.pop(cid, None)
    try:
        c = W.Conn(port, timeout=5)
        print("ping after replay:", c.cmd({"ping": 1}))
    except Exception as e:
        print("gateway does not answer ping after replay: %s" % e)
        return 1
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--gateway")
    ap.add_argument("--pg-socket-dir")
    ap.add_argument("--pg-port", type=int)
    ap.add_argument("--dsn")
    ap.add_argument("--log")
    ap.add_argument("--out")
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--port", type=int, default=0, help="gateway port (default: a free one)")
    ap.add_argument("--replay", help="re-send the frames of a .frames file to the gateway on --port")
    ap.add_argument("--hosted", action="store_true", help="use the gateway already listening on --port (background worker)")
    ap.add_argument("--no-bombs", action="store_true", help="leave out expressions built to exhaust memory")
    a = ap.parse_args()
    if a.replay:
        return replay(a.replay, a.port)
    if a.seed is None:
        a.seed = random.SystemRandom().randrange(1, 2**31)
    os.makedirs(a.out, exist_ok=True)
    G.BOMBS = not a.no_bombs
    print("crash_hunt gateway: seed %d, %.0f s" % (a.seed, a.seconds), flush=True)
    create_user(a.dsn)
    h = Hunter(a)
    started = time.time()
    try:
        h.run(a.seconds)
    except RuntimeError as e:
        h.findings.append({"kind": "fatal: %s" % e})
    finally:
        h.stop_gateway()
    took = time.time() - started
    rest = h.new_stderr()
    for ln in rest.splitlines():
        if "panicked" in ln or "internal error (panic)" in ln:
            h.findings.append({"kind": "gateway panic: " + ln[:1000]})
    real = [f for f in h.findings if f.get("kind") != "harness error"]
    summary = {"seed": a.seed, "seconds": took, "commands": h.commands, "replies": h.replies,
               "closed_by_server": h.closed_by_server, "findings": real,
               "harness_errors": [f for f in h.findings if f.get("kind") == "harness error"],
               "per_kind (sent, ok, error, closed)": h.per_kind, "error_samples": h.error_samples}
    with open(os.path.join(a.out, "gw_summary.json"), "w") as f:
        json.dump(summary, f, indent=1, default=str)
    print("crash_hunt gateway: %d commands in %.0f s (%.0f/s), %d replies, %d connections closed by the gateway, %d findings"
          % (h.commands, took, h.commands / max(took, 1e-9), h.replies, h.closed_by_server, len(real)), flush=True)
    for fnd in h.findings:
        print("  %s%s" % (fnd.get("kind"), ("  [frames: %s]" % fnd["frames"]) if fnd.get("frames") else ""))
        if fnd.get("trace"):
            print("    (a bug of the hunter, not a finding)\n    " + fnd["trace"].replace("\n", "\n    ")[-1500:])
    return 1 if real else 0


if __name__ == "__main__":
    sys.exit(main())
