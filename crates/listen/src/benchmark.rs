//! Benchmarking in the shape of the Customer Happiness Index: purchase categories ×
//! brands × areas rated 0–10, an index per brand and category with its interval, the
//! area heatmap, rankings, NPS, each brand against the rest of its category, and
//! comparisons with benchmarks imported from elsewhere (industry figures, last year's
//! study).
//!
//! # Input
//!
//! A [`BenchRow`] is one respondent's ratings of one brand: 0–10 ratings of some areas
//! (an area the respondent did not rate, e.g. complaints handling when they never
//! complained, is simply absent), a 0–10 likelihood to recommend, and a survey weight. A
//! brand is identified by its category and its name together. Rows of weight 0 are left
//! out; a negative or non-finite weight, a rating outside 0–10, an empty or repeated area
//! name is an error ([`BenchError::InvalidRow`]).
//!
//! # Figures
//!
//! For a group of rows (all rows, a category's, a brand's), with weights `w_r`:
//!
//! - **Area mean** `m_a = Σ w_r x_ra / Σ w_r` over the rows that rated area `a` — a cell
//!   of the heatmap.
//! - **Index** `I = (1/|A|) Σ_{a∈A} m_a`, the mean of the area means over the areas `A`
//!   rated at least once in the group. Every area counts the same whatever its number of
//!   answers. (Groups rated on different sets of areas are compared on those sets.)
//! - **Respondent index** `r = mean of the row's rated areas` (rows rating no area have
//!   none). The index's uncertainty comes from these: `SE` is the standard error of their
//!   weighted mean (below), and the 95 % interval is `I ± t_{0.975, n_eff − 1} · SE`. With
//!   no missing areas `I` equals the mean of the respondent indices and this is exactly the
//!   t interval of the respondent indices.
//! - **NPS** of `recommend`: `100 · (p_P − p_D)`, promoters rating 9 or more, detractors 6
//!   or less (weighted shares), `SE = 100 · sqrt((p_P(1 − p_P) + p_D(1 − p_D) + 2 p_P p_D) /
//!   n_eff)`, 95 % interval `NPS ± 1.96 · SE` clipped to −100…100.
//!
//! Weighted means use the linearisation (sandwich) standard error
//! `SE² = n/(n − 1) · Σ w_r² (x_r − x̄)² / (Σ w_r)²` and Kish's effective sample size
//! `n_eff = (Σ w_r)² / Σ w_r²`; with equal weights they are the textbook `sd/√n` and `n`.
//! The rows of one respondent who rated several brands are treated as independent.
//!
//! Categories and brands are ranked by index, highest first (ties by name); groups without
//! an index come last, unranked. The overall and category figures pool their rows (a
//! category with more rows weighs more in the overall index).
//!
//! **Brand against the rest of its category**: Welch's t-test of the mean respondent index
//! of the brand's rows against that of the category's other rows,
//! `t = (x̄_1 − x̄_2) / sqrt(SE_1² + SE_2²)` with Welch–Satterthwaite degrees of freedom
//! `(SE_1² + SE_2²)² / (SE_1⁴/(n_eff,1 − 1) + SE_2⁴/(n_eff,2 − 1))`; the p-values of all
//! brands are adjusted together (Benjamini–Hochberg) and a brand is above or below its
//! category when the adjusted value is at most 0.05.
//!
//! **External benchmarks** ([`compare_external`]): `diff = own − external`,
//! `z = diff / sqrt(SE_own² + SE_ext²)`, two-sided normal p, significant at 0.05.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use touchpoint_analytics::stats::{benjamini_hochberg, normal_quantile, normal_sf, t_cdf, t_quantile, Interval};

/// The confidence level of every interval.
pub const LEVEL: f64 = 0.95;
/// The significance level of the tests (after Benjamini–Hochberg for brands).
pub const ALPHA: f64 = 0.05;
/// The top of the rating scale (the bottom is 0).
pub const SCALE_MAX: f64 = 10.0;

