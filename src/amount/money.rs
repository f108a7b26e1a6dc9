//! Decimal numbers as they cross the boundary: strings in, fixed-format strings out.
//!
//! Inputs are decimal strings (`"113.00"`, `"-3.5"`, `"0.13"`, also `"13%"` for a
//! rate and full-width digits `"１１３"`); a JS integer number is accepted too. A JS
//! number with a fraction is refused with an issue, never converted: it may already
//! have lost a cent in binary floating point.

use core::fmt;

use rust_decimal::Decimal;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::text::{half_width, is_invisible};

/// A decimal number as entered: a string or an integer.
///
/// ```
/// use fapiao::amount::DecimalInput;
/// let a: DecimalInput = "113.00".into();
/// let b: DecimalInput = 113.into();
/// assert_eq!(a, DecimalInput::Text("113.00".into()));
/// assert_eq!(b, DecimalInput::Integer(113));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecimalInput {
    /// A decimal string such as `"113.00"`.
    Text(String),
    /// An integer (a JS number that is a safe integer, or a JSON integer).
    Integer(i64),
    /// A number with a fraction that arrived as a binary float: not accepted.
    NonInteger,
}

impl From<&str> for DecimalInput {
    fn from(s: &str) -> Self {
        DecimalInput::Text(s.to_owned())
    }
}

impl From<String> for DecimalInput {
    fn from(s: String) -> Self {
        DecimalInput::Text(s)
    }
}

impl From<i64> for DecimalInput {
    fn from(v: i64) -> Self {
        DecimalInput::Integer(v)
    }
}

impl From<i32> for DecimalInput {
    fn from(v: i32) -> Self {
        DecimalInput::Integer(i64::from(v))
    }
}

impl From<Decimal> for DecimalInput {
    fn from(v: Decimal) -> Self {
        DecimalInput::Text(v.to_string())
    }
}

/// A [`DecimalInput`] borrowed: what the amount engine reads, from a [`DecimalInput`]
/// or straight from the text the WebAssembly boundary received.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DecimalRef<'a> {
    /// A decimal string.
    Text(&'a str),
    /// An integer.
    Integer(i64),
    /// A number with a fraction that arrived as a binary float.
    NonInteger,
}

impl DecimalInput {
    /// The value borrowed.
    pub(crate) fn as_ref(&self) -> DecimalRef<'_> {
        match self {
            DecimalInput::Text(t) => DecimalRef::Text(t),
            DecimalInput::Integer(i) => DecimalRef::Integer(*i),
            DecimalInput::NonInteger => DecimalRef::NonInteger,
        }
    }
}

impl Serialize for DecimalInput {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            DecimalInput::Text(t) => s.serialize_str(t),
            DecimalInput::Integer(i) => s.serialize_i64(*i),
            DecimalInput::NonInteger => s.serialize_none(),
        }
    }
}

impl<'de> Deserialize<'de> for DecimalInput {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = DecimalInput;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a decimal string or an integer")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(DecimalInput::Text(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(DecimalInput::Text(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(DecimalInput::Integer(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                // Beyond i64 is far beyond any amount; keep the digits for the size check.
                Ok(i64::try_from(v).map_or_else(|_| DecimalInput::Text(v.to_string()), DecimalInput::Integer))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                // Never converted: the float may already be off by a cent.
                Ok(DecimalInput::NonInteger)
            }
        }
        d.deserialize_any(V)
    }
}

/// Why a number could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ParseFailure {
    /// Not a decimal number.
    Format,
    /// A JS number with a fraction.
    NonInteger,
    /// More decimal places than allowed.
    Precision,
    /// Too many integer digits.
    TooLarge,
}

/// Reads a decimal with at most `max_int` integer digits and `max_dp` decimals
/// (trailing zeros do not count). A trailing `%` divides by 100 when `percent`.
/// Returns `Ok(None)` for an empty string.
pub(crate) fn parse(
    input: &DecimalInput,
    max_int: usize,
    max_dp: u32,
    percent: bool,
) -> Result<Option<Decimal>, ParseFailure> {
    parse_ref(input.as_ref(), max_int, max_dp, percent)
}

/// [`parse`] of a borrowed value.
pub(crate) fn parse_ref(
    input: DecimalRef<'_>,
    max_int: usize,
    max_dp: u32,
    percent: bool,
) -> Result<Option<Decimal>, ParseFailure> {
    let text = match input {
        DecimalRef::Integer(i) => {
            // The digits without core::fmt (this runs for every number of every line).
            let mut buf = [0u8; 20];
            let mut at = buf.len();
            let mut n = i.unsigned_abs();
            loop {
                at -= 1;
                buf[at] = b'0' + (n % 10) as u8;
                n /= 10;
                if n == 0 {
                    break;
                }
            }
            let digits = core::str::from_utf8(&buf[at..]).unwrap_or_default();
            return from_digits(i < 0, digits, "", max_int, max_dp);
        }
        DecimalRef::NonInteger => return Err(ParseFailure::NonInteger),
        DecimalRef::Text(t) => t,
    };
    match parse_plain_ascii(text.as_bytes(), max_int, max_dp) {
        Some(v) => v,
        None => parse_text(text, max_int, max_dp, percent),
    }
}

