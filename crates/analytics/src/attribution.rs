//! Multi-touch attribution: which touchpoints (or channels) earn a conversion goal's
//! conversions, by several models side by side.
//!
//! # Conversions and their touches
//!
//! A *conversion* is an event of the goal touchpoint: with [`ConversionCount::First`] only
//! each customer's first one, with [`ConversionCount::Every`] every one. The *touches* of a
//! conversion are the customer's events before it (in time order, ties in arrival order)
//! that are after the customer's previous conversion and at most `lookback_s` seconds older
//! than it; the goal touchpoint itself is never a touch. Each touch is credited as its
//! touchpoint, or with [`Grouping::Channel`] as that touchpoint's channel. A conversion with
//! no touches cannot be credited by the touch-based models: it is counted as *unattributed*.
//! For every model, credits plus unattributed conversions equal the conversions (checked).
//!
//! # Models
//!
//! - **first touch** / **last touch**: the earliest / latest touch gets the conversion.
//! - **linear**: every touch gets an equal share (a touchpoint touched twice, twice).
//! - **time decay**: touch `i` weighs `2^(−Δtᵢ / half_life_s)`, `Δtᵢ` its time before the
//!   conversion; shares are proportional to the weights.
//! - **position based** (40/20/40): 40 % to the first touch, 40 % to the last, 20 % spread
//!   evenly over the touches between; one touch gets 100 %, two get 50 % each.
//! - **Markov** (removal effect, as `docs/definitions.md` defines it): one path per customer — the
//!   touchpoints before the customer's first goal event, ending in *conversion*, or all of
//!   them ending in *null* when the customer never converts; the lookback does not apply and
//!   non-converting customers count. Every consecutive pair is a transition, repeats and
//!   self-loops included. The chain has the states *start*, *conversion*, *null* and one per
//!   touchpoint (or channel); the removal effect of `x` is
//!   `1 − P(conversion with x's incoming transitions sent to null) / P(conversion)`, solved
//!   exactly (see `markov.rs`), and `x`'s credit is `conversions × effect / Σ effects`, where
//!   `conversions` is this report's conversion count (with the default
//!   [`ConversionCount::First`] that is exactly the chain's converting paths).
//!   [`Model::Markov2`] and [`Model::Markov3`] are the same with a state for each sequence of
//!   the last 2 or 3 players (shorter at the start of a path); removing `x` sends every
//!   transition into a state whose latest player is `x` to null.
//! - **Shapley**: the conversion game of Zhao et al. (2018), see [`shapley`]. The game is a
//!   sum of unanimity games, so its Shapley values have an exact closed form for any number
//!   of players: each conversion's credit split equally over its touch set.
//!
//! Heuristic credits are accumulated per conversion in fixed point (2⁻³² of a conversion),
//! each conversion's shares summing to exactly one, so reports do not depend on how the
//! customers were split over threads.

mod linalg;
mod markov;
pub mod shapley;

use crate::journeys::{Dictionary, Journey, Journeys, Tp};
use markov::{Chain, CONVERSION, NULL, START};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use touchpoint_core::Channel;

/// Seconds in a day.
const DAY_S: i64 = 86_400;
/// The default lookback window: 30 days.
pub const DEFAULT_LOOKBACK_S: i64 = 30 * DAY_S;
/// The default time-decay half-life: 7 days.
pub const DEFAULT_HALF_LIFE_S: i64 = 7 * DAY_S;
/// The most transient states (start included) a Markov chain may have for the exact solve.
/// Its cost grows with the cube of the states: about 0.2 s at 1 000 and 0.8 s at 1 500 on
/// two cores. A first-order chain by channel has at most 16; a third-order one by channel
/// on the demo data about 500 (all 3 616 possible ones is over the limit).
pub const MAX_MARKOV_STATES: usize = 1_500;

/// Which goal events count as conversions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConversionCount {
    /// Each customer's first goal event.
    #[default]
    First,
    /// Every goal event.
    Every,
}

/// What gets the credit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Grouping {
    /// Each touchpoint.
    #[default]
    Touchpoint,
    /// Each channel (the touchpoint's channel in the dictionary).
    Channel,
}

