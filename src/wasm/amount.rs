//! Bindings for the amount engine (`shared/spec/js-api.md`, "Amounts"), with their
//! TypeScript declarations. Conversion only: every rule is in `crate::amount`.

use wasm_bindgen::prelude::*;

use super::{decimal_from_js, from_js, to_js};
use crate::amount::{self, DecimalInput, InvoiceInput, RedInput, SplitLimits, WordsOptions};

#[wasm_bindgen(typescript_custom_section)]
const TS_AMOUNTS: &'static str = r#"
/**
 * A decimal number as input: a string such as "113.00", "-3.5", "0.13" or "13%",
 * or a JS number that is an integer. A number with a fraction is refused with an
 * issue (it may already be off by a cent in binary floating point).
 */
export type DecimalInput = string | number;

export type LineKind = "normal" | "discount";
export type WordsStyle = "plain" | "invoice";

/** One invoice line as entered. */
export interface LineInput {
  /** 项目名称, e.g. `*信息技术服务*接口服务费`. */
  name: string;
  /** 税收分类编码 (19 digits); carried, not checked here. */
  taxCode?: string | null;
  /** 规格型号. */
  spec?: string | null;
  /** 单位. */
  unit?: string | null;
  /** 数量 (negative on red and discount lines). */
  quantity?: DecimalInput | null;
  /** 单价, in the basis of `priceIncludesTax`; always positive. */
  unitPrice?: DecimalInput | null;
  /** The line total in the basis of `priceIncludesTax`. */
  amount?: DecimalInput | null;
  /** 税额, when already known: checked against amount × rate within 0.06. */
  taxAmount?: DecimalInput | null;
  /** 税率: "0.13", "13%", "0.015", "0". */
  taxRate: DecimalInput;
  /** `"normal"` (default) or `"discount"` (折扣行, directly after its line). */
  kind?: LineKind | null;
  /** 优惠政策标识 "01".."18". */
  preferentialPolicy?: string | null;
  /** 零税率标识: "1" 免税, "2" 不征税, "3" 普通零税率. */
  zeroRateFlag?: "1" | "2" | "3" | null;
  /** 扣除额 (差额征税), tax-inclusive; only on a one-line invoice. */
  deduction?: DecimalInput | null;
}

/** The input of `computeInvoice`. */
export interface InvoiceInput {
  /** Whether unit prices and amounts include VAT (含税). */
  priceIncludesTax: boolean;
  /** 数电专票 cannot carry 0% lines. Defaults to "normal". */
  invoiceType?: InvoiceType;
  /** A red invoice: negative amounts and quantities, normal lines only. */
  red?: boolean;
  /** Decimals of unit prices, default 8, at most 13. */
  priceDecimals?: number;
  /** Decimals of quantities, default 8, at most 13. */
  quantityDecimals?: number;
  /** How `totals.amountInclTaxInWords` is written; default "plain". */
  wordsStyle?: WordsStyle;
  lines: LineInput[];
}

/** One computed line. Money has exactly two decimals; prices and quantities no trailing zeros. */
export interface InvoiceLine {
  kind: LineKind;
  /** null for an amount-only line. */
  quantity: string | null;
  /** 不含税单价; null without quantity. */
  unitPriceExclTax: string | null;
  /** 含税单价; null without quantity. */
  unitPriceInclTax: string | null;
  /** 金额. */
  amountExclTax: string;
  /** 税额. */
  taxAmount: string;
  /** 含税金额 = 金额 + 税额, exactly. */
  amountInclTax: string;
  /** 税率 as a fraction, e.g. "0.13". */
  taxRate: string;
  /** 扣除额 of a 差额征税 line. */
  deduction?: string;
}

export interface InvoiceTotals {
  /** 合计金额 (Σ rounded lines). */
  amountExclTax: string;
  /** 合计税额. */
  taxAmount: string;
  /** 价税合计. */
  amountInclTax: string;
  /** 价税合计（大写）; null for a negative total (the platform renders red invoices). */
  amountInclTaxInWords: string | null;
}

export interface InvoiceResult {
  valid: boolean;
  errors: Issue[];
  warnings: Issue[];
  /** One entry per input line; null where the line's numbers could not be read. */
  lines: (InvoiceLine | null)[];
  /** Sums of the lines that could be computed. */
  totals: InvoiceTotals;
}

export interface AmountInWordsOptions {
  /** "plain" (壹万零贰拾元整, default) or "invoice" (⊗壹万零贰拾圆整). */
  style?: WordsStyle;
}

/** The outcome of `applyOrderDiscount`. */
export interface OrderDiscountResult {
  valid: boolean;
  errors: Issue[];
  warnings: Issue[];
  /** The invoice with one discount line after each discounted line. */
  input: InvoiceInput;
  result: InvoiceResult;
}

export interface SplitLimits {
  /** The largest amount per invoice (金额, or 价税合计 with `amountIncludesTax`). */
  maxAmount?: DecimalInput | null;
  amountIncludesTax?: boolean;
  /** Lines per invoice, discount lines included; at most and by default 2000. */
  maxLines?: number | null;
}

export interface SplitPart {
  /** The invoice to issue. */
  input: InvoiceInput;
  result: InvoiceResult;
  /** For each line of the part, the index of the order line it comes from. */
  sourceLines: number[];
}

