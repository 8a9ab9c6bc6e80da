//! Date operators with IANA (Olson) `timezone` names: offsets and DST as MongoDB applies them
//! (manual: "Olson Timezone Identifier" in the `timezone` field of each date operator page).
//!
//! Local times in a DST gap or overlap resolve as MongoDB's timelib does (`do_adjust_timezone`):
//! a gap time moves forward by the gap's length; an overlap time takes standard time when built
//! from parts or a string, and for `$dateAdd`/`$dateTrunc` the occurrence with the DST flag of
//! the start date.
use bson::{bson, doc, Bson, Document, RawDocumentBuf};
use documentdb_query::expr::{ExprContext, Expression};

fn raw(d: &Document) -> RawDocumentBuf {
    RawDocumentBuf::try_from(d).expect("serializable")
}

fn eval_on(expr: &Bson, root: &Document) -> Result<Option<Bson>, documentdb_errors::DocDbError> {
    let e = Expression::parse_bson(expr, &ExprContext::default())?;
    e.evaluate(&raw(root))
}

fn ev(expr: Bson, root: &Document) -> Option<Bson> {
    eval_on(&expr, root).unwrap_or_else(|e| panic!("{expr:?}: {e:?}"))
}

fn ev0(expr: Bson) -> Option<Bson> {
    ev(expr, &doc! {})
}

fn err(expr: Bson) -> (i32, String) {
    match eval_on(&expr, &doc! {}) {
        Err(e) => (e.code.code(), e.message),
        Ok(v) => panic!("{expr:?} should fail, got {v:?}"),
    }
}

fn date(ms: i64) -> Bson {
    Bson::DateTime(bson::DateTime::from_millis(ms))
}

fn some_date(ms: i64) -> Option<Bson> {
    Some(date(ms))
}

fn to_string(format: &str, ms: i64, tz: &str) -> Option<Bson> {
    ev0(bson!({ "$dateToString": { "format": format, "date": date(ms), "timezone": tz } }))
}

fn from_parts(y: i32, m: i32, d: i32, h: i32, min: i32, tz: &str) -> Option<Bson> {
    ev0(bson!({ "$dateFromParts": {
        "year": y, "month": m, "day": d, "hour": h, "minute": min, "timezone": tz
    } }))
}

fn hour_in(ms: i64, tz: &str) -> Option<Bson> {
    ev0(bson!({ "$hour": { "date": date(ms), "timezone": tz } }))
}

const NY: &str = "America/New_York";

/// Manual, $dateToString example: 2014-01-01T08:15:39.736Z in New York and at +04:30.
#[test]
fn date_to_string_manual_example_new_york_and_offset() {
    let d = 1_388_564_139_736;
    assert_eq!(to_string("%H:%M:%S:%L%z", d, NY), Some(bson!("03:15:39:736-0500")));
    assert_eq!(to_string("%H:%M:%S:%L%z", d, "+04:30"), Some(bson!("12:45:39:736+0430")));
    assert_eq!(to_string("%Z", d, NY), Some(bson!("-300")));
    assert_eq!(to_string("%Z", d, "+04:30"), Some(bson!("270")));
}

/// $dateToString %z / %Z show the offset in effect at that date, not the zone's standard one.
#[test]
fn date_to_string_offsets_follow_dst() {
    let july = 1_404_216_000_000; // 2014-07-01T12:00Z
    let january = 1_388_564_139_736;
    assert_eq!(to_string("%Y-%m-%d %H:%M%z %Z", july, NY), Some(bson!("2014-07-01 08:00-0400 -240")));
    assert_eq!(to_string("%H:%M%z %Z", july, "Europe/Berlin"), Some(bson!("14:00+0200 120")));
    assert_eq!(to_string("%H:%M%z %Z", january, "Europe/Berlin"), Some(bson!("09:15+0100 60")));
    assert_eq!(to_string("%H:%M%z %Z", july, "Asia/Kolkata"), Some(bson!("17:30+0530 330")));
    // Southern hemisphere: Sydney is on daylight time (AEDT, +11) in January.
    assert_eq!(to_string("%H:%M%z %Z", january, "Australia/Sydney"), Some(bson!("19:15+1100 660")));
    assert_eq!(to_string("%H:%M%z %Z", july, "Australia/Sydney"), Some(bson!("22:00+1000 600")));
}

/// New York's March 2021 change: 06:59:59Z is 01:59:59 EST, 07:00Z is already 03:00 EDT.
#[test]
fn date_parts_new_york_spring_forward() {
    assert_eq!(hour_in(1_615_705_199_000, NY), Some(bson!(1)));
    assert_eq!(hour_in(1_615_705_200_000, NY), Some(bson!(3)));
    assert_eq!(
        ev0(bson!({ "$dateToParts": { "date": date(1_615_705_200_000), "timezone": NY } })),
        Some(Bson::Document(doc! {
            "year": 2021, "month": 3, "day": 14, "hour": 3, "minute": 0, "second": 0, "millisecond": 0
        }))
    );
}

