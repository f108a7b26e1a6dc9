//! Bindings for 批量开票 (`fapiao/batch`), with their TypeScript declarations.
//! Conversion only: every rule is in `crate::batch` and the modules it calls.

use wasm_bindgen::prelude::*;

use super::{from_js, to_js};
use crate::batch::{self, CheckOptions, Format, ResultRow, Sheet};
use crate::issue::Issue;

#[wasm_bindgen(typescript_custom_section)]
const TS_BATCH: &'static str = r#"
/** A sheet as `readSheet` reads it: the header and the non-empty rows below it. */
export interface Sheet {
  headers: string[];
  /** The header's 1-based row in the file. */
  headerRow: number;
  rows: SheetRow[];
  /** How it was read: "xlsx", "utf-8", "gbk", "utf-16le" or "utf-16be". */
  source?: string;
  sheetName?: string;
}

export interface SheetRow {
  /** 1-based row in the file. */
  row: number;
  /** One cell per header. */
  cells: string[];
}

export interface SheetResult {
  valid: boolean;
  /** null when the file cannot be read. */
  sheet: Sheet | null;
  /** BATCH_EMPTY, BATCH_FILE_TYPE, BATCH_XLS_UNSUPPORTED, BATCH_XLSX_UNREADABLE, BATCH_ENCODING, BATCH_CSV_QUOTE, BATCH_TOO_MANY_ROWS, BATCH_TOO_MANY_COLUMNS (field "file"). */
  errors: Issue[];
}

export interface BatchCheckOptions {
  /** Whether prices include VAT where 含税标志 is missing or empty (default true). */
  priceIncludesTax?: boolean | null;
  /** 单张开票限额: larger orders are split into `<订单号>-1`, `<订单号>-2` … */
  maxAmount?: string | null;
  /** Whether maxAmount limits 价税合计 rather than 金额. */
  maxAmountIncludesTax?: boolean;
  /** Lines per invoice (at most 2000). */
  maxLines?: number | null;
  /** Overridable codes confirmed for every invoice. */
  confirmed?: string[];
}

/** A one-tap fix: put `value` in `column` of the finding's row. */
export interface BatchFix {
  label: string;
  labelEn: string;
  column: string;
  value: string;
}

/** A problem with one cell. */
export interface BatchFinding {
  /** 1-based row in the file (the header row for a problem with the header). */
  row: number;
  /** The column's stable key (batchColumns()), also when the sheet lacks it. */
  column: string;
  /** The sheet's header of that column (the template's when missing). */
  header: string;
  orderId: string;
  code: string;
  message: string;
  messageEn: string;
  severity: "error" | "warning";
  /** The code may be confirmed in the row's 确认项 column. */
  overridable?: boolean;
  fixes: BatchFix[];
}

export interface BatchInvoiceTotals {
  amountExclTax: string;
  taxAmount: string;
  amountInclTax: string;
}

/** One invoice: `form` is what `buildIssueRequest` and `POST /v1/batches` take. */
export interface BatchInvoice {
  /** The sheet's 订单号, or `<订单号>-<n>` for a part of a split order. */
  orderId: string;
  sourceOrderId: string;
  part: number;
  parts: number;
  rows: number[];
  form: IssueForm;
  valid: boolean;
  errors: number;
  totals?: BatchInvoiceTotals;
}

export interface BatchTotals {
  rows: number;
  orders: number;
  invoices: number;
  validInvoices: number;
  errors: number;
  warnings: number;
  rowsWithErrors: number;
  amountExclTax: string;
  taxAmount: string;
  amountInclTax: string;
}

export interface BatchReport {
  /** Nothing blocks: every invoice may be submitted. */
  valid: boolean;
  columns: { key: string; header: string; index: number }[];
  ignoredHeaders: string[];
  findings: BatchFinding[];
  invoices: BatchInvoice[];
  totals: BatchTotals;
}

/** A column of the batch template. */
export interface BatchColumn {
  key: string;
  header: string;
  headerEn: string;
  /** Read once per invoice, from the order's first row that fills it. */
  orderLevel: boolean;
  required: boolean;
  synonyms: string[];
}

/** One order of a batch, as the proxy's `GET /v1/batches/{id}` gives it. */
export interface BatchResultRow {
  orderId: string;
  status: "pending" | "submitted" | "issued" | "failed" | "cancelled" | string;
  invoiceNumber?: string | null;
  issuedAt?: string | null;
  error?: { code: string; message: string } | null;
  files?: { pdf?: string | null; ofd?: string | null; xml?: string | null } | null;
}

export type BatchFileFormat = "xlsx" | "csv";

/** `checkFile`: the sheet read and checked, or why it cannot be read. */
export interface FileCheck {
  valid: boolean;
  sheet: Sheet | null;
  report: BatchReport | null;
  errors: Issue[];
}
"#;

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SheetResult {
    valid: bool,
    sheet: Option<Sheet>,
    errors: Vec<Issue>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ColumnOut {
    key: &'static str,
    header: &'static str,
    header_en: &'static str,
    order_level: bool,
    required: bool,
    synonyms: &'static [&'static str],
}

