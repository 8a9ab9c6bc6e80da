"""Generators of MongoDB values, documents, filters, projections, updates, expressions,
pipelines and command documents, valid and mutated, for the crash hunt.

Everything is driven by one `random.Random`, so a seed reproduces a run (given the same
server responses: cursor ids and continuations captured from replies feed later calls).
Documents are built as `bsonraw` values (dicts / Doc / lists / tagged scalars) so that
they can carry what a normal encoder refuses: invalid UTF-8, duplicate keys, odd types.
"""
import math
import struct

import bsonraw as B
from bsonraw import Doc

# Expressions built to exhaust memory ($reduce doubling, huge $range); --no-bombs turns them off.
BOMBS = True

# ---- names -------------------------------------------------------------------------------

DATA_DB = "hunt"
DATA_COLLS = ["c1", "c2", "c3"]
VIEW_COLLS = ["v1"]
USER_PREFIX = "hunt_"

DB_NAMES = [DATA_DB, DATA_DB, DATA_DB, "hunt2", "admin", "config", "local", "test", "", "a" * 63, "a" * 64,
            "a" * 200, "db.dot", "db$dollar", "db with space", "db/slash", "db\\bs", "db\"q", "ü数据", "$cmd",
            "system", "documentdb_api", "pg_catalog", "HUNT", "hunt\x01ctl", "-", "'", "0"]
COLL_NAMES = DATA_COLLS * 3 + VIEW_COLLS + [
    "new1", "new2", "tmp", "", "$cmd", "system.users", "system.views", "system.js", "system.profile",
    "system.buckets.x", "a.b", "a..b", ".a", "a.", "x" * 120, "x" * 255, "x" * 1000, "coll$", "$coll",
    "with space", "ü集合", "c\x01", "'; DROP TABLE x; --", '"q"', "documents_1", "oplog.rs", "a/b",
]
FIELDS = ["a", "a", "a", "b", "b", "c", "x", "_id", "_id", "arr", "sub", "n", "s", "d",
          "a.b", "a.b.c", "arr.0", "arr.1.x", "sub.x", "a.0", "arr.$", "arr.$[]", "arr.$[e]",
          "$a", "", ".", "a.", ".a", "a..b", "é", "a" * 300, "0", "-1", "a.-1", "a.00",
          "a.99999999999999999999", "a.$[]", "$", "$$", "a.$.b", "a.b.c.d.e.f.g.h.i.j.k"]
# Paths with many components (each component can become one level of nesting).
DEEP_PATHS = [".".join(["a"] * n) for n in (99, 100, 101, 150, 1000, 20000)] + [
    ".".join(["0"] * 200), "a." + ".".join(["$[]"] * 150), ".".join(["arr"] * 120)]
PLAIN_FIELDS = ["a", "b", "c", "x", "n", "s", "d", "arr", "sub", "_id", "y", "z"]

QUERY_OPS = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$type", "$size", "$mod",
             "$regex", "$options", "$elemMatch", "$all", "$not", "$bitsAllSet", "$bitsAllClear", "$bitsAnySet",
             "$bitsAnyClear", "$near", "$nearSphere", "$geoWithin", "$geoIntersects", "$within", "$text",
             "$where", "$jsonSchema", "$expr", "$comment", "$sampleRate", "$bogus", "$"]
CORE_QUERY_OPS = ["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$exists", "$type", "$size", "$mod",
                  "$regex", "$elemMatch", "$all", "$not", "$bitsAllSet", "$bitsAnyClear"]
LOGICAL_OPS = ["$and", "$or", "$nor"]
CORE_UPDATE_OPS = ["$set", "$unset", "$inc", "$mul", "$min", "$max", "$rename", "$setOnInsert", "$currentDate",
                   "$push", "$addToSet", "$pop", "$pull", "$pullAll", "$bit"]
UPDATE_OPS = ["$set", "$unset", "$inc", "$mul", "$min", "$max", "$rename", "$setOnInsert", "$currentDate",
              "$push", "$addToSet", "$pop", "$pull", "$pullAll", "$bit", "$isolated", "$bogus", "$each", "$"]
TYPE_NAMES = ["double", "string", "object", "array", "binData", "undefined", "objectId", "bool", "date", "null",
              "regex", "dbPointer", "javascript", "symbol", "javascriptWithScope", "int", "timestamp", "long",
              "decimal", "minKey", "maxKey", "number", "bogus", ""]

# Expression operators with a rough arity: None = any list, n = n args, "obj" = named args.
EXPR_OPS = {
    "$abs": 1, "$add": None, "$ceil": 1, "$divide": 2, "$exp": 1, "$floor": 1, "$ln": 1, "$log": 2, "$log10": 1,
    "$mod": 2, "$multiply": None, "$pow": 2, "$round": 2, "$sqrt": 1, "$subtract": 2, "$trunc": 2,
    "$arrayElemAt": 2, "$arrayToObject": 1, "$concatArrays": None, "$filter": "obj", "$first": 1, "$firstN": "obj",
    "$in": 2, "$indexOfArray": 4, "$isArray": 1, "$last": 1, "$lastN": "obj", "$map": "obj", "$maxN": "obj",
    "$minN": "obj", "$objectToArray": 1, "$range": 3, "$reduce": "obj", "$reverseArray": 1, "$size": 1,
    "$slice": 3, "$sortArray": "obj", "$zip": "obj", "$and": None, "$not": 1, "$or": None, "$cmp": 2, "$eq": 2,
    "$gt": 2, "$gte": 2, "$lt": 2, "$lte": 2, "$ne": 2, "$cond": 3, "$ifNull": None, "$switch": "obj",
    "$dateAdd": "obj", "$dateDiff": "obj", "$dateFromParts": "obj", "$dateFromString": "obj", "$dateSubtract": "obj",
    "$dateToParts": "obj", "$dateToString": "obj", "$dateTrunc": "obj", "$dayOfMonth": 1, "$dayOfWeek": 1,
    "$dayOfYear": 1, "$hour": 1, "$isoDayOfWeek": 1, "$isoWeek": 1, "$isoWeekYear": 1, "$millisecond": 1,
    "$minute": 1, "$month": 1, "$second": 1, "$toDate": 1, "$week": 1, "$year": 1, "$literal": 1,
    "$getField": "obj", "$rand": 0, "$sampleRate": 1, "$mergeObjects": None, "$setField": "obj",
    "$unsetField": "obj", "$allElementsTrue": 1, "$anyElementTrue": 1, "$setDifference": 2, "$setEquals": None,
    "$setIntersection": None, "$setIsSubset": 2, "$setUnion": None, "$concat": None, "$indexOfBytes": 4,
    "$indexOfCP": 4, "$ltrim": "obj", "$regexFind": "obj", "$regexFindAll": "obj", "$regexMatch": "obj",
    "$replaceOne": "obj", "$replaceAll": "obj", "$rtrim": "obj", "$split": 2, "$strLenBytes": 1, "$strLenCP": 1,
    "$strcasecmp": 2, "$substr": 3, "$substrBytes": 3, "$substrCP": 3, "$toLower": 1, "$toString": 1,
    "$trim": "obj", "$toUpper": 1, "$meta": 1, "$let": "obj", "$convert": "obj", "$isNumber": 1, "$toBool": 1,
    "$toDecimal": 1, "$toDouble": 1, "$toInt": 1, "$toLong": 1, "$toObjectId": 1, "$type": 1, "$binarySize": 1,
    "$bsonSize": 1, "$avg": None, "$max": None, "$min": None, "$sum": None, "$stdDevPop": None,
    "$stdDevSamp": None, "$top": "obj", "$bottom": "obj", "$function": "obj", "$accumulator": "obj",
    "$bitAnd": None, "$bitOr": None, "$bitXor": None, "$bitNot": 1, "$tsSecond": 1, "$tsIncrement": 1,
    "$sin": 1, "$cos": 1, "$tan": 1, "$asin": 1, "$acos": 1, "$atan": 1, "$atan2": 2, "$degreesToRadians": 1,
    "$radiansToDegrees": 1, "$const": 1, "$bogusOp": 1, "$": 1, "$expr": 1,
}
EXPR_OBJ_ARGS = {
    "$filter": ["input", "cond", "as", "limit"], "$map": ["input", "as", "in"],
    "$reduce": ["input", "initialValue", "in"], "$sortArray": ["input", "sortBy"], "$zip": ["inputs", "useLongestLength", "defaults"],
    "$firstN": ["input", "n"], "$lastN": ["input", "n"], "$maxN": ["input", "n"], "$minN": ["input", "n"],
    "$switch": ["branches", "default"], "$dateAdd": ["startDate", "unit", "amount", "timezone"],
    "$dateSubtract": ["startDate", "unit", "amount", "timezone"],
    "$dateDiff": ["startDate", "endDate", "unit", "timezone", "startOfWeek"],
    "$dateFromParts": ["year", "month", "day", "hour", "minute", "second", "millisecond", "isoWeekYear", "isoWeek",
                       "isoDayOfWeek", "timezone"],
    "$dateFromString": ["dateString", "format", "timezone", "onError", "onNull"],
    "$dateToParts": ["date", "timezone", "iso8601"], "$dateToString": ["date", "format", "timezone", "onNull"],
    "$dateTrunc": ["date", "unit", "binSize", "timezone", "startOfWeek"], "$getField": ["field", "input"],
    "$setField": ["field", "input", "value"], "$unsetField": ["field", "input"], "$ltrim": ["input", "chars"],
    "$rtrim": ["input", "chars"], "$trim": ["input", "chars"], "$regexFind": ["input", "regex", "options"],
    "$regexFindAll": ["input", "regex", "options"], "$regexMatch": ["input", "regex", "options"],
    "$replaceOne": ["input", "find", "replacement"], "$replaceAll": ["input", "find", "replacement"],
    "$let": ["vars", "in"], "$convert": ["input", "to", "onError", "onNull", "format"],
    "$top": ["output", "sortBy"], "$bottom": ["output", "sortBy"], "$function": ["body", "args", "lang"],
    "$accumulator": ["init", "accumulate", "accumulateArgs", "merge", "lang"],
}
ACCUMULATORS = ["$sum", "$avg", "$min", "$max", "$first", "$last", "$push", "$addToSet", "$count", "$stdDevPop",
                "$stdDevSamp", "$mergeObjects", "$top", "$bottom", "$topN", "$bottomN", "$firstN", "$lastN",
                "$maxN", "$minN", "$median", "$percentile", "$accumulator", "$bogus", "$"]