/// An attribution model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Model {
    /// The first touch gets the conversion.
    FirstTouch,
    /// The last touch gets the conversion.
    LastTouch,
    /// Equal shares for every touch.
    Linear,
    /// Shares halving every `half_life_s` before the conversion.
    TimeDecay,
    /// 40 % first, 40 % last, 20 % spread over the middle.
    PositionBased,
    /// First-order Markov chain removal effect.
    Markov,
    /// Second-order Markov chain removal effect.
    #[serde(rename = "markov-2")]
    Markov2,
    /// Third-order Markov chain removal effect.
    #[serde(rename = "markov-3")]
    Markov3,
    /// Shapley values of the conversion game.
    Shapley,
}

impl Model {
    /// Every model.
    pub const ALL: [Model; 9] = [
        Model::FirstTouch,
        Model::LastTouch,
        Model::Linear,
        Model::TimeDecay,
        Model::PositionBased,
        Model::Markov,
        Model::Markov2,
        Model::Markov3,
        Model::Shapley,
    ];

    /// The models a query runs by default: all but the higher-order Markov chains (whose
    /// state count can outgrow the exact solver when attributing by touchpoint).
    pub const DEFAULT: [Model; 7] = [
        Model::FirstTouch,
        Model::LastTouch,
        Model::Linear,
        Model::TimeDecay,
        Model::PositionBased,
        Model::Markov,
        Model::Shapley,
    ];

    /// The stored name (`time-decay`).
    pub fn as_str(self) -> &'static str {
        match self {
            Model::FirstTouch => "first-touch",
            Model::LastTouch => "last-touch",
            Model::Linear => "linear",
            Model::TimeDecay => "time-decay",
            Model::PositionBased => "position-based",
            Model::Markov => "markov",
            Model::Markov2 => "markov-2",
            Model::Markov3 => "markov-3",
            Model::Shapley => "shapley",
        }
    }

    /// The order of a Markov model.
    pub fn markov_order(self) -> Option<usize> {
        match self {
            Model::Markov => Some(1),
            Model::Markov2 => Some(2),
            Model::Markov3 => Some(3),
            _ => None,
        }
    }

    /// The column of a touch-based heuristic model in the fixed-point accumulators.
    fn heuristic(self) -> Option<usize> {
        match self {
            Model::FirstTouch => Some(0),
            Model::LastTouch => Some(1),
            Model::Linear => Some(2),
            Model::TimeDecay => Some(3),
            Model::PositionBased => Some(4),
            _ => None,
        }
    }
}

/// An attribution query: the backend-neutral plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AttributionQuery {
    /// Key of the goal touchpoint. Empty: the dictionary's conversion goal, if it has
    /// exactly one. Any touchpoint may be a goal, flagged or not.
    pub goal: String,
    /// Which goal events count as conversions.
    pub conversions: ConversionCount,
    /// Only touches at most this many seconds before a conversion count for it.
    pub lookback_s: i64,
    /// Credit touchpoints or channels.
    pub by: Grouping,
    /// Time-decay half-life in seconds.
    pub half_life_s: i64,
    /// The models to run (report columns in this order; repeats ignored).
    pub models: Vec<Model>,
}

impl Default for AttributionQuery {
    fn default() -> Self {
        AttributionQuery {
            goal: String::new(),
            conversions: ConversionCount::First,
            lookback_s: DEFAULT_LOOKBACK_S,
            by: Grouping::Touchpoint,
            half_life_s: DEFAULT_HALF_LIFE_S,
            models: Model::DEFAULT.to_vec(),
        }
    }
}

/// One model's credit to one touchpoint or channel.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Credit {
    /// Conversions credited (fractional).
    pub credit: f64,
    /// `credit` as a share of all conversions (0 when there are none).
    pub share: f64,
}

/// One touchpoint (or channel) of the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributionRow {
    /// Touchpoint key, or channel name.
    pub key: String,
    /// Conversions with this touchpoint (or channel) among their touches.
    pub conversions_touched: u64,
    /// Credit by model.
    pub credits: BTreeMap<Model, Credit>,
}

/// One model's totals.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSummary {
    /// The model.
    pub model: Model,
    /// How its credits were computed, in words.
    pub method: String,
    /// Sum of its credits.
    pub attributed: f64,
    /// Conversions it could not credit (`attributed + unattributed = conversions`).
    pub unattributed: f64,
}

