-- documentdb_core.bson: text I/O, comparison order, access, conversions, errors.
SET search_path TO documentdb_core, public;
\set SHOW_CONTEXT never

-- Every BSON type through canonical Extended JSON, with libbson spacing.
SELECT '{ "_id" : { "$oid" : "5f1d7f4e8b3e4a2b9c8d7e6f" }, "i" : { "$numberInt" : "1" },
          "l" : { "$numberLong" : "-9223372036854775808" }, "d" : { "$numberDouble" : "-0.0" },
          "nan" : { "$numberDouble" : "NaN" }, "inf" : { "$numberDouble" : "-Infinity" },
          "big" : 1e300, "small" : 5e-324, "dec" : { "$numberDecimal" : "1.50E+3" },
          "s" : "quote \" backslash \\ tab \t unicode é \u0001", "t" : true, "n" : null,
          "date" : { "$date" : { "$numberLong" : "1356351330501" } },
          "bin" : { "$binary" : { "base64" : "AQID", "subType" : "80" } },
          "uuid" : { "$uuid" : "00112233-4455-6677-8899-aabbccddeeff" },
          "re" : { "$regularExpression" : { "pattern" : "^a.*", "options" : "mi" } },
          "ts" : { "$timestamp" : { "t" : 42, "i" : 7 } }, "min" : { "$minKey" : 1 },
          "max" : { "$maxKey" : 1 }, "u" : { "$undefined" : true }, "sym" : { "$symbol" : "x" },
          "code" : { "$code" : "f()" }, "cws" : { "$code" : "g()", "$scope" : { "a" : 1 } },
          "ptr" : { "$dbPointer" : { "$ref" : "db.c", "$id" : { "$oid" : "5f1d7f4e8b3e4a2b9c8d7e6f" } } },
          "arr" : [ 1, [ ], { } ], "doc" : { "nested" : { "deep" : [ ] } } }'::bson;

-- Relaxed forms and legacy forms are accepted on input.
SELECT '{"a": 1, "b": 2147483648, "c": 1.5, "d": {"$date": "2012-12-24T12:15:30.501Z"},
         "e": {"$date": 1356351330501}, "f": {"$regex": "x", "$options": "i"},
         "g": {"$binary": "AQID", "$type": "00"}, "q": {"$gt": 1, "$in": [1, 2]}}'::bson;
SELECT 'BSONHEX0c0000001061000100000000'::bson;

-- Comparison follows MongoDB's order: numbers by value across types, then type order.
SELECT '{"a": 1}'::bson = '{"a": {"$numberDecimal": "1.0"}}'::bson AS int_eq_decimal,
       '{"a": {"$numberLong": "9007199254740993"}}'::bson > '{"a": 9007199254740992.0}'::bson AS long_gt_double,
       '{"a": {"$numberDouble": "NaN"}}'::bson < '{"a": {"$numberDouble": "-Infinity"}}'::bson AS nan_lowest,
       '{"a": null}'::bson < '{"a": 0}'::bson AS null_lt_number,
       '{"a": "z"}'::bson < '{"a": {}}'::bson AS string_lt_object,
       '{"a": [1]}'::bson > '{"a": {"x": 1}}'::bson AS array_gt_object,
       '{"a": 1}'::bson < '{"b": 1}'::bson AS field_name_order,
       '{"a": 1}'::bson < '{"a": 1, "b": 1}'::bson AS shorter_first;

SELECT v FROM (VALUES ('{"v": true}'::bson), ('{"v": "b"}'), ('{"v": 2.5}'), ('{"v": {"$minKey": 1}}'),
                      ('{"v": null}'), ('{"v": [1]}'), ('{"v": {"$date": {"$numberLong": "1"}}}'),
                      ('{"v": {"$oid": "5f1d7f4e8b3e4a2b9c8d7e6f"}}'), ('{"v": {"$maxKey": 1}}'),
                      ('{"v": 1}'), ('{"v": {"a": 1}}')) t(v)
ORDER BY v;

-- Hashes agree for equal values of different numeric types.
SELECT bson_hash_int4('{"a": 1}') = bson_hash_int4('{"a": {"$numberLong": "1"}}') AS same_hash;

