//! Identity changes, trait patches and refusal counts on PostgreSQL: the metadata half of
//! a group commit ([`PgMetaStore::commit_identity`]), in one transaction, with the
//! embedded store's semantics and a few statements per commit however large it is.
//!
//! What the embedded store does op by op, this does in bulk: new customers and
//! identities are inserted from arrays (`UNNEST`), then the customers the other changes
//! touch are read (locked, `FOR UPDATE`), the changes applied to them in memory in their
//! order — user ids, merges (which re-point customers merged into the merged one, and carry
//! its traits over where the survivor has none), trait patches (RFC 7396, as SQLite's
//! `json_patch`: keys keep their places, new ones go last) — and the changed rows written
//! back in one statement; refused merges are inserted in order.
//!
//! **Replays.** Applying the same changes twice leaves what applying them once left: a new
//! customer that exists is kept (`ON CONFLICT DO NOTHING`), an identity is set to the same
//! customer, user ids, merges and trait patches set the same values again. Only the
//! informational rows are added again: a refused merge is recorded once more, and refused
//! events are counted once more (as they are whenever a client sends an event again).
//!
//! Changes that would bring an erased customer back are dropped first
//! ([`touchpoint_store::erasure::admitted_identity`]), against the suppression lists as of
//! this transaction and the customers this handle erased.

use crate::{Db, PgMetaStore};
use futures::TryStreamExt;
use serde_json::{Map, Value};
use sqlx::{PgConnection, Row};
use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use touchpoint_core::{CustomerId, IdentityGraph, IdentityKind, IdentityOp, ProjectId};
use touchpoint_store::erasure::{admitted_identity, identity_projects, TraitPatches};
use touchpoint_store::{now_ms, Result, StoreError};

/// RFC 7396 merge patch as SQLite's `json_patch(target, patch)` applies it: a `null` in the
/// patch removes the key (the others keep their order), an object is merged into an object
/// (or replaces anything else, its `null`s dropped), any other value replaces; keys keep
/// their places and new ones go last.
pub(crate) fn json_patch(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (k, v) in patch {
        match v {
            Value::Null => {
                target.shift_remove(k);
            }
            Value::Object(p) => match target.get_mut(k) {
                Some(Value::Object(t)) => json_patch(t, p),
                _ => {
                    let mut fresh = Map::new();
                    json_patch(&mut fresh, p);
                    target.insert(k.clone(), Value::Object(fresh));
                }
            },
            other => {
                target.insert(k.clone(), other.clone());
            }
        }
    }
}

/// A customer row the changes of one commit touch, as read and as changed.
struct Row_ {
    user_id: Option<String>,
    merged_into: Option<CustomerId>,
    traits: Map<String, Value>,
    /// Changed: written back.
    changed: bool,
    /// Changed by a change that sets `updated_ms` (user id, merge, trait patch — not the
    /// survivor's traits carried over by a merge, as in SQLite).
    touched: bool,
}

impl PgMetaStore {
    /// The metadata half of a group commit, in one transaction: identity changes (those
    /// that would bring an erased customer back dropped), trait patches, and the counts of
    /// events the writer refused. See the module documentation for what a replay does.
    pub async fn commit_identity(
        &self,
        ops: &[IdentityOp],
        traits: &TraitPatches,
        refused: &[(ProjectId, u64)],
    ) -> Result<()> {
        if ops.is_empty() && traits.is_empty() && refused.iter().all(|&(_, n)| n == 0) {
            return Ok(());
        }
        let mut admission = self.admission.lock().await;
        let mut tx = self.pool.begin().await.db()?;
        let projects = identity_projects(ops);
        if !projects.is_empty() {
            let version = crate::erasure::state_in(&mut tx, crate::erasure::SUPPRESSION_VERSION).await?;
            if version != admission.version {
                admission.lists.clear();
                admission.version = version;
            }
            for p in projects {
                if let Entry::Vacant(slot) = admission.lists.entry(p) {
                    slot.insert(Arc::new(crate::erasure::suppression_list_in(&mut tx, p).await?));
                }
            }
        }
        let lists = &admission.lists;
        let suppressed = |p: ProjectId, v: &str| lists.get(&p).is_some_and(|l| l.contains(v));
        let (ops, traits) = admitted_identity(ops, traits, suppressed, &admission.erased);
        apply(&mut tx, &ops, &traits).await?;
        for &(project, n) in refused {
            crate::erasure::count_refused_in(&mut tx, project, n).await?;
        }
        tx.commit().await.db()?;
        Ok(())
    }
}

