//! Satisfaction metrics with 95 % confidence intervals: NPS, CSAT, CES and rating means,
//! their answer distributions, trends over calendar days, weeks and months, and significance
//! tests between two groups (segments, brands or periods) or between many.
//!
//! Every function takes answers as [`Obs`] (a value and a survey weight, 1 when the data are
//! not weighted). An observation whose value is not finite or whose weight is not a finite
//! positive number is ignored, and so is a value outside the metric's scale (an NPS of 11, a
//! CSAT of 0). Weighted data use Kish's effective sample size in place of `n` wherever a
//! formula needs a sample size:
//!
//! ```text
//! n_eff = (Σ w)² / Σ w²          (= n when every weight is equal)
//! ```
//!
//! The metrics, with `p` a weighted share `Σ w·[condition] / Σ w` and `z = Φ⁻¹(0.975)`:
//!
//! * **NPS** (0–10): promoters answer 9–10, passives 7–8, detractors 0–6 (a value is a
//!   promoter when ≥ 9, a passive when ≥ 7, a detractor otherwise). `NPS = 100·(pP − pD)`,
//!   `SE = 100·sqrt((pP(1 − pP) + pD(1 − pD) + 2·pP·pD) / n_eff)`, the interval
//!   `NPS ± z·SE` clamped to [−100, 100].
//! * **CSAT** (1–5): the share of 4–5 answers in percent with a Wilson score interval on
//!   `n_eff` ([`wilson_fractional`]).
//! * **CES** (1–7, higher = easier) and **rating means** (any scale): the weighted mean
//!   `m = Σ w·x / Σ w`, the weighted standard deviation with the reliability-weights
//!   correction `sd² = Σ w·(x − m)² / Σ w · n_eff / (n_eff − 1)` (the usual `n − 1` sample
//!   variance when unweighted), `SE = sd / sqrt(n_eff)` and the Student t interval
//!   `m ± t_{0.975, n_eff − 1}·SE`.
//!
//! Small samples are flagged, not hidden: an effective n below [`MIN_SAMPLE`] (30) carries a
//! `small_sample` [`Warning`], below [`VERY_SMALL_SAMPLE`] (10) a `very_small_sample` one.
//!
//! Pure: no I/O, no clock. Degenerate input (no valid answer, one answer, no spread) gives
//! `None` or a result without an interval, never a panic or NaN.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use touchpoint_analytics::stats::{benjamini_hochberg, normal_quantile, normal_sf, t_cdf, t_quantile, Interval};
use touchpoint_core::calendar::{civil_from_days, days_from_civil, Clock};
use touchpoint_core::i18n::Localized;

/// The confidence level of every interval in this module (95 %).
pub const LEVEL: f64 = 0.95;
/// The significance level of every test in this module: a difference is significant when its
/// (two-sided) p-value is below 0.05.
pub const ALPHA: f64 = 0.05;
/// Below this effective sample size a result carries a `small_sample` warning.
pub const MIN_SAMPLE: f64 = 30.0;
/// Below this effective sample size a result carries a `very_small_sample` warning instead.
pub const VERY_SMALL_SAMPLE: f64 = 10.0;
/// The most integer values a [`Scale`] may span for [`distribution`] (a wider scale gives an
/// empty distribution rather than a huge one).
pub const MAX_SCALE_POINTS: i64 = 1001;
/// The most points [`trend`] fills in: when the span from the first to the last bucket is
/// longer, only the buckets that hold answers are returned (no gaps are filled).
pub const MAX_TREND_POINTS: i64 = 100_000;

/// `z = Φ⁻¹((1 + LEVEL) / 2)`, 1.959963984540054 for 95 %.
fn z_level() -> f64 {
    normal_quantile(1.0 - (1.0 - LEVEL) / 2.0)
}

/// One answer: its value and its survey weight.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Obs {
    /// The answer (an NPS 0–10, a CSAT 1–5, a CES 1–7, a rating).
    pub value: f64,
    /// The survey weight; 1 for unweighted data. Observations with a weight that is not a
    /// finite positive number are ignored.
    pub weight: f64,
}

impl Obs {
    /// An unweighted answer (weight 1).
    pub fn new(value: f64) -> Self {
        Obs { value, weight: 1.0 }
    }

