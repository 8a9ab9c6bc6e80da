//! ISO-8601 dates for relaxed Extended JSON: parsing `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM|±HHMM)`
//! and printing `YYYY-MM-DDTHH:MM:SS[.mmm]Z`, in the proleptic Gregorian calendar, UTC.

const MS_PER_DAY: i64 = 86_400_000;

/// The last millisecond printed in ISO form by relaxed Extended JSON
/// (9999-12-31T23:59:59.999Z); from 0 (1970-01-01) up to this inclusive.
pub(super) const MAX_RELAXED_MILLIS: i64 = 253_402_300_799_999;

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        _ => 28,
    }
}

struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn digits(&mut self, count: usize) -> Option<i64> {
        let slice = self.bytes.get(self.pos..self.pos + count)?;
        let mut value = 0i64;
        for b in slice {
            if !b.is_ascii_digit() {
                return None;
            }
            value = value * 10 + i64::from(b - b'0');
        }
        self.pos += count;
        Some(value)
    }

    fn byte(&mut self, expected: u8) -> Option<()> {
        (self.bytes.get(self.pos) == Some(&expected)).then(|| self.pos += 1)
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }
}

/// Milliseconds since the epoch of `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM|±HHMM)`;
/// the fraction is truncated to milliseconds. `None` if malformed or out of range.
pub(super) fn parse_iso8601(text: &str) -> Option<i64> {
    let mut c = Cursor { bytes: text.as_bytes(), pos: 0 };
    let year = c.digits(4)?;
    c.byte(b'-')?;
    let month = c.digits(2)?;
    c.byte(b'-')?;
    let day = c.digits(2)?;
    c.byte(b'T')?;
    let hour = c.digits(2)?;
    c.byte(b':')?;
    let minute = c.digits(2)?;
    c.byte(b':')?;
    let second = c.digits(2)?;
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut millis = 0i64;
    if c.peek() == Some(b'.') {
        c.pos += 1;
        let mut count = 0;
        while let Some(d @ b'0'..=b'9') = c.peek() {
            if count < 3 {
                millis = millis * 10 + i64::from(d - b'0');
            }
            count += 1;
            c.pos += 1;
        }
        if count == 0 {
            return None;
        }
        for _ in count..3 {
            millis *= 10;
        }
    }
    let offset_ms = match c.peek()? {
        b'Z' => {
            c.pos += 1;
            0
        }
        sign @ (b'+' | b'-') => {
            c.pos += 1;
            let hours = c.digits(2)?;
            if c.peek() == Some(b':') {
                c.pos += 1;
            }
            let minutes = c.digits(2)?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let offset = (hours * 60 + minutes) * 60_000;
            if sign == b'+' {
                offset
            } else {
                -offset
            }
        }
        _ => return None,
    };
    if c.pos != c.bytes.len() {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(days * MS_PER_DAY + ((hour * 60 + minute) * 60 + second) * 1000 + millis - offset_ms)
}

/// Appends `YYYY-MM-DDTHH:MM:SS[.mmm]Z` (milliseconds only when non-zero); meant for
/// `0..=MAX_RELAXED_MILLIS`, but correct for any year that prints in four digits.
pub(super) fn write_iso8601(millis: i64, out: &mut String) {
    use std::fmt::Write as _;
    let days = millis.div_euclid(MS_PER_DAY);
    let in_day = millis.rem_euclid(MS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    let ms = in_day % 1000;
    let secs = in_day / 1000;
    let _ = write!(out, "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}", secs / 3600, secs / 60 % 60, secs % 60);
    if ms != 0 {
        let _ = write!(out, ".{ms:03}");
    }
    out.push('Z');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(ms: i64) -> String {
        let mut s = String::new();
        write_iso8601(ms, &mut s);
        s
    }

    #[test]
    fn parse_and_print() {
        assert_eq!(parse_iso8601("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_iso8601("2012-12-24T12:15:30.501Z"), Some(1_356_351_330_501));
        assert_eq!(parse_iso8601("2012-12-24T12:15:30.5019999Z"), Some(1_356_351_330_501));
        assert_eq!(parse_iso8601("2012-12-24T12:15:30.5Z"), Some(1_356_351_330_500));
        assert_eq!(parse_iso8601("2012-12-24T13:15:30.501+01:00"), Some(1_356_351_330_501));
        assert_eq!(parse_iso8601("2012-12-24T11:15:30.501-0100"), Some(1_356_351_330_501));
        assert_eq!(parse_iso8601("0000-01-01T00:00:00Z"), Some(-62_167_219_200_000));
        assert_eq!(parse_iso8601("9999-12-31T23:59:59.999Z"), Some(MAX_RELAXED_MILLIS));
        assert_eq!(parse_iso8601("2000-02-29T00:00:00Z"), Some(951_782_400_000));
        for bad in [
            "",
            "2001-02-29T00:00:00Z",
            "1900-02-29T00:00:00Z",
            "2012-13-01T00:00:00Z",
            "2012-00-01T00:00:00Z",
            "2012-01-32T00:00:00Z",
            "2012-01-01T24:00:00Z",
            "2012-01-01T00:60:00Z",
            "2012-01-01T00:00:60Z",
            "2012-01-01T00:00:00",
            "2012-01-01T00:00:00.Z",
            "2012-01-01 00:00:00Z",
            "2012-01-01T00:00:00Zx",
            "2012-01-01T00:00:00+1",
            "12012-01-01T00:00:00Z",
            "-012-01-01T00:00:00Z",
        ] {
            assert_eq!(parse_iso8601(bad), None, "{bad}");
        }
        assert_eq!(iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(iso(1_356_351_330_501), "2012-12-24T12:15:30.501Z");
        assert_eq!(iso(MAX_RELAXED_MILLIS), "9999-12-31T23:59:59.999Z");
        assert_eq!(iso(-1), "1969-12-31T23:59:59.999Z");
        assert_eq!(iso(951_782_400_000), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn civil_round_trip() {
        for days in (-800_000..3_000_000).step_by(997) {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
            assert!((1..=days_in_month(y, m)).contains(&d));
        }
    }
}