/// One respondent's ratings of one brand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BenchRow {
    /// The purchase category ("pharmacies").
    pub category: String,
    /// The brand, within its category.
    pub brand: String,
    /// Area → rating 0–10; areas not rated are absent.
    pub areas: Vec<(String, f64)>,
    /// Likelihood to recommend the brand, 0–10, when asked.
    pub recommend: Option<f64>,
    /// Survey weight (1 when unweighted); 0 leaves the row out.
    pub weight: f64,
}

/// What went wrong in benchmarking input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BenchError {
    /// A row of [`analyze`]'s input is invalid.
    #[error("row {row}: {message}")]
    InvalidRow {
        /// Its 0-based position in the input.
        row: usize,
        /// What is wrong.
        message: String,
    },
    /// A cell or line of an external-benchmark CSV is invalid.
    #[error("line {line}{}: {message}", column.as_ref().map(|c| format!(", column {c:?}")).unwrap_or_default())]
    Csv {
        /// The 1-based line (where the record starts).
        line: usize,
        /// The column's header name, when one cell is at fault.
        column: Option<String>,
        /// What is wrong.
        message: String,
    },
    /// The figures given to [`compare_external`] cannot be compared.
    #[error("cannot compare: {0}")]
    Compare(String),
}

/// A weighted mean (or another estimate) with its uncertainty.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    /// The value.
    pub value: f64,
    /// Its standard error; `None` with fewer than two rows.
    pub se: Option<f64>,
    /// The 95 % interval; `None` with fewer than two rows.
    pub interval: Option<Interval>,
    /// Rows that contributed.
    pub n: usize,
    /// Kish's effective sample size `(Σ w)² / Σ w²` (`n` when unweighted).
    pub n_eff: f64,
}

/// Net Promoter Score of the likelihood to recommend.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Nps {
    /// `100 · (p_P − p_D)`, −100…100.
    pub nps: f64,
    /// Weighted share of promoters (9–10), in per cent.
    pub promoters: f64,
    /// Weighted share of passives (above 6, below 9), in per cent.
    pub passives: f64,
    /// Weighted share of detractors (0–6), in per cent.
    pub detractors: f64,
    /// `100 · sqrt((p_P(1 − p_P) + p_D(1 − p_D) + 2 p_P p_D) / n_eff)`.
    pub se: f64,
    /// `nps ± 1.96 · se`, clipped to −100…100.
    pub interval: Interval,
    /// Rows that answered.
    pub n: usize,
    /// Kish's effective sample size.
    pub n_eff: f64,
}

impl Nps {
    /// The score as an [`Estimate`].
    pub fn estimate(&self) -> Estimate {
        Estimate { value: self.nps, se: Some(self.se), interval: Some(self.interval), n: self.n, n_eff: self.n_eff }
    }
}

/// The figures of one group of rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scores {
    /// Rows in the group (weight above 0).
    pub rows: usize,
    /// The index (mean of the area means) with the interval from the respondent indices;
    /// `None` when no row rated any area.
    pub index: Option<Estimate>,
    /// The area means, aligned with [`BenchmarkReport::areas`]; `None` for an area nobody
    /// in the group rated.
    pub areas: Vec<Option<Estimate>>,
    /// NPS; `None` when nobody answered the recommendation question.
    pub nps: Option<Nps>,
}

/// How a brand compares with the rest of its category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Significantly above (adjusted p ≤ 0.05).
    Above,
    /// Significantly below.
    Below,
    /// No significant difference.
    Same,
}

/// Welch's test of a brand's respondent indices against the rest of its category.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RestComparison {
    /// The brand's mean respondent index.
    pub brand_mean: f64,
    /// The mean respondent index of the category's other brands.
    pub rest_mean: f64,
    /// `brand_mean − rest_mean`.
    pub diff: f64,
    /// Welch's t.
    pub t: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub df: f64,
    /// Two-sided p-value.
    pub p: f64,
    /// The Benjamini–Hochberg adjusted p-value across all brands tested.
    pub q: f64,
    /// Above, below or the same as the rest (by `q ≤ 0.05`).
    pub verdict: Verdict,
}

