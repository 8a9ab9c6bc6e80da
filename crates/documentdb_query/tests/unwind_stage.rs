//! `$unwind` (manual "$unwind (aggregation)"): one document per array element,
//! `includeArrayIndex`, `preserveNullAndEmptyArrays`, dotted paths, specification errors.
use bson::{doc, rawdoc, Bson, Document, RawBsonRef, RawDocumentBuf};
use documentdb_query::unwind::{unwind, Unwind};

fn raw(d: &Document) -> RawDocumentBuf {
    RawDocumentBuf::try_from(d).expect("serializable")
}

fn run(spec: Document, input: Document) -> Vec<Document> {
    let out = unwind(&raw(&input), &raw(&spec)).unwrap_or_else(|e| panic!("{spec:?}: {e:?}"));
    out.iter().map(|d| Document::try_from(d.as_ref()).expect("valid output")).collect()
}

fn spec_err(spec: Bson) -> i32 {
    let holder = raw(&doc! { "s": spec.clone() });
    let value = holder.get("s").expect("valid").expect("present");
    match Unwind::parse(value) {
        Err(e) => e.code.code(),
        Ok(u) => panic!("{spec:?} should fail, got {u:?}"),
    }
}

#[test]
fn unwinds_each_element_in_place() {
    // Manual: "Unwind an Array".
    let input = doc! { "_id": 1, "item": "ABC1", "sizes": ["S", "M", "L"] };
    assert_eq!(
        run(doc! { "path": "$sizes" }, input.clone()),
        vec![
            doc! { "_id": 1, "item": "ABC1", "sizes": "S" },
            doc! { "_id": 1, "item": "ABC1", "sizes": "M" },
            doc! { "_id": 1, "item": "ABC1", "sizes": "L" },
        ]
    );
    // The string form parses the same.
    let u = Unwind::parse(RawBsonRef::String("$sizes")).expect("valid");
    let out = u.apply(&raw(&input)).expect("unwinds");
    assert_eq!(out.len(), 3);
    // Elements keep their type, documents and nested arrays included (one level only).
    assert_eq!(
        run(doc! { "path": "$a" }, doc! { "a": [{ "x": 1 }, [2, 3], null] }),
        vec![doc! { "a": { "x": 1 } }, doc! { "a": [2, 3] }, doc! { "a": null }]
    );
}

#[test]
fn include_array_index_is_a_long_or_null() {
    // Manual: "includeArrayIndex": the index is a NumberLong; null for a non-array value.
    let out = run(doc! { "path": "$sizes", "includeArrayIndex": "arrayIndex" }, doc! { "_id": 1, "sizes": ["S", "M"] });
    assert_eq!(
        out,
        vec![
            doc! { "_id": 1, "sizes": "S", "arrayIndex": Bson::Int64(0) },
            doc! { "_id": 1, "sizes": "M", "arrayIndex": Bson::Int64(1) },
        ]
    );
    let out = run(doc! { "path": "$sizes", "includeArrayIndex": "i" }, doc! { "_id": 3, "sizes": "M" });
    assert_eq!(out, vec![doc! { "_id": 3, "sizes": "M", "i": Bson::Null }]);
    // A dotted index path creates (or replaces a non-document with) embedded documents; an
    // existing field keeps its position.
    let out = run(doc! { "path": "$a", "includeArrayIndex": "m.i" }, doc! { "m": 5, "a": [7], "z": 0 });
    assert_eq!(out, vec![doc! { "m": { "i": Bson::Int64(0) }, "a": 7, "z": 0 }]);
    let out = run(doc! { "path": "$a", "includeArrayIndex": "z" }, doc! { "z": "old", "a": [7] });
    assert_eq!(out, vec![doc! { "z": Bson::Int64(0), "a": 7 }]);
}

#[test]
fn null_missing_and_empty_arrays_are_dropped_by_default() {
    // Manual: without preserveNullAndEmptyArrays, null, missing and [] produce nothing.
    for input in [doc! { "a": null }, doc! { "b": 1 }, doc! { "a": [] }, doc! { "a": Bson::Undefined }] {
        assert_eq!(run(doc! { "path": "$a" }, input.clone()), Vec::<Document>::new(), "{input:?}");
    }
    // A non-array value is treated as a single-element array.
    assert_eq!(run(doc! { "path": "$a" }, doc! { "a": "x" }), vec![doc! { "a": "x" }]);
    assert_eq!(run(doc! { "path": "$a" }, doc! { "a": { "b": 1 } }), vec![doc! { "a": { "b": 1 } }]);
}

