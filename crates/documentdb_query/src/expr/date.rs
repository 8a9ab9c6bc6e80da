//! Calendar arithmetic for the date expressions: proleptic Gregorian civil dates from
//! epoch milliseconds, ISO weeks, time zones given as UTC offsets, `$dateToString`
//! formatting and `$dateFromString` parsing, `$dateAdd`/`$dateDiff`/`$dateTrunc` units.
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

/// A time zone: UTC or a fixed offset from it (seconds east of UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeZone {
    pub offset_seconds: i64,
}

impl TimeZone {
    pub(crate) const UTC: TimeZone = TimeZone { offset_seconds: 0 };

    /// Parses "UTC", "GMT", "Z", "+hh", "+hhmm", "+hh:mm" (and the `-` forms). Olson
    /// identifiers are not available (no time zone database): error 40485.
    pub(crate) fn parse(id: &str) -> DocDbResult<TimeZone> {
        match id {
            "UTC" | "GMT" | "Z" | "Etc/UTC" | "Etc/GMT" | "UCT" | "Etc/UCT" | "Zulu" | "Etc/Zulu" | "Universal"
            | "Etc/Universal" | "Greenwich" | "Etc/Greenwich" | "GMT0" | "GMT+0" | "GMT-0" | "Etc/GMT0"
            | "Etc/GMT+0" | "Etc/GMT-0" => return Ok(TimeZone::UTC),
            _ => {}
        }
        if let Some(offset) = parse_utc_offset(id) {
            return Ok(TimeZone { offset_seconds: offset });
        }
        Err(loc(
            40485,
            format!(
                "unrecognized time zone identifier: \"{id}\" (only \"UTC\", \"GMT\", \"Z\" and UTC offsets \
                 of the form +hh, +hhmm or +hh:mm are supported; Olson time zone names are not)"
            ),
        ))
    }

    pub(crate) fn local_millis(&self, utc_millis: i64) -> i64 {
        utc_millis.saturating_add(self.offset_seconds * MS_PER_SECOND)
    }

    pub(crate) fn utc_millis(&self, local_millis: i64) -> i64 {
        local_millis.saturating_sub(self.offset_seconds * MS_PER_SECOND)
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
            'z' => {
                let sign = if tz.offset_seconds < 0 { '-' } else { '+' };
                let a = tz.offset_seconds.abs();
                out.push_str(&format!("{sign}{:02}{:02}", a / 3600, a % 3600 / 60));
            }
            'Z' => {
                let minutes = tz.offset_seconds / 60;
                out.push_str(&format!("{}{}", if minutes < 0 { '-' } else { '+' }, minutes.abs()));
            }
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
        Some(o) => TimeZone { offset_seconds: o },
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

/// `$dateAdd`: months/quarters/years move the calendar date in the time zone (clamping the
/// day to the end of the month); other units add their fixed length. `None` on overflow.
pub(crate) fn date_add(utc_millis: i64, unit: Unit, amount: i64, tz: TimeZone) -> Option<i64> {
    let months = match unit {
        Unit::Year => amount.checked_mul(12)?,
        Unit::Quarter => amount.checked_mul(3)?,
        Unit::Month => amount,
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
    Some(tz.utc_millis(new_local))
}

/// `$dateDiff`: the number of unit boundaries crossed from start to end in the time zone.
pub(crate) fn date_diff(start: i64, end: i64, unit: Unit, tz: TimeZone, start_of_week: i64) -> i64 {
    let a = parts(start, tz);
    let b = parts(end, tz);
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
        Unit::Hour => tz.local_millis(end).div_euclid(MS_PER_HOUR) - tz.local_millis(start).div_euclid(MS_PER_HOUR),
        Unit::Minute => {
            tz.local_millis(end).div_euclid(MS_PER_MINUTE) - tz.local_millis(start).div_euclid(MS_PER_MINUTE)
        }
        Unit::Second => {
            tz.local_millis(end).div_euclid(MS_PER_SECOND) - tz.local_millis(start).div_euclid(MS_PER_SECOND)
        }
        Unit::Millisecond => end.wrapping_sub(start),
    }
}

/// `$dateTrunc`: the start of the `bin_size`-unit bin containing the date, bins counted
/// from 2000-01-01T00:00:00 in the time zone (weeks from the `start_of_week` day on or
/// before it).
pub(crate) fn date_trunc(utc_millis: i64, unit: Unit, bin_size: i64, tz: TimeZone, start_of_week: i64) -> Option<i64> {
    let local = tz.local_millis(utc_millis);
    let ref_days = days_from_civil(2000, 1, 1);
    match unit {
        Unit::Year | Unit::Quarter | Unit::Month => {
            let p = parts(utc_millis, tz);
            let months_per = match unit {
                Unit::Year => 12,
                Unit::Quarter => 3,
                _ => 1,
            };
            let bin_months = bin_size.checked_mul(months_per)?;
            let since = (p.year - 2000) * 12 + (p.month - 1);
            let start = since.div_euclid(bin_months).checked_mul(bin_months)?;
            let y = 2000 + start.div_euclid(12);
            let m = start.rem_euclid(12) + 1;
            Some(tz.utc_millis(days_from_civil(y, m, 1).checked_mul(MS_PER_DAY)?))
        }
        Unit::Week => {
            // 2000-01-01 was a Saturday (ISO 6): back up to the week start on/before it.
            let back = (6 - start_of_week).rem_euclid(7);
            let reference = (ref_days - back).checked_mul(MS_PER_DAY)?;
            let bin = bin_size.checked_mul(7 * MS_PER_DAY)?;
            let k = (local - reference).div_euclid(bin);
            Some(tz.utc_millis(reference.checked_add(k.checked_mul(bin)?)?))
        }
        other => {
            let step = fixed_unit_millis(other)?;
            let reference = ref_days.checked_mul(MS_PER_DAY)?;
            let bin = bin_size.checked_mul(step)?;
            let k = (local - reference).div_euclid(bin);
            Some(tz.utc_millis(reference.checked_add(k.checked_mul(bin)?)?))
        }
    }
}
