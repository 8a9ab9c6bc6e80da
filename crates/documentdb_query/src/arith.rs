//! Numeric arithmetic with MongoDB's type promotion (int32 -> int64 -> double; decimal128
//! wins), shared by update operators (`$inc`, `$mul`), expressions (`$add`, ...) and
//! accumulators (`$sum`, `$avg`). Decimal128 arithmetic follows IEEE 754-2008 (34 digits,
//! round-half-even) via the `dec` crate (IBM decNumber).
//!
//! Two flavours of the binary operations exist:
//! * aggregation semantics ([`add`], [`subtract`], [`multiply`], ...): int32 op int32
//!   gives int32, or int64 when the result does not fit; int64 overflow falls back to
//!   double (MongoDB's `ExpressionAdd`/`ExpressionMultiply`);
//! * update semantics ([`checked_add`], [`checked_multiply`], ...): int32 overflow widens
//!   to int64 as well, but int64 overflow is reported (`None`), as MongoDB's `SafeNum`
//!   does for `$inc`/`$mul`.
//!
//! Doubles meeting a decimal are converted the way MongoDB does it: to exactly 15
//! significant digits (`Decimal128(double)`, e.g. `0.1` -> `0.100000000000000`), except
//! where MongoDB itself uses the 34-digit conversion (a running `$add` total).
use std::cmp::Ordering;

use bson::{Bson, RawBsonRef};
use dec::{Decimal128 as D128, Rounding};
use documentdb_bson::number::Number;

pub(crate) mod decimal;

use decimal as d128;

/// A BSON number.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    Int32(i32),
    Int64(i64),
    Double(f64),
    Decimal(bson::Decimal128),
}

/// Numeric types in widening order (`max` gives MongoDB's "widest numeric type").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NumKind {
    Int32,
    Int64,
    Double,
    Decimal,
}

/// Rounding used by [`round_to_place`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundMode {
    /// `$round`: round half to even.
    HalfEven,
    /// `$trunc`: toward zero.
    TowardZero,
}

impl Num {
    /// The same number as `documentdb_bson` sees it.
    pub fn to_number(self) -> Number {
        match self {
            Num::Int32(i) => Number::Int32(i),
            Num::Int64(i) => Number::Int64(i),
            Num::Double(d) => Number::Double(d),
            Num::Decimal(d) => Number::Decimal(d),
        }
    }

    /// The number in a BSON value; `None` for non-numeric values.
    pub fn from_bson(value: &Bson) -> Option<Num> {
        match value {
            Bson::Int32(v) => Some(Num::Int32(*v)),
            Bson::Int64(v) => Some(Num::Int64(*v)),
            Bson::Double(v) => Some(Num::Double(*v)),
            Bson::Decimal128(v) => Some(Num::Decimal(*v)),
            _ => None,
        }
    }

    /// The number in a raw BSON value; `None` for non-numeric values.
    pub fn from_raw(value: RawBsonRef<'_>) -> Option<Num> {
        match value {
            RawBsonRef::Int32(v) => Some(Num::Int32(v)),
            RawBsonRef::Int64(v) => Some(Num::Int64(v)),
            RawBsonRef::Double(v) => Some(Num::Double(v)),
            RawBsonRef::Decimal128(v) => Some(Num::Decimal(v)),
            _ => None,
        }
    }

    pub fn to_bson(self) -> Bson {
        match self {
            Num::Int32(v) => Bson::Int32(v),
            Num::Int64(v) => Bson::Int64(v),
            Num::Double(v) => Bson::Double(v),
            Num::Decimal(v) => Bson::Decimal128(v),
        }
    }

    pub fn kind(self) -> NumKind {
        match self {
            Num::Int32(_) => NumKind::Int32,
            Num::Int64(_) => NumKind::Int64,
            Num::Double(_) => NumKind::Double,
            Num::Decimal(_) => NumKind::Decimal,
        }
    }

