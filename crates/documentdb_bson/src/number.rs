//! Numeric helpers shared by comparison, hashing and arithmetic: exact
//! int64/double comparison and decimal128 decoding.
//!
//! MongoDB compares all numeric BSON types (int32, int64, double, decimal128) by their
//! mathematical value ("BSON Types" comparison/sort order in the MongoDB manual: numbers
//! are compared as if they were one type, converting as needed). The rules implemented
//! here follow MongoDB's `compareElementValues`/`compare_numbers.h`:
//!
//! * int32 and int64 compare exactly.
//! * int64 vs double compares exactly, without a lossy cast (2^53 + 1 > 2^53).
//! * NaN (double or decimal) sorts below every other number and is equal to every NaN.
//! * -0 equals +0; the infinities order as expected.
//! * decimal128 vs decimal128 and decimal128 vs integer compare exactly.
//! * decimal128 vs double converts the double to decimal128 rounded to 34 significant
//!   digits (round half to even) and compares the decimals.

use bson::{Decimal128, RawBsonRef};
use std::cmp::Ordering;
use std::fmt::Write as _;

/// Exponent bias of the decimal128 BID encoding.
pub const DECIMAL_EXPONENT_BIAS: i32 = 6176;
/// Smallest decimal128 exponent (of the integer coefficient).
pub const DECIMAL_MIN_EXPONENT: i32 = -6176;
/// Largest decimal128 exponent (of the integer coefficient).
pub const DECIMAL_MAX_EXPONENT: i32 = 6111;
/// Largest canonical decimal128 coefficient: 10^34 - 1.
pub const DECIMAL_MAX_COEFFICIENT: u128 = 9_999_999_999_999_999_999_999_999_999_999_999;
/// Number of significant decimal digits of a decimal128.
pub const DECIMAL_PRECISION: u32 = 34;

/// What kind of value a decimal128 holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DecimalKind {
    /// A finite number `(-1)^negative * coefficient * 10^exponent`.
    Finite,
    /// Positive or negative infinity (per `negative`).
    Infinity,
    /// Not a number; `signaling` distinguishes sNaN from qNaN.
    NaN { signaling: bool },
}

/// A decoded decimal128: `(-1)^negative * coefficient * 10^exponent` when finite.
///
/// `coefficient` and `exponent` are meaningful only for [`DecimalKind::Finite`] (they are
/// zero otherwise). Non-canonical encodings (a coefficient above 10^34 - 1, including every
/// value of the second combination-field form) decode to a zero coefficient with the
/// encoded exponent, as IEEE 754-2008 prescribes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decimal128Parts {
    pub negative: bool,
    pub coefficient: u128,
    pub exponent: i32,
    pub kind: DecimalKind,
}

impl Decimal128Parts {
    /// A finite value `(-1)^negative * coefficient * 10^exponent` (not range-checked).
    pub const fn finite(negative: bool, coefficient: u128, exponent: i32) -> Self {
        Decimal128Parts { negative, coefficient, exponent, kind: DecimalKind::Finite }
    }

    /// Quiet NaN.
    pub const NAN: Decimal128Parts =
        Decimal128Parts { negative: false, coefficient: 0, exponent: 0, kind: DecimalKind::NaN { signaling: false } };

    /// Positive (`negative == false`) or negative infinity.
    pub const fn infinity(negative: bool) -> Self {
        Decimal128Parts { negative, coefficient: 0, exponent: 0, kind: DecimalKind::Infinity }
    }

    pub fn is_nan(&self) -> bool {
        matches!(self.kind, DecimalKind::NaN { .. })
    }

    pub fn is_infinite(&self) -> bool {
        self.kind == DecimalKind::Infinity
    }

    pub fn is_finite(&self) -> bool {
        self.kind == DecimalKind::Finite
    }

    /// True for finite zeros of either sign and any exponent.
    pub fn is_zero(&self) -> bool {
        self.kind == DecimalKind::Finite && self.coefficient == 0
    }

    /// The same value with trailing zeros stripped from the coefficient (exponent raised
    /// accordingly); zero becomes `+0E0`, NaN loses its sign and signaling flag. Two finite
    /// decimals with equal values normalize to equal parts.
    pub fn normalized(&self) -> Decimal128Parts {
        match self.kind {
            DecimalKind::NaN { .. } => Decimal128Parts::NAN,
            DecimalKind::Infinity => Decimal128Parts::infinity(self.negative),
            DecimalKind::Finite => {
                if self.coefficient == 0 {
                    return Decimal128Parts::finite(false, 0, 0);
                }
                let mut c = self.coefficient;
                let mut e = self.exponent;
                while c.is_multiple_of(10) {
                    c /= 10;
                    e += 1;
                }
                Decimal128Parts::finite(self.negative, c, e)
            }
        }
    }

