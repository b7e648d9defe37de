//! Identity stitching: which customer an event belongs to.
//!
//! A customer is stitched from anonymous ids (cookies, devices) and known user ids. The
//! graph here is the whole state of that stitching, kept in memory by the single writer;
//! every change it makes is returned as an [`IdentityOp`] that the store persists in the
//! same commit, and the graph can be rebuilt from those rows at start-up.
//!
//! The one rule that is never broken: **two customers that each had a known user id are
//! never merged.** An anonymous customer merges into a known one when an identify or alias
//! links them; when a link would join two known customers, nothing is merged and an
//! [`IdentityOp::Conflict`] is recorded instead, so a person can look at it.

use crate::keys::ProjectId;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// A customer's id, unique across projects.
pub type CustomerId = i64;

/// The kind of an identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IdentityKind {
    /// A known user id (from identify, alias or any event's `userId`).
    User,
    /// An anonymous id.
    Anonymous,
}

impl IdentityKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityKind::User => "user",
            IdentityKind::Anonymous => "anonymous",
        }
    }

    /// Parse a stored name.
    pub fn parse(s: &str) -> Option<IdentityKind> {
        match s {
            "user" => Some(IdentityKind::User),
            "anonymous" => Some(IdentityKind::Anonymous),
            _ => None,
        }
    }
}

/// One change to the identity graph, to be persisted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum IdentityOp {
    /// A customer came into being.
    NewCustomer {
        /// Its id.
        id: CustomerId,
        /// Its project.
        project: ProjectId,
        /// Its user id, when known from the start.
        user_id: Option<String>,
    },
    /// An identity now points at a customer.
    AddIdentity {
        /// Project.
        project: ProjectId,
        /// Kind.
        kind: IdentityKind,
        /// The id itself.
        value: String,
        /// The customer.
        customer: CustomerId,
    },
    /// An anonymous customer became known.
    SetUserId {
        /// The customer.
        customer: CustomerId,
        /// Its user id.
        user_id: String,
    },
    /// An anonymous customer was merged into another (known) one.
    Merge {
        /// The merged-away customer (its events now belong to `into`).
        from: CustomerId,
        /// The surviving customer.
        into: CustomerId,
    },
    /// A link between two known customers was refused.
    Conflict {
        /// Project.
        project: ProjectId,
        /// The customer the event was attributed to.
        customer: CustomerId,
        /// The other known customer the link pointed at.
        other: CustomerId,
        /// The identity that linked them (`anonymous:abc`, `user:42`).
        identity: String,
        /// What happened, in words.
        detail: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Customer {
    user_id: Option<String>,
    merged_into: Option<CustomerId>,
    /// Customers merged into this one (kept so merges stay one hop deep).
    children: Vec<CustomerId>,
}

/// The identity graph of all projects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityGraph {
    /// Identities by project and kind, then value (nested, so a lookup borrows the value).
    ids: HashMap<(ProjectId, IdentityKind), HashMap<String, CustomerId>>,
    customers: HashMap<CustomerId, Customer>,
    next_id: CustomerId,
}

impl IdentityGraph {
    /// An empty graph whose first customer gets id 1.
    pub fn new() -> Self {
        IdentityGraph { next_id: 1, ..Default::default() }
    }

    /// Number of customers (merged ones included).
    pub fn customer_count(&self) -> usize {
        self.customers.len()
    }

    /// Number of identities.
    pub fn identity_count(&self) -> usize {
        self.ids.values().map(HashMap::len).sum()
    }

    /// The surviving customer for an id.
    pub fn canonical(&self, id: CustomerId) -> CustomerId {
        self.customers.get(&id).and_then(|c| c.merged_into).unwrap_or(id)
    }

    /// The canonical customer an identity points at.
    pub fn lookup(&self, project: ProjectId, kind: IdentityKind, value: &str) -> Option<CustomerId> {
        self.ids.get(&(project, kind))?.get(value).map(|&c| self.canonical(c))
    }

