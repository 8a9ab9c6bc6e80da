//! Projections: find projection rules (manual "Project Fields to Return from Query"),
//! `$project`, `$addFields`/`$set`, `$unset`.
use bson::{doc, Bson, Document, RawDocumentBuf};
use documentdb_query::filter::Filter;
use documentdb_query::projection::Projection;

fn raw(d: &Document) -> RawDocumentBuf {
    RawDocumentBuf::try_from(d).expect("serializable")
}

fn apply(p: &Projection, d: &Document) -> Document {
    let out = p.apply(&raw(d)).unwrap_or_else(|e| panic!("apply: {e:?}"));
    Document::try_from(out.as_ref()).expect("valid output")
}

fn find(spec: Document) -> Projection {
    Projection::parse_find(&raw(&spec), None).unwrap_or_else(|e| panic!("{spec:?}: {e:?}"))
}

fn find_err(spec: Document) -> i32 {
    match Projection::parse_find(&raw(&spec), None) {
        Err(e) => e.code.code(),
        Ok(_) => panic!("{spec:?} should fail"),
    }
}

fn project(spec: Document) -> Projection {
    Projection::parse_project_stage(&raw(&spec)).unwrap_or_else(|e| panic!("{spec:?}: {e:?}"))
}

fn project_err(spec: Document) -> i32 {
    match Projection::parse_project_stage(&raw(&spec)) {
        Err(e) => e.code.code(),
        Ok(_) => panic!("{spec:?} should fail"),
    }
}

fn add_fields(spec: Document) -> Projection {
    Projection::parse_add_fields(&raw(&spec)).unwrap_or_else(|e| panic!("{spec:?}: {e:?}"))
}

fn inventory() -> Document {
    doc! {
        "item": "journal",
        "_id": 1,
        "status": "A",
        "size": { "h": 14, "w": 21, "uom": "cm" },
        "instock": [ { "warehouse": "A", "qty": 5 }, { "warehouse": "C", "qty": 15 }, 7 ]
    }
}

#[test]
fn inclusion_keeps_id_first_and_document_order() {
    let p = find(doc! { "status": 1, "item": 1 });
    assert!(p.is_inclusion());
    let out = apply(&p, &inventory());
    assert_eq!(out, doc! { "_id": 1, "item": "journal", "status": "A" });
    let keys: Vec<_> = out.keys().cloned().collect();
    assert_eq!(keys, ["_id", "item", "status"]);
}

#[test]
fn suppress_id() {
    let p = find(doc! { "item": 1, "_id": 0 });
    assert_eq!(apply(&p, &inventory()), doc! { "item": "journal" });
    let p = find(doc! { "_id": 0 });
    assert!(!p.is_inclusion());
    assert_eq!(apply(&p, &doc! { "_id": 1, "a": 2 }), doc! { "a": 2 });
    let p = find(doc! { "_id": 1 });
    assert_eq!(apply(&p, &doc! { "_id": 1, "a": 2 }), doc! { "_id": 1 });
}

#[test]
fn exclusion_keeps_everything_else_in_place() {
    let p = find(doc! { "status": 0, "instock": 0 });
    assert_eq!(
        apply(&p, &inventory()),
        doc! { "item": "journal", "_id": 1, "size": { "h": 14, "w": 21, "uom": "cm" } }
    );
}

#[test]
fn embedded_fields_and_arrays_of_documents() {
    // "Return Specific Fields in Embedded Documents".
    let p = find(doc! { "item": 1, "status": 1, "size.uom": 1 });
    assert_eq!(apply(&p, &inventory()), doc! { "_id": 1, "item": "journal", "status": "A", "size": { "uom": "cm" } });
    // Nested-object form is equivalent.
    let p = find(doc! { "size": { "uom": 1 } });
    assert_eq!(apply(&p, &inventory()), doc! { "_id": 1, "size": { "uom": "cm" } });
    // "Projection on Embedded Documents in an Array": non-document elements are dropped.
    let p = find(doc! { "instock.qty": 1 });
    assert_eq!(apply(&p, &inventory()), doc! { "_id": 1, "instock": [ { "qty": 5 }, { "qty": 15 } ] });
    // Exclusion through an array keeps scalars.
    let p = find(doc! { "instock.qty": 0, "size": 0 });
    assert_eq!(
        apply(&p, &inventory()),
        doc! { "item": "journal", "_id": 1, "status": "A", "instock": [ { "warehouse": "A" }, { "warehouse": "C" }, 7 ] }
    );
    // Suppress a field in an embedded document.
    let p = find(doc! { "size.uom": 0 });
    assert_eq!(apply(&p, &inventory()).get_document("size").unwrap(), &doc! { "h": 14, "w": 21 });
}

