//! A trigger rule as its author writes it: *when* something happens (or does not follow),
//! *who* it is for, *then* what to send, the hold-out share, the goal its report measures,
//! and the guard rails (caps, quiet hours, re-entry). Parsed at the edge with
//! [`RuleDef::parse`], whose errors name the field (`when.within`, `then.templates.cs`),
//! so every front end shows the same message.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A rule that does not hold together, with the field it is about.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RuleError {
    /// Dotted path of the field (`when.touchpoint`); empty for the definition as a whole.
    pub field: String,
    /// What is wrong, for a person.
    pub message: String,
}

fn err(field: impl Into<String>, message: impl Into<String>) -> RuleError {
    RuleError { field: field.into(), message: message.into() }
}

/// A length of time, written `90s`, `30m`, `1h`, `2d` or `1w`; kept in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Span(pub i64);

impl Span {
    /// Parse `90s`, `30m`, `1h`, `2d`, `1w` (a whole number and a unit).
    pub fn parse(s: &str) -> Option<Span> {
        let s = s.trim();
        let unit = s.chars().last()?;
        let n: i64 = s[..s.len() - unit.len_utf8()].trim().parse().ok()?;
        let ms = match unit {
            's' => 1_000,
            'm' => 60_000,
            'h' => 3_600_000,
            'd' => 86_400_000,
            'w' => 7 * 86_400_000,
            _ => return None,
        };
        (n > 0 && n <= 366 * 86_400_000 / ms).then_some(Span(n * ms))
    }

    /// Milliseconds.
    pub fn ms(self) -> i64 {
        self.0
    }
}

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (unit, ms) in [('w', 7 * 86_400_000), ('d', 86_400_000), ('h', 3_600_000), ('m', 60_000)] {
            if self.0 % ms == 0 {
                return write!(f, "{}{unit}", self.0 / ms);
            }
        }
        write!(f, "{}s", self.0 / 1000)
    }
}

impl Serialize for Span {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Span::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{s:?} is not a length of time (write 90s, 30m, 1h, 2d or 1w; at most 366 days)"
            ))
        })
    }
}

/// How a condition compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Equal (numbers compare as numbers, `"5"` equals `5`).
    Eq,
    /// Not equal (also true when missing).
    Ne,
    /// One of a list.
    In,
    /// Greater than.
    Gt,
    /// At least.
    Gte,
    /// Less than.
    Lt,
    /// At most.
    Lte,
    /// Present and not null.
    Exists,
    /// Text that contains the value (case-insensitive).
    Contains,
}

/// One condition on an event property or a customer trait.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// The property or trait; a dotted path reads inside objects (`order.total`).
    pub field: String,
    /// How to compare.
    pub op: Op,
    /// What to compare with (absent for `exists`; a list for `in`).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub value: Value,
}

/// What starts a firing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum When {
    /// A touchpoint happens (and its properties meet every condition).
    Happens {
        /// The touchpoint's key.
        touchpoint: String,
        /// Conditions on the event's properties.
        #[serde(default, rename = "where", skip_serializing_if = "Vec::is_empty")]
        conditions: Vec<Condition>,
    },
    /// A touchpoint happens and none of `followed_by` follows within `within`.
    NotFollowed {
        /// The touchpoint's key.
        touchpoint: String,
        /// Conditions on the event's properties.
        #[serde(default, rename = "where", skip_serializing_if = "Vec::is_empty")]
        conditions: Vec<Condition>,
        /// Touchpoints any one of which cancels the firing.
        followed_by: Vec<String>,
        /// How long to wait for them.
        within: Span,
    },
    /// A customer's first touchpoint of a journey stage.
    StageEntered {
        /// The stage's key.
        stage: String,
    },
    /// A survey answer whose score is within `[min, max]` (a detractor: 0–6 on NPS).
    SurveyScore {
        /// The survey's key.
        survey: String,
        /// Lowest score that fires.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        /// Highest score that fires.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
    },
    /// A touchpoint's day significantly off its own baseline: its volume or its exit rate
    /// (`touchpoint_analytics::health`), every touchpoint and metric of the project tested
    /// together with a Benjamini–Hochberg correction. Checked every few minutes on the
    /// last complete day in the project's time zone (the day before it for exits); fires
    /// once per touchpoint, metric and day. Only a team alert can follow: it is about a
    /// touchpoint, not a customer.
    HealthAlert {
        /// Only this touchpoint (every touchpoint when absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        touchpoint: Option<String>,
        /// Only this metric (`volume`, `exit_rate`; both when absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        metric: Option<HealthMetric>,
        /// Only this direction (`up`, `down`; both when absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        direction: Option<Direction>,
        /// The false-discovery rate: an alert when the corrected p-value (q) is at most
        /// this, 0.0001 to 0.2 (default 0.01).
        #[serde(default = "default_alpha")]
        alpha: f64,
    },
}

/// What a health alert watches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthMetric {
    /// Events per day.
    Volume,
    /// The share of the day's customers who left there.
    ExitRate,
}

