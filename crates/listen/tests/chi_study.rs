//! The generated Customer-Happiness-Index study, analysed by `benchmark::analyze`, recovers
//! the published figures it was built to: overall ≈ 7.8, pharmacies best ≈ 8.2, grocery
//! worst ≈ 7.4, NPS ≈ 30, over 16 categories, 160 brands, 9 areas and 2,000 respondents.

use touchpoint_gen::chi;
use touchpoint_listen::benchmark::{analyze, BenchRow};

fn rows(study: &chi::ChiStudy) -> Vec<BenchRow> {
    study
        .ratings
        .iter()
        .map(|r| BenchRow {
            category: study.categories[r.category].key.to_string(),
            brand: study.brands[r.brand].name.clone(),
            areas: study
                .areas
                .iter()
                .zip(r.areas)
                .filter_map(|(a, v)| Some((a.key.to_string(), f64::from(v?))))
                .collect(),
            recommend: Some(f64::from(r.recommend)),
            weight: 1.0,
        })
        .collect()
}

#[test]
fn the_benchmark_analysis_recovers_the_published_figures() {
    for seed in [1, 42] {
        let study = chi::generate(seed);
        let report = analyze(&rows(&study)).expect("the study analyses");
        assert_eq!(report.categories.len(), 16);
        assert_eq!(report.brands.len(), 160);
        assert_eq!(report.areas.len(), 9);
        let respondents: std::collections::BTreeSet<u32> = study.ratings.iter().map(|r| r.respondent).collect();
        assert_eq!(respondents.len(), 2_000);

        let overall = report.overall.index.as_ref().unwrap().value;
        assert!((overall - 7.8).abs() < 0.1, "seed {seed}: overall {overall}");
        let nps = report.overall.nps.as_ref().unwrap().nps;
        assert!((nps - 30.0).abs() < 3.0, "seed {seed}: NPS {nps}");
        let index = |c: &str| {
            report.categories.iter().find(|r| r.category == c).and_then(|r| r.scores.index.as_ref()).unwrap().value
        };
        let best = report.categories.iter().find(|c| c.rank == Some(1)).unwrap();
        let worst = report.categories.iter().find(|c| c.rank == Some(16)).unwrap();
        assert_eq!((best.category.as_str(), worst.category.as_str()), ("pharmacies", "grocery"), "seed {seed}");
        assert!((index("pharmacies") - 8.2).abs() < 0.1, "seed {seed}: pharmacies {}", index("pharmacies"));
        assert!((index("grocery") - 7.4).abs() < 0.1, "seed {seed}: grocery {}", index("grocery"));
    }
}
