//! The webhook integration: Standard Webhooks (`spec/standard-webhooks.md`) over HTTP.
//! `sign` makes and checks the signature headers with `whsec_` secrets (two signatures
//! while a rotation overlaps); `send` posts one firing and says what the answer means for
//! the outbox (delivered, retry at a time — `Retry-After` honoured on 429, 502 and 504 —,
//! or the endpoint is gone on 410); [`Schedule`] is the spec's retry schedule.
//! Its integration test (`tests/webhook.rs`) checks the signatures with the Python
//! reference implementation (`standardwebhooks`) against a real HTTP receiver.

pub mod send;
pub mod sign;

use serde::{Deserialize, Serialize};

/// Delays between attempts: the first attempt is immediate, the n-th retry waits
/// `delays[n-1]`; past the last, the firing goes to the dead-letter list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// Delays after each failed attempt, ms.
    pub delays_ms: Vec<i64>,
}

impl Default for Schedule {
    /// Standard Webhooks' (and Svix's) schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h —
    /// eight attempts over about 27 hours.
    fn default() -> Self {
        let (s, m, h) = (1_000, 60_000, 3_600_000);
        Schedule { delays_ms: vec![5 * s, 5 * m, 30 * m, 2 * h, 5 * h, 10 * h, 10 * h] }
    }
}

impl Schedule {
    /// The same schedule `factor` times faster (for tests and demos).
    pub fn scaled(&self, factor: f64) -> Schedule {
        Schedule { delays_ms: self.delays_ms.iter().map(|&d| ((d as f64) / factor).max(1.0) as i64).collect() }
    }

    /// After `attempts` failed attempts, how long to wait before the next one, or `None`
    /// to give up. A receiver's `Retry-After` makes the wait longer, never shorter, and at
    /// most a day.
    pub fn next_delay(&self, attempts: i64, retry_after_ms: Option<i64>) -> Option<i64> {
        let base = *self.delays_ms.get(usize::try_from(attempts - 1).ok()?)?;
        Some(base.max(retry_after_ms.unwrap_or(0).min(86_400_000)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_spec_schedule_gives_up_after_eight_attempts() {
        let s = Schedule::default();
        assert_eq!(s.next_delay(1, None), Some(5_000));
        assert_eq!(s.next_delay(2, None), Some(300_000));
        assert_eq!(s.next_delay(7, None), Some(36_000_000));
        assert_eq!(s.next_delay(8, None), None);
        assert_eq!(s.next_delay(1, Some(60_000)), Some(60_000));
        assert_eq!(s.next_delay(2, Some(1_000)), Some(300_000));
        assert_eq!(s.next_delay(1, Some(i64::MAX)), Some(86_400_000));
        assert_eq!(s.scaled(1000.0).next_delay(1, None), Some(5));
    }
}
