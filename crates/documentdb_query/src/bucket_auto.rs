//! `$bucketAuto`: groups documents into a number of buckets of about the same size, the
//! boundaries chosen from the data (optionally rounded to a preferred number series).
//!
//! MongoDB's `DocumentSourceBucketAuto` sorts the documents by the `groupBy` value (missing
//! is null) and fills the buckets in that order:
//! * every bucket takes `round(documents / buckets)` documents (at least one), the last
//!   bucket all the remaining ones;
//! * then it takes the following documents whose value equals its largest one, so equal
//!   values never straddle two buckets; with a `granularity`, the bucket's upper boundary is
//!   its largest value rounded up in the series and it takes every following value below
//!   that boundary (or equal to its largest value);
//! * `_id.min` is the bucket's smallest value and `_id.max` the next bucket's smallest value
//!   (the last bucket's largest value); with a `granularity`, `_id.max` is the rounded
//!   boundary (for a largest value of zero: the next bucket's smallest value rounded down)
//!   and `_id.min` the previous bucket's `_id.max` (the first one: its smallest value
//!   rounded down).
//!
//! Here the stage is parsed ([`parse`]), each document's key computed
//! ([`BucketAuto::group_key`]), and the buckets assigned by a streaming [`BucketAssigner`]
//! fed with the keys in ascending order (small state, [`BucketAssigner::to_raw`] /
//! [`BucketAssigner::from_raw`]); a bucket's `_id` comes from [`bucket_id`].

use std::cmp::Ordering;

use bson::{doc, rawdoc, Bson, Document, RawBsonRef, RawDocument, RawDocumentBuf};
use documentdb_errors::{DocDbError, DocDbResult, ErrorCode};

use crate::accumulators::Accumulator;
use crate::arith::{self, Num};
use crate::expr::value;
use crate::expr::{ExprContext, Expression};
use crate::spec_error::{invalid_bson, loc, raw_type_name};

/// A `granularity`: one of MongoDB's preferred number series.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Granularity {
    R5,
    R10,
    R20,
    R40,
    R80,
    /// `"1-2-5"`.
    Series125,
    E6,
    E12,
    E24,
    E48,
    E96,
    E192,
    /// `"POWERSOF2"`.
    PowersOf2,
}

// The series MongoDB rounds to ("least rounded" Renard numbers, 1-2-5, E series), one decade
// each, as MongoDB lists them (granularity_rounder_preferred_numbers.cpp).
const R5: &[f64] = &[10.0, 16.0, 25.0, 40.0, 63.0];
const R10: &[f64] = &[100.0, 125.0, 160.0, 200.0, 250.0, 315.0, 400.0, 500.0, 630.0, 800.0];
const R20: &[f64] = &[
    100.0, 112.0, 125.0, 140.0, 160.0, 180.0, 200.0, 224.0, 250.0, 280.0, 315.0, 355.0, 400.0, 450.0, 500.0, 560.0,
    630.0, 710.0, 800.0, 900.0,
];
const R40: &[f64] = &[
    100.0, 106.0, 112.0, 118.0, 125.0, 132.0, 140.0, 150.0, 160.0, 170.0, 180.0, 190.0, 200.0, 212.0, 224.0, 236.0,
    250.0, 265.0, 280.0, 300.0, 315.0, 355.0, 375.0, 400.0, 425.0, 450.0, 475.0, 500.0, 530.0, 560.0, 600.0, 630.0,
    670.0, 710.0, 750.0, 800.0, 850.0, 900.0, 950.0,
];
const R80: &[f64] = &[
    103.0, 109.0, 115.0, 122.0, 128.0, 136.0, 145.0, 155.0, 165.0, 175.0, 185.0, 195.0, 206.0, 218.0, 230.0, 243.0,
    258.0, 272.0, 290.0, 307.0, 325.0, 345.0, 365.0, 387.0, 412.0, 437.0, 462.0, 487.0, 515.0, 545.0, 575.0, 615.0,
    650.0, 690.0, 730.0, 775.0, 825.0, 875.0, 925.0, 975.0,
];
const S125: &[f64] = &[10.0, 20.0, 50.0];
const E6: &[f64] = &[10.0, 15.0, 22.0, 33.0, 47.0, 68.0];
const E12: &[f64] = &[10.0, 12.0, 15.0, 18.0, 22.0, 27.0, 33.0, 39.0, 47.0, 56.0, 68.0, 82.0];
const E24: &[f64] = &[
    10.0, 11.0, 12.0, 13.0, 15.0, 16.0, 18.0, 20.0, 22.0, 24.0, 27.0, 30.0, 33.0, 36.0, 39.0, 43.0, 47.0, 51.0, 56.0,
    62.0, 68.0, 75.0, 82.0, 91.0,
];
const E48: &[f64] = &[
    100.0, 105.0, 110.0, 115.0, 121.0, 127.0, 133.0, 140.0, 147.0, 154.0, 162.0, 169.0, 178.0, 187.0, 196.0, 205.0,
    215.0, 226.0, 237.0, 249.0, 261.0, 274.0, 287.0, 301.0, 316.0, 332.0, 348.0, 365.0, 383.0, 402.0, 422.0, 442.0,
    464.0, 487.0, 511.0, 536.0, 562.0, 590.0, 619.0, 649.0, 681.0, 715.0, 750.0, 787.0, 825.0, 866.0, 909.0, 953.0,
];
const E96: &[f64] = &[
    100.0, 102.0, 105.0, 107.0, 110.0, 113.0, 115.0, 118.0, 121.0, 124.0, 127.0, 130.0, 133.0, 137.0, 140.0, 143.0,
    147.0, 150.0, 154.0, 158.0, 162.0, 165.0, 169.0, 174.0, 178.0, 182.0, 187.0, 191.0, 196.0, 200.0, 205.0, 210.0,
    215.0, 221.0, 226.0, 232.0, 237.0, 243.0, 249.0, 255.0, 261.0, 267.0, 274.0, 280.0, 287.0, 294.0, 301.0, 309.0,
    316.0, 324.0, 332.0, 340.0, 348.0, 357.0, 365.0, 374.0, 383.0, 392.0, 402.0, 412.0, 422.0, 432.0, 442.0, 453.0,
    464.0, 475.0, 487.0, 499.0, 511.0, 523.0, 536.0, 549.0, 562.0, 576.0, 590.0, 604.0, 619.0, 634.0, 649.0, 665.0,
    681.0, 698.0, 715.0, 732.0, 750.0, 768.0, 787.0, 806.0, 825.0, 845.0, 866.0, 887.0, 909.0, 931.0, 953.0, 976.0,
];
const E192: &[f64] = &[
    100.0, 101.0, 102.0, 104.0, 105.0, 106.0, 107.0, 109.0, 110.0, 111.0, 113.0, 114.0, 115.0, 117.0, 118.0, 120.0,
    121.0, 123.0, 124.0, 126.0, 127.0, 129.0, 130.0, 132.0, 133.0, 135.0, 137.0, 138.0, 140.0, 142.0, 143.0, 145.0,
    147.0, 149.0, 150.0, 152.0, 154.0, 156.0, 158.0, 160.0, 162.0, 164.0, 165.0, 167.0, 169.0, 172.0, 174.0, 176.0,
    178.0, 180.0, 182.0, 184.0, 187.0, 189.0, 191.0, 193.0, 196.0, 198.0, 200.0, 203.0, 205.0, 208.0, 210.0, 213.0,
    215.0, 218.0, 221.0, 223.0, 226.0, 229.0, 232.0, 234.0, 237.0, 240.0, 243.0, 246.0, 249.0, 252.0, 255.0, 258.0,
    261.0, 264.0, 267.0, 271.0, 274.0, 277.0, 280.0, 284.0, 287.0, 291.0, 294.0, 298.0, 301.0, 305.0, 309.0, 312.0,
    316.0, 320.0, 324.0, 328.0, 332.0, 336.0, 340.0, 344.0, 348.0, 352.0, 357.0, 361.0, 365.0, 370.0, 374.0, 379.0,
    383.0, 388.0, 392.0, 397.0, 402.0, 407.0, 412.0, 417.0, 422.0, 427.0, 432.0, 437.0, 442.0, 448.0, 453.0, 459.0,
    464.0, 470.0, 475.0, 481.0, 487.0, 493.0, 499.0, 505.0, 511.0, 517.0, 523.0, 530.0, 536.0, 542.0, 549.0, 556.0,
    562.0, 569.0, 576.0, 583.0, 590.0, 597.0, 604.0, 612.0, 619.0, 626.0, 634.0, 642.0, 649.0, 657.0, 665.0, 673.0,
    681.0, 690.0, 698.0, 706.0, 715.0, 723.0, 732.0, 741.0, 750.0, 759.0, 768.0, 777.0, 787.0, 796.0, 806.0, 816.0,
    825.0, 835.0, 845.0, 856.0, 866.0, 876.0, 887.0, 898.0, 909.0, 920.0, 931.0, 942.0, 953.0, 965.0, 976.0, 988.0,
];

