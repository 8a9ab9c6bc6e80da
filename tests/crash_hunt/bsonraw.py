"""A small raw BSON encoder that can also write what a proper encoder refuses to: invalid
UTF-8 in strings and keys, duplicate keys, unknown element types, wrong lengths.

Values:
  None, bool, int (int32 when it fits, else int64), float, str -> the usual BSON types
  dict, Doc([(key, value), ...])  -> embedded document (keys: str or raw bytes)
  list / tuple                     -> array
  I32(v), I64(v), Str(bytes), Bin(data, subtype), Oid(12 bytes), Date(ms), Regex(pat, opts),
  Ts(t, i), Dec(16 bytes), Code(str), CodeWS(code, scope), Sym(str), DbPtr(ns, oid),
  MinKey, MaxKey, Undefined
  Elem(type_byte, payload)         -> any element type with raw payload bytes
  Pre(type_byte, payload)          -> a pre-encoded value (fast path for huge values)
"""
import struct


class Doc:
    __slots__ = ("items",)

    def __init__(self, items=()):
        self.items = list(items)

    def __repr__(self):
        return "Doc(%r)" % (self.items,)


class _Tagged:
    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v

    def __repr__(self):
        return "%s(%r)" % (type(self).__name__, self.v)


class I32(_Tagged):
    pass


class I64(_Tagged):
    pass


class Str(_Tagged):
    """A string element with raw (possibly invalid UTF-8) bytes."""


class Oid(_Tagged):
    pass


class Date(_Tagged):
    pass


class Dec(_Tagged):
    """Decimal128 as 16 raw little-endian bytes."""


class Code(_Tagged):
    pass


class Sym(_Tagged):
    pass


class Bin:
    __slots__ = ("data", "subtype")

    def __init__(self, data, subtype=0):
        self.data, self.subtype = data, subtype


class Regex:
    __slots__ = ("pattern", "options")

    def __init__(self, pattern, options=""):
        self.pattern, self.options = pattern, options


class Ts:
    __slots__ = ("t", "i")

    def __init__(self, t, i):
        self.t, self.i = t, i


class CodeWS:
    __slots__ = ("code", "scope")

    def __init__(self, code, scope):
        self.code, self.scope = code, scope


class DbPtr:
    __slots__ = ("ns", "oid")

    def __init__(self, ns, oid):
        self.ns, self.oid = ns, oid


class Elem:
    """An element of any type byte with a raw payload."""
    __slots__ = ("t", "payload")

    def __init__(self, t, payload):
        self.t, self.payload = t, payload


Pre = Elem


class _Singleton:
    def __init__(self, name, t):
        self.name, self.t = name, t

    def __repr__(self):
        return self.name


MinKey = _Singleton("MinKey", 0xFF)
MaxKey = _Singleton("MaxKey", 0x7F)
Undefined = _Singleton("Undefined", 0x06)

_i32 = struct.Struct("<i")
_i64 = struct.Struct("<q")
_u32 = struct.Struct("<I")
_f64 = struct.Struct("<d")


def _b(s):
    if isinstance(s, (bytes, bytearray)):
        return bytes(s)
    return s.encode("utf-8", "surrogatepass")


def cstring(s):
    return _b(s) + b"\x00"


def string_payload(s):
    raw = _b(s)
    return _i32.pack(len(raw) + 1) + raw + b"\x00"