    /// int32 when the value fits, int64 otherwise (MongoDB's `createIntOrLong`).
    pub fn int_or_long(v: i64) -> Num {
        match i32::try_from(v) {
            Ok(i) => Num::Int32(i),
            Err(_) => Num::Int64(v),
        }
    }

    /// A decimal from text (`"0.1"`, `"1E+3"`, `"NaN"`, `"-Infinity"`); `None` if invalid.
    pub fn decimal_from_str(text: &str) -> Option<Num> {
        d128::parse(text).map(|d| Num::Decimal(d128::to_bson(d)))
    }

    pub fn is_nan(self) -> bool {
        match self {
            Num::Double(v) => v.is_nan(),
            Num::Decimal(v) => d128::from_bson(&v).is_nan(),
            _ => false,
        }
    }

    pub fn is_zero(self) -> bool {
        match self {
            Num::Int32(v) => v == 0,
            Num::Int64(v) => v == 0,
            Num::Double(v) => v == 0.0,
            Num::Decimal(v) => d128::from_bson(&v).is_zero(),
        }
    }

    pub fn is_negative(self) -> bool {
        match self {
            Num::Int32(v) => v < 0,
            Num::Int64(v) => v < 0,
            Num::Double(v) => v < 0.0,
            Num::Decimal(v) => {
                let d = d128::from_bson(&v);
                !d.is_nan() && !d.is_zero() && d.is_negative()
            }
        }
    }

    pub fn is_finite(self) -> bool {
        match self {
            Num::Double(v) => v.is_finite(),
            Num::Decimal(v) => d128::from_bson(&v).is_finite(),
            _ => true,
        }
    }

    pub(crate) fn to_dec(self) -> D128 {
        match self {
            Num::Int32(v) => d128::from_i64(i64::from(v)),
            Num::Int64(v) => d128::from_i64(v),
            Num::Double(v) => d128::from_f64_15(v),
            Num::Decimal(v) => d128::from_bson(&v),
        }
    }

    pub(crate) fn from_dec(d: D128) -> Num {
        Num::Decimal(d128::to_bson(d))
    }
}

impl From<Num> for Bson {
    fn from(n: Num) -> Bson {
        n.to_bson()
    }
}

/// MongoDB's `coerceToDouble`: decimals round half to even.
pub fn to_f64(n: Num) -> f64 {
    match n {
        Num::Int32(v) => f64::from(v),
        Num::Int64(v) => v as f64,
        Num::Double(v) => v,
        Num::Decimal(v) => d128::to_f64(d128::from_bson(&v)),
    }
}

/// MongoDB's `coerceToLong`: doubles truncate (saturating), decimals round half to even
/// (`i64::MIN` when out of range, as the Intel library reports an invalid conversion).
pub fn to_i64(n: Num) -> i64 {
    match n {
        Num::Int32(v) => i64::from(v),
        Num::Int64(v) => v,
        Num::Double(v) => v as i64,
        Num::Decimal(v) => d128::to_i64(d128::from_bson(&v), Rounding::HalfEven).unwrap_or(i64::MIN),
    }
}

/// MongoDB's `coerceToInt`.
pub fn to_i32(n: Num) -> i32 {
    match n {
        Num::Int32(v) => v,
        Num::Int64(v) => v as i32,
        Num::Double(v) => v as i32,
        Num::Decimal(v) => d128::to_i64(d128::from_bson(&v), Rounding::HalfEven)
            .and_then(|l| i32::try_from(l).ok())
            .unwrap_or(i32::MIN),
    }
}

/// MongoDB's `coerceToDecimal`: doubles convert to 15 significant digits.
pub fn to_decimal(n: Num) -> bson::Decimal128 {
    match n {
        Num::Decimal(v) => v,
        other => d128::to_bson(other.to_dec()),
    }
}

/// A double converted to decimal with 34 digits (MongoDB's `kRoundTo34Digits`).
pub fn double_to_decimal_34(v: f64) -> bson::Decimal128 {
    d128::to_bson(d128::from_f64_34(v))
}

/// The decimal's canonical text (`"0.30"`, `"1.5E+3"`, `"NaN"`, `"-Infinity"`).
pub fn decimal_to_string(v: &bson::Decimal128) -> String {
    d128::to_string(d128::from_bson(v))
}

