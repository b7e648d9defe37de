//! `drivers` against slow, obviously correct references written here: the R² of a
//! least-squares fit solved from the normal equations, and the exact Shapley (LMG) split of
//! R² over every subset of areas; hand-computed cases through one data-driven [`check`]
//! helper that reports all failures together; the importance–performance quadrant.

// Reference values are written with all the digits they were computed to.
#![allow(clippy::excessive_precision)]

mod common;
use common::*;
use proptest::prelude::*;
use touchpoint_core::i18n::Localized;
use touchpoint_listen::drivers::*;

/// Solve `a·x = b` by Gaussian elimination with partial pivoting; `None` when singular.
fn solve(mut a: Vec<Vec<f64>>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let pivot = (col..n).max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))?;
        if a[pivot][col].abs() < 1e-300 {
            return None;
        }
        a.swap(col, pivot);
        b.swap(col, pivot);
        let pivot_row = a[col].clone();
        for row in col + 1..n {
            let f = a[row][col] / pivot_row[col];
            for (dst, src) in a[row][col..].iter_mut().zip(&pivot_row[col..]) {
                *dst -= f * src;
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let s: f64 = (row + 1..n).map(|k| a[row][k] * x[k]).sum();
        x[row] = (b[row] - s) / a[row][row];
    }
    Some(x)
}

/// R² of the weighted least-squares fit of `y` on the columns `cols` of `x` with an
/// intercept, from the normal equations on the weighted-centred data:
/// `R² = 1 − SSE / SST`, `SSE = Σ w (y − ŷ)²`, `SST = Σ w (y − ȳ)²`.
fn ols_r2(x: &[Vec<f64>], y: &[f64], w: &[f64], cols: &[usize]) -> f64 {
    if cols.is_empty() {
        return 0.0;
    }
    let sw: f64 = w.iter().sum();
    let mean = |f: &dyn Fn(usize) -> f64| (0..y.len()).map(|i| w[i] * f(i)).sum::<f64>() / sw;
    let my = mean(&|i| y[i]);
    let mx: Vec<f64> = cols.iter().map(|&c| mean(&|i| x[i][c])).collect();
    let k = cols.len();
    let mut a = vec![vec![0.0; k]; k];
    let mut b = vec![0.0; k];
    for i in 0..y.len() {
        for p in 0..k {
            let xp = x[i][cols[p]] - mx[p];
            b[p] += w[i] * xp * (y[i] - my);
            for q in 0..k {
                a[p][q] += w[i] * xp * (x[i][cols[q]] - mx[q]);
            }
        }
    }
    let beta = solve(a, b).expect("non-singular normal equations");
    let (mut sse, mut sst) = (0.0, 0.0);
    for i in 0..y.len() {
        let fit: f64 = my + (0..k).map(|p| beta[p] * (x[i][cols[p]] - mx[p])).sum::<f64>();
        sse += w[i] * (y[i] - fit).powi(2);
        sst += w[i] * (y[i] - my).powi(2);
    }
    1.0 - sse / sst
}

/// The exact Shapley (LMG) share of R² of every area: over all subsets S of the other
/// areas, `|S|!·(p − |S| − 1)!/p! · (R²(S ∪ {j}) − R²(S))` — the gain from adding the area
/// averaged over all p! orders.
fn lmg(x: &[Vec<f64>], y: &[f64], w: &[f64]) -> Vec<f64> {
    let p = x[0].len();
    let fact = |n: usize| (1..=n).map(|k| k as f64).product::<f64>();
    let r2: Vec<f64> = (0..1usize << p)
        .map(|mask| {
            let cols: Vec<usize> = (0..p).filter(|&j| mask & (1 << j) != 0).collect();
            ols_r2(x, y, w, &cols)
        })
        .collect();
    (0..p)
        .map(|j| {
            (0..1usize << p)
                .filter(|mask| mask & (1 << j) == 0)
                .map(|mask| {
                    let s = mask.count_ones() as usize;
                    fact(s) * fact(p - s - 1) / fact(p) * (r2[mask | (1 << j)] - r2[mask])
                })
                .sum()
        })
        .collect()
}