export interface SplitResult {
  valid: boolean;
  errors: Issue[];
  warnings: Issue[];
  /** The invoices in order; they add up to `totals` to the cent. Empty when not valid. */
  parts: SplitPart[];
  /** The whole order's totals. */
  totals: InvoiceTotals;
}

export interface RedLineInput {
  /** The blue line's printed number (1-based, discount lines counted). */
  blueLineNo: number;
  /** Quantity returned (销货退回); either sign. */
  quantity?: DecimalInput | null;
  /** Amount to reverse (销售折让), in the blue invoice's basis; either sign. */
  amount?: DecimalInput | null;
}

export interface ReversedLine {
  blueLineNo: number;
  amountExclTax?: DecimalInput | null;
  taxAmount?: DecimalInput | null;
  quantity?: DecimalInput | null;
}

export interface RedInput {
  /** The blue invoice as issued. */
  blue: InvoiceInput;
  /** "01" 开票有误 (full only), "02" 销货退回, "03" 服务中止, "04" 销售折让. */
  reason?: "01" | "02" | "03" | "04" | null;
  /** Lines to reverse in part; empty or missing for a full reversal of what remains. */
  lines?: RedLineInput[];
  /** Lines reversed by earlier red invoices against this blue invoice. */
  alreadyReversed?: ReversedLine[];
}

export interface RedLine extends InvoiceLine {
  blueLineNo: number;
}

export interface RemainingLine {
  blueLineNo: number;
  amountExclTax: string;
  taxAmount: string;
  amountInclTax: string;
  quantity: string | null;
}

export interface RedResult {
  valid: boolean;
  errors: Issue[];
  warnings: Issue[];
  /** Whether this reverses everything that remained. */
  full: boolean;
  /** The red invoice to issue (`red: true`, amounts and tax explicit). */
  invoice: InvoiceInput;
  lines: RedLine[];
  totals: InvoiceTotals;
  /** Every blue normal line after this red invoice. */
  remaining: RemainingLine[];
}
"#;

#[cfg(feature = "invoice")]
/// `computeInvoice(input) → InvoiceResult`
#[wasm_bindgen(js_name = computeInvoice, unchecked_return_type = "InvoiceResult")]
pub fn compute_invoice(
    #[wasm_bindgen(unchecked_param_type = "InvoiceInput")] input: JsValue,
) -> Result<JsValue, JsError> {
    let input: InvoiceInput = from_js(input, "input")?;
    Ok(to_js(&amount::compute_invoice(&input)))
}

#[cfg(feature = "invoice")]
/// `amountInWords(value: string, options?) → string`: `""` when the value is not a
/// non-negative amount with at most two decimals.
#[wasm_bindgen(js_name = amountInWords)]
pub fn amount_in_words(
    #[wasm_bindgen(unchecked_param_type = "DecimalInput")] value: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "AmountInWordsOptions")] options: Option<JsValue>,
) -> Result<String, JsError> {
    let options: WordsOptions = from_js(options.unwrap_or(JsValue::UNDEFINED), "options")?;
    let text = match decimal_from_js(&value, "value")? {
        DecimalInput::Text(t) => t,
        DecimalInput::Integer(i) => i.to_string(),
        DecimalInput::NonInteger => return Ok(String::new()),
    };
    Ok(amount::amount_in_words(&text, options).unwrap_or_default())
}

#[cfg(feature = "advanced")]
/// `applyOrderDiscount(input, discount) → OrderDiscountResult`
#[wasm_bindgen(js_name = applyOrderDiscount, unchecked_return_type = "OrderDiscountResult")]
pub fn apply_order_discount(
    #[wasm_bindgen(unchecked_param_type = "InvoiceInput")] input: JsValue,
    #[wasm_bindgen(unchecked_param_type = "DecimalInput")] discount: JsValue,
) -> Result<JsValue, JsError> {
    let input: InvoiceInput = from_js(input, "input")?;
    let discount = decimal_from_js(&discount, "discount")?;
    Ok(to_js(&amount::apply_order_discount(&input, &discount)))
}

#[cfg(feature = "advanced")]
/// `splitInvoice(input, limits) → SplitResult`
#[wasm_bindgen(js_name = splitInvoice, unchecked_return_type = "SplitResult")]
pub fn split_invoice(
    #[wasm_bindgen(unchecked_param_type = "InvoiceInput")] input: JsValue,
    #[wasm_bindgen(unchecked_param_type = "SplitLimits")] limits: JsValue,
) -> Result<JsValue, JsError> {
    let input: InvoiceInput = from_js(input, "input")?;
    let limits: SplitLimits = from_js(limits, "limits")?;
    Ok(to_js(&amount::split_invoice(&input, &limits)))
}

#[cfg(feature = "advanced")]
/// `computeRedInvoice(input) → RedResult`
#[wasm_bindgen(js_name = computeRedInvoice, unchecked_return_type = "RedResult")]
pub fn compute_red_invoice(
    #[wasm_bindgen(unchecked_param_type = "RedInput")] input: JsValue,
) -> Result<JsValue, JsError> {
    let input: RedInput = from_js(input, "input")?;
    Ok(to_js(&amount::compute_red(&input)))
}
