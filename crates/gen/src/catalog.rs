//! The demo brand's touchpoint catalog: the default catalog extended with Zahrádka's own
//! touchpoints and the rules that map every event the generator writes onto them.
//!
//! The generator and this catalog are designed together: every track, page and screen event
//! the generator emits is claimed by a rule here, so nothing is left to auto-discovery. The
//! rule layout is:
//!
//! * track events by exact event name, priorities 100–199 (a long support-line wait is the
//!   same `Support Call` event with `wait_minutes` over 15, claimed by a rule that runs first);
//! * app screens by screen name, priorities 300–399;
//! * extra referrer domains (garden forums), priority 9 000, before the default rules;
//! * web pages by path prefix, priorities from 20 000, *after* the default rules, so that a
//!   landing page with a campaign (UTM) or an outside referrer counts as the way the
//!   customer arrived (paid ad, search, review site, …) and only the pages that follow in
//!   the visit count as category, product or home-page views.

use crate::brand::{self, paths};
use touchpoint_core::catalog::{default_catalog, DEFAULT_RULE_PRIORITY};
use touchpoint_core::{Catalog, Channel, Condition, EventType, Field, Localized, Op, Rule, Touchpoint, TouchpointKind};

/// The touchpoint keys of the planted pain points, most harmful first:
/// a late delivery, a failed payment at checkout, a long wait on the support line.
pub const PAIN_POINTS: &[&str] = &["delivery-late", "payment-failed", "support-call-long-wait"];

/// Track event names the generator writes (Segment's e-commerce spec names where one exists).
pub mod events {
    /// The mobile app was installed.
    pub const APP_INSTALLED: &str = "Application Installed";
    /// An account was created or the newsletter form was sent.
    pub const SIGNED_UP: &str = "Signed Up";
    /// A product went into the cart.
    pub const PRODUCT_ADDED: &str = "Product Added";
    /// The customer went from the cart to the checkout.
    pub const CHECKOUT_STARTED: &str = "Checkout Started";
    /// The payment gateway refused the payment.
    pub const PAYMENT_FAILED: &str = "Payment Failed";
    /// An order was placed: the conversion goal.
    pub const ORDER_COMPLETED: &str = "Order Completed";
    /// The warehouse handed the parcel to the carrier.
    pub const ORDER_SHIPPED: &str = "Order Shipped";
    /// The carrier missed the promised delivery date.
    pub const DELIVERY_DELAYED: &str = "Delivery Delayed";
    /// The parcel was delivered (`days_late` tells whether on time).
    pub const ORDER_DELIVERED: &str = "Order Delivered";
    /// A click-and-collect order was picked up in a garden centre.
    pub const ORDER_PICKED_UP: &str = "Order Picked Up";
    /// A live chat began.
    pub const CHAT_STARTED: &str = "Chat Started";
    /// A call to the support line (`wait_minutes`, `long_wait` when over 15 minutes).
    pub const SUPPORT_CALL: &str = "Support Call";
    /// A return was requested in the customer portal.
    pub const RETURN_REQUESTED: &str = "Return Requested";
    /// A formal complaint (reklamace) was filed in the customer portal.
    pub const COMPLAINT_FILED: &str = "Complaint Filed";
    /// A survey was answered (NPS after delivery, CSAT after support).
    pub const SURVEY_ANSWERED: &str = "Survey Answered";
    /// A review was published on a review site.
    pub const REVIEW_WRITTEN: &str = "Review Written";
    /// A product was shared on a social network.
    pub const PRODUCT_SHARED: &str = "Product Shared";
    /// A newsletter was opened.
    pub const EMAIL_OPENED: &str = "Email Opened";
    /// A push notification of the app was opened.
    pub const PUSH_OPENED: &str = "Push Notification Opened";
    /// The customer deleted the account.
    pub const ACCOUNT_DELETED: &str = "Account Deleted";
    /// The exit survey says the customer now buys from a competitor.
    pub const SWITCHED_TO_COMPETITOR: &str = "Switched To Competitor";

    /// App screen names.
    pub mod screens {
        /// The app's home screen.
        pub const HOME: &str = "Home";
        /// A category listing.
        pub const CATEGORY: &str = "Category";
        /// A product's detail.
        pub const PRODUCT: &str = "Product Detail";
        /// The cart.
        pub const CART: &str = "Cart";
        /// The checkout.
        pub const CHECKOUT: &str = "Checkout";
    }
}