/// One category's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CategoryResult {
    /// The category.
    pub category: String,
    /// 1-based rank by index among categories; `None` without an index.
    pub rank: Option<usize>,
    /// Number of brands rated in it.
    pub brands: usize,
    /// Its figures.
    pub scores: Scores,
}

/// One brand's figures.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BrandResult {
    /// The brand.
    pub brand: String,
    /// Its category.
    pub category: String,
    /// 1-based rank by index among all brands; `None` without an index.
    pub rank: Option<usize>,
    /// 1-based rank by index within its category; `None` without an index.
    pub rank_in_category: Option<usize>,
    /// Its figures.
    pub scores: Scores,
    /// The test against the rest of its category; `None` when the brand or the rest has
    /// fewer than two rated rows, or neither varies.
    pub vs_category: Option<RestComparison>,
}

/// Everything [`analyze`] finds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BenchmarkReport {
    /// The areas, in order of first appearance in the input: the columns of every
    /// [`Scores::areas`].
    pub areas: Vec<String>,
    /// All rows together.
    pub overall: Scores,
    /// Categories, best first (unranked ones last, by name).
    pub categories: Vec<CategoryResult>,
    /// Brands, best first across categories (unranked ones last, by category and name).
    pub brands: Vec<BrandResult>,
}

/// A row after validation: area ratings aligned with the area list.
struct Prepared<'a> {
    category: &'a str,
    brand: &'a str,
    ratings: Vec<Option<f64>>,
    index: Option<f64>,
    recommend: Option<f64>,
    weight: f64,
}

fn invalid(row: usize, message: String) -> BenchError {
    BenchError::InvalidRow { row, message }
}

fn in_scale(x: f64) -> bool {
    (0.0..=SCALE_MAX).contains(&x)
}

/// Check every row and align its ratings with the areas (in order of first appearance).
fn prepare(rows: &[BenchRow]) -> Result<(Vec<String>, Vec<Prepared<'_>>), BenchError> {
    let mut areas: Vec<String> = Vec::new();
    let mut area_ix: HashMap<&str, usize> = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        if !(r.weight.is_finite() && r.weight >= 0.0) {
            return Err(invalid(i, format!("weight must be a non-negative number, got {}", r.weight)));
        }
        if let Some(x) = r.recommend {
            if !in_scale(x) {
                return Err(invalid(i, format!("recommend must be within 0–10, got {x}")));
            }
        }
        for (k, (area, x)) in r.areas.iter().enumerate() {
            if area.is_empty() {
                return Err(invalid(i, "an area has an empty name".into()));
            }
            if !in_scale(*x) {
                return Err(invalid(i, format!("rating of {area:?} must be within 0–10, got {x}")));
            }
            if r.areas[..k].iter().any(|(a, _)| a == area) {
                return Err(invalid(i, format!("area {area:?} is rated twice")));
            }
            if !area_ix.contains_key(area.as_str()) {
                area_ix.insert(area, areas.len());
                areas.push(area.clone());
            }
        }
    }
    let prepared = rows
        .iter()
        .filter(|r| r.weight > 0.0)
        .map(|r| {
            let mut ratings = vec![None; areas.len()];
            for (area, x) in &r.areas {
                ratings[area_ix[area.as_str()]] = Some(*x);
            }
            let index =
                (!r.areas.is_empty()).then(|| r.areas.iter().map(|(_, x)| x).sum::<f64>() / r.areas.len() as f64);
            Prepared {
                category: &r.category,
                brand: &r.brand,
                ratings,
                index,
                recommend: r.recommend,
                weight: r.weight,
            }
        })
        .collect();
    Ok((areas, prepared))
}

/// A weighted mean with its linearisation standard error (module docs).
struct WMean {
    mean: f64,
    se: Option<f64>,
    n: usize,
    n_eff: f64,
}

