//! The touchpoint catalog: what kinds of contact a brand has with its customers, and the
//! mapping rules that turn raw events into them.
//!
//! Classification order for one event: the project's rules by ascending priority (the
//! built-in default rules are ordinary rules with priorities from 10 000 up, so a user's
//! rule always wins and a default can be edited or deleted), then auto-discovery — an event
//! kind no rule claims becomes its own unclassified touchpoint (`track:Order Completed`,
//! `page:/products`, `screen:Basket`). identify, group and alias are not contacts and get
//! no touchpoint.

use crate::event::{Event, EventType};
use crate::i18n::Localized;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;

/// The medium through which a contact happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    /// The brand's website.
    Web,
    /// The brand's mobile app.
    App,
    /// E-mail and newsletters.
    Email,
    /// Paid advertising.
    Ads,
    /// Search engines.
    Search,
    /// Social networks.
    Social,
    /// Review sites (Heureka, Ceneo, Trustpilot).
    Review,
    /// Discussion forums.
    Forum,
    /// Blogs and articles.
    Blog,
    /// Telephone.
    Phone,
    /// A physical store or branch.
    Store,
    /// Live chat.
    Chat,
    /// Self-service portal, help centre, FAQ.
    SelfService,
    /// Surveys.
    Survey,
    /// Anything else, and touchpoints not classified yet.
    Other,
}

impl Channel {
    /// Every channel.
    pub const ALL: [Channel; 15] = [
        Channel::Web,
        Channel::App,
        Channel::Email,
        Channel::Ads,
        Channel::Search,
        Channel::Social,
        Channel::Review,
        Channel::Forum,
        Channel::Blog,
        Channel::Phone,
        Channel::Store,
        Channel::Chat,
        Channel::SelfService,
        Channel::Survey,
        Channel::Other,
    ];

    /// The stored name (`self-service`).
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Web => "web",
            Channel::App => "app",
            Channel::Email => "email",
            Channel::Ads => "ads",
            Channel::Search => "search",
            Channel::Social => "social",
            Channel::Review => "review",
            Channel::Forum => "forum",
            Channel::Blog => "blog",
            Channel::Phone => "phone",
            Channel::Store => "store",
            Channel::Chat => "chat",
            Channel::SelfService => "self-service",
            Channel::Survey => "survey",
            Channel::Other => "other",
        }
    }

    /// Parse a stored or user-typed name.
    pub fn parse(s: &str) -> Option<Channel> {
        let s = s.trim().to_ascii_lowercase().replace('_', "-");
        Channel::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The channel an event's own `channel` field names: ours, or the words SDKs and
    /// CRM exports use for them (`mobile`, `e-mail`, `call`, `pobočka` …); `server` and
    /// anything unknown name none.
    pub fn of_event(s: &str) -> Option<Channel> {
        Channel::parse(s).or_else(|| match s.trim().to_lowercase().as_str() {
            "mobile" | "ios" | "android" | "aplikace" | "aplikacja" => Some(Channel::App),
            "e-mail" | "mail" | "newsletter" => Some(Channel::Email),
            "call" | "telephone" | "call-centre" | "call center" | "telefon" | "hovor" => Some(Channel::Phone),
            "shop" | "branch" | "pobočka" | "prodejna" | "sklep" | "oddział" => Some(Channel::Store),
            "website" | "web site" | "internet" => Some(Channel::Web),
            _ => None,
        })
    }
}

/// Whether the brand runs the contact itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TouchpointKind {
    /// Owned by the brand: its site, app, e-mails, call centre, store.
    Direct,
    /// Not run by the brand: reviews, forums, social posts, search results, word of mouth.
    Indirect,
}

impl TouchpointKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TouchpointKind::Direct => "direct",
            TouchpointKind::Indirect => "indirect",
        }
    }

    /// Parse a stored name.
    pub fn parse(s: &str) -> Option<TouchpointKind> {
        match s.trim().to_ascii_lowercase().as_str() {
            "direct" => Some(TouchpointKind::Direct),
            "indirect" => Some(TouchpointKind::Indirect),
            _ => None,
        }
    }
}

/// A stage of the journey: a key plus its names. A project has an ordered list of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage {
    /// Stable key (`awareness`).
    pub key: String,
    /// The phase it belongs to: `before`, `purchase` or `after`.
    pub phase: String,
    /// Display names.
    pub names: Localized,
}

impl Stage {
    /// The default stage set: before purchase (awareness, consideration), purchase, after
    /// purchase (retention, service, advocacy).
    pub fn defaults() -> Vec<Stage> {
        let s = |key: &str, phase: &str, en: &str, cs: &str, pl: &str| Stage {
            key: key.into(),
            phase: phase.into(),
            names: Localized::new(en, cs, pl),
        };
        vec![
            s("awareness", "before", "Awareness", "Povědomí", "Świadomość"),
            s("consideration", "before", "Consideration", "Zvažování", "Rozważanie"),
            s("purchase", "purchase", "Purchase", "Nákup", "Zakup"),
            s("retention", "after", "Retention", "Udržení", "Utrzymanie"),
            s("service", "after", "Service", "Servis a podpora", "Obsługa"),
            s("advocacy", "after", "Advocacy", "Doporučení", "Rekomendacja"),
        ]
    }
}