    /// A customer's user id, if known.
    pub fn user_id(&self, id: CustomerId) -> Option<&str> {
        self.customers.get(&self.canonical(id))?.user_id.as_deref()
    }

    /// Rebuild: a customer row.
    pub fn load_customer(&mut self, id: CustomerId, user_id: Option<String>, merged_into: Option<CustomerId>) {
        let entry = self.customers.entry(id).or_insert(Customer { user_id: None, merged_into: None, children: vec![] });
        entry.user_id = user_id;
        entry.merged_into = merged_into;
        if let Some(p) = merged_into {
            self.customers
                .entry(p)
                .or_insert(Customer { user_id: None, merged_into: None, children: vec![] })
                .children
                .push(id);
        }
        self.next_id = self.next_id.max(id + 1);
    }

    /// Rebuild: an identity row.
    pub fn load_identity(&mut self, project: ProjectId, kind: IdentityKind, value: String, customer: CustomerId) {
        self.ids.entry((project, kind)).or_default().insert(value, customer);
    }

    /// Apply an op as it was persisted (used to rebuild and in tests).
    pub fn apply(&mut self, op: &IdentityOp) {
        match op {
            IdentityOp::NewCustomer { id, user_id, .. } => self.load_customer(*id, user_id.clone(), None),
            IdentityOp::AddIdentity { project, kind, value, customer } => {
                self.load_identity(*project, *kind, value.clone(), *customer)
            }
            IdentityOp::SetUserId { customer, user_id } => {
                if let Some(c) = self.customers.get_mut(customer) {
                    c.user_id = Some(user_id.clone());
                }
            }
            IdentityOp::Merge { from, into } => self.merge_raw(*from, *into),
            IdentityOp::Conflict { .. } => {}
        }
    }

    fn merge_raw(&mut self, from: CustomerId, into: CustomerId) {
        let children = match self.customers.get_mut(&from) {
            Some(c) => {
                c.merged_into = Some(into);
                std::mem::take(&mut c.children)
            }
            None => return,
        };
        for ch in &children {
            if let Some(c) = self.customers.get_mut(ch) {
                c.merged_into = Some(into);
            }
        }
        if let Some(t) = self.customers.get_mut(&into) {
            t.children.push(from);
            t.children.extend(children);
        }
    }

    fn create(&mut self, project: ProjectId, user_id: Option<&str>, ops: &mut Vec<IdentityOp>) -> CustomerId {
        let id = self.next_id;
        let op = IdentityOp::NewCustomer { id, project, user_id: user_id.map(str::to_string) };
        self.apply(&op);
        ops.push(op);
        id
    }

    fn add(
        &mut self,
        project: ProjectId,
        kind: IdentityKind,
        value: &str,
        customer: CustomerId,
        ops: &mut Vec<IdentityOp>,
    ) {
        let op = IdentityOp::AddIdentity { project, kind, value: value.to_string(), customer };
        self.apply(&op);
        ops.push(op);
    }

    fn push(&mut self, op: IdentityOp, ops: &mut Vec<IdentityOp>) {
        self.apply(&op);
        ops.push(op);
    }

