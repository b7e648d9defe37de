//! Attribution on the demo brand's generated data (about 2 000 customers of Zahrádka),
//! classified with the brand catalog exactly as the server would; and, ignored by default,
//! the speed of Markov attribution by channel on 10 M events / 200 k customers:
//!
//! `cargo test -p touchpoint-analytics --release --test attribution_demo -- --ignored --nocapture`

use std::time::Instant;
use touchpoint_analytics::attribution::{run, AttributionQuery, AttributionReport, Grouping, Model, MAX_MARKOV_STATES};
use touchpoint_analytics::{Dictionary, JourneySet, Tp};
use touchpoint_gen::{brand_catalog, BrandClassifier, GenConfig, Generator};

const GOAL: &str = "order-completed";

/// The demo data as a journey set and its dictionary (the brand catalog's). Customer `i`
/// is generated customer `i` (the generator's person, across devices).
fn demo(events: usize, seed: u64) -> (JourneySet, Dictionary) {
    let cfg = GenConfig::for_events(events, seed);
    let gen = Generator::new(cfg);
    let classifier = BrandClassifier::new(&cfg);
    let events: Vec<(i64, i64, Tp)> = (0..cfg.customers)
        .flat_map(|i| classifier.touchpoints(&gen, i).into_iter().map(move |(t, tp)| (i as i64, t, tp)))
        .collect();
    (JourneySet::from_events(cfg.start_ms() / 1000, events), Dictionary::from_catalog(&brand_catalog()))
}

/// What every report must satisfy.
fn sane(r: &AttributionReport) {
    assert!(r.conversions > 0 && r.conversions == r.converting_journeys, "{} conversions", r.conversions);
    assert!(r.converting_journeys < r.journeys, "some customers never buy");
    for s in &r.models {
        let rows: f64 = r.rows.iter().map(|row| row.credits[&s.model].credit).sum();
        assert!((rows - s.attributed).abs() < 1e-6, "{:?}", s.model);
        assert!((s.attributed + s.unattributed - r.conversions as f64).abs() < 1e-6, "{s:?}");
        assert!(s.unattributed <= 0.5 * r.conversions as f64, "{s:?}: most orders have touches before them");
        for row in &r.rows {
            let c = row.credits[&s.model];
            assert!(c.credit >= -1e-9 && c.credit <= r.conversions as f64 + 1e-9, "{:?} {}: {c:?}", s.model, row.key);
        }
        assert!(!r.rows.iter().any(|row| row.key == GOAL), "the goal gets no credit");
    }
    for m in &r.markov {
        let observed = m.converting_paths as f64 / m.paths as f64;
        assert!((m.p_conversion - observed).abs() < 1e-9, "order {}: {} vs {observed}", m.order, m.p_conversion);
        assert!(m.removal_effects.values().all(|e| (0.0..=1.0).contains(e)));
        assert!(m.removal_effects.values().any(|&e| e > 0.0));
    }
}

fn table(r: &AttributionReport) {
    let cols: Vec<Model> = r.models.iter().map(|m| m.model).collect();
    println!("{:<24}{}", "", cols.iter().map(|m| format!("{:>15}", m.as_str())).collect::<String>());
    for row in &r.rows {
        let cells: String = cols.iter().map(|m| format!("{:>15.1}", row.credits[m].credit)).collect();
        println!("{:<24}{cells}", row.key);
    }
}

