//! Raw events of the Segment spec (track, page, screen, identify, group, alias), parsed
//! and validated at the edge into [`Event`], with clock-skew correction.
//!
//! Everything that can be wrong with an incoming event is an [`EventError`] that names the
//! field, so the API can answer `400 batch[3].userId: must be a string` and keep the raw
//! payload as a failed event.

mod fast;

use crate::catalog::Facts;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use unicode_normalization::UnicodeNormalization;

/// The kinds of call in the Segment spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    /// Something the customer did (`event` names it).
    Track,
    /// A web page view.
    Page,
    /// An app screen view.
    Screen,
    /// Who the customer is (traits).
    Identify,
    /// The customer's company or account.
    Group,
    /// Two ids of one person (`previousId` becomes `userId`).
    Alias,
}

impl EventType {
    /// Every type, in a stable order.
    pub const ALL: [EventType; 6] =
        [EventType::Track, EventType::Page, EventType::Screen, EventType::Identify, EventType::Group, EventType::Alias];

    /// Parse a type name, case-insensitively.
    pub fn parse(s: &str) -> Option<EventType> {
        [EventType::Track, EventType::Page, EventType::Screen, EventType::Identify, EventType::Group, EventType::Alias]
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(s))
    }

    /// The lowercase name used on the wire and in storage.
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Track => "track",
            EventType::Page => "page",
            EventType::Screen => "screen",
            EventType::Identify => "identify",
            EventType::Group => "group",
            EventType::Alias => "alias",
        }
    }

    /// Whether events of this type are contacts with the brand (and so touchpoints).
    pub fn is_contact(self) -> bool {
        matches!(self, EventType::Track | EventType::Page | EventType::Screen)
    }
}

/// Ids and names are text in every store, and some stores (PostgreSQL) cannot keep the
/// NUL character in text: an id or a name with one is refused at the edge, with this.
const NUL: &str = "must not contain the NUL character (\\u0000)";

/// Limits checked on every event, configurable per server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest serialized event, in bytes.
    pub max_event_bytes: usize,
    /// Deepest nesting of objects and arrays inside one event.
    pub max_depth: usize,
    /// Longest id (messageId, userId, anonymousId, …) and event name, in characters.
    pub max_id_chars: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_event_bytes: 32 * 1024, max_depth: 24, max_id_chars: 256 }
    }
}

/// Bit flags recorded with each stored event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct EventFlags(pub u32);

impl EventFlags {
    /// The event's time was more than a day in the future and was clamped to receipt time.
    pub const TIMESTAMP_CLAMPED: u32 = 1;
    /// No messageId came with the event; the server assigned one.
    pub const MESSAGE_ID_ASSIGNED: u32 = 2;
    /// The time was corrected for the sender's clock skew (sentAt vs receivedAt).
    pub const SKEW_CORRECTED: u32 = 4;
    /// The event came from a bulk import rather than the HTTP API.
    pub const IMPORTED: u32 = 8;

    /// Whether a flag is set.
    pub fn has(self, flag: u32) -> bool {
        self.0 & flag != 0
    }
}

/// Why an event was rejected; `field` is a path such as `batch[3].properties`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub struct EventError {
    /// The field that is wrong, as a path from the request body's root.
    pub field: String,
    /// What is wrong with it, in words a person understands.
    pub message: String,
}

/// `field: message`, or the message alone when the field is the body itself (a
/// single-event route's body has no path).
impl std::fmt::Display for EventError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

impl EventError {
    /// An error at a field.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        EventError { field: field.into(), message: message.into() }
    }
}

/// A validated event, ready to be classified and stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Dedup key within a project (sent by the client, or assigned).
    pub message_id: String,
    /// Kind of call.
    pub kind: EventType,
    /// Track event name, page or screen name (NFC-normalized); `None` for the others.
    pub name: Option<String>,
    /// Known user id.
    pub user_id: Option<String>,
    /// Anonymous (device or cookie) id.
    pub anonymous_id: Option<String>,
    /// For alias: the id the customer had before.
    pub previous_id: Option<String>,
    /// For group: the group's id.
    pub group_id: Option<String>,
    /// When it happened, milliseconds since the epoch, after skew correction and clamping.
    pub timestamp: i64,
    /// When the server received it, milliseconds since the epoch.
    pub received_at: i64,
    /// Flags (see [`EventFlags`]).
    pub flags: EventFlags,
    /// What the touchpoint rules look at (page path, referrer, UTM), extracted at parse.
    pub facts: Facts,
    /// The `traits` of an identify call, when there are any.
    pub traits: Option<Map<String, Value>>,
    /// The whole event object as received (with `type` and `messageId` filled in), as JSON
    /// text, made once at the edge (where requests run in parallel) so the single writer
    /// never builds or walks a JSON tree.
    pub body_json: String,
}

