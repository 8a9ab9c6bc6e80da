//! `$group` accumulators: result types (manual pages of each accumulator), partial-state
//! merging and byte round trips.
use std::str::FromStr;

use bson::{bson, doc, Bson, RawDocumentBuf};
use documentdb_query::accumulators::Accumulator;
use documentdb_query::expr::ExprContext;
use proptest::prelude::*;

fn acc(name: &str, arg: Bson) -> Accumulator {
    Accumulator::parse_bson(name, &arg, &ExprContext::default()).unwrap_or_else(|e| panic!("{name}: {e:?}"))
}

fn run(name: &str, arg: Bson, values: &[Option<Bson>]) -> Bson {
    let mut a = acc(name, arg);
    for v in values {
        a.accumulate(v.clone()).unwrap();
    }
    a.finish()
}

fn dec(s: &str) -> Bson {
    Bson::Decimal128(bson::Decimal128::from_str(s).unwrap())
}

fn some(vals: &[Bson]) -> Vec<Option<Bson>> {
    vals.iter().cloned().map(Some).collect()
}

#[test]
fn sum_result_types() {
    assert_eq!(run("$sum", bson!("$x"), &some(&[bson!(1), bson!(2)])), bson!(3));
    assert_eq!(run("$sum", bson!("$x"), &some(&[bson!(i32::MAX), bson!(1)])), Bson::Int64(2_147_483_648));
    assert_eq!(run("$sum", bson!("$x"), &some(&[Bson::Int64(1), bson!(2)])), Bson::Int64(3));
    assert_eq!(
        run("$sum", bson!("$x"), &some(&[Bson::Int64(i64::MAX), Bson::Int64(1)])),
        bson!(9.223_372_036_854_776e18)
    );
    assert_eq!(run("$sum", bson!("$x"), &some(&[bson!(1), bson!(0.5)])), bson!(1.5));
    assert_eq!(run("$sum", bson!("$x"), &some(&[dec("0.1"), dec("0.2")])), dec("0.3"));
    assert_eq!(run("$sum", bson!("$x"), &some(&[dec("1"), bson!(2)])), dec("3"));
    // Non-numeric values and missing are ignored; empty sum is int 0.
    assert_eq!(run("$sum", bson!("$x"), &[Some(bson!("a")), None, Some(Bson::Null), Some(bson!(4))]), bson!(4));
    assert_eq!(run("$sum", bson!("$x"), &[]), bson!(0));
    // Compensated: ten 0.1s sum to exactly 1.0.
    assert_eq!(run("$sum", bson!("$x"), &vec![Some(bson!(0.1)); 10]), bson!(1.0));
    // $count is $sum: 1.
    let mut c = acc("$count", bson!({}));
    let one = c.argument().unwrap().evaluate(&RawDocumentBuf::new()).unwrap();
    for _ in 0..3 {
        c.accumulate(one.clone()).unwrap();
    }
    assert_eq!(c.finish(), bson!(3));
}

#[test]
fn avg_types() {
    assert_eq!(run("$avg", bson!("$x"), &some(&[bson!(1), bson!(2)])), bson!(1.5));
    assert_eq!(run("$avg", bson!("$x"), &some(&[Bson::Int64(10), Bson::Int64(20)])), bson!(15.0));
    assert_eq!(run("$avg", bson!("$x"), &some(&[dec("1"), bson!(2)])), dec("1.5"));
    assert_eq!(run("$avg", bson!("$x"), &[None, Some(bson!("x"))]), Bson::Null);
}

#[test]
fn min_max_ignore_null_and_missing() {
    let vals = [Some(bson!(5)), None, Some(Bson::Null), Some(bson!("a")), Some(bson!(1))];
    assert_eq!(run("$min", bson!("$x"), &vals), bson!(1));
    assert_eq!(run("$max", bson!("$x"), &vals), bson!("a"));
    assert_eq!(run("$min", bson!("$x"), &[None, Some(Bson::Null)]), Bson::Null);
    assert_eq!(run("$max", bson!("$x"), &some(&[bson!(1), bson!(1.5), Bson::Int64(1)])), bson!(1.5));
}

#[test]
fn first_last_push_add_to_set() {
    assert_eq!(run("$first", bson!("$x"), &[None, Some(bson!(2))]), Bson::Null);
    assert_eq!(run("$last", bson!("$x"), &[Some(bson!(1)), None]), Bson::Null);
    assert_eq!(run("$last", bson!("$x"), &some(&[bson!(1), bson!(2)])), bson!(2));
    // mongod's $push skips missing values (the manual's $bucketAuto example: the bucket of
    // two documents without `year` and one with 1902 pushes `years: [1902]`); null stays.
    assert_eq!(
        run("$push", bson!("$x"), &[Some(bson!(1)), None, Some(Bson::Null), Some(bson!(1))]),
        bson!([1, null, 1])
    );
    assert_eq!(
        run("$addToSet", bson!("$x"), &[Some(bson!(1)), Some(bson!(1.0)), None, Some(bson!("a"))]),
        bson!([1, "a"])
    );
    assert_eq!(run("$push", bson!({ "a": "$a" }), &[]), bson!([]));
}

