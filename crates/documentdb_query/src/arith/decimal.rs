//! IEEE 754-2008 decimal128 helpers on top of `dec` (IBM decNumber).
//!
//! BSON stores decimal128 in the *binary integer decimal* (BID) encoding; decNumber's
//! `decQuad` uses the *densely packed decimal* (DPD) encoding. Both share the sign bit and
//! the special (NaN / Infinity) encodings, so conversion goes through (sign, coefficient,
//! exponent) and is exact in both directions for canonical values. Non-canonical BID
//! coefficients (larger than 10^34 - 1) decode as zero, as IEEE 754 requires.
use std::cmp::Ordering;

use dec::{Context, Decimal, Decimal128 as D128, Rounding};

/// Exponent bias of the decimal128 interchange format.
pub(crate) const EXPONENT_BIAS: i32 = 6176;
/// Smallest exponent (of the integer coefficient) a decimal128 can hold.
pub(crate) const MIN_EXPONENT: i32 = -6176;
/// Largest exponent (of the integer coefficient) a decimal128 can hold.
pub(crate) const MAX_EXPONENT: i32 = 6111;

const COEFFICIENT_MASK: u128 = (1u128 << 113) - 1;
const MAX_COEFFICIENT: u128 = 9_999_999_999_999_999_999_999_999_999_999_999; // 10^34 - 1

/// Wide decimal used for transcendental functions (decQuad has none).
pub(crate) type Wide = Decimal<14>;

/// A decimal128 context: 34 digits, round-half-even, IEEE exponent range.
pub(crate) fn ctx() -> Context<D128> {
    Context::<D128>::default()
}

/// A decimal128 context with the given rounding mode.
pub(crate) fn ctx_with(rounding: Rounding) -> Context<D128> {
    let mut c = Context::<D128>::default();
    c.set_rounding(rounding);
    c
}

/// A wide context with `digits` of precision and decimal128's exponent range.
pub(crate) fn wide_ctx(digits: usize) -> Context<Wide> {
    let mut c = Context::<Wide>::default();
    // `digits` is always <= 42 = Wide's capacity; ignore the impossible error.
    let _ = c.set_precision(digits);
    let _ = c.set_max_exponent(6144);
    let _ = c.set_min_exponent(-6143);
    c.set_rounding(Rounding::HalfEven);
    c
}

fn special(top_byte: u8) -> D128 {
    let mut bytes = [0u8; 16];
    bytes[15] = top_byte;
    D128::from_le_bytes(bytes)
}

pub(crate) fn nan() -> D128 {
    special(0x7c)
}

pub(crate) fn infinity(negative: bool) -> D128 {
    special(if negative { 0xf8 } else { 0x78 })
}

fn with_sign(d: D128, negative: bool) -> D128 {
    if d.is_signed() == negative {
        return d;
    }
    let mut bytes = d.to_le_bytes();
    bytes[15] ^= 0x80;
    D128::from_le_bytes(bytes)
}

/// Builds `(-1)^negative * coefficient * 10^exponent`; the caller guarantees that the
/// coefficient has at most 34 digits and the exponent is in range.
pub(crate) fn from_parts(negative: bool, coefficient: u128, exponent: i32) -> D128 {
    let mut c = ctx();
    let coefficient = i128::try_from(coefficient.min(MAX_COEFFICIENT)).unwrap_or(0);
    let mut d = c.from_i128(coefficient);
    c.set_exponent(&mut d, exponent.clamp(MIN_EXPONENT, MAX_EXPONENT));
    with_sign(d, negative)
}

/// BSON (BID) bytes to a decNumber decimal.
pub(crate) fn from_bson(value: &bson::Decimal128) -> D128 {
    let v = u128::from_le_bytes(value.bytes());
    let negative = (v >> 127) != 0;
    let combination = ((v >> 122) & 0x1f) as u8;
    if combination == 0x1f {
        return nan();
    }
    if combination == 0x1e {
        return infinity(negative);
    }
    let (exponent_bits, coefficient) = if (v >> 125) & 0b11 == 0b11 {
        // "11" form: implicit 100 prefix makes the coefficient >= 2^113 > 10^34 - 1:
        // non-canonical, so the value is zero.
        (((v >> 111) & 0x3fff) as i32, 0u128)
    } else {
        let c = v & COEFFICIENT_MASK;
        (((v >> 113) & 0x3fff) as i32, if c > MAX_COEFFICIENT { 0 } else { c })
    };
    from_parts(negative, coefficient, exponent_bits - EXPONENT_BIAS)
}

