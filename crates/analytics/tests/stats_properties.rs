//! Properties of `stats` over random inputs: the CDFs are monotone and inverted by their
//! quantiles, BH q-values are at least the p-values and monotone in them, percentiles by
//! selection equal percentiles of the sorted values.

use proptest::prelude::*;
use touchpoint_analytics::stats::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn normal_cdf_is_monotone_and_symmetric(a in -40.0f64..40.0, b in -40.0f64..40.0) {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(normal_cdf(lo) <= normal_cdf(hi));
        let s = normal_cdf(a) + normal_cdf(-a);
        prop_assert!((s - 1.0).abs() < 1e-15, "Φ(x) + Φ(−x) = {s}");
        prop_assert!((0.0..=1.0).contains(&normal_cdf(a)));
    }

    #[test]
    fn normal_quantile_inverts_the_cdf(x in -37.0f64..37.0, p in 1e-300f64..1.0) {
        // Φ(x) rounds to 1 for large x: invert on the side where it has full precision.
        let back = if x <= 0.0 { normal_quantile(normal_cdf(x)) } else { -normal_quantile(normal_cdf(-x)) };
        prop_assert!((back - x).abs() <= 1e-9 * x.abs().max(1.0), "Φ⁻¹(Φ({x})) = {back}");
        let p2 = normal_cdf(normal_quantile(p));
        prop_assert!((p2 - p).abs() <= 1e-13 * p, "Φ(Φ⁻¹({p})) = {p2}");
    }

    #[test]
    fn t_cdf_is_monotone_and_inverted_by_the_quantile(
        a in -50.0f64..50.0, b in -50.0f64..50.0, df in 0.3f64..2000.0, p in 1e-10f64..1.0,
    ) {
        let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
        prop_assert!(t_cdf(lo, df) <= t_cdf(hi, df) + 1e-16);
        let s = t_cdf(a, df) + t_cdf(-a, df);
        prop_assert!((s - 1.0).abs() < 1e-14, "T(t) + T(−t) = {s}");
        let t = t_quantile(p, df);
        let back = t_cdf(t, df);
        prop_assert!((back - p).abs() <= 1e-11 * p.min(1.0 - p).max(1e-3), "T_{df}(T⁻¹({p})) = {back} (t = {t})");
        // T(t) rounds to 1 for large t: invert on the side where it has full precision.
        let lower = t_cdf(-a.abs(), df);
        prop_assume!(lower > 1e-290, "the tail underflows");
        let t2 = if a <= 0.0 { t_quantile(lower, df) } else { -t_quantile(lower, df) };
        prop_assert!((t2 - a).abs() <= 1e-8 * a.abs().max(1.0), "T⁻¹(T_{df}({a})) = {t2}");
    }

    #[test]
    fn t_tends_to_the_normal(x in -6.0f64..6.0) {
        prop_assert!((t_cdf(x, 1e7) - normal_cdf(x)).abs() < 1e-6);
    }

    #[test]
    fn bh_q_values_are_at_least_p_and_monotone(p in prop::collection::vec(0.0f64..=1.0, 0..60)) {
        let q = benjamini_hochberg(&p);
        prop_assert_eq!(q.len(), p.len());
        for i in 0..p.len() {
            prop_assert!(q[i] >= p[i] && q[i] <= 1.0, "q {} < p {}", q[i], p[i]);
            for j in 0..p.len() {
                if p[i] <= p[j] {
                    prop_assert!(q[i] <= q[j], "p {} ≤ {} but q {} > {}", p[i], p[j], q[i], q[j]);
                }
            }
        }
    }

    #[test]
    fn z_test_is_antisymmetric_and_p_in_range(x1 in 0u64..200, n1 in 0u64..200, x2 in 0u64..200, n2 in 0u64..200) {
        let a = two_proportion_z(x1, n1, x2, n2);
        let b = two_proportion_z(x2, n2, x1, n1);
        prop_assert!((a.z + b.z).abs() < 1e-12 && (a.p - b.p).abs() < 1e-15);
        prop_assert!((0.0..=1.0).contains(&a.p));
    }

    #[test]
    fn wilson_contains_the_estimate(x in 0u64..500, extra in 0u64..500, level in 0.5f64..0.999) {
        let n = x + extra;
        let w = wilson(x, n, level);
        let p = if n == 0 { 0.5 } else { x as f64 / n as f64 };
        prop_assert!(0.0 <= w.low && w.low <= p + 1e-15 && p <= w.high + 1e-15 && w.high <= 1.0);
        let wider = wilson(x, n, (level + 1.0) / 2.0);
        prop_assert!(wider.low <= w.low + 1e-15 && wider.high + 1e-15 >= w.high);
    }

    #[test]
    fn selection_percentile_equals_the_sorted_one(mut v in prop::collection::vec(0u32..1000, 0..50), q in 0.0f64..=1.0) {
        let mut sorted = v.clone();
        sorted.sort_unstable();
        prop_assert_eq!(percentile_in_place(&mut v, q), percentile_sorted(&sorted, q));
    }

    #[test]
    fn mean_interval_covers_the_mean(v in prop::collection::vec(-1e3f64..1e3, 2..40)) {
        let m = mean_t_interval(&v, 0.95).unwrap();
        prop_assert!(m.interval.low <= m.mean && m.mean <= m.interval.high);
        let w = mean_t_interval(&v, 0.99).unwrap();
        prop_assert!(w.interval.low <= m.interval.low + 1e-9 && w.interval.high + 1e-9 >= m.interval.high);
    }
}
