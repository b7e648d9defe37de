//! `metrics` against values computed by hand (the arithmetic is in the comments) or with
//! 30-digit arithmetic (Python mpmath: t quantiles and p-values), through one data-driven
//! [`check`] helper that reports every failing row together; plus properties of weighting.

// Reference values are written with all the digits they were computed to.
#![allow(clippy::excessive_precision)]

mod common;
use common::*;
use proptest::prelude::*;
use touchpoint_analytics::stats::{mean_t_interval, two_proportion_z, wilson};
use touchpoint_core::calendar::{days_from_civil, Clock};
use touchpoint_listen::metrics::*;

fn obs(values: &[f64]) -> Vec<Obs> {
    values.iter().map(|&v| Obs::new(v)).collect()
}

const TOL: f64 = 1e-9;

#[test]
fn nps_matches_hand_computed_values() {
    let mut cases = vec![];
    // 10 10 9 | 8 7 | 6 3: pP = 3/7, pD = 2/7, NPS = 100/7;
    // var = 3/7·4/7 + 2/7·5/7 + 2·3/7·2/7 = 34/49, SE = 100·sqrt(34/343).
    let r = nps(&obs(&[10.0, 10.0, 9.0, 8.0, 7.0, 6.0, 3.0])).expect("nps");
    cases.push(case("7 answers: score", r.score, 100.0 / 7.0, TOL));
    cases.push(case("7 answers: se", r.se, 100.0 * (34.0f64 / 343.0).sqrt(), TOL));
    cases.push(case("7 answers: low", r.interval.low, -47.4221462791971388071326606305361, TOL));
    cases.push(case("7 answers: high", r.interval.high, 75.9935748506257102357040892019764, TOL));
    cases.push(case("7 answers: n_eff", r.n_eff, 7.0, 0.0));
    cases.push(case("7 answers: promoters %", r.promoters_pct, 300.0 / 7.0, TOL));
    cases.push(case("7 answers: passives %", r.passives_pct, 200.0 / 7.0, TOL));
    cases.push(case("7 answers: detractors %", r.detractors_pct, 200.0 / 7.0, TOL));
    assert_eq!((r.n, r.promoters, r.passives, r.detractors), (7, 3, 2, 2));
    assert_eq!(r.warning.as_ref().map(|w| w.code), Some("very_small_sample"));

    // Weighted: 10 (w 2), 0 (w 1): pP = 2/3, pD = 1/3, NPS = 33.3; n_eff = 3²/5 = 1.8;
    // var = 2/9 + 2/9 + 4/9 = 8/9, SE = 100·sqrt(8/9 / 1.8) = 70.27; ±137.7 clamps both ends.
    let r = nps(&[Obs::weighted(10.0, 2.0), Obs::weighted(0.0, 1.0)]).expect("nps");
    cases.push(case("weighted: score", r.score, 100.0 / 3.0, TOL));
    cases.push(case("weighted: n_eff", r.n_eff, 1.8, 1e-12));
    cases.push(case("weighted: total weight", r.total_weight, 3.0, 1e-12));
    cases.push(case("weighted: se", r.se, 70.2728368926306518221976343207393, TOL));
    cases.push(case("weighted: low clamped", r.interval.low, -100.0, 0.0));
    cases.push(case("weighted: high clamped", r.interval.high, 100.0, 0.0));

    // 10 10 0: NPS 33.3, SE = 100·sqrt(8/9/3) = 54.43; the high end clamps at 100 only.
    let r = nps(&obs(&[10.0, 10.0, 0.0])).expect("nps");
    cases.push(case("clamp: low", r.interval.low, -73.3535928078957845330754846314145, TOL));
    cases.push(case("clamp: high", r.interval.high, 100.0, 0.0));

    // All promoters: 100 with no spread; all detractors: −100.
    let r = nps(&obs(&[9.0, 10.0, 9.0, 10.0, 10.0])).expect("nps");
    cases.push(case("all promoters: score", r.score, 100.0, 0.0));
    cases.push(case("all promoters: se", r.se, 0.0, 0.0));
    cases.push(case("all promoters: low", r.interval.low, 100.0, 0.0));
    let r = nps(&obs(&[0.0, 6.0, 3.0])).expect("nps");
    cases.push(case("all detractors: score", r.score, -100.0, 0.0));
    cases.push(case("all detractors: high", r.interval.high, -100.0, 0.0));

    // n = 1, a passive: 0 ± 0.
    let r = nps(&obs(&[8.0])).expect("nps");
    cases.push(case("n=1: score", r.score, 0.0, 0.0));
    cases.push(case("n=1: se", r.se, 0.0, 0.0));

    // Out of scale, NaN values and non-positive weights are ignored: only 10 and 0 count.
    let r = nps(&[
        Obs::new(10.0),
        Obs::new(0.0),
        Obs::new(11.0),
        Obs::new(-1.0),
        Obs::new(f64::NAN),
        Obs::weighted(10.0, 0.0),
        Obs::weighted(10.0, -1.0),
        Obs::weighted(10.0, f64::INFINITY),
    ])
    .expect("nps");
    assert_eq!(r.n, 2);
    cases.push(case("ignored: score", r.score, 0.0, 0.0));
    check(&cases);

    assert!(nps(&[]).is_none());
    assert!(nps(&obs(&[11.0, f64::NAN])).is_none());
    assert!(nps(&[Obs::weighted(9.0, 0.0)]).is_none());
}