/// A decNumber decimal to BSON (BID) bytes. NaNs become the canonical positive quiet NaN.
pub(crate) fn to_bson(d: D128) -> bson::Decimal128 {
    let v: u128 = if d.is_nan() {
        0x7cu128 << 120
    } else if d.is_infinite() {
        (if d.is_negative() { 0xf8u128 } else { 0x78u128 }) << 120
    } else {
        let sign = if d.is_signed() { 1u128 << 127 } else { 0 };
        let coefficient = d.coefficient().unsigned_abs();
        let exponent = u128::try_from(d.exponent() + EXPONENT_BIAS).unwrap_or(0);
        sign | (exponent << 113) | (coefficient & COEFFICIENT_MASK)
    };
    bson::Decimal128::from_bytes(v.to_le_bytes())
}

pub(crate) fn from_i64(n: i64) -> D128 {
    D128::from(n)
}

/// The exact (to 34 digits, round-half-even) decimal of a double, as the Intel library's
/// `binary64_to_bid128` produces it (MongoDB's `kRoundTo34Digits`).
pub(crate) fn from_f64_34(x: f64) -> D128 {
    if x.is_nan() {
        return nan();
    }
    if x.is_infinite() {
        return infinity(x < 0.0);
    }
    if x == 0.0 {
        return with_sign(D128::ZERO, x.is_sign_negative());
    }
    if let Some((coefficient, exponent)) = exact_decimal(x) {
        return from_parts(x < 0.0, coefficient, exponent);
    }
    let text = format!("{x:.33e}");
    ctx().parse(text).unwrap_or_else(|_| nan())
}

/// The exact decimal value of a finite non-zero double when it fits in 34 digits, with
/// the exponent closest to zero (IEEE 754's preferred exponent for exact conversions):
/// `2.0` is `2E0`, `0.5` is `5E-1`, `1000.0` is `1000E0`.
fn exact_decimal(x: f64) -> Option<(u128, i32)> {
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1u64 << 52) - 1);
    let (mut m, mut e) = if biased == 0 { (fraction, -1074) } else { (fraction | (1u64 << 52), biased - 1075) };
    if m == 0 {
        return None;
    }
    let tz = m.trailing_zeros();
    m >>= tz;
    e += tz as i32;
    if e >= 0 {
        let shift = u32::try_from(e).ok()?;
        if shift > 64 {
            return None;
        }
        let c = u128::from(m).checked_shl(shift)?;
        if (c >> shift) != u128::from(m) || c > MAX_COEFFICIENT {
            return None;
        }
        Some((c, 0))
    } else {
        let k = u32::try_from(-e).ok()?;
        if k > 48 {
            return None;
        }
        let c = u128::from(m).checked_mul(5u128.pow(k))?;
        if c > MAX_COEFFICIENT {
            return None;
        }
        Some((c, -(k as i32)))
    }
}

/// MongoDB's default double -> decimal conversion (`kRoundTo15Digits`): the 34-digit
/// conversion quantized to exactly 15 significant digits (round-half-even), keeping
/// trailing zeros (2.5 -> 2.50000000000000).
pub(crate) fn from_f64_15(x: f64) -> D128 {
    let converted = from_f64_34(x);
    if x == 0.0 || !x.is_finite() {
        return converted;
    }
    let base2_exp = frexp_exponent(x) - 1;
    let mut base10_exp = (base2_exp * 30103) / (100 * 1000);
    if base2_exp < 0 {
        base10_exp -= 1;
    }
    let mut c = ctx();
    let q = c.quantize(converted, quantum(base10_exp - 14));
    if q.coefficient().unsigned_abs() > 999_999_999_999_999 {
        return c.quantize(converted, quantum(base10_exp - 13));
    }
    q
}

/// `frexp`'s exponent: x = m * 2^e with 0.5 <= |m| < 1 (x finite, non-zero).
fn frexp_exponent(x: f64) -> i32 {
    let bits = x.to_bits();
    let biased = ((bits >> 52) & 0x7ff) as i32;
    if biased == 0 {
        // Subnormal: value = mantissa * 2^-1074.
        let mantissa = bits & ((1u64 << 52) - 1);
        let width = 64 - mantissa.leading_zeros() as i32; // bits needed for the mantissa
        width - 1074
    } else {
        biased - 1022
    }
}

/// 1E`exponent` (coefficient 1), the reference of a quantize.
pub(crate) fn quantum(exponent: i32) -> D128 {
    from_parts(false, 1, exponent)
}

/// Decimal -> double, correctly rounded (round-half-even).
pub(crate) fn to_f64(d: D128) -> f64 {
    if d.is_nan() {
        return f64::NAN;
    }
    if d.is_infinite() {
        return if d.is_negative() { f64::NEG_INFINITY } else { f64::INFINITY };
    }
    let text = d.to_string();
    let parsed: f64 = text.parse().unwrap_or(f64::NAN);
    if parsed == 0.0 && d.is_negative() {
        -0.0
    } else {
        parsed
    }
}