/// [`parse`] of text, every form.
fn parse_text(text: &str, max_int: usize, max_dp: u32, percent: bool) -> Result<Option<Decimal>, ParseFailure> {
    // Plain ASCII numbers (nearly all) need no cleaning: the same text either way.
    let plain = text
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'%'));
    let cleaned: std::borrow::Cow<'_, str> = if plain {
        std::borrow::Cow::Borrowed(text)
    } else {
        text.chars()
            .map(half_width)
            .map(|c| if c == '\u{2212}' { '-' } else { c })
            .filter(|&c| !is_invisible(c))
            .collect::<String>()
            .into()
    };
    if cleaned.is_empty() {
        return Ok(None);
    }
    if cleaned.len() > 64 {
        return Err(ParseFailure::Format);
    }
    let (body, pct) = match cleaned.strip_suffix('%') {
        Some(b) if percent => (b, true),
        _ => (&*cleaned, false),
    };
    let (negative, body) = match body.as_bytes().first() {
        Some(b'-') => (true, &body[1..]),
        Some(b'+') => (false, &body[1..]),
        _ => (false, body),
    };
    let (int, frac) = body.split_once('.').unwrap_or((body, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(ParseFailure::Format);
    }
    let value = from_digits(
        negative,
        int,
        frac,
        max_int + if pct { 2 } else { 0 },
        max_dp + if pct { 2 } else { 0 },
    )?;
    Ok(match value {
        Some(v) if pct => mul_exact(v, Decimal::new(1, 2)),
        v => v,
    })
}

/// [`parse`] of the text nearly every number is: ASCII digits with at most one
/// point and a leading sign, at most 19 bytes (so that the digits fit a `u64`), in
/// one pass. `None` for anything else, which the general reading takes; where it
/// answers, the answer is the general reading's (a test holds the two together).
#[inline(always)]
fn parse_plain_ascii(b: &[u8], max_int: usize, max_dp: u32) -> Option<Result<Option<Decimal>, ParseFailure>> {
    let (&first, _) = b.split_first()?;
    if b.len() > 19 {
        return None;
    }
    let negative = first == b'-';
    let mut i = usize::from(first == b'-' || first == b'+');
    let (mut m, mut int_digits, mut frac_len, mut frac_sig) = (0u64, 0usize, 0usize, 0usize);
    let (mut dot, mut any) = (false, false);
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() {
            let d = c - b'0';
            any = true;
            if dot {
                frac_len += 1;
                if d != 0 {
                    frac_sig = frac_len;
                }
            } else if int_digits > 0 || d != 0 {
                int_digits += 1;
            }
            m = m * 10 + u64::from(d);
        } else if c == b'.' && !dot {
            dot = true;
        } else {
            return None;
        }
        i += 1;
    }
    if !any {
        return None;
    }
    if int_digits > max_int {
        return Some(Err(ParseFailure::TooLarge));
    }
    if frac_sig > max_dp as usize {
        return Some(Err(ParseFailure::Precision));
    }
    m /= POW10[frac_len - frac_sig];
    Some(Ok(Some(Decimal::from_parts(
        m as u32,
        (m >> 32) as u32,
        0,
        negative && m != 0,
        frac_sig as u32,
    ))))
}

