//! Small, exact statistics shared by the journey analytics (and, later, the survey metrics):
//! the standard normal and Student t distributions, the two-proportion z-test, the Wilson
//! score interval, Benjamini–Hochberg q-values, percentiles and the mean with a t interval.
//!
//! Accuracy, checked in `tests/stats_*.rs` against values computed with 40-digit arithmetic:
//!
//! * [`erfc`] / [`normal_cdf`]: W. J. Cody's rational Chebyshev approximations (Math. Comp.
//!   23, 1969; Netlib `specfun/calerf`), relative error about 1e-15 over the whole line,
//!   tails included (Φ(−37) ≈ 5.7e-300 is still accurate).
//! * [`normal_quantile`]: M. J. Wichura's AS 241 `PPND16` (Appl. Statist. 37, 1988), about
//!   1e-16 relative.
//! * [`beta_inc`] (the regularized incomplete beta function): the continued fraction of
//!   Numerical Recipes (modified Lentz), with `ln B(a, b)` computed as R's `lbeta` does (a
//!   Stirling correction term instead of a difference of two large `ln Γ`), so [`t_cdf`]
//!   and [`t_quantile`] stay accurate to about 1e-12 relative even for large degrees of
//!   freedom.
//!
//! Every function is pure and cheap; none allocates except [`benjamini_hochberg`] (for
//! its output and the sort order).

use serde::{Deserialize, Serialize};

/// `1 / sqrt(pi)`.
const FRAC_1_SQRT_PI: f64 = 0.564_189_583_547_756_3;
/// `ln(sqrt(2 pi))`.
const LN_SQRT_2PI: f64 = 0.918_938_533_204_672_8;

/// The complementary error function `erfc(x) = 1 − erf(x)`, by Cody's approximations:
/// relative error about 1e-15 for every `x` (no cancellation in either tail).
#[allow(clippy::excessive_precision)]
pub fn erfc(x: f64) -> f64 {
    // Cody (1969), as in Netlib specfun CALERF: erf on |x| <= 0.46875, erfc on (0.46875, 4]
    // and on (4, inf).
    const C: [f64; 9] = [
        5.64188496988670089e-1,
        8.88314979438837594e00,
        6.61191906371416295e01,
        2.98635138197400131e02,
        8.81952221241769090e02,
        1.71204761263407058e03,
        2.05107837782607147e03,
        1.23033935479799725e03,
        2.15311535474403846e-8,
    ];
    const D: [f64; 8] = [
        1.57449261107098347e01,
        1.17693950891312499e02,
        5.37181101862009858e02,
        1.62138957456669019e03,
        3.29079923573345963e03,
        4.36261909014324716e03,
        3.43936767414372164e03,
        1.23033935480374942e03,
    ];
    const P: [f64; 6] = [
        3.05326634961232344e-1,
        3.60344899949804439e-1,
        1.25781726111229246e-1,
        1.60837851487422766e-2,
        6.58749161529837803e-4,
        1.63153871373020978e-2,
    ];
    const Q: [f64; 5] = [
        2.56852019228982242e00,
        1.87295284992346725e00,
        5.27905102951428412e-1,
        6.05183413124413191e-2,
        2.33520497626869185e-3,
    ];
    if x.is_nan() {
        return f64::NAN;
    }
    let y = x.abs();
    if y <= 0.46875 {
        return 1.0 - erf_small(x);
    }
    // erfc(y) for y > 0.46875, as exp(-y²) · R(y); exp(-y²) is split in two factors so the
    // rounding of y² does not cost accuracy.
    let r = if y <= 4.0 {
        let mut num = C[8] * y;
        let mut den = y;
        for i in 0..7 {
            num = (num + C[i]) * y;
            den = (den + D[i]) * y;
        }
        (num + C[7]) / (den + D[7])
    } else if y >= 26.7 {
        0.0
    } else {
        let ysq = 1.0 / (y * y);
        let mut num = P[5] * ysq;
        let mut den = ysq;
        for i in 0..4 {
            num = (num + P[i]) * ysq;
            den = (den + Q[i]) * ysq;
        }
        (FRAC_1_SQRT_PI - ysq * (num + P[4]) / (den + Q[4])) / y
    };
    let ysq = (y * 16.0).trunc() / 16.0;
    let del = (y - ysq) * (y + ysq);
    let tail = (-ysq * ysq).exp() * (-del).exp() * r;
    if x < 0.0 {
        2.0 - tail
    } else {
        tail
    }
}