#[test]
fn mixing_inclusion_and_exclusion_is_an_error() {
    assert_eq!(find_err(doc! { "a": 1, "b": 0 }), 31254);
    assert_eq!(find_err(doc! { "a": 0, "b": 1 }), 31253);
    assert_eq!(find_err(doc! { "a": 0, "b": { "$add": [1, 2] } }), 31310);
    // _id is exempt in both directions.
    let p = find(doc! { "a": 0, "_id": 1 });
    assert!(!p.is_inclusion());
    let p = find(doc! { "a": 1, "_id": 0 });
    assert!(p.is_inclusion());
}

#[test]
fn path_collisions_and_bad_paths() {
    assert_eq!(find_err(doc! { "a": 1, "a.b": 1 }), 31249);
    assert_eq!(find_err(doc! { "a.b": 1, "a": 1 }), 31250);
    assert_eq!(find_err(doc! { "a": {} }), 51270);
    assert_eq!(find_err(doc! { "a..b": 1 }), 15998);
    assert_eq!(find_err(doc! { "a": { "$meta": "textScore" } }), 238);
}

#[test]
fn slice_operator() {
    let d = doc! { "_id": 1, "title": "t", "comments": [1, 2, 3, 4, 5] };
    // $slice alone keeps all other fields.
    let p = find(doc! { "comments": { "$slice": 2 } });
    assert_eq!(apply(&p, &d), doc! { "_id": 1, "title": "t", "comments": [1, 2] });
    let p = find(doc! { "comments": { "$slice": -2 } });
    assert_eq!(apply(&p, &d).get_array("comments").unwrap(), &vec![Bson::Int32(4), Bson::Int32(5)]);
    let p = find(doc! { "comments": { "$slice": [1, 2] } });
    assert_eq!(apply(&p, &d).get_array("comments").unwrap(), &vec![Bson::Int32(2), Bson::Int32(3)]);
    let p = find(doc! { "comments": { "$slice": [-2, 5] } });
    assert_eq!(apply(&p, &d).get_array("comments").unwrap(), &vec![Bson::Int32(4), Bson::Int32(5)]);
    // With an inclusion the other fields go.
    let p = find(doc! { "comments": { "$slice": 1 }, "title": 1 });
    assert_eq!(apply(&p, &d), doc! { "_id": 1, "title": "t", "comments": [1] });
    assert_eq!(find_err(doc! { "a": { "$slice": [1, 0] } }), 31259);
    assert_eq!(find_err(doc! { "a": { "$slice": [1] } }), 31272);
    assert_eq!(find_err(doc! { "a": { "$slice": "x" } }), 31273);
}

#[test]
fn elem_match_projection() {
    // $elemMatch (projection) manual example.
    let d = doc! { "_id": 1, "zipcode": "63109", "students": [
    { "name": "john", "school": 102, "age": 10 },
    { "name": "jess", "school": 102, "age": 11 },
    { "name": "jeff", "school": 108, "age": 15 } ] };
    let p = find(doc! { "students": { "$elemMatch": { "school": 102 } } });
    assert_eq!(apply(&p, &d), doc! { "_id": 1, "students": [ { "name": "john", "school": 102, "age": 10 } ] });
    let p = find(doc! { "students": { "$elemMatch": { "school": 999 } } });
    assert_eq!(apply(&p, &d), doc! { "_id": 1 });
    assert_eq!(find_err(doc! { "a.b": { "$elemMatch": { "x": 1 } } }), 31275);
}