/// One kind of contact with the brand.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Touchpoint {
    /// Stable key (`checkout`, `track:Order Completed`).
    pub key: String,
    /// Display names in en/cs/pl.
    pub names: Localized,
    /// Channel.
    pub channel: Channel,
    /// Direct or indirect.
    pub kind: TouchpointKind,
    /// Stage key, `None` while unclassified.
    pub stage: Option<String>,
    /// Owning department (`marketing`, `sales`, `logistics`, `customer-service`, …).
    pub department: Option<String>,
    /// Reaching it is a conversion goal.
    pub conversion: bool,
    /// Reaching it is a sign the customer is leaving.
    pub churn: bool,
    /// Found automatically and not yet classified by a person.
    pub discovered: bool,
}

impl Touchpoint {
    /// The unclassified touchpoint auto-discovery creates for an event kind.
    pub fn discovered(key: &str, name: &str, channel: Channel) -> Touchpoint {
        Touchpoint {
            key: key.into(),
            names: Localized::same(name),
            channel,
            kind: TouchpointKind::Direct,
            stage: None,
            department: None,
            conversion: false,
            churn: false,
            discovered: true,
        }
    }
}

/// What a rule condition looks at.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "field", content = "name")]
pub enum Field {
    /// A property, by name; dots reach into nested objects (`product.category`).
    Property(String),
    /// `utm_medium` (from `context.campaign.medium` or the page URL).
    UtmMedium,
    /// `utm_source`.
    UtmSource,
    /// `utm_campaign`.
    UtmCampaign,
    /// The referrer's host without `www.`.
    ReferrerDomain,
    /// The page path (`/checkout/payment`).
    Path,
}

/// How a condition compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Equal, ignoring ASCII case.
    Equals,
    /// Not equal (a missing value counts as not equal).
    NotEquals,
    /// Starts with, ignoring ASCII case.
    Prefix,
    /// Contains, ignoring ASCII case.
    Contains,
    /// Equal to one of the `|`-separated values; for a domain, equal to one or a subdomain of one.
    OneOf,
    /// Present and not empty.
    Exists,
    /// A number greater than the value.
    Gt,
    /// A number greater than or equal to the value.
    Gte,
    /// A number less than the value.
    Lt,
    /// A number less than or equal to the value.
    Lte,
}

/// One condition of a rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Condition {
    /// What to look at.
    #[serde(flatten)]
    pub field: Field,
    /// How to compare.
    pub op: Op,
    /// The value to compare with (ignored by `exists`).
    #[serde(default)]
    pub value: String,
}

/// A mapping rule: events that match all of it become `touchpoint`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    /// Store id (0 before it is stored).
    #[serde(default)]
    pub id: i64,
    /// Lower runs first.
    pub priority: i32,
    /// The touchpoint key it maps to.
    pub touchpoint: String,
    /// Only events of this type.
    #[serde(default)]
    pub event_type: Option<EventType>,
    /// Only events with this name (track event, page or screen name), exact after NFC.
    #[serde(default)]
    pub event_name: Option<String>,
    /// All must hold.
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

/// What classification looks at besides type and name, extracted from the event object
/// once, where it is parsed (at the edge, where requests run in parallel), so the single
/// writer never walks a JSON tree.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Facts {
    /// Page path.
    pub path: Option<String>,
    /// Referrer host without `www.`.
    pub referrer_domain: Option<String>,
    /// UTM medium.
    pub utm_medium: Option<String>,
    /// UTM source.
    pub utm_source: Option<String>,
    /// UTM campaign.
    pub utm_campaign: Option<String>,
    /// The channel the event names itself (top-level `channel`, as RudderStack's SDKs and
    /// CRM exports send it): the channel a discovered touchpoint gets.
    pub channel: Option<Channel>,
}

/// The strings facts are made of, wherever they were read from: `properties.url`,
/// `properties.path`, `properties.referrer`, the same three of `context.page`, and
/// `context.campaign` medium, source and name.
#[derive(Debug, Default, Clone, Copy)]
pub struct FactSources<'s> {
    /// `properties.url`.
    pub url: Option<&'s str>,
    /// `properties.path`.
    pub path: Option<&'s str>,
    /// `properties.referrer`.
    pub referrer: Option<&'s str>,
    /// `context.page.url`.
    pub page_url: Option<&'s str>,
    /// `context.page.path`.
    pub page_path: Option<&'s str>,
    /// `context.page.referrer`.
    pub page_referrer: Option<&'s str>,
    /// `context.campaign.medium`.
    pub medium: Option<&'s str>,
    /// `context.campaign.source`.
    pub source: Option<&'s str>,
    /// `context.campaign.name`.
    pub campaign: Option<&'s str>,
    /// Top-level `channel`.
    pub channel: Option<&'s str>,
}

impl Facts {
    /// Extract the facts from an event object.
    pub fn of(obj: &serde_json::Map<String, Value>) -> Facts {
        let s = |outer: &str, inner: &str, key: &str| {
            let mut v = obj.get(outer)?;
            if !inner.is_empty() {
                v = v.get(inner)?;
            }
            v.get(key)?.as_str()
        };
        Facts::from_sources(&FactSources {
            url: s("properties", "", "url"),
            path: s("properties", "", "path"),
            referrer: s("properties", "", "referrer"),
            page_url: s("context", "page", "url"),
            page_path: s("context", "page", "path"),
            page_referrer: s("context", "page", "referrer"),
            medium: s("context", "campaign", "medium"),
            source: s("context", "campaign", "source"),
            campaign: s("context", "campaign", "name"),
            channel: obj.get("channel").and_then(Value::as_str),
        })
    }