/// Does the number have an integral value (any magnitude)?
pub fn is_integral(n: Num) -> bool {
    match n {
        Num::Int32(_) | Num::Int64(_) => true,
        Num::Double(v) => v.is_finite() && v.trunc() == v,
        Num::Decimal(v) => d128::is_integer(d128::from_bson(&v)),
    }
}

/// The value as an int32 when it is exactly representable (MongoDB's `integral()`).
pub fn as_i32_exact(n: Num) -> Option<i32> {
    match n {
        Num::Int32(v) => Some(v),
        Num::Int64(v) => i32::try_from(v).ok(),
        Num::Double(v) => {
            if v.trunc() == v && v >= f64::from(i32::MIN) && v <= f64::from(i32::MAX) {
                Some(v as i32)
            } else {
                None
            }
        }
        Num::Decimal(v) => {
            let d = d128::from_bson(&v);
            if d128::is_integer(d) {
                d128::to_i64(d, Rounding::Down).and_then(|l| i32::try_from(l).ok())
            } else {
                None
            }
        }
    }
}

/// The value as an int64 when it is exactly representable (MongoDB's `integral64Bit()`).
pub fn as_i64_exact(n: Num) -> Option<i64> {
    match n {
        Num::Int32(v) => Some(i64::from(v)),
        Num::Int64(v) => Some(v),
        Num::Double(v) => {
            if v.trunc() == v && (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&v) {
                Some(v as i64)
            } else {
                None
            }
        }
        Num::Decimal(v) => {
            let d = d128::from_bson(&v);
            if d128::is_integer(d) {
                d128::to_i64(d, Rounding::Down)
            } else {
                None
            }
        }
    }
}

// ------------------------------------------------------------------------------------
// Comparison
// ------------------------------------------------------------------------------------

/// MongoDB's numeric order across all four types (NaN equal to NaN and below every other
/// number), as `documentdb_bson::number::Number::compare` defines it.
pub fn compare(a: Num, b: Num) -> Ordering {
    a.to_number().compare(&b.to_number())
}

// ------------------------------------------------------------------------------------
// Aggregation arithmetic
// ------------------------------------------------------------------------------------

/// The running state of `$add` (MongoDB's `AddState`): separate int64, double and decimal
/// totals and the widest type seen; int64 overflow switches to double.
#[derive(Debug, Clone, Copy)]
pub struct Adder {
    long_total: i64,
    double_total: f64,
    decimal_total: D128,
    widest: NumKind,
}

impl Default for Adder {
    fn default() -> Self {
        Adder::new()
    }
}

impl Adder {
    pub fn new() -> Adder {
        Adder { long_total: 0, double_total: 0.0, decimal_total: D128::ZERO, widest: NumKind::Int32 }
    }

    /// Adds a number, widening the result type as needed.
    pub fn add(&mut self, n: Num) {
        let old = self.widest;
        self.widest = self.widest.max(n.kind());
        if old != self.widest {
            self.widen_from(old);
        }
        self.accumulate(n);
    }

    /// Adds a date's milliseconds without changing the result type.
    pub fn add_millis(&mut self, millis: i64) {
        self.accumulate(Num::Int64(millis));
    }

    fn widen_from(&mut self, old: NumKind) {
        match self.widest {
            NumKind::Double => self.double_total = self.long_total as f64,
            NumKind::Decimal => {
                self.decimal_total = match old {
                    NumKind::Double => d128::from_f64_34(self.double_total),
                    _ => d128::from_i64(self.long_total),
                }
            }
            _ => {}
        }
    }

    fn accumulate(&mut self, n: Num) {
        match self.widest {
            NumKind::Int32 | NumKind::Int64 => match self.long_total.checked_add(to_i64(n)) {
                Some(sum) => self.long_total = sum,
                None => {
                    self.widest = NumKind::Double;
                    self.double_total = self.long_total as f64 + to_f64(n);
                }
            },
            NumKind::Double => self.double_total += to_f64(n),
            NumKind::Decimal => {
                self.decimal_total = d128::ctx().add(self.decimal_total, n.to_dec());
            }
        }
    }