/// What the edge knows about an event besides its body.
#[derive(Debug, Clone, Default)]
pub struct ParseContext<'a> {
    /// The type implied by the endpoint (`/v1/track` means track); `None` for batches.
    pub endpoint_type: Option<EventType>,
    /// The path prefix for error messages (`batch[3]`), empty for a single event.
    pub path: String,
    /// When the request arrived (ms since the epoch).
    pub received_at: i64,
    /// A batch-level `sentAt`, used for events that lack their own.
    pub batch_sent_at: Option<&'a Value>,
    /// A batch-level `context`, merged under each event's own.
    pub batch_context: Option<&'a Map<String, Value>>,
    /// Where to get a message id when none is sent: `None` means a random UUID.
    pub derive_message_id: bool,
    /// Mark events as imported.
    pub imported: bool,
    /// The sender is believed (a server key, an import, the customer's own portal): an
    /// identify's `email` trait is also kept as [`VERIFIED_EMAIL`], the address e-mails go
    /// to. Whatever a sender writes into [`VERIFIED_EMAIL`] itself is dropped either way.
    pub vouched: bool,
}

/// The trait that holds the address e-mail rules send to: the `email` an identify gave
/// through a sender that is believed ([`ParseContext::vouched`]). A public write key can
/// set `email` to anyone's address; it cannot set this, so a stranger holding the write
/// key cannot make Touchpoint mail an address of their choosing.
pub const VERIFIED_EMAIL: &str = "$verified_email";

/// An identify's traits as stored: [`VERIFIED_EMAIL`] only from a believed sender's
/// `email` (a `null` or blank `email` removes it), never as sent; `None` when nothing is
/// left.
pub fn seal_traits(traits: Option<Map<String, Value>>, vouched: bool) -> Option<Map<String, Value>> {
    let mut t = traits?;
    t.shift_remove(VERIFIED_EMAIL);
    if vouched {
        match t.get("email") {
            Some(Value::String(e)) if e.contains('@') => {
                let e = e.trim().to_string();
                t.insert(VERIFIED_EMAIL.into(), Value::String(e));
            }
            Some(Value::Null) => {
                t.insert(VERIFIED_EMAIL.into(), Value::Null);
            }
            Some(Value::String(e)) if e.trim().is_empty() => {
                t.insert(VERIFIED_EMAIL.into(), Value::Null);
            }
            _ => {}
        }
    }
    (!t.is_empty()).then_some(t)
}

const DAY_MS: i64 = 24 * 3600 * 1000;