    /// The facts from their sources: properties win over `context.page`, campaign fields
    /// over the URL's `utm_` parameters; empty strings count as missing.
    pub fn from_sources(f: &FactSources<'_>) -> Facts {
        fn some(v: Option<&str>) -> Option<&str> {
            v.filter(|s| !s.is_empty())
        }
        let url = some(f.url).or(some(f.page_url));
        let query = url.and_then(|u| u.split_once('?')).map(|(_, q)| q.split('#').next().unwrap_or(q));
        let from_query = |key: &str| {
            query.and_then(|q| {
                q.split('&').find_map(|kv| {
                    let (k, v) = kv.split_once('=')?;
                    (k == key).then(|| v.replace('+', " "))
                })
            })
        };
        let path = some(f.path).or(some(f.page_path)).map(str::to_string).or_else(|| url.map(path_of_url));
        let referrer = some(f.referrer).or(some(f.page_referrer));
        Facts {
            path,
            referrer_domain: referrer.and_then(domain_of_url),
            utm_medium: some(f.medium).map(str::to_string).or_else(|| from_query("utm_medium")),
            utm_source: some(f.source).map(str::to_string).or_else(|| from_query("utm_source")),
            utm_campaign: some(f.campaign).map(str::to_string).or_else(|| from_query("utm_campaign")),
            channel: f.channel.and_then(Channel::of_event),
        }
    }
}

/// One event as the rules see it: its facts, and its properties parsed from the stored
/// JSON text only if a rule asks about a property.
struct Seen<'a> {
    /// The event. Its properties are looked at only when a condition asks for one: the
    /// body is usually cold in the writer's cache.
    event: &'a Event,
    properties: std::cell::OnceCell<Option<serde_json::Map<String, Value>>>,
    /// Each fact lowercased, once (path, referrer domain, medium, source, campaign).
    lowered: [std::cell::OnceCell<Option<std::borrow::Cow<'a, str>>>; 5],
}

impl<'a> Seen<'a> {
    fn new(event: &'a Event) -> Seen<'a> {
        Seen { event, properties: Default::default(), lowered: Default::default() }
    }

    /// The field's value, lowercased (every comparison ignores case).
    fn get(&self, field: &Field) -> Option<std::borrow::Cow<'_, str>> {
        let f = &self.event.facts;
        let fact = |i: usize, v: &'a Option<String>| {
            self.lowered[i].get_or_init(|| v.as_deref().map(lower)).as_deref().map(std::borrow::Cow::Borrowed)
        };
        match field {
            Field::Path => fact(0, &f.path),
            Field::ReferrerDomain => fact(1, &f.referrer_domain),
            Field::UtmMedium => fact(2, &f.utm_medium),
            Field::UtmSource => fact(3, &f.utm_source),
            Field::UtmCampaign => fact(4, &f.utm_campaign),
            Field::Property(name) => {
                let props = self
                    .properties
                    .get_or_init(|| self.event.properties_json().and_then(|j| serde_json::from_str(j).ok()))
                    .as_ref()?;
                let mut cur = props.get(name.split('.').next()?)?;
                for part in name.split('.').skip(1) {
                    cur = cur.get(part)?;
                }
                match cur {
                    Value::String(s) => Some(lower(s)),
                    Value::Null => None,
                    other => Some(other.to_string().to_lowercase().into()),
                }
            }
        }
    }
}

fn path_of_url(url: &str) -> String {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let path = rest.find('/').map(|i| &rest[i..]).unwrap_or("/");
    path.split(['?', '#']).next().unwrap_or("/").to_string()
}

fn domain_of_url(url: &str) -> Option<String> {
    let rest = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let host = rest.split(['/', '?', '#', ':']).next()?;
    let host = match host.get(..4) {
        Some(www) if www.eq_ignore_ascii_case("www.") => &host[4..],
        _ => host,
    };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// A condition with its value prepared once for matching many events: lowercased, split
/// into alternatives, or read as a number.
#[derive(Debug, Clone)]
struct Compiled {
    field: Field,
    op: Op,
    values: Vec<String>,
    number: Option<f64>,
}

/// `s` lowercased, without allocating when it has no uppercase letter.
fn lower(s: &str) -> std::borrow::Cow<'_, str> {
    if s.chars().any(char::is_uppercase) {
        s.to_lowercase().into()
    } else {
        s.into()
    }
}

impl Compiled {
    fn new(c: &Condition) -> Compiled {
        let values = match c.op {
            Op::OneOf => c.value.split('|').map(|w| w.trim().to_lowercase()).filter(|w| !w.is_empty()).collect(),
            _ => vec![c.value.trim().to_lowercase()],
        };
        Compiled { field: c.field.clone(), op: c.op, values, number: c.value.trim().parse().ok() }
    }