    /// The value as an `i64` when it is an integer in the `i64` range.
    pub fn to_i64_exact(&self) -> Option<i64> {
        if self.kind != DecimalKind::Finite {
            return None;
        }
        if self.coefficient == 0 {
            return Some(0);
        }
        let magnitude: u128 = if self.exponent >= 0 {
            // 10^19 > 2^63, so any exponent above 18 with a non-zero coefficient overflows.
            if self.exponent > 19 {
                return None;
            }
            self.coefficient.checked_mul(pow10(self.exponent.unsigned_abs())?)?
        } else {
            let p = pow10(self.exponent.unsigned_abs())?;
            if !self.coefficient.is_multiple_of(p) {
                return None;
            }
            self.coefficient / p
        };
        if self.negative {
            if magnitude <= 1u128 << 63 {
                Some((magnitude as i128).wrapping_neg() as i64)
            } else {
                None
            }
        } else {
            i64::try_from(magnitude).ok()
        }
    }

    /// Whether the value is a (finite) integer.
    pub fn is_integral(&self) -> bool {
        if self.kind != DecimalKind::Finite {
            return false;
        }
        if self.coefficient == 0 || self.exponent >= 0 {
            return true;
        }
        match pow10(self.exponent.unsigned_abs()) {
            Some(p) => self.coefficient.is_multiple_of(p),
            // 10^39 > u128::MAX > coefficient: only zero is divisible.
            None => false,
        }
    }
}

/// 10^n for n <= 38, `None` above (u128 overflow).
pub fn pow10(n: u32) -> Option<u128> {
    10u128.checked_pow(n)
}

/// Number of decimal digits of `c` (1 for zero).
pub fn decimal_digits(c: u128) -> u32 {
    match c.checked_ilog10() {
        Some(d) => d + 1,
        None => 1,
    }
}

/// Decodes the BID (binary integer decimal) encoding of a decimal128, as stored in BSON
/// (16 bytes, little-endian).
pub fn decode_decimal128(bytes: [u8; 16]) -> Decimal128Parts {
    let v = u128::from_le_bytes(bytes);
    let high = (v >> 64) as u64;
    let negative = high >> 63 == 1;
    // Bits 62..58 of the high word: the combination field's leading 5 bits.
    let combination = (high >> 58) & 0x1f;
    if combination == 0x1f {
        return Decimal128Parts {
            negative,
            coefficient: 0,
            exponent: 0,
            kind: DecimalKind::NaN { signaling: (high >> 57) & 1 == 1 },
        };
    }
    if combination == 0x1e {
        return Decimal128Parts::infinity(negative);
    }
    let (biased_exponent, coefficient) = if (high >> 61) & 0b11 == 0b11 {
        // Second form: 14 exponent bits at 60..47, implicit `100` coefficient prefix. The
        // coefficient is then at least 2^113 > 10^34 - 1: non-canonical, hence zero.
        (((high >> 47) & 0x3fff) as i32, 0u128)
    } else {
        let c = v & ((1u128 << 113) - 1);
        let c = if c > DECIMAL_MAX_COEFFICIENT { 0 } else { c };
        (((high >> 49) & 0x3fff) as i32, c)
    };
    Decimal128Parts::finite(negative, coefficient, biased_exponent - DECIMAL_EXPONENT_BIAS)
}

/// Encodes parts into the BID decimal128 byte layout. `None` for a finite value whose
/// coefficient exceeds 10^34 - 1 or whose exponent is outside
/// [`DECIMAL_MIN_EXPONENT`]..=[`DECIMAL_MAX_EXPONENT`] (no rounding is done here).
pub fn encode_decimal128(parts: &Decimal128Parts) -> Option<[u8; 16]> {
    let sign = if parts.negative { 1u128 << 127 } else { 0 };
    let v = match parts.kind {
        DecimalKind::NaN { signaling } => sign | (0x1fu128 << 122) | if signaling { 1u128 << 121 } else { 0 },
        DecimalKind::Infinity => sign | (0x1eu128 << 122),
        DecimalKind::Finite => {
            if parts.coefficient > DECIMAL_MAX_COEFFICIENT
                || parts.exponent < DECIMAL_MIN_EXPONENT
                || parts.exponent > DECIMAL_MAX_EXPONENT
            {
                return None;
            }
            let biased = (parts.exponent + DECIMAL_EXPONENT_BIAS) as u128;
            sign | (biased << 113) | parts.coefficient
        }
    };
    Some(v.to_le_bytes())
}

