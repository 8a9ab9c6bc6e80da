//! Calendar arithmetic for the date expressions: proleptic Gregorian civil dates from
//! epoch milliseconds, ISO weeks, time zones (UTC offsets and IANA names), `$dateToString`
//! formatting and `$dateFromString` parsing, `$dateAdd`/`$dateDiff`/`$dateTrunc` units.
use chrono::{Offset as _, TimeZone as _};
use chrono_tz::{OffsetComponents as _, Tz, TzOffset};
use documentdb_errors::{DocDbError, DocDbResult, ErrorCode};

use super::loc;

const MS_PER_SECOND: i64 = 1000;
const MS_PER_MINUTE: i64 = 60 * MS_PER_SECOND;
const MS_PER_HOUR: i64 = 60 * MS_PER_MINUTE;
const MS_PER_DAY: i64 = 24 * MS_PER_HOUR;

pub(crate) const ISO_FORMAT: &str = "%Y-%m-%dT%H:%M:%S.%LZ";

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// (year, month 1-12, day 1-31) of a day count since 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

pub(crate) fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

pub(crate) fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ => {
            if is_leap(y) {
                29
            } else {
                28
            }
        }
    }
}

/// A time zone: UTC or a fixed offset from it, or an IANA (Olson) zone whose offset depends on
/// the instant (`TimeZoneDatabase::getTimeZone`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TimeZone {
    /// Seconds east of UTC.
    Fixed(i64),
    Named(Tz),
}

impl TimeZone {
    pub(crate) const UTC: TimeZone = TimeZone::Fixed(0);

    /// Parses "UTC" and its aliases, "+hh", "+hhmm", "+hh:mm" (and the `-` forms), then an
    /// Olson identifier, case-sensitively as MongoDB looks it up in its tz database; anything
    /// else is error 40485.
    pub(crate) fn parse(id: &str) -> DocDbResult<TimeZone> {
        match id {
            "UTC" | "GMT" | "Z" | "Etc/UTC" | "Etc/GMT" | "UCT" | "Etc/UCT" | "Zulu" | "Etc/Zulu" | "Universal"
            | "Etc/Universal" | "Greenwich" | "Etc/Greenwich" | "GMT0" | "GMT+0" | "GMT-0" | "Etc/GMT0"
            | "Etc/GMT+0" | "Etc/GMT-0" => return Ok(TimeZone::UTC),
            _ => {}
        }
        if let Some(offset) = parse_utc_offset(id) {
            return Ok(TimeZone::Fixed(offset));
        }
        match id.parse::<Tz>() {
            Ok(tz) => Ok(TimeZone::Named(tz)),
            Err(_) => Err(loc(40485, format!("unrecognized time zone identifier: \"{id}\""))),
        }
    }

    /// The offset from UTC (seconds) in effect at an instant (`TimeZone::utcOffset`).
    pub(crate) fn offset_seconds_at(&self, utc_millis: i64) -> i64 {
        match self {
            TimeZone::Fixed(offset) => *offset,
            TimeZone::Named(tz) => total_offset(&zone_offset(*tz, utc_millis.div_euclid(MS_PER_SECOND))),
        }
    }

    /// Whether daylight saving time is in effect at an instant (timelib's `dst` flag).
    pub(crate) fn is_dst_at(&self, utc_millis: i64) -> bool {
        match self {
            TimeZone::Fixed(_) => false,
            TimeZone::Named(tz) => is_dst(&zone_offset(*tz, utc_millis.div_euclid(MS_PER_SECOND))),
        }
    }

    pub(crate) fn local_millis(&self, utc_millis: i64) -> i64 {
        utc_millis.saturating_add(self.offset_seconds_at(utc_millis).saturating_mul(MS_PER_SECOND))
    }

    /// The instant of a local wall time, as MongoDB builds dates from parts or strings: it
    /// hands timelib a time whose DST flag is the zone's at the epoch (`adjustTimeZone` on a
    /// fresh `timelib_time`), so see [`TimeZone::utc_millis_hinted`] with that flag.
    pub(crate) fn utc_millis(&self, local_millis: i64) -> i64 {
        self.utc_millis_hinted(local_millis, self.is_dst_at(0))
    }

    /// The instant of a local wall time, resolved as timelib's `do_adjust_timezone` does for
    /// times in a DST gap (moved forward by the gap's length) or overlap (the occurrence whose
    /// DST flag is `dst_hint`; see [`timelib_local_offset`]).
    pub(crate) fn utc_millis_hinted(&self, local_millis: i64, dst_hint: bool) -> i64 {
        let offset = match self {
            TimeZone::Fixed(offset) => *offset,
            TimeZone::Named(tz) => timelib_local_offset(*tz, local_millis.div_euclid(MS_PER_SECOND), dst_hint),
        };
        local_millis.saturating_sub(offset.saturating_mul(MS_PER_SECOND))
    }
}