    fn matches(&self, seen: &Seen<'_>) -> bool {
        let Some(got) = seen.get(&self.field) else {
            // Every comparison needs a value, except "not equal", which a missing one is.
            return self.op == Op::NotEquals;
        };
        let want = self.values.first().map(String::as_str).unwrap_or("");
        let number = |cmp: fn(f64, f64) -> bool| match (got.trim().parse::<f64>(), self.number) {
            (Ok(g), Some(w)) => cmp(g, w),
            _ => false,
        };
        match self.op {
            Op::Exists => !got.trim().is_empty(),
            Op::Equals => got == want,
            Op::NotEquals => got != want,
            Op::Prefix => got.starts_with(want),
            Op::Contains => got.contains(want),
            Op::OneOf => {
                let g = &got;
                self.values.iter().any(|w| {
                    *g == **w
                        || (self.field == Field::ReferrerDomain
                            && g.len() > w.len()
                            && g.ends_with(w.as_str())
                            && g.as_bytes()[g.len() - w.len() - 1] == b'.')
                })
            }
            Op::Gt => number(|g, w| g > w),
            Op::Gte => number(|g, w| g >= w),
            Op::Lt => number(|g, w| g < w),
            Op::Lte => number(|g, w| g <= w),
        }
    }
}

impl Rule {
    /// Whether an event (with its facts) matches this rule, given its prepared conditions.
    fn matches(&self, event: &Event, seen: &Seen<'_>, conditions: &[Compiled]) -> bool {
        if self.event_type.is_some_and(|t| t != event.kind) {
            return false;
        }
        if let Some(n) = &self.event_name {
            if event.name.as_deref() != Some(n.as_str()) {
                return false;
            }
        }
        conditions.iter().all(|c| c.matches(seen))
    }
}

/// The key auto-discovery gives an event no rule claims, or `None` for non-contacts.
pub fn discovered_key(event: &Event) -> Option<(String, String, Channel)> {
    match event.kind {
        EventType::Track => {
            let n = event.name.as_deref()?;
            Some((format!("track:{n}"), n.to_string(), event.facts.channel.unwrap_or(Channel::Other)))
        }
        EventType::Screen => {
            let n = event.name.as_deref().unwrap_or("(unnamed)");
            Some((format!("screen:{n}"), n.to_string(), Channel::App))
        }
        EventType::Page => {
            if let Some(n) = event.name.as_deref() {
                return Some((format!("page:{n}"), n.to_string(), Channel::Web));
            }
            // Group pages by their first path segment so product pages are one touchpoint.
            let p = event.facts.path.as_deref().unwrap_or("/");
            let first = p.trim_start_matches('/').split('/').next().unwrap_or("");
            let section = format!("/{first}");
            Some((format!("page:{section}"), section.clone(), Channel::Web))
        }
        _ => None,
    }
}

/// A project's catalog and rules, ready to classify events. Pure and cheap to clone behind
/// an `Arc`; rebuilt whenever rules or touchpoints change.
#[derive(Debug, Clone, Default)]
pub struct Classifier {
    rules: Vec<Rule>,
    /// Each rule's conditions, prepared.
    compiled: Vec<Vec<Compiled>>,
    /// Rules indexed by exact event name, for the common case; the rest are scanned.
    by_name: HashMap<String, Vec<usize>>,
    unnamed: Vec<usize>,
}

impl Classifier {
    /// Build from a project's rules (any order).
    pub fn new(mut rules: Vec<Rule>) -> Classifier {
        rules.sort_by_key(|r| (r.priority, r.id));
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        let mut unnamed = Vec::new();
        for (i, r) in rules.iter().enumerate() {
            match &r.event_name {
                Some(n) => by_name.entry(n.clone()).or_default().push(i),
                None => unnamed.push(i),
            }
        }
        let compiled = rules.iter().map(|r| r.conditions.iter().map(Compiled::new).collect()).collect();
        Classifier { rules, compiled, by_name, unnamed }
    }

    /// The rules, in the order they run.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Whether a rule looks at properties; if none does, an event's touchpoint depends
    /// only on its type, name and facts (see [`Memo`]).
    pub fn reads_properties(&self) -> bool {
        self.compiled.iter().flatten().any(|c| matches!(c.field, Field::Property(_)))
    }

    /// Classify one event: the touchpoint key, and for a discovered kind its name and
    /// channel. `None` for events that are not contacts.
    pub fn classify(&self, event: &Event) -> Option<Classified> {
        if !event.kind.is_contact() {
            return None;
        }
        let seen = Seen::new(event);
        let named = event.name.as_deref().and_then(|n| self.by_name.get(n));
        // Walk the two candidate lists in priority order (both are ascending indexes).
        let (mut a, mut b) = (named.map(|v| v.as_slice()).unwrap_or(&[]), self.unnamed.as_slice());
        loop {
            let next = match (a.first(), b.first()) {
                (Some(&x), Some(&y)) if x < y => {
                    a = &a[1..];
                    x
                }
                (_, Some(&y)) => {
                    b = &b[1..];
                    y
                }
                (Some(&x), None) => {
                    a = &a[1..];
                    x
                }
                (None, None) => break,
            };
            let rule = &self.rules[next];
            if rule.matches(event, &seen, &self.compiled[next]) {
                return Some(Classified { key: rule.touchpoint.clone(), discovered: None });
            }
        }
        discovered_key(event).map(|(key, name, channel)| Classified { discovered: Some((name, channel)), key })
    }
}