/// Apply identity changes and trait patches inside the transaction `c` has open.
async fn apply(c: &mut PgConnection, ops: &[IdentityOp], traits: &TraitPatches) -> Result<()> {
    let now = now_ms();
    // New customers and identities go first: the changes below refer to them.
    let (mut ids, mut projects, mut users) = (vec![], vec![], vec![]);
    for op in ops {
        if let IdentityOp::NewCustomer { id, project, user_id } = op {
            ids.push(*id);
            projects.push(*project);
            users.push(user_id.clone());
        }
    }
    if !ids.is_empty() {
        sqlx::query(
            "INSERT INTO customers (id, project_id, user_id, merged_into, traits, created_ms, updated_ms)
             SELECT id, project_id, user_id, NULL, '{}', $4, $4 FROM UNNEST($1::int8[], $2::int8[], $3::text[])
                 AS n(id, project_id, user_id)
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&ids)
        .bind(&projects)
        .bind(&users)
        .bind(now)
        .execute(&mut *c)
        .await
        .db()?;
    }
    // An identity set twice in one commit points where it was set last (one statement
    // may not change a row twice).
    let mut last: HashMap<(ProjectId, IdentityKind, &str), usize> = HashMap::new();
    let mut added: Vec<(ProjectId, IdentityKind, &str, CustomerId)> = vec![];
    for op in ops {
        if let IdentityOp::AddIdentity { project, kind, value, customer } = op {
            match last.get(&(*project, *kind, value.as_str())) {
                Some(&i) => added[i].3 = *customer,
                None => {
                    last.insert((*project, *kind, value.as_str()), added.len());
                    added.push((*project, *kind, value.as_str(), *customer));
                }
            }
        }
    }
    if !added.is_empty() {
        let projects: Vec<ProjectId> = added.iter().map(|a| a.0).collect();
        let kinds: Vec<&str> = added.iter().map(|a| a.1.as_str()).collect();
        let values: Vec<&str> = added.iter().map(|a| a.2).collect();
        let customers: Vec<CustomerId> = added.iter().map(|a| a.3).collect();
        sqlx::query(
            "INSERT INTO identities (project_id, kind, value, customer_id, created_ms)
             SELECT project_id, kind, value, customer_id, $5
             FROM UNNEST($1::int8[], $2::text[], $3::text[], $4::int8[]) AS n(project_id, kind, value, customer_id)
             ON CONFLICT (project_id, kind, value) DO UPDATE SET customer_id = excluded.customer_id",
        )
        .bind(&projects)
        .bind(&kinds)
        .bind(&values)
        .bind(&customers)
        .bind(now)
        .execute(&mut *c)
        .await
        .db()?;
    }
    update_customers(c, ops, traits, now).await?;
    let conflicts: Vec<_> = ops
        .iter()
        .filter_map(|op| match op {
            IdentityOp::Conflict { project, customer, other, identity, detail } => {
                Some((*project, *customer, *other, identity.as_str(), detail.as_str()))
            }
            _ => None,
        })
        .collect();
    if !conflicts.is_empty() {
        sqlx::query(
            "INSERT INTO identity_conflicts (project_id, customer_id, other_customer_id, identity, detail, created_ms)
             SELECT project_id, customer_id, other_customer_id, identity, detail, $6
             FROM UNNEST($1::int8[], $2::int8[], $3::int8[], $4::text[], $5::text[]) WITH ORDINALITY
                 AS n(project_id, customer_id, other_customer_id, identity, detail, position)
             ORDER BY position",
        )
        .bind(conflicts.iter().map(|c| c.0).collect::<Vec<_>>())
        .bind(conflicts.iter().map(|c| c.1).collect::<Vec<_>>())
        .bind(conflicts.iter().map(|c| c.2).collect::<Vec<_>>())
        .bind(conflicts.iter().map(|c| c.3).collect::<Vec<_>>())
        .bind(conflicts.iter().map(|c| c.4).collect::<Vec<_>>())
        .bind(now)
        .execute(&mut *c)
        .await
        .db()?;
    }
    Ok(())
}

