//! A synthetic study in the shape of the Customer Happiness Index (Mobile Institute,
//! Poland): 2,000 actively buying internet users rate the brands they bought from in 16
//! purchase categories (10 brands each, 160 in all) on 9 areas, 0–10, and say how likely
//! they are to recommend each brand. The data feeds the benchmarking demo and tests, and
//! reproduces the published figures: mean satisfaction 7.8, pharmacies best at 8.2,
//! grocery stores worst at 7.4, NPS 30.
//!
//! # How a study is drawn
//!
//! Each respondent buys in 1 category (40 %), 2 (35 %) or 3 (25 %), chosen without
//! replacement in proportion to the categories' popularity, and in each of them from 1
//! brand (50 %), 2 (35 %) or 3 (15 %), chosen in proportion to `1 / sqrt(k + 1)` for the
//! category's k-th brand (brand 0 leads its market): about 6,100 ratings in all, at least
//! a handful per brand. Every (respondent, brand) pair is one [`ChiRating`]. The brands are
//! fictional; the demo's own e-shop ([`crate::BRAND_NAME`]) leads DIY, home and garden.
//! A rating's area ratings come from a latent value
//!
//! ```text
//! L = c_cat + b_brand + e_area + e_cat,area + e_brand,area + g_respondent + x_rating + ε
//! rating = clamp(round(L), 0, 10)
//! ```
//!
//! with a fixed area effect `e_area` (prices lowest, product quality and store look
//! highest), seeded normal effects of the brand (sd 0.35, centred within its category), of
//! the category × area (sd 0.2) and brand × area (sd 0.2), the respondent's generosity `g`
//! (sd 0.7), the experience with this brand `x` (sd 0.55; 7 % of ratings follow a bad
//! experience, 2–4 points lower) and noise `ε` (sd 1.0). Areas may be left unrated:
//! complaints handling only by those who complained (30 %, 70 % after a bad experience),
//! the ability to leave feedback by 75 %, promotions and delivery / pickup by 90 %.
//!
//! The likelihood to recommend is `clamp(round(c_rec + mean of the rating's area ratings +
//! ν), 0, 10)` with `ν` normal (sd 1.3).
//!
//! # Calibration
//!
//! Rounding and clipping at 10 move the means, so the offsets are set on the drawn sample
//! itself. A category can be summarised by two means: the mean of all its area ratings
//! (respondent × brand × area, each rating once: what the CHI reports as mean
//! satisfaction) and the mean of its area means (the benchmark index of
//! `touchpoint_listen::benchmark`). They differ by a few hundredths, because complaints and
//! feedback are rated less often and a little lower (complaints mostly after a bad
//! experience). The category offset `c_cat` is found by bisection so that the midpoint of
//! the two equals the category's target; both then lie within about 0.05 of it (typically
//! ±0.02). The targets are [`BEST_MEAN`] for pharmacies, [`WORST_MEAN`] for grocery stores,
//! and for the other 14 a fixed spread shifted by one common amount, adjusted until the
//! midpoint over all ratings is [`TARGET_MEAN`]. The recommendation offset `c_rec` is found
//! by bisection so that the NPS of all ratings is [`TARGET_NPS`] (to within one rating in
//! 6,000, about 0.02 points). Every seed thus reproduces the figures.
//!
//! The same seed gives the same study; respondent `i` draws from its own ChaCha stream.

use crate::render::mix64;
use rand::Rng;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use touchpoint_core::i18n::Localized;

/// Number of purchase categories.
pub const CATEGORIES: usize = 16;
/// Brands in each category.
pub const BRANDS_PER_CATEGORY: usize = 10;
/// Number of rated areas.
pub const AREAS: usize = 9;
/// Number of respondents.
pub const RESPONDENTS: u32 = 2_000;
/// The mean of all area ratings the study is calibrated to.
pub const TARGET_MEAN: f64 = 7.8;
/// The NPS of all ratings the study is calibrated to.
pub const TARGET_NPS: f64 = 30.0;
/// The best category's mean (pharmacies).
pub const BEST_MEAN: f64 = 8.2;
/// The worst category's mean (grocery stores).
pub const WORST_MEAN: f64 = 7.4;
/// The index of the best category, pharmacies.
pub const PHARMACIES: usize = 0;
/// The index of the worst category, grocery stores.
pub const GROCERY: usize = 15;

