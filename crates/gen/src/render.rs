//! Rendering a simulated [`Ev`] as a Segment-spec event object (track, page, screen,
//! identify) with ids, an explicit RFC 3339 timestamp, properties or traits, and context.
//!
//! The same code writes NDJSON bytes and `serde_json::Value`s (see [`crate::json::Out`]).
//! Ids are derived, never random: a `messageId` is `<seed tag>-<customer>-<event number>`
//! in hex, unique within a data set; an `anonymousId` is a UUID-shaped value whose last 64
//! bits are a bijection of the customer number, so no two customers share one. Strings are
//! assembled from parts and stack buffers ([`Small`]), never through `core::fmt`: this is
//! the hot path of NDJSON generation.

use crate::brand::{self, paths, Country, CATEGORIES, PRODUCTS};
use crate::catalog::events::{self, screens};
use crate::json::{Out, Small};
use crate::sim::{Ev, Page, Profile, Screen, Survey, Track, Via, What, Who, APP, DAY};

/// Per-data-set values the ids are derived from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Keys {
    /// First part of every messageId.
    pub tag: u32,
    /// Mixed into anonymous ids.
    pub anon: u64,
}

impl Keys {
    /// Keys for a seed.
    pub(crate) fn new(seed: u64) -> Keys {
        Keys {
            tag: (mix64(seed ^ 0x5a5a_1234_9e37_79b9) >> 32) as u32,
            anon: mix64(seed.rotate_left(17) ^ 0x0123_4567_89ab_cdef),
        }
    }
}

