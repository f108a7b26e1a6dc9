//! Bindings for the canonical requests (`shared/spec/js-api.md`, "Requests"), with
//! their TypeScript declarations. Conversion only: every rule is in `crate::request`.

use wasm_bindgen::prelude::*;

use super::{from_js, to_js};
use crate::request::{self, IssueForm, RedForm};

#[wasm_bindgen(typescript_custom_section)]
const TS_REQUESTS: &'static str = r#"
/** Delivery addresses of an issuing request. */
export interface Delivery {
  email?: string | null;
  mobile?: string | null;
}

/** The form of `buildIssueRequest`; a canonical `IssueRequest` is a valid form too. */
export interface IssueForm {
  /** 1 when present. */
  schemaVersion?: number | string;
  /** The merchant's order number: 1–20 of A–Z a–z 0–9 - _. One invoice per order. */
  orderId: string;
  /** "special" (数电专票) or "normal" (数电普票, default). */
  invoiceType?: InvoiceType | "数电专票" | "数电普票";
  buyer: BuyerInput;
  /** Overridable error codes the user confirmed (TAXID_CHECKSUM, TAXCODE_UNKNOWN, ITEM_NAME_SHORT_NAME). */
  confirmed?: string[];
  priceIncludesTax: boolean;
  /** Every line needs a 19-digit leaf `taxCode` (a discount line may leave it out). */
  lines: LineInput[];
  /** 备注, at most 200 characters. */
  remark?: string | null;
  delivery?: Delivery;
}

/** One line of a canonical request. */
export interface RequestLine {
  kind: LineKind;
  /** The printed name `*简称*名称`. */
  name: string;
  taxCode: string;
  spec?: string;
  unit?: string;
  quantity?: string;
  /** In the basis of `priceIncludesTax`. */
  unitPrice?: string;
  /** The line total in the basis of `priceIncludesTax`. */
  amount: string;
  taxRate: string;
  preferentialPolicy?: string;
  zeroRateFlag?: string;
  deduction?: string;
  amountExclTax: string;
  taxAmount: string;
  amountInclTax: string;
}

export interface RequestTotals {
  amountExclTax: string;
  taxAmount: string;
  amountInclTax: string;
}

/** The canonical issuing request (docs/schema/issue-request.v1.json). */
export interface IssueRequest {
  schemaVersion: 1;
  orderId: string;
  invoiceType: InvoiceType;
  buyer: Buyer;
  confirmed?: string[];
  priceIncludesTax: boolean;
  lines: RequestLine[];
  totals: RequestTotals;
  remark: string;
  delivery: { email: string; mobile: string };
}

export type RedReasonCode = "01" | "02" | "03" | "04";

/** The form of `buildRedRequest`. */
export interface RedForm {
  schemaVersion?: number | string;
  /** The red invoice's own order number. */
  orderId: string;
  /** The blue invoice's order number. */
  blueOrderId: string;
  /** The blue invoice's 20-digit number. */
  blueInvoiceNumber: string;
  /** "01" 开票有误 (full only), "02" 销货退回, "03" 服务中止, "04" 销售折让, or the Chinese name. */
  reason: RedReasonCode | "开票有误" | "销货退回" | "服务中止" | "销售折让";
  /** Reverse everything that remains… */
  full?: boolean;
  /** …or these lines (by quantity or amount). */
  lines?: RedLineInput[];
  /** The blue invoice's lines, when known: then the red amounts are computed and checked. */
  blue?: InvoiceInput | null;
  alreadyReversed?: ReversedLine[];
}

/** The canonical red-letter request (docs/schema/red-request.v1.json). */
export interface RedRequest {
  schemaVersion: 1;
  orderId: string;
  blueOrderId: string;
  blueInvoiceNumber: string;
  reason: RedReasonCode;
  full: boolean;
  lines: RedLineInput[];
  /** Negative totals, present when `blue` was given. */
  totals?: RequestTotals;
}

export interface BuildResult<T> {
  valid: boolean;
  /** null when there are errors. */
  request: T | null;
  errors: Issue[];
  warnings: Issue[];
}
"#;

/// `buildIssueRequest(form) → { valid, request, errors, warnings }`
#[wasm_bindgen(js_name = buildIssueRequest, unchecked_return_type = "BuildResult<IssueRequest>")]
pub fn build_issue_request(#[wasm_bindgen(unchecked_param_type = "IssueForm")] form: JsValue) -> Result<JsValue, JsError> {
    let form: IssueForm = from_js(form, "form")?;
    Ok(to_js(&request::build_issue_request(&form)))
}

/// `buildRedRequest(form) → { valid, request, errors, warnings }`
#[wasm_bindgen(js_name = buildRedRequest, unchecked_return_type = "BuildResult<RedRequest>")]
pub fn build_red_request(#[wasm_bindgen(unchecked_param_type = "RedForm")] form: JsValue) -> Result<JsValue, JsError> {
    let form: RedForm = from_js(form, "form")?;
    Ok(to_js(&request::build_red_request(&form)))
}