/// Which way a health alert's metric moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// Above its baseline.
    Up,
    /// Below it.
    Down,
}

fn default_alpha() -> f64 {
    0.01
}

impl When {
    /// The touchpoint it starts from, if it names one.
    pub fn touchpoint(&self) -> Option<&str> {
        match self {
            When::Happens { touchpoint, .. } | When::NotFollowed { touchpoint, .. } => Some(touchpoint),
            _ => None,
        }
    }
}

/// Who a rule is for; every field narrows.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Who {
    /// Conditions on the customer's traits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub traits: Vec<Condition>,
    /// Only customers whose first touchpoint came through one of these channels.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub first_channel: Vec<String>,
    /// Only customers in one of these stages when the event happens: the stage of their
    /// latest touchpoint that has one, the triggering event's included.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stage: Vec<String>,
}

/// One language's message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Template {
    /// Subject line (a template).
    pub subject: String,
    /// Plain-text body (a template).
    pub text: String,
    /// HTML body (a template, auto-escaped); the text body as paragraphs when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

/// A Standard Webhooks endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoint {
    /// Where to POST (http or https).
    pub url: String,
    /// The signing secret, `whsec_` and base64 (made for you when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// The secret it replaced, still signed with until `previous_until_ms` (rotation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret: Option<String>,
    /// End of the rotation's overlap, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_until_ms: Option<i64>,
    /// Why it no longer receives (it answered 410 Gone), if it does not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<String>,
}

/// What a firing sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Then {
    /// A signed webhook with the firing (customer, event, survey link).
    Webhook {
        /// The receiver.
        endpoint: Endpoint,
        /// Attach a signed single-use invitation to this survey.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        survey: Option<String>,
        /// The preference category it belongs to (default `service`): the brand's own
        /// systems may send offers as text messages, which a customer may refuse.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        category: Option<String>,
    },
    /// An e-mail to the customer, in their language, with an unsubscribe link.
    Email {
        /// The preference category it belongs to (`service`, `marketing`, `surveys`).
        #[serde(default = "default_category")]
        category: String,
        /// Messages by language (`cs`, `pl`, `en` …); the first is the fallback.
        templates: BTreeMap<String, Template>,
        /// Attach a signed single-use invitation to this survey (`{{ survey_url }}`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        survey: Option<String>,
        /// Which language is the fallback (default: `en` if written, else the first).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fallback: Option<String>,
    },
    /// An alert to the service team (an e-mail address, or a webhook), about a customer.
    TeamAlert {
        /// The team's address.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        email: Option<String>,
        /// Or the team's webhook (a chat or ticketing tool).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        endpoint: Option<Endpoint>,
        /// Messages by language, for the e-mail (a plain default when absent).
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        templates: BTreeMap<String, Template>,
    },
    /// A survey shown in the customer's browser by the capture snippet (`/touchpoint.js`),
    /// the next time one of their pages asks (it asks after every event it sends and when
    /// a page opens), within [`IN_PAGE_DAYS`] of the triggering event.
    InPage {
        /// The survey to show (its open link, in the visitor's journey and language).
        survey: String,
        /// The preference category it belongs to (default `surveys`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        category: Option<String>,
    },
}

/// How long an in-page action waits for the customer's page to take it, days.
pub const IN_PAGE_DAYS: i64 = 7;

/// What a preference category must be: a rule's `then.category`, a customer's choice.
pub const CATEGORY_RULE: &str = "1 to 40 characters, not only spaces (service, marketing, surveys; all: every one)";

/// Whether `category` is one ([`CATEGORY_RULE`]).
pub fn category_ok(category: &str) -> bool {
    !category.trim().is_empty() && category.len() <= 40
}

/// The channels a customer can say yes or no to, each as [`Then::channel`] names it (a
/// webhook is how a brand's own systems reach the customer: text messages, app
/// notifications); `all` in a preference means every one.
pub const CUSTOMER_CHANNELS: [&str; 3] = ["email", "webhook", "in_page"];

/// Whether a customer's choice about (`pref_category`, `pref_channel`) speaks for a
/// message of `category` on `channel`: its category's or `all`, on its channel or `all`.
/// A "no" that covers a message stops it.
pub fn covers(pref_category: &str, pref_channel: &str, category: &str, channel: &str) -> bool {
    (pref_category == category || pref_category == "all") && (pref_channel == channel || pref_channel == "all")
}

/// What a preference's channel must be.
pub const CHANNEL_RULE: &str = "all, email, webhook or in_page";

/// Whether `channel` is one ([`CHANNEL_RULE`]).
pub fn channel_ok(channel: &str) -> bool {
    channel == "all" || CUSTOMER_CHANNELS.contains(&channel)
}

fn default_category() -> String {
    "service".into()
}

