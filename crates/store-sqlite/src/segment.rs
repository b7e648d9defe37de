//! Event segments: how the embedded store lays events out. A segment holds up to
//! [`SEGMENT_EVENTS`] events of one project with consecutive ids, as two byte strings:
//!
//! - **points**, fixed-width columns, in this order: the 128-bit hash of each messageId,
//!   then customer ids, event times and touchpoint ids (0: none), each as little-endian
//!   arrays of `n` values. Loading the dedup set, the journey points or the timeline index
//!   reads only these 40 bytes per event.
//! - **data**, one record per event (receipt time, flags, type, messageId, name, user id,
//!   anonymous id, body), then the `n + 1` offsets of the records, then `n`; compressed as
//!   one LZ4 block (4–8× on event JSON, over 1 GB/s each way). One event is read without
//!   parsing the others.
//!
//! Storing a segment is one row insert instead of a row and three index entries per event;
//! that halved the import of 1 M events. This module does no I/O.
//!
//! **Erased slots.** Erasing a customer ([`touchpoint_store::erasure`]) rewrites the segments that
//! held their events with each of those events replaced by an empty slot: messageId hash 0,
//! customer [`ERASED`], time 0, no touchpoint, and an empty record. The slot keeps its id
//! (a segment's ids stay consecutive, so every other event keeps its id) but nothing of the
//! event; readers skip it ([`Points::is_erased`]).

use siphasher::sip128::SipHasher13;
use std::hash::{BuildHasherDefault, Hasher};
use touchpoint_core::{CustomerId, EventType, ProjectId};
use touchpoint_store::{StoreError, StoredEvent};

/// Most events in one segment. Reading one event of a timeline reads its segment's data
/// (a few hundred KiB at this size); writing fewer, larger rows is what makes ingest fast.
pub const SEGMENT_EVENTS: usize = 2048;

/// The customer of an erased slot (see the module documentation); no real customer has it.
pub const ERASED: CustomerId = CustomerId::MIN;

/// Bytes of points per event.
const POINT_BYTES: usize = 16 + 8 + 8 + 8;

/// Fixed keys: hashes are stored, so they must be the same in every process and version.
const HASH_KEYS: (u64, u64) = (0x546f_7563_6870_6f69, 0x6e74_2d6d_6964_2d31);

/// The stored hash of a messageId. Two different ids in one project share it with a
/// probability of about n²/2¹²⁹ (10⁻²³ at 100 M events), far below the rate of undetected
/// hardware errors, so equal hashes are taken as equal ids.
pub fn message_hash(message_id: &str) -> u128 {
    SipHasher13::new_with_keys(HASH_KEYS.0, HASH_KEYS.1).hash(message_id.as_bytes()).into()
}

/// A hasher for keys that already are uniform hashes: it takes their low 64 bits.
#[derive(Default)]
pub struct PreHashed(u64);

impl Hasher for PreHashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = v as u64;
    }
}

/// A set of messageId hashes.
pub type HashSet128 = std::collections::HashSet<u128, BuildHasherDefault<PreHashed>>;

/// One event as a segment stores it, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    /// Dedup key.
    pub message_id: &'a str,
    /// Type.
    pub kind: EventType,
    /// Name of a track, page or screen call.
    pub name: Option<&'a str>,
    /// User id as sent.
    pub user_id: Option<&'a str>,
    /// Anonymous id as sent.
    pub anonymous_id: Option<&'a str>,
    /// Customer.
    pub customer: CustomerId,
    /// Touchpoint.
    pub touchpoint: Option<i64>,
    /// Event time, ms.
    pub timestamp: i64,
    /// Receipt time, ms.
    pub received_at: i64,
    /// Flags.
    pub flags: u32,
    /// The event as received, JSON text.
    pub body: &'a str,
}

