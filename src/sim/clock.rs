//! The simulated clock: a fixed epoch + real elapsed time × speed + every `advance()` + one
//! tick per request.
//!
//! It owns nothing else; tasks and tickets read it. Three ways to drive it, combinable:
//! - wall time (`speed` > 0): simulated seconds per real second, for people watching a demo;
//! - manual (`advance`): with speed 0 the clock only moves when a test says so;
//! - logical (`tick` > 0): every HTTP request the simulator receives moves the clock by `tick`
//!   simulated seconds before it is handled, so a client polling a task makes it progress and
//!   no wall time has to pass. With speed 0 the simulated time of every request is a function
//!   of how many requests came before it, which makes runs reproducible.

use std::sync::Mutex;
use std::time::Instant;

/// 2026-01-01T00:00:00Z.
pub const EPOCH: i64 = 1_767_225_600;

#[derive(Debug)]
pub struct Clock {
    started: Instant,
    speed: f64,
    tick: f64,
    /// Seconds added by `advance` and by ticks.
    advanced: Mutex<f64>,
}

impl Clock {
    pub fn new(speed: f64, tick: f64) -> Self {
        Clock {
            started: Instant::now(),
            speed,
            tick: if tick.is_finite() && tick > 0.0 {
                tick
            } else {
                0.0
            },
            advanced: Mutex::new(0.0),
        }
    }

    pub fn advance(&self, secs: f64) {
        if secs.is_finite() && secs > 0.0 {
            *self.lock() += secs;
        }
    }

    /// One request arrived: moves the clock by the tick (if any) and returns the time the
    /// request is handled at, both under one lock so concurrent requests get distinct times.
    pub fn tick(&self) -> f64 {
        let mut advanced = self.lock();
        *advanced += self.tick;
        self.at(*advanced)
    }

    /// The simulated time with sub-second precision.
    pub fn now_f64(&self) -> f64 {
        let advanced = *self.lock();
        self.at(advanced)
    }

    pub fn now(&self) -> i64 {
        self.now_f64().floor() as i64
    }

    fn at(&self, advanced: f64) -> f64 {
        let wall = if self.speed > 0.0 {
            self.started.elapsed().as_secs_f64() * self.speed
        } else {
            0.0
        };
        EPOCH as f64 + wall + advanced
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, f64> {
        self.advanced.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_zero_moves_only_by_advance() {
        let c = Clock::new(0.0, 0.0);
        assert_eq!(c.now(), EPOCH);
        c.advance(2.5);
        c.advance(-5.0);
        assert_eq!(c.now(), EPOCH + 2);
        assert!((c.now_f64() - (EPOCH as f64 + 2.5)).abs() < 1e-9);
        assert_eq!(c.tick(), c.now_f64(), "no tick configured");
    }

    #[test]
    fn the_logical_clock_moves_by_one_tick_per_request() {
        let c = Clock::new(0.0, 2.0);
        assert_eq!(c.now(), EPOCH);
        assert_eq!(c.tick(), EPOCH as f64 + 2.0);
        assert_eq!(c.tick(), EPOCH as f64 + 4.0);
        c.advance(10.0);
        assert_eq!(c.tick(), EPOCH as f64 + 16.0);
        assert_eq!(c.now(), EPOCH + 16, "reading the time is not a request");
    }
}
