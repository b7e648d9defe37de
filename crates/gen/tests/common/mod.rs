//! Helpers shared by the integration tests: generating a data set as parsed events.

#![allow(dead_code)]

use serde_json::Value;
use touchpoint_core::event::{Limits, ParseContext};
use touchpoint_core::Event;
use touchpoint_gen::{GenConfig, Generator};

/// The parse context the tests use: the data arrives a day after it ends.
pub fn context(cfg: &GenConfig) -> ParseContext<'static> {
    ParseContext { received_at: cfg.end_ms + 86_400_000, ..Default::default() }
}

/// Parse one generated event, failing the test with the event and the reason if invalid.
pub fn parse(v: &Value, cfg: &GenConfig) -> Event {
    match Event::parse(v.clone(), &context(cfg), &Limits::default()) {
        Ok(e) => e,
        Err(err) => panic!("invalid event {v}: {err}"),
    }
}

/// Every customer's events, generated on two threads (debug builds are slow).
pub fn customers(gen: &Generator) -> Vec<Vec<Value>> {
    let n = gen.config().customers;
    let half = n / 2;
    std::thread::scope(|s| {
        let a = s.spawn(|| (0..half).map(|i| gen.customer(i)).collect::<Vec<_>>());
        let b: Vec<_> = (half..n).map(|i| gen.customer(i)).collect();
        let mut all = a.join().expect("generator thread panicked");
        all.extend(b);
        all
    })
}