impl Event {
    /// Parse and validate one event object.
    pub fn parse(value: Value, cx: &ParseContext<'_>, limits: &Limits) -> Result<Event, EventError> {
        let at = |f: &str| -> String {
            if cx.path.is_empty() {
                f.to_string()
            } else if f.is_empty() {
                cx.path.clone()
            } else {
                format!("{}.{f}", cx.path)
            }
        };
        let Value::Object(mut obj) = value else {
            return Err(EventError::new(at(""), format!("an event must be a JSON object, not {}", json_kind(&value))));
        };
        let depth = depth_of(&Value::Object(Map::new())) + obj.values().map(depth_of).max().unwrap_or(0);
        if depth > limits.max_depth {
            return Err(EventError::new(
                at(""),
                format!("nested {depth} levels deep; at most {} are allowed", limits.max_depth),
            ));
        }

        let kind = match (cx.endpoint_type, obj.get("type")) {
            (Some(t), _) => t,
            (None, Some(Value::String(s))) => EventType::parse(s).ok_or_else(|| {
                EventError::new(
                    at("type"),
                    format!("unknown type {s:?}; expected track, page, screen, identify, group or alias"),
                )
            })?,
            (None, Some(other)) => {
                return Err(EventError::new(at("type"), format!("must be a string, not {}", json_kind(other))))
            }
            (None, None) => {
                return Err(EventError::new(
                    at("type"),
                    "is missing; every event in a batch needs one of track, page, screen, identify, group, alias",
                ))
            }
        };
        obj.insert("type".into(), Value::String(kind.as_str().into()));
        // The write key is a credential, not part of the event: Segment's browser SDK puts
        // it in every body.
        obj.remove("writeKey");

        let id = |obj: &Map<String, Value>, f: &str| -> Result<Option<String>, EventError> {
            match obj.get(f) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
                Some(Value::String(s)) if s.contains('\0') => Err(EventError::new(at(f), NUL)),
                Some(Value::String(s)) if s.chars().count() > limits.max_id_chars => {
                    Err(EventError::new(at(f), format!("is longer than {} characters", limits.max_id_chars)))
                }
                Some(Value::String(s)) => Ok(Some(nfc(s))),
                Some(Value::Number(n)) => Ok(Some(n.to_string())),
                Some(other) => Err(EventError::new(at(f), format!("must be a string, not {}", json_kind(other)))),
            }
        };
        let user_id = id(&obj, "userId")?;
        let anonymous_id = id(&obj, "anonymousId")?;
        let mut previous_id = None;
        let mut group_id = None;
        match kind {
            EventType::Alias => {
                previous_id = id(&obj, "previousId")?;
                if previous_id.is_none() {
                    return Err(EventError::new(at("previousId"), "is required for alias"));
                }
                if user_id.is_none() {
                    return Err(EventError::new(at("userId"), "is required for alias"));
                }
            }
            _ => {
                if user_id.is_none() && anonymous_id.is_none() {
                    return Err(EventError::new(at("userId"), "either userId or anonymousId is required"));
                }
            }
        }
        if kind == EventType::Group {
            group_id = id(&obj, "groupId")?;
            if group_id.is_none() {
                return Err(EventError::new(at("groupId"), "is required for group"));
            }
        }

        let name = match kind {
            EventType::Track => match obj.get("event") {
                Some(Value::String(s)) if !s.trim().is_empty() => Some(nfc(s.trim())),
                Some(Value::String(_)) | None | Some(Value::Null) => {
                    return Err(EventError::new(at("event"), "is required for track and must not be empty"))
                }
                Some(other) => {
                    return Err(EventError::new(at("event"), format!("must be a string, not {}", json_kind(other))))
                }
            },
            EventType::Page | EventType::Screen => match obj.get("name") {
                Some(Value::String(s)) if !s.trim().is_empty() => Some(nfc(s.trim())),
                None | Some(Value::Null) | Some(Value::String(_)) => None,
                Some(other) => {
                    return Err(EventError::new(at("name"), format!("must be a string, not {}", json_kind(other))))
                }
            },
            _ => None,
        };
        if let Some(n) = &name {
            let f = if kind == EventType::Track { "event" } else { "name" };
            if n.contains('\0') {
                return Err(EventError::new(at(f), NUL));
            }
            if n.chars().count() > limits.max_id_chars {
                return Err(EventError::new(at(f), format!("is longer than {} characters", limits.max_id_chars)));
            }
        }

        for f in ["properties", "traits", "context", "integrations"] {
            match obj.get(f) {
                None | Some(Value::Null) | Some(Value::Object(_)) => {}
                Some(other) => {
                    return Err(EventError::new(at(f), format!("must be an object, not {}", json_kind(other))))
                }
            }
        }
        if let Some(bc) = cx.batch_context {
            let ctx = obj.entry("context").or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(own) = ctx {
                for (k, v) in bc {
                    own.entry(k.clone()).or_insert_with(|| v.clone());
                }
            } else {
                *ctx = Value::Object(bc.clone());
            }
        }

