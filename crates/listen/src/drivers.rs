//! Key driver analysis: which areas (product quality, service, delivery, …) move overall
//! satisfaction, and the importance–performance quadrant that turns the answer into a
//! to-do list.
//!
//! Areas are usually correlated with each other, so regression coefficients split the
//! explained variance arbitrarily between them. Johnson's relative weights (Multivariate
//! Behavioral Research 35, 2000) split the R² of the linear fit of the outcome on all
//! areas into one non-negative part per area, close to the exact Shapley split (LMG, the
//! average gain in R² from adding the area over all orders) at a fraction of the cost:
//!
//! ```text
//! Rxx = V·D·Vᵀ                     correlation matrix of the areas, eigendecomposed
//! Λ   = V·D^{1/2}·Vᵀ               (Λ_jk: correlation of area j with orthogonal variable k)
//! β   = Λ⁻¹·rxy                    (rxy: correlations of the areas with the outcome)
//! ε_j = Σ_k Λ_jk² · β_k²           raw relative weight of area j
//! Σ_j ε_j = rxyᵀ·Rxx⁻¹·rxy = R²   of the least-squares fit with an intercept
//! ```
//!
//! With survey weights the correlations are weighted (weighted means and cross-products),
//! and R² is that of the weighted least-squares fit.
//!
//! The importance–performance quadrant places each area by its importance (typically its
//! share of R²) and its performance (its mean score), split at the mean importance and the
//! mean performance of the areas: relative to this set of areas, "high" means at or above
//! the average of the areas, which works whatever the scales are (a fixed midpoint such as
//! 5 on 0–10 would put every area of a well-liked brand in the same half).

use nalgebra::{DMatrix, DVector, SymmetricEigen};
use serde::{Deserialize, Serialize};
use touchpoint_core::i18n::Localized;

/// Why relative weights could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DriverError {
    /// `x` and `y` have different numbers of rows.
    #[error("the areas have {x_rows} rows but the outcome has {y_rows} values")]
    LengthMismatch {
        /// Rows of `x`.
        x_rows: usize,
        /// Values of `y`.
        y_rows: usize,
    },
    /// The weights do not match the rows.
    #[error("{weights} weights were given for {rows} rows")]
    WeightsMismatch {
        /// Number of weights.
        weights: usize,
        /// Number of rows.
        rows: usize,
    },
    /// The rows have no column.
    #[error("no areas: the rows have no columns")]
    NoAreas,
    /// A row has a different number of columns than the first one.
    #[error("row {row} has {got} areas but the first row has {expected}")]
    RaggedRow {
        /// Index of the row.
        row: usize,
        /// Its number of columns.
        got: usize,
        /// The number of columns of the first row.
        expected: usize,
    },
    /// Too few complete rows for the number of areas.
    #[error("{rows} complete rows for {areas} areas: at least {needed} (areas + 2) are needed")]
    TooFewRows {
        /// Complete rows left after dropping incomplete ones.
        rows: usize,
        /// Number of areas.
        areas: usize,
        /// The minimum, areas + 2.
        needed: usize,
    },
    /// An area has the same value in every complete row.
    #[error("area {index} has the same value in every complete row (no variance)")]
    ConstantArea {
        /// Index of the area (column).
        index: usize,
    },
    /// The outcome has the same value in every complete row.
    #[error("the outcome has the same value in every complete row (no variance)")]
    ConstantOutcome,
    /// The areas are (nearly) perfectly collinear: the correlation matrix is singular.
    #[error("the areas are perfectly collinear (singular correlation matrix, smallest eigenvalue {min_eigenvalue:e})")]
    Singular {
        /// The smallest eigenvalue of the correlation matrix.
        min_eigenvalue: f64,
    },
}

/// The relative weight of one area.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AreaWeight {
    /// Index of the area (column of `x`).
    pub index: usize,
    /// The (weighted) correlation of the area with the outcome.
    pub r: f64,
    /// The raw relative weight `ε_j`, the part of R² the area accounts for.
    pub raw: f64,
    /// Its share of R², in percent: `100·ε_j / R²` (0 when R² is 0).
    pub share_pct: f64,
    /// Its rank by raw weight, 1 = most important (ties keep column order).
    pub rank: usize,
}

/// Johnson's relative weights of a set of areas.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RelativeWeights {
    /// Number of complete rows used.
    pub n: usize,
    /// Kish's effective sample size of the rows used (`n` when unweighted).
    pub n_eff: f64,
    /// Number of rows dropped (a missing or non-finite value, or an unusable weight).
    pub dropped: usize,
    /// R² of the (weighted) least-squares fit of the outcome on all areas, `Σ ε_j`.
    pub r2: f64,
    /// One entry per area, in column order.
    pub areas: Vec<AreaWeight>,
}

/// The smallest eigenvalue of the correlation matrix, relative to the largest, below which
/// the areas count as collinear.
const SINGULAR_EIGENVALUE: f64 = 1e-10;

