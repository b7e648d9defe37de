//! Shapley-value attribution: the conversion game of Zhao, Mahboobi & Bagheri (2018),
//! *Shapley Value Methods for Attribution Modeling in Online Advertising*
//! (arXiv:1804.05327), after Shapley (1953).
//!
//! The players are channels (or touchpoints). Every attributed conversion has a *touch set*:
//! the distinct players in its lookback window. With `r(T)` the number of conversions whose
//! touch set is exactly `T`, the worth of a coalition `S` is the number of conversions the
//! coalition alone can account for — those whose touch set lies inside it:
//!
//! `v(S) = Σ_{T ⊆ S} r(T)`
//!
//! and player `j` gets its Shapley value
//!
//! `φ_j = Σ_{S ⊆ N∖{j}} |S|! (n − |S| − 1)! / n! · (v(S ∪ {j}) − v(S))`.
//!
//! The values are efficient (`Σ φ_j = v(N) − v(∅)`, the conversions that have at least one
//! touch), symmetric, give nothing to a player that never appears in a converting journey,
//! and are never negative. Non-converting journeys do not enter the game (they do enter
//! the Markov model). Zhao et al. also show that this game's values reduce to
//! `φ_j = Σ_{T ∋ j} r(T) / |T|`; the kernel nevertheless evaluates the definition —
//! [`ConversionGame::exact`] over all `2ⁿ` coalitions, [`ConversionGame::sampled`] by
//! random permutations — and the tests use the closed form as one more check.
//!
//! A sample costs about `Σ_T min(|T|, (n + 1) / (|T| + 1))` steps over the distinct touch
//! sets: 20 000 samples over 80 000 distinct sets of ~25 of 34 touchpoints (uniformly random
//! 10 M-event data) take about 8 s on two cores, where the closed form would take
//! milliseconds and have no sampling error.

use rayon::prelude::*;

/// Up to this many players the Shapley values are computed exactly over every coalition
/// (`2ⁿ` worths, `n·2ⁿ` marginal contributions: 16 players is about a million steps).
pub const EXACT_MAX_PLAYERS: usize = 16;

/// The conversion game: players `0..players` and the conversions of each touch set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversionGame {
    /// Number of players.
    pub players: usize,
    /// `(touch set, conversions)`: each set sorted, without repeats, not empty, all sets
    /// distinct. Conversions with an empty touch set are `v(∅)` and are not listed.
    pub coalitions: Vec<(Vec<u32>, u64)>,
}

/// A sampled estimate of the Shapley values.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapleyEstimate {
    /// Estimated value of each player (mean marginal contribution).
    pub values: Vec<f64>,
    /// Standard error of each estimate (sample standard deviation / √samples).
    pub standard_errors: Vec<f64>,
    /// Number of permutations drawn.
    pub samples: usize,
}

impl ConversionGame {
    /// Exact Shapley values for any number of players. `v` is a sum of unanimity games
    /// (one per touch set T, weighted by its conversions r(T)), and a unanimity game's
    /// Shapley value gives each member of T an equal share: φ_j = Σ_{T∋j} r(T) / |T|.
    pub fn closed_form(&self) -> Vec<f64> {
        let mut phi = vec![0.0; self.players];
        for (set, r) in &self.coalitions {
            if set.is_empty() {
                continue;
            }
            let each = *r as f64 / set.len() as f64;
            for &p in set {
                phi[p as usize] += each;
            }
        }
        phi
    }

    /// The worth `v(S)` of a coalition given by membership flags (`members.len() == players`),
    /// counting only the listed (non-empty) touch sets.
    pub fn value(&self, members: &[bool]) -> f64 {
        self.coalitions.iter().filter(|(t, _)| t.iter().all(|&p| members[p as usize])).map(|&(_, r)| r as f64).sum()
    }

    /// Exact Shapley values over all `2ⁿ` coalitions; `None` above [`EXACT_MAX_PLAYERS`].
    pub fn exact(&self) -> Option<Vec<f64>> {
        let n = self.players;
        if n > EXACT_MAX_PLAYERS {
            return None;
        }
        let size = 1usize << n;
        // r by mask, then v = its sum over subsets (zeta transform): v[S] = Σ_{T ⊆ S} r[T].
        let mut v = vec![0u64; size];
        for (t, r) in &self.coalitions {
            let mask = t.iter().fold(0usize, |m, &p| m | 1 << p);
            v[mask] += r;
        }
        for j in 0..n {
            for s in 0..size {
                if s & (1 << j) != 0 {
                    v[s] += v[s ^ (1 << j)];
                }
            }
        }
        // weight[s] = s! (n − s − 1)! / n! = 1 / (n · C(n − 1, s)).
        let weight: Vec<f64> = (0..n).map(|s| 1.0 / (n as f64 * binomial(n - 1, s))).collect();
        let values = (0..n)
            .map(|j| {
                let bit = 1usize << j;
                (0..size)
                    .filter(|s| s & bit == 0)
                    .map(|s| weight[s.count_ones() as usize] * (v[s | bit] - v[s]) as f64)
                    .sum()
            })
            .collect();
        Some(values)
    }