/// One brand touchpoint plus the track event (or screens) that map to it.
struct Def {
    key: &'static str,
    names: [&'static str; 3],
    channel: Channel,
    kind: TouchpointKind,
    stage: &'static str,
    department: &'static str,
}

/// The demo brand's catalog: the default catalog (stages, common touchpoints, their rules)
/// plus Zahrádka's own touchpoints and rules — 35 touchpoints covering every default stage,
/// every channel, both kinds and five departments, with names in en, cs and pl.
pub fn brand_catalog() -> Catalog {
    use Channel::*;
    use TouchpointKind::*;
    let mut cat = default_catalog();
    let d = |key, names, channel, kind, stage, department| Def { key, names, channel, kind, stage, department };
    let defs = [
        d("home-page", ["Home page", "Úvodní stránka", "Strona główna"], Web, Direct, "awareness", "marketing"),
        d(
            "category-page",
            ["Category page", "Kategorie zboží", "Strona kategorii"],
            Web,
            Direct,
            "consideration",
            "marketing",
        ),
        d(
            "product-page",
            ["Product page", "Detail produktu", "Karta produktu"],
            Web,
            Direct,
            "consideration",
            "product",
        ),
        d(
            "app-installed",
            ["App installed", "Instalace aplikace", "Instalacja aplikacji"],
            App,
            Direct,
            "consideration",
            "product",
        ),
        d(
            "app-browse",
            ["Browsing in the app", "Prohlížení v aplikaci", "Przeglądanie w aplikacji"],
            App,
            Direct,
            "consideration",
            "product",
        ),
        d("sign-up", ["Sign-up", "Registrace", "Rejestracja"], Web, Direct, "consideration", "marketing"),
        d(
            "payment-failed",
            ["Payment failed", "Neúspěšná platba", "Nieudana płatność"],
            Web,
            Direct,
            "purchase",
            "sales",
        ),
        d(
            "order-shipped",
            ["Order shipped", "Objednávka odeslána", "Zamówienie wysłane"],
            Email,
            Direct,
            "service",
            "logistics",
        ),
        d(
            "order-delivered",
            ["Order delivered", "Objednávka doručena", "Zamówienie doręczone"],
            Other,
            Indirect,
            "service",
            "logistics",
        ),
        d(
            "delivery-late",
            ["Delivery delayed", "Doručení zpožděno", "Opóźniona dostawa"],
            Other,
            Indirect,
            "service",
            "logistics",
        ),
        d(
            "store-pickup",
            ["Pick-up in a garden centre", "Vyzvednutí v zahradním centru", "Odbiór w centrum ogrodniczym"],
            Store,
            Direct,
            "service",
            "logistics",
        ),
        d("chat", ["Live chat", "Chat s podporou", "Czat z obsługą"], Chat, Direct, "service", "customer-service"),
        d(
            "support-call",
            ["Support call", "Hovor na zákaznickou linku", "Rozmowa z infolinią"],
            Phone,
            Direct,
            "service",
            "customer-service",
        ),
        d(
            "support-call-long-wait",
            ["Support call, long wait", "Hovor s dlouhým čekáním", "Rozmowa z długim oczekiwaniem"],
            Phone,
            Direct,
            "service",
            "customer-service",
        ),
        d(
            "return-request",
            ["Return request", "Vrácení zboží", "Zwrot towaru"],
            SelfService,
            Direct,
            "service",
            "customer-service",
        ),
        d("complaint", ["Complaint", "Reklamace", "Reklamacja"], SelfService, Direct, "service", "customer-service"),
        d(
            "newsletter-opened",
            ["Newsletter opened", "Otevřený newsletter", "Otwarty newsletter"],
            Email,
            Direct,
            "retention",
            "marketing",
        ),
        d(
            "push-opened",
            ["Push notification opened", "Otevřená notifikace", "Otwarte powiadomienie"],
            App,
            Direct,
            "retention",
            "marketing",
        ),
        d(
            "account-closed",
            ["Account closed", "Zrušení účtu", "Usunięcie konta"],
            SelfService,
            Direct,
            "retention",
            "customer-service",
        ),
        d(
            "switched-to-competitor",
            ["Switched to a competitor", "Odchod ke konkurenci", "Przejście do konkurencji"],
            Survey,
            Direct,
            "retention",
            "marketing",
        ),
        d(
            "review-written",
            ["Review written", "Napsaná recenze", "Napisana opinia"],
            Review,
            Indirect,
            "advocacy",
            "marketing",
        ),
        d(
            "product-shared",
            ["Product shared", "Sdílení produktu", "Udostępnienie produktu"],
            Social,
            Indirect,
            "advocacy",
            "marketing",
        ),
    ];
    for def in defs {
        let churn = matches!(def.key, "account-closed" | "switched-to-competitor");
        cat.touchpoints.push(Touchpoint {
            key: def.key.into(),
            names: Localized::new(def.names[0], def.names[1], def.names[2]),
            channel: def.channel,
            kind: def.kind,
            stage: Some(def.stage.into()),
            department: Some(def.department.into()),
            conversion: false,
            churn,
            discovered: false,
        });
    }

    use events::*;
    let track = |priority: i32, name: &str, key: &str, conditions: Vec<Condition>| Rule {
        id: 0,
        priority,
        touchpoint: key.into(),
        event_type: Some(EventType::Track),
        event_name: Some(name.into()),
        conditions,
    };
    let long_wait = Condition { field: Field::Property("wait_minutes".into()), op: Op::Gt, value: "15".into() };
    let tracks = [
        (SUPPORT_CALL, "support-call-long-wait"),
        (SUPPORT_CALL, "support-call"),
        (APP_INSTALLED, "app-installed"),
        (SIGNED_UP, "sign-up"),
        (PRODUCT_ADDED, "cart"),
        (CHECKOUT_STARTED, "checkout"),
        (PAYMENT_FAILED, "payment-failed"),
        (ORDER_COMPLETED, "order-completed"),
        (ORDER_SHIPPED, "order-shipped"),
        (DELIVERY_DELAYED, "delivery-late"),
        (ORDER_DELIVERED, "order-delivered"),
        (ORDER_PICKED_UP, "store-pickup"),
        (CHAT_STARTED, "chat"),
        (RETURN_REQUESTED, "return-request"),
        (COMPLAINT_FILED, "complaint"),
        (SURVEY_ANSWERED, "survey-answered"),
        (REVIEW_WRITTEN, "review-written"),
        (PRODUCT_SHARED, "product-shared"),
        (EMAIL_OPENED, "newsletter-opened"),
        (PUSH_OPENED, "push-opened"),
        (ACCOUNT_DELETED, "account-closed"),
        (SWITCHED_TO_COMPETITOR, "switched-to-competitor"),
    ];
    for (n, (name, key)) in tracks.into_iter().enumerate() {
        let conditions = if n == 0 { vec![long_wait.clone()] } else { vec![] };
        cat.rules.push(track(100 + n as i32, name, key, conditions));
    }

    let screens = [
        (screens::HOME, "app-browse"),
        (screens::CATEGORY, "app-browse"),
        (screens::PRODUCT, "app-browse"),
        (screens::CART, "cart"),
        (screens::CHECKOUT, "checkout"),
    ];
    for (n, (name, key)) in screens.into_iter().enumerate() {
        cat.rules.push(Rule {
            id: 0,
            priority: 300 + n as i32,
            touchpoint: key.into(),
            event_type: Some(EventType::Screen),
            event_name: Some(name.into()),
            conditions: vec![],
        });
    }

    let page = |priority: i32, key: &str, field: Field, op: Op, value: &str| Rule {
        id: 0,
        priority,
        touchpoint: key.into(),
        event_type: Some(EventType::Page),
        event_name: None,
        conditions: vec![Condition { field, op, value: value.into() }],
    };
    cat.rules.push(page(9_000, "forum", Field::ReferrerDomain, Op::OneOf, brand::GARDEN_FORUMS));
    let after = 2 * DEFAULT_RULE_PRIORITY;
    cat.rules.push(page(after, "home-page", Field::Path, Op::Equals, "/"));
    for (n, prefix) in paths::CATEGORY.into_iter().enumerate() {
        cat.rules.push(page(after + 10 + n as i32, "category-page", Field::Path, Op::Prefix, prefix));
    }
    cat.rules.push(page(after + 20, "product-page", Field::Path, Op::Prefix, paths::PRODUCT));
    cat
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn catalog_is_complete_and_consistent() {
        let cat = brand_catalog();
        let keys: HashSet<&str> = cat.touchpoints.iter().map(|t| t.key.as_str()).collect();
        assert_eq!(keys.len(), cat.touchpoints.len(), "touchpoint keys are unique");
        assert!((28..=45).contains(&cat.touchpoints.len()), "{}", cat.touchpoints.len());
        for r in &cat.rules {
            assert!(keys.contains(r.touchpoint.as_str()), "rule maps to unknown {}", r.touchpoint);
        }
        for p in PAIN_POINTS {
            assert!(keys.contains(p), "{p}");
        }
        let stages: HashSet<&str> = cat.stages.iter().map(|s| s.key.as_str()).collect();
        for t in &cat.touchpoints {
            assert!(stages.contains(t.stage.as_deref().unwrap_or("")), "{} has a default stage", t.key);
        }
    }
}