/// New York's November 2021 change: 05:30Z and 06:30Z are both 01:30 local (EDT, then EST).
#[test]
fn date_parts_new_york_fall_back() {
    for ms in [1_636_263_000_000, 1_636_266_600_000] {
        assert_eq!(hour_in(ms, NY), Some(bson!(1)));
        assert_eq!(ev0(bson!({ "$minute": { "date": date(ms), "timezone": NY } })), Some(bson!(30)));
    }
    assert_eq!(to_string("%H:%M%z", 1_636_263_000_000, NY), Some(bson!("01:30-0400")));
    assert_eq!(to_string("%H:%M%z", 1_636_266_600_000, NY), Some(bson!("01:30-0500")));
}

/// Every date-part operator takes a named zone: 2021-12-31T20:00Z is Saturday 2022-01-01
/// 01:30 in Kolkata (+05:30), ISO week 52 of 2021.
#[test]
fn every_date_part_operator_accepts_names() {
    let root = doc! { "d": date(1_640_980_800_000) };
    let cases = [
        ("$year", 2022),
        ("$month", 1),
        ("$dayOfMonth", 1),
        ("$hour", 1),
        ("$minute", 30),
        ("$second", 0),
        ("$millisecond", 0),
        ("$dayOfYear", 1),
        ("$dayOfWeek", 7),
        ("$week", 0),
        ("$isoWeek", 52),
        ("$isoDayOfWeek", 6),
    ];
    for (op, want) in cases {
        let got = ev(bson!({ op: { "date": "$d", "timezone": "Asia/Kolkata" } }), &root);
        assert_eq!(got, Some(bson!(want)), "{op}");
    }
    assert_eq!(
        ev(bson!({ "$isoWeekYear": { "date": "$d", "timezone": "Asia/Kolkata" } }), &root),
        Some(Bson::Int64(2021))
    );
    // The timezone may come from a field.
    let root = doc! { "d": date(1_640_980_800_000), "tz": "Asia/Kolkata" };
    assert_eq!(ev(bson!({ "$year": { "date": "$d", "timezone": "$tz" } }), &root), Some(bson!(2022)));
}

/// $dateFromParts / $dateFromString in named zones, including the half-hour Kolkata offset.
#[test]
fn date_from_parts_and_string_in_named_zones() {
    assert_eq!(from_parts(2021, 1, 1, 0, 0, "Asia/Kolkata"), some_date(1_609_439_400_000));
    assert_eq!(from_parts(2021, 7, 1, 12, 0, NY), some_date(1_625_155_200_000));
    assert_eq!(
        ev0(bson!({ "$dateFromString": { "dateString": "2021-07-01T12:00:00", "timezone": NY } })),
        some_date(1_625_155_200_000)
    );
    assert_eq!(
        ev0(bson!({ "$dateFromString": {
            "dateString": "2021/01/01 00:00", "format": "%Y/%m/%d %H:%M", "timezone": "Asia/Kolkata"
        } })),
        some_date(1_609_439_400_000)
    );
    assert_eq!(
        ev0(bson!({ "$dateFromParts": {
            "isoWeekYear": 2021, "isoWeek": 26, "isoDayOfWeek": 4, "hour": 12, "timezone": NY
        } })),
        some_date(1_625_155_200_000)
    );
}

/// A wall time in the spring-forward gap does not exist: MongoDB (timelib) reads it with the
/// offset before the gap, so it lands one gap length later (02:30 -> 03:30 daylight time).
#[test]
fn date_from_parts_in_the_dst_gap_moves_forward() {
    assert_eq!(from_parts(2021, 3, 14, 2, 30, NY), some_date(1_615_707_000_000)); // 07:30Z
    assert_eq!(from_parts(2021, 3, 28, 2, 30, "Europe/Berlin"), some_date(1_616_895_000_000)); // 01:30Z
    assert_eq!(from_parts(2021, 10, 3, 2, 30, "Australia/Sydney"), some_date(1_633_192_200_000));
    assert_eq!(
        ev0(bson!({ "$dateFromString": { "dateString": "2021-03-14T02:30:00", "timezone": NY } })),
        some_date(1_615_707_000_000)
    );
}

