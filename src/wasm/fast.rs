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
