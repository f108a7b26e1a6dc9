//! Values across the boundary, without a general-purpose converter: a result is
//! written as JSON text by the small serde `Serializer` below and handed to
//! `JSON.parse`; an argument is turned into text by `JSON.stringify`, read by the
//! crate's own reader (`crate::json`) and given to the serde derives by the small
//! `Deserializer` below. Both are a few hundred bytes of WebAssembly where
//! serde-wasm-bindgen inlined a JS call per field into every exported function.
//!
//! What it keeps of the earlier conversion: plain objects and arrays, `null` for a
//! missing value, numbers that are safe integers read as integers and any other
//! number (a fraction, ±Infinity, beyond 2⁵³) as a float, which `DecimalInput`
//! refuses with an issue. `JSON.stringify` leaves out members that are `undefined`
//! or functions, and writes NaN and ±Infinity inside an object as `null`.

use core::fmt::{self, Display};

use serde::de::{self, DeserializeSeed, Expected, IntoDeserializer, Unexpected, Visitor};
use serde::ser::{self, Serialize};
use wasm_bindgen::JsValue;

use crate::json::{Kind, Value};

/// A conversion failure: a message for the `Error` thrown to JavaScript.
#[derive(Debug)]
pub(crate) struct Error(pub String);

impl Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

/// What serde's `Unexpected` says, without its float formatting (kilobytes of
/// WebAssembly for a number no message needs).
fn unexpected(u: &Unexpected) -> String {
    match *u {
        Unexpected::Bool(b) => format!("boolean `{b}`"),
        Unexpected::Unsigned(n) => format!("integer `{n}`"),
        Unexpected::Signed(n) => format!("integer `{n}`"),
        Unexpected::Float(_) => "a number with a fraction".to_owned(),
        Unexpected::Str(s) => format!("string {s:?}"),
        Unexpected::Unit => "null".to_owned(),
        Unexpected::Seq => "an array".to_owned(),
        Unexpected::Map => "an object".to_owned(),
        Unexpected::Option => "an optional value".to_owned(),
        _ => "a value of another type".to_owned(),
    }
}

impl de::Error for Error {
    fn custom<T: Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
    fn invalid_type(unexp: Unexpected, exp: &dyn Expected) -> Self {
        Error(format!("invalid type: {}, expected {exp}", unexpected(&unexp)))
    }
    fn invalid_value(unexp: Unexpected, exp: &dyn Expected) -> Self {
        Error(format!("invalid value: {}, expected {exp}", unexpected(&unexp)))
    }
}

// ---------------------------------------------------------------------------
// Out: Rust → JSON text → JSON.parse.

/// Turns a result into a JS value: plain objects and arrays, `null` for `None`.
pub(crate) fn to_js<T: Serialize + ?Sized>(value: &T) -> JsValue {
    let mut out = String::new();
    // Writing into a String cannot fail, and the result types serialise nothing
    // but strings, integers, booleans, options, sequences and structs.
    match value.serialize(&mut Writer { out: &mut out }) {
        Ok(()) => parse(&out),
        Err(_) => JsValue::NULL,
    }
}

#[inline(never)]
fn parse(json: &str) -> JsValue {
    js_sys::JSON::parse(json).unwrap_or(JsValue::NULL)
}

struct Writer<'a> {
    out: &'a mut String,
}

/// A JSON string literal.
#[inline(never)]
fn write_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc: &str = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0..=0x1f => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if esc.is_empty() {
            const HEX: &[u8; 16] = b"0123456789abcdef";
            out.push_str("\\u00");
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        } else {
            out.push_str(esc);
        }
        start = i + 1;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

/// An integer in decimal.
#[inline(never)]
fn write_integer(out: &mut String, v: u64, negative: bool) {
    let mut buf = [0u8; 21];
    let mut i = buf.len();
    let mut v = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if negative {
        i -= 1;
        buf[i] = b'-';
    }
    // Only ASCII digits and '-' were written.
    out.push_str(core::str::from_utf8(&buf[i..]).unwrap_or("0"));
}

impl Writer<'_> {
    fn string(&mut self, s: &str) {
        write_string(self.out, s);
    }
    fn unsigned(&mut self, v: u64, negative: bool) {
        write_integer(self.out, v, negative);
    }
    fn signed(&mut self, v: i64) {
        write_integer(self.out, v.unsigned_abs(), v < 0);
    }
}