impl Then {
    /// The channel caps count against: `email` or `webhook`.
    pub fn channel(&self) -> &'static str {
        match self {
            Then::Webhook { .. } => "webhook",
            Then::Email { .. } => "email",
            Then::TeamAlert { endpoint: Some(_), .. } => "team_webhook",
            Then::TeamAlert { .. } => "team_email",
            Then::InPage { .. } => "in_page",
        }
    }

    /// Whether it goes to the customer (consent, caps and quiet hours apply) or to the team.
    pub fn to_customer(&self) -> bool {
        !matches!(self, Then::TeamAlert { .. })
    }

    /// The consent category it needs from the customer.
    pub fn category(&self) -> Option<&str> {
        match self {
            Then::Email { category, .. } => Some(category),
            Then::Webhook { category, .. } => Some(category.as_deref().unwrap_or("service")),
            Then::InPage { category, .. } => Some(category.as_deref().unwrap_or("surveys")),
            Then::TeamAlert { .. } => None,
        }
    }

    /// The survey whose signed invitation it carries (an in-page survey carries none: the
    /// page opens the survey's open link).
    pub fn survey(&self) -> Option<&str> {
        match self {
            Then::Webhook { survey, .. } | Then::Email { survey, .. } => survey.as_deref(),
            Then::InPage { .. } | Then::TeamAlert { .. } => None,
        }
    }

    /// Its webhook endpoint, if it has one.
    pub fn endpoint_mut(&mut self) -> Option<&mut Endpoint> {
        match self {
            Then::Webhook { endpoint, .. } | Then::TeamAlert { endpoint: Some(endpoint), .. } => Some(endpoint),
            _ => None,
        }
    }

    /// Its webhook endpoint, if it has one.
    pub fn endpoint(&self) -> Option<&Endpoint> {
        match self {
            Then::Webhook { endpoint, .. } | Then::TeamAlert { endpoint: Some(endpoint), .. } => Some(endpoint),
            _ => None,
        }
    }
}

/// What the report measures: the customers who reach `touchpoint` within `within` of the
/// firing (or of the moment it would have fired, for the hold-out).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Goal {
    /// The goal touchpoint's key.
    pub touchpoint: String,
    /// The horizon.
    pub within: Span,
}

/// At most `max` firings per customer in any window of `per`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cap {
    /// Firings allowed.
    pub max: u32,
    /// In this window.
    pub per: Span,
}

/// A local-time window in which nothing is sent: held until it ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuietHours {
    /// Start, `HH:MM` local time.
    #[serde(with = "hhmm")]
    pub from: u32,
    /// End, `HH:MM` local time (may be the next morning).
    #[serde(with = "hhmm")]
    pub to: u32,
}

/// Minutes of the day as `HH:MM`.
mod hhmm {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(m: &u32, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{:02}:{:02}", m / 60, m % 60))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
        let s = String::deserialize(d)?;
        let parsed = s.split_once(':').and_then(|(h, m)| {
            let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
            (h < 24 && m < 60 && m.to_string().len() <= 2).then_some(h * 60 + m)
        });
        parsed.ok_or_else(|| {
            serde::de::Error::custom(format!("{s:?} is not a time of day (write HH:MM, 00:00 to 23:59)"))
        })
    }
}

/// How often one customer may go through the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Reentry {
    /// Once ever.
    Once,
    /// At most once in each window of the given length.
    OncePer(Span),
    /// Every time the rule's event happens (caps still apply).
    #[default]
    EveryTime,
}

/// The guard rails.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Guard {
    /// This rule's cap per customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<Cap>,
    /// Quiet hours in the customer's time zone (the project's when theirs is unknown).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quiet_hours: Option<QuietHours>,
    /// Re-entry policy.
    #[serde(default)]
    pub reentry: Reentry,
}

/// A trigger rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleDef {
    /// A name for people.
    pub name: String,
    /// What starts it.
    pub when: When,
    /// Who it is for.
    #[serde(default)]
    pub who: Who,
    /// What it sends.
    pub then: Then,
    /// The share of customers held out (not sent, recorded as "would have fired"):
    /// 0 to 0.5, default 0.1.
    #[serde(default = "default_holdout")]
    pub holdout: f64,
    /// What its report measures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub goal: Option<Goal>,
    /// Caps, quiet hours, re-entry.
    #[serde(default)]
    pub guard: Guard,
}

fn default_holdout() -> f64 {
    0.1
}

/// What a rule's checks need to know of the project.
pub trait Names {
    /// Whether a touchpoint key exists.
    fn touchpoint(&self, key: &str) -> bool;
    /// Whether a stage key exists.
    fn stage(&self, key: &str) -> bool;
    /// Whether a survey key exists.
    fn survey(&self, key: &str) -> bool;
    /// Every key of a kind, for the "did you mean" of an unknown one (none by default).
    fn keys(&self, _kind: NameKind) -> Vec<String> {
        Vec::new()
    }
}

/// The kinds of names a rule uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameKind {
    /// Touchpoint keys.
    Touchpoint,
    /// Stage keys.
    Stage,
    /// Survey keys.
    Survey,
}

/// "no touchpoint "x" in this project; did you mean …?"
fn unknown(names: &dyn Names, kind: NameKind, key: &str) -> String {
    let what = match kind {
        NameKind::Touchpoint => "touchpoint",
        NameKind::Stage => "stage",
        NameKind::Survey => "survey",
    };
    let known = names.keys(kind);
    let hint = touchpoint_core::suggest::hint(key, known.iter().map(String::as_str));
    format!("no {what} {key:?} in this project{hint}")
}