impl<'a> Row<'a> {
    /// The row of a stored event.
    pub fn of_stored(e: &'a StoredEvent) -> Row<'a> {
        Row {
            message_id: &e.message_id,
            kind: e.kind,
            name: e.name.as_deref(),
            user_id: e.user_id.as_deref(),
            anonymous_id: e.anonymous_id.as_deref(),
            customer: e.customer_id,
            touchpoint: e.touchpoint_id,
            timestamp: e.timestamp,
            received_at: e.received_at,
            flags: e.flags,
            body: &e.body,
        }
    }
}

/// Builds one segment.
#[derive(Debug, Default)]
pub struct SegmentBuilder {
    hashes: Vec<u128>,
    customers: Vec<i64>,
    times: Vec<i64>,
    touchpoints: Vec<i64>,
    records: Vec<u8>,
    offsets: Vec<u32>,
}

fn put_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        None => out.extend_from_slice(&u32::MAX.to_le_bytes()),
        Some(s) => {
            out.extend_from_slice(&(s.len() as u32).to_le_bytes());
            out.extend_from_slice(s.as_bytes());
        }
    }
}

fn kind_code(k: EventType) -> u8 {
    EventType::ALL.iter().position(|&x| x == k).expect("every type is in ALL") as u8
}

impl SegmentBuilder {
    /// Events in it so far.
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Add an event whose messageId hashes to `hash`.
    pub fn push(&mut self, hash: u128, r: &Row<'_>) {
        self.hashes.push(hash);
        self.customers.push(r.customer);
        self.times.push(r.timestamp);
        self.touchpoints.push(r.touchpoint.unwrap_or(0));
        self.offsets.push(self.records.len() as u32);
        let out = &mut self.records;
        out.extend_from_slice(&r.received_at.to_le_bytes());
        out.extend_from_slice(&r.flags.to_le_bytes());
        out.push(kind_code(r.kind));
        put_str(out, Some(r.message_id));
        put_str(out, r.name);
        put_str(out, r.user_id);
        put_str(out, r.anonymous_id);
        put_str(out, Some(r.body));
    }

    /// An erased slot: it takes an id and holds nothing of an event.
    pub fn push_erased(&mut self) {
        self.hashes.push(0);
        self.customers.push(ERASED);
        self.times.push(0);
        self.touchpoints.push(0);
        self.offsets.push(self.records.len() as u32);
        let out = &mut self.records;
        out.extend_from_slice(&0i64.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.push(0);
        put_str(out, Some(""));
        put_str(out, None);
        put_str(out, None);
        put_str(out, None);
        put_str(out, Some(""));
    }

    /// The customers of the segment, each once (erased slots have none).
    pub fn customers(&self) -> Vec<CustomerId> {
        let mut c: Vec<CustomerId> = self.customers.iter().copied().filter(|&c| c != ERASED).collect();
        c.sort_unstable();
        c.dedup();
        c
    }

    /// Empty it, keeping its buffers for the next segment.
    pub fn clear(&mut self) {
        self.hashes.clear();
        self.customers.clear();
        self.times.clear();
        self.touchpoints.clear();
        self.records.clear();
        self.offsets.clear();
    }

    /// Write the points and the compressed data into `points` and `data` (both cleared
    /// first; reusing them across segments spares the allocator fresh pages every time).
    pub fn finish_into(&mut self, points: &mut Vec<u8>, data: &mut Vec<u8>) {
        let n = self.hashes.len();
        points.clear();
        points.reserve(n * POINT_BYTES);
        points.extend(self.hashes.iter().flat_map(|h| h.to_le_bytes()));
        for col in [&self.customers, &self.times, &self.touchpoints] {
            points.extend(col.iter().flat_map(|v| v.to_le_bytes()));
        }
        let raw = &mut self.records;
        let at = raw.len();
        raw.extend(self.offsets.iter().flat_map(|o| o.to_le_bytes()));
        raw.extend_from_slice(&(at as u32).to_le_bytes());
        raw.extend_from_slice(&(n as u32).to_le_bytes());
        data.clear();
        data.resize(4 + lz4_flex::block::get_maximum_output_size(raw.len()), 0);
        data[..4].copy_from_slice(&(raw.len() as u32).to_le_bytes());
        let size = lz4_flex::block::compress_into(raw, &mut data[4..]).expect("the buffer has the maximum size");
        data.truncate(4 + size);
        raw.truncate(at);
    }
}

/// A segment's points, read in place.
#[derive(Debug, Clone, Copy)]
pub struct Points<'a> {
    bytes: &'a [u8],
    n: usize,
}

fn i64_at(b: &[u8], at: usize) -> i64 {
    i64::from_le_bytes(b[at..at + 8].try_into().expect("8 bytes"))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().expect("4 bytes"))
}