/// The squared (weighted) correlation of column `j` with `y`.
fn r2_single(x: &[Vec<f64>], y: &[f64], j: usize) -> f64 {
    ols_r2(x, y, &vec![1.0; y.len()], &[j])
}

/// A small deterministic generator (xorshift64*) with standard normal draws (Box–Muller).
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        ((self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// `n` rows of `p` correlated areas (a shared factor with loading `rho`) and an outcome that
/// depends on them with coefficients `beta` plus noise.
fn correlated(seed: u64, n: usize, p: usize, rho: f64, beta: &[f64]) -> (Vec<Vec<f64>>, Vec<f64>) {
    let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let mut x = Vec::with_capacity(n);
    let mut y = Vec::with_capacity(n);
    for _ in 0..n {
        let common = rng.normal();
        let row: Vec<f64> = (0..p).map(|_| rho * common + (1.0 - rho * rho).sqrt() * rng.normal()).collect();
        y.push(row.iter().zip(beta).map(|(a, b)| a * b).sum::<f64>() + rng.normal());
        x.push(row);
    }
    (x, y)
}

#[test]
fn two_areas_by_hand() {
    // x1 = 1..6, x2 = 2 1 4 3 6 5, y = 1 3 2 5 4 6: centred sums of squares 17.5 each,
    // cross-products x1·x2 14.5, x1·y 15.5, x2·y 8.5, so r12 = 29/35, r1y = 31/35,
    // r2y = 17/35. R^{1/2} = [[a, b], [b, a]] with a = (√(1+r12) + √(1−r12))/2 and
    // b = (√(1+r12) − √(1−r12))/2; β = R^{−1/2}·rxy; ε1 = a²β1² + b²β2², ε2 = b²β1² + a²β2²
    // (mpmath, 30 digits). R² = (r1y² + r2y² − 2·r12·r1y·r2y)/(1 − r12²) = 0.98095238….
    let x: Vec<Vec<f64>> = [(1.0, 2.0), (2.0, 1.0), (3.0, 4.0), (4.0, 3.0), (5.0, 6.0), (6.0, 5.0)]
        .iter()
        .map(|&(a, b)| vec![a, b])
        .collect();
    let y = [1.0, 3.0, 2.0, 5.0, 4.0, 6.0];
    let rw = relative_weights(&x, &y, None).expect("weights");
    let (e1, e2) = (0.764761904761904761904761904762, 0.21619047619047619047619047619);
    let mut cases = vec![
        case("ε1", rw.areas[0].raw, e1, 1e-12),
        case("ε2", rw.areas[1].raw, e2, 1e-12),
        case("R²", rw.r2, 0.980952380952380952380952380952, 1e-12),
        case("r1y", rw.areas[0].r, 31.0 / 35.0, 1e-14),
        case("r2y", rw.areas[1].r, 17.0 / 35.0, 1e-14),
        case("share 1", rw.areas[0].share_pct, 100.0 * e1 / (e1 + e2), 1e-10),
        case("share 2", rw.areas[1].share_pct, 100.0 * e2 / (e1 + e2), 1e-10),
    ];
    // With two areas the relative weights coincide with LMG: (r1y² + R² − r2y²)/2.
    let r2 = 0.980952380952380952380952380952;
    cases.push(case(
        "ε1 = LMG",
        rw.areas[0].raw,
        ((31.0f64 / 35.0).powi(2) + r2 - (17.0f64 / 35.0).powi(2)) / 2.0,
        1e-12,
    ));
    check(&cases);
    assert_eq!((rw.areas[0].rank, rw.areas[1].rank), (1, 2));
    assert_eq!((rw.n, rw.dropped, rw.n_eff), (6, 0, 6.0));
}

#[test]
fn one_area_gets_r_squared() {
    // x = 1 2 3 4 5, y = 2 1 4 3 5: Sxx = 10, Syy = 10, Sxy = 8, r = 0.8, r² = 0.64.
    let x: Vec<Vec<f64>> = [1.0, 2.0, 3.0, 4.0, 5.0].iter().map(|&v| vec![v]).collect();
    let rw = relative_weights(&x, &[2.0, 1.0, 4.0, 3.0, 5.0], None).expect("weights");
    check(&[
        case("ε", rw.areas[0].raw, 0.64, 1e-14),
        case("R²", rw.r2, 0.64, 1e-14),
        case("share", rw.areas[0].share_pct, 100.0, 1e-12),
    ]);
}

#[test]
fn orthogonal_areas_get_their_squared_correlations() {
    // A centred ±1 full factorial in three areas, twice over: the areas are uncorrelated by
    // construction, so Rxx = I, Λ = I, β = rxy and ε_j = r²(x_j, y) exactly.
    let mut x = vec![];
    for _ in 0..2 {
        for mask in 0..8u32 {
            x.push((0..3).map(|j| if mask & (1 << j) != 0 { 1.0 } else { -1.0 }).collect::<Vec<f64>>());
        }
    }
    let y: Vec<f64> = x
        .iter()
        .enumerate()
        .map(|(i, r)| {
            2.0 * r[0] + 0.5 * r[1] - r[2] + [0.3, -1.1, 0.7, 0.2, -0.4, 1.5, -0.9, 0.1][i % 8] * (i as f64 / 7.0)
        })
        .collect();
    let rw = relative_weights(&x, &y, None).expect("weights");
    let mut cases = vec![];
    for j in 0..3 {
        cases.push(case(format!("ε{j} = r²"), rw.areas[j].raw, r2_single(&x, &y, j), 1e-12));
    }
    cases.push(case("R² = Σ r²", rw.r2, (0..3).map(|j| r2_single(&x, &y, j)).sum(), 1e-12));
    cases.push(case("R² = OLS", rw.r2, ols_r2(&x, &y, &[1.0; 16], &[0, 1, 2]), 1e-12));
    check(&cases);
    assert_eq!(rw.areas.iter().map(|a| a.rank).collect::<Vec<_>>(), [1, 3, 2]);
}

#[test]
fn close_to_exact_shapley_on_correlated_data() {
    // Relative weights approximate LMG, they do not equal it (with three or more areas).
    // Tolerance: on these data sets (4–5 areas, area correlations 0.25–0.64, 400 rows) every
    // raw weight lies within 0.01 of LMG in R² units (the largest difference seen is 0.009)
    // and every share within 2 percentage points (largest seen 1.1).
    let mut cases = vec![];
    let setups: [(u64, usize, f64, &[f64]); 4] = [
        (1, 4, 0.5, &[1.0, 0.5, 0.25, 0.0]),
        (2, 4, 0.8, &[0.3, 0.6, 0.0, 0.9]),
        (3, 5, 0.7, &[1.0, 1.0, 0.2, 0.5, -0.4]),
        (4, 5, 0.5, &[0.1, 0.2, 0.3, 0.4, 0.5]),
    ];
    for (seed, p, rho, beta) in setups {
        let (x, y) = correlated(seed, 400, p, rho, beta);
        let rw = relative_weights(&x, &y, None).expect("weights");
        let exact = lmg(&x, &y, &vec![1.0; y.len()]);
        let r2: f64 = exact.iter().sum();
        cases.push(case(format!("seed {seed}: R²"), rw.r2, r2, 1e-9));
        for (j, (area, &e)) in rw.areas.iter().zip(&exact).enumerate() {
            cases.push(case(format!("seed {seed}: area {j} vs LMG"), area.raw, e, 0.01));
            cases.push(case(format!("seed {seed}: area {j} share"), area.share_pct, 100.0 * e / r2, 2.0));
        }
    }
    check(&cases);
}

#[test]
fn weighted_rows_match_repeated_rows() {
    // Integer weights give the same correlations (hence weights and R²) as repeating rows.
    let (x, y) = correlated(7, 60, 3, 0.6, &[1.0, 0.5, -0.5]);
    let w: Vec<f64> = (0..60).map(|i| f64::from(1 + (i % 3) as u32)).collect();
    let (mut xr, mut yr) = (vec![], vec![]);
    for i in 0..60 {
        for _ in 0..w[i] as usize {
            xr.push(x[i].clone());
            yr.push(y[i]);
        }
    }
    let a = relative_weights(&x, &y, Some(&w)).expect("weighted");
    let b = relative_weights(&xr, &yr, None).expect("repeated");
    let mut cases = vec![case("R²", a.r2, b.r2, 1e-12), case("R² = WLS", a.r2, ols_r2(&x, &y, &w, &[0, 1, 2]), 1e-10)];
    for j in 0..3 {
        cases.push(case(format!("ε{j}"), a.areas[j].raw, b.areas[j].raw, 1e-12));
    }
    // Kish n_eff of 20 × (1, 2, 3): (20·6)² / (20·14) = 51.43.
    cases.push(case("n_eff", a.n_eff, 14400.0 / 280.0, 1e-10));
    check(&cases);
}

#[test]
fn incomplete_rows_are_dropped_and_errors_are_clear() {
    let (mut x, mut y) = correlated(11, 30, 3, 0.4, &[1.0, 0.0, 0.5]);
    x[3][1] = f64::NAN;
    y[7] = f64::NAN;
    x[9][0] = f64::INFINITY;
    let rw = relative_weights(&x, &y, None).expect("weights");
    assert_eq!((rw.n, rw.dropped), (27, 3));
    let mut w = vec![1.0; 30];
    w[0] = 0.0;
    w[1] = f64::NAN;
    let rw = relative_weights(&x, &y, Some(&w)).expect("weights");
    assert_eq!((rw.n, rw.dropped), (25, 5));

    let err = |x: &[Vec<f64>], y: &[f64], w: Option<&[f64]>| relative_weights(x, y, w).err();
    assert_eq!(err(&x, &y[..29], None), Some(DriverError::LengthMismatch { x_rows: 30, y_rows: 29 }));
    assert_eq!(err(&x, &y, Some(&[1.0; 3])), Some(DriverError::WeightsMismatch { weights: 3, rows: 30 }));
    assert_eq!(err(&[], &[], None), Some(DriverError::TooFewRows { rows: 0, areas: 0, needed: 2 }));
    assert_eq!(err(&[vec![], vec![]], &[1.0, 2.0], None), Some(DriverError::NoAreas));
    let ragged = vec![vec![1.0, 2.0], vec![1.0]];
    assert_eq!(err(&ragged, &[1.0, 2.0], None), Some(DriverError::RaggedRow { row: 1, got: 1, expected: 2 }));
    // Three areas need five complete rows.
    let small: Vec<Vec<f64>> = x[10..14].to_vec();
    assert_eq!(err(&small, &y[10..14], None), Some(DriverError::TooFewRows { rows: 4, areas: 3, needed: 5 }));
    // A constant area is named by its index.
    let mut constant = x.clone();
    for row in &mut constant {
        row[2] = 7.0;
    }
    let e = err(&constant, &y, None);
    assert_eq!(e, Some(DriverError::ConstantArea { index: 2 }));
    assert!(e.map(|e| e.to_string()).is_some_and(|m| m.contains("area 2")));
    assert_eq!(err(&x, &[3.0; 30], None), Some(DriverError::ConstantOutcome));
    // Perfectly collinear areas: x2 = 2·x0 − x1.
    let collinear: Vec<Vec<f64>> = x.iter().map(|r| vec![r[0], r[1], 2.0 * r[0] - r[1]]).collect();
    let y_ok: Vec<f64> = y.iter().map(|v| if v.is_finite() { *v } else { 0.0 }).collect();
    assert!(matches!(err(&collinear, &y_ok, None), Some(DriverError::Singular { .. })));
}

#[test]
fn importance_performance_quadrants() {
    let area = |name: &str, importance: f64, performance: f64| AreaScore { name: name.into(), importance, performance };
    // Mean importance (40 + 30 + 20 + 10)/4 = 25, mean performance (6 + 9 + 8.5 + 5.5)/4 = 7.25.
    let m = importance_performance_matrix(&[
        area("service", 40.0, 6.0),
        area("quality", 30.0, 9.0),
        area("look", 20.0, 8.5),
        area("promotions", 10.0, 5.5),
        area("broken", f64::NAN, 5.0),
    ])
    .expect("matrix");
    check(&[
        case("importance split", m.importance_split, 25.0, 0.0),
        case("performance split", m.performance_split, 7.25, 0.0),
    ]);
    let quadrants: Vec<(&str, Quadrant)> = m.points.iter().map(|p| (p.name.as_str(), p.quadrant)).collect();
    assert_eq!(
        quadrants,
        [
            ("service", Quadrant::FixFirst),
            ("quality", Quadrant::KeepUp),
            ("look", Quadrant::OverInvested),
            ("promotions", Quadrant::LowPriority)
        ]
    );
    assert_eq!(m.points[0].label, Localized::new("Fix first", "Opravit nejdřív", "Naprawić najpierw"));
    assert_eq!(Quadrant::LowPriority.label().cs, "Nízká priorita");
    assert_eq!(Quadrant::OverInvested.code(), "over_invested");
    assert_eq!(serde_json::to_value(Quadrant::KeepUp).expect("json"), Quadrant::KeepUp.code());
    // An area exactly at both means counts as high importance and high performance.
    let tie = importance_performance(&[area("a", 1.0, 1.0), area("b", 1.0, 1.0)]);
    assert!(tie.iter().all(|p| p.quadrant == Quadrant::KeepUp));
    assert!(importance_performance(&[]).is_empty());
}

proptest! {
    #[test]
    fn weights_sum_to_ols_r_squared(
        seed in any::<u64>(),
        p in 1usize..6,
        n_extra in 0usize..40,
        rho in 0.0f64..0.9,
        weighted in any::<bool>(),
    ) {
        let beta: Vec<f64> = (0..p).map(|j| (j as f64 - 1.5) * 0.4).collect();
        let n = p + 2 + n_extra;
        let (x, y) = correlated(seed, n, p, rho, &beta);
        let w: Vec<f64> = if weighted {
            let mut rng = Rng(seed | 1);
            (0..n).map(|_| 0.2 + 3.0 * rng.uniform()).collect()
        } else {
            vec![1.0; n]
        };
        let rw = relative_weights(&x, &y, weighted.then_some(w.as_slice()));
        prop_assume!(rw.is_ok());
        let rw = rw.expect("checked");
        let sum: f64 = rw.areas.iter().map(|a| a.raw).sum();
        let ols = ols_r2(&x, &y, &w, &(0..p).collect::<Vec<_>>());
        prop_assert!((sum - ols).abs() <= 1e-9, "Σε = {} but OLS R² = {}", sum, ols);
        prop_assert!((rw.r2 - sum).abs() <= 1e-12);
        prop_assert!(rw.areas.iter().all(|a| a.raw >= 0.0 && a.share_pct >= 0.0));
        let shares: f64 = rw.areas.iter().map(|a| a.share_pct).sum();
        prop_assert!(rw.r2 == 0.0 || (shares - 100.0).abs() <= 1e-9);
        let mut ranks: Vec<usize> = rw.areas.iter().map(|a| a.rank).collect();
        ranks.sort_unstable();
        prop_assert_eq!(ranks, (1..=p).collect::<Vec<_>>());
    }
}