impl WMean {
    /// `None` for no values (or a zero total weight).
    fn of(values: impl Iterator<Item = (f64, f64)>) -> Option<WMean> {
        let v: Vec<(f64, f64)> = values.collect();
        let sw: f64 = v.iter().map(|p| p.1).sum();
        if v.is_empty() || sw <= 0.0 {
            return None;
        }
        let sw2: f64 = v.iter().map(|p| p.1 * p.1).sum();
        let mean = v.iter().map(|(x, w)| x * w).sum::<f64>() / sw;
        let n = v.len();
        let se = (n >= 2).then(|| {
            let ss: f64 = v.iter().map(|(x, w)| w * w * (x - mean) * (x - mean)).sum();
            (n as f64 / (n - 1) as f64 * ss / (sw * sw)).sqrt()
        });
        Some(WMean { mean, se, n, n_eff: sw * sw / sw2 })
    }

    /// Degrees of freedom `n_eff − 1`.
    fn df(&self) -> f64 {
        self.n_eff - 1.0
    }

    /// An estimate centred on `value` with this mean's standard error.
    fn estimate_at(&self, value: f64) -> Estimate {
        let interval = self.se.filter(|_| self.df() > 0.0).map(|se| {
            let t = t_quantile(1.0 - (1.0 - LEVEL) / 2.0, self.df());
            Interval { low: value - t * se, high: value + t * se }
        });
        Estimate { value, se: self.se, interval, n: self.n, n_eff: self.n_eff }
    }
}

/// NPS of the rows that answered `recommend`.
fn nps(rows: &[&Prepared]) -> Option<Nps> {
    let answered: Vec<(f64, f64)> = rows.iter().filter_map(|r| r.recommend.map(|x| (x, r.weight))).collect();
    let sw: f64 = answered.iter().map(|p| p.1).sum();
    if answered.is_empty() || sw <= 0.0 {
        return None;
    }
    let sw2: f64 = answered.iter().map(|p| p.1 * p.1).sum();
    let n_eff = sw * sw / sw2;
    let share = |keep: fn(f64) -> bool| answered.iter().filter(|p| keep(p.0)).map(|p| p.1).sum::<f64>() / sw;
    let p = share(|x| x >= 9.0);
    let d = share(|x| x <= 6.0);
    let value = 100.0 * (p - d);
    let se = 100.0 * ((p * (1.0 - p) + d * (1.0 - d) + 2.0 * p * d) / n_eff).sqrt();
    let z = normal_quantile(1.0 - (1.0 - LEVEL) / 2.0);
    Some(Nps {
        nps: value,
        promoters: 100.0 * p,
        passives: 100.0 * (1.0 - p - d),
        detractors: 100.0 * d,
        se,
        interval: Interval { low: (value - z * se).max(-100.0), high: (value + z * se).min(100.0) },
        n: answered.len(),
        n_eff,
    })
}

/// The figures of a group of rows.
fn scores(rows: &[&Prepared], n_areas: usize) -> Scores {
    let areas: Vec<Option<Estimate>> = (0..n_areas)
        .map(|a| {
            WMean::of(rows.iter().filter_map(|r| r.ratings[a].map(|x| (x, r.weight)))).map(|m| m.estimate_at(m.mean))
        })
        .collect();
    let rated: Vec<f64> = areas.iter().flatten().map(|e| e.value).collect();
    let index = WMean::of(rows.iter().filter_map(|r| r.index.map(|x| (x, r.weight)))).map(|m| {
        let value = rated.iter().sum::<f64>() / rated.len() as f64;
        m.estimate_at(value)
    });
    Scores { rows: rows.len(), index, areas, nps: nps(rows) }
}