        // Time: explicit `timestamp` wins; otherwise originalTimestamp corrected by sentAt.
        let mut flags = 0u32;
        let time_field = |obj: &Map<String, Value>, f: &str| -> Result<Option<i64>, EventError> {
            match obj.get(f) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => parse_time(v).map(Some).map_err(|m| EventError::new(at(f), m)),
            }
        };
        let explicit = time_field(&obj, "timestamp")?;
        let original = time_field(&obj, "originalTimestamp")?;
        let sent_at = match obj.get("sentAt") {
            None | Some(Value::Null) => match cx.batch_sent_at {
                Some(v) => Some(parse_time(v).map_err(|m| EventError::new("sentAt", m))?),
                None => None,
            },
            Some(v) => Some(parse_time(v).map_err(|m| EventError::new(at("sentAt"), m))?),
        };
        let timestamp = settle_time(explicit, original, sent_at, cx.received_at, &mut flags);

        let message_id = match id(&obj, "messageId")? {
            Some(m) => m,
            None => {
                flags |= EventFlags::MESSAGE_ID_ASSIGNED;
                let m = if cx.derive_message_id { derived_message_id(&obj) } else { uuid::Uuid::new_v4().to_string() };
                obj.insert("messageId".into(), Value::String(m.clone()));
                m
            }
        };
        if cx.imported {
            flags |= EventFlags::IMPORTED;
        }

        // A numeric id is the same customer as its string form: store it as the string.
        for f in ["userId", "anonymousId", "previousId", "groupId", "messageId"] {
            if let Some(v @ Value::Number(_)) = obj.get_mut(f) {
                *v = Value::String(v.to_string());
            }
        }
        let facts = Facts::of(&obj);
        // RudderStack's SDKs send an identify's traits in `context.traits` only.
        let traits = match (kind, obj.get("traits")) {
            (EventType::Identify, Some(Value::Object(t))) if !t.is_empty() => Some(t.clone()),
            (EventType::Identify, _) => match obj.get("context").and_then(|c| c.get("traits")) {
                Some(Value::Object(t)) if !t.is_empty() => Some(t.clone()),
                _ => None,
            },
            _ => None,
        };
        let traits = seal_traits(traits, cx.vouched);
        // Serializing a map of JSON values cannot fail.
        let body_json = serde_json::to_string(&obj).unwrap_or_default();
        let size = body_json.len();
        if size > limits.max_event_bytes {
            return Err(EventError::new(
                at(""),
                format!("the event is {size} bytes; at most {} are allowed", limits.max_event_bytes),
            ));
        }

        Ok(Event {
            message_id,
            kind,
            name,
            user_id,
            anonymous_id,
            previous_id,
            group_id,
            timestamp,
            received_at: cx.received_at,
            flags: EventFlags(flags),
            facts,
            traits,
            body_json,
        })
    }

    /// The event's `properties` object as JSON text, if it has one (found in the body
    /// when asked: only rules about properties ask).
    pub fn properties_json(&self) -> Option<&str> {
        fast::properties_in(&self.body_json)
    }
}

/// When an event happened: its own `timestamp`; else `originalTimestamp` corrected for
/// the client's clock the Segment way (`receivedAt − (sentAt − originalTimestamp)`); else
/// when it arrived. A time more than a day after arrival is clamped to the arrival. Sets
/// the flags that say which of these happened.
fn settle_time(
    explicit: Option<i64>,
    original: Option<i64>,
    sent_at: Option<i64>,
    received_at: i64,
    flags: &mut u32,
) -> i64 {
    let timestamp = match (explicit, original, sent_at) {
        (Some(t), _, _) => t,
        (None, Some(o), Some(s)) => {
            *flags |= EventFlags::SKEW_CORRECTED;
            received_at - (s - o)
        }
        (None, Some(o), None) => o,
        (None, None, _) => received_at,
    };
    if timestamp > received_at + DAY_MS {
        *flags |= EventFlags::TIMESTAMP_CLAMPED;
        return received_at;
    }
    timestamp
}

/// When the client said a stored event happened, if that time was more than a day in the
/// future and was clamped to its arrival (`flags` has [`EventFlags::TIMESTAMP_CLAMPED`]):
/// the body keeps what was sent (`timestamp`, else `originalTimestamp`).
pub fn sent_time(flags: u32, body: &Value) -> Option<String> {
    if !EventFlags(flags).has(EventFlags::TIMESTAMP_CLAMPED) {
        return None;
    }
    ["timestamp", "originalTimestamp"].iter().find_map(|f| match body.get(*f) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    })
}