    /// The sum in the widest type seen.
    pub fn result(&self) -> Num {
        match self.widest {
            NumKind::Int32 => Num::int_or_long(self.long_total),
            NumKind::Int64 => Num::Int64(self.long_total),
            NumKind::Double => Num::Double(self.double_total),
            NumKind::Decimal => Num::from_dec(self.decimal_total),
        }
    }

    /// The sum as date milliseconds (when one operand was a date); `None` on overflow,
    /// which `$add` reports as MongoDB does ("date overflow in $add", code 15): a double
    /// total outside `[-2^63, 2^63)` (NaN and infinities included) and, as in current
    /// MongoDB, a decimal total that does not round to an int64 (older servers returned
    /// the "invalid" date `i64::MIN` for those).
    pub fn result_millis(&self) -> Option<i64> {
        match self.widest {
            NumKind::Int32 | NumKind::Int64 => Some(self.long_total),
            NumKind::Double => {
                let t = self.double_total;
                if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_807.0).contains(&t) {
                    Some(t.round() as i64)
                } else {
                    None
                }
            }
            NumKind::Decimal => d128::to_i64(self.decimal_total, Rounding::HalfEven),
        }
    }
}

/// The running state of `$multiply` (MongoDB's `MultiplyState`).
#[derive(Debug, Clone, Copy)]
pub struct Multiplier {
    double_product: f64,
    long_product: i64,
    decimal_product: D128,
    kind: NumKind,
}

impl Default for Multiplier {
    fn default() -> Self {
        Multiplier::new()
    }
}

impl Multiplier {
    pub fn new() -> Multiplier {
        Multiplier { double_product: 1.0, long_product: 1, decimal_product: D128::ONE, kind: NumKind::Int32 }
    }

    pub fn multiply(&mut self, n: Num) {
        let old = self.kind;
        self.kind = self.kind.max(n.kind());
        if self.kind == NumKind::Decimal {
            if old != NumKind::Decimal {
                self.decimal_product = if old == NumKind::Double {
                    d128::from_f64_15(self.double_product)
                } else {
                    d128::from_i64(self.long_product)
                };
            }
            self.decimal_product = d128::ctx().mul(self.decimal_product, n.to_dec());
        } else {
            let x = to_f64(n);
            self.double_product *= x;
            if self.kind != NumKind::Double {
                match self.long_product.checked_mul(to_i64(n)) {
                    Some(p) if x.is_finite() => self.long_product = p,
                    _ => self.kind = NumKind::Double,
                }
            }
        }
    }

    pub fn result(&self) -> Num {
        match self.kind {
            NumKind::Int32 => Num::int_or_long(self.long_product),
            NumKind::Int64 => Num::Int64(self.long_product),
            NumKind::Double => Num::Double(self.double_product),
            NumKind::Decimal => Num::from_dec(self.decimal_product),
        }
    }
}

/// `a + b` with aggregation semantics (`$add` of two numbers).
pub fn add(a: Num, b: Num) -> Num {
    let mut s = Adder::new();
    s.add(a);
    s.add(b);
    s.result()
}

/// `a - b` with aggregation semantics (`$subtract` of two numbers).
pub fn subtract(a: Num, b: Num) -> Num {
    match a.kind().max(b.kind()) {
        NumKind::Decimal => Num::from_dec(d128::ctx().sub(a.to_dec(), b.to_dec())),
        NumKind::Double => Num::Double(to_f64(a) - to_f64(b)),
        NumKind::Int64 => match to_i64(a).checked_sub(to_i64(b)) {
            Some(r) => Num::Int64(r),
            None => Num::Double(to_f64(a) - to_f64(b)),
        },
        NumKind::Int32 => Num::int_or_long(to_i64(a) - to_i64(b)),
    }
}