/// `erf(x)` for `|x| ≤ 0.46875` (Cody's first interval).
#[allow(clippy::excessive_precision)]
fn erf_small(x: f64) -> f64 {
    const A: [f64; 5] = [
        3.16112374387056560e00,
        1.13864154151050156e02,
        3.77485237685302021e02,
        3.20937758913846947e03,
        1.85777706184603153e-1,
    ];
    const B: [f64; 4] =
        [2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03, 2.84423683343917062e03];
    let ysq = if x.abs() > 1.11e-16 { x * x } else { 0.0 };
    let mut num = A[4] * ysq;
    let mut den = ysq;
    for i in 0..3 {
        num = (num + A[i]) * ysq;
        den = (den + B[i]) * ysq;
    }
    x * (num + A[3]) / (den + B[3])
}

/// The error function `erf(x) = 1 − erfc(x)`, accurate near 0 too.
pub fn erf(x: f64) -> f64 {
    if x.is_nan() {
        f64::NAN
    } else if x.abs() <= 0.46875 {
        erf_small(x)
    } else if x > 0.0 {
        1.0 - erfc(x)
    } else {
        erfc(-x) - 1.0
    }
}

/// The standard normal cumulative distribution function Φ(x) = P(Z ≤ x).
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x * std::f64::consts::FRAC_1_SQRT_2)
}

/// The standard normal upper tail 1 − Φ(x) = P(Z > x), without cancellation.
pub fn normal_sf(x: f64) -> f64 {
    0.5 * erfc(x * std::f64::consts::FRAC_1_SQRT_2)
}

/// The standard normal density φ(x).
pub fn normal_pdf(x: f64) -> f64 {
    (-0.5 * x * x - LN_SQRT_2PI).exp()
}

/// The standard normal quantile Φ⁻¹(p), by Wichura's AS 241 (about 1e-16 relative).
/// `−∞` at 0, `+∞` at 1, NaN outside `[0, 1]`.
#[allow(clippy::excessive_precision)]
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 8] = [
        3.3871328727963666080e0,
        1.3314166789178437745e2,
        1.9715909503065514427e3,
        1.3731693765509461125e4,
        4.5921953931549871457e4,
        6.7265770927008700853e4,
        3.3430575583588128105e4,
        2.5090809287301226727e3,
    ];
    const B: [f64; 8] = [
        1.0,
        4.2313330701600911252e1,
        6.8718700749205790830e2,
        5.3941960214247511077e3,
        2.1213794301586595867e4,
        3.9307895800092710610e4,
        2.8729085735721942674e4,
        5.2264952788528545610e3,
    ];
    const C: [f64; 8] = [
        1.42343711074968357734e0,
        4.63033784615654529590e0,
        5.76949722146069140550e0,
        3.64784832476320460504e0,
        1.27045825245236838258e0,
        2.41780725177450611770e-1,
        2.27238449892691845833e-2,
        7.74545014278341407640e-4,
    ];
    const D: [f64; 8] = [
        1.0,
        2.05319162663775882187e0,
        1.67638483018380384940e0,
        6.89767334985100004550e-1,
        1.48103976427480074590e-1,
        1.51986665636164571966e-2,
        5.47593808499534494600e-4,
        1.05075007164441684324e-9,
    ];
    const E: [f64; 8] = [
        6.65790464350110377720e0,
        5.46378491116411436990e0,
        1.78482653991729133580e0,
        2.96560571828504891230e-1,
        2.65321895265761230930e-2,
        1.24266094738807843860e-3,
        2.71155556874348757815e-5,
        2.01033439929228813265e-7,
    ];
    const F: [f64; 8] = [
        1.0,
        5.99832206555887937690e-1,
        1.36929880922735805310e-1,
        1.48753612908506148525e-2,
        7.86869131145613259100e-4,
        1.84631831751005468180e-5,
        1.42151175831644588870e-7,
        2.04426310338993978564e-15,
    ];
    fn poly(c: &[f64; 8], x: f64) -> f64 {
        c.iter().rev().fold(0.0, |acc, &k| acc * x + k)
    }
    if p.is_nan() || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    let q = p - 0.5;
    if q.abs() <= 0.425 {
        let r = 0.180625 - q * q;
        return q * poly(&A, r) / poly(&B, r);
    }
    let r = if q < 0.0 { p } else { 1.0 - p };
    let r = (-r.ln()).sqrt();
    let x = if r <= 5.0 {
        let r = r - 1.6;
        poly(&C, r) / poly(&D, r)
    } else {
        let r = r - 5.0;
        poly(&E, r) / poly(&F, r)
    };
    if q < 0.0 {
        -x
    } else {
        x
    }
}