fn format(s: &str) -> Result<Format, JsError> {
    Format::parse(s).ok_or_else(|| JsError::new(&format!("format: expected \"xlsx\" or \"csv\", found {s:?}")))
}

/// `readSheet(bytes, fileName) → { valid, sheet, errors }`
#[wasm_bindgen(js_name = readSheet, unchecked_return_type = "SheetResult")]
pub fn read_sheet(bytes: &[u8], file_name: &str) -> JsValue {
    let out = match batch::read_sheet(bytes, file_name) {
        Ok(sheet) => SheetResult {
            valid: true,
            sheet: Some(sheet),
            errors: Vec::new(),
        },
        Err(e) => SheetResult {
            valid: false,
            sheet: None,
            errors: vec![Issue::new("file", &e)],
        },
    };
    to_js(&out)
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct FileCheck {
    valid: bool,
    sheet: Option<Sheet>,
    report: Option<batch::Report>,
    errors: Vec<Issue>,
}

/// `checkFile(bytes, fileName, options?) → { valid, sheet, report, errors }`: readSheet
/// and checkSheet in one call (the sheet does not cross the boundary twice).
#[wasm_bindgen(js_name = checkFile, unchecked_return_type = "FileCheck")]
pub fn check_file(
    bytes: &[u8],
    file_name: &str,
    #[wasm_bindgen(unchecked_optional_param_type = "BatchCheckOptions")] options: Option<JsValue>,
) -> Result<JsValue, JsError> {
    let options: CheckOptions = from_js(options.unwrap_or(JsValue::UNDEFINED), "options")?;
    let out = match batch::read_sheet(bytes, file_name) {
        Ok(sheet) => FileCheck {
            valid: true,
            report: Some(batch::check(&sheet, &options)),
            sheet: Some(sheet),
            errors: Vec::new(),
        },
        Err(e) => FileCheck {
            valid: false,
            sheet: None,
            report: None,
            errors: vec![Issue::new("file", &e)],
        },
    };
    Ok(to_js(&out))
}

/// `checkSheet(sheet, options?) → BatchReport`
#[wasm_bindgen(js_name = checkSheet, unchecked_return_type = "BatchReport")]
pub fn check_sheet(
    #[wasm_bindgen(unchecked_param_type = "Sheet")] sheet: JsValue,
    #[wasm_bindgen(unchecked_optional_param_type = "BatchCheckOptions")] options: Option<JsValue>,
) -> Result<JsValue, JsError> {
    let sheet: Sheet = from_js(sheet, "sheet")?;
    let options: CheckOptions = from_js(options.unwrap_or(JsValue::UNDEFINED), "options")?;
    Ok(to_js(&batch::check(&sheet, &options)))
}

/// `writeResults(rows, format) → Uint8Array`: the result table as .xlsx or .csv.
#[wasm_bindgen(js_name = writeResults)]
pub fn write_results(
    #[wasm_bindgen(unchecked_param_type = "BatchResultRow[]")] rows: JsValue,
    #[wasm_bindgen(unchecked_param_type = "BatchFileFormat")] file_format: &str,
) -> Result<Vec<u8>, JsError> {
    let rows: Vec<ResultRow> = from_js(rows, "rows")?;
    Ok(batch::write_results(&rows, format(file_format)?))
}

/// `writeSheet(sheet, format) → Uint8Array`: a sheet written back (after fixes).
#[wasm_bindgen(js_name = writeSheet)]
pub fn write_sheet(
    #[wasm_bindgen(unchecked_param_type = "Sheet")] sheet: JsValue,
    #[wasm_bindgen(unchecked_param_type = "BatchFileFormat")] file_format: &str,
) -> Result<Vec<u8>, JsError> {
    let sheet: Sheet = from_js(sheet, "sheet")?;
    Ok(batch::write_sheet(&sheet, format(file_format)?))
}

/// `batchTemplate(format) → Uint8Array`: the template with an example.
#[wasm_bindgen(js_name = batchTemplate)]
pub fn batch_template(
    #[wasm_bindgen(unchecked_param_type = "BatchFileFormat")] file_format: &str,
) -> Result<Vec<u8>, JsError> {
    Ok(batch::template(format(file_format)?))
}

/// `batchColumns() → BatchColumn[]`: the template's columns, in order.
#[wasm_bindgen(js_name = batchColumns, unchecked_return_type = "BatchColumn[]")]
pub fn batch_columns() -> JsValue {
    let cols: Vec<ColumnOut> = batch::COLUMNS
        .iter()
        .map(|c| ColumnOut {
            key: c.key,
            header: c.header,
            header_en: c.header_en,
            order_level: c.order_level,
            required: c.required,
            synonyms: c.synonyms,
        })
        .collect();
    to_js(&cols)
}