/// `a * b` with aggregation semantics (`$multiply` of two numbers).
pub fn multiply(a: Num, b: Num) -> Num {
    let mut m = Multiplier::new();
    m.multiply(a);
    m.multiply(b);
    m.result()
}

/// `a / b` as `$divide` computes it: decimal when either side is decimal, double
/// otherwise. `None` when the divisor is zero.
pub fn divide(a: Num, b: Num) -> Option<Num> {
    if a.kind() == NumKind::Decimal || b.kind() == NumKind::Decimal {
        let denominator = b.to_dec();
        if denominator.is_zero() {
            return None;
        }
        return Some(Num::from_dec(d128::ctx().div(a.to_dec(), denominator)));
    }
    let denominator = to_f64(b);
    if denominator == 0.0 {
        return None;
    }
    Some(Num::Double(to_f64(a) / denominator))
}

/// `a % b` as `$mod` computes it (truncated remainder, sign of the dividend): decimal when
/// either side is decimal; double when the dividend is a double or the divisor a
/// non-integral double; int64 when either is int64; int32 otherwise. `None` when the
/// divisor is zero.
pub fn modulo(a: Num, b: Num) -> Option<Num> {
    if a.kind() == NumKind::Decimal || b.kind() == NumKind::Decimal {
        let divisor = b.to_dec();
        if divisor.is_zero() {
            return None;
        }
        return Some(Num::from_dec(d128::ctx().rem(a.to_dec(), divisor)));
    }
    let right = to_f64(b);
    if right == 0.0 {
        return None;
    }
    if a.kind() == NumKind::Double || (b.kind() == NumKind::Double && as_i32_exact(b).is_none()) {
        return Some(Num::Double(to_f64(a) % right));
    }
    if a.kind() == NumKind::Int64 || b.kind() == NumKind::Int64 {
        let (l, r) = (to_i64(a), to_i64(b));
        return Some(Num::Int64(l.wrapping_rem(r)));
    }
    let (l, r) = (to_i32(a), to_i32(b));
    Some(Num::Int32(l.wrapping_rem(r)))
}

// ------------------------------------------------------------------------------------
// Update arithmetic (SafeNum)
// ------------------------------------------------------------------------------------

/// `a + b` with update semantics (`$inc`): int32 overflow widens to int64, int64
/// overflow gives `None`.
pub fn checked_add(a: Num, b: Num) -> Option<Num> {
    use Num::*;
    match (a, b) {
        (Int32(x), Int32(y)) => Some(match x.checked_add(y) {
            Some(s) => Int32(s),
            None => Int64(i64::from(x) + i64::from(y)),
        }),
        (Int32(_) | Int64(_), Int32(_) | Int64(_)) => to_i64(a).checked_add(to_i64(b)).map(Int64),
        _ if a.kind() == NumKind::Decimal || b.kind() == NumKind::Decimal => {
            Some(Num::from_dec(d128::ctx().add(a.to_dec(), b.to_dec())))
        }
        _ => Some(Double(to_f64(a) + to_f64(b))),
    }
}

/// `a - b` with update semantics.
pub fn checked_subtract(a: Num, b: Num) -> Option<Num> {
    use Num::*;
    match (a, b) {
        (Int32(x), Int32(y)) => Some(match x.checked_sub(y) {
            Some(s) => Int32(s),
            None => Int64(i64::from(x) - i64::from(y)),
        }),
        (Int32(_) | Int64(_), Int32(_) | Int64(_)) => to_i64(a).checked_sub(to_i64(b)).map(Int64),
        _ if a.kind() == NumKind::Decimal || b.kind() == NumKind::Decimal => {
            Some(Num::from_dec(d128::ctx().sub(a.to_dec(), b.to_dec())))
        }
        _ => Some(Double(to_f64(a) - to_f64(b))),
    }
}