/// A wall time in the fall-back overlap happens twice: built from parts or a string, MongoDB
/// (timelib, with the DST flag of the epoch, i.e. standard time) picks the standard-time one,
/// the later instant, east and west of UTC alike.
#[test]
fn date_from_parts_in_the_dst_overlap_takes_standard_time() {
    assert_eq!(from_parts(2021, 11, 7, 1, 30, NY), some_date(1_636_266_600_000)); // 01:30 EST
    assert_eq!(from_parts(2021, 10, 31, 2, 30, "Europe/Berlin"), some_date(1_635_643_800_000)); // CET
    assert_eq!(from_parts(2021, 4, 4, 2, 30, "Australia/Sydney"), some_date(1_617_467_400_000)); // AEST
                                                                                                 // Just before the overlap the time is still daylight time.
    assert_eq!(from_parts(2021, 11, 7, 0, 30, NY), some_date(1_636_259_400_000));
}

/// Manual, $dateAdd "Adjust for Daylight Savings Time": in New York, one day after
/// 2021-03-13 10:00 EST is 2021-03-14 10:00 EDT (23 hours later), while 24 hours later is
/// 11:00 EDT.
#[test]
fn date_add_days_keep_the_wall_clock_across_dst() {
    let login = 1_615_647_600_000; // 2021-03-13T15:00Z
    let add = |unit: &str, amount: i32| {
        ev0(bson!({ "$dateAdd": { "startDate": date(login), "unit": unit, "amount": amount, "timezone": NY } }))
    };
    assert_eq!(add("day", 1), some_date(1_615_730_400_000));
    assert_eq!(add("hour", 24), some_date(1_615_734_000_000));
    assert_eq!(add("week", 0), some_date(login));
    // Without a zone (UTC) a day is 24 hours.
    assert_eq!(
        ev0(bson!({ "$dateAdd": { "startDate": date(login), "unit": "day", "amount": 1 } })),
        some_date(login + 86_400_000)
    );
    // November: 2021-11-06 10:00 EDT + 1 day is 2021-11-07 10:00 EST (25 hours later).
    let nov6 = 1_636_207_200_000;
    assert_eq!(
        ev0(bson!({ "$dateAdd": { "startDate": date(nov6), "unit": "day", "amount": 1, "timezone": NY } })),
        some_date(1_636_297_200_000)
    );
    assert_eq!(
        ev0(bson!({ "$dateSubtract": {
            "startDate": date(1_636_297_200_000), "unit": "day", "amount": 1, "timezone": NY
        } })),
        some_date(nov6)
    );
    // A month from 2021-02-14 10:00 EST is 2021-03-14 10:00 EDT.
    assert_eq!(
        ev0(
            bson!({ "$dateAdd": { "startDate": date(1_613_314_800_000), "unit": "month", "amount": 1, "timezone": NY } })
        ),
        some_date(1_615_730_400_000)
    );
}

/// $dateAdd landing in the overlap: timelib converts the moved wall time with the start
/// date's DST flag, so from daylight time it stays in EDT, from standard time in EST.
#[test]
fn date_add_into_the_overlap_keeps_the_start_dst_flag() {
    let from_edt = 1_636_176_600_000; // 2021-11-06 01:30 EDT
    let from_est = 1_636_353_000_000; // 2021-11-08 01:30 EST
    assert_eq!(
        ev0(bson!({ "$dateAdd": { "startDate": date(from_edt), "unit": "day", "amount": 1, "timezone": NY } })),
        some_date(1_636_263_000_000) // 2021-11-07 01:30 EDT
    );
    assert_eq!(
        ev0(bson!({ "$dateSubtract": { "startDate": date(from_est), "unit": "day", "amount": 1, "timezone": NY } })),
        some_date(1_636_266_600_000) // 2021-11-07 01:30 EST
    );
}

/// $dateTrunc by day/week/month in New York: bins start at local midnight whatever the offset.
#[test]
fn date_trunc_by_day_in_new_york_across_dst() {
    let trunc = |ms: i64, unit: &str| ev0(bson!({ "$dateTrunc": { "date": date(ms), "unit": unit, "timezone": NY } }));
    // 2021-03-14 14:00 EDT -> 2021-03-14 00:00 EST (05:00Z), the day of the change.
    assert_eq!(trunc(1_615_744_800_000, "day"), some_date(1_615_698_000_000));
    // 2021-03-15 08:00 EDT -> 2021-03-15 00:00 EDT (04:00Z).
    assert_eq!(trunc(1_615_809_600_000, "day"), some_date(1_615_780_800_000));
    // 2021-11-07 15:00 EST -> 2021-11-07 00:00 EDT (04:00Z), the day of the change back.
    assert_eq!(trunc(1_636_315_200_000, "day"), some_date(1_636_257_600_000));
    // Wednesday 2021-03-17 -> Sunday 2021-03-14 00:00 EST.
    assert_eq!(trunc(1_615_993_200_000, "week"), some_date(1_615_698_000_000));
    assert_eq!(trunc(1_616_241_600_000, "month"), some_date(1_614_574_800_000)); // 2021-03-01 EST
    assert_eq!(trunc(1_626_782_400_000, "month"), some_date(1_625_112_000_000)); // 2021-07-01 EDT
                                                                                 // Hours are binned on the UTC time line: 01:45 EST (second 01:xx) -> 01:00 EST.
    assert_eq!(trunc(1_636_267_500_000, "hour"), some_date(1_636_264_800_000));
    // Kolkata's half-hour offset: 16:15 local -> 16:00 local (10:30Z).
    assert_eq!(
        ev0(bson!({ "$dateTrunc": { "date": date(1_609_497_900_000), "unit": "hour", "timezone": "Asia/Kolkata" } })),
        some_date(1_609_497_000_000)
    );
}

