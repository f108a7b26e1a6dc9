//! A lean path across the boundary for the call a page or a spreadsheet import
//! makes most: checking a taxpayer ID that is right.
//!
//! JavaScript writes the ID's ASCII bytes into a scratch buffer in the module's
//! memory (no allocation, no UTF-8 encoder) and gets a number back; only when the
//! answer is "not a clean USCC" does it call `validateTaxId` through the general
//! path, which builds the whole result with its messages and suggestions. The
//! package's entry modules (pkg/boundary.js) hold the JavaScript side, and build
//! the same object the general path gives (a test compares the two).

use std::cell::RefCell;

use wasm_bindgen::prelude::*;

use crate::taxid::clean_uscc;

/// Bytes of the scratch buffer: room for a few thousand IDs per batch call.
const SCRATCH_LEN: usize = 1 << 16;

/// Longest ID the batch path reads itself; longer ones go the general way.
const MAX_ID: usize = 32;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(vec![0; SCRATCH_LEN]);
}

/// Where the scratch buffer starts in the module's memory (it never moves).
#[wasm_bindgen(js_name = __fpScratch)]
pub fn scratch() -> usize {
    SCRATCH.with(|s| s.borrow().as_ptr() as usize)
}

/// The scratch buffer's length in bytes.
#[wasm_bindgen(js_name = __fpScratchLen)]
pub fn scratch_len() -> usize {
    SCRATCH_LEN
}

/// Reads the `len` bytes at the start of the scratch buffer as a taxpayer ID:
/// 0 when it is not a clean USCC (see [`clean_uscc`]), else 1, plus the year its
/// region code was retired shifted left by 16 (0 while in use).
#[wasm_bindgen(js_name = __fpTaxId)]
pub fn tax_id(len: usize) -> u32 {
    SCRATCH.with(|s| {
        let s = s.borrow();
        match s.get(..len).and_then(clean_uscc) {
            Some(c) => 1 | u32::from(c.region_retired.unwrap_or(0)) << 16,
            None => 0,
        }
    })
}

/// Reads `count` IDs from the scratch buffer, each a length byte and its bytes,
/// and writes one byte per ID back at the start of the buffer: 1 for a clean USCC,
/// 0 for anything else (which the caller checks the general way). Returns the
/// number of clean ones.
#[wasm_bindgen(js_name = __fpTaxIds)]
pub fn tax_ids(count: usize) -> usize {
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        let (mut at, mut clean) = (0usize, 0usize);
        let mut id = [0u8; MAX_ID];
        for i in 0..count {
            let Some(&len) = s.get(at) else { break };
            let len = usize::from(len);
            let verdict = match s.get(at + 1..at + 1 + len) {
                Some(bytes) if len <= MAX_ID => {
                    id[..len].copy_from_slice(bytes);
                    clean_uscc(&id[..len]).is_some()
                }
                _ => false,
            };
            at += 1 + len;
            // Item i started at or after byte i, and has been read: safe to overwrite.
            s[i] = u8::from(verdict);
            clean += usize::from(verdict);
        }
        clean
    })
}

/// Numbers written per line by [`compute_invoice`].
#[cfg(feature = "invoice")]
const LINE_SLOTS: usize = 13;

#[cfg(feature = "invoice")]
thread_local! {
    /// What [`invoice_text`] hands over after [`compute_invoice`].
    static INVOICE_TEXT: RefCell<String> = const { RefCell::new(String::new()) };
}

/// `computeInvoice` without JSON on the way in and for the lines on the way out.
///
/// `lines` holds `count` lines as js/invoice-boundary.js packs them: lines
/// separated by U+001E, the fields of a line (name, taxCode, spec, unit, quantity,
/// unitPrice, amount, taxAmount, taxRate, kind, preferentialPolicy, zeroRateFlag,
/// deduction) by U+001F, each a tag and its text: `n` absent or null, `s` a
/// string, `i` an integer, `f` another number. The lines are read in place, not
/// copied.
///
/// The answer is 13 numbers a line: the kind (0 for a line that could not be
/// computed, 1 normal, 2 discount); quantity, unitPriceExclTax and
/// unitPriceInclTax each as mantissa and scale (scale −1 for null); amountExclTax,
/// taxAmount and amountInclTax in cents; taxRate as mantissa and scale; the
/// deduction in cents (NaN when there is none). Every mantissa is an integer of
/// at most 2⁵³, exact in a double. `valid`, `errors`, `warnings` and `totals`
/// follow as JSON from [`invoice_text`]. Text that does not follow this form
/// (which the JavaScript side never sends), and a result with a figure a double
/// cannot hold exactly, throw: the caller then takes the general path.
#[cfg(feature = "invoice")]
#[wasm_bindgen(js_name = __fpComputeInvoice)]
pub fn compute_invoice(price_includes_tax: bool, count: usize, lines: &str) -> Result<Vec<f64>, JsError> {
    use crate::amount::{compute_lines, InvoiceInput, LineKind};

    let input = InvoiceInput {
        price_includes_tax,
        ..Default::default()
    };
    let refs = read_lines(count, lines.as_bytes()).ok_or_else(malformed)?;
    let r = compute_lines(&input, &refs);
    let mut out = Vec::with_capacity(count * LINE_SLOTS);
    for line in &r.lines {
        let Some(l) = line else {
            out.extend_from_slice(&[0.0; LINE_SLOTS]);
            continue;
        };
        out.push(match l.kind {
            LineKind::Normal => 1.0,
            LineKind::Discount => 2.0,
        });
        for v in [l.quantity, l.unit_price_excl_tax, l.unit_price_incl_tax] {
            match v {
                Some(v) => push_plain(&mut out, v)?,
                None => out.extend_from_slice(&[0.0, -1.0]),
            }
        }
        for v in [l.amount_excl_tax, l.tax_amount, l.amount_incl_tax] {
            out.push(cents(v)?);
        }
        push_plain(&mut out, l.tax_rate)?;
        out.push(match l.deduction {
            Some(d) => cents(d)?,
            None => f64::NAN,
        });
    }
    let mut head = String::with_capacity(256);
    let json_error = |e: super::convert::Error| JsError::new(&e.0);
    head.push_str(if r.valid {
        "{\"valid\":true,\"errors\":"
    } else {
        "{\"valid\":false,\"errors\":"
    });
    super::write_json(&mut head, &r.errors).map_err(json_error)?;
    head.push_str(",\"warnings\":");
    super::write_json(&mut head, &r.warnings).map_err(json_error)?;
    head.push_str(",\"totals\":");
    super::write_json(&mut head, &r.totals).map_err(json_error)?;
    head.push('}');
    INVOICE_TEXT.with(|t| *t.borrow_mut() = head);
    Ok(out)
}