/// Bound on the scaling loops of the rounders (a double's decimal exponent spans about 630
/// decades, a decimal's about 12300): values past it are returned unrounded rather than
/// looping on a multiplier that overflowed or vanished.
const MAX_SCALING_STEPS: usize = 13_000;

impl Granularity {
    /// The granularity named `name` (MongoDB's names, case-sensitive).
    pub fn from_name(name: &str) -> Option<Granularity> {
        Some(match name {
            "R5" => Granularity::R5,
            "R10" => Granularity::R10,
            "R20" => Granularity::R20,
            "R40" => Granularity::R40,
            "R80" => Granularity::R80,
            "1-2-5" => Granularity::Series125,
            "E6" => Granularity::E6,
            "E12" => Granularity::E12,
            "E24" => Granularity::E24,
            "E48" => Granularity::E48,
            "E96" => Granularity::E96,
            "E192" => Granularity::E192,
            "POWERSOF2" => Granularity::PowersOf2,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Granularity::R5 => "R5",
            Granularity::R10 => "R10",
            Granularity::R20 => "R20",
            Granularity::R40 => "R40",
            Granularity::R80 => "R80",
            Granularity::Series125 => "1-2-5",
            Granularity::E6 => "E6",
            Granularity::E12 => "E12",
            Granularity::E24 => "E24",
            Granularity::E48 => "E48",
            Granularity::E96 => "E96",
            Granularity::E192 => "E192",
            Granularity::PowersOf2 => "POWERSOF2",
        }
    }

    fn series(self) -> Option<&'static [f64]> {
        Some(match self {
            Granularity::R5 => R5,
            Granularity::R10 => R10,
            Granularity::R20 => R20,
            Granularity::R40 => R40,
            Granularity::R80 => R80,
            Granularity::Series125 => S125,
            Granularity::E6 => E6,
            Granularity::E12 => E12,
            Granularity::E24 => E24,
            Granularity::E48 => E48,
            Granularity::E96 => E96,
            Granularity::E192 => E192,
            Granularity::PowersOf2 => return None,
        })
    }

    /// The rounder's own check of its input (preferred numbers: 40262, 40263, 40268;
    /// powers of two: 40265, 40266, 40267).
    fn check(self, v: &Bson) -> DocDbResult<(Num, f64)> {
        let codes = if self == Granularity::PowersOf2 { [40265, 40266, 40267] } else { [40262, 40263, 40268] };
        let n = Num::from_bson(v).ok_or_else(|| {
            loc(
                codes[0],
                format!(
                    "A granularity rounder can only round numeric values, but found type: {}",
                    value::type_name(&Some(v.clone()))
                ),
            )
        })?;
        let d = arith::to_f64(n);
        if d.is_nan() {
            return Err(loc(codes[1], "A granularity rounder cannot round NaN"));
        }
        if d < 0.0 {
            return Err(loc(codes[2], "A granularity rounder can only round non-negative numbers"));
        }
        Ok((n, d))
    }

