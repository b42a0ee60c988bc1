//! Timestamps in the Simvue wire format: UTC wall-clock time written `YYYY-MM-DDTHH:MM:SS.ffffff`
//! with no zone suffix (the Python client's `DATETIME_FORMAT`, protocol doc §4.2).

pub mod fast;

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

/// A UTC instant with microsecond precision, stored as microseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub i64);

/// Nanoseconds of `clock` (`clock_gettime`, through the vDSO), or `None` if it cannot be read.
#[inline]
fn clock_ns(clock: libc::clockid_t) -> Option<i64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid timespec to write into.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return None;
    }
    #[allow(clippy::unnecessary_cast)] // time_t and c_long are not i64 everywhere
    Some(ts.tv_sec as i64 * 1_000_000_000 + ts.tv_nsec as i64)
}

impl Timestamp {
    /// The current time: one read of the real-time clock (through the vDSO, no system call),
    /// converted with one division. Every call that stamps no metric or event takes one.
    #[inline]
    pub fn now() -> Timestamp {
        match clock_ns(libc::CLOCK_REALTIME) {
            Some(ns) => Timestamp(ns.div_euclid(1000)),
            None => Timestamp::from_system_time(SystemTime::now()),
        }
    }

    /// The current time for the logging hot path: [`fast::now_us`] where the CPU's counter
    /// may be used (about 8 ns), else [`Timestamp::now`] (about 23 ns).
    #[inline]
    pub fn now_fast() -> Timestamp {
        match fast::now_us() {
            Some(us) => Timestamp(us),
            None => Timestamp::now(),
        }
    }

    /// Converts a `SystemTime`, truncating to the microsecond.
    pub fn from_system_time(t: SystemTime) -> Timestamp {
        match t.duration_since(UNIX_EPOCH) {
            Ok(d) => Timestamp(d.as_micros() as i64),
            Err(e) => Timestamp(-(e.duration().as_micros() as i64)),
        }
    }

    /// Parses the formats the Python client accepts for a user-supplied timestamp:
    /// `YYYY-MM-DD hh:mm:ss[.ffffff]` with a space or `T` between date and time, and an optional
    /// trailing `Z`. Up to six fractional digits. The value is taken as UTC wall-clock time, as
    /// simvue 2.6.2 does (it never shifts a naive timestamp).
    pub fn parse(s: &str) -> Option<Timestamp> {
        let s = s.strip_suffix('Z').unwrap_or(s);
        if !s.is_ascii() {
            return None; // and so every byte index below is a character boundary
        }
        let b = s.as_bytes();
        if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !(b[10] == b' ' || b[10] == b'T') {
            return None;
        }
        if b[13] != b':' || b[16] != b':' {
            return None;
        }
        let num = |range: std::ops::Range<usize>| -> Option<i64> {
            let part = &s[range];
            if part.bytes().all(|c| c.is_ascii_digit()) {
                part.parse().ok()
            } else {
                None
            }
        };
        let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
        let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
        let mut micros = 0i64;
        if b.len() > 19 {
            let frac = &s[19..];
            let digits = frac.strip_prefix('.')?;
            if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|c| c.is_ascii_digit())
            {
                return None;
            }
            micros = digits.parse::<i64>().ok()? * 10i64.pow(6 - digits.len() as u32);
        }
        // Python's datetime starts at year 1.
        if year < 1 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
            return None;
        }
        if hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let days = days_from_civil(year, month, day);
        let secs = days * 86_400 + hour * 3600 + minute * 60 + second;
        Some(Timestamp(secs * 1_000_000 + micros))
    }

    /// Seconds since the Unix epoch as a float.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e6
    }
}

impl Timestamp {
    /// The wire form, `YYYY-MM-DDTHH:MM:SS.ffffff`, as 26 ASCII bytes. Every metric set carries
    /// one, so this avoids the formatting machinery and converts the date only when the day
    /// changes (per thread).
    pub fn to_bytes(self) -> [u8; 26] {
        thread_local! {
            static DAY: std::cell::Cell<(i64, [u8; 11])> = const { std::cell::Cell::new((i64::MIN, [0; 11])) };
        }
        let micros = self.0.rem_euclid(1_000_000) as u32;
        let secs = self.0.div_euclid(1_000_000);
        let days = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400) as u32;
        let mut b = [0u8; 26];
        let date = DAY.with(|cache| {
            let (day, text) = cache.get();
            if day == days {
                return text;
            }
            let (y, m, d) = civil_from_days(days);
            let mut t = *b"0000-00-00T";
            let y = y.clamp(0, 9999) as u32;
            t[..2].copy_from_slice(&two_digits(y / 100));
            t[2..4].copy_from_slice(&two_digits(y % 100));
            t[5..7].copy_from_slice(&two_digits(m as u32));
            t[8..10].copy_from_slice(&two_digits(d as u32));
            cache.set((days, t));
            t
        });
        b[..11].copy_from_slice(&date);
        b[11..13].copy_from_slice(&two_digits(sod / 3600));
        b[13] = b':';
        b[14..16].copy_from_slice(&two_digits((sod / 60) % 60));
        b[16] = b':';
        b[17..19].copy_from_slice(&two_digits(sod % 60));
        b[19] = b'.';
        b[20..22].copy_from_slice(&two_digits(micros / 10_000));
        b[22..24].copy_from_slice(&two_digits((micros / 100) % 100));
        b[24..26].copy_from_slice(&two_digits(micros % 100));
        b
    }
}