#[test]
fn kish_effective_n() {
    check(&[
        // Unweighted: n.
        case("unweighted", kish_n_eff(&[1.0; 13]), 13.0, 0.0),
        // (2 + 1)² / (4 + 1) = 1.8.
        case("2 and 1", kish_n_eff(&[2.0, 1.0]), 1.8, 1e-15),
        // (1 + 1 + 2)² / (1 + 1 + 4) = 16/6.
        case("1 1 2", kish_n_eff(&[1.0, 1.0, 2.0]), 16.0 / 6.0, 1e-15),
        // Equal weights of any size: n.
        case("equal 1e300", kish_n_eff(&[1e300; 4]), 4.0, 1e-12),
        // Unusable weights ignored.
        case("ignored", kish_n_eff(&[2.0, 1.0, 0.0, -3.0, f64::NAN]), 1.8, 1e-15),
        case("none", kish_n_eff(&[]), 0.0, 0.0),
    ]);
}

#[test]
fn csat_matches_wilson() {
    let mut cases = vec![];
    // 5 4 3 2 1 5 4 4: five of eight are 4–5 = 62.5 %; Wilson(5, 8).
    let r = csat(&obs(&[5.0, 4.0, 3.0, 2.0, 1.0, 5.0, 4.0, 4.0])).expect("csat");
    let w = wilson(5, 8, 0.95);
    cases.push(case("5/8: score", r.score, 62.5, TOL));
    cases.push(case("5/8: low = stats::wilson", r.interval.low, 100.0 * w.low, 1e-10));
    cases.push(case("5/8: high = stats::wilson", r.interval.high, 100.0 * w.high, 1e-10));
    cases.push(case("5/8: low (mpmath)", r.interval.low, 30.5742394602627289671662916168133, TOL));
    cases.push(case("5/8: high (mpmath)", r.interval.high, 86.3155714176402643937339155174064, TOL));
    assert_eq!((r.n, r.successes), (8, 5));
    // Weighted: 5 (w 2), 1 (w 1): p = 2/3 on n_eff = 1.8.
    let r = csat(&[Obs::weighted(5.0, 2.0), Obs::weighted(1.0, 1.0)]).expect("csat");
    cases.push(case("weighted: score", r.score, 200.0 / 3.0, TOL));
    cases.push(case("weighted: low", r.interval.low, 14.7963823488278733000432365264305, TOL));
    cases.push(case("weighted: high", r.interval.high, 95.8391645738770576205692554127551, TOL));
    // All satisfied: 100 %, Wilson low = n / (n + z²) = 4 / (4 + 3.8415).
    let r = csat(&obs(&[5.0, 4.0, 5.0, 4.0])).expect("csat");
    let z2 = 1.959963984540054f64.powi(2);
    cases.push(case("all satisfied: score", r.score, 100.0, 0.0));
    cases.push(case("all satisfied: low", r.interval.low, 100.0 * 4.0 / (4.0 + z2), 1e-9));
    cases.push(case("all satisfied: high", r.interval.high, 100.0, 0.0));
    // One answer (3): 0 %, low 0, high = z² / (1 + z²).
    let r = csat(&obs(&[3.0])).expect("csat");
    cases.push(case("n=1: score", r.score, 0.0, 0.0));
    cases.push(case("n=1: high", r.interval.high, 100.0 * z2 / (1.0 + z2), 1e-9));
    // wilson_fractional on whole counts agrees with stats::wilson.
    for (x, n) in [(0u64, 1u64), (3, 7), (50, 100), (99, 100), (1, 1000)] {
        let a = wilson_fractional(x as f64 / n as f64, n as f64, 0.95).expect("interval");
        let b = wilson(x, n, 0.95);
        cases.push(case(format!("wilson_fractional {x}/{n} low"), a.low, b.low, 1e-14));
        cases.push(case(format!("wilson_fractional {x}/{n} high"), a.high, b.high, 1e-14));
    }
    check(&cases);
    assert!(csat(&obs(&[0.0, 6.0])).is_none());
    assert!(wilson_fractional(0.5, 0.0, 0.95).is_none());
}