/// Bounds of the instants chrono can represent (about ±262,000 years); further instants take
/// the offset at the bound, which is the zone's first or last rule anyway.
const MIN_ZONE_SECONDS: i64 = -8_200_000_000_000;
const MAX_ZONE_SECONDS: i64 = 8_200_000_000_000;

/// The tz database entry in effect at an instant (seconds since the epoch).
fn zone_offset(tz: Tz, utc_seconds: i64) -> TzOffset {
    let secs = utc_seconds.clamp(MIN_ZONE_SECONDS, MAX_ZONE_SECONDS);
    let instant = chrono::DateTime::from_timestamp(secs, 0).map(|d| d.naive_utc()).unwrap_or_default();
    tz.offset_from_utc_datetime(&instant)
}

fn total_offset(offset: &TzOffset) -> i64 {
    i64::from(offset.fix().local_minus_utc())
}

fn is_dst(offset: &TzOffset) -> bool {
    !offset.dst_offset().is_zero()
}

/// Whether instant `x` lies before the start of the tz period (the span between two
/// transitions) that contains instant `probe`: timelib's `x < transition_time` test. The
/// instants compared are hours apart, so a change of entry between them is one transition.
fn before_period_start(tz: Tz, x: i64, probe: i64) -> bool {
    x < probe && zone_offset(tz, x) != zone_offset(tz, probe)
}

/// The offset (seconds) to subtract from a local time `local` (seconds) in `tz` to get its
/// instant: a port of timelib's `do_adjust_timezone` (timelib 2022, which MongoDB vendors),
/// so ambiguous and nonexistent wall times resolve as in MongoDB:
/// - a time in a gap (spring forward) is read with the offset before the gap, i.e. it moves
///   forward by the gap's length (02:30 on a New York spring-forward day is 03:30 EDT);
/// - a time in an overlap (fall back) takes the occurrence whose DST flag is `dst_hint`
///   (the flag of the `timelib_time` being converted): standard time when it is false,
///   daylight time when it is true.
fn timelib_local_offset(tz: Tz, local: i64, dst_hint: bool) -> i64 {
    // timelib first reads the local time as if it were UTC ("current"), then looks again at
    // that reading shifted by the offset found ("after").
    let current = zone_offset(tz, local);
    let current_offset = total_offset(&current);
    let current_is_dst = is_dst(&current);
    let after_probe = local.saturating_sub(current_offset);
    let after_offset = total_offset(&zone_offset(tz, after_probe));
    let mut actual_offset = after_offset;
    let mut actual_probe = after_probe;
    if current_offset == after_offset {
        // Both readings agree, but a DST change may still lie between them and the real
        // instant: the DST hint decides which side to look at.
        if current_offset >= 0 && dst_hint && !current_is_dst {
            let probe = after_probe.saturating_sub(7200);
            let earlier = total_offset(&zone_offset(tz, probe));
            if earlier != after_offset && before_period_start(tz, local.saturating_sub(earlier), after_probe) {
                actual_offset = earlier;
                actual_probe = probe;
            }
        } else if current_offset <= 0 && current_is_dst && !dst_hint {
            let probe = after_probe.saturating_add(7200);
            let later = total_offset(&zone_offset(tz, probe));
            if later != after_offset && !before_period_start(tz, local.saturating_sub(later), probe) {
                actual_offset = later;
                actual_probe = probe;
            }
        }
    }
    // In a gap the candidate instant falls before the transition that introduced the offset
    // used to compute it: keep the first reading's offset, which moves the time forward.
    let in_transition = !before_period_start(tz, after_probe, actual_probe)
        && before_period_start(tz, local.saturating_sub(actual_offset), actual_probe);
    if current_offset != actual_offset && !in_transition {
        actual_offset
    } else {
        current_offset
    }
}

fn parse_utc_offset(s: &str) -> Option<i64> {
    let bytes = s.as_bytes();
    let sign = match bytes.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let rest = &s[1..];
    let digits = |t: &str| -> Option<i64> {
        if t.len() == 2 && t.bytes().all(|b| b.is_ascii_digit()) {
            t.parse().ok()
        } else {
            None
        }
    };
    let (h, m) = match rest.len() {
        2 => (digits(rest)?, 0),
        4 => (digits(&rest[..2])?, digits(&rest[2..])?),
        5 if rest.as_bytes()[2] == b':' => (digits(&rest[..2])?, digits(&rest[3..])?),
        _ => return None,
    };
    if m >= 60 {
        return None;
    }
    Some(sign * (h * 3600 + m * 60))
}

/// The calendar fields of an instant in a time zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Parts {
    pub year: i64,
    pub month: i64,
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
    pub millisecond: i64,
    /// 1 (Sunday) .. 7 (Saturday), as `$dayOfWeek`.
    pub day_of_week: i64,
    /// 1 .. 366.
    pub day_of_year: i64,
    /// Days since the epoch (local).
    pub days: i64,
}

