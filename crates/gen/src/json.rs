//! Two ways to write the same JSON: straight into a byte buffer (the fast NDJSON path) or
//! into a `serde_json::Value` (for [`crate::Generator::customer`]).
//!
//! Events are rendered once, by code generic over [`Out`], so the two forms can never
//! drift apart: the NDJSON line of an event is byte-for-byte `serde_json::to_string` of its
//! `Value` (the workspace enables `preserve_order`, so key order is kept). Strings are
//! escaped exactly as serde_json escapes them, and floats are written by serde_json itself.

use serde_json::{Map, Value};
pub(crate) use touchpoint_core::calendar::civil_from_days;

/// A JSON sink that events are rendered into. Only objects are needed (no arrays).
pub(crate) trait Out {
    /// Open an object (at the top, or as the value of the last key).
    fn begin(&mut self);
    /// Close the innermost object.
    fn end(&mut self);
    /// The next member's key; keys are static identifiers that need no escaping.
    fn key(&mut self, k: &'static str);
    /// A string value.
    fn str(&mut self, s: &str);
    /// A string value that is the concatenation of `parts` (no intermediate allocation
    /// where the sink allows it, and no `core::fmt` on the hot path).
    fn parts(&mut self, parts: &[&str]);
    /// An integer value.
    fn int(&mut self, v: i64);
    /// A floating-point value.
    fn num(&mut self, v: f64);
    /// A boolean value.
    fn bool(&mut self, v: bool);

    /// A key with a string value.
    fn kv(&mut self, k: &'static str, v: &str) {
        self.key(k);
        self.str(v);
    }
    /// A key with an integer value.
    fn ki(&mut self, k: &'static str, v: i64) {
        self.key(k);
        self.int(v);
    }
    /// A key with a time value, RFC 3339 UTC with milliseconds.
    fn kt(&mut self, k: &'static str, ms: i64) {
        self.key(k);
        let b = rfc3339_millis(ms);
        // The buffer holds ASCII digits and separators only.
        self.str(std::str::from_utf8(&b).unwrap_or("1970-01-01T00:00:00.000Z"));
    }
    /// A key with a money value in minor units: an integer when whole, else a decimal.
    fn money(&mut self, k: &'static str, minor: i64) {
        self.key(k);
        if minor % 100 == 0 {
            self.int(minor / 100);
        } else {
            self.num(minor as f64 / 100.0);
        }
    }
}

/// Writes compact JSON text into a byte buffer.
pub(crate) struct Bytes<'a> {
    buf: &'a mut Vec<u8>,
    comma: bool,
}

impl<'a> Bytes<'a> {
    /// A writer appending to `buf`.
    pub(crate) fn new(buf: &'a mut Vec<u8>) -> Self {
        Bytes { buf, comma: false }
    }
}

impl Out for Bytes<'_> {
    #[inline]
    fn begin(&mut self) {
        self.buf.push(b'{');
        self.comma = false;
    }
    #[inline]
    fn end(&mut self) {
        self.buf.push(b'}');
        self.comma = true;
    }
    #[inline]
    fn key(&mut self, k: &'static str) {
        debug_assert!(!needs_escape(k), "keys need no escaping: {k}");
        if self.comma {
            self.buf.push(b',');
        }
        self.buf.push(b'"');
        self.buf.extend_from_slice(k.as_bytes());
        self.buf.extend_from_slice(b"\":");
        self.comma = false;
    }
    #[inline]
    fn str(&mut self, s: &str) {
        self.buf.push(b'"');
        escape_into(self.buf, s);
        self.buf.push(b'"');
        self.comma = true;
    }
    #[inline]
    fn parts(&mut self, parts: &[&str]) {
        self.buf.push(b'"');
        for s in parts {
            escape_into(self.buf, s);
        }
        self.buf.push(b'"');
        self.comma = true;
    }
    #[inline]
    fn int(&mut self, v: i64) {
        let mut tmp = [0u8; 20];
        let mut n = v.unsigned_abs();
        let mut i = tmp.len();
        loop {
            i -= 1;
            tmp[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        if v < 0 {
            self.buf.push(b'-');
        }
        self.buf.extend_from_slice(&tmp[i..]);
        self.comma = true;
    }
    fn num(&mut self, v: f64) {
        // serde_json formats floats exactly as it does inside a Value; NaN and infinities
        // become null there, and here too.
        if serde_json::to_writer(&mut *self.buf, &v).is_err() {
            self.buf.extend_from_slice(b"null");
        }
        self.comma = true;
    }
    fn bool(&mut self, v: bool) {
        self.buf.extend_from_slice(if v { b"true" } else { b"false" });
        self.comma = true;
    }
}

/// Whether `s` has a byte JSON must escape (a control character, `"` or `\`); checks
/// eight bytes at a time, since nearly every string has none.
fn needs_escape(s: &str) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // Exact tests for "some byte is zero" and "some byte is below 0x20".
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGH != 0;
    let flagged =
        |x: u64| x.wrapping_sub(ONES * 0x20) & !x & HIGH != 0 || zero(x ^ (ONES * 0x22)) || zero(x ^ (ONES * 0x5c));
    let bytes = s.as_bytes();
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        if flagged(u64::from_le_bytes(w)) {
            return true;
        }
    }
    chunks.remainder().iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