    /// The smallest number of the series strictly greater than `v` (zero and infinity
    /// stay themselves): MongoDB's `roundUp`.
    pub fn round_up(self, v: &Bson) -> DocDbResult<Bson> {
        let (n, d) = self.check(v)?;
        if d == 0.0 || d.is_infinite() {
            return Ok(v.clone());
        }
        match self.series() {
            None => powers_of_two(n, true),
            Some(series) => Ok(match n {
                Num::Decimal(_) => decimal_round_up(series, n).map_or_else(|| v.clone(), Num::to_bson),
                _ => double_round_up(series, d).map_or_else(|| v.clone(), Bson::Double),
            }),
        }
    }

    /// The largest number of the series strictly less than `v` (zero and infinity stay
    /// themselves): MongoDB's `roundDown`.
    pub fn round_down(self, v: &Bson) -> DocDbResult<Bson> {
        let (n, d) = self.check(v)?;
        if d == 0.0 || d.is_infinite() {
            return Ok(v.clone());
        }
        match self.series() {
            None => powers_of_two(n, false),
            Some(series) => Ok(match n {
                Num::Decimal(_) => decimal_round_down(series, n).map_or_else(|| v.clone(), Num::to_bson),
                _ => double_round_down(series, d).map_or_else(|| v.clone(), Bson::Double),
            }),
        }
    }
}

/// `roundUp` on doubles: scale the decade until `number` is in [first, last) of the
/// series times the multiplier, then take the first series number above it.
fn double_round_up(series: &[f64], number: f64) -> Option<f64> {
    let (first, last) = (*series.first()?, *series.last()?);
    let mut multiplier = 1.0;
    let mut steps = 0;
    while number >= last * multiplier {
        multiplier *= 10.0;
        steps += 1;
        if steps > MAX_SCALING_STEPS || !multiplier.is_finite() {
            return None;
        }
    }
    while number < first * multiplier {
        // Between the previous decade's last number and this one's first: the first.
        let previous_min = first * multiplier;
        multiplier /= 10.0;
        steps += 1;
        if steps > MAX_SCALING_STEPS || multiplier == 0.0 {
            return None;
        }
        if number >= last * multiplier {
            return Some(previous_min);
        }
    }
    series.iter().map(|s| s * multiplier).find(|s| number < *s)
}

/// `roundDown` on doubles: the series number before the first one not below `number`.
fn double_round_down(series: &[f64], number: f64) -> Option<f64> {
    let (first, last) = (*series.first()?, *series.last()?);
    let mut multiplier = 1.0;
    let mut steps = 0;
    while number <= first * multiplier {
        multiplier /= 10.0;
        steps += 1;
        if steps > MAX_SCALING_STEPS || multiplier == 0.0 {
            return None;
        }
    }
    while number > last * multiplier {
        let previous_max = last * multiplier;
        multiplier *= 10.0;
        steps += 1;
        if steps > MAX_SCALING_STEPS || !multiplier.is_finite() {
            return None;
        }
        if number <= first * multiplier {
            return Some(previous_max);
        }
    }
    let at = series.iter().position(|s| s * multiplier >= number)?;
    Some(series[at.checked_sub(1)?] * multiplier)
}

/// The series as MongoDB's `Decimal128(double)` makes them (15 significant digits).
fn decimal_series(series: &[f64]) -> Vec<Num> {
    series.iter().map(|s| Num::Decimal(arith::to_decimal(Num::Double(*s)))).collect()
}

fn dec_times(a: Num, b: Num) -> Num {
    arith::multiply(a, b)
}

fn dec_scale_down(a: Num) -> Num {
    arith::divide(a, Num::Decimal(arith::to_decimal(Num::Int32(10)))).unwrap_or(a)
}

fn dec_scale_up(a: Num) -> Num {
    arith::multiply(a, Num::Decimal(arith::to_decimal(Num::Int32(10))))
}

fn lt(a: Num, b: Num) -> bool {
    arith::compare(a, b) == Ordering::Less
}

/// `roundUp` on decimals, in decimal arithmetic (MongoDB's Decimal128 branch).
fn decimal_round_up(series: &[f64], number: Num) -> Option<Num> {
    let series = decimal_series(series);
    let (first, last) = (*series.first()?, *series.last()?);
    let mut multiplier = Num::Decimal(arith::to_decimal(Num::Int32(1)));
    let mut steps = 0;
    while !lt(number, dec_times(last, multiplier)) {
        multiplier = dec_scale_up(multiplier);
        steps += 1;
        if steps > MAX_SCALING_STEPS || !multiplier.is_finite() {
            return None;
        }
    }
    while lt(number, dec_times(first, multiplier)) {
        let previous_min = dec_times(first, multiplier);
        multiplier = dec_scale_down(multiplier);
        steps += 1;
        if steps > MAX_SCALING_STEPS || multiplier.is_zero() {
            return None;
        }
        if !lt(number, dec_times(last, multiplier)) {
            return Some(previous_min);
        }
    }
    series.iter().map(|s| dec_times(*s, multiplier)).find(|s| lt(number, *s))
}

/// `roundDown` on decimals.
fn decimal_round_down(series: &[f64], number: Num) -> Option<Num> {
    let series = decimal_series(series);
    let (first, last) = (*series.first()?, *series.last()?);
    let mut multiplier = Num::Decimal(arith::to_decimal(Num::Int32(1)));
    let mut steps = 0;
    while !lt(dec_times(first, multiplier), number) {
        multiplier = dec_scale_down(multiplier);
        steps += 1;
        if steps > MAX_SCALING_STEPS || multiplier.is_zero() {
            return None;
        }
    }
    while lt(dec_times(last, multiplier), number) {
        let previous_max = dec_times(last, multiplier);
        multiplier = dec_scale_up(multiplier);
        steps += 1;
        if steps > MAX_SCALING_STEPS || !multiplier.is_finite() {
            return None;
        }
        if !lt(dec_times(first, multiplier), number) {
            return Some(previous_max);
        }
    }
    let at = series.iter().position(|s| !lt(dec_times(*s, multiplier), number))?;
    Some(dec_times(series[at.checked_sub(1)?], multiplier))
}

