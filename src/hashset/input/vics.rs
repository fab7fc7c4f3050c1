//! Project VIC / CAID "VICS" JSON: an OData document whose `value` array holds Media
//! objects (`MD5`, `SHA1`, optionally `SHA256`, `Category`, `MediaSize`, …), as in VICS
//! 2.0, or Case objects that hold a `Media` array, as in VICS 1.x. Keys are matched
//! case-insensitively; every other key is skipped without being kept.
//!
//! Parsed as a stream with serde_json's visitor interface: one Media object at a time is
//! in memory, whatever the file size. A Media object's category code travels with its
//! hashes; a Media object without any hash is counted, not stored. A wrong value (a
//! digest that is not hex, a category that is an object) is a malformed record at the
//! line where the object ends; broken JSON is always an error with line and column.
//!
//! Must never hold the whole document in memory, never keep keys it does not use, and
//! never panic on malformed or hostile JSON.

use std::cell::Cell;
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::rc::Rc;

use anyhow::{Context, Result, bail};
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{Location, Record, RecordSink, SourceCtx, SourceDigest};
use crate::hashset::hex;

/// Counts the lines serde_json has consumed, so that records can be placed in the file.
struct LineCounter<R> {
    inner: R,
    line: Rc<Cell<u64>>,
}

impl<R: Read> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let newlines = memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
        self.line.set(self.line.get() + newlines);
        Ok(n)
    }
}

struct State<'a> {
    ctx: &'a mut SourceCtx,
    sink: &'a mut dyn RecordSink,
    line: Rc<Cell<u64>>,
    /// The real error when a record was refused (serde only carries a message).
    failure: Option<anyhow::Error>,
    saw_value: bool,
}

impl State<'_> {
    fn current_line(&self) -> u64 {
        self.line.get() + 1
    }
}

pub fn read(path: &Path, ctx: &mut SourceCtx, sink: &mut dyn RecordSink) -> Result<SourceDigest> {
    let text = super::open_text(path)?;
    let line = Rc::new(Cell::new(0));
    let mut counter = LineCounter {
        inner: text,
        line: Rc::clone(&line),
    };
    let display = ctx.display.clone();
    let mut state = State {
        ctx,
        sink,
        line,
        failure: None,
        saw_value: false,
    };
    let parsed = {
        let mut de = serde_json::Deserializer::from_reader(&mut counter);
        RootSeed { st: &mut state }
            .deserialize(&mut de)
            .and_then(|()| de.end())
    };
    if let Some(failure) = state.failure.take() {
        return Err(failure);
    }
    if let Err(e) = parsed {
        if e.is_io() {
            return Err(e).with_context(|| format!("{display}: read error"));
        }
        bail!("{display}:{}: not valid VICS JSON: {e}", e.line());
    }
    if !state.saw_value {
        bail!("{display}: not VICS JSON: the top-level object has no `value` array");
    }
    counter
        .inner
        .into_inner()
        .finish()
        .with_context(|| format!("{display}: read error"))
}

/// Keys we act on; everything else is skipped.
enum Key {
    Value,
    Media,
    Md5,
    Sha1,
    Sha256,
    Category,
    Other,
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_str(KeySeed)
    }
}

impl Visitor<'_> for KeySeed {
    type Value = Key;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
        Ok(match v.to_ascii_lowercase().as_str() {
            "value" => Key::Value,
            "media" => Key::Media,
            "md5" => Key::Md5,
            "sha1" => Key::Sha1,
            "sha256" => Key::Sha256,
            "category" => Key::Category,
            _ => Key::Other,
        })
    }
}