/// Append `s` to `buf` escaped as a JSON string body, exactly as serde_json does it:
/// `"` and `\` get a backslash, control characters get their short form or `\u00XX`,
/// everything else (all of UTF-8 included) is written as it is.
#[inline]
pub(crate) fn escape_into(buf: &mut Vec<u8>, s: &str) {
    if !needs_escape(s) {
        buf.extend_from_slice(s.as_bytes());
        return;
    }
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let short: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x08 => b"\\b",
            0x0c => b"\\f",
            0..=0x1f => &[],
            _ => continue,
        };
        buf.extend_from_slice(&bytes[start..i]);
        if short.is_empty() {
            buf.extend_from_slice(b"\\u00");
            buf.push(HEX[(b >> 4) as usize]);
            buf.push(HEX[(b & 0xf) as usize]);
        } else {
            buf.extend_from_slice(short);
        }
        start = i + 1;
    }
    buf.extend_from_slice(&bytes[start..]);
}

/// Builds a `serde_json::Value`.
#[derive(Default)]
pub(crate) struct Tree {
    /// Open objects, innermost last, each with the key it will be stored under.
    stack: Vec<(Option<&'static str>, Map<String, Value>)>,
    /// The key of the next value.
    pending: Option<&'static str>,
    /// The finished top-level value.
    done: Option<Value>,
}

impl Tree {
    /// The finished value (`null` if nothing was rendered).
    pub(crate) fn finish(self) -> Value {
        self.done.unwrap_or(Value::Null)
    }