/// `a * b` with update semantics (`$mul`): int32 overflow widens to int64, int64
/// overflow gives `None`.
pub fn checked_multiply(a: Num, b: Num) -> Option<Num> {
    use Num::*;
    match (a, b) {
        (Int32(x), Int32(y)) => Some(match x.checked_mul(y) {
            Some(p) => Int32(p),
            None => Int64(i64::from(x) * i64::from(y)),
        }),
        (Int32(_) | Int64(_), Int32(_) | Int64(_)) => to_i64(a).checked_mul(to_i64(b)).map(Int64),
        _ if a.kind() == NumKind::Decimal || b.kind() == NumKind::Decimal => {
            Some(Num::from_dec(d128::ctx().mul(a.to_dec(), b.to_dec())))
        }
        _ => Some(Double(to_f64(a) * to_f64(b))),
    }
}

// ------------------------------------------------------------------------------------
// Unary helpers
// ------------------------------------------------------------------------------------

/// `$abs`: int32 min widens to int64; `None` for int64 min (MongoDB error 28680).
pub fn abs(n: Num) -> Option<Num> {
    match n {
        Num::Int32(v) => Some(Num::int_or_long(i64::from(v).abs())),
        Num::Int64(v) => v.checked_abs().map(Num::Int64),
        Num::Double(v) => Some(Num::Double(v.abs())),
        Num::Decimal(v) => Some(Num::from_dec(d128::ctx().abs(d128::from_bson(&v)))),
    }
}

/// `-n`: int32 min widens to int64, int64 min becomes a double.
pub fn negate(n: Num) -> Num {
    match n {
        Num::Int32(v) => Num::int_or_long(-i64::from(v)),
        Num::Int64(v) => v.checked_neg().map(Num::Int64).unwrap_or(Num::Double(-(v as f64))),
        Num::Double(v) => Num::Double(-v),
        Num::Decimal(v) => Num::from_dec(d128::ctx().minus(d128::from_bson(&v))),
    }
}

/// `$ceil`.
pub fn ceil(n: Num) -> Num {
    match n {
        Num::Double(v) => Num::Double(v.ceil()),
        Num::Decimal(v) => Num::from_dec(d128::quantize_like_mongo(d128::from_bson(&v), D128::ZERO, Rounding::Ceiling)),
        other => other,
    }
}

/// `$floor`.
pub fn floor(n: Num) -> Num {
    match n {
        Num::Double(v) => Num::Double(v.floor()),
        Num::Decimal(v) => Num::from_dec(d128::quantize_like_mongo(d128::from_bson(&v), D128::ZERO, Rounding::Floor)),
        other => other,
    }
}

/// `$round` / `$trunc` to `place` decimal places (negative: to the left of the point),
/// `place` in [-20, 100]. Doubles are rounded through their 34-digit decimal value (so
/// `$round: [2.5, 0]` is 2 and `$round: [0.125, 2]` is 0.12, half to even); integers stay
/// integers (int32 widening to int64 when needed). `None` when the result does not fit
/// an int64 (MongoDB error 51080).
pub fn round_to_place(n: Num, place: i64, mode: RoundMode) -> Option<Num> {
    let rounding = match mode {
        RoundMode::HalfEven => Rounding::HalfEven,
        RoundMode::TowardZero => Rounding::Down,
    };
    let place = i32::try_from(place.clamp(-1000, 1000)).unwrap_or(0);
    let quantum = d128::quantum(-place);
    match n {
        Num::Decimal(v) => {
            let d = d128::from_bson(&v);
            if d.is_infinite() {
                return Some(n);
            }
            Some(Num::from_dec(d128::quantize_like_mongo(d, quantum, rounding)))
        }
        Num::Double(v) => {
            let d = d128::from_f64_34(v);
            if d.is_infinite() {
                return Some(n);
            }
            Some(Num::Double(d128::to_f64(d128::quantize_like_mongo(d, quantum, rounding))))
        }
        Num::Int32(_) | Num::Int64(_) => {
            if place >= 0 {
                return Some(n);
            }
            let out = d128::quantize_like_mongo(d128::from_i64(to_i64(n)), quantum, rounding);
            let l = d128::to_i64(out, Rounding::HalfEven)?;
            if matches!(n, Num::Int64(_)) {
                Some(Num::Int64(l))
            } else {
                Some(Num::int_or_long(l))
            }
        }
    }
}