/// `ln Γ(x)` for `x > 0` (Lanczos, g = 7, n = 9, below 10; Stirling's series with five
/// correction terms from 10 up): about 1e-15 absolute error for small `x`, 1e-16 relative
/// for large.
#[allow(clippy::excessive_precision)]
pub fn ln_gamma(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 {
        return f64::NAN;
    }
    if x >= 10.0 {
        return (x - 0.5) * x.ln() - x + LN_SQRT_2PI + stirling_correction(x);
    }
    const G: f64 = 7.0;
    const L: [f64; 9] = [
        0.999_999_999_999_809_93,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_13,
        -176.615_029_162_140_59,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_571_6e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 − x) = π / sin(π x).
        return (std::f64::consts::PI / (std::f64::consts::PI * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = L[0];
    let t = x + G + 0.5;
    for (i, &l) in L.iter().enumerate().skip(1) {
        a += l / (x + i as f64);
    }
    LN_SQRT_2PI + (x + 0.5) * t.ln() - t + a.ln()
}

/// `ln Γ(x) − ((x − ½) ln x − x + ln √(2π))` for `x ≥ 10`: Stirling's series.
fn stirling_correction(x: f64) -> f64 {
    let r = 1.0 / x;
    let r2 = r * r;
    r * (1.0 / 12.0
        - r2 * (1.0 / 360.0
            - r2 * (1.0 / 1260.0 - r2 * (1.0 / 1680.0 - r2 * (1.0 / 1188.0 - r2 * (691.0 / 360360.0))))))
}

/// `ln B(a, b) = ln Γ(a) + ln Γ(b) − ln Γ(a + b)` without the cancellation of two large
/// `ln Γ` values (as R's `lbeta`).
pub fn ln_beta(a: f64, b: f64) -> f64 {
    let (p, q) = if a < b { (a, b) } else { (b, a) };
    if p.is_nan() || p <= 0.0 {
        return f64::NAN;
    }
    if p >= 10.0 {
        let corr = stirling_correction(p) + stirling_correction(q) - stirling_correction(p + q);
        q.ln() * -0.5 + LN_SQRT_2PI + corr + (p - 0.5) * (p / (p + q)).ln() + q * (-p / (p + q)).ln_1p()
    } else if q >= 10.0 {
        let corr = stirling_correction(q) - stirling_correction(p + q);
        ln_gamma(p) + corr + p - p * (p + q).ln() + (q - 0.5) * (-p / (p + q)).ln_1p()
    } else {
        ln_gamma(p) + ln_gamma(q) - ln_gamma(p + q)
    }
}

/// The regularized incomplete beta function `I_x(a, b)` for `a, b > 0`, `x` in `[0, 1]`
/// (NaN otherwise).
pub fn beta_inc(a: f64, b: f64, x: f64) -> f64 {
    beta_inc_pair(a, b, x, 1.0 - x)
}

/// `I_x(a, b)` given both `x` and `y = 1 − x`, so a caller that knows `y` more precisely
/// than `1 − x` (a t statistic near 0) loses nothing.
fn beta_inc_pair(a: f64, b: f64, x: f64, y: f64) -> f64 {
    if a.is_nan() || b.is_nan() || x.is_nan() || a <= 0.0 || b <= 0.0 || !(0.0..=1.0).contains(&x) {
        return f64::NAN;
    }
    if x == 0.0 {
        return 0.0;
    }
    if y <= 0.0 {
        return 1.0;
    }
    let front = (a * x.ln() + b * y.ln() - ln_beta(a, b)).exp();
    // The continued fraction converges fast for x < (a + 1) / (a + b + 2); use the
    // symmetry I_x(a, b) = 1 − I_y(b, a) otherwise.
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_cf(a, b, x) / a
    } else {
        1.0 - front * beta_cf(b, a, y) / b
    }
}

/// The continued fraction of the incomplete beta function (Numerical Recipes `betacf`,
/// modified Lentz).
fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    const EPS: f64 = 1e-16;
    let (qab, qap, qam) = (a + b, a + 1.0, a - 1.0);
    let mut c = 1.0;
    let mut d = 1.0 - qab * x / qap;
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    // Converges in O(sqrt(max(a, b))) steps.
    let max = 200 + (20.0 * a.max(b).sqrt()) as usize;
    for m in 1..=max {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((qam + m2) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        h *= d * c;
        let aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        h *= del;
        if (del - 1.0).abs() < EPS {
            break;
        }
    }
    h
}

/// P(T > |t|) for Student's t with `df` degrees of freedom.
fn t_tail(t: f64, df: f64) -> f64 {
    let t2 = t * t;
    // x = df / (df + t²) and 1 − x = t² / (df + t²), each computed directly.
    0.5 * beta_inc_pair(0.5 * df, 0.5, df / (df + t2), t2 / (df + t2))
}

/// Student's t cumulative distribution function P(T ≤ t) with `df > 0` degrees of freedom
/// (not necessarily whole). NaN for `df ≤ 0` or NaN input.
pub fn t_cdf(t: f64, df: f64) -> f64 {
    if t.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if t.is_infinite() {
        return if t > 0.0 { 1.0 } else { 0.0 };
    }
    let tail = t_tail(t, df);
    if t > 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// Student's t density with `df` degrees of freedom.
pub fn t_pdf(t: f64, df: f64) -> f64 {
    (-0.5 * df.ln() - ln_beta(0.5 * df, 0.5) - 0.5 * (df + 1.0) * (t * t / df).ln_1p()).exp()
}

/// Student's t quantile: the `t` with `P(T ≤ t) = p`, for `df > 0`. Exact formulas for
/// `df` = 1 and 2; otherwise Newton's method on `ln P(T > t)` against `ln t`, started from
/// the Cornish–Fisher expansion and kept inside a shrinking bracket, to about 1e-13
/// relative. `−∞` at 0, `+∞` at 1, NaN outside `[0, 1]` or for `df ≤ 0`.
pub fn t_quantile(p: f64, df: f64) -> f64 {
    if p.is_nan() || df.is_nan() || df <= 0.0 || !(0.0..=1.0).contains(&p) {
        return f64::NAN;
    }
    if p == 0.0 {
        return f64::NEG_INFINITY;
    }
    if p == 1.0 {
        return f64::INFINITY;
    }
    if p == 0.5 {
        return 0.0;
    }
    let sign = if p < 0.5 { -1.0 } else { 1.0 };
    let q = if p < 0.5 { p } else { 1.0 - p }; // the upper tail to match, < 0.5
    if df == 1.0 {
        return sign * (std::f64::consts::PI * (0.5 - q)).tan();
    }
    if df == 2.0 {
        // P(T > t) = (1 − t / sqrt(t² + 2)) / 2.
        let a = 4.0 * q * (1.0 - q);
        return sign * (2.0 / a).sqrt() * (1.0 - 2.0 * q);
    }
    // Start: Cornish–Fisher (Abramowitz & Stegun 26.7.5). The heavy-tail asymptote
    // P(T > t) < c · t^(−df), c = df^(df/2 − 1) / B(df/2, 1/2), bounds the answer above.
    let z = -normal_quantile(q);
    let z2 = z * z;
    let g1 = (z2 + 1.0) * z / 4.0;
    let g2 = ((5.0 * z2 + 16.0) * z2 + 3.0) * z / 96.0;
    let g3 = (((3.0 * z2 + 19.0) * z2 + 17.0) * z2 - 15.0) * z / 384.0;
    let g4 = ((((79.0 * z2 + 776.0) * z2 + 1482.0) * z2 - 1920.0) * z2 - 945.0) * z / 92160.0;
    let mut t = z + g1 / df + g2 / df.powi(2) + g3 / df.powi(3) + g4 / df.powi(4);
    let ln_c = (0.5 * df - 1.0) * df.ln() - ln_beta(0.5 * df, 0.5);
    let heavy = ((ln_c - q.ln()) / df).exp();
    if !(t.is_finite() && t > 0.0 && t < heavy) {
        t = heavy;
    }
    if !(t.is_finite() && t > 0.0) {
        t = 1.0;
    }
    // Newton on f(u) = ln P(T > e^u) − ln q, u = ln t; f is decreasing in u.
    let target = q.ln();
    let (mut lo, mut hi) =
        (f64::NEG_INFINITY, if heavy.is_finite() && heavy > 0.0 { heavy.ln() } else { f64::INFINITY });
    let mut u = t.ln();
    for _ in 0..100 {
        let t = u.exp();
        let tail = t_tail(t, df);
        let f = tail.ln() - target;
        if f == 0.0 {
            break;
        }
        if f > 0.0 {
            lo = lo.max(u);
        } else {
            hi = hi.min(u);
        }
        let deriv = -t_pdf(t, df) * t / tail;
        let mut next = u - f / deriv;
        if !next.is_finite() || next <= lo || next >= hi {
            next = match (lo.is_finite(), hi.is_finite()) {
                (true, true) => 0.5 * (lo + hi),
                (true, false) => lo + 1.0,
                (false, true) => hi - 1.0,
                (false, false) => u,
            };
        }
        let step = (next - u).abs();
        u = next;
        if step <= 1e-14 * u.abs().max(1.0) {
            break;
        }
    }
    sign * u.exp()
}

/// The result of a z-test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ZTest {
    /// The z statistic (positive when the first group's rate is higher).
    pub z: f64,
    /// Two-sided p-value, `2 · P(Z > |z|)`.
    pub p: f64,
}

/// Two-proportion z-test with the pooled variance: `x1` of `n1` against `x2` of `n2`.
/// `z = (p1 − p2) / sqrt(p̂ (1 − p̂) (1/n1 + 1/n2))` with `p̂ = (x1 + x2) / (n1 + n2)`.
/// When either group is empty, or the pooled rate is 0 or 1 (no variance), there is no
/// evidence of a difference: `z = 0`, `p = 1`. Counts above their totals are clamped.
pub fn two_proportion_z(x1: u64, n1: u64, x2: u64, n2: u64) -> ZTest {
    let (x1, x2) = (x1.min(n1), x2.min(n2));
    if n1 == 0 || n2 == 0 {
        return ZTest { z: 0.0, p: 1.0 };
    }
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let pooled = (x1 + x2) as f64 / (n1f + n2f);
    let var = pooled * (1.0 - pooled) * (1.0 / n1f + 1.0 / n2f);
    if var <= 0.0 {
        return ZTest { z: 0.0, p: 1.0 };
    }
    let z = (x1 as f64 / n1f - x2 as f64 / n2f) / var.sqrt();
    ZTest { z, p: erfc(z.abs() * std::f64::consts::FRAC_1_SQRT_2).min(1.0) }
}

/// A confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

/// The Wilson score interval for a proportion `x / n` at confidence `level` (0.95 for
/// 95 %): `(p̂ + z²/2n ± z·sqrt(p̂(1 − p̂)/n + z²/4n²)) / (1 + z²/n)`, `z = Φ⁻¹(1 − (1 −
/// level)/2)`. `[0, 1]` when `n = 0`; `x` above `n` is clamped.
pub fn wilson(x: u64, n: u64, level: f64) -> Interval {
    if n == 0 {
        return Interval { low: 0.0, high: 1.0 };
    }
    let n_f = n as f64;
    let p = x.min(n) as f64 / n_f;
    let z = normal_quantile(1.0 - (1.0 - level) / 2.0);
    let z2 = z * z;
    let denom = 1.0 + z2 / n_f;
    let center = (p + z2 / (2.0 * n_f)) / denom;
    let half = z / denom * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt();
    Interval { low: (center - half).max(0.0), high: (center + half).min(1.0) }
}

/// Benjamini–Hochberg adjusted p-values (q-values), in the order of the input:
/// `q_(i) = min_{j ≥ i} min(1, p_(j) · m / j)` over the p-values sorted ascending. A
/// hypothesis is rejected at false-discovery rate `alpha` when its q ≤ alpha. q ≥ p, and q
/// is monotone in p. NaN p-values count as 1 (they are still among the `m` tests).
pub fn benjamini_hochberg(p: &[f64]) -> Vec<f64> {
    let m = p.len();
    let clean = |x: f64| if x.is_nan() { 1.0 } else { x.clamp(0.0, 1.0) };
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by(|&a, &b| clean(p[a]).total_cmp(&clean(p[b])));
    let mut q = vec![1.0; m];
    let mut running = 1.0f64;
    for (rank, &i) in order.iter().enumerate().rev() {
        running = running.min(clean(p[i]) * m as f64 / (rank + 1) as f64);
        // max with p: m / rank ≥ 1, but the product can round below p.
        q[i] = running.max(clean(p[i]));
    }
    q
}

/// The `q`-th quantile (`q` in `[0, 1]`) of an ascending slice, interpolating linearly
/// between the two nearest ranks: with `h = (n − 1) q`, `x[⌊h⌋] + (h − ⌊h⌋)(x[⌊h⌋+1] −
/// x[⌊h⌋])` (Hyndman & Fan type 7, as NumPy's default and Excel's `PERCENTILE.INC`). `None`
/// for an empty slice or `q` outside `[0, 1]`.
pub fn percentile_sorted<T: Copy + Into<f64>>(sorted: &[T], q: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let x = sorted[lo].into();
    match sorted.get(lo + 1) {
        Some(&next) if h > lo as f64 => Some(x + (h - lo as f64) * (next.into() - x)),
        _ => Some(x),
    }
}

/// The median of an ascending slice (the mean of the two middle values for an even count);
/// `None` when empty.
pub fn median_sorted<T: Copy + Into<f64>>(sorted: &[T]) -> Option<f64> {
    percentile_sorted(sorted, 0.5)
}

/// [`percentile_sorted`] of values in any order, reordering them in place (linear time,
/// by selection rather than sorting). NaN values are not allowed.
pub fn percentile_in_place<T: Copy + Into<f64> + PartialOrd>(values: &mut [T], q: f64) -> Option<f64> {
    if values.is_empty() || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let cmp = |a: &T, b: &T| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal);
    let h = (values.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let (_, &mut x, rest) = values.select_nth_unstable_by(lo, cmp);
    let x: f64 = x.into();
    if h > lo as f64 && !rest.is_empty() {
        // The next order statistic is the smallest value right of the selected one.
        let next: f64 = rest.iter().copied().min_by(cmp).map(Into::into).unwrap_or(x);
        Some(x + (h - lo as f64) * (next - x))
    } else {
        Some(x)
    }
}

/// A mean with its Student t confidence interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanInterval {
    /// Number of values.
    pub n: usize,
    /// The mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1 in the denominator).
    pub sd: f64,
    /// Standard error of the mean, `sd / sqrt(n)`.
    pub se: f64,
    /// The interval `mean ± t_{(1+level)/2, n−1} · se`.
    pub interval: Interval,
}

/// The mean of `values` with a t interval at confidence `level` (0.95 for 95 %). `None`
/// with fewer than two values (no spread to estimate); two passes, no allocation.
pub fn mean_t_interval(values: &[f64], level: f64) -> Option<MeanInterval> {
    let n = values.len();
    if n < 2 {
        return None;
    }
    let mean = values.iter().sum::<f64>() / n as f64;
    let ss: f64 = values.iter().map(|v| (v - mean) * (v - mean)).sum();
    let sd = (ss / (n - 1) as f64).sqrt();
    let se = sd / (n as f64).sqrt();
    let t = t_quantile(1.0 - (1.0 - level) / 2.0, (n - 1) as f64);
    Some(MeanInterval { n, mean, sd, se, interval: Interval { low: mean - t * se, high: mean + t * se } })
}