/// Johnson's relative weights of the areas (columns of `x`, one row per respondent) for the
/// outcome `y` (e.g. overall satisfaction), optionally with survey weights (see the module
/// docs for the formulas). Rows with a NaN or infinite value anywhere, or a weight that is
/// not a finite positive number, are dropped (listwise) and counted in `dropped`.
///
/// Errors: mismatched lengths, ragged rows, no columns, fewer complete rows than areas + 2,
/// an area or the outcome without variance, perfectly collinear areas.
pub fn relative_weights(x: &[Vec<f64>], y: &[f64], weights: Option<&[f64]>) -> Result<RelativeWeights, DriverError> {
    if x.len() != y.len() {
        return Err(DriverError::LengthMismatch { x_rows: x.len(), y_rows: y.len() });
    }
    if let Some(w) = weights {
        if w.len() != x.len() {
            return Err(DriverError::WeightsMismatch { weights: w.len(), rows: x.len() });
        }
    }
    let p = x.first().map_or(0, Vec::len);
    if x.is_empty() {
        return Err(DriverError::TooFewRows { rows: 0, areas: 0, needed: 2 });
    }
    if p == 0 {
        return Err(DriverError::NoAreas);
    }
    if let Some((row, r)) = x.iter().enumerate().find(|(_, r)| r.len() != p) {
        return Err(DriverError::RaggedRow { row, got: r.len(), expected: p });
    }
    let weight = |i: usize| weights.map_or(1.0, |w| w[i]);
    let rows: Vec<usize> = (0..x.len())
        .filter(|&i| {
            let w = weight(i);
            x[i].iter().all(|v| v.is_finite()) && y[i].is_finite() && w.is_finite() && w > 0.0
        })
        .collect();
    let n = rows.len();
    if n < p + 2 {
        return Err(DriverError::TooFewRows { rows: n, areas: p, needed: p + 2 });
    }
    // Column p is the outcome.
    let value = |i: usize, j: usize| if j < p { x[i][j] } else { y[i] };
    for j in 0..=p {
        let first = value(rows[0], j);
        if rows.iter().all(|&i| value(i, j) == first) {
            return Err(if j < p { DriverError::ConstantArea { index: j } } else { DriverError::ConstantOutcome });
        }
    }
    let max_w = rows.iter().map(|&i| weight(i)).fold(0.0f64, f64::max);
    let w: Vec<f64> = rows.iter().map(|&i| weight(i) / max_w).collect();
    let sum_w: f64 = w.iter().sum();
    let n_eff = sum_w * sum_w / w.iter().map(|w| w * w).sum::<f64>();
    let means: Vec<f64> =
        (0..=p).map(|j| rows.iter().zip(&w).map(|(&i, wi)| wi * value(i, j)).sum::<f64>() / sum_w).collect();
    // Weighted cross-products of the centred columns (the common factor 1 / Σw cancels in
    // the correlations).
    let mut cov = DMatrix::<f64>::zeros(p + 1, p + 1);
    let mut centred = vec![0.0; p + 1];
    for (&i, &wi) in rows.iter().zip(&w) {
        for (j, c) in centred.iter_mut().enumerate() {
            *c = value(i, j) - means[j];
        }
        for a in 0..=p {
            for b in a..=p {
                cov[(a, b)] += wi * centred[a] * centred[b];
            }
        }
    }
    let sd: Vec<f64> = (0..=p).map(|j| cov[(j, j)].sqrt()).collect();
    if let Some(j) = (0..=p).find(|&j| !(sd[j].is_finite() && sd[j] > 0.0)) {
        return Err(if j < p { DriverError::ConstantArea { index: j } } else { DriverError::ConstantOutcome });
    }
    let corr = |a: usize, b: usize| {
        let (a, b) = if a <= b { (a, b) } else { (b, a) };
        if a == b {
            1.0
        } else {
            (cov[(a, b)] / (sd[a] * sd[b])).clamp(-1.0, 1.0)
        }
    };
    let rxx = DMatrix::from_fn(p, p, corr);
    let rxy = DVector::from_fn(p, |j, _| corr(j, p));
    let eigen = SymmetricEigen::new(rxx);
    let max_eig = eigen.eigenvalues.max();
    let min_eig = eigen.eigenvalues.min();
    if !(min_eig.is_finite() && min_eig > SINGULAR_EIGENVALUE * max_eig) {
        return Err(DriverError::Singular { min_eigenvalue: min_eig });
    }
    let v = &eigen.eigenvectors;
    let sqrt_d = DMatrix::from_diagonal(&eigen.eigenvalues.map(f64::sqrt));
    let inv_sqrt_d = DMatrix::from_diagonal(&eigen.eigenvalues.map(|l| 1.0 / l.sqrt()));
    let lambda = v * sqrt_d * v.transpose();
    let beta = v * inv_sqrt_d * (v.transpose() * &rxy);
    let raw: Vec<f64> = (0..p).map(|j| (0..p).map(|k| lambda[(j, k)].powi(2) * beta[k].powi(2)).sum::<f64>()).collect();
    let r2: f64 = raw.iter().sum();
    if !r2.is_finite() {
        return Err(DriverError::Singular { min_eigenvalue: min_eig });
    }
    let mut order: Vec<usize> = (0..p).collect();
    order.sort_by(|&a, &b| raw[b].total_cmp(&raw[a]).then(a.cmp(&b)));
    let mut rank = vec![0; p];
    for (r, &j) in order.iter().enumerate() {
        rank[j] = r + 1;
    }
    let areas = (0..p)
        .map(|j| AreaWeight {
            index: j,
            r: rxy[j],
            raw: raw[j],
            share_pct: if r2 > 0.0 { 100.0 * raw[j] / r2 } else { 0.0 },
            rank: rank[j],
        })
        .collect();
    Ok(RelativeWeights { n, n_eff, dropped: x.len() - n, r2, areas })
}

