//! The self-service report on small journeys through one `check()`, and its counts'
//! invariants on random ones (order does not matter; every search is a success or a
//! failure; deflected episodes include the resolved ones).

use proptest::prelude::*;
use touchpoint_core::i18n::Lang;
use touchpoint_selfserve::report::{report, Options, Report, Step, StepKind};

const MIN: i64 = 60_000;
const DAY: i64 = 86_400_000;

fn search(customer: i64, t: i64, q: &str, results: u64) -> Step {
    Step { customer, t_ms: t, kind: StepKind::Search { query: q.into(), results, lang: Some(Lang::Cs) } }
}
fn read(customer: i64, t: i64, id: i64) -> Step {
    Step { customer, t_ms: t, kind: StepKind::Article { id } }
}
fn rated(customer: i64, t: i64, id: i64, helpful: bool) -> Step {
    Step { customer, t_ms: t, kind: StepKind::Rated { id, helpful } }
}
fn call(customer: i64, t: i64) -> Step {
    Step { customer, t_ms: t, kind: StepKind::Assisted }
}

/// The report of `steps` has these (episodes, deflected, resolved, searches, successes).
fn check(steps: &[Step], want: (u64, u64, u64, u64, u64)) -> Report {
    let r = report(steps, &Options::default());
    let got = (r.episodes, r.deflection.k, r.deflection_resolved.k, r.search_success.n, r.search_success.k);
    assert_eq!(got, want, "{steps:?}");
    r
}

#[test]
fn a_failed_search_then_a_call_is_not_deflected() {
    let r = check(&[search(1, 0, "zpoždění", 0), call(1, 50 * MIN)], (1, 0, 0, 1, 0));
    assert_eq!(r.failed_searches.len(), 1);
    let f = &r.failed_searches[0];
    assert_eq!((f.query.as_str(), f.searches, f.no_results, f.customers), ("zpoždění", 1, 1, 1));
    assert_eq!((f.then_assisted.k, f.then_assisted.n), (1, 1));
    assert_eq!((r.customers_self_served, r.customers_assisted), (1, 1));
}

#[test]
fn an_article_that_helped_is_a_resolved_deflection() {
    let r = check(&[search(1, 0, "faktura", 2), read(1, MIN, 22), rated(1, 2 * MIN, 22, true)], (1, 1, 1, 1, 1));
    assert!(r.failed_searches.is_empty());
    assert_eq!(
        (r.articles[0].id, r.articles[0].views, r.articles[0].helpful.k, r.articles[0].helpful.n),
        (22, 1, 1, 1)
    );
    assert!((r.cost_saved - 7.9).abs() < 1e-9);
}

#[test]
fn episodes_split_on_a_pause_and_contacts_count_within_the_window() {
    // Two searches two hours apart are two episodes; a call eight days later is too late.
    check(&[search(1, 0, "heslo", 1), search(1, 2 * 60 * MIN, "heslo", 1), call(1, 8 * DAY)], (2, 2, 0, 2, 0));
    // A call before the visit does not undo it.
    check(&[call(1, 0), search(1, MIN, "faktura", 1), read(1, 2 * MIN, 3)], (1, 1, 0, 1, 1));
    // A read after the next search is that search's, not the first one's …
    let r = check(&[search(1, 0, "a", 1), search(1, MIN, "b", 1), read(1, 2 * MIN, 3)], (1, 1, 0, 2, 1));
    assert_eq!(r.failed_searches[0].query, "a");
    // … unless that one found nothing: then it is the earlier one's, and the empty search failed.
    let r = check(&[search(1, 0, "a", 1), search(1, MIN, "b", 0), read(1, 2 * MIN, 3)], (1, 1, 0, 2, 1));
    assert_eq!((r.failed_searches[0].query.as_str(), r.failed_searches[0].no_results), ("b", 1));
    // A search that found nothing never succeeds, whatever is read after it.
    check(&[search(1, 0, "b", 0), read(1, MIN, 3)], (1, 1, 0, 1, 0));
    // Only calls and chats: nobody self-served.
    let r = check(&[call(1, 0), call(2, 0)], (0, 0, 0, 0, 0));
    assert_eq!((r.self_service_score.a, r.self_service_score.b, r.self_service_score.ratio), (0, 2, Some(0.0)));
}

#[test]
fn a_querys_forms_are_one_failed_search_named_by_the_commonest() {
    let steps = [
        search(1, 0, "zpozdeni", 0),
        search(2, 0, "Zpoždění", 0),
        search(3, 0, "zpoždění", 0),
        search(4, 0, "zpožděním", 0),
        search(5, 0, "zpoždění", 0),
        search(6, 0, "heslo", 0),
    ];
    let r = check(&steps, (6, 6, 0, 6, 0));
    let list: Vec<(&str, u64, u64)> =
        r.failed_searches.iter().map(|f| (f.query.as_str(), f.searches, f.customers)).collect();
    assert_eq!(list, [("zpoždění", 5, 5), ("heslo", 1, 1)]);
}

fn step() -> impl Strategy<Value = Step> {
    let kind =
        prop_oneof![
            (prop::sample::select(vec!["a", "b", "Zpoždění", "zpozdeni"]), 0..3u64)
                .prop_map(|(q, n)| StepKind::Search { query: q.into(), results: n, lang: Some(Lang::Cs) }),
            (1..4i64).prop_map(|id| StepKind::Article { id }),
            (1..4i64, any::<bool>()).prop_map(|(id, helpful)| StepKind::Rated { id, helpful }),
            Just(StepKind::Assisted),
        ];
    (1..5i64, 0..(20 * DAY), kind).prop_map(|(customer, t_ms, kind)| Step { customer, t_ms: t_ms / MIN * MIN, kind })
}

proptest! {
    #[test]
    fn counts_hold_together_in_any_order(mut steps in prop::collection::vec(step(), 0..60), seed in any::<u64>()) {
        let o = Options { top: 100, ..Options::default() };
        let r = report(&steps, &o);
        // Shuffled, the same report.
        let n = steps.len().max(1);
        for i in 0..steps.len() {
            steps.swap(i, (seed as usize).wrapping_mul(31).wrapping_add(i * 7) % n);
        }
        prop_assert_eq!(&report(&steps, &o), &r);
        prop_assert!(r.deflection_resolved.k <= r.deflection.k && r.deflection.k <= r.episodes);
        let failed: u64 = r.failed_searches.iter().map(|f| f.searches).sum();
        prop_assert_eq!(r.search_success.k + failed, r.search_success.n);
        let searches = steps.iter().filter(|s| matches!(s.kind, StepKind::Search { .. })).count() as u64;
        prop_assert_eq!(r.search_success.n, searches);
        let own = steps.iter().filter(|s| s.kind != StepKind::Assisted).count() as u64;
        prop_assert!(r.episodes <= own && (own == 0) == (r.episodes == 0));
        for f in &r.failed_searches {
            prop_assert!(f.no_results <= f.searches && f.then_assisted.k <= f.searches && f.customers <= f.searches);
        }
    }
}