/// Details of a Markov model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MarkovDetails {
    /// The chain's order.
    pub order: usize,
    /// States of the chain: start, conversion, null and the observed histories.
    pub states: usize,
    /// Paths (one per customer).
    pub paths: u64,
    /// Paths that end in conversion.
    pub converting_paths: u64,
    /// Transitions counted (start → first state and last state → end included).
    pub transitions: u64,
    /// P(conversion) from start.
    pub p_conversion: f64,
    /// Raw removal effect by touchpoint (or channel) key.
    pub removal_effects: BTreeMap<String, f64>,
    /// P(conversion) with the touchpoint (or channel) removed, by key.
    pub p_conversion_without: BTreeMap<String, f64>,
}

/// Details of the Shapley model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShapleyDetails {
    /// Players: touchpoints (or channels) in at least one converting touch set.
    pub players: usize,
    /// Distinct non-empty touch sets of conversions.
    pub touch_sets: usize,
    /// `v(N)`: conversions with at least one touch, plus `v(∅)`.
    pub value_all: f64,
    /// `v(∅)`: conversions without touches.
    pub value_empty: f64,
}

/// The attribution report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttributionReport {
    /// Key of the goal touchpoint.
    pub goal: String,
    /// What got the credit.
    pub by: Grouping,
    /// Which goal events counted.
    pub conversions_counted: ConversionCount,
    /// The lookback window, seconds.
    pub lookback_s: i64,
    /// The time-decay half-life, seconds.
    pub half_life_s: i64,
    /// Journeys (customers), converting or not.
    pub journeys: u64,
    /// Journeys with at least one goal event.
    pub converting_journeys: u64,
    /// Conversions attributed.
    pub conversions: u64,
    /// The models, in column order, with their totals.
    pub models: Vec<ModelSummary>,
    /// One row per touchpoint (or channel) that was touched or credited, in dictionary
    /// (or channel) order.
    pub rows: Vec<AttributionRow>,
    /// One entry per Markov model run.
    pub markov: Vec<MarkovDetails>,
    /// Present when Shapley ran.
    pub shapley: Option<ShapleyDetails>,
}

/// Why an attribution could not be computed.
#[derive(Debug, Clone, PartialEq)]
pub enum AttributionError {
    /// The goal key is not in the dictionary.
    UnknownGoal {
        /// The key asked for.
        goal: String,
        /// The dictionary's conversion goals.
        goals: Vec<String>,
    },
    /// No goal was named and the dictionary has no conversion goal.
    NoGoalInDictionary,
    /// No goal was named and the dictionary has several conversion goals.
    AmbiguousGoal {
        /// The dictionary's conversion goals.
        goals: Vec<String>,
    },
    /// A query field is out of range.
    InvalidQuery {
        /// The field.
        field: &'static str,
        /// What is wrong, in words.
        message: String,
    },
    /// The journey set uses a touchpoint index the dictionary does not have.
    UnknownTouchpoint {
        /// The index.
        index: Tp,
        /// The dictionary's size.
        dictionary_len: usize,
    },
    /// A Markov chain is too large for the exact solver.
    TooManyStates {
        /// What the players were.
        by: Grouping,
        /// The chain's order.
        order: usize,
        /// Its transient states.
        states: usize,
        /// The most the solver takes.
        max: usize,
    },
    /// A numerical failure (a singular system, or credits that do not add up).
    Numerical {
        /// What failed.
        message: String,
    },
}

