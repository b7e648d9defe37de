//! Hand-computed attribution cases, each run through one data-driven [`check`], plus the
//! query's defaults and errors in words.

use touchpoint_analytics::attribution::{
    run, AttributionError, AttributionQuery, AttributionReport, ConversionCount, Grouping, Model,
};
use touchpoint_analytics::{Dictionary, JourneySet};
use touchpoint_core::{Channel, Touchpoint};

const DAY: i64 = 86_400;

/// A dictionary of `(key, channel)`; the touchpoint `buy` is the conversion goal.
fn dictionary(keys: &[(&str, Channel)]) -> Dictionary {
    let touchpoints = keys
        .iter()
        .map(|&(k, c)| {
            let mut t = Touchpoint::discovered(k, k, c);
            t.conversion = k == "buy";
            t
        })
        .collect();
    Dictionary { touchpoints, stages: vec![] }
}

/// Customer `i` gets journey `i`; events in each journey are listed in arrival order.
fn journeys(dict: &Dictionary, js: &[Vec<(i64, &str)>]) -> JourneySet {
    let events = js.iter().enumerate().flat_map(|(c, j)| {
        j.iter().map(move |&(t, k)| (c as i64, 1_000_000 + t, dict.find(k).unwrap_or_else(|| panic!("no {k}"))))
    });
    JourneySet::from_events(0, events.collect::<Vec<_>>())
}

