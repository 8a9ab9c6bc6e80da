//! Parse speed of `parse_document` against `serde_json::from_str::<serde_json::Value>` on
//! the same text. Timing-dependent, so ignored by default; run it optimised:
//! `cargo test -p documentdb_bson --release --test extjson_speed -- --ignored --nocapture`
use std::hint::black_box;
use std::time::{Duration, Instant};

use documentdb_bson::extjson::parse_document;

fn typical_document(orders: usize) -> String {
    let order = r#"{"id": 1017, "total": 19.99, "currency": "USD", "status": "shipped", "items": [{"sku": "A-100", "qty": 2, "price": 4.5}, {"sku": "B-220", "qty": 1, "price": 10.99}], "note": "leave at the door, \"please\""}"#;
    let orders = vec![order; orders].join(", ");
    format!(
        r#"{{"_id": "5f1d3a6a8b9c0d1e2f3a4b5c", "name": "Alice Smith", "age": 42, "email": "alice@example.com", "active": true, "score": 97.5, "balance": 12345678901, "tags": ["admin", "beta", "newsletter"], "address": {{"street": "123 Main St", "city": "Springfield", "zip": "12345", "geo": [-73.9712, 40.7831]}}, "bio": "Caf\u00e9 owner. Likes long walks on the beach and well-formed JSON.", "orders": [{orders}], "deleted": null}}"#
    )
}

fn with_wrappers(orders: usize) -> String {
    typical_document(orders)
        .replace(r#""5f1d3a6a8b9c0d1e2f3a4b5c""#, r#"{"$oid": "5f1d3a6a8b9c0d1e2f3a4b5c"}"#)
        .replace(r#""deleted": null"#, r#""created": {"$date": "2021-03-04T05:06:07.890Z"}, "amount": {"$numberDecimal": "1234.5678"}, "count": {"$numberLong": "42"}"#)
}

/// Iterations per second of `f`, measured for about `budget`.
fn rate(budget: Duration, mut f: impl FnMut()) -> f64 {
    for _ in 0..10 {
        f();
    }
    let start = Instant::now();
    let mut iterations = 0u64;
    while start.elapsed() < budget {
        for _ in 0..10 {
            f();
        }
        iterations += 10;
    }
    iterations as f64 / start.elapsed().as_secs_f64()
}

#[test]
#[ignore = "timing; run with --release -- --ignored --nocapture"]
fn parse_speed_vs_serde_json() {
    let budget = Duration::from_millis(1500);
    for (label, text) in [
        ("small plain JSON (1 order)", typical_document(1)),
        ("medium plain JSON (20 orders)", typical_document(20)),
        ("large plain JSON (1000 orders)", typical_document(1000)),
        ("medium with type wrappers (20 orders)", with_wrappers(20)),
    ] {
        assert!(parse_document(&text).is_ok(), "{label}");
        let ours = rate(budget, || {
            black_box(parse_document(black_box(&text)).ok());
        });
        let serde = rate(budget, || {
            black_box(serde_json::from_str::<serde_json::Value>(black_box(&text)).ok());
        });
        let mb = text.len() as f64 / 1e6;
        println!(
            "{label}: {} bytes; parse_document {:.0}/s ({:.0} MB/s), serde_json::Value {:.0}/s ({:.0} MB/s), ratio {:.2}x",
            text.len(),
            ours,
            ours * mb,
            serde,
            serde * mb,
            ours / serde
        );
    }
}