/// 10⁰ to 10¹⁹.
pub(crate) const POW10: [u64; 20] = {
    let mut t = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

fn mul_exact(a: Decimal, b: Decimal) -> Option<Decimal> {
    a.checked_mul(b).map(|d| d.normalize())
}

fn from_digits(
    negative: bool,
    int: &str,
    frac: &str,
    max_int: usize,
    max_dp: u32,
) -> Result<Option<Decimal>, ParseFailure> {
    let int = int.trim_start_matches('0');
    let frac = frac.trim_end_matches('0');
    if int.len() > max_int {
        return Err(ParseFailure::TooLarge);
    }
    if frac.len() > max_dp as usize {
        return Err(ParseFailure::Precision);
    }
    let digits = int.bytes().chain(frac.bytes());
    let mut mantissa: i128 = if int.len() + frac.len() <= 19 {
        // Fits a u64: 128-bit arithmetic is a library call in WebAssembly.
        i128::from(digits.fold(0u64, |m, b| m * 10 + u64::from(b - b'0')))
    } else {
        let mut m: i128 = 0;
        for b in digits {
            m = m
                .checked_mul(10)
                .and_then(|m| m.checked_add(i128::from(b - b'0')))
                .ok_or(ParseFailure::TooLarge)?;
        }
        m
    };
    if negative {
        mantissa = -mantissa;
    }
    let d = Decimal::try_from_i128_with_scale(mantissa, frac.len() as u32).map_err(|_| ParseFailure::TooLarge)?;
    Ok(Some(d))
}

/// Formats money with exactly two decimals (`"113.00"`, `"-0.05"`, never `"-0.00"`).
///
/// ```
/// use fapiao::amount::money::format_money;
/// use rust_decimal::Decimal;
/// assert_eq!(format_money(Decimal::new(113, 0)), "113.00");
/// assert_eq!(format_money(Decimal::new(-5, 2)), "-0.05");
/// ```
pub fn format_money(value: Decimal) -> String {
    let mut out = String::with_capacity(16);
    push_money(&mut out, value);
    out
}

/// Appends what [`format_money`] gives.
pub(crate) fn push_money(out: &mut String, value: Decimal) {
    let mut v = super::rounding::round_half_up(value, 2);
    v.rescale(2);
    if v.is_zero() {
        v.set_sign_positive(true);
    }
    push_decimal(out, v);
}

/// Formats a quantity, unit price or rate with no trailing zeros (`"3.5"`, `"100"`).
///
/// ```
/// use fapiao::amount::money::format_plain;
/// use rust_decimal::Decimal;
/// assert_eq!(format_plain(Decimal::new(35000, 4)), "3.5");
/// assert_eq!(format_plain(Decimal::new(10000, 2)), "100");
/// ```
pub fn format_plain(value: Decimal) -> String {
    let mut out = String::with_capacity(16);
    push_plain(&mut out, value);
    out
}

/// Appends what [`format_plain`] gives.
pub(crate) fn push_plain(out: &mut String, value: Decimal) {
    let mut v = value.normalize();
    if v.is_zero() {
        v.set_sign_positive(true);
    }
    push_decimal(out, v);
}

/// Appends `value` as `Decimal`'s `Display` writes it (digits, a point before the
/// last `scale` of them, no exponent), without `core::fmt`: the formatting of
/// every amount of every line, several times faster in WebAssembly.
pub(crate) fn push_decimal(out: &mut String, value: Decimal) {
    let mantissa = value.mantissa();
    let scale = value.scale() as usize;
    // 96 bits of mantissa: at most 29 digits.
    let mut digits = [0u8; 40];
    let mut i = digits.len();
    let mut n = mantissa.unsigned_abs();
    loop {
        i -= 1;
        // Two digits per 128-bit division while the number is large; u64 below.
        if let Ok(small) = u64::try_from(n) {
            let mut s = small;
            loop {
                digits[i] = b'0' + (s % 10) as u8;
                s /= 10;
                if s == 0 {
                    break;
                }
                i -= 1;
            }
            break;
        }
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
    }
    let digits = &digits[i..];
    if mantissa < 0 {
        out.push('-');
    }
    // Only ASCII digits were written.
    fn text(d: &[u8]) -> &str {
        core::str::from_utf8(d).unwrap_or_default()
    }
    if digits.len() > scale {
        let (int, frac) = digits.split_at(digits.len() - scale);
        out.push_str(text(int));
        if scale > 0 {
            out.push('.');
            out.push_str(text(frac));
        }
    } else {
        out.push_str("0.");
        out.extend((digits.len()..scale).map(|_| '0'));
        out.push_str(text(digits));
    }
}

pub(crate) fn ser_money<S: Serializer>(v: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_money(*v))
}

pub(crate) fn ser_plain<S: Serializer>(v: &Decimal, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_plain(*v))
}

pub(crate) fn ser_opt_plain<S: Serializer>(v: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(&format_plain(*v)),
        None => s.serialize_none(),
    }
}

