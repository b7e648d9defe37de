//! The fast path of event parsing: an event whose JSON text is already well-formed in the
//! common way (its own `type` and `messageId`, string ids and times, no batch-level
//! context to merge) is read straight from its text, borrowing strings, without building
//! a JSON tree, and its text is kept as the stored body.
//!
//! It never decides anything on its own: whenever an event is unusual or wrong in any way
//! it answers `None`, and the caller parses it the full way ([`Event::parse`]), which
//! gives the error. So both paths accept the same events and make the same [`Event`]
//! (tested on every generated event and on edge cases in `tests/fast_parse.rs`).

use super::{
    nfc, parse_time, parse_time_str, seal_traits, settle_time, Event, EventFlags, EventType, Limits, ParseContext,
};
use crate::catalog::{FactSources, Facts};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// The top-level fields the parser looks at; any other field is skipped (and kept in the
/// body text). Strings are borrowed, so one with an escape sends the event the full way.
#[derive(Deserialize)]
struct Top<'a> {
    #[serde(rename = "type")]
    kind: Option<&'a str>,
    #[serde(rename = "messageId")]
    message_id: Option<&'a str>,
    #[serde(rename = "userId")]
    user_id: Option<&'a str>,
    #[serde(rename = "anonymousId")]
    anonymous_id: Option<&'a str>,
    #[serde(rename = "previousId")]
    previous_id: Option<&'a str>,
    #[serde(rename = "groupId")]
    group_id: Option<&'a str>,
    event: Option<&'a str>,
    name: Option<&'a str>,
    timestamp: Option<&'a str>,
    #[serde(rename = "originalTimestamp")]
    original_timestamp: Option<&'a str>,
    #[serde(rename = "sentAt")]
    sent_at: Option<&'a str>,
    /// Read for its facts as it is scanned: the text is walked once.
    #[serde(borrow)]
    properties: Option<Object<Page<'a>>>,
    #[serde(borrow)]
    traits: Option<&'a RawValue>,
    #[serde(borrow)]
    context: Option<Object<Context<'a>>>,
    #[serde(borrow)]
    integrations: Option<&'a RawValue>,
    /// The event's own channel (a fact).
    channel: Option<&'a str>,
    /// A credential the full way takes out of the body.
    #[serde(rename = "writeKey")]
    write_key: Option<serde::de::IgnoredAny>,
}

/// `T` read from a JSON object and nothing else. serde's derived structs also take an
/// array, field by field in order, which the full path would not read as these fields.
struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Only<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Only<T> {
            type Value = Object<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Object<T>, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Object)
            }
        }
        d.deserialize_map(Only(std::marker::PhantomData))
    }
}

/// A string, borrowed from the text unless it has escapes. (serde borrows a `Cow` only
/// when it is a field's whole type, never inside an `Option`.)
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Borrowing<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for Borrowing<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, s: &'de str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Borrowed(s)))
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Text<'a>, E> {
                Ok(Text(Cow::Owned(s.to_string())))
            }
        }
        d.deserialize_str(Borrowing(std::marker::PhantomData))
    }
}

impl std::ops::Deref for Text<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// The page fields of `properties` or `context.page`.
#[derive(Deserialize, Default)]
struct Page<'a> {
    #[serde(borrow)]
    url: Option<Text<'a>>,
    #[serde(borrow)]
    path: Option<Text<'a>>,
    #[serde(borrow)]
    referrer: Option<Text<'a>>,
}

#[derive(Deserialize, Default)]
struct Campaign<'a> {
    #[serde(borrow)]
    medium: Option<Text<'a>>,
    #[serde(borrow)]
    source: Option<Text<'a>>,
    #[serde(borrow)]
    name: Option<Text<'a>>,
}

#[derive(Deserialize, Default)]
struct Context<'a> {
    #[serde(borrow)]
    page: Option<Object<Page<'a>>>,
    #[serde(borrow)]
    campaign: Option<Object<Campaign<'a>>>,
}