/// SplitMix64's finalizer: a bijection on `u64` that scatters its input.
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A device's anonymous id, shaped like a UUID: the high half scatters the device, the
/// low half is a bijection of the customer number.
fn anonymous_id(keys: &Keys, index: usize, dev: u8) -> Small {
    let lo = mix64(index as u64 ^ keys.anon);
    let hi = mix64(lo ^ (u64::from(dev) + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    Small::hex(hi >> 32, 8)
        .push("-")
        .push_hex((hi >> 16) & 0xffff, 4)
        .push("-4")
        .push_hex(hi & 0xfff, 3)
        .push("-")
        .push_hex(lo >> 48, 4)
        .push("-")
        .push_hex(lo & 0xffff_ffff_ffff, 12)
}

/// A page's path on the country's site, in two parts.
fn path_of(page: Page, c: Country) -> [&'static str; 2] {
    let c = c.idx();
    match page {
        Page::Home => ["/", ""],
        Page::Category(i) => [paths::CATEGORY[c], CATEGORIES[i as usize].slug[c]],
        Page::Product(i) => [paths::PRODUCT, PRODUCTS[i as usize].slug[c]],
        Page::Cart => [paths::CART[c], ""],
        Page::Checkout(s) => [paths::CHECKOUT[c][s as usize & 1], ""],
        Page::Help(h) => [paths::HELP[c], brand::HELP_TOPICS[h as usize][c]],
        Page::Blog(b) => [paths::BLOG, brand::BLOG_POSTS[b as usize][c]],
    }
}

/// A campaign's name: the newsletter of the day it was sent, or the season's campaign.
fn campaign_name(newsletter: bool, t: i64, c: Country) -> Small {
    let day = t.div_euclid(DAY);
    if newsletter {
        let (y, m, d) = crate::json::civil_from_days(crate::sim::newsletter_day(day));
        Small::new()
            .push("newsletter-")
            .push_dec(y.max(0) as u64, 4)
            .push("-")
            .push_dec(u64::from(m), 2)
            .push("-")
            .push_dec(u64::from(d), 2)
    } else {
        let (_, m, _) = crate::json::civil_from_days(day);
        Small::new().push(brand::SEASON_CAMPAIGNS[c.idx()][(m as usize + 11) % 12])
    }
}

/// The event name of a track event.
fn track_name(t: &Track) -> &'static str {
    use events::*;
    match t {
        Track::AppInstalled => APP_INSTALLED,
        Track::SignedUp { .. } => SIGNED_UP,
        Track::ProductAdded { .. } => PRODUCT_ADDED,
        Track::CheckoutStarted { .. } => CHECKOUT_STARTED,
        Track::PaymentFailed { .. } => PAYMENT_FAILED,
        Track::OrderCompleted { .. } => ORDER_COMPLETED,
        Track::OrderShipped { .. } => ORDER_SHIPPED,
        Track::DeliveryDelayed { .. } => DELIVERY_DELAYED,
        Track::OrderDelivered { .. } => ORDER_DELIVERED,
        Track::OrderPickedUp { .. } => ORDER_PICKED_UP,
        Track::ChatStarted { .. } => CHAT_STARTED,
        Track::SupportCall { .. } => SUPPORT_CALL,
        Track::ReturnRequested { .. } => RETURN_REQUESTED,
        Track::ComplaintFiled { .. } => COMPLAINT_FILED,
        Track::SurveyAnswered { .. } => SURVEY_ANSWERED,
        Track::ReviewWritten { .. } => REVIEW_WRITTEN,
        Track::ProductShared { .. } => PRODUCT_SHARED,
        Track::EmailOpened => EMAIL_OPENED,
        Track::PushOpened => PUSH_OPENED,
        Track::AccountDeleted { .. } => ACCOUNT_DELETED,
        Track::SwitchedToCompetitor { .. } => SWITCHED_TO_COMPETITOR,
        Track::PortalVisited => touchpoint_core::catalog::PORTAL_VISIT_EVENT,
        Track::KbSearched { .. } => touchpoint_core::catalog::KB_SEARCH_EVENT,
        Track::ArticleViewed { .. } => touchpoint_core::catalog::KB_ARTICLE_EVENT,
        Track::ArticleRated { helpful: true, .. } => touchpoint_core::catalog::KB_HELPFUL_EVENT,
        Track::ArticleRated { helpful: false, .. } => touchpoint_core::catalog::KB_NOT_HELPFUL_EVENT,
    }
}

/// A customer's ids, formatted once for all their events.
pub(crate) struct Ids {
    /// `<tag>-<customer>-`, the messageId up to the event number.
    message_prefix: Small,
    /// `c<customer>`.
    user: Small,
    /// Per device.
    anon: [Small; 3],
}

impl Ids {
    /// The ids of customer `index`.
    pub(crate) fn new(keys: &Keys, index: usize) -> Ids {
        Ids {
            message_prefix: Small::hex(u64::from(keys.tag), 8).push("-").push_hex(index as u64, 1).push("-"),
            user: Small::new().push("c").push_dec(index as u64, 1),
            anon: [0, 1, 2].map(|d| anonymous_id(keys, index, d)),
        }
    }
}

/// Render event number `n` of customer `p` (whose ids are `ids`).
pub(crate) fn render<O: Out>(o: &mut O, ids: &Ids, p: &Profile, n: usize, ev: &Ev) {
    let c = p.country;
    o.begin();
    let kind = match ev.what {
        What::Page(..) => "page",
        What::Screen(_) => "screen",
        What::Identify => "identify",
        What::Track(_) => "track",
    };
    o.kv("type", kind);
    match &ev.what {
        What::Track(t) => o.kv("event", track_name(t)),
        What::Screen(s) => o.kv("name", screen_name(*s)),
        _ => {}
    }
    o.kv("messageId", ids.message_prefix.push_hex(n as u64, 1).as_str());
    let user = |o: &mut O| o.kv("userId", ids.user.as_str());
    let anon = |o: &mut O, dev: u8| o.kv("anonymousId", ids.anon[dev as usize % 3].as_str());
    match ev.who {
        Who::Anon(d) => anon(o, d),
        Who::Known(d) => {
            user(o);
            anon(o, d);
        }
        Who::Server => user(o),
    }
    o.kt("timestamp", ev.t);
    match &ev.what {
        What::Page(page, via) => page_props(o, c, *page, *via, ev.t),
        What::Screen(s) => screen_props(o, c, *s),
        What::Identify => traits(o, p),
        What::Track(t) => track_props(o, p, t, ev.t),
    }
    o.key("context");
    o.begin();
    match ev.who {
        Who::Server => {
            o.key("library");
            o.begin();
            o.kv("name", "zahradka-backend");
            o.kv("version", "2.8.0");
            o.end();
        }
        Who::Anon(APP) | Who::Known(APP) => {
            o.key("app");
            o.begin();
            o.kv("name", brand::BRAND_NAME);
            o.kv("version", brand::APP_VERSION);
            o.end();
            o.key("device");
            o.begin();
            o.kv("type", if p.ios { "ios" } else { "android" });
            o.end();
            o.key("os");
            o.begin();
            o.kv("name", if p.ios { "iOS" } else { "Android" });
            o.end();
        }
        _ => {}
    }
    o.kv("locale", c.locale());
    if let What::Page(_, Via::Campaign { medium, source, newsletter }) = ev.what {
        o.key("campaign");
        o.begin();
        o.kv("name", campaign_name(newsletter, ev.t, c).as_str());
        o.kv("source", source);
        o.kv("medium", medium);
        o.end();
    }
    o.end();
    o.end();
}

fn screen_name(s: Screen) -> &'static str {
    match s {
        Screen::Home => screens::HOME,
        Screen::Category(_) => screens::CATEGORY,
        Screen::Product(_) => screens::PRODUCT,
        Screen::Cart => screens::CART,
        Screen::Checkout => screens::CHECKOUT,
    }
}