pub(crate) fn parts(utc_millis: i64, tz: TimeZone) -> Parts {
    let local = tz.local_millis(utc_millis);
    let days = local.div_euclid(MS_PER_DAY);
    let ms_of_day = local.rem_euclid(MS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let day_of_year = days - days_from_civil(year, 1, 1) + 1;
    // 1970-01-01 was a Thursday (5 in 1=Sunday numbering).
    let day_of_week = (days + 4).rem_euclid(7) + 1;
    Parts {
        year,
        month,
        day,
        hour: ms_of_day / MS_PER_HOUR,
        minute: ms_of_day % MS_PER_HOUR / MS_PER_MINUTE,
        second: ms_of_day % MS_PER_MINUTE / MS_PER_SECOND,
        millisecond: ms_of_day % MS_PER_SECOND,
        day_of_week,
        day_of_year,
        days,
    }
}

/// ISO 8601 day of week: 1 (Monday) .. 7 (Sunday).
pub(crate) fn iso_day_of_week(p: &Parts) -> i64 {
    (p.days + 3).rem_euclid(7) + 1
}

/// (ISO week-numbering year, ISO week 1..53).
pub(crate) fn iso_week(p: &Parts) -> (i64, i64) {
    let wd = iso_day_of_week(p);
    // The Thursday of this ISO week decides the year.
    let thursday = p.days - wd + 4;
    let (ty, _, _) = civil_from_days(thursday);
    let week = (thursday - days_from_civil(ty, 1, 1)) / 7 + 1;
    (ty, week)
}

/// `$week`: 0..53, weeks start on Sunday, days before the first Sunday are week 0.
pub(crate) fn week_of_year(p: &Parts) -> i64 {
    let yday0 = p.day_of_year - 1;
    let wday0 = p.day_of_week - 1;
    (yday0 + 7 - wday0) / 7
}

/// Days since the epoch of Monday of ISO week 1 of `iso_year`.
fn iso_year_start(iso_year: i64) -> i64 {
    let jan4 = days_from_civil(iso_year, 1, 4);
    let wd = (jan4 + 3).rem_euclid(7) + 1; // 1 = Monday
    jan4 - (wd - 1)
}

/// The time of day of a date built from parts; out-of-range values carry over into the
/// next unit (minute 61 is a minute past the next hour).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TimeOfDay {
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
    pub millisecond: i64,
}

impl TimeOfDay {
    /// Local milliseconds of this time on a day counted from 1970-01-01 (saturating).
    fn local_millis(self, days: i64) -> i64 {
        days.saturating_mul(MS_PER_DAY)
            .saturating_add(self.hour.saturating_mul(MS_PER_HOUR))
            .saturating_add(self.minute.saturating_mul(MS_PER_MINUTE))
            .saturating_add(self.second.saturating_mul(MS_PER_SECOND))
            .saturating_add(self.millisecond)
    }
}

/// Builds an instant from calendar parts in a time zone; out-of-range month/day/hour/...
/// values carry over (month 14 is February of the next year), as `$dateFromParts` does.
pub(crate) fn from_parts(year: i64, month: i64, day: i64, time: TimeOfDay, tz: TimeZone) -> i64 {
    let month0 = month - 1;
    let y = year + month0.div_euclid(12);
    let m = month0.rem_euclid(12) + 1;
    let days = days_from_civil(y, m, 1) + (day - 1);
    tz.utc_millis(time.local_millis(days))
}

/// Like [`from_parts`] for an ISO week date.
pub(crate) fn from_iso_parts(iso_year: i64, iso_week: i64, iso_day: i64, time: TimeOfDay, tz: TimeZone) -> i64 {
    let days = iso_year_start(iso_year) + (iso_week - 1) * 7 + (iso_day - 1);
    tz.utc_millis(time.local_millis(days))
}

// ------------------------------------------------------------------------------------
// $dateToString
// ------------------------------------------------------------------------------------

const MONTH_ABBR: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const MONTH_FULL: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Checks a `$dateToString` format (errors 18535 / 18536).
pub(crate) fn validate_format(format: &str, allowed: &str) -> DocDbResult<()> {
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        match chars.next() {
            None => return Err(loc(18535, "Unmatched '%' at end of format string")),
            Some(f) if allowed.contains(f) => {}
            Some(f) => return Err(loc(18536, format!("Invalid format character '%{f}' in format string"))),
        }
    }
    Ok(())
}

pub(crate) const TO_STRING_SPECIFIERS: &str = "bBdGHjLmMSuUVwYzZ%";
pub(crate) const FROM_STRING_SPECIFIERS: &str = "bBdGHjLmMSuVwYzZ%";

