//! The generated events as touchpoints: each event parsed the way the API parses it and
//! classified by the brand catalog, for tests and benchmarks that want journeys without
//! going through a store. The generator's customer `i` is one person across devices, so it
//! needs no identity stitching.

use crate::{brand_catalog, GenConfig, Generator};
use std::collections::HashMap;
use touchpoint_core::catalog::Classifier;
use touchpoint_core::event::ParseContext;
use touchpoint_core::{Event, Limits};

/// Classifies generated events with [`brand_catalog`].
pub struct BrandClassifier {
    classifier: Classifier,
    /// Touchpoint key → index in `brand_catalog().touchpoints`.
    index: HashMap<String, u16>,
    /// Receipt time given to every event (a day after the data ends).
    received_at: i64,
}

impl BrandClassifier {
    /// A classifier for data generated with `cfg`.
    pub fn new(cfg: &GenConfig) -> BrandClassifier {
        let catalog = brand_catalog();
        let index = catalog.touchpoints.iter().enumerate().map(|(i, t)| (t.key.clone(), i as u16)).collect();
        BrandClassifier { classifier: Classifier::new(catalog.rules), index, received_at: cfg.end_ms + 86_400_000 }
    }

    /// Customer `i`'s touchpoints in time order: (unix seconds, index into
    /// `brand_catalog().touchpoints`). Events that are not contacts (identify) are left out.
    pub fn touchpoints(&self, generator: &Generator, i: usize) -> Vec<(i64, u16)> {
        let cx = ParseContext { received_at: self.received_at, ..Default::default() };
        let limits = Limits::default();
        generator
            .customer(i)
            .into_iter()
            .filter_map(|v| {
                let e = Event::parse(v, &cx, &limits).expect("generated events are valid");
                let key = self.classifier.classify(&e)?.key;
                let tp = *self.index.get(&key).unwrap_or_else(|| panic!("{key} is not in the brand catalog"));
                Some((e.timestamp.div_euclid(1000), tp))
            })
            .collect()
    }
}