/// Decodes a `bson::Decimal128`.
pub fn decimal_parts(d: &Decimal128) -> Decimal128Parts {
    decode_decimal128(d.bytes())
}

/// Exact three-way comparison of an int64 with a double (MongoDB order: every number is
/// greater than NaN). No lossy conversion: `2^53 + 1` (int64) > `2^53` (double).
pub fn cmp_i64_f64(i: i64, d: f64) -> Ordering {
    if d.is_nan() {
        return Ordering::Greater;
    }
    // 2^63 is exactly representable as a double.
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if d >= TWO_63 {
        return Ordering::Less;
    }
    if d < -TWO_63 {
        return Ordering::Greater;
    }
    // |d| < 2^63 (or d == -2^63): truncation is exact and fits an i64.
    let t = d.trunc();
    let ti = t as i64;
    match i.cmp(&ti) {
        Ordering::Equal => {
            if d > t {
                Ordering::Less
            } else if d < t {
                Ordering::Greater
            } else {
                Ordering::Equal
            }
        }
        o => o,
    }
}

/// Three-way comparison of doubles in MongoDB order: NaN below everything and equal to
/// every NaN, -0.0 == 0.0.
pub fn cmp_f64(a: f64, b: f64) -> Ordering {
    match a.partial_cmp(&b) {
        Some(o) => o,
        None => match (a.is_nan(), b.is_nan()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            _ => Ordering::Greater,
        },
    }
}

/// Exact comparison of finite magnitudes `c1 * 10^e1` vs `c2 * 10^e2`.
fn cmp_magnitude(c1: u128, e1: i32, c2: u128, e2: i32) -> Ordering {
    match (c1 == 0, c2 == 0) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Less,
        (false, true) => return Ordering::Greater,
        (false, false) => {}
    }
    let d1 = decimal_digits(c1);
    let d2 = decimal_digits(c2);
    // Position of the most significant digit decides unless equal.
    let a1 = i64::from(e1) + i64::from(d1);
    let a2 = i64::from(e2) + i64::from(d2);
    if a1 != a2 {
        return a1.cmp(&a2);
    }
    // Same leading-digit position: align by dividing the longer coefficient.
    match d1.cmp(&d2) {
        Ordering::Equal => c1.cmp(&c2),
        Ordering::Greater => cmp_scaled(c1, d1 - d2, c2),
        Ordering::Less => cmp_scaled(c2, d2 - d1, c1).reverse(),
    }
}

/// Compares `long` with `short * 10^k` without overflow.
fn cmp_scaled(long: u128, k: u32, short: u128) -> Ordering {
    match pow10(k) {
        Some(p) => {
            let q = long / p;
            match q.cmp(&short) {
                Ordering::Equal if !long.is_multiple_of(p) => Ordering::Greater,
                o => o,
            }
        }
        // k >= 39 cannot happen for u128 digit counts (max 39 digits, min 1).
        None => Ordering::Greater,
    }
}

/// Exact comparison of two decoded decimals in MongoDB order (NaN below all numbers and
/// equal to any NaN; -0 == +0).
pub fn cmp_decimal(a: &Decimal128Parts, b: &Decimal128Parts) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Less,
        (false, true) => return Ordering::Greater,
        (false, false) => {}
    }
    // Rank: -inf < negative < zero < positive < +inf.
    fn class(p: &Decimal128Parts) -> i8 {
        match p.kind {
            DecimalKind::Infinity => {
                if p.negative {
                    -2
                } else {
                    2
                }
            }
            _ if p.coefficient == 0 => 0,
            _ if p.negative => -1,
            _ => 1,
        }
    }
    let (ca, cb) = (class(a), class(b));
    if ca != cb {
        return ca.cmp(&cb);
    }
    match ca {
        1 => cmp_magnitude(a.coefficient, a.exponent, b.coefficient, b.exponent),
        -1 => cmp_magnitude(a.coefficient, a.exponent, b.coefficient, b.exponent).reverse(),
        _ => Ordering::Equal,
    }
}

/// A small fixed-capacity `fmt::Write` sink so number formatting needs no heap.
struct StackBuf {
    buf: [u8; 64],
    len: usize,
}

impl StackBuf {
    fn new() -> Self {
        StackBuf { buf: [0; 64], len: 0 }
    }

    fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or("")
    }
}

impl std::fmt::Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len.checked_add(s.len()).ok_or(std::fmt::Error)?;
        let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// The double nearest to a decimal (correctly rounded, ties to even); NaN and the
