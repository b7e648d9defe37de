//! `touchpoint-gen`: the one seeded synthetic data generator, shared by the demo command,
//! the tests and the benchmarks.
//!
//! It simulates the customers of **Zahrádka**, a Central-European home & garden e-shop
//! selling in Czechia (zahradka.cz) and Poland (zahradka.pl), and writes what they do as
//! Segment-spec events (track, page, screen, identify): arriving from search, ads, social
//! networks, review sites, forums, the blog or the newsletter; browsing; the app; cart,
//! checkout, payment and orders; delivery on time or late, click-and-collect; chat, phone,
//! help centre (searches of its knowledge base, `kb`, whose 30 articles have none about a
//! late delivery), returns and complaints; surveys and reviews; coming back, going quiet or
//! leaving for a competitor. [`brand_catalog`] is the touchpoint catalog that classifies
//! every one of these events, and [`PAIN_POINTS`] names the pain points planted in the
//! data for the analyses to find.
//!
//! Output is deterministic: the same [`GenConfig`] gives byte-identical output on the same
//! platform, and customer `i` depends only on `(seed, i)` (its own ChaCha stream), so
//! customers can be generated in any order or in parallel. Writing NDJSON renders JSON text
//! directly, without building `serde_json::Value`s, at well over a million events a second
//! on one core.
//!
//! ```
//! use touchpoint_gen::{GenConfig, Generator};
//! let gen = Generator::new(GenConfig::for_events(2_000, 7));
//! let mut out = Vec::new();
//! let n = gen.write_ndjson(&mut out, |_| {}).unwrap();
//! assert_eq!(n as usize, out.iter().filter(|&&b| b == b'\n').count());
//! ```

mod brand;
mod catalog;
pub mod chi;
mod classify;
mod json;
pub mod kb;
mod render;
mod sim;

pub use brand::BRAND_NAME;
pub use catalog::{brand_catalog, events, PAIN_POINTS};
pub use classify::BrandClassifier;

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use std::io::{self, Write};

/// 2026-11-01T00:00:00Z in ms since the epoch: the default end of the generated period.
pub const DEFAULT_END_MS: i64 = 1_793_491_200_000;
/// The default length of the generated period, in days.
pub const DEFAULT_DAYS: u32 = 180;
/// The average number of events per customer with the default period (measured over
/// 200 k customers; individual customers range from 1 to several hundred).
pub const EVENTS_PER_CUSTOMER: f64 = 50.0;

/// Up to this many customers, [`GenConfig::for_events`] counts events exactly.
pub const CALIBRATE_UP_TO: usize = 20_000;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GenConfig {
    /// The seed: the same seed gives the same data.
    pub seed: u64,
    /// How many customers (people, each with one or more devices).
    pub customers: usize,
    /// Every event happens before this time (ms since the epoch).
    pub end_ms: i64,
    /// Customers first arrive during the `days` days before `end_ms`.
    pub days: u32,
}

impl GenConfig {
    /// About `events` events in all (≈ [`EVENTS_PER_CUSTOMER`] per customer, so 10 M events
    /// ≈ 200 k customers), ending at [`DEFAULT_END_MS`] and spread over [`DEFAULT_DAYS`].
    ///
    /// Events per customer are heavy-tailed (a few loyal customers have hundreds), so a
    /// small data set can stray far from the average. Up to [`CALIBRATE_UP_TO`] customers
    /// the customers are therefore simulated (cheaply, without rendering) and counted until
    /// the total is as close to `events` as whole customers allow; above that, the average
    /// is accurate to a few per cent.
    pub fn for_events(events: usize, seed: u64) -> GenConfig {
        let estimate = ((events as f64 / EVENTS_PER_CUSTOMER).round() as usize).max(1);
        let mut cfg = GenConfig { seed, customers: estimate, end_ms: DEFAULT_END_MS, days: DEFAULT_DAYS };
        if estimate <= CALIBRATE_UP_TO {
            cfg.customers = Generator::new(cfg).customers_for(events as u64, 3 * estimate + 10);
        }
        cfg
    }

    /// The first millisecond of the generated period.
    pub fn start_ms(&self) -> i64 {
        self.end_ms - i64::from(self.days) * sim::DAY
    }
}

/// Generates customers one by one; each customer's events come in time order.
#[derive(Debug, Clone)]
pub struct Generator {
    cfg: GenConfig,
    /// The ChaCha key; customer `i` uses stream `i`.
    key: [u8; 32],
    keys: render::Keys,
    /// Where this seed's low-discrepancy sequence starts.
    offsets: [u64; 2],
}

/// How often [`Generator::write_ndjson`] reports progress, in events.
const PROGRESS_EVERY: u64 = 100_000;
/// How much NDJSON is buffered before it is written out.
const WRITE_CHUNK: usize = 1 << 20;

impl Generator {
    /// A generator for `cfg`.
    pub fn new(cfg: GenConfig) -> Generator {
        let mut key = [0u8; 32];
        for (k, chunk) in key.chunks_exact_mut(8).enumerate() {
            chunk.copy_from_slice(
                &render::mix64(cfg.seed ^ (k as u64).wrapping_mul(0xa076_1d64_78bd_642f)).to_le_bytes(),
            );
        }
        let offsets =
            [render::mix64(cfg.seed ^ 0x51ed_270b_2737_9e3d), render::mix64(cfg.seed ^ 0x2f3c_9d1e_8b47_a5c3)];
        Generator { cfg, key, keys: render::Keys::new(cfg.seed), offsets }
    }