/// Welch's test of the respondent indices of `a` against `b` (without the adjustment).
fn welch(a: &[&Prepared], b: &[&Prepared]) -> Option<RestComparison> {
    let ma = WMean::of(a.iter().filter_map(|r| r.index.map(|x| (x, r.weight))))?;
    let mb = WMean::of(b.iter().filter_map(|r| r.index.map(|x| (x, r.weight))))?;
    let (va, vb) = (ma.se? * ma.se?, mb.se? * mb.se?);
    if va + vb <= 0.0 || ma.df() <= 0.0 || mb.df() <= 0.0 {
        return None;
    }
    let t = (ma.mean - mb.mean) / (va + vb).sqrt();
    let df = (va + vb).powi(2) / (va * va / ma.df() + vb * vb / mb.df());
    let p = (2.0 * t_cdf(-t.abs(), df)).min(1.0);
    Some(RestComparison {
        brand_mean: ma.mean,
        rest_mean: mb.mean,
        diff: ma.mean - mb.mean,
        t,
        df,
        p,
        q: p,
        verdict: Verdict::Same,
    })
}

/// Positions (1-based) of `items` ranked by `index` descending, ties in the given order;
/// items without an index get `None`. `items` must already be in tie-breaking order.
fn ranks(indices: &[Option<f64>]) -> Vec<Option<usize>> {
    let mut order: Vec<usize> = (0..indices.len()).filter(|&i| indices[i].is_some()).collect();
    order.sort_by(|&x, &y| indices[y].unwrap_or(0.0).total_cmp(&indices[x].unwrap_or(0.0)).then(x.cmp(&y)));
    let mut out = vec![None; indices.len()];
    for (pos, &i) in order.iter().enumerate() {
        out[i] = Some(pos + 1);
    }
    out
}

/// Analyse the ratings (module docs). An empty input gives an empty report.
pub fn analyze(rows: &[BenchRow]) -> Result<BenchmarkReport, BenchError> {
    let (areas, prepared) = prepare(rows)?;
    let n_areas = areas.len();
    let all: Vec<&Prepared> = prepared.iter().collect();
    let mut by_category: BTreeMap<&str, Vec<&Prepared>> = BTreeMap::new();
    let mut by_brand: BTreeMap<(&str, &str), Vec<&Prepared>> = BTreeMap::new();
    for r in &prepared {
        by_category.entry(r.category).or_default().push(r);
        by_brand.entry((r.category, r.brand)).or_default().push(r);
    }

    let mut categories: Vec<CategoryResult> = by_category
        .iter()
        .map(|(&c, rows)| CategoryResult {
            category: c.to_string(),
            rank: None,
            brands: by_brand.range((c, "")..).take_while(|((bc, _), _)| *bc == c).count(),
            scores: scores(rows, n_areas),
        })
        .collect();
    let cat_ranks = ranks(&categories.iter().map(|c| c.scores.index.map(|e| e.value)).collect::<Vec<_>>());
    for (c, r) in categories.iter_mut().zip(cat_ranks) {
        c.rank = r;
    }

    let mut brands: Vec<BrandResult> = by_brand
        .iter()
        .map(|(&(c, b), rows)| {
            let rest: Vec<&Prepared> = by_category[c].iter().copied().filter(|r| r.brand != b).collect();
            BrandResult {
                brand: b.to_string(),
                category: c.to_string(),
                rank: None,
                rank_in_category: None,
                scores: scores(rows, n_areas),
                vs_category: welch(rows, &rest),
            }
        })
        .collect();
    let brand_ranks = ranks(&brands.iter().map(|b| b.scores.index.map(|e| e.value)).collect::<Vec<_>>());
    for (b, r) in brands.iter_mut().zip(brand_ranks) {
        b.rank = r;
    }
    let mut start = 0;
    while start < brands.len() {
        let end = start + brands[start..].iter().take_while(|b| b.category == brands[start].category).count();
        let within = ranks(&brands[start..end].iter().map(|b| b.scores.index.map(|e| e.value)).collect::<Vec<_>>());
        for (b, r) in brands[start..end].iter_mut().zip(within) {
            b.rank_in_category = r;
        }
        start = end;
    }

    let tested: Vec<usize> = (0..brands.len()).filter(|&i| brands[i].vs_category.is_some()).collect();
    let ps: Vec<f64> = tested.iter().filter_map(|&i| brands[i].vs_category.map(|c| c.p)).collect();
    for (&i, q) in tested.iter().zip(benjamini_hochberg(&ps)) {
        if let Some(c) = brands[i].vs_category.as_mut() {
            c.q = q;
            c.verdict = match (q <= ALPHA, c.diff > 0.0) {
                (true, true) => Verdict::Above,
                (true, false) => Verdict::Below,
                (false, _) => Verdict::Same,
            };
        }
    }

    let by_rank = |x: Option<usize>| x.unwrap_or(usize::MAX);
    categories.sort_by_key(|c| by_rank(c.rank));
    brands.sort_by_key(|b| by_rank(b.rank));
    Ok(BenchmarkReport { areas, overall: scores(&all, n_areas), categories, brands })
}