    /// A weighted answer.
    pub fn weighted(value: f64, weight: f64) -> Self {
        Obs { value, weight }
    }

    /// Whether the answer counts at all: a finite value and a finite weight above 0.
    pub fn is_valid(&self) -> bool {
        self.value.is_finite() && self.weight.is_finite() && self.weight > 0.0
    }
}

/// The answer scale of a question.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scale {
    /// Net Promoter: 0–10.
    Nps,
    /// Customer satisfaction: 1–5.
    Csat,
    /// Customer effort: 1–7, higher = easier.
    Ces,
    /// A rating from `min` to `max` (0–10 in the Customer Happiness Index).
    Rating {
        /// The lowest answer.
        min: i32,
        /// The highest answer.
        max: i32,
    },
}

impl Scale {
    /// The 0–10 rating scale.
    pub const RATING_0_10: Scale = Scale::Rating { min: 0, max: 10 };

    /// The lowest answer of the scale.
    pub fn min(&self) -> i32 {
        match *self {
            Scale::Nps => 0,
            Scale::Csat | Scale::Ces => 1,
            Scale::Rating { min, .. } => min,
        }
    }

    /// The highest answer of the scale.
    pub fn max(&self) -> i32 {
        match *self {
            Scale::Nps => 10,
            Scale::Csat => 5,
            Scale::Ces => 7,
            Scale::Rating { max, .. } => max,
        }
    }

    /// Whether `value` lies within `[min, max]`.
    pub fn contains(&self, value: f64) -> bool {
        value >= f64::from(self.min()) && value <= f64::from(self.max())
    }
}

/// Kish's effective sample size `(Σ w)² / Σ w²` of the finite positive weights (others are
/// ignored); `n` when all weights are equal, 0 when there is no usable weight. Computed on
/// the weights divided by the largest one, so huge weights do not overflow.
pub fn kish_n_eff(weights: &[f64]) -> f64 {
    let usable = || weights.iter().copied().filter(|w| w.is_finite() && *w > 0.0);
    let max = usable().fold(0.0f64, f64::max);
    if max <= 0.0 {
        return 0.0;
    }
    let (s, s2) = usable().map(|w| w / max).fold((0.0, 0.0), |(s, s2), w| (s + w, s2 + w * w));
    s * s / s2
}

/// A caution attached to a result computed from few answers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Warning {
    /// A stable machine-readable code: `small_sample` or `very_small_sample`.
    pub code: &'static str,
    /// The effective sample size that triggered it.
    pub n_eff: f64,
    /// The text to show, in every language.
    pub message: Localized,
}

/// The minimum-sample warning for an effective sample size: `very_small_sample` below
/// [`VERY_SMALL_SAMPLE`], `small_sample` below [`MIN_SAMPLE`], none otherwise.
pub fn sample_warning(n_eff: f64) -> Option<Warning> {
    if n_eff < VERY_SMALL_SAMPLE {
        Some(Warning {
            code: "very_small_sample",
            n_eff,
            message: Localized::new(
                "Fewer than 10 effective responses: the result is not reliable.",
                "Méně než 10 efektivních odpovědí: výsledek není spolehlivý.",
                "Mniej niż 10 efektywnych odpowiedzi: wynik nie jest wiarygodny.",
            ),
        })
    } else if n_eff < MIN_SAMPLE {
        Some(Warning {
            code: "small_sample",
            n_eff,
            message: Localized::new(
                "Fewer than 30 effective responses: treat the result as indicative only.",
                "Méně než 30 efektivních odpovědí: výsledek berte jen jako orientační.",
                "Mniej niż 30 efektywnych odpowiedzi: traktuj wynik wyłącznie orientacyjnie.",
            ),
        })
    } else {
        None
    }
}

