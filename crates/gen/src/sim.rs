//! The journey simulation: one customer's visits, purchases, deliveries, support contacts,
//! surveys and departure, as compact [`Ev`] records (rendered to JSON by [`crate::render`]).
//!
//! A customer is a [`Persona`] (casual visitor, shopper, regular, fan) that decides how often
//! they come back, how much they browse and how likely they are to buy. Each visit starts
//! from a traffic source (search, ads, social, review sites, forums, blog, newsletter, app,
//! direct), browses category and product pages, and may go through cart, checkout and
//! payment to an order. Orders are shipped and delivered (or delayed), picked up in a garden
//! centre, followed by support contacts, returns, complaints, surveys and reviews. What
//! happens changes what the customer does next: that is where the planted pain points live
//! (see the `P_*` and `CHURN_*` constants, and [`crate::PAIN_POINTS`]).
//!
//! Events are produced roughly in time order but delivery and after-sales events lie in the
//! future of the visit that caused them, so the caller sorts them by time (stably).

use crate::brand::{self, Country, PRODUCTS};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// One day in milliseconds.
pub(crate) const DAY: i64 = 86_400_000;
const HOUR: i64 = 3_600_000;
const MINUTE: i64 = 60_000;
const SECOND: i64 = 1000;

/// The customer's main web browser.
pub(crate) const MAIN: u8 = 0;
/// A second browser (the phone, the work laptop), anonymous until the customer logs in.
pub(crate) const OTHER_BROWSER: u8 = 1;
/// The mobile app.
pub(crate) const APP: u8 = 2;

// --- The planted pain points and the rates around them. ---

/// Share of courier deliveries that arrive late.
const P_LATE: f64 = 0.13;
/// Share of card-like payments (card, BLIK, GoPay, PayU) the gateway refuses.
const P_PAYMENT_FAIL: f64 = 0.10;
/// After a refused payment, the share who retry (with another method) and order.
const P_RETRY_AFTER_FAIL: f64 = 0.28;
/// Share of checkouts without a payment failure that are abandoned anyway.
const P_ABANDON_CHECKOUT: f64 = 0.25;
/// Share of support-line calls that wait longer than 15 minutes.
const P_LONG_WAIT: f64 = 0.30;
/// Explicit churn (exit survey / account deletion) after an ordinary first order; it falls
/// as the customer keeps ordering (`2 · CHURN_BASE / (1 + orders)`).
const CHURN_BASE: f64 = 0.10;
/// Extra explicit churn after a late delivery.
const CHURN_LATE: f64 = 0.45;
/// Extra explicit churn after a long wait on the support line.
const CHURN_LONG_WAIT: f64 = 0.40;
/// Extra explicit churn after a formal complaint.
const CHURN_COMPLAINT: f64 = 0.05;

/// Who sent an event, and so which ids it carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Who {
    /// A device the customer is not logged in on: `anonymousId` only.
    Anon(u8),
    /// A logged-in device: `userId` and `anonymousId`.
    Known(u8),
    /// The brand's back office (shop, carrier feed, call centre, e-mail service): `userId`.
    Server,
}

/// A web page of the shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Page {
    /// `/`.
    Home,
    /// A category listing (index into [`brand::CATEGORIES`]).
    Category(u8),
    /// A product detail (index into [`brand::PRODUCTS`]).
    Product(u8),
    /// The cart.
    Cart,
    /// A checkout step: 0 delivery, 1 payment.
    Checkout(u8),
    /// A help-centre topic (index into [`brand::HELP_TOPICS`]).
    Help(u8),
    /// A blog post (index into [`brand::BLOG_POSTS`]).
    Blog(u8),
}

/// How the customer got to a page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Via {
    /// Typed in, bookmarked or from an app: no referrer.
    Direct,
    /// From another page of the shop.
    Internal(Page),
    /// From another site (the referrer URL).
    Referrer(&'static str),
    /// From a tagged campaign link (UTM parameters).
    Campaign {
        /// `utm_medium`.
        medium: &'static str,
        /// `utm_source`.
        source: &'static str,
        /// A newsletter (the campaign is named by week) rather than a seasonal campaign.
        newsletter: bool,
    },
}

/// An app screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Screen {
    /// The home screen.
    Home,
    /// A category.
    Category(u8),
    /// A product.
    Product(u8),
    /// The cart.
    Cart,
    /// The checkout.
    Checkout,
}

/// Which survey was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Survey {
    /// NPS (0–10) a day or two after delivery.
    Nps,
    /// CSAT (1–5) after a chat or call.
    Csat,
}