/// A message id derived from the event's content, so that importing the same file twice
/// stores nothing twice.
fn derived_message_id(obj: &Map<String, Value>) -> String {
    let text = serde_json::to_string(obj).unwrap_or_default();
    // FNV-1a 128 over the canonical text: stable across runs and platforms.
    let mut h: u128 = 0x6c62272e07bb014262b821756295c58d;
    for b in text.as_bytes() {
        h ^= *b as u128;
        h = h.wrapping_mul(0x0000000001000000000000000000013B);
    }
    format!("imp-{h:032x}")
}

/// `s` in Unicode normal form C (names and ids typed on different systems compare equal).
fn nfc(s: &str) -> String {
    // ASCII is always NFC, and checking it is a quick vectorized pass.
    if s.is_ascii() || unicode_normalization::is_nfc(s) {
        s.to_string()
    } else {
        s.nfc().collect()
    }
}

/// Merge `patch` into `target` as RFC 7396 says: objects merge key by key, `null` removes a
/// key, anything else replaces.
pub fn merge_patch(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (k, v) in patch {
        match v {
            Value::Null => {
                target.remove(k);
            }
            Value::Object(p) => match target.get_mut(k) {
                Some(Value::Object(t)) => merge_patch(t, p),
                _ => {
                    let mut fresh = Map::new();
                    merge_patch(&mut fresh, p);
                    target.insert(k.clone(), Value::Object(fresh));
                }
            },
            other => {
                target.insert(k.clone(), other.clone());
            }
        }
    }
}

/// A short name of a JSON value's kind, for error messages.
pub fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// How deeply a value nests (a scalar is 0, `{}` is 1).
pub fn depth_of(v: &Value) -> usize {
    match v {
        Value::Array(a) => 1 + a.iter().map(depth_of).max().unwrap_or(0),
        Value::Object(o) => 1 + o.values().map(depth_of).max().unwrap_or(0),
        _ => 0,
    }
}

/// Parse an event time: an ISO-8601 / RFC 3339 string (a missing zone means UTC), a date,
/// or a number of milliseconds since the epoch.
pub fn parse_time(v: &Value) -> Result<i64, String> {
    match v {
        Value::String(s) => parse_time_str(s),
        // A whole number is one however it is written (`1.7e12`, `-330571.0`).
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 1e15).map(|f| f as i64))
            .filter(|ms| (-62_135_596_800_000..=253_402_300_799_999).contains(ms))
            .ok_or_else(|| format!("{n} is not a time in milliseconds between years 1 and 9999")),
        other => Err(format!("must be an ISO-8601 time string, not {}", json_kind(other))),
    }
}

/// Parse a time string in the formats people and SDKs send.
pub fn parse_time_str(s: &str) -> Result<i64, String> {
    parse_time_parts(s).map(|t| match t {
        TimeText::Exact(ms) => ms,
        TimeText::Local(n) => n.and_utc().timestamp_millis(),
    })
}

/// A time as written: an exact instant (it names its offset), or a wall-clock time that
/// needs a time zone (a CRM export's `22.11.2026 13:45`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeText {
    /// Milliseconds since the epoch.
    Exact(i64),
    /// A local date and time, zone not given.
    Local(NaiveDateTime),
}

/// Read a time the way [`parse_time_str`] does, but keep a time without an offset local.
pub fn parse_time_parts(s: &str) -> Result<TimeText, String> {
    let t = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(TimeText::Exact(dt.timestamp_millis()));
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M", "%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M"]
    {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, fmt) {
            return Ok(TimeText::Local(n));
        }
    }
    for fmt in ["%Y-%m-%d", "%d.%m.%Y", "%d/%m/%Y"] {
        if let Ok(d) = NaiveDate::parse_from_str(t, fmt) {
            return Ok(TimeText::Local(d.and_hms_opt(0, 0, 0).expect("midnight exists")));
        }
    }
    Err(format!("{s:?} is not a time; use ISO 8601 such as 2026-11-22T13:45:00Z"))
}

/// Format milliseconds since the epoch as RFC 3339 UTC with milliseconds.
pub fn format_time(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| ms.to_string())
}