/// What events were classified as, by what classification reads of them: type, name and
/// facts. Events repeat these a lot (every view of a product page, every e-mail click of a
/// campaign), so the writer classifies each combination once. It remembers nothing when a
/// rule reads properties, which differ from event to event.
#[derive(Debug)]
pub struct Memo<T> {
    /// Off when the classifier reads properties.
    enabled: bool,
    state: foldhash::fast::RandomState,
    /// By hash of (type, name, facts): the inputs, to compare on a hit, and the result.
    seen: foldhash::HashMap<u64, (EventType, Option<String>, Facts, T)>,
}

impl<T: Clone> Memo<T> {
    /// Combinations remembered at most; then it starts again (facts can be as many as
    /// pages, so a bound keeps memory flat).
    pub const CAPACITY: usize = 1 << 16;

    /// An empty memo for results of `classifier`.
    pub fn new(classifier: &Classifier) -> Memo<T> {
        Memo { enabled: !classifier.reads_properties(), state: Default::default(), seen: Default::default() }
    }

    fn key(&self, event: &Event) -> u64 {
        use std::hash::BuildHasher;
        self.state.hash_one((event.kind, event.name.as_deref(), &event.facts))
    }

    /// The result remembered for an event with this type, name and facts.
    pub fn get(&self, event: &Event) -> Option<T> {
        if !self.enabled {
            return None;
        }
        let (kind, name, facts, t) = self.seen.get(&self.key(event))?;
        (*kind == event.kind && name.as_deref() == event.name.as_deref() && *facts == event.facts).then(|| t.clone())
    }

    /// Remember the result for `event`'s type, name and facts. Of two combinations with
    /// the same hash, the first stays and the second is classified each time.
    pub fn insert(&mut self, event: &Event, result: T) {
        if !self.enabled {
            return;
        }
        if self.seen.len() >= Self::CAPACITY {
            self.seen.clear();
        }
        let key = self.key(event);
        self.seen.entry(key).or_insert_with(|| (event.kind, event.name.clone(), event.facts.clone(), result));
    }
}

/// The result of classifying an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Classified {
    /// The touchpoint key.
    pub key: String,
    /// For auto-discovered kinds: the display name and channel to create it with.
    pub discovered: Option<(String, Channel)>,
}

/// A project's whole catalog: stages, touchpoints and rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Catalog {
    /// Ordered stages.
    pub stages: Vec<Stage>,
    /// Touchpoints.
    pub touchpoints: Vec<Touchpoint>,
    /// Rules.
    pub rules: Vec<Rule>,
}

/// Priority at which the built-in default rules start.
pub const DEFAULT_RULE_PRIORITY: i32 = 10_000;

/// The track event a completed survey response is recorded as in the customer's journey.
pub const SURVEY_EVENT: &str = "Survey Answered";
/// The touchpoint survey responses map to by default.
pub const SURVEY_TOUCHPOINT: &str = "survey-answered";