impl fmt::Display for AttributionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |g: &[String]| g.iter().map(|k| format!("\"{k}\"")).collect::<Vec<_>>().join(", ");
        match self {
            AttributionError::UnknownGoal { goal, goals } if goals.is_empty() => write!(
                f,
                "there is no touchpoint \"{goal}\" to use as the goal, and no touchpoint is flagged as a conversion goal"
            ),
            AttributionError::UnknownGoal { goal, goals } => {
                write!(f, "there is no touchpoint \"{goal}\" to use as the goal; the conversion goals are {}", list(goals))
            }
            AttributionError::NoGoalInDictionary => write!(
                f,
                "no goal was given and no touchpoint is flagged as a conversion goal: name the goal touchpoint's key"
            ),
            AttributionError::AmbiguousGoal { goals } => {
                write!(f, "no goal was given and there are several conversion goals ({}): name one", list(goals))
            }
            AttributionError::InvalidQuery { field, message } => write!(f, "{field}: {message}"),
            AttributionError::UnknownTouchpoint { index, dictionary_len } => write!(
                f,
                "the journeys use touchpoint number {index}, but the dictionary has only {dictionary_len} touchpoints"
            ),
            AttributionError::TooManyStates { by, order, states, max } => {
                let advice = match (by, order) {
                    (Grouping::Touchpoint, _) => "attribute by channel or use a lower order",
                    (Grouping::Channel, 1) => "this needs fewer channels",
                    (Grouping::Channel, _) => "use a lower order",
                };
                write!(f, "the order-{order} Markov chain has {states} states and the exact solver takes at most {max}: {advice}")
            }
            AttributionError::Numerical { message } => write!(f, "numerical failure: {message}"),
        }
    }
}

impl std::error::Error for AttributionError {}