/// `POWERSOF2`: `2 ^ exponent` computed by `$pow`, as MongoDB does (so integers give
/// integers, doubles doubles, decimals decimals), the exponent being the next one above
/// (`up`) or below the value.
fn powers_of_two(n: Num, up: bool) -> DocDbResult<Bson> {
    let exponent = match n {
        Num::Double(d) => {
            let e = if up { d.log2().floor() + 1.0 } else { d.log2().ceil() - 1.0 };
            Bson::Int32(e as i32)
        }
        Num::Decimal(d) => {
            let log2 = arith::to_f64(Num::Decimal(arith::decimal_log(d, arith::to_decimal(Num::Int32(2)))));
            let e = if up { log2.floor() + 1.0 } else { log2.ceil() - 1.0 };
            Bson::Decimal128(arith::to_decimal(Num::Int32(e as i32)))
        }
        Num::Int32(_) | Num::Int64(_) => {
            let number = arith::to_i64(n);
            let leading = number.leading_zeros() as i32;
            let trailing = number.trailing_zeros() as i32;
            Bson::Int32(if up {
                64 - leading
            } else if leading + trailing == 63 {
                // A power of two rounds down to the one before.
                62 - leading
            } else {
                63 - leading
            })
        }
    };
    let pow = Expression::parse_bson(&Bson::Document(doc! { "$pow": [2, exponent] }), &ExprContext::default())?;
    Ok(pow.evaluate(&RawDocumentBuf::new())?.unwrap_or(Bson::Null))
}

/// A parsed `$bucketAuto` stage.
#[derive(Debug, Clone)]
pub struct BucketAuto {
    group_by: Expression,
    buckets: u32,
    output: RawDocumentBuf,
    granularity: Option<Granularity>,
}

/// Parses a `$bucketAuto` specification with MongoDB's validation (40239 to 40261; the
/// `output` accumulators as `$group`'s: 40234 to 40238 and the accumulators' own).
pub fn parse(spec: RawBsonRef<'_>, ctx: &ExprContext) -> DocDbResult<BucketAuto> {
    let RawBsonRef::Document(spec) = spec else {
        return Err(loc(
            40240,
            format!("The argument to $bucketAuto must be an object, but found type: {}", raw_type_name(spec)),
        ));
    };
    let (mut group_by, mut buckets, mut output, mut granularity) = (None, None, None, None);
    for element in spec {
        let (key, value) = element.map_err(invalid_bson)?;
        match key.as_str() {
            "groupBy" => group_by = Some(parse_group_by(value, ctx)?),
            "buckets" => {
                let n = Num::from_raw(value).ok_or_else(|| {
                    loc(
                        40241,
                        format!(
                            "The $bucketAuto 'buckets' field must be a numeric value, but found type: {}",
                            raw_type_name(value)
                        ),
                    )
                })?;
                let count = arith::as_i32_exact(n).ok_or_else(|| {
                    loc(
                        40242,
                        format!(
                            "The $bucketAuto 'buckets' field must be representable as a 32-bit integer, but found {}",
                            value::display(&Some(Bson::Double(arith::to_f64(n))))
                        ),
                    )
                })?;
                buckets = Some(count);
            }
            "output" => {
                let RawBsonRef::Document(o) = value else {
                    return Err(loc(
                        40244,
                        format!(
                            "The $bucketAuto 'output' field must be an object, but found type: {}",
                            raw_type_name(value)
                        ),
                    ));
                };
                validate_output(o, ctx)?;
                output = Some(o.to_owned());
            }
            "granularity" => {
                let RawBsonRef::String(name) = value else {
                    return Err(loc(
                        40261,
                        format!(
                            "The $bucketAuto 'granularity' field must be a string, but found type: {}",
                            raw_type_name(value)
                        ),
                    ));
                };
                granularity = Some(
                    Granularity::from_name(name)
                        .ok_or_else(|| loc(40257, format!("Unknown rounding granularity '{name}'")))?,
                );
            }
            other => return Err(loc(40245, format!("Unrecognized option to $bucketAuto: {other}"))),
        }
    }
    let (Some(group_by), Some(buckets)) = (group_by, buckets) else {
        return Err(loc(40246, "$bucketAuto requires 'groupBy' and 'buckets' to be specified"));
    };
    let buckets = u32::try_from(buckets).ok().filter(|b| *b > 0).ok_or_else(|| {
        loc(40243, format!("The $bucketAuto 'buckets' field must be greater than 0, but found: {buckets}"))
    })?;
    // No output field (or an empty `output`): MongoDB's default `count: {$sum: 1}`.
    let output = output.filter(|o| !o.is_empty()).unwrap_or_else(|| rawdoc! { "count": { "$sum": 1 } });
    Ok(BucketAuto { group_by, buckets, output, granularity })
}

/// `groupBy`: a `$`-prefixed path (more than the `$` alone) or an operator object (40239).
fn parse_group_by(value: RawBsonRef<'_>, ctx: &ExprContext) -> DocDbResult<Expression> {
    let valid = match value {
        RawBsonRef::Document(d) => {
            matches!(d.iter().next(), Some(Ok((k, _))) if k.as_str().starts_with('$'))
        }
        RawBsonRef::String(s) => s.len() > 1 && s.starts_with('$'),
        _ => false,
    };
    if !valid {
        let shown = bson::Bson::try_from(value).map(|b| value::display(&Some(b))).unwrap_or_default();
        return Err(loc(
            40239,
            format!(
                "The $bucketAuto 'groupBy' field must be defined as a $-prefixed path or an expression object, but \
                 found: {shown}"
            ),
        ));
    }
    Expression::parse(value, ctx)
}