/// infinities map to their double counterparts, overflow to infinity, underflow to a
/// signed zero.
pub fn decimal_to_f64(p: &Decimal128Parts) -> f64 {
    match p.kind {
        DecimalKind::NaN { .. } => f64::NAN,
        DecimalKind::Infinity => {
            if p.negative {
                f64::NEG_INFINITY
            } else {
                f64::INFINITY
            }
        }
        DecimalKind::Finite => {
            let signed = |x: f64| if p.negative { -x } else { x };
            if p.coefficient == 0 {
                return signed(0.0);
            }
            // Fast exact path: coefficient and power of ten both exact doubles.
            if p.coefficient < (1u128 << 53) && (-22..=22).contains(&p.exponent) {
                let c = p.coefficient as f64;
                let r = if p.exponent >= 0 {
                    c * POW10_F64[p.exponent as usize]
                } else {
                    c / POW10_F64[(-p.exponent) as usize]
                };
                return signed(r);
            }
            // Rust's float parser is correctly rounded.
            let mut s = StackBuf::new();
            if write!(s, "{}e{}", p.coefficient, p.exponent).is_err() {
                return f64::NAN;
            }
            signed(s.as_str().parse::<f64>().unwrap_or(f64::NAN))
        }
    }
}

const POW10_F64: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20,
    1e21, 1e22,
];

/// Converts a double to decimal128 as MongoDB's `Decimal128(double, kRoundTo34Digits)`:
/// rounded to 34 significant digits. Integral doubles below 2^63 in magnitude convert
/// exactly with exponent 0; zero keeps its sign with exponent 0.
pub fn f64_to_decimal(d: f64) -> Decimal128Parts {
    if d.is_nan() {
        return Decimal128Parts::NAN;
    }
    if d.is_infinite() {
        return Decimal128Parts::infinity(d < 0.0);
    }
    let negative = d.is_sign_negative();
    if d == 0.0 {
        return Decimal128Parts::finite(negative, 0, 0);
    }
    let a = d.abs();
    if a < 9_223_372_036_854_775_808.0 && a.fract() == 0.0 {
        return Decimal128Parts::finite(negative, a as u64 as u128, 0);
    }
    // `{:.33e}` is correctly rounded to 34 significant digits: "d.ddd…de[-]x".
    let mut s = StackBuf::new();
    if write!(s, "{:.33e}", a).is_err() {
        return Decimal128Parts::NAN;
    }
    let mut coefficient: u128 = 0;
    let mut exp_part: Option<&[u8]> = None;
    let bytes = s.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'0'..=b'9' => coefficient = coefficient * 10 + u128::from(b - b'0'),
            b'.' => {}
            b'e' | b'E' => {
                exp_part = bytes.get(i + 1..);
                break;
            }
            _ => return Decimal128Parts::NAN,
        }
    }
    let exp10: i32 = exp_part.and_then(|e| std::str::from_utf8(e).ok()).and_then(|e| e.parse().ok()).unwrap_or(0);
    Decimal128Parts::finite(negative, coefficient, exp10 - (DECIMAL_PRECISION as i32 - 1))
}

/// Compares a decimal with a double as MongoDB does: the double is converted to decimal128
/// with 34-digit rounding ([`f64_to_decimal`]). Values whose magnitudes are orders apart
/// are decided without that (comparatively costly) conversion.
pub fn cmp_decimal_f64(p: &Decimal128Parts, d: f64) -> Ordering {
    if p.is_finite() && d.is_finite() && p.coefficient != 0 && d != 0.0 {
        let (pneg, dneg) = (p.negative, d < 0.0);
        if pneg != dneg {
            return if pneg { Ordering::Less } else { Ordering::Greater };
        }
        // Decimal in [10^a, 10^(a+1)); the double's estimate may be off by one.
        let a = i64::from(p.exponent) + i64::from(decimal_digits(p.coefficient)) - 1;
        let b = d.abs().log10().floor() as i64;
        if (a - b).abs() >= 2 {
            let magnitude = a.cmp(&b);
            return if pneg { magnitude.reverse() } else { magnitude };
        }
    }
    cmp_decimal(p, &f64_to_decimal(d))
}

/// An int64 as exact decimal parts.
pub fn i64_to_decimal(i: i64) -> Decimal128Parts {
    Decimal128Parts::finite(i < 0, u128::from(i.unsigned_abs()), 0)
}

/// A BSON number of any of the four numeric types.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Int32(i32),
    Int64(i64),
    Double(f64),
    Decimal(Decimal128),
}

impl Number {
    /// The number held by a BSON value, `None` for non-numeric values.
    #[inline]
    pub fn from_raw(value: RawBsonRef<'_>) -> Option<Number> {
        match value {
            RawBsonRef::Int32(i) => Some(Number::Int32(i)),
            RawBsonRef::Int64(i) => Some(Number::Int64(i)),
            RawBsonRef::Double(d) => Some(Number::Double(d)),
            RawBsonRef::Decimal128(d) => Some(Number::Decimal(d)),
            _ => None,
        }
    }