/// A purchase category.
#[derive(Debug, Clone, PartialEq)]
pub struct ChiCategory {
    /// Stable identifier (`pharmacies`), used in the CSV.
    pub key: &'static str,
    /// Its name in en / cs / pl.
    pub name: Localized,
    /// The mean of its area ratings the study was calibrated to.
    pub target: f64,
}

/// A brand (fictional).
#[derive(Debug, Clone, PartialEq)]
pub struct ChiBrand {
    /// Index of its category in [`ChiStudy::categories`].
    pub category: usize,
    /// Its name, unique in the study.
    pub name: String,
}

/// A rated area.
#[derive(Debug, Clone, PartialEq)]
pub struct ChiArea {
    /// Stable identifier (`prices`), a CSV column.
    pub key: &'static str,
    /// Its name in en / cs / pl.
    pub name: Localized,
}

/// One respondent's ratings of one brand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChiRating {
    /// The respondent, `0..RESPONDENTS`.
    pub respondent: u32,
    /// Index into [`ChiStudy::categories`].
    pub category: usize,
    /// Index into [`ChiStudy::brands`].
    pub brand: usize,
    /// Ratings 0–10 of the areas, in the order of [`ChiStudy::areas`]; `None` when not
    /// rated.
    pub areas: [Option<u8>; AREAS],
    /// Likelihood to recommend the brand, 0–10.
    pub recommend: u8,
}

/// A generated study.
#[derive(Debug, Clone, PartialEq)]
pub struct ChiStudy {
    /// The seed it was drawn from.
    pub seed: u64,
    /// The 16 categories.
    pub categories: Vec<ChiCategory>,
    /// The 160 brands, category by category (brand `i` is in category `i / 10`).
    pub brands: Vec<ChiBrand>,
    /// The 9 areas.
    pub areas: Vec<ChiArea>,
    /// Number of respondents (every one rated at least one brand).
    pub respondents: u32,
    /// The ratings, by respondent, then brand.
    pub ratings: Vec<ChiRating>,
}