/// Each output field is an accumulator, validated as MongoDB's `AccumulationStatement`.
fn validate_output(output: &RawDocument, ctx: &ExprContext) -> DocDbResult<()> {
    for element in output {
        let (field, value) = element.map_err(invalid_bson)?;
        let field = field.as_str();
        let accumulator = match value {
            RawBsonRef::Document(d) => match d.iter().next() {
                Some(Ok((op, _))) if op.as_str().starts_with('$') => Some(d),
                _ => None,
            },
            _ => None,
        };
        let Some(accumulator) = accumulator else {
            return Err(loc(40234, format!("The field '{field}' must be an accumulator object")));
        };
        if field.contains('.') {
            return Err(loc(40235, format!("The field name '{field}' cannot contain '.'")));
        }
        if field.starts_with('$') {
            return Err(loc(40236, format!("The field name '{field}' cannot be an operator name")));
        }
        let mut fields = accumulator.iter();
        let (Some(Ok((op, arg))), None) = (fields.next(), fields.next()) else {
            return Err(loc(40238, format!("The field '{field}' must specify one accumulator")));
        };
        Accumulator::parse_with_context(op.as_str(), arg, ctx)?;
    }
    Ok(())
}

impl BucketAuto {
    /// The `groupBy` expression.
    pub fn group_by(&self) -> &Expression {
        &self.group_by
    }

    /// The number of buckets (positive).
    pub fn buckets(&self) -> u32 {
        self.buckets
    }

    /// The output accumulators, `{count: {$sum: 1}}` when none were given: a `$group`'s
    /// fields besides `_id`.
    pub fn output(&self) -> &RawDocument {
        &self.output
    }

    pub fn granularity(&self) -> Option<Granularity> {
        self.granularity
    }

    /// The document's key: `groupBy`'s value, null when missing; with a granularity it
    /// must be a non-negative number (40258, 40259, 40260).
    pub fn group_key(&self, doc: &RawDocument) -> DocDbResult<Bson> {
        check_key(self.group_by.evaluate(doc)?, self.granularity)
    }

    /// A [`BucketAssigner`] for `total_documents` documents.
    pub fn assigner(&self, total_documents: u64) -> BucketAssigner {
        BucketAssigner::new(total_documents, self.buckets, self.granularity)
    }
}

/// MongoDB's `extractKey` on an evaluated `groupBy` value (`None` = missing).
pub fn check_key(key: crate::Value, granularity: Option<Granularity>) -> DocDbResult<Bson> {
    if granularity.is_some() {
        check_numeric_key(&key)?;
    }
    Ok(key.unwrap_or(Bson::Null))
}

fn check_numeric_key(key: &crate::Value) -> DocDbResult<()> {
    let n = key.as_ref().and_then(Num::from_bson).ok_or_else(|| {
        loc(
            40258,
            format!(
                "$bucketAuto can specify a 'granularity' with numeric boundaries only, but found a value with type: {}",
                value::type_name(key)
            ),
        )
    })?;
    let d = arith::to_f64(n);
    if d.is_nan() {
        return Err(loc(
            40259,
            "$bucketAuto can specify a 'granularity' with numeric boundaries only, but found a NaN",
        ));
    }
    if d < 0.0 {
        return Err(loc(
            40260,
            "$bucketAuto can specify a 'granularity' with non-negative numbers only, but found a negative number",
        ));
    }
    Ok(())
}

/// Assigns bucket numbers (0, 1, ...) to keys given in ascending MongoDB order, one key per
/// document, as MongoDB fills its buckets. The state is a few numbers and two values.
#[derive(Debug, Clone, PartialEq)]
pub struct BucketAssigner {
    buckets: u32,
    granularity: Option<Granularity>,
    /// Documents a bucket takes before it only takes equal (or below-boundary) values.
    approx: u64,
    started: bool,
    /// The current bucket.
    bucket: u32,
    /// Documents in the current bucket.
    count: u64,
    /// The current bucket has its `approx` documents and only takes equal values (or
    /// values below `boundary`).
    absorbing: bool,
    /// The largest key in the current bucket.
    last: Bson,
    /// With a granularity, while absorbing: the bucket's rounded upper boundary.
    boundary: Bson,
}

impl BucketAssigner {
    /// `approx` is MongoDB's `round(documents / buckets)`, at least 1.
    pub fn new(total_documents: u64, buckets: u32, granularity: Option<Granularity>) -> BucketAssigner {
        let buckets = buckets.max(1);
        let approx = (total_documents as f64 / f64::from(buckets)).round().max(1.0) as u64;
        BucketAssigner {
            buckets,
            granularity,
            approx,
            started: false,
            bucket: 0,
            count: 0,
            absorbing: false,
            last: Bson::Null,
            boundary: Bson::Null,
        }
    }

    /// The bucket of the next document, whose key is `key` (not less than the previous one).
    pub fn assign(&mut self, key: &Bson) -> DocDbResult<u32> {
        if self.granularity.is_some() {
            check_numeric_key(&Some(key.clone()))?;
        }
        if !self.started {
            self.started = true;
            self.begin(key)?;
            return Ok(self.bucket);
        }
        if self.absorbing {
            let equal = value::compare(&self.last, key) == Ordering::Equal;
            let joins = match self.granularity {
                None => equal,
                Some(_) => equal || value::compare(&self.boundary, key) == Ordering::Greater,
            };
            if joins {
                self.last = key.clone();
                self.count += 1;
            } else {
                self.bucket += 1;
                self.begin(key)?;
            }
            return Ok(self.bucket);
        }
        self.count += 1;
        self.last = key.clone();
        self.fill_check()?;
        Ok(self.bucket)
    }

    fn begin(&mut self, key: &Bson) -> DocDbResult<()> {
        self.count = 1;
        self.last = key.clone();
        self.absorbing = false;
        self.boundary = Bson::Null;
        self.fill_check()
    }

    /// A bucket other than the last one that has its documents starts absorbing.
    fn fill_check(&mut self) -> DocDbResult<()> {
        if self.count >= self.approx && self.bucket + 1 < self.buckets {
            self.absorbing = true;
            if let Some(g) = self.granularity {
                self.boundary = g.round_up(&self.last)?;
            }
        }
        Ok(())
    }