/// Compute an attribution report.
pub fn run(
    set: &impl Journeys,
    dict: &Dictionary,
    q: &AttributionQuery,
) -> Result<AttributionReport, AttributionError> {
    let goal = resolve_goal(dict, &q.goal)?;
    let mut models: Vec<Model> = Vec::with_capacity(q.models.len());
    for &m in &q.models {
        if !models.contains(&m) {
            models.push(m);
        }
    }
    validate(q, &models)?;
    if let Some(max) = set.max_touchpoint() {
        if max as usize >= dict.touchpoints.len() {
            return Err(AttributionError::UnknownTouchpoint { index: max, dictionary_len: dict.touchpoints.len() });
        }
    }

    let players = Players::new(dict, goal, q.by);
    let orders: Vec<usize> = models.iter().filter_map(|m| m.markov_order()).collect();
    let n = players.keys.len();
    let plan = Plan {
        of_tp: &players.of_tp,
        players: n,
        windows: models.iter().any(|m| m.heuristic().is_some() || *m == Model::Shapley),
        shapley: models.contains(&Model::Shapley),
        dense: orders.contains(&1) && (n + 3) * (n + 3) <= DENSE_MAX,
        orders,
        first_only: q.conversions == ConversionCount::First,
        lookback_s: q.lookback_s,
        half_life_s: q.half_life_s as f64,
    };
    let acc = set.fold(|| Acc::new(&plan), |acc, j| acc.add(&plan, j), Acc::merge);

    let conversions = acc.conversions;
    let mut credit: BTreeMap<Model, Vec<f64>> = BTreeMap::new();
    let mut summaries: BTreeMap<Model, ModelSummary> = BTreeMap::new();
    let summary =
        |model: Model, method: String, unattributed: f64| ModelSummary { model, method, attributed: 0.0, unattributed };

    // Touch-based heuristics.
    for &m in &models {
        if let Some(h) = m.heuristic() {
            credit.insert(m, acc.credit.iter().map(|c| c[h] as f64 / SCALE as f64).collect());
            let method = match m {
                Model::FirstTouch => "first touch in the lookback window".to_string(),
                Model::LastTouch => "last touch in the lookback window".to_string(),
                Model::Linear => "equal shares for every touch in the lookback window".to_string(),
                Model::TimeDecay => format!("weights 2^(−Δt / {} s) by time before the conversion", q.half_life_s),
                _ => "40 % first touch, 40 % last, 20 % spread over the middle".to_string(),
            };
            summaries.insert(m, summary(m, method, acc.direct as f64));
        }
    }

    // Markov chains.
    let mut markov_details = Vec::new();
    let mut visited = vec![false; n];
    for &m in &models {
        let Some(order) = m.markov_order() else { continue };
        let slot = plan.orders.iter().position(|&o| o == order).expect("every order has a slot");
        let counts: Vec<(u64, u64, u64)> = if order == 1 && plan.dense {
            acc.dense_triples(n)
        } else {
            acc.sparse[slot].iter().map(|(&(f, t), &c)| (f, t, c)).collect()
        };
        let chain = Chain::from_counts(&counts);
        if chain.len() > MAX_MARKOV_STATES {
            return Err(AttributionError::TooManyStates {
                by: q.by,
                order,
                states: chain.len(),
                max: MAX_MARKOV_STATES,
            });
        }
        let mut groups: Vec<Vec<usize>> = vec![Vec::new(); n];
        for (i, &code) in chain.codes.iter().enumerate() {
            if let Some(p) = markov::last_player(code) {
                groups[p as usize].push(i);
            }
        }
        let removal = markov::removal(&chain, &groups).map_err(|s| AttributionError::Numerical {
            message: format!("the order-{order} Markov system is singular at step {}", s.step),
        })?;
        let p = removal.p_conversion;
        let effects: Vec<f64> =
            removal.p_without.iter().map(|&pw| if p > 0.0 { (1.0 - pw / p).clamp(0.0, 1.0) } else { 0.0 }).collect();
        let total: f64 = effects.iter().sum();
        let credits: Vec<f64> =
            effects.iter().map(|&e| if total > 0.0 { conversions as f64 * e / total } else { 0.0 }).collect();
        let mut details = MarkovDetails {
            order,
            states: chain.len() + 2,
            paths: acc.paths,
            converting_paths: acc.converting_paths,
            transitions: counts.iter().map(|&(_, _, c)| c).sum(),
            p_conversion: p,
            removal_effects: BTreeMap::new(),
            p_conversion_without: BTreeMap::new(),
        };
        for x in 0..n {
            if !groups[x].is_empty() {
                visited[x] = true;
                details.removal_effects.insert(players.keys[x].clone(), effects[x]);
                details.p_conversion_without.insert(players.keys[x].clone(), removal.p_without[x]);
            }
        }
        markov_details.push(details);
        credit.insert(m, credits);
        let method = format!(
            "exact removal effects: absorbing-chain linear solve (LU, partial pivoting), order {order}, {} states",
            chain.len() + 2
        );
        let unattributed = if total > 0.0 { 0.0 } else { conversions as f64 };
        summaries.insert(m, summary(m, method, unattributed));
    }

    // Shapley.
    let mut shapley_details = None;
    if plan.shapley {
        let active: Vec<usize> = (0..n).filter(|&p| acc.touched[p] > 0).collect();
        let mut index = vec![u32::MAX; n];
        for (i, &p) in active.iter().enumerate() {
            index[p] = i as u32;
        }
        let mut coalitions: Vec<(Vec<u32>, u64)> = acc
            .sets
            .iter()
            .filter(|(t, _)| !t.is_empty())
            .map(|(t, &r)| (t.iter().map(|&p| index[p as usize]).collect(), r))
            .collect();
        coalitions.sort_unstable();
        let game = shapley::ConversionGame { players: active.len(), coalitions };
        let value_empty = acc.direct as f64;
        let value_all = value_empty + game.coalitions.iter().map(|&(_, r)| r as f64).sum::<f64>();
        let details =
            ShapleyDetails { players: active.len(), touch_sets: game.coalitions.len(), value_all, value_empty };
        // The game is a sum of unanimity games (one per touch set), so its Shapley values
        // have a closed form that is exact for any number of players.
        let values = game.closed_form();
        let mut credits = vec![0.0; n];
        for (i, &p) in active.iter().enumerate() {
            credits[p] = values[i];
        }
        credit.insert(Model::Shapley, credits);
        let method = format!(
            "exact Shapley values of the conversion game (Zhao et al. 2018) for {} players: each conversion's \
             credit split equally over its touch set (closed form of a sum of unanimity games)",
            active.len()
        );
        summaries.insert(Model::Shapley, summary(Model::Shapley, method, value_empty));
        shapley_details = Some(details);
    }

    // Rows, totals and the check that every model accounts for every conversion.
    let share = |c: f64| if conversions > 0 { c / conversions as f64 } else { 0.0 };
    let mut rows = Vec::new();
    for p in 0..n {
        let credited = credit.values().any(|c| c[p] != 0.0);
        if acc.touched[p] == 0 && !visited[p] && !credited {
            continue;
        }
        let credits =
            models.iter().map(|m| (*m, Credit { credit: credit[m][p], share: share(credit[m][p]) })).collect();
        rows.push(AttributionRow { key: players.keys[p].clone(), conversions_touched: acc.touched[p], credits });
    }
    let mut summary_list = Vec::with_capacity(models.len());
    for m in &models {
        let mut s = summaries.remove(m).expect("every model has a summary");
        s.attributed = credit[m].iter().sum();
        let gap = s.attributed + s.unattributed - conversions as f64;
        if gap.abs() > 1e-6 * (conversions as f64).max(1.0) || !gap.is_finite() {
            return Err(AttributionError::Numerical {
                message: format!(
                    "{} credits {} + unattributed {} do not add up to {conversions} conversions",
                    m.as_str(),
                    s.attributed,
                    s.unattributed
                ),
            });
        }
        summary_list.push(s);
    }

    Ok(AttributionReport {
        goal: dict.key(goal).to_string(),
        by: q.by,
        conversions_counted: q.conversions,
        lookback_s: q.lookback_s,
        half_life_s: q.half_life_s,
        journeys: acc.journeys,
        converting_journeys: acc.converting,
        conversions,
        models: summary_list,
        rows,
        markov: markov_details,
        shapley: shapley_details,
    })
}