def encode_value(v):
    """Returns (type byte, payload bytes)."""
    if v is None:
        return 0x0A, b""
    if v is True or v is False:
        return 0x08, b"\x01" if v else b"\x00"
    t = type(v)
    if t is int:
        if -(2**31) <= v < 2**31:
            return 0x10, _i32.pack(v)
        if -(2**63) <= v < 2**63:
            return 0x12, _i64.pack(v)
        return 0x01, _f64.pack(float(v))
    if t is float:
        return 0x01, _f64.pack(v)
    if t is str:
        return 0x02, string_payload(v)
    if t is dict or t is Doc:
        return 0x03, encode_doc(v)
    if t is list or t is tuple:
        return 0x04, encode_array(v)
    if t is I32:
        return 0x10, _i32.pack(v.v)
    if t is I64:
        return 0x12, _i64.pack(v.v)
    if t is Str:
        return 0x02, string_payload(v.v)
    if t is Bin:
        data = _b(v.data)
        if v.subtype == 2:  # old binary: inner length too
            data = _i32.pack(len(data)) + data
        return 0x05, _i32.pack(len(data)) + bytes([v.subtype & 0xFF]) + data
    if t is Oid:
        return 0x07, bytes(v.v)[:12].ljust(12, b"\x00")
    if t is Date:
        return 0x09, _i64.pack(v.v)
    if t is Regex:
        return 0x0B, cstring(v.pattern) + cstring(v.options)
    if t is DbPtr:
        return 0x0C, string_payload(v.ns) + bytes(v.oid)[:12].ljust(12, b"\x00")
    if t is Code:
        return 0x0D, string_payload(v.v)
    if t is Sym:
        return 0x0E, string_payload(v.v)
    if t is CodeWS:
        body = string_payload(v.code) + encode_doc(v.scope)
        return 0x0F, _i32.pack(len(body) + 4) + body
    if t is Ts:
        return 0x11, _u32.pack(v.i & 0xFFFFFFFF) + _u32.pack(v.t & 0xFFFFFFFF)
    if t is Dec:
        return 0x13, bytes(v.v)[:16].ljust(16, b"\x00")
    if t is Elem:
        return v.t & 0xFF, bytes(v.payload)
    if t is _Singleton:
        return v.t, b""
    if t is bytes or t is bytearray:
        return 0x05, _i32.pack(len(v)) + b"\x00" + bytes(v)
    raise TypeError("cannot encode %r" % (v,))


def _items(d):
    if type(d) is Doc:
        return d.items
    return d.items()


def encode_doc(d):
    parts = []
    for k, v in _items(d):
        t, payload = encode_value(v)
        parts.append(bytes([t]))
        parts.append(cstring(k))
        parts.append(payload)
    body = b"".join(parts)
    return _i32.pack(len(body) + 5) + body + b"\x00"


def encode_array(a):
    parts = []
    for i, v in enumerate(a):
        t, payload = encode_value(v)
        parts.append(bytes([t]))
        parts.append(str(i).encode() + b"\x00")
        parts.append(payload)
    body = b"".join(parts)
    return _i32.pack(len(body) + 5) + body + b"\x00"


def encode(d):
    """The bytes of a top-level document (dict or Doc)."""
    return encode_doc(d)


def pre(v):
    """Pre-encodes a (large) value once so it can be embedded many times cheaply."""
    t, payload = encode_value(v)
    return Elem(t, payload)


def dec128(sign, exponent, coefficient):
    """Decimal128 bytes (BID encoding, coefficient < 2**113)."""
    biased = (exponent + 6176) & 0x3FFF
    hi = (sign << 63) | (biased << 49) | ((coefficient >> 64) & ((1 << 49) - 1))
    lo = coefficient & ((1 << 64) - 1)
    return Dec(struct.pack("<QQ", lo, hi))


DEC_NAN = Dec(struct.pack("<QQ", 0, 0x7C00000000000000))
DEC_SNAN = Dec(struct.pack("<QQ", 0, 0x7E00000000000000))
DEC_INF = Dec(struct.pack("<QQ", 0, 0x7800000000000000))
DEC_NINF = Dec(struct.pack("<QQ", 0, 0xF800000000000000))
DEC_MAX = dec128(0, 6111, 10**34 - 1)
DEC_MIN = dec128(1, 6111, 10**34 - 1)
DEC_TINY = dec128(0, -6176, 1)
DEC_NZERO = dec128(1, 0, 0)
DEC_ONE = dec128(0, 0, 1)
DEC_HUGE_EXP_ZERO = dec128(0, 6111, 0)
# Coefficient above 10**34 - 1 (non-canonical: must read as zero).
DEC_NONCANON = Dec(struct.pack("<QQ", 0xFFFFFFFFFFFFFFFF, 0x3041FFFFFFFFFFFF))
# The "11" combination-field form (large coefficient encoding).
DEC_FORM2 = Dec(struct.pack("<QQ", 0x0123456789ABCDEF, 0x6FFFFFFFFFFFFFFF))