impl<'a> Points<'a> {
    /// Read points; `None` when the length is not a whole number of events.
    pub fn new(bytes: &'a [u8]) -> Option<Points<'a>> {
        bytes.len().is_multiple_of(POINT_BYTES).then_some(Points { bytes, n: bytes.len() / POINT_BYTES })
    }

    /// Number of events.
    pub fn len(&self) -> usize {
        self.n
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// messageId hash of event `i`.
    pub fn hash(&self, i: usize) -> u128 {
        u128::from_le_bytes(self.bytes[16 * i..16 * i + 16].try_into().expect("16 bytes"))
    }

    /// Customer of event `i`.
    pub fn customer(&self, i: usize) -> CustomerId {
        i64_at(self.bytes, 16 * self.n + 8 * i)
    }

    /// Time of event `i`, ms.
    pub fn time(&self, i: usize) -> i64 {
        i64_at(self.bytes, 24 * self.n + 8 * i)
    }

    /// Touchpoint of event `i` (0: none).
    pub fn touchpoint(&self, i: usize) -> i64 {
        i64_at(self.bytes, 32 * self.n + 8 * i)
    }

    /// Whether slot `i` is an erased event's (it holds nothing; readers skip it).
    pub fn is_erased(&self, i: usize) -> bool {
        self.customer(i) == ERASED
    }

    /// Number of slots that hold an event (not erased).
    pub fn live(&self) -> usize {
        (0..self.n).filter(|&i| !self.is_erased(i)).count()
    }
}

/// Set the touchpoint of event `i` in a segment's points (0: none).
pub fn set_touchpoint(points: &mut [u8], i: usize, touchpoint: Option<i64>) {
    let n = points.len() / POINT_BYTES;
    let at = 32 * n + 8 * i;
    points[at..at + 8].copy_from_slice(&touchpoint.unwrap_or(0).to_le_bytes());
}

fn corrupt(what: impl Into<String>) -> StoreError {
    StoreError::Corrupt(what.into())
}

struct Cursor<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], StoreError> {
        let s = self.b.get(self.at..self.at + n).ok_or_else(|| corrupt("event record cut short"))?;
        self.at += n;
        Ok(s)
    }
    fn str(&mut self) -> Result<Option<&'a str>, StoreError> {
        let len = u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes"));
        if len == u32::MAX {
            return Ok(None);
        }
        let s = self.take(len as usize)?;
        std::str::from_utf8(s).map(Some).map_err(|_| corrupt("event text is not UTF-8"))
    }
}

/// Decompress a segment's data, for [`decode_event`].
pub fn unpack(data: &[u8]) -> Result<Vec<u8>, StoreError> {
    lz4_flex::block::decompress_size_prepended(data).map_err(|e| corrupt(format!("segment data: {e}")))
}

/// The record of event `i` in a segment's unpacked data.
fn record<'a>(first_id: i64, points: &Points<'_>, data: &'a [u8], i: usize) -> Result<&'a [u8], StoreError> {
    let n = points.len();
    if data.len() < 4 * (n + 2) || u32_at(data, data.len() - 4) as usize != n || i >= n {
        return Err(corrupt(format!("segment ending at id {} does not hold event {i}", first_id + n as i64 - 1)));
    }
    let table = data.len() - 4 - 4 * (n + 1);
    let (start, end) = (u32_at(data, table + 4 * i) as usize, u32_at(data, table + 4 * i + 4) as usize);
    data.get(start..end.min(table)).ok_or_else(|| corrupt("event record offsets out of range"))
}

/// An event's record, read in place.
struct Record<'a> {
    received_at: i64,
    flags: u32,
    kind: EventType,
    message_id: &'a str,
    name: Option<&'a str>,
    user_id: Option<&'a str>,
    anonymous_id: Option<&'a str>,
    body: &'a str,
}

