//! Values across the boundary, without a general-purpose converter: a result is
//! written as JSON text by the small serde `Serializer` below and handed to
//! `JSON.parse`; an argument is turned into text by `JSON.stringify`, read by the
//! crate's own reader (`crate::json`) and into its type by `crate::from_json`
//! (the serde derives' visitors would cost more code than the rest of the
//! boundary).
//!
//! What it keeps of the earlier conversion: plain objects and arrays, `null` for a
//! missing value, numbers that are safe integers read as integers and any other
//! number (a fraction, ±Infinity, beyond 2⁵³) as a float, which `DecimalInput`
//! refuses with an issue. `JSON.stringify` leaves out members that are `undefined`
//! or functions, and writes NaN and ±Infinity inside an object as `null`.

use core::fmt::{self, Display};

use serde::ser::{self, Serialize};
use wasm_bindgen::JsValue;

use crate::json::Value;

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

// ---------------------------------------------------------------------------
// Out: Rust → JSON text → JSON.parse.

/// Turns a result into a JS value: plain objects and arrays, `null` for `None`.
pub(crate) fn to_js<T: Serialize + ?Sized>(value: &T) -> JsValue {
    let mut out = String::new();
    match write_json(&mut out, value) {
        Ok(()) => parse(&out),
        Err(_) => JsValue::NULL,
    }
}

/// Appends a value as JSON text. Writing into a String cannot fail, and the
/// result types serialise nothing but strings, integers, booleans, options,
/// sequences and structs.
pub(crate) fn write_json<T: Serialize + ?Sized>(out: &mut String, value: &T) -> Result<(), Error> {
    value.serialize(&mut Writer { out })
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
// In: JSON.stringify → crate::json → crate::from_json.

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