STAGES = ["$match", "$project", "$addFields", "$set", "$unset", "$sort", "$limit", "$skip", "$group", "$unwind",
          "$count", "$replaceRoot", "$replaceWith", "$sortByCount", "$documents", "$lookup", "$facet", "$out",
          "$merge", "$bucket", "$bucketAuto", "$sample", "$redact", "$graphLookup", "$unionWith", "$densify",
          "$fill", "$setWindowFields", "$geoNear", "$collStats", "$indexStats", "$currentOp", "$changeStream",
          "$listLocalSessions", "$listSessions", "$search", "$bogus", "$"]
DATE_UNITS = ["year", "quarter", "month", "week", "day", "hour", "minute", "second", "millisecond", "bogus", ""]
TIMEZONES = ["UTC", "+01:00", "-23:59", "+99:99", "America/New_York", "Europe/Berlin", "bogus/zone", "", "+",
             "Z", "GMT", "+0530", "-00:00", "+24:00"]
DATE_FORMATS = ["%Y-%m-%d", "%H:%M:%S.%L", "%G-%V-%u", "%%", "%", "%Q", "%z%Z", "%j %U %w %a %b", "", "x" * 1000,
                "%Y%Y%Y%Y%Y%Y%Y%Y"]

# ---- pre-built big values (built once, iteratively: no recursion) ------------------------

_i32 = struct.Struct("<i")


def _wrap_doc(key, t, payload):
    body = bytes([t]) + key + b"\x00" + payload
    return _i32.pack(len(body) + 5) + body + b"\x00"


def nested_doc(levels, key=b"a", leaf=b"\x0a"):
    """{a: {a: ... {a: null}}} with `levels` embedded documents, as (type, payload)."""
    t, payload = 0x0A, b""
    for _ in range(levels):
        payload = _wrap_doc(key, t, payload)
        t = 0x03
    return B.Elem(t, payload)


def nested_array(levels):
    t, payload = 0x10, _i32.pack(1)
    for _ in range(levels):
        payload = _wrap_doc(b"0", t, payload)
        t = 0x04
    return B.Elem(t, payload)


def nested_op(levels, op, leaf, as_array=True):
    """{op: [{op: [... leaf]}]}: deep logical filters / expressions, as a pre-encoded doc."""
    t, payload = B.encode_value(leaf)
    for _ in range(levels):
        if as_array:
            arr = _wrap_doc(b"0", t, payload)
            payload = _wrap_doc(op.encode(), 0x04, arr)
        else:
            payload = _wrap_doc(op.encode(), t, payload)
        t = 0x03
    return B.Elem(t, payload)


class Big:
    """Large values, pre-encoded once per process."""

    def __init__(self):
        self.deep_docs = {n: nested_doc(n) for n in (20, 50, 98, 99, 100, 101, 150, 200, 2000)}
        self.deep_arrays = {n: nested_array(n) for n in (20, 50, 99, 100, 101, 200, 2000)}
        self.deep_and = {n: nested_op(n, "$and", {"a": 1}) for n in (10, 32, 49, 50, 51, 100, 1000)}
        self.deep_not = {n: nested_op(n, "$not", {"$eq": 1}, as_array=False) for n in (10, 49, 50, 99, 100)}
        self.deep_elem = {n: nested_op(n, "$elemMatch", {"$eq": 1}, as_array=False) for n in (10, 49, 50, 99)}
        self.deep_add = {n: nested_op(n, "$add", 1) for n in (10, 49, 50, 99, 1000)}
        self.deep_obj_expr = {n: nested_op(n, "x", "$a", as_array=False) for n in (10, 50, 99)}
        self.arr_int = B.pre(list(range(100_000)))
        self.arr_small = B.pre(list(range(1000)))
        self.arr_docs = B.pre([{"a": i % 17, "b": str(i)} for i in range(20_000)])
        self.arr_str = B.pre(["s%d" % i for i in range(50_000)])
        self.arr_nulls = B.pre([None] * 30_000)
        self.wide_doc = B.pre(Doc(("f%d" % i, i) for i in range(50_000)))
        self.dup_keys = B.pre(Doc(("a", i) for i in range(1000)))
        self.long_str = "x" * 1_000_000
        self.huge_str = "y" * (16 * 1024 * 1024 - 64)
        self.long_key = "k" * 100_000

    def pick_big(self, rng):
        c = rng.randrange(16)
        if c == 0:
            return self.deep_docs[rng.choice(list(self.deep_docs))]
        if c == 1:
            return self.deep_arrays[rng.choice(list(self.deep_arrays))]
        if c == 2:
            return self.arr_int
        if c == 3:
            return self.arr_docs
        if c == 4:
            return self.arr_str
        if c == 5:
            return self.wide_doc
        if c == 6:
            return self.long_str
        if c == 7:
            return self.dup_keys
        if c == 8:
            return self.arr_nulls
        if c == 9:
            return self.deep_and[rng.choice(list(self.deep_and))]
        if c == 10:
            return self.deep_add[rng.choice(list(self.deep_add))]
        if c == 11:
            return self.deep_not[rng.choice(list(self.deep_not))]
        if c == 12:
            return self.deep_elem[rng.choice(list(self.deep_elem))]
        if c == 13:
            return self.deep_obj_expr[rng.choice(list(self.deep_obj_expr))]
        if c == 14 and rng.random() < 0.05:
            return self.huge_str
        return self.arr_small