#[test]
fn means_match_t_intervals() {
    let mut cases = vec![];
    // CES 1..7: mean 4, sd = sqrt(28/6), se = sd/sqrt(7), t(0.975, 6) = 2.4469.
    let r = mean(&obs(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0])).expect("mean");
    cases.push(case("1..7: mean", r.mean, 4.0, TOL));
    cases.push(case("1..7: sd", r.sd.unwrap_or(f64::NAN), (28.0f64 / 6.0).sqrt(), TOL));
    cases.push(case("1..7: se", r.se.unwrap_or(f64::NAN), 0.816496580927726032732428024901953, TOL));
    cases.push(case("1..7: low", r.interval.map_or(f64::NAN, |i| i.low), 2.0021048397085991103089027271805, 1e-9));
    cases.push(case("1..7: high", r.interval.map_or(f64::NAN, |i| i.high), 5.9978951602914008896910972728195, 1e-9));
    // Agrees with stats::mean_t_interval when unweighted.
    let values = [7.5, 8.0, 6.0, 9.5, 10.0, 3.0, 8.0, 8.0, 7.0];
    let a = mean(&obs(&values)).expect("mean");
    let b = mean_t_interval(&values, 0.95).expect("mean");
    cases.push(case("vs mean_t_interval: mean", a.mean, b.mean, 1e-12));
    cases.push(case("vs mean_t_interval: sd", a.sd.unwrap_or(f64::NAN), b.sd, 1e-12));
    cases.push(case("vs mean_t_interval: low", a.interval.map_or(f64::NAN, |i| i.low), b.interval.low, 1e-10));
    cases.push(case("vs mean_t_interval: high", a.interval.map_or(f64::NAN, |i| i.high), b.interval.high, 1e-10));
    // Weighted: 2 (w 2), 5 (w 1): mean (4 + 5)/3 = 3; Σw(x − m)²/Σw = (2·1 + 1·4)/3 = 2;
    // n_eff 1.8, sd² = 2·1.8/0.8 = 4.5, se = sqrt(4.5/1.8) = 1.5811, df 0.8.
    let r = mean(&[Obs::weighted(2.0, 2.0), Obs::weighted(5.0, 1.0)]).expect("mean");
    cases.push(case("weighted: mean", r.mean, 3.0, TOL));
    cases.push(case("weighted: sd", r.sd.unwrap_or(f64::NAN), 4.5f64.sqrt(), TOL));
    cases.push(case("weighted: se", r.se.unwrap_or(f64::NAN), 2.5f64.sqrt(), TOL));
    cases.push(case("weighted: df", r.df.unwrap_or(f64::NAN), 0.8, 1e-12));
    cases.push(case(
        "weighted: low",
        r.interval.map_or(f64::NAN, |i| i.low),
        -33.8847051127733583454872538231434,
        1e-7,
    ));
    cases.push(case(
        "weighted: high",
        r.interval.map_or(f64::NAN, |i| i.high),
        39.8847051127733583454872538231434,
        1e-7,
    ));
    // n = 2: 3 and 4, mean 3.5, se 0.5, t(0.975, 1) = 12.7062.
    let r = mean(&obs(&[3.0, 4.0])).expect("mean");
    cases.push(case("n=2: low", r.interval.map_or(f64::NAN, |i| i.low), -2.85310236808735232301083998942645, 1e-9));
    cases.push(case("n=2: high", r.interval.map_or(f64::NAN, |i| i.high), 9.85310236808735232301083998942645, 1e-9));
    // Constant answers: zero-width interval, no NaN.
    let r = mean(&obs(&[6.0, 6.0, 6.0])).expect("mean");
    cases.push(case("constant: sd", r.sd.unwrap_or(f64::NAN), 0.0, 0.0));
    cases.push(case("constant: low", r.interval.map_or(f64::NAN, |i| i.low), 6.0, 0.0));
    check(&cases);
    // One answer: the mean, no interval.
    let r = mean(&obs(&[4.0])).expect("mean");
    assert_eq!((r.mean, r.sd, r.se, r.interval), (4.0, None, None, None));
    assert!(mean(&[]).is_none());
    // CES ignores answers outside 1–7; Mean does not.
    let r = compute(Metric::Ces, &obs(&[1.0, 7.0, 0.0, 8.0])).expect("ces");
    assert_eq!((r.n, r.score), (2, 4.0));
    let r = compute(Metric::Mean, &obs(&[1.0, 7.0, 0.0, 8.0])).expect("mean");
    assert_eq!((r.n, r.score), (4, 4.0));
}

