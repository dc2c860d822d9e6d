//! Hybrid logical clock: event times that follow the wall clock but never go backwards.
//!
//! A time is one `u64`: the upper 48 bits are milliseconds since the Unix epoch, the lower 16
//! bits a counter. The log stamps every event with `max(wall << 16, previous + 1)`, so times
//! are strictly increasing in log order even if the wall clock steps back (NTP, VM migration);
//! a counter overflow carries into the millisecond part, which only runs the clock slightly
//! ahead. Projections and the kernel read time from events, never from the wall clock.
//!
//! The wall clock sits behind [`Clock`] so tests can make it go backwards.

use std::sync::atomic::{AtomicU64, Ordering};

/// Bits of the logical counter.
pub const COUNTER_BITS: u32 = 16;

/// A source of wall-clock milliseconds since the Unix epoch.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> u64;
}

/// The operating system's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// A clock a test sets by hand.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicU64);

impl ManualClock {
    pub fn new(ms: u64) -> Self {
        ManualClock(AtomicU64::new(ms))
    }
    pub fn set(&self, ms: u64) {
        self.0.store(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The last time handed out; owned by the single writer of a log.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hlc {
    last: u64,
}

impl Hlc {
    /// Continues after `last` (the time of the log's last event, 0 for an empty log).
    pub fn after(last: u64) -> Self {
        Hlc { last }
    }

    /// The next time, strictly greater than every earlier one.
    pub fn tick(&mut self, wall_ms: u64) -> u64 {
        self.tick_at(wall_ms.saturating_mul(1 << COUNTER_BITS))
    }

    /// The next time given a proposed HLC `time` instead of the wall clock: `time` itself if
    /// it is later than every earlier one, else the previous time + 1. `tick_at(0)` is a purely
    /// logical tick (the kernel's derived transactions); a recorded time replays an event.
    pub fn tick_at(&mut self, time: u64) -> u64 {
        self.last = time.max(self.last.saturating_add(1));
        self.last
    }

    pub fn last(&self) -> u64 {
        self.last
    }
}

/// The wall-clock milliseconds part of a time.
pub fn millis(time: u64) -> u64 {
    time >> COUNTER_BITS
}

/// `ms` since the Unix epoch as RFC 3339 in UTC with millisecond precision
/// (`2024-02-29T12:34:56.789Z`), the form `lg:receivedAt` and CloudEvents' `time` use.
pub fn rfc3339_from_ms(ms: u64) -> String {
    let days = (ms / 86_400_000) as i64;
    let in_day = ms % 86_400_000;
    let (y, m, d) = civil_from_days(days);
    let (h, min, s, milli) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1000 % 60,
        in_day % 1000,
    );
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}.{milli:03}Z")
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_stays_monotonic_when_the_wall_clock_goes_backwards() {
        let mut hlc = Hlc::after(0);
        let a = hlc.tick(1_000);
        let b = hlc.tick(900);
        let c = hlc.tick(900);
        let d = hlc.tick(2_000);
        assert!(a < b && b < c && c < d);
        assert_eq!(millis(a), 1_000);
        assert_eq!(millis(d), 2_000);
    }

    #[test]
    fn logical_and_recorded_ticks_stay_monotonic() {
        let mut hlc = Hlc::after(0);
        let a = hlc.tick(1_000);
        assert_eq!(
            hlc.tick_at(0),
            a + 1,
            "a logical tick ignores the wall clock"
        );
        assert_eq!(hlc.tick_at(a + 10), a + 10, "a later recorded time is kept");
        assert_eq!(
            hlc.tick_at(a),
            a + 11,
            "an earlier one becomes the next tick"
        );
    }
}
