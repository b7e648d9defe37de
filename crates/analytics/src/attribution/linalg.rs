//! A small dense linear solver: LU decomposition with partial pivoting, for the absorbing
//! Markov chains of attribution (at most a few thousand states). Row-major storage.

/// The LU decomposition `P·A = L·U` of a square matrix, with `L` unit lower triangular.
#[derive(Debug, Clone)]
pub(crate) struct Lu {
    /// The order of the matrix.
    n: usize,
    /// `L` (below the diagonal, unit diagonal implied) and `U` (on and above it), row-major.
    lu: Vec<f64>,
    /// Row `i` of `P·A` is row `perm[i]` of `A`.
    perm: Vec<usize>,
}

/// The matrix is singular (or not finite) to working precision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Singular {
    /// The elimination step at which no usable pivot was found.
    pub step: usize,
}

impl Lu {
    /// Factor the `n × n` row-major matrix `a`.
    pub(crate) fn new(mut a: Vec<f64>, n: usize) -> Result<Lu, Singular> {
        assert_eq!(a.len(), n * n, "an n × n matrix has n² entries");
        let mut perm: Vec<usize> = (0..n).collect();
        for k in 0..n {
            let (mut p, mut best) = (k, a[k * n + k].abs());
            for i in k + 1..n {
                let v = a[i * n + k].abs();
                if v > best {
                    (p, best) = (i, v);
                }
            }
            if best == 0.0 || !best.is_finite() {
                return Err(Singular { step: k });
            }
            if p != k {
                for j in 0..n {
                    a.swap(k * n + j, p * n + j);
                }
                perm.swap(k, p);
            }
            let (top, bottom) = a.split_at_mut((k + 1) * n);
            let pivot_row = &top[k * n..];
            let pivot = pivot_row[k];
            for row in bottom.chunks_exact_mut(n) {
                let f = row[k] / pivot;
                row[k] = f;
                if f != 0.0 {
                    for (x, &y) in row[k + 1..].iter_mut().zip(&pivot_row[k + 1..]) {
                        *x -= f * y;
                    }
                }
            }
        }
        Ok(Lu { n, lu: a, perm })
    }

    /// Solve `A·x = b`, returning `x`.
    pub(crate) fn solve(&self, b: &[f64]) -> Vec<f64> {
        let n = self.n;
        assert_eq!(b.len(), n);
        let mut x: Vec<f64> = self.perm.iter().map(|&i| b[i]).collect();
        for i in 0..n {
            let row = &self.lu[i * n..i * n + i];
            let s: f64 = row.iter().zip(&x[..i]).map(|(l, v)| l * v).sum();
            x[i] -= s;
        }
        for i in (0..n).rev() {
            let row = &self.lu[i * n..(i + 1) * n];
            let s: f64 = row[i + 1..].iter().zip(&x[i + 1..]).map(|(u, v)| u * v).sum();
            x[i] = (x[i] - s) / row[i];
        }
        x
    }

    /// Solve `A·X = B` for `k` right-hand sides at once: `b` is `n × k` row-major (column
    /// `j` is one right-hand side), and so is the result. Reads the factors once for all
    /// `k` columns, which keeps large systems cache-friendly.
    pub(crate) fn solve_many(&self, b: &[f64], k: usize) -> Vec<f64> {
        let n = self.n;
        assert_eq!(b.len(), n * k);
        let mut x = vec![0.0; n * k];
        for (i, &p) in self.perm.iter().enumerate() {
            x[i * k..(i + 1) * k].copy_from_slice(&b[p * k..(p + 1) * k]);
        }
        for i in 0..n {
            let (done, rest) = x.split_at_mut(i * k);
            let xi = &mut rest[..k];
            for (j, &l) in self.lu[i * n..i * n + i].iter().enumerate() {
                if l != 0.0 {
                    for (a, &v) in xi.iter_mut().zip(&done[j * k..(j + 1) * k]) {
                        *a -= l * v;
                    }
                }
            }
        }
        for i in (0..n).rev() {
            let (head, tail) = x.split_at_mut((i + 1) * k);
            let xi = &mut head[i * k..];
            for (j, &u) in self.lu[i * n + i + 1..(i + 1) * n].iter().enumerate() {
                if u != 0.0 {
                    for (a, &v) in xi.iter_mut().zip(&tail[j * k..(j + 1) * k]) {
                        *a -= u * v;
                    }
                }
            }
            let d = self.lu[i * n + i];
            for a in xi {
                *a /= d;
            }
        }
        x
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mul(a: &[f64], x: &[f64]) -> Vec<f64> {
        let n = x.len();
        (0..n).map(|i| (0..n).map(|j| a[i * n + j] * x[j]).sum()).collect()
    }

    #[test]
    fn solves_a_system_that_needs_pivoting() {
        // The first pivot is 0: without row exchanges elimination would fail.
        let a = vec![0.0, 2.0, 1.0, 1.0, 1.0, 1.0, 2.0, 1.0, 0.0];
        let b = vec![3.0, 6.0, 4.0];
        let x = Lu::new(a.clone(), 3).unwrap().solve(&b);
        for (got, want) in mul(&a, &x).iter().zip(&b) {
            assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        }
    }

    #[test]
    fn many_right_hand_sides_at_once_match_one_at_a_time() {
        let n = 5;
        let a: Vec<f64> =
            (0..n * n).map(|i| ((i * 7 + 3) % 11) as f64 - 5.0 + if i % (n + 1) == 0 { 20.0 } else { 0.0 }).collect();
        let lu = Lu::new(a, n).unwrap();
        let k = 3;
        let b: Vec<f64> = (0..n * k).map(|i| (i % 4) as f64 - 1.5).collect();
        let x = lu.solve_many(&b, k);
        for c in 0..k {
            let col: Vec<f64> = (0..n).map(|i| b[i * k + c]).collect();
            let one = lu.solve(&col);
            for i in 0..n {
                assert!((x[i * k + c] - one[i]).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn singular_matrices_are_reported() {
        assert!(Lu::new(vec![1.0, 2.0, 2.0, 4.0], 2).is_err());
        assert!(Lu::new(vec![], 0).unwrap().solve(&[]).is_empty());
    }
}