    /// Back to a borrowed BSON value of the same type.
    pub fn to_raw(self) -> RawBsonRef<'static> {
        match self {
            Number::Int32(i) => RawBsonRef::Int32(i),
            Number::Int64(i) => RawBsonRef::Int64(i),
            Number::Double(d) => RawBsonRef::Double(d),
            Number::Decimal(d) => RawBsonRef::Decimal128(d),
        }
    }

    /// MongoDB's numeric comparison (see the module docs).
    #[inline]
    pub fn compare(&self, other: &Number) -> Ordering {
        use Number::*;
        match (*self, *other) {
            (Int32(a), Int32(b)) => a.cmp(&b),
            (Int32(a), Int64(b)) => i64::from(a).cmp(&b),
            (Int64(a), Int32(b)) => a.cmp(&i64::from(b)),
            (Int64(a), Int64(b)) => a.cmp(&b),
            (Double(a), Double(b)) => cmp_f64(a, b),
            (Int32(a), Double(b)) => cmp_i64_f64(i64::from(a), b),
            (Int64(a), Double(b)) => cmp_i64_f64(a, b),
            (Double(a), Int32(b)) => cmp_i64_f64(i64::from(b), a).reverse(),
            (Double(a), Int64(b)) => cmp_i64_f64(b, a).reverse(),
            (Decimal(a), Decimal(b)) => {
                if a.bytes() == b.bytes() {
                    Ordering::Equal
                } else {
                    cmp_decimal(&decimal_parts(&a), &decimal_parts(&b))
                }
            }
            (Decimal(a), Double(b)) => cmp_decimal_f64(&decimal_parts(&a), b),
            (Double(a), Decimal(b)) => cmp_decimal_f64(&decimal_parts(&b), a).reverse(),
            (Decimal(a), b) => cmp_decimal(&decimal_parts(&a), &b.to_decimal_parts()),
            (a, Decimal(b)) => cmp_decimal(&a.to_decimal_parts(), &decimal_parts(&b)),
        }
    }

    /// Decimal parts of the value; a double is rounded to 34 significant digits as MongoDB
    /// does when comparing it with a decimal.
    pub fn to_decimal_parts(&self) -> Decimal128Parts {
        match *self {
            Number::Int32(i) => i64_to_decimal(i64::from(i)),
            Number::Int64(i) => i64_to_decimal(i),
            Number::Double(d) => f64_to_decimal(d),
            Number::Decimal(d) => decimal_parts(&d),
        }
    }

    /// The nearest double (int64 and decimal values may round).
    pub fn as_f64(&self) -> f64 {
        match *self {
            Number::Int32(i) => f64::from(i),
            Number::Int64(i) => i as f64,
            Number::Double(d) => d,
            Number::Decimal(d) => decimal_to_f64(&decimal_parts(&d)),
        }
    }

    /// The value as an `i64` when it is exactly an integer in the `i64` range (-0.0 → 0).
    pub fn as_i64_exact(&self) -> Option<i64> {
        match *self {
            Number::Int32(i) => Some(i64::from(i)),
            Number::Int64(i) => Some(i),
            Number::Double(d) => f64_to_i64_exact(d),
            Number::Decimal(d) => decimal_parts(&d).to_i64_exact(),
        }
    }

    /// True for a double or decimal NaN.
    pub fn is_nan(&self) -> bool {
        match *self {
            Number::Double(d) => d.is_nan(),
            Number::Decimal(d) => decimal_parts(&d).is_nan(),
            _ => false,
        }
    }
}

/// `d` as an `i64` when it is an integer in `[-2^63, 2^63)`.
pub fn f64_to_i64_exact(d: f64) -> Option<i64> {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if (-TWO_63..TWO_63).contains(&d) && d.fract() == 0.0 {
        Some(d as i64)
    } else {
        None
    }
}

/// Converts decimal parts to a `bson::Decimal128` (see [`encode_decimal128`]).
pub fn parts_to_decimal128(parts: &Decimal128Parts) -> Option<Decimal128> {
    encode_decimal128(parts).map(Decimal128::from_bytes)
}

