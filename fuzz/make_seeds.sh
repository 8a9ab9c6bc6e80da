#!/usr/bin/env bash
# Writes a small seed corpus for both targets into fuzz/corpus/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/bson_text corpus/bson_bytes
i=0
while IFS= read -r line; do
  [ -z "$line" ] && continue
  printf '%s' "$line" > "corpus/bson_text/seed$i.json"
  i=$((i + 1))
done <<'JSON'
{}
{"a": 1, "b": -2147483649, "c": 1.5e300, "d": "x\u0000\ud83d\ude00\n", "e": [true, false, null], "f": {"g": {}}}
{"o": {"$oid": "5f1d3a6a8b9c0d1e2f3a4b5c"}, "s": {"$symbol": "s"}, "i": {"$numberInt": "7"}, "l": {"$numberLong": "-7"}}
{"d": {"$numberDouble": "-0.0"}, "n": {"$numberDouble": "NaN"}, "m": {"$numberDecimal": "1.23E+20"}, "u": {"$undefined": true}}
{"b": {"$binary": {"base64": "//8=", "subType": "02"}}, "c": {"$binary": "AQID", "$type": "80"}, "u": {"$uuid": "73ffd264-44b3-4c69-90e8-e7d1dfc035d4"}}
{"c": {"$code": "f()"}, "w": {"$code": "g", "$scope": {"x": [1]}}, "t": {"$timestamp": {"t": 1, "i": 2}}}
{"r": {"$regularExpression": {"pattern": "^a.*", "options": "xi"}}, "q": {"$regex": "b", "$options": "m"}, "p": {"$dbPointer": {"$ref": "db.c", "$id": {"$oid": "5f1d3a6a8b9c0d1e2f3a4b5c"}}}}
{"d": {"$date": {"$numberLong": "1356351330501"}}, "e": {"$date": "2012-12-24T12:15:30.501+01:00"}, "f": {"$date": -5}, "k": {"$minKey": 1}, "x": {"$maxKey": 1}}
{"q": {"$gt": 1, "$in": [1, 2]}, "r": {"$ref": "c", "$id": 1}, "t": {"$type": "string"}}
BSONHEX0c0000001061000100000000
JSON
# The bytes target starts from the BSON of the JSON seeds that are plain enough to
# write by hand.
printf '\x05\x00\x00\x00\x00' > corpus/bson_bytes/empty
printf '\x0c\x00\x00\x00\x10a\x00\x01\x00\x00\x00\x00' > corpus/bson_bytes/int
printf '\x13\x00\x00\x00\x05x\x00\x06\x00\x00\x00\x02\x02\x00\x00\x00\xff\xff\x00' > corpus/bson_bytes/oldbinary
printf '\x1a\x00\x00\x00\x0fc\x00\x0f\x00\x00\x00\x02\x00\x00\x00x\x00\x05\x00\x00\x00\x00\x03d\x00\x05\x00\x00\x00\x00\x00' > corpus/bson_bytes/codewscope
echo "wrote $i text seeds and 4 byte seeds under fuzz/corpus/"