# ---- scalars -----------------------------------------------------------------------------

INTS = [0, 1, -1, 2, 7, 100, 101, 2**31 - 1, -(2**31), 2**31, 2**63 - 1, -(2**63), B.I64(0), B.I64(1),
        B.I64(-1), B.I64(2**53 + 1), B.I64(2**63 - 1), B.I64(-(2**63)), B.I32(0), B.I32(-1), 16 * 1024 * 1024,
        1000000000, -1000000000]
DOUBLES = [0.0, -0.0, 1.0, -1.0, 0.5, 1.5, math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, 2.0**63,
           -(2.0**63), 2.0**64, 1e19, 9.2e18, 2.0**53 + 2, 0.1, 123456789.987, -2.5, 3.0]
DECIMALS = [B.DEC_NAN, B.DEC_SNAN, B.DEC_INF, B.DEC_NINF, B.DEC_MAX, B.DEC_MIN, B.DEC_TINY, B.DEC_NZERO,
            B.DEC_ONE, B.DEC_HUGE_EXP_ZERO, B.DEC_NONCANON, B.DEC_FORM2, B.dec128(0, -6176, 10**34 - 1),
            B.dec128(0, 6111, 1), B.dec128(1, -10, 12345), B.dec128(0, 0, 2**63), B.dec128(0, 0, 10**33)]
DATES = [B.Date(0), B.Date(-1), B.Date(1), B.Date(2**63 - 1), B.Date(-(2**63)), B.Date(253402300799999),
         B.Date(253402300800000), B.Date(-62135596800000), B.Date(-62135596800001), B.Date(1704067200000),
         B.Date(951782400000), B.Date(-8640000000000000), B.Date(8640000000000001), B.Date(10**18)]
STRINGS = ["", "a", "b", "abc", "A", "é", "日本語", "😀", "a\x00b", "\x00", "$a", "$b", "$arr", "$sub.x", "$_id",
           "$$ROOT", "$$CURRENT", "$$CURRENT.a", "$$NOW", "$$REMOVE", "$$DESCEND", "$$PRUNE", "$$KEEP",
           "$$CLUSTER_TIME", "$$SEARCH_META", "$$bogus", "$$value", "$$this", "$$e", "$", "$$", "$.", "$a.",
           "$a..b", "$.a", "$$ROOT.a.b", "$a.0", "$a.$", "x" * 1000, "%", "\\", "(", "[", "*", ".*",
           "2024-01-01", "2024-01-01T00:00:00Z", "2024-13-45", "0x10", "1e400", "NaN", "-Infinity", "true",
           "507f1f77bcf86cd799439011", "507f1f77bcf86cd79943901", "\u200b", "\ufeff", "a.b", "readWrite",
           "read", "root", "userAdmin", "\ud800", "\udfff", "i", "m", "x", "s", "u", "imxsu"]
INVALID_UTF8 = [b"\xff", b"\xfe\xff", b"\xc0\x80", b"a\x80b", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xe2\x82",
                b"\xc3", b"\x80" * 10, b"ok\xf0\x9f\x98"]
REGEXES = [B.Regex("a"), B.Regex("^a", "i"), B.Regex("(", ""), B.Regex("a", "z"), B.Regex("a", "imxsulq"),
           B.Regex("\\", ""), B.Regex("(?<n>a)\\k<n>", ""), B.Regex("a{1000000}", ""), B.Regex("(a*)*b", ""),
           B.Regex("(?i)A", ""), B.Regex("[[:alpha:]]", ""), B.Regex("\\p{L}+", "u"), B.Regex("", ""),
           B.Regex(".*" * 50, "s"), B.Regex("x" * 5000, ""), B.Regex("(?=a)", ""), B.Regex("(?<!a)b", ""),
           B.Regex("a", "ii"), B.Regex(b"\xff", "i"), B.Regex("a", b"\xff"), B.Regex("\\1", ""),
           B.Regex("(((((((((((a)))))))))))\\11", ""), B.Regex("[a-", ""), B.Regex("\\x{110000}", "")]
BINS = [B.Bin(b"", 0), B.Bin(b"abc", 0), B.Bin(b"\x00" * 16, 4), B.Bin(b"\x01" * 16, 3), B.Bin(b"\x00" * 5, 4),
        B.Bin(b"abc", 2), B.Bin(b"", 2), B.Bin(b"xyz", 0x80), B.Bin(b"\x03\x00", 9), B.Bin(b"\x10\x00\x00", 9),
        B.Bin(b"\x27\x00" + b"\x00" * 8, 9), B.Bin(b"\x00" * 100, 5), B.Bin(b"\xff" * 7, 6), B.Bin(b"x", 7),
        B.Bin(b"x" * 100000, 0)]
OIDS = [B.Oid(b"\x00" * 12), B.Oid(b"\xff" * 12), B.Oid(bytes(range(12))), B.Oid(b"\x65\x9a\x00\x00" + b"\x01" * 8)]
TIMESTAMPS = [B.Ts(0, 0), B.Ts(1, 1), B.Ts(2**32 - 1, 2**32 - 1), B.Ts(1700000000, 5)]
ODD = [B.MinKey, B.MaxKey, B.Undefined, None, True, False, B.Code("function(){return 1}"), B.Code(""),
       B.Sym("sym"), B.Sym(""), B.CodeWS("x", {"a": 1}), B.CodeWS("", {}), B.DbPtr("db.c", b"\x01" * 12),
       {"$ref": "c", "$id": 1}, {"$ref": "c", "$id": 1, "$db": "d"}, {"$ref": 1}]