impl BenchmarkReport {
    /// Our own figure for an external benchmark's `metric` and `segment`: metric `index`,
    /// `nps` or `mean:<area>` (case-insensitive); segment empty, `all` or `overall` for all
    /// rows, else a category name, else a brand name that only one category has (names
    /// compared case-insensitively). `None` when there is no such figure (`csat` and other
    /// metrics are not part of a benchmark study).
    pub fn lookup(&self, metric: &str, segment: &str) -> Option<Estimate> {
        let seg = segment.trim();
        let scores = if seg.is_empty() || seg.eq_ignore_ascii_case("all") || seg.eq_ignore_ascii_case("overall") {
            &self.overall
        } else if let Some(c) = self.categories.iter().find(|c| eq_ci(&c.category, seg)) {
            &c.scores
        } else {
            let mut hits = self.brands.iter().filter(|b| eq_ci(&b.brand, seg));
            let first = hits.next()?;
            if hits.next().is_some() {
                return None;
            }
            &first.scores
        };
        let metric = metric.trim();
        let lower = metric.to_lowercase();
        if lower == "index" {
            scores.index
        } else if lower == "nps" {
            scores.nps.map(|n| n.estimate())
        } else if lower.starts_with("mean:") {
            let area = metric["mean:".len()..].trim();
            let i = self.areas.iter().position(|a| eq_ci(a, area))?;
            scores.areas[i]
        } else {
            None
        }
    }
}

/// Case-insensitive equality of trimmed names.
fn eq_ci(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

/// A figure from outside the study to compare with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExternalBenchmark {
    /// What it measures: `nps`, `csat`, `index`, `mean:<area>` …
    pub metric: String,
    /// Whom it describes: empty or `all` for everybody, a category, a brand.
    pub segment: String,
    /// Its value, on the metric's scale.
    pub value: f64,
    /// Its sample size, when known.
    pub n: Option<f64>,
    /// Its standard error, when known.
    pub se: Option<f64>,
}

/// Our figure against an external one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ExternalComparison {
    /// `own − external`.
    pub diff: f64,
    /// The external value's standard error used: its own, or derived from its `n`, or 0
    /// when it has neither (a fixed value).
    pub external_se: f64,
    /// `sqrt(own_se² + external_se²)`.
    pub se: f64,
    /// `diff / se`.
    pub z: f64,
    /// Two-sided p-value `2 · P(Z > |z|)`.
    pub p: f64,
    /// `p < 0.05`.
    pub significant: bool,
}

