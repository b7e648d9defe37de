//! The Customer Happiness Index study: its shape (16 categories, 160 brands, 9 areas,
//! 2,000 respondents), the published figures recovered with plain arithmetic, and
//! determinism.
//!
//! "Mean satisfaction" is the mean of all area ratings, each (respondent, brand, area)
//! rating counting once — the mean the CHI reports; a category's mean is the same over its
//! ratings. The benchmark index (the mean of the area means) is checked as well. NPS is over
//! all (respondent, brand) ratings: % of 9–10 minus % of 0–6.

use std::collections::{BTreeSet, HashSet};
use touchpoint_gen::chi::{
    generate, ChiRating, ChiStudy, AREAS, BEST_MEAN, BRANDS_PER_CATEGORY, CATEGORIES, GROCERY, PHARMACIES, RESPONDENTS,
    TARGET_MEAN, TARGET_NPS, WORST_MEAN,
};

/// The mean of all area ratings of the given ratings.
fn mean_of_ratings<'a>(ratings: impl Iterator<Item = &'a ChiRating>) -> f64 {
    let (mut sum, mut n) = (0u64, 0u64);
    for r in ratings {
        for x in r.areas.iter().flatten() {
            sum += u64::from(*x);
            n += 1;
        }
    }
    sum as f64 / n as f64
}

/// The mean over areas of the per-area means (the benchmark index).
fn mean_of_area_means<'a>(ratings: impl Iterator<Item = &'a ChiRating> + Clone) -> f64 {
    let means: Vec<f64> = (0..AREAS)
        .filter_map(|a| {
            let xs: Vec<f64> = ratings.clone().filter_map(|r| r.areas[a]).map(f64::from).collect();
            (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
        })
        .collect();
    means.iter().sum::<f64>() / means.len() as f64
}

fn nps<'a>(ratings: impl Iterator<Item = &'a ChiRating>) -> f64 {
    let (mut p, mut d, mut n) = (0, 0, 0);
    for r in ratings {
        n += 1;
        if r.recommend >= 9 {
            p += 1;
        } else if r.recommend <= 6 {
            d += 1;
        }
    }
    100.0 * (p - d) as f64 / n as f64
}

fn check_figures(s: &ChiStudy) {
    let overall = mean_of_ratings(s.ratings.iter());
    assert!((overall - TARGET_MEAN).abs() < 0.05, "seed {}: overall mean {overall}", s.seed);
    let index = mean_of_area_means(s.ratings.iter());
    assert!((index - TARGET_MEAN).abs() < 0.05, "seed {}: overall index {index}", s.seed);
    let by_cat: Vec<f64> =
        (0..CATEGORIES).map(|c| mean_of_ratings(s.ratings.iter().filter(|r| r.category == c))).collect();
    for (c, (cat, &mean)) in s.categories.iter().zip(&by_cat).enumerate() {
        assert!((mean - cat.target).abs() < 0.05, "seed {}: {} mean {mean}", s.seed, cat.key);
        let idx = mean_of_area_means(s.ratings.iter().filter(|r| r.category == c));
        assert!((idx - cat.target).abs() < 0.05, "seed {}: {} index {idx}", s.seed, cat.key);
    }
    let best = (0..CATEGORIES).max_by(|&a, &b| by_cat[a].total_cmp(&by_cat[b])).unwrap();
    let worst = (0..CATEGORIES).min_by(|&a, &b| by_cat[a].total_cmp(&by_cat[b])).unwrap();
    assert_eq!((best, worst), (PHARMACIES, GROCERY), "seed {}: {by_cat:?}", s.seed);
    assert!((by_cat[PHARMACIES] - BEST_MEAN).abs() < 0.1);
    assert!((by_cat[GROCERY] - WORST_MEAN).abs() < 0.1);
    let n = nps(s.ratings.iter());
    assert!((n - TARGET_NPS).abs() < 0.1, "seed {}: NPS {n}", s.seed);
    // The categories' NPS follow their satisfaction: pharmacies above grocery stores.
    assert!(
        nps(s.ratings.iter().filter(|r| r.category == PHARMACIES))
            > nps(s.ratings.iter().filter(|r| r.category == GROCERY))
    );
}