/// A double converted to `bson::Decimal128` with 34-digit rounding ([`f64_to_decimal`]).
pub fn f64_to_decimal128(d: f64) -> Decimal128 {
    let parts = f64_to_decimal(d);
    // Every finite double has at most 34 digits here and an exponent well within range.
    parts_to_decimal128(&parts)
        .unwrap_or_else(|| Decimal128::from_bytes(encode_decimal128(&Decimal128Parts::NAN).unwrap_or([0; 16])))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn dec(s: &str) -> Decimal128 {
        Decimal128::from_str(s).expect("valid decimal literal")
    }

    fn parts(s: &str) -> Decimal128Parts {
        decimal_parts(&dec(s))
    }

    #[test]
    fn decode_finite_first_form() {
        let p = parts("-1.25E+3");
        assert_eq!(p, Decimal128Parts::finite(true, 125, 1));
        let p = parts("0.001");
        assert_eq!(p, Decimal128Parts::finite(false, 1, -3));
        let p = parts("9999999999999999999999999999999999E6111");
        assert_eq!(p.coefficient, DECIMAL_MAX_COEFFICIENT);
        assert_eq!(p.exponent, DECIMAL_MAX_EXPONENT);
    }

    #[test]
    fn decode_special_values() {
        assert!(parts("NaN").is_nan());
        assert!(parts("-NaN").is_nan());
        assert_eq!(parts("Infinity"), Decimal128Parts::infinity(false));
        assert_eq!(parts("-Infinity"), Decimal128Parts::infinity(true));
        // sNaN: 0x7e00...
        let mut b = [0u8; 16];
        b[15] = 0x7e;
        assert_eq!(decode_decimal128(b).kind, DecimalKind::NaN { signaling: true });
    }

    #[test]
    fn non_canonical_coefficient_is_zero() {
        // First form with coefficient 10^34 (> max): treated as zero.
        let c = DECIMAL_MAX_COEFFICIENT + 1;
        let v = ((DECIMAL_EXPONENT_BIAS as u128) << 113) | c;
        let p = decode_decimal128(v.to_le_bytes());
        assert!(p.is_zero());
        assert_eq!(p.exponent, 0);
        // Second combination form (bits 62-61 = 11): always non-canonical → zero, with
        // the exponent taken from bits 60..47.
        let high: u64 = (0b11 << 61) | ((DECIMAL_EXPONENT_BIAS as u64 + 5) << 47) | 7;
        let v = (u128::from(high) << 64) | 123;
        let p = decode_decimal128(v.to_le_bytes());
        assert!(p.is_zero());
        assert_eq!(p.exponent, 5);
        assert_eq!(cmp_decimal(&p, &parts("0")), Ordering::Equal);
    }

    #[test]
    fn encode_round_trips() {
        for s in [
            "0",
            "-0",
            "1",
            "1.00",
            "-1.25E+3",
            "1E-6176",
            "NaN",
            "Infinity",
            "-Infinity",
            "9999999999999999999999999999999999E6111",
            "123456789012345678901234567890",
        ] {
            let d = dec(s);
            let p = decimal_parts(&d);
            assert_eq!(encode_decimal128(&p), Some(d.bytes()), "{s}");
        }
        assert_eq!(encode_decimal128(&Decimal128Parts::finite(false, 1, 6112)), None);
    }

    #[test]
    fn int64_vs_double_exact() {
        let two53 = 1i64 << 53;
        assert_eq!(cmp_i64_f64(two53 + 1, two53 as f64), Ordering::Greater);
        assert_eq!(cmp_i64_f64(two53, two53 as f64), Ordering::Equal);
        assert_eq!(cmp_i64_f64(i64::MAX, i64::MAX as f64), Ordering::Less);
        assert_eq!(cmp_i64_f64(i64::MIN, -9_223_372_036_854_775_808.0), Ordering::Equal);
        assert_eq!(cmp_i64_f64(i64::MIN, -9.3e18), Ordering::Greater);
        assert_eq!(cmp_i64_f64(1, 1.5), Ordering::Less);
        assert_eq!(cmp_i64_f64(-1, -1.5), Ordering::Greater);
        assert_eq!(cmp_i64_f64(-2, -1.5), Ordering::Less);
        assert_eq!(cmp_i64_f64(0, -0.0), Ordering::Equal);
        assert_eq!(cmp_i64_f64(i64::MIN, f64::NAN), Ordering::Greater);
        assert_eq!(cmp_i64_f64(i64::MAX, f64::INFINITY), Ordering::Less);
        assert_eq!(cmp_i64_f64(i64::MIN, f64::NEG_INFINITY), Ordering::Greater);
    }

    #[test]
    fn doubles_nan_lowest_and_zero_signless() {
        assert_eq!(cmp_f64(f64::NAN, f64::NEG_INFINITY), Ordering::Less);
        assert_eq!(cmp_f64(f64::NAN, -f64::NAN), Ordering::Equal);
        assert_eq!(cmp_f64(-0.0, 0.0), Ordering::Equal);
        assert_eq!(cmp_f64(1.0, f64::NAN), Ordering::Greater);
    }

    #[test]
    fn decimal_compare_exact() {
        let c = |a: &str, b: &str| cmp_decimal(&parts(a), &parts(b));
        assert_eq!(c("1.0", "1.00"), Ordering::Equal);
        assert_eq!(c("1E+0", "1"), Ordering::Equal);
        assert_eq!(c("-0", "0E+10"), Ordering::Equal);
        assert_eq!(c("0.1", "0.10000000000000000000000000000001"), Ordering::Less);
        assert_eq!(c("1E+6111", "Infinity"), Ordering::Less);
        assert_eq!(c("-Infinity", "-1E+6111"), Ordering::Less);
        assert_eq!(c("NaN", "-Infinity"), Ordering::Less);
        assert_eq!(c("NaN", "-NaN"), Ordering::Equal);
        assert_eq!(c("-2", "-10"), Ordering::Greater);
        assert_eq!(c("123E-2", "1.23"), Ordering::Equal);
        assert_eq!(c("123E-2", "1.2300001"), Ordering::Less);
        assert_eq!(c("9999999999999999999999999999999999", "1E+34"), Ordering::Less);
        assert_eq!(c("1E-6176", "0"), Ordering::Greater);
    }

    #[test]
    fn cmp_magnitude_handles_wide_coefficients() {
        // Coefficients beyond 34 digits (parts built by hand) must not overflow.
        assert_eq!(cmp_magnitude(u128::MAX, 0, 1, 38), u128::MAX.cmp(&10u128.pow(38)));
        assert_eq!(cmp_magnitude(1, 38, u128::MAX, 0), Ordering::Less);
    }

    #[test]
    fn decimal_vs_double_shortcut_agrees_with_conversion() {
        let decimals = [
            "0",
            "-0",
            "1",
            "-1",
            "0.1",
            "9.99",
            "10",
            "99.9999",
            "1E+5",
            "-1E-5",
            "1E+300",
            "1E-320",
            "NaN",
            "Infinity",
            "-Infinity",
            "123456789012345678901234567890",
            "0.1000000000000000055511151231257827",
            "1E+6111",
            "-1E-6176",
        ];
        let doubles = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.1,
            9.99,
            10.0,
            99.9999,
            1e5,
            -1e-5,
            1e300,
            1e-320,
            5e-324,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1.2345678901234568e29,
            999.0,
            0.001,
            f64::MAX,
            -f64::MAX,
            1e22,
            1e23,
        ];
        for ds in decimals {
            let p = parts(ds);
            for &d in &doubles {
                assert_eq!(cmp_decimal_f64(&p, d), cmp_decimal(&p, &f64_to_decimal(d)), "{ds} vs {d:e}");
            }
        }
    }

    #[test]
    fn decimal_to_f64_nearest() {
        let f = |s: &str| decimal_to_f64(&parts(s));
        assert_eq!(f("0.1"), 0.1);
        assert_eq!(f("1.00"), 1.0);
        assert_eq!(f("-2.5E-3"), -0.0025);
        assert_eq!(f("1E+400"), f64::INFINITY);
        assert_eq!(f("-1E-400"), 0.0);
        assert!(f("-1E-400").is_sign_negative());
        assert_eq!(f("9007199254740993"), 9007199254740992.0);
        assert_eq!(f("1.7976931348623157E+308"), f64::MAX);
        assert_eq!(f("4.9E-324"), 5e-324);
        assert!(f("NaN").is_nan());
        assert_eq!(f("-Infinity"), f64::NEG_INFINITY);
        assert_eq!(f("123456789012345678901234567890E-10"), 12345678901234567890.123456789);
    }

    #[test]
    fn f64_to_decimal_rounds_to_34_digits() {
        let p = f64_to_decimal(0.1);
        // 0.1 = 0.1000000000000000055511151231257827021181583404541015625
        assert_eq!(p, Decimal128Parts::finite(false, 1_000_000_000_000_000_055_511_151_231_257_827, -34));
        assert_eq!(f64_to_decimal(-3.0), Decimal128Parts::finite(true, 3, 0));
        assert_eq!(f64_to_decimal(0.5).normalized(), Decimal128Parts::finite(false, 5, -1));
        // Exact ties round half to even (as the Intel BID library MongoDB uses):
        // 2^-49 = 1.7763568394002504646778106689453125e-15 (35 digits).
        assert_eq!(
            f64_to_decimal(2f64.powi(-49)),
            Decimal128Parts::finite(false, 1_776_356_839_400_250_464_677_810_668_945_312, -48)
        );
        assert_eq!(f64_to_decimal(3.0 * 2f64.powi(-49)).coefficient, 5_329_070_518_200_751_394_033_432_006_835_938);
        let m = f64_to_decimal(f64::MAX);
        assert_eq!(decimal_digits(m.coefficient), 34);
        assert_eq!(m.exponent, 308 - 33);
        let tiny = f64_to_decimal(5e-324);
        assert_eq!(tiny.exponent, -324 - 33);
        assert!(f64_to_decimal(f64::NAN).is_nan());
        assert_eq!(f64_to_decimal(f64::NEG_INFINITY), Decimal128Parts::infinity(true));
        assert!(f64_to_decimal(-0.0).negative && f64_to_decimal(-0.0).is_zero());
        // Round trip through encoding.
        assert!(parts_to_decimal128(&f64_to_decimal(1e300)).is_some());
        // MongoDB keeps all 34 digits: Decimal128(2.5, kRoundTo34Digits).
        assert_eq!(f64_to_decimal128(2.5).to_string(), "2.500000000000000000000000000000000");
    }

    #[test]
    fn to_i64_exact_and_integral() {
        assert_eq!(parts("1.000").to_i64_exact(), Some(1));
        assert_eq!(parts("-9223372036854775808").to_i64_exact(), Some(i64::MIN));
        assert_eq!(parts("9223372036854775808").to_i64_exact(), None);
        assert_eq!(parts("9223372036854775807").to_i64_exact(), Some(i64::MAX));
        assert_eq!(parts("92233720368547758.07E+2").to_i64_exact(), Some(i64::MAX));
        assert_eq!(parts("1E+19").to_i64_exact(), None);
        assert_eq!(parts("1E+18").to_i64_exact(), Some(1_000_000_000_000_000_000));
        assert_eq!(parts("0E+6000").to_i64_exact(), Some(0));
        assert_eq!(parts("1.5").to_i64_exact(), None);
        assert_eq!(parts("1E-40").to_i64_exact(), None);
        assert!(parts("1E+100").is_integral());
        assert!(!parts("1E-100").is_integral());
        assert!(!parts("Infinity").is_integral());
    }

    #[test]
    fn normalized_strips_trailing_zeros() {
        assert_eq!(parts("1.00").normalized(), parts("1").normalized());
        assert_eq!(parts("100").normalized(), Decimal128Parts::finite(false, 1, 2));
        assert_eq!(parts("-0.00").normalized(), Decimal128Parts::finite(false, 0, 0));
    }

    #[test]
    fn number_compare_across_types() {
        let one = [
            Number::Int32(1),
            Number::Int64(1),
            Number::Double(1.0),
            Number::Decimal(dec("1.00")),
            Number::Decimal(dec("1E+0")),
        ];
        for a in &one {
            for b in &one {
                assert_eq!(a.compare(b), Ordering::Equal, "{a:?} {b:?}");
            }
        }
        assert_eq!(Number::Int64((1 << 53) + 1).compare(&Number::Double(9007199254740992.0)), Ordering::Greater);
        assert_eq!(Number::Decimal(dec("0.1")).compare(&Number::Double(0.1)), Ordering::Less);
        assert_eq!(
            Number::Decimal(dec("0.1000000000000000055511151231257827")).compare(&Number::Double(0.1)),
            Ordering::Equal
        );
        assert_eq!(Number::Decimal(dec("NaN")).compare(&Number::Double(f64::NAN)), Ordering::Equal);
        assert_eq!(Number::Decimal(dec("NaN")).compare(&Number::Int32(i32::MIN)), Ordering::Less);
        assert_eq!(Number::Decimal(dec("-Infinity")).compare(&Number::Double(f64::NEG_INFINITY)), Ordering::Equal);
        assert_eq!(Number::Decimal(dec("9223372036854775808")).compare(&Number::Int64(i64::MAX)), Ordering::Greater);
    }

    #[test]
    fn number_accessors() {
        assert_eq!(Number::Double(-0.0).as_i64_exact(), Some(0));
        assert_eq!(Number::Double(2.5).as_i64_exact(), None);
        assert_eq!(Number::Double(9_223_372_036_854_775_808.0).as_i64_exact(), None);
        assert_eq!(Number::Decimal(dec("42.0")).as_i64_exact(), Some(42));
        assert_eq!(Number::Decimal(dec("0.5")).as_f64(), 0.5);
        assert_eq!(Number::Int64(i64::MAX).as_f64(), i64::MAX as f64);
        assert!(Number::Decimal(dec("NaN")).is_nan());
        assert_eq!(Number::from_raw(RawBsonRef::Int32(3)), Some(Number::Int32(3)));
        assert_eq!(Number::from_raw(RawBsonRef::Null), None);
        assert_eq!(Number::Int64(5).to_raw(), RawBsonRef::Int64(5));
    }
}