class Gen:
    def __init__(self, rng, big=None):
        self.r = rng
        self.big = big or Big()
        # State learned from replies: cursor ids, continuation documents, users.
        self.cursor_ids = [0, 1, -1, 2**63 - 1, -(2**63)]
        self.continuations = []
        self.users = []

    # -- basic helpers ---------------------------------------------------------------------
    def chance(self, p):
        return self.r.random() < p

    def pick(self, seq):
        return seq[self.r.randrange(len(seq))]

    def field(self, plain=0.7):
        if self.chance(plain):
            return self.pick(PLAIN_FIELDS)
        if self.chance(0.05):
            return self.pick(DEEP_PATHS)
        return self.pick(FIELDS)

    def invalid_utf8(self):
        return self.pick(INVALID_UTF8)

    def scalar(self):
        c = self.r.randrange(100)
        if c < 18:
            return self.pick(INTS)
        if c < 30:
            return self.pick(DOUBLES)
        if c < 36:
            return self.pick(DECIMALS)
        if c < 42:
            return self.pick(DATES)
        if c < 62:
            return self.pick(STRINGS)
        if c < 64:
            return B.Str(self.invalid_utf8())
        if c < 68:
            return self.pick(REGEXES)
        if c < 72:
            return self.pick(BINS)
        if c < 75:
            return self.pick(OIDS)
        if c < 78:
            return self.pick(TIMESTAMPS)
        if c < 88:
            return self.pick(ODD)
        return self.r.randint(-5, 20)

    def value(self, depth=2):
        c = self.r.randrange(100)
        if depth <= 0 or c < 60:
            return self.scalar()
        if c < 78:
            return {self.field(0.9): self.value(depth - 1) for _ in range(self.r.randrange(4))}
        if c < 96:
            return [self.value(depth - 1) for _ in range(self.r.randrange(5))]
        if c < 98:
            return self.big.pick_big(self.r)
        return self.weird_key_doc()

    def other_type(self, v):
        """A value of some other BSON type than v (for 'wrong type in every field')."""
        for _ in range(5):
            n = self.value(1)
            if type(n) is not type(v):
                return n
        return self.pick([{}, [], None, "x", 1, 1.5, True, B.MinKey])

    def weird_key(self):
        c = self.r.randrange(12)
        return [lambda: "$" + self.field(), lambda: "a.b", lambda: "", lambda: self.invalid_utf8(),
                lambda: "$", lambda: "a" * 10000, lambda: "$$ROOT", lambda: "a.$[]", lambda: ".",
                lambda: "$where", lambda: "\u0001", lambda: "$" + self.pick(list(EXPR_OPS))][c]()

    def weird_key_doc(self):
        return Doc([(self.weird_key(), self.scalar()) for _ in range(self.r.randint(1, 3))])

    # -- documents for collections ---------------------------------------------------------
    def data_doc(self, i=None, wild=0.2):
        d = Doc()
        if i is not None:
            d.items.append(("_id", i))
        elif self.chance(0.5):
            d.items.append(("_id", self.value(1) if self.chance(wild) else self.r.randint(0, 500)))
        d.items.append(("a", self.r.randint(-3, 10) if self.chance(0.6) else self.value(2)))
        if self.chance(0.7):
            d.items.append(("b", self.pick(["x", "y", "z", "abc", ""]) if self.chance(0.6) else self.value(2)))
        if self.chance(0.5):
            d.items.append(("arr", [self.r.randint(0, 5) if self.chance(0.6) else self.value(1)
                                    for _ in range(self.r.randrange(6))]))
        if self.chance(0.4):
            d.items.append(("sub", {"x": self.value(1), "y": [{"z": self.r.randint(0, 3)}, {"z": "q"}]}))
        if self.chance(0.3):
            d.items.append(("d", self.pick(DATES)))
        if self.chance(0.2):
            d.items.append(("n", self.pick(DOUBLES + DECIMALS + INTS)))
        if self.chance(wild):
            d.items.append((self.field(0.3), self.value(3)))
        return d

    # -- query language --------------------------------------------------------------------
    def op_value(self, op):
        r = self.r
        if op in ("$in", "$nin", "$all"):
            if self.chance(0.2):
                return [{"$elemMatch": self.filter(1)}]
            return [self.scalar() for _ in range(r.randrange(5))] if self.chance(0.9) else self.scalar()
        if op == "$exists":
            return self.pick([True, False, 1, 0, None, "x"])
        if op == "$type":
            if self.chance(0.7):
                return self.pick(TYPE_NAMES[:-2] + [1, 2, 16, 18])
            return self.pick(TYPE_NAMES + [1, 2, 3, 4, 16, 18, 19, -1, 127, 255, 100, [2, "int"], []])
        if op == "$size":
            if self.chance(0.7):
                return self.pick([0, 1, 2, 3])
            return self.pick([0, 1, 2, -1, 1.5, 2**40, "1", None])
        if op == "$mod":
            if self.chance(0.7):
                return self.pick([[2, 0], [3, 1], [5, 2]])
            return self.pick([[2, 0], [0, 0], [-1, 1], [2], [], [2, 0, 1], [math.nan, 1], [2.5, 1],
                              [2**63 - 1, -1], [-(2**63), -1], [B.DEC_NAN, 1], "x"])
        if op in ("$regex",):
            return self.pick(REGEXES + ["a", "(", "^$", 1])
        if op == "$options":
            return self.pick(["i", "z", "", "imxs", 1])
        if op == "$elemMatch":
            return self.filter(1) if self.chance(0.5) else self.op_doc(1)
        if op == "$not":
            return self.op_doc(1) if self.chance(0.7) else self.pick(REGEXES + [1, {}])
        if op.startswith("$bits"):
            return self.pick([0, 1, 35, -1, 2**31 - 1, [0, 1, 63], [64], [-1], [1.5], B.Bin(b"\xff\x00", 0),
                              2**63 - 1, 1.5, "x", [2**31]])
        if op == "$expr":
            return self.expr(2)
        if op == "$jsonSchema":
            return self.json_schema(2)
        if op == "$where":
            return self.pick(["true", B.Code("return 1"), 1])
        if op in ("$near", "$nearSphere", "$geoWithin", "$geoIntersects", "$within"):
            return self.pick([[0, 0], {"$geometry": {"type": "Point", "coordinates": [0, 0]}},
                              {"$box": [[0, 0], [1, 1]]}, {}, 1])
        return self.scalar() if self.chance(0.8) else self.value(2)

    def op_doc(self, depth):
        ops = [self.pick(CORE_QUERY_OPS) if self.chance(0.85) else self.pick(QUERY_OPS)
               for _ in range(self.r.randint(1, 2))]
        return Doc((op, self.op_value(op)) for op in ops)

    def filter(self, depth=3):
        r = self.r
        d = Doc()
        for _ in range(r.randrange(4)):
            c = r.randrange(100)
            if c < 35:
                d.items.append((self.field(), self.scalar() if self.chance(0.8) else self.value(2)))
            elif c < 70:
                d.items.append((self.field(), self.op_doc(depth - 1)))
            elif c < 82 and depth > 0:
                d.items.append((self.pick(LOGICAL_OPS), [self.filter(depth - 1) for _ in range(r.randrange(4))]
                                if self.chance(0.9) else self.value(1)))
            elif c < 88:
                d.items.append(("$expr", self.expr(2)))
            elif c < 91:
                d.items.append(("$jsonSchema", self.json_schema(2)))
            elif c < 93:
                d.items.append((self.pick(["$where", "$text", "$comment", "$alwaysTrue", "$alwaysFalse",
                                           "$sampleRate", "$bogus", "$", "$and"]), self.value(1)))
            elif c < 95:
                d.items.append((self.field(), self.scalar()))
            elif c < 98:
                d.items.append((self.field(), self.big.pick_big(r)))
            else:
                d.items.append(("$and", self.big.deep_and[self.pick(list(self.big.deep_and))]))
        return d

    def json_schema(self, depth):
        keys = ["bsonType", "type", "required", "properties", "minimum", "maximum", "enum", "items",
                "additionalProperties", "pattern", "minLength", "maxLength", "minItems", "maxItems",
                "uniqueItems", "allOf", "anyOf", "oneOf", "not", "multipleOf", "exclusiveMinimum",
                "patternProperties", "dependencies", "description", "title", "$bogus", "minProperties"]
        d = Doc()
        for _ in range(self.r.randrange(4)):
            k = self.pick(keys)
            if k == "properties" and depth > 0:
                v = {self.field(): self.json_schema(depth - 1) for _ in range(self.r.randrange(3))}
            elif k in ("allOf", "anyOf", "oneOf") and depth > 0:
                v = [self.json_schema(depth - 1) for _ in range(self.r.randrange(3))]
            elif k == "not" and depth > 0:
                v = self.json_schema(depth - 1)
            elif k in ("bsonType", "type"):
                v = self.pick(TYPE_NAMES + [["int", "string"], [], 1])
            elif k == "required":
                v = self.pick([["a"], [], ["a", "a"], "a", [1]])
            else:
                v = self.scalar()
            d.items.append((k, v))
        return d

    # -- expressions -----------------------------------------------------------------------
    def expr(self, depth=3):
        r = self.r
        c = r.randrange(100)
        if depth <= 0 or c < 30:
            return self.pick(["$a", "$b", "$arr", "$sub", "$sub.x", "$_id", "$$ROOT", "$$CURRENT", "$n", "$d",
                              "$$NOW", "$$REMOVE", "$nope"]) if self.chance(0.5) else self.scalar()
        if c < 88:
            op = self.pick(list(EXPR_OPS))
            arity = EXPR_OPS[op]
            if arity == "obj":
                keys = EXPR_OBJ_ARGS.get(op, ["input"])
                d = Doc()
                for k in keys:
                    if self.chance(0.8):
                        d.items.append((k, self.expr_arg(op, k, depth - 1)))
                if self.chance(0.1):
                    d.items.append((self.pick(["bogus", "$x", ""]), 1))
                return Doc([(op, d)])
            if arity is None:
                n = r.randrange(5)
            else:
                n = arity if self.chance(0.85) else r.randrange(5)
            args = [self.expr(depth - 1) for _ in range(n)]
            if n == 1 and self.chance(0.5):
                return Doc([(op, args[0])])
            return Doc([(op, args)])
        if c < 93:
            return {self.field(0.95): self.expr(depth - 1) for _ in range(r.randrange(3))}
        if c < 96 or not BOMBS:
            return [self.expr(depth - 1) for _ in range(r.randrange(4))]
        return self.bomb()

    def expr_arg(self, op, k, depth):
        if k in ("as",):
            return self.pick(["e", "this", "x", "", "ROOT", "CURRENT", "1bad", "a.b", "$e", 1])
        if k == "vars":
            return {self.pick(["v", "x", "e", "ROOT", "", "1x", "NOW"]): self.expr(depth) for _ in range(2)}
        if k == "in" or k == "cond":
            return self.pick(["$$this", "$$value", "$$e", "$$x", "$$v"]) if self.chance(0.4) else self.expr(depth)
        if k == "unit":
            return self.pick(DATE_UNITS)
        if k == "timezone":
            return self.pick(TIMEZONES)
        if k == "format":
            return self.pick(DATE_FORMATS)
        if k == "to":
            return self.pick(["int", "long", "double", "decimal", "string", "bool", "date", "objectId", 1, 16, 99,
                              "bogus", {"type": "binData", "subtype": 4}])
        if k in ("regex",):
            return self.pick(REGEXES + ["a(", "^x"])
        if k == "branches":
            return [{"case": self.expr(depth), "then": self.expr(depth)} for _ in range(self.r.randrange(3))]
        if k == "sortBy":
            return self.pick([1, -1, {"a": 1}, {"a": -1, "b": 1}, {}, 0, "x"])
        if k in ("n", "amount", "binSize", "limit"):
            return self.pick(INTS + [1.5, math.nan, "$a", None])
        if k == "input" and op in ("$reduce", "$map", "$filter") and self.chance(0.3) and BOMBS:
            return {"$range": [0, self.pick([0, 5, 101, 1000, 10000, 100000, 10**7])]}
        return self.expr(depth)

    def bomb(self):
        """Expressions whose result is far deeper or larger than their input."""
        n = self.pick([5, 101, 150, 1000, 5000, 20000, 100000])
        c = self.r.randrange(9)
        if c == 0:  # deep array built by $reduce
            return {"$reduce": {"input": {"$range": [0, n]}, "initialValue": [], "in": ["$$value"]}}
        if c == 1:  # deep document built by $reduce
            return {"$reduce": {"input": {"$range": [0, n]}, "initialValue": {}, "in": {"a": "$$value"}}}
        if c == 2:  # exponential growth by doubling
            return {"$reduce": {"input": {"$range": [0, self.pick([10, 20, 26, 40, 64])]},
                                "initialValue": ["x"], "in": {"$concatArrays": ["$$value", "$$value"]}}}
        if c == 3:
            return {"$range": [0, self.pick([10**6, 10**8, 2**31 - 1, -(2**31)]), self.pick([1, -1, 0, 7])]}
        if c == 4:  # string doubling
            return {"$reduce": {"input": {"$range": [0, self.pick([10, 25, 40])]}, "initialValue": "ab",
                                "in": {"$concat": ["$$value", "$$value"]}}}
        if c == 5:  # deep mergeObjects/setField nesting
            return {"$reduce": {"input": {"$range": [0, n]}, "initialValue": {},
                                "in": {"$mergeObjects": [{"a": "$$value"}, {"b": 1}]}}}
        if c == 6:  # deep $map/$let nesting via arrayToObject/objectToArray round trips
            return {"$reduce": {"input": {"$range": [0, n]}, "initialValue": [],
                                "in": {"$concatArrays": [["$$value"], ["$$this"]]}}}
        if c == 7:  # deep literal via $literal / replaceRoot candidate
            return {"$literal": self.big.deep_docs[self.pick([50, 99, 100])]}
        return {"$reduce": {"input": {"$range": [0, n]}, "initialValue": 0,
                            "in": {"$add": ["$$value", {"$pow": [2, 1023]}]}}}

    # -- projections, sorts, updates -------------------------------------------------------
    def projection(self):
        r = self.r
        d = Doc()
        for _ in range(r.randrange(5)):
            c = r.randrange(100)
            f = self.field(0.6)
            if c < 40:
                d.items.append((f, self.pick([1, 0, True, False, -1, 2, 0.5, "x", None])))
            elif c < 55:
                d.items.append((f, {"$slice": self.pick([1, -1, 0, [1, 2], [-5, 2], [0, -1], [2**31, 1], "x",
                                                         [1, 2, 3], 2**63 - 1, -(2**63)])}))
            elif c < 65:
                d.items.append((f, {"$elemMatch": self.filter(1)}))
            elif c < 70:
                d.items.append((f + ".$", self.pick([1, 0, True])))
            elif c < 75:
                d.items.append((f, {"$meta": self.pick(["textScore", "indexKey", "searchScore", "x", 1])}))
            elif c < 93:
                d.items.append((f, self.expr(2)))
            else:
                d.items.append((self.weird_key(), self.pick([1, 0, {}])))
        return d

    def sort(self):
        d = Doc()
        for _ in range(self.r.randrange(4)):
            if self.chance(0.85):
                d.items.append((self.field(0.9), self.pick([1, -1])))
            else:
                d.items.append((self.field(), self.pick([0, 2, "x", True, None, {"$meta": "textScore"},
                                                         {}, 1.5, -1.0, B.I64(-1)])))
        return d

    def update_doc(self):
        r = self.r
        c = r.randrange(100)
        if c < 10:  # replacement
            return self.data_doc(wild=0.5)
        if c < 20:  # pipeline update
            return [self.stage(1, update_pipeline=True) for _ in range(r.randrange(3))]
        d = Doc()
        for _ in range(r.randint(1, 3)):
            op = self.pick(CORE_UPDATE_OPS) if self.chance(0.9) else self.pick(UPDATE_OPS)
            fields = Doc()
            for _ in range(r.randint(1, 3) if self.chance(0.9) else 0):
                f = self.field(0.85) if self.chance(0.97) else self.pick(DEEP_PATHS)
                fields.items.append((f, self.update_arg(op)))
            d.items.append((op, fields if self.chance(0.95) else self.value(1)))
        return d

    def update_arg(self, op):
        if op in ("$inc", "$mul"):
            return self.pick(INTS + DOUBLES + DECIMALS + ["x", None])
        if op == "$unset":
            return self.pick(["", 1, True, {}])
        if op == "$rename":
            return self.pick(["b", "a", "a.b", "sub.x", "", "$x", "arr.0", "c", 1, "a" * 300])
        if op == "$currentDate":
            return self.pick([True, False, {"$type": "date"}, {"$type": "timestamp"}, {"$type": "x"}, 1])
        if op == "$pop":
            return self.pick([1, -1, 0, 2, "x", 1.5])
        if op == "$bit":
            return {self.pick(["and", "or", "xor", "nand", ""]): self.pick([1, B.I64(-1), 1.5, "x", -1])}
        if op in ("$push", "$addToSet"):
            if self.chance(0.5):
                d = Doc([("$each", [self.scalar() for _ in range(self.r.randrange(4))]
                          if self.chance(0.9) else self.big.pick_big(self.r))])
                if self.chance(0.5):
                    d.items.append(("$slice", self.pick([0, 1, -1, 2**31 - 1, -(2**31), 1.5, "x", 2**63 - 1])))
                if self.chance(0.4):
                    d.items.append(("$sort", self.pick([1, -1, {"a": 1}, {"": 1}, 0, "x", {"a.b": -1}])))
                if self.chance(0.4):
                    d.items.append(("$position", self.pick([0, -1, 1, 2**31 - 1, -(2**31), -(2**63), "x"])))
                return d
            return self.value(2)
        if op in ("$pull",):
            return self.filter(1) if self.chance(0.5) else self.scalar()
        if op == "$pullAll":
            return [self.scalar() for _ in range(self.r.randrange(3))]
        if self.chance(0.05):
            return self.big.pick_big(self.r)
        return self.value(2)

    def array_filters(self):
        return [Doc([(self.pick(["e", "e.a", "x", "E", "", "e.$", "1"]), self.scalar() if self.chance(0.5)
                      else self.op_doc(1))]) for _ in range(self.r.randrange(3))]

    # -- aggregation -----------------------------------------------------------------------
    def accumulator(self):
        op = self.pick(ACCUMULATORS)
        if op in ("$topN", "$bottomN", "$firstN", "$lastN", "$maxN", "$minN", "$top", "$bottom"):
            arg = Doc([("output", self.expr(1)), ("n", self.pick([1, 3, 0, -1, "x", 2**40])),
                       ("sortBy", self.sort()), ("input", self.expr(1))])
            if self.chance(0.3):
                arg.items.pop(self.r.randrange(len(arg.items)))
        elif op == "$count":
            arg = self.pick([{}, 1, {"x": 1}])
        elif op in ("$percentile", "$median"):
            arg = {"input": self.expr(1), "p": self.pick([[0.5], [0, 1], [2], [], "x"]),
                   "method": self.pick(["approximate", "exact", "x"])}
        else:
            arg = self.expr(2)
        return Doc([(op, arg)])

    def stage(self, depth=2, update_pipeline=False):
        r = self.r
        name = self.pick(["$set", "$addFields", "$project", "$unset", "$replaceRoot", "$replaceWith"]
                         if update_pipeline else STAGES)
        if name == "$match":
            v = self.filter(2)
        elif name in ("$project",):
            v = self.projection()
        elif name in ("$addFields", "$set"):
            v = Doc((self.field(0.8), self.expr(2)) for _ in range(r.randrange(4)))
        elif name == "$unset":
            v = self.pick([self.field(), [self.field(), self.field()], [], "", 1, ["$a"]])
        elif name == "$sort":
            v = self.sort()
        elif name in ("$limit", "$skip"):
            v = self.pick(INTS + [1.5, "x", math.nan, B.DEC_ONE])
        elif name == "$sample":
            v = {"size": self.pick([1, 0, -1, 10**9, "x"])}
        elif name == "$group":
            v = Doc([("_id", self.expr(1))])
            for _ in range(r.randrange(4)):
                v.items.append((self.field(0.9), self.accumulator()))
        elif name == "$unwind":
            v = self.pick(["$arr", "$a", "$sub.y", "arr", "$", "", "$$ROOT", 1,
                           {"path": self.pick(["$arr", "$a", "$nope", "arr", "$a.b"]),
                            "includeArrayIndex": self.pick(["i", "arr", "a.b", "$i", "", 1, "_id"]),
                            "preserveNullAndEmptyArrays": self.pick([True, False, 1, "x"])}])
        elif name == "$count":
            v = self.pick(["n", "", "$n", "a.b", 1, "_id", "x" * 300])
        elif name in ("$replaceRoot",):
            v = {"newRoot": self.expr(2)} if self.chance(0.8) else self.expr(1)
        elif name in ("$replaceWith", "$sortByCount"):
            v = self.expr(2)
        elif name == "$documents":
            v = [self.data_doc(wild=0.4) for _ in range(r.randrange(4))] if self.chance(0.8) else self.expr(1)
        elif name in ("$facet",) and depth > 0:
            v = {self.field(): [self.stage(depth - 1) for _ in range(r.randrange(3))] for _ in range(2)}
        elif name == "$lookup":
            v = {"from": self.pick(DATA_COLLS + ["x"]), "localField": self.field(), "foreignField": self.field(),
                 "as": self.field(), "pipeline": [self.stage(0) for _ in range(r.randrange(2))]}
        elif name == "$unionWith":
            v = self.pick(DATA_COLLS + [{"coll": "c2", "pipeline": [self.stage(0)]}])
        elif name == "$bucket":
            v = {"groupBy": self.expr(1), "boundaries": self.pick([[0, 5, 10], [], [5, 1], ["a", 1]]),
                 "default": "other", "output": {"n": self.accumulator()}}
        elif name == "$setWindowFields":
            v = {"partitionBy": self.expr(1), "sortBy": self.sort(),
                 "output": {"w": Doc([*self.accumulator().items, ("window", {"documents": [-1, 1]})])}}
        else:
            v = self.value(2)
        return Doc([(name, v)])

    def pipeline(self):
        n = self.r.randrange(5)
        return [self.stage() for _ in range(n)]

    # -- commands --------------------------------------------------------------------------
    def coll(self, write=False):
        if self.chance(0.1):
            return self.pick(COLL_NAMES)
        if write and self.chance(0.95):
            return self.pick(DATA_COLLS)
        return self.pick(DATA_COLLS + DATA_COLLS + VIEW_COLLS)

    def db(self):
        return self.pick(DB_NAMES) if self.chance(0.15) else DATA_DB

    def user_name(self):
        if self.users and self.chance(0.6):
            return self.pick(self.users)
        return USER_PREFIX + self.pick(["u1", "u2", "u3", "x", "weird\"name", "ü", "a" * 60, "a.b", "$u"])

    def roles(self):
        roles = ["read", "readWrite", "dbAdmin", "dbOwner", "readAnyDatabase", "readWriteAnyDatabase", "root",
                 "userAdmin", "userAdminAnyDatabase", "clusterAdmin", "backup", "__system", "bogus", "", "pg_read_all_data"]
        out = []
        for _ in range(self.r.randrange(4)):
            c = self.r.randrange(10)
            if c < 6:
                out.append(self.pick(roles))
            elif c < 9:
                out.append(Doc([("role", self.pick(roles)), ("db", self.pick(["admin", DATA_DB, "", 1]))]))
            else:
                out.append(self.value(1))
        return out

    def command(self, name=None):
        """A (mostly) valid command document; name picks the kind."""
        r = self.r
        kinds = ["insert", "update", "delete", "find", "aggregate", "count", "distinct", "findAndModify",
                 "createIndexes", "dropIndexes", "create", "drop", "collMod", "renameCollection",
                 "listCollections", "listIndexes", "createUser", "updateUser", "dropUser", "usersInfo",
                 "getMore", "killCursors", "listDatabases", "explain", "dbStats", "collStats",
                 "connectionStatus", "dropDatabase"]
        name = name or self.pick(kinds)
        c = self.coll(write=name in ("insert", "update", "delete", "findAndModify", "createIndexes", "dropIndexes"))
        d = Doc()
        if name == "insert":
            d.items = [("insert", c), ("documents", [self.data_doc(wild=0.15) for _ in range(r.randint(1, 4)
                                                                                              if self.chance(0.95) else 0)])]
            if self.chance(0.3):
                d.items.append(("ordered", self.pick([True, False])))
            if self.chance(0.05):
                d.items.append(("documents", [self.big.pick_big(r)]))
        elif name == "update":
            ups = []
            for _ in range(r.randint(1, 3) if self.chance(0.95) else 0):
                u = Doc([("q", self.filter(2)), ("u", self.update_doc())])
                if self.chance(0.4):
                    u.items.append(("multi", self.pick([True, False])))
                if self.chance(0.3):
                    u.items.append(("upsert", self.pick([True, False])))
                if self.chance(0.2):
                    u.items.append(("arrayFilters", self.array_filters()))
                if self.chance(0.03):
                    u.items.append(("collation", {"locale": self.pick(["simple", "en", "x"])}))
                ups.append(u)
            d.items = [("update", c), ("updates", ups)]
            if self.chance(0.2):
                d.items.append(("let", {"v": self.scalar(), "w": self.expr(1)}))
            if self.chance(0.2):
                d.items.append(("ordered", self.pick([True, False])))
        elif name == "delete":
            d.items = [("delete", c), ("deletes", [Doc([("q", self.filter(2)),
                                                        ("limit", self.pick([0, 1] * 8 + [2, -1, 1.0, True]))])
                                                   for _ in range(r.randint(1, 3) if self.chance(0.95) else 0)])]
        elif name == "find":
            d.items = [("find", c)]
            for k, gen in (("filter", self.filter), ("projection", self.projection), ("sort", self.sort)):
                if self.chance(0.6):
                    d.items.append((k, gen()))
            for k in ("limit", "skip", "batchSize"):
                if self.chance(0.3):
                    d.items.append((k, self.pick([0, 1, 2, 5, 101, 0, 1, 2, 5, 101, -1, 2**31 - 1, 2**63 - 1, 1.5])))
            if self.chance(0.2):
                d.items.append(("singleBatch", self.pick([True, False])))
            if self.chance(0.15):
                d.items.append(("let", {"v": self.scalar()}))
            if self.chance(0.1):
                d.items.append(("hint", self.pick(["_id_", {"a": 1}, "x"])))
        elif name == "aggregate":
            d.items = [("aggregate", c if self.chance(0.85) else 1), ("pipeline", self.pipeline()),
                       ("cursor", {"batchSize": self.pick([0, 1, 2, 101])} if self.chance(0.5) else {})]
            if self.chance(0.15):
                d.items.append(("let", {"v": self.scalar(), "w": self.expr(1)}))
            if self.chance(0.03):
                d.items.append(("explain", True))
        elif name == "count":
            d.items = [("count", c), ("query", self.filter(2))]
            if self.chance(0.3):
                d.items.append(("limit", self.pick([0, 1, -1, 2**63 - 1])))
            if self.chance(0.3):
                d.items.append(("skip", self.pick([0, 1, 2**63 - 1])))
        elif name == "distinct":
            d.items = [("distinct", c), ("key", self.field(0.6)), ("query", self.filter(2))]
        elif name == "findAndModify":
            d.items = [("findAndModify", c), ("query", self.filter(2))]
            if self.chance(0.3):
                d.items.append(("remove", True))
            else:
                d.items.append(("update", self.update_doc()))
            for k, v in (("new", lambda: self.pick([True, False])), ("upsert", lambda: self.pick([True, False])),
                         ("sort", self.sort), ("fields", self.projection), ("arrayFilters", self.array_filters),
                         ("let", lambda: {"v": self.scalar()})):
                if self.chance(0.3):
                    d.items.append((k, v()))
        elif name == "createIndexes":
            idx = []
            for _ in range(r.randint(1, 3) if self.chance(0.95) else 0):
                key = Doc((self.field(0.85), self.pick([1, -1] * 6 + ["text", "2dsphere", "hashed", "2d", 0, "x", 1.5,
                                                                      True, {}, B.I64(1)]))
                          for _ in range(r.randint(1, 3) if self.chance(0.95) else 0))
                spec = Doc([("key", key), ("name", self.pick(["i1", "i2", "i3", "a_1", "b_1", "_id_", "", "x" * 200]))])
                if self.chance(0.3):
                    spec.items.append(("unique", self.pick([True, False])))
                if self.chance(0.2):
                    spec.items.append(("sparse", True))
                if self.chance(0.2):
                    spec.items.append(("partialFilterExpression", self.filter(1)))
                if self.chance(0.02):
                    spec.items.append(("expireAfterSeconds", 10))
                idx.append(spec)
            d.items = [("createIndexes", c), ("indexes", idx)]
        elif name == "dropIndexes":
            d.items = [("dropIndexes", c), ("index", self.pick(["*", "i1", "a_1", "_id_", {"a": 1}, ["i1", "i2"],
                                                                  [], 1, ""]))]
        elif name == "create":
            d.items = [("create", self.pick(["new1", "new2", "v1", "v2", "tmp"] + COLL_NAMES))]
            if self.chance(0.4):
                d.items += [("viewOn", self.coll()), ("pipeline", self.pipeline())]
            if self.chance(0.3):
                d.items += [("validator", self.filter(2)),
                            ("validationLevel", self.pick(["strict", "moderate", "off", "x"])),
                            ("validationAction", self.pick(["error", "warn", "x"]))]
            if self.chance(0.1):
                d.items.append(("capped", True))
        elif name == "drop":
            d.items = [("drop", self.pick(["new1", "new2", "tmp", "v2"] + COLL_NAMES))]
        elif name == "collMod":
            d.items = [("collMod", c)]
            if self.chance(0.6):
                d.items += [("validator", self.filter(2)),
                            ("validationLevel", self.pick(["strict", "moderate", "off", "x"]))]
            if self.chance(0.3):
                d.items += [("viewOn", self.coll()), ("pipeline", self.pipeline())]
        elif name == "renameCollection":
            d.items = [("renameCollection", "%s.%s" % (DATA_DB, self.pick(["new1", "new2", "tmp"] + COLL_NAMES))),
                       ("to", "%s.%s" % (self.pick([DATA_DB, DATA_DB, "hunt2", "x"]),
                                         self.pick(["new1", "new2", "tmp"] + COLL_NAMES))),
                       ("dropTarget", self.pick([True, False]))]
        elif name == "listCollections":
            d.items = [("listCollections", 1), ("filter", self.filter(1)), ("nameOnly", self.pick([True, False]))]
        elif name == "listIndexes":
            d.items = [("listIndexes", c)]
        elif name == "createUser":
            u = self.user_name()
            d.items = [("createUser", u), ("pwd", self.pick(["pw", "", "x" * 1000, "pässwörd", "a\x00b"])),
                       ("roles", self.roles())]
            if self.chance(0.3):
                d.items.append(("customData", self.value(2)))
            if self.chance(0.2):
                d.items.append(("mechanisms", self.pick([["SCRAM-SHA-256"], ["SCRAM-SHA-1"], ["MD5"], []])))
            d.items.append(("$db", self.pick(["admin", DATA_DB])))
        elif name == "updateUser":
            d.items = [("updateUser", self.user_name())]
            if self.chance(0.5):
                d.items.append(("roles", self.roles()))
            if self.chance(0.4):
                d.items.append(("pwd", self.pick(["pw2", "", "x"])))
            if self.chance(0.3):
                d.items.append(("customData", self.value(2)))
            d.items.append(("$db", self.pick(["admin", DATA_DB])))
        elif name == "dropUser":
            d.items = [("dropUser", self.user_name()), ("$db", "admin")]
        elif name == "usersInfo":
            d.items = [("usersInfo", self.pick([1, self.user_name(), {"user": self.user_name(), "db": "admin"},
                                                [self.user_name(), {"user": "x", "db": "y"}], 1.5, None]))]
            if self.chance(0.3):
                d.items.append(("showCredentials", True))
        elif name == "getMore":
            d.items = [("getMore", B.I64(self.pick(self.cursor_ids))), ("collection", c)]
            if self.chance(0.5):
                d.items.append(("batchSize", self.pick([1, 0, 2, 101, -1])))
        elif name == "killCursors":
            d.items = [("killCursors", c), ("cursors", [B.I64(self.pick(self.cursor_ids))])]
        elif name == "listDatabases":
            d.items = [("listDatabases", 1), ("nameOnly", self.pick([True, False])), ("filter", self.filter(1))]
        elif name == "explain":
            inner = self.command(self.pick(["find", "aggregate", "count", "distinct", "update", "delete",
                                            "findAndModify"]))
            d.items = [("explain", inner), ("verbosity", self.pick(["queryPlanner", "executionStats",
                                                                     "allPlansExecution", "x"]))]
        elif name == "dbStats":
            d.items = [("dbStats", 1), ("scale", self.pick([1, 1024, 0, -1]))]
        elif name == "collStats":
            d.items = [("collStats", c), ("scale", self.pick([1, 1024, 0, -1]))]
        elif name == "dropDatabase":
            d.items = [("dropDatabase", 1)]
        else:
            d.items = [(name, 1)]
        if self.chance(0.1):
            d.items.append(("$db", self.db()))
        if self.chance(0.05):
            d.items.append(("lsid", {"id": B.Bin(b"\x01" * 16, 4)}))
        return d

    # -- mutations -------------------------------------------------------------------------
    def _containers(self, v, path, out, depth=0):
        """Collects (container, index) pairs of every element reachable in v (bounded)."""
        if depth > 6 or len(out) > 200:
            return
        if type(v) is Doc:
            for i in range(len(v.items)):
                out.append((v, i))
                self._containers(v.items[i][1], path, out, depth + 1)
        elif type(v) is dict:
            pass  # dicts are converted before mutation
        elif type(v) is list:
            for i in range(len(v)):
                out.append((v, i))
                self._containers(v[i], path, out, depth + 1)

    @staticmethod
    def to_docs(v):
        """Converts dicts to Doc recursively (so mutations can edit in place)."""
        t = type(v)
        if t is dict:
            return Doc((k, Gen.to_docs(x)) for k, x in v.items())
        if t is Doc:
            return Doc((k, Gen.to_docs(x)) for k, x in v.items)
        if t is list or t is tuple:
            return [Gen.to_docs(x) for x in v]
        return v

    def mutate(self, doc, rounds=None):
        """Applies 1-4 random structural mutations to a command/document (Doc)."""
        doc = self.to_docs(doc)
        for _ in range(rounds or self.r.randint(1, 4)):
            places = []
            self._containers(doc, (), places)
            c = self.r.randrange(100)
            if not places:
                if type(doc) is Doc:
                    doc.items.append((self.weird_key() if self.chance(0.5) else self.field(), self.value(2)))
                elif type(doc) is list:
                    doc.append(self.value(2))
                continue
            cont, i = self.pick(places)
            is_doc = type(cont) is Doc
            cur = cont.items[i][1] if is_doc else cont[i]
            if c < 35:
                new = self.other_type(cur)
            elif c < 45:
                new = self.big.pick_big(self.r)
            elif c < 55:
                new = self.pick([{}, [], Doc(), None, "", 0, [[]], [{}], {"": {}}])
            elif c < 62:
                new = self.value(3)
            elif c < 70:
                new = B.Str(self.invalid_utf8())
            elif c < 75:
                new = self.pick(DECIMALS + DATES + DOUBLES + INTS)
            else:
                new = None
            if c < 75:
                if is_doc:
                    cont.items[i] = (cont.items[i][0], new)
                else:
                    cont[i] = new
            elif c < 82:  # remove
                if is_doc:
                    cont.items.pop(i)
                else:
                    cont.pop(i)
            elif c < 88:  # unknown / weird key
                if is_doc:
                    cont.items.insert(self.r.randrange(len(cont.items) + 1), (self.weird_key(), self.scalar()))
                else:
                    cont.append(self.scalar())
            elif c < 92:  # duplicate
                if is_doc:
                    cont.items.append(cont.items[i])
                else:
                    cont.append(cur)
            elif c < 96 and is_doc:  # rename key
                cont.items[i] = (self.weird_key() if self.chance(0.5) else self.field(0.3), cur)
            else:  # swap order
                if is_doc and len(cont.items) > 1:
                    self.r.shuffle(cont.items)
        return doc

    def corrupt_bytes(self, data):
        """Byte-level damage: the validator must reject it (never crash)."""
        b = bytearray(data)
        c = self.r.randrange(8)
        if c == 0 and len(b) > 5:
            return bytes(b[: self.r.randrange(len(b))])
        if c == 1:
            struct.pack_into("<i", b, 0, self.pick([0, 4, 5, -1, 2**31 - 1, len(b) + 1, len(b) - 1]))
            return bytes(b)
        if c == 2 and len(b) > 5:
            i = self.r.randrange(4, len(b) - 1)
            b[i] = self.pick([0x00, 0x14, 0x15, 0x80, 0xFE, 0x7E, 0x13, 0x03, 0x04, 0x0F])
            return bytes(b)
        if c == 3:
            return bytes(b) + self.r.randbytes(self.r.randrange(1, 20))
        if c == 4 and len(b) > 5:
            for _ in range(self.r.randint(1, 5)):
                b[self.r.randrange(len(b))] = self.r.randrange(256)
            return bytes(b)
        if c == 5:
            return self.r.randbytes(self.r.randrange(0, 64))
        if c == 6:
            return self.pick([b"", b"\x05\x00\x00\x00\x00", b"\x05\x00\x00\x00\x01", b"\x04\x00\x00\x00",
                              b"\x06\x00\x00\x00\x0a\x00", b"\xff\xff\xff\x7f\x00"])
        # a length inside: find a string element and break its length
        i = b.find(b"\x02")
        if 4 <= i < len(b) - 8:
            j = b.find(b"\x00", i + 1)
            if 0 < j < len(b) - 5:
                struct.pack_into("<i", b, j + 1, self.pick([0, -1, 2**31 - 1, 1]))
        return bytes(b)