pub(crate) fn ser_opt_money<S: Serializer>(v: &Option<Decimal>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.serialize_str(&format_money(*v)),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod push_decimal_tests {
    use super::*;

    /// The same text as `Decimal`'s `Display`, over signs, scales 0–28 and
    /// mantissas from 0 to the 96-bit maximum.
    #[test]
    fn matches_display() {
        let mut seed = 12345u64;
        let mut next = || {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            seed >> 11
        };
        let max = (1i128 << 96) - 1;
        let mut cases: Vec<(i128, u32)> = vec![
            (0, 0),
            (0, 2),
            (1, 0),
            (-1, 5),
            (max, 0),
            (-max, 28),
            (max, 28),
            (100, 2),
            (5, 3),
        ];
        for _ in 0..20_000 {
            let bits = next() % 97;
            let m = (i128::from(next()) << 64 | i128::from(next())) & ((1i128 << bits) - 1).min(max);
            let m = if next() % 2 == 0 { m } else { -m };
            cases.push((m, (next() % 29) as u32));
        }
        for (m, scale) in cases {
            let d = Decimal::from_i128_with_scale(m, scale);
            let mut out = String::new();
            push_decimal(&mut out, d);
            assert_eq!(out, d.to_string(), "{m} e-{scale}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Option<Decimal>, ParseFailure> {
        parse(&DecimalInput::from(s), 13, 2, false)
    }

    #[test]
    fn reads_what_people_type() {
        assert_eq!(p("113.00"), Ok(Some(Decimal::new(11300, 2))));
        assert_eq!(p(" １１３.５ "), Ok(Some(Decimal::new(1135, 1))));
        assert_eq!(p("-0.05"), Ok(Some(Decimal::new(-5, 2))));
        assert_eq!(p("\u{2212}5"), Ok(Some(Decimal::new(-5, 0))));
        assert_eq!(p("+.5"), Ok(Some(Decimal::new(5, 1))));
        assert_eq!(p("7."), Ok(Some(Decimal::new(7, 0))));
        assert_eq!(p("1.500"), Ok(Some(Decimal::new(15, 1))));
        assert_eq!(p(""), Ok(None));
        assert_eq!(p("  "), Ok(None));
    }

    #[test]
    fn refuses_what_is_not_a_plain_decimal() {
        for bad in [
            "abc", "1,000", "1e5", "¥5", "1.2.3", "-", ".", "--1", "0x10", "1 000.5x",
        ] {
            assert_eq!(p(bad), Err(ParseFailure::Format), "{bad}");
        }
        assert_eq!(p("1.005"), Err(ParseFailure::Precision));
        assert_eq!(p("12345678901234"), Err(ParseFailure::TooLarge));
        assert_eq!(
            p("0000000000000001234567890123"),
            Ok(Some(Decimal::new(1234567890123, 0)))
        );
        assert_eq!(
            parse(&DecimalInput::NonInteger, 13, 2, false),
            Err(ParseFailure::NonInteger)
        );
        assert_eq!(p(&"9".repeat(200)), Err(ParseFailure::Format));
    }

    #[test]
    fn integers_and_percentages() {
        assert_eq!(
            parse(&DecimalInput::Integer(-42), 13, 2, false),
            Ok(Some(Decimal::new(-42, 0)))
        );
        assert_eq!(
            parse(&DecimalInput::Integer(i64::MIN), 13, 2, false),
            Err(ParseFailure::TooLarge)
        );
        assert_eq!(parse(&"13%".into(), 1, 3, true), Ok(Some(Decimal::new(13, 2))));
        assert_eq!(parse(&"1.5%".into(), 1, 3, true), Ok(Some(Decimal::new(15, 3))));
        assert_eq!(parse(&"13%".into(), 1, 3, false), Err(ParseFailure::Format));
    }

    /// The one-pass reading of plain ASCII numbers answers as the general one does,
    /// over random text of digits, points and signs (and a few other bytes).
    #[test]
    fn plain_ascii_reading_matches_the_general_one() {
        let mut seed = 99u64;
        let mut next = |n: u64| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) % n
        };
        let alphabet = b"0000123456789999..-+% a";
        let mut answered = 0;
        for _ in 0..200_000 {
            let len = next(24) as usize;
            let text: String = (0..len)
                .map(|_| alphabet[next(alphabet.len() as u64) as usize] as char)
                .collect();
            let (max_int, max_dp) = (next(16) as usize, next(14) as u32);
            if let Some(fast) = parse_plain_ascii(text.as_bytes(), max_int, max_dp) {
                answered += 1;
                let general = parse_text(&text, max_int, max_dp, next(2) == 0);
                assert_eq!(fast, general, "{text:?} {max_int} {max_dp}");
                // The same value and the same scale (the scale shows in the output).
                if let (Ok(Some(a)), Ok(Some(b))) = (fast, general) {
                    assert_eq!((a.mantissa(), a.scale()), (b.mantissa(), b.scale()), "{text:?}");
                    assert_eq!(a.is_sign_negative(), b.is_sign_negative(), "{text:?}");
                }
            }
        }
        assert!(answered > 20_000, "{answered}");
    }

    #[test]
    fn formats() {
        assert_eq!(format_money(Decimal::new(-0, 2)), "0.00");
        assert_eq!(format_money(Decimal::new(12345, 1)), "1234.50");
        assert_eq!(format_plain(Decimal::new(-0, 8)), "0");
        assert_eq!(format_plain(Decimal::new(333333333, 8)), "3.33333333");
    }
}