#[test]
fn merge_objects_and_std_dev() {
    assert_eq!(
        run("$mergeObjects", bson!("$x"), &[Some(bson!({ "a": 1 })), None, Some(bson!({ "b": 2, "a": 3 }))]),
        bson!({ "a": 3, "b": 2 })
    );
    let mut m = acc("$mergeObjects", bson!("$x"));
    assert_eq!(m.accumulate(Some(bson!(5))).unwrap_err().code.code(), 40400);
    // $stdDevPop manual example: scores 62, 90, 84 ... use a simple one.
    assert_eq!(
        run(
            "$stdDevPop",
            bson!("$x"),
            &some(&[bson!(2), bson!(4), bson!(4), bson!(4), bson!(5), bson!(5), bson!(7), bson!(9)])
        ),
        bson!(2.0)
    );
    assert_eq!(run("$stdDevSamp", bson!("$x"), &some(&[bson!(1)])), Bson::Null);
    assert_eq!(run("$stdDevSamp", bson!("$x"), &some(&[bson!(1), bson!(3)])), bson!(std::f64::consts::SQRT_2));
}

#[test]
fn n_and_top_bottom_accumulators() {
    let vals = some(&[bson!(3), Bson::Null, bson!(1), bson!(5), bson!(2)]);
    assert_eq!(run("$firstN", bson!({ "input": "$x", "n": 2 }), &vals), bson!([3, null]));
    assert_eq!(run("$lastN", bson!({ "input": "$x", "n": 2 }), &vals), bson!([5, 2]));
    assert_eq!(run("$maxN", bson!({ "input": "$x", "n": 2 }), &vals), bson!([5, 3]));
    assert_eq!(run("$minN", bson!({ "input": "$x", "n": 3 }), &vals), bson!([1, 2, 3]));
    // $top/$bottom evaluate {output, sortKey} per document via argument().
    let docs = [doc! { "p": "a", "s": 10 }, doc! { "p": "b", "s": 30 }, doc! { "p": "c", "s": 20 }];
    for (name, spec, want) in [
        ("$top", bson!({ "output": "$p", "sortBy": { "s": -1 } }), bson!("b")),
        ("$bottom", bson!({ "output": "$p", "sortBy": { "s": -1 } }), bson!("a")),
        ("$topN", bson!({ "output": ["$p", "$s"], "sortBy": { "s": 1 }, "n": 2 }), bson!([["a", 10], ["c", 20]])),
        ("$bottomN", bson!({ "output": "$p", "sortBy": { "s": 1 }, "n": 2 }), bson!(["c", "b"])),
    ] {
        let mut a = acc(name, spec);
        for d in &docs {
            a.accumulate_document(&RawDocumentBuf::try_from(d).unwrap()).unwrap();
        }
        assert_eq!(a.finish(), want, "{name}");
    }
    // n depending on the group key.
    let mut g = acc("$firstN", bson!({ "input": "$x", "n": { "$cond": [{ "$eq": ["$_id", "big"] }, 3, 1] } }));
    g.start_group(&bson!("big")).unwrap();
    for v in &vals {
        g.accumulate(v.clone()).unwrap();
    }
    assert_eq!(g.finish(), bson!([3, null, 1]));
}

/// Manual ($median, $percentile accumulators): the numeric inputs' percentiles (exact
/// discrete ranks here, which mongod's "approximate" method also returns on small inputs);
/// non-numbers ignored, nothing numeric gives null.
#[test]
fn median_and_percentile_accumulators() {
    let values: Vec<Option<Bson>> =
        (1..=10).map(|i| Some(Bson::Int32(i))).chain([Some(bson!("x")), None, Some(Bson::Null)]).collect();
    assert_eq!(run("$median", bson!({ "input": "$x", "method": "approximate" }), &values), bson!(5.0));
    assert_eq!(
        run("$percentile", bson!({ "input": "$x", "p": [0.1, 0.5, 0.95, 1], "method": "approximate" }), &values),
        bson!([1.0, 5.0, 10.0, 10.0])
    );
    assert_eq!(run("$median", bson!({ "input": "$x", "method": "approximate" }), &some(&[bson!("a")])), Bson::Null);
    let bad = Accumulator::parse_bson(
        "$percentile",
        &bson!({ "input": "$x", "p": [2], "method": "approximate" }),
        &ExprContext::default(),
    );
    assert_eq!(bad.err().map(|e| e.code.code()), Some(7750303));
}