/// User ids, merges and trait patches: read the customers they touch (and those merged
/// into a merged one), apply the changes in order, write back what changed.
async fn update_customers(c: &mut PgConnection, ops: &[IdentityOp], traits: &TraitPatches, now: i64) -> Result<()> {
    let mut wanted: Vec<CustomerId> = vec![];
    let mut froms: Vec<CustomerId> = vec![];
    for op in ops {
        match op {
            IdentityOp::SetUserId { customer, .. } => wanted.push(*customer),
            IdentityOp::Merge { from, into } => {
                wanted.extend([*from, *into]);
                froms.push(*from);
            }
            _ => {}
        }
    }
    wanted.extend(traits.iter().map(|(c, _)| *c));
    if wanted.is_empty() {
        return Ok(());
    }
    wanted.sort_unstable();
    wanted.dedup();
    froms.sort_unstable();
    froms.dedup();
    let mut rows: BTreeMap<CustomerId, Row_> = BTreeMap::new();
    // Customers merged into another, by the customer they point at (checked on use: a
    // customer moves on when its parent is merged in turn).
    let mut children: HashMap<CustomerId, Vec<CustomerId>> = HashMap::new();
    let mut read = sqlx::query(
        "SELECT id, user_id, merged_into, traits FROM customers WHERE id = ANY($1) OR merged_into = ANY($2)
         ORDER BY id FOR UPDATE",
    )
    .bind(&wanted)
    .bind(&froms)
    .fetch(&mut *c);
    while let Some(r) = read.try_next().await.db()? {
        let id: CustomerId = r.try_get(0).db()?;
        let merged_into: Option<CustomerId> = r.try_get(2).db()?;
        let traits: String = r.try_get(3).db()?;
        let traits =
            serde_json::from_str(&traits).map_err(|e| StoreError::Corrupt(format!("traits of customer {id}: {e}")))?;
        if let Some(parent) = merged_into {
            children.entry(parent).or_default().push(id);
        }
        rows.insert(id, Row_ { user_id: r.try_get(1).db()?, merged_into, traits, changed: false, touched: false });
    }
    drop(read);
    for op in ops {
        match op {
            IdentityOp::SetUserId { customer, user_id } => {
                if let Some(row) = rows.get_mut(customer) {
                    row.user_id = Some(user_id.clone());
                    row.changed = true;
                    row.touched = true;
                }
            }
            IdentityOp::Merge { from, into } => {
                // UPDATE customers SET merged_into = into WHERE id = from OR merged_into = from
                let mut moved: Vec<CustomerId> = children.remove(from).unwrap_or_default();
                moved.retain(|id| rows.get(id).is_some_and(|r| r.merged_into == Some(*from)));
                if rows.contains_key(from) {
                    moved.push(*from);
                }
                for id in &moved {
                    let row = rows.get_mut(id).expect("read above");
                    row.merged_into = Some(*into);
                    row.changed = true;
                    row.touched = true;
                }
                children.entry(*into).or_default().extend(moved);
                // Traits of the merged customer carry over where the survivor has none:
                // json_patch(from's traits, into's traits).
                if let (Some(from_traits), true) = (rows.get(from).map(|r| r.traits.clone()), rows.contains_key(into)) {
                    let row = rows.get_mut(into).expect("checked");
                    let mut merged = from_traits;
                    json_patch(&mut merged, &row.traits);
                    row.traits = merged;
                    row.changed = true;
                }
            }
            _ => {}
        }
    }
    for (customer, patch) in traits {
        if let Some(row) = rows.get_mut(customer) {
            json_patch(&mut row.traits, patch);
            row.changed = true;
            row.touched = true;
        }
    }
    let changed: Vec<(&CustomerId, &Row_)> = rows.iter().filter(|(_, r)| r.changed).collect();
    if changed.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "UPDATE customers AS c SET user_id = u.user_id, merged_into = u.merged_into, traits = u.traits,
             updated_ms = CASE WHEN u.touched THEN $6 ELSE c.updated_ms END
         FROM UNNEST($1::int8[], $2::text[], $3::int8[], $4::text[], $5::bool[])
             AS u(id, user_id, merged_into, traits, touched)
         WHERE c.id = u.id",
    )
    .bind(changed.iter().map(|(id, _)| **id).collect::<Vec<_>>())
    .bind(changed.iter().map(|(_, r)| r.user_id.as_deref()).collect::<Vec<_>>())
    .bind(changed.iter().map(|(_, r)| r.merged_into).collect::<Vec<_>>())
    .bind(changed.iter().map(|(_, r)| serde_json::to_string(&r.traits).expect("traits serialize")).collect::<Vec<_>>())
    .bind(changed.iter().map(|(_, r)| r.touched).collect::<Vec<_>>())
    .bind(now)
    .execute(&mut *c)
    .await
    .db()?;
    Ok(())
}

