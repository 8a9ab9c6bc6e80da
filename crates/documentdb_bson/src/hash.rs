//! A hash consistent with [`crate::compare`]: values that compare equal hash equal.
//!
//! The hash is persisted (PostgreSQL hash indexes), so it is a fixed, seedable function of
//! the bytes fed to it: a wyhash-style 64x64→128 folded multiply per 8-byte word and a
//! murmur3 `fmix64` finalizer. No randomness, no platform dependence (words are read
//! little-endian).
//!
//! What is fed, per value: its canonical type rank (so String and Symbol, or int32 and
//! decimal128, start alike), then a canonical encoding of the value:
//!
//! * numbers: (1) an integer in the i64 range (int32, int64, integral double or decimal)
//!   as that i64; (2) else, a value equal under the comparison rules to some double (any
//!   double; a decimal whose nearest double compares equal to it) as that double's bits,
//!   all NaNs alike; (3) else the normalized decimal (trailing zeros stripped);
//! * documents: each element's key and value, then the element count; arrays: the values;
//! * the other types: exactly the parts the comparison looks at.

use crate::compare::MAX_STRUCTURAL_DEPTH;
use crate::number::{cmp_decimal, decimal_parts, decimal_to_f64, f64_to_decimal, DecimalKind, Number};
use crate::raw_reader::{with_val, Elements, Val};
use bson::{RawBsonRef, RawDocument};
use std::cmp::Ordering;

const P0: u64 = 0xa076_1d64_78bd_642f;
const P1: u64 = 0xe703_7ed1_a0b4_28db;
const P2: u64 = 0x8ebc_6af0_9c88_c6e3;

