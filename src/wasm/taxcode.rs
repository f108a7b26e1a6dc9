//! Bindings for the tax classification codes (`shared/spec/js-api.md`, "Tax
//! classification codes"), with their TypeScript declarations.

use wasm_bindgen::prelude::*;

use super::{from_js, to_js};
use crate::taxcode;

#[wasm_bindgen(typescript_custom_section)]
const TS_TAX_CODES: &'static str = r#"
/** One 商品和服务税收分类编码. Codes are strings: 19 digits exceed a JS number. */
export interface TaxCode {
  /** The 19-digit code. */
  code: string;
  /** 货物和劳务名称. */
  name: string;
  /** 商品和服务分类简称, printed as `*简称*名称`; a blank one is the parent's. */
  shortName: string;
  /** True when the code has no children: only leaves may be used on an invoice. */
  leaf: boolean;
  /** The code one level up; null for the six top-level codes. */
  parent: string | null;
  /**
   * Typical VAT rates for a general taxpayer, most typical first ("0.13", "0.09",
   * "0.06"): suggestions, not part of the official table. Empty for 不征税项目.
   */
  rates: string[];
  /** 说明, once `loadTaxCodeDescriptions` has loaded them; else null. */
  description: string | null;
}

export interface TaxCodeHit {
  code: string;
  name: string;
  shortName: string;
  leaf: boolean;
  /**
   * Higher is better: 1000 exact 简称, 950 exact code, 900 exact 名称, 800 exact
   * pinyin or initials, 700 code prefix, 600 名称/简称 prefix, 500 pinyin prefix,
   * 400 名称/简称 substring, 300 pinyin substring, 200 说明.
   */
  score: number;
}

export interface SearchTaxCodesOptions {
  /** Most results to return; 20 when absent. */
  limit?: number;
}

/** `checkItemName`: a line's code and item name checked together. */
export interface ItemNameResult {
  valid: boolean;
  /** `*简称*名称`, or "" when the code is unknown. */
  itemName: string;
  /** The code's 简称, or "" when the code is unknown. */
  shortName: string;
  /** The name without any `*简称*` prefix, cleaned: what a provider's API takes. */
  name: string;
  errors: Issue[];
  warnings: Issue[];
}

/** `loadTaxCodes` / `loadTaxCodeDescriptions`. `field` of an error names the line: `line 14.code`. */
export interface TaxCodeLoadResult {
  /** Codes (or descriptions) loaded; 0 when the text was refused. */
  count: number;
  errors: Issue[];
}

export interface TaxCodeTableInfo {
  /** "2017-12-18" for the embedded table; a loaded table's `version`, or null. */
  version: string | null;
  count: number;
  leaves: number;
  descriptions: number;
  /** False after `loadTaxCodes`. */
  embedded: boolean;
}
"#;

#[cfg(feature = "taxcodes")]
/// `lookupTaxCode(code: string) → TaxCode | null`
#[wasm_bindgen(js_name = lookupTaxCode, unchecked_return_type = "TaxCode | null")]
pub fn lookup_tax_code(code: &str) -> JsValue {
    match taxcode::lookup(code) {
        Some(c) => to_js(&c),
        None => JsValue::NULL,
    }
}

#[cfg(feature = "taxcodes")]
/// `searchTaxCodes(query: string, { limit }) → TaxCodeHit[]`
#[wasm_bindgen(js_name = searchTaxCodes, unchecked_return_type = "TaxCodeHit[]")]
pub fn search_tax_codes(
    query: &str,
    #[wasm_bindgen(unchecked_optional_param_type = "SearchTaxCodesOptions")] options: Option<JsValue>,
) -> Result<JsValue, JsError> {
    let options: taxcode::SearchOptions = from_js(options.unwrap_or(JsValue::UNDEFINED), "options")?;
    Ok(to_js(&taxcode::search(query, &options)))
}

#[cfg(feature = "taxcodes")]
/// `formatItemName(code: string, name: string) → string`: `*简称*名称`, or an
/// empty string when the code is not in the table (the contract's type is a
/// string; `checkItemName` says what is wrong).
#[wasm_bindgen(js_name = formatItemName)]
pub fn format_item_name(code: &str, name: &str) -> String {
    taxcode::format_item_name(code, name).unwrap_or_default()
}

#[cfg(feature = "taxcodes")]
/// `checkItemName(code: string, name: string) → ItemNameResult`
#[wasm_bindgen(js_name = checkItemName, unchecked_return_type = "ItemNameResult")]
pub fn check_item_name(code: &str, name: &str) -> JsValue {
    to_js(&taxcode::check_item_name(code, name))
}

#[cfg(feature = "taxcodes")]
/// `loadTaxCodes(csvOrJson: string) → { count, errors }`: replaces the table if valid.
#[wasm_bindgen(js_name = loadTaxCodes, unchecked_return_type = "TaxCodeLoadResult")]
pub fn load_tax_codes(csv_or_json: &str) -> JsValue {
    to_js(&taxcode::load(csv_or_json))
}

#[cfg(feature = "taxcodes")]
/// `loadTaxCodeDescriptions(text: string) → { count, errors }`: adds the 说明
/// from `tax-codes-descriptions.txt`.
#[wasm_bindgen(js_name = loadTaxCodeDescriptions, unchecked_return_type = "TaxCodeLoadResult")]
pub fn load_tax_code_descriptions(text: &str) -> JsValue {
    to_js(&taxcode::load_descriptions(text))
}

#[cfg(feature = "taxcodes")]
/// `resetTaxCodes()`: back to the embedded table, without descriptions.
#[wasm_bindgen(js_name = resetTaxCodes)]
pub fn reset_tax_codes() {
    taxcode::reset();
}

#[cfg(feature = "taxcodes")]
/// `taxCodeTableInfo() → TaxCodeTableInfo`
#[wasm_bindgen(js_name = taxCodeTableInfo, unchecked_return_type = "TaxCodeTableInfo")]
pub fn tax_code_table_info() -> JsValue {
    to_js(&taxcode::info())
}

#[cfg(feature = "taxcodes")]
/// `prepareTaxCodeSearch()`: builds the search index now (e.g. while the page is
/// idle) instead of on the first keystroke.
#[wasm_bindgen(js_name = prepareTaxCodeSearch)]
pub fn prepare_tax_code_search() {
    taxcode::current().prepare();
}