-- Field access.
SELECT '{"a": [1, {"b": 2}]}'::bson -> 'a' AS arrow;
SELECT '{"a": {"b": {"c": "deep"}}}'::bson ->> 'a.b.c' AS text_path,
       ('{"n": {"$numberLong": "11"}}'::bson ->> 'n')::int8 + 1 AS as_int8,
       '{"a": [{"b": 1}, {"b": 2}]}'::bson -> 'a.b' AS through_array,
       '{"a": [10, 20]}'::bson ->> 'a.1' AS index_component,
       '{"a": 1}'::bson -> 'missing' IS NULL AS missing_is_null;
SELECT bson_get_value_text('{"d": {"$date": "2024-01-01T00:00:00Z"}}', 'd');
SELECT * FROM bson_object_keys('{"z": 1, "a": 2}');

-- Building documents from SQL values.
SELECT bson_build_document('i', 1, 'l', 10000000000, 't', 'text'::text, 'f', 2.5::float8, 'b', false,
                           'n', NULL::int, 'ts', '2024-01-01 00:00:00+00'::timestamptz,
                           'arr', ARRAY['x', 'y'], 'v', '{"a": {"x": 1}}'::bson -> 'a');
SELECT row_get_bson(r) FROM (SELECT 1 AS id, 'one'::text AS name, '{"k": 1}'::bson AS doc) r;
SELECT bson_array_agg(b, 'items') FROM (VALUES ('{"a": 1}'::bson), ('{"a": 2}')) t(b);

-- Conversions.
SELECT '{"a": 1, "b": [true, 2.5, "x"], "c": {"$numberLong": "3"}}'::bson::jsonb AS to_jsonb;
SELECT '{"a": 1, "b": [1, 2]}'::jsonb::bson AS from_jsonb;
SELECT encode(bson_to_bytea('{"a": 1}'), 'hex') AS bytes;
SELECT decode('0c0000001061000100000000', 'hex')::bson AS from_bytea;
SELECT '[{"a": 1}, {"b": "x"}]'::bsonsequence AS sequence;
SELECT bson_to_bson_hex('{"a": 1}');

-- Bad input gets a clear error with a MongoDB code (SQLSTATE class M) and never crashes.
SELECT '{"a": }'::bson;
\echo :LAST_ERROR_SQLSTATE
SELECT '{"a": 1'::bson;
\echo :LAST_ERROR_SQLSTATE
SELECT '[1, 2]'::bson;
\echo :LAST_ERROR_SQLSTATE
SELECT '{"a": {"$numberInt": "2147483648"}}'::bson;
\echo :LAST_ERROR_SQLSTATE
SELECT '{"a": {"$oid": "xyz"}}'::bson;
\echo :LAST_ERROR_SQLSTATE
SELECT '{"a": "\ud800"}'::bson;
\echo :LAST_ERROR_SQLSTATE
SELECT '{"a\u0000b": 1}'::bson;
\echo :LAST_ERROR_SQLSTATE
SELECT decode('0600000000', 'hex')::bson;
\echo :LAST_ERROR_SQLSTATE
SELECT decode('0d000000026100ff0000000000', 'hex')::bson;
\echo :LAST_ERROR_SQLSTATE
SELECT decode('0f00000002610003000000c3280000', 'hex')::bson; -- invalid UTF-8
\echo :LAST_ERROR_SQLSTATE
SELECT (repeat('{"a":', 102) || '1' || repeat('}', 102))::bson;
\echo :LAST_ERROR_SQLSTATE
SELECT length(bson_to_bytea((repeat('{"a":', 101) || '1' || repeat('}', 101))::bson)) AS depth_100_ok;
SELECT ('{"s": "' || repeat('x', 17 * 1024 * 1024) || '"}')::bson;
\echo :LAST_ERROR_SQLSTATE

-- Keys of type name (a fixed-length C string by reference, not a varlena) used to be read
-- as a varlena and crashed the backend.
SELECT bson_build_document('k'::name, 'v'::name);
SELECT bson_build_document(rolname, 1) FROM pg_roles WHERE rolname = 'pg_monitor';
-- A built document is validated as a whole: nesting valid values one level deeper than
-- MongoDB's 100 levels is Overflow (15).
SELECT bson_build_document('a', (repeat('{"a": ', 100) || '1' || repeat('}', 100))::bson) IS NOT NULL AS built;
SELECT bson_build_document('a', (repeat('{"a": ', 101) || '1' || repeat('}', 101))::bson);
\echo :LAST_ERROR_SQLSTATE