def decode(data):
    """Decodes valid BSON bytes into Doc / list / tagged values (round-trips through encode)."""
    doc, _ = _decode_doc(data, 0, False, 0)
    return doc


def _cstr(data, i):
    j = data.index(b"\x00", i)
    raw = data[i:j]
    try:
        return raw.decode("utf-8"), j + 1
    except UnicodeDecodeError:
        return raw, j + 1


def _str(data, i):
    n = _i32.unpack_from(data, i)[0]
    raw = data[i + 4:i + 4 + n - 1]
    try:
        return raw.decode("utf-8"), i + 4 + n
    except UnicodeDecodeError:
        return Str(raw), i + 4 + n


def _decode_doc(data, i, as_array, depth):
    n = _i32.unpack_from(data, i)[0]
    end = i + n - 1
    i += 4
    items = []
    while i < end:
        t = data[i]
        key, i = _cstr(data, i + 1)
        v, i = _decode_value(data, i, t, depth)
        items.append((key, v))
    if as_array:
        return [v for _, v in items], end + 1
    return Doc(items), end + 1


def _decode_value(data, i, t, depth=0):
    if t in (0x03, 0x04) and depth > 150:  # kept pre-encoded: no deep recursion
        n = _i32.unpack_from(data, i)[0]
        return Elem(t, data[i:i + n]), i + n
    if t == 0x01:
        return _f64.unpack_from(data, i)[0], i + 8
    if t == 0x02:
        return _str(data, i)
    if t == 0x03:
        return _decode_doc(data, i, False, depth + 1)
    if t == 0x04:
        return _decode_doc(data, i, True, depth + 1)
    if t == 0x05:
        n = _i32.unpack_from(data, i)[0]
        sub = data[i + 4]
        payload = data[i + 5:i + 5 + n]
        if sub == 2 and len(payload) >= 4:
            payload = payload[4:]
        return Bin(payload, sub), i + 5 + n
    if t == 0x06:
        return Undefined, i
    if t == 0x07:
        return Oid(data[i:i + 12]), i + 12
    if t == 0x08:
        return data[i] == 1, i + 1
    if t == 0x09:
        return Date(_i64.unpack_from(data, i)[0]), i + 8
    if t == 0x0A:
        return None, i
    if t == 0x0B:
        p, i = _cstr(data, i)
        o, i = _cstr(data, i)
        return Regex(p, o), i
    if t == 0x0C:
        ns, i = _str(data, i)
        return DbPtr(ns if isinstance(ns, str) else ns.v, data[i:i + 12]), i + 12
    if t == 0x0D:
        s, i = _str(data, i)
        return Code(s if isinstance(s, str) else s.v), i
    if t == 0x0E:
        s, i = _str(data, i)
        return Sym(s if isinstance(s, str) else s.v), i
    if t == 0x0F:
        n = _i32.unpack_from(data, i)[0]
        s, j = _str(data, i + 4)
        scope, _ = _decode_doc(data, j, False, depth + 1)
        return CodeWS(s if isinstance(s, str) else s.v, scope), i + n
    if t == 0x10:
        return I32(_i32.unpack_from(data, i)[0]), i + 4
    if t == 0x11:
        inc, ts = struct.unpack_from("<II", data, i)
        return Ts(ts, inc), i + 8
    if t == 0x12:
        return I64(_i64.unpack_from(data, i)[0]), i + 8
    if t == 0x13:
        return Dec(data[i:i + 16]), i + 16
    if t == 0xFF:
        return MinKey, i
    if t == 0x7F:
        return MaxKey, i
    raise ValueError("unknown BSON type 0x%02x" % t)