/// A track event with its properties (the names are in [`crate::events`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Track {
    /// The app was installed (`Application Installed`).
    AppInstalled,
    /// An account or newsletter sign-up (`Signed Up`).
    SignedUp { method: &'static str, newsletter: bool },
    /// A product went into the cart (`Product Added`).
    ProductAdded { product: u8, quantity: u8 },
    /// Checkout began for order attempt `order` (`Checkout Started`).
    CheckoutStarted { order: u16, value: i64, items: u8 },
    /// The gateway refused the payment (`Payment Failed`): pain point 2.
    PaymentFailed { order: u16, value: i64, method: &'static str, reason: &'static str },
    /// The order was placed (`Order Completed`): the conversion goal.
    OrderCompleted { order: u16, value: i64, items: u8, method: &'static str, shipping: &'static str, first: bool },
    /// The parcel left the warehouse (`Order Shipped`).
    OrderShipped { order: u16, carrier: &'static str },
    /// The carrier missed the promised date (`Delivery Delayed`): pain point 1.
    DeliveryDelayed { order: u16, carrier: &'static str, days_late: u8 },
    /// The parcel arrived, `days_late` after the promise (`Order Delivered`).
    OrderDelivered { order: u16, carrier: &'static str, days_late: u8 },
    /// A click-and-collect order was picked up (`Order Picked Up`).
    OrderPickedUp { order: u16, store: &'static str },
    /// A live chat (`Chat Started`).
    ChatStarted { topic: &'static str, wait_seconds: u16 },
    /// A call to the support line (`Support Call`); over 15 minutes' wait is pain point 3.
    SupportCall { topic: &'static str, wait_minutes: u8, duration_minutes: u8 },
    /// A return in the customer portal (`Return Requested`).
    ReturnRequested { order: u16, reason: &'static str },
    /// A formal complaint, reklamace (`Complaint Filed`).
    ComplaintFiled { order: u16, reason: &'static str },
    /// An NPS or CSAT answer (`Survey Answered`); `trigger` is the touchpoint that prompted it.
    SurveyAnswered { survey: Survey, score: u8, comment: Option<&'static str>, trigger: &'static str, order: u16 },
    /// A review on a review site (`Review Written`).
    ReviewWritten { order: u16, site: &'static str, rating: u8 },
    /// A product shared on a social network (`Product Shared`).
    ProductShared { product: u8, network: &'static str },
    /// A newsletter was opened (`Email Opened`).
    EmailOpened,
    /// A push notification was opened (`Push Notification Opened`).
    PushOpened,
    /// The customer deleted the account (`Account Deleted`): a churn signal.
    AccountDeleted { reason: &'static str },
    /// The exit survey names a competitor (`Switched To Competitor`): a churn signal.
    SwitchedToCompetitor { competitor: &'static str, reason: &'static str },
    /// The help centre opened (`Portal Visited`).
    PortalVisited,
    /// A search of the help centre (`Knowledge Base Searched`), with how many of the demo's
    /// articles it finds (`crate::kb::results`).
    KbSearched { query: &'static str, results: u8, lang: &'static str },
    /// A help article read (`Article Viewed`); `article` is its id in the demo (1–30).
    ArticleViewed { article: u8 },
    /// "Did this help?" answered (`Article Helpful` / `Article Not Helpful`).
    ArticleRated { article: u8, helpful: bool },
}

/// Why a customer opens the help centre.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Need {
    /// A parcel that is late (no article answers it: the planted failure).
    Late,
    /// A return or a complaint, before contacting support.
    Return,
    /// Anything else, helped by an article.
    Other,
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum What {
    /// A page view.
    Page(Page, Via),
    /// An app screen view.
    Screen(Screen),
    /// The customer identified (logged in, signed up, or gave an e-mail at checkout).
    Identify,
    /// Something the customer did or that happened to them.
    Track(Track),
}

/// One event of a customer, before rendering.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Ev {
    /// When, in ms since the epoch.
    pub t: i64,
    /// Who sent it.
    pub who: Who,
    /// What it is.
    pub what: What,
}

/// Who the customer is: the traits of their identify calls.
#[derive(Debug, Clone)]
pub(crate) struct Profile {
    /// Customer number.
    pub index: usize,
    /// Market.
    pub country: Country,
    /// First name.
    pub first: &'static str,
    /// Surname.
    pub last: &'static str,
    /// Number in the e-mail address.
    pub email_no: u8,
    /// E-mail provider.
    pub email_domain: &'static str,
    /// City.
    pub city: &'static str,
    /// CRM segment.
    pub segment: &'static str,
    /// The app runs on iOS (else Android).
    pub ios: bool,
    /// Gave newsletter consent.
    pub newsletter: bool,
}

/// Behaviour of a kind of customer.
struct Persona {
    /// Relative frequency.
    weight: u32,
    /// Chance of coming back after a visit.
    ret: f64,
    /// Mean days between visits.
    gap_days: f64,
    /// Mean pages viewed after the landing page.
    pages: f64,
    /// Chance a visit puts something in the cart.
    buy: f64,
    /// Chance the first visit is a bounce (landing page only).
    bounce: f64,
    /// Chance of installing the app (once known).
    app: f64,
    /// Chance of using a second browser.
    second: f64,
    /// First arrival is at `start + (end − start) · uᵏ`: loyal customers have been around
    /// since early in the period.
    skew: f64,
}

const PERSONAS: [Persona; 4] = [
    // Casual visitors: one or two visits, mostly bounces.
    Persona {
        weight: 43,
        ret: 0.25,
        gap_days: 12.0,
        pages: 1.8,
        buy: 0.20,
        bounce: 0.60,
        app: 0.0,
        second: 0.05,
        skew: 1.0,
    },
    // Shoppers: a few visits, a purchase now and then.
    Persona {
        weight: 28,
        ret: 0.75,
        gap_days: 8.0,
        pages: 3.5,
        buy: 0.20,
        bounce: 0.30,
        app: 0.10,
        second: 0.20,
        skew: 1.5,
    },
    // Regulars: keen gardeners who come back every few days.
    Persona {
        weight: 18,
        ret: 0.94,
        gap_days: 3.5,
        pages: 5.5,
        buy: 0.16,
        bounce: 0.10,
        app: 0.35,
        second: 0.30,
        skew: 2.0,
    },
    // Fans: the shop is their hobby; a visit every day or two.
    Persona {
        weight: 11,
        ret: 0.985,
        gap_days: 1.5,
        pages: 6.5,
        buy: 0.14,
        bounce: 0.05,
        app: 0.55,
        second: 0.35,
        skew: 3.0,
    },
];

/// Where a visit comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Search,
    Ads,
    PaidSocial,
    Social,
    Review,
    Forum,
    Blog,
    Direct,
    Newsletter,
    App,
}

const FIRST_SOURCES: &[(Source, u32)] = &[
    (Source::Search, 28),
    (Source::Ads, 20),
    (Source::PaidSocial, 8),
    (Source::Social, 9),
    (Source::Review, 10),
    (Source::Forum, 5),
    (Source::Blog, 7),
    (Source::Direct, 13),
];
const RETURN_SOURCES: &[(Source, u32)] = &[
    (Source::Direct, 35),
    (Source::Search, 22),
    (Source::Ads, 14),
    (Source::PaidSocial, 4),
    (Source::Social, 5),
    (Source::Review, 8),
    (Source::Forum, 4),
    (Source::Blog, 8),
];

/// UTC hour weights of visits (the shop's customers live in CET/CEST).
const HOURS: [u32; 24] = [2, 1, 1, 1, 2, 4, 6, 8, 9, 9, 9, 9, 10, 10, 9, 9, 11, 14, 17, 18, 16, 11, 6, 3];

/// The newsletter goes out at 07:00 UTC…
const NEWSLETTER_HOUR: i64 = 7;

/// …on Mondays and Thursdays (day numbers from 1970-01-01, a Thursday).
pub(crate) fn is_newsletter_day(day: i64) -> bool {
    matches!(day.rem_euclid(7), 0 | 4)
}

/// The day of the last newsletter sent on or before `day`.
pub(crate) fn newsletter_day(day: i64) -> i64 {
    let r = day.rem_euclid(7);
    day - if r >= 4 { r - 4 } else { r }
}

/// Pick by weight.
fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut r = rng.gen_range(0..total.max(1));
    for (item, w) in items {
        if r < *w {
            return *item;
        }
        r -= w;
    }
    items[items.len() - 1].0
}

/// Pick an index by weight.
fn pick_index(rng: &mut ChaCha8Rng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut r = rng.gen_range(0..total.max(1));
    for (i, w) in weights.iter().enumerate() {
        if r < *w {
            return i;
        }
        r -= w;
    }
    weights.len() - 1
}

/// Pick uniformly.
fn one<T: Copy>(rng: &mut ChaCha8Rng, items: &[T]) -> T {
    items[rng.gen_range(0..items.len() as u32) as usize]
}

/// An exponential wait with the given mean.
fn exp(rng: &mut ChaCha8Rng, mean: f64) -> f64 {
    -mean * (1.0 - rng.gen::<f64>()).ln()
}

/// A geometric count (0, 1, 2, …) with the given mean.
fn geometric(rng: &mut ChaCha8Rng, mean: f64) -> u32 {
    let p = 1.0 / (1.0 + mean);
    let mut n = 0;
    while n < 200 && !rng.gen_bool(p) {
        n += 1;
    }
    n
}

/// Draw who a customer is.
pub(crate) fn profile(rng: &mut ChaCha8Rng, index: usize) -> Profile {
    let country = if rng.gen_bool(0.62) { Country::Cz } else { Country::Pl };
    let c = country.idx();
    let female = rng.gen_bool(0.56);
    let first = if female { one(rng, brand::FIRST_F[c]) } else { one(rng, brand::FIRST_M[c]) };
    let (m, f) = one(rng, brand::SURNAMES[c]);
    Profile {
        index,
        country,
        first,
        last: if female { f } else { m },
        email_no: rng.gen_range(0..100u8),
        email_domain: pick(rng, brand::EMAIL_DOMAINS[c]),
        city: pick(rng, brand::CITIES[c]),
        segment: pick(rng, brand::SEGMENTS),
        ios: rng.gen_bool(0.35),
        newsletter: rng.gen_bool(0.5),
    }
}

/// The simulation of one customer.
pub(crate) struct Sim<'a> {
    rng: &'a mut ChaCha8Rng,
    evs: &'a mut Vec<Ev>,
    country: Country,
    newsletter_consent: bool,
    end: i64,
    /// The customer has a user id (has identified at least once).
    known: bool,
    /// Per device: logged in.
    logged_in: [bool; 3],
    /// Receives the newsletter.
    subscribed: bool,
    /// Chance of opening a newsletter.
    p_open: f64,
    ret: f64,
    gap_days: f64,
    pages: f64,
    buy: f64,
    bounce: f64,
    skew: f64,
    /// Where in the period the customer first arrives, before skewing, in `[0, 1)`.
    arrival: f64,
    wants_app: bool,
    app_installed: bool,
    second_browser: bool,
    /// Checkout attempts so far (order numbers).
    attempts: u16,
    /// Orders placed.
    placed: u16,
    /// The cart: (product, quantity).
    cart: Vec<(u8, u8)>,
    /// Sent an explicit churn signal: no more events.
    churned: bool,
}

impl<'a> Sim<'a> {
    /// A customer with profile `p` whose events go to `evs`, all before `end`.
    ///
    /// `strata` are two numbers in `[0, 1)` from a low-discrepancy sequence over customer
    /// numbers: the first picks the persona, the second the time of first arrival. Spreading
    /// them evenly (rather than drawing them at random) keeps every block of consecutive
    /// customers close to the intended mix, so small data sets have the promised size.
    pub(crate) fn new(rng: &'a mut ChaCha8Rng, evs: &'a mut Vec<Ev>, p: &Profile, end: i64, strata: [f64; 2]) -> Self {
        let total: u32 = PERSONAS.iter().map(|p| p.weight).sum();
        let mut at = strata[0] * f64::from(total);
        let persona = PERSONAS
            .iter()
            .find(|p| {
                at -= f64::from(p.weight);
                at < 0.0
            })
            .unwrap_or(&PERSONAS[PERSONAS.len() - 1]);
        let wants_app = rng.gen_bool(persona.app);
        let second_browser = rng.gen_bool(persona.second);
        let p_open = rng.gen_range(0.12..0.6);
        Sim {
            country: p.country,
            newsletter_consent: p.newsletter,
            end,
            known: false,
            logged_in: [false; 3],
            subscribed: false,
            p_open,
            ret: persona.ret,
            gap_days: persona.gap_days,
            pages: persona.pages,
            buy: persona.buy,
            bounce: persona.bounce,
            skew: persona.skew,
            arrival: strata[1],
            wants_app,
            app_installed: false,
            second_browser,
            attempts: 0,
            placed: 0,
            cart: Vec::new(),
            churned: false,
            rng,
            evs,
        }
    }

    fn push(&mut self, t: i64, who: Who, what: What) {
        self.evs.push(Ev { t, who, what });
    }

    fn track(&mut self, t: i64, who: Who, tr: Track) {
        self.push(t, who, What::Track(tr));
    }

    /// The ids a device's events carry right now.
    fn who(&self, dev: u8) -> Who {
        if self.logged_in[dev as usize] {
            Who::Known(dev)
        } else {
            Who::Anon(dev)
        }
    }

    /// A time of day on the day of `t` (ms), by the hour weights.
    fn daytime(&mut self, t: i64) -> i64 {
        let day = t.div_euclid(DAY) * DAY;
        let h = pick_index(self.rng, &HOURS) as i64;
        day + h * HOUR + self.rng.gen_range(0..HOUR)
    }

    /// Seconds to a minute or two between clicks.
    fn click_gap(&mut self) -> i64 {
        6 * SECOND + exp(self.rng, 45_000.0) as i64
    }

    /// A random stream of its own for the help centre's events, derived from where the
    /// customer's stream is without drawing from it: adding the portal left every other
    /// event of the brand as it was.
    fn rng_side(&self) -> ChaCha8Rng {
        use rand::SeedableRng;
        let mut seed = self.rng.get_seed();
        for (s, p) in seed.iter_mut().zip(self.rng.get_word_pos().to_le_bytes()) {
            *s ^= p;
        }
        seed[31] ^= 0xa5;
        ChaCha8Rng::from_seed(seed)
    }

    /// The help centre at `t`: sometimes a search for what the customer `need`s, the best
    /// article it finds read, and sometimes "did this help?" answered. The planted failure:
    /// a late delivery has no article, so its searches find nothing. `alone`: the customer
    /// will not contact support (only some of them use the portal at all), and `t` is when
    /// their parcel arrived.
    fn portal(&mut self, t: i64, dev: u8, need: Need, alone: bool) {
        let mut r = self.rng_side();
        if !r.gen_bool(if alone { 0.08 } else { 0.7 }) {
            return;
        }
        let c = self.country.idx();
        let lang = ["cs", "pl"][c];
        let query = match need {
            Need::Late => one(&mut r, crate::kb::LATE_QUERIES[c]),
            Need::Return => one(&mut r, crate::kb::RETURN_QUERIES[c]),
            Need::Other => one(&mut r, crate::kb::OTHER_QUERIES[c]),
        };
        let (results, best) = crate::kb::results(lang, query);
        let who = Who::Known(dev);
        // Before a contact: in the minute before it; alone: within two days.
        let t = t + if alone { r.gen_range(HOUR..2 * DAY) } else { r.gen_range(5 * SECOND..15 * SECOND) };
        self.track(t - 4 * SECOND, who, Track::PortalVisited);
        self.track(t, who, Track::KbSearched { query, results, lang });
        let Some(article) = best else { return };
        if !r.gen_bool(0.85) {
            return;
        }
        self.track(t + r.gen_range(10 * SECOND..20 * SECOND), who, Track::ArticleViewed { article });
        let p_answer = if alone { 0.5 } else { 0.35 };
        if r.gen_bool(p_answer) {
            let helpful = r.gen_bool(if alone { 0.85 } else { 0.3 });
            self.track(t + r.gen_range(25 * SECOND..40 * SECOND), who, Track::ArticleRated { article, helpful });
        }
    }

    /// Run the whole life of the customer, first arriving somewhere in `[start, end)`.
    pub(crate) fn run(&mut self, start: i64) {
        let arrival = start + (self.arrival.powf(self.skew) * (self.end - start) as f64) as i64;
        let mut t = self.daytime(arrival);
        if t < start || t >= self.end {
            t = arrival;
        }
        let mut source = pick(self.rng, FIRST_SOURCES);
        let mut dev = MAIN;
        let mut first = true;
        let mut last = t;
        while t < self.end {
            last = if source == Source::App { self.app_session(t) } else { self.web_session(t, dev, source, first) };
            first = false;
            if self.churned || !self.rng.gen_bool(self.ret.clamp(0.0, 0.995)) {
                break;
            }
            // The next visit, unless a newsletter click brings the customer back sooner.
            let long_break = if self.rng.gen_bool(0.12) { 4.0 } else { 1.0 };
            let gap = exp(self.rng, self.gap_days * long_break * DAY as f64) as i64;
            let mut next = self.daytime(last + gap).max(last + 30 * MINUTE + self.rng.gen_range(0..2 * HOUR));
            source = if self.app_installed && self.rng.gen_bool(0.55) {
                Source::App
            } else {
                pick(self.rng, RETURN_SOURCES)
            };
            if let Some(click) = self.newsletters(last, next, 1.0, true) {
                next = click;
                source = Source::Newsletter;
            }
            dev = if self.second_browser && self.rng.gen_bool(0.4) { OTHER_BROWSER } else { MAIN };
            t = next;
        }
        if !self.churned {
            // Gone quiet: the newsletter still arrives, and is opened less and less.
            let until = (last + 35 * DAY).min(self.end);
            self.newsletters(last, until, 0.5, false);
        }
    }

    /// Newsletters (Mondays and Thursdays, 07:00 UTC) sent in `(from, to)`: opens, at
    /// `scale` times the customer's usual rate, and maybe a click that starts the next visit
    /// (its time is returned).
    fn newsletters(&mut self, from: i64, to: i64, scale: f64, click: bool) -> Option<i64> {
        if !self.subscribed {
            return None;
        }
        let mut day = from.div_euclid(DAY);
        loop {
            let send = day * DAY + NEWSLETTER_HOUR * HOUR;
            day += 1;
            if send >= to {
                return None;
            }
            if send <= from || !is_newsletter_day(day - 1) || !self.rng.gen_bool((self.p_open * scale).min(1.0)) {
                continue;
            }
            let open = send + MINUTE + (exp(self.rng, 5.0 * HOUR as f64) as i64).min(2 * DAY);
            if open < to {
                self.track(open, Who::Server, Track::EmailOpened);
                if click && self.rng.gen_bool(0.22) {
                    return Some(open + self.rng.gen_range(10 * SECOND..2 * MINUTE));
                }
            }
        }
    }

    /// Where a web visit lands, and how it got there.
    fn landing(&mut self, source: Source) -> (Page, Via) {
        let c = self.country.idx();
        let r = self.rng.gen_range(0..100u32);
        let product = |s: &mut Self| Page::Product(s.product());
        let category = |s: &mut Self| Page::Category(s.rng.gen_range(0..brand::CATEGORIES.len() as u8));
        let blog = |s: &mut Self| Page::Blog(s.rng.gen_range(0..brand::BLOG_POSTS.len() as u8));
        match source {
            Source::Search => {
                let via = Via::Referrer(pick(self.rng, brand::SEARCH_REFERRERS[c]));
                let page = match r {
                    0..=44 => product(self),
                    45..=74 => category(self),
                    75..=89 => blog(self),
                    _ => Page::Home,
                };
                (page, via)
            }
            Source::Ads | Source::PaidSocial => {
                let via = if source == Source::Ads {
                    Via::Campaign { medium: "cpc", source: pick(self.rng, brand::AD_SOURCES[c]), newsletter: false }
                } else {
                    Via::Campaign {
                        medium: "paid_social",
                        source: pick(self.rng, brand::PAID_SOCIAL_SOURCES),
                        newsletter: false,
                    }
                };
                let page = match r {
                    0..=54 => product(self),
                    55..=89 => category(self),
                    _ => Page::Home,
                };
                (page, via)
            }
            Source::Social => {
                let via = Via::Referrer(pick(self.rng, brand::SOCIAL_REFERRERS));
                let page = match r {
                    0..=49 => product(self),
                    50..=89 => blog(self),
                    _ => Page::Home,
                };
                (page, via)
            }
            Source::Review => (product(self), Via::Referrer(pick(self.rng, brand::REVIEW_REFERRERS[c]))),
            Source::Forum => {
                let via = Via::Referrer(pick(self.rng, brand::FORUM_REFERRERS[c]));
                let page = if r < 40 { blog(self) } else { product(self) };
                (page, via)
            }
            Source::Blog => (blog(self), Via::Direct),
            Source::Direct | Source::App => (Page::Home, Via::Direct),
            Source::Newsletter => {
                let via = Via::Campaign { medium: "email", source: "newsletter", newsletter: true };
                let page = match r {
                    0..=49 => category(self),
                    50..=84 => product(self),
                    _ => Page::Home,
                };
                (page, via)
            }
        }
    }

    /// A product, popular ones more often.
    fn product(&mut self) -> u8 {
        let u: f64 = self.rng.gen();
        ((u * u * PRODUCTS.len() as f64) as usize).min(PRODUCTS.len() - 1) as u8
    }

    /// A product of a category.
    fn product_in(&mut self, cat: u8) -> u8 {
        let n = PRODUCTS.iter().filter(|p| p.cat == cat).count().max(1) as u32;
        let k = self.rng.gen_range(0..n) as usize;
        PRODUCTS.iter().position(|p| p.cat == cat).map(|i| i + k).unwrap_or(0) as u8
    }

    /// The page a browsing customer goes to from `from`.
    fn next_page(&mut self, from: Page) -> Page {
        let r = self.rng.gen_range(0..100u32);
        let ncat = brand::CATEGORIES.len() as u8;
        match (r, from) {
            (0..=2, _) => Page::Help(one(self.rng, &[brand::HELP_DELIVERY, brand::HELP_PAYMENT, brand::HELP_RETURNS])),
            (3..=4, _) => Page::Blog(self.rng.gen_range(0..brand::BLOG_POSTS.len() as u8)),
            (_, Page::Category(c)) if r < 80 => Page::Product(self.product_in(c)),
            (_, Page::Product(p)) if r < 50 => Page::Product(self.product_in(PRODUCTS[p as usize].cat)),
            (_, Page::Product(_)) if r < 75 => Page::Category(self.rng.gen_range(0..ncat)),
            (_, Page::Home) if r < 60 => Page::Category(self.rng.gen_range(0..ncat)),
            _ if r < 70 => Page::Product(self.product()),
            _ => Page::Category(self.rng.gen_range(0..ncat)),
        }
    }

    /// One visit of the web shop; returns the time of its last event.
    fn web_session(&mut self, mut t: i64, dev: u8, source: Source, first: bool) -> i64 {
        let (mut page, via) = self.landing(source);
        self.push(t, self.who(dev), What::Page(page, via));
        if self.known && !self.logged_in[dev as usize] && self.rng.gen_bool(0.3) {
            // Logs in on this device.
            t += self.click_gap();
            self.logged_in[dev as usize] = true;
            self.push(t, Who::Known(dev), What::Identify);
        }
        if first && self.rng.gen_bool(self.bounce) {
            return t;
        }
        let n = geometric(self.rng, self.pages);
        for _ in 0..n {
            t += self.click_gap();
            let next = self.next_page(page);
            self.push(t, self.who(dev), What::Page(next, Via::Internal(page)));
            page = next;
        }
        if !self.known && self.rng.gen_bool(0.035) {
            // The newsletter form in the footer.
            t += self.click_gap();
            self.sign_up(t, dev, "newsletter-form", true);
        }
        if n >= 1 && self.rng.gen_bool(0.015) {
            t += self.click_gap();
            let wait_seconds = self.rng.gen_range(5..90);
            self.track(t, self.who(dev), Track::ChatStarted { topic: "product-question", wait_seconds });
        }
        if self.rng.gen_bool(self.buy.clamp(0.0, 1.0)) {
            t = self.shop(t, dev, page);
        }
        if self.known && self.wants_app && !self.app_installed && self.rng.gen_bool(0.35) {
            // Installs the app and logs in there: a second device, merged by the identify.
            t += self.rng.gen_range(MINUTE..30 * MINUTE);
            self.app_installed = true;
            self.track(t, Who::Anon(APP), Track::AppInstalled);
            t += self.rng.gen_range(30 * SECOND..3 * MINUTE);
            self.logged_in[APP as usize] = true;
            self.push(t, Who::Known(APP), What::Identify);
        }
        t
    }

    /// One visit of the app (sometimes from a push notification); returns its last time.
    fn app_session(&mut self, mut t: i64) -> i64 {
        let who = self.who(APP);
        if self.rng.gen_bool(0.35) {
            self.track(t, who, Track::PushOpened);
            t += self.rng.gen_range(SECOND..5 * SECOND);
        }
        self.push(t, who, What::Screen(Screen::Home));
        let mut last = Page::Home;
        for _ in 0..geometric(self.rng, self.pages) {
            t += self.click_gap();
            last = self.next_page(last);
            let screen = match last {
                Page::Category(c) => Screen::Category(c),
                Page::Product(p) => Screen::Product(p),
                _ => Screen::Home,
            };
            self.push(t, who, What::Screen(screen));
        }
        if self.rng.gen_bool((self.buy * 1.2).clamp(0.0, 1.0)) {
            t = self.shop(t, APP, last);
        }
        t
    }

    /// A page or, in the app, a screen.
    fn view(&mut self, t: i64, dev: u8, page: Page, from: Page) {
        let what = if dev == APP {
            What::Screen(match page {
                Page::Product(p) => Screen::Product(p),
                Page::Cart => Screen::Cart,
                Page::Checkout(_) => Screen::Checkout,
                Page::Category(c) => Screen::Category(c),
                _ => Screen::Home,
            })
        } else {
            What::Page(page, Via::Internal(from))
        };
        self.push(t, self.who(dev), what);
    }

    /// Create an account (or subscribe to the newsletter) and identify.
    fn sign_up(&mut self, t: i64, dev: u8, method: &'static str, newsletter: bool) {
        self.known = true;
        self.logged_in[dev as usize] = true;
        self.subscribed |= newsletter;
        self.track(t, Who::Anon(dev), Track::SignedUp { method, newsletter });
        let at = t + self.rng.gen_range(200..2000);
        self.push(at, Who::Known(dev), What::Identify);
    }

    /// Fill the cart from `at`, perhaps check out; returns the last time.
    fn shop(&mut self, mut t: i64, dev: u8, at: Page) -> i64 {
        self.cart.clear();
        let mut page = at;
        let lines = 1 + geometric(self.rng, 0.5).min(4);
        for k in 0..lines {
            let product = match page {
                Page::Product(p) if k == 0 => p,
                _ => {
                    let p = self.product();
                    t += self.click_gap();
                    self.view(t, dev, Page::Product(p), page);
                    page = Page::Product(p);
                    p
                }
            };
            let quantity = match self.rng.gen_range(0..100u32) {
                0..=79 => 1,
                80..=94 => 2,
                _ => self.rng.gen_range(3..6),
            };
            t += self.rng.gen_range(3 * SECOND..40 * SECOND);
            self.track(t, self.who(dev), Track::ProductAdded { product, quantity });
            self.cart.push((product, quantity));
        }
        t += self.click_gap();
        self.view(t, dev, Page::Cart, page);
        if self.rng.gen_bool(0.62) {
            t = self.checkout(t, dev);
        }
        t
    }

    /// Checkout, payment and (maybe) the order; returns the last time.
    fn checkout(&mut self, mut t: i64, dev: u8) -> i64 {
        t += self.click_gap();
        if !self.logged_in[dev as usize] {
            if self.known {
                self.logged_in[dev as usize] = true;
                self.push(t, Who::Known(dev), What::Identify);
            } else if self.rng.gen_bool(0.45) {
                let consent = self.newsletter_consent;
                self.sign_up(t, dev, "checkout", consent);
            } else {
                // A guest order: the e-mail given at checkout identifies the customer.
                self.known = true;
                self.logged_in[dev as usize] = true;
                self.subscribed |= self.newsletter_consent && self.rng.gen_bool(0.5);
                self.push(t, Who::Known(dev), What::Identify);
            }
            t += self.rng.gen_range(5 * SECOND..30 * SECOND);
        }
        let c = self.country;
        let order = self.attempts;
        self.attempts = self.attempts.saturating_add(1);
        let value: i64 = self.cart.iter().map(|&(p, q)| PRODUCTS[p as usize].price(c) * i64::from(q)).sum();
        let items: u8 = self.cart.iter().map(|&(_, q)| q).sum();
        let who = Who::Known(dev);
        self.track(t, who, Track::CheckoutStarted { order, value, items });
        t += self.click_gap();
        self.view(t, dev, Page::Checkout(0), Page::Cart);
        let abandon = self.rng.gen_bool(P_ABANDON_CHECKOUT);
        if abandon && self.rng.gen_bool(0.5) {
            return t; // leaves at the delivery step
        }
        t += self.click_gap();
        self.view(t, dev, Page::Checkout(1), Page::Checkout(0));
        let mut method = pick(self.rng, brand::PAYMENT_METHODS[c.idx()]);
        let can_fail = !matches!(method, "cash-on-delivery" | "bank-transfer");
        if can_fail && self.rng.gen_bool(P_PAYMENT_FAIL) {
            t += self.rng.gen_range(20 * SECOND..2 * MINUTE);
            let reason = if method == "blik" {
                pick(self.rng, brand::BLIK_FAILURES)
            } else {
                pick(self.rng, brand::PAYMENT_FAILURES)
            };
            self.track(t, who, Track::PaymentFailed { order, value, method, reason });
            if !self.rng.gen_bool(P_RETRY_AFTER_FAIL) {
                // Gives up, and is much less keen on the shop from now on.
                self.buy *= 0.3;
                self.ret *= 0.55;
                return t;
            }
            method = if c == Country::Cz { "cash-on-delivery" } else { "blik" };
            t += self.rng.gen_range(MINUTE..4 * MINUTE);
        } else if abandon {
            return t;
        }
        t += self.rng.gen_range(20 * SECOND..2 * MINUTE);
        let pickup = self.rng.gen_bool(0.12);
        let shipping = if pickup { "store-pickup" } else { "courier" };
        let first = self.placed == 0;
        self.placed += 1;
        self.track(t, who, Track::OrderCompleted { order, value, items, method, shipping, first });
        self.fulfil(t, order, dev, pickup);
        t
    }

    /// Delivery and after-sales of an order placed at `t`; may end the customer's life.
    fn fulfil(&mut self, t: i64, order: u16, dev: u8, pickup: bool) {
        let c = self.country.idx();
        let mut late = false;
        let mut delayed_at = 0;
        let done;
        if pickup {
            let day = t + self.rng.gen_range(1..4) * DAY;
            done = self.daytime(day);
            let store = pick(self.rng, brand::STORES[c]);
            self.track(done, Who::Server, Track::OrderPickedUp { order, store });
        } else {
            let carrier = pick(self.rng, brand::CARRIERS[c]);
            let shipped = t + self.rng.gen_range(3 * HOUR..30 * HOUR);
            self.track(shipped, Who::Server, Track::OrderShipped { order, carrier });
            let day = shipped + self.rng.gen_range(1..3) * DAY;
            let due = self.daytime(day).max(shipped + HOUR);
            late = self.rng.gen_bool(P_LATE);
            if late {
                let days_late = self.rng.gen_range(2..9u8);
                delayed_at = due + self.rng.gen_range(2 * HOUR..8 * HOUR);
                self.track(delayed_at, Who::Server, Track::DeliveryDelayed { order, carrier, days_late });
                done = self.daytime(due + i64::from(days_late) * DAY).max(delayed_at + DAY);
                self.track(done, Who::Server, Track::OrderDelivered { order, carrier, days_late });
            } else {
                done = due;
                self.track(done, Who::Server, Track::OrderDelivered { order, carrier, days_late: 0 });
            }
        }

        let mut last = done;
        let mut long_wait = false;
        // Contacting support: where is my parcel, how do I return this, it is broken.
        let contact = self.rng.gen_bool(if late { 0.45 } else { 0.15 });
        if contact {
            let mut at = if late {
                // The customer asks where the parcel is while waiting for it.
                delayed_at + self.rng.gen_range(30 * MINUTE..(done - delayed_at).max(HOUR))
            } else {
                done + self.rng.gen_range(HOUR..3 * DAY)
            };
            let topic = if late { "delivery" } else { one(self.rng, &["return", "complaint", "product-question"]) };
            if self.rng.gen_bool(0.5) {
                let help = if late {
                    brand::HELP_TRACKING
                } else {
                    one(self.rng, &[brand::HELP_RETURNS, brand::HELP_COMPLAINT])
                };
                self.push(at, Who::Known(dev), What::Page(Page::Help(help), Via::Direct));
                at += self.rng.gen_range(MINUTE..10 * MINUTE);
            }
            // The help centre first, for many: a minute before the contact.
            self.portal(at - MINUTE, dev, if late { Need::Late } else { Need::Return }, false);
            let how = self.rng.gen_range(0..100u32);
            let mut trigger = "";
            if how < 40 {
                let wait_seconds = self.rng.gen_range(10..240);
                self.track(at, Who::Known(dev), Track::ChatStarted { topic, wait_seconds });
                trigger = "chat";
            } else if how < 88 {
                let wait =
                    if self.rng.gen_bool(P_LONG_WAIT) { self.rng.gen_range(16..50) } else { self.rng.gen_range(1..13) };
                long_wait = wait > 15;
                let duration_minutes = self.rng.gen_range(2..20);
                self.track(at, Who::Server, Track::SupportCall { topic, wait_minutes: wait, duration_minutes });
                at += i64::from(wait + duration_minutes) * MINUTE;
                trigger = if long_wait { "support-call-long-wait" } else { "support-call" };
            }
            if !trigger.is_empty() && self.rng.gen_bool(0.3) {
                at += self.rng.gen_range(10 * MINUTE..6 * HOUR);
                let score = if long_wait {
                    pick(self.rng, &[(1u8, 40), (2, 30), (3, 20), (4, 8), (5, 2)])
                } else if late {
                    pick(self.rng, &[(1u8, 15), (2, 20), (3, 30), (4, 25), (5, 10)])
                } else {
                    pick(self.rng, &[(1u8, 3), (2, 5), (3, 12), (4, 40), (5, 40)])
                };
                let comment = (long_wait && self.rng.gen_bool(0.4)).then(|| one(self.rng, brand::COMMENTS_WAIT[c]));
                self.track(
                    at,
                    Who::Server,
                    Track::SurveyAnswered { survey: Survey::Csat, score, comment, trigger, order },
                );
            }
            last = last.max(at);
        } else {
            // Some customers help themselves in the help centre and never call.
            self.portal(done, dev, Need::Other, true);
        }
        let complaint = self.rng.gen_bool(if late { 0.12 } else { 0.02 });
        if complaint {
            let at = done + self.rng.gen_range(HOUR..5 * DAY);
            let reason = pick(self.rng, brand::COMPLAINT_REASONS);
            self.track(at, Who::Server, Track::ComplaintFiled { order, reason });
            last = last.max(at);
        }
        if self.rng.gen_bool(0.05) {
            let at = done + self.rng.gen_range(DAY..12 * DAY);
            let reason = pick(self.rng, brand::RETURN_REASONS);
            self.track(at, Who::Server, Track::ReturnRequested { order, reason });
            last = last.max(at);
        }
        if self.rng.gen_bool(0.22) {
            let day = done + self.rng.gen_range(1..3) * DAY;
            let at = self.daytime(day);
            let score = if late {
                pick(
                    self.rng,
                    &[(0u8, 12), (1, 10), (2, 12), (3, 14), (4, 12), (5, 10), (6, 8), (7, 10), (8, 6), (9, 4), (10, 2)],
                )
            } else if long_wait {
                pick(self.rng, &[(2u8, 10), (3, 10), (4, 10), (5, 15), (6, 15), (7, 15), (8, 12), (9, 8), (10, 5)])
            } else {
                pick(self.rng, &[(3u8, 2), (4, 2), (5, 4), (6, 7), (7, 12), (8, 18), (9, 28), (10, 27)])
            };
            let comment = if self.rng.gen_bool(0.4) {
                let list = if late {
                    brand::COMMENTS_LATE[c]
                } else if long_wait {
                    brand::COMMENTS_WAIT[c]
                } else if score >= 9 {
                    brand::COMMENTS_GOOD[c]
                } else {
                    brand::COMMENTS_MEH[c]
                };
                Some(one(self.rng, list))
            } else {
                None
            };
            let trigger = if late {
                "delivery-late"
            } else if pickup {
                "store-pickup"
            } else {
                "order-delivered"
            };
            self.track(at, Who::Server, Track::SurveyAnswered { survey: Survey::Nps, score, comment, trigger, order });
            last = last.max(at);
        }
        if self.rng.gen_bool(if late { 0.12 } else { 0.05 }) {
            let at = done + self.rng.gen_range(DAY..14 * DAY);
            let site = pick(self.rng, brand::REVIEW_SITES[c]);
            let rating = if late {
                pick(self.rng, &[(1u8, 60), (2, 30), (3, 10)])
            } else {
                pick(self.rng, &[(3u8, 8), (4, 30), (5, 62)])
            };
            self.track(at, Who::Server, Track::ReviewWritten { order, site, rating });
            last = last.max(at);
        }
        if !late && self.rng.gen_bool(0.03) {
            let at = done + self.rng.gen_range(HOUR..4 * DAY);
            let product = self.cart.first().map(|&(p, _)| p).unwrap_or(0);
            let network = pick(self.rng, brand::SHARE_NETWORKS);
            self.track(at, Who::Known(dev), Track::ProductShared { product, network });
            last = last.max(at);
        }

        // Does the customer leave, and say so?
        let p_churn = 2.0 * CHURN_BASE / (1.0 + f64::from(self.placed))
            + if late { CHURN_LATE } else { 0.0 }
            + if long_wait { CHURN_LONG_WAIT } else { 0.0 }
            + if complaint { CHURN_COMPLAINT } else { 0.0 };
        if self.rng.gen_bool(p_churn.min(0.95)) {
            let at = last + self.rng.gen_range(2 * DAY..25 * DAY);
            let reason = if late {
                "late-delivery"
            } else if long_wait {
                "customer-service"
            } else {
                one(self.rng, &brand::CHURN_REASONS[1..])
            };
            if self.rng.gen_bool(0.6) {
                let competitor = pick(self.rng, brand::COMPETITORS[c]);
                self.track(at, Who::Server, Track::SwitchedToCompetitor { competitor, reason });
            } else {
                self.track(at, Who::Server, Track::AccountDeleted { reason });
            }
            self.churned = true;
            return;
        }
        if late {
            // Stays, but rarely buys again.
            self.buy *= 0.4;
            self.ret *= 0.7;
        } else if long_wait {
            self.ret *= 0.8;
        } else {
            // A good experience brings the customer back.
            self.ret += (1.0 - self.ret) * 0.25;
        }
    }
}