/// An object or array being written; `first` tracks the commas.
struct Compound<'a> {
    out: &'a mut String,
    first: bool,
}

fn open(out: &mut String, c: char) -> Compound<'_> {
    out.push(c);
    Compound { out, first: true }
}

impl Compound<'_> {
    fn comma(&mut self) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
    }
    fn key(&mut self, key: &str) {
        self.comma();
        write_string(self.out, key);
        self.out.push(':');
    }
    fn value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        v.serialize(&mut Writer { out: &mut *self.out })
    }
}

type R = Result<(), Error>;

impl<'a, 'b> ser::Serializer for &'a mut Writer<'b> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'a>;
    type SerializeTuple = Compound<'a>;
    type SerializeTupleStruct = Compound<'a>;
    type SerializeTupleVariant = Compound<'a>;
    type SerializeMap = Compound<'a>;
    type SerializeStruct = Compound<'a>;
    type SerializeStructVariant = Compound<'a>;

    fn serialize_bool(self, v: bool) -> R {
        self.out.push_str(if v { "true" } else { "false" });
        Ok(())
    }
    fn serialize_i8(self, v: i8) -> R {
        self.signed(v.into());
        Ok(())
    }
    fn serialize_i16(self, v: i16) -> R {
        self.signed(v.into());
        Ok(())
    }
    fn serialize_i32(self, v: i32) -> R {
        self.signed(v.into());
        Ok(())
    }
    fn serialize_i64(self, v: i64) -> R {
        self.signed(v);
        Ok(())
    }
    fn serialize_u8(self, v: u8) -> R {
        self.unsigned(v.into(), false);
        Ok(())
    }
    fn serialize_u16(self, v: u16) -> R {
        self.unsigned(v.into(), false);
        Ok(())
    }
    fn serialize_u32(self, v: u32) -> R {
        self.unsigned(v.into(), false);
        Ok(())
    }
    fn serialize_u64(self, v: u64) -> R {
        self.unsigned(v, false);
        Ok(())
    }
    fn serialize_f32(self, _: f32) -> R {
        Err(Error("floats are not sent across the boundary".into()))
    }
    fn serialize_f64(self, _: f64) -> R {
        Err(Error("floats are not sent across the boundary".into()))
    }
    fn serialize_char(self, v: char) -> R {
        self.string(v.encode_utf8(&mut [0; 4]));
        Ok(())
    }
    fn serialize_str(self, v: &str) -> R {
        self.string(v);
        Ok(())
    }
    fn serialize_bytes(self, v: &[u8]) -> R {
        use ser::SerializeSeq;
        let mut s = self.serialize_seq(Some(v.len()))?;
        for b in v {
            s.serialize_element(b)?;
        }
        s.end()
    }
    fn serialize_none(self) -> R {
        self.out.push_str("null");
        Ok(())
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> R {
        v.serialize(self)
    }
    fn serialize_unit(self) -> R {
        self.serialize_none()
    }
    fn serialize_unit_struct(self, _: &'static str) -> R {
        self.serialize_none()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> R {
        self.string(variant);
        Ok(())
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(self, _: &'static str, v: &T) -> R {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> R {
        let mut c = open(self.out, '{');
        c.key(variant);
        c.value(v)?;
        c.out.push('}');
        Ok(())
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        Ok(open(self.out, '['))
    }
    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, Error> {
        Ok(open(self.out, '['))
    }
    fn serialize_tuple_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeTupleStruct, Error> {
        Ok(open(self.out, '['))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        self.out.push('{');
        self.string(variant);
        self.out.push(':');
        Ok(open(self.out, '['))
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
        Ok(open(self.out, '{'))
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self::SerializeStruct, Error> {
        Ok(open(self.out, '{'))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        self.out.push('{');
        self.string(variant);
        self.out.push(':');
        Ok(open(self.out, '{'))
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> R {
        self.comma();
        self.value(v)
    }
    fn end(self) -> R {
        self.out.push(']');
        Ok(())
    }
}

impl ser::SerializeTuple for Compound<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> R {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> R {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for Compound<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> R {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> R {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleVariant for Compound<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> R {
        ser::SerializeSeq::serialize_element(self, v)
    }
    fn end(self) -> R {
        self.out.push_str("]}");
        Ok(())
    }
}

impl ser::SerializeMap for Compound<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> R {
        self.comma();
        // Keys are strings (struct fields, flattened ones included).
        self.value(key)?;
        self.out.push(':');
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> R {
        self.value(v)
    }
    fn end(self) -> R {
        self.out.push('}');
        Ok(())
    }
}

impl ser::SerializeStruct for Compound<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> R {
        self.key(key);
        self.value(v)
    }
    fn end(self) -> R {
        self.out.push('}');
        Ok(())
    }
}

impl ser::SerializeStructVariant for Compound<'_> {
    type Ok = ();
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, key: &'static str, v: &T) -> R {
        ser::SerializeStruct::serialize_field(self, key, v)
    }
    fn end(self) -> R {
        self.out.push_str("}}");
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// In: JSON.stringify → crate::json → serde derives.

/// Reads an argument as JSON: `undefined` and `null` give `None`; a value that
/// `JSON.stringify` refuses (a cycle, a BigInt) is an error.
#[inline(never)]
pub(crate) fn read(value: &JsValue) -> Result<Option<Value>, Error> {
    if value.is_undefined() || value.is_null() {
        return Ok(None);
    }
    let text = js_sys::JSON::stringify(value)
        .map_err(|e| Error(e.as_string().unwrap_or_else(|| "not a JSON value".to_owned())))?;
    let text = String::from(text);
    crate::json::parse(&text).map(Some).map_err(|(m, _)| Error(m))
}

/// A safe integer (|n| < 2⁵³) written without fraction or exponent, as
/// `JSON.stringify` writes one; `None` for any other number.
fn safe_integer(text: &str) -> Option<(bool, u64)> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, text),
    };
    if digits.is_empty() || digits.len() > 16 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = digits.bytes().fold(0u64, |n, b| n * 10 + u64::from(b - b'0'));
    (n < 1 << 53).then_some((negative, n))
}

impl<'de> de::Deserializer<'de> for Value {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.kind {
            Kind::Null => visitor.visit_unit(),
            Kind::Bool(b) => visitor.visit_bool(b),
            Kind::Number(text) => match safe_integer(&text) {
                Some((true, n)) if n > 0 => visitor.visit_i64(-(n as i64)),
                Some((_, n)) => visitor.visit_u64(n),
                // The float's value is never read: a number with a fraction is
                // refused wherever a number is accepted.
                None => visitor.visit_f64(f64::NAN),
            },
            Kind::String(s) => visitor.visit_string(s),
            Kind::Array(items) => {
                let mut seq = Seq { items: items.into_iter() };
                let v = visitor.visit_seq(&mut seq)?;
                match seq.items.len() {
                    0 => Ok(v),
                    n => Err(de::Error::invalid_length(n, &"fewer elements")),
                }
            }
            Kind::Object(members) => visitor.visit_map(Map { members: members.into_iter(), value: None }),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        match self.kind {
            Kind::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(self, _: &'static str, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Error> {
        match self.kind {
            // Only unit variants cross the boundary, written as their name.
            Kind::String(s) => visitor.visit_enum(s.into_deserializer()),
            _ => Err(de::Error::invalid_type(Unexpected::Other("a non-string value"), &visitor)),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Error> {
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

impl<'de> IntoDeserializer<'de, Error> for Value {
    type Deserializer = Value;
    fn into_deserializer(self) -> Value {
        self
    }
}

struct Seq {
    items: std::vec::IntoIter<Value>,
}

impl<'de> de::SeqAccess<'de> for Seq {
    type Error = Error;
    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Error> {
        self.items.next().map(|v| seed.deserialize(v)).transpose()
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct Map {
    members: std::vec::IntoIter<(String, Value)>,
    value: Option<Value>,
}

impl<'de> de::MapAccess<'de> for Map {
    type Error = Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Error> {
        match self.members.next() {
            Some((k, v)) => {
                self.value = Some(v);
                seed.deserialize(de::value::StringDeserializer::<Error>::new(k)).map(Some)
            }
            None => Ok(None),
        }
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Error> {
        match self.value.take() {
            Some(v) => seed.deserialize(v),
            None => Err(de::Error::custom("a value without a key")),
        }
    }
    fn size_hint(&self) -> Option<usize> {
        Some(self.members.len())
    }
}