impl RuleDef {
    /// Parse and check a definition; errors name the field.
    pub fn parse(v: &Value, names: &dyn Names) -> Result<RuleDef, RuleError> {
        // An error about the definition as a whole has an empty field.
        if !v.is_object() {
            return Err(err("", "must be an object: name, when, who, then, holdout, goal, guard"));
        }
        let def: RuleDef = serde_json::from_value(v.clone()).map_err(|e| {
            let text = e.to_string();
            // serde names an unknown or missing field in its words; otherwise find the
            // section that does not read by reading each alone.
            let field = field_of(&text).or_else(|| failing_section(v)).unwrap_or_default();
            err(field, text)
        })?;
        def.check(names)?;
        Ok(def)
    }

    /// The checks serde cannot make.
    pub fn check(&self, names: &dyn Names) -> Result<(), RuleError> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 200 {
            return Err(err("name", "1 to 200 characters"));
        }
        if !(0.0..=0.5).contains(&self.holdout) {
            return Err(err("holdout", "a share between 0 and 0.5 (0.1 holds out 10 %)"));
        }
        let tp = |field: &str, key: &str| {
            if names.touchpoint(key) {
                Ok(())
            } else {
                Err(err(field, unknown(names, NameKind::Touchpoint, key)))
            }
        };
        match &self.when {
            When::Happens { touchpoint, conditions } => {
                tp("when.touchpoint", touchpoint)?;
                check_conditions("when.where", conditions)?;
            }
            When::NotFollowed { touchpoint, conditions, followed_by, .. } => {
                tp("when.touchpoint", touchpoint)?;
                check_conditions("when.where", conditions)?;
                if followed_by.is_empty() {
                    return Err(err("when.followed_by", "name at least one touchpoint"));
                }
                for (i, k) in followed_by.iter().enumerate() {
                    tp(&format!("when.followed_by[{i}]"), k)?;
                }
            }
            When::StageEntered { stage } => {
                if !names.stage(stage) {
                    return Err(err("when.stage", unknown(names, NameKind::Stage, stage)));
                }
            }
            When::SurveyScore { survey, min, max } => {
                if !names.survey(survey) {
                    return Err(err("when.survey", unknown(names, NameKind::Survey, survey)));
                }
                if min.is_none() && max.is_none() {
                    return Err(err("when.min", "give min, max or both (0 to 6 for NPS detractors)"));
                }
                if let (Some(a), Some(b)) = (min, max) {
                    if a > b {
                        return Err(err("when.max", "at least min"));
                    }
                }
            }
            When::HealthAlert { touchpoint, alpha, .. } => {
                if let Some(t) = touchpoint {
                    tp("when.touchpoint", t)?;
                }
                if !(0.0001..=0.2).contains(alpha) {
                    return Err(err("when.alpha", "a false-discovery rate from 0.0001 to 0.2 (0.01 by default)"));
                }
                if !matches!(self.then, Then::TeamAlert { .. }) {
                    return Err(err(
                        "then.kind",
                        "a health alert is about a touchpoint, not a customer: send a team_alert",
                    ));
                }
            }
        }
        check_conditions("who.traits", &self.who.traits)?;
        for (i, stage) in self.who.stage.iter().enumerate() {
            if !names.stage(stage) {
                return Err(err(format!("who.stage[{i}]"), unknown(names, NameKind::Stage, stage)));
            }
        }
        if let Some(goal) = &self.goal {
            tp("goal.touchpoint", &goal.touchpoint)?;
        }
        if let Some(cap) = &self.guard.cap {
            if cap.max == 0 {
                return Err(err("guard.cap.max", "at least 1"));
            }
        }
        if let Some(q) = &self.guard.quiet_hours {
            if q.from == q.to {
                return Err(err("guard.quiet_hours.to", "the same as from: quiet all day would hold every message"));
            }
        }
        match &self.then {
            Then::Webhook { endpoint, survey, category } => {
                check_endpoint("then.endpoint", endpoint)?;
                if category.as_deref().is_some_and(|c| !category_ok(c)) {
                    return Err(err("then.category", CATEGORY_RULE));
                }
                if let Some(s) = survey {
                    if !names.survey(s) {
                        return Err(err("then.survey", unknown(names, NameKind::Survey, s)));
                    }
                }
            }
            Then::Email { templates, survey, fallback, category } => {
                if templates.is_empty() {
                    return Err(err("then.templates", "write the message in at least one language"));
                }
                if !category_ok(category) {
                    return Err(err("then.category", CATEGORY_RULE));
                }
                check_templates(templates)?;
                if let Some(f) = fallback {
                    if !templates.contains_key(f) {
                        return Err(err("then.fallback", format!("no template in {f:?}")));
                    }
                }
                if let Some(s) = survey {
                    if !names.survey(s) {
                        return Err(err("then.survey", unknown(names, NameKind::Survey, s)));
                    }
                }
            }
            Then::TeamAlert { email, endpoint, templates } => {
                match (email, endpoint) {
                    (Some(e), None) => {
                        if !looks_like_email(e) {
                            return Err(err("then.email", format!("{e:?} is not an e-mail address")));
                        }
                    }
                    (None, Some(ep)) => check_endpoint("then.endpoint", ep)?,
                    _ => return Err(err("then.email", "give the team's e-mail or an endpoint, one of the two")),
                }
                check_templates(templates)?;
            }
            Then::InPage { survey, category } => {
                if category.as_deref().is_some_and(|c| !category_ok(c)) {
                    return Err(err("then.category", CATEGORY_RULE));
                }
                if !names.survey(survey) {
                    return Err(err("then.survey", unknown(names, NameKind::Survey, survey)));
                }
                if self.guard.quiet_hours.is_some() {
                    return Err(err(
                        "guard.quiet_hours",
                        "an in-page survey shows only while the customer has your page open: quiet hours do not apply",
                    ));
                }
            }
        }
        Ok(())
    }

    /// The language of the template to use for a customer who speaks `lang` (`cs-CZ`
    /// counts as `cs`): theirs if written, else the fallback (`en` when written), else the
    /// first.
    pub fn pick_language<'a>(
        templates: &'a BTreeMap<String, Template>,
        fallback: Option<&str>,
        lang: Option<&str>,
    ) -> Option<&'a str> {
        let primary = lang.map(|l| l.split(['-', '_']).next().unwrap_or(l).to_ascii_lowercase());
        if let Some(p) = primary {
            if let Some((k, _)) = templates.get_key_value(p.as_str()) {
                return Some(k);
            }
        }
        let fb = fallback.or(templates.contains_key("en").then_some("en"));
        fb.and_then(|f| templates.get_key_value(f).map(|(k, _)| k.as_str()))
            .or_else(|| templates.keys().next().map(String::as_str))
    }
}