fn year_in_range(y: i64) -> DocDbResult<()> {
    if (0..=9999).contains(&y) {
        Ok(())
    } else {
        Err(loc(
            18537,
            format!("Could not convert date to string: date component was outside the supported range of 0-9999: {y}"),
        ))
    }
}

/// Formats an instant (`$dateToString`); the format must have been validated.
pub(crate) fn format_date(format: &str, utc_millis: i64, tz: TimeZone) -> DocDbResult<String> {
    let p = parts(utc_millis, tz);
    let mut out = String::with_capacity(format.len() + 16);
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(f) = chars.next() else {
            return Err(loc(18535, "Unmatched '%' at end of format string"));
        };
        match f {
            'd' => out.push_str(&format!("{:02}", p.day)),
            'G' => {
                let (iy, _) = iso_week(&p);
                year_in_range(iy)?;
                out.push_str(&format!("{iy:04}"));
            }
            'H' => out.push_str(&format!("{:02}", p.hour)),
            'j' => out.push_str(&format!("{:03}", p.day_of_year)),
            'L' => out.push_str(&format!("{:03}", p.millisecond)),
            'm' => out.push_str(&format!("{:02}", p.month)),
            'M' => out.push_str(&format!("{:02}", p.minute)),
            'S' => out.push_str(&format!("{:02}", p.second)),
            'w' => out.push_str(&p.day_of_week.to_string()),
            'u' => out.push_str(&iso_day_of_week(&p).to_string()),
            'U' => out.push_str(&format!("{:02}", week_of_year(&p))),
            'V' => out.push_str(&format!("{:02}", iso_week(&p).1)),
            'Y' => {
                year_in_range(p.year)?;
                out.push_str(&format!("{:04}", p.year));
            }
            // Both show the offset in effect at this instant (`utcOffset(date)`): %z as ±hhmm,
            // %Z as a plain signed number of minutes ("-300", "270": no '+').
            'z' => {
                let offset = tz.offset_seconds_at(utc_millis);
                let sign = if offset < 0 { '-' } else { '+' };
                let a = offset.abs();
                out.push_str(&format!("{sign}{:02}{:02}", a / 3600, a % 3600 / 60));
            }
            'Z' => out.push_str(&(tz.offset_seconds_at(utc_millis) / 60).to_string()),
            'b' => out.push_str(MONTH_ABBR[usize::try_from(p.month - 1).unwrap_or(0).min(11)]),
            'B' => out.push_str(MONTH_FULL[usize::try_from(p.month - 1).unwrap_or(0).min(11)]),
            '%' => out.push('%'),
            other => return Err(loc(18536, format!("Invalid format character '%{other}' in format string"))),
        }
    }
    Ok(out)
}

/// ISO-8601 text of an instant in UTC (`2018-03-27T16:58:51.538Z`).
pub(crate) fn format_iso(utc_millis: i64) -> DocDbResult<String> {
    format_date(ISO_FORMAT, utc_millis, TimeZone::UTC)
}

// ------------------------------------------------------------------------------------
// $dateFromString
// ------------------------------------------------------------------------------------

fn conversion_failure(input: &str, why: &str) -> DocDbError {
    DocDbError::new(ErrorCode::ConversionFailure, format!("Error parsing date string '{input}'; {why}"))
}

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn eat(&mut self, c: u8) -> bool {
        if self.peek() == Some(c) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn digits(&mut self, min: usize, max: usize) -> Option<i64> {
        let start = self.i;
        while self.i < self.s.len() && self.i - start < max && self.s[self.i].is_ascii_digit() {
            self.i += 1;
        }
        if self.i - start < min {
            self.i = start;
            return None;
        }
        std::str::from_utf8(&self.s[start..self.i]).ok()?.parse().ok()
    }
    fn done(&self) -> bool {
        self.i >= self.s.len()
    }
}

#[derive(Default)]
struct Parsed {
    year: Option<i64>,
    month: Option<i64>,
    day: Option<i64>,
    day_of_year: Option<i64>,
    hour: Option<i64>,
    minute: Option<i64>,
    second: Option<i64>,
    millis: Option<i64>,
    iso_year: Option<i64>,
    iso_week: Option<i64>,
    iso_day: Option<i64>,
    offset: Option<i64>,
}

fn parse_offset(c: &mut Cursor<'_>) -> Option<i64> {
    if c.eat(b'Z') {
        return Some(0);
    }
    let sign = if c.eat(b'+') {
        1
    } else if c.eat(b'-') {
        -1
    } else {
        return None;
    };
    let h = c.digits(2, 2)?;
    let colon = c.eat(b':');
    let m = match c.digits(2, 2) {
        Some(m) => m,
        None if colon => return None,
        None => 0,
    };
    Some(sign * (h * 3600 + m * 60))
}