#[inline(always)]
fn folded_multiply(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

/// murmur3's 64-bit finalizer.
#[inline(always)]
fn fmix64(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

/// The deterministic streaming hasher behind [`hash_value`]; exposed so callers can hash
/// several values (e.g. a compound key) into one state.
#[derive(Debug, Clone)]
pub struct BsonHasher {
    state: u64,
}

impl BsonHasher {
    pub fn new(seed: u64) -> Self {
        BsonHasher { state: folded_multiply(seed ^ P0, P1) }
    }

    #[inline]
    pub fn write_u64(&mut self, x: u64) {
        // The rotated old state is folded back in so that no input can zero the state
        // (a plain `mum(state ^ P0, x ^ P1)` forgets all history when `x == P1`).
        self.state = folded_multiply(self.state ^ x, P1) ^ self.state.rotate_left(29);
    }

    /// Bytes with their length, so that concatenations are unambiguous.
    #[inline]
    pub fn write_bytes(&mut self, bytes: &[u8]) {
        self.write_u64(bytes.len() as u64 ^ P2);
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.write_u64(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            if let Some(dst) = w.get_mut(..rest.len()) {
                dst.copy_from_slice(rest);
            }
            self.write_u64(u64::from_le_bytes(w));
        }
    }

    /// Feeds one BSON value (consistently with [`crate::compare::compare_values`]).
    pub fn write_value(&mut self, value: RawBsonRef<'_>) {
        with_val(value, |v| self.val(&v, 0));
    }

    pub fn finish(&self) -> u64 {
        fmix64(self.state)
    }

    fn val(&mut self, v: &Val<'_>, depth: usize) {
        self.write_u64(v.rank() as u64);
        match v {
            Val::Number(n) => self.number(n),
            Val::String(s) | Val::Symbol(s) | Val::Code(s) => self.write_bytes(s),
            Val::Document(d) => self.elements(d, true, depth + 1),
            Val::Array(d) => self.elements(d, false, depth + 1),
            Val::Binary { len, subtype, data } => {
                self.write_u64((u64::from(*len) << 8) | u64::from(*subtype));
                self.write_bytes(data);
            }
            Val::ObjectId(o) => self.write_bytes(o),
            Val::Boolean(b) => self.write_u64(u64::from(*b)),
            Val::DateTime(d) => self.write_u64(*d as u64),
            Val::Timestamp(t) => self.write_u64(*t),
            Val::Regex { pattern, options } => {
                self.write_bytes(pattern);
                self.write_bytes(options);
            }
            Val::DbPointer { namespace, oid } => {
                self.write_bytes(namespace);
                self.write_bytes(oid);
            }
            Val::CodeWithScope { code, scope } => {
                self.write_bytes(code);
                self.elements(scope, true, depth + 1);
            }
            Val::MinKey | Val::Undefined | Val::Null | Val::MaxKey | Val::Invalid => {}
        }
    }

    fn elements(&mut self, bytes: &[u8], field_names: bool, depth: usize) {
        if depth > MAX_STRUCTURAL_DEPTH {
            // Mirrors the comparison's byte-order fallback for absurd nesting.
            self.write_bytes(bytes);
            return;
        }
        let mut count: u64 = 0;
        for (key, v) in Elements::new(bytes) {
            if field_names {
                self.write_bytes(key);
            }
            self.val(&v, depth);
            count += 1;
        }
        self.write_u64(count ^ P2);
    }

    fn number(&mut self, n: &Number) {
        const TAG_INT: u64 = 1;
        const TAG_DOUBLE: u64 = 2;
        const TAG_DECIMAL: u64 = 3;
        const TAG_NAN: u64 = 4;
        if let Some(i) = n.as_i64_exact() {
            self.write_u64(TAG_INT);
            self.write_u64(i as u64);
            return;
        }
        let double = match *n {
            Number::Double(d) => Some(d),
            Number::Decimal(d) => {
                let p = decimal_parts(&d);
                match p.kind {
                    DecimalKind::NaN { .. } => Some(f64::NAN),
                    DecimalKind::Infinity => Some(decimal_to_f64(&p)),
                    DecimalKind::Finite => {
                        let nearest = decimal_to_f64(&p);
                        // Zero was hashed as an integer above, so an underflow to 0.0 or
                        // an overflow to infinity cannot be equal to this decimal.
                        if nearest.is_finite()
                            && nearest != 0.0
                            && cmp_decimal(&f64_to_decimal(nearest), &p) == Ordering::Equal
                        {
                            Some(nearest)
                        } else {
                            let norm = p.normalized();
                            self.write_u64(TAG_DECIMAL);
                            self.write_u64(u64::from(norm.negative));
                            self.write_u64(norm.coefficient as u64);
                            self.write_u64((norm.coefficient >> 64) as u64);
                            self.write_u64(norm.exponent as i64 as u64);
                            None
                        }
                    }
                }
            }
            // Integers always take the i64 branch.
            Number::Int32(i) => Some(f64::from(i)),
            Number::Int64(i) => Some(i as f64),
        };
        if let Some(d) = double {
            if d.is_nan() {
                self.write_u64(TAG_NAN);
            } else {
                self.write_u64(TAG_DOUBLE);
                self.write_u64(d.to_bits());
            }
        }
    }
}

/// Hash of a document, equal to `hash_value(RawBsonRef::Document(doc), seed)`.
pub fn hash_document(doc: &RawDocument, seed: u64) -> u64 {
    let mut h = BsonHasher::new(seed);
    h.write_value(RawBsonRef::Document(doc));
    h.finish()
}

/// Hash of one value: `compare_values(a, b) == Equal` implies equal hashes (same seed).
pub fn hash_value(value: RawBsonRef<'_>, seed: u64) -> u64 {
    let mut h = BsonHasher::new(seed);
    h.write_value(value);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::compare_values;
    use bson::{rawdoc, Decimal128, RawBson};
    use std::str::FromStr;

    fn dec(s: &str) -> RawBson {
        RawBson::Decimal128(Decimal128::from_str(s).expect("decimal literal"))
    }

    fn h(v: &RawBson) -> u64 {
        hash_value(v.as_raw_bson_ref(), 0)
    }

    fn assert_same(group: &[RawBson]) {
        for a in group {
            for b in group {
                assert_eq!(compare_values(a.as_raw_bson_ref(), b.as_raw_bson_ref()), Ordering::Equal, "{a:?} vs {b:?}");
                assert_eq!(h(a), h(b), "{a:?} vs {b:?}");
            }
        }
    }

    #[test]
    fn equal_numbers_hash_alike_across_types() {
        assert_same(&[
            RawBson::Int32(1),
            RawBson::Int64(1),
            RawBson::Double(1.0),
            dec("1.00"),
            dec("1E+0"),
            dec("0.001E+3"),
        ]);
        assert_same(&[RawBson::Int32(0), RawBson::Double(-0.0), dec("-0"), dec("0E-6176")]);
        assert_same(&[RawBson::Double(f64::NAN), RawBson::Double(-f64::NAN), dec("NaN"), dec("-NaN")]);
        assert_same(&[RawBson::Double(f64::INFINITY), dec("Infinity")]);
        assert_same(&[RawBson::Double(f64::NEG_INFINITY), dec("-Infinity")]);
        assert_same(&[RawBson::Double(0.5), dec("0.50")]);
        assert_same(&[
            RawBson::Double(0.1),
            dec("0.1000000000000000055511151231257827"),
            dec("0.10000000000000000555111512312578270"),
        ]);
        assert_same(&[dec("0.1"), dec("0.100")]);
        assert_same(&[
            RawBson::Int64(i64::MIN),
            RawBson::Double(-9_223_372_036_854_775_808.0),
            dec("-9223372036854775808"),
        ]);
        assert_same(&[RawBson::Double(1e300), dec("1.000000000000000052504760255204420E+300")]);
        assert_same(&[dec("1E+40"), dec("10E+39")]);
    }

    #[test]
    fn unequal_numbers_hash_differently() {
        assert_ne!(h(&dec("0.1")), h(&RawBson::Double(0.1)));
        assert_ne!(h(&RawBson::Int32(1)), h(&RawBson::Int32(2)));
        assert_ne!(h(&RawBson::Double(1.5)), h(&dec("1.6")));
    }

    #[test]
    fn string_and_symbol_hash_alike() {
        assert_same(&[RawBson::String("abc".into()), RawBson::Symbol("abc".into())]);
        assert_ne!(h(&RawBson::String("abc".into())), h(&RawBson::JavaScriptCode("abc".into())));
    }

    #[test]
    fn documents_hash_by_field_names_and_values() {
        let a = rawdoc! {"a": 1, "b": [1.0, {"c": "x"}]};
        let b = rawdoc! {"a": 1i64, "b": [1i32, {"c": "x"}]};
        assert_eq!(hash_document(&a, 7), hash_document(&b, 7));
        assert_eq!(hash_document(&a, 7), hash_value(RawBsonRef::Document(&a), 7));
        assert_ne!(hash_document(&a, 7), hash_document(&a, 8));
        let c = rawdoc! {"a": 1, "c": [1.0, {"c": "x"}]};
        assert_ne!(hash_document(&a, 7), hash_document(&c, 7));
        // Document vs array with the same values: different rank.
        let arr = rawdoc! {"v": [1]};
        let obj = rawdoc! {"v": {"0": 1}};
        assert_ne!(hash_document(&arr, 0), hash_document(&obj, 0));
    }

    #[test]
    fn hash_is_stable_across_builds() {
        // Pinned values: changing them breaks persisted hash indexes.
        assert_eq!(hash_value(RawBsonRef::Int32(1), 0), hash_value(RawBsonRef::Int64(1), 0));
        let doc = rawdoc! {"_id": 1, "name": "x"};
        assert_eq!(hash_document(&doc, 0), PINNED_DOC_HASH);
        assert_eq!(hash_value(RawBsonRef::Int32(1), 0), PINNED_ONE_HASH);
    }

    #[test]
    fn depth_cap_is_consistent_with_compare() {
        // {a: {a: ... {a: leaf}}} with an int32 vs double leaf at every depth around the
        // structural-depth cap: whenever compare says Equal, hashes must agree.
        fn nested(depth: usize, leaf: RawBson) -> bson::RawDocumentBuf {
            let mut d = rawdoc! {"a": leaf};
            for _ in 0..depth {
                d = rawdoc! {"a": d};
            }
            d
        }
        let cap = crate::compare::MAX_STRUCTURAL_DEPTH;
        for depth in cap - 3..cap + 3 {
            let a = nested(depth, RawBson::Int32(1));
            let b = nested(depth, RawBson::Double(1.0));
            let (va, vb) = (RawBsonRef::Document(&a), RawBsonRef::Document(&b));
            let equal = compare_values(va, vb) == Ordering::Equal;
            // The innermost document sits at level depth + 1 (the top-level document is 1).
            assert_eq!(equal, depth < cap, "depth {depth}");
            if equal {
                assert_eq!(hash_value(va, 0), hash_value(vb, 0), "depth {depth}");
                assert_eq!(hash_document(&a, 0), hash_document(&b, 0), "depth {depth}");
            }
            assert_eq!(crate::compare::compare_documents(&a, &b), compare_values(va, vb));
        }
    }

    #[test]
    fn hash_spreads_small_integers_and_strings() {
        use std::collections::HashSet;
        let mut seen = HashSet::new();
        let mut buckets = [0u32; 64];
        for i in 0..20_000i32 {
            let x = hash_value(RawBsonRef::Int32(i), 0);
            seen.insert(x);
            buckets[(x & 63) as usize] += 1;
            seen.insert(hash_value(RawBsonRef::String(&i.to_string()), 0));
        }
        assert_eq!(seen.len(), 40_000);
        // 20000 / 64 ≈ 312 per bucket; allow generous slack.
        assert!(buckets.iter().all(|&b| (200..450).contains(&b)), "{buckets:?}");
    }

    const PINNED_DOC_HASH: u64 = 7411832954407504989;
    const PINNED_ONE_HASH: u64 = 7022389761631864329;
}
