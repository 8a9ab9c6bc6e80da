"""MongoDB wire protocol pieces for the gateway crash hunt: frames (OP_MSG, OP_QUERY,
OP_COMPRESSED), compressors written by hand (zlib from the stdlib, literal-only snappy,
raw/RLE-block zstd) so that valid and broken payloads can both be produced, CRC-32C for
OP_MSG checksums, a raw socket client, and a SCRAM-SHA-256 client."""
import base64
import hashlib
import hmac
import os
import socket
import struct
import zlib

import bsonraw as B
from bsonraw import Doc

OP_REPLY, OP_QUERY, OP_COMPRESSED, OP_MSG = 1, 2004, 2012, 2013

# ---- CRC-32C (Castagnoli) -----------------------------------------------------------------
_CRC_TABLE = []
for _n in range(256):
    _c = _n
    for _ in range(8):
        _c = (_c >> 1) ^ 0x82F63B78 if _c & 1 else _c >> 1
    _CRC_TABLE.append(_c)


def crc32c(data):
    crc = 0xFFFFFFFF
    t = _CRC_TABLE
    for b in data:
        crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


# ---- compressors --------------------------------------------------------------------------

def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def snappy_literal(data, declared=None):
    """A valid snappy raw stream made of literal chunks (declared length overridable)."""
    out = bytearray(_varint(len(data) if declared is None else declared))
    i = 0
    while i < len(data):
        chunk = data[i:i + 65536]
        n = len(chunk) - 1
        if n < 60:
            out.append(n << 2)
        elif n < 256:
            out += bytes([60 << 2, n])
        else:
            out += bytes([61 << 2]) + struct.pack("<H", n)
        out += chunk
        i += len(chunk)
    return bytes(out)


def snappy_bad_copy(declared=100):
    """A snappy stream whose copy refers before the start of the output."""
    return _varint(declared) + bytes([0x00, 0x41]) + bytes([(3 << 2) | 1 | (1 << 5), 0xFF])


def zstd_raw(data, declared=None, rle_byte=None, rle_len=0):
    """A zstd frame of raw blocks (or one RLE block), single-segment, 4-byte content size."""
    size = len(data) if declared is None else declared
    out = bytearray(struct.pack("<I", 0xFD2FB528))
    out.append(0xA0)  # FCS 4 bytes, single segment
    out += struct.pack("<I", size & 0xFFFFFFFF)
    if rle_byte is not None:
        out += struct.pack("<I", (rle_len << 3) | (1 << 1) | 1)[:3]
        out.append(rle_byte)
        return bytes(out)
    blocks = [data[i:i + 65536] for i in range(0, len(data), 65536)] or [b""]
    for k, blk in enumerate(blocks):
        last = 1 if k == len(blocks) - 1 else 0
        out += struct.pack("<I", (len(blk) << 3) | last)[:3]
        out += blk
    return bytes(out)


# ---- frames -------------------------------------------------------------------------------

def header(length, request_id, response_to, op):
    return struct.pack("<iiii", length, request_id, response_to, op)


def op_msg(body, request_id=1, flags=0, sequences=(), checksum=False, bad_checksum=False, extra_sections=b""):
    sections = b"\x00" + body + extra_sections
    for ident, docs in sequences:
        payload = (ident if isinstance(ident, bytes) else ident.encode()) + b"\x00" + b"".join(docs)
        sections += b"\x01" + struct.pack("<i", len(payload) + 4) + payload
    if checksum or bad_checksum:
        flags |= 1
    msg = struct.pack("<I", flags) + sections
    total = 16 + len(msg) + (4 if flags & 1 else 0)
    frame = header(total, request_id, 0, OP_MSG) + msg
    if flags & 1:
        crc = crc32c(frame)
        if bad_checksum:
            crc ^= 0x1
        frame += struct.pack("<I", crc)
    return frame


def op_query(query, coll=b"admin.$cmd", request_id=1, flags=0, skip=0, ret=-1, selector=b""):
    body = struct.pack("<i", flags) + coll + b"\x00" + struct.pack("<ii", skip, ret) + query + selector
    return header(16 + len(body), request_id, 0, OP_QUERY) + body


def op_compressed(inner_frame, compressor_id, payload=None, declared=None, original_op=None):
    """Wraps a frame: payload defaults to the properly compressed inner message body."""
    body = inner_frame[16:]
    op = struct.unpack_from("<i", inner_frame, 12)[0] if original_op is None else original_op
    if payload is None:
        if compressor_id == 0:
            payload = body
        elif compressor_id == 1:
            payload = snappy_literal(body)
        elif compressor_id == 2:
            payload = zlib.compress(body)
        else:
            payload = zstd_raw(body)
    size = len(body) if declared is None else declared
    msg = struct.pack("<iiB", op, size, compressor_id & 0xFF) + payload
    rid = struct.unpack_from("<i", inner_frame, 4)[0]
    return header(16 + len(msg), rid, 0, OP_COMPRESSED) + msg


