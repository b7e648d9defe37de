//! `GenConfig::for_events(n)` gives about `n` events, and the data set is shaped like real
//! traffic: mostly short visits, a heavy tail of loyal customers, a sensible conversion.

mod common;

use touchpoint_gen::{events, GenConfig, Generator, DEFAULT_DAYS, DEFAULT_END_MS};

fn count(cfg: GenConfig) -> u64 {
    Generator::new(cfg).write_ndjson(std::io::sink(), |_| {}).unwrap()
}

#[test]
fn for_events_is_within_15_percent() {
    for (n, seeds) in [(20_000usize, 1..=4u64), (200_000, 1..=2)] {
        for seed in seeds {
            let cfg = GenConfig::for_events(n, seed);
            assert_eq!((cfg.end_ms, cfg.days), (DEFAULT_END_MS, DEFAULT_DAYS));
            let got = count(cfg) as f64;
            let off = got / n as f64 - 1.0;
            assert!(off.abs() <= 0.15, "for_events({n}, {seed}) gave {got} events ({:+.1} %)", off * 100.0);
        }
    }
    assert_eq!(GenConfig::for_events(10_000_000, 1).customers, 200_000);
    assert!(count(GenConfig::for_events(1, 1)) >= 1);
}

#[test]
fn traffic_is_heavy_tailed_and_converts_sensibly() {
    let cfg = GenConfig { seed: 9, customers: 8_000, end_ms: DEFAULT_END_MS, days: DEFAULT_DAYS };
    let all = common::customers(&Generator::new(cfg));
    let sizes: Vec<usize> = all.iter().map(Vec::len).collect();
    let n = sizes.len() as f64;
    let mean = sizes.iter().sum::<usize>() as f64 / n;
    let short = sizes.iter().filter(|&&s| (1..=5).contains(&s)).count() as f64 / n;
    let max = sizes.iter().copied().max().unwrap_or(0);
    assert!((40.0..=60.0).contains(&mean), "mean {mean}");
    assert!(short > 0.3, "share of 1–5 event customers {short}");
    assert!(max >= 300, "the most loyal customer has only {max} events");
    let ordered = all.iter().filter(|evs| evs.iter().any(|v| v["event"] == events::ORDER_COMPLETED)).count() as f64 / n;
    assert!((0.20..=0.35).contains(&ordered), "conversion {ordered}");
    let start = cfg.start_ms();
    for evs in &all {
        let times: Vec<i64> = evs.iter().map(|v| common::parse(v, &cfg).timestamp).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "events in time order");
        assert!(times.iter().all(|&t| t >= start && t < cfg.end_ms), "events inside the period");
    }
}