/// A category: key, names, the target before the common shift (pharmacies and grocery
/// are not shifted), popularity weight, and ten brand names.
struct CategorySpec {
    key: &'static str,
    en: &'static str,
    cs: &'static str,
    pl: &'static str,
    base: f64,
    popularity: f64,
    brands: [&'static str; BRANDS_PER_CATEGORY],
}

const CATEGORY_SPECS: [CategorySpec; CATEGORIES] = [
    CategorySpec {
        key: "pharmacies",
        en: "Pharmacies",
        cs: "Lékárny",
        pl: "Apteki",
        base: BEST_MEAN,
        popularity: 1.4,
        brands: [
            "Salvia",
            "Heřmánek",
            "Apteka pod Lipą",
            "Medika Plus",
            "Zdravíčko",
            "FarmaDom",
            "Lékárna Kvítek",
            "Aptekarz24",
            "Vitalka",
            "Bylinka",
        ],
    },
    CategorySpec {
        key: "cosmetics",
        en: "Cosmetics and drugstores",
        cs: "Kosmetika a drogerie",
        pl: "Kosmetyki i drogerie",
        base: 7.95,
        popularity: 1.3,
        brands: [
            "Levandule",
            "Krásná",
            "Drogeria Jaśmin",
            "Pěna & Co",
            "Mydlárna Olivie",
            "Róża",
            "Čistota",
            "Glow Lab",
            "Perełka",
            "Bublina",
        ],
    },
    CategorySpec {
        key: "books",
        en: "Books",
        cs: "Knihy",
        pl: "Książki",
        base: 8.0,
        popularity: 0.9,
        brands: [
            "Knihomol",
            "Stránka",
            "Papírový drak",
            "Czytelnia Atlas",
            "Inkoust",
            "Zakładka",
            "Lampa a kniha",
            "Knižní police",
            "Litera",
            "Kapitola",
        ],
    },
    CategorySpec {
        key: "opticians",
        en: "Opticians",
        cs: "Optiky",
        pl: "Salony optyczne",
        base: 7.95,
        popularity: 0.6,
        brands: [
            "Ostrý pohled",
            "Okular",
            "Brýlárna Iris",
            "Soczewka",
            "Vizio",
            "Jasný zrak",
            "Optyk Lumen",
            "Monokl",
            "Obzor",
            "Duhovka",
        ],
    },
    CategorySpec {
        key: "pets",
        en: "Pet supplies",
        cs: "Potřeby pro zvířata",
        pl: "Artykuły dla zwierząt",
        base: 7.9,
        popularity: 0.7,
        brands: [
            "Chlupáč",
            "Mruczek",
            "Packa",
            "Ogonek",
            "Tlapka",
            "Pelíšek",
            "Karma i Spółka",
            "Zoo Kotva",
            "Psí radost",
            "Akvárium Vlnka",
        ],
    },
    CategorySpec {
        key: "toys",
        en: "Toys",
        cs: "Hračky",
        pl: "Zabawki",
        base: 7.85,
        popularity: 0.7,
        brands: [
            "Káča",
            "Klocek",
            "Hračkárna Medvídek",
            "Bączek",
            "Mašinka",
            "Zabawkowo",
            "Dřevěný koník",
            "Kostička",
            "Panenka",
            "Skakanka",
        ],
    },
    CategorySpec {
        key: "sports",
        en: "Sporting goods",
        cs: "Sportovní potřeby",
        pl: "Artykuły sportowe",
        base: 7.85,
        popularity: 0.9,
        brands: [
            "Sprint",
            "Vrchol",
            "Rakieta",
            "Na hory",
            "Cíl",
            "Biegacz",
            "Kolo a sníh",
            "Sportovna",
            "Tatry Outdoor",
            "Dres",
        ],
    },
    CategorySpec {
        key: "jewellery",
        en: "Jewellery and watches",
        cs: "Šperky a hodinky",
        pl: "Biżuteria i zegarki",
        base: 7.9,
        popularity: 0.6,
        brands: [
            "Zlatník Rubín",
            "Perla",
            "Bursztyn",
            "Safír",
            "Prsten",
            "Złota Nić",
            "Opál",
            "Hodinářství Čas",
            "Brylant",
            "Korále",
        ],
    },
    CategorySpec {
        key: "clothing",
        en: "Clothing and footwear",
        cs: "Oblečení a obuv",
        pl: "Odzież i obuwie",
        base: 7.75,
        popularity: 1.4,
        brands: ["Šatník", "Szafa", "Módní dům Len", "Vlna", "Krejčí", "Bawełna", "Kabát", "Střih", "Guzik", "Nitka"],
    },
    CategorySpec {
        key: "travel",
        en: "Travel",
        cs: "Cestování",
        pl: "Podróże",
        base: 7.75,
        popularity: 0.6,
        brands: [
            "Cestovka Vlaštovka",
            "Podróżnik",
            "Modré moře",
            "Walizka",
            "Letenka Go",
            "Horizont",
            "Pobyty Slunce",
            "Wakacje Fala",
            "Karavana",
            "Mapa",
        ],
    },
    CategorySpec {
        key: "electronics",
        en: "Consumer electronics",
        cs: "Elektronika",
        pl: "Elektronika",
        base: 7.7,
        popularity: 1.2,
        brands: ["Elektron", "Volt", "Obvod", "Megahertz", "Kabel", "Gniazdko", "Čip", "Dioda", "Ampér", "Pixel Dům"],
    },
    CategorySpec {
        key: "home_garden",
        en: "DIY, home and garden",
        cs: "Dům, dílna a zahrada",
        pl: "Dom, majsterkowanie i ogród",
        base: 7.7,
        popularity: 1.0,
        brands: [
            crate::BRAND_NAME,
            "Kutil",
            "Majster",
            "Hoblík",
            "Šroubek",
            "Ogródek pod Dębem",
            "Dílna",
            "Kielnia",
            "Konewka",
            "Palisáda",
        ],
    },
    CategorySpec {
        key: "furniture",
        en: "Furniture",
        cs: "Nábytek",
        pl: "Meble",
        base: 7.6,
        popularity: 0.6,
        brands: [
            "Židle a stůl",
            "Komoda",
            "Meblarnia",
            "Skříň",
            "Dubový dům",
            "Sofa Polana",
            "Křeslo",
            "Regał",
            "Postel & Co",
            "Stolik",
        ],
    },
    CategorySpec {
        key: "marketplaces",
        en: "Online marketplaces",
        cs: "Online tržiště",
        pl: "Platformy sprzedażowe",
        base: 7.65,
        popularity: 1.3,
        brands: [
            "Tržnice",
            "Bazarek",
            "Jarmark",
            "Kupto",
            "Vše na klik",
            "Targowisko",
            "Trh24",
            "Kramík",
            "Sklepik Online",
            "Vitrína",
        ],
    },
    CategorySpec {
        key: "fuel",
        en: "Fuel stations",
        cs: "Čerpací stanice",
        pl: "Stacje paliw",
        base: 7.6,
        popularity: 0.9,
        brands: [
            "Tankuj",
            "Dálnice Plus",
            "Paliwko",
            "Kanystr",
            "Stacja Orzeł",
            "Pumpa",
            "Nafta & Káva",
            "Szlak",
            "Rychlá pumpa",
            "Cisterna",
        ],
    },
    CategorySpec {
        key: "grocery",
        en: "Grocery stores",
        cs: "Potraviny",
        pl: "Sklepy spożywcze",
        base: WORST_MEAN,
        popularity: 1.6,
        brands: [
            "Spižírna",
            "Koszyk Sąsiada",
            "Potraviny U Lípy",
            "Spiżarnia",
            "Chlebíček",
            "Warzywniak",
            "Denní trh",
            "Smak",
            "Sýrárna",
            "Pekárna Klas",
        ],
    },
];

/// An area: key, names, fixed effect, and the probability it is rated (besides
/// complaints, which depend on the experience).
struct AreaSpec {
    key: &'static str,
    en: &'static str,
    cs: &'static str,
    pl: &'static str,
    effect: f64,
    rated: f64,
}

/// The index of complaints handling among the areas.
const COMPLAINTS: usize = 5;

const AREA_SPECS: [AreaSpec; AREAS] = [
    AreaSpec {
        key: "assortment",
        en: "Assortment availability",
        cs: "Dostupnost sortimentu",
        pl: "Dostępność asortymentu",
        effect: 0.2,
        rated: 1.0,
    },
    AreaSpec {
        key: "quality",
        en: "Product quality",
        cs: "Kvalita produktů",
        pl: "Jakość produktów",
        effect: 0.3,
        rated: 1.0,
    },
    AreaSpec {
        key: "service",
        en: "Service quality",
        cs: "Kvalita obsluhy",
        pl: "Jakość obsługi",
        effect: 0.2,
        rated: 1.0,
    },
    AreaSpec {
        key: "store",
        en: "Store look and intuitiveness",
        cs: "Vzhled a přehlednost obchodu",
        pl: "Wygląd i intuicyjność sklepu",
        effect: 0.3,
        rated: 1.0,
    },
    AreaSpec { key: "promotions", en: "Promotions", cs: "Akce a slevy", pl: "Promocje", effect: -0.2, rated: 0.9 },
    AreaSpec {
        key: "complaints",
        en: "Complaints handling",
        cs: "Vyřizování reklamací",
        pl: "Obsługa reklamacji",
        effect: -0.3,
        rated: 0.3,
    },
    AreaSpec {
        key: "feedback",
        en: "Ability to leave feedback",
        cs: "Možnost dát zpětnou vazbu",
        pl: "Możliwość wyrażenia opinii",
        effect: -0.1,
        rated: 0.75,
    },
    AreaSpec { key: "prices", en: "Prices", cs: "Ceny", pl: "Ceny", effect: -0.6, rated: 1.0 },
    AreaSpec {
        key: "delivery",
        en: "Delivery and pickup",
        cs: "Doručení a vyzvednutí",
        pl: "Dostawa i odbiór",
        effect: 0.2,
        rated: 0.9,
    },
];

/// The probability complaints handling is rated after a bad experience.
const COMPLAINED_AFTER_BAD: f64 = 0.7;

/// A standard normal draw (Box–Muller, the cosine half).
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    let u1 = 1.0 - rng.gen::<f64>(); // (0, 1]
    let u2 = rng.gen::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// An index drawn in proportion to `weights` among those not yet `taken`.
fn weighted_pick(rng: &mut ChaCha8Rng, weights: &[f64], taken: &[usize]) -> usize {
    let total: f64 = weights.iter().enumerate().filter(|(i, _)| !taken.contains(i)).map(|(_, w)| w).sum();
    let mut r = rng.gen::<f64>() * total;
    let mut last = 0;
    for (i, &w) in weights.iter().enumerate().filter(|(i, _)| !taken.contains(i)) {
        last = i;
        if r < w {
            return i;
        }
        r -= w;
    }
    last
}

/// A rating before the offsets are known: latent area values without `c_cat` (`None`
/// when not rated) and the recommendation noise.
struct Draft {
    respondent: u32,
    category: usize,
    brand: usize,
    latent: [Option<f64>; AREAS],
    nu: f64,
}

/// The rounded, clipped rating of a latent value.
fn rating(x: f64) -> u8 {
    x.round().clamp(0.0, 10.0) as u8
}

/// The midpoint of the two means of the ratings of some categories, each category's latent
/// values (by area) shifted by its offset: `(mean of all ratings + mean of the area means) /
/// 2`. 0 when there are no values.
fn midpoint(groups: &[(&[Vec<f64>; AREAS], f64)]) -> f64 {
    let (mut sum, mut n, mut area_means, mut areas) = (0.0, 0usize, 0.0, 0usize);
    for a in 0..AREAS {
        let (mut s, mut k) = (0.0, 0usize);
        for (values, off) in groups {
            s += values[a].iter().map(|&x| f64::from(rating(x + off))).sum::<f64>();
            k += values[a].len();
        }
        if k > 0 {
            sum += s;
            n += k;
            area_means += s / k as f64;
            areas += 1;
        }
    }
    if n == 0 {
        return 0.0;
    }
    0.5 * (sum / n as f64 + area_means / areas as f64)
}

/// The ChaCha key of a seed (distinct from the event generator's keys).
fn key(seed: u64) -> [u8; 32] {
    let mut key = [0u8; 32];
    for (k, chunk) in key.chunks_exact_mut(8).enumerate() {
        let salt = (k as u64 + 0x43_48_49).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        chunk.copy_from_slice(&mix64(seed ^ salt).to_le_bytes());
    }
    key
}

/// The smallest offset (to within 1e-9, searched in −20…20) at which `f(offset)` reaches
/// `target`, for `f` non-decreasing; of the two ends of the final bracket, the one whose
/// value is closer to the target.
fn solve(target: f64, f: impl Fn(f64) -> f64) -> f64 {
    let (mut lo, mut hi) = (-20.0f64, 20.0f64);
    while hi - lo > 1e-9 {
        let mid = 0.5 * (lo + hi);
        if f(mid) < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    if (f(lo) - target).abs() <= (f(hi) - target).abs() {
        lo
    } else {
        hi
    }
}

/// Generate the study for `seed` (module docs).
pub fn generate(seed: u64) -> ChiStudy {
    let key = key(seed);
    let mut world = ChaCha8Rng::from_seed(key);
    world.set_stream(u64::MAX);

    // Brand, category × area and brand × area effects.
    let n_brands = CATEGORIES * BRANDS_PER_CATEGORY;
    let mut brand_effect: Vec<f64> = (0..n_brands).map(|_| 0.35 * normal(&mut world)).collect();
    for chunk in brand_effect.chunks_mut(BRANDS_PER_CATEGORY) {
        let mean = chunk.iter().sum::<f64>() / chunk.len() as f64;
        chunk.iter_mut().for_each(|b| *b -= mean);
    }
    let cat_area: Vec<[f64; AREAS]> =
        (0..CATEGORIES).map(|_| std::array::from_fn(|_| 0.2 * normal(&mut world))).collect();
    let brand_area: Vec<[f64; AREAS]> =
        (0..n_brands).map(|_| std::array::from_fn(|_| 0.2 * normal(&mut world))).collect();

    let popularity: Vec<f64> = CATEGORY_SPECS.iter().map(|c| c.popularity).collect();
    let brand_weights: Vec<f64> = (0..BRANDS_PER_CATEGORY).map(|k| ((k + 1) as f64).powf(-0.5)).collect();

    let mut drafts: Vec<Draft> = Vec::new();
    let mut rng = ChaCha8Rng::from_seed(key);
    for respondent in 0..RESPONDENTS {
        rng.set_stream(u64::from(respondent));
        rng.set_word_pos(0);
        let generosity = 0.7 * normal(&mut rng);
        let u = rng.gen::<f64>();
        let n_categories = 1 + usize::from(u >= 0.40) + usize::from(u >= 0.75);
        let mut categories: Vec<usize> = Vec::new();
        for _ in 0..n_categories {
            let c = weighted_pick(&mut rng, &popularity, &categories);
            categories.push(c);
        }
        let mut mine: Vec<Draft> = Vec::new();
        for &c in &categories {
            let v = rng.gen::<f64>();
            let n_here = 1 + usize::from(v >= 0.50) + usize::from(v >= 0.85);
            let mut picked: Vec<usize> = Vec::new();
            for _ in 0..n_here {
                let k = weighted_pick(&mut rng, &brand_weights, &picked);
                picked.push(k);
            }
            for k in picked {
                let brand = c * BRANDS_PER_CATEGORY + k;
                let bad = rng.gen_bool(0.07);
                let experience = 0.55 * normal(&mut rng) - if bad { rng.gen_range(2.0..4.0) } else { 0.0 };
                let latent = std::array::from_fn(|a| {
                    let p = if a == COMPLAINTS && bad { COMPLAINED_AFTER_BAD } else { AREA_SPECS[a].rated };
                    let rated = p >= 1.0 || rng.gen_bool(p);
                    let noise = normal(&mut rng);
                    rated.then(|| {
                        brand_effect[brand]
                            + AREA_SPECS[a].effect
                            + cat_area[c][a]
                            + brand_area[brand][a]
                            + generosity
                            + experience
                            + noise
                    })
                });
                mine.push(Draft { respondent, category: c, brand, latent, nu: 1.3 * normal(&mut rng) });
            }
        }
        mine.sort_by_key(|d| d.brand);
        drafts.extend(mine);
    }

    // The latent values of each category, area by area.
    let mut values: Vec<[Vec<f64>; AREAS]> = (0..CATEGORIES).map(|_| std::array::from_fn(|_| Vec::new())).collect();
    for d in &drafts {
        for (a, l) in d.latent.iter().enumerate() {
            if let Some(x) = l {
                values[d.category][a].push(*x);
            }
        }
    }
    // Category offsets so that each category's midpoint meets its target; the 14 middle
    // categories' targets share one shift, moved until the midpoint of all ratings meets
    // TARGET_MEAN (a few rounds of a fixed-point step: the midpoint moves by about the
    // middle categories' share of the shift).
    let fixed = |c: usize| c == PHARMACIES || c == GROCERY;
    let middle_share = {
        let count = |c: usize| values[c].iter().map(Vec::len).sum::<usize>() as f64;
        let all: f64 = (0..CATEGORIES).map(count).sum();
        let mid: f64 = (0..CATEGORIES).filter(|&c| !fixed(c)).map(count).sum();
        if all > 0.0 {
            mid / all
        } else {
            1.0
        }
    };
    let mut shift = 0.0;
    let mut targets = [0.0f64; CATEGORIES];
    let mut offsets = [0.0f64; CATEGORIES];
    for _ in 0..8 {
        for c in 0..CATEGORIES {
            targets[c] = CATEGORY_SPECS[c].base + if fixed(c) { 0.0 } else { shift };
            offsets[c] = solve(targets[c], |off| midpoint(&[(&values[c], off)]));
        }
        let all: Vec<(&[Vec<f64>; AREAS], f64)> = values.iter().zip(offsets).collect();
        let miss = TARGET_MEAN - midpoint(&all);
        if miss.abs() < 1e-4 || middle_share <= 0.0 {
            break;
        }
        shift += miss / middle_share;
    }

    let mut ratings: Vec<ChiRating> = drafts
        .iter()
        .map(|d| ChiRating {
            respondent: d.respondent,
            category: d.category,
            brand: d.brand,
            areas: d.latent.map(|l| l.map(|x| rating(x + offsets[d.category]))),
            recommend: 0,
        })
        .collect();

    // The recommendation offset that gives the target NPS.
    let base: Vec<f64> = ratings
        .iter()
        .zip(&drafts)
        .map(|(r, d)| {
            let rated: Vec<f64> = r.areas.iter().flatten().map(|&x| f64::from(x)).collect();
            rated.iter().sum::<f64>() / rated.len().max(1) as f64 + d.nu
        })
        .collect();
    let nps_at = |off: f64| {
        let (mut p, mut d) = (0usize, 0usize);
        for &b in &base {
            match rating(b + off) {
                9..=10 => p += 1,
                0..=6 => d += 1,
                _ => {}
            }
        }
        100.0 * (p as f64 - d as f64) / base.len().max(1) as f64
    };
    let rec_offset = solve(TARGET_NPS, nps_at);
    for (r, b) in ratings.iter_mut().zip(&base) {
        r.recommend = rating(b + rec_offset);
    }

    ChiStudy {
        seed,
        categories: CATEGORY_SPECS
            .iter()
            .zip(&targets)
            .map(|(c, &target)| ChiCategory { key: c.key, name: Localized::new(c.en, c.cs, c.pl), target })
            .collect(),
        brands: CATEGORY_SPECS
            .iter()
            .enumerate()
            .flat_map(|(c, spec)| spec.brands.iter().map(move |&name| ChiBrand { category: c, name: name.into() }))
            .collect(),
        areas: AREA_SPECS.iter().map(|a| ChiArea { key: a.key, name: Localized::new(a.en, a.cs, a.pl) }).collect(),
        respondents: RESPONDENTS,
        ratings,
    }
}

/// A CSV cell: quoted when it holds a comma, a quote or a line break.
fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

impl ChiStudy {
    /// The ratings as CSV, one line per rating: `respondent,category,brand`, the nine area
    /// keys, `recommend`. The category is its key, the brand its name; an area not rated is
    /// an empty cell. Lines end with `\n`.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("respondent,category,brand");
        for a in &self.areas {
            out.push(',');
            out.push_str(a.key);
        }
        out.push_str(",recommend\n");
        for r in &self.ratings {
            out.push_str(&r.respondent.to_string());
            out.push(',');
            out.push_str(&csv_cell(self.categories[r.category].key));
            out.push(',');
            out.push_str(&csv_cell(&self.brands[r.brand].name));
            for a in r.areas {
                out.push(',');
                if let Some(x) = a {
                    out.push_str(&x.to_string());
                }
            }
            out.push(',');
            out.push_str(&r.recommend.to_string());
            out.push('\n');
        }
        out
    }
}
