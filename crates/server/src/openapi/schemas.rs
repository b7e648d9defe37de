//! What the derived document cannot say by itself, written as JSON Schema and applied to
//! the document once: the capture routes' event bodies (ids that may be strings or
//! numbers, a type per route, the ids each type needs), the catalog's rules, one operation
//! per analysis and per listening analysis (each with its own query), survey definitions,
//! and the exact shape of every parameter the parsers check (enums, patterns, ranges).
//!
//! The rule: a request the document allows is one the parsers accept, and a request it
//! forbids is one they refuse; `tests/openapi_conformance.rs` holds the server to it with
//! schemathesis. Where JSON Schema cannot express a check (two fields compared with each
//! other, ids unique within a list), the operation's description says so.

use serde_json::{json, Map, Value};

/// White space as `str::trim` sees it (Unicode `White_Space`), spelled out rather than
/// `\s`, whose meaning differs between regex engines (Python's includes `\x1c`–`\x1f`).
const WS: &str = r"\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

/// A string with something besides white space in it.
fn nonblank() -> String {
    format!("[^{WS}]")
}

/// A string of white space only (or empty).
fn blank() -> String {
    format!("^[{WS}]*$")
}

/// Case-insensitive ASCII spelling of a word as a regex (`[Tt][Rr]…`).
fn any_case(word: &str) -> String {
    word.chars()
        .map(|c| {
            if c.is_ascii_alphabetic() {
                format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase())
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Decimal digits of a number from 0 to `max` without leading zeros, as a regex.
fn up_to(max: &str) -> String {
    format!("(?:0|{})", from_one_to(max))
}

/// Decimal digits of a number from 1 to `max` without leading zeros, as a regex.
fn from_one_to(max: &str) -> String {
    let d: Vec<u32> = max.chars().map(|c| c.to_digit(10).expect("a decimal number")).collect();
    let n = d.len();
    let mut alts = vec![];
    if n > 1 {
        // Fewer digits than `max`.
        alts.push(format!("[1-9][0-9]{{0,{}}}", n - 2));
    }
    // As many digits: equal to `max` up to position i, then smaller there.
    for i in 0..n {
        let low = if i == 0 { 1 } else { 0 };
        if d[i] > low {
            let prefix: String = d[..i].iter().map(|x| x.to_string()).collect();
            let rest = n - i - 1;
            let class = if d[i] - 1 == low { format!("{low}") } else { format!("[{low}-{}]", d[i] - 1) };
            alts.push(if rest == 0 { format!("{prefix}{class}") } else { format!("{prefix}{class}[0-9]{{{rest}}}") });
        }
    }
    alts.push(max.to_string());
    format!("(?:{})", alts.join("|"))
}

/// A 64-bit signed integer written the way Rust writes it (no `+`, no leading zeros, no
/// `-0`).
fn i64_text() -> String {
    format!("(?:0|-?{}|-9223372036854775808)", from_one_to("9223372036854775807"))
}

fn r(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

const I64_MIN: i64 = i64::MIN;
const I64_MAX: i64 = i64::MAX;
const U64_MAX: u64 = u64::MAX;

fn int(min: i64, max: i64) -> Value {
    json!({"type": "integer", "minimum": min, "maximum": max})
}

fn uint() -> Value {
    json!({"type": "integer", "minimum": 0, "maximum": U64_MAX})
}

fn nullable(mut schema: Value) -> Value {
    match schema.get_mut("type") {
        Some(Value::String(t)) => {
            let t = t.clone();
            schema["type"] = json!([t, "null"]);
            schema
        }
        _ => json!({"anyOf": [schema, {"type": "null"}]}),
    }
}

fn object(required: &[&str], properties: Value, closed: bool) -> Value {
    let mut o = json!({"type": "object", "properties": properties});
    if !required.is_empty() {
        o["required"] = json!(required);
    }
    if closed {
        o["additionalProperties"] = json!(false);
    }
    o
}

/// The schemas added to `components.schemas`.
fn components() -> Vec<(&'static str, Value)> {
    let mut out = vec![
        (
            "Time",
            json!({
                "description": "A time: an RFC 3339 date-time (a time without a zone is read as UTC), or milliseconds since 1970-01-01 UTC between the years 1 and 9999. More than a day after the request arrived counts as when it arrived (flagged).",
                "anyOf": [
                    {"type": "string", "format": "date-time"},
                    {"type": "integer", "minimum": -62_135_596_800_000_i64, "maximum": 253_402_300_799_999_i64},
                    {"type": "null"}
                ]
            }),
        ),
        (
            "EventId",
            json!({
                "description": "An id (`userId`, `anonymousId`, `messageId` …): a string of at most 256 characters, or a number, which is the same id as its decimal text. An empty or blank string, or null, counts as not given.",
                "anyOf": [
                    {"type": "string", "maxLength": 256},
                    {"type": "string", "pattern": blank()},
                    {"type": "number"},
                    {"type": "null"}
                ]
            }),
        ),
        (
            "GivenEventId",
            json!({
                "description": "An id that must be given: a string with something besides white space, of at most 256 characters, or a number.",
                "anyOf": [
                    {"type": "string", "maxLength": 256, "pattern": nonblank()},
                    {"type": "number"}
                ]
            }),
        ),
        (
            "Batch",
            object(
                &["batch"],
                json!({
                    "batch": {"type": "array", "items": r("BatchEvent"), "description": "The events; each is checked on its own, and those rejected are listed in the answer's `failed` and kept as failed events."},
                    "sentAt": {"description": "When the client sent the batch, for events without their own `sentAt` (clock-skew correction).", "anyOf": [{"type": "string", "format": "date-time"}, {"type": "integer", "minimum": -62_135_596_800_000_i64, "maximum": 253_402_300_799_999_i64}]},
                    "context": {"description": "Context merged under each event's own (an object; anything else is ignored)."},
                    "writeKey": {"description": "The write key, when the request carries none in its Authorization header (then ignored)."}
                }),
                false,
            ),
        ),
        (
            "RuleCondition",
            json!({
                "description": "One condition: what to look at (`field`, and for `property` its `name`, dots reaching into nested objects), how to compare (`op`) and with what (`value`, ignored by `exists`).",
                "anyOf": [
                    object(&["field", "name", "op"], json!({
                        "field": {"const": "property"},
                        "name": {"type": "string"},
                        "op": r("RuleOp"),
                        "value": {"type": "string"}
                    }), false),
                    object(&["field", "op"], json!({
                        "field": {"enum": ["utm_medium", "utm_source", "utm_campaign", "referrer_domain", "path"]},
                        "name": {"type": "null"},
                        "op": r("RuleOp"),
                        "value": {"type": "string"}
                    }), false)
                ]
            }),
        ),
        (
            "RuleOp",
            json!({"enum": ["equals", "not_equals", "prefix", "contains", "one_of", "exists", "gt", "gte", "lt", "lte"]}),
        ),
        (
            "Rule",
            object(
                &["priority", "touchpoint"],
                json!({
                    "id": {"type": "integer", "minimum": I64_MIN, "maximum": I64_MAX, "readOnly": true, "description": "Given by the store; ignored in a request (`PUT` takes it from the path)."},
                    "priority": {"type": "integer", "minimum": i32::MIN, "maximum": i32::MAX, "description": "Lower runs first; the built-in rules run from 10000 up."},
                    "touchpoint": {"type": "string", "description": "The key of an existing touchpoint (404 when there is none)."},
                    "event_type": {"enum": ["track", "page", "screen", "identify", "group", "alias", null]},
                    "event_name": {"type": ["string", "null"], "description": "Only events of this name (track event, page or screen name), exact after NFC."},
                    "conditions": {"type": "array", "items": r("RuleCondition"), "description": "All must hold."}
                }),
                false,
            ),
        ),
        (
            "AnalysisFilter",
            object(
                &[],
                json!({
                    "from": nullable(int(I64_MIN, I64_MAX)),
                    "to": nullable(int(I64_MIN, I64_MAX)),
                    "channels": {"type": "array", "items": {"type": "string"}},
                    "stages": {"type": "array", "items": {"type": "string"}},
                    "kind": {"type": ["string", "null"]},
                    "departments": {"type": "array", "items": {"type": "string"}},
                    "first_touch_channels": {"type": "array", "items": {"type": "string"}},
                    "traits": {"type": "object", "additionalProperties": {"type": "string"}}
                }),
                true,
            ),
        ),
        (
            "Breakdown",
            json!({
                "description": "How to split the customers: by their first touchpoint's channel, stage, kind or department, or by a trait (`{\"by\": \"trait\", \"name\": \"country\"}`), or the same as the command line writes it (`\"trait:country\"`, `\"first_touch_channel\"`, `\"channel\"`).",
                "anyOf": [
                    object(&["by"], json!({"by": {"enum": ["first_touch_channel", "first_touch_stage", "first_touch_kind", "first_touch_department"]}, "name": {"type": "null"}}), false),
                    object(&["by", "name"], json!({"by": {"const": "trait"}, "name": {"type": "string"}}), false),
                    {"type": "string", "pattern": "^(first_touch_(channel|stage|kind|department)|channel|stage|kind|department|trait:.+)$"},
                    {"type": "null"}
                ]
            }),
        ),
        (
            "Texts",
            json!({
                "description": "A text per locale (`{\"en\": \"…\", \"cs\": \"…\"}`).",
                "type": "object",
                "propertyNames": {"pattern": "^[A-Za-z0-9_-]{2,12}$"},
                "additionalProperties": {"type": "string"}
            }),
        ),
        (
            "Labels",
            json!({
                "description": "A label per locale (`{\"en\": \"…\", \"cs\": \"…\"}`).",
                "type": "object",
                "additionalProperties": {"type": "string"}
            }),
        ),
        (
            "RequiredLabels",
            json!({
                "description": "A label per locale, not blank in at least one.",
                "type": "object",
                "additionalProperties": {"type": "string"},
                "minProperties": 1,
                "not": {"additionalProperties": {"pattern": blank()}}
            }),
        ),
        (
            "RequiredTexts",
            json!({
                "description": "A text per locale, not blank in at least one.",
                "type": "object",
                "propertyNames": {"pattern": "^[A-Za-z0-9_-]{2,12}$"},
                "additionalProperties": {"type": "string"},
                "minProperties": 1,
                "not": {"additionalProperties": {"pattern": blank()}}
            }),
        ),
        ("SurveyKey", json!({"type": "string", "pattern": "^[A-Za-z0-9_-]{1,64}$"})),
        ("Choice", object(&["key", "label"], json!({"key": r("SurveyKey"), "label": r("RequiredLabels")}), false)),
        (
            "ShowIf",
            object(
                &["question"],
                json!({
                    "question": {"type": "string", "description": "The id of an earlier question."},
                    "min": nullable(int(I64_MIN, I64_MAX)),
                    "max": nullable(int(I64_MIN, I64_MAX)),
                    "any_of": {"type": "array", "items": {"type": "string"}}
                }),
                false,
            ),
        ),
    ];
    out.extend(event_components());
    out.push(("Question", question()));
    out.push(("SurveyDefinition", survey_definition()));
    out
}

/// The six event types' bodies for their own routes, and the batch member.
fn event_components() -> Vec<(&'static str, Value)> {
    let time = r("Time");
    let obj = || json!({"type": ["object", "null"]});
    let common = || {
        json!({
            "messageId": r("EventId"),
            "userId": r("EventId"),
            "anonymousId": r("EventId"),
            "timestamp": time,
            "originalTimestamp": time,
            "sentAt": time,
            "properties": obj(),
            "traits": obj(),
            "context": obj(),
            "integrations": obj(),
            "writeKey": {"description": "The write key, when the request carries none in its Authorization header (then ignored)."}
        })
    };
    let name = || {
        json!({"anyOf": [{"type": "string", "maxLength": 256}, {"type": "string", "pattern": blank()}, {"type": "null"}],
               "description": "Page or screen name (at most 256 characters)."})
    };
    // One variant: a type, the fields it adds, the ids it needs.
    let variant = |kind: &str, batch: bool, ids: &[&str]| -> Value {
        let mut props = common();
        let p = props.as_object_mut().expect("an object");
        let mut required: Vec<&str> = vec![];
        match kind {
            "track" => {
                p.insert(
                    "event".into(),
                    json!({"type": "string", "pattern": nonblank(), "maxLength": 256, "description": "What the customer did (`Order Completed`)."}),
                );
                required.push("event");
            }
            "page" | "screen" => {
                p.insert("name".into(), name());
            }
            "group" => {
                p.insert("groupId".into(), r("GivenEventId"));
                required.push("groupId");
            }
            "alias" => {
                p.insert("previousId".into(), r("GivenEventId"));
                required.push("previousId");
            }
            _ => {}
        }
        for id in ids {
            p.insert((*id).into(), r("GivenEventId"));
            required.push(id);
        }
        if batch {
            p.insert("type".into(), json!({"type": "string", "pattern": format!("^{}$", any_case(kind))}));
            required.insert(0, "type");
        } else {
            p.insert("type".into(), json!({"description": "Ignored: the route says the type."}));
        }
        object(&required, props, false)
    };
    let variants = |kind: &str, batch: bool| -> Vec<Value> {
        if kind == "alias" {
            vec![variant(kind, batch, &["userId"])]
        } else {
            vec![variant(kind, batch, &["userId"]), variant(kind, batch, &["anonymousId"])]
        }
    };
    let kinds = [
        ("TrackEvent", "track", "An action the customer took: `event` names it."),
        ("PageEvent", "page", "A web page view."),
        ("ScreenEvent", "screen", "An app screen view."),
        ("IdentifyEvent", "identify", "Who the customer is, with `traits` (or `context.traits`)."),
        ("GroupEvent", "group", "The customer's group (company, account): `groupId`."),
        ("AliasEvent", "alias", "Two ids of one person: `previousId` becomes `userId`."),
    ];
    let mut out = vec![];
    let mut all = vec![];
    for (schema, kind, what) in kinds {
        let mut v = json!({"anyOf": variants(kind, false)});
        v["description"] = json!(format!(
            "{what} A Segment-spec event: `userId` or `anonymousId` (alias: `userId` and `previousId`); other fields are kept as sent. At most 32 KB and 24 levels deep."
        ));
        out.push((schema, v));
        all.extend(variants(kind, true));
    }
    out.push((
        "BatchEvent",
        json!({"anyOf": all, "description": "One event of a batch: as on its own route, with `type` (track, page, screen, identify, group or alias, in any case)."}),
    ));
    out
}

fn question() -> Value {
    let base = || {
        json!({
            "id": r("SurveyKey"),
            "text": r("RequiredTexts"),
            "help": r("Texts"),
            "required": {"type": "boolean"},
            "area": {"type": ["string", "null"]},
            "show_if": nullable(r("ShowIf"))
        })
    };
    let kind = |t: &str, extra: Value, required: &[&str]| {
        let mut p = base();
        p["type"] = json!({"const": t});
        for (k, v) in extra.as_object().expect("an object") {
            p[k] = v.clone();
        }
        let mut req = vec!["id", "type", "text"];
        req.extend_from_slice(required);
        object(&req, p, false)
    };
    let choices = json!({"type": "array", "minItems": 1, "items": r("Choice")});
    json!({
        "description": "A question: `nps` (0–10), `csat` (1–5), `ces` (1–7), `rating` (`min` < `max` within −100…100, default 0–10), `single` and `multiple` (options), `text`, `matrix` (areas, each 0–10) or `pair` (expectation and experience, 0–10). Ids, option keys and area keys are unique; `show_if` names an earlier question.",
        "anyOf": [
            kind("nps", json!({}), &[]),
            kind("csat", json!({}), &[]),
            kind("ces", json!({}), &[]),
            kind("rating", json!({"min": int(-100, 99), "max": int(-99, 100)}), &[]),
            kind("single", json!({"options": choices}), &["options"]),
            kind("multiple", json!({"options": choices}), &["options"]),
            kind("text", json!({"multiline": {"type": "boolean"}}), &[]),
            kind("matrix", json!({"areas": choices}), &["areas"]),
            kind("pair", json!({"expectation": r("Labels"), "experience": r("Labels")}), &[])
        ]
    })
}

fn survey_definition() -> Value {
    let mut d = object(
        &["title", "questions"],
        json!({
            "title": r("RequiredTexts"),
            "intro": r("Texts"),
            "thank_you": r("Texts"),
            "default_locale": {"type": "string", "pattern": "^[A-Za-z0-9_-]{2,12}$"},
            "questions": {"type": "array", "minItems": 1, "maxItems": 100, "items": r("Question")},
            "trigger": {"type": ["string", "null"], "description": "The touchpoint whose occurrence invites to the survey."},
            "dimensions": {"type": "array", "items": r("SurveyKey")}
        }),
        false,
    );
    d["description"] = json!("A survey definition. Besides what this schema says, question ids are unique, option and area keys are unique within their question, a `show_if` names an earlier question (`min`/`max` of a scored one, `any_of` of a choice one), and a rating's `min` is below its `max`: JSON Schema cannot say these, the server answers 400 naming the field.");
    d
}

/// The analyses of `POST /api/analytics/{kind}`: name, whether the body may be left out,
/// the query's schema.
fn analyses() -> Vec<(&'static str, bool, Value)> {
    let key = || json!({"type": "string", "description": "A touchpoint key."});
    let mut horizon = int(1, I64_MAX);
    horizon["description"] =
        json!("Seconds without an event that are churn (default: the project's `churn_horizon_days`).");
    let journey_map = object(
        &[],
        json!({
            "goal": {"type": ["string", "null"], "description": "The goal touchpoint's key (default: the first conversion touchpoint)."},
            "now_s": {"type": "integer", "minimum": I64_MIN, "maximum": I64_MAX, "description": "End of observation, unix seconds (default: now, or the last second of the filter's period when it ends earlier)."},
            "churn_horizon_s": horizon,
            "alpha": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "description": "False-discovery rate (default 0.05)."},
            "min_customers": uint(),
            "compare": {"enum": ["stage", "all"]}
        }),
        false,
    );
    // `dropped_step` is a step that has a next one: below the number of steps.
    let mut dropped: Vec<Value> = vec![json!({"properties": {"dropped_step": {"type": "null"}}})];
    for d in 1..32 {
        dropped.push(json!({"properties": {"dropped_step": {"maximum": d}, "steps": {"minItems": d + 1}}}));
    }
    let mut funnel = object(
        &["steps"],
        json!({
            "steps": {"type": "array", "minItems": 1, "maxItems": 32, "items": key()},
            "window_s": int(1, I64_MAX),
            "mode": {"enum": ["default", "strict"]},
            "dropped_step": {"type": ["integer", "null"], "minimum": 1, "maximum": 31},
            "dropped_limit": uint()
        }),
        true,
    );
    funnel["anyOf"] = json!(dropped);
    let transitions = object(
        &[],
        json!({"top": {"type": "integer", "minimum": 1, "maximum": U64_MAX}, "collapse_repeats": {"type": "boolean"}}),
        true,
    );
    let mut sankey = object(
        &[],
        json!({
            "start": {"type": ["string", "null"]},
            "end": {"type": ["string", "null"]},
            "steps": int(1, 10),
            "collapse_repeats": {"type": "boolean"},
            "min_share": {"type": "number", "minimum": 0, "maximum": 1}
        }),
        true,
    );
    sankey["description"] = json!("Exactly one of `start` and `end`.");
    sankey["oneOf"] = json!([
        {"required": ["start"], "properties": {"start": {"type": "string"}, "end": {"type": "null"}}},
        {"required": ["end"], "properties": {"end": {"type": "string"}, "start": {"type": "null"}}}
    ]);
    let mut retention = object(
        &[],
        json!({
            "cohort": {"anyOf": [{"const": "first_seen"}, object(&["first_touchpoint"], json!({"first_touchpoint": key()}), true)]},
            "returning": {"type": ["string", "null"]},
            "period": {"enum": ["day", "week", "month"]},
            "periods": int(1, 1000),
            "tz_offset_s": int(-86_399, 86_399),
            "tz_transitions": {"type": "array", "items": {"type": "array", "prefixItems": [int(I64_MIN, I64_MAX), int(-86_399, 86_399)], "minItems": 2, "maxItems": 2}},
            "from": nullable(int(I64_MIN, I64_MAX)),
            "to": nullable(int(I64_MIN, I64_MAX))
        }),
        true,
    );
    retention["description"] = json!("`from` is before `to` and `tz_transitions` are in time order (JSON Schema cannot say so; the server answers 400).");
    let churn = object(
        &[],
        json!({
            "now_s": {"type": "integer", "minimum": I64_MIN, "maximum": I64_MAX, "description": "End of observation, unix seconds (default: now, or the last second of the filter's period when it ends earlier)."},
            "churn_horizon_s": horizon,
            "last_k": uint(),
            "alpha": {"type": "number", "exclusiveMinimum": 0, "maximum": 1, "description": "False-discovery rate (default 0.05)."},
            "min_customers": uint(),
            "max_customer_ids": uint(),
            "left_from_s": {"type": ["integer", "null"], "minimum": I64_MIN, "maximum": I64_MAX,
                "description": "Only who left at or after this (unix seconds) counts; those who had left before are not counted at all. Default: the filter's `from`, and the events of one churn horizon before it are read too."}
        }),
        false,
    );
    let models = [
        "first-touch",
        "last-touch",
        "linear",
        "time-decay",
        "position-based",
        "markov",
        "markov-2",
        "markov-3",
        "shapley",
    ];
    let attribution = object(
        &[],
        json!({
            "goal": {"type": "string", "description": "The goal touchpoint's key; empty: the project's one conversion goal."},
            "conversions": {"enum": ["first", "every"]},
            "lookback_s": int(0, I64_MAX),
            "by": {"enum": ["touchpoint", "channel"]},
            "half_life_s": int(1, I64_MAX),
            "models": {"type": "array", "minItems": 1, "items": {"enum": models}}
        }),
        true,
    );
    vec![
        ("journey-map", false, journey_map),
        ("funnel", true, funnel),
        ("transitions", false, transitions),
        ("sankey", true, sankey),
        ("retention", false, retention),
        ("churn", false, churn),
        ("attribution", false, attribution),
    ]
}

fn plan(query: Value, required: bool) -> Value {
    let mut p = object(
        &[],
        json!({
            "filter": r("AnalysisFilter"),
            "breakdown": r("Breakdown"),
            "max_groups": uint(),
            "query": if required { query } else { nullable(query) }
        }),
        true,
    );
    if required {
        p["required"] = json!(["query"]);
    }
    p
}

/// The listening analyses of `POST /api/listening/{kind}`.
const LISTENING: [&str; 9] = ["nps", "csat", "ces", "rating", "drivers", "gaps", "text", "benchmark", "touchpoints"];

fn listen_query(kind: &str) -> Value {
    let s = || json!({"type": ["string", "null"]});
    let mut q = object(
        &["survey"],
        json!({
            "survey": {"type": "string", "description": "The survey's key (404 when there is none)."},
            "question": s(),
            "from": {"type": ["string", "null"], "format": "date-time"},
            "to": {"type": ["string", "null"], "format": "date-time"},
            "filter": {"type": "object", "additionalProperties": {"type": "string"}},
            "by": s(),
            "bucket": {"enum": ["day", "week", "month", null]},
            "tz_offset_s": nullable(int(-86_399, 86_399)),
            "unweighted": {"type": "boolean"},
            "outcome": s(),
            "a": s(),
            "b": s(),
            "top": nullable(uint())
        }),
        true,
    );
    if kind == "text" {
        q["description"] = json!("With `by`, `a` and `b` name the two values of it to compare.");
        q["anyOf"] = json!([
            {"properties": {"by": {"type": "null"}}},
            {"required": ["by", "a", "b"], "properties": {"by": {"type": "string"}, "a": {"type": "string"}, "b": {"type": "string"}}}
        ]);
    }
    q
}

/// The IANA time zones a project may be in.
fn time_zones() -> Vec<&'static str> {
    chrono_tz::TZ_VARIANTS.iter().map(|tz| tz.name()).collect()
}

/// An `https://` URL as the brand settings take it: host names of letters, digits and
/// hyphens, an optional port, no white space, quotes, `<`, `>`, `\` or backquotes. (The
/// server takes longer hosts and non-ASCII paths too, up to 2000 bytes; this is what it
/// always takes.)
fn https_url() -> String {
    let label = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
    let port = format!("(?::0*{})?", up_to("65535"));
    format!("^[{WS}]*(?:[Hh][Tt][Tt][Pp][Ss]://{label}(?:\\.{label}){{0,2}}{port}(?:[/?#][!#-&(-;=?-\\[\\]-_a-~]{{0,1000}})?)?[{WS}]*$")
}

/// CSV of external benchmarks in the form the parser always reads.
fn benchmark_csv() -> String {
    let cell = r#"[^,"\r\n]*"#;
    let metric = format!(r#"{cell}[^,"\r\n{WS}]{cell}"#);
    let number = r"-?[0-9]{1,15}(?:\.[0-9]{1,15})?";
    let not_negative = r"[0-9]{1,15}(?:\.[0-9]{1,15})?";
    let positive = r"[1-9][0-9]{0,14}(?:\.[0-9]{1,15})?";
    let row = format!("{metric},{cell},{number},(?:{positive})?,(?:{not_negative})?");
    format!(r"^metric,segment,value,n,se(?:\r?\n{row})*(?:\r?\n)?$")
}

/// Apply everything to the derived document.
pub fn refine(doc: &mut Value) {
    let schemas = doc["components"]["schemas"].as_object_mut().expect("components.schemas");
    for (name, schema) in components() {
        schemas.insert(name.into(), schema);
    }
    for (name, _, query) in analyses() {
        let title = plan_name(name);
        schemas.insert(format!("{title}Query"), query);
    }
    for kind in LISTENING {
        schemas.insert(listen_name(kind), listen_query(kind));
    }
    refine_components(schemas);

    // Capture: the event bodies.
    for (route, schema) in [
        ("/v1/track", "TrackEvent"),
        ("/v1/page", "PageEvent"),
        ("/v1/screen", "ScreenEvent"),
        ("/v1/identify", "IdentifyEvent"),
        ("/v1/group", "GroupEvent"),
        ("/v1/alias", "AliasEvent"),
        ("/v1/batch", "Batch"),
    ] {
        set_body(doc, "post", route, r(schema), true);
        add_answer(doc, "post", route, "415", "A Content-Encoding other than gzip, deflate or none");
    }

    // Catalog.
    set_body(doc, "put", "/api/project", r("ProjectSettings"), false);
    set_body(doc, "put", "/api/touchpoints/{key}", r("TouchpointInput"), false);
    set_body(doc, "post", "/api/rules", r("Rule"), true);
    set_body(doc, "put", "/api/rules/{id}", r("Rule"), true);
    set_body(doc, "post", "/api/rules/test", r("Rule"), true);
    set_body(
        doc,
        "post",
        "/api/keys",
        json!({"type": "object", "required": ["kind"], "additionalProperties": false,
            "properties": {"kind": {"type": "string", "enum": ["write", "secret"]}}}),
        true,
    );
    set_param(doc, "post", "/api/rules/test", "last", json!({"type": "integer", "minimum": 1, "maximum": 10_000}));
    for (method, path) in [("put", "/api/rules/{id}"), ("delete", "/api/rules/{id}")] {
        set_param(doc, method, path, "id", json!({"type": "integer", "minimum": I64_MIN, "maximum": I64_MAX}));
    }
    for path in ["/api/rules", "/api/rules/{id}", "/api/rules/test"] {
        for method in ["post", "put"] {
            if op(doc, method, path).is_some() {
                add_answer(doc, method, path, "404", "No touchpoint with the rule's key (or no rule with this id)");
            }
        }
    }

    // Customers and lists.
    let page = |doc: &mut Value, method: &str, path: &str, cursor: Option<String>| {
        set_param(doc, method, path, "limit", json!({"type": "integer", "minimum": 1, "maximum": 1000}));
        set_param(doc, method, path, "lang", json!({"type": "string"}));
        if let Some(c) = cursor {
            set_param(doc, method, path, "cursor", json!({"type": "string", "pattern": c}));
        }
    };
    let id_cursor = format!("^{}$", i64_text());
    page(doc, "get", "/api/customers", Some(id_cursor.clone()));
    page(doc, "get", "/api/failed-events", Some(id_cursor));
    page(doc, "get", "/api/customers/{id}/timeline", Some(format!("^{}:{}$", i64_text(), i64_text())));
    for (method, path) in [
        ("get", "/api/customers/{id}"),
        ("delete", "/api/customers/{id}"),
        ("get", "/api/customers/{id}/export"),
        ("get", "/api/customers/{id}/timeline"),
    ] {
        set_param(doc, method, path, "id", json!({"type": "integer", "minimum": I64_MIN, "maximum": I64_MAX}));
    }
    add_answer(doc, "get", "/api/customers/lookup", "404", "No customer has the id, or no id was given");
    set_param(
        doc,
        "get",
        "/api/customers/search",
        "trait",
        json!({"type": "string", "minLength": 1, "maxLength": 200}),
    );
    set_param(
        doc,
        "get",
        "/api/customers/search",
        "value",
        json!({"type": "string", "minLength": 1, "maxLength": 1000}),
    );
    set_param(doc, "get", "/api/customers/search", "limit", json!({"type": "integer", "minimum": 1, "maximum": 1000}));
    for p in ["from", "to"] {
        set_param(doc, "get", "/api/volume", p, json!({"type": "string", "format": "date"}));
    }
    set_description(
        doc,
        "get",
        "/api/volume",
        "Events per day and touchpoint, from `from` to `to` (both included). `from` must not be after `to` (default: today, and 30 days before `to`): JSON Schema cannot compare two parameters, the server answers 400.",
    );

    set_body(doc, "post", "/api/touchpoints", r("NewTouchpoint"), true);
    add_answer(doc, "post", "/api/touchpoints", "404", "No stage by that key in the project");
    add_answer(doc, "post", "/api/touchpoints", "409", "A touchpoint with this key exists");
    add_answer(doc, "put", "/api/touchpoints/{key}", "404", "No touchpoint by that key, or no stage by that key");

    // The knowledge base.
    let article = |edit: bool| {
        let mut props = json!({
            "lang": {"type": "string", "enum": ["cs", "pl", "en"]},
            "title": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$",
                "description": "1–200 characters, not only white space (trimmed)."},
            "body": {"type": "string", "maxLength": 100_000, "pattern": "^[^\\u0000]*$",
                "description": "Paragraphs separated by a blank line; `- ` list items."},
            "published": {"type": ["boolean", "null"], "description": "Default true."},
        });
        if edit {
            props["base_version"] = json!({"type": ["integer", "null"], "minimum": 1, "maximum": I64_MAX,
                "description": "The version the edit started from: 409 when a newer one exists."});
        }
        json!({"type": "object", "required": ["lang", "title", "body"], "additionalProperties": false, "properties": props})
    };
    set_body(doc, "post", "/api/kb/articles", article(false), true);
    set_body(doc, "put", "/api/kb/articles/{id}", article(true), true);
    for (method, path) in
        [("get", "/api/kb/articles/{id}"), ("put", "/api/kb/articles/{id}"), ("get", "/api/kb/articles/{id}/versions")]
    {
        set_param(doc, method, path, "id", json!({"type": "integer", "minimum": I64_MIN, "maximum": I64_MAX}));
    }
    add_answer(doc, "put", "/api/kb/articles/{id}", "409", "A newer version than base_version exists");
    set_param(doc, "get", "/api/kb/search", "q", json!({"type": "string", "maxLength": 200}));
    set_param(doc, "get", "/api/kb/search", "lang", json!({"type": "string", "enum": ["cs", "pl", "en"]}));
    set_param(doc, "get", "/api/kb/search", "limit", json!({"type": "integer", "minimum": 1, "maximum": 50}));
    set_param(doc, "get", "/api/kb/search", "prefix", json!({"type": "boolean"}));
    set_param(doc, "get", "/api/self-service", "days", json!({"type": "integer", "minimum": 1, "maximum": 3660}));
    set_param(doc, "get", "/api/self-service", "within_days", json!({"type": "integer", "minimum": 1, "maximum": 365}));
    for p in ["cost_assisted", "cost_self"] {
        set_param(
            doc,
            "get",
            "/api/self-service",
            p,
            json!({"type": "number", "minimum": 0, "maximum": 1_000_000_000}),
        );
    }
    set_param(doc, "get", "/api/self-service", "top", json!({"type": "integer", "minimum": 1, "maximum": 100}));

    // The service team's requests, and sign-in links (exactly what the server takes: the
    // texts' control characters, the statuses' spelling, nulls where a field may be absent).
    let status = json!({"type": "string", "enum": ["new", "open", "waiting", "resolved", "closed"]});
    set_param(doc, "get", "/api/requests", "status", status.clone());
    set_param(doc, "get", "/api/requests", "limit", json!({"type": "integer", "minimum": 1, "maximum": 500}));
    for p in ["customer", "before"] {
        set_param(doc, "get", "/api/requests", p, json!({"type": "integer", "minimum": I64_MIN, "maximum": I64_MAX}));
    }
    add_answer(doc, "get", "/api/requests", "404", "No customer by that id");
    for (method, path) in [("get", "/api/requests/{id}"), ("patch", "/api/requests/{id}")] {
        set_param(doc, method, path, "id", json!({"type": "integer", "minimum": I64_MIN, "maximum": I64_MAX}));
        add_answer(doc, method, path, "404", "No request by that id in the project");
    }
    let reply = json!({"type": "string", "minLength": 1, "maxLength": 10_000,
        "pattern": "^[^\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u009f]*[^\\s\\u0000-\\u001f\\u007f-\\u009f][^\\u0000-\\u0008\\u000b-\\u001f\\u007f-\\u009f]*$"});
    let assignee = json!({"type": "string", "maxLength": 254, "pattern": "^[^\\u0000-\\u001f\\u007f-\\u009f]*$"});
    let or_null = |mut v: Value| {
        v["type"] = json!([v["type"].clone(), "null"]);
        v
    };
    set_body(
        doc,
        "patch",
        "/api/requests/{id}",
        json!({"type": "object", "additionalProperties": false,
        "description": "At least one of: a reply (`body`, e-mailed to the customer), a `status`, an `assignee` (empty unassigns).",
        "properties": {"body": or_null(reply.clone()), "status": {"enum": ["new", "open", "waiting", "resolved", "closed", null]}, "assignee": or_null(assignee.clone())},
        "anyOf": [
            {"required": ["body"], "properties": {"body": reply}},
            {"required": ["status"], "properties": {"status": status}},
            {"required": ["assignee"], "properties": {"assignee": assignee}},
        ]}),
        true,
    );
    set_body(
        doc,
        "post",
        "/api/requests/mirror",
        json!({"type": "object", "additionalProperties": false, "required": ["url"],
            "properties": {"url": {"type": "string", "minLength": 9, "maxLength": 2000,
                "pattern": "^https?://[^\\s\\u0000-\\u001f\\u007f-\\u009f]+$"}}}),
        true,
    );
    add_answer(doc, "post", "/api/requests/mirror", "409", "The requests are mirrored already");
    let whom = [
        ("user_id", json!({"type": "string", "minLength": 1, "maxLength": 1000})),
        ("customer_id", json!({"type": "integer", "minimum": I64_MIN, "maximum": I64_MAX})),
        (
            "email",
            json!({"type": "string", "maxLength": 254, "pattern": "^[^\\s\\u0000-\\u001f\\u007f-\\u009f<>,;\"@]+@[^\\s\\u0000-\\u001f\\u007f-\\u009f<>,;\"@.][^\\s\\u0000-\\u001f\\u007f-\\u009f<>,;\"@]*\\.[^\\s\\u0000-\\u001f\\u007f-\\u009f<>,;\"@]*[^\\s\\u0000-\\u001f\\u007f-\\u009f<>,;\"@.]$"}),
        ),
    ];
    let variants: Vec<Value> = whom
        .iter()
        .map(|(who, schema)| {
            let mut props = json!({
                "ttl_minutes": {"type": ["integer", "null"], "minimum": 1, "maximum": 1440},
                "request_id": {"type": ["integer", "null"], "minimum": I64_MIN, "maximum": I64_MAX},
                "lang": {"enum": ["cs", "pl", "en", null]},
            });
            for (other, other_schema) in &whom {
                props[*other] = if other == who {
                    schema.clone()
                } else if *other == "email" {
                    // A customer's address, as the site vouches for it.
                    let mut e = other_schema.clone();
                    e["type"] = json!(["string", "null"]);
                    e
                } else {
                    json!({"type": "null"})
                };
            }
            json!({"type": "object", "additionalProperties": false, "required": [who], "properties": props})
        })
        .collect();
    set_body(doc, "post", "/api/portal/links", json!({"oneOf": variants}), true);
    add_answer(doc, "post", "/api/portal/links", "404", "No customer by that id, or no request of theirs by that id");

    // Analyses: one operation per kind, each with its own query.
    split(
        doc,
        "/api/analytics/{kind}",
        "post",
        "kind",
        &analyses().into_iter().map(|(k, _, _)| k).collect::<Vec<_>>(),
        |doc, kind, path| {
            let (_, required, _) = analyses().into_iter().find(|(k, _, _)| *k == kind).expect("a kind");
            let schema = format!("{}Plan", plan_name(kind));
            set_body(doc, "post", path, r(&schema), required);
            set_operation_id(doc, "post", path, &format!("analyze_{}", kind.replace('-', "_")));
            add_answer(
                doc,
                "post",
                path,
                "404",
                "A touchpoint the query names does not exist, or the project has no journeys yet",
            );
            if kind == "attribution" {
                add_answer(
                    doc,
                    "post",
                    path,
                    "409",
                    "No goal named and several conversion goals, or a Markov chain too large to solve",
                );
            }
        },
    );
    for (kind, required, _) in analyses() {
        let title = plan_name(kind);
        let p = plan(r(&format!("{title}Query")), required);
        doc["components"]["schemas"][format!("{title}Plan")] = p;
    }
    split(doc, "/api/listening/{kind}", "post", "kind", &LISTENING, |doc, kind, path| {
        set_body(doc, "post", path, r(&listen_name(kind)), false);
        set_operation_id(doc, "post", path, &format!("listen_{kind}"));
        add_answer(doc, "post", path, "404", "No survey by that key, or it has no question this analysis needs");
        add_answer(doc, "post", path, "409", "The survey's answers do not allow the analysis (too few)");
    });

    // Surveys.
    let key_paths = [
        ("get", "/api/surveys/{key}"),
        ("put", "/api/surveys/{key}"),
        ("post", "/api/surveys/{key}/publish"),
        ("post", "/api/surveys/{key}/close"),
        ("post", "/api/surveys/{key}/invitations"),
        ("post", "/api/surveys/{key}/responses"),
        ("get", "/api/surveys/{key}/responses"),
    ];
    for (method, path) in key_paths {
        set_param(doc, method, path, "key", json!({"type": "string"}));
    }
    set_body(doc, "post", "/api/surveys", r("NewSurvey"), true);
    // An empty body replays every dead firing of the rule.
    set_body(doc, "post", "/api/triggers/{key}/replay", r("Replay"), false);
    set_body(doc, "put", "/api/surveys/{key}", r("SurveyDefinition"), true);
    add_answer(
        doc,
        "put",
        "/api/surveys/{key}",
        "409",
        "The edit would change what answers given to an earlier version mean",
    );
    add_answer(
        doc,
        "post",
        "/api/surveys/{key}/responses",
        "409",
        "No response fits the survey's questions (each is listed in `failed`)",
    );
    set_param(doc, "get", "/api/surveys/{key}/responses", "format", json!({"enum": ["csv", "json"]}));
    set_param(doc, "get", "/api/surveys/{key}/responses", "partial", json!({"type": "boolean"}));
    if let Some(ok) = op(doc, "get", "/api/surveys/{key}/responses").and_then(|o| o["responses"].get_mut("200")) {
        ok["content"] = json!({
            "text/csv": {"schema": {"type": "string"}},
            "application/json": {"schema": {"type": "array", "items": {"type": "object"}}}
        });
    }
    empty_means_absent(doc);
}

/// An empty query parameter (`?cursor=`) counts as not given, as an HTML form sends an
/// empty field: every optional one also takes the empty text.
fn empty_means_absent(doc: &mut Value) {
    let Some(paths) = doc["paths"].as_object_mut() else { return };
    for item in paths.values_mut() {
        let Some(ops) = item.as_object_mut() else { continue };
        for op in ops.values_mut() {
            let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) else { continue };
            for p in params.iter_mut().filter(|p| p["in"] == "query" && p["required"] != true) {
                let schema = p["schema"].take();
                let plain = schema.as_object().is_some_and(|o| {
                    o.keys().all(|k| k == "type" || k == "description")
                        && (o["type"] == "string" || o["type"] == json!(["string", "null"]))
                });
                p["schema"] =
                    if plain { schema } else { json!({"anyOf": [schema, {"type": "string", "maxLength": 0}]}) };
            }
        }
    }
}

/// Tighten the derived schemas of the server's own request types.
fn refine_components(schemas: &mut Map<String, Value>) {
    if let Some(p) =
        schemas.get_mut("ProjectSettings").and_then(|s| s.get_mut("properties")).and_then(Value::as_object_mut)
    {
        let zones = time_zones();
        let set = |p: &mut Map<String, Value>, k: &str, v: Value| {
            if p.contains_key(k) {
                p.insert(k.into(), v);
            }
        };
        set(
            p,
            "timezone",
            json!({"enum": zones.into_iter().map(Value::from).chain([Value::Null]).collect::<Vec<_>>(), "description": "An IANA time zone (`Europe/Prague`)."}),
        );
        set(p, "churn_horizon_days", nullable(int(1, 3650)));
        let controls = "\\u0000-\\u001F\\u007F-\\u009F";
        set(
            p,
            "brand_name",
            json!({"type": ["string", "null"], "pattern": format!("^[{WS}]*[^{controls}]{{0,100}}[{WS}]*$"), "description": "The brand's name, at most 100 characters on one line; blank removes it."}),
        );
        set(
            p,
            "brand_color",
            json!({"type": ["string", "null"], "pattern": format!("^[{WS}]*(?:#[0-9A-Fa-f]{{6}})?[{WS}]*$"), "description": "`#rrggbb`; blank removes it."}),
        );
        for k in ["brand_logo_url", "privacy_url"] {
            set(
                p,
                k,
                json!({"type": ["string", "null"], "pattern": https_url(), "description": "An https URL; blank removes it."}),
            );
        }
        let origin = "https?://[A-Za-z0-9.*:-]+";
        set(
            p,
            "site_origins",
            json!({"type": ["string", "null"], "maxLength": 2000,
                "pattern": format!("^[{WS}]*(?:{origin}(?:[{WS}]+{origin}){{0,19}})?[{WS}]*$"),
                "description": "Origins separated by spaces (`https://zahradka.cz https://www.zahradka.cz`), at most 20; blank removes them."}),
        );
        set(
            p,
            "default_lang",
            json!({"type": ["string", "null"], "pattern": format!("^[{WS}]*(?:(?:[Ee][Nn]|[Cc][SsZz]|[Pp][Ll])(?:[-_][A-Za-z0-9_-]{{0,12}})?)?[{WS}]*$"), "description": "`en`, `cs` or `pl` (a tag such as `cs-CZ` is read as its language); blank removes it."}),
        );
    }
    if let Some(s) = schemas.get_mut("TouchpointInput") {
        refine_touchpoint(s);
        // Every field may be left out.
        if let Some(o) = s.as_object_mut() {
            o.remove("required");
        }
    }
    // A new touchpoint: its key, and the fields of a change (flattened into one object).
    if let (Some(input), true) = (schemas.get("TouchpointInput").cloned(), schemas.contains_key("NewTouchpoint")) {
        let mut s = input;
        s["properties"]["key"] = json!({
            "type": "string",
            "pattern": format!("^[{WS}]*[A-Za-z0-9_:.-]{{1,200}}[{WS}]*$"),
            "description": "Its stable key (`order-returned`): letters, digits, `-`, `_`, `:` and `.` (409 when it is taken)."
        });
        s["required"] = json!(["key"]);
        s["description"] = json!("A new touchpoint: its key, and any of the fields of a change.");
        schemas.insert("NewTouchpoint".into(), s);
    }
    if let Some(s) = schemas.get_mut("BenchmarkImport") {
        s["properties"]["csv"] = json!({
            "type": "string",
            "pattern": benchmark_csv(),
            "description": "The table: a header `metric,segment,value,n,se`, then a line per figure (metric not blank, value a number, n positive or empty, se not negative or empty). The server also reads the columns in another order, without `n` or `se`, `;` as the delimiter with decimal commas, and quoted cells; this is the form it always reads."
        });
    }
    if let Some(s) = schemas.get_mut("NewSurvey") {
        s["required"] = json!(["key"]);
        s["properties"]["key"] = r("SurveyKey");
        s["properties"]["definition"] = nullable(r("SurveyDefinition"));
        s["properties"]["template"] = json!({"enum": ["nps", null]});
        s["oneOf"] = json!([
            {"required": ["definition"], "properties": {"definition": {"type": "object"}, "template": {"type": "null"}}},
            {"required": ["template"], "properties": {"template": {"type": "string"}, "definition": {"type": "null"}}}
        ]);
        s["description"] = json!("A key and either a definition or a template.");
    }
    if let Some(s) = schemas.get_mut("InviteRequest") {
        s["properties"]["expires_days"] = json!({"type": ["number", "null"], "exclusiveMinimum": 0, "maximum": 366});
    }
    if let Some(s) = schemas.get_mut("InviteInput") {
        s["properties"]["customer"] = json!({"type": "string", "pattern": nonblank(), "maxLength": 256});
        s["properties"]["lang"] = json!({"type": ["string", "null"], "pattern": "^[A-Za-z0-9_-]{0,12}$"});
    }
    if let Some(s) = schemas.get_mut("ResponseInput") {
        s["properties"]["weight"] = json!({"type": ["number", "null"], "exclusiveMinimum": 0});
        s["properties"]["answered_at"] = json!({"type": ["string", "null"], "format": "date-time"});
        s["properties"]["dimensions"] =
            json!({"type": "object", "additionalProperties": {"type": ["string", "number"]}});
    }
    if let Some(s) = schemas.get_mut("RuleChange") {
        s["properties"]["rule"] =
            json!({"anyOf": [{"type": "object"}, {"type": "null"}], "description": "The rule (null after a delete)."});
    }
}

fn refine_touchpoint(s: &mut Value) {
    let Some(p) = s.get_mut("properties").and_then(Value::as_object_mut) else { return };
    let set = |p: &mut Map<String, Value>, k: &str, v: Value| {
        if p.contains_key(k) {
            p.insert(k.into(), v);
        }
    };
    set(
        p,
        "channel",
        json!({"enum": ["web", "app", "email", "ads", "search", "social", "review", "forum", "blog", "phone", "store", "chat", "self-service", "survey", "other", null]}),
    );
    set(p, "kind", json!({"enum": ["direct", "indirect", null]}));
    set(
        p,
        "names",
        nullable(object(
            &["en", "cs", "pl"],
            json!({"en": {"type": "string"}, "cs": {"type": "string"}, "pl": {"type": "string"}}),
            false,
        )),
    );
    set(p, "conversion", json!({"type": ["boolean", "null"]}));
    set(p, "churn", json!({"type": ["boolean", "null"]}));
}

fn plan_name(kind: &str) -> String {
    kind.split('-').map(|w| w[..1].to_ascii_uppercase() + &w[1..]).collect()
}

fn listen_name(kind: &str) -> String {
    format!("Listen{}Query", plan_name(kind))
}

fn op<'a>(doc: &'a mut Value, method: &str, path: &str) -> Option<&'a mut Value> {
    doc["paths"].get_mut(path)?.get_mut(method)
}

