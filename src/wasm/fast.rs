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
/// js/invoice-boundary.js sends one number a line in `masks` and the values of
/// all lines in `text`. Bit k of a line's number (k = 0–12) says that the line
/// has member k of: name, taxCode, spec, unit, quantity, unitPrice, amount,
/// taxAmount, taxRate, kind, preferentialPolicy, zeroRateFlag, deduction, and
/// that its value comes next in `text`, ended by U+001F; bit 16 + k that the value
/// was a JavaScript number (its integer digits, or nothing for a number with a
/// fraction); bit 15 that the name is the line before's (and not in the text).
/// The values are read in place, not copied.
///
/// The answer is 13 numbers a line: the kind (0 for a line that could not be
/// computed, 1 normal, 2 discount); quantity, unitPriceExclTax and
/// unitPriceInclTax each as mantissa and scale (scale −1 for null); amountExclTax,
/// taxAmount and amountInclTax in cents; taxRate as mantissa and scale; the
/// deduction in cents (NaN when there is none). Every mantissa is an integer of
/// at most 2⁵³, exact in a double. `valid`, `errors`, `warnings` and `totals`
/// follow as JSON from [`invoice_text`]. Text that does not follow this form
/// (text holding U+001F: more values than the numbers say), and a result with a
/// figure a double cannot hold exactly, throw: the caller then takes the general
/// path.
#[cfg(feature = "invoice")]
#[wasm_bindgen(js_name = __fpComputeInvoice)]
pub fn compute_invoice(price_includes_tax: bool, masks: &[u32], text: &str) -> Result<Vec<f64>, JsError> {
    use crate::amount::{compute_lines, InvoiceInput, LineKind};

    let input = InvoiceInput {
        price_includes_tax,
        ..Default::default()
    };
    let count = masks.len();
    let refs = read_lines(masks, text).ok_or_else(malformed)?;
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
const EXACT: u64 = 1 << 53;

/// Money in cents, as `format_money` would print it.
#[cfg(feature = "invoice")]
#[inline(always)]
fn cents(v: rust_decimal::Decimal) -> Result<f64, JsError> {
    // Money has two decimals already (line::money2); the rounding is for the rest.
    let v = if v.scale() == 2 {
        v
    } else {
        let mut v = crate::amount::rounding::round_half_up(v, 2);
        v.rescale(2);
        v
    };
    exact(v.mantissa())
}

/// A mantissa as a double, `0.0` for zero (never `-0.0`); throws beyond 2⁵³.
#[cfg(feature = "invoice")]
#[inline(always)]
fn exact(m: i128) -> Result<f64, JsError> {
    match i64::try_from(m) {
        Ok(m) if m.unsigned_abs() <= EXACT => Ok(m as f64),
        _ => Err(malformed()),
    }
}

/// A quantity, unit price or rate as `format_plain` would print it: mantissa and
/// scale without trailing zeros.
#[cfg(feature = "invoice")]
#[inline(always)]
fn push_plain(out: &mut Vec<f64>, v: rust_decimal::Decimal) -> Result<(), JsError> {
    let v = crate::amount::rounding::normalize(v);
    out.push(exact(v.mantissa())?);
    out.push(f64::from(v.scale()));
    Ok(())
}

/// The packed lines (see [`compute_invoice`]), borrowed from `text`; `None` when
/// `text` does not hold exactly the values `masks` announce, or a number says
/// what the JavaScript side never sends.
#[cfg(feature = "invoice")]
fn read_lines<'a>(masks: &[u32], text: &'a str) -> Option<Vec<crate::amount::LineRef<'a>>> {
    use crate::amount::{DecimalRef, LineRef};

    const MEMBERS: u32 = 0x1FFF;
    const SAME_NAME: u32 = 1 << 15;
    /// quantity, unitPrice, amount, taxAmount, taxRate, deduction.
    const DECIMALS: u32 = 0b1_0001_1111_0000;

    /// The values, one after the other.
    struct Values<'a> {
        text: &'a str,
        at: usize,
    }
    impl<'a> Values<'a> {
        /// Member `k` of a line with the given number: its text, if the line has it.
        #[inline(always)]
        fn text(&mut self, mask: u32, k: u32) -> Option<Option<&'a str>> {
            if mask & 1 << k == 0 {
                return Some(None);
            }
            // U+001F is ASCII: never inside a longer UTF-8 sequence.
            let len = self.text.as_bytes().get(self.at..)?.iter().position(|&b| b == 0x1f)?;
            let v = self.text.get(self.at..self.at + len)?;
            self.at += len + 1;
            Some(Some(v))
        }

        #[inline(always)]
        fn decimal(&mut self, mask: u32, k: u32) -> Option<Option<DecimalRef<'a>>> {
            let Some(v) = self.text(mask, k)? else {
                return Some(None);
            };
            Some(Some(if mask & 1 << (16 + k) == 0 {
                DecimalRef::Text(v)
            } else if v.is_empty() {
                DecimalRef::NonInteger
            } else {
                DecimalRef::Integer(v.parse().ok()?)
            }))
        }
    }

    let mut values = Values { text, at: 0 };
    let mut lines: Vec<LineRef<'a>> = Vec::with_capacity(masks.len());
    for &mask in masks {
        let numbers = mask >> 16;
        if mask & !(MEMBERS | SAME_NAME | DECIMALS << 16) != 0
            || numbers & !mask != 0
            || (mask & SAME_NAME != 0 && mask & 1 != 0)
        {
            return None;
        }
        let name = if mask & SAME_NAME != 0 {
            Some(lines.last()?.name?)
        } else {
            values.text(mask, 0)?
        };
        // taxCode, spec and unit: carried by the request, not read by the arithmetic.
        for k in 1..4 {
            values.text(mask, k)?;
        }
        lines.push(LineRef {
            name,
            quantity: values.decimal(mask, 4)?,
            unit_price: values.decimal(mask, 5)?,
            amount: values.decimal(mask, 6)?,
            tax_amount: values.decimal(mask, 7)?,
            tax_rate: values.decimal(mask, 8)?,
            kind: values.text(mask, 9)?,
            preferential_policy: values.text(mask, 10)?,
            zero_rate_flag: values.text(mask, 11)?,
            deduction: values.decimal(mask, 12)?,
        });
    }
    (values.at == text.len()).then_some(lines)
}

#[cfg(feature = "invoice")]
fn malformed() -> JsError {
    JsError::new("computeInvoice: malformed packed lines")
}