/// $dateTrunc weeks count from the first week start on or after 2000-01-01 (MongoDB's
/// `defaultReferencePointForDateTrunc`): with 2-week bins, Wednesday 2000-01-05 falls in the
/// bin starting Sunday 2000-01-02.
#[test]
fn date_trunc_week_bins_start_from_the_week_after_the_reference() {
    assert_eq!(
        ev0(bson!({ "$dateTrunc": { "date": date(947_073_600_000), "unit": "week", "binSize": 2 } })),
        some_date(946_771_200_000)
    );
}

/// $dateDiff in days counts local midnights, so a 23- or 25-hour day across DST is one day;
/// hours count elapsed hours.
#[test]
fn date_diff_days_across_dst_in_new_york() {
    let diff = |a: i64, b: i64, unit: &str| {
        ev0(bson!({ "$dateDiff": { "startDate": date(a), "endDate": date(b), "unit": unit, "timezone": NY } }))
    };
    // 2021-03-13 12:00 EST -> 2021-03-14 12:00 EDT: 1 day, 23 hours.
    assert_eq!(diff(1_615_654_800_000, 1_615_737_600_000, "day"), Some(Bson::Int64(1)));
    assert_eq!(diff(1_615_654_800_000, 1_615_737_600_000, "hour"), Some(Bson::Int64(23)));
    assert_eq!(diff(1_615_654_800_000, 1_615_737_600_000, "minute"), Some(Bson::Int64(23 * 60)));
    // 2021-11-06 12:00 EDT -> 2021-11-07 12:00 EST: 1 day, 25 hours.
    assert_eq!(diff(1_636_214_400_000, 1_636_304_400_000, "day"), Some(Bson::Int64(1)));
    assert_eq!(diff(1_636_214_400_000, 1_636_304_400_000, "hour"), Some(Bson::Int64(25)));
    assert_eq!(diff(1_636_214_400_000, 1_636_304_400_000, "second"), Some(Bson::Int64(25 * 3600)));
    // The two 01:30s of 2021-11-07 are an hour apart on the same local day.
    assert_eq!(diff(1_636_263_000_000, 1_636_266_600_000, "hour"), Some(Bson::Int64(1)));
    assert_eq!(diff(1_636_263_000_000, 1_636_266_600_000, "day"), Some(Bson::Int64(0)));
    // In Sydney the same instants are 03-14 04:00 and 03-15 03:00 (AEDT): one day too.
    assert_eq!(
        ev0(bson!({ "$dateDiff": {
            "startDate": date(1_615_654_800_000), "endDate": date(1_615_737_600_000),
            "unit": "day", "timezone": "Australia/Sydney"
        } })),
        Some(Bson::Int64(1))
    );
}

/// Unknown or wrongly-cased names keep MongoDB's error 40485 and message
/// (`TimeZoneDatabase::getTimeZone`).
#[test]
fn unknown_time_zone_names_are_error_40485() {
    assert_eq!(
        err(bson!({ "$hour": { "date": date(0), "timezone": "Mars/Olympus_Mons" } })),
        (40485, "unrecognized time zone identifier: \"Mars/Olympus_Mons\"".to_string())
    );
    assert_eq!(err(bson!({ "$hour": { "date": date(0), "timezone": "europe/berlin" } })).0, 40485);
    assert_eq!(err(bson!({ "$dateToString": { "date": date(0), "timezone": "America/NewYork" } })).0, 40485);
    assert_eq!(err(bson!({ "$dateFromParts": { "year": 2021, "timezone": "Nowhere" } })).0, 40485);
    let (code, message) = err(bson!({ "$dateTrunc": { "date": date(0), "unit": "day", "timezone": "Nowhere" } }));
    assert_eq!(code, 40485);
    assert_eq!(
        message,
        "$dateTrunc parameter 'timezone' value parsing failed :: caused by :: unrecognized time zone identifier: \"Nowhere\""
    );
    // Backward-compatible tz database links are names too.
    assert_eq!(hour_in(1_615_705_200_000, "US/Eastern"), Some(bson!(3)));
}