/// The goal touchpoint the query names, or the dictionary's only goal.
fn resolve_goal(dict: &Dictionary, goal: &str) -> Result<Tp, AttributionError> {
    let goals = || dict.goals().into_iter().map(|g| dict.key(g).to_string()).collect::<Vec<_>>();
    if !goal.is_empty() {
        return dict.find(goal).ok_or_else(|| AttributionError::UnknownGoal { goal: goal.to_string(), goals: goals() });
    }
    match dict.goals().as_slice() {
        [] => Err(AttributionError::NoGoalInDictionary),
        [g] => Ok(*g),
        _ => Err(AttributionError::AmbiguousGoal { goals: goals() }),
    }
}

fn validate(q: &AttributionQuery, models: &[Model]) -> Result<(), AttributionError> {
    let bad = |field, message: &str| Err(AttributionError::InvalidQuery { field, message: message.to_string() });
    if models.is_empty() {
        return bad("models", "name at least one model");
    }
    if q.lookback_s < 0 {
        return bad("lookback_s", "the lookback window cannot be negative");
    }
    if q.half_life_s <= 0 {
        return bad("half_life_s", "the time-decay half-life must be at least one second");
    }
    Ok(())
}

/// The players (touchpoints or channels) and the player of each touchpoint.
struct Players {
    /// Player of each touchpoint index; [`GOAL`] for the goal touchpoint.
    of_tp: Vec<u32>,
    /// Key of each player.
    keys: Vec<String>,
}

/// Marks the goal touchpoint in [`Players::of_tp`].
const GOAL: u32 = u32::MAX;

impl Players {
    fn new(dict: &Dictionary, goal: Tp, by: Grouping) -> Players {
        match by {
            Grouping::Touchpoint => {
                let mut keys = Vec::with_capacity(dict.touchpoints.len());
                let of_tp = (0..dict.touchpoints.len())
                    .map(|t| {
                        if t == goal as usize {
                            return GOAL;
                        }
                        keys.push(dict.touchpoints[t].key.clone());
                        keys.len() as u32 - 1
                    })
                    .collect();
                Players { of_tp, keys }
            }
            Grouping::Channel => {
                let of_tp = (0..dict.touchpoints.len())
                    .map(|t| {
                        if t == goal as usize {
                            return GOAL;
                        }
                        let c = dict.touchpoints[t].channel;
                        Channel::ALL.iter().position(|&x| x == c).expect("every channel is in ALL") as u32
                    })
                    .collect();
                Players { of_tp, keys: Channel::ALL.iter().map(|c| c.as_str().to_string()).collect() }
            }
        }
    }
}

/// Fixed-point unit of heuristic credit: one conversion.
const SCALE: u64 = 1 << 32;
/// Largest order-1 transition matrix (entries) counted densely per thread.
const DENSE_MAX: usize = 1 << 18;

/// What the per-journey pass needs.
struct Plan<'a> {
    of_tp: &'a [u32],
    players: usize,
    /// Any touch-based model (heuristics or Shapley) runs.
    windows: bool,
    shapley: bool,
    /// The order-1 chain is counted in a dense matrix.
    dense: bool,
    /// Markov orders to count.
    orders: Vec<usize>,
    first_only: bool,
    lookback_s: i64,
    half_life_s: f64,
}