/// A field value of any JSON type, kept only when it is a scalar we might use.
enum Loose {
    Null,
    Text(String),
    Int(i128),
    Wrong(&'static str),
}

struct LooseSeed;

impl<'de> DeserializeSeed<'de> for LooseSeed {
    type Value = Loose;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Loose, D::Error> {
        d.deserialize_any(LooseSeed)
    }
}

impl<'de> Visitor<'de> for LooseSeed {
    type Value = Loose;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Loose, E> {
        // A longer "digest" is wrong anyway; never keep an unbounded string.
        Ok(if v.len() > 256 {
            Loose::Wrong("an overlong string")
        } else {
            Loose::Text(v.to_owned())
        })
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Loose, E> {
        Ok(Loose::Int(i128::from(v)))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Loose, E> {
        Ok(Loose::Int(i128::from(v)))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Loose, E> {
        Ok(Loose::Wrong("a fractional number"))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Loose, E> {
        Ok(Loose::Wrong("a boolean"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Loose, E> {
        Ok(Loose::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Loose, E> {
        Ok(Loose::Null)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Loose, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Loose::Wrong("an object"))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Loose, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Loose::Wrong("an array"))
    }
}

struct RootSeed<'s, 'a> {
    st: &'s mut State<'a>,
}

impl<'de> DeserializeSeed<'de> for RootSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for RootSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a VICS (OData) object with a `value` array")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key_seed(KeySeed)? {
            if let Key::Value = key {
                self.st.saw_value = true;
                map.next_value_seed(ArraySeed { st: self.st })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// `value` or `Media`: an array of Media (or Case) objects.
struct ArraySeed<'s, 'a> {
    st: &'s mut State<'a>,
}

impl<'de> DeserializeSeed<'de> for ArraySeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for ArraySeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of Media objects")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(ObjectSeed { st: &mut *self.st })?
            .is_some()
        {}
        Ok(())
    }
}

/// A Media object, or a Case object holding a `Media` array.
struct ObjectSeed<'s, 'a> {
    st: &'s mut State<'a>,
}

impl<'de> DeserializeSeed<'de> for ObjectSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed<'_, '_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Media object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let (mut md5, mut sha1, mut sha256, mut category) = (None, None, None, None);
        let mut is_case = false;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            match key {
                Key::Md5 => md5 = Some(map.next_value_seed(LooseSeed)?),
                Key::Sha1 => sha1 = Some(map.next_value_seed(LooseSeed)?),
                Key::Sha256 => sha256 = Some(map.next_value_seed(LooseSeed)?),
                Key::Category => category = Some(map.next_value_seed(LooseSeed)?),
                Key::Media => {
                    is_case = true;
                    map.next_value_seed(ArraySeed { st: &mut *self.st })?;
                }
                Key::Value | Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        if is_case && md5.is_none() && sha1.is_none() && sha256.is_none() {
            return Ok(());
        }
        let at = Location::Line(self.st.current_line());
        let result = match media_record(md5, sha1, sha256, category) {
            Ok((record, code)) => {
                let record = Record {
                    category: code.as_deref(),
                    ..record
                };
                self.st.ctx.emit(self.st.sink, &record)
            }
            Err(reason) => self.st.ctx.malformed(at, reason),
        };
        result.map_err(|e| {
            self.st.failure = Some(e);
            de::Error::custom("record refused")
        })
    }
}

/// Turn a Media object's fields into a record and its category code.
fn media_record(
    md5: Option<Loose>,
    sha1: Option<Loose>,
    sha256: Option<Loose>,
    category: Option<Loose>,
) -> Result<(Record<'static>, Option<String>), String> {
    fn digest<const N: usize>(name: &str, value: Option<Loose>) -> Result<Option<[u8; N]>, String> {
        match value {
            None | Some(Loose::Null) => Ok(None),
            Some(Loose::Text(t)) if t.trim().is_empty() => Ok(None),
            Some(Loose::Text(t)) => hex::decode(t.trim().as_bytes())
                .map(Some)
                .ok_or_else(|| format!("Media {name} {t:?} is not a digest")),
            Some(Loose::Int(_)) => Err(format!("Media {name} is a number, not a hex digest")),
            Some(Loose::Wrong(what)) => Err(format!("Media {name} is {what}")),
        }
    }
    let record = Record {
        md5: digest("MD5", md5)?,
        sha1: digest("SHA1", sha1)?,
        sha256: digest("SHA256", sha256)?,
        category: None,
    };
    let code = match category {
        None | Some(Loose::Null) => None,
        Some(Loose::Int(n)) => Some(n.to_string()),
        Some(Loose::Text(t)) if t.trim().is_empty() => None,
        Some(Loose::Text(t)) => Some(t.trim().to_string()),
        Some(Loose::Wrong(what)) => return Err(format!("Media Category is {what}")),
    };
    Ok((record, code))
}