fn page_props<O: Out>(o: &mut O, c: Country, page: Page, via: Via, t: i64) {
    let ci = c.idx();
    o.key("properties");
    o.begin();
    let [p0, p1] = path_of(page, c);
    o.key("path");
    o.parts(&[p0, p1]);
    match via {
        Via::Internal(from) => {
            let [f0, f1] = path_of(from, c);
            o.key("referrer");
            o.parts(&[c.origin(), f0, f1]);
        }
        Via::Referrer(r) => o.kv("referrer", r),
        Via::Direct | Via::Campaign { .. } => {}
    }
    o.key("title");
    match page {
        Page::Home => o.str(brand::TITLE_HOME[ci]),
        Page::Category(i) => o.parts(&[CATEGORIES[i as usize].name[ci], " | ", brand::BRAND_NAME]),
        Page::Product(i) => o.parts(&[PRODUCTS[i as usize].name[ci], " | ", brand::BRAND_NAME]),
        Page::Cart => o.str(brand::TITLE_CART[ci]),
        Page::Checkout(_) => o.str(brand::TITLE_CHECKOUT[ci]),
        Page::Help(_) => o.str(brand::TITLE_HELP[ci]),
        Page::Blog(_) => o.str(brand::TITLE_BLOG[ci]),
    }
    o.key("url");
    match via {
        Via::Campaign { medium, source, newsletter } => {
            let name = campaign_name(newsletter, t, c);
            o.parts(&[
                c.origin(),
                p0,
                p1,
                "?utm_source=",
                source,
                "&utm_medium=",
                medium,
                "&utm_campaign=",
                name.as_str(),
            ])
        }
        _ => o.parts(&[c.origin(), p0, p1]),
    }
    o.end();
}

fn screen_props<O: Out>(o: &mut O, c: Country, s: Screen) {
    o.key("properties");
    o.begin();
    match s {
        Screen::Category(i) => o.kv("category", CATEGORIES[i as usize].name[c.idx()]),
        Screen::Product(i) => product(o, c, i),
        _ => {}
    }
    o.end();
}

fn product<O: Out>(o: &mut O, c: Country, i: u8) {
    let p = &PRODUCTS[i as usize];
    o.kv("product_id", Small::new().push("ZH-").push_dec(1000 + u64::from(i), 1).as_str());
    o.kv("name", p.name[c.idx()]);
    o.kv("category", CATEGORIES[p.cat as usize].name[c.idx()]);
}

fn traits<O: Out>(o: &mut O, p: &Profile) {
    let c = p.country;
    o.key("traits");
    o.begin();
    o.key("name");
    o.parts(&[p.first, " ", p.last]);
    o.kv("firstName", p.first);
    o.kv("lastName", p.last);
    let mut email = String::with_capacity(40);
    brand::ascii_fold(p.first, &mut email);
    email.push('.');
    brand::ascii_fold(p.last, &mut email);
    o.key("email");
    o.parts(&[&email, Small::dec(u64::from(p.email_no), 1).as_str(), "@", p.email_domain]);
    o.kv("city", p.city);
    o.kv("country", c.code());
    o.kv("language", c.lang());
    o.kv("segment", p.segment);
    o.key("newsletter");
    o.bool(p.newsletter);
    o.end();
}

fn order_id<O: Out>(o: &mut O, p: &Profile, order: u16) {
    let id =
        Small::new().push(p.country.code()).push_dec(p.index as u64, 7).push("-").push_dec(u64::from(order) + 1, 1);
    o.kv("order_id", id.as_str());
}

