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

/// `computeInvoice` without JSON on the way in and for the lines on the way out.
///
/// `lines` holds `count` lines as js/boundary.js packs them: lines separated by
/// U+001E, the fields of a line (name, taxCode, spec, unit, quantity, unitPrice,
/// amount, taxAmount, taxRate, kind, preferentialPolicy, zeroRateFlag, deduction)
/// by U+001F, each a tag and its text: `n` absent or null, `s` a string, `i` an
/// integer, `f` another number. The answer is `valid`, `errors`, `warnings` and
/// `totals` as a JSON object, U+001D, then the lines: U+001E between them, empty
/// for a line that could not be computed, else its values separated by U+001F
/// (kind, quantity, unitPriceExclTax, unitPriceInclTax, amountExclTax, taxAmount,
/// amountInclTax, taxRate, deduction; empty for null or absent). Text that does
/// not follow this form (which the JavaScript side never sends) throws.
#[cfg(feature = "invoice")]
#[wasm_bindgen(js_name = __fpComputeInvoice)]
pub fn compute_invoice(price_includes_tax: bool, count: usize, lines: &str) -> Result<String, JsError> {
    use crate::amount::{compute_invoice, money, InvoiceInput, LineInput, LineKind};

    let mut input = InvoiceInput {
        price_includes_tax,
        ..Default::default()
    };
    input.lines.reserve(count);
    // Text holding a separator makes one piece more than the lines sent: refused.
    let pieces = if count == 0 && lines.is_empty() {
        0
    } else {
        lines.split('\u{1e}').count()
    };
    if pieces != count {
        return Err(malformed());
    }
    for line in lines.split('\u{1e}').take(count) {
        let mut f = Fields(line.split('\u{1f}'));
        input.lines.push(LineInput {
            name: f.text()?,
            tax_code: f.text()?,
            spec: f.text()?,
            unit: f.text()?,
            quantity: f.decimal()?,
            unit_price: f.decimal()?,
            amount: f.decimal()?,
            tax_amount: f.decimal()?,
            tax_rate: f.decimal()?,
            kind: f.text()?,
            preferential_policy: f.text()?,
            zero_rate_flag: f.text()?,
            deduction: f.decimal()?,
        });
        if f.0.next().is_some() {
            return Err(malformed());
        }
    }
    if input.lines.len() != count {
        return Err(malformed());
    }
    let r = compute_invoice(&input);
    let mut out = String::with_capacity(128 + count * 64);
    let json_error = |e: super::convert::Error| JsError::new(&e.0);
    out.push_str(if r.valid {
        "{\"valid\":true,\"errors\":"
    } else {
        "{\"valid\":false,\"errors\":"
    });
    super::write_json(&mut out, &r.errors).map_err(json_error)?;
    out.push_str(",\"warnings\":");
    super::write_json(&mut out, &r.warnings).map_err(json_error)?;
    out.push_str(",\"totals\":");
    super::write_json(&mut out, &r.totals).map_err(json_error)?;
    out.push_str("}\u{1d}");
    for (i, line) in r.lines.iter().enumerate() {
        if i > 0 {
            out.push('\u{1e}');
        }
        let Some(l) = line else { continue };
        out.push_str(match l.kind {
            LineKind::Normal => "normal",
            LineKind::Discount => "discount",
        });
        for v in [l.quantity, l.unit_price_excl_tax, l.unit_price_incl_tax] {
            out.push('\u{1f}');
            if let Some(v) = v {
                money::push_plain(&mut out, v);
            }
        }
        for v in [l.amount_excl_tax, l.tax_amount, l.amount_incl_tax] {
            out.push('\u{1f}');
            money::push_money(&mut out, v);
        }
        out.push('\u{1f}');
        money::push_plain(&mut out, l.tax_rate);
        out.push('\u{1f}');
        if let Some(d) = l.deduction {
            money::push_money(&mut out, d);
        }
    }
    Ok(out)
}

#[cfg(feature = "invoice")]
fn malformed() -> JsError {
    JsError::new("computeInvoice: malformed packed lines")
}

/// The tagged fields of one packed line.
#[cfg(feature = "invoice")]
struct Fields<'a>(core::str::Split<'a, char>);

#[cfg(feature = "invoice")]
impl Fields<'_> {
    fn tagged(&mut self) -> Result<(&str, &str), JsError> {
        self.0.next().and_then(|v| v.split_at_checked(1)).ok_or_else(malformed)
    }

    fn text(&mut self) -> Result<Option<String>, JsError> {
        match self.tagged()? {
            ("n", "") => Ok(None),
            ("s", s) => Ok(Some(s.to_owned())),
            _ => Err(malformed()),
        }
    }

    fn decimal(&mut self) -> Result<Option<crate::amount::DecimalInput>, JsError> {
        use crate::amount::DecimalInput;
        match self.tagged()? {
            ("n", "") => Ok(None),
            ("s", s) => Ok(Some(DecimalInput::Text(s.to_owned()))),
            ("i", s) => s
                .parse()
                .map(|n| Some(DecimalInput::Integer(n)))
                .map_err(|_| malformed()),
            ("f", "") => Ok(Some(DecimalInput::NonInteger)),
            _ => Err(malformed()),
        }
    }
}