fn parse_record(record: &[u8]) -> Result<Record<'_>, StoreError> {
    let mut c = Cursor { b: record, at: 0 };
    let received_at = i64::from_le_bytes(c.take(8)?.try_into().expect("8 bytes"));
    let flags = u32::from_le_bytes(c.take(4)?.try_into().expect("4 bytes"));
    let code = c.take(1)?[0] as usize;
    let kind = *EventType::ALL.get(code).ok_or_else(|| corrupt(format!("event type code {code}")))?;
    let message_id = c.str()?.ok_or_else(|| corrupt("event without messageId"))?;
    let (name, user_id, anonymous_id) = (c.str()?, c.str()?, c.str()?);
    let body = c.str()?.ok_or_else(|| corrupt("event without body"))?;
    Ok(Record { received_at, flags, kind, message_id, name, user_id, anonymous_id, body })
}

/// What erasure looks at in an event, borrowed from a segment's unpacked data.
#[derive(Debug, Clone, Copy)]
pub struct EventIds<'a> {
    /// Type.
    pub kind: EventType,
    /// User id as sent.
    pub user_id: Option<&'a str>,
    /// Anonymous id as sent.
    pub anonymous_id: Option<&'a str>,
    /// The event as received, JSON text.
    pub body: &'a str,
}

/// The ids (and body) of event `i` of a segment, without copying them.
pub fn event_ids<'a>(first_id: i64, points: &Points<'_>, data: &'a [u8], i: usize) -> Result<EventIds<'a>, StoreError> {
    let r = parse_record(record(first_id, points, data, i)?)?;
    Ok(EventIds { kind: r.kind, user_id: r.user_id, anonymous_id: r.anonymous_id, body: r.body })
}