#[test]
fn positional_projection() {
    let d = doc! { "_id": 7, "semester": 3, "grades": [80, 85, 90, 91] };
    let q = Filter::parse(&raw(&doc! { "semester": 3, "grades": { "$gte": 85 } })).unwrap();
    let p = Projection::parse_find(&raw(&doc! { "grades.$": 1 }), Some(&q)).unwrap();
    assert_eq!(apply(&p, &d), doc! { "_id": 7, "grades": [85] });
    assert_eq!(find_err(doc! { "grades.$": 1 }), 51050);
    let two = Projection::parse_find(&raw(&doc! { "a.$": 1, "b.$": 1 }), Some(&q));
    assert_eq!(two.err().map(|e| e.code.code()), Some(31276));
}

#[test]
fn find_projection_accepts_expressions() {
    let p = find(doc! { "item": 1, "total": { "$add": ["$size.h", "$size.w"] }, "label": "x" });
    assert_eq!(apply(&p, &inventory()), doc! { "_id": 1, "item": "journal", "total": 35, "label": "x" });
}

#[test]
fn project_stage() {
    let d = doc! { "_id": 1, "title": "abc123", "author": { "last": "zzz", "first": "aaa" }, "copies": 5, "lastModified": "2016-07-28" };
    // $project manual: include specific fields and compute a new one.
    let p = project(doc! { "title": 1, "author": 1, "copies": { "$multiply": ["$copies", 2] } });
    assert_eq!(
        apply(&p, &d),
        doc! { "_id": 1, "title": "abc123", "author": { "last": "zzz", "first": "aaa" }, "copies": 10 }
    );
    // Exclude embedded field.
    let p = project(doc! { "author.first": 0, "lastModified": 0 });
    assert_eq!(apply(&p, &d), doc! { "_id": 1, "title": "abc123", "author": { "last": "zzz" }, "copies": 5 });
    // $$REMOVE conditionally excludes.
    let p = project(doc! { "title": 1, "lastModified": { "$cond": [false, "$lastModified", "$$REMOVE"] } });
    assert_eq!(apply(&p, &d), doc! { "_id": 1, "title": "abc123" });
    // Nested computed fields.
    let p = project(doc! { "_id": 0, "a": { "b": "$copies", "c": { "$literal": 1 } } });
    assert_eq!(apply(&p, &d), doc! { "a": { "b": 5, "c": 1 } });
    // Literal values are expressions, not inclusions.
    let p = project(doc! { "x": "hello", "y": null });
    assert_eq!(apply(&p, &d), doc! { "_id": 1, "x": "hello", "y": null });
    assert_eq!(project_err(doc! {}), 51272);
    assert_eq!(project_err(doc! { "a": { "$elemMatch": { "x": 1 } } }), 168);
    assert_eq!(project_err(doc! { "a.$": 1 }), 31324);
    assert_eq!(project_err(doc! { "a": 1, "b": 0 }), 31254);
}

#[test]
fn add_fields_stage() {
    // $addFields manual: add fields to an embedded document keeps its other fields.
    let d = doc! { "_id": 1, "type": "car", "specs": { "doors": 4, "wheels": 4 } };
    let p = add_fields(doc! { "specs.fuel_type": "unleaded" });
    assert_eq!(
        apply(&p, &d),
        doc! { "_id": 1, "type": "car", "specs": { "doors": 4, "wheels": 4, "fuel_type": "unleaded" } }
    );
    let p = add_fields(doc! { "specs": { "fuel_type": "unleaded" } });
    assert_eq!(apply(&p, &d).get_document("specs").unwrap().len(), 3);
    // Overwriting an existing field keeps its position; new fields append.
    let p = add_fields(doc! { "type": 1, "n": { "$add": ["$specs.doors", 1] } });
    assert_eq!(apply(&p, &d), doc! { "_id": 1, "type": 1, "specs": { "doors": 4, "wheels": 4 }, "n": 5 });
    // Dotted path over an array of documents sets the field in every element; a scalar
    // element becomes a new document.
    let d2 = doc! { "_id": 1, "a": [ { "x": 1 }, 5, [ { "x": 2 } ] ] };
    let p = add_fields(doc! { "a.y": 0 });
    assert_eq!(apply(&p, &d2), doc! { "_id": 1, "a": [ { "x": 1, "y": 0 }, { "y": 0 }, [ { "x": 2, "y": 0 } ] ] });
    // Missing parent is created; non-document parent is replaced.
    let p = add_fields(doc! { "m.n": 1, "_id.k": 2 });
    assert_eq!(apply(&p, &doc! { "_id": 5 }), doc! { "_id": { "k": 2 }, "m": { "n": 1 } });
    // $$REMOVE removes.
    let p = add_fields(doc! { "type": "$$REMOVE" });
    assert_eq!(apply(&p, &d), doc! { "_id": 1, "specs": { "doors": 4, "wheels": 4 } });
    let empty = Projection::parse_add_fields(&raw(&doc! {}));
    assert_eq!(empty.err().map(|e| e.code.code()), Some(40177));
}