/// An area's importance and performance, the input of the quadrant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AreaScore {
    /// The area's name.
    pub name: String,
    /// Its importance (e.g. its share of R² from [`relative_weights`]).
    pub importance: f64,
    /// Its performance (e.g. its mean satisfaction score).
    pub performance: f64,
}

/// A quadrant of the importance–performance matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Quadrant {
    /// High importance, low performance: where to act first.
    FixFirst,
    /// High importance, high performance: strengths to keep.
    KeepUp,
    /// Low importance, high performance: effort that may be better spent elsewhere.
    OverInvested,
    /// Low importance, low performance: can wait.
    LowPriority,
}

impl Quadrant {
    /// The stable snake_case code (as in JSON).
    pub fn code(&self) -> &'static str {
        match self {
            Quadrant::FixFirst => "fix_first",
            Quadrant::KeepUp => "keep_up",
            Quadrant::OverInvested => "over_invested",
            Quadrant::LowPriority => "low_priority",
        }
    }

    /// The label to show, in every language.
    pub fn label(&self) -> Localized {
        match self {
            Quadrant::FixFirst => Localized::new("Fix first", "Opravit nejdřív", "Naprawić najpierw"),
            Quadrant::KeepUp => Localized::new("Keep up the good work", "Udržet úroveň", "Utrzymać poziom"),
            Quadrant::OverInvested => {
                Localized::new("Possibly over-invested", "Možná zbytečné úsilí", "Możliwy nadmiar wysiłku")
            }
            Quadrant::LowPriority => Localized::new("Low priority", "Nízká priorita", "Niski priorytet"),
        }
    }
}

/// An area placed in the importance–performance matrix.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuadrantPoint {
    /// The area's name.
    pub name: String,
    /// Its importance.
    pub importance: f64,
    /// Its performance.
    pub performance: f64,
    /// Its quadrant.
    pub quadrant: Quadrant,
    /// The quadrant's label in every language.
    pub label: Localized,
}

/// The importance–performance matrix: where it is split and where each area falls.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportancePerformance {
    /// The mean importance of the areas: at or above it counts as high importance.
    pub importance_split: f64,
    /// The mean performance of the areas: at or above it counts as high performance.
    pub performance_split: f64,
    /// The areas, in input order.
    pub points: Vec<QuadrantPoint>,
}

/// Place areas in the importance–performance matrix, split at the mean importance and the
/// mean performance of the areas (see the module docs for why); an area exactly at a mean
/// counts as high. Areas with a non-finite importance or performance are left out (and do
/// not enter the means). `None` when no area is left.
pub fn importance_performance_matrix(areas: &[AreaScore]) -> Option<ImportancePerformance> {
    let valid: Vec<&AreaScore> =
        areas.iter().filter(|a| a.importance.is_finite() && a.performance.is_finite()).collect();
    if valid.is_empty() {
        return None;
    }
    let k = valid.len() as f64;
    let importance_split = valid.iter().map(|a| a.importance).sum::<f64>() / k;
    let performance_split = valid.iter().map(|a| a.performance).sum::<f64>() / k;
    if !(importance_split.is_finite() && performance_split.is_finite()) {
        return None;
    }
    let points = valid
        .into_iter()
        .map(|a| {
            let quadrant = match (a.importance >= importance_split, a.performance >= performance_split) {
                (true, false) => Quadrant::FixFirst,
                (true, true) => Quadrant::KeepUp,
                (false, true) => Quadrant::OverInvested,
                (false, false) => Quadrant::LowPriority,
            };
            QuadrantPoint {
                name: a.name.clone(),
                importance: a.importance,
                performance: a.performance,
                quadrant,
                label: quadrant.label(),
            }
        })
        .collect();
    Some(ImportancePerformance { importance_split, performance_split, points })
}

/// The points of [`importance_performance_matrix`] (empty when no area is valid).
pub fn importance_performance(areas: &[AreaScore]) -> Vec<QuadrantPoint> {
    importance_performance_matrix(areas).map(|m| m.points).unwrap_or_default()
}