// ------------------------------------------------------------------------------------
// Compensated double summation
// ------------------------------------------------------------------------------------

/// MongoDB's `DoubleDoubleSummation`: a double-double compensated sum (about 107 bits),
/// exact for long series of 32/64-bit integers. Used by `$sum`/`$avg`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct DoubleDouble {
    sum: f64,
    addend: f64,
    special: f64,
}

impl DoubleDouble {
    pub fn new() -> DoubleDouble {
        DoubleDouble::default()
    }

    /// Rebuilds a summation from its parts (see [`DoubleDouble::parts`]).
    pub fn from_parts(sum: f64, addend: f64, special: f64) -> DoubleDouble {
        DoubleDouble { sum, addend, special }
    }

    /// `(sum, addend, special)`, for serialization.
    pub fn parts(&self) -> (f64, f64, f64) {
        (self.sum, self.addend, self.special)
    }

    pub fn add_double(&mut self, x: f64) {
        self.special += x;
        let (x, addend) = fast_two_sum(x, self.addend);
        self.addend = addend;
        let (sum, x) = two_sum(self.sum, x);
        self.sum = sum;
        self.addend += x;
    }

    pub fn add_long(&mut self, x: i64) {
        let high = x / (1i64 << 32) * (1i64 << 32);
        let low = x - high;
        self.add_double(low as f64);
        self.add_double(high as f64);
    }

    pub fn add_int(&mut self, x: i32) {
        self.add_double(f64::from(x));
    }

    /// Adds another summation's parts (merging partial sums).
    pub fn merge(&mut self, other: &DoubleDouble) {
        if !other.sum.is_finite() {
            self.add_double(other.special);
            return;
        }
        self.add_double(other.sum);
        self.add_double(other.addend);
    }

    /// The double nearest the sum.
    pub fn get_double(&self) -> f64 {
        if self.sum.is_nan() {
            self.special
        } else {
            self.sum
        }
    }

    pub fn get_decimal(&self) -> bson::Decimal128 {
        d128::to_bson(self.get_dec())
    }

    pub(crate) fn get_dec(&self) -> D128 {
        if !self.sum.is_finite() {
            d128::from_f64_34(self.special)
        } else {
            d128::ctx().add(d128::from_f64_34(self.sum), d128::from_f64_34(self.addend))
        }
    }

    pub fn is_integer(&self) -> bool {
        self.sum.trunc() == self.sum && self.addend.trunc() == self.addend
    }

    pub fn fits_long(&self) -> bool {
        const MIN: f64 = -9_223_372_036_854_775_808.0;
        const MAX: f64 = 9_223_372_036_854_775_808.0; // i64::MAX as a double
        if self.sum > MIN && self.sum < MAX {
            return true;
        }
        if self.sum == MAX {
            return self.addend < -0.5;
        }
        if self.sum == MIN {
            return self.addend >= -0.5;
        }
        false
    }

    /// The sum rounded to the nearest integer (halves away from zero); `None` when it does
    /// not fit an int64.
    pub fn get_long(&self) -> Option<i64> {
        if !self.fits_long() {
            return None;
        }
        if self.sum == 9_223_372_036_854_775_808.0 {
            // llround(addend) - i64::MIN, computed without overflow.
            let a = self.addend.round() as i64;
            return a.checked_sub(i64::MIN);
        }
        let s = self.sum.round() as i64;
        let rest = ((self.sum - s as f64) + self.addend).round() as i64;
        s.checked_add(rest)
    }
}

fn fast_two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let z = s - a;
    (s, b - z)
}

fn two_sum(a: f64, b: f64) -> (f64, f64) {
    let s = a + b;
    let a_prime = s - b;
    let b_prime = s - a_prime;
    let delta_a = a - a_prime;
    let delta_b = b - b_prime;
    (s, delta_a + delta_b)
}

// ------------------------------------------------------------------------------------
// Decimal transcendental helpers used by `$sqrt`, `$exp`, `$ln`, `$log`, `$log10`, `$pow`
// ------------------------------------------------------------------------------------