    fn put(&mut self, v: Value) {
        match (self.stack.last_mut(), self.pending.take()) {
            (Some((_, map)), Some(k)) => {
                map.insert(k.to_string(), v);
            }
            _ => self.done = Some(v),
        }
    }
}

impl Out for Tree {
    fn begin(&mut self) {
        let key = self.pending.take();
        self.stack.push((key, Map::new()));
    }
    fn end(&mut self) {
        if let Some((key, map)) = self.stack.pop() {
            self.pending = key;
            self.put(Value::Object(map));
        }
    }
    fn key(&mut self, k: &'static str) {
        self.pending = Some(k);
    }
    fn str(&mut self, s: &str) {
        self.put(Value::String(s.to_string()));
    }
    fn parts(&mut self, parts: &[&str]) {
        self.put(Value::String(parts.concat()));
    }
    fn int(&mut self, v: i64) {
        self.put(Value::from(v));
    }
    fn num(&mut self, v: f64) {
        self.put(Value::from(v));
    }
    fn bool(&mut self, v: bool) {
        self.put(Value::Bool(v));
    }
}

/// A short ASCII text built on the stack: numbers, dates, ids.
#[derive(Clone, Copy)]
pub(crate) struct Small {
    buf: [u8; 48],
    len: u8,
}

impl Small {
    /// Empty.
    pub(crate) fn new() -> Small {
        Small { buf: [0; 48], len: 0 }
    }
    /// `v` in decimal, at least `width` digits (zero-padded).
    pub(crate) fn dec(v: u64, width: usize) -> Small {
        Small::new().push_dec(v, width)
    }
    /// `v` in lowercase hex, at least `width` digits (zero-padded).
    pub(crate) fn hex(v: u64, width: usize) -> Small {
        Small::new().push_hex(v, width)
    }
    /// Append `v` in decimal, at least `width` digits.
    pub(crate) fn push_dec(self, v: u64, width: usize) -> Small {
        self.push_radix(v, width, 10)
    }
    /// Append `v` in lowercase hex, at least `width` digits.
    pub(crate) fn push_hex(self, v: u64, width: usize) -> Small {
        self.push_radix(v, width, 16)
    }
    /// Append an ASCII text (anything that does not fit is dropped; callers stay short and
    /// ASCII, and [`Small::as_str`] gives "" rather than broken UTF-8 if they did not).
    pub(crate) fn push(mut self, s: &str) -> Small {
        let at = self.len as usize;
        let n = s.len().min(self.buf.len() - at);
        self.buf[at..at + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n as u8;
        self
    }
    fn push_radix(mut self, mut v: u64, width: usize, radix: u64) -> Small {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut tmp = [b'0'; 20];
        let mut i = tmp.len();
        if radix == 16 {
            loop {
                i -= 1;
                tmp[i] = DIGITS[(v & 15) as usize];
                v >>= 4;
                if v == 0 {
                    break;
                }
            }
        } else {
            loop {
                i -= 1;
                tmp[i] = b'0' + (v % 10) as u8;
                v /= 10;
                if v == 0 {
                    break;
                }
            }
        }
        let start = i.min(tmp.len().saturating_sub(width));
        let digits = &tmp[start..];
        let at = self.len as usize;
        let n = digits.len().min(self.buf.len() - at);
        self.buf[at..at + n].copy_from_slice(&digits[..n]);
        self.len += n as u8;
        self
    }
    /// The text.
    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII is ever pushed.
        std::str::from_utf8(&self.buf[..self.len as usize]).unwrap_or("")
    }
}

/// `ms` since the epoch as `2026-06-01T10:11:12.345Z` (years 0–9999), without chrono's
/// general formatter: this runs once per event on the hot path.
pub(crate) fn rfc3339_millis(ms: i64) -> [u8; 24] {
    let days = ms.div_euclid(86_400_000);
    let rem = ms.rem_euclid(86_400_000);
    let (y, m, d) = civil_from_days(days);
    let y = y.clamp(0, 9999) as u32;
    let (hh, mm, ss, mss) =
        ((rem / 3_600_000) as u32, (rem / 60_000 % 60) as u32, (rem / 1000 % 60) as u32, (rem % 1000) as u32);
    let mut b = *b"0000-00-00T00:00:00.000Z";
    let put = |b: &mut [u8; 24], at: usize, width: usize, mut v: u32| {
        for i in (at..at + width).rev() {
            b[i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(&mut b, 0, 4, y);
    put(&mut b, 5, 2, m);
    put(&mut b, 8, 2, d);
    put(&mut b, 11, 2, hh);
    put(&mut b, 14, 2, mm);
    put(&mut b, 17, 2, ss);
    put(&mut b, 20, 3, mss);
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_match_chrono() {
        let mut ms = -86_400_000_i64 * 365;
        while ms < 4_102_444_800_000 {
            let want = touchpoint_core::event::format_time(ms);
            let got = rfc3339_millis(ms);
            assert_eq!(std::str::from_utf8(&got).unwrap(), want);
            ms += 86_400_000 / 7 * 5 + 12_345;
        }
    }

    #[test]
    fn escaping_matches_serde_json() {
        let all: String = (0u8..0x80).map(char::from).collect();
        for s in ["", "plain", "Doručení zpožděno", "a\"b\\c", "line\nbreak\ttab", &all, "\u{7f}\u{2028}ż"] {
            let mut buf = Vec::new();
            let mut b = Bytes::new(&mut buf);
            b.str(s);
            assert_eq!(String::from_utf8(buf).unwrap(), serde_json::to_string(s).unwrap());
        }
    }

    #[test]
    fn small_numbers() {
        assert_eq!(Small::dec(0, 1).as_str(), "0");
        assert_eq!(Small::dec(42, 7).as_str(), "0000042");
        assert_eq!(Small::hex(255, 0).as_str(), "ff");
        assert_eq!(Small::hex(u64::MAX, 8).as_str(), "ffffffffffffffff");
        assert_eq!(Small::new().push("c").push_dec(123, 1).push("-").push_hex(10, 2).as_str(), "c123-0a");
    }

    #[test]
    fn escape_detection_is_exact() {
        for b in 0u8..=255 {
            for pos in 0..17 {
                let mut v = vec![b'a'; 17];
                v[pos] = b;
                let s = String::from_utf8_lossy(&v).into_owned();
                let slow = s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\');
                assert_eq!(needs_escape(&s), slow, "byte {b} at {pos}");
            }
        }
    }

    #[test]
    fn both_sinks_agree() {
        fn render<O: Out>(o: &mut O) {
            o.begin();
            o.kv("a", "x\"y");
            o.key("n");
            o.begin();
            o.ki("i", -42);
            o.money("whole", 54900);
            o.money("cents", 13999);
            o.key("f");
            o.num(0.1);
            o.end();
            o.key("t");
            o.parts(&["id-", Small::hex(255, 4).as_str(), "\n", Small::dec(7, 1).as_str()]);
            o.key("b");
            o.bool(true);
            o.kt("ts", 1_790_000_000_123);
            o.end();
        }
        let mut buf = Vec::new();
        render(&mut Bytes::new(&mut buf));
        let mut tree = Tree::default();
        render(&mut tree);
        let v = tree.finish();
        assert_eq!(String::from_utf8(buf).unwrap(), serde_json::to_string(&v).unwrap());
        assert_eq!(v["n"]["whole"], 549);
        assert_eq!(v["n"]["cents"], 139.99);
    }
}