/// The integer a finite decimal rounds to under `rounding`; `None` for NaN, infinities and
/// values outside the int64 range.
pub(crate) fn to_i64(d: D128, rounding: Rounding) -> Option<i64> {
    let i = to_integral(d, rounding)?;
    i64::try_from(i).ok()
}

/// Like [`to_i64`] for an i128 (big enough for any int64 comparison).
pub(crate) fn to_integral(d: D128, rounding: Rounding) -> Option<i128> {
    if !d.is_finite() {
        return None;
    }
    let mut c = ctx_with(rounding);
    let r = c.round(d);
    let coefficient = r.coefficient();
    let exponent = r.exponent();
    if exponent < 0 {
        // Cannot happen after rounding to an integral value; be defensive.
        return None;
    }
    if coefficient == 0 {
        return Some(0);
    }
    let scale = 10i128.checked_pow(u32::try_from(exponent).ok()?)?;
    coefficient.checked_mul(scale)
}

/// Is the value a finite integer?
pub(crate) fn is_integer(d: D128) -> bool {
    d.is_finite() && {
        let mut c = ctx_with(Rounding::Down);
        let r = c.round(d);
        c.partial_cmp(r, d) == Some(Ordering::Equal)
    }
}

/// MongoDB's `Decimal128::normalize`: adds 0E-6176, padding the coefficient to 34 digits.
pub(crate) fn normalize(d: D128) -> D128 {
    let mut c = ctx();
    c.add(d, from_parts(false, 0, MIN_EXPONENT))
}

/// Biased exponent as the BID encoding stores it.
pub(crate) fn biased_exponent(d: D128) -> i32 {
    d.exponent() + EXPONENT_BIAS
}

/// MongoDB's (normalizing) `Decimal128::quantize` used by `$round`/`$trunc`/`$ceil`/
/// `$floor`: when the quantum is more than 33 digits below the value's normalized
/// exponent the normalized value is returned (quantizing would need more than 34 digits).
pub(crate) fn quantize_like_mongo(d: D128, reference: D128, rounding: Rounding) -> D128 {
    let normalized = normalize(d);
    let reference_exp = biased_exponent(normalize(reference));
    if reference_exp != 0 && biased_exponent(normalized) - reference_exp > 33 {
        return normalized;
    }
    let mut c = ctx_with(rounding);
    c.quantize(d, reference)
}

pub(crate) fn to_wide(d: D128) -> Wide {
    Wide::from(d)
}

pub(crate) fn from_wide(w: &Wide) -> D128 {
    let mut c = ctx();
    c.from_decimal(w)
}

/// Compares two decimals numerically; NaN compares equal to NaN and below everything.
pub(crate) fn compare(a: D128, b: D128) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => ctx().partial_cmp(a, b).unwrap_or(Ordering::Equal),
    }
}

/// Canonical decimal text (MongoDB's `Decimal128::toString`): `NaN`, `Infinity`,
/// `-Infinity`, plain notation when the exponent is <= 0 and the adjusted exponent is
/// >= -6, scientific (`1.5E+3`) otherwise.
pub(crate) fn to_string(d: D128) -> String {
    if d.is_nan() {
        return "NaN".to_string();
    }
    if d.is_infinite() {
        return if d.is_negative() { "-Infinity".to_string() } else { "Infinity".to_string() };
    }
    d.to_string()
}

/// Parses decimal text the way MongoDB's `Decimal128(string)` does for `$toDecimal`/
/// `$convert`: optional sign, digits with an optional fraction, optional exponent,
/// `NaN`/`Inf`/`Infinity` (case-insensitive). Returns `None` for anything else.
/// Values with more than 34 digits are rounded (half-even).
pub(crate) fn parse(text: &str) -> Option<D128> {
    let lower = text.to_ascii_lowercase();
    let (negative, body) = match lower.as_bytes().first() {
        Some(b'-') => (true, &lower[1..]),
        Some(b'+') => (false, &lower[1..]),
        _ => (false, lower.as_str()),
    };
    match body {
        "nan" => return Some(nan()),
        "inf" | "infinity" => return Some(infinity(negative)),
        _ => {}
    }
    let bytes = body.as_bytes();
    let mut i = 0;
    let mut digits = 0;
    let mut dots = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'0'..=b'9' => digits += 1,
            b'.' => {
                dots += 1;
                if dots > 1 {
                    return None;
                }
            }
            _ => break,
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    if i < bytes.len() {
        if bytes[i] != b'e' {
            return None;
        }
        let mut j = i + 1;
        if j < bytes.len() && (bytes[j] == b'+' || bytes[j] == b'-') {
            j += 1;
        }
        if j >= bytes.len() || !bytes[j..].iter().all(u8::is_ascii_digit) {
            return None;
        }
    }
    let mut c = ctx();
    c.parse(lower.as_str()).ok()
}