fn set_body(doc: &mut Value, method: &str, path: &str, schema: Value, required: bool) {
    let Some(o) = op(doc, method, path) else { return };
    let description = o.pointer("/requestBody/description").cloned();
    let mut body = json!({"required": required, "content": {"application/json": {"schema": schema}}});
    if let Some(d) = description {
        body["description"] = d;
    }
    o["requestBody"] = body;
}

fn set_param(doc: &mut Value, method: &str, path: &str, name: &str, schema: Value) {
    let Some(params) = op(doc, method, path).and_then(|o| o["parameters"].as_array_mut()) else { return };
    if let Some(p) = params.iter_mut().find(|p| p["name"] == name) {
        p["schema"] = schema;
    }
}

fn set_description(doc: &mut Value, method: &str, path: &str, text: &str) {
    if let Some(o) = op(doc, method, path) {
        o["description"] = json!(text);
    }
}

fn set_operation_id(doc: &mut Value, method: &str, path: &str, id: &str) {
    if let Some(o) = op(doc, method, path) {
        o["operationId"] = json!(id);
    }
}

fn add_answer(doc: &mut Value, method: &str, path: &str, status: &str, what: &str) {
    let Some(o) = op(doc, method, path) else { return };
    let answers = &mut o["responses"];
    if answers.get(status).is_none() {
        answers[status] = json!({
            "description": what,
            "content": {"application/json": {"schema": r("Error")}}
        });
    }
}