fn wide_unary(v: D128, f: impl FnOnce(&mut dec::Context<d128::Wide>, &mut d128::Wide)) -> D128 {
    let mut c = d128::wide_ctx(34);
    let mut w = d128::to_wide(v);
    f(&mut c, &mut w);
    d128::from_wide(&w)
}

/// Square root of a decimal (34 digits, round-half-even).
pub fn decimal_sqrt(v: bson::Decimal128) -> bson::Decimal128 {
    d128::to_bson(wide_unary(d128::from_bson(&v), |c, w| c.sqrt(w)))
}

/// e^v for a decimal.
pub fn decimal_exp(v: bson::Decimal128) -> bson::Decimal128 {
    d128::to_bson(wide_unary(d128::from_bson(&v), |c, w| c.exp(w)))
}

/// Natural logarithm of a decimal.
pub fn decimal_ln(v: bson::Decimal128) -> bson::Decimal128 {
    d128::to_bson(wide_unary(d128::from_bson(&v), |c, w| c.ln(w)))
}

/// Base-10 logarithm of a decimal.
pub fn decimal_log10(v: bson::Decimal128) -> bson::Decimal128 {
    d128::to_bson(wide_unary(d128::from_bson(&v), |c, w| c.log10(w)))
}

/// log_base(v) as MongoDB computes it: log10 / log2 directly, otherwise ln(v) / ln(base).
pub fn decimal_log(v: bson::Decimal128, base: bson::Decimal128) -> bson::Decimal128 {
    let b = d128::from_bson(&base);
    let x = d128::from_bson(&v);
    let ten = d128::from_i64(10);
    let two = d128::from_i64(2);
    if d128::compare(b, ten) == Ordering::Equal {
        return decimal_log10(v);
    }
    if d128::compare(b, two) == Ordering::Equal {
        // log2 at extra precision, rounded once to 34 digits.
        let mut c = d128::wide_ctx(40);
        let mut num = d128::to_wide(x);
        c.ln(&mut num);
        let mut den = d128::to_wide(two);
        c.ln(&mut den);
        c.div(&mut num, &den);
        return d128::to_bson(d128::from_wide(&num));
    }
    let ln_x = wide_unary(x, |c, w| c.ln(w));
    let ln_b = wide_unary(b, |c, w| c.ln(w));
    d128::to_bson(d128::ctx().div(ln_x, ln_b))
}

/// base^exponent for decimals; the result is normalized to 34 digits as MongoDB's
/// `Decimal128::power` does (`2^3` is `8.000000000000000000000000000000000`).
pub fn decimal_pow(base: bson::Decimal128, exponent: bson::Decimal128) -> bson::Decimal128 {
    let b = d128::from_bson(&base);
    let e = d128::from_bson(&exponent);
    let r = if e.is_zero() {
        D128::ONE
    } else {
        let mut c = d128::wide_ctx(34);
        let mut w = d128::to_wide(b);
        c.pow(&mut w, &d128::to_wide(e));
        d128::from_wide(&w)
    };
    d128::to_bson(d128::normalize(r))
}

/// Is the decimal zero / negative / NaN / infinite? (Convenience for callers that hold
/// raw `bson::Decimal128` values.)
pub fn decimal_info(v: &bson::Decimal128) -> DecimalInfo {
    let d = d128::from_bson(v);
    DecimalInfo { zero: d.is_zero(), negative: d.is_negative(), nan: d.is_nan(), infinite: d.is_infinite() }
}

/// Classification of a decimal value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecimalInfo {
    pub zero: bool,
    pub negative: bool,
    pub nan: bool,
    pub infinite: bool,
}

/// Round a decimal to an integer with the given mode; `None` for NaN/Inf/out of range.
pub(crate) fn decimal_to_i64(v: &bson::Decimal128, toward_zero: bool) -> Option<i64> {
    let mode = if toward_zero { Rounding::Down } else { Rounding::HalfEven };
    d128::to_i64(d128::from_bson(v), mode)
}