/// The top-level section of a definition that does not read by itself, if one does not.
fn failing_section(v: &Value) -> Option<String> {
    fn fails<T: serde::de::DeserializeOwned>(v: Option<&Value>) -> bool {
        v.is_some_and(|v| serde_json::from_value::<T>(v.clone()).is_err())
    }
    let o = v.as_object()?;
    let checks: [(&str, bool); 7] = [
        ("name", fails::<String>(o.get("name"))),
        ("when", fails::<When>(o.get("when"))),
        ("who", fails::<Who>(o.get("who"))),
        ("then", fails::<Then>(o.get("then"))),
        ("holdout", fails::<f64>(o.get("holdout"))),
        ("goal", fails::<Option<Goal>>(o.get("goal"))),
        ("guard", fails::<Guard>(o.get("guard"))),
    ];
    checks.iter().find(|(_, f)| *f).map(|(k, _)| (*k).to_string())
}

fn field_of(serde_text: &str) -> Option<String> {
    for pre in ["unknown field `", "missing field `"] {
        if let Some(i) = serde_text.find(pre) {
            let rest = &serde_text[i + pre.len()..];
            return rest.split('`').next().map(str::to_owned);
        }
    }
    None
}

fn looks_like_email(s: &str) -> bool {
    let s = s.trim();
    s.len() <= 254
        && s.split_once('@').is_some_and(|(a, b)| !a.is_empty() && b.contains('.') && !b.ends_with('.'))
        && !s.chars().any(|c| c.is_whitespace() || c == '<' || c == '>' || c == ',')
}

fn check_conditions(field: &str, cs: &[Condition]) -> Result<(), RuleError> {
    for (i, c) in cs.iter().enumerate() {
        let f = format!("{field}[{i}]");
        if c.field.trim().is_empty() || c.field.len() > 200 {
            return Err(err(format!("{f}.field"), "1 to 200 characters"));
        }
        match c.op {
            Op::Exists => {}
            Op::In if !c.value.is_array() => return Err(err(format!("{f}.value"), "a list for \"in\"")),
            Op::Gt | Op::Gte | Op::Lt | Op::Lte if !c.value.is_number() => {
                return Err(err(format!("{f}.value"), "a number to compare with"))
            }
            _ if c.value.is_null() => return Err(err(format!("{f}.value"), "a value to compare with")),
            _ => {}
        }
    }
    Ok(())
}

fn check_endpoint(field: &str, e: &Endpoint) -> Result<(), RuleError> {
    let url = e.url.trim();
    let ok = (url.starts_with("http://") || url.starts_with("https://"))
        && url.len() <= 2000
        && url.len() > 8
        && !url.chars().any(char::is_whitespace);
    if !ok {
        return Err(err(format!("{field}.url"), format!("{url:?} is not an http(s) address")));
    }
    for (name, s) in [("secret", &e.secret), ("previous_secret", &e.previous_secret)] {
        if let Some(s) = s {
            if crate::webhook::sign::secret_bytes(s).is_none() {
                return Err(err(format!("{field}.{name}"), "a whsec_ secret: whsec_ and 24 to 64 bytes in base64"));
            }
        }
    }
    Ok(())
}

