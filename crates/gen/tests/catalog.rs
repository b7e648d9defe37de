//! The brand catalog covers the product's vocabulary (every stage, the channels, both
//! kinds, translated names), and every generated event classifies to one of its
//! touchpoints — nothing is left to auto-discovery.

mod common;

use std::collections::{BTreeMap, HashMap, HashSet};
use touchpoint_core::catalog::{REQUEST_OPENED_TP, REQUEST_RESOLVED_TP, REQUEST_UPDATED_TP};
use touchpoint_core::{Channel, Classifier, EventType, Stage, TouchpointKind};
use touchpoint_gen::{brand_catalog, GenConfig, Generator, PAIN_POINTS};

#[test]
fn catalog_covers_stages_channels_kinds_and_languages() {
    let cat = brand_catalog();
    assert!((28..=45).contains(&cat.touchpoints.len()), "{} touchpoints", cat.touchpoints.len());
    let stages: HashSet<&str> = cat.touchpoints.iter().filter_map(|t| t.stage.as_deref()).collect();
    for s in Stage::defaults() {
        assert!(stages.contains(s.key.as_str()), "no touchpoint in stage {}", s.key);
    }
    let channels: HashSet<Channel> = cat.touchpoints.iter().map(|t| t.channel).collect();
    for c in Channel::ALL.into_iter().filter(|&c| c != Channel::Other) {
        assert!(channels.contains(&c), "no touchpoint on channel {}", c.as_str());
    }
    for k in [TouchpointKind::Direct, TouchpointKind::Indirect] {
        assert!(cat.touchpoints.iter().any(|t| t.kind == k), "no {} touchpoint", k.as_str());
    }
    let departments: HashSet<&str> = cat.touchpoints.iter().filter_map(|t| t.department.as_deref()).collect();
    for d in ["marketing", "sales", "logistics", "customer-service", "product"] {
        assert!(departments.contains(d), "no touchpoint owned by {d}");
    }
    let by_key: HashMap<&str, _> = cat.touchpoints.iter().map(|t| (t.key.as_str(), t)).collect();
    assert!(by_key["order-completed"].conversion);
    assert_eq!(cat.touchpoints.iter().filter(|t| t.conversion).count(), 1);
    assert!(by_key["account-closed"].churn && by_key["switched-to-competitor"].churn);
    for p in PAIN_POINTS {
        assert!(by_key.contains_key(p), "pain point {p} is not a touchpoint");
    }
    for t in &cat.touchpoints {
        let n = &t.names;
        assert!(!n.en.is_empty() && !n.cs.is_empty() && !n.pl.is_empty(), "{} lacks a name", t.key);
        assert!(n.cs != n.en && n.pl != n.en, "{} is not translated: {n:?}", t.key);
        assert!(!t.discovered && t.stage.is_some() && t.department.is_some(), "{} is unclassified", t.key);
    }
    // Real translations, with diacritics.
    assert_eq!(by_key["delivery-late"].names.cs, "Doručení zpožděno");
    assert_eq!(by_key["delivery-late"].names.pl, "Opóźniona dostawa");
    let accented = |s: &str| !s.is_ascii();
    assert!(cat.touchpoints.iter().filter(|t| accented(&t.names.cs)).count() >= 15);
    assert!(cat.touchpoints.iter().filter(|t| accented(&t.names.pl)).count() >= 15);
}

#[test]
fn every_event_parses_and_classifies_to_a_brand_touchpoint() {
    let cfg = GenConfig::for_events(200_000, 1);
    let gen = Generator::new(cfg);
    let cat = brand_catalog();
    let keys: HashSet<&str> = cat.touchpoints.iter().map(|t| t.key.as_str()).collect();
    let classifier = Classifier::new(cat.rules.clone());
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    let mut kinds: BTreeMap<EventType, u64> = BTreeMap::new();
    let mut total = 0;
    for events in common::customers(&gen) {
        for v in events {
            total += 1;
            let e = common::parse(&v, &cfg);
            *kinds.entry(e.kind).or_default() += 1;
            match classifier.classify(&e) {
                None => assert_eq!(e.kind, EventType::Identify, "only identify has no touchpoint: {v}"),
                Some(c) => {
                    assert!(c.discovered.is_none(), "{v} was left to auto-discovery as {}", c.key);
                    assert!(keys.contains(c.key.as_str()), "{v} classified as unknown {}", c.key);
                    *seen.entry(c.key).or_default() += 1;
                }
            }
        }
    }
    assert!(total > 150_000);
    // Service requests are made by `touchpoint demo` (its `demo_service`), which writes
    // each request into the store together with its events; the event generator makes none.
    let requests = [REQUEST_OPENED_TP, REQUEST_UPDATED_TP, REQUEST_RESOLVED_TP];
    for k in keys.iter().filter(|k| !requests.contains(k)) {
        assert!(seen.contains_key(*k), "touchpoint {k} never generated in {total} events; seen {seen:?}");
    }
    for t in [EventType::Track, EventType::Page, EventType::Screen, EventType::Identify] {
        assert!(kinds.get(&t).copied().unwrap_or(0) > 100, "few {t:?} events: {kinds:?}");
    }
}