fn track_props<O: Out>(o: &mut O, p: &Profile, t: &Track, time: i64) {
    let c = p.country;
    o.key("properties");
    o.begin();
    match *t {
        Track::AppInstalled => {
            o.kv("version", brand::APP_VERSION);
            o.ki("build", 341);
        }
        Track::SignedUp { method, newsletter } => {
            o.kv("method", method);
            o.key("newsletter");
            o.bool(newsletter);
        }
        Track::ProductAdded { product: i, quantity } => {
            product(o, c, i);
            o.money("price", PRODUCTS[i as usize].price(c));
            o.kv("currency", c.currency());
            o.ki("quantity", i64::from(quantity));
        }
        Track::CheckoutStarted { order, value, items } => {
            order_id(o, p, order);
            o.money("value", value);
            o.kv("currency", c.currency());
            o.ki("items", i64::from(items));
        }
        Track::PaymentFailed { order, value, method, reason } => {
            order_id(o, p, order);
            o.kv("payment_method", method);
            o.kv("reason", reason);
            o.money("value", value);
            o.kv("currency", c.currency());
        }
        Track::OrderCompleted { order, value, items, method, shipping, first } => {
            order_id(o, p, order);
            o.money("revenue", value);
            o.kv("currency", c.currency());
            o.ki("items", i64::from(items));
            o.kv("payment_method", method);
            o.kv("shipping_method", shipping);
            o.key("first_order");
            o.bool(first);
        }
        Track::OrderShipped { order, carrier } => {
            order_id(o, p, order);
            o.kv("carrier", carrier);
        }
        Track::DeliveryDelayed { order, carrier, days_late } | Track::OrderDelivered { order, carrier, days_late } => {
            order_id(o, p, order);
            o.kv("carrier", carrier);
            o.ki("days_late", i64::from(days_late));
        }
        Track::OrderPickedUp { order, store } => {
            order_id(o, p, order);
            o.kv("store", store);
        }
        Track::ChatStarted { topic, wait_seconds } => {
            o.kv("topic", topic);
            o.ki("wait_seconds", i64::from(wait_seconds));
        }
        Track::SupportCall { topic, wait_minutes, duration_minutes } => {
            o.kv("topic", topic);
            o.ki("wait_minutes", i64::from(wait_minutes));
            o.ki("duration_minutes", i64::from(duration_minutes));
            // The call centre flags calls that missed its 15-minute answer target.
            o.key("long_wait");
            o.bool(wait_minutes > 15);
        }
        Track::ReturnRequested { order, reason } => {
            order_id(o, p, order);
            o.kv("reason", reason);
        }
        Track::ComplaintFiled { order, reason } => {
            order_id(o, p, order);
            o.kv("reason", reason);
            o.kv("kind", brand::COMPLAINT_WORD[c.idx()]);
        }
        Track::SurveyAnswered { survey, score, comment, trigger, order } => {
            let (id, question) = match survey {
                Survey::Nps => ("nps-after-delivery", "nps"),
                Survey::Csat => ("csat-after-support", "csat"),
            };
            o.kv("survey_id", id);
            o.kv("question", question);
            o.ki("score", i64::from(score));
            if let Some(text) = comment {
                o.kv("comment", text);
            }
            o.kv("trigger", trigger);
            order_id(o, p, order);
        }
        Track::ReviewWritten { order, site, rating } => {
            order_id(o, p, order);
            o.kv("site", site);
            o.ki("rating", i64::from(rating));
        }
        Track::ProductShared { product: i, network } => {
            product(o, c, i);
            o.kv("network", network);
        }
        Track::EmailOpened => {
            o.kv("campaign", campaign_name(true, time, c).as_str());
            o.kv("email_type", "newsletter");
        }
        Track::PushOpened => {
            o.kv("campaign", campaign_name(false, time, c).as_str());
        }
        Track::AccountDeleted { reason } => o.kv("reason", reason),
        Track::SwitchedToCompetitor { competitor, reason } => {
            o.kv("competitor", competitor);
            o.kv("reason", reason);
            o.kv("source", "exit-survey");
        }
        Track::PortalVisited => {}
        Track::KbSearched { query, results, lang } => {
            o.kv("query", query);
            o.ki("results", i64::from(results));
            o.kv("lang", lang);
        }
        Track::ArticleViewed { article } => {
            o.ki("article_id", i64::from(article));
            o.kv("title", crate::kb::title(article));
        }
        Track::ArticleRated { article, helpful } => {
            o.ki("article_id", i64::from(article));
            o.key("helpful");
            o.bool(helpful);
        }
    }
    o.end();
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn anonymous_ids_differ_between_customers_and_devices() {
        let keys = Keys::new(1);
        let mut seen = HashSet::new();
        for i in 0..30_000 {
            for d in 0..3 {
                let id = anonymous_id(&keys, i, d);
                assert_eq!(id.as_str().len(), 36, "{}", id.as_str());
                assert!(seen.insert(id.as_str().to_string()), "{}", id.as_str());
            }
        }
    }

    #[test]
    fn campaign_names() {
        // 2026-06-04 was a Thursday, 2026-06-08 a Monday.
        let at = |s: &str| touchpoint_core::event::parse_time_str(s).unwrap();
        assert_eq!(campaign_name(true, at("2026-06-04T09:00:00Z"), Country::Cz).as_str(), "newsletter-2026-06-04");
        assert_eq!(campaign_name(true, at("2026-06-07T23:00:00Z"), Country::Cz).as_str(), "newsletter-2026-06-04");
        assert_eq!(campaign_name(true, at("2026-06-09T10:00:00Z"), Country::Pl).as_str(), "newsletter-2026-06-08");
        assert_eq!(campaign_name(false, at("2026-07-01T10:00:00Z"), Country::Pl).as_str(), "lato-2026");
    }
}
