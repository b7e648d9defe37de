//! `gaps` against hand-computed paired t tests (t quantiles and p-values with 30-digit
//! mpmath arithmetic), through one data-driven [`check`] helper that reports all failures
//! together; plus the grouping helper and degenerate inputs.

// Reference values are written with all the digits they were computed to.
#![allow(clippy::excessive_precision)]

mod common;
use common::*;
use proptest::prelude::*;
use touchpoint_listen::gaps::*;
use touchpoint_listen::metrics::{mean, Obs};

fn or_nan(x: Option<f64>) -> f64 {
    x.unwrap_or(f64::NAN)
}

#[test]
fn paired_t_by_hand() {
    let mut cases = vec![];
    // (expectation, experience): (8, 6) (7, 7) (9, 6) (6, 7) → d = −2 0 −3 1, gap −1;
    // deviations −1 1 −2 2, Σ = 10, sd = sqrt(10/3), se = sd/2, t = −1.0954, df 3.
    let g = gap(&[(8.0, 6.0, 1.0), (7.0, 7.0, 1.0), (9.0, 6.0, 1.0), (6.0, 7.0, 1.0)]).expect("gap");
    cases.push(case("4 pairs: expectation", g.expectation, 7.5, 1e-12));
    cases.push(case("4 pairs: experience", g.experience, 6.5, 1e-12));
    cases.push(case("4 pairs: gap", g.gap, -1.0, 1e-12));
    cases.push(case("4 pairs: sd", or_nan(g.sd), (10.0f64 / 3.0).sqrt(), 1e-12));
    cases.push(case("4 pairs: se", or_nan(g.se), 0.91287092917527685576161630466801, 1e-12));
    cases.push(case("4 pairs: t", or_nan(g.t), -1.0954451150103322269139395656, 1e-12));
    cases.push(case("4 pairs: p", or_nan(g.p), 0.353387466288697988365995854783, 1e-10));
    cases.push(case("4 pairs: low", g.interval.map_or(f64::NAN, |i| i.low), -3.90516271575476676649576392928953, 1e-9));
    cases.push(case(
        "4 pairs: high",
        g.interval.map_or(f64::NAN, |i| i.high),
        1.90516271575476676649576392928953,
        1e-9,
    ));
    assert_eq!((g.n, g.n_eff), (4, 4.0));
    assert_eq!(g.warning.as_ref().map(|w| w.code), Some("very_small_sample"));

    // Weighted: (5, 3) w 2, (4, 6) w 1 → d = −2 (w 2), 2 (w 1): gap −2/3, expectation 14/3,
    // experience 4; Σw(d − gap)²/Σw = (2·16/9 + 64/9)/3 = 32/9, n_eff 1.8,
    // sd² = 32/9 · 1.8/0.8 = 8, se = sqrt(8/1.8), df 0.8.
    let g = gap(&[(5.0, 3.0, 2.0), (4.0, 6.0, 1.0)]).expect("gap");
    cases.push(case("weighted: gap", g.gap, -2.0 / 3.0, 1e-12));
    cases.push(case("weighted: expectation", g.expectation, 14.0 / 3.0, 1e-12));
    cases.push(case("weighted: experience", g.experience, 4.0, 1e-12));
    cases.push(case("weighted: n_eff", g.n_eff, 1.8, 1e-12));
    cases.push(case("weighted: sd", or_nan(g.sd), 8.0f64.sqrt(), 1e-12));
    cases.push(case("weighted: t", or_nan(g.t), -0.316227766016837933199889354443, 1e-12));
    cases.push(case("weighted: p", or_nan(g.p), 0.814538424311651187811920279585, 1e-9));
    cases.push(case(
        "weighted: low",
        g.interval.map_or(f64::NAN, |i| i.low),
        -49.8462734836978111273163384308579,
        1e-6,
    ));
    cases.push(case(
        "weighted: high",
        g.interval.map_or(f64::NAN, |i| i.high),
        48.5129401503644777939830050975287,
        1e-6,
    ));

    // n = 2: d = −1 −2, gap −1.5, se 0.5, t −3, df 1: p = 1 − 2·atan(3)/π = 0.2048.
    let g = gap(&[(7.0, 6.0, 1.0), (9.0, 7.0, 1.0)]).expect("gap");
    cases.push(case("n=2: t", or_nan(g.t), -3.0, 1e-12));
    cases.push(case("n=2: p", or_nan(g.p), 1.0 - 2.0 * 3.0f64.atan() / std::f64::consts::PI, 1e-12));
    cases.push(case("n=2: low", g.interval.map_or(f64::NAN, |i| i.low), -7.85310236808735232301083998942645, 1e-9));
    check(&cases);
}