def parse_reply(frame):
    """The reply document (decoded) of an OP_MSG / OP_REPLY / OP_COMPRESSED reply frame."""
    op = struct.unpack_from("<i", frame, 12)[0]
    if op == OP_COMPRESSED:
        orig, size, cid = struct.unpack_from("<iiB", frame, 16)
        payload = frame[25:]
        if cid == 2:
            body = zlib.decompress(payload)
        elif cid == 0:
            body = payload
        else:
            return None  # snappy/zstd replies: we never negotiate them for decoding
        frame = header(16 + len(body), 0, 0, orig) + body
        op = orig
    if op == OP_MSG:
        if frame[20] != 0:
            return None
        return B.decode(frame[21:21 + struct.unpack_from("<i", frame, 21)[0]])
    if op == OP_REPLY:
        off = 16 + 20
        return B.decode(frame[off:off + struct.unpack_from("<i", frame, off)[0]])
    return None


def get(doc, key, default=None):
    if isinstance(doc, Doc):
        for k, v in doc.items:
            if k == key:
                return v
    return default


def num(v):
    if isinstance(v, (B.I32, B.I64)):
        return v.v
    return v


class Closed(Exception):
    pass


class Conn:
    """A raw client connection."""

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.rid = 0

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise Closed(str(e))

    def recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            try:
                chunk = self.sock.recv(min(n - len(buf), 1 << 20))
            except socket.timeout:
                raise
            except OSError as e:
                raise Closed(str(e))
            if not chunk:
                raise Closed("closed by the server")
            buf += chunk
        return bytes(buf)

    def recv_frame(self):
        h = self.recv_exact(16)
        n = struct.unpack_from("<i", h, 0)[0]
        if n < 16 or n > 64 * 1024 * 1024:
            raise Closed("bad reply length %d" % n)
        return h + self.recv_exact(n - 16)

    def command(self, doc_bytes, flags=0, sequences=()):
        self.rid += 1
        self.send(op_msg(doc_bytes, self.rid, flags=flags, sequences=sequences))
        if flags & 2:  # moreToCome: no reply
            return None
        return parse_reply(self.recv_frame())

    def cmd(self, d, db="admin"):
        d = Doc(list(d.items) if isinstance(d, Doc) else list(d.items()))
        if get(d, "$db") is None:
            d.items.append(("$db", db))
        return self.command(B.encode(d))


# ---- SCRAM-SHA-256 ------------------------------------------------------------------------

def scram_sha256(conn, user, password, mutate=None):
    """Authenticates `conn`. `mutate(stage, payload) -> payload` may damage the messages.
    Returns True when the server accepted the credentials."""
    nonce = base64.b64encode(os.urandom(24)).decode()
    first_bare = "n=%s,r=%s" % (user.replace("=", "=3D").replace(",", "=2C"), nonce)
    payload = ("n,," + first_bare).encode()
    if mutate:
        payload = mutate("first", payload)
    r = conn.cmd(Doc([("saslStart", 1), ("mechanism", "SCRAM-SHA-256"), ("payload", B.Bin(payload)),
                      ("autoAuthorize", 1), ("options", {"skipEmptyExchange": True})]))
    if num(get(r, "ok")) != 1:
        return False
    server_first = get(r, "payload")
    server_first = server_first.data if isinstance(server_first, B.Bin) else b""
    fields = dict(kv.split("=", 1) for kv in server_first.decode(errors="replace").split(",") if "=" in kv)
    try:
        salt = base64.b64decode(fields["s"])
        iterations = int(fields["i"])
        rnonce = fields["r"]
    except (KeyError, ValueError):
        return False
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored = hashlib.sha256(client_key).digest()
    without_proof = "c=biws,r=%s" % rnonce
    auth_msg = "%s,%s,%s" % (first_bare, server_first.decode(errors="replace"), without_proof)
    sig = hmac.new(stored, auth_msg.encode(), hashlib.sha256).digest()
    proof = bytes(a ^ b for a, b in zip(client_key, sig))
    final = ("%s,p=%s" % (without_proof, base64.b64encode(proof).decode())).encode()
    if mutate:
        final = mutate("final", final)
    conv = get(r, "conversationId", 1)
    r2 = conn.cmd(Doc([("saslContinue", 1), ("conversationId", conv), ("payload", B.Bin(final))]))
    if num(get(r2, "ok")) != 1:
        return False
    if not get(r2, "done"):
        r3 = conn.cmd(Doc([("saslContinue", 1), ("conversationId", conv), ("payload", B.Bin(b""))]))
        return num(get(r3, "ok")) == 1
    return True