    /// Resolve the customer of an event with these ids, stitching as needed. Returns the
    /// canonical customer the event belongs to. At least one id must be given.
    pub fn resolve(
        &mut self,
        project: ProjectId,
        user_id: Option<&str>,
        anonymous_id: Option<&str>,
        ops: &mut Vec<IdentityOp>,
    ) -> CustomerId {
        use IdentityKind::*;
        let a = anonymous_id.and_then(|v| self.lookup(project, Anonymous, v));
        let Some(user) = user_id else {
            let anon = anonymous_id.expect("an event has a user id or an anonymous id");
            return match a {
                Some(c) => c,
                None => {
                    let c = self.create(project, None, ops);
                    self.add(project, Anonymous, anon, c, ops);
                    c
                }
            };
        };
        match self.lookup(project, User, user) {
            Some(cu) => {
                match (anonymous_id, a) {
                    (Some(anon), None) => self.add(project, Anonymous, anon, cu, ops),
                    (Some(anon), Some(ca)) if ca != cu => self.link_anonymous(project, anon, ca, cu, ops),
                    _ => {}
                }
                cu
            }
            None => match (anonymous_id, a) {
                (Some(_), Some(ca)) if self.user_id(ca).is_none() => {
                    self.push(IdentityOp::SetUserId { customer: ca, user_id: user.to_string() }, ops);
                    self.add(project, User, user, ca, ops);
                    ca
                }
                (Some(anon), Some(ca)) => {
                    // The device already belongs to another known customer: a shared device.
                    let c = self.create(project, Some(user), ops);
                    self.add(project, User, user, c, ops);
                    self.conflict(
                        project,
                        c,
                        ca,
                        format!("anonymous:{anon}"),
                        "anonymous id already belongs to another known customer; not merged",
                        ops,
                    );
                    c
                }
                (anon, _) => {
                    let c = self.create(project, Some(user), ops);
                    self.add(project, User, user, c, ops);
                    if let Some(anon) = anon {
                        self.add(project, Anonymous, anon, c, ops);
                    }
                    c
                }
            },
        }
    }

    /// The anonymous id `anon` points at `ca` and is now seen with known customer `cu`.
    fn link_anonymous(
        &mut self,
        project: ProjectId,
        anon: &str,
        ca: CustomerId,
        cu: CustomerId,
        ops: &mut Vec<IdentityOp>,
    ) {
        if self.user_id(ca).is_none() {
            self.push(IdentityOp::Merge { from: ca, into: cu }, ops);
        } else {
            self.conflict(
                project,
                cu,
                ca,
                format!("anonymous:{anon}"),
                "anonymous id already belongs to another known customer; not merged",
                ops,
            );
        }
    }

    fn conflict(
        &mut self,
        project: ProjectId,
        customer: CustomerId,
        other: CustomerId,
        identity: String,
        detail: &str,
        ops: &mut Vec<IdentityOp>,
    ) {
        ops.push(IdentityOp::Conflict { project, customer, other, identity, detail: detail.to_string() });
    }