/// Compare our `own_value` (standard error `own_se`, effective sample size `own_n`) with an
/// external benchmark. The external standard error is its `se` when given; else, when it
/// has `n`, ours rescaled to its sample size, `own_se · sqrt(own_n / n)` (the same spread
/// per respondent as ours — all an NPS or a mean without its spread allows); else 0: the
/// external value is treated as a fixed target and only our own uncertainty counts.
/// Errors for non-finite values, a negative standard error, a non-positive sample size,
/// or when both standard errors are 0 (nothing to test with).
pub fn compare_external(
    own_value: f64,
    own_se: f64,
    own_n: f64,
    ext: &ExternalBenchmark,
) -> Result<ExternalComparison, BenchError> {
    let bad = |what: &str, expected: &str, x: f64| BenchError::Compare(format!("{what} must be {expected}, got {x}"));
    if !own_value.is_finite() {
        return Err(bad("own value", "a finite number", own_value));
    }
    if !(own_se.is_finite() && own_se >= 0.0) {
        return Err(bad("own standard error", "a non-negative number", own_se));
    }
    if !(own_n.is_finite() && own_n > 0.0) {
        return Err(bad("own sample size", "a positive number", own_n));
    }
    if !ext.value.is_finite() {
        return Err(bad("external value", "a finite number", ext.value));
    }
    let external_se = match (ext.se, ext.n) {
        (Some(se), _) if se.is_finite() && se >= 0.0 => se,
        (Some(se), _) => return Err(bad("external standard error", "a non-negative number", se)),
        (None, Some(n)) if n.is_finite() && n > 0.0 => own_se * (own_n / n).sqrt(),
        (None, Some(n)) => return Err(bad("external sample size", "a positive number", n)),
        (None, None) => 0.0,
    };
    let se = (own_se * own_se + external_se * external_se).sqrt();
    if se <= 0.0 {
        return Err(BenchError::Compare("both standard errors are 0: nothing to test with".into()));
    }
    let diff = own_value - ext.value;
    let z = diff / se;
    let p = (2.0 * normal_sf(z.abs())).min(1.0);
    Ok(ExternalComparison { diff, external_se, se, z, p, significant: p < ALPHA })
}

/// One external benchmark with our figure and the comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExternalResult {
    /// The benchmark.
    pub benchmark: ExternalBenchmark,
    /// Our figure ([`BenchmarkReport::lookup`]); `None` when the study has none.
    pub own: Option<Estimate>,
    /// The comparison; `None` without our figure, its standard error, or when
    /// [`compare_external`] refuses the pair.
    pub comparison: Option<ExternalComparison>,
}

/// Compare the report with each external benchmark (our `n_eff` as our sample size).
pub fn compare_report(report: &BenchmarkReport, benchmarks: &[ExternalBenchmark]) -> Vec<ExternalResult> {
    benchmarks
        .iter()
        .map(|b| {
            let own = report.lookup(&b.metric, &b.segment);
            let comparison = own.and_then(|o| compare_external(o.value, o.se?, o.n_eff, b).ok());
            ExternalResult { benchmark: b.clone(), own, comparison }
        })
        .collect()
}

/// The columns an external-benchmark CSV may have.
const CSV_COLUMNS: [&str; 5] = ["metric", "segment", "value", "n", "se"];

/// Split CSV text into records of cells, each with the 1-based line it starts on. Cells
/// may be quoted (`"…"`, with `""` for a quote inside), and then hold the delimiter and
/// line breaks. Blank lines are skipped.
fn csv_records(text: &str, delim: char) -> Result<Vec<(usize, Vec<String>)>, BenchError> {
    let mut records = Vec::new();
    let mut cells: Vec<String> = Vec::new();
    let mut cell = String::new();
    let mut line = 1;
    let mut start = 1;
    let mut quoted = false; // inside quotes
    let mut was_quoted = false; // this cell was quoted and its quotes are closed
    let mut chars = text.chars().peekable();
    let csv_err = |line: usize, message: &str| BenchError::Csv { line, column: None, message: message.into() };
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                '"' => {
                    quoted = false;
                    was_quoted = true;
                }
                '\n' => {
                    line += 1;
                    cell.push('\n');
                }
                _ => cell.push(c),
            }
            continue;
        }
        match c {
            '"' if cell.trim().is_empty() && !was_quoted => {
                cell.clear();
                quoted = true;
            }
            '"' => return Err(csv_err(line, "a quote inside an unquoted cell (quote the whole cell)")),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' | '\r' => {
                cells.push(std::mem::take(&mut cell));
                was_quoted = false;
                if cells.len() > 1 || !cells[0].trim().is_empty() {
                    records.push((start, std::mem::take(&mut cells)));
                } else {
                    cells.clear();
                }
                line += 1;
                start = line;
            }
            c if c == delim => {
                cells.push(std::mem::take(&mut cell));
                was_quoted = false;
            }
            c if was_quoted => {
                if !c.is_whitespace() {
                    return Err(csv_err(line, "text after a closing quote"));
                }
            }
            c => cell.push(c),
        }
    }
    if quoted {
        return Err(csv_err(start, "a quoted cell is not closed"));
    }
    cells.push(cell);
    if cells.len() > 1 || !cells[0].trim().is_empty() {
        records.push((start, cells));
    }
    Ok(records)
}