/// The catalog a new project starts with: the default stages, touchpoints for the common
/// cases and the rules that find them.
pub fn default_catalog() -> Catalog {
    use Channel::*;
    use TouchpointKind::*;
    let tp = |key: &str, names: Localized, channel, kind, stage: &str, dept: &str| Touchpoint {
        key: key.into(),
        names,
        channel,
        kind,
        stage: Some(stage.into()),
        department: Some(dept.into()),
        conversion: false,
        churn: false,
        discovered: false,
    };
    let mut touchpoints = vec![
        tp(
            "email-campaign",
            Localized::new("E-mail campaign", "E-mailová kampaň", "Kampania e-mailowa"),
            Email,
            Direct,
            "consideration",
            "marketing",
        ),
        tp(
            "paid-ads",
            Localized::new("Paid ad", "Placená reklama", "Płatna reklama"),
            Ads,
            Direct,
            "awareness",
            "marketing",
        ),
        tp(
            "social-campaign",
            Localized::new(
                "Social media campaign",
                "Kampaň na sociálních sítích",
                "Kampania w mediach społecznościowych",
            ),
            Social,
            Direct,
            "awareness",
            "marketing",
        ),
        tp(
            "social-referral",
            Localized::new("Social network mention", "Zmínka na sociální síti", "Wzmianka w mediach społecznościowych"),
            Social,
            Indirect,
            "awareness",
            "marketing",
        ),
        tp(
            "organic-search",
            Localized::new("Organic search", "Vyhledávání", "Wyszukiwanie organiczne"),
            Search,
            Indirect,
            "awareness",
            "marketing",
        ),
        tp(
            "review-site",
            Localized::new("Review site", "Recenzní web", "Serwis z opiniami"),
            Review,
            Indirect,
            "consideration",
            "marketing",
        ),
        tp(
            "forum",
            Localized::new("Discussion forum", "Diskusní fórum", "Forum dyskusyjne"),
            Forum,
            Indirect,
            "consideration",
            "marketing",
        ),
        tp(
            "blog",
            Localized::new("Blog article", "Článek na blogu", "Artykuł na blogu"),
            Blog,
            Direct,
            "consideration",
            "marketing",
        ),
        tp("cart", Localized::new("Shopping cart", "Košík", "Koszyk"), Web, Direct, "purchase", "sales"),
        tp("checkout", Localized::new("Checkout", "Pokladna", "Kasa"), Web, Direct, "purchase", "sales"),
        tp(
            "help-center",
            Localized::new("Help centre", "Centrum nápovědy", "Centrum pomocy"),
            SelfService,
            Direct,
            "service",
            "customer-service",
        ),
        tp(
            SURVEY_TOUCHPOINT,
            Localized::new("Survey answered", "Vyplněný dotazník", "Wypełniona ankieta"),
            Survey,
            Direct,
            "advocacy",
            "customer-service",
        ),
    ];
    let mut order = tp(
        "order-completed",
        Localized::new("Order completed", "Dokončená objednávka", "Zamówienie złożone"),
        Web,
        Direct,
        "purchase",
        "sales",
    );
    order.conversion = true;
    touchpoints.push(order);
    // The self-service portal's own touchpoints (`touchpoint_engine::portal` sends them).
    let service = |key: &str, names: Localized| tp(key, names, SelfService, Direct, "service", "customer-service");
    touchpoints.extend([
        service(PORTAL_VISIT_TP, Localized::new("Portal visit", "Návštěva portálu", "Wizyta w portalu")),
        service(KB_SEARCH_TP, Localized::new("Help search", "Hledání v nápovědě", "Wyszukiwanie w pomocy")),
        service(
            KB_ARTICLE_TP,
            Localized::new("Help article read", "Přečtený článek nápovědy", "Przeczytany artykuł pomocy"),
        ),
        service(KB_HELPFUL_TP, Localized::new("Article helped", "Článek pomohl", "Artykuł pomógł")),
        service(KB_NOT_HELPFUL_TP, Localized::new("Article did not help", "Článek nepomohl", "Artykuł nie pomógł")),
        service(REQUEST_OPENED_TP, Localized::new("Request opened", "Otevřený požadavek", "Otwarte zgłoszenie")),
        service(
            REQUEST_UPDATED_TP,
            Localized::new(
                "Request answered or changed",
                "Odpověď nebo změna požadavku",
                "Odpowiedź lub zmiana zgłoszenia",
            ),
        ),
        service(REQUEST_RESOLVED_TP, Localized::new("Request resolved", "Vyřešený požadavek", "Rozwiązane zgłoszenie")),
    ]);

    let page_rule = |n: i32, key: &str, field: Field, op: Op, value: &str| Rule {
        id: 0,
        priority: DEFAULT_RULE_PRIORITY + n,
        touchpoint: key.into(),
        event_type: Some(EventType::Page),
        event_name: None,
        conditions: vec![Condition { field, op, value: value.into() }],
    };
    let mut rules = vec![
        page_rule(10, "email-campaign", Field::UtmMedium, Op::OneOf, "email|e-mail|newsletter|mail"),
        page_rule(20, "paid-ads", Field::UtmMedium, Op::OneOf, "cpc|ppc|paid|paidsearch|display|banner|cpm"),
        page_rule(30, "social-campaign", Field::UtmMedium, Op::OneOf, "social|paid_social|paidsocial|social-paid"),
        page_rule(40, "social-referral", Field::ReferrerDomain, Op::OneOf, "facebook.com|instagram.com|t.co|twitter.com|x.com|linkedin.com|tiktok.com|youtube.com|pinterest.com|reddit.com"),
        page_rule(50, "organic-search", Field::ReferrerDomain, Op::OneOf, "google.com|google.cz|google.pl|bing.com|seznam.cz|search.seznam.cz|duckduckgo.com|yahoo.com|onet.pl|wp.pl"),
        page_rule(60, "review-site", Field::ReferrerDomain, Op::OneOf, "heureka.cz|heureka.sk|zbozi.cz|ceneo.pl|opineo.pl|trustpilot.com|google.com/maps"),
        page_rule(70, "forum", Field::ReferrerDomain, Op::OneOf, "forum.cz|modrykonik.cz|emimino.cz|wykop.pl|forum.gazeta.pl"),
        page_rule(80, "cart", Field::Path, Op::OneOf, "/cart|/kosik|/koszyk|/basket"),
        page_rule(81, "cart", Field::Path, Op::Prefix, "/cart/"),
        page_rule(90, "checkout", Field::Path, Op::Prefix, "/checkout"),
        page_rule(91, "checkout", Field::Path, Op::Prefix, "/pokladna"),
        page_rule(92, "checkout", Field::Path, Op::Prefix, "/zamowienie"),
        page_rule(100, "help-center", Field::Path, Op::Prefix, "/help"),
        page_rule(101, "help-center", Field::Path, Op::Prefix, "/faq"),
        page_rule(102, "help-center", Field::Path, Op::Prefix, "/napoveda"),
        page_rule(103, "help-center", Field::Path, Op::Prefix, "/pomoc"),
        page_rule(110, "blog", Field::Path, Op::Prefix, "/blog"),
        Rule {
            id: 0,
            priority: DEFAULT_RULE_PRIORITY + 190,
            touchpoint: SURVEY_TOUCHPOINT.into(),
            event_type: Some(EventType::Track),
            event_name: Some(SURVEY_EVENT.into()),
            conditions: vec![],
        },
        Rule {
            id: 0,
            priority: DEFAULT_RULE_PRIORITY + 200,
            touchpoint: "order-completed".into(),
            event_type: Some(EventType::Track),
            event_name: Some("Order Completed".into()),
            conditions: vec![],
        },
    ];
    let track_rule = |n: i32, key: &str, event: &str| Rule {
        id: 0,
        priority: DEFAULT_RULE_PRIORITY + n,
        touchpoint: key.into(),
        event_type: Some(EventType::Track),
        event_name: Some(event.into()),
        conditions: vec![],
    };
    rules.extend([
        track_rule(210, PORTAL_VISIT_TP, PORTAL_VISIT_EVENT),
        track_rule(211, KB_SEARCH_TP, KB_SEARCH_EVENT),
        track_rule(212, KB_ARTICLE_TP, KB_ARTICLE_EVENT),
        track_rule(213, KB_HELPFUL_TP, KB_HELPFUL_EVENT),
        track_rule(214, KB_NOT_HELPFUL_TP, KB_NOT_HELPFUL_EVENT),
        track_rule(215, REQUEST_OPENED_TP, REQUEST_OPENED_EVENT),
        track_rule(216, REQUEST_UPDATED_TP, REQUEST_UPDATED_EVENT),
        track_rule(217, REQUEST_RESOLVED_TP, REQUEST_RESOLVED_EVENT),
    ]);
    Catalog { stages: Stage::defaults(), touchpoints, rules }
}

