//! PostgreSQL's `COPY ... FROM STDIN` text format: rows of tab-separated fields,
//! `\N` for NULL, and backslash escapes for the characters that would break the
//! framing (backslash, tab, newline, carriage return).

use std::io::Write as _;

use bytes::Bytes;

/// Appends `value` to `out`, escaped for one field of COPY text format.
///
/// PostgreSQL text cannot hold NUL, so values never contain it.
pub fn escape_into(out: &mut Vec<u8>, value: &str) {
    let bytes = value.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let escaped: &[u8] = match b {
            b'\\' => b"\\\\",
            b'\t' => b"\\t",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            _ => continue,
        };
        // These bytes are ASCII, so they never sit inside a multi-byte UTF-8 sequence.
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(escaped);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
}

/// A buffer of COPY text rows, taken in chunks to stream to the server.
#[derive(Debug)]
pub struct CopyBuf {
    bytes: Vec<u8>,
    capacity: usize,
    at_row_start: bool,
    rows: u64,
    taken_bytes: u64,
}

impl CopyBuf {
    pub fn with_capacity(capacity: usize) -> Self {
        CopyBuf {
            bytes: Vec::with_capacity(capacity),
            capacity,
            at_row_start: true,
            rows: 0,
            taken_bytes: 0,
        }
    }

    fn separate(&mut self) {
        if !self.at_row_start {
            self.bytes.push(b'\t');
        }
        self.at_row_start = false;
    }

    pub fn null(&mut self) {
        self.separate();
        self.bytes.extend_from_slice(b"\\N");
    }

    pub fn text(&mut self, value: &str) {
        self.separate();
        escape_into(&mut self.bytes, value);
    }

    pub fn opt_text(&mut self, value: Option<&str>) {
        match value {
            Some(v) => self.text(v),
            None => self.null(),
        }
    }

    pub fn int(&mut self, value: i64) {
        self.separate();
        let _ = write!(self.bytes, "{value}");
    }

    pub fn opt_int(&mut self, value: Option<i64>) {
        match value {
            Some(v) => self.int(v),
            None => self.null(),
        }
    }

    pub fn opt_float(&mut self, value: Option<f32>) {
        match value {
            Some(v) => {
                self.separate();
                let _ = write!(self.bytes, "{v}");
            }
            None => self.null(),
        }
    }

    pub fn opt_bool(&mut self, value: Option<bool>) {
        match value {
            Some(v) => {
                self.separate();
                self.bytes.push(if v { b't' } else { b'f' });
            }
            None => self.null(),
        }
    }

    /// A `timestamp` (without time zone) from seconds since the epoch.
    pub fn opt_timestamp(&mut self, secs: Option<i64>) {
        match secs.and_then(|s| chrono::DateTime::from_timestamp(s, 0)) {
            Some(t) => {
                self.separate();
                let _ = write!(self.bytes, "{}", t.naive_utc());
            }
            None => self.null(),
        }
    }

    pub fn end_row(&mut self) {
        self.bytes.push(b'\n');
        self.at_row_start = true;
        self.rows += 1;
    }

    /// Bytes waiting to be taken.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Rows ended so far, taken or not.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Bytes taken so far.
    pub fn taken_bytes(&self) -> u64 {
        self.taken_bytes
    }

    /// Whether a chunk is ready to be sent.
    pub fn is_full(&self) -> bool {
        self.bytes.len() >= self.capacity
    }

    /// The waiting bytes as a chunk; the buffer starts over empty.
    pub fn take(&mut self) -> Bytes {
        let chunk = std::mem::replace(&mut self.bytes, Vec::with_capacity(self.capacity));
        self.taken_bytes += chunk.len() as u64;
        Bytes::from(chunk)
    }