#[test]
fn preserve_null_and_empty_arrays() {
    // Manual: preserveNullAndEmptyArrays outputs the document when the path is null,
    // missing or an empty array; the empty array field itself is removed, null stays as is.
    let spec = doc! { "path": "$sizes", "preserveNullAndEmptyArrays": true, "includeArrayIndex": "i" };
    assert_eq!(run(spec.clone(), doc! { "_id": 1, "sizes": null }), vec![doc! { "_id": 1, "sizes": null, "i": null }]);
    assert_eq!(run(spec.clone(), doc! { "_id": 2 }), vec![doc! { "_id": 2, "i": null }]);
    assert_eq!(run(spec.clone(), doc! { "_id": 3, "sizes": [] }), vec![doc! { "_id": 3, "i": null }]);
    assert_eq!(
        run(spec.clone(), doc! { "_id": 4, "sizes": Bson::Undefined }),
        vec![doc! { "_id": 4, "sizes": Bson::Undefined, "i": null }]
    );
    assert_eq!(run(spec.clone(), doc! { "_id": 5, "sizes": "M" }), vec![doc! { "_id": 5, "sizes": "M", "i": null }]);
    assert_eq!(
        run(spec, doc! { "_id": 6, "sizes": ["S"] }),
        vec![doc! { "_id": 6, "sizes": "S", "i": Bson::Int64(0) }]
    );
    // preserveNullAndEmptyArrays: false is the default.
    assert_eq!(
        run(doc! { "path": "$sizes", "preserveNullAndEmptyArrays": false }, doc! { "sizes": [] }),
        Vec::<Document>::new()
    );
}

#[test]
fn nested_dotted_paths() {
    // The empty array at a nested path is removed, its parent stays: {a: {b: []}} -> {a: {}}.
    let preserve = doc! { "path": "$a.b", "preserveNullAndEmptyArrays": true };
    assert_eq!(run(preserve.clone(), doc! { "a": { "b": [] } }), vec![doc! { "a": {} }]);
    assert_eq!(
        run(preserve.clone(), doc! { "a": { "b": [], "c": 1 }, "d": 2 }),
        vec![doc! { "a": { "c": 1 }, "d": 2 }]
    );
    assert_eq!(run(preserve.clone(), doc! { "a": { "b": null } }), vec![doc! { "a": { "b": null } }]);
    assert_eq!(run(preserve.clone(), doc! { "a": 1 }), vec![doc! { "a": 1 }]);
    // Elements replace the array in place, inside the embedded document.
    assert_eq!(
        run(doc! { "path": "$a.b", "includeArrayIndex": "a.i" }, doc! { "a": { "b": [1, 2], "c": 3 } }),
        vec![
            doc! { "a": { "b": 1, "c": 3, "i": Bson::Int64(0) } },
            doc! { "a": { "b": 2, "c": 3, "i": Bson::Int64(1) } },
        ]
    );
    // The path does not traverse arrays: a.b through an array of documents is missing.
    let through_array = doc! { "a": [{ "b": [1, 2] }] };
    assert_eq!(run(doc! { "path": "$a.b" }, through_array.clone()), Vec::<Document>::new());
    assert_eq!(run(preserve, through_array.clone()), vec![through_array]);
    // Numeric components are field names.
    assert_eq!(run(doc! { "path": "$a.0" }, doc! { "a": { "0": [1] } }), vec![doc! { "a": { "0": 1 } }]);
    assert_eq!(run(doc! { "path": "$a.0" }, doc! { "a": [[1]] }), Vec::<Document>::new());
}

#[test]
fn specification_errors_use_mongodb_codes() {
    assert_eq!(spec_err(Bson::Int32(1)), 15981);
    assert_eq!(spec_err(Bson::Document(doc! { "path": 1 })), 28808);
    assert_eq!(spec_err(Bson::Document(doc! { "path": "$a", "preserveNullAndEmptyArrays": 1 })), 28809);
    assert_eq!(spec_err(Bson::Document(doc! { "path": "$a", "includeArrayIndex": 1 })), 28810);
    assert_eq!(spec_err(Bson::Document(doc! { "path": "$a", "includeArrayIndex": "" })), 28810);
    assert_eq!(spec_err(Bson::Document(doc! { "path": "$a", "includeArrayIndex": "$i" })), 28822);
    assert_eq!(spec_err(Bson::Document(doc! { "path": "$a", "other": 1 })), 28811);
    assert_eq!(spec_err(Bson::Document(doc! {})), 28812);
    assert_eq!(spec_err(Bson::Document(doc! { "path": "" })), 28812);
    assert_eq!(spec_err(Bson::String(String::new())), 28812);
    assert_eq!(spec_err(Bson::String("a".into())), 28818);
    assert_eq!(spec_err(Bson::String("$".into())), 40352);
    assert_eq!(spec_err(Bson::String("$a..b".into())), 15998);
    assert_eq!(spec_err(Bson::String("$a.$b".into())), 16410);
    assert_eq!(spec_err(Bson::Document(doc! { "path": "$a", "includeArrayIndex": "i..j" })), 15998);
    // The runtime entry point reports the same errors.
    let bad = rawdoc! { "path": "a" };
    assert_eq!(unwind(&raw(&doc! { "a": [1] }), &bad).err().map(|e| e.code.code()), Some(28818));
}
