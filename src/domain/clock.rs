//! Time, behind a trait so that tests can move it (expiry, refills, tokens).

use std::sync::atomic::{AtomicI64, Ordering};

/// A UTC day in milliseconds: counts, refills and their boundaries use it.
pub const DAY_MS: i64 = 86_400_000;

pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Milliseconds since the unix epoch, UTC.
    fn now_ms(&self) -> i64;
}

#[derive(Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    // Straight from the system time: chrono's `Utc::now()` works out the
    // calendar date first, which the verify path paid for on every request.
    fn now_ms(&self) -> i64 {
        let millis = |d: std::time::Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
        match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            Ok(since) => millis(since),
            Err(before) => -millis(before.duration()),
        }
    }
}

/// A clock that stands still until told to move.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(now_ms: i64) -> ManualClock {
        ManualClock(AtomicI64::new(now_ms))
    }

    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }

    pub fn set_ms(&self, now_ms: i64) {
        self.0.store(now_ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::{Clock, SystemClock};

    #[test]
    fn the_system_clock_tells_unix_milliseconds() {
        let chrono = chrono::Utc::now().timestamp_millis();
        let ours = SystemClock.now_ms();
        assert!((ours - chrono).abs() < 1_000, "{ours} against {chrono}");
    }
}