fn two_digits(v: u32) -> [u8; 2] {
    [b'0' + (v / 10) as u8, b'0' + (v % 10) as u8]
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.to_bytes();
        // The bytes are ASCII digits and separators.
        f.write_str(std::str::from_utf8(&b).unwrap_or("0000-00-00T00:00:00.000000"))
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap(y) => 29,
        _ => 28,
    }
}

// Howard Hinnant's days_from_civil / civil_from_days: exact for the proleptic Gregorian calendar.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Seconds in a "human friendly" timespan, read as the Python client reads `retention_period`
/// (`humanfriendly.parse_timespan`): a number alone is seconds; a number and a unit (`ms`,
/// `s`/`sec`/`secs`/`second(s)`, `m`/`min`/`mins`/`minute(s)`, `h`/`hour(s)`, `d`/`day(s)`,
/// `w`/`week(s)`, `y`/`year(s)` of 52 weeks, also `ns`, `us`; any case), with or without a space.
/// `None` for anything else.
pub fn parse_timespan(text: &str) -> Option<f64> {
    // humanfriendly.text.tokenize: split around `\d+(?:\.\d+)?`, keep numbers and non-blank
    // strings.
    let mut tokens: Vec<Result<f64, String>> = Vec::new();
    let b = text.as_bytes();
    let (mut i, mut word_start) = (0, 0);
    let push_word = |tokens: &mut Vec<Result<f64, String>>, w: &str| {
        let w = w.trim();
        if !w.is_empty() {
            tokens.push(Err(w.to_owned()));
        }
    };
    while i < b.len() {
        if b[i].is_ascii_digit() {
            push_word(&mut tokens, &text[word_start..i]);
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                i += 1;
            }
            if i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
            }
            tokens.push(Ok(text[start..i].parse().ok()?));
            word_start = i;
        } else {
            i += 1;
        }
    }
    push_word(&mut tokens, &text[word_start..]);
    const UNITS: [(f64, &[&str]); 9] = [
        (1e-9, &["ns", "nanosecond", "nanoseconds"]),
        (1e-6, &["us", "microsecond", "microseconds"]),
        (1e-3, &["ms", "millisecond", "milliseconds"]),
        (1.0, &["s", "sec", "secs", "second", "seconds"]),
        (60.0, &["m", "min", "mins", "minute", "minutes"]),
        (3600.0, &["h", "hour", "hours"]),
        (86400.0, &["d", "day", "days"]),
        (604800.0, &["w", "week", "weeks"]),
        (31449600.0, &["y", "year", "years"]),
    ];
    match tokens.as_slice() {
        [Ok(n)] => Some(*n),
        [Ok(n), Err(unit)] => {
            let unit = unit.to_lowercase();
            UNITS
                .iter()
                .find(|(_, names)| names.contains(&unit.as_str()))
                .map(|(factor, _)| n * factor)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn now_reads_the_same_clock_as_system_time() {
        let before = Timestamp::from_system_time(SystemTime::now());
        let now = Timestamp::now();
        let after = Timestamp::from_system_time(SystemTime::now());
        assert!(
            before <= now && now <= after,
            "{before:?} {now:?} {after:?}"
        );
    }

    #[test]
    fn formats_like_python() {
        assert_eq!(Timestamp(0).to_string(), "1970-01-01T00:00:00.000000");
        // 2026-11-26T22:08:19.979312 from the reference cache.
        let t = Timestamp::parse("2026-11-26T22:08:19.979312").unwrap();
        assert_eq!(t.to_string(), "2026-11-26T22:08:19.979312");
        assert_eq!(t.0, 1_795_730_899_979_312);
    }

    #[test]
    fn parses_the_accepted_forms() {
        let a = Timestamp::parse("2024-02-29 23:59:59.5").unwrap();
        assert_eq!(a.to_string(), "2024-02-29T23:59:59.500000");
        let b = Timestamp::parse("2024-02-29T23:59:59Z").unwrap();
        assert_eq!(b.to_string(), "2024-02-29T23:59:59.000000");
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "2023-02-29 00:00:00",
            "2024-13-01 00:00:00",
            "2024-01-01 24:00:00",
            "2024-01-01 00:00:00.1234567",
            "2024-01-01 00:00:00.",
            "2024/01/01 00:00:00",
            "2024-01-01 00:00:00+02:00",
            "yesterday",
            "0000-01-01 00:00:00",
            "2024-01-01 00:00:0\u{e9}",
            "2024-01-01 00:00:00.\u{e9}",
        ] {
            assert!(Timestamp::parse(bad).is_none(), "{bad:?} accepted");
        }
    }

    #[test]
    fn round_trips_across_the_calendar() {
        let mut t = -2_000_000_000_000_000i64;
        while t < 4_000_000_000_000_000 {
            let ts = Timestamp(t);
            assert_eq!(Timestamp::parse(&ts.to_string()), Some(ts));
            t += 86_399_999_937;
        }
    }

    #[test]
    fn timespans_read_as_humanfriendly_reads_them() {
        assert_eq!(parse_timespan("42"), Some(42.0));
        assert_eq!(parse_timespan("1 hour"), Some(3600.0));
        assert_eq!(parse_timespan("1.5h"), Some(5400.0));
        assert_eq!(parse_timespan("2 Days"), Some(172800.0));
        assert_eq!(parse_timespan("1y"), Some(31449600.0));
        assert_eq!(parse_timespan("10 mins"), Some(600.0));
        assert_eq!(parse_timespan("1 fortnight"), None);
        assert_eq!(parse_timespan("1 hour 30 min"), None);
        assert_eq!(parse_timespan("-5"), None);
        assert_eq!(parse_timespan(""), None);
    }
}