    /// The state as a BSON document ([`BucketAssigner::from_raw`] reads it back).
    pub fn to_raw(&self) -> DocDbResult<RawDocumentBuf> {
        let doc = doc! {
            "buckets": i64::from(self.buckets),
            "granularity": self.granularity.map(|g| Bson::String(g.name().to_string())).unwrap_or(Bson::Null),
            "approx": i64::try_from(self.approx).unwrap_or(i64::MAX),
            "started": self.started,
            "bucket": i64::from(self.bucket),
            "count": i64::try_from(self.count).unwrap_or(i64::MAX),
            "absorbing": self.absorbing,
            "last": self.last.clone(),
            "boundary": self.boundary.clone(),
        };
        crate::document::to_raw_document(&doc)
    }

    /// Reads a state written by [`BucketAssigner::to_raw`].
    pub fn from_raw(raw: &RawDocument) -> DocDbResult<BucketAssigner> {
        let bad = || DocDbError::new(ErrorCode::InternalError, "invalid $bucketAuto assigner state");
        let doc = Document::try_from(raw).map_err(|_| bad())?;
        let int = |k: &str| doc.get_i64(k).map_err(|_| bad());
        let granularity = match doc.get("granularity") {
            Some(Bson::String(name)) => Some(Granularity::from_name(name).ok_or_else(bad)?),
            _ => None,
        };
        Ok(BucketAssigner {
            buckets: u32::try_from(int("buckets")?).map_err(|_| bad())?,
            granularity,
            approx: u64::try_from(int("approx")?).map_err(|_| bad())?,
            started: doc.get_bool("started").map_err(|_| bad())?,
            bucket: u32::try_from(int("bucket")?).map_err(|_| bad())?,
            count: u64::try_from(int("count")?).map_err(|_| bad())?,
            absorbing: doc.get_bool("absorbing").map_err(|_| bad())?,
            last: doc.get("last").cloned().ok_or_else(bad)?,
            boundary: doc.get("boundary").cloned().ok_or_else(bad)?,
        })
    }
}

/// The `_id` of a bucket whose keys go from `min_key` to `max_key`:
/// `{min: min_key, max: next bucket's min_key (max_key for the last bucket)}`. With a
/// granularity the boundaries are rounded as MongoDB rounds them, which needs the previous
/// bucket's largest key (`previous_bucket_max`, `None` for the first bucket).
///
/// One approximation: MongoDB rounds the largest key the bucket had when it reached its
/// size (later keys being below the rounded boundary); the rounded value is the same from
/// the bucket's largest key, but its numeric type can differ when the bucket mixes types.
pub fn bucket_id(
    min_key: &Bson,
    max_key: &Bson,
    next_bucket_min: Option<&Bson>,
    previous_bucket_max: Option<&Bson>,
    granularity: Option<Granularity>,
) -> DocDbResult<Document> {
    let Some(g) = granularity else {
        return Ok(doc! { "min": min_key.clone(), "max": next_bucket_min.unwrap_or(max_key).clone() });
    };
    let min = match previous_bucket_max {
        None => g.round_down(min_key)?,
        Some(previous) => upper_boundary(g, previous, Some(min_key))?,
    };
    let max = upper_boundary(g, max_key, next_bucket_min)?;
    Ok(doc! { "min": min, "max": max })
}