fn month_name(c: &mut Cursor<'_>) -> Option<i64> {
    let rest = &c.s[c.i..];
    for (i, full) in MONTH_FULL.iter().enumerate() {
        if rest.len() >= full.len() && rest[..full.len()].eq_ignore_ascii_case(full.as_bytes()) {
            c.i += full.len();
            return Some(i as i64 + 1);
        }
    }
    for (i, abbr) in MONTH_ABBR.iter().enumerate() {
        if rest.len() >= 3 && rest[..3].eq_ignore_ascii_case(abbr.as_bytes()) {
            c.i += 3;
            return Some(i as i64 + 1);
        }
    }
    None
}

fn finish(p: &Parsed, input: &str, tz: TimeZone) -> DocDbResult<i64> {
    let tz = match p.offset {
        Some(o) => TimeZone::Fixed(o),
        None => tz,
    };
    let time = TimeOfDay {
        hour: p.hour.unwrap_or(0),
        minute: p.minute.unwrap_or(0),
        second: p.second.unwrap_or(0),
        millisecond: p.millis.unwrap_or(0),
    };
    if time.hour > 24 || time.minute > 59 || time.second > 60 {
        return Err(conversion_failure(input, "The parsed time was invalid"));
    }
    if p.iso_year.is_some() || p.iso_week.is_some() || p.iso_day.is_some() {
        let y = p.iso_year.ok_or_else(|| conversion_failure(input, "an ISO week date needs an ISO year"))?;
        return Ok(from_iso_parts(y, p.iso_week.unwrap_or(1), p.iso_day.unwrap_or(1), time, tz));
    }
    let year = p.year.ok_or_else(|| conversion_failure(input, "no year was found"))?;
    if let Some(doy) = p.day_of_year {
        let days = days_from_civil(year, 1, 1) + doy - 1;
        return Ok(tz.utc_millis(time.local_millis(days)));
    }
    let month = p.month.unwrap_or(1);
    let day = p.day.unwrap_or(1);
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(conversion_failure(input, "The parsed date was invalid"));
    }
    Ok(from_parts(year, month, day, time, tz))
}

fn fraction_millis(c: &mut Cursor<'_>) -> Option<i64> {
    let start = c.i;
    while c.peek().is_some_and(|b| b.is_ascii_digit()) {
        c.i += 1;
    }
    let digits = std::str::from_utf8(&c.s[start..c.i]).ok()?;
    if digits.is_empty() {
        return None;
    }
    let mut ms = 0i64;
    for (i, ch) in digits.bytes().take(3).enumerate() {
        ms += i64::from(ch - b'0') * 10i64.pow(2 - i as u32);
    }
    Some(ms)
}

/// Parses a date string without a format: ISO-8601 style `YYYY-MM-DD[(T| )HH:MM[:SS[.f]]]
/// [Z|±hh[:mm]]`, also with `/` date separators, and `YYYY-DDD` ordinal dates.
pub(crate) fn parse_default(input: &str, tz: TimeZone, tz_given: bool) -> DocDbResult<i64> {
    let mut c = Cursor { s: input.trim().as_bytes(), i: 0 };
    let mut p = Parsed::default();
    let year = c.digits(4, 4).ok_or_else(|| conversion_failure(input, "no year was found"))?;
    p.year = Some(year);
    let sep = if c.eat(b'-') {
        b'-'
    } else if c.eat(b'/') {
        b'/'
    } else {
        return Err(conversion_failure(input, "expected a date separator"));
    };
    let start = c.i;
    let first = c.digits(1, 3).ok_or_else(|| conversion_failure(input, "expected a month"))?;
    if sep == b'-' && c.i - start == 3 && c.peek() != Some(b'-') {
        p.day_of_year = Some(first);
    } else {
        p.month = Some(first);
        if !c.eat(sep) {
            return Err(conversion_failure(input, "expected a day"));
        }
        p.day = Some(c.digits(1, 2).ok_or_else(|| conversion_failure(input, "expected a day"))?);
    }
    if !c.done() {
        if !(c.eat(b'T') || c.eat(b' ') || c.eat(b't')) {
            if let Some(o) = parse_offset(&mut c) {
                p.offset = Some(o);
            } else {
                return Err(conversion_failure(input, "unexpected trailing characters"));
            }
        } else {
            p.hour = Some(c.digits(2, 2).ok_or_else(|| conversion_failure(input, "expected an hour"))?);
            if !c.eat(b':') {
                return Err(conversion_failure(input, "expected minutes"));
            }
            p.minute = Some(c.digits(2, 2).ok_or_else(|| conversion_failure(input, "expected minutes"))?);
            if c.eat(b':') {
                p.second = Some(c.digits(2, 2).ok_or_else(|| conversion_failure(input, "expected seconds"))?);
                if c.eat(b'.') || c.eat(b',') {
                    p.millis =
                        Some(fraction_millis(&mut c).ok_or_else(|| conversion_failure(input, "expected a fraction"))?);
                }
            }
            let _ = c.eat(b' ');
            if !c.done() {
                p.offset = Some(
                    parse_offset(&mut c).ok_or_else(|| conversion_failure(input, "unexpected trailing characters"))?,
                );
            }
        }
    }
    if !c.done() {
        return Err(conversion_failure(input, "unexpected trailing characters"));
    }
    if p.offset.is_some() && tz_given {
        return Err(DocDbError::new(
            ErrorCode::ConversionFailure,
            format!("you cannot pass in a date/time string with time zone information ('{input}') together with a timezone argument"),
        ));
    }
    finish(&p, input, tz)
}