/// The UTC date of unix milliseconds, `YYYY-MM-DD`.
pub fn format_date(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .map(|d| d.format("%Y-%m-%d").to_string())
        .unwrap_or_else(|| ms.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dates_are_utc_days() {
        assert_eq!(format_date(0), "1970-01-01");
        assert_eq!(format_date(20_000 * 86_400_000 - 1), "2024-10-03");
        assert_eq!(format_date(20_000 * 86_400_000), "2024-10-04");
    }

    const NOW: i64 = 1_790_000_000_000;

    fn cx() -> ParseContext<'static> {
        ParseContext { received_at: NOW, ..Default::default() }
    }

    /// Parse `v` as a batch item and return the error text, or "ok".
    fn check(v: Value, want: &str) {
        let got = match Event::parse(v.clone(), &cx(), &Limits::default()) {
            Ok(_) => "ok".to_string(),
            Err(e) => e.to_string(),
        };
        assert!(got.contains(want), "for {v}\n  got  {got}\n  want {want}");
    }

    #[test]
    fn validation_names_the_field() {
        check(json!({"type":"track","event":"A","userId":"u"}), "ok");
        check(json!({"type":"TRACK","event":"A","anonymousId":"a"}), "ok");
        check(json!({"event":"A","userId":"u"}), "type: is missing");
        check(json!({"type":"bogus","userId":"u"}), "type: unknown type \"bogus\"");
        check(json!({"type":"track","userId":"u"}), "event: is required");
        check(json!({"type":"track","event":"","userId":"u"}), "event: is required");
        check(json!({"type":"track","event":5,"userId":"u"}), "event: must be a string, not a number");
        check(json!({"type":"track","event":"A"}), "userId: either userId or anonymousId is required");
        check(json!({"type":"track","event":"A","userId":""}), "either userId or anonymousId");
        check(json!({"type":"track","event":"A","userId":{"a":1}}), "userId: must be a string, not an object");
        check(json!({"type":"track","event":"A","userId":42}), "ok");
        // NUL cannot be kept as text by every store (PostgreSQL): refused where it is.
        check(json!({"type":"track","event":"A","userId":"u\u{0}x"}), "userId: must not contain the NUL character");
        check(json!({"type":"track","event":"A\u{0}","userId":"u"}), "event: must not contain the NUL character");
        check(json!({"type":"page","name":"\u{0}","anonymousId":"a"}), "name: must not contain the NUL character");
        check(json!({"type":"track","event":"A","userId":"u","messageId":"m\u{0}"}), "messageId: must not contain");
        check(json!({"type":"track","event":"A","userId":"u","properties":{"note":"a\u{0}b"}}), "ok");
        check(json!({"type":"track","event":"A","anonymousId":1.5e3}), "ok");
        check(
            json!({"type":"track","event":"A","userId":"u","properties":[1]}),
            "properties: must be an object, not an array",
        );
        check(json!({"type":"track","event":"A","userId":"u","context":"x"}), "context: must be an object");
        check(json!({"type":"alias","userId":"u"}), "previousId: is required for alias");
        check(json!({"type":"alias","previousId":"a"}), "userId: is required for alias");
        check(json!({"type":"group","userId":"u"}), "groupId: is required for group");
        check(json!({"type":"page","userId":"u"}), "ok");
        check(
            json!({"type":"track","event":"A","userId":"u","timestamp":"yesterday"}),
            "timestamp: \"yesterday\" is not a time",
        );
        check(
            json!({"type":"track","event":"A","userId":"u","timestamp":true}),
            "timestamp: must be an ISO-8601 time string",
        );
        check(json!([1, 2]), "an event must be a JSON object, not an array");
    }

    #[test]
    fn numeric_ids_are_their_string_form_and_the_write_key_is_not_kept() {
        let parse = |v: Value| Event::parse(v, &cx(), &Limits::default()).unwrap();
        let n = parse(json!({"type":"track","event":"A","userId":42,"anonymousId":7,"messageId":9,"writeKey":"tpw_x"}));
        let s = parse(json!({"type":"track","event":"A","userId":"42","anonymousId":"7","messageId":"9"}));
        assert_eq!(
            (n.user_id.as_deref(), n.anonymous_id.as_deref(), n.message_id.as_str()),
            (Some("42"), Some("7"), "9")
        );
        assert_eq!(n.body_json, s.body_json, "the stored body holds the ids as strings and no writeKey");
        assert!(!n.body_json.contains("writeKey"));
        let text = r#"{"type":"track","event":"A","userId":"u","messageId":"m","writeKey":"tpw_x"}"#;
        assert!(
            Event::parse_fast(text, &cx(), &Limits::default()).is_none(),
            "the fast path leaves it to the full one"
        );
    }

    #[test]
    fn only_a_believed_sender_verifies_an_address() {
        let traits = |v: Value, vouched: bool| {
            let cx = ParseContext { vouched, ..cx() };
            let e = json!({"type": "identify", "userId": "u", "traits": v});
            Event::parse(e, &cx, &Limits::default()).unwrap().traits.map(Value::Object)
        };
        let forged = json!({"email": "victim@b.cz", "$verified_email": "victim@b.cz", "plan": "pro"});
        assert_eq!(traits(forged.clone(), false), Some(json!({"email": "victim@b.cz", "plan": "pro"})));
        assert_eq!(traits(json!({"$verified_email": "x@b.cz"}), false), None, "nothing left");
        let own = json!({"email": " Jana@b.cz ", "$verified_email": "other@b.cz"});
        assert_eq!(traits(own, true), Some(json!({"email": " Jana@b.cz ", "$verified_email": "Jana@b.cz"})));
        // A believed sender taking the address away takes the verified one too.
        assert_eq!(traits(json!({"email": null}), true), Some(json!({"email": null, "$verified_email": null})));
        assert_eq!(traits(json!({"email": ""}), true), Some(json!({"email": "", "$verified_email": null})));
        // What is not an address verifies nothing.
        assert_eq!(traits(json!({"email": "none"}), true), Some(json!({"email": "none"})));
        assert_eq!(traits(json!({"email": 5}), true), Some(json!({"email": 5})));
    }

    #[test]
    fn an_identify_takes_its_traits_from_the_context_when_it_has_none_of_its_own() {
        let parse = |v: Value| Event::parse(v, &cx(), &Limits::default()).unwrap().traits;
        let rudder = json!({"type":"identify","userId":"u","context":{"traits":{"email":"a@b.cz"}}});
        assert_eq!(parse(rudder.clone()).unwrap()["email"], "a@b.cz");
        let own = json!({"type":"identify","userId":"u","traits":{"email":"own@b.cz"},"context":{"traits":{"email":"a@b.cz"}}});
        assert_eq!(parse(own).unwrap()["email"], "own@b.cz", "the event's own traits win");
        assert!(parse(json!({"type":"track","event":"E","userId":"u","context":{"traits":{"x":1}}})).is_none());
        let text =
            json!({"type":"identify","userId":"u","messageId":"m","context":{"traits":{"email":"a@b.cz"}}}).to_string();
        assert!(Event::parse_fast(&text, &cx(), &Limits::default()).is_none(), "left to the full way");
    }

    #[test]
    fn batch_paths_prefix_the_field() {
        let c = ParseContext { path: "batch[3]".into(), ..cx() };
        let e = Event::parse(json!({"type":"track","userId":"u"}), &c, &Limits::default()).unwrap_err();
        assert_eq!(e.field, "batch[3].event");
    }

    #[test]
    fn depth_and_size_limits() {
        let mut deep = json!(1);
        for _ in 0..30 {
            deep = json!({ "x": deep });
        }
        check(json!({"type":"track","event":"A","userId":"u","properties":deep}), "levels deep");
        let big = "x".repeat(40 * 1024);
        check(json!({"type":"track","event":"A","userId":"u","properties":{"b":big}}), "bytes; at most 32768");
        // A single event's body is the root: no empty field before the message.
        let e = Event::parse(
            json!({"type":"track","event":"A","userId":"u","properties":{"b":big}}),
            &cx(),
            &Limits::default(),
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("the event is "), "{e}");
        let c = ParseContext { path: "batch[2]".into(), ..cx() };
        let e = Event::parse(json!([1]), &c, &Limits::default()).unwrap_err();
        assert_eq!(e.to_string(), "batch[2]: an event must be a JSON object, not an array");
    }

    #[test]
    fn skew_is_corrected_the_segment_way() {
        // The device clock is 10 minutes fast: it says the event happened at 12:10 and was
        // sent at 12:11, and the server got it at NOW.
        let v = json!({"type":"track","event":"A","userId":"u",
            "originalTimestamp":"2026-01-01T12:10:00Z","sentAt":"2026-01-01T12:11:00Z"});
        let e = Event::parse(v, &cx(), &Limits::default()).unwrap();
        assert_eq!(e.timestamp, NOW - 60_000);
        assert!(e.flags.has(EventFlags::SKEW_CORRECTED));
        // An explicit timestamp is used as it is.
        let v = json!({"type":"track","event":"A","userId":"u","timestamp":"2020-05-01T00:00:00+02:00",
            "sentAt":"2026-01-01T12:11:00Z"});
        let e = Event::parse(v, &cx(), &Limits::default()).unwrap();
        assert_eq!(format_time(e.timestamp), "2020-04-30T22:00:00.000Z");
    }

    #[test]
    fn far_future_is_clamped_and_the_past_is_kept() {
        for (ts, clamped) in [("9999-12-31T23:59:59Z", true), ("1970-01-01T00:00:00Z", false)] {
            let v = json!({"type":"track","event":"A","userId":"u","timestamp":ts});
            let e = Event::parse(v, &cx(), &Limits::default()).unwrap();
            assert_eq!(e.flags.has(EventFlags::TIMESTAMP_CLAMPED), clamped, "{ts}");
            if clamped {
                assert_eq!(e.timestamp, NOW);
            } else {
                assert_eq!(e.timestamp, 0);
            }
        }
        // Tomorrow is within a day: kept as sent.
        let tomorrow = format_time(NOW + DAY_MS - 1000);
        let v = json!({"type":"track","event":"A","userId":"u","timestamp":tomorrow});
        let e = Event::parse(v, &cx(), &Limits::default()).unwrap();
        assert_eq!(e.timestamp, NOW + DAY_MS - 1000);
    }

    #[test]
    fn names_are_nfc_normalized() {
        let nfd = "Objedna\u{301}vka";
        let v = json!({"type":"track","event":nfd,"userId":"u"});
        let e = Event::parse(v, &cx(), &Limits::default()).unwrap();
        assert_eq!(e.name.as_deref(), Some("Objednávka"));
    }

    #[test]
    fn message_ids_are_assigned_or_derived() {
        let v = json!({"type":"track","event":"A","userId":"u","timestamp":"2026-01-01"});
        let a = Event::parse(v.clone(), &cx(), &Limits::default()).unwrap();
        let b = Event::parse(v.clone(), &cx(), &Limits::default()).unwrap();
        assert_ne!(a.message_id, b.message_id, "random ids for API events");
        assert!(a.flags.has(EventFlags::MESSAGE_ID_ASSIGNED));
        let d = ParseContext { derive_message_id: true, ..cx() };
        let a = Event::parse(v.clone(), &d, &Limits::default()).unwrap();
        let b = Event::parse(v, &d, &Limits::default()).unwrap();
        assert_eq!(a.message_id, b.message_id, "derived ids are stable");
    }

    #[test]
    fn merge_patch_follows_rfc_7396() {
        let mut t = json!({"a":"b","c":{"d":"e","f":"g"},"x":1}).as_object().unwrap().clone();
        let p = json!({"a":"z","c":{"f":null,"h":{"i":null}},"x":null}).as_object().unwrap().clone();
        merge_patch(&mut t, &p);
        assert_eq!(Value::Object(t), json!({"a":"z","c":{"d":"e","h":{}}}));
    }

    #[test]
    fn time_formats() {
        for (s, want) in [
            ("2026-11-22T13:45:00Z", "2026-11-22T13:45:00.000Z"),
            ("2026-11-22T13:45:00.123+01:00", "2026-11-22T12:45:00.123Z"),
            ("2026-11-22 13:45:00", "2026-11-22T13:45:00.000Z"),
            ("2026-11-22", "2026-11-22T00:00:00.000Z"),
            ("22.11.2026", "2026-11-22T00:00:00.000Z"),
            ("22.11.2026 08:05", "2026-11-22T08:05:00.000Z"),
        ] {
            assert_eq!(format_time(parse_time_str(s).unwrap()), want, "{s}");
        }
        assert!(parse_time_str("10000-01-01T00:00:00Z").is_err());
    }
}