/// Top-level `$addFields` (spliced into the document's bytes): every expression sees the
/// input document; replaced fields keep their place, new ones follow in the stage's order,
/// a missing value removes or skips the field, documents and arrays are set whole.
#[test]
fn add_fields_top_level_splice() {
    let d = doc! { "_id": 1, "a": 2, "b": "x", "c": { "d": 1 } };
    let p = add_fields(doc! { "z": "$a", "a": { "$add": ["$a", 1] }, "y": "$a", "b": "$missing", "w": "$nope" });
    assert_eq!(apply(&p, &d), doc! { "_id": 1, "a": 3, "c": { "d": 1 }, "z": 2, "y": 2 });
    let p = add_fields(doc! { "c": { "$literal": { "e": [1, { "f": 2 }] } }, "arr": ["$a", "$b"] });
    assert_eq!(apply(&p, &d), doc! { "_id": 1, "a": 2, "b": "x", "c": { "e": [1, { "f": 2 }] }, "arr": [2, "x"] });
    let p = add_fields(doc! { "root": "$$ROOT" });
    assert_eq!(apply(&p, &doc! { "k": 1 }), doc! { "k": 1, "root": { "k": 1 } });
    assert_eq!(apply(&add_fields(doc! { "n": 1 }), &doc! {}), doc! { "n": 1 });
}

#[test]
fn unset_stage() {
    let d = doc! { "_id": 1, "a": 1, "b": { "c": 1, "d": 2 }, "e": [ { "c": 1 }, 2 ] };
    let p = Projection::parse_unset(bson::RawBsonRef::String("a")).unwrap();
    assert_eq!(apply(&p, &d), doc! { "_id": 1, "b": { "c": 1, "d": 2 }, "e": [ { "c": 1 }, 2 ] });
    let arr = bson::rawdoc! { "x": ["b.c", "e.c"] };
    let spec = arr.get("x").unwrap().unwrap();
    let p = Projection::parse_unset(spec).unwrap();
    assert_eq!(apply(&p, &d), doc! { "_id": 1, "a": 1, "b": { "d": 2 }, "e": [ {}, 2 ] });
    let bad = bson::rawdoc! { "x": [1] };
    assert_eq!(Projection::parse_unset(bad.get("x").unwrap().unwrap()).err().map(|e| e.code.code()), Some(31120));
    assert_eq!(Projection::parse_unset(bson::RawBsonRef::Int32(1)).err().map(|e| e.code.code()), Some(31120));
}

/// MongoDB applies a nested projection to every element of an array, recursing into nested
/// arrays (`ProjectionNode::applyProjectionsToValue` / `applyExpressionsToValue`, same
/// policy for find and $project). With a computed field in the subtree, every element
/// that is not a document (scalars, and those inside nested arrays) is replaced by a
/// document of the computed fields; inclusion alone drops such elements.
#[test]
fn computed_nested_field_replaces_every_array_element() {
    let d = doc! { "_id": 1, "a": [1, { "d": 1 }, [3, 4], "x"] };
    let c = doc! { "c": { "d": "1" } };
    let want = doc! { "_id": 1, "a": [c.clone(), c.clone(), [c.clone(), c.clone()], c.clone()] };
    // The inner "1" is a string literal expression: a computed field.
    assert_eq!(apply(&project(doc! { "a": { "c": { "d": "1" } } }), &d), want);
    assert_eq!(apply(&project(doc! { "a.c.d": "1" }), &d), want);
    assert_eq!(apply(&find(doc! { "a": { "c": { "d": "1" } } }), &d), want);
    assert_eq!(apply(&project(doc! { "a.c": { "d": { "$literal": "1" } } }), &d), want);
    // Empty and nested empty arrays stay (there is no element to replace).
    let empty = doc! { "_id": 1, "a": [[], {}] };
    assert_eq!(apply(&project(doc! { "a.b": "v" }), &empty), doc! { "_id": 1, "a": [[], { "b": "v" }] });
}