/// Read event `i` of a segment whose first event has id `first_id`, from its unpacked data.
/// An erased slot ([`Points::is_erased`]) reads as an empty event: readers skip those first.
pub fn decode_event(
    project: ProjectId,
    first_id: i64,
    points: &Points<'_>,
    data: &[u8],
    i: usize,
) -> Result<StoredEvent, StoreError> {
    let r = parse_record(record(first_id, points, data, i)?)?;
    let tp = points.touchpoint(i);
    Ok(StoredEvent {
        id: first_id + i as i64,
        project_id: project,
        message_id: r.message_id.to_string(),
        kind: r.kind,
        name: r.name.map(str::to_string),
        user_id: r.user_id.map(str::to_string),
        anonymous_id: r.anonymous_id.map(str::to_string),
        customer_id: points.customer(i),
        touchpoint_id: (tp != 0).then_some(tp),
        timestamp: points.time(i),
        received_at: r.received_at,
        flags: r.flags,
        body: r.body.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn stored(i: i64, s: &str, opt: bool) -> StoredEvent {
        StoredEvent {
            id: 100 + i,
            project_id: 3,
            message_id: format!("m{i}{s}"),
            kind: EventType::ALL[(i as usize) % 6],
            name: opt.then(|| format!("n{s}")),
            user_id: (!opt).then(|| s.to_string()),
            anonymous_id: opt.then(String::new),
            customer_id: -i * 7,
            touchpoint_id: (i % 3 != 0).then_some(i),
            timestamp: i64::MIN + i,
            received_at: i64::MAX - i,
            flags: i as u32 * 5,
            body: format!("{{\"x\":\"{s}\"}}"),
        }
    }

    /// Encode events into (points, unpacked data).
    fn encode(events: &[StoredEvent]) -> (Vec<u8>, Vec<u8>) {
        let mut b = SegmentBuilder::default();
        for e in events {
            b.push(message_hash(&e.message_id), &Row::of_stored(e));
        }
        let (mut points, mut packed) = (vec![], vec![]);
        b.finish_into(&mut points, &mut packed);
        (points, unpack(&packed).unwrap())
    }

    proptest! {
        #[test]
        fn every_event_reads_back_as_written(texts in proptest::collection::vec(("\\PC{0,12}", any::<bool>()), 1..40)) {
            let events: Vec<StoredEvent> =
                texts.iter().enumerate().map(|(i, (s, o))| stored(i as i64, s, *o)).collect();
            let (points, data) = encode(&events);
            let p = Points::new(&points).unwrap();
            prop_assert_eq!(p.len(), events.len());
            for (i, e) in events.iter().enumerate() {
                prop_assert_eq!(p.hash(i), message_hash(&e.message_id));
                prop_assert_eq!(&decode_event(3, 100, &p, &data, i).unwrap(), e);
            }
        }
    }

    #[test]
    fn touchpoints_can_be_changed_in_place() {
        let events: Vec<StoredEvent> = (0..5).map(|i| stored(i, "x", true)).collect();
        let (mut points, data) = encode(&events);
        set_touchpoint(&mut points, 3, None);
        set_touchpoint(&mut points, 0, Some(42));
        let p = Points::new(&points).unwrap();
        assert_eq!(decode_event(3, 100, &p, &data, 0).unwrap().touchpoint_id, Some(42));
        assert_eq!(decode_event(3, 100, &p, &data, 3).unwrap().touchpoint_id, None);
        assert_eq!(decode_event(3, 100, &p, &data, 1).unwrap(), events[1]);
    }

    #[test]
    fn erased_slots_keep_ids_and_hold_nothing() {
        let events: Vec<StoredEvent> = (0..6).map(|i| stored(i, "secret-xyz", i % 2 == 0)).collect();
        let mut b = SegmentBuilder::default();
        for (i, e) in events.iter().enumerate() {
            if i == 2 || i == 4 {
                b.push_erased();
            } else {
                b.push(message_hash(&e.message_id), &Row::of_stored(e));
            }
        }
        assert!(!b.customers().contains(&ERASED), "an erased slot is nobody's");
        let (mut points, mut packed) = (vec![], vec![]);
        b.finish_into(&mut points, &mut packed);
        let data = unpack(&packed).unwrap();
        let p = Points::new(&points).unwrap();
        assert_eq!((p.len(), p.live()), (6, 4));
        for (i, e) in events.iter().enumerate() {
            if i == 2 || i == 4 {
                assert!(p.is_erased(i) && p.hash(i) == 0 && p.time(i) == 0 && p.touchpoint(i) == 0);
                let ids = event_ids(100, &p, &data, i).unwrap();
                assert_eq!((ids.user_id, ids.anonymous_id, ids.body), (None, None, ""));
            } else {
                assert!(!p.is_erased(i));
                assert_eq!(&decode_event(3, 100, &p, &data, i).unwrap(), e, "event {i} unchanged, same id");
                let ids = event_ids(100, &p, &data, i).unwrap();
                assert_eq!((ids.kind, ids.user_id, ids.body), (e.kind, e.user_id.as_deref(), e.body.as_str()));
            }
        }
        // Re-encoding the kept events from their decoded form gives the same records.
        let mut again = SegmentBuilder::default();
        for i in 0..6 {
            if p.is_erased(i) {
                again.push_erased();
            } else {
                again.push(p.hash(i), &Row::of_stored(&decode_event(3, 100, &p, &data, i).unwrap()));
            }
        }
        let (mut points2, mut packed2) = (vec![], vec![]);
        again.finish_into(&mut points2, &mut packed2);
        assert_eq!((points2, unpack(&packed2).unwrap()), (points, data));
    }

    #[test]
    fn damaged_segments_are_errors_not_panics() {
        let e = stored(1, "abc", false);
        let mut b = SegmentBuilder::default();
        b.push(1, &Row::of_stored(&e));
        let (mut points, mut packed) = (vec![], vec![]);
        b.finish_into(&mut points, &mut packed);
        for cut in 0..packed.len() {
            if let Ok(short) = unpack(&packed[..cut]) {
                let _ = decode_event(3, 100, &Points::new(&points).unwrap(), &short, 0);
                // must not panic
            }
        }
        let data = unpack(&packed).unwrap();
        let p = Points::new(&points).unwrap();
        assert!(Points::new(&points[1..]).is_none());
        assert!(decode_event(3, 100, &p, &data, 1).is_err(), "no event 1");
        for cut in 0..data.len() {
            assert!(decode_event(3, 100, &p, &data[..cut], 0).is_err(), "data cut at {cut}");
        }
        let mut bad = data.clone();
        bad[12] = 9; // type code
        assert!(decode_event(3, 100, &p, &bad, 0).is_err());
    }

    #[test]
    fn hashes_are_stable_across_builds() {
        // Stored hashes must never change: this value was computed once and is kept.
        assert_ne!(message_hash("a"), message_hash("b"));
        assert_eq!(format!("{:032x}", message_hash("")), STABLE_EMPTY);
    }

    const STABLE_EMPTY: &str = "6b584596b7189410f3c9fd392863b21d";
}