/// A fast, deterministic hasher for integer keys (the FxHash mix).
#[derive(Default, Clone, Copy)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0.rotate_left(5) ^ x).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_u32(&mut self, x: u32) {
        self.write_u64(u64::from(x));
    }

    fn write_usize(&mut self, x: usize) {
        self.write_u64(x as u64);
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<FxHasher>>;

/// Per-thread accumulators.
struct Acc {
    journeys: u64,
    converting: u64,
    conversions: u64,
    /// Conversions without touches.
    direct: u64,
    /// Fixed-point credits per player: first, last, linear, time decay, position based.
    credit: Vec<[u64; 5]>,
    /// Conversions whose touches include each player.
    touched: Vec<u64>,
    /// Conversions by touch set (Shapley).
    sets: FxMap<Box<[u32]>, u64>,
    paths: u64,
    converting_paths: u64,
    /// Order-1 transition counts, `(players + 3)²`: 0 start, 1 + p player p, then
    /// conversion and null.
    dense: Vec<u64>,
    /// Transition counts by state code, one map per Markov order (unused when dense).
    sparse: Vec<FxMap<(u64, u64), u64>>,
    scratch: Vec<u32>,
    weights: Vec<f64>,
}

impl Acc {
    fn new(plan: &Plan<'_>) -> Acc {
        let n = plan.players;
        Acc {
            journeys: 0,
            converting: 0,
            conversions: 0,
            direct: 0,
            credit: if plan.windows { vec![[0; 5]; n] } else { Vec::new() },
            touched: vec![0; n],
            sets: FxMap::default(),
            paths: 0,
            converting_paths: 0,
            dense: if plan.dense { vec![0; (n + 3) * (n + 3)] } else { Vec::new() },
            sparse: plan.orders.iter().map(|_| FxMap::default()).collect(),
            scratch: Vec::new(),
            weights: Vec::new(),
        }
    }

    fn merge(mut self, mut other: Acc) -> Acc {
        if self.sets.len() < other.sets.len() {
            std::mem::swap(&mut self.sets, &mut other.sets);
        }
        for (k, v) in other.sets {
            *self.sets.entry(k).or_insert(0) += v;
        }
        for (mine, theirs) in self.sparse.iter_mut().zip(other.sparse) {
            let (mut big, small) = if mine.len() >= theirs.len() {
                (std::mem::take(mine), theirs)
            } else {
                (theirs, std::mem::take(mine))
            };
            for (k, v) in small {
                *big.entry(k).or_insert(0) += v;
            }
            *mine = big;
        }
        for (a, b) in self.credit.iter_mut().zip(&other.credit) {
            for (x, y) in a.iter_mut().zip(b) {
                *x += y;
            }
        }
        for (a, b) in self.touched.iter_mut().zip(&other.touched) {
            *a += b;
        }
        for (a, b) in self.dense.iter_mut().zip(&other.dense) {
            *a += b;
        }
        self.journeys += other.journeys;
        self.converting += other.converting;
        self.conversions += other.conversions;
        self.direct += other.direct;
        self.paths += other.paths;
        self.converting_paths += other.converting_paths;
        self
    }

    fn add(mut self, plan: &Plan<'_>, j: Journey<'_>) -> Acc {
        let of = plan.of_tp;
        let tps = j.touchpoints;
        self.journeys += 1;

        if !plan.orders.is_empty() {
            let end = tps.iter().position(|&t| of[t as usize] == GOAL).unwrap_or(tps.len());
            let converted = end < tps.len();
            self.paths += 1;
            self.converting_paths += u64::from(converted);
            let path = &tps[..end];
            for (slot, &order) in plan.orders.iter().enumerate() {
                if order == 1 && plan.dense {
                    let s = plan.players + 3;
                    let mut prev = 0;
                    for &t in path {
                        let cur = of[t as usize] as usize + 1;
                        self.dense[prev * s + cur] += 1;
                        prev = cur;
                    }
                    let exit = if converted { plan.players + 1 } else { plan.players + 2 };
                    self.dense[prev * s + exit] += 1;
                } else {
                    let map = &mut self.sparse[slot];
                    let mut prev = START;
                    for &t in path {
                        let cur = markov::push(prev, of[t as usize], order);
                        *map.entry((prev, cur)).or_insert(0) += 1;
                        prev = cur;
                    }
                    *map.entry((prev, if converted { CONVERSION } else { NULL })).or_insert(0) += 1;
                }
            }
        }

        let mut after_previous = 0;
        let mut converted = false;
        for i in 0..tps.len() {
            if of[tps[i] as usize] != GOAL {
                continue;
            }
            converted = true;
            self.conversions += 1;
            if plan.windows {
                let cutoff = i64::from(j.times[i]) - plan.lookback_s;
                let lo = after_previous + j.times[after_previous..i].partition_point(|&t| i64::from(t) < cutoff);
                self.attribute(plan, &tps[lo..i], &j.times[lo..i]);
            }
            after_previous = i + 1;
            if plan.first_only {
                break;
            }
        }
        self.converting += u64::from(converted);
        self
    }

    /// Credit one conversion to its touches (none of them the goal).
    fn attribute(&mut self, plan: &Plan<'_>, touches: &[Tp], times: &[u32]) {
        let of = plan.of_tp;
        let k = touches.len();
        if k == 0 {
            self.direct += 1;
            if plan.shapley {
                *self.sets.entry(Box::default()).or_insert(0) += 1;
            }
            return;
        }
        let player = |i: usize| of[touches[i] as usize] as usize;
        self.credit[player(0)][0] += SCALE;
        self.credit[player(k - 1)][1] += SCALE;
        // Linear: SCALE split into k integer parts.
        let (base, rem) = (SCALE / k as u64, SCALE % k as u64);
        for i in 0..k {
            self.credit[player(i)][2] += base + u64::from((i as u64) < rem);
        }
        // Time decay, relative to the latest touch (weight 1) so nothing underflows.
        let latest = times[k - 1];
        self.weights.clear();
        self.weights.extend(times.iter().map(|&t| (-f64::from(latest - t) / plan.half_life_s).exp2()));
        let total: f64 = self.weights.iter().sum();
        let mut given = 0u64;
        for i in 0..k - 1 {
            let q = (SCALE as f64 * self.weights[i] / total) as u64;
            self.credit[player(i)][3] += q;
            given += q;
        }
        self.credit[player(k - 1)][3] += SCALE.saturating_sub(given);
        // Position based.
        match k {
            1 => self.credit[player(0)][4] += SCALE,
            2 => {
                self.credit[player(0)][4] += SCALE / 2;
                self.credit[player(1)][4] += SCALE / 2;
            }
            _ => {
                let end = SCALE * 2 / 5;
                self.credit[player(0)][4] += end;
                self.credit[player(k - 1)][4] += end;
                let middle = SCALE - 2 * end;
                let (base, rem) = (middle / (k - 2) as u64, middle % (k - 2) as u64);
                for i in 1..k - 1 {
                    self.credit[player(i)][4] += base + u64::from(((i - 1) as u64) < rem);
                }
            }
        }
        // Touch set.
        self.scratch.clear();
        self.scratch.extend((0..k).map(|i| player(i) as u32));
        self.scratch.sort_unstable();
        self.scratch.dedup();
        for &p in &self.scratch {
            self.touched[p as usize] += 1;
        }
        if plan.shapley {
            match self.sets.get_mut(self.scratch.as_slice()) {
                Some(c) => *c += 1,
                None => {
                    self.sets.insert(self.scratch.as_slice().into(), 1);
                }
            }
        }
    }

    /// The dense order-1 counts as `(from, to, count)` state codes.
    fn dense_triples(&self, n: usize) -> Vec<(u64, u64, u64)> {
        let s = n + 3;
        let code = |i: usize| match i {
            0 => START,
            i if i == n + 1 => CONVERSION,
            i if i == n + 2 => NULL,
            i => markov::push(START, i as u32 - 1, 1),
        };
        let mut out = Vec::new();
        for (k, &c) in self.dense.iter().enumerate() {
            if c > 0 {
                out.push((code(k / s), code(k % s), c));
            }
        }
        out
    }
}