/// Parses a date string with a `$dateFromString` format.
pub(crate) fn parse_with_format(input: &str, format: &str, tz: TimeZone) -> DocDbResult<i64> {
    let mut c = Cursor { s: input.as_bytes(), i: 0 };
    let mut p = Parsed::default();
    let mut f = format.chars();
    let fail = |why: &str| conversion_failure(input, why);
    while let Some(ch) = f.next() {
        if ch != '%' {
            let mut buf = [0u8; 4];
            for b in ch.encode_utf8(&mut buf).bytes() {
                if !c.eat(b) {
                    return Err(fail("Trailing data"));
                }
            }
            continue;
        }
        let spec = f.next().ok_or_else(|| loc(18535, "Unmatched '%' at end of format string"))?;
        match spec {
            'Y' => p.year = Some(c.digits(4, 4).ok_or_else(|| fail("No year found"))?),
            'G' => p.iso_year = Some(c.digits(4, 4).ok_or_else(|| fail("No ISO year found"))?),
            'm' => p.month = Some(c.digits(1, 2).ok_or_else(|| fail("No month found"))?),
            'd' => p.day = Some(c.digits(1, 2).ok_or_else(|| fail("No day found"))?),
            'j' => p.day_of_year = Some(c.digits(1, 3).ok_or_else(|| fail("No day of year found"))?),
            'H' => p.hour = Some(c.digits(1, 2).ok_or_else(|| fail("No hour found"))?),
            'M' => p.minute = Some(c.digits(1, 2).ok_or_else(|| fail("No minute found"))?),
            'S' => p.second = Some(c.digits(1, 2).ok_or_else(|| fail("No second found"))?),
            'L' => p.millis = Some(fraction_millis(&mut c).ok_or_else(|| fail("No millisecond found"))?),
            'V' => p.iso_week = Some(c.digits(1, 2).ok_or_else(|| fail("No ISO week found"))?),
            'u' => p.iso_day = Some(c.digits(1, 1).ok_or_else(|| fail("No ISO day of week found"))?),
            'w' => {
                c.digits(1, 1).ok_or_else(|| fail("No day of week found"))?;
            }
            'b' | 'B' => p.month = Some(month_name(&mut c).ok_or_else(|| fail("No month name found"))?),
            'z' | 'Z' => {
                if spec == 'Z' {
                    // minutes offset, e.g. +285
                    let sign = if c.eat(b'+') {
                        1
                    } else if c.eat(b'-') {
                        -1
                    } else {
                        return Err(fail("No time zone offset found"));
                    };
                    let m = c.digits(1, 4).ok_or_else(|| fail("No time zone offset found"))?;
                    p.offset = Some(sign * m * 60);
                } else {
                    p.offset = Some(parse_offset(&mut c).ok_or_else(|| fail("No time zone offset found"))?);
                }
            }
            '%' => {
                if !c.eat(b'%') {
                    return Err(fail("Expected '%'"));
                }
            }
            other => return Err(loc(18536, format!("Invalid format character '%{other}' in format string"))),
        }
    }
    if !c.done() {
        return Err(fail("Trailing data"));
    }
    finish(&p, input, tz)
}

// ------------------------------------------------------------------------------------
// $dateAdd / $dateDiff / $dateTrunc
// ------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Year,
    Quarter,
    Month,
    Week,
    Day,
    Hour,
    Minute,
    Second,
    Millisecond,
}

pub(crate) fn parse_unit(s: &str) -> Option<Unit> {
    Some(match s {
        "year" => Unit::Year,
        "quarter" => Unit::Quarter,
        "month" => Unit::Month,
        "week" => Unit::Week,
        "day" => Unit::Day,
        "hour" => Unit::Hour,
        "minute" => Unit::Minute,
        "second" => Unit::Second,
        "millisecond" => Unit::Millisecond,
        _ => return None,
    })
}

/// Day of week 1 (Monday) .. 7 (Sunday) from "monday"/"mon"/... (case-insensitive).
pub(crate) fn parse_day_of_week(s: &str) -> Option<i64> {
    let l = s.to_ascii_lowercase();
    Some(match l.as_str() {
        "monday" | "mon" => 1,
        "tuesday" | "tue" => 2,
        "wednesday" | "wed" => 3,
        "thursday" | "thu" => 4,
        "friday" | "fri" => 5,
        "saturday" | "sat" => 6,
        "sunday" | "sun" => 7,
        _ => return None,
    })
}

