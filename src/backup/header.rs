//! The header of a `pg_dump` custom-format archive, read directly: which database it
//! was dumped from, without running `pg_restore` (the layout of
//! `pg_backup_archiver.c`, WriteHead/ReadHead, archive versions 1.2 to 1.16).

use std::io::Read;
use std::path::Path;

/// What the header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpHeader {
    /// The database the archive was dumped from.
    pub dbname: String,
    /// The server's version, as pg_dump recorded it.
    pub server_version: Option<String>,
}

/// Reads the header of `file`; `None` when it is no custom-format archive or the
/// header is cut short.
pub fn read_header(file: &Path) -> Option<DumpHeader> {
    let mut f = std::fs::File::open(file).ok()?;
    // The header is small: the database name and two version strings.
    let mut buf = Vec::with_capacity(4096);
    f.by_ref().take(64 * 1024).read_to_end(&mut buf).ok()?;
    parse(&buf)
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    int_size: usize,
    signed: bool,
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let b = *self.buf.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    /// An integer: a sign byte (archives after 1.0), then `int_size` bytes, least
    /// significant first.
    fn int(&mut self) -> Option<i64> {
        let negative = if self.signed { self.byte()? != 0 } else { false };
        let mut v: i64 = 0;
        for i in 0..self.int_size {
            let b = self.byte()? as i64;
            if i < 8 {
                v |= b << (8 * i);
            }
        }
        Some(if negative { -v } else { v })
    }

    /// A string: its length as an integer (-1 for none), then its bytes.
    fn string(&mut self) -> Option<Option<String>> {
        let len = self.int()?;
        if len < 0 {
            return Some(None);
        }
        let len = usize::try_from(len).ok()?;
        let bytes = self.buf.get(self.pos..self.pos.checked_add(len)?)?;
        self.pos += len;
        Some(Some(String::from_utf8_lossy(bytes).into_owned()))
    }
}

fn parse(buf: &[u8]) -> Option<DumpHeader> {
    if buf.get(..5)? != super::DUMP_MAGIC {
        return None;
    }
    let mut r = Reader { buf, pos: 5, int_size: 4, signed: true };
    let major = r.byte()?;
    let minor = r.byte()?;
    let rev = if major > 1 || (major == 1 && minor > 0) { r.byte()? } else { 0 };
    let version = (major as u32) << 16 | (minor as u32) << 8 | rev as u32;
    let v = |maj: u32, min: u32| (maj << 16) | (min << 8);
    // Only the versions whose layout is known (pg_dump 8.0 onwards writes 1.10 or later).
    if version < v(1, 2) || version >= v(2, 0) {
        return None;
    }
    r.int_size = r.byte()? as usize;
    let _off_size = r.byte()?;
    if !(1..=16).contains(&r.int_size) {
        return None;
    }
    let _format = r.byte()?;
    if version >= v(1, 15) {
        let _compression_algorithm = r.byte()?;
    } else if version >= v(1, 4) {
        let _compression = r.int()?;
    } else {
        let _compression = r.byte()?;
    }
    if version < v(1, 4) {
        return None;
    }
    for _ in 0..7 {
        r.int()?; // creation time: sec, min, hour, mday, mon, year, isdst
    }
    let dbname = r.string()??;
    let server_version = if version >= v(1, 10) { r.string()? } else { None };
    Some(DumpHeader { dbname, server_version })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn int(v: i64) -> Vec<u8> {
        let mut out = vec![u8::from(v < 0)];
        out.extend_from_slice(&(v.unsigned_abs() as u32).to_le_bytes());
        out
    }

    fn string(s: &str) -> Vec<u8> {
        let mut out = int(s.len() as i64);
        out.extend_from_slice(s.as_bytes());
        out
    }

    fn header(major: u8, minor: u8, db: &str) -> Vec<u8> {
        let mut h = b"PGDMP".to_vec();
        h.extend([major, minor, 0, 4, 8, 1]);
        if minor >= 15 {
            h.push(0);
        } else {
            h.extend(int(-1));
        }
        for t in [5, 4, 3, 2, 1, 124, 0] {
            h.extend(int(t));
        }
        h.extend(string(db));
        h.extend(string("15.8"));
        h.extend(string("15.8"));
        h
    }

    #[test]
    fn reads_the_database_name_of_every_known_layout() {
        for minor in [14, 15, 16] {
            let h = parse(&header(1, minor, "nb_prod")).unwrap();
            assert_eq!(h.dbname, "nb_prod", "1.{minor}");
            assert_eq!(h.server_version.as_deref(), Some("15.8"));
        }
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert_eq!(parse(b"PGDMP"), None);
        assert_eq!(parse(b"not a dump at all"), None);
        let h = header(1, 14, "nb_prod");
        assert_eq!(parse(&h[..h.len() - 12]), None, "cut short");
        assert_eq!(parse(&header(3, 0, "x")), None, "an unknown major version");
    }
}