fn check_templates(templates: &BTreeMap<String, Template>) -> Result<(), RuleError> {
    for (lang, t) in templates {
        let f = format!("then.templates.{lang}");
        if lang.is_empty() || lang.len() > 12 || !lang.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err(err(f, "a language code (cs, pl, en …)"));
        }
        for (name, text) in [("subject", Some(&t.subject)), ("text", Some(&t.text)), ("html", t.html.as_ref())] {
            let Some(text) = text else { continue };
            if name != "html" && text.trim().is_empty() {
                return Err(err(format!("{f}.{name}"), "empty"));
            }
            if let Err(e) = crate::email::template::check(text) {
                return Err(err(format!("{f}.{name}"), e));
            }
        }
        if t.subject.contains(['\r', '\n']) {
            return Err(err(format!("{f}.subject"), "one line"));
        }
    }
    Ok(())
}

/// Read a dotted path (`order.total`) inside a JSON object.
pub fn lookup<'a>(obj: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    if let Some(v) = obj.get(path) {
        return Some(v);
    }
    let mut parts = path.split('.');
    let mut cur = obj.get(parts.next()?)?;
    for p in parts {
        cur = cur.as_object()?.get(p)?;
    }
    Some(cur)
}

fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(_) | Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

fn equal(a: &Value, b: &Value) -> bool {
    match (as_number(a), as_number(b)) {
        (Some(x), Some(y)) if a.is_number() || b.is_number() => x == y,
        _ => match (a, b) {
            (Value::String(x), Value::String(y)) => x == y,
            _ => a == b,
        },
    }
}