/// The Wilson score interval for a proportion `p` (0–1) observed on a fractional sample
/// size `n` (Kish's effective n of weighted data), at confidence `level`:
/// `(p + z²/2n ± z·sqrt(p(1 − p)/n + z²/4n²)) / (1 + z²/n)`, `z = Φ⁻¹((1 + level)/2)`, as
/// a proportion (0–1). Agrees with `stats::wilson(x, n, level)` for whole counts. `None`
/// when `n` is not positive or `p` is outside [0, 1].
pub fn wilson_fractional(p: f64, n: f64, level: f64) -> Option<Interval> {
    if !(n.is_finite() && n > 0.0 && (0.0..=1.0).contains(&p) && level > 0.0 && level < 1.0) {
        return None;
    }
    let z = normal_quantile(1.0 - (1.0 - level) / 2.0);
    let z2 = z * z;
    let denom = 1.0 + z2 / n;
    let center = (p + z2 / (2.0 * n)) / denom;
    let half = z / denom * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    Some(Interval { low: (center - half).max(0.0), high: (center + half).min(1.0) })
}

/// The valid answers of a sample (optionally restricted to a scale), with weights divided
/// by the largest one.
struct Sample {
    /// (value, normalized weight) pairs.
    items: Vec<(f64, f64)>,
    /// The largest raw weight.
    max_w: f64,
    /// Σ of normalized weights.
    sum: f64,
    /// Kish's effective n.
    n_eff: f64,
}

impl Sample {
    fn new(obs: &[Obs], scale: Option<Scale>) -> Option<Sample> {
        let keep = |o: &&Obs| o.is_valid() && scale.is_none_or(|s| s.contains(o.value));
        let max_w = obs.iter().filter(keep).map(|o| o.weight).fold(0.0f64, f64::max);
        if max_w <= 0.0 {
            return None;
        }
        let items: Vec<(f64, f64)> = obs.iter().filter(keep).map(|o| (o.value, o.weight / max_w)).collect();
        let (sum, sum2) = items.iter().fold((0.0, 0.0), |(s, s2), &(_, w)| (s + w, s2 + w * w));
        Some(Sample { n_eff: sum * sum / sum2, items, max_w, sum })
    }

    fn n(&self) -> usize {
        self.items.len()
    }

    fn total_weight(&self) -> f64 {
        self.sum * self.max_w
    }

    /// The weighted share (0–1) and count of answers satisfying `cond`.
    fn share(&self, cond: impl Fn(f64) -> bool) -> (f64, usize) {
        let (w, c) =
            self.items.iter().filter(|(v, _)| cond(*v)).fold((0.0, 0usize), |(w, c), &(_, wi)| (w + wi, c + 1));
        ((w / self.sum).clamp(0.0, 1.0), c)
    }
}

/// Net Promoter Score of a sample.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NpsResult {
    /// Number of valid answers (0–10).
    pub n: usize,
    /// Kish's effective sample size (`n` when unweighted).
    pub n_eff: f64,
    /// Σ of the weights of the valid answers (`n` when unweighted).
    pub total_weight: f64,
    /// Number of promoters (9–10).
    pub promoters: usize,
    /// Number of passives (7–8).
    pub passives: usize,
    /// Number of detractors (0–6).
    pub detractors: usize,
    /// Weighted share of promoters, in percent: `100·pP`.
    pub promoters_pct: f64,
    /// Weighted share of passives, in percent.
    pub passives_pct: f64,
    /// Weighted share of detractors, in percent: `100·pD`.
    pub detractors_pct: f64,
    /// The score `100·(pP − pD)`, −100…100.
    pub score: f64,
    /// Its standard error `100·sqrt((pP(1 − pP) + pD(1 − pD) + 2·pP·pD) / n_eff)`.
    pub se: f64,
    /// The 95 % interval `score ± 1.96·se`, clamped to [−100, 100].
    pub interval: Interval,
    /// The minimum-sample warning, if any.
    pub warning: Option<Warning>,
}

/// The Net Promoter Score with its standard error and 95 % interval (see the module docs);
/// `None` without any valid answer in 0–10.
pub fn nps(obs: &[Obs]) -> Option<NpsResult> {
    let s = Sample::new(obs, Some(Scale::Nps))?;
    let (pp, promoters) = s.share(|v| v >= 9.0);
    let (pd, detractors) = s.share(|v| v < 7.0);
    let (pa, passives) = s.share(|v| (7.0..9.0).contains(&v));
    let score = 100.0 * (pp - pd);
    let var = (pp * (1.0 - pp) + pd * (1.0 - pd) + 2.0 * pp * pd).max(0.0);
    let se = 100.0 * (var / s.n_eff).sqrt();
    let half = z_level() * se;
    Some(NpsResult {
        n: s.n(),
        n_eff: s.n_eff,
        total_weight: s.total_weight(),
        promoters,
        passives,
        detractors,
        promoters_pct: 100.0 * pp,
        passives_pct: 100.0 * pa,
        detractors_pct: 100.0 * pd,
        score,
        se,
        interval: Interval { low: (score - half).max(-100.0), high: (score + half).min(100.0) },
        warning: sample_warning(s.n_eff),
    })
}