fn fixed_unit_millis(unit: Unit) -> Option<i64> {
    Some(match unit {
        Unit::Week => 7 * MS_PER_DAY,
        Unit::Day => MS_PER_DAY,
        Unit::Hour => MS_PER_HOUR,
        Unit::Minute => MS_PER_MINUTE,
        Unit::Second => MS_PER_SECOND,
        Unit::Millisecond => 1,
        _ => return None,
    })
}

/// `$dateAdd` (`dateAdd`): units of a day or more move the wall clock in the time zone, so
/// the local time of day survives DST changes (months/quarters/years clamp the day to the end
/// of the month); hours and smaller add their fixed length. `None` on overflow.
pub(crate) fn date_add(utc_millis: i64, unit: Unit, amount: i64, tz: TimeZone) -> Option<i64> {
    let months = match unit {
        Unit::Year => amount.checked_mul(12)?,
        Unit::Quarter => amount.checked_mul(3)?,
        Unit::Month => amount,
        Unit::Week | Unit::Day => {
            let days = if unit == Unit::Week { amount.checked_mul(7)? } else { amount };
            let local = tz.local_millis(utc_millis).checked_add(days.checked_mul(MS_PER_DAY)?)?;
            return Some(local_to_utc_from(utc_millis, local, tz));
        }
        other => {
            let step = fixed_unit_millis(other)?;
            return utc_millis.checked_add(amount.checked_mul(step)?);
        }
    };
    let local = tz.local_millis(utc_millis);
    let days = local.div_euclid(MS_PER_DAY);
    let ms_of_day = local.rem_euclid(MS_PER_DAY);
    let (y, m, d) = civil_from_days(days);
    let total = (y.checked_mul(12)?).checked_add(m - 1)?.checked_add(months)?;
    let ny = total.div_euclid(12);
    let nm = total.rem_euclid(12) + 1;
    if !(-300_000_000..=300_000_000).contains(&ny) {
        return None;
    }
    let nd = d.min(days_in_month(ny, nm));
    let new_local = days_from_civil(ny, nm, nd).checked_mul(MS_PER_DAY)?.checked_add(ms_of_day)?;
    Some(local_to_utc_from(utc_millis, new_local, tz))
}

/// The instant of a wall time reached by moving the clock from `start`: MongoDB's
/// `timelib_add` converts the moved local time back with the DST flag of the start date, which
/// picks the occurrence of an ambiguous result time.
fn local_to_utc_from(start: i64, local: i64, tz: TimeZone) -> i64 {
    tz.utc_millis_hinted(local, tz.is_dst_at(start))
}

/// `$dateDiff`: the number of unit boundaries crossed from start to end in the time zone.
/// Hours, minutes and seconds are counted on the local clocks, then corrected by the change of
/// UTC offset between the two dates (`utcOffsetCorrectionForHours`...), so a DST change does
/// not add or remove an hour.
pub(crate) fn date_diff(start: i64, end: i64, unit: Unit, tz: TimeZone, start_of_week: i64) -> i64 {
    let a = parts(start, tz);
    let b = parts(end, tz);
    let offset_change = tz.offset_seconds_at(start) - tz.offset_seconds_at(end);
    let local_units = |ms: i64| tz.local_millis(end).div_euclid(ms) - tz.local_millis(start).div_euclid(ms);
    match unit {
        Unit::Year => b.year - a.year,
        Unit::Quarter => (b.year * 4 + (b.month - 1) / 3) - (a.year * 4 + (a.month - 1) / 3),
        Unit::Month => (b.year * 12 + b.month) - (a.year * 12 + a.month),
        Unit::Week => {
            // Shift so that weeks start on `start_of_week` (1 = Monday .. 7 = Sunday);
            // 1970-01-01 was a Thursday (ISO day 4).
            let shift = (4 - start_of_week).rem_euclid(7);
            (b.days + shift).div_euclid(7) - (a.days + shift).div_euclid(7)
        }
        Unit::Day => b.days - a.days,
        // Division truncating toward zero, as MongoDB's C++ does.
        Unit::Hour => local_units(MS_PER_HOUR) + offset_change / 3600,
        Unit::Minute => local_units(MS_PER_MINUTE) + offset_change / 60,
        Unit::Second => local_units(MS_PER_SECOND) + offset_change,
        Unit::Millisecond => end.wrapping_sub(start),
    }
}