/// Replace a route with a `{param}` by one path per value, each its own operation.
fn split(
    doc: &mut Value,
    path: &str,
    method: &str,
    param: &str,
    values: &[&str],
    each: impl Fn(&mut Value, &str, &str),
) {
    let Some(item) = doc["paths"].as_object_mut().and_then(|p| p.shift_remove(path)) else { return };
    for v in values {
        let mut item = item.clone();
        if let Some(params) = item[method]["parameters"].as_array_mut() {
            params.retain(|p| p["name"] != param);
            if params.is_empty() {
                item[method].as_object_mut().expect("an operation").remove("parameters");
            }
        }
        let concrete = path.replace(&format!("{{{param}}}"), v);
        doc["paths"][&concrete] = item;
        each(doc, v, &concrete);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refinement_finds_its_target() {
        let mut doc = serde_json::to_value(<super::super::ApiDoc as utoipa::OpenApi>::openapi()).unwrap();
        refine(&mut doc);
        for path in ["/api/analytics/funnel", "/api/listening/text", "/v1/batch"] {
            assert!(doc["paths"].get(path).is_some(), "{path}");
        }
        assert!(doc["paths"].get("/api/analytics/{kind}").is_none());
        assert!(doc["paths"].get("/api/listening/{kind}").is_none());
        let body = |path: &str, method: &str| {
            doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"].clone()
        };
        assert_eq!(body("/v1/track", "post"), "#/components/schemas/TrackEvent");
        assert_eq!(body("/api/rules", "post"), "#/components/schemas/Rule");
        assert_eq!(body("/api/analytics/funnel", "post"), "#/components/schemas/FunnelPlan");
        // Every reference names a schema the document has.
        let text = doc.to_string();
        for name in text.split("\"#/components/schemas/").skip(1).map(|s| &s[..s.find('"').unwrap()]) {
            assert!(doc["components"]["schemas"].get(name).is_some(), "{name} is referred to but missing");
        }
    }
}
