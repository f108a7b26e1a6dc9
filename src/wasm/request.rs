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
  /** 特定业务 data (03 建筑服务, 04 货物运输服务, 05 不动产销售, 06 不动产经营租赁); omit on ordinary invoices. */
  specialBusiness?: SpecialBusiness | null;
}

/** 特定业务 type code; a form may also send the Chinese name (建筑服务, 货物运输服务, 不动产销售, 不动产经营租赁). */
export type SpecialBusinessType = "03" | "04" | "05" | "06";

/** One 货物运输 row (04); every field required. */
export interface Transport {
  /** 运输工具种类: "1" 铁路, "2" 公路, "3" 水路, "4" 航空, "5" 管道, "6" 其他. */
  vehicleType: "1" | "2" | "3" | "4" | "5" | "6";
  /** 运输工具牌号, ≤ 40 characters. */
  vehicleNumber: string;
  /** 起运地, ≤ 80. */
  origin: string;
  /** 到达地, ≤ 80. */
  destination: string;
  /** 运输货物名称, ≤ 80. */
  goodsName: string;
}

/**
 * 特定业务 block (docs/schema/issue-request.v1.json). Only the fields of its `type`
 * may be present (SPECIAL_FIELD_NOT_APPLICABLE otherwise). Line rules: 03 exactly one
 * line, spec/unit/quantity/unitPrice empty; 05/06 one line, spec/unit empty.
 */
export interface SpecialBusiness {
  type: SpecialBusinessType | "建筑服务" | "货物运输服务" | "不动产销售" | "不动产经营租赁";
  /** 03/05/06, required: 省. */
  province?: string;
  /** 03/05/06, required: 市. */
  city?: string;
  /** 03/05/06, optional: 区/县. */
  district?: string;
  /** 03/05/06, required: 详细地址; province+city+district+address ≤ 120; 05: contains 街/路/村/乡/镇/道. */
  address?: string;
  /** 03, required: 建筑项目名称, ≤ 80. */
  projectName?: string;
  /** 03/05/06, required: 跨地(市)标志. */
  crossCity?: boolean;
  /** 03, required when crossCity: 跨区域涉税事项报验管理编号. */
  crossRegionPermitNo?: string;
  /** 03/05, optional: 土地增值税项目编号. */
  landVatProjectNo?: string;
  /** 05/06, required: 产权证书/不动产权证号, ≤ 40. */
  propertyCertificateNo?: string;
  /** 05/06, required: 面积单位 (㎡, m², m2 read as 平方米). */
  areaUnit?: "平方米" | "平方千米" | "公顷" | "亩" | string;
  /** 05, optional: 网签合同备案编号 / 不动产单元代码. */
  contractNo?: string;
  /** 06, required: 租赁期起 yyyy-MM-dd. */
  leaseStart?: string;
  /** 06, required: 租赁期止 yyyy-MM-dd, not before leaseStart. */
  leaseEnd?: string;
  /** 06, optional: 车牌号 (parking). */
  licensePlate?: string;
  /** 04, required: 1–2000 rows. */
  transports?: Transport[];
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
  /** Normalised: `type` is the code, texts cleaned; absent on ordinary invoices. */
  specialBusiness?: SpecialBusiness & { type: SpecialBusinessType };
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

#[cfg(feature = "invoice")]
/// `buildIssueRequest(form) → { valid, request, errors, warnings }`
#[wasm_bindgen(js_name = buildIssueRequest, unchecked_return_type = "BuildResult<IssueRequest>")]
pub fn build_issue_request(
    #[wasm_bindgen(unchecked_param_type = "IssueForm")] form: JsValue,
) -> Result<JsValue, JsError> {
    let form: IssueForm = from_js(form, "form")?;
    Ok(to_js(&request::build_issue_request(&form)))
}

#[cfg(feature = "advanced")]
/// `buildRedRequest(form) → { valid, request, errors, warnings }`
#[wasm_bindgen(js_name = buildRedRequest, unchecked_return_type = "BuildResult<RedRequest>")]
pub fn build_red_request(#[wasm_bindgen(unchecked_param_type = "RedForm")] form: JsValue) -> Result<JsValue, JsError> {
    let form: RedForm = from_js(form, "form")?;
    Ok(to_js(&request::build_red_request(&form)))
}
