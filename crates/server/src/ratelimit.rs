//! Per-key rate limiting of events: a token bucket per key that refills at `rate` events
//! per second up to `burst`. A request that would overdraw its bucket is refused whole with
//! 429 and a `Retry-After` saying when it would fit.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Token buckets by key id.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<i64, (f64, Instant)>>,
}

impl RateLimiter {
    /// `rate` events/s (0 turns limiting off), `burst` events at most at once.
    pub fn new(rate: f64, burst: f64) -> Self {
        RateLimiter { rate, burst: burst.max(rate).max(1.0), buckets: Mutex::new(HashMap::new()) }
    }

    /// Take `n` events from a key's bucket, or say how many seconds to wait.
    pub fn take(&self, key: i64, n: usize) -> Result<(), u64> {
        self.take_at(key, n, Instant::now())
    }

    fn take_at(&self, key: i64, n: usize, now: Instant) -> Result<(), u64> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let cost = (n as f64).min(self.burst);
        let mut buckets = self.buckets.lock().expect("rate limiter lock");
        let (tokens, at) = buckets.entry(key).or_insert((self.burst, now));
        *tokens = (*tokens + now.saturating_duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= cost {
            *tokens -= cost;
            Ok(())
        } else {
            Err(((cost - *tokens) / self.rate).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn buckets_refill_at_the_rate() {
        let l = RateLimiter::new(10.0, 20.0);
        let t0 = Instant::now();
        assert!(l.take_at(1, 20, t0).is_ok(), "a full burst passes");
        assert_eq!(l.take_at(1, 10, t0), Err(1), "then 10 more need a second");
        assert!(l.take_at(2, 5, t0).is_ok(), "other keys have their own bucket");
        assert!(l.take_at(1, 10, t0 + Duration::from_secs(1)).is_ok());
        assert_eq!(l.take_at(1, 20, t0 + Duration::from_secs(1)), Err(2));
        assert!(RateLimiter::new(0.0, 0.0).take_at(1, 1_000_000, t0).is_ok(), "0 means no limit");
    }
}
