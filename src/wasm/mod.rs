//! The JavaScript binding layer: converts values at the boundary and nothing else.
//! Every rule lives in the modules of the crate root; see `shared/spec/js-api.md`
//! for the contract these functions keep.
//!
//! The npm package is built in parts (scripts/build-pkg.sh), one module per set of
//! cargo features: `taxid` (tax IDs, buyer form), `invoice` (with amounts and
//! the issuing request), `advanced` (with discounts, splitting, red letters and
//! 特定业务), `taxcodes` (table, search, item names), `qr` (scanned codes, QR
//! encoder), `batch` (批量开票: sheets read, checked and written; with the
//! advanced part's rules), and the package root (all of them but `batch`). A function is exported
//! only by the parts whose feature it names; the TypeScript declarations are in
//! every part.
#![cfg_attr(not(feature = "full"), allow(unused))]

pub mod amount;
#[cfg(feature = "batch")]
pub mod batch;
mod convert;
#[cfg(feature = "taxid")]
pub mod fast;
pub mod qr;
pub mod request;
pub mod taxcode;
mod types;

use wasm_bindgen::prelude::*;

/// The allocator of the WebAssembly module (single-threaded: no atomics).
#[cfg(not(target_feature = "atomics"))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

pub(crate) use convert::{to_js, write_json};

/// Reads an argument; `undefined` and `null` give the default, a value of the
/// wrong type is a programming error and throws.
fn from_js<T: crate::from_json::FromJson + Default>(value: JsValue, what: &str) -> Result<T, JsError> {
    match convert::read(&value) {
        Ok(None) => Ok(T::default()),
        Ok(Some(v)) => T::from_json(v).map_err(|e| fail(what, &e.0)),
        Err(e) => Err(fail(what, &e.0)),
    }
}

/// The error thrown for an argument of the wrong type.
#[inline(never)]
fn fail(what: &str, e: &str) -> JsError {
    JsError::new(&format!("{what}: {e}"))
}

/// A `DecimalInput` argument: a string, or a number (an integer when it is a safe
/// integer, else refused with an issue); anything else throws.
fn decimal_from_js(value: &JsValue, what: &str) -> Result<crate::amount::DecimalInput, JsError> {
    use crate::amount::DecimalInput;
    if let Some(s) = value.as_string() {
        return Ok(DecimalInput::Text(s));
    }
    match value.as_f64() {
        Some(n) if n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_991.0 => Ok(DecimalInput::Integer(n as i64)),
        Some(_) => Ok(DecimalInput::NonInteger),
        None => Err(fail(what, "invalid type, expected a decimal string or an integer")),
    }
}

/// `validateTaxId(input: string) → TaxIdResult`
#[cfg(feature = "taxid")]
#[wasm_bindgen(js_name = validateTaxId, unchecked_return_type = "TaxIdResult")]
pub fn validate_tax_id(input: &str) -> JsValue {
    to_js(&crate::validate_tax_id(input))
}

/// `validateBuyer(buyer, { invoiceType, confirmed }) → BuyerResult`
#[cfg(feature = "taxid")]
#[wasm_bindgen(js_name = validateBuyer, unchecked_return_type = "BuyerResult")]
pub fn validate_buyer(
    #[wasm_bindgen(unchecked_param_type = "BuyerInput")] buyer: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "BuyerOptions")] options: Option<JsValue>,
) -> Result<JsValue, JsError> {
    let input: crate::BuyerInput = from_js(buyer, "buyer")?;
    let options: crate::BuyerOptions = from_js(options.unwrap_or(JsValue::UNDEFINED), "options")?;
    Ok(to_js(&crate::validate_buyer(&input, &options)))
}

/// `regionName(code: string) → string | null`: the full name of a GB/T 2260 code
/// (null when unknown, or while the region names are not loaded).
#[cfg(feature = "taxid")]
#[wasm_bindgen(js_name = regionName)]
pub fn region_name(code: &str) -> Option<String> {
    crate::region::lookup(code).map(|r| r.name)
}

/// Loads the region names (`wasm/region-names.txt`) into a part that does not
/// embed them; the entry modules call it (`loadRegionNames`). Returns the number
/// of names; throws on a file of the wrong shape.
#[cfg(feature = "taxid")]
#[wasm_bindgen(js_name = __fpLoadRegionNames)]
pub fn load_region_names(text: &str) -> Result<usize, JsError> {
    crate::region::load_names(text).map_err(|e| JsError::new(&e.to_string()))
}

/// `regionNamesLoaded() → boolean`: whether `details.regionName` and `regionName`
/// can name regions (always in the package root; in the light parts once
/// `loadRegionNames` has run).
#[cfg(feature = "taxid")]
#[wasm_bindgen(js_name = regionNamesLoaded)]
pub fn region_names_loaded() -> bool {
    crate::region::names_loaded()
}

/// `version() → string`: the package version.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}