/// `valid`, `errors`, `warnings` and `totals` of the last [`compute_invoice`], as
/// JSON (once: the text is taken).
#[cfg(feature = "invoice")]
#[wasm_bindgen(js_name = __fpInvoiceText)]
pub fn invoice_text() -> String {
    INVOICE_TEXT.with(|t| core::mem::take(&mut *t.borrow_mut()))
}

/// The largest integer a double holds exactly, and all below it.
#[cfg(feature = "invoice")]
const EXACT: u128 = 1 << 53;

/// Money in cents, as `format_money` would print it.
#[cfg(feature = "invoice")]
fn cents(v: rust_decimal::Decimal) -> Result<f64, JsError> {
    let mut v = crate::amount::rounding::round_half_up(v, 2);
    v.rescale(2);
    let m = v.mantissa();
    if m.unsigned_abs() > EXACT {
        return Err(malformed());
    }
    // No negative zero: `0.0`, not `-0.0`.
    Ok(if m == 0 { 0.0 } else { m as f64 })
}

/// A quantity, unit price or rate as `format_plain` would print it: mantissa and
/// scale without trailing zeros.
#[cfg(feature = "invoice")]
fn push_plain(out: &mut Vec<f64>, v: rust_decimal::Decimal) -> Result<(), JsError> {
    let v = crate::amount::rounding::normalize(v);
    let m = v.mantissa();
    if m.unsigned_abs() > EXACT {
        return Err(malformed());
    }
    out.push(if m == 0 { 0.0 } else { m as f64 });
    out.push(f64::from(v.scale()));
    Ok(())
}

/// The `count` packed lines of `text`, borrowed; `None` when the text does not
/// have exactly that many lines of 13 well-tagged fields.
#[cfg(feature = "invoice")]
fn read_lines(count: usize, text: &[u8]) -> Option<Vec<crate::amount::LineRef<'_>>> {
    use crate::amount::{DecimalRef, LineRef};

    let mut lines = Vec::with_capacity(count);
    if count == 0 {
        return text.is_empty().then_some(lines);
    }
    // Fields end at U+001F or U+001E (ASCII: never inside a longer UTF-8 sequence).
    let mut at = 0;
    // A field ends where `end` says: U+001F inside a line, U+001E after a line
    // but the last, the end of the text (`None`) after the last.
    let mut field = |end: Option<u8>| -> Option<(u8, &str)> {
        let rest = text.get(at..)?;
        let len = rest.iter().position(|&b| b == 0x1f || b == 0x1e).unwrap_or(rest.len());
        if rest.get(len).copied() != end {
            return None;
        }
        at += len + 1;
        let (&tag, value) = rest[..len].split_first()?;
        Some((tag, core::str::from_utf8(value).ok()?))
    };
    fn text_of((tag, v): (u8, &str)) -> Option<Option<&str>> {
        match tag {
            b'n' if v.is_empty() => Some(None),
            b's' => Some(Some(v)),
            _ => None,
        }
    }
    fn decimal_of((tag, v): (u8, &str)) -> Option<Option<DecimalRef<'_>>> {
        match tag {
            b'n' if v.is_empty() => Some(None),
            b's' => Some(Some(DecimalRef::Text(v))),
            b'i' => v.parse().ok().map(|n| Some(DecimalRef::Integer(n))),
            b'f' if v.is_empty() => Some(Some(DecimalRef::NonInteger)),
            _ => None,
        }
    }
    const NEXT: Option<u8> = Some(0x1f);
    for i in 0..count {
        let last = if i + 1 < count { Some(0x1e) } else { None };
        let name = text_of(field(NEXT)?)?;
        // taxCode, spec and unit are carried, not read by the arithmetic: checked only.
        for _ in 0..3 {
            text_of(field(NEXT)?)?;
        }
        lines.push(LineRef {
            name,
            quantity: decimal_of(field(NEXT)?)?,
            unit_price: decimal_of(field(NEXT)?)?,
            amount: decimal_of(field(NEXT)?)?,
            tax_amount: decimal_of(field(NEXT)?)?,
            tax_rate: decimal_of(field(NEXT)?)?,
            kind: text_of(field(NEXT)?)?,
            preferential_policy: text_of(field(NEXT)?)?,
            zero_rate_flag: text_of(field(NEXT)?)?,
            deduction: decimal_of(field(last)?)?,
        });
    }
    Some(lines)
}

#[cfg(feature = "invoice")]
fn malformed() -> JsError {
    JsError::new("computeInvoice: malformed packed lines")
}
