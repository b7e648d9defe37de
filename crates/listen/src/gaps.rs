//! Expectation versus experience: for each respondent a pair of answers on the same scale —
//! what they expected of an area (or touchpoint) and what they got — and the mean gap
//! between the two with a paired t test.
//!
//! The gap of one respondent is `d = experience − expectation`: negative means the
//! experience fell short of the expectation. Over the valid pairs (finite answers, finite
//! positive weight) with weights `w`:
//!
//! ```text
//! gap  = Σ w·d / Σ w
//! sd²  = Σ w·(d − gap)² / Σ w · n_eff / (n_eff − 1)      n_eff = (Σ w)² / Σ w²
//! se   = sd / sqrt(n_eff),   df = n_eff − 1
//! 95 % interval  gap ± t_{0.975, df}·se
//! t    = gap / se,   p = 2·P(T_df > |t|)   (H0: no gap)
//! ```
//!
//! This is the paired t test of [`crate::metrics::mean`] applied to the differences, so
//! unweighted it is exactly the textbook paired t test. The minimum-sample warning is the
//! one of the metrics ([`crate::metrics::sample_warning`]).

use std::collections::BTreeMap;

use serde::Serialize;
use touchpoint_analytics::stats::{t_cdf, Interval};

use crate::metrics::{mean, Obs, Warning};

/// The gap between experience and expectation over a set of respondents.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GapResult {
    /// Number of valid pairs.
    pub n: usize,
    /// Kish's effective sample size (`n` when unweighted).
    pub n_eff: f64,
    /// The weighted mean expectation.
    pub expectation: f64,
    /// The weighted mean experience.
    pub experience: f64,
    /// The weighted mean of `experience − expectation` (= `experience − expectation` of the
    /// means); negative when below expectations.
    pub gap: f64,
    /// The weighted standard deviation of the differences; `None` for a single pair.
    pub sd: Option<f64>,
    /// The standard error of the gap, `sd / sqrt(n_eff)`; `None` with `sd`.
    pub se: Option<f64>,
    /// Degrees of freedom `n_eff − 1`; `None` with `sd`.
    pub df: Option<f64>,
    /// The paired t 95 % interval of the gap; `None` with `sd`.
    pub interval: Option<Interval>,
    /// The t statistic `gap / se`; `None` without `sd`, or when every difference is the same
    /// non-zero value (no spread: the test is undefined). 0 when every difference is 0.
    pub t: Option<f64>,
    /// The two-sided p-value against "no gap"; `None` with `t`.
    pub p: Option<f64>,
    /// The minimum-sample warning, if any.
    pub warning: Option<Warning>,
}

/// The gap over `(expectation, experience, weight)` triples (weight 1 for unweighted data);
/// pairs with a non-finite answer or a weight that is not a finite positive number are
/// ignored. `None` when no pair is valid.
pub fn gap(pairs: &[(f64, f64, f64)]) -> Option<GapResult> {
    let valid: Vec<(f64, f64, f64)> = pairs
        .iter()
        .copied()
        .filter(|&(e, x, w)| e.is_finite() && x.is_finite() && w.is_finite() && w > 0.0 && (x - e).is_finite())
        .collect();
    let diffs: Vec<Obs> = valid.iter().map(|&(e, x, w)| Obs::weighted(x - e, w)).collect();
    let expect: Vec<Obs> = valid.iter().map(|&(e, _, w)| Obs::weighted(e, w)).collect();
    let experience: Vec<Obs> = valid.iter().map(|&(_, x, w)| Obs::weighted(x, w)).collect();
    let d = mean(&diffs)?;
    let expectation = mean(&expect)?.mean;
    let experience = mean(&experience)?.mean;
    let (t, p) = match (d.se, d.df) {
        (Some(se), Some(df)) if se > 0.0 => {
            let t = d.mean / se;
            let p = (2.0 * t_cdf(-t.abs(), df)).min(1.0);
            if t.is_finite() && p.is_finite() {
                (Some(t), Some(p))
            } else {
                (None, None)
            }
        }
        (Some(_), Some(_)) if d.mean == 0.0 => (Some(0.0), Some(1.0)),
        _ => (None, None),
    };
    Some(GapResult {
        n: d.n,
        n_eff: d.n_eff,
        expectation,
        experience,
        gap: d.mean,
        sd: d.sd,
        se: d.se,
        df: d.df,
        interval: d.interval,
        t,
        p,
        warning: d.warning,
    })
}

/// [`gap`] per key (area, touchpoint) over `(key, expectation, experience, weight)` rows,
/// in ascending key order; keys without a valid pair are left out.
pub fn gaps_by<K: Ord + Clone>(rows: &[(K, f64, f64, f64)]) -> Vec<(K, GapResult)> {
    let mut groups: BTreeMap<&K, Vec<(f64, f64, f64)>> = BTreeMap::new();
    for (k, e, x, w) in rows {
        groups.entry(k).or_default().push((*e, *x, *w));
    }
    groups.into_iter().filter_map(|(k, pairs)| gap(&pairs).map(|g| (k.clone(), g))).collect()
}