/// The deepest nesting of objects and arrays in JSON text (a flat object is 1), as
/// [`super::depth_of`] counts it on the tree.
fn text_depth(text: &[u8]) -> usize {
    let (mut depth, mut max, mut in_string, mut escaped) = (0usize, 0usize, false, false);
    for &b in text {
        if in_string {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                max = max.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// Whether an id or name has more characters than allowed; a string of no more bytes
/// than that cannot, and is not counted.
fn too_long(s: &str, limits: &Limits) -> bool {
    s.len() > limits.max_id_chars && s.chars().count() > limits.max_id_chars
}

/// An object's raw text, or `None` when the value is something else.
fn object(v: Option<&RawValue>) -> Result<Option<&RawValue>, ()> {
    match v {
        None => Ok(None),
        Some(r) if r.get().starts_with('{') => Ok(Some(r)),
        Some(r) if r.get() == "null" => Ok(None),
        Some(_) => Err(()),
    }
}

/// Where the `properties` object is in an event's JSON text, if it has one.
pub(crate) fn properties_in(text: &str) -> Option<&str> {
    #[derive(Deserialize)]
    struct Parts<'a> {
        #[serde(borrow)]
        properties: Option<&'a RawValue>,
    }
    let parts: Parts<'_> = serde_json::from_str(text).ok()?;
    object(parts.properties).ok()?.map(RawValue::get)
}

impl Event {
    /// Parse an event from its JSON text the fast way, or `None` when it must take the
    /// full way (see the module documentation). Never wrong where it answers.
    pub fn parse_fast(text: &str, cx: &ParseContext<'_>, limits: &Limits) -> Option<Event> {
        let text = text.trim_matches(|c: char| c.is_ascii_whitespace());
        if !text.starts_with('{') || text.len() > limits.max_event_bytes || cx.batch_context.is_some() {
            return None;
        }
        let top: Top<'_> = serde_json::from_str(text).ok()?;
        // Nesting can only be as deep as there are brackets: count them first (a quick,
        // vectorized pass), and walk the text only when there are many.
        let brackets = text.bytes().filter(|&b| b == b'{' || b == b'[').count();
        if brackets > limits.max_depth && text_depth(text.as_bytes()) > limits.max_depth {
            return None;
        }
        // The body must already say what the full way would write into it.
        if top.write_key.is_some() {
            return None;
        }
        let kind = EventType::parse(top.kind?)?;
        if cx.endpoint_type.is_some_and(|t| t != kind) {
            return None;
        }
        let id = |v: Option<&str>| -> Result<Option<String>, ()> {
            match v {
                None => Ok(None),
                Some(s) if s.trim().is_empty() => Ok(None),
                Some(s) if too_long(s, limits) => Err(()),
                Some(s) => Ok(Some(nfc(s))),
            }
        };
        let message_id = id(top.message_id).ok()??;
        let user_id = id(top.user_id).ok()?;
        let anonymous_id = id(top.anonymous_id).ok()?;
        let (mut previous_id, mut group_id) = (None, None);
        match kind {
            EventType::Alias => {
                previous_id = Some(id(top.previous_id).ok()??);
                user_id.as_ref()?;
            }
            _ if user_id.is_none() && anonymous_id.is_none() => return None,
            _ => {}
        }
        if kind == EventType::Group {
            group_id = Some(id(top.group_id).ok()??);
        }
        let name = match kind {
            EventType::Track => Some(nfc(top.event.map(str::trim).filter(|s| !s.is_empty())?)),
            EventType::Page | EventType::Screen => top.name.map(str::trim).filter(|s| !s.is_empty()).map(nfc),
            _ => None,
        };
        if name.as_deref().is_some_and(|n| too_long(n, limits)) {
            return None;
        }
        let traits = object(top.traits).ok()?;
        object(top.integrations).ok()?;

        let mut flags = 0u32;
        let time = |v: Option<&str>| v.map(parse_time_str).transpose();
        let explicit = time(top.timestamp).ok()?;
        let original = time(top.original_timestamp).ok()?;
        let sent_at = match top.sent_at {
            Some(s) => Some(parse_time_str(s).ok()?),
            None => match cx.batch_sent_at {
                Some(v) => Some(parse_time(v).ok()?),
                None => None,
            },
        };
        let timestamp = settle_time(explicit, original, sent_at, cx.received_at, &mut flags);
        if cx.imported {
            flags |= EventFlags::IMPORTED;
        }

        let facts = facts_from(top.properties.map(|p| p.0), top.context.map(|c| c.0), top.channel);
        let traits = match (kind, traits) {
            // Traits may be in the context (RudderStack): the full way looks there.
            (EventType::Identify, None) => return None,
            (EventType::Identify, Some(t)) => {
                let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(t.get()).ok()?;
                if map.is_empty() {
                    return None;
                }
                Some(map)
            }
            _ => None,
        };
        let traits = seal_traits(traits, cx.vouched);
        Some(Event {
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
            body_json: text.to_string(),
        })
    }

    /// An event body's facts, read from its text (a stored body, for re-classification)
    /// without building a tree; `None` when a field there has an unexpected type, and then
    /// [`Facts::of`] on the parsed object decides.
    pub fn facts_of_text(text: &str) -> Option<Facts> {
        #[derive(Deserialize)]
        struct Parts<'a> {
            #[serde(borrow)]
            properties: Option<Object<Page<'a>>>,
            #[serde(borrow)]
            context: Option<Object<Context<'a>>>,
            channel: Option<&'a str>,
        }
        let parts: Parts<'_> = serde_json::from_str(text).ok()?;
        Some(facts_from(parts.properties.map(|p| p.0), parts.context.map(|c| c.0), parts.channel))
    }
}

/// The facts from the `properties` and `context` objects.
fn facts_from(properties: Option<Page<'_>>, context: Option<Context<'_>>, channel: Option<&str>) -> Facts {
    let page = properties.unwrap_or_default();
    let ctx = context.unwrap_or_default();
    let cpage = ctx.page.map(|p| p.0).unwrap_or_default();
    let camp = ctx.campaign.map(|c| c.0).unwrap_or_default();
    Facts::from_sources(&FactSources {
        url: page.url.as_deref(),
        path: page.path.as_deref(),
        referrer: page.referrer.as_deref(),
        page_url: cpage.url.as_deref(),
        page_path: cpage.path.as_deref(),
        page_referrer: cpage.referrer.as_deref(),
        medium: camp.medium.as_deref(),
        source: camp.source.as_deref(),
        campaign: camp.name.as_deref(),
        channel,
    })
}