    /// An alias call: `previous_id` (a user id or an anonymous id) is the same person as
    /// `user_id`. Returns the customer the alias event belongs to.
    pub fn alias(
        &mut self,
        project: ProjectId,
        previous_id: &str,
        user_id: &str,
        ops: &mut Vec<IdentityOp>,
    ) -> CustomerId {
        use IdentityKind::*;
        let Some(cp) = self.lookup(project, User, previous_id) else {
            return self.resolve(project, Some(user_id), Some(previous_id), ops);
        };
        match self.lookup(project, User, user_id) {
            Some(cu) if cu == cp => cp,
            Some(cu) => {
                self.conflict(
                    project,
                    cu,
                    cp,
                    format!("user:{previous_id}"),
                    "alias would join two known customers; not merged",
                    ops,
                );
                cu
            }
            None => {
                self.add(project, User, user_id, cp, ops);
                cp
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn anonymous_then_identify_stitches() {
        let mut g = IdentityGraph::new();
        let mut ops = vec![];
        let a = g.resolve(1, None, Some("cookie"), &mut ops);
        let b = g.resolve(1, Some("alice"), Some("cookie"), &mut ops);
        assert_eq!(a, b, "identify on the same device is the same customer");
        assert_eq!(g.user_id(a), Some("alice"));
        // A second device, first anonymous, then logged in: merged into alice.
        let c = g.resolve(1, None, Some("phone"), &mut ops);
        assert_ne!(c, a);
        let d = g.resolve(1, Some("alice"), Some("phone"), &mut ops);
        assert_eq!(d, a);
        assert_eq!(g.canonical(c), a);
        assert!(ops.contains(&IdentityOp::Merge { from: c, into: a }));
    }

    #[test]
    fn two_known_customers_are_never_merged() {
        let mut g = IdentityGraph::new();
        let mut ops = vec![];
        let alice = g.resolve(1, Some("alice"), Some("shared-laptop"), &mut ops);
        let bob = g.resolve(1, Some("bob"), Some("shared-laptop"), &mut ops);
        assert_ne!(alice, bob);
        assert!(matches!(ops.last(), Some(IdentityOp::Conflict { .. })));
        ops.clear();
        let carol = g.resolve(1, Some("carol"), None, &mut ops);
        let r = g.alias(1, "carol", "alice", &mut ops);
        assert_eq!(r, alice);
        assert_ne!(g.canonical(carol), g.canonical(alice));
        assert!(matches!(ops.last(), Some(IdentityOp::Conflict { .. })));
    }

    #[test]
    fn projects_are_separate() {
        let mut g = IdentityGraph::new();
        let mut ops = vec![];
        let a = g.resolve(1, Some("u"), None, &mut ops);
        let b = g.resolve(2, Some("u"), None, &mut ops);
        assert_ne!(a, b);
    }

    #[derive(Debug, Clone)]
    enum Call {
        Event(Option<u8>, Option<u8>),
        Alias(bool, u8, u8),
    }

    fn call() -> impl Strategy<Value = Call> {
        prop_oneof![
            (proptest::option::of(0u8..5), proptest::option::of(0u8..6))
                .prop_filter("one id", |(u, a)| u.is_some() || a.is_some())
                .prop_map(|(u, a)| Call::Event(u, a)),
            (any::<bool>(), 0u8..6, 0u8..5).prop_map(|(p_is_user, p, u)| Call::Alias(p_is_user, p, u)),
        ]
    }

    proptest! {
        /// For any sequence of calls: known customers are never joined, every id resolves to
        /// one customer, user ids keep pointing where they were first seen, and replaying the
        /// ops rebuilds the same graph.
        #[test]
        fn merges_are_safe(calls in proptest::collection::vec(call(), 0..60)) {
            let mut g = IdentityGraph::new();
            let mut all_ops = vec![];
            let mut first_home: HashMap<String, CustomerId> = HashMap::new();
            let mut apart = std::collections::HashSet::new();
            for c in &calls {
                let mut ops = vec![];
                let (got, user) = match c {
                    Call::Event(u, a) => {
                        let u = u.map(|x| format!("u{x}"));
                        let a = a.map(|x| format!("a{x}"));
                        (g.resolve(7, u.as_deref(), a.as_deref(), &mut ops), u)
                    }
                    Call::Alias(p_is_user, p, u) => {
                        let prev = if *p_is_user { format!("u{p}") } else { format!("a{p}") };
                        let u = format!("u{u}");
                        (g.alias(7, &prev, &u, &mut ops), Some(u))
                    }
                };
                for op in &ops {
                    if let IdentityOp::Merge { from, .. } = op {
                        // Only customers that had no user id are ever merged away.
                        let was_known = all_ops.iter().chain(ops.iter()).any(|o| matches!(o,
                            IdentityOp::NewCustomer { id, user_id: Some(_), .. } if id == from));
                        prop_assert!(!was_known, "known customer {} was merged away", from);
                    }
                }
                all_ops.extend(ops);
                if let Some(u) = user {
                    let home = *first_home.entry(u.clone()).or_insert(got);
                    prop_assert_eq!(g.canonical(home), got, "user {} moved", u);
                    prop_assert_eq!(g.lookup(7, IdentityKind::User, &u), Some(got));
                }
                // Two user ids that were ever different customers never become one.
                let homes: Vec<_> = first_home.iter().map(|(u, h)| (u.clone(), g.canonical(*h))).collect();
                for (u1, h1) in &homes {
                    for (u2, h2) in &homes {
                        if h1 != h2 {
                            apart.insert((u1.clone(), u2.clone()));
                        } else {
                            prop_assert!(!apart.contains(&(u1.clone(), u2.clone())), "{} and {} were joined", u1, u2);
                        }
                    }
                }
            }
            let mut rebuilt = IdentityGraph::new();
            for op in &all_ops {
                rebuilt.apply(op);
            }
            prop_assert_eq!(rebuilt, g);
        }
    }
}