    /// Shapley values estimated from `samples` uniformly random orders of the players
    /// (Castro, Gómez & Tejada 2009): a player's estimate is its mean marginal contribution
    /// `v(before ∪ {j}) − v(before)`. In this game a touch set's conversions are the
    /// marginal contribution of whichever of its players comes last in the order. Seeded
    /// and deterministic: the same seed gives the same estimate on any number of threads.
    pub fn sampled(&self, samples: usize, seed: u64) -> ShapleyEstimate {
        const BLOCK: usize = 256;
        let n = self.players;
        let blocks = samples.div_ceil(BLOCK);
        // A set's last member is found by walking the order backwards until a member turns
        // up (about (n + 1) / (|T| + 1) steps, with at most 64 players: sets as bit masks)
        // or by comparing its members' positions (|T| steps), whichever is shorter. Both
        // kinds are kept in flat arrays for a tight loop.
        let (mut masks, mut lists, mut members) = (Vec::new(), Vec::new(), Vec::new());
        for (t, r) in &self.coalitions {
            if n <= 64 && (n + 1) / (t.len() + 1) < t.len() {
                masks.push((t.iter().fold(0u64, |m, &p| m | 1 << p), *r));
            } else {
                lists.push((members.len() as u32, t.len() as u32, *r));
                members.extend_from_slice(t);
            }
        }
        let partial: Vec<(Vec<u64>, Vec<u128>)> = (0..blocks)
            .into_par_iter()
            .map(|b| {
                let mut rng = SplitMix64::new(seed ^ SplitMix64::new(b as u64).next_u64());
                let (mut sum, mut sum_sq) = (vec![0u64; n], vec![0u128; n]);
                let mut order: Vec<u32> = (0..n as u32).collect();
                let mut position = vec![0u32; n];
                let mut marginal = vec![0u64; n];
                for _ in b * BLOCK..((b + 1) * BLOCK).min(samples) {
                    for i in (1..n).rev() {
                        order.swap(i, rng.below(i as u64 + 1) as usize);
                    }
                    for (i, &p) in order.iter().enumerate() {
                        position[p as usize] = i as u32;
                    }
                    for &(mask, r) in &masks {
                        let last = *order.iter().rev().find(|&&p| mask >> p & 1 == 1).expect("a member");
                        marginal[last as usize] += r;
                    }
                    for &(start, len, r) in &lists {
                        let t = &members[start as usize..(start + len) as usize];
                        let last = t.iter().copied().max_by_key(|&p| position[p as usize]).expect("non-empty set");
                        marginal[last as usize] += r;
                    }
                    for j in 0..n {
                        let m = std::mem::take(&mut marginal[j]);
                        sum[j] += m;
                        sum_sq[j] += u128::from(m) * u128::from(m);
                    }
                }
                (sum, sum_sq)
            })
            .collect();
        let (mut sum, mut sum_sq) = (vec![0u64; n], vec![0u128; n]);
        for (s, q) in partial {
            for j in 0..n {
                sum[j] += s[j];
                sum_sq[j] += q[j];
            }
        }
        let k = samples as f64;
        let values: Vec<f64> = sum.iter().map(|&s| if samples == 0 { 0.0 } else { s as f64 / k }).collect();
        let standard_errors = (0..n)
            .map(|j| {
                if samples < 2 {
                    return f64::INFINITY;
                }
                let var = ((sum_sq[j] as f64) - (sum[j] as f64) * values[j]) / (k - 1.0);
                (var.max(0.0) / k).sqrt()
            })
            .collect();
        ShapleyEstimate { values, standard_errors, samples }
    }
}

/// `C(n, k)` as a float (exact for the sizes used here).
fn binomial(n: usize, k: usize) -> f64 {
    let k = k.min(n - k);
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

/// SplitMix64 (Steele, Lea & Flood 2014): a small, fast, seedable generator.
#[derive(Debug, Clone)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (Lemire's multiply-shift with rejection: unbiased).
    fn below(&mut self, n: u64) -> u64 {
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = u128::from(self.next_u64()) * u128::from(n);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binomials() {
        assert_eq!(binomial(5, 2), 10.0);
        assert_eq!(binomial(15, 0), 1.0);
        assert_eq!(binomial(15, 15), 1.0);
        assert_eq!(binomial(16, 8), 12870.0);
    }

    #[test]
    fn draws_are_uniform_enough() {
        let mut rng = SplitMix64::new(1);
        let mut counts = [0u32; 3];
        for _ in 0..30_000 {
            counts[rng.below(3) as usize] += 1;
        }
        assert!(counts.iter().all(|&c| (9_500..10_500).contains(&c)), "{counts:?}");
    }
}