/// `$dateTrunc` (`truncateDate`). The reference point is 2000-01-01T00:00 in the time zone
/// (its UTC offset at 2000-01-01T00:00Z). Hours and smaller are binned on the UTC time line
/// from there; days and larger count whole local calendar units from it (weeks from the first
/// `start_of_week` day on or after it) and add the bin's start back with [`date_add`], so a bin
/// starts at local midnight whatever the DST offset.
pub(crate) fn date_trunc(utc_millis: i64, unit: Unit, bin_size: i64, tz: TimeZone, start_of_week: i64) -> Option<i64> {
    const REFERENCE_UTC: i64 = 946_684_800_000; // 2000-01-01T00:00:00Z
    let reference = REFERENCE_UTC.checked_sub(tz.offset_seconds_at(REFERENCE_UTC).checked_mul(MS_PER_SECOND)?)?;
    let ref_days = days_from_civil(2000, 1, 1);
    let p = parts(utc_millis, tz);
    let (reference, distance) = match unit {
        Unit::Year => (reference, p.year - 2000),
        Unit::Quarter => (reference, (p.year - 2000) * 4 + (p.month - 1) / 3),
        Unit::Month => (reference, (p.year - 2000) * 12 + (p.month - 1)),
        Unit::Week => {
            // 2000-01-01 was a Saturday (ISO 6): move forward to the next week start.
            let ahead = (7 - (6 - start_of_week).rem_euclid(7)) % 7;
            let week_start = ref_days + ahead;
            // A multiple of 7: from the reference week start to this date's week start.
            let dow = (p.days + 3 - (start_of_week - 1)).rem_euclid(7);
            (reference.checked_add(ahead * MS_PER_DAY)?, (p.days - week_start - dow) / 7)
        }
        Unit::Day => (reference, p.days - ref_days),
        other => {
            let bin = bin_size.checked_mul(fixed_unit_millis(other)?)?;
            let shifted = utc_millis.checked_sub(reference)?;
            return utc_millis.checked_sub(shifted.rem_euclid(bin));
        }
    };
    let bin_start = distance.checked_sub(distance.rem_euclid(bin_size))?;
    date_add(reference, unit, bin_start, tz)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(id: &str) -> TimeZone {
        TimeZone::parse(id).expect("known zone")
    }

    /// timelib's overlap rule picks the occurrence whose DST flag matches the hint, east of UTC
    /// (the "look back" branch) as well as west of it (the "look ahead" branch).
    #[test]
    fn overlap_follows_the_dst_hint_on_both_sides_of_utc() {
        // 2021-10-31 02:30 in Berlin: 00:30Z (CEST) or 01:30Z (CET).
        let berlin = named("Europe/Berlin");
        let local = days_from_civil(2021, 10, 31) * MS_PER_DAY + 2 * MS_PER_HOUR + 30 * MS_PER_MINUTE;
        assert_eq!(berlin.utc_millis_hinted(local, true), 1_635_640_200_000);
        assert_eq!(berlin.utc_millis_hinted(local, false), 1_635_643_800_000);
        // 2021-04-04 02:30 in Sydney: 2021-04-03T15:30Z (AEDT) or 16:30Z (AEST).
        let sydney = named("Australia/Sydney");
        let local = days_from_civil(2021, 4, 4) * MS_PER_DAY + 2 * MS_PER_HOUR + 30 * MS_PER_MINUTE;
        assert_eq!(sydney.utc_millis_hinted(local, true), 1_617_463_800_000);
        assert_eq!(sydney.utc_millis_hinted(local, false), 1_617_467_400_000);
        // 2021-11-07 01:30 in New York: 05:30Z (EDT) or 06:30Z (EST).
        let ny = named("America/New_York");
        let local = days_from_civil(2021, 11, 7) * MS_PER_DAY + MS_PER_HOUR + 30 * MS_PER_MINUTE;
        assert_eq!(ny.utc_millis_hinted(local, true), 1_636_263_000_000);
        assert_eq!(ny.utc_millis_hinted(local, false), 1_636_266_600_000);
    }

    /// A gap time moves forward whatever the hint; times outside transitions round-trip.
    #[test]
    fn gap_moves_forward_and_ordinary_times_round_trip() {
        let ny = named("America/New_York");
        let local = days_from_civil(2021, 3, 14) * MS_PER_DAY + 2 * MS_PER_HOUR + 30 * MS_PER_MINUTE;
        for hint in [false, true] {
            assert_eq!(ny.utc_millis_hinted(local, hint), 1_615_707_000_000);
        }
        for tz in ["America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Sydney", "Pacific/Auckland"] {
            let tz = named(tz);
            for utc in [0, 1_615_705_200_000, 1_625_155_200_000, -2_000_000_000_000, 4_000_000_000_000] {
                assert_eq!(tz.utc_millis(tz.local_millis(utc)), utc, "{tz:?} {utc}");
            }
        }
        assert_eq!(TimeZone::parse("+05:30").map(|tz| tz.offset_seconds_at(0)).ok(), Some(19_800));
    }
}
