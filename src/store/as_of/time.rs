//! RFC 3339 date-times (`2026-11-23T19:07:32.5Z`, `…+01:00`) to Unix milliseconds, for
//! `asOf=TIME`.
//!
//! Strict on purpose: only the RFC 3339 `date-time` production (with `T`/`t` between date and
//! time, a `Z`/`z` or numeric offset, any number of fraction digits, truncated to the
//! millisecond). No time-zone names, no dates without a time, no leap-second `:60` (the log's
//! clock never shows one). This module does not know about the log; `resolve` maps the
//! instant to a log size.

/// Why a date-time was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TimeError(pub String);

fn err(what: impl Into<String>) -> TimeError {
    TimeError(what.into())
}

fn digits(text: &[u8], at: usize, n: usize, what: &str) -> Result<i64, TimeError> {
    let slice = text
        .get(at..at + n)
        .filter(|s| s.iter().all(u8::is_ascii_digit))
        .ok_or_else(|| err(format!("expected {n} digits for the {what} at byte {at}")))?;
    Ok(slice
        .iter()
        .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0')))
}

fn expect(text: &[u8], at: usize, allowed: &[u8], what: &str) -> Result<u8, TimeError> {
    match text.get(at) {
        Some(c) if allowed.contains(c) => Ok(*c),
        _ => Err(err(format!("expected {what} at byte {at}"))),
    }
}

/// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Milliseconds since the Unix epoch (negative before 1970) of an RFC 3339 `date-time`.
pub fn parse_rfc3339_ms(text: &str) -> Result<i64, TimeError> {
    let b = text.as_bytes();
    let year = digits(b, 0, 4, "year")?;
    expect(b, 4, b"-", "'-'")?;
    let month = digits(b, 5, 2, "month")?;
    expect(b, 7, b"-", "'-'")?;
    let day = digits(b, 8, 2, "day")?;
    expect(b, 10, b"Tt", "'T' between date and time")?;
    let hour = digits(b, 11, 2, "hour")?;
    expect(b, 13, b":", "':'")?;
    let minute = digits(b, 14, 2, "minute")?;
    expect(b, 16, b":", "':'")?;
    let second = digits(b, 17, 2, "second")?;
    let mut at = 19;
    let mut millis = 0i64;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            if at - start < 3 {
                millis = millis * 10 + i64::from(b[at] - b'0');
            }
            at += 1;
        }
        if at == start {
            return Err(err(format!("expected fraction digits at byte {at}")));
        }
        for _ in (at - start)..3 {
            millis *= 10;
        }
    }
    if b.get(at) == Some(&b' ') {
        return Err(err(format!(
            "expected 'Z' or a numeric offset at byte {at}, found a space (in a URL, send '+' as %2B)"
        )));
    }
    let offset_minutes = match expect(b, at, b"Zz+-", "'Z' or a numeric offset")? {
        b'Z' | b'z' => {
            at += 1;
            0
        }
        sign => {
            let h = digits(b, at + 1, 2, "offset hours")?;
            expect(b, at + 3, b":", "':' in the offset")?;
            let m = digits(b, at + 4, 2, "offset minutes")?;
            at += 6;
            if h > 23 || m > 59 {
                return Err(err(format!("offset {h:02}:{m:02} is out of range")));
            }
            if sign == b'-' {
                -(h * 60 + m)
            } else {
                h * 60 + m
            }
        }
    };
    if at != b.len() {
        return Err(err(format!(
            "unexpected text after the date-time at byte {at}"
        )));
    }
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return Err(err(format!(
            "{year:04}-{month:02}-{day:02} is not a calendar date"
        )));
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(err(format!(
            "{hour:02}:{minute:02}:{second:02} is not a time of day"
        )));
    }
    let days = days_from_civil(year, month, day);
    let seconds = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_minutes * 60;
    Ok(seconds * 1_000 + millis)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_utc_offsets_and_fractions_agree() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Ok(0));
        assert_eq!(
            parse_rfc3339_ms("2024-02-29T12:34:56.789Z"),
            Ok(1_709_210_096_789)
        );
        assert_eq!(
            parse_rfc3339_ms("2024-02-29T13:34:56.7891+01:00"),
            Ok(1_709_210_096_789)
        );
        assert_eq!(parse_rfc3339_ms("1969-12-31t23:59:59.5z"), Ok(-500));
    }

    #[test]
    fn rfc3339_refuses_what_is_not_a_date_time() {
        for bad in [
            "",
            "2024-02-29",
            "2024-02-30T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:60Z",
            "2024-01-01T00:00:00",
            "2024-01-01T00:00:00.Z",
            "2024-01-01T00:00:00Zjunk",
            "2024-01-01 00:00:00Z",
            "2024-01-01T00:00:00 01:00",
            "2024-01-01T00:00:00+1:00",
            "2024-01-01T00:00:00+24:00",
            "２０２４-01-01T00:00:00Z",
            "yesterday",
        ] {
            assert!(parse_rfc3339_ms(bad).is_err(), "accepted {bad:?}");
        }
    }
}