#[test]
fn inclusion_only_nested_spec_drops_non_document_elements() {
    // Inclusion alone: scalars are dropped at every level, documents keep the included
    // fields only, nested arrays are recursed into.
    let d = doc! { "_id": 1, "a": [1, { "b": 1, "x": 2 }, [3, { "b": 4 }, { "x": 5 }, [6]], "x", { "x": 7 }] };
    let want = doc! { "_id": 1, "a": [{ "b": 1 }, [{ "b": 4 }, {}, []], {}] };
    assert_eq!(apply(&project(doc! { "a.b": 1 }), &d), want);
    assert_eq!(apply(&find(doc! { "a": { "b": 1 } }), &d), want);
    // A scalar where a document is expected drops the field.
    assert_eq!(apply(&project(doc! { "a.b": 1 }), &doc! { "_id": 1, "a": 5 }), doc! { "_id": 1 });
}

#[test]
fn mixed_inclusion_and_computed_nested_fields_over_arrays() {
    // Documents keep their included fields and gain the computed ones; scalars (even in
    // nested arrays) become documents of the computed fields only.
    let d = doc! { "_id": 1, "a": [1, { "b": 2, "x": 3 }, [{ "b": 4 }, 5]] };
    let p = project(doc! { "a.b": 1, "a.c": "lit" });
    assert_eq!(
        apply(&p, &d),
        doc! { "_id": 1, "a": [{ "c": "lit" }, { "b": 2, "c": "lit" }, [{ "b": 4, "c": "lit" }, { "c": "lit" }]] }
    );
    // Computed field one level deeper: the element documents without it get it too, and a
    // non-document value at the intermediate field is replaced.
    let d = doc! { "_id": 1, "a": [{ "b": 1, "c": 5 }, 2] };
    let p = project(doc! { "a.b": 1, "a.c.d": "lit" });
    assert_eq!(apply(&p, &d), doc! { "_id": 1, "a": [{ "b": 1, "c": { "d": "lit" } }, { "c": { "d": "lit" } }] });
    // A scalar top-level field becomes the computed document.
    assert_eq!(
        apply(&project(doc! { "a.c": "lit" }), &doc! { "_id": 1, "a": 5 }),
        doc! { "_id": 1, "a": { "c": "lit" } }
    );
}

/// `$lookup`'s `as` and `$setWindowFields` outputs set a top-level field as `$addFields`
/// does: in place of the field when present (its position kept), last otherwise.
#[test]
fn set_value_splices_a_top_level_field() {
    let set = |d: Document, path: &str, v: Bson| {
        let value = bson::RawBson::try_from(v).expect("raw value");
        let out = Projection::set_value(&raw(&d), path, value.as_raw_bson_ref()).expect("set");
        Document::try_from(out.as_ref()).expect("valid output")
    };
    let d = doc! { "_id": 1, "a": "x", "c": [1, 2], "z": 3 };
    assert_eq!(
        set(d.clone(), "c", Bson::Document(doc! { "r": 1 })),
        doc! { "_id": 1, "a": "x", "c": { "r": 1 }, "z": 3 }
    );
    assert_eq!(set(d.clone(), "_id", Bson::Int32(7)), doc! { "_id": 7, "a": "x", "c": [1, 2], "z": 3 });
    assert_eq!(
        set(d.clone(), "z", Bson::String("long value".into())),
        doc! { "_id": 1, "a": "x", "c": [1, 2], "z": "long value" }
    );
    assert_eq!(set(d.clone(), "new", Bson::Null), doc! { "_id": 1, "a": "x", "c": [1, 2], "z": 3, "new": null });
    assert_eq!(set(doc! {}, "only", Bson::Array(vec![Bson::Int32(1)])), doc! { "only": [1] });
    // A dotted path goes through $addFields' rules.
    assert_eq!(set(doc! { "a": { "b": 1 } }, "a.c", Bson::Int32(2)), doc! { "a": { "b": 1, "c": 2 } });
}