/// A share of answers (CSAT: the share of 4–5 answers) with its Wilson interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProportionResult {
    /// Number of valid answers (1–5).
    pub n: usize,
    /// Kish's effective sample size (`n` when unweighted).
    pub n_eff: f64,
    /// Σ of the weights of the valid answers.
    pub total_weight: f64,
    /// Number of answers that count as satisfied (4–5).
    pub successes: usize,
    /// The weighted share of satisfied answers, in percent: `100·Σ w·[x ≥ 4] / Σ w`.
    pub score: f64,
    /// The standard error `100·sqrt(p(1 − p) / n_eff)` (for reference; the interval is
    /// Wilson's, not `score ± 1.96·se`).
    pub se: f64,
    /// The Wilson 95 % interval on `n_eff`, in percent.
    pub interval: Interval,
    /// The minimum-sample warning, if any.
    pub warning: Option<Warning>,
}

/// CSAT: the share of 4–5 answers on the 1–5 scale, in percent, with a Wilson 95 % interval
/// on Kish's effective n; `None` without any valid answer in 1–5.
pub fn csat(obs: &[Obs]) -> Option<ProportionResult> {
    let s = Sample::new(obs, Some(Scale::Csat))?;
    let (p, successes) = s.share(|v| v >= 4.0);
    let w = wilson_fractional(p, s.n_eff, LEVEL)?;
    Some(ProportionResult {
        n: s.n(),
        n_eff: s.n_eff,
        total_weight: s.total_weight(),
        successes,
        score: 100.0 * p,
        se: 100.0 * (p * (1.0 - p) / s.n_eff).sqrt(),
        interval: Interval { low: 100.0 * w.low, high: 100.0 * w.high },
        warning: sample_warning(s.n_eff),
    })
}

/// A (weighted) mean with its Student t interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MeanResult {
    /// Number of valid answers.
    pub n: usize,
    /// Kish's effective sample size (`n` when unweighted).
    pub n_eff: f64,
    /// Σ of the weights of the valid answers.
    pub total_weight: f64,
    /// The weighted mean `Σ w·x / Σ w`.
    pub mean: f64,
    /// The weighted standard deviation `sqrt(Σ w·(x − m)² / Σ w · n_eff / (n_eff − 1))`;
    /// `None` when `n_eff ≤ 1` (a single answer has no spread).
    pub sd: Option<f64>,
    /// The standard error `sd / sqrt(n_eff)`; `None` with `sd`.
    pub se: Option<f64>,
    /// Degrees of freedom of the interval, `n_eff − 1`; `None` with `sd`.
    pub df: Option<f64>,
    /// The 95 % t interval `mean ± t_{0.975, df}·se`; `None` with `sd`.
    pub interval: Option<Interval>,
    /// The minimum-sample warning, if any.
    pub warning: Option<Warning>,
}

/// The weighted mean with a t interval (CES, rating questions; see the module docs). One
/// answer gives the mean without an interval; no valid answer gives `None`.
pub fn mean(obs: &[Obs]) -> Option<MeanResult> {
    mean_of(Sample::new(obs, None)?)
}