    /// Drops the waiting bytes (when only the rows' effect is wanted).
    pub fn discard(&mut self) {
        self.taken_bytes += self.bytes.len() as u64;
        self.bytes.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// PostgreSQL's reading of one field of COPY text format (`CopyReadAttributesText`).
    fn unescape(field: &[u8]) -> Option<Vec<u8>> {
        if field == b"\\N" {
            return None;
        }
        let mut out = Vec::with_capacity(field.len());
        let mut i = 0;
        while i < field.len() {
            let b = field[i];
            i += 1;
            if b != b'\\' || i == field.len() {
                out.push(b);
                continue;
            }
            let c = field[i];
            i += 1;
            match c {
                b'0'..=b'7' => {
                    let mut v = u32::from(c - b'0');
                    for _ in 0..2 {
                        match field.get(i) {
                            Some(d @ b'0'..=b'7') => {
                                v = v * 8 + u32::from(d - b'0');
                                i += 1;
                            }
                            _ => break,
                        }
                    }
                    out.push((v & 0xff) as u8);
                }
                b'x' if field.get(i).is_some_and(u8::is_ascii_hexdigit) => {
                    let mut v = 0u32;
                    for _ in 0..2 {
                        match field.get(i) {
                            Some(d) if d.is_ascii_hexdigit() => {
                                v = v * 16 + (*d as char).to_digit(16).unwrap_or(0);
                                i += 1;
                            }
                            _ => break,
                        }
                    }
                    out.push(v as u8);
                }
                b'b' => out.push(0x08),
                b'f' => out.push(0x0c),
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b't' => out.push(b'\t'),
                b'v' => out.push(0x0b),
                other => out.push(other),
            }
        }
        Some(out)
    }

    /// Splits COPY text into rows of fields the way the server frames them.
    fn parse(data: &[u8]) -> Vec<Vec<Option<Vec<u8>>>> {
        assert_eq!(data.last(), Some(&b'\n'));
        data[..data.len() - 1]
            .split(|b| *b == b'\n')
            .map(|line| line.split(|b| *b == b'\t').map(unescape).collect())
            .collect()
    }

    #[test]
    fn escapes_the_framing_characters() {
        let mut out = vec![];
        escape_into(&mut out, "a\\b\tc\nd\re\\N");
        assert_eq!(out, b"a\\\\b\\tc\\nd\\re\\\\N");
        let mut out = vec![];
        escape_into(&mut out, "бот «курсы» O'Reilly \"Q\"");
        assert_eq!(out, "бот «курсы» O'Reilly \"Q\"".as_bytes());
    }

    #[test]
    fn a_value_that_looks_like_null_stays_a_value() {
        let mut buf = CopyBuf::with_capacity(64);
        buf.text("\\N");
        buf.null();
        buf.text("");
        buf.end_row();
        let rows = parse(&buf.take());
        assert_eq!(rows, vec![vec![Some(b"\\N".to_vec()), None, Some(vec![])]]);
    }

    #[test]
    fn typed_fields() {
        let mut buf = CopyBuf::with_capacity(64);
        buf.int(-42);
        buf.opt_bool(Some(true));
        buf.opt_bool(None);
        buf.opt_float(Some(0.5));
        buf.opt_timestamp(Some(1_630_454_400));
        buf.end_row();
        assert_eq!(&buf.take()[..], b"-42\tt\t\\N\t0.5\t2021-09-01 00:00:00\n");
        assert_eq!(buf.rows(), 1);
    }

    proptest! {
        #[test]
        fn escaping_round_trips_through_the_servers_rules(
            values in proptest::collection::vec(proptest::option::of(any::<String>().prop_map(|s| s.replace('\0', ""))), 1..6),
            rows in 1usize..4,
        ) {
            let mut buf = CopyBuf::with_capacity(1024);
            for _ in 0..rows {
                for v in &values {
                    buf.opt_text(v.as_deref());
                }
                buf.end_row();
            }
            let data = buf.take();
            let parsed = parse(&data);
            prop_assert_eq!(parsed.len(), rows);
            for row in parsed {
                let back: Vec<Option<String>> =
                    row.into_iter().map(|f| f.map(|b| String::from_utf8(b).unwrap())).collect();
                prop_assert_eq!(&back, &values);
            }
        }

        #[test]
        fn escaped_text_has_no_raw_framing_bytes(s in any::<String>()) {
            let mut out = vec![];
            escape_into(&mut out, &s);
            prop_assert!(!out.contains(&b'\t') && !out.contains(&b'\n') && !out.contains(&b'\r'));
            prop_assert!(std::str::from_utf8(&out).is_ok());
        }
    }
}
