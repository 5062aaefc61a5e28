//! Times and durations as people write and read them.
//!
//! - Durations for flags (`--ttl 1.5h`, `--timeout 90s`, `--older-than 7d`)
//!   are parsed by `humantime`; a bare number means seconds.
//! - Times are shown in the local time zone (`TZ` is respected, through
//!   `jiff`), or in UTC with `--utc`, with the zone's abbreviation:
//!   `2026-11-18 12:06:40 CET`.
//! - `--since TIME` takes a duration before now (`1h`, `2d`), a date or a
//!   date and time in the shown zone (`2026-11-18`, `2026-11-18 14:30`,
//!   `14:30` for today), a time with an offset (`2026-11-18T14:30:00Z`), or
//!   `today` / `yesterday`.

use std::time::Duration;

use jiff::civil::{Date, DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};

/// Parses a duration for a flag: `90s`, `1.5h`, `1h 30m`, `2d`, `250ms`,
/// or a bare number of seconds (`0` included).
pub fn parse_duration(input: &str) -> Result<Duration, String> {
    let s = input.trim();
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    humantime::parse_duration(s)
        .map_err(|e| format!("invalid duration {input:?}: {e}; use e.g. 90s, 30m, 1.5h, 2d"))
}

/// A duration for people, to the millisecond: `1h 30m`, `300ms`, `0s`.
pub fn format_duration(d: Duration) -> String {
    let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    humantime::format_duration(Duration::from_millis(ms)).to_string()
}

/// The zone human output uses: the local one (`TZ`, else the system's),
/// or UTC.
pub fn zone(utc: bool) -> TimeZone {
    if utc {
        TimeZone::UTC
    } else {
        TimeZone::system()
    }
}

/// Unix milliseconds as `YYYY-MM-DD HH:MM:SS ZONE` in `zone`.
pub fn time(unix_ms: u64, zone: &TimeZone) -> String {
    i64::try_from(unix_ms)
        .ok()
        .and_then(|ms| Timestamp::from_millisecond(ms).ok())
        .map_or_else(
            || format!("{unix_ms} ms"),
            |t| {
                t.to_zoned_datetime(zone.clone())
                    .strftime("%Y-%m-%d %H:%M:%S %Z")
                    .to_string()
            },
        )
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> u64 {
    u64::try_from(Timestamp::now().as_millisecond()).unwrap_or(0)
}

/// A `--since` argument, resolved against the clock and the shown zone
/// only when used ([`Since::unix_ms`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Since {
    /// This long before now.
    Ago(Duration),
    /// An exact instant (it carried an offset or `Z`).
    At(Timestamp),
    /// A wall-clock time in the shown zone.
    Civil(DateTime),
    /// A time of day today in the shown zone.
    TimeToday(Time),
    /// Midnight today, or `n` days before, in the shown zone.
    DaysAgo(i64),
}

/// Parses a `--since` argument (see the module documentation).
pub fn parse_since(input: &str) -> Result<Since, String> {
    let s = input.trim();
    match s {
        "today" => return Ok(Since::DaysAgo(0)),
        "yesterday" => return Ok(Since::DaysAgo(1)),
        _ => {}
    }
    if let Ok(d) = parse_duration(s) {
        return Ok(Since::Ago(d));
    }
    if let Ok(t) = s.parse::<Timestamp>() {
        return Ok(Since::At(t));
    }
    if let Ok(dt) = s.parse::<DateTime>() {
        return Ok(Since::Civil(dt));
    }
    if let Ok(d) = s.parse::<Date>() {
        return Ok(Since::Civil(d.to_datetime(Time::midnight())));
    }
    if let Ok(t) = s.parse::<Time>() {
        return Ok(Since::TimeToday(t));
    }
    Err(format!(
        "invalid time {input:?}: use a duration before now (1h, 2d), a date or date and \
         time (2026-11-18, \"2026-11-18 14:30\", 14:30), or today / yesterday"
    ))
}

impl Since {
    /// The instant in Unix milliseconds (0 for an instant before 1970).
    pub fn unix_ms(&self, now: Timestamp, zone: &TimeZone) -> Result<u64, String> {
        let today = now.to_zoned_datetime(zone.clone()).date();
        let instant = match self {
            Self::Ago(d) => {
                let d = jiff::SignedDuration::try_from(*d).map_err(|e| e.to_string())?;
                now.checked_sub(d).unwrap_or(Timestamp::MIN)
            }
            Self::At(t) => *t,
            Self::Civil(dt) => civil_instant(*dt, zone)?,
            Self::TimeToday(t) => civil_instant(today.to_datetime(*t), zone)?,
            Self::DaysAgo(n) => {
                let day = today.checked_sub(n.days()).map_err(|e| e.to_string())?;
                civil_instant(day.to_datetime(Time::midnight()), zone)?
            }
        };
        Ok(u64::try_from(instant.as_millisecond()).unwrap_or(0))
    }
}

/// A wall-clock time in `zone` (the earlier one when a clock change makes
/// it ambiguous or skips it).
fn civil_instant(dt: DateTime, zone: &TimeZone) -> Result<Timestamp, String> {
    zone.to_ambiguous_timestamp(dt)
        .compatible()
        .map_err(|e| format!("no such time {dt} in the time zone: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_humane_and_fractional() {
        assert_eq!(parse_duration("1.5h"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("90m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        for bad in ["", "h", "5x", "-5s", "soon"] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.contains("invalid duration"), "{bad}: {err}");
        }
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h 30m");
        assert_eq!(format_duration(Duration::from_millis(300)), "300ms");
    }

    #[test]
    fn times_in_a_zone() {
        assert_eq!(time(0, &TimeZone::UTC), "1970-01-01 00:00:00 UTC");
        assert_eq!(
            time(1_795_000_000_123, &TimeZone::UTC),
            "2026-11-18 11:06:40 UTC"
        );
        let paris = TimeZone::get("Europe/Paris").expect("tzdb");
        assert_eq!(time(1_795_000_000_123, &paris), "2026-11-18 12:06:40 CET");
        let posix = TimeZone::posix("EST5EDT,M3.2.0,M11.1.0").expect("posix tz");
        assert_eq!(time(1_795_000_000_123, &posix), "2026-11-18 06:06:40 EST");
    }

    #[test]
    fn since_forms() {
        let paris = TimeZone::get("Europe/Paris").expect("tzdb");
        let now: Timestamp = "2026-11-18T11:06:40Z".parse().expect("now");
        let ms = |s: &str| parse_since(s).and_then(|x| x.unix_ms(now, &paris));
        let at = |s: &str| {
            u64::try_from(s.parse::<Timestamp>().expect("ts").as_millisecond()).expect("ms")
        };
        assert_eq!(ms("1h"), Ok(at("2026-11-18T10:06:40Z")));
        assert_eq!(ms("1.5h"), Ok(at("2026-11-18T09:36:40Z")));
        assert_eq!(ms("2026-11-18T10:00:00Z"), Ok(at("2026-11-18T10:00:00Z")));
        assert_eq!(ms("2026-11-18 12:00"), Ok(at("2026-11-18T11:00:00Z")));
        assert_eq!(ms("2026-11-18"), Ok(at("2026-11-17T23:00:00Z")));
        assert_eq!(ms("today"), Ok(at("2026-11-17T23:00:00Z")));
        assert_eq!(ms("yesterday"), Ok(at("2026-11-16T23:00:00Z")));
        assert_eq!(ms("09:30"), Ok(at("2026-11-18T08:30:00Z")));
        assert_eq!(ms("100000d"), Ok(0));
        assert!(parse_since("last tuesday").is_err());
    }
}