fn mean_of(s: Sample) -> Option<MeanResult> {
    let mean = s.items.iter().map(|&(v, w)| v * w).sum::<f64>() / s.sum;
    if !mean.is_finite() {
        return None;
    }
    let spread = if s.n_eff > 1.0 && s.n() > 1 {
        let ss = s.items.iter().map(|&(v, w)| w * (v - mean) * (v - mean)).sum::<f64>() / s.sum;
        let sd = (ss * s.n_eff / (s.n_eff - 1.0)).sqrt();
        let se = sd / s.n_eff.sqrt();
        let df = s.n_eff - 1.0;
        let t = t_quantile(1.0 - (1.0 - LEVEL) / 2.0, df);
        let interval = Interval { low: mean - t * se, high: mean + t * se };
        (sd.is_finite() && interval.low.is_finite() && interval.high.is_finite()).then_some((sd, se, df, interval))
    } else {
        None
    };
    Some(MeanResult {
        n: s.n(),
        n_eff: s.n_eff,
        total_weight: s.total_weight(),
        mean,
        sd: spread.map(|x| x.0),
        se: spread.map(|x| x.1),
        df: spread.map(|x| x.2),
        interval: spread.map(|x| x.3),
        warning: sample_warning(s.n_eff),
    })
}

/// How many answers took one value of a scale.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScalePoint {
    /// The answer value.
    pub value: i32,
    /// Number of answers with this value.
    pub count: usize,
    /// Their weighted share of all answers on the scale, in percent.
    pub pct: f64,
}

/// The distribution of answers over every integer value of `scale`, zeros included, in
/// ascending order of value. An answer counts for the value it rounds to; answers outside
/// the scale (or invalid) are left out, and the shares are of the answers that remain (all
/// 0 when none does). Empty when `min > max` or the scale spans more than
/// [`MAX_SCALE_POINTS`] values.
pub fn distribution(obs: &[Obs], scale: Scale) -> Vec<ScalePoint> {
    let (lo, hi) = (i64::from(scale.min()), i64::from(scale.max()));
    if lo > hi || hi - lo + 1 > MAX_SCALE_POINTS {
        return Vec::new();
    }
    let mut points: Vec<(usize, f64)> = vec![(0, 0.0); (hi - lo + 1) as usize];
    let max_w = obs.iter().filter(|o| o.is_valid()).map(|o| o.weight).fold(0.0f64, f64::max);
    let mut total = 0.0;
    for o in obs.iter().filter(|o| o.is_valid()) {
        let r = o.value.round();
        if r >= lo as f64 && r <= hi as f64 {
            let slot = &mut points[(r as i64 - lo) as usize];
            slot.0 += 1;
            slot.1 += o.weight / max_w;
            total += o.weight / max_w;
        }
    }
    points
        .into_iter()
        .enumerate()
        .map(|(i, (count, w))| ScalePoint {
            value: (lo + i as i64) as i32,
            count,
            pct: if total > 0.0 { 100.0 * w / total } else { 0.0 },
        })
        .collect()
}

/// A metric that [`compute`], [`trend`] and [`compare`] can treat uniformly.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Net Promoter Score, answers 0–10.
    Nps,
    /// CSAT, share of 4–5 on 1–5.
    Csat,
    /// Customer effort score, the mean of 1–7 answers.
    Ces,
    /// The mean of any rating (no scale restriction).
    Mean,
}

impl Metric {
    /// The scale whose answers the metric counts (others are ignored); `None` for
    /// [`Metric::Mean`], which takes every valid answer.
    pub fn scale(&self) -> Option<Scale> {
        match self {
            Metric::Nps => Some(Scale::Nps),
            Metric::Csat => Some(Scale::Csat),
            Metric::Ces => Some(Scale::Ces),
            Metric::Mean => None,
        }
    }
}

/// The metric-specific result behind a [`MetricResult`].
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Detail {
    /// NPS shares and counts.
    Nps(NpsResult),
    /// CSAT share.
    Proportion(ProportionResult),
    /// CES or rating mean.
    Mean(MeanResult),
}

/// The common shape of every metric, for reports and trends.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricResult {
    /// Which metric this is.
    pub metric: Metric,
    /// The score: NPS on −100…100, CSAT in percent, CES and means in scale units.
    pub score: f64,
    /// Its standard error (`None` for a mean of one answer).
    pub se: Option<f64>,
    /// The 95 % interval (`None` for a mean of one answer).
    pub interval: Option<Interval>,
    /// Number of valid answers.
    pub n: usize,
    /// Kish's effective sample size.
    pub n_eff: f64,
    /// The minimum-sample warning, if any.
    pub warning: Option<Warning>,
    /// The metric-specific result.
    pub detail: Detail,
}

