//! The planted pain points are there, strong enough to be found by plain counting over
//! 20 000 customers, while the overall rates stay realistic:
//!
//! 1. a late delivery: customers who get one leave (for a competitor, or close their
//!    account) far more often than customers whose deliveries all came on time;
//! 2. a failed payment: checkouts that hit one mostly end without an order;
//! 3. a long wait on the support line: callers who waited over 15 minutes leave more often
//!    than callers who did not.
//!
//! The counting is deliberately simple: each customer's track events, classified with the
//! brand catalog into touchpoint keys as the analyses will see them, in time order. (Pages
//! and screens carry none of these touchpoints, and skipping them keeps the test quick.)

mod common;

use touchpoint_core::Classifier;
use touchpoint_gen::{brand_catalog, GenConfig, Generator, DEFAULT_DAYS, DEFAULT_END_MS, PAIN_POINTS};

/// Each customer's touchpoint keys of track events, in time order.
fn journeys(customers: usize, seed: u64) -> Vec<Vec<String>> {
    let cfg = GenConfig { seed, customers, end_ms: DEFAULT_END_MS, days: DEFAULT_DAYS };
    let gen = Generator::new(cfg);
    let classifier = Classifier::new(brand_catalog().rules);
    common::customers(&gen)
        .iter()
        .map(|events| {
            events
                .iter()
                .filter(|v| v["type"] == "track")
                .filter_map(|v| classifier.classify(&common::parse(v, &cfg)).map(|c| c.key))
                .collect()
        })
        .collect()
}

/// `part / whole` as a share; 0 when `whole` is 0.
fn share(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

#[test]
fn planted_pain_points_are_visible_by_counting() {
    assert_eq!(PAIN_POINTS, ["delivery-late", "payment-failed", "support-call-long-wait"]);
    let all = journeys(20_000, 2026);
    let has = |j: &Vec<String>, k: &str| j.iter().any(|x| x == k);
    let churned = |j: &Vec<String>| has(j, "switched-to-competitor") || has(j, "account-closed");

    // 1. Late delivery, among customers who had a parcel delivered.
    let shipped: Vec<&Vec<String>> = all.iter().filter(|j| has(j, "order-shipped")).collect();
    let (late, on_time): (Vec<&Vec<String>>, Vec<_>) = shipped.into_iter().partition(|j| has(j, "delivery-late"));
    let churn_late = share(late.iter().filter(|j| churned(j)).count(), late.len());
    let churn_on_time = share(on_time.iter().filter(|j| churned(j)).count(), on_time.len());
    // Buying again after the first late delivery vs after the first on-time one.
    let again_after = |js: &[&Vec<String>], mark: &str| {
        let again = js
            .iter()
            .filter(|j| {
                let first = j.iter().position(|k| k == mark).unwrap_or(j.len());
                j[first..].iter().any(|k| k == "order-completed")
            })
            .count();
        share(again, js.len())
    };
    let again_late = again_after(&late, "delivery-late");
    let again_on_time = again_after(&on_time, "order-delivered");
    eprintln!(
        "late delivery: {} customers, churn {:.1} % vs {:.1} % of {} on time; bought again {:.1} % vs {:.1} %",
        late.len(),
        100.0 * churn_late,
        100.0 * churn_on_time,
        on_time.len(),
        100.0 * again_late,
        100.0 * again_on_time
    );
    assert!(late.len() >= 300 && on_time.len() >= 1000);
    assert!(churn_late >= 2.5 * churn_on_time, "late delivery churn {churn_late} vs {churn_on_time}");
    assert!((0.35..=0.75).contains(&churn_late) && (0.05..=0.30).contains(&churn_on_time));
    assert!(again_late * 3.0 < again_on_time, "late customers buy again {again_late} vs {again_on_time}");

    // 2. Failed payment: each checkout (a "Checkout Started" event) runs until the next
    // checkout; did it reach an order?
    let (mut failed, mut failed_lost, mut clean, mut clean_lost) = (0, 0, 0, 0);
    for j in &all {
        let starts: Vec<usize> = (0..j.len()).filter(|&i| j[i] == "checkout").collect();
        for (n, &s) in starts.iter().enumerate() {
            let end = starts.get(n + 1).copied().unwrap_or(j.len());
            let attempt = &j[s..end];
            let ordered = attempt.iter().any(|k| k == "order-completed");
            if attempt.iter().any(|k| k == "payment-failed") {
                failed += 1;
                failed_lost += usize::from(!ordered);
            } else {
                clean += 1;
                clean_lost += usize::from(!ordered);
            }
        }
    }
    let exit_failed = share(failed_lost, failed);
    let exit_clean = share(clean_lost, clean);
    eprintln!(
        "payment failed: {failed} checkouts, {:.1} % without an order vs {:.1} % of {clean} others",
        100.0 * exit_failed,
        100.0 * exit_clean
    );
    assert!(failed >= 300);
    assert!(exit_failed >= 2.0 * exit_clean, "exit after payment failure {exit_failed} vs {exit_clean}");
    assert!((0.55..=0.85).contains(&exit_failed) && (0.15..=0.40).contains(&exit_clean));
    let failure_rate = share(failed, failed + clean);
    assert!((0.03..=0.12).contains(&failure_rate), "payment failure rate {failure_rate}");

    // 3. Long wait on the support line, among customers who called.
    let callers: Vec<&Vec<String>> =
        all.iter().filter(|j| has(j, "support-call") || has(j, "support-call-long-wait")).collect();
    let (waited, served): (Vec<&Vec<String>>, Vec<_>) =
        callers.into_iter().partition(|j| has(j, "support-call-long-wait"));
    let churn_waited = share(waited.iter().filter(|j| churned(j)).count(), waited.len());
    let churn_served = share(served.iter().filter(|j| churned(j)).count(), served.len());
    eprintln!(
        "long wait: {} callers, churn {:.1} % vs {:.1} % of {} others",
        waited.len(),
        100.0 * churn_waited,
        100.0 * churn_served,
        served.len()
    );
    assert!(waited.len() >= 150 && served.len() >= 300);
    assert!(churn_waited >= 1.5 * churn_served, "long wait churn {churn_waited} vs {churn_served}");

    // Overall rates stay realistic.
    let n = all.len();
    let ordered = share(all.iter().filter(|j| has(j, "order-completed")).count(), n);
    let late_rate = share(
        all.iter().map(|j| j.iter().filter(|k| *k == "delivery-late").count()).sum(),
        all.iter().map(|j| j.iter().filter(|k| *k == "order-shipped").count()).sum(),
    );
    eprintln!("ordered {:.1} % of customers; {:.1} % of shipments late", 100.0 * ordered, 100.0 * late_rate);
    assert!((0.20..=0.35).contains(&ordered), "conversion {ordered}");
    assert!((0.05..=0.20).contains(&late_rate), "late shipments {late_rate}");
}
