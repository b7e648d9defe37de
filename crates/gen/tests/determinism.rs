//! The generator is deterministic: the same seed gives the same bytes, another seed other
//! data; customers do not depend on each other; message ids are unique.

mod common;

use std::collections::HashSet;
use touchpoint_gen::{GenConfig, Generator};

fn ndjson(cfg: GenConfig) -> Vec<u8> {
    let mut out = Vec::new();
    let mut reports = Vec::new();
    let n = Generator::new(cfg).write_ndjson(&mut out, |k| reports.push(k)).unwrap();
    assert_eq!(n as usize, out.iter().filter(|&&b| b == b'\n').count());
    assert_eq!(reports.last(), Some(&n), "the last progress report is the total");
    assert!(reports.windows(2).all(|w| w[0] <= w[1]), "progress only grows");
    out
}

#[test]
fn same_seed_same_bytes_other_seed_other_data() {
    let a = ndjson(GenConfig::for_events(30_000, 11));
    let b = ndjson(GenConfig::for_events(30_000, 11));
    assert!(a == b, "two runs with seed 11 differ");
    let c = ndjson(GenConfig::for_events(30_000, 12));
    assert_ne!(a, c);
    // Not just the ids: the journeys themselves differ.
    let strip = |bytes: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(bytes)
            .lines()
            .take(2000)
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                for k in ["messageId", "userId", "anonymousId"] {
                    v.as_object_mut().unwrap().remove(k);
                }
                v.to_string()
            })
            .collect()
    };
    assert_ne!(strip(&a), strip(&c));
}

#[test]
fn customers_can_be_generated_in_any_order() {
    let gen = Generator::new(GenConfig::for_events(20_000, 5));
    let n = gen.config().customers;
    let forward: Vec<_> = (0..n).map(|i| gen.customer(i)).collect();
    let backward: Vec<_> = (0..n).rev().map(|i| gen.customer(i)).collect();
    assert!(forward.iter().eq(backward.iter().rev()));
    // The NDJSON stream is the customers' lines one after the other.
    let mut pieces = Vec::new();
    for i in 0..n {
        gen.customer_ndjson(i, &mut pieces);
    }
    let mut whole = Vec::new();
    gen.write_ndjson(&mut whole, |_| {}).unwrap();
    assert!(pieces == whole);
    // A bigger data set with the same seed starts with the same customers.
    let bigger = Generator::new(GenConfig { customers: n + 50, ..*gen.config() });
    assert_eq!(bigger.customer(n / 2), forward[n / 2]);
}

#[test]
fn message_ids_are_unique_and_ids_well_formed() {
    let cfg = GenConfig::for_events(200_000, 3);
    let gen = Generator::new(cfg);
    let mut ids = HashSet::new();
    let mut anon_owner = std::collections::HashMap::new();
    for (i, events) in common::customers(&gen).into_iter().enumerate() {
        for v in events {
            let id = v["messageId"].as_str().expect("every event has a messageId").to_string();
            assert!(ids.insert(id.clone()), "duplicate messageId {id}");
            if let Some(a) = v["anonymousId"].as_str() {
                let owner = anon_owner.entry(a.to_string()).or_insert(i);
                assert_eq!(*owner, i, "anonymousId {a} used by two customers");
            }
            if let Some(u) = v["userId"].as_str() {
                assert_eq!(u, format!("c{i}"));
            }
        }
    }
    assert!(ids.len() > 150_000);
}