/// One golden case.
struct Case {
    name: &'static str,
    /// Touchpoints besides `buy` (channel `web` unless listed in `channels`).
    journeys: Vec<Vec<(i64, &'static str)>>,
    channels: Vec<(&'static str, Channel)>,
    query: AttributionQuery,
    conversions: u64,
    /// `(model, key, credit)`; keys of a model not listed must get no credit.
    credits: Vec<(Model, &'static str, f64)>,
    /// `(model, unattributed)`; models not listed must have none.
    unattributed: Vec<(Model, f64)>,
    /// `(key, removal effect)` of the first Markov model.
    effects: Vec<(&'static str, f64)>,
    p_conversion: Option<f64>,
}

impl Default for Case {
    fn default() -> Self {
        Case {
            name: "",
            journeys: vec![],
            channels: vec![],
            query: AttributionQuery { goal: "buy".into(), ..Default::default() },
            conversions: 0,
            credits: vec![],
            unattributed: vec![],
            effects: vec![],
            p_conversion: None,
        }
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

/// Run a case and compare every listed figure; also the invariants every report keeps.
fn check(case: Case) -> AttributionReport {
    let name = case.name;
    let mut keys: Vec<(&str, Channel)> = vec![("buy", Channel::Web)];
    for j in &case.journeys {
        for &(_, k) in j {
            if !keys.iter().any(|&(x, _)| x == k) {
                let c = case.channels.iter().find(|&&(x, _)| x == k).map_or(Channel::Web, |&(_, c)| c);
                keys.push((k, c));
            }
        }
    }
    let dict = dictionary(&keys);
    let set = journeys(&dict, &case.journeys);
    let report = run(&set, &dict, &case.query).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(report.conversions, case.conversions, "{name}: conversions");
    assert_eq!(report.journeys, case.journeys.len() as u64, "{name}: journeys");
    for s in &report.models {
        let credited: f64 = report.rows.iter().map(|r| r.credits[&s.model].credit).sum();
        assert!(close(credited, s.attributed), "{name}: {:?} rows sum to {credited}", s.model);
        assert!(close(s.attributed + s.unattributed, report.conversions as f64), "{name}: {s:?}");
        let want = case.unattributed.iter().find(|(m, _)| *m == s.model).map_or(0.0, |&(_, u)| u);
        assert!(close(s.unattributed, want), "{name}: {:?} unattributed {} ≠ {want}", s.model, s.unattributed);
    }
    for row in &report.rows {
        for (m, c) in &row.credits {
            let want = case.credits.iter().find(|(mm, k, _)| mm == m && *k == row.key).map_or(0.0, |&(_, _, c)| c);
            assert!(close(c.credit, want), "{name}: {m:?} credit of {} is {}, want {want}", row.key, c.credit);
            assert!(close(c.share, c.credit / report.conversions.max(1) as f64), "{name}: share");
        }
    }
    for &(m, k, _) in &case.credits {
        assert!(report.rows.iter().any(|r| r.key == k && r.credits.contains_key(&m)), "{name}: no {m:?} row {k}");
    }
    if let Some(markov) = report.markov.first() {
        for &(k, e) in &case.effects {
            let got = markov.removal_effects.get(k).copied().unwrap_or(f64::NAN);
            assert!(close(got, e), "{name}: removal effect of {k} is {got}, want {e}");
        }
        assert_eq!(markov.removal_effects.len(), case.effects.len(), "{name}: {:?}", markov.removal_effects);
        if let Some(p) = case.p_conversion {
            assert!(close(markov.p_conversion, p), "{name}: P(conversion) {} ≠ {p}", markov.p_conversion);
        }
    }
    report
}

fn all(models: &[Model]) -> AttributionQuery {
    AttributionQuery { goal: "buy".into(), models: models.to_vec(), ..Default::default() }
}

#[test]
fn classic_three_paths() {
    // Paths: C1 → C2 → C3 → conversion, C1 → null, C2 → C3 → null.
    // Transitions: start→C1 2, start→C2 1, C1→C2 1, C1→null 1, C2→C3 2, C3→conv 1, C3→null 1.
    // P(conv) = 2/3·1/2·1·1/2 + 1/3·1·1/2 = 1/3 (the observed rate).
    // Without C1 (start→C1 goes to null): 1/3·1/2 = 1/6, effect 1 − (1/6)/(1/3) = 1/2.
    // Without C2 or C3 every converting route is cut: effect 1. Σ = 2.5, so one conversion
    // splits 0.2 / 0.4 / 0.4.
    // Time decay: C1, C2, C3 are 14, 7 and 0 days before the conversion with a 7-day
    // half-life: weights 1/4, 1/2, 1, shares 1/7, 2/7, 4/7.
    use Model::*;
    let r = check(Case {
        name: "classic",
        journeys: vec![
            vec![(0, "C1"), (7 * DAY, "C2"), (14 * DAY, "C3"), (14 * DAY, "buy")],
            vec![(0, "C1")],
            vec![(0, "C2"), (DAY, "C3")],
        ],
        query: all(&Model::ALL),
        conversions: 1,
        credits: vec![
            (FirstTouch, "C1", 1.0),
            (LastTouch, "C3", 1.0),
            (Linear, "C1", 1.0 / 3.0),
            (Linear, "C2", 1.0 / 3.0),
            (Linear, "C3", 1.0 / 3.0),
            (TimeDecay, "C1", 1.0 / 7.0),
            (TimeDecay, "C2", 2.0 / 7.0),
            (TimeDecay, "C3", 4.0 / 7.0),
            (PositionBased, "C1", 0.4),
            (PositionBased, "C2", 0.2),
            (PositionBased, "C3", 0.4),
            (Markov, "C1", 0.2),
            (Markov, "C2", 0.4),
            (Markov, "C3", 0.4),
            // Order 2: states (C1), (C1,C2), (C2,C3) on the converting path; (C2) and
            // (C2,C3) on the third. Removing C1 leaves start→(C2)→(C2,C3): 1/3·1/2 = 1/6
            // again; C2 and C3 still cut everything.
            (Markov2, "C1", 0.2),
            (Markov2, "C2", 0.4),
            (Markov2, "C3", 0.4),
            // Order 3: the converting path runs (C1) → (C1,C2) → (C1,C2,C3), and (C2,C3)
            // only occurs on the third path (conversion probability 0), so removing C1
            // cuts every converting route too: three effects of 1, a third each.
            (Markov3, "C1", 1.0 / 3.0),
            (Markov3, "C2", 1.0 / 3.0),
            (Markov3, "C3", 1.0 / 3.0),
            (Shapley, "C1", 1.0 / 3.0),
            (Shapley, "C2", 1.0 / 3.0),
            (Shapley, "C3", 1.0 / 3.0),
        ],
        effects: vec![("C1", 0.5), ("C2", 1.0), ("C3", 1.0)],
        p_conversion: Some(1.0 / 3.0),
        ..Default::default()
    });
    assert_eq!(r.converting_journeys, 1);
    assert_eq!(r.markov.len(), 3);
    assert_eq!(r.markov[0].states, 3 + 3, "start, C1..C3, conversion, null");
    assert_eq!(r.markov[0].transitions, 9);
    assert_eq!(r.markov[1].order, 2);
    let s = r.shapley.as_ref().unwrap();
    assert_eq!((s.players, s.touch_sets), (3, 1));
    let cols: Vec<Model> = r.models.iter().map(|m| m.model).collect();
    assert_eq!(cols, Model::ALL.to_vec(), "columns in query order");
}

#[test]
fn a_loop_between_two_touchpoints() {
    // Paths: C1 → C2 → C1 → conversion, C2 → null.
    // P: start→C1 1/2, start→C2 1/2; C1→C2 1/2, C1→conv 1/2; C2→C1 1/2, C2→null 1/2.
    // p1 = p2/2 + 1/2, p2 = p1/2 ⇒ p1 = 2/3, p2 = 1/3, P(conv) = 1/2.
    // Without C1: p2 = 0 ⇒ 0, effect 1. Without C2: p1 = 1/2 ⇒ 1/4, effect 1/2.
    // Credits 1 · 1/1.5 = 2/3 and 1/3.
    use Model::*;
    check(Case {
        name: "loop",
        journeys: vec![vec![(0, "C1"), (1, "C2"), (2, "C1"), (3, "buy")], vec![(0, "C2")]],
        query: all(&[FirstTouch, LastTouch, Linear, PositionBased, Markov, Shapley]),
        conversions: 1,
        credits: vec![
            (FirstTouch, "C1", 1.0),
            (LastTouch, "C1", 1.0),
            (Linear, "C1", 2.0 / 3.0),
            (Linear, "C2", 1.0 / 3.0),
            (PositionBased, "C1", 0.8),
            (PositionBased, "C2", 0.2),
            (Markov, "C1", 2.0 / 3.0),
            (Markov, "C2", 1.0 / 3.0),
            (Shapley, "C1", 0.5),
            (Shapley, "C2", 0.5),
        ],
        effects: vec![("C1", 1.0), ("C2", 0.5)],
        p_conversion: Some(0.5),
        ..Default::default()
    });
}

#[test]
fn channels_pool_their_touchpoints() {
    // a1, a2 on the web, e1 by e-mail: web → email → web → conversion, email → null is
    // the loop case again (web = C1, email = C2); self-loops web → web count too.
    use Model::*;
    let q = AttributionQuery { by: Grouping::Channel, ..all(&[LastTouch, Linear, Markov, Shapley]) };
    let r = check(Case {
        name: "channels",
        journeys: vec![vec![(0, "a1"), (1, "e1"), (2, "a2"), (3, "buy")], vec![(0, "e1")]],
        channels: vec![("e1", Channel::Email)],
        query: q,
        conversions: 1,
        credits: vec![
            (LastTouch, "web", 1.0),
            (Linear, "web", 2.0 / 3.0),
            (Linear, "email", 1.0 / 3.0),
            (Markov, "web", 2.0 / 3.0),
            (Markov, "email", 1.0 / 3.0),
            (Shapley, "web", 0.5),
            (Shapley, "email", 0.5),
        ],
        effects: vec![("web", 1.0), ("email", 0.5)],
        p_conversion: Some(0.5),
        ..Default::default()
    });
    let keys: Vec<&str> = r.rows.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["web", "email"], "channel order");
}

#[test]
fn repeats_and_self_loops() {
    // Paths: A → A → conversion, A → null. start→A 2, A→A 1, A→conv 1, A→null 1:
    // pA = pA/3 + 1/3 ⇒ 1/2 = P(conv). Removing A leaves nothing: effect 1, all credit.
    // Linear counts both touches of A; time decay too.
    use Model::*;
    check(Case {
        name: "self-loop",
        journeys: vec![vec![(0, "A"), (5, "A"), (9, "buy")], vec![(0, "A")]],
        query: all(&Model::DEFAULT),
        conversions: 1,
        credits: vec![
            (FirstTouch, "A", 1.0),
            (LastTouch, "A", 1.0),
            (Linear, "A", 1.0),
            (TimeDecay, "A", 1.0),
            (PositionBased, "A", 1.0),
            (Markov, "A", 1.0),
            (Shapley, "A", 1.0),
        ],
        effects: vec![("A", 1.0)],
        p_conversion: Some(0.5),
        ..Default::default()
    });
}

#[test]
fn the_lookback_limits_touch_based_models_but_not_markov() {
    // X is 45 days before the conversion, Y 5 days: with a 30-day lookback only Y counts
    // for the touch-based models. Markov's path (docs/definitions.md) has no lookback: X → Y →
    // conversion, both removal effects 1, half each. The second customer's only touch is
    // 31 days old: unattributed for the touch-based models, still in Markov's chain.
    use Model::*;
    check(Case {
        name: "lookback",
        journeys: vec![
            vec![(0, "X"), (40 * DAY, "Y"), (45 * DAY, "buy")],
            vec![(0, "X"), (31 * DAY, "buy")],
            vec![(0, "Y")],
        ],
        query: all(&[FirstTouch, Linear, Markov, Shapley]),
        conversions: 2,
        credits: vec![
            (FirstTouch, "Y", 1.0),
            (Linear, "Y", 1.0),
            (Shapley, "Y", 1.0),
            // start→X 2, start→Y 1, X→Y 1, X→conv 1, Y→conv 1, Y→null 1: pY = 1/2,
            // pX = 1/2·1/2 + 1/2 = 3/4, P = 2/3·3/4 + 1/3·1/2 = 2/3.
            // Without X: 1/3·1/2 = 1/6, effect 3/4. Without Y: pX = 1/2 ⇒ 1/3, effect 1/2.
            (Markov, "X", 2.0 * 0.75 / 1.25),
            (Markov, "Y", 2.0 * 0.5 / 1.25),
        ],
        unattributed: vec![(FirstTouch, 1.0), (Linear, 1.0), (Shapley, 1.0)],
        effects: vec![("X", 0.75), ("Y", 0.5)],
        p_conversion: Some(2.0 / 3.0),
        ..Default::default()
    });
}

#[test]
fn every_conversion_starts_a_new_window() {
    // A buy B buy buy: three conversions. The first is A's, the second B's, the third has
    // no touch after the second (unattributed). Markov's path ends at the first buy
    // (A → conversion, effect 1) and distributes all three conversions.
    use Model::*;
    let q = AttributionQuery { conversions: ConversionCount::Every, ..all(&[FirstTouch, TimeDecay, Markov]) };
    let r = check(Case {
        name: "every",
        journeys: vec![vec![(0, "A"), (1, "buy"), (2, "B"), (3, "buy"), (4, "buy")]],
        query: q,
        conversions: 3,
        credits: vec![
            (FirstTouch, "A", 1.0),
            (FirstTouch, "B", 1.0),
            (TimeDecay, "A", 1.0),
            (TimeDecay, "B", 1.0),
            (Markov, "A", 3.0),
        ],
        unattributed: vec![(FirstTouch, 1.0), (TimeDecay, 1.0)],
        effects: vec![("A", 1.0)],
        p_conversion: Some(1.0),
        ..Default::default()
    });
    assert_eq!(r.converting_journeys, 1);
    assert_eq!(r.markov[0].converting_paths, 1);
}

#[test]
fn a_conversion_without_touches_is_unattributed_except_by_markov() {
    // buy first; A then buy. start→conv 1, start→A 1, A→conv 1: P = 1; without A 1/2,
    // effect 1/2, the only effect: A gets both conversions in Markov.
    use Model::*;
    check(Case {
        name: "direct",
        journeys: vec![vec![(0, "buy"), (1, "A")], vec![(0, "A"), (1, "buy")]],
        query: all(&[LastTouch, Markov, Shapley]),
        conversions: 2,
        credits: vec![(LastTouch, "A", 1.0), (Markov, "A", 2.0), (Shapley, "A", 1.0)],
        unattributed: vec![(LastTouch, 1.0), (Shapley, 1.0)],
        effects: vec![("A", 0.5)],
        p_conversion: Some(1.0),
        ..Default::default()
    });
}

#[test]
fn position_based_and_linear_over_five_touches() {
    use Model::*;
    let j = vec![(0, "A"), (1, "B"), (2, "C"), (3, "D"), (4, "E"), (5, "buy")];
    let mut credits = vec![(PositionBased, "A", 0.4), (PositionBased, "E", 0.4)];
    for k in ["B", "C", "D"] {
        credits.push((PositionBased, k, 0.2 / 3.0));
    }
    for k in ["A", "B", "C", "D", "E"] {
        credits.push((Linear, k, 0.2));
    }
    check(Case {
        name: "five",
        journeys: vec![j],
        query: all(&[Linear, PositionBased]),
        conversions: 1,
        credits,
        ..Default::default()
    });
    // Two touches: 50/50.
    check(Case {
        name: "two",
        journeys: vec![vec![(0, "A"), (1, "B"), (2, "buy")]],
        query: all(&[PositionBased]),
        conversions: 1,
        credits: vec![(PositionBased, "A", 0.5), (PositionBased, "B", 0.5)],
        ..Default::default()
    });
}

#[test]
fn ties_follow_arrival_order_and_the_lookback_is_inclusive() {
    // A arrives before buy at the same second: a touch. B arrives after: not one (and after
    // the first conversion). C is exactly 30 days before: inside the window.
    use Model::*;
    check(Case {
        name: "ties",
        journeys: vec![vec![(0, "C"), (30 * DAY, "A"), (30 * DAY, "buy"), (30 * DAY, "B")]],
        query: all(&[FirstTouch, LastTouch]),
        conversions: 1,
        credits: vec![(FirstTouch, "C", 1.0), (LastTouch, "A", 1.0)],
        ..Default::default()
    });
}

#[test]
fn no_conversions_give_zero_credit_and_no_error() {
    let r = check(Case {
        name: "none",
        journeys: vec![vec![(0, "A"), (1, "B")], vec![(0, "B")]],
        query: all(&Model::DEFAULT),
        conversions: 0,
        effects: vec![("A", 0.0), ("B", 0.0)],
        p_conversion: Some(0.0),
        ..Default::default()
    });
    assert_eq!(r.converting_journeys, 0);
    assert!(r.models.iter().all(|m| m.attributed == 0.0 && m.unattributed == 0.0));
}

#[test]
fn the_query_has_defaults_and_rejects_unknown_fields() {
    let q: AttributionQuery = serde_json::from_str("{}").unwrap();
    assert_eq!(q, AttributionQuery::default());
    assert_eq!(q.lookback_s, 30 * DAY);
    assert_eq!(q.half_life_s, 7 * DAY);
    assert_eq!(q.conversions, ConversionCount::First);
    assert_eq!(q.by, Grouping::Touchpoint);
    assert_eq!(q.models, Model::DEFAULT.to_vec());
    let q: AttributionQuery =
        serde_json::from_str(r#"{"goal":"buy","by":"channel","conversions":"every","models":["markov-2","shapley"]}"#)
            .unwrap();
    assert_eq!(
        (q.by, q.conversions, q.models),
        (Grouping::Channel, ConversionCount::Every, vec![Model::Markov2, Model::Shapley])
    );
    let err = serde_json::from_str::<AttributionQuery>(r#"{"goal":"buy","lookback":5}"#).unwrap_err();
    assert!(err.to_string().contains("unknown field `lookback`"), "{err}");
    for m in Model::ALL {
        assert_eq!(serde_json::to_value(m).unwrap(), m.as_str());
    }
}

#[test]
fn errors_are_in_words() {
    let dict = dictionary(&[("buy", Channel::Web), ("A", Channel::Web)]);
    let set = journeys(&dict, &[vec![(0, "A"), (1, "buy")]]);
    let q = |f: &dyn Fn(&mut AttributionQuery)| {
        let mut q = AttributionQuery { goal: "buy".into(), ..Default::default() };
        f(&mut q);
        q
    };
    let err = |d: &Dictionary, q: AttributionQuery| run(&set, d, &q).unwrap_err();

    let e = err(&dict, q(&|q| q.goal = "purchase".into()));
    assert_eq!(e, AttributionError::UnknownGoal { goal: "purchase".into(), goals: vec!["buy".into()] });
    assert!(e.to_string().contains("no touchpoint \"purchase\"") && e.to_string().contains("\"buy\""), "{e}");

    // No goal named: the dictionary's only goal is used; none or several is an error.
    assert_eq!(run(&set, &dict, &q(&|q| q.goal.clear())).unwrap().goal, "buy");
    let mut none = dict.clone();
    none.touchpoints[0].conversion = false;
    let e = err(&none, q(&|q| q.goal.clear()));
    assert_eq!(e, AttributionError::NoGoalInDictionary);
    assert!(e.to_string().contains("no touchpoint is flagged as a conversion goal"), "{e}");
    let mut two = dict.clone();
    two.touchpoints[1].conversion = true;
    let e = err(&two, q(&|q| q.goal.clear()));
    assert!(e.to_string().contains("several conversion goals (\"buy\", \"A\")"), "{e}");
    // Any touchpoint may be named as the goal.
    assert_eq!(run(&set, &none, &q(&|_| {})).unwrap().conversions, 1);

    let e = err(&dict, q(&|q| q.half_life_s = 0));
    assert!(e.to_string().starts_with("half_life_s: "), "{e}");
    let e = err(&dict, q(&|q| q.lookback_s = -1));
    assert!(e.to_string().starts_with("lookback_s: "), "{e}");
    let e = err(&dict, q(&|q| q.models.clear()));
    assert!(e.to_string().starts_with("models: "), "{e}");

    let small = dictionary(&[("buy", Channel::Web)]);
    let e = err(&small, q(&|_| {}));
    assert_eq!(e, AttributionError::UnknownTouchpoint { index: 1, dictionary_len: 1 });
    assert!(e.to_string().contains("touchpoint number 1"), "{e}");
}

#[test]
fn repeated_models_make_one_column() {
    let dict = dictionary(&[("buy", Channel::Web), ("A", Channel::Web)]);
    let set = journeys(&dict, &[vec![(0, "A"), (1, "buy")]]);
    let r = run(&set, &dict, &all(&[Model::Linear, Model::Markov, Model::Linear])).unwrap();
    let cols: Vec<Model> = r.models.iter().map(|m| m.model).collect();
    assert_eq!(cols, [Model::Linear, Model::Markov]);
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["rows"][0]["credits"]["markov"]["credit"], 1.0);
    assert_eq!(json["models"][1]["model"], "markov");
}

#[test]
fn chains_too_large_for_the_exact_solver_are_refused_in_words() {
    // Every triple of 12 touchpoints once: 1 + 12 + 144 + 1 728 order-3 states.
    let mut keys = vec![("buy", Channel::Web)];
    let names: Vec<String> = (0..12).map(|i| format!("t{i}")).collect();
    keys.extend(names.iter().map(|k| (k.as_str(), Channel::Web)));
    let dict = dictionary(&keys);
    let mut events = vec![];
    for c in 0..1728i64 {
        let (a, b, d) = (c / 144, c / 12 % 12, c % 12);
        events.extend([(c, 0, a as u16 + 1), (c, 1, b as u16 + 1), (c, 2, d as u16 + 1), (c, 3, 0)]);
    }
    let set = JourneySet::from_events(0, events);
    let e = run(&set, &dict, &all(&[Model::Markov3])).unwrap_err();
    assert!(matches!(e, AttributionError::TooManyStates { order: 3, states: 1885, .. }), "{e:?}");
    assert!(e.to_string().ends_with("attribute by channel or use a lower order"), "{e}");
    // Order 2 fits (157 states), and by channel everything collapses to one player.
    assert_eq!(run(&set, &dict, &all(&[Model::Markov2])).unwrap().markov[0].states, 1 + 12 + 144 + 2);
    let by_channel = AttributionQuery { by: Grouping::Channel, ..all(&[Model::Markov3]) };
    assert_eq!(run(&set, &dict, &by_channel).unwrap().markov[0].states, 1 + 3 + 2);
}