#[test]
fn chi_shape() {
    let s = generate(7);
    assert_eq!(s.categories.len(), CATEGORIES);
    assert_eq!(s.brands.len(), CATEGORIES * BRANDS_PER_CATEGORY);
    assert_eq!(s.areas.len(), AREAS);
    assert_eq!(s.categories[PHARMACIES].name.en, "Pharmacies");
    assert_eq!(s.categories[GROCERY].name.cs, "Potraviny");
    assert_eq!(s.areas[7].name.pl, "Ceny");
    // Names: all three languages given, brands unique.
    for name in s.categories.iter().map(|c| &c.name).chain(s.areas.iter().map(|a| &a.name)) {
        assert!(!name.en.is_empty() && !name.cs.is_empty() && !name.pl.is_empty());
    }
    let names: HashSet<&str> = s.brands.iter().map(|b| b.name.as_str()).collect();
    assert_eq!(names.len(), s.brands.len(), "brand names are unique");
    for (i, b) in s.brands.iter().enumerate() {
        assert_eq!(b.category, i / BRANDS_PER_CATEGORY);
    }
    // 2,000 respondents, each rating brands of 1–3 categories; every brand rated.
    let respondents: BTreeSet<u32> = s.ratings.iter().map(|r| r.respondent).collect();
    assert_eq!((s.respondents, respondents.len()), (RESPONDENTS, RESPONDENTS as usize));
    for who in 0..RESPONDENTS {
        let cats: BTreeSet<usize> = s.ratings.iter().filter(|r| r.respondent == who).map(|r| r.category).collect();
        assert!((1..=3).contains(&cats.len()), "respondent {who} in {} categories", cats.len());
    }
    for b in 0..s.brands.len() {
        let n = s.ratings.iter().filter(|r| r.brand == b).count();
        assert!(n >= 5, "brand {} has {n} ratings", s.brands[b].name);
    }
    for r in &s.ratings {
        assert_eq!(s.brands[r.brand].category, r.category);
        assert!(r.areas.iter().flatten().all(|&x| x <= 10) && r.recommend <= 10);
        assert!(r.areas[0].is_some(), "assortment is always rated");
    }
    // Some areas are missing (complaints most often), every value of the scale occurs.
    let missing = |a: usize| s.ratings.iter().filter(|r| r.areas[a].is_none()).count() as f64 / s.ratings.len() as f64;
    assert!(missing(5) > 0.5 && missing(6) > 0.1 && missing(1) == 0.0);
    let values: BTreeSet<u8> = s.ratings.iter().flat_map(|r| r.areas.iter().flatten().copied()).collect();
    assert_eq!(values.len(), 11);
}

#[test]
fn chi_recovers_the_published_figures() {
    for seed in [7, 1, 2, 42] {
        check_figures(&generate(seed));
    }
}

#[test]
fn chi_is_deterministic() {
    let (a, b, c) = (generate(11), generate(11), generate(12));
    assert_eq!(a, b);
    assert_eq!(a.to_csv(), b.to_csv());
    assert_ne!(a.ratings, c.ratings);
}

#[test]
fn chi_csv() {
    let s = generate(3);
    let csv = s.to_csv();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "respondent,category,brand,assortment,quality,service,store,promotions,complaints,feedback,prices,delivery,recommend"
    );
    assert_eq!(csv.lines().count(), s.ratings.len() + 1);
    for (line, r) in lines.zip(&s.ratings) {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!(cells.len(), 3 + AREAS + 1, "{line}");
        assert_eq!(cells[0], r.respondent.to_string());
        assert_eq!(cells[1], s.categories[r.category].key);
        assert_eq!(cells[2], s.brands[r.brand].name);
        for a in 0..AREAS {
            assert_eq!(cells[3 + a], r.areas[a].map(|x| x.to_string()).unwrap_or_default());
        }
        assert_eq!(cells[3 + AREAS], r.recommend.to_string());
    }
}