/// A bucket's `_id.max`: its largest key rounded up; when that is zero and a bucket
/// follows, the next bucket's smallest key rounded down.
fn upper_boundary(g: Granularity, max_key: &Bson, next_min: Option<&Bson>) -> DocDbResult<Bson> {
    let boundary = g.round_up(max_key)?;
    let zero = Num::from_bson(&boundary).is_some_and(|n| arith::to_f64(n) == 0.0);
    match next_min {
        Some(next) if zero => g.round_down(next),
        _ => Ok(boundary),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::RawBson;

    fn code(r: DocDbResult<impl Sized>) -> i32 {
        r.err().map_or(0, |e| e.code.code())
    }

    fn parse_doc(spec: RawDocumentBuf) -> DocDbResult<BucketAuto> {
        parse(RawBsonRef::Document(&spec), &ExprContext::default())
    }

    fn dec(s: &str) -> Bson {
        Bson::Decimal128(s.parse().unwrap())
    }

    /// Runs the whole algorithm on keys (sorted here): each bucket's `_id` and count.
    fn buckets_of(mut keys: Vec<Bson>, buckets: u32, g: Option<Granularity>) -> Vec<(Document, usize)> {
        keys.sort_by(value::compare);
        let mut assigner = BucketAssigner::new(keys.len() as u64, buckets, g);
        let mut groups: Vec<Vec<Bson>> = Vec::new();
        for k in &keys {
            // The state survives a round trip through BSON (as it would between calls).
            let raw = assigner.to_raw().unwrap();
            assigner = BucketAssigner::from_raw(&raw).unwrap();
            let b = assigner.assign(k).unwrap() as usize;
            if groups.len() <= b {
                groups.resize(b + 1, Vec::new());
            }
            groups[b].push(k.clone());
        }
        let mut out = Vec::new();
        for (i, group) in groups.iter().enumerate() {
            let next_min = groups.get(i + 1).map(|g| &g[0]);
            let prev_max = if i == 0 { None } else { groups[i - 1].last() };
            let id = bucket_id(&group[0], &group[group.len() - 1], next_min, prev_max, g).unwrap();
            out.push((id, group.len()));
        }
        out
    }

    fn ids(min_max_count: &[(Bson, Bson, usize)]) -> Vec<(Document, usize)> {
        min_max_count.iter().map(|(a, b, n)| (doc! { "min": a.clone(), "max": b.clone() }, *n)).collect()
    }

    /// Manual ($bucketAuto, "Single Facet Aggregation"): the artwork prices in 4 buckets.
    #[test]
    fn manual_artwork_by_price() {
        let prices = ["199.99", "280.00", "76.04", "167.30", "483.00", "385.00", "159.00", "118.42"];
        let keys = prices.iter().map(|p| dec(p)).collect();
        assert_eq!(
            buckets_of(keys, 4, None),
            ids(&[
                (dec("76.04"), dec("159.00"), 2),
                (dec("159.00"), dec("199.99"), 2),
                (dec("199.99"), dec("385.00"), 2),
                (dec("385.00"), dec("483.00"), 2),
            ])
        );
    }

    /// Manual ("Multi-Faceted Aggregation"): years with two missing (null) in 3 buckets of
    /// about 3; areas where the equal 480s stay in one bucket.
    #[test]
    fn manual_artwork_years_and_areas() {
        let years = vec![
            Bson::Int32(1926),
            Bson::Int32(1902),
            Bson::Int32(1925),
            check_key(None, None).unwrap(),
            Bson::Int32(1931),
            Bson::Int32(1913),
            check_key(None, None).unwrap(),
            Bson::Int32(1918),
        ];
        assert_eq!(
            buckets_of(years, 3, None),
            ids(&[
                (Bson::Null, Bson::Int32(1913), 3),
                (Bson::Int32(1913), Bson::Int32(1926), 3),
                (Bson::Int32(1926), Bson::Int32(1931), 2),
            ])
        );
        let areas = [819, 1568, 500, 864, 480, 1380, 432, 480].iter().map(|a| Bson::Int32(*a)).collect();
        assert_eq!(
            buckets_of(areas, 4, None),
            ids(&[
                (Bson::Int32(432), Bson::Int32(500), 3),
                (Bson::Int32(500), Bson::Int32(864), 2),
                (Bson::Int32(864), Bson::Int32(1568), 2),
                (Bson::Int32(1568), Bson::Int32(1568), 1),
            ])
        );
    }

    fn things() -> Vec<Bson> {
        (0..100).map(Bson::Int32).collect()
    }

    /// Manual ("Comparing Different Granularities"), no granularity: five buckets of 20.
    #[test]
    fn manual_granularity_none() {
        let i = Bson::Int32;
        assert_eq!(
            buckets_of(things(), 5, None),
            ids(&[(i(0), i(20), 20), (i(20), i(40), 20), (i(40), i(60), 20), (i(60), i(80), 20), (i(80), i(99), 20)])
        );
    }

    /// Manual: R20 rounds the boundaries up to 20, 40, 63, 90, 100 and the buckets absorb the
    /// values below them.
    #[test]
    fn manual_granularity_r20() {
        let d = Bson::Double;
        assert_eq!(
            buckets_of(things(), 5, Some(Granularity::R20)),
            ids(&[
                (Bson::Int32(0), d(20.0), 20),
                (d(20.0), d(40.0), 20),
                (d(40.0), d(63.0), 23),
                (d(63.0), d(90.0), 27),
                (d(90.0), d(100.0), 10),
            ])
        );
    }

    /// Manual: E24.
    #[test]
    fn manual_granularity_e24() {
        let d = Bson::Double;
        assert_eq!(
            buckets_of(things(), 5, Some(Granularity::E24)),
            ids(&[
                (Bson::Int32(0), d(20.0), 20),
                (d(20.0), d(43.0), 23),
                (d(43.0), d(68.0), 25),
                (d(68.0), d(91.0), 23),
                (d(91.0), d(100.0), 9),
            ])
        );
    }

    /// Manual: 1-2-5 has fewer intervals than buckets, three buckets come out.
    #[test]
    fn manual_granularity_1_2_5() {
        let d = Bson::Double;
        assert_eq!(
            buckets_of(things(), 5, Some(Granularity::Series125)),
            ids(&[(Bson::Int32(0), d(20.0), 20), (d(20.0), d(50.0), 30), (d(50.0), d(100.0), 50)])
        );
    }

    /// Manual: POWERSOF2 (integers round to integer powers, as `$pow` computes them).
    #[test]
    fn manual_granularity_powers_of_two() {
        let i = Bson::Int32;
        assert_eq!(
            buckets_of(things(), 5, Some(Granularity::PowersOf2)),
            ids(&[(i(0), i(32), 32), (i(32), i(64), 32), (i(64), i(128), 36)])
        );
    }

    /// MongoDB's rounders: strictly above / below, decades scaled, zero kept; 0.8 in E6
    /// rounds up to 1.0 and down to 0.68.
    #[test]
    fn rounding_examples() {
        let g = Granularity::E6;
        assert_eq!(g.round_up(&Bson::Double(0.8)).unwrap(), Bson::Double(1.0));
        assert_eq!(g.round_down(&Bson::Double(0.8)).unwrap(), Bson::Double(0.68));
        assert_eq!(g.round_up(&Bson::Int32(47)).unwrap(), Bson::Double(68.0));
        assert_eq!(g.round_down(&Bson::Int32(47)).unwrap(), Bson::Double(33.0));
        assert_eq!(g.round_up(&Bson::Int32(0)).unwrap(), Bson::Int32(0));
        assert_eq!(Granularity::R5.round_up(&Bson::Int32(1000)).unwrap(), Bson::Double(1600.0));
        // Decimals stay decimals, with the series' 15-digit decimal values.
        let up = Granularity::R5.round_up(&dec("12")).unwrap();
        assert_eq!(value::compare(&up, &Bson::Int32(16)), Ordering::Equal);
        assert!(matches!(up, Bson::Decimal128(_)));
        let p2 = Granularity::PowersOf2;
        assert_eq!(p2.round_up(&Bson::Int32(4)).unwrap(), Bson::Int32(8));
        assert_eq!(p2.round_down(&Bson::Int32(4)).unwrap(), Bson::Int32(2));
        assert_eq!(p2.round_down(&Bson::Int32(5)).unwrap(), Bson::Int32(4));
        assert_eq!(p2.round_down(&Bson::Int32(1)).unwrap(), Bson::Double(0.5));
        // MongoDB computes `$pow: [2, <int exponent>]`, an integer even for a double input.
        assert_eq!(p2.round_up(&Bson::Double(3.5)).unwrap(), Bson::Int32(4));
        assert!(matches!(p2.round_up(&dec("3.5")).unwrap(), Bson::Decimal128(_)));
        assert_eq!(code(p2.round_up(&Bson::Int32(-1))), 40267);
        assert_eq!(code(Granularity::R5.round_up(&Bson::String("a".into()))), 40262);
    }

    /// A largest value of zero: the boundary is the next bucket's minimum rounded down.
    #[test]
    fn zero_boundary_uses_the_next_minimum() {
        let keys = vec![Bson::Int32(0), Bson::Int32(0), Bson::Int32(5), Bson::Int32(7)];
        let out = buckets_of(keys, 2, Some(Granularity::R5));
        assert_eq!(out, ids(&[(Bson::Int32(0), Bson::Double(4.0), 2), (Bson::Double(4.0), Bson::Double(10.0), 2)]));
    }

    /// Equal values never straddle buckets; more buckets than documents gives one each.
    #[test]
    fn equal_values_and_few_documents() {
        let i = Bson::Int32;
        let keys = vec![i(1), i(1), i(1), i(2)];
        assert_eq!(buckets_of(keys, 2, None), ids(&[(i(1), i(2), 3), (i(2), i(2), 1)]));
        let keys = vec![i(1), i(2)];
        assert_eq!(buckets_of(keys, 5, None), ids(&[(i(1), i(2), 1), (i(2), i(2), 1)]));
    }

    #[test]
    fn granularity_keys_must_be_non_negative_numbers() {
        let g = Some(Granularity::R5);
        assert_eq!(code(check_key(None, g)), 40258);
        assert_eq!(code(check_key(Some(Bson::String("a".into())), g)), 40258);
        assert_eq!(code(check_key(Some(Bson::Double(f64::NAN)), g)), 40259);
        assert_eq!(code(check_key(Some(Bson::Int32(-1)), g)), 40260);
        assert_eq!(check_key(None, None).unwrap(), Bson::Null);
        let mut a = BucketAssigner::new(2, 2, g);
        assert_eq!(code(a.assign(&Bson::Null)), 40258);
    }

    #[test]
    fn parse_defaults_and_keys() {
        let b = parse_doc(rawdoc! { "groupBy": "$price", "buckets": 4 }).unwrap();
        assert_eq!(b.buckets(), 4);
        assert_eq!(b.output(), rawdoc! { "count": { "$sum": 1 } }.as_ref());
        assert_eq!(b.granularity(), None);
        assert_eq!(b.group_key(&rawdoc! { "price": 3 }).unwrap(), Bson::Int32(3));
        assert_eq!(b.group_key(&rawdoc! {}).unwrap(), Bson::Null);
        let b = parse_doc(rawdoc! { "groupBy": "$p", "buckets": 2.0, "output": {}, "granularity": "1-2-5" }).unwrap();
        assert_eq!(b.output(), rawdoc! { "count": { "$sum": 1 } }.as_ref(), "an empty output is the default");
        assert_eq!(b.granularity(), Some(Granularity::Series125));
        let b = parse_doc(rawdoc! { "groupBy": { "$multiply": ["$h", "$w"] }, "buckets": 4,
        "output": { "n": { "$sum": 1 }, "t": { "$push": "$title" } } })
        .unwrap();
        assert_eq!(b.output().iter().count(), 2);
        assert_eq!(b.group_key(&rawdoc! { "h": 2, "w": 3 }).unwrap(), Bson::Int32(6));
    }

    #[test]
    fn parse_errors() {
        assert_eq!(code(parse(RawBsonRef::Int32(1), &ExprContext::default())), 40240);
        assert_eq!(code(parse_doc(rawdoc! { "groupBy": "price", "buckets": 1 })), 40239);
        assert_eq!(code(parse_doc(rawdoc! { "groupBy": "$", "buckets": 1 })), 40239);
        assert_eq!(code(parse_doc(rawdoc! { "groupBy": { "a": "$x" }, "buckets": 1 })), 40239);
        assert_eq!(code(parse_doc(rawdoc! { "groupBy": "$a", "buckets": "1" })), 40241);
        assert_eq!(code(parse_doc(rawdoc! { "groupBy": "$a", "buckets": 1.5 })), 40242);
        assert_eq!(code(parse_doc(rawdoc! { "groupBy": "$a", "buckets": 3_000_000_000i64 })), 40242);
        assert_eq!(code(parse_doc(rawdoc! { "groupBy": "$a", "buckets": 0 })), 40243);
        assert_eq!(code(parse_doc(rawdoc! { "groupBy": "$a", "buckets": -2 })), 40243);
        assert_eq!(code(parse_doc(rawdoc! { "groupBy": "$a", "buckets": 1, "output": 1 })), 40244);
        assert_eq!(code(parse_doc(rawdoc! { "groupBy": "$a", "buckets": 1, "x": 1 })), 40245);
        assert_eq!(code(parse_doc(rawdoc! { "groupBy": "$a" })), 40246);
        assert_eq!(code(parse_doc(rawdoc! { "buckets": 1 })), 40246);
        assert_eq!(code(parse_doc(rawdoc! { "groupBy": "$a", "buckets": 1, "granularity": 1 })), 40261);
        assert_eq!(code(parse_doc(rawdoc! { "groupBy": "$a", "buckets": 1, "granularity": "r5" })), 40257);
        let with_output = |o: RawDocumentBuf| code(parse_doc(rawdoc! { "groupBy": "$a", "buckets": 1, "output": o }));
        assert_eq!(with_output(rawdoc! { "n": 1 }), 40234);
        assert_eq!(with_output(rawdoc! { "n": { "a": 1 } }), 40234);
        assert_eq!(with_output(rawdoc! { "a.b": { "$sum": 1 } }), 40235);
        assert_eq!(with_output(rawdoc! { "$a": { "$sum": 1 } }), 40236);
        assert_eq!(with_output(rawdoc! { "n": { "$sum": 1, "$max": 1 } }), 40238);
        assert_eq!(with_output(rawdoc! { "n": { "$nope": 1 } }), 15952);
        let raw = RawBson::Int32(4);
        assert_eq!(code(parse_group_by(raw.as_raw_bson_ref(), &ExprContext::default())), 40239);
    }
}
