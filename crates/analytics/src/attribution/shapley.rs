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
//! This `v` is a sum of unanimity games, one per touch set, and a unanimity game's Shapley
//! value splits its worth equally over its members, so
//!
//! `φ_j = Σ_{T ∋ j} r(T) / |T|`
//!
//! exactly, for any number of players, in one pass over the distinct touch sets. The values
//! are efficient (`Σ φ_j = v(N) − v(∅)`), symmetric, never negative, and zero for a player in
//! no converting journey. Non-converting journeys do not enter the game (they do enter the
//! Markov model). The tests check the closed form against the definition itself: the mean
//! marginal contribution over all `n!` orders of the players.

/// The conversion game: players `0..players` and the conversions of each touch set.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversionGame {
    /// Number of players.
    pub players: usize,
    /// `(touch set, conversions)`: each set sorted, without repeats, not empty, all sets
    /// distinct. Conversions with an empty touch set are `v(∅)` and are not listed.
    pub coalitions: Vec<(Vec<u32>, u64)>,
}

impl ConversionGame {
    /// The exact Shapley values: each touch set's conversions split equally over its members.
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
}