#[test]
fn sample_warnings() {
    let n = |k: usize| obs(&vec![5.0; k]);
    let code = |k: usize| compute(Metric::Mean, &n(k)).and_then(|r| r.warning).map(|w| w.code);
    assert_eq!(code(1), Some("very_small_sample"));
    assert_eq!(code(9), Some("very_small_sample"));
    assert_eq!(code(10), Some("small_sample"));
    assert_eq!(code(29), Some("small_sample"));
    assert_eq!(code(30), None);
    // 40 answers, but weights 1 and 10 alternating: n_eff = (20·11)² / (20·101) = 23.96.
    let weighted: Vec<Obs> = (0..40).map(|i| Obs::weighted(5.0, if i % 2 == 0 { 1.0 } else { 10.0 })).collect();
    let w = mean(&weighted).and_then(|r| r.warning).expect("warning");
    assert_eq!(w.code, "small_sample");
    check(&[case("warning n_eff", w.n_eff, 220.0 * 220.0 / 2020.0, 1e-9)]);
    assert!(w.message.cs.contains("odpovědí") && w.message.pl.contains("odpowiedzi"));
}

#[test]
fn distribution_covers_the_whole_scale() {
    let d = distribution(&[Obs::new(1.0), Obs::new(1.0), Obs::weighted(5.0, 2.0), Obs::new(9.0)], Scale::Csat);
    let values: Vec<i32> = d.iter().map(|b| b.value).collect();
    assert_eq!(values, vec![1, 2, 3, 4, 5]);
    let counts: Vec<usize> = d.iter().map(|b| b.count).collect();
    assert_eq!(counts, vec![2, 0, 0, 0, 1]);
    // Weights 1 + 1 + 2 = 4 on the scale (9 is off it): 50 %, 0, 0, 0, 50 %.
    check(&[case("pct of 1", d[0].pct, 50.0, 1e-12), case("pct of 5", d[4].pct, 50.0, 1e-12)]);
    assert_eq!(distribution(&[], Scale::Nps).len(), 11);
    assert!(distribution(&[], Scale::Nps).iter().all(|b| b.pct == 0.0));
    assert_eq!(distribution(&[], Scale::Ces).len(), 7);
    assert_eq!(distribution(&[], Scale::RATING_0_10).len(), 11);
    assert!(distribution(&[], Scale::Rating { min: 5, max: 1 }).is_empty());
    assert!(distribution(&[], Scale::Rating { min: i32::MIN, max: i32::MAX }).is_empty());
}

