//! Exact removal effects of an absorbing Markov chain built from path transition counts.
//!
//! States are coded as `u64`: the last `k` players of the path (16 bits each, player + 1,
//! most recent in the low bits), so the empty code `0` is *start*; [`CONVERSION`] and
//! [`NULL`] are the absorbing states. For order 1 a state is just the current player.
//!
//! With `Q` the transitions among transient states, `r` the one-step conversion
//! probabilities and `G = (I − Q)⁻¹` the fundamental matrix, the conversion probability
//! from each state is `p = G·r`. Removing a player sends every transition *into* a state
//! whose last player is that player (the set `A`) to *null*, so the conversion probability
//! from start becomes the probability of converting before ever entering `A`:
//!
//! `p⁻ᴬ(start) = p(start) − G[start, A] · G[A, A]⁻¹ · p(A)`
//!
//! (first-passage decomposition: `G[start, A]·G[A, A]⁻¹` is the distribution of the first
//! state of `A` entered). For order 1, `A = {x}` and this is
//! `p(start) − G[start, x]·p(x) / G[x, x]`. Everything is an exact linear solve (LU with
//! partial pivoting); nothing is simulated or iterated.

use super::linalg::{Lu, Singular};
use rayon::prelude::*;
use std::collections::HashMap;

/// The state code of *start* (an empty history).
pub(crate) const START: u64 = 0;
/// The state code of the absorbing *conversion* state.
pub(crate) const CONVERSION: u64 = 1 << 62;
/// The state code of the absorbing *null* state.
pub(crate) const NULL: u64 = 1 << 63;

/// The code of the state after `player` is appended to the history `code` in an order-`order`
/// chain (`order` ≤ 3, players < 65 535).
#[inline]
pub(crate) fn push(code: u64, player: u32, order: usize) -> u64 {
    let mask = (1u64 << (16 * order)) - 1;
    ((code << 16) | (u64::from(player) + 1)) & mask
}

/// The most recent player of a transient state (`None` for start).
#[inline]
pub(crate) fn last_player(code: u64) -> Option<u32> {
    let slot = code & 0xFFFF;
    (slot != 0).then(|| slot as u32 - 1)
}

/// An absorbing chain: transition probabilities among its transient states (state 0 is
/// start) and into conversion.
#[derive(Debug, Clone)]
pub(crate) struct Chain {
    /// Codes of the transient states, ascending; `codes[0]` is [`START`].
    pub codes: Vec<u64>,
    /// `Q`, row-major `n × n`.
    q: Vec<f64>,
    /// One-step conversion probabilities.
    r: Vec<f64>,
}

impl Chain {
    /// Build from `(from, to, count)` transition counts; `from` is a transient state code,
    /// `to` a transient code, [`CONVERSION`] or [`NULL`]. Start is always a state.
    pub(crate) fn from_counts(counts: &[(u64, u64, u64)]) -> Chain {
        let mut codes: Vec<u64> = counts.iter().map(|&(f, _, _)| f).chain([START]).collect();
        codes.sort_unstable();
        codes.dedup();
        let n = codes.len();
        let index: HashMap<u64, usize> = codes.iter().enumerate().map(|(i, &c)| (c, i)).collect();
        let mut visits = vec![0u64; n];
        for &(f, _, c) in counts {
            visits[index[&f]] += c;
        }
        let (mut q, mut r) = (vec![0.0; n * n], vec![0.0; n]);
        for &(f, t, c) in counts {
            let i = index[&f];
            let p = c as f64 / visits[i] as f64;
            match t {
                CONVERSION => r[i] += p,
                NULL => {}
                _ => {
                    // A path's next state is always a state that is itself left again.
                    let j = *index.get(&t).expect("every state entered is also left");
                    q[i * n + j] += p;
                }
            }
        }
        Chain { codes, q, r }
    }

    /// The number of transient states (start included).
    pub(crate) fn len(&self) -> usize {
        self.codes.len()
    }
}

/// Conversion probabilities of a chain, whole and with groups of states removed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Removal {
    /// P(conversion) from start.
    pub p_conversion: f64,
    /// P(conversion) from start with each group's incoming transitions sent to null.
    pub p_without: Vec<f64>,
}