/// Rebuild the identity graph of every project, from one snapshot of the database.
pub(crate) async fn load_graph(store: &PgMetaStore) -> Result<IdentityGraph> {
    let mut tx = store.pool.begin().await.db()?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await.db()?;
    let mut g = IdentityGraph::new();
    let mut highest = 0;
    {
        let mut rows = sqlx::query("SELECT id, user_id, merged_into FROM customers").fetch(&mut *tx);
        while let Some(r) = rows.try_next().await.db()? {
            let id: CustomerId = r.try_get(0).db()?;
            highest = highest.max(id);
            g.load_customer(id, r.try_get(1).db()?, r.try_get(2).db()?);
        }
    }
    // Erased ids are never given out again: a customer without identities, events or row
    // holds the highest one, so the graph numbers new customers above it.
    let floor = crate::erasure::state_in(&mut tx, crate::erasure::CUSTOMER_ID_FLOOR).await?;
    if floor > highest {
        g.load_customer(floor, None, None);
    }
    {
        let mut rows = sqlx::query("SELECT project_id, kind, value, customer_id FROM identities").fetch(&mut *tx);
        while let Some(r) = rows.try_next().await.db()? {
            let kind: &str = r.try_get(1).db()?;
            let kind = IdentityKind::parse(kind).ok_or_else(|| StoreError::Corrupt(format!("identity kind {kind}")))?;
            g.load_identity(r.try_get(0).db()?, kind, r.try_get(2).db()?, r.try_get(3).db()?);
        }
    }
    tx.commit().await.db()?;
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_patch_keeps_places_as_sqlite_does() {
        // SQLite: json_patch('{"a":1,"b":2,"c":3}', '{"a":null,"d":4,"b":{"x":null,"y":1}}')
        //   = '{"b":{"y":1},"c":3,"d":4}'
        let mut t = json!({"a":1,"b":2,"c":3}).as_object().unwrap().clone();
        json_patch(&mut t, json!({"a":null,"d":4,"b":{"x":null,"y":1}}).as_object().unwrap());
        assert_eq!(serde_json::to_string(&t).unwrap(), r#"{"b":{"y":1},"c":3,"d":4}"#);
    }
}