#[test]
fn comparisons_match_reference_tests() {
    let mut cases = vec![];
    // Welch: a = 1..4 (mean 2.5, var 5/3), b = 2,4,..,10 (mean 6, var 10):
    // va = 5/12, vb = 2, se = sqrt(29/12), t = −3.5/se, df = (29/12)² / ((5/12)²/3 + 4/4).
    let c = compare(Metric::Mean, &obs(&[1.0, 2.0, 3.0, 4.0]), &obs(&[2.0, 4.0, 6.0, 8.0, 10.0])).expect("welch");
    assert_eq!(c.test, Test::WelchT);
    cases.push(case("welch: diff", c.diff, -3.5, TOL));
    cases.push(case("welch: se", c.se, (29.0f64 / 12.0).sqrt(), TOL));
    cases.push(case("welch: t", c.statistic, -2.25143632315936914892694237228, TOL));
    cases.push(case("welch: df", c.df.unwrap_or(f64::NAN), 5.52078774617067833698030634573, TOL));
    cases.push(case("welch: p", c.p, 0.0691335931923924129724721915329, 1e-9));
    cases.push(case("welch: low", c.interval.low, -7.38536808051404473319457741664, 1e-8));
    cases.push(case("welch: high", c.interval.high, 0.385368080514044733194577416641, 1e-8));
    assert!(!c.significant);

    // NPS: a = 10 10 9 8 7 6 3 (100/7, SE 31.484), b = 10 5 5 6 0 8 (−50, SE 31.180).
    let c = compare(Metric::Nps, &obs(&[10.0, 10.0, 9.0, 8.0, 7.0, 6.0, 3.0]), &obs(&[10.0, 5.0, 5.0, 6.0, 0.0, 8.0]))
        .expect("nps z");
    assert_eq!(c.test, Test::NpsZ);
    cases.push(case("nps: diff", c.diff, 64.2857142857142857142857142857, TOL));
    cases.push(case("nps: se", c.se, 44.3111257647229159955407023131, TOL));
    cases.push(case("nps: z", c.statistic, 1.4507804344003733024236011341, TOL));
    cases.push(case("nps: p", c.p, 0.146841009513800690944897765159, 1e-12));
    cases.push(case("nps: low", c.interval.low, -22.5624963275674985265331610253, TOL));
    cases.push(case("nps: high", c.interval.high, 151.133924898996069955104589597, TOL));

    // CSAT unweighted: the pooled z test of stats::two_proportion_z (30/50 vs 20/50).
    let a: Vec<Obs> = (0..50).map(|i| Obs::new(if i < 30 { 5.0 } else { 2.0 })).collect();
    let b: Vec<Obs> = (0..50).map(|i| Obs::new(if i < 20 { 4.0 } else { 3.0 })).collect();
    let c = compare(Metric::Csat, &a, &b).expect("csat");
    let z = two_proportion_z(30, 50, 20, 50);
    assert_eq!(c.test, Test::TwoProportionZ);
    cases.push(case("csat: diff", c.diff, 20.0, TOL));
    cases.push(case("csat: z = stats", c.statistic, z.z, 1e-12));
    cases.push(case("csat: p = stats", c.p, z.p, 1e-12));
    assert!(c.significant);
    // CSAT weighted: a = 5 (w 2), 1 (w 1): p 2/3 on n_eff 1.8; b = 4 4 2 1: 1/2 on 4.
    // p̂ = (2/3·1.8 + 2) / 5.8, se = 100·sqrt(p̂(1 − p̂)(1/1.8 + 1/4)).
    let c = compare(Metric::Csat, &[Obs::weighted(5.0, 2.0), Obs::weighted(1.0, 1.0)], &obs(&[4.0, 4.0, 2.0, 1.0]))
        .expect("csat weighted");
    cases.push(case("csat w: diff", c.diff, 100.0 / 6.0, TOL));
    cases.push(case("csat w: se", c.se, 44.635604227465744640371230144, TOL));
    cases.push(case("csat w: z", c.statistic, 0.373393996902838440741567021397, TOL));
    cases.push(case("csat w: p", c.p, 0.708855226742646419307056617213, 1e-12));
    cases.push(case("csat w: Newcombe low", c.interval.low, -45.9053197677588146742472777993, TOL));
    cases.push(case("csat w: Newcombe high", c.interval.high, 62.2271948164004891322808402653, TOL));
    check(&cases);

    // Degenerate: equal scores without spread give p = 1; different scores without spread,
    // an empty group, or a single answer give None.
    let c = compare(Metric::Nps, &obs(&[10.0, 9.0]), &obs(&[10.0, 10.0, 9.0])).expect("equal");
    assert_eq!((c.statistic, c.p, c.significant), (0.0, 1.0, false));
    assert!(compare(Metric::Nps, &obs(&[10.0, 9.0]), &obs(&[0.0, 1.0])).is_none());
    assert!(compare(Metric::Nps, &obs(&[10.0]), &[]).is_none());
    assert!(compare(Metric::Mean, &obs(&[3.0]), &obs(&[4.0, 5.0])).is_none());
    let c = compare(Metric::Csat, &obs(&[5.0, 5.0]), &obs(&[4.0])).expect("csat all satisfied");
    assert_eq!((c.statistic, c.p), (0.0, 1.0));
}