/// Solve the chain exactly and the conversion probability with each group of transient
/// states (indexes into [`Chain::codes`], never start) removed.
pub(crate) fn removal(chain: &Chain, groups: &[Vec<usize>]) -> Result<Removal, Singular> {
    /// Columns of `G` solved together.
    const BLOCK: usize = 32;
    let n = chain.len();
    let mut m: Vec<f64> = chain.q.iter().map(|&x| -x).collect();
    for i in 0..n {
        m[i * n + i] += 1.0;
    }
    let lu = Lu::new(m, n)?;
    let p = lu.solve(&chain.r);
    // Columns of G = (I − Q)⁻¹ for every state of every group.
    let mut needed: Vec<usize> = groups.iter().flatten().copied().collect();
    needed.sort_unstable();
    needed.dedup();
    let columns: Vec<Vec<f64>> = needed
        .par_chunks(BLOCK)
        .flat_map_iter(|block| {
            let k = block.len();
            let mut e = vec![0.0; n * k];
            for (c, &a) in block.iter().enumerate() {
                e[a * k + c] = 1.0;
            }
            let x = lu.solve_many(&e, k);
            (0..k).map(move |c| (0..n).map(|i| x[i * k + c]).collect::<Vec<f64>>())
        })
        .collect();
    let column = |a: usize| &columns[needed.binary_search(&a).expect("a needed column")];
    let p_start = p[0];
    let p_without = groups
        .iter()
        .map(|group| {
            let k = group.len();
            if k == 0 || group.iter().all(|&a| p[a] == 0.0) {
                return Ok(p_start);
            }
            // H = G[A, A]; z = H⁻¹ · p(A); p⁻ᴬ = p(start) − G[start, A] · z.
            let mut h = vec![0.0; k * k];
            for (j, &b) in group.iter().enumerate() {
                let col = column(b);
                for (i, &a) in group.iter().enumerate() {
                    h[i * k + j] = col[a];
                }
            }
            let pa: Vec<f64> = group.iter().map(|&a| p[a]).collect();
            let z = Lu::new(h, k)?.solve(&pa);
            let through: f64 = group.iter().zip(&z).map(|(&a, zi)| column(a)[0] * zi).sum();
            Ok((p_start - through).clamp(0.0, p_start))
        })
        .collect::<Result<Vec<f64>, Singular>>()?;
    Ok(Removal { p_conversion: p_start, p_without })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Conversion probability from start with the group's states made to lead to null,
    /// by a direct solve of the modified system.
    fn direct(chain: &Chain, group: &[usize]) -> f64 {
        let n = chain.len();
        let mut m = vec![0.0; n * n];
        let mut r = chain.r.clone();
        for i in 0..n {
            m[i * n + i] = 1.0;
            if group.contains(&i) {
                r[i] = 0.0;
                continue;
            }
            for j in 0..n {
                m[i * n + j] -= chain.q[i * n + j];
            }
        }
        Lu::new(m, n).unwrap().solve(&r)[0]
    }

    #[test]
    fn first_passage_formula_matches_a_direct_solve() {
        // Order-1 codes: player p is p + 1. A chain with loops and self-loops.
        let s = |p: u32| push(START, p, 1);
        let counts = vec![
            (START, s(0), 5),
            (START, s(1), 3),
            (START, s(2), 2),
            (s(0), s(1), 4),
            (s(0), s(0), 2),
            (s(0), NULL, 3),
            (s(1), s(2), 4),
            (s(1), s(0), 3),
            (s(1), CONVERSION, 2),
            (s(2), s(1), 2),
            (s(2), CONVERSION, 3),
            (s(2), NULL, 1),
        ];
        let chain = Chain::from_counts(&counts);
        let groups = vec![vec![1], vec![2], vec![3], vec![1, 3], vec![]];
        let got = removal(&chain, &groups).unwrap();
        assert!((got.p_conversion - direct(&chain, &[])).abs() < 1e-12);
        for (g, p) in groups.iter().zip(&got.p_without) {
            assert!((p - direct(&chain, g)).abs() < 1e-12, "{g:?}: {p} vs {}", direct(&chain, g));
        }
    }

    #[test]
    fn state_codes_keep_the_last_players() {
        let c = push(push(push(START, 4, 2), 7, 2), 9, 2);
        assert_eq!(c, (8 << 16) | 10);
        assert_eq!(last_player(c), Some(9));
        assert_eq!(last_player(START), None);
        assert_eq!(push(c, 0, 1), 1);
    }
    #[test]
    #[ignore = "timing: cargo test --release -p touchpoint-analytics --lib solve_time -- --ignored --nocapture"]
    fn solve_time() {
        // An order-3-like chain over 15 players: each state has ~17 successors.
        for m in [250u64, 500, 1000, 1500] {
            let mut x = 7u64;
            let mut next = move || {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                x >> 33
            };
            let mut counts = vec![];
            for f in 0..m {
                for _ in 0..15 {
                    counts.push((f, 1 + next() % (m - 1), 1 + next() % 5));
                }
                counts.push((f, CONVERSION, 1 + next() % 3));
                counts.push((f, NULL, 1 + next() % 3));
            }
            let chain = Chain::from_counts(&counts);
            let mut groups = vec![vec![]; 15];
            for i in 1..chain.len() {
                groups[i % 15].push(i);
            }
            let t0 = std::time::Instant::now();
            removal(&chain, &groups).unwrap();
            println!("{} states: {:.0} ms", chain.len(), t0.elapsed().as_secs_f64() * 1e3);
        }
    }
}