    /// The configuration.
    pub fn config(&self) -> &GenConfig {
        &self.cfg
    }

    /// Simulate customer `i` into `evs` (cleared first), sorted by time and cut at the end.
    fn simulate(&self, i: usize, evs: &mut Vec<sim::Ev>) -> sim::Profile {
        let mut rng = ChaCha8Rng::from_seed(self.key);
        rng.set_stream(i as u64);
        let profile = sim::profile(&mut rng, i);
        evs.clear();
        // The R2 sequence (Roberts 2018): consecutive customers fill the unit square evenly.
        const A1: u64 = 0xc13f_a9a9_02a6_328f; // 0.7548776662… · 2⁶⁴
        const A2: u64 = 0x91e1_0da5_c79e_7b1c; // 0.5698402909… · 2⁶⁴
        let unit = |x: u64| (x >> 11) as f64 / (1u64 << 53) as f64;
        let strata = [
            unit(self.offsets[0].wrapping_add((i as u64).wrapping_mul(A1))),
            unit(self.offsets[1].wrapping_add((i as u64).wrapping_mul(A2))),
        ];
        sim::Sim::new(&mut rng, evs, &profile, self.cfg.end_ms, strata).run(self.cfg.start_ms());
        // Deliveries and after-sales lie in the future of the visit that caused them.
        evs.sort_by_key(|e| e.t);
        let keep = evs.partition_point(|e| e.t < self.cfg.end_ms);
        evs.truncate(keep);
        profile
    }

    /// The number of customers (at most `max`, at least 1) whose events add up closest to
    /// `target`.
    fn customers_for(&self, target: u64, max: usize) -> usize {
        let mut evs = Vec::new();
        let mut total = 0u64;
        for i in 0..max {
            self.simulate(i, &mut evs);
            let next = total + evs.len() as u64;
            if next >= target {
                // Stop before or after customer i, whichever is closer.
                return if target - total < next - target && i > 0 { i } else { i + 1 };
            }
            total = next;
        }
        max.max(1)
    }

    /// Events of customer number `i` (0-based) as Segment-shaped JSON objects, in time
    /// order. Depends only on the seed and `i`.
    pub fn customer(&self, i: usize) -> Vec<Value> {
        let mut evs = Vec::new();
        let profile = self.simulate(i, &mut evs);
        let ids = render::Ids::new(&self.keys, i);
        evs.iter()
            .enumerate()
            .map(|(n, ev)| {
                let mut tree = json::Tree::default();
                render::render(&mut tree, &ids, &profile, n, ev);
                tree.finish()
            })
            .collect()
    }

    /// Append customer `i`'s events to `out` as NDJSON lines (each line is exactly
    /// `serde_json::to_string` of the matching [`Generator::customer`] value); returns how
    /// many were written. For callers that generate customers in parallel.
    pub fn customer_ndjson(&self, i: usize, out: &mut Vec<u8>) -> usize {
        self.customer_ndjson_with(i, &mut Vec::new(), out)
    }

    fn customer_ndjson_with(&self, i: usize, evs: &mut Vec<sim::Ev>, out: &mut Vec<u8>) -> usize {
        let profile = self.simulate(i, evs);
        let ids = render::Ids::new(&self.keys, i);
        for (n, ev) in evs.iter().enumerate() {
            out.reserve(1024);
            render::render(&mut json::Bytes::new(out), &ids, &profile, n, ev);
            out.push(b'\n');
        }
        evs.len()
    }

    /// Write every customer's events as NDJSON (one object per line, customer after
    /// customer); calls `progress(events_so_far)` every 100 000 events or so and once at
    /// the end; returns the number of events written. `out` need not be buffered.
    pub fn write_ndjson<W: Write>(&self, mut out: W, mut progress: impl FnMut(u64)) -> io::Result<u64> {
        let mut evs = Vec::with_capacity(256);
        let mut buf = Vec::with_capacity(WRITE_CHUNK + 64 * 1024);
        let mut total = 0u64;
        let mut next_report = PROGRESS_EVERY;
        for i in 0..self.cfg.customers {
            total += self.customer_ndjson_with(i, &mut evs, &mut buf) as u64;
            if buf.len() >= WRITE_CHUNK {
                out.write_all(&buf)?;
                buf.clear();
            }
            if total >= next_report {
                progress(total);
                next_report = total + PROGRESS_EVERY;
            }
        }
        out.write_all(&buf)?;
        out.flush()?;
        progress(total);
        Ok(total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_end_is_the_first_of_november_2026() {
        assert_eq!(touchpoint_core::event::format_time(DEFAULT_END_MS), "2026-11-01T00:00:00.000Z");
    }

    #[test]
    fn ndjson_lines_are_the_values_serialized() {
        let gen = Generator::new(GenConfig::for_events(5_000, 3));
        for i in 0..gen.config().customers {
            let mut buf = Vec::new();
            let n = gen.customer_ndjson(i, &mut buf);
            let text = String::from_utf8(buf).unwrap();
            let values = gen.customer(i);
            assert_eq!(n, values.len());
            for (line, v) in text.lines().zip(&values) {
                assert_eq!(line, serde_json::to_string(v).unwrap());
            }
        }
    }
}