#[test]
fn degenerate_gaps() {
    // One pair: the gap, no test.
    let g = gap(&[(8.0, 6.5, 1.0)]).expect("gap");
    assert_eq!((g.gap, g.sd, g.interval, g.t, g.p), (-1.5, None, None, None, None));
    // The same non-zero gap everywhere: no spread, the test is undefined.
    let g = gap(&[(8.0, 6.0, 1.0), (7.0, 5.0, 1.0), (9.0, 7.0, 1.0)]).expect("gap");
    assert_eq!((g.gap, g.sd, g.t, g.p), (-2.0, Some(0.0), None, None));
    // No gap anywhere: t = 0, p = 1.
    let g = gap(&[(8.0, 8.0, 1.0), (5.0, 5.0, 1.0)]).expect("gap");
    assert_eq!((g.t, g.p), (Some(0.0), Some(1.0)));
    // Invalid pairs are ignored; none valid gives None.
    let g = gap(&[(8.0, 6.0, 1.0), (f64::NAN, 5.0, 1.0), (7.0, f64::INFINITY, 1.0), (7.0, 5.0, 0.0), (7.0, 5.0, -2.0)])
        .expect("gap");
    assert_eq!(g.n, 1);
    assert!(gap(&[]).is_none());
    assert!(gap(&[(1.0, 2.0, 0.0), (f64::NAN, 1.0, 1.0)]).is_none());
    assert!(gap(&[(f64::MAX, -f64::MAX, 1.0)]).is_none());
}

#[test]
fn gaps_by_area() {
    let rows = vec![
        ("service", 8.0, 6.0, 1.0),
        ("delivery", 7.0, 8.0, 1.0),
        ("service", 9.0, 8.0, 1.0),
        ("delivery", 6.0, 8.0, 1.0),
        ("assortment", f64::NAN, 8.0, 1.0),
    ];
    let out = gaps_by(&rows);
    let keys: Vec<&str> = out.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, ["delivery", "service"]);
    check(&[case("delivery gap", out[0].1.gap, 1.5, 1e-12), case("service gap", out[1].1.gap, -1.5, 1e-12)]);
    assert_eq!(out[1].1.n, 2);
    let by_id = gaps_by(&[(2u32, 5.0, 4.0, 1.0), (1u32, 5.0, 5.0, 1.0)]);
    assert_eq!(by_id.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [1, 2]);
    assert!(gaps_by::<String>(&[]).is_empty());
}

proptest! {
    #[test]
    fn gap_is_the_mean_of_differences(rows in prop::collection::vec((0u8..=10, 0u8..=10, 1u32..=4), 1..40)) {
        let pairs: Vec<(f64, f64, f64)> =
            rows.iter().map(|&(e, x, w)| (f64::from(e), f64::from(x), f64::from(w))).collect();
        let g = gap(&pairs).expect("gap");
        let d: Vec<Obs> = pairs.iter().map(|&(e, x, w)| Obs::weighted(x - e, w)).collect();
        let m = mean(&d).expect("mean");
        prop_assert!((g.gap - m.mean).abs() <= 1e-12);
        prop_assert!((g.gap - (g.experience - g.expectation)).abs() <= 1e-9);
        if let Some(p) = g.p {
            prop_assert!((0.0..=1.0).contains(&p));
        }
        if let Some(i) = g.interval {
            prop_assert!(i.low <= g.gap + 1e-9 && g.gap <= i.high + 1e-9);
        }
    }
}