impl Condition {
    /// Whether an object (an event's properties, a customer's traits) meets it.
    pub fn holds(&self, obj: &Map<String, Value>) -> bool {
        let v = lookup(obj, &self.field).filter(|v| !v.is_null());
        match self.op {
            Op::Exists => v.is_some(),
            Op::Ne => v.is_none_or(|v| !equal(v, &self.value)),
            _ => {
                let Some(v) = v else { return false };
                match self.op {
                    Op::Eq => equal(v, &self.value),
                    Op::In => self.value.as_array().is_some_and(|l| l.iter().any(|x| equal(v, x))),
                    Op::Contains => match (v.as_str(), self.value.as_str()) {
                        (Some(a), Some(b)) => a.to_lowercase().contains(&b.to_lowercase()),
                        _ => false,
                    },
                    Op::Gt | Op::Gte | Op::Lt | Op::Lte => match (as_number(v), as_number(&self.value)) {
                        (Some(a), Some(b)) => match self.op {
                            Op::Gt => a > b,
                            Op::Gte => a >= b,
                            Op::Lt => a < b,
                            _ => a <= b,
                        },
                        _ => false,
                    },
                    Op::Exists | Op::Ne => unreachable!("handled above"),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    struct Demo;
    impl Names for Demo {
        fn touchpoint(&self, key: &str) -> bool {
            ["delivery-late", "support-contact", "order-completed", "cart-add", "checkout"].contains(&key)
        }
        fn stage(&self, key: &str) -> bool {
            key == "purchase"
        }
        fn survey(&self, key: &str) -> bool {
            key == "csat-delivery"
        }
        fn keys(&self, kind: NameKind) -> Vec<String> {
            let all: &[&str] = match kind {
                NameKind::Touchpoint => {
                    &["delivery-late", "support-contact", "order-completed", "cart-add", "checkout"]
                }
                NameKind::Stage => &["purchase"],
                NameKind::Survey => &["csat-delivery"],
            };
            all.iter().map(|k| k.to_string()).collect()
        }
    }

    /// A mistyped name is answered with the nearest ones.
    #[test]
    fn unknown_names_suggest_the_nearest() {
        let mut v = late_delivery();
        merge(&mut v, &json!({"when": {"touchpoint": "delivery-lat"}}));
        let e = RuleDef::parse(&v, &Demo).unwrap_err();
        assert_eq!(e.field, "when.touchpoint");
        assert!(e.to_string().contains("did you mean delivery-late?"), "{e}");
        let mut v = late_delivery();
        merge(&mut v, &json!({"then": {"survey": "csat-delivry"}}));
        let e = RuleDef::parse(&v, &Demo).unwrap_err();
        assert!(e.to_string().contains("did you mean csat-delivery?"), "{e}");
        // Nothing near: no hint.
        let mut v = late_delivery();
        merge(&mut v, &json!({"when": {"touchpoint": "zzzzzzzzzz"}}));
        let e = RuleDef::parse(&v, &Demo).unwrap_err();
        assert!(!e.to_string().contains("did you mean"), "{e}");
    }

    fn late_delivery() -> Value {
        json!({
            "name": "Late delivery apology",
            "when": {"kind": "not_followed", "touchpoint": "delivery-late", "followed_by": ["support-contact"], "within": "2d"},
            "who": {"traits": [{"field": "country", "op": "in", "value": ["CZ", "PL"]}]},
            "then": {"kind": "email", "templates": {
                "cs": {"subject": "Omlouváme se", "text": "Dobrý den {{ name }}, {{ survey_url }}"},
                "pl": {"subject": "Przepraszamy", "text": "Dzień dobry {{ name }}, {{ survey_url }}"}
            }, "survey": "csat-delivery"},
            "goal": {"touchpoint": "order-completed", "within": "14d"},
            "guard": {"cap": {"max": 1, "per": "1d"}, "quiet_hours": {"from": "21:00", "to": "08:00"}, "reentry": {"once_per": "30d"}}
        })
    }

    #[test]
    fn the_issue_rule_parses_and_round_trips() {
        let def = RuleDef::parse(&late_delivery(), &Demo).unwrap();
        assert_eq!(def.holdout, 0.1);
        assert_eq!(def.guard.reentry, Reentry::OncePer(Span(30 * 86_400_000)));
        assert_eq!(def.guard.quiet_hours, Some(QuietHours { from: 21 * 60, to: 8 * 60 }));
        let again = RuleDef::parse(&serde_json::to_value(&def).unwrap(), &Demo).unwrap();
        assert_eq!(again, def);
    }

    /// Which choices speak for a marketing e-mail: the category's or all's, on e-mail or all.
    #[test]
    fn a_choice_covers_its_category_and_channel_and_all() {
        for (cat, ch, want) in [
            ("marketing", "email", true),
            ("marketing", "all", true),
            ("all", "email", true),
            ("all", "all", true),
            ("marketing", "webhook", false),
            ("service", "email", false),
            ("all", "in_page", false),
        ] {
            assert_eq!(covers(cat, ch, "marketing", "email"), want, "{cat}/{ch}");
        }
    }

    /// One bad definition per row: the change, and the field the error must name.
    #[test]
    fn errors_name_the_field() {
        fn check(patch: Value, field: &str) {
            let mut v = late_delivery();
            merge(&mut v, &patch);
            let e = RuleDef::parse(&v, &Demo).unwrap_err();
            assert_eq!(e.field, field, "{patch} gave {e}");
        }
        check(json!({"name": " "}), "name");
        check(json!({"holdout": 0.9}), "holdout");
        check(json!({"when": {"touchpoint": "nope"}}), "when.touchpoint");
        check(json!({"when": {"followed_by": ["x"]}}), "when.followed_by[0]");
        check(json!({"when": {"followed_by": []}}), "when.followed_by");
        check(json!({"goal": {"touchpoint": "nope"}}), "goal.touchpoint");
        check(json!({"who": {"traits": [{"field": "age", "op": "gt", "value": "x"}]}}), "who.traits[0].value");
        check(json!({"who": {"stage": ["purchase", "purchse"]}}), "who.stage[1]");
        check(json!({"then": {"templates": {"cs": {"subject": "a\nb"}}}}), "then.templates.cs.subject");
        check(json!({"then": {"templates": {"cs": {"text": "{{ oops"}}}}), "then.templates.cs.text");
        check(json!({"then": {"survey": "nope"}}), "then.survey");
        check(json!({"guard": {"cap": {"max": 0}}}), "guard.cap.max");
        check(json!({"guard": {"quiet_hours": {"to": "21:00"}}}), "guard.quiet_hours.to");
        check(json!({"surprise": 1}), "surprise");
        assert_eq!(RuleDef::parse(&json!([1, 2]), &Demo).unwrap_err().field, "", "not an object");
        check(
            json!({"then": {"kind": "webhook", "endpoint": {"url": "ftp://x"}, "templates": null, "survey": null, "category": null}}),
            "then.endpoint.url",
        );
        let in_page = json!({"kind": "in_page", "survey": "csat-delivery", "templates": null, "category": null});
        check(json!({"then": in_page}), "guard.quiet_hours");
        check(
            json!({"then": {"kind": "in_page", "survey": "nope", "templates": null, "category": null}}),
            "then.survey",
        );
        check(json!({"then": {"kind": "in_page", "survey": null, "templates": null, "category": null}}), "survey");
        check(json!({"then": {"kind": "in_page", "url": "x", "templates": null, "category": null}}), "url");
        let hook = json!({"kind": "webhook", "endpoint": {"url": "https://x.example"}, "templates": null, "survey": null, "category": " "});
        check(json!({"then": hook}), "then.category");
        check(
            json!({"then": {"kind": "in_page", "survey": "csat-delivery", "templates": null, "category": ""}}),
            "then.category",
        );
        let mut sms = late_delivery();
        let offers = json!({"kind": "webhook", "endpoint": {"url": "https://sms.example/send"}, "templates": null, "survey": null, "category": "marketing"});
        merge(&mut sms, &json!({"then": offers}));
        let def = RuleDef::parse(&sms, &Demo).unwrap();
        assert_eq!(
            (def.then.channel(), def.then.category()),
            ("webhook", Some("marketing")),
            "a webhook's own category"
        );

        let mut v = late_delivery();
        merge(&mut v, &json!({"then": in_page, "guard": {"quiet_hours": null}}));
        let def = RuleDef::parse(&v, &Demo).unwrap();
        assert_eq!(
            (def.then.channel(), def.then.category(), def.then.survey()),
            ("in_page", Some("surveys"), None),
            "no invitation: the page opens the open link"
        );
        assert_eq!(def.then, Then::InPage { survey: "csat-delivery".into(), category: None });
    }

    /// A health alert: about a touchpoint, so only the team hears of it; its fields checked.
    #[test]
    fn health_alerts_go_to_the_team() {
        let rule = |when: Value, then: Value| json!({"name": "Checkout health", "when": when, "then": then});
        let team = json!({"kind": "team_alert", "email": "tym@zahrada.example"});
        let def = RuleDef::parse(&rule(json!({"kind": "health_alert"}), team.clone()), &Demo).unwrap();
        let When::HealthAlert { touchpoint, metric, direction, alpha } = &def.when else { panic!("{def:?}") };
        assert_eq!((touchpoint.as_deref(), *metric, *direction, *alpha), (None, None, None, 0.01));
        let full = json!({"kind": "health_alert", "touchpoint": "checkout", "metric": "exit_rate", "direction": "up", "alpha": 0.05});
        assert!(RuleDef::parse(&rule(full, team.clone()), &Demo).is_ok());
        let field = |when: Value, then: Value| RuleDef::parse(&rule(when, then), &Demo).unwrap_err().field;
        assert_eq!(field(json!({"kind": "health_alert", "touchpoint": "nope"}), team.clone()), "when.touchpoint");
        assert_eq!(field(json!({"kind": "health_alert", "alpha": 0.5}), team.clone()), "when.alpha");
        assert_eq!(field(json!({"kind": "health_alert", "metric": "speed"}), team), "when");
        let email = json!({"kind": "email", "templates": {"cs": {"subject": "a", "text": "b"}}});
        assert_eq!(field(json!({"kind": "health_alert"}), email), "then.kind");
    }

    #[test]
    fn bad_spans_and_times_say_how_to_write_them() {
        let mut v = late_delivery();
        v["when"]["within"] = json!("2 days");
        let e = RuleDef::parse(&v, &Demo).unwrap_err();
        assert!(e.message.contains("write 90s"), "{e}");
        assert_eq!(e.field, "when");
        let mut v = late_delivery();
        v["guard"]["quiet_hours"]["from"] = json!("25:00");
        let e = RuleDef::parse(&v, &Demo).unwrap_err();
        assert!(e.message.contains("HH:MM"));
        assert_eq!(e.field, "guard");
    }

    fn merge(a: &mut Value, b: &Value) {
        match (a, b) {
            (Value::Object(a), Value::Object(b)) => {
                for (k, v) in b {
                    if v.is_null() {
                        a.remove(k);
                    } else {
                        merge(a.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
            (a, b) => *a = b.clone(),
        }
    }

    #[test]
    fn conditions() {
        let props = json!({"carrier": "PPL", "days_late": 3, "order": {"total": "1200.5"}, "gone": null});
        let props = props.as_object().unwrap();
        let c = |field: &str, op: Op, value: Value| Condition { field: field.into(), op, value }.holds(props);
        assert!(c("carrier", Op::Eq, json!("PPL")));
        assert!(!c("carrier", Op::Eq, json!("ppl")));
        assert!(c("carrier", Op::Contains, json!("pp")));
        assert!(c("days_late", Op::Gte, json!(3)));
        assert!(!c("days_late", Op::Gt, json!(3)));
        assert!(c("order.total", Op::Gt, json!(1000)));
        assert!(c("days_late", Op::Eq, json!("3")));
        assert!(c("days_late", Op::In, json!([1, 3])));
        assert!(!c("gone", Op::Exists, Value::Null));
        assert!(c("missing", Op::Ne, json!("x")));
        assert!(!c("missing", Op::Lt, json!(5)));
    }

    #[test]
    fn languages_fall_back() {
        let t = |s: &str| Template { subject: s.into(), text: s.into(), html: None };
        let m: BTreeMap<String, Template> = [("cs".to_string(), t("a")), ("pl".to_string(), t("b"))].into();
        assert_eq!(RuleDef::pick_language(&m, None, Some("pl-PL")), Some("pl"));
        assert_eq!(RuleDef::pick_language(&m, None, Some("de")), Some("cs"));
        assert_eq!(RuleDef::pick_language(&m, Some("pl"), None), Some("pl"));
        let mut m2 = m.clone();
        m2.insert("en".into(), t("c"));
        assert_eq!(RuleDef::pick_language(&m2, None, Some("de")), Some("en"));
    }

    #[test]
    fn spans() {
        for (s, ms) in
            [("90s", 90_000), ("30m", 1_800_000), ("1h", 3_600_000), ("2d", 172_800_000), ("1w", 604_800_000)]
        {
            assert_eq!(Span::parse(s), Some(Span(ms)));
        }
        for s in ["", "d", "0d", "-1h", "1y", "367d", "1.5h"] {
            assert_eq!(Span::parse(s), None, "{s}");
        }
        assert_eq!(Span(172_800_000).to_string(), "2d");
        assert_eq!(Span(90_000).to_string(), "90s");
    }
}
