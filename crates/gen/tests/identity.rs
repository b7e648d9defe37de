//! Customers are anonymous until they identify; an identify links the device's anonymous
//! id to the user id; later events carry the user id; some customers use two devices.

mod common;

use std::collections::HashSet;
use touchpoint_gen::{GenConfig, Generator};

#[test]
fn anonymous_then_identified_then_known() {
    let cfg = GenConfig::for_events(200_000, 21);
    let gen = Generator::new(cfg);
    let (mut identified, mut multi_device, mut anonymous_only) = (0, 0, 0);
    for (i, events) in common::customers(&gen).into_iter().enumerate() {
        let user = format!("c{i}");
        let mut linked: HashSet<String> = HashSet::new();
        let mut devices: HashSet<String> = HashSet::new();
        for v in &events {
            let e = common::parse(v, &cfg);
            if let Some(a) = &e.anonymous_id {
                devices.insert(a.clone());
            }
            match (&e.user_id, &e.anonymous_id) {
                (Some(u), Some(a)) => {
                    assert_eq!(u, &user);
                    if e.kind == touchpoint_core::EventType::Identify {
                        let traits = e.traits.as_ref().expect("identify has traits");
                        for t in ["name", "email", "city", "country", "language", "segment"] {
                            assert!(
                                traits.get(t).and_then(|x| x.as_str()).is_some_and(|s| !s.is_empty()),
                                "{t} in {v}"
                            );
                        }
                        assert!(["CZ", "PL"].contains(&traits["country"].as_str().unwrap_or("")));
                        linked.insert(a.clone());
                    } else {
                        assert!(linked.contains(a), "{v} carries a userId before its device identified");
                    }
                }
                (Some(u), None) => {
                    assert_eq!(u, &user);
                    assert!(!linked.is_empty(), "a back-office event before the customer is known: {v}");
                }
                (None, Some(a)) => {
                    assert!(!linked.contains(a), "{v}: anonymous again after the device identified");
                }
                (None, None) => panic!("no id: {v}"),
            }
        }
        if linked.is_empty() {
            anonymous_only += 1;
        } else {
            identified += 1;
            if linked.len() >= 2 {
                multi_device += 1;
            }
        }
        assert!(devices.len() <= 3);
    }
    assert!(anonymous_only > identified, "most visitors never identify");
    assert!(multi_device * 10 >= identified, "{multi_device} of {identified} known customers use two devices");
}