#[test]
fn parse_errors() {
    let err =
        |name: &str, arg: Bson| Accumulator::parse_bson(name, &arg, &ExprContext::default()).unwrap_err().code.code();
    assert_eq!(err("$sum", bson!(["$a", "$b"])), 40237);
    assert_eq!(err("$bogus", bson!(1)), 15952);
    assert_eq!(err("$count", bson!(1)), 14);
    assert_eq!(err("$firstN", bson!({ "input": "$x" })), 5787906);
    assert_eq!(err("$firstN", bson!({ "input": "$x", "n": 0 })), 5787908);
    assert_eq!(err("$top", bson!({ "output": "$x" })), 5788005);
}

#[test]
fn merge_matches_sequential_for_first_last() {
    let mut a = acc("$first", bson!("$x"));
    let mut b = acc("$first", bson!("$x"));
    b.accumulate(Some(bson!(2))).unwrap();
    a.merge(&b).unwrap();
    assert_eq!(a.finish(), bson!(2));
    let mut l1 = acc("$last", bson!("$x"));
    l1.accumulate(Some(bson!(1))).unwrap();
    let l2 = acc("$last", bson!("$x"));
    l1.merge(&l2).unwrap();
    assert_eq!(l1.finish(), bson!(1));
}

fn value_strategy() -> impl Strategy<Value = Option<Bson>> {
    prop_oneof![
        Just(None),
        Just(Some(Bson::Null)),
        any::<i32>().prop_map(|i| Some(Bson::Int32(i))),
        any::<i64>().prop_map(|i| Some(Bson::Int64(i))),
        (-1e6f64..1e6).prop_map(|d| Some(Bson::Double(d))),
        (-1_000_000i64..1_000_000, 0u32..6)
            .prop_map(|(c, e)| { Some(Bson::Decimal128(bson::Decimal128::from_str(&format!("{c}E-{e}")).unwrap(),)) }),
        "[a-c]{0,2}".prop_map(|s| Some(Bson::String(s))),
        (0i32..3).prop_map(|i| Some(bson!({ "k": i }))),
    ]
}

type SpecFn = fn() -> Bson;

const OPS: &[(&str, SpecFn)] = &[
    ("$sum", || bson!("$x")),
    ("$avg", || bson!("$x")),
    ("$min", || bson!("$x")),
    ("$max", || bson!("$x")),
    ("$first", || bson!("$x")),
    ("$last", || bson!("$x")),
    ("$push", || bson!("$x")),
    ("$addToSet", || bson!("$x")),
    ("$stdDevPop", || bson!("$x")),
    ("$stdDevSamp", || bson!("$x")),
    ("$firstN", || bson!({ "input": "$x", "n": 3 })),
    ("$lastN", || bson!({ "input": "$x", "n": 3 })),
    ("$maxN", || bson!({ "input": "$x", "n": 3 })),
    ("$minN", || bson!({ "input": "$x", "n": 3 })),
    ("$topN", || bson!({ "output": "$x", "sortBy": { "x": 1 }, "n": 2 })),
    ("$bottom", || bson!({ "output": "$x", "sortBy": { "x": -1 } })),
    ("$median", || bson!({ "input": "$x", "method": "approximate" })),
    ("$percentile", || bson!({ "input": "$x", "p": [0.25, 0.9], "method": "approximate" })),
];

fn approx_equal(a: &Bson, b: &Bson) -> bool {
    match (a, b) {
        (Bson::Double(x), Bson::Double(y)) => x == y || (x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1.0),
        _ => a == b,
    }
}

proptest! {
    /// serialize → deserialize is exact, and splitting the input into two partial states
    /// merged afterwards gives the same result as one sequential pass.
    #[test]
    fn state_round_trip_and_merge(values in prop::collection::vec(value_strategy(), 0..12), split in 0usize..12, op in 0usize..18) {
        let (name, spec) = OPS[op];
        let split = split.min(values.len());
        let docs: Vec<RawDocumentBuf> = values.iter().map(|v| {
            let mut d = doc! {};
            if let Some(v) = v { d.insert("x", v.clone()); }
            RawDocumentBuf::try_from(&d).unwrap()
        }).collect();
        let feed = |a: &mut Accumulator, ds: &[RawDocumentBuf]| {
            for d in ds { a.accumulate_document(d).unwrap(); }
        };
        let mut whole = acc(name, spec());
        feed(&mut whole, &docs);
        let bytes = whole.serialize_state();
        let back = Accumulator::deserialize_state(&bytes).unwrap();
        prop_assert_eq!(back.serialize_state(), bytes);
        prop_assert_eq!(back.finish(), whole.finish());

        let mut left = acc(name, spec());
        feed(&mut left, &docs[..split]);
        let mut right = acc(name, spec());
        feed(&mut right, &docs[split..]);
        let left = Accumulator::deserialize_state(&left.serialize_state()).unwrap();
        let right = Accumulator::deserialize_state(&right.serialize_state()).unwrap();
        let mut merged = left.clone();
        merged.merge(&right).unwrap();
        let (m, w) = (merged.finish(), whole.finish());
        prop_assert!(approx_equal(&m, &w), "{} merged {:?} vs whole {:?}", name, m, w);
    }
}