#[test]
fn compare_many_adjusts_p_values() {
    let group = |values: &[f64], times: usize| -> Vec<Obs> {
        values.iter().cycle().take(values.len() * times).map(|&v| Obs::new(v)).collect()
    };
    let groups = vec![
        ("low".to_string(), group(&[1.0, 2.0, 3.0], 20)),
        ("mid".to_string(), group(&[3.0, 4.0, 5.0], 20)),
        ("high".to_string(), group(&[5.0, 6.0, 7.0], 20)),
        ("empty".to_string(), vec![]),
    ];
    let out = compare_many(Metric::Ces, &groups);
    assert_eq!(out.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(), ["low", "mid", "high", "empty"]);
    assert!(out[3].comparison.is_none() && out[3].q.is_none() && !out[3].significant);
    // The p-values of the three defined comparisons, adjusted by hand with BH.
    let p: Vec<f64> = out[..3].iter().map(|g| g.comparison.as_ref().map_or(f64::NAN, |c| c.p)).collect();
    let mut order = [0usize, 1, 2];
    order.sort_by(|&a, &b| p[a].total_cmp(&p[b]));
    let mut want = [0.0; 3];
    let mut running = 1.0f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        running = running.min(p[i] * 3.0 / (rank + 1) as f64);
        want[i] = running;
    }
    let mut cases = vec![];
    for i in 0..3 {
        cases.push(case(format!("q of {}", out[i].name), out[i].q.unwrap_or(f64::NAN), want[i], 1e-15));
    }
    // "mid" against the rest (low + high): means 4 vs 4, no difference.
    let mid = out[1].comparison.as_ref().expect("mid");
    cases.push(case("mid vs rest: diff", mid.diff, 0.0, 1e-12));
    check(&cases);
    assert!(out[0].significant && out[2].significant && !out[1].significant);
    assert!(out[0].comparison.as_ref().is_some_and(|c| c.diff < 0.0));
}

/// Unix seconds of a local wall time.
fn ts(y: i64, m: u32, d: u32, h: i64, min: i64) -> i64 {
    days_from_civil(y, m, d) * 86_400 + h * 3600 + min * 60
}

fn starts(points: &[TrendPoint]) -> Vec<(&str, Option<usize>)> {
    points.iter().map(|p| (p.start.as_str(), p.result.as_ref().map(|r| r.n))).collect()
}

