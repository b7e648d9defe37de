//! Per-key rate limiting of events: a token bucket per key that refills at `rate` events
//! per second up to `burst`. A request that would overdraw its bucket is refused whole with
//! 429 and a `Retry-After` saying when it would fit. A bucket that has refilled is the same
//! as no bucket, so when there are many, the full ones are forgotten: clients that come and
//! go (addresses, e-mail addresses) do not grow the map for ever.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Past this many buckets, the full ones are dropped before a new one is added.
const PRUNE_AT: usize = 50_000;

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
        if buckets.len() >= PRUNE_AT && !buckets.contains_key(&key) {
            let (rate, burst) = (self.rate, self.burst);
            buckets.retain(|_, (t, at)| *t + now.saturating_duration_since(*at).as_secs_f64() * rate < burst);
        }
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

    #[test]
    fn refilled_buckets_are_forgotten_when_there_are_many() {
        let l = RateLimiter::new(1.0, 2.0);
        let t0 = Instant::now();
        for k in 0..PRUNE_AT as i64 {
            assert!(l.take_at(k, 1, t0).is_ok());
        }
        assert!(l.take_at(0, 1, t0).is_ok() && l.take_at(0, 1, t0).is_err(), "key 0 is empty now");
        // Two seconds on, every bucket but key 0's is full again: all but one are dropped.
        let later = t0 + Duration::from_millis(1500);
        assert!(l.take_at(PRUNE_AT as i64, 1, later).is_ok());
        assert_eq!(l.buckets.lock().unwrap().len(), 2, "key 0 (still refilling) and the new key");
        assert_eq!(l.take_at(0, 2, later), Err(1), "key 0 kept its state");
    }
}