/// The portal's events and the touchpoints the default catalog maps them to.
pub const PORTAL_VISIT_EVENT: &str = "Portal Visited";
/// A knowledge-base search (`query`, `results`, `lang`).
pub const KB_SEARCH_EVENT: &str = "Knowledge Base Searched";
/// An article opened (`article_id`, `title`, `lang`).
pub const KB_ARTICLE_EVENT: &str = "Article Viewed";
/// An article's "did this help?" answered yes (`article_id`). Two event names rather than
/// one with a property: a rule that reads properties turns the classifier's memo off.
pub const KB_HELPFUL_EVENT: &str = "Article Helpful";
/// An article's "did this help?" answered no (`article_id`).
pub const KB_NOT_HELPFUL_EVENT: &str = "Article Not Helpful";
/// A customer opened a service request (`request_id`, `subject`, `lang`).
pub const REQUEST_OPENED_EVENT: &str = "Request Opened";
/// A request changed other than by opening or resolving it (`request_id`, `change`:
/// `reply` from the team, `customer_reply`, `status`, `assign`; `status`).
pub const REQUEST_UPDATED_EVENT: &str = "Request Updated";
/// A request was resolved (`request_id`, `resolution_hours`).
pub const REQUEST_RESOLVED_EVENT: &str = "Request Resolved";
/// Touchpoint of [`REQUEST_OPENED_EVENT`].
pub const REQUEST_OPENED_TP: &str = "request-opened";
/// Touchpoint of [`REQUEST_UPDATED_EVENT`].
pub const REQUEST_UPDATED_TP: &str = "request-updated";
/// Touchpoint of [`REQUEST_RESOLVED_EVENT`].
pub const REQUEST_RESOLVED_TP: &str = "request-resolved";
/// Touchpoint of [`PORTAL_VISIT_EVENT`].
pub const PORTAL_VISIT_TP: &str = "portal-visit";
/// Touchpoint of [`KB_SEARCH_EVENT`].
pub const KB_SEARCH_TP: &str = "kb-search";
/// Touchpoint of [`KB_ARTICLE_EVENT`].
pub const KB_ARTICLE_TP: &str = "kb-article";
/// Touchpoint of [`KB_HELPFUL_EVENT`].
pub const KB_HELPFUL_TP: &str = "kb-helpful";
/// Touchpoint of [`KB_NOT_HELPFUL_EVENT`].
pub const KB_NOT_HELPFUL_TP: &str = "kb-not-helpful";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Limits, ParseContext};
    use serde_json::json;

    fn ev(v: Value) -> Event {
        Event::parse(v, &ParseContext { received_at: 1_000, ..Default::default() }, &Limits::default()).unwrap()
    }

    /// Classify `v` with the default catalog plus `extra` rules and compare the key.
    fn check(extra: Vec<Rule>, v: Value, want: Option<&str>) {
        let mut rules = default_catalog().rules;
        rules.extend(extra);
        let c = Classifier::new(rules);
        let got = c.classify(&ev(v.clone())).map(|c| c.key);
        assert_eq!(got.as_deref(), want, "for {v}");
    }

    #[test]
    fn defaults_classify_the_common_cases() {
        let page = |props: Value| json!({"type":"page","userId":"u","properties":props});
        check(vec![], page(json!({"url":"https://shop.cz/?utm_medium=email&utm_source=nl"})), Some("email-campaign"));
        check(vec![], json!({"type":"page","userId":"u","context":{"campaign":{"medium":"cpc"}}}), Some("paid-ads"));
        check(vec![], page(json!({"referrer":"https://www.facebook.com/some/post"})), Some("social-referral"));
        check(vec![], page(json!({"referrer":"https://m.facebook.com/x"})), Some("social-referral"));
        check(vec![], page(json!({"referrer":"https://www.google.cz/search?q=x"})), Some("organic-search"));
        check(vec![], page(json!({"referrer":"https://obchody.heureka.cz/shop/recenze"})), Some("review-site"));
        check(vec![], page(json!({"path":"/kosik"})), Some("cart"));
        check(vec![], page(json!({"url":"https://shop.cz/checkout/payment?x=1"})), Some("checkout"));
        check(vec![], page(json!({"path":"/napoveda/doprava"})), Some("help-center"));
        check(vec![], page(json!({"path":"/products/123"})), Some("page:/products"));
        check(vec![], json!({"type":"page","name":"Home","userId":"u"}), Some("page:Home"));
        check(vec![], json!({"type":"track","event":"Order Completed","userId":"u"}), Some("order-completed"));
        check(vec![], json!({"type":"track","event":"Reklamace","userId":"u"}), Some("track:Reklamace"));
        check(vec![], json!({"type":"screen","name":"Basket","userId":"u"}), Some("screen:Basket"));
        check(vec![], json!({"type":"identify","userId":"u"}), None);
        // A campaign context on a track event does not make it an e-mail touchpoint.
        check(
            vec![],
            json!({"type":"track","event":"Order Completed","userId":"u","context":{"campaign":{"medium":"email"}}}),
            Some("order-completed"),
        );
    }

    #[test]
    fn user_rules_win_and_see_properties() {
        let rule = Rule {
            id: 1,
            priority: 10,
            touchpoint: "support-call".into(),
            event_type: Some(EventType::Track),
            event_name: Some("Call".into()),
            conditions: vec![
                Condition { field: Field::Property("dept.name".into()), op: Op::Equals, value: "SUPPORT".into() },
                Condition { field: Field::Property("duration".into()), op: Op::Exists, value: String::new() },
            ],
        };
        let long_wait = Rule {
            id: 3,
            priority: 1,
            touchpoint: "long-wait".into(),
            event_type: None,
            event_name: Some("Call".into()),
            conditions: vec![Condition { field: Field::Property("duration".into()), op: Op::Gt, value: "15".into() }],
        };
        let minutes = |m: Value| json!({"type":"track","event":"Call","userId":"u","properties":{"duration":m}});
        check(vec![long_wait.clone()], minutes(json!(16)), Some("long-wait"));
        check(vec![long_wait.clone()], minutes(json!("15.5")), Some("long-wait"));
        check(vec![long_wait.clone()], minutes(json!(15)), Some("track:Call"));
        check(vec![long_wait], minutes(json!("many")), Some("track:Call"));
        let call = |dept: &str| json!({"type":"track","event":"Call","userId":"u","properties":{"dept":{"name":dept},"duration":30}});
        check(vec![rule.clone()], call("support"), Some("support-call"));
        check(vec![rule.clone()], call("sales"), Some("track:Call"));
        let cart_override = Rule {
            id: 2,
            priority: 5,
            touchpoint: "my-cart".into(),
            event_type: None,
            event_name: None,
            conditions: vec![Condition { field: Field::Path, op: Op::Prefix, value: "/kosik".into() }],
        };
        check(vec![cart_override], json!({"type":"page","userId":"u","properties":{"path":"/kosik"}}), Some("my-cart"));
    }

    proptest::proptest! {
        /// Classifying through a [`Memo`] gives what classifying each event gives, with and
        /// without a rule that reads properties (which must turn the memo off).
        #[test]
        fn a_memo_answers_what_the_classifier_does(
            with_property_rule: bool,
            events in proptest::collection::vec(
                (0..4usize, 0..3usize, 0..4usize, 0..3usize, 0..3usize, 0..40u32), 1..60),
        ) {
            let mut rules = default_catalog().rules;
            if with_property_rule {
                rules.push(Rule {
                    id: 1,
                    priority: 1,
                    touchpoint: "long-visit".into(),
                    event_type: None,
                    event_name: None,
                    conditions: vec![Condition { field: Field::Property("seconds".into()), op: Op::Gt, value: "20".into() }],
                });
            }
            let classifier = Classifier::new(rules);
            let mut memo = Memo::new(&classifier);
            proptest::prop_assert_eq!(memo.enabled, !with_property_rule);
            for (kind, name, path, referrer, medium, seconds) in events {
                let kind = ["page", "track", "screen", "identify"][kind];
                let name = [None, Some("Home"), Some("Order Completed")][name].or((kind == "track").then_some("Call"));
                let path = ["/", "/kosik", "/products/1", "/Checkout"][path];
                let referrer = ["", "https://www.google.com/", "https://facebook.com/x"][referrer];
                let medium = ["", "email", "CPC"][medium];
                let mut v = json!({"type": kind, "userId": "u",
                    "properties": {"path": path, "referrer": referrer, "seconds": seconds},
                    "context": {"campaign": {"medium": medium}}});
                if let Some(n) = name {
                    v[if kind == "track" { "event" } else { "name" }] = json!(n);
                }
                let e = ev(v);
                let want = classifier.classify(&e).map(|c| c.key);
                let got = match memo.get(&e) {
                    Some(k) => k,
                    None => {
                        let k = classifier.classify(&e).map(|c| c.key);
                        memo.insert(&e, k.clone());
                        k
                    }
                };
                proptest::prop_assert_eq!(got, want);
            }
        }
    }

    #[test]
    fn rules_round_trip_through_json() {
        let rules = default_catalog().rules;
        let text = serde_json::to_string(&rules).unwrap();
        let back: Vec<Rule> = serde_json::from_str(&text).unwrap();
        assert_eq!(rules, back);
        let c: Condition =
            serde_json::from_value(json!({"field":"property","name":"plan","op":"equals","value":"pro"})).unwrap();
        assert_eq!(c.field, Field::Property("plan".into()));
    }
}