#[test]
fn demo_data_gives_sane_attribution() {
    let (set, dict) = demo(100_000, 2026);
    assert!((1_500..=2_600).contains(&set.customer_count()), "{} customers", set.customer_count());

    let by_tp = AttributionQuery { goal: GOAL.into(), ..Default::default() };
    let r = run(&set, &dict, &by_tp).unwrap();
    sane(&r);
    table(&r);
    // Every order is placed from a checkout: removing it removes (nearly) every conversion.
    let checkout = r.markov[0].removal_effects["checkout"];
    assert!(checkout > 0.9, "checkout removal effect {checkout}");
    let s = r.shapley.as_ref().unwrap();
    assert!(s.players > 15, "by touchpoint there are more players than channels: {}", s.players);
    assert!((s.value_all - r.conversions as f64).abs() < 1e-9, "v(N) accounts for every conversion");

    // By channel: at most 15 players; the higher Markov orders fit too.
    let by_channel = AttributionQuery { by: Grouping::Channel, models: Model::ALL.to_vec(), ..by_tp.clone() };
    let r = run(&set, &dict, &by_channel).unwrap();
    sane(&r);
    table(&r);
    assert!(r.rows.len() <= 15);
    let s = r.shapley.as_ref().unwrap();
    assert!(s.players <= 15);
    assert_eq!(r.markov.len(), 3);
    for m in &r.markov {
        assert!(m.states <= MAX_MARKOV_STATES + 2, "order {}: {} states", m.order, m.states);
        println!("order {}: {} states, P(conversion) {:.4}", m.order, m.states, m.p_conversion);
    }
    let web = r.rows.iter().find(|row| row.key == "web").expect("a web row");
    assert!(web.credits[&Model::Markov].credit > 0.0);
}

/// A synthetic set shaped like the benchmark data: `customers` journeys of 1–99 events
/// (50 on average) over the demo catalog's touchpoints, about 1 % of events an order.
fn synthetic(customers: usize, seed: u64) -> (JourneySet, Dictionary) {
    let catalog = brand_catalog();
    let dict = Dictionary { touchpoints: catalog.touchpoints.clone(), stages: vec![] };
    let goal = dict.find(GOAL).unwrap();
    let n = dict.touchpoints.len() as u64;
    let mut x = seed;
    let mut next = move || {
        x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let mut set = JourneySet { epoch_s: 1_700_000_000, offsets: vec![0], ..Default::default() };
    for c in 0..customers {
        let len = next() % 99 + 1;
        let mut t = (next() % (180 * 86_400)) as u32;
        for _ in 0..len {
            t += (next() % 7_200) as u32;
            let r = next();
            let tp = if r % 100 == 0 { goal } else { ((r >> 8) % n) as Tp };
            set.times.push(t);
            set.touchpoints.push(tp);
        }
        set.customers.push(c as i64);
        set.offsets.push(set.times.len() as u32);
    }
    (set, dict)
}

#[test]
#[ignore = "speed measurement: run in release with --ignored --nocapture"]
fn markov_by_channel_on_10m_events() {
    let (set, dict) = synthetic(200_000, 42);
    println!(
        "{} events, {} customers, {} threads",
        set.event_count(),
        set.customer_count(),
        rayon::current_num_threads()
    );
    let time = |label: &str, q: &AttributionQuery, reps: usize| {
        let mut ms = vec![];
        let mut report = None;
        for _ in 0..reps {
            let t0 = Instant::now();
            match run(&set, &dict, q) {
                Ok(r) => report = Some(r),
                Err(e) => {
                    println!("{label:<40} {e}");
                    return None;
                }
            }
            ms.push(t0.elapsed().as_secs_f64() * 1e3);
        }
        ms.sort_by(f64::total_cmp);
        println!("{label:<40} min {:>7.1} ms, median {:>7.1} ms", ms[0], ms[ms.len() / 2]);
        report
    };
    let base = AttributionQuery { goal: GOAL.into(), by: Grouping::Channel, ..Default::default() };
    let r = time("markov by channel", &AttributionQuery { models: vec![Model::Markov], ..base.clone() }, 11);
    sane(&r.expect("markov by channel runs"));
    let markov = |by| AttributionQuery { models: vec![Model::Markov], by, ..base.clone() };
    time("markov by touchpoint", &markov(Grouping::Touchpoint), 11);
    let orders = |models: &[Model]| AttributionQuery { models: models.to_vec(), ..base.clone() };
    time("markov order 2 by channel", &orders(&[Model::Markov2]), 5);
    time("markov order 3 by channel", &orders(&[Model::Markov3]), 1);
    time("heuristics by channel", &orders(&Model::DEFAULT[..5]), 5);
    time("default models by channel", &base, 5);
    // Shapley by touchpoint is exact by the closed form, whatever the number of players.
    let r = time("default models by touchpoint", &AttributionQuery { by: Grouping::Touchpoint, ..base.clone() }, 1);
    if let Some(r) = r {
        println!("shapley by touchpoint: {:?}", r.models.last().unwrap().method);
    }
}