/// Parse external benchmarks from CSV text: a header naming the columns `metric`,
/// `segment`, `value` and optionally `n` and `se` (any order, case-insensitive), then one
/// benchmark per line. Empty `n` / `se` cells mean unknown. Quoted cells may contain
/// commas, quotes (doubled) and line breaks; blank lines and a leading byte-order mark are
/// ignored. A header with semicolons and no comma (a spreadsheet in a Czech or Polish
/// locale) switches to `;` as the delimiter and also accepts a decimal comma (`7,8`).
/// Errors name the line and column.
pub fn parse_external_csv(text: &str) -> Result<Vec<ExternalBenchmark>, BenchError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let delim = if first.contains(';') && !first.contains(',') { ';' } else { ',' };
    let records = csv_records(text, delim)?;
    let Some(((header_line, header), body)) = records.split_first() else {
        return Err(BenchError::Csv { line: 1, column: None, message: "no header line".into() });
    };
    let mut col: HashMap<&str, usize> = HashMap::new();
    for (i, name) in header.iter().enumerate() {
        let key = name.trim().to_lowercase();
        let Some(&known) = CSV_COLUMNS.iter().find(|&&c| c == key) else {
            return Err(BenchError::Csv {
                line: *header_line,
                column: Some(name.trim().into()),
                message: format!("unknown column (expected {})", CSV_COLUMNS.join(", ")),
            });
        };
        if col.insert(known, i).is_some() {
            return Err(BenchError::Csv {
                line: *header_line,
                column: Some(known.into()),
                message: "column named twice".into(),
            });
        }
    }
    for required in ["metric", "segment", "value"] {
        if !col.contains_key(required) {
            return Err(BenchError::Csv {
                line: *header_line,
                column: Some(required.into()),
                message: "required column missing from the header".into(),
            });
        }
    }
    let mut out = Vec::with_capacity(body.len());
    for (line, cells) in body {
        let line = *line;
        if cells.len() != header.len() {
            return Err(BenchError::Csv {
                line,
                column: None,
                message: format!("{} cells, the header has {}", cells.len(), header.len()),
            });
        }
        let cell = |name: &str| col.get(name).map(|&i| cells[i].trim());
        let err = |name: &str, message: String| BenchError::Csv { line, column: Some(name.into()), message };
        let number = |name: &str| -> Result<Option<f64>, BenchError> {
            let Some(raw) = cell(name).filter(|s| !s.is_empty()) else { return Ok(None) };
            let text = if delim == ';' && !raw.contains('.') { raw.replacen(',', ".", 1) } else { raw.to_string() };
            match text.parse::<f64>() {
                Ok(x) if x.is_finite() => Ok(Some(x)),
                _ => Err(err(name, format!("not a number: {raw:?}"))),
            }
        };
        let metric = cell("metric").unwrap_or("");
        if metric.is_empty() {
            return Err(err("metric", "empty".into()));
        }
        let value = number("value")?.ok_or_else(|| err("value", "empty".into()))?;
        let n = number("n")?;
        if let Some(x) = n.filter(|&x| x <= 0.0) {
            return Err(err("n", format!("must be positive, got {x}")));
        }
        let se = number("se")?;
        if let Some(x) = se.filter(|&x| x < 0.0) {
            return Err(err("se", format!("must not be negative, got {x}")));
        }
        out.push(ExternalBenchmark {
            metric: metric.to_string(),
            segment: cell("segment").unwrap_or("").to_string(),
            value,
            n,
            se,
        });
    }
    Ok(out)
}
