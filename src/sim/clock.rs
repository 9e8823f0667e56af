//! The simulated clock: a fixed epoch plus real elapsed time × speed plus every `advance()`.
//!
//! It owns nothing else; tasks and tickets read it. With speed 0 the clock only moves by
//! `advance`, which makes tests deterministic without sleeping.

use std::sync::Mutex;
use std::time::Instant;

/// 2026-01-01T00:00:00Z.
pub const EPOCH: i64 = 1_767_225_600;

#[derive(Debug)]
pub struct Clock {
    started: Instant,
    speed: f64,
    advanced: Mutex<f64>,
}

impl Clock {
    pub fn new(speed: f64) -> Self {
        Clock {
            started: Instant::now(),
            speed,
            advanced: Mutex::new(0.0),
        }
    }

    pub fn advance(&self, secs: f64) {
        if secs.is_finite() && secs > 0.0 {
            *self.advanced.lock().unwrap_or_else(|p| p.into_inner()) += secs;
        }
    }

    /// The simulated time with sub-second precision.
    pub fn now_f64(&self) -> f64 {
        let advanced = *self.advanced.lock().unwrap_or_else(|p| p.into_inner());
        EPOCH as f64 + self.started.elapsed().as_secs_f64() * self.speed + advanced
    }

    pub fn now(&self) -> i64 {
        self.now_f64().floor() as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_zero_moves_only_by_advance() {
        let c = Clock::new(0.0);
        assert_eq!(c.now(), EPOCH);
        c.advance(2.5);
        c.advance(-5.0);
        assert_eq!(c.now(), EPOCH + 2);
        assert!((c.now_f64() - (EPOCH as f64 + 2.5)).abs() < 1e-9);
    }
}
