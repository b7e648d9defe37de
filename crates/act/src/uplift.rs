//! A rule's uplift: did the customers it reached reach its goal more often than the
//! customers it held out? Each group's conversion with its Wilson interval, the
//! difference (treated − held out) with Newcombe's hybrid score interval (1998, method
//! 10, which keeps its coverage with few conversions where the Wald interval does not),
//! the pooled two-proportion z-test's p-value, and the customers the rule moved (the
//! difference times the treated customers, with the interval scaled alike).

use serde::{Deserialize, Serialize};
use touchpoint_analytics::stats::{two_proportion_z, wilson, Interval};

/// One group's conversion.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// Customers in it.
    pub customers: u64,
    /// Of them, reached the goal within the horizon.
    pub converted: u64,
    /// `converted / customers` (0 when empty).
    pub rate: f64,
    /// The rate's 95 % Wilson interval.
    pub interval: Interval,
}

/// Treated against held out.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Uplift {
    /// Customers sent the message.
    pub treated: Group,
    /// Customers held out ("would have fired").
    pub held_out: Group,
    /// `treated.rate − held_out.rate`.
    pub difference: f64,
    /// Its 95 % interval (Newcombe, method 10).
    pub interval: Interval,
    /// Two-sided p-value of the pooled z-test.
    pub p_value: f64,
    /// Whether the interval excludes 0.
    pub significant: bool,
    /// Customers moved: `difference × treated.customers`.
    pub moved: f64,
    /// Its 95 % interval.
    pub moved_interval: Interval,
}

fn group(converted: u64, customers: u64) -> Group {
    let converted = converted.min(customers);
    let rate = if customers == 0 { 0.0 } else { converted as f64 / customers as f64 };
    Group { customers, converted, rate, interval: wilson(converted, customers, 0.95) }
}

/// The uplift, or `None` while either group is empty (nothing to compare yet).
pub fn uplift(treated_converted: u64, treated: u64, held_converted: u64, held: u64) -> Option<Uplift> {
    if treated == 0 || held == 0 {
        return None;
    }
    let t = group(treated_converted, treated);
    let h = group(held_converted, held);
    let d = t.rate - h.rate;
    let low = d - ((t.rate - t.interval.low).powi(2) + (h.interval.high - h.rate).powi(2)).sqrt();
    let high = d + ((t.interval.high - t.rate).powi(2) + (h.rate - h.interval.low).powi(2)).sqrt();
    let interval = Interval { low: low.max(-1.0), high: high.min(1.0) };
    let test = two_proportion_z(t.converted, treated, h.converted, held);
    let n = treated as f64;
    Some(Uplift {
        treated: t,
        held_out: h,
        difference: d,
        interval,
        p_value: test.p,
        significant: interval.low > 0.0 || interval.high < 0.0,
        moved: d * n,
        moved_interval: Interval { low: interval.low * n, high: interval.high * n },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Newcombe's (1998) own worked example, method 10: 56/70 against 48/80 gives
    /// 0.2000 with the interval 0.0524 to 0.3339.
    #[test]
    fn newcombes_example_by_hand() {
        let u = uplift(56, 70, 48, 80).unwrap();
        assert!((u.difference - 0.2).abs() < 1e-12);
        assert!((u.interval.low - 0.0524).abs() < 5e-5, "{:?}", u.interval);
        assert!((u.interval.high - 0.3339).abs() < 5e-5, "{:?}", u.interval);
        assert!(u.significant);
        // Pooled z by hand: p̂ = 104/150, se = sqrt(p̂(1−p̂)(1/70+1/80)) = 0.075 467, z = 2.6502,
        // p = erfc(z/√2) = 0.008 045.
        let p = 104.0 / 150.0;
        let z = 0.2 / (p * (1.0 - p) * (1.0 / 70.0 + 1.0 / 80.0_f64)).sqrt();
        assert!((z - 2.6502).abs() < 1e-4);
        assert!((u.p_value - 0.008045).abs() < 1e-6, "{}", u.p_value);
        assert!((u.moved - 14.0).abs() < 1e-9);
    }

    /// Newcombe's example with zero events: 0/10 against 0/20 gives −0.1611 to 0.2775.
    #[test]
    fn no_conversions_still_have_an_interval() {
        let u = uplift(0, 10, 0, 20).unwrap();
        assert_eq!(u.difference, 0.0);
        assert!((u.interval.low + 0.1611).abs() < 5e-5, "{:?}", u.interval);
        assert!((u.interval.high - 0.2775).abs() < 5e-5, "{:?}", u.interval);
        assert!(!u.significant);
        assert_eq!(u.p_value, 1.0);
    }

    #[test]
    fn empty_groups_have_no_uplift() {
        assert!(uplift(0, 0, 1, 10).is_none());
        assert!(uplift(1, 10, 0, 0).is_none());
    }

    proptest! {
        /// The interval holds the difference and stays within [−1, 1]; swapping the groups
        /// mirrors it.
        #[test]
        fn interval_is_sane(n1 in 1u64..500, n2 in 1u64..500, a in 0u64..500, b in 0u64..500) {
            let (x1, x2) = (a % (n1 + 1), b % (n2 + 1));
            let u = uplift(x1, n1, x2, n2).unwrap();
            prop_assert!(u.interval.low <= u.difference + 1e-12 && u.difference <= u.interval.high + 1e-12);
            prop_assert!(u.interval.low >= -1.0 && u.interval.high <= 1.0);
            let m = uplift(x2, n2, x1, n1).unwrap();
            prop_assert!((m.interval.low + u.interval.high).abs() < 1e-9);
            prop_assert!((m.p_value - u.p_value).abs() < 1e-12);
        }
    }
}