#[test]
fn trend_buckets_and_gaps() {
    let at = |t: i64, v: f64| (t, Obs::new(v));
    // Across a month boundary: 2024-01-31 23:30 and 2024-02-01 00:30 UTC.
    let data = [at(ts(2024, 1, 31, 23, 30), 10.0), at(ts(2024, 2, 1, 0, 30), 0.0)];
    let month = trend(Metric::Nps, &data, Bucket::Month, &Clock::fixed(0));
    assert_eq!(starts(&month), [("2024-01-01", Some(1)), ("2024-02-01", Some(1))]);
    // One hour east (UTC+1) both answers are in February.
    let month = trend(Metric::Nps, &data, Bucket::Month, &Clock::fixed(3600));
    assert_eq!(starts(&month), [("2024-02-01", Some(2))]);
    assert_eq!(month[0].result.as_ref().map(|r| r.score), Some(0.0));
    // One hour west (UTC−1) the 00:30 answer moves to the previous day, 2024-01-31.
    let day = trend(Metric::Nps, &data, Bucket::Day, &Clock::fixed(-3600));
    assert_eq!(starts(&day), [("2024-01-31", Some(2))]);
    let day = trend(Metric::Nps, &data, Bucket::Day, &Clock::fixed(0));
    assert_eq!(starts(&day), [("2024-01-31", Some(1)), ("2024-02-01", Some(1))]);
    assert_eq!(day[1].start_day, days_from_civil(2024, 2, 1));

    // Weeks start on Monday: Sunday 2024-01-07 is in the week of Monday 2024-01-01, Monday
    // 2024-01-08 starts the next; the week of 01-15 is empty, 01-22 (Wednesday 24th) has one.
    let data = [
        at(ts(2024, 1, 7, 12, 0), 5.0),
        at(ts(2024, 1, 8, 12, 0), 4.0),
        at(ts(2024, 1, 8, 13, 0), 6.0),
        at(ts(2024, 1, 24, 9, 0), 7.0),
    ];
    let week = trend(Metric::Ces, &data, Bucket::Week, &Clock::fixed(0));
    assert_eq!(
        starts(&week),
        [("2024-01-01", Some(1)), ("2024-01-08", Some(2)), ("2024-01-15", None), ("2024-01-22", Some(1))]
    );
    assert_eq!(week[1].result.as_ref().map(|r| r.score), Some(5.0));
    // Sunday 23:30 UTC is Monday 00:30 at UTC+1: the next week.
    let week = trend(Metric::Ces, &[at(ts(2024, 1, 7, 23, 30), 5.0)], Bucket::Week, &Clock::fixed(3600));
    assert_eq!(starts(&week), [("2024-01-08", Some(1))]);
    // A zone with daylight saving time: Prague moves from +1 h to +2 h at 01:00 UTC on
    // 29 March 2026. 22:30 UTC on the 28th is still the 28th (23:30); 22:30 UTC on the 29th
    // is already the 30th (00:30 summer time), where a fixed +1 h would say the 29th.
    let prague = Clock { base_s: 3600, changes: vec![(ts(2026, 3, 29, 1, 0), 7200)] };
    let data = [at(ts(2026, 3, 28, 22, 30), 10.0), at(ts(2026, 3, 29, 22, 30), 0.0)];
    let day = trend(Metric::Nps, &data, Bucket::Day, &prague);
    assert_eq!(starts(&day), [("2026-03-28", Some(1)), ("2026-03-29", None), ("2026-03-30", Some(1))]);
    let day = trend(Metric::Nps, &data, Bucket::Day, &Clock::fixed(3600));
    assert_eq!(starts(&day), [("2026-03-28", Some(1)), ("2026-03-29", Some(1))]);

    // Months across a year boundary with an empty January; input order does not matter.
    let data = [at(ts(2024, 2, 10, 8, 0), 5.0), at(ts(2023, 12, 15, 8, 0), 4.0)];
    let month = trend(Metric::Csat, &data, Bucket::Month, &Clock::fixed(0));
    assert_eq!(starts(&month), [("2023-12-01", Some(1)), ("2024-01-01", None), ("2024-02-01", Some(1))]);

    // Days: a gap of two days is filled; a bucket whose answers are all off the scale is a
    // gap too.
    let data = [at(ts(2024, 3, 1, 8, 0), 5.0), at(ts(2024, 3, 2, 8, 0), 9.0), at(ts(2024, 3, 4, 8, 0), 4.0)];
    let day = trend(Metric::Csat, &data, Bucket::Day, &Clock::fixed(0));
    assert_eq!(
        starts(&day),
        [("2024-03-01", Some(1)), ("2024-03-02", None), ("2024-03-03", None), ("2024-03-04", Some(1))]
    );

    // Before 1970 and extreme times do not panic; a huge span is not filled.
    let day = trend(Metric::Mean, &[at(-1, 3.0)], Bucket::Day, &Clock::fixed(0));
    assert_eq!(starts(&day), [("1969-12-31", Some(1))]);
    let wide = trend(
        Metric::Mean,
        &[at(0, 1.0), at(i64::MAX, 2.0), at(i64::MIN, 3.0)],
        Bucket::Day,
        &Clock::fixed(i32::MIN as i64),
    );
    assert_eq!(wide.len(), 3);
    for bucket in [Bucket::Week, Bucket::Month] {
        let wide = trend(Metric::Mean, &[at(i64::MIN, 1.0), at(0, 2.0), at(i64::MAX, 3.0)], bucket, &Clock::fixed(0));
        assert_eq!(wide.len(), 3);
        assert_eq!(wide[1].start, if bucket == Bucket::Week { "1969-12-29" } else { "1970-01-01" });
    }
    assert!(trend(Metric::Mean, &[], Bucket::Month, &Clock::fixed(0)).is_empty());
}

#[test]
fn json_shape() {
    let r = compute(Metric::Nps, &obs(&[10.0, 9.0, 3.0])).expect("nps");
    let v = serde_json::to_value(&r).expect("json");
    assert_eq!(v["metric"], "nps");
    assert_eq!(v["warning"]["code"], "very_small_sample");
    assert_eq!(v["warning"]["message"]["cs"], "Méně než 10 efektivních odpovědí: výsledek není spolehlivý.");
    assert!(v["detail"]["nps"]["promoters"].is_number());
    assert_eq!(serde_json::to_value(Bucket::Week).expect("json"), "week");
    assert_eq!(serde_json::to_value(Scale::Rating { min: 0, max: 10 }).expect("json")["rating"]["max"], 10);
}

fn approx(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + a.abs().max(b.abs()))
}

