//! The JavaScript binding layer: converts values at the boundary and nothing else.
//! Every rule lives in the modules of the crate root; see `shared/spec/js-api.md`
//! for the contract these functions keep.

pub mod amount;
pub mod qr;
pub mod request;
pub mod taxcode;
mod types;

use serde::Serialize;
use wasm_bindgen::prelude::*;

/// Serialises a result the way the JS contract wants it: plain objects, `null`
/// for missing values.
fn to_js<T: Serialize>(value: &T) -> JsValue {
    let serializer = serde_wasm_bindgen::Serializer::new()
        .serialize_maps_as_objects(true)
        .serialize_missing_as_null(true);
    // Serialising plain structs of strings, numbers and arrays cannot fail.
    value.serialize(&serializer).unwrap_or(JsValue::NULL)
}

/// Reads an argument; a value of the wrong type is a programming error and throws.
fn from_js<T: serde::de::DeserializeOwned + Default>(value: JsValue, what: &str) -> Result<T, JsError> {
    if value.is_undefined() || value.is_null() {
        return Ok(T::default());
    }
    serde_wasm_bindgen::from_value(value).map_err(|e| JsError::new(&format!("{what}: {e}")))
}

/// `validateTaxId(input: string) → TaxIdResult`
#[wasm_bindgen(js_name = validateTaxId, unchecked_return_type = "TaxIdResult")]
pub fn validate_tax_id(input: &str) -> JsValue {
    to_js(&crate::validate_tax_id(input))
}

/// `validateBuyer(buyer, { invoiceType, confirmed }) → BuyerResult`
#[wasm_bindgen(js_name = validateBuyer, unchecked_return_type = "BuyerResult")]
pub fn validate_buyer(
    #[wasm_bindgen(unchecked_param_type = "BuyerInput")] buyer: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "BuyerOptions")] options: Option<JsValue>,
) -> Result<JsValue, JsError> {
    let input: crate::BuyerInput = from_js(buyer, "buyer")?;
    let options: crate::BuyerOptions = from_js(options.unwrap_or(JsValue::UNDEFINED), "options")?;
    Ok(to_js(&crate::validate_buyer(&input, &options)))
}

/// `regionName(code: string) → string | null`: the full name of a GB/T 2260 code.
#[wasm_bindgen(js_name = regionName)]
pub fn region_name(code: &str) -> Option<String> {
    crate::region::lookup(code).map(|r| r.name)
}

/// `version() → string`: the package version.
#[wasm_bindgen]
pub fn version() -> String {
    env!("CARGO_PKG_VERSION").to_owned()
}