/// Compute `metric` over `obs`: [`nps`], [`csat`], or [`mean`] (over 1–7 answers only for
/// CES). `None` when no answer is valid.
pub fn compute(metric: Metric, obs: &[Obs]) -> Option<MetricResult> {
    Some(match metric {
        Metric::Nps => {
            let r = nps(obs)?;
            MetricResult {
                metric,
                score: r.score,
                se: Some(r.se),
                interval: Some(r.interval),
                n: r.n,
                n_eff: r.n_eff,
                warning: r.warning.clone(),
                detail: Detail::Nps(r),
            }
        }
        Metric::Csat => {
            let r = csat(obs)?;
            MetricResult {
                metric,
                score: r.score,
                se: Some(r.se),
                interval: Some(r.interval),
                n: r.n,
                n_eff: r.n_eff,
                warning: r.warning.clone(),
                detail: Detail::Proportion(r),
            }
        }
        Metric::Ces | Metric::Mean => {
            let r = mean_of(Sample::new(obs, metric.scale())?)?;
            MetricResult {
                metric,
                score: r.mean,
                se: r.se,
                interval: r.interval,
                n: r.n,
                n_eff: r.n_eff,
                warning: r.warning.clone(),
                detail: Detail::Mean(r),
            }
        }
    })
}

/// The length of a trend bucket, in the project's local time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    /// A calendar day.
    Day,
    /// An ISO week, Monday to Sunday.
    Week,
    /// A calendar month.
    Month,
}

impl Bucket {
    /// The day number (days since 1970-01-01) of the start of the bucket holding `day`.
    fn start(self, day: i64) -> i64 {
        match self {
            Bucket::Day => day,
            // 1970-01-01 was a Thursday: (day + 3) mod 7 is 0 on Mondays.
            Bucket::Week => day - (day + 3).rem_euclid(7),
            Bucket::Month => {
                let (y, m, _) = civil_from_days(day);
                days_from_civil(y, m, 1)
            }
        }
    }

    /// The start of the bucket after the one starting on `start`.
    fn next(self, start: i64) -> i64 {
        match self {
            Bucket::Day => start + 1,
            Bucket::Week => start + 7,
            Bucket::Month => {
                let (y, m, _) = civil_from_days(start);
                if m == 12 {
                    days_from_civil(y + 1, 1, 1)
                } else {
                    days_from_civil(y, m + 1, 1)
                }
            }
        }
    }

    /// How many buckets from the one starting on `first` to the one starting on `last`,
    /// both included.
    fn span(self, first: i64, last: i64) -> i64 {
        match self {
            Bucket::Day => last - first + 1,
            Bucket::Week => (last - first) / 7 + 1,
            Bucket::Month => {
                let (y1, m1, _) = civil_from_days(first);
                let (y2, m2, _) = civil_from_days(last);
                (y2 - y1) * 12 + i64::from(m2) - i64::from(m1) + 1
            }
        }
    }
}

/// One bucket of a trend.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrendPoint {
    /// The local date the bucket starts on, `YYYY-MM-DD` (a Monday for weeks, the 1st for
    /// months).
    pub start: String,
    /// The same date as a day number (days since 1970-01-01).
    pub start_day: i64,
    /// The metric over the bucket's answers; `None` for a bucket without a valid answer
    /// (a gap in the chart).
    pub result: Option<MetricResult>,
}