proptest! {
    #[test]
    fn equal_weights_match_unweighted(values in prop::collection::vec(0u8..=10, 1..60), w in 0.01f64..1000.0) {
        let plain: Vec<Obs> = values.iter().map(|&v| Obs::new(f64::from(v))).collect();
        let weighted: Vec<Obs> = values.iter().map(|&v| Obs::weighted(f64::from(v), w)).collect();
        for metric in [Metric::Nps, Metric::Csat, Metric::Ces, Metric::Mean] {
            let a = compute(metric, &plain);
            let b = compute(metric, &weighted);
            prop_assert_eq!(a.is_some(), b.is_some());
            if let (Some(a), Some(b)) = (a, b) {
                prop_assert!(approx(a.score, b.score, 1e-12), "{:?} score {} vs {}", metric, a.score, b.score);
                prop_assert!(approx(a.n_eff, b.n_eff, 1e-12), "{:?} n_eff", metric);
                prop_assert_eq!(a.se.is_some(), b.se.is_some());
                if let (Some(x), Some(y)) = (a.se, b.se) {
                    prop_assert!(approx(x, y, 1e-9), "{:?} se {} vs {}", metric, x, y);
                }
                if let (Some(x), Some(y)) = (a.interval, b.interval) {
                    prop_assert!(approx(x.low, y.low, 1e-9) && approx(x.high, y.high, 1e-9), "{:?} interval", metric);
                }
                prop_assert_eq!(a.warning.map(|w| w.code), b.warning.map(|w| w.code));
            }
        }
    }

    #[test]
    fn integer_weights_match_repeated_answers(rows in prop::collection::vec((0u8..=10, 1u32..=5), 1..40)) {
        let weighted: Vec<Obs> = rows.iter().map(|&(v, w)| Obs::weighted(f64::from(v), f64::from(w))).collect();
        let repeated: Vec<Obs> = rows
            .iter()
            .flat_map(|&(v, w)| std::iter::repeat_n(Obs::new(f64::from(v)), w as usize))
            .collect();
        let (a, b) = (nps(&weighted), nps(&repeated));
        prop_assert_eq!(a.is_some(), b.is_some());
        if let (Some(a), Some(b)) = (a, b) {
            prop_assert!(approx(a.score, b.score, 1e-12));
            prop_assert!(approx(a.promoters_pct, b.promoters_pct, 1e-12));
            prop_assert!(approx(a.passives_pct, b.passives_pct, 1e-12));
            prop_assert!(approx(a.detractors_pct, b.detractors_pct, 1e-12));
            prop_assert!(approx(a.total_weight, b.total_weight, 1e-12));
        }
        let (a, b) = (csat(&weighted), csat(&repeated));
        prop_assert_eq!(a.is_some(), b.is_some());
        if let (Some(a), Some(b)) = (a, b) {
            prop_assert!(approx(a.score, b.score, 1e-12));
        }
        let (a, b) = (mean(&weighted), mean(&repeated));
        if let (Some(a), Some(b)) = (a, b) {
            prop_assert!(approx(a.mean, b.mean, 1e-12));
        }
        let (a, b) = (distribution(&weighted, Scale::Nps), distribution(&repeated, Scale::Nps));
        for (x, y) in a.iter().zip(&b) {
            prop_assert!(approx(x.pct, y.pct, 1e-12));
        }
    }

    #[test]
    fn outputs_are_never_nan(rows in prop::collection::vec((-2.0f64..12.0, -1.0f64..5.0), 0..30)) {
        let data: Vec<Obs> = rows.iter().map(|&(v, w)| Obs::weighted(v.round(), w)).collect();
        for metric in [Metric::Nps, Metric::Csat, Metric::Ces, Metric::Mean] {
            if let Some(r) = compute(metric, &data) {
                let json = serde_json::to_string(&r).expect("json");
                prop_assert!(!json.contains("NaN"));
                prop_assert!(r.score.is_finite() && r.n_eff.is_finite());
                if let Some(i) = r.interval {
                    prop_assert!(i.low.is_finite() && i.high.is_finite() && i.low <= r.score + 1e-9 && r.score <= i.high + 1e-9);
                }
            }
            let half = data.len() / 2;
            if let Some(c) = compare(metric, &data[..half], &data[half..]) {
                prop_assert!(c.p.is_finite() && (0.0..=1.0).contains(&c.p));
                prop_assert!(c.statistic.is_finite() && c.se.is_finite());
                prop_assert!(c.interval.low <= c.diff + 1e-9 && c.diff <= c.interval.high + 1e-9);
            }
        }
    }
}
