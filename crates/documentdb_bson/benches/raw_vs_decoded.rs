//! Raw (borrowed bytes) vs decoded (`bson::Document`) comparison and path access.
//!
//! Run: `cargo bench -p documentdb_bson --bench raw_vs_decoded -- --warm-up-time 1
//! --measurement-time 3`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use documentdb_bson::bson::oid::ObjectId;
use documentdb_bson::bson::{rawdoc, Bson, DateTime, Decimal128, Document, RawDocument, RawDocumentBuf};
use documentdb_bson::compare::compare_documents;
use documentdb_bson::path::get_path;
use std::cmp::Ordering;
use std::str::FromStr;

/// A realistic 15-field order document with nested documents and arrays. `last` varies
/// the final field so two documents differ only at the end (the full walk is measured).
fn order(last: i32) -> RawDocumentBuf {
    let price = Decimal128::from_str("19.99").expect("decimal literal");
    rawdoc! {
        "_id": ObjectId::from_bytes([0x65, 0x1f, 0, 0, 0, 0, 0, 0, 0, 0, 0, 42]),
        "customer": "Ada Lovelace",
        "email": "ada@example.com",
        "status": "shipped",
        "createdAt": DateTime::from_millis(1_700_000_000_000),
        "total": 129.95,
        "itemsCount": 3,
        "loyaltyPoints": 1_234_567_890_123i64,
        "address": {
            "street": "12 Analytical Row",
            "city": "London",
            "zip": "NW1 6XE",
            "geo": { "lat": 51.5237, "lng": -0.1585 },
        },
        "items": [
            { "sku": "ENG-001", "qty": 1, "price": price },
            { "sku": "CARD-PACK", "qty": 2, "price": 4.99 },
            { "sku": "MANUAL", "qty": 1, "price": 100.0 },
        ],
        "tags": ["priority", "gift", "international"],
        "paid": true,
        "notes": null,
        "history": [
            { "at": DateTime::from_millis(1_700_000_000_000), "event": "created" },
            { "at": DateTime::from_millis(1_700_000_500_000), "event": "paid" },
        ],
        "version": last,
    }
}

/// Rank for the decoded comparison (MongoDB canonical type order).
fn rank(b: &Bson) -> i32 {
    match b {
        Bson::MinKey => -1,
        Bson::Undefined => 0,
        Bson::Null => 5,
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_) => 10,
        Bson::String(_) | Bson::Symbol(_) => 15,
        Bson::Document(_) => 20,
        Bson::Array(_) => 25,
        Bson::Binary(_) => 30,
        Bson::ObjectId(_) => 35,
        Bson::Boolean(_) => 40,
        Bson::DateTime(_) => 45,
        Bson::Timestamp(_) => 47,
        Bson::RegularExpression(_) => 50,
        Bson::DbPointer(_) => 55,
        Bson::JavaScriptCode(_) => 60,
        Bson::JavaScriptCodeWithScope(_) => 65,
        Bson::MaxKey => 127,
    }
}

/// A reasonable comparison on decoded values (numbers via f64; enough for this data).
fn cmp_bson(a: &Bson, b: &Bson) -> Ordering {
    let o = rank(a).cmp(&rank(b));
    if o != Ordering::Equal {
        return o;
    }
    match (a, b) {
        (Bson::String(x), Bson::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Bson::Document(x), Bson::Document(y)) => cmp_docs(x, y),
        (Bson::Array(x), Bson::Array(y)) => {
            for (p, q) in x.iter().zip(y) {
                let o = cmp_bson(p, q);
                if o != Ordering::Equal {
                    return o;
                }
            }
            x.len().cmp(&y.len())
        }
        (Bson::ObjectId(x), Bson::ObjectId(y)) => x.bytes().cmp(&y.bytes()),
        (Bson::Boolean(x), Bson::Boolean(y)) => x.cmp(y),
        (Bson::DateTime(x), Bson::DateTime(y)) => x.cmp(y),
        _ => {
            let f = |v: &Bson| match v {
                Bson::Int32(i) => f64::from(*i),
                Bson::Int64(i) => *i as f64,
                Bson::Double(d) => *d,
                Bson::Decimal128(d) => d.to_string().parse().unwrap_or(f64::NAN),
                _ => 0.0,
            };
            f(a).total_cmp(&f(b))
        }
    }
}

fn cmp_docs(a: &Document, b: &Document) -> Ordering {
    for ((ka, va), (kb, vb)) in a.iter().zip(b.iter()) {
        let o = rank(va).cmp(&rank(vb)).then_with(|| ka.as_bytes().cmp(kb.as_bytes())).then_with(|| cmp_bson(va, vb));
        if o != Ordering::Equal {
            return o;
        }
    }
    a.len().cmp(&b.len())
}

fn decode(d: &RawDocument) -> Document {
    Document::try_from(d).expect("valid document")
}

/// Path walk on a decoded document with the same semantics as `get_path`.
fn walk(d: &Document, path: &str) -> Option<Bson> {
    let parts: Vec<&str> = path.split('.').collect();
    let (first, rest) = parts.split_first()?;
    walk_value(d.get(*first)?, rest)
}

fn walk_value(v: &Bson, parts: &[&str]) -> Option<Bson> {
    let Some((part, rest)) = parts.split_first() else {
        return Some(v.clone());
    };
    match v {
        Bson::Document(doc) => walk_value(doc.get(*part)?, rest),
        Bson::Array(items) => match part.parse::<usize>() {
            Ok(ix) => walk_value(items.get(ix)?, rest),
            Err(_) => Some(Bson::Array(
                items
                    .iter()
                    .filter_map(|it| match it {
                        Bson::Document(sub) => walk_value(sub.get(*part)?, rest),
                        _ => None,
                    })
                    .collect(),
            )),
        },
        _ => None,
    }
}

fn bench(c: &mut Criterion) {
    let a = order(1);
    let b = order(2);
    assert_eq!(compare_documents(&a, &b), Ordering::Less);
    assert_eq!(cmp_docs(&decode(&a), &decode(&b)), Ordering::Less);

    let mut g = c.benchmark_group("compare_15_fields");
    g.bench_function("raw", |bench| bench.iter(|| compare_documents(black_box(&a), black_box(&b))));
    g.bench_function("decode_then_compare", |bench| {
        bench.iter(|| {
            let (da, db) = (decode(black_box(&a)), decode(black_box(&b)));
            cmp_docs(&da, &db)
        })
    });
    let (da, db) = (decode(&a), decode(&b));
    g.bench_function("predecoded_compare_only", |bench| bench.iter(|| cmp_docs(black_box(&da), black_box(&db))));
    g.finish();

    let mut g = c.benchmark_group("path_nested");
    g.bench_function("raw", |bench| bench.iter(|| get_path(black_box(&a), black_box("address.geo.lng"))));
    g.bench_function("decode_then_walk", |bench| {
        bench.iter(|| walk(&decode(black_box(&a)), black_box("address.geo.lng")))
    });
    g.finish();

    let mut g = c.benchmark_group("path_gather_array");
    assert!(get_path(&a, "items.sku").is_some());
    g.bench_function("raw", |bench| bench.iter(|| get_path(black_box(&a), black_box("items.sku"))));
    g.bench_function("decode_then_walk", |bench| bench.iter(|| walk(&decode(black_box(&a)), black_box("items.sku"))));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
