//! The first stage of decoding: one pass of serde over the datagram that
//! reads every field any message may carry into a loosely typed [`Field`]
//! (enough to tell a right type from a wrong one), notes duplicates, and
//! ignores unknown fields. Nothing here fails on a field's value: only
//! invalid JSON, or JSON that is not an object, fails the pass.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

/// A JSON value as loosely read: enough to tell a right type from a wrong one.
#[derive(Debug, Default)]
pub(super) enum Field<'a> {
    #[default]
    Absent,
    Null,
    UInt(u64),
    /// A negative integer.
    NegInt,
    /// A float, or an integer too large for 64 bits (read as a float).
    Float,
    Str(Cow<'a, str>),
    /// A boolean, an object or an array.
    Other(bool),
}

impl<'de> Deserialize<'de> for Field<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Field<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_bool<E>(self, b: bool) -> Result<Field<'de>, E> {
                Ok(Field::Other(b))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Field<'de>, E> {
                Ok(Field::UInt(n))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Field<'de>, E> {
                Ok(u64::try_from(n).map_or(Field::NegInt, Field::UInt))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Field<'de>, E> {
                Ok(Field::Float)
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Field<'de>, E> {
                Ok(Field::Str(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Field<'de>, E> {
                Ok(Field::Str(Cow::Owned(s.to_owned())))
            }
            fn visit_unit<E>(self) -> Result<Field<'de>, E> {
                Ok(Field::Null)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Field<'de>, A::Error> {
                while a.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Field::Other(false))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Field<'de>, A::Error> {
                while a.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Field::Other(false))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
#[serde(field_identifier, rename_all = "lowercase")]
pub(super) enum Key {
    V,
    Type,
    Seq,
    Id,
    Token,
    Target,
    After,
    Data,
    Addr,
    Keepalive,
    Peers,
    More,
    Code,
    Message,
    From,
    To,
    Nonce,
    Msg,
    Text,
    Ts,
    #[serde(other)]
    Unknown,
}

/// Every field any message may carry, loosely read.
#[derive(Default)]
pub(super) struct Fields<'a> {
    pub(super) v: Field<'a>,
    pub(super) kind: Field<'a>,
    pub(super) seq: Field<'a>,
    pub(super) id: Field<'a>,
    pub(super) token: Field<'a>,
    pub(super) target: Field<'a>,
    pub(super) after: Field<'a>,
    pub(super) addr: Field<'a>,
    pub(super) keepalive: Field<'a>,
    pub(super) more: Field<'a>,
    pub(super) code: Field<'a>,
    pub(super) message: Field<'a>,
    pub(super) from: Field<'a>,
    pub(super) to: Field<'a>,
    pub(super) nonce: Field<'a>,
    pub(super) msg: Field<'a>,
    pub(super) text: Field<'a>,
    pub(super) ts: Field<'a>,
    pub(super) data: Option<&'a RawValue>,
    pub(super) peers: Option<&'a RawValue>,
    pub(super) duplicate: bool,
}

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
                let mut f = Fields::default();
                while let Some(key) = map.next_key::<Key>()? {
                    let slot = match key {
                        Key::Data | Key::Peers => {
                            let raw: &'de RawValue = map.next_value()?;
                            let slot = if matches!(key, Key::Data) {
                                &mut f.data
                            } else {
                                &mut f.peers
                            };
                            f.duplicate |= slot.replace(raw).is_some();
                            continue;
                        }
                        Key::Unknown => {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                        Key::V => &mut f.v,
                        Key::Type => &mut f.kind,
                        Key::Seq => &mut f.seq,
                        Key::Id => &mut f.id,
                        Key::Token => &mut f.token,
                        Key::Target => &mut f.target,
                        Key::After => &mut f.after,
                        Key::Addr => &mut f.addr,
                        Key::Keepalive => &mut f.keepalive,
                        Key::More => &mut f.more,
                        Key::Code => &mut f.code,
                        Key::Message => &mut f.message,
                        Key::From => &mut f.from,
                        Key::To => &mut f.to,
                        Key::Nonce => &mut f.nonce,
                        Key::Msg => &mut f.msg,
                        Key::Text => &mut f.text,
                        Key::Ts => &mut f.ts,
                    };
                    let value: Field<'de> = map.next_value()?;
                    f.duplicate |= !matches!(std::mem::replace(slot, value), Field::Absent);
                }
                Ok(f)
            }
        }
        d.deserialize_map(V)
    }
}