/// Format a day number as `YYYY-MM-DD`.
fn date_string(day: i64) -> String {
    let (y, m, d) = civil_from_days(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `metric` per day, ISO week or month of local time (`clock`: the project's zone with its
/// daylight-saving changes, or a fixed offset), sorted by bucket. `obs` pairs a Unix
/// timestamp in seconds with an answer. Every bucket from the first to the last that holds
/// a valid answer is returned, those in between without one with `result: None`, so a
/// chart shows the gaps (unless the span exceeds [`MAX_TREND_POINTS`] buckets: then only
/// buckets with answers). Empty when no answer is valid.
pub fn trend(metric: Metric, obs: &[(i64, Obs)], bucket: Bucket, clock: &Clock) -> Vec<TrendPoint> {
    let mut groups: BTreeMap<i64, Vec<Obs>> = BTreeMap::new();
    for &(t, o) in obs.iter().filter(|(_, o)| o.is_valid()) {
        groups.entry(bucket.start(clock.day_of(t))).or_default().push(o);
    }
    let (Some(&first), Some(&last)) = (groups.keys().next(), groups.keys().next_back()) else {
        return Vec::new();
    };
    let point =
        |start: i64, result: Option<MetricResult>| TrendPoint { start: date_string(start), start_day: start, result };
    if bucket.span(first, last) > MAX_TREND_POINTS {
        return groups.iter().map(|(&start, o)| point(start, compute(metric, o))).collect();
    }
    let mut out = Vec::new();
    let mut start = first;
    while start <= last {
        out.push(point(start, groups.get(&start).and_then(|o| compute(metric, o))));
        start = bucket.next(start);
    }
    out
}

/// Which significance test a [`Comparison`] used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Test {
    /// NPS: `z = (NPS_a − NPS_b) / sqrt(SE_a² + SE_b²)`, normal p-value.
    NpsZ,
    /// CSAT: two-proportion z test with the pooled variance, on effective n.
    TwoProportionZ,
    /// Means: Welch's t test with Welch–Satterthwaite degrees of freedom.
    WelchT,
}

/// The difference between two groups and whether it is significant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// The test used.
    pub test: Test,
    /// The metric over group a.
    pub a: MetricResult,
    /// The metric over group b.
    pub b: MetricResult,
    /// `score_a − score_b` (NPS points, CSAT percentage points, scale units for means).
    pub diff: f64,
    /// The standard error the test divides by (for CSAT the pooled one).
    pub se: f64,
    /// The 95 % interval of the difference: `diff ± 1.96·se` for NPS (clamped to
    /// [−200, 200]), Newcombe's hybrid Wilson score interval for CSAT, `diff ± t·se` with
    /// Welch's df for means.
    pub interval: Interval,
    /// The z or t statistic `diff / se`.
    pub statistic: f64,
    /// Degrees of freedom (Welch's t only).
    pub df: Option<f64>,
    /// The two-sided p-value.
    pub p: f64,
    /// Whether `p < 0.05`.
    pub significant: bool,
}

/// Two-sided p-value of a standard normal statistic.
fn z_p(z: f64) -> f64 {
    (2.0 * normal_sf(z.abs())).min(1.0)
}

/// Compare `metric` between groups `a` and `b` (segments, brands, periods): the difference
/// `a − b`, its standard error and 95 % interval, and a two-sided test.
///
/// * NPS: `se = sqrt(SE_a² + SE_b²)`, `z = diff / se`, `p = 2·(1 − Φ(|z|))`.
/// * CSAT: `p̂ = (pa·na + pb·nb) / (na + nb)` on effective n, `se = 100·sqrt(p̂(1 − p̂)(1/na
///   + 1/nb))`, `z = diff / se`; the interval is Newcombe's (1998, method 10):
///   `[diff − sqrt((pa − la)² + (ub − pb)²), diff + sqrt((ua − pa)² + (pb − lb)²)]` with
///   `[l, u]` each group's Wilson interval.
/// * CES, means: `va = sd_a² / na`, `vb = sd_b² / nb` (effective n), `se = sqrt(va + vb)`,
///   `t = diff / se`, `df = (va + vb)² / (va² / (na − 1) + vb² / (nb − 1))`.
///
/// When `se` is 0 (no spread in either group) the test is undefined: equal scores give
/// statistic 0 and p 1, different scores give `None`. `None` as well when either group
/// has no valid answer, or (means) fewer than two.
pub fn compare(metric: Metric, a: &[Obs], b: &[Obs]) -> Option<Comparison> {
    let ra = compute(metric, a)?;
    let rb = compute(metric, b)?;
    let diff = ra.score - rb.score;
    let degenerate = |se: f64| -> Option<(f64, f64)> {
        if se > 0.0 {
            let s = diff / se;
            s.is_finite().then_some((s, se))
        } else if diff == 0.0 {
            Some((0.0, 0.0))
        } else {
            None
        }
    };
    let (test, se, interval, statistic, df, p) = match (&ra.detail, &rb.detail) {
        (Detail::Nps(x), Detail::Nps(y)) => {
            let (z, se) = degenerate((x.se * x.se + y.se * y.se).sqrt())?;
            let half = z_level() * se;
            let interval = Interval { low: (diff - half).max(-200.0), high: (diff + half).min(200.0) };
            (Test::NpsZ, se, interval, z, None, z_p(z))
        }
        (Detail::Proportion(x), Detail::Proportion(y)) => {
            let (pa, pb) = (x.score / 100.0, y.score / 100.0);
            let pooled = (pa * x.n_eff + pb * y.n_eff) / (x.n_eff + y.n_eff);
            let var = pooled * (1.0 - pooled) * (1.0 / x.n_eff + 1.0 / y.n_eff);
            let (z, se) = if var > 0.0 { degenerate(100.0 * var.sqrt())? } else { (0.0, 0.0) };
            let (wa, wb) = (x.interval, y.interval);
            let d = diff / 100.0;
            let low = d - ((pa - wa.low / 100.0).powi(2) + (wb.high / 100.0 - pb).powi(2)).sqrt();
            let high = d + ((wa.high / 100.0 - pa).powi(2) + (pb - wb.low / 100.0).powi(2)).sqrt();
            let interval = Interval { low: 100.0 * low.max(-1.0), high: 100.0 * high.min(1.0) };
            (Test::TwoProportionZ, se, interval, z, None, z_p(z))
        }
        (Detail::Mean(x), Detail::Mean(y)) => {
            let (sa, sb) = (x.se?, y.se?);
            let (va, vb) = (sa * sa, sb * sb);
            let (dfa, dfb) = (x.df?, y.df?);
            let (t, se) = degenerate((va + vb).sqrt())?;
            let df = if va + vb > 0.0 { (va + vb).powi(2) / (va * va / dfa + vb * vb / dfb) } else { dfa + dfb };
            if !(df.is_finite() && df > 0.0) {
                return None;
            }
            let q = t_quantile(1.0 - (1.0 - LEVEL) / 2.0, df);
            let interval = Interval { low: diff - q * se, high: diff + q * se };
            let p = (2.0 * t_cdf(-t.abs(), df)).min(1.0);
            (Test::WelchT, se, interval, t, Some(df), p)
        }
        _ => return None,
    };
    if !(p.is_finite() && interval.low.is_finite() && interval.high.is_finite()) {
        return None;
    }
    Some(Comparison { test, a: ra, b: rb, diff, se, interval, statistic, df, p, significant: p < ALPHA })
}

/// One group compared with all the other groups together.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupComparison {
    /// The group's name.
    pub name: String,
    /// The group (a) against the rest (b); `None` when the comparison is undefined (see
    /// [`compare`]), e.g. the group or the rest has no valid answer.
    pub comparison: Option<Comparison>,
    /// The Benjamini–Hochberg adjusted p-value (q-value) over all defined comparisons.
    pub q: Option<f64>,
    /// Whether `q < 0.05` (false discovery rate 5 %).
    pub significant: bool,
}

/// Compare each group with the rest of the groups pooled (not with a reference group: every
/// segment is judged against everyone else, the usual "which segment stands out" question,
/// and no group has to be chosen as the baseline). The p-values of the defined comparisons
/// are adjusted for multiple testing with Benjamini–Hochberg; `significant` uses the
/// adjusted value. Results are in the order of `groups`.
pub fn compare_many(metric: Metric, groups: &[(String, Vec<Obs>)]) -> Vec<GroupComparison> {
    let comparisons: Vec<Option<Comparison>> = (0..groups.len())
        .map(|i| {
            let rest: Vec<Obs> =
                groups.iter().enumerate().filter(|&(j, _)| j != i).flat_map(|(_, g)| g.1.iter().copied()).collect();
            compare(metric, &groups[i].1, &rest)
        })
        .collect();
    let defined: Vec<f64> = comparisons.iter().flatten().map(|c| c.p).collect();
    let mut q = benjamini_hochberg(&defined).into_iter();
    groups
        .iter()
        .zip(comparisons)
        .map(|((name, _), comparison)| {
            let q = comparison.as_ref().and_then(|_| q.next());
            GroupComparison { name: name.clone(), comparison, q, significant: q.is_some_and(|q| q < ALPHA) }
        })
        .collect()
}
